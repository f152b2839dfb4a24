//! A bpftrace program as the symbolic verifier reads it: its probe blocks, each a predicate and
//! a list of statements (assignments to scratch variables and maps, aggregations, `printf`,
//! `if`/`else`, `delete`, `exit`), every expression a tree from [`expr`].
//!
//! Reading only: nothing here judges syntax (bpftrace does) or gives meaning to a statement
//! (`exec` does). A statement this reader cannot take apart is kept as [`Stmt::Opaque`] with its
//! text, so the verifier can say what it did not model instead of guessing.
use crate::toolchain::bpftrace::expr::{self, Expr, Node, Tok, Token};
use crate::toolchain::bpftrace::syntax::{probe_blocks, ProbeSpec};

/// What a map assignment stores.
#[derive(Debug, Clone, PartialEq)]
pub enum Store {
    /// `@m[k] = value`.
    Value(Node),
    /// `@m[k] += value` (and `-=`, `++`, `--`): the old value with `op` applied.
    Update(expr::Op, Node),
    /// `@m[k] = count()`, `sum(v)`, `hist(v)`, …: an aggregation and its argument.
    Aggregate(String, Option<Node>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    /// `$x = value` (and `$x += value`, `$x++`, stored as the computed value).
    Var(String, Node),
    /// `@m[keys] …`: the map, its keys (none for a bare `@m`), what is stored.
    Map {
        map: String,
        keys: Vec<Node>,
        store: Store,
    },
    Delete {
        map: String,
        keys: Vec<Node>,
    },
    /// `printf(format, args…)`, `print(…)`, `join(…)`, `cat(…)`, `system(…)`: the program shows
    /// something. `format` is empty for calls that have none.
    Output {
        call: String,
        format: String,
        args: Vec<Node>,
    },
    If {
        condition: Node,
        then: Vec<Stmt>,
        otherwise: Vec<Stmt>,
    },
    Exit,
    /// A statement this reader does not take apart, as written.
    Opaque(String),
}

/// One probe block: the probes it attaches to, its predicate, its statements.
#[derive(Debug, Clone)]
pub struct Block {
    pub probes: Vec<ProbeSpec>,
    /// The predicate; `Err(text)` when it could not be read.
    pub predicate: Option<Result<Node, String>>,
    pub body: Vec<Stmt>,
}

impl Block {
    /// Whether this block runs for the probe `probe` (`tracepoint:sys:ev`, `BEGIN`, …): written
    /// exactly, with the short prefix, or matched by a `*` wildcard.
    pub fn attaches_to(&self, probe: &str) -> bool {
        self.probes.iter().any(|p| {
            let written = if p.target.is_empty() {
                p.prefix.clone()
            } else {
                format!("{}:{}", full_prefix(&p.prefix), p.target)
            };
            glob(&written, probe)
        })
    }
}

/// A probe type as bpftrace(8) spells it in full: `t` is `tracepoint`, `u` `uprobe`, `ur`
/// `uretprobe`.
pub fn full_prefix(prefix: &str) -> &str {
    match prefix {
        "t" => "tracepoint",
        "u" => "uprobe",
        "ur" => "uretprobe",
        other => other,
    }
}

/// `pattern` with `*` wildcards matches `text`.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (k, part) in parts.iter().enumerate() {
        if k == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if k == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else {
                return false;
            };
            rest = &rest[at + part.len()..];
        }
    }
    true
}

/// The program's blocks, in source order.
pub fn read(source: &str) -> Vec<Block> {
    probe_blocks(source)
        .into_iter()
        .map(|b| {
            let predicate = b.predicate.map(|p| {
                let toks = expr::tokens(&p.condition, 0..p.condition.len());
                expr::parse(&toks).ok_or(p.condition)
            });
            let toks = expr::tokens(&b.body, 0..b.body.len());
            Block {
                probes: b.probes,
                predicate,
                body: statements(&b.body, &toks),
            }
        })
        .collect()
}

/// The statements of `toks` (tokens of `text`).
fn statements(text: &str, toks: &[Token]) -> Vec<Stmt> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < toks.len() {
        if toks[k].is(";") {
            k += 1;
            continue;
        }
        if toks[k].ident() == Some("if") && toks.get(k + 1).is_some_and(|t| t.is("(")) {
            match if_statement(text, toks, k) {
                Some((stmt, next)) => {
                    out.push(stmt);
                    k = next;
                    continue;
                }
                None => {
                    out.push(Stmt::Opaque(span_text(text, &toks[k..])));
                    return out;
                }
            }
        }
        let end = statement_end(toks, k);
        out.push(simple(text, &toks[k..end]));
        k = end + 1;
    }
    out
}

