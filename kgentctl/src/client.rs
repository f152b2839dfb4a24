//! Connecting to kgentd over its Unix socket.
//!
//! kgentd identifies callers by the socket's peer credentials, so there is nothing to
//! authenticate here: this module only opens the connection and, when that fails, says why in
//! terms of what to do next (start kgentd, fix --socket, join group kgent).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use kgent_proto::v1::kgent_client::KgentClient;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint};

/// kgentd could not be reached on its socket.
#[derive(Debug)]
pub struct Unreachable {
    socket: PathBuf,
    /// The operating system's reason, when the failure came from connecting to the socket.
    kind: Option<io::ErrorKind>,
    cause: String,
}

impl Unreachable {
    #[cfg(test)]
    pub fn for_test(socket: &str) -> Self {
        Unreachable {
            socket: PathBuf::from(socket),
            kind: Some(io::ErrorKind::NotFound),
            cause: "No such file or directory (os error 2)".into(),
        }
    }
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let socket = self.socket.display();
        write!(f, "cannot reach kgentd at {socket}: {}. ", self.cause)?;
        match self.kind {
            Some(io::ErrorKind::PermissionDenied) => write!(
                f,
                "Your user may not use this socket: ask an administrator to add you to group \
                 `kgent` (then log in again), or run kgentctl with sudo"
            ),
            _ => write!(
                f,
                "Is kgentd running? Start it with `sudo systemctl start kgentd` (or `sudo kgentd`), \
                 or pass --socket PATH / set KGENT_SOCKET if it listens elsewhere"
            ),
        }
    }
}

impl std::error::Error for Unreachable {}

/// Opens a connection to kgentd on `socket`. The connection is made now, so an absent daemon is
/// reported here rather than on the first call.
pub async fn connect(socket: &Path) -> Result<KgentClient<Channel>, Unreachable> {
    // The URI is required by tonic but never used: the connector below ignores it.
    let endpoint = Endpoint::try_from("http://[::]:50051").map_err(|error| Unreachable {
        socket: socket.to_path_buf(),
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
                socket: socket.to_path_buf(),
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
        let error = match connect(&socket).await {
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
