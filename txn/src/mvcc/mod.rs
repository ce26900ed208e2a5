//! # MVCC: reading and buffering Percolator state
//!
//! The Percolator layer keeps three column families (DESIGN.md §2):
//!
//! ```text
//!  lock     enc(k)             -> Lock    at most one per key: the txn
//!                                          that is writing it right now
//!  write    enc(k) ++ !commit  -> Write   the key's history, newest first
//!  default  enc(k) ++ !start   -> value   values longer than 255 bytes
//! ```
//!
//! This module is the bridge between those bytes and the actions:
//!
//! * [`MvccReader`] — reads one consistent snapshot: locks, the newest
//!   record at or below a timestamp, a transaction's commit record, values,
//!   lock and key scans, and the committed history itself (the record at
//!   one commit ts, every committed version of a range) for the columnar
//!   store's copy of the rows.
//! * [`MvccTxn`] — the write buffer an action fills with [`Modify`]s; the
//!   scheduler proposes them through Raft. Nothing here writes to an engine
//!   except [`apply_modifies_to`], for tests and tools.
//! * [`point_getter`] and [`scanner`] — snapshot reads for clients (`get`,
//!   `scan`), which report blocking locks as `KeyIsLocked`; [`range_locks`]
//!   is the same lock rule over a whole range, checked before a columnar
//!   replica answers a read.
//!
//! Invariant shared by everything here: a reader only ever looks at one
//! snapshot, and an action's writes are not visible to its own reads (TiKV
//! has the same rule; each key is touched once per command).
//!
//! Follows TiKV's `src/storage/mvcc/{reader,txn.rs}`.

mod cursor;
pub mod point_getter;
mod reader;
pub mod scanner;
mod txn;

pub use cursor::{MAX_BATCH, Statistics};
pub use point_getter::range_locks;
pub use reader::{MvccReader, TxnCommitRecord};
pub use txn::{Modify, MvccTxn, OnePcLock, apply_modifies_to, write_batch_from_modifies};
