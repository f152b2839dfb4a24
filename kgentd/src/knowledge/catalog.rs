//! The catalog: every attach point and helper of this host in one searchable index —
//! tracepoints (with fields), raw tracepoints and kernel functions (from BTF, with prototypes),
//! BPF helpers (from `linux/bpf.h`, with the program types that may call them here), and the
//! hooks and perf events of the curated specs DB — each marked with whether it can be used here
//! and why not, and enriched with the curated facts where the specs DB has an entry. A
//! tracepoint the specs DB does not describe says what the kernel says of it
//! (`specs-db/tracepoint-docs.toml`: its own comment, else its system's).
//!
//! Built from the live host at start-up; BM25 answers a search in well under a millisecond.
//! Sentence vectors of the attach points (not of the 56k kernel functions: too many to embed at
//! start-up, and unusable where kprobes are) can be attached later; search is then hybrid
//! (reciprocal rank fusion of both rankings).
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use super::bm25::Index;
use super::embedding::Embedder;
use super::semantic::VectorIndex;
use super::specs::{self, Spec};
use super::tracepoint_docs::TracepointDocs;
use crate::host::{bpf_h, btf, HostFacts};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Tracepoint,
    RawTracepoint,
    KernelFunction,
    Helper,
    /// A program type attached to an object rather than an event: XDP, tc, cgroup, sock_ops, LSM.
    Hook,
    PerfEvent,
    Uprobe,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tracepoint => "tracepoint",
            Self::RawTracepoint => "raw tracepoint",
            Self::KernelFunction => "kernel function",
            Self::Helper => "helper",
            Self::Hook => "hook",
            Self::PerfEvent => "perf event",
            Self::Uprobe => "uprobe",
        }
    }

    /// The kind a curated entry the host has no list of is, by its prefix.
    fn of_curated(name: &str) -> Option<Self> {
        let prefix = name.split(':').next()?;
        match prefix {
            "hook" => Some(Self::Hook),
            "software" | "hardware" | "profile" | "interval" => Some(Self::PerfEvent),
            "uprobe" | "uretprobe" | "usdt" => Some(Self::Uprobe),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
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
    /// From the specs DB: what programs get wrong about it (empty when not curated).
    pub facts: Vec<String>,
    /// From the specs DB: probes people reach for that this entry replaces.
    pub instead_of: Vec<String>,
    /// Helpers only: program types that may call it on this kernel (measured by bpftool).
    pub program_types: Vec<String>,
    pub curated: bool,
    /// From the specs DB: how users ask for it (searchable, not shown).
    pub people_say: Vec<String>,
}

impl CatalogEntry {
    /// Whether a program can attach to it here directly (a tracepoint, perf event, hook or
    /// uprobe that works on this kernel).
    pub fn attachable(&self) -> bool {
        self.available
            && matches!(
                self.kind,
                EntryKind::Tracepoint | EntryKind::PerfEvent | EntryKind::Hook | EntryKind::Uprobe
            )
    }
}

/// How a search ranks entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retrieval {
    Bm25,
    Embeddings,
    /// Reciprocal rank fusion of BM25 and embeddings.
    Hybrid,
}

/// Vectors of the embedded entries, attached once computed.
struct Semantic {
    embedder: Arc<Embedder>,
    /// Catalog entry of each vector.
    entries: Vec<usize>,
    vectors: VectorIndex,
}

pub struct Catalog {
    entries: Vec<CatalogEntry>,
    index: Index,
    by_name: HashMap<String, usize>,
    /// Kernel function name → curated entries that replace probes of it.
    replacing: HashMap<String, Vec<usize>>,
    semantic: OnceLock<Semantic>,
    /// What could not be read (a missing header, unreadable BTF), said once.
    pub warnings: Vec<String>,
    /// Curated entries naming attach points this kernel lacks.
    pub missing_specs: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub tracepoints: usize,
    pub raw_tracepoints: usize,
    pub kernel_functions: usize,
    pub helpers: usize,
    pub hooks: usize,
    pub perf_events: usize,
    pub uprobes: usize,
    pub curated: usize,
}

impl Counts {
    pub fn total(&self) -> usize {
        self.tracepoints
            + self.raw_tracepoints
            + self.kernel_functions
            + self.helpers
            + self.hooks
            + self.perf_events
            + self.uprobes
    }
}

