//! kgent's query language: a small, SQL-shaped description of a tracing task that the model
//! fills in (under a grammar) and kgent compiles to bpftrace deterministically.
//!
//! ```text
//! SELECT comm, pid, args->filename, ret FROM tracepoint:syscalls:sys_enter_openat WHERE ret < 0
//! SELECT comm, hist(duration_us) FROM tracepoint:syscalls:sys_enter_read GROUP BY comm
//! ```
//!
//! The model only *chooses*: the probes (from the grounded ones), the fields, a filter and an
//! aggregation. Everything a small model gets wrong when it writes bpftrace itself is the
//! compiler's job: pairing a syscall's enter and exit per thread for `ret` and durations,
//! `str()` on strings, `ntop()` and the IPv6 branch for addresses, byte order of ports in a
//! `struct sockaddr`, `join()` for argv, clearing scratch maps at the end.
//!
//! What the language cannot express (state across unrelated events, thresholds "the first
//! time", comparisons between events) is left to free-form bpftrace, which the agent falls
//! back to.
pub mod compile;
pub mod grammar;

use std::fmt;

/// How `duration_*` is measured at a probe that has no return (from the specs DB): from a start
/// event to this one, matched by a key.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Span {
    /// The probe that opens the span (may be the end probe itself: `sched_switch`).
    pub start: String,
    /// bpftrace expressions, comma-separated, evaluated at the start and at the end.
    pub start_key: String,
    pub end_key: String,
    /// Conditions (bpftrace) an event must meet to open / close the span.
    #[serde(default)]
    pub start_when: Option<String>,
    #[serde(default)]
    pub end_when: Option<String>,
    /// What the duration means, for the model: "how long the task leaving the CPU ran".
    pub means: String,
    /// The task the duration is about, at the end event, when it is not the one the event runs
    /// in: run-queue latency ends at the sched_switch that puts the waiting task on the CPU,
    /// `args->next_comm` / `args->next_pid`, while `comm`/`pid` there are the task leaving.
    /// A query's `comm` and `pid` mean these at the end of the span.
    #[serde(default)]
    pub task_comm: Option<String>,
    #[serde(default)]
    pub task_pid: Option<String>,
    /// The task the duration is about is the one the *start* event runs in (a block request's
    /// issuer; its completion runs in interrupt context): a query's `comm`, `pid`, `tid` and
    /// `uid` at the end are saved at the start under the span's key.
    #[serde(default)]
    pub task_at_start: bool,
    /// Other probes that open the span as `start` does, with the same key (sched_wakeup_new
    /// beside sched_wakeup).
    #[serde(default)]
    pub also_start: Vec<String>,
    /// At the end event, a key that starts waiting again when this holds (bpftrace): a task
    /// switched out while still runnable goes back on the run queue without a wakeup.
    #[serde(default)]
    pub restart_when: Option<String>,
    #[serde(default)]
    pub restart_key: Option<String>,
    /// A name the request's vocabulary can ask for the span by (`span` of a `[[search]]`
    /// entry of specs-db/intent.toml), where one event ends several.
    #[serde(default)]
    pub id: Option<String>,
}

impl Span {
    /// The probes that open the span: `start` and `also_start`.
    pub fn starts(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.start).chain(&self.also_start)
    }

    /// Whether `probe` opens the span.
    pub fn starts_at(&self, probe: &str) -> bool {
        self.starts().any(|s| s == probe)
    }
}

/// What the compiler needs to know about probes beyond the host's tracepoints, passed in by
/// the caller (the specs DB): the spans that end at probes, and the events whose `args` name
/// another task than the current one (`comm` there is `args->comm`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpecFacts {
    /// (end probe, span), e.g. `tracepoint:sched:sched_switch`.
    pub spans: Vec<(String, Span)>,
    pub about_args_task: Vec<String>,
    /// Span ids the request asks for (`Intent::spans`, passed in by the agent): preferred at
    /// an event that ends several.
    pub preferred: Vec<String>,
    /// Field names the kernel gives one kind of value (`specs-db/field-names.toml`): (kind,
    /// names), e.g. ("path", [filename, pathname, oldname, …]).
    pub field_kinds: Vec<(String, Vec<String>)>,
    /// Syscalls that write through parameters (their man page: a pointer to a struct not
    /// declared const): (kernel call name, parameter count, positions written). Such a field is
    /// saved at entry and read at the return, when what it points to is filled in.
    pub writes: Vec<(String, usize, Vec<usize>)>,
}

impl SpecFacts {
    pub fn span_ending_at(&self, probe: &str) -> Option<&Span> {
        self.spans.iter().find(|(p, _)| p == probe).map(|(_, s)| s)
    }

