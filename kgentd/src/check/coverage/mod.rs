//! The `request-coverage` check: what the request explicitly asks the program to report, checked
//! against what the program computes, before anything is loaded.
//!
//! A small model often answers a neighbouring question: a latency histogram for "how many bytes
//! each read returned", a pid where "which process" wants a name, `connect` for "every bind()".
//! Each rule below pairs plain words of the request with the program terms any correct answer
//! must contain ("how long" → a difference of `nsecs`; "per process name" → a map keyed by
//! `comm`; "in octal" → `%o`). Rules fire only on explicit wording and are satisfied by any of
//! several spellings, so a right program is not refused; what they catch comes back to the model
//! as one concrete line per missing item.
use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use super::{Check, CheckKind, Evidence};
use crate::host::HostFacts;
use crate::intent::{Concept, Intent};
use crate::knowledge::syscall_variants;
use crate::toolchain::bpftrace::{args_fields, probe_blocks, strip_comments, ProbeSpec};

mod blocks;
mod fields;
mod functions;
mod keys;
mod syscalls;
mod tasks;
mod values;

use blocks::{
    filled_in_read_at_entry, lifetime_timed_as_one_call, repeated_blocks, span_off_its_cpu,
    span_start_unchecked, span_within_one_event,
};
use fields::{
    file_names_untold, local_port_missing, named_fields_unreported, parameters_unreported,
    size_compared_with_another_field, stated_port_untested, stated_size_unused,
};
use functions::{function_result_unread, function_values_unread};
pub use keys::{droppable_keys, KeyDrop};
use keys::{phrase_without_key, tallies_without_key, unasked_keys};
use syscalls::{named_calls_missing, some_syscalls_for_all, unnamed_syscalls, which_call_untold};
pub use tasks::keeps_positive_result;
use tasks::{
    acting_task_missing, child_return_unfiltered, child_task_missing, target_task_missing,
    threads_untold,
};
use values::{
    code_meanings_unread, errnos_untested, flag_meanings_unread, named_flags_untested,
    named_values_untested, signals_untested,
};

/// One thing a request asks to see.
struct Rule {
    /// What the request asks for, in the diagnostic ("the process name").
    what: &'static str,
    /// The concept of the request that asks for it (its wording: `specs-db/intent.toml`).
    asked: Concept,
    /// Program code (comments and string literals removed) that provides it.
    code: &'static str,
    /// Whether `code` must appear in what the program reports (block bodies without `if`
    /// conditions), not merely in a filter (`/comm == "x"/` reports no name).
    reported: bool,
    /// Or: format strings that provide it (`%o`), when it is about formatting.
    format: Option<&'static str>,
    /// How to provide it, for the model.
    hint: &'static str,
}

