//! The copr crate's error type.
//!
//! Its variants are the ones a store reports for a pushed-down fragment
//! and means the same thing by: `txn` turns each into the `txn::Error`
//! variant of the same name and message (`Eval` into `Aborted`), so a
//! coprocessor request fails on a store exactly as it fails when the SQL
//! layer runs the fragment itself.

/// What went wrong with a fragment, a filter, a plan or the rows they read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A fragment, filter or plan that cannot be used as sent: it does not
    /// decode, names a column the scan lacks, has the wrong shape.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Data that does not decode: a record, an Arrow IPC stream.
    #[error("bad format: {0}")]
    BadFormat(String),
    /// Evaluating a well-formed filter or plan over the rows failed (an
    /// overflow, a bad cast): the statement fails.
    #[error("transaction aborted: {0}")]
    Eval(String),
    #[error("codec: {0}")]
    Codec(#[from] codec::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

/// A DataFusion or Arrow error about a request, as an [`Error`].
pub(crate) fn df(e: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("coprocessor: {e}"))
}
