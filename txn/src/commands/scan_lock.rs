//! The `ScanLock` command (read-only): locks in `[start, end)` whose
//! start_ts is at most `max_ts`, at most `limit` (0 = all), for GC and
//! for clients resolving locks over a range.

use crate::Result;
use crate::mvcc::MvccReader;
use crate::types::{Key, LockInfo, TimeStamp};

pub fn scan_lock(
    reader: &mut MvccReader<'_>,
    max_ts: TimeStamp,
    start: Option<Key>,
    end: Option<Key>,
    limit: usize,
) -> Result<Vec<LockInfo>> {
    let (locks, _) = reader.scan_locks(start.as_ref(), end.as_ref(), |l| l.ts <= max_ts, limit)?;
    locks
        .into_iter()
        .map(|(key, lock)| Ok(lock.into_lock_info(key.to_raw()?)))
        .collect()
}