    /// The span measured at `probe` in a query FROM `from`: one that starts at another FROM
    /// probe (`sched_wakeup` beside `sched_switch`: run-queue latency), else one the request
    /// asks for by id (`preferred`: off-CPU time), else the first without an id that ends
    /// there (its default: on-CPU time).
    pub fn span_for(&self, probe: &str, from: &[String]) -> Option<&Span> {
        let ending = || {
            self.spans
                .iter()
                .filter(|(p, _)| p == probe)
                .map(|(_, s)| s)
        };
        ending()
            .find(|s| !s.starts_at(probe) && s.starts().any(|st| from.contains(st)))
            .or_else(|| {
                ending().find(|s| s.id.as_ref().is_some_and(|id| self.preferred.contains(id)))
            })
            .or_else(|| ending().find(|s| s.id.is_none()))
            .or_else(|| ending().next())
    }

    pub fn about_args_task(&self, probe: &str) -> bool {
        self.about_args_task.iter().any(|p| p == probe)
    }
}

/// One parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub select: Vec<Item>,
    pub from: Vec<String>,
    pub filter: Option<Expr>,
    pub group_by: Vec<Expr>,
}

impl Query {
    /// Every term the query reads (values, aggregate arguments, filter, keys), sorted, once each.
    pub fn terms(&self) -> Vec<Term> {
        let mut terms = Vec::new();
        for it in &self.select {
            match it {
                Item::Value(e) | Item::Agg(_, Some(e)) => e.terms(&mut terms),
                Item::Agg(_, None) => {}
            }
        }
        if let Some(f) = &self.filter {
            f.terms(&mut terms);
        }
        for g in &self.group_by {
            g.terms(&mut terms);
        }
        terms.sort();
        terms.dedup();
        terms
    }

    /// Replaces `from` by `to` wherever the query reads it; whether it read it anywhere.
    pub fn replace_term(&mut self, from: &Term, to: &Term) -> bool {
        let mut changed = false;
        for it in &mut self.select {
            if let Item::Value(e) | Item::Agg(_, Some(e)) = it {
                changed |= e.replace_term(from, to);
            }
        }
        for e in self.filter.iter_mut().chain(self.group_by.iter_mut()) {
            changed |= e.replace_term(from, to);
        }
        changed
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Value(Expr),
    Agg(Agg, Option<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    Count,
    Sum,
    Hist,
    Avg,
    Min,
    Max,
}

impl Agg {
    pub fn name(self) -> &'static str {
        match self {
            Agg::Count => "count",
            Agg::Sum => "sum",
            Agg::Hist => "hist",
            Agg::Avg => "avg",
            Agg::Min => "min",
            Agg::Max => "max",
        }
    }

    fn parse(s: &str) -> Option<Agg> {
        Some(match s.to_ascii_lowercase().as_str() {
            "count" => Agg::Count,
            "sum" => Agg::Sum,
            "hist" => Agg::Hist,
            "avg" => Agg::Avg,
            "min" => Agg::Min,
            "max" => Agg::Max,
            _ => return None,
        })
    }
}

/// The values a query can name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Term {
    /// comm, pid, tid, uid, cpu.
    Builtin(String),
    /// `args->NAME` of a tracepoint (enter or exit side of a syscall).
    Field(String),
    /// The result: a syscall's `ret` or a function's `retval`.
    Ret,
    /// Time from a syscall's or function's entry to its return, in ns / us / ms.
    Duration(TimeUnit),
    /// How long the current process has existed, from its task (`curtask`).
    Age(TimeUnit),
    /// Exit status and killing signal of the exiting task (`sched:sched_process_exit`).
    ExitCode,
    ExitSignal,
    /// `arg0`..`arg5` of a uprobe.
    Arg(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimeUnit {
    Ns,
    Us,
    Ms,
}

impl TimeUnit {
    pub fn suffix(self) -> &'static str {
        match self {
            TimeUnit::Ns => "ns",
            TimeUnit::Us => "us",
            TimeUnit::Ms => "ms",
        }
    }
    pub fn divisor(self) -> u64 {
        match self {
            TimeUnit::Ns => 1,
            TimeUnit::Us => 1_000,
            TimeUnit::Ms => 1_000_000,
        }
    }
}

/// A binary operator of the query language (bpftrace's spelling in `symbol`),
/// `contains(field, "s")`, the substring test on a character-array field, and
/// `starts_with(string, "prefix")`, the prefix test on any string (a path under a directory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    BitOr,
    BitXor,
    BitAnd,
    Shl,
    Shr,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Contains,
    StartsWith,
}

