//! # Transaction types
//!
//! The vocabulary of the Percolator layer and its on-disk formats, all
//! byte-compatible with TiKV's `components/txn_types`:
//!
//! * [`TimeStamp`] — TSO timestamps.
//! * [`Key`] — memcomparable-encoded user keys, optionally with `!ts`.
//! * [`Lock`] / [`LockType`] / [`LockInfo`] — the `lock` CF record.
//! * [`Write`] / [`WriteType`] — the `write` CF record.
//! * [`Mutation`] — what prewrite is asked to do.
//!
//! Values up to [`SHORT_VALUE_MAX_LEN`] bytes travel inline in the lock and
//! then the write record; longer ones are stored once in the `default` CF at
//! `enc(key) ++ !start_ts`.

mod key;
mod lock;
mod mutation;
mod timestamp;
mod write;

pub use key::Key;
pub use lock::{Lock, LockInfo, LockType};
pub use mutation::Mutation;
pub use timestamp::{TSO_PHYSICAL_SHIFT_BITS, TimeStamp};
pub use write::{PROTECTED_ROLLBACK_SHORT_VALUE, Write, WriteType};

/// A user value.
pub type Value = Vec<u8>;

/// Values at most this long are stored inline in locks and write records.
pub const SHORT_VALUE_MAX_LEN: usize = 255;

/// Whether `value` is stored inline.
pub fn is_short_value(value: &[u8]) -> bool {
    value.len() <= SHORT_VALUE_MAX_LEN
}

/// Renders a value for humans: [`escape`]d, cut short past 32 bytes.
pub(crate) fn show_value(value: &[u8]) -> String {
    if value.len() <= 32 {
        return escape(value);
    }
    format!("{}...({} bytes)", escape(&value[..16]), value.len())
}

/// Renders bytes for humans: printable ASCII as is, `\\` doubled, anything
/// else as `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7E => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}
