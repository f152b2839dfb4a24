//! The daemon's one error type. Each variant says what went wrong and, where it can, what to do;
//! `api` maps variants to gRPC status codes.
use thiserror::Error;

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
    #[error("model unavailable: {0}")]
    ModelUnavailable(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("store: {0}")]
    Store(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<sled::Error> for KgentError {
    fn from(e: sled::Error) -> Self {
        Self::Store(e.to_string())
    }
}

impl From<serde_json::Error> for KgentError {
    fn from(e: serde_json::Error) -> Self {
        Self::Store(format!("corrupt record: {e}"))
    }
}

impl From<KgentError> for tonic::Status {
    fn from(e: KgentError) -> Self {
        let msg = e.to_string();
        match e {
            KgentError::InvalidArgument(_) => Self::invalid_argument(msg),
            KgentError::NotFound(_) => Self::not_found(msg),
            KgentError::PermissionDenied(_) => Self::permission_denied(msg),
            KgentError::ResourceExhausted(_) => Self::resource_exhausted(msg),
            KgentError::ModelUnavailable(_) => Self::unavailable(msg),
            KgentError::Config(_)
            | KgentError::Store(_)
            | KgentError::Io(_)
            | KgentError::Internal(_) => Self::internal(msg),
        }
    }
}
