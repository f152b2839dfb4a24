//! Judging one contract with z3: the program run symbolically over the contract's scenario, the
//! claim negated (or, for "can be shown", asserted), the solver asked within a time bound. Its
//! answer becomes an [`Outcome`]: proved, refuted with a counterexample in words, or unknown
//! (a timeout, or a verdict that rested on something the verifier does not model). Unknown is
//! never a pass.
use std::time::{Duration, Instant};

use z3::ast::{Bool, BV};
use z3::{Config, SatResult, Solver};

use super::contract::{Claim, Contract, Written};
use super::program::Block;
use super::run::{self, binary, bswap, Event, Input, Kind, Run, Scenario, Shown, Types, Val};
use super::types::Scalar;
use crate::toolchain::bpftrace::expr::{Expr, Node, Prefix};

/// What the solver established for one contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Holds on every input (or, for "can be shown", an input that shows it exists).
    Proved,
    /// Violated: a concrete input, in words.
    Refuted(String),
    /// Neither: why (a timeout, something not modelled).
    Unknown(String),
    /// The contract says nothing about this program (e.g. no port is shown at all).
    NotApplicable(String),
}

/// One contract and its outcome.
#[derive(Debug, Clone)]
pub struct Finding {
    pub contract: String,
    pub outcome: Outcome,
    pub elapsed: Duration,
}

/// The z3 answer, typed: a model, no model, or no answer with z3's reason.
enum Answer {
    Sat(z3::Model),
    Unsat,
    Unknown(String),
}

fn ask(solver: &Solver) -> Answer {
    match solver.check() {
        SatResult::Sat => match solver.get_model() {
            Some(m) => Answer::Sat(m),
            None => Answer::Unknown("z3 said sat but gave no model".into()),
        },
        SatResult::Unsat => Answer::Unsat,
        SatResult::Unknown => Answer::Unknown(
            solver
                .get_reason_unknown()
                .unwrap_or_else(|| "no reason given".into()),
        ),
    }
}

/// Judges `contract` on `blocks` within `timeout`.
pub fn judge(blocks: &[Block], contract: &Contract, types: &Types, timeout: Duration) -> Finding {
    let started = Instant::now();
    let mut cfg = Config::new();
    cfg.set_timeout_msec(timeout.as_millis().clamp(1, u128::from(u32::MAX)) as u64);
    let outcome = z3::with_z3_config(&cfg, || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            judge_in_context(blocks, contract, types)
        }))
        .unwrap_or_else(|_| Outcome::Unknown("the z3 bindings failed on this contract".into()))
    });
    Finding {
        contract: contract.text.clone(),
        outcome,
        elapsed: started.elapsed(),
    }
}

fn call_scenario(contract: &Contract) -> Scenario {
    let mut events = Vec::new();
    if let Some(enter) = &contract.call.enter {
        events.push(Event {
            probe: enter.clone(),
            thread: 0,
        });
    }
    events.push(Event {
        probe: contract.call.exit.clone(),
        thread: 0,
    });
    Scenario {
        events,
        one_process: true,
    }
}

/// The problem to solve: facts, the formula whose satisfiability is asked, whether sat means
/// the claim holds (existential claims) or fails (universal ones), and what to show.
struct Query {
    facts: Vec<Bool>,
    formula: Bool,
    sat_proves: bool,
    runs: Vec<Run>,
    /// What a counterexample violates, in words.
    violation: String,
    /// Terms the program may not read but the claim speaks of (a call's result), by name.
    extra: Vec<(String, BV)>,
}

impl Query {
    fn with_extra(mut self, name: &str, bv: &BV) -> Self {
        self.extra.push((name.to_owned(), bv.clone()));
        self
    }
}

