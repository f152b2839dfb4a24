//! Filter tests in free-form bpftrace drafts that the request does not state are removed, as
//! the query step drops them from queries: a small model invents values to filter on
//! (`str(args->name) == "eth0"`, `args->result != 0`) and the program then prints nothing, or
//! the wrong subset, yet passes its checks on background noise.
//!
//! A block's predicate (`/…/`) and its top-level `if (…)` conditions are parsed
//! ([`crate::toolchain::bpftrace::expr`]) and split at `&&`. A test that compares one value (an
//! `args` field, a builtin, `retval`, `str()` of one, `strncmp` with a string) with a literal
//! is judged by [`stated::stated`], the notion the query step uses; an unstated one is removed
//! with a note. So is a bit test of a documented flag (`(args->flag & 0x200) != 0`,
//! AT_REMOVEDIR) when the request does not speak of what the flag means. The predicate goes
//! when no test is left; an `if` without `else` is unwrapped so its body always runs (an `if`
//! whose body only `return`s goes whole).
//!
//! Kept whatever the request says, because they are not literal filters or their meaning is
//! not a choice: tests that read a `$variable` or an `@map` (`@start[tid]`, `pid == $target`),
//! tests between two values, bit tests of masks `specs-db/flags.toml` does not document and
//! other arithmetic, named constants (`AF_INET`), a number compared with a field the kernel
//! prints by name (`args->newstate == 1`), anything under `!` but `strncmp`, `if`s with an
//! `else` or that also leave the probe, and text it cannot parse. When unsure, the test stays.
//!
//! It only removes tests, never adds one. It is for programs the model wrote: a program kgent
//! compiled from a query had its filter pruned as a query (see `ProgramTarget::repair`).
use std::collections::{BTreeMap, BTreeSet};

use super::draft_types::{block_field_types, named_value_fields, FieldType};
use super::stated::{self, Cmp, Shape, Test, Value};
use crate::host::HostFacts;
use crate::intent::Intent;
use crate::toolchain::bpftrace::expr::{self, Expr, Node, Op, Prefix, Tok};
use crate::toolchain::bpftrace::probe_blocks;
use crate::toolchain::bpftrace::syntax::Edits;

/// Removes the unstated tests of every block (see the module comment) from a source without
/// comments; the repaired source and one note per removed test.
pub(super) fn prune_filters(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
) -> (String, Vec<String>) {
    let mut edits = Edits::default();
    let mut notes: Vec<String> = Vec::new();
    for block in probe_blocks(source) {
        let fields = Fields {
            types: unread_addresses_as_data(block_field_types(host, &block), &block),
            named: named_value_fields(host, &block),
            probes: block
                .probes
                .iter()
                .filter(|p| p.is_tracepoint())
                .map(|p| p.target.clone())
                .collect(),
            man: man_names(host, &block),
        };
        let judge = |range: std::ops::Range<usize>| {
            let toks = expr::tokens(source, range);
            let tree = expr::parse(&toks)?;
            let (kept, dropped) = split(&tree, source, &fields, intent);
            (!dropped.is_empty()).then_some((kept, dropped))
        };
        if let Some(p) = &block.predicate {
            let inner = p.span.start + 1..p.span.end.saturating_sub(1);
            let slashed = source
                .get(p.span.clone())
                .is_some_and(|t| t.len() >= 2 && t.starts_with('/') && t.ends_with('/'));
            if let Some((kept, dropped)) = slashed.then(|| judge(inner.clone())).flatten() {
                if kept.is_empty() {
                    edits.replace(p.span.clone(), String::new());
                } else {
                    edits.replace(inner, kept.join(" && "));
                }
                notes.extend(dropped);
            }
        }
        let body = expr::tokens(source, block.body_span.clone());
        for st in expr::top_level_ifs(&body) {
            if st.has_else {
                continue;
            }
            let Some((kept, dropped)) = judge(st.condition.clone()) else {
                continue;
            };
            if !kept.is_empty() {
                edits.replace(st.condition.clone(), kept.join(" && "));
            } else {
                let inner = expr::tokens(source, st.body.clone());
                let word = |i: usize| match inner.get(i).map(|t| &t.tok) {
                    Some(Tok::Ident(w)) => Some(w.as_str()),
                    _ => None,
                };
                let leaves = inner
                    .iter()
                    .any(|t| matches!(&t.tok, Tok::Ident(w) if w == "return" || w == "exit"));
                let only_return = word(0) == Some("return")
                    && (inner.len() == 1
                        || (inner.len() == 2 && matches!(inner[1].tok, Tok::Punct(";"))));
                match (leaves, only_return) {
                    (_, true) => edits.replace(st.span.clone(), String::new()),
                    // A guard that also leaves the probe: no one reading of it without the test.
                    (true, false) => continue,
                    (false, false) => {
                        let Some(text) = source.get(st.body.clone()) else {
                            continue;
                        };
                        edits.replace(st.span.clone(), text.trim().to_owned());
                    }
                }
            }
            notes.extend(dropped);
        }
    }
    notes.dedup();
    (edits.apply(source), notes)
}

