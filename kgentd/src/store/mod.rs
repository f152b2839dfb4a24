//! The store: one sled database under the state directory holding every request with its full
//! transcript (prompts, replies, checks).
//!
//! A request is written as `pending` before any work starts and promoted to `answered`,
//! `no_answer` or `failed` when it ends, so a crash never loses one or leaves it half-known: on
//! start-up, records still pending are marked failed ("interrupted"). Request ids are UUIDv7, so
//! key order is time order. Jobs live in their own tree ([`jobs`]). This module knows nothing
//! of gRPC.
pub mod jobs;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::KgentError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Pending,
    Answered,
    NoAnswer,
    Failed,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Answered => "answered",
            Self::NoAnswer => "no_answer",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Prompt,
    Reply,
    Check,
    Note,
}

impl EntryKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Prompt => "prompt",
            Self::Reply => "reply",
            Self::Check => "check",
            Self::Note => "note",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TranscriptEntry {
    pub kind: EntryKind,
    pub iteration: u32,
    pub text: String,
    /// Milliseconds since the request started.
    pub at_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestRecord {
    pub id: String,
    pub text: String,
    pub target: String,
    pub caller_uid: u32,
    pub created_unix_ms: u64,
    pub state: RequestState,
    pub wall_ms: u64,
    pub iterations: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// The answered program, when there is one.
    pub program: Option<String>,
    /// Why the request ended as it did (the explanation or the reason for no answer).
    pub outcome: String,
    pub transcript: Vec<TranscriptEntry>,
}

impl RequestRecord {
    pub fn new(text: &str, target: &str, caller_uid: u32) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            text: text.to_owned(),
            target: target.to_owned(),
            caller_uid,
            created_unix_ms: unix_ms(),
            state: RequestState::Pending,
            wall_ms: 0,
            iterations: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            program: None,
            outcome: String::new(),
            transcript: Vec::new(),
        }
    }
}

pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Handle to the database; cheap to clone, opened once per daemon.
#[derive(Clone)]
pub struct Store {
    requests: sled::Tree,
    jobs: sled::Tree,
    job_objects: sled::Tree,
    db: sled::Db,
}

impl Store {
    pub fn open(state_dir: &Path) -> Result<Self, KgentError> {
        std::fs::create_dir_all(state_dir).map_err(|e| {
            KgentError::Store(format!("cannot create {}: {e}", state_dir.display()))
        })?;
        // sled's background flusher keeps the file lock for a moment after the last handle
        // of a previous opening is dropped (a restart in the same process, a test reopening):
        // retry briefly before calling the database taken.
        let path = state_dir.join("db");
        let mut attempt = sled::open(&path);
        for _ in 0..40 {
            match &attempt {
                Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    attempt = sled::open(&path);
                }
                _ => break,
            }
        }
        let db = attempt.map_err(|e| {
            KgentError::Store(format!(
                "cannot open the database in {}: {e} (is another kgentd running with this state dir?)",
                state_dir.display()
            ))
        })?;
        let requests = db.open_tree("requests")?;
        let jobs = db.open_tree("jobs")?;
        let job_objects = db.open_tree("job_objects")?;
        Ok(Self {
            requests,
            jobs,
            job_objects,
            db,
        })
    }

    /// Marks requests a previous daemon left pending as failed; returns how many.
    pub fn recover_interrupted(&self) -> Result<usize, KgentError> {
        let mut n = 0;
        for item in self.requests.iter() {
            let (_, value) = item?;
            let mut rec: RequestRecord = serde_json::from_slice(&value)?;
            if rec.state == RequestState::Pending {
                rec.state = RequestState::Failed;
                rec.outcome = "interrupted: kgentd stopped before this request finished".into();
                self.put(&rec)?;
                n += 1;
            }
        }
        Ok(n)
    }

    pub fn put(&self, rec: &RequestRecord) -> Result<(), KgentError> {
        self.requests
            .insert(rec.id.as_bytes(), serde_json::to_vec(rec)?)?;
        Ok(())
    }

    /// Writes and flushes to disk: used for the first (pending) and last (final) write.
    pub async fn put_durable(&self, rec: &RequestRecord) -> Result<(), KgentError> {
        self.put(rec)?;
        self.db.flush_async().await?;
        Ok(())
    }

    pub fn get(&self, id: &str) -> Result<RequestRecord, KgentError> {
        match self.requests.get(id.as_bytes())? {
            Some(v) => Ok(serde_json::from_slice(&v)?),
            None => Err(KgentError::NotFound(format!(
                "no request {id:?} (kgentctl history lists them)"
            ))),
        }
    }

    /// Newest first.
    pub fn list(&self, limit: usize) -> Result<Vec<RequestRecord>, KgentError> {
        let mut out = Vec::new();
        for item in self.requests.iter().rev().take(limit) {
            let (_, v) = item?;
            out.push(serde_json::from_slice(&v)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_left_pending_by_a_crash_is_marked_failed_on_reopen() {
        let dir = tempfile::tempdir().expect("tmp");
        let id = {
            let store = Store::open(dir.path()).expect("open");
            let rec = RequestRecord::new("trace opens", "bpftrace", 1000);
            store.put_durable(&rec).await.expect("put");
            rec.id
        };
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.recover_interrupted().expect("recover"), 1);
        let rec = store.get(&id).expect("kept");
        assert_eq!(rec.state, RequestState::Failed);
        assert!(rec.outcome.contains("interrupted"));
        assert_eq!(rec.text, "trace opens");
        assert_eq!(store.recover_interrupted().expect("again"), 0);
    }

    #[tokio::test]
    async fn list_is_newest_first() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("open");
        for text in ["first", "second", "third"] {
            store
                .put_durable(&RequestRecord::new(text, "bpftrace", 0))
                .await
                .expect("put");
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let texts: Vec<String> = store
            .list(2)
            .expect("list")
            .into_iter()
            .map(|r| r.text)
            .collect();
        assert_eq!(texts, ["third", "second"]);
    }
}
