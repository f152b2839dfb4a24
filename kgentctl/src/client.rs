//! Connecting to kgentd: over its Unix socket, or over TCP with mutual TLS.
//!
//! On the socket kgentd identifies callers by their peer credentials, so there is nothing to
//! authenticate; over TCP the client certificate is who the caller is. This module only opens
//! the connection and, when that fails, says why in terms of what to do next (start kgentd, fix
//! --socket or --host, join group kgent, check the certificates).

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use kgent_proto::v1::kgent_client::KgentClient;
use tokio::net::UnixStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// How long connecting to a TCP kgentd may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a kgentd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Daemon {
    /// Its Unix socket.
    Unix(PathBuf),
    /// Its `[listen.tcp]` address, with this client's certificate.
    Tls(TlsDaemon),
}

/// A kgentd over TCP: `https://host:port`, the client certificate and key that say who the
/// caller is, and the CA that signed the daemon's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsDaemon {
    pub url: String,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

impl fmt::Display for Daemon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Daemon::Unix(path) => write!(f, "{}", path.display()),
            Daemon::Tls(tls) => write!(f, "{}", tls.url),
        }
    }
}

/// kgentd could not be reached.
#[derive(Debug)]
pub struct Unreachable {
    daemon: Box<Daemon>,
    /// The operating system's reason, when the failure came from connecting to the socket.
    kind: Option<io::ErrorKind>,
    cause: String,
}

impl Unreachable {
    #[cfg(test)]
    pub fn for_test(socket: &str) -> Self {
        Unreachable {
            daemon: Box::new(Daemon::Unix(PathBuf::from(socket))),
            kind: Some(io::ErrorKind::NotFound),
            cause: "No such file or directory (os error 2)".into(),
        }
    }
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let daemon = &self.daemon;
        write!(f, "cannot reach kgentd at {daemon}: {}. ", self.cause)?;
        if let Daemon::Tls(tls) = &**daemon {
            return write!(
                f,
                "Is kgentd listening there ([listen.tcp] in its kgentd.toml)? Is {} signed by \
                 its listen.tcp.client_ca, still valid, and {} its key? Does {} sign the \
                 daemon's certificate, and does that certificate name this host?",
                tls.cert.display(),
                tls.key.display(),
                tls.ca.display()
            );
        }
        match self.kind {
            Some(io::ErrorKind::PermissionDenied) => write!(
                f,
                "Your user may not use this socket: ask an administrator to add you to group \
                 `kgent` (then log in again), or run kgentctl with sudo"
            ),
            _ => write!(
                f,
                "Is kgentd running? Start it with `sudo systemctl start kgentd` (or `sudo kgentd`), \
                 or pass --socket PATH / set KGENT_SOCKET (or --host) if it listens elsewhere"
            ),
        }
    }
}

impl std::error::Error for Unreachable {}

/// Opens a connection to `daemon`. The connection is made now, so an absent daemon is reported
/// here rather than on the first call.
pub async fn connect(daemon: &Daemon) -> Result<KgentClient<Channel>, Unreachable> {
    match daemon {
        Daemon::Unix(socket) => connect_unix(socket, daemon).await,
        Daemon::Tls(tls) => connect_tls(tls, daemon).await,
    }
}

async fn connect_tls(
    tls: &TlsDaemon,
    daemon: &Daemon,
) -> Result<KgentClient<Channel>, Unreachable> {
    let unreachable = |kind: Option<io::ErrorKind>, cause: String| Unreachable {
        daemon: Box::new(daemon.clone()),
        kind,
        cause,
    };
    let read = |what: &str, path: &PathBuf| {
        std::fs::read(path).map_err(|e| {
            unreachable(
                Some(e.kind()),
                format!("cannot read the {what} {}: {e}", path.display()),
            )
        })
    };
    let cert = read("client certificate (--cert)", &tls.cert)?;
    let key = read("client key (--key)", &tls.key)?;
    let ca = read("CA certificate (--ca)", &tls.ca)?;
    let config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .identity(Identity::from_pem(cert, key));
    let endpoint = Endpoint::from_shared(tls.url.clone())
        .and_then(|e| e.tls_config(config))
        .map_err(|error| unreachable(None, error.to_string()))?
        .connect_timeout(CONNECT_TIMEOUT);
    let channel = endpoint.connect().await.map_err(|error| {
        let io_error = io_cause(&error);
        unreachable(
            io_error.map(io::Error::kind),
            io_error.map_or_else(|| chain(&error), io::Error::to_string),
        )
    })?;
    Ok(KgentClient::new(channel))
}

/// An error and its causes on one line.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        text.push_str(": ");
        text.push_str(&current.to_string());
        cause = current.source();
    }
    text
}

async fn connect_unix(
    socket: &std::path::Path,
    daemon: &Daemon,
) -> Result<KgentClient<Channel>, Unreachable> {
    // The URI is required by tonic but never used: the connector below ignores it.
    let endpoint = Endpoint::try_from("http://[::]:50051").map_err(|error| Unreachable {
        daemon: Box::new(daemon.clone()),
        kind: None,
        cause: error.to_string(),
    })?;
    let path = socket.to_path_buf();
    let channel = endpoint
        .connect_with_connector(tower::service_fn(move |_| {
            let path = path.clone();
            async move { Ok::<_, io::Error>(TokioIo::new(UnixStream::connect(path).await?)) }
        }))
        .await
        .map_err(|error| {
            let io_error = io_cause(&error);
            Unreachable {
                daemon: Box::new(daemon.clone()),
                kind: io_error.map(io::Error::kind),
                cause: io_error.map_or_else(|| error.to_string(), io::Error::to_string),
            }
        })?;
    Ok(KgentClient::new(channel))
}

/// The operating system error at the bottom of a transport error, if there is one.
fn io_cause<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a io::Error> {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(io_error) = current.downcast_ref::<io::Error>() {
            return Some(io_error);
        }
        cause = current.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn absent_socket_says_how_to_start_kgentd() {
        let dir = std::env::temp_dir().join(format!("kgentctl-test-{}", std::process::id()));
        let socket = dir.join("absent.sock");
        let error = match connect(&Daemon::Unix(socket.clone())).await {
            Ok(_) => panic!("connected to a socket that does not exist"),
            Err(error) => error,
        };
        assert_eq!(error.kind, Some(io::ErrorKind::NotFound));
        let message = error.to_string();
        assert!(message.contains(&socket.display().to_string()), "{message}");
        assert!(message.contains("sudo kgentd"), "{message}");
        assert!(message.contains("--socket"), "{message}");
    }
}
