//! The copr crate's error type.
//!
//! Its variants are the ones a store reports for a pushed-down fragment
//! and means the same thing by: `txn` turns each into the `txn::Error`
//! variant of the same name and message (`Eval` into `Aborted`), so a
//! coprocessor request fails on a store exactly as it fails when the SQL
//! layer runs the fragment itself.

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;

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
    /// Checked integer arithmetic left its type (MySQL's error 1690): the
    /// operation, as `a + b`.
    #[error("BIGINT value is out of range in '({0})'")]
    Overflow(String),
    #[error("codec: {0}")]
    Codec(#[from] codec::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

/// A failed evaluation of `what` (a filter, a plan) over the rows:
/// [`Error::Overflow`] when checked arithmetic overflowed, else
/// [`Error::Eval`].
pub fn eval(what: &str, e: DataFusionError) -> Error {
    match overflow_of(&e) {
        Some(operation) => Error::Overflow(operation),
        None => Error::Eval(format!("{what}: {e}")),
    }
}

/// The operation of the checked arithmetic that overflowed at the root of
/// `e` (Arrow's `ArithmeticOverflow`, raised by the checked `+ - *` of
/// [`crate::mysql`] and by the SQL layer's constant folding), if it did.
pub fn overflow_of(e: &DataFusionError) -> Option<String> {
    let DataFusionError::ArrowError(root, _) = e.find_root() else {
        return None;
    };
    let ArrowError::ArithmeticOverflow(message) = root.as_ref() else {
        return None;
    };
    // Arrow words it "Overflow happened on: 1 + 2".
    let operation = message.strip_prefix(OVERFLOW_PREFIX).unwrap_or(message);
    Some(operation.to_string())
}

/// How Arrow's checked arithmetic begins an overflow's message.
pub const OVERFLOW_PREFIX: &str = "Overflow happened on: ";

/// A DataFusion or Arrow error about a request, as an [`Error`].
pub(crate) fn df(e: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("coprocessor: {e}"))
}