/// The index of the `;` ending the statement at `start` (or the end), braces and parentheses
/// skipped.
fn statement_end(toks: &[Token], start: usize) -> usize {
    let mut k = start;
    while k < toks.len() {
        if toks[k].is(";") {
            return k;
        }
        if toks[k].is("(") || toks[k].is("{") || toks[k].is("[") {
            k = expr::matching(toks, k).unwrap_or(toks.len());
        }
        k += 1;
    }
    toks.len()
}

/// `if (c) { … } [else if … | else { … }]` at `k`: the statement and the index after it.
fn if_statement(text: &str, toks: &[Token], k: usize) -> Option<(Stmt, usize)> {
    let close = expr::matching(toks, k + 1)?;
    let condition = expr::parse(&toks[k + 2..close])?;
    if !toks.get(close + 1)?.is("{") {
        return None;
    }
    let end = expr::matching(toks, close + 1)?;
    let then = statements(text, &toks[close + 2..end]);
    let mut next = end + 1;
    let mut otherwise = Vec::new();
    if toks.get(next).and_then(Token::ident) == Some("else") {
        if toks.get(next + 1).and_then(Token::ident) == Some("if") {
            let (stmt, after) = if_statement(text, toks, next + 1)?;
            otherwise.push(stmt);
            next = after;
        } else if toks.get(next + 1).is_some_and(|t| t.is("{")) {
            let close_else = expr::matching(toks, next + 1)?;
            otherwise = statements(text, &toks[next + 2..close_else]);
            next = close_else + 1;
        } else {
            return None;
        }
    }
    Some((
        Stmt::If {
            condition,
            then,
            otherwise,
        },
        next,
    ))
}

fn span_text(text: &str, toks: &[Token]) -> String {
    match (toks.first(), toks.last()) {
        (Some(a), Some(b)) => text
            .get(a.span.start..b.span.end)
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    }
}

/// Calls that show something to the user.
const OUTPUT_CALLS: &[&str] = &["printf", "print", "join", "cat", "system", "time", "printk"];

/// One statement without `if`.
fn simple(text: &str, toks: &[Token]) -> Stmt {
    let opaque = || Stmt::Opaque(span_text(text, toks));
    if toks.is_empty() {
        return opaque();
    }
    // exit() / delete(@m[k]) / output calls.
    if let Some(name) = toks[0].ident() {
        if toks.get(1).is_some_and(|t| t.is("(")) {
            let Some(node) = expr::parse(toks) else {
                return opaque();
            };
            let Expr::Call(call, args) = node.expr else {
                return opaque();
            };
            return match call.as_str() {
                "exit" => Stmt::Exit,
                "delete" => match args.as_slice() {
                    [target] => match map_target(target) {
                        Some((map, keys)) => Stmt::Delete { map, keys },
                        None => opaque(),
                    },
                    [map, key] => match &map.expr {
                        Expr::Map(m) => Stmt::Delete {
                            map: m.clone(),
                            keys: vec![key.clone()],
                        },
                        _ => opaque(),
                    },
                    _ => opaque(),
                },
                _ if OUTPUT_CALLS.contains(&name) => {
                    let (format, args) = match args.split_first() {
                        Some((first, rest)) if call == "printf" => match &first.expr {
                            Expr::Str(f) => (f.clone(), rest.to_vec()),
                            _ => return opaque(),
                        },
                        _ => (String::new(), args),
                    };
                    Stmt::Output { call, format, args }
                }
                _ => opaque(),
            };
        }
    }
    // Assignments: find the top-level assignment operator.
    let ops = [
        "=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=",
    ];
    let at = toks
        .iter()
        .position(|t| matches!(&t.tok, Tok::Punct(p) if ops.contains(p)));
    let (lhs, op, rhs): (&[Token], &str, Option<Node>) = match at {
        Some(at) => {
            let Tok::Punct(op) = &toks[at].tok else {
                return opaque();
            };
            let Some(rhs) = expr::parse(&toks[at + 1..]) else {
                return opaque();
            };
            (&toks[..at], op, Some(rhs))
        }
        None => match toks.last().map(|t| &t.tok) {
            Some(Tok::Punct(p)) if *p == "++" || *p == "--" => (&toks[..toks.len() - 1], *p, None),
            _ => return opaque(),
        },
    };
    let Some(target) = expr::parse(lhs) else {
        return opaque();
    };
    let one = || Node {
        expr: Expr::Int(1),
        span: 0..0,
    };
    let update = |op: &str, rhs: Option<Node>| -> Option<(expr::Op, Node)> {
        let o = match op {
            "+=" | "++" => expr::Op::Add,
            "-=" | "--" => expr::Op::Sub,
            "*=" => expr::Op::Mul,
            "/=" => expr::Op::Div,
            "%=" => expr::Op::Rem,
            "&=" => expr::Op::BitAnd,
            "|=" => expr::Op::BitOr,
            "^=" => expr::Op::BitXor,
            "<<=" => expr::Op::Shl,
            ">>=" => expr::Op::Shr,
            _ => return None,
        };
        Some((o, rhs.unwrap_or_else(one)))
    };
    match &target.expr {
        Expr::Var(v) => {
            let value = match (op, rhs) {
                ("=", Some(rhs)) => rhs,
                (op, rhs) => match update(op, rhs) {
                    Some((o, r)) => Node {
                        expr: Expr::Binary(Box::new(target.clone()), o, Box::new(r)),
                        span: 0..0,
                    },
                    None => return opaque(),
                },
            };
            Stmt::Var(v.clone(), value)
        }
        _ => {
            let Some((map, keys)) = map_target(&target) else {
                return opaque();
            };
            let store = match (op, rhs) {
                ("=", Some(rhs)) => match &rhs.expr {
                    Expr::Call(f, args) if AGGREGATIONS.contains(&f.as_str()) => {
                        Store::Aggregate(f.clone(), args.first().cloned())
                    }
                    _ => Store::Value(rhs),
                },
                (op, rhs) => match update(op, rhs) {
                    Some((o, r)) => Store::Update(o, r),
                    None => return opaque(),
                },
            };
            Stmt::Map { map, keys, store }
        }
    }
}

