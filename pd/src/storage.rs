//! # Metadata storage
//!
//! PD's durable state is small and keyed by kind:
//!
//! | key | value |
//! |---|---|
//! | `meta/bootstrapped` | present once the cluster is bootstrapped |
//! | `meta/id_end` | first id the id allocator has not reserved (u64 BE) |
//! | `meta/tso_bound` | upper bound of any issued physical time, ms (u64 BE) |
//! | `store/{id BE}` | `metapb::Store` (admin state Up/Offline/Tombstone) |
//! | `region/{id BE}` | `metapb::Region` (range, epoch, peers) |
//! | `gc/safe_point` | the txn safe point, a timestamp (u64 BE) |
//! | `gc/gc_safe_point` | the gc safe point, a timestamp (u64 BE; absent: 0) |
//! | `gc/min_start_ts/{client id}` | a client's min start ts and its ttl in ms (2 x u64 BE) |
//! | `rule/columnar/{rule id}` | `pdpb::ColumnarRule` (learners on columnar stores for a key range) |
//!
//! Only *metadata* is persisted: region leaders, flow statistics, store
//! heartbeat times and the deadlock detector's wait-for graph are soft state
//! that the next heartbeats and requests rebuild.
//!
//! The typed [`Storage`] sits on a tiny key-value [`MetaBackend`] so that the
//! cluster logic can be tested on [`MemBackend`] while the server uses
//! [`RocksBackend`]. Writes of allocator bounds and of the bootstrap record
//! are synced (they guard invariants across crashes); region updates are not
//! synced per write (RocksDB's WAL still survives a process crash, and a lost
//! region update is re-sent by the next heartbeat).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use prost::Message;
use proto::metapb;

use crate::error::{Error, Result};

/// One change in a write batch.
#[derive(Debug, Clone)]
pub enum WriteOp {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

/// The minimal ordered key-value store PD needs.
pub trait MetaBackend: Send + Sync {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Applies the batch atomically; `sync` waits for it to be durable.
    fn write(&self, batch: Vec<WriteOp>, sync: bool) -> Result<()>;
    /// All pairs whose key starts with `prefix`, in key order.
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Makes everything written so far durable.
    fn flush(&self) -> Result<()>;
    /// Releases the underlying files; later calls fail.
    fn close(&self);
}

/// RocksDB-backed metadata under `data_dir`.
pub struct RocksBackend {
    db: RwLock<Option<rocksdb::DB>>,
}

impl RocksBackend {
    pub fn open(path: &Path) -> Result<Self> {
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        opts.set_keep_log_file_num(4);
        let db = rocksdb::DB::open(&opts, path)?;
        Ok(RocksBackend {
            db: RwLock::new(Some(db)),
        })
    }

    fn with_db<T>(&self, f: impl FnOnce(&rocksdb::DB) -> Result<T>) -> Result<T> {
        match self.db.read().as_ref() {
            Some(db) => f(db),
            None => Err(Error::Storage("metadata storage is closed".into())),
        }
    }
}

impl MetaBackend for RocksBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with_db(|db| Ok(db.get(key)?))
    }

    fn write(&self, batch: Vec<WriteOp>, sync: bool) -> Result<()> {
        self.with_db(|db| {
            let mut wb = rocksdb::WriteBatch::default();
            for op in batch {
                match op {
                    WriteOp::Put(k, v) => wb.put(k, v),
                    WriteOp::Delete(k) => wb.delete(k),
                }
            }
            let mut opts = rocksdb::WriteOptions::default();
            opts.set_sync(sync);
            Ok(db.write_opt(wb, &opts)?)
        })
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.with_db(|db| {
            let mode = rocksdb::IteratorMode::From(prefix, rocksdb::Direction::Forward);
            let mut out = Vec::new();
            for item in db.iterator(mode) {
                let (k, v) = item?;
                if !k.starts_with(prefix) {
                    break;
                }
                out.push((k.to_vec(), v.to_vec()));
            }
            Ok(out)
        })
    }

    fn flush(&self) -> Result<()> {
        self.with_db(|db| {
            db.flush_wal(true)?;
            Ok(db.flush()?)
        })
    }

    fn close(&self) {
        if let Some(db) = self.db.write().take() {
            if let Err(e) = db.flush() {
                tracing::warn!(error = %e, "flushing metadata on close failed");
            }
            drop(db);
        }
    }
}