/// An entry with nothing curated yet.
fn entry(
    kind: EntryKind,
    name: String,
    signature: String,
    description: String,
    available: bool,
    reason: String,
) -> CatalogEntry {
    CatalogEntry {
        kind,
        name,
        signature,
        description,
        available,
        reason,
        facts: Vec::new(),
        instead_of: Vec::new(),
        program_types: Vec::new(),
        curated: false,
        people_say: Vec::new(),
    }
}

/// RRF's damping constant: the usual 60 keeps one list's top hit from drowning the other list.
const RRF_K: f32 = 60.0;
/// Candidates each ranking contributes to a fusion.
const FUSION_DEPTH: usize = 60;

/// One entry per tracepoint of this host, with its fields and what the kernel says of it.
fn tracepoint_entries(host: &HostFacts, docs: Option<&TracepointDocs>) -> Vec<CatalogEntry> {
    let mut entries = Vec::new();
    let tp_family = family(host, "tracepoint");
    for tp in host.tracepoints.values() {
        let fields: Vec<String> = tp
            .fields
            .iter()
            .map(|f| format!("{} {}", f.ctype, f.name))
            .collect();
        entries.push(entry(
            EntryKind::Tracepoint,
            tp.probe(),
            fields.join("; "),
            docs.and_then(|d| d.event(&tp.subsystem, &tp.event))
                .map(|d| d.doc.clone())
                .or_else(|| syscall_words(&tp.subsystem, &tp.event))
                .or_else(|| {
                    docs.and_then(|d| d.describe(&tp.subsystem, &tp.event))
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| unnamed_tracepoint(&tp.probe())),
            tp_family.is_some_and(|f| f.available),
            tp_family.map(|f| f.reason.clone()).unwrap_or_default(),
        ));
    }
    entries
}

/// What a tracepoint is called when nothing describes it: "tracepoint EVENT of the SYSTEM
/// subsystem", from its name (`tracepoint:SYSTEM:EVENT`).
fn unnamed_tracepoint(probe: &str) -> String {
    let name = probe.strip_prefix("tracepoint:").unwrap_or(probe);
    match name.split_once(':') {
        Some((system, event)) => format!("tracepoint {event} of the {system} subsystem"),
        None => format!("tracepoint {name}"),
    }
}

fn family<'a>(host: &'a HostFacts, name: &str) -> Option<&'a crate::host::AttachFamily> {
    host.families.iter().find(|f| f.name == name)
}

/// Raw tracepoints and kernel functions from this kernel's BTF, with whether they attach here.
fn kernel_entries(host: &HostFacts, k: btf::KernelBtf) -> Vec<CatalogEntry> {
    let mut entries = Vec::new();
    let raw = family(host, "rawtracepoint");
    for rt in k.raw_tracepoints {
        entries.push(entry(
            EntryKind::RawTracepoint,
            format!("rawtracepoint:{}", rt.name),
            rt.prototype,
            format!("raw tracepoint {} (also tp_btf)", rt.name),
            raw.is_some_and(|f| f.available),
            format!(
                "{}; bpftrace 0.17 cannot attach raw tracepoints, C programs can",
                raw.map(|f| f.reason.as_str()).unwrap_or("not measured")
            ),
        ));
    }
    let (kprobe, fentry) = (family(host, "kprobe"), family(host, "fentry"));
    let usable = kprobe.is_some_and(|f| f.available) || fentry.is_some_and(|f| f.available);
    let reason = match (kprobe, fentry) {
        (Some(k), Some(f)) if !usable => format!("{}; {}", k.reason, f.reason),
        (Some(k), _) if k.available => k.reason.clone(),
        (_, Some(f)) => f.reason.clone(),
        _ => "not measured".to_owned(),
    };
    for f in k.functions {
        entries.push(entry(
            EntryKind::KernelFunction,
            format!("kprobe:{}", f.name),
            f.prototype,
            format!(
                "kernel function {} (kprobe/kretprobe/fentry/fexit target)",
                f.name
            ),
            usable,
            reason.clone(),
        ));
    }
    entries
}

