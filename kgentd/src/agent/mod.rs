//! The agent loop: ground → synthesize → check → repair, within budgets.
//!
//! Grounding comes from this host (its tracepoints and fields, examples that work here); every
//! candidate is checked against this host (catalog lookups, then a real load through bpftrace
//! and the kernel verifier); every failure goes back to the model as a short diagnostic, and a
//! retry never sends the model the identical prompt (sampling temperature rises). The loop
//! records every prompt, reply and check in the store as it goes.
mod extract;
mod plan;
mod prompt;
mod query_step;
mod repair;
mod target;
mod target_c;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::check::{self, CheckOutcome};
use crate::config::AgentConfig;
use crate::error::KgentError;
use crate::host::HostFacts;
use crate::knowledge::{Grounding, Knowledge};
use crate::llm::{Backend, ChatRequest, LlmError, Message, Role};
use crate::proto;
use crate::query;
use crate::store::{EntryKind, RequestRecord, RequestState, Store, TranscriptEntry};
use crate::toolchain::grammar::{self, AllowedProbe, ProbeContext};
pub use extract::{parse_reply, Reply};
pub use target::ProgramTarget;

/// The prompts as the loop builds them, for benchmarks.
pub fn system_prompt_for_bench(host: &HostFacts) -> String {
    prompt::system_prompt(host)
}

pub fn user_prompt_for_bench(request: &str, g: &crate::knowledge::Grounding) -> String {
    prompt::user_prompt(request, g)
}

pub struct Agent {
    pub backend: Arc<dyn Backend>,
    pub host: Arc<HostFacts>,
    pub knowledge: Arc<Knowledge>,
    pub store: Store,
    pub config: AgentConfig,
    pub bpftrace: PathBuf,
    /// The C front end (target c).
    pub clang: Arc<crate::toolchain::clang::ClangToolchain>,
    pub check_timeout: Duration,
}

pub struct AskOptions {
    pub text: String,
    pub target: ProgramTarget,
    pub max_iterations: u32,
    /// Force the smoke run on, whatever the configuration says.
    pub smoke_run: bool,
    /// Skip the smoke run (wins over `smoke_run`).
    pub skip_smoke_run: bool,
    pub caller_uid: u32,
}

pub enum Outcome {
    Answer(proto::Answer),
    NoAnswer(proto::NoAnswer),
}

/// Keeps the request's record and writes it as the loop goes.
struct Recorder<'a> {
    store: &'a Store,
    record: RequestRecord,
    started: Instant,
}

impl Recorder<'_> {
    fn add(&mut self, kind: EntryKind, iteration: u32, text: impl Into<String>) {
        self.record.transcript.push(TranscriptEntry {
            kind,
            iteration,
            text: text.into(),
            at_ms: self.started.elapsed().as_millis() as u64,
        });
        if let Err(e) = self.store.put(&self.record) {
            tracing::warn!(request = %self.record.id, "cannot record transcript: {e}");
        }
    }

    async fn finish(&mut self, state: RequestState, outcome: &str) {
        self.record.state = state;
        self.record.outcome = outcome.to_owned();
        self.record.wall_ms = self.started.elapsed().as_millis() as u64;
        if let Err(e) = self.store.put_durable(&self.record).await {
            tracing::error!(request = %self.record.id, "cannot record the outcome: {e}");
        }
    }

    fn usage(&self) -> proto::Usage {
        proto::Usage {
            prompt_tokens: self.record.prompt_tokens,
            completion_tokens: self.record.completion_tokens,
        }
    }
}

/// `work`'s result, or an internal error saying what panicked in it.
async fn caught<T>(
    request_id: &str,
    work: impl std::future::Future<Output = Result<T, KgentError>>,
) -> Result<T, KgentError> {
    use futures::FutureExt;
    // The loop's state is dropped with the panic: only the record, finalised as failed, is
    // used after it.
    std::panic::AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            tracing::error!(request = %request_id, "the agent panicked: {what}");
            Err(KgentError::Internal(format!(
                "kgent failed while answering this request (a bug in kgent: it panicked: {what})"
            )))
        })
}

fn check_event(iteration: u32, c: &CheckOutcome) -> proto::CheckResult {
    proto::CheckResult {
        iteration,
        name: c.name.to_owned(),
        passed: c.passed,
        detail: c.detail.clone(),
        elapsed_ms: c.elapsed.as_millis() as u64,
    }
}

type Events = mpsc::Sender<proto::AskEvent>;

