//! Query repairs that depend on the request: filter tests the request does not state are
//! dropped (`prune_filter`, judged by `stated`, which free-form drafts share), and queries
//! that cannot mean what was asked are rewritten (`normalize`). They read the request only
//! through its [`Intent`]; the query language and its compiler (`crate::query`) never see the
//! request.
use std::collections::BTreeMap;

use super::draft_types::FieldType;
use super::stated;
use crate::intent::naming::{builtins_named_by, used_by, BUILTIN_WORDS, SHAPE_WORDS};
use crate::intent::{Concept, Intent};
use crate::query::compile::{CompileError, Lack};
use crate::query::{show, Agg, BinOp, Expr, Item, Query, Term, UnOp};

/// Drops the filter tests the request does not state, and says which (see
/// [`stated::stated`], the notion free-form drafts share). A small model adds tests of its own
/// (`args->fd != -1`, `comm != "kworker"`) that silently hide the events asked for. Facts the
/// model was shown do not state tests: "fd is -1 for anonymous mappings" became
/// `args->fd != -1` in a request about every large mapping. The query names no types: a
/// field compared with 0 is of unknown type here.
pub fn prune_filter(q: &mut Query, intent: &Intent, events: &[EventKeys]) -> Vec<String> {
    let mut dropped = Vec::new();
    // A field's type where every FROM event that has it agrees on it.
    let mut types: BTreeMap<&str, Option<FieldType>> = BTreeMap::new();
    for e in events {
        for (f, t) in &e.types {
            let agreed = types.entry(f.as_str()).or_insert(Some(*t));
            if *agreed != Some(*t) {
                *agreed = None;
            }
        }
    }
    let types: BTreeMap<&str, FieldType> = types
        .into_iter()
        .filter_map(|(f, t)| Some((f, t?)))
        .collect();
    let probes: Vec<String> = q
        .from
        .iter()
        .filter_map(|p| p.strip_prefix("tracepoint:"))
        .map(str::to_owned)
        .collect();
    // The man-page names of the FROM syscalls' parameters, by field (`behavior` → `advice`).
    let man = crate::knowledge::syscall_man::SyscallMan::shipped();
    let man_names: BTreeMap<String, String> = events
        .iter()
        .flat_map(|e| man.man_names(&e.event, e.fields.iter().map(String::as_str)))
        .collect();
    let judged = |test: &Expr| {
        let t = described(test, &types);
        let params: Vec<String> = t
            .fields
            .iter()
            .filter_map(|f| man_names.get(*f).cloned())
            .collect();
        stated::stated(&t, intent, &params)
    };
    // A documented flag is judged by what it means; any other test by `stated`.
    let ok = |test: &Expr| match flag_asked(test, &probes, intent) {
        Some(asked) => asked || judged(test) && !zero_test(test),
        None => judged(test) || code_stated(test, intent),
    };
    // Each `AND` operand stays or goes whole. Alternatives go together: an `OR` with one
    // stated alternative is wider than that alternative and hides nothing it lets through,
    // while taking an unstated alternative out of it would (the events only it let through);
    // an `OR` of unstated alternatives goes. (`stated`, shared with free-form drafts.)
    if let Some(f) = q.filter.take() {
        let mut kept: Vec<Expr> = Vec::new();
        for part in f.conjuncts() {
            if disjuncts(part)
                .iter()
                .any(|alt| tests(alt).into_iter().all(ok))
            {
                kept.push(part.clone());
            } else {
                dropped.push(show(part));
            }
        }
        q.filter = kept
            .into_iter()
            .reduce(|a, b| Expr::Binary(Box::new(a), BinOp::And, Box::new(b)));
    }
    dropped
}

/// The alternatives of an `OR` (the expression itself when it is none).
fn disjuncts(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Binary(a, BinOp::Or, b) => {
            let mut out = disjuncts(a);
            out.extend(disjuncts(b));
            out
        }
        other => vec![other],
    }
}

/// The tests (leaves of the `AND`/`OR` tree) of a condition.
fn tests(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Binary(a, BinOp::And | BinOp::Or, b) => {
            let mut out = tests(a);
            out.extend(tests(b));
            out
        }
        other => vec![other],
    }
}

/// `exit_code != 0 AND exit_signal != 0` never holds: a process either exits with a code
/// (WIFEXITED) or is killed by a signal (WIFSIGNALED), never both (wait(2)). Of a conjunction
/// that tests both, the two tests become one: `(exit_code != 0 OR exit_signal != 0)`, a
/// non-zero wait status.
fn exited_or_killed(filter: Expr, notes: &mut Vec<String>) -> Expr {
    fn conjuncts(e: Expr, out: &mut Vec<Expr>) {
        match e {
            Expr::Binary(a, BinOp::And, b) => {
                conjuncts(*a, out);
                conjuncts(*b, out);
            }
            other => out.push(other),
        }
    }
    let non_zero = |e: &Expr, term: &Term| {
        matches!(e, Expr::Binary(a, BinOp::Ne, b)
            if (matches!(&**a, Expr::Term(t) if t == term) && **b == Expr::Int(0))
                || (matches!(&**b, Expr::Term(t) if t == term) && **a == Expr::Int(0)))
    };
    let mut parts = Vec::new();
    conjuncts(filter.clone(), &mut parts);
    let code = parts.iter().position(|e| non_zero(e, &Term::ExitCode));
    let signal = parts.iter().position(|e| non_zero(e, &Term::ExitSignal));
    let (Some(c), Some(s)) = (code, signal) else {
        return filter;
    };
    let either = Expr::Binary(
        Box::new(parts[c].clone()),
        BinOp::Or,
        Box::new(parts[s].clone()),
    );
    let rest = parts
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != c && *i != s)
        .map(|(_, e)| e);
    notes.push(
        "exit_code != 0 AND exit_signal != 0 never holds (wait(2): a process exits or is killed, not both): joined with OR".into(),
    );
    rest.fold(either, |acc, e| {
        Expr::Binary(Box::new(acc), BinOp::And, Box::new(e))
    })
}

/// Whether the request speaks of what the documented flag a test requires means ("files
/// created" for `args->flags & 64 != 0`, O_CREAT: `specs-db/flags.toml`), or `None` when the
/// test requires no documented flag of a FROM tracepoint's field.
fn flag_asked(test: &Expr, probes: &[String], intent: &Intent) -> Option<bool> {
    let masked = |e: &Expr| match e {
        Expr::Binary(a, BinOp::BitAnd, b) => match (&**a, &**b) {
            (Expr::Term(Term::Field(f)), Expr::Int(m))
            | (Expr::Int(m), Expr::Term(Term::Field(f))) => Some((f.clone(), *m)),
            _ => None,
        },
        _ => None,
    };
    let found = match test {
        Expr::Binary(a, BinOp::Ne, b) if **b == Expr::Int(0) => masked(a),
        Expr::Binary(a, BinOp::Ne, b) if **a == Expr::Int(0) => masked(b),
        Expr::Binary(a, BinOp::Eq, b) => masked(a)
            .filter(|(_, m)| **b == Expr::Int(*m))
            .or_else(|| masked(b).filter(|(_, m)| **a == Expr::Int(*m))),
        other => masked(other),
    };
    found
        .and_then(|(field, mask)| crate::knowledge::flags::documented(probes, &field, mask))
        .map(|flags| crate::knowledge::flags::asked(&flags, intent))
}

/// `x != 0`-shaped: what `stated` keeps for an unknown value, which says nothing of a flag.
fn zero_test(test: &Expr) -> bool {
    matches!(test, Expr::Binary(a, BinOp::Ne, b) if **a == Expr::Int(0) || **b == Expr::Int(0))
}

/// A query test as [`stated::stated`] reads it, with the FROM events' field types.
fn described<'a>(test: &'a Expr, types: &BTreeMap<&str, FieldType>) -> stated::Test<'a> {
    let mut t = stated::Test {
        fields: Vec::new(),
        ints: Vec::new(),
        strings: Vec::new(),
        shape: stated::Shape::Other,
    };
    literals(test, &mut t);
    let cmp = |op: BinOp| match op {
        BinOp::Eq => Some(stated::Cmp::Eq),
        BinOp::Ne => Some(stated::Cmp::Ne),
        BinOp::Lt => Some(stated::Cmp::Lt),
        BinOp::Gt => Some(stated::Cmp::Gt),
        BinOp::Le => Some(stated::Cmp::Le),
        BinOp::Ge => Some(stated::Cmp::Ge),
        _ => None,
    };
    if let Expr::Binary(a, op, b) = test {
        let string = matches!(op, BinOp::Eq | BinOp::Ne)
            && (matches!(**a, Expr::Str(_)) || matches!(**b, Expr::Str(_)));
        t.shape = match (int_of(a), cmp(*op), int_of(b)) {
            _ if string && *op == BinOp::Ne => stated::Shape::StringExcluded,
            _ if string => stated::Shape::StringMatch,
            (_, Some(c), Some(0)) => stated::Shape::Zero(value_of(a, types), c),
            (Some(0), Some(c), _) => stated::Shape::Zero(value_of(b, types), c.swapped()),
            (_, Some(c), Some(_)) => stated::Shape::Compared(c),
            (Some(_), Some(c), _) => stated::Shape::Compared(c.swapped()),
            _ => stated::Shape::Other,
        };
    }
    t
}

/// An integer literal, negated ones (`-1`) included.
fn int_of(e: &Expr) -> Option<i128> {
    match e {
        Expr::Int(n) => Some(*n),
        Expr::Unary(UnOp::Neg, x) => int_of(x)?.checked_neg(),
        _ => None,
    }
}

/// What a query value compared with 0 is: results and builtins by their meaning, fields by
/// their type on the FROM events (unknown when they disagree or are not tracepoints).
fn value_of(e: &Expr, types: &BTreeMap<&str, FieldType>) -> stated::Value {
    match e {
        Expr::Term(Term::Ret) => stated::Value::Result,
        Expr::Term(Term::ExitCode) => stated::Value::ExitCode,
        Expr::Term(Term::ExitSignal) => stated::Value::ExitSignal,
        Expr::Term(Term::Field(f)) if stated::is_result_name(f) => stated::Value::Result,
        Expr::Term(Term::Field(f)) => types
            .get(f.as_str())
            .map_or(stated::Value::Unknown, |t| t.zero_value()),
        Expr::Term(Term::Builtin(_)) => stated::Value::Integer,
        // A whole number of time units: `> 0` leaves out every event shorter than one.
        Expr::Term(Term::Duration(_) | Term::Age(_)) => stated::Value::Integer,
        _ => stated::Value::Unknown,
    }
}

/// The fields and literals of a query expression.
fn literals<'a>(e: &'a Expr, t: &mut stated::Test<'a>) {
    match e {
        Expr::Int(n) => t.ints.push(*n),
        Expr::Unary(UnOp::Neg, x) if int_of(x).is_some() => t.ints.extend(int_of(e)),
        Expr::Str(s) => t.strings.push(s),
        Expr::Term(Term::Field(f)) => t.fields.push(f),
        Expr::Term(_) => {}
        Expr::StrOf(x) | Expr::Unary(_, x) => literals(x, t),
        Expr::Binary(a, _, b) => {
            literals(a, t);
            literals(b, t);
        }
    }
}

/// `contains(args->rwbs, "W")` when the request says "write" (see `specs::Codes`), and no
/// other letter of the field: "separately for reads and writes" splits, it does not filter.
fn code_stated(test: &Expr, intent: &Intent) -> bool {
    let Expr::Binary(a, BinOp::Contains, b) = test else {
        return false;
    };
    let (Expr::Term(Term::Field(f)), Expr::Str(letter)) = (&**a, &**b) else {
        return false;
    };
    crate::knowledge::specs::codes().iter().any(|c| {
        c.field == *f
            && c.stated(letter, intent)
            && !c.letters.keys().any(|l| l != letter && c.stated(l, intent))
    })
}

/// The parent's name or PID (`pcomm`, `ppid`) shown where the request asks for the process's
/// own and not its parent's, and the query shows no own one: the parent is another process
/// (getppid(2)), so the value shown is the process's own (`comm`, `pid`). Filters keep theirs:
/// a test on the parent states something.
fn own_not_parent(q: &mut Query, intent: &Intent, notes: &mut Vec<String>) {
    let pairs = [
        (
            "comm",
            "pcomm",
            Concept::ProcessName,
            Concept::ParentName,
            "name",
        ),
        ("pid", "ppid", Concept::Pid, Concept::ParentPid, "PID"),
    ];
    for (own, parent, asked, parents, what) in pairs {
        let (own, parent) = (Term::Builtin(own.into()), Term::Builtin(parent.into()));
        if !intent.asks(asked) || intent.asks(parents) || q.terms().contains(&own) {
            continue;
        }
        if replace_shown(q, &parent, &own) {
            notes.push(format!(
                "the request asks for the process's own {what}, not its parent's: {parent} → {own}"
            ));
        }
    }
}

/// Deterministic repairs of queries that cannot mean what was asked; each returns a note.
/// - A sum, histogram, average, minimum or maximum of an identifier (a pid, a CPU number, a
///   port, an address, an fd) is a count per that identifier: `hist(cpu)` → `count()` by cpu.
/// - A GROUP BY key that is also the aggregated value (`sum(args->bytes) … GROUP BY
///   args->bytes`) makes one group per value: the key is dropped.
/// - A code-letter field compared as a string (`args->rwbs == "W"`, `== "write"`) is a test
///   for the letter: `contains(args->rwbs, "W")`.
/// - When the request asks what calls returned and every FROM probe is a call (syscall or
///   user function) but the query never reads `ret`: the aggregated argument becomes `ret`
///   (`hist(args->count)` → `hist(ret)`: what read() returned, not what it asked for), or,
///   without one, `ret` is printed too.
pub fn normalize(q: &mut Query, intent: &Intent) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(f) = q.filter.take() {
        q.filter = Some(f.map_tests(&mut |test| code_test(test, &mut notes)));
    }
    // What a process "returns" is its exit code.
    if !q.from.is_empty()
        && q.from.iter().all(|p| p.ends_with(":sched_process_exit"))
        && q.replace_term(&Term::Ret, &Term::ExitCode)
    {
        notes.push("a process has no return value: ret is its exit_code".into());
    }
    if let Some(f) = q.filter.take() {
        q.filter = Some(exited_or_killed(f, &mut notes));
    }
    own_not_parent(q, intent, &mut notes);
    // "Count … by X" answered with one line per event: the values become the keys of a
    // count (bpftrace(8) count(), printed per key when tracing stops).
    let aggregates = q.select.iter().any(|it| matches!(it, Item::Agg(..)));
    if intent.asks(Concept::Counting) && !aggregates && !q.select.is_empty() {
        // A pid or tid is a key only where the request asks for it: "by process name" counts
        // per name, not per process.
        let unasked_id = |e: &Expr| {
            matches!(e, Expr::Term(Term::Builtin(b)) if b == "pid" || b == "tid")
                && !intent.asks(Concept::Pid)
        };
        for it in std::mem::take(&mut q.select) {
            if let Item::Value(e) = it {
                if !q.group_by.contains(&e) && !unasked_id(&e) {
                    q.group_by.push(e);
                }
            }
        }
        q.select.push(Item::Agg(Agg::Count, None));
        notes.push(
            "the request asks for a count: count() per the selected values, not a line per event"
                .into(),
        );
    }
    // "How long each fsync call takes" answered with a histogram: each event is asked for, so
    // each event prints its line with the aggregated values (bpftrace(8): printf per event).
    if intent.wants_lines() && q.select.iter().any(|it| matches!(it, Item::Agg(..))) {
        let mut shown = Vec::new();
        let mut select = Vec::new();
        for it in std::mem::take(&mut q.select) {
            match it {
                Item::Agg(agg, Some(value)) => {
                    shown.push(format!("{}({})", agg.name(), show(&value)));
                    let value = Item::Value(value);
                    if !select.contains(&value) {
                        select.push(value);
                    }
                }
                Item::Agg(agg, None) => shown.push(format!("{}()", agg.name())),
                value => {
                    if !select.contains(&value) {
                        select.push(value);
                    }
                }
            }
        }
        q.select = select;
        notes.push(format!(
            "the request asks for each event: a line per event instead of {}",
            shown.join(", ")
        ));
    }
    // GROUP BY without an aggregate groups nothing: every event prints a line anyway. Its keys
    // are values to print, which (unlike keys) each event prints where it has them: a key
    // only some FROM events have would leave the others out (setuid's `uid`, setreuid's `ruid`).
    if !q.select.iter().any(|it| matches!(it, Item::Agg(..))) && !q.group_by.is_empty() {
        for k in std::mem::take(&mut q.group_by) {
            let value = Item::Value(k);
            if !q.select.contains(&value) {
                q.select.push(value);
            }
        }
        notes.push(
            "GROUP BY without an aggregate groups nothing: its keys are printed values".into(),
        );
    }
    // "How often" answered with a histogram or sum of something the request does not ask
    // about (a latency for "count context switches"): what it asks for is the count.
    let measures = MEASURES;
    let timed = |e: &Expr| {
        let mut terms = Vec::new();
        e.terms(&mut terms);
        terms.iter().any(|t| matches!(t, Term::Duration(_)))
    };
    // A tally keyed also by a duration splits it by latency: nanosecond durations are nearly
    // all distinct, so the map holds one entry per event (bpftrace(8): a map keeps one value
    // per distinct key). No request that asks for no duration wants that.
    let aggregates = q.select.iter().any(|it| matches!(it, Item::Agg(..)));
    if aggregates && !intent.asks(Concept::Duration) {
        q.group_by.retain(|k| {
            let drop = timed(k);
            if drop {
                notes.push(format!(
                    "{} is not a GROUP BY key: the request asks for no duration",
                    show(k)
                ));
            }
            !drop
        });
    }
    if intent.asks(Concept::Counting) && !measures.iter().any(|c| intent.asks(*c)) {
        let before = q.select.len();
        let mut replaced = Vec::new();
        let mut counted = false;
        q.select.retain_mut(|it| match it {
            Item::Agg(Agg::Count, _) => !std::mem::replace(&mut counted, true),
            // Only a timed measure, or a value that is already a key (`hist(args->order)` by
            // `args->order`: one bucket per key, a count): an aggregate of anything else
            // (`hist(comm)`) is a mistake the compiler reports, not a count in disguise.
            Item::Agg(_, Some(value)) if timed(value) || q.group_by.contains(value) => {
                replaced.push(show(value));
                *it = Item::Agg(Agg::Count, None);
                !std::mem::replace(&mut counted, true)
            }
            Item::Agg(..) => true,
            Item::Value(_) => true,
        });
        if !replaced.is_empty() || q.select.len() != before {
            notes.push(format!(
                "the request asks how often, not how long or how much: count() per key instead of aggregating {}",
                replaced.join(", ")
            ));
            // What went with the measure: tests of a duration, and keys that name one task
            // (a pid) the request does not ask for.
            if let Some(f) = q.filter.take() {
                q.filter = f.retain_tests(&mut |test| {
                    let drop = timed(test);
                    if drop {
                        notes.push(format!(
                            "removed the test `{}`: nothing is timed",
                            show(test)
                        ));
                    }
                    !drop
                });
            }
            q.group_by.retain(|k| {
                let pid = match k {
                    Expr::Term(Term::Builtin(b)) => b == "pid" || b == "tid",
                    Expr::Term(Term::Field(f)) => f.ends_with("pid") && !intent.names_prefix(f),
                    _ => false,
                };
                let drop = pid && !intent.asks(Concept::Pid);
                if drop {
                    notes.push(format!(
                        "{} is not a GROUP BY key: the request counts per what it names, not per task",
                        show(k)
                    ));
                }
                !drop
            });
        }
    }
    // "The average latency" answered with its histogram or its sum: avg() of the same value
    // (bpftrace(8) avg()), unless the request also asks for that shape.
    if intent.asks(Concept::Average)
        && !q
            .select
            .iter()
            .any(|it| matches!(it, Item::Agg(Agg::Avg, _)))
    {
        for it in q.select.iter_mut() {
            let asked = |a: &Agg| match a {
                Agg::Hist => intent.asks(Concept::Histogram),
                Agg::Sum => intent.asks(Concept::Sum),
                _ => true,
            };
            if let Item::Agg(agg, Some(value)) = it {
                if !asked(agg) {
                    notes.push(format!(
                        "the request asks for an average: avg({}) instead of {}({})",
                        show(value),
                        agg.name(),
                        show(value)
                    ));
                    *agg = Agg::Avg;
                    break;
                }
            }
        }
    }
    let mut terms = Vec::new();
    for it in &q.select {
        if let Item::Value(e) | Item::Agg(_, Some(e)) = it {
            e.terms(&mut terms);
        }
    }
    // Several probes and "which call it was": the probe that fired is printed (or keyed).
    let events: std::collections::BTreeSet<String> = q
        .from
        .iter()
        .map(|p| {
            p.replace(":sys_exit_", ":sys_enter_")
                .replace("uretprobe:", "uprobe:")
        })
        .collect();
    let probe = Expr::Term(Term::Builtin("probe".into()));
    let says_which = terms.contains(&Term::Builtin("probe".into())) || q.group_by.contains(&probe);
    // A request that lists the calls it is about ("shmget, shmat, shmdt and shmctl") wants
    // each line to say which one it is, as a tool tracing several calls prints the call.
    let listed = events
        .iter()
        .filter_map(|p| p.rsplit(':').next())
        .filter(|e| intent.names_word(e.strip_prefix("sys_enter_").unwrap_or(e)))
        .count();
    let aggregated = q.select.iter().any(|it| matches!(it, Item::Agg(..)));
    let lists_calls = listed >= 2 && !aggregated;
    if events.len() > 1 && (intent.asks(Concept::WhichCall) || lists_calls) && !says_which {
        if q.select.iter().any(|it| matches!(it, Item::Agg(..))) {
            q.group_by.push(probe);
        } else {
            q.select.push(Item::Value(probe));
        }
        notes.push("the request asks which call it was: the probe that fired is shown".into());
    }
    let calls = q.from.iter().all(|p| {
        p.contains(":sys_enter_")
            || p.contains(":sys_exit_")
            || p.starts_with("uprobe:")
            || p.starts_with("uretprobe:")
    });
    if calls && !terms.contains(&Term::Ret) && intent.asks(Concept::ReturnValue) {
        let agg = q.select.iter_mut().find_map(|it| match it {
            Item::Agg(a, Some(e))
                if *a != Agg::Count && matches!(e, Expr::Term(Term::Field(_) | Term::Arg(_))) =>
            {
                Some(e)
            }
            _ => None,
        });
        match agg {
            Some(e) => {
                notes.push(format!(
                    "the request asks what the call returned: ret is aggregated, not {}",
                    show(e)
                ));
                let old = std::mem::replace(e, Expr::Term(Term::Ret));
                q.group_by.retain(|k| *k != old);
            }
            None => {
                notes.push("the request asks what the call returned: ret is printed too".into());
                q.select.push(Item::Value(Expr::Term(Term::Ret)));
            }
        }
    }
    for it in &mut q.select {
        let Item::Agg(agg, Some(Expr::Term(t))) = it else {
            continue;
        };
        if *agg != Agg::Count && is_identifier(t) {
            notes.push(format!(
                "{}({t}) is counted per {t} instead: {t} identifies, it is not a quantity",
                agg.name()
            ));
            let key = Expr::Term(t.clone());
            if !q.group_by.contains(&key) {
                q.group_by.push(key);
            }
            *it = Item::Agg(Agg::Count, None);
        }
    }
    let aggregated: Vec<Expr> = q
        .select
        .iter()
        .filter_map(|it| match it {
            Item::Agg(_, Some(e)) => Some(e.clone()),
            _ => None,
        })
        .collect();
    // Keys that identify one event or one object (a request's sector, a socket's address, a
    // thread) make one group per event, unless the request asks for them.
    q.group_by.retain(|k| {
        let Expr::Term(t) = k else { return true };
        let name = match t {
            Term::Builtin(b) if b == "tid" => "thread",
            Term::Field(f) => f.as_str(),
            _ => return true,
        };
        let per_instance = name == "thread"
            || ["sector", "skaddr", "skbaddr", "cookie", "ptr", "address"]
                .iter()
                .any(|s| name.ends_with(s));
        let asked = intent.names_prefix(name);
        if per_instance && !asked {
            notes.push(format!(
                "{} is not a GROUP BY key: it tells events apart, and the request does not ask for it",
                show(k)
            ));
            return false;
        }
        true
    });
    q.group_by.retain(|k| {
        let dup = aggregated.contains(k);
        if dup {
            notes.push(format!(
                "{} is aggregated, so it is not also a GROUP BY key",
                show(k)
            ));
        }
        !dup
    });
    notes
}