const RULES: &[Rule] = &[
    Rule {
        what: "the process name",
        asked: Concept::ProcessName,
        code: r"\bcomm\b|_comm\b",
        reported: true,
        format: None,
        hint: "print `comm` (or use it as a map key)",
    },
    Rule {
        what: "the PID",
        asked: Concept::Pid,
        // `pid1`, `pid2`: kcmp(2)'s two processes.
        code: r"\bpid\d?\b|\btid\b|_pid\b",
        reported: true,
        format: None,
        hint: "print `pid`",
    },
    Rule {
        what: "a duration (how long something took)",
        asked: Concept::Duration,
        // A difference of timestamps, or a time the event carries (a timespec the call is
        // given, a field in time units: `delay`, `runtime`, `*_nsec`).
        code: r"(nsecs|elapsed)\s*-|-\s*[@$]|-\s*(nsecs|elapsed)|-\s*\(|\btv_n?sec\b|args\s*->\s*\w*(_n?sec|_[num]?secs|_ns|_us|_ms|delay|runtime|duration|latency)\b",
        reported: false,
        format: None,
        hint: "save `nsecs` when it starts (in a map keyed by tid, or by pid for process lifetimes) and subtract it when it ends",
    },
    Rule {
        what: "a histogram",
        asked: Concept::Histogram,
        code: r"\b(hist|lhist)\s*\(",
        reported: false,
        format: None,
        hint: "aggregate with `@name[key] = hist(value)`",
    },
    Rule {
        what: "a sum (adding values up)",
        asked: Concept::Sum,
        code: r"\bsum\s*\(|\+=",
        reported: false,
        format: None,
        hint: "aggregate with `@name[key] = sum(value)`",
    },
    Rule {
        what: "an average",
        asked: Concept::Average,
        // avg() or stats(), or a sum divided by a count the program keeps itself.
        code: r"\b(avg|stats)\s*\(|/\s*@\w*(count|calls|n)\b",
        reported: false,
        format: None,
        hint: "aggregate with `@name[key] = avg(value)` (a histogram or a sum is not the average asked for)",
    },
    Rule {
        what: "the return value or error code",
        asked: Concept::ReturnValue,
        code: r"args\s*->\s*ret\b|\bretval\b|\bret\b",
        reported: true,
        format: None,
        hint: "read `args->ret` in the sys_exit_* tracepoint (`retval` in a uretprobe); -errno on failure",
    },
    Rule {
        what: "command-line arguments",
        asked: Concept::Arguments,
        code: r"\bargv\b|\bjoin\s*\(|\bargs\s*->\s*args\b",
        reported: true,
        format: None,
        hint: "print `join(args->argv)` in tracepoint:syscalls:sys_enter_execve",
    },
    Rule {
        what: "the command line",
        asked: Concept::CommandLine,
        code: r"\bargv\b|\bjoin\s*\(|\bargs\s*->\s*args\b|\bcmdline\b",
        reported: true,
        format: None,
        hint: "print `join(args->argv)` in tracepoint:syscalls:sys_enter_execve (sched_process_exec has only the filename)",
    },
    Rule {
        what: "a port number",
        asked: Concept::Port,
        // A port field, or the two bytes at offset 2 of a sockaddr_in/in6 swapped to host order.
        code: r"port|\bnum\b|\bbswap\b|<<\s*8\b",
        reported: true,
        format: None,
        hint: "print the port field of the tracepoint (sport/dport) or of the sockaddr, in host byte order",
    },
    Rule {
        what: "a size or length",
        asked: Concept::Size,
        // A request's size in 512-byte sectors (include/trace/events/block.h `nr_sector`,
        // blk_rq_sectors()) is a size too.
        code: r"args\s*->\s*\w*(len|size|sz|count|bytes)\w*|args\s*->\s*nr_sector\b|args\s*->\s*ret\b|\bretval\b|\barg[0-9]\b|\$\w+|@\w*\[",
        reported: true,
        format: None,
        hint: "print the size argument (or the returned byte count), not only test it",
    },
    Rule {
        what: "the signal that killed the process",
        asked: Concept::FatalSignal,
        code: r"exit_signal|&\s*(0x7f|127)\b|args\s*(->|\.)\s*sig\b",
        reported: true,
        format: None,
        hint: "print the termination signal: `curtask->exit_code & 0x7f` in tracepoint:sched:sched_process_exit (wait(2) WTERMSIG), beside the exit code (`(curtask->exit_code >> 8) & 0xff`)",
    },
    Rule {
        what: "the parent's PID",
        asked: Concept::ParentPid,
        code: r"real_parent|parent_pid|\bppid\b",
        reported: true,
        format: None,
        hint: "print `curtask->real_parent->tgid` (in a query: ppid)",
    },
    Rule {
        what: "the parent's name",
        asked: Concept::ParentName,
        code: r"real_parent\s*->\s*comm|parent_comm|\bpcomm\b",
        reported: true,
        format: None,
        hint: "print `curtask->real_parent->comm` (in a query: pcomm)",
    },
    Rule {
        what: "a count (a tally per key, not a line per event)",
        asked: Concept::Counting,
        code: r"\bcount\s*\(|\+\+|\+=|\bsum\s*\(\s*1\s*\)",
        reported: false,
        format: None,
        hint: "aggregate with `@name[key] = count()` (bpftrace prints the map when the program ends); key it by what the request groups by",
    },
    Rule {
        what: "figures per interval (a rate), not once at the end",
        asked: Concept::Periodic,
        code: r"\b(interval|i):(s|ms|us|hz):",
        reported: false,
        format: None,
        hint: "print and clear the maps in an `interval:s:1 { print(@m); clear(@m); }` block (or the period the request states)",
    },
    Rule {
        what: "a stack trace (the code path)",
        asked: Concept::StackTrace,
        // Or the call site an event records itself (kmem.h's `call_site`: the caller's
        // address, what "per call site" asks for).
        code: r"\b[ku]stack\b|\bcall_site\b",
        reported: true,
        format: None,
        hint: "print `kstack` (the kernel stack) or `ustack` (user space), or key a count by it: `@[kstack] = count()`",
    },
    Rule {
        what: "the file name",
        asked: Concept::FileName,
        // Paths under other names: quotactl(2)'s `special` (the block special device),
        // pivot_root(2)'s `new_root` and `put_old`.
        code: r"\bstr\s*\((?:[^()]|\([^()]*\))*(name|path|file|special|new_root|put_old|\barg\d|\$|@)|\bpath\s*\(|\bd_name\b|\b(file|path)name\b",
        reported: true,
        format: None,
        hint: "print the file's name: `str(args->filename)` (or `pathname`, `oldname`/`newname`) in the sys_enter_* tracepoint of the call; at sys_exit save it in a map keyed by tid at entry",
    },
    Rule {
        what: "the file mode the permission test is about",
        asked: Concept::WorldWritable,
        code: r"\bmode\b|\bst_mode\b|\bi_mode\b",
        reported: false,
        format: None,
        hint: "read the mode argument of the chmod calls (args->mode) and test its others-write bit, `args->mode & 0002` (S_IWOTH, inode(7))",
    },
    Rule {
        what: "a value in octal",
        asked: Concept::Octal,
        code: r"$^",
        reported: false,
        format: Some(r"%[-0-9#]*l*o"),
        hint: "print it with %o",
    },
];

