//! The `smoke-run` check: a candidate that loads is run while a harmless trigger workload
//! provokes the events tracing requests usually ask about, and its output must show them.
//!
//! The trigger (`smoke_trigger.py`, run with the host's python3) touches only a fresh directory
//! under /tmp and loopback sockets; its processes are named `kgent-smoke*`, its paths start with
//! that directory, its ports are chosen per run. What the output must show comes from the
//! request (comprehension): something at all; the workload itself (a name, pid, path or port)
//! when the request asks who or what; ports in host byte order. A candidate that loads but
//! observes nothing is not verified.
//!
//! This module runs bpftrace through the toolchain's supervisor (a short-lived child in its own
//! process group, killed on every exit path); it does not go through `exec`'s jobs, which are
//! for approved programs.
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use regex::Regex;
use serde::Deserialize;

use super::{Check, CheckKind, Evidence, Provoked};
use crate::intent::{Concept, Exclusion, Intent};
use crate::knowledge::syscall_variants;
use crate::toolchain::bpftrace::strip_comments;
use crate::toolchain::bpftrace::supervisor::{AtBegin, NotReady, Output, Supervisor};
use crate::toolchain::bpftrace::{condense, probe_blocks, ProbeSpec};

const TRIGGER: &str = include_str!("smoke_trigger.py");
/// The argument the trigger passes to the program it runs (see smoke_trigger.py).
const TRIGGER_ARGUMENT: &str = "--kgent-smoke-arg";
/// Output the program may still print after the trigger ends.
const SETTLE: Duration = Duration::from_millis(700);
const TRIGGER_TIMEOUT: Duration = Duration::from_secs(20);
/// A graceful stop (SIGINT) of a program with hundreds of probes takes up to ~30 s here.
const STOP_TIMEOUT: Duration = Duration::from_secs(40);
/// Output lines judged; the rest are dropped.
const MAX_LINES: usize = 100_000;
/// Output lines kept as evidence and shown to the model.
const EXCERPT_LINES: usize = 12;

/// What the trigger reports having done.
#[derive(Debug, Default, Deserialize)]
pub struct TriggerFacts {
    pub pid: u32,
    #[serde(default)]
    pub pids: Vec<u32>,
    #[serde(default)]
    pub ports: Vec<u16>,
    #[serde(default)]
    pub errors: Vec<String>,
    /// The child (comm `kgent-smoke-ch`) that exited with status 3.
    #[serde(default)]
    pub exited_3: Option<u32>,
    /// The program the workload ran (comm `kgent-smoke-exe`), which exited with status 0.
    #[serde(default)]
    pub exited_0: Option<u32>,
}

/// What the request asks to see, as far as a smoke run can check it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expectation {
    /// The request asks who or what (a process, a file, an address): the trigger's own
    /// processes, paths or ports must show up.
    pub identifies: bool,
    /// The request is about ports: they must be in host byte order.
    pub ports: bool,
    /// The request asks for command-line arguments: the trigger's own must show up.
    pub arguments: bool,
    /// The request names IPv6: the workload's IPv6 connection (to [::1]) must show up, by its
    /// address when the request asks for addresses, else by address or port.
    pub ipv6: bool,
    /// The request asks for addresses (IP addresses of connections).
    pub addresses: bool,
    /// Workload activity the request filters away, which a correct answer leaves out.
    pub excluded: Vec<Exclusion>,
    /// The request asks for exit codes: the workload's child that exited with status 3 must
    /// show up with 3 (not the raw wait status 768).
    pub exit_status: bool,
    /// The request is about processes changing their own name: the name the workload gave
    /// itself (kgent-smoke-rn, through /proc/self/comm) must show up.
    pub renames_self: bool,
    /// ... and sets apart the renames an exec does.
    pub exec_renames_excluded: bool,
}

/// The name the trigger gives itself (smoke_trigger.py, `processes()`).
const SELF_RENAME: &str = "kgent-smoke-rn";
/// The name the workload's exec of `kgent-smoke-exec` gives its task (comm keeps 15 bytes).
const EXEC_NAME: &str = "kgent-smoke-exe";

/// How activity a request filters away shows in the output: the first line that shows it, and
/// what it is.
fn shown_in<'a>(
    ex: Exclusion,
    lines: &[&'a str],
    facts: &TriggerFacts,
) -> Option<(&'a str, String)> {
    let (markers, what): (Vec<String>, &str) = match ex {
        Exclusion::SuccessfulOpens => (
            vec!["kgent-smoke-file.txt".into(), "kgent-smoke-big.bin".into()],
            "files the workload opened successfully",
        ),
        Exclusion::CleanExits => (
            std::iter::once("kgent-smoke-exe".to_owned())
                .chain(facts.exited_0.map(|p| format!(r"\b{p}\b")))
                .collect(),
            "a process that exited with status 0",
        ),
        Exclusion::PrivateChmods => (
            vec!["kgent-smoke-private".into()],
            "a permission change to mode 0640, which nobody else can write",
        ),
    };
    let res: Vec<Regex> = markers
        .iter()
        .filter_map(|m| {
            Regex::new(&if m.starts_with(r"\b") {
                m.clone()
            } else {
                regex::escape(m)
            })
            .ok()
        })
        .collect();
    lines
        .iter()
        .find(|l| res.iter().any(|r| r.is_match(l)))
        .map(|l| (*l, what.to_owned()))
}

/// Comprehension: what the output of a correct answer to the request shows when the trigger
/// runs.
pub fn expectation(intent: &Intent) -> Expectation {
    Expectation {
        excluded: intent.exclusions.clone(),
        addresses: intent.asks(Concept::Addresses),
        exit_status: intent.asks(Concept::ExitStatus),
        // A request that names the process it is about has said who: every line of a program
        // that filters on that name (which the repairs make sure it does) is about it, and the
        // workload runs under that name; a table keyed by syscall or size need not repeat it.
        identifies: intent.asks(Concept::Identifies) && intent.process_name.is_none(),
        ports: intent.asks(Concept::Connections),
        arguments: intent.asks(Concept::CommandLine),
        ipv6: intent.asks(Concept::Ipv6),
        renames_self: intent.asks(Concept::RenamesSelf),
        exec_renames_excluded: intent.asks(Concept::ExecRenamesExcluded),
    }
}

/// [`expectation`], for this program: a program whose only "what" is the kernel's own names
/// for its events' categories (a `__print_symbolic` table kgent fills, `@kq_name_*`: softirq
/// vectors, writeback reasons), or the `name` field of kernel tracepoints outside the syscalls
/// (an interrupt handler's, a workqueue's, a device's: objects of the kernel, not of the
/// workload) or the kernel symbol of a function they carry (`ksym(args->function)`), and that reports no task, file or address cannot show the workload, whatever the
/// workload does; its lines are judged without it.
pub fn expectation_for(intent: &Intent, source: &str) -> Expectation {
    static IDENTITY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(comm|pid|tid|uid|cgroup|str|ntop|path|kstack|ustack|args\s*->\s*\w*(name|comm|pid|port|addr|filename))\b")
            .expect("static regex")
    });
    // A task, file or address, with the event's own `name` and str() of it left aside.
    static TASK_OR_FILE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(comm|pid|tid|uid|cgroup|ntop|path|kstack|ustack|args\s*->\s*\w*(comm|pid|port|addr|filename|pathname))\b")
            .expect("static regex")
    });
    // The event's `name`, or the kernel symbol of a code address it carries (`ksym()` of a
    // timer's or work item's `function`, bpftrace(8)): a kernel object either way.
    static OWN_NAME: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\bargs\s*->\s*name\b|\bksym\s*\(").expect("static regex"));
    let mut expect = expectation(intent);
    let code = strip_comments(source);
    let kernel_objects = {
        let probes: Vec<ProbeSpec> = event_probes(source);
        !probes.is_empty()
            && probes.iter().all(|p| {
                p.is_tracepoint()
                    && !p.target.starts_with("syscalls:")
                    && !p.target.starts_with("raw_syscalls:")
            })
    };
    let names_only = code.contains("@kq_name_") && !IDENTITY.is_match(&code);
    let kernel_names_only =
        kernel_objects && OWN_NAME.is_match(&code) && !TASK_OR_FILE.is_match(&code);
    if expect.identifies && (names_only || kernel_names_only) {
        expect.identifies = false;
    }
    // "The size argument" of clone3 is a parameter: only where a program starts are the
    // arguments its argv (execve(2)), which the workload's own must then show.
    if !super::coverage::attaches_to_exec(source) {
        expect.arguments = false;
    }
    expect
}