/// `args->rwbs == "W"` / `== "write"` → `contains(args->rwbs, "W")` (see `specs::Codes`).
fn code_test(test: Expr, notes: &mut Vec<String>) -> Expr {
    let Expr::Binary(a, BinOp::Eq, b) = &test else {
        return test;
    };
    let (Expr::Term(Term::Field(f)), Expr::Str(s)) = (&**a, &**b) else {
        return test;
    };
    let Some(codes) = crate::knowledge::specs::codes()
        .iter()
        .find(|c| c.field == *f)
    else {
        return test;
    };
    let letter = codes.letters.iter().find_map(|(l, w)| {
        (l.eq_ignore_ascii_case(s) || w.eq_ignore_ascii_case(s)).then(|| l.clone())
    });
    match letter {
        Some(l) => {
            let new = Expr::Binary(a.clone(), BinOp::Contains, Box::new(Expr::Str(l)));
            notes.push(format!(
                "args->{f} holds code letters: `{}` is tested as `{}`",
                show(&test),
                show(&new)
            ));
            new
        }
        None => test,
    }
}

/// What the key rules know of one FROM tracepoint: its event name (`softirq_entry`), its
/// fields, and those the kernel prints by name (a `__print_symbolic` table in its tracefs
/// format, or a code-letter field of the specs DB).
#[derive(Clone)]
pub struct EventKeys {
    /// The tracepoint's system (`power` of `power:cpu_idle`).
    pub subsystem: String,
    pub event: String,
    pub fields: Vec<String>,
    pub named: Vec<String>,
    /// The fields' types, from their C types in the tracefs format.
    pub types: BTreeMap<String, FieldType>,
}

/// What a request measures besides how often: a count replaces no aggregate where it asks one.
const MEASURES: [Concept; 6] = [
    Concept::Duration,
    Concept::Histogram,
    Concept::Sum,
    Concept::Average,
    Concept::Size,
    Concept::ReturnValue,
];

/// "How often" answered with a histogram, sum or average of a pointer field (`hist(args->uattr)`
/// at bpf(2), a `union bpf_attr *`): an address is no quantity, and bpftrace refuses it ("hist()
/// only supports integer arguments"). Where the request counts and measures nothing, the
/// aggregate is the count per key it asks for (see [`normalize`] for timed measures).
pub fn pointer_measures(q: &mut Query, intent: &Intent, events: &[EventKeys]) -> Vec<String> {
    if !intent.asks(Concept::Counting) || MEASURES.iter().any(|c| intent.asks(*c)) {
        return Vec::new();
    }
    let pointer = |e: &Expr| match e {
        Expr::Term(Term::Field(f)) => events.iter().any(|ev| {
            matches!(
                ev.types.get(f),
                Some(
                    FieldType::Pointer
                        | FieldType::DataPointer
                        | FieldType::SockaddrPointer
                        | FieldType::StructPointer
                )
            )
        }),
        _ => false,
    };
    let mut replaced = Vec::new();
    let mut counted = q
        .select
        .iter()
        .any(|it| matches!(it, Item::Agg(Agg::Count, _)));
    q.select.retain_mut(|it| match it {
        Item::Agg(_, Some(value)) if pointer(value) => {
            replaced.push(show(value));
            *it = Item::Agg(Agg::Count, None);
            !std::mem::replace(&mut counted, true)
        }
        _ => true,
    });
    if replaced.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "the request asks how often: count() per key instead of aggregating {}, an address",
        replaced.join(", ")
    )]
}

/// A query printing values (no aggregate) from several events, one of which has none of the
/// fields it prints and none the request's words name, while another has a printed field the
/// request names: that event answers nothing asked ("files opened for writing, with the file
/// name" from `openat` and `write`, whose `fd`, `buf` and `count` no word names), and the
/// compiler would print its own fields instead. It leaves FROM. An event a word of whose name
/// the request says as it is ("mount and umount", "forks and exits") stays.
pub fn unasked_events(q: &mut Query, intent: &Intent, events: &[EventKeys]) -> Vec<String> {
    if q.from.len() < 2
        || events.len() != q.from.len()
        || q.select.iter().any(|it| matches!(it, Item::Agg(..)))
    {
        return Vec::new();
    }
    let words = field_words(intent);
    let printed: Vec<String> = q
        .select
        .iter()
        .filter_map(|it| match it {
            Item::Value(e) => Some(e),
            Item::Agg(..) => None,
        })
        .flat_map(|e| {
            let mut ts = Vec::new();
            e.terms(&mut ts);
            ts
        })
        .filter_map(|t| match t {
            Term::Field(f) => Some(f),
            _ => None,
        })
        .collect();
    let answers = |e: &EventKeys| {
        e.fields
            .iter()
            .any(|f| printed.contains(f) && used_by(f, &words))
    };
    let unasked = |e: &EventKeys| {
        let call = e
            .event
            .strip_prefix("sys_enter_")
            .or(e.event.strip_prefix("sys_exit_"))
            .unwrap_or(&e.event);
        // A word of its name ("exit" of sched_process_exit) said as it is.
        let named = call
            .split('_')
            .chain(std::iter::once(call))
            .filter(|part| part.len() >= 3)
            .any(|part| intent.words().any(|w| w == part));
        !e.fields.iter().any(|f| printed.contains(f))
            && !e.fields.iter().any(|f| used_by(f, &words))
            && !named
    };
    if !events.iter().any(answers) {
        return Vec::new();
    }
    let mut notes = Vec::new();
    for (probe, e) in q.from.clone().iter().zip(events) {
        if unasked(e) {
            q.from.retain(|p| p != probe);
            notes.push(format!(
                "{probe} left FROM: it has none of the values printed, and the request names none of its fields"
            ));
        }
    }
    notes
}

/// A request that names its system calls (`named`: each with its variants,
/// `knowledge::named_syscalls`) whose query also reads syscalls it does not name (`FROM
/// sys_enter_fchdir, sys_enter_chdir` for "changes directory with fchdir"): the unnamed ones
/// leave FROM, where a named one stays. Not for requests about system calls in general.
pub fn unnamed_calls(q: &mut Query, intent: &Intent, named: &[String]) -> Vec<String> {
    if named.is_empty() || intent.asks(Concept::AllSyscalls) {
        return Vec::new();
    }
    let call = |probe: &str| -> Option<String> {
        let event = probe
            .strip_prefix("tracepoint:")
            .or(probe.strip_prefix("t:"))?
            .strip_prefix("syscalls:")?;
        let c = event
            .strip_prefix("sys_enter_")
            .or(event.strip_prefix("sys_exit_"))?;
        (!c.contains('*')).then(|| c.to_owned())
    };
    let is_named = |p: &String| call(p).is_some_and(|c| named.contains(&c));
    let is_unnamed = |p: &String| call(p).is_some_and(|c| !named.contains(&c));
    if !q.from.iter().any(is_named) || !q.from.iter().any(is_unnamed) {
        return Vec::new();
    }
    let dropped: Vec<String> = q.from.iter().filter(|p| is_unnamed(p)).cloned().collect();
    q.from.retain(|p| !is_unnamed(p));
    vec![format!(
        "{} left FROM: the request names the calls to trace ({}), and not {}",
        dropped.join(", "),
        named.join(", "),
        if dropped.len() == 1 {
            "that one"
        } else {
            "those"
        }
    )]
}

/// The request's words that may name a field: not the report's own ("the time spent" names
/// no `timeout_msecs`; `intent::naming::SHAPE_WORDS`).
fn field_words(intent: &Intent) -> Vec<&str> {
    intent
        .words()
        .filter(|w| {
            !SHAPE_WORDS
                .iter()
                .any(|s| w == s || w.strip_suffix('s') == Some(s))
        })
        .filter(|w| !intent.whose_size.iter().any(|m| m == w))
        .collect()
}

/// Replaces `from` with `to` where the query shows values (SELECT and GROUP BY), not in its
/// filter: a test keeps what it tests. True when one was replaced.
fn replace_shown(q: &mut Query, from: &Term, to: &Term) -> bool {
    let mut changed = false;
    for it in &mut q.select {
        if let Item::Value(e) | Item::Agg(_, Some(e)) = it {
            changed |= e.replace_term(from, to);
        }
    }
    for e in &mut q.group_by {
        changed |= e.replace_term(from, to);
    }
    changed
}

/// The tracepoints that name the task created, and their field for it (see [`new_task_ids`]).
const NEW_TASK_EVENTS: [(&str, &str); 2] = [
    ("tracepoint:sched:sched_process_fork", "child_pid"),
    ("tracepoint:task:task_newtask", "pid"),
];

/// A request for the new task ([`Intent::asks_for_new_task`]: "the child's PID") answered at
/// the entry or exit of the calls that create it (`sys_enter_fork`, `sys_enter_clone`) with
/// nothing but the running task's builtins: there the task is the creator (fork(2)), and at
/// the entry no child exists yet. The query moves to the one event the specs DB says those
/// calls fire (`fired_by` of sched:sched_process_fork, kernel/fork.c kernel_clone()), which
/// names the child; [`new_task_ids`] then shows it. Only when that event is on this host
/// (`present`) and the query reads no field or result of the calls.
pub fn new_task_event(
    q: &mut Query,
    intent: &Intent,
    present: &dyn Fn(&str) -> bool,
) -> Vec<String> {
    if !intent.asks_for_new_task() || q.from.is_empty() {
        return Vec::new();
    }
    let calls: Option<Vec<&str>> = q
        .from
        .iter()
        .map(|p| {
            p.strip_prefix("tracepoint:syscalls:sys_enter_")
                .or_else(|| p.strip_prefix("tracepoint:syscalls:sys_exit_"))
        })
        .collect();
    let Some(calls) = calls else {
        return Vec::new();
    };
    if !q.terms().iter().all(|t| matches!(t, Term::Builtin(_))) {
        return Vec::new();
    }
    let Some((event, _)) = NEW_TASK_EVENTS.iter().find(|(event, _)| {
        let fired_by = crate::knowledge::specs::fired_by(event);
        present(event) && calls.iter().all(|c| fired_by.iter().any(|f| f == c))
    }) else {
        return Vec::new();
    };
    let mut was = q.from.clone();
    was.dedup();
    q.from = vec![(*event).to_owned()];
    vec![format!(
        "the request asks for the task created: at {} the running task is its creator, and {event} (which those calls fire) names the new one",
        was.join(", ")
    )]
}

/// The new task's ID where tasks are created: at task:task_newtask and
/// sched:sched_process_fork the task running the probe is the creator (fork(2): the parent),
/// while the request asks for the child's ([`Concept::ChildTask`], or an ID of the new
/// threads it asks for). `pid`/`tid` shown become the event's field for the new task:
/// `args->pid` at task_newtask, `args->child_pid` at sched_process_fork (their tracefs
/// formats). Every FROM event must be one of the two.
pub fn new_task_ids(q: &mut Query, intent: &Intent, events: &[EventKeys]) -> Vec<String> {
    if !intent.asks_for_new_task() || events.is_empty() || events.len() != q.from.len() {
        return Vec::new();
    }
    let field = |e: &EventKeys| {
        let probe = format!("tracepoint:{}:{}", e.subsystem, e.event);
        NEW_TASK_EVENTS
            .iter()
            .find(|(event, _)| *event == probe)
            .map(|(_, field)| *field)
    };
    let Some(first) = field(&events[0]) else {
        return Vec::new();
    };
    if events.iter().any(|e| field(e) != Some(first)) {
        return Vec::new();
    }
    let theirs = Term::Field(first.to_owned());
    if shown_terms(q).contains(&theirs) {
        return Vec::new();
    }
    let mut notes = Vec::new();
    for builtin in ["tid", "pid"] {
        let own = Term::Builtin(builtin.into());
        if shown_terms(q).contains(&theirs) {
            break;
        }
        if replace_shown(q, &own, &theirs) {
            notes.push(format!(
                "the request asks for the new task's ID: {builtin} (the creator, running the probe) → args->{first} (the task created)"
            ));
        }
    }
    notes
}

/// A request about the task acted on ([`Concept::TargetTask`]: "the target PID", "the
/// process being signalled") whose query shows the task running the probe (`pid`, `comm`)
/// and not the one the event names: where every FROM event names that task in one field
/// (`pid` of `syscalls:sys_enter_kill`, kill(2); `pid`/`comm` of `signal:signal_generate`;
/// their tracefs formats), the builtin becomes that field. When the request also asks for the
/// acting task ([`Concept::ActingTask`]: "the caller and the pid it acts on") both are to be
/// shown (coverage says so): a query printing lines gets the field beside the builtin.
pub fn acted_on_task(q: &mut Query, intent: &Intent, events: &[EventKeys]) -> Vec<String> {
    let mut notes = Vec::new();
    if !intent.asks(Concept::TargetTask) || events.is_empty() || events.len() != q.from.len() {
        return notes;
    }
    let both = intent.asks(Concept::ActingTask);
    if both && q.select.iter().any(|it| matches!(it, Item::Agg(..))) {
        return notes;
    }
    // The one field naming a task's pid (or name) on every FROM event, a parent's aside.
    let the_field = |of_pid: bool| {
        one_field_everywhere(events, |f| {
            let task = if of_pid {
                f == "pid" || f == "tgid" || f.ends_with("_pid")
            } else {
                f == "comm" || f.ends_with("_comm")
            };
            task && !f.starts_with("parent")
        })
    };
    let shown = |q: &Query, t: &Term| shown_terms(q).contains(t);
    for (builtin, of_pid) in [("pid", true), ("comm", false)] {
        let Some(field) = the_field(of_pid) else {
            continue;
        };
        let (own, theirs) = (Term::Builtin(builtin.into()), Term::Field(field.clone()));
        if !shown(q, &own) || shown(q, &theirs) {
            continue;
        }
        if both {
            let at = q
                .select
                .iter()
                .position(|it| *it == Item::Value(Expr::Term(own.clone())))
                .map_or(q.select.len(), |i| i + 1);
            q.select.insert(at, Item::Value(Expr::Term(theirs)));
            notes.push(format!(
                "the request asks for the task acting and the one acted on: args->{field} (the one the event names) is shown beside {builtin} (the task running the probe)"
            ));
            continue;
        }
        if replace_shown(q, &own, &theirs) {
            notes.push(format!(
                "the request is about the task acted on: {builtin} (the task running the probe) → args->{field} (the one the event names)"
            ));
        }
    }
    notes
}

/// The one field of each event that `is` picks, when every event has exactly one and it is
/// the same field everywhere.
fn one_field_everywhere(events: &[EventKeys], is: impl Fn(&str) -> bool) -> Option<String> {
    let mut found: Option<&String> = None;
    for e in events {
        let mut here = e.fields.iter().filter(|f| is(f.as_str()));
        let (Some(f), None) = (here.next(), here.next()) else {
            return None;
        };
        if found.is_some_and(|g| g != f) {
            return None;
        }
        found = Some(f);
    }
    found.cloned()
}

/// The terms a query shows: its values, what it aggregates, its keys (not its filter).
fn shown_terms(q: &Query) -> Vec<Term> {
    let mut terms = Vec::new();
    for it in &q.select {
        if let Item::Value(e) | Item::Agg(_, Some(e)) = it {
            e.terms(&mut terms);
        }
    }
    for e in &q.group_by {
        e.terms(&mut terms);
    }
    terms
}

/// A request that names the CPU, answered with the builtin `cpu` (the CPU that ran the probe,
/// bpftrace(8)) at events that carry a CPU of their own: a field named `cpu` or `cpu_id` is the
/// CPU the event is about (perf_event_open(2)'s `cpu`, the CPU to measure; `cpu_id` of
/// `power:cpu_frequency`, whose change another CPU may make; their tracefs formats). Where
/// every FROM event has one such field, the builtin becomes it.
pub fn event_cpu(q: &mut Query, intent: &Intent, events: &[EventKeys]) -> Vec<String> {
    if !intent.names_word("cpu") || events.is_empty() || events.len() != q.from.len() {
        return Vec::new();
    }
    let Some(field) = one_field_everywhere(events, |f| f == "cpu" || f == "cpu_id") else {
        return Vec::new();
    };
    let own = Term::Builtin("cpu".into());
    let theirs = Term::Field(field.clone());
    let terms = shown_terms(q);
    if !terms.contains(&own) || terms.contains(&theirs) || !replace_shown(q, &own, &theirs) {
        return Vec::new();
    }
    vec![format!(
        "the request names the CPU, and the event carries its own: cpu (the CPU running the probe) → args->{field} (the one the event is about)"
    )]
}

/// A field of a FROM event that the request names ("the idle state" → `args->state` of
/// `power:cpu_idle`; [`crate::intent::naming::names_field`]) and the query never reads is
/// selected (a key when the query tallies): the coverage check would fail the program for
/// leaving it out, and a small model shown that diagnostic often writes the same query again.
pub fn named_fields(q: &mut Query, intent: &Intent, events: &[EventKeys]) -> Vec<String> {
    let read = q.terms();
    let tallies = q.select.iter().any(|it| matches!(it, Item::Agg(..)));
    let mut notes = Vec::new();
    for e in events {
        for f in &e.fields {
            let term = Term::Field(f.clone());
            if read.contains(&term)
                || !crate::intent::naming::names_field(intent, &e.subsystem, &e.event, f)
            {
                continue;
            }
            let value = Expr::Term(term);
            if tallies {
                // An address is no key ([`address_keys`]).
                let address = matches!(
                    e.types.get(f),
                    Some(
                        FieldType::StructPointer
                            | FieldType::DataPointer
                            | FieldType::SockaddrPointer
                    )
                );
                if q.group_by.contains(&value) || (address && !intent.asks(Concept::Addresses)) {
                    continue;
                }
                q.group_by.push(value.clone());
            } else {
                if q.select.contains(&Item::Value(value.clone())) {
                    continue;
                }
                q.select.push(Item::Value(value.clone()));
            }
            notes.push(format!(
                "the request names {}'s {}: {} is {}",
                e.event,
                f.replace('_', " "),
                show(&value),
                if tallies { "a key" } else { "shown" }
            ));
        }
    }
    notes
}

