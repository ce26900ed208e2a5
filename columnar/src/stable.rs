//! # The stable layer: sorted, immutable chunks of row versions
//!
//! The delta takes versions as they are applied; compaction moves them into
//! **chunks**: Arrow record batches of up to [`CHUNK_ROWS`] versions of one
//! table, sorted by row key and, within a key, newest first. A table's
//! chunks cover disjoint key ranges, and a key's versions never straddle
//! two chunks.
//!
//! ```text
//!   _key (Binary)  _ts (UInt64)  _del (Bool)  c2 (Binary) p2 (Bool)  c3 ...  p3 ...
//!   t42_r1         120           false        <bytes>     true       NULL    true    <- c3 is NULL
//!   t42_r1         100           false        <bytes>     true       -       false   <- no c3 yet
//!   t42_r2         125           true         NULL        false      ...              <- deleted
//! ```
//!
//! Columns are kept as the **raw value bytes** of the row format, one Binary
//! column per column id (`c{id}`, NULL for SQL NULL) with a presence column
//! (`p{id}`, false when the version was written before the column existed,
//! so a reader substitutes the column's default). The store needs no schema
//! for that: a reader names each column's id and type, and the chunk
//! decodes the column into a typed Arrow array once and keeps it
//! ([`Chunk::column`]). Column types never change in place (`ADD COLUMN`
//! takes a new id), so a decoded column stays valid as long as the chunk.
//!
//! Merging ([`StableTable::merge`]) interleaves a chunk's rows with the new
//! versions and drops what no read can see any more: for each key, every
//! version newer than the GC safe point stays, plus the newest one at or
//! below it unless that is a delete.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use codec::datum::Datum;
use codec::row::{RawColumn, RowView};
use codec::table::ColumnId;
use datafusion::arrow::array::{
    Array, ArrayBuilder, ArrayRef, BinaryArray, BinaryBuilder, BooleanArray, BooleanBuilder,
    Int64Array, UInt32Array, UInt64Array, new_null_array,
};
use datafusion::arrow::compute::{interleave, take};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use parking_lot::Mutex;
use proto::kvrpcpb::ColumnSpec;

use crate::{Error, Result};

/// Versions per chunk a merge aims for (a key's versions stay together,
/// so a chunk may hold a few more).
pub const CHUNK_ROWS: usize = 65_536;

const KEY: &str = "_key";
const TS: &str = "_ts";
const DEL: &str = "_del";

/// A version on its way into a chunk: raw row key, commit ts, and the row
/// value (None: a delete).
pub type NewVersion = crate::delta::RowVersion;

fn arrow(e: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("columnar chunk: {e}"))
}

/// How one column is decoded: everything of a [`ColumnSpec`] but its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DecodeKey {
    id: ColumnId,
    kind: u32,
    precision: u32,
    scale: u32,
    binary: bool,
    handle: bool,
    default: Vec<u8>,
}

impl DecodeKey {
    fn of(spec: &ColumnSpec) -> Self {
        DecodeKey {
            id: spec.id,
            kind: spec.kind,
            precision: spec.precision,
            scale: spec.scale,
            binary: spec.binary,
            handle: spec.handle,
            default: spec.default.clone(),
        }
    }
}

/// One immutable chunk of a table's versions.
pub struct Chunk {
    /// Unique within the store: names its file.
    pub id: u64,
    batch: RecordBatch,
    keys: BinaryArray,
    ts: UInt64Array,
    del: BooleanArray,
    /// Column id -> (index of `c{id}`, index of `p{id}`) in `batch`.
    columns: HashMap<ColumnId, (usize, usize)>,
    decoded: Mutex<HashMap<DecodeKey, ArrayRef>>,
    /// Min and max of decoded columns, for pruning.
    bounds: Mutex<HashMap<DecodeKey, (ScalarValue, ScalarValue)>>,
    /// Every key has one version and none is a delete: a read at or after
    /// `max_ts` sees every row but those the delta has newer versions of.
    plain: bool,
    max_ts: u64,
}

/// The rows of a chunk one read sees.
#[derive(Debug, Clone, PartialEq)]
pub enum Rows {
    /// `len` consecutive rows from `from`.
    Run { from: usize, len: usize },
    /// These rows, ascending.
    Picked(UInt32Array),
}

