//! Who a TCP caller is: the names of the client certificate the TLS handshake verified (signed
//! by `listen.tcp.client_ca`, in its validity period). Owns reading those names and mapping
//! them to a role and a stable identity; it never verifies a certificate (rustls did, before
//! the connection reached the API) and never decides what a role may do (the parent module).
use std::collections::HashMap;
use std::net::IpAddr;

use sha2::{Digest, Sha256};
use x509_parser::extensions::GeneralName;

use crate::config::{CertRolesConfig, Role};

/// `[listen.tcp.roles]`: certificate name → role.
#[derive(Debug, Clone, Default)]
pub struct CertRoles {
    by_name: HashMap<String, Role>,
    default: Option<Role>,
}

impl CertRoles {
    pub fn new(config: &CertRolesConfig) -> Self {
        let mut by_name: HashMap<String, Role> = HashMap::new();
        for (role, names) in [
            (Role::Observer, &config.observer),
            (Role::Operator, &config.operator),
            (Role::Admin, &config.admin),
        ] {
            for name in names {
                let slot = by_name.entry(name.clone()).or_insert(role);
                *slot = (*slot).max(role);
            }
        }
        Self {
            by_name,
            // Admin is granted by name only (the configuration refuses it as a default too).
            default: Some(config.default.min(Role::Operator)),
        }
    }

    /// The highest role of any of `names`, else the default; observer when no TCP listener
    /// is configured.
    pub fn role_of(&self, names: &[String]) -> Role {
        names
            .iter()
            .filter_map(|n| self.by_name.get(n).copied())
            .max()
            .or(self.default)
            .unwrap_or(Role::Observer)
    }
}

/// The names a certificate is known by: its subject common names first, then its subject
/// alternative names (DNS names, URIs, e-mail addresses, IP addresses). Empty for a
/// certificate that cannot be parsed.
pub fn names(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let mut names: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .map(str::to_string)
        .collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(s) | GeneralName::URI(s) | GeneralName::RFC822Name(s) => {
                    names.push(s.to_string())
                }
                GeneralName::IPAddress(bytes) => {
                    if let Some(ip) = ip_address(bytes) {
                        names.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    names.dedup();
    names
}

fn ip_address(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

/// The uid a certificate holder's requests and jobs are recorded under: derived from its
/// identity (stable across connections and restarts), always in 2^31..2^32-1, a range Linux
/// distributions assign to no user (systemd reserves it), so it is never root, never a local
/// user and never the "unknown caller" uid (u32::MAX).
pub fn identity_uid(identity: &str) -> u32 {
    let digest = Sha256::digest(identity.as_bytes());
    let word = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    0x8000_0000 | (word & 0x7FFF_FFFE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_the_highest_role_and_admin_needs_a_name() {
        let config = CertRolesConfig {
            observer: vec!["dash".into()],
            operator: vec!["oncall".into(), "dash".into()],
            admin: vec!["fleet-admin".into()],
            default: Role::Admin,
        };
        let roles = CertRoles::new(&config);
        assert_eq!(roles.role_of(&["dash".into()]), Role::Operator);
        assert_eq!(
            roles.role_of(&["x".into(), "fleet-admin".into()]),
            Role::Admin
        );
        assert_eq!(
            roles.role_of(&["stranger".into()]),
            Role::Operator,
            "a default of admin is capped: admin is granted by name only"
        );
        assert_eq!(
            CertRoles::default().role_of(&["fleet-admin".into()]),
            Role::Observer
        );
    }

    #[test]
    fn identity_uids_are_stable_and_never_a_user() {
        for id in ["a", "b", "fleet-admin", ""] {
            let uid = identity_uid(id);
            assert_eq!(uid, identity_uid(id));
            assert!(uid >= 0x8000_0000 && uid != u32::MAX && uid != 0);
        }
        assert_ne!(identity_uid("a"), identity_uid("b"));
    }

    #[test]
    fn garbage_is_no_name() {
        assert!(names(b"not a certificate").is_empty());
        assert!(names(&[]).is_empty());
    }
}
