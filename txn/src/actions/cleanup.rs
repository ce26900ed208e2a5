//! # Cleanup (rollback of one key)
//!
//! Rolls back transaction `start_ts` on one key, used by `Rollback` /
//! `BatchRollback` (`current_ts = 0`: unconditionally), by `Cleanup`
//! (`current_ts` set: only once the lock's TTL has expired) and by
//! `ResolveLock` for transactions found rolled back.
//!
//! ```text
//! our lock present
//!   current_ts != 0 and TTL not expired -> KeyIsLocked
//!   otherwise -> delete the long value, write a Rollback record at
//!                start_ts (or flag the commit record already there),
//!                unlock
//! no lock of ours
//!   committed          -> Committed { commit_ts } (a rollback is refused)
//!   already rolled back -> Ok
//!   nothing            -> write a Rollback record, so that a prewrite
//!                         arriving late fails
//! ```
//!
//! `protect_rollback` decides whether the Rollback record written for a
//! missing lock is protected, and whether an older, unprotected rollback
//! may be collapsed (deleted) to keep rollback records from piling up.
//!
//! Follows TiKV's `src/storage/txn/actions/cleanup.rs`.

use super::check_txn_status::{MissingLockAction, TxnStatus, check_txn_status_missing_lock};
use super::rollback::rollback_lock;
use crate::mvcc::{MvccReader, MvccTxn};
use crate::types::{Key, TimeStamp};
use crate::{Error, Result};

pub fn cleanup(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<'_>,
    key: Key,
    current_ts: TimeStamp,
    protect_rollback: bool,
) -> Result<()> {
    match reader.load_lock(&key)? {
        Some(lock) if lock.ts == txn.start_ts => {
            if !current_ts.is_zero() && !lock.is_expired(current_ts) {
                return Err(Error::KeyIsLocked(lock.into_lock_info(key.to_raw()?)));
            }
            let is_pessimistic_txn = lock.is_pessimistic_txn();
            rollback_lock(
                txn,
                reader,
                key,
                &lock,
                is_pessimistic_txn,
                !protect_rollback,
            )
        }
        _ => {
            let action = MissingLockAction::rollback_protect(protect_rollback);
            match check_txn_status_missing_lock(txn, reader, key.clone(), action, false)? {
                TxnStatus::Committed { commit_ts } => Err(Error::Committed {
                    start_ts: txn.start_ts,
                    commit_ts,
                    key: key.to_raw()?,
                }),
                _ => Ok(()),
            }
        }
    }
}