impl Rows {
    pub fn len(&self) -> usize {
        match self {
            Rows::Run { len, .. } => *len,
            Rows::Picked(p) => p.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first row when the rows are consecutive, else the picked rows.
    fn as_run(&self) -> std::result::Result<usize, &UInt32Array> {
        match self {
            Rows::Run { from, .. } => Ok(*from),
            Rows::Picked(p) => match (p.values().first(), p.values().last()) {
                (Some(&a), Some(&b)) if (b - a) as usize + 1 == p.len() => Ok(a as usize),
                _ => Err(p),
            },
        }
    }
}

/// Keys the delta holds a version of, visible to a read, with that
/// version's commit ts: a chunk row of such a key at or below it is hidden.
#[derive(Debug, Default)]
pub struct Newer<'a> {
    /// Sorted by key.
    keys: Vec<(&'a [u8], u64)>,
}

impl<'a> Newer<'a> {
    pub fn new(mut keys: Vec<(&'a [u8], u64)>) -> Self {
        keys.sort_unstable();
        Newer { keys }
    }

    fn hides(&self, key: &[u8], ts: u64) -> bool {
        self.keys
            .binary_search_by(|(k, _)| (*k).cmp(key))
            .is_ok_and(|i| self.keys[i].1 >= ts)
    }
}

impl std::fmt::Debug for Chunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Chunk({}, {} versions)", self.id, self.len())
    }
}

impl Chunk {
    /// A chunk over a batch in the layout of the module docs.
    pub fn from_batch(id: u64, batch: RecordBatch) -> Result<Chunk> {
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| arrow(format!("no column {name}")))
        };
        let keys = col(KEY)?
            .as_any()
            .downcast_ref::<BinaryArray>()
            .ok_or_else(|| arrow("_key is not Binary"))?
            .clone();
        let ts = col(TS)?
            .as_any()
            .downcast_ref::<UInt64Array>()
            .ok_or_else(|| arrow("_ts is not UInt64"))?
            .clone();
        let del = col(DEL)?
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| arrow("_del is not Boolean"))?
            .clone();
        let plain =
            del.true_count() == 0 && (1..keys.len()).all(|i| keys.value(i - 1) != keys.value(i));
        let max_ts = ts.values().iter().copied().max().unwrap_or(0);
        let schema = batch.schema();
        let mut columns = HashMap::new();
        for (i, f) in schema.fields().iter().enumerate() {
            if let Some(id) = f.name().strip_prefix('c').and_then(|n| n.parse().ok()) {
                let p = schema
                    .index_of(&format!("p{id}"))
                    .map_err(|_| arrow(format!("column c{id} without p{id}")))?;
                columns.insert(id, (i, p));
            }
        }
        Ok(Chunk {
            id,
            batch,
            keys,
            ts,
            del,
            columns,
            decoded: Mutex::new(HashMap::new()),
            bounds: Mutex::new(HashMap::new()),
            plain,
            max_ts,
        })
    }

    /// Builds a chunk from versions sorted by key, then ts descending.
    pub fn build(id: u64, versions: &[NewVersion]) -> Result<Chunk> {
        let n = versions.len();
        let mut keys = BinaryBuilder::with_capacity(n, n * 16);
        let mut ts = Vec::with_capacity(n);
        let mut del = BooleanBuilder::with_capacity(n);
        // Column id -> (values, presence), filled up to the current row.
        let mut cols: BTreeMap<ColumnId, (BinaryBuilder, BooleanBuilder)> = BTreeMap::new();
        for (row, (key, t, value)) in versions.iter().enumerate() {
            keys.append_value(key);
            ts.push(*t);
            del.append_value(value.is_none());
            if let Some(v) = value {
                let view = RowView::new(v)?;
                for id in view.column_ids() {
                    let (vals, present) = cols.entry(id).or_insert_with(|| {
                        let mut vals = BinaryBuilder::with_capacity(n, 0);
                        let mut present = BooleanBuilder::with_capacity(n);
                        vals.append_nulls(row);
                        present.append_n(row, false);
                        (vals, present)
                    });
                    match view.raw(id) {
                        RawColumn::Value(b) => vals.append_value(b),
                        RawColumn::Null | RawColumn::Absent => vals.append_null(),
                    }
                    present.append_value(true);
                }
            }
            // Columns this version lacks.
            for (vals, present) in cols.values_mut() {
                if present.len() == row {
                    vals.append_null();
                    present.append_value(false);
                }
            }
        }
        let mut fields = vec![
            Field::new(KEY, DataType::Binary, false),
            Field::new(TS, DataType::UInt64, false),
            Field::new(DEL, DataType::Boolean, false),
        ];
        let mut arrays: Vec<ArrayRef> = vec![
            Arc::new(keys.finish()),
            Arc::new(UInt64Array::from(ts)),
            Arc::new(del.finish()),
        ];
        for (id, (mut vals, mut present)) in cols {
            fields.push(Field::new(format!("c{id}"), DataType::Binary, true));
            fields.push(Field::new(format!("p{id}"), DataType::Boolean, false));
            arrays.push(Arc::new(vals.finish()));
            arrays.push(Arc::new(present.finish()));
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(arrow)?;
        Chunk::from_batch(id, batch)
    }

    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn batch(&self) -> &RecordBatch {
        &self.batch
    }

    pub fn first_key(&self) -> &[u8] {
        self.keys.value(0)
    }

    pub fn last_key(&self) -> &[u8] {
        self.keys.value(self.len() - 1)
    }

    /// The first row whose key is at least `key`.
    fn lower_bound(&self, key: &[u8]) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.keys.value(mid) < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Rows visible at `ts` with keys in `[start, end)` (empty end:
    /// unbounded): per key the newest version at or below `ts`, unless it
    /// is a delete or `newer` has a newer version of the key (the delta).
    pub fn visible(&self, start: &[u8], end: &[u8], ts: u64, newer: &Newer<'_>) -> Rows {
        let from = self.lower_bound(start);
        let to = if end.is_empty() {
            self.len()
        } else {
            self.lower_bound(end)
        };
        if self.plain && self.max_ts <= ts {
            return self.visible_plain(from, to, newer);
        }
        let mut out = Vec::new();
        let mut i = from;
        while i < to {
            let key = self.keys.value(i);
            let mut j = i;
            let mut chosen = None;
            while j < to && self.keys.value(j) == key {
                if chosen.is_none() && self.ts.value(j) <= ts {
                    chosen = Some(j);
                }
                j += 1;
            }
            if let Some(c) = chosen
                && !self.del.value(c)
                && !newer.hides(key, self.ts.value(c))
            {
                out.push(c as u32);
            }
            i = j;
        }
        Rows::Picked(UInt32Array::from(out))
    }

    /// [`Chunk::visible`] of a plain chunk every row of which the read's
    /// ts sees: rows `[from, to)` but those the delta hides, found by
    /// looking its keys up rather than comparing every row's key.
    fn visible_plain(&self, from: usize, to: usize, newer: &Newer<'_>) -> Rows {
        let mut hidden: Vec<usize> = Vec::new();
        if from < to {
            let (lo, hi) = (self.keys.value(from), self.keys.value(to - 1));
            let first = newer.keys.partition_point(|(k, _)| *k < lo);
            for &(key, t) in newer.keys[first..].iter().take_while(|(k, _)| *k <= hi) {
                let i = self.lower_bound(key);
                if i < to && self.keys.value(i) == key && t >= self.ts.value(i) {
                    hidden.push(i);
                }
            }
        }
        if hidden.is_empty() {
            return Rows::Run {
                from,
                len: to - from,
            };
        }
        // `hidden` ascends: the delta's keys are sorted.
        let mut rows = Vec::with_capacity(to - from - hidden.len());
        let mut next = from as u32;
        for h in hidden.into_iter().map(|h| h as u32) {
            rows.extend(next..h);
            next = h + 1;
        }
        rows.extend(next..to as u32);
        Rows::Picked(UInt32Array::from(rows))
    }

    /// Column `spec` as a typed array over every row (decoded once, then
    /// kept). `dt` is the Arrow type of the spec.
    pub fn column(&self, spec: &ColumnSpec, dt: &DataType) -> Result<ArrayRef> {
        let key = DecodeKey::of(spec);
        if let Some(a) = self.decoded.lock().get(&key) {
            return Ok(a.clone());
        }
        let array = self.decode(spec, dt)?;
        self.decoded.lock().insert(key, array.clone());
        Ok(array)
    }

    /// Min and max of column `spec` over every version (NULLs of type
    /// `dt` when it has no values), computed once, then kept.
    pub fn bounds(&self, spec: &ColumnSpec, dt: &DataType) -> Result<(ScalarValue, ScalarValue)> {
        use datafusion::functions_aggregate::min_max::{MaxAccumulator, MinAccumulator};
        use datafusion::logical_expr::Accumulator;
        let key = DecodeKey::of(spec);
        if let Some(b) = self.bounds.lock().get(&key) {
            return Ok(b.clone());
        }
        let array = self.column(spec, dt)?;
        let mut min = MinAccumulator::try_new(dt).map_err(arrow)?;
        let mut max = MaxAccumulator::try_new(dt).map_err(arrow)?;
        min.update_batch(std::slice::from_ref(&array))
            .map_err(arrow)?;
        max.update_batch(&[array]).map_err(arrow)?;
        let b = (
            min.evaluate().map_err(arrow)?,
            max.evaluate().map_err(arrow)?,
        );
        self.bounds.lock().insert(key, b.clone());
        Ok(b)
    }

    fn decode(&self, spec: &ColumnSpec, dt: &DataType) -> Result<ArrayRef> {
        let kind = codec::arrow::kind_from_u32(spec.kind)
            .ok_or_else(|| arrow(format!("unknown column kind {}", spec.kind)))?;
        if spec.handle {
            let handles = (0..self.len())
                .map(
                    |i| match codec::table::decode_row_key(self.keys.value(i), false)?.1 {
                        codec::table::Handle::Int(h) => Ok(h),
                        codec::table::Handle::Common(_) => Err(arrow("integer handle expected")),
                    },
                )
                .collect::<Result<Vec<i64>>>()?;
            return Ok(match dt {
                DataType::UInt64 => Arc::new(
                    handles
                        .into_iter()
                        .map(|h| h as u64)
                        .collect::<UInt64Array>(),
                ),
                _ => Arc::new(Int64Array::from(handles)),
            });
        }
        let default = if spec.default.is_empty() {
            Datum::Null
        } else {
            codec::key::decode_key_datum(&mut spec.default.as_slice())?
        };
        let datums: Vec<Datum> = match self.columns.get(&spec.id) {
            None => vec![default; self.len()],
            Some(&(v, p)) => {
                let vals = self.batch.column(v);
                let vals = vals
                    .as_any()
                    .downcast_ref::<BinaryArray>()
                    .ok_or_else(|| arrow("value column is not Binary"))?;
                let present = self.batch.column(p);
                let present = present
                    .as_any()
                    .downcast_ref::<BooleanArray>()
                    .ok_or_else(|| arrow("presence column is not Boolean"))?;
                (0..self.len())
                    .map(|i| {
                        if !present.value(i) {
                            Ok(default.clone())
                        } else if vals.is_null(i) {
                            Ok(Datum::Null)
                        } else {
                            Ok(codec::row::decode_value(vals.value(i), kind)?)
                        }
                    })
                    .collect::<Result<_>>()?
            }
        };
        codec::arrow::build_array(dt, datums.iter())
            .map_err(|e| arrow(format!("column {}: {e}", spec.id)))
    }

    /// The rows `indices` of the scan's columns, as a batch of `schema`.
    pub fn project(
        &self,
        columns: &[ColumnSpec],
        schema: &SchemaRef,
        rows: &Rows,
    ) -> Result<RecordBatch> {
        // Rows in one run (every key has one visible version, the common
        // case) are a slice of the decoded columns, not a copy.
        let arrays = columns
            .iter()
            .zip(schema.fields())
            .map(|(spec, f)| {
                let full = self.column(spec, f.data_type())?;
                match rows.as_run() {
                    Ok(from) => Ok(full.slice(from, rows.len())),
                    Err(picked) => take(&full, picked, None).map_err(arrow),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let options =
            datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(rows.len()));
        RecordBatch::try_new_with_options(schema.clone(), arrays, &options).map_err(arrow)
    }

    /// The chunk without the rows whose keys are in `[start, end)`.
    fn without_range(&self, id: u64, start: &[u8], end: &[u8]) -> Result<Chunk> {
        let keep: Vec<u32> = (0..self.len())
            .filter(|&i| {
                let k = self.keys.value(i);
                k < start || (!end.is_empty() && k >= end)
            })
            .map(|i| i as u32)
            .collect();
        let indices = UInt32Array::from(keep);
        let arrays = self
            .batch
            .columns()
            .iter()
            .map(|c| take(c, &indices, None).map_err(arrow))
            .collect::<Result<Vec<_>>>()?;
        let batch = RecordBatch::try_new(self.batch.schema(), arrays).map_err(arrow)?;
        Chunk::from_batch(id, batch)
    }
}

/// Min/max statistics of chunks for DataFusion's `PruningPredicate`:
/// one container per chunk, columns by the scan's names. The values span
/// every version a chunk holds, visible or not, so a chunk a filter rules
/// out holds no visible row it would keep.
pub struct ChunkStats<'a> {
    pub chunks: &'a [Arc<Chunk>],
    pub columns: &'a [ColumnSpec],
    pub schema: &'a SchemaRef,
}

impl ChunkStats<'_> {
    fn bound(&self, column: &datafusion::common::Column, max: bool) -> Option<ArrayRef> {
        let i = self.schema.index_of(&column.name).ok()?;
        let (spec, field) = (&self.columns[i], self.schema.field(i));
        let values = self
            .chunks
            .iter()
            .map(|c| {
                let (lo, hi) = c.bounds(spec, field.data_type()).ok()?;
                Some(if max { hi } else { lo })
            })
            .map(|v| v.or_else(|| ScalarValue::try_from(field.data_type()).ok()))
            .collect::<Option<Vec<ScalarValue>>>()?;
        ScalarValue::iter_to_array(values).ok()
    }
}

impl datafusion::common::pruning::PruningStatistics for ChunkStats<'_> {
    fn min_values(&self, column: &datafusion::common::Column) -> Option<ArrayRef> {
        self.bound(column, false)
    }

    fn max_values(&self, column: &datafusion::common::Column) -> Option<ArrayRef> {
        self.bound(column, true)
    }

    fn num_containers(&self) -> usize {
        self.chunks.len()
    }

    fn null_counts(&self, column: &datafusion::common::Column) -> Option<ArrayRef> {
        let i = self.schema.index_of(&column.name).ok()?;
        let (spec, field) = (&self.columns[i], self.schema.field(i));
        let counts = self
            .chunks
            .iter()
            .map(|c| Some(c.column(spec, field.data_type()).ok()?.null_count() as u64))
            .collect::<Option<Vec<u64>>>()?;
        Some(Arc::new(UInt64Array::from(counts)))
    }

    fn row_counts(&self) -> Option<ArrayRef> {
        let counts: Vec<u64> = self.chunks.iter().map(|c| c.len() as u64).collect();
        Some(Arc::new(UInt64Array::from(counts)))
    }

    fn contained(
        &self,
        _column: &datafusion::common::Column,
        _values: &std::collections::HashSet<datafusion::common::ScalarValue>,
    ) -> Option<BooleanArray> {
        None
    }
}

