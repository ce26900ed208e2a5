//! What a connection asks of a session: a statement of text, a prepared
//! statement's life (prepare, execute, close), a LOAD DATA file's chunks,
//! COM_FIELD_LIST. Each statement shows in the process list while it runs,
//! can be interrupted by `KILL QUERY`, and ends in the slow-query log.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use codec::datum::Datum;
use sqlparser::ast::Statement;

use crate::dml::load_data::{self, LoadState};
use crate::error::{Error, Result, code};
use crate::planner::point_get::{PointGet, Template};
use crate::protocol::resultset::ColumnDef;
use crate::session::{LocalInfile, Output, Prepared, PreparedInfo, Session};

/// A prepared statement bound to its parameters.
enum Bound {
    PointGet(PointGet),
    Statement(Box<Statement>),
}

/// Runs one statement of text.
pub async fn text(session: &mut Session, sql: &str) -> Result<Output> {
    let started = std::time::Instant::now();
    *session.process.current.lock() = Some((sql.to_string(), started));
    let result = text_statement(session, sql).await;
    *session.process.current.lock() = None;
    statement_done(session, sql, started.elapsed(), &result);
    result
}

async fn text_statement(session: &mut Session, sql: &str) -> Result<Output> {
    if crate::parse::load_data::is_load_data(sql) {
        session.warnings.clear();
        let spec = crate::parse::load_data::parse(sql)?;
        // Fail before the client sends the file if the table is wrong.
        load_data::begin(session, spec.clone())?;
        return Ok(Output::LocalInfile(LocalInfile {
            file_name: spec.file.clone(),
            spec: Box::new(spec),
        }));
    }
    if crate::admin::users::is_account_statement(sql) {
        session.warnings.clear();
        session.commit_open().await?;
        return crate::admin::users::execute(session, sql).await;
    }
    if let Some(stmt) = crate::admin::ddl_jobs::parse(sql) {
        session.warnings.clear();
        return crate::admin::ddl_jobs::execute(session, stmt?).await;
    }
    if let Some(tables) = crate::admin::check::parse(sql) {
        session.warnings.clear();
        return crate::admin::check::execute(session, &tables).await;
    }
    let stmt = crate::parse::parse_one(sql)?;
    if !crate::parse::is_show_warnings(&stmt) {
        session.warnings.clear();
    }
    let process = session.process.clone();
    interruptible(&process, super::statement(session, stmt)).await
}

/// Runs a statement until it ends or `KILL QUERY` interrupts it (1317).
/// A kill that arrives while the statement commits is not obeyed: the
/// commit's own outcome is the answer, as an interrupted commit may have
/// committed.
async fn interruptible(
    process: &crate::session::processlist::Process,
    statement: impl std::future::Future<Output = Result<Output>>,
) -> Result<Output> {
    let mut statement = std::pin::pin!(statement);
    loop {
        tokio::select! {
            r = &mut statement => return r,
            _ = process.kill_query.notified() => {
                if !process.committing.load(std::sync::atomic::Ordering::SeqCst) {
                    return Err(Error::new(
                        code::ER_QUERY_INTERRUPTED,
                        "Query execution was interrupted",
                    ));
                }
            }
        }
    }
}

/// COM_STMT_PREPARE: parses, describes the result columns and caches a
/// point get's plan.
pub async fn prepare(session: &mut Session, sql: &str) -> Result<PreparedInfo> {
    let stmt = crate::parse::parse_one(sql)?;
    let params = crate::parse::count_placeholders(&stmt);
    let columns = super::describe(session, &stmt).await?;
    let id = session.next_stmt_id;
    session.next_stmt_id = session.next_stmt_id.wrapping_add(1).max(1);
    let numbered =
        matches!(stmt, Statement::Query(_)).then(|| crate::parse::number_placeholders(&stmt));
    let plan = match &numbered {
        Some(Statement::Query(q)) => cached(crate::planner::point_get::template(session, q)),
        _ => None,
    };
    session.prepared.insert(
        id,
        Prepared {
            plan,
            numbered,
            planned_with: (session.schema().version, session.db.clone()),
            statement: stmt,
            params,
            sql: sql.to_string(),
        },
    );
    Ok(PreparedInfo {
        id,
        params,
        columns,
    })
}

