//! Jobs: running approved programs and streaming their output.
//!
//! A bpftrace job is a child process in its own process group, so stopping it stops everything
//! it started. A job ends in one of three ways: its duration runs out or someone calls Stop
//! (SIGINT: bpftrace detaches and prints its maps, and we wait for it), or its client goes away
//! (SIGINT, then SIGKILL of the group 300 ms later, so the kernel side is gone within a second).
//! A guard kills the group if the job's task ends any other way: no program outlives its job.
pub mod btf_types;
pub mod decode;
pub mod loader;
pub mod map_read;
pub mod verifier_log;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, Notify};

use crate::error::KgentError;
use crate::toolchain::bpftrace::with_begin_statement;

/// Printed by an injected BEGIN statement: BEGIN fires once every probe is attached.
const READY_MARKER: &str = "__kgent_ready_7f3a__";
/// How long a graceful stop may take before the group is killed (bpftrace with hundreds of
/// probes needs ~30 s to detach on this host).
const GRACEFUL_STOP: Duration = Duration::from_secs(90);
const DISCONNECT_GRACE: Duration = Duration::from_millis(300);
/// bpftrace 0.17 can miss a SIGINT that lands between its exit-flag check and a blocking
/// epoll_wait: it then sleeps until the next event, which a maps-only program may never get.
/// While it stays silent after a SIGINT, the signal is repeated this often.
const SIGINT_REPEAT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEvent {
    /// Every probe is attached.
    Started {
        job_id: String,
        probes: u32,
    },
    Line {
        text: String,
        stderr: bool,
    },
    Finished {
        exit_code: i32,
        reason: String,
    },
}

pub struct JobSpec {
    pub source: String,
    pub owner_uid: u32,
    /// None: until stopped or the client goes away.
    pub duration: Option<Duration>,
}

struct JobControl {
    owner_uid: u32,
    pgid: Option<Pid>,
    stop: Arc<Notify>,
}

/// The running jobs of this daemon.
#[derive(Clone)]
pub struct Jobs {
    bpftrace: PathBuf,
    max_running: usize,
    running: Arc<Mutex<HashMap<String, JobControl>>>,
}

/// Sends SIGKILL to a process group; "no such process" is fine (it is already gone).
pub fn kill_group(pid: u32) {
    let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
}

fn signal_group(pgid: Option<Pid>, sig: Signal) {
    if let Some(p) = pgid {
        let _ = killpg(p, sig);
    }
}

/// Kills the group when dropped, whatever ended the job's task.
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        signal_group(self.0, Signal::SIGKILL);
    }
}

