//! Verified answers reused on the same kernel build: the ask entry point the API calls. A
//! request already answered on this build (same normalized text, BTF, bpftrace version and
//! target) is answered again without the model, but never on trust: the program policy for
//! this caller's role, the attach points, the request's coverage and the real load through
//! bpftrace and the kernel verifier are checked again first; a stale entry is dropped and the request asked afresh.
//! Every new bpftrace answer is kept. The entries move between hosts of one build with
//! [`AnswerCache::export`] and [`AnswerCache::import`] (an import of another build is refused).
//!
//! It owns when an answer may be reused; the loop that finds answers is the agent's, and the
//! records are the store's ([`crate::store::answers`]).
use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::agent::{
    Agent, Answer, AskEvent, AskOptions, CheckReport, Events, Outcome, ProgramTarget, Usage,
};
use crate::check::{self, Check};
use crate::error::KgentError;
use crate::store::answers::{normalize, KernelBuild, VerifiedAnswer};
use crate::store::{unix_ms, EntryKind, RequestRecord, RequestState, TranscriptEntry};

/// The reuse of verified answers on this host's kernel build.
pub struct AnswerCache {
    agent: Arc<Agent>,
    build: KernelBuild,
    enabled: bool,
}

impl AnswerCache {
    /// This host's build: the BTF read now (a missing BTF hashes as empty, so such hosts share
    /// entries only with the same kernel release and bpftrace).
    pub fn new(agent: Arc<Agent>, enabled: bool) -> Self {
        let btf = std::fs::read("/sys/kernel/btf/vmlinux").unwrap_or_default();
        let mut btf_sha256 = hex::encode(Sha256::digest(&btf));
        if btf.is_empty() {
            btf_sha256 = format!("no-btf:{}", agent.host.kernel_release);
        }
        let build = KernelBuild {
            btf_sha256,
            bpftrace_version: agent.host.bpftrace_version.clone(),
            kernel_release: agent.host.kernel_release.clone(),
        };
        Self {
            agent,
            build,
            enabled,
        }
    }

    /// This host's kernel build in one word: hosts that share it may share answers.
    pub fn build_id(&self) -> String {
        let btf: String = self.build.btf_sha256.chars().take(16).collect();
        format!("{btf}/{}", self.build.bpftrace_version)
    }

    pub fn agent(&self) -> &Arc<Agent> {
        &self.agent
    }

    /// Answers `opts`: from a kept answer that passes its checks again here, else through the
    /// agent (keeping what it answers).
    pub async fn ask(&self, opts: AskOptions, events: Events) -> Result<Outcome, KgentError> {
        if !self.enabled || opts.target != ProgramTarget::Bpftrace {
            return self.agent.ask(opts, events).await;
        }
        let intent = normalize(&opts.text);
        let key = VerifiedAnswer::key(&intent, &self.build, opts.target.name());
        if let Some(kept) = self.agent.store.verified_answer(&key)? {
            match self.reuse(&kept, &opts, &events).await? {
                Some(answer) => return Ok(Outcome::Answer(answer)),
                None => self.agent.store.forget_verified_answer(&key)?,
            }
        }
        let outcome = self.agent.ask(opts, events).await?;
        if let Outcome::Answer(a) = &outcome {
            let kept = VerifiedAnswer {
                intent,
                build: self.build.clone(),
                target: a.target.name().to_owned(),
                program: a.program.clone(),
                explanation: a.explanation.clone(),
                evidence: a
                    .checks
                    .iter()
                    .map(|c| format!("{}: {}", c.name, c.detail))
                    .collect(),
                first_request: a.request_id.clone(),
                created_unix_ms: unix_ms(),
            };
            if let Err(e) = self.agent.store.keep_verified_answer(&kept).await {
                tracing::warn!(request = %a.request_id, "cannot keep the verified answer: {e}");
            }
        }
        Ok(outcome)
    }