impl BinOp {
    /// `==`, `!=`, `<`, `>`, `<=`, `>=`.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge
        )
    }

    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Gt => ">",
            BinOp::Le => "<=",
            BinOp::Ge => ">=",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::BitAnd => "&",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Contains => "contains",
            BinOp::StartsWith => "starts_with",
        }
    }

    /// The operator a token spells (`=` is read as `==`, as people write it in SQL).
    pub fn from_symbol(s: &str) -> Option<BinOp> {
        Some(match s {
            "||" => BinOp::Or,
            "&&" => BinOp::And,
            "==" | "=" => BinOp::Eq,
            "!=" => BinOp::Ne,
            "<" => BinOp::Lt,
            ">" => BinOp::Gt,
            "<=" => BinOp::Le,
            ">=" => BinOp::Ge,
            "|" => BinOp::BitOr,
            "^" => BinOp::BitXor,
            "&" => BinOp::BitAnd,
            "<<" => BinOp::Shl,
            ">>" => BinOp::Shr,
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "/" => BinOp::Div,
            "%" => BinOp::Rem,
            _ => return None,
        })
    }
}

impl fmt::Display for BinOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// A unary operator: `-x`, `!x` (also `NOT x`), `~x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
    BitNot,
}

impl fmt::Display for UnOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnOp::Neg => "-",
            UnOp::Not => "!",
            UnOp::BitNot => "~",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Term(Term),
    Int(i128),
    Str(String),
    /// `str(x)`: the model may write it; strings are read with `str()` anyway.
    StrOf(Box<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(Box<Expr>, BinOp, Box<Expr>),
}

impl Expr {
    /// Every term the expression reads.
    pub fn terms(&self, out: &mut Vec<Term>) {
        match self {
            Expr::Term(t) => out.push(t.clone()),
            Expr::Int(_) | Expr::Str(_) => {}
            Expr::StrOf(e) | Expr::Unary(_, e) => e.terms(out),
            Expr::Binary(a, _, b) => {
                a.terms(out);
                b.terms(out);
            }
        }
    }

    /// The condition with the tests (leaves of its `&&`/`||` tree) `keep` refuses taken out; None
    /// when no test is left. A test taken out holds for every event, so the condition only
    /// widens: `a && b` without `a` is `b`, while `a || b` without `a` holds always and goes
    /// whole (keeping `b` alone would drop the events only `a` let through).
    pub fn retain_tests(self, keep: &mut dyn FnMut(&Expr) -> bool) -> Option<Expr> {
        self.retain(keep, true)
    }

    /// The condition with the tests `keep` refuses taken out of each `&&` and `||` alike: the
    /// tests left decide. For tests an event cannot evaluate (a field it lacks), where the
    /// rest of a disjunction is what applies to that event.
    pub fn retain_evaluable(self, keep: &mut dyn FnMut(&Expr) -> bool) -> Option<Expr> {
        self.retain(keep, false)
    }

    fn retain(self, keep: &mut dyn FnMut(&Expr) -> bool, or_widens: bool) -> Option<Expr> {
        match self {
            Expr::Binary(a, op @ (BinOp::And | BinOp::Or), b) => {
                let a = a.retain(keep, or_widens);
                let b = b.retain(keep, or_widens);
                match (a, b, op) {
                    (Some(a), Some(b), _) => Some(Expr::Binary(Box::new(a), op, Box::new(b))),
                    (_, _, BinOp::Or) if or_widens => None,
                    (a, b, _) => a.or(b),
                }
            }
            test => keep(&test).then_some(test),
        }
    }

    /// Replaces every `from` term with `to`; true when one was replaced.
    pub fn replace_term(&mut self, from: &Term, to: &Term) -> bool {
        match self {
            Expr::Term(t) if t == from => {
                *t = to.clone();
                true
            }
            Expr::Term(_) | Expr::Int(_) | Expr::Str(_) => false,
            Expr::StrOf(e) | Expr::Unary(_, e) => e.replace_term(from, to),
            Expr::Binary(a, _, b) => {
                let x = a.replace_term(from, to);
                b.replace_term(from, to) || x
            }
        }
    }

    /// The condition with each test (leaf of its `&&`/`||` tree) replaced by `f(test)`.
    pub fn map_tests(self, f: &mut dyn FnMut(Expr) -> Expr) -> Expr {
        match self {
            Expr::Binary(a, op @ (BinOp::And | BinOp::Or), b) => {
                Expr::Binary(Box::new(a.map_tests(f)), op, Box::new(b.map_tests(f)))
            }
            test => f(test),
        }
    }

