//! Expressions and statements inside bpftrace probe blocks, as kgent reads them to repair a
//! draft: tokens with their byte spans, conditions (a predicate's, an `if`'s) parsed into trees
//! whose every node keeps its span, the top-level `if` statements of a body, and the calls of a
//! name with their arguments.
//!
//! Repairs edit at these spans (see [`super::syntax::Edits`]), never by searching for text. Like
//! [`super::syntax`], this is no judge of syntax (bpftrace is): text it cannot read yields no
//! tree, and callers then leave that text as it is. The operators and their precedence are C's,
//! which bpftrace follows (bpftrace(8), "Operators"; its parser.yy orders `||` `&&` `|` `^` `&`
//! `== !=` `< > <= >=` `<< >>` `+ -` `* / %` from loosest to tightest).
use std::ops::Range;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A name: `args`, `pid`, `str`, `if`, `uint64`.
    Ident(String),
    /// `$name`.
    Var(String),
    /// `@name` (`@` alone for the anonymous map).
    Map(String),
    /// An integer literal, decimal, hex (`0x`) or octal (leading `0`), `_` separators allowed.
    Int(i128),
    /// A string literal as written between its quotes (escapes kept).
    Str(String),
    /// An operator or punctuation: `->`, `==`, `(`, `{`, `;`, …
    Punct(&'static str),
    /// Anything else (a number with a suffix, a stray byte, a multi-byte char).
    Other,
}

/// One token and where it is in the text it was read from (offsets of that text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub span: Range<usize>,
}

impl Token {
    pub fn is(&self, p: &str) -> bool {
        matches!(&self.tok, Tok::Punct(q) if *q == p)
    }

    pub fn ident(&self) -> Option<&str> {
        match &self.tok {
            Tok::Ident(s) => Some(s),
            _ => None,
        }
    }
}

/// Operators, longest first so `->` is not `-` then `>`.
const PUNCTS: &[&str] = &[
    "<<=", ">>=", "->", "==", "!=", "<=", ">=", "&&", "||", "<<", ">>", "++", "--", "+=", "-=",
    "*=", "/=", "%=", "&=", "|=", "^=", "(", ")", "[", "]", "{", "}", ",", ";", ".", "?", ":", "!",
    "~", "+", "-", "*", "/", "%", "&", "|", "^", "<", ">", "=",
];

/// The tokens of `text[range]` (comments must already be gone: see `syntax::strip_comments`).
/// Spans are offsets in `text`. Never fails: what it cannot read is [`Tok::Other`].
pub fn tokens(text: &str, range: Range<usize>) -> Vec<Token> {
    let Some(slice) = text.get(range.clone()) else {
        return Vec::new();
    };
    let bytes = slice.as_bytes();
    let base = range.start;
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let word = |from: usize| {
            let mut k = from;
            while k < bytes.len() && (bytes[k].is_ascii_alphanumeric() || bytes[k] == b'_') {
                k += 1;
            }
            k
        };
        let tok = if b == b'"' {
            let mut k = start + 1;
            let mut closed = false;
            while k < bytes.len() {
                match bytes[k] {
                    b'\\' => k += 2,
                    b'"' => {
                        closed = true;
                        break;
                    }
                    _ => k += 1,
                }
            }
            if closed {
                i = k + 1;
                Tok::Str(slice[start + 1..k].to_owned())
            } else {
                i = bytes.len();
                Tok::Other
            }
        } else if b.is_ascii_digit() {
            i = word(start);
            integer(&slice[start..i]).map_or(Tok::Other, Tok::Int)
        } else if b.is_ascii_alphabetic() || b == b'_' {
            i = word(start);
            Tok::Ident(slice[start..i].to_owned())
        } else if b == b'$' || b == b'@' {
            i = word(start + 1);
            let name = slice[start..i].to_owned();
            if b == b'$' {
                Tok::Var(name)
            } else {
                Tok::Map(name)
            }
        } else if let Some(p) = PUNCTS.iter().find(|p| slice[start..].starts_with(**p)) {
            i = start + p.len();
            Tok::Punct(p)
        } else {
            // One char, whatever its width.
            i = start + slice[start..].chars().next().map_or(1, char::len_utf8);
            Tok::Other
        };
        out.push(Token {
            tok,
            span: base + start..base + i,
        });
    }
    out
}