async fn emit(events: &Events, e: proto::ask_event::Event) {
    let _ = events.send(proto::AskEvent { event: Some(e) }).await;
}

async fn progress(events: &Events, started: Instant, iteration: u32, stage: &str, detail: String) {
    emit(
        events,
        proto::ask_event::Event::Progress(proto::Progress {
            stage: stage.to_owned(),
            detail,
            iteration,
            elapsed_ms: started.elapsed().as_millis() as u64,
        }),
    )
    .await;
}

/// Words that can only be answered with hardware performance counters.
const HARDWARE_WORDS: &[&str] = &[
    "cache miss",
    "cache-miss",
    "cache misses",
    "cpu cycles",
    "cycles per",
    "instructions retired",
    "branch miss",
    "branch-miss",
    "llc",
    "hardware counter",
    "pmu",
    "ipc",
];

impl Agent {
    /// Answers one request. The request is recorded (pending) before anything else happens and
    /// always finalised, whatever the outcome: a panic in the loop (a bug) ends it as failed,
    /// with the panic's message, instead of killing the task and leaving the record pending.
    pub async fn ask(&self, opts: AskOptions, events: Events) -> Result<Outcome, KgentError> {
        let started = Instant::now();
        let mut rec = Recorder {
            store: &self.store,
            record: RequestRecord::new(&opts.text, opts.target.name(), opts.caller_uid),
            started,
        };
        self.store.put_durable(&rec.record).await?;
        let id = rec.record.id.clone();
        tracing::info!(request = %id, uid = opts.caller_uid, "ask: {:.80}", opts.text);
        let result = caught(&id, self.run_loop(&opts, &events, &mut rec)).await;
        match &result {
            Ok(Outcome::Answer(a)) => {
                rec.record.program = Some(a.program.clone());
                rec.finish(RequestState::Answered, &a.explanation).await;
            }
            Ok(Outcome::NoAnswer(n)) => rec.finish(RequestState::NoAnswer, &n.reason).await,
            Err(e) => rec.finish(RequestState::Failed, &e.to_string()).await,
        }
        result
    }

