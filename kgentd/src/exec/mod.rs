//! Jobs: running approved programs and streaming their output. Every run is a job with an id,
//! an owner, a target, a start time and limits, recorded in the store in two phases (pending
//! before anything is loaded, live once attached, ended with the reason).
//!
//! A bpftrace job is a child process in its own process group, so stopping it stops everything
//! it started. A job ends in one of three ways: its duration runs out or someone calls Stop
//! (SIGINT: bpftrace detaches and prints its maps, and we wait for it), or its client goes away
//! (SIGINT, then SIGKILL of the group 300 ms later, so the kernel side is gone within a second).
//! A guard kills the group if the job's task ends any other way: no program outlives its job.
//!
//! Every job holds a [`Slot`] in the job table from admission; the slot is freed when it drops,
//! so a start that fails or whose client goes away mid-start (its future dropped at an await)
//! leaks nothing. Runs below the admin role are held to the program policy
//! ([`crate::policy`]) and to the per-uid job quota.
//!
//! A C job ([`c_job`]) is loaded through aya and pinned under `<pin_root>/<job>`; its guard
//! removes the pins. A daemon killed outright leaves pins and process groups behind:
//! [`Jobs::reconcile`] on the next start re-adopts the live detached C jobs it can continue and
//! removes everything of the others, so nothing is orphaned; the tools, tracefs instances and
//! scratch directories of dead daemons are swept first ([`crate::leftovers`]).
pub mod btf_types;
pub mod c_job;
pub mod decode;
pub mod loader;
pub mod map_read;
pub mod printk;
pub mod verifier_log;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::unistd::Pid;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, Notify};

use crate::error::KgentError;
use crate::metrics::{DropCause, JobMeter};
use crate::process;
use crate::store::jobs::{JobRecord, JobState};
use crate::store::Store;
use crate::toolchain::bpftrace::supervisor::{
    lost_events, sleep_until, AtBegin, Output, Stopping, Supervisor,
};
use crate::toolchain::clang::ClangToolchain;
use loader::AttachTargets;

/// How long a graceful stop may take before the group is killed (bpftrace with hundreds of
/// probes needs ~30 s to detach on this host).
const GRACEFUL_STOP: Duration = Duration::from_secs(90);
const DISCONNECT_GRACE: Duration = Duration::from_millis(300);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEvent {
    /// Every probe is attached.
    Started {
        job_id: String,
        probes: u32,
        /// C jobs: each program and where it attached.
        attached: Vec<String>,
    },
    Line {
        text: String,
        stderr: bool,
        /// C jobs: the record or map as JSON.
        json: Option<String>,
    },
    Finished {
        exit_code: i32,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobTarget {
    Bpftrace,
    C,
}

impl JobTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bpftrace => "bpftrace",
            Self::C => "c",
        }
    }
}

pub struct JobSpec {
    pub source: String,
    pub target: JobTarget,
    pub owner_uid: u32,
    /// None: until stopped or the client goes away.
    pub duration: Option<Duration>,
    /// Keep running when the client goes away; output goes to the job's log.
    pub detach: bool,
    /// Where network and cgroup programs attach (C).
    pub attach: AttachTargets,
    /// Records (C) or lines (bpftrace) per second delivered; 0: no limit.
    pub max_events_per_s: u32,
    /// The owner's role: what the program policy lets the program do, and whether the per-uid
    /// job quota applies (not to admins).
    pub role: crate::config::Role,
}

/// A job's place in the job table, freed when this drops.
struct Slot {
    table: Arc<Mutex<HashMap<String, JobControl>>>,
    job_id: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut t) = self.table.lock() {
            t.remove(&self.job_id);
        }
    }
}

struct JobControl {
    owner_uid: u32,
    pgid: Option<Pid>,
    stop: Arc<Notify>,
    /// C jobs: removed on shutdown, which detaches everything at once.
    pin_dir: Option<PathBuf>,
}