/// A bpftrace integer literal: decimal, `0x` hex, leading-`0` octal, `_` between digits.
pub fn integer(s: &str) -> Option<i128> {
    let s = s.replace('_', "");
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return i128::from_str_radix(hex, 16).ok();
    }
    if s.len() > 1 && s.starts_with('0') {
        return i128::from_str_radix(&s[1..], 8).ok();
    }
    s.parse().ok()
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Or,
    And,
    BitOr,
    BitXor,
    BitAnd,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Shl,
    Shr,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl Op {
    fn of(p: &str) -> Option<(Op, u8)> {
        Some(match p {
            "||" => (Op::Or, 1),
            "&&" => (Op::And, 2),
            "|" => (Op::BitOr, 3),
            "^" => (Op::BitXor, 4),
            "&" => (Op::BitAnd, 5),
            "==" => (Op::Eq, 6),
            "!=" => (Op::Ne, 6),
            "<" => (Op::Lt, 7),
            ">" => (Op::Gt, 7),
            "<=" => (Op::Le, 7),
            ">=" => (Op::Ge, 7),
            "<<" => (Op::Shl, 8),
            ">>" => (Op::Shr, 8),
            "+" => (Op::Add, 9),
            "-" => (Op::Sub, 9),
            "*" => (Op::Mul, 10),
            "/" => (Op::Div, 10),
            "%" => (Op::Rem, 10),
            _ => return None,
        })
    }
}

/// A prefix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    Not,
    BitNot,
    Neg,
    Deref,
}

/// An expression; every node has its span in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Int(i128),
    Str(String),
    /// A builtin or other bare name: `pid`, `comm`, `retval`, `args`.
    Ident(String),
    Var(String),
    Map(String),
    /// `base->name` or `base.name`.
    Member(Box<Node>, String),
    /// `base[index]`.
    Index(Box<Node>, Box<Node>),
    /// `name(args…)`.
    Call(String, Vec<Node>),
    Prefix(Prefix, Box<Node>),
    Binary(Box<Node>, Op, Box<Node>),
    /// `(type) value`: the type as written (`struct sockaddr_in *`), then the value.
    Cast(String, Box<Node>),
    /// `@map[a, b]`'s keys or a tuple `(a, b)`: two or more expressions.
    Tuple(Vec<Node>),
    /// `( inner )`: the span includes the parentheses.
    Group(Box<Node>),
    /// `c ? a : b`.
    Ternary(Box<Node>, Box<Node>, Box<Node>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub expr: Expr,
    pub span: Range<usize>,
}

impl Node {
    /// The node without the parentheses and casts around it.
    pub fn bare(&self) -> &Node {
        match &self.expr {
            Expr::Group(inner) | Expr::Cast(_, inner) => inner.bare(),
            _ => self,
        }
    }

    /// The field name when this is `args->name` / `args.name` (parentheses and casts aside).
    pub fn args_field(&self) -> Option<&str> {
        match &self.bare().expr {
            Expr::Member(base, name) if base.bare().expr == Expr::Ident("args".into()) => {
                Some(name)
            }
            _ => None,
        }
    }

    /// Whether a `$variable` or `@map` occurs anywhere in the expression.
    pub fn reads_state(&self) -> bool {
        match &self.expr {
            Expr::Var(_) | Expr::Map(_) => true,
            Expr::Int(_) | Expr::Str(_) | Expr::Ident(_) => false,
            Expr::Member(n, _) | Expr::Prefix(_, n) | Expr::Cast(_, n) | Expr::Group(n) => {
                n.reads_state()
            }
            Expr::Tuple(items) => items.iter().any(Node::reads_state),
            Expr::Index(a, b) | Expr::Binary(a, _, b) => a.reads_state() || b.reads_state(),
            Expr::Call(_, args) => args.iter().any(Node::reads_state),
            Expr::Ternary(a, b, c) => a.reads_state() || b.reads_state() || c.reads_state(),
        }
    }

    /// The operands of a chain of `op` (`a && b && c` → a, b, c), parentheses kept.
    pub fn operands(&self, op: Op) -> Vec<&Node> {
        match &self.expr {
            Expr::Binary(a, o, b) if *o == op => {
                let mut v = a.operands(op);
                v.extend(b.operands(op));
                v
            }
            _ => vec![self],
        }
    }
}

