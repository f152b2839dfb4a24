//! Symbolic execution of a bpftrace program over a scenario: a sequence of events (a probe
//! firing in a thread), each with symbolic inputs (its `args` fields, `nsecs`, the thread's
//! `pid`, `tid`, `comm`…). Every value becomes a z3 bit-vector term of 64 bits, carrying the
//! width and signedness of the kernel type it came from; maps are the history of their
//! stores, read back as a chain of if-then-else on the keys; each `printf` and aggregation is
//! an output guarded by the path condition that reaches it.
//!
//! Semantics follow bpftrace(8): integers are 64-bit, a missing map key reads 0, a predicate
//! guards the whole block, `exit()` ends the block. What is not modelled (an unknown function's
//! result) becomes a fresh unconstrained value named `approx_…`, so a verdict can tell whether
//! it depended on one.
//!
//! Must be called inside a z3 context (see `solve`).
use std::collections::BTreeMap;

use z3::ast::{Bool, BV};

use super::program::{Block, Stmt, Store};
use super::types::{member_shape, shape_of_ctype, Scalar, Shape};
use crate::exec::btf_types::TypeTable;
use crate::host::Tracepoint;
use crate::toolchain::bpftrace::expr::{Expr, Node, Op, Prefix};

/// What the verifier knows of the host's types.
pub struct Types<'a> {
    /// "subsystem:event" → the tracepoint, with its fields' C types.
    pub tracepoints: &'a BTreeMap<String, Tracepoint>,
    pub btf: Option<&'a TypeTable>,
}

/// One probe firing in one thread.
#[derive(Debug, Clone)]
pub struct Event {
    /// The probe as bpftrace names it in full: `tracepoint:syscalls:sys_exit_read`.
    pub probe: String,
    /// Which thread of the scenario (threads 0, 1, … are distinct tasks).
    pub thread: usize,
}

/// Events in order, and how their threads relate.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub events: Vec<Event>,
    /// All threads belong to one process (same `pid`, different `tid`).
    pub one_process: bool,
}

/// What a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int(Scalar),
    /// A string, as an identity: equal strings are equal terms, literals are distinct constants.
    Text,
}

/// A value: a 64-bit term (narrow integers extended by their signedness) and its kind.
#[derive(Debug, Clone)]
pub struct Val {
    pub bv: BV,
    pub kind: Kind,
}

impl Val {
    fn int(bv: BV, scalar: Scalar) -> Self {
        Val {
            bv,
            kind: Kind::Int(scalar),
        }
    }

    fn lit(n: i64) -> Self {
        Val::int(BV::from_i64(n, 64), Scalar::new(64, true))
    }

    fn from_bool(b: &Bool) -> Self {
        Val::int(
            b.ite(&BV::from_i64(1, 64), &BV::from_i64(0, 64)),
            Scalar::new(64, false),
        )
    }

    pub fn signed(&self) -> bool {
        matches!(self.kind, Kind::Int(s) if s.signed)
    }

    pub fn truthy(&self) -> Bool {
        self.bv.eq(BV::from_i64(0, 64)).not()
    }
}

/// A symbolic value or a struct reached through a pointer.
#[derive(Debug, Clone)]
enum Sym {
    Val(Val),
    /// A struct (or pointer to one) and the path that reached it, e.g. `args->uservaddr`.
    Struct {
        name: String,
        path: String,
    },
}

/// One input of the scenario.
#[derive(Debug, Clone)]
pub struct Input {
    pub bv: BV,
    pub kind: Kind,
    /// Which event it belongs to (None: a thread's identity, shared by its events).
    pub event: Option<usize>,
    /// Which thread, for a thread's identity.
    pub thread: Option<usize>,
    /// As the program reads it: `args->ret`, `nsecs`, `comm`, `args->uservaddr->sin_port`.
    pub name: String,
}

/// What the program showed: a print (format and arguments) or an aggregation update.
#[derive(Debug, Clone)]
pub enum Shown {
    Print {
        call: String,
        args: Vec<Val>,
    },
    Aggregate {
        map: String,
        func: String,
        value: Option<Val>,
    },
}

