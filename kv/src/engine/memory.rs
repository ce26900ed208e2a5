//! An in-memory engine for tests: one `BTreeMap` per column family behind a
//! lock. Snapshots share the maps copy-on-write, so taking one is cheap and a
//! write after it copies the maps once.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use parking_lot::RwLock;

use super::{ALL_CFS, BatchOp, Engine, Peekable, Snapshot, SnapshotRef, WriteBatch};
use crate::{Error, Result};

type Maps = Arc<Vec<BTreeMap<Vec<u8>, Vec<u8>>>>;

#[derive(Clone, Default)]
pub struct MemoryEngine {
    maps: Arc<RwLock<Maps>>,
}

struct MemorySnapshot {
    maps: Maps,
}

impl MemoryEngine {
    pub fn new() -> Self {
        let maps = Arc::new(vec![BTreeMap::new(); ALL_CFS.len()]);
        MemoryEngine {
            maps: Arc::new(RwLock::new(maps)),
        }
    }
}

fn cf_index(cf: &str) -> Result<usize> {
    ALL_CFS
        .iter()
        .position(|c| *c == cf)
        .ok_or_else(|| Error::Engine(format!("unknown column family {cf}")))
}

fn bounds(start: &[u8], end: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let upper = if end.is_empty() {
        Bound::Unbounded
    } else {
        Bound::Excluded(end.to_vec())
    };
    (Bound::Included(start.to_vec()), upper)
}

fn scan_maps(
    maps: &Maps,
    cf: &str,
    start: &[u8],
    end: &[u8],
    reverse: bool,
    f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> Result<()> {
    if !end.is_empty() && start >= end {
        return Ok(());
    }
    let range = maps[cf_index(cf)?].range(bounds(start, end));
    if reverse {
        for (k, v) in range.rev() {
            if !f(k, v) {
                break;
            }
        }
    } else {
        for (k, v) in range {
            if !f(k, v) {
                break;
            }
        }
    }
    Ok(())
}

impl Peekable for MemorySnapshot {
    fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.maps[cf_index(cf)?].get(key).cloned())
    }

    fn scan_ordered(
        &self,
        cf: &str,
        s: &[u8],
        e: &[u8],
        reverse: bool,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        scan_maps(&self.maps, cf, s, e, reverse, f)
    }
}

impl Snapshot for MemorySnapshot {}

impl Peekable for MemoryEngine {
    fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.maps.read()[cf_index(cf)?].get(key).cloned())
    }

    fn scan_ordered(
        &self,
        cf: &str,
        s: &[u8],
        e: &[u8],
        reverse: bool,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        // Scan a snapshot of the maps so writers are not blocked meanwhile.
        let maps = self.maps.read().clone();
        scan_maps(&maps, cf, s, e, reverse, f)
    }
}

impl Engine for MemoryEngine {
    fn snapshot(&self) -> SnapshotRef {
        Arc::new(MemorySnapshot {
            maps: self.maps.read().clone(),
        })
    }

    fn write(&self, batch: &WriteBatch, _sync: bool) -> Result<()> {
        // Validate first so a bad batch changes nothing.
        for op in batch.ops() {
            let cf = match op {
                BatchOp::Put { cf, .. }
                | BatchOp::Delete { cf, .. }
                | BatchOp::DeleteRange { cf, .. } => cf,
            };
            cf_index(cf)?;
        }
        let mut guard = self.maps.write();
        let maps = Arc::make_mut(&mut guard);
        for op in batch.ops() {
            match op {
                BatchOp::Put { cf, key, value } => {
                    maps[cf_index(cf)?].insert(key.clone(), value.clone());
                }
                BatchOp::Delete { cf, key } => {
                    maps[cf_index(cf)?].remove(key);
                }
                BatchOp::DeleteRange { cf, start, end } => {
                    let map = &mut maps[cf_index(cf)?];
                    let doomed: Vec<Vec<u8>> = map
                        .range(bounds(start, end))
                        .map(|(k, _)| k.clone())
                        .collect();
                    for k in doomed {
                        map.remove(&k);
                    }
                }
            }
        }
        Ok(())
    }

    fn used_size(&self) -> u64 {
        let maps = self.maps.read();
        maps.iter()
            .flat_map(|m| m.iter())
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .sum()
    }
}
