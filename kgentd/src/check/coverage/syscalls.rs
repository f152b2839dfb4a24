//! Which system calls the program traces: the calls the request names, all of them where it
//! asks about system calls in general, and telling the calls apart where it traces several.
use super::*;

/// A request about system calls in general (their errors, counts, latency: [`Concept::AllSyscalls`])
/// that names no syscall of this host, answered with a few chosen syscalls: it is about every
/// one, which `raw_syscalls:sys_enter`/`sys_exit` (or a `syscalls:sys_*_*` wildcard) observe.
pub(super) fn some_syscalls_for_all(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
) -> Option<String> {
    if !intent.asks(Concept::AllSyscalls) {
        return None;
    }
    let names_one = intent
        .calls
        .iter()
        .chain(intent.syscall_names())
        .any(|w| !syscall_variants(host, w).is_empty());
    if names_one {
        return None;
    }
    let probes: Vec<ProbeSpec> = probe_blocks(source)
        .into_iter()
        .flat_map(|b| b.probes)
        .filter(ProbeSpec::is_tracepoint)
        .collect();
    let every = probes.iter().any(|p| {
        p.target.starts_with("raw_syscalls:")
            || (p.target.starts_with("syscalls:") && p.target.contains('*'))
    });
    (!every).then(|| {
        "the request is about system calls in general and names none, but the program observes only some: attach to tracepoint:raw_syscalls:sys_exit (args->id is the syscall number, args->ret its result) or tracepoint:raw_syscalls:sys_enter, which fire for every system call".to_owned()
    })
}

/// A request that names its system calls ("with fchdir", "unlink() or unlinkat()") answered
/// by a program that also traces syscalls it does not name (`chdir` beside `fchdir`): each
/// extra one reports events nobody asked for. A named call's variants are named with it
/// ([`syscall_variants`]: its `*at`/`*64` spellings, the calls its man page documents with
/// it, one kernel implementation's entry points). Judged only where the program traces a
/// named call too (a program on another event altogether is the subject check's business),
/// and not for requests about system calls in general. A block on `raw_syscalls:` that never
/// tests `args->id` traces every call: wrong for any request not about system calls in
/// general, named calls or not ("calls to the kernel function do_sys_open").
pub(super) fn unnamed_syscalls(host: &HostFacts, intent: &Intent, source: &str) -> Option<String> {
    if intent.asks(Concept::AllSyscalls) {
        return None;
    }
    let named = crate::knowledge::mentioned_syscalls(host, intent);
    let mut unnamed: Vec<String> = Vec::new();
    let mut traces_named = false;
    let blocks = probe_blocks(source);
    // A block on raw_syscalls that never compares the syscall number sees every call (keying
    // by it still counts them all).
    static ID_TESTED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"args\s*->\s*id\s*(==|!=|<=|>=|<|>)|(==|!=|<=|>=|<|>)\s*args\s*->\s*id\b")
            .expect("static regex")
    });
    let every_call = blocks.iter().find_map(|b| {
        let raw = b
            .probes
            .iter()
            .find(|p| p.is_tracepoint() && p.target.starts_with("raw_syscalls:"))?;
        let text = b.code();
        (!ID_TESTED.is_match(&text)).then(|| raw.target.clone())
    });
    if let Some(raw) = every_call {
        // Said with the calls the request names, not every word that is also a syscall's
        // name ("the time spent" is no call to time(2)).
        let calls = crate::knowledge::named_syscalls(host, intent);
        let asked = if calls.is_empty() {
            "the request is not about system calls in general".to_owned()
        } else {
            format!(
                "the request names the calls to trace ({})",
                calls.join(", ")
            )
        };
        return Some(format!(
            "{asked}, but the program sees every system call at tracepoint:{raw} without testing `args->id`: attach to the tracepoints of what the request is about"
        ));
    }
    if crate::knowledge::named_syscalls(host, intent).is_empty() {
        return None;
    }
    for p in blocks.iter().flat_map(|b| &b.probes) {
        let Some(call) = p
            .is_tracepoint()
            .then(|| p.target.strip_prefix("syscalls:"))
            .flatten()
            .and_then(|e| e.strip_prefix("sys_enter_").or(e.strip_prefix("sys_exit_")))
        else {
            continue;
        };
        if call.contains('*') {
            return None;
        }
        if named.iter().any(|n| n == call) {
            traces_named = true;
        } else if !unnamed.iter().any(|u| u == call) {
            unnamed.push(call.to_owned());
        }
    }
    (traces_named && !unnamed.is_empty()).then(|| {
        format!(
            "the request names the calls to trace ({}), but the program also traces {}, which it does not name: attach only to the calls the request names",
            named.join(", "),
            unnamed.join(", ")
        )
    })
}

