//! The C front end: libbpf-style CO-RE programs compiled by the host's clang against a
//! `vmlinux.h` generated from this kernel's BTF.
//!
//! Owns the header directory (vmlinux.h, cached per BTF hash in the cache dir, beside the
//! `kgent.h` this binary embeds), the clang and llvm-strip invocations, and condensing clang's
//! diagnostics into what a model can act on. It never loads anything into the kernel: that is
//! `exec`'s job.
//!
//! Compilation is locked down, because the source is written by a model for any caller: only
//! `vmlinux.h` and `kgent.h` may be `#include`d (checked before clang runs, [`check_includes`]);
//! clang runs with `-nostdinc` in a private work directory holding a copy of those headers (and
//! the libbpf headers kgent.h includes), and, when kgentd is root, as the unprivileged `nobody`
//! (uid and gid 65534, no supplementary groups), so no trick of the preprocessor or the
//! assembler reads a file the caller could not. The work directory stays root's (nobody only
//! reads it); clang writes the object to its stdout, so kgentd needs no CAP_CHOWN for it.
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

/// The conventions header generated programs include (see bpf/include/kgent.h).
pub const KGENT_H: &str = include_str!("../../../bpf/include/kgent.h");

/// Longest a compile may take.
const COMPILE_TIMEOUT: Duration = Duration::from_secs(60);
/// The diagnostic given to a model is cut to this many lines.
const MAX_DIAGNOSTIC_LINES: usize = 24;
/// The name the source has in diagnostics.
pub const SOURCE_NAME: &str = "prog.c";
/// The headers a program may include.
pub const ALLOWED_INCLUDES: [&str; 2] = ["vmlinux.h", "kgent.h"];
/// Where the libbpf headers kgent.h includes come from (libbpf-dev).
const LIBBPF_HEADERS: &str = "/usr/include/bpf";
/// The libbpf headers kgent.h includes, and what they include.
const LIBBPF_FILES: [&str; 5] = [
    "bpf_helpers.h",
    "bpf_helper_defs.h",
    "bpf_tracing.h",
    "bpf_core_read.h",
    "bpf_endian.h",
];
/// `nobody`: clang's uid and gid when kgentd is root.
const UNPRIVILEGED: u32 = 65534;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileError {
    /// clang, llvm-strip or bpftool is missing or failed to run: the host needs setup.
    Toolchain(String),
    /// clang rejected the program; the condensed diagnostic.
    Rejected(String),
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Toolchain(e) => write!(f, "{e}"),
            Self::Rejected(d) => write!(f, "clang rejected the program:\n{d}"),
        }
    }
}

impl std::error::Error for CompileError {}

impl From<CompileError> for crate::error::KgentError {
    fn from(e: CompileError) -> Self {
        match e {
            CompileError::Rejected(_) => Self::ProgramRejected(Box::new(e)),
            CompileError::Toolchain(_) => Self::HostSetup(Box::new(e)),
        }
    }
}

/// clang, llvm-strip and the per-kernel header directory.
pub struct ClangToolchain {
    clang: PathBuf,
    llvm_strip: PathBuf,
    bpftool: PathBuf,
    vmlinux_btf: PathBuf,
    cache_dir: PathBuf,
    headers: OnceCell<PathBuf>,
}

impl ClangToolchain {
    pub fn new(clang: PathBuf, llvm_strip: PathBuf, bpftool: PathBuf, cache_dir: PathBuf) -> Self {
        Self {
            clang,
            llvm_strip,
            bpftool,
            vmlinux_btf: PathBuf::from("/sys/kernel/btf/vmlinux"),
            cache_dir,
            headers: OnceCell::new(),
        }
    }

    /// The directory holding this kernel's vmlinux.h and kgent.h, generated once per BTF hash.
    pub async fn header_dir(&self) -> Result<PathBuf, CompileError> {
        self.headers
            .get_or_try_init(|| self.generate_headers())
            .await
            .cloned()
    }