#[derive(Debug, Clone)]
pub struct Output {
    pub event: usize,
    pub guard: Bool,
    pub shown: Shown,
}

/// One store to a map.
#[derive(Debug, Clone)]
struct Write {
    map: String,
    keys: Vec<BV>,
    /// None: a delete.
    value: Option<Val>,
    guard: Bool,
}

/// The result of running a program over a scenario.
pub struct Run {
    /// Inputs by their unique variable name.
    pub inputs: BTreeMap<String, Input>,
    pub outputs: Vec<Output>,
    /// Facts about the scenario (thread identities differ, time moves forward).
    pub facts: Vec<Bool>,
    /// What was approximated, in words, by the name of its fresh value.
    pub approximations: BTreeMap<String, String>,
    /// String literals by the constant that stands for them.
    pub literals: BTreeMap<u64, String>,
    /// Each event in words: `sys_exit_read in thread 1`.
    pub labels: Vec<String>,
}

impl Run {
    /// Whether anything was shown during event `event` (any of the scenario's events when
    /// None). What BEGIN shows is shown whatever happens, so it is never an event's output: a
    /// banner must not pass for a shown event.
    pub fn printed(&self, event: Option<usize>) -> Bool {
        let guards: Vec<Bool> = self
            .outputs
            .iter()
            .filter(|o| o.event != usize::MAX && event.is_none_or(|e| o.event == e))
            .map(|o| o.guard.clone())
            .collect();
        if guards.is_empty() {
            Bool::from_bool(false)
        } else {
            Bool::or(&guards)
        }
    }

    /// The input named `name` of event `event` (or of the thread when it is an identity).
    pub fn input(&self, event: usize, name: &str) -> Option<&Input> {
        self.inputs
            .values()
            .find(|i| i.event == Some(event) && i.name == name)
    }
}

/// Runs `blocks` over `scenario`; `prefix` makes the variable names of one copy unique.
pub fn run(blocks: &[Block], scenario: &Scenario, types: &Types, prefix: &str) -> Run {
    run_with(blocks, scenario, types, prefix, false)
}

/// Like [`run`], with every division by a constant left out: a duration printed in µs is
/// compared in ns. For relational claims (two copies of the same program), where what matters
/// is which inputs a value comes from, not its unit; z3 then needs no 64-bit dividers.
pub fn run_unscaled(blocks: &[Block], scenario: &Scenario, types: &Types, prefix: &str) -> Run {
    run_with(blocks, scenario, types, prefix, true)
}

fn run_with(
    blocks: &[Block],
    scenario: &Scenario,
    types: &Types,
    prefix: &str,
    unscaled: bool,
) -> Run {
    let mut m = Machine {
        unscaled,
        types,
        prefix: prefix.to_owned(),
        scenario,
        run: Run {
            inputs: BTreeMap::new(),
            outputs: Vec::new(),
            facts: Vec::new(),
            approximations: BTreeMap::new(),
            literals: BTreeMap::new(),
            labels: scenario
                .events
                .iter()
                .map(|e| {
                    let short = e.probe.rsplit(':').next().unwrap_or(&e.probe);
                    format!("{short} in thread {}", e.thread + 1)
                })
                .collect(),
        },
        writes: Vec::new(),
    };
    m.scenario_facts();
    for block in blocks.iter().filter(|b| b.attaches_to("BEGIN")) {
        m.block(block, usize::MAX);
    }
    for (k, event) in scenario.events.iter().enumerate() {
        for block in blocks.iter().filter(|b| b.attaches_to(&event.probe)) {
            m.block(block, k);
        }
    }
    m.run
}

struct Machine<'a> {
    /// Divisions by a constant are left out (see [`run_unscaled`]).
    unscaled: bool,
    types: &'a Types<'a>,
    prefix: String,
    scenario: &'a Scenario,
    run: Run,
    writes: Vec<Write>,
}

/// The running state of one block: the path condition, whether `exit()` was reached, the
/// scratch variables.
struct Frame {
    event: usize,
    path: Bool,
    vars: BTreeMap<String, Sym>,
}

