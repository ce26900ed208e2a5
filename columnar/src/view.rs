//! # The columnar view of a store's learners
//!
//! [`ColumnarView`] is what the columnar store reads: the row versions of
//! every table whose regions have a learner here, in two layers — the
//! [`Delta`] (versions as they arrive) and the [`stable`](crate::stable)
//! chunks (sorted, immutable, on disk) — kept in step with the learner's
//! engine through the apply log:
//!
//! ```text
//!   open():       load the manifest's chunks, replay the log after its applied_seq
//!   catch_up(s):  log records after `applied_seq`, as visible in snapshot s
//!                   Commit(k) -> write record k (+ default CF value) -> delta
//!                   Reset(r)  -> clear r in both layers, rebuild r from s into the delta
//!   compact(sp):  delta -> merged into the chunks (GC at safe point sp)
//!                 -> chunk files + manifest -> apply log truncated
//!   read(t, r, ts): per key the newest version <= ts of delta and chunks
//! ```
//!
//! Commit records and values are read through txn's MVCC reader
//! ([`MvccReader::load_write`], [`MvccReader::scan_committed`]), so a
//! version means here what it means to the row store: a `Put` with its
//! value inline or in the default CF, a `Delete`, and `Lock` and
//! `Rollback` records skipped.
//!
//! Everything is read from the snapshot handed in, never from a later
//! state than the reader's, except that a concurrent reader (or the
//! background catch-up) may already have caught the view up further. For
//! commits that is harmless: a read picks versions by commit ts and newer
//! commits only add versions above it. A `Reset` past the reader's
//! snapshot is not: it removed versions the reader must see (its learner
//! was removed, the range rebuilt from a later, emptier engine). So the
//! view remembers each reset's log sequence number, and
//! [`ColumnarView::read_at`] catches up and reads under one lock and
//! refuses (None: the caller answers "region not found", and the client
//! retries elsewhere) when a reset after its snapshot overlaps its range.
//! Rebuilding a range inserts versions the view may already hold;
//! duplicates are dropped. A compaction works on a copy and installs its result only if
//! no range was reset meanwhile (else the next one redoes it).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use codec::table::TableId;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_optimizer::pruning::PruningPredicate;
use kv::engine::{CF_RAFT, EngineRef, Peekable, WriteBatch};
use parking_lot::Mutex;
use proto::kvrpcpb::ColumnSpec;
use txn::mvcc::MvccReader;
use txn::types::Key;

use crate::Result;
use crate::apply_log::LogRecord;
use crate::delta::{Delta, Version};
use crate::files::{Files, Manifest};
use crate::stable::{NewVersion, StableTable};

struct State {
    /// The last apply log record reflected in the layers.
    applied_seq: u64,
    delta: Delta,
    stable: HashMap<TableId, StableTable>,
    /// Bumped by every reset range: a compaction that saw another value
    /// discards its work.
    resets: u64,
    /// Each reset's log sequence number and raw key range, newest last,
    /// back to the compaction before last ([`ColumnarView::read_at`]).
    reset_log: Vec<(u64, Vec<u8>, Vec<u8>)>,
    /// `applied_seq` at the last compaction: resets up to the one before
    /// are forgotten then.
    compacted_seq: u64,
}

/// What [`ColumnarView::read`] reads: the rows of `table` with raw keys in
/// `[start, end)` visible at `ts`, as `columns` (Arrow `schema`).
#[derive(Clone, Copy)]
pub struct Scan<'a> {
    pub table: TableId,
    pub start: &'a [u8],
    pub end: &'a [u8],
    pub ts: u64,
    pub columns: &'a [ColumnSpec],
    pub schema: &'a SchemaRef,
    /// The pushed filters as min/max predicates (chunks they rule out are
    /// skipped).
    pub prune: Option<&'a [Arc<PruningPredicate>]>,
}

/// What a read found: stable rows already in the scan's columns, and delta
/// rows still in row format.
pub struct ReadResult {
    pub batches: Vec<RecordBatch>,
    pub records: Vec<(Vec<u8>, Arc<[u8]>)>,
}

pub struct ColumnarView {
    engine: EngineRef,
    files: Option<Files>,
    state: Mutex<State>,
    next_chunk: AtomicU64,
    /// One compaction at a time.
    compacting: tokio::sync::Mutex<()>,
}

