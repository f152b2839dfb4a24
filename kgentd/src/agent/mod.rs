//! The agent loop: ground → synthesize → check → repair, within budgets.
//!
//! Grounding comes from this host (its tracepoints and fields, examples that work here); every
//! candidate is checked against this host (catalog lookups, then a real load through bpftrace
//! and the kernel verifier); every failure goes back to the model as a short diagnostic, and a
//! retry never sends the model the identical prompt (sampling temperature rises). The loop
//! records every prompt, reply and check in the store as it goes.
mod draft_filters;
mod draft_names;
mod draft_types;
mod events;
mod extract;
mod plan;
mod prompt;
pub mod query_repair;
mod query_step;
mod recorder;
mod repair;
mod session;
mod stated;
mod target;
mod target_c;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::check::{self, Check};
use crate::config::AgentConfig;
use crate::error::KgentError;
use crate::host::HostFacts;
use crate::intent::{Concept, Intent};
use crate::knowledge::subject::Subject;
use crate::knowledge::{Grounding, Knowledge};
use crate::llm::{Backend, ChatRequest, LlmError, Message, Role};

use crate::query;
use crate::store::{EntryKind, RequestRecord, RequestState, Store};
use crate::toolchain::grammar::{self, AllowedProbe, ProbeContext};
pub use events::{Answer, AskEvent, CheckReport, NoAnswer, Usage};
pub use extract::{parse_reply, Reply};
use recorder::Recorder;
pub use target::{Origin, ProgramTarget};

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
    /// Memory a C candidate's maps may declare (limits.max_map_bytes), checked before its load.
    pub max_map_bytes: u64,
    pub check_timeout: Duration,
    /// The tracepoints the smoke run's workload provokes here, measured at the first smoke run
    /// (`None` when it could not be measured: every tracepoint is then smoke-run).
    pub provoked: tokio::sync::OnceCell<Option<crate::check::Provoked>>,
    /// Where that measurement is kept for this kernel build and workload.
    pub provoked_cache: PathBuf,
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
    /// What the caller's role lets a candidate do (the program policy, checked first).
    pub role: crate::config::Role,
}

pub enum Outcome {
    Answer(Answer),
    NoAnswer(NoAnswer),
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

/// Where an ask sends its events; a closed channel means the client went away.
pub type Events = mpsc::Sender<AskEvent>;

async fn emit(events: &Events, e: AskEvent) {
    let _ = events.send(e).await;
}

async fn progress(events: &Events, started: Instant, iteration: u32, stage: &str, detail: String) {
    emit(
        events,
        AskEvent::Progress {
            stage: stage.to_owned(),
            detail,
            iteration,
            elapsed: started.elapsed(),
        },
    )
    .await;
}

impl Agent {
    /// Answers one request. The request is recorded (pending) before anything else happens and
    /// always finalised, whatever the outcome: a panic in the loop (a bug) ends it as failed,
    /// with the panic's message, instead of killing the task and leaving the record pending.
    pub async fn ask(&self, opts: AskOptions, events: Events) -> Result<Outcome, KgentError> {
        let record = RequestRecord::new(&opts.text, opts.target.name(), opts.caller_uid);
        let mut rec = Recorder::start(&self.store, record).await?;
        let id = rec.record.id.clone();
        tracing::info!(request = %id, uid = opts.caller_uid, "ask: {:.80}", opts.text);
        let session = session::Session::new(self, &opts, &events, &mut rec);
        let result = caught(&id, session.run()).await;
        match &result {
            Ok(Outcome::Answer(a)) => {
                rec.record.program = Some(a.program.clone());
                rec.finish(RequestState::Answered, &a.explanation).await;
            }
            Ok(Outcome::NoAnswer(n)) => rec.finish(RequestState::NoAnswer, &n.reason).await,
            Err(e @ KgentError::Cancelled) => {
                rec.finish(RequestState::Cancelled, &e.to_string()).await
            }
            Err(e) => rec.finish(RequestState::Failed, &e.to_string()).await,
        }
        crate::metrics::ask_finished(
            rec.record.state.as_str(),
            rec.record.iterations,
            rec.started.elapsed(),
        );
        result
    }

