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
mod lock_info;
mod mutation;
mod timestamp;
mod value;
mod write;

pub use key::Key;
pub use lock::Lock;
pub use lock_info::{LockInfo, LockType};
pub use mutation::Mutation;
pub use timestamp::{TSO_PHYSICAL_SHIFT_BITS, TimeStamp};
pub(crate) use value::show_value;
pub use value::{SHORT_VALUE_MAX_LEN, Value, escape, is_short_value};
pub use write::{PROTECTED_ROLLBACK_SHORT_VALUE, Write, WriteType};
