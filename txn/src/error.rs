//! The txn crate's error type. The variants a client acts on carry what it
//! needs (the lock to resolve, the conflicting commit, the commit record),
//! and their messages follow TiKV's `storage/mvcc/mod.rs` `ErrorInner`.
//! Keys in errors are raw user keys.

// One item a line: the record decoders in `types` return these errors, so
// this file depends on the three files it names (a `{..}` list reads to
// `.ci/imports.py` as a dependency on all of `types`, a circle).
use crate::types::LockInfo;
use crate::types::TimeStamp;
use crate::types::escape;

/// Why a write conflict was reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteConflictReason {
    /// An optimistic prewrite found a commit newer than its start_ts.
    Optimistic,
    /// A pessimistic lock request found a commit newer than its
    /// for_update_ts; the statement retries with a newer for_update_ts.
    PessimisticRetry,
    /// The transaction's own rollback record was found.
    SelfRolledBack,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("key is locked (backoff or cleanup): {0}")]
    KeyIsLocked(LockInfo),
    #[error(
        "write conflict, start_ts: {start_ts}, conflict_start_ts: {conflict_start_ts}, \
         conflict_commit_ts: {conflict_commit_ts}, key: {}, primary: {}, reason: {reason:?}",
        escape(.key), escape(.primary)
    )]
    WriteConflict {
        start_ts: TimeStamp,
        conflict_start_ts: TimeStamp,
        conflict_commit_ts: TimeStamp,
        key: Vec<u8>,
        primary: Vec<u8>,
        reason: WriteConflictReason,
    },
    #[error("txn lock not found {start_ts}-{commit_ts} key: {}", escape(.key))]
    TxnLockNotFound {
        start_ts: TimeStamp,
        commit_ts: TimeStamp,
        key: Vec<u8>,
    },
    #[error(
        "txn already committed, start_ts: {start_ts}, commit_ts: {commit_ts}, key: {}",
        escape(.key)
    )]
    Committed {
        start_ts: TimeStamp,
        commit_ts: TimeStamp,
        key: Vec<u8>,
    },
    #[error("pessimistic lock already rollbacked, start_ts: {start_ts}, key: {}", escape(.key))]
    PessimisticLockRolledBack { start_ts: TimeStamp, key: Vec<u8> },
    #[error("pessimistic lock not found, start_ts: {start_ts}, key: {}", escape(.key))]
    PessimisticLockNotFound { start_ts: TimeStamp, key: Vec<u8> },
    #[error("key {} already exists", escape(.key))]
    AlreadyExist { key: Vec<u8> },
    #[error(
        "try to commit key {} with commit_ts {commit_ts} but min_commit_ts is {min_commit_ts}, \
         start_ts: {start_ts}",
        escape(.key)
    )]
    CommitTsExpired {
        start_ts: TimeStamp,
        commit_ts: TimeStamp,
        key: Vec<u8>,
        min_commit_ts: TimeStamp,
    },
    #[error("txn not found, start_ts: {start_ts}, primary key: {}", escape(.key))]
    TxnNotFound { start_ts: TimeStamp, key: Vec<u8> },
    #[error("invalid timestamps: commit_ts {commit_ts} must be greater than start_ts {start_ts}")]
    InvalidTxnTso {
        start_ts: TimeStamp,
        commit_ts: TimeStamp,
    },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("codec: {0}")]
    Codec(#[from] codec::Error),
    #[error("bad format: {0}")]
    BadFormat(String),
    #[error("read or write at {ts} is below the GC safe point {safe_point}")]
    TxnTooOld {
        ts: TimeStamp,
        safe_point: TimeStamp,
    },
    #[error(
        "deadlock: waiting for the lock of txn {lock_ts} on key {} would close a cycle \
         (key hash {deadlock_key_hash})",
        escape(.lock_key)
    )]
    Deadlock {
        lock_ts: TimeStamp,
        lock_key: Vec<u8>,
        deadlock_key_hash: u64,
        wait_chain: Vec<pd::WaitForEntry>,
    },
    #[error("lock wait timeout on key {} held by txn {lock_ts}", escape(.key))]
    LockWaitTimeout { key: Vec<u8>, lock_ts: TimeStamp },
    /// The primary's commit was sent but its outcome is unknown: the
    /// transaction may or may not have committed.
    #[error("commit outcome undetermined: {0}")]
    Undetermined(String),
    /// A transient condition reported by a store; retrying may succeed.
    #[error("retryable: {0}")]
    Retryable(String),
    /// Checked integer arithmetic in a pushed-down filter or plan left its
    /// type (MySQL's error 1690): the operation, as `a + b`.
    #[error("BIGINT value is out of range in '({0})'")]
    Overflow(String),
    /// The caller's condition on the commit ts did not hold (the SQL
    /// layer's schema check): rolled back, nothing written.
    #[error("{0}")]
    CommitCheck(Box<dyn std::error::Error + Send + Sync>),
    /// The transaction cannot go on (a store reported a failure, or it was
    /// used after commit or rollback).
    #[error("transaction aborted: {0}")]
    Aborted(String),
    #[error("kv: {0}")]
    Kv(#[from] kv::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

/// A pushed-down fragment's error as the store (or the client running the
/// fragment itself) reports it: the variant of the same name, and a failed
/// evaluation as [`Error::Aborted`].
impl From<copr::Error> for Error {
    fn from(e: copr::Error) -> Error {
        match e {
            copr::Error::InvalidArgument(m) => Error::InvalidArgument(m),
            copr::Error::BadFormat(m) => Error::BadFormat(m),
            copr::Error::Eval(m) => Error::Aborted(m),
            copr::Error::Overflow(operation) => Error::Overflow(operation),
            copr::Error::Codec(c) => Error::Codec(c),
        }
    }
}