    /// The tests of a filter: its operands of `&&` and `||`, at any depth.
    pub fn tests(&self) -> Vec<&Expr> {
        match self {
            Expr::Binary(a, BinOp::And | BinOp::Or, b) => {
                let mut out = a.tests();
                out.extend(b.tests());
                out
            }
            test => vec![test],
        }
    }

    /// The top-level conjuncts of a filter (`a && b && c` → a, b, c).
    pub fn conjuncts(&self) -> Vec<&Expr> {
        match self {
            Expr::Binary(a, BinOp::And, b) => {
                let mut v = a.conjuncts();
                v.extend(b.conjuncts());
                v
            }
            e => vec![e],
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Term::Builtin(b) => write!(f, "{b}"),
            Term::Field(n) => write!(f, "args->{n}"),
            Term::Ret => write!(f, "ret"),
            Term::Duration(u) => write!(f, "duration_{}", u.suffix()),
            Term::Age(u) => write!(f, "process_age_{}", u.suffix()),
            Term::ExitCode => write!(f, "exit_code"),
            Term::ExitSignal => write!(f, "exit_signal"),
            Term::Arg(i) => write!(f, "arg{i}"),
        }
    }
}

/// A syntax error, with what was expected; sent back to the model as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// bpftrace builtins a query may name; `probe` is the name of the probe that fired (which of
/// several calls it was).
/// `ppid`/`pcomm` are the parent process's PID and name (getppid(2); task_struct's
/// `real_parent`, as execsnoop and exitsnoop print PPID).
pub const BUILTINS: &[&str] = &["comm", "pid", "tid", "uid", "cpu", "probe", "ppid", "pcomm"];

/// Extracts and parses the query of a model reply: the first `SELECT … FROM …` statement,
/// fenced or not.
pub fn parse_reply(reply: &str) -> Result<Query, ParseError> {
    let upper = reply.to_ascii_uppercase();
    let start = upper
        .find("SELECT")
        .ok_or_else(|| ParseError("no SELECT … FROM … query in the reply".into()))?;
    let rest = &reply[start..];
    let end = rest.find("```").unwrap_or(rest.len());
    parse(rest[..end].trim().trim_end_matches(';'))
}

/// Parses one query.
pub fn parse(text: &str) -> Result<Query, ParseError> {
    let clauses = split_clauses(text)?;
    let mut select = Vec::new();
    for item in split_top(clauses.select, ',') {
        select.push(parse_item(item)?);
    }
    if select.is_empty() {
        return Err(ParseError("SELECT lists nothing".into()));
    }
    let from: Vec<String> = split_top(clauses.from, ',')
        .into_iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    if from.is_empty() {
        return Err(ParseError("FROM names no probe".into()));
    }
    let filter = clauses
        .filter
        .map(|w| Parser::new(w).expr_all())
        .transpose()?;
    let mut group_by = Vec::new();
    if let Some(g) = clauses.group_by {
        for e in split_top(g, ',') {
            group_by.push(Parser::new(e).expr_all()?);
        }
    }
    Ok(Query {
        select,
        from,
        filter,
        group_by,
    })
}

struct Clauses<'a> {
    select: &'a str,
    from: &'a str,
    filter: Option<&'a str>,
    group_by: Option<&'a str>,
}

/// Whether what follows `before` is a member's name (`args->group`: chown(2)'s gid field is
/// named `group` in its tracepoint), never a keyword.
fn member(before: &str) -> bool {
    let before = before.trim_end();
    before.ends_with("->") || before.ends_with('.')
}