/// The bpf.h helpers, each with the program types that may call it here.
fn helper_entries(host: &HostFacts, hs: Vec<bpf_h::Helper>) -> Vec<CatalogEntry> {
    let callers = helper_callers(&host.helpers_by_program_type);
    hs.into_iter()
        .map(|h| {
            let program_types = callers.get(&h.name).cloned().unwrap_or_default();
            let (available, reason) =
                helper_availability(&host.helpers_by_program_type, &program_types);
            let mut e = entry(
                EntryKind::Helper,
                h.name,
                h.prototype,
                if h.returns.is_empty() {
                    h.description
                } else {
                    format!("{} Returns: {}", h.description, h.returns)
                },
                available,
                reason,
            );
            e.program_types = program_types;
            e
        })
        .collect()
}

/// Merges the curated specs DB into `entries` (adding curated probes the host has but the
/// catalog lacks); returns which curated entries replace which kernel functions, and the
/// curated names this host has no attach point for.
fn apply_specs(
    host: &HostFacts,
    entries: &mut Vec<CatalogEntry>,
    by_name: &mut HashMap<String, usize>,
    warnings: &mut Vec<String>,
) -> (HashMap<String, Vec<usize>>, Vec<String>) {
    let curated = match specs::parse(specs::CURATED) {
        Ok(c) => c,
        Err(e) => {
            warnings.push(e);
            Vec::new()
        }
    };
    let mut missing_specs = Vec::new();
    let mut replacing: HashMap<String, Vec<usize>> = HashMap::new();
    for spec in curated {
        let i = match by_name.get(&spec.name) {
            Some(&i) => i,
            None => match curated_entry(host, &spec) {
                Some(e) => {
                    entries.push(e);
                    by_name.insert(spec.name.clone(), entries.len() - 1);
                    entries.len() - 1
                }
                None => {
                    missing_specs.push(spec.name.clone());
                    continue;
                }
            },
        };
        for probe in &spec.instead_of {
            if let Some(f) = specs::kernel_function(probe) {
                replacing.entry(f.to_owned()).or_default().push(i);
            }
        }
        let e = &mut entries[i];
        e.description = spec.summary;
        e.facts = spec.facts;
        e.instead_of = spec.instead_of;
        e.people_say = spec.people_say;
        e.curated = true;
    }
    (replacing, missing_specs)
}

