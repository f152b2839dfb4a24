//! Who is calling and what they may do. The caller is the peer of the Unix socket (SO_PEERCRED),
//! or, over TCP, the holder of the client certificate the TLS handshake verified
//! ([`certificate`]); nothing in a request can claim an identity. Socket permissions (and, over
//! TCP, the client CA) decide who may connect at all (root and the `kgent` group); the caller's
//! role decides what it may do once connected:
//!
//! - `observer`: ask, see the host, read its own requests and jobs;
//! - `operator`: also run the verified answers of its own requests, detached too, within the
//!   operator's duration limit (`roles.operator_max_run_seconds`);
//! - `admin` (root always is): arbitrary program text, network and cgroup program types, the
//!   builtins and helpers the program policy (`crate::policy`) keeps from the others; sees
//!   every request and job.
//!
//! Unix groups map to roles in `[roles]` of kgentd.toml; the highest role of any of the caller's
//! groups (its primary group from the peer credentials and its supplementary groups from the
//! group database) wins; a caller in none gets `roles.default`. Every decision is an audit
//! event (target `kgent::audit`, structured fields: journald keeps them as fields). This module
//! decides; it never enforces a program's content (that is `crate::policy`).
//!
//! A TCP caller's certificate names map to roles in `[listen.tcp.roles]`; it is never root, and
//! admin only when one of its names is listed as admin. Its requests, jobs and quotas are kept
//! under a uid derived from its identity ([`certificate::identity_uid`]), outside the range of
//! local users.
pub mod certificate;

use std::collections::HashMap;
use std::sync::Arc;

use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo, UdsConnectInfo};

pub use certificate::CertRoles;

use crate::config::RolesConfig;
use crate::error::KgentError;

pub use crate::config::Role;

/// `[roles]` resolved against this host's group database: gid → role.
#[derive(Debug, Clone)]
pub struct Roles {
    by_gid: HashMap<u32, Role>,
    default: Role,
    operator_max_run_seconds: u32,
    admin_max_run_seconds: u32,
    certificates: CertRoles,
}

impl Roles {
    /// Resolves the group names (or numeric gids) of `config`; a group this host does not have
    /// is reported and grants nothing.
    pub fn resolve(config: &RolesConfig, max_run_seconds: u32) -> Self {
        let mut by_gid: HashMap<u32, Role> = HashMap::new();
        for (role, groups) in [
            (Role::Observer, &config.observer),
            (Role::Operator, &config.operator),
            (Role::Admin, &config.admin),
        ] {
            for group in groups {
                match group_gid(group) {
                    Some(gid) => {
                        let slot = by_gid.entry(gid).or_insert(role);
                        *slot = (*slot).max(role);
                    }
                    None => tracing::warn!(
                        group = %group,
                        role = role.as_str(),
                        "roles: no group {group:?} on this host; it grants nothing"
                    ),
                }
            }
        }
        Self {
            by_gid,
            default: config.default,
            operator_max_run_seconds: config.operator_max_run_seconds.min(max_run_seconds),
            admin_max_run_seconds: max_run_seconds,
            certificates: CertRoles::default(),
        }
    }

    /// With the roles of TCP callers' certificates (`[listen.tcp.roles]`).
    pub fn with_certificates(mut self, certificates: CertRoles) -> Self {
        self.certificates = certificates;
        self
    }

    /// The role of a peer: admin for root, else the highest role of its groups, else the
    /// default. A peer without credentials gets nothing beyond the default's reads.
    pub fn role_of(&self, uid: Option<u32>, gid: Option<u32>) -> Role {
        let Some(uid) = uid else {
            return Role::Observer;
        };
        if uid == 0 {
            return Role::Admin;
        }
        let mut gids: Vec<u32> = gid.into_iter().collect();
        gids.extend(supplementary_gids(uid));
        gids.iter()
            .filter_map(|g| self.by_gid.get(g).copied())
            .max()
            .unwrap_or(self.default)
    }