    async fn run_loop(
        &self,
        opts: &AskOptions,
        events: &Events,
        rec: &mut Recorder<'_>,
    ) -> Result<Outcome, KgentError> {
        let started = rec.started;
        let id = rec.record.id.clone();
        let no_answer = |rec: &Recorder, reason: String, last: Vec<proto::CheckResult>| {
            Outcome::NoAnswer(proto::NoAnswer {
                request_id: rec.record.id.clone(),
                reason,
                last_checks: last,
                iterations: rec.record.iterations,
                usage: Some(rec.usage()),
                wall_ms: started.elapsed().as_millis() as u64,
            })
        };

        // Feasibility: what this host plainly cannot do is refused before any model call.
        if let Some(reason) = self.infeasible(&opts.text) {
            rec.add(
                EntryKind::Note,
                0,
                format!("refused before synthesis: {reason}"),
            );
            return Ok(no_answer(rec, reason, Vec::new()));
        }

        let grounding = self.knowledge.ground(
            &self.host,
            &opts.text,
            self.config.grounding_tracepoints,
            self.config.grounding_examples,
        );
        let tp_names: Vec<String> = grounding.tracepoints.iter().map(|t| t.probe()).collect();
        let ex_names: Vec<&str> = grounding
            .examples
            .iter()
            .map(|e| e.origin.as_str())
            .collect();
        let mut detail = format!(
            "{} tracepoints ({}), {} examples ({})",
            tp_names.len(),
            tp_names.join(", "),
            ex_names.len(),
            ex_names.join(", ")
        );
        for u in &grounding.uprobes {
            detail.push_str(&format!(
                ", uprobe target {} ({} functions; offered: {})",
                u.path.display(),
                u.total_symbols,
                u.symbols.join(", ")
            ));
        }
        rec.add(EntryKind::Note, 0, format!("grounding: {detail}"));
        progress(events, started, 0, "grounding", detail).await;
        let smoke = (self.config.smoke_run || opts.smoke_run)
            && !opts.skip_smoke_run
            && opts.target == ProgramTarget::Bpftrace;
        if !smoke {
            let note = if opts.target == ProgramTarget::Bpftrace {
                "smoke run skipped: the answer is checked by catalog and load only"
            } else {
                "no smoke run for C programs yet: the answer is checked by clang and the verifier"
            }
            .to_owned();
            rec.add(EntryKind::Note, 0, note.clone());
            progress(events, started, 0, "smoke-run", note).await;
        }

        let target = opts.target;
        let mut allowed = allowed_probes(&grounding, self.config.repair);
        if asks_for_sampling(&opts.text) {
            allowed.push(AllowedProbe {
                name: "profile:hz:99".into(),
                context: ProbeContext::Plain,
            });
        }
        // Grammars and plans are written for bpftrace; C drafts are checked after generation.
        let grammar = (self.config.grammar && target == ProgramTarget::Bpftrace)
            .then(|| grammar::gbnf(&allowed))
            .flatten();
        let mut base = vec![
            Message::new(Role::System, target.system_prompt(&self.host)),
            Message::new(Role::User, target.user_prompt(&opts.text, &grounding)),
        ];
        // The first draft follows the plan; later drafts may use every grounded probe.
        let mut first_grammar = grammar.clone();
        if self.config.plan && grammar.is_some() && self.backend.constrains_decoding() {
            if let Some(g) = self.plan(&mut base, &allowed, rec, events).await? {
                first_grammar = Some(g);
            }
        }
        // The query step: the model fills in a query under a grammar and kgent compiles it; the
        // first drafts are queries, the rest free-form bpftrace.
        // Only for a backend a grammar constrains: the scope (and the prompt built from it) is
        // not computed otherwise.
        let query_on = self.config.query
            && target == ProgramTarget::Bpftrace
            && self.backend.constrains_decoding();
        let query_step = query_on
            .then(|| query_step::scope(&self.host, &grounding, &allowed, &opts.text))
            .and_then(|scope| {
                let g = query::grammar::gbnf(
                    &scope.from,
                    &scope.fields,
                    scope.focused,
                    query::stated_time_unit(&opts.text),
                    &scope.coded_fields,
                )?;
                Some((scope, g))
            });
        let (query_grammar, query_base) = match &query_step {
            Some((scope, g)) => {
                let names: Vec<&str> = scope.from.iter().map(|p| p.name.as_str()).collect();
                rec.add(
                    EntryKind::Note,
                    0,
                    format!(
                        "query step: FROM {} {}",
                        if scope.focused {
                            "narrowed to the calls the request names:"
                        } else {
                            "may name:"
                        },
                        names.join(", ")
                    ),
                );
                let mut shown = scope.grounding.clone();
                shown.examples.clear();
                let base = vec![
                    Message::new(
                        Role::System,
                        query::grammar::system_prompt(&self.host.kernel_release),
                    ),
                    Message::new(Role::User, prompt::user_prompt(&opts.text, &shown)),
                ];
                (Some(g.clone()), base)
            }
            None => (None, Vec::new()),
        };
        let query_drafts = if query_grammar.is_some() {
            self.config.query_drafts
        } else {
            0
        };
        let mut query_feedback: Option<(String, String)> = None;
        let max_iter = if opts.max_iterations == 0 {
            self.config.max_iterations
        } else {
            opts.max_iterations.min(16)
        };
        let mut last_checks: Vec<proto::CheckResult> = Vec::new();
        let mut tried: Vec<(String, String)> = Vec::new(); // (candidate, its diagnostics)
        let mut feedback: Option<(String, String)> = None; // (last reply, repair message)
        let mut refused = false;
        // Event probes of candidates that loaded but failed their smoke run; a probe set that
        // fails twice (or is sent again) is taken out of the grammar, so the model must look
        // elsewhere instead of circling.
        let mut smoke_failed: Vec<Vec<String>> = Vec::new();
        let mut excluded: Vec<String> = Vec::new();

        for iteration in 1..=max_iter {
            if events.is_closed() {
                return Err(KgentError::Internal(
                    "cancelled: the client went away".into(),
                ));
            }
            rec.record.iterations = iteration;
            let query_turn = iteration <= query_drafts;
            // The first draft of each form is greedy; retries sample.
            let turn = if query_turn {
                iteration
            } else {
                iteration - query_drafts
            };
            let (mut messages, fb) = if query_turn {
                (query_base.clone(), &query_feedback)
            } else {
                (base.clone(), &feedback)
            };
            if let Some((reply, repair)) = fb {
                messages.push(Message::new(Role::Assistant, reply.clone()));
                messages.push(Message::new(Role::User, repair.clone()));
            }
            let prompt_text = messages
                .iter()
                .map(|m| format!("[{}]\n{}", m.role.as_str(), m.content))
                .collect::<Vec<_>>()
                .join("\n\n");
            rec.add(EntryKind::Prompt, iteration, prompt_text);
            let req = ChatRequest {
                messages,
                max_tokens: if query_turn {
                    self.config.max_reply_tokens.min(160)
                } else {
                    self.config.max_reply_tokens
                },
                // Greedy first; a retry samples, so it can't return the same reply byte for byte.
                temperature: if turn == 1 {
                    0.0
                } else {
                    (0.3 + 0.2 * turn as f32).min(1.0)
                },
                seed: iteration,
                grammar: if query_turn {
                    query_grammar.clone()
                } else if iteration == 1 {
                    first_grammar.clone()
                } else if !excluded.is_empty() && grammar.is_some() {
                    let rest: Vec<AllowedProbe> = allowed
                        .iter()
                        .filter(|a| !excluded.contains(&a.name))
                        .cloned()
                        .collect();
                    grammar::gbnf(&rest).or_else(|| grammar.clone())
                } else {
                    grammar.clone()
                },
            };
            let t = Instant::now();
            let completion = match self.backend.complete(req).await {
                Ok(c) => c,
                Err(LlmError::Unavailable(e)) => {
                    rec.add(
                        EntryKind::Note,
                        iteration,
                        format!("model unavailable: {e}"),
                    );
                    return Err(KgentError::ModelUnavailable(e));
                }
                Err(LlmError::Request(e)) => {
                    rec.add(
                        EntryKind::Note,
                        iteration,
                        format!("model request failed: {e}"),
                    );
                    return Ok(no_answer(
                        rec,
                        format!("the model could not answer: {e}"),
                        last_checks,
                    ));
                }
            };
            rec.record.prompt_tokens += completion.prompt_tokens;
            rec.record.completion_tokens += completion.completion_tokens;
            rec.add(EntryKind::Reply, iteration, completion.text.clone());
            progress(
                events,
                started,
                iteration,
                "model",
                format!(
                    "{} prompt ({} from cache) + {} reply tokens in {:.1} s",
                    completion.prompt_tokens,
                    completion.cached_prompt_tokens,
                    completion.completion_tokens,
                    t.elapsed().as_secs_f32()
                ),
            )
            .await;

            let reply = if query_turn {
                // Where a query may move when its probe lacks what it reads: the offered
                // probes, best-ranked first, unless the request named the calls.
                let movable: &[AllowedProbe] = match &query_step {
                    Some((scope, _)) if !scope.focused => &scope.from,
                    _ => &[],
                };
                match self.compile_query(&completion.text, &opts.text, movable) {
                    Ok(r) => r,
                    Err(diag) => {
                        let c = proto::CheckResult {
                            iteration,
                            name: "query".into(),
                            passed: false,
                            detail: diag.clone(),
                            elapsed_ms: 0,
                        };
                        rec.add(EntryKind::Check, iteration, format!("query: FAIL: {diag}"));
                        emit(events, proto::ask_event::Event::Check(c.clone())).await;
                        last_checks = vec![c];
                        query_feedback = Some((
                            completion.text.trim().to_owned(),
                            format!("{diag}\n{}", query::grammar::REPAIR),
                        ));
                        continue;
                    }
                }
            } else {
                target.parse_reply(&completion.text)
            };
            let (source, explanation) = match reply {
                // A small model refuses too readily: the first refusal is questioned once with
                // the host's own catalog; a second one stands.
                Reply::Unsupported(reason) if refused => {
                    rec.add(
                        EntryKind::Note,
                        iteration,
                        format!("the model says again this host cannot do it: {reason}"),
                    );
                    return Ok(no_answer(
                        rec,
                        format!("not possible on this host: {reason}"),
                        last_checks,
                    ));
                }
                Reply::Unsupported(reason) => {
                    refused = true;
                    rec.add(
                        EntryKind::Note,
                        iteration,
                        format!("the model says this host cannot do it ({reason}); asking it to check the catalog"),
                    );
                    feedback = Some((completion.text.clone(), target.reconsider_prompt()));
                    continue;
                }
                Reply::Garbage => {
                    let diag = target.garbage().to_owned();
                    let c = proto::CheckResult {
                        iteration,
                        name: "extract".into(),
                        passed: false,
                        detail: diag.clone(),
                        elapsed_ms: 0,
                    };
                    rec.add(
                        EntryKind::Check,
                        iteration,
                        format!("extract: FAIL: {diag}"),
                    );
                    emit(events, proto::ask_event::Event::Check(c.clone())).await;
                    last_checks = vec![c];
                    feedback = Some((
                        completion.text.chars().take(2000).collect(),
                        target.repair_prompt(&diag),
                    ));
                    continue;
                }
                Reply::Program {
                    source,
                    explanation,
                } => (source, explanation),
            };
            let (source, repairs) = if self.config.repair {
                target.repair(&self.host, &opts.text, &source)
            } else {
                (source, Vec::new())
            };
            if !repairs.is_empty() {
                let detail = repairs.join("; ");
                rec.add(
                    EntryKind::Note,
                    iteration,
                    format!("deterministic repair: {detail}"),
                );
                progress(events, started, iteration, "repair", detail).await;
            }
            emit(
                events,
                proto::ask_event::Event::Candidate(proto::Candidate {
                    iteration,
                    source: source.clone(),
                }),
            )
            .await;

            if let Some((_, diag)) = tried.iter().find(|(s, _)| *s == source) {
                let diag = diag.clone();
                rec.add(
                    EntryKind::Note,
                    iteration,
                    "the model repeated an earlier candidate; not re-checked",
                );
                let probes = event_probes(&source);
                if smoke_failed.contains(&probes) {
                    exclude(&mut excluded, probes, rec, iteration);
                }
                feedback = Some((target.fenced(&source), target.repeat_prompt(&diag)));
                continue;
            }

            let mut checks = self.check(target, &opts.text, &source).await;
            if smoke && target == ProgramTarget::Bpftrace && checks.iter().all(|c| c.passed) {
                if let Some(why) = check::not_exercised(&source) {
                    rec.add(
                        EntryKind::Note,
                        iteration,
                        format!("smoke run not applicable: {why}"),
                    );
                    progress(
                        events,
                        started,
                        iteration,
                        "smoke-run",
                        format!("not applicable: {why}"),
                    )
                    .await;
                } else {
                    progress(
                        events,
                        started,
                        iteration,
                        "smoke-run",
                        "running the candidate under a trigger workload".into(),
                    )
                    .await;
                    checks.push(
                        check::check_smoke_run(
                            &self.bpftrace,
                            &source,
                            &opts.text,
                            self.check_timeout,
                        )
                        .await,
                    );
                }
            }
            last_checks = checks.iter().map(|c| check_event(iteration, c)).collect();
            for (c, ev) in checks.iter().zip(&last_checks) {
                rec.add(
                    EntryKind::Check,
                    iteration,
                    format!(
                        "{}: {}: {}",
                        c.name,
                        if c.passed { "pass" } else { "FAIL" },
                        c.detail
                    ),
                );
                emit(events, proto::ask_event::Event::Check(ev.clone())).await;
            }
            if checks.iter().all(|c| c.passed) {
                let explanation = if explanation.is_empty() {
                    format!(
                        "attaches to {}",
                        checks[0]
                            .detail
                            .trim_start_matches("resolved on this host: ")
                    )
                } else {
                    explanation
                };
                tracing::info!(request = %id, iteration, "answered");
                return Ok(Outcome::Answer(proto::Answer {
                    request_id: id,
                    program: source,
                    target: target.proto() as i32,
                    explanation,
                    checks: last_checks,
                    iterations: iteration,
                    usage: Some(rec.usage()),
                    wall_ms: started.elapsed().as_millis() as u64,
                }));
            }
            // bpftrace's own diagnostic first, then what the catalog knows.
            let diag = checks
                .iter()
                .rev()
                .filter(|c| !c.passed)
                .map(|c| c.detail.clone())
                .collect::<Vec<_>>()
                .join("\n");
            tried.push((source.clone(), diag.clone()));
            if checks
                .iter()
                .any(|c| c.name == check::SMOKE_CHECK && !c.passed)
            {
                let probes = event_probes(&source);
                if smoke_failed.contains(&probes) {
                    exclude(&mut excluded, probes.clone(), rec, iteration);
                }
                smoke_failed.push(probes);
            }
            if query_turn {
                query_feedback = Some((
                    completion.text.trim().to_owned(),
                    format!(
                        "kgent compiled that query to:\n{}\nIt failed on this host:\n{diag}\n{}",
                        target.fenced(&source),
                        query::grammar::REPAIR
                    ),
                ));
            }
            feedback = Some((target.fenced(&source), target.repair_prompt(&diag)));
        }
        let reason = format!(
            "no candidate passed the checks on this host within {max_iter} iteration(s); last diagnostics: {}",
            last_checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect::<Vec<_>>()
                .join("; ")
        );
        Ok(no_answer(rec, reason, last_checks))
    }

