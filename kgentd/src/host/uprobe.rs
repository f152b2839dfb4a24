//! Uprobe targets: function symbols and USDT probes (`.note.stapsdt`) of an ELF binary or
//! library the user names, resolved the way a user says it (a path, a command on PATH, or a
//! library name through the dynamic linker's cache).
//!
//! The daemon reads these files as root for any caller, so it reads only what can be a
//! program: a regular file (no FIFO, device or socket), opened without blocking (tracefs's
//! `trace_pipe` is a regular file that blocks a reader until the kernel traces something), and
//! of at most [`MAX_ELF_BYTES`] (a sparse file of any size would be read whole).
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The largest file read for its symbols: well above the largest shared libraries of a
/// distribution (libLLVM, ~150 MiB), far below the daemon's memory limit.
pub const MAX_ELF_BYTES: u64 = 512 << 20;

/// Opens `path` for reading if it is a regular file of at most [`MAX_ELF_BYTES`], without
/// blocking on it; the error says why not.
fn open_regular(path: &Path) -> Result<(std::fs::File, u64), String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.file_type().is_file() {
        return Err(format!(
            "{} is not a regular file: uprobes need a compiled binary or shared library",
            path.display()
        ));
    }
    // The kernel's own filesystems hold no programs, and reading some of their files has
    // effects (trace_pipe consumes the trace).
    use nix::sys::statfs::{
        fstatfs, BPF_FS_MAGIC, CGROUP2_SUPER_MAGIC, DEBUGFS_MAGIC, PROC_SUPER_MAGIC,
        SECURITYFS_MAGIC, SYSFS_MAGIC, TRACEFS_MAGIC,
    };
    let pseudo = [
        PROC_SUPER_MAGIC,
        SYSFS_MAGIC,
        TRACEFS_MAGIC,
        DEBUGFS_MAGIC,
        SECURITYFS_MAGIC,
        BPF_FS_MAGIC,
        CGROUP2_SUPER_MAGIC,
    ];
    if fstatfs(&file).is_ok_and(|fs| pseudo.contains(&fs.filesystem_type())) {
        return Err(format!(
            "{} is a file of the kernel's own filesystems (proc, sys, tracing), not a program",
            path.display()
        ));
    }
    if meta.len() > MAX_ELF_BYTES {
        return Err(format!(
            "{} is {} MiB, more than the {} MiB kgentd reads for symbols",
            path.display(),
            meta.len() >> 20,
            MAX_ELF_BYTES >> 20
        ));
    }
    Ok((file, meta.len()))
}

/// Whether a user with `uid` and the groups `gids` may read `path` by its permission bits
/// (inode(7): the owner's, the group's or the others' read bit, whichever class applies).
/// kgentd reads as root; what it tells a caller about a file must not exceed what the caller
/// could read.
pub fn readable_by(path: &Path, uid: u32, gids: &[u32]) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    let mode = meta.mode();
    if meta.uid() == uid {
        mode & 0o400 != 0
    } else if gids.contains(&meta.gid()) {
        mode & 0o040 != 0
    } else {
        mode & 0o004 != 0
    }
}

/// The whole of a file [`open_regular`] accepts.
fn read_regular(path: &Path) -> Result<Vec<u8>, String> {
    let (mut file, len) = open_regular(path)?;
    let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.by_ref()
        .take(MAX_ELF_BYTES)
        .read_to_end(&mut data)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(data)
}

use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

/// `resolve_binary`, with an error that says what to give instead.
pub fn resolve_binary_or_explain(name: &str) -> Result<PathBuf, String> {
    let path = resolve_binary(name).ok_or_else(|| {
        format!(
            "no ELF file named {name:?}: give an absolute path (/usr/bin/bash), a command on PATH (bash) or a library name (libc, libssl)"
        )
    })?;
    if !is_elf(&path) {
        return Err(format!(
            "{} is not an ELF file (a script or a linker script?): uprobes need a compiled binary or shared library",
            path.display()
        ));
    }
    Ok(path)
}