impl Catalog {
    pub fn build(host: &HostFacts) -> Self {
        let mut warnings = Vec::new();
        let docs = TracepointDocs::shipped()
            .map_err(|e| warnings.push(e.to_owned()))
            .ok();
        let mut entries = tracepoint_entries(host, docs);
        // BTF and bpf.h are independent reads: do them side by side.
        let (kernel, helper_docs) = std::thread::scope(|s| {
            let kernel = s.spawn(|| btf::read(Path::new("/sys/kernel/btf/vmlinux")));
            let helper_docs = bpf_h::read(Path::new(bpf_h::BPF_H));
            let kernel = kernel
                .join()
                .unwrap_or_else(|_| Err("the BTF reader crashed".to_owned()));
            (kernel, helper_docs)
        });
        match kernel {
            Ok(k) => entries.extend(kernel_entries(host, k)),
            Err(e) => warnings.push(format!(
                "kernel functions and raw tracepoints unavailable: {e}"
            )),
        }
        match helper_docs {
            Ok(hs) => entries.extend(helper_entries(host, hs)),
            Err(e) => warnings.push(format!("helpers unavailable: {e}")),
        }
        let mut by_name: HashMap<String, usize> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name.clone(), i))
            .collect();
        let (replacing, missing_specs) =
            apply_specs(host, &mut entries, &mut by_name, &mut warnings);
        let index = Index::new(entries.iter().map(bm25_text).collect());
        Self {
            entries,
            index,
            by_name,
            replacing,
            semantic: OnceLock::new(),
            warnings,
            missing_specs,
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
                EntryKind::Hook => c.hooks += 1,
                EntryKind::PerfEvent => c.perf_events += 1,
                EntryKind::Uprobe => c.uprobes += 1,
            }
            c.curated += usize::from(e.curated);
        }
        c
    }

    /// Texts to embed, with the entry each belongs to: every attach point a program names by
    /// event (tracepoints, hooks, perf events, uprobes), helpers, and every curated entry.
    /// Raw tracepoints share their tracepoint's name and meaning; kernel functions are 56k
    /// internals: both stay BM25-only.
    pub fn embedding_texts(&self) -> (Vec<usize>, Vec<String>) {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                e.curated || !matches!(e.kind, EntryKind::RawTracepoint | EntryKind::KernelFunction)
            })
            .map(|(i, e)| (i, embedding_text(e)))
            .unzip()
    }

    /// Makes search hybrid. `vectors` align with `entries` from `embedding_texts`.
    pub fn attach_embeddings(
        &self,
        embedder: Arc<Embedder>,
        entries: Vec<usize>,
        vectors: VectorIndex,
    ) -> Result<(), String> {
        if entries.len() != vectors.len() {
            return Err(format!(
                "{} vectors for {} entries",
                vectors.len(),
                entries.len()
            ));
        }
        self.semantic
            .set(Semantic {
                embedder,
                entries,
                vectors,
            })
            .map_err(|_| "embeddings are already attached".to_owned())
    }

    /// Every entry, in catalog order (tracepoints, raw tracepoints, kernel functions, helpers,
    /// then curated hooks and events).
    pub fn entries(&self) -> &[CatalogEntry] {
        &self.entries
    }

    /// Whether search uses sentence embeddings (else BM25 only).
    pub fn has_embeddings(&self) -> bool {
        self.semantic.get().is_some()
    }

    /// The embedder, once attached (the example corpus shares it).
    pub fn embedder(&self) -> Option<Arc<Embedder>> {
        self.semantic.get().map(|s| s.embedder.clone())
    }

    /// Ranked entries for a query in people's words or kernel names: hybrid when embeddings
    /// are attached, BM25 otherwise.
    pub fn search(&self, query: &str, limit: usize) -> Vec<(&CatalogEntry, f32)> {
        self.search_where(query, limit, |_| true)
    }

    /// `search`, keeping only entries `keep` accepts.
    pub fn search_where(
        &self,
        query: &str,
        limit: usize,
        keep: impl Fn(&CatalogEntry) -> bool,
    ) -> Vec<(&CatalogEntry, f32)> {
        let mode = if self.has_embeddings() {
            Retrieval::Hybrid
        } else {
            Retrieval::Bm25
        };
        match self.search_with(query, limit, mode, &keep) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("semantic search failed, answering with BM25 only: {e}");
                self.bm25(query, limit, &keep)
            }
        }
    }

    /// Search with a chosen ranking (the retrieval-quality report compares all three).
    /// Embeddings and hybrid need attached embeddings.
    pub fn search_with(
        &self,
        query: &str,
        limit: usize,
        mode: Retrieval,
        keep: &dyn Fn(&CatalogEntry) -> bool,
    ) -> Result<Vec<(&CatalogEntry, f32)>, String> {
        match mode {
            Retrieval::Bm25 => Ok(self.bm25(query, limit, keep)),
            Retrieval::Embeddings => self.nearest(query, limit, keep),
            Retrieval::Hybrid => {
                let depth = FUSION_DEPTH.max(limit);
                let lexical = self.bm25(query, depth, keep);
                let semantic = self.nearest(query, depth, keep)?;
                let mut fused: HashMap<*const CatalogEntry, (&CatalogEntry, f32)> = HashMap::new();
                for list in [&lexical, &semantic] {
                    for (rank, (e, _)) in list.iter().enumerate() {
                        let slot = fused.entry(*e as *const CatalogEntry).or_insert((e, 0.0));
                        slot.1 += 1.0 / (RRF_K + rank as f32 + 1.0);
                    }
                }
                let mut ranked: Vec<(&CatalogEntry, f32)> = fused.into_values().collect();
                ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.name.cmp(&b.0.name)));
                ranked.truncate(limit);
                Ok(ranked)
            }
        }
    }

    /// BM25 ranking. Attach points a program can use directly rank above kernel internals:
    /// tracepoints first, tracepoint plumbing (`__traceiter_*` and the like) last.
    fn bm25(
        &self,
        query: &str,
        limit: usize,
        keep: &dyn Fn(&CatalogEntry) -> bool,
    ) -> Vec<(&CatalogEntry, f32)> {
        let expanded = crate::intent::search_text(query);
        let mut want = limit.saturating_mul(4).max(20);
        loop {
            let hits = self.index.search(&expanded, want);
            let exhausted = hits.len() < want;
            let mut ranked: Vec<(&CatalogEntry, f32)> = hits
                .into_iter()
                .map(|(i, s)| (&self.entries[i], s))
                .filter(|(e, _)| keep(e))
                .map(|(e, s)| (e, s * weight(e)))
                .collect();
            // A filter may discard most hits: widen until enough remain or none are left.
            if ranked.len() >= limit.saturating_mul(2).min(want) || exhausted {
                ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
                ranked.truncate(limit);
                return ranked;
            }
            want = want.saturating_mul(8);
        }
    }

    /// Embedding ranking (cosine similarity of the query to each embedded entry).
    fn nearest(
        &self,
        query: &str,
        limit: usize,
        keep: &dyn Fn(&CatalogEntry) -> bool,
    ) -> Result<Vec<(&CatalogEntry, f32)>, String> {
        let s = self
            .semantic
            .get()
            .ok_or("sentence embeddings are not loaded (yet)")?;
        let q = s.embedder.embed_query(query)?;
        let mut want = limit.saturating_mul(8).max(100);
        loop {
            let hits = s.vectors.top(&q, want);
            let exhausted = hits.len() < want;
            let kept: Vec<(&CatalogEntry, f32)> = hits
                .into_iter()
                .map(|(i, score)| (&self.entries[s.entries[i]], score))
                .filter(|(e, _)| keep(e))
                .take(limit)
                .collect();
            if kept.len() >= limit || exhausted {
                return Ok(kept);
            }
            want = want.saturating_mul(8);
        }
    }

    /// One entry by its name; the probe prefix may be left out or abbreviated
    /// ("sys_enter_openat", "syscalls:sys_enter_openat", "t:syscalls:sys_enter_openat", "vfs_read").
    pub fn get(&self, name: &str) -> Option<&CatalogEntry> {
        let name = name.trim();
        let exact = [
            name.to_owned(),
            format!("tracepoint:{name}"),
            format!("tracepoint:{}", name.strip_prefix("t:").unwrap_or(name)),
        ];
        if let Some(e) = exact.iter().find_map(|c| self.by_name.get(c)) {
            return Some(&self.entries[*e]);
        }
        // A bare event name: the tracepoint of that name, whatever its subsystem, before the
        // raw tracepoint and kernel function that usually share it.
        if let Some(e) = self
            .entries
            .iter()
            .find(|e| e.kind == EntryKind::Tracepoint && e.name.rsplit(':').next() == Some(name))
        {
            return Some(e);
        }
        let other = [
            format!("rawtracepoint:{name}"),
            format!("hook:{name}"),
            format!("kprobe:{name}"),
            format!("kprobe:{}", name.split_once(':').map_or(name, |(_, n)| n)),
        ];
        other
            .iter()
            .find_map(|c| self.by_name.get(c))
            .map(|&i| &self.entries[i])
    }

    /// Curated entries that replace a kernel-function probe (`kprobe:tcp_connect` →
    /// `tracepoint:sock:inet_sock_set_state`), usable ones first.
    pub fn replacements(&self, probe: &str) -> Vec<&CatalogEntry> {
        let function = specs::kernel_function(probe).unwrap_or(probe);
        let mut out: Vec<&CatalogEntry> = self
            .replacing
            .get(function)
            .into_iter()
            .flatten()
            .map(|&i| &self.entries[i])
            .filter(|e| e.kind != EntryKind::KernelFunction)
            .collect();
        out.sort_by_key(|e| !e.available);
        out
    }

    /// A helper by name, with the program types that may call it here.
    pub fn helper(&self, name: &str) -> Option<&CatalogEntry> {
        self.by_name
            .get(name.trim())
            .map(|&i| &self.entries[i])
            .filter(|e| e.kind == EntryKind::Helper)
    }

    /// Whether a program of `program_type` (bpftool's names: "kprobe", "tracepoint", "xdp",
    /// "sched_cls", "raw_tracepoint", …) may call `helper` on this kernel. The error names what
    /// to do instead.
    pub fn helper_callable(&self, helper: &str, program_type: &str) -> Result<(), String> {
        let Some(h) = self.helper(helper) else {
            // Misspellings ("pidtgid") are closest by spelling; BM25 never sees the split word.
            let mut near: Vec<(f64, &str)> = self
                .entries
                .iter()
                .filter(|e| e.kind == EntryKind::Helper)
                .map(|e| (strsim::jaro_winkler(helper, &e.name), e.name.as_str()))
                .collect();
            near.sort_by(|a, b| b.0.total_cmp(&a.0));
            let near: Vec<&str> = near.into_iter().take(3).map(|(_, n)| n).collect();
            return Err(format!(
                "{helper} is not a BPF helper of this kernel's linux/bpf.h; nearest: {}",
                near.join(", ")
            ));
        };
        if h.program_types.is_empty() {
            // Not measured (bpftool missing): the header is all we know.
            return Ok(());
        }
        if h.program_types.iter().any(|t| t == program_type) {
            return Ok(());
        }
        Err(format!(
            "{helper} cannot be called from {program_type} programs on this kernel (measured by loading a probe program); it can be called from: {}",
            h.program_types.join(", ")
        ))
    }
}

