//! What the Linux man-pages (section 2) say about each syscall: `specs-db/syscall-man.toml`,
//! generated from each page's NAME line by `specs-db/tools/syscall-man.py` and embedded at build
//! time. A page documents several calls as one operation ("chmod, fchmod, fchmodat - change
//! permissions of a file"); that grouping is kgent's source for which syscalls a program meant
//! for one of them must also observe, and the summary is the words a `syscalls:` tracepoint is
//! described with (the kernel's trace headers say nothing about syscalls).
//!
//! Names are translated between the kernel's tracepoint spelling and the man page's by the
//! conventions syscalls(2) documents: `newstat` is stat's newer entry point, `pread64` is
//! pread with a 64-bit offset. This module neither reads tracefs nor decides what exists here.
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use serde::Deserialize;

/// The generated file, as shipped with this build of kgentd.
pub const MAN: &str = include_str!("../../../specs-db/syscall-man.toml");

/// The hand-written table of calls the C library makes through another syscall.
pub const LIBC_CALLS: &str = include_str!("../../../specs-db/libc-calls.toml");

/// Calls the C library performs through other syscalls (`exec` → execve), with the man page
/// that says so.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibraryCall {
    pub names: Vec<String>,
    pub syscalls: Vec<String>,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LibcFile {
    call: Vec<LibraryCall>,
}

/// Parses `libc-calls.toml`; every entry needs names, syscalls and a source.
pub fn parse_library_calls(text: &str) -> Result<Vec<LibraryCall>, String> {
    let file: LibcFile = toml::from_str(text).map_err(|e| e.to_string())?;
    for c in &file.call {
        if c.names.is_empty() || c.syscalls.is_empty() || c.source.trim().is_empty() {
            return Err(format!(
                "the entry for {:?} lacks names, syscalls or a source",
                c.names
            ));
        }
    }
    Ok(file.call)
}

/// The syscalls the C library uses for the call `name` (`exec` → execve; `wait` → wait4),
/// beyond `name` itself; empty when the table has no entry for it.
pub fn library_syscalls(name: &str) -> &'static [String] {
    static CALLS: LazyLock<Vec<LibraryCall>> = LazyLock::new(|| {
        parse_library_calls(LIBC_CALLS).unwrap_or_else(|e| {
            tracing::error!("specs-db/libc-calls.toml: {e}");
            Vec::new()
        })
    });
    CALLS
        .iter()
        .find(|c| c.names.iter().any(|n| n == name))
        .map_or(&[], |c| c.syscalls.as_slice())
}

/// One man page: the calls it documents together and what they do.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    pub page: String,
    pub names: Vec<String>,
    pub summary: String,
    /// Each call's parameter names in order, from the page's SYNOPSIS (calls without a
    /// prototype there have none).
    #[serde(default)]
    pub params: BTreeMap<String, Vec<String>>,
    /// Each call's parameters that point to a struct the page does not declare `const`: the
    /// call may write through them (accept's `addr`, nanosleep's `rem`), so what they point to
    /// is read when the call returns.
    #[serde(default)]
    pub writes: BTreeMap<String, Vec<String>>,
    /// The constants the page's DESCRIPTION lists as a parameter's values, by parameter
    /// (mprotect(2): `prot` takes PROT_NONE, PROT_READ, ...).
    #[serde(default)]
    pub constants: BTreeMap<String, Vec<String>>,
    /// Those parameters whose listed values the page says are OR-ed together ("a bit mask",
    /// "zero or more of the following"): a call may pass one with others (getrandom(2) `flags`).
    #[serde(default)]
    pub masks: Vec<String>,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManFile {
    page: Vec<Page>,
}

/// The pages, indexed by each name they document (the first page wins for a name two list).
#[derive(Debug, Default)]
pub struct SyscallMan {
    pages: Vec<Page>,
    by_name: HashMap<String, usize>,
}