impl ColumnarView {
    /// Opens the view over `engine`, with its chunk files under `dir`
    /// (None: in memory only, the apply log is never truncated). Call
    /// before the raftstore starts applying, so no log record is missed.
    pub fn open(engine: EngineRef, dir: Option<&Path>) -> Result<ColumnarView> {
        let files = dir.map(Files::open).transpose()?;
        let (manifest, stable) = match &files {
            Some(f) => f.load()?,
            None => (Manifest::default(), HashMap::new()),
        };
        let view = ColumnarView {
            engine,
            files,
            state: Mutex::new(State {
                applied_seq: manifest.applied_seq,
                delta: Delta::default(),
                stable,
                resets: 0,
                reset_log: Vec::new(),
                compacted_seq: manifest.applied_seq,
            }),
            next_chunk: AtomicU64::new(manifest.next_chunk.max(1)),
            compacting: tokio::sync::Mutex::new(()),
        };
        view.catch_up_now()?;
        tracing::info!(
            stable_versions = view.stable_versions(),
            delta_versions = view.delta_versions(),
            applied_seq = manifest.applied_seq,
            "columnar view loaded"
        );
        Ok(view)
    }

    fn next_id(&self) -> u64 {
        self.next_chunk.fetch_add(1, Ordering::Relaxed)
    }

    /// Applies the log records visible in `snap` that the view has not
    /// seen yet.
    pub fn catch_up(&self, snap: &dyn Peekable) -> Result<()> {
        let mut state = self.state.lock();
        self.catch_up_locked(&mut state, snap)
    }

    fn catch_up_locked(&self, state: &mut State, snap: &dyn Peekable) -> Result<()> {
        let (_, end) = kv::keys::apply_log_range();
        let start = kv::keys::apply_log_key(state.applied_seq + 1);
        let mut records = Vec::new();
        snap.scan(CF_RAFT, &start, &end, &mut |k, v| {
            records.push((kv::keys::apply_log_seq(k), v.to_vec()));
            true
        })?;
        let Some(&(last, _)) = records.last() else {
            return Ok(());
        };
        for (seq, record) in records {
            match LogRecord::decode(&record)? {
                LogRecord::Commit(write_key) => {
                    if let Some((table, key, ts, version)) = load_version(snap, &write_key)? {
                        state.delta.insert(table, key, ts, version);
                    }
                }
                LogRecord::Reset { start, end } => {
                    let (lo, hi) = (raw(&start)?, raw(&end)?);
                    state.delta.clear_range(&lo, &hi);
                    let mut next = || self.next_id();
                    let mut cleared = HashMap::new();
                    for (t, table) in &state.stable {
                        cleared.insert(*t, table.clear_range(&lo, &hi, &mut next)?);
                    }
                    state.stable = cleared;
                    state.resets += 1;
                    state.reset_log.push((seq, lo, hi));
                    rebuild(snap, &mut state.delta, &start, &end)?;
                }
            }
        }
        state.applied_seq = last;
        Ok(())
    }

    /// Catches up with the engine as it is now.
    pub fn catch_up_now(&self) -> Result<()> {
        let snap = self.engine.snapshot();
        self.catch_up(snap.as_ref())
    }

    /// The rows a [`Scan`] asks for: stable rows as batches of its columns,
    /// delta rows as raw row keys and row-format values. Chunks whose
    /// min/max rule out one of its `prune` predicates are skipped.
    pub fn read(&self, scan: &Scan<'_>) -> Result<ReadResult> {
        Ok(self
            .read_inner(None, scan)?
            .expect("no snapshot, never stale"))
    }

    /// Catches up with `snap` and reads, as one step: None if a range reset
    /// later than `snap` overlaps the scan (the view no longer holds what a
    /// reader at `snap` must see).
    pub fn read_at(&self, snap: &dyn Peekable, scan: &Scan<'_>) -> Result<Option<ReadResult>> {
        let seq = crate::apply_log::last_seq(snap)?;
        self.read_inner(Some((snap, seq)), scan)
    }