/// Finds the keywords SELECT, FROM, WHERE and GROUP BY outside string literals and member
/// names.
///
/// Works on bytes: a keyword is ASCII, so where one matches, its start and end are char
/// boundaries of `text` (any other byte, part of a multi-byte char, matches none).
fn split_clauses(text: &str) -> Result<Clauses<'_>, ParseError> {
    let mut marks: Vec<(usize, usize, &str)> = Vec::new(); // (start, end, keyword)
    let bytes = text.as_bytes();
    let mut in_str = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'"' {
            in_str = !in_str;
        } else if !in_str && (i == 0 || !is_word(bytes[i - 1])) {
            for kw in ["SELECT", "FROM", "WHERE", "GROUP"] {
                let end = i + kw.len();
                if bytes
                    .get(i..end)
                    .is_some_and(|w| w.eq_ignore_ascii_case(kw.as_bytes()))
                    && (end == bytes.len() || !is_word(bytes[end]))
                    // An ASCII keyword matched at `i`: a char boundary.
                    && !member(&text[..i])
                {
                    let mut stop = end;
                    if kw == "GROUP" {
                        let after = text[end..].trim_start();
                        let by = after
                            .as_bytes()
                            .get(..2)
                            .is_some_and(|w| w.eq_ignore_ascii_case(b"BY"));
                        if !by {
                            return Err(ParseError("GROUP must be followed by BY".into()));
                        }
                        stop = text.len() - after.len() + 2;
                    }
                    marks.push((i, stop, kw));
                }
            }
        }
        i += 1;
    }
    let order: Vec<&str> = marks.iter().map(|m| m.2).collect();
    let valid = matches!(
        order.as_slice(),
        ["SELECT", "FROM"]
            | ["SELECT", "FROM", "WHERE"]
            | ["SELECT", "FROM", "GROUP"]
            | ["SELECT", "FROM", "WHERE", "GROUP"]
    );
    if !valid || marks[0].0 != 0 {
        return Err(ParseError(
            "a query is SELECT items FROM probes [WHERE condition] [GROUP BY keys], each keyword once and in that order".into(),
        ));
    }
    let body = |k: usize| {
        let end = marks.get(k + 1).map_or(text.len(), |m| m.0);
        text[marks[k].1..end].trim()
    };
    let find = |kw: &str| order.iter().position(|k| *k == kw).map(body);
    Ok(Clauses {
        select: body(0),
        from: body(1),
        filter: find("WHERE"),
        group_by: find("GROUP"),
    })
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Splits on `sep` outside parentheses and string literals.
fn split_top(text: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut start) = (0i32, false, 0);
    for (i, c) in text.char_indices() {
        match c {
            '"' => in_str = !in_str,
            '(' if !in_str => depth += 1,
            ')' if !in_str => depth -= 1,
            c if c == sep && !in_str && depth == 0 => {
                out.push(text[start..i].trim());
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    if !text[start..].trim().is_empty() || !out.is_empty() {
        out.push(text[start..].trim());
    }
    out.retain(|s| !s.is_empty());
    out
}

fn parse_item(text: &str) -> Result<Item, ParseError> {
    // `expr AS name`: the alias is dropped, labels come from the terms.
    let text = match text.to_ascii_lowercase().rfind(" as ") {
        Some(i) if !text[i..].contains('"') => text[..i].trim(),
        _ => text,
    };
    if let Some(open) = text.find('(') {
        if let Some(agg) = Agg::parse(text[..open].trim()) {
            if !text.ends_with(')') {
                return Err(ParseError(format!("`{text}`: missing `)`")));
            }
            let inner = text[open + 1..text.len() - 1].trim();
            let arg = if inner.is_empty() || inner == "*" {
                None
            } else {
                Some(Parser::new(inner).expr_all()?)
            };
            if agg != Agg::Count && arg.is_none() {
                return Err(ParseError(format!("{}() needs a value", agg.name())));
            }
            return Ok(Item::Agg(agg, if agg == Agg::Count { None } else { arg }));
        }
    }
    Ok(Item::Value(Parser::new(text).expr_all()?))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Int(i128),
    Str(String),
    Op(&'static str),
}

const OPS: &[&str] = &[
    "->", "==", "!=", "<=", ">=", "&&", "||", "<<", ">>", "<", ">", "+", "-", "*", "/", "%", "&",
    "|", "^", "!", "~", "(", ")", "=", ",",
];

fn tokenize(text: &str) -> Result<Vec<Tok>, ParseError> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                s.push(chars[i]);
                i += 1;
            }
            if i == chars.len() {
                return Err(ParseError("a string is not closed with `\"`".into()));
            }
            i += 1;
            out.push(Tok::Str(s));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // A unit may follow after a space: `64 MiB`.
            let mut j = i;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            let unit_end = (j..chars.len())
                .find(|&k| !chars[k].is_ascii_alphabetic())
                .unwrap_or(chars.len());
            let unit: String = chars[j..unit_end].iter().collect();
            if j > i && size_unit(&unit).is_some() {
                out.push(Tok::Int(number(&format!("{word}{unit}"))?));
                i = unit_end;
            } else {
                out.push(Tok::Int(number(&word)?));
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let op = OPS
                .iter()
                .find(|o| rest.starts_with(**o))
                .ok_or_else(|| unexpected(&chars[i..]))?;
            i += op.chars().count();
            out.push(Tok::Op(op));
        }
    }
    Ok(out)
}

