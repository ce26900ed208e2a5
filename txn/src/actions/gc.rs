//! # Garbage collection of one key
//!
//! Once PD's safe point has passed a timestamp, no transaction will read
//! below it, so of the versions at or below the safe point only the one a
//! read *at* the safe point would see has to stay. Walking a key's records
//! newest first:
//!
//! ```text
//! commit_ts > safe_point          keep (still readable by someone)
//! at or below, before the first Put/Delete:
//!   Lock, Rollback                delete (they carry no data)
//!   Put                           keep: the visible value at safe_point
//!   Delete                        delete: the key is simply absent
//! everything older than that      delete (and long values of Puts)
//! ```
//!
//! For example, with safe point 30:
//!
//! ```text
//! Put@40  Lock@35 | Rollback@30  Put@20  Delete@15  Put@10
//! keep    keep    | delete       keep    delete     delete
//! ```
//!
//! A key with a huge history is collected in several passes: once the
//! buffer reaches [`MAX_TXN_WRITE_SIZE`] bytes the action stops with
//! `is_completed = false` (and keeps a newest Delete until a pass
//! completes, so the visible state never changes). A later pass finds the
//! kept Put again and continues below it.
//!
//! Follows TiKV's `MvccTxn::gc` (`src/storage/mvcc/txn.rs`, TiKV 4.0; the
//! newer compaction-filter GC applies the same rules).

use crate::Result;
use crate::mvcc::{MvccReader, MvccTxn};
use crate::types::{Key, TimeStamp, WriteType};

/// Bytes of deletions one GC pass buffers before it stops.
pub const MAX_TXN_WRITE_SIZE: usize = 32 * 1024;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcInfo {
    pub found_versions: usize,
    pub deleted_versions: usize,
    pub is_completed: bool,
}

pub fn gc(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<'_>,
    key: Key,
    safe_point: TimeStamp,
) -> Result<GcInfo> {
    let mut info = GcInfo {
        is_completed: true,
        ..GcInfo::default()
    };
    let mut remove_older = false;
    let mut latest_delete = None;
    reader.scan_versions(&key, TimeStamp::max(), &mut |commit_ts, write| {
        info.found_versions += 1;
        if txn.write_size() >= MAX_TXN_WRITE_SIZE {
            // A Delete may only go once everything below it has gone.
            latest_delete = None;
            info.is_completed = false;
            return Ok(false);
        }
        if remove_older {
            txn.delete_write(key.clone(), commit_ts);
            if write.write_type == WriteType::Put && write.short_value.is_none() {
                txn.delete_value(key.clone(), write.start_ts);
            }
            info.deleted_versions += 1;
            return Ok(true);
        }
        if commit_ts > safe_point {
            return Ok(true);
        }
        match write.write_type {
            WriteType::Put => remove_older = true,
            WriteType::Delete => {
                remove_older = true;
                latest_delete = Some(commit_ts);
            }
            WriteType::Lock | WriteType::Rollback => {
                txn.delete_write(key.clone(), commit_ts);
                info.deleted_versions += 1;
            }
        }
        Ok(true)
    })?;
    if let Some(commit_ts) = latest_delete {
        txn.delete_write(key, commit_ts);
        info.deleted_versions += 1;
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use kv::engine::MemoryEngine;

    use super::*;
    use crate::mvcc::apply_modifies_to;
    use crate::types::Write;

    /// A key with 3000 long-valued versions is collected in several
    /// passes, each under the size cap, keeping the newest Put throughout.
    #[test]
    fn huge_history_takes_several_passes() {
        let engine = MemoryEngine::new();
        let key = Key::from_raw(b"k");
        let mut txn = MvccTxn::new(TimeStamp::zero());
        for i in 1..=3000u64 {
            let start = TimeStamp::new(2 * i);
            txn.put_value(key.clone(), start, vec![b'v'; 300]);
            let w = Write::new(WriteType::Put, start, None);
            txn.put_write(key.clone(), start.next(), w.to_bytes());
        }
        apply_modifies_to(&engine, &txn.into_modifies()).unwrap();

        let mut passes = 0;
        let mut deleted = 0;
        loop {
            passes += 1;
            let mut reader = MvccReader::new(&engine);
            let mut txn = MvccTxn::new(TimeStamp::zero());
            let info = gc(&mut txn, &mut reader, key.clone(), TimeStamp::max()).unwrap();
            assert!(txn.write_size() < MAX_TXN_WRITE_SIZE + 200);
            deleted += info.deleted_versions;
            apply_modifies_to(&engine, &txn.into_modifies()).unwrap();
            let mut reader = MvccReader::new(&engine);
            let (ts, _) = reader.get_write(&key, TimeStamp::max()).unwrap().unwrap();
            assert_eq!(ts, TimeStamp::new(6001));
            if info.is_completed {
                break;
            }
        }
        assert!(passes > 2, "{passes} passes");
        assert_eq!(deleted, 2999);
        let mut reader = MvccReader::new(&engine);
        let (keys, _) = reader.scan_write_keys(None, None, 0).unwrap();
        assert_eq!(keys, vec![key.clone()]);
        assert_eq!(
            reader.get(&key, TimeStamp::max()).unwrap(),
            Some(vec![b'v'; 300])
        );
    }
}