/// A library name through the dynamic linker's cache (`ldconfig -p`): `libc` → the 64-bit
/// `libc.so.6`. Only real ELF files count (`libc.so` is often a linker script).
fn from_linker_cache(name: &str) -> Option<PathBuf> {
    let out = crate::process::tool_command_std("ldconfig")
        .arg("-p")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut hits: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| {
            let (soname, rest) = l.trim().split_once(" (")?;
            let (arch, path) = rest.split_once(") => ")?;
            let matches = soname == name || soname.starts_with(&format!("{name}.so"));
            (matches && arch.contains("x86-64")).then(|| PathBuf::from(path.trim()))
        })
        .filter(|p| is_elf(p))
        .collect();
    // Prefer the versioned runtime name (libc.so.6) over a development symlink.
    hits.sort_by_key(|p| std::cmp::Reverse(p.display().to_string().len()));
    hits.into_iter().next()
}

/// Whether two paths name one file (`/bin/bash` and `/usr/bin/bash` where `/bin` links to
/// `/usr/bin`): a uprobe on each would fire twice for every call.
pub fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

/// Resolves what a user calls a binary: an absolute path, a command on PATH (`bash`), or a
/// library name (`libc`, `libssl`) found through the linker cache or the usual directories.
pub fn resolve_binary(name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.is_file().then(|| p.to_path_buf());
    }
    if name.starts_with("lib") {
        if let Some(p) = from_linker_cache(name) {
            return Some(p);
        }
        for dir in [
            "/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib",
            "/lib",
        ] {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut hits: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|f| f.to_str())
                        .is_some_and(|f| f.starts_with(&format!("{name}.so")))
                })
                // `libc.so` is often a linker script: only real ELF files can be probed.
                .filter(|p| is_elf(p))
                .collect();
            hits.sort();
            if let Some(h) = hits.into_iter().next() {
                return Some(h);
            }
        }
        return None;
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|c| c.is_file())
}

fn is_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    open_regular(path).is_ok_and(|(mut f, _)| f.read_exact(&mut magic).is_ok())
        && magic == *b"\x7fELF"
}

/// Defined function symbols (static and dynamic) of an ELF file, sorted and deduplicated.
pub fn uprobe_symbols(path: &Path) -> Result<Vec<String>, String> {
    let data = read_regular(path)?;
    let file = object::File::parse(&*data)
        .map_err(|e| format!("{} is not an ELF object: {e}", path.display()))?;
    let mut names: Vec<String> = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|s| s.kind() == SymbolKind::Text && s.is_definition())
        .filter_map(|s| s.name().ok())
        .map(|n| n.split('@').next().unwrap_or(n).to_owned())
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// USDT probes of an ELF file as `provider:name`, from its `.note.stapsdt` notes (empty when
/// it has none).
pub fn usdt_probes(path: &Path) -> Result<Vec<String>, String> {
    let data = read_regular(path)?;
    let file = object::File::parse(&*data)
        .map_err(|e| format!("{} is not an ELF object: {e}", path.display()))?;
    let Some(section) = file.section_by_name(".note.stapsdt") else {
        return Ok(Vec::new());
    };
    let notes = section
        .data()
        .map_err(|e| format!("{}: unreadable .note.stapsdt: {e}", path.display()))?;
    let mut probes = parse_stapsdt(notes, file.is_64());
    probes.sort();
    probes.dedup();
    Ok(probes)
}

