//! # Snapshot range scans
//!
//! [`scan`] returns every key in `[start, end)` visible at `ts`, in key
//! order (descending with `reverse`), as TiKV's `Scanner` does for
//! `kv_scan`. A lock that would block a point read of a key (see
//! [`check_lock_conflict`]) appears in place of that key as
//! `Err(KeyIsLocked)` and counts toward `limit`, so the client resolves it
//! and resumes from there.
//!
//! The scan is a merge of two cursors walking the same range, one over the
//! `lock` CF and one over the `write` CF:
//!
//! ```text
//!  lock:   a           c
//!  write:  a@30 a@20   b@40 b@25 b@10   d@5
//!          ^ current = min(lock key, write user key) = a
//! ```
//!
//! For each user key the write cursor moves to the newest version at or
//! below `ts` — a few steps, then a seek to `enc(k) ++ !ts` (TiKV's
//! `SEEK_BOUND`) — takes the first `Put`/`Delete` from there, and then moves
//! to the next user key the same way. Reverse scans see a key's versions
//! oldest first: they remember the newest `Put`/`Delete` at or below `ts`
//! until a newer version shows up, falling back to one point lookup for
//! keys with many versions, then seek to before the key. Either way the
//! cost per key is a bounded number of steps plus at most a seek or two,
//! never an engine call per version.
//!
//! [`scan_past_locks`] walks the `write` CF alone: the coprocessor checks
//! the locks of the range it scanned at once ([`super::range_locks`], as
//! the columnar replicas do) and answers rows only when none blocks.
//!
//! Follows TiKV's `src/storage/mvcc/reader/scanner/{forward,backward}.rs`.

use kv::engine::{CF_LOCK, CF_WRITE};

use super::MvccReader;
use super::cursor::Cursor;
use super::point_getter::check_lock_conflict;
use super::reader::{SEEK_BOUND, skip_versions};
use crate::types::{Key, Lock, TimeStamp, Value, Write, WriteType};
use crate::{Error, Result};

/// One scanned entry: a raw key and its value, or the lock that hides it.
pub type ScanEntry = std::result::Result<(Vec<u8>, Value), Error>;

/// The visible keys of `[start, end)` at `ts` (`end = None`: unbounded), at
/// most `limit` entries (0 = no limit). With `key_only` values are empty.
/// Locks whose start_ts is in `bypass_locks` are ignored.
#[allow(clippy::too_many_arguments)] // mirrors the kvrpcpb ScanRequest fields
pub fn scan(
    reader: &mut MvccReader<'_>,
    start: &Key,
    end: Option<&Key>,
    ts: TimeStamp,
    limit: usize,
    key_only: bool,
    reverse: bool,
    bypass_locks: &[TimeStamp],
) -> Result<Vec<ScanEntry>> {
    merge(
        reader,
        start,
        end,
        ts,
        limit,
        key_only,
        reverse,
        Some(bypass_locks),
    )
}

/// The keys of `[start, end)` with a committed `Put` at or below `ts`,
/// ascending, at most `limit` (0 = no limit), whatever locks they have:
/// the caller checks the range's locks itself.
pub fn scan_past_locks(
    reader: &mut MvccReader<'_>,
    start: &Key,
    end: Option<&Key>,
    ts: TimeStamp,
    limit: usize,
) -> Result<Vec<(Vec<u8>, Value)>> {
    merge(reader, start, end, ts, limit, false, false, None)?
        .into_iter()
        .collect()
}