/// A request that asks which call each report is about ([`Concept::WhichCall`]), answered by a
/// program on several events whose output cannot tell them apart: a block attached to two
/// events without the `probe` (or `func`) builtin, or blocks whose printed text is the same.
/// The entry and exit of one syscall or function are one event. `code` is the program without
/// comments and string contents.
pub(super) fn which_call_untold(intent: &Intent, source: &str, code: &str) -> Option<String> {
    if !intent.asks(Concept::WhichCall) {
        return None;
    }
    static NAMES_PROBE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\b(probe|func)\b").expect("static regex"));
    if NAMES_PROBE.is_match(code) {
        return None;
    }
    // At raw_syscalls:sys_enter/sys_exit (one event: every call's entry and exit) the call
    // is `args->id` (include/trace/events/syscalls.h), which a program reporting it tells.
    static READS_ID: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"args\s*->\s*id\b").expect("static regex"));
    let raw = |p: &ProbeSpec| p.target.starts_with("raw_syscalls:");
    if READS_ID.is_match(code)
        && probe_blocks(source)
            .iter()
            .flat_map(|b| &b.probes)
            .filter(|p| p.observes_events())
            .all(raw)
    {
        return None;
    }
    let event = |p: &ProbeSpec| {
        p.target
            .replace(":sys_exit_", ":sys_enter_")
            .replace("raw_syscalls:sys_exit", "raw_syscalls:sys_enter")
            .trim_start_matches("uretprobe:")
            .trim_start_matches("uprobe:")
            .to_owned()
    };
    let mut all = std::collections::BTreeSet::new();
    let mut texts: Vec<String> = Vec::new();
    let mut shared_block = false;
    for b in probe_blocks(source) {
        let events: std::collections::BTreeSet<String> = b
            .probes
            .iter()
            .filter(|p| p.observes_events())
            .map(event)
            .collect();
        if events.is_empty() {
            continue;
        }
        shared_block |= events.len() > 1;
        all.extend(events);
        let text: String = STRING.find_iter(&b.body).map(|m| m.as_str()).collect();
        texts.push(text);
    }
    let mut distinct = texts.clone();
    distinct.sort();
    distinct.dedup();
    let told = !shared_block && distinct.len() == texts.len();
    (all.len() > 1 && !told).then(|| {
        "the request asks which call each report is about, but the program's output is the same for all of its events: print the `probe` builtin (or use it as a map key)".to_owned()
    })
}