/// A string literal of bpftrace (escapes included).
static STRING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""(?:[^"\\]|\\.)*""#).expect("static regex"));

/// A rule with its patterns compiled, once per process.
struct Compiled {
    rule: &'static Rule,
    code: Regex,
    format: Option<Regex>,
}

/// The rules, compiled at first use. A rule whose pattern does not compile (a test guards
/// against it) is left out with an error in the log rather than taking the daemon down.
static COMPILED: LazyLock<Vec<Compiled>> = LazyLock::new(|| {
    RULES
        .iter()
        .filter_map(|rule| {
            let compiled = (|| {
                Ok::<_, regex::Error>(Compiled {
                    rule,
                    code: Regex::new(rule.code)?,
                    format: rule.format.map(Regex::new).transpose()?,
                })
            })();
            compiled
                .map_err(|e| tracing::error!("request-coverage rule `{}` left out: {e}", rule.what))
                .ok()
        })
        .collect()
});

/// Checks `source` against what `request` asks for. Passes with the list of what was required.
pub fn check_coverage(host: &HostFacts, intent: &Intent, source: &str) -> Check {
    let started = std::time::Instant::now();
    let no_comments = strip_comments(source);
    let code = neutral_names(&STRING.replace_all(&no_comments, "\"\""));
    let formats: String = STRING
        .find_iter(&no_comments)
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(" ");

    let reported =
        neutral_names(&STRING.replace_all(&reported_code(source, intent.wants_lines()), "\"\""));

    let mut asked = Vec::new();
    let mut missing = Vec::new();
    for c in COMPILED.iter() {
        let rule = c.rule;
        if !intent.asks(rule.asked) {
            continue;
        }
        asked.push(rule.what);
        let view: &str = if rule.reported { &reported } else { &code };
        // The parent's name (`curtask->real_parent->comm`) is no process name, unless the
        // request asks for the parent's name itself (its own rule).
        let own_name;
        let view: &str = if rule.asked == Concept::ProcessName && !intent.asks(Concept::ParentName)
        {
            own_name = without_parent_name(view);
            &own_name
        } else {
            view
        };
        // What a process "returned" when it ended is its exit status (wait(2)), not a call's
        // result: a program reporting the exit code or signal provides it.
        static EXIT_STATUS: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"\bexit_(code|status|signal)\b").expect("static regex"));
        let exit_status = rule.asked == Concept::ReturnValue
            && intent.asks(Concept::ExitStatus)
            && EXIT_STATUS.is_match(view);
        // Where a process is created (fork, clone, sched_process_fork), the task running the
        // probe is the parent: its own pid and comm are the parent's.
        static OWN: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"\bpid\b|\bcomm\b").expect("static regex"));
        let parent_runs = matches!(rule.asked, Concept::ParentPid | Concept::ParentName)
            && creates_processes_only(host, source)
            && OWN.is_match(view);
        // "Arguments" are a program's argv where a program starts (execve(2)); of any other
        // call they are its parameters, which the event's fields carry. Likewise a command line.
        static PARAMETER: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"args\s*(->|\.)\s*\w+|\barg\d\b").expect("static regex"));
        let call_parameters = (rule.asked == Concept::Arguments
            && !attaches_to_exec(source)
            && PARAMETER.is_match(view))
            // A command line is argv where a program starts; elsewhere ("typed into bash":
            // readline's result) it is what the event carries, for the subject check to judge.
            || (rule.asked == Concept::CommandLine && !attaches_to_exec(source));
        // An error code or result an event carries in a field the request names ("the error
        // code" of a page fault: `args->error_code`) is what it asks for where no call returns.
        let named_result = rule.asked == Concept::ReturnValue && {
            let read = args_fields(view);
            tracepoint_probes(host, source).iter().any(|(_, tp)| {
                tp.fields.iter().any(|f| {
                    let n = f.name.as_str();
                    (n.contains("err") || n.contains("code") || n.contains("result"))
                        && read.iter().any(|r| r == n)
                        && crate::intent::naming::names_field(intent, &tp.subsystem, &tp.event, n)
                })
            })
        };
        // A sum counts where the request measures a quantity too ("count the bytes each
        // process writes"): summing a value no one asked for (`sum(args->pfn)` for "count
        // page allocations") is no count of events.
        static SUM: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"\bsum\s*\(").expect("static regex"));
        let summed_quantity = rule.asked == Concept::Counting
            && SUM.is_match(view)
            && (intent.asks(Concept::Sum)
                || intent.asks(Concept::Size)
                || intent.asks(Concept::Duration)
                || intent.asks(Concept::ReturnValue)
                || intent.words().any(|w| w == "bytes" || w == "byte"));
        // The child's PID where fork-like calls return is their result (fork(2)), which
        // [`child_task_missing`] and [`child_return_unfiltered`] judge.
        static RESULT: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"args\s*(->|\.)\s*ret\b").expect("static regex"));
        let child_returned = rule.asked == Concept::Pid
            && intent.asks_for_new_task()
            && creates_processes_only(host, source)
            && RESULT.is_match(view);
        let in_code = c.code.is_match(view)
            || child_returned
            || summed_quantity
            || exit_status
            || parent_runs
            || call_parameters
            || named_result;
        let in_format = c.format.as_ref().is_some_and(|f| f.is_match(&formats));
        if !in_code && !in_format {
            missing.push(format!(
                "the request asks for {}, but the program never computes it: {}",
                rule.what, rule.hint
            ));
        }
    }
    if let Some(m) = named_calls_missing(host, intent, source) {
        missing.push(m);
    }
    if let Some(m) = target_task_missing(host, intent, source) {
        missing.push(m);
    }
    if let Some(m) = local_port_missing(intent, source, &reported) {
        missing.push(m);
    }
    missing.extend(parameters_unreported(host, intent, source, &reported));
    if let Some(m) = fields::growth_uncompared(host, intent, source) {
        missing.push(m);
    }
    if let Some(m) = size_compared_with_another_field(host, intent, source) {
        missing.push(m);
    }
    if let Some(m) = fields::pointer_compared_with_number(host, source) {
        missing.push(m);
    }
    missing.extend(named_fields_unreported(host, intent, source, &reported));
    missing.extend(fields::stated_field_values_untested(host, intent, source));
    missing.extend(fields::named_field_elsewhere(host, intent, source));
    missing.extend(fields::totals_not_summed(host, intent, source));
    if let Some(m) = fields::both_untold(host, intent, source, &reported) {
        missing.push(m);
    }
    if let Some(m) = tallies_without_key(host, intent, source) {
        missing.push(m);
    }
    if let Some(m) = child_task_missing(host, intent, source) {
        missing.push(m);
    }
    if let Some(m) = child_return_unfiltered(host, intent, source) {
        missing.push(m);
    }
    missing.extend(filled_in_read_at_entry(host, source));
    if let Some(m) = acting_task_missing(intent, &reported) {
        missing.push(m);
    }
    if let Some(m) = threads_untold(host, intent, source, &code) {
        missing.push(m);
    }
    if let Some(m) = some_syscalls_for_all(host, intent, source) {
        missing.push(m);
    }
    if let Some(m) = unnamed_syscalls(host, intent, source) {
        missing.push(m);
    }
    if let Some(m) = which_call_untold(intent, source, &code) {
        missing.push(m);
    }
    if let Some(m) = file_names_untold(host, intent, source) {
        missing.push(m);
    }
    if let Some(m) = lifetime_timed_as_one_call(intent, source) {
        missing.push(m);
    }
    if let Some(m) = span_within_one_event(source) {
        missing.push(m);
    }
    if let Some(m) = span_start_unchecked(source) {
        missing.push(m);
    }
    if let Some(m) = span_off_its_cpu(source) {
        missing.push(m);
    }
    if let Some(m) = super::addresses::addresses_shown(host, source) {
        missing.push(m);
    }
    if let Some(m) = super::addresses::integers_read_as_structs(host, source) {
        missing.push(m);
    }
    missing.extend(super::labels::mislabelled(host, source));
    if let Some(m) = stated_size_unused(intent, &code) {
        missing.push(m);
    }
    if let Some(m) = values::stated_threshold_uncompared(intent, &code) {
        missing.push(m);
    }
    if let Some(m) = stated_port_untested(intent, &code) {
        missing.push(m);
    }
    missing.extend(super::shown::tallies_never_shown(source));
    if let Some(m) = super::shown::lines_not_printed(intent, source) {
        missing.push(m);
    }
    missing.extend(named_flags_untested(intent, source));
    missing.extend(values::flag_on_older_versions(intent, source));
    missing.extend(values::negated_flags_kept(intent, source));
    missing.extend(flag_meanings_unread(intent, source));
    missing.extend(code_meanings_unread(intent, source));
    if let Some(m) = repeated_blocks(source) {
        missing.push(m);
    }
    if let Some(m) = unasked_keys(host, intent, source) {
        missing.push(m);
    }
    if let Some(m) = phrase_without_key(host, intent, source) {
        missing.push(m);
    }
    if let Some(m) = function_values_unread(intent, source) {
        missing.push(m);
    }
    if let Some(m) = function_result_unread(intent, source) {
        missing.push(m);
    }
    missing.extend(named_values_untested(intent, source));
    missing.extend(values::directories_untested(intent, source));
    missing.extend(values::result_value_untested(intent, source));
    missing.extend(values::result_threshold_uncompared(intent, source));
    missing.extend(values::byte_bound_on_a_count(host, intent, source));
    missing.extend(values::bytes_in_another_unit(intent, source));
    missing.extend(fields::function_addresses_unnamed(host, intent, source));
    if let Some(m) = events_uncounted_beside_sum(intent, source) {
        missing.push(m);
    }
    missing.extend(errnos_untested(intent, source));
    missing.extend(signals_untested(intent, source));
    missing.extend(values::header_constants_untested(intent, source));
    let passed = missing.is_empty();
    let evidence = if passed {
        Evidence::Provides(asked)
    } else {
        Evidence::Problems(missing)
    };
    Check::new(
        CheckKind::RequestCoverage,
        passed,
        evidence,
        started.elapsed(),
    )
}

