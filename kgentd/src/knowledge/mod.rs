//! What kgent knows beyond the live kernel: example programs (kgent's curated ones in `bpf/`,
//! embedded at build time, and the host's installed bpftrace tools) and a retrieval index over
//! examples and the host's tracepoints.
//!
//! Retrieval is BM25 over words, with a small layer that maps how people speak ("deleted",
//! "new process", "tcp connection") onto kernel vocabulary (unlink, exec, inet_sock_set_state).
//! Examples that use attach families this kernel lacks are never offered.
mod bm25;
pub mod catalog;
pub mod helpers;
mod vocabulary;

use std::path::Path;

use include_dir::{include_dir, Dir};

use crate::host::{uprobe_targets, HostFacts, Tracepoint, UprobeTarget};
use crate::toolchain::bpftrace::probe_blocks;
use bm25::Index;

static CURATED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../bpf/examples");

#[derive(Debug, Clone)]
pub struct Example {
    /// "kgent:file_opens.bt" or "/usr/sbin/opensnoop.bt".
    pub origin: String,
    pub description: String,
    pub source: String,
}

pub struct Knowledge {
    /// Every attach point and helper of this host.
    pub catalog: catalog::Catalog,
    examples: Vec<Example>,
    example_index: Index,
    /// Tracepoint names, aligned with `tracepoint_index` documents.
    tracepoints: Vec<String>,
    tracepoint_index: Index,
}

#[derive(Debug, Clone)]
pub struct Grounding {
    pub tracepoints: Vec<Tracepoint>,
    pub examples: Vec<Example>,
    /// Binaries and libraries the request names, with their most relevant functions.
    pub uprobes: Vec<UprobeTarget>,
}

impl Knowledge {
    pub fn build(host: &HostFacts, example_dirs: &[std::path::PathBuf]) -> Self {
        let mut examples: Vec<Example> = CURATED
            .files()
            .filter(|f| f.path().extension().is_some_and(|e| e == "bt"))
            .filter_map(|f| {
                let text = f.contents_utf8()?;
                Some(parse_example(
                    &format!("kgent:{}", f.path().display()),
                    text,
                ))
            })
            .collect();
        for dir in example_dirs {
            examples.extend(read_example_dir(dir));
        }
        examples.retain(|e| usable_here(host, &e.source));
        let example_index = Index::new(
            examples
                .iter()
                .map(|e| {
                    // The description speaks like a user; the probes speak like the kernel.
                    let probes: Vec<String> = probe_blocks(&e.source)
                        .iter()
                        .flat_map(|b| b.probes.iter().map(|p| p.target.clone()))
                        .collect();
                    format!("{} {} {}", e.description, e.description, probes.join(" "))
                })
                .collect(),
        );
        let tracepoints: Vec<String> = host.tracepoints.keys().cloned().collect();
        let tracepoint_index = Index::new(
            host.tracepoints
                .values()
                .map(|tp| {
                    let fields: Vec<&str> = tp.fields.iter().map(|f| f.name.as_str()).collect();
                    format!(
                        "{} {} {} {}",
                        tp.subsystem,
                        tp.event,
                        tp.event,
                        fields.join(" ")
                    )
                })
                .collect(),
        );
        Self {
            catalog: catalog::Catalog::build(host),
            examples,
            example_index,
            tracepoints,
            tracepoint_index,
        }
    }

    pub fn example_count(&self) -> usize {
        self.examples.len()
    }

    /// The tracepoints and examples most relevant to `request`.
    pub fn ground(&self, host: &HostFacts, request: &str, n_tp: usize, n_ex: usize) -> Grounding {
        let query = vocabulary::expand(request);
        let examples: Vec<Example> = self
            .example_index
            .search(&query, n_ex)
            .into_iter()
            .map(|(i, _)| self.examples[i].clone())
            .collect();
        // Tracepoints the retrieved examples use come first: they are known to fit the need.
        let mut names: Vec<String> = Vec::new();
        for e in &examples {
            for b in probe_blocks(&e.source) {
                for p in b.probes.iter().filter(|p| p.is_tracepoint()) {
                    if host.tracepoints.contains_key(&p.target) && !names.contains(&p.target) {
                        names.push(p.target.clone());
                    }
                }
            }
        }
        for (i, _) in self.tracepoint_index.search(&query, n_tp * 2) {
            let name = &self.tracepoints[i];
            if !names.contains(name) {
                names.push(name.clone());
            }
            // A syscall's enter and exit belong together (arguments vs. return value).
            if let Some(pair) = syscall_pair(name) {
                if host.tracepoints.contains_key(&pair) && !names.contains(&pair) {
                    names.push(pair);
                }
            }
        }
        names.truncate(n_tp.max(1) + examples.len());
        let uprobes = if host.family_of("uprobe").is_some_and(|f| f.available) {
            uprobe_targets(request, 12)
        } else {
            Vec::new()
        };
        Grounding {
            uprobes,
            tracepoints: names
                .iter()
                .filter_map(|n| host.tracepoints.get(n).cloned())
                .collect(),
            examples,
        }
    }

    /// Real tracepoints whose names are closest to `wanted` (for "did you mean" diagnostics).
    pub fn nearest_tracepoints(&self, wanted: &str, n: usize) -> Vec<String> {
        let query = vocabulary::expand(&wanted.replace([':', '_'], " "));
        self.tracepoint_index
            .search(&query, n)
            .into_iter()
            .map(|(i, _)| self.tracepoints[i].clone())
            .collect()
    }
}

fn syscall_pair(name: &str) -> Option<String> {
    let (sub, ev) = name.split_once(':')?;
    if sub != "syscalls" {
        return None;
    }
    if let Some(rest) = ev.strip_prefix("sys_enter_") {
        Some(format!("syscalls:sys_exit_{rest}"))
    } else {
        ev.strip_prefix("sys_exit_")
            .map(|rest| format!("syscalls:sys_enter_{rest}"))
    }
}

fn parse_example(origin: &str, text: &str) -> Example {
    let description = text
        .lines()
        .find_map(|l| {
            let l = l.trim_start_matches(['/', '#', ' ']);
            l.strip_prefix("description:")
                .or_else(|| l.strip_prefix("keywords:"))
        })
        .map(|d| d.trim().to_owned())
        .or_else(|| {
            // bpftrace's own tools start with "name - what it does."
            text.lines()
                .map(|l| l.trim_start_matches(['/', '#', ' ', '*']))
                .find(|l| l.contains(" - "))
                .map(|l| l.to_owned())
        })
        .unwrap_or_default();
    let keywords = text
        .lines()
        .find_map(|l| l.trim_start_matches(['/', ' ']).strip_prefix("keywords:"))
        .unwrap_or("");
    Example {
        origin: origin.to_owned(),
        description: format!("{description} {keywords}").trim().to_owned(),
        source: text.to_owned(),
    }
}

fn read_example_dir(dir: &Path) -> Vec<Example> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<Example> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "bt"))
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            Some(parse_example(&p.display().to_string(), &text))
        })
        .collect();
    out.sort_by(|a, b| a.origin.cmp(&b.origin));
    out
}

/// An example is offered only when every probe it uses can attach here (and every tracepoint
/// it names exists).
fn usable_here(host: &HostFacts, source: &str) -> bool {
    let blocks = probe_blocks(source);
    !blocks.is_empty()
        && blocks.iter().flat_map(|b| &b.probes).all(|p| {
            host.family_of(&p.prefix).is_some_and(|f| f.available)
                && (!p.is_tracepoint()
                    || p.target.contains('*')
                    || host.tracepoints.contains_key(&p.target))
        })
}