/// A table's chunks, in key order.
#[derive(Debug, Default, Clone)]
pub struct StableTable {
    pub chunks: Vec<Arc<Chunk>>,
}

impl StableTable {
    /// Versions held.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.iter().all(|c| c.is_empty())
    }

    /// The chunks that may hold keys in `[start, end)`.
    pub fn overlapping<'a>(
        &'a self,
        start: &'a [u8],
        end: &'a [u8],
    ) -> impl Iterator<Item = &'a Arc<Chunk>> + 'a {
        self.chunks.iter().filter(move |c| {
            !c.is_empty() && c.last_key() >= start && (end.is_empty() || c.first_key() < end)
        })
    }

    /// The index of the chunk a new version of `key` merges into.
    fn home(&self, key: &[u8]) -> usize {
        self.chunks
            .iter()
            .rposition(|c| c.first_key() <= key)
            .unwrap_or(0)
    }

    /// Merges `versions` (sorted by key, then ts descending) into the
    /// chunks, dropping versions no read at or after `safe_point` needs.
    /// Only the chunks that receive versions are rewritten.
    pub fn merge(
        &self,
        versions: Vec<NewVersion>,
        safe_point: u64,
        next_id: &mut dyn FnMut() -> u64,
    ) -> Result<StableTable> {
        if versions.is_empty() {
            return Ok(self.clone());
        }
        let mut incoming: BTreeMap<usize, Vec<NewVersion>> = BTreeMap::new();
        for v in versions {
            let home = if self.chunks.is_empty() {
                0
            } else {
                self.home(&v.0)
            };
            incoming.entry(home).or_default().push(v);
        }
        let mut chunks = Vec::new();
        for (i, old) in self.chunks.iter().enumerate() {
            match incoming.remove(&i) {
                None => chunks.push(old.clone()),
                Some(new) => chunks.extend(merge_chunk(Some(old), new, safe_point, next_id)?),
            }
        }
        if let Some(new) = incoming.remove(&0) {
            // No chunk yet.
            chunks.extend(merge_chunk(None, new, safe_point, next_id)?);
        }
        chunks.retain(|c| !c.is_empty());
        Ok(StableTable { chunks })
    }

    /// The table without the versions of keys in `[start, end)`.
    pub fn clear_range(
        &self,
        start: &[u8],
        end: &[u8],
        next_id: &mut dyn FnMut() -> u64,
    ) -> Result<StableTable> {
        let mut chunks = Vec::new();
        for c in &self.chunks {
            let touched = c.last_key() >= start && (end.is_empty() || c.first_key() < end);
            if touched {
                let kept = c.without_range(next_id(), start, end)?;
                if !kept.is_empty() {
                    chunks.push(Arc::new(kept));
                }
            } else {
                chunks.push(c.clone());
            }
        }
        Ok(StableTable { chunks })
    }
}