    fn read_inner(
        &self,
        at: Option<(&dyn Peekable, u64)>,
        scan: &Scan<'_>,
    ) -> Result<Option<ReadResult>> {
        let Scan {
            table,
            start,
            end,
            ts,
            columns,
            schema,
            prune,
        } = *scan;
        let (chunks, newest) = {
            let mut state = self.state.lock();
            if let Some((snap, seq)) = at {
                self.catch_up_locked(&mut state, snap)?;
                let overlaps = |lo: &[u8], hi: &[u8]| {
                    (end.is_empty() || lo < end) && (hi.is_empty() || start < hi)
                };
                if state
                    .reset_log
                    .iter()
                    .any(|(s, lo, hi)| *s > seq && overlaps(lo, hi))
                {
                    return Ok(None);
                }
            }
            let chunks: Vec<_> = state
                .stable
                .get(&table)
                .map(|t| t.overlapping(start, end).cloned().collect())
                .unwrap_or_default();
            (chunks, state.delta.newest(table, start, end, ts))
        };
        let newer =
            crate::stable::Newer::new(newest.iter().map(|(k, t, _)| (k.as_slice(), *t)).collect());
        // Chunks no filter can match are skipped by min/max.
        let keep = match prune {
            Some(p) if !chunks.is_empty() => {
                let stats = crate::stable::ChunkStats {
                    chunks: &chunks,
                    columns,
                    schema,
                };
                p.iter()
                    .try_fold(vec![true; chunks.len()], |mut keep, p| {
                        let this = p.prune(&stats).ok()?;
                        keep.iter_mut().zip(this).for_each(|(k, t)| *k &= t);
                        Some(keep)
                    })
                    .unwrap_or_else(|| vec![true; chunks.len()])
            }
            _ => vec![true; chunks.len()],
        };
        let mut batches = Vec::with_capacity(chunks.len());
        for c in chunks
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| c)
        {
            let rows = c.visible(start, end, ts, &newer);
            if !rows.is_empty() {
                batches.push(c.project(columns, schema, &rows)?);
            }
        }
        let records = newest
            .iter()
            .filter_map(|(k, _, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
            .collect();
        Ok(Some(ReadResult { batches, records }))
    }

    /// Moves the delta into the stable layer, dropping versions no read at
    /// or after `safe_point` needs; with files, persists the result and
    /// truncates the apply log. Returns the versions moved.
    pub async fn compact(&self, safe_point: u64) -> Result<usize> {
        let _one = self.compacting.lock().await;
        let (seq, resets, delta, stable) = {
            let s = self.state.lock();
            (s.applied_seq, s.resets, s.delta.all(), s.stable.clone())
        };
        let moved: usize = delta.iter().map(|(_, v)| v.len()).sum();
        if moved == 0 {
            return Ok(0);
        }
        let mut merged = HashMap::new();
        for (table, versions) in &delta {
            let versions: Vec<NewVersion> = versions.clone();
            let base = stable.get(table).cloned().unwrap_or_default();
            let mut next = || self.next_id();
            merged.insert(*table, base.merge(versions, safe_point, &mut next)?);
        }
        let tables = {
            let mut s = self.state.lock();
            if s.resets != resets {
                tracing::info!("columnar compaction discarded: a range was reset meanwhile");
                return Ok(0);
            }
            for (table, versions) in &delta {
                for (key, ts, _) in versions {
                    s.delta.remove(*table, key, *ts);
                }
            }
            // Resets before the previous compaction are older than any
            // snapshot a read still holds.
            let forget = s.compacted_seq;
            s.reset_log.retain(|(seq, ..)| *seq > forget);
            s.compacted_seq = seq;
            for (table, t) in merged {
                if t.is_empty() {
                    s.stable.remove(&table);
                } else {
                    s.stable.insert(table, t);
                }
            }
            s.stable.clone()
        };
        if let Some(files) = &self.files {
            let mut manifest = Manifest {
                applied_seq: seq,
                next_chunk: self.next_chunk.load(Ordering::Relaxed),
                tables: Default::default(),
            };
            for (table, t) in &tables {
                for c in &t.chunks {
                    files.write_chunk(c)?;
                }
                manifest
                    .tables
                    .insert(*table, t.chunks.iter().map(|c| c.id).collect());
            }
            files.commit(&manifest)?;
            self.truncate_log(seq)?;
        }
        Ok(moved)
    }

    /// Versions in the delta.
    pub fn delta_versions(&self) -> usize {
        self.state.lock().delta.len()
    }

    /// Versions in the stable layer.
    pub fn stable_versions(&self) -> usize {
        self.state.lock().stable.values().map(|t| t.len()).sum()
    }

    /// Deletes log records up to `seq` (the manifest covers them).
    fn truncate_log(&self, seq: u64) -> Result<()> {
        let (start, _) = kv::keys::apply_log_range();
        let mut wb = WriteBatch::default();
        // The record `seq` itself stays: the log's last sequence number in a
        // snapshot (`apply_log::last_seq`) must not go back.
        wb.delete_range(CF_RAFT, start, kv::keys::apply_log_key(seq));
        self.engine.write(&wb, false)?;
        Ok(())
    }
}

/// A row version of a table: table, raw row key, commit ts, value.
type TableVersion = (TableId, Vec<u8>, u64, Version);

/// A raw key from an encoded bound (empty stays empty: unbounded).
fn raw(encoded: &[u8]) -> Result<Vec<u8>> {
    if encoded.is_empty() {
        return Ok(Vec::new());
    }
    Ok(Key::from_encoded_slice(encoded).to_raw()?)
}

/// The table and raw row key of an encoded user key; None for keys that
/// are not a table row's (index entries, metadata).
fn row_of(key: &Key) -> txn::Result<Option<(TableId, Vec<u8>)>> {
    let raw_key = key.to_raw()?;
    Ok(codec::table::record_table_id(&raw_key).map(|table| (table, raw_key)))
}

/// The row version a write CF key (encoded user key + commit ts) records:
/// table, raw row key, commit ts and value (None: a delete), read through
/// txn's MVCC reader. None when the record is gone (GC, a later reset), is
/// not a row's, or is a lock or rollback record.
fn load_version(snap: &dyn Peekable, write_key: &[u8]) -> Result<Option<TableVersion>> {
    let (user, commit_ts) = Key::split_on_ts_for(write_key)?;
    let key = Key::from_encoded_slice(user);
    let mut reader = MvccReader::new(snap);
    let Some(write) = reader.load_write(&key, commit_ts)? else {
        return Ok(None);
    };
    let Some((table, raw_key)) = row_of(&key)? else {
        return Ok(None);
    };
    Ok(reader
        .committed_value(&key, &write)?
        .map(|value| (table, raw_key, commit_ts.into_inner(), value.map(Arc::from))))
}

/// Adds every row version of encoded user keys `[start, end)` (empty end:
/// unbounded) in `snap` to `delta`.
fn rebuild(snap: &dyn Peekable, delta: &mut Delta, start: &[u8], end: &[u8]) -> Result<()> {
    let lo = Key::from_encoded_slice(start);
    let hi = (!end.is_empty()).then(|| Key::from_encoded_slice(end));
    MvccReader::new(snap).scan_committed(Some(&lo), hi.as_ref(), &mut |key, ts, value| {
        if let Some((table, raw_key)) = row_of(&key)? {
            delta.insert(table, raw_key, ts.into_inner(), value.map(Arc::from));
        }
        Ok(true)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use codec::datum::{Datum, DatumKind};
    use datafusion::arrow::array::{Array, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use kv::engine::{CF_DEFAULT, CF_WRITE, MemoryEngine};
    use kv::raftstore::ApplyObserver;
    use proto::metapb::Region;
    use proto::raft_cmdpb::{CmdType, Request};
    use txn::types::{Write, WriteType};

    use super::*;
    use crate::apply_log::{ApplyLog, last_seq};

    fn row_key(handle: i64) -> Vec<u8> {
        codec::table::encode_row_key(7, &codec::table::Handle::Int(handle))
    }

    fn row_value(v: &[u8]) -> Vec<u8> {
        let mut buf = Vec::new();
        codec::row::encode_row(&mut buf, &[(2, &Datum::Bytes(v.to_vec()))]);
        buf
    }

    /// A raft command writing the commit record of `handle` at `commit_ts`
    /// (short value inline, or a long one in the default CF).
    fn commit(handle: i64, start_ts: u64, commit_ts: u64, value: Option<&[u8]>) -> Vec<Request> {
        let key = Key::from_raw(&row_key(handle));
        let mut reqs = Vec::new();
        let write = match value.map(row_value) {
            None => Write::new(WriteType::Delete, start_ts.into(), None),
            Some(v) if v.len() <= 255 => Write::new(WriteType::Put, start_ts.into(), Some(v)),
            Some(v) => {
                reqs.push(Request {
                    cmd_type: CmdType::Put as i32,
                    cf: CF_DEFAULT.into(),
                    key: key.clone().append_ts(start_ts.into()).into_encoded(),
                    value: v,
                    ..Default::default()
                });
                Write::new(WriteType::Put, start_ts.into(), None)
            }
        };
        reqs.push(Request {
            cmd_type: CmdType::Put as i32,
            cf: CF_WRITE.into(),
            key: key.append_ts(commit_ts.into()).into_encoded(),
            value: write.to_bytes(),
            ..Default::default()
        });
        reqs
    }

    /// Applies requests as the raftstore does: data and the observer's log
    /// in one batch.
    fn apply(engine: &EngineRef, log: &ApplyLog, reqs: Vec<Request>) {
        let mut wb = WriteBatch::default();
        log.on_write(&Region::default(), &reqs, &mut wb);
        for r in reqs {
            let cf = kv::engine::static_cf(&r.cf).unwrap();
            wb.put(cf, kv::keys::data_key(&r.key), r.value);
        }
        engine.write(&wb, false).unwrap();
    }

    /// (handle, value) of the rows visible at `ts`, from both layers.
    fn handles(view: &ColumnarView, ts: u64) -> Vec<(i64, Vec<u8>)> {
        handles_at(view, None, ts).expect("no snapshot, never stale")
    }

    /// As [`handles`], caught up with `snap` first and read as the service
    /// does ([`ColumnarView::read_at`]); None when the view refuses.
    fn handles_at(
        view: &ColumnarView,
        snap: Option<&dyn Peekable>,
        ts: u64,
    ) -> Option<Vec<(i64, Vec<u8>)>> {
        let kind = |k| codec::arrow::kind_to_u32(k);
        let columns = vec![
            ColumnSpec {
                id: 1,
                name: "h".into(),
                kind: kind(DatumKind::I64),
                handle: true,
                ..Default::default()
            },
            ColumnSpec {
                id: 2,
                name: "v".into(),
                kind: kind(DatumKind::Bytes),
                nullable: true,
                ..Default::default()
            },
        ];
        let schema = Arc::new(Schema::new(vec![
            Field::new("h", DataType::Int64, false),
            Field::new("v", DataType::Utf8, true),
        ]));
        let scan = Scan {
            table: 7,
            start: b"",
            end: b"",
            ts,
            columns: &columns,
            schema: &schema,
            prune: None,
        };
        let r = match snap {
            Some(snap) => view.read_at(snap, &scan).unwrap()?,
            None => view.read(&scan).unwrap(),
        };
        let mut out = Vec::new();
        for b in r.batches {
            let h = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            let v = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
            for i in 0..b.num_rows() {
                out.push((h.value(i), v.value(i).as_bytes().to_vec()));
            }
        }
        for (k, v) in r.records {
            let h = match codec::table::decode_row_key(&k, false).unwrap().1 {
                codec::table::Handle::Int(h) => h,
                _ => unreachable!(),
            };
            let view = codec::row::RowView::new(&v).unwrap();
            let Some(Datum::Bytes(b)) = view.get(2, DatumKind::Bytes).unwrap() else {
                unreachable!()
            };
            out.push((h, b));
        }
        out.sort();
        Some(out)
    }

    #[tokio::test]
    async fn follows_the_apply_log_compacts_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let engine: EngineRef = Arc::new(MemoryEngine::new());
        let log = ApplyLog::open(&engine).unwrap();
        let view = ColumnarView::open(engine.clone(), Some(dir.path())).unwrap();
        let long = vec![b'x'; 300];
        apply(&engine, &log, commit(1, 10, 11, Some(b"one")));
        apply(&engine, &log, commit(2, 12, 13, Some(&long)));
        view.catch_up_now().unwrap();
        assert_eq!(handles(&view, 12), vec![(1, b"one".to_vec())]);
        assert_eq!(
            handles(&view, 13),
            vec![(1, b"one".to_vec()), (2, long.clone())]
        );

        // Into the stable layer; the log up to here is gone but for its
        // last record (sequence numbers never go back).
        assert_eq!(view.compact(0).await.unwrap(), 2);
        assert_eq!((view.delta_versions(), view.stable_versions()), (0, 2));
        assert_eq!(last_seq(engine.as_ref()).unwrap(), 2);
        assert_eq!(handles(&view, 13).len(), 2);

        // A delete in the delta hides the stable version.
        apply(&engine, &log, commit(1, 20, 21, None));
        assert_eq!(handles(&view, 30).len(), 2, "not caught up yet");
        view.catch_up_now().unwrap();
        assert_eq!(handles(&view, 30), vec![(2, long.clone())]);
        assert_eq!(handles(&view, 20).len(), 2);

        // A restart loads the chunks and replays the log after them.
        drop(view);
        apply(&engine, &log, commit(3, 30, 31, Some(b"three")));
        let log = ApplyLog::open(&engine).unwrap();
        let view = ColumnarView::open(engine.clone(), Some(dir.path())).unwrap();
        assert_eq!((view.delta_versions(), view.stable_versions()), (2, 2));
        assert_eq!(
            handles(&view, 40),
            vec![(2, long.clone()), (3, b"three".to_vec())]
        );
        apply(&engine, &log, commit(4, 40, 41, Some(b"four")));
        view.catch_up_now().unwrap();
        assert_eq!(handles(&view, 50).len(), 3);
        // GC at 35 drops row 1's versions (deleted at 21) from the stable.
        view.compact(35).await.unwrap();
        assert_eq!(view.stable_versions(), 3);
        assert_eq!(handles(&view, 50).len(), 3);
        drop(view);
        let view = ColumnarView::open(engine.clone(), Some(dir.path())).unwrap();
        assert_eq!((view.delta_versions(), view.stable_versions()), (0, 3));
        assert_eq!(handles(&view, 50).len(), 3);
        // A restart right after a compaction: the log goes on numbering
        // after the manifest's applied_seq, so new commits are not skipped.
        drop((view, log));
        let log = ApplyLog::open(&engine).unwrap();
        let view = ColumnarView::open(engine.clone(), Some(dir.path())).unwrap();
        apply(&engine, &log, commit(5, 60, 61, Some(b"five")));
        view.catch_up_now().unwrap();
        assert_eq!(handles(&view, 70).len(), 4);
    }

    #[tokio::test]
    async fn a_reset_range_is_rebuilt_from_the_engine() {
        let engine: EngineRef = Arc::new(MemoryEngine::new());
        let log = ApplyLog::open(&engine).unwrap();
        let view = ColumnarView::open(engine.clone(), None).unwrap();
        for h in 1..=4 {
            apply(&engine, &log, commit(h, 10, 11, Some(b"v")));
        }
        view.catch_up_now().unwrap();
        view.compact(0).await.unwrap();
        apply(&engine, &log, commit(5, 10, 11, Some(b"v")));
        // A destroyed peer's range [row 2, row 5) is cleared with the data.
        let (s, e) = (Key::from_raw(&row_key(2)), Key::from_raw(&row_key(5)));
        let mut wb = WriteBatch::default();
        for cf in kv::engine::DATA_CFS {
            wb.delete_range(
                cf,
                kv::keys::data_key(s.as_encoded()),
                kv::keys::data_key(e.as_encoded()),
            );
        }
        log.on_range_reset(s.as_encoded(), e.as_encoded(), &mut wb);
        engine.write(&wb, false).unwrap();
        view.catch_up_now().unwrap();
        let hs: Vec<i64> = handles(&view, 20).into_iter().map(|(h, _)| h).collect();
        assert_eq!(hs, vec![1, 5]);
        // Without files the log stays: a new view replays all of it.
        let view = ColumnarView::open(engine.clone(), None).unwrap();
        let hs: Vec<i64> = handles(&view, 20).into_iter().map(|(h, _)| h).collect();
        assert_eq!(hs, vec![1, 5]);
    }

    /// A read that took its snapshot before its learner was removed must not
    /// see the range as the later, emptier rebuild left it: the view refuses
    /// (the service answers "region not found" and the client retries).
    #[tokio::test]
    async fn a_read_from_before_a_reset_is_refused_not_answered_empty() {
        let engine: EngineRef = Arc::new(MemoryEngine::new());
        let log = ApplyLog::open(&engine).unwrap();
        let view = ColumnarView::open(engine.clone(), None).unwrap();
        for h in 1..=4 {
            apply(&engine, &log, commit(h, 10, 11, Some(b"v")));
        }
        view.catch_up_now().unwrap();
        let before = engine.snapshot();
        // The learner's peer is destroyed: [row 2, row 5) cleared and reset.
        let (s, e) = (Key::from_raw(&row_key(2)), Key::from_raw(&row_key(5)));
        let mut wb = WriteBatch::default();
        for cf in kv::engine::DATA_CFS {
            wb.delete_range(
                cf,
                kv::keys::data_key(s.as_encoded()),
                kv::keys::data_key(e.as_encoded()),
            );
        }
        log.on_range_reset(s.as_encoded(), e.as_encoded(), &mut wb);
        engine.write(&wb, false).unwrap();
        // The background catch-up applies the reset first.
        view.catch_up_now().unwrap();
        assert_eq!(handles_at(&view, Some(before.as_ref()), 20), None);
        let now = engine.snapshot();
        let hs: Option<Vec<i64>> = handles_at(&view, Some(now.as_ref()), 20)
            .map(|v| v.into_iter().map(|(h, _)| h).collect());
        assert_eq!(hs, Some(vec![1]));
    }
}
