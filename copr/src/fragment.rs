//! # The coprocessor: table scans that filter where the data is
//!
//! A SQL statement that scans a table does not pull the table into the SQL
//! layer to filter it: it sends a [`CopRequest`](proto::kvrpcpb::CopRequest) to the leader of every
//! region in range. The store scans its part of the range at the request's
//! `start_ts` (the same MVCC scan `kv_scan` uses, so locks come back for
//! the client to resolve), decodes the records into Arrow columns
//! ([`Fragment::decode`]), keeps the rows every pushed filter accepts,
//! projects the requested columns and stops at the limit
//! ([`Fragment::apply`]). What travels back is an Arrow IPC stream.
//!
//! ```text
//!   SQL layer                                    kv store (region leader)
//!   ScanExec ── CopRequest{ts, range, scan,   ──> MVCC scan (page)
//!                    filters, output, limit}          decode rows -> batch
//!               <── CopResponse{Arrow IPC,        <── filter, project, limit
//!                    resume_key | locks}
//! ```
//!
//! Filters are DataFusion logical expressions over the scan's columns by
//! name, serialized with `datafusion-proto`; the store plans them into
//! physical expressions against the same schema and DataFusion version the
//! SQL layer uses, so a filter means the same thing on either side. The
//! SQL layer runs the very same [`Fragment`] itself when a transaction has
//! uncommitted writes in the range (they live only in the client's
//! buffer), which keeps one definition of a pushed-down scan.
//!
//! Pages bound the work and the answer of one call: at most
//! `page_records` records are scanned before the store answers with a
//! `resume_key`.
//!
//! Reference: TiKV `src/coprocessor` (the DAG handler) and TiDB's
//! `distsql`; TiDB's `TableReader` / `cop[tikv]` tasks.

pub mod bloom;
pub mod decimal;
mod endpoint;
pub mod flight;
pub mod mysql;
pub mod plan;

use std::sync::{Arc, OnceLock};

use codec::arrow::{ColumnKind, build_array, kind_from_u32};
use codec::datum::{Datum, DatumKind};
use codec::table::Handle;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions};
use datafusion::arrow::compute::{and, filter_record_batch};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::common::DFSchema;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::physical_expr::{PhysicalExpr, create_physical_expr};
use datafusion::prelude::SessionContext;
use datafusion_proto::bytes::Serializeable;
use proto::kvrpcpb::{ColumnSpec, TableScan};

use crate::{Error, Result};

pub use plan::PlanFragment;

/// Records scanned per page when the request does not say.
pub const DEFAULT_PAGE_RECORDS: usize = 4096;

/// One column of a scan, decoded from its [`ColumnSpec`].
#[derive(Debug, Clone)]
struct ScanColumn {
    id: i64,
    kind: DatumKind,
    /// The integer handle of the row key (unsigned: its bit pattern).
    handle: bool,
    default: Datum,
}

/// A pushed-down scan: how to decode a record into the scan's columns, and
/// which rows and columns to keep.
pub struct Fragment {
    columns: Vec<ScanColumn>,
    schema: SchemaRef,
    filters: Vec<Arc<dyn PhysicalExpr>>,
    output: Vec<usize>,
    output_schema: SchemaRef,
    /// The limit on returned rows (None: all).
    pub limit: Option<usize>,
}

impl std::fmt::Debug for Fragment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Fragment({} columns, {} filters, limit {:?})",
            self.columns.len(),
            self.filters.len(),
            self.limit
        )
    }
}

/// The function registry filters are decoded against: DataFusion's
/// built-in functions and MySQL's from [`mysql`], as the SQL layer
/// plans with, and the runtime filters' [`bloom`].
fn task_ctx() -> &'static Arc<TaskContext> {
    static CTX: OnceLock<Arc<TaskContext>> = OnceLock::new();
    CTX.get_or_init(|| {
        let ctx = SessionContext::new();
        for f in mysql::functions() {
            ctx.register_udf(f.as_ref().clone());
        }
        ctx.register_udf(bloom::udf().as_ref().clone());
        ctx.task_ctx()
    })
}