    /// The checks of one candidate: catalog and bpftrace load, or clang and the verifier.
    async fn check(&self, target: ProgramTarget, request: &str, source: &str) -> Vec<CheckOutcome> {
        match target {
            ProgramTarget::Bpftrace => {
                let host_check = check::check_attach_points(&self.host, &self.knowledge, source);
                let coverage = self
                    .config
                    .coverage
                    .then(|| check::check_coverage(&self.host, request, source));
                let load_check = check::check_bpftrace_load(
                    &self.bpftrace,
                    source,
                    self.check_timeout,
                    &self.host.kernel_release,
                )
                .await;
                std::iter::once(host_check)
                    .chain(coverage)
                    .chain(std::iter::once(load_check))
                    .collect()
            }
            ProgramTarget::C => {
                check::c_program::check_c_program(&self.clang, source, &self.host.kernel_release)
                    .await
                    .into()
            }
        }
    }

    /// A reason this host cannot do what is asked, when that is plain from the request and the
    /// host's facts alone.
    fn infeasible(&self, text: &str) -> Option<String> {
        if let Some(reason) = self.unreachable_kernel_function(text) {
            return Some(reason);
        }
        if let Some(reason) = absent_filesystem(text, &self.host) {
            return Some(reason);
        }
        let lower = text.to_lowercase();
        let hardware = self.host.families.iter().find(|f| f.name == "hardware")?;
        let wants_hw = HARDWARE_WORDS.iter().any(|w| {
            lower
                .match_indices(w)
                .any(|(i, _)| word_boundary(&lower, i, w.len()))
        });
        (wants_hw && !hardware.available).then(|| hardware.reason.clone())
    }
}

