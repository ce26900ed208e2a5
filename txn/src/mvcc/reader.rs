//! # The MVCC reader
//!
//! [`MvccReader`] answers the questions the Percolator actions ask of one
//! consistent engine snapshot: is there a lock on this key, what is the
//! newest record at or below a timestamp, did transaction `start_ts` commit
//! or roll back this key, where is a value. It reads the three column
//! families through kv's [`Peekable`], adding the `z` data prefix
//! (`kv::keys::data_key`) to the encoded keys it is given.
//!
//! Versions of a key sit in the `write` CF newest first
//! (`enc(k) ++ !commit_ts`), so "newest record with `commit_ts <= ts`" is
//! one forward scan starting at `enc(k) ++ !ts`, stopped at the first hit or
//! when the key changes. The reader never issues one engine call per
//! version; the [`Statistics`] it keeps let tests check that.
//!
//! Besides snapshot reads it walks committed history as it is: the record
//! at one exact commit ts ([`MvccReader::load_write`]) and every committed
//! version in a range ([`MvccReader::scan_committed`]). The columnar store
//! builds its copy of the table rows from those, so both engines read the
//! write and default CFs through the same code.
//!
//! Follows TiKV's `src/storage/mvcc/reader/reader.rs` (`MvccReader`,
//! `SnapshotReader`) and `TxnCommitRecord`.

use kv::engine::{CF_DEFAULT, CF_LOCK, CF_WRITE, Peekable};
use kv::keys;

use super::cursor::{Cursor, Statistics};
use crate::types::{Key, Lock, TimeStamp, Value, Write, WriteType};
use crate::{Error, Result};

/// Consecutive versions of one key a cursor steps over before it seeks.
pub(crate) const SEEK_BOUND: usize = 8;

/// What the `write` CF says about transaction `start_ts` on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnCommitRecord {
    /// The record the transaction left: its commit (Put/Delete/Lock) or its
    /// rollback.
    SingleRecord { commit_ts: TimeStamp, write: Write },
    /// Another transaction's commit record at `commit_ts == start_ts`
    /// carries the rollback of this one.
    OverlappedRollback { commit_ts: TimeStamp },
    /// Nothing. `overlapped_write` is another transaction's commit record
    /// sitting exactly at `start_ts`, which a rollback has to flag instead
    /// of overwriting.
    None { overlapped_write: Option<Write> },
}

impl TxnCommitRecord {
    /// The commit_ts if the transaction committed the key.
    pub fn committed(&self) -> Option<TimeStamp> {
        match self {
            TxnCommitRecord::SingleRecord { commit_ts, write }
                if write.write_type != WriteType::Rollback =>
            {
                Some(*commit_ts)
            }
            _ => None,
        }
    }

    /// Whether the transaction was rolled back on the key.
    pub fn is_rolled_back(&self) -> bool {
        match self {
            TxnCommitRecord::SingleRecord { write, .. } => write.write_type == WriteType::Rollback,
            TxnCommitRecord::OverlappedRollback { .. } => true,
            TxnCommitRecord::None { .. } => false,
        }
    }

    /// The overlapped write of a missing record.
    pub fn unwrap_none(self) -> Option<Write> {
        match self {
            TxnCommitRecord::None { overlapped_write } => overlapped_write,
            other => panic!("expected no commit record, found {other:?}"),
        }
    }
}

/// Reads Percolator state from one engine snapshot.
pub struct MvccReader<'a> {
    snapshot: &'a dyn Peekable,
    /// Engine work done so far.
    pub statistics: Statistics,
}

impl<'a> MvccReader<'a> {
    pub fn new(snapshot: &'a dyn Peekable) -> MvccReader<'a> {
        MvccReader {
            snapshot,
            statistics: Statistics::default(),
        }
    }

    pub fn snapshot(&self) -> &'a dyn Peekable {
        self.snapshot
    }

    pub fn load_lock(&mut self, key: &Key) -> Result<Option<Lock>> {
        self.statistics.engine_calls += 1;
        match self
            .snapshot
            .get(CF_LOCK, &keys::data_key(key.as_encoded()))?
        {
            Some(v) => {
                self.statistics.entries += 1;
                Ok(Some(Lock::parse(&v)?))
            }
            None => Ok(None),
        }
    }

