//! DataFusion's view of the catalog: catalog `def`, one schema per
//! database, one [`DuetTable`] per table.
//!
//! Two things tie a query to its statement. Names resolve against the
//! statement's catalog snapshot: DataFusion asks `CatalogProvider::schema`
//! without any session state, so [`crate::planner`] registers a
//! [`DuetCatalog`] over the snapshot on the state it lends the statement.
//! The scans read in the statement's transaction: the [`StatementCtx`]
//! travels as a `SessionConfig` extension ([`Bound`]), which
//! `TableProvider::scan` reads from the session state it is given.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::{CatalogProvider, SchemaProvider, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use crate::catalog::model::TableInfo;
use crate::catalog::stats::TableEstimate;
use crate::catalog::{DbSchema, InfoSchema};
use crate::executor::convert;
use crate::planner::cost::Costs;
use crate::planner::engine::Engine;
use crate::session::TxnHandle;
use crate::session::shared::Shared;

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
    /// Which engines table reads may use, and the statement's hints.
    pub read: Arc<crate::planner::engine::ReadPolicy>,
}

/// The `SessionConfig` extension holding the statement a lent session
/// state plans for; empty once the statement has its plan, so an idle
/// connection keeps no transaction alive through its session state.
pub struct Bound(pub Option<StatementCtx>);

impl Bound {
    /// The statement context of the state a scan is planned in.
    fn of(state: &dyn Session) -> datafusion::error::Result<StatementCtx> {
        state
            .config()
            .get_extension::<Bound>()
            .and_then(|b| b.0.clone())
            .ok_or_else(|| DataFusionError::Internal("a table scanned outside a statement".into()))
    }
}

impl fmt::Debug for StatementCtx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatementCtx(schema v{})", self.schema.version)
    }
}

/// Catalog `def` as one statement's snapshot has it (registered per
/// statement by [`crate::planner`]'s `bind`). `row_id`: tables without a
/// primary key show their row id ([`StatementCtx::row_id`]).
pub struct DuetCatalog {
    schema: Arc<InfoSchema>,
    row_id: bool,
    shared: Arc<Shared>,
}

impl DuetCatalog {
    pub fn new(schema: Arc<InfoSchema>, row_id: bool, shared: Arc<Shared>) -> DuetCatalog {
        DuetCatalog {
            schema,
            row_id,
            shared,
        }
    }
}

impl fmt::Debug for DuetCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DuetCatalog")
    }
}

impl CatalogProvider for DuetCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.schema.dbs.keys().cloned().collect();
        names.push("information_schema".into());
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if name.eq_ignore_ascii_case("information_schema") {
            return Some(Arc::new(crate::executor::infoschema::InfoSchemaProvider {
                schema: self.schema.clone(),
                shared: self.shared.clone(),
            }));
        }
        let db = self.schema.db(name)?.clone();
        Some(Arc::new(DuetSchema {
            db,
            row_id: self.row_id,
            shared: self.shared.clone(),
        }))
    }
}

struct DuetSchema {
    db: Arc<DbSchema>,
    row_id: bool,
    shared: Arc<Shared>,
}

impl fmt::Debug for DuetSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DuetSchema({})", self.db.info.name)
    }
}

#[async_trait]
impl SchemaProvider for DuetSchema {
    fn table_names(&self) -> Vec<String> {
        self.db.tables.keys().cloned().collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        Ok(self.db.tables.get(&name.to_lowercase()).map(|t| {
            Arc::new(DuetTable::new(
                &self.db.info.name,
                t.clone(),
                self.row_id,
                self.shared.clone(),
            )) as Arc<dyn TableProvider>
        }))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.db.tables.contains_key(&name.to_lowercase())
    }
}

/// A table, read in the transaction of the statement that scans it.
pub struct DuetTable {
    db: String,
    info: Arc<TableInfo>,
    schema: SchemaRef,
    shared: Arc<Shared>,
}

/// The hidden row-id column of tables without a primary key.
pub const ROW_ID: &str = "_tidb_rowid";

impl fmt::Debug for DuetTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DuetTable({})", self.info.name)
    }
}

impl DuetTable {
    pub fn new(db: &str, info: Arc<TableInfo>, row_id: bool, shared: Arc<Shared>) -> DuetTable {
        let row_id = row_id && matches!(info.handle, crate::catalog::model::HandleKind::RowId);
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
        DuetTable {
            db: db.to_string(),
            schema,
            info,
            shared,
        }
    }

    /// The table's estimate and the costs of `access` on each engine, when
    /// there is a choice to make (the table has a columnar replica); None
    /// when the estimate cannot be read (PD unreachable: the choice then
    /// goes by the access's shape).
    async fn costs(
        &self,
        ctx: &StatementCtx,
        access: &crate::executor::scan::Access,
        handle_range: Option<(i64, i64)>,
    ) -> Option<(Arc<TableEstimate>, Costs)> {
        if self.info.columnar_replica == 0 || ctx.latest {
            return None;
        }
        match self
            .shared
            .stats
            .get(&self.shared.client, &self.shared.pd, &self.info)
            .await
        {
            Ok(est) => {
                let costs = crate::planner::cost::estimate(&self.info, &est, access, handle_range);
                tracing::debug!(
                    table = %self.info.name,
                    rows = est.rows(),
                    regions = est.regions,
                    replica_ready = est.replica_ready,
                    ?costs,
                    "costs"
                );
                Some((est, costs))
            }
            Err(e) => {
                tracing::debug!(table = %self.info.name, "no estimate: {e}");
                None
            }
        }
    }