fn judge_in_context(blocks: &[Block], contract: &Contract, types: &Types) -> Outcome {
    let query = match build(blocks, contract, types) {
        Ok(q) => q,
        Err(not_applicable) => return Outcome::NotApplicable(not_applicable),
    };
    let mentions = query.formula.to_string();
    let unmodelled: Vec<&String> = query
        .runs
        .iter()
        .flat_map(|r| r.approximations.iter())
        .filter(|(key, why)| why.starts_with("the statement") || mentions.contains(key.as_str()))
        .map(|(_, why)| why)
        .collect();
    let solver = Solver::new();
    for f in &query.facts {
        solver.assert(f);
    }
    solver.assert(&query.formula);
    match (ask(&solver), query.sat_proves) {
        (Answer::Unknown(why), _) => Outcome::Unknown(format!("z3 gave no answer: {why}")),
        (_, _) if !unmodelled.is_empty() => Outcome::Unknown(format!(
            "the verdict would rest on what the verifier does not model: {}",
            unmodelled
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )),
        (Answer::Sat(_), true) | (Answer::Unsat, false) => Outcome::Proved,
        (Answer::Unsat, true) => Outcome::Refuted(query.violation),
        (Answer::Sat(model), false) => {
            let model = smaller(&solver, &query).unwrap_or(model);
            Outcome::Refuted(format!(
                "{}: {}",
                counterexample(&model, &query, &mentions),
                query.violation
            ))
        }
    }
}

fn exit_event(scenario: &Scenario) -> usize {
    scenario.events.len().saturating_sub(1)
}

/// The exit's `ret` (a syscall's `args->ret`, a uretprobe's `retval`) as this run has it, or a
/// fresh one when the program never reads it (then it is unconstrained, as the kernel's is).
fn result_of(run: &Run, event: usize, prefix: &str) -> BV {
    for name in ["args->ret", "retval"] {
        if let Some(i) = run.input(event, name) {
            return i.bv.clone();
        }
    }
    BV::new_const(format!("{prefix}e{event}.args->ret"), 64)
}

/// Every input of `a` equal to its twin in `b`, but those `differs` picks.
fn alike_but(a: &Run, b: &Run, differs: impl Fn(&run::Input) -> bool) -> Bool {
    let mut same = Vec::new();
    for (key, input) in &a.inputs {
        let Some(twin) = b.inputs.get(&format!("b.{}", key.trim_start_matches("a."))) else {
            continue;
        };
        if !differs(input) {
            same.push(input.bv.eq(&twin.bv));
        }
    }
    Bool::and(&same)
}

/// For each input of `r` that is one of `pairs`' fields: it carries that pair's value (all
/// its bits, or equal to it).
fn constant_passes(r: &Run, pairs: &[(String, i128)]) -> Vec<Bool> {
    let mut passes = Vec::new();
    for i in r.inputs.values() {
        for (field, v) in pairs {
            if i.name != format!("args->{field}") || !matches!(i.kind, Kind::Int(_)) {
                continue;
            }
            let Ok(v) = i64::try_from(*v) else { continue };
            let v = BV::from_i64(v, 64);
            passes.push(Bool::or(&[i.bv.bvand(&v).eq(&v), i.bv.eq(&v)]));
        }
    }
    passes
}

/// The input a run reads as `name` (`args->flags`), the first of its events that reads it.
fn input_named(r: &Run, name: &str) -> Option<BV> {
    r.inputs
        .values()
        .find(|i| i.name == name && matches!(i.kind, Kind::Int(_)))
        .map(|i| i.bv.clone())
}

/// Two runs `a.` and `b.` of the same program whose inputs are equal but for the exit's result:
/// the twins that show whether the result alone decides what is printed.
fn alike_but_result(a: &Run, b: &Run, exit: usize) -> Bool {
    alike_but(a, b, |i| {
        i.event == Some(exit) && (i.name == "args->ret" || i.name == "retval")
    })
}

