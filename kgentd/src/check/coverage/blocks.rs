//! How a program's blocks relate to each other: a span timed within one event, a span whose
//! start is never checked, a process lifetime timed as one call, a field read at entry that the
//! kernel fills in at exit, the same block written twice.
use super::*;

/// Two blocks with the same probes, condition and actions: every event runs both, so each is
/// counted or printed twice.
pub(super) fn repeated_blocks(source: &str) -> Option<String> {
    let code = strip_comments(source);
    let blocks = probe_blocks(&code);
    let key = |b: &crate::toolchain::bpftrace::ProbeBlock| {
        let squash = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        let probes: Vec<String> = b
            .probes
            .iter()
            .map(|p| format!("{}:{}", p.prefix, p.target))
            .collect();
        (
            probes.join(","),
            squash(b.predicate.as_ref().map_or("", |p| p.condition.as_str())),
            squash(&b.body),
        )
    };
    let keys: Vec<_> = blocks.iter().map(key).collect();
    keys.iter().enumerate().find_map(|(i, k)| {
        (keys[..i].contains(k) && !k.0.is_empty()).then(|| {
            format!(
                "the program has the same block on {} twice: every event runs both, so each is counted or printed twice; keep one",
                k.0
            )
        })
    })
}

/// What a syscall fills in (a parameter pointing to a struct its man page does not declare
/// const: accept's peer address, stat's buffer; `SyscallMan::written_fields`) read at its
/// `sys_enter_*` tracepoint, where it is not written yet: the program shows whatever the
/// memory held before the call. Saving the pointer (`@a[tid] = args->upeer_sockaddr;`) is
/// fine; reading through it there is not.
pub(super) fn filled_in_read_at_entry(host: &HostFacts, source: &str) -> Vec<String> {
    let man = crate::knowledge::syscall_man::SyscallMan::shipped();
    let mut out = Vec::new();
    for b in probe_blocks(source) {
        let body = STRING
            .replace_all(&strip_comments(&b.body), "\"\"")
            .into_owned();
        for p in b.probes.iter().filter(|p| p.is_tracepoint()) {
            let Some(tp) = host.tracepoints.get(&p.target) else {
                continue;
            };
            let call = tp.event.trim_start_matches("sys_enter_");
            for field in man.written_fields(&tp.event, tp.fields.iter().map(|f| f.name.as_str())) {
                let name = regex::escape(&field);
                let (Ok(read), Ok(saved)) = (
                    Regex::new(&format!(r"args\s*(->|\.)\s*{name}\b")),
                    Regex::new(&format!(r"=\s*args\s*(->|\.)\s*{name}\s*;")),
                ) else {
                    continue;
                };
                if read.find_iter(&body).count() > saved.find_iter(&body).count() {
                    out.push(format!(
                        "{call}(2) fills in what args->{field} points to, but the program reads it at {}, before the call has written it: save the pointer there (`@{field}[tid] = args->{field};`) and read it at tracepoint:syscalls:sys_exit_{call}, when args->ret shows the call succeeded",
                        p.target
                    ));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A request about how long something existed ([`Concept::Lifetime`]: a file from its
/// creation to its removal, a process from fork to exit) answered by the latency of one call:
/// every time the program subtracts was stored at a call's entry (`sys_enter_X`, `uprobe:F`)
/// and is read at that same call's exit (`sys_exit_X`, `uretprobe:F`).
/// A time span whose start is stored and read at the same event (`@start[tid] = nsecs` and
/// `nsecs - @start[tid]` both at writeback_queue_io, and nowhere else) measures the few
/// nanoseconds between two handlers of one event, not anything the request asks about: a span
/// runs from one event to another (an entry to its return, an issue to its completion).
pub(super) fn span_within_one_event(source: &str) -> Option<String> {
    static STORED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(@\w+)\s*(?:\[([^\]]*)\])?\s*=\s*nsecs\b").expect("static regex")
    });
    static READ: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"nsecs\s*-\s*(@\w+)(?:\s*\[([^\]]*)\])?").expect("static regex")
    });
    let blocks = probe_blocks(&strip_comments(source));
    // (map, its key as written) → the probes where it is stored / read. A store under a test
    // of the event's own fields (`if (args->newstate == 1)`) marks one kind of occurrence of
    // the event, read at another (a TCP socket's ESTABLISHED to its CLOSE): not counted.
    let uses = |re: &Regex, skip_field_tested: bool| -> BTreeSet<(String, String, String)> {
        let mut out = BTreeSet::new();
        for b in &blocks {
            let tested = if skip_field_tested {
                field_tested_ranges(&b.body)
            } else {
                Vec::new()
            };
            for c in re.captures_iter(&b.body) {
                let at = c.get(0).map_or(0, |m| m.start());
                if tested.iter().any(|r| r.contains(&at)) {
                    continue;
                }
                let map = c.get(1).map_or("", |m| m.as_str()).to_owned();
                let key: String = c
                    .get(2)
                    .map_or("", |m| m.as_str())
                    .split_whitespace()
                    .collect();
                for p in &b.probes {
                    let prefix = if p.is_tracepoint() {
                        "tracepoint"
                    } else {
                        p.prefix.as_str()
                    };
                    out.insert((map.clone(), key.clone(), format!("{prefix}:{}", p.target)));
                }
            }
        }
        out
    };
    let stored = uses(&STORED, true);
    let read = uses(&READ, false);
    // A span is within one event when its map is stored at that one probe only and read,
    // under the same key, at that probe only: keyed differently (sched_switch's next_pid
    // stored, prev_pid read), it runs from one task's switch to another's.
    let maps: BTreeSet<String> = read.iter().map(|(m, _, _)| m.clone()).collect();
    maps.into_iter().find_map(|map| {
        let at = |set: &BTreeSet<(String, String, String)>| -> BTreeSet<(String, String)> {
            set.iter()
                .filter(|(m, _, _)| *m == map)
                .map(|(_, k, p)| (k.clone(), p.clone()))
                .collect()
        };
        let (s, r) = (at(&stored), at(&read));
        let probes: BTreeSet<&String> = s.iter().chain(&r).map(|(_, p)| p).collect();
        (probes.len() == 1 && !s.is_empty() && s == r).then(|| {
            format!(
                "{map} is stored and read under the same key at the same event ({}): the span is the time between two handlers of one event, near zero; time it from the event where it starts to the one where it ends",
                probes.iter().next().map_or("", |p| p.as_str())
            )
        })
    })
}

