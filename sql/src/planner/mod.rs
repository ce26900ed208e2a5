//! # Queries through DataFusion
//!
//! Statements that are not point lookups are planned and run by DataFusion
//! over [`provider::DuetTable`]s:
//!
//! ```text
//!  sqlparser AST --rewrite (MySQL-isms: @@vars, DATABASE(), column names)-->
//!     DataFusion SqlToRel (catalog "def", schema = current database)
//!     --> optimizer --> physical plan --> DuetTable scans (txn snapshot) --> batches
//! ```
//!
//! The DataFusion session is per connection and configured for MySQL
//! semantics where DataFusion has a switch: decimal literals are DECIMAL,
//! NULLs sort first ascending (NULL is the smallest value in MySQL). Where
//! it has none, [`semantics`] rewrites plans: strings compared with
//! numbers, integer arithmetic, division, overflow errors.

pub mod access_path;
pub mod build_keys;
pub mod cost;
pub mod engine;
pub mod explain;
pub mod point_get;
pub mod provider;
pub mod pushdown;
pub mod rewrite;
pub mod selectivity;
pub mod semantics;

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::context::{SessionConfig, SessionContext};
use datafusion::physical_plan::ExecutionPlan;
use sqlparser::ast::Statement;

use crate::error::Result;
use crate::executor::convert;
use crate::executor::runtime_filter::IN_LIST_MAX;
pub use crate::planner::provider::StatementCtx;
use crate::planner::provider::{Bound, DuetCatalog};
use crate::protocol::resultset::ColumnDef;
use crate::session::datafusion::{Lent, QueryContext};
use crate::session::shared::Shared;
use crate::session::{ResultSet, Session, TxnHandle};

/// Sets up a connection's DataFusion session for MySQL semantics: the
/// configuration, duet's analyzer and physical optimizer rules and
/// functions. Each statement binds its own catalog (`bind`).
pub fn query_context() -> QueryContext {
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
    // IN list (executor::runtime_filter) up to this many; more as a Bloom
    // filter made from the build side (executor::build_keys), as
    // DataFusion's list makes a literal of every key.
    opts.optimizer.hash_join_inlist_pushdown_max_distinct_values = IN_LIST_MAX;
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
    for f in copr::mysql::functions() {
        ctx.register_udf(f.as_ref().clone());
    }
    ctx.register_udaf(semantics::subquery::single_row());
    QueryContext::new(ctx)
}

/// The session state lent to one statement, bound to it: catalog `def`
/// over the statement's catalog snapshot (DataFusion resolves names
/// through `CatalogProvider::schema`, which sees no session state), and
/// the statement's context as a `SessionConfig` extension for the scans
/// ([`provider::Bound`]). Unbound when dropped.
struct Planning<'a>(Lent<'a>);

fn bind<'a>(
    df: &'a QueryContext,
    shared: &Arc<Shared>,
    ctx: StatementCtx,
    db: Option<&str>,
) -> Planning<'a> {
    let mut state = df.lend(db);
    state.catalog_list().register_catalog(
        "def".into(),
        Arc::new(DuetCatalog::new(
            ctx.schema.clone(),
            ctx.row_id,
            shared.clone(),
        )),
    );
    state.config_mut().set_extension(Arc::new(Bound(Some(ctx))));
    Planning(state)
}

impl std::ops::Deref for Planning<'_> {
    type Target = datafusion::execution::context::SessionState;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Drop for Planning<'_> {
    fn drop(&mut self) {
        self.0.config_mut().set_extension(Arc::new(Bound(None)));
    }
}

/// Plans and runs a (rewritten) query statement.
pub async fn run(
    session: &Session,
    stmt: Statement,
    ctx: StatementCtx,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let (schema, physical) = {
        let state = bind(&session.df, &session.shared, ctx, session.db.as_deref());
        let plan = state
            .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(
                stmt,
            )))
            .await?;
        // The statement's own schema (names and metadata as planned).
        let schema: SchemaRef = Arc::new(plan.schema().as_arrow().clone());
        (schema, state.create_physical_plan(&plan).await?)
    };
    let batches = datafusion::physical_plan::collect(physical, session.df.task()).await?;
    Ok((schema, batches))
}

/// The output schema of a (rewritten) query, planned but not run.
async fn output_schema(session: &Session, stmt: Statement, ctx: StatementCtx) -> Result<SchemaRef> {
    let state = bind(&session.df, &session.shared, ctx, session.db.as_deref());
    let plan = state
        .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(
            stmt,
        )))
        .await?;
    // Analyzed, so the types are MySQL's (division).
    let plan = state.optimize(&plan)?;
    Ok(Arc::new(plan.schema().as_arrow().clone()))
}

/// The physical plan of a (rewritten) query, for EXPLAIN; its scans hold
/// the statement context, so [`execute_plan`] runs it as planned.
pub async fn physical_plan(
    session: &Session,
    stmt: Statement,
    ctx: StatementCtx,
) -> Result<Arc<dyn ExecutionPlan>> {
    let state = bind(&session.df, &session.shared, ctx, session.db.as_deref());
    let plan = state
        .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(
            stmt,
        )))
        .await?;
    Ok(state.create_physical_plan(&plan).await?)
}

/// Runs a physical plan to the end (EXPLAIN ANALYZE), discarding rows.
pub async fn execute_plan(session: &Session, plan: Arc<dyn ExecutionPlan>) -> Result<()> {
    datafusion::physical_plan::collect(plan, session.df.task()).await?;
    Ok(())
}

/// The result columns of a query with `?` placeholders (COM_STMT_PREPARE
/// answers with them): planned with NULL in place of every parameter.
pub async fn describe(
    session: &Session,
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
    let schema = output_schema(session, bound, ctx).await?;
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

/// Runs a query through DataFusion with explicit statement flags (DML uses
/// the row id and latest-read flags).
pub async fn run_with(session: &Session, stmt: Statement, ctx: StatementCtx) -> Result<ResultSet> {
    let (stmt, names) = rewrite::for_datafusion(session, stmt)?;
    let (schema, batches) = run(session, stmt, ctx).await?;
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
