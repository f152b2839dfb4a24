//! What kgent knows beyond the live kernel: the catalog of this host's attach points and
//! helpers enriched by the curated specs DB (`specs-db/`), example programs (kgent's curated
//! ones in `bpf/`, embedded at build time, and the host's installed bpftrace tools), and
//! retrieval over all of them.
//!
//! Retrieval is hybrid: BM25 over words, with the search vocabulary of `specs-db/intent.toml`
//! (read by `intent`) mapping how people speak ("deleted", "new process", "tcp connection")
//! onto kernel vocabulary (unlink, exec, inet_sock_set_state), fused with all-MiniLM-L6-v2 sentence embeddings once they are loaded
//! (`enable_embeddings`, run in the background at start-up; BM25 alone until then or when the
//! model is missing). Examples that use attach families this kernel lacks are never offered.
mod bm25;
pub mod catalog;
pub mod embedding;
pub mod field_names;
pub mod flags;
pub mod labels;
pub mod semantic;
pub mod specs;
mod specs_table;
pub mod subject;
pub mod subsystems;
pub mod syscall_man;
pub mod tracepoint_docs;
pub mod user_functions;
pub mod values;

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use include_dir::{include_dir, Dir};

use crate::host::{uprobe_targets, HostFacts, Tracepoint, UprobeTarget};
use crate::intent::Intent;
use crate::toolchain::bpftrace::probe_blocks;
use bm25::Index;
use catalog::EntryKind;
use embedding::Embedder;
use semantic::{Provenance, VectorIndex};

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
    /// The words of every attach point a program can use here (for the subject check).
    pub subject_index: subject::SubjectIndex,
    examples: Vec<Example>,
    example_index: Index,
    /// Sentence vectors of the example descriptions, once embeddings are enabled.
    example_vectors: OnceLock<VectorIndex>,
}

/// What enabling embeddings did, for the log and the benchmark.
#[derive(Debug, Clone)]
pub struct EmbeddingReport {
    pub texts: usize,
    pub provenance: Provenance,
    pub model_load: Duration,
    pub vectors: Duration,
}