    /// The checks of one candidate: the program policy, then catalog and bpftrace load, or
    /// clang, the policy on the object and the verifier. A candidate the policy refuses is
    /// never loaded.
    async fn check(
        &self,
        target: ProgramTarget,
        intent: &Intent,
        subjects: &[Subject],
        source: &str,
        role: crate::config::Role,
    ) -> Vec<Check> {
        // Always run: with no subject held it still judges what host data alone can tell (a
        // narrower sibling event, an unmounted filesystem's tracepoints).
        let subject = |probes: Vec<String>, comms: Vec<String>| {
            Some(check::subject::check_subject(
                &self.knowledge.subject_index,
                subjects,
                intent,
                &probes,
                &comms,
            ))
        };
        match target {
            ProgramTarget::Bpftrace => {
                let policy = check::check_policy_bpftrace(role, source);
                if policy.failed() {
                    return vec![policy];
                }
                let host_check = check::check_attach_points(&self.host, &self.knowledge, source);
                let coverage = self
                    .config
                    .coverage
                    .then(|| check::check_coverage(&self.host, intent, source));
                let subject = subject(
                    check::subject::bpftrace_probes(source),
                    check::subject::comm_filters(source),
                );
                let load_check = check::check_bpftrace_load(
                    &self.bpftrace,
                    source,
                    self.check_timeout,
                    &self.host.kernel_release,
                )
                .await;
                [policy, host_check]
                    .into_iter()
                    .chain(coverage)
                    .chain(subject)
                    .chain(std::iter::once(load_check))
                    .collect()
            }
            ProgramTarget::C => {
                let subject = subject(check::subject::c_probes(source), Vec::new());
                let mut checks: Vec<Check> = subject.into_iter().collect();
                checks.extend(
                    check::c_program::check_c_program(
                        &self.clang,
                        source,
                        &self.host.kernel_release,
                        role,
                        self.max_map_bytes,
                    )
                    .await,
                );
                checks
            }
        }
    }

    /// What the smoke workload provokes on this host, measured once per kernel build and
    /// workload (kept in `provoked_cache`).
    async fn provoked(&self) -> Option<&crate::check::Provoked> {
        self.provoked
            .get_or_init(|| async {
                if let Some(set) = std::fs::read(&self.provoked_cache)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                {
                    return Some(set);
                }
                match check::measure_provoked(&self.host).await {
                    Ok(set) => {
                        tracing::info!(
                            "the smoke workload provokes {} of {} tracepoints here",
                            set.len(),
                            self.host.tracepoints.len()
                        );
                        let kept = serde_json::to_vec(&set)
                            .map_err(std::io::Error::other)
                            .and_then(|b| std::fs::write(&self.provoked_cache, b));
                        if let Err(e) = kept {
                            tracing::warn!("cannot keep {}: {e}", self.provoked_cache.display());
                        }
                        Some(set)
                    }
                    Err(e) => {
                        tracing::warn!("cannot measure what the smoke workload provokes: {e}");
                        None
                    }
                }
            })
            .await
            .as_ref()
    }