    /// Calls `f(commit_ts, write)` for the versions of `key` with
    /// `commit_ts <= max_ts`, newest first, until it returns `false`. One
    /// engine scan.
    pub fn scan_versions(
        &mut self,
        key: &Key,
        max_ts: TimeStamp,
        f: &mut dyn FnMut(TimeStamp, Write) -> Result<bool>,
    ) -> Result<()> {
        let start = keys::data_key(key.clone().append_ts(max_ts).as_encoded());
        // Just past the oldest possible version, `enc(k) ++ !0`.
        let mut end = keys::data_key(key.clone().append_ts(TimeStamp::zero()).as_encoded());
        end.push(0);
        let mut failed = None;
        let mut entries = 0;
        self.statistics.engine_calls += 1;
        self.snapshot
            .scan_ordered(CF_WRITE, &start, &end, false, &mut |k, v| {
                entries += 1;
                let step = Key::split_on_ts_for(keys::origin_key(k))
                    .and_then(|(_, ts)| Ok((ts, Write::parse(v)?)))
                    .and_then(|(ts, w)| f(ts, w));
                match step {
                    Ok(go_on) => go_on,
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                }
            })?;
        self.statistics.entries += entries;
        failed.map_or(Ok(()), Err)
    }

    /// The newest record of `key` with `commit_ts <= ts`, of any type.
    pub fn seek_write(&mut self, key: &Key, ts: TimeStamp) -> Result<Option<(TimeStamp, Write)>> {
        let mut found = None;
        self.scan_versions(key, ts, &mut |commit_ts, write| {
            found = Some((commit_ts, write));
            Ok(false)
        })?;
        Ok(found)
    }

    /// The newest `Put` or `Delete` record of `key` with `commit_ts <= ts`,
    /// skipping `Lock` and `Rollback` records.
    pub fn get_write(&mut self, key: &Key, ts: TimeStamp) -> Result<Option<(TimeStamp, Write)>> {
        let mut found = None;
        self.scan_versions(key, ts, &mut |commit_ts, write| match write.write_type {
            WriteType::Put | WriteType::Delete => {
                found = Some((commit_ts, write));
                Ok(false)
            }
            WriteType::Lock | WriteType::Rollback => Ok(true),
        })?;
        Ok(found)
    }

    /// The committed value of `key` visible at `ts`, ignoring locks.
    pub fn get(&mut self, key: &Key, ts: TimeStamp) -> Result<Option<Value>> {
        match self.get_write(key, ts)? {
            Some((_, write)) if write.write_type == WriteType::Put => {
                Ok(Some(self.load_data(key, &write)?))
            }
            _ => Ok(None),
        }
    }

    /// What transaction `start_ts` left on `key`. Scans every version from
    /// the newest down to `start_ts`: in pessimistic transactions a txn with
    /// a smaller start_ts can commit after one with a larger start_ts.
    pub fn get_txn_commit_record(
        &mut self,
        key: &Key,
        start_ts: TimeStamp,
    ) -> Result<TxnCommitRecord> {
        let mut record = TxnCommitRecord::None {
            overlapped_write: None,
        };
        self.scan_versions(key, TimeStamp::max(), &mut |commit_ts, write| {
            if write.start_ts == start_ts {
                record = TxnCommitRecord::SingleRecord { commit_ts, write };
                return Ok(false);
            }
            if commit_ts == start_ts {
                record = if write.has_overlapped_rollback {
                    TxnCommitRecord::OverlappedRollback { commit_ts }
                } else {
                    TxnCommitRecord::None {
                        overlapped_write: Some(write),
                    }
                };
                return Ok(false);
            }
            Ok(commit_ts > start_ts)
        })?;
        Ok(record)
    }

    /// The record of `key` committed at exactly `commit_ts`, of any type.
    /// One point read.
    pub fn load_write(&mut self, key: &Key, commit_ts: TimeStamp) -> Result<Option<Write>> {
        let write_key = keys::data_key(key.clone().append_ts(commit_ts).as_encoded());
        self.statistics.engine_calls += 1;
        match self.snapshot.get(CF_WRITE, &write_key)? {
            Some(v) => {
                self.statistics.entries += 1;
                Ok(Some(Write::parse(&v)?))
            }
            None => Ok(None),
        }
    }