/// Syscalls the request names that the program never observes:
/// - written as calls (`bind()`, `sendto()`): the program must attach to one of its syscall
///   tracepoints, a variant's (`accept4` for `accept()`), or `raw_syscalls`;
/// - named by a word that is a syscall of this host and no everyday English word (`openat`,
///   `mkdir`, `futex`; [`Intent::syscall_words`]): as above, or through an event of another
///   subsystem the specs say the call fires (`fired_by`: `sched:sched_process_fork` observes
///   `fork`), or a uprobe on a function of that name. A program that only samples, or only
///   traces other syscalls or unrelated events, does not.
pub(super) fn named_calls_missing(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
) -> Option<String> {
    let probes: Vec<ProbeSpec> = probe_blocks(source)
        .into_iter()
        .flat_map(|b| b.probes)
        .collect();
    let targets: Vec<&str> = probes
        .iter()
        .filter(|p| p.is_tracepoint())
        .map(|p| p.target.as_str())
        .collect();
    if targets.iter().any(|t| t.starts_with("raw_syscalls:")) {
        return None;
    }
    let named = intent.calls.iter().map(|c| (c, true)).chain(
        intent
            .syscall_names()
            .filter(|w| !intent.calls.contains(w))
            .map(|w| (w, false)),
    );
    let named: Vec<(&String, bool)> = named.collect();
    let mut unmet = Vec::new();
    let mut unmet_broader = Vec::new();
    for &(name, as_call) in &named {
        // A variant the request names on its own ("sync, syncfs") is another call to it.
        let variants: Vec<String> = syscall_variants(host, name)
            .into_iter()
            .filter(|v| v == name || !named.iter().any(|(n, _)| *n == v))
            .collect();
        if variants.is_empty() {
            continue; // not a syscall here (a library function: malloc(), getaddrinfo())
        }
        let used = variants.iter().any(|v| {
            targets.iter().any(|t| {
                *t == format!("syscalls:sys_enter_{v}") || *t == format!("syscalls:sys_exit_{v}")
            })
        });
        // An event the call makes fire (kill() → signal:signal_generate, from the kernel
        // source: `fired_by` in specs-db/attach-points.toml) observes it, as a call too.
        let firing: Vec<String> = targets
            .iter()
            .map(|t| format!("tracepoint:{t}"))
            .filter(|t| {
                crate::knowledge::specs::fired_by(t)
                    .iter()
                    .any(|c| c == name || variants.contains(c))
            })
            .collect();
        let fires = !firing.is_empty();
        // Unless other causes fire it as well (`also_fired_by`): then it reports more than the
        // calls asked for. "Processes that call exit_group" answered at sched_process_exit
        // shows the ones a signal killed too; a call written as one is traced at its own
        // tracepoints.
        let also: Vec<(&String, &str)> = firing
            .iter()
            .filter_map(|t| crate::knowledge::specs::also_fired_by(t).map(|why| (t, why)))
            .collect();
        if let Some((t, why)) = also
            .first()
            .filter(|_| !used && also.len() == firing.len() && written_as_call(intent, name))
        {
            unmet_broader.push(format!(
                "{name}() calls, which the program watches at {t}: that event also fires for {why}, so it reports more than the calls asked for; trace tracepoint:syscalls:sys_enter_{name}"
            ));
            continue;
        }
        let observed_otherwise = fires
            || (!as_call
                && probes
                    .iter()
                    .any(|p| p.target.rsplit(':').next() == Some(name.as_str())));
        if !used && !observed_otherwise {
            let tps: Vec<String> = variants
                .iter()
                .map(|v| format!("tracepoint:syscalls:sys_enter_{v}"))
                .collect();
            let shown = if as_call {
                format!("{name}()")
            } else {
                format!("the {name} syscall")
            };
            unmet.push(format!("{shown} ({})", tps.join(", ")));
        }
    }
    let mut out: Vec<String> = unmet_broader
        .iter()
        .map(|b| format!("the request names {b}"))
        .collect();
    if !unmet.is_empty() {
        out.push(format!(
            "the request names {}, but the program attaches to none of its tracepoints",
            unmet.join(" and ")
        ));
    }
    (!out.is_empty()).then(|| out.join("\n"))
}

/// Whether the request writes `name` as a call: `name(`, a snake_case name (an identifier no
/// English word is), or right beside "call", "calls" or "called" ("call exit_group",
/// "exit_group calls").
fn written_as_call(intent: &Intent, name: &str) -> bool {
    if intent.calls.iter().any(|c| c == name)
        || (name.contains('_') && intent.identifiers.iter().any(|i| i == name))
    {
        return true;
    }
    let w = &intent.words;
    (0..w.len()).any(|i| {
        w[i] == name
            && [i.checked_sub(1), Some(i + 1)]
                .into_iter()
                .flatten()
                .any(|j| {
                    w.get(j)
                        .is_some_and(|x| matches!(x.as_str(), "call" | "calls" | "called"))
                })
    })
}