impl Machine<'_> {
    fn scenario_facts(&mut self) {
        let threads = self
            .scenario
            .events
            .iter()
            .map(|e| e.thread)
            .max()
            .map_or(0, |t| t + 1);
        for a in 0..threads {
            for b in a + 1..threads {
                let (ta, tb) = (self.identity(a, "tid"), self.identity(b, "tid"));
                self.run.facts.push(ta.bv.eq(&tb.bv).not());
                let (pa, pb) = (self.identity(a, "pid"), self.identity(b, "pid"));
                let same = pa.bv.eq(&pb.bv);
                self.run.facts.push(if self.scenario.one_process {
                    same
                } else {
                    same.not()
                });
            }
        }
        for k in 1..self.scenario.events.len() {
            let (a, b) = (
                self.event_input(k - 1, "nsecs"),
                self.event_input(k, "nsecs"),
            );
            self.run.facts.push(a.bv.bvult(&b.bv));
        }
    }

    fn new_input(&mut self, key: String, name: &str, event: Option<usize>, kind: Kind) -> Val {
        if let Some(i) = self.run.inputs.get(&key) {
            return Val {
                bv: i.bv.clone(),
                kind: i.kind,
            };
        }
        let raw_bits = match kind {
            Kind::Int(s) => s.bits.clamp(1, 64),
            Kind::Text => 64,
        };
        let raw = BV::new_const(key.as_str(), raw_bits);
        let bv = match kind {
            Kind::Int(s) if s.signed && raw_bits < 64 => raw.sign_ext(64 - raw_bits),
            _ if raw_bits < 64 => raw.zero_ext(64 - raw_bits),
            _ => raw,
        };
        self.run.inputs.insert(
            key,
            Input {
                bv: bv.clone(),
                kind,
                event,
                thread: None,
                name: name.to_owned(),
            },
        );
        Val { bv, kind }
    }

    /// A thread's identity (`pid`, `tid`, `uid`, `comm`…), shared by its events.
    fn identity(&mut self, thread: usize, name: &str) -> Val {
        let kind = match name {
            "comm" => Kind::Text,
            _ => Kind::Int(Scalar::new(32, false)),
        };
        let key = format!("{}thread{thread}.{name}", self.prefix);
        let v = self.new_input(key.clone(), name, None, kind);
        if let Some(i) = self.run.inputs.get_mut(&key) {
            i.thread = Some(thread);
        }
        v
    }

    fn event_input(&mut self, event: usize, name: &str) -> Val {
        let kind = match name {
            "nsecs" | "elapsed" | "cpu" => Kind::Int(Scalar::new(64, false)),
            "retval" => Kind::Int(Scalar::new(64, true)),
            "kstack" | "ustack" | "probe" | "func" | "cgroup_path" => Kind::Text,
            _ => Kind::Int(Scalar::new(64, false)),
        };
        self.typed_input(event, name, kind)
    }

    fn typed_input(&mut self, event: usize, name: &str, kind: Kind) -> Val {
        if event == usize::MAX {
            // BEGIN has no event: its inputs are of their own.
            let key = format!("{}begin.{name}", self.prefix);
            return self.new_input(key, name, None, kind);
        }
        let key = format!("{}e{event}.{name}", self.prefix);
        self.new_input(key, name, Some(event), kind)
    }

    fn approx(&mut self, why: String) -> Val {
        let key = format!("approx_{}{}", self.prefix, self.run.approximations.len());
        let bv = BV::new_const(key.as_str(), 64);
        self.run.approximations.insert(key, why);
        Val::int(bv, Scalar::new(64, true))
    }

    fn literal(&mut self, text: &str) -> Val {
        let id = self
            .run
            .literals
            .iter()
            .find(|(_, t)| *t == text)
            .map(|(id, _)| *id)
            .unwrap_or_else(|| {
                let id = (1u64 << 62) + self.run.literals.len() as u64;
                self.run.literals.insert(id, text.to_owned());
                id
            });
        Val {
            bv: BV::from_u64(id, 64),
            kind: Kind::Text,
        }
    }

    fn block(&mut self, block: &Block, event: usize) {
        let mut frame = Frame {
            event,
            path: Bool::from_bool(true),
            vars: BTreeMap::new(),
        };
        match &block.predicate {
            None => {}
            Some(Ok(p)) => {
                let v = self.val(&mut frame, p);
                frame.path = v.truthy();
            }
            Some(Err(text)) => {
                let v = self.approx(format!("the predicate /{text}/ could not be read"));
                frame.path = v.truthy();
            }
        }
        self.stmts(&mut frame, &block.body);
    }

    fn stmts(&mut self, frame: &mut Frame, stmts: &[Stmt]) {
        for s in stmts {
            self.stmt(frame, s);
        }
    }

    fn stmt(&mut self, frame: &mut Frame, stmt: &Stmt) {
        match stmt {
            Stmt::Var(name, value) => {
                let v = self.sym(frame, value);
                frame.vars.insert(name.clone(), v);
            }
            Stmt::Map { map, keys, store } => {
                let keys: Vec<BV> = keys.iter().map(|k| self.val(frame, k).bv).collect();
                let value = match store {
                    Store::Value(v) => self.val(frame, v),
                    Store::Update(op, v) => {
                        let old = self.read_map(map, &keys);
                        let by = self.val(frame, v);
                        if *op == Op::Add {
                            self.run.outputs.push(Output {
                                event: frame.event,
                                guard: frame.path.clone(),
                                shown: Shown::Aggregate {
                                    map: map.clone(),
                                    func: "sum".into(),
                                    value: Some(by.clone()),
                                },
                            });
                        }
                        binary(&old, *op, &by)
                    }
                    Store::Aggregate(func, arg) => {
                        let value = arg.as_ref().map(|a| self.val(frame, a));
                        self.run.outputs.push(Output {
                            event: frame.event,
                            guard: frame.path.clone(),
                            shown: Shown::Aggregate {
                                map: map.clone(),
                                func: func.clone(),
                                value: value.clone(),
                            },
                        });
                        // What the map then holds is not a number the program can use.
                        self.approx(format!("the value of {map} after {func}()"))
                    }
                };
                self.writes.push(Write {
                    map: map.clone(),
                    keys,
                    value: Some(value),
                    guard: frame.path.clone(),
                });
            }
            Stmt::Delete { map, keys } => {
                let keys: Vec<BV> = keys.iter().map(|k| self.val(frame, k).bv).collect();
                self.writes.push(Write {
                    map: map.clone(),
                    keys,
                    value: None,
                    guard: frame.path.clone(),
                });
            }
            Stmt::Output { call, args, .. } => {
                let args = args.iter().map(|a| self.val(frame, a)).collect();
                self.run.outputs.push(Output {
                    event: frame.event,
                    guard: frame.path.clone(),
                    shown: Shown::Print {
                        call: call.clone(),
                        args,
                    },
                });
            }
            Stmt::If {
                condition,
                then,
                otherwise,
            } => {
                let c = self.val(frame, condition).truthy();
                let outer = frame.path.clone();
                let before = frame.vars.clone();
                frame.path = Bool::and(&[&outer, &c]);
                self.stmts(frame, then);
                let after_then = std::mem::replace(&mut frame.vars, before);
                frame.path = Bool::and(&[&outer, &c.not()]);
                self.stmts(frame, otherwise);
                frame.path = outer;
                frame.vars = merge(&c, after_then, std::mem::take(&mut frame.vars));
            }
            Stmt::Exit => {
                // Nothing after exit() runs in this block.
                frame.path = Bool::from_bool(false);
            }
            Stmt::Opaque(text) => {
                let key = format!("approx_{}{}", self.prefix, self.run.approximations.len());
                self.run
                    .approximations
                    .insert(key, format!("the statement `{text}` was not modelled"));
            }
        }
    }

    /// `@map[keys]` as the stores so far leave it: 0 when never stored or deleted.
    fn read_map(&mut self, map: &str, keys: &[BV]) -> Val {
        let mut value = Val::lit(0);
        for w in self.writes.iter().filter(|w| w.map == map) {
            if w.keys.len() != keys.len() {
                continue;
            }
            let mut conds = vec![w.guard.clone()];
            conds.extend(w.keys.iter().zip(keys).map(|(a, b)| a.eq(b)));
            let hit = Bool::and(&conds);
            let stored = w.value.clone().unwrap_or_else(|| Val::lit(0));
            value = Val {
                bv: hit.ite(&stored.bv, &value.bv),
                kind: stored.kind,
            };
        }
        value
    }

    fn val(&mut self, frame: &mut Frame, node: &Node) -> Val {
        match self.sym(frame, node) {
            Sym::Val(v) => v,
            Sym::Struct { path, .. } => {
                // A pointer used as a number: its address, an input like any other.
                self.typed_input(frame.event, &path, Kind::Int(Scalar::new(64, false)))
            }
        }
    }

    fn sym(&mut self, frame: &mut Frame, node: &Node) -> Sym {
        let event = frame.event;
        let v = match &node.expr {
            Expr::Int(n) => Val::lit(i64::try_from(*n).unwrap_or(i64::MAX)),
            Expr::Str(s) => self.literal(s),
            Expr::Group(inner) => return self.sym(frame, inner),
            Expr::Var(name) => {
                return frame
                    .vars
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| Sym::Val(Val::lit(0)))
            }
            Expr::Map(map) => self.read_map(map, &[]),
            Expr::Index(base, key) => match &base.expr {
                Expr::Map(map) => {
                    let keys: Vec<BV> = match &key.expr {
                        Expr::Tuple(items) => items.iter().map(|k| self.val(frame, k).bv).collect(),
                        _ => vec![self.val(frame, key).bv],
                    };
                    self.read_map(map, &keys)
                }
                _ => self.approx(format!("indexing `{}`", describe(node))),
            },
            Expr::Ident(name) => return self.builtin(event, name),
            Expr::Member(base, field) => return self.member(frame, base, field, node),
            Expr::Call(f, args) => self.call(frame, f, args, node),
            Expr::Prefix(op, inner) => {
                let v = self.val(frame, inner);
                match op {
                    Prefix::Not => Val::from_bool(&v.truthy().not()),
                    Prefix::BitNot => Val::int(v.bv.bvnot(), scalar(&v)),
                    Prefix::Neg => Val::int(v.bv.bvneg(), Scalar::new(64, true)),
                    Prefix::Deref => self.approx(format!("the dereference `{}`", describe(node))),
                }
            }
            Expr::Binary(a, Op::Div, b)
                if self.unscaled && matches!(b.bare().expr, Expr::Int(_)) =>
            {
                self.val(frame, a)
            }
            Expr::Binary(a, op, b) => {
                let (a, b) = (self.val(frame, a), self.val(frame, b));
                binary(&a, *op, &b)
            }
            Expr::Ternary(c, a, b) => {
                let c = self.val(frame, c).truthy();
                let (a, b) = (self.val(frame, a), self.val(frame, b));
                Val {
                    bv: c.ite(&a.bv, &b.bv),
                    kind: a.kind,
                }
            }
            Expr::Cast(ty, inner) => return self.cast(frame, ty, inner),
            Expr::Tuple(_) => self.approx(format!("the tuple `{}`", describe(node))),
        };
        Sym::Val(v)
    }

    fn builtin(&mut self, event: usize, name: &str) -> Sym {
        let thread = self
            .scenario
            .events
            .get(event)
            .map_or(usize::MAX, |e| e.thread);
        Sym::Val(match name {
            "pid" | "tid" | "uid" | "gid" | "comm" | "cgroup" if thread != usize::MAX => {
                self.identity(thread, name)
            }
            "args" => {
                return Sym::Struct {
                    name: "args".into(),
                    path: "args".into(),
                }
            }
            _ => self.event_input(event, name),
        })
    }

    fn member(&mut self, frame: &mut Frame, base: &Node, field: &str, node: &Node) -> Sym {
        let Sym::Struct { name, path } = self.sym(frame, base) else {
            return Sym::Val(self.approx(format!("the member access `{}`", describe(node))));
        };
        let path = format!("{path}->{field}");
        let shape = if name == "args" {
            self.scenario
                .events
                .get(frame.event)
                .and_then(|e| e.probe.strip_prefix("tracepoint:"))
                .and_then(|tp| self.types.tracepoints.get(tp))
                .and_then(|tp| tp.fields.iter().find(|f| f.name == field))
                .map_or(Shape::Int(Scalar::new(64, true)), |f| {
                    shape_of_ctype(&f.ctype)
                })
        } else {
            match self
                .types
                .btf
                .and_then(|btf| member_shape(btf, &name, field))
            {
                Some(shape) => shape,
                None => {
                    return Sym::Val(self.approx(format!(
                        "the member `{field}` of struct {name} (not in this kernel's BTF)"
                    )))
                }
            }
        };
        Sym::Val(match shape {
            Shape::Int(s) => self.typed_input(frame.event, &path, Kind::Int(s)),
            Shape::Text => self.typed_input(frame.event, &path, Kind::Text),
            Shape::Struct(name) => return Sym::Struct { name, path },
            Shape::Opaque => self.typed_input(frame.event, &path, Kind::Text),
        })
    }

    fn cast(&mut self, frame: &mut Frame, ty: &str, inner: &Node) -> Sym {
        let v = self.sym(frame, inner);
        let path = match &v {
            Sym::Struct { path, .. } => path.clone(),
            Sym::Val(_) => describe(inner),
        };
        match shape_of_ctype(ty) {
            Shape::Struct(name) => Sym::Struct { name, path },
            Shape::Int(s) if !ty.contains('*') => {
                let v = self.val(frame, inner);
                Sym::Val(resize(&v, s))
            }
            _ => Sym::Val(self.val(frame, inner)),
        }
    }

    fn call(&mut self, frame: &mut Frame, f: &str, args: &[Node], node: &Node) -> Val {
        match (f, args) {
            ("str" | "buf" | "kptr" | "uptr" | "ntop" | "ustack" | "kstack", [.., last]) => {
                let source = describe(last);
                let v = self.val(frame, last);
                if matches!(v.kind, Kind::Text) && f == "str" {
                    return v;
                }
                // The text shown for a value is a function of that value: same value, same text.
                let key = format!("{f}:{source}");
                self.typed_input(frame.event, &key, Kind::Text)
            }
            ("bswap", [x]) => {
                let v = self.val(frame, x);
                bswap(&v)
            }
            _ => self.approx(format!("the result of `{}`", describe(node))),
        }
    }
}

