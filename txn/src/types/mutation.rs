//! # Mutations
//!
//! What a transaction asks prewrite to do to one key (kvrpcpb `Mutation`,
//! TiKV's `txn_types::Mutation`).

use super::{Key, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    Put(Key, Value),
    Delete(Key),
    /// Lock the key without changing it (commits to a `Lock` record).
    Lock(Key),
    /// A `Put` that fails with `AlreadyExist` if the key has a value.
    Insert(Key, Value),
    /// Only check that the key has no value; writes nothing.
    CheckNotExists(Key),
}

impl Mutation {
    pub fn key(&self) -> &Key {
        match self {
            Mutation::Put(k, _)
            | Mutation::Delete(k)
            | Mutation::Lock(k)
            | Mutation::Insert(k, _)
            | Mutation::CheckNotExists(k) => k,
        }
    }

    /// The key and the value to write, if any.
    pub fn into_key_value(self) -> (Key, Option<Value>) {
        match self {
            Mutation::Put(k, v) | Mutation::Insert(k, v) => (k, Some(v)),
            Mutation::Delete(k) | Mutation::Lock(k) | Mutation::CheckNotExists(k) => (k, None),
        }
    }

    /// Whether the key must not have a value.
    pub fn should_not_exist(&self) -> bool {
        matches!(self, Mutation::Insert(..) | Mutation::CheckNotExists(_))
    }

    /// Whether prewrite writes nothing for this mutation.
    pub fn should_not_write(&self) -> bool {
        matches!(self, Mutation::CheckNotExists(_))
    }

    /// The lock prewrite leaves, if any.
    pub fn lock_type(&self) -> Option<super::LockType> {
        use super::LockType;
        match self {
            Mutation::Put(..) | Mutation::Insert(..) => Some(LockType::Put),
            Mutation::Delete(_) => Some(LockType::Delete),
            Mutation::Lock(_) => Some(LockType::Lock),
            Mutation::CheckNotExists(_) => None,
        }
    }
}
