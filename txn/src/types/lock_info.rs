//! # Lock types and lock reports
//!
//! [`LockType`] says what a lock will become when committed; its flag byte
//! opens a lock record (see [`Lock`](super::Lock) for the layout).
//! [`LockInfo`] is a lock as a blocked reader or writer reports it to the
//! client, and what [`Error::KeyIsLocked`](crate::Error::KeyIsLocked)
//! carries. Neither decodes anything, so errors can name them without
//! depending on the record formats.

use std::fmt;

use super::timestamp::TimeStamp;
use super::value::escape;

const FLAG_PUT: u8 = b'P';
const FLAG_DELETE: u8 = b'D';
const FLAG_LOCK: u8 = b'L';
const FLAG_PESSIMISTIC: u8 = b'S';

/// What a lock will become when committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockType {
    Put,
    Delete,
    /// A read lock (`SELECT ... FOR UPDATE` in optimistic mode): commits to
    /// a `Lock` write record that carries no data.
    Lock,
    /// A pessimistic lock, taken before prewrite; turns into one of the
    /// others at prewrite.
    Pessimistic,
}

impl LockType {
    pub fn to_u8(self) -> u8 {
        match self {
            LockType::Put => FLAG_PUT,
            LockType::Delete => FLAG_DELETE,
            LockType::Lock => FLAG_LOCK,
            LockType::Pessimistic => FLAG_PESSIMISTIC,
        }
    }

    pub fn from_u8(b: u8) -> Option<LockType> {
        match b {
            FLAG_PUT => Some(LockType::Put),
            FLAG_DELETE => Some(LockType::Delete),
            FLAG_LOCK => Some(LockType::Lock),
            FLAG_PESSIMISTIC => Some(LockType::Pessimistic),
            _ => None,
        }
    }
}

/// A lock as reported to clients (kvrpcpb `LockInfo`). Keys are raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    pub primary_lock: Vec<u8>,
    pub lock_version: TimeStamp,
    pub key: Vec<u8>,
    pub lock_ttl: u64,
    pub txn_size: u64,
    pub lock_type: LockType,
    pub lock_for_update_ts: TimeStamp,
    pub min_commit_ts: TimeStamp,
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "key={} primary={} start={} ttl={} type={:?}",
            escape(&self.key),
            escape(&self.primary_lock),
            self.lock_version,
            self.lock_ttl,
            self.lock_type
        )?;
        if !self.lock_for_update_ts.is_zero() {
            write!(f, " for_update={}", self.lock_for_update_ts)?;
        }
        if self.txn_size > 0 {
            write!(f, " txn_size={}", self.txn_size)?;
        }
        if !self.min_commit_ts.is_zero() {
            write!(f, " min_commit={}", self.min_commit_ts)?;
        }
        Ok(())
    }
}
