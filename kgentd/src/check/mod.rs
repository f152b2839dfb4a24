//! Checks of a candidate program against this host. Each check has a name, a verdict and either
//! evidence (on success) or a condensed diagnostic (on failure), so "verified" always names what
//! was checked.
//!
//! - `host-attach-points`: every probe's attach family works on this kernel, every tracepoint
//!   exists, every `args` field belongs to its tracepoint; failures name the nearest real
//!   alternatives. Pure lookups in the host catalog, no kernel calls.
//! - `bpftrace-load`: the host's bpftrace parses and type-checks the script, the kernel verifier
//!   accepts every program and every probe attaches. bpftrace's warnings (a signed/unsigned
//!   comparison, a signed division) are reported with a pass: bpftrace loads what it warns about.
//! - `request-coverage`: what the request explicitly asks to see (the process name, a duration,
//!   a histogram, the return value, a syscall it names as a call…) is computed by the program
//!   (see `coverage`), and no pointer is shown as a number (see `addresses`). Static, before
//!   anything is loaded.
//! - `request-subject`: the program's probes observe what the request is about (each of its
//!   subjects, as this host's attach points speak of them), not a neighbouring event; failures
//!   name the attach points that do (see `subject`). Static, before anything is loaded.
//! - `smoke-run`: the program runs while a harmless trigger workload provokes common events, and
//!   its output must show what the request asks to observe (see `smoke`).
//! - `symbolic`: z3 judges the contracts the request implies for the program (see
//!   [`crate::symbolic`]): proved, refuted (a failure, with a counterexample), or inconclusive
//!   (unknown, or no contract applies), which is never shown as a pass.
//! - `clang-compile` and `verifier-load` for C programs: see [`c_program`].
//! - `program-policy`: what the caller's role lets a program do (see [`crate::policy`]); a
//!   refused bpftrace candidate is never loaded or smoke-run, a refused C object never loaded.
mod addresses;
pub mod c_program;
mod coverage;
mod labels;
pub mod provoked;
mod shown;
mod smoke;
pub mod subject;
mod symbolic;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::host::{resolve_binary, uprobe_symbols, HostFacts};
use crate::knowledge::Knowledge;
use crate::toolchain::bpftrace::{args_fields, check_load, probe_blocks, LoadVerdict};

pub use coverage::{
    check_coverage, creates_processes_only, droppable_keys, keeps_positive_result,
    without_parent_name, KeyDrop,
};
pub use provoked::Provoked;
pub use smoke::{
    bypassed_entry_points, check_smoke_run, expectation, fired_only_by_others, judge,
    measure_provoked, not_exercised, passed_over_best, workload_fingerprint, BestMatch,
    Expectation, Observation,
};
pub use symbolic::{check_symbolic, symbolic_not_read};

/// Which check ran. Its name is what users, the transcript and the model see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckKind {
    HostAttachPoints,
    RequestCoverage,
    RequestSubject,
    BpftraceLoad,
    SmokeRun,
    ClangCompile,
    VerifierLoad,
    Symbolic,
    Policy,
}

