//! # Storage engines
//!
//! A kv store keeps everything in one ordered key-value engine with four
//! column families, as TiKV does:
//!
//! | cf | holds |
//! |---|---|
//! | `default` | raw KV values; later the long values of transactions |
//! | `lock` | Percolator locks (used by the transaction layer) |
//! | `write` | Percolator commit records (used by the transaction layer) |
//! | `raft` | raft logs, hard states, region and apply states (see [`crate::keys`]) |
//!
//! The raftstore only needs three things from an engine: point reads and
//! ordered scans ([`Peekable`]), consistent point-in-time [`Snapshot`]s, and
//! atomic [`WriteBatch`]es across column families with an optional fsync.
//! Atomicity across column families is what lets the apply step write user
//! data and the apply state in one batch, so a restart never applies an entry
//! twice.
//!
//! Two implementations: [`RocksEngine`] for real stores and [`MemoryEngine`]
//! for tests. The trait does not mention RocksDB.

mod memory;
mod rocks;

use std::sync::Arc;

pub use memory::MemoryEngine;
pub use rocks::RocksEngine;

use crate::Result;

pub const CF_DEFAULT: &str = "default";
pub const CF_LOCK: &str = "lock";
pub const CF_WRITE: &str = "write";
pub const CF_RAFT: &str = "raft";
/// The column families that hold region data (everything but `raft`).
pub const DATA_CFS: [&str; 3] = [CF_DEFAULT, CF_LOCK, CF_WRITE];
pub const ALL_CFS: [&str; 4] = [CF_DEFAULT, CF_LOCK, CF_WRITE, CF_RAFT];

/// Reads from an engine or from a snapshot of it.
pub trait Peekable: Send + Sync {
    fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Calls `f` with every pair in `[start, end)` — ascending, or descending
    /// when `reverse` — until it returns `false`. An empty `end` means no
    /// upper bound.
    fn scan_ordered(
        &self,
        cf: &str,
        start: &[u8],
        end: &[u8],
        reverse: bool,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()>;

    /// [`Peekable::scan_ordered`] in ascending order.
    fn scan(
        &self,
        cf: &str,
        start: &[u8],
        end: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        self.scan_ordered(cf, start, end, false, f)
    }

    /// [`Peekable::scan_ordered`] in descending order.
    fn scan_reverse(
        &self,
        cf: &str,
        start: &[u8],
        end: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        self.scan_ordered(cf, start, end, true, f)
    }
}

/// A consistent, immutable view of the engine at one point in time.
pub trait Snapshot: Peekable + 'static {}

pub type SnapshotRef = Arc<dyn Snapshot>;
pub type EngineRef = Arc<dyn Engine>;

pub trait Engine: Peekable + 'static {
    fn snapshot(&self) -> SnapshotRef;

    /// Writes the batch atomically; with `sync` it is durable (fsync'd WAL)
    /// when this returns.
    fn write(&self, batch: &WriteBatch, sync: bool) -> Result<()>;

    /// Approximate bytes on disk, for store heartbeats.
    fn used_size(&self) -> u64;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOp {
    Put {
        cf: &'static str,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        cf: &'static str,
        key: Vec<u8>,
    },
    DeleteRange {
        cf: &'static str,
        start: Vec<u8>,
        end: Vec<u8>,
    },
}

/// Writes applied atomically, in order.
#[derive(Debug, Default, Clone)]
pub struct WriteBatch {
    ops: Vec<BatchOp>,
    data_size: usize,
}

impl WriteBatch {
    pub fn put(&mut self, cf: &'static str, key: Vec<u8>, value: Vec<u8>) {
        self.data_size += key.len() + value.len();
        self.ops.push(BatchOp::Put { cf, key, value });
    }

    pub fn delete(&mut self, cf: &'static str, key: Vec<u8>) {
        self.data_size += key.len();
        self.ops.push(BatchOp::Delete { cf, key });
    }

    /// Deletes `[start, end)`.
    pub fn delete_range(&mut self, cf: &'static str, start: Vec<u8>, end: Vec<u8>) {
        self.data_size += start.len() + end.len();
        self.ops.push(BatchOp::DeleteRange { cf, start, end });
    }

    pub fn ops(&self) -> &[BatchOp] {
        &self.ops
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Bytes of keys and values in the batch.
    pub fn data_size(&self) -> usize {
        self.data_size
    }

    pub fn clear(&mut self) {
        self.ops.clear();
        self.data_size = 0;
    }
}

/// Maps a column family name to its `&'static str`, rejecting unknown ones.
pub fn static_cf(name: &str) -> Option<&'static str> {
    ALL_CFS.into_iter().find(|cf| *cf == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(engine: EngineRef) {
        let mut wb = WriteBatch::default();
        for i in 0..10u8 {
            wb.put(CF_DEFAULT, vec![b'k', i], vec![i]);
        }
        wb.put(CF_RAFT, b"r".to_vec(), b"1".to_vec());
        engine.write(&wb, true).unwrap();
        let snap = engine.snapshot();

        let mut wb = WriteBatch::default();
        wb.delete(CF_DEFAULT, vec![b'k', 0]);
        wb.delete_range(CF_DEFAULT, vec![b'k', 5], vec![b'k', 8]);
        engine.write(&wb, false).unwrap();

        // The snapshot still sees the old state.
        assert_eq!(snap.get(CF_DEFAULT, &[b'k', 0]).unwrap(), Some(vec![0]));
        let mut n = 0;
        snap.scan(CF_DEFAULT, b"", b"", &mut |_, _| {
            n += 1;
            true
        })
        .unwrap();
        assert_eq!(n, 10);

        let mut keys = vec![];
        engine
            .scan(CF_DEFAULT, &[b'k', 1], &[b'k', 9], &mut |k, _| {
                keys.push(k[1]);
                true
            })
            .unwrap();
        assert_eq!(keys, vec![1, 2, 3, 4, 8]);

        let mut rev = vec![];
        engine
            .scan_reverse(CF_DEFAULT, b"", b"", &mut |k, _| {
                rev.push(k[1]);
                rev.len() < 3
            })
            .unwrap();
        assert_eq!(rev, vec![9, 8, 4]);
        assert_eq!(engine.get(CF_RAFT, b"r").unwrap(), Some(b"1".to_vec()));
        assert_eq!(engine.get(CF_DEFAULT, b"r").unwrap(), None);
    }

    #[test]
    fn memory_engine_contract() {
        exercise(Arc::new(MemoryEngine::new()));
    }

    #[test]
    fn rocks_engine_contract() {
        let dir = tempfile::tempdir().unwrap();
        exercise(Arc::new(RocksEngine::open(dir.path()).unwrap()));
    }
}
