//! Uprobe targets: function symbols of an ELF binary or library the user names.
use std::path::{Path, PathBuf};

use object::{Object, ObjectSymbol, SymbolKind};

/// Resolves what a user calls a binary: an absolute path, a command on PATH (`bash`), or a
/// library name (`libc`, `libssl`) found in the usual library directories.
pub fn resolve_binary(name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.is_file().then(|| p.to_path_buf());
    }
    if name.starts_with("lib") {
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
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

/// Defined function symbols (static and dynamic) of an ELF file, sorted and deduplicated.
pub fn uprobe_symbols(path: &Path) -> Result<Vec<String>, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
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

/// An ELF file the request names, with the function symbols most relevant to it.
#[derive(Debug, Clone)]
pub struct UprobeTarget {
    pub path: PathBuf,
    /// Defined function symbols, ranked by how well they match the request.
    pub symbols: Vec<String>,
    pub total_symbols: usize,
}

const FUNCTION_WORDS: &[&str] = &[
    "function",
    "functions",
    "uprobe",
    "uretprobe",
    "symbol",
    "library",
    "binary",
    "returns",
    "calls",
];

/// Binaries and libraries a request names: absolute paths, library names (`libc`, `libssl`),
/// and commands on PATH when the request speaks of functions or probes in them.
pub fn uprobe_targets(request: &str, max_symbols: usize) -> Vec<UprobeTarget> {
    let lower = request.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| {
            c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | '"' | '\'' | '`' | '?')
        })
        .map(|w| w.trim_end_matches(['.', ':']))
        .filter(|w| !w.is_empty())
        .collect();
    let speaks_of_functions = words.iter().any(|w| FUNCTION_WORDS.contains(w));
    let mut targets: Vec<UprobeTarget> = Vec::new();
    for w in &words {
        let named = w.starts_with('/')
            || (w.starts_with("lib")
                && w.len() > 3
                && w.chars().all(|c| {
                    c.is_ascii_alphanumeric() || c == '+' || c == '_' || c == '-' || c == '.'
                }))
            || (speaks_of_functions
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && w.len() > 1);
        if !named {
            continue;
        }
        let Some(path) = resolve_binary(w) else {
            continue;
        };
        if targets.iter().any(|t| t.path == path) {
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
                    .filter(|w| w.len() >= 3)
                    .map(|w| {
                        if ls == *w {
                            100
                        } else if ls.contains(*w) {
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
