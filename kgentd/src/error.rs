//! The daemon's one error type. Each variant says what went wrong and, where it can, what to do;
//! `api` maps variants to gRPC status codes.
//!
//! An error that came from somewhere else keeps it as its `source()`: sled's, the file system's
//! and serde's errors by type; the daemon's own module errors (the model backend's, clang's, the
//! loader's) boxed, because every module uses this one and it must use none of them (their `From`
//! conversions live beside them). A variant's message also carries its source's words, so a
//! status message or a recorded outcome is complete on its own.
use std::path::PathBuf;

use thiserror::Error;

/// A source error from one of the daemon's own modules.
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, Error)]
pub enum KgentError {
    #[error("invalid request: {0}")]
    InvalidArgument(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("busy: {0}")]
    ResourceExhausted(String),
    /// The model backend cannot be used (`llm::LlmError`): a configuration that cannot work, a
    /// missing model file, an endpoint that is down.
    #[error("model unavailable: {0}")]
    Model(#[source] Source),
    /// clang or the kernel refused the caller's program (`toolchain::clang::CompileError`,
    /// `exec::loader::LoadError`); the message is their diagnostic: the program needs a fix.
    #[error("{0}")]
    ProgramRejected(#[source] Source),
    /// A tool kgent runs is missing or failed, or the host lacks what a job needs (bpffs for
    /// pins): the host needs setup.
    #[error("{0}")]
    HostSetup(#[source] Source),
    #[error("configuration: {0}")]
    Config(String),
    #[error("store: {0}")]
    Store(#[from] sled::Error),
    #[error("store: cannot open the database in {}: {source} (is another kgentd running with this state dir?)", dir.display())]
    StoreOpen {
        dir: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("store: corrupt record: {0}")]
    Record(#[from] serde_json::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A file or socket operation failed; `context` says which, on what.
    #[error("{context}: {source}")]
    IoContext {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The client went away before the work was done.
    #[error("cancelled: the client went away")]
    Cancelled,
    #[error("internal: {0}")]
    Internal(String),
}

impl KgentError {
    /// An io error with what was being done, e.g. `("cannot listen on /run/kgent.sock", e)`.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::IoContext {
            context: context.into(),
            source,
        }
    }
}

impl From<KgentError> for tonic::Status {
    fn from(e: KgentError) -> Self {
        let msg = e.to_string();
        match e {
            KgentError::InvalidArgument(_) | KgentError::ProgramRejected(_) => {
                Self::invalid_argument(msg)
            }
            KgentError::NotFound(_) => Self::not_found(msg),
            KgentError::PermissionDenied(_) => Self::permission_denied(msg),
            KgentError::ResourceExhausted(_) => Self::resource_exhausted(msg),
            KgentError::Model(_) => Self::unavailable(msg),
            KgentError::Cancelled => Self::cancelled(msg),
            KgentError::HostSetup(_)
            | KgentError::Config(_)
            | KgentError::Store(_)
            | KgentError::StoreOpen { .. }
            | KgentError::Record(_)
            | KgentError::Io(_)
            | KgentError::IoContext { .. }
            | KgentError::Internal(_) => Self::internal(msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_store_error_keeps_sleds_error_as_its_source() {
        let sled_error = sled::Error::Unsupported("a test".into());
        let e = KgentError::from(sled_error);
        let source = e.source().expect("a source");
        assert!(source.downcast_ref::<sled::Error>().is_some());
        assert!(e.to_string().contains("a test"), "{e}");
        assert_eq!(tonic::Status::from(e).code(), tonic::Code::Internal);
    }

    #[test]
    fn an_io_error_keeps_its_kind_under_the_context() {
        let e = KgentError::io(
            "cannot listen on /run/kgent.sock",
            std::io::Error::from(std::io::ErrorKind::AddrInUse),
        );
        let io = e
            .source()
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .expect("the io error");
        assert_eq!(io.kind(), std::io::ErrorKind::AddrInUse);
        assert!(e
            .to_string()
            .starts_with("cannot listen on /run/kgent.sock: "));
    }

    #[test]
    fn a_corrupt_record_names_the_json_error() {
        let json = serde_json::from_slice::<serde_json::Value>(b"{").expect_err("not json");
        let e = KgentError::from(json);
        assert!(e.source().is_some());
        assert!(e.to_string().starts_with("store: corrupt record: "), "{e}");
    }

    #[test]
    fn each_kind_of_error_gets_its_grpc_code() {
        use tonic::Code;
        let boxed = |s: &str| -> Source { s.into() };
        for (e, code) in [
            (KgentError::Cancelled, Code::Cancelled),
            (KgentError::Model(boxed("no model file")), Code::Unavailable),
            (
                KgentError::ProgramRejected(boxed("clang rejected the program")),
                Code::InvalidArgument,
            ),
            (KgentError::HostSetup(boxed("no clang")), Code::Internal),
            (KgentError::NotFound("r1".into()), Code::NotFound),
        ] {
            assert_eq!(tonic::Status::from(e).code(), code);
        }
    }
}
