//! # The transaction write buffer
//!
//! Actions never write to the engine. They read through an
//! [`MvccReader`](super::MvccReader) and describe their effect as
//! [`Modify`]s collected in an [`MvccTxn`]; the scheduler proposes those
//! through Raft, and the apply step writes them to every replica in one
//! atomic batch. Keeping the actions pure is what makes them deterministic
//! and testable without a cluster.
//!
//! Keys in a [`Modify`] are encoded MVCC keys *without* kv's `z` data prefix
//! (the raft apply adds it): `enc(k)` in `lock`, `enc(k) ++ !commit_ts` in
//! `write`, `enc(k) ++ !start_ts` in `default`.
//!
//! Follows TiKV's `src/storage/mvcc/txn.rs` (`MvccTxn`) and the
//! `engine_traits::Modify` it produces.

use kv::engine::{CF_DEFAULT, CF_LOCK, CF_WRITE, Engine, WriteBatch};
use kv::keys;

use crate::Result;
use crate::types::{Key, Lock, TimeStamp, Value};

/// One engine write, keyed without the data prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modify {
    Put {
        cf: &'static str,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        cf: &'static str,
        key: Vec<u8>,
    },
}

impl Modify {
    pub fn cf(&self) -> &'static str {
        match self {
            Modify::Put { cf, .. } | Modify::Delete { cf, .. } => cf,
        }
    }

    pub fn key(&self) -> &[u8] {
        match self {
            Modify::Put { key, .. } | Modify::Delete { key, .. } => key,
        }
    }

    /// Bytes of key and value.
    pub fn size(&self) -> usize {
        match self {
            Modify::Put { key, value, .. } => key.len() + value.len(),
            Modify::Delete { key, .. } => key.len(),
        }
    }
}

/// A lock kept back from the `lock` CF for a one-phase commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnePcLock {
    pub key: Key,
    pub lock: Lock,
    /// A pessimistic lock of the transaction is in the `lock` CF and must
    /// go when the key commits.
    pub remove_pessimistic_lock: bool,
}

/// The writes of one command, for one transaction (`start_ts`).
#[derive(Debug, Default)]
pub struct MvccTxn {
    pub start_ts: TimeStamp,
    modifies: Vec<Modify>,
    /// Locks of a 1PC prewrite, turned into write records by
    /// [`commit_1pc`](crate::actions::commit_1pc) instead of being written.
    pub locks_for_1pc: Vec<OnePcLock>,
    write_size: usize,
}

impl MvccTxn {
    pub fn new(start_ts: TimeStamp) -> MvccTxn {
        MvccTxn {
            start_ts,
            ..MvccTxn::default()
        }
    }

    fn push(&mut self, modify: Modify) {
        self.write_size += modify.size();
        self.modifies.push(modify);
    }

    pub fn put_lock(&mut self, key: Key, lock: &Lock) {
        self.push(Modify::Put {
            cf: CF_LOCK,
            key: key.into_encoded(),
            value: lock.to_bytes(),
        });
    }

    pub fn unlock_key(&mut self, key: Key) {
        self.push(Modify::Delete {
            cf: CF_LOCK,
            key: key.into_encoded(),
        });
    }

    /// Stores a long value at `enc(key) ++ !ts` in the `default` CF.
    pub fn put_value(&mut self, key: Key, ts: TimeStamp, value: Value) {
        self.push(Modify::Put {
            cf: CF_DEFAULT,
            key: key.append_ts(ts).into_encoded(),
            value,
        });
    }

    pub fn delete_value(&mut self, key: Key, ts: TimeStamp) {
        self.push(Modify::Delete {
            cf: CF_DEFAULT,
            key: key.append_ts(ts).into_encoded(),
        });
    }

    /// Stores a write record (already encoded) at `enc(key) ++ !commit_ts`.
    pub fn put_write(&mut self, key: Key, commit_ts: TimeStamp, write: Vec<u8>) {
        self.push(Modify::Put {
            cf: CF_WRITE,
            key: key.append_ts(commit_ts).into_encoded(),
            value: write,
        });
    }

    pub fn delete_write(&mut self, key: Key, commit_ts: TimeStamp) {
        self.push(Modify::Delete {
            cf: CF_WRITE,
            key: key.append_ts(commit_ts).into_encoded(),
        });
    }

    pub fn modifies(&self) -> &[Modify] {
        &self.modifies
    }

    pub fn into_modifies(self) -> Vec<Modify> {
        self.modifies
    }

    /// Bytes of keys and values buffered so far.
    pub fn write_size(&self) -> usize {
        self.write_size
    }

    pub fn is_empty(&self) -> bool {
        self.modifies.is_empty() && self.locks_for_1pc.is_empty()
    }
}

/// The engine batch for `modifies`, with the data prefix added.
pub fn write_batch_from_modifies(modifies: &[Modify]) -> WriteBatch {
    let mut wb = WriteBatch::default();
    for m in modifies {
        match m {
            Modify::Put { cf, key, value } => wb.put(cf, keys::data_key(key), value.clone()),
            Modify::Delete { cf, key } => wb.delete(cf, keys::data_key(key)),
        }
    }
    wb
}

/// Writes `modifies` to `engine` directly, bypassing Raft (tests and
/// single-node tools).
pub fn apply_modifies_to(engine: &dyn Engine, modifies: &[Modify]) -> Result<()> {
    let wb = write_batch_from_modifies(modifies);
    if !wb.is_empty() {
        engine.write(&wb, false)?;
    }
    Ok(())
}
