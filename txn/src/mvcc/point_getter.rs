//! # Snapshot point reads
//!
//! A read at `ts` sees the newest `Put`/`Delete` committed at or below `ts`
//! — unless a lock might hide a commit that belongs in its snapshot. That
//! is the case exactly when [`check_lock_conflict`] says so:
//!
//! * the lock's `ts` (start_ts) is at or below the read's `ts` — a younger
//!   transaction can only commit above its start_ts > `ts`;
//! * the lock is a `Put` or `Delete` — `Lock` and `Pessimistic` locks
//!   never change the value;
//! * its `min_commit_ts <= ts` — once `check_txn_status` has pushed
//!   `min_commit_ts` past `ts`, the owner must commit above `ts`;
//! * the reader was not told to bypass it (`bypass_locks`: locks the client
//!   already knows committed above its `ts`);
//! * and it is not a latest-version read (`ts == max`) of the primary key
//!   itself.
//!
//! The reader then gets `KeyIsLocked` and resolves the lock before
//! retrying. Follows TiKV's `src/storage/mvcc/reader/point_getter.rs` and
//! `Lock::check_ts_conflict`.
//!
//! [`range_locks`] applies the same rule to every lock of a key range at
//! once: a read that answers a whole range from another copy of the data
//! (a columnar replica) checks the lock CF first and reports every lock in
//! its way, where [`scanner`](super::scanner) meets them key by key.

use super::MvccReader;
use crate::types::{Key, Lock, LockInfo, LockType, TimeStamp, Value};
use crate::{Error, Result};

/// `Err(KeyIsLocked)` if `lock` on `key` blocks a read at `ts`.
pub fn check_lock_conflict(
    lock: Lock,
    key: &Key,
    ts: TimeStamp,
    bypass_locks: &[TimeStamp],
) -> Result<()> {
    if lock.ts > ts
        || matches!(lock.lock_type, LockType::Lock | LockType::Pessimistic)
        || lock.min_commit_ts > ts
        || bypass_locks.contains(&lock.ts)
    {
        return Ok(());
    }
    let raw_key = key.to_raw()?;
    if ts.is_max() && raw_key == lock.primary {
        return Ok(());
    }
    Err(Error::KeyIsLocked(lock.into_lock_info(raw_key)))
}

/// The value of `key` visible at `ts`, or `KeyIsLocked`.
pub fn get(
    reader: &mut MvccReader<'_>,
    key: &Key,
    ts: TimeStamp,
    bypass_locks: &[TimeStamp],
) -> Result<Option<Value>> {
    if let Some(lock) = reader.load_lock(key)? {
        check_lock_conflict(lock, key, ts, bypass_locks)?;
    }
    reader.get(key, ts)
}

/// The locks in `[start, end)` (`end = None`: unbounded) that block a read
/// at `ts`, by [`check_lock_conflict`]; empty if the read may go ahead.
pub fn range_locks(
    reader: &mut MvccReader<'_>,
    start: &Key,
    end: Option<&Key>,
    ts: TimeStamp,
    bypass_locks: &[TimeStamp],
) -> Result<Vec<LockInfo>> {
    let (found, _) = reader.scan_locks(Some(start), end, |l| l.ts <= ts, 0)?;
    let mut blocking = Vec::new();
    for (key, lock) in found {
        match check_lock_conflict(lock, &key, ts, bypass_locks) {
            Ok(()) => {}
            Err(Error::KeyIsLocked(info)) => blocking.push(info),
            Err(e) => return Err(e),
        }
    }
    Ok(blocking)
}

#[cfg(test)]
mod tests {
    use kv::engine::{CF_LOCK, Engine, MemoryEngine, WriteBatch};
    use kv::keys;

    use super::*;

    #[test]
    fn range_locks_applies_the_read_rule_to_each_lock() {
        let engine = MemoryEngine::new();
        let mut wb = WriteBatch::default();
        let mut put_lock = |key: &[u8], lock: Lock| {
            let k = keys::data_key(Key::from_raw(key).as_encoded());
            wb.put(CF_LOCK, k, lock.to_bytes());
        };
        let lock = |t: LockType, ts: u64| Lock::new(t, b"p".to_vec(), ts.into(), 100);
        put_lock(b"a", lock(LockType::Put, 10));
        put_lock(b"b", lock(LockType::Pessimistic, 10));
        put_lock(b"c", lock(LockType::Delete, 30));
        let mut pushed = lock(LockType::Put, 10);
        pushed.min_commit_ts = 25.into();
        put_lock(b"d", pushed);
        put_lock(b"e", lock(LockType::Put, 12));
        put_lock(b"f", lock(LockType::Delete, 20));
        engine.write(&wb, false).unwrap();

        let mut reader = MvccReader::new(&engine);
        let keys_of =
            |locks: Vec<LockInfo>| -> Vec<Vec<u8>> { locks.into_iter().map(|l| l.key).collect() };
        // At 20: not the pessimistic lock, the one above 20, the one pushed
        // past 20 or the bypassed one.
        let all = range_locks(
            &mut reader,
            &Key::from_encoded(vec![]),
            None,
            20.into(),
            &[12.into()],
        );
        assert_eq!(keys_of(all.unwrap()), vec![b"a".to_vec(), b"f".to_vec()]);
        let some = range_locks(
            &mut reader,
            &Key::from_raw(b"b"),
            Some(&Key::from_raw(b"f")),
            40.into(),
            &[],
        );
        assert_eq!(
            keys_of(some.unwrap()),
            vec![b"c".to_vec(), b"d".to_vec(), b"e".to_vec()]
        );
    }
}