/// In-memory metadata, for tests.
#[derive(Default)]
pub struct MemBackend {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MetaBackend for MemBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.map.lock().get(key).cloned())
    }

    fn write(&self, batch: Vec<WriteOp>, _sync: bool) -> Result<()> {
        let mut map = self.map.lock();
        for op in batch {
            match op {
                WriteOp::Put(k, v) => map.insert(k, v),
                WriteOp::Delete(k) => map.remove(&k),
            };
        }
        Ok(())
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let map = self.map.lock();
        Ok(map
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }

    fn close(&self) {}
}

const BOOTSTRAPPED_KEY: &[u8] = b"meta/bootstrapped";
const ID_END_KEY: &[u8] = b"meta/id_end";
const TSO_BOUND_KEY: &[u8] = b"meta/tso_bound";
const STORE_PREFIX: &[u8] = b"store/";
const REGION_PREFIX: &[u8] = b"region/";
/// The txn safe point (the key predates the gc safe point).
const TXN_SAFE_POINT_KEY: &[u8] = b"gc/safe_point";
const GC_SAFE_POINT_KEY: &[u8] = b"gc/gc_safe_point";
const MIN_START_TS_PREFIX: &[u8] = b"gc/min_start_ts/";
const COLUMNAR_RULE_PREFIX: &[u8] = b"rule/columnar/";

fn min_start_ts_key(client_id: &str) -> Vec<u8> {
    let mut key = MIN_START_TS_PREFIX.to_vec();
    key.extend_from_slice(client_id.as_bytes());
    key
}

fn id_key(prefix: &[u8], id: u64) -> Vec<u8> {
    let mut key = prefix.to_vec();
    key.extend_from_slice(&id.to_be_bytes());
    key
}

fn decode_u64(value: Option<Vec<u8>>) -> Result<u64> {
    match value {
        None => Ok(0),
        Some(v) => {
            let bytes: [u8; 8] = v
                .as_slice()
                .try_into()
                .map_err(|_| Error::Storage(format!("corrupt u64 of {} bytes", v.len())))?;
            Ok(u64::from_be_bytes(bytes))
        }
    }
}

/// Typed access to PD's metadata. Cheap to clone.
#[derive(Clone)]
pub struct Storage {
    backend: Arc<dyn MetaBackend>,
}

impl Storage {
    pub fn new(backend: Arc<dyn MetaBackend>) -> Self {
        Storage { backend }
    }

