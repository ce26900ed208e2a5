//! # Rolling back one key
//!
//! The helpers cleanup and check_txn_status share. A rollback writes a
//! `Rollback` record at `start_ts` (protected for the primary of a
//! pessimistic transaction), or, if another transaction's commit record
//! already sits at exactly that timestamp, flags it with
//! `has_overlapped_rollback` instead; unprotected rollbacks below it may be
//! *collapsed* (deleted) so they do not pile up.
//!
//! ```text
//! what the transaction left at start_ts   what rollback_lock writes
//!   nothing                               Rollback @start_ts (and deletes a
//!                                         long value the lock points to)
//!   nothing, another txn's commit there   protected: that record flagged
//!                                         has_overlapped_rollback; else nothing
//!   its rollback (either kind)            nothing
//!   its commit                            BadFormat (a lock and a commit of
//!                                         one transaction cannot both exist)
//! ```
//!
//! In every case but the last the lock is removed.
//!
//! Follows TiKV's `src/storage/txn/actions/cleanup.rs` and `mod.rs`.

use crate::mvcc::{MvccReader, MvccTxn, TxnCommitRecord};
use crate::types::{Key, Lock, LockType, TimeStamp, Write, WriteType};
use crate::{Error, Result};

/// Rolls back `lock` (of `txn.start_ts`) on `key`.
pub fn rollback_lock(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<'_>,
    key: Key,
    lock: &Lock,
    is_pessimistic_txn: bool,
    collapse_rollback: bool,
) -> Result<()> {
    let overlapped_write = match reader.get_txn_commit_record(&key, txn.start_ts)? {
        TxnCommitRecord::None { overlapped_write } => overlapped_write,
        TxnCommitRecord::SingleRecord { commit_ts, write }
            if write.write_type != WriteType::Rollback =>
        {
            return Err(Error::BadFormat(format!(
                "key {key} is locked by txn {} which also committed it at {commit_ts}",
                txn.start_ts
            )));
        }
        // Already rolled back: only the lock is left to remove.
        _ => {
            txn.unlock_key(key);
            return Ok(());
        }
    };
    if lock.short_value.is_none() && lock.lock_type == LockType::Put {
        txn.delete_value(key.clone(), lock.ts);
    }
    // Only the primary of a pessimistic transaction needs protecting.
    let protected = is_pessimistic_txn && key.is_encoded_from(&lock.primary);
    if let Some(write) = make_rollback(txn.start_ts, protected, overlapped_write) {
        txn.put_write(key.clone(), txn.start_ts, write.to_bytes());
    }
    if collapse_rollback {
        collapse_prev_rollback(txn, reader, &key)?;
    }
    txn.unlock_key(key);
    Ok(())
}

/// Deletes the newest record at or below `txn.start_ts` if it is an
/// unprotected rollback.
pub fn collapse_prev_rollback(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<'_>,
    key: &Key,
) -> Result<()> {
    if let Some((commit_ts, write)) = reader.seek_write(key, txn.start_ts)?
        && write.write_type == WriteType::Rollback
        && !write.is_protected()
    {
        txn.delete_write(key.clone(), commit_ts);
    }
    Ok(())
}

/// The record a rollback of `start_ts` writes at `start_ts`: a Rollback,
/// or — when another transaction's commit record `overlapped` is already
/// there — that record with the overlapped-rollback flag, which only
/// protected rollbacks bother to write.
pub fn make_rollback(
    start_ts: TimeStamp,
    protected: bool,
    overlapped: Option<Write>,
) -> Option<Write> {
    match overlapped {
        Some(write) if protected => Some(write.set_overlapped_rollback(true)),
        Some(_) => None,
        None => Some(Write::new_rollback(start_ts, protected)),
    }
}