/// The error for a character no token starts with (`rest` starts with it). Outside string
/// literals a query is ASCII: a word in another script is a string the user did not quote.
fn unexpected(rest: &[char]) -> ParseError {
    let c = rest.first().copied().unwrap_or(' ');
    if c.is_ascii() {
        return ParseError(format!("unexpected `{c}`"));
    }
    let word: String = rest
        .iter()
        .take_while(|c| !c.is_whitespace() && !"()\",".contains(**c))
        .collect();
    ParseError(format!(
        "unexpected `{word}`: outside double quotes a query has only ASCII names, numbers and operators; text is written in double quotes: \"{word}\""
    ))
}

fn size_unit(unit: &str) -> Option<i128> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    })
}

/// `4096`, `0x1000`, `4MiB`, `200MB` (sizes are binary: MB = MiB, as people mean it for memory).
fn number(word: &str) -> Result<i128, ParseError> {
    let bad = || ParseError(format!("`{word}` is not a number"));
    if let Some(hex) = word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        return i128::from_str_radix(hex, 16).map_err(|_| bad());
    }
    let digits_end = word
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(word.len());
    let n: i128 = word[..digits_end]
        .replace('_', "")
        .parse()
        .map_err(|_| bad())?;
    let unit = &word[digits_end..];
    if unit.is_empty() {
        return Ok(n);
    }
    let m = size_unit(unit).ok_or_else(bad)?;
    n.checked_mul(m)
        .ok_or_else(|| ParseError(format!("`{word}` is too large a number")))
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    err: Option<ParseError>,
    /// Parentheses, calls and unary operators open around the current token.
    nesting: usize,
}

/// Bounds on one expression, far above what any query needs: parsing (and everything that
/// walks the tree after) recurses once per level, and a stack is finite.
const MAX_TOKENS: usize = 1_000;
const MAX_NESTING: usize = 50;

/// Binary operators by precedence, loosest first.
const LEVELS: &[&[&str]] = &[
    &["||"],
    &["&&"],
    &["==", "!=", "=", "<", ">", "<=", ">="],
    &["|"],
    &["^"],
    &["&"],
    &["<<", ">>"],
    &["+", "-"],
    &["*", "/", "%"],
];

impl Parser {
    fn new(text: &str) -> Self {
        let toks = tokenize(text).and_then(|toks| {
            if toks.len() > MAX_TOKENS {
                Err(ParseError(format!(
                    "an expression of {} tokens; at most {MAX_TOKENS}",
                    toks.len()
                )))
            } else {
                Ok(toks)
            }
        });
        match toks {
            Ok(toks) => Parser {
                toks,
                pos: 0,
                err: None,
                nesting: 0,
            },
            Err(e) => Parser {
                toks: Vec::new(),
                pos: 0,
                err: Some(e),
                nesting: 0,
            },
        }
    }

    fn expr_all(mut self) -> Result<Expr, ParseError> {
        if let Some(e) = self.err.take() {
            return Err(e);
        }
        let e = self.binary(0)?;
        match self.toks.get(self.pos) {
            None => Ok(e),
            Some(t) => Err(ParseError(format!("unexpected {t:?} after an expression"))),
        }
    }

