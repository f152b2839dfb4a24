//! The gRPC API (package kgent.v1): validates requests, asks [`authz`](crate::authz), hands work
//! to the agent and the jobs, streams their events, and maps domain errors to status codes.
//! No logic of its own beyond that.
mod convert;
pub mod readiness;
pub mod tls;

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use tokio::sync::{mpsc, Semaphore};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::agent::{Agent, AskEvent, AskOptions, Outcome, ProgramTarget};
use crate::authz::{Caller, Role, Roles};
use crate::config::LimitsConfig;
use crate::error::KgentError;
use crate::exec::loader::AttachTargets;
use crate::exec::{JobEvent, JobSpec, JobTarget, Jobs};
use crate::proto::{self, kgent_server::Kgent};
use crate::reuse::AnswerCache;
use crate::store::{RequestRecord, RequestState};

pub struct KgentService {
    pub agent: Arc<Agent>,
    /// Asks go through it: a verified answer of this kernel build is reused when it checks.
    pub answers: Arc<AnswerCache>,
    pub jobs: Jobs,
    pub limits: LimitsConfig,
    pub ask_slots: Arc<Semaphore>,
    /// The daemon's cap on records per second per job.
    pub max_events_per_s: u32,
    pub roles: Roles,
    /// Asks in progress per uid (`limits.max_asks_per_uid`).
    asks_by_uid: Arc<Mutex<HashMap<u32, usize>>>,
}

/// One ask counted against its uid's quota until this drops.
struct AskQuota {
    table: Arc<Mutex<HashMap<u32, usize>>>,
    uid: u32,
}

impl Drop for AskQuota {
    fn drop(&mut self) {
        if let Ok(mut t) = self.table.lock() {
            if let Some(n) = t.get_mut(&self.uid) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    t.remove(&self.uid);
                }
            }
        }
    }
}

type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