/// What the catalog says about the `args` fields of a block.
struct Fields {
    types: BTreeMap<String, FieldType>,
    /// Fields whose values the kernel prints by name.
    named: BTreeSet<String>,
    /// The block's tracepoints (`syscalls:sys_enter_openat`), for its fields' flags.
    probes: Vec<String>,
    /// The man-page names of the block's syscall parameters, by field (`behavior` →
    /// `advice` at sys_enter_madvise).
    man: BTreeMap<String, String>,
}

/// A socket address the block tests against NULL but never reads is no pointer guarded before
/// use: its NULL has a meaning the request must state (sendto(2): a connected socket's calls
/// pass no `dest_addr`, and `args->addr != 0` drops them). Its test is then judged as one of a
/// pointer to data ([`FieldType::DataPointer`]).
fn unread_addresses_as_data(
    mut types: BTreeMap<String, FieldType>,
    block: &crate::toolchain::bpftrace::ProbeBlock,
) -> BTreeMap<String, FieldType> {
    let code = block.code();
    for (name, ty) in types.iter_mut() {
        let uses = regex::Regex::new(&format!(r"args\s*(?:->|\.)\s*{name}\b"))
            .map_or(0, |re| re.find_iter(&code).count());
        if *ty == FieldType::SockaddrPointer && uses <= 1 {
            *ty = FieldType::DataPointer;
        }
    }
    types
}

/// The man-page name of each syscall parameter of the block's `sys_enter_*` tracepoints, by
/// the field that carries it ([`crate::knowledge::syscall_man::SyscallMan::event_parameters`]).
fn man_names(
    host: &HostFacts,
    block: &crate::toolchain::bpftrace::ProbeBlock,
) -> BTreeMap<String, String> {
    let man = crate::knowledge::syscall_man::SyscallMan::shipped();
    block
        .probes
        .iter()
        .filter_map(|p| host.tracepoints.get(&p.target))
        .flat_map(|tp| man.man_names(&tp.event, tp.fields.iter().map(|f| f.name.as_str())))
        .collect()
}

/// The tests of a condition (its `&&` operands) the request states, as written, and a note
/// for each it does not.
fn split(
    tree: &Node,
    source: &str,
    fields: &Fields,
    intent: &Intent,
) -> (Vec<String>, Vec<String>) {
    let (mut kept, mut dropped) = (Vec::new(), Vec::new());
    for part in tree.operands(Op::And) {
        let Some(text) = source.get(part.span.clone()) else {
            return (Vec::new(), Vec::new());
        };
        match unstated(part, fields, intent) {
            Some(why) => dropped.push(format!("removed the test `{text}`: {why}")),
            None => kept.push(text.to_owned()),
        }
    }
    (kept, dropped)
}

/// Why the request does not state this `&&` operand, or None to keep it.
fn unstated(part: &Node, fields: &Fields, intent: &Intent) -> Option<&'static str> {
    let part = ungrouped(part);
    if part.reads_state() {
        return None;
    }
    // Alternatives go together: all unstated, or the test stays.
    let leaves = part.operands(Op::Or);
    let mut why = None;
    for leaf in leaves {
        let test = described(ungrouped(leaf), fields, intent)?;
        let params: Vec<String> = test
            .fields
            .iter()
            .filter_map(|f| fields.man.get(*f).cloned())
            .collect();
        if stated::stated(&test, intent, &params) {
            return None;
        }
        why.get_or_insert(stated::why_unstated(&test));
    }
    why
}

