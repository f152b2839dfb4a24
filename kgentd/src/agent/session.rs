//! One ask, as a state machine with explicit budgets.
//!
//! ```text
//! read ──▶ refused (the host plainly cannot do it: NoAnswer with the reason)
//!   │
//!   ▼
//! grounded (a Plan: probes, grammars, prompts) ──▶ draft(iteration, strategy) ──▶ checked
//!                                                     ▲                           │
//!                                                     └──── retry (feedback) ◀────┤
//!                                                                                 ▼
//!                                           answered | no answer (budget spent, model refuses)
//! ```
//!
//! Draft strategies: [`Strategy::Query`] (the model fills in a query under a grammar, kgent
//! compiles it) for the first `agent.query_drafts` iterations when the backend takes a grammar,
//! then [`Strategy::FreeForm`] (the model writes the program: bpftrace under a grammar, or C).
//! Each strategy keeps its own feedback. Budgets: iterations (`agent.max_iterations`, or the
//! request's), model tokens (`agent.max_ask_tokens`) and wall time (`agent.max_ask_seconds`);
//! a spent budget ends the ask with NoAnswer saying which.
//!
//! The session reads the request once ([`Intent`]) and passes that reading to every step; it
//! records every prompt, reply and check through the [`Recorder`].
use std::time::Instant;

use super::extract::Reply;
use super::{
    allowed_probes, emit, event_probes, progress, prompt, query_step, Agent, Answer, AskEvent,
    AskOptions, CheckReport, Events, NoAnswer, Origin, Outcome, ProgramTarget, Recorder,
};
use crate::check::{self, Check, CheckKind, Evidence};
use crate::error::KgentError;
use crate::intent::{Concept, Intent};
use crate::knowledge::subject::Subject;
use crate::llm::{ChatRequest, Completion, LlmError, Message, Role};
use crate::query;
use crate::store::EntryKind;
use crate::toolchain::grammar::{self, AllowedProbe, ProbeContext};

/// Which kind of draft an iteration asks the model for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Query,
    FreeForm,
}

/// What one iteration led to.
enum Step {
    Retry,
    Done(Outcome),
}

/// What is fixed once the request is grounded.
struct Plan {
    target: ProgramTarget,
    smoke: bool,
    allowed: Vec<AllowedProbe>,
    /// The free-form grammar, and the first draft's (narrowed by the plan step, if on).
    grammar: Option<String>,
    first_grammar: Option<String>,
    /// System and user prompt of free-form drafts.
    base: Vec<Message>,
    query: Option<QueryPlan>,
    max_iterations: u32,
    /// What the request is about, as this host's attach points see it (empty when the
    /// subject check is off).
    subjects: Vec<Subject>,
    /// The same, whether the subject check is on or not: a candidate the smoke run cannot
    /// exercise is judged by it (see `checks`).
    all_subjects: Vec<Subject>,
    /// The tracepoint this host's catalog ranks first for the request ("subsystem:event").
    best_tracepoint: Option<String>,
}

impl Plan {
    /// The tracepoints the catalog ranks first for each thing the request is about (a
    /// subject's best probe), or for the whole request when nothing singles out a subject, for
    /// judging a program nothing will run ([`check::passed_over_best`]). With subjects, the
    /// whole request's first tracepoint is not one: it is where the examples' events go first
    /// (mmap for "System V shared memory"), not what the request is about.
    fn best_matches(&self) -> Vec<check::BestMatch> {
        if self.all_subjects.is_empty() {
            return self
                .best_tracepoint
                .iter()
                .map(|t| check::BestMatch {
                    what: "the request".to_owned(),
                    event: t.clone(),
                })
                .collect();
        }
        // A subject that is a kernel name ("alarm timer": the `alarmtimer` events) is met by
        // any of the events named for it, not only the first.
        self.all_subjects
            .iter()
            .flat_map(|s| {
                let kernel_name = s.words.iter().any(|(w, _)| !w.kernel.is_empty());
                let take = if kernel_name { s.probes.len() } else { 1 };
                s.probes.iter().take(take).filter_map(move |p| {
                    Some(check::BestMatch {
                        what: format!("\"{}\"", s.phrase()),
                        event: p.strip_prefix("tracepoint:")?.to_owned(),
                    })
                })
            })
            .collect()
    }
}

/// The query strategy's scope, grammar and prompts.
struct QueryPlan {
    scope: query_step::QueryScope,
    grammar: String,
    base: Vec<Message>,
    drafts: u32,
}

