//! The GBNF grammar of a query, generated per request from the allowed probes, and the words
//! that teach the language to the model.
use std::fmt::Write as _;

use crate::toolchain::grammar::{literal, AllowedProbe, ProbeContext};

/// The grammar: FROM may name only the allowed event probes, `args->` only fields one of them
/// has. None when no event probe is allowed.
pub fn gbnf(allowed: &[AllowedProbe]) -> Option<String> {
    let probes: Vec<String> = allowed
        .iter()
        .filter(|p| p.context != ProbeContext::Plain || p.name.starts_with("profile:"))
        .map(|p| literal(&p.name))
        .collect();
    if probes.is_empty() {
        return None;
    }
    let mut fields: Vec<&str> = allowed
        .iter()
        .flat_map(|p| match &p.context {
            ProbeContext::Tracepoint { fields } => fields.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        })
        .filter(|f| *f != "__syscall_nr" && *f != "ret")
        .collect();
    fields.sort();
    fields.dedup();
    let uprobes = allowed
        .iter()
        .any(|p| matches!(p.context, ProbeContext::Uprobe | ProbeContext::Uretprobe));
    let mut terms = vec![
        r#""comm""#.to_owned(),
        r#""pid""#.into(),
        r#""tid""#.into(),
        r#""uid""#.into(),
        r#""cpu""#.into(),
        r#""ret""#.into(),
        r#""duration_" ("ns" | "us" | "ms")"#.into(),
        r#""age_" ("us" | "ms")"#.into(),
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
        r#"root ::= "SELECT " items sep "FROM " probes (sep "WHERE " cond)? (sep "GROUP BY " keys)? "\n"
sep ::= " " | "\n"
items ::= item (", " item){0,7}
item ::= agg | value
agg ::= "count()" | ("sum" | "hist" | "avg" | "min" | "max") "(" expr ")"
keys ::= value (", " value){0,3}
value ::= "str(" term ")" | expr
probes ::= probe (", " probe){0,5}
cond ::= expr (" " logic " " expr){0,3}
logic ::= "AND" | "OR"
expr ::= unary (" " binop " " unary){0,3}
unary ::= "-"? primary
primary ::= term | int | string | "(" expr ")"
binop ::= "==" | "!=" | "<=" | ">=" | "<" | ">" | "&" | "|" | "+" | "-" | "*" | "/" | "%" | ">>" | "<<"
int ::= ("0x" [0-9a-fA-F]{1,8} | [0-9]{1,12}) unit?
unit ::= " "? ("KiB" | "MiB" | "GiB" | "KB" | "MB" | "GB")
string ::= "\"" [^"\\\n]{0,40} "\""
"#,
    );
    let _ = writeln!(g, "term ::= {}", terms.join(" | "));
    let _ = writeln!(g, "probe ::= {}", probes.join(" | "));
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
- Values: comm, pid, tid, uid, cpu, args->FIELD (fields of the FROM probes, from the entry or the exit tracepoint), ret (the syscall's or function's return value; < 0 is -errno), duration_us / duration_ms / duration_ns (time from call to return), arg0..arg5 (uprobe arguments; str(arg0) for a string), age_ms (how long the process has existed), exit_code and exit_signal (in sched_process_exit).\n\
- kgent pairs entry and exit per thread, prints strings, addresses and ports correctly, and prints each event as one line.\n\
- Aggregates: count(), sum(v), hist(v) (power-of-two histogram), avg(v), min(v), max(v), per GROUP BY keys; they print when tracing stops. Without an aggregate every event prints a line.\n\
- WHERE: comparisons joined by AND / OR; sizes may use units (64 MiB); comm == \"name\" filters by process name.\n\
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
        let allowed = vec![
            AllowedProbe::tracepoint(
                "tracepoint:syscalls:sys_enter_openat",
                vec!["__syscall_nr".into(), "filename".into(), "flags".into()],
            ),
            AllowedProbe::tracepoint("tracepoint:syscalls:sys_exit_openat", vec!["ret".into()]),
        ];
        let g = gbnf(&allowed).expect("grammar");
        assert!(g.contains(r#"field ::= "filename" | "flags""#), "{g}");
        assert!(g.contains(
            r#"probe ::= "tracepoint:syscalls:sys_enter_openat" | "tracepoint:syscalls:sys_exit_openat""#
        ));
        assert!(!g.contains(r#""arg" [0-5]"#), "no uprobe, no argN");
        assert_eq!(gbnf(&[]), None);
    }
}
