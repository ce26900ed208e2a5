//! The RocksDB engine: one database with the four column families.
//!
//! Snapshots hold an `Arc` of the database so they can outlive the call that
//! took them and move between threads (the raftstore takes a snapshot on its
//! loop thread and a gRPC handler reads from it).

use std::mem::ManuallyDrop;
use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamilyDescriptor, DB, Options, ReadOptions, WriteOptions};

use super::{ALL_CFS, BatchOp, Engine, Peekable, Snapshot, SnapshotRef, WriteBatch};
use crate::{Error, Result};

#[derive(Clone)]
pub struct RocksEngine {
    db: Arc<DB>,
}

impl From<rocksdb::Error> for Error {
    fn from(e: rocksdb::Error) -> Self {
        Error::Engine(e.to_string())
    }
}

impl RocksEngine {
    pub fn open(path: &Path) -> Result<Self> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        opts.set_max_background_jobs(2);
        let cfs = ALL_CFS.iter().map(|name| {
            let mut cf_opts = Options::default();
            cf_opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
            ColumnFamilyDescriptor::new(*name, cf_opts)
        });
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        Ok(RocksEngine { db: Arc::new(db) })
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily> {
        cf_handle(&self.db, name)
    }
}

fn cf_handle<'a>(db: &'a DB, name: &str) -> Result<&'a rocksdb::ColumnFamily> {
    db.cf_handle(name)
        .ok_or_else(|| Error::Engine(format!("unknown column family {name}")))
}

/// Read options over `[start, end)`, at `snap` if given.
fn read_opts(start: &[u8], end: &[u8], snap: Option<&rocksdb::Snapshot<'_>>) -> ReadOptions {
    let mut opts = ReadOptions::default();
    opts.set_iterate_lower_bound(start.to_vec());
    if !end.is_empty() {
        opts.set_iterate_upper_bound(end.to_vec());
    }
    if let Some(snap) = snap {
        opts.set_snapshot(snap);
    }
    opts
}

/// The one read path of the engine and its snapshots.
fn get(
    db: &DB,
    snap: Option<&rocksdb::Snapshot<'_>>,
    cf: &str,
    key: &[u8],
) -> Result<Option<Vec<u8>>> {
    let mut opts = ReadOptions::default();
    if let Some(snap) = snap {
        opts.set_snapshot(snap);
    }
    Ok(db.get_cf_opt(cf_handle(db, cf)?, key, &opts)?)
}

fn scan(
    db: &DB,
    snap: Option<&rocksdb::Snapshot<'_>>,
    cf: &str,
    (start, end): (&[u8], &[u8]),
    reverse: bool,
    f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> Result<()> {
    if !end.is_empty() && start >= end {
        return Ok(());
    }
    // A raw iterator hands out slices of RocksDB's buffers: no copy of
    // each key and value, as the owning iterator makes.
    let mut it = db.raw_iterator_cf_opt(cf_handle(db, cf)?, read_opts(start, end, snap));
    if reverse {
        it.seek_to_last();
    } else {
        it.seek_to_first();
    }
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        if !f(k, v) {
            return Ok(());
        }
        if reverse {
            it.prev();
        } else {
            it.next();
        }
    }
    Ok(it.status()?)
}

impl Peekable for RocksEngine {
    fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        get(&self.db, None, cf, key)
    }

    fn scan_ordered(
        &self,
        cf: &str,
        s: &[u8],
        e: &[u8],
        reverse: bool,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        scan(&self.db, None, cf, (s, e), reverse, f)
    }
}

impl Engine for RocksEngine {
    fn snapshot(&self) -> SnapshotRef {
        let snap = self.db.snapshot();
        // SAFETY: the snapshot borrows the database, which `db` keeps alive
        // for as long as the `RocksSnapshot` exists; `Drop` releases the
        // snapshot before the `Arc` can drop the database.
        let snap: rocksdb::Snapshot<'static> = unsafe { std::mem::transmute(snap) };
        Arc::new(RocksSnapshot {
            snap: ManuallyDrop::new(snap),
            db: self.db.clone(),
        })
    }

    fn write(&self, batch: &WriteBatch, sync: bool) -> Result<()> {
        let mut wb = rocksdb::WriteBatch::default();
        for op in batch.ops() {
            match op {
                BatchOp::Put { cf, key, value } => wb.put_cf(self.cf(cf)?, key, value),
                BatchOp::Delete { cf, key } => wb.delete_cf(self.cf(cf)?, key),
                BatchOp::DeleteRange { cf, start, end } => {
                    wb.delete_range_cf(self.cf(cf)?, start, end)
                }
            }
        }
        let mut opts = WriteOptions::default();
        opts.set_sync(sync);
        self.db.write_opt(wb, &opts)?;
        Ok(())
    }

    fn used_size(&self) -> u64 {
        ALL_CFS
            .iter()
            .filter_map(|cf| {
                let handle = self.db.cf_handle(cf)?;
                self.db
                    .property_int_value_cf(handle, "rocksdb.total-sst-files-size")
                    .ok()
                    .flatten()
            })
            .sum()
    }
}

struct RocksSnapshot {
    snap: ManuallyDrop<rocksdb::Snapshot<'static>>,
    db: Arc<DB>,
}

impl Drop for RocksSnapshot {
    fn drop(&mut self) {
        // SAFETY: dropped exactly once, before `db`.
        unsafe { ManuallyDrop::drop(&mut self.snap) };
    }
}

impl Peekable for RocksSnapshot {
    fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        get(&self.db, Some(&self.snap), cf, key)
    }

    fn scan_ordered(
        &self,
        cf: &str,
        s: &[u8],
        e: &[u8],
        reverse: bool,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        scan(&self.db, Some(&self.snap), cf, (s, e), reverse, f)
    }
}

impl Snapshot for RocksSnapshot {}