fn cached(t: Option<Template>) -> Option<Arc<dyn std::any::Any + Send + Sync>> {
    t.map(|t| Arc::new(t) as Arc<dyn std::any::Any + Send + Sync>)
}

/// COM_STMT_EXECUTE.
pub async fn prepared(session: &mut Session, id: u32, params: Vec<Datum>) -> Result<Output> {
    let p = session.prepared.get(&id).ok_or_else(|| {
        Error::new(
            code::ER_UNKNOWN_STMT_HANDLER,
            format!("Unknown prepared statement handler ({id}) given to mysqld_stmt_execute"),
        )
    })?;
    if params.len() != p.params {
        return Err(Error::new(
            code::ER_WRONG_ARGUMENTS,
            "Incorrect arguments to mysqld_stmt_execute",
        ));
    }
    // A cached point get, re-planned first when DDL or `USE` made it
    // stale.
    let now = (session.schema().version, session.db.clone());
    if let Some(numbered) = &p.numbered
        && p.planned_with != now
    {
        let Statement::Query(q) = numbered.clone() else {
            unreachable!("only queries are numbered")
        };
        let fresh = cached(crate::planner::point_get::template(session, &q));
        if let Some(p) = session.prepared.get_mut(&id) {
            p.plan = fresh;
            p.planned_with = now;
        }
    }
    let p = &session.prepared[&id];
    let template = p.plan.as_ref().and_then(|t| t.downcast_ref::<Template>());
    let work = match template.and_then(|t| t.bind(&params)) {
        Some(pg) => Bound::PointGet(pg),
        None => Bound::Statement(Box::new(crate::parse::bind_params(&p.statement, &params)?)),
    };
    let text = p.sql.clone();
    let started = std::time::Instant::now();
    *session.process.current.lock() = Some((text.clone(), started));
    session.warnings.clear();
    let process = session.process.clone();
    let work = async {
        match work {
            Bound::PointGet(pg) => super::point_get(session, &pg).await,
            Bound::Statement(stmt) => super::statement(session, *stmt).await,
        }
    };
    let result = interruptible(&process, work).await;
    *session.process.current.lock() = None;
    statement_done(session, &text, started.elapsed(), &result);
    result
}

/// LOAD DATA: the file's contents arrive in chunks (see
/// [`crate::dml::load_data`]).
pub fn load_data_begin(session: &mut Session, req: LocalInfile) -> Result<LoadState> {
    load_data::begin(session, *req.spec)
}

pub async fn load_data_chunk(
    session: &mut Session,
    state: &mut LoadState,
    data: &[u8],
    last: bool,
) -> Result<()> {
    load_data::chunk(session, state, data, last).await
}

pub fn load_data_end(session: &mut Session, state: LoadState) -> Output {
    load_data::end(session, state)
}

/// COM_FIELD_LIST: the columns of a table in the current database.
pub fn field_list(session: &Session, table: &str) -> Result<Vec<ColumnDef>> {
    let db = session.current_db()?;
    let schema = session.schema();
    let t = schema.require_table(db, table)?;
    Ok((0..t.columns.len())
        .map(|i| crate::executor::convert::table_column_def(db, t, i, None))
        .collect())
}

/// Counts a finished statement and logs it when it was slow (see
/// [`crate::session::observe`]).
fn statement_done(session: &Session, sql: &str, elapsed: Duration, result: &Result<Output>) {
    let metrics = &session.shared.metrics;
    metrics.observe(
        crate::session::observe::kind_of(sql),
        result.is_ok(),
        elapsed,
    );
    let threshold = session
        .shared
        .globals
        .get("tidb_slow_log_threshold")
        .map(|v| v.to_text())
        .unwrap_or_default();
    let threshold: u64 = threshold.parse().unwrap_or(300);
    if elapsed >= Duration::from_millis(threshold) {
        metrics.slow_queries.fetch_add(1, Ordering::Relaxed);
        let outcome = match result {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("error {}", e.code()),
        };
        let text: String = sql.chars().take(2048).collect();
        tracing::warn!(
            target: "slow_query",
            conn = session.id,
            user = %session.user,
            db = session.db.as_deref().unwrap_or(""),
            query_time_ms = elapsed.as_millis() as u64,
            outcome,
            "slow query: {text}"
        );
    }
}
