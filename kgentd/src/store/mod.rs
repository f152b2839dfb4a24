//! The store: one sled database under the state directory holding every request with its full
//! transcript (prompts, replies, checks).
//!
//! A request is written as `pending` before any work starts and promoted to `answered`,
//! `no_answer`, `cancelled` or `failed` when it ends, both times flushed to disk, so a crash never
//! loses one or leaves it half-known: on start-up, records still pending are marked failed
//! ("interrupted"). Request ids are UUIDv7, so key order is time order. In between, each
//! transcript entry is appended under its own key (request id + sequence number, in the
//! `transcripts` tree) without a flush, so recording costs the same for the hundredth entry as for
//! the first; reading a record puts its transcript back together. Records of older daemons, with
//! the transcript inside, still read. Jobs live in their own tree ([`jobs`]), verified answers
//! kept for reuse on the same kernel build in theirs ([`answers`]). This module knows nothing of
//! gRPC.
//!
//! The history is kept within a [`Retention`]: each new request removes the oldest finished
//! ones (with their transcripts) past the record count or the age, so the database does not
//! grow forever; the count is read once at open, not per request.
pub mod answers;
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
    /// The client went away before the request was answered.
    Cancelled,
    Failed,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Answered => "answered",
            Self::NoAnswer => "no_answer",
            Self::Cancelled => "cancelled",
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
    /// In order. Stored beside the record, one key per entry ([`Store::append_entry`]); only
    /// records written by older daemons hold it inline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
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

/// How much history is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Requests kept; 0: no limit.
    pub max_records: usize,
    /// Oldest request kept, in milliseconds of age; 0: no limit.
    pub max_age_ms: u64,
}

/// Handle to the database; cheap to clone, opened once per daemon.
#[derive(Clone)]
pub struct Store {
    retention: Retention,
    /// Requests in the `requests` tree (sled counts by walking the tree).
    count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// One flush at a time ([`Store::flush`]).
    flushing: std::sync::Arc<tokio::sync::Semaphore>,
    requests: sled::Tree,
    transcripts: sled::Tree,
    jobs: sled::Tree,
    job_objects: sled::Tree,
    answers: sled::Tree,
    db: sled::Db,
}

/// The key of a request's transcript entries: its id and a separator (ids never contain one).
fn transcript_prefix(id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(id.len() + 5);
    key.extend_from_slice(id.as_bytes());
    key.push(b'/');
    key
}