/// What the loop carries from one iteration to the next.
#[derive(Default)]
struct Memory {
    last_checks: Vec<CheckReport>,
    /// Each checked candidate with its diagnostics: a repeat is not checked again.
    tried: Vec<(String, String)>,
    /// (last reply, what to tell the model) per strategy.
    feedback: Option<(String, String)>,
    query_feedback: Option<(String, String)>,
    /// The model said once that the host cannot do it; a second time stands.
    refused: bool,
    /// Event probes of candidates that loaded but failed their smoke run; a probe set that
    /// fails twice (or is sent again) is taken out of the grammar, so the model must look
    /// elsewhere instead of circling.
    smoke_failed: Vec<Vec<String>>,
    excluded: Vec<String>,
}

pub(super) struct Session<'a, 'r> {
    agent: &'a Agent,
    opts: &'a AskOptions,
    events: &'a Events,
    rec: &'a mut Recorder<'r>,
    intent: Intent,
}

impl<'a, 'r> Session<'a, 'r> {
    /// Reads the request; the reading is recorded.
    pub(super) fn new(
        agent: &'a Agent,
        opts: &'a AskOptions,
        events: &'a Events,
        rec: &'a mut Recorder<'r>,
    ) -> Self {
        let intent = Intent::read(&opts.text);
        rec.add(EntryKind::Note, 0, format!("request read as: {intent}"));
        Session {
            agent,
            opts,
            events,
            rec,
            intent,
        }
    }

    pub(super) async fn run(mut self) -> Result<Outcome, KgentError> {
        // What this host plainly cannot do is refused before any model call.
        if let Some(reason) = self.agent.infeasible(&self.intent) {
            self.note(0, format!("refused before synthesis: {reason}"));
            return Ok(self.no_answer(reason, Vec::new()));
        }
        let plan = self.plan().await?;
        let mut mem = Memory::default();
        // The longest draft so far (model call and checks): a draft is not started when it
        // would likely end past the time budget, so an ask overruns it by little.
        let mut slowest = std::time::Duration::ZERO;
        for iteration in 1..=plan.max_iterations {
            if self.events.is_closed() {
                return Err(KgentError::Cancelled);
            }
            if let Some(spent) = self.budget_spent(slowest) {
                self.note(iteration, format!("stopped: {spent}"));
                let last = std::mem::take(&mut mem.last_checks);
                return Ok(self.no_answer(
                    format!("no candidate passed the checks on this host before {spent}"),
                    last,
                ));
            }
            self.rec.record.iterations = iteration;
            let started = Instant::now();
            if let Step::Done(outcome) = self.iteration(&plan, &mut mem, iteration).await? {
                return Ok(outcome);
            }
            slowest = slowest.max(started.elapsed());
        }
        let reason = format!(
            "no candidate passed the checks on this host within {} iteration(s); last diagnostics: {}",
            plan.max_iterations,
            mem.last_checks
                .iter()
                .filter(|c| !c.passed && !c.inconclusive)
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect::<Vec<_>>()
                .join("; ")
        );
        Ok(self.no_answer(reason, mem.last_checks))
    }

    /// A spent budget (model tokens or wall time), said in words. The time budget counts as
    /// spent when another draft as slow as the slowest so far (`slowest`) would end past it.
    fn budget_spent(&self, slowest: std::time::Duration) -> Option<String> {
        let config = &self.agent.config;
        let tokens = self.rec.record.prompt_tokens + self.rec.record.completion_tokens;
        let elapsed = self.rec.started.elapsed();
        if config.max_ask_tokens > 0 && tokens >= config.max_ask_tokens {
            return Some(format!(
                "the token budget ran out ({tokens} model tokens used; agent.max_ask_tokens = {})",
                config.max_ask_tokens
            ));
        }
        let budget = std::time::Duration::from_secs(config.max_ask_seconds);
        if config.max_ask_seconds == 0 {
            return None;
        }
        if elapsed >= budget {
            return Some(format!(
                "the time budget ran out ({} s; agent.max_ask_seconds = {})",
                elapsed.as_secs(),
                config.max_ask_seconds
            ));
        }
        (elapsed + slowest > budget).then(|| {
            format!(
                "the time budget would run out during another draft ({} s spent, the slowest draft took {} s; agent.max_ask_seconds = {})",
                elapsed.as_secs(),
                slowest.as_secs(),
                config.max_ask_seconds
            )
        })
    }