    /// The longest run a role may start, in seconds (0 for a role that may not run).
    pub fn max_run_seconds(&self, role: Role) -> u32 {
        match role {
            Role::Observer => 0,
            Role::Operator => self.operator_max_run_seconds,
            Role::Admin => self.admin_max_run_seconds,
        }
    }
}

/// A group name or a numeric gid.
fn group_gid(group: &str) -> Option<u32> {
    if let Ok(gid) = group.parse::<u32>() {
        return Some(gid);
    }
    nix::unistd::Group::from_name(group)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
}

/// The supplementary groups of `uid`'s user in the group database (none for a uid without a
/// user); getgrouplist(3) includes the user's primary group.
pub fn supplementary_gids(uid: u32) -> Vec<u32> {
    let Ok(Some(user)) = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) else {
        return Vec::new();
    };
    let Ok(name) = std::ffi::CString::new(user.name) else {
        return Vec::new();
    };
    nix::unistd::getgrouplist(&name, user.gid)
        .map(|gs| gs.into_iter().map(|g| g.as_raw()).collect())
        .unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// None when the transport carries no credentials (never trusted with anything privileged).
    pub uid: Option<u32>,
    pub pid: Option<i32>,
    pub role: Role,
    /// A TCP caller's identity: the first name of its client certificate.
    pub certificate: Option<Arc<str>>,
}

impl Caller {
    pub fn from_request<T>(req: &tonic::Request<T>, roles: &Roles) -> Self {
        if let Some(tls) = req.extensions().get::<TlsConnectInfo<TcpConnectInfo>>() {
            return Self::from_certificate(tls, roles);
        }
        let cred = req
            .extensions()
            .get::<UdsConnectInfo>()
            .and_then(|i| i.peer_cred);
        let uid = cred.map(|c| c.uid());
        Self {
            uid,
            pid: cred.and_then(|c| c.pid()),
            role: roles.role_of(uid, cred.map(|c| c.gid())),
            certificate: None,
        }
    }

