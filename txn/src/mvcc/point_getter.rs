//! # Snapshot point reads
//!
//! A read at `ts` sees the newest `Put`/`Delete` committed at or below `ts`
//! — unless a lock might hide a commit that belongs in its snapshot. That
//! is the case exactly when [`check_lock_conflict`] says so:
//!
//! * the lock's `ts` (start_ts) is at or below the read's `ts` — a younger
//!   transaction can only commit above its start_ts > `ts`;
//! * the lock is a `Put` or `Delete` — `Lock` and `Pessimistic` locks
//!   never change the value;
//! * its `min_commit_ts <= ts` — once `check_txn_status` has pushed
//!   `min_commit_ts` past `ts`, the owner must commit above `ts`;
//! * the reader was not told to bypass it (`bypass_locks`: locks the client
//!   already knows committed above its `ts`);
//! * and it is not a latest-version read (`ts == max`) of the primary key
//!   itself.
//!
//! The reader then gets `KeyIsLocked` and resolves the lock before
//! retrying. Follows TiKV's `src/storage/mvcc/reader/point_getter.rs` and
//! `Lock::check_ts_conflict`.

use super::MvccReader;
use crate::types::{Key, Lock, LockType, TimeStamp, Value};
use crate::{Error, Result};

/// `Err(KeyIsLocked)` if `lock` on `key` blocks a read at `ts`.
pub fn check_lock_conflict(
    lock: Lock,
    key: &Key,
    ts: TimeStamp,
    bypass_locks: &[TimeStamp],
) -> Result<()> {
    if lock.ts > ts
        || matches!(lock.lock_type, LockType::Lock | LockType::Pessimistic)
        || lock.min_commit_ts > ts
        || bypass_locks.contains(&lock.ts)
    {
        return Ok(());
    }
    let raw_key = key.to_raw()?;
    if ts.is_max() && raw_key == lock.primary {
        return Ok(());
    }
    Err(Error::KeyIsLocked(lock.into_lock_info(raw_key)))
}

/// The value of `key` visible at `ts`, or `KeyIsLocked`.
pub fn get(
    reader: &mut MvccReader<'_>,
    key: &Key,
    ts: TimeStamp,
    bypass_locks: &[TimeStamp],
) -> Result<Option<Value>> {
    if let Some(lock) = reader.load_lock(key)? {
        check_lock_conflict(lock, key, ts, bypass_locks)?;
    }
    reader.get(key, ts)
}