/// A span the specs measure on one CPU (`start_key = "cpu"`: a softirq or a hardware
/// interrupt handler runs from its entry to its exit on the CPU it entered on, without
/// another of its kind between), timed by the program under a start key without `cpu`
/// (`@start[args->vec] = nsecs` at softirq_entry): two CPUs running the same vector take
/// each other's start, and one end finds none. `tid` keeps them apart too: the task a
/// handler interrupted (or ksoftirqd) stays on that CPU until the handler returns.
pub(super) fn span_off_its_cpu(source: &str) -> Option<String> {
    static STORED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(@\w+)\s*(?:\[([^\]]*)\])?\s*=\s*nsecs\b").expect("static regex")
    });
    static CPU: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?:^|[^\w>.])(?:cpu|tid)\b").expect("static regex"));
    let blocks = probe_blocks(&strip_comments(source));
    let attached = |probe: &str| {
        blocks.iter().any(|b| {
            b.probes
                .iter()
                .any(|p| p.is_tracepoint() && format!("tracepoint:{}", p.target) == probe)
        })
    };
    for b in &blocks {
        for c in STORED.captures_iter(&b.body) {
            let key = c.get(2).map_or("", |m| m.as_str());
            if CPU.is_match(key) {
                continue;
            }
            for p in b.probes.iter().filter(|p| p.is_tracepoint()) {
                let start = format!("tracepoint:{}", p.target);
                let Some((end, span)) = crate::knowledge::specs::spans().find(|(end, span)| {
                    span.start == start && span.start_key.trim() == "cpu" && attached(end)
                }) else {
                    continue;
                };
                return Some(format!(
                    "{} is keyed by [{}] at {start}, but {}: key it by cpu (or tid) at {start} and at {end} (specs-db/attach-points.toml)",
                    &c[1],
                    key.trim(),
                    span.means
                ));
            }
        }
    }
    None
}