/// One chunk's rows and new versions, merged, collected and cut into
/// chunks of about [`CHUNK_ROWS`].
fn merge_chunk(
    old: Option<&Arc<Chunk>>,
    new: Vec<NewVersion>,
    safe_point: u64,
    next_id: &mut dyn FnMut() -> u64,
) -> Result<Vec<Arc<Chunk>>> {
    let fresh = Chunk::build(0, &new)?;
    // (source, row, key, ts): source 0 is the old chunk, 1 the new one.
    let mut rows: Vec<(usize, usize)> = Vec::with_capacity(new.len() + old.map_or(0, |c| c.len()));
    let sources: Vec<&Chunk> = match old {
        Some(o) => vec![o.as_ref(), &fresh],
        None => vec![&fresh],
    };
    for (s, c) in sources.iter().enumerate() {
        rows.extend((0..c.len()).map(|r| (s, r)));
    }
    let key = |&(s, r): &(usize, usize)| {
        (
            sources[s].keys.value(r),
            std::cmp::Reverse(sources[s].ts.value(r)),
        )
    };
    rows.sort_by(|a, b| key(a).cmp(&key(b)));
    // Drop duplicates (the same version from both sources) and what GC
    // allows.
    let mut kept: Vec<(usize, usize)> = Vec::with_capacity(rows.len());
    let mut i = 0;
    while i < rows.len() {
        let k = key(&rows[i]).0;
        let mut j = i;
        let mut below_safe_point_seen = false;
        let mut last_ts = None;
        while j < rows.len() && key(&rows[j]).0 == k {
            let (s, r) = rows[j];
            let ts = sources[s].ts.value(r);
            if last_ts != Some(ts) {
                last_ts = Some(ts);
                if ts > safe_point {
                    kept.push(rows[j]);
                } else if !below_safe_point_seen {
                    below_safe_point_seen = true;
                    if !sources[s].del.value(r) {
                        kept.push(rows[j]);
                    }
                }
            }
            j += 1;
        }
        i = j;
    }
    // Cut at key boundaries.
    let mut out = Vec::new();
    let mut start = 0;
    while start < kept.len() {
        let mut end = (start + CHUNK_ROWS).min(kept.len());
        while end < kept.len() && key(&kept[end]).0 == key(&kept[end - 1]).0 {
            end += 1;
        }
        out.push(Arc::new(interleave_chunk(
            next_id(),
            &sources,
            &kept[start..end],
        )?));
        start = end;
    }
    Ok(out)
}