    fn note(&mut self, iteration: u32, text: impl Into<String>) {
        self.rec.add(EntryKind::Note, iteration, text);
    }

    async fn progress(&self, iteration: u32, stage: &str, detail: String) {
        progress(self.events, self.rec.started, iteration, stage, detail).await;
    }

    fn no_answer(&self, reason: String, last_checks: Vec<CheckReport>) -> Outcome {
        Outcome::NoAnswer(NoAnswer {
            request_id: self.rec.record.id.clone(),
            reason,
            last_checks,
            iterations: self.rec.record.iterations,
            usage: self.rec.usage(),
            wall: self.rec.started.elapsed(),
        })
    }

    /// Grounds the request and fixes what every draft is built from.
    async fn plan(&mut self) -> Result<Plan, KgentError> {
        let agent = self.agent;
        let grounding = agent.knowledge.ground(
            &agent.host,
            &self.intent,
            agent.config.grounding_tracepoints,
            agent.config.grounding_examples,
        );
        // A C answer has no smoke run: nothing at run time says it observes what was asked, so
        // every subject is held, as for a bpftrace program the workload never exercises.
        let subjects = crate::knowledge::subject::enforced(
            &agent.knowledge.subject_index,
            &grounding.subjects,
            agent.config.subject_check || self.opts.target == ProgramTarget::C,
            !crate::knowledge::named_syscall_tracepoints(&agent.host, &self.intent).is_empty(),
        );
        if !subjects.is_empty() {
            let said: Vec<String> = subjects
                .iter()
                .map(|s| format!("\"{}\" ({})", s.phrase(), s.probes.join(", ")))
                .collect();
            self.note(0, format!("subjects: {}", said.join("; ")));
        }
        let detail = grounding_summary(&grounding);
        self.note(0, format!("grounding: {detail}"));
        self.progress(0, "grounding", detail).await;
        let target = self.opts.target;
        let smoke = (agent.config.smoke_run || self.opts.smoke_run)
            && !self.opts.skip_smoke_run
            && target == ProgramTarget::Bpftrace;
        if !smoke {
            let note = if target == ProgramTarget::Bpftrace {
                "smoke run skipped: the answer is checked by catalog and load only"
            } else {
                "no smoke run for C programs yet: the answer is checked by clang and the verifier"
            };
            self.note(0, note);
            self.progress(0, "smoke-run", note.to_owned()).await;
        }
        let mut allowed = allowed_probes(&grounding, agent.config.repair);
        if self.intent.asks(Concept::CpuSampling) {
            allowed.push(AllowedProbe {
                name: "profile:hz:99".into(),
                context: ProbeContext::Plain,
            });
        }
        // Grammars and plans are written for bpftrace; C drafts are checked after generation.
        let grammar = (agent.config.grammar && target == ProgramTarget::Bpftrace)
            .then(|| grammar::gbnf(&allowed))
            .flatten();
        let mut base = vec![
            Message::new(Role::System, target.system_prompt(&agent.host)),
            Message::new(Role::User, target.user_prompt(&self.opts.text, &grounding)),
        ];
        // The first draft follows the plan; later drafts may use every grounded probe.
        let mut first_grammar = grammar.clone();
        if agent.config.plan && grammar.is_some() && agent.backend.constrains_decoding() {
            if let Some(g) = agent
                .plan(&mut base, &allowed, self.rec, self.events)
                .await?
            {
                first_grammar = Some(g);
            }
        }
        let query = self.query_plan(&grounding, &allowed);
        let max_iterations = match self.opts.max_iterations {
            0 => agent.config.max_iterations,
            n => n.min(16),
        };
        Ok(Plan {
            target,
            smoke,
            allowed,
            grammar,
            first_grammar,
            base,
            query,
            max_iterations,
            subjects,
            all_subjects: grounding.subjects.clone(),
            best_tracepoint: grounding
                .tracepoints
                .first()
                .map(|t| format!("{}:{}", t.subsystem, t.event)),
        })
    }