/// The bodies (byte ranges of `body`) of the `if (…)` statements whose condition tests a field
/// of the event (`args->…`).
pub(super) fn field_tested_ranges(body: &str) -> Vec<std::ops::Range<usize>> {
    static IF: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\bif\s*\(([^{]*)\)\s*\{").expect("static regex"));
    let mut out = Vec::new();
    for c in IF.captures_iter(body) {
        if !c[1].contains("args") {
            continue;
        }
        let Some(open) = c.get(0).map(|m| m.end()) else {
            continue;
        };
        let mut depth = 1usize;
        for (i, ch) in body[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        out.push(open..open + i);
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// A span's start time subtracted where it may never have been stored: a map that holds
/// `nsecs` reads as 0 for a key never stored (bpftrace(8), "Maps": a missing key reads as
/// zero), so `nsecs - @start[tid]` for a thread whose start was not seen (it began before
/// tracing, or at an event the program does not attach to) is the time since boot. The block
/// must test the entry first: in its predicate (`/@start[tid]/`), an `if` around the
/// subtraction, or a `$s = @start[tid]` that it tests (`if ($s)`, `$s ? … : …`). The kernel's
/// and bpftrace's own tools all do (biolatency.bt, runqlat.bt, syscount).
pub(super) fn span_start_unchecked(source: &str) -> Option<String> {
    static STORED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(@\w+)\s*(?:\[[^\]]*\])?\s*=\s*nsecs\b").expect("static regex")
    });
    static SUBTRACTED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"-\s*(@\w+)\b").expect("static regex"));
    static SAVED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(\$\w+)\s*=\s*(@\w+)\s*\[").expect("static regex"));
    let blocks = probe_blocks(&strip_comments(source));
    let clocks: BTreeSet<String> = blocks
        .iter()
        .flat_map(|b| {
            STORED
                .captures_iter(&b.body)
                .map(|c| c[1].to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    for b in &blocks {
        let pred = b.predicate.as_ref().map_or("", |p| p.condition.as_str());
        // The conditions of the block: its predicate, every `if (…)` and every `… ?`.
        let tests = |name: &str| {
            let name = regex::escape(name);
            let matches = |pattern: String, text: &str| {
                Regex::new(&pattern).is_ok_and(|re| re.is_match(text))
            };
            matches(format!(r"{name}\b"), pred)
                || matches(format!(r"if\s*\([^{{]*{name}\b"), &b.body)
                || matches(format!(r"{name}\b[^;{{]*\?"), &b.body)
        };
        for c in SUBTRACTED.captures_iter(&b.body) {
            let map = &c[1];
            if !clocks.contains(map) || tests(map) {
                continue;
            }
            // Read into a scratch variable that is tested.
            let via_var = SAVED
                .captures_iter(&b.body)
                .any(|v| &v[2] == map && tests(&v[1]));
            if via_var {
                continue;
            }
            let probes: Vec<String> = b
                .probes
                .iter()
                .map(|p| format!("{}:{}", p.prefix, p.target))
                .collect();
            return Some(format!(
                "{map} is subtracted at {} without checking it was stored: a key never stored reads as 0, so the result is the time since boot; test it first (`/{map}[tid]/`, or `$s = {map}[tid]; if ($s) {{ … }}`)",
                probes.join(", ")
            ));
        }
    }
    None
}

pub(super) fn lifetime_timed_as_one_call(intent: &Intent, source: &str) -> Option<String> {
    if !intent.asks(Concept::Lifetime) {
        return None;
    }
    static STORED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(@\w+)\s*\[[^\]]*\]\s*=\s*nsecs\b").expect("static regex"));
    static READ: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"nsecs\s*-\s*(@\w+)").expect("static regex"));
    // A call's entry or exit side, as (call, is_entry).
    let side = |p: &ProbeSpec| -> Option<(String, bool)> {
        if p.is_tracepoint() {
            let t = p.target.strip_prefix("syscalls:sys_")?;
            let (dir, call) = t.split_once('_')?;
            return Some((call.to_owned(), dir == "enter"));
        }
        match p.prefix.as_str() {
            "uprobe" | "u" => Some((p.target.clone(), true)),
            "uretprobe" | "ur" => Some((p.target.clone(), false)),
            _ => None,
        }
    };
    let blocks = probe_blocks(&strip_comments(source));
    let mut pairs = 0;
    let mut calls: Vec<String> = Vec::new();
    for read_block in &blocks {
        for map in READ
            .captures_iter(&read_block.body)
            .filter_map(|c| c.get(1))
        {
            for start_block in &blocks {
                let stores = STORED
                    .captures_iter(&start_block.body)
                    .any(|c| c.get(1).is_some_and(|m| m.as_str() == map.as_str()));
                if !stores {
                    continue;
                }
                pairs += 1;
                let entries: Vec<Option<(String, bool)>> =
                    start_block.probes.iter().map(side).collect();
                let exits: Vec<Option<(String, bool)>> =
                    read_block.probes.iter().map(side).collect();
                let one_call = entries.iter().all(|e| matches!(e, Some((_, true))))
                    && exits.iter().all(|e| matches!(e, Some((_, false))))
                    && exits
                        .iter()
                        .flatten()
                        .all(|(c, _)| entries.iter().flatten().any(|(e, _)| e == c));
                if !one_call {
                    return None;
                }
                for (c, _) in exits.into_iter().flatten() {
                    if !calls.contains(&c) {
                        calls.push(c);
                    }
                }
            }
        }
    }
    (pairs > 0).then(|| {
        format!(
            "the request asks how long something existed, but the program times one call from its entry to its exit ({}): record the time at the event that creates the object (keyed by what names it: a file name, a pid, a socket), and subtract it at the event that removes or ends it",
            calls.join(", ")
        )
    })
}