/// What jobs need from the daemon.
pub struct JobsSetup {
    pub bpftrace: PathBuf,
    pub max_running: usize,
    /// Jobs one uid below the admin role may have running at once.
    pub max_per_uid: usize,
    pub store: Store,
    pub clang: Arc<ClangToolchain>,
    /// bpffs directory owned by this daemon: `<pin_root>/<job>` per C job.
    pub pin_root: PathBuf,
    /// Detached jobs write their output under this directory.
    pub log_dir: PathBuf,
    /// A detached job's log is rotated when it would grow past this.
    pub max_log_bytes: u64,
    /// Memory the maps of one C program may declare (see [`loader::map_bytes`]).
    pub max_map_bytes: u64,
    /// Where the pin root's lock file lives (a tmpfs: /run/kgent).
    pub lock_dir: PathBuf,
    pub tracefs: Option<PathBuf>,
}

/// The running jobs of this daemon.
#[derive(Clone)]
pub struct Jobs {
    config: Arc<JobsSetup>,
    running: Arc<Mutex<HashMap<String, JobControl>>>,
    /// Held while this daemon owns its pin root (see [`lock_pin_root`]).
    _pin_root_lock: Arc<std::fs::File>,
}

/// Takes the pin root for this daemon: reconcile removes whatever under it no job of this
/// daemon owns, so two daemons must never share one. An exclusive flock on a file named after
/// the pin root (in `lock_dir`) is held for the daemon's life and released by the kernel
/// however the daemon ends.
pub fn lock_pin_root(
    pin_root: &std::path::Path,
    lock_dir: &std::path::Path,
) -> Result<std::fs::File, KgentError> {
    use sha2::{Digest, Sha256};
    use std::os::fd::AsRawFd;
    std::fs::create_dir_all(lock_dir)?;
    let digest = Sha256::digest(pin_root.as_os_str().as_encoded_bytes());
    let path = lock_dir.join(format!("pin-root-{}.lock", hex::encode(&digest[..8])));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| KgentError::io(format!("cannot open {}", path.display()), e))?;
    // SAFETY: flock on a file descriptor this function owns.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(KgentError::Config(format!(
            "another kgentd owns the pin root {} (lock {}); give this one its own jobs.pin_root",
            pin_root.display(),
            path.display()
        )));
    }
    Ok(file)
}

/// A process's start time (clock ticks since boot) and name, from /proc/PID/stat.
fn process_identity(pid: i32) -> Option<(u64, String)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let start = stat
        .get(close + 1..)?
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()?;
    Some((start, comm))
}

impl Jobs {
    /// Jobs of this daemon; fails when another daemon owns the same pin root.
    pub fn new(config: JobsSetup) -> Result<Self, KgentError> {
        let lock = lock_pin_root(&config.pin_root, &config.lock_dir)?;
        Ok(Self {
            config: Arc::new(config),
            running: Arc::new(Mutex::new(HashMap::new())),
            _pin_root_lock: Arc::new(lock),
        })
    }

