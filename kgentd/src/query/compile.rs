//! Query → bpftrace, deterministically.
//!
//! Each probe of FROM becomes an *event*: a syscall (its `sys_enter_X`/`sys_exit_X` pair), a
//! user function (uprobe/uretprobe pair) or a single probe. A paired event whose query reads
//! both sides (an argument and `ret`, or a duration) is compiled to the per-thread pattern:
//! the entry saves what the return needs in maps keyed by `tid`, the return reads and deletes
//! them. Values are printed by type: `str()` for strings, `ntop()` for addresses (with the IPv6
//! branch when the tracepoint has both families), family/address/port for a `struct sockaddr *`
//! (port in host byte order), `join()` for argv arrays.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{BinOp, Expr, Item, Query, Span, SpecFacts, Term, UnOp};
use crate::host::{Field, HostFacts};

/// Why a query does not compile on this host. `Display` is the diagnostic sent to the model.
#[derive(Debug, Clone, PartialEq)]
pub enum CompileError {
    /// Every FROM probe lacks a value the query reads (one reason per probe).
    Lacks(Vec<Lack>),
    /// A FROM entry is not a probe a query can use here.
    Probe(String),
    /// Every FROM event was left out (each with why).
    NothingLeft(Vec<String>),
    /// A value used where the language does not allow it (a string summed, argv as a key).
    Usage(String),
}

impl CompileError {
    /// Whether some probe lacks a field the query reads (another probe may have it).
    pub fn lacks_a_field(&self) -> bool {
        matches!(self, CompileError::Lacks(l) if l.iter().any(|x| matches!(x, Lack::NoField { .. })))
    }
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompileError::Lacks(l) => {
                let reasons: Vec<String> = l.iter().map(Lack::to_string).collect();
                f.write_str(&reasons.join("; "))
            }
            CompileError::NothingLeft(notes) => f.write_str(&notes.join("; ")),
            CompileError::Probe(s) | CompileError::Usage(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for CompileError {}

impl From<String> for CompileError {
    fn from(s: String) -> Self {
        CompileError::Usage(s)
    }
}

/// Why one event cannot provide a term.
#[derive(Debug, Clone, PartialEq)]
pub enum Lack {
    /// A tracepoint without the field (`available`: the fields it has).
    NoField {
        probe: String,
        field: String,
        available: Vec<String>,
    },
    /// A function whose prototype lacks the parameter.
    NoParameter {
        probe: String,
        field: String,
        available: Vec<String>,
    },
    /// A function without a known prototype: only arg0..arg5 and ret.
    NoPrototype { probe: String, field: String },
    /// A single event without a return or a span; `spans_end_at`: where duration_* works.
    NoReturn {
        probe: String,
        spans_end_at: Vec<String>,
    },
    /// argN at anything but a uprobe.
    NoArg { probe: String, index: u8 },
}

impl std::fmt::Display for Lack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lack::NoField {
                probe,
                field,
                available,
            } => write!(
                f,
                "{probe} has no field {field} (its fields: {})",
                available.join(", ")
            ),
            Lack::NoParameter {
                probe,
                field,
                available,
            } => write!(
                f,
                "{probe} has no parameter {field} (its parameters: {})",
                available.join(", ")
            ),
            Lack::NoPrototype { probe, field } => write!(
                f,
                "{probe} is a function without a known prototype: use arg0..arg5 and ret, not args->{field}"
            ),
            Lack::NoReturn {
                probe,
                spans_end_at,
            } => write!(
                f,
                "{probe} has no return and no duration: ret and duration_* need a syscall tracepoint (sys_enter_*/sys_exit_*) or a uprobe; duration_* also works at {}",
                spans_end_at.join(", ")
            ),
            Lack::NoArg { probe, index } => {
                write!(f, "arg{index} exists only for uprobes, not for {probe}")
            }
        }
    }
}

/// A compiled program, with notes on choices the compiler made (probes left out and why).
#[derive(Debug, Clone)]
pub struct Compiled {
    pub source: String,
    pub notes: Vec<String>,
    /// FROM events left out whole (their first probe, and why): they lack a value the query
    /// aggregates or groups by. Whether that loses part of what was asked is the caller's call.
    pub left_out: Vec<(String, String)>,
}

// A query has a handful of events: their size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
enum Event {
    /// A syscall: its enter and exit tracepoints (probe names) and their fields.
    Syscall {
        enter: String,
        exit: String,
        enter_fields: Vec<Field>,
        exit_fields: Vec<Field>,
        /// Entry fields the call writes through (`SpecFacts::writes`): saved at entry, read at
        /// the return.
        written: Vec<String>,
    },
    /// A user-space function: `uprobe:PATH:F` / `uretprobe:PATH:F`, with its parameters and
    /// return type when a system header declares it.
    Func {
        entry: String,
        ret: String,
        params: Vec<Field>,
        ret_type: Option<String>,
    },
    /// One probe with its fields (none for profile/software probes), and the span the specs
    /// DB defines ending at it (how `duration_*` is measured there), if any.
    Single {
        probe: String,
        fields: Vec<Field>,
        span: Option<Span>,
        /// `comm` means `args->comm` here, and `pid` `args->pid` where the event has one (see
        /// `SpecFacts::about_args_task`).
        comm_from_args: bool,
        /// The fields of the span's start event, when it is another tracepoint: a field only
        /// it has is saved there under the span's key and read at this end (a block request's
        /// `bytes`, known at its issue, printed at its completion).
        start_fields: Vec<Field>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Entry,
    Return,
    Any,
}

/// Compiles a query against this host's tracepoints and the specs DB's facts about probes.
pub fn compile(host: &HostFacts, specs: &SpecFacts, q: &Query) -> Result<Compiled, CompileError> {
    let mut notes = Vec::new();
    let mut events: Vec<Event> = Vec::new();
    for p in &q.from {
        let e = resolve(host, specs, p, &q.from).map_err(CompileError::Probe)?;
        if !events.contains(&e) {
            events.push(e);
        }
    }
    // A FROM probe that opens another FROM event's span is read there, not on its own
    // (sched_wakeup beside sched_switch: the wakeup starts the run-queue wait).
    let starts: Vec<String> = events
        .iter()
        .flat_map(|e| match e {
            Event::Single {
                probe,
                span: Some(s),
                ..
            } if !s.starts_at(probe) => s.starts().cloned().collect(),
            _ => Vec::new(),
        })
        .collect();
    if events.len() > 1 {
        events.retain(|e| !matches!(e, Event::Single { probe, .. } if starts.contains(probe)));
    }
    let terms = q.terms();

    // A term no event has is a mistake; one that only some have (openat2's `usize`, unlinkat's
    // `flag`) is printed and tested where it exists.
    for t in &terms {
        // Unless each event has the value under a name of the same kind ([`same_kind_here`]).
        let substitute =
            |e: &Event| same_kind_here(q, &Expr::Term(t.clone()), e, specs, &[]).is_some();
        if events
            .iter()
            .all(|e| lacks(e, t, specs).is_some() && !substitute(e))
        {
            let reasons: Vec<Lack> = events.iter().filter_map(|e| lacks(e, t, specs)).collect();
            return Err(CompileError::Lacks(reasons));
        }
    }
    let mut kept = Vec::new();
    let mut left_out = Vec::new();
    let filtered: Vec<String> = events
        .iter()
        .filter(|e| filter_applies(q, e, specs))
        .map(|e| event_name(e).to_owned())
        .collect();
    for e in events {
        // An event the filter cannot test would report every one of its events: kept only
        // as a variant of a call the filter does apply to (unlink beside unlinkat's `flag ==
        // 0`, files only), not as another call ("owned by uid 0" at openat).
        let name = event_name(&e).to_owned();
        // A variant lacks the field because it has no such argument: its calls are as if it
        // were 0 (syscalls(2): a newer version adds a flags argument). A filter that 0 fails
        // (`(flags & O_TRUNC) == O_TRUNC` at openat2, whose flags are in a struct; AT_REMOVEDIR
        // at unlink, which never removes a directory) would show none of them as they are.
        let zero_fails = !filtered.contains(&name)
            && q.filter
                .as_ref()
                .is_some_and(|f| fails_without(f, &|t| lacks(&e, t, specs).is_some()));
        if !filtered.is_empty()
            && !filtered.contains(&name)
            && (zero_fails || !filtered.iter().any(|f| variants(f, &name)))
        {
            let reason = format!(
                "{name} cannot test the query's filter (it lacks a field the filter reads), so it would report every event unfiltered"
            );
            notes.push(format!("left out: {reason}"));
            left_out.push((name, reason));
            continue;
        }
        match restrict(q, &e, specs) {
            Ok((rq, dropped)) => {
                notes.extend(dropped);
                kept.push((e, rq));
            }
            Err(reason) => {
                notes.push(format!("left out: {reason}"));
                left_out.push((event_name(&e).to_owned(), reason));
            }
        }
    }
    if kept.is_empty() {
        return Err(CompileError::NothingLeft(notes));
    }

    let aggregates = q.select.iter().any(|i| matches!(i, Item::Agg(..)));
    let mut blocks: Vec<Block> = Vec::new();
    let mut scratch: Vec<String> = Vec::new();
    for (e, rq) in &kept {
        let terms = rq.terms();
        for b in event_blocks(e, rq, &terms, aggregates, &mut scratch)? {
            match blocks
                .iter_mut()
                .find(|x| x.pred == b.pred && x.body == b.body)
            {
                Some(x) => x.probes.extend(b.probes),
                None => blocks.push(b),
            }
        }
    }
    let mut src = String::new();
    for n in &notes {
        let _ = writeln!(src, "// {n}");
    }
    for b in &blocks {
        src.push_str(&b.probes.join(",\n"));
        src.push('\n');
        if let Some(p) = &b.pred {
            let _ = writeln!(src, "/{p}/");
        }
        src.push_str("{\n");
        for l in b.body.lines() {
            let _ = writeln!(src, "  {l}");
        }
        src.push_str("}\n\n");
    }
    scratch.sort();
    scratch.dedup();
    let mut end = String::new();
    for (name, agg, arg) in agg_maps(q) {
        if let Some(div) = arg.and_then(|a| scaled_at_end(agg, a)) {
            let _ = writeln!(end, "  print(@{name}, 0, {div});\n  clear(@{name});");
        }
    }
    for m in &scratch {
        let _ = writeln!(end, "  clear(@{m});");
    }
    if !end.is_empty() {
        let _ = write!(src, "END\n{{\n{end}}}\n");
    }
    Ok(Compiled {
        source: src.trim_end().to_owned() + "\n",
        notes,
        left_out,
    })
}

/// Every term a query reads, sorted, once each.
/// The query as one event can answer it: printed values and filter tests it lacks a term of
/// are left out for it (with notes); an aggregate or key it lacks leaves the event out.
fn restrict(q: &Query, e: &Event, specs: &SpecFacts) -> Result<(Query, Vec<String>), String> {
    let missing = |x: &Expr| {
        let mut ts = Vec::new();
        x.terms(&mut ts);
        ts.iter()
            .find_map(|t| lacks(e, t, specs))
            .map(|l| l.to_string())
    };
    let mut notes = Vec::new();
    let mut select = Vec::new();
    // Fields this event reads in place of others: each stands in for one value.
    let mut taken = Vec::new();
    for it in &q.select {
        match it {
            Item::Value(x) => match missing(x) {
                Some(why) => match same_kind_here(q, x, e, specs, &taken) {
                    Some((y, g, note)) if missing(&y).is_none() => {
                        notes.push(note);
                        taken.push(g);
                        select.push(Item::Value(y));
                    }
                    _ => notes.push(format!("not printed for {}: {why}", event_name(e))),
                },
                None => select.push(it.clone()),
            },
            Item::Agg(_, Some(x)) => {
                if let Some(why) = missing(x) {
                    return Err(why);
                }
                select.push(it.clone());
            }
            Item::Agg(_, None) => select.push(it.clone()),
        }
    }
    for g in &q.group_by {
        if let Some(why) = missing(g) {
            return Err(why);
        }
    }
    if select.is_empty() {
        return Err(format!(
            "{} has none of the values asked for",
            event_name(e)
        ));
    }
    if let Some((own, lost)) = prints_none_of_its_own(q, &select, e, specs) {
        notes.push(format!(
            "{} has none of the fields the query prints ({}): it prints its own {} instead",
            event_name(e),
            lost.join(", "),
            own.join(", ")
        ));
        select.extend(
            own.into_iter()
                .map(|f| Item::Value(Expr::Term(Term::Field(f)))),
        );
    }
    let filter = q.filter.clone().and_then(|f| {
        f.retain_evaluable(&mut |test| match missing(test) {
            Some(why) => {
                notes.push(format!("filter not applied to {}: {why}", event_name(e)));
                false
            }
            None => true,
        })
    });
    Ok((
        Query {
            select,
            from: q.from.clone(),
            filter,
            group_by: q.group_by.clone(),
        },
        notes,
    ))
}

/// A printed value whose one field this event lacks, read at the event's one field of the same
/// kind that the query reads nowhere (`SpecFacts::field_kinds`): beside unlinkat's `pathname`,
/// renameat2 prints its `oldname` when the query prints `newname` already. With none, or two
/// unread, nothing is guessed; `taken` are fields that already stand in for another value. The
/// value rewritten, the field it reads, and a note.
fn same_kind_here(
    q: &Query,
    x: &Expr,
    e: &Event,
    specs: &SpecFacts,
    taken: &[Term],
) -> Option<(Expr, Term, String)> {
    let mut ts = Vec::new();
    x.terms(&mut ts);
    let lacking: Vec<&Term> = ts.iter().filter(|t| lacks(e, t, specs).is_some()).collect();
    let [Term::Field(f)] = lacking.as_slice() else {
        return None;
    };
    let (kind, names) = specs.field_kinds.iter().find(|(_, n)| n.contains(f))?;
    let read = q.terms();
    let unread: Vec<&Field> = event_fields(e)
        .iter()
        .filter(|g| {
            let term = Term::Field(g.name.clone());
            names.contains(&g.name) && !read.contains(&term) && !taken.contains(&term)
        })
        .collect();
    let [g] = unread.as_slice() else {
        return None;
    };
    let mut y = x.clone();
    let term = Term::Field(g.name.clone());
    y.replace_term(&Term::Field(f.clone()), &term);
    Some((
        y,
        term,
        format!(
            "{} has no field {f}: its {kind} is args->{}",
            event_name(e),
            g.name
        ),
    ))
}

/// The fields an event's probes read (a syscall's at entry; a function's parameters).
fn event_fields(e: &Event) -> &[Field] {
    match e {
        Event::Syscall { enter_fields, .. } => enter_fields,
        Event::Single { fields, .. } => fields,
        Event::Func { params, .. } => params,
    }
}

/// An event of a multi-event query that would print nothing it alone knows: every field value
/// the query prints is one it lacks (it keeps only builtins such as `comm`), while it has
/// string fields of its own the query never reads (`name` of sys_enter_umount beside mount's
/// `dev_name`, `dir_name`, `type`). Its lines would say only that it happened, so it prints
/// those: (its own string fields, the fields it lacks). Events with no such field (a
/// process's exit beside its exec's filename) print what they have.
fn prints_none_of_its_own(
    q: &Query,
    kept: &[Item],
    e: &Event,
    specs: &SpecFacts,
) -> Option<(Vec<String>, Vec<String>)> {
    let reads_field = |x: &Expr| {
        let mut ts = Vec::new();
        x.terms(&mut ts);
        ts.iter().any(|t| matches!(t, Term::Field(_)))
    };
    let values = |items: &[Item]| -> Vec<Expr> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Value(x) => Some(x.clone()),
                _ => None,
            })
            .collect()
    };
    if q.from.len() < 2 || values(kept).iter().any(reads_field) {
        return None;
    }
    let lost: Vec<String> = values(&q.select)
        .iter()
        .flat_map(|x| {
            let mut ts = Vec::new();
            x.terms(&mut ts);
            ts
        })
        .filter_map(|t| match (&t, lacks(e, &t, specs)) {
            (Term::Field(f), Some(_)) => Some(f.clone()),
            _ => None,
        })
        .collect();
    let own: Vec<String> = event_fields(e)
        .iter()
        .filter(|f| f.is_string() && !q.terms().contains(&Term::Field(f.name.clone())))
        .map(|f| f.name.clone())
        .collect();
    (!lost.is_empty() && !own.is_empty()).then_some((own, lost))
}