impl SyscallMan {
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: ManFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut by_name = HashMap::new();
        for (i, p) in file.page.iter().enumerate() {
            if p.names.is_empty() || p.summary.trim().is_empty() || p.source.trim().is_empty() {
                return Err(format!(
                    "page {} lacks names, a summary or a source",
                    p.page
                ));
            }
            for n in &p.names {
                by_name.entry(n.clone()).or_insert(i);
            }
        }
        Ok(Self {
            pages: file.page,
            by_name,
        })
    }

    /// The shipped pages; empty (and logged) if the embedded file were malformed, which a unit
    /// test rules out.
    pub fn shipped() -> &'static SyscallMan {
        static MAN_PAGES: LazyLock<SyscallMan> = LazyLock::new(|| {
            SyscallMan::parse(MAN).unwrap_or_else(|e| {
                tracing::error!("specs-db/syscall-man.toml: {e}");
                SyscallMan::default()
            })
        });
        &MAN_PAGES
    }

    /// [`SyscallMan::event_parameters`] by field: the man-page name of each parameter a
    /// tracepoint carries (`behavior` → `advice` at sys_enter_madvise).
    pub fn man_names<'f>(
        &self,
        event: &str,
        fields: impl IntoIterator<Item = &'f str>,
    ) -> BTreeMap<String, String> {
        self.event_parameters(event, fields)
            .into_iter()
            .map(|(param, field)| (field, param))
            .collect()
    }

    /// The parameters (man-page names) whose values a page lists `constant` among: `prot` for
    /// PROT_NONE (mprotect(2), mmap(2)); empty when no page lists it.
    pub fn params_listing(&self, constant: &str) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .pages
            .iter()
            .flat_map(|p| &p.constants)
            .filter(|(_, listed)| listed.iter().any(|c| c == constant))
            .map(|(param, _)| param.as_str())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The page documenting the syscall the kernel calls `kernel_name` (`newfstatat` → the stat
    /// page, `pread64` → pread's).
    pub fn page_of(&self, kernel_name: &str) -> Option<&Page> {
        man_spellings(kernel_name)
            .into_iter()
            .find_map(|n| self.by_name.get(n))
            .map(|&i| &self.pages[i])
    }

    /// The man page's name for each of a `sys_enter_*` tracepoint's fields, in order, as
    /// (parameter, field) pairs: `mount(2)`'s `source` is the field `dev_name`. The kernel's
    /// SYSCALL_DEFINE takes the arguments in the order the page documents them, under names of
    /// its own; so only when the counts agree. The kernel's entry point may be a variant the
    /// page documents under a longer name (sys_enter_umount takes umount2's `target, flags`),
    /// tried when the call's own prototype does not fit. `fields` are the event's, without
    /// `__syscall_nr`.
    pub fn parameter_fields(&self, kernel_call: &str, fields: &[String]) -> Vec<(String, String)> {
        let Some(page) = self.page_of(kernel_call) else {
            return Vec::new();
        };
        let own = man_spellings(kernel_call);
        let variants = page
            .params
            .iter()
            .filter(|(n, _)| !own.contains(&n.as_str()) && own.iter().any(|o| n.starts_with(o)));
        own.iter()
            .filter_map(|n| page.params.get_key_value(*n))
            .chain(variants)
            .find(|(_, params)| params.len() == fields.len())
            .map(|(_, params)| params.iter().cloned().zip(fields.iter().cloned()).collect())
            .unwrap_or_default()
    }

    /// For each call whose page says it writes through a parameter, under each kernel
    /// spelling of its name ([`kernel_spellings`]): (kernel call, its parameter count, the
    /// positions of the parameters it writes through). A tracepoint whose fields number the
    /// same has the written ones at those positions.
    pub fn written_positions(&self) -> Vec<(String, usize, Vec<usize>)> {
        let mut out = Vec::new();
        for page in &self.pages {
            for (call, written) in &page.writes {
                let Some(params) = page.params.get(call) else {
                    continue;
                };
                let at: Vec<usize> = params
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| written.contains(p))
                    .map(|(i, _)| i)
                    .collect();
                for k in kernel_spellings(call) {
                    out.push((k, params.len(), at.clone()));
                }
            }
        }
        out
    }

    /// The fields of a `sys_enter_*` tracepoint that point to what the call fills in
    /// ([`SyscallMan::written_positions`]), given its fields as tracefs lists them.
    pub fn written_fields<'f>(
        &self,
        event: &str,
        fields: impl IntoIterator<Item = &'f str>,
    ) -> Vec<String> {
        let Some(call) = event.strip_prefix("sys_enter_") else {
            return Vec::new();
        };
        let fields: Vec<&str> = fields
            .into_iter()
            .filter(|f| *f != "__syscall_nr")
            .collect();
        self.written_positions()
            .into_iter()
            .find(|(c, n, _)| c == call && *n == fields.len())
            .map(|(_, _, at)| {
                at.iter()
                    .filter_map(|&i| fields.get(i))
                    .map(|f| (*f).to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The man page's name for `field` of the `sys_enter_*` tracepoint `event`, where it is
    /// not the field's own: madvise(2)'s `advice` is `behavior` at sys_enter_madvise.
    pub fn man_name_of<'f>(
        &self,
        event: &str,
        fields: impl IntoIterator<Item = &'f str>,
        field: &str,
    ) -> Option<String> {
        self.event_parameters(event, fields)
            .into_iter()
            .find(|(param, f)| f == field && param != f)
            .map(|(param, _)| param)
    }

    /// [`SyscallMan::parameter_fields`] of a tracepoint given by its event name and fields as
    /// tracefs lists them: only `sys_enter_*` events have parameters; `__syscall_nr` is no
    /// parameter.
    pub fn event_parameters<'f>(
        &self,
        event: &str,
        fields: impl IntoIterator<Item = &'f str>,
    ) -> Vec<(String, String)> {
        let Some(call) = event.strip_prefix("sys_enter_") else {
            return Vec::new();
        };
        let fields: Vec<String> = fields
            .into_iter()
            .filter(|f| *f != "__syscall_nr")
            .map(str::to_owned)
            .collect();
        self.parameter_fields(call, &fields)
    }
}

impl Page {
    /// The operation a call of this page performs, as the conventions of syscalls(2) name its
    /// variants: without the `at`/`at2`/`64`/`4`/`3`/`2` suffix of an extended entry point, and
    /// without the `f` (by descriptor), `l` (the link itself) or `p` (at an offset) prefix when
    /// what remains is a call of the same page. `fchmodat` and `lstat` are `chmod` and `stat`;
    /// `pwrite` stays `pwrite` beside `pread` (another operation on the same page).
    pub fn operation<'n>(&self, name: &'n str) -> &'n str {
        let listed = |n: &str| self.names.iter().any(|m| m == n);
        let unprefixed = |n: &'n str| match n.strip_prefix(['f', 'l', 'p']) {
            Some(rest) if listed(rest) => rest,
            _ => n,
        };
        for suffix in ["at2", "at", "64", "4", "3", "2"] {
            if let Some(rest) = name.strip_suffix(suffix) {
                if listed(rest) || listed(unprefixed(rest)) {
                    return unprefixed(rest);
                }
            }
        }
        unprefixed(name)
    }
}