fn build(blocks: &[Block], contract: &Contract, types: &Types) -> Result<Query, String> {
    let zero = BV::from_i64(0, 64);
    let scenario = call_scenario(contract);
    let exit = exit_event(&scenario);
    let single = |runs: Vec<Run>, formula: Bool, sat_proves: bool, violation: String| {
        let facts = runs.iter().flat_map(|r| r.facts.clone()).collect();
        Ok(Query {
            facts,
            formula,
            sat_proves,
            runs,
            violation,
            extra: Vec::new(),
        })
    };
    match &contract.claim {
        Claim::OnlyFailures => {
            let r = run::run(blocks, &scenario, types, "");
            let ret = result_of(&r, exit, "");
            let f = Bool::and(&[r.printed(None), ret.bvsge(&zero)]);
            single(
                vec![r],
                f,
                false,
                "the program shows a call that succeeded, but the request asks only for failed ones"
                    .into(),
            )
            .map(|q| q.with_extra("args->ret", &ret))
        }
        Claim::FailureShown => {
            let r = run::run(blocks, &scenario, types, "");
            let ret = result_of(&r, exit, "");
            let f = Bool::and(&[r.printed(None), ret.bvslt(&zero)]);
            single(
                vec![r],
                f,
                true,
                "no input makes the program show a failed call (args->ret < 0)".into(),
            )
            .map(|q| q.with_extra("args->ret", &ret))
        }
        Claim::EveryFailureAlike => {
            let a = run::run(blocks, &scenario, types, "a.");
            let b = run::run(blocks, &scenario, types, "b.");
            let (ra, rb) = (result_of(&a, exit, "a."), result_of(&b, exit, "b."));
            let same = alike_but_result(&a, &b, exit);
            let f = Bool::and(&[
                same,
                a.printed(None),
                ra.bvslt(&zero),
                rb.bvslt(&zero),
                b.printed(None).not(),
            ]);
            single(
                vec![a, b],
                f,
                false,
                "one failed call is shown and another, alike but for its error, is not; the request asks for failed calls whatever the error"
                    .into(),
            )
        }
        Claim::ShownWhateverResult => {
            let a = run::run(blocks, &scenario, types, "a.");
            let b = run::run(blocks, &scenario, types, "b.");
            let same = alike_but_result(&a, &b, exit);
            let f = Bool::and(&[same, a.printed(None), b.printed(None).not()]);
            single(
                vec![a, b],
                f,
                false,
                "one event is shown and another, alike but for its result, is not; the request keeps no outcome, so every event is shown whatever its result"
                    .into(),
            )
        }
        Claim::HostOrderPorts => {
            let r = run::run(blocks, &scenario, types, "");
            let be: Vec<&Input> = r
                .inputs
                .values()
                .filter(|i| matches!(i.kind, Kind::Int(s) if s.big_endian))
                .collect();
            let mut wrong = Vec::new();
            for o in &r.outputs {
                let Shown::Print { args, .. } = &o.shown else {
                    continue;
                };
                for arg in args {
                    let text = arg.bv.to_string();
                    for i in &be {
                        if !text.contains(&i.bv.to_string()) {
                            continue;
                        }
                        let host = bswap(&Val {
                            bv: i.bv.clone(),
                            kind: i.kind,
                        });
                        wrong.push(Bool::and(&[o.guard.clone(), arg.bv.eq(&host.bv).not()]));
                    }
                }
            }
            if wrong.is_empty() {
                return Err("no value read from a big-endian field is printed".into());
            }
            single(
                vec![r],
                Bool::or(&wrong),
                false,
                "a port is printed in network byte order; wrap it in bswap() to show it as a number"
                    .into(),
            )
        }
        Claim::Ipv6Shown { inet6 } => {
            let r = run::run(blocks, &scenario, types, "");
            let families: Vec<Bool> = r
                .inputs
                .values()
                .filter(|i| i.name.ends_with("family"))
                .map(|i| i.bv.eq(BV::from_i64(*inet6, 64)))
                .collect();
            if families.is_empty() {
                return Err("the program reads no address family".into());
            }
            let f = Bool::and(&[r.printed(None), Bool::or(&families)]);
            single(
                vec![r],
                f,
                true,
                format!("nothing is shown for a socket of family AF_INET6 ({inet6}), but the request asks for IPv6 too"),
            )
        }
        Claim::AboveThreshold { n } => {
            let r = run::run(blocks, &scenario, types, "");
            let Ok(n) = i64::try_from(*n) else {
                return Err(format!("the threshold {n} does not fit 64 bits"));
            };
            let bound = BV::from_i64(n, 64);
            let small: Vec<Bool> = r
                .inputs
                .values()
                .filter_map(|i| match i.kind {
                    Kind::Int(s) if s.signed => Some(i.bv.bvsle(&bound)),
                    Kind::Int(_) => Some(i.bv.bvule(&bound)),
                    Kind::Text => None,
                })
                .collect();
            if small.is_empty() {
                return Err("the program reads no number to compare".into());
            }
            let f = Bool::and(&[r.printed(None), Bool::and(&small)]);
            single(
                vec![r],
                f,
                false,
                format!("the program shows an event in which no value is above {n}, but the request asks only for events over its threshold: test the value against the threshold (a /predicate/ or if) before showing it"),
            )
        }
        Claim::ConstantShown { pairs } | Claim::ConstantKept { pairs } => {
            // Shown: some shown event passes the constant (satisfiable proves it). Kept: no
            // shown event fails it (satisfiable refutes it).
            let shown = matches!(contract.claim, Claim::ConstantShown { .. });
            let r = run::run(blocks, &scenario, types, "");
            let passes = constant_passes(&r, pairs);
            if passes.is_empty() {
                return Err("the program reads none of the fields that take the constant".into());
            }
            let passed = Bool::or(&passes);
            let f = Bool::and(&[r.printed(None), if shown { passed } else { passed.not() }]);
            let tests: Vec<String> = pairs
                .iter()
                .map(|(field, v)| format!("`(args->{field} & {v:#x}) == {v:#x}`"))
                .collect();
            let violation = if shown {
                format!("no event that passes the constant the request names is shown: the program tests it away; keep the events that pass it ({})", tests.join(" or "))
            } else {
                format!("the program shows an event that does not pass the constant the request names: keep only the events that do ({})", tests.join(" or "))
            };
            single(vec![r], f, shown, violation)
        }
        Claim::BitWithOthers { field, bit, others } => {
            let a = run::run(blocks, &scenario, types, "a.");
            let b = run::run(blocks, &scenario, types, "b.");
            let name = format!("args->{field}");
            let (Some(fa), Some(fb)) = (input_named(&a, &name), input_named(&b, &name)) else {
                return Err("the program reads none of the field that takes the constant".into());
            };
            let (Ok(bit), Ok(others)) = (i64::try_from(*bit), i64::try_from(*others)) else {
                return Err("a constant too large for the field".into());
            };
            let (v, rest) = (BV::from_i64(bit, 64), BV::from_i64(others, 64));
            // w: some of the other listed bits, at least one.
            let w = fb.bvxor(&fa);
            let same = alike_but(&a, &b, |i| i.name == name);
            let f = Bool::and(&[
                same,
                fa.bvand(&v).eq(&v),
                fb.eq(fa.bvor(&w)),
                w.bvand(&rest).eq(&w),
                w.eq(&zero).not(),
                fa.bvand(&rest).eq(&zero),
                a.printed(None),
                b.printed(None).not(),
            ]);
            single(
                vec![a, b],
                f,
                false,
                format!("the program shows a call passing {bit:#x} in args->{field} alone but not one passing it with other flags of that bit mask: a call may OR several together, so test the bit (`args->{field} & {bit:#x}`), not the whole value"),
            )
        }
        Claim::FieldAtLeast { field, n } => {
            let r = run::run(blocks, &scenario, types, "");
            let name = format!("args->{field}");
            // A program that never reads the field shows events whatever it holds.
            let value = input_named(&r, &name)
                .unwrap_or_else(|| BV::new_const(format!("unread.{name}"), 64));
            let Ok(n64) = i64::try_from(*n) else {
                return Err("a bound too large for the field".into());
            };
            let f = Bool::and(&[r.printed(None), value.bvslt(BV::from_i64(n64, 64))]);
            single(
                vec![r],
                f,
                false,
                format!("the program shows an event whose args->{field} is under {n}, but the request bounds args->{field}: test that field against the bound (`args->{field} > …`), not another value"),
            )
        }
        Claim::LatencySameThread => latency(blocks, contract, types),
        Claim::BytesAreResult { failed } => {
            let r = run::run(blocks, &scenario, types, "");
            let ret = result_of(&r, exit, "");
            let adds: Vec<BV> = r
                .outputs
                .iter()
                .filter_map(|o| match &o.shown {
                    Shown::Aggregate {
                        func,
                        value: Some(v),
                        ..
                    } if func == "sum" => Some(o.guard.ite(&v.bv, &zero)),
                    _ => None,
                })
                .collect();
            let Some(first) = adds.first() else {
                return Err("the program sums nothing".into());
            };
            let total = adds[1..].iter().fold(first.clone(), |acc, x| acc.bvadd(x));
            let (case, expected, violation) = if *failed {
                (
                    ret.bvslt(&zero),
                    zero.clone(),
                    "a failed call's negative error code is added to the bytes; sum args->ret only when it is positive (a predicate /args->ret > 0/ on the sys_exit_ probe)",
                )
            } else {
                (
                    ret.bvsge(&zero),
                    ret.clone(),
                    "what is summed for a successful call is not the bytes it transferred: sum args->ret at its sys_exit_ tracepoint, not the count the caller asked for",
                )
            };
            single(
                vec![r],
                Bool::and(&[case, total.eq(&expected).not()]),
                false,
                violation.into(),
            )
            .map(|q| q.with_extra("args->ret", &ret))
        }
        Claim::Written(w) => written(blocks, contract, w, types),
    }
}