/// Type names a parenthesised cast may start with (bpftrace(8), "Type conversion").
const TYPE_WORDS: &[&str] = &[
    "struct", "union", "enum", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
    "uint64", "int", "unsigned", "signed", "char", "short", "long", "void", "bool", "u8", "u16",
    "u32", "u64", "s8", "s16", "s32", "s64",
];

/// The expression `toks` make up, or None when they are not exactly one expression kgent can
/// read.
pub fn parse(toks: &[Token]) -> Option<Node> {
    let mut p = Parser { toks, at: 0 };
    let node = p.ternary()?;
    (p.at == toks.len()).then_some(node)
}

struct Parser<'t> {
    toks: &'t [Token],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.at)
    }

    fn eat(&mut self, p: &str) -> Option<Range<usize>> {
        let t = self.peek()?;
        if !t.is(p) {
            return None;
        }
        let span = t.span.clone();
        self.at += 1;
        Some(span)
    }

    fn ternary(&mut self) -> Option<Node> {
        let cond = self.binary(1)?;
        if self.eat("?").is_none() {
            return Some(cond);
        }
        let yes = self.ternary()?;
        self.eat(":")?;
        let no = self.ternary()?;
        let span = cond.span.start..no.span.end;
        Some(Node {
            expr: Expr::Ternary(Box::new(cond), Box::new(yes), Box::new(no)),
            span,
        })
    }

    /// Precedence climbing over the binary operators of [`Op::of`].
    fn binary(&mut self, min: u8) -> Option<Node> {
        let mut lhs = self.prefix()?;
        while let Some((op, prec)) = self.peek().and_then(|t| match &t.tok {
            Tok::Punct(p) => Op::of(p),
            _ => None,
        }) {
            if prec < min {
                break;
            }
            self.at += 1;
            let rhs = self.binary(prec + 1)?;
            let span = lhs.span.start..rhs.span.end;
            lhs = Node {
                expr: Expr::Binary(Box::new(lhs), op, Box::new(rhs)),
                span,
            };
        }
        Some(lhs)
    }

    fn prefix(&mut self) -> Option<Node> {
        let t = self.peek()?.clone();
        let op = match &t.tok {
            Tok::Punct("!") => Some(Prefix::Not),
            Tok::Punct("~") => Some(Prefix::BitNot),
            Tok::Punct("-") => Some(Prefix::Neg),
            Tok::Punct("*") => Some(Prefix::Deref),
            _ => None,
        };
        if let Some(op) = op {
            self.at += 1;
            let inner = self.prefix()?;
            let span = t.span.start..inner.span.end;
            // A negative literal is a literal.
            if let (Prefix::Neg, Expr::Int(n)) = (op, &inner.expr) {
                return Some(Node {
                    expr: Expr::Int(-n),
                    span,
                });
            }
            return Some(Node {
                expr: Expr::Prefix(op, Box::new(inner)),
                span,
            });
        }
        if t.is("(") && self.is_cast() {
            let close = self.closing(self.at)?;
            let ty = self.toks[self.at + 1..close]
                .iter()
                .map(|t| match &t.tok {
                    Tok::Ident(name) => name.as_str(),
                    _ => "*",
                })
                .collect::<Vec<_>>()
                .join(" ");
            self.at = close + 1;
            let inner = self.prefix()?;
            let span = t.span.start..inner.span.end;
            return Some(Node {
                expr: Expr::Cast(ty, Box::new(inner)),
                span,
            });
        }
        self.postfix()
    }

    /// One expression, or two or more separated by commas as a [`Expr::Tuple`].
    fn list(&mut self, start: usize) -> Option<Node> {
        let first = self.ternary()?;
        if !self.peek().is_some_and(|t| t.is(",")) {
            return Some(first);
        }
        let mut items = vec![first];
        while self.eat(",").is_some() {
            items.push(self.ternary()?);
        }
        let end = items.last().map_or(start, |n| n.span.end);
        Some(Node {
            expr: Expr::Tuple(items),
            span: start..end,
        })
    }

    /// `(` starts a cast: a type name, then only names and `*` up to its `)`.
    fn is_cast(&self) -> bool {
        let Some(first) = self.toks.get(self.at + 1).and_then(Token::ident) else {
            return false;
        };
        let Some(close) = self.closing(self.at) else {
            return false;
        };
        TYPE_WORDS.contains(&first)
            && self.toks[self.at + 1..close]
                .iter()
                .all(|t| t.ident().is_some() || t.is("*"))
    }

    /// The index of the `)` that closes the `(` at `open`.
    fn closing(&self, open: usize) -> Option<usize> {
        let mut depth = 0usize;
        for (k, t) in self.toks.iter().enumerate().skip(open) {
            if t.is("(") {
                depth += 1;
            } else if t.is(")") {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(k);
                }
            }
        }
        None
    }

    fn postfix(&mut self) -> Option<Node> {
        let mut node = self.primary()?;
        loop {
            if self.eat("->").is_some() || self.eat(".").is_some() {
                let t = self.peek()?.clone();
                let name = match &t.tok {
                    Tok::Ident(s) => s.clone(),
                    Tok::Int(n) => n.to_string(),
                    _ => return None,
                };
                self.at += 1;
                let span = node.span.start..t.span.end;
                node = Node {
                    expr: Expr::Member(Box::new(node), name),
                    span,
                };
            } else if let Some(open) = self.eat("[") {
                let index = self.list(open.start)?;
                let end = self.eat("]")?;
                let span = node.span.start..end.end;
                node = Node {
                    expr: Expr::Index(Box::new(node), Box::new(index)),
                    span,
                };
            } else {
                return Some(node);
            }
        }
    }

    fn primary(&mut self) -> Option<Node> {
        let t = self.peek()?.clone();
        self.at += 1;
        let expr = match &t.tok {
            Tok::Int(n) => Expr::Int(*n),
            Tok::Str(s) => Expr::Str(s.clone()),
            Tok::Var(v) => Expr::Var(v.clone()),
            Tok::Map(m) => Expr::Map(m.clone()),
            Tok::Ident(name) if self.peek().is_some_and(|n| n.is("(")) => {
                self.at += 1;
                let mut args = Vec::new();
                let end = loop {
                    if let Some(end) = self.eat(")") {
                        break end;
                    }
                    if !args.is_empty() {
                        self.eat(",")?;
                    }
                    args.push(self.ternary()?);
                };
                return Some(Node {
                    expr: Expr::Call(name.clone(), args),
                    span: t.span.start..end.end,
                });
            }
            Tok::Ident(name) => Expr::Ident(name.clone()),
            Tok::Punct("(") => {
                let inner = self.list(t.span.start)?;
                let end = self.eat(")")?;
                let expr = match inner.expr {
                    Expr::Tuple(_) => inner.expr,
                    _ => Expr::Group(Box::new(inner)),
                };
                return Some(Node {
                    expr,
                    span: t.span.start..end.end,
                });
            }
            _ => return None,
        };
        Some(Node { expr, span: t.span })
    }
}