/// The keys of a tally, matched against what the request groups by ([`Intent::group_phrases`]):
///
/// - "by <thing> name", where the thing is a word of the FROM event's name ("per softirq name"
///   at softirq_entry, "by handler name" at irq_handler_entry), keys by the event's own name
///   field: one literally called `name`, or the one field the kernel prints by name. Not by
///   `comm`, the name of whichever process the event interrupted. A thing that is
///   a task ("process", "task": the `not_subjects` words) is left to `comm`.
/// - A field key whose name the request does not use anywhere (no part of it starts or is
///   started by a request word: `dport`/port, `saddr`/address, `error_code`/error), and that
///   the kernel does not print by name, is dropped when the request groups by something and
///   another key is left: it splits the tally in ways no one asked for (page faults counted
///   per process *and* per error code). So is a builtin key no request word speaks of
///   (`comm`, `pid` in a count per CPU; [`BUILTIN_WORDS`]); "process name" speaks of `comm`,
///   not of `pid`.
///
/// Only queries with an aggregate are touched: their keys are the GROUP BY list and the plain
/// SELECT values (see `query::compile`).
pub fn keys(q: &mut Query, intent: &Intent, events: &[EventKeys]) -> Vec<String> {
    let mut notes = Vec::new();
    if !q.select.iter().any(|it| matches!(it, Item::Agg(..))) {
        return notes;
    }
    // "Per second" is an output period, no key.
    const PERIOD_WORDS: [&str; 6] = ["second", "seconds", "minute", "minutes", "interval", "sec"];
    let period = |p: &Vec<String>| {
        p.iter()
            .all(|w| PERIOD_WORDS.contains(&w.as_str()) || w.parse::<u64>().is_ok())
    };
    let groups_by_something = intent.group_phrases.iter().any(|p| !period(p));
    if !groups_by_something {
        return ungrouped_keys(q, intent, events);
    }
    let not_subjects =
        crate::intent::vocabulary::shipped().list(crate::intent::vocabulary::List::NotSubjects);
    let comm = Expr::Term(Term::Builtin("comm".into()));
    // "by <thing> name" → the event's name field.
    let named_thing = intent.group_phrases.iter().find_map(|p| {
        p.windows(2).find_map(|w| {
            let thing = w[0].as_str();
            if w[1] != "name" || thing.len() < 3 || not_subjects.iter().any(|n| n == thing) {
                return None;
            }
            events.iter().find_map(|e| {
                let names_event = e.event.split('_').any(|part| {
                    part.len() >= 3 && (thing.starts_with(part) || part.starts_with(thing))
                });
                if !names_event {
                    return None;
                }
                let field = if e.fields.iter().any(|f| f == "name") {
                    Some("name".to_owned())
                } else if e.named.len() == 1 {
                    Some(e.named[0].clone())
                } else {
                    None
                };
                field.map(|f| (thing.to_owned(), e.event.clone(), f))
            })
        })
    });
    if let Some((thing, event, field)) = named_thing {
        let key = Expr::Term(Term::Field(field.clone()));
        let mut replaced = false;
        for k in q
            .group_by
            .iter_mut()
            .chain(q.select.iter_mut().filter_map(|it| match it {
                Item::Value(e) => Some(e),
                Item::Agg(..) => None,
            }))
        {
            if *k == comm {
                *k = key.clone();
                replaced = true;
            }
        }
        let present =
            q.group_by.contains(&key) || q.select.iter().any(|it| *it == Item::Value(key.clone()));
        if !present {
            q.group_by.push(key.clone());
        }
        if replaced || !present {
            notes.push(format!(
                "the request counts by {thing} name: the key is {event}'s own {}, not comm (the name of whichever process was running)",
                show(&key)
            ));
        }
    }
    // "Per target CPU" keyed by the builtin `cpu` alone, at an event with a field for it
    // (`cpu` at ipi:ipi_send_cpu): the key is the field.
    notes.extend(qualified_builtin_keys(q, intent, events));
    // Keys the request never names ("the buffer sizes" names a size, not the buffer).
    let words: Vec<&str> = intent
        .words()
        .filter(|w| !intent.whose_size.iter().any(|m| m == w))
        .collect();
    // A syscall parameter is also named by its man page's name for it ("the advice" is
    // `behavior` at sys_enter_madvise).
    let man = crate::knowledge::syscall_man::SyscallMan::shipped();
    let man_names: Vec<(String, String)> = events
        .iter()
        .flat_map(|e| {
            man.event_parameters(&e.event, e.fields.iter().map(String::as_str))
                .into_iter()
                .filter(|(param, field)| param != field)
        })
        .collect();
    let named_as = |field: &str, words: &[&str]| {
        used_by(field, words)
            || man_names
                .iter()
                .any(|(param, f)| f == field && used_by(param, words))
    };
    // "Per process name" names no `name` field: words said only in a builtin's phrase.
    let field_words = intent.naming_fields(&words);
    let used = |field: &str| named_as(field, &field_words);
    let printed_by_name = |field: &str| events.iter().any(|e| e.named.iter().any(|n| n == field));
    // A builtin key (`comm`, `pid`, `cpu`…) no word of the request speaks of: "context
    // switches per CPU" keyed by cpu, comm and pid split each CPU's count by process.
    // "Process name" speaks of the name (`comm`), not of the process's ID.
    let builtin_said = |b: &str| {
        words.iter().enumerate().any(|(i, w)| {
            // "Parent process name" speaks of the parent's name, not its ID.
            let name_at = |j: usize| words.get(j).is_some_and(|w| w.starts_with("name"));
            let of_name = matches!(b, "pid" | "tid" | "ppid")
                && (name_at(i + 1)
                    || (words
                        .get(i + 1)
                        .is_some_and(|next| builtins_named_by(next).contains(&"comm"))
                        && name_at(i + 2)));
            builtins_named_by(w).contains(&b) && !of_name
        }) || (matches!(b, "pid" | "tid") && intent.asks(Concept::Pid))
    };
    let result_asked = intent.asks(Concept::ReturnValue) || intent.asks(Concept::Failure);
    let exit_asked = intent.asks(Concept::ExitStatus)
        || intent.asks(Concept::NonZeroExit)
        || intent.asks(Concept::FatalSignal);
    let by_meaning = |field: &str| {
        events.iter().any(|e| {
            let probe = format!("{}:{}", e.subsystem, e.event);
            crate::knowledge::field_names::named_by_meaning(intent, &probe, field)
                && crate::knowledge::field_names::grouped_by_meaning(
                    intent,
                    &probe,
                    field,
                    &intent.group_phrases,
                )
        })
    };
    // `shield`: a field the kernel prints by name (a softirq's `vec`) may be what a phrase
    // means without spelling it ("by type"); it is kept only where the other keys do not
    // account for every phrase.
    let mut key_list: Vec<Expr> = q.group_by.clone();
    for it in &q.select {
        if let Item::Value(e) = it {
            if !key_list.contains(e) {
                key_list.push(e.clone());
            }
        }
    }
    // "Per target CPU" keyed by `cpu` and `args->target_cpu`: the phrase means the field, and
    // the builtin goes although a word of the request names it.
    let field_keys: Vec<&str> = key_list
        .iter()
        .filter_map(|k| match k {
            Expr::Term(Term::Field(f)) => Some(f.as_str()),
            _ => None,
        })
        .collect();
    let qualified = |b: &str| {
        crate::intent::naming::builtin_qualified_by_field(&intent.group_phrases, b, &field_keys)
            .is_some()
    };
    let droppable = |k: &Expr, shield: bool| match k {
        Expr::Term(Term::Field(f)) => !(used(f) || by_meaning(f) || (shield && printed_by_name(f))),
        Expr::Term(Term::Ret) => !result_asked,
        // The exiting task's status and signal (wait(2)), asked for by exit-status words only.
        Expr::Term(Term::ExitCode | Term::ExitSignal) => !exit_asked,
        Expr::Term(Term::Builtin(b)) => {
            BUILTIN_WORDS.iter().any(|(builtin, _)| builtin == b)
                && (!builtin_said(b) || qualified(b))
        }
        _ => false,
    };
    // Every phrase the request groups by must be accounted for by a kept key, or the key it
    // means may be among the dropped ones ("per system call" and `args->id`).
    let says = |k: &Expr, w: &str| match k {
        Expr::Term(Term::Builtin(b)) => builtins_named_by(w).contains(&b.as_str()),
        Expr::Term(Term::Field(f)) => named_as(f, &[w]),
        _ => true,
    };
    let Some(shield) = [false, true].into_iter().find(|&shield| {
        let kept: Vec<&Expr> = key_list.iter().filter(|k| !droppable(k, shield)).collect();
        !kept.is_empty()
            && kept.len() < key_list.len()
            && intent
                .group_phrases
                .iter()
                .filter(|p| !period(p))
                .all(|p| p.iter().any(|w| kept.iter().any(|k| says(k, w))))
    }) else {
        return notes;
    };
    for k in key_list.iter().filter(|k| droppable(k, shield)) {
        notes.push(format!(
            "{} is not a key: the request counts per what it names, and never names it",
            show(k)
        ));
    }
    q.group_by.retain(|k| !droppable(k, shield));
    q.select
        .retain(|it| !matches!(it, Item::Value(e) if droppable(e, shield)));
    notes
}

/// See [`keys`]: a builtin key a grouping phrase qualifies so that it means a field every FROM
/// event has ([`crate::intent::naming::builtin_qualified_by_field`]: "per target CPU" at
/// ipi:ipi_send_cpu is `args->cpu`, not the CPU sending the IPI) becomes that field.
fn qualified_builtin_keys(q: &mut Query, intent: &Intent, events: &[EventKeys]) -> Vec<String> {
    let mut notes = Vec::new();
    let Some((first, rest)) = events.split_first() else {
        return notes;
    };
    let shared: Vec<&str> = first
        .fields
        .iter()
        .filter(|f| rest.iter().all(|e| e.fields.contains(f)))
        .map(String::as_str)
        .collect();
    for t in q.terms() {
        let Term::Builtin(b) = &t else { continue };
        let Some((phrase, field)) =
            crate::intent::naming::builtin_qualified_by_field(&intent.group_phrases, b, &shared)
        else {
            continue;
        };
        let key = Expr::Term(Term::Builtin(b.clone()));
        let field_key = Expr::Term(Term::Field(field.clone()));
        let mut replaced = false;
        for k in q
            .group_by
            .iter_mut()
            .chain(q.select.iter_mut().filter_map(|it| match it {
                Item::Value(e) => Some(e),
                Item::Agg(..) => None,
            }))
        {
            if *k == key {
                *k = field_key.clone();
                replaced = true;
            }
        }
        if !replaced {
            continue;
        }
        // The field may have been a key already: once is enough.
        let mut seen: Vec<Expr> = Vec::new();
        q.group_by.retain(|k| {
            let fresh = !seen.contains(k);
            seen.push(k.clone());
            fresh
        });
        let mut seen: Vec<Item> = Vec::new();
        q.select.retain(|it| {
            let fresh = !matches!(it, Item::Value(_)) || !seen.contains(it);
            seen.push(it.clone());
            fresh
        });
        notes.push(format!(
            "the request groups by \"{phrase}\": the event's own args->{field}, not the builtin {b} (where the event fired)"
        ));
    }
    notes
}

/// See [`keys`]: a request that groups by nothing ("a histogram of nanosleep latency",
/// "context switches per second") keeps no field key it never names and the kernel does not
/// print by name (`args->rqtp`, a pointer to the requested time), no `ret` unless results are
/// asked, and no builtin no word of it speaks of (`pid`, `cpu`): each would split the one
/// figure asked for into one per value. A request with "each", "which" or "who" tallies per
/// something its words may not spell as a key ("how often each syscall is made": `args->id`;
/// not "each write() call", the traced call itself):
/// its field keys stay then; its builtins are judged by their words ("each process": `comm`
/// and `pid` stay, `uid` goes), and "who" keeps them all.
fn ungrouped_keys(q: &mut Query, intent: &Intent, events: &[EventKeys]) -> Vec<String> {
    let words = field_words(intent);
    let result_asked = intent.asks(Concept::ReturnValue) || intent.asks(Concept::Failure);
    // "Each syscall", "which files", "who": a tally per something the phrase may not spell
    // out as a field key (`args->id` for "each syscall").
    // "Each write() call" is the traced call itself, nothing to tally per.
    // "Which processes" is answered by the builtin keys its noun names (`comm`, `pid`), and
    // after an auxiliary verb "each" is a pronoun ("how much does each ask for"), no noun.
    let said: Vec<&str> = intent.words().collect();
    let who = said.iter().any(|w| matches!(*w, "who" | "whom" | "whose"));
    let auxiliaries =
        crate::intent::vocabulary::shipped().list(crate::intent::vocabulary::List::Auxiliaries);
    let distributive = who
        || (0..said.len().saturating_sub(1)).any(|i| {
            let (word, noun) = (said[i], said[i + 1]);
            let pronoun = word == "each" && i > 0 && auxiliaries.iter().any(|a| a == said[i - 1]);
            matches!(word, "each" | "which" | "what")
                && !pronoun
                && !intent.calls.iter().any(|c| c == noun)
                && builtins_named_by(noun).is_empty()
        });
    // "Ext4 inode allocations" names `ino` only by a word of ext4_allocate_inode's name: what
    // is observed, not a key.
    let event_names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    let named = |f: &str| {
        used_by(f, &words)
            && !crate::intent::naming::named_only_as_its_event(f, &words, &event_names)
    };
    let droppable = |k: &Expr| match k {
        // What each call returned splits a count of calls by value.
        Expr::Term(Term::Ret) => !result_asked,
        Expr::Term(Term::Field(f)) => {
            !distributive && !named(f) && !events.iter().any(|e| e.named.iter().any(|n| n == f))
        }
        // Builtins have their words ([`BUILTIN_WORDS`]); "who" speaks of the task.
        Expr::Term(Term::Builtin(b)) => {
            BUILTIN_WORDS.iter().any(|(builtin, _)| builtin == b)
                && !who
                && !intent
                    .words()
                    .any(|w| builtins_named_by(w).contains(&b.as_str()))
        }
        _ => false,
    };
    let mut notes = Vec::new();
    let values = q.select.iter().filter_map(|it| match it {
        Item::Value(e) => Some(e),
        Item::Agg(..) => None,
    });
    for k in q.group_by.iter().chain(values).filter(|k| droppable(k)) {
        notes.push(format!(
            "{} is not a key: the request groups by nothing, and never names it",
            show(k)
        ));
    }
    q.group_by.retain(|k| !droppable(k));
    q.select
        .retain(|it| !matches!(it, Item::Value(e) if droppable(e)));
    notes
}

