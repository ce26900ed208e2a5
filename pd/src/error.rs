//! # Errors
//!
//! One error type for the whole crate, shared by the server (which turns it
//! into a [`ResponseHeader`] error on the wire) and the client (which turns a
//! header error back into the same variant). The variants are the categories a
//! caller can act on:
//!
//! | variant | what the caller does |
//! |---|---|
//! | [`Error::Unreachable`], [`Error::Transport`] | retry later, maybe against another PD ([`Error::is_retryable`]) |
//! | [`Error::NotBootstrapped`] | bootstrap the cluster (a kv store does this on first start) |
//! | [`Error::AlreadyBootstrapped`] | someone else won the bootstrap race: carry on |
//! | [`Error::RegionNotFound`], [`Error::StoreNotFound`] | refresh routing, or report to the user |
//! | [`Error::StoreTombstone`] | the store was removed for good and must not come back |
//! | [`Error::StaleRegion`] | the heartbeat carried an older epoch than PD knows: drop it |
//! | [`Error::InvalidArgument`] | a bug or a bad admin command: show the message |
//! | [`Error::Storage`], [`Error::Other`] | PD-internal failure |

use proto::pdpb::{self, ErrorType, ResponseHeader};

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to, or inside, the placement driver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No connection could be made to PD at all.
    #[error("PD at {addr} is unreachable: {message}")]
    Unreachable { addr: String, message: String },
    /// A connection existed but the RPC failed on the way (reset, timeout,
    /// server shutting down ...).
    #[error("PD transport error ({code:?}): {message}")]
    Transport { code: tonic::Code, message: String },
    #[error("the cluster is not bootstrapped")]
    NotBootstrapped,
    #[error("the cluster is already bootstrapped")]
    AlreadyBootstrapped,
    #[error("region not found: {0}")]
    RegionNotFound(String),
    #[error("store not found: {0}")]
    StoreNotFound(String),
    #[error("store is tombstone: {0}")]
    StoreTombstone(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("stale region: {0}")]
    StaleRegion(String),
    /// PD's own metadata storage failed; the request was not applied.
    #[error("PD storage error: {0}")]
    Storage(String),
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// True when the same request may succeed if sent again later: the
    /// failure was in getting the request to PD or an answer back, not in
    /// what the request asked for.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Unreachable { .. } => true,
            Error::Transport { code, .. } => !matches!(
                code,
                tonic::Code::InvalidArgument
                    | tonic::Code::Unimplemented
                    | tonic::Code::PermissionDenied
                    | tonic::Code::Unauthenticated
                    | tonic::Code::FailedPrecondition
            ),
            _ => false,
        }
    }

    /// The wire form of this error, for a response header.
    pub fn to_header(&self) -> ResponseHeader {
        let (ty, message) = match self {
            Error::NotBootstrapped => (ErrorType::NotBootstrapped, self.to_string()),
            Error::AlreadyBootstrapped => (ErrorType::AlreadyBootstrapped, self.to_string()),
            Error::RegionNotFound(m) => (ErrorType::RegionNotFound, m.clone()),
            Error::StoreNotFound(m) => (ErrorType::StoreNotFound, m.clone()),
            Error::StoreTombstone(m) => (ErrorType::StoreTombstone, m.clone()),
            Error::InvalidArgument(m) => (ErrorType::InvalidArgument, m.clone()),
            Error::StaleRegion(m) => (ErrorType::StaleRegion, m.clone()),
            Error::Unreachable { .. }
            | Error::Transport { .. }
            | Error::Storage(_)
            | Error::Other(_) => (ErrorType::Unknown, self.to_string()),
        };
        let mut error = pdpb::Error {
            message,
            ..Default::default()
        };
        error.set_type(ty);
        ResponseHeader { error: Some(error) }
    }

    /// The error a response header carries, if any.
    pub fn from_header(header: Option<&ResponseHeader>) -> Option<Error> {
        let error = header?.error.as_ref()?;
        let message = error.message.clone();
        Some(match error.r#type() {
            ErrorType::Ok => return None,
            ErrorType::NotBootstrapped => Error::NotBootstrapped,
            ErrorType::AlreadyBootstrapped => Error::AlreadyBootstrapped,
            ErrorType::RegionNotFound => Error::RegionNotFound(message),
            ErrorType::StoreNotFound => Error::StoreNotFound(message),
            ErrorType::StoreTombstone => Error::StoreTombstone(message),
            ErrorType::InvalidArgument => Error::InvalidArgument(message),
            ErrorType::StaleRegion => Error::StaleRegion(message),
            ErrorType::Unknown => Error::Other(message),
        })
    }
}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        Error::Transport {
            code: status.code(),
            message: status.message().to_string(),
        }
    }
}

impl From<rocksdb::Error> for Error {
    fn from(e: rocksdb::Error) -> Self {
        Error::Storage(e.into_string())
    }
}

impl From<prost::DecodeError> for Error {
    fn from(e: prost::DecodeError) -> Self {
        Error::Storage(format!("corrupt metadata: {e}"))
    }
}

/// An OK response header.
pub fn ok_header() -> Option<ResponseHeader> {
    Some(ResponseHeader { error: None })
}

/// The header for a result: OK, or the error.
pub fn header_of<T>(result: &Result<T>) -> Option<ResponseHeader> {
    match result {
        Ok(_) => ok_header(),
        Err(e) => Some(e.to_header()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_keeps_category_and_message() {
        for e in [
            Error::NotBootstrapped,
            Error::AlreadyBootstrapped,
            Error::RegionNotFound("region 7".into()),
            Error::StoreNotFound("store 3".into()),
            Error::StoreTombstone("store 3".into()),
            Error::InvalidArgument("store 4 already has a peer".into()),
            Error::StaleRegion("epoch".into()),
        ] {
            let header = e.to_header();
            let back = Error::from_header(Some(&header)).unwrap();
            match (&e, &back) {
                (Error::NotBootstrapped, Error::NotBootstrapped)
                | (Error::AlreadyBootstrapped, Error::AlreadyBootstrapped) => {}
                _ => assert_eq!(e, back),
            }
        }
        assert_eq!(Error::from_header(ok_header().as_ref()), None);
        assert_eq!(Error::from_header(None), None);
        assert!(matches!(
            Error::from_header(Some(&Error::Storage("disk".into()).to_header())),
            Some(Error::Other(m)) if m.contains("disk")
        ));
    }

    #[test]
    fn only_transport_failures_are_retryable() {
        assert!(
            Error::Unreachable {
                addr: "x".into(),
                message: "refused".into()
            }
            .is_retryable()
        );
        assert!(Error::from(tonic::Status::unavailable("gone")).is_retryable());
        assert!(!Error::from(tonic::Status::unimplemented("no")).is_retryable());
        assert!(!Error::NotBootstrapped.is_retryable());
        assert!(!Error::StaleRegion(String::new()).is_retryable());
    }
}