/// Two threads of one process enter the call, then the first exits (run `a`); the same first
/// thread's call alone (run `b`), with the same inputs. Every number shown at that exit which
/// depends on a time must be the same in both: another thread's entry must not change a
/// thread's duration. (Relational: z3 compares two copies of the program instead of dividing
/// durations by every unit a program might print in.)
fn latency(blocks: &[Block], contract: &Contract, types: &Types) -> Result<Query, String> {
    let Some(enter) = contract.call.enter.clone() else {
        return Err("the call has no entry event".into());
    };
    let event = |probe: &str, thread| Event {
        probe: probe.to_owned(),
        thread,
    };
    let exit = contract.call.exit.as_str();
    let both = Scenario {
        events: vec![event(&enter, 0), event(&enter, 1), event(exit, 0)],
        one_process: true,
    };
    let alone = Scenario {
        events: vec![event(&enter, 0), event(exit, 0)],
        one_process: true,
    };
    let a = run::run_unscaled(blocks, &both, types, "a.");
    let b = run::run_unscaled(blocks, &alone, types, "b.");
    // The first thread's inputs are the same in both runs: a's events 0 and 2 are b's 0 and 1.
    let mut same = Vec::new();
    for ia in a.inputs.values() {
        let twin = match (ia.event, ia.thread) {
            (Some(0), _) => b.input(0, &ia.name),
            (Some(2), _) => b.input(1, &ia.name),
            (None, Some(0)) => b
                .inputs
                .values()
                .find(|i| i.thread == Some(0) && i.name == ia.name),
            _ => None,
        };
        if let Some(ib) = twin {
            same.push(ia.bv.eq(&ib.bv));
        }
    }
    let at_exit = |r: &Run, e: usize| -> Vec<(Bool, Vec<Val>)> {
        r.outputs
            .iter()
            .filter(|o| o.event == e)
            .map(|o| {
                let values = match &o.shown {
                    Shown::Print { args, .. } => args.clone(),
                    Shown::Aggregate { value, .. } => value.iter().cloned().collect(),
                };
                (o.guard.clone(), values)
            })
            .collect()
    };
    let (outs_a, outs_b) = (at_exit(&a, 2), at_exit(&b, 1));
    let mut differs = Vec::new();
    for ((ga, va), (gb, vb)) in outs_a.iter().zip(&outs_b) {
        for (x, y) in va.iter().zip(vb) {
            if !matches!(x.kind, Kind::Int(_)) || !x.bv.to_string().contains("nsecs") {
                continue;
            }
            differs.push(Bool::and(&[ga.clone(), gb.clone(), x.bv.eq(&y.bv).not()]));
        }
        if va.iter().any(|x| x.bv.to_string().contains("nsecs")) {
            differs.push(ga.iff(gb).not());
        }
    }
    if differs.is_empty() {
        return Err("no value shown at the exit depends on a time".into());
    }
    let mut facts: Vec<Bool> = a.facts.iter().chain(&b.facts).cloned().collect();
    facts.extend(same);
    Ok(Query {
        facts,
        formula: Bool::or(&differs),
        sat_proves: false,
        runs: vec![a, b],
        extra: Vec::new(),
        violation: "thread 1's duration changes when thread 2 of the same process enters the call meanwhile: the program reads another thread's start time; key the start time by tid".into(),
    })
}

