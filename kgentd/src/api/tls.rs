//! The API over TCP with mutual TLS (`[listen.tcp]`): binding the port, the TLS handshake of
//! every connection (a client certificate signed by `client_ca` is required: no certificate, no
//! connection), and reading the certificate files again on SIGHUP without dropping the
//! connections already open. A failed handshake is logged with what the client must fix
//! (expired, unknown CA, no certificate). Who a verified client is and what it may do is
//! [`authz`](crate::authz)'s; this module only lets verified connections through.
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, CertificateError, RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;

use crate::config::TcpListenConfig;
use crate::error::KgentError;

/// Longest a client may take to finish its handshake before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS settings built from `[listen.tcp]`'s files, replaced whole on reload.
pub struct Certificates {
    files: TcpListenConfig,
    current: RwLock<Arc<ServerConfig>>,
}

impl Certificates {
    /// Reads the server certificate, its key and the client CA; any of them missing, unreadable
    /// or inconsistent (a key that does not match the certificate) is an error naming the file.
    pub fn load(files: &TcpListenConfig) -> Result<Self, KgentError> {
        Ok(Self {
            files: files.clone(),
            current: RwLock::new(Arc::new(server_config(files)?)),
        })
    }

    /// Reads the files again; on an error the previous settings stay in force.
    pub fn reload(&self) -> Result<(), KgentError> {
        let fresh = Arc::new(server_config(&self.files)?);
        let mut current = self
            .current
            .write()
            .map_err(|_| KgentError::Internal("TLS settings lock poisoned".into()))?;
        *current = fresh;
        Ok(())
    }

    fn acceptor(&self) -> Option<TlsAcceptor> {
        self.current
            .read()
            .ok()
            .map(|c| TlsAcceptor::from(c.clone()))
    }
}

fn tls_error(file: &std::path::Path, what: &str, e: impl std::fmt::Display) -> KgentError {
    KgentError::Config(format!(
        "listen.tcp: cannot use {} as the {what}: {e}",
        file.display()
    ))
}

fn server_config(files: &TcpListenConfig) -> Result<ServerConfig, KgentError> {
    let provider: Arc<CryptoProvider> = Arc::new(ring::default_provider());
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| tls_error(&files.cert, "server certificate (PEM)", e))?;
    if chain.is_empty() {
        return Err(tls_error(
            &files.cert,
            "server certificate (PEM)",
            "it holds no certificate",
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| tls_error(&files.key, "server key (PEM)", e))?;
    let mut roots = RootCertStore::empty();
    let cas: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.client_ca)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| tls_error(&files.client_ca, "client CA (PEM)", e))?;
    for ca in cas {
        roots
            .add(ca)
            .map_err(|e| tls_error(&files.client_ca, "client CA", e))?;
    }
    if roots.is_empty() {
        return Err(tls_error(
            &files.client_ca,
            "client CA (PEM)",
            "it holds no certificate",
        ));
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| tls_error(&files.client_ca, "client CA", e))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| KgentError::Config(format!("listen.tcp: TLS versions: {e}")))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| {
            KgentError::Config(format!(
                "listen.tcp: the certificate {} and the key {} do not go together: {e}",
                files.cert.display(),
                files.key.display()
            ))
        })?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Verified connections, for `serve_with_incoming`.
pub type Incoming = ReceiverStream<Result<TlsStream<TcpStream>, io::Error>>;

/// Binds `[listen.tcp] address` and starts accepting: each connection's handshake runs on its
/// own task, and only the verified ones are yielded. The accept task ends when the returned
/// stream is dropped.
pub async fn listen(
    certificates: Arc<Certificates>,
) -> Result<(SocketAddr, Incoming, tokio::task::JoinHandle<()>), KgentError> {
    let address = certificates.files.address.clone();
    let listener = TcpListener::bind(&address)
        .await
        .map_err(|e| KgentError::io(format!("listen.tcp: cannot listen on {address}"), e))?;
    let local = listener.local_addr()?;
    let (tx, rx) = mpsc::channel(64);
    let task = tokio::spawn(accept(listener, certificates, tx));
    Ok((local, ReceiverStream::new(rx), task))
}