#[derive(Debug, Clone)]
pub struct Grounding {
    pub tracepoints: Vec<Tracepoint>,
    pub examples: Vec<Example>,
    /// Binaries and libraries the request names, with their most relevant functions.
    pub uprobes: Vec<UprobeTarget>,
    /// Curated facts (specs DB) of the grounded tracepoints: probe name → what programs get
    /// wrong about it (byte order, IPv4/IPv6, where the return value is). For the prompt.
    pub facts: Vec<(String, Vec<String>)>,
    /// What the request is about, as this host's attach points see it (see [`subject`]); the
    /// tracepoint observing each best is among `tracepoints`.
    pub subjects: Vec<subject::Subject>,
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
        let catalog = catalog::Catalog::build(host);
        Self {
            subject_index: subject::SubjectIndex::build(&catalog),
            catalog,
            examples,
            example_index,
            example_vectors: OnceLock::new(),
        }
    }

    /// Loads the embedding model from `model_dir` and attaches vectors of the catalog and the
    /// examples (from `cache_dir` when computed before for this kernel and model). Takes tens
    /// of seconds the first time: run it off the serving path.
    pub fn enable_embeddings(
        &self,
        model_dir: &Path,
        cache_dir: &Path,
    ) -> Result<EmbeddingReport, String> {
        let started = Instant::now();
        let embedder = Arc::new(Embedder::load(model_dir)?);
        let model_load = started.elapsed();
        let started = Instant::now();
        let (entries, mut texts) = self.catalog.embedding_texts();
        let catalog_len = texts.len();
        texts.extend(self.examples.iter().map(|e| e.description.clone()));
        let (mut vectors, provenance) = semantic::load_or_embed(&embedder, &texts, cache_dir)?;
        let example_vectors = vectors.split_off(catalog_len);
        self.catalog.attach_embeddings(embedder, entries, vectors)?;
        let _ = self.example_vectors.set(example_vectors);
        Ok(EmbeddingReport {
            texts: texts.len(),
            provenance,
            model_load,
            vectors: started.elapsed(),
        })
    }

    /// What the request is about, as this host's attach points see it (see [`subject`]).
    pub fn subjects(&self, intent: &Intent) -> Vec<subject::Subject> {
        let mut subjects = self.subject_index.subjects(&self.catalog, intent);
        subjects.extend(self.subject_index.spelled(intent));
        subjects
    }

    pub fn example_count(&self) -> usize {
        self.examples.len()
    }

    /// The tracepoints and examples most relevant to the request.
    pub fn ground(&self, host: &HostFacts, intent: &Intent, n_tp: usize, n_ex: usize) -> Grounding {
        let request = intent.text();
        let examples: Vec<Example> = self
            .rank_examples(intent, n_ex)
            .into_iter()
            .map(|i| self.examples[i].clone())
            .collect();
        // Syscalls the request names come first, with their enter/exit pairs and variants
        // (`chmod` → fchmod, fchmodat, fchmodat2): the user said which call they mean.
        let mut named = named_syscall_tracepoints(host, intent);
        // A request about system calls in general (naming none) is about all of them: the
        // tracepoints that fire for every one come first.
        if named.is_empty() && intent.asks(crate::intent::Concept::AllSyscalls) {
            named = ["raw_syscalls:sys_exit", "raw_syscalls:sys_enter"]
                .into_iter()
                .filter(|t| host.tracepoints.contains_key(*t))
                .map(str::to_owned)
                .collect();
        }
        // The events where a constant the request names is documented (`SCHED_FIFO` is a
        // `policy` of sched_setscheduler, `O_NONBLOCK` a bit of pipe2's `flags`): the
        // constant says which call carries it (specs-db/values.toml, flags.toml).
        for t in constant_tracepoints(intent) {
            if host.tracepoints.contains_key(&t) && !named.contains(&t) {
                named.push(t);
            }
        }
        // Then the tracepoints the retrieved examples use: they are known to fit the need.
        let mut names: Vec<String> = named.clone();
        for e in &examples {
            for b in probe_blocks(&e.source) {
                for p in b.probes.iter().filter(|p| p.is_tracepoint()) {
                    if host.tracepoints.contains_key(&p.target) && !names.contains(&p.target) {
                        names.push(p.target.clone());
                    }
                }
            }
        }
        for (e, _) in self
            .catalog
            .search_where(request, n_tp * 2, |e| e.kind == EntryKind::Tracepoint)
        {
            let name = e.name.trim_start_matches("tracepoint:");
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
            // A syscall's enter and exit belong together (arguments vs. return value).
            if let Some(pair) = syscall_pair(name) {
                if host.tracepoints.contains_key(&pair) && !names.contains(&pair) {
                    names.push(pair);
                }
            }
        }
        // Named syscalls are a strong signal: they take the place of searched tracepoints
        // (each costs the model ~1 s of reading), down to half of them.
        let searched = n_tp.max(1).saturating_sub(named.len()).max(n_tp / 2);
        names.truncate(named.len() + searched + examples.len());
        let uprobes = if host.family_of("uprobe").is_some_and(|f| f.available) {
            let mut binaries = intent.binary_words.clone();
            if !binaries.iter().any(|b| b == "libc")
                && libc_functions_named(host, intent)
                    .iter()
                    .any(|f| self.names_a_function(intent, f))
            {
                binaries.push("libc".to_owned());
            }
            uprobe_targets(&binaries, &intent.symbol_words, 12)
        } else {
            Vec::new()
        };
        let mut tracepoints: Vec<Tracepoint> = names
            .iter()
            .filter_map(|n| host.tracepoints.get(n).cloned())
            .collect();
        // Each subject's best tracepoint is offered, when none of its two best is already: the
        // drafts' grammar admits only grounded probes.
        let subjects = self.subjects(intent);
        for s in &subjects {
            let grounded = |p: &String| tracepoints.iter().any(|t| t.probe() == *p);
            if s.probes.iter().take(2).any(grounded) {
                continue;
            }
            let best = s
                .probes
                .iter()
                .filter_map(|p| p.strip_prefix("tracepoint:"))
                .find_map(|t| host.tracepoints.get(t));
            if let Some(tp) = best {
                tracepoints.push(tp.clone());
            }
        }
        // A subject whose best probe is a function of a binary (a shell's `readline`) brings
        // that binary and function into the offered uprobes, when the request did not name
        // the binary as one: the drafts' grammar admits only grounded probes.
        let mut uprobes = uprobes;
        if host.family_of("uprobe").is_some_and(|f| f.available) {
            for s in &subjects {
                let Some((path, function)) = s
                    .probes
                    .first()
                    .and_then(|p| p.strip_prefix("uprobe:"))
                    .and_then(|p| p.rsplit_once(':'))
                else {
                    continue;
                };
                if uprobes
                    .iter()
                    .any(|t| crate::host::same_file(&t.path, std::path::Path::new(path)))
                {
                    continue;
                }
                let mut words = vec![function.to_ascii_lowercase()];
                words.extend(intent.symbol_words.iter().cloned());
                uprobes.extend(uprobe_targets(&[path.to_owned()], &words, 12));
            }
        }
        let mut subjects = subjects;
        let functions = self.function_subjects(host, intent, &uprobes);
        if !functions.is_empty() {
            // A library's name is then said by its functions ("libc's getaddrinfo").
            subjects.retain(|s| {
                !s.words
                    .iter()
                    .all(|(w, _)| intent.binary_words.contains(&w.word))
            });
        }
        subjects.extend(functions);
        let facts = tracepoints
            .iter()
            .filter_map(|tp| {
                let mut facts = self
                    .catalog
                    .get(&tp.probe())
                    .map(|e| e.facts.clone())
                    .unwrap_or_default();
                facts.extend(parameters_named(tp, intent));
                (!facts.is_empty()).then(|| (tp.probe(), facts))
            })
            .collect();
        Grounding {
            uprobes,
            tracepoints,
            examples,
            facts,
            subjects,
        }
    }

    /// Whether a request word that is a function symbol names that function: written as a
    /// call (`system()`) or an identifier, or a word no tracepoint's description uses, i.e.
    /// not an everyday word of the kernel's prose (`getaddrinfo`, `malloc`; not `signal`,
    /// `error` or `system`, which are also functions of libc).
    fn names_a_function(&self, intent: &Intent, word: &str) -> bool {
        intent.calls.iter().any(|c| c == word)
            || intent.identifiers.iter().any(|c| c == word)
            || !self.subject_index.in_tracepoint_prose(word)
    }

    /// The functions of a binary or library the request names (`getaddrinfo` of libc,
    /// `SSL_write` of libssl): the request's calls, identifiers and call-like words that are
    /// function symbols of a grounded uprobe target, name a function
    /// ([`Self::names_a_function`]) and are not syscalls here. Each is a subject only a uprobe
    /// on that function covers: no tracepoint observes a library's function, and a syscall
    /// tracepoint beside it sees every caller of the kernel, not the library call.
    fn function_subjects(
        &self,
        host: &HostFacts,
        intent: &Intent,
        uprobes: &[UprobeTarget],
    ) -> Vec<subject::Subject> {
        let words: Vec<&String> = intent
            .calls
            .iter()
            .chain(&intent.identifiers)
            .chain(&intent.syscall_words)
            .collect();
        let mut out: Vec<subject::Subject> = Vec::new();
        for t in uprobes {
            for symbol in &t.symbols {
                let lower = symbol.to_ascii_lowercase();
                if lower.len() < 4
                    || !words.iter().any(|w| **w == lower)
                    || !syscall_variants(host, &lower).is_empty()
                    || !self.names_a_function(intent, &lower)
                    || out.iter().any(|s| s.phrase() == lower)
                {
                    continue;
                }
                let word = crate::intent::SubjectWord {
                    word: lower.clone(),
                    kernel: vec![lower],
                    phrase: usize::MAX - out.len(),
                };
                out.push(subject::Subject {
                    words: vec![(word, 1.0)],
                    df: vec![0],
                    near: vec![true],
                    system: vec![false],
                    probes: vec![format!("uprobe:{}:{symbol}", t.path.display())],
                    best: 1.0,
                    spelled: false,
                });
            }
        }
        out
    }

    /// Real tracepoints closest to `wanted` (for "did you mean" diagnostics): first those the
    /// specs DB names as replacing a kernel function of that name, then by search.
    pub fn nearest_tracepoints(&self, wanted: &str, n: usize) -> Vec<String> {
        let function = wanted.rsplit(':').next().unwrap_or(wanted);
        let mut out: Vec<String> = self
            .catalog
            .replacements(&format!("kprobe:{function}"))
            .into_iter()
            .filter(|e| e.kind == EntryKind::Tracepoint)
            .map(|e| e.name.trim_start_matches("tracepoint:").to_owned())
            .collect();
        let query = wanted.replace([':', '_'], " ");
        for (e, _) in self
            .catalog
            .search_where(&query, n * 2, |e| e.kind == EntryKind::Tracepoint)
        {
            let name = e.name.trim_start_matches("tracepoint:").to_owned();
            if !out.contains(&name) {
                out.push(name);
            }
        }
        out.truncate(n);
        out
    }

    /// "use X instead" for a probe this kernel cannot attach: the tracepoints nearest to it, the
    /// first with what it carries when the specs DB knows it
    /// ("tracepoint:sock:inet_sock_set_state carries …; also near: …").
    pub fn alternatives_hint(&self, target: &str, n: usize) -> String {
        let near = self.nearest_tracepoints(target, n);
        let Some((first, rest)) = near.split_first() else {
            return "no tracepoint near it on this kernel".to_owned();
        };
        let carries = self
            .catalog
            .get(&format!("tracepoint:{first}"))
            .filter(|e| e.curated)
            .map(|e| {
                let fields: Vec<&str> = e
                    .signature
                    .split("; ")
                    .filter_map(|f| f.rsplit([' ', '*']).next())
                    .map(|f| f.split('[').next().unwrap_or(f))
                    .collect();
                format!(
                    " carries it: {} (fields: {})",
                    e.description,
                    fields.join(", ")
                )
            })
            .unwrap_or_default();
        let mut hint = format!("use tracepoint:{first}{carries}");
        if !rest.is_empty() {
            let rest: Vec<String> = rest.iter().map(|t| format!("tracepoint:{t}")).collect();
            hint.push_str(&format!("; also near: {}", rest.join(", ")));
        }
        hint
    }

    /// Examples for a request, best first: BM25 fused with embeddings when they are loaded.
    fn rank_examples(&self, intent: &Intent, n: usize) -> Vec<usize> {
        let request = intent.text();
        let lexical: Vec<usize> = self
            .example_index
            .search(&intent.search_text, n.max(10))
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        let semantic: Vec<usize> = match (self.example_vectors.get(), self.catalog.embedder()) {
            (Some(v), Some(embedder)) => match embedder.embed_query(request) {
                Ok(q) => v.top(&q, n.max(10)).into_iter().map(|(i, _)| i).collect(),
                Err(e) => {
                    tracing::warn!("example search falls back to BM25: {e}");
                    Vec::new()
                }
            },
            _ => Vec::new(),
        };
        let mut fused: Vec<(usize, f32)> = Vec::new();
        for list in [&lexical, &semantic] {
            for (rank, &i) in list.iter().enumerate() {
                let score = 1.0 / (60.0 + rank as f32 + 1.0);
                match fused.iter_mut().find(|(j, _)| *j == i) {
                    Some(slot) => slot.1 += score,
                    None => fused.push((i, score)),
                }
            }
        }
        fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        fused.into_iter().take(n).map(|(i, _)| i).collect()
    }
}

