//! DataFusion's view of the catalog: catalog `def`, one schema per
//! database, one [`RowTable`] per table, all bound to the running
//! statement's catalog snapshot and transaction.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::{CatalogProvider, SchemaProvider, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use parking_lot::Mutex;

use super::convert;
use crate::catalog::model::TableInfo;
use crate::catalog::{DbSchema, InfoSchema};
use crate::session::TxnHandle;

/// What the running statement plans against.
#[derive(Clone)]
pub struct StatementCtx {
    pub schema: Arc<InfoSchema>,
    pub txn: Arc<TxnHandle>,
    /// DML: tables without a primary key expose their hidden row id as a
    /// last column `_tidb_rowid`, so the statement knows each row's handle.
    pub row_id: bool,
    /// DML in a pessimistic transaction: read the newest committed rows
    /// (the rows it is about to lock), not the start_ts snapshot.
    pub latest: bool,
}

impl fmt::Debug for StatementCtx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatementCtx(schema v{})", self.schema.version)
    }
}

/// Set by the session before DataFusion plans a statement.
pub type Slot = Arc<Mutex<Option<StatementCtx>>>;

pub struct DuetCatalog {
    pub slot: Slot,
    pub shared: Arc<crate::server::Shared>,
}

impl fmt::Debug for DuetCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DuetCatalog")
    }
}

impl CatalogProvider for DuetCatalog {
    fn schema_names(&self) -> Vec<String> {
        match &*self.slot.lock() {
            Some(ctx) => {
                let mut names: Vec<String> = ctx.schema.dbs.keys().cloned().collect();
                names.push("information_schema".into());
                names
            }
            None => Vec::new(),
        }
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        let ctx = self.slot.lock().clone()?;
        if name.eq_ignore_ascii_case("information_schema") {
            return Some(Arc::new(super::infoschema::InfoSchemaProvider {
                schema: ctx.schema.clone(),
                shared: self.shared.clone(),
            }));
        }
        let db = ctx.schema.db(name)?.clone();
        Some(Arc::new(DuetSchema { db, ctx }))
    }
}

#[derive(Debug)]
struct DuetSchema {
    db: Arc<DbSchema>,
    ctx: StatementCtx,
}

#[async_trait]
impl SchemaProvider for DuetSchema {
    fn table_names(&self) -> Vec<String> {
        self.db.tables.keys().cloned().collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        Ok(self.db.tables.get(&name.to_lowercase()).map(|t| {
            Arc::new(RowTable::new(&self.db.info.name, t.clone(), &self.ctx))
                as Arc<dyn TableProvider>
        }))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.db.tables.contains_key(&name.to_lowercase())
    }
}

/// A table read from its row regions in the statement's transaction.
pub struct RowTable {
    info: Arc<TableInfo>,
    schema: SchemaRef,
    txn: Arc<TxnHandle>,
    /// The schema ends with `_tidb_rowid`.
    row_id: bool,
    latest: bool,
}

/// The hidden row-id column of tables without a primary key.
pub const ROW_ID: &str = "_tidb_rowid";

impl fmt::Debug for RowTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RowTable({})", self.info.name)
    }
}

impl RowTable {
    pub fn new(db: &str, info: Arc<TableInfo>, ctx: &StatementCtx) -> RowTable {
        let row_id = ctx.row_id && matches!(info.handle, crate::catalog::model::HandleKind::RowId);
        let mut schema = convert::table_schema(db, &info);
        if row_id {
            let mut fields: Vec<_> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
            fields.push(datafusion::arrow::datatypes::Field::new(
                ROW_ID,
                datafusion::arrow::datatypes::DataType::Int64,
                false,
            ));
            schema = Arc::new(Schema::new(fields));
        }
        RowTable {
            schema,
            info,
            txn: ctx.txn.clone(),
            row_id,
            latest: ctx.latest,
        }
    }
}