/// bpftrace's aggregation functions (bpftrace(8), "Map Functions").
pub const AGGREGATIONS: &[&str] = &[
    "count", "sum", "avg", "min", "max", "stats", "hist", "lhist",
];

/// `@m` or `@m[k…]`: the map and its keys.
fn map_target(node: &Node) -> Option<(String, Vec<Node>)> {
    match &node.expr {
        Expr::Map(m) => Some((m.clone(), Vec::new())),
        Expr::Index(base, key) => match &base.expr {
            Expr::Map(m) => Some((
                m.clone(),
                match &key.expr {
                    Expr::Tuple(items) => items.clone(),
                    _ => vec![(**key).clone()],
                },
            )),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_statements_and_branches_are_read() {
        let blocks = read(
            "tracepoint:syscalls:sys_enter_read { @start[tid] = nsecs; }\n\
             t:syscalls:sys_exit_read /@start[tid]/ {\n\
               $d = (nsecs - @start[tid]) / 1000;\n\
               if ($d > 10) { printf(\"%d %s\\n\", $d, comm); } else { @slow[comm, pid] = count(); }\n\
               @bytes += args->ret; delete(@start[tid]);\n\
             }",
        );
        assert_eq!(blocks.len(), 2);
        assert!(blocks[1].attaches_to("tracepoint:syscalls:sys_exit_read"));
        assert!(!blocks[1].attaches_to("tracepoint:syscalls:sys_exit_write"));
        let body = &blocks[1].body;
        assert!(matches!(&body[0], Stmt::Var(v, _) if v == "$d"));
        let Stmt::If {
            then, otherwise, ..
        } = &body[1]
        else {
            panic!("{body:?}")
        };
        assert!(
            matches!(&then[0], Stmt::Output { call, args, .. } if call == "printf" && args.len() == 2)
        );
        assert!(
            matches!(&otherwise[0], Stmt::Map { keys, store: Store::Aggregate(f, None), .. } if keys.len() == 2 && f == "count")
        );
        assert!(matches!(
            &body[2],
            Stmt::Map {
                store: Store::Update(expr::Op::Add, _),
                ..
            }
        ));
        assert!(
            matches!(&body[3], Stmt::Delete { map, keys } if map == "@start" && keys.len() == 1)
        );
    }

    #[test]
    fn what_cannot_be_read_is_kept_as_written() {
        let blocks = read("BEGIN { @x = 1 +; unroll(3) { printf(\"x\"); } }");
        assert!(blocks[0].attaches_to("BEGIN"));
        assert!(matches!(&blocks[0].body[0], Stmt::Opaque(t) if t == "@x = 1 +"));
    }

    #[test]
    fn wildcards_match_probe_names() {
        let blocks = read("tracepoint:syscalls:sys_exit_open* { @[comm] = count(); }");
        assert!(blocks[0].attaches_to("tracepoint:syscalls:sys_exit_openat"));
        assert!(!blocks[0].attaches_to("tracepoint:syscalls:sys_exit_read"));
    }
}