/// Functions of this host's C library the request names that are no syscall here: words
/// written as calls, identifiers, and words no English word has (`malloc`, `getaddrinfo`,
/// `pthread_mutex_lock`), found in libc's own symbol table (read once per process). A request
/// naming one is about that library even when it does not say "libc".
pub fn libc_functions_named(host: &HostFacts, intent: &Intent) -> Vec<String> {
    static LIBC: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        crate::host::resolve_binary("libc")
            .and_then(|p| crate::host::uprobe_symbols(&p).ok())
            .unwrap_or_default()
    });
    let mut words: Vec<&String> = intent.calls.iter().chain(&intent.identifiers).collect();
    words.extend(intent.syscall_words.iter());
    let mut out: Vec<String> = Vec::new();
    for w in words {
        if w.len() >= 4
            && LIBC.binary_search(w).is_ok()
            && syscall_variants(host, w).is_empty()
            && !out.contains(w)
        {
            out.push(w.clone());
        }
    }
    out
}

/// The value of a constant `specs-db/values.toml` or `flags.toml` documents (`SOCK_RAW` is 3),
/// or else this host's C headers define (`POSIX_FADV_DONTNEED` is 4: [`crate::host::constants`]).
pub fn constant_value(name: &str) -> Option<i64> {
    values::shipped()
        .iter()
        .find(|v| v.name == name)
        .map(|v| v.value)
        .or_else(|| {
            flags::shipped()
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.mask)
        })
        .or_else(|| crate::host::constants::value(name))
}