/// The event probes (not BEGIN/END/timers) a candidate attaches to, sorted.
fn event_probes(source: &str) -> Vec<String> {
    let mut v: Vec<String> = crate::toolchain::bpftrace::probe_blocks(source)
        .into_iter()
        .flat_map(|b| b.probes)
        .filter(crate::toolchain::bpftrace::ProbeSpec::observes_events)
        .map(|p| format!("{}:{}", p.prefix, p.target))
        .collect();
    v.sort();
    v.dedup();
    v
}

fn exclude(
    excluded: &mut Vec<String>,
    probes: Vec<String>,
    rec: &mut Recorder<'_>,
    iteration: u32,
) {
    rec.add(
        EntryKind::Note,
        iteration,
        format!(
            "{} failed the smoke run twice; left out of the next drafts' grammar",
            probes.join(", ")
        ),
    );
    for p in probes {
        if !excluded.contains(&p) {
            excluded.push(p);
        }
    }
}

/// Whether a request is about where CPU time goes, which a sampling probe (`profile:hz:99`)
/// answers. Elsewhere sampling only adds every process on the host to the output.
fn asks_for_sampling(request: &str) -> bool {
    static SAMPLING: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)\bcpus?\b|profil|sampl|on-cpu|hot ?spots?|hottest|stack traces?")
            .expect("static regex")
    });
    SAMPLING.is_match(request)
}

