//! The record of one request as the agent writes it: pending and flushed before any work, one
//! appended transcript entry per prompt, reply, check or note, and the final state flushed once
//! at the end. It owns how a request is written, not what the loop decides; it never fails the
//! request (a transcript entry that cannot be written is logged and skipped).
use std::time::Instant;

use super::Usage;
use crate::error::KgentError;
use crate::store::{EntryKind, RequestRecord, RequestState, Store, TranscriptEntry};

/// Keeps the request's record and writes it as the loop goes.
pub(super) struct Recorder<'a> {
    store: &'a Store,
    /// The record without its transcript (which goes to the store entry by entry).
    pub(super) record: RequestRecord,
    pub(super) started: Instant,
    /// The sequence number of the next transcript entry.
    next_entry: u32,
}

impl<'a> Recorder<'a> {
    /// Writes `record` (pending) durably before anything else happens.
    pub(super) async fn start(store: &'a Store, record: RequestRecord) -> Result<Self, KgentError> {
        let started = Instant::now();
        store.put_durable(&record).await?;
        Ok(Self {
            store,
            record,
            started,
            next_entry: 0,
        })
    }

    /// Appends one entry to the transcript: one small insert, no flush, so it may run on the
    /// async workers (the record itself is not rewritten).
    pub(super) fn add(&mut self, kind: EntryKind, iteration: u32, text: impl Into<String>) {
        let entry = TranscriptEntry {
            kind,
            iteration,
            text: text.into(),
            at_ms: self.started.elapsed().as_millis() as u64,
        };
        if let Err(e) = self
            .store
            .append_entry(&self.record.id, self.next_entry, &entry)
        {
            tracing::warn!(request = %self.record.id, "cannot record transcript: {e}");
        }
        self.next_entry += 1;
    }

    /// Writes the final state durably (with every entry appended before it).
    pub(super) async fn finish(&mut self, state: RequestState, outcome: &str) {
        self.record.state = state;
        self.record.outcome = outcome.to_owned();
        self.record.wall_ms = self.started.elapsed().as_millis() as u64;
        if let Err(e) = self.store.put_durable(&self.record).await {
            tracing::error!(request = %self.record.id, "cannot record the outcome: {e}");
        }
    }

    pub(super) fn usage(&self) -> Usage {
        Usage {
            prompt_tokens: self.record.prompt_tokens,
            completion_tokens: self.record.completion_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_long_transcript_reads_back_whole_and_in_order_after_a_reopen() {
        let dir = tempfile::tempdir().expect("tmp");
        let id = {
            let store = Store::open(dir.path()).expect("open");
            let mut rec = Recorder::start(&store, RequestRecord::new("trace opens", "bpftrace", 0))
                .await
                .expect("start");
            // Past 256 entries: a sequence number stored little-endian would sort out of order.
            for i in 0..300u32 {
                rec.add(EntryKind::Note, i / 10, format!("entry {i}"));
            }
            rec.finish(RequestState::NoAnswer, "gave up").await;
            rec.record.id.clone()
        };
        let store = Store::open(dir.path()).expect("reopen");
        let rec = store.get(&id).expect("get");
        assert_eq!(rec.state, RequestState::NoAnswer);
        let texts: Vec<&str> = rec.transcript.iter().map(|e| e.text.as_str()).collect();
        let want: Vec<String> = (0..300).map(|i| format!("entry {i}")).collect();
        assert_eq!(texts, want);
        assert_eq!(rec.transcript[299].iteration, 29);
        let listed = store.list(1).expect("list");
        assert_eq!(listed[0].transcript.len(), 300);
    }
}