    /// The change a commit record of `key` makes to its value:
    /// `Some(Some(value))` for a `Put` (the value loaded as
    /// [`load_data`](Self::load_data) does), `Some(None)` for a `Delete`,
    /// and `None` for `Lock` and `Rollback` records, which change nothing.
    pub fn committed_value(&mut self, key: &Key, write: &Write) -> Result<Option<Option<Value>>> {
        match write.write_type {
            WriteType::Put => Ok(Some(Some(self.load_data(key, write)?))),
            WriteType::Delete => Ok(Some(None)),
            WriteType::Lock | WriteType::Rollback => Ok(None),
        }
    }

    /// Calls `f(key, commit_ts, value)` for every committed version of the
    /// keys in `[start, end)` (unbounded where `None`), keys ascending and
    /// each key's versions newest first, until it returns `false`: `value`
    /// is the value of a `Put` and `None` for a `Delete`; `Lock` and
    /// `Rollback` records are skipped ([`committed_value`](Self::committed_value)).
    /// Unlike a snapshot read this sees every version, whatever its
    /// timestamp: what a replica rebuilding its own copy of the history
    /// needs.
    pub fn scan_committed(
        &mut self,
        start: Option<&Key>,
        end: Option<&Key>,
        f: &mut dyn FnMut(Key, TimeStamp, Option<Value>) -> Result<bool>,
    ) -> Result<()> {
        let mut cursor = Cursor::new(
            self.snapshot,
            CF_WRITE,
            start.map_or(&[][..], |k| k.as_encoded()),
            end.map(|k| k.as_encoded().as_slice()),
            false,
        );
        let result = (|| -> Result<()> {
            while let Some((k, v)) = cursor.peek()? {
                let (user, commit_ts) = Key::split_on_ts_for(k)?;
                let key = Key::from_encoded_slice(user);
                let write = Write::parse(v)?;
                cursor.advance();
                if let Some(value) = self.committed_value(&key, &write)?
                    && !f(key, commit_ts, value)?
                {
                    break;
                }
            }
            Ok(())
        })();
        self.statistics.add(&cursor.stats);
        result
    }

    /// The value a `Put` record stands for: inline, or in the `default` CF
    /// at the writer's start_ts.
    pub fn load_data(&mut self, key: &Key, write: &Write) -> Result<Value> {
        if let Some(v) = &write.short_value {
            return Ok(v.clone());
        }
        let data_key = keys::data_key(key.clone().append_ts(write.start_ts).as_encoded());
        self.statistics.engine_calls += 1;
        self.statistics.entries += 1;
        self.snapshot.get(CF_DEFAULT, &data_key)?.ok_or_else(|| {
            Error::BadFormat(format!(
                "default value not found for key {key} at start_ts {}",
                write.start_ts
            ))
        })
    }

    /// Locks in `[start, end)` (unbounded where `None`) that pass `filter`,
    /// at most `limit` of them (0 = no limit). The flag says whether more
    /// matching locks remain after the last one returned.
    pub fn scan_locks(
        &mut self,
        start: Option<&Key>,
        end: Option<&Key>,
        filter: impl Fn(&Lock) -> bool,
        limit: usize,
    ) -> Result<(Vec<(Key, Lock)>, bool)> {
        let lower = keys::data_key(start.map_or(&[][..], |k| k.as_encoded()));
        let upper = end.map_or_else(
            || keys::data_end_key(b""),
            |k| keys::data_key(k.as_encoded()),
        );
        let mut locks = vec![];
        let mut more = false;
        let mut failed = None;
        let mut entries = 0;
        self.statistics.engine_calls += 1;
        if lower < upper {
            self.snapshot
                .scan_ordered(CF_LOCK, &lower, &upper, false, &mut |k, v| {
                    entries += 1;
                    match Lock::parse(v) {
                        Ok(lock) if filter(&lock) => {
                            if limit != 0 && locks.len() == limit {
                                more = true;
                                return false;
                            }
                            locks.push((Key::from_encoded_slice(keys::origin_key(k)), lock));
                            true
                        }
                        Ok(_) => true,
                        Err(e) => {
                            failed = Some(e);
                            false
                        }
                    }
                })?;
        }
        self.statistics.entries += entries;
        failed.map_or(Ok((locks, more)), Err)
    }