impl CheckKind {
    pub const fn name(self) -> &'static str {
        match self {
            CheckKind::HostAttachPoints => "host-attach-points",
            CheckKind::RequestCoverage => "request-coverage",
            CheckKind::RequestSubject => "request-subject",
            CheckKind::BpftraceLoad => "bpftrace-load",
            CheckKind::SmokeRun => "smoke-run",
            CheckKind::ClangCompile => "clang-compile",
            CheckKind::VerifierLoad => "verifier-load",
            CheckKind::Symbolic => "symbolic",
            CheckKind::Policy => "program-policy",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// Neither established nor refuted (a solver timeout, nothing to judge): not a pass, and
    /// no reason to reject the candidate.
    Inconclusive,
}

/// What a check established (on a pass) or found wrong (on a fail).
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    /// The program's attach points, each resolved on this host.
    Resolved(Vec<String>),
    /// What the request asks the program to report, all provided (none: nothing specific).
    Provides(Vec<&'static str>),
    /// What the request is about, each covered by a probe of the program (none: the request
    /// names nothing this host's attach points single out).
    Subjects(Vec<String>),
    /// What a tool reported: bpftrace, clang, the verifier, the smoke run's observation.
    Report(String),
    /// What is wrong, one item each, with the fix.
    Problems(Vec<String>),
    /// Each contract the symbolic verifier judged, with its verdict (and counterexample).
    Contracts(Vec<String>),
}

impl Evidence {
    /// The evidence in words, as the client, the transcript and the model see it.
    pub fn render(&self) -> String {
        match self {
            Evidence::Resolved(probes) => format!("resolved on this host: {}", probes.join(", ")),
            Evidence::Provides(what) if what.is_empty() => {
                "the program provides what the request asks for: nothing specific".to_owned()
            }
            Evidence::Provides(what) => format!(
                "the program provides what the request asks for: {}",
                what.join(", ")
            ),
            Evidence::Subjects(what) if what.is_empty() => {
                "the request names nothing this host's attach points single out".to_owned()
            }
            Evidence::Subjects(what) => format!(
                "the program's probes observe what the request is about: {}",
                what.join(", ")
            ),
            Evidence::Report(text) => text.clone(),
            Evidence::Problems(p) => p.join("\n"),
            Evidence::Contracts(c) => c.join("\n"),
        }
    }
}

/// One check of one candidate.
#[derive(Debug, Clone)]
pub struct Check {
    pub kind: CheckKind,
    pub verdict: Verdict,
    pub evidence: Evidence,
    pub elapsed: Duration,
}

impl Check {
    pub fn new(kind: CheckKind, passed: bool, evidence: Evidence, elapsed: Duration) -> Self {
        let verdict = if passed { Verdict::Pass } else { Verdict::Fail };
        Check {
            kind,
            verdict,
            evidence,
            elapsed,
        }
    }

    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    /// Whether the candidate must be rejected for it.
    pub fn failed(&self) -> bool {
        self.verdict == Verdict::Fail
    }

    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Evidence on success, diagnostic on failure, in words.
    pub fn detail(&self) -> String {
        self.evidence.render()
    }
}

/// The program policy's verdict on a bpftrace candidate for `role`.
pub fn check_policy_bpftrace(role: crate::config::Role, source: &str) -> Check {
    let started = Instant::now();
    policy_check(role, crate::policy::check_bpftrace(role, source), started)
}

/// A `program-policy` check from the policy's refusals (none: a pass).
pub fn policy_check(
    role: crate::config::Role,
    refusals: Vec<crate::policy::Refusal>,
    started: Instant,
) -> Check {
    if refusals.is_empty() {
        return Check::new(
            CheckKind::Policy,
            true,
            Evidence::Report(format!(
                "the program does only what the {} role may",
                role.as_str()
            )),
            started.elapsed(),
        );
    }
    Check::new(
        CheckKind::Policy,
        false,
        Evidence::Report(crate::policy::describe(&refusals, role)),
        started.elapsed(),
    )
}

/// What the static check found: problems, each with a hint naming real alternatives.
pub fn check_attach_points(host: &HostFacts, knowledge: &Knowledge, source: &str) -> Check {
    let started = Instant::now();
    let blocks = probe_blocks(source);
    let mut problems: Vec<String> = Vec::new();
    let mut resolved: Vec<String> = Vec::new();
    if blocks.is_empty() {
        problems.push("no probe found: a bpftrace program is one or more `probe { actions }` blocks, e.g. `tracepoint:syscalls:sys_enter_openat { ... }`".into());
    }
    for block in &blocks {
        let fields = args_fields(&block.body);
        for probe in &block.probes {
            let Some(family) = host.family_of(&probe.prefix) else {
                problems.push(format!(
                    "`{}:` is not a bpftrace probe type; use tracepoint:, uprobe:, profile:, interval:, BEGIN or END",
                    probe.prefix
                ));
                continue;
            };
            if !family.available {
                problems.push(format!(
                    "{}:{}: {}; {}",
                    probe.prefix,
                    probe.target,
                    family.reason,
                    knowledge.alternatives_hint(&probe.target, 3)
                ));
                continue;
            }
            if family.name == "uprobe"
                && !probe.prefix.starts_with("usdt")
                && !probe.prefix.starts_with('U')
            {
                match check_uprobe(&probe.target) {
                    Ok(()) => {
                        let written = format!("{}:{}", probe.prefix, probe.target);
                        if let Some(twin) = one_function_twice(&resolved, &written) {
                            problems.push(format!(
                                "{twin} and {written} are one function of one file (the paths lead to the same binary): every call would be reported twice; attach to it once"
                            ));
                        }
                        resolved.push(written);
                    }
                    Err(p) => problems.push(format!("{}:{}: {p}", probe.prefix, probe.target)),
                }
                continue;
            }
            if !probe.is_tracepoint() || probe.target.contains('*') {
                resolved.push(format!("{}:{}", probe.prefix, probe.target));
                continue;
            }
            match host.tracepoints.get(&probe.target) {
                None => {
                    let alt = knowledge.nearest_tracepoints(&probe.target, 4);
                    problems.push(format!(
                        "tracepoint:{} does not exist on this kernel; real tracepoints near it: {}",
                        probe.target,
                        alt.join(", ")
                    ));
                }
                Some(tp) => {
                    resolved.push(tp.probe());
                    for f in &fields {
                        if !tp.fields.iter().any(|tf| &tf.name == f) {
                            let names: Vec<&str> =
                                tp.fields.iter().map(|f| f.name.as_str()).collect();
                            let hint = if f == "ret" && tp.event.starts_with("sys_enter_") {
                                format!(
                                    " (return values are in tracepoint:syscalls:sys_exit_{} as args->ret)",
                                    tp.event.trim_start_matches("sys_enter_")
                                )
                            } else {
                                String::new()
                            };
                            problems.push(format!(
                                "{} has no field `{f}`{hint}; its fields are: {}",
                                tp.probe(),
                                names.join(", ")
                            ));
                        }
                    }
                }
            }
        }
    }
    let passed = problems.is_empty();
    let evidence = if passed {
        Evidence::Resolved(resolved)
    } else {
        Evidence::Problems(problems)
    };
    Check::new(
        CheckKind::HostAttachPoints,
        passed,
        evidence,
        started.elapsed(),
    )
}

/// A probe already resolved that attaches to the same function of the same file as `probe`
/// (`uprobe:/bin/bash:readline` beside `uprobe:/usr/bin/bash:readline` where `/bin` links to
/// `/usr/bin`), with the same probe type.
fn one_function_twice<'a>(resolved: &'a [String], probe: &str) -> Option<&'a str> {
    let split = |p: &str| -> Option<(String, String, String)> {
        let (prefix, target) = p.split_once(':')?;
        let (binary, function) = target.rsplit_once(':')?;
        Some((prefix.to_owned(), binary.to_owned(), function.to_owned()))
    };
    let (prefix, binary, function) = split(probe)?;
    let path = resolve_binary(&binary)?;
    resolved.iter().map(String::as_str).find(|r| {
        split(r).is_some_and(|(p, b, f)| {
            p == prefix
                && f == function
                && b != binary
                && resolve_binary(&b).is_some_and(|other| crate::host::same_file(&other, &path))
        })
    })
}