/// A chunk of the given rows of the sources, columns unioned.
fn interleave_chunk(id: u64, sources: &[&Chunk], rows: &[(usize, usize)]) -> Result<Chunk> {
    let mut ids: Vec<ColumnId> = sources
        .iter()
        .flat_map(|c| c.columns.keys().copied())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let pick = |arrays: Vec<ArrayRef>| -> Result<ArrayRef> {
        let refs: Vec<&dyn Array> = arrays.iter().map(|a| a.as_ref()).collect();
        interleave(&refs, rows).map_err(arrow)
    };
    let mut fields = vec![
        Field::new(KEY, DataType::Binary, false),
        Field::new(TS, DataType::UInt64, false),
        Field::new(DEL, DataType::Boolean, false),
    ];
    let mut arrays = Vec::new();
    for name in [KEY, TS, DEL] {
        arrays.push(pick(
            sources
                .iter()
                .map(|c| c.batch.column_by_name(name).expect("core column").clone())
                .collect(),
        )?);
    }
    for id in ids {
        let vals = sources
            .iter()
            .map(|c| match c.columns.get(&id) {
                Some(&(v, _)) => c.batch.column(v).clone(),
                None => new_null_array(&DataType::Binary, c.len()),
            })
            .collect();
        let present = sources
            .iter()
            .map(|c| match c.columns.get(&id) {
                Some(&(_, p)) => c.batch.column(p).clone(),
                None => Arc::new(BooleanArray::from(vec![false; c.len()])) as ArrayRef,
            })
            .collect();
        fields.push(Field::new(format!("c{id}"), DataType::Binary, true));
        fields.push(Field::new(format!("p{id}"), DataType::Boolean, false));
        arrays.push(pick(vals)?);
        arrays.push(pick(present)?);
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(arrow)?;
    Chunk::from_batch(id, batch)
}

#[cfg(test)]
mod tests {
    use codec::datum::DatumKind;

    use super::*;

    fn row(cols: &[(ColumnId, Datum)]) -> Option<Arc<[u8]>> {
        let mut buf = Vec::new();
        let refs: Vec<(ColumnId, &Datum)> = cols.iter().map(|(i, d)| (*i, d)).collect();
        codec::row::encode_row(&mut buf, &refs);
        Some(Arc::from(buf))
    }

    fn key(h: i64) -> Vec<u8> {
        codec::table::encode_row_key(1, &codec::table::Handle::Int(h))
    }

    fn spec(id: ColumnId, kind: DatumKind, handle: bool, default: Option<Datum>) -> ColumnSpec {
        let mut d = Vec::new();
        if let Some(v) = default {
            codec::key::encode_key_datum(&mut d, &v);
        }
        ColumnSpec {
            id,
            name: format!("x{id}"),
            kind: codec::arrow::kind_to_u32(kind),
            handle,
            nullable: true,
            default: d,
            ..Default::default()
        }
    }

    /// The columns tests read: the handle `h`, `a` (id 2), `b` (id 3).
    fn specs() -> (Vec<ColumnSpec>, SchemaRef) {
        let specs = vec![
            spec(0, DatumKind::I64, true, None),
            spec(2, DatumKind::I64, false, None),
            spec(
                3,
                DatumKind::Bytes,
                false,
                Some(Datum::Bytes(b"dflt".to_vec())),
            ),
        ];
        let schema = Arc::new(Schema::new(vec![
            Field::new("h", DataType::Int64, false),
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        (specs, schema)
    }

    /// (handle, a, b) of the rows visible at `ts`.
    fn read(t: &StableTable, ts: u64) -> Vec<(i64, Option<i64>, Option<String>)> {
        let (specs, schema) = specs();
        let mut out = Vec::new();
        for c in t.overlapping(b"", b"") {
            let idx = c.visible(b"", b"", ts, &Newer::default());
            let batch = c.project(&specs, &schema, &idx).unwrap();
            let h = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            let a = batch
                .column(1)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            let b = batch
                .column(2)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::StringArray>()
                .unwrap();
            for i in 0..batch.num_rows() {
                out.push((
                    h.value(i),
                    (!a.is_null(i)).then(|| a.value(i)),
                    (!b.is_null(i)).then(|| b.value(i).to_string()),
                ));
            }
        }
        out
    }

    #[test]
    fn merges_keep_what_reads_need_and_decode_columns() {
        let mut ids = 0;
        let mut next = || {
            ids += 1;
            ids
        };
        let t = StableTable::default()
            .merge(
                vec![
                    (key(1), 10, row(&[(2, Datum::I64(1))])),
                    (key(2), 10, row(&[(2, Datum::I64(2)), (3, Datum::Null)])),
                    (
                        key(3),
                        10,
                        row(&[(2, Datum::I64(3)), (3, Datum::Bytes(b"c".to_vec()))]),
                    ),
                ],
                0,
                &mut next,
            )
            .unwrap();
        assert_eq!(
            read(&t, 10),
            vec![
                (1, Some(1), Some("dflt".into())),
                (2, Some(2), None),
                (3, Some(3), Some("c".into())),
            ]
        );
        assert!(read(&t, 9).is_empty());
        // Row 1 updated at 20, row 2 deleted at 20; a duplicate of row 3's
        // version changes nothing.
        let t = t
            .merge(
                vec![
                    (key(1), 20, row(&[(2, Datum::I64(11))])),
                    (key(2), 20, None),
                    (
                        key(3),
                        10,
                        row(&[(2, Datum::I64(3)), (3, Datum::Bytes(b"c".to_vec()))]),
                    ),
                ],
                0,
                &mut next,
            )
            .unwrap();
        assert_eq!(t.len(), 5);
        assert_eq!(read(&t, 15).len(), 3);
        assert_eq!(
            read(&t, 20),
            vec![
                (1, Some(11), Some("dflt".into())),
                (3, Some(3), Some("c".into()))
            ]
        );
        // GC at safe point 25: old versions and the delete go.
        let t = t
            .merge(vec![(key(4), 30, row(&[]))], 25, &mut next)
            .unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(read(&t, 30).len(), 3);
        // Clearing a range.
        let t = t.clear_range(&key(3), &key(4), &mut next).unwrap();
        let hs: Vec<i64> = read(&t, 30).into_iter().map(|r| r.0).collect();
        assert_eq!(hs, vec![1, 4]);
    }

    #[test]
    fn big_merges_cut_chunks_at_key_boundaries() {
        let mut ids = 0;
        let mut next = || {
            ids += 1;
            ids
        };
        let n = CHUNK_ROWS as i64 + 100;
        let versions: Vec<NewVersion> = (0..n)
            .flat_map(|h| {
                [
                    (key(h), 20, row(&[(2, Datum::I64(h))])),
                    (key(h), 10, row(&[(2, Datum::I64(-h))])),
                ]
            })
            .collect();
        let t = StableTable::default()
            .merge(versions, 0, &mut next)
            .unwrap();
        assert!(t.chunks.len() >= 2);
        for w in t.chunks.windows(2) {
            assert!(w[0].last_key() < w[1].first_key());
        }
        let at20 = read(&t, 20);
        assert_eq!(at20.len(), n as usize);
        assert!(at20.iter().all(|(h, a, _)| *a == Some(*h)));
        assert!(read(&t, 10).iter().all(|(h, a, _)| *a == Some(-*h)));
        // A newer version elsewhere (the delta) hides the stable one.
        let c = &t.chunks[0];
        let k5 = key(5);
        let idx = c.visible(
            &key(0),
            &key(10),
            30,
            &Newer::new(vec![(k5.as_slice(), 30)]),
        );
        assert_eq!(idx.len(), 9);

        // Min/max of `a` (-h at ts 10, h at ts 20) rule chunks out.
        use datafusion::logical_expr::Operator;
        use datafusion::physical_expr::expressions::{binary, col, lit};
        use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
        let (specs, schema) = specs();
        let stats = ChunkStats {
            chunks: &t.chunks,
            columns: &specs,
            schema: &schema,
        };
        let prune = |op, v: i64| {
            let e = binary(col("a", &schema).unwrap(), op, lit(v), &schema).unwrap();
            let p = PruningPredicateBuilder::new()
                .with_file_schema(schema.clone())
                .build(e)
                .expect("a predicate that can prune");
            p.prune(&stats).unwrap()
        };
        let last = t.chunks.len() - 1;
        let kept = prune(Operator::Gt, CHUNK_ROWS as i64 + 10);
        assert!(!kept[0] && kept[last], "{kept:?}");
        assert!(prune(Operator::Lt, -n).iter().all(|k| !k));
        // Each chunk spans [-max h, max h]: 40000 is outside the first only.
        let kept = prune(Operator::Eq, 40_000);
        assert!(!kept[0] && kept[last], "{kept:?}");
    }

    #[test]
    fn plain_chunks_are_read_as_runs_but_for_what_the_delta_hides() {
        let c = Chunk::build(
            1,
            &(0..100)
                .map(|h| (key(h), 10 + h as u64, row(&[(2, Datum::I64(h))])))
                .collect::<Vec<NewVersion>>(),
        )
        .unwrap();
        // Every version at or below ts: a run of the range.
        let all = c.visible(&key(10), &key(20), 200, &Newer::default());
        assert_eq!(all, Rows::Run { from: 10, len: 10 });
        // The delta's newer versions of keys 12 and 19 hide them; its key
        // 50 is out of range and an older delta version hides nothing.
        let (k12, k19, k50, k15) = (key(12), key(19), key(50), key(15));
        let newer = Newer::new(vec![
            (k50.as_slice(), 300),
            (k19.as_slice(), 300),
            (k12.as_slice(), 300),
            (k15.as_slice(), 1),
        ]);
        let Rows::Picked(p) = c.visible(&key(10), &key(20), 200, &newer) else {
            panic!("rows hidden by the delta are picked out");
        };
        let expect: Vec<u32> = vec![10, 11, 13, 14, 15, 16, 17, 18];
        assert_eq!(p.values().to_vec(), expect);
        // A read older than some versions takes the per-key path: keys
        // committed after ts 50 (h > 40) are not there.
        let old = c.visible(b"", b"", 50, &Newer::default());
        assert_eq!(old.len(), 41);
        let (specs, schema) = specs();
        let batch = c.project(&specs, &schema, &all).unwrap();
        let h = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(h.values().to_vec(), (10..20).collect::<Vec<i64>>());
    }
}
