//! # Check transaction status
//!
//! A transaction blocked by a lock asks the lock's *primary* what became of
//! its owner. The primary's state is the owner's state: committed, rolled
//! back, or still running. This action answers, and on the way makes sure
//! the answer can't change under the caller:
//!
//! ```text
//! lock of start_ts on the primary
//!   TTL expired (by current_ts)  -> roll it back: TtlExpire
//!     (resolving a pessimistic lock and the primary is Pessimistic: just
//!      remove it, no rollback record: PessimisticRollBack)
//!   alive -> min_commit_ts non-zero, caller_start_ts not max and
//!            min_commit_ts <= caller_start_ts: push min_commit_ts to
//!            max(caller_start_ts + 1, current_ts) so the owner must commit
//!            after the caller's snapshot -> Uncommitted { pushed }
//! no lock
//!   commit record: committed -> Committed, rolled back -> RolledBack
//!   nothing: rollback_if_not_exist ? write a protected Rollback
//!            (LockNotExist) : TxnNotFound
//! ```
//!
//! Pushing `min_commit_ts` is what lets readers with an old snapshot go on
//! without waiting for (or killing) a long-running writer: the lock cannot
//! affect anything at or below `caller_start_ts` any more. A lock whose
//! `min_commit_ts` is zero is never pushed (TiKV: such locks come from
//! clients that would not honour it).
//!
//! Follows TiKV's `src/storage/txn/actions/check_txn_status.rs`. Not
//! implemented: async-commit locks and marking rollbacks on mismatching
//! locks (`rollback_ts`), which duet does not have.

use super::rollback::{collapse_prev_rollback, make_rollback, rollback_lock};
use crate::mvcc::{MvccReader, MvccTxn, TxnCommitRecord};
use crate::types::{Key, Lock, LockType, TimeStamp, WriteType};
use crate::{Error, Result};

/// What `check_txn_status` found (and did).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnStatus {
    /// A rollback record was already there.
    RolledBack,
    /// The primary lock had expired and was rolled back now.
    TtlExpire,
    /// No lock and no record: a protected rollback was written now.
    LockNotExist,
    Committed {
        commit_ts: TimeStamp,
    },
    /// The primary lock is alive; `lock` is its state after any push.
    Uncommitted {
        lock: Lock,
        min_commit_ts_pushed: bool,
    },
    /// An expired pessimistic primary lock was removed (only when resolving
    /// a pessimistic lock).
    PessimisticRollBack,
    /// No lock and no record, and the caller resolves a pessimistic lock:
    /// nothing was written.
    LockNotExistDoNothing,
}

/// What to do when neither a lock nor a commit record is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingLockAction {
    /// Write a collapsible rollback, collapsing an older one.
    Rollback,
    /// Write a protected rollback.
    ProtectedRollback,
    ReturnError,
}

impl MissingLockAction {
    pub fn rollback_protect(protect_rollback: bool) -> MissingLockAction {
        if protect_rollback {
            MissingLockAction::ProtectedRollback
        } else {
            MissingLockAction::Rollback
        }
    }

    pub fn rollback(rollback_if_not_exist: bool) -> MissingLockAction {
        if rollback_if_not_exist {
            MissingLockAction::ProtectedRollback
        } else {
            MissingLockAction::ReturnError
        }
    }
}

/// Checks (and maybe rolls back or pushes) transaction `txn.start_ts`
/// through its primary key.
pub fn check_txn_status(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<'_>,
    primary: Key,
    caller_start_ts: TimeStamp,
    current_ts: TimeStamp,
    rollback_if_not_exist: bool,
    resolving_pessimistic_lock: bool,
) -> Result<TxnStatus> {
    match reader.load_lock(&primary)? {
        Some(lock) if lock.ts == txn.start_ts => check_txn_status_lock_exists(
            txn,
            reader,
            primary,
            lock,
            current_ts,
            caller_start_ts,
            resolving_pessimistic_lock,
        ),
        _ => check_txn_status_missing_lock(
            txn,
            reader,
            primary,
            MissingLockAction::rollback(rollback_if_not_exist),
            resolving_pessimistic_lock,
        ),
    }
}

/// The primary lock of the transaction is there.
pub fn check_txn_status_lock_exists(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<'_>,
    primary: Key,
    mut lock: Lock,
    current_ts: TimeStamp,
    caller_start_ts: TimeStamp,
    resolving_pessimistic_lock: bool,
) -> Result<TxnStatus> {
    let is_pessimistic_txn = lock.is_pessimistic_txn();
    if lock.is_expired(current_ts) {
        if resolving_pessimistic_lock && lock.lock_type == LockType::Pessimistic {
            txn.unlock_key(primary);
            return Ok(TxnStatus::PessimisticRollBack);
        }
        rollback_lock(txn, reader, primary, &lock, is_pessimistic_txn, true)?;
        return Ok(TxnStatus::TtlExpire);
    }

    if !lock.min_commit_ts.is_zero()
        && !caller_start_ts.is_max()
        && caller_start_ts >= lock.min_commit_ts
    {
        lock.min_commit_ts = caller_start_ts.next().max(current_ts);
        txn.put_lock(primary, &lock);
    }
    // While min_commit_ts > caller_start_ts no lock of the transaction can
    // block the caller. A max caller_start_ts is a latest-version point get,
    // which may ignore the lock without pushing it.
    let min_commit_ts_pushed = (!caller_start_ts.is_zero() && lock.min_commit_ts > caller_start_ts)
        || caller_start_ts.is_max();
    Ok(TxnStatus::Uncommitted {
        lock,
        min_commit_ts_pushed,
    })
}

/// Neither the transaction's lock nor (maybe) its record is on `primary`.
pub fn check_txn_status_missing_lock(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<'_>,
    primary: Key,
    action: MissingLockAction,
    resolving_pessimistic_lock: bool,
) -> Result<TxnStatus> {
    let start_ts = txn.start_ts;
    match reader.get_txn_commit_record(&primary, start_ts)? {
        TxnCommitRecord::SingleRecord { commit_ts, write } => {
            if write.write_type == WriteType::Rollback {
                Ok(TxnStatus::RolledBack)
            } else {
                Ok(TxnStatus::Committed { commit_ts })
            }
        }
        TxnCommitRecord::OverlappedRollback { .. } => Ok(TxnStatus::RolledBack),
        TxnCommitRecord::None { overlapped_write } => {
            if action == MissingLockAction::ReturnError {
                return Err(Error::TxnNotFound {
                    start_ts,
                    key: primary.to_raw()?,
                });
            }
            if resolving_pessimistic_lock {
                return Ok(TxnStatus::LockNotExistDoNothing);
            }
            if action == MissingLockAction::Rollback {
                collapse_prev_rollback(txn, reader, &primary)?;
            }
            let protected = action == MissingLockAction::ProtectedRollback;
            if let Some(write) = make_rollback(start_ts, protected, overlapped_write) {
                txn.put_write(primary, start_ts, write.to_bytes());
            }
            Ok(TxnStatus::LockNotExist)
        }
    }
}