    /// Distinct user keys with records in the `write` CF within
    /// `[start, end)`, at most `limit` (0 = no limit), and whether more
    /// remain. Keys with many versions are skipped over with a seek.
    pub fn scan_write_keys(
        &mut self,
        start: Option<&Key>,
        end: Option<&Key>,
        limit: usize,
    ) -> Result<(Vec<Key>, bool)> {
        let mut cursor = Cursor::new(
            self.snapshot,
            CF_WRITE,
            start.map_or(&[][..], |k| k.as_encoded()),
            end.map(|k| k.as_encoded().as_slice()),
            false,
        );
        let mut out: Vec<Key> = vec![];
        let mut more = false;
        while let Some((k, _)) = cursor.peek()? {
            let (user, _) = Key::split_on_ts_for(k)?;
            if limit != 0 && out.len() == limit {
                more = true;
                break;
            }
            let user = Key::from_encoded_slice(user);
            skip_versions(&mut cursor, &user)?;
            out.push(user);
        }
        self.statistics.add(&cursor.stats);
        Ok((out, more))
    }
}

/// Moves a forward `write` cursor past every version of `user_key`: a few
/// steps, then a seek to just past `enc(k) ++ !0`.
pub(crate) fn skip_versions(cursor: &mut Cursor<'_>, user_key: &Key) -> Result<()> {
    for _ in 0..SEEK_BOUND {
        match cursor.peek()? {
            Some((k, _)) if Key::is_user_key_eq(k, user_key.as_encoded()) => cursor.advance(),
            _ => return Ok(()),
        }
    }
    let mut past = user_key.clone().append_ts(TimeStamp::zero()).into_encoded();
    past.push(0);
    cursor.seek(&past);
    Ok(())
}

#[cfg(test)]
mod tests {
    use kv::engine::{Engine, MemoryEngine, WriteBatch};

    use super::*;
    use crate::types::{LockType, WriteType};

    fn put_write(wb: &mut WriteBatch, key: &[u8], commit: u64, write: &Write) {
        let k = Key::from_raw(key).append_ts(commit.into());
        wb.put(CF_WRITE, keys::data_key(k.as_encoded()), write.to_bytes());
    }