/// The attach points a constrained reply may use: the grounded tracepoints with their fields and
/// the grounded uprobe functions (entry and return).
///
/// With `aliases` (the repairs are on), `tracepoint:syscalls:sys_enter`/`sys_exit` are allowed
/// too, with the fields of `raw_syscalls:sys_enter`/`sys_exit`, when those are grounded: models
/// write that name for "every syscall", and a grammar without it would force the name on to
/// some `sys_enter_X` the model never meant. The repair renames it to `raw_syscalls`.
fn allowed_probes(g: &Grounding, aliases: bool) -> Vec<AllowedProbe> {
    let mut out: Vec<AllowedProbe> = Vec::new();
    for t in &g.tracepoints {
        let fields: Vec<String> = t.fields.iter().map(|f| f.name.clone()).collect();
        if aliases && t.subsystem == "raw_syscalls" {
            out.push(AllowedProbe::tracepoint(
                format!("tracepoint:syscalls:{}", t.event),
                fields.clone(),
            ));
        }
        out.push(AllowedProbe::tracepoint(t.probe(), fields));
    }
    for u in &g.uprobes {
        for s in &u.symbols {
            for (kind, context) in [
                ("uprobe", ProbeContext::Uprobe),
                ("uretprobe", ProbeContext::Uretprobe),
            ] {
                out.push(AllowedProbe {
                    name: format!("{kind}:{}:{s}", u.path.display()),
                    context,
                });
            }
        }
    }
    out
}

