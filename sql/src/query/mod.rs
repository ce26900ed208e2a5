//! # Queries through DataFusion
//!
//! Statements that are not point lookups are planned and run by DataFusion
//! over [`provider::RowTable`]s:
//!
//! ```text
//!  sqlparser AST --rewrite (MySQL-isms: @@vars, DATABASE(), column names)-->
//!     DataFusion SqlToRel (catalog "def", schema = current database)
//!     --> optimizer --> physical plan --> RowTable scans (txn snapshot) --> batches
//! ```
//!
//! The DataFusion session is per connection and configured for MySQL
//! semantics where DataFusion has a switch: decimal literals are DECIMAL,
//! NULLs sort first ascending (NULL is the smallest value in MySQL). Where
//! it has none, [`semantics`] rewrites plans: strings compared with
//! numbers, integer arithmetic, division, overflow errors.

pub mod build_keys;
pub mod columnar_replica;
pub mod convert;
pub mod cost;
pub mod engine;
pub mod explain;
pub mod infoschema;
pub mod point_get;
pub mod provider;
pub mod pushdown;
pub mod rewrite;
pub mod runtime_filter;
pub mod scan;
pub mod selectivity;
pub mod semantics;
pub mod stats;

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::TaskContext;
use datafusion::execution::context::{SessionConfig, SessionContext, SessionState};
use sqlparser::ast::Statement;

use crate::error::Result;
use crate::protocol::resultset::ColumnDef;
use crate::server::Shared;
use crate::session::{ResultSet, TxnHandle};
pub use provider::StatementCtx;
use provider::{DuetCatalog, Slot};

/// A connection's DataFusion session. Its state is built once and lent to
/// one statement at a time (`DfSession::state`): cloning a
/// `SessionState` copies every function registry, which cost more than
/// planning a small query.
pub struct DfSession {
    ctx: SessionContext,
    state: std::sync::Mutex<Option<SessionState>>,
    task: Arc<TaskContext>,
    slot: Slot,
}

/// A session state lent to one statement; it goes back to its
/// [`DfSession`] when dropped.
struct Lent<'a> {
    state: Option<SessionState>,
    home: &'a std::sync::Mutex<Option<SessionState>>,
}

impl std::ops::Deref for Lent<'_> {
    type Target = SessionState;
    fn deref(&self) -> &SessionState {
        self.state.as_ref().expect("lent until dropped")
    }
}

impl std::ops::DerefMut for Lent<'_> {
    fn deref_mut(&mut self) -> &mut SessionState {
        self.state.as_mut().expect("lent until dropped")
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        *self.home.lock().unwrap_or_else(|e| e.into_inner()) = self.state.take();
    }
}

impl DfSession {
    pub fn new(shared: Arc<Shared>) -> DfSession {
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema("def", "")
            .with_create_default_catalog_and_schema(false)
            .with_information_schema(false)
            .with_target_partitions(2);
        let opts = config.options_mut();
        opts.sql_parser.parse_float_as_decimal = true;
        opts.sql_parser.default_null_ordering = "nulls_min".into();
        opts.sql_parser.map_string_types_to_utf8view = false;
        opts.sql_parser.dialect = datafusion::config::Dialect::MySQL;
        opts.execution.time_zone = None;
        // A hash join's build side estimated under a million rows is
        // collected once and probed by every partition, rather than both
        // sides repartitioned by hash (a copy of the large side); with two
        // partitions that is the cheaper plan up to far larger builds than
        // DataFusion's default of 128K rows.
        // DataFusion goes by the build side's bytes when its statistics
        // have them (a projection's do): the same limit, at 64 bytes a row.
        opts.optimizer.hash_join_single_partition_threshold_rows = 1 << 20;
        opts.optimizer.hash_join_single_partition_threshold = 64 << 20;
        // A join's build-side keys travel to the probe side's stores as an
        // IN list (query::runtime_filter) up to this many; more as a Bloom
        // filter made from the build side (query::build_keys), as
        // DataFusion's list makes a literal of every key.
        opts.optimizer.hash_join_inlist_pushdown_max_distinct_values = runtime_filter::IN_LIST_MAX;
        let mut state = datafusion::execution::SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_analyzer_rules(semantics::analyzer_rules())
            .with_physical_optimizer_rule(Arc::new(semantics::CheckedArithmetic))
            .with_physical_optimizer_rule(Arc::new(pushdown::PushToColumnar))
            .with_physical_optimizer_rule(Arc::new(build_keys::ShareBuildKeys))
            .with_physical_optimizer_rule(Arc::new(semantics::FastDecimals))
            .build();
        datafusion::execution::FunctionRegistry::register_expr_planner(
            &mut state,
            Arc::new(semantics::StringArithmetic),
        )
        .expect("a session state takes expression planners");
        let ctx = SessionContext::new_with_state(state);
        for f in txn::coprocessor::mysql::functions() {
            ctx.register_udf(f.as_ref().clone());
        }
        ctx.register_udaf(semantics::subquery::single_row());
        let slot: Slot = Default::default();
        ctx.register_catalog(
            "def",
            Arc::new(DuetCatalog {
                slot: slot.clone(),
                shared,
            }),
        );
        let state = ctx.state();
        let task = Arc::new(TaskContext::from(&state));
        DfSession {
            ctx,
            state: std::sync::Mutex::new(Some(state)),
            task,
            slot,
        }
    }