/// The probes of `source` that observe events (not BEGIN/END or intervals), as written.
pub fn event_probes(source: &str) -> Vec<ProbeSpec> {
    probe_blocks(source)
        .into_iter()
        .flat_map(|b| b.probes)
        .filter(ProbeSpec::observes_events)
        .collect()
}

/// Why the trigger cannot exercise `source`, when none of its event probes is something the
/// trigger reaches: uprobes in binaries it never runs (it runs python3, libc and /bin/true), or
/// tracepoints outside `provoked` (what the workload was measured to provoke on this host; see
/// [`super::provoked`]), when that was measured.
pub fn not_exercised(source: &str, provoked: Option<&Provoked>) -> Option<String> {
    const REACHED: &[&str] = &["libc", "libpthread", "ld-linux", "python", "/true"];
    let probes: Vec<ProbeSpec> = event_probes(source);
    let unreached: Vec<String> = probes
        .iter()
        .filter(|p| {
            let uprobe = matches!(p.prefix.as_str(), "uprobe" | "uretprobe" | "u" | "ur");
            let tracepoint = matches!(p.prefix.as_str(), "tracepoint" | "t");
            (uprobe && !REACHED.iter().any(|r| p.target.contains(r)))
                || (tracepoint
                    && !p.target.contains('*')
                    && provoked.is_some_and(|set| !set.contains(&p.target)))
        })
        .map(|p| format!("{}:{}", p.prefix, p.target))
        .collect();
    (!probes.is_empty() && unreached.len() == probes.len()).then(|| {
        format!(
            "not exercised: the trigger workload never provokes {} on this host, so a smoke run could not tell a right program from a wrong one; it was checked statically and by loading only",
            unreached.join(", ")
        )
    })
}

/// What the catalog ranks first for a request, or for one thing it is about: `what` for the
/// diagnostic ("the request", "\"rss\""), `event` as "subsystem:event".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BestMatch {
    pub what: String,
    pub event: String,
}

/// Why a program the workload cannot exercise is not trusted: it attaches to none of `bests`
/// (the tracepoints this host's catalog ranks first for the request, or for each thing it is
/// about), and one of them is an event the workload provokes here. A run could judge a program
/// on that event; one on an event never seen here is taken on its static checks alone, which a
/// neighbouring event passes (a kernel thread's stop for "a process terminates", the OOM
/// killer's victim for "a process's RSS grows": both carry the values asked for).
///
/// A program on the tracepoints of a syscall the request names by its name (`named`:
/// "each setitimer call") observes what was asked by construction, whatever the catalog ranks
/// first for the request's other words ("timer").
pub fn passed_over_best(
    source: &str,
    bests: &[BestMatch],
    provoked: Option<&Provoked>,
    named: &[String],
) -> Option<String> {
    let provoked = provoked?;
    let attached: Vec<String> = probe_blocks(source)
        .into_iter()
        .flat_map(|b| b.probes)
        .filter(|p| p.is_tracepoint())
        .map(|p| p.target)
        .collect();
    if bests.iter().any(|b| attached.contains(&b.event)) {
        return None;
    }
    let names_call = |t: &String| {
        t.strip_prefix("syscalls:sys_enter_")
            .or_else(|| t.strip_prefix("syscalls:sys_exit_"))
            .is_some_and(|call| named.iter().any(|n| n == call))
    };
    if attached.iter().any(names_call) {
        return None;
    }
    let best = bests
        .iter()
        .find(|b| provoked.by_workload.contains(&b.event))?;
    Some(format!(
        "not exercised, and not the event this host's catalog ranks first for {}: the test workload does not make the program's events, so nothing shows it observes what was asked, while tracepoint:{}, the best match, does occur here and can be checked; use it, or events the request names",
        best.what, best.event
    ))
}

/// Why `source` misses the calls it means, measured: every event probe it has is a syscall
/// tracepoint the trigger workload never provokes here, while the workload did provoke another
/// entry point of the same operation ([`syscall_variants`]: this host's C library makes
/// `fork()` through clone, `chmod()` through fchmodat). A program on the unused entry point
/// alone would print nothing for most real calls, so it fails the smoke run with the entry
/// points to add. `None` when nothing was measured or any probe is provoked or unrelated.
pub fn bypassed_entry_points(
    host: &crate::host::HostFacts,
    source: &str,
    provoked: Option<&Provoked>,
) -> Option<String> {
    let provoked = provoked?;
    let probes: Vec<ProbeSpec> = event_probes(source);
    let mut missed = Vec::new();
    let mut used_instead: Vec<String> = Vec::new();
    for p in &probes {
        if !p.is_tracepoint() || p.target.contains('*') || provoked.contains(&p.target) {
            return None;
        }
        let call = p
            .target
            .strip_prefix("syscalls:sys_enter_")
            .or_else(|| p.target.strip_prefix("syscalls:sys_exit_"))?;
        let direction = if p.target.contains(":sys_enter_") {
            "enter"
        } else {
            "exit"
        };
        let instead: Vec<String> = syscall_variants(host, call)
            .into_iter()
            .map(|v| format!("syscalls:sys_{direction}_{v}"))
            .filter(|tp| provoked.contains(tp))
            .collect();
        if instead.is_empty() {
            return None;
        }
        missed.push(format!("tracepoint:{}", p.target));
        for tp in instead {
            if !used_instead.contains(&tp) {
                used_instead.push(tp);
            }
        }
    }
    if missed.is_empty() {
        return None;
    }
    Some(format!(
        "{} never fired while the test workload made that call: on this host the call is made through {} (measured), so the program would miss most real calls. Attach to {} as well",
        missed.join(", "),
        used_instead
            .iter()
            .map(|t| format!("tracepoint:{t}"))
            .collect::<Vec<_>>()
            .join(", "),
        if used_instead.len() == 1 { "it" } else { "them" }
    ))
}

/// A fingerprint of the trigger workload: a measurement of what it provokes is valid for the
/// workload it measured.
pub fn workload_fingerprint() -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    TRIGGER.hash(&mut h);
    h.finish()
}

/// Measures which tracepoints the trigger workload provokes here (see [`super::provoked`]).
pub async fn measure_provoked(host: &crate::host::HostFacts) -> Result<Provoked, String> {
    let dir = crate::process::scratch_dir()
        .map_err(|e| format!("cannot create a scratch directory: {e}"))?
        .join("kgent-smoke-provoke");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let _dir = TriggerDir(dir.clone());
    super::provoked::measure(host, || async {
        if let Err(e) = trigger(&dir, 40_000 + (std::process::id() % 20_000) as u16, None).await {
            tracing::warn!("measuring what the smoke workload provokes: {e}");
        }
        tokio::time::sleep(SETTLE).await;
    })
    .await
}

