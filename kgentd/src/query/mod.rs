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

/// One parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub select: Vec<Item>,
    pub from: Vec<String>,
    pub filter: Option<Expr>,
    pub group_by: Vec<Expr>,
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

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Term(Term),
    Int(i128),
    Str(String),
    /// `str(x)`: the model may write it; strings are read with `str()` anyway.
    StrOf(Box<Expr>),
    Unary(&'static str, Box<Expr>),
    Binary(Box<Expr>, &'static str, Box<Expr>),
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
    /// when no test is left.
    pub fn retain_tests(self, keep: &mut dyn FnMut(&Expr) -> bool) -> Option<Expr> {
        match self {
            Expr::Binary(a, op @ ("&&" | "||"), b) => {
                let a = a.retain_tests(keep);
                let b = b.retain_tests(keep);
                match (a, b) {
                    (Some(a), Some(b)) => Some(Expr::Binary(Box::new(a), op, Box::new(b))),
                    (a, b) => a.or(b),
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
            Expr::Binary(a, op @ ("&&" | "||"), b) => {
                Expr::Binary(Box::new(a.map_tests(f)), op, Box::new(b.map_tests(f)))
            }
            test => f(test),
        }
    }

    /// The top-level conjuncts of a filter (`a && b && c` → a, b, c).
    pub fn conjuncts(&self) -> Vec<&Expr> {
        match self {
            Expr::Binary(a, "&&", b) => {
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

pub const BUILTINS: &[&str] = &["comm", "pid", "tid", "uid", "cpu"];

/// The one time unit a request asks for ("in milliseconds", "µs"), if it names exactly one:
/// durations and ages are then read in it. "us" alone is English, so microseconds count only
/// spelled out, as µs, or right after a number.
pub fn stated_time_unit(request: &str) -> Option<TimeUnit> {
    static UNITS: std::sync::LazyLock<[(TimeUnit, regex::Regex); 3]> =
        std::sync::LazyLock::new(|| {
            let re = |s: &str| regex::Regex::new(s).expect("static regex");
            [
                (TimeUnit::Ms, re(r"(?i)\b(milli-?seconds?|msecs?|ms)\b")),
                (
                    TimeUnit::Us,
                    re(r"(?i)\b(micro-?seconds?|usecs?)\b|µs|\d\s*us\b|\bin us\b"),
                ),
                (
                    TimeUnit::Ns,
                    re(r"(?i)\b(nano-?seconds?|nsecs?)\b|\d\s*ns\b|\bin ns\b"),
                ),
            ]
        });
    let mut found = UNITS.iter().filter(|(_, re)| re.is_match(request));
    match (found.next(), found.next()) {
        (Some((u, _)), None) => Some(*u),
        _ => None,
    }
}

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

/// Finds the keywords SELECT, FROM, WHERE and GROUP BY outside string literals.
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
            let op = if op == "=" { "==" } else { op };
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
                Ok(Expr::Unary(op, Box::new(self.unary()?)))
            }
            Some(Tok::Ident(w)) if w.eq_ignore_ascii_case("not") => {
                self.pos += 1;
                Ok(Expr::Unary("!", Box::new(self.unary()?)))
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
        // `contains(args->rwbs, "W")`: a test on a character array, kept as a binary test.
        if lower == "contains" {
            self.expect("(")?;
            let hay = self.binary(0)?;
            self.expect(",")?;
            let needle = match self.toks.get(self.pos).cloned() {
                Some(Tok::Str(s)) if !s.is_empty() => s,
                other => {
                    return Err(ParseError(format!(
                        "contains() takes a field and a non-empty string, found {other:?}"
                    )))
                }
            };
            self.pos += 1;
            self.expect(")")?;
            return Ok(Expr::Binary(
                Box::new(hay),
                "contains",
                Box::new(Expr::Str(needle)),
            ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_time_unit_a_request_states_is_found() {
        let u = stated_time_unit;
        assert_eq!(u("total CPU time in milliseconds"), Some(TimeUnit::Ms));
        assert_eq!(u("latency histogram in microseconds"), Some(TimeUnit::Us));
        assert_eq!(u("calls slower than 10us"), Some(TimeUnit::Us));
        assert_eq!(u("latency in nanoseconds"), Some(TimeUnit::Ns));
        assert_eq!(u("show us which files are opened"), None, "us is a word");
        assert_eq!(
            u("in ms, with a histogram in microseconds"),
            None,
            "two units"
        );
        assert_eq!(u("how long each call takes"), None);
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
                ">",
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

/// Drops the filter tests the request does not state, and says which. A test is stated when
/// every literal in it appears in the request (numbers with their units: `64 MiB`, `200 MB`;
/// 0 always counts, as in `ret < 0`), or when the field it tests is named in the request
/// (`mode` in "the new mode"). A small model adds tests of its own (`args->fd != -1`,
/// `comm != "kworker"`) that silently hide the events asked for. Facts the model was shown do
/// not state tests: "fd is -1 for anonymous mappings" became `args->fd != -1` in a request
/// about every large mapping.
pub fn prune_filter(q: &mut Query, request: &str) -> Vec<String> {
    let lower = request.to_ascii_lowercase();
    let numbers = request_numbers(&lower);
    let mut dropped = Vec::new();
    if let Some(f) = q.filter.take() {
        q.filter = f.retain_tests(&mut |test| {
            let ok = stated(test, &lower, &numbers);
            if !ok {
                dropped.push(show(test));
            }
            ok
        });
    }
    dropped
}

fn stated(test: &Expr, request: &str, numbers: &[i128]) -> bool {
    let mut terms = Vec::new();
    test.terms(&mut terms);
    let named = terms.iter().any(|t| match t {
        Term::Field(f) => {
            f.len() >= 3
                && request
                    .match_indices(f.as_str())
                    .any(|(i, _)| word_at(request, i, f.len()))
        }
        _ => false,
    });
    // A string compared for equality must itself be stated: "the command string it passed"
    // names the field, not the value `command == "shell"`.
    let string_test = matches!(test, Expr::Binary(a, "==" | "!=", b)
        if matches!(**a, Expr::Str(_)) || matches!(**b, Expr::Str(_)));
    (named && !string_test)
        || weak_zero_test(test)
        || literals_stated(test, request, numbers)
        || code_stated(test, request)
}

/// `contains(args->rwbs, "W")` when the request says "write" (see `specs::Codes`), and no
/// other letter of the field: "separately for reads and writes" splits, it does not filter.
fn code_stated(test: &Expr, request: &str) -> bool {
    let Expr::Binary(a, "contains", b) = test else {
        return false;
    };
    let (Expr::Term(Term::Field(f)), Expr::Str(letter)) = (&**a, &**b) else {
        return false;
    };
    crate::knowledge::specs::codes().iter().any(|c| {
        c.field == *f
            && c.stated(letter, request)
            && !c
                .letters
                .keys()
                .any(|l| l != letter && c.stated(l, request))
    })
}

/// `x != 0` and `x > 0` (set, non-null, positive), and comparisons of a result with 0
/// (`ret < 0`: failed; `exit_code != 0`): tests that state a common meaning, not a choice.
/// `args->len == 0` is a real filter and must be stated.
fn weak_zero_test(test: &Expr) -> bool {
    let Expr::Binary(a, op, b) = test else {
        return false;
    };
    if **b != Expr::Int(0) {
        return false;
    }
    let result = matches!(
        **a,
        Expr::Term(Term::Ret | Term::ExitCode | Term::ExitSignal)
    );
    result || matches!(*op, "!=" | ">")
}

fn literals_stated(e: &Expr, request: &str, numbers: &[i128]) -> bool {
    match e {
        Expr::Int(n) => {
            numbers.contains(n) || n.checked_neg().is_some_and(|m| numbers.contains(&m))
        }
        // A string counts when the request quotes it: "run shell commands" does not state
        // `command == "shell"`.
        Expr::Str(s) => {
            let s = s.to_ascii_lowercase();
            ['\'', '"', '`']
                .iter()
                .any(|q| request.contains(&format!("{q}{s}{q}")))
        }
        Expr::Term(_) => true,
        Expr::StrOf(x) | Expr::Unary(_, x) => literals_stated(x, request, numbers),
        Expr::Binary(a, _, b) => {
            literals_stated(a, request, numbers) && literals_stated(b, request, numbers)
        }
    }
}

fn word_at(s: &str, start: usize, len: usize) -> bool {
    let ok = |c: Option<char>| !c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    ok(s[..start].chars().next_back()) && ok(s[start + len..].chars().next())
}

/// The numbers a request states, each also multiplied out by its unit (binary and decimal).
fn request_numbers(lower: &str) -> Vec<i128> {
    static NUM: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(\d+)\s*(kib|mib|gib|kb|mb|gb|k|m|g)?\b").expect("static regex")
    });
    let mut out = Vec::new();
    for c in NUM.captures_iter(lower) {
        let Ok(n) = c[1].parse::<i128>() else {
            continue;
        };
        out.push(n);
        let (bin, dec) = match c.get(2).map(|m| m.as_str()) {
            Some("k" | "kb" | "kib") => (1 << 10, 1_000),
            Some("m" | "mb" | "mib") => (1 << 20, 1_000_000),
            Some("g" | "gb" | "gib") => (1 << 30, 1_000_000_000),
            _ => continue,
        };
        out.extend(n.checked_mul(bin));
        out.extend(n.checked_mul(dec));
    }
    out
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
pub fn normalize(q: &mut Query, request: &str) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(f) = q.filter.take() {
        q.filter = Some(f.map_tests(&mut |test| code_test(test, &mut notes)));
    }
    // What a process "returns" is its exit code.
    if !q.from.is_empty() && q.from.iter().all(|p| p.ends_with(":sched_process_exit")) {
        let mut changed = false;
        let mut swap = |e: &mut Expr| changed |= e.replace_term(&Term::Ret, &Term::ExitCode);
        for it in &mut q.select {
            if let Item::Value(e) | Item::Agg(_, Some(e)) = it {
                swap(e);
            }
        }
        q.filter.iter_mut().for_each(&mut swap);
        q.group_by.iter_mut().for_each(&mut swap);
        if changed {
            notes.push("a process has no return value: ret is its exit_code".into());
        }
    }
    let mut terms = Vec::new();
    for it in &q.select {
        if let Item::Value(e) | Item::Agg(_, Some(e)) = it {
            e.terms(&mut terms);
        }
    }
    let calls = q.from.iter().all(|p| {
        p.contains(":sys_enter_")
            || p.contains(":sys_exit_")
            || p.starts_with("uprobe:")
            || p.starts_with("uretprobe:")
    });
    if calls && !terms.contains(&Term::Ret) && crate::check::asks_for_return(request) {
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
    let lower = request.to_ascii_lowercase();
    q.group_by.retain(|k| {
        let Expr::Term(t) = k else { return true };
        let name = match t {
            Term::Builtin(b) if b == "tid" => "thread",
            Term::Field(f) => f.as_str(),
            _ => return true,
        };
        let per_instance = name == "thread"
            || ["sector", "skaddr", "skbaddr", "cookie", "ptr"]
                .iter()
                .any(|s| name.ends_with(s));
        let asked = lower
            .match_indices(name)
            .any(|(i, _)| i == 0 || !lower.as_bytes()[i - 1].is_ascii_alphanumeric());
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
    let Expr::Binary(a, "==", b) = &test else {
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
            let new = Expr::Binary(a.clone(), "contains", Box::new(Expr::Str(l)));
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

fn is_identifier(t: &Term) -> bool {
    match t {
        Term::Builtin(b) => matches!(b.as_str(), "pid" | "tid" | "uid" | "cpu"),
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

/// An expression as the model wrote it (for notes).
pub fn show(e: &Expr) -> String {
    match e {
        Expr::Term(t) => t.to_string(),
        Expr::Int(n) => n.to_string(),
        Expr::Str(s) => format!("\"{s}\""),
        Expr::StrOf(x) => format!("str({})", show(x)),
        Expr::Unary(op, x) => format!("{op}{}", show(x)),
        Expr::Binary(a, "contains", b) => format!("contains({}, {})", show(a), show(b)),
        Expr::Binary(a, op, b) => format!("{} {op} {}", show(a), show(b)),
    }
}

#[cfg(test)]
mod prune_tests {
    use super::*;

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
    fn a_request_for_what_calls_returned_reads_ret() {
        let request = "a histogram of how many bytes each read() call returned";
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
        let dropped = prune_filter(&mut q, request);
        (q.filter.as_ref().map(show), dropped)
    }

    #[test]
    fn a_code_letter_test_is_stated_by_its_word() {
        let q = "SELECT comm, sum(args->bytes) FROM tracepoint:block:block_rq_issue WHERE contains(args->rwbs, \"W\") GROUP BY comm";
        let (kept, _) = pruned("sum the bytes of write requests per process", q);
        assert_eq!(kept.as_deref(), Some("contains(args->rwbs, \"W\")"));
        let (kept, dropped) = pruned("sum the bytes of requests per process", q);
        assert_eq!((kept, dropped.len()), (None, 1));
        let (kept, _) = pruned("latency separately for reads and writes", q);
        assert_eq!(kept, None, "two letters named: a split, not a filter");
    }

    #[test]
    fn a_named_field_does_not_state_a_string_value() {
        let (kept, dropped) = pruned(
            "which programs run shell commands through system(): the exact command string",
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
