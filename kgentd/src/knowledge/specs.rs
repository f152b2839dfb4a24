//! The specs DB: curated, human-written entries from `specs-db/attach-points.toml`, embedded at
//! build time. Each says what an attach point (or hook, perf event, helper) means, the facts
//! models get wrong, and which unavailable probes it replaces. The catalog merges them with
//! what the live host says; this module only parses and validates the file.
use crate::intent::Intent;
use serde::Deserialize;

/// The curated file, as shipped with this build of kgentd.
pub const CURATED: &str = include_str!("../../../specs-db/attach-points.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// How a program names it: `tracepoint:sock:inet_sock_set_state`, `kprobe:vfs_read`,
    /// `hook:xdp`, `profile:hz:99`, `bpf_ktime_get_ns`.
    pub name: String,
    pub summary: String,
    /// How users ask for it; feeds search only.
    #[serde(default)]
    pub people_say: Vec<String>,
    #[serde(default)]
    pub facts: Vec<String>,
    /// Probes people reach for that this entry replaces (`kprobe:tcp_connect`).
    #[serde(default)]
    pub instead_of: Vec<String>,
    /// For entries the host has no list of (hooks, perf events, uprobes): the measured attach
    /// family that decides whether it works here.
    #[serde(default)]
    pub family: Option<String>,
    /// A duration measured at this probe (the end of a span) from an earlier event with the
    /// same key: on-CPU time at `sched_switch`, a connection's lifetime at its close.
    #[serde(default)]
    pub span: Option<Span>,
    /// Other spans ending here, each from its own start event, chosen when a query reads
    /// that start event too (run-queue latency: sched_wakeup → sched_switch).
    #[serde(default)]
    pub spans_from: Vec<Span>,
    /// The event is about the task its `comm`/`pid` fields name, not the task it runs in
    /// (a migration runs in migration/N): kgent's query compiler reads `comm` from args.
    #[serde(default)]
    pub about_args_task: bool,
    /// Syscalls whose calls make this event fire (the kernel's call path reaches its
    /// `trace_*()` call): a program on it observes them.
    #[serde(default)]
    pub fired_by: Vec<String>,
    /// Where in the kernel source `fired_by` comes from.
    #[serde(default)]
    pub fired_by_source: Option<String>,
    /// What else makes the event fire, with its kernel source (a fatal signal ends a task at
    /// `sched_process_exit` without exit(2)): an answer about the `fired_by` calls as calls
    /// reports these too.
    #[serde(default)]
    pub also_fired_by: Option<String>,
}

pub use crate::query::Span;

/// The shipped specs file, parsed once (empty when it does not parse: the catalog reports
/// that error at start-up).
fn shipped() -> &'static SpecFile {
    static FILE: std::sync::LazyLock<SpecFile> = std::sync::LazyLock::new(|| {
        toml::from_str(CURATED).unwrap_or(SpecFile {
            spec: Vec::new(),
            codes: Vec::new(),
        })
    });
    &FILE
}

/// The spans of the shipped specs: (end probe, span).
pub fn spans() -> impl Iterator<Item = (&'static str, &'static Span)> {
    shipped().spec.iter().flat_map(|s| {
        s.span
            .iter()
            .chain(&s.spans_from)
            .map(move |sp| (s.name.as_str(), sp))
    })
}

/// The facts the query compiler takes from the specs DB (spans, events about another task).
pub fn query_facts() -> &'static crate::query::SpecFacts {
    static FACTS: std::sync::LazyLock<crate::query::SpecFacts> =
        std::sync::LazyLock::new(|| crate::query::SpecFacts {
            spans: spans().map(|(p, s)| (p.to_owned(), s.clone())).collect(),
            about_args_task: shipped()
                .spec
                .iter()
                .filter(|s| s.about_args_task)
                .map(|s| s.name.clone())
                .collect(),
            preferred: Vec::new(),
            field_kinds: super::field_names::shipped()
                .iter()
                .map(|f| (f.kind.clone(), f.names.clone()))
                .collect(),
            writes: super::syscall_man::SyscallMan::shipped().written_positions(),
        });
    &FACTS
}

/// The syscalls whose calls make `probe` (`tracepoint:signal:signal_generate`) fire, from the
/// kernel source (empty when the specs say nothing).
pub fn fired_by(probe: &str) -> &'static [String] {
    shipped()
        .spec
        .iter()
        .find(|s| s.name == probe)
        .map_or(&[], |s| s.fired_by.as_slice())
}

/// What else makes `probe` fire besides its `fired_by` calls, from the specs (`None` when they
/// name nothing else).
pub fn also_fired_by(probe: &str) -> Option<&'static str> {
    shipped()
        .spec
        .iter()
        .find(|s| s.name == probe)
        .and_then(|s| s.also_fired_by.as_deref())
}

/// The events a call of `syscall` makes fire besides its own tracepoints (`setitimer` →
/// `tracepoint:timer:itimer_state`), from the specs' `fired_by` (empty when they say nothing).
pub fn fired_events(syscall: &str) -> Vec<&'static str> {
    shipped()
        .spec
        .iter()
        .filter(|s| s.fired_by.iter().any(|c| c == syscall))
        .map(|s| s.name.as_str())
        .collect()
}