/// A request that counts the events and also sums a quantity of theirs ("count io_uring_enter
/// calls per process and add up their submissions": [`Intent::counts_events`]), answered with
/// the sum alone: `sum()` says how much, not how many calls there were.
fn events_uncounted_beside_sum(intent: &Intent, source: &str) -> Option<String> {
    static COUNTED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\bcount\s*\(\s*\)|\+\+|\+=\s*1\b").expect("static regex"));
    let both = intent.counts_events && intent.asks(Concept::Sum);
    let code = strip_comments(source);
    (both && code.contains("sum(") && !COUNTED.is_match(&code)).then(|| {
        "the request counts the events and also adds up a value of theirs, but the program only sums: keep a count too (`@calls[key] = count()` beside `@total[key] = sum(value)`)".to_owned()
    })
}

/// Whether a probe of `source` is where a program starts: an exec syscall, the scheduler's
/// exec event, or a uprobe on an exec function of libc.
pub(crate) fn attaches_to_exec(source: &str) -> bool {
    probe_blocks(source)
        .iter()
        .flat_map(|b| &b.probes)
        .any(|p| {
            p.target
                .rsplit(':')
                .next()
                .is_some_and(|e| e.contains("exec"))
        })
}

/// The program with its variables and maps renamed `$v1`, `@m1`, …: a name says nothing of
/// what it holds (`$pid = args->ret` prints a return value), so the rules read expressions,
/// never names. Each assignment's right-hand side stays in the text.
///
/// The keys of a map whose entries the program deletes (`delete(@start[tid])`) are blanked
/// too: such a map carries a value from one event to another, and its entries never reach the
/// output, so `tid` there reports no PID.
fn neutral_names(code: &str) -> String {
    static NAME: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"([$@])([A-Za-z_]\w*)").expect("static regex"));
    static DELETED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\bdelete\s*\(\s*(@[A-Za-z_]\w*)\s*\[").expect("static regex")
    });
    let mut code = code.to_owned();
    let mut deleted: Vec<String> = DELETED
        .captures_iter(&code)
        .map(|c| c[1].to_owned())
        .collect();
    deleted.sort();
    deleted.dedup();
    for map in deleted {
        if let Ok(keyed) = Regex::new(&format!(r"{}\s*\[[^\]\n]*\]", regex::escape(&map))) {
            code = keyed.replace_all(&code, format!("{map}[]")).into_owned();
        }
    }
    let mut seen: Vec<String> = Vec::new();
    NAME.replace_all(&code, |c: &regex::Captures| {
        let whole = c[0].to_owned();
        let n = match seen.iter().position(|s| *s == whole) {
            Some(i) => i + 1,
            None => {
                seen.push(whole);
                seen.len()
            }
        };
        format!("{}{}{n}", &c[1], if &c[1] == "$" { "v" } else { "m" })
    })
    .into_owned()
}

