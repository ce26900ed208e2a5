//! # Prewrite
//!
//! The first phase of Percolator's two-phase commit, for one key: check
//! that nothing stands in the way, then leave a lock (and the value, inline
//! or in the `default` CF) that names the transaction and its primary.
//!
//! ```text
//! lock on the key?
//!   another txn's            -> KeyIsLocked (pessimistic key: PessimisticLockNotFound)
//!   ours, Pessimistic        -> convert it (keep the larger ttl, min_commit_ts, for_update_ts)
//!   ours, already prewritten -> duplicate request: Ok, write nothing
//!   none, pessimistic key    -> committed already? Ok : PessimisticLockNotFound
//! write records (optimistic keys, and any key that must not exist):
//!   newest commit_ts > start_ts     -> WriteConflict(Optimistic)
//!   our own rollback at start_ts    -> WriteConflict(SelfRolledBack)
//!   Insert/CheckNotExists and the newest Put/Delete is a Put -> AlreadyExist
//! ```
//!
//! A write conflict whose cause is this very transaction having committed
//! the key already (a retried prewrite after commit) is a duplicate, not a
//! conflict: TiKV checks the commit record before reporting
//! (`check_committed_record_on_err`), and so do we, per key.
//!
//! Keys locked pessimistically skip the conflict check: it was done when the
//! lock was taken, at `for_update_ts`. With `try_one_pc` the lock is kept in
//! `txn.locks_for_1pc` and later turned into a write record by
//! [`commit_1pc`](super::commit_1pc).
//!
//! Follows TiKV's `src/storage/txn/actions/prewrite.rs`.

use std::cmp;

use crate::error::WriteConflictReason;
use crate::mvcc::{MvccReader, MvccTxn, OnePcLock};
use crate::types::{Key, Lock, Mutation, TimeStamp, Write, WriteType, is_short_value};
use crate::{Error, Result};

/// What the prewrite of one transaction shares across its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrewriteProps {
    pub start_ts: TimeStamp,
    /// Raw primary key.
    pub primary: Vec<u8>,
    pub lock_ttl: u64,
    pub txn_size: u64,
    /// Zero for optimistic transactions.
    pub for_update_ts: TimeStamp,
    pub min_commit_ts: TimeStamp,
    pub try_one_pc: bool,
}

/// Prewrites one mutation. Returns the written lock's `min_commit_ts` (zero
/// when nothing was written).
pub fn prewrite(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<'_>,
    props: &PrewriteProps,
    mutation: Mutation,
    is_pessimistic_lock: bool,
) -> Result<TimeStamp> {
    let should_not_exist = mutation.should_not_exist();
    let lock_type = mutation.lock_type();
    let (key, value) = mutation.into_key_value();
    let start_ts = props.start_ts;

    let mut lock_ttl = props.lock_ttl;
    let mut min_commit_ts = props.min_commit_ts;
    let mut for_update_ts = props.for_update_ts;
    let mut had_pessimistic_lock = false;
    match reader.load_lock(&key)? {
        Some(lock) if lock.ts != start_ts => {
            let raw_key = key.to_raw()?;
            if is_pessimistic_lock {
                // Our pessimistic lock is gone and someone else holds the key.
                return Err(Error::PessimisticLockNotFound {
                    start_ts,
                    key: raw_key,
                });
            }
            return Err(Error::KeyIsLocked(lock.into_lock_info(raw_key)));
        }
        Some(lock) if lock.is_pessimistic_lock() => {
            // The ttl and min_commit_ts may have been pushed since locking.
            lock_ttl = cmp::max(lock_ttl, lock.ttl);
            min_commit_ts = cmp::max(min_commit_ts, lock.min_commit_ts);
            for_update_ts = cmp::max(for_update_ts, lock.for_update_ts);
            had_pessimistic_lock = true;
        }
        // Already prewritten: a duplicate request.
        Some(lock) => return Ok(lock.min_commit_ts),
        None if is_pessimistic_lock => {
            if reader
                .get_txn_commit_record(&key, start_ts)?
                .committed()
                .is_some()
            {
                return Ok(TimeStamp::zero());
            }
            return Err(Error::PessimisticLockNotFound {
                start_ts,
                key: key.to_raw()?,
            });
        }
        None => {}
    }

    let check_conflict = !had_pessimistic_lock;
    if let Conflict::Yes(e) =
        check_for_newer_version(reader, &key, props, check_conflict, should_not_exist)?
    {
        if reader
            .get_txn_commit_record(&key, start_ts)?
            .committed()
            .is_some()
        {
            return Ok(TimeStamp::zero());
        }
        return Err(e);
    }

    let Some(lock_type) = lock_type else {
        // CheckNotExists: the check was all there was to do.
        return Ok(TimeStamp::zero());
    };
    let mut lock = Lock::new(lock_type, props.primary.clone(), start_ts, lock_ttl);
    lock.for_update_ts = for_update_ts;
    lock.txn_size = props.txn_size;
    lock.min_commit_ts = min_commit_ts;
    if let Some(value) = value {
        if is_short_value(&value) {
            lock.short_value = Some(value);
        } else {
            txn.put_value(key.clone(), start_ts, value);
        }
    }
    if props.try_one_pc {
        txn.locks_for_1pc.push(OnePcLock {
            key,
            lock,
            remove_pessimistic_lock: had_pessimistic_lock,
        });
    } else {
        txn.put_lock(key, &lock);
    }
    Ok(min_commit_ts)
}

enum Conflict {
    No,
    /// The error to report unless the transaction turns out to have
    /// committed the key already.
    Yes(Error),
}

/// Walks the key's records newest first: write conflicts (when
/// `check_conflict`), our own rollback, and existence (when
/// `should_not_exist`). Existence failures are returned as errors right
/// away; conflicts are handed back for the duplicate check.
fn check_for_newer_version(
    reader: &mut MvccReader<'_>,
    key: &Key,
    props: &PrewriteProps,
    check_conflict: bool,
    should_not_exist: bool,
) -> Result<Conflict> {
    let start_ts = props.start_ts;
    let mut first = true;
    let mut outcome = Conflict::No;
    let mut exists = false;
    reader.scan_versions(key, TimeStamp::max(), &mut |commit_ts, write: Write| {
        let is_first = std::mem::replace(&mut first, false);
        let reason = if commit_ts == start_ts
            && (write.write_type == WriteType::Rollback || write.has_overlapped_rollback)
        {
            Some(WriteConflictReason::SelfRolledBack)
        } else if is_first && check_conflict && commit_ts > start_ts {
            Some(WriteConflictReason::Optimistic)
        } else {
            None
        };
        if let Some(reason) = reason {
            outcome = Conflict::Yes(Error::WriteConflict {
                start_ts,
                conflict_start_ts: write.start_ts,
                conflict_commit_ts: commit_ts,
                key: key.to_raw()?,
                primary: props.primary.clone(),
                reason,
            });
            return Ok(false);
        }
        if !should_not_exist {
            return Ok(false);
        }
        match write.write_type {
            WriteType::Put => {
                exists = true;
                Ok(false)
            }
            WriteType::Delete => Ok(false),
            WriteType::Lock | WriteType::Rollback => Ok(true),
        }
    })?;
    if exists {
        return Err(Error::AlreadyExist { key: key.to_raw()? });
    }
    Ok(outcome)
}
