//! Integer constants of this host's C library headers (`/usr/include`), so a constant a request
//! names as C writes it (`POSIX_FADV_DONTNEED`, `MCL_FUTURE`, `F_SETLKW`) has the value the
//! programs on this machine pass to the kernel, not one a model invents. `specs-db/` documents
//! the constants kgent knows more about (which field of which event holds them); this is the
//! fallback for the rest.
//!
//! The host's clang evaluates each name, so macros built from other macros, casts and
//! arch-specific values (`POSIX_FADV_DONTNEED` is 6 on s390x) come out as the compiler sees
//! them: the names are looked up in the public headers of the system calls' man pages
//! ([`HEADERS`]), compiled to LLVM IR (nothing is linked or run), and read back from the
//! initialisers of `long long` globals. Only macros are found (`#ifdef`): an enum constant
//! such as glibc's `TCP_ESTABLISHED` is not, nor is a name the headers lack. Headers outside
//! that set are not searched on purpose: `TIME_WAIT` in <sys/timex.h> is a clock state, not
//! the TCP one a request means.
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{LazyLock, Mutex};

use regex::Regex;

/// The headers searched, in the order they are included: those of the man pages of system
/// calls (section 2) and of <linux/futex.h> (futex(2) has no libc header). `_GNU_SOURCE` is
/// defined, as those pages ask for many of the constants.
pub const HEADERS: [&str; 40] = [
    "fcntl.h",
    "unistd.h",
    "signal.h",
    "sched.h",
    "time.h",
    "poll.h",
    "dirent.h",
    "sys/types.h",
    "sys/stat.h",
    "sys/mman.h",
    "sys/socket.h",
    "netinet/in.h",
    "netinet/tcp.h",
    "sys/un.h",
    "sys/wait.h",
    "sys/resource.h",
    "sys/prctl.h",
    "sys/ptrace.h",
    "sys/file.h",
    "sys/ioctl.h",
    "sys/epoll.h",
    "sys/eventfd.h",
    "sys/signalfd.h",
    "sys/timerfd.h",
    "sys/inotify.h",
    "sys/fanotify.h",
    "sys/mount.h",
    "sys/xattr.h",
    "sys/random.h",
    "sys/personality.h",
    "sys/reboot.h",
    "sys/swap.h",
    "sys/uio.h",
    "sys/ipc.h",
    "sys/shm.h",
    "sys/msg.h",
    "sys/sem.h",
    "sys/quota.h",
    "sys/syscall.h",
    "linux/futex.h",
];

const INCLUDE: &str = "/usr/include";

/// The value of the macro `name` in the headers of [`HEADERS`] on this host, if it is one that
/// evaluates to an integer. Results (found or not) are cached for the life of the process; a
/// lookup that finds the host without clang or headers is not cached.
pub fn value(name: &str) -> Option<i64> {
    static CACHE: LazyLock<Mutex<HashMap<String, Option<i64>>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    if !is_constant_name(name) {
        return None;
    }
    if let Some(hit) = CACHE.lock().ok()?.get(name) {
        return *hit;
    }
    let found = evaluate(&[name]).ok()?.get(name).copied();
    if let Ok(mut c) = CACHE.lock() {
        c.insert(name.to_owned(), found);
    }
    found
}

/// A name C could write as a macro: `[A-Z_][A-Z0-9_]*`, at most 64 characters (it is pasted
/// into a C file).
fn is_constant_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Whether header `h` is installed, directly under /usr/include or in a multiarch directory
/// (`/usr/include/x86_64-linux-gnu/sys/mman.h`): a missing one would fail every lookup.
fn installed(h: &str) -> bool {
    static DIRS: LazyLock<Vec<std::path::PathBuf>> = LazyLock::new(|| {
        let mut dirs = vec![Path::new(INCLUDE).to_path_buf()];
        if let Ok(entries) = std::fs::read_dir(INCLUDE) {
            dirs.extend(
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().contains("-linux-"))
                    .map(|e| e.path()),
            );
        }
        dirs
    });
    DIRS.iter().any(|d| d.join(h).exists())
}

/// The C file that defines a `long long` global per name the headers define.
fn source(names: &[&str]) -> String {
    let mut c = String::from("#define _GNU_SOURCE\n");
    for h in HEADERS.iter().filter(|h| installed(h)) {
        c.push_str(&format!("#include <{h}>\n"));
    }
    for n in names.iter().filter(|n| is_constant_name(n)) {
        c.push_str(&format!(
            "#ifdef {n}\nlong long kgent_v_{n} = (long long)({n});\n#endif\n"
        ));
    }
    c
}

/// The values of those of `names` the headers define as integer constants. `Err` when clang
/// cannot run at all; a name whose macro is not an integer constant (a string, a call) makes
/// clang fail, after which each name is tried alone.
fn evaluate(names: &[&str]) -> Result<HashMap<String, i64>, String> {
    match compile(&source(names))? {
        Some(ir) => Ok(globals(&ir)),
        None if names.len() > 1 => {
            let mut out = HashMap::new();
            for n in names {
                if let Some(ir) = compile(&source(&[n]))? {
                    out.extend(globals(&ir));
                }
            }
            Ok(out)
        }
        None => Ok(HashMap::new()),
    }
}

/// LLVM IR of `c`, or `None` when clang rejects it.
fn compile(c: &str) -> Result<Option<String>, String> {
    let mut child = Command::new("clang")
        .args(["-x", "c", "-S", "-emit-llvm", "-w", "-o", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run clang: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(c.as_bytes())
            .map_err(|e| format!("cannot write to clang: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("clang did not finish: {e}"))?;
    Ok(out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// `@kgent_v_NAME = dso_local global i64 4, align 8` → NAME = 4.
fn globals(ir: &str) -> HashMap<String, i64> {
    static GLOBAL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?m)^@kgent_v_([A-Z0-9_]+) = .*?global i64 (-?\d+)").expect("static regex")
    });
    GLOBAL
        .captures_iter(ir)
        .filter_map(|c| Some((c[1].to_owned(), c[2].parse().ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macros_of_the_system_call_headers_have_their_values() {
        // Values from the man pages (x86-64): posix_fadvise(2) via <linux/fadvise.h>,
        // mlock(2), fcntl(2) via <asm-generic/fcntl.h>, futex(2), socket(7).
        assert_eq!(value("POSIX_FADV_DONTNEED"), Some(4));
        assert_eq!(value("MCL_FUTURE"), Some(2));
        assert_eq!(value("F_SETLKW"), Some(7));
        assert_eq!(value("FUTEX_WAIT"), Some(0));
        assert_eq!(value("SO_REUSEPORT"), Some(15));
        // A macro built from others, and a negative one.
        assert_eq!(value("AT_FDCWD"), Some(-100));
    }

    #[test]
    fn what_is_not_an_integer_macro_of_those_headers_has_no_value() {
        // An enum constant, a clock state of a header not searched, an invented name, a
        // string macro, and text that is no C name.
        assert_eq!(value("TCP_ESTABLISHED"), None);
        assert_eq!(value("TIME_WAIT"), None);
        assert_eq!(value("SO_FOOBAR_BAZ"), None);
        assert_eq!(value("QUOTAFILENAME"), None);
        assert_eq!(value("X); system(\"id\""), None);
        // Several at once: the string macro does not lose the others.
        let both = evaluate(&["MCL_CURRENT", "QUOTAFILENAME"]).expect("clang runs");
        assert_eq!(both.get("MCL_CURRENT"), Some(&1));
        assert_eq!(both.len(), 1);
    }
}