/// Helper → program types that may call it, from the measured program type → helpers map.
fn helper_callers(by_type: &BTreeMap<String, Vec<String>>) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (program_type, helpers) in by_type {
        for h in helpers {
            out.entry(h.clone()).or_default().push(program_type.clone());
        }
    }
    out
}

fn helper_availability(
    by_type: &BTreeMap<String, Vec<String>>,
    program_types: &[String],
) -> (bool, String) {
    if by_type.is_empty() {
        return (
            true,
            "documented in the host's linux/bpf.h; which program types may call it was not measured (install bpftool: bash setup.sh)".to_owned(),
        );
    }
    if program_types.is_empty() {
        return (
            false,
            "documented in linux/bpf.h, but no program type may call it on this kernel (bpftool feature probe)".to_owned(),
        );
    }
    (
        true,
        format!(
            "callable from {} program types here (measured): {}",
            program_types.len(),
            program_types.join(", ")
        ),
    )
}

/// A curated entry the host has no list of (hooks, perf events, uprobes), available when its
/// measured family is; `None` for curated tracepoints or functions this kernel lacks.
fn curated_entry(host: &HostFacts, spec: &Spec) -> Option<CatalogEntry> {
    let kind = EntryKind::of_curated(&spec.name)?;
    let family = spec
        .family
        .as_deref()
        .and_then(|f| host.families.iter().find(|h| h.name == f));
    let (available, reason) = match family {
        Some(f) => (f.available, f.reason.clone()),
        None => (
            false,
            format!(
                "its attach family ({}) was not measured on this host",
                spec.family.as_deref().unwrap_or("unnamed")
            ),
        ),
    };
    Some(entry(
        kind,
        spec.name.clone(),
        String::new(),
        String::new(),
        available,
        reason,
    ))
}