    #[test]
    fn seeks_and_commit_records() {
        let engine = MemoryEngine::new();
        let mut wb = WriteBatch::default();
        let put = |s: u64| Write::new(WriteType::Put, s.into(), Some(format!("v{s}").into_bytes()));
        put_write(&mut wb, b"k", 20, &put(10));
        put_write(&mut wb, b"k", 25, &Write::new_rollback(25.into(), false));
        put_write(
            &mut wb,
            b"k",
            30,
            &Write::new(WriteType::Lock, 28.into(), None),
        );
        // txn 40 committed at 50 over a rollback of txn 50.
        put_write(&mut wb, b"k", 50, &put(40).set_overlapped_rollback(true));
        put_write(&mut wb, b"k\x00", 5, &put(1));
        let mut lock = Lock::new(LockType::Put, b"k".to_vec(), 60.into(), 10);
        lock.short_value = Some(b"x".to_vec());
        wb.put(
            CF_LOCK,
            keys::data_key(Key::from_raw(b"k").as_encoded()),
            lock.to_bytes(),
        );
        engine.write(&wb, false).unwrap();

        let mut r = MvccReader::new(&engine);
        let k = Key::from_raw(b"k");
        assert_eq!(r.load_lock(&k).unwrap(), Some(lock));
        assert_eq!(r.seek_write(&k, 29.into()).unwrap().unwrap().0, 25.into());
        assert_eq!(r.get_write(&k, 49.into()).unwrap().unwrap().0, 20.into());
        assert_eq!(r.get(&k, 100.into()).unwrap(), Some(b"v40".to_vec()));
        assert_eq!(r.get(&k, 19.into()).unwrap(), None);
        assert_eq!(r.seek_write(&k, 19.into()).unwrap(), None);

        let rec = r.get_txn_commit_record(&k, 10.into()).unwrap();
        assert_eq!(rec.committed(), Some(20.into()));
        assert!(
            r.get_txn_commit_record(&k, 25.into())
                .unwrap()
                .is_rolled_back()
        );
        assert_eq!(
            r.get_txn_commit_record(&k, 50.into()).unwrap(),
            TxnCommitRecord::OverlappedRollback {
                commit_ts: 50.into()
            }
        );
        assert_eq!(
            r.get_txn_commit_record(&k, 20.into())
                .unwrap()
                .unwrap_none(),
            Some(put(10))
        );
        assert_eq!(
            r.get_txn_commit_record(&k, 22.into())
                .unwrap()
                .unwrap_none(),
            None
        );

        let (keys, more) = r.scan_write_keys(None, None, 0).unwrap();
        assert_eq!(keys, vec![k.clone(), Key::from_raw(b"k\x00")]);
        assert!(!more);
        let (keys, more) = r.scan_write_keys(None, None, 1).unwrap();
        assert_eq!((keys.len(), more), (1, true));
        let (locks, more) = r.scan_locks(None, None, |l| l.ts == 60.into(), 1).unwrap();
        assert_eq!((locks.len(), more), (1, false));
        let (locks, _) = r
            .scan_locks(Some(&Key::from_raw(b"k\x00")), None, |_| true, 0)
            .unwrap();
        assert!(locks.is_empty());
    }
    #[test]
    fn committed_history() {
        let engine = MemoryEngine::new();
        let mut wb = WriteBatch::default();
        let long = vec![b'x'; 300];
        // a: a long Put (value in the default CF), a Delete, a Lock record
        // and a Rollback; b: a short Put.
        let plain = |t: WriteType, start: u64| Write::new(t, start.into(), None);
        put_write(&mut wb, b"a", 11, &plain(WriteType::Put, 10));
        let value_key = keys::data_key(Key::from_raw(b"a").append_ts(10.into()).as_encoded());
        wb.put(CF_DEFAULT, value_key, long.clone());
        put_write(&mut wb, b"a", 21, &plain(WriteType::Delete, 20));
        put_write(&mut wb, b"a", 31, &plain(WriteType::Lock, 30));
        put_write(&mut wb, b"a", 40, &Write::new_rollback(40.into(), false));
        let short = Write::new(WriteType::Put, 5.into(), Some(b"b5".to_vec()));
        put_write(&mut wb, b"b", 6, &short);
        engine.write(&wb, false).unwrap();

        let mut r = MvccReader::new(&engine);
        let (a, b) = (Key::from_raw(b"a"), Key::from_raw(b"b"));
        let rollback = r.load_write(&a, 40.into()).unwrap().unwrap();
        assert_eq!(rollback.write_type, WriteType::Rollback);
        assert_eq!(r.committed_value(&a, &rollback).unwrap(), None);
        assert_eq!(r.load_write(&a, 39.into()).unwrap(), None);
        let put = r.load_write(&a, 11.into()).unwrap().unwrap();
        assert_eq!(
            r.committed_value(&a, &put).unwrap(),
            Some(Some(long.clone()))
        );
        let delete = r.load_write(&a, 21.into()).unwrap().unwrap();
        assert_eq!(r.committed_value(&a, &delete).unwrap(), Some(None));

        let mut seen = vec![];
        r.scan_committed(None, None, &mut |k, ts, v| {
            seen.push((k, ts.into_inner(), v));
            Ok(true)
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (a.clone(), 21, None),
                (a.clone(), 11, Some(long.clone())),
                (b.clone(), 6, Some(b"b5".to_vec())),
            ]
        );
        // Bounded, and stopped by the callback.
        let mut seen = vec![];
        r.scan_committed(Some(&b), None, &mut |k, ts, _| {
            seen.push((k, ts.into_inner()));
            Ok(true)
        })
        .unwrap();
        assert_eq!(seen, vec![(b.clone(), 6)]);
        let mut n = 0;
        r.scan_committed(Some(&a), Some(&b), &mut |_, _, _| {
            n += 1;
            Ok(false)
        })
        .unwrap();
        assert_eq!(n, 1);
    }
}