/// The span that ends at `probe`, if the specs define one.
pub fn span_ending_at(probe: &str) -> Option<&'static Span> {
    spans().find(|(p, _)| *p == probe).map(|(_, s)| s)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    spec: Vec<Spec>,
    #[serde(default)]
    codes: Vec<Codes>,
}

/// A field of several tracepoints whose value is a string of code letters (block's `rwbs`):
/// what each letter means, for the model and for deciding whether a request states a test.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Codes {
    pub field: String,
    /// Probes whose name starts with this carry the field with this meaning.
    pub probes: String,
    /// Letter → the word it stands for (`W` → `write`).
    pub letters: std::collections::BTreeMap<String, String>,
}

impl Codes {
    /// The letter whose word the request uses ("writes", "written" for `W` = write).
    pub fn stated(&self, letter: &str, intent: &Intent) -> bool {
        self.letters
            .get(letter)
            .is_some_and(|word| intent.uses_word(word))
    }

    /// One line for the prompt; its example is a letter the request states, if any.
    pub fn describe(&self, intent: &Intent) -> String {
        let letters: Vec<String> = self
            .letters
            .iter()
            .map(|(l, w)| format!("{l} {w}"))
            .collect();
        format!(
            "args->{} holds letters: {}; test one with contains(args->{}, \"{}\").",
            self.field,
            letters.join(", "),
            self.field,
            self.letters
                .keys()
                .find(|l| self.stated(l, intent))
                .or_else(|| self.letters.keys().next())
                .map_or("X", String::as_str)
        )
    }
}

/// The code-letter fields of the shipped specs.
pub fn codes() -> &'static [Codes] {
    &shipped().codes
}

/// Parses a specs file; names must be unique.
pub fn parse(text: &str) -> Result<Vec<Spec>, String> {
    let file: SpecFile = toml::from_str(text).map_err(|e| {
        format!(
            "specs-db/attach-points.toml: {} (fix the file and rebuild kgentd)",
            e.message()
        )
    })?;
    let mut seen = std::collections::HashSet::new();
    for s in &file.spec {
        if !seen.insert(s.name.as_str()) {
            return Err(format!(
                "specs-db/attach-points.toml: {} is specified twice; merge the entries",
                s.name
            ));
        }
    }
    Ok(file.spec)
}

/// The function a kprobe-like probe names: `kretprobe:vfs_read` → `vfs_read`; `None` for
/// anything that is not a kernel-function probe.
pub fn kernel_function(probe: &str) -> Option<&str> {
    let (prefix, name) = probe.split_once(':')?;
    matches!(
        prefix,
        "kprobe"
            | "kretprobe"
            | "k"
            | "kr"
            | "kfunc"
            | "kretfunc"
            | "fentry"
            | "fexit"
            | "f"
            | "fr"
    )
    .then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_parses_and_is_large_enough() {
        let specs = parse(CURATED).expect("curated specs");
        assert!(specs.len() >= 100, "{} curated entries", specs.len());
        assert!(specs.iter().all(|s| !s.summary.is_empty()));
    }

    #[test]
    fn spans_start_at_curated_probes_and_have_keys() {
        let specs = parse(CURATED).expect("curated specs");
        assert!(spans().count() >= 3);
        for (end, span) in spans() {
            for start in span.starts() {
                assert!(
                    specs.iter().any(|s| s.name == *start),
                    "{end}: start {start} is not a curated probe"
                );
            }
            let arity = |k: &str| k.split(',').count();
            assert_eq!(arity(&span.start_key), arity(&span.end_key), "{end}");
            if let Some(k) = &span.restart_key {
                assert_eq!(arity(k), arity(&span.start_key), "{end}");
                assert!(
                    span.restart_when.is_some(),
                    "{end}: a restart key needs its condition"
                );
            }
            assert!(!span.means.is_empty());
        }
        assert!(span_ending_at("tracepoint:sched:sched_switch").is_some());
    }

    #[test]
    fn code_letters_are_stated_by_their_words() {
        let rwbs = codes()
            .iter()
            .find(|c| c.field == "rwbs")
            .expect("rwbs codes");
        assert!(rwbs.stated("W", &Intent::read("total disk traffic that was written")));
        assert!(rwbs.stated("W", &Intent::read("bytes written per process")));
        assert!(!rwbs.stated("W", &Intent::read("bytes read per process")));
        assert!(!rwbs.stated("Q", &Intent::read("write")));
        let d = rwbs.describe(&Intent::read("bytes written"));
        assert!(
            d.contains("W write") && d.ends_with(r#"contains(args->rwbs, "W")."#),
            "{d}"
        );
    }

    #[test]
    fn rejects_duplicates_and_unknown_keys() {
        let dup =
            "[[spec]]\nname = \"a\"\nsummary = \"x\"\n[[spec]]\nname = \"a\"\nsummary = \"y\"\n";
        assert!(parse(dup).unwrap_err().contains("twice"));
        assert!(parse("[[spec]]\nname = \"a\"\nsummary = \"x\"\ncolour = 1\n").is_err());
    }

    #[test]
    fn names_the_function_of_kernel_probes() {
        assert_eq!(kernel_function("kretprobe:vfs_read"), Some("vfs_read"));
        assert_eq!(kernel_function("fentry:tcp_connect"), Some("tcp_connect"));
        assert_eq!(kernel_function("tracepoint:sched:sched_switch"), None);
    }
}