    /// Whether this access reads the columnar replicas
    /// ([`crate::planner::engine::choose`]); `cheaper`: the engine the cost model
    /// prefers.
    fn reads_columnar(
        &self,
        ctx: &StatementCtx,
        cheaper: crate::planner::engine::Engine,
    ) -> crate::Result<bool> {
        use crate::planner::engine::{Choice, Engine, choose};
        let key = (self.db.to_lowercase(), self.info.name.to_lowercase());
        let shown = format!("{}.{}", self.db, self.info.name);
        let (choice, warning) = choose(
            ctx.read.engines,
            self.info.columnar_replica > 0,
            ctx.read.hints.get(&key).copied(),
            cheaper,
            ctx.latest,
            &shown,
        );
        tracing::debug!(table = %shown, ?cheaper, ?choice, "engine chosen");
        if let Some(w) = warning {
            ctx.read.warnings.lock().push(w);
        }
        match choice {
            Choice::Use(e) => Ok(e == Engine::Columnar),
            Choice::NoPath { allowed } => Err(crate::Error::new(
                crate::error::code::ER_INTERNAL_ERROR,
                format!(
                    "Internal : Can not find access path matching 'isolation_read_engines'(value: 'columnar'). Available values are '{allowed}'. (table {shown} has no columnar replica)"
                ),
            )),
        }
    }
}

impl DuetTable {
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
impl TableProvider for DuetTable {
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
        // Pushed filters run inside the scan (on the kv stores, or on the
        // rows an index lookup fetched) and are not applied again.
        Ok(filters
            .iter()
            .map(|f| {
                if crate::planner::access_path::pushable(f) {
                    datafusion::logical_expr::TableProviderFilterPushDown::Exact
                } else {
                    datafusion::logical_expr::TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let ctx = Bound::of(state)?;
        let all: Vec<usize> = (0..self.schema.fields().len()).collect();
        let wanted: &Vec<usize> = projection.unwrap_or(&all);
        // The scan reads the wanted columns and those the filters use.
        let mut scanned: Vec<usize> = wanted.clone();
        for f in filters {
            for c in f.column_refs() {
                if let Ok(i) = self.schema.index_of(&c.name)
                    && !scanned.contains(&i)
                {
                    scanned.push(i);
                }
            }
        }
        let n_cols = self.info.columns.len();
        let columns = scanned
            .iter()
            .map(|&i| {
                let field = self.schema.field(i);
                if i < n_cols {
                    crate::planner::access_path::column_spec(
                        &self.info,
                        i,
                        field.name(),
                        field.is_nullable(),
                    )
                } else {
                    Ok(crate::planner::access_path::row_id_spec(field.name()))
                }
            })
            .collect::<crate::Result<Vec<_>>>()?;
        let scan = proto::kvrpcpb::TableScan {
            table_id: self.info.id,
            columns,
        };
        let output: Vec<u32> = (0..wanted.len() as u32).collect();
        let schema = Arc::new(self.schema.project(wanted)?);
        let mut handle_range: Option<(i64, i64)> = None;
        for f in filters {
            if let Some((l, h)) = self.handle_bounds(f) {
                let (lo, hi) = handle_range.unwrap_or((i64::MIN, i64::MAX));
                handle_range = Some((lo.max(l), hi.min(h)));
            }
        }
        let refs: Vec<&Expr> = filters.iter().collect();
        let access = crate::planner::access_path::plan_access(&self.info, handle_range, &refs);
        let keyed = !matches!(
            access,
            crate::executor::scan::Access::Table { range: None, .. }
        );
        let costs = self.costs(&ctx, &access, handle_range).await;
        let cheaper = match &costs {
            Some((est, c)) if est.replica_ready && c.columnar < c.row => Engine::Columnar,
            Some(_) => Engine::Row,
            None if keyed => Engine::Row,
            None => Engine::Columnar,
        };
        let columnar = self.reads_columnar(&ctx, cheaper)?;
        // A columnar replica holds rows only: no index access there.
        let access = if columnar {
            crate::planner::access_path::plan_access(&self.info, handle_range, &[])
        } else {
            access
        };
        let mut exec = crate::executor::scan::ScanExec::new(
            self.info.clone(),
            format!("{}.{}", self.db, self.info.name),
            access,
            scan,
            filters,
            output,
            limit,
            ctx.txn.clone(),
            ctx.latest,
            schema,
        )?;
        exec.task.columnar = columnar;
        if columnar {
            exec.on_fallback = Some(self.shared.stats.clone());
        }
        if let Some((est, c)) = costs {
            exec.estimate = Some(crate::executor::scan::ScanEstimate {
                total: est.rows(),
                rows: if columnar { est.rows() } else { c.rows },
                analyzed: est.analyzed.is_some(),
                kept: crate::planner::selectivity::of_filters(&self.info, &est, filters),
            });
            exec.table_estimate = Some(est);
        }
        Ok(Arc::new(exec))
    }
}
