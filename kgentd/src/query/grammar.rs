//! The GBNF grammar of a query, generated per request from the allowed probes, and the words
//! that teach the language to the model.
use std::fmt::Write as _;

use super::TimeUnit;
use crate::toolchain::grammar::{literal, AllowedProbe, ProbeContext};

/// The grammar: FROM may name only `from` (event probes), `args->` only `fields`. Values are
/// terms, filters at most three `term op literal` tests: a small model given room for
/// expressions fills it with conditions nobody asked for. None when `from` is empty.
///
/// With `all_of_from`, FROM is not a choice: it lists every probe of `from`, in order (the calls
/// the request names). With a `unit` (the one the request states), durations and ages are
/// read in it only. `coded` fields (code letters, e.g. `rwbs`) may be tested with
/// `contains(args->F, "L")`.
pub fn gbnf(
    from: &[AllowedProbe],
    fields: &[String],
    all_of_from: bool,
    unit: Option<TimeUnit>,
    coded: &[String],
) -> Option<String> {
    let probes: Vec<String> = from.iter().map(|p| literal(&p.name)).collect();
    if probes.is_empty() {
        return None;
    }
    let mut fields: Vec<&str> = fields
        .iter()
        .map(String::as_str)
        .filter(|f| *f != "__syscall_nr" && *f != "ret")
        .collect();
    fields.sort();
    fields.dedup();
    let uprobes = from
        .iter()
        .any(|p| matches!(p.context, ProbeContext::Uprobe | ProbeContext::Uretprobe));
    let mut terms = vec![
        r#""comm""#.to_owned(),
        r#""pid""#.into(),
        r#""tid""#.into(),
        r#""uid""#.into(),
        r#""cpu""#.into(),
        r#""probe""#.into(),
        r#""ppid""#.into(),
        r#""pcomm""#.into(),
        r#""ret""#.into(),
        match unit {
            Some(u) => format!(r#""duration_{}""#, u.suffix()),
            None => r#""duration_" ("ns" | "us" | "ms")"#.into(),
        },
        match unit {
            Some(u) => format!(r#""process_age_{}""#, u.suffix()),
            None => r#""process_age_" ("us" | "ms")"#.into(),
        },
        r#""exit_code""#.into(),
        r#""exit_signal""#.into(),
    ];
    if !fields.is_empty() {
        terms.push(r#""args->" field"#.into());
    }
    if uprobes {
        terms.push(r#""arg" [0-5]"#.into());
    }
    let mut g = String::new();
    g.push_str(
        r#"root ::= "SELECT " items " FROM " probes (" WHERE " cond)? (" GROUP BY " keys)? "\n"
items ::= item (", " item){0,5}
item ::= agg | value
agg ::= "count()" | ("sum" | "hist" | "avg" | "min" | "max") "(" term ")"
value ::= term | "str(" term ")"
keys ::= term (", " term){0,2}
cond ::= test (" " ("AND" | "OR") " " test){0,2}
cmp ::= "==" | "!=" | "<=" | ">=" | "<" | ">"
literal ::= "-"? int | string
int ::= "0x" [0-9a-fA-F]{1,8} | [0-9]{1,12} (" "? ("KiB" | "MiB" | "GiB" | "KB" | "MB" | "GB"))?
string ::= "\"" [^"\\\n]{0,40} "\""
"#,
    );
    let _ = writeln!(g, "term ::= {}", terms.join(" | "));
    let compare = r#"term (" & " int)? " " cmp " " literal"#;
    // A prefix test on a string: a path under a directory, a process name's start.
    let prefix = if fields.is_empty() {
        r#""starts_with(comm, " string ")""#
    } else {
        r#""starts_with(" ("comm" | "args->" field) ", " string ")""#
    };
    if coded.is_empty() {
        let _ = writeln!(g, "test ::= {compare} | {prefix}");
    } else {
        let alts: Vec<String> = coded.iter().map(|f| literal(f)).collect();
        let _ = writeln!(
            g,
            r#"test ::= {compare} | {prefix} | "contains(args->" coded ", \"" [A-Z] "\")""#
        );
        let _ = writeln!(g, "coded ::= {}", alts.join(" | "));
    }
    if all_of_from {
        let _ = writeln!(g, "probes ::= {}", probes.join(" \", \" "));
    } else {
        let _ = writeln!(g, "probes ::= probe (\", \" probe){{0,3}}");
        let _ = writeln!(g, "probe ::= {}", probes.join(" | "));
    }
    if !fields.is_empty() {
        let alts: Vec<String> = fields.iter().map(|f| literal(f)).collect();
        let _ = writeln!(g, "field ::= {}", alts.join(" | "));
    }
    Some(g)
}

/// The system prompt of the query step.
pub fn system_prompt(kernel_release: &str) -> String {
    format!(
        "You turn tracing requests for Linux {kernel_release} into one query for kgent, which compiles it to bpftrace. Reply with the query only.\n\
Form: SELECT values FROM probes [WHERE condition] [GROUP BY keys]\n\
- FROM: one or more probes listed by the user. For a syscall name its sys_enter_* tracepoint (list every variant the request means, e.g. open and openat).\n\
- Values: comm, pid, tid, uid, cpu, probe (which of the FROM probes fired), ppid and pcomm (the parent process's PID and name), args->FIELD (fields of the FROM tracepoints, entry or exit side, and parameters of a function whose prototype is listed), ret (what the call returned: bytes read or written, a new fd, 0, or -errno when < 0), duration_us / duration_ms / duration_ns (time from call to return; at an event without a return, what its facts say duration measures there), arg0..arg5 (uprobe arguments; str(arg0) for a string), process_age_ms (how long the current process has existed, not a connection or a request), exit_code and exit_signal (in sched_process_exit).\n\
- kgent pairs entry and exit per thread, prints strings, addresses and ports correctly, and prints each event as one line.\n\
- Aggregates: count(), sum(v), hist(v) (power-of-two histogram), avg(v), min(v), max(v), per GROUP BY keys; they print when tracing stops. Without an aggregate every event prints a line.\n\
- WHERE: only conditions the request states, joined by AND / OR; sizes may use units (64 MiB); comm == \"name\" filters by process name; starts_with(args->FIELD, \"/dir/\") keeps paths under a directory.\n\
Examples:\n\
Request: print every file that processes named nginx open, with the pid\n\
SELECT comm, pid, args->filename FROM tracepoint:syscalls:sys_enter_openat, tracepoint:syscalls:sys_enter_open WHERE comm == \"nginx\"\n\
Request: histogram of write() latency in microseconds for each process\n\
SELECT comm, hist(duration_us) FROM tracepoint:syscalls:sys_enter_write GROUP BY comm\n\
Request: which connect() calls fail, with the address and the error\n\
SELECT comm, pid, args->uservaddr, ret FROM tracepoint:syscalls:sys_enter_connect WHERE ret < 0\n\
Request: count signals delivered, by signal number and receiving process\n\
SELECT count() FROM tracepoint:signal:signal_deliver GROUP BY comm, args->sig"
    )
}

pub const REPAIR: &str = "Write a corrected query, following the diagnostic.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_probes_are_enumerated() {
        let from = vec![
            AllowedProbe::tracepoint("tracepoint:syscalls:sys_enter_openat", Vec::new()),
            AllowedProbe::tracepoint("tracepoint:syscalls:sys_enter_open", Vec::new()),
        ];
        let fields: Vec<String> = ["__syscall_nr", "filename", "flags", "ret", "filename"]
            .map(String::from)
            .to_vec();
        let g = gbnf(&from, &fields, false, None, &[]).expect("grammar");
        assert!(g.contains(r#"field ::= "filename" | "flags""#), "{g}");
        assert!(g.contains(
            r#"probe ::= "tracepoint:syscalls:sys_enter_openat" | "tracepoint:syscalls:sys_enter_open""#
        ));
        assert!(!g.contains(r#""arg" [0-5]"#), "no uprobe, no argN");
        assert!(g.contains(r#""duration_" ("ns" | "us" | "ms")"#), "{g}");
        assert_eq!(gbnf(&[], &fields, false, None, &[]), None);
        assert!(
            !g.contains("contains("),
            "no coded field, no contains(): {g}"
        );
        let g = gbnf(&from, &fields, true, Some(TimeUnit::Ms), &["flags".into()]).expect("grammar");
        assert!(
            g.contains(r#"| "contains(args->" coded ", \"" [A-Z] "\")""#)
                && g.contains(r#"coded ::= "flags""#),
            "{g}"
        );
        assert!(
            g.contains(r#""duration_ms""#) && !g.contains(r#""us""#),
            "the request's unit only: {g}"
        );
        assert!(g.contains(
            r#"probes ::= "tracepoint:syscalls:sys_enter_openat" ", " "tracepoint:syscalls:sys_enter_open""#
        ), "{g}");
    }
}