/// The key of one entry: big-endian, so key order is entry order.
fn entry_key(id: &str, seq: u32) -> Vec<u8> {
    let mut key = transcript_prefix(id);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

impl Store {
    pub fn open(state_dir: &Path) -> Result<Self, KgentError> {
        std::fs::create_dir_all(state_dir)
            .map_err(|e| KgentError::io(format!("cannot create {}", state_dir.display()), e))?;
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
        let db = attempt.map_err(|source| KgentError::StoreOpen {
            dir: state_dir.to_owned(),
            source,
        })?;
        let requests = db.open_tree("requests")?;
        let transcripts = db.open_tree("transcripts")?;
        let jobs = db.open_tree("jobs")?;
        let job_objects = db.open_tree("job_objects")?;
        let answers = db.open_tree("answers")?;
        Ok(Self {
            retention: Retention::default(),
            count: std::sync::Arc::new(requests.len().into()),
            flushing: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
            requests,
            transcripts,
            jobs,
            job_objects,
            answers,
            db,
        })
    }

    /// Keeps the history within `retention` from now on, and trims it to that now.
    pub fn with_retention(mut self, retention: Retention) -> Result<Self, KgentError> {
        self.retention = retention;
        self.prune()?;
        Ok(self)
    }

    /// Removes the oldest requests (with their transcripts) while there are more than the
    /// retention keeps or the oldest is older than it keeps; stops at a request still pending.
    /// Returns how many it removed.
    pub fn prune(&self) -> Result<usize, KgentError> {
        use std::sync::atomic::Ordering;
        let Retention {
            max_records,
            max_age_ms,
        } = self.retention;
        let now = unix_ms();
        let mut removed = 0;
        while let Some((key, value)) = self.requests.first()? {
            let rec: RequestRecord = serde_json::from_slice(&value)?;
            let too_many = max_records > 0 && self.count.load(Ordering::Relaxed) > max_records;
            let too_old = max_age_ms > 0 && now.saturating_sub(rec.created_unix_ms) > max_age_ms;
            if rec.state == RequestState::Pending || !(too_many || too_old) {
                break;
            }
            for entry in self
                .transcripts
                .scan_prefix(transcript_prefix(&rec.id))
                .keys()
            {
                self.transcripts.remove(entry?)?;
            }
            if self.requests.remove(key)?.is_some() {
                self.count.fetch_sub(1, Ordering::Relaxed);
                removed += 1;
            }
        }
        Ok(removed)
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

    /// Writes the record without flushing. Its transcript is written inline only when it has
    /// one, which only a record of an older daemon has (kept as it was).
    /// A new record makes room for itself within the retention.
    fn put(&self, rec: &RequestRecord) -> Result<(), KgentError> {
        let before = self
            .requests
            .insert(rec.id.as_bytes(), serde_json::to_vec(rec)?)?;
        if before.is_none() {
            self.count
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.prune()?;
        }
        Ok(())
    }

    /// Writes the record and flushes the database to disk (its transcript entries with it):
    /// used for the first (pending) and the last (final) write of a request.
    pub async fn put_durable(&self, rec: &RequestRecord) -> Result<(), KgentError> {
        self.put(rec)?;
        self.flush().await
    }

    /// Flushes the database to disk, one flush at a time, on a blocking thread that holds its
    /// turn until the flush is done even when the caller is gone. sled's own `flush_async` runs
    /// on sled's small IO pool, which the flush waits on: hundreds of them at once (a burst of
    /// runs whose clients hung up) filled that pool with waiters and deadlocked the store.
    async fn flush(&self) -> Result<(), KgentError> {
        let turn = self
            .flushing
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| KgentError::Internal("the store's flush gate is closed".into()))?;
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            db.flush()
        })
        .await
        .map_err(|e| KgentError::Internal(format!("flushing the store crashed: {e}")))??;
        Ok(())
    }

    /// Appends entry number `seq` (0, 1, 2 … per request) to a request's transcript. Not
    /// flushed: an in-memory insert, cheap enough for the async workers; the request's final
    /// [`put_durable`](Self::put_durable) makes it durable.
    pub fn append_entry(
        &self,
        id: &str,
        seq: u32,
        entry: &TranscriptEntry,
    ) -> Result<(), KgentError> {
        self.transcripts
            .insert(entry_key(id, seq), serde_json::to_vec(entry)?)?;
        Ok(())
    }

    /// The record with its transcript put back together: entries held inline (an older
    /// daemon's), then the appended ones in order.
    fn assemble(&self, value: &[u8]) -> Result<RequestRecord, KgentError> {
        let mut rec: RequestRecord = serde_json::from_slice(value)?;
        for item in self.transcripts.scan_prefix(transcript_prefix(&rec.id)) {
            let (_, v) = item?;
            rec.transcript.push(serde_json::from_slice(&v)?);
        }
        Ok(rec)
    }

    /// Reads from disk: call it off the async workers.
    pub fn get(&self, id: &str) -> Result<RequestRecord, KgentError> {
        match self.requests.get(id.as_bytes())? {
            Some(v) => self.assemble(&v),
            None => Err(KgentError::NotFound(format!(
                "no request {id:?} (kgentctl history lists them)"
            ))),
        }
    }

    /// Newest first. Reads from disk: call it off the async workers.
    pub fn list(&self, limit: usize) -> Result<Vec<RequestRecord>, KgentError> {
        let mut out = Vec::new();
        for item in self.requests.iter().rev().take(limit) {
            let (_, v) = item?;
            out.push(self.assemble(&v)?);
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

    fn entry(i: usize, text_len: usize) -> TranscriptEntry {
        TranscriptEntry {
            kind: if i.is_multiple_of(2) {
                EntryKind::Prompt
            } else {
                EntryKind::Reply
            },
            iteration: i as u32 / 2,
            text: format!("{i:>text_len$}"),
            at_ms: i as u64,
        }
    }

    /// Appends `n` entries and finalises the record the way the agent does.
    async fn record_with(store: &Store, n: usize) -> RequestRecord {
        let mut rec = RequestRecord::new("trace opens", "bpftrace", 0);
        store.put_durable(&rec).await.expect("pending");
        for i in 0..n {
            store
                .append_entry(&rec.id, i as u32, &entry(i, 40))
                .expect("append");
        }
        rec.state = RequestState::NoAnswer;
        rec.outcome = "gave up".into();
        store.put_durable(&rec).await.expect("final");
        rec
    }

    #[tokio::test]
    async fn transcript_entries_are_appended_and_the_record_does_not_grow_with_them() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("open");
        let short = record_with(&store, 1).await;
        let long = record_with(&store, 200).await;
        let header_len = |id: &str| store.requests.get(id).expect("get").expect("kept").len();
        assert_eq!(header_len(&short.id), header_len(&long.id));
        assert_eq!(store.transcripts.len(), 201);
        let read = store.get(&long.id).expect("get");
        assert_eq!(read.state, RequestState::NoAnswer);
        assert_eq!(read.transcript.len(), 200);
        for (i, e) in read.transcript.iter().enumerate() {
            assert_eq!(e.text, entry(i, 40).text);
            assert_eq!(e.kind, entry(i, 40).kind);
        }
        assert_eq!(store.get(&short.id).expect("get").transcript.len(), 1);
    }

    #[tokio::test]
    async fn the_history_keeps_the_newest_records_and_drops_old_ones_with_their_transcripts() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path())
            .expect("open")
            .with_retention(Retention {
                max_records: 3,
                max_age_ms: 0,
            })
            .expect("retention");
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(record_with(&store, 4).await.id);
        }
        let kept: Vec<String> = store
            .list(100)
            .expect("list")
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(kept, [ids[4].clone(), ids[3].clone(), ids[2].clone()]);
        assert_eq!(
            store.transcripts.len(),
            12,
            "the dropped records' entries went too"
        );
        // An old record goes when the next one comes, whatever the count.
        let store = store
            .with_retention(Retention {
                max_records: 0,
                max_age_ms: 60_000,
            })
            .expect("retention");
        let mut old = RequestRecord::new("old", "bpftrace", 0);
        old.id = uuid::Uuid::from_u128(1).to_string();
        old.created_unix_ms = unix_ms() - 120_000;
        old.state = RequestState::Answered;
        store.put_durable(&old).await.expect("put");
        assert!(store.get(&old.id).is_err(), "older than the retention");
        assert_eq!(store.list(100).expect("list").len(), 3);
    }

    /// A record as daemons before appended transcripts wrote it: the transcript inside.
    const OLD_RECORD: &str = r#"{"id":"0190a5c2-7b4e-7cc1-9d2e-3f4a5b6c7d8e","text":"trace opens","target":"bpftrace","caller_uid":1000,"created_unix_ms":1720000000000,"state":"pending","wall_ms":0,"iterations":1,"prompt_tokens":120,"completion_tokens":30,"program":null,"outcome":"","transcript":[{"kind":"prompt","iteration":1,"text":"[user]\ntrace opens","at_ms":3},{"kind":"reply","iteration":1,"text":"tracepoint:syscalls:sys_enter_openat { }","at_ms":900}]}"#;

    #[tokio::test]
    async fn a_record_written_by_an_older_daemon_still_reads_whole() {
        let dir = tempfile::tempdir().expect("tmp");
        let id = "0190a5c2-7b4e-7cc1-9d2e-3f4a5b6c7d8e";
        {
            let db = sled::open(dir.path().join("db")).expect("old database");
            db.open_tree("requests")
                .expect("tree")
                .insert(id, OLD_RECORD)
                .expect("insert");
            db.flush().expect("flush");
        }
        let store = Store::open(dir.path()).expect("open");
        let read = |store: &Store| {
            let rec = store.get(id).expect("get");
            let texts: Vec<String> = rec.transcript.iter().map(|e| e.text.clone()).collect();
            assert_eq!(
                texts,
                [
                    "[user]\ntrace opens",
                    "tracepoint:syscalls:sys_enter_openat { }"
                ]
            );
            assert_eq!(rec.transcript[1].kind, EntryKind::Reply);
            rec
        };
        assert_eq!(read(&store).state, RequestState::Pending);
        // Marking it interrupted rewrites the record; its transcript stays.
        assert_eq!(store.recover_interrupted().expect("recover"), 1);
        assert_eq!(read(&store).state, RequestState::Failed);
        assert_eq!(store.list(10).expect("list")[0].transcript.len(), 2);
    }

    /// Not a timed assertion: prints what recording 200 entries costs the old way (the whole
    /// record rewritten per entry) and the new way (one insert per entry), then the final flush.
    #[tokio::test]
    async fn recording_200_entries_old_and_new() {
        const N: usize = 200;
        const TEXT: usize = 1000;
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("open");

        let mut old = RequestRecord::new("old way", "bpftrace", 0);
        store.put_durable(&old).await.expect("pending");
        let (mut old_bytes, t) = (0, std::time::Instant::now());
        for i in 0..N {
            old.transcript.push(entry(i, TEXT));
            old_bytes += serde_json::to_vec(&old).expect("json").len();
            store.put(&old).expect("rewrite");
        }
        let old_adds = t.elapsed();
        store.put_durable(&old).await.expect("final");
        let old_total = t.elapsed();

        let new = RequestRecord::new("new way", "bpftrace", 0);
        store.put_durable(&new).await.expect("pending");
        let (mut new_bytes, t) = (0, std::time::Instant::now());
        for i in 0..N {
            let e = entry(i, TEXT);
            new_bytes += serde_json::to_vec(&e).expect("json").len();
            store.append_entry(&new.id, i as u32, &e).expect("append");
        }
        let new_adds = t.elapsed();
        store.put_durable(&new).await.expect("final");
        let new_total = t.elapsed();

        assert_eq!(store.get(&old.id).expect("old").transcript.len(), N);
        assert_eq!(store.get(&new.id).expect("new").transcript.len(), N);
        for (way, adds, total, bytes) in [
            ("whole record rewritten", old_adds, old_total, old_bytes),
            ("entry appended", new_adds, new_total, new_bytes),
        ] {
            println!(
                "{N} entries of {TEXT} B, {way} per entry: adds {adds:?} ({:?} each, {} kB \
                 serialised), with the final flush {total:?}",
                adds / N as u32,
                bytes / 1000
            );
        }
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