fn resolve(
    host: &HostFacts,
    specs: &SpecFacts,
    probe: &str,
    from: &[String],
) -> Result<Event, String> {
    let fields = |key: &str| host.tracepoints.get(key).map(|t| t.fields.clone());
    if let Some(rest) = probe.strip_prefix("tracepoint:") {
        // `syscalls:sys_enter` is what models write for raw_syscalls.
        let rest = match rest {
            "syscalls:sys_enter" => "raw_syscalls:sys_enter",
            "syscalls:sys_exit" => "raw_syscalls:sys_exit",
            r => r,
        };
        let (sub, event) = rest
            .split_once(':')
            .ok_or_else(|| format!("{probe} is not a probe name"))?;
        let name = match (sub, event) {
            ("syscalls", e) => e
                .strip_prefix("sys_enter_")
                .or_else(|| e.strip_prefix("sys_exit_"))
                .map(|n| {
                    (
                        format!("syscalls:sys_enter_{n}"),
                        format!("syscalls:sys_exit_{n}"),
                    )
                }),
            ("raw_syscalls", "sys_enter" | "sys_exit") => Some((
                "raw_syscalls:sys_enter".to_owned(),
                "raw_syscalls:sys_exit".to_owned(),
            )),
            _ => None,
        };
        if let Some((enter, exit)) = name {
            if let (Some(ef), Some(xf)) = (fields(&enter), fields(&exit)) {
                let call = enter.trim_start_matches("syscalls:sys_enter_");
                let params: Vec<&Field> = ef.iter().filter(|f| f.name != "__syscall_nr").collect();
                let written = specs
                    .writes
                    .iter()
                    .find(|(c, n, _)| c == call && *n == params.len())
                    .map(|(_, _, at)| {
                        at.iter()
                            .filter_map(|&i| params.get(i))
                            .map(|f| f.name.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                return Ok(Event::Syscall {
                    enter: format!("tracepoint:{enter}"),
                    exit: format!("tracepoint:{exit}"),
                    enter_fields: ef,
                    exit_fields: xf,
                    written,
                });
            }
        }
        let f = fields(rest).ok_or_else(|| format!("{probe} is not a tracepoint of this host"))?;
        let probe = format!("tracepoint:{rest}");
        let comm_from_args = specs.about_args_task(&probe) && f.iter().any(|x| x.name == "comm");
        let span = specs.span_for(&probe, from).cloned();
        let start_fields = span
            .as_ref()
            .filter(|s| !s.starts_at(&probe))
            .and_then(|s| s.start.strip_prefix("tracepoint:"))
            .and_then(fields)
            .unwrap_or_default();
        return Ok(Event::Single {
            span,
            comm_from_args,
            probe,
            fields: f,
            start_fields,
        });
    }
    for (kind, other) in [("uprobe:", "uretprobe:"), ("uretprobe:", "uprobe:")] {
        if let Some(rest) = probe.strip_prefix(kind) {
            let (entry, ret) = if kind == "uprobe:" {
                (probe.to_owned(), format!("{other}{rest}"))
            } else {
                (format!("{other}{rest}"), probe.to_owned())
            };
            let func = rest.rsplit(':').next().unwrap_or_default();
            let proto = crate::host::prototypes::lookup(func);
            return Ok(Event::Func {
                entry,
                ret,
                params: proto.as_ref().map(|p| p.params.clone()).unwrap_or_default(),
                ret_type: proto.map(|p| p.ret),
            });
        }
    }
    if probe.starts_with("profile:") || probe.starts_with("software:") {
        return Ok(Event::Single {
            probe: probe.to_owned(),
            fields: Vec::new(),
            span: None,
            comm_from_args: false,
            start_fields: Vec::new(),
        });
    }
    Err(format!(
        "{probe} cannot be used in a query: FROM takes tracepoint:, uprobe:, uretprobe: and profile: probes"
    ))
}

/// Whether `e` has every term the query's filter reads (true without a filter).
fn filter_applies(q: &Query, e: &Event, specs: &SpecFacts) -> bool {
    let Some(f) = &q.filter else {
        return true;
    };
    let mut ts = Vec::new();
    f.terms(&mut ts);
    ts.iter().all(|t| lacks(e, t, specs).is_none())
}

/// Whether `filter` is false for every event when the terms `missing` says the event lacks
/// are 0, whatever its other terms: one of its conjuncts reads only such terms and literals
/// and evaluates to 0.
fn fails_without(filter: &Expr, missing: &dyn Fn(&Term) -> bool) -> bool {
    fn eval(e: &Expr, missing: &dyn Fn(&Term) -> bool) -> Option<i128> {
        Some(match e {
            Expr::Int(n) => *n,
            Expr::Term(t) if missing(t) => 0,
            Expr::Unary(op, x) => {
                let v = eval(x, missing)?;
                match op {
                    UnOp::Neg => v.checked_neg()?,
                    UnOp::Not => i128::from(v == 0),
                    UnOp::BitNot => !v,
                }
            }
            Expr::Binary(a, op, b) => {
                let (x, y) = (eval(a, missing)?, eval(b, missing)?);
                match op {
                    BinOp::Or => i128::from(x != 0 || y != 0),
                    BinOp::And => i128::from(x != 0 && y != 0),
                    BinOp::Eq => i128::from(x == y),
                    BinOp::Ne => i128::from(x != y),
                    BinOp::Lt => i128::from(x < y),
                    BinOp::Gt => i128::from(x > y),
                    BinOp::Le => i128::from(x <= y),
                    BinOp::Ge => i128::from(x >= y),
                    BinOp::BitOr => x | y,
                    BinOp::BitXor => x ^ y,
                    BinOp::BitAnd => x & y,
                    BinOp::Add => x.checked_add(y)?,
                    BinOp::Sub => x.checked_sub(y)?,
                    BinOp::Mul => x.checked_mul(y)?,
                    _ => return None,
                }
            }
            _ => return None,
        })
    }
    filter
        .conjuncts()
        .iter()
        .any(|c| eval(c, missing) == Some(0))
}

/// Two syscall events of one call spelled two ways: one name, without its version digits,
/// within the other (`unlink`/`unlinkat`, `chown`/`fchownat`, `dup2`/`dup3`). syscalls(2)
/// names a call's newer or relative-path versions after it.
fn variants(a: &str, b: &str) -> bool {
    let call = |p: &str| {
        p.rsplit(':')
            .next()
            .map(|e| {
                e.trim_start_matches("sys_enter_")
                    .trim_start_matches("sys_exit_")
                    .trim_end_matches(|c: char| c.is_ascii_digit())
                    .to_owned()
            })
            .unwrap_or_default()
    };
    let (a, b) = (call(a), call(b));
    a.len() >= 3 && b.len() >= 3 && (a.contains(&b) || b.contains(&a))
}

fn event_name(e: &Event) -> &str {
    match e {
        Event::Syscall { enter, .. } => enter,
        Event::Func { entry, .. } => entry,
        Event::Single { probe, .. } => probe,
    }
}

/// Why an event cannot provide a term, or None when it can.
fn lacks(e: &Event, t: &Term, specs: &SpecFacts) -> Option<Lack> {
    let probe = event_name(e).to_owned();
    let names = |fs: &mut dyn Iterator<Item = &Field>| {
        fs.filter(|f| f.name != "__syscall_nr")
            .map(|f| f.name.clone())
            .collect::<Vec<_>>()
    };
    match (e, t) {
        (_, Term::Builtin(_) | Term::Age(_) | Term::ExitCode | Term::ExitSignal) => None,
        (
            Event::Syscall {
                enter_fields,
                exit_fields,
                ..
            },
            Term::Field(f),
        ) => {
            (!enter_fields.iter().chain(exit_fields).any(|x| x.name == *f)).then(|| Lack::NoField {
                probe,
                field: f.clone(),
                available: names(&mut enter_fields.iter().chain(exit_fields)),
            })
        }
        (
            Event::Single {
                fields,
                start_fields,
                ..
            },
            Term::Field(f),
        ) => (!fields.iter().chain(start_fields).any(|x| x.name == *f)).then(|| Lack::NoField {
            probe,
            field: f.clone(),
            available: names(&mut fields.iter()),
        }),
        (Event::Func { params, .. }, Term::Field(f)) => (!params.iter().any(|p| p.name == *f))
            .then(|| {
                if params.is_empty() {
                    Lack::NoPrototype {
                        probe,
                        field: f.clone(),
                    }
                } else {
                    Lack::NoParameter {
                        probe,
                        field: f.clone(),
                        available: names(&mut params.iter()),
                    }
                }
            }),
        (Event::Syscall { .. } | Event::Func { .. }, Term::Ret | Term::Duration(_)) => None,
        (Event::Single { span: Some(_), .. }, Term::Duration(_)) => None,
        (Event::Single { .. }, Term::Ret | Term::Duration(_)) => Some(Lack::NoReturn {
            probe,
            spans_end_at: specs.spans.iter().fold(Vec::new(), |mut ends, (p, _)| {
                if !ends.contains(p) {
                    ends.push(p.clone());
                }
                ends
            }),
        }),
        (Event::Func { .. }, Term::Arg(_)) => None,
        (_, Term::Arg(i)) => Some(Lack::NoArg { probe, index: *i }),
    }
}

/// Whether a term is a syscall parameter the call writes through: what it points to is
/// filled in by the return (accept's peer address), so it is saved at entry and read there.
fn written(e: &Event, t: &Term) -> bool {
    matches!((e, t), (Event::Syscall { written, .. }, Term::Field(f)) if written.contains(f))
}

/// Which side of a paired event provides a term.
fn side(e: &Event, t: &Term) -> Side {
    match (e, t) {
        (Event::Syscall { enter_fields, .. }, Term::Field(f)) => {
            if enter_fields.iter().any(|x| x.name == *f) {
                Side::Entry
            } else {
                Side::Return
            }
        }
        (Event::Func { .. }, Term::Arg(_) | Term::Field(_)) => Side::Entry,
        (_, Term::Ret | Term::Duration(_)) => Side::Return,
        _ => Side::Any,
    }
}

struct Block {
    probes: Vec<String>,
    pred: Option<String>,
    body: String,
}

/// Where an expression is evaluated: how terms are spelled there.
struct Ctx<'a> {
    event: &'a Event,
    /// On the return side of a paired event: entry values come from maps keyed by tid.
    paired_return: bool,
    /// The map slot holding the start time `duration_*` is measured from.
    clock: String,
    /// At the end of a span: its end key, under which values carried from the start were
    /// saved (see [`carried`]).
    carry: Option<String>,
}

const TID_CLOCK: &str = "@kq_start[tid]";

fn event_blocks(
    e: &Event,
    q: &Query,
    terms: &[Term],
    aggregates: bool,
    scratch: &mut Vec<String>,
) -> Result<Vec<Block>, String> {
    let needs_entry = terms
        .iter()
        .any(|t| side(e, t) == Side::Entry || matches!(t, Term::Duration(_)));
    let needs_return = terms
        .iter()
        .any(|t| side(e, t) == Side::Return || written(e, t));
    let conjuncts: Vec<&Expr> = q.filter.as_ref().map(|f| f.conjuncts()).unwrap_or_default();

    let (entry_probe, return_probe) = match e {
        Event::Syscall { enter, exit, .. } => (enter.clone(), exit.clone()),
        Event::Func { entry, ret, .. } => (entry.clone(), ret.clone()),
        Event::Single {
            probe,
            span: Some(span),
            ..
        } if terms
            .iter()
            .any(|t| matches!(t, Term::Duration(_)) || carried(e, t)) =>
        {
            return span_blocks(probe, span, e, q, terms, aggregates, &conjuncts, scratch);
        }
        Event::Single { probe, .. } => {
            let ctx = Ctx {
                event: e,
                paired_return: false,
                clock: TID_CLOCK.into(),
                carry: None,
            };
            let pred = join_conds(&conjuncts, &ctx)?;
            return Ok(vec![Block {
                probes: vec![probe.clone()],
                pred,
                body: action(q, aggregates, &ctx)?,
            }]);
        }
    };
    if !(needs_entry && needs_return) {
        // One side is enough: the return when the query reads a result, else the entry.
        let at_return = needs_return;
        let ctx = Ctx {
            event: e,
            paired_return: false,
            clock: TID_CLOCK.into(),
            carry: None,
        };
        let pred = join_conds(&conjuncts, &ctx)?;
        return Ok(vec![Block {
            probes: vec![if at_return { return_probe } else { entry_probe }],
            pred,
            body: action(q, aggregates, &ctx)?,
        }]);
    }

    // Paired: conditions on entry values filter at the entry, the rest at the return.
    let (entry_conds, return_conds): (Vec<&Expr>, Vec<&Expr>) =
        conjuncts.into_iter().partition(|c| {
            let mut ts = Vec::new();
            c.terms(&mut ts);
            ts.iter()
                .all(|t| side(e, t) != Side::Return && !written(e, t))
        });
    let entry_ctx = Ctx {
        event: e,
        paired_return: false,
        clock: TID_CLOCK.into(),
        carry: None,
    };
    let return_ctx = Ctx {
        event: e,
        paired_return: true,
        clock: TID_CLOCK.into(),
        carry: None,
    };
    let mut entry_body = String::from("@kq_start[tid] = nsecs;\n");
    let mut cleanup = String::from("delete(@kq_start[tid]);\n");
    scratch.push("kq_start".into());
    for t in terms.iter().filter(|t| side(e, t) == Side::Entry) {
        let m = saved_map(t);
        let _ = writeln!(entry_body, "@{m}[tid] = {};", scalar(t, &entry_ctx));
        let _ = writeln!(cleanup, "delete(@{m}[tid]);");
        scratch.push(m);
    }
    let act = action(q, aggregates, &return_ctx)?;
    let return_body = match join_conds(&return_conds, &return_ctx)? {
        Some(c) => format!("if ({c}) {{\n{}}}\n{cleanup}", indent(&act)),
        None => format!("{act}{cleanup}"),
    };
    Ok(vec![
        Block {
            probes: vec![entry_probe],
            pred: join_conds(&entry_conds, &entry_ctx)?,
            body: entry_body,
        },
        Block {
            probes: vec![return_probe],
            pred: Some("@kq_start[tid]".into()),
            body: return_body,
        },
    ])
}

/// A duration at a probe without a return, measured as the specs DB's span defines it: the
/// start event saves `nsecs` under its key, the end event reads and deletes it. When both are
/// the same probe (`sched_switch`), one block closes the span of the leaving key first.
#[allow(clippy::too_many_arguments)]
fn span_blocks(
    probe: &str,
    span: &Span,
    e: &Event,
    q: &Query,
    terms: &[Term],
    aggregates: bool,
    conjuncts: &[&Expr],
    scratch: &mut Vec<String>,
) -> Result<Vec<Block>, String> {
    // One map per span: the keys of different spans have different types.
    let map = format!("kq_span_{}", probe.rsplit(':').next().unwrap_or("event"));
    scratch.push(map.clone());
    let end_slot = format!("@{map}[{}]", span.end_key);
    let start_slot = format!("@{map}[{}]", span.start_key);
    let ctx = Ctx {
        event: e,
        paired_return: false,
        clock: end_slot.clone(),
        carry: Some(span.end_key.clone()),
    };
    let act = action(q, aggregates, &ctx)?;
    let act = match join_conds(conjuncts, &ctx)? {
        Some(c) => format!("if ({c}) {{\n{}}}\n", indent(&act)),
        None => act,
    };
    let mut close = format!("{act}delete({end_slot});\n");
    let mut open = format!("{start_slot} = nsecs;\n");
    // Values only the start knows, saved there under the span's key.
    for t in terms.iter().filter(|t| carried(e, t)) {
        let m = carried_map(t);
        let at_start = match t {
            Term::Field(f) => format!("args->{f}"),
            other => other.to_string(),
        };
        let _ = writeln!(open, "@{m}[{}] = {at_start};", span.start_key);
        let _ = writeln!(close, "delete(@{m}[{}]);", span.end_key);
        scratch.push(m);
    }
    let guard = match &span.end_when {
        Some(w) => format!("{end_slot} && ({w})"),
        None => end_slot.clone(),
    };
    let restart = match (&span.restart_when, &span.restart_key) {
        (Some(w), Some(k)) => format!("if ({w}) {{\n  @{map}[{k}] = nsecs;\n}}\n"),
        _ => String::new(),
    };
    if span.starts_at(probe) {
        let open = match &span.start_when {
            Some(w) => format!("if ({w}) {{\n{}}}\n", indent(&open)),
            None => open,
        };
        return Ok(vec![Block {
            probes: vec![probe.to_owned()],
            pred: None,
            body: format!("if ({guard}) {{\n{}}}\n{open}", indent(&close)),
        }]);
    }
    let mut blocks = vec![Block {
        probes: span.starts().cloned().collect(),
        pred: span.start_when.clone(),
        body: open,
    }];
    if restart.is_empty() {
        blocks.push(Block {
            probes: vec![probe.to_owned()],
            pred: Some(guard),
            body: close,
        });
    } else {
        // The restart runs for every event, the close only where a span is open.
        blocks.push(Block {
            probes: vec![probe.to_owned()],
            pred: None,
            body: format!("{restart}if ({guard}) {{\n{}}}\n", indent(&close)),
        });
    }
    Ok(blocks)
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

/// The map a value carried from a span's start is saved in.
fn carried_map(t: &Term) -> String {
    format!("kq_c_{}", saved_map(t).trim_start_matches("kq_"))
}

fn saved_map(t: &Term) -> String {
    match t {
        Term::Field(f) => format!("kq_{f}"),
        Term::Arg(i) => format!("kq_arg{i}"),
        other => format!("kq_{}", other.to_string().replace("->", "_")),
    }
}

fn join_conds(conds: &[&Expr], ctx: &Ctx) -> Result<Option<String>, String> {
    if conds.is_empty() {
        return Ok(None);
    }
    let parts: Result<Vec<String>, String> = conds.iter().map(|c| cond(c, ctx)).collect();
    Ok(Some(parts?.join(" && ")))
}

fn field<'a>(e: &'a Event, name: &str) -> Option<&'a Field> {
    match e {
        Event::Syscall {
            enter_fields,
            exit_fields,
            ..
        } => enter_fields
            .iter()
            .chain(exit_fields)
            .find(|f| f.name == name),
        Event::Single {
            fields,
            start_fields,
            ..
        } => fields
            .iter()
            .find(|f| f.name == name)
            .or_else(|| start_fields.iter().find(|f| f.name == name)),
        Event::Func { params, .. } => params.iter().find(|f| f.name == name),
    }
}

/// Whether `t` is read at the start of `e`'s span and carried to its end: a field only the
/// start event has, or the task builtins where the span is about the start's task.
fn carried(e: &Event, t: &Term) -> bool {
    let Event::Single {
        fields,
        start_fields,
        span: Some(span),
        ..
    } = e
    else {
        return false;
    };
    match t {
        Term::Field(f) => {
            !fields.iter().any(|x| x.name == *f) && start_fields.iter().any(|x| x.name == *f)
        }
        Term::Builtin(b) => {
            span.task_at_start && matches!(b.as_str(), "comm" | "pid" | "tid" | "uid")
        }
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    /// A `char *`: read with str().
    StrPtr,
    /// A `char[N]` array: a string as is.
    CharArray,
    /// `char **` (argv): join().
    StrArray,
    /// An IPv4 (4 bytes) or IPv6 (16 bytes) address array: ntop().
    Addr,
    /// A `struct sockaddr *` in user memory.
    Sockaddr,
    /// A kernel code address the kernel itself prints as a symbol (`%ps`/`%pS` in the
    /// tracepoint's print fmt: workqueue's and timer's `function`, kmem's `call_site`): ksym().
    Symbol,
    /// A pointer to a `timespec` in user memory (nanosleep(2) `rqtp`, futex(2) `utime`):
    /// seconds and nanoseconds.
    Timespec,
    /// A pointer to an `itimerval` in user memory (setitimer(2) `value`): the first expiry
    /// and the repeat interval, each seconds and microseconds.
    Itimerval,
}

fn kind(e: &Event, t: &Term) -> Kind {
    match (e, t) {
        (
            Event::Single {
                comm_from_args: true,
                ..
            },
            Term::Builtin(b),
        ) if b == "comm" => field(e, "comm").map_or(Kind::CharArray, field_kind),
        (_, Term::Builtin(b)) if b == "comm" || b == "probe" || b == "pcomm" => Kind::CharArray,
        (_, Term::Field(f)) => field(e, f).map_or(Kind::Int, field_kind),
        (Event::Func { params, .. }, Term::Arg(i)) => {
            params.get(*i as usize).map_or(Kind::Int, field_kind)
        }
        (
            Event::Func {
                ret_type: Some(r), ..
            },
            Term::Ret,
        ) if r.replace(' ', "").ends_with("char*") => Kind::StrPtr,
        _ => Kind::Int,
    }
}

fn field_kind(f: &Field) -> Kind {
    let ct = f.ctype.replace(' ', "");
    if ct.contains("char*const*") || ct.contains("char**") {
        Kind::StrArray
    } else if f.is_string() {
        Kind::StrPtr
    } else if ct.starts_with("char") && ct.contains('[') {
        Kind::CharArray
    } else if ct.contains("sockaddr*") || (f.name.contains("addr") && ct.starts_with("__u8[28]")) {
        // 28 bytes are a struct sockaddr_in6 (include/trace/events/tcp.h stores both families
        // in `__array(__u8, saddr, sizeof(struct sockaddr_in6))`); bpftrace casts the array.
        Kind::Sockaddr
    } else if f.name.contains("addr") && (ct.starts_with("__u8[4]") || ct.starts_with("__u8[16]")) {
        Kind::Addr
    } else if (ct == "void*"
        && matches!(
            f.name.as_str(),
            "function" | "func" | "callback" | "handler" | "action"
        ))
        || (f.name == "call_site" && ct == "unsignedlong")
    {
        Kind::Symbol
    } else if ct.contains("struct") && (ct.ends_with("timespec*") || ct.ends_with("timespec32*")) {
        Kind::Timespec
    } else if ct.contains("struct") && ct.ends_with("itimerval*") {
        Kind::Itimerval
    } else {
        Kind::Int
    }
}

/// The C type a field or parameter is declared with (`struct __kernel_timespec *`), without
/// `const`/`volatile`, for a cast.
fn declared_type(e: &Event, t: &Term) -> Option<String> {
    let f = match (e, t) {
        (_, Term::Field(f)) => field(e, f)?,
        (Event::Func { params, .. }, Term::Arg(i)) => params.get(*i as usize)?,
        _ => return None,
    };
    let words: Vec<&str> = f
        .ctype
        .split_whitespace()
        .filter(|w| !matches!(*w, "const" | "volatile" | "__user"))
        .collect();
    Some(words.join(" "))
}

/// A term as a bpftrace expression (a string pointer stays a pointer).
fn scalar(t: &Term, ctx: &Ctx) -> String {
    let saved = |t: &Term| format!("@{}[tid]", saved_map(t));
    if let Some(key) = ctx.carry.as_ref().filter(|_| carried(ctx.event, t)) {
        return format!("@{}[{key}]", carried_map(t));
    }
    match t {
        Term::Builtin(b)
            if b == "comm"
                && matches!(
                    ctx.event,
                    Event::Single {
                        comm_from_args: true,
                        ..
                    }
                ) =>
        {
            "args->comm".into()
        }
        // Likewise its pid, where the event records one (sched_migrate_task's moved task).
        Term::Builtin(b)
            if b == "pid"
                && matches!(
                    ctx.event,
                    Event::Single {
                        comm_from_args: true,
                        ..
                    }
                )
                && field(ctx.event, "pid").is_some() =>
        {
            "args->pid".into()
        }
        // At the end of a span about another task (run-queue latency), that task.
        Term::Builtin(b) if b == "comm" || b == "pid" => match ctx.event {
            Event::Single {
                span: Some(Span {
                    task_comm: Some(c), ..
                }),
                ..
            } if b == "comm" => c.clone(),
            Event::Single {
                span: Some(Span {
                    task_pid: Some(p), ..
                }),
                ..
            } if b == "pid" => p.clone(),
            _ => b.clone(),
        },
        // The parent process (task_struct.real_parent; getppid(2) returns its tgid).
        Term::Builtin(b) if b == "ppid" => "curtask->real_parent->tgid".into(),
        Term::Builtin(b) if b == "pcomm" => "curtask->real_parent->comm".into(),
        Term::Builtin(b) => b.clone(),
        Term::Field(f) => {
            if ctx.paired_return && side(ctx.event, t) == Side::Entry {
                saved(t)
            } else if let Event::Func { params, .. } = ctx.event {
                let i = params.iter().position(|p| p.name == *f).unwrap_or(0);
                format!("arg{i}")
            } else {
                format!("args->{f}")
            }
        }
        Term::Arg(i) => {
            if ctx.paired_return {
                saved(t)
            } else {
                format!("arg{i}")
            }
        }
        Term::Ret => match ctx.event {
            Event::Func { .. } => "retval".into(),
            _ => "args->ret".into(),
        },
        Term::Duration(u) => match u.divisor() {
            1 => format!("(nsecs - {})", ctx.clock),
            d => format!("((nsecs - {}) / {d})", ctx.clock),
        },
        Term::Age(u) => match u.divisor() {
            1 => "(nsecs - curtask->group_leader->start_time)".into(),
            d => format!("((nsecs - curtask->group_leader->start_time) / {d})"),
        },
        Term::ExitCode => "((curtask->exit_code >> 8) & 0xff)".into(),
        Term::ExitSignal => "(curtask->exit_code & 0x7f)".into(),
    }
}

fn expr(e: &Expr, ctx: &Ctx) -> Result<String, String> {
    Ok(match e {
        Expr::Term(t) => scalar(t, ctx),
        Expr::Int(n) => n.to_string(),
        Expr::Str(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
        Expr::StrOf(inner) => match inner.as_ref() {
            Expr::Term(t) if kind(ctx.event, t) == Kind::CharArray => scalar(t, ctx),
            i => format!("str({})", expr(i, ctx)?),
        },
        Expr::Unary(op, inner) => format!("{op}({})", expr(inner, ctx)?),
        Expr::Binary(a, BinOp::Contains, b) => contains(a, b, ctx)?,
        Expr::Binary(a, BinOp::StartsWith, b) => starts_with(a, b, ctx)?,
        Expr::Binary(a, op, b) => match unscaled_comparison(a, *op, b, ctx) {
            Some(s) => s,
            None => format!("({} {op} {})", expr(a, ctx)?, expr(b, ctx)?),
        },
    })
}

/// A time in ms or us compared with a number, compared in nanoseconds: `duration_ms > 1` is
/// `(nsecs - start) > 1000000`, not `(nsecs - start) / 1000000 > 1`, which bpftrace's integer
/// division makes true only from 2 ms on.
fn unscaled_comparison(a: &Expr, op: BinOp, b: &Expr, ctx: &Ctx) -> Option<String> {
    if !matches!(
        op,
        BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge | BinOp::Eq | BinOp::Ne
    ) {
        return None;
    }
    let in_ns = |t: &Term| -> Option<(String, u64)> {
        match t {
            Term::Duration(u) if u.divisor() > 1 => Some((
                scalar(&Term::Duration(super::TimeUnit::Ns), ctx),
                u.divisor(),
            )),
            Term::Age(u) if u.divisor() > 1 => {
                Some((scalar(&Term::Age(super::TimeUnit::Ns), ctx), u.divisor()))
            }
            _ => None,
        }
    };
    // `==` and `!=` of a truncated time mean the whole unit; only orderings are rewritten.
    if matches!(op, BinOp::Eq | BinOp::Ne) {
        return None;
    }
    match (a, b) {
        (Expr::Term(t), Expr::Int(n)) => {
            let (ns, d) = in_ns(t)?;
            Some(format!("({ns} {op} {})", n.checked_mul(i128::from(d))?))
        }
        (Expr::Int(n), Expr::Term(t)) => {
            let (ns, d) = in_ns(t)?;
            Some(format!("({} {op} {ns})", n.checked_mul(i128::from(d))?))
        }
        _ => None,
    }
}

/// `starts_with(S, "p")` on a string S (a `char *` or `__data_loc` field read with str(), a
/// `char[N]` field or comm as is): bpftrace 0.17's `strncmp(s1, s2, n)` compares the first n
/// characters, 0 when they are equal (bpftrace(8)).
fn starts_with(hay: &Expr, prefix: &Expr, ctx: &Ctx) -> Result<String, String> {
    let t = match hay {
        Expr::Term(t) => t,
        Expr::StrOf(inner) => match inner.as_ref() {
            Expr::Term(t) => t,
            _ => {
                return Err(format!(
                    "starts_with() tests a string, not {}",
                    super::show(hay)
                ))
            }
        },
        _ => {
            return Err(format!(
                "starts_with() tests a string, not {}",
                super::show(hay)
            ))
        }
    };
    let Expr::Str(p) = prefix else {
        return Err("starts_with() takes a quoted prefix".into());
    };
    let s = match kind(ctx.event, t) {
        Kind::CharArray => scalar(t, ctx),
        Kind::StrPtr => format!("str({})", scalar(t, ctx)),
        _ => {
            return Err(format!(
                "starts_with() tests a string (a file name, a path, comm), and {t} is not one"
            ))
        }
    };
    Ok(format!(
        "(strncmp({s}, {}, {}) == 0)",
        expr(prefix, ctx)?,
        p.len()
    ))
}

/// `contains(args->F, "s")` on a `char[N]` field: bpftrace 0.17 has no substring test and
/// cannot index a string, so the array is read as bytes and `s` compared at every offset.
fn contains(hay: &Expr, needle: &Expr, ctx: &Ctx) -> Result<String, String> {
    let bad = || {
        format!(
            "contains() tests a character-array field (args->F), not {}",
            super::show(hay)
        )
    };
    let (Expr::Term(t @ Term::Field(f)), Expr::Str(s)) = (hay, needle) else {
        return Err(bad());
    };
    let len = field(ctx.event, f)
        .filter(|x| field_kind(x) == Kind::CharArray)
        .and_then(|x| {
            let ct = x.ctype.replace(' ', "");
            ct.split_once('[')?
                .1
                .strip_suffix(']')?
                .parse::<usize>()
                .ok()
        })
        .ok_or_else(bad)?;
    let bytes = s.as_bytes();
    if bytes.is_empty() || bytes.len() > 8 || bytes.len() > len {
        return Err(format!(
            "contains() looks for 1 to 8 characters within args->{f} ({len} bytes)"
        ));
    }
    let base = format!("((uint8 *){})", scalar(t, ctx));
    let at: Vec<String> = (0..=len - bytes.len())
        .map(|i| {
            let eq: Vec<String> = bytes
                .iter()
                .enumerate()
                .map(|(j, b)| format!("{base}[{}] == {b}", i + j))
                .collect();
            eq.join(" && ")
        })
        .collect();
    Ok(format!("({})", at.join(" || ")))
}

/// A filter condition: strings compared with a literal are read with str().
fn cond(e: &Expr, ctx: &Ctx) -> Result<String, String> {
    let as_string = |x: &Expr| -> Result<String, String> {
        match x {
            Expr::Term(t) if kind(ctx.event, t) == Kind::StrPtr => {
                Ok(format!("str({})", scalar(t, ctx)))
            }
            other => expr(other, ctx),
        }
    };
    match e {
        Expr::Binary(a, op @ (BinOp::Eq | BinOp::Ne), b)
            if matches!(**a, Expr::Str(_)) || matches!(**b, Expr::Str(_)) =>
        {
            Ok(format!("{} {op} {}", as_string(a)?, as_string(b)?))
        }
        Expr::Binary(a, BinOp::And, b) => Ok(format!("{} && {}", cond(a, ctx)?, cond(b, ctx)?)),
        Expr::Binary(a, BinOp::Or, b) => Ok(format!("({} || {})", cond(a, ctx)?, cond(b, ctx)?)),
        Expr::Term(t) if kind(ctx.event, t) == Kind::StrPtr => {
            Ok(format!("{} != 0", scalar(t, ctx)))
        }
        other => expr(other, ctx),
    }
}

/// One value of a printed line: label, printf conversion, expression.
type Shown = (String, &'static str, String);

/// How a value prints: one or more `label=value` parts, possibly per address family.
enum Shape {
    Plain(Vec<Shown>),
    /// Branches tried in order (condition, parts); the last has no condition.
    Family(Vec<(Option<String>, Vec<Shown>)>),
    /// argv: printed by join() after the line.
    Join(String),
}

fn label(e: &Expr) -> String {
    match e {
        Expr::Term(t) => t.to_string().trim_start_matches("args->").to_owned(),
        Expr::StrOf(i) => label(i),
        Expr::Unary(UnOp::Neg, i) => format!("neg_{}", label(i)),
        _ => "value".into(),
    }
}

fn shape(e: &Expr, ctx: &Ctx) -> Result<Shape, String> {
    let lbl = label(e);
    let Expr::Term(t) = e else {
        return Ok(match e {
            Expr::StrOf(_) => Shape::Plain(vec![(lbl, "%s", expr(e, ctx)?)]),
            Expr::Str(_) => Shape::Plain(vec![(lbl, "%s", expr(e, ctx)?)]),
            _ => Shape::Plain(vec![(lbl, "%d", expr(e, ctx)?)]),
        });
    };
    let v = scalar(t, ctx);
    Ok(match kind(ctx.event, t) {
        Kind::Int => Shape::Plain(vec![(lbl, "%d", v)]),
        Kind::CharArray => Shape::Plain(vec![(lbl, "%s", v)]),
        Kind::StrPtr => Shape::Plain(vec![(lbl, "%s", format!("str({v})"))]),
        Kind::Symbol => Shape::Plain(vec![(lbl, "%s", format!("ksym({v})"))]),
        Kind::StrArray => Shape::Join(v),
        Kind::Addr => {
            // Only fields are addresses (see `kind`); anything else prints as a number.
            let Term::Field(f) = t else {
                return Ok(Shape::Plain(vec![(lbl, "%d", v)]));
            };
            let base = f.trim_end_matches("_v6");
            let v6 = format!("{base}_v6");
            let dual = field(ctx.event, &v6).is_some()
                && field(ctx.event, base).is_some()
                && field(ctx.event, "family").is_some();
            if dual {
                let fam = scalar(&Term::Field("family".into()), ctx);
                let v4 = scalar(&Term::Field(base.into()), ctx);
                let v6e = scalar(&Term::Field(v6), ctx);
                Shape::Family(vec![
                    (
                        Some(format!("{fam} == 10")),
                        vec![(base.to_owned(), "%s", format!("ntop({v6e})"))],
                    ),
                    (None, vec![(base.to_owned(), "%s", format!("ntop({v4})"))]),
                ])
            } else {
                Shape::Plain(vec![(lbl, "%s", format!("ntop({v})"))])
            }
        }
        Kind::Timespec | Kind::Itimerval => {
            // Read from the traced process's memory through the declared struct type.
            let Some(ty) = declared_type(ctx.event, t) else {
                return Ok(Shape::Plain(vec![(lbl, "%d", v)]));
            };
            let p = format!("uptr(({ty}){v})");
            // Seconds and the fraction as one decimal number (1.250000000); the two members
            // go to printf as two arguments of one conversion pair.
            let member = |m: &str| format!("({v} != 0 ? {p}->{m} : 0)");
            let parts: Vec<Shown> = if kind(ctx.event, t) == Kind::Timespec {
                vec![(
                    lbl,
                    "%d.%09d",
                    format!("{}, {}", member("tv_sec"), member("tv_nsec")),
                )]
            } else {
                ["it_value", "it_interval"]
                    .iter()
                    .map(|part| {
                        (
                            format!("{lbl}.{part}"),
                            "%d.%06d",
                            format!(
                                "{}, {}",
                                member(&format!("{part}.tv_sec")),
                                member(&format!("{part}.tv_usec"))
                            ),
                        )
                    })
                    .collect()
            };
            // A null pointer (an optional argument left out) prints zeros.
            Shape::Plain(parts)
        }
        Kind::Sockaddr => {
            let v4 = format!("((struct sockaddr_in *){v})");
            let v6 = format!("((struct sockaddr_in6 *){v})");
            let port = format!("(({v4}->sin_port >> 8) | (({v4}->sin_port & 0xff) << 8))");
            let fam = format!("{v4}->sin_family");
            Shape::Family(vec![
                (
                    Some(format!("{fam} == 10")),
                    vec![
                        ("family".into(), "%s", "\"AF_INET6\"".into()),
                        (
                            lbl.clone(),
                            "%s",
                            format!("ntop({v6}->sin6_addr.in6_u.u6_addr8)"),
                        ),
                        ("port".into(), "%d", port.clone()),
                    ],
                ),
                (
                    Some(format!("{fam} == 2")),
                    vec![
                        ("family".into(), "%s", "\"AF_INET\"".into()),
                        (lbl.clone(), "%s", format!("ntop({v4}->sin_addr.s_addr)")),
                        ("port".into(), "%d", port),
                    ],
                ),
                (None, vec![("family".into(), "%d", fam)]),
            ])
        }
    })
}

/// Whether two family branches test for the same family: the same test, or a test of the
/// same value (`== 10`) on another address of the event (a connection's source and
/// destination sockaddr have one family).
fn same_family_test(a: &Option<String>, b: &Option<String>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            a == b || a.rsplit_once(" == ").map(|x| x.1) == b.rsplit_once(" == ").map(|x| x.1)
        }
        (None, None) => true,
        _ => false,
    }
}

/// What the block does with an event: print one line, or update the aggregations.
fn action(q: &Query, aggregates: bool, ctx: &Ctx) -> Result<String, String> {
    if aggregates {
        return aggregate(q, ctx);
    }
    let mut shapes = Vec::new();
    for it in &q.select {
        if let Item::Value(e) = it {
            shapes.push(shape(e, ctx)?);
        }
    }
    // The first value that depends on the address family decides the branches; other
    // family-dependent values print their form for the same branch when they branch on the
    // same test (saddr and daddr of one tracepoint), else their last (fallback) form.
    let branches: Vec<Option<String>> = shapes
        .iter()
        .find_map(|s| match s {
            Shape::Family(b) => Some(b.iter().map(|(c, _)| c.clone()).collect()),
            _ => None,
        })
        .unwrap_or_else(|| vec![None]);
    let mut out = String::new();
    for (i, c) in branches.iter().enumerate() {
        let mut parts: Vec<Shown> = Vec::new();
        let mut joins = Vec::new();
        let mut first_family_seen = false;
        for s in &shapes {
            match s {
                Shape::Plain(p) => parts.extend(p.iter().cloned()),
                Shape::Family(b) if !first_family_seen => {
                    first_family_seen = true;
                    parts.extend(b[i].1.iter().cloned());
                }
                // Same branches (the same family test): its form for this family.
                Shape::Family(b)
                    if b.len() == branches.len()
                        && b.iter()
                            .zip(&branches)
                            .all(|((c, _), d)| same_family_test(c, d)) =>
                {
                    parts.extend(b[i].1.iter().cloned())
                }
                Shape::Family(b) => parts.extend(b[b.len() - 1].1.iter().cloned()),
                Shape::Join(v) => joins.push(v.clone()),
            }
        }
        // A value selected twice prints once; two values under one label (the builtin `pid`
        // and a tracepoint's `args->pid`, which names another task) both print, the field's
        // labelled as bpftrace writes it (`args.pid`).
        let mut seen: Vec<(String, String)> = Vec::new();
        parts.retain(|(l, _, v)| {
            let new = !seen.iter().any(|(sl, sv)| sl == l && sv == v);
            seen.push((l.clone(), v.clone()));
            new
        });
        let shared: Vec<String> = parts
            .iter()
            .map(|(l, _, _)| l.clone())
            .filter(|l| parts.iter().filter(|(m, _, _)| m == l).count() > 1)
            .collect();
        for (l, _, v) in &mut parts {
            // The builtin prints as itself (`pid`); the field as `args->pid` or the map that
            // carried it from the entry (`@kq_pid[tid]`, `@kq_c_pid[…]`). Other labels (the
            // family of each of two addresses) are told apart by number below.
            let reads_field = *v == format!("args->{l}")
                || v.starts_with(&format!("@kq_{l}["))
                || v.starts_with(&format!("@kq_c_{l}["));
            if shared.contains(l) && v != l && reads_field {
                *l = format!("args.{l}");
            }
        }
        let mut labels: Vec<String> = Vec::new();
        for (l, _, _) in &mut parts {
            if labels.contains(l) {
                *l = format!("{l}_{}", labels.len());
            }
            labels.push(l.clone());
        }
        let fmt: Vec<String> = parts.iter().map(|(l, f, _)| format!("{l}={f}")).collect();
        let args: String = parts.iter().map(|(_, _, v)| format!(", {v}")).collect();
        let line = if joins.is_empty() {
            format!("printf(\"{}\\n\"{args});\n", fmt.join(" "))
        } else {
            let mut s = format!("printf(\"{} args=\"{args});\n", fmt.join(" "));
            for j in &joins {
                let _ = writeln!(s, "join({j});");
            }
            s
        };
        match (i, c) {
            (_, None) if branches.len() == 1 => out.push_str(&line),
            (0, Some(c)) => {
                let _ = write!(out, "if ({c}) {{\n{}}}", indent(&line));
            }
            (_, Some(c)) => {
                let _ = write!(out, " else if ({c}) {{\n{}}}", indent(&line));
            }
            (_, None) => {
                let _ = writeln!(out, " else {{\n{}}}", indent(&line));
            }
        }
    }
    Ok(out)
}

fn aggregate(q: &Query, ctx: &Ctx) -> Result<String, String> {
    // Keys: GROUP BY, then every plain SELECT value not already a key.
    let mut key_exprs: Vec<&Expr> = Vec::new();
    for g in &q.group_by {
        if !key_exprs.contains(&g) {
            key_exprs.push(g);
        }
    }
    for it in &q.select {
        if let Item::Value(e) = it {
            if !key_exprs.contains(&e) {
                key_exprs.push(e);
            }
        }
    }
    let mut keys: Vec<String> = Vec::new();
    for k in key_exprs {
        match shape(k, ctx)? {
            Shape::Plain(p) => keys.extend(p.into_iter().map(|(_, _, v)| v)),
            Shape::Family(b) => {
                // As a key, an address family's value is its fallback form, plus the port.
                let first = &b[0].1;
                if let Some((_, _, port)) = first.iter().find(|(l, _, _)| l == "port") {
                    keys.push(b[b.len() - 1].1[0].2.clone());
                    keys.push(port.clone());
                } else {
                    keys.push(b[b.len() - 1].1[0].2.clone());
                }
            }
            Shape::Join(_) => {
                return Err(
                    "an argv array cannot be a GROUP BY key; print it without aggregates".into(),
                )
            }
        }
    }
    let key = if keys.is_empty() {
        String::new()
    } else {
        format!("[{}]", keys.join(", "))
    };
    let mut out = String::new();
    for (name, agg, arg) in agg_maps(q) {
        let call = match arg {
            None => "count()".to_owned(),
            Some(Expr::StrOf(_)) => {
                return Err(format!("{}() needs a number, not a string", agg.name()))
            }
            // Kept in ns and divided when printed (see `scaled_at_end`): a sum of durations
            // each cut to whole ms would lose up to 1 ms per event.
            Some(e) if scaled_at_end(agg, e).is_some() => format!(
                "{}({})",
                agg.name(),
                scalar(&Term::Duration(super::TimeUnit::Ns), ctx)
            ),
            Some(e) => format!("{}({})", agg.name(), expr(e, ctx)?),
        };
        let _ = writeln!(out, "@{name}{key} = {call};");
    }
    Ok(out)
}

/// The map of each aggregate of the query, in SELECT order: `@sum_duration_ms`, `@count`, a
/// second `@count_2`.
fn agg_maps(q: &Query) -> Vec<(String, super::Agg, Option<&Expr>)> {
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for it in &q.select {
        let Item::Agg(agg, arg) = it else { continue };
        let base = match arg {
            None => agg.name().to_owned(),
            Some(e) => format!("{}_{}", agg.name(), label(e)),
        };
        let n = names.entry(base.clone()).or_insert(0);
        *n += 1;
        let name = if *n == 1 { base } else { format!("{base}_{n}") };
        out.push((name, *agg, arg.as_ref()));
    }
    out
}

/// The divisor of an aggregate kept in ns and printed in a coarser unit: sum, avg, min and max
/// of `duration_us`/`duration_ms`. A histogram buckets each event in its own unit.
fn scaled_at_end(agg: super::Agg, arg: &Expr) -> Option<u64> {
    use super::Agg;
    match (agg, arg) {
        (Agg::Sum | Agg::Avg | Agg::Min | Agg::Max, Expr::Term(Term::Duration(u)))
            if u.divisor() > 1 =>
        {
            Some(u.divisor())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostFacts {
        HostFacts::for_tests_with_tracepoints(&[
            (
                "syscalls",
                "sys_enter_futex",
                &[
                    ("u32 *", "uaddr"),
                    ("int", "op"),
                    ("const struct __kernel_timespec *", "utime"),
                ],
            ),
            ("syscalls", "sys_exit_futex", &[("long", "ret")]),
            (
                "syscalls",
                "sys_enter_getitimer",
                &[
                    ("int", "which"),
                    ("struct __kernel_old_itimerval *", "value"),
                ],
            ),
            ("syscalls", "sys_exit_getitimer", &[("long", "ret")]),
            (
                "syscalls",
                "sys_enter_openat",
                &[
                    ("int", "dfd"),
                    ("const char *", "filename"),
                    ("int", "flags"),
                ],
            ),
            ("syscalls", "sys_exit_openat", &[("long", "ret")]),
            (
                "syscalls",
                "sys_enter_openat2",
                &[
                    ("int", "dfd"),
                    ("const char *", "filename"),
                    ("size_t", "usize"),
                ],
            ),
            ("syscalls", "sys_exit_openat2", &[("long", "ret")]),
            (
                "syscalls",
                "sys_enter_bind",
                &[
                    ("int", "fd"),
                    ("struct sockaddr *", "umyaddr"),
                    ("int", "addrlen"),
                ],
            ),
            ("syscalls", "sys_exit_bind", &[("long", "ret")]),
            (
                "syscalls",
                "sys_enter_kill",
                &[("pid_t", "pid"), ("int", "sig")],
            ),
            ("syscalls", "sys_exit_kill", &[("long", "ret")]),
            (
                "block",
                "block_rq_issue",
                &[("unsigned int", "bytes"), ("char[10]", "rwbs")],
            ),
            (
                "sched",
                "sched_switch",
                &[("pid_t", "prev_pid"), ("pid_t", "next_pid")],
            ),
            (
                "tcp",
                "tcp_destroy_sock",
                &[("const void *", "skaddr"), ("__u16", "sport")],
            ),
            (
                "sock",
                "inet_sock_set_state",
                &[
                    ("__u16", "family"),
                    ("__u16", "dport"),
                    ("__u8[4]", "saddr"),
                    ("__u8[4]", "daddr"),
                    ("__u8[16]", "saddr_v6"),
                    ("__u8[16]", "daddr_v6"),
                ],
            ),
        ])
    }

    /// Spans as the specs DB defines them (`specs-db/attach-points.toml`).
    fn specs() -> SpecFacts {
        let span = |start: &str, start_key: &str, end_key: &str, when: Option<(&str, &str)>| Span {
            start: start.into(),
            start_key: start_key.into(),
            end_key: end_key.into(),
            start_when: when.map(|w| w.0.into()),
            end_when: when.map(|w| w.1.into()).filter(|w: &String| !w.is_empty()),
            means: "a test span".into(),
            task_comm: None,
            task_pid: None,
            task_at_start: false,
            also_start: vec![],
            restart_when: None,
            restart_key: None,
            id: None,
        };
        SpecFacts {
            spans: vec![
                (
                    "tracepoint:sched:sched_switch".into(),
                    span(
                        "tracepoint:sched:sched_switch",
                        "cpu, args->next_pid",
                        "cpu, args->prev_pid",
                        None,
                    ),
                ),
                (
                    "tracepoint:sock:inet_sock_set_state".into(),
                    span(
                        "tracepoint:sock:inet_sock_set_state",
                        "args->skaddr",
                        "args->skaddr",
                        Some(("args->newstate == 1", "args->newstate == 7")),
                    ),
                ),
                (
                    "tracepoint:tcp:tcp_destroy_sock".into(),
                    span(
                        "tracepoint:sock:inet_sock_set_state",
                        "args->skaddr",
                        "args->skaddr",
                        Some(("args->newstate == 1", "")),
                    ),
                ),
            ],
            about_args_task: vec!["tracepoint:sched:sched_migrate_task".into()],
            preferred: vec![],
            writes: vec![("accept4".into(), 4, vec![1])],
            field_kinds: vec![(
                "path".into(),
                vec![
                    "filename".into(),
                    "pathname".into(),
                    "oldname".into(),
                    "newname".into(),
                ],
            )],
        }
    }

    #[test]
    fn an_event_about_another_task_reads_its_comm_and_pid() {
        let host = HostFacts::for_tests_with_tracepoints(&[(
            "sched",
            "sched_migrate_task",
            &[
                ("char[16]", "comm"),
                ("pid_t", "pid"),
                ("int", "orig_cpu"),
                ("int", "dest_cpu"),
            ],
        )]);
        let q = crate::query::parse(
            "SELECT comm, pid, args->dest_cpu FROM tracepoint:sched:sched_migrate_task",
        )
        .unwrap();
        let out = compile(&host, &specs(), &q).unwrap().source;
        assert!(
            out.contains("args->comm") && out.contains("args->pid") && !out.contains(", pid,"),
            "{out}"
        );
    }

    #[test]
    fn a_span_from_another_from_event_is_measured_there_and_about_its_task() {
        let host = HostFacts::for_tests_with_tracepoints(&[
            (
                "sched",
                "sched_wakeup",
                &[("char[16]", "comm"), ("pid_t", "pid")],
            ),
            (
                "sched",
                "sched_switch",
                &[
                    ("char[16]", "prev_comm"),
                    ("pid_t", "prev_pid"),
                    ("char[16]", "next_comm"),
                    ("pid_t", "next_pid"),
                ],
            ),
        ]);
        let mut facts = specs();
        facts.spans.push((
            "tracepoint:sched:sched_switch".into(),
            Span {
                start: "tracepoint:sched:sched_wakeup".into(),
                start_key: "args->pid".into(),
                end_key: "args->next_pid".into(),
                start_when: None,
                end_when: None,
                means: "waiting to run".into(),
                task_comm: Some("args->next_comm".into()),
                task_pid: Some("args->next_pid".into()),
                task_at_start: false,
                also_start: vec![],
                restart_when: None,
                restart_key: None,
                id: None,
            },
        ));
        let waited = compile(
            &host,
            &facts,
            &crate::query::parse("SELECT hist(duration_us) FROM tracepoint:sched:sched_wakeup, tracepoint:sched:sched_switch WHERE comm == \"w\" GROUP BY pid").unwrap(),
        )
        .expect("compiles");
        let s = &waited.source;
        assert!(
            s.contains("@kq_span_sched_switch[args->pid] = nsecs"),
            "{s}"
        );
        assert!(s.contains("args->next_comm == \"w\""), "{s}");
        assert!(s.contains("[args->next_pid] = hist("), "{s}");
        assert!(waited.left_out.is_empty(), "{:?}", waited.left_out);
        // Without the wakeup in FROM, sched_switch measures its default span (on-CPU time),
        // where comm is the task leaving.
        let ran = compile(
            &host,
            &facts,
            &crate::query::parse(
                "SELECT sum(duration_us) FROM tracepoint:sched:sched_switch WHERE comm == \"w\"",
            )
            .unwrap(),
        )
        .expect("compiles");
        assert!(
            ran.source.contains("(comm == \"w\")") || ran.source.contains("comm == \"w\""),
            "{}",
            ran.source
        );
        assert!(!ran.source.contains("next_comm =="), "{}", ran.source);
    }

    #[test]
    fn values_only_the_span_start_has_are_carried_to_its_end() {
        let host = HostFacts::for_tests_with_tracepoints(&[
            (
                "block",
                "block_rq_issue",
                &[
                    ("dev_t", "dev"),
                    ("sector_t", "sector"),
                    ("unsigned int", "bytes"),
                ],
            ),
            (
                "block",
                "block_rq_complete",
                &[("dev_t", "dev"), ("sector_t", "sector"), ("int", "error")],
            ),
        ]);
        let mut facts = specs();
        facts.spans.push((
            "tracepoint:block:block_rq_complete".into(),
            Span {
                start: "tracepoint:block:block_rq_issue".into(),
                start_key: "args->dev, args->sector".into(),
                end_key: "args->dev, args->sector".into(),
                start_when: None,
                end_when: None,
                means: "issue to completion".into(),
                task_comm: None,
                task_pid: None,
                task_at_start: true,
                also_start: vec![],
                restart_when: None,
                restart_key: None,
                id: None,
            },
        ));
        let q = crate::query::parse(
            "SELECT comm, args->bytes, args->error, duration_us FROM tracepoint:block:block_rq_issue, tracepoint:block:block_rq_complete WHERE comm == \"db\"",
        )
        .unwrap();
        let c = compile(&host, &facts, &q).expect("compiles");
        let s = &c.source;
        // Saved at the issue under the span key, read and deleted at the completion.
        assert!(
            s.contains("@kq_c_bytes[args->dev, args->sector] = args->bytes;"),
            "{s}"
        );
        assert!(
            s.contains("@kq_c_comm[args->dev, args->sector] = comm;"),
            "{s}"
        );
        assert!(
            s.contains("@kq_c_comm[args->dev, args->sector] == \"db\""),
            "{s}"
        );
        assert!(
            s.contains("delete(@kq_c_bytes[args->dev, args->sector]);"),
            "{s}"
        );
        // The completion's own field is its own; the issue prints no line of its own.
        assert!(!s.contains("kq_c_error"), "{s}");
        assert_eq!(s.matches("printf(").count(), 1, "{s}");
        // Without a duration the span still carries what only the start has.
        let q = crate::query::parse(
            "SELECT comm, args->bytes, args->error FROM tracepoint:block:block_rq_complete",
        )
        .unwrap();
        let c = compile(&host, &facts, &q).expect("compiles");
        assert!(
            c.source.contains("@kq_c_bytes[args->dev, args->sector]"),
            "{}",
            c.source
        );
        // A field neither has is still a mistake.
        let q = crate::query::parse("SELECT args->color FROM tracepoint:block:block_rq_complete")
            .unwrap();
        assert!(compile(&host, &facts, &q).is_err());
    }

    #[test]
    fn two_socket_addresses_of_one_event_print_in_the_same_family_branch() {
        let host = HostFacts::for_tests_with_tracepoints(&[(
            "tcp",
            "tcp_send_reset",
            &[
                ("const void *", "skaddr"),
                ("__u8[28]", "saddr"),
                ("__u8[28]", "daddr"),
            ],
        )]);
        let q = crate::query::parse(
            "SELECT args->saddr, args->daddr FROM tracepoint:tcp:tcp_send_reset",
        )
        .unwrap();
        let c = compile(&host, &specs(), &q).expect("compiles");
        let v6 = c
            .source
            .lines()
            .find(|l| l.contains("\"AF_INET6\""))
            .expect("an IPv6 line");
        assert!(
            v6.contains("daddr=%s") && v6.contains("(struct sockaddr_in6 *)args->daddr"),
            "{}",
            c.source
        );
        // No label reads as a field the event lacks.
        assert!(!c.source.contains("args.family"), "{}", c.source);
        assert!(crate::toolchain::bpftrace::syntax::args_fields(&c.source)
            .iter()
            .all(|f| f == "saddr" || f == "daddr"));
    }

    #[test]
    fn an_event_that_would_print_none_of_its_own_fields_prints_its_strings() {
        let host = HostFacts::for_tests_with_tracepoints(&[
            (
                "syscalls",
                "sys_enter_mount",
                &[
                    ("char *", "dev_name"),
                    ("char *", "dir_name"),
                    ("unsigned long", "flags"),
                ],
            ),
            ("syscalls", "sys_exit_mount", &[("long", "ret")]),
            (
                "syscalls",
                "sys_enter_umount",
                &[("char *", "name"), ("int", "flags")],
            ),
            ("syscalls", "sys_exit_umount", &[("long", "ret")]),
            (
                "sched",
                "sched_process_exit",
                &[("char[16]", "comm"), ("pid_t", "pid")],
            ),
            (
                "sched",
                "sched_process_exec",
                &[("__data_loc char[]", "filename")],
            ),
        ]);
        let compiled = |query: &str| {
            compile(
                &host,
                &specs(),
                &crate::query::parse(query).expect("parses"),
            )
            .expect("compiles")
        };
        let c = compiled(
            "SELECT comm, str(args->dev_name) FROM tracepoint:syscalls:sys_enter_mount, tracepoint:syscalls:sys_enter_umount",
        );
        assert!(c.left_out.is_empty(), "{c:?}");
        assert!(c.source.contains("str(args->name)"), "{}", c.source);
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("it prints its own name instead")),
            "{c:?}"
        );
        // Selecting its own field too: each event prints the fields it has.
        let c = compiled(
            "SELECT comm, str(args->dev_name), str(args->name) FROM tracepoint:syscalls:sys_enter_mount, tracepoint:syscalls:sys_enter_umount",
        );
        assert!(c.left_out.is_empty(), "{c:?}");
        // An event with no string of its own prints what it has.
        let c = compiled(
            "SELECT comm, str(args->filename) FROM tracepoint:sched:sched_process_exec, tracepoint:sched:sched_process_exit",
        );
        assert!(c.left_out.is_empty(), "{c:?}");
    }

    #[test]
    fn a_value_an_event_lacks_is_read_at_its_one_unread_field_of_the_same_kind() {
        let host = HostFacts::for_tests_with_tracepoints(&[
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
                "sys_enter_renameat2",
                &[("const char *", "oldname"), ("const char *", "newname")],
            ),
            ("syscalls", "sys_exit_renameat2", &[("long", "ret")]),
        ]);
        let c = compile(
            &host,
            &specs(),
            &crate::query::parse(
                "SELECT comm, str(args->filename), str(args->newname) FROM tracepoint:syscalls:sys_enter_unlinkat, tracepoint:syscalls:sys_enter_renameat2",
            )
            .expect("parses"),
        )
        .expect("compiles");
        assert!(
            c.source
                .contains("pathname=%s\\n\", comm, str(args->pathname))"),
            "{}",
            c.source
        );
        assert!(
            c.source.contains("str(args->oldname), str(args->newname)"),
            "{}",
            c.source
        );
        // unlinkat's pathname stands in for one value only, not for newname as well.
        let code: String = c.source.lines().filter(|l| !l.starts_with("//")).collect();
        assert_eq!(code.matches("args->pathname").count(), 1, "{}", c.source);
        // Two unread paths at renameat2 (the query prints neither): no one stands in for the
        // path, and the event, printing none of its own, prints both.
        let c = compile(
            &host,
            &specs(),
            &crate::query::parse(
                "SELECT comm, str(args->filename) FROM tracepoint:syscalls:sys_enter_unlinkat, tracepoint:syscalls:sys_enter_renameat2",
            )
            .expect("parses"),
        )
        .expect("compiles");
        assert!(
            c.source.contains("str(args->oldname), str(args->newname)"),
            "{}",
            c.source
        );
    }

    #[test]
    fn a_struct_the_call_fills_in_is_read_at_its_return() {
        let host = HostFacts::for_tests_with_tracepoints(&[
            (
                "syscalls",
                "sys_enter_accept4",
                &[
                    ("int", "__syscall_nr"),
                    ("int", "fd"),
                    ("struct sockaddr *", "upeer_sockaddr"),
                    ("int *", "upeer_addrlen"),
                    ("int", "flags"),
                ],
            ),
            ("syscalls", "sys_exit_accept4", &[("long", "ret")]),
        ]);
        let c = compile(
            &host,
            &specs(),
            &crate::query::parse(
                "SELECT comm, args->upeer_sockaddr FROM tracepoint:syscalls:sys_enter_accept4",
            )
            .expect("parses"),
        )
        .expect("compiles");
        let (entry, exit) = c
            .source
            .split_once("tracepoint:syscalls:sys_exit_accept4")
            .expect("read at the return");
        assert!(
            entry.contains("@kq_upeer_sockaddr[tid] = args->upeer_sockaddr;"),
            "{}",
            c.source
        );
        assert!(!entry.contains("sin_family"), "{}", c.source);
        assert!(
            exit.contains("@kq_upeer_sockaddr[tid])->sin_family"),
            "{}",
            c.source
        );
    }

    fn src(query: &str) -> String {
        compile(
            &host(),
            &specs(),
            &crate::query::parse(query).expect("parses"),
        )
        .expect("compiles")
        .source
    }

    #[test]
    fn a_variant_lacking_the_filters_field_leaves_when_zero_fails_the_filter() {
        let h = HostFacts::for_tests_with_tracepoints(&[
            (
                "syscalls",
                "sys_enter_unlinkat",
                &[
                    ("int", "dfd"),
                    ("const char *", "pathname"),
                    ("int", "flag"),
                ],
            ),
            (
                "syscalls",
                "sys_enter_unlink",
                &[("const char *", "pathname")],
            ),
        ]);
        let both =
            "FROM tracepoint:syscalls:sys_enter_unlinkat, tracepoint:syscalls:sys_enter_unlink";
        // AT_REMOVEDIR (0x200): unlink, which has no flag, never passes it.
        let dirs = crate::query::parse(&format!(
            "SELECT comm, count() {both} WHERE (args->flag & 512) != 0 GROUP BY comm"
        ))
        .expect("parses");
        let s = compile(&h, &specs(), &dirs).expect("compiles").source;
        assert!(!s.contains("sys_enter_unlink\n"), "{s}");
        assert!(s.contains("left out"), "{s}");
        // Files only (`flag == 0`): every unlink is one, unfiltered.
        let files = crate::query::parse(&format!(
            "SELECT comm, count() {both} WHERE args->flag == 0 GROUP BY comm"
        ))
        .expect("parses");
        let s = compile(&h, &specs(), &files).expect("compiles").source;
        assert!(s.contains("tracepoint:syscalls:sys_enter_unlink\n"), "{s}");
    }

    #[test]
    fn a_code_address_the_kernel_prints_as_a_symbol_is_read_with_ksym() {
        let h = HostFacts::for_tests_with_tracepoints(&[(
            "workqueue",
            "workqueue_queue_work",
            &[("void *", "work"), ("void *", "function"), ("int", "cpu")],
        )]);
        let q = crate::query::parse("SELECT comm, args->function, args->work, count() FROM tracepoint:workqueue:workqueue_queue_work GROUP BY comm, args->function, args->work").expect("parses");
        let s = compile(&h, &specs(), &q).expect("compiles").source;
        assert!(s.contains("ksym(args->function)"), "{s}");
        assert!(
            !s.contains("ksym(args->work)"),
            "a data pointer is no code address: {s}"
        );
    }

    #[test]
    fn an_argument_with_the_result_is_paired_per_thread_and_cleaned_up() {
        let s = src("SELECT comm, args->filename, ret FROM tracepoint:syscalls:sys_enter_openat WHERE ret < 0");
        assert!(s.contains("tracepoint:syscalls:sys_enter_openat\n{\n  @kq_start[tid] = nsecs;\n  @kq_filename[tid] = args->filename;"), "{s}");
        assert!(
            s.contains("tracepoint:syscalls:sys_exit_openat\n/@kq_start[tid]/"),
            "{s}"
        );
        assert!(s.contains("str(@kq_filename[tid]), args->ret"), "{s}");
        assert!(s.contains("delete(@kq_filename[tid]);"), "{s}");
        assert!(s.contains("clear(@kq_start);"), "{s}");
    }

    #[test]
    fn a_field_named_like_a_builtin_prints_beside_it() {
        // The sender is `pid`; the signalled task is `args->pid`: both are printed.
        let s =
            src("SELECT comm, pid, args->pid, args->sig FROM tracepoint:syscalls:sys_enter_kill");
        assert!(
            s.contains("printf(\"comm=%s pid=%d args.pid=%d sig=%d\\n\", comm, pid, args->pid, args->sig);"),
            "{s}"
        );
        let s = src("SELECT args->pid, pid, ret FROM tracepoint:syscalls:sys_enter_kill");
        assert!(
            s.contains("\"args.pid=%d pid=%d ret=%d\\n\", @kq_pid[tid], pid, args->ret"),
            "{s}"
        );
        // The same value selected twice prints once.
        let s = src("SELECT pid, pid FROM tracepoint:syscalls:sys_enter_kill");
        assert!(s.contains("printf(\"pid=%d\\n\", pid);"), "{s}");
    }

    #[test]
    fn a_result_alone_needs_only_the_exit_and_a_duration_needs_both() {
        let s = src("SELECT comm, sum(ret) FROM tracepoint:syscalls:sys_enter_openat WHERE ret > 0 GROUP BY comm");
        assert!(!s.contains("sys_enter_openat"), "{s}");
        assert!(
            s.contains("/(args->ret > 0)/") && s.contains("@sum_ret[comm] = sum(args->ret);"),
            "{s}"
        );
        let s = src("SELECT hist(duration_us) FROM tracepoint:syscalls:sys_enter_openat");
        assert!(
            s.contains("@hist_duration_us = hist(((nsecs - @kq_start[tid]) / 1000));"),
            "{s}"
        );
    }

    #[test]
    fn a_time_threshold_is_compared_in_nanoseconds() {
        // 1.5 ms is over 1 ms: the comparison must not truncate to whole milliseconds first.
        let s = src("SELECT comm, duration_ms FROM tracepoint:syscalls:sys_enter_openat WHERE duration_ms > 1");
        assert!(s.contains("((nsecs - @kq_start[tid]) > 1000000)"), "{s}");
        let s =
            src("SELECT comm FROM tracepoint:syscalls:sys_enter_openat WHERE 250 <= duration_us");
        assert!(s.contains("(250000 <= (nsecs - @kq_start[tid]))"), "{s}");
    }

    #[test]
    fn a_value_only_one_variant_has_is_printed_where_it_exists() {
        let c = compile(
            &host(),
            &specs(),
            &crate::query::parse("SELECT args->filename, args->usize FROM tracepoint:syscalls:sys_enter_openat, tracepoint:syscalls:sys_enter_openat2")
                .expect("parses"),
        )
        .expect("compiles");
        assert!(
            c.source
                .contains("printf(\"filename=%s\\n\", str(args->filename));"),
            "{}",
            c.source
        );
        assert!(c.source.contains("usize=%d"), "{}", c.source);
        assert!(
            c.notes.iter().any(|n| n.contains("no field usize")),
            "{:?}",
            c.notes
        );
    }

    #[test]
    fn sockaddrs_and_dual_stack_addresses_print_per_family() {
        let s = src("SELECT comm, args->umyaddr FROM tracepoint:syscalls:sys_enter_bind");
        assert!(s.contains("->sin_family == 10"), "{s}");
        assert!(
            s.contains("ntop(((struct sockaddr_in6 *)args->umyaddr)->sin6_addr.in6_u.u6_addr8)"),
            "{s}"
        );
        assert!(s.contains("->sin_port >> 8)"), "ports in host order: {s}");
        let s = src("SELECT args->saddr, args->daddr FROM tracepoint:sock:inet_sock_set_state");
        assert!(
            s.contains("ntop(args->saddr_v6), ntop(args->daddr_v6)")
                && s.contains("ntop(args->saddr), ntop(args->daddr)"),
            "both addresses per family: {s}"
        );
        let s = src("SELECT args->daddr, args->dport FROM tracepoint:sock:inet_sock_set_state");
        assert!(
            s.contains("if (args->family == 10)")
                && s.contains("ntop(args->daddr_v6)")
                && s.contains("ntop(args->daddr)"),
            "{s}"
        );
    }

    #[test]
    fn time_structs_in_user_memory_print_their_members() {
        let s = src("SELECT comm, args->utime FROM tracepoint:syscalls:sys_enter_futex");
        assert!(
            s.contains("utime=%d.%09d")
                && s.contains("uptr((struct __kernel_timespec *)args->utime)->tv_nsec"),
            "{s}"
        );
        assert!(
            s.contains("args->utime != 0 ?"),
            "a null timeout prints zeros: {s}"
        );
        let s = src("SELECT args->value FROM tracepoint:syscalls:sys_enter_getitimer");
        assert!(
            s.contains("uptr((struct __kernel_old_itimerval *)args->value)->it_interval.tv_usec"),
            "{s}"
        );
    }

    #[test]
    fn a_duration_at_an_event_without_a_return_is_measured_over_its_span() {
        // The specs DB's sched_switch span: from switch-in (next_pid) to switch-out (prev_pid),
        // on one probe: the leaving task's span closes before the arriving one's opens.
        let s =
            src("SELECT comm, sum(duration_ms) FROM tracepoint:sched:sched_switch GROUP BY comm");
        let close = s.find("if (@kq_span_sched_switch[cpu, args->prev_pid]) {");
        let open = s.find("@kq_span_sched_switch[cpu, args->next_pid] = nsecs;");
        assert!(close.is_some() && open.is_some() && close < open, "{s}");
        // A sum of ms is kept in ns and divided when printed.
        assert!(
            s.contains("sum((nsecs - @kq_span_sched_switch[cpu, args->prev_pid]))")
                && s.contains("print(@sum_duration_ms, 0, 1000000);"),
            "{s}"
        );
        // Different start probe: its own block, with the span's start condition.
        let s = src("SELECT args->sport, duration_ms FROM tracepoint:tcp:tcp_destroy_sock");
        assert!(
            s.contains("tracepoint:sock:inet_sock_set_state\n/args->newstate == 1/\n{\n  @kq_span_tcp_destroy_sock[args->skaddr] = nsecs;"),
            "{s}"
        );
        assert!(
            s.contains("delete(@kq_span_tcp_destroy_sock[args->skaddr]);"),
            "{s}"
        );
        // No span, no duration.
        let q = crate::query::parse(
            "SELECT duration_ms FROM tracepoint:sock:inet_sock_set_state WHERE args->family == 2",
        )
        .expect("parses");
        assert!(
            compile(&host(), &specs(), &q).is_ok(),
            "inet_sock_set_state has a span"
        );
        let q =
            crate::query::parse("SELECT ret FROM tracepoint:sched:sched_switch").expect("parses");
        assert!(compile(&host(), &specs(), &q)
            .expect_err("no return")
            .to_string()
            .contains("duration_* also works at"));
    }

    #[test]
    fn contains_compares_a_char_array_at_every_offset() {
        let s = src(
            "SELECT comm FROM tracepoint:block:block_rq_issue WHERE contains(args->rwbs, \"W\")",
        );
        assert!(
            s.contains("/(((uint8 *)args->rwbs)[0] == 87 || ((uint8 *)args->rwbs)[1] == 87 ||")
                && s.contains("((uint8 *)args->rwbs)[9] == 87)/"),
            "{s}"
        );
        let q = crate::query::parse(
            "SELECT comm FROM tracepoint:block:block_rq_issue WHERE contains(comm, \"x\")",
        )
        .expect("parses");
        assert!(compile(&host(), &specs(), &q)
            .expect_err("not a field")
            .to_string()
            .contains("character-array field"));
    }

    #[test]
    fn what_no_probe_has_is_an_error_naming_the_fields() {
        // (A field of a kind the specs map, `pathname`, would be read at openat's `filename`.)
        let q =
            crate::query::parse("SELECT args->colour FROM tracepoint:syscalls:sys_enter_openat")
                .expect("parses");
        let e = compile(&host(), &specs(), &q).expect_err("no colour");
        match &e {
            CompileError::Lacks(l) => assert!(
                matches!(&l[..], [Lack::NoField { field, available, .. }]
                    if field == "colour" && available.iter().any(|a| a == "filename")),
                "{e:?}"
            ),
            other => panic!("{other:?}"),
        }
        assert!(e.lacks_a_field());
        let q = crate::query::parse("SELECT comm FROM tracepoint:nope:nope").expect("parses");
        assert!(compile(&host(), &specs(), &q)
            .expect_err("unknown")
            .to_string()
            .contains("not a tracepoint of this host"));
    }
}