/// A short rendering of an expression for messages (its structure, not its source text).
pub fn describe(node: &Node) -> String {
    match &node.expr {
        Expr::Int(n) => n.to_string(),
        Expr::Str(s) => format!("\"{s}\""),
        Expr::Ident(s) | Expr::Var(s) | Expr::Map(s) => s.clone(),
        Expr::Member(b, f) => format!("{}->{f}", describe(b)),
        Expr::Index(b, k) => format!("{}[{}]", describe(b), describe(k)),
        Expr::Call(f, a) => format!(
            "{f}({})",
            a.iter().map(describe).collect::<Vec<_>>().join(", ")
        ),
        Expr::Group(i) => format!("({})", describe(i)),
        Expr::Cast(t, i) => format!("({t}){}", describe(i)),
        Expr::Tuple(items) => items.iter().map(describe).collect::<Vec<_>>().join(", "),
        Expr::Prefix(_, i) => format!("op {}", describe(i)),
        Expr::Binary(a, _, b) => format!("{} op {}", describe(a), describe(b)),
        Expr::Ternary(c, a, b) => format!("{} ? {} : {}", describe(c), describe(a), describe(b)),
    }
}

fn scalar(v: &Val) -> Scalar {
    match v.kind {
        Kind::Int(s) => s,
        Kind::Text => Scalar::new(64, false),
    }
}

