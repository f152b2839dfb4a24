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