/// Whether the workload makes `p`'s event fail (smoke_trigger.py): it opens a missing file
/// (ENOENT), execs a missing program (ENOENT) and connects to a closed port (ECONNREFUSED).
/// Another syscall's failure, or a failed block request or work item, it never makes.
fn failed_by_workload(p: &ProbeSpec) -> bool {
    const FAILS: [&str; 4] = ["open", "openat", "execve", "connect"];
    let call = p
        .target
        .strip_prefix("syscalls:sys_exit_")
        .or_else(|| p.target.strip_prefix("syscalls:sys_enter_"));
    match call {
        Some(call) => FAILS.contains(&call),
        None => p.target.starts_with("syscalls:"),
    }
}

/// Why an empty smoke run says nothing about `source`: every event it attaches to fired under
/// the workload (`provoked`), and the program waits for a condition the request states that the
/// workload does not produce: a time threshold (its events are short, and how long they take is
/// whatever this host's load makes it), a size or amount (the workload's are few and its own),
/// the failure of an event the workload never makes fail ([`failed_by_workload`]: it fails an
/// open, an exec and a connect, never an rmdir, a block request or a work item), or a signal or
/// error the request names that the workload never sends or meets (SIGSEGV). Such a program
/// is judged by its static and symbolic checks; `None` when the silence means something.
pub fn condition_never_met(
    intent: &Intent,
    source: &str,
    provoked: Option<&Provoked>,
) -> Option<String> {
    let provoked = provoked?;
    let blocks = probe_blocks(source);
    let probes: Vec<&ProbeSpec> = blocks
        .iter()
        .flat_map(|b| &b.probes)
        .filter(|p| p.observes_events())
        .collect();
    let fired = !probes.is_empty()
        && probes
            .iter()
            .all(|p| p.is_tracepoint() && provoked.contains(&p.target));
    static IF: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bif\s*\(").expect("static regex"));
    let conditional = blocks
        .iter()
        .any(|b| b.predicate.is_some() || IF.is_match(&strip_comments(&b.body)));
    if !fired || !conditional {
        return None;
    }
    // The signals and errors the workload produces (smoke_trigger.py): it kills a child with
    // SIGTERM (its parent gets SIGCHLD), opens a missing file (ENOENT) and connects to a
    // closed port (ECONNREFUSED).
    const PRODUCED: [&str; 4] = ["SIGTERM", "SIGCHLD", "ENOENT", "ECONNREFUSED"];
    let errnos: Vec<&str> = intent.errnos().into_iter().map(|(n, _, _)| n).collect();
    let unproduced = intent.constants.iter().find(|c| {
        (c.starts_with("SIG") || errnos.contains(&c.as_str())) && !PRODUCED.contains(&c.as_str())
    });
    // A value of one of the program's fields the request asks for (specs-db/values.toml:
    // SEEK_END at lseek(2), "preempted" at sched_switch), which the workload never makes.
    let unproduced_value = probes
        .iter()
        .flat_map(|p| crate::knowledge::values::asked_at(intent, &p.target))
        .find(|v| !v.apart && !PRODUCED.contains(&v.name.as_str()));
    // A documented flag of one of the program's fields that the request speaks of
    // (specs-db/flags.toml: "writable and executable" is PROT_WRITE and PROT_EXEC at
    // mprotect), which the program tests: the workload sets few flags of the calls it makes.
    let asked_flag = probes.iter().find_map(|p| {
        crate::knowledge::flags::shipped()
            .iter()
            .filter(|f| f.probes.contains(&p.target))
            .find(|f| {
                (intent.constants.contains(&f.name) || crate::knowledge::flags::asked(&[f], intent))
                    && blocks.iter().any(|b| {
                        b.probes.iter().any(|bp| bp.target == p.target)
                            && b.code().contains(&format!("args->{}", f.field))
                    })
            })
    });
    let condition = if intent.threshold.is_some() && intent.time_unit.is_some() {
        "a time it must exceed".to_owned()
    } else if intent.threshold.is_some() {
        // The workload's sizes are its own (a 1 MiB write, a 96 MiB mapping); whether one of
        // the program's events exceeds the size a request states is chance.
        "a size or amount it must exceed".to_owned()
    } else if intent.asks(Concept::Failure) && probes.iter().all(|p| !failed_by_workload(p)) {
        "a failure of the event".to_owned()
    } else if let Some(c) = unproduced {
        c.clone()
    } else if let Some(n) = intent.result_value {
        format!("calls returning {n}")
    } else if let Some(v) = unproduced_value {
        format!("{}, `args->{} == {}`", v.name, v.field, v.value)
    } else if let Some(f) = asked_flag {
        format!("{}, a bit of `args->{}`", f.name, f.field)
    } else if let Some(n) = stated_bound(intent, source) {
        // "A backlog above 128", "dup2 onto descriptor 1": the workload's values are its own
        // (listen(2) with a small backlog, dup2(2) onto a fresh descriptor), and whether one
        // passes or equals a value the request states is chance.
        format!("the value {n} a value must pass or equal")
    } else {
        return None;
    };
    let shown: Vec<String> = probes
        .iter()
        .map(|p| format!("tracepoint:{}", p.target))
        .collect();
    Some(format!(
        "not exercised: the program's events ({}) fired under the test workload, but it shows only events meeting what the request states ({condition}), which the workload does not produce; a smoke run cannot tell a right program from a wrong one here, so it is judged by its static and symbolic checks",
        shown.join(", ")
    ))
}

/// A non-zero number the request writes ([`Intent::numbers`]) that the program compares a
/// value with for order or equality (`args->backlog > 128`, `128 <= $n`, `args->newfd == 1`):
/// a bound or a value the request states.
fn stated_bound(intent: &Intent, source: &str) -> Option<i128> {
    let code = strip_comments(source);
    intent.numbers.iter().copied().find(|n| {
        *n != 0
            && Regex::new(&format!(
                r"(?:args\s*->\s*\w+|\$\w+|@\w+\[[^\]]*\]|\))\s*(?:>=?|<=?|==)\s*\(?\s*{n}\b|\b{n}\s*\)?\s*(?:>=?|<=?|==)\s*(?:args|\$|@|\()"
            ))
            .is_ok_and(|re| re.is_match(&code))
    })
}

/// Why an empty smoke run says nothing about `source`: every event it attaches to is a
/// tracepoint that only other tasks fired while the workload was measured (see
/// [`Provoked::background_only`]). Whether they fire during one run is up to the rest of the
/// system, so silence is no evidence against the program.
pub fn fired_only_by_others(source: &str, provoked: Option<&Provoked>) -> Option<String> {
    let provoked = provoked?;
    let probes: Vec<ProbeSpec> = event_probes(source);
    let quiet = !probes.is_empty()
        && probes
            .iter()
            .all(|p| p.is_tracepoint() && provoked.background_only(&p.target));
    quiet.then(|| {
        let shown: Vec<String> = probes
            .iter()
            .map(|p| format!("tracepoint:{}", p.target))
            .collect();
        format!(
            "not exercised: the test workload does not make the program's events ({}) itself; other tasks of this host fired them while the workload was measured, none during this run, so its silence says nothing of whether it is right; it is judged by its static and symbolic checks",
            shown.join(", ")
        )
    })
}

/// Runs `source` under the trigger workload and judges its output against `request`. Where it
/// prints nothing only because the workload never meets the condition the request states
/// ([`condition_never_met`]; `provoked` is what the workload was measured to provoke here), or
/// because only other tasks make its events ([`fired_only_by_others`]), the check is
/// inconclusive rather than failed.
pub async fn check_smoke_run(
    bpftrace: &Path,
    source: &str,
    intent: &Intent,
    attach_timeout: Duration,
    provoked: Option<&Provoked>,
) -> Check {
    let started = Instant::now();
    let named = intent.process_name.as_deref();
    let (passed, evidence) = match run(bpftrace, source, attach_timeout, named).await {
        Ok(obs) if printed_nothing(&obs) => {
            if let Some(why) = condition_never_met(intent, source, provoked)
                .or_else(|| fired_only_by_others(source, provoked))
            {
                return Check {
                    kind: CheckKind::SmokeRun,
                    verdict: super::Verdict::Inconclusive,
                    evidence: Evidence::Report(why),
                    elapsed: started.elapsed(),
                };
            }
            judged(intent, source, &obs)
        }
        Ok(obs) => match judge(&expectation_for(intent, source), &obs) {
            Ok(shown) => (true, Evidence::Report(shown)),
            // Other tasks' events met a condition the request states that the workload's do
            // not ("dup2 onto descriptor 1": the shell's did, the workload's never do): the
            // filter is reached, and whether the workload meets it is chance.
            Err(Misjudged::WorkloadUnseen(why)) => {
                match condition_never_met(intent, source, provoked) {
                    Some(never) => {
                        return Check {
                            kind: CheckKind::SmokeRun,
                            verdict: super::Verdict::Inconclusive,
                            evidence: Evidence::Report(format!(
                                "{never}; the {} line(s) it printed are other tasks' events that met it",
                                output_lines(&obs).len()
                            )),
                            elapsed: started.elapsed(),
                        }
                    }
                    None => (false, Evidence::Problems(vec![with_excerpt(why, &obs.lines)])),
                }
            }
            Err(wrong) => (
                false,
                Evidence::Problems(vec![with_excerpt(wrong.to_string(), &obs.lines)]),
            ),
        },
        Err(e) => (false, Evidence::Report(e)),
    };
    Check::new(CheckKind::SmokeRun, passed, evidence, started.elapsed())
}

/// [`judge`] as a check's verdict and evidence.
fn judged(intent: &Intent, source: &str, obs: &Observation) -> (bool, Evidence) {
    match judge(&expectation_for(intent, source), obs) {
        Ok(shown) => (true, Evidence::Report(shown)),
        Err(problem) => (
            false,
            Evidence::Problems(vec![with_excerpt(problem.to_string(), &obs.lines)]),
        ),
    }
}

/// What one smoke run saw.
#[derive(Debug, Default)]
pub struct Observation {
    /// The program's stdout after every probe attached, including what it printed on exit.
    pub lines: Vec<String>,
    pub facts: TriggerFacts,
    pub dir: String,
    /// The process name the workload also ran under (`Intent::process_name`).
    pub named: Option<String>,
}

/// The program's output lines, without blank lines and bpftrace's "Attaching" banner.
fn output_lines(obs: &Observation) -> Vec<&str> {
    obs.lines
        .iter()
        .map(|l| l.trim_end())
        .filter(|l| !l.trim().is_empty() && !l.starts_with("Attaching "))
        .collect()
}

fn printed_nothing(obs: &Observation) -> bool {
    output_lines(obs).is_empty()
}

/// Why an observation does not show a program right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misjudged {
    /// Lines were printed, but none names the workload, although the request asks who or
    /// what: the events shown are other tasks'.
    WorkloadUnseen(String),
    /// Anything else: nothing printed, a value printed wrong, an excluded event shown.
    Wrong(String),
}

