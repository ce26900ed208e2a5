//! # How txn's types and errors travel in `kvrpcpb` messages
//!
//! Both ends of the txn protocol read and write the same messages, so the
//! conversions live here, below both: the service on each kv store
//! ([`crate::service`], the columnar store's Flight service) turns errors
//! into what a response carries ([`split`], [`key_error`]) and locks into
//! [`proto::kvrpcpb::LockInfo`]s ([`lock_info_to_pb`]); the client
//! ([`crate::client`], the GC worker) turns them back ([`check`],
//! [`from_key_error`], [`lock_info_from_pb`]) and a failed call into an
//! error ([`status_err`]).
//!
//! ```text
//!   store:  Error ──split──> (region_error | KeyError)  ──> client: check -> Error
//!           LockInfo ──lock_info_to_pb──> pb LockInfo    ──> lock_info_from_pb
//!                                         tonic::Status  ──> status_err -> Error
//! ```
//!
//! Region errors go through `kv` ([`kv::Error::to_region_error`] and
//! back); transaction errors follow TiKV's `KeyError` fields.

use proto::errorpb;
use proto::kvrpcpb::{
    AlreadyExist, CommitTsExpired, Committed, Deadlock, KeyError, Op, TxnLockNotFound, TxnNotFound,
    TxnTooOld, WaitForEntry, WriteConflict, write_conflict,
};

use crate::types::{LockInfo, LockType, TimeStamp};
use crate::{Error, Result};

/// An error split into what a response carries: a region error (the
/// client re-routes) or a key error.
pub fn split(e: Error) -> (Option<errorpb::Error>, Option<KeyError>) {
    match e {
        Error::Kv(k) => match k.to_region_error() {
            Some(re) => (Some(re), None),
            None => (None, Some(abort(k.to_string()))),
        },
        other => (None, Some(key_error(other))),
    }
}

fn abort(msg: String) -> KeyError {
    KeyError {
        abort: msg,
        ..Default::default()
    }
}

/// A transaction error as the wire's `KeyError`.
pub fn key_error(e: Error) -> KeyError {
    let mut ke = KeyError::default();
    match e {
        Error::KeyIsLocked(info) => ke.locked = Some(lock_info_to_pb(&info)),
        Error::WriteConflict {
            start_ts,
            conflict_start_ts,
            conflict_commit_ts,
            key,
            primary,
            reason,
        } => {
            use crate::WriteConflictReason as R;
            let reason = match reason {
                R::Optimistic => write_conflict::Reason::Optimistic,
                R::PessimisticRetry => write_conflict::Reason::PessimisticRetry,
                R::SelfRolledBack => write_conflict::Reason::SelfRolledBack,
            };
            ke.conflict = Some(WriteConflict {
                start_ts: start_ts.into_inner(),
                conflict_ts: conflict_start_ts.into_inner(),
                key,
                primary,
                conflict_commit_ts: conflict_commit_ts.into_inner(),
                reason: reason as i32,
            })
        }
        Error::AlreadyExist { key } => ke.already_exist = Some(AlreadyExist { key }),
        Error::Deadlock {
            lock_ts,
            lock_key,
            deadlock_key_hash,
            wait_chain,
        } => {
            ke.deadlock = Some(Deadlock {
                lock_ts: lock_ts.into_inner(),
                lock_key,
                deadlock_key_hash,
                wait_chain: wait_chain
                    .into_iter()
                    .map(|w| WaitForEntry {
                        txn: w.txn,
                        wait_for_txn: w.wait_for_txn,
                        key_hash: w.key_hash,
                    })
                    .collect(),
            })
        }
        Error::CommitTsExpired {
            start_ts,
            commit_ts,
            key,
            min_commit_ts,
        } => {
            ke.commit_ts_expired = Some(CommitTsExpired {
                start_ts: start_ts.into_inner(),
                attempted_commit_ts: commit_ts.into_inner(),
                key,
                min_commit_ts: min_commit_ts.into_inner(),
            })
        }
        Error::TxnNotFound { start_ts, key } => {
            ke.txn_not_found = Some(TxnNotFound {
                start_ts: start_ts.into_inner(),
                primary_key: key,
            })
        }
        Error::TxnLockNotFound {
            start_ts,
            commit_ts,
            key,
        } => {
            ke.txn_lock_not_found = Some(TxnLockNotFound {
                start_ts: start_ts.into_inner(),
                commit_ts: commit_ts.into_inner(),
                key,
            })
        }
        Error::Committed {
            start_ts,
            commit_ts,
            key,
        } => {
            ke.committed = Some(Committed {
                start_ts: start_ts.into_inner(),
                commit_ts: commit_ts.into_inner(),
                key,
            })
        }
        Error::TxnTooOld { ts, safe_point } => {
            ke.txn_too_old = Some(TxnTooOld {
                ts: ts.into_inner(),
                safe_point: safe_point.into_inner(),
            })
        }
        e @ (Error::PessimisticLockRolledBack { .. } | Error::PessimisticLockNotFound { .. }) => {
            ke.retryable = e.to_string()
        }
        Error::Overflow(operation) => ke.overflow = operation,
        other => ke.abort = other.to_string(),
    }
    ke
}