impl Agent {
    /// A query reply compiled to a bpftrace program, or the diagnostic for the model.
    /// Filter tests the request does not state are dropped first (see `query::prune_filter`);
    /// the program says so in a comment.
    ///
    /// A query on one probe that lacks a field it reads moves to the first of `movable` (the
    /// offered probes, best-ranked first) on which it compiles whole, with a note.
    fn compile_query(
        &self,
        reply: &str,
        request: &str,
        movable: &[AllowedProbe],
    ) -> Result<Reply, String> {
        let mut q =
            query::parse_reply(reply).map_err(|e| format!("the query does not parse: {e}"))?;
        let mut repaired = query::normalize(&mut q, request);
        let dropped = query::prune_filter(&mut q, request);
        let c = match query::compile::compile(&self.host, &q) {
            Ok(c) => c,
            Err(e) if q.from.len() == 1 && e.contains(" has no field ") => {
                let moved = movable.iter().find_map(|p| {
                    let mut q2 = q.clone();
                    q2.from = vec![p.name.clone()];
                    query::compile::compile(&self.host, &q2)
                        .ok()
                        .filter(|c| c.notes.is_empty())
                        .map(|c| (p, c))
                });
                let Some((p, c)) = moved else {
                    return Err(format!("the query cannot be compiled: {e}"));
                };
                repaired.push(format!(
                    "the query reads fields {} lacks; it runs on {}, the first offered probe that has them all",
                    q.from[0], p.name
                ));
                c
            }
            Err(e) => return Err(format!("the query cannot be compiled: {e}")),
        };
        let text = reply.trim().lines().collect::<Vec<_>>().join(" ");
        let mut source = String::new();
        for d in &dropped {
            source.push_str(&format!(
                "// kgent left out the filter `{d}`: the request does not state it\n"
            ));
        }
        for r in &repaired {
            source.push_str(&format!("// kgent: {r}\n"));
        }
        source.push_str(&c.source);
        Ok(Reply::Program {
            source,
            explanation: format!("compiled by kgent from the query `{text}`"),
        })
    }

    /// The plan step (see `plan`): on success `base` holds the plan and the request to follow
    /// it, and the grammar of the first draft is returned.
    async fn plan(
        &self,
        base: &mut Vec<Message>,
        allowed: &[AllowedProbe],
        rec: &mut Recorder<'_>,
        events: &Events,
    ) -> Result<Option<String>, KgentError> {
        let Some(plan_grammar) = grammar::plan_gbnf(allowed) else {
            return Ok(None);
        };
        let mut messages = base.clone();
        if let Some(user) = messages.last_mut() {
            user.content.push_str("\n\n");
            user.content.push_str(plan::PLAN_INSTRUCTION);
        }
        let req = ChatRequest {
            messages: messages.clone(),
            max_tokens: 120,
            temperature: 0.0,
            seed: 0,
            grammar: Some(plan_grammar),
        };
        let t = Instant::now();
        let c = match self.backend.complete(req).await {
            Ok(c) => c,
            Err(LlmError::Unavailable(e)) => return Err(KgentError::ModelUnavailable(e)),
            Err(LlmError::Request(e)) => {
                rec.add(EntryKind::Note, 0, format!("plan step skipped: {e}"));
                return Ok(None);
            }
        };
        rec.record.prompt_tokens += c.prompt_tokens;
        rec.record.completion_tokens += c.completion_tokens;
        let probes = plan::planned_probes(&c.text);
        let Some(g) = grammar::gbnf(&plan::narrowed(allowed, &probes)) else {
            rec.add(EntryKind::Note, 0, format!("plan not usable: {}", c.text));
            return Ok(None);
        };
        rec.add(EntryKind::Note, 0, format!("plan: {}", c.text.trim()));
        progress(
            events,
            rec.started,
            0,
            "plan",
            format!(
                "{} ({} reply tokens in {:.1} s)",
                c.text.trim().replace('\n', " "),
                c.completion_tokens,
                t.elapsed().as_secs_f32()
            ),
        )
        .await;
        messages.push(Message::new(Role::Assistant, c.text));
        messages.push(Message::new(Role::User, plan::AFTER_PLAN));
        *base = messages;
        Ok(Some(g))
    }