impl std::fmt::Display for Misjudged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Misjudged::WorkloadUnseen(why) | Misjudged::Wrong(why) => f.write_str(why),
        }
    }
}

impl Misjudged {
    pub fn contains(&self, part: &str) -> bool {
        self.to_string().contains(part)
    }
}

/// Judges an observation: evidence on success, the problem otherwise.
pub fn judge(expect: &Expectation, obs: &Observation) -> Result<String, Misjudged> {
    let lines = output_lines(obs);
    let workload = format!(
        "a test workload ran (process kgent-smoke, pid {}: it created, wrote 1 MiB to, read, renamed, chmod-ed, chown-ed, linked, truncated to zero, locked and deleted files under {}, failed to open a missing file and to exec a missing program, made pipes and waited on them, mmap-ed 96 MiB (then madvise MADV_DONTNEED), set a 64 KiB extended attribute (a 64 KiB kmalloc), started a thread, forked children that exited with status 3 or were killed, made TCP connections to 127.0.0.1:{} and [::1], a refused connection and a UDP datagram)",
        obs.facts.pid,
        obs.dir,
        obs.facts.ports.first().copied().unwrap_or(0)
    );
    if lines.is_empty() {
        return Err(Misjudged::Wrong(format!(
            "the program printed nothing while {workload}: its probes did not fire for this activity or its filters dropped every event"
        )));
    }
    let text = lines.join("\n");
    let has_number = |n: u64| Regex::new(&format!(r"\b{n}\b")).is_ok_and(|re| re.is_match(&text));
    if expect.ports {
        for &port in &obs.facts.ports {
            let swapped = port.swap_bytes();
            if swapped != port && has_number(u64::from(swapped)) && !has_number(u64::from(port)) {
                return Err(Misjudged::Wrong(format!(
                    "port numbers are printed in network byte order: the workload used port {port} and the program printed {swapped}; convert with (($p & 0xff) << 8) | ($p >> 8)"
                )));
            }
        }
    }
    if expect.arguments && !text.contains(TRIGGER_ARGUMENT) {
        return Err(Misjudged::Wrong(format!(
            "the request asks for command-line arguments, but the output never shows the argument {TRIGGER_ARGUMENT} that the workload passed to a program it ran (read argv with join(args->argv), not str())"
        )));
    }
    // The trigger's IPv6 connection goes to the port after its IPv4 one (when IPv6 works here).
    let v6_port = obs.facts.ports.first().and_then(|p| p.checked_add(1));
    if let Some(v6) = v6_port.filter(|p| expect.ipv6 && obs.facts.ports.contains(p)) {
        if !text.contains("::1") && (expect.addresses || !has_number(u64::from(v6))) {
            return Err(Misjudged::Wrong(format!(
                "the request asks for IPv6 too, but the output never shows the workload's IPv6 connection ([::1]:{v6}): IPv6 sockets have family 10 (AF_INET6) and their addresses in the *_v6 fields"
            )));
        }
    }
    if let Some(child) = obs.facts.exited_3.filter(|_| expect.exit_status) {
        let child_lines: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| {
                l.contains("kgent-smoke-ch")
                    || Regex::new(&format!(r"\b{child}\b")).is_ok_and(|re| re.is_match(l))
            })
            .collect();
        let three = Regex::new(r"\b3\b").expect("static regex");
        if !child_lines.iter().any(|l| three.is_match(l)) {
            let raw = Regex::new(r"\b768\b").expect("static regex");
            let why = if child_lines.iter().any(|l| raw.is_match(l)) {
                "it printed 768, the raw wait status (code << 8): the exit code is (status >> 8) & 0xff and a killing signal is status & 0x7f".to_owned()
            } else if child_lines.is_empty() {
                "no line shows that child at all".to_owned()
            } else {
                format!("its line shows no 3: {}", child_lines[0])
            };
            return Err(Misjudged::Wrong(format!(
                "the request asks for exit codes; the workload's child kgent-smoke-ch (pid {child}) exited with status 3, but {why}"
            )));
        }
    }
    // An exec also changes a task's name (to the program's file name, prctl(2) PR_SET_NAME /
    // proc(5) comm): the workload's exec of kgent-smoke-exec is no process renaming itself.
    if expect.renames_self && expect.exec_renames_excluded {
        if let Some(line) = lines.iter().find(|l| l.contains(EXEC_NAME)) {
            return Err(Misjudged::Wrong(format!(
                "the request is about processes renaming themselves, but the program also reports the name change of an exec: the workload ran the program kgent-smoke-exec, and the output shows it: {line}\nan exec renames the task too (task:task_rename fires for it, from begin_new_exec()): leave out renames done by exec, where curtask->in_execve is 1"
            )));
        }
    }
    if expect.renames_self && !text.contains(SELF_RENAME) {
        return Err(Misjudged::Wrong(format!(
            "the request is about processes renaming themselves; the workload renamed itself to {SELF_RENAME} (writing /proc/self/comm), but no line shows that name. A process's own name change is the task:task_rename tracepoint (oldcomm, newcomm), not a file rename"
        )));
    }
    for ex in &expect.excluded {
        if let Some((line, what)) = shown_in(*ex, &lines, &obs.facts) {
            return Err(Misjudged::Wrong(format!(
                "the request filters out {what}, but the program printed it: {line}\nadd the condition the request states (a /predicate/ or if)"
            )));
        }
    }
    let mut seen = Vec::new();
    if text.contains("kgent-smoke") {
        seen.push("its kgent-smoke process or path names".to_owned());
    }
    if let Some(n) = obs.named.as_ref().filter(|n| text.contains(n.as_str())) {
        seen.push(format!("the process name {n} it also ran under"));
    }
    if let Some(p) = obs.facts.pids.iter().find(|&&p| has_number(u64::from(p))) {
        seen.push(format!("pid {p}"));
    }
    if let Some(p) = obs.facts.ports.iter().find(|&&p| has_number(u64::from(p))) {
        seen.push(format!("port {p}"));
    }
    if expect.identifies && seen.is_empty() {
        return Err(Misjudged::WorkloadUnseen(format!(
            "the output never shows the test workload although the request asks who or what: {workload}, yet no line names kgent-smoke, its pids, its paths or its ports"
        )));
    }
    Ok(format!(
        "while a test workload ran, the program printed {} line(s){}",
        lines.len(),
        if seen.is_empty() {
            String::new()
        } else {
            format!(" showing {}", seen.join(", "))
        }
    ))
}