/// A field none of the FROM events has (`args->size` at block_rq_issue), read at the one field
/// of the same kind they do have (`bytes`): the kernel names one kind of value differently from
/// event to event (`specs-db/field-names.toml`). Returns notes for the program, and for a field
/// with two or more of its kind (kmalloc's `bytes_req` and `bytes_alloc`) a hint naming them,
/// for the diagnostic: nothing is guessed then. Only when every FROM probe is a known
/// tracepoint (`events` has one entry per probe).
pub fn field_names(q: &mut Query, events: &[EventKeys]) -> (Vec<String>, Vec<String>) {
    let (mut notes, mut hints) = (Vec::new(), Vec::new());
    if events.is_empty() || events.len() != q.from.len() {
        return (notes, hints);
    }
    for t in q.terms() {
        let Term::Field(f) = &t else { continue };
        if events.iter().any(|e| e.fields.contains(f)) {
            continue;
        }
        if let Some((event, call, field)) = man_parameter(events, f) {
            q.replace_term(&t, &Term::Field(field.clone()));
            notes.push(format!(
                "{event} has no field {f}: {call}(2)'s {f} is args->{field}"
            ));
            continue;
        }
        // A field the specs say a word of the query's means on every FROM event
        // (`specs-db/field-names.toml` [[meaning]]: `address` is error_report_end's `id`).
        let meant: Vec<Option<&str>> = events
            .iter()
            .map(|e| {
                crate::knowledge::field_names::meant_by(&format!("{}:{}", e.subsystem, e.event), f)
            })
            .collect();
        if let Some(Some(one)) = meant
            .first()
            .copied()
            .filter(|_| meant.windows(2).all(|w| w[0] == w[1]))
        {
            q.replace_term(&t, &Term::Field(one.to_owned()));
            notes.push(format!(
                "{} has no field {f}: the {f} it records is args->{one}",
                events
                    .iter()
                    .map(|e| e.event.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            continue;
        }
        let Some(family) = crate::knowledge::field_names::family_of(f) else {
            continue;
        };
        let mut same: Vec<&String> = events
            .iter()
            .flat_map(|e| e.fields.iter().filter(|x| family.names.contains(x)))
            .collect();
        same.sort();
        same.dedup();
        // Each event with one field of the kind the query reads nowhere else (unlinkat's
        // pathname, renameat2's oldname beside a printed newname): the compiler reads each
        // event's own (`query::compile`), nothing to rename here.
        let read = q.terms();
        let unread_one = |e: &EventKeys| {
            e.fields
                .iter()
                .filter(|x| family.names.contains(x) && !read.contains(&Term::Field((*x).clone())))
                .count()
                == 1
        };
        if same.len() > 1 && events.iter().all(unread_one) {
            continue;
        }
        let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
        match same[..] {
            [] => {}
            [one] => {
                q.replace_term(&t, &Term::Field(one.clone()));
                notes.push(format!(
                    "{} has no field {f}: its {} is args->{one}",
                    names.join(", "),
                    family.kind
                ));
            }
            _ => hints.push(format!(
                "the {} fields there are {}: use the one the request means",
                family.kind,
                same.iter()
                    .map(|n| format!("args->{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
    (notes, hints)
}

/// A query printing lines that shows a field pointing to a struct in the traced process
/// (`args->tz`, a `struct timezone *` of settimeofday(2)) which the request never names: shown
/// it is an address, not data, and the coverage check refuses it; nobody asked for what it
/// points to either. Left out, with a note, when another value remains. A field the request
/// names ([`used_by`]: "the timezone"), or that a filter or an aggregate reads, is left to the
/// model.
pub fn unasked_struct_pointers(
    q: &mut Query,
    intent: &Intent,
    events: &[EventKeys],
) -> Vec<String> {
    if q.select.iter().any(|it| matches!(it, Item::Agg(..))) {
        return Vec::new();
    }
    let words: Vec<&str> = intent.words().collect();
    let unasked = |e: &Expr| match e {
        Expr::Term(Term::Field(f)) => {
            events.iter().any(|ev| {
                matches!(
                    ev.types.get(f),
                    Some(FieldType::StructPointer | FieldType::DataPointer)
                )
            }) && !used_by(f, &words)
        }
        _ => false,
    };
    let filtered = |e: &Expr| {
        q.filter.as_ref().is_some_and(|w| {
            let mut ts = Vec::new();
            w.terms(&mut ts);
            matches!(e, Expr::Term(t) if ts.contains(t))
        })
    };
    // Without an aggregate the GROUP BY keys are printed values too.
    let mut dropped: Vec<Expr> = Vec::new();
    let shown = q
        .select
        .iter()
        .filter_map(|it| match it {
            Item::Value(e) => Some(e),
            Item::Agg(..) => None,
        })
        .chain(&q.group_by);
    for e in shown {
        if unasked(e) && !filtered(e) && !dropped.contains(e) {
            dropped.push(e.clone());
        }
    }
    let remains = q
        .select
        .iter()
        .any(|it| matches!(it, Item::Value(e) if !dropped.contains(e)));
    if dropped.is_empty() || !remains {
        return Vec::new();
    }
    q.select
        .retain(|it| !matches!(it, Item::Value(e) if dropped.contains(e)));
    q.group_by.retain(|g| !dropped.contains(g));
    vec![format!(
        "left out {}: each points into the traced process (to a struct or to data there; shown, it is an address, not what it points to), and the request does not name it",
        dropped.iter().map(show).collect::<Vec<_>>().join(", ")
    )]
}

/// A tally keyed by a pointer to data or to a struct (`args->events` at sys_enter_epoll_wait, a
/// `struct epoll_event *`; tracefs format): the key is an address in the traced process, one
/// per buffer, never something a request counts per unless it asks for addresses. The key
/// goes where other keys remain or the request groups by nothing; a word of the request that
/// happens to name the field ("no events") does not keep it.
pub fn address_keys(q: &mut Query, intent: &Intent, events: &[EventKeys]) -> Vec<String> {
    if !q.select.iter().any(|it| matches!(it, Item::Agg(..))) || intent.asks(Concept::Addresses) {
        return Vec::new();
    }
    let address = |e: &Expr| match e {
        Expr::Term(Term::Field(f)) => events.iter().any(|ev| {
            matches!(
                ev.types.get(f),
                Some(
                    FieldType::StructPointer | FieldType::DataPointer | FieldType::SockaddrPointer
                )
            )
        }),
        _ => false,
    };
    let keys: Vec<Expr> = q
        .group_by
        .iter()
        .cloned()
        .chain(q.select.iter().filter_map(|it| match it {
            Item::Value(e) => Some(e.clone()),
            Item::Agg(..) => None,
        }))
        .collect();
    let dropped: Vec<Expr> = keys.iter().filter(|k| address(k)).cloned().collect();
    let grouped = intent.group_phrases.iter().any(|p| {
        !p.iter().all(|w| {
            matches!(
                w.as_str(),
                "second" | "seconds" | "minute" | "minutes" | "interval"
            ) || w.parse::<u64>().is_ok()
        })
    });
    if dropped.is_empty() || (dropped.len() == keys.len() && grouped) {
        return Vec::new();
    }
    q.group_by.retain(|k| !dropped.contains(k));
    q.select
        .retain(|it| !matches!(it, Item::Value(e) if dropped.contains(e)));
    let mut shown: Vec<String> = dropped.iter().map(show).collect();
    shown.dedup();
    vec![format!(
        "{} is not a key: it points into the traced process, an address per buffer, and the request asks for no addresses",
        shown.join(", ")
    )]
}

/// Rewrites each `term == value` (or `!=`, either side) in `e` as `(term & mask) == value`;
/// whether it rewrote one.
fn masked(e: &mut Expr, term: &Term, mask: i128, value: i128) -> bool {
    let Expr::Binary(a, op, b) = e else {
        return false;
    };
    let is_term = |x: &Expr| matches!(x, Expr::Term(t) if t == term);
    let is_value = |x: &Expr| matches!(x, Expr::Int(n) if *n == value);
    let with_mask = |side: &mut Box<Expr>| {
        let bare = std::mem::replace(side.as_mut(), Expr::Int(0));
        **side = Expr::Binary(Box::new(bare), BinOp::BitAnd, Box::new(Expr::Int(mask)));
    };
    if matches!(op, BinOp::Eq | BinOp::Ne) {
        if is_term(a) && is_value(b) {
            with_mask(a);
            return true;
        }
        if is_value(a) && is_term(b) {
            with_mask(b);
            return true;
        }
    }
    let left = masked(a, term, mask, value);
    masked(b, term, mask, value) || left
}

/// A value of a FROM event's field that the request speaks of in words (`specs-db/values.toml`:
/// "UNIX domain" is `family == AF_UNIX` at socket(2), "preempted" is `prev_state ==
/// TASK_RUNNING` at sched_switch), which the query never tests: the test joins the filter
/// (several values of one field as alternatives). Only where every FROM event documents the
/// same values: a filter applies to them all. The request-coverage check demands the test
/// anyway; a small model told so often leaves it out again.
pub fn stated_values(q: &mut Query, intent: &Intent) -> Vec<String> {
    use crate::knowledge::values::{asked_at, NamedValue};
    let per_event: Vec<Vec<&NamedValue>> = q
        .from
        .iter()
        .map(|f| {
            let target = f.strip_prefix("tracepoint:").unwrap_or(f);
            // A value with which the event reports something else (`apart`: a CPU leaving
            // idle at power:cpu_idle) is what is counted when asked for, but a duration runs
            // between it and the others: the span's ends are the compiler's.
            asked_at(intent, target)
                .into_iter()
                .filter(|v| !v.apart || !intent.asks(Concept::Duration))
                .collect()
        })
        .collect();
    let same = |a: &Vec<&NamedValue>, b: &Vec<&NamedValue>| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| std::ptr::eq(*x, *y))
    };
    let Some(first) = per_event.first() else {
        return Vec::new();
    };
    if first.is_empty() || per_event.iter().any(|e| !same(e, first)) {
        return Vec::new();
    }
    let fields: std::collections::BTreeSet<&str> = first.iter().map(|v| v.field.as_str()).collect();
    let mut notes = Vec::new();
    for field in fields {
        let term = Term::Field(field.to_owned());
        let mut tested = Vec::new();
        if let Some(f) = &q.filter {
            f.terms(&mut tested);
        }
        let values: Vec<&NamedValue> = first.iter().copied().filter(|v| v.field == field).collect();
        if tested.contains(&term) {
            // The query's own test of a value kept in some bits of the field reads those bits.
            for v in &values {
                if let (Some(mask), Some(f)) = (v.mask, q.filter.as_mut()) {
                    if masked(f, &term, i128::from(mask), i128::from(v.value)) {
                        notes.push(format!(
                            "{} is kept in the bits 0x{mask:x} of args->{field}, beside flags: the filter compares those bits (specs-db/values.toml)",
                            v.name
                        ));
                    }
                }
            }
            continue;
        }
        // A value kept in some bits of the field (`mask`) is compared there.
        let operand = |v: &NamedValue| match v.mask {
            Some(mask) => Expr::Binary(
                Box::new(Expr::Term(term.clone())),
                BinOp::BitAnd,
                Box::new(Expr::Int(i128::from(mask))),
            ),
            None => Expr::Term(term.clone()),
        };
        let test = values
            .iter()
            .map(|v| {
                Expr::Binary(
                    Box::new(operand(v)),
                    BinOp::Eq,
                    Box::new(Expr::Int(i128::from(v.value))),
                )
            })
            .reduce(|a, b| Expr::Binary(Box::new(a), BinOp::Or, Box::new(b)));
        let Some(test) = test else { continue };
        q.filter = Some(match q.filter.take() {
            Some(f) => Expr::Binary(Box::new(f), BinOp::And, Box::new(test)),
            None => test,
        });
        let names: Vec<&str> = values.iter().map(|v| v.name.as_str()).collect();
        notes.push(format!(
            "the request speaks of {}: args->{field} is tested for it (specs-db/values.toml)",
            names.join(" or ")
        ));
    }
    notes
}

/// An error the request names (`EEXIST`, or in words: [`Intent::errnos`]) that the filter of a
/// query on syscalls never tests: `ret == -errno` joins it (several errors as alternatives). A
/// failed call returns -errno at its exit (syscalls(2), errno(3)), and the query compiler reads
/// `ret` there. A small model writes a wrong number (`ret == -1013` for EEXIST, which
/// [`prune_filter`] drops) or none; the request-coverage check demands the test anyway. Not
/// where the request sets the error apart ("failures other than ENOENT").
pub fn stated_errors(q: &mut Query, intent: &Intent) -> Vec<String> {
    let errnos: Vec<(&str, i64)> = intent
        .errnos()
        .into_iter()
        .map(|(name, value, _)| (name, value))
        .collect();
    let syscalls_only = !q.from.is_empty()
        && q.from.iter().all(|f| {
            f.trim_start_matches("tracepoint:")
                .starts_with("syscalls:sys_")
        });
    if errnos.is_empty()
        || !syscalls_only
        || errnos
            .iter()
            .any(|(name, _)| intent.negates_word(&name.to_ascii_lowercase()))
    {
        return Vec::new();
    }
    // `ret == -v`, with the literal on either side, written negative or negated.
    let tests_error = |test: &Expr, v: i64| {
        let minus = [
            Expr::Int(-i128::from(v)),
            Expr::Unary(UnOp::Neg, Box::new(Expr::Int(i128::from(v)))),
        ];
        let ret = Expr::Term(Term::Ret);
        matches!(test, Expr::Binary(a, BinOp::Eq, b)
            if (**a == ret && minus.contains(b)) || (**b == ret && minus.contains(a)))
    };
    let tests = q.filter.as_ref().map(Expr::tests).unwrap_or_default();
    if errnos
        .iter()
        .all(|(_, v)| tests.iter().any(|t| tests_error(t, *v)))
    {
        return Vec::new();
    }
    let test = errnos
        .iter()
        .map(|(_, v)| {
            Expr::Binary(
                Box::new(Expr::Term(Term::Ret)),
                BinOp::Eq,
                Box::new(Expr::Int(-i128::from(*v))),
            )
        })
        .reduce(|a, b| Expr::Binary(Box::new(a), BinOp::Or, Box::new(b)));
    let Some(test) = test else {
        return Vec::new();
    };
    q.filter = Some(match q.filter.take() {
        Some(f) => Expr::Binary(Box::new(f), BinOp::And, Box::new(test)),
        None => test,
    });
    let named: Vec<String> = errnos
        .iter()
        .map(|(name, v)| format!("{name} (ret == -{v})"))
        .collect();
    vec![format!(
        "the request asks for failures with {}: the result is tested for it (a failed call returns -errno, syscalls(2))",
        named.join(" or ")
    )]
}

/// A path compared equal to a directory the request keeps paths under ("files opened under
/// /tmp": `Intent::directories`) becomes a prefix test with the directory's final slash:
/// `args->filename == "/tmp"` keeps the directory itself, `starts_with(args->filename,
/// "/tmp/")` what is in it (path_resolution(7)). A prefix without the slash gets it, or
/// "/tmpfiles" would count as under "/tmp".
pub fn directory_prefixes(q: &mut Query, intent: &Intent) -> Vec<String> {
    let mut notes = Vec::new();
    if intent.directories.is_empty() {
        return notes;
    }
    let Some(filter) = q.filter.take() else {
        return notes;
    };
    let dir_of = |s: &str| {
        intent
            .directories
            .iter()
            .find(|d| d.trim_end_matches('/') == s.trim_end_matches('/'))
            .cloned()
    };
    q.filter = Some(filter.map_tests(&mut |test| match test {
        Expr::Binary(a, op @ (BinOp::Eq | BinOp::StartsWith), b) => {
            let dir = match b.as_ref() {
                Expr::Str(s) => dir_of(s).filter(|d| d != s || op == BinOp::Eq),
                _ => None,
            };
            match (dir, b.as_ref()) {
                (Some(dir), Expr::Str(s)) => {
                    let shown = crate::query::show(&a);
                    notes.push(format!(
                        "{shown} {op} \"{s}\" became starts_with({shown}, \"{dir}\"): the request asks for paths under {dir}"
                    ));
                    Expr::Binary(a, BinOp::StartsWith, Box::new(Expr::Str(dir)))
                }
                _ => Expr::Binary(a, op, b),
            }
        }
        other => other,
    }));
    notes
}

/// A bit test of a documented flag the request speaks of (`args->flags & 2`, O_RDWR, for
/// "opened for writing") where the same words mean other flags as well (`also` in
/// `specs-db/flags.toml`: O_WRONLY): the mask is widened to them (`args->flags & 3`), or the
/// test keeps half of what the words ask for. Only where every FROM event documents those
/// flags for the field. The request-coverage check demands the same of any program.
pub fn flag_alternatives(q: &mut Query, intent: &Intent) -> Vec<String> {
    let targets: Vec<&str> = q
        .from
        .iter()
        .map(|f| f.strip_prefix("tracepoint:").unwrap_or(f))
        .collect();
    let mut notes = Vec::new();
    if let Some(filter) = q.filter.as_mut() {
        widen_masks(filter, intent, &targets, &mut notes);
    }
    notes
}

fn widen_masks(e: &mut Expr, intent: &Intent, targets: &[&str], notes: &mut Vec<String>) {
    use crate::knowledge::flags;
    let Expr::Binary(l, op, r) = e else {
        if let Expr::Unary(_, inner) = e {
            widen_masks(inner, intent, targets, notes);
        }
        return;
    };
    if *op != BinOp::BitAnd {
        // `(flags & 2) == 2` widened to `(flags & 3)` keeps either bit: `!= 0`, not `== 2`.
        let was = |x: &Expr| match x {
            Expr::Binary(a, BinOp::BitAnd, b) => match (&**a, &**b) {
                (_, Expr::Int(m)) | (Expr::Int(m), _) => Some(*m),
                _ => None,
            },
            _ => None,
        };
        let before = (was(l), was(r));
        widen_masks(l, intent, targets, notes);
        widen_masks(r, intent, targets, notes);
        if *op == BinOp::Eq {
            let widened = |x: &Expr, old: Option<i128>| was(x).is_some() && was(x) != old;
            let compared_with_old = |x: &Expr, old: Option<i128>| matches!(x, Expr::Int(v) if Some(*v) == old && *v != 0);
            if (widened(l, before.0) && compared_with_old(r, before.0))
                || (widened(r, before.1) && compared_with_old(l, before.1))
            {
                *op = BinOp::Ne;
                if matches!(**r, Expr::Int(_)) {
                    **r = Expr::Int(0);
                } else {
                    **l = Expr::Int(0);
                }
            }
        }
        return;
    }
    let (field, mask) = match (&**l, &mut **r) {
        (Expr::Term(Term::Field(f)), Expr::Int(m)) => (f.clone(), m),
        _ => match (&mut **l, &**r) {
            (Expr::Int(m), Expr::Term(Term::Field(f))) => (f.clone(), m),
            _ => return,
        },
    };
    let Some(first) = targets.first() else { return };
    let tested = *mask;
    let mut added: Vec<String> = Vec::new();
    let asked: Vec<&flags::Flag> = flags::shipped()
        .iter()
        .filter(|f| {
            f.field == field
                && !f.also.is_empty()
                && i128::from(f.mask) & tested == i128::from(f.mask)
                && f.words.iter().any(|w| intent.uses_word(w))
                && f.probes.iter().any(|p| p == first)
        })
        .collect();
    for f in asked {
        for name in &f.also {
            let everywhere: Option<Vec<&flags::Flag>> = targets
                .iter()
                .map(|t| flags::named(t, &field, name))
                .collect();
            let Some(others) = everywhere else { continue };
            let Some(other) = others.first() else {
                continue;
            };
            if others.iter().all(|o| o.mask == other.mask) && *mask & i128::from(other.mask) == 0 {
                *mask |= i128::from(other.mask);
                added.push(format!("{} 0x{:x}", other.name, other.mask));
            }
        }
    }
    if !added.is_empty() {
        notes.push(format!(
            "the request's words mean {} as well: the test of args->{field} keeps those bits too (specs-db/flags.toml)",
            added.join(", ")
        ));
    }
}

/// A duration (`duration_us`) asked of events that have no return and no span (the
/// compiler's [`Lack::NoReturn`]) but carry a time of their own: a field whose name gives its
/// unit (`delta_ns` at nmi:nmi_handler, include/trace/events/nmi.h; `diff_ns`), the one such
/// field of every FROM event. The duration is read there, converted to the unit asked.
pub fn time_field(q: &mut Query, error: &CompileError, events: &[EventKeys]) -> Option<String> {
    let CompileError::Lacks(lacks) = error else {
        return None;
    };
    if !lacks.iter().all(|l| matches!(l, Lack::NoReturn { .. }))
        || events.is_empty()
        || events.len() != q.from.len()
    {
        return None;
    }
    let unit = q.terms().into_iter().find_map(|t| match t {
        Term::Duration(u) => Some(u),
        _ => None,
    })?;
    let ns_of = |name: &str| -> Option<i128> {
        let suffix = name.rsplit('_').next()?;
        match suffix {
            "ns" | "nsec" | "nsecs" => Some(1),
            "us" | "usec" | "usecs" => Some(1_000),
            "ms" | "msec" | "msecs" => Some(1_000_000),
            _ => None,
        }
    };
    let mut found: Option<(String, i128)> = None;
    for e in events {
        let mut timed = e.fields.iter().filter_map(|f| Some((f.clone(), ns_of(f)?)));
        let (Some(one), None) = (timed.next(), timed.next()) else {
            return None;
        };
        match &found {
            Some(f) if *f != one => return None,
            _ => found = Some(one),
        }
    }
    let (field, field_ns) = found?;
    let asked_ns: i128 = match unit {
        crate::query::TimeUnit::Ns => 1,
        crate::query::TimeUnit::Us => 1_000,
        crate::query::TimeUnit::Ms => 1_000_000,
    };
    let value = Expr::Term(Term::Field(field.clone()));
    let to = if field_ns == asked_ns {
        value
    } else if field_ns < asked_ns {
        Expr::Binary(
            Box::new(value),
            BinOp::Div,
            Box::new(Expr::Int(asked_ns / field_ns)),
        )
    } else {
        Expr::Binary(
            Box::new(value),
            BinOp::Mul,
            Box::new(Expr::Int(field_ns / asked_ns)),
        )
    };
    let from = Term::Duration(unit);
    // A tally keyed by the duration it aggregates splits it by value: the key goes.
    if q.select.iter().any(|it| matches!(it, Item::Agg(..))) {
        drop_keys_reading(q, &from);
    }
    for it in &mut q.select {
        if let Item::Value(e) | Item::Agg(_, Some(e)) = it {
            replace_with(e, &from, &to);
        }
    }
    for e in q.filter.iter_mut().chain(q.group_by.iter_mut()) {
        replace_with(e, &from, &to);
    }
    // The time field itself as a key of the tally that aggregates it splits it by value.
    let time = Term::Field(field.clone());
    if q.select
        .iter()
        .any(|it| matches!(it, Item::Agg(_, Some(e)) if reads(e, &time)))
    {
        drop_keys_reading(q, &time);
    }
    Some(format!(
        "the events have no return or span to time, but carry a time themselves: {from} is args->{field}, in the unit asked"
    ))
}

/// Whether `e` reads the term `t`.
fn reads(e: &Expr, t: &Term) -> bool {
    let mut terms = Vec::new();
    e.terms(&mut terms);
    terms.contains(t)
}

/// Drops the GROUP BY keys and plain SELECT values that read `t`.
fn drop_keys_reading(q: &mut Query, t: &Term) {
    q.group_by.retain(|k| !reads(k, t));
    q.select
        .retain(|it| !matches!(it, Item::Value(e) if reads(e, t)));
}

/// Replaces every `from` term of `e` with the expression `to`.
fn replace_with(e: &mut Expr, from: &Term, to: &Expr) {
    match e {
        Expr::Term(t) if t == from => *e = to.clone(),
        Expr::Term(_) | Expr::Int(_) | Expr::Str(_) => {}
        Expr::StrOf(x) | Expr::Unary(_, x) => replace_with(x, from, to),
        Expr::Binary(a, _, b) => {
            replace_with(a, from, to);
            replace_with(b, from, to);
        }
    }
}

/// A printed value reading a field that none of the FROM events has (the compiler's
/// [`Lack::NoField`] for every event), under a name the request does not use: a small model
/// copies a field from another offered tracepoint's list (`l3index` of tcp_hash_ao_required
/// into a query on accept4). A part of the name close to a request word ([`used_by`]: `dport`
/// for "port") counts as named. Left out, with a note, when a value or aggregate remains; the
/// request-coverage check still judges whether what remains answers the request. A field the
/// request names, or one that a filter, an aggregate or a sort of the output reads, is left
/// to the model.
pub fn drop_stray_value(q: &mut Query, error: &CompileError, intent: &Intent) -> Option<String> {
    let CompileError::Lacks(lacks) = error else {
        return None;
    };
    let mut fields = lacks.iter().map(|l| match l {
        Lack::NoField { field, .. } => Some(field.as_str()),
        _ => None,
    });
    let field = fields.next()??;
    let words: Vec<&str> = intent.words().collect();
    if !fields.all(|f| f == Some(field)) || used_by(field, &words) {
        return None;
    }
    let term = Term::Field(field.to_owned());
    let reads_field = |e: &Expr| reads(e, &term);
    let in_aggregate = q
        .select
        .iter()
        .any(|i| matches!(i, Item::Agg(_, Some(e)) if reads_field(e)));
    if in_aggregate || q.filter.as_ref().is_some_and(reads_field) {
        return None;
    }
    let kept: Vec<Item> = q
        .select
        .iter()
        .filter(|i| !matches!(i, Item::Value(e) if reads_field(e)))
        .cloned()
        .collect();
    if kept.is_empty() {
        return None;
    }
    q.select = kept;
    q.group_by.retain(|g| !reads_field(g));
    Some(format!(
        "left out args->{field}: none of the FROM events has that field, and the request does not name it"
    ))
}

/// The one FROM syscall event with a parameter called `name` in its man page, and the field
/// that parameter is there (`source` at sys_enter_mount is `dev_name`): (event, call, field).
/// None when no event, or two with different fields, have it.
fn man_parameter(events: &[EventKeys], name: &str) -> Option<(String, String, String)> {
    let man = crate::knowledge::syscall_man::SyscallMan::shipped();
    let mut found: Option<(String, String, String)> = None;
    for e in events {
        let call = e.event.trim_start_matches("sys_enter_");
        let Some((_, field)) = man
            .event_parameters(&e.event, e.fields.iter().map(String::as_str))
            .into_iter()
            .find(|(p, _)| p == name)
        else {
            continue;
        };
        match &found {
            Some((_, _, other)) if *other != field => return None,
            Some(_) => {}
            None => found = Some((e.event.clone(), call.to_owned(), field)),
        }
    }
    found
}

/// A size asked "in bytes" read from a count in another unit (`nr_sector`, 512-byte sectors)
/// where a FROM event has the bytes themselves (`bytes`, specs-db/field-names.toml
/// `[[in_bytes]]`): the byte field is read instead, with a note.
pub fn in_bytes(q: &mut Query, intent: &Intent, events: &[EventKeys]) -> Vec<String> {
    let mut notes = Vec::new();
    if !intent.uses_word("bytes") {
        return notes;
    }
    for t in q.terms() {
        let Term::Field(f) = &t else { continue };
        let Some(bytes) = crate::knowledge::field_names::bytes_of(f) else {
            continue;
        };
        if events.iter().any(|e| e.fields.iter().any(|x| x == bytes)) {
            q.replace_term(&t, &Term::Field(bytes.to_owned()));
            notes.push(format!(
                "the request asks for bytes: args->{bytes}, not args->{f} (another unit)"
            ));
        }
    }
    notes
}

/// "Bytes sent" at calls whose result is the number of bytes they transferred
/// (`specs-db/contracts.toml` `byte_count_result`: read(2), send(2)… RETURN VALUE): the value
/// aggregated is that result (`ret`), not an argument. A pointer argument (sendmsg's
/// `args->msg`) is never a quantity; a byte count the caller passes (`args->count`) is the
/// size it asked for, which stays where the request speaks of asking or requesting.
pub fn bytes_are_result(q: &mut Query, intent: &Intent, events: &[EventKeys]) -> Vec<String> {
    let mut notes = Vec::new();
    let Some(sources) = byte_calls(q, intent) else {
        return notes;
    };
    let asked_size = crate::symbolic::contract::speaks_of_asked_size(intent);
    let pointer = |f: &str| {
        events.iter().any(|e| {
            matches!(
                e.types.get(f),
                Some(
                    FieldType::Pointer
                        | FieldType::DataPointer
                        | FieldType::SockaddrPointer
                        | FieldType::StructPointer
                )
            )
        })
    };
    let mut replaced = Vec::new();
    for it in &mut q.select {
        let Item::Agg(agg, Some(e)) = it else {
            continue;
        };
        let Expr::Term(Term::Field(f)) = e else {
            continue;
        };
        if *agg == Agg::Count || (asked_size && !pointer(f)) {
            continue;
        }
        let (call, source) = &sources[0];
        notes.push(format!(
            "the request asks for what {call}() returns ({source}): ret is aggregated, not args->{f}"
        ));
        replaced.push(std::mem::replace(e, Expr::Term(Term::Ret)));
    }
    q.group_by.retain(|k| !replaced.contains(k));
    // A line per call: the size it was passed, shown where the bytes it moved were asked
    // ("each splice and the number of bytes it moved"), is the result too. Only a field of
    // the size family (`len`, `count`), and only where no result is shown already.
    let tallies = q.select.iter().any(|it| matches!(it, Item::Agg(..)));
    let shows_ret = q.select.contains(&Item::Value(Expr::Term(Term::Ret)));
    if !tallies && !asked_size && !shows_ret {
        let sized = |f: &str| {
            crate::knowledge::field_names::family_of(f).is_some_and(|k| k.kind == "size or length")
                && !pointer(f)
        };
        let mut done = false;
        for it in &mut q.select {
            let Item::Value(e @ Expr::Term(Term::Field(_))) = it else {
                continue;
            };
            let Expr::Term(Term::Field(f)) = &*e else {
                continue;
            };
            if done || !sized(f) {
                continue;
            }
            let (call, source) = &sources[0];
            notes.push(format!(
                "the request asks for what {call}() returns ({source}): ret is shown, not args->{f} (the size it was passed)"
            ));
            *e = Expr::Term(Term::Ret);
            done = true;
        }
    }
    notes
}

/// A result the request states ("read calls that return 0 bytes": [`Intent::result_value`];
/// "accept4 calls that return a descriptor above 100": a threshold of the result,
/// [`Intent::result_threshold`]) written as a test of an argument (`args->count == 0`,
/// `args->fd > 100`): what a call returns is `ret` (syscalls(2) RETURN VALUE), so the test
/// is of `ret`. Only where the filter tests no result already. Run before [`prune_filter`].
pub fn stated_result(q: &mut Query, intent: &Intent) -> Vec<String> {
    fn rewrite(e: &mut Expr, stated: &dyn Fn(BinOp, i128) -> bool, moved: &mut Vec<String>) {
        let Expr::Binary(l, op, r) = e else {
            return;
        };
        if matches!(op, BinOp::And | BinOp::Or) {
            rewrite(l, stated, moved);
            rewrite(r, stated, moved);
            return;
        }
        if let (Expr::Term(Term::Field(f)), Expr::Int(n)) = (l.as_ref(), r.as_ref()) {
            if stated(*op, *n) && !stated::is_result_name(f) {
                moved.push(f.clone());
                **l = Expr::Term(Term::Ret);
            }
        }
    }
    let tests_result = q.filter.as_ref().is_some_and(|f| {
        let mut terms = Vec::new();
        f.terms(&mut terms);
        terms.contains(&Term::Ret)
    });
    let Some(filter) = q.filter.as_mut().filter(|_| !tests_result) else {
        return Vec::new();
    };
    let value = intent.result_value;
    let bound = intent.threshold.filter(|_| intent.result_threshold);
    let stated = |op: BinOp, n: i128| {
        (op == BinOp::Eq && value == Some(n))
            || (matches!(op, BinOp::Gt | BinOp::Ge) && bound == Some(n))
    };
    let mut moved = Vec::new();
    rewrite(filter, &stated, &mut moved);
    moved
        .into_iter()
        .map(|f| {
            format!("the request states what the calls return: the test is of ret, not args->{f}")
        })
        .collect()
}

/// Bytes summed (or shown in a histogram, averaged…) from the result of calls that return the
/// bytes they transferred count successful calls only: on failure the result is -errno, no
/// byte count (`specs-db/contracts.toml` `byte_count_result`: read(2), send(2)… RETURN
/// VALUE). `ret >= 0` joins the filter unless the request asks about failures or the filter
/// already tests the result. Run after [`prune_filter`]: this test is the man page's, not one
/// the request must state.
pub fn successes_only(q: &mut Query, intent: &Intent) -> Vec<String> {
    let byte_calls = byte_calls(q, intent).is_some();
    let of_result = q
        .select
        .iter()
        .any(|it| matches!(it, Item::Agg(a, Some(Expr::Term(Term::Ret))) if *a != Agg::Count));
    let tests_result = q.filter.as_ref().is_some_and(|f| {
        let mut terms = Vec::new();
        f.terms(&mut terms);
        terms.contains(&Term::Ret)
    });
    if !byte_calls || !of_result || tests_result || intent.asks(Concept::Failure) {
        return Vec::new();
    }
    let success = Expr::Binary(
        Box::new(Expr::Term(Term::Ret)),
        BinOp::Ge,
        Box::new(Expr::Int(0)),
    );
    q.filter = Some(match q.filter.take() {
        Some(f) => Expr::Binary(Box::new(f), BinOp::And, Box::new(success)),
        None => success,
    });
    vec![
        "a failed call returns -errno, no bytes: only successful calls (ret >= 0) are aggregated"
            .into(),
    ]
}

/// Where every FROM probe is a syscall whose result is the bytes it moved and the request
/// speaks of bytes: each call with the man page that says so (see
/// [`crate::symbolic::contract::bytes_are_result_of`]).
fn byte_calls(q: &Query, intent: &Intent) -> Option<Vec<(String, &'static str)>> {
    let calls: Option<Vec<(String, &str)>> = q
        .from
        .iter()
        .map(|p| {
            let call = p
                .split_once(":sys_enter_")
                .or_else(|| p.split_once(":sys_exit_"))
                .map(|(_, call)| call)?;
            crate::symbolic::contract::bytes_are_result_of(intent, call)
                .map(|s| (call.to_owned(), s))
        })
        .collect();
    calls.filter(|c| !c.is_empty())
}

/// A duration asked at an event that only starts a span (`FROM sched_wakeup_new` for run-queue
/// latency): the span is measured where it ends (the specs DB: sched_switch), so that event
/// joins FROM, with a note. Only when the event ends no span of its own and starts spans
/// ending at one event.
pub fn span_ends(q: &mut Query, intent: &Intent) -> Vec<String> {
    let mut notes = Vec::new();
    if !q.terms().iter().any(|t| matches!(t, Term::Duration(_))) {
        return notes;
    }
    let spans: Vec<(&str, &crate::query::Span)> = crate::knowledge::specs::spans().collect();
    // A duration at an event with no span of its own, when the request asks for a span by
    // name (off-CPU time): that span's event replaces it.
    let asked: Vec<&str> = spans
        .iter()
        .filter(|(_, s)| s.id.as_ref().is_some_and(|id| intent.spans.contains(id)))
        .map(|(end, _)| *end)
        .collect();
    if let [end] = asked[..] {
        let timeless = |p: &String| {
            !spans.iter().any(|(e, s)| *e == p || s.starts_at(p))
                && !p.contains(":syscalls:")
                && !p.starts_with("uprobe:")
                && !p.starts_with("uretprobe:")
        };
        let replaced: Vec<String> = q.from.iter().filter(|p| timeless(p)).cloned().collect();
        if !replaced.is_empty() {
            q.from.retain(|p| !timeless(p));
            if !q.from.iter().any(|f| f == end) {
                q.from.push(end.to_owned());
            }
            notes.push(format!(
                "the request asks for a time {end} measures: it replaces {}, which has none",
                replaced.join(", ")
            ));
        }
    }
    for p in q.from.clone() {
        if spans.iter().any(|(end, _)| *end == p) {
            continue;
        }
        let mut ends: Vec<&str> = spans
            .iter()
            .filter(|(end, s)| s.starts_at(&p) && *end != p)
            .map(|(end, _)| *end)
            .collect();
        ends.dedup();
        if let [end] = ends[..] {
            if !q.from.iter().any(|f| f == end) {
                q.from.push(end.to_owned());
                notes.push(format!(
                    "a duration from {p} is measured where it ends: {end} joins FROM"
                ));
            }
        }
    }
    notes
}

/// A request that asks how long (`Concept::Duration`) answered with a line per event and no
/// duration: the duration is printed too, in the request's unit (µs when it names none), when
/// every FROM event has one: a syscall or a user function (entry to return), or the end of a
/// specs-DB span whose start is also in FROM (block_rq_issue → block_rq_complete). A query
/// with an aggregate is left alone: what it aggregates is the model's choice to judge.
pub fn duration_asked(q: &mut Query, intent: &Intent) -> Vec<String> {
    let aggregates = q.select.iter().any(|it| matches!(it, Item::Agg(..)));
    if !intent.asks(Concept::Duration)
        || intent.asks(Concept::Lifetime)
        || aggregates
        || q.from.is_empty()
        || q.terms().iter().any(|t| matches!(t, Term::Duration(_)))
    {
        return Vec::new();
    }
    if !timed(q) {
        return Vec::new();
    }
    let unit = intent.time_unit.unwrap_or(crate::query::TimeUnit::Us);
    let term = Term::Duration(unit);
    q.select.push(Item::Value(Expr::Term(term.clone())));
    vec![format!("the request asks how long: {term} is printed too")]
}

/// A request about how long processes lived ([`Concept::Lifetime`]) whose query times
/// `sched:sched_process_exit` with `duration_*`: that event has no return and no span, but it
/// fires in the exiting task (kernel/exit.c do_exit()), so the time since the task was created
/// (`process_age_*`, from its `start_time`) is the lifetime asked for.
pub fn exit_lifetime(q: &mut Query, intent: &Intent) -> Vec<String> {
    const EXIT: &str = "tracepoint:sched:sched_process_exit";
    if !intent.asks(Concept::Lifetime) || q.from.is_empty() || q.from.iter().any(|p| p != EXIT) {
        return Vec::new();
    }
    let mut changed = Vec::new();
    for unit in [
        crate::query::TimeUnit::Ns,
        crate::query::TimeUnit::Us,
        crate::query::TimeUnit::Ms,
    ] {
        let (from, to) = (Term::Duration(unit), Term::Age(unit));
        if q.terms().contains(&from) && q.replace_term(&from, &to) {
            changed.push(format!("{from} → {to}"));
        }
    }
    if changed.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "sched_process_exit has no return to time, but it fires in the exiting process: its lifetime is its age ({})",
        changed.join(", ")
    )]
}

/// Whether every FROM probe has a duration: a syscall or a user function (entry to return),
/// or an end or start of a specs-DB span whose other end is also in FROM.
fn timed(q: &Query) -> bool {
    let spans: Vec<(&str, &crate::query::Span)> = crate::knowledge::specs::spans().collect();
    let spanned_end = |p: &str| {
        spans
            .iter()
            .any(|(end, s)| *end == p && s.starts().any(|st| q.from.contains(st) && st != p))
    };
    let span_start = |p: &str| {
        spans
            .iter()
            .any(|(end, s)| s.starts_at(p) && *end != p && q.from.iter().any(|f| f == end))
    };
    q.from.iter().all(|p| {
        p.contains(":syscalls:sys_enter_")
            || p.contains(":syscalls:sys_exit_")
            || p.starts_with("uprobe:")
            || p.starts_with("uretprobe:")
            || spanned_end(p)
            || span_start(p)
    })
}

/// A printed duration at FROM events that have none (no return, no span: `duration_ms` at
/// `writeback:balance_dirty_pages`), beside a field the request names there (its `pause`, a
/// time the event records: include/trace/events/writeback.h): the query cannot compile with
/// it, and the named field is the time asked for, so the duration goes (with a note).
pub fn untimed_durations(q: &mut Query, intent: &Intent, events: &[EventKeys]) -> Vec<String> {
    let durations: Vec<Term> = q
        .terms()
        .into_iter()
        .filter(|t| matches!(t, Term::Duration(_)))
        .collect();
    // Every event the compiler can time: a call's return, or the end of any specs-DB span (the
    // compiler adds the span's start when FROM lacks it: tcp_destroy_sock's lifetime).
    let spans: Vec<(&str, &crate::query::Span)> = crate::knowledge::specs::spans().collect();
    let timeable = q.from.iter().all(|p| {
        p.contains(":syscalls:sys_")
            || p.starts_with("uprobe:")
            || p.starts_with("uretprobe:")
            || spans.iter().any(|(end, _)| end == p)
    });
    if durations.is_empty() || timed(q) || timeable {
        return Vec::new();
    }
    let named: Vec<String> = events
        .iter()
        .flat_map(|e| {
            e.fields
                .iter()
                .filter(|f| crate::intent::naming::names_field(intent, &e.subsystem, &e.event, f))
                .map(|f| format!("args->{f}"))
        })
        .collect();
    let shown_named = q.select.iter().any(|it| {
        matches!(it, Item::Value(Expr::Term(Term::Field(f))) if named.contains(&format!("args->{f}")))
    });
    let mut kept = q.clone();
    kept.select
        .retain(|it| !matches!(it, Item::Value(Expr::Term(Term::Duration(_)))));
    // Only printed durations go: one aggregated, filtered or grouped on is left to the model.
    if !shown_named || kept.terms().iter().any(|t| matches!(t, Term::Duration(_))) {
        return Vec::new();
    }
    *q = kept;
    vec![format!(
        "left out {}: the FROM events have no return to time, and the request's time is what they record ({})",
        durations.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", "),
        named.join(", ")
    )]
}

fn is_identifier(t: &Term) -> bool {
    match t {
        Term::Builtin(b) => matches!(b.as_str(), "pid" | "tid" | "uid" | "cpu" | "ppid"),
        Term::Field(f) => {
            let f = f.to_ascii_lowercase();
            // prev_pid, orig_cpu, dport, skaddr, newfd, sector…
            [
                "pid", "cpu", "port", "family", "addr", "fd", "sig", "dev", "sector", "uid",
            ]
            .iter()
            .any(|id| f.ends_with(id))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_no_from_event_has_is_left_out_unless_the_request_names_it() {
        let parsed = |t: &str| crate::query::parse_reply(t).expect("parses");
        let lack = |field: &str| {
            CompileError::Lacks(vec![Lack::NoField {
                probe: "tracepoint:syscalls:sys_enter_listen".into(),
                field: field.into(),
                available: vec!["fd".into(), "backlog".into()],
            }])
        };
        let intent = Intent::read("which programs start listening, and how long is their backlog");
        let mut q = parsed(
            "SELECT comm, args->backlog, args->zone_idx FROM tracepoint:syscalls:sys_enter_listen GROUP BY comm, args->zone_idx",
        );
        let note = drop_stray_value(&mut q, &lack("zone_idx"), &intent).expect("dropped");
        assert!(note.contains("args->zone_idx"), "{note}");
        assert_eq!(q.select.len(), 2);
        assert_eq!(q.group_by.len(), 1);
        // Named by the request ("port" in dport): the model's to fix.
        let intent = Intent::read("the port each listener binds and its backlog");
        let mut q = parsed("SELECT comm, args->dport FROM tracepoint:syscalls:sys_enter_listen");
        assert!(drop_stray_value(&mut q, &lack("dport"), &intent).is_none());
        // Read by a filter or an aggregate: not a stray printed value.
        let intent = Intent::read("listen calls by process");
        let mut q = parsed(
            "SELECT comm FROM tracepoint:syscalls:sys_enter_listen WHERE args->zone_idx > 1",
        );
        assert!(drop_stray_value(&mut q, &lack("zone_idx"), &intent).is_none());
        let mut q = parsed("SELECT sum(args->zone_idx) FROM tracepoint:syscalls:sys_enter_listen");
        assert!(drop_stray_value(&mut q, &lack("zone_idx"), &intent).is_none());
        // Nothing would remain.
        let mut q = parsed("SELECT args->zone_idx FROM tracepoint:syscalls:sys_enter_listen");
        assert!(drop_stray_value(&mut q, &lack("zone_idx"), &intent).is_none());
    }
    use crate::query::parse;

    fn normalize(q: &mut Query, request: &str) -> Vec<String> {
        super::normalize(q, &Intent::read(request))
    }

    fn event(name: &str, fields: &[&str], named: &[&str]) -> EventKeys {
        EventKeys {
            subsystem: String::new(),
            event: name.into(),
            fields: fields.iter().map(|f| f.to_string()).collect(),
            named: named.iter().map(|f| f.to_string()).collect(),
            types: BTreeMap::new(),
        }
    }

    fn keys_of(q: &Query) -> Vec<String> {
        q.group_by.iter().map(show).collect()
    }

    #[test]
    fn a_field_the_event_lacks_is_read_where_the_specs_say_it_is_recorded() {
        let mut report = event("error_report_end", &["error_detector", "id"], &[]);
        report.subsystem = "error_report".into();
        let mut q = parse("SELECT args->error_detector, args->address FROM tracepoint:error_report:error_report_end").unwrap();
        let (notes, _) = field_names(&mut q, std::slice::from_ref(&report));
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(
            q.select[1],
            Item::Value(Expr::Term(Term::Field("id".into())))
        );
        // Another event: nothing said, nothing renamed.
        let mut other = report.clone();
        other.subsystem = "other".into();
        let mut q = parse("SELECT args->address FROM tracepoint:other:error_report_end").unwrap();
        let before = q.clone();
        let _ = field_names(&mut q, &[other]);
        assert_eq!(q, before);
    }

    #[test]
    fn a_field_the_event_lacks_is_read_at_its_one_field_of_the_same_kind() {
        let issue = [event(
            "block_rq_issue",
            &["dev", "sector", "nr_sector", "bytes", "rwbs", "comm"],
            &[],
        )];
        let mut q = parse(
            "SELECT hist(args->size) FROM tracepoint:block:block_rq_issue WHERE args->size > 4096 GROUP BY comm",
        )
        .unwrap();
        let (notes, hints) = field_names(&mut q, &issue);
        let shown = format!("{q:?}");
        assert!(!shown.contains("\"size\""), "{shown}");
        assert_eq!(shown.matches("\"bytes\"").count(), 2, "{shown}");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("args->bytes"), "{notes:?}");
        assert!(hints.is_empty());
        // Two fields of the kind: nothing guessed, both named for the model.
        let kmalloc = [event(
            "kmalloc",
            &["call_site", "ptr", "bytes_req", "bytes_alloc", "gfp_flags"],
            &[],
        )];
        let mut q = parse("SELECT comm, args->len FROM tracepoint:kmem:kmalloc").unwrap();
        let before = q.clone();
        let (notes, hints) = field_names(&mut q, &kmalloc);
        assert_eq!(q, before);
        assert!(notes.is_empty());
        assert!(hints[0].contains("args->bytes_alloc") && hints[0].contains("args->bytes_req"));
        // A field the event has, or one of no known kind, is left alone.
        let mut q =
            parse("SELECT args->nr_sector, args->color FROM tracepoint:block:block_rq_issue")
                .unwrap();
        let before = q.clone();
        assert_eq!(field_names(&mut q, &issue), (vec![], vec![]));
        assert_eq!(q, before);
        // A path read under another event's name for it.
        let unlink = [event(
            "sys_enter_unlinkat",
            &["dfd", "pathname", "flag"],
            &[],
        )];
        let mut q =
            parse("SELECT comm, str(args->filename) FROM tracepoint:syscalls:sys_enter_unlinkat")
                .unwrap();
        let (notes, _) = field_names(&mut q, &unlink);
        assert!(format!("{q:?}").contains("pathname"), "{notes:?}");
    }

    #[test]
    fn a_parameter_named_as_its_man_page_does_is_read_at_the_kernels_field() {
        let mount = event(
            "sys_enter_mount",
            &[
                "__syscall_nr",
                "dev_name",
                "dir_name",
                "type",
                "flags",
                "data",
            ],
            &[],
        );
        let umount = event("sys_enter_umount", &["__syscall_nr", "name", "flags"], &[]);
        let mut q = parse(
            "SELECT comm, str(args->source), str(args->target) FROM tracepoint:syscalls:sys_enter_mount",
        )
        .unwrap();
        let (notes, _) = field_names(&mut q, std::slice::from_ref(&mount));
        let shown = format!("{q:?}");
        assert!(
            shown.contains("dev_name") && shown.contains("dir_name"),
            "{shown}"
        );
        assert!(
            notes[0].contains("mount(2)'s source is args->dev_name"),
            "{notes:?}"
        );
        // Two events whose pages give `target` to different fields: nothing is guessed.
        let mut q = parse(
            "SELECT str(args->target) FROM tracepoint:syscalls:sys_enter_mount, tracepoint:syscalls:sys_enter_umount",
        )
        .unwrap();
        let before = q.clone();
        let (notes, _) = field_names(&mut q, &[mount, umount]);
        assert_eq!(q, before, "{notes:?}");
    }

    #[test]
    fn a_key_the_request_never_names_is_dropped_when_it_groups_by_another() {
        let fault = [event(
            "page_fault_user",
            &["address", "ip", "error_code"],
            &[],
        )];
        let mut q = parse(
            "SELECT count() FROM tracepoint:exceptions:page_fault_user GROUP BY comm, args->error_code",
        )
        .unwrap();
        let notes = keys(
            &mut q,
            &Intent::read("tally user-space faults for each command"),
            &fault,
        );
        assert_eq!(keys_of(&q), ["comm"], "{notes:?}");
        assert_eq!(notes.len(), 1);
        // Named in other words (a part of the field starts a request word): kept.
        let mut q = parse(
            "SELECT count() FROM tracepoint:exceptions:page_fault_user GROUP BY comm, args->error_code",
        )
        .unwrap();
        keys(
            &mut q,
            &Intent::read("faults by program and by error kind"),
            &fault,
        );
        assert_eq!(keys_of(&q), ["comm", "args->error_code"]);
        // "Process name" is the name, not the process ID; "process ID" is.
        let text =
            "SELECT avg(args->ret) FROM tracepoint:exceptions:page_fault_user GROUP BY comm, pid";
        let mut q = parse(text).unwrap();
        keys(
            &mut q,
            &Intent::read("mean fault result for each process name"),
            &fault,
        );
        assert_eq!(keys_of(&q), ["comm"]);
        let mut q = parse(text).unwrap();
        keys(
            &mut q,
            &Intent::read("mean fault result per process name and PID"),
            &fault,
        );
        assert_eq!(keys_of(&q), ["comm", "pid"]);
        // A plain SELECT value is a key too.
        let send = [event(
            "sys_enter_sendto",
            &["fd", "buff", "len", "dport"],
            &[],
        )];
        let mut q = parse(
            "SELECT comm, args->dport, args->buff, count() FROM tracepoint:syscalls:sys_enter_sendto GROUP BY comm",
        )
        .unwrap();
        keys(
            &mut q,
            &Intent::read("packets sent, grouped by sender and destination port"),
            &send,
        );
        let shown: Vec<String> = q.select.iter().map(|it| format!("{it:?}")).collect();
        assert!(!shown.iter().any(|s| s.contains("buff")), "{shown:?}");
        assert!(shown.iter().any(|s| s.contains("dport")), "{shown:?}");
    }

    #[test]
    fn an_or_stays_whole_with_one_stated_alternative_and_goes_whole_without() {
        let ask = Intent::read("report how each task ends, with its status or the signal");
        // exit_signal != 0 is stated (a signal), exit_code != 0 is not (no failures asked):
        // dropping the unstated one alone would hide tasks exiting with a non-zero status.
        let text = "SELECT comm, exit_code FROM tracepoint:sched:sched_process_exit WHERE exit_code != 0 OR exit_signal != 0";
        let mut q = parse(text).unwrap();
        let dropped = prune_filter(&mut q, &ask, &[]);
        assert!(dropped.is_empty(), "{dropped:?}");
        assert_eq!(q, parse(text).unwrap());
        // No alternative stated: the OR goes, whole.
        let mut q = parse(
            "SELECT comm FROM tracepoint:sched:sched_process_exit WHERE pid == 4 OR pid == 9",
        )
        .unwrap();
        let dropped = prune_filter(&mut q, &ask, &[]);
        assert_eq!(q.filter, None);
        assert_eq!(dropped, ["pid == 4 || pid == 9"]);
        // AND operands are judged one by one.
        let mut q = parse(
            "SELECT comm FROM tracepoint:sched:sched_process_exit WHERE pid == 4 AND comm == \"db\"",
        )
        .unwrap();
        prune_filter(&mut q, &Intent::read("how tasks called 'db' end"), &[]);
        assert_eq!(
            q.filter.as_ref().map(show).as_deref(),
            Some("comm == \"db\"")
        );
    }

    #[test]
    fn a_duration_at_an_event_that_only_starts_a_span_is_measured_at_its_end() {
        let mut q = parse(
            "SELECT hist(duration_us) FROM tracepoint:sched:sched_wakeup_new WHERE comm == \"x\"",
        )
        .unwrap();
        let notes = span_ends(&mut q, &Intent::read("how long do new tasks wait to run"));
        assert_eq!(
            q.from,
            [
                "tracepoint:sched:sched_wakeup_new",
                "tracepoint:sched:sched_switch"
            ]
        );
        assert_eq!(notes.len(), 1);
        // No duration, or the end already there: nothing changes.
        for text in [
            "SELECT count() FROM tracepoint:sched:sched_wakeup_new",
            "SELECT hist(duration_us) FROM tracepoint:block:block_rq_issue, tracepoint:block:block_rq_complete",
            "SELECT hist(duration_us) FROM tracepoint:sched:sched_switch",
        ] {
            let mut q = parse(text).unwrap();
            assert!(span_ends(&mut q, &Intent::read("how long")).is_empty(), "{text}");
            assert_eq!(q, parse(text).unwrap());
        }
    }

    #[test]
    fn a_duration_asked_and_not_selected_is_printed_where_every_event_has_one() {
        let ask = Intent::read("list each disk request with its sector and its duration, in ms");
        let mut q = parse("SELECT comm, args->sector FROM tracepoint:block:block_rq_issue, tracepoint:block:block_rq_complete").unwrap();
        let notes = duration_asked(&mut q, &ask);
        assert_eq!(notes.len(), 1, "{q:?}");
        assert!(matches!(
            q.select.last(),
            Some(Item::Value(Expr::Term(Term::Duration(
                crate::query::TimeUnit::Ms
            ))))
        ));
        // A syscall has one too; an event with none (the issue alone) gets nothing.
        let ask = Intent::read("how long do fsync calls take, per call");
        let mut q = parse("SELECT comm FROM tracepoint:syscalls:sys_enter_fsync").unwrap();
        assert_eq!(duration_asked(&mut q, &ask).len(), 1);
        let mut q = parse("SELECT comm FROM tracepoint:block:block_rq_issue").unwrap();
        assert!(duration_asked(&mut q, &ask).is_empty());
        // Not asked, or aggregated already: untouched.
        let mut q = parse("SELECT comm FROM tracepoint:syscalls:sys_enter_fsync").unwrap();
        assert!(duration_asked(&mut q, &Intent::read("fsync calls per process")).is_empty());
        let mut q =
            parse("SELECT count() FROM tracepoint:syscalls:sys_enter_fsync GROUP BY comm").unwrap();
        assert!(duration_asked(&mut q, &ask).is_empty());
    }

    #[test]
    fn a_request_listing_its_calls_gets_the_call_on_each_line() {
        let text = "SELECT comm, args->fd FROM tracepoint:syscalls:sys_enter_fsync, tracepoint:syscalls:sys_enter_fdatasync";
        let mut q = parse(text).unwrap();
        normalize(
            &mut q,
            "log fsync and fdatasync, showing process name and descriptor",
        );
        assert!(
            q.select
                .contains(&Item::Value(Expr::Term(Term::Builtin("probe".into())))),
            "{q:?}"
        );
        // One call named, or a tally: left alone.
        let mut q = parse(text).unwrap();
        normalize(
            &mut q,
            "log file syncs, showing process name and descriptor",
        );
        assert_eq!(q, parse(text).unwrap());
    }

    /// A span the request asks for by name (specs-db/intent.toml `span`) exists in the specs
    /// DB, and is what the compiler measures when asked: off-CPU time at sched_switch.
    #[test]
    fn spans_asked_by_name_exist_and_are_measured() {
        let specs = crate::knowledge::specs::query_facts();
        for s in &crate::intent::vocabulary::shipped().search {
            if let Some(id) = &s.span {
                assert!(
                    specs.spans.iter().any(|(_, sp)| sp.id.as_ref() == Some(id)),
                    "{}: no span {id}",
                    s.spoken
                );
            }
        }
        let ask = Intent::read("total time each command spends off-cpu, in us");
        assert_eq!(ask.spans, ["off_cpu"]);
        let host = crate::host::HostFacts::for_tests_with_tracepoints(&[(
            "sched",
            "sched_switch",
            &[
                ("char[16]", "prev_comm"),
                ("pid_t", "prev_pid"),
                ("long", "prev_state"),
                ("char[16]", "next_comm"),
                ("pid_t", "next_pid"),
            ],
        )]);
        let q = parse("SELECT sum(duration_us) FROM tracepoint:sched:sched_switch GROUP BY comm")
            .unwrap();
        let off = crate::query::SpecFacts {
            preferred: ask.spans.clone(),
            ..specs.clone()
        };
        let c = crate::query::compile::compile(&host, &off, &q).expect("compiles");
        assert!(
            c.source.contains("[args->prev_pid] = nsecs"),
            "{}",
            c.source
        );
        assert!(
            c.source.contains("[args->next_comm] = sum("),
            "{}",
            c.source
        );
        // A duration at an event with none, when off-CPU time is asked: sched_switch instead.
        let mut waited = parse(
            "SELECT comm, sum(duration_us) FROM tracepoint:sched:sched_process_wait GROUP BY comm",
        )
        .unwrap();
        let notes = span_ends(&mut waited, &ask);
        assert_eq!(waited.from, ["tracepoint:sched:sched_switch"], "{notes:?}");
        // Not asked: on-CPU time, the default.
        let c = crate::query::compile::compile(&host, specs, &q).expect("compiles");
        assert!(
            c.source.contains("[cpu, args->next_pid] = nsecs"),
            "{}",
            c.source
        );
    }

    #[test]
    fn bytes_moved_by_a_call_are_its_result_not_an_argument() {
        let mut recv = event("sys_enter_recvmsg", &["fd", "msg", "flags"], &[]);
        recv.types.insert("msg".into(), FieldType::Pointer);
        let sum = "SELECT sum(args->msg) FROM tracepoint:syscalls:sys_enter_recvmsg GROUP BY comm, args->msg";
        let mut q = parse(sum).unwrap();
        let ask = Intent::read("bytes received through recvmsg() by every program");
        let notes = bytes_are_result(&mut q, &ask, std::slice::from_ref(&recv));
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(q.select, [Item::Agg(Agg::Sum, Some(Expr::Term(Term::Ret)))]);
        assert_eq!(keys_of(&q), ["comm"]);
        // The size a caller asks for stays when the request speaks of asking.
        let pread = event("sys_enter_pread64", &["fd", "buf", "count", "pos"], &[]);
        let asked = "SELECT hist(args->count) FROM tracepoint:syscalls:sys_enter_pread64";
        let mut q = parse(asked).unwrap();
        let ask = Intent::read("distribution of the bytes programs request from pread64()");
        assert!(bytes_are_result(&mut q, &ask, std::slice::from_ref(&pread)).is_empty());
        // A line per call shows what it moved, not the size it was passed.
        let mut splice = event(
            "sys_enter_splice",
            &["fd_in", "off_in", "fd_out", "off_out", "len", "flags"],
            &[],
        );
        splice.types.insert("off_in".into(), FieldType::DataPointer);
        let lines = "SELECT comm, args->len FROM tracepoint:syscalls:sys_enter_splice";
        let mut q = parse(lines).unwrap();
        let ask =
            Intent::read("log every splice() with the program and how many bytes went through");
        assert_eq!(
            bytes_are_result(&mut q, &ask, std::slice::from_ref(&splice)).len(),
            1
        );
        assert_eq!(q.select[1], Item::Value(Expr::Term(Term::Ret)));
        let mut q = parse(lines).unwrap();
        let ask = Intent::read("log every splice() with the program and the bytes it asks to move");
        assert!(bytes_are_result(&mut q, &ask, std::slice::from_ref(&splice)).is_empty());
        // Or of what the caller passes (write(2): "up to count bytes from the buffer").
        let mut q = parse(asked).unwrap();
        let ask = Intent::read("distribution of the byte counts passed to pread64()");
        assert!(bytes_are_result(&mut q, &ask, std::slice::from_ref(&pread)).is_empty());
        let mut q = parse(asked).unwrap();
        let ask = Intent::read("distribution of the bytes pread64() hands back");
        assert_eq!(bytes_are_result(&mut q, &ask, &[pread]).len(), 1);
        // No bytes spoken of, or a call that returns no byte count: left alone.
        let mut q = parse(sum).unwrap();
        let ask = Intent::read("sum of the flags of recvmsg() calls");
        assert!(bytes_are_result(&mut q, &ask, std::slice::from_ref(&recv)).is_empty());
        let mut q = parse("SELECT sum(args->len) FROM tracepoint:syscalls:sys_enter_mmap").unwrap();
        let ask = Intent::read("bytes mapped by each program");
        assert!(bytes_are_result(&mut q, &ask, &[]).is_empty());
    }

    #[test]
    fn a_stated_result_is_a_test_of_ret() {
        let text = "SELECT count() FROM tracepoint:syscalls:sys_enter_pread64 WHERE args->count == 0 GROUP BY comm";
        let mut q = parse(text).unwrap();
        let ask = Intent::read("tally pread64 calls that return zero bytes, by command");
        assert_eq!(stated_result(&mut q, &ask).len(), 1);
        assert_eq!(q.filter.as_ref().map(show).as_deref(), Some("ret == 0"));
        // A threshold of the result, without a unit.
        let mut q = parse(
            "SELECT comm, ret FROM tracepoint:syscalls:sys_enter_dup WHERE args->fildes > 900",
        )
        .unwrap();
        let ask = Intent::read("dup calls that return a descriptor higher than 900");
        assert_eq!(stated_result(&mut q, &ask).len(), 1);
        assert_eq!(q.filter.as_ref().map(show).as_deref(), Some("ret > 900"));
        // A result tested already, or a value of an argument: left alone.
        let mut q = parse("SELECT comm FROM tracepoint:syscalls:sys_enter_dup WHERE args->fildes > 900 AND ret > 900").unwrap();
        assert!(stated_result(&mut q, &ask).is_empty());
        let mut q =
            parse("SELECT comm FROM tracepoint:syscalls:sys_enter_dup WHERE args->fildes > 900")
                .unwrap();
        let arg = Intent::read("dup calls on a descriptor higher than 900");
        assert!(stated_result(&mut q, &arg).is_empty());
    }

    #[test]
    fn bytes_from_results_count_successful_calls_only() {
        let text = "SELECT sum(ret) FROM tracepoint:syscalls:sys_exit_recvfrom GROUP BY comm";
        let mut q = parse(text).unwrap();
        let ask = Intent::read("bytes received with recvfrom() per program");
        assert_eq!(successes_only(&mut q, &ask).len(), 1);
        assert_eq!(q.filter.as_ref().map(show).as_deref(), Some("ret >= 0"));
        // Already tested, failures asked, or no byte count: left alone.
        assert!(successes_only(&mut q, &ask).is_empty());
        let mut q = parse(text).unwrap();
        let failing = Intent::read("bytes of recvfrom() calls that fail, per program");
        assert!(successes_only(&mut q, &failing).is_empty());
        let mut q = parse("SELECT sum(ret) FROM tracepoint:syscalls:sys_exit_mmap").unwrap();
        assert!(successes_only(&mut q, &Intent::read("bytes mapped")).is_empty());
    }

    #[test]
    fn a_tally_is_not_keyed_by_a_duration_unless_one_is_asked() {
        let text =
            "SELECT sum(ret) FROM tracepoint:syscalls:sys_exit_recvfrom GROUP BY pid, duration_ms";
        let mut q = parse(text).unwrap();
        normalize(
            &mut q,
            "bytes each process receives with recvfrom(), every 10 seconds",
        );
        assert_eq!(keys_of(&q), ["pid"]);
    }

    #[test]
    fn a_kernel_named_key_goes_when_the_phrases_are_answered_by_another() {
        // tracepoint:migrate:mm_migrate_pages prints `mode` and `reason` by name.
        let pages = [event(
            "mm_migrate_pages",
            &["succeeded", "failed", "mode", "reason"],
            &["mode", "reason"],
        )];
        let text = "SELECT count() FROM tracepoint:migrate:mm_migrate_pages GROUP BY args->mode, args->reason";
        let mut q = parse(text).unwrap();
        keys(
            &mut q,
            &Intent::read("tally of migrate_pages runs split by reason"),
            &pages,
        );
        assert_eq!(keys_of(&q), ["args->reason"]);
        // A phrase no key spells may mean the kernel-named one: both stay.
        let mut q = parse(text).unwrap();
        keys(
            &mut q,
            &Intent::read("tally of migrate_pages runs split by cause"),
            &pages,
        );
        assert_eq!(keys_of(&q), ["args->mode", "args->reason"]);
    }

    #[test]
    fn which_processes_keys_by_process_and_a_pronoun_each_keys_by_nothing() {
        let text = "SELECT sum(args->count) FROM tracepoint:syscalls:sys_enter_getrandom GROUP BY comm, args->flags";
        let mut q = parse(text).unwrap();
        let ask =
            Intent::read("which programs call getrandom(), and how much did each take in all?");
        keys(
            &mut q,
            &ask,
            &[event(
                "sys_enter_getrandom",
                &["buf", "count", "flags"],
                &[],
            )],
        );
        assert_eq!(keys_of(&q), ["comm"]);
        // "Each syscall" may be a field the words do not spell (`args->id`): it stays.
        let raw = "SELECT count() FROM tracepoint:raw_syscalls:sys_enter GROUP BY comm, args->id";
        let mut q = parse(raw).unwrap();
        let ask = Intent::read("which programs make each syscall");
        keys(&mut q, &ask, &[event("sys_enter", &["id", "args"], &[])]);
        assert_eq!(keys_of(&q), ["comm", "args->id"]);
    }

    #[test]
    fn a_size_asked_in_bytes_reads_the_byte_field_not_sectors() {
        let issue = [event(
            "block_rq_issue",
            &["dev", "sector", "nr_sector", "bytes"],
            &[],
        )];
        let mut q =
            parse("SELECT comm, args->nr_sector FROM tracepoint:block:block_rq_issue").unwrap();
        let notes = in_bytes(
            &mut q,
            &Intent::read("disk requests with their size in bytes"),
            &issue,
        );
        assert_eq!(notes.len(), 1);
        assert!(format!("{q:?}").contains("\"bytes\""), "{q:?}");
        // Sectors asked, or no byte field: left alone.
        let mut q =
            parse("SELECT comm, args->nr_sector FROM tracepoint:block:block_rq_issue").unwrap();
        assert!(in_bytes(
            &mut q,
            &Intent::read("disk requests with their sector count"),
            &issue
        )
        .is_empty());
        let bare = [event(
            "block_rq_complete",
            &["dev", "sector", "nr_sector"],
            &[],
        )];
        assert!(in_bytes(&mut q, &Intent::read("disk requests in bytes"), &bare).is_empty());
    }

    #[test]
    fn group_by_without_an_aggregate_prints_each_events_own_fields() {
        let host = crate::host::HostFacts::for_tests_with_tracepoints(&[
            ("syscalls", "sys_enter_setgid", &[("gid_t", "gid")]),
            ("syscalls", "sys_exit_setgid", &[("long", "ret")]),
            (
                "syscalls",
                "sys_enter_setregid",
                &[("gid_t", "rgid"), ("gid_t", "egid")],
            ),
            ("syscalls", "sys_exit_setregid", &[("long", "ret")]),
        ]);
        let mut q = parse(
            "SELECT comm, args->gid, args->rgid FROM tracepoint:syscalls:sys_enter_setgid, tracepoint:syscalls:sys_enter_setregid WHERE args->gid != 0 OR args->rgid != 0 GROUP BY comm, pid, args->egid",
        )
        .unwrap();
        let intent =
            Intent::read("who switches group identity through setgid or setregid, and to what");
        let notes = normalize(
            &mut q,
            "who switches group identity through setgid or setregid, and to what",
        );
        assert!(q.group_by.is_empty(), "{q:?}");
        assert!(
            notes.iter().any(|n| n.contains("groups nothing")),
            "{notes:?}"
        );
        let mut set = event("sys_enter_setgid", &["gid"], &[]);
        set.types.insert("gid".into(), FieldType::of("gid_t"));
        let mut setre = event("sys_enter_setregid", &["rgid", "egid"], &[]);
        setre.types.insert("rgid".into(), FieldType::of("gid_t"));
        setre.types.insert("egid".into(), FieldType::of("gid_t"));
        prune_filter(&mut q, &intent, &[set, setre]);
        assert_eq!(q.filter, None, "no test was asked for");
        let c = crate::query::compile::compile(&host, crate::knowledge::specs::query_facts(), &q)
            .expect("each event prints its own fields");
        assert!(c.source.contains("sys_enter_setgid") && c.source.contains("sys_enter_setregid"));
        assert!(
            c.source.contains("args->egid") && c.source.contains("args->gid"),
            "{}",
            c.source
        );
        // With an aggregate, GROUP BY stays.
        let mut q = parse("SELECT count() FROM tracepoint:syscalls:sys_enter_setgid GROUP BY comm")
            .unwrap();
        normalize(&mut q, "setgid calls per program");
        assert_eq!(q.group_by.len(), 1);
    }

    #[test]
    fn the_task_created_is_named_where_the_kernel_creates_it() {
        let text = "SELECT comm, pid FROM tracepoint:syscalls:sys_enter_fork, tracepoint:syscalls:sys_enter_clone";
        let here = |_: &str| true;
        let ask = Intent::read(
            "print every process creation with the new child's pid and the parent's name",
        );
        let mut q = parse(text).unwrap();
        assert_eq!(new_task_event(&mut q, &ask, &here).len(), 1);
        assert_eq!(q.from, ["tracepoint:sched:sched_process_fork"]);
        // Then the shown pid is the child's.
        let mut fork = event(
            "sched_process_fork",
            &["parent_comm", "parent_pid", "child_comm", "child_pid"],
            &[],
        );
        fork.subsystem = "sched".into();
        new_task_ids(&mut q, &ask, &[fork]);
        assert_eq!(
            q,
            parse("SELECT comm, args->child_pid FROM tracepoint:sched:sched_process_fork").unwrap()
        );
        // The creator asked for, a field of the call read, or the event absent: left alone.
        let mut q = parse(text).unwrap();
        let creator = Intent::read("print every process creation with the caller's pid");
        assert!(new_task_event(&mut q, &creator, &here).is_empty());
        let mut q =
            parse("SELECT comm, args->clone_flags FROM tracepoint:syscalls:sys_enter_clone")
                .unwrap();
        assert!(new_task_event(&mut q, &ask, &here).is_empty());
        let mut q = parse(text).unwrap();
        assert!(new_task_event(&mut q, &ask, &|_: &str| false).is_empty());
        // A call that fires no such event.
        let mut q = parse("SELECT comm, pid FROM tracepoint:syscalls:sys_enter_execve").unwrap();
        assert!(new_task_event(&mut q, &ask, &here).is_empty());
    }

    #[test]
    fn an_address_is_no_key() {
        let mut wait = event(
            "sys_enter_epoll_wait",
            &["epfd", "events", "maxevents"],
            &[],
        );
        wait.types
            .insert("events".into(), FieldType::of("struct epoll_event *"));
        let evs = std::slice::from_ref(&wait);
        let text = "SELECT count() FROM tracepoint:syscalls:sys_enter_epoll_wait GROUP BY comm, args->events";
        // "No events" speaks of the result, and an address per buffer is no tally of calls.
        let mut q = parse(text).unwrap();
        let ask = Intent::read("how often does epoll_wait come back without events, per program?");
        assert_eq!(address_keys(&mut q, &ask, evs).len(), 1);
        assert_eq!(keys_of(&q), ["comm"]);
        // The only key of a grouped tally, or addresses asked for: kept.
        let mut q = parse(
            "SELECT count() FROM tracepoint:syscalls:sys_enter_epoll_wait GROUP BY args->events",
        )
        .unwrap();
        assert!(address_keys(&mut q, &Intent::read("epoll waits by events array"), evs).is_empty());
        let mut q = parse(text).unwrap();
        let ask = Intent::read("epoll waits per program and buffer address");
        assert!(address_keys(&mut q, &ask, evs).is_empty());
        // A number is no address.
        let mut q = parse("SELECT count() FROM tracepoint:syscalls:sys_enter_epoll_wait GROUP BY comm, args->maxevents").unwrap();
        assert!(address_keys(&mut q, &ask, evs).is_empty());
    }

    #[test]
    fn a_word_before_a_size_names_the_size() {
        let write = [event("sys_enter_write", &["fd", "buf", "count"], &[])];
        let text =
            "SELECT hist(args->count) FROM tracepoint:syscalls:sys_enter_write GROUP BY args->buf";
        let mut q = parse(text).unwrap();
        let ask = Intent::read("a histogram of the buffer sizes that programs hand to write()");
        assert_eq!(keys(&mut q, &ask, &write).len(), 1);
        assert!(q.group_by.is_empty(), "{q:?}");
        // The buffer named as well as its size: kept.
        let mut q = parse(text).unwrap();
        let ask = Intent::read("a histogram of write() buffer sizes, per buffer");
        keys(&mut q, &ask, &write);
        assert_eq!(q.group_by.len(), 1, "{q:?}");
    }

    #[test]
    fn keys_without_a_grouping_phrase_or_with_one_key() {
        let fault = [event(
            "page_fault_user",
            &["address", "ip", "error_code"],
            &[],
        )];
        let text = "SELECT count() FROM tracepoint:exceptions:page_fault_user GROUP BY comm, args->error_code";
        let mut q = parse(text).unwrap();
        assert!(keys(
            &mut q,
            &Intent::read("count user page faults by process and error code"),
            &fault
        )
        .is_empty());
        assert_eq!(q, parse(text).unwrap());
        // Without a grouping phrase, a key no word speaks of goes: one figure was asked.
        let mut q = parse(text).unwrap();
        assert_eq!(
            keys(&mut q, &Intent::read("count user page faults"), &fault).len(),
            2
        );
        assert!(keys_of(&q).is_empty());
        let mut q = parse(text).unwrap();
        keys(
            &mut q,
            &Intent::read("which programs take user page faults, with their error codes"),
            &fault,
        );
        assert_eq!(q, parse(text).unwrap());
        let mut q = parse(text).unwrap();
        keys(&mut q, &Intent::read("who takes user page faults"), &fault);
        assert_eq!(q, parse(text).unwrap());
        let raw = [event("sys_enter", &["id", "args"], &[])];
        let each = "SELECT count() FROM tracepoint:raw_syscalls:sys_enter GROUP BY args->id, ret";
        let mut q = parse(each).unwrap();
        keys(
            &mut q,
            &Intent::read("how many times is each syscall made"),
            &raw,
        );
        assert_eq!(keys_of(&q), ["args->id"]);
        // "Each fsync() call" is the event, nothing to tally per.
        let fsync = [event("sys_enter_fsync", &["fd"], &[])];
        let per_fd =
            "SELECT hist(duration_us) FROM tracepoint:syscalls:sys_enter_fsync GROUP BY args->fd";
        let mut q = parse(per_fd).unwrap();
        keys(
            &mut q,
            &Intent::read("the blocking time of each fsync() call as a histogram"),
            &fsync,
        );
        assert!(keys_of(&q).is_empty());
        let futex = "SELECT count() FROM tracepoint:syscalls:sys_enter_futex GROUP BY comm, uid";
        let mut q = parse(futex).unwrap();
        keys(
            &mut q,
            &Intent::read("futex calls of each program, per second"),
            &[],
        );
        assert_eq!(keys_of(&q), ["comm"]);
        // "Per minute" is an output period, not a key.
        let text = "SELECT count() FROM tracepoint:sched:sched_switch GROUP BY pid, cpu, ret";
        let mut q = parse(text).unwrap();
        keys(&mut q, &Intent::read("context switches per minute"), &fault);
        assert!(keys_of(&q).is_empty());
        let mut q = parse(text).unwrap();
        keys(
            &mut q,
            &Intent::read("context switches per CPU per minute"),
            &fault,
        );
        assert_eq!(keys_of(&q), ["cpu"]);
        // A phrase no kept key accounts for may mean the unnamed field: kept.
        let raw = [event("sys_enter", &["id", "args"], &[])];
        let text = "SELECT count() FROM tracepoint:raw_syscalls:sys_enter GROUP BY comm, args->id";
        let mut q = parse(text).unwrap();
        keys(
            &mut q,
            &Intent::read("calls by each process, per system call"),
            &raw,
        );
        assert_eq!(q, parse(text).unwrap());
        // The syscall number is what "each syscall" means at raw_syscalls, whatever else the
        // request groups by (specs-db/field-names.toml `meaning`).
        let mut raw_enter = event("sys_enter", &["id", "args"], &[]);
        raw_enter.subsystem = "raw_syscalls".into();
        let mut q = parse(text).unwrap();
        keys(
            &mut q,
            &Intent::read(
                "for processes called make: how often is each syscall made, per program name",
            ),
            &[raw_enter],
        );
        assert_eq!(keys_of(&q), ["comm", "args->id"]);
        // A field the kernel prints by name is a category: kept where a phrase no other key
        // spells may mean it ("per kind"), dropped where the other keys answer every phrase.
        let irq = [event("softirq_entry", &["vec"], &["vec"])];
        let text = "SELECT count() FROM tracepoint:irq:softirq_entry GROUP BY cpu, args->vec";
        let mut q = parse(text).unwrap();
        keys(
            &mut q,
            &Intent::read("bottom halves per cpu, by kind"),
            &irq,
        );
        assert_eq!(q, parse(text).unwrap());
        let mut q = parse(text).unwrap();
        keys(&mut q, &Intent::read("bottom halves per cpu"), &irq);
        assert_eq!(keys_of(&q), ["cpu"]);
    }

    #[test]
    fn a_field_the_request_names_is_selected() {
        let mut idle = event("cpu_idle", &["state", "cpu_id"], &[]);
        idle.subsystem = "power".into();
        let mut q = parse("SELECT cpu FROM tracepoint:power:cpu_idle").unwrap();
        let notes = named_fields(
            &mut q,
            &Intent::read("cores going idle, and which idle state"),
            &[idle.clone()],
        );
        assert_eq!(
            q,
            parse("SELECT cpu, args->state FROM tracepoint:power:cpu_idle").unwrap(),
            "{notes:?}"
        );
        // A tally takes it as a key; a field already read, or not named, is left alone.
        let mut q = parse("SELECT count() FROM tracepoint:power:cpu_idle").unwrap();
        named_fields(
            &mut q,
            &Intent::read("tally idle entries per target state"),
            &[idle.clone()],
        );
        assert_eq!(keys_of(&q), ["args->state"]);
        let text = "SELECT cpu FROM tracepoint:power:cpu_idle";
        let mut q = parse(text).unwrap();
        assert!(named_fields(&mut q, &Intent::read("cores going idle"), &[idle]).is_empty());
        assert_eq!(q, parse(text).unwrap());
    }

    #[test]
    fn a_builtin_key_no_word_speaks_of_is_dropped() {
        let switch = [event(
            "sched_switch",
            &["prev_comm", "prev_pid", "next_pid"],
            &[],
        )];
        let text = "SELECT count() FROM tracepoint:sched:sched_switch GROUP BY cpu, comm, pid";
        let mut q = parse(text).unwrap();
        let notes = keys(
            &mut q,
            &Intent::read("how often does each core switch tasks? tally it per core"),
            &switch,
        );
        // "task" speaks of comm and pid: all kept.
        assert_eq!(q, parse(text).unwrap(), "{notes:?}");
        let mut q = parse(text).unwrap();
        let notes = keys(
            &mut q,
            &Intent::read("scheduler switches tallied per processor"),
            &switch,
        );
        assert_eq!(keys_of(&q), ["cpu"], "{notes:?}");
    }

    #[test]
    fn a_struct_pointer_nobody_asked_for_is_not_shown() {
        let mut set = event("sys_enter_settimeofday", &["tv", "tz"], &[]);
        for f in ["tv", "tz"] {
            set.types.insert(f.into(), FieldType::StructPointer);
        }
        let text =
            "SELECT comm, pid, args->tv, args->tz FROM tracepoint:syscalls:sys_enter_settimeofday";
        let mut q = parse(text).unwrap();
        let notes = unasked_struct_pointers(
            &mut q,
            &Intent::read("who changes the wall clock? print the program and its pid"),
            std::slice::from_ref(&set),
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(
            q,
            parse("SELECT comm, pid FROM tracepoint:syscalls:sys_enter_settimeofday").unwrap()
        );
        // Named ("the timezone" speaks of tz), or all there is: left to the model.
        let mut q = parse(text).unwrap();
        unasked_struct_pointers(
            &mut q,
            &Intent::read("who changes the wall clock, with the tz it passes"),
            std::slice::from_ref(&set),
        );
        assert!(format!("{q:?}").contains("\"tz\""), "{q:?}");
        let only = "SELECT args->tv FROM tracepoint:syscalls:sys_enter_settimeofday";
        let mut q = parse(only).unwrap();
        assert!(unasked_struct_pointers(&mut q, &Intent::read("clock changes"), &[set]).is_empty());
        // Printed as a GROUP BY key without an aggregate: an array of iocb pointers.
        let mut submit = event("sys_enter_io_submit", &["ctx_id", "nr", "iocbpp"], &[]);
        submit
            .types
            .insert("iocbpp".into(), FieldType::of("struct iocb * *"));
        let keyed = "SELECT args->nr FROM tracepoint:syscalls:sys_enter_io_submit GROUP BY args->nr, args->iocbpp";
        let mut q = parse(keyed).unwrap();
        let notes = unasked_struct_pointers(
            &mut q,
            &Intent::read("each asynchronous I/O submission with how many requests it hands over"),
            &[submit],
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(!format!("{q:?}").contains("iocbpp"), "{q:?}");
    }

    #[test]
    fn a_value_the_request_speaks_of_joins_the_filter() {
        let text = "SELECT comm, pid FROM tracepoint:syscalls:sys_enter_socket";
        let mut q = parse(text).unwrap();
        let notes = stated_values(&mut q, &Intent::read("who opens unix sockets?"));
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(
            q,
            parse("SELECT comm, pid FROM tracepoint:syscalls:sys_enter_socket WHERE args->family == 1").unwrap()
        );
        // Tested already, not spoken of, or a FROM event without the value: unchanged.
        let mut q =
            parse("SELECT comm FROM tracepoint:syscalls:sys_enter_socket WHERE args->family == 10")
                .unwrap();
        assert!(stated_values(&mut q, &Intent::read("who opens unix sockets?")).is_empty());
        let mut q = parse(text).unwrap();
        assert!(stated_values(&mut q, &Intent::read("who opens sockets?")).is_empty());
        let mixed = "SELECT comm FROM tracepoint:syscalls:sys_enter_socket, tracepoint:syscalls:sys_enter_connect";
        let mut q = parse(mixed).unwrap();
        assert!(stated_values(&mut q, &Intent::read("who opens unix sockets?")).is_empty());
        // A value kept in some bits of its field (socket(2) `type` beside SOCK_CLOEXEC) is
        // tested there, whether kgent adds the test or the query has it.
        let raw = "which programs open raw sockets?";
        let mut q = parse(text).unwrap();
        assert_eq!(stated_values(&mut q, &Intent::read(raw)).len(), 1);
        assert_eq!(
            q,
            parse("SELECT comm, pid FROM tracepoint:syscalls:sys_enter_socket WHERE (args->type & 15) == 3").unwrap()
        );
        let mut q = parse("SELECT comm FROM tracepoint:syscalls:sys_enter_socket WHERE args->family == 2 && 3 == args->type").unwrap();
        assert_eq!(stated_values(&mut q, &Intent::read(raw)).len(), 1);
        assert_eq!(
            q,
            parse("SELECT comm FROM tracepoint:syscalls:sys_enter_socket WHERE args->family == 2 && 3 == (args->type & 15)").unwrap()
        );
    }

    #[test]
    fn a_cpu_leaving_idle_is_the_value_the_event_reports_it_with() {
        // include/trace/events/power.h: cpu_idle fires with PWR_EVENT_EXIT when a CPU leaves.
        let text = "SELECT count() FROM tracepoint:power:cpu_idle GROUP BY args->cpu_id";
        let mut q = parse(text).unwrap();
        let notes = stated_values(&mut q, &Intent::read("tally idle exits for every cpu"));
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(format!("{q:?}").contains("4294967295"), "{q:?}");
        // A duration runs between the entry and that exit: left to the span.
        let mut q = parse("SELECT hist(duration_us) FROM tracepoint:power:cpu_idle").unwrap();
        let idle = Intent::read("how long do cpus stay idle before they wake, in microseconds");
        assert!(stated_values(&mut q, &idle).is_empty());
    }

    #[test]
    fn a_builtin_goes_where_the_phrase_qualifies_it_as_a_field() {
        let wakeup = [event(
            "sched_wakeup",
            &["comm", "pid", "prio", "target_cpu"],
            &[],
        )];
        let text =
            "SELECT count() FROM tracepoint:sched:sched_wakeup GROUP BY cpu, args->target_cpu";
        let mut q = parse(text).unwrap();
        let notes = keys(
            &mut q,
            &Intent::read("tally task wakeups for each target cpu"),
            &wakeup,
        );
        assert_eq!(keys_of(&q), ["args->target_cpu"], "{notes:?}");
        // "Per cpu" alone: both words name a key, nothing qualifies the builtin.
        let mut q = parse(text).unwrap();
        keys(
            &mut q,
            &Intent::read("tally task wakeups for each cpu"),
            &wakeup,
        );
        assert_eq!(keys_of(&q), ["cpu", "args->target_cpu"]);
    }

    #[test]
    fn a_duration_is_read_from_the_events_own_time_field() {
        // include/trace/events/nmi.h: nmi_handler records delta_ns, the handler's run time.
        let nmi = [event(
            "nmi_handler",
            &["handler", "delta_ns", "handled"],
            &[],
        )];
        let lack = CompileError::Lacks(vec![Lack::NoReturn {
            probe: "tracepoint:nmi:nmi_handler".into(),
            spans_end_at: vec![],
        }]);
        let mut q = parse(
            "SELECT sum(duration_us) FROM tracepoint:nmi:nmi_handler GROUP BY args->handler, duration_us, args->delta_ns",
        )
        .unwrap();
        assert!(time_field(&mut q, &lack, &nmi).is_some());
        assert_eq!(keys_of(&q), ["args->handler"]);
        assert!(format!("{q:?}").contains("delta_ns"), "{q:?}");
        assert!(format!("{q:?}").contains("Int(1000)"), "{q:?}");
        // No time field: nothing to read.
        let other = [event("nmi_other", &["handler"], &[])];
        let mut q = parse("SELECT sum(duration_us) FROM tracepoint:nmi:nmi_other").unwrap();
        assert!(time_field(&mut q, &lack, &other).is_none());
    }

    #[test]
    fn a_word_of_the_events_name_keys_nothing() {
        let alloc = [event("ext4_allocate_inode", &["dev", "ino", "dir"], &[])];
        let text = "SELECT count() FROM tracepoint:ext4:ext4_allocate_inode GROUP BY args->ino";
        let mut q = parse(text).unwrap();
        let notes = keys(
            &mut q,
            &Intent::read("how many ext4 inodes are allocated?"),
            &alloc,
        );
        assert!(q.group_by.is_empty(), "{notes:?}");
    }

    #[test]
    fn a_pointer_aggregated_where_calls_are_counted_becomes_a_count() {
        let ev = EventKeys {
            subsystem: "syscalls".into(),
            event: "sys_enter_bpf".into(),
            fields: vec!["cmd".into(), "uattr".into(), "size".into()],
            named: Vec::new(),
            types: [
                ("cmd".to_owned(), FieldType::of("int")),
                ("uattr".to_owned(), FieldType::of("union bpf_attr *")),
                ("size".to_owned(), FieldType::of("unsigned int")),
            ]
            .into_iter()
            .collect(),
        };
        let text = "SELECT hist(args->uattr) FROM tracepoint:syscalls:sys_enter_bpf GROUP BY comm, args->cmd";
        let mut q = parse(text).unwrap();
        let ask = Intent::read("count bpf() calls for every command code");
        assert_eq!(
            pointer_measures(&mut q, &ask, std::slice::from_ref(&ev)).len(),
            1
        );
        assert_eq!(q.select, [Item::Agg(Agg::Count, None)]);
        // A number measured stays, and so does anything where the request measures.
        let mut q =
            parse("SELECT hist(args->size) FROM tracepoint:syscalls:sys_enter_bpf GROUP BY comm")
                .unwrap();
        assert!(pointer_measures(&mut q, &ask, std::slice::from_ref(&ev)).is_empty());
        let mut q = parse(text).unwrap();
        let sized = Intent::read("histogram of bpf() attribute sizes per command code");
        assert!(pointer_measures(&mut q, &sized, &[ev]).is_empty());
    }

    #[test]
    fn an_error_the_request_names_is_tested_on_the_result() {
        let ask = Intent::read("symlink calls refused with EACCES: who, and the link path");
        let mut q =
            parse("SELECT comm, args->newname FROM tracepoint:syscalls:sys_enter_symlink").unwrap();
        let notes = stated_errors(&mut q, &ask);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(show(q.filter.as_ref().unwrap()), "ret == -13");
        // Already tested: nothing changes.
        assert!(stated_errors(&mut q, &ask).is_empty());
        // Set apart, or on an event that is no syscall, it is not added.
        let apart = Intent::read("symlink calls that fail, except with EACCES: who");
        let mut q = parse("SELECT comm FROM tracepoint:syscalls:sys_enter_symlink").unwrap();
        assert!(stated_errors(&mut q, &apart).is_empty());
        let mut q = parse("SELECT comm FROM tracepoint:sched:sched_process_exit").unwrap();
        assert!(stated_errors(&mut q, &ask).is_empty());
    }

    #[test]
    fn a_path_equal_to_a_directory_asked_about_becomes_a_prefix_test() {
        let ask = Intent::read("every mkdir made below /opt/build, with the process");
        let mut q = parse("SELECT comm FROM tracepoint:syscalls:sys_enter_mkdirat WHERE str(args->pathname) == \"/opt/build\"").unwrap();
        let notes = directory_prefixes(&mut q, &ask);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(
            show(q.filter.as_ref().unwrap()),
            "starts_with(str(args->pathname), \"/opt/build/\")"
        );
        // A prefix without the slash gets it; one with it, or another path, stays.
        let mut q = parse("SELECT comm FROM tracepoint:syscalls:sys_enter_mkdirat WHERE starts_with(args->pathname, \"/opt/build\")").unwrap();
        assert_eq!(directory_prefixes(&mut q, &ask).len(), 1);
        assert!(show(q.filter.as_ref().unwrap()).contains("\"/opt/build/\""));
        assert!(directory_prefixes(&mut q, &ask).is_empty());
        let mut q = parse("SELECT comm FROM tracepoint:syscalls:sys_enter_mkdirat WHERE str(args->pathname) == \"/opt\"").unwrap();
        assert!(directory_prefixes(&mut q, &ask).is_empty());
    }

    #[test]
    fn a_flag_test_widens_to_the_flags_the_same_words_mean() {
        // open(2): a file opened for writing has O_WRONLY (1) or O_RDWR (2).
        let text = "SELECT comm, pid FROM tracepoint:syscalls:sys_enter_openat, tracepoint:syscalls:sys_enter_open WHERE (args->flags & 2) != 0";
        let mut q = parse(text).unwrap();
        let notes = flag_alternatives(
            &mut q,
            &Intent::read("who opens the shadow file with write access?"),
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            show(q.filter.as_ref().unwrap()).contains("& 3"),
            "{:?}",
            q.filter
        );
        // Words of no such flag: the test stays as written.
        let mut q = parse(text).unwrap();
        assert!(flag_alternatives(&mut q, &Intent::read("who opens the shadow file?")).is_empty());
        // A test for the one flag's value keeps either bit once widened.
        let eq =
            "SELECT comm FROM tracepoint:syscalls:sys_enter_openat WHERE (args->flags & 2) == 2";
        let mut q = parse(eq).unwrap();
        flag_alternatives(
            &mut q,
            &Intent::read("which programs open files in /var for writing"),
        );
        let shown = show(q.filter.as_ref().unwrap());
        assert!(shown.contains("& 3") && shown.contains("!= 0"), "{shown}");
    }

    #[test]
    fn a_far_side_qualifier_turns_a_builtin_key_into_the_events_field() {
        // include/trace/events/ipi.h: ipi_send_cpu's `cpu` is where the IPI goes.
        let ipi = [event("ipi_send_cpu", &["cpu", "callsite", "callback"], &[])];
        let mut q = parse("SELECT count() FROM tracepoint:ipi:ipi_send_cpu GROUP BY cpu").unwrap();
        let notes = keys(
            &mut q,
            &Intent::read("tally cross-cpu interrupts per destination cpu"),
            &ipi,
        );
        assert_eq!(keys_of(&q), ["args->cpu"], "{notes:?}");
        // No qualifier: the CPU the event fired on.
        let mut q = parse("SELECT count() FROM tracepoint:ipi:ipi_send_cpu GROUP BY cpu").unwrap();
        keys(
            &mut q,
            &Intent::read("how many cross-cpu interrupts does each cpu send?"),
            &ipi,
        );
        assert_eq!(keys_of(&q), ["cpu"]);
        // "Target PID" at kill(2): the signalled task's `pid`, not the sender's.
        let kill = [event("sys_enter_kill", &["pid", "sig"], &[])];
        let mut q =
            parse("SELECT count() FROM tracepoint:syscalls:sys_enter_kill GROUP BY pid").unwrap();
        keys(
            &mut q,
            &Intent::read("tally kill() calls by targeted pid"),
            &kill,
        );
        assert_eq!(keys_of(&q), ["args->pid"]);
    }

    #[test]
    fn a_syscall_parameter_is_named_by_its_man_page_name_as_a_key() {
        // madvise(2) SYNOPSIS calls the third argument `advice`; the kernel `behavior`.
        let enter = [event(
            "sys_enter_madvise",
            &["start", "len_in", "behavior"],
            &[],
        )];
        let mut q = parse(
            "SELECT hist(args->len_in) FROM tracepoint:syscalls:sys_enter_madvise GROUP BY args->behavior, comm, pid",
        )
        .unwrap();
        let notes = keys(
            &mut q,
            &Intent::read("distribution of madvise lengths split by advice"),
            &enter,
        );
        assert_eq!(keys_of(&q), ["args->behavior"], "{notes:?}");
    }

    #[test]
    fn the_parents_name_is_a_key_only_where_the_request_speaks_of_a_parent() {
        let exit = [event("sys_exit", &["id", "ret"], &[])];
        let text = "SELECT count() FROM tracepoint:raw_syscalls:sys_exit WHERE ret < 0 GROUP BY comm, pcomm";
        let mut q = parse(text).unwrap();
        keys(
            &mut q,
            &Intent::read("failing system calls, tallied for each program"),
            &exit,
        );
        assert_eq!(keys_of(&q), ["comm"]);
        let mut q = parse(text).unwrap();
        keys(
            &mut q,
            &Intent::read("failing system calls tallied by program and by its parent"),
            &exit,
        );
        assert_eq!(keys_of(&q), ["comm", "pcomm"]);
        // "System calls" is what is counted, not a key (`args->id`), unless grouped by.
        let raw = [EventKeys {
            subsystem: "raw_syscalls".into(),
            ..event("sys_exit", &["id", "ret"], &[])
        }];
        let by_id = "SELECT count() FROM tracepoint:raw_syscalls:sys_exit WHERE ret < 0 GROUP BY comm, args->id";
        let mut q = parse(by_id).unwrap();
        keys(
            &mut q,
            &Intent::read("failing system calls, tallied per program"),
            &raw,
        );
        assert_eq!(keys_of(&q), ["comm"]);
        let mut q = parse(by_id).unwrap();
        keys(
            &mut q,
            &Intent::read("failing system calls, tallied per program and per system call"),
            &raw,
        );
        assert_eq!(keys_of(&q), ["comm", "args->id"]);
    }

    #[test]
    fn by_the_name_of_the_events_thing_keys_by_its_name_field_not_comm() {
        let irq = [event("softirq_entry", &["vec"], &["vec"])];
        let mut q =
            parse("SELECT comm, count() FROM tracepoint:irq:softirq_entry GROUP BY comm").unwrap();
        let notes = keys(
            &mut q,
            &Intent::read("tally deferred interrupt work per softirq name"),
            &irq,
        );
        assert_eq!(keys_of(&q), ["args->vec"], "{notes:?}");
        assert!(notes[0].contains("not comm"), "{notes:?}");
        let hard = [event("irq_handler_entry", &["irq", "name"], &[])];
        let mut q = parse("SELECT count() FROM tracepoint:irq:irq_handler_entry").unwrap();
        keys(
            &mut q,
            &Intent::read("interrupts seen, per handler name"),
            &hard,
        );
        assert_eq!(keys_of(&q), ["args->name"]);
        // "process name" is comm's.
        let exec = [event(
            "sched_process_exec",
            &["filename", "pid", "old_pid"],
            &[],
        )];
        let text = "SELECT count() FROM tracepoint:sched:sched_process_exec GROUP BY comm";
        let mut q = parse(text).unwrap();
        keys(&mut q, &Intent::read("execs per process name"), &exec);
        assert_eq!(q, parse(text).unwrap());
    }

    #[test]
    fn the_parent_selected_for_the_process_itself_becomes_the_process() {
        let b = |n: &str| Expr::Term(Term::Builtin(n.into()));
        let mut q = parse("SELECT ppid, pcomm, args->fd FROM tracepoint:syscalls:sys_enter_close WHERE pcomm == \"sshd\"").expect("parses");
        let notes = normalize(
            &mut q,
            "closed descriptors: process id, and also the process name",
        );
        assert_eq!(
            q.select[..2],
            [Item::Value(b("pid")), Item::Value(b("comm"))],
            "{notes:?}"
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        // The filter states something about the parent: kept.
        assert!(q.terms().contains(&Term::Builtin("pcomm".into())));
        // Asked for the parent, or already showing the process's own: unchanged.
        for (query, request) in [
            (
                "SELECT pcomm, comm FROM tracepoint:syscalls:sys_enter_close",
                "closes: the command and its parent's name",
            ),
            (
                "SELECT comm, pcomm FROM tracepoint:syscalls:sys_enter_close",
                "closes by command name",
            ),
        ] {
            let mut q = parse(query).expect("parses");
            let before = q.clone();
            normalize(&mut q, request);
            assert_eq!(q.select, before.select, "{request}");
        }
    }

    #[test]
    fn a_count_is_not_keyed_by_a_duration_nobody_asked_for() {
        let mut q = parse("SELECT comm, count() FROM tracepoint:syscalls:sys_enter_futex GROUP BY comm, duration_ms").expect("parses");
        let notes = normalize(
            &mut q,
            "tally futex() calls for each program, once a second",
        );
        assert_eq!(keys_of(&q), vec!["comm".to_owned()], "{notes:?}");
        assert!(notes.iter().any(|n| n.contains("no duration")), "{notes:?}");
    }

    #[test]
    fn each_event_asked_for_prints_a_line_not_a_tally() {
        let mut q = parse("SELECT comm, hist(duration_ms) FROM tracepoint:syscalls:sys_enter_fsync GROUP BY comm, pid").expect("parses");
        let notes = normalize(
            &mut q,
            "print how long each fsync() call takes in ms, with the program",
        );
        assert!(
            !q.select.iter().any(|i| matches!(i, Item::Agg(..))) && q.group_by.is_empty(),
            "{:?} by {:?}",
            q.select,
            q.group_by
        );
        assert!(q.select.contains(&Item::Value(Expr::Term(Term::Duration(
            crate::query::TimeUnit::Ms
        )))));
        assert!(notes.iter().any(|n| n.contains("each event")), "{notes:?}");
        // A histogram asked for stays.
        let mut q = parse(
            "SELECT comm, hist(duration_ms) FROM tracepoint:syscalls:sys_enter_fsync GROUP BY comm",
        )
        .expect("parses");
        normalize(&mut q, "a histogram: the time each fsync() call takes");
        assert!(q
            .select
            .iter()
            .any(|i| matches!(i, Item::Agg(Agg::Hist, _))));
    }

    #[test]
    fn an_average_asked_for_is_avg_not_a_histogram() {
        let query =
            "SELECT comm, hist(duration_us) FROM tracepoint:syscalls:sys_enter_fsync GROUP BY comm";
        let mut q = parse(query).expect("parses");
        let notes = normalize(&mut q, "mean fsync latency for each program, in us");
        assert!(
            q.select.contains(&Item::Agg(
                Agg::Avg,
                Some(Expr::Term(Term::Duration(crate::query::TimeUnit::Us)))
            )),
            "{:?}",
            q.select
        );
        assert!(notes.iter().any(|n| n.contains("average")), "{notes:?}");
        // Both asked: the histogram stays.
        let mut q = parse(query).expect("parses");
        normalize(&mut q, "a histogram of fsync latency and its average");
        assert!(q
            .select
            .iter()
            .any(|i| matches!(i, Item::Agg(Agg::Hist, _))));
    }

    #[test]
    fn how_often_is_a_count_not_a_latency() {
        let mut q = parse("SELECT comm, hist(duration_us), avg(duration_us) FROM tracepoint:syscalls:sys_enter_fsync GROUP BY comm").expect("parses");
        let notes = normalize(
            &mut q,
            "how often does each program call fsync? tally by program",
        );
        assert_eq!(
            q.select,
            vec![
                Item::Value(Expr::Term(Term::Builtin("comm".into()))),
                Item::Agg(Agg::Count, None)
            ]
        );
        assert!(notes.iter().any(|n| n.contains("how often")), "{notes:?}");
        // A test of the duration and a key of one task go with it.
        let mut q = parse("SELECT comm, hist(duration_ms) FROM tracepoint:sched:sched_switch WHERE duration_ms > 0 GROUP BY comm, args->prev_state, args->next_pid").expect("parses");
        normalize(
            &mut q,
            "how often is each program descheduled? tally by program and state",
        );
        assert_eq!(q.filter, None);
        assert_eq!(q.group_by.len(), 2, "{:?}", q.group_by);
        // A histogram of a key is a count per key.
        let mut q = parse("SELECT comm, hist(args->order) FROM tracepoint:kmem:mm_page_alloc GROUP BY comm, args->order").expect("parses");
        normalize(&mut q, "tally page allocations per program and order");
        assert!(
            q.select.contains(&Item::Agg(Agg::Count, None))
                && !q
                    .select
                    .iter()
                    .any(|i| matches!(i, Item::Agg(Agg::Hist, _)))
                && keys_of(&q).contains(&"args->order".to_owned()),
            "{:?} by {:?}",
            q.select,
            q.group_by
        );
        // An aggregate of a value neither timed nor a key is left for the compiler to report.
        let mut q =
            parse("SELECT hist(comm) FROM tracepoint:syscalls:sys_enter_fsync GROUP BY args->fd")
                .expect("parses");
        normalize(&mut q, "how often does each program call fsync");
        assert!(
            matches!(q.select[0], Item::Agg(Agg::Hist, Some(_))),
            "{:?}",
            q.select
        );
        // Asked for the time too: the latency stays.
        let mut q = parse(
            "SELECT hist(duration_us) FROM tracepoint:syscalls:sys_enter_fsync GROUP BY comm",
        )
        .expect("parses");
        normalize(
            &mut q,
            "how often does each program call fsync, and how long does it take",
        );
        assert!(
            matches!(q.select[0], Item::Agg(Agg::Hist, Some(_))),
            "{:?}",
            q.select
        );
    }

    #[test]
    fn several_calls_and_which_one_it_was_print_the_probe() {
        let ask = "for each fdatasync or fsync, print who made it and which call it was";
        let mut q = parse("SELECT comm FROM tracepoint:syscalls:sys_enter_fsync, tracepoint:syscalls:sys_enter_fdatasync").expect("parses");
        let notes = normalize(&mut q, ask);
        assert!(
            q.select
                .contains(&Item::Value(Expr::Term(Term::Builtin("probe".into())))),
            "{:?}",
            q.select
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        let mut q = parse("SELECT count() FROM tracepoint:syscalls:sys_enter_fsync, tracepoint:syscalls:sys_enter_fdatasync GROUP BY comm").expect("parses");
        normalize(&mut q, ask);
        assert!(
            q.group_by
                .contains(&Expr::Term(Term::Builtin("probe".into()))),
            "{:?}",
            q.group_by
        );
        // One call (its two halves) needs no probe name.
        let mut q = parse("SELECT comm, ret FROM tracepoint:syscalls:sys_enter_fsync, tracepoint:syscalls:sys_exit_fsync").expect("parses");
        assert!(normalize(&mut q, ask).is_empty());
    }

    #[test]
    fn aggregates_of_identifiers_become_counts_and_aggregated_keys_go() {
        let mut q =
            parse("SELECT hist(cpu) FROM a:b GROUP BY comm, args->orig_cpu").expect("parses");
        let notes = normalize(&mut q, "");
        assert_eq!(q.select, vec![Item::Agg(Agg::Count, None)]);
        assert_eq!(q.group_by.len(), 3, "{:?}", q.group_by);
        assert_eq!(notes.len(), 1, "{notes:?}");
        let mut q = parse("SELECT comm, sum(args->bytes) FROM a:b GROUP BY comm, args->bytes")
            .expect("parses");
        normalize(&mut q, "");
        assert_eq!(q.group_by, vec![Expr::Term(Term::Builtin("comm".into()))]);
        for kept in [
            "SELECT sum(args->bytes) FROM a:b",
            "SELECT hist(ret) FROM a:b",
            "SELECT max(args->len) FROM a:b",
            "SELECT hist(args->count) FROM a:b",
        ] {
            let mut q = parse(kept).expect("parses");
            assert!(normalize(&mut q, "").is_empty(), "{kept}");
        }
    }

    #[test]
    fn the_return_of_a_process_is_its_exit_code() {
        let mut q =
            parse("SELECT comm, pid, ret FROM tracepoint:sched:sched_process_exit WHERE ret != 0")
                .expect("parses");
        assert_eq!(
            normalize(&mut q, "processes that exit with a non-zero status").len(),
            1
        );
        assert_eq!(show(q.filter.as_ref().expect("filter")), "exit_code != 0");
        assert_eq!(q.select[2], Item::Value(Expr::Term(Term::ExitCode)));
    }

    #[test]
    fn an_exit_code_compared_with_an_unstated_number_is_dropped() {
        let ask = "list the processes whose exit status is not zero, with the status";
        let mut q = parse("SELECT comm, exit_code FROM tracepoint:sched:sched_process_exit WHERE exit_code != 0 AND exit_code != 127").expect("parses");
        let dropped = prune_filter(&mut q, &Intent::read(ask), &[]);
        assert_eq!(dropped.len(), 1, "{dropped:?}");
        assert!(dropped[0].contains("127"), "{dropped:?}");
        let kept = q.filter.as_ref().map(show).unwrap_or_default();
        assert!(
            kept.contains("exit_code != 0") && !kept.contains("127"),
            "{kept}"
        );
    }

    #[test]
    fn an_exit_code_and_a_killing_signal_both_required_become_either() {
        let ask = "processes that end badly: a non-zero exit code or a fatal signal, by name";
        let mut q = parse("SELECT comm, exit_code, exit_signal FROM tracepoint:sched:sched_process_exit WHERE comm != \"sh\" AND exit_code != 0 AND exit_signal != 0").expect("parses");
        let notes = normalize(&mut q, ask);
        assert!(notes.iter().any(|n| n.contains("wait(2)")), "{notes:?}");
        let kept = q.filter.as_ref().map(show).unwrap_or_default();
        assert!(
            kept.starts_with("(exit_code != 0 || exit_signal != 0) && "),
            "{kept}"
        );
        assert!(kept.contains("comm != \"sh\""), "{kept}");
        // Either one alone is left as it is.
        let mut q =
            parse("SELECT comm FROM tracepoint:sched:sched_process_exit WHERE exit_code != 0")
                .expect("parses");
        normalize(&mut q, ask);
        assert_eq!(
            q.filter.as_ref().map(show).as_deref(),
            Some("exit_code != 0")
        );
    }

    #[test]
    fn keys_that_tell_events_apart_go_unless_asked_for() {
        let mut q =
            parse("SELECT comm, sum(args->bytes) FROM a:b GROUP BY comm, args->dev, args->sector")
                .expect("parses");
        assert_eq!(normalize(&mut q, "bytes per process").len(), 1);
        assert_eq!(q.group_by.len(), 2);
        let mut q = parse("SELECT count() FROM a:b GROUP BY tid, args->sector").expect("parses");
        assert!(normalize(&mut q, "count per thread and sector").is_empty());
    }

    #[test]
    fn code_letters_compared_as_strings_become_contains() {
        for w in ["W", "write", "Write"] {
            let mut q = parse(&format!("SELECT comm FROM tracepoint:block:block_rq_issue WHERE args->rwbs == \"{w}\" AND args->bytes > 0")).expect("parses");
            let notes = normalize(&mut q, "");
            assert_eq!(
                q.filter.as_ref().map(show).as_deref(),
                Some("contains(args->rwbs, \"W\") && args->bytes > 0"),
                "{notes:?}"
            );
        }
        let mut q = parse("SELECT comm FROM a:b WHERE args->rwbs == \"nonsense\"").expect("parses");
        assert!(normalize(&mut q, "").is_empty());
    }

    #[test]
    fn a_count_asked_for_is_counted_per_the_selected_values() {
        let mut q = parse("SELECT comm, pid, args->sig FROM tracepoint:signal:signal_generate")
            .expect("parses");
        let notes = normalize(
            &mut q,
            "tally the signals raised, per process and signal number",
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(q.select, [Item::Agg(Agg::Count, None)]);
        // Per name and signal: the pid is no key the request asks for.
        assert_eq!(q.group_by.len(), 2, "{:?}", q.group_by);
        // Already aggregated, or not asked to count: unchanged.
        for (req, query) in [
            (
                "tally the signals raised, per process",
                "SELECT count() FROM tracepoint:signal:signal_generate GROUP BY comm",
            ),
            (
                "print the signals raised with the process",
                "SELECT comm, args->sig FROM tracepoint:signal:signal_generate",
            ),
        ] {
            let mut q = parse(query).expect("parses");
            assert!(normalize(&mut q, req).is_empty(), "{query}");
        }
    }

    #[test]
    fn a_request_for_what_calls_returned_reads_ret() {
        let request = "the distribution of byte counts that read() calls returned";
        let mut q = parse(
            "SELECT comm, hist(args->count) FROM tracepoint:syscalls:sys_enter_read GROUP BY comm",
        )
        .expect("parses");
        assert_eq!(normalize(&mut q, request).len(), 1);
        assert_eq!(
            q.select[1],
            Item::Agg(Agg::Hist, Some(Expr::Term(Term::Ret)))
        );
        let mut q = parse("SELECT comm, args->filename FROM tracepoint:syscalls:sys_enter_openat")
            .expect("parses");
        normalize(&mut q, "which files are opened and what open returns");
        assert_eq!(q.select.last(), Some(&Item::Value(Expr::Term(Term::Ret))));
        // Already read, or not asked for, or not a call: unchanged.
        for (req, query) in [
            (
                request,
                "SELECT hist(ret) FROM tracepoint:syscalls:sys_enter_read",
            ),
            (
                "a histogram of read sizes",
                "SELECT hist(args->count) FROM tracepoint:syscalls:sys_enter_read",
            ),
            (
                request,
                "SELECT hist(args->len) FROM tracepoint:net:net_dev_xmit",
            ),
        ] {
            let mut q = parse(query).expect("parses");
            assert!(normalize(&mut q, req).is_empty(), "{query}");
        }
    }

    fn pruned(request: &str, query: &str) -> (Option<String>, Vec<String>) {
        let mut q = parse(query).expect("parses");
        let dropped = prune_filter(&mut q, &Intent::read(request), &[]);
        (q.filter.as_ref().map(show), dropped)
    }

    #[test]
    fn a_flag_test_is_kept_where_the_request_speaks_of_the_flag() {
        let q = "SELECT comm, args->filename FROM tracepoint:syscalls:sys_enter_openat WHERE args->flags & 64 != 0";
        let (kept, _) = pruned("which programs create files, and their names", q);
        assert!(kept.is_some_and(|k| k.contains("64")));
        let (kept, dropped) = pruned("which programs open files, and their names", q);
        assert_eq!((kept, dropped.len()), (None, 1));
    }

    #[test]
    fn a_duration_above_zero_is_a_filter_the_request_must_state() {
        let q = "SELECT comm, duration_ms FROM tracepoint:syscalls:sys_enter_fsync WHERE duration_ms > 0";
        let (kept, dropped) = pruned("how long each fsync takes, in milliseconds", q);
        assert_eq!((kept, dropped.len()), (None, 1));
        let q = "SELECT comm, duration_ms FROM tracepoint:syscalls:sys_enter_fsync WHERE duration_ms > 5";
        let (kept, _) = pruned("fsyncs slower than 5 ms", q);
        assert!(kept.is_some());
    }

    #[test]
    fn a_code_letter_test_is_stated_by_its_word() {
        let q = "SELECT comm, sum(args->bytes) FROM tracepoint:block:block_rq_issue WHERE contains(args->rwbs, \"W\") GROUP BY comm";
        let (kept, _) = pruned("total bytes written to disk by each process", q);
        assert_eq!(kept.as_deref(), Some("contains(args->rwbs, \"W\")"));
        let (kept, dropped) = pruned("sum the bytes of requests per process", q);
        assert_eq!((kept, dropped.len()), (None, 1));
        let (kept, _) = pruned("latency separately for reads and writes", q);
        assert_eq!(kept, None, "two letters named: a split, not a filter");
    }

    #[test]
    fn a_named_field_does_not_state_a_string_value() {
        let (kept, dropped) = pruned(
            "list callers of libc system() and the command line they hand it",
            "SELECT comm FROM a:b WHERE args->command == \"shell\"",
        );
        assert_eq!((kept, dropped.len()), (None, 1));
        let (kept, _) = pruned(
            "commands run by processes named 'cron'",
            "SELECT comm FROM a:b WHERE comm == \"cron\"",
        );
        assert!(kept.is_some());
    }

    #[test]
    fn tests_the_request_does_not_state_are_dropped() {
        let (kept, dropped) = pruned(
            "warn when a process maps 64 MiB or more",
            "SELECT comm FROM tracepoint:a:b WHERE args->len >= 64 MiB AND args->fd != -1 AND comm != \"kworker\"",
        );
        assert_eq!(kept.as_deref(), Some("args->len >= 67108864"));
        assert_eq!(dropped, ["args->fd != -1", "comm != \"kworker\""]);
        let (kept, dropped) = pruned(
            "count datagrams",
            "SELECT comm FROM tracepoint:a:b WHERE args->addr_len == 0 AND args->addr != 0",
        );
        assert_eq!(kept.as_deref(), Some("args->addr != 0"));
        assert_eq!(dropped, ["args->addr_len == 0"]);
        // Failures only when asked for; successes are what a result means.
        let q = "SELECT comm FROM tracepoint:a:b WHERE ret < 0";
        assert_eq!(pruned("every rename and what it returned", q).0, None);
        assert!(pruned("renames that returned an error", q).0.is_some());
        let q = "SELECT sum(ret) FROM tracepoint:a:b WHERE ret > 0";
        assert!(pruned("bytes returned by reads", q).0.is_some());
    }

    #[test]
    fn an_event_that_answers_nothing_asked_leaves_from() {
        let open = event(
            "sys_enter_openat",
            &["dfd", "filename", "flags", "mode"],
            &[],
        );
        let write = event("sys_enter_write", &["fd", "buf", "count"], &[]);
        let text = "SELECT comm, args->filename FROM tracepoint:syscalls:sys_enter_openat, tracepoint:syscalls:sys_enter_write";
        let ask = Intent::read("the file names programs open for writing");
        let mut q = parse(text).unwrap();
        let notes = unasked_events(&mut q, &ask, &[open.clone(), write.clone()]);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(q.from, ["tracepoint:syscalls:sys_enter_openat"]);
        // Named as a word, or one of its fields named: it stays.
        for request in [
            "the file names programs open, and every write",
            "the file names programs open, and the buffers they write",
        ] {
            let mut q = parse(text).unwrap();
            assert!(
                unasked_events(
                    &mut q,
                    &Intent::read(request),
                    &[open.clone(), write.clone()]
                )
                .is_empty(),
                "{request}"
            );
        }
        let fork = event("sched_process_fork", &["parent_pid", "child_pid"], &[]);
        let exit = event("sched_process_exit", &["comm", "prio"], &[]);
        let text = "SELECT comm, args->child_pid FROM tracepoint:sched:sched_process_fork, tracepoint:sched:sched_process_exit";
        let mut q = parse(text).unwrap();
        let forks = Intent::read("forks with the child pid, and every exit");
        assert!(unasked_events(&mut q, &forks, &[fork, exit]).is_empty());
    }

    #[test]
    fn syscalls_the_request_does_not_name_leave_from() {
        let text = "SELECT comm, args->fd FROM tracepoint:syscalls:sys_enter_fchdir, tracepoint:syscalls:sys_enter_chdir";
        let named = ["fchdir".to_owned()];
        let intent = Intent::read("programs that switch directory through fchdir");
        let mut q = parse(text).unwrap();
        assert_eq!(unnamed_calls(&mut q, &intent, &named).len(), 1);
        assert_eq!(q.from, ["tracepoint:syscalls:sys_enter_fchdir"]);
        // Every FROM call named, or none of them (another event altogether): unchanged.
        let both = ["fchdir".to_owned(), "chdir".to_owned()];
        let mut q = parse(text).unwrap();
        assert!(unnamed_calls(&mut q, &intent, &both).is_empty());
        let mut q = parse(text).unwrap();
        assert!(unnamed_calls(&mut q, &intent, &["mkdir".to_owned()]).is_empty());
        assert_eq!(q.from.len(), 2);
    }

    #[test]
    fn a_new_tasks_id_is_the_events_field_for_it() {
        let mut newtask = event("task_newtask", &["pid", "comm", "clone_flags"], &[]);
        newtask.subsystem = "task".into();
        let text = "SELECT comm, tid FROM tracepoint:task:task_newtask WHERE (args->clone_flags & 0x10000) != 0";
        let mut q = parse(text).unwrap();
        let ask = Intent::read("list threads as they get spawned, with the id of each new thread");
        let notes = new_task_ids(&mut q, &ask, std::slice::from_ref(&newtask));
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(
            q.select[1],
            Item::Value(Expr::Term(Term::Field("pid".into())))
        );
        // The child of a fork, at sched_process_fork.
        let mut fork = event("sched_process_fork", &["parent_pid", "child_pid"], &[]);
        fork.subsystem = "sched".into();
        let mut q = parse("SELECT comm, pid FROM tracepoint:sched:sched_process_fork").unwrap();
        let ask = Intent::read("each fork: the parent's name and the child's pid");
        assert_eq!(
            new_task_ids(&mut q, &ask, std::slice::from_ref(&fork)).len(),
            1
        );
        assert_eq!(
            q.select[1],
            Item::Value(Expr::Term(Term::Field("child_pid".into())))
        );
        // No new task asked for: the creator stays.
        let mut q = parse("SELECT comm, pid FROM tracepoint:sched:sched_process_fork").unwrap();
        let ask = Intent::read("which programs fork most, with their pid");
        assert!(new_task_ids(&mut q, &ask, &[fork]).is_empty());
    }

    #[test]
    fn the_acted_on_task_is_the_one_the_event_names() {
        let kill = [event("sys_enter_kill", &["pid", "sig"], &[])];
        let text = "SELECT pid, args->sig FROM tracepoint:syscalls:sys_enter_kill WHERE ret < 0";
        let mut q = parse(text).unwrap();
        let notes = acted_on_task(
            &mut q,
            &Intent::read(
                "signals sent with kill() that failed: the targeted process and the signal",
            ),
            &kill,
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(
            q.select[0],
            Item::Value(Expr::Term(Term::Field("pid".into())))
        );
        // The sender asked for too: both shown.
        let mut q = parse(text).unwrap();
        let notes = acted_on_task(
            &mut q,
            &Intent::read("who signals whom with kill(): the sender and the targeted process"),
            &kill,
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(
            q.select[..2],
            [
                Item::Value(Expr::Term(Term::Builtin("pid".into()))),
                Item::Value(Expr::Term(Term::Field("pid".into())))
            ]
        );
        // No target asked for: unchanged.
        let mut q = parse(text).unwrap();
        let request = Intent::read("processes calling kill(), with the signal");
        assert!(acted_on_task(&mut q, &request, &kill).is_empty());
        // Two task fields on one event (a fork's parent and child aside, `pid` and `tgid`):
        // which one is meant is not known.
        let tgkill = [event("sys_enter_tgkill", &["tgid", "pid", "sig"], &[])];
        let mut q = parse("SELECT pid FROM tracepoint:syscalls:sys_enter_tgkill").unwrap();
        assert!(acted_on_task(
            &mut q,
            &Intent::read("the targeted process of tgkill"),
            &tgkill
        )
        .is_empty());
    }

    #[test]
    fn a_duration_where_there_is_none_gives_way_to_the_time_the_event_records() {
        let mut throttle = event(
            "balance_dirty_pages",
            &["bdi", "dirty", "pause", "period"],
            &[],
        );
        throttle.subsystem = "writeback".into();
        let events = [throttle];
        let intent =
            Intent::read("writers held back by dirty throttling, with the bdi and the pause in ms");
        let text = "SELECT args->bdi, duration_ms, args->pause FROM tracepoint:writeback:balance_dirty_pages";
        let mut q = parse(text).unwrap();
        let notes = untimed_durations(&mut q, &intent, &events);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            !q.terms().iter().any(|t| matches!(t, Term::Duration(_))),
            "{q:?}"
        );
        // No named field shown: left to the model (the compiler says what is wrong).
        let mut q = parse("SELECT comm, duration_ms FROM tracepoint:writeback:balance_dirty_pages")
            .unwrap();
        assert!(untimed_durations(&mut q, &intent, &events).is_empty());
        // An event ending a span is timed by it, its start added by the compiler.
        let mut q =
            parse("SELECT args->family, duration_ms FROM tracepoint:tcp:tcp_destroy_sock").unwrap();
        let mut destroy = event("tcp_destroy_sock", &["family", "sport"], &[]);
        destroy.subsystem = "tcp".into();
        assert!(untimed_durations(
            &mut q,
            &Intent::read("sockets torn down: their family, and for how long each one lived"),
            &[destroy]
        )
        .is_empty());
        // A syscall has its duration.
        let mut q =
            parse("SELECT duration_ms, args->fd FROM tracepoint:syscalls:sys_enter_fsync").unwrap();
        let fsync = [event("sys_enter_fsync", &["fd"], &[])];
        assert!(
            untimed_durations(&mut q, &Intent::read("fsync with the fd and time"), &fsync)
                .is_empty()
        );
    }

    #[test]
    fn a_process_lifetime_at_its_exit_is_its_age() {
        let intent =
            Intent::read("short-lived processes (gone within 50 ms): name and pid at exit");
        let mut q = parse("SELECT comm, pid, duration_ms FROM tracepoint:sched:sched_process_exit WHERE duration_ms < 50").unwrap();
        assert_eq!(exit_lifetime(&mut q, &intent).len(), 1);
        assert!(q.terms().contains(&Term::Age(crate::query::TimeUnit::Ms)));
        assert!(!q.terms().iter().any(|t| matches!(t, Term::Duration(_))));
        // No lifetime asked, or another event: unchanged.
        let mut q =
            parse("SELECT comm, duration_ms FROM tracepoint:sched:sched_process_exit").unwrap();
        assert!(exit_lifetime(&mut q, &Intent::read("process exits with the name")).is_empty());
    }

    #[test]
    fn the_cpu_an_event_carries_is_the_one_asked_for() {
        let perf = [event(
            "sys_enter_perf_event_open",
            &["attr_uptr", "pid", "cpu", "group_fd", "flags"],
            &[],
        )];
        let text = "SELECT args->pid, cpu FROM tracepoint:syscalls:sys_enter_perf_event_open";
        let mut q = parse(text).unwrap();
        let notes = event_cpu(
            &mut q,
            &Intent::read("log perf_event_open() with the pid and CPU it measures"),
            &perf,
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(
            q.select[1],
            Item::Value(Expr::Term(Term::Field("cpu".into())))
        );
        // No CPU named, or an event without a CPU of its own: unchanged.
        let mut q = parse(text).unwrap();
        assert!(event_cpu(
            &mut q,
            &Intent::read("log perf_event_open() with the pid"),
            &perf
        )
        .is_empty());
        let kill = [event("sys_enter_kill", &["pid", "sig"], &[])];
        let mut q =
            parse("SELECT count() FROM tracepoint:syscalls:sys_enter_kill GROUP BY cpu").unwrap();
        assert!(event_cpu(&mut q, &Intent::read("kill() calls per cpu"), &kill).is_empty());
    }

    #[test]
    fn a_named_quantity_states_no_test_of_its_own() {
        // `long length` (truncate(2)): a signed 64-bit quantity, no address, so `!= 0` is a
        // filter; and `-1` is a literal like any other, not a shape that naming the field states.
        let mut ev = event("sys_enter_ftruncate", &["fd", "length"], &[]);
        ev.types.insert("length".into(), FieldType::of("long"));
        ev.types.insert("fd".into(), FieldType::of("unsigned int"));
        let mut q = parse(
            "SELECT comm, args->length FROM tracepoint:syscalls:sys_enter_ftruncate WHERE args->length != 0 AND args->length != -1",
        )
        .unwrap();
        let intent = Intent::read("the files cut short with ftruncate, and the new length");
        let dropped = prune_filter(&mut q, &intent, &[ev.clone()]);
        assert_eq!(q.filter, None, "{dropped:?}");
        assert_eq!(dropped.len(), 2);
        // An address-wide unsigned field compared with 0 is a filter too (`args->arg2 != 0`
        // at keyctl drops calls); only a string pointer's is a NULL check (a NULL `void *`
        // has a meaning of its own: seccomp(2)'s `args`).
        ev.types
            .insert("length".into(), FieldType::of("unsigned long"));
        let mut q = parse(
            "SELECT comm FROM tracepoint:syscalls:sys_enter_ftruncate WHERE args->length != 0",
        )
        .unwrap();
        prune_filter(&mut q, &intent, &[ev.clone()]);
        assert_eq!(q.filter, None);
        ev.types.insert("length".into(), FieldType::of("void *"));
        let mut q = parse(
            "SELECT comm FROM tracepoint:syscalls:sys_enter_ftruncate WHERE args->length != 0",
        )
        .unwrap();
        prune_filter(&mut q, &intent, &[ev.clone()]);
        assert_eq!(q.filter, None);
        ev.types
            .insert("length".into(), FieldType::of("const char *"));
        let mut q = parse(
            "SELECT comm FROM tracepoint:syscalls:sys_enter_ftruncate WHERE args->length != 0",
        )
        .unwrap();
        prune_filter(&mut q, &intent, &[ev]);
        assert!(q.filter.is_some());
    }

    #[test]
    fn zero_named_fields_and_quoted_names_count_as_stated() {
        let (kept, dropped) = pruned(
            "for processes named 'kgentdevrd', failed calls and the new mode",
            "SELECT comm FROM tracepoint:a:b WHERE comm == \"kgentdevrd\" AND ret < 0 AND args->mode & 2 != 0",
        );
        assert!(dropped.is_empty(), "{dropped:?}");
        assert!(kept.is_some());
        // A negative number the request does not state.
        let (kept, _) = pruned("x", "SELECT comm FROM tracepoint:a:b WHERE args->fd != -1");
        assert_eq!(kept, None);
        // Every test of an OR dropped: no filter at all.
        let (kept, _) = pruned(
            "x",
            "SELECT comm FROM tracepoint:a:b WHERE args->fd == 3 OR pid == 7",
        );
        assert_eq!(kept, None);
    }
}