    /// The query strategy, when the configuration, the target and the backend allow it (the
    /// scope and its prompt are not computed otherwise).
    fn query_plan(
        &mut self,
        grounding: &crate::knowledge::Grounding,
        allowed: &[AllowedProbe],
    ) -> Option<QueryPlan> {
        let agent = self.agent;
        let on = agent.config.query
            && self.opts.target == ProgramTarget::Bpftrace
            && agent.backend.constrains_decoding();
        if !on {
            return None;
        }
        let scope = query_step::scope(&agent.host, grounding, allowed, &self.intent);
        let grammar = query::grammar::gbnf(
            &scope.from,
            &scope.fields,
            scope.focused,
            self.intent.time_unit,
            &scope.coded_fields,
        )?;
        let names: Vec<&str> = scope.from.iter().map(|p| p.name.as_str()).collect();
        let from = if scope.focused {
            "narrowed to the calls the request names (every call: raw_syscalls):"
        } else {
            "may name:"
        };
        self.note(0, format!("query step: FROM {from} {}", names.join(", ")));
        let mut shown = scope.grounding.clone();
        shown.examples.clear();
        let base = vec![
            Message::new(
                Role::System,
                query::grammar::system_prompt(&agent.host.kernel_release),
            ),
            Message::new(Role::User, prompt::user_prompt(&self.opts.text, &shown)),
        ];
        Some(QueryPlan {
            scope,
            grammar,
            base,
            drafts: agent.config.query_drafts,
        })
    }

    /// One draft: ask the model, turn its reply into a candidate, check it, judge.
    async fn iteration(
        &mut self,
        plan: &Plan,
        mem: &mut Memory,
        iteration: u32,
    ) -> Result<Step, KgentError> {
        let query_drafts = plan.query.as_ref().map_or(0, |q| q.drafts);
        let (strategy, turn) = if iteration <= query_drafts {
            (Strategy::Query, iteration)
        } else {
            (Strategy::FreeForm, iteration - query_drafts)
        };
        let request = self.chat_request(plan, mem, strategy, iteration, turn);
        let completion = match self.complete(request, iteration).await? {
            Ok(c) => c,
            Err(reason) => {
                let last = std::mem::take(&mut mem.last_checks);
                return Ok(Step::Done(self.no_answer(reason, last)));
            }
        };
        let candidate = match strategy {
            Strategy::Query => self.compiled_query(plan, mem, iteration, &completion).await,
            Strategy::FreeForm => self.free_form(plan, mem, iteration, &completion).await,
        };
        let (source, explanation) = match candidate {
            Drafted::Candidate(source, explanation) => (source, explanation),
            Drafted::Retry => return Ok(Step::Retry),
            Drafted::NoAnswer(reason) => {
                let last = std::mem::take(&mut mem.last_checks);
                return Ok(Step::Done(self.no_answer(reason, last)));
            }
        };
        let origin = match strategy {
            Strategy::Query => Origin::Compiled,
            Strategy::FreeForm => Origin::Written,
        };
        let Some(source) = self.repaired(plan, mem, iteration, source, origin).await else {
            return Ok(Step::Retry);
        };
        let checks = self.checks(plan, iteration, &source).await;
        Ok(self
            .judge(
                plan,
                mem,
                strategy,
                iteration,
                &completion,
                source,
                explanation,
                checks,
            )
            .await)
    }

    /// The prompt of this draft (recorded) with its grammar and sampling.
    fn chat_request(
        &mut self,
        plan: &Plan,
        mem: &Memory,
        strategy: Strategy,
        iteration: u32,
        turn: u32,
    ) -> ChatRequest {
        let (mut messages, feedback) = match (strategy, &plan.query) {
            (Strategy::Query, Some(q)) => (q.base.clone(), &mem.query_feedback),
            _ => (plan.base.clone(), &mem.feedback),
        };
        match feedback {
            // After a repeat the reply is not shown again: a small model shown its own reply
            // copies it. The request is asked afresh with what the earlier programs lacked.
            Some((reply, repair)) if reply.is_empty() => {
                if let Some(last) = messages.iter_mut().rev().find(|m| m.role == Role::User) {
                    last.content = format!("{}\n\n{repair}", last.content);
                }
            }
            Some((reply, repair)) => {
                messages.push(Message::new(Role::Assistant, reply.clone()));
                messages.push(Message::new(Role::User, repair.clone()));
            }
            None => {}
        }
        let prompt_text = messages
            .iter()
            .map(|m| format!("[{}]\n{}", m.role.as_str(), m.content))
            .collect::<Vec<_>>()
            .join("\n\n");
        self.rec.add(EntryKind::Prompt, iteration, prompt_text);
        let grammar = match (strategy, &plan.query) {
            (Strategy::Query, Some(q)) => Some(q.grammar.clone()),
            _ if iteration == 1 => plan.first_grammar.clone(),
            _ if !mem.excluded.is_empty() && plan.grammar.is_some() => {
                let rest: Vec<AllowedProbe> = plan
                    .allowed
                    .iter()
                    .filter(|a| !mem.excluded.contains(&a.name))
                    .cloned()
                    .collect();
                grammar::gbnf(&rest).or_else(|| plan.grammar.clone())
            }
            _ => plan.grammar.clone(),
        };
        let max_reply = self.agent.config.max_reply_tokens;
        ChatRequest {
            messages,
            max_tokens: match strategy {
                Strategy::Query => max_reply.min(160),
                Strategy::FreeForm => max_reply,
            },
            // Greedy first; a retry samples, so it can't return the same reply byte for byte.
            temperature: if turn == 1 {
                0.0
            } else {
                (0.3 + 0.2 * turn as f32).min(1.0)
            },
            seed: iteration,
            grammar,
            deadline: self.agent.config.ask_deadline(self.rec.started),
        }
    }