fn written(
    blocks: &[Block],
    contract: &Contract,
    w: &Written,
    types: &Types,
) -> Result<Query, String> {
    let scenario = call_scenario(contract);
    let r = run::run(blocks, &scenario, types, "");
    let mut env = Env {
        run: &r,
        exit: exit_event(&scenario),
        unknown: Vec::new(),
    };
    let assumes: Vec<Bool> = w.assumes.iter().map(|a| env.val(a).truthy()).collect();
    let claim = env.val(&w.claim).truthy();
    if !env.unknown.is_empty() {
        return Err(format!(
            "the contract names what this program does not have: {}",
            env.unknown.join(", ")
        ));
    }
    let mut parts = assumes;
    parts.push(claim.not());
    Ok(Query {
        facts: r.facts.clone(),
        formula: Bool::and(&parts),
        sat_proves: false,
        runs: vec![r],
        extra: Vec::new(),
        violation: format!("the contract `{}` is violated", contract.text),
    })
}

/// Evaluates a written contract's expression over a run.
struct Env<'r> {
    run: &'r Run,
    exit: usize,
    unknown: Vec<String>,
}

impl Env<'_> {
    fn input(&mut self, name: &str) -> Val {
        let found = (0..=self.exit)
            .rev()
            .find_map(|e| self.run.input(e, name))
            .or_else(|| {
                self.run
                    .inputs
                    .values()
                    .find(|i| i.event.is_none() && i.name == name)
            });
        match found {
            Some(i) => Val {
                bv: i.bv.clone(),
                kind: i.kind,
            },
            None => {
                // Not read by the program: any value, as the kernel may give.
                let bv = BV::new_const(format!("contract.{name}"), 64);
                Val {
                    bv,
                    kind: Kind::Int(Scalar::new(64, true)),
                }
            }
        }
    }

    fn val(&mut self, node: &Node) -> Val {
        let lit = |n: i64| Val {
            bv: BV::from_i64(n, 64),
            kind: Kind::Int(Scalar::new(64, true)),
        };
        let flag = |b: Bool| Val {
            bv: b.ite(&BV::from_i64(1, 64), &BV::from_i64(0, 64)),
            kind: Kind::Int(Scalar::new(64, false)),
        };
        match &node.expr {
            Expr::Int(n) => lit(i64::try_from(*n).unwrap_or(i64::MAX)),
            Expr::Group(inner) | Expr::Cast(_, inner) => self.val(inner),
            Expr::Ident(name) if name == "printed" => flag(self.run.printed(None)),
            Expr::Ident(name) if name == "ret" => {
                let mut v = self.input("args->ret");
                if !self.run.inputs.values().any(|i| i.name == "args->ret") {
                    v = self.input("retval");
                }
                v
            }
            Expr::Ident(name) => self.input(name),
            Expr::Member(base, field) if matches!(&base.expr, Expr::Ident(a) if a == "args") => {
                self.input(&format!("args->{field}"))
            }
            Expr::Call(f, args) if f == "out" => {
                let k = match args.first().map(|a| &a.expr) {
                    Some(Expr::Int(k)) => usize::try_from(*k).unwrap_or(usize::MAX),
                    _ => usize::MAX,
                };
                let mut value: Option<Val> = None;
                for o in &self.run.outputs {
                    let Shown::Print { call, args, .. } = &o.shown else {
                        continue;
                    };
                    if call != "printf" {
                        continue;
                    }
                    if let Some(a) = args.get(k) {
                        let prev = value.clone().unwrap_or_else(|| lit(0));
                        value = Some(Val {
                            bv: o.guard.ite(&a.bv, &prev.bv),
                            kind: a.kind,
                        });
                    }
                }
                value.unwrap_or_else(|| {
                    self.unknown.push(format!("out({k})"));
                    lit(0)
                })
            }
            Expr::Call(f, args) if f == "bswap" && args.len() == 1 => {
                let v = self.val(&args[0]);
                bswap(&v)
            }
            Expr::Prefix(Prefix::Not, inner) => flag(self.val(inner).truthy().not()),
            Expr::Prefix(Prefix::Neg, inner) => {
                let v = self.val(inner);
                Val {
                    bv: v.bv.bvneg(),
                    kind: Kind::Int(Scalar::new(64, true)),
                }
            }
            Expr::Binary(a, op, b) => {
                let (a, b) = (self.val(a), self.val(b));
                binary(&a, *op, &b)
            }
            _ => {
                self.unknown.push(run::describe(node));
                lit(0)
            }
        }
    }
}