/// Notes are `namesz, descsz, type` (u32 each), the owner name and the descriptor, each padded
/// to 4 bytes; a stapsdt descriptor is pc, base, semaphore (addresses), then the provider,
/// probe name and argument format as NUL-terminated strings.
fn parse_stapsdt(mut notes: &[u8], is_64: bool) -> Vec<String> {
    let word = |b: &[u8], at: usize| -> Option<usize> {
        Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    let pad = |n: usize| n.div_ceil(4) * 4;
    let addresses = if is_64 { 24 } else { 12 };
    let mut out = Vec::new();
    while let (Some(namesz), Some(descsz), Some(kind)) =
        (word(notes, 0), word(notes, 4), word(notes, 8))
    {
        let desc_at = 12 + pad(namesz);
        let Some(desc) = notes.get(desc_at..desc_at + descsz) else {
            break;
        };
        if kind == 3 && notes.get(12..12 + namesz) == Some(b"stapsdt\0".as_slice()) {
            let mut strings = desc.get(addresses..).unwrap_or(&[]).split(|&b| b == 0);
            if let (Some(provider), Some(name)) = (strings.next(), strings.next()) {
                out.push(format!(
                    "{}:{}",
                    String::from_utf8_lossy(provider),
                    String::from_utf8_lossy(name)
                ));
            }
        }
        notes = notes.get(desc_at + pad(descsz)..).unwrap_or(&[]);
    }
    out
}

/// An ELF file the request names, with the function symbols most relevant to it.
#[derive(Debug, Clone)]
pub struct UprobeTarget {
    pub path: PathBuf,
    /// Defined function symbols, ranked by how well they match the request.
    pub symbols: Vec<String>,
    pub total_symbols: usize,
}

/// The uprobe targets among `candidates` (words of a request that may name a binary or
/// library, see `intent::Intent::binary_words`) that resolve to an ELF file here, each with its
/// functions ranked by `words` (exact name first, then containing a word), at most
/// `max_symbols` of them.
pub fn uprobe_targets(
    candidates: &[String],
    words: &[String],
    max_symbols: usize,
) -> Vec<UprobeTarget> {
    let mut targets: Vec<UprobeTarget> = Vec::new();
    for w in candidates {
        let Some(path) = resolve_binary(w) else {
            continue;
        };
        if targets.iter().any(|t| same_file(&t.path, &path)) {
            continue;
        }
        let Ok(all) = uprobe_symbols(&path) else {
            continue;
        };
        let total_symbols = all.len();
        let mut scored: Vec<(usize, &String)> = all
            .iter()
            .filter_map(|s| {
                let ls = s.to_lowercase();
                let score = words
                    .iter()
                    .map(|w| {
                        if ls == *w {
                            100
                        } else if ls.contains(w.as_str()) {
                            10
                        } else {
                            0
                        }
                    })
                    .sum::<usize>();
                (score > 0).then_some((score, s))
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.len().cmp(&b.1.len())));
        targets.push(UprobeTarget {
            path,
            symbols: scored
                .into_iter()
                .take(max_symbols)
                .map(|(_, s)| s.clone())
                .collect(),
            total_symbols,
        });
    }
    targets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stapsdt_note() {
        let mut note = Vec::new();
        note.extend_from_slice(&8u32.to_le_bytes());
        let desc: Vec<u8> = [vec![0u8; 24], b"libstdcxx\0throw\08@%rdi\0".to_vec()].concat();
        note.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        note.extend_from_slice(&3u32.to_le_bytes());
        note.extend_from_slice(b"stapsdt\0");
        note.extend_from_slice(&desc);
        note.resize(note.len().div_ceil(4) * 4, 0);
        let twice = [note.clone(), note].concat();
        assert_eq!(
            parse_stapsdt(&twice, true),
            vec!["libstdcxx:throw", "libstdcxx:throw"]
        );
        assert!(parse_stapsdt(&[1, 2, 3], true).is_empty());
    }

    #[test]
    fn only_regular_program_files_are_read() {
        // A FIFO would block a reader forever; trace_pipe blocks too and consumes the trace.
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("pipe");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .expect("mkfifo");
        for path in [
            fifo.as_path(),
            Path::new("/sys/kernel/tracing/trace_pipe"),
            Path::new("/proc/self/status"),
            Path::new("/dev/null"),
        ] {
            assert!(!is_elf(path), "{}", path.display());
            let err = uprobe_symbols(path).expect_err("refused");
            assert!(err.contains(&path.display().to_string()), "{err}");
        }
        // Larger than the cap: refused without reading it (a sparse file costs no disk).
        let big = dir.path().join("big");
        std::fs::File::create(&big)
            .and_then(|f| f.set_len(MAX_ELF_BYTES + 1))
            .expect("sparse file");
        let err = uprobe_symbols(&big).expect_err("too big");
        assert!(err.contains("MiB"), "{err}");
        let libc = resolve_binary("libc").expect("libc");
        assert!(!uprobe_symbols(&libc).expect("libc symbols").is_empty());
    }

    #[test]
    fn resolves_libraries_through_the_linker_cache_and_explains_unknown_names() {
        let libc = resolve_binary_or_explain("libc").expect("libc");
        assert!(is_elf(&libc), "{}", libc.display());
        let err = resolve_binary_or_explain("kgent-no-such-binary").expect_err("unknown");
        assert!(err.contains("absolute path"), "{err}");
    }
}