/// The merge of the lock and write cursors; with `bypass_locks` `None`
/// the locks are not read at all.
#[allow(clippy::too_many_arguments)]
fn merge(
    reader: &mut MvccReader<'_>,
    start: &Key,
    end: Option<&Key>,
    ts: TimeStamp,
    limit: usize,
    key_only: bool,
    reverse: bool,
    bypass_locks: Option<&[TimeStamp]>,
) -> Result<Vec<ScanEntry>> {
    let snapshot = reader.snapshot();
    let end = end.map(|k| k.as_encoded().as_slice());
    let mut locks =
        bypass_locks.map(|_| Cursor::new(snapshot, CF_LOCK, start.as_encoded(), end, reverse));
    let mut writes = Cursor::new(snapshot, CF_WRITE, start.as_encoded(), end, reverse);
    let mut out = vec![];
    let result = (|| {
        while limit == 0 || out.len() < limit {
            let lock_key = match &mut locks {
                Some(locks) => locks.peek()?.map(|(k, _)| k.clone()),
                None => None,
            };
            let write_key = match writes.peek()? {
                Some((k, _)) => Some(Key::split_on_ts_for(k)?.0.to_vec()),
                None => None,
            };
            let current = match (&lock_key, &write_key) {
                (None, None) => break,
                (Some(l), None) => l.clone(),
                (None, Some(w)) => w.clone(),
                (Some(l), Some(w)) if reverse => l.max(w).clone(),
                (Some(l), Some(w)) => l.min(w).clone(),
            };
            let has_lock = lock_key.as_ref() == Some(&current);
            let has_write = write_key.as_ref() == Some(&current);
            let key = Key::from_encoded(current);

            let mut blocked = None;
            if has_lock && let (Some(locks), Some(bypass)) = (&mut locks, bypass_locks) {
                let lock = Lock::parse(&locks.peek()?.expect("peeked above").1)?;
                locks.advance();
                match check_lock_conflict(lock, &key, ts, bypass) {
                    Ok(()) => {}
                    Err(e @ Error::KeyIsLocked(_)) => blocked = Some(e),
                    Err(e) => return Err(e),
                }
            }
            let write = match (has_write, &blocked, reverse) {
                (false, _, _) => None,
                (true, Some(_), false) => {
                    skip_versions(&mut writes, &key)?;
                    None
                }
                (true, Some(_), true) => {
                    writes.seek_for_prev(key.as_encoded());
                    None
                }
                (true, None, false) => newest_forward(&mut writes, &key, ts)?,
                (true, None, true) => newest_backward(&mut writes, reader, &key, ts)?,
            };
            if let Some(e) = blocked {
                out.push(Err(e));
                continue;
            }
            if let Some(write) = write.filter(|w| w.write_type == WriteType::Put) {
                let value = if key_only {
                    vec![]
                } else {
                    reader.load_data(&key, &write)?
                };
                out.push(Ok((key.to_raw()?, value)));
            }
        }
        Ok(())
    })();
    if let Some(locks) = &locks {
        reader.statistics.add(&locks.stats);
    }
    reader.statistics.add(&writes.stats);
    result.map(|()| out)
}

/// Forward cursor at the newest version of `key`: returns the newest
/// `Put`/`Delete` at or below `ts` and leaves the cursor at the next key.
fn newest_forward(writes: &mut Cursor<'_>, key: &Key, ts: TimeStamp) -> Result<Option<Write>> {
    let user = key.as_encoded();
    // Step over versions newer than `ts`; seek if there are many.
    let mut steps = 0;
    loop {
        match writes.peek()? {
            Some((k, _)) if Key::is_user_key_eq(k, user) => {
                if Key::split_on_ts_for(k)?.1 <= ts {
                    break;
                }
            }
            _ => return Ok(None),
        }
        steps += 1;
        if steps == SEEK_BOUND {
            writes.seek(key.clone().append_ts(ts).as_encoded());
        } else {
            writes.advance();
        }
    }
    let found = loop {
        match writes.peek()? {
            Some((k, v)) if Key::is_user_key_eq(k, user) => {
                let write = Write::parse(v)?;
                if matches!(write.write_type, WriteType::Put | WriteType::Delete) {
                    break write;
                }
                writes.advance();
            }
            _ => return Ok(None),
        }
    };
    skip_versions(writes, key)?;
    Ok(Some(found))
}

/// Reverse cursor at the oldest version of `key`: returns the newest
/// `Put`/`Delete` at or below `ts` and leaves the cursor at the previous
/// key.
fn newest_backward(
    writes: &mut Cursor<'_>,
    reader: &mut MvccReader<'_>,
    key: &Key,
    ts: TimeStamp,
) -> Result<Option<Write>> {
    let user = key.as_encoded();
    let mut candidate = None;
    let mut steps = 0;
    loop {
        match writes.peek()? {
            Some((k, v)) if Key::is_user_key_eq(k, user) => {
                if Key::split_on_ts_for(k)?.1 > ts {
                    break;
                }
                let write = Write::parse(v)?;
                if matches!(write.write_type, WriteType::Put | WriteType::Delete) {
                    candidate = Some(write);
                }
                writes.advance();
            }
            // Walked through all versions: the cursor is at the previous key.
            _ => return Ok(candidate),
        }
        steps += 1;
        if steps == SEEK_BOUND {
            // Many old versions: look the answer up directly.
            candidate = reader.get_write(key, ts)?.map(|(_, w)| w);
            break;
        }
    }
    writes.seek_for_prev(user);
    Ok(candidate)
}

#[cfg(test)]
mod tests {
    use kv::engine::MemoryEngine;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::mvcc::{MvccTxn, apply_modifies_to, point_getter};
    use crate::types::LockType;