    /// RocksDB storage in `dir` (created if missing).
    pub fn open_rocksdb(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Storage(format!("creating {}: {e}", dir.display())))?;
        Ok(Self::new(Arc::new(RocksBackend::open(dir)?)))
    }

    /// Empty in-memory storage.
    pub fn in_memory() -> Self {
        Self::new(Arc::new(MemBackend::default()))
    }

    pub fn is_bootstrapped(&self) -> Result<bool> {
        Ok(self.backend.get(BOOTSTRAPPED_KEY)?.is_some())
    }

    /// Records the first store, the first region and the bootstrapped flag in
    /// one durable batch: either all of them or none.
    pub fn save_bootstrap(&self, store: &metapb::Store, region: &metapb::Region) -> Result<()> {
        let batch = vec![
            WriteOp::Put(id_key(STORE_PREFIX, store.id), store.encode_to_vec()),
            WriteOp::Put(id_key(REGION_PREFIX, region.id), region.encode_to_vec()),
            WriteOp::Put(BOOTSTRAPPED_KEY.to_vec(), b"1".to_vec()),
        ];
        self.backend.write(batch, true)
    }

    pub fn load_stores(&self) -> Result<Vec<metapb::Store>> {
        self.backend
            .scan_prefix(STORE_PREFIX)?
            .into_iter()
            .map(|(_, v)| Ok(metapb::Store::decode(v.as_slice())?))
            .collect()
    }

    pub fn save_store(&self, store: &metapb::Store) -> Result<()> {
        let op = WriteOp::Put(id_key(STORE_PREFIX, store.id), store.encode_to_vec());
        self.backend.write(vec![op], true)
    }

    pub fn load_regions(&self) -> Result<Vec<metapb::Region>> {
        self.backend
            .scan_prefix(REGION_PREFIX)?
            .into_iter()
            .map(|(_, v)| Ok(metapb::Region::decode(v.as_slice())?))
            .collect()
    }

    /// Writes `put` and deletes `delete` (region ids) in one batch.
    pub fn save_regions(&self, put: &[&metapb::Region], delete: &[u64]) -> Result<()> {
        let mut batch: Vec<WriteOp> = put
            .iter()
            .map(|r| WriteOp::Put(id_key(REGION_PREFIX, r.id), r.encode_to_vec()))
            .collect();
        batch.extend(
            delete
                .iter()
                .map(|id| WriteOp::Delete(id_key(REGION_PREFIX, *id))),
        );
        if batch.is_empty() {
            return Ok(());
        }
        self.backend.write(batch, false)
    }

    pub fn load_columnar_rules(&self) -> Result<Vec<proto::pdpb::ColumnarRule>> {
        self.backend
            .scan_prefix(COLUMNAR_RULE_PREFIX)?
            .into_iter()
            .map(|(_, v)| Ok(proto::pdpb::ColumnarRule::decode(v.as_slice())?))
            .collect()
    }

    /// Saves the rule, or deletes it when its count is 0.
    pub fn save_columnar_rule(&self, rule: &proto::pdpb::ColumnarRule) -> Result<()> {
        let key = [COLUMNAR_RULE_PREFIX, rule.id.as_bytes()].concat();
        let op = if rule.count == 0 {
            WriteOp::Delete(key)
        } else {
            WriteOp::Put(key, rule.encode_to_vec())
        };
        self.backend.write(vec![op], true)
    }

    pub fn load_id_end(&self) -> Result<u64> {
        decode_u64(self.backend.get(ID_END_KEY)?)
    }

    pub fn save_id_end(&self, end: u64) -> Result<()> {
        let op = WriteOp::Put(ID_END_KEY.to_vec(), end.to_be_bytes().to_vec());
        self.backend.write(vec![op], true)
    }

    pub fn load_tso_bound(&self) -> Result<u64> {
        decode_u64(self.backend.get(TSO_BOUND_KEY)?)
    }

    pub fn save_tso_bound(&self, bound_ms: u64) -> Result<()> {
        let op = WriteOp::Put(TSO_BOUND_KEY.to_vec(), bound_ms.to_be_bytes().to_vec());
        self.backend.write(vec![op], true)
    }

    /// The txn safe point (see [`crate::gc`]); 0 if never saved.
    pub fn load_txn_safe_point(&self) -> Result<u64> {
        decode_u64(self.backend.get(TXN_SAFE_POINT_KEY)?)
    }

    pub fn save_txn_safe_point(&self, safe_point: u64) -> Result<()> {
        let op = WriteOp::Put(
            TXN_SAFE_POINT_KEY.to_vec(),
            safe_point.to_be_bytes().to_vec(),
        );
        self.backend.write(vec![op], true)
    }

    /// The gc safe point (see [`crate::gc`]); 0 if never saved.
    pub fn load_gc_safe_point(&self) -> Result<u64> {
        decode_u64(self.backend.get(GC_SAFE_POINT_KEY)?)
    }

    pub fn save_gc_safe_point(&self, safe_point: u64) -> Result<()> {
        let op = WriteOp::Put(
            GC_SAFE_POINT_KEY.to_vec(),
            safe_point.to_be_bytes().to_vec(),
        );
        self.backend.write(vec![op], true)
    }

    /// The registered `(client_id, min_start_ts, ttl_ms)` triples.
    pub fn load_min_start_ts(&self) -> Result<Vec<(String, u64, u64)>> {
        self.backend
            .scan_prefix(MIN_START_TS_PREFIX)?
            .into_iter()
            .map(|(k, v)| {
                let client_id = String::from_utf8(k[MIN_START_TS_PREFIX.len()..].to_vec())
                    .map_err(|_| Error::Storage("corrupt min start ts client id".into()))?;
                if v.len() != 16 {
                    return Err(Error::Storage(format!(
                        "corrupt min start ts of {} bytes",
                        v.len()
                    )));
                }
                let (ts, ttl) = v.split_at(8);
                Ok((
                    client_id,
                    decode_u64(Some(ts.to_vec()))?,
                    decode_u64(Some(ttl.to_vec()))?,
                ))
            })
            .collect()
    }

    pub fn save_min_start_ts(&self, client_id: &str, min_start_ts: u64, ttl_ms: u64) -> Result<()> {
        let mut value = min_start_ts.to_be_bytes().to_vec();
        value.extend_from_slice(&ttl_ms.to_be_bytes());
        let op = WriteOp::Put(min_start_ts_key(client_id), value);
        self.backend.write(vec![op], true)
    }

    pub fn delete_min_start_ts(&self, client_ids: &[&str]) -> Result<()> {
        if client_ids.is_empty() {
            return Ok(());
        }
        let batch = client_ids
            .iter()
            .map(|id| WriteOp::Delete(min_start_ts_key(id)))
            .collect();
        self.backend.write(batch, true)
    }

    pub fn flush(&self) -> Result<()> {
        self.backend.flush()
    }

    /// Flushes and releases the files (the RocksDB lock), even if clones of
    /// this handle are still alive somewhere; they fail from now on.
    pub fn close(&self) {
        self.backend.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(id: u64, start: &[u8]) -> metapb::Region {
        metapb::Region {
            id,
            start_key: start.to_vec(),
            ..Default::default()
        }
    }

    fn exercise(storage: &Storage) {
        assert!(!storage.is_bootstrapped().unwrap());
        let store = metapb::Store {
            id: 1,
            address: "a:1".into(),
            ..Default::default()
        };
        storage.save_bootstrap(&store, &region(2, b"")).unwrap();
        assert!(storage.is_bootstrapped().unwrap());
        storage
            .save_regions(&[&region(300, b"m"), &region(4, b"c")], &[2])
            .unwrap();
        let ids: Vec<u64> = storage
            .load_regions()
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, vec![4, 300]);
        assert_eq!(storage.load_stores().unwrap(), vec![store]);
        storage.save_id_end(1000).unwrap();
        storage.save_tso_bound(77).unwrap();
        assert_eq!(
            (
                storage.load_id_end().unwrap(),
                storage.load_tso_bound().unwrap()
            ),
            (1000, 77)
        );
        assert_eq!(storage.load_txn_safe_point().unwrap(), 0);
        assert_eq!(storage.load_gc_safe_point().unwrap(), 0);
        storage.save_txn_safe_point(55).unwrap();
        storage.save_gc_safe_point(44).unwrap();
        assert_eq!(storage.load_txn_safe_point().unwrap(), 55);
        assert_eq!(storage.load_gc_safe_point().unwrap(), 44);
        storage.save_min_start_ts("sql-1", 90, 5000).unwrap();
        storage.save_min_start_ts("sql-2", 80, 3000).unwrap();
        storage.save_min_start_ts("gone", 70, 3000).unwrap();
        storage.delete_min_start_ts(&["gone"]).unwrap();
        assert_eq!(
            storage.load_min_start_ts().unwrap(),
            vec![("sql-1".into(), 90, 5000), ("sql-2".into(), 80, 3000)]
        );
    }

    #[test]
    fn memory_backend() {
        exercise(&Storage::in_memory());
    }

    #[test]
    fn rocksdb_backend_persists_and_closes() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open_rocksdb(dir.path()).unwrap();
        exercise(&storage);
        let clone = storage.clone();
        storage.close();
        assert!(clone.load_id_end().is_err(), "closed storage refuses work");
        let reopened = Storage::open_rocksdb(dir.path()).unwrap();
        assert!(reopened.is_bootstrapped().unwrap());
        assert_eq!(reopened.load_regions().unwrap().len(), 2);
        assert_eq!(reopened.load_tso_bound().unwrap(), 77);
        assert_eq!(reopened.load_txn_safe_point().unwrap(), 55);
        assert_eq!(reopened.load_gc_safe_point().unwrap(), 44);
        assert_eq!(reopened.load_min_start_ts().unwrap().len(), 2);
    }
}