/// A top-level `if (condition) { … }` of a block body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfStatement {
    /// `if` to the closing brace of its block (an `else` is not included).
    pub span: Range<usize>,
    /// The condition between the parentheses.
    pub condition: Range<usize>,
    /// Between the braces.
    pub body: Range<usize>,
    /// An `else` follows.
    pub has_else: bool,
}

/// The index of the token closing the one opened at `open` (`(`→`)`, `{`→`}`, `[`→`]`).
pub fn matching(toks: &[Token], open: usize) -> Option<usize> {
    let (o, c) = match &toks.get(open)?.tok {
        Tok::Punct("(") => ("(", ")"),
        Tok::Punct("{") => ("{", "}"),
        Tok::Punct("[") => ("[", "]"),
        _ => return None,
    };
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().skip(open) {
        if t.is(o) {
            depth += 1;
        } else if t.is(c) {
            depth = depth.checked_sub(1)?;
            if depth == 0 {
                return Some(k);
            }
        }
    }
    None
}

/// The `if` statements at the top level of a body (`toks` are the body's tokens): not those
/// nested in another statement's braces.
pub fn top_level_ifs(toks: &[Token]) -> Vec<IfStatement> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < toks.len() {
        if toks[k].is("{") {
            k = matching(toks, k).map_or(toks.len(), |c| c + 1);
            continue;
        }
        // `else if` belongs to the statement before it.
        let after_else = k > 0 && toks[k - 1].ident() == Some("else");
        let is_if = toks[k].ident() == Some("if")
            && toks.get(k + 1).is_some_and(|t| t.is("("))
            && !after_else;
        if !is_if {
            k += 1;
            continue;
        }
        let Some(close) = matching(toks, k + 1) else {
            break;
        };
        if !toks.get(close + 1).is_some_and(|t| t.is("{")) {
            k = close + 1;
            continue;
        }
        let Some(end) = matching(toks, close + 1) else {
            break;
        };
        let (Some(open_paren), Some(open_brace)) = (toks.get(k + 1), toks.get(close + 1)) else {
            break;
        };
        out.push(IfStatement {
            span: toks[k].span.start..toks[end].span.end,
            condition: open_paren.span.end..toks[close].span.start,
            body: open_brace.span.end..toks[end].span.start,
            has_else: toks.get(end + 1).and_then(Token::ident) == Some("else"),
        });
        k = end + 1;
    }
    out
}