    /// A reason this host cannot do what is asked, when that is plain from the request and the
    /// host's facts alone.
    fn infeasible(&self, intent: &Intent) -> Option<String> {
        if let Some(reason) = self.unreachable_kernel_function(intent) {
            return Some(reason);
        }
        if let Some(reason) = absent_filesystem(intent, &self.host) {
            return Some(reason);
        }
        if let Some(reason) = self.absent_syscall(intent) {
            return Some(reason);
        }
        if let Some(reason) = crate::knowledge::subsystems::absent_subsystem(&self.host, intent) {
            return Some(reason);
        }
        if let Some((said, kernel)) = self.knowledge.subject_index.unobservable(intent) {
            let unavailable: Vec<String> = self
                .host
                .families
                .iter()
                .filter(|f| matches!(f.name, "kprobe" | "fentry") && !f.available)
                .map(|f| format!("{}: {}", f.name, f.reason))
                .collect();
            let probes = if unavailable.is_empty() {
                String::new()
            } else {
                format!(
                    "; the probes that reach any kernel function are unavailable ({})",
                    unavailable.join("; ")
                )
            };
            return Some(format!(
                "the request is about the {said} (the kernel's {}), and no attach point on this host observes it: no tracepoint or other attach point is named by those words{probes}",
                kernel.join(", ")
            ));
        }
        let hardware = self.host.families.iter().find(|f| f.name == "hardware")?;
        (intent.asks(Concept::HardwareCounters) && !hardware.available)
            .then(|| hardware.reason.clone())
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

/// Whether two probes are the entry and exit of one event: `tracepoint:syscalls:sys_enter_X`
/// and `…sys_exit_X`, or `uprobe:P:S` and `uretprobe:P:S`.
fn same_event(a: &str, b: &str) -> bool {
    fn key(p: &str) -> Option<(&'static str, &str)> {
        if let Some(call) = p
            .strip_prefix("tracepoint:syscalls:sys_enter_")
            .or_else(|| p.strip_prefix("tracepoint:syscalls:sys_exit_"))
        {
            return Some(("syscall", call));
        }
        p.strip_prefix("uprobe:")
            .or_else(|| p.strip_prefix("uretprobe:"))
            .map(|f| ("function", f))
    }
    a != b && key(a).is_some() && key(a) == key(b)
}

/// Why a compiled query lost events, or None: a FROM event left out whole (it lacks a value
/// the query aggregates or groups by), unless it is a syscall of which a kept syscall is a
/// variant ([`crate::knowledge::syscall_variants`]). Leaving out `open` beside `openat` loses
/// no operation; leaving out `umount` beside `mount` loses every unmount, and
/// `tcp:tcp_send_reset` beside `tcp:tcp_receive_reset` every reset sent. A call the request
/// names itself is lost unless a kept call is documented on its man page: "vfork calls"
/// answered at clone(2) with `CLONE_VFORK` leaves out every vfork(2) call, though the kernel
/// implements both with kernel_clone().
fn another_call_left_out(
    host: &HostFacts,
    intent: &Intent,
    c: &query::compile::Compiled,
) -> Option<String> {
    let call = |probe: &str| {
        probe
            .strip_prefix("tracepoint:syscalls:sys_enter_")
            .or_else(|| probe.strip_prefix("tracepoint:syscalls:sys_exit_"))
            .map(str::to_owned)
    };
    let kept: Vec<String> = crate::toolchain::bpftrace::probe_blocks(&c.source)
        .into_iter()
        .flat_map(|b| b.probes)
        .filter_map(|p| call(&format!("tracepoint:{}", p.target)))
        .collect();
    let lost: Vec<String> = c
        .left_out
        .iter()
        .filter(|(probe, _)| {
            call(probe).is_none_or(|name| {
                let named = intent
                    .syscall_names()
                    .chain(&intent.calls)
                    .any(|w| *w == name);
                if named {
                    // Kept only through a call on the same man page (`page_of` reads the
                    // kernel's spellings: openat is on open(2)'s page, clone is not vfork's).
                    let man = crate::knowledge::syscall_man::SyscallMan::shipped();
                    let page = |c: &str| man.page_of(c).map(|p| p.page.as_str());
                    return !kept
                        .iter()
                        .any(|k| *k == name || (page(k).is_some() && page(k) == page(&name)));
                }
                let variants = crate::knowledge::syscall_variants(host, &name);
                !kept.iter().any(|k| {
                    variants.contains(k)
                        || crate::knowledge::syscall_variants(host, k).contains(&name)
                })
            })
        })
        .map(|(_, why)| why.clone())
        .collect();
    (!lost.is_empty()).then(|| {
        format!(
            "{}; that is another event than the ones kept, so leaving it out would lose its events: select values every FROM probe has, or write a program that reads each event's own fields",
            lost.join("; ")
        )
    })
}

/// What the key rules need of a query's FROM tracepoints (see [`query_repair::keys`]).
fn event_keys(host: &HostFacts, from: &[String]) -> Vec<query_repair::EventKeys> {
    from.iter()
        .filter_map(|p| p.strip_prefix("tracepoint:"))
        .filter_map(|t| host.tracepoints.get(t))
        .map(|tp| {
            let mut named: Vec<String> =
                draft_names::symbolic_tables(host, &tp.subsystem, &tp.event)
                    .into_keys()
                    .collect();
            let probe = tp.probe();
            for c in crate::knowledge::specs::codes() {
                if probe.starts_with(&c.probes) && !named.contains(&c.field) {
                    named.push(c.field.clone());
                }
            }
            query_repair::EventKeys {
                subsystem: tp.subsystem.clone(),
                event: tp.event.clone(),
                fields: tp.fields.iter().map(|f| f.name.clone()).collect(),
                named,
                types: tp
                    .fields
                    .iter()
                    .map(|f| (f.name.clone(), draft_types::FieldType::of_field(f)))
                    .collect(),
            }
        })
        .collect()
}

impl Agent {
    /// A query reply compiled to a bpftrace program, or the diagnostic for the model.
    /// Filter tests the request does not state are dropped first (see `query_repair::prune_filter`);
    /// the program says so in a comment.
    ///
    /// A query on one probe that lacks a field it reads moves to the other half of the same
    /// event among `movable` (the offered probes): a syscall's `sys_enter_X` ↔ `sys_exit_X`
    /// (the syscalls tracepoints come in these pairs, kernel/trace/trace_syscalls.c), a
    /// function's `uprobe` ↔ `uretprobe`; with a note. It never moves to another event: a probe
    /// that merely has fields of those names observes something else (an OOM kill is no RSS
    /// change). The error then names the offered probes that have the fields, for the model.
    fn compile_query(
        &self,
        reply: &str,
        intent: &Intent,
        movable: &[AllowedProbe],
    ) -> Result<Reply, String> {
        let mut q =
            query::parse_reply(reply).map_err(|e| format!("the query does not parse: {e}"))?;
        let mut repaired = query_repair::normalize(&mut q, intent);
        if !crate::knowledge::named_syscalls(&self.host, intent).is_empty() {
            repaired.extend(query_repair::unnamed_calls(
                &mut q,
                intent,
                &crate::knowledge::mentioned_syscalls(&self.host, intent),
            ));
        }
        repaired.extend(query_repair::exit_lifetime(&mut q, intent));
        repaired.extend(query_repair::duration_asked(&mut q, intent));
        repaired.extend(query_repair::span_ends(&mut q, intent));
        repaired.extend(query_repair::new_task_event(
            &mut q,
            intent,
            &|probe: &str| {
                probe
                    .strip_prefix("tracepoint:")
                    .is_some_and(|t| self.host.tracepoints.contains_key(t))
            },
        ));
        let events = event_keys(&self.host, &q.from);
        let (renamed, field_hints) = query_repair::field_names(&mut q, &events);
        repaired.extend(renamed);
        repaired.extend(query_repair::in_bytes(&mut q, intent, &events));
        repaired.extend(query_repair::bytes_are_result(&mut q, intent, &events));
        repaired.extend(query_repair::acted_on_task(&mut q, intent, &events));
        repaired.extend(query_repair::new_task_ids(&mut q, intent, &events));
        repaired.extend(query_repair::event_cpu(&mut q, intent, &events));
        repaired.extend(query_repair::unasked_struct_pointers(
            &mut q, intent, &events,
        ));
        repaired.extend(query_repair::pointer_measures(&mut q, intent, &events));
        let before = q.from.len();
        repaired.extend(query_repair::unasked_events(&mut q, intent, &events));
        let events = if q.from.len() == before {
            events
        } else {
            event_keys(&self.host, &q.from)
        };
        repaired.extend(query_repair::keys(&mut q, intent, &events));
        repaired.extend(query_repair::address_keys(&mut q, intent, &events));
        repaired.extend(query_repair::named_fields(&mut q, intent, &events));
        repaired.extend(query_repair::untimed_durations(&mut q, intent, &events));
        repaired.extend(query_repair::stated_result(&mut q, intent));
        let dropped = query_repair::prune_filter(&mut q, intent, &events);
        repaired.extend(query_repair::successes_only(&mut q, intent));
        repaired.extend(query_repair::stated_values(&mut q, intent));
        repaired.extend(query_repair::stated_errors(&mut q, intent));
        repaired.extend(query_repair::flag_alternatives(&mut q, intent));
        repaired.extend(query_repair::directory_prefixes(&mut q, intent));
        // The specs' spans, with those the request asks for by name preferred.
        let asked;
        let specs = if intent.spans.is_empty() {
            crate::knowledge::specs::query_facts()
        } else {
            asked = query::SpecFacts {
                preferred: intent.spans.clone(),
                ..crate::knowledge::specs::query_facts().clone()
            };
            &asked
        };
        let mut compiled = query::compile::compile(&self.host, specs, &q);
        // Each compile stops at the first term no event has: at most a few strays to drop.
        for _ in 0..4 {
            let Err(e) = &compiled else { break };
            let Some(note) = query_repair::time_field(&mut q, e, &events)
                .or_else(|| query_repair::drop_stray_value(&mut q, e, intent))
            else {
                break;
            };
            repaired.push(note);
            compiled = query::compile::compile(&self.host, specs, &q);
        }
        let c = match compiled {
            Ok(c) => c,
            Err(e) if q.from.len() == 1 && e.lacks_a_field() => {
                let compiles_on = |p: &AllowedProbe| {
                    let mut q2 = q.clone();
                    q2.from = vec![p.name.clone()];
                    query::compile::compile(&self.host, specs, &q2)
                        .ok()
                        .filter(|c| c.notes.is_empty())
                };
                let moved = movable
                    .iter()
                    .filter(|p| same_event(&q.from[0], &p.name))
                    .find_map(|p| compiles_on(p).map(|c| (p, c)));
                let Some((p, c)) = moved else {
                    let having: Vec<&str> = movable
                        .iter()
                        .filter(|p| compiles_on(p).is_some())
                        .map(|p| p.name.as_str())
                        .take(3)
                        .collect();
                    let hints: String = field_hints.iter().map(|h| format!("; {h}")).collect();
                    return Err(if having.is_empty() {
                        format!("the query cannot be compiled: {e}{hints}")
                    } else {
                        format!(
                            "the query cannot be compiled: {e}{hints}. Of the offered probes, {} {} those fields; use one only if it observes what the request asks about",
                            having.join(", "),
                            if having.len() == 1 { "has" } else { "have" }
                        )
                    });
                };
                repaired.push(format!(
                    "the query reads fields {} lacks; it runs on {}, the other half of the same event",
                    q.from[0], p.name
                ));
                c
            }
            Err(e) => {
                let hints: String = field_hints.iter().map(|h| format!("; {h}")).collect();
                return Err(format!("the query cannot be compiled: {e}{hints}"));
            }
        };
        if let Some(lost) = another_call_left_out(&self.host, intent, &c) {
            return Err(format!("the query cannot be compiled: {lost}"));
        }
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
            deadline: self.config.ask_deadline(rec.started),
        };
        let t = Instant::now();
        let c = match self.backend.complete(req).await {
            Ok(c) => c,
            Err(e @ LlmError::Unavailable(_)) => return Err(KgentError::Model(Box::new(e))),
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

    /// A call the request writes as a call (`kexec_load()`) that section 2 of the man pages
    /// documents as a system call, where this kernel has no tracepoint whose name contains any
    /// call of its page: every syscall built in gets `syscalls:sys_enter_*` from its
    /// SYSCALL_DEFINEx (include/linux/syscalls.h, CONFIG_FTRACE_SYSCALLS), under its own name or
    /// a longer one (`uname` is `newuname`); one left out is a weak `sys_ni_syscall` stub with
    /// no event (kernel/sys_ni.c COND_SYSCALL: kexec_load(2) without CONFIG_KEXEC). No other
    /// event is that call. A C library call made of other syscalls
    /// (`specs-db/libc-calls.toml`: wait → wait4) is not judged here.
    fn absent_syscall(&self, intent: &Intent) -> Option<String> {
        let man = crate::knowledge::syscall_man::SyscallMan::shipped();
        if !self
            .host
            .tracepoints
            .contains_key("syscalls:sys_enter_openat")
        {
            return None; // no syscall tracepoints at all: nothing to tell from their absence
        }
        for name in &intent.calls {
            let Some(page) = man.page_of(name).filter(|p| p.names.contains(name)) else {
                continue;
            };
            if !crate::knowledge::syscall_man::library_syscalls(name).is_empty() {
                continue;
            }
            let traced = page.names.iter().any(|n| {
                self.host
                    .tracepoints
                    .keys()
                    .any(|k| k.rsplit(':').next().is_some_and(|e| e.contains(n.as_str())))
            });
            if traced {
                continue;
            }
            return Some(format!(
                "{name}() is a Linux system call ({}(2): {}), but this kernel has no syscall tracepoint for {}: it was built without it (kernel/sys_ni.c stubs a call left out), so no program on this host can observe it",
                page.page,
                page.summary,
                page.names.join(", ")
            ));
        }
        None
    }

    /// The request names a kernel function (from BTF) that has no tracepoint of its name, and
    /// this kernel can attach to kernel functions neither by kprobe nor by fentry.
    fn unreachable_kernel_function(&self, intent: &Intent) -> Option<String> {
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
        for name in intent.identifiers.iter().map(String::as_str) {
            let is_function = catalog
                .get(&format!("kprobe:{name}"))
                .is_some_and(|e| e.kind == crate::knowledge::catalog::EntryKind::KernelFunction);
            // A syscall's name is a kernel function too: its tracepoints are sys_enter_/sys_exit_.
            let has_tracepoint = self
                .host
                .tracepoints
                .keys()
                .any(|k| k.rsplit(':').next() == Some(name))
                || self
                    .host
                    .tracepoints
                    .contains_key(&format!("syscalls:sys_enter_{name}"))
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

/// The request names a filesystem this kernel neither has built in / loaded
/// (`/proc/filesystems`) nor can load (no module under /lib/modules) and has no tracepoints for.
fn absent_filesystem(intent: &Intent, host: &HostFacts) -> Option<String> {
    let known = std::fs::read_to_string("/proc/filesystems").ok()?;
    let modules = std::path::Path::new("/lib/modules")
        .join(&host.kernel_release)
        .join("kernel/fs");
    intent.filesystems.iter().find_map(|fs| {
        let fs = fs.as_str();
        let base = fs.trim_end_matches("fs").trim_end_matches('4');
        let present = known
            .split_whitespace()
            .any(|k| k == fs || k == base || (fs == "overlayfs" && k == "overlay"))
            || modules.join(fs).exists()
            || host.tracepoints.keys().any(|k| k.split(':').next() == Some(fs));
        (!present).then(|| {
            format!(
                "the {fs} filesystem is not available on this kernel: it is not in /proc/filesystems, there is no {fs} module under {} and no {fs} tracepoints; tracepoints of the VFS layer (syscalls:sys_enter_*) see every filesystem that is present",
                modules.display()
            )
        })
    })
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

    #[test]
    fn a_query_may_leave_out_a_variant_but_not_another_call() {
        let mut h = HostFacts::for_tests_with_syscalls(&["mkdir", "rmdir", "open", "openat"]);
        let field = |ctype: &str, name: &str| crate::host::Field {
            ctype: ctype.into(),
            name: name.into(),
            ..Default::default()
        };
        let set = |h: &mut HostFacts, tp: &str, fields: Vec<crate::host::Field>| {
            if let Some(t) = h.tracepoints.get_mut(tp) {
                t.fields = fields;
            }
        };
        set(
            &mut h,
            "syscalls:sys_enter_mkdir",
            vec![field("const char *", "pathname"), field("umode_t", "mode")],
        );
        set(
            &mut h,
            "syscalls:sys_enter_rmdir",
            vec![field("const char *", "pathname")],
        );
        set(
            &mut h,
            "syscalls:sys_enter_open",
            vec![field("const char *", "filename"), field("int", "flags")],
        );
        set(
            &mut h,
            "syscalls:sys_enter_openat",
            vec![
                field("int", "dfd"),
                field("const char *", "filename"),
                field("int", "flags"),
            ],
        );
        let compiled = |text: &str| {
            let q = query::parse_reply(text).expect("parses");
            query::compile::compile(&h, crate::knowledge::specs::query_facts(), &q)
                .expect("compiles")
        };
        let both = compiled("SELECT count() FROM tracepoint:syscalls:sys_enter_mkdir, tracepoint:syscalls:sys_enter_rmdir GROUP BY args->mode");
        let none = Intent::read("tally directory operations by mode");
        let lost = another_call_left_out(&h, &none, &both).expect("rmdir is lost");
        assert!(lost.contains("sys_enter_rmdir"), "{lost}");
        let variants = compiled("SELECT count() FROM tracepoint:syscalls:sys_enter_open, tracepoint:syscalls:sys_enter_openat GROUP BY args->dfd");
        assert_eq!(variants.left_out.len(), 1, "{variants:?}");
        assert_eq!(another_call_left_out(&h, &none, &variants), None);
        // A call the request names is documented with openat on open(2)'s page: no loss.
        let open = Intent::read("tally open calls per directory descriptor");
        assert_eq!(another_call_left_out(&h, &open, &variants), None);
        // vfork(2) and clone(2) share kernel_clone() but not a man page: a query that leaves
        // out vfork's own event loses the calls a request about vfork names.
        let forks = HostFacts::for_tests_with_tracepoints(&[
            ("syscalls", "sys_enter_vfork", &[]),
            (
                "syscalls",
                "sys_enter_clone",
                &[("unsigned long", "clone_flags"), ("unsigned long", "newsp")],
            ),
        ]);
        let q = query::parse_reply("SELECT count() FROM tracepoint:syscalls:sys_enter_vfork, tracepoint:syscalls:sys_enter_clone WHERE (args->clone_flags & 16384) != 0 GROUP BY comm").expect("parses");
        let c = query::compile::compile(&forks, crate::knowledge::specs::query_facts(), &q)
            .expect("compiles");
        let asked = Intent::read("tally vfork calls by program");
        let lost = another_call_left_out(&forks, &asked, &c).expect("vfork is lost");
        assert!(lost.contains("sys_enter_vfork"), "{lost}");
        // Two events of a subsystem are two events: neither stands in for the other.
        let tcp = HostFacts::for_tests_with_tracepoints(&[
            (
                "tcp",
                "tcp_send_reset",
                &[("int", "state"), ("__u8[28]", "saddr")],
            ),
            (
                "tcp",
                "tcp_receive_reset",
                &[("__u16", "sport"), ("__u8[4]", "saddr")],
            ),
        ]);
        let q = query::parse_reply("SELECT count() FROM tracepoint:tcp:tcp_send_reset, tracepoint:tcp:tcp_receive_reset GROUP BY args->sport").expect("parses");
        let c = query::compile::compile(&tcp, crate::knowledge::specs::query_facts(), &q)
            .expect("compiles");
        let lost = another_call_left_out(&tcp, &none, &c).expect("send_reset is lost");
        assert!(lost.contains("tcp_send_reset"), "{lost}");
    }

    #[test]
    fn a_query_moves_only_to_the_other_half_of_its_event() {
        let enter = "tracepoint:syscalls:sys_enter_openat";
        assert!(same_event(enter, "tracepoint:syscalls:sys_exit_openat"));
        assert!(!same_event(enter, "tracepoint:syscalls:sys_exit_open"));
        assert!(!same_event(enter, enter));
        assert!(!same_event(
            "tracepoint:kmem:rss_stat",
            "tracepoint:oom:mark_victim"
        ));
        assert!(same_event(
            "uprobe:/usr/lib/libc.so.6:malloc",
            "uretprobe:/usr/lib/libc.so.6:malloc"
        ));
        assert!(!same_event(
            "uprobe:/usr/lib/libc.so.6:malloc",
            "uretprobe:/usr/lib/libc.so.6:free"
        ));
    }
}