    async fn generate_headers(&self) -> Result<PathBuf, CompileError> {
        let btf = tokio::fs::read(&self.vmlinux_btf).await.map_err(|e| {
            CompileError::Toolchain(format!(
                "cannot read {}: {e}; C programs need a kernel built with CONFIG_DEBUG_INFO_BTF",
                self.vmlinux_btf.display()
            ))
        })?;
        let hash = hex::encode(&Sha256::digest(&btf)[..8]);
        let dir = self.cache_dir.join(format!("btf-{hash}"));
        let vmlinux_h = dir.join("vmlinux.h");
        tokio::fs::create_dir_all(&dir).await.map_err(|e| {
            CompileError::Toolchain(format!("cannot create {}: {e}", dir.display()))
        })?;
        if tokio::fs::metadata(&vmlinux_h).await.is_err() {
            let out = run(
                &self.bpftool,
                &[
                    "btf".as_ref(),
                    "dump".as_ref(),
                    "file".as_ref(),
                    self.vmlinux_btf.as_os_str(),
                    "format".as_ref(),
                    "c".as_ref(),
                ],
                COMPILE_TIMEOUT,
            )
            .await?;
            if !out.status.success() {
                return Err(CompileError::Toolchain(format!(
                    "bpftool could not dump this kernel's BTF: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            write_atomically(&vmlinux_h, &out.stdout).await?;
            tracing::info!("generated {} for this kernel's BTF", vmlinux_h.display());
        }
        // Always rewritten: it belongs to this binary, not to the kernel.
        write_atomically(&dir.join("kgent.h"), KGENT_H.as_bytes()).await?;
        let bpf = dir.join("bpf");
        tokio::fs::create_dir_all(&bpf).await.map_err(|e| {
            CompileError::Toolchain(format!("cannot create {}: {e}", bpf.display()))
        })?;
        for name in LIBBPF_FILES {
            let from = Path::new(LIBBPF_HEADERS).join(name);
            let bytes = tokio::fs::read(&from).await.map_err(|e| {
                CompileError::Toolchain(format!(
                    "cannot read {}: {e}; install libbpf-dev (bash setup.sh)",
                    from.display()
                ))
            })?;
            write_atomically(&bpf.join(name), &bytes).await?;
        }
        Ok(dir)
    }

    /// Compiles `source` to a BPF object (`-O2 -g -target bpf`, then DWARF stripped: `.BTF`
    /// and `.BTF.ext` stay, for CO-RE and for decoding output).
    pub async fn compile(&self, source: &str) -> Result<Vec<u8>, CompileError> {
        check_includes(source)?;
        let headers = self.header_dir().await?;
        let scratch = crate::process::scratch_dir().map_err(|e| {
            CompileError::Toolchain(format!("cannot create a scratch directory: {e}"))
        })?;
        let work = tempfile::Builder::new()
            .prefix("kgent-cc-")
            .tempdir_in(scratch)
            .map_err(|e| CompileError::Toolchain(format!("cannot create a work dir: {e}")))?;
        copy_headers(&headers, work.path()).await?;
        let src = work.path().join(SOURCE_NAME);
        let obj = work.path().join("prog.o");
        tokio::fs::write(&src, source)
            .await
            .map_err(|e| CompileError::Toolchain(format!("cannot write {}: {e}", src.display())))?;
        readable_by_all(&src).await?;
        readable_by_all(work.path()).await?;
        let mut clang = crate::process::tool_command(&self.clang);
        clang
            .args([
                "-O2",
                "-g",
                "-target",
                "bpf",
                "-D__TARGET_ARCH_x86",
                "-fno-color-diagnostics",
                "-fno-caret-diagnostics",
                "-nostdinc",
                "-I.",
                "-c",
                SOURCE_NAME,
                "-o",
                "-",
            ])
            .current_dir(work.path())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if nix::unistd::geteuid().is_root() {
            // std drops the supplementary groups when it sets the uid.
            clang.uid(UNPRIVILEGED).gid(UNPRIVILEGED);
        }
        let out = clang.output();
        let out = tokio::time::timeout(COMPILE_TIMEOUT, out)
            .await
            .map_err(|_| {
                CompileError::Rejected(format!(
                    "clang did not finish within {} s",
                    COMPILE_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| {
                CompileError::Toolchain(format!(
                    "cannot run {}: {e}; install clang (bash setup.sh)",
                    self.clang.display()
                ))
            })?;
        if !out.status.success() {
            return Err(CompileError::Rejected(condense_clang(
                &String::from_utf8_lossy(&out.stderr),
            )));
        }
        tokio::fs::write(&obj, &out.stdout)
            .await
            .map_err(|e| CompileError::Toolchain(format!("cannot write {}: {e}", obj.display())))?;
        let strip = run(
            &self.llvm_strip,
            &["-g".as_ref(), obj.as_os_str()],
            COMPILE_TIMEOUT,
        )
        .await?;
        if !strip.status.success() {
            return Err(CompileError::Toolchain(format!(
                "llvm-strip failed: {}",
                String::from_utf8_lossy(&strip.stderr).trim()
            )));
        }
        tokio::fs::read(&obj)
            .await
            .map_err(|e| CompileError::Toolchain(format!("cannot read {}: {e}", obj.display())))
    }
}

async fn run(
    tool: &Path,
    args: &[&std::ffi::OsStr],
    timeout: Duration,
) -> Result<std::process::Output, CompileError> {
    let child = crate::process::tool_command(tool)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(timeout, child)
        .await
        .map_err(|_| {
            CompileError::Toolchain(format!(
                "{} did not finish within {} s",
                tool.display(),
                timeout.as_secs()
            ))
        })?
        .map_err(|e| {
            CompileError::Toolchain(format!(
                "cannot run {}: {e}; install it (bash setup.sh)",
                tool.display()
            ))
        })
}

/// Copies the header directory (vmlinux.h, kgent.h, bpf/) into a compile's work directory.
async fn copy_headers(headers: &Path, work: &Path) -> Result<(), CompileError> {
    let copy = |from: PathBuf, to: PathBuf| async move {
        tokio::fs::copy(&from, &to).await.map_err(|e| {
            CompileError::Toolchain(format!(
                "cannot copy {} to {}: {e}",
                from.display(),
                to.display()
            ))
        })?;
        readable_by_all(&to).await
    };
    for name in ALLOWED_INCLUDES {
        copy(headers.join(name), work.join(name)).await?;
    }
    let bpf = work.join("bpf");
    tokio::fs::create_dir(&bpf)
        .await
        .map_err(|e| CompileError::Toolchain(format!("cannot create {}: {e}", bpf.display())))?;
    for name in LIBBPF_FILES {
        copy(headers.join("bpf").join(name), bpf.join(name)).await?;
    }
    readable_by_all(&bpf).await
}

/// Mode 0644 (0755 for a directory), whatever the daemon's umask (the unit's is 0077): clang
/// runs as nobody and must read what kgentd wrote into its work directory.
async fn readable_by_all(path: &Path) -> Result<(), CompileError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if path.is_dir() { 0o755 } else { 0o644 };
    tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .await
        .map_err(|e| CompileError::Toolchain(format!("cannot chmod {}: {e}", path.display())))
}

/// Refuses a source that includes anything but `vmlinux.h` and `kgent.h`, names what it
/// includes through a macro, or asks the preprocessor to read a file some other way
/// (`#include_next`, `#import`, `#embed`, `#pragma … dependency`, `#pragma include_alias`).
/// Line continuations and comments are read as the preprocessor reads them, `%:` as `#`.
pub fn check_includes(source: &str) -> Result<(), CompileError> {
    let joined = source.replace("\\\r\n", "").replace("\\\n", "");
    let code = without_comments(&joined);
    for (n, line) in code.lines().enumerate() {
        let line = line.trim_start();
        let Some(rest) = line
            .strip_prefix('#')
            .or_else(|| line.strip_prefix("%:"))
            .or_else(|| line.strip_prefix("??="))
        else {
            continue;
        };
        let rest = rest.trim_start();
        let directive: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let operand = rest[directive.len()..].trim();
        let refused = match directive.as_str() {
            "include" => {
                let named = operand
                    .strip_prefix('"')
                    .and_then(|o| o.strip_suffix('"'))
                    .or_else(|| operand.strip_prefix('<').and_then(|o| o.strip_suffix('>')));
                !named.is_some_and(|h| ALLOWED_INCLUDES.contains(&h))
            }
            "include_next" | "import" | "embed" => true,
            "pragma" => operand.contains("dependency") || operand.contains("include_alias"),
            _ => false,
        };
        if refused {
            return Err(CompileError::Rejected(format!(
                "{SOURCE_NAME}:{}: error: `#{directive} {operand}` is not allowed: a kgent C program may include only \"vmlinux.h\" and \"kgent.h\" (kgent.h brings bpf_helpers.h, bpf_tracing.h, bpf_core_read.h and bpf_endian.h)",
                n + 1
            )));
        }
    }
    Ok(())
}

/// C source with its comments replaced by a space (a `/* */` spanning lines keeps its line
/// breaks, so line numbers stay), string and character literals kept whole.
fn without_comments(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                out.push(c);
                while let Some(d) = chars.next() {
                    out.push(d);
                    if d == '\\' {
                        if let Some(e) = chars.next() {
                            out.push(e);
                        }
                    } else if d == c || d == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                out.push(' ');
                for d in chars.by_ref() {
                    if d == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                out.push(' ');
                let mut star = false;
                for d in chars.by_ref() {
                    if d == '\n' {
                        out.push('\n');
                    }
                    if star && d == '/' {
                        break;
                    }
                    star = d == '*';
                }
            }
            _ => out.push(c),
        }
    }
    out
}

async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CompileError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = async {
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, path).await
    }
    .await;
    result.map_err(|e| CompileError::Toolchain(format!("cannot write {}: {e}", path.display())))
}

/// The errors of a clang run, each with the notes that follow it, warnings dropped, cut to
/// [`MAX_DIAGNOSTIC_LINES`]. Errors inside generated headers keep their header's name.
pub fn condense_clang(stderr: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut in_error = false;
    for line in stderr.lines() {
        let is_diag = line.contains(": error: ")
            || line.contains(": warning: ")
            || line.contains(": note: ")
            || line.contains("fatal error: ");
        if is_diag {
            in_error = line.contains("error: ") || (in_error && line.contains(": note: "));
            if in_error {
                kept.push(line);
            }
        } else if line.ends_with("generated.") {
            in_error = false;
        } else if in_error && !line.trim().is_empty() {
            kept.push(line);
        }
    }
    if kept.is_empty() {
        kept = stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(MAX_DIAGNOSTIC_LINES)
            .collect();
    }
    let total = kept.len();
    let mut out: Vec<String> = kept
        .into_iter()
        .take(MAX_DIAGNOSTIC_LINES)
        .map(str::to_owned)
        .collect();
    if total > MAX_DIAGNOSTIC_LINES {
        out.push(format!(
            "({} more lines of errors)",
            total - MAX_DIAGNOSTIC_LINES
        ));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_vmlinux_h_and_kgent_h_may_be_included() {
        let ok = "#include \"vmlinux.h\"\n# include <kgent.h>\n// #include \"/etc/shadow\"\nchar s[] = \"#include x\";\n";
        assert_eq!(check_includes(ok), Ok(()));
        for bad in [
            "#include \"/etc/shadow\"\n",
            "#include \"vmlinux.h\"\n  #  include </etc/shadow>\n",
            "#define F \"/etc/shadow\"\n#include F\n",
            "%:include \"/etc/shadow\"\n",
            "#/* hidden */include \"/etc/shadow\"\n",
            "#inc\\\nlude \"/etc/shadow\"\n",
            "#include_next <kgent.h>\n",
            "#pragma GCC dependency \"/etc/shadow\"\n",
            "#embed \"/etc/shadow\"\n",
        ] {
            let err = check_includes(bad).expect_err(bad);
            assert!(
                err.to_string()
                    .contains("may include only \"vmlinux.h\" and \"kgent.h\""),
                "{err}"
            );
        }
    }

    #[test]
    fn keeps_errors_and_their_notes_and_drops_warnings() {
        let stderr = "prog.c:3:5: warning: unused variable 'x' [-Wunused-variable]\n    int x;\n    ^\nprog.c:7:9: error: use of undeclared identifier 'foo'\n        foo = 1;\n        ^\nprog.c:2:1: note: previous definition is here\n1 warning and 1 error generated.\n";
        let c = condense_clang(stderr);
        assert!(c.contains("prog.c:7:9: error: use of undeclared identifier 'foo'"));
        assert!(c.contains("note: previous definition"));
        assert!(!c.contains("unused variable"));
        assert!(!c.contains("generated."));
    }
}