    /// The model's reply (recorded), or why there is none: an unavailable model is an error, a
    /// failed request ends the ask without an answer.
    async fn complete(
        &mut self,
        request: ChatRequest,
        iteration: u32,
    ) -> Result<Result<Completion, String>, KgentError> {
        let t = Instant::now();
        let completion = match self.agent.backend.complete(request).await {
            Ok(c) => c,
            Err(e @ LlmError::Unavailable(_)) => {
                self.note(iteration, format!("model unavailable: {e}"));
                return Err(KgentError::Model(Box::new(e)));
            }
            Err(LlmError::Request(e)) => {
                self.note(iteration, format!("model request failed: {e}"));
                return Ok(Err(format!("the model could not answer: {e}")));
            }
        };
        self.rec.record.prompt_tokens += completion.prompt_tokens;
        self.rec.record.completion_tokens += completion.completion_tokens;
        if completion.stopped_at_deadline {
            self.rec
                .add(EntryKind::Reply, iteration, completion.text.clone());
            return Ok(Err(format!(
                "the time budget ran out during a draft ({} s; agent.max_ask_seconds = {}): the model was stopped",
                self.rec.started.elapsed().as_secs(),
                self.agent.config.max_ask_seconds
            )));
        }
        let generation = match completion.generation_ms {
            0 => t.elapsed(),
            ms => std::time::Duration::from_millis(ms),
        };
        crate::metrics::model_reply(
            completion.prompt_tokens,
            completion.completion_tokens,
            generation,
        );
        self.rec
            .add(EntryKind::Reply, iteration, completion.text.clone());
        let detail = format!(
            "{} prompt ({} from cache) + {} reply tokens in {:.1} s",
            completion.prompt_tokens,
            completion.cached_prompt_tokens,
            completion.completion_tokens,
            t.elapsed().as_secs_f32()
        );
        self.progress(iteration, "model", detail).await;
        Ok(Ok(completion))
    }

    /// A query reply compiled to a candidate, or its diagnostic kept as the query feedback.
    async fn compiled_query(
        &mut self,
        plan: &Plan,
        mem: &mut Memory,
        iteration: u32,
        completion: &Completion,
    ) -> Drafted {
        // Where a query may move when its probe lacks what it reads: the offered probes,
        // best-ranked first, unless the request named the calls.
        let movable: &[AllowedProbe] = match &plan.query {
            Some(q) if !q.scope.focused => &q.scope.from,
            _ => &[],
        };
        match self
            .agent
            .compile_query(&completion.text, &self.intent, movable)
        {
            Ok(Reply::Program {
                source,
                explanation,
            }) => Drafted::Candidate(source, explanation),
            Ok(_) => Drafted::Retry,
            Err(diag) => {
                self.failed_step(mem, iteration, "query", &diag).await;
                // The failed query is not shown back: shown its own reply, a small model
                // copies it byte for byte (three of three on unseen requests); the request is
                // asked afresh with the diagnostic, which names what was wrong.
                mem.query_feedback = Some((
                    String::new(),
                    format!(
                        "An earlier query for this request could not be compiled: {diag}\n{}",
                        query::grammar::REPAIR
                    ),
                ));
                Drafted::Retry
            }
        }
    }