    fn peek_op(&self) -> Option<&'static str> {
        match self.toks.get(self.pos) {
            Some(Tok::Op(o)) => Some(o),
            Some(Tok::Ident(w)) if w.eq_ignore_ascii_case("and") => Some("&&"),
            Some(Tok::Ident(w)) if w.eq_ignore_ascii_case("or") => Some("||"),
            _ => None,
        }
    }

    fn binary(&mut self, level: usize) -> Result<Expr, ParseError> {
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        while let Some(op) = self.peek_op().filter(|o| LEVELS[level].contains(o)) {
            self.pos += 1;
            let right = self.binary(level + 1)?;
            let Some(op) = BinOp::from_symbol(op) else {
                return Err(ParseError(format!("`{op}` is not an operator")));
            };
            left = Expr::Binary(Box::new(left), op, Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.nesting >= MAX_NESTING {
            return Err(ParseError(format!(
                "an expression nested more than {MAX_NESTING} deep"
            )));
        }
        self.nesting += 1;
        let e = self.unary_nested();
        self.nesting -= 1;
        e
    }

    fn unary_nested(&mut self) -> Result<Expr, ParseError> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Op(op @ ("-" | "!" | "~"))) => {
                self.pos += 1;
                let op = match op {
                    "-" => UnOp::Neg,
                    "!" => UnOp::Not,
                    _ => UnOp::BitNot,
                };
                Ok(Expr::Unary(op, Box::new(self.unary()?)))
            }
            Some(Tok::Ident(w)) if w.eq_ignore_ascii_case("not") => {
                self.pos += 1;
                Ok(Expr::Unary(UnOp::Not, Box::new(self.unary()?)))
            }
            _ => self.primary(),
        }
    }

    fn expect(&mut self, op: &str) -> Result<(), ParseError> {
        match self.toks.get(self.pos) {
            Some(Tok::Op(o)) if *o == op => {
                self.pos += 1;
                Ok(())
            }
            other => Err(ParseError(format!("expected `{op}`, found {other:?}"))),
        }
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let tok = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or_else(|| ParseError("an expression ends too early".into()))?;
        self.pos += 1;
        match tok {
            Tok::Int(n) => Ok(Expr::Int(n)),
            Tok::Str(s) => Ok(Expr::Str(s)),
            Tok::Op("(") => {
                let e = self.binary(0)?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Op(o) => Err(ParseError(format!("unexpected `{o}`"))),
            Tok::Ident(w) => self.word(&w),
        }
    }

    fn word(&mut self, w: &str) -> Result<Expr, ParseError> {
        let lower = w.to_ascii_lowercase();
        if lower == "args" || lower == "args_" {
            self.expect("->")?;
            return match self.toks.get(self.pos).cloned() {
                Some(Tok::Ident(f)) => {
                    self.pos += 1;
                    Ok(Expr::Term(if f == "ret" {
                        Term::Ret
                    } else {
                        Term::Field(f)
                    }))
                }
                other => Err(ParseError(format!(
                    "expected a field name after args->, found {other:?}"
                ))),
            };
        }
        // `contains(args->rwbs, "W")`: a test on a character array; `starts_with(args->filename,
        // "/tmp/")`: a prefix test on a string. Both kept as binary tests.
        let string_test = match lower.as_str() {
            "contains" => Some((
                BinOp::Contains,
                "contains() takes a field and a non-empty string",
            )),
            "starts_with" | "startswith" => Some((
                BinOp::StartsWith,
                "starts_with() takes a string and a non-empty prefix",
            )),
            _ => None,
        };
        if let Some((op, usage)) = string_test {
            self.expect("(")?;
            let hay = self.binary(0)?;
            self.expect(",")?;
            let needle = match self.toks.get(self.pos).cloned() {
                Some(Tok::Str(s)) if !s.is_empty() => s,
                other => return Err(ParseError(format!("{usage}, found {other:?}"))),
            };
            self.pos += 1;
            self.expect(")")?;
            return Ok(Expr::Binary(Box::new(hay), op, Box::new(Expr::Str(needle))));
        }
        if lower == "str" {
            self.expect("(")?;
            let e = self.binary(0)?;
            self.expect(")")?;
            return Ok(Expr::StrOf(Box::new(e)));
        }
        let unit = |s: &str| match s {
            "ns" => Some(TimeUnit::Ns),
            "us" => Some(TimeUnit::Us),
            "ms" => Some(TimeUnit::Ms),
            _ => None,
        };
        let term = match lower.as_str() {
            "ret" | "retval" => Term::Ret,
            "exit_code" => Term::ExitCode,
            "exit_signal" => Term::ExitSignal,
            b if BUILTINS.contains(&b) => Term::Builtin(b.to_owned()),
            d if d.strip_prefix("duration_").and_then(unit).is_some() => {
                Term::Duration(d.strip_prefix("duration_").and_then(unit).unwrap_or(TimeUnit::Ns))
            }
            d if d
                .trim_start_matches("process_")
                .strip_prefix("age_")
                .and_then(unit)
                .is_some() =>
            {
                let u = d.trim_start_matches("process_").strip_prefix("age_");
                Term::Age(u.and_then(unit).unwrap_or(TimeUnit::Ms))
            }
            a if a.len() == 4 && a.starts_with("arg") && (b'0'..=b'5').contains(&a.as_bytes()[3]) => {
                Term::Arg(a.as_bytes()[3] - b'0')
            }
            _ => {
                return Err(ParseError(format!(
                    "`{w}` is not a value a query can read: use args->FIELD, ret, duration_us, comm, pid, tid, uid, cpu, arg0..arg5, process_age_ms, exit_code"
                )))
            }
        };
        Ok(Expr::Term(term))
    }
}

