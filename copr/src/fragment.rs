//! A pushed-down scan: how a store turns records into Arrow columns and
//! which rows and columns of them it keeps.
//!
//! A [`Fragment`] is built from what a coprocessor request carries (the
//! table's [`TableScan`], the encoded filter conjuncts, the output
//! columns, the limit). [`Fragment::decode`] turns raw records (row key,
//! row value) into a batch of the scan's columns; [`Fragment::apply`]
//! keeps the rows every filter accepts and projects the output columns;
//! [`Fragment::run`] does both and honours the limit.
//!
//! ```text
//!   records (key, value) --decode--> batch of the scan's columns
//!                        --apply---> rows every filter keeps, output columns
//! ```
//!
//! Filters are DataFusion logical expressions over the scan's columns by
//! name, serialized with `datafusion-proto` ([`encode_filter`]). A store
//! plans them into physical expressions against the same schema and the
//! same function registry as the SQL layer, with `+ - *` checked for
//! overflow ([`mysql::checked_arithmetic`]), so a filter means the same
//! thing on either side.

use std::sync::Arc;

use codec::arrow::{ColumnKind, build_array, kind_from_u32};
use codec::datum::{Datum, DatumKind};
use codec::table::Handle;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions};
use datafusion::arrow::compute::{and, filter_record_batch};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::physical_expr::{PhysicalExpr, create_physical_expr};
use datafusion_proto::bytes::Serializeable;
use proto::kvrpcpb::{ColumnSpec, TableScan};

use crate::error::{Error, Result, df};
use crate::mysql;
use crate::registry::task_ctx;

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
                .map_err(|e| crate::error::eval("evaluating a pushed-down filter", e))?;
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