    /// Checks `kept` again for this caller on this host; the answer when every check passes,
    /// recorded as a request of its own (so `run --id` runs it), `None` when one fails.
    async fn reuse(
        &self,
        kept: &VerifiedAnswer,
        opts: &AskOptions,
        events: &Events,
    ) -> Result<Option<Answer>, KgentError> {
        let started = Instant::now();
        let agent = &self.agent;
        let progress = |stage: &str, detail: String| AskEvent::Progress {
            iteration: 0,
            stage: stage.to_owned(),
            detail,
            elapsed: started.elapsed(),
        };
        let _ = events
            .send(progress(
                "reuse",
                format!(
                    "answered before on this kernel build (request {}); checking it again here",
                    kept.first_request
                ),
            ))
            .await;
        let mut checks: Vec<Check> = vec![
            check::check_policy_bpftrace(opts.role, &kept.program),
            check::check_attach_points(&agent.host, &agent.knowledge, &kept.program),
        ];
        // The request's coverage is judged again too: it is read from the request alone, and
        // a newer kgentd may know what an older one let through.
        if agent.config.coverage {
            let intent = crate::intent::Intent::read(&opts.text);
            checks.push(check::check_coverage(&agent.host, &intent, &kept.program));
        }
        if checks.iter().all(Check::passed) {
            checks.push(
                check::check_bpftrace_load(
                    &agent.bpftrace,
                    &kept.program,
                    agent.check_timeout,
                    &agent.host.kernel_release,
                )
                .await,
            );
        }
        let reports: Vec<CheckReport> = checks.iter().map(report).collect();
        for r in &reports {
            let _ = events.send(AskEvent::Check(r.clone())).await;
        }
        if !checks.iter().all(Check::passed) {
            let _ = events
                .send(progress(
                    "reuse",
                    "the kept answer no longer passes here; asking afresh".into(),
                ))
                .await;
            return Ok(None);
        }
        let mut record = RequestRecord::new(&opts.text, opts.target.name(), opts.caller_uid);
        record.state = RequestState::Answered;
        record.program = Some(kept.program.clone());
        record.outcome = kept.explanation.clone();
        record.wall_ms = started.elapsed().as_millis() as u64;
        let notes = std::iter::once(format!(
            "answered from the verified answer of request {} on this kernel build (BTF {}, bpftrace {}), checked again here; first evidence:\n{}",
            kept.first_request,
            kept.build.btf_sha256,
            kept.build.bpftrace_version,
            kept.evidence.join("\n")
        ))
        .map(|text| (EntryKind::Note, text))
        .chain(reports.iter().map(|r| {
            (
                EntryKind::Check,
                format!(
                    "{}: {}: {}",
                    r.name,
                    if r.passed { "pass" } else { "fail" },
                    r.detail
                ),
            )
        }));
        for (seq, (kind, text)) in notes.enumerate() {
            let entry = TranscriptEntry {
                kind,
                iteration: 0,
                text,
                at_ms: started.elapsed().as_millis() as u64,
            };
            agent.store.append_entry(&record.id, seq as u32, &entry)?;
        }
        agent.store.put_durable(&record).await?;
        tracing::info!(request = %record.id, first = %kept.first_request, "ask answered from a verified answer of this kernel build");
        Ok(Some(Answer {
            request_id: record.id,
            program: kept.program.clone(),
            target: opts.target,
            explanation: kept.explanation.clone(),
            checks: reports,
            iterations: 0,
            usage: Usage::default(),
            wall: started.elapsed(),
        }))
    }

    /// Every kept answer of this build.
    pub fn export(&self) -> Result<Vec<VerifiedAnswer>, KgentError> {
        Ok(self
            .agent
            .store
            .verified_answers()?
            .into_iter()
            .filter(|a| a.build == self.build)
            .collect())
    }

    /// Keeps `answers` of this build (each is checked again when first reused); returns how
    /// many were kept. One of another build is refused, naming both builds.
    pub async fn import(&self, answers: &[VerifiedAnswer]) -> Result<usize, KgentError> {
        if let Some(other) = answers.iter().find(|a| a.build != self.build) {
            return Err(KgentError::InvalidArgument(format!(
                "an answer of another kernel build (kernel {}, BTF {}, bpftrace {}) cannot be reused here (kernel {}, BTF {}, bpftrace {}); export from a host of this build",
                other.build.kernel_release,
                other.build.btf_sha256,
                other.build.bpftrace_version,
                self.build.kernel_release,
                self.build.btf_sha256,
                self.build.bpftrace_version
            )));
        }
        for a in answers {
            if a.intent != normalize(&a.intent) || a.program.trim().is_empty() {
                return Err(KgentError::InvalidArgument(format!(
                    "the answer to {:?} is not one kgentd exported (its request is not normalized or its program is empty)",
                    a.intent
                )));
            }
            self.agent.store.keep_verified_answer(a).await?;
        }
        Ok(answers.len())
    }
}

fn report(c: &Check) -> CheckReport {
    CheckReport {
        iteration: 0,
        name: c.name().to_owned(),
        passed: c.passed(),
        inconclusive: c.verdict == check::Verdict::Inconclusive,
        detail: c.detail(),
        elapsed: c.elapsed,
    }
}