/// A uprobe target `BINARY:FUNCTION` names a binary that exists here and a function it defines.
fn check_uprobe(target: &str) -> Result<(), String> {
    let Some((binary, function)) = target.rsplit_once(':') else {
        return Err("a uprobe needs BINARY:FUNCTION, e.g. uprobe:/bin/bash:readline".into());
    };
    let Some(path) = resolve_binary(binary) else {
        return Err(format!("no binary or library {binary:?} on this host"));
    };
    if function.contains('*') || function.starts_with("0x") {
        return Ok(());
    }
    let symbols = uprobe_symbols(&path)?;
    if symbols
        .binary_search_by(|s| s.as_str().cmp(function))
        .is_ok()
    {
        return Ok(());
    }
    let lower = function.to_lowercase();
    let near: Vec<&str> = symbols
        .iter()
        .filter(|s| {
            let l = s.to_lowercase();
            l.contains(&lower) || lower.contains(&l) && l.len() > 3
        })
        .take(8)
        .map(String::as_str)
        .collect();
    Err(format!(
        "{} defines no function `{function}`{}",
        path.display(),
        if near.is_empty() {
            String::new()
        } else {
            format!("; similar: {}", near.join(", "))
        }
    ))
}

/// Loads the candidate through bpftrace and the kernel verifier and attaches it.
pub async fn check_bpftrace_load(
    bpftrace: &Path,
    source: &str,
    timeout: Duration,
    kernel_release: &str,
) -> Check {
    let report = check_load(bpftrace, source, timeout).await;
    let (passed, detail) = match report.verdict {
        LoadVerdict::Attached { probes } => {
            let mut detail = format!(
                "bpftrace parsed and type-checked it; the kernel {kernel_release} verifier accepted it and {probes} probe(s) attached"
            );
            if !report.warnings.is_empty() {
                detail.push_str(&format!(
                    "; bpftrace warned (not an error): {}",
                    report.warnings.join("; ")
                ));
            }
            (true, detail)
        }
        LoadVerdict::Rejected => (
            false,
            format!("bpftrace rejected the program:\n{}", report.diagnostic),
        ),
        LoadVerdict::LoadFailed { exit_code } => (
            false,
            format!(
                "the kernel refused to load or attach it (bpftrace exit {exit_code}):\n{}",
                report.diagnostic
            ),
        ),
        LoadVerdict::TimedOut | LoadVerdict::ToolMissing => (false, report.diagnostic),
    };
    Check::new(
        CheckKind::BpftraceLoad,
        passed,
        Evidence::Report(detail),
        report.elapsed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_function_of_one_file_is_attached_once() {
        // A second path to the shell through a symbolic link, like /bin beside /usr/bin.
        let Some(shell) = resolve_binary("sh") else {
            return; // no shell on PATH: nothing to link to
        };
        let dir = std::env::temp_dir().join(format!("kgent-twin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let link = dir.join("twin");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&shell, &link).expect("symlink");
        let first = format!("uprobe:{}:main", shell.display());
        let second = format!("uprobe:{}:main", link.display());
        let resolved = [first.clone()];
        assert_eq!(one_function_twice(&resolved, &second), Some(first.as_str()));
        // Another function, or the return side, is its own probe.
        assert_eq!(
            one_function_twice(&resolved, &format!("uprobe:{}:other", link.display())),
            None
        );
        assert_eq!(
            one_function_twice(&resolved, &format!("uretprobe:{}:main", link.display())),
            None
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Real bpftrace and kernel: a program bpftrace only warns about passes the load check, and
    /// the warnings are in its evidence.
    #[tokio::test]
    async fn warnings_pass_the_load_check_and_show_in_its_evidence() {
        let src = "tracepoint:syscalls:sys_exit_write { $floor = (uint64)1; if (args->ret >= $floor) { @per_second = sum(args->ret / 1000); } }\n";
        let check =
            check_bpftrace_load(Path::new("bpftrace"), src, Duration::from_secs(60), "test").await;
        assert!(check.passed(), "{}", check.detail());
        assert!(
            check.detail().contains("bpftrace warned (not an error)"),
            "{}",
            check.detail()
        );
        assert!(
            check.detail().contains("signed operands"),
            "{}",
            check.detail()
        );
    }
}
