//! What a gRPC status from kgentd means to a person.
//!
//! kgentd maps its errors to precise status codes; this module turns each code back into a
//! sentence that says what happened and, where there is one, what to do. It must not guess from
//! the message text: the code is the contract.

use std::error::Error as _;
use std::fmt;

use tonic::{Code, Status};

/// A failed call to kgentd.
#[derive(Debug)]
pub struct RpcError {
    call: &'static str,
    status: Status,
}

impl RpcError {
    pub fn new(call: &'static str, status: Status) -> Self {
        RpcError { call, status }
    }

    /// Whether kgentd refused the request itself (exit status 5) rather than failing at it.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self.status.code(),
            Code::InvalidArgument
                | Code::NotFound
                | Code::PermissionDenied
                | Code::ResourceExhausted
        )
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = self.status.message();
        let call = self.call;
        match self.status.code() {
            Code::InvalidArgument => write!(f, "kgentd rejected the request: {message}"),
            Code::NotFound => write!(f, "not found: {message}"),
            Code::PermissionDenied => write!(
                f,
                "permission denied: {message} (kgentd's policy decides what each user may do)"
            ),
            Code::ResourceExhausted => write!(f, "a limit was reached: {message}"),
            Code::FailedPrecondition => write!(f, "kgentd cannot do that now: {message}"),
            // A status made on this side from a broken connection carries its transport error as
            // source; one sent by kgentd does not.
            Code::Unavailable | Code::Unknown | Code::Cancelled
                if self.status.source().is_some() =>
            {
                write!(f, "lost the connection to kgentd during {call}: {message}")?;
                let mut cause = self.status.source();
                while let Some(c) = cause {
                    write!(f, ": {c}")?;
                    cause = c.source();
                }
                write!(
                    f,
                    ". Over TCP this is also how kgentd refuses a client certificate (none, \
                     expired, or not signed by its listen.tcp.client_ca); its log says which"
                )
            }
            Code::Unavailable => write!(f, "the model backend is unavailable: {message}"),
            Code::DeadlineExceeded => write!(f, "kgentd ran out of time: {message}"),
            Code::Unimplemented => write!(
                f,
                "this kgentd does not support {call} ({message}); is it older than kgentctl?"
            ),
            Code::Unauthenticated => write!(f, "kgentd did not accept who you are: {message}"),
            Code::Cancelled => write!(f, "{call} was cancelled: {message}"),
            Code::Internal | Code::Unknown | Code::DataLoss => {
                write!(f, "kgentd failed during {call}: {message}")
            }
            code => write!(f, "{call} failed ({code:?}): {message}"),
        }
    }
}

impl std::error::Error for RpcError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_from_kgentd_names_the_model_backend() {
        let error = RpcError::new("Ask", Status::unavailable("llama.cpp is still loading"));
        assert_eq!(
            error.to_string(),
            "the model backend is unavailable: llama.cpp is still loading"
        );
        assert!(!error.is_rejection());
    }

    #[test]
    fn refusals_are_rejections() {
        for status in [
            Status::invalid_argument("x"),
            Status::not_found("x"),
            Status::permission_denied("x"),
            Status::resource_exhausted("x"),
        ] {
            assert!(RpcError::new("Run", status).is_rejection());
        }
        assert!(!RpcError::new("Run", Status::internal("x")).is_rejection());
    }
}