    /// The session state for one statement, with `db` as the default
    /// schema. A statement running while another holds the state (not
    /// done by one connection, but harmless) gets a copy.
    fn state(&self, db: Option<&str>) -> Lent<'_> {
        let lent = self.state.lock().unwrap_or_else(|e| e.into_inner()).take();
        let mut state = lent.unwrap_or_else(|| self.ctx.state());
        let schema = db.unwrap_or("").to_lowercase();
        if state.config().options().catalog.default_schema != schema {
            state.config_mut().options_mut().catalog.default_schema = schema;
        }
        Lent {
            state: Some(state),
            home: &self.state,
        }
    }

    /// Plans and runs a (rewritten) query statement.
    pub async fn run(
        &self,
        stmt: Statement,
        ctx: StatementCtx,
        db: Option<&str>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        *self.slot.lock() = Some(ctx);
        let result = self.plan_and_collect(stmt, db).await;
        *self.slot.lock() = None;
        result
    }

    /// The output schema of a (rewritten) query, planned but not run.
    pub async fn describe(
        &self,
        stmt: Statement,
        ctx: StatementCtx,
        db: Option<&str>,
    ) -> Result<SchemaRef> {
        *self.slot.lock() = Some(ctx);
        let result = async {
            let state = self.state(db);
            let plan = state
                .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(
                    stmt,
                )))
                .await?;
            // Analyzed, so the types are MySQL's (division).
            let plan = state.optimize(&plan)?;
            Ok(Arc::new(plan.schema().as_arrow().clone()))
        }
        .await;
        *self.slot.lock() = None;
        result
    }

    /// The physical plan of a (rewritten) query, for EXPLAIN. The
    /// statement context stays set until [`DfSession::execute`] or the
    /// next statement replaces it.
    pub async fn physical_plan(
        &self,
        stmt: Statement,
        ctx: StatementCtx,
        db: Option<&str>,
    ) -> Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        *self.slot.lock() = Some(ctx);
        let result = async {
            let state = self.state(db);
            let plan = state
                .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(
                    stmt,
                )))
                .await?;
            Ok(state.create_physical_plan(&plan).await?)
        }
        .await;
        *self.slot.lock() = None;
        result
    }

    /// Runs a physical plan to the end (EXPLAIN ANALYZE), discarding rows.
    pub async fn execute(
        &self,
        plan: Arc<dyn datafusion::physical_plan::ExecutionPlan>,
        ctx: StatementCtx,
    ) -> Result<()> {
        *self.slot.lock() = Some(ctx);
        let result = datafusion::physical_plan::collect(plan, self.task.clone()).await;
        *self.slot.lock() = None;
        result?;
        Ok(())
    }

    async fn plan_and_collect(
        &self,
        stmt: Statement,
        db: Option<&str>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let (schema, physical) = {
            let state = self.state(db);
            let plan = state
                .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(
                    stmt,
                )))
                .await?;
            // The statement's own schema (names and metadata as planned).
            let schema: SchemaRef = Arc::new(plan.schema().as_arrow().clone());
            (schema, state.create_physical_plan(&plan).await?)
        };
        let batches = datafusion::physical_plan::collect(physical, self.task.clone()).await?;
        Ok((schema, batches))
    }
}

