//! The codec crate's error type: every way a byte string can fail to decode,
//! and every way a SQL literal can fail to parse into a codec value.

use crate::datum::DatumKind;

/// A decoding (or literal parsing) failure. Encoding never fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input ended before the value did.
    #[error("unexpected end of input: needed {needed} more bytes, {remaining} left")]
    Eof { needed: usize, remaining: usize },
    /// A memcomparable byte group has an invalid marker or non-zero padding.
    #[error("bad padding in memcomparable bytes group (marker {marker:#04x})")]
    BadPadding { marker: u8 },
    /// A key is shorter than the fixed-size suffix it must carry.
    #[error("key too short: {len} bytes, expected at least {expected}")]
    KeyLength { len: usize, expected: usize },
    /// A varint does not fit in 64 bits.
    #[error("varint overflows 64 bits")]
    VarIntOverflow,
    /// A length prefix is negative or larger than the input.
    #[error("invalid length prefix {0}")]
    BadLength(i64),
    /// An encoded datum starts with a flag byte this codec does not decode.
    #[error("unknown datum flag {0:#04x}")]
    BadFlag(u8),
    /// A decimal's key or row-value encoding is malformed.
    #[error("malformed decimal encoding")]
    BadDecimal,
    /// A row value's bytes cannot be a value of the requested kind (wrong
    /// width, or out of range for the kind).
    #[error("{len}-byte column value cannot be decoded as {kind:?}")]
    BadValue { kind: DatumKind, len: usize },
    /// A row value is not in row format v2, or its header is inconsistent.
    #[error("corrupt row: {0}")]
    BadRow(&'static str),
    /// A key does not carry the table/record/index prefix it should.
    #[error("not a {expected} key")]
    BadKeyPrefix { expected: &'static str },
    /// Text is not a decimal literal (SQL: "incorrect decimal value").
    #[error("invalid decimal literal {0:?}")]
    InvalidDecimal(String),
    /// A decimal literal or result needs more than 38 digits
    /// (SQL: "out of range value").
    #[error("decimal value out of range")]
    DecimalOverflow,
}

pub type Result<T> = std::result::Result<T, Error>;

/// Splits `n` bytes off the front of `data`, or fails with [`Error::Eof`].
pub(crate) fn take<'a>(data: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
    if data.len() < n {
        return Err(Error::Eof {
            needed: n,
            remaining: data.len(),
        });
    }
    let (head, tail) = data.split_at(n);
    *data = tail;
    Ok(head)
}

/// Splits one byte off the front of `data`.
pub(crate) fn take_u8(data: &mut &[u8]) -> Result<u8> {
    take(data, 1).map(|b| b[0])
}
