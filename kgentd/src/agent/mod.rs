//! The agent loop: ground → synthesize → check → repair, within budgets.
//!
//! Grounding comes from this host (its tracepoints and fields, examples that work here); every
//! candidate is checked against this host (catalog lookups, then a real load through bpftrace
//! and the kernel verifier); every failure goes back to the model as a short diagnostic, and a
//! retry never sends the model the identical prompt (sampling temperature rises). The loop
//! records every prompt, reply and check in the store as it goes.
mod extract;
mod prompt;
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
use crate::knowledge::Knowledge;
use crate::llm::{Backend, ChatRequest, LlmError, Message, Role};
use crate::proto;
use crate::store::{EntryKind, RequestRecord, RequestState, Store, TranscriptEntry};
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
    pub smoke_run: bool,
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
    /// always finalised, whatever the outcome.
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
        let result = self.run_loop(&opts, &events, &mut rec).await;
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
        if opts.smoke_run {
            let note =
                "smoke runs are not implemented yet: answers are checked by catalog and load only"
                    .to_owned();
            rec.add(EntryKind::Note, 0, note.clone());
            progress(events, started, 0, "smoke-run", note).await;
        }

        let target = opts.target;
        let system = Message::new(Role::System, target.system_prompt(&self.host));
        let user = Message::new(Role::User, target.user_prompt(&opts.text, &grounding));
        let max_iter = if opts.max_iterations == 0 {
            self.config.max_iterations
        } else {
            opts.max_iterations.min(16)
        };
        let mut last_checks: Vec<proto::CheckResult> = Vec::new();
        let mut tried: Vec<(String, String)> = Vec::new(); // (candidate, its diagnostics)
        let mut feedback: Option<(String, String)> = None; // (last reply, repair message)
        let mut refused = false;

        for iteration in 1..=max_iter {
            if events.is_closed() {
                return Err(KgentError::Internal(
                    "cancelled: the client went away".into(),
                ));
            }
            rec.record.iterations = iteration;
            let mut messages = vec![system.clone(), user.clone()];
            if let Some((reply, repair)) = &feedback {
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
                max_tokens: self.config.max_reply_tokens,
                // Greedy first; a retry samples, so it can't return the same reply byte for byte.
                temperature: if iteration == 1 {
                    0.0
                } else {
                    (0.3 + 0.2 * iteration as f32).min(1.0)
                },
                seed: iteration,
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

            let (source, explanation) = match target.parse_reply(&completion.text) {
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
            let (source, repairs) = target.repair(&self.host, &source);
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
                feedback = Some((target.fenced(&source), target.repeat_prompt(&diag)));
                continue;
            }

            let checks = self.check(target, &source).await;
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
    async fn check(&self, target: ProgramTarget, source: &str) -> Vec<CheckOutcome> {
        match target {
            ProgramTarget::Bpftrace => {
                let host_check = check::check_attach_points(&self.host, &self.knowledge, source);
                let load_check = check::check_bpftrace_load(
                    &self.bpftrace,
                    source,
                    self.check_timeout,
                    &self.host.kernel_release,
                )
                .await;
                vec![host_check, load_check]
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

fn word_boundary(s: &str, start: usize, len: usize) -> bool {
    let before = s[..start].chars().next_back();
    let after = s[start + len..].chars().next();
    !before.is_some_and(|c| c.is_alphanumeric()) && !after.is_some_and(|c| c.is_alphanumeric())
}