/// What the program reports: its block bodies without the conditions of `if` statements
/// (predicates are outside the bodies already), and without values stored in maps that
/// nothing reads (a target pid saved at entry, only deleted at exit, reports nothing).
///
/// A request for a line per event (`lines`) answered by a program that prints lines is not
/// answered by a value stored in a map that nothing reads either: bpftrace(8) prints such a
/// map once, at the end, with the last value stored (`@parent = comm;` per fork).
fn reported_code(source: &str, lines: bool) -> String {
    static PRINTS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\bprintf\s*\(").expect("static regex"));
    let mut dead = unread_maps(source);
    if lines && PRINTS.is_match(&strip_comments(source)) {
        dead.extend(last_value_maps(source));
    }
    let mut out = String::new();
    for b in probe_blocks(source) {
        out.push_str(&without_stores(reported_in(&b.body), &dead));
        out.push('\n');
    }
    out
}

/// `body` without the stores into the maps `dead` ([`unread_maps`]).
fn without_stores(mut body: String, dead: &[String]) -> String {
    for map in dead {
        if let Ok(store) = Regex::new(&format!(
            r"{}\s*(\[[^\]\n]*\])?\s*=[^=][^;\n}}]*",
            regex::escape(map)
        )) {
            body = store.replace_all(&body, "").into_owned();
        }
    }
    body
}

/// Maps of `source` that are only stored into (plain values, no aggregation) and deleted or
/// cleared: no value in them reaches a print or the maps bpftrace(8) prints at the end (what
/// is left in them). A test of one (`/@path[tid]/`, `if (@seen[pid])`) shows none of its
/// values: predicates and `if` conditions are not counted as reads.
fn unread_maps(source: &str) -> Vec<String> {
    stored_only_maps(source, true)
}

/// Maps of `source` that are only stored into with plain values (no aggregation) and never
/// read (a test is no read): what is left in them is printed once, when tracing ends.
fn last_value_maps(source: &str) -> Vec<String> {
    stored_only_maps(source, false)
}

/// Maps only stored into with plain values, never read outside conditions; with `dropped`,
/// only those also deleted or cleared.
fn stored_only_maps(source: &str, dropped: bool) -> Vec<String> {
    static MAP: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"@[A-Za-z_]\w*").expect("static regex"));
    let code: String = probe_blocks(&strip_comments(source))
        .iter()
        .map(|b| reported_in(&b.body) + "\n")
        .collect();
    let mut names: Vec<&str> = MAP.find_iter(&code).map(|m| m.as_str()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|name| {
            let escaped = regex::escape(name);
            let count =
                |re: &str| Regex::new(re).map_or(usize::MAX, |r| r.find_iter(&code).count());
            let all = count(&format!(r"{escaped}\b"));
            let stores = count(&format!(r"{escaped}\s*(\[[^\]\n]*\])?\s*=[^=]"));
            let aggregates = count(&format!(
                r"{escaped}\s*(\[[^\]\n]*\])?\s*=\s*(count|sum|hist|lhist|avg|min|max|stats)\s*\("
            ));
            let drops = count(&format!(r"\b(delete|clear|zero)\s*\(\s*{escaped}\b"));
            // Deleted or cleared: its values are not left for the output at the end either.
            stores > 0
                && aggregates == 0
                && (drops > 0 || !dropped)
                && stores.saturating_add(drops) == all
        })
        .map(str::to_owned)
        .collect()
}