/// The names a kernel syscall may have in the man pages: itself, without the `new` prefix of a
/// newer entry point, without the `64` suffix of a 64-bit-offset variant (syscalls(2)).
pub fn man_spellings(kernel_name: &str) -> Vec<&str> {
    let mut out = vec![kernel_name];
    if let Some(rest) = kernel_name.strip_prefix("new") {
        out.push(rest);
    }
    if let Some(rest) = kernel_name.strip_suffix("64") {
        out.push(rest);
    }
    out
}

/// The kernel names a man-page name may have: itself, `new`-prefixed, `64`-suffixed.
pub fn kernel_spellings(man_name: &str) -> [String; 3] {
    [
        man_name.to_owned(),
        format!("new{man_name}"),
        format!("{man_name}64"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_parses_and_names_its_source() {
        let man = SyscallMan::parse(MAN).expect("shipped man pages");
        assert!(man.pages.len() >= 200, "{}", man.pages.len());
        assert!(man.pages.iter().all(|p| p.source.contains("(2) NAME")));
    }

    #[test]
    fn constants_are_listed_under_the_parameter_whose_values_they_are() {
        let man = SyscallMan::shipped();
        assert_eq!(man.params_listing("PROT_NONE"), ["prot"]);
        assert_eq!(man.params_listing("SIG_SETMASK"), ["how"]);
        assert_eq!(man.params_listing("MADV_DONTNEED"), ["advice"]);
        // A list of commands a paragraph introduces "to the file descriptor, fd" is not fd's.
        assert!(man.params_listing("F_GET_RW_HINT").is_empty());
        assert!(man.params_listing("NOT_A_CONSTANT").is_empty());
        // A paragraph naming several parameters introduces the values of the one it ends on,
        // right before "as follows:" (lseek(2) whence) or "is one of the following:" (flock(2)).
        assert_eq!(man.params_listing("SEEK_CUR"), ["whence"]);
        assert_eq!(man.params_listing("LOCK_EX"), ["operation"]);
    }

    #[test]
    fn a_parameter_whose_values_are_or_ed_together_is_a_mask() {
        let man = SyscallMan::shipped();
        let masks = |call: &str| {
            man.page_of(call)
                .map(|p| p.masks.clone())
                .unwrap_or_default()
        };
        // "a bit mask that can contain zero or more of the following values ORed together"
        assert_eq!(masks("getrandom"), ["flags"]);
        assert!(masks("mprotect").contains(&"prot".to_owned()));
        // "one of the following": exactly one is passed.
        assert!(masks("lseek").is_empty());
        assert!(masks("flock").is_empty());
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parameters_are_the_fields_in_the_pages_order() {
        let man = SyscallMan::shipped();
        let mount = man.parameter_fields(
            "mount",
            &names(&["dev_name", "dir_name", "type", "flags", "data"]),
        );
        assert_eq!(mount[0], ("source".to_owned(), "dev_name".to_owned()));
        assert_eq!(mount[2], ("filesystemtype".to_owned(), "type".to_owned()));
        // open(2) documents mode in a comment after `...`; the longer prototype is the kernel's.
        let openat = man.parameter_fields("openat", &names(&["dfd", "filename", "flags", "mode"]));
        assert_eq!(openat[1], ("pathname".to_owned(), "filename".to_owned()));
        // sys_enter_umount is umount2(target, flags).
        let umount = man.parameter_fields("umount", &names(&["name", "flags"]));
        assert_eq!(umount[0], ("target".to_owned(), "name".to_owned()));
        let written = man.written_positions();
        assert!(
            written.contains(&("accept4".to_owned(), 4, vec![1])),
            "{written:?}"
        );
        assert!(written.contains(&("nanosleep".to_owned(), 2, vec![1])));
        // connect(2) declares its address const: it only reads it.
        assert!(!written.iter().any(|(c, ..)| c == "connect"));
        // A count that disagrees maps nothing.
        assert!(man
            .parameter_fields("mount", &names(&["dev_name", "dir_name"]))
            .is_empty());
        assert!(man
            .parameter_fields("no_such_call", &names(&["x"]))
            .is_empty());
    }

    #[test]
    fn kernel_names_find_their_page_and_its_companions() {
        let man = SyscallMan::shipped();
        let stat = man.page_of("newfstatat").expect("stat's page");
        assert!(stat.names.contains(&"lstat".to_owned()), "{stat:?}");
        assert_eq!(
            man.page_of("pread64").map(|p| p.page.as_str()),
            Some("pread")
        );
        let chmod = man.page_of("fchmodat").expect("chmod's page");
        assert!(chmod.summary.contains("permissions"), "{chmod:?}");
        // sync and fsync are different pages: flushing everything is not flushing one file.
        let sync = man.page_of("sync").expect("sync's page");
        assert!(!sync.names.contains(&"fsync".to_owned()), "{sync:?}");
        assert!(man.page_of("no_such_call").is_none());
    }

    #[test]
    fn a_pages_calls_reduce_to_the_operation_they_perform() {
        let man = SyscallMan::shipped();
        let stat = man.page_of("stat").expect("stat's page");
        for n in ["stat", "fstat", "lstat", "fstatat"] {
            assert_eq!(stat.operation(n), "stat", "{n}");
        }
        let chmod = man.page_of("chmod").expect("chmod's page");
        assert_eq!(chmod.operation("fchmodat"), "chmod");
        let pread = man.page_of("pread").expect("pread's page");
        assert_ne!(pread.operation("pread"), pread.operation("pwrite"));
        let dup = man.page_of("dup").expect("dup's page");
        assert_eq!(dup.operation("dup3"), "dup");
    }

    #[test]
    fn library_calls_parse_and_name_their_source() {
        let calls = parse_library_calls(LIBC_CALLS).expect("shipped library calls");
        assert!(calls
            .iter()
            .all(|c| c.source.contains("(2)") || c.source.contains("(3)")));
        assert_eq!(library_syscalls("execvp"), ["execve"]);
        assert_eq!(library_syscalls("waitpid"), ["wait4"]);
        assert!(library_syscalls("openat").is_empty());
        assert!(
            parse_library_calls("[[call]]\nnames = [\"x\"]\nsyscalls = []\nsource = \"s\"\n")
                .is_err()
        );
    }

    #[test]
    fn a_page_without_a_summary_is_refused() {
        let bad = "[[page]]\npage = \"x\"\nnames = [\"x\"]\nsummary = \"\"\nsource = \"s\"\n";
        assert!(SyscallMan::parse(bad).is_err());
        assert!(SyscallMan::parse("[[page]]\nbogus = 1\n").is_err());
    }
}