fn with_excerpt(problem: String, lines: &[String]) -> String {
    if lines.is_empty() {
        return problem;
    }
    let mut s = format!("{problem}\nits output began:");
    for l in lines.iter().take(EXCERPT_LINES) {
        s.push_str("\n  ");
        s.extend(l.chars().take(160));
    }
    if lines.len() > EXCERPT_LINES {
        s.push_str(&format!(
            "\n  … ({} more lines)",
            lines.len() - EXCERPT_LINES
        ));
    }
    s
}

/// Removes the trigger's directory, however the run ends.
struct TriggerDir(PathBuf);

impl Drop for TriggerDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn run(
    bpftrace: &Path,
    source: &str,
    attach_timeout: Duration,
    named: Option<&str>,
) -> Result<Observation, String> {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let dir = crate::process::scratch_dir()
        .map_err(|e| format!("cannot create a scratch directory: {e}"))?
        .join(format!("kgent-smoke-{}", &tag[..8]));
    std::fs::create_dir(&dir).map_err(|e| {
        format!(
            "cannot create the trigger's directory {}: {e}",
            dir.display()
        )
    })?;
    let _dir = TriggerDir(dir.clone());
    let mut program = Supervisor::spawn(bpftrace, source, AtBegin::ReportReady)
        .await
        .map_err(|e| format!("cannot run {}: {e}", bpftrace.display()))?;
    let mut out = program.take_stdout().ok_or("bpftrace has no stdout")?;
    let mut stderr = program.take_stderr().ok_or("bpftrace has no stderr")?;
    let err_task = tokio::spawn(async move {
        let mut lines = Vec::new();
        while let Ok(Some(l)) = stderr.next_line().await {
            lines.push(l);
        }
        lines.join("\n")
    });

    if let Err(not_ready) = out.ready(attach_timeout).await {
        program.kill();
        let _ = program.wait().await;
        let stderr = err_task.await.unwrap_or_default();
        return Err(match not_ready {
            NotReady::TimedOut => format!(
                "the program did not finish attaching within {} s",
                attach_timeout.as_secs()
            ),
            NotReady::Exited => {
                format!("the program exited before running: {}", condense(&stderr))
            }
        });
    }

    // Collect output from here on while the trigger runs.
    let collector = tokio::spawn(async move {
        let mut lines = Vec::new();
        while let Ok(Some(out)) = out.next().await {
            // A busy host prints thousands of unrelated events a second: keep enough that the
            // workload's own lines are not cut off (bounded, ~10 MB at most).
            if let (Output::Line(line), true) = (out, lines.len() < MAX_LINES) {
                lines.push(line);
            }
        }
        lines
    });
    let port = 40_000 + (u16::from_str_radix(&tag[8..12], 16).unwrap_or(0) % 20_000);
    let facts = trigger(&dir, port, named).await;
    tokio::time::sleep(SETTLE).await;

    // Stop gracefully so maps are printed.
    let exited = program.stop_within(STOP_TIMEOUT).await;
    drop(program);
    let lines = collector.await.unwrap_or_default();
    let facts = facts?;
    if !exited {
        return Err(format!(
            "the program did not stop within {} s of SIGINT",
            STOP_TIMEOUT.as_secs()
        ));
    }
    Ok(Observation {
        lines,
        facts,
        dir: dir.display().to_string(),
        named: named.map(str::to_owned),
    })
}