/// The result columns of a query with `?` placeholders (COM_STMT_PREPARE
/// answers with them): planned with NULL in place of every parameter.
pub async fn describe(
    session: &crate::session::Session,
    stmt: &Statement,
    txn: Arc<TxnHandle>,
) -> Result<Vec<ColumnDef>> {
    let n = crate::parse::count_placeholders(stmt);
    let bound = crate::parse::bind_params(stmt, &vec![codec::datum::Datum::Null; n])?;
    let (bound, names) = rewrite::for_datafusion(session, bound)?;
    let ctx = StatementCtx {
        schema: txn.schema.clone(),
        txn,
        row_id: false,
        latest: false,
        read: Arc::new(engine::ReadPolicy::of(session, &bound)),
    };
    let schema = session
        .df
        .describe(bound, ctx, session.db.as_deref())
        .await?;
    Ok(schema
        .fields()
        .iter()
        .map(|f| {
            let name = names.name_for(f.name()).unwrap_or_else(|| display_name(f));
            convert::field_column_def(f, &name)
        })
        .collect())
}

/// A result column's name as MySQL shows it: the column's own spelling
/// when the field is a column (names are matched in lower case).
fn display_name(f: &datafusion::arrow::datatypes::Field) -> String {
    match f.metadata().get("duet.column") {
        Some(original) if original.to_lowercase() == *f.name() => original.clone(),
        _ => f.name().clone(),
    }
}

/// Runs a SELECT (or any query) through DataFusion and shapes the result
/// for the wire.
pub async fn select(
    session: &crate::session::Session,
    stmt: Statement,
    txn: Arc<TxnHandle>,
) -> Result<ResultSet> {
    if let Statement::Query(q) = &stmt
        && let Some(pg) = point_get::plan(session, q)
    {
        return point_get::run(session, &pg, &txn).await;
    }
    let mut latest = false;
    if let Statement::Query(q) = &stmt
        && !q.locks.is_empty()
        && session.txn.as_ref().is_some_and(|t| t.explicit)
    {
        lock_rows(session, q, &txn).await?;
        latest = true;
    }
    let read = Arc::new(engine::ReadPolicy::of(session, &stmt));
    let ctx = StatementCtx {
        schema: txn.schema.clone(),
        txn,
        row_id: false,
        latest,
        read: read.clone(),
    };
    let result = run_with(session, stmt, ctx).await;
    read.report(session);
    result
}

/// SELECT ... FOR UPDATE beyond point keys: lock the rows the WHERE clause
/// matches (as UPDATE would), so the query then reads them, newest
/// committed, under the lock. Only single-table queries can say which rows
/// those are.
async fn lock_rows(
    session: &crate::session::Session,
    q: &sqlparser::ast::Query,
    txn: &Arc<TxnHandle>,
) -> Result<()> {
    use sqlparser::ast::{SetExpr, TableFactor};
    let single = match q.body.as_ref() {
        SetExpr::Select(s) if s.from.len() == 1 && s.from[0].joins.is_empty() => {
            match &s.from[0].relation {
                TableFactor::Table { name, .. } => Some((name.clone(), s.selection.clone())),
                _ => None,
            }
        }
        _ => None,
    };
    let Some((name, selection)) = single else {
        return Err(crate::Error::unsupported(
            "SELECT ... FOR UPDATE over joins or subqueries",
        ));
    };
    let target = crate::dml::matched::Target {
        name: &name,
        selection: selection.as_ref(),
        order_by: &[],
        limit: None,
        extra: &[],
    };
    crate::dml::matched::read(session, txn, &target).await?;
    Ok(())
}

/// Runs a query through DataFusion with explicit statement flags (DML uses
/// the row id and latest-read flags).
pub async fn run_with(
    session: &crate::session::Session,
    stmt: Statement,
    ctx: StatementCtx,
) -> Result<ResultSet> {
    let (stmt, names) = rewrite::for_datafusion(session, stmt)?;
    let (schema, batches) = session.df.run(stmt, ctx, session.db.as_deref()).await?;
    let columns: Vec<ColumnDef> = schema
        .fields()
        .iter()
        .map(|f| {
            let name = names.name_for(f.name()).unwrap_or_else(|| display_name(f));
            convert::field_column_def(f, &name)
        })
        .collect();
    let rows = convert::batches_to_rows(&batches)?;
    Ok(ResultSet { columns, rows })
}