/// What the kernel says of a tracepoint, for search: its own doc when the kernel comments the
/// event, and its system's subject ("Kernel memory allocators"). Only the subject of the
/// system's doc: every event of the system shares it, and the whole doc on each would make
/// them all look alike.
struct KernelWords {
    doc: Option<Cow<'static, str>>,
    subject: Option<&'static str>,
}

fn kernel_words(e: &CatalogEntry) -> Option<KernelWords> {
    if e.kind != EntryKind::Tracepoint {
        return None;
    }
    let (system, event) = e.name.strip_prefix("tracepoint:")?.split_once(':')?;
    let docs = TracepointDocs::shipped().ok()?;
    Some(KernelWords {
        doc: docs
            .event(system, event)
            .map(|d| Cow::Borrowed(d.doc.as_str()))
            .or_else(|| syscall_words(system, event).map(Cow::Owned)),
        subject: docs.system(system).map(|s| s.subject()),
    })
}

/// What the man page says of a syscall tracepoint (the kernel's headers say nothing of them):
/// "chmod(2) called: change permissions of a file" for `sys_enter_fchmodat`, "… returned" for
/// `sys_exit_*`.
fn syscall_words(system: &str, event: &str) -> Option<String> {
    if system != "syscalls" {
        return None;
    }
    let (when, call) = match event.strip_prefix("sys_enter_") {
        Some(call) => ("called", call),
        None => ("returned", event.strip_prefix("sys_exit_")?),
    };
    let page = super::syscall_man::SyscallMan::shipped().page_of(call)?;
    Some(format!(
        "{call} {when} ({}(2)): {}",
        page.page, page.summary
    ))
}

/// The meaning search reads: the curated summary, else the kernel's doc of the event itself,
/// else what the catalog calls a tracepoint nothing describes.
fn search_meaning<'a>(e: &'a CatalogEntry, kernel: Option<&KernelWords>) -> Cow<'a, str> {
    match kernel {
        Some(k) if !e.curated => k.doc.clone().map_or_else(
            || Cow::Owned(unnamed_tracepoint(&e.name)),
            |d| Cow::Owned(d.into_owned()),
        ),
        _ => Cow::Borrowed(&e.description),
    }
}