fn ungrouped(n: &Node) -> &Node {
    match &n.expr {
        Expr::Group(inner) => ungrouped(inner),
        _ => n,
    }
}

fn cmp_of(op: Op) -> Option<Cmp> {
    Some(match op {
        Op::Eq => Cmp::Eq,
        Op::Ne => Cmp::Ne,
        Op::Lt => Cmp::Lt,
        Op::Gt => Cmp::Gt,
        Op::Le => Cmp::Le,
        Op::Ge => Cmp::Ge,
        _ => return None,
    })
}

/// A bit test that requires a documented flag (`specs-db/flags.toml`): `args->F & M` as a
/// truth value, `!= 0` or `== M`.
fn flag_test<'a>(test: &'a Node, fields: &Fields, intent: &Intent) -> Option<Test<'a>> {
    let masked = |n: &'a Node| -> Option<(&'a str, i128)> {
        let Expr::Binary(a, Op::BitAnd, b) = &n.bare().expr else {
            return None;
        };
        match (
            a.bare().args_field(),
            literal(b),
            literal(a),
            b.bare().args_field(),
        ) {
            (Some(f), Some(Lit::Int(m)), _, _) | (_, _, Some(Lit::Int(m)), Some(f)) => Some((f, m)),
            _ => None,
        }
    };
    let (field, mask) = match &test.bare().expr {
        Expr::Binary(a, op, b) if matches!(op, Op::Eq | Op::Ne) => {
            let ((field, mask), lit) = match (masked(a), masked(b)) {
                (Some(m), None) => (m, literal(b)?),
                (None, Some(m)) => (m, literal(a)?),
                _ => return None,
            };
            // Only a test that requires the flag narrows to what the flag means; one that
            // leaves it out (`== 0`: files, not directories) keeps the common case.
            let requires = match lit {
                Lit::Int(0) => *op == Op::Ne,
                Lit::Int(n) => *op == Op::Eq && n == mask,
                Lit::Str(_) => false,
            };
            if !requires {
                return None;
            }
            (field, mask)
        }
        _ => masked(test)?,
    };
    let flags = crate::knowledge::flags::documented(&fields.probes, field, mask)?;
    Some(Test {
        fields: vec![field],
        ints: vec![mask],
        strings: Vec::new(),
        shape: Shape::Flag {
            asked: crate::knowledge::flags::asked(&flags, intent),
        },
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lit<'a> {
    Int(i128),
    Str(&'a str),
}

/// A literal number (`-1` included: a negated literal is one) or string.
fn literal(n: &Node) -> Option<Lit<'_>> {
    match &n.bare().expr {
        Expr::Int(i) => Some(Lit::Int(*i)),
        Expr::Str(s) => Some(Lit::Str(s)),
        Expr::Prefix(Prefix::Neg, inner) => match inner.bare().expr {
            Expr::Int(i) => i.checked_neg().map(Lit::Int),
            _ => None,
        },
        _ => None,
    }
}

/// A literal filter as [`stated::stated`] reads it, or None when the test is not one.
fn described<'a>(test: &'a Node, fields: &Fields, intent: &Intent) -> Option<Test<'a>> {
    let types = &fields.types;
    if let Expr::Prefix(Prefix::Not, inner) = &test.expr {
        return prefix_match(inner.bare(), types);
    }
    if let Some(t) = flag_test(test, fields, intent) {
        return Some(t);
    }
    // A bare `args` field as a truth value is `field != 0` (bpftrace(8): non-zero is true).
    if test.bare().args_field().is_some() {
        let (field, kind) = subject(test, types)?;
        return Some(Test {
            fields: field.into_iter().collect(),
            ints: vec![0],
            strings: Vec::new(),
            shape: Shape::Zero(kind, Cmp::Ne),
        });
    }
    let Expr::Binary(a, op, b) = &test.expr else {
        return None;
    };
    let cmp = cmp_of(*op)?;
    // `strncmp(…) == 0`: a prefix match.
    for (call, zero) in [(a, b), (b, a)] {
        if literal(zero) == Some(Lit::Int(0)) && matches!(cmp, Cmp::Eq | Cmp::Ne) {
            if let Some(t) = prefix_match(call.bare(), types) {
                return Some(t);
            }
        }
    }
    let (value, lit, cmp) = match (literal(a), literal(b)) {
        (None, Some(l)) => (a, l, cmp),
        (Some(l), None) => (b, l, cmp.swapped()),
        _ => return None,
    };
    let (field, kind) = subject(value, types)?;
    let named = field.is_some_and(|f| fields.named.contains(f));
    let fields: Vec<&str> = field.into_iter().collect();
    Some(match lit {
        Lit::Int(n) if n != 0 && named && matches!(cmp, Cmp::Eq | Cmp::Ne) => Test {
            fields,
            ints: vec![n],
            strings: Vec::new(),
            shape: Shape::NamedValue,
        },
        Lit::Str(s) if matches!(cmp, Cmp::Eq | Cmp::Ne) => Test {
            fields,
            ints: Vec::new(),
            strings: vec![s],
            shape: if cmp == Cmp::Ne {
                Shape::StringExcluded
            } else {
                Shape::StringMatch
            },
        },
        Lit::Int(0) => Test {
            fields,
            ints: vec![0],
            strings: Vec::new(),
            shape: Shape::Zero(kind, cmp),
        },
        Lit::Int(n) => Test {
            fields,
            ints: vec![n],
            strings: Vec::new(),
            shape: Shape::Compared(cmp),
        },
        Lit::Str(_) => return None,
    })
}