/// Whether `specs-db/` documents the constant `name` (a value of `values.toml`, a flag of
/// `flags.toml`), with the field and events that hold it.
pub fn documents_constant(name: &str) -> bool {
    values::shipped().iter().any(|v| v.name == name)
        || flags::shipped().iter().any(|f| f.name == name)
}

/// The `syscalls:` tracepoints of the syscalls the request names, enter before exit, in the
/// order the request names them ([`Intent::syscall_words`] that are syscalls here). Each named
/// syscall brings its variants that exist here ([`syscall_variants`]: `rename` → renameat,
/// renameat2; `stat` → newstat, newfstatat, …).
/// The tracepoints (`syscalls:sys_enter_sched_setscheduler`) whose fields hold a constant the
/// request names as C writes it, a value of `specs-db/values.toml` or a flag of `flags.toml`.
pub fn constant_tracepoints(intent: &Intent) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in &intent.constants {
        let values = values::shipped()
            .iter()
            .filter(|v| v.name == *c)
            .flat_map(|v| v.probes.iter());
        let flags = flags::shipped()
            .iter()
            .filter(|f| f.name == *c)
            .flat_map(|f| f.probes.iter());
        for p in values.chain(flags) {
            if !out.contains(p) {
                out.push(p.clone());
            }
        }
    }
    out
}