impl Jobs {
    pub fn new(bpftrace: PathBuf, max_running: usize) -> Self {
        Self {
            bpftrace,
            max_running,
            running: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn running_count(&self) -> usize {
        self.running.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Starts a bpftrace job; its events go to `events`. Returns the job id.
    pub fn start(
        &self,
        spec: JobSpec,
        events: mpsc::Sender<JobEvent>,
    ) -> Result<String, KgentError> {
        let job_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let script = with_begin_statement(&spec.source, &format!("printf(\"{READY_MARKER}\\n\");"));
        // bpftrace counts the BEGIN probe; one we added is not the program's.
        let added_probes =
            u32::from(script.matches("BEGIN").count() > spec.source.matches("BEGIN").count());
        let mut child = tokio::process::Command::new(&self.bpftrace)
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("BPFTRACE_NO_USER_SYMBOLS", "1")
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                KgentError::Internal(format!("cannot run {}: {e}", self.bpftrace.display()))
            })?;
        let pgid = child.id().map(|p| Pid::from_raw(p as i32));
        let stop = Arc::new(Notify::new());
        {
            let mut running = self
                .running
                .lock()
                .map_err(|_| KgentError::Internal("job table lock poisoned".into()))?;
            if running.len() >= self.max_running {
                signal_group(pgid, Signal::SIGKILL);
                return Err(KgentError::ResourceExhausted(format!(
                    "{} programs are already running (limits.max_running_jobs); stop one first",
                    running.len()
                )));
            }
            running.insert(
                job_id.clone(),
                JobControl {
                    owner_uid: spec.owner_uid,
                    pgid,
                    stop: stop.clone(),
                },
            );
        }
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let table = self.running.clone();
        let id = job_id.clone();
        tokio::spawn(async move {
            let mut guard = GroupGuard(pgid);
            if let Some(mut stdin) = stdin {
                let _ = stdin.write_all(script.as_bytes()).await;
            }
            let watch = Watch {
                job_id: id.clone(),
                stop,
                duration: spec.duration,
                added_probes,
            };
            let finished = supervise(watch, child, &mut guard, stdout, stderr, &events).await;
            if let Ok(mut t) = table.lock() {
                t.remove(&id);
            }
            let _ = events.send(finished).await;
        });
        Ok(job_id)
    }

    /// Asks a job to stop gracefully. Only its owner or root may.
    pub fn stop(&self, job_id: &str, caller_uid: u32) -> Result<(), KgentError> {
        let running = self
            .running
            .lock()
            .map_err(|_| KgentError::Internal("job table lock poisoned".into()))?;
        let job = running
            .get(job_id)
            .ok_or_else(|| KgentError::NotFound(format!("no running job {job_id:?}")))?;
        if caller_uid != 0 && caller_uid != job.owner_uid {
            return Err(KgentError::PermissionDenied(format!(
                "job {job_id} belongs to uid {}",
                job.owner_uid
            )));
        }
        job.stop.notify_one();
        Ok(())
    }

    /// Kills every running job (daemon shutdown).
    pub fn kill_all(&self) {
        if let Ok(running) = self.running.lock() {
            for job in running.values() {
                signal_group(job.pgid, Signal::SIGKILL);
            }
        }
    }
}

/// What ends a job besides its own exit, and how to report it.
struct Watch {
    job_id: String,
    stop: Arc<Notify>,
    duration: Option<Duration>,
    /// Probes kgent added to the script (not counted as the program's).
    added_probes: u32,
}

async fn supervise(
    watch: Watch,
    mut child: tokio::process::Child,
    guard: &mut GroupGuard,
    stdout: Option<tokio::process::ChildStdout>,
    stderr: Option<tokio::process::ChildStderr>,
    events: &mpsc::Sender<JobEvent>,
) -> JobEvent {
    let Watch {
        job_id,
        stop,
        duration,
        added_probes,
    } = watch;
    let pgid = guard.0;
    let mut out = stdout.map(|s| BufReader::new(s).lines());
    let mut err = stderr.map(|s| BufReader::new(s).lines());
    let mut probes = 0u32;
    let mut stopping: Option<(&'static str, tokio::time::Instant)> = None;
    let mut deadline = duration.map(|d| tokio::time::Instant::now() + d);
    let far = || tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600);
    let mut client_gone = false;
    // When to repeat SIGINT if bpftrace has said nothing since the last one.
    let mut repeat_sigint: Option<tokio::time::Instant> = None;
    let next_repeat = || Some(tokio::time::Instant::now() + SIGINT_REPEAT);
    loop {
        let kill_at = stopping.map(|(_, t)| t);
        tokio::select! {
            line = async { match out.as_mut() { Some(o) => o.next_line().await, None => Ok(None) } }, if out.is_some() => {
                match line {
                    Ok(Some(l)) if l == READY_MARKER => {
                        // Started counts from now: the trigger may run.
                        if let Some(d) = duration { deadline = Some(tokio::time::Instant::now() + d); }
                        let _ = events.send(JobEvent::Started { job_id: job_id.clone(), probes }).await;
                    }
                    Ok(Some(l)) => {
                        // It is talking: it got the signal (or never needed one).
                        repeat_sigint = None;
                        if let Some(n) = attaching_count(&l) { probes = n.saturating_sub(added_probes); continue; }
                        let _ = events.send(JobEvent::Line { text: l, stderr: false }).await;
                    }
                    _ => out = None,
                }
            }
            line = async { match err.as_mut() { Some(e) => e.next_line().await, None => Ok(None) } }, if err.is_some() => {
                match line {
                    Ok(Some(l)) if l.contains("couldn't set RLIMIT_MEMLOCK") => {}
                    Ok(Some(l)) => { let _ = events.send(JobEvent::Line { text: l, stderr: true }).await; }
                    _ => err = None,
                }
            }
            status = child.wait(), if out.is_none() && err.is_none() => {
                // Reaped: the pid may be reused from here on, so the guard must not signal it.
                guard.0 = None;
                let code = status.ok().and_then(|s| s.code()).unwrap_or(-1);
                let reason = match (stopping, client_gone) {
                    (_, true) => "stopped: the client went away".to_owned(),
                    (Some((why, _)), _) => why.to_owned(),
                    (None, _) if code == 0 => "the program exited".to_owned(),
                    (None, _) => format!("bpftrace exited with code {code}"),
                };
                let exit_code = if stopping.is_some() && code <= 0 { 0 } else { code };
                return JobEvent::Finished { exit_code, reason };
            }
            _ = stop.notified(), if stopping.is_none() => {
                signal_group(pgid, Signal::SIGINT);
                repeat_sigint = next_repeat();
                stopping = Some(("stopped on request", tokio::time::Instant::now() + GRACEFUL_STOP));
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(far)), if deadline.is_some() && stopping.is_none() => {
                signal_group(pgid, Signal::SIGINT);
                repeat_sigint = next_repeat();
                stopping = Some(("the duration ended", tokio::time::Instant::now() + GRACEFUL_STOP));
            }
            _ = tokio::time::sleep_until(repeat_sigint.unwrap_or_else(far)), if repeat_sigint.is_some() => {
                signal_group(pgid, Signal::SIGINT);
                repeat_sigint = next_repeat();
            }
            _ = events.closed(), if !client_gone => {
                client_gone = true;
                signal_group(pgid, Signal::SIGINT);
                stopping = Some(("stopped: the client went away", tokio::time::Instant::now() + DISCONNECT_GRACE));
            }
            _ = tokio::time::sleep_until(kill_at.unwrap_or_else(far)), if kill_at.is_some() => {
                signal_group(pgid, Signal::SIGKILL);
                stopping = stopping.map(|(why, _)| (why, far()));
            }
        }
    }
}

fn attaching_count(line: &str) -> Option<u32> {
    line.strip_prefix("Attaching ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