/// `strncmp(value, "literal", n)`: a test of the literal.
fn prefix_match<'a>(call: &'a Node, types: &BTreeMap<String, FieldType>) -> Option<Test<'a>> {
    let Expr::Call(name, args) = &call.expr else {
        return None;
    };
    let [x, y, n] = args.as_slice() else {
        return None;
    };
    if name != "strncmp" || !matches!(literal(n), Some(Lit::Int(_))) {
        return None;
    }
    let (value, s) = match (literal(x), literal(y)) {
        (None, Some(Lit::Str(s))) => (x, s),
        (Some(Lit::Str(s)), None) => (y, s),
        _ => return None,
    };
    let (field, _) = subject(value, types)?;
    Some(Test {
        fields: field.into_iter().collect(),
        ints: Vec::new(),
        strings: vec![s],
        shape: Shape::StringMatch,
    })
}

/// The one value a test compares, when it is plain: an `args` field, a builtin or `retval`,
/// or `str()` of one (casts and parentheses aside). Its field name, and what it is.
fn subject<'a>(
    value: &'a Node,
    types: &BTreeMap<String, FieldType>,
) -> Option<(Option<&'a str>, Value)> {
    let mut v = value.bare();
    if let Expr::Call(name, args) = &v.expr {
        match args.as_slice() {
            [x] | [x, _] if name == "str" => v = x.bare(),
            _ => return None,
        }
    }
    if let Some(f) = v.args_field() {
        let kind = if stated::is_result_name(f) {
            Value::Result
        } else {
            types.get(f).map_or(Value::Unknown, |t| t.zero_value())
        };
        return Some((Some(f), kind));
    }
    let Expr::Ident(name) = &v.expr else {
        return None;
    };
    // bpftrace(8), "Builtins".
    let kind = match name.as_str() {
        "retval" => Value::Result,
        "pid" | "tid" | "uid" | "gid" | "cpu" | "comm" | "username" => Value::Integer,
        "cgroup" | "nsecs" | "elapsed" | "arg0" | "arg1" | "arg2" | "arg3" | "arg4" | "arg5" => {
            Value::Unknown
        }
        _ => return None,
    };
    Some((None, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostFacts {
        HostFacts::for_tests_with_tracepoints(&[
            (
                "irq",
                "irq_handler_entry",
                &[("int", "irq"), ("__data_loc char[]", "name")],
            ),
            (
                "syscalls",
                "sys_enter_unlinkat",
                &[
                    ("int", "dfd"),
                    ("const char *", "pathname"),
                    ("int", "flag"),
                ],
            ),
            ("syscalls", "sys_exit_unlinkat", &[("long", "ret")]),
            (
                "syscalls",
                "sys_enter_sigaction_like",
                &[
                    ("int", "sig"),
                    ("const struct sigaction *", "act"),
                    ("const char *", "name"),
                ],
            ),
            (
                "syscalls",
                "sys_enter_sendto",
                &[
                    ("int", "fd"),
                    ("void *", "buff"),
                    ("size_t", "len"),
                    ("unsigned int", "flags"),
                    ("struct sockaddr *", "addr"),
                    ("int", "addr_len"),
                ],
            ),
            (
                "syscalls",
                "sys_enter_wait_like",
                &[("pid_t", "upid"), ("int *", "stat_addr")],
            ),
            (
                "block",
                "block_rq_done",
                &[
                    ("dev_t", "dev"),
                    ("int", "result"),
                    ("unsigned int", "nr_sector"),
                ],
            ),
        ])
    }

    fn pruned(request: &str, src: &str) -> (String, Vec<String>) {
        prune_filters(&host(), &Intent::read(request), src)
    }

    #[test]
    fn a_null_test_of_a_socket_address_never_read_is_a_choice() {
        let ask = "big datagrams: sendto calls over 9000 bytes, with the length";
        let unread = "tracepoint:syscalls:sys_enter_sendto /args->len > 9000 && args->addr != 0/ { printf(\"%d\\n\", args->len); }";
        let (fixed, notes) = pruned(ask, unread);
        assert!(!fixed.contains("args->addr"), "{fixed}");
        assert_eq!(notes.len(), 1, "{notes:?}");
        // Read after the test, the address is guarded: the test stays.
        let read = "tracepoint:syscalls:sys_enter_sendto /args->len > 9000 && args->addr != 0/ { printf(\"%d %d\\n\", args->len, ((struct sockaddr_in *)args->addr)->sin_port); }";
        let (kept, _) = pruned(ask, read);
        assert!(kept.contains("args->addr != 0"), "{kept}");
    }

    #[test]
    fn the_number_of_a_size_states_no_other_value() {
        // "2 MiB" states the size, not `fd != 2`.
        let ask = "pwrite64 calls that write over 2 MiB, with the descriptor";
        let src = "tracepoint:syscalls:sys_enter_pwrite64 /args->count > 2097152 && args->fd != 2/ { printf(\"%d\\n\", args->fd); }";
        let (fixed, notes) = pruned(ask, src);
        assert!(!fixed.contains("args->fd != 2"), "{fixed}");
        assert!(fixed.contains("args->count > 2097152"), "{fixed}");
        assert_eq!(notes.len(), 1, "{notes:?}");
        // Stated apart from the size, it is stated.
        let both = "pwrite64 calls to file descriptor 1 that write over 2 MiB";
        let eq = "tracepoint:syscalls:sys_enter_pwrite64 /args->count > 2097152 && args->fd == 1/ { printf(\"%d\\n\", args->count); }";
        let (kept, _) = pruned(both, eq);
        assert!(kept.contains("args->fd == 1"), "{kept}");
    }

    #[test]
    fn a_builtins_stated_value_states_no_fields() {
        let ask = "tally the syscalls of pid 4242 by syscall id";
        let src = "tracepoint:raw_syscalls:sys_enter /args->id == 4242 && pid == 4242/ { @[args->id] = count(); }";
        let (fixed, notes) = pruned(ask, src);
        assert!(!fixed.contains("args->id == 4242"), "{fixed}");
        assert!(fixed.contains("pid == 4242"), "{fixed}");
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    #[test]
    fn leaving_out_the_process_the_request_watches_is_no_stated_test() {
        let src = "tracepoint:sched:sched_switch /comm != \"kgtest-loop\"/ { @[cpu] = count(); }";
        let (fixed, notes) = pruned(
            "tally switches off the cpu of threads named kgtest-loop",
            src,
        );
        assert!(!fixed.contains("!= \"kgtest-loop\""), "{fixed}");
        assert_eq!(notes.len(), 1, "{notes:?}");
        // Set apart by the request, it is what it asks.
        let (kept, _) = pruned(
            "tally switches off the cpu, ignoring threads named kgtest-loop",
            src,
        );
        assert!(kept.contains("!= \"kgtest-loop\""), "{kept}");
        // Kept equal, it is the filter asked for.
        let eq = "tracepoint:sched:sched_switch /comm == \"kgtest-loop\"/ { @[cpu] = count(); }";
        let (kept, _) = pruned(
            "tally switches off the cpu of threads named kgtest-loop",
            eq,
        );
        assert!(kept.contains("== \"kgtest-loop\""), "{kept}");
    }

    #[test]
    fn a_flag_test_stays_only_when_the_request_speaks_of_the_flag() {
        let src = "tracepoint:syscalls:sys_enter_unlinkat /(args->flag & 0x200) != 0/ { printf(\"%s\\n\", str(args->pathname)); }";
        let (fixed, notes) = pruned("list every path removed, and by which program", src);
        assert!(!fixed.contains("0x200"), "{fixed}");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(
            pruned("list every directory removed, and by which program", src).0,
            src
        );
        // Naming the field does not ask for one of its bits; a mask of bits not documented
        // there stays as written.
        assert!(!pruned("paths removed with their flag value", src)
            .0
            .contains("0x200"));
        let other = "tracepoint:syscalls:sys_enter_unlinkat /args->flag & 0x100/ { printf(\"%s\\n\", str(args->pathname)); }";
        assert_eq!(pruned("list every path removed", other).0, other);
        // A test that leaves the flag out keeps the common case: it stays.
        let files_only = "tracepoint:syscalls:sys_enter_unlinkat /(args->flag & 0x200) == 0/ { printf(\"%s\\n\", str(args->pathname)); }";
        assert_eq!(pruned("list every path removed", files_only).0, files_only);
    }

    #[test]
    fn a_null_test_of_a_struct_a_call_takes_is_a_choice_and_of_a_string_structure() {
        // sigaction(2): a NULL `act` only queries the handler; testing it picks calls by that.
        let src = "tracepoint:syscalls:sys_enter_sigaction_like /args->act != 0/ { printf(\"%d\\n\", args->sig); }";
        let (fixed, notes) = pruned("every handler change, with the signal number", src);
        assert!(!fixed.contains("args->act"), "{fixed}");
        assert_eq!(notes.len(), 1, "{notes:?}");
        // A string pointer checked for NULL before it is read: structure, kept.
        let name = "tracepoint:syscalls:sys_enter_sigaction_like /args->name != 0/ { printf(\"%s\\n\", str(args->name)); }";
        assert_eq!(pruned("every handler change, with the name", name).0, name);
        // wait4(2): the status is stored "if wstatus is not NULL"; a NULL test of an `int *`
        // picks calls by that.
        let status = "tracepoint:syscalls:sys_enter_wait_like /args->stat_addr != 0/ { printf(\"%d\\n\", args->upid); }";
        let (fixed, notes) = pruned("every wait for a child, with the pid waited on", status);
        assert!(!fixed.contains("stat_addr"), "{fixed}");
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    #[test]
    fn an_invented_string_value_goes_with_its_predicate() {
        let src = "tracepoint:irq:irq_handler_entry /str(args->name) == \"irq_name\"/ { @[str(args->name)] = count(); }";
        let (fixed, notes) = pruned("count hardware interrupts by handler name", src);
        assert_eq!(
            fixed,
            "tracepoint:irq:irq_handler_entry  { @[str(args->name)] = count(); }"
        );
        assert_eq!(
            notes,
            ["removed the test `str(args->name) == \"irq_name\"`: the request states no such value"]
        );
        // Quoted in the request: stated.
        let (kept, notes) = pruned("count interrupts of the handler 'irq_name'", src);
        assert_eq!((kept.as_str(), notes.len()), (src, 0));
    }

    #[test]
    fn a_result_test_goes_unless_failures_are_asked_for() {
        let src = "tracepoint:block:block_rq_done { if (args->result != 0) { printf(\"%d\\n\", args->nr_sector); } }";
        let (fixed, notes) = pruned("sectors of each completed block request", src);
        assert_eq!(
            fixed,
            "tracepoint:block:block_rq_done { printf(\"%d\\n\", args->nr_sector); }"
        );
        assert_eq!(
            notes,
            ["removed the test `args->result != 0`: the request does not ask for failures only"]
        );
        let (kept, _) = pruned("block requests that completed with an error", src);
        assert_eq!(kept, src);
        let ok = "tracepoint:syscalls:sys_exit_unlinkat /args->ret < 0/ { @[comm] = count(); }";
        assert_eq!(pruned("unlinkat calls that failed, per process", ok).0, ok);
        assert!(!pruned("unlinkat calls per process", ok).0.contains("ret"));
    }

    #[test]
    fn state_pointers_and_structure_stay() {
        for src in [
            "tracepoint:syscalls:sys_exit_unlinkat /@start[tid]/ { delete(@start[tid]); }",
            "tracepoint:syscalls:sys_enter_unlinkat /pid == $1/ { @ = count(); }",
            "tracepoint:syscalls:sys_enter_unlinkat /args->pathname != 0/ { @ = count(); }",
            "tracepoint:syscalls:sys_enter_unlinkat /args->flag & 0x100/ { @ = count(); }",
            "tracepoint:syscalls:sys_enter_unlinkat /args->dfd == args->flag/ { @ = count(); }",
            "tracepoint:syscalls:sys_enter_unlinkat { if (pid == 7) { @a = 1; } else { @b = 1; } }",
            "tracepoint:syscalls:sys_enter_unlinkat { if (comm == \"x\") { @a = 1; exit(); } }",
            "kprobe:vfs_unlink /arg1 != 0/ { @ = count(); }",
            "tracepoint:syscalls:sys_enter_unlinkat /args->flag == AT_REMOVEDIR/ { @ = count(); }",
            "tracepoint:syscalls:sys_enter_unlinkat /args->pathname == 0 ||/ { @ = count(); }",
        ] {
            let (fixed, notes) = pruned("count the calls", src);
            assert_eq!((fixed.as_str(), notes.len()), (src, 0), "{notes:?}");
        }
    }

    #[test]
    fn a_success_test_stays_only_where_the_request_keeps_one_outcome() {
        let src = "tracepoint:syscalls:sys_exit_unlinkat /args->ret >= 0/ { @ = count(); }";
        assert_eq!(pruned("count the successful calls", src).0, src);
        let (fixed, notes) = pruned("count the calls", src);
        assert!(!fixed.contains("ret"), "{fixed}");
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn a_field_as_a_truth_value_is_a_test_against_zero() {
        // `irq` is an int: `if (args->irq)` hides IRQ 0, which the request does not ask.
        let src = "tracepoint:irq:irq_handler_entry { if (args->irq) { @[args->irq] = count(); } }";
        let (fixed, notes) = pruned("count interrupts per IRQ number", src);
        assert_eq!(
            fixed,
            "tracepoint:irq:irq_handler_entry { @[args->irq] = count(); }"
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        // A pointer as a truth value is a NULL check: structure, it stays.
        let src = "tracepoint:syscalls:sys_enter_unlinkat /args->pathname/ { @ = count(); }";
        assert_eq!(pruned("count the calls", src).0, src);
    }

    #[test]
    fn only_the_unstated_tests_of_a_condition_go() {
        let src = "tracepoint:syscalls:sys_enter_unlinkat /comm == \"rm\" && args->dfd == 42 && (pid == 1 || pid == 2)/ { if (args->flag == 512 && @seen[tid]) { @ = count(); } }";
        let (fixed, notes) = pruned("unlinkat from processes named 'rm' with dfd 42", src);
        assert_eq!(
            fixed,
            "tracepoint:syscalls:sys_enter_unlinkat /comm == \"rm\" && args->dfd == 42/ { if (@seen[tid]) { @ = count(); } }"
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("`(pid == 1 || pid == 2)`"), "{notes:?}");
    }

    #[test]
    fn numbers_with_units_paths_and_constants_are_stated() {
        let src = "tracepoint:syscalls:sys_enter_unlinkat /str(args->pathname) == \"/tmp/x.lock\"/ { @ = count(); }";
        assert_eq!(pruned("who deletes /tmp/x.lock", src).0, src);
        let src = "tracepoint:syscalls:sys_enter_unlinkat /strncmp(str(args->pathname), \"/var\", 4) == 0/ { @ = count(); }";
        assert_eq!(
            pruned("who deletes files", src).0,
            "tracepoint:syscalls:sys_enter_unlinkat  { @ = count(); }"
        );
        let src = "tracepoint:syscalls:sys_enter_unlinkat /args->flag == 512/ { @ = count(); }";
        assert_eq!(pruned("deletes with AT_REMOVEDIR set", src).0, src);
        assert_ne!(pruned("deletes of directories", src).0, src);
    }

    /// The live catalog and the real bpftrace: a draft with invented tests, repaired the way a
    /// written draft is (`repair_written`), loads with its predicate gone and its `if`
    /// unwrapped.
    #[tokio::test]
    async fn a_pruned_draft_loads_through_bpftrace() {
        use crate::toolchain::bpftrace::{check_load, LoadVerdict};
        use std::path::Path;
        use std::time::Duration;
        let bpftrace = Path::new("bpftrace");
        let host = HostFacts::discover(bpftrace);
        let draft = "tracepoint:irq:irq_handler_entry\n/str(args->name) == \"irq_name\" && args->irq > 3/\n{\n  @[str(args->name)] = count();\n}\ntracepoint:syscalls:sys_exit_openat\n{\n  if (args->ret != 0 && comm != \"systemd\") {\n    @opens[comm] = count();\n  }\n}\ntracepoint:sock:inet_sock_set_state\n/args->newstate == 1 && args->sport == 8080/\n{\n  @established[comm] = count();\n}\n";
        let intent = Intent::read(
            "count interrupts per handler, file opens per program and new TCP sessions per program",
        );
        let (fixed, notes) = super::super::repair::repair_written(&host, &intent, draft);
        assert_eq!(notes.len(), 5, "{notes:?}");
        assert!(
            !fixed.contains("irq_name") && !fixed.contains(" if "),
            "{fixed}"
        );
        assert!(
            fixed.contains("/args->newstate == 1/"),
            "the kernel names newstate's values: kept\n{fixed}"
        );
        let report = check_load(bpftrace, &fixed, Duration::from_secs(60)).await;
        assert!(
            matches!(report.verdict, LoadVerdict::Attached { probes: 3 }),
            "{fixed}\n{}",
            report.diagnostic
        );
    }

    #[test]
    fn numbers_the_kernel_prints_by_name_stay() {
        let dir = std::env::temp_dir().join(format!("kgent-named-{}", std::process::id()));
        let event = dir.join("events/sock/state_change");
        std::fs::create_dir_all(&event).expect("mkdir");
        let format = "name: state_change\nformat:\n\tfield:int newstate;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:__u16 sport;\toffset:12;\tsize:2;\tsigned:0;\n\nprint fmt: \"sport=%hu newstate=%s\", REC->sport, __print_symbolic(REC->newstate, { 1, \"TCP_ESTABLISHED\" }, { 7, \"TCP_CLOSE\" })\n";
        std::fs::write(event.join("format"), format).expect("write");
        let mut h = HostFacts::for_tests_with_tracepoints(&[(
            "sock",
            "state_change",
            &[("int", "newstate"), ("__u16", "sport")],
        )]);
        h.tracefs = Some(dir.clone());
        let src = "tracepoint:sock:state_change /args->newstate == 1 && args->sport == 8080 && args->newstate > 2/ { @ = count(); }";
        let (fixed, notes) = prune_filters(&h, &Intent::read("new sessions per program"), src);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            fixed,
            "tracepoint:sock:state_change /args->newstate == 1/ { @ = count(); }"
        );
        assert_eq!(
            notes.len(),
            2,
            "only (in)equality keeps a named value: {notes:?}"
        );
    }

    #[test]
    fn an_early_return_guard_goes_whole() {
        let src = "tracepoint:syscalls:sys_enter_unlinkat { if (comm == \"systemd\") { return; } @[comm] = count(); }";
        let (fixed, notes) = pruned("deletes per process", src);
        assert_eq!(
            fixed,
            "tracepoint:syscalls:sys_enter_unlinkat {  @[comm] = count(); }"
        );
        assert_eq!(notes.len(), 1);
    }
}