async fn accept(
    listener: TcpListener,
    certificates: Arc<Certificates>,
    tx: mpsc::Sender<Result<TlsStream<TcpStream>, io::Error>>,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("listen.tcp: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = tx.closed() => return,
        };
        let Some(acceptor) = certificates.acceptor() else {
            tracing::error!("listen.tcp: TLS settings unavailable; refusing {peer}");
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => {
                    let _ = tx.send(Ok(tls)).await;
                }
                Ok(Err(e)) => tracing::warn!(
                    target: "kgent::audit",
                    peer = %peer,
                    allowed = false,
                    "TLS connection from {peer} refused: {}",
                    handshake_failure(&e)
                ),
                Err(_) => tracing::warn!(
                    peer = %peer,
                    "TLS connection from {peer} dropped: no handshake within {} s",
                    HANDSHAKE_TIMEOUT.as_secs()
                ),
            }
        });
    }
}

/// Why a handshake failed, in terms of what the client must fix.
fn handshake_failure(e: &io::Error) -> String {
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return e.to_string();
    };
    match tls {
        rustls::Error::NoCertificatesPresented => "the client presented no certificate (a client certificate signed by listen.tcp.client_ca is required)".into(),
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "the client certificate has expired; issue it a new one".into(),
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => "the client certificate is not valid yet (check both clocks)".into(),
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the client certificate is not signed by listen.tcp.client_ca".into()
        }
        rustls::Error::InvalidCertificate(CertificateError::Revoked) => {
            "the client certificate is revoked".into()
        }
        rustls::Error::AlertReceived(alert) => format!(
            "the client refused the connection ({alert:?}): does it trust the CA that signed this server's certificate, and name this host as the certificate does?"
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &std::path::Path) -> TcpListenConfig {
        TcpListenConfig {
            address: "127.0.0.1:0".into(),
            cert: dir.join("server.crt"),
            key: dir.join("server.key"),
            client_ca: dir.join("ca.crt"),
            roles: Default::default(),
        }
    }

    #[test]
    fn missing_files_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = match Certificates::load(&files(dir.path())) {
            Ok(_) => panic!("loaded certificates that do not exist"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("server.crt"), "{err}");
    }

    /// Writes a CA, and a server certificate it signs, into `dir` (as `files` names them).
    fn write_certificates(dir: &std::path::Path) -> rcgen::KeyPair {
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).expect("ca");
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .expect("params")
            .signed_by(&key, &issuer)
            .expect("sign");
        std::fs::write(dir.join("ca.crt"), ca_cert.pem()).expect("write");
        std::fs::write(dir.join("server.crt"), cert.pem()).expect("write");
        std::fs::write(dir.join("server.key"), key.serialize_pem()).expect("write");
        key
    }

    #[test]
    fn a_key_that_does_not_match_the_certificate_is_refused_and_a_reload_keeps_the_old() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_certificates(dir.path());
        let certificates = Certificates::load(&files(dir.path())).expect("a matching pair loads");
        let other = rcgen::KeyPair::generate().expect("key");
        std::fs::write(dir.path().join("server.key"), other.serialize_pem()).expect("write");
        let err = certificates
            .reload()
            .expect_err("a key of another certificate")
            .to_string();
        assert!(err.contains("do not go together"), "{err}");
        assert!(
            certificates.acceptor().is_some(),
            "the previous settings stay"
        );
    }

    #[test]
    fn expiry_is_said_plainly() {
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::Expired),
        );
        assert!(handshake_failure(&e).contains("expired"));
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::NoCertificatesPresented,
        );
        assert!(handshake_failure(&e).contains("no certificate"));
    }
}