/// One block body without the conditions of its `if` statements.
fn reported_in(body_text: &str) -> String {
    let mut out = String::new();
    let body = body_text.as_bytes();
    // `i` stays on a char boundary: it steps over whole chars, or to just after a `)`.
    let mut i = 0;
    while let Some(rest) = body_text.get(i..) {
        let Some(c) = rest.chars().next() else {
            break;
        };
        let at_if = rest.starts_with("if")
            && (i == 0 || !(body[i - 1].is_ascii_alphanumeric() || body[i - 1] == b'_'))
            && rest[2..].trim_start().starts_with('(');
        if !at_if {
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        // Skip to the parenthesis that closes the condition.
        let open = i + 2 + (rest[2..].len() - rest[2..].trim_start().len());
        let mut depth = 0usize;
        let mut j = open;
        while j < body.len() {
            match body[j] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        i = j + 1;
    }
    out
}

/// Each probe of the program at a tracepoint this host has, with that tracepoint's format.
fn tracepoint_probes<'h>(
    host: &'h HostFacts,
    source: &str,
) -> Vec<(String, &'h crate::host::Tracepoint)> {
    probe_blocks(source)
        .into_iter()
        .flat_map(|b| b.probes)
        .filter(|p| p.is_tracepoint())
        .filter_map(|p| host.tracepoints.get(&p.target).map(|tp| (p.target, tp)))
        .collect()
}

/// Whether every event probe of `source` fires where a process is created, in the creating
/// task: the syscalls of fork (fork(2), clone(2): one kernel implementation, see
/// `syscall_variants`), sched:sched_process_fork and task:task_newtask.
pub fn creates_processes_only(host: &HostFacts, source: &str) -> bool {
    let creates = creates_process(host);
    let probes: Vec<ProbeSpec> = probe_blocks(source)
        .into_iter()
        .flat_map(|b| b.probes)
        .filter(ProbeSpec::observes_events)
        .collect();
    !probes.is_empty() && probes.iter().all(creates)
}

/// Whether a probe fires where a task is created, in the creating task: a tracepoint of the
/// fork syscalls (every variant, `syscall_variants`), sched:sched_process_fork or
/// task:task_newtask.
pub(crate) fn creates_process(host: &HostFacts) -> impl Fn(&ProbeSpec) -> bool {
    let forks = syscall_variants(host, "fork");
    move |p: &ProbeSpec| {
        p.is_tracepoint()
            && (matches!(
                p.target.as_str(),
                "sched:sched_process_fork" | "task:task_newtask"
            ) || forks.iter().any(|f| {
                p.target == format!("syscalls:sys_enter_{f}")
                    || p.target == format!("syscalls:sys_exit_{f}")
            }))
    }
}

/// `text` with the parent's name (`curtask->real_parent->comm`, a `parent_comm` variable)
/// written `parent_name`: where the process's own name is looked for, the parent's is not it.
pub fn without_parent_name(text: &str) -> std::borrow::Cow<'_, str> {
    static PARENT_NAME: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"real_parent\s*->\s*comm\b|\bparent_comm\b").expect("static regex")
    });
    PARENT_NAME.replace_all(text, "parent_name")
}

#[cfg(test)]
mod tests;