    pub fn running_count(&self) -> usize {
        self.running.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn store(&self) -> &Store {
        &self.config.store
    }

    /// Takes a slot in the job table for `job_id`; the slot is freed when the returned guard
    /// drops, however the start ends (an error, or the client going away mid-start), unless
    /// the job's task holds it. `per_uid`: the owner's quota, when one applies.
    fn admit(
        &self,
        job_id: &str,
        control: JobControl,
        per_uid: Option<usize>,
    ) -> Result<Slot, KgentError> {
        let mut running = self
            .running
            .lock()
            .map_err(|_| KgentError::Internal("job table lock poisoned".into()))?;
        if running.len() >= self.config.max_running {
            return Err(KgentError::ResourceExhausted(format!(
                "{} programs are already running (limits.max_running_jobs); stop one first",
                running.len()
            )));
        }
        if let Some(quota) = per_uid {
            let owned = running
                .values()
                .filter(|j| j.owner_uid == control.owner_uid)
                .count();
            if owned >= quota {
                return Err(KgentError::ResourceExhausted(format!(
                    "uid {} already runs {owned} programs, its quota (limits.max_jobs_per_uid = {quota}); stop one first (kgentctl jobs, kgentctl stop)",
                    control.owner_uid
                )));
            }
        }
        running.insert(job_id.to_owned(), control);
        Ok(Slot {
            table: self.running.clone(),
            job_id: job_id.to_owned(),
        })
    }

    /// The owner's job quota for `spec` (none for admins).
    fn quota_of(&self, spec: &JobSpec) -> Option<usize> {
        (spec.role != crate::config::Role::Admin).then_some(self.config.max_per_uid)
    }

    /// Starts a job; its events go to `events` (or, detached, to its log). Returns the job id
    /// once the job is recorded and, for C, compiled, verified and attached.
    pub async fn start(
        &self,
        spec: JobSpec,
        events: mpsc::Sender<JobEvent>,
    ) -> Result<String, KgentError> {
        if spec.target == JobTarget::Bpftrace {
            let refusals = crate::policy::check_bpftrace(spec.role, &spec.source);
            if !refusals.is_empty() {
                return Err(KgentError::PermissionDenied(crate::policy::describe(
                    &refusals, spec.role,
                )));
            }
        }
        let job_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let mut record = JobRecord::new(&job_id, spec.owner_uid, spec.target.as_str());
        record.duration_s = spec.duration.map_or(0, |d| d.as_secs() as u32);
        record.max_events_per_s = spec.max_events_per_s;
        record.detached = spec.detach;
        if spec.detach {
            record.log_path = Some(self.config.log_dir.join(format!("{job_id}.log")));
        }
        self.config.store.put_job(&record).await?;
        // Counted pending from here; ended when the job's task (or this function) drops it.
        let meter = JobMeter::pending(&job_id);
        let events = if spec.detach {
            detached_sink(record.log_path.clone(), self.config.max_log_bytes, events)
        } else {
            events
        };
        let started = match spec.target {
            JobTarget::Bpftrace => self.start_bpftrace(spec, &mut record, events, meter).await,
            JobTarget::C => self.start_c(spec, &mut record, events, meter).await,
        };
        if let Err(e) = &started {
            let _ = self
                .config
                .store
                .end_job(&job_id, &format!("did not start: {e}"))
                .await;
        }
        started.map(|()| job_id)
    }

    async fn start_bpftrace(
        &self,
        spec: JobSpec,
        record: &mut JobRecord,
        events: mpsc::Sender<JobEvent>,
        mut meter: JobMeter,
    ) -> Result<(), KgentError> {
        let job_id = record.id.clone();
        let bpftrace = &self.config.bpftrace;
        let run = Supervisor::spawn(bpftrace, &spec.source, AtBegin::ReportReady)
            .await
            .map_err(|e| KgentError::Internal(format!("cannot run {}: {e}", bpftrace.display())))?;
        let pgid = run.pgid();
        let stop = Arc::new(Notify::new());
        let control = JobControl {
            owner_uid: spec.owner_uid,
            pgid,
            stop: stop.clone(),
            pin_dir: None,
        };
        // From here on, an error drops `run`, which kills bpftrace's group, and `slot`.
        let slot = self.admit(&job_id, control, self.quota_of(&spec))?;
        record.state = JobState::Live;
        record.pgid = pgid.map(Pid::as_raw);
        record.process_start = pgid
            .and_then(|p| process_identity(p.as_raw()))
            .map(|(s, _)| s);
        self.config.store.put_job(record).await?;
        meter.live();
        let store = self.config.store.clone();
        tokio::spawn(async move {
            let watch = Watch {
                job_id: job_id.clone(),
                stop,
                duration: spec.duration,
                limiter: c_job::RateLimit::new(spec.max_events_per_s, "lines"),
                meter,
            };
            let finished = supervise(watch, run, &events).await;
            drop(slot);
            if let JobEvent::Finished { reason, .. } = &finished {
                if let Err(e) = store.end_job(&job_id, reason).await {
                    tracing::error!(job = %job_id, "cannot record the end of the job: {e}");
                }
            }
            let _ = events.send(finished).await;
        });
        Ok(())
    }

    async fn start_c(
        &self,
        spec: JobSpec,
        record: &mut JobRecord,
        events: mpsc::Sender<JobEvent>,
        mut meter: JobMeter,
    ) -> Result<(), KgentError> {
        let job_id = record.id.clone();
        let object = self.config.clang.compile(&spec.source).await?;
        let refusals = object_refusals(spec.role, &object);
        if !refusals.is_empty() {
            return Err(KgentError::PermissionDenied(crate::policy::describe(
                &refusals, spec.role,
            )));
        }
        self.within_map_budget(&object)?;
        let pin_dir = self.config.pin_root.join(&job_id);
        let stop = Arc::new(Notify::new());
        let slot = self.admit(
            &job_id,
            JobControl {
                owner_uid: spec.owner_uid,
                pgid: None,
                stop: stop.clone(),
                pin_dir: Some(pin_dir.clone()),
            },
            self.quota_of(&spec),
        )?;
        record.pin_dir = Some(pin_dir.clone());
        self.config.store.put_job_object(&job_id, &object)?;
        self.config.store.put_job(record).await?;
        let targets = spec.attach.clone();
        let dir = pin_dir.clone();
        let bytes = object.clone();
        let prepared =
            tokio::task::spawn_blocking(move || c_job::prepare(&bytes, &dir, &targets)).await;
        let prepared = match prepared {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return Err(e.into()),
            Err(e) => {
                loader::remove_pins(&pin_dir);
                return Err(KgentError::Internal(format!("loading crashed: {e}")));
            }
        };
        record.state = JobState::Live;
        record.outcome = prepared.attached.join("; ");
        self.config.store.put_job(record).await?;
        meter.live();
        let printk = self.printk_for(&job_id, &object);
        let watch = c_job::Watch {
            stop,
            duration: spec.duration,
            detached: spec.detach,
            max_events_per_s: spec.max_events_per_s,
            printk,
            meter,
        };
        self.spawn_c(slot, prepared, watch, events);
        Ok(())
    }

    /// Refuses an object whose maps declare more memory than `limits.max_map_bytes`, naming
    /// the largest maps.
    fn within_map_budget(&self, object: &[u8]) -> Result<(), KgentError> {
        match loader::over_map_budget(object, self.config.max_map_bytes)? {
            Some(why) => Err(KgentError::ResourceExhausted(why)),
            None => Ok(()),
        }
    }

    /// A private trace pipe when the object calls bpf_trace_printk.
    fn printk_for(&self, job_id: &str, object: &[u8]) -> Option<printk::TracePipe> {
        if !loader::calls_trace_printk(object) {
            return None;
        }
        let tracefs = self.config.tracefs.as_ref()?;
        match printk::TracePipe::open(tracefs, job_id) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(job = %job_id, "bpf_printk output will not be shown: {e}");
                None
            }
        }
    }

    fn spawn_c(
        &self,
        slot: Slot,
        prepared: c_job::Prepared,
        watch: c_job::Watch,
        events: mpsc::Sender<JobEvent>,
    ) {
        let job_id = slot.job_id.clone();
        let store = self.config.store.clone();
        tokio::spawn(async move {
            let started = JobEvent::Started {
                job_id: job_id.clone(),
                probes: prepared.facts.programs.len() as u32,
                attached: prepared.attached.clone(),
            };
            let _ = events.send(started).await;
            let finished = c_job::collect(prepared, watch, &events).await;
            drop(slot);
            if let JobEvent::Finished { reason, .. } = &finished {
                if let Err(e) = store.end_job(&job_id, reason).await {
                    tracing::error!(job = %job_id, "cannot record the end of the job: {e}");
                }
            }
            let _ = events.send(finished).await;
        });
    }

    /// Asks a job to stop gracefully. Only its owner or an admin may (`authz` decides).
    pub fn stop(&self, job_id: &str, caller: &crate::authz::Caller) -> Result<(), KgentError> {
        let running = self
            .running
            .lock()
            .map_err(|_| KgentError::Internal("job table lock poisoned".into()))?;
        let job = running.get(job_id).ok_or_else(|| {
            KgentError::NotFound(format!(
                "no running job {job_id:?} (kgentctl jobs lists them)"
            ))
        })?;
        caller.may_stop(job.owner_uid)?;
        job.stop.notify_one();
        Ok(())
    }

    /// Ends every running job at once (daemon shutdown): process groups killed, pins removed,
    /// the job table told.
    pub async fn shutdown(&self) {
        let ended: Vec<String> = match self.running.lock() {
            Ok(running) => running
                .iter()
                .map(|(id, job)| {
                    process::kill_group(job.pgid);
                    if let Some(dir) = &job.pin_dir {
                        loader::remove_pins(dir);
                    }
                    id.clone()
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        for id in ended {
            let _ = self
                .config
                .store
                .end_job(&id, "stopped: kgentd shut down")
                .await;
        }
    }

    /// After a start: what dead daemons left outside the store is swept ([`crate::leftovers`]);
    /// jobs a previous daemon left pending or live are re-adopted (live, detached C jobs whose
    /// pins are intact and whose duration has not run out) or ended, with their pins and process
    /// groups removed; pin directories no job owns are removed too. Returns one line per thing
    /// it acted on.
    pub async fn reconcile(&self) -> Result<Vec<String>, KgentError> {
        let tracefs = self.config.tracefs.clone();
        let mut report =
            tokio::task::spawn_blocking(move || crate::leftovers::sweep(tracefs.as_deref()))
                .await
                .map_err(|e| {
                    KgentError::Internal(format!("the sweep of leftovers crashed: {e}"))
                })?;
        let jobs = self.config.store.list_jobs()?;
        let now = crate::store::unix_ms();
        for job in jobs.iter().filter(|j| j.state != JobState::Ended) {
            let outcome = self.reconcile_one(job, now).await;
            report.push(format!("job {}: {outcome}", job.id));
        }
        // Pins of jobs this daemon does not know (or knows as ended) are orphans.
        if let Ok(dirs) = std::fs::read_dir(&self.config.pin_root) {
            let adopted: Vec<String> = self
                .running
                .lock()
                .map(|r| r.keys().cloned().collect())
                .unwrap_or_default();
            for d in dirs.flatten() {
                let name = d.file_name().to_string_lossy().into_owned();
                if !adopted.contains(&name) {
                    loader::remove_pins(&d.path());
                    report.push(format!("removed orphaned pins {}", d.path().display()));
                }
            }
        }
        Ok(report)
    }

    async fn reconcile_one(&self, job: &JobRecord, now: u64) -> String {
        let store = &self.config.store;
        if let (Some(pgid), Some(start)) = (job.pgid, job.process_start) {
            if process_identity(pgid).is_some_and(|(s, comm)| s == start && comm == "bpftrace") {
                process::kill_group(Some(Pid::from_raw(pgid)));
            }
        }
        let expired = job.deadline_unix_ms().is_some_and(|d| d <= now);
        let adoptable =
            job.state == JobState::Live && job.target == "c" && job.detached && !expired;
        if adoptable {
            match self.adopt(job, now).await {
                Ok(()) => return "re-adopted (live, detached)".into(),
                Err(e) => {
                    let outcome = format!("ended: kgentd restarted and could not re-adopt it ({e}); its programs were removed");
                    self.remove_job_pins(job);
                    let _ = store.end_job(&job.id, &outcome).await;
                    return outcome;
                }
            }
        }
        self.remove_job_pins(job);
        let outcome = match (job.state, job.detached, expired) {
            (JobState::Pending, _, _) => "ended: kgentd stopped while the job was starting; anything it had loaded was removed".to_owned(),
            (_, true, true) => "ended: its duration ran out while kgentd was down; its programs were removed".to_owned(),
            _ if job.target == "bpftrace" => "ended: kgentd stopped while it ran; its bpftrace process group was killed".to_owned(),
            _ => "ended: kgentd stopped while it ran and its client is gone; its programs, links and maps were removed".to_owned(),
        };
        if let Err(e) = store.end_job(&job.id, &outcome).await {
            tracing::error!(job = %job.id, "cannot record the end of the job: {e}");
        }
        outcome
    }

    fn remove_job_pins(&self, job: &JobRecord) {
        let dir = job
            .pin_dir
            .clone()
            .unwrap_or_else(|| self.config.pin_root.join(&job.id));
        loader::remove_pins(&dir);
    }

    async fn adopt(&self, job: &JobRecord, now: u64) -> Result<(), String> {
        let dir = job.pin_dir.clone().ok_or("no pin directory recorded")?;
        let object = self
            .config
            .store
            .job_object(&job.id)
            .map_err(|e| e.to_string())?
            .ok_or("its compiled object is not in the store")?;
        let prepared = c_job::adopt(&object, &dir)?;
        let stop = Arc::new(Notify::new());
        let slot = self
            .admit(
                &job.id,
                JobControl {
                    owner_uid: job.owner_uid,
                    pgid: None,
                    stop: stop.clone(),
                    pin_dir: Some(dir),
                },
                None,
            )
            .map_err(|e| e.to_string())?;
        let remaining = job
            .deadline_unix_ms()
            .map(|d| Duration::from_millis(d.saturating_sub(now)));
        let watch = c_job::Watch {
            stop,
            duration: remaining,
            detached: true,
            max_events_per_s: job.max_events_per_s,
            printk: self.printk_for(&job.id, &object),
            meter: JobMeter::adopted(&job.id),
        };
        let (tx, rx) = mpsc::channel(256);
        drop(rx);
        let events = detached_sink(job.log_path.clone(), self.config.max_log_bytes, tx);
        self.spawn_c(slot, prepared, watch, events);
        Ok(())
    }
}

/// A detached job's log: appended to, and rotated once it would grow past its cap (the full
/// log moves to `<log>.1`, replacing the one before), so a job keeps at most twice the cap.
struct JobLog {
    path: PathBuf,
    file: tokio::fs::File,
    written: u64,
    max_bytes: u64,
}

impl JobLog {
    async fn open(path: PathBuf, max_bytes: u64) -> Option<Self> {
        if let Some(dir) = path.parent() {
            let _ = tokio::fs::create_dir_all(dir).await;
        }
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await
            .ok()?;
        let written = file.metadata().await.map(|m| m.len()).unwrap_or(0);
        Some(Self {
            path,
            file,
            written,
            max_bytes,
        })
    }

    async fn write_line(&mut self, text: &str) {
        let line = format!("{text}\n");
        if self.written > 0 && self.written + line.len() as u64 > self.max_bytes {
            let _ = self.file.flush().await;
            let mut old = self.path.clone().into_os_string();
            old.push(".1");
            let rotated = tokio::fs::rename(&self.path, &old).await;
            let reopened = tokio::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&self.path)
                .await;
            match (rotated, reopened) {
                (Ok(()), Ok(f)) => {
                    self.file = f;
                    self.written = 0;
                }
                // Cannot rotate: stop writing rather than grow past the cap.
                _ => return,
            }
        }
        if self.file.write_all(line.as_bytes()).await.is_ok() {
            self.written += line.len() as u64;
        }
    }
}

/// The events of a detached job: Started goes to the client, everything goes to the log
/// (rotated at `max_log_bytes`).
fn detached_sink(
    log: Option<PathBuf>,
    max_log_bytes: u64,
    client: mpsc::Sender<JobEvent>,
) -> mpsc::Sender<JobEvent> {
    let (tx, mut rx) = mpsc::channel::<JobEvent>(1024);
    tokio::spawn(async move {
        let mut file = match log {
            Some(path) => JobLog::open(path, max_log_bytes).await,
            None => None,
        };
        let mut client = Some(client);
        while let Some(ev) = rx.recv().await {
            let text = match &ev {
                JobEvent::Started {
                    job_id, attached, ..
                } => {
                    format!("started job {job_id}: {}", attached.join("; "))
                }
                JobEvent::Line { text, .. } => text.clone(),
                JobEvent::Finished { reason, .. } => format!("finished: {reason}"),
            };
            if let Some(f) = file.as_mut() {
                f.write_line(&text).await;
            }
            if matches!(ev, JobEvent::Started { .. }) {
                if let Some(c) = client.take() {
                    let _ = c.send(ev).await;
                }
            }
        }
    });
    tx
}

/// What ends a job besides its own exit, and how to report and count it.
struct Watch {
    job_id: String,
    stop: Arc<Notify>,
    duration: Option<Duration>,
    /// Lines a second delivered (the run's max_events_per_s, as for C records).
    limiter: c_job::RateLimit,
    meter: JobMeter,
}

async fn supervise(watch: Watch, mut run: Supervisor, events: &mpsc::Sender<JobEvent>) -> JobEvent {
    let Watch {
        job_id,
        stop,
        duration,
        mut limiter,
        meter,
    } = watch;
    let mut out = run.take_stdout();
    let mut err = run.take_stderr();
    let mut probes = 0u32;
    let mut stopping: Option<(&'static str, Stopping)> = None;
    let mut deadline = duration.map(|d| tokio::time::Instant::now() + d);
    let mut client_gone = false;
    loop {
        let wake = stopping.as_ref().and_then(|(_, s)| s.next_at());
        tokio::select! {
            line = async { match out.as_mut() { Some(o) => o.next().await, None => Ok(None) } }, if out.is_some() => {
                match line {
                    Ok(Some(Output::Ready)) => {
                        // Started counts from now: the trigger may run.
                        if let Some(d) = duration { deadline = Some(tokio::time::Instant::now() + d); }
                        let _ = events.send(JobEvent::Started { job_id: job_id.clone(), probes, attached: Vec::new() }).await;
                    }
                    Ok(Some(Output::Attaching(n))) => {
                        // It is talking: it got the signal (or never needed one).
                        if let Some((_, s)) = stopping.as_mut() { s.heard_from(); }
                        probes = n;
                    }
                    Ok(Some(Output::Line(l))) => {
                        if let Some((_, s)) = stopping.as_mut() { s.heard_from(); }
                        let admitted = match lost_events(&l) {
                            Some(n) => { meter.dropped(DropCause::BpftraceLost, n); true }
                            None => limiter.admit(&meter),
                        };
                        if admitted {
                            let _ = events.send(JobEvent::Line { text: l, stderr: false, json: None }).await;
                        }
                        if let Some(notice) = limiter.report() {
                            let _ = events.send(JobEvent::Line { text: notice, stderr: true, json: None }).await;
                        }
                    }
                    _ => out = None,
                }
            }
            line = async { match err.as_mut() { Some(e) => e.next_line().await, None => Ok(None) } }, if err.is_some() => {
                match line {
                    Ok(Some(l)) if l.contains("couldn't set RLIMIT_MEMLOCK") => {}
                    Ok(Some(l)) => { let _ = events.send(JobEvent::Line { text: l, stderr: true, json: None }).await; }
                    _ => err = None,
                }
            }
            status = run.wait(), if out.is_none() && err.is_none() => {
                let code = status.ok().and_then(|s| s.code()).unwrap_or(-1);
                let reason = match (&stopping, client_gone) {
                    (_, true) => "stopped: the client went away".to_owned(),
                    (Some((why, _)), _) => (*why).to_owned(),
                    (None, _) if code == 0 => "the program exited".to_owned(),
                    (None, _) => format!("bpftrace exited with code {code}"),
                };
                let exit_code = if stopping.is_some() && code <= 0 { 0 } else { code };
                return JobEvent::Finished { exit_code, reason };
            }
            _ = stop.notified(), if stopping.is_none() => {
                stopping = Some(("stopped on request", run.stop(GRACEFUL_STOP)));
            }
            _ = sleep_until(deadline), if deadline.is_some() && stopping.is_none() => {
                stopping = Some(("the duration ended", run.stop(GRACEFUL_STOP)));
            }
            _ = sleep_until(wake), if wake.is_some() => {
                if let Some((_, s)) = stopping.as_mut() { s.tick(); }
            }
            _ = events.closed(), if !client_gone => {
                client_gone = true;
                stopping = Some(("stopped: the client went away", run.stop(DISCONNECT_GRACE)));
            }
        }
    }
}

/// The policy's refusals of a compiled object for `role`; an object kgent cannot read is
/// judged by its helper calls alone (the loader rejects it anyway).
pub fn object_refusals(role: crate::config::Role, bytes: &[u8]) -> Vec<crate::policy::Refusal> {
    let sections: Vec<String> = loader::inspect(bytes)
        .map(|f| f.programs.into_iter().map(|p| p.section).collect())
        .unwrap_or_default();
    let helpers: Vec<i32> = loader::helper_calls(bytes).into_iter().collect();
    let kfuncs: Vec<String> = loader::kfunc_calls(bytes).into_iter().collect();
    crate::policy::check_c_object(role, &sections, &helpers, &kfuncs)
}