    /// A free-form reply read as a program; a refusal is questioned once, garbage is told so.
    async fn free_form(
        &mut self,
        plan: &Plan,
        mem: &mut Memory,
        iteration: u32,
        completion: &Completion,
    ) -> Drafted {
        let target = plan.target;
        match target.parse_reply(&completion.text) {
            // A small model refuses too readily: the first refusal is questioned once with the
            // host's own catalog; a second one stands.
            Reply::Unsupported(reason) if mem.refused => {
                self.note(
                    iteration,
                    format!("the model says again this host cannot do it: {reason}"),
                );
                Drafted::NoAnswer(format!("not possible on this host: {reason}"))
            }
            Reply::Unsupported(reason) => {
                mem.refused = true;
                self.note(iteration, format!("the model says this host cannot do it ({reason}); asking it to check the catalog"));
                mem.feedback = Some((completion.text.clone(), target.reconsider_prompt()));
                Drafted::Retry
            }
            Reply::Garbage => {
                let diag = target.garbage().to_owned();
                self.failed_step(mem, iteration, "extract", &diag).await;
                mem.feedback = Some((
                    completion.text.chars().take(2000).collect(),
                    target.repair_prompt(&diag),
                ));
                Drafted::Retry
            }
            Reply::Program {
                source,
                explanation,
            } => Drafted::Candidate(source, explanation),
        }
    }

    /// A step before the checks failed (the query did not compile, the reply held no program):
    /// recorded and shown as a failed check.
    async fn failed_step(&mut self, mem: &mut Memory, iteration: u32, name: &str, diag: &str) {
        let c = CheckReport {
            iteration,
            name: name.into(),
            passed: false,
            inconclusive: false,
            detail: diag.to_owned(),
            elapsed: std::time::Duration::ZERO,
        };
        self.rec
            .add(EntryKind::Check, iteration, format!("{name}: FAIL: {diag}"));
        emit(self.events, AskEvent::Check(c.clone())).await;
        mem.last_checks = vec![c];
    }

    /// The candidate after deterministic repairs (announced), or None when the model repeated a
    /// candidate already checked (it is told so).
    async fn repaired(
        &mut self,
        plan: &Plan,
        mem: &mut Memory,
        iteration: u32,
        source: String,
        origin: Origin,
    ) -> Option<String> {
        let target = plan.target;
        let (source, repairs) = if self.agent.config.repair {
            let provoked = if plan.smoke {
                self.agent.provoked().await
            } else {
                None
            };
            target.repair(&self.agent.host, &self.intent, &source, origin, provoked)
        } else {
            (source, Vec::new())
        };
        if !repairs.is_empty() {
            let detail = repairs.join("; ");
            self.note(iteration, format!("deterministic repair: {detail}"));
            self.progress(iteration, "repair", detail).await;
        }
        emit(
            self.events,
            AskEvent::Candidate {
                iteration,
                source: source.clone(),
            },
        )
        .await;
        let Some((_, diag)) = mem.tried.iter().find(|(s, _)| *s == source) else {
            return Some(source);
        };
        let diag = diag.clone();
        self.note(
            iteration,
            "the model repeated an earlier candidate; not re-checked",
        );
        let probes = event_probes(&source);
        if mem.smoke_failed.contains(&probes) {
            self.exclude(mem, probes, iteration);
        }
        mem.feedback = Some((String::new(), target.repeat_prompt(&diag)));
        None
    }

    /// The checks of a candidate, and its smoke run when the others pass.
    async fn checks(&mut self, plan: &Plan, iteration: u32, source: &str) -> Vec<Check> {
        let mut checks = self
            .agent
            .check(
                plan.target,
                &self.intent,
                &plan.subjects,
                source,
                self.opts.role,
            )
            .await;
        if checks.iter().any(Check::failed) {
            return checks;
        }
        if self.agent.config.symbolic && plan.target == ProgramTarget::Bpftrace {
            self.progress(
                iteration,
                "symbolic",
                "judging the request's contracts with z3".into(),
            )
            .await;
            let symbolic = check::check_symbolic(
                &self.agent.host,
                &self.intent,
                source,
                std::time::Duration::from_millis(self.agent.config.symbolic_timeout_ms),
            )
            .await;
            let failed = symbolic.failed();
            checks.push(symbolic);
            if failed {
                return checks;
            }
        } else if self.agent.config.symbolic {
            checks.push(check::symbolic_not_read());
        }
        if !plan.smoke {
            return checks;
        }
        let provoked = self.agent.provoked().await;
        if let Some(why) = check::bypassed_entry_points(&self.agent.host, source, provoked) {
            checks.push(Check::new(
                CheckKind::SmokeRun,
                false,
                Evidence::Problems(vec![why]),
                std::time::Duration::ZERO,
            ));
            return checks;
        }
        if let Some(why) = check::not_exercised(source, provoked) {
            self.note(iteration, format!("smoke run not applicable: {why}"));
            self.progress(iteration, "smoke-run", format!("not applicable: {why}"))
                .await;
            checks.extend(self.unexercised_checks(plan, source, provoked));
            return checks;
        }
        self.progress(
            iteration,
            "smoke-run",
            "running the candidate under a trigger workload".into(),
        )
        .await;
        let run = check::check_smoke_run(
            &self.agent.bpftrace,
            source,
            &self.intent,
            self.agent.check_timeout,
            provoked,
        )
        .await;
        // A silent run on events only other tasks make is inconclusive: such a program is as
        // unexercised as one on events never seen here, and is guarded the same way.
        let unexercised = run.verdict == check::Verdict::Inconclusive
            && check::fired_only_by_others(source, provoked).is_some();
        checks.push(run);
        if unexercised {
            checks.extend(self.unexercised_checks(plan, source, provoked));
        }
        checks
    }