/// An expression as the model wrote it (for notes).
pub fn show(e: &Expr) -> String {
    match e {
        Expr::Term(t) => t.to_string(),
        Expr::Int(n) => n.to_string(),
        Expr::Str(s) => format!("\"{s}\""),
        Expr::StrOf(x) => format!("str({})", show(x)),
        Expr::Unary(op, x) => format!("{op}{}", show(x)),
        Expr::Binary(a, BinOp::Contains, b) => format!("contains({}, {})", show(a), show(b)),
        Expr::Binary(a, BinOp::StartsWith, b) => {
            format!("starts_with({}, {})", show(a), show(b))
        }
        Expr::Binary(a, op, b) => {
            // An OR under an AND (or any logic under another operator) keeps its parentheses:
            // `(a || b) && c` is not `a || b && c`.
            let side = |x: &Expr| match x {
                Expr::Binary(_, BinOp::Or, _) if *op != BinOp::Or => format!("({})", show(x)),
                Expr::Binary(_, BinOp::And, _) if !matches!(op, BinOp::And | BinOp::Or) => {
                    format!("({})", show(x))
                }
                // A mask under a comparison: `(flags & 2) == 2`, as C and bpftrace need it
                // written (there `flags & 2 == 2` is `flags & (2 == 2)`).
                Expr::Binary(_, BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor, _)
                    if op.is_comparison() =>
                {
                    format!("({})", show(x))
                }
                _ => show(x),
            };
            format!("{} {op} {}", side(a), side(b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mask_under_a_comparison_is_shown_in_parentheses() {
        let q = parse("SELECT comm FROM x:y WHERE args->flags & 2 == 2 && args->mode | 1 != 0")
            .expect("parses");
        let f = q.filter.as_ref().expect("a filter");
        assert_eq!(show(f), "(args->flags & 2) == 2 && (args->mode | 1) != 0");
    }

    #[test]
    fn process_age_is_read_with_or_without_its_prefix() {
        for q in ["SELECT process_age_ms FROM x:y", "SELECT age_ms FROM x:y"] {
            let p = parse(q).expect("parses");
            assert_eq!(
                p.select,
                vec![Item::Value(Expr::Term(Term::Age(TimeUnit::Ms)))]
            );
        }
    }

    #[test]
    fn a_field_named_like_a_keyword_is_a_field() {
        // chown(2)'s tracepoint names its gid `group`.
        let q = parse(
            "SELECT pid, args->group FROM tracepoint:syscalls:sys_enter_fchown GROUP BY pid, args -> group",
        )
        .expect("parses");
        assert_eq!(q.select.len(), 2);
        assert_eq!(q.group_by[1], Expr::Term(Term::Field("group".into())));
    }

    #[test]
    fn a_full_query_parses() {
        let q = parse(
            "SELECT comm, pid, args->filename, ret FROM tracepoint:syscalls:sys_enter_openat, tracepoint:syscalls:sys_enter_open WHERE ret < 0 AND comm != \"a,b FROM\" GROUP BY comm",
        )
        .expect("parses");
        assert_eq!(q.select.len(), 4);
        assert_eq!(
            q.from,
            [
                "tracepoint:syscalls:sys_enter_openat",
                "tracepoint:syscalls:sys_enter_open"
            ]
        );
        let f = q.filter.expect("filter");
        assert_eq!(f.conjuncts().len(), 2);
        assert_eq!(q.group_by, [Expr::Term(Term::Builtin("comm".into()))]);
    }

    #[test]
    fn aggregates_units_and_fences() {
        let q = parse_reply(
            "```sql\nSELECT comm, hist(duration_us), count(*) FROM uprobe:/lib/libc.so.6:malloc WHERE arg0 > 4 MiB GROUP BY comm;\n```",
        )
        .expect("parses");
        assert_eq!(
            q.select[1],
            Item::Agg(Agg::Hist, Some(Expr::Term(Term::Duration(TimeUnit::Us))))
        );
        assert_eq!(q.select[2], Item::Agg(Agg::Count, None));
        assert_eq!(
            q.filter,
            Some(Expr::Binary(
                Box::new(Expr::Term(Term::Arg(0))),
                BinOp::Gt,
                Box::new(Expr::Int(4 << 20))
            ))
        );
    }

    #[test]
    fn bad_queries_say_what_is_wrong() {
        for (text, want) in [
            ("SELECT comm", "each keyword once"),
            ("SELECT FROM tracepoint:a:b", "SELECT lists nothing"),
            ("SELECT foo FROM tracepoint:a:b", "`foo` is not a value"),
            (
                "SELECT comm FROM tracepoint:a:b WHERE pid ==",
                "ends too early",
            ),
            ("SELECT sum() FROM tracepoint:a:b", "sum() needs a value"),
        ] {
            let e = parse(text).expect_err(text);
            assert!(e.0.contains(want), "{text}: {e}");
        }
    }
}