    /// Random histories: for every key a few commits of every type, and
    /// sometimes a lock.
    fn random_store(rng: &mut StdRng) -> (MemoryEngine, Vec<Vec<u8>>) {
        let engine = MemoryEngine::new();
        let mut txn = MvccTxn::new(0.into());
        let raw_keys: Vec<Vec<u8>> = (0..rng.random_range(1..30))
            .map(|i| format!("k{:02}", i * 3).into_bytes())
            .collect();
        let types = [
            WriteType::Put,
            WriteType::Delete,
            WriteType::Lock,
            WriteType::Rollback,
        ];
        for raw in &raw_keys {
            let key = Key::from_raw(raw);
            let mut ts = 0u64;
            for _ in 0..rng.random_range(0..25) {
                ts += rng.random_range(1..5);
                let start = ts;
                let write_type = types[rng.random_range(0..4)];
                let commit = if write_type == WriteType::Rollback {
                    start
                } else {
                    ts += rng.random_range(1..3);
                    ts
                };
                let mut write = Write::new(write_type, start.into(), None);
                if write_type == WriteType::Put {
                    let value = format!("{}@{commit}", crate::types::escape(raw)).into_bytes();
                    if rng.random_range(0..4) == 0 {
                        let long = value.repeat(30);
                        txn.put_value(key.clone(), start.into(), long);
                    } else {
                        write.short_value = Some(value);
                    }
                }
                txn.put_write(key.clone(), commit.into(), write.to_bytes());
            }
            if rng.random_range(0..5) == 0 {
                let lt = [
                    LockType::Put,
                    LockType::Delete,
                    LockType::Lock,
                    LockType::Pessimistic,
                ];
                let mut lock = Lock::new(lt[rng.random_range(0..4)], raw.clone(), 0.into(), 100);
                lock.ts = (ts + rng.random_range(0..20)).saturating_sub(10).into();
                if rng.random() {
                    lock.min_commit_ts = (lock.ts.into_inner() + rng.random_range(0..10)).into();
                }
                txn.put_lock(key.clone(), &lock);
            }
        }
        apply_modifies_to(&engine, &txn.into_modifies()).unwrap();
        (engine, raw_keys)
    }

    /// What a scan must return, built from point gets.
    fn expected(
        reader: &mut MvccReader<'_>,
        keys: &[Vec<u8>],
        ts: TimeStamp,
        reverse: bool,
    ) -> Vec<String> {
        let mut out = vec![];
        for raw in keys {
            match point_getter::get(reader, &Key::from_raw(raw), ts, &[]) {
                Ok(Some(v)) => out.push(format!("{raw:?}={v:?}")),
                Ok(None) => {}
                Err(e) => out.push(format!("{e}")),
            }
        }
        if reverse {
            out.reverse();
        }
        out
    }

    fn render(entries: Vec<ScanEntry>) -> Vec<String> {
        entries
            .into_iter()
            .map(|e| match e {
                Ok((k, v)) => format!("{k:?}={v:?}"),
                Err(e) => format!("{e}"),
            })
            .collect()
    }

    #[test]
    fn scans_agree_with_point_gets() {
        let mut rng = StdRng::seed_from_u64(9);
        for _ in 0..150 {
            let (engine, raw_keys) = random_store(&mut rng);
            let mut reader = MvccReader::new(&engine);
            let ts = TimeStamp::new(rng.random_range(0..80));
            let lo = rng.random_range(0..raw_keys.len());
            let hi = rng.random_range(lo..=raw_keys.len());
            let start = Key::from_raw(&raw_keys[lo]);
            let end = raw_keys.get(hi).map(|k| Key::from_raw(k));
            for reverse in [false, true] {
                let want = expected(&mut reader, &raw_keys[lo..hi], ts, reverse);
                let got = scan(
                    &mut reader,
                    &start,
                    end.as_ref(),
                    ts,
                    0,
                    false,
                    reverse,
                    &[],
                );
                assert_eq!(render(got.unwrap()), want, "ts {ts} reverse {reverse}");
                let limit = rng.random_range(1..5);
                let got = scan(
                    &mut reader,
                    &start,
                    end.as_ref(),
                    ts,
                    limit,
                    false,
                    reverse,
                    &[],
                );
                let want: Vec<_> = want.into_iter().take(limit).collect();
                assert_eq!(render(got.unwrap()), want);
            }
        }
    }

    #[test]
    fn many_versions_cost_few_engine_calls() {
        let engine = MemoryEngine::new();
        let mut txn = MvccTxn::new(0.into());
        for raw in [b"a", b"b", b"c"] {
            for i in 1..=1000u64 {
                let w = Write::new(WriteType::Put, (2 * i).into(), Some(i.to_string().into()));
                txn.put_write(Key::from_raw(raw), (2 * i + 1).into(), w.to_bytes());
            }
        }
        apply_modifies_to(&engine, &txn.into_modifies()).unwrap();
        for reverse in [false, true] {
            let mut reader = MvccReader::new(&engine);
            let got = scan(
                &mut reader,
                &Key::from_raw(b""),
                None,
                1000.into(),
                0,
                false,
                reverse,
                &[],
            )
            .unwrap();
            let got: Vec<_> = got.into_iter().map(|e| e.unwrap()).collect();
            assert_eq!(got.len(), 3);
            assert_eq!(got[0].1, b"499");
            // 3000 versions, but a handful of engine calls per key.
            let stats = reader.statistics;
            assert!(stats.engine_calls < 40, "{reverse}: {stats:?}");
            assert!(stats.entries < 400, "{reverse}: {stats:?}");
        }
    }
}
