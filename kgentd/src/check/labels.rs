//! Values printed under another value's name: a printf whose label before a conversion
//! ("CPU %d", "dependency=%d") names one value while the argument is another field of the
//! event. The line reads as an answer and is wrong: "Tick stopped on CPU 1" printing
//! timer:tick_stop's `dependency`, or "dependency=1" printing its `success`.
//!
//! A label names a field as the request's words do ([`crate::intent::naming::used_by`]: a
//! part of the field's name, or a spelled-out short form), and the CPU as bpftrace(8) calls it
//! (`cpu`). Only a label that names a value the argument is not is judged: the label must name
//! another field of the event (or the CPU) and not the argument's field; a label that names
//! nothing ("from %d", "value=%d") says nothing to judge. Only direct field reads are judged
//! (`args->F`, `str(args->F)`), where the event's tracefs format says which fields there are.
use std::collections::BTreeSet;

use super::addresses::visit;
use crate::host::HostFacts;
use crate::intent::naming::used_by;
use crate::symbolic::program::{read, Block, Stmt};
use crate::toolchain::bpftrace::expr::{conversions, Expr, Node};

/// One line per value printed under another value's name.
pub(super) fn mislabelled(host: &HostFacts, source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for block in read(source) {
        let Some(fields) = event_fields(host, &block) else {
            continue;
        };
        let events = block
            .probes
            .iter()
            .map(|p| format!("tracepoint:{}", p.target))
            .collect::<Vec<_>>()
            .join(", ");
        visit(&block.body, &mut |s| {
            let Stmt::Output { call, format, args } = s else {
                return;
            };
            if call != "printf" {
                return;
            }
            let convs = conversions(format);
            let mut from = 0;
            for (conv, arg) in convs.iter().zip(args) {
                let percent = format
                    .get(..conv.at)
                    .and_then(|f| f.rfind('%'))
                    .unwrap_or(conv.at);
                let label = format
                    .get(from.min(percent)..percent)
                    .and_then(label_before);
                from = conv.at + 1;
                let (Some(label), Some(field)) = (label, field_read(arg)) else {
                    continue;
                };
                if used_by(field, &[label.as_str()]) {
                    continue;
                }
                let others: Vec<&str> = fields
                    .iter()
                    .map(String::as_str)
                    .filter(|g| *g != field && used_by(g, &[label.as_str()]))
                    .collect();
                if let Some(other) = others.first() {
                    out.push(format!(
                        "the program prints args->{field} under the label \"{label}\", which names args->{other} of {events}: print each value under its own name"
                    ));
                } else if label == "cpu" {
                    out.push(format!(
                        "the program prints args->{field} under the label \"{label}\": the CPU is bpftrace's builtin `cpu` (or a field with cpu in its name), not {field}; print each value under its own name"
                    ));
                }
            }
        });
    }
    out.sort();
    out.dedup();
    out
}

/// The fields of every event a block runs on, when all are tracepoints this host has.
fn event_fields(host: &HostFacts, block: &Block) -> Option<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for p in &block.probes {
        if !p.is_tracepoint() {
            return None;
        }
        let tp = host.tracepoints.get(&p.target)?;
        out.extend(
            tp.fields
                .iter()
                .filter(|f| !f.name.starts_with('_'))
                .map(|f| f.name.clone()),
        );
    }
    (!out.is_empty()).then_some(out)
}

/// The word a piece of format text ends with, lowercase, where it labels what follows: the
/// last word of 3+ letters, followed only by spaces, `=` or `:` ("CPU ", "pid=", "state: ").
fn label_before(text: &str) -> Option<String> {
    let trimmed = text.trim_end_matches([' ', '=', ':']);
    let word_start = trimmed
        .char_indices()
        .rev()
        .find(|(_, c)| !c.is_ascii_alphanumeric() && *c != '_')
        .map_or(0, |(i, c)| i + c.len_utf8());
    let word = trimmed.get(word_start..).unwrap_or_default();
    // A label word starts with a letter; a conversion's own text ends the previous value.
    let label = word.len() >= 3 && word.starts_with(|c: char| c.is_ascii_alphabetic());
    label.then(|| word.to_ascii_lowercase())
}

/// The tracepoint field an argument reads directly: `args->F`, `str(args->F)`.
fn field_read(arg: &Node) -> Option<&str> {
    let n = arg.bare();
    if let Some(f) = n.args_field() {
        return Some(f);
    }
    match &n.expr {
        Expr::Call(name, args) if name == "str" => args.first().and_then(|a| a.bare().args_field()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostFacts {
        HostFacts::for_tests_with_tracepoints(&[
            (
                "timer",
                "tick_stop",
                &[("int", "success"), ("int", "dependency")],
            ),
            (
                "sched",
                "sched_process_fork",
                &[
                    ("char[16]", "parent_comm"),
                    ("pid_t", "parent_pid"),
                    ("char[16]", "child_comm"),
                    ("pid_t", "child_pid"),
                ],
            ),
        ])
    }

    #[test]
    fn a_value_under_another_fields_name_is_mislabelled() {
        let swapped = "tracepoint:timer:tick_stop { printf(\"ok=%d dependency=%d\\n\", args->dependency, args->success); }";
        let found = mislabelled(&host(), swapped);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("args->success under the label \"dependency\""));
        let right = "tracepoint:timer:tick_stop { printf(\"succeeded %d, blocked by %d\\n\", args->success, args->dependency); }";
        assert!(mislabelled(&host(), right).is_empty());
    }

    #[test]
    fn a_field_printed_as_the_cpu_is_mislabelled() {
        let src = "tracepoint:timer:tick_stop { if (args->success) { printf(\"stopped on core/CPU %d\\n\", args->dependency); } }";
        assert_eq!(mislabelled(&host(), src).len(), 1);
        let builtin =
            "tracepoint:timer:tick_stop { printf(\"CPU %d: %d\\n\", cpu, args->dependency); }";
        assert!(mislabelled(&host(), builtin).is_empty());
    }

    #[test]
    fn labels_that_name_the_argument_or_nothing_pass() {
        let src = "tracepoint:sched:sched_process_fork { printf(\"%s (pid %d) forked child %s, pid %d\\n\", args->parent_comm, args->parent_pid, str(args->child_comm), args->child_pid); }";
        assert!(mislabelled(&host(), src).is_empty());
        let swapped =
            "tracepoint:sched:sched_process_fork { printf(\"child=%d\\n\", args->parent_pid); }";
        assert_eq!(mislabelled(&host(), swapped).len(), 1);
    }
}