/// A model whose numbers are small enough to read (|x| ≤ 10^6), if the solver finds one
/// quickly; the counterexample is the same violation either way.
fn smaller(solver: &Solver, query: &Query) -> Option<z3::Model> {
    solver.push();
    for (_, bv) in &query.extra {
        solver.assert(bv.bvsge(BV::from_i64(-1_000_000, 64)));
        solver.assert(bv.bvsle(BV::from_i64(1_000_000, 64)));
    }
    for r in &query.runs {
        for i in r.inputs.values() {
            match i.kind {
                Kind::Int(s) if s.signed => {
                    solver.assert(i.bv.bvsge(BV::from_i64(-1_000_000, 64)));
                    solver.assert(i.bv.bvsle(BV::from_i64(1_000_000, 64)));
                }
                Kind::Int(_) => solver.assert(i.bv.bvule(BV::from_u64(1_000_000, 64))),
                Kind::Text => {}
            }
        }
    }
    let model = match ask(solver) {
        Answer::Sat(m) => Some(m),
        _ => None,
    };
    solver.pop(1);
    model
}

/// The inputs a model gives, in words: `sys_exit_openat: args->ret = 3`.
/// Only inputs the claim's formula mentions are named (`mentions` is its text).
fn counterexample(model: &z3::Model, query: &Query, mentions: &str) -> String {
    let runs = &query.runs;
    let mut parts = Vec::new();
    for (name, bv) in &query.extra {
        let read = runs
            .iter()
            .any(|r| r.inputs.values().any(|i| i.name == *name));
        if let (false, Some(n)) = (read, model.eval(bv, true).and_then(|v| v.as_u64())) {
            parts.push(format!("{name} = {}", n as i64));
        }
    }
    for r in runs {
        for (key, input) in &r.inputs {
            if input.name == "cpu" || !mentions.contains(key.as_str()) {
                continue;
            }
            let Some(v) = model.eval(&input.bv, true) else {
                continue;
            };
            let shown = match input.kind {
                Kind::Text => match v.as_u64().and_then(|id| r.literals.get(&id)) {
                    Some(text) => format!("\"{text}\""),
                    None => continue,
                },
                Kind::Int(s) if s.signed => {
                    v.as_u64().map_or("?".into(), |n| (n as i64).to_string())
                }
                Kind::Int(_) => v.as_u64().map_or("?".into(), |n| n.to_string()),
            };
            let at = match (input.event, input.thread) {
                (Some(e), _) => r.labels.get(e).cloned().unwrap_or_default(),
                (None, Some(t)) => format!("thread {}", t + 1),
                (None, None) => "BEGIN".into(),
            };
            let copy = key.split('.').next().filter(|c| *c == "a" || *c == "b");
            let copy = copy.map_or(String::new(), |c| format!("case {c}, "));
            parts.push(format!("{copy}{} = {shown} ({at})", input.name));
        }
        let printed = model
            .eval(&r.printed(None), true)
            .and_then(|b| b.as_bool())
            .unwrap_or(false);
        let mut shown = Vec::new();
        for o in &r.outputs {
            if model.eval(&o.guard, true).and_then(|b| b.as_bool()) != Some(true) {
                continue;
            }
            let values: Vec<&Val> = match &o.shown {
                Shown::Print { args, .. } => args.iter().collect(),
                Shown::Aggregate { value, .. } => value.iter().collect(),
            };
            let numbers: Vec<String> = values
                .iter()
                .filter(|v| matches!(v.kind, Kind::Int(_)))
                .filter_map(|v| model.eval(&v.bv, true))
                .filter_map(|v| v.as_u64())
                .map(|n| (n as i64).to_string())
                .collect();
            let what = match &o.shown {
                Shown::Print { call, .. } => call.clone(),
                Shown::Aggregate { map, func, .. } => format!("{map} {func}()"),
            };
            shown.push(format!("{what}({})", numbers.join(", ")));
        }
        parts.push(if printed {
            format!("the program shows {}", shown.join(", "))
        } else {
            "the program shows nothing".into()
        });
    }
    format!("with {}", parts.join("; "))
}
