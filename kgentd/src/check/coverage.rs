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
        code: r"\bpid\b|\btid\b|_pid\b",
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
        code: r"args\s*->\s*\w*(len|size|count|bytes)\w*|args\s*->\s*ret\b|\bretval\b|\barg[0-9]\b|\$\w+|@\w*\[",
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
        code: r"\bcount\s*\(|\+\+|\+=|\bsum\s*\(",
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
        code: r"\b[ku]stack\b",
        reported: true,
        format: None,
        hint: "print `kstack` (the kernel stack) or `ustack` (user space), or key a count by it: `@[kstack] = count()`",
    },
    Rule {
        what: "the file name",
        asked: Concept::FileName,
        code: r"\bstr\s*\((?:[^()]|\([^()]*\))*(name|path|file|\barg\d|\$|@)|\bpath\s*\(|\bd_name\b|\b(file|path)name\b",
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

    let reported = neutral_names(&STRING.replace_all(&reported_code(source), "\"\""));

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
        let in_code = c.code.is_match(view) || exit_status || parent_runs || call_parameters;
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
    missing.extend(named_fields_unreported(host, intent, source, &reported));
    if let Some(m) = tallies_without_key(host, intent, source) {
        missing.push(m);
    }
    if let Some(m) = child_task_missing(host, intent, source) {
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
    if let Some(m) = super::addresses::addresses_shown(host, source) {
        missing.push(m);
    }
    if let Some(m) = super::addresses::integers_read_as_structs(host, source) {
        missing.push(m);
    }
    if let Some(m) = stated_size_unused(intent, &code) {
        missing.push(m);
    }
    missing.extend(super::shown::tallies_never_shown(source));
    if let Some(m) = super::shown::lines_not_printed(intent, source) {
        missing.push(m);
    }
    missing.extend(named_flags_untested(intent, source));
    missing.extend(flag_meanings_unread(intent, source));
    missing.extend(code_meanings_unread(intent, source));
    if let Some(m) = repeated_blocks(source) {
        missing.push(m);
    }
    if let Some(m) = unasked_keys(host, intent, source) {
        missing.push(m);
    }
    if let Some(m) = function_values_unread(intent, source) {
        missing.push(m);
    }
    if let Some(m) = function_result_unread(intent, source) {
        missing.push(m);
    }
    missing.extend(named_values_untested(intent, source));
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

/// A value of a field of the program's tracepoint that the request speaks of in words
/// (`specs-db/values.toml`: "preempted" is `prev_state == 0`, TASK_RUNNING, at
/// `sched:sched_switch`), which the block on that tracepoint never compares the field with:
/// every switch counted where the preempted ones were asked for.
fn named_values_untested(intent: &Intent, source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in probe_blocks(source) {
        let text = format!(
            "{} {}",
            b.predicate.as_ref().map_or("", |p| p.condition.as_str()),
            b.body
        );
        for p in b.probes.iter().filter(|p| p.is_tracepoint()) {
            for v in crate::knowledge::values::asked_at(intent, &p.target) {
                let field = regex::escape(&v.field);
                let value = v.value;
                let compared = Regex::new(&format!(
                    r"args\s*->\s*{field}\s*(==|!=|<=|>=|<|>)\s*{value}\b|\b{value}\s*(==|!=|<=|>=|<|>)\s*args\s*->\s*{field}\b|!\s*args\s*->\s*{field}\b"
                ))
                .is_ok_and(|re| re.is_match(&text));
                if !compared {
                    out.push(format!(
                        "the request speaks of {} ({}), which {} reports as `args->{} == {}`, but the program never tests it there",
                        v.words.first().map_or("", String::as_str),
                        v.name,
                        p.target,
                        v.field,
                        v.value
                    ));
                }
            }
            for v in crate::knowledge::values::apart_at(intent, &p.target) {
                let field = regex::escape(&v.field);
                let tested = Regex::new(&format!(
                    r"args\s*->\s*{field}\s*(==|!=|<=|>=|<|>)|(==|!=|<=|>=|<|>)\s*(\(\s*\w+\s*\)\s*)?args\s*->\s*{field}\b|\)\s*args\s*->\s*{field}\s*(==|!=|<=|>=|<|>)"
                ))
                .is_ok_and(|re| re.is_match(&text));
                if !tested {
                    out.push(format!(
                        "{} also fires with `args->{} == {}` ({}), which is not what the request asks about, but the program never tests `args->{}` there: leave those events out",
                        p.target, v.field, v.value, v.name, v.field
                    ));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A flag the request names as C writes it (`O_CREAT`), documented for a field of some
/// syscalls (`specs-db/flags.toml`), that no block of the program on one of those syscalls
/// tests: "opens with O_CREAT" answered at creat(2) alone, or at openat(2) without looking at
/// its flags. A bit test is `FIELD & MASK` with the mask written in decimal, hex or octal.
fn named_flags_untested(intent: &Intent, source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let blocks = probe_blocks(source);
    for name in &intent.constants {
        let defs: Vec<&crate::knowledge::flags::Flag> = crate::knowledge::flags::shipped()
            .iter()
            .filter(|f| f.name == *name)
            .collect();
        let Some(first) = defs.first() else {
            continue;
        };
        let tested = defs.iter().any(|f| {
            let masks = [
                f.mask.to_string(),
                format!("0x{:x}", f.mask),
                format!("0{:o}", f.mask),
            ];
            let field = format!("args->{}", f.field);
            blocks.iter().any(|b| {
                let on = b.probes.iter().any(|p| {
                    f.probes.iter().any(|fp| {
                        p.target == *fp || p.target == fp.replace(":sys_enter_", ":sys_exit_")
                    })
                });
                let text = format!(
                    "{} {}",
                    b.predicate.as_ref().map_or("", |p| p.condition.as_str()),
                    b.body
                )
                .replace(' ', "");
                on && text.contains(&field.replace(' ', ""))
                    && masks.iter().any(|m| {
                        text.to_ascii_lowercase().contains(&format!("&{m}"))
                            || text.contains(&format!("&({m})"))
                    })
            })
        });
        if !tested {
            let probes: Vec<String> = defs
                .iter()
                .flat_map(|f| f.probes.iter().map(|p| format!("tracepoint:{p}")))
                .collect();
            out.push(format!(
                "the request names {name}, a bit of `args->{}` at {} ({}), but no block of the program there tests it: filter with `args->{} & 0x{:x}`",
                first.field,
                probes.join(", "),
                first.source.split(':').next().unwrap_or(""),
                first.field,
                first.mask
            ));
        }
    }
    out
}

/// A flag the request speaks of in words ("opens for writing": O_WRONLY and O_RDWR of
/// `openat`'s `flags`, `specs-db/flags.toml`) at a tracepoint a block attaches to, while that
/// block never reads the field: every open is reported, whatever its mode. Reading the field
/// (a test, or printing it) is enough here; which bits to keep is the request's to state and
/// `draft_filters`' to judge.
fn flag_meanings_unread(intent: &Intent, source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in probe_blocks(source) {
        let text = format!(
            "{} {}",
            b.predicate.as_ref().map_or("", |p| p.condition.as_str()),
            b.body
        );
        let read = args_fields(&text);
        for p in b.probes.iter().filter(|p| p.is_tracepoint()) {
            out.extend(alternatives_untested(intent, &p.target, &text));
            let asked: Vec<&crate::knowledge::flags::Flag> = crate::knowledge::flags::shipped()
                .iter()
                .filter(|f| f.probes.contains(&p.target))
                .filter(|f| f.words.iter().any(|w| intent.uses_word(w)))
                .filter(|f| !read.contains(&f.field))
                .collect();
            let Some(first) = asked.first() else {
                continue;
            };
            let names: Vec<String> = asked
                .iter()
                .filter(|f| f.field == first.field)
                .map(|f| format!("{} 0x{:x}", f.name, f.mask))
                .collect();
            let word = first
                .words
                .iter()
                .find(|w| intent.uses_word(w))
                .map_or("", String::as_str);
            out.push(format!(
                "the request speaks of {word}, which tracepoint:{} reports as bits of `args->{}` ({}), but the program never reads `args->{}` there: test the bits the request means",
                p.target,
                first.field,
                names.join(", "),
                first.field
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A flag the request speaks of whose bit a block tests, beside flags the same words mean as
/// well (`also` in `specs-db/flags.toml`) whose bits it never tests: "opened for writing"
/// answered with `args->flags & 1` (O_WRONLY) drops the files opened O_RDWR.
fn alternatives_untested(intent: &Intent, target: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for f in crate::knowledge::flags::shipped()
        .iter()
        .filter(|f| !f.also.is_empty() && f.probes.iter().any(|p| p == target))
        .filter(|f| f.words.iter().any(|w| intent.uses_word(w)))
    {
        let tested = masks_tested(text, &f.field);
        if tested & i128::from(f.mask) == 0 {
            continue;
        }
        let missing: Vec<String> = f
            .also
            .iter()
            .filter_map(|name| crate::knowledge::flags::named(target, &f.field, name))
            .filter(|other| tested & i128::from(other.mask) == 0)
            .map(|other| format!("{} 0x{:x}", other.name, other.mask))
            .collect();
        if !missing.is_empty() {
            out.push(format!(
                "the program tests {} (0x{:x}) of `args->{}` at {target}, but the request's words mean {} as well: test those bits too",
                f.name,
                f.mask,
                f.field,
                missing.join(", ")
            ));
        }
    }
    out
}

/// The bits of `args->FIELD` that `text` tests with a mask (`args->flags & 3`,
/// `0x2 & args->flags`), masks in decimal, hex or octal, OR-ed together.
fn masks_tested(text: &str, field: &str) -> i128 {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let field = regex::escape(field);
    let number = r"(0[xX][0-9a-fA-F]+|0[0-7]+|[0-9]+)";
    let Ok(re) = Regex::new(&format!(
        r"args->{field}\)?&\(?{number}|{number}\)?&\(?args->{field}\b"
    )) else {
        return 0;
    };
    re.captures_iter(&compact)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)))
        .filter_map(|m| crate::toolchain::bpftrace::expr::integer(m.as_str()))
        .fold(0, |acc, m| acc | m)
}

/// A program on user functions alone (uprobes, uretprobes) that reads nothing of the function
/// (no `argN`, no `retval`, no `args`) while the request asks about more than who called it:
/// "printing each line entered" at bash's readline is the string readline returns, which a
/// program printing `comm` and `pid` never shows. The words that ask are the request's subject
/// words other than the function's and the binary's names, words for builtins (process,
/// thread, user, CPU: [`BUILTIN_WORDS`](crate::intent::naming::BUILTIN_WORDS)), words for the
/// report's shape and words for calling itself.
fn function_values_unread(intent: &Intent, source: &str) -> Option<String> {
    const CALLING: [&str; 12] = [
        "function",
        "call",
        "caller",
        "library",
        "libc",
        "trace",
        "probe",
        "invocation",
        "invoke",
        "name",
        "binary",
        "shared",
    ];
    let probes: Vec<ProbeSpec> = probe_blocks(source)
        .into_iter()
        .flat_map(|b| b.probes)
        .filter(ProbeSpec::observes_events)
        .collect();
    let user = |p: &ProbeSpec| matches!(p.prefix.as_str(), "uprobe" | "uretprobe" | "u" | "ur");
    if probes.is_empty() || !probes.iter().all(user) {
        return None;
    }
    static READS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(arg\d+|sarg\d+|retval)\b|\bargs\s*(\.|->)").expect("static regex")
    });
    if READS.is_match(&strip_comments(source)) {
        return None;
    }
    // The functions and binaries the probes name (`/usr/bin/bash:readline`).
    let mut names: Vec<String> = Vec::new();
    for p in &probes {
        let mut parts = p.target.rsplitn(2, ':');
        if let Some(function) = parts.next() {
            names.push(function.to_ascii_lowercase());
        }
        if let Some(binary) = parts.next() {
            let base = binary.rsplit('/').next().unwrap_or(binary);
            names.push(base.split('.').next().unwrap_or(base).to_ascii_lowercase());
        }
    }
    let asked: Vec<&str> = intent
        .subjects
        .iter()
        .map(|w| w.word.as_str())
        .filter(|w| {
            !names
                .iter()
                .any(|n| n.starts_with(w) || w.starts_with(n.as_str()))
        })
        .filter(|w| crate::intent::naming::builtins_named_by(w).is_empty())
        .filter(|w| {
            !crate::intent::naming::SHAPE_WORDS
                .iter()
                .any(|s| w.starts_with(s))
        })
        .filter(|w| !CALLING.iter().any(|c| w.starts_with(c)))
        .filter(|w| intent.process_name.as_deref() != Some(*w))
        .collect();
    let function = names.first()?;
    (!asked.is_empty()).then(|| {
        format!(
            "the request asks about {} of {function}() calls, but the program reads none of the function's arguments (arg0, arg1, …) or its return value (retval, at uretprobe:): report what the function takes or returns",
            asked.join(", ")
        )
    })
}

/// A user function whose return value the request asks for (`specs-db/user-functions.toml`:
/// "each line entered" is what bash's readline returns), which no `uretprobe` block of the
/// program on that function reads as `retval`: its arguments are something else (the prompt).
fn function_result_unread(intent: &Intent, source: &str) -> Option<String> {
    let blocks = probe_blocks(&strip_comments(source));
    for b in &blocks {
        for p in b
            .probes
            .iter()
            .filter(|p| matches!(p.prefix.as_str(), "uprobe" | "u" | "uretprobe" | "ur"))
        {
            let Some(f) = crate::knowledge::user_functions::result_asked(intent, &p.target) else {
                continue;
            };
            let function = format!(":{}", f.name);
            let read = blocks.iter().any(|other| {
                other.probes.iter().any(|q| {
                    matches!(q.prefix.as_str(), "uretprobe" | "ur") && q.target.ends_with(&function)
                }) && other.body.contains("retval")
            });
            if !read {
                let binary = p.target.rsplit_once(':').map_or("", |(b, _)| b);
                return Some(format!(
                    "the request asks for what {}() returns, {} ({}), but the program never reads `retval` at uretprobe:{binary}:{}",
                    f.name,
                    f.returns,
                    f.source.split(':').next().unwrap_or(""),
                    f.name
                ));
            }
        }
    }
    None
}

/// A kind of event the request speaks of in words ("writes", "reads") that a tracepoint
/// reports as a code letter of a field (`rwbs` of the block events: W write, R read;
/// `specs-db/attach-points.toml` `[[codes]]`), in a program that never reads that field on
/// those events: every request counted where the writes were asked for. Reading it in one
/// block (a test, a key, a value a span's start keeps for its end) is enough here; which
/// letters stay is the filter checks' business.
fn code_meanings_unread(intent: &Intent, source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let blocks = probe_blocks(source);
    // Read anywhere on the events that carry it: a span's start may keep it for its end.
    let read_on = |c: &crate::knowledge::specs::Codes| {
        blocks.iter().any(|b| {
            let text = format!(
                "{} {}",
                b.predicate.as_ref().map_or("", |p| p.condition.as_str()),
                b.body
            );
            b.probes
                .iter()
                .any(|p| format!("tracepoint:{}", p.target).starts_with(&c.probes))
                && args_fields(&text).contains(&c.field)
        })
    };
    for b in &blocks {
        for p in b.probes.iter().filter(|p| p.is_tracepoint()) {
            let probe = format!("tracepoint:{}", p.target);
            for c in crate::knowledge::specs::codes()
                .iter()
                .filter(|c| probe.starts_with(&c.probes) && !read_on(c))
            {
                let spoken: Vec<String> = c
                    .letters
                    .iter()
                    .filter(|(letter, _)| c.stated(letter, intent))
                    .map(|(letter, word)| format!("{letter} = {word}"))
                    .collect();
                if !spoken.is_empty() {
                    out.push(format!(
                        "the request speaks of {}, which {probe} reports as code letters of `args->{}`, but the program never reads `args->{}`: test it (in a query, WHERE contains(args->{}, \"W\") keeps writes)",
                        spoken.join(", "),
                        c.field,
                        c.field,
                        c.field
                    ));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A tally or histogram keyed by an event field the request never names, where the request
/// says what it groups by and another key accounts for each of its grouping phrases: "each
/// process migrated" keyed by `comm, args->dest_cpu, args->orig_cpu` splits every process's
/// count by CPU pair. A field names itself by a word of the request
/// ([`crate::intent::naming::used_by`]), by what it holds (`specs-db/field-names.toml`
/// `meaning`), or is a category the kernel prints by name (`__print_symbolic`); a key carried
/// from an earlier event (`@start_tvp[tid]` stored from `args->tvp`) is that field.
fn unasked_keys(host: &HostFacts, intent: &Intent, source: &str) -> Option<String> {
    // What it groups by: its grouping phrases, or else the word after "each" ("each process
    // is moved": process).
    let words_all: Vec<&str> = intent.words().collect();
    let phrases: Vec<Vec<String>> = if intent.group_phrases.is_empty() {
        words_all
            .windows(2)
            .filter(|w| w[0] == "each")
            .map(|w| vec![w[1].to_owned()])
            .collect()
    } else {
        intent.group_phrases.clone()
    };
    if phrases.is_empty() {
        return None;
    }
    static AGG: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"@\w*\[([^\]\n]*(?:\[[^\]\n]*\][^\]\n]*)*)\]\s*=\s*(count|sum|hist|lhist|avg|min|max|stats)\s*\(")
            .expect("static regex")
    });
    static STORED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(@\w+)\s*\[[^\]]*\]\s*=\s*(?:str\s*\()?\s*args\s*->\s*(\w+)")
            .expect("static regex")
    });
    static FIELD: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(?:str\s*\()?\s*args\s*->\s*(\w+)").expect("static regex"));
    static CARRIED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(@\w+)\s*\[").expect("static regex"));
    let code = strip_comments(source);
    let carried: Vec<(String, String)> = STORED
        .captures_iter(&code)
        .map(|c| (c[1].to_owned(), c[2].to_owned()))
        .collect();
    let words: Vec<&str> = intent
        .words()
        .filter(|w| !crate::intent::naming::SHAPE_WORDS.contains(w))
        .collect();
    let blocks = probe_blocks(&code);
    let events: Vec<(String, String)> = blocks
        .iter()
        .flat_map(|b| &b.probes)
        .filter(|p| p.is_tracepoint())
        .filter_map(|p| p.target.split_once(':'))
        .map(|(s, e)| (s.to_owned(), e.to_owned()))
        .collect();
    // Each event's format is read once, not once per key.
    let printed_by_name: BTreeSet<String> = events
        .iter()
        .flat_map(|(s, e)| host.fields_printed_by_name(s, e))
        .collect();
    // A field named like a builtin (`comm`, `pid`) is named by the builtin's words.
    let as_builtin =
        |field: &str, w: &str| crate::intent::naming::builtins_named_by(w).contains(&field);
    let asked = |field: &str| {
        crate::intent::naming::used_by(field, &words)
            || words.iter().any(|w| as_builtin(field, w))
            || printed_by_name.contains(field)
            || events.iter().any(|(s, e)| {
                crate::knowledge::field_names::named_by_meaning(intent, &format!("{s}:{e}"), field)
            })
    };
    for c in AGG.captures_iter(&code) {
        let keys = split_top_level(&c[1]);
        let field_of = |k: &str| -> Option<String> {
            let k = k.trim();
            if let Some(f) = FIELD.captures(k) {
                return Some(f[1].to_owned());
            }
            let map = CARRIED.captures(k)?;
            carried
                .iter()
                .find(|(m, _)| *m == map[1])
                .map(|(_, f)| f.clone())
        };
        let fields: Vec<Option<String>> = keys.iter().map(|k| field_of(k)).collect();
        let unasked: Vec<&String> = fields.iter().flatten().filter(|f| !asked(f)).collect();
        if unasked.is_empty() {
            continue;
        }
        // Each grouping phrase must be accounted for by a key that stays, or an unnamed field
        // may be what a phrase means.
        let kept_says = |w: &str| {
            keys.iter().zip(&fields).any(|(k, f)| match f {
                Some(f) => {
                    asked(f) && (crate::intent::naming::used_by(f, &[w]) || as_builtin(f, w))
                }
                None => crate::intent::naming::builtins_named_by(w)
                    .iter()
                    .any(|b| k.contains(b)),
            })
        };
        let accounted = phrases.iter().all(|p| p.iter().any(|w| kept_says(w)));
        if accounted {
            let names: Vec<String> = unasked.iter().map(|f| format!("args->{f}")).collect();
            return Some(format!(
                "the program keys its tally by {}, which the request never asks for: each value splits the figure it asks for; key only by what the request groups by",
                names.join(", ")
            ));
        }
    }
    None
}

/// `a, f(b, c), @m[d]` → `["a", "f(b, c)", "@m[d]"]`: commas outside brackets.
fn split_top_level(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for ch in text.chars() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_owned());
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_owned());
    }
    out
}

/// Two blocks with the same probes, condition and actions: every event runs both, so each is
/// counted or printed twice.
fn repeated_blocks(source: &str) -> Option<String> {
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

/// Whether a probe of `source` is where a program starts: an exec syscall, the scheduler's
/// exec event, or a uprobe on an exec function of libc.
fn attaches_to_exec(source: &str) -> bool {
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
/// (predicates are outside the bodies already).
fn reported_code(source: &str) -> String {
    let mut out = String::new();
    for b in probe_blocks(source) {
        out.push_str(&reported_in(&b.body));
        out.push('\n');
    }
    out
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

/// A request about the task acted on (the one signalled, killed or woken:
/// [`Concept::TargetTask`]) answered with the task that runs the probe: a tracepoint names
/// the acted-on task in a field (`pid` of `syscalls:sys_enter_kill` and
/// `signal:signal_generate`, `child_pid` of `sched:sched_process_fork`; their tracefs format),
/// but what the block attached to it reports reads none of those fields. Judged per block: a
/// program printing the target for `tgkill` (its `tgid`) and the caller for `kill` misses it
/// for `kill`. Tracepoints without such a field (the acted-on task is the current one, as in
/// `signal:signal_deliver`) demand nothing.
fn target_task_missing(host: &HostFacts, intent: &Intent, source: &str) -> Option<String> {
    if !intent.asks(Concept::TargetTask) {
        return None;
    }
    // (tracepoint, the fields naming a task there) for each tracepoint whose block reads none.
    let mut unread: Vec<(String, String)> = Vec::new();
    for b in probe_blocks(source) {
        let reported = STRING
            .replace_all(&reported_in(&b.body), "\"\"")
            .into_owned();
        for p in &b.probes {
            if !p.is_tracepoint() || p.target.contains('*') {
                continue;
            }
            let Some(tp) = host.tracepoints.get(&p.target) else {
                continue;
            };
            // Its pid, or its name: `comm` of sched_wakeup and signal_generate is the target's.
            let names: Vec<&str> = tp
                .fields
                .iter()
                .map(|f| f.name.as_str())
                .filter(|n| {
                    *n == "pid"
                        || n.ends_with("_pid")
                        || *n == "tgid"
                        || *n == "comm"
                        || n.ends_with("_comm")
                })
                .collect();
            if names.is_empty() {
                continue;
            }
            let read = args_fields(&reported);
            let reads = |name: &&str| read.iter().any(|r| r == name);
            // The acted-on task's pid when a pid is asked, its name when a name is: a victim's
            // name beside the running task's pid is no answer about the victim.
            let (pids, comms): (Vec<&str>, Vec<&str>) =
                names.iter().partition(|n| !n.ends_with("comm"));
            let asks_pid = intent.asks(Concept::Pid) && !pids.is_empty();
            let asks_name = intent.asks(Concept::ProcessName) && !comms.is_empty();
            let reads_one = match (asks_pid, asks_name) {
                (false, false) => names.iter().any(reads),
                _ => {
                    (!asks_pid || pids.iter().any(reads)) && (!asks_name || comms.iter().any(reads))
                }
            };
            if !reads_one {
                let fields: Vec<String> = names.iter().map(|n| format!("`args->{n}`")).collect();
                unread.push((p.target.clone(), fields.join(" or ")));
            }
        }
    }
    if unread.is_empty() {
        return None;
    }
    Some(format!(
        "the request is about the task acted on (the one signalled, killed or woken), but where the program attaches to {} it reports only the task running the probe (`pid`, `comm`): the event names the acted-on task in {}; print that",
        unread
            .iter()
            .map(|(tp, _)| tp.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        unread
            .iter()
            .map(|(tp, fields)| format!("{fields} of {tp}"))
            .collect::<Vec<_>>()
            .join("; ")
    ))
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

/// A syscall parameter the request asks for by its man-page name, where the program's
/// `sys_enter_*` tracepoint has it under the kernel's name and the program reports no such
/// field: "the source" of a mount is `args->dev_name` (mount(2)'s SYNOPSIS against the
/// tracefs format, `SyscallMan::parameter_fields`). Only words the request uses as what it
/// names a value with ([`Intent::value_words`]: not "name" inside "process name").
fn parameters_unreported(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
    reported: &str,
) -> Vec<String> {
    let man = crate::knowledge::syscall_man::SyscallMan::shipped();
    let read = args_fields(reported);
    let mut out = Vec::new();
    for (target, tp) in tracepoint_probes(host, source) {
        let call = tp.event.trim_start_matches("sys_enter_");
        for (param, field) in
            man.event_parameters(&tp.event, tp.fields.iter().map(|f| f.name.as_str()))
        {
            let asked = param != field && intent.value_words.contains(&param);
            if asked && !read.contains(&field) {
                out.push(format!(
                    "the request asks for the {param}, but the program never reports it: at {target} it is `args->{field}` ({call}(2) calls it {param})",
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A field of one of the program's tracepoints that the request names, which the program
/// never reports: "the idle state" at `power:cpu_idle` is `args->state`, "the child pid" at
/// `sched:sched_process_fork` is `args->child_pid` (each event's tracefs format names its
/// fields; what counts as naming one is [`crate::intent::naming::names_field`]'s to say).
fn named_fields_unreported(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
    reported: &str,
) -> Vec<String> {
    let read = args_fields(reported);
    let mut out = Vec::new();
    for (target, tp) in tracepoint_probes(host, source) {
        for f in &tp.fields {
            let name = f.name.as_str();
            if read.iter().any(|r| r == name) {
                continue;
            }
            let named = crate::intent::naming::names_field(intent, &tp.subsystem, &tp.event, name);
            let parts: Vec<&str> = name.split('_').filter(|p| !p.is_empty()).collect();
            if named {
                out.push(format!(
                    "the request names the {}, which {target} carries as `args->{name}`, but the program never reports it",
                    parts.join(" "),
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A request that tallies per something the program can key by — a builtin ("per CPU",
/// "per process") or a field of its tracepoints ("per vector" at `irq:softirq_entry`: `vec`;
/// [`crate::intent::naming`]) — answered with tallies that have no key at all: one histogram
/// for everything where one per vector was asked. "Per second" or "per call" name nothing to
/// key by and demand nothing.
fn tallies_without_key(host: &HostFacts, intent: &Intent, source: &str) -> Option<String> {
    use crate::intent::naming::{builtins_named_by, used_by};
    static TALLY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"@(\w*)\s*(\[)?[^=;{}]*?=\s*(count|sum|avg|min|max|hist|lhist|stats)\s*\(")
            .expect("static regex")
    });
    let code = strip_comments(source);
    let tallies: Vec<(String, bool)> = TALLY
        .captures_iter(&code)
        .map(|c| (format!("@{}", &c[1]), c.get(2).is_some()))
        .collect();
    if tallies.is_empty() || tallies.iter().any(|(_, keyed)| *keyed) {
        return None;
    }
    let fields: Vec<String> = probe_blocks(source)
        .into_iter()
        .flat_map(|b| b.probes)
        .filter(|p| p.is_tracepoint())
        .filter_map(|p| host.tracepoints.get(&p.target))
        .flat_map(|tp| tp.fields.iter().map(|f| f.name.clone()))
        .filter(|f| !f.starts_with('_'))
        .collect();
    let phrase = intent.group_phrases.iter().find_map(|phrase| {
        phrase.iter().find_map(|w| {
            if let Some(b) = builtins_named_by(w).first() {
                return Some((phrase.join(" "), format!("`{b}`")));
            }
            fields
                .iter()
                .find(|f| used_by(f, &[w.as_str()]))
                .map(|f| (phrase.join(" "), format!("`args->{f}`")))
        })
    })?;
    let mut maps: Vec<&str> = tallies.iter().map(|(m, _)| m.as_str()).collect();
    maps.dedup();
    Some(format!(
        "the request tallies per {}, but the program's {} {} no key: key {} by {}",
        phrase.0,
        maps.join(", "),
        if maps.len() == 1 { "has" } else { "have" },
        if maps.len() == 1 { "it" } else { "them" },
        phrase.1
    ))
}

/// A request for the child's pid or name ([`Concept::ChildTask`]) answered where processes are
/// created ([`creates_processes_only`]) with nothing that names the child: there the running
/// task is the parent. The child is `child_pid`/`child_comm` of sched:sched_process_fork, the
/// `pid`/`comm` fields of task:task_newtask, or fork's return value at a `sys_exit_*` of a
/// fork-like call (fork(2)).
///
/// A request for new threads that asks for an ID ("with the thread ID") asks for the new
/// thread's: its pid field (the kernel's task ID, which `tid` is for the running task).
fn child_task_missing(host: &HostFacts, intent: &Intent, source: &str) -> Option<String> {
    let new_thread_id = intent.asks(Concept::NewThreads)
        && intent
            .words()
            .any(|w| matches!(w, "id" | "ids" | "tid" | "tids" | "pid" | "pids"));
    if !(intent.asks(Concept::ChildTask) || new_thread_id) || !creates_processes_only(host, source)
    {
        return None;
    }
    let names_child = probe_blocks(source).into_iter().any(|b| {
        let read = args_fields(&reported_in(&b.body));
        let reads = |f: &str| read.iter().any(|r| r == f);
        b.probes.iter().any(|p| match p.target.as_str() {
            "sched:sched_process_fork" => {
                reads("child_pid") || (!new_thread_id && reads("child_comm"))
            }
            "task:task_newtask" => reads("pid") || (!new_thread_id && reads("comm")),
            t => t.starts_with("syscalls:sys_exit_") && reads("ret"),
        })
    });
    (!names_child).then(|| {
        "the request asks for the new task's ID or name, but where a task is created the task running the probe (`pid`, `tid`, `comm`) is its creator: the new one is `args->pid` and `args->comm` of tracepoint:task:task_newtask, `args->child_pid` and `args->child_comm` of tracepoint:sched:sched_process_fork, or the return value (`args->ret`) of fork/clone at their sys_exit_* tracepoints".to_owned()
    })
}

/// What a syscall fills in (a parameter pointing to a struct its man page does not declare
/// const: accept's peer address, stat's buffer; `SyscallMan::written_fields`) read at its
/// `sys_enter_*` tracepoint, where it is not written yet: the program shows whatever the
/// memory held before the call. Saving the pointer (`@a[tid] = args->upeer_sockaddr;`) is
/// fine; reading through it there is not.
fn filled_in_read_at_entry(host: &HostFacts, source: &str) -> Vec<String> {
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

/// A request for the local port ("the local port", "each end's address and local port", "a
/// listening port") answered with ports of the other end only: the address accept(2),
/// connect(2), sendto(2), recvfrom(2) and getpeername(2) take or fill in is the peer's, and a
/// tracepoint's `dport` is the destination. The local port is the socket's own: `sport` of
/// sock:inet_sock_set_state and the tcp:* tracepoints, `skc_num`, or the address given to
/// bind(2) or filled in by getsockname(2).
fn local_port_missing(intent: &Intent, source: &str, reported: &str) -> Option<String> {
    static PORT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"port|\bnum\b|\bbswap\b|<<\s*8\b").expect("static regex"));
    static LOCAL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(sport|skc_num|inet_sport|num|lport)\b").expect("static regex")
    });
    static OWN_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\bsys_(enter|exit)_(bind|getsockname)\b").expect("static regex")
    });
    if !intent.asks(Concept::LocalPort)
        || !PORT.is_match(reported)
        || LOCAL.is_match(reported)
        || OWN_ADDRESS.is_match(source)
    {
        return None;
    }
    Some("the request asks for the local port, but the program shows only the other end's: the address accept(2), connect(2), sendto(2) and recvfrom(2) take or fill in is the peer's, and `dport` is the destination; the local port is the socket's own, `args->sport` of tracepoint:sock:inet_sock_set_state (its `saddr`/`sport` are this socket's end)".into())
}

/// A request about both tasks of an event (the waker and the woken, the sender and the target: the
/// acting task with [`Concept::TargetTask`]) that reports only the one the event names: the
/// acting task is the one running the probe, `comm`/`pid` (not `args->comm`).
fn acting_task_missing(intent: &Intent, reported: &str) -> Option<String> {
    if !(intent.asks(Concept::ActingTask) && intent.asks(Concept::TargetTask)) {
        return None;
    }
    static FIELD: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"args\s*(->|\.)\s*\w+").expect("static regex"));
    static OWN: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\b(comm|pid|tid|curtask)\b").expect("static regex"));
    let own = FIELD.replace_all(reported, "");
    (!OWN.is_match(&own)).then(|| {
        "the request asks about both tasks (the one acting and the one acted on), but the program reports only the task the event names (its args fields): the acting task is the one running the probe, `comm` and `pid`; report both".to_owned()
    })
}

/// A request about new threads answered with every new task: the events that see a thread
/// created (sched:sched_process_fork, task:task_newtask, clone/clone3) fire for new processes
/// too, and only CLONE_THREAD (0x10000, clone(2)) in the clone flags tells them apart, unless
/// the program watches pthread_create(3) itself. `code` is the program without comments and
/// string contents.
fn threads_untold(host: &HostFacts, intent: &Intent, source: &str, code: &str) -> Option<String> {
    static TELLS_THREADS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)0x0*10000\b|\b65536\b|CLONE_THREAD|pthread_create|thrd_create")
            .expect("static regex")
    });
    if !intent.asks(Concept::NewThreads) {
        return None;
    }
    const HOW: &str = "sched_process_fork, task_newtask and clone() fire for both. Keep only tasks created with CLONE_THREAD (0x10000, clone(2)): `args->clone_flags & 0x10000` in tracepoint:task:task_newtask, or attach to pthread_create in libc";
    if !TELLS_THREADS.is_match(code) {
        return Some(format!(
            "the request asks for new threads, but the program cannot tell a thread from a process: {HOW}"
        ));
    }
    // Each block that reports task creation must itself keep threads only: one block that
    // tests the flag does not stop another from printing every new process.
    let forks = syscall_variants(host, "fork");
    let creates = |p: &ProbeSpec| {
        p.is_tracepoint()
            && (matches!(
                p.target.as_str(),
                "sched:sched_process_fork" | "task:task_newtask"
            ) || forks.iter().any(|f| {
                p.target == format!("syscalls:sys_enter_{f}")
                    || p.target == format!("syscalls:sys_exit_{f}")
            }))
    };
    let untold: Vec<String> = probe_blocks(source)
        .iter()
        .filter(|b| b.body.contains("printf") || b.body.contains('@'))
        .filter(|b| {
            let text = strip_comments(source.get(b.span.clone()).unwrap_or_default());
            !TELLS_THREADS.is_match(&text)
        })
        .flat_map(|b| b.probes.iter().filter(|p| creates(p)))
        .map(|p| format!("tracepoint:{}", p.target))
        .collect();
    (!untold.is_empty()).then(|| {
        format!(
            "the request asks for new threads, but the block of {} reports every new task, processes too: {HOW}",
            untold.join(", ")
        )
    })
}

/// A request about system calls in general (their errors, counts, latency: [`Concept::AllSyscalls`])
/// that names no syscall of this host, answered with a few chosen syscalls: it is about every
/// one, which `raw_syscalls:sys_enter`/`sys_exit` (or a `syscalls:sys_*_*` wildcard) observe.
fn some_syscalls_for_all(host: &HostFacts, intent: &Intent, source: &str) -> Option<String> {
    if !intent.asks(Concept::AllSyscalls) {
        return None;
    }
    let names_one = intent
        .calls
        .iter()
        .chain(&intent.syscall_words)
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
fn unnamed_syscalls(host: &HostFacts, intent: &Intent, source: &str) -> Option<String> {
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
        let text = format!(
            "{} {}",
            b.predicate.as_ref().map_or("", |p| p.condition.as_str()),
            b.body
        );
        (!ID_TESTED.is_match(&text)).then(|| raw.target.clone())
    });
    if let Some(raw) = every_call {
        let asked = if named.is_empty() {
            "the request is not about system calls in general".to_owned()
        } else {
            format!(
                "the request names the calls to trace ({})",
                named.join(", ")
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

/// A request about how long something existed ([`Concept::Lifetime`]: a file from its
/// creation to its removal, a process from fork to exit) answered by the latency of one call:
/// every time the program subtracts was stored at a call's entry (`sys_enter_X`, `uprobe:F`)
/// and is read at that same call's exit (`sys_exit_X`, `uretprobe:F`).
/// A time span whose start is stored and read at the same event (`@start[tid] = nsecs` and
/// `nsecs - @start[tid]` both at writeback_queue_io, and nowhere else) measures the few
/// nanoseconds between two handlers of one event, not anything the request asks about: a span
/// runs from one event to another (an entry to its return, an issue to its completion).
fn span_within_one_event(source: &str) -> Option<String> {
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

/// The bodies (byte ranges of `body`) of the `if (…)` statements whose condition tests a field
/// of the event (`args->…`).
fn field_tested_ranges(body: &str) -> Vec<std::ops::Range<usize>> {
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
fn span_start_unchecked(source: &str) -> Option<String> {
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
            let word = Regex::new(&format!(r"{}\b", regex::escape(name))).expect("escaped");
            word.is_match(pred)
                || Regex::new(&format!(r"if\s*\([^{{]*{}\b", regex::escape(name)))
                    .expect("escaped")
                    .is_match(&b.body)
                || Regex::new(&format!(r"{}\b[^;{{]*\?", regex::escape(name)))
                    .expect("escaped")
                    .is_match(&b.body)
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

fn lifetime_timed_as_one_call(intent: &Intent, source: &str) -> Option<String> {
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

/// A request that asks which files ([`Concept::FileName`]) answered, for some of its events,
/// by lines without the name those events carry: each block that prints, on a tracepoint
/// with a file-name string field (`filename`, `pathname`, `oldname`…), must print a file
/// name. Blocks on events without one (a `sys_exit_*` with only `ret`) are not judged.
fn file_names_untold(host: &HostFacts, intent: &Intent, source: &str) -> Option<String> {
    if !intent.asks(Concept::FileName) {
        return None;
    }
    let rule = COMPILED
        .iter()
        .find(|c| c.rule.asked == Concept::FileName)?;
    // Only the event's own fields: a `sys_exit_*` line may report the result of a call whose
    // name its `sys_enter_*` line printed.
    let names_a_file = |target: &str| {
        host.tracepoints.get(target).is_some_and(|tp| {
            tp.fields.iter().any(|f| {
                f.is_string() && ["name", "path", "file"].iter().any(|n| f.name.contains(n))
            })
        })
    };
    let mut untold = Vec::new();
    for b in probe_blocks(source) {
        if !b.body.contains("printf") {
            continue;
        }
        let body = STRING
            .replace_all(&strip_comments(&b.body), "\"\"")
            .into_owned();
        let reported = reported_code(&format!("BEGIN {{{body}}}"));
        if rule.code.is_match(&reported) {
            continue;
        }
        untold.extend(
            b.probes
                .iter()
                .filter(|p| p.is_tracepoint() && names_a_file(&p.target))
                .map(|p| format!("tracepoint:{}", p.target)),
        );
    }
    (!untold.is_empty()).then(|| {
        format!(
            "the request asks which files, but the lines of {} print no file name though the event carries one: print it with str(args->FIELD) (its name or path field)",
            untold.join(", ")
        )
    })
}

/// A request that asks which call each report is about ([`Concept::WhichCall`]), answered by a
/// program on several events whose output cannot tell them apart: a block attached to two
/// events without the `probe` (or `func`) builtin, or blocks whose printed text is the same.
/// The entry and exit of one syscall or function are one event. `code` is the program without
/// comments and string contents.
fn which_call_untold(intent: &Intent, source: &str, code: &str) -> Option<String> {
    if !intent.asks(Concept::WhichCall) {
        return None;
    }
    static NAMES_PROBE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\b(probe|func)\b").expect("static regex"));
    if NAMES_PROBE.is_match(code) {
        return None;
    }
    let event = |p: &ProbeSpec| {
        p.target
            .replace(":sys_exit_", ":sys_enter_")
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

/// Whether every event probe of `source` fires where a process is created, in the creating
/// task: the syscalls of fork (fork(2), clone(2): one kernel implementation, see
/// `syscall_variants`), sched:sched_process_fork and task:task_newtask.
pub fn creates_processes_only(host: &HostFacts, source: &str) -> bool {
    let forks = syscall_variants(host, "fork");
    let probes: Vec<ProbeSpec> = probe_blocks(source)
        .into_iter()
        .flat_map(|b| b.probes)
        .filter(ProbeSpec::observes_events)
        .collect();
    !probes.is_empty()
        && probes.iter().all(|p| {
            p.is_tracepoint()
                && (matches!(
                    p.target.as_str(),
                    "sched:sched_process_fork" | "task:task_newtask"
                ) || forks.iter().any(|f| {
                    p.target == format!("syscalls:sys_enter_{f}")
                        || p.target == format!("syscalls:sys_exit_{f}")
                }))
        })
}

/// A size the request states with a unit ("beyond 200 MB") that no constant of the program
/// equals, in bytes (binary or decimal) or as written: the test it asks for is missing, or
/// compares with another number. Constants are integer literals and products or shifts of
/// two or three of them (`200 * 1024 * 1024`, `200 << 20`).
fn stated_size_unused(intent: &Intent, code: &str) -> Option<String> {
    static CONSTANT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(\d+)(?:\s*(\*|<<)\s*(\d+))?(?:\s*\*\s*(\d+))?\b").expect("static regex")
    });
    if intent.sizes.is_empty() {
        return None;
    }
    let mut constants: Vec<i128> = Vec::new();
    for c in CONSTANT.captures_iter(code) {
        let num = |k: usize| c.get(k).and_then(|m| m.as_str().parse::<i128>().ok());
        let Some(a) = num(1) else { continue };
        constants.push(a);
        let b = match (c.get(2).map(|m| m.as_str()), num(3)) {
            (Some("*"), Some(b)) => a.checked_mul(b),
            (Some("<<"), Some(b)) if b < 64 => a.checked_mul(1i128 << b),
            _ => None,
        };
        if let Some(b) = b {
            constants.push(b);
            constants.extend(num(4).and_then(|d| b.checked_mul(d)));
        }
    }
    // The number as written (the 4 of "4 MiB") counts only where the program scales a value
    // to the unit first (`arg0 / 1048576 > 4`, `>> 20`): compared with bytes, 4 is 4 bytes.
    static SCALES: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"/\s*\(?\s*(1024|1000|1048576|1000000|1073741824|1000000000)\b|/\s*1024\s*/|>>\s*(10|20|30)\b")
            .expect("static regex")
    });
    let scales = SCALES.is_match(code);
    let unused: Vec<String> = intent
        .sizes
        .iter()
        .filter(|values| {
            let byte_values = if values.len() > 1 && !scales {
                &values[1..]
            } else {
                &values[..]
            };
            !byte_values.iter().any(|v| constants.contains(v))
        })
        .map(|values| {
            let shown: Vec<String> = values[1..].iter().map(i128::to_string).collect();
            format!("{} ({} bytes)", values[0], shown.join(" or "))
        })
        .collect();
    (!unused.is_empty()).then(|| {
        format!(
            "the request states the size {}, but the program compares nothing with it: test the size or amount the request is about against it",
            unused.join(" and ")
        )
    })
}

/// Syscalls the request names that the program never observes:
/// - written as calls (`bind()`, `sendto()`): the program must attach to one of its syscall
///   tracepoints, a variant's (`accept4` for `accept()`), or `raw_syscalls`;
/// - named by a word that is a syscall of this host and no everyday English word (`openat`,
///   `mkdir`, `futex`; [`Intent::syscall_words`]): as above, or through another subsystem's
///   tracepoint (`sched:sched_process_fork` observes `fork`), or a uprobe on a function of
///   that name. A program that only samples, or only traces other syscalls, does not.
fn named_calls_missing(host: &HostFacts, intent: &Intent, source: &str) -> Option<String> {
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
    let elsewhere = targets.iter().any(|t| !t.starts_with("syscalls:"));
    let named = intent.calls.iter().map(|c| (c, true)).chain(
        intent
            .syscall_words
            .iter()
            .filter(|w| !intent.calls.contains(w))
            .map(|w| (w, false)),
    );
    let named: Vec<(&String, bool)> = named.collect();
    let mut unmet = Vec::new();
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
        let fires = targets.iter().any(|t| {
            crate::knowledge::specs::fired_by(&format!("tracepoint:{t}"))
                .iter()
                .any(|c| c == name || variants.contains(c))
        });
        let observed_otherwise = fires
            || (!as_call
                && (elsewhere
                    || probes
                        .iter()
                        .any(|p| p.target.rsplit(':').next() == Some(name.as_str()))));
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
    (!unmet.is_empty()).then(|| {
        format!(
            "the request names {}, but the program attaches to none of its tracepoints",
            unmet.join(" and ")
        )
    })
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
mod tests {
    use super::*;

    fn host() -> HostFacts {
        HostFacts::for_tests_with_syscalls(&[
            "read", "bind", "connect", "accept", "accept4", "mkdir", "mkdirat", "fork", "openat",
            "execve", "execveat", "recvfrom", "recvmsg",
        ])
    }

    fn passes(request: &str, source: &str) -> bool {
        check_coverage(&host(), &Intent::read(request), source).passed()
    }

    #[test]
    fn the_local_port_is_the_sockets_own_not_the_peers() {
        let request =
            "incoming connections a server takes: its pid, the client's address and the local port";
        // accept's address is the client's: its port is the remote one.
        let peer = "tracepoint:syscalls:sys_enter_accept4 { @a[tid] = args->upeer_sockaddr; }\n\
                    tracepoint:syscalls:sys_exit_accept4 /@a[tid]/ { $s = (struct sockaddr_in *)@a[tid];\n\
                      printf(\"%d %s %d\\n\", pid, ntop($s->sin_addr.s_addr), bswap($s->sin_port)); delete(@a[tid]); }";
        assert!(!passes(request, peer));
        let own = "tracepoint:sock:inet_sock_set_state /args->newstate == 1/ { printf(\"%d %s %d\\n\", pid, ntop(args->daddr), args->sport); }";
        assert!(passes(request, own));
        // Asked for a port without saying whose: the peer's does.
        assert!(passes(
            "incoming connections: pid, client address and port",
            peer
        ));
    }

    #[test]
    fn a_parameter_asked_by_its_man_page_name_must_be_reported() {
        let h = HostFacts::for_tests_with_tracepoints(&[(
            "syscalls",
            "sys_enter_mount",
            &[
                ("int", "__syscall_nr"),
                ("char *", "dev_name"),
                ("char *", "dir_name"),
                ("char *", "type"),
                ("unsigned long", "flags"),
                ("void *", "data"),
            ],
        )]);
        let request =
            "Show each filesystem mount with its source and target, and the process name.";
        let check = |src: &str| check_coverage(&h, &Intent::read(request), src);
        let without = check(
            "tracepoint:syscalls:sys_enter_mount { printf(\"%s %s\\n\", comm, str(args->dir_name)); }",
        );
        assert!(!without.passed());
        let said = format!("{:?}", without.evidence);
        assert!(
            said.contains("`args->dev_name` (mount(2) calls it source)"),
            "{said}"
        );
        assert!(!said.contains("calls it target"), "{said}");
        assert!(check(
            "tracepoint:syscalls:sys_enter_mount { printf(\"%s %s %s\\n\", comm, str(args->dev_name), str(args->dir_name)); }",
        )
        .passed());
        // "name" in "process name" is no parameter asked for.
        let h = HostFacts::for_tests_with_tracepoints(&[(
            "syscalls",
            "sys_enter_memfd_create",
            &[
                ("int", "__syscall_nr"),
                ("const char *", "uname"),
                ("unsigned int", "flags"),
            ],
        )]);
        assert!(check_coverage(
            &h,
            &Intent::read("memfd_create: who makes one (the process name)?"),
            "tracepoint:syscalls:sys_enter_memfd_create { printf(\"%s\\n\", comm); }",
        )
        .passed());
    }

    #[test]
    fn a_command_line_where_programs_start_is_their_argv() {
        let ask = "log each program launched, with its whole command line";
        assert!(!passes(
            ask,
            "tracepoint:sched:sched_process_exec { printf(\"%s %d\\n\", comm, pid); }"
        ));
        assert!(passes(
            ask,
            "tracepoint:syscalls:sys_enter_execve { printf(\"%s %s\\n\", comm, join(args->argv)); }"
        ));
    }

    #[test]
    fn a_flag_named_as_c_writes_it_is_tested_where_the_call_has_it() {
        let ask = "who opens files with O_TRUNC, and which files";
        let creat_only = "tracepoint:syscalls:sys_enter_creat { printf(\"%s %s\\n\", comm, str(args->pathname)); }";
        assert!(!passes(ask, creat_only));
        let untested = "tracepoint:syscalls:sys_enter_openat { printf(\"%s %s\\n\", comm, str(args->filename)); }";
        assert!(!passes(ask, untested));
        let tested = "tracepoint:syscalls:sys_enter_openat /(args->flags & 512) != 0/ { printf(\"%s %s\\n\", comm, str(args->filename)); }";
        assert!(passes(ask, tested));
        let octal = "tracepoint:syscalls:sys_enter_openat { if (args->flags & 01000) { printf(\"%s %s\\n\", comm, str(args->filename)); } }";
        assert!(passes(ask, octal));
    }

    #[test]
    fn the_parents_name_is_not_the_process_name() {
        let ask = "for each accepted connection, the accepting process's name";
        assert!(!passes(
            ask,
            "tracepoint:syscalls:sys_exit_accept4 { printf(\"%s\\n\", curtask->real_parent->comm); }",
        ));
        assert!(passes(
            ask,
            "tracepoint:syscalls:sys_exit_accept4 { printf(\"%s %s\\n\", comm, curtask->real_parent->comm); }",
        ));
    }

    #[test]
    fn a_variable_named_like_a_value_does_not_provide_it() {
        let ask = "print the accepting process's PID for each accepted connection";
        assert!(!passes(
            ask,
            "tracepoint:syscalls:sys_exit_accept4 { $pid = args->ret; printf(\"%d\\n\", $pid); }",
        ));
        assert!(!passes(
            ask,
            "tracepoint:syscalls:sys_exit_accept4 { @pid = args->ret; printf(\"%d\\n\", @pid); }",
        ));
        // A per-thread key of a map the program deletes from reaches no output.
        assert!(!passes(
            ask,
            "tracepoint:syscalls:sys_enter_accept4 { @fd[tid] = args->fd; }\n\
             tracepoint:syscalls:sys_exit_accept4 /@fd[tid]/ { printf(\"%d\\n\", @fd[tid]); delete(@fd[tid]); }",
        ));
        // A tally keyed by it shows it.
        assert!(passes(
            ask,
            "tracepoint:syscalls:sys_exit_accept4 { @calls[tid] = count(); }",
        ));
        assert!(passes(
            ask,
            "tracepoint:syscalls:sys_exit_accept4 { $who = pid; printf(\"%d\\n\", $who); }",
        ));
    }

    #[test]
    fn the_acted_on_task_is_reported_for_every_event_that_names_it() {
        let h = HostFacts::for_tests_with_tracepoints(&[
            (
                "syscalls",
                "sys_enter_kill",
                &[("int", "__syscall_nr"), ("pid_t", "pid"), ("int", "sig")],
            ),
            (
                "syscalls",
                "sys_enter_tgkill",
                &[
                    ("int", "__syscall_nr"),
                    ("pid_t", "tgid"),
                    ("pid_t", "pid"),
                    ("int", "sig"),
                ],
            ),
        ]);
        let ask = Intent::read("for kill and tgkill, which pid is the targeted process");
        let check = |src: &str| check_coverage(&h, &ask, src);
        // The target of tgkill, but the caller of kill.
        let half = check(
            "tracepoint:syscalls:sys_enter_kill { printf(\"%d %d\\n\", pid, args->sig); }\n\
             tracepoint:syscalls:sys_enter_tgkill { printf(\"%d %d\\n\", args->tgid, args->sig); }",
        );
        assert!(!half.passed());
        let said = format!("{:?}", half.evidence);
        assert!(said.contains("of syscalls:sys_enter_kill"), "{said}");
        assert!(!said.contains("of syscalls:sys_enter_tgkill"), "{said}");
        assert!(check(
            "tracepoint:syscalls:sys_enter_kill { printf(\"%d %d\\n\", args->pid, args->sig); }\n\
             tracepoint:syscalls:sys_enter_tgkill { printf(\"%d %d\\n\", args->tgid, args->sig); }",
        )
        .passed());
        // Read in the condition of an `if` only, it is not reported.
        assert!(!check(
            "tracepoint:syscalls:sys_enter_kill { if (args->pid > 0) { printf(\"%d\\n\", pid); } }",
        )
        .passed());
    }

    #[test]
    fn what_a_call_fills_in_is_not_read_at_its_entry() {
        let h = HostFacts::for_tests_with_tracepoints(&[(
            "syscalls",
            "sys_enter_accept4",
            &[
                ("int", "__syscall_nr"),
                ("int", "fd"),
                ("struct sockaddr *", "upeer_sockaddr"),
                ("int *", "upeer_addrlen"),
                ("int", "flags"),
            ],
        )]);
        let ask = Intent::read("peers whose connections servers take in");
        let early = check_coverage(
            &h,
            &ask,
            "tracepoint:syscalls:sys_enter_accept4 { printf(\"%s\\n\", ntop(((struct sockaddr_in *)args->upeer_sockaddr)->sin_addr.s_addr)); }",
        );
        assert!(!early.passed());
        let said = format!("{:?}", early.evidence);
        assert!(
            said.contains("accept4(2) fills in what args->upeer_sockaddr points to"),
            "{said}"
        );
        // Saving the pointer for the return is how it is done.
        assert!(check_coverage(
            &h,
            &ask,
            "tracepoint:syscalls:sys_enter_accept4 { @a[tid] = args->upeer_sockaddr; }",
        )
        .passed());
    }

    #[test]
    fn a_span_start_subtracted_unchecked_is_flagged() {
        let unchecked = "tracepoint:sched:sched_process_wait { @t0[tid] = nsecs; }\ntracepoint:sched:sched_switch { @late[tid] = nsecs; @waited[comm] = sum((@late[tid] - @t0[tid]) / 1000); }";
        let m = span_start_unchecked(unchecked).expect("flagged");
        assert!(m.contains("@t0") && m.contains("time since boot"), "{m}");
        // Tested in the predicate, around the subtraction, or through a tested variable.
        for ok in [
            "tracepoint:syscalls:sys_enter_read { @t0[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_read /@t0[tid]/ { @us = hist((nsecs - @t0[tid]) / 1000); delete(@t0[tid]); }",
            "tracepoint:syscalls:sys_enter_read { @t0[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_read { if (@t0[tid] != 0) { @us = hist(nsecs - @t0[tid]); } }",
            "tracepoint:syscalls:sys_enter_read { @t0[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_read { $s = @t0[tid]; if ($s) { @us = hist(nsecs - @t0[tid]); } }",
            "tracepoint:syscalls:sys_enter_read { @t0[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_read { $s = @t0[tid]; $d = $s ? nsecs - @t0[tid] : 0; @us = hist($d); }",
            // Not a clock: a byte count subtracted is no span.
            "tracepoint:syscalls:sys_exit_read { @left[tid] = 5; @b = sum(10 - @left[tid]); }",
        ] {
            assert_eq!(span_start_unchecked(ok), None, "{ok}");
        }
    }

    #[test]
    fn a_span_stored_and_read_at_one_event_measures_nothing() {
        let one = "tracepoint:block:block_rq_issue { @t[tid] = nsecs; }\n\
                   t:block:block_rq_issue /@t[tid]/ { @us = hist((nsecs - @t[tid]) / 1000); delete(@t[tid]); }";
        let states = "tracepoint:sock:inet_sock_set_state { if (args->newstate == 1) { @born[args->skaddr] = nsecs; } if (args->newstate == 7 && @born[args->skaddr]) { printf(\"%d\\n\", (nsecs - @born[args->skaddr]) / 1000000); } }";
        assert_eq!(span_within_one_event(states), None, "one state to another");
        let m = span_within_one_event(one).expect("flagged");
        assert!(m.contains("block:block_rq_issue"), "{m}");
        assert!(!passes("how long do block requests take", one));
        let two = "tracepoint:block:block_rq_issue { @t[args->dev, args->sector] = nsecs; }\n\
                   tracepoint:block:block_rq_complete /@t[args->dev, args->sector]/ { @us = hist((nsecs - @t[args->dev, args->sector]) / 1000); }";
        assert_eq!(span_within_one_event(two), None);
        // Keyed by different tasks at one event: a span from one's switch to the other's.
        let switch = "tracepoint:sched:sched_switch { if (@s[cpu, args->prev_pid]) { @t = sum(nsecs - @s[cpu, args->prev_pid]); } @s[cpu, args->next_pid] = nsecs; }";
        assert_eq!(span_within_one_event(switch), None);
    }

    #[test]
    fn a_request_about_the_task_acted_on_needs_the_field_that_names_it() {
        use crate::host::{Field, Tracepoint};
        let mut h = host();
        for (system, event, fields) in [
            ("syscalls", "sys_enter_kill", &["pid", "sig"][..]),
            ("signal", "signal_deliver", &["sig", "errno", "code"][..]),
        ] {
            h.tracepoints.insert(
                format!("{system}:{event}"),
                Tracepoint {
                    subsystem: system.into(),
                    event: event.into(),
                    fields: fields
                        .iter()
                        .map(|f| Field {
                            ctype: "int".into(),
                            name: (*f).into(),
                            ..Default::default()
                        })
                        .collect(),
                },
            );
        }
        let ask = Intent::read("show the pid of each process being killed, and the signal");
        let caller = "tracepoint:syscalls:sys_enter_kill { printf(\"%d %d\\n\", pid, args->sig); }";
        let c = check_coverage(&h, &ask, caller);
        assert!(!c.passed(), "{}", c.detail());
        assert!(
            c.detail()
                .contains("`args->pid` of syscalls:sys_enter_kill"),
            "{}",
            c.detail()
        );
        let target =
            "tracepoint:syscalls:sys_enter_kill { printf(\"%d %d\\n\", args->pid, args->sig); }";
        assert!(check_coverage(&h, &ask, target).passed());
        // A filter on the field is not a report of it.
        let filtered =
            "tracepoint:syscalls:sys_enter_kill /args->pid > 0/ { printf(\"%d\\n\", pid); }";
        assert!(!check_coverage(&h, &ask, filtered).passed());
        // The acted-on task's name is reported too where the event carries it.
        let mut h2 = h.clone();
        if let Some(tp) = h2.tracepoints.get_mut("syscalls:sys_enter_kill") {
            tp.fields.push(Field {
                ctype: "char[16]".into(),
                name: "comm".into(),
                ..Default::default()
            });
        }
        let by_name =
            "tracepoint:syscalls:sys_enter_kill { printf(\"%s %d\\n\", args->comm, args->sig); }";
        let named = Intent::read("show the name of each process being killed, and the signal");
        let c = check_coverage(&h2, &named, by_name);
        assert!(c.passed(), "{}", c.detail());
        // Where the acted-on task runs the probe (a signal being delivered), `pid` is it.
        let delivered =
            "tracepoint:signal:signal_deliver { printf(\"%d %d\\n\", pid, args->sig); }";
        assert!(check_coverage(&h, &ask, delivered).passed());
        // A request about the caller demands nothing of the kind.
        let callers = Intent::read("show the pid of each process that calls kill");
        assert!(check_coverage(&h, &callers, caller).passed());
    }

    #[test]
    fn new_threads_are_told_apart_from_new_processes() {
        let ask = Intent::read("show every new thread with the process that started it");
        let every_fork =
            "tracepoint:sched:sched_process_fork { printf(\"%s %d\\n\", comm, args->child_pid); }";
        let c = check_coverage(&host(), &ask, every_fork);
        assert!(
            !c.passed() && c.detail().contains("CLONE_THREAD"),
            "{}",
            c.detail()
        );
        let threads = "tracepoint:task:task_newtask /args->clone_flags & 0x10000/ { printf(\"%s %d\\n\", comm, args->pid); }";
        assert!(check_coverage(&host(), &ask, threads).passed());
        // One block keeping threads does not excuse another printing every new task.
        let mixed = format!("{threads}\n{every_fork}");
        let c = check_coverage(&host(), &ask, &mixed);
        assert!(
            !c.passed() && c.detail().contains("sched:sched_process_fork"),
            "{}",
            c.detail()
        );
        // The flag in a comment or a string is no test of it.
        let commented = "// CLONE_THREAD\ntracepoint:sched:sched_process_fork { printf(\"0x10000 %d\\n\", args->child_pid); }";
        assert!(!check_coverage(&host(), &ask, commented).passed());
        // New processes are not asked to be threads.
        let procs = Intent::read("show every new process with its parent");
        assert!(check_coverage(&host(), &procs, every_fork).passed());
        // The ID asked with new threads is the new thread's, not its creator's `pid`/`tid`.
        let ids = Intent::read("log new threads as they start: their ID and the creating program");
        let creator = "tracepoint:task:task_newtask /args->clone_flags & 0x10000/ { printf(\"%s %d\\n\", comm, tid); }";
        let c = check_coverage(&host(), &ids, creator);
        assert!(
            !c.passed() && c.detail().contains("new task's ID"),
            "{}",
            c.detail()
        );
        assert!(check_coverage(&host(), &ids, threads).passed());
    }

    #[test]
    fn syscalls_in_general_are_all_of_them() {
        let ask = Intent::read("count failed system calls per process");
        let some = "tracepoint:syscalls:sys_exit_read /args->ret < 0/ { @[comm] = count(); }";
        let c = check_coverage(&host(), &ask, some);
        assert!(
            !c.passed() && c.detail().contains("raw_syscalls"),
            "{}",
            c.detail()
        );
        for all in [
            "tracepoint:raw_syscalls:sys_exit /args->ret < 0/ { @[comm] = count(); }",
            "tracepoint:syscalls:sys_exit_* /args->ret < 0/ { @[comm] = count(); }",
        ] {
            assert!(check_coverage(&host(), &ask, all).passed(), "{all}");
        }
        // A request that names its syscall is about that one.
        let named = Intent::read("count failed system calls to bind() per process");
        let bind = "tracepoint:syscalls:sys_exit_bind /args->ret < 0/ { @[comm] = count(); }";
        assert!(check_coverage(&host(), &named, bind).passed());
    }

    #[test]
    fn a_flag_spoken_of_in_words_is_read_where_it_is_reported() {
        let ask = "files that programs open for writing, with their names";
        let every =
            "tracepoint:syscalls:sys_enter_openat { printf(\"%s\\n\", str(args->filename)); }";
        let c = check_coverage(&host(), &Intent::read(ask), every);
        assert!(
            !c.passed() && c.detail().contains("O_WRONLY 0x1"),
            "{}",
            c.detail()
        );
        let tested = "tracepoint:syscalls:sys_enter_openat /args->flags & 3/ { printf(\"%s\\n\", str(args->filename)); }";
        assert!(passes(ask, tested));
        // Writing is O_WRONLY or O_RDWR (open(2)): one of the two bits keeps half.
        let half = "tracepoint:syscalls:sys_enter_openat /args->flags & 0x1/ { printf(\"%s\\n\", str(args->filename)); }";
        let c = check_coverage(&host(), &Intent::read(ask), half);
        assert!(
            !c.passed() && c.detail().contains("O_RDWR 0x2"),
            "{}",
            c.detail()
        );
        let both = "tracepoint:syscalls:sys_enter_openat /(args->flags & 1) || (2 & args->flags)/ { printf(\"%s\\n\", str(args->filename)); }";
        assert!(passes(ask, both));
        // Not spoken of: every open is what was asked.
        assert!(passes("files that programs open, with their names", every));
    }

    #[test]
    fn events_reporting_something_else_are_left_out() {
        // power:cpu_idle fires on the way into idle and, with PWR_EVENT_EXIT, on the way out.
        let ask = "tally low-power entries of every core";
        let both = "tracepoint:power:cpu_idle { @[args->cpu_id] = count(); }";
        let c = check_coverage(&host(), &Intent::read(ask), both);
        assert!(
            !c.passed() && c.detail().contains("PWR_EVENT_EXIT"),
            "{}",
            c.detail()
        );
        for entries in [
            "tracepoint:power:cpu_idle /args->state != 4294967295/ { @[args->cpu_id] = count(); }",
            "tracepoint:power:cpu_idle /(int32)args->state != -1/ { @[args->cpu_id] = count(); }",
            "tracepoint:power:cpu_idle { if (args->state < 100) { @[args->cpu_id] = count(); } }",
        ] {
            assert!(passes(ask, entries), "{entries}");
        }
        // Asked for: the way out is what the request wants, and only that.
        let out = "tally how often each core wakes from its low-power sleep";
        assert!(!passes(out, both));
        let exits =
            "tracepoint:power:cpu_idle /args->state == 4294967295/ { @[args->cpu_id] = count(); }";
        assert!(passes(out, exits));
    }

    #[test]
    fn every_syscall_is_not_the_one_named() {
        let ask = "tally accept() calls for each thread";
        let every = "tracepoint:raw_syscalls:sys_enter { @[tid] = count(); }";
        let c = check_coverage(&host(), &Intent::read(ask), every);
        assert!(
            !c.passed() && c.detail().contains("without testing `args->id`"),
            "{}",
            c.detail()
        );
        let mixed = "tracepoint:raw_syscalls:sys_enter { @[tid] = count(); }\ntracepoint:syscalls:sys_exit_accept { @[tid] = count(); }";
        assert!(!passes(ask, mixed));
        assert!(passes(
            ask,
            "tracepoint:raw_syscalls:sys_enter /args->id == 43/ { @[tid] = count(); }"
        ));
        assert!(passes(
            ask,
            "tracepoint:syscalls:sys_enter_accept { @[tid] = count(); }"
        ));
        // Nor is it what a request about something else asks for.
        let other = "log every entry into the kernel routine do_unlinkat";
        assert!(!passes(other, every));
        let keyed = "tracepoint:raw_syscalls:sys_enter { @[pid, args->id] = count(); }";
        assert!(!passes(other, keyed));
        assert!(passes("tally every system call by thread", every));
    }

    #[test]
    fn a_user_function_is_asked_about_by_its_values() {
        let ask = "watch gets() in the demo binary and print every string it hands back";
        let who = "uprobe:/usr/bin/demo:gets { printf(\"%s %d\\n\", comm, pid); }";
        let c = check_coverage(&host(), &Intent::read(ask), who);
        assert!(
            !c.passed() && c.detail().contains("return value"),
            "{}",
            c.detail()
        );
        let value = "uretprobe:/usr/bin/demo:gets { printf(\"%s %s\\n\", comm, str(retval)); }";
        assert!(passes(ask, value));
        // Who called it is all that is asked.
        assert!(passes(
            "which processes call gets() in the demo binary",
            who
        ));
    }

    #[test]
    fn what_a_user_function_returns_is_read_at_its_return() {
        let ask = "show what people type at their bash prompts";
        let prompt = "uprobe:/bin/bash:readline { printf(\"%s\\n\", str(arg0)); }";
        let c = check_coverage(&host(), &Intent::read(ask), prompt);
        assert!(
            !c.passed() && c.detail().contains("retval"),
            "{}",
            c.detail()
        );
        let line = "uretprobe:/bin/bash:readline { printf(\"%s\\n\", str(retval)); }";
        assert!(passes(ask, line));
    }

    #[test]
    fn a_kind_of_block_request_spoken_of_is_read_from_its_code_letters() {
        let ask = "a histogram of disk write sizes for each program";
        let all = "tracepoint:block:block_rq_issue { @[comm] = hist(args->bytes); }";
        let c = check_coverage(&host(), &Intent::read(ask), all);
        assert!(!c.passed() && c.detail().contains("rwbs"), "{}", c.detail());
        let writes = "tracepoint:block:block_rq_issue /((uint8 *)args->rwbs)[0] == 87/ { @[comm] = hist(args->bytes); }";
        assert!(passes(ask, writes));
        assert!(passes(
            "a histogram of disk request sizes for each program",
            all
        ));
        // Kept at the start of a span, read at its end: read on those events.
        let span = "tracepoint:block:block_rq_issue { @s[args->sector] = nsecs; @rw[args->sector] = args->rwbs; }\ntracepoint:block:block_rq_complete /@s[args->sector]/ { @[@rw[args->sector]] = hist(nsecs - @s[args->sector]); }";
        assert!(passes(
            "disk latency for reads and for writes, as histograms",
            span
        ));
    }

    #[test]
    fn a_tally_is_keyed_only_by_what_the_request_groups_by() {
        let ask = "how many times is each program moved between processors";
        let extra = "tracepoint:sched:sched_migrate_task { @[str(args->comm), args->dest_cpu, args->orig_cpu] = count(); }";
        let c = check_coverage(&host(), &Intent::read(ask), extra);
        assert!(
            !c.passed() && c.detail().contains("args->dest_cpu"),
            "{}",
            c.detail()
        );
        let asked = "tracepoint:sched:sched_migrate_task { @[str(args->comm)] = count(); }";
        assert!(passes(ask, asked));
        // Keys carried from the entry are the fields they were stored from.
        let ask = "a histogram of time in pselect6 for each program";
        let carried = "tracepoint:syscalls:sys_enter_pselect6 { @s[tid] = nsecs; @inp[tid] = args->inp; }\ntracepoint:syscalls:sys_exit_pselect6 /@s[tid]/ { @h[comm, @inp[tid]] = hist(nsecs - @s[tid]); delete(@s[tid]); delete(@inp[tid]); }";
        assert!(!passes(ask, carried));
        assert_eq!(
            split_top_level("comm, f(a, b), @m[x, y]"),
            ["comm", "f(a, b)", "@m[x, y]"]
        );
    }

    #[test]
    fn one_event_is_handled_once() {
        let twice = "tracepoint:sched:sched_process_exit { @[comm] = count(); }\ntracepoint:sched:sched_process_exit\n{\n  @[comm] = count();\n}";
        let c = check_coverage(
            &host(),
            &Intent::read("tally exiting programs by name"),
            twice,
        );
        assert!(
            !c.passed() && c.detail().contains("twice"),
            "{}",
            c.detail()
        );
        let two = "tracepoint:sched:sched_process_exit { @[comm] = count(); }\ntracepoint:sched:sched_process_exit { @n = count(); }";
        assert!(repeated_blocks(two).is_none());
    }

    #[test]
    fn syscalls_the_request_does_not_name_are_not_traced() {
        let ask = "directories made with mkdir(), by which program";
        let both = "tracepoint:syscalls:sys_enter_mkdir, tracepoint:syscalls:sys_enter_mkdirat { printf(\"%s\\n\", comm); }";
        assert!(passes(ask, both), "mkdirat is mkdir's *at spelling");
        let extra = "tracepoint:syscalls:sys_enter_mkdir, tracepoint:syscalls:sys_enter_openat { printf(\"%s\\n\", comm); }";
        let c = check_coverage(&host(), &Intent::read(ask), extra);
        assert!(
            !c.passed() && c.detail().contains("also traces openat"),
            "{}",
            c.detail()
        );
        // A program on none of the named calls is judged elsewhere (the subject check).
        let other = "tracepoint:syscalls:sys_enter_openat { printf(\"%s\\n\", comm); }";
        assert!(!check_coverage(&host(), &Intent::read(ask), other)
            .detail()
            .contains("also traces"));
    }

    #[test]
    fn the_exit_code_a_process_returned_is_its_exit_status() {
        let ask = Intent::read("each process that ends, with the exit code it returned");
        let exits = "tracepoint:sched:sched_process_exit { printf(\"%s %d\\n\", comm, curtask->exit_code >> 8); }";
        assert!(check_coverage(&host(), &ask, exits).passed());
        // A call's result is still asked where no exit status is.
        let call = Intent::read("each read and the value it returned");
        let no_ret = "tracepoint:syscalls:sys_enter_read { printf(\"%s\\n\", comm); }";
        assert!(!check_coverage(&host(), &call, no_ret).passed());
    }

    #[test]
    fn the_signal_that_killed_a_process_is_reported() {
        let ask =
            Intent::read("each process that ends: its exit code, or the signal that killed it");
        let code_only = "tracepoint:sched:sched_process_exit { printf(\"%s %d\\n\", comm, (curtask->exit_code >> 8) & 0xff); }";
        let c = check_coverage(&host(), &ask, code_only);
        assert!(!c.passed() && c.detail().contains("0x7f"), "{}", c.detail());
        let both = "tracepoint:sched:sched_process_exit { printf(\"%s %d %d\\n\", comm, (curtask->exit_code >> 8) & 0xff, curtask->exit_code & 0x7f); }";
        assert!(check_coverage(&host(), &ask, both).passed());
    }

    #[test]
    fn which_call_it_was_is_told_apart() {
        let ask = Intent::read("log fsync and fdatasync calls with the pid and which call it was");
        let same = "tracepoint:syscalls:sys_enter_fsync { printf(\"%d\\n\", pid); }\ntracepoint:syscalls:sys_enter_fdatasync { printf(\"%d\\n\", pid); }";
        let c = check_coverage(&host(), &ask, same);
        assert!(
            !c.passed() && c.detail().contains("`probe`"),
            "{}",
            c.detail()
        );
        let shared = "tracepoint:syscalls:sys_enter_fsync, tracepoint:syscalls:sys_enter_fdatasync { printf(\"%d\\n\", pid); }";
        assert!(!check_coverage(&host(), &ask, shared).passed());
        for told in [
            "tracepoint:syscalls:sys_enter_fsync, tracepoint:syscalls:sys_enter_fdatasync { printf(\"%s %d\\n\", probe, pid); }",
            "tracepoint:syscalls:sys_enter_fsync { printf(\"fsync %d\\n\", pid); }\ntracepoint:syscalls:sys_enter_fdatasync { printf(\"fdatasync %d\\n\", pid); }",
            // One call's entry and exit are one event.
            "tracepoint:syscalls:sys_enter_fsync { @s[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_fsync { printf(\"%d\\n\", pid); }",
        ] {
            assert!(check_coverage(&host(), &ask, told).passed(), "{told}");
        }
    }

    #[test]
    fn a_count_is_a_tally_not_a_line_per_event() {
        let ask = Intent::read("tally the chdir calls of each user's shell, by directory");
        let lines =
            "tracepoint:syscalls:sys_enter_chdir { printf(\"%s\\n\", str(args->filename)); }";
        let c = check_coverage(&host(), &ask, lines);
        assert!(
            !c.passed() && c.detail().contains("count()"),
            "{}",
            c.detail()
        );
        for tally in [
            "tracepoint:syscalls:sys_enter_chdir { @[str(args->filename)] = count(); }",
            "tracepoint:syscalls:sys_enter_chdir { @n[str(args->filename)]++; }",
        ] {
            let c = check_coverage(&host(), &ask, tally);
            assert!(c.passed(), "{tally}: {}", c.detail());
        }
    }

    #[test]
    fn which_files_wants_their_names_printed() {
        let ask = Intent::read("what files do my cron jobs truncate");
        let fds =
            "tracepoint:syscalls:sys_enter_ftruncate { printf(\"%s %d\\n\", comm, args->fd); }";
        let c = check_coverage(&host(), &ask, fds);
        assert!(
            !c.passed() && c.detail().contains("file name"),
            "{}",
            c.detail()
        );
        // Tested in a filter only, a name is not reported.
        let filtered = "tracepoint:syscalls:sys_enter_truncate /str(args->path) == \"/x\"/ { printf(\"%s\\n\", comm); }";
        assert!(!check_coverage(&host(), &ask, filtered).passed());
        for named in [
            "tracepoint:syscalls:sys_enter_truncate { printf(\"%s %s\\n\", comm, str(args->path)); }",
            "tracepoint:syscalls:sys_enter_truncate { @p[tid] = args->path; }\ntracepoint:syscalls:sys_exit_truncate { printf(\"%s\\n\", str(@p[tid])); }",
            "uprobe:/lib/x86_64-linux-gnu/libc.so.6:truncate { printf(\"%s\\n\", str(arg0)); }",
        ] {
            let c = check_coverage(&host(), &ask, named);
            assert!(c.passed(), "{named}: {}", c.detail());
        }
    }

    #[test]
    fn arguments_of_a_call_other_than_exec_are_its_parameters() {
        let ask = Intent::read("log every semop, its caller's name and the arguments given");
        let params = "tracepoint:syscalls:sys_enter_semop { printf(\"%s %d %d\\n\", comm, args->semid, args->nsops); }";
        assert!(check_coverage(&host(), &ask, params).passed());
        let nothing = "tracepoint:syscalls:sys_enter_semop { printf(\"%s\\n\", comm); }";
        assert!(!check_coverage(&host(), &ask, nothing).passed());
        // Where a program starts, its arguments are its argv.
        let exec = Intent::read("every program started, with its arguments");
        let no_argv =
            "tracepoint:syscalls:sys_enter_execve { printf(\"%s\\n\", str(args->filename)); }";
        assert!(!check_coverage(&host(), &exec, no_argv).passed());
    }

    #[test]
    fn a_requested_sleep_is_a_duration_the_call_carries() {
        let ask = Intent::read("how long do processes ask to sleep for in nanosleep");
        let asked = "tracepoint:syscalls:sys_enter_nanosleep { $t = (struct __kernel_timespec *)args->rqtp; printf(\"%s %d\\n\", comm, uptr($t)->tv_sec); }";
        assert!(check_coverage(&host(), &ask, asked).passed());
        let count = "tracepoint:syscalls:sys_enter_nanosleep { printf(\"%s\\n\", comm); }";
        assert!(!check_coverage(&host(), &ask, count).passed());
    }

    #[test]
    fn a_call_listed_beside_its_variant_is_its_own() {
        let h = HostFacts::for_tests_with_syscalls(&["sync", "syncfs", "fsync"]);
        let ask = Intent::read("log the calls sync, syncfs and fsync with the pid");
        let without_sync = "tracepoint:syscalls:sys_enter_syncfs, tracepoint:syscalls:sys_enter_fsync { printf(\"%d\\n\", pid); }";
        let c = check_coverage(&h, &ask, without_sync);
        assert!(
            !c.passed() && c.detail().contains("sys_enter_sync)"),
            "{}",
            c.detail()
        );
        let all = "tracepoint:syscalls:sys_enter_sync, tracepoint:syscalls:sys_enter_syncfs, tracepoint:syscalls:sys_enter_fsync { printf(\"%d\\n\", pid); }";
        assert!(check_coverage(&h, &ask, all).passed());
    }

    #[test]
    fn every_block_that_prints_names_the_file_its_event_carries() {
        use crate::host::{Field, Tracepoint};
        let mut h = host();
        for (event, field) in [
            ("sys_enter_unlinkat", "pathname"),
            ("sys_enter_renameat2", "oldname"),
        ] {
            h.tracepoints.insert(
                format!("syscalls:{event}"),
                Tracepoint {
                    subsystem: "syscalls".into(),
                    event: event.into(),
                    fields: vec![Field {
                        name: field.into(),
                        ctype: "const char *".into(),
                        ..Default::default()
                    }],
                },
            );
        }
        let ask = Intent::read("which files are removed or moved, and by whom");
        let half = "tracepoint:syscalls:sys_enter_unlinkat { printf(\"%s %s\\n\", comm, str(args->pathname)); }\ntracepoint:syscalls:sys_enter_renameat2 { printf(\"%s\\n\", comm); }";
        let c = check_coverage(&h, &ask, half);
        assert!(
            !c.passed()
                && c.detail()
                    .contains("tracepoint:syscalls:sys_enter_renameat2"),
            "{}",
            c.detail()
        );
        let both = "tracepoint:syscalls:sys_enter_unlinkat { printf(\"%s %s\\n\", comm, str(args->pathname)); }\ntracepoint:syscalls:sys_enter_renameat2 { printf(\"%s %s\\n\", comm, str(args->oldname)); }";
        assert!(check_coverage(&h, &ask, both).passed());
    }

    #[test]
    fn every_rule_compiles() {
        // A rule that does not compile would be left out silently at run time.
        for r in RULES {
            for re in [Some(r.code), r.format].into_iter().flatten() {
                assert!(Regex::new(re).is_ok(), "{}: {re}", r.what);
            }
        }
        assert_eq!(COMPILED.len(), RULES.len());
    }

    #[test]
    fn a_neighbouring_answer_is_refused_with_what_is_missing() {
        // A latency histogram is not "how many bytes each read() returned".
        let latency = "tracepoint:syscalls:sys_enter_read { @start[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_read /@start[tid]/ { @us = hist((nsecs - @start[tid]) / 1000); delete(@start[tid]); }";
        let c = check_coverage(
            &host(),
            &Intent::read("a histogram of the byte counts read() calls returned"),
            latency,
        );
        assert!(!c.passed());
        assert!(c.detail().contains("return value"), "{}", c.detail());
        let sizes =
            "tracepoint:syscalls:sys_exit_read /args->ret > 0/ { @bytes = hist(args->ret); }";
        assert!(passes(
            "a histogram of the byte counts read() calls returned",
            sizes
        ));
    }

    #[test]
    fn words_in_comments_and_format_strings_do_not_count() {
        let src = "// prints the process name\ntracepoint:syscalls:sys_enter_read { printf(\"comm pid\\n\"); }";
        let c = check_coverage(
            &host(),
            &Intent::read("print the process name and PID of every read()"),
            src,
        );
        assert!(!c.passed());
        assert_eq!(c.detail().lines().count(), 2, "{}", c.detail());
        assert!(passes(
            "print the process name and PID of every read()",
            "tracepoint:syscalls:sys_enter_read { printf(\"%s %d\\n\", comm, pid); }"
        ));
    }

    #[test]
    fn formats_and_durations() {
        let octal = "tracepoint:syscalls:sys_enter_read { printf(\"%o\\n\", args->count); }";
        assert!(passes("show the mode in octal", octal));
        assert!(!passes(
            "show the mode in octal",
            &octal.replace("%o", "%d")
        ));
        let lifetime = "tracepoint:sched:sched_process_exit { printf(\"%d\\n\", pid); }";
        assert!(!passes("how long each process lived", lifetime));
        assert!(passes(
            "how long each process lived",
            "tracepoint:sched:sched_process_exit /@born[pid]/ { $ms = (nsecs - @born[pid]) / 1000000; printf(\"%d\\n\", $ms); }"
        ));
    }

    #[test]
    fn a_value_used_only_in_a_filter_is_not_reported() {
        let filtered = "tracepoint:syscalls:sys_enter_read { if (args->count >= 65536 && comm == \"x\") { printf(\"big read\\n\"); } }";
        let c = check_coverage(
            &host(),
            &Intent::read("warn about reads of 64 KiB or more, giving the size and process name"),
            filtered,
        );
        assert!(!c.passed());
        assert!(
            c.detail().contains("process name") && c.detail().contains("size"),
            "{}",
            c.detail()
        );
        let reported = "tracepoint:syscalls:sys_enter_read { if (args->count >= 65536) { printf(\"%s %d\\n\", comm, args->count); } }";
        assert!(passes(
            "warn about reads of 64 KiB or more, giving the size and process name",
            reported
        ));
        // A name used as a filter is what "processes named x" asks for.
        assert!(passes(
            "count syscalls of processes named 'x'",
            "tracepoint:raw_syscalls:sys_enter /comm == \"x\"/ { @[args->id] = count(); }"
        ));
    }

    #[test]
    fn a_syscall_written_as_a_call_must_be_traced() {
        let connect = "tracepoint:syscalls:sys_enter_connect { printf(\"%s\\n\", comm); }";
        let c = check_coverage(
            &host(),
            &Intent::read("name the process behind each bind() call"),
            connect,
        );
        assert!(!c.passed());
        assert!(c.detail().contains("sys_enter_bind"), "{}", c.detail());
        // A variant counts (accept4 for accept()); library functions are not syscalls.
        let accept4 = "tracepoint:syscalls:sys_exit_accept4 { printf(\"%s\\n\", comm); }";
        assert!(passes("every accept() by process name", accept4));
        assert!(passes("processes calling malloc() by name", accept4));
        // "command line typed into bash" is no request for arguments.
        assert!(passes(
            "show every command line typed into bash",
            "uretprobe:/bin/bash:readline { printf(\"%s\\n\", str(retval)); }"
        ));
        // Requests that ask for nothing specific pass.
        assert!(passes("trace something", connect));
    }

    #[test]
    fn a_size_the_request_states_is_tested() {
        let request = "readers asking for over 4 MiB in one call";
        let none =
            "tracepoint:syscalls:sys_enter_read { printf(\"%s %d\\n\", comm, args->count); }";
        let c = check_coverage(&host(), &Intent::read(request), none);
        assert!(c.detail().contains("4194304"), "{}", c.detail());
        for fine in [
            "tracepoint:syscalls:sys_enter_read /args->count > 4194304/ { printf(\"%s\\n\", comm); }",
            "tracepoint:syscalls:sys_enter_read /args->count > 4 * 1024 * 1024/ { printf(\"%s\\n\", comm); }",
            "tracepoint:syscalls:sys_enter_read /args->count > (4 << 20)/ { printf(\"%s\\n\", comm); }",
            "tracepoint:syscalls:sys_enter_read /args->count > 4000000/ { printf(\"%s\\n\", comm); }",
        ] {
            assert!(passes(request, fine), "{fine}");
        }
        // Another number is no test of this one; no size stated, nothing asked.
        let off = "tracepoint:syscalls:sys_enter_read /args->count > 40000000/ { printf(\"%s\\n\", comm); }";
        assert!(!passes(request, off));
        // The bare number is 4 bytes, unless the program scales the value to the unit first.
        let bare =
            "tracepoint:syscalls:sys_enter_read /args->count > 4/ { printf(\"%s\\n\", comm); }";
        assert!(!passes(request, bare));
        let scaled = "tracepoint:syscalls:sys_enter_read /args->count / 1048576 > 4/ { printf(\"%s\\n\", comm); }";
        assert!(passes(request, scaled));
        assert!(passes("processes that read the most", none));
    }

    #[test]
    fn a_permission_test_reads_the_mode() {
        let request = "alert when any file is made world-writable, with the process name";
        let no_mode =
            "tracepoint:syscalls:sys_exit_read { printf(\"%s %o\\n\", comm, args->ret); }";
        let c = check_coverage(&host(), &Intent::read(request), no_mode);
        assert!(c.detail().contains("S_IWOTH"), "{}", c.detail());
        let mode =
            "tracepoint:syscalls:sys_enter_read /args->mode & 2/ { printf(\"%s\\n\", comm); }";
        assert!(passes(request, mode));
    }

    #[test]
    fn where_a_process_is_created_the_running_task_is_the_parent() {
        let h = HostFacts::for_tests_with_syscalls(&["fork", "vfork", "clone", "clone3", "read"]);
        let request = "tally the children each parent name spawns";
        let forks = "tracepoint:syscalls:sys_enter_clone,tracepoint:syscalls:sys_enter_clone3 { @[comm] = count(); }";
        assert!(check_coverage(&h, &Intent::read(request), forks).passed());
        let reads = "tracepoint:syscalls:sys_enter_read { @[comm] = count(); }";
        assert!(!check_coverage(&h, &Intent::read(request), reads).passed());
    }

    #[test]
    fn the_parent_is_reported_when_asked_for() {
        let own = "tracepoint:syscalls:sys_enter_read { printf(\"%d %s\\n\", pid, comm); }";
        let request = "every reader with its PPID and the parent process name";
        let c = check_coverage(&host(), &Intent::read(request), own);
        assert!(c.detail().contains("the parent's PID"), "{}", c.detail());
        assert!(c.detail().contains("the parent's name"), "{}", c.detail());
        let parent = "tracepoint:syscalls:sys_enter_read { printf(\"%d %d %s\\n\", pid, curtask->real_parent->tgid, curtask->real_parent->comm); }";
        assert!(passes(request, parent));
    }

    #[test]
    fn a_call_the_c_library_makes_through_another_syscall_is_traced_there() {
        let opens =
            "tracepoint:syscalls:sys_exit_openat /args->ret < 0/ { printf(\"%s\\n\", comm); }";
        let request = "list the programs whose execv() fails, by process name";
        let c = check_coverage(&host(), &Intent::read(request), opens);
        assert!(!c.passed());
        assert!(c.detail().contains("sys_enter_execve"), "{}", c.detail());
        let execs =
            "tracepoint:syscalls:sys_exit_execve /args->ret < 0/ { printf(\"%s\\n\", comm); }";
        assert!(passes(request, execs));
        // recv(2) documents recv beside recvfrom and recvmsg, the syscalls that perform it.
        let recvs = "tracepoint:syscalls:sys_enter_recvfrom { printf(\"%s\\n\", comm); }";
        assert!(passes("which process name calls recv() most", recvs));
        assert!(!passes("which process name calls recv() most", opens));
    }

    #[test]
    fn both_tasks_asked_for_are_both_reported() {
        let ask = Intent::read("pair every waker with the woken task: count wakeups per waker comm and woken task comm");
        assert!(ask.asks(Concept::TargetTask) && ask.asks(Concept::ActingTask));
        let woken_only = "tracepoint:sched:sched_wakeup { @w[args->comm] = count(); }";
        assert!(acting_task_missing(&ask, woken_only).is_some());
        let both = "tracepoint:sched:sched_wakeup { @w[comm, args->comm] = count(); }";
        assert!(acting_task_missing(&ask, both).is_none());
        // Only the woken task asked for: the event's field is enough.
        let target = Intent::read("count wakeups per woken task comm");
        assert!(acting_task_missing(&target, woken_only).is_none());
    }

    #[test]
    fn a_call_is_observed_by_an_event_it_fires() {
        use crate::host::{Field, Tracepoint};
        let mut h = HostFacts::for_tests_with_syscalls(&["setitimer", "alarm", "getitimer"]);
        h.tracepoints.insert(
            "timer:itimer_state".into(),
            Tracepoint {
                subsystem: "timer".into(),
                event: "itimer_state".into(),
                fields: vec![Field {
                    name: "which".into(),
                    ctype: "int".into(),
                    ..Default::default()
                }],
            },
        );
        let on_event = "tracepoint:timer:itimer_state { printf(\"%s %d\\n\", comm, args->which); }";
        let ask =
            Intent::read("who arms timers with alarm() or setitimer()? print the program name");
        assert!(named_calls_missing(&h, &ask, on_event).is_none());
        // A call the event does not fire for is still missing.
        let ask = Intent::read("who reads timers with getitimer()? print the program name");
        assert!(named_calls_missing(&h, &ask, on_event).is_some());
    }

    #[test]
    fn a_lifetime_is_not_one_calls_latency() {
        let ask = "report each scratch file's path and lifespan in ms once it is unlinked";
        let latency = "tracepoint:syscalls:sys_enter_unlinkat { @t[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_unlinkat /@t[tid]/ { printf(\"%s %d\\n\", comm, (nsecs - @t[tid]) / 1000000); delete(@t[tid]); }";
        let why = lifetime_timed_as_one_call(&Intent::read(ask), latency).expect("refused");
        assert!(why.contains("unlinkat"), "{why}");
        // Created at one event, removed at another, keyed by name: a lifetime.
        let lifetime = "tracepoint:syscalls:sys_enter_creat { @born[str(args->pathname)] = nsecs; }\ntracepoint:syscalls:sys_enter_unlinkat /@born[str(args->pathname)]/ { printf(\"%s %d\\n\", str(args->pathname), (nsecs - @born[str(args->pathname)]) / 1000000); }";
        assert!(lifetime_timed_as_one_call(&Intent::read(ask), lifetime).is_none());
        // The same latency program answers a latency request.
        assert!(lifetime_timed_as_one_call(
            &Intent::read("how long does each unlinkat() take, in ms"),
            latency
        )
        .is_none());
    }

    #[test]
    fn a_syscall_named_by_its_name_must_be_observed() {
        let sampled = "profile:hz:99 { @[comm] = count(); }";
        let c = check_coverage(
            &host(),
            &Intent::read("who creates directories with mkdir"),
            sampled,
        );
        assert!(!c.passed());
        assert!(c.detail().contains("the mkdir syscall"), "{}", c.detail());
        assert!(c.detail().contains("sys_enter_mkdirat"), "{}", c.detail());
        let other = "tracepoint:syscalls:sys_enter_connect { @[comm] = count(); }";
        assert!(!passes("who creates directories with mkdir", other));
        let variant = "tracepoint:syscalls:sys_enter_mkdirat { @[comm] = count(); }";
        assert!(passes("who creates directories with mkdir", variant));
        // Another subsystem's tracepoint may observe it (a new process for fork).
        let sched = "tracepoint:sched:sched_process_fork { @[comm] = count(); }";
        assert!(passes("count processes made by fork per parent", sched));
        // Everyday words that are also syscall names ("read") demand nothing unless called.
        assert!(passes("how much does each process read", other));
    }
}
