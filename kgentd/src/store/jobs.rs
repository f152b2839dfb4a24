//! The job table: every run is a job, written in two phases so a crash never leaves one
//! half-known. A job is recorded `pending` (durably) before anything is loaded, promoted to
//! `live` once its programs are attached (with where they are pinned, or which process group
//! runs it), and `ended` with the reason when it stops. A C job's compiled object is kept
//! beside it, so a restarted daemon can decode the output of a job it re-adopts.
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{unix_ms, Store};
use crate::error::KgentError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Pending,
    Live,
    Ended,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Live => "live",
            Self::Ended => "ended",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: String,
    pub owner_uid: u32,
    /// "bpftrace" or "c".
    pub target: String,
    pub state: JobState,
    pub started_unix_ms: u64,
    pub ended_unix_ms: u64,
    /// 0: until stopped (or until the client goes away, when not detached).
    pub duration_s: u32,
    pub max_events_per_s: u32,
    pub detached: bool,
    /// C jobs: where programs, links and maps are pinned.
    pub pin_dir: Option<PathBuf>,
    /// bpftrace jobs: the process group and its leader's start time (clock ticks since boot),
    /// so a restarted daemon kills the right group and never a reused pid.
    pub pgid: Option<i32>,
    pub process_start: Option<u64>,
    /// Where a detached job's output goes.
    pub log_path: Option<PathBuf>,
    /// What it attached to while live; how it ended once ended.
    pub outcome: String,
}

impl JobRecord {
    pub fn new(id: &str, owner_uid: u32, target: &str) -> Self {
        Self {
            id: id.to_owned(),
            owner_uid,
            target: target.to_owned(),
            state: JobState::Pending,
            started_unix_ms: unix_ms(),
            ended_unix_ms: 0,
            duration_s: 0,
            max_events_per_s: 0,
            detached: false,
            pin_dir: None,
            pgid: None,
            process_start: None,
            log_path: None,
            outcome: String::new(),
        }
    }

    /// When a job with a duration must end, in unix ms (None: no duration).
    pub fn deadline_unix_ms(&self) -> Option<u64> {
        (self.duration_s > 0).then(|| self.started_unix_ms + u64::from(self.duration_s) * 1000)
    }
}

impl Store {
    /// Writes a job record and flushes it to disk.
    pub async fn put_job(&self, job: &JobRecord) -> Result<(), KgentError> {
        self.jobs
            .insert(job.id.as_bytes(), serde_json::to_vec(job)?)?;
        self.flush().await
    }

    /// Marks a job ended with `outcome` (and forgets its object).
    pub async fn end_job(&self, id: &str, outcome: &str) -> Result<(), KgentError> {
        let mut job = self.get_job(id)?;
        job.state = JobState::Ended;
        job.ended_unix_ms = unix_ms();
        job.outcome = outcome.to_owned();
        self.job_objects.remove(id.as_bytes())?;
        self.put_job(&job).await
    }

    pub fn get_job(&self, id: &str) -> Result<JobRecord, KgentError> {
        match self.jobs.get(id.as_bytes())? {
            Some(v) => Ok(serde_json::from_slice(&v)?),
            None => Err(KgentError::NotFound(format!(
                "no job {id:?} (kgentctl jobs lists them)"
            ))),
        }
    }

    /// Every job, newest first.
    pub fn list_jobs(&self) -> Result<Vec<JobRecord>, KgentError> {
        let mut out: Vec<JobRecord> = Vec::new();
        for item in self.jobs.iter() {
            let (_, v) = item?;
            out.push(serde_json::from_slice(&v)?);
        }
        out.sort_by_key(|j| std::cmp::Reverse(j.started_unix_ms));
        Ok(out)
    }

    pub fn put_job_object(&self, id: &str, object: &[u8]) -> Result<(), KgentError> {
        self.job_objects.insert(id.as_bytes(), object)?;
        Ok(())
    }

    pub fn job_object(&self, id: &str) -> Result<Option<Vec<u8>>, KgentError> {
        Ok(self.job_objects.get(id.as_bytes())?.map(|v| v.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_job_goes_pending_live_ended_and_survives_a_reopen() {
        let dir = tempfile::tempdir().expect("tmp");
        {
            let store = Store::open(dir.path()).expect("open");
            let mut job = JobRecord::new("j1", 1000, "c");
            store.put_job(&job).await.expect("pending");
            store.put_job_object("j1", b"\x7fELF").expect("object");
            job.state = JobState::Live;
            store.put_job(&job).await.expect("live");
        }
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.get_job("j1").expect("kept").state, JobState::Live);
        assert_eq!(
            store.job_object("j1").expect("read").as_deref(),
            Some(&b"\x7fELF"[..])
        );
        store
            .end_job("j1", "stopped on request")
            .await
            .expect("end");
        let job = store.get_job("j1").expect("kept");
        assert_eq!(job.state, JobState::Ended);
        assert_eq!(job.outcome, "stopped on request");
        assert!(store.job_object("j1").expect("read").is_none());
    }
}