/// A lock as the wire reports it.
pub fn lock_info_to_pb(info: &LockInfo) -> proto::kvrpcpb::LockInfo {
    proto::kvrpcpb::LockInfo {
        primary_lock: info.primary_lock.clone(),
        lock_version: info.lock_version.into_inner(),
        key: info.key.clone(),
        lock_ttl: info.lock_ttl,
        txn_size: info.txn_size,
        lock_type: match info.lock_type {
            LockType::Put => Op::Put,
            LockType::Delete => Op::Del,
            LockType::Lock => Op::Lock,
            LockType::Pessimistic => Op::PessimisticLock,
        } as i32,
        lock_for_update_ts: info.lock_for_update_ts.into_inner(),
        min_commit_ts: info.min_commit_ts.into_inner(),
    }
}

/// A lock the wire reports.
pub fn lock_info_from_pb(pb: &proto::kvrpcpb::LockInfo) -> LockInfo {
    LockInfo {
        primary_lock: pb.primary_lock.clone(),
        lock_version: TimeStamp::new(pb.lock_version),
        key: pb.key.clone(),
        lock_ttl: pb.lock_ttl,
        txn_size: pb.txn_size,
        lock_type: match Op::try_from(pb.lock_type).unwrap_or(Op::Put) {
            Op::Del => LockType::Delete,
            Op::Lock => LockType::Lock,
            Op::PessimisticLock => LockType::Pessimistic,
            _ => LockType::Put,
        },
        lock_for_update_ts: TimeStamp::new(pb.lock_for_update_ts),
        min_commit_ts: TimeStamp::new(pb.min_commit_ts),
    }
}

/// A gRPC failure: a broken connection is a transport error (the request
/// may or may not have been executed).
pub fn status_err(s: tonic::Status) -> Error {
    match s.code() {
        tonic::Code::InvalidArgument => Error::Kv(kv::Error::InvalidArgument(s.message().into())),
        _ => Error::Kv(kv::Error::Transport(format!(
            "{}: {}",
            s.code(),
            s.message()
        ))),
    }
}

/// Fails with the region error, if the response carries one.
pub fn check_region(re: Option<errorpb::Error>) -> Result<()> {
    match re {
        Some(e) => Err(Error::Kv(kv::Error::from_region_error(e))),
        None => Ok(()),
    }
}

/// Fails with the region error or the key error of a response.
pub fn check(re: Option<errorpb::Error>, ke: Option<KeyError>) -> Result<()> {
    check_region(re)?;
    match ke {
        Some(e) => Err(from_key_error(e)),
        None => Ok(()),
    }
}

/// The typed error a `KeyError` stands for.
pub fn from_key_error(e: KeyError) -> Error {
    use proto::kvrpcpb::write_conflict::Reason;
    if let Some(l) = e.locked {
        return Error::KeyIsLocked(lock_info_from_pb(&l));
    }
    if let Some(c) = e.conflict {
        let reason = match Reason::try_from(c.reason).unwrap_or(Reason::Optimistic) {
            Reason::Optimistic => crate::WriteConflictReason::Optimistic,
            Reason::PessimisticRetry => crate::WriteConflictReason::PessimisticRetry,
            Reason::SelfRolledBack => crate::WriteConflictReason::SelfRolledBack,
        };
        return Error::WriteConflict {
            start_ts: TimeStamp::new(c.start_ts),
            conflict_start_ts: TimeStamp::new(c.conflict_ts),
            conflict_commit_ts: TimeStamp::new(c.conflict_commit_ts),
            key: c.key,
            primary: c.primary,
            reason,
        };
    }
    if let Some(a) = e.already_exist {
        return Error::AlreadyExist { key: a.key };
    }
    if let Some(d) = e.deadlock {
        return Error::Deadlock {
            lock_ts: TimeStamp::new(d.lock_ts),
            lock_key: d.lock_key,
            deadlock_key_hash: d.deadlock_key_hash,
            wait_chain: d
                .wait_chain
                .into_iter()
                .map(|w| pd::WaitForEntry {
                    txn: w.txn,
                    wait_for_txn: w.wait_for_txn,
                    key_hash: w.key_hash,
                })
                .collect(),
        };
    }
    if let Some(c) = e.commit_ts_expired {
        return Error::CommitTsExpired {
            start_ts: TimeStamp::new(c.start_ts),
            commit_ts: TimeStamp::new(c.attempted_commit_ts),
            key: c.key,
            min_commit_ts: TimeStamp::new(c.min_commit_ts),
        };
    }
    if let Some(t) = e.txn_not_found {
        return Error::TxnNotFound {
            start_ts: TimeStamp::new(t.start_ts),
            key: t.primary_key,
        };
    }
    if let Some(t) = e.txn_lock_not_found {
        return Error::TxnLockNotFound {
            start_ts: TimeStamp::new(t.start_ts),
            commit_ts: TimeStamp::new(t.commit_ts),
            key: t.key,
        };
    }
    if let Some(c) = e.committed {
        return Error::Committed {
            start_ts: TimeStamp::new(c.start_ts),
            commit_ts: TimeStamp::new(c.commit_ts),
            key: c.key,
        };
    }
    if let Some(t) = e.txn_too_old {
        return Error::TxnTooOld {
            ts: TimeStamp::new(t.ts),
            safe_point: TimeStamp::new(t.safe_point),
        };
    }
    if !e.retryable.is_empty() {
        return Error::Retryable(e.retryable);
    }
    if !e.overflow.is_empty() {
        return Error::Overflow(e.overflow);
    }
    Error::Aborted(e.abort)
}