/// One call of a named function: its span and its arguments' spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSite {
    pub span: Range<usize>,
    pub args: Vec<Range<usize>>,
}

/// Every call of `name` in `toks`, nested ones included.
pub fn calls(toks: &[Token], name: &str) -> Vec<CallSite> {
    let mut out = Vec::new();
    for (k, t) in toks.iter().enumerate() {
        if t.ident() != Some(name) || !toks.get(k + 1).is_some_and(|n| n.is("(")) {
            continue;
        }
        let Some(close) = matching(toks, k + 1) else {
            continue;
        };
        let mut args = Vec::new();
        let mut start = k + 2;
        let mut depth = 0usize;
        for j in k + 2..=close {
            let tj = &toks[j];
            if tj.is("(") || tj.is("[") || tj.is("{") {
                depth += 1;
            } else if (tj.is(")") || tj.is("]") || tj.is("}")) && j != close {
                depth = depth.saturating_sub(1);
            } else if (tj.is(",") && depth == 0) || j == close {
                if start < j {
                    args.push(toks[start].span.start..toks[j - 1].span.end);
                }
                start = j + 1;
            }
        }
        out.push(CallSite {
            span: t.span.start..toks[close].span.end,
            args,
        });
    }
    out
}

/// A printf conversion: where its letter is in the format text, and the letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    /// Offset of the conversion letter within the format's text.
    pub at: usize,
    pub letter: char,
}