    /// The request names a kernel function (from BTF) that has no tracepoint of its name, and
    /// this kernel can attach to kernel functions neither by kprobe nor by fentry.
    fn unreachable_kernel_function(&self, text: &str) -> Option<String> {
        static IDENT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            regex::Regex::new(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b").expect("static regex")
        });
        let unavailable = |name: &str| {
            self.host
                .families
                .iter()
                .find(|f| f.name == name)
                .filter(|f| !f.available)
                .map(|f| f.reason.clone())
        };
        let kprobe = unavailable("kprobe")?;
        let fentry = unavailable("fentry")?;
        let catalog = &self.knowledge.catalog;
        for m in IDENT.find_iter(text) {
            let name = m.as_str();
            let is_function = catalog
                .get(&format!("kprobe:{name}"))
                .is_some_and(|e| e.kind == crate::knowledge::catalog::EntryKind::KernelFunction);
            let has_tracepoint = self
                .host
                .tracepoints
                .keys()
                .any(|k| k.rsplit(':').next() == Some(name))
                || name.starts_with("sys_")
                || name.contains("_sys_");
            if is_function && !has_tracepoint {
                let nearest = self.knowledge.nearest_tracepoints(name, 3);
                return Some(format!(
                    "the request is about the kernel function {name}, which has no tracepoint, and this kernel cannot attach to kernel functions (kprobes: {kprobe}; fentry: {fentry}); the nearest tracepoints ({}) observe other events and would not measure {name} itself",
                    nearest
                        .iter()
                        .map(|n| format!("tracepoint:{n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        None
    }
}

/// Linux filesystems people name in requests.
const FILESYSTEMS: &[&str] = &[
    "ext2",
    "ext3",
    "ext4",
    "xfs",
    "btrfs",
    "zfs",
    "f2fs",
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "ceph",
    "gfs2",
    "ocfs2",
    "jfs",
    "reiserfs",
    "nilfs2",
    "bcachefs",
    "vfat",
    "exfat",
    "ntfs",
    "ntfs3",
    "hfs",
    "hfsplus",
    "erofs",
    "squashfs",
    "overlayfs",
    "fuse",
];

/// The request names a filesystem this kernel neither has built in / loaded
/// (`/proc/filesystems`) nor can load (no module under /lib/modules) and has no tracepoints for.
fn absent_filesystem(text: &str, host: &HostFacts) -> Option<String> {
    let known = std::fs::read_to_string("/proc/filesystems").ok()?;
    let lower = text.to_lowercase();
    let modules = std::path::Path::new("/lib/modules")
        .join(&host.kernel_release)
        .join("kernel/fs");
    FILESYSTEMS.iter().find_map(|&fs| {
        let named = lower
            .match_indices(fs)
            .any(|(i, _)| word_boundary(&lower, i, fs.len()));
        let base = fs.trim_end_matches("fs").trim_end_matches('4');
        let present = known
            .split_whitespace()
            .any(|k| k == fs || k == base || (fs == "overlayfs" && k == "overlay"))
            || modules.join(fs).exists()
            || host.tracepoints.keys().any(|k| k.split(':').next() == Some(fs));
        (named && !present).then(|| {
            format!(
                "the {fs} filesystem is not available on this kernel: it is not in /proc/filesystems, there is no {fs} module under {} and no {fs} tracepoints; tracepoints of the VFS layer (syscalls:sys_enter_*) see every filesystem that is present",
                modules.display()
            )
        })
    })
}

fn word_boundary(s: &str, start: usize, len: usize) -> bool {
    let before = s[..start].chars().next_back();
    let after = s[start + len..].chars().next();
    !before.is_some_and(|c| c.is_alphanumeric()) && !after.is_some_and(|c| c.is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_the_loop_is_an_internal_error_with_its_message() {
        let panics = async {
            let text = String::from("µs");
            if text.len() > 1 {
                panic!("byte index 1 is not a char boundary in `{text}`");
            }
            Ok(())
        };
        match caught("r1", panics).await {
            Err(KgentError::Internal(m)) => {
                assert!(m.contains("byte index 1 is not a char boundary"), "{m}")
            }
            other => panic!("expected an internal error, got {other:?}"),
        }
        let fine = caught("r2", async { Ok::<_, KgentError>(7) }).await;
        assert_eq!(fine.ok(), Some(7));
    }
}
