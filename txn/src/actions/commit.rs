//! # Commit
//!
//! The second phase, for one key: turn this transaction's lock into a write
//! record at `commit_ts` and remove the lock. Committing the primary is the
//! transaction's commit point; secondaries follow (or are committed later by
//! whoever resolves their locks).
//!
//! ```text
//! our lock present
//!   commit_ts < lock.min_commit_ts -> CommitTsExpired (a reader pushed it)
//!   otherwise                      -> write record (type from the lock,
//!                                     short value carried over), unlock
//! no lock of ours
//!   commit record of start_ts is a commit -> Ok (duplicate request)
//!   rolled back, or nothing               -> TxnLockNotFound
//! ```
//!
//! A leftover `Pessimistic` lock (its pessimistic rollback was lost) is
//! committed as a `Lock` record, as TiKV does: the transaction committed,
//! and the record carries no data.
//!
//! Follows TiKV's `src/storage/txn/actions/commit.rs`.

use crate::mvcc::{MvccReader, MvccTxn};
use crate::types::{Key, LockType, TimeStamp, Write, WriteType};
use crate::{Error, Result};

pub fn commit(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<'_>,
    key: Key,
    commit_ts: TimeStamp,
) -> Result<()> {
    let start_ts = txn.start_ts;
    let mut lock = match reader.load_lock(&key)? {
        Some(lock) if lock.ts == start_ts => lock,
        _ => {
            let record = reader.get_txn_commit_record(&key, start_ts)?;
            if record.committed().is_some() {
                return Ok(());
            }
            return Err(Error::TxnLockNotFound {
                start_ts,
                commit_ts,
                key: key.to_raw()?,
            });
        }
    };
    if commit_ts < lock.min_commit_ts {
        return Err(Error::CommitTsExpired {
            start_ts,
            commit_ts,
            key: key.to_raw()?,
            min_commit_ts: lock.min_commit_ts,
        });
    }
    if lock.lock_type == LockType::Pessimistic {
        lock.lock_type = LockType::Lock;
    }
    let write_type = WriteType::from_lock_type(lock.lock_type).expect("not pessimistic");
    let write = Write::new(write_type, start_ts, lock.short_value.take());
    txn.put_write(key.clone(), commit_ts, write.to_bytes());
    txn.unlock_key(key);
    Ok(())
}
