//! The catalog: every attach point and helper of this host in one searchable index —
//! tracepoints (with fields), raw tracepoints and kernel functions (from BTF, with prototypes),
//! and BPF helpers (from `linux/bpf.h`), each marked with whether it can be used here and why
//! not. Built from the live host at start-up; answers a search in well under a millisecond.
use std::collections::HashMap;
use std::path::Path;

use super::bm25::Index;
use super::helpers;
use crate::host::{btf, HostFacts};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Tracepoint,
    RawTracepoint,
    KernelFunction,
    Helper,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tracepoint => "tracepoint",
            Self::RawTracepoint => "raw tracepoint",
            Self::KernelFunction => "kernel function",
            Self::Helper => "helper",
        }
    }
}

#[derive(Debug, Clone)]
pub struct CatalogEntry {
    pub kind: EntryKind,
    /// How a program names it: "tracepoint:syscalls:sys_enter_openat", "kprobe:vfs_read",
    /// "rawtracepoint:sched_switch", "bpf_map_update_elem".
    pub name: String,
    /// Fields or prototype.
    pub signature: String,
    pub description: String,
    pub available: bool,
    /// Why not, when it cannot be used here; how, when it can.
    pub reason: String,
}

pub struct Catalog {
    entries: Vec<CatalogEntry>,
    index: Index,
    by_name: HashMap<String, usize>,
    /// What could not be read (a missing header, unreadable BTF), said once.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub tracepoints: usize,
    pub raw_tracepoints: usize,
    pub kernel_functions: usize,
    pub helpers: usize,
}