    /// A TCP caller: the leaf of the verified chain names it. A connection without a parsable
    /// certificate (the TLS layer lets none through) is an unknown observer.
    fn from_certificate(tls: &TlsConnectInfo<TcpConnectInfo>, roles: &Roles) -> Self {
        let names = tls
            .peer_certs()
            .and_then(|chain| chain.first().map(|leaf| certificate::names(leaf)))
            .unwrap_or_default();
        let Some(identity) = names.first() else {
            return Self {
                uid: None,
                pid: None,
                role: Role::Observer,
                certificate: None,
            };
        };
        Self {
            uid: Some(certificate::identity_uid(identity)),
            pid: None,
            role: roles.certificates.role_of(&names),
            certificate: Some(identity.as_str().into()),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin && self.uid.is_some()
    }

    /// The uid recorded with requests; unknown callers are recorded as `u32::MAX`.
    pub fn recorded_uid(&self) -> u32 {
        self.uid.unwrap_or(u32::MAX)
    }

    /// Records a decision in the audit trail and passes it on.
    pub fn audit<T>(&self, action: &str, decision: Result<T, KgentError>) -> Result<T, KgentError> {
        match &decision {
            Ok(_) => tracing::info!(
                target: "kgent::audit",
                uid = self.recorded_uid(),
                pid = self.pid.unwrap_or(0),
                role = self.role.as_str(),
                certificate = self.certificate.as_deref().unwrap_or(""),
                action,
                allowed = true,
                "{action}: allowed"
            ),
            Err(e) => tracing::warn!(
                target: "kgent::audit",
                uid = self.recorded_uid(),
                pid = self.pid.unwrap_or(0),
                role = self.role.as_str(),
                certificate = self.certificate.as_deref().unwrap_or(""),
                action,
                allowed = false,
                reason = %e,
                "{action}: refused: {e}"
            ),
        }
        decision
    }

    pub fn may_read(&self, owner_uid: u32) -> Result<(), KgentError> {
        if self.is_admin() || self.uid == Some(owner_uid) {
            Ok(())
        } else {
            Err(KgentError::PermissionDenied(format!(
                "this request belongs to uid {owner_uid}"
            )))
        }
    }

    pub fn may_run_answer(&self, owner_uid: u32) -> Result<(), KgentError> {
        if self.is_admin() {
            return Ok(());
        }
        if self.role < Role::Operator {
            return Err(KgentError::PermissionDenied(format!(
                "running a program needs the operator role; uid {} has the {} role (an admin grants it: [roles] operator in kgentd.toml)",
                self.recorded_uid(),
                self.role.as_str()
            )));
        }
        if self.uid == Some(owner_uid) {
            Ok(())
        } else {
            Err(KgentError::PermissionDenied(format!(
                "only an admin or the uid that asked for it ({owner_uid}) may run this answer"
            )))
        }
    }

    pub fn may_run_source(&self) -> Result<(), KgentError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(KgentError::PermissionDenied(format!(
                "running arbitrary program text needs root or the admin role (uid {} has the {} role); ask for it with `kgentctl ask` and run the verified answer with `kgentctl run --id`",
                self.recorded_uid(),
                self.role.as_str()
            )))
        }
    }

    /// Exporting verified answers shows every user's requests; importing them offers programs
    /// to every user (each checked again before use): admins only.
    pub fn may_move_answers(&self) -> Result<(), KgentError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(KgentError::PermissionDenied(format!(
                "moving verified answers between hosts needs root or the admin role (uid {} has the {} role)",
                self.recorded_uid(),
                self.role.as_str()
            )))
        }
    }

    pub fn may_stop(&self, owner_uid: u32) -> Result<(), KgentError> {
        if self.is_admin() || self.uid == Some(owner_uid) {
            Ok(())
        } else {
            Err(KgentError::PermissionDenied(format!(
                "this job belongs to uid {owner_uid}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(uid: Option<u32>, role: Role) -> Caller {
        Caller {
            uid,
            pid: None,
            role,
            certificate: None,
        }
    }

    #[test]
    fn policy() {
        let root = caller(Some(0), Role::Admin);
        let alice = caller(Some(1000), Role::Operator);
        let bob = caller(Some(1001), Role::Observer);
        let unknown = caller(None, Role::Admin);
        assert!(root.may_run_source().is_ok());
        assert!(alice.may_run_source().is_err());
        assert!(alice.may_run_answer(1000).is_ok());
        assert!(alice.may_run_answer(1001).is_err());
        assert!(
            bob.may_run_answer(1001).is_err(),
            "an observer runs nothing, not even its own answers"
        );
        assert!(root.may_read(1001).is_ok());
        assert!(alice.may_read(1001).is_err());
        assert!(
            unknown.may_run_answer(u32::MAX).is_err(),
            "an unknown caller owns nothing"
        );
        assert!(unknown.may_run_source().is_err());
    }

    #[test]
    fn groups_map_to_the_highest_role_and_root_is_admin() {
        let config = RolesConfig {
            observer: vec!["100".into()],
            operator: vec!["100".into(), "no-such-group-kgent".into()],
            admin: vec![],
            default: Role::Observer,
            operator_max_run_seconds: 600,
        };
        let roles = Roles::resolve(&config, 300);
        assert_eq!(roles.role_of(Some(0), Some(0)), Role::Admin);
        assert_eq!(roles.role_of(Some(4242), Some(100)), Role::Operator);
        assert_eq!(roles.role_of(Some(4242), Some(4242)), Role::Observer);
        assert_eq!(roles.role_of(None, Some(100)), Role::Observer);
        assert_eq!(
            roles.max_run_seconds(Role::Operator),
            300,
            "an operator's maximum never exceeds limits.max_run_seconds"
        );
        assert_eq!(roles.max_run_seconds(Role::Observer), 0);
    }
}