    /// The checks left for a candidate no smoke run exercised: the request-subject check (even
    /// where it is off for exercised programs: a neighbouring event the workload never provokes
    /// passes every other check), and the refusal of programs that avoid every best match of
    /// the catalog that the workload does provoke. Only tracepoints: the subject index speaks
    /// of the catalog's events, while a uprobe is on a function of the binary the request names
    /// (checked against its symbols by the host check).
    fn unexercised_checks(
        &self,
        plan: &Plan,
        source: &str,
        provoked: Option<&check::Provoked>,
    ) -> Vec<Check> {
        let mut checks = Vec::new();
        let probes = check::subject::bpftrace_probes(source);
        let tracepoints_only = probes
            .iter()
            .all(|p| p.starts_with("tracepoint:") || p.starts_with("t:"));
        // A named call's kernel entry points count as named: `sendfile()` is sendfile64
        // here (`knowledge::syscall_variants`).
        let named: Vec<String> = self
            .intent
            .calls
            .iter()
            .chain(self.intent.syscall_names())
            .flat_map(|c| {
                let mut v = crate::knowledge::syscall_variants(&self.agent.host, c);
                v.push(c.clone());
                v
            })
            .collect();
        // A program on the tracepoints of the syscalls the request names ("with fallocate",
        // "each umask change") observes what was asked by construction, whatever the
        // request's other words ("preallocate", "device node") match in the catalog, unless
        // a subject's best event is one the workload makes: then a program there could be
        // judged by a run ("renames itself (prctl …)": task_rename).
        let checkable_subject = plan.all_subjects.iter().any(|s| {
            s.probes.first().is_some_and(|p| {
                provoked.is_some_and(|set| set.contains(p.trim_start_matches("tracepoint:")))
            })
        });
        let on_named_calls = !checkable_subject
            && !probes.is_empty()
            && probes.iter().all(|p| {
                p.rsplit(':')
                    .next()
                    .and_then(|e| {
                        e.strip_prefix("sys_enter_")
                            .or_else(|| e.strip_prefix("sys_exit_"))
                    })
                    .is_some_and(|call| named.iter().any(|n| n == call))
            });
        if !self.agent.config.subject_check
            && !plan.all_subjects.is_empty()
            && tracepoints_only
            && !on_named_calls
        {
            checks.push(check::subject::check_subject(
                &self.agent.knowledge.subject_index,
                &plan.all_subjects,
                &self.intent,
                &probes,
                &check::subject::comm_filters(source),
            ));
        }
        if tracepoints_only {
            // The catalog's best matches are the judges left. When the workload provokes one
            // and the program avoids them all for events it does not make, that is refused.
            if let Some(why) =
                check::passed_over_best(source, &plan.best_matches(), provoked, &named)
            {
                checks.push(Check::new(
                    CheckKind::SmokeRun,
                    false,
                    Evidence::Problems(vec![why]),
                    std::time::Duration::ZERO,
                ));
            }
        }
        checks
    }

