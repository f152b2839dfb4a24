//! Verified answers kept for reuse: one record per (normalized request, kernel build, target),
//! in the `answers` tree. It stores and lists them; deciding when one may be reused (and
//! re-checking it first) is the reuse module's, above this one.
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Store;
use crate::error::KgentError;

/// What identifies a kernel build for reuse: the same BTF, the same bpftrace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelBuild {
    /// SHA-256 of /sys/kernel/btf/vmlinux (hex).
    pub btf_sha256: String,
    pub bpftrace_version: String,
    /// For people reading an export; the BTF hash is what decides.
    pub kernel_release: String,
}

/// A program that passed every check of a request on a kernel build, and that evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedAnswer {
    /// The request as [`normalize`] wrote it.
    pub intent: String,
    pub build: KernelBuild,
    pub target: String,
    pub program: String,
    pub explanation: String,
    /// The checks it passed when it was first answered, "name: detail" each.
    pub evidence: Vec<String>,
    /// The request that first produced it (on the host that did).
    pub first_request: String,
    pub created_unix_ms: u64,
}

/// The request as the reuse key sees it: lower case, one space between words, no trailing
/// punctuation. Two wordings that differ only there are the same request.
pub fn normalize(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
        .trim_end_matches(['.', '?', '!', ' '])
        .to_owned()
}

impl VerifiedAnswer {
    /// The key of `intent` on `build` for `target`.
    pub fn key(intent: &str, build: &KernelBuild, target: &str) -> Vec<u8> {
        let mut h = Sha256::new();
        for part in [intent, &build.btf_sha256, &build.bpftrace_version, target] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.finalize().to_vec()
    }

    fn own_key(&self) -> Vec<u8> {
        Self::key(&self.intent, &self.build, &self.target)
    }
}

impl Store {
    pub fn verified_answer(&self, key: &[u8]) -> Result<Option<VerifiedAnswer>, KgentError> {
        match self.answers.get(key)? {
            Some(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            None => Ok(None),
        }
    }

    /// Keeps `answer` (replacing one of the same key) and flushes it.
    pub async fn keep_verified_answer(&self, answer: &VerifiedAnswer) -> Result<(), KgentError> {
        self.answers
            .insert(answer.own_key(), serde_json::to_vec(answer)?)?;
        self.db.flush_async().await?;
        Ok(())
    }

    pub fn forget_verified_answer(&self, key: &[u8]) -> Result<(), KgentError> {
        self.answers.remove(key)?;
        Ok(())
    }

    /// Every kept answer (records this version cannot read are skipped).
    pub fn verified_answers(&self) -> Result<Vec<VerifiedAnswer>, KgentError> {
        let mut out = Vec::new();
        for item in self.answers.iter() {
            let (_, value) = item?;
            if let Ok(a) = serde_json::from_slice(&value) {
                out.push(a);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(btf: &str) -> KernelBuild {
        KernelBuild {
            btf_sha256: btf.into(),
            bpftrace_version: "v0.21".into(),
            kernel_release: "6.18".into(),
        }
    }

    #[test]
    fn wording_noise_is_one_request_and_builds_are_apart() {
        assert_eq!(normalize("  Count  Opens per PID? "), "count opens per pid");
        let a = VerifiedAnswer::key("count opens", &build("a"), "bpftrace");
        assert_eq!(
            a,
            VerifiedAnswer::key("count opens", &build("a"), "bpftrace")
        );
        assert_ne!(
            a,
            VerifiedAnswer::key("count opens", &build("b"), "bpftrace")
        );
        assert_ne!(a, VerifiedAnswer::key("count opens", &build("a"), "c"));
    }

    #[tokio::test]
    async fn kept_answers_read_back_and_are_forgotten() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("open");
        let answer = VerifiedAnswer {
            intent: "count opens".into(),
            build: build("a"),
            target: "bpftrace".into(),
            program: "tracepoint:syscalls:sys_enter_openat { @ = count(); }".into(),
            explanation: String::new(),
            evidence: vec!["bpftrace-load: pass".into()],
            first_request: "r1".into(),
            created_unix_ms: 1,
        };
        store.keep_verified_answer(&answer).await.expect("keep");
        let key = VerifiedAnswer::key("count opens", &build("a"), "bpftrace");
        assert_eq!(
            store.verified_answer(&key).expect("get"),
            Some(answer.clone())
        );
        assert_eq!(store.verified_answers().expect("list"), vec![answer]);
        store.forget_verified_answer(&key).expect("forget");
        assert_eq!(store.verified_answer(&key).expect("get"), None);
    }
}