async fn trigger(dir: &Path, port: u16, named: Option<&str>) -> Result<TriggerFacts, String> {
    let run = crate::process::tool_command("python3")
        .arg("-c")
        .arg(TRIGGER)
        .arg(dir)
        .arg(port.to_string())
        .args(named)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(TRIGGER_TIMEOUT, run)
        .await
        .map_err(|_| "the smoke-run trigger did not finish in time".to_owned())?
        .map_err(|e| format!("cannot run the smoke-run trigger (python3): {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let facts: TriggerFacts = text
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| {
            format!(
                "the smoke-run trigger failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })?;
    if !facts.errors.is_empty() {
        tracing::warn!(
            "smoke-run trigger steps failed: {}",
            facts.errors.join("; ")
        );
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect_of(request: &str) -> Expectation {
        expectation(&Intent::read(request))
    }

    #[test]
    fn a_quoted_process_name_is_what_the_workload_also_runs_under() {
        assert_eq!(
            Intent::read("Profile the syscalls of processes named 'kgentdevls'")
                .process_name
                .as_deref(),
            Some("kgentdevls")
        );
        assert_eq!(
            Intent::read("processes named nginx")
                .process_name
                .as_deref(),
            Some("nginx")
        );
        assert_eq!(Intent::read("files named in a config").process_name, None);
        assert_eq!(
            Intent::read("tasks named after their parent").process_name,
            None
        );
    }

    fn obs(lines: &[&str]) -> Observation {
        Observation {
            lines: lines.iter().map(|s| s.to_string()).collect(),
            facts: TriggerFacts {
                pid: 4242,
                pids: vec![4242, 4243],
                ports: vec![41000, 41002],
                errors: Vec::new(),
                exited_3: None,
                exited_0: None,
            },
            dir: "/tmp/kgent-smoke-x".into(),
            named: None,
        }
    }

    #[test]
    fn uprobes_in_binaries_the_trigger_never_runs_are_not_judged() {
        assert!(not_exercised("uprobe:/bin/bash:readline { printf(\"x\\n\"); }", None).is_some());
        assert!(not_exercised(
            "uretprobe:/lib/x86_64-linux-gnu/libc.so.6:malloc { @=count(); }",
            None
        )
        .is_none());
        assert!(
            not_exercised("tracepoint:syscalls:sys_enter_swapon { @=count(); }", None).is_none()
        );
        assert!(not_exercised(
            "uprobe:/bin/bash:readline { }\ntracepoint:sched:sched_process_exit { }",
            None
        )
        .is_none());
    }

    #[test]
    fn tracepoints_the_workload_never_provokes_are_not_judged_once_measured() {
        let provoked = crate::check::Provoked::by_workload(["sched:sched_process_exit".to_owned()]);
        let swapon = "tracepoint:syscalls:sys_enter_swapon { @=count(); }";
        let why = not_exercised(swapon, Some(&provoked)).expect("not exercised");
        assert!(why.contains("sys_enter_swapon"), "{why}");
        // One provoked probe is enough for a smoke run; globs are never judged unprovoked.
        let both = "tracepoint:syscalls:sys_enter_swapon { }\nt:sched:sched_process_exit { }";
        assert!(not_exercised(both, Some(&provoked)).is_none());
        assert!(not_exercised("tracepoint:syscalls:sys_enter_* { }", Some(&provoked)).is_none());
    }

    #[test]
    fn an_entry_point_the_host_never_uses_fails_with_the_ones_it_does() {
        let host = crate::host::HostFacts::for_tests_with_syscalls(&[
            "fork", "clone", "clone3", "vfork", "sync", "fsync", "swapon",
        ]);
        let provoked = crate::check::Provoked::by_workload([
            "syscalls:sys_enter_clone".to_owned(),
            "syscalls:sys_enter_fsync".to_owned(),
        ]);
        let fork = "tracepoint:syscalls:sys_enter_fork { @[comm] = count(); }";
        let why = bypassed_entry_points(&host, fork, Some(&provoked)).expect("bypassed");
        assert!(
            why.contains("sys_enter_fork never fired") && why.contains("sys_enter_clone"),
            "{why}"
        );
        // With the entry point the host uses, or without a measurement, nothing to say.
        let both = "tracepoint:syscalls:sys_enter_fork,tracepoint:syscalls:sys_enter_clone { }";
        assert!(bypassed_entry_points(&host, both, Some(&provoked)).is_none());
        assert!(bypassed_entry_points(&host, fork, None).is_none());
        // fsync is another operation than sync (another man page): a sync tracer is not told
        // to trace fsync; a call with no provoked variant is only "not exercised".
        let sync = "tracepoint:syscalls:sys_enter_sync { @ = count(); }";
        assert!(bypassed_entry_points(&host, sync, Some(&provoked)).is_none());
        let swapon = "tracepoint:syscalls:sys_enter_swapon { @ = count(); }";
        assert!(bypassed_entry_points(&host, swapon, Some(&provoked)).is_none());
        // stat() and lstat() are made through newfstatat by glibc: the old entry points fail.
        let stat_host =
            crate::host::HostFacts::for_tests_with_syscalls(&["newstat", "newlstat", "newfstatat"]);
        let fstatat =
            crate::check::Provoked::by_workload(["syscalls:sys_enter_newfstatat".to_owned()]);
        let old = "tracepoint:syscalls:sys_enter_newstat,tracepoint:syscalls:sys_enter_newlstat { @[comm] = count(); }";
        let why = bypassed_entry_points(&stat_host, old, Some(&fstatat)).expect("bypassed");
        assert!(why.contains("sys_enter_newfstatat"), "{why}");
    }

    #[test]
    fn a_self_rename_request_needs_the_name_the_workload_took() {
        let e =
            expect_of("flag any task that changes its own comm through prctl or /proc/self/comm");
        assert!(e.renames_self);
        assert!(!expect_of("audit every file rename with old and new path").renames_self);
        let file_renames =
            obs(&["pid=12 oldname=/tmp/kgent-smoke-1/a newname=/tmp/kgent-smoke-1/b"]);
        assert!(judge(&e, &file_renames).is_err());
        let comm_renames = obs(&["pid=12 oldcomm=kgent-smoke newcomm=kgent-smoke-rn"]);
        assert!(judge(&e, &comm_renames).is_ok());
        // The name an exec gives counts unless the request sets exec apart.
        let with_exec = obs(&[
            "pid=12 oldcomm=kgent-smoke newcomm=kgent-smoke-rn",
            "pid=13 oldcomm=python3 newcomm=kgent-smoke-exe",
        ]);
        assert!(judge(&e, &with_exec).is_ok());
        let apart = expect_of(
            "flag tasks that change their own name through prctl, not the change an exec makes",
        );
        assert!(apart.renames_self && apart.exec_renames_excluded);
        let why = judge(&apart, &with_exec).expect_err("exec rename shown");
        assert!(why.contains("exec"), "{why}");
    }

    #[test]
    fn silence_on_events_only_other_tasks_make_is_no_evidence() {
        let provoked = crate::check::Provoked {
            by_workload: ["syscalls:sys_enter_openat".to_owned()].into(),
            background: ["syscalls:sys_enter_sched_yield".to_owned()].into(),
        };
        let yields = "tracepoint:syscalls:sys_enter_sched_yield { @[comm] = count(); }";
        let why = fired_only_by_others(yields, Some(&provoked)).expect("inconclusive");
        assert!(why.contains("sys_enter_sched_yield"), "{why}");
        // One probe the workload makes itself: a silent run means something.
        let both = "t:syscalls:sys_enter_sched_yield, t:syscalls:sys_enter_openat { @ = count(); }";
        assert_eq!(fired_only_by_others(both, Some(&provoked)), None);
        // Events nobody fired are another matter (`not_exercised`), and nothing measured
        // says nothing.
        let swapon = "tracepoint:syscalls:sys_enter_swapon { @ = count(); }";
        assert_eq!(fired_only_by_others(swapon, Some(&provoked)), None);
        assert_eq!(fired_only_by_others(yields, None), None);
        // A best match only other tasks make cannot be checked by a run either: no refusal
        // for passing it over.
        let best = [BestMatch {
            what: "the request".into(),
            event: "syscalls:sys_enter_sched_yield".into(),
        }];
        assert_eq!(passed_over_best(swapon, &best, Some(&provoked), &[]), None);
    }

    #[test]
    fn an_unexercised_program_must_not_pass_over_a_provoked_best_match() {
        let provoked = crate::check::Provoked::by_workload(["sched:sched_process_exit".to_owned()]);
        let best = |what: &str, event: &str| BestMatch {
            what: what.into(),
            event: event.into(),
        };
        let other = "tracepoint:sched:sched_kthread_stop { printf(\"%d\\n\", pid); }";
        let exit = [best("the request", "sched:sched_process_exit")];
        let why = passed_over_best(other, &exit, Some(&provoked), &[]).expect("refused");
        assert!(why.contains("tracepoint:sched:sched_process_exit"), "{why}");
        let on_best = "tracepoint:sched:sched_process_exit { printf(\"%d\\n\", pid); }";
        assert_eq!(passed_over_best(on_best, &exit, Some(&provoked), &[]), None);
        // A best match the workload never provokes, or nothing measured: nothing to say.
        let oom = [best("the request", "oom:mark_victim")];
        assert_eq!(passed_over_best(other, &oom, Some(&provoked), &[]), None);
        assert_eq!(passed_over_best(other, &exit, None, &[]), None);
        // Several things asked about: on the best of one of them, the program may be right
        // (the OOM killer's victim for "OOM kills with their exit"), whatever the others' bests.
        let victim = "tracepoint:oom:mark_victim { printf(\"%d\\n\", args->pid); }";
        let both = [
            best("\"oom\"", "oom:mark_victim"),
            best("\"exit\"", "sched:sched_process_exit"),
        ];
        assert_eq!(passed_over_best(victim, &both, Some(&provoked), &[]), None);
        let why = passed_over_best(other, &both, Some(&provoked), &[]).expect("refused");
        assert!(why.contains("for \"exit\""), "{why}");
        // On the tracepoint of a call the request names ("each timer_settime call"): that
        // call is what was asked, whatever ranks first for its other words.
        let timer = [best("\"timer\"", "sched:sched_process_exit")];
        let call =
            "tracepoint:syscalls:sys_enter_timer_settime { printf(\"%d\\n\", args->flags); }";
        assert!(passed_over_best(call, &timer, Some(&provoked), &[]).is_some());
        let named = ["timer_settime".to_owned()];
        assert_eq!(
            passed_over_best(call, &timer, Some(&provoked), &named),
            None
        );
    }

    #[test]
    fn silence_under_a_stated_condition_the_workload_never_meets_says_nothing() {
        let provoked = crate::check::Provoked::by_workload([
            "irq:softirq_entry".to_owned(),
            "irq:softirq_exit".to_owned(),
            "syscalls:sys_exit_openat".to_owned(),
        ]);
        let slow = "tracepoint:irq:softirq_entry { @s[cpu] = nsecs; }\n\
                    tracepoint:irq:softirq_exit /@s[cpu]/ { $d = (nsecs - @s[cpu]) / 1000000; if ($d > 50) { printf(\"%d\\n\", $d); } delete(@s[cpu]); }";
        let over = Intent::read("softirq handlers running over 50 ms, with how long they ran");
        assert!(condition_never_met(&over, slow, Some(&provoked)).is_some());
        // Nothing measured, or no condition stated: silence is a failure as before.
        assert!(condition_never_met(&over, slow, None).is_none());
        let every = Intent::read("every softirq handler, with how long it ran");
        assert!(condition_never_met(&every, slow, Some(&provoked)).is_none());
        // The workload does fail opens: a failed-open program that printed nothing is wrong.
        let opens =
            "tracepoint:syscalls:sys_exit_openat /args->ret > 0/ { printf(\"%d\\n\", args->ret); }";
        let failed = Intent::read("opens that fail, with the error");
        assert!(condition_never_met(&failed, opens, Some(&provoked)).is_none());
        // It never makes an rmdir fail: a failed-rmdir program's silence says nothing.
        let rmdirs = crate::check::Provoked::by_workload(["syscalls:sys_exit_rmdir".to_owned()]);
        let failing =
            "tracepoint:syscalls:sys_exit_rmdir /args->ret < 0/ { printf(\"%d\\n\", args->ret); }";
        let asked_rmdir = Intent::read("rmdir calls that fail, with the error");
        assert!(condition_never_met(&asked_rmdir, failing, Some(&rmdirs)).is_some());
        // A signal the workload never sends (it sends SIGTERM) names a condition it never meets.
        let generate = crate::check::Provoked::by_workload(["signal:signal_generate".to_owned()]);
        let segv =
            "tracepoint:signal:signal_generate /args->sig == 11/ { printf(\"%d\\n\", args->pid); }";
        let asked = Intent::read("which processes get a SIGSEGV, by pid");
        assert!(condition_never_met(&asked, segv, Some(&generate)).is_some());
        let term = Intent::read("which processes get a SIGTERM, by pid");
        assert!(condition_never_met(&term, segv, Some(&generate)).is_none());
        // A documented value of a field the request names (lseek(2)'s SEEK_HOLE), which the
        // workload never passes; the same program for a request stating nothing is silent.
        let seeks = crate::check::Provoked::by_workload(["syscalls:sys_enter_lseek".to_owned()]);
        let hole =
            "tracepoint:syscalls:sys_enter_lseek /args->whence == 4/ { printf(\"%d\\n\", args->fd); }";
        let holes = Intent::read("lseek() calls given SEEK_HOLE, with the descriptor");
        let why = condition_never_met(&holes, hole, Some(&seeks)).expect("not exercised");
        assert!(why.contains("SEEK_HOLE"), "{why}");
        let any = Intent::read("lseek() calls, with the descriptor");
        assert!(condition_never_met(&any, hole, Some(&seeks)).is_none());
        // A bound the request writes without a unit ("a queue longer than 300"), which the
        // program's filter compares a field with: the workload's values are its own.
        let listens = crate::check::Provoked::by_workload(["syscalls:sys_enter_listen".to_owned()]);
        let long = "tracepoint:syscalls:sys_enter_listen /args->backlog > 300/ { printf(\"%d\\n\", args->backlog); }";
        let deep = Intent::read("listen() with a queue longer than 300: who and the backlog");
        let why = condition_never_met(&deep, long, Some(&listens)).expect("not exercised");
        assert!(why.contains("300"), "{why}");
        let every = Intent::read("every listen() of process 300: the backlog");
        let pinned = "tracepoint:syscalls:sys_enter_listen /pid == 300/ { printf(\"%d\\n\", args->backlog); }";
        assert!(condition_never_met(&every, pinned, Some(&listens)).is_none());
        // A value the request states and the filter pins a field to: the workload's dup2(2)
        // targets a fresh descriptor, never 7.
        let dups = crate::check::Provoked::by_workload(["syscalls:sys_enter_dup2".to_owned()]);
        let onto = Intent::read("dup2 calls onto file descriptor 7, with the old descriptor");
        let seven = "tracepoint:syscalls:sys_enter_dup2 /args->newfd == 7/ { printf(\"%d\\n\", args->oldfd); }";
        let why = condition_never_met(&onto, seven, Some(&dups)).expect("not exercised");
        assert!(why.contains('7'), "{why}");
        // An event the workload never provokes is `not_exercised`'s business.
        let timers = "tracepoint:timer:timer_expire_entry /args->now > 5/ { printf(\"x\\n\"); }";
        assert!(condition_never_met(&over, timers, Some(&provoked)).is_none());
    }

    #[test]
    fn silence_fails() {
        let e = judge(
            &Expectation::default(),
            &obs(&["Attaching 2 probes...", ""]),
        );
        assert!(e.unwrap_err().contains("printed nothing"));
    }

    #[test]
    fn identity_must_show_the_workload() {
        let want = expect_of("which processes delete files?");
        assert!(want.identifies);
        assert!(matches!(
            judge(&want, &obs(&["bash 17 /etc/x"])),
            Err(Misjudged::WorkloadUnseen(_))
        ));
        assert!(judge(&want, &obs(&["kgent-smoke 4242 /tmp/kgent-smoke-x/a"])).is_ok());
        assert!(judge(&want, &obs(&["python3 4243"])).is_ok());
        // Nor does a tally of a process the request names.
        let text = "which syscalls do the processes called 'db-sync' make, and how often";
        assert!(Intent::read(text).asks(Concept::Identifies));
        let named = expect_of(text);
        assert!(!named.identifies);
        assert!(judge(&named, &obs(&["@calls[17]: 4", "@calls[0]: 9"])).is_ok());
        // An aggregate the request does not ask to attribute needs no names.
        let hist = expect_of("a histogram of read sizes");
        assert!(!hist.identifies);
        assert!(judge(&hist, &obs(&["[64K, 128K) 1 |@@@@|"])).is_ok());
        // The name of a kernel object is the kernel's, never the workload's.
        assert!(!expect_of("log softirq runs with the handler name").identifies);
        assert!(!expect_of("print timer expiries with the callback function names").identifies);
        assert!(
            expect_of("print timer expiries with the callback function and process names")
                .identifies
        );
        // Nor the name of a value the call carries: a socket option's, a signal's.
        assert!(!expect_of("tally getsockopt calls by level and option name").identifies);
        assert!(!expect_of("print every signal sent with its signal name").identifies);
        assert!(
            expect_of("print every signal sent with its signal name and the sender's name")
                .identifies
        );
    }

    #[test]
    fn arguments_must_show_the_workloads_own() {
        let want = expect_of("log every program executed with its command-line arguments");
        assert!(want.arguments);
        // A parameter is no command line: the workload's argument is not expected.
        let param = Intent::read("each mmap call with its length argument");
        let at_mmap = "tracepoint:syscalls:sys_enter_mmap { printf(\"%d\\n\", args->len); }";
        assert!(!expectation_for(&param, at_mmap).arguments);
        let at_exec =
            "tracepoint:syscalls:sys_enter_execve { printf(\"%s\\n\", str(args->filename)); }";
        assert!(expectation_for(&param, at_exec).arguments);
        assert!(judge(&want, &obs(&["kgent-smoke 4242 \u{1}garbage"])).is_err());
        assert!(judge(&want, &obs(&["kgent-smoke 4242 /tmp/x --kgent-smoke-arg"])).is_ok());
    }

    #[test]
    fn ipv6_requests_need_the_workloads_ipv6_connection() {
        let want = expect_of("tcp connects, IPv4 and IPv6 alike, with the port");
        assert!(want.ipv6);
        let mut o = obs(&["kgent-smoke 127.0.0.1 41000"]);
        o.facts.ports = vec![41000, 41001];
        assert!(judge(&want, &o).is_err());
        o.lines.push("kgent-smoke ::1 41001".into());
        assert!(judge(&want, &o).is_ok());
        // Asked for addresses, the port alone is not enough: 0.0.0.0 is no IPv6 address.
        let addresses = expect_of("tcp connects, IPv4 and IPv6, with the destination address");
        assert!(addresses.addresses);
        o.lines = vec![
            "kgent-smoke 127.0.0.1 41000".into(),
            "kgent-smoke 0.0.0.0 41001".into(),
        ];
        assert!(judge(&addresses, &o).is_err());
        assert!(judge(&want, &o).is_ok());
    }

    #[test]
    fn exit_codes_must_show_the_childs_3_not_the_wait_status() {
        let want = expect_of("tasks ending with an exit status other than zero");
        assert!(want.exit_status);
        let mut o = obs(&["kgent-smoke-ch 4243 exit_code=768"]);
        o.facts.exited_3 = Some(4243);
        let e = judge(&want, &o).unwrap_err();
        assert!(e.contains("raw wait status"), "{e}");
        o.lines = vec!["kgent-smoke-ch pid=4243 code=3".into()];
        assert!(judge(&want, &o).is_ok());
        o.lines = vec!["python3 pid=17 code=1".into()];
        assert!(judge(&want, &o)
            .unwrap_err()
            .contains("no line shows that child"));
    }

    #[test]
    fn what_the_request_filters_away_must_not_be_printed() {
        let failed = expect_of("show opens that fail, with the path and errno");
        assert_eq!(failed.excluded, [Exclusion::SuccessfulOpens]);
        let all = "kgent-smoke 4242 /tmp/kgent-smoke-x/kgent-smoke-file.txt 0";
        let missing = "kgent-smoke 4242 /tmp/kgent-smoke-x/kgent-smoke-missing.txt 2";
        let e = judge(&failed, &obs(&[all, missing])).unwrap_err();
        assert!(e.contains("opened successfully"), "{e}");
        assert!(judge(&failed, &obs(&[missing])).is_ok());
        // No filter in the request: everything may show.
        assert!(judge(&expect_of("show every open with its path"), &obs(&[all])).is_ok());

        let nonzero = expect_of("tasks ending with an exit status other than zero");
        let mut o = obs(&["kgent-smoke-ch 4243 3", "kgent-smoke-exe 4250 0"]);
        o.facts.exited_3 = Some(4243);
        assert!(judge(&nonzero, &o).unwrap_err().contains("status 0"));
        o.lines.pop();
        assert!(judge(&nonzero, &o).is_ok());

        let ww = expect_of("alert when a file is made world-writable");
        assert!(judge(
            &ww,
            &obs(&["kgent-smoke 4242 /tmp/kgent-smoke-x/kgent-smoke-private.txt 640"])
        )
        .is_err());
        assert!(judge(
            &ww,
            &obs(&["kgent-smoke 4242 /tmp/kgent-smoke-x/kgent-smoke-file.txt 777"])
        )
        .is_ok());
    }

    #[test]
    fn ports_in_network_byte_order_fail() {
        let want = expect_of("show tcp connections with their destination port");
        let swapped = 41000u16.swap_bytes().to_string();
        let e = judge(&want, &obs(&[&format!("kgent-smoke 127.0.0.1:{swapped}")])).unwrap_err();
        assert!(e.contains("network byte order"), "{e}");
        assert!(judge(&want, &obs(&["kgent-smoke 127.0.0.1:41000"])).is_ok());
    }

    #[test]
    fn kernel_category_names_alone_need_not_show_the_workload() {
        let intent = Intent::read("count each kind of softirq by its name");
        assert!(expectation(&intent).identifies);
        let by_name = "BEGIN { @kq_name_vec[3] = \"NET_RX\"; }\n\
                       tracepoint:irq:softirq_entry { @n[@kq_name_vec[args->vec]] = count(); }";
        assert!(!expectation_for(&intent, by_name).identifies);
        let with_comm = "BEGIN { @kq_name_vec[3] = \"NET_RX\"; }\n\
                         tracepoint:irq:softirq_entry { @n[comm, @kq_name_vec[args->vec]] = count(); }";
        assert!(expectation_for(&intent, with_comm).identifies);
        let plain = "tracepoint:irq:softirq_entry { @n[args->vec] = count(); }";
        assert!(expectation_for(&intent, plain).identifies);
        // The name of a kernel object the event is about (an interrupt handler's), outside
        // the syscalls: the workload has none to show.
        let handlers = Intent::read("tally device interrupts per handler name and process");
        assert!(expectation(&handlers).identifies);
        let by_handler = "tracepoint:irq:irq_handler_entry { @n[str(args->name)] = count(); }";
        assert!(!expectation_for(&handlers, by_handler).identifies);
        let with_pid = "tracepoint:irq:irq_handler_entry { @n[pid, str(args->name)] = count(); }";
        assert!(expectation_for(&handlers, with_pid).identifies);
        // A syscall's name argument may be the workload's: still expected.
        let syscall =
            "tracepoint:syscalls:sys_enter_sethostname { printf(\"%s\\n\", str(args->name)); }";
        assert!(expectation_for(&handlers, syscall).identifies);
        // The kernel function a tracepoint carries, as a symbol: a kernel object too.
        let callbacks = Intent::read("which work functions run most often");
        let by_symbol =
            "tracepoint:workqueue:workqueue_execute_start { @n[ksym(args->function)] = count(); }";
        assert!(!expectation_for(&callbacks, by_symbol).identifies);
        let with_comm = "tracepoint:workqueue:workqueue_execute_start { @n[comm, ksym(args->function)] = count(); }";
        assert!(expectation_for(&callbacks, with_comm).identifies);
    }
}