impl KgentService {
    pub fn new(
        answers: Arc<AnswerCache>,
        jobs: Jobs,
        limits: LimitsConfig,
        max_events_per_s: u32,
        roles: Roles,
    ) -> Self {
        let slots = limits.max_concurrent_asks.max(1);
        Self {
            agent: answers.agent().clone(),
            answers,
            jobs,
            limits,
            ask_slots: Arc::new(Semaphore::new(slots)),
            max_events_per_s,
            roles,
            asks_by_uid: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn caller<T>(&self, request: &Request<T>) -> Caller {
        Caller::from_request(request, &self.roles)
    }

    /// Counts an ask against its caller's quota (admins have none).
    fn ask_quota(&self, caller: &Caller) -> Result<Option<AskQuota>, KgentError> {
        if caller.is_admin() {
            return Ok(None);
        }
        let uid = caller.recorded_uid();
        let quota = self.limits.max_asks_per_uid;
        let mut table = self
            .asks_by_uid
            .lock()
            .map_err(|_| KgentError::Internal("ask table lock poisoned".into()))?;
        let n = table.entry(uid).or_insert(0);
        if *n >= quota {
            return Err(KgentError::ResourceExhausted(format!(
                "uid {uid} already has {n} requests in progress, its quota (limits.max_asks_per_uid = {quota}); wait for one to finish"
            )));
        }
        *n += 1;
        Ok(Some(AskQuota {
            table: self.asks_by_uid.clone(),
            uid,
        }))
    }

    /// How long a run may last for `caller`: a duration of 0 is the role's maximum, a longer
    /// one is refused.
    fn run_duration(&self, caller: &Caller, duration_s: u32) -> Result<Duration, KgentError> {
        let max = self.roles.max_run_seconds(caller.role);
        if duration_s > max {
            return Err(KgentError::InvalidArgument(format!(
                "duration {duration_s} s exceeds the {} role's maximum ({max} s: {})",
                caller.role.as_str(),
                if caller.role == Role::Admin {
                    "limits.max_run_seconds"
                } else {
                    "roles.operator_max_run_seconds"
                }
            )));
        }
        Ok(Duration::from_secs(match duration_s {
            0 => max.into(),
            n => n.into(),
        }))
    }

    /// Program text: not empty, within the size limit.
    fn validate_program(&self, text: &str) -> Result<(), KgentError> {
        if text.trim().is_empty() {
            return Err(KgentError::InvalidArgument(
                "the program is empty: give a bpftrace script or a C program".into(),
            ));
        }
        if text.len() > self.limits.max_request_bytes * 4 {
            return Err(KgentError::InvalidArgument(format!(
                "the program is {} bytes; the limit is {} bytes (4 × limits.max_request_bytes)",
                text.len(),
                self.limits.max_request_bytes * 4
            )));
        }
        Ok(())
    }

    /// A stored request, read off the async workers (sled reads can wait on the disk).
    async fn request_record(&self, id: String) -> Result<RequestRecord, KgentError> {
        let store = self.agent.store.clone();
        tokio::task::spawn_blocking(move || store.get(&id))
            .await
            .map_err(|e| KgentError::Internal(format!("reading the store crashed: {e}")))?
    }

    fn validate_text(&self, text: &str) -> Result<(), KgentError> {
        if text.trim().is_empty() {
            return Err(KgentError::InvalidArgument(
                "the request is empty: say what you want to observe, e.g. \"show every file that gets opened\"".into(),
            ));
        }
        if text.len() > self.limits.max_request_bytes {
            return Err(KgentError::InvalidArgument(format!(
                "the request is {} bytes; the limit is {} bytes (limits.max_request_bytes)",
                text.len(),
                self.limits.max_request_bytes
            )));
        }
        Ok(())
    }
}

fn probe_entry(e: &crate::knowledge::catalog::CatalogEntry, score: f32) -> proto::ProbeEntry {
    proto::ProbeEntry {
        kind: e.kind.as_str().to_owned(),
        name: e.name.clone(),
        signature: e.signature.clone(),
        description: e.description.clone(),
        available: e.available,
        reason: e.reason.clone(),
        score,
        facts: e.facts.clone(),
        instead_of: e.instead_of.clone(),
        program_types: e.program_types.clone(),
        curated: e.curated,
    }
}

fn summary(r: &RequestRecord) -> proto::RequestSummary {
    proto::RequestSummary {
        id: r.id.clone(),
        text: r.text.clone(),
        state: r.state.as_str().to_owned(),
        caller_uid: r.caller_uid,
        created_unix_ms: r.created_unix_ms,
        wall_ms: r.wall_ms,
        iterations: r.iterations,
    }
}

#[tonic::async_trait]
impl Kgent for KgentService {
    type AskStream = EventStream<proto::AskEvent>;
    type RunStream = EventStream<proto::RunEvent>;

    async fn ask(
        &self,
        request: Request<proto::AskRequest>,
    ) -> Result<Response<Self::AskStream>, Status> {
        let caller = self.caller(&request);
        let req = request.into_inner();
        self.validate_text(&req.text)?;
        let quota = caller.audit("ask", self.ask_quota(&caller))?;
        let target = match proto::Target::try_from(req.target) {
            Ok(proto::Target::Unspecified | proto::Target::Bpftrace) => ProgramTarget::Bpftrace,
            Ok(proto::Target::C) => ProgramTarget::C,
            Err(_) => {
                return Err(Status::invalid_argument(format!(
                    "unknown target {}",
                    req.target
                )))
            }
        };
        let permit = self.ask_slots.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "{} requests are already in progress (limits.max_concurrent_asks); try again shortly",
                self.limits.max_concurrent_asks
            ))
        })?;
        let (tx, rx) = mpsc::channel::<Result<proto::AskEvent, Status>>(64);
        let answers = self.answers.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _quota = quota;
            let (ev_tx, mut ev_rx) = mpsc::channel::<AskEvent>(64);
            let opts = AskOptions {
                text: req.text,
                target,
                max_iterations: req.max_iterations,
                smoke_run: req.smoke_run,
                skip_smoke_run: req.skip_smoke_run,
                caller_uid: caller.recorded_uid(),
                role: caller.role,
            };
            let forward_tx = tx.clone();
            let forward = tokio::spawn(async move {
                while let Some(ev) = ev_rx.recv().await {
                    if forward_tx.send(Ok(ev.into())).await.is_err() {
                        break;
                    }
                }
            });
            let result = answers.ask(opts, ev_tx).await;
            let _ = forward.await;
            let last = match result {
                Ok(Outcome::Answer(a)) => Ok(a.into()),
                Ok(Outcome::NoAnswer(n)) => Ok(n.into()),
                Err(e) => Err(Status::from(e)),
            };
            let _ = tx.send(last).await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn run(
        &self,
        request: Request<proto::RunRequest>,
    ) -> Result<Response<Self::RunStream>, Status> {
        let caller = self.caller(&request);
        let req = request.into_inner();
        let mut target = match proto::Target::try_from(req.target) {
            Ok(proto::Target::Unspecified | proto::Target::Bpftrace) => JobTarget::Bpftrace,
            Ok(proto::Target::C) => JobTarget::C,
            Err(_) => {
                return Err(Status::invalid_argument(format!(
                    "unknown target {}",
                    req.target
                )))
            }
        };
        let source = match req.program {
            Some(proto::run_request::Program::AnswerId(id)) => {
                let rec = self.request_record(id.clone()).await?;
                caller.audit("run answer", caller.may_run_answer(rec.caller_uid))?;
                if rec.target == "c" {
                    target = JobTarget::C;
                }
                match (rec.state, rec.program) {
                    (RequestState::Answered, Some(p)) => p,
                    _ => {
                        return Err(Status::failed_precondition(format!(
                            "request {id} has no answer to run (it ended {})",
                            rec.state.as_str()
                        )))
                    }
                }
            }
            Some(proto::run_request::Program::Source(s)) => {
                caller.audit("run program text", caller.may_run_source())?;
                self.validate_program(&s)?;
                s
            }
            None => {
                return Err(Status::invalid_argument(
                    "give an answer_id or the program source",
                ))
            }
        };
        let duration = caller.audit("run duration", self.run_duration(&caller, req.duration_s))?;
        if !req.interface.is_empty()
            && (req.interface.len() > 15 || req.interface.contains(['/', '\0', ' ']))
        {
            return Err(Status::invalid_argument(format!(
                "{:?} is not a network interface name (at most 15 characters, no '/' or spaces)",
                req.interface
            )));
        }
        let max_events_per_s = match req.max_events_per_s {
            0 => self.max_events_per_s,
            n => n.min(self.max_events_per_s),
        };
        let (job_tx, mut job_rx) = mpsc::channel::<JobEvent>(256);
        let spec = JobSpec {
            source,
            target,
            owner_uid: caller.recorded_uid(),
            duration: Some(duration),
            detach: req.detach,
            attach: AttachTargets {
                interface: (!req.interface.is_empty()).then_some(req.interface),
                cgroup: (!req.cgroup.is_empty()).then(|| req.cgroup.into()),
            },
            max_events_per_s,
            role: caller.role,
        };
        let job_id = caller.audit("start job", self.jobs.start(spec, job_tx).await)?;
        tracing::info!(job = %job_id, uid = caller.recorded_uid(), "run started");
        let (tx, rx) = mpsc::channel::<Result<proto::RunEvent, Status>>(256);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    ev = job_rx.recv() => {
                        let Some(ev) = ev else { break };
                        let done = matches!(ev, JobEvent::Finished { .. });
                        let event = match ev {
                            JobEvent::Started { job_id, probes, attached } => proto::run_event::Event::Started(proto::Started { job_id, probes, attached }),
                            JobEvent::Line { text, stderr, json } => proto::run_event::Event::Line(proto::OutputLine { text, stderr, json: json.unwrap_or_default() }),
                            JobEvent::Finished { exit_code, reason } => proto::run_event::Event::Finished(proto::Finished { exit_code, reason }),
                        };
                        if tx.send(Ok(proto::RunEvent { event: Some(event) })).await.is_err() || done {
                            break;
                        }
                    }
                    // The client went away: dropping job_rx tells the job to stop.
                    _ = tx.closed() => break,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn stop(
        &self,
        request: Request<proto::StopRequest>,
    ) -> Result<Response<proto::StopResponse>, Status> {
        let caller = self.caller(&request);
        let job_id = request.into_inner().job_id;
        caller.audit("stop job", self.jobs.stop(&job_id, &caller))?;
        Ok(Response::new(proto::StopResponse {}))
    }

    async fn list_requests(
        &self,
        request: Request<proto::ListRequestsRequest>,
    ) -> Result<Response<proto::ListRequestsResponse>, Status> {
        let caller = self.caller(&request);
        let limit = match request.into_inner().limit {
            0 => 50,
            n => n.min(10_000) as usize,
        };
        let store = self.agent.store.clone();
        let records = tokio::task::spawn_blocking(move || store.list(usize::MAX))
            .await
            .map_err(|e| Status::internal(e.to_string()))??;
        let requests = records
            .iter()
            .filter(|r| caller.may_read(r.caller_uid).is_ok())
            .take(limit)
            .map(summary)
            .collect();
        Ok(Response::new(proto::ListRequestsResponse { requests }))
    }

    async fn get_request(
        &self,
        request: Request<proto::GetRequestRequest>,
    ) -> Result<Response<proto::RequestRecord>, Status> {
        let caller = self.caller(&request);
        let rec = self.request_record(request.into_inner().id).await?;
        caller.may_read(rec.caller_uid)?;
        Ok(Response::new(proto::RequestRecord {
            summary: Some(summary(&rec)),
            transcript: rec
                .transcript
                .iter()
                .map(|e| proto::TranscriptEntry {
                    kind: e.kind.as_str().to_owned(),
                    iteration: e.iteration,
                    text: e.text.clone(),
                    at_ms: e.at_ms,
                })
                .collect(),
            program: rec.program.clone().unwrap_or_default(),
            outcome: rec.outcome.clone(),
            usage: Some(proto::Usage {
                prompt_tokens: rec.prompt_tokens,
                completion_tokens: rec.completion_tokens,
            }),
        }))
    }

    async fn search_probes(
        &self,
        request: Request<proto::SearchProbesRequest>,
    ) -> Result<Response<proto::SearchProbesResponse>, Status> {
        let req = request.into_inner();
        self.validate_text(&req.query)?;
        let limit = match req.limit {
            0 => 10,
            n => n.min(200) as usize,
        };
        let catalog = &self.agent.knowledge.catalog;
        let entries = catalog
            .search(&req.query, limit)
            .into_iter()
            .map(|(e, score)| probe_entry(e, score))
            .collect();
        Ok(Response::new(proto::SearchProbesResponse {
            entries,
            catalog_size: catalog.counts().total() as u32,
            retrieval: retrieval_mode(catalog),
        }))
    }

    async fn show_probe(
        &self,
        request: Request<proto::ShowProbeRequest>,
    ) -> Result<Response<proto::ProbeEntry>, Status> {
        let name = request.into_inner().name;
        self.validate_text(&name)?;
        let catalog = &self.agent.knowledge.catalog;
        match catalog.get(&name) {
            Some(e) => Ok(Response::new(probe_entry(e, 0.0))),
            None => {
                let near: Vec<String> = catalog
                    .search(&name.replace([':', '_'], " "), 5)
                    .into_iter()
                    .map(|(e, _)| e.name.clone())
                    .collect();
                Err(Status::not_found(format!(
                    "{name:?} is not an attach point or helper of this host; nearest: {}",
                    near.join(", ")
                )))
            }
        }
    }

    async fn list_uprobes(
        &self,
        request: Request<proto::ListUprobesRequest>,
    ) -> Result<Response<proto::ListUprobesResponse>, Status> {
        let caller = self.caller(&request);
        let req = request.into_inner();
        self.validate_text(&req.binary)?;
        let limit = match req.limit {
            0 => 50,
            n => n.min(100_000) as usize,
        };
        let binary = req.binary.trim().to_owned();
        let filter = req.filter.to_lowercase();
        // What a caller learns of a file is what it could read itself: an admin anything, a
        // local user by the file's permission bits, a certificate's identity (no local
        // account) what everyone may read.
        let reader = (!caller.is_admin()).then(|| caller.uid.unwrap_or(u32::MAX));
        let listed = tokio::task::spawn_blocking(move || {
            let path = crate::host::resolve_binary_or_explain(&binary)?;
            if let Some(uid) = reader {
                let gids = crate::authz::supplementary_gids(uid);
                if !crate::host::readable_by(&path, uid, &gids) {
                    return Err(format!(
                        "{} is not readable by uid {uid}: kgentd lists only what the caller could read",
                        path.display()
                    ));
                }
            }
            let symbols = crate::host::uprobe_symbols(&path)?;
            let usdt = crate::host::usdt_probes(&path)?;
            Ok::<_, String>((path, symbols, usdt))
        })
        .await
        .map_err(|e| Status::internal(format!("listing symbols crashed: {e}")))?;
        let (path, symbols, usdt) = listed.map_err(Status::not_found)?;
        let total_symbols = symbols.len() as u32;
        let family = self.agent.host.family_of("uprobe");
        Ok(Response::new(proto::ListUprobesResponse {
            path: path.display().to_string(),
            symbols: symbols
                .into_iter()
                .filter(|s| filter.is_empty() || s.to_lowercase().contains(&filter))
                .take(limit)
                .collect(),
            total_symbols,
            usdt,
            available: family.is_some_and(|f| f.available),
            reason: family
                .map(|f| f.reason.clone())
                .unwrap_or_else(|| "not measured".into()),
        }))
    }

    async fn list_jobs(
        &self,
        request: Request<proto::ListJobsRequest>,
    ) -> Result<Response<proto::ListJobsResponse>, Status> {
        let caller = self.caller(&request);
        let limit = match request.into_inner().limit {
            0 => 50,
            n => n.min(10_000) as usize,
        };
        let store = self.jobs.store().clone();
        let records = tokio::task::spawn_blocking(move || store.list_jobs())
            .await
            .map_err(|e| Status::internal(e.to_string()))??;
        let jobs = records
            .iter()
            .filter(|j| caller.may_read(j.owner_uid).is_ok())
            .take(limit)
            .map(|j| proto::Job {
                id: j.id.clone(),
                owner_uid: j.owner_uid,
                target: if j.target == "c" {
                    proto::Target::C
                } else {
                    proto::Target::Bpftrace
                } as i32,
                state: j.state.as_str().to_owned(),
                started_unix_ms: j.started_unix_ms,
                ended_unix_ms: j.ended_unix_ms,
                duration_s: j.duration_s,
                max_events_per_s: j.max_events_per_s,
                detached: j.detached,
                outcome: j.outcome.clone(),
                log_path: j
                    .log_path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            })
            .collect();
        Ok(Response::new(proto::ListJobsResponse { jobs }))
    }

    async fn host_info(
        &self,
        request: Request<proto::HostInfoRequest>,
    ) -> Result<Response<proto::HostInfoResponse>, Status> {
        let host = &self.agent.host;
        let backend = &self.agent.backend;
        // A remote model's URL names internal hosts: admins see it, others the model name.
        let model = match backend.endpoint() {
            Some(url) if self.caller(&request).role == Role::Admin => {
                format!("{} at {url}", backend.model())
            }
            _ => backend.model(),
        };
        let counts = self.agent.knowledge.catalog.counts();
        Ok(Response::new(proto::HostInfoResponse {
            kernel_release: host.kernel_release.clone(),
            btf: host.btf,
            families: host
                .families
                .iter()
                .map(|f| proto::AttachFamily {
                    name: f.name.to_owned(),
                    available: f.available,
                    reason: f.reason.clone(),
                })
                .collect(),
            model_backend: backend.kind().to_owned(),
            model,
            model_loaded: backend.loaded(),
            tracepoints: host.tracepoints.len() as u32,
            bpftrace_version: host.bpftrace_version.clone(),
            kernel_functions: counts.kernel_functions as u32,
            raw_tracepoints: counts.raw_tracepoints as u32,
            helpers: counts.helpers as u32,
            curated_specs: counts.curated as u32,
            retrieval: retrieval_mode(&self.agent.knowledge.catalog),
            kernel_build: self.answers.build_id(),
        }))
    }

    async fn export_answers(
        &self,
        request: Request<proto::ExportAnswersRequest>,
    ) -> Result<Response<proto::ExportAnswersResponse>, Status> {
        let caller = self.caller(&request);
        caller.audit("export answers", caller.may_move_answers())?;
        let answers = self.answers.export()?;
        Ok(Response::new(proto::ExportAnswersResponse {
            answers_json: serde_json::to_string_pretty(&answers).map_err(KgentError::from)?,
            count: answers.len() as u32,
        }))
    }

    async fn import_answers(
        &self,
        request: Request<proto::ImportAnswersRequest>,
    ) -> Result<Response<proto::ImportAnswersResponse>, Status> {
        let caller = self.caller(&request);
        caller.audit("import answers", caller.may_move_answers())?;
        let text = request.into_inner().answers_json;
        let answers: Vec<crate::store::answers::VerifiedAnswer> = serde_json::from_str(&text)
            .map_err(|e| {
                Status::invalid_argument(format!(
                    "not an export of kgentd's verified answers (a JSON array): {e}"
                ))
            })?;
        let imported = caller.audit("import answers", self.answers.import(&answers).await)?;
        Ok(Response::new(proto::ImportAnswersResponse {
            imported: imported as u32,
        }))
    }
}

fn retrieval_mode(catalog: &crate::knowledge::catalog::Catalog) -> String {
    if catalog.has_embeddings() {
        "hybrid (BM25 + sentence embeddings)".to_owned()
    } else {
        "BM25 only: sentence embeddings are not loaded (still computing, or the model is missing: see the kgentd log; bash setup.sh fetches it)".to_owned()
    }
}
