//! # Percolator actions
//!
//! Each action is one plain function over a write buffer ([`MvccTxn`]) and
//! a snapshot reader ([`MvccReader`]) that handles *one key*; commands in
//! [`crate::commands`] loop over keys and collect the results. No action
//! does I/O beyond reading the snapshot, so each is deterministic and tested
//! on an in-memory engine.
//!
//! The life of an optimistic transaction `T` (start_ts 10, primary `a`):
//!
//! ```text
//!            prewrite a,b           commit a @20        commit b @20
//! lock   a: T  b: T         ->   b: T             ->  (none)
//! write                          a@20: Put(10)        a@20, b@20
//! ```
//!
//! and what can happen to it on the way:
//!
//! * [`prewrite()`] — take the locks; `KeyIsLocked` / `WriteConflict` /
//!   `AlreadyExist` stop it. Pessimistic transactions first take
//!   [`acquire_pessimistic_lock()`]s and undo them with
//!   [`pessimistic_rollback()`].
//! * [`commit()`] — primary first (the commit point), then the rest.
//! * [`cleanup()`] — roll back one key (client abort, or a lock whose TTL
//!   expired).
//! * [`check_txn_status()`] — a blocked transaction asks the primary what
//!   happened to the owner, rolling back expired transactions and pushing
//!   `min_commit_ts` of live ones.
//! * [`gc()`] — drop versions no reader can see any more.
//! * [`commit_1pc`] — for a transaction prewritten in one command with
//!   `try_one_pc`: write the records directly, no locks.
//!
//! The rollback helpers shared by cleanup and check_txn_status live here:
//! a rollback writes a `Rollback` record at `start_ts` (protected for the
//! primary of a pessimistic transaction), or, if another transaction's
//! commit record already sits at exactly that timestamp, flags it with
//! `has_overlapped_rollback` instead; unprotected rollbacks below it may be
//! *collapsed* (deleted) so they do not pile up.
//!
//! Follows TiKV's `src/storage/txn/actions/`.

mod check_txn_status;
mod cleanup;
mod commit;
mod gc;
mod pessimistic_lock;
mod pessimistic_rollback;
mod prewrite;

pub use check_txn_status::{
    MissingLockAction, TxnStatus, check_txn_status, check_txn_status_lock_exists,
    check_txn_status_missing_lock,
};
pub use cleanup::cleanup;
pub use commit::commit;
pub use gc::{GcInfo, MAX_TXN_WRITE_SIZE, gc};
pub use pessimistic_lock::acquire_pessimistic_lock;
pub use pessimistic_rollback::pessimistic_rollback;
pub use prewrite::{PrewriteProps, prewrite};

use crate::mvcc::{MvccReader, MvccTxn, TxnCommitRecord};
use crate::types::{Key, Lock, LockType, TimeStamp, Write, WriteType};
use crate::{Error, Result};

/// Turns the locks a `try_one_pc` prewrite kept back into write records at
/// `commit_ts`, removing the pessimistic locks they replace.
pub fn commit_1pc(txn: &mut MvccTxn, commit_ts: TimeStamp) {
    for one_pc in std::mem::take(&mut txn.locks_for_1pc) {
        let write_type = WriteType::from_lock_type(one_pc.lock.lock_type)
            .expect("prewrite never leaves a pessimistic lock");
        let write = Write::new(write_type, txn.start_ts, one_pc.lock.short_value);
        txn.put_write(one_pc.key.clone(), commit_ts, write.to_bytes());
        if one_pc.remove_pessimistic_lock {
            txn.unlock_key(one_pc.key);
        }
    }
}

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