fn df(e: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("coprocessor: {e}"))
}

/// The Arrow schema of a scan's columns.
pub fn scan_schema(scan: &TableScan) -> Result<SchemaRef> {
    let fields = scan
        .columns
        .iter()
        .map(|c| {
            Ok(Field::new(
                &c.name,
                column_kind(c)?.arrow_type(),
                c.nullable,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

fn column_kind(c: &ColumnSpec) -> Result<ColumnKind> {
    let kind = kind_from_u32(c.kind)
        .ok_or_else(|| df(format!("column {} has unknown kind {}", c.name, c.kind)))?;
    Ok(ColumnKind {
        kind,
        precision: c.precision.min(38) as u8,
        scale: c.scale.min(38) as u8,
        binary: c.binary,
    })
}

/// A filter in the form it travels in.
pub fn encode_filter(expr: &Expr) -> Result<Vec<u8>> {
    Ok(expr.to_bytes().map_err(df)?.to_vec())
}

impl Fragment {
    pub fn new(scan: &TableScan, filters: &[Vec<u8>], output: &[u32], limit: u64) -> Result<Self> {
        let schema = scan_schema(scan)?;
        let mut columns = Vec::with_capacity(scan.columns.len());
        for c in &scan.columns {
            let default = if c.default.is_empty() {
                Datum::Null
            } else {
                let mut data = c.default.as_slice();
                codec::key::decode_key_datum(&mut data)?
            };
            columns.push(ScanColumn {
                id: c.id,
                kind: column_kind(c)?.kind,
                handle: c.handle,
                default,
            });
        }
        let df_schema = DFSchema::try_from(schema.as_ref().clone()).map_err(df)?;
        let props = datafusion::execution::context::ExecutionProps::new();
        let filters = filters
            .iter()
            .map(|bytes| {
                let expr = Expr::from_bytes_with_ctx(bytes, task_ctx()).map_err(df)?;
                create_physical_expr(
                    &expr,
                    &df_schema,
                    &props,
                    &PhysicalPlanningContext::default(),
                )
                .and_then(mysql::checked_arithmetic)
                .map_err(df)
            })
            .collect::<Result<Vec<_>>>()?;
        let output: Vec<usize> = output.iter().map(|&i| i as usize).collect();
        if let Some(bad) = output.iter().find(|&&i| i >= columns.len()) {
            return Err(df(format!("output column {bad} out of range")));
        }
        let output_schema = Arc::new(schema.project(&output).map_err(df)?);
        Ok(Fragment {
            columns,
            schema,
            filters,
            output,
            output_schema,
            limit: (limit > 0).then_some(limit as usize),
        })
    }

    /// The pushed filters, planned against [`Fragment::scan_schema`].
    pub fn filters(&self) -> &[Arc<dyn PhysicalExpr>] {
        &self.filters
    }

    /// The schema of the scan's columns (what filters see).
    pub fn scan_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The schema of what [`Fragment::apply`] returns.
    pub fn output_schema(&self) -> SchemaRef {
        self.output_schema.clone()
    }

    /// Records (raw row keys and row values) as a batch of the scan's
    /// columns.
    pub fn decode<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        records: &[(K, V)],
    ) -> Result<RecordBatch> {
        let mut columns: Vec<Vec<Datum>> = self
            .columns
            .iter()
            .map(|_| Vec::with_capacity(records.len()))
            .collect();
        let wants_handle = self.columns.iter().any(|c| c.handle);
        for (key, value) in records {
            let (key, value) = (key.as_ref(), value.as_ref());
            let view = codec::row::RowView::new(value)?;
            let handle = if wants_handle {
                match codec::table::decode_row_key(key, false)?.1 {
                    Handle::Int(h) => Some(h),
                    Handle::Common(_) => {
                        return Err(Error::BadFormat("integer handle expected".into()));
                    }
                }
            } else {
                None
            };
            for (c, out) in self.columns.iter().zip(columns.iter_mut()) {
                let d = match (c.handle, handle) {
                    (true, Some(h)) if c.kind == DatumKind::U64 => Datum::U64(h as u64),
                    (true, Some(h)) => Datum::I64(h),
                    _ => match view.get(c.id, c.kind)? {
                        Some(d) => d,
                        None => c.default.clone(),
                    },
                };
                out.push(d);
            }
        }
        let arrays = self
            .schema
            .fields()
            .iter()
            .zip(&columns)
            .map(|(f, vals)| {
                build_array(f.data_type(), vals.iter())
                    .map_err(|e| Error::BadFormat(format!("column {}: {e}", f.name())))
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(records.len()));
        RecordBatch::try_new_with_options(self.schema.clone(), arrays, &options).map_err(df)
    }

    /// The rows of a batch of the scan's columns that pass every filter,
    /// projected to the output columns. The limit is the caller's.
    ///
    /// The filters' masks are combined and the rows copied once, output
    /// columns only; a filter that keeps under an eighth of the rows
    /// narrows the batch at once, so the ones after it look at fewer rows.
    pub fn apply(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let mut batch = batch;
        let mut mask: Option<BooleanArray> = None;
        for f in &self.filters {
            if batch.num_rows() == 0 {
                break;
            }
            let this = f
                .evaluate(&batch)
                .and_then(|v| v.into_array(batch.num_rows()))
                .map_err(|e| Error::Aborted(format!("evaluating a pushed-down filter: {e}")))?;
            let this = this
                .as_any()
                .downcast_ref::<BooleanArray>()
                .ok_or_else(|| df(format!("filter is {}, not boolean", this.data_type())))?
                .clone();
            // NULL in either mask: the row does not pass, as in a filter.
            let both = match mask.take() {
                Some(m) => and(&m, &this).map_err(df)?,
                None => this,
            };
            if both.true_count() * 8 < batch.num_rows() {
                batch = filter_record_batch(&batch, &both).map_err(df)?;
            } else {
                mask = Some(both);
            }
        }
        let out = batch.project(&self.output).map_err(df)?;
        match mask {
            Some(m) if m.true_count() < out.num_rows() => filter_record_batch(&out, &m).map_err(df),
            _ => Ok(out),
        }
    }

    /// [`Fragment::decode`] then [`Fragment::apply`], cut to `remaining`
    /// rows when the fragment has a limit.
    pub fn run<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        records: &[(K, V)],
        remaining: Option<usize>,
    ) -> Result<RecordBatch> {
        let batch = self.apply(self.decode(records)?)?;
        Ok(match remaining {
            Some(n) if batch.num_rows() > n => batch.slice(0, n),
            _ => batch,
        })
    }
}

/// Batches as an Arrow IPC stream (empty for no batches).
pub fn encode_batches(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    if batches.iter().all(|b| b.num_rows() == 0) {
        return Ok(Vec::new());
    }
    let mut buf = Vec::new();
    {
        let mut w = StreamWriter::try_new(&mut buf, schema).map_err(df)?;
        for b in batches.iter().filter(|b| b.num_rows() > 0) {
            w.write(b).map_err(df)?;
        }
        w.finish().map_err(df)?;
    }
    Ok(buf)
}

/// The batches of an Arrow IPC stream written by [`encode_batches`].
pub fn decode_batches(data: &[u8]) -> Result<Vec<RecordBatch>> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let reader = StreamReader::try_new(std::io::Cursor::new(data), None)
        .map_err(|e| Error::BadFormat(format!("coprocessor answer: {e}")))?;
    reader
        .map(|b| b.map_err(|e| Error::BadFormat(format!("coprocessor answer: {e}"))))
        .collect()
}

#[cfg(test)]
mod tests;