impl RowTable {
    /// The handle range `[lo, hi]` a filter allows, when it compares a
    /// signed integer primary key with a constant.
    fn handle_bounds(&self, f: &Expr) -> Option<(i64, i64)> {
        use datafusion::logical_expr::{Between, BinaryExpr, Operator};
        use datafusion::scalar::ScalarValue;
        let crate::catalog::model::HandleKind::IntPk(pk) = self.info.handle else {
            return None;
        };
        if self.info.columns[pk].ft.unsigned {
            return None;
        }
        let pk_name = self.schema.field(pk).name().clone();
        let is_pk = |e: &Expr| matches!(e, Expr::Column(c) if *c.name == pk_name);
        let lit = |e: &Expr| match e {
            Expr::Literal(ScalarValue::Int64(Some(v)), _) => Some(*v),
            Expr::Literal(ScalarValue::Int32(Some(v)), _) => Some(*v as i64),
            _ => None,
        };
        match f {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let (v, op) = if is_pk(left) {
                    (lit(right)?, *op)
                } else if is_pk(right) {
                    (lit(left)?, op.swap()?)
                } else {
                    return None;
                };
                match op {
                    Operator::Eq => Some((v, v)),
                    Operator::Gt => Some((v.checked_add(1)?, i64::MAX)),
                    Operator::GtEq => Some((v, i64::MAX)),
                    Operator::Lt => Some((i64::MIN, v.checked_sub(1)?)),
                    Operator::LtEq => Some((i64::MIN, v)),
                    _ => None,
                }
            }
            Expr::Between(Between {
                expr,
                negated: false,
                low,
                high,
            }) if is_pk(expr) => Some((lit(low)?, lit(high)?)),
            _ => None,
        }
    }
}

#[async_trait]
impl TableProvider for RowTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<datafusion::logical_expr::TableProviderFilterPushDown>> {
        // Comparisons on an integer primary key narrow the scanned key
        // range; DataFusion still applies every filter above the scan.
        Ok(filters
            .iter()
            .map(|f| {
                if self.handle_bounds(f).is_some() {
                    datafusion::logical_expr::TableProviderFilterPushDown::Inexact
                } else {
                    datafusion::logical_expr::TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let all: Vec<usize> = (0..self.schema.fields().len()).collect();
        let wanted: &Vec<usize> = projection.unwrap_or(&all);
        let n_cols = self.info.columns.len();
        let offsets: Vec<usize> = wanted.iter().copied().filter(|&i| i < n_cols).collect();
        let with_row_id = self.row_id && wanted.contains(&n_cols);
        // Filters are applied above the scan, so a limit only holds here
        // when there are none.
        let limit = if filters.is_empty() {
            limit.unwrap_or(0)
        } else {
            0
        };
        let (mut lo, mut hi) = (i64::MIN, i64::MAX);
        for f in filters {
            if let Some((l, h)) = self.handle_bounds(f) {
                lo = lo.max(l);
                hi = hi.min(h);
            }
        }
        let (start, end) = if lo > hi {
            let p = codec::table::record_prefix(self.info.id);
            (p.clone(), p)
        } else if (lo, hi) == (i64::MIN, i64::MAX) {
            codec::table::record_range(self.info.id)
        } else {
            let start = codec::table::encode_row_key(self.info.id, &codec::table::Handle::Int(lo));
            let end = match hi.checked_add(1) {
                Some(h) => {
                    codec::table::encode_row_key(self.info.id, &codec::table::Handle::Int(h))
                }
                None => codec::table::record_range(self.info.id).1,
            };
            (start, end)
        };
        let pairs = {
            let txn = self.txn.txn.read().await;
            let r = if self.latest {
                txn.scan_latest(&start, &end, limit, false).await
            } else {
                txn.scan(&start, &end, limit, false).await
            };
            r.map_err(crate::Error::from)?
        };
        let mut rows = Vec::with_capacity(pairs.len());
        for (k, v) in &pairs {
            let mut row = crate::table::decode_record(&self.info, k, v, &offsets)?;
            if with_row_id {
                let (_, h) = codec::table::decode_row_key(k, false).map_err(crate::Error::from)?;
                let codec::table::Handle::Int(id) = h else {
                    return Err(crate::Error::internal("row id handle").into());
                };
                row.push(codec::datum::Datum::I64(id));
            }
            rows.push(row);
        }
        let mut out_fields: Vec<usize> = offsets.clone();
        if with_row_id {
            out_fields.push(n_cols);
        }
        let schema = Arc::new(Schema::new(
            out_fields
                .iter()
                .map(|&i| self.schema.field(i).clone())
                .collect::<Vec<_>>(),
        ));
        let row_id_type =
            crate::catalog::model::FieldType::new(crate::catalog::model::SqlType::BigInt);
        let mut types: Vec<_> = offsets.iter().map(|&i| &self.info.columns[i].ft).collect();
        if with_row_id {
            types.push(&row_id_type);
        }
        let batch = convert::rows_to_batch(schema.clone(), &types, rows)?;
        let exec = MemorySourceConfig::try_new_exec(&[vec![batch]], schema, None)?;
        Ok(exec)
    }
}