pub fn named_syscall_tracepoints(host: &HostFacts, intent: &Intent) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in named_syscalls(host, intent) {
        for dir in ["enter", "exit"] {
            let tp = format!("syscalls:sys_{dir}_{v}");
            if host.tracepoints.contains_key(&tp) && !out.contains(&tp) {
                out.push(tp);
            }
        }
    }
    out.truncate(12);
    out
}

/// The syscalls the request mentions, narrowly: each syscall word, call or plain word of the
/// request ("for kill and tgkill": `kill`, an English word) that is a syscall here, with those
/// of its variants ([`syscall_variants`]) that spell it out (`mkdirat`, `newfstatat`,
/// `accept4`) or share its kernel implementation (fork, clone). Not the other calls of its
/// man page: "with fchdir" does not mention `chdir`.
pub fn mentioned_syscalls(host: &HostFacts, intent: &Intent) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let words = intent
        .syscall_names()
        .chain(&intent.calls)
        .map(String::as_str)
        .chain(intent.words());
    for w in words {
        let family = ONE_IMPLEMENTATION.iter().find(|f| f.contains(&w));
        for v in syscall_variants(host, w) {
            let narrow = v.contains(w) || family.is_some_and(|f| f.contains(&v.as_str()));
            if narrow && !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

/// The syscalls the request names, each with its variants here ([`syscall_variants`]), in the
/// order it names them: the calls written as calls and the syscall words of the request.
pub fn named_syscalls(host: &HostFacts, intent: &Intent) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in intent.syscall_names().chain(&intent.calls) {
        for v in syscall_variants(host, w) {
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

/// Syscalls that are one kernel implementation under several entry points: fork, vfork,
/// clone and clone3 all create a task through kernel_clone() (kernel/fork.c), and glibc's
/// fork() and pthread_create() use clone/clone3, not fork.
const ONE_IMPLEMENTATION: &[&[&str]] = &[&["fork", "vfork", "clone", "clone3"]];

/// The syscalls with an enter tracepoint here that a program meaning `name` may have to trace,
/// in the kernel's spelling, `name`'s own first: the calls its man page documents with it whose
/// names extend it (`chmod` → fchmod, fchmodat; [`syscall_man`]), their `*at2` extensions and the
/// `*at`, numbered (`*2`, `*3`, `*4`: newer versions) and `*64` spellings of `name`
/// (syscalls(2)), and the entry points of one kernel
/// implementation. `fsync` is not a variant of `sync`: its page is another. Empty when `name`
/// is no syscall here.
pub fn syscall_variants(host: &HostFacts, name: &str) -> Vec<String> {
    let exists = |n: &str| {
        host.tracepoints
            .contains_key(&format!("syscalls:sys_enter_{n}"))
    };
    let page = syscall_man::SyscallMan::shipped().page_of(name);
    let mut names: Vec<String> = vec![name.to_owned()];
    // syscalls(2), "System call list": a newer version of a call that adds a flags argument
    // carries a number (eventfd2, pipe2, dup3, epoll_create1, inotify_init1, signalfd4,
    // umount2, accept4, clone3), and "the glibc wrapper functions hide these details from the
    // user, invoking the most recent version of the system call provided by the kernel":
    // `eventfd()` in a program is eventfd2 on this kernel.
    for suffix in ["at", "at2", "1", "2", "3", "4", "64"] {
        names.push(format!("{name}{suffix}"));
    }
    // A page may also document the opposite operation (pread, pwrite; mmap, munmap; getpid,
    // getppid): only the calls whose name extends the asked one, or that perform the same
    // operation (`lstat` and `fstatat` are both `stat`), are the same call.
    let spellings = syscall_man::man_spellings(name);
    let same_operation = |n: &String| {
        spellings.iter().any(|s| n.contains(s))
            || page.is_some_and(|p| {
                spellings
                    .iter()
                    .any(|s| p.names.iter().any(|m| m == s) && p.operation(s) == p.operation(n))
            })
    };
    // A numbered newer version named as such (renameat2, dup3, accept4) is not its older
    // versions, which lack the argument it adds (syscalls(2)): "renameat2 calls" are not
    // rename's. The older ones still bring the newer (rename → renameat2, above).
    let base = |c: &str| {
        c.trim_end_matches(|ch: char| ch.is_ascii_digit())
            .to_owned()
    };
    let older_than_name = |n: &String| {
        name.ends_with(|ch: char| ch.is_ascii_digit())
            && n != name
            && (base(n) == base(name) || base(name).strip_suffix("at") == Some(n.as_str()))
    };
    for n in page
        .iter()
        .flat_map(|p| &p.names)
        .filter(|n| same_operation(n) && !older_than_name(n))
    {
        names.push(n.clone());
        if n.ends_with("at") {
            names.push(format!("{n}2"));
        }
    }
    for family in ONE_IMPLEMENTATION.iter().filter(|f| f.contains(&name)) {
        names.extend(family.iter().map(|s| (*s).to_owned()));
    }
    let mut out: Vec<String> = Vec::new();
    for n in &names {
        for k in syscall_man::kernel_spellings(n) {
            if exists(&k) && !out.contains(&k) {
                out.push(k);
            }
        }
    }
    // A numbered call with no tracepoint of its own is the kernel's entry point of its base
    // name: x86-64's syscall table (arch/x86/entry/syscalls/syscall_64.tbl) lists
    // `166 umount2 sys_umount`, whose SYSCALL_DEFINE2(umount, name, flags) takes umount2(2)'s
    // flags: "umount2 calls" are sys_enter_umount's.
    let numbered = name.ends_with(|ch: char| ch.is_ascii_digit());
    if numbered
        && !syscall_man::kernel_spellings(name)
            .iter()
            .any(|k| exists(k))
    {
        let b = base(name);
        if exists(&b) && !out.contains(&b) {
            out.push(b);
        }
    }
    // `name` must itself be a syscall here, in some spelling, or a call the man pages document
    // that this architecture makes through others: one a section-2 page lists beside the
    // syscalls that stand for it (recv → recvfrom, recvmsg), or one the C library performs
    // through another syscall (`specs-db/libc-calls.toml`: exec → execve, wait → wait4).
    let own = syscall_man::kernel_spellings(name);
    let is_syscall = out.iter().any(|v| own.contains(v));
    let documented = page.is_some_and(|p| p.names.iter().any(|n| n == name));
    if !is_syscall && !documented {
        out.clear();
    }
    for target in syscall_man::library_syscalls(name) {
        for v in syscall_variants(host, target) {
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
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

/// For a syscall tracepoint, the request's words that its man page calls a parameter the kernel
/// names otherwise, told as a fact: "mount(2)'s source is args->dev_name" (the model reads
/// the tracefs names and the request the page's).
fn parameters_named(tp: &Tracepoint, intent: &Intent) -> Option<String> {
    let call = tp.event.strip_prefix("sys_enter_")?;
    let said: Vec<String> = syscall_man::SyscallMan::shipped()
        .event_parameters(&tp.event, tp.fields.iter().map(|f| f.name.as_str()))
        .into_iter()
        .filter(|(param, field)| param != field && intent.value_words.contains(param))
        .map(|(param, field)| format!("{param} is args->{field}"))
        .collect();
    (!said.is_empty()).then(|| format!("{call}(2)'s {}", said.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_the_request_names_by_its_man_page_name_is_told_as_a_fact() {
        let field = |ctype: &str, name: &str| crate::host::Field {
            ctype: ctype.into(),
            name: name.into(),
            ..Default::default()
        };
        let tp = Tracepoint {
            subsystem: "syscalls".into(),
            event: "sys_enter_mount".into(),
            fields: vec![
                field("int", "__syscall_nr"),
                field("char *", "dev_name"),
                field("char *", "dir_name"),
                field("char *", "type"),
                field("unsigned long", "flags"),
                field("void *", "data"),
            ],
        };
        let fact = parameters_named(
            &tp,
            &Intent::read("print the source device and target directory of each mount"),
        );
        assert_eq!(
            fact.as_deref(),
            Some("mount(2)'s source is args->dev_name, target is args->dir_name")
        );
        // Words the page does not use as parameters, or ones the fields already spell: nothing.
        assert_eq!(
            parameters_named(&tp, &Intent::read("mounts with their flags")),
            None
        );
    }

    #[test]
    fn syscalls_written_as_calls_are_grounded_with_their_variants() {
        let h = HostFacts::for_tests_with_syscalls(&[
            "fsync",
            "fdatasync",
            "chmod",
            "fchmod",
            "fchmodat",
            "fchmodat2",
            "open",
            "openat",
            "openat2",
            "time",
            "read",
            "getdents",
            "getdents64",
            "rename",
        ]);
        let named = |r: &str| named_syscall_tracepoints(&h, &Intent::read(r));
        assert_eq!(
            named("how long do fsync() and fdatasync() take"),
            [
                "syscalls:sys_enter_fsync",
                "syscalls:sys_exit_fsync",
                "syscalls:sys_enter_fdatasync",
                "syscalls:sys_exit_fdatasync"
            ]
        );
        assert_eq!(named("who calls chmod(2)?").len(), 8);
        assert_eq!(named("an open/openat call that fails").len(), 6);
        assert_eq!(named("latency of getdents/getdents64 syscalls").len(), 4);
        // Everyday words are not syscalls unless written as calls.
        assert!(named("print the time when a file is read").is_empty());
        // Right before "call(s)", an everyday word names the call.
        assert_eq!(named("the time each read call takes").len(), 2);
        assert!(named("the time each read of a file takes").is_empty());
        assert_eq!(named("bytes each read() call returned").len(), 2);
        // Kernel jargon needs no parentheses.
        assert_eq!(named("fdatasync latency").len(), 2);
        assert!(named("an open or read of a file").is_empty());
        assert!(named("processes that rename themselves").is_empty());
        assert_eq!(named("every rename() call").len(), 2);
    }

    #[test]
    fn a_call_mentions_the_variants_that_spell_it_out_not_its_page_mates() {
        let h = HostFacts::for_tests_with_syscalls(&[
            "chdir", "fchdir", "mkdir", "mkdirat", "fork", "clone", "clone3", "kill", "tgkill",
        ]);
        let mentioned = |r: &str| mentioned_syscalls(&h, &Intent::read(r));
        assert_eq!(mentioned("directory changes made with fchdir"), ["fchdir"]);
        assert_eq!(
            mentioned("directory changes made with chdir()")[..2],
            ["chdir", "fchdir"]
        );
        assert_eq!(mentioned("each mkdir() call"), ["mkdir", "mkdirat"]);
        assert!(mentioned("each fork() call").contains(&"clone3".to_owned()));
        // An English word is a mention too.
        assert_eq!(
            mentioned("signals sent by kill and tgkill"),
            ["tgkill", "kill"]
        );
    }

    #[test]
    fn functions_of_the_c_library_are_found_in_its_symbol_table() {
        let h = HostFacts::for_tests_with_syscalls(&["read", "nanosleep", "clock_nanosleep"]);
        let named = |r: &str| libc_functions_named(&h, &Intent::read(r));
        assert_eq!(
            named("how big are the malloc requests of each process"),
            ["malloc"]
        );
        assert_eq!(named("time every getaddrinfo() lookup"), ["getaddrinfo"]);
        assert_eq!(
            named("who holds pthread_mutex_lock longest"),
            ["pthread_mutex_lock"]
        );
        // Syscalls, and calls the library makes through them, are not library functions here.
        assert!(named("processes that read() files").is_empty());
        assert!(named("programs calling sleep() often").is_empty());
        assert!(named("count the frobnicate_widget calls").is_empty());
    }

    #[test]
    fn variants_follow_the_man_pages_and_the_kernels_spelling() {
        let h = HostFacts::for_tests_with_syscalls(&[
            "sync",
            "syncfs",
            "fsync",
            "newstat",
            "newfstatat",
            "newlstat",
            "statx",
            "pread64",
            "pwrite64",
            "clone",
            "clone3",
            "fork",
            "vfork",
            "execve",
            "execveat",
            "recvfrom",
            "recvmsg",
            "waitid",
            "wait4",
            "exit",
            "exit_group",
            "process_vm_readv",
            "rename",
            "renameat",
            "renameat2",
            "dup",
            "dup2",
            "dup3",
            "umount",
        ]);
        let v = |n: &str| syscall_variants(&h, n);
        // A numbered call with no tracepoint of its own is its base's entry point here
        // (x86-64: umount2 is sys_umount); one that has its own keeps only that.
        assert_eq!(v("umount2"), ["umount"]);
        // A numbered newer version is not its older ones (syscalls(2)); the older bring it.
        assert_eq!(v("renameat2"), ["renameat2"]);
        assert!(
            v("rename").contains(&"renameat2".to_owned()),
            "{:?}",
            v("rename")
        );
        assert!(!v("dup3").contains(&"dup2".to_owned()), "{:?}", v("dup3"));
        // sync(2) documents sync and syncfs; fsync has its own page: not a way to call sync.
        assert_eq!(v("sync"), ["sync", "syncfs"]);
        assert_eq!(v("fsync"), ["fsync"]);
        // stat's page names stat, fstat, lstat, fstatat: here newstat, newlstat, newfstatat.
        let stat = v("stat");
        assert_eq!(stat[0], "newstat", "{stat:?}");
        assert!(stat.contains(&"newfstatat".to_owned()) && stat.contains(&"newlstat".to_owned()));
        assert!(
            !stat.contains(&"statx".to_owned()),
            "statx has its own page"
        );
        // lstat is stat of the link itself; glibc makes it through fstatat.
        assert!(
            v("lstat").contains(&"newfstatat".to_owned()),
            "{:?}",
            v("lstat")
        );
        // pread's page also documents pwrite: another operation.
        assert_eq!(v("pread"), ["pread64"]);
        assert_eq!(v("fork"), ["fork", "vfork", "clone", "clone3"]);
        assert!(v("frobnicate").is_empty());
        // Calls that are no syscall here: the man pages say which syscalls make them.
        assert_eq!(v("exec"), ["execve", "execveat"]);
        assert_eq!(v("recv"), ["recvfrom", "recvmsg"]);
        assert_eq!(v("wait"), ["wait4", "waitid"]);
        assert_eq!(v("waitpid"), ["wait4"]);
        assert_eq!(v("exit"), ["exit", "exit_group"]);
        // A word that merely begins a syscall's name is none: "process" is not process_vm_readv.
        assert!(v("process").is_empty());
        assert!(v("exe").is_empty());
    }
}
