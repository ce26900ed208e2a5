//! The RocksDB engine: one database with the four column families.
//!
//! Snapshots hold an `Arc` of the database so they can outlive the call that
//! took them and move between threads (the raftstore takes a snapshot on its
//! loop thread and a gRPC handler reads from it).

use std::mem::ManuallyDrop;
use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamilyDescriptor, DB, IteratorMode, Options, ReadOptions, WriteOptions};

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

fn read_opts(start: &[u8], end: &[u8]) -> ReadOptions {
    let mut opts = ReadOptions::default();
    opts.set_iterate_lower_bound(start.to_vec());
    if !end.is_empty() {
        opts.set_iterate_upper_bound(end.to_vec());
    }
    opts
}

/// Iterates with `opts` (whose bounds are `[start, end)`) in one direction.
fn iterate(
    iter: rocksdb::DBIteratorWithThreadMode<'_, DB>,
    f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> Result<()> {
    for item in iter {
        let (k, v) = item?;
        if !f(&k, &v) {
            break;
        }
    }
    Ok(())
}

impl Peekable for RocksEngine {
    fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(cf)?, key)?)
    }

    fn scan(
        &self,
        cf: &str,
        s: &[u8],
        e: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        if !e.is_empty() && s >= e {
            return Ok(());
        }
        iterate(
            self.db
                .iterator_cf_opt(self.cf(cf)?, read_opts(s, e), IteratorMode::Start),
            f,
        )
    }

    fn scan_reverse(
        &self,
        cf: &str,
        s: &[u8],
        e: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        if !e.is_empty() && s >= e {
            return Ok(());
        }
        iterate(
            self.db
                .iterator_cf_opt(self.cf(cf)?, read_opts(s, e), IteratorMode::End),
            f,
        )
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
        Ok(self.snap.get_cf(cf_handle(&self.db, cf)?, key)?)
    }

    fn scan(
        &self,
        cf: &str,
        s: &[u8],
        e: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        if !e.is_empty() && s >= e {
            return Ok(());
        }
        let cf = cf_handle(&self.db, cf)?;
        iterate(
            self.snap
                .iterator_cf_opt(cf, read_opts(s, e), IteratorMode::Start),
            f,
        )
    }

    fn scan_reverse(
        &self,
        cf: &str,
        s: &[u8],
        e: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        if !e.is_empty() && s >= e {
            return Ok(());
        }
        let cf = cf_handle(&self.db, cf)?;
        iterate(
            self.snap
                .iterator_cf_opt(cf, read_opts(s, e), IteratorMode::End),
            f,
        )
    }
}

impl Snapshot for RocksSnapshot {}