/// `v` converted to `to`'s width and signedness, as a C cast does.
fn resize(v: &Val, to: Scalar) -> Val {
    let bits = to.bits.clamp(1, 64);
    if bits == 64 {
        return Val::int(v.bv.clone(), to);
    }
    let low = v.bv.extract(bits - 1, 0);
    let bv = if to.signed {
        low.sign_ext(64 - bits)
    } else {
        low.zero_ext(64 - bits)
    };
    Val::int(bv, to)
}

/// bpftrace's `bswap`: the bytes of the value's own width reversed.
pub fn bswap(v: &Val) -> Val {
    let s = scalar(v);
    let bytes = (s.bits / 8).clamp(1, 8);
    let mut swapped = v.bv.extract(7, 0);
    for b in 1..bytes {
        swapped = swapped.concat(v.bv.extract(8 * b + 7, 8 * b));
    }
    let width = bytes * 8;
    let bv = if width < 64 {
        swapped.zero_ext(64 - width)
    } else {
        swapped
    };
    Val::int(
        bv,
        Scalar {
            bits: width,
            signed: false,
            big_endian: !s.big_endian,
        },
    )
}

/// A binary operation with C's conversions on 64-bit values: unsigned when either side is.
pub fn binary(a: &Val, op: Op, b: &Val) -> Val {
    let signed = a.signed() && b.signed();
    let out = Scalar::new(64, signed);
    let cmp = |x: Bool| Val::from_bool(&x);
    match op {
        Op::Or => cmp(Bool::or(&[&a.truthy(), &b.truthy()])),
        Op::And => cmp(Bool::and(&[&a.truthy(), &b.truthy()])),
        Op::BitOr => Val::int(a.bv.bvor(&b.bv), out),
        Op::BitXor => Val::int(a.bv.bvxor(&b.bv), out),
        Op::BitAnd => Val::int(a.bv.bvand(&b.bv), out),
        Op::Eq => cmp(a.bv.eq(&b.bv)),
        Op::Ne => cmp(a.bv.eq(&b.bv).not()),
        Op::Lt if signed => cmp(a.bv.bvslt(&b.bv)),
        Op::Lt => cmp(a.bv.bvult(&b.bv)),
        Op::Gt if signed => cmp(a.bv.bvsgt(&b.bv)),
        Op::Gt => cmp(a.bv.bvugt(&b.bv)),
        Op::Le if signed => cmp(a.bv.bvsle(&b.bv)),
        Op::Le => cmp(a.bv.bvule(&b.bv)),
        Op::Ge if signed => cmp(a.bv.bvsge(&b.bv)),
        Op::Ge => cmp(a.bv.bvuge(&b.bv)),
        Op::Shl => Val::int(a.bv.bvshl(&b.bv), out),
        Op::Shr if a.signed() => Val::int(a.bv.bvashr(&b.bv), out),
        Op::Shr => Val::int(a.bv.bvlshr(&b.bv), out),
        Op::Add => Val::int(a.bv.bvadd(&b.bv), out),
        Op::Sub => Val::int(a.bv.bvsub(&b.bv), out),
        Op::Mul => Val::int(a.bv.bvmul(&b.bv), out),
        Op::Div if signed => Val::int(a.bv.bvsdiv(&b.bv), out),
        Op::Div => Val::int(a.bv.bvudiv(&b.bv), out),
        Op::Rem if signed => Val::int(a.bv.bvsrem(&b.bv), out),
        Op::Rem => Val::int(a.bv.bvurem(&b.bv), out),
    }
}

/// The scratch variables after an `if`: each the branch's value under its condition.
fn merge(
    c: &Bool,
    then: BTreeMap<String, Sym>,
    mut otherwise: BTreeMap<String, Sym>,
) -> BTreeMap<String, Sym> {
    let mut out = BTreeMap::new();
    for (name, t) in then {
        let o = otherwise.remove(&name);
        let merged = match (t, o) {
            (Sym::Val(t), Some(Sym::Val(o))) => Sym::Val(Val {
                bv: c.ite(&t.bv, &o.bv),
                kind: t.kind,
            }),
            (Sym::Val(t), None) => Sym::Val(Val {
                bv: c.ite(&t.bv, &BV::from_i64(0, 64)),
                kind: t.kind,
            }),
            (t, _) => t,
        };
        out.insert(name, merged);
    }
    for (name, o) in otherwise {
        let merged = match o {
            Sym::Val(o) => Sym::Val(Val {
                bv: c.ite(&BV::from_i64(0, 64), &o.bv),
                kind: o.kind,
            }),
            s => s,
        };
        out.insert(name, merged);
    }
    out
}