/// The conversions of a printf format (its text between the quotes), in argument order;
/// `%%` is not one. Flags, width, precision and length modifiers are skipped (printf(3)).
pub fn conversions(format: &str) -> Vec<Conversion> {
    let bytes = format.as_bytes();
    let mut out = Vec::new();
    let mut k = 0;
    while k < bytes.len() {
        if bytes[k] != b'%' {
            k += 1;
            continue;
        }
        k += 1;
        if bytes.get(k) == Some(&b'%') {
            k += 1;
            continue;
        }
        while k < bytes.len() && b"-+ #0123456789.hlzjt".contains(&bytes[k]) {
            k += 1;
        }
        if let Some(&c) = bytes.get(k) {
            if c.is_ascii_alphabetic() {
                out.push(Conversion {
                    at: k,
                    letter: char::from(c),
                });
            }
        }
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Node {
        parse(&tokens(text, 0..text.len())).unwrap_or_else(|| panic!("parses: {text}"))
    }

    #[test]
    fn conditions_parse_with_c_precedence_and_spans() {
        let text = "str(args->name) == \"eth0\" && (pid != 1 || @start[tid]) && args->ret < -2";
        let n = tree(text);
        let parts = n.operands(Op::And);
        assert_eq!(parts.len(), 3);
        assert_eq!(&text[parts[0].span.clone()], "str(args->name) == \"eth0\"");
        assert_eq!(&text[parts[1].span.clone()], "(pid != 1 || @start[tid])");
        assert!(parts[1].reads_state());
        let Expr::Binary(l, Op::Lt, r) = &parts[2].expr else {
            panic!("{:?}", parts[2]);
        };
        assert_eq!(l.args_field(), Some("ret"));
        assert_eq!(r.expr, Expr::Int(-2));
        // `&` binds looser than `!=`, as in C.
        let Expr::Binary(_, op, _) = tree("args->flags & 64 != 0").expr else {
            panic!();
        };
        assert_eq!(op, Op::BitAnd);
    }

    #[test]
    fn casts_members_and_literals() {
        let n = tree("(uint64)args->len >= 0x10");
        let Expr::Binary(l, Op::Ge, r) = &n.expr else {
            panic!("{n:?}");
        };
        assert!(matches!(&l.expr, Expr::Cast(ty, _) if ty == "uint64"));
        assert_eq!(l.args_field(), Some("len"));
        let ptr = tree("((struct sockaddr_in *)args->uservaddr)->sin_port");
        let Expr::Member(base, _) = &ptr.expr else {
            panic!("{ptr:?}");
        };
        assert!(
            matches!(&base.bare().expr, Expr::Member(..)),
            "the cast is looked through: {base:?}"
        );
        let Expr::Group(cast) = &base.expr else {
            panic!("{base:?}");
        };
        assert!(matches!(&cast.expr, Expr::Cast(ty, _) if ty == "struct sockaddr_in *"));
        let keys = tree("@m[pid, comm]");
        assert!(
            matches!(&keys.expr, Expr::Index(_, k) if matches!(&k.expr, Expr::Tuple(items) if items.len() == 2))
        );
        assert_eq!(r.expr, Expr::Int(16));
        assert_eq!(tree("0644").expr, Expr::Int(0o644));
        assert_eq!(tree("1_000").expr, Expr::Int(1000));
        // A parenthesised name is not a cast.
        assert!(matches!(tree("(pid) + 1").expr, Expr::Binary(..)));
        let member = "((struct sock *)arg0)->__sk_common.skc_dport";
        assert_eq!(tree(member).span, 0..member.len());
        for bad in ["a ==", "(a", "f(a,", "1 2", "10ms > 1", "\"open"] {
            assert!(parse(&tokens(bad, 0..bad.len())).is_none(), "{bad}");
        }
    }

    #[test]
    fn top_level_ifs_and_their_parts() {
        let body = " if (pid == 1) { if (tid) { @a = 1; } } else { @b = 2; } $x = 1; if (comm == \"a{\") { printf(\"}\\n\"); } ";
        let ifs = top_level_ifs(&tokens(body, 0..body.len()));
        assert_eq!(ifs.len(), 2, "{ifs:?}");
        assert_eq!(&body[ifs[0].condition.clone()], "pid == 1");
        assert!(ifs[0].has_else);
        assert_eq!(&body[ifs[1].condition.clone()], "comm == \"a{\"");
        assert_eq!(&body[ifs[1].body.clone()], " printf(\"}\\n\"); ");
        assert!(body[ifs[1].span.clone()].starts_with("if (comm"));
        assert!(body[ifs[1].span.clone()].ends_with('}'));
    }

    #[test]
    fn calls_split_their_arguments_at_top_level_commas() {
        let body = "printf(\"%s %d\\n\", str(args->a, 8), @m[pid, tid]); printf(\"x\")";
        let c = calls(&tokens(body, 0..body.len()), "printf");
        assert_eq!(c.len(), 2);
        let args: Vec<&str> = c[0].args.iter().map(|a| &body[a.clone()]).collect();
        assert_eq!(args, ["\"%s %d\\n\"", "str(args->a, 8)", "@m[pid, tid]"]);
        assert_eq!(c[1].args.len(), 1);
    }

    #[test]
    fn printf_conversions_in_order() {
        let c = conversions("%-16s %% pid=%5d %llu%c\\n");
        let letters: String = c.iter().map(|c| c.letter).collect();
        assert_eq!(letters, "sduc");
        assert_eq!(c[0].at, 4);
    }

    #[test]
    fn odd_text_yields_tokens_not_panics() {
        for text in [
            "µ == \"é",
            "\"",
            "0x",
            "@",
            "$",
            "9999999999999999999999999999999999999999",
            "if ( { ) }",
        ] {
            let toks = tokens(text, 0..text.len());
            let _ = parse(&toks);
            let _ = top_level_ifs(&toks);
            let _ = calls(&toks, "if");
            for t in &toks {
                let _ = &text[t.span.clone()];
            }
        }
        assert!(tokens("abc", 2..9).is_empty());
    }
}
