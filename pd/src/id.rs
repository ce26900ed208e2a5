//! # Id allocator
//!
//! Store ids, region ids and peer ids all come from one cluster-wide counter,
//! so an id names exactly one thing for the life of the cluster, also across
//! PD restarts. Ids start at 1 (0 means "none" on the wire).
//!
//! As with the TSO bound, persisting every id would cost one durable write
//! per id. Instead the allocator reserves a *step* of ids (1000) at a time:
//! it persists `end`, the first id it may not hand out, and then serves
//! `next..end` from memory. A restart resumes at the persisted `end`; the ids
//! the previous incarnation reserved but never handed out are skipped, never
//! reused.
//!
//! ```text
//!   handed out | reserved, in memory |  untouched
//!  ------------+---------------------+----------->
//!            next                   end (persisted)
//! ```

use parking_lot::Mutex;

use crate::error::Result;
use crate::storage::Storage;

/// How many ids are reserved by one durable write.
pub const DEFAULT_ID_STEP: u64 = 1000;

/// The id state machine; persistence is passed in.
#[derive(Debug)]
pub struct IdAllocator {
    next: u64,
    end: u64,
    step: u64,
}

impl IdAllocator {
    /// Resumes after a persisted `end` (0 for a new cluster).
    pub fn new(persisted_end: u64, step: u64) -> Self {
        let start = persisted_end.max(1);
        IdAllocator {
            next: start,
            end: start,
            step: step.max(1),
        }
    }

    /// The next id. When the reserved range is used up, `save` is called with
    /// a new end to persist first; if it fails, no id is handed out.
    pub fn alloc(&mut self, save: impl FnOnce(u64) -> Result<()>) -> Result<u64> {
        if self.next >= self.end {
            let end = self.next + self.step;
            save(end)?;
            self.end = end;
        }
        let id = self.next;
        self.next += 1;
        Ok(id)
    }
}

/// The id shell: allocator plus its durable end.
pub struct IdService {
    alloc: Mutex<IdAllocator>,
    storage: Storage,
}

impl IdService {
    /// Resumes from the end persisted in `storage`.
    pub fn load(storage: Storage) -> Result<Self> {
        let end = storage.load_id_end()?;
        tracing::info!(resume_at = end.max(1), "id allocator loaded");
        Ok(IdService {
            alloc: Mutex::new(IdAllocator::new(end, DEFAULT_ID_STEP)),
            storage,
        })
    }

    /// A fresh, never used id.
    pub fn alloc(&self) -> Result<u64> {
        self.alloc.lock().alloc(|end| self.storage.save_id_end(end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn reserves_in_steps() {
        let mut ids = IdAllocator::new(0, 3);
        let mut saved = Vec::new();
        let got: Vec<u64> = (0..7)
            .map(|_| {
                ids.alloc(|e| {
                    saved.push(e);
                    Ok(())
                })
                .unwrap()
            })
            .collect();
        assert_eq!(got, vec![1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(saved, vec![4, 7, 10]);
    }

    #[test]
    fn resumes_after_persisted_end_and_survives_failed_save() {
        let mut ids = IdAllocator::new(10, 5);
        assert!(ids.alloc(|_| Err(Error::Storage("io".into()))).is_err());
        assert_eq!(ids.alloc(|_| Ok(())).unwrap(), 10);
    }

    #[test]
    fn never_reuses_ids_across_restart_on_same_dir() {
        let dir = tempfile::tempdir().unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..3 {
            let storage = Storage::open_rocksdb(dir.path()).unwrap();
            let ids = IdService::load(storage.clone()).unwrap();
            for _ in 0..1500 {
                assert!(seen.insert(ids.alloc().unwrap()));
            }
            drop(ids);
            storage.close();
        }
        assert!(*seen.first().unwrap() >= 1);
    }
}