impl Catalog {
    pub fn build(host: &HostFacts) -> Self {
        let mut entries = Vec::new();
        let mut warnings = Vec::new();
        let family = |name: &str| host.families.iter().find(|f| f.name == name);
        let tp_family = family("tracepoint");
        for tp in host.tracepoints.values() {
            let fields: Vec<String> = tp
                .fields
                .iter()
                .map(|f| format!("{} {}", f.ctype, f.name))
                .collect();
            entries.push(CatalogEntry {
                kind: EntryKind::Tracepoint,
                name: tp.probe(),
                signature: fields.join("; "),
                description: format!("tracepoint {} of the {} subsystem", tp.event, tp.subsystem),
                available: tp_family.is_some_and(|f| f.available),
                reason: tp_family.map(|f| f.reason.clone()).unwrap_or_default(),
            });
        }
        match btf::read(Path::new("/sys/kernel/btf/vmlinux")) {
            Ok(k) => {
                let raw = family("rawtracepoint");
                for rt in k.raw_tracepoints {
                    entries.push(CatalogEntry {
                        kind: EntryKind::RawTracepoint,
                        name: format!("rawtracepoint:{}", rt.name),
                        signature: rt.prototype,
                        description: format!("raw tracepoint {} (also tp_btf)", rt.name),
                        available: raw.is_some_and(|f| f.available),
                        reason: format!(
                            "{}; bpftrace 0.17 cannot attach raw tracepoints, C programs can",
                            raw.map(|f| f.reason.as_str()).unwrap_or("not measured")
                        ),
                    });
                }
                let (kprobe, fentry) = (family("kprobe"), family("fentry"));
                let usable =
                    kprobe.is_some_and(|f| f.available) || fentry.is_some_and(|f| f.available);
                let reason = match (kprobe, fentry) {
                    (Some(k), Some(f)) if !usable => format!("{}; {}", k.reason, f.reason),
                    (Some(k), _) if k.available => k.reason.clone(),
                    (_, Some(f)) => f.reason.clone(),
                    _ => "not measured".to_owned(),
                };
                for f in k.functions {
                    entries.push(CatalogEntry {
                        kind: EntryKind::KernelFunction,
                        name: format!("kprobe:{}", f.name),
                        signature: f.prototype,
                        description: format!(
                            "kernel function {} (kprobe/kretprobe/fentry/fexit target)",
                            f.name
                        ),
                        available: usable,
                        reason: reason.clone(),
                    });
                }
            }
            Err(e) => warnings.push(format!(
                "kernel functions and raw tracepoints unavailable: {e}"
            )),
        }
        match helpers::read(Path::new(helpers::BPF_H)) {
            Ok(hs) => entries.extend(hs.into_iter().map(|h| CatalogEntry {
                kind: EntryKind::Helper,
                name: h.name,
                signature: h.prototype,
                description: if h.returns.is_empty() {
                    h.description
                } else {
                    format!("{} Returns: {}", h.description, h.returns)
                },
                available: true,
                reason: "documented in the host's linux/bpf.h".to_owned(),
            })),
            Err(e) => warnings.push(format!("helpers unavailable: {e}")),
        }
        let index = Index::new(
            entries
                .iter()
                .map(|e| {
                    let short: String = e.description.chars().take(300).collect();
                    format!("{} {} {}", e.name, e.name, short)
                })
                .collect(),
        );
        let by_name = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name.clone(), i))
            .collect();
        Self {
            entries,
            index,
            by_name,
            warnings,
        }
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for e in &self.entries {
            match e.kind {
                EntryKind::Tracepoint => c.tracepoints += 1,
                EntryKind::RawTracepoint => c.raw_tracepoints += 1,
                EntryKind::KernelFunction => c.kernel_functions += 1,
                EntryKind::Helper => c.helpers += 1,
            }
        }
        c
    }

    /// Ranked entries for a query in people's words or kernel names. Attach points a program
    /// can use directly rank above kernel internals: tracepoints first, tracepoint plumbing
    /// (`__traceiter_*` and the like) last.
    pub fn search(&self, query: &str, limit: usize) -> Vec<(&CatalogEntry, f32)> {
        let expanded = super::vocabulary::expand(query);
        let mut ranked: Vec<(&CatalogEntry, f32)> = self
            .index
            .search(&expanded, limit.saturating_mul(4).max(20))
            .into_iter()
            .map(|(i, s)| {
                let e = &self.entries[i];
                (e, s * weight(e))
            })
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked.truncate(limit);
        ranked
    }

    /// One entry by its name; the probe prefix may be left out or abbreviated
    /// ("sys_enter_openat", "syscalls:sys_enter_openat", "t:syscalls:sys_enter_openat", "vfs_read").
    pub fn get(&self, name: &str) -> Option<&CatalogEntry> {
        let name = name.trim();
        let candidates = [
            name.to_owned(),
            format!("tracepoint:{name}"),
            format!("tracepoint:{}", name.strip_prefix("t:").unwrap_or(name)),
            format!("rawtracepoint:{name}"),
            format!("kprobe:{name}"),
            format!("kprobe:{}", name.split_once(':').map_or(name, |(_, n)| n)),
        ];
        if let Some(e) = candidates.iter().find_map(|c| self.by_name.get(c)) {
            return Some(&self.entries[*e]);
        }
        // A bare event name: the tracepoint of that name, whatever its subsystem.
        self.entries
            .iter()
            .find(|e| e.kind == EntryKind::Tracepoint && e.name.rsplit(':').next() == Some(name))
    }
}

fn weight(e: &CatalogEntry) -> f32 {
    const PLUMBING: &[&str] = &[
        "kprobe:__probestub_",
        "kprobe:__traceiter_",
        "kprobe:__bpf_trace_",
        "kprobe:trace_event_raw_event_",
        "kprobe:perf_trace_",
        "kprobe:trace_raw_output_",
    ];
    if PLUMBING.iter().any(|p| e.name.starts_with(p)) {
        return 0.2;
    }
    match e.kind {
        EntryKind::Tracepoint => 1.3,
        EntryKind::RawTracepoint | EntryKind::Helper => 1.0,
        EntryKind::KernelFunction => 0.8,
    }
}
