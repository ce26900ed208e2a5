//! The codec crate's error type: every way a byte string can fail to decode.

/// A decoding failure. Encoding never fails.
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