/// What BM25 indexes: the name twice (names are what people paste), the meaning, the
/// tracepoint's system subject and field names, and for curated entries how people ask and
/// what they replace.
fn bm25_text(e: &CatalogEntry) -> String {
    let kernel = kernel_words(e);
    let short: String = search_meaning(e, kernel.as_ref())
        .chars()
        .take(300)
        .collect();
    let mut text = format!("{} {} {}", e.name, e.name, short);
    if let Some(subject) = kernel.as_ref().and_then(|k| k.subject) {
        text.push(' ');
        text.push_str(subject);
    }
    if e.kind == EntryKind::Tracepoint {
        for field in e.signature.split("; ") {
            if let Some(name) = field.rsplit([' ', '*']).next() {
                text.push(' ');
                text.push_str(name.split('[').next().unwrap_or(name));
            }
        }
    }
    for s in e.people_say.iter().chain(&e.instead_of) {
        text.push(' ');
        text.push_str(s);
    }
    text
}

/// What the embedding model reads: kernel names split into words, a one-line meaning, a
/// tracepoint's system subject, and how people ask for it. Short on purpose: a forward pass
/// costs per token.
fn embedding_text(e: &CatalogEntry) -> String {
    let bare = e.name.split(':').skip(1).collect::<Vec<_>>().join(" ");
    let words = if bare.is_empty() {
        e.name.clone()
    } else {
        bare
    }
    .replace('_', " ");
    let kernel = kernel_words(e);
    let meaning: String = search_meaning(e, kernel.as_ref())
        .split(". ")
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    let mut text = format!("{words}: {meaning}");
    if let Some(subject) = kernel.as_ref().and_then(|k| k.subject) {
        text.push_str(if meaning.ends_with('.') { " " } else { ". " });
        text.push_str(subject);
    }
    if e.kind == EntryKind::Tracepoint && !e.curated {
        let fields: Vec<&str> = e
            .signature
            .split("; ")
            .filter_map(|f| f.rsplit([' ', '*']).next())
            .collect();
        text.push_str(&format!(". fields: {}", fields.join(" ").replace('_', " ")));
    }
    if !e.people_say.is_empty() {
        text.push_str(&format!(". {}", e.people_say.join("; ")));
    }
    text
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
        EntryKind::Hook | EntryKind::PerfEvent | EntryKind::Uprobe => 1.2,
        EntryKind::RawTracepoint | EntryKind::Helper => 1.0,
        EntryKind::KernelFunction => 0.8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracepoint(name: &str, description: &str) -> CatalogEntry {
        entry(
            EntryKind::Tracepoint,
            name.to_owned(),
            "unsigned long call_site; size_t bytes_req".to_owned(),
            description.to_owned(),
            true,
            String::new(),
        )
    }

    #[test]
    fn search_reads_the_kernels_words_and_the_subject_of_the_system() {
        let docs = TracepointDocs::shipped().expect("shipped docs");
        let slab = tracepoint(
            "tracepoint:kmem:kmem_cache_alloc",
            docs.describe("kmem", "kmem_cache_alloc")
                .unwrap_or_default(),
        );
        let text = embedding_text(&slab);
        assert!(
            text.starts_with("kmem kmem cache alloc: Slab allocation")
                && text.contains("Kernel memory allocators")
                && text.contains("fields: call site bytes req"),
            "{text}"
        );
        assert!(bm25_text(&slab).contains("Slab allocation"));
        // A syscall event, which the kernel does not comment: its name, its man page's words,
        // and its system's subject rather than the whole system doc every syscall shares.
        let openat = tracepoint(
            "tracepoint:syscalls:sys_enter_openat",
            docs.describe("syscalls", "sys_enter_openat")
                .unwrap_or_default(),
        );
        let text = embedding_text(&openat);
        assert!(
            text.starts_with(
                "syscalls sys enter openat: openat called (open(2)): open and possibly create a file. System calls. fields"
            ),
            "{text}"
        );
        assert!(!bm25_text(&openat).contains("return value"));
        // A curated summary wins over the kernel's words.
        let mut curated = tracepoint("tracepoint:kmem:kmalloc", "A kmalloc() call returned.");
        curated.curated = true;
        assert!(
            embedding_text(&curated).starts_with("kmem kmalloc: A kmalloc() call returned. Kernel"),
            "{}",
            embedding_text(&curated)
        );
    }
}