    /// Records the checks; an answer when all passed, else the feedback for the next draft.
    #[allow(clippy::too_many_arguments)]
    async fn judge(
        &mut self,
        plan: &Plan,
        mem: &mut Memory,
        strategy: Strategy,
        iteration: u32,
        completion: &Completion,
        source: String,
        explanation: String,
        checks: Vec<Check>,
    ) -> Step {
        mem.last_checks = checks.iter().map(|c| check_event(iteration, c)).collect();
        for (c, ev) in checks.iter().zip(&mem.last_checks) {
            if c.failed() {
                crate::metrics::check_failed(c.name());
            }
            let verdict = match c.verdict {
                check::Verdict::Pass => "pass",
                check::Verdict::Fail => "FAIL",
                check::Verdict::Inconclusive => "inconclusive",
            };
            self.rec.add(
                EntryKind::Check,
                iteration,
                format!("{}: {verdict}: {}", c.name(), ev.detail),
            );
            emit(self.events, AskEvent::Check(ev.clone())).await;
        }
        let target = plan.target;
        if !checks.iter().any(Check::failed) {
            let explanation = if explanation.is_empty() {
                let attached = checks.iter().find_map(|c| match &c.evidence {
                    Evidence::Resolved(probes) => Some(probes.join(", ")),
                    _ => None,
                });
                let first = || checks.first().map(Check::detail).unwrap_or_default();
                format!("attaches to {}", attached.unwrap_or_else(first))
            } else {
                explanation
            };
            let id = self.rec.record.id.clone();
            tracing::info!(request = %id, iteration, "answered");
            return Step::Done(Outcome::Answer(Answer {
                request_id: id,
                program: source,
                target,
                explanation,
                checks: std::mem::take(&mut mem.last_checks),
                iterations: iteration,
                usage: self.rec.usage(),
                wall: self.rec.started.elapsed(),
            }));
        }
        // bpftrace's own diagnostic first, then what the catalog knows.
        let diag = checks
            .iter()
            .rev()
            .filter(|c| c.failed())
            .map(Check::detail)
            .collect::<Vec<_>>()
            .join("\n");
        mem.tried.push((source.clone(), diag.clone()));
        if checks
            .iter()
            .any(|c| c.kind == CheckKind::SmokeRun && !c.passed())
        {
            let probes = event_probes(&source);
            if mem.smoke_failed.contains(&probes) {
                self.exclude(mem, probes.clone(), iteration);
            }
            mem.smoke_failed.push(probes);
        }
        if strategy == Strategy::Query {
            mem.query_feedback = Some((
                completion.text.trim().to_owned(),
                format!(
                    "kgent compiled that query to:\n{}\nIt failed on this host:\n{diag}\n{}",
                    target.fenced(&source),
                    query::grammar::REPAIR
                ),
            ));
        }
        // A free-form reply that used every token it was allowed was cut off mid-program
        // (bpftrace then reports an unterminated string or an unexpected end of file): the
        // model is told why, or it writes the same long program again.
        let limit = u64::from(self.agent.config.max_reply_tokens);
        let diag = if strategy == Strategy::FreeForm && completion.completion_tokens >= limit {
            format!(
                "{diag}\nThe reply stopped at the {limit}-token limit, so the program was cut off: write a shorter one (no header lines, no comments, only what the request asks for)."
            )
        } else {
            diag
        };
        mem.feedback = Some((target.fenced(&source), target.repair_prompt(&diag)));
        Step::Retry
    }

    /// Takes a probe set that failed its smoke run twice out of the next drafts' grammar.
    fn exclude(&mut self, mem: &mut Memory, probes: Vec<String>, iteration: u32) {
        self.note(
            iteration,
            format!(
                "{} failed the smoke run twice; left out of the next drafts' grammar",
                probes.join(", ")
            ),
        );
        for p in probes {
            if !mem.excluded.contains(&p) {
                mem.excluded.push(p);
            }
        }
    }
}

/// What a reply became.
enum Drafted {
    Candidate(String, String),
    Retry,
    NoAnswer(String),
}

fn check_event(iteration: u32, c: &Check) -> CheckReport {
    CheckReport {
        iteration,
        name: c.name().to_owned(),
        passed: c.passed(),
        inconclusive: c.verdict == check::Verdict::Inconclusive,
        detail: c.detail(),
        elapsed: c.elapsed,
    }
}

/// One line on what grounding found, for the transcript and the client.
fn grounding_summary(g: &crate::knowledge::Grounding) -> String {
    let tp_names: Vec<String> = g.tracepoints.iter().map(|t| t.probe()).collect();
    let ex_names: Vec<&str> = g.examples.iter().map(|e| e.origin.as_str()).collect();
    let mut detail = format!(
        "{} tracepoints ({}), {} examples ({})",
        tp_names.len(),
        tp_names.join(", "),
        ex_names.len(),
        ex_names.join(", ")
    );
    for u in &g.uprobes {
        detail.push_str(&format!(
            ", uprobe target {} ({} functions; offered: {})",
            u.path.display(),
            u.total_symbols,
            u.symbols.join(", ")
        ));
    }
    detail
}
