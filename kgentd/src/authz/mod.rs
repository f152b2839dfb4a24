//! Who is calling and what they may do. The caller is the peer of the Unix socket (SO_PEERCRED);
//! nothing in a request can claim an identity. Socket permissions decide who may connect at all
//! (root and the `kgent` group); this policy decides what each caller may do once connected:
//!
//! - anyone connected may ask, see the host, and read their own requests;
//! - a program may be run by root, or by the caller whose request produced it (a verified answer);
//! - arbitrary program text may be run by root only;
//! - root sees every request; others see their own.
use tonic::transport::server::UdsConnectInfo;

use crate::error::KgentError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// None when the transport carries no credentials (never trusted with anything privileged).
    pub uid: Option<u32>,
    pub pid: Option<i32>,
}

impl Caller {
    pub fn from_request<T>(req: &tonic::Request<T>) -> Self {
        let cred = req
            .extensions()
            .get::<UdsConnectInfo>()
            .and_then(|i| i.peer_cred);
        Self {
            uid: cred.map(|c| c.uid()),
            pid: cred.and_then(|c| c.pid()),
        }
    }

    pub fn is_root(&self) -> bool {
        self.uid == Some(0)
    }

    /// The uid recorded with requests; unknown callers are recorded as `u32::MAX`.
    pub fn recorded_uid(&self) -> u32 {
        self.uid.unwrap_or(u32::MAX)
    }

    pub fn may_read(&self, owner_uid: u32) -> Result<(), KgentError> {
        if self.is_root() || self.uid == Some(owner_uid) {
            Ok(())
        } else {
            Err(KgentError::PermissionDenied(format!(
                "this request belongs to uid {owner_uid}"
            )))
        }
    }

    pub fn may_run_answer(&self, owner_uid: u32) -> Result<(), KgentError> {
        if self.is_root() || self.uid == Some(owner_uid) {
            Ok(())
        } else {
            Err(KgentError::PermissionDenied(format!(
                "only root or the uid that asked for it ({owner_uid}) may run this answer"
            )))
        }
    }

    pub fn may_run_source(&self) -> Result<(), KgentError> {
        if self.is_root() {
            Ok(())
        } else {
            Err(KgentError::PermissionDenied(
                "running arbitrary program text needs root; ask for it with `kgentctl ask` and run the verified answer with `kgentctl run --id`".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(uid: Option<u32>) -> Caller {
        Caller { uid, pid: None }
    }

    #[test]
    fn policy() {
        let root = caller(Some(0));
        let alice = caller(Some(1000));
        let unknown = caller(None);
        assert!(root.may_run_source().is_ok());
        assert!(alice.may_run_source().is_err());
        assert!(alice.may_run_answer(1000).is_ok());
        assert!(alice.may_run_answer(1001).is_err());
        assert!(root.may_read(1001).is_ok());
        assert!(alice.may_read(1001).is_err());
        assert!(
            unknown.may_run_answer(u32::MAX).is_err(),
            "an unknown caller owns nothing"
        );
        assert!(unknown.may_run_source().is_err());
    }
}
