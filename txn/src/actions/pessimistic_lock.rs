//! # Acquire a pessimistic lock
//!
//! Pessimistic transactions (TiDB's default) lock each key when a statement
//! writes it (or reads it `FOR UPDATE`), at the statement's `for_update_ts`,
//! so conflicts surface then — where the statement can retry with a fresh
//! `for_update_ts` — rather than at commit. The lock is of type
//! `Pessimistic`, carries no value, and is turned into a real lock by
//! prewrite.
//!
//! ```text
//! lock on the key?
//!   another txn's          -> KeyIsLocked (the caller waits)
//!   ours, Pessimistic      -> raise for_update_ts if higher; Ok
//!   ours, prewritten       -> Ok (nothing to lock)
//! newest record (any type)
//!   commit_ts > for_update_ts         -> WriteConflict(PessimisticRetry)
//!   our own rollback at start_ts      -> PessimisticLockRolledBack
//!   should_not_exist and a value      -> AlreadyExist
//! write a Pessimistic lock at for_update_ts; with need_value return the
//! newest committed value
//! ```
//!
//! Follows TiKV's `src/storage/txn/actions/acquire_pessimistic_lock.rs`.

use crate::error::WriteConflictReason;
use crate::mvcc::{MvccReader, MvccTxn};
use crate::types::{Key, Lock, LockType, TimeStamp, Value, WriteType};
use crate::{Error, Result};

#[allow(clippy::too_many_arguments)] // the fields of a PessimisticLockRequest
pub fn acquire_pessimistic_lock(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<'_>,
    key: Key,
    primary: &[u8],
    should_not_exist: bool,
    lock_ttl: u64,
    for_update_ts: TimeStamp,
    need_value: bool,
    min_commit_ts: TimeStamp,
) -> Result<Option<Value>> {
    let start_ts = txn.start_ts;
    let new_lock = || {
        let mut lock = Lock::new(LockType::Pessimistic, primary.to_vec(), start_ts, lock_ttl);
        lock.for_update_ts = for_update_ts;
        lock.min_commit_ts = min_commit_ts;
        lock
    };

    if let Some(lock) = reader.load_lock(&key)? {
        if lock.ts != start_ts {
            return Err(Error::KeyIsLocked(lock.into_lock_info(key.to_raw()?)));
        }
        let value = if need_value {
            reader.get(&key, for_update_ts)?
        } else {
            None
        };
        if lock.is_pessimistic_lock() && for_update_ts > lock.for_update_ts {
            txn.put_lock(key, &new_lock());
        }
        return Ok(value);
    }

    let mut value = None;
    if let Some((commit_ts, write)) = reader.seek_write(&key, TimeStamp::max())? {
        if commit_ts > for_update_ts {
            return Err(Error::WriteConflict {
                start_ts,
                conflict_start_ts: write.start_ts,
                conflict_commit_ts: commit_ts,
                key: key.to_raw()?,
                primary: primary.to_vec(),
                reason: WriteConflictReason::PessimisticRetry,
            });
        }
        let rolled_back = |ts: TimeStamp, w: &crate::types::Write| {
            ts == start_ts && (w.write_type == WriteType::Rollback || w.has_overlapped_rollback)
        };
        // Our rollback may sit under newer records.
        let own_rollback = if rolled_back(commit_ts, &write) {
            true
        } else if commit_ts > start_ts {
            reader
                .seek_write(&key, start_ts)?
                .is_some_and(|(ts, w)| rolled_back(ts, &w))
        } else {
            false
        };
        if own_rollback {
            return Err(Error::PessimisticLockRolledBack {
                start_ts,
                key: key.to_raw()?,
            });
        }
        if should_not_exist || need_value {
            // The newest Put/Delete, skipping Lock and Rollback records.
            let data = match write.write_type {
                WriteType::Put | WriteType::Delete => Some(write),
                WriteType::Lock | WriteType::Rollback => {
                    reader.get_write(&key, commit_ts.prev())?.map(|(_, w)| w)
                }
            };
            if let Some(w) = data.filter(|w| w.write_type == WriteType::Put) {
                if should_not_exist {
                    return Err(Error::AlreadyExist { key: key.to_raw()? });
                }
                value = Some(reader.load_data(&key, &w)?);
            }
        }
    }
    txn.put_lock(key, &new_lock());
    Ok(value)
}
