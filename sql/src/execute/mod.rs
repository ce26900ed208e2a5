//! # Statement dispatch
//!
//! A parsed statement goes to what runs it, in the transaction it runs in
//! (see [`crate::session`] for the rules: autocommit statements retried on
//! conflicts, explicit transactions pessimistic by default):
//!
//! ```text
//!  entry (text, prepared, LOAD DATA chunks)
//!    --> statement: transaction control, SET, USE, KILL here;
//!                   DDL (implicit commit) -> ddl; SHOW -> admin
//!    --> in_txn:    SELECT  -> query (point get | planner)
//!                   INSERT  -> its rows (VALUES evaluated, SELECT run) -> dml::insert
//!                   UPDATE / DELETE -> matched (the rows) -> dml::update / delete
//! ```

pub mod analyze;
pub mod constant;
pub mod entry;
pub mod matched;
pub mod query;
pub mod set;

use std::sync::Arc;

use codec::datum::Datum;
use sqlparser::ast::Statement;
use txn::client::TxnMode;

use crate::dml;
use crate::error::{Error, Result, code};
use crate::planner::point_get::PointGet;
use crate::protocol::resultset::ColumnDef;
use crate::session::{Output, ResultSet, Session, TxnHandle};

pub async fn statement(session: &mut Session, stmt: Statement) -> Result<Output> {
    match &stmt {
        Statement::Query(_) => statement_in_txn(session, stmt, false).await,
        Statement::Explain { statement, .. } if matches!(**statement, Statement::Query(_)) => {
            statement_in_txn(session, stmt, false).await
        }
        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {
            statement_in_txn(session, stmt, true).await
        }
        Statement::StartTransaction { modes, .. } => {
            let read_only = modes.iter().any(|m| {
                matches!(
                    m,
                    sqlparser::ast::TransactionMode::AccessMode(
                        sqlparser::ast::TransactionAccessMode::ReadOnly
                    )
                )
            });
            // BEGIN inside a transaction commits it first (MySQL).
            session.commit_open().await?;
            let mode = session.txn_mode();
            session.begin(true, read_only, mode).await?;
            Ok(Output::ok(0))
        }
        Statement::Commit { .. } => {
            session.commit_open().await?;
            Ok(Output::ok(0))
        }
        Statement::Rollback {
            savepoint: None, ..
        } => {
            session.rollback_txn().await?;
            Ok(Output::ok(0))
        }
        Statement::Set(set) => crate::execute::set::execute(session, set).await,
        Statement::Use(u) => {
            let name = match u {
                sqlparser::ast::Use::Object(n)
                | sqlparser::ast::Use::Database(n)
                | sqlparser::ast::Use::Schema(n) => crate::catalog::names::object_name(n)?.1,
                _ => return Err(Error::unsupported(u)),
            };
            session.use_db(&name)?;
            Ok(Output::ok(0))
        }
        Statement::CreateDatabase { .. }
        | Statement::CreateTable(_)
        | Statement::Drop { .. }
        | Statement::CreateIndex(_)
        | Statement::AlterTable(_)
        | Statement::Truncate(_)
        | Statement::RenameTable(_) => {
            // DDL commits the open transaction first (MySQL's implicit commit).
            session.commit_open().await?;
            crate::ddl::execute(session, stmt).await
        }
        Statement::Analyze(a) => {
            // ANALYZE TABLE commits the open transaction first (MySQL).
            session.commit_open().await?;
            let rs = analyze::analyze(session, a).await?;
            Ok(Output::Rows(rs))
        }
        Statement::Kill { modifier, id } => {
            let query_only = matches!(modifier, Some(sqlparser::ast::KillType::Query));
            let id = u32::try_from(*id).map_err(|_| {
                Error::new(code::ER_NO_SUCH_THREAD, format!("Unknown thread id: {id}"))
            })?;
            session.kill(id, query_only)?;
            Ok(Output::ok(0))
        }
        s if crate::admin::show::is_show(s) => {
            let rs = crate::admin::show::execute(session, stmt).await?;
            Ok(Output::Rows(rs))
        }
        other => Err(Error::unsupported_statement(other)),
    }
}

/// What [`in_txn`] runs: a statement, or a prepared point get whose plan
/// was cached.
#[derive(Clone, Copy)]
enum Work<'a> {
    Statement(&'a Statement),
    PointGet(&'a PointGet),
}

/// Runs a prepared statement's cached point get (see
/// [`crate::planner::point_get::Template`]) as its statement would run.
pub async fn point_get(session: &mut Session, pg: &PointGet) -> Result<Output> {
    session.shared.catalog.fresh_schema().await?;
    if session.txn.is_none()
        && session.autocommit()
        && let Some(rs) = crate::planner::point_get::run_latest(session, pg).await?
    {
        return Ok(rows_read(session, rs));
    }
    in_txn(session, Work::PointGet(pg), false).await
}

fn rows_read(session: &mut Session, rs: ResultSet) -> Output {
    session.found_rows = rs.rows.len() as u64;
    session.row_count = -1;
    Output::Rows(rs)
}

/// Runs a query or DML statement in the session's transaction, or in an
/// autocommit transaction of its own (retried on conflicts).
async fn statement_in_txn(session: &mut Session, stmt: Statement, write: bool) -> Result<Output> {
    if !write
        && session.txn.is_none()
        && session.autocommit()
        && let Statement::Query(q) = &stmt
        && let Some(pg) = crate::planner::point_get::plan(session, q)
    {
        return point_get(session, &pg).await;
    }
    in_txn(session, Work::Statement(&stmt), write).await
}

async fn in_txn(session: &mut Session, work: Work<'_>, write: bool) -> Result<Output> {
    // Never plan against a schema this server could not confirm lately.
    session.shared.catalog.fresh_schema().await?;
    let retry_limit = session.vars.int("tidb_retry_limit").max(0) as usize;
    let mut attempt = 0;
    loop {
        let autocommit = session.txn.is_none() && session.autocommit();
        let handle = match &session.txn {
            Some(t) => {
                if write && t.read_only {
                    return Err(Error::new(
                        code::ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION,
                        "Cannot execute statement in a READ ONLY transaction.",
                    ));
                }
                t.handle.clone()
            }
            None if autocommit => session.begin(false, false, TxnMode::Optimistic).await?,
            None => {
                // autocommit=0: the statement opens a transaction that stays.
                let mode = session.txn_mode();
                session.begin(true, false, mode).await?
            }
        };
        let result = match work {
            Work::Statement(stmt) => run(session, stmt, handle).await,
            Work::PointGet(pg) => crate::planner::point_get::run(session, pg, &handle)
                .await
                .map(|rs| rows_read(session, rs)),
        };
        if !autocommit {
            // A deadlock victim's whole transaction is rolled back (InnoDB
            // does the same), which releases its locks for the others.
            if let Err(e) = &result
                && e.code() == code::ER_LOCK_DEADLOCK
            {
                let _ = session.rollback_txn().await;
            }
            return result;
        }
        let result = match result {
            Ok(out) if write => session.commit_open().await.map(|_| out),
            Ok(out) => {
                // Read-only: nothing to commit.
                session.txn = None;
                Ok(out)
            }
            Err(e) => {
                let _ = session.rollback_txn().await;
                Err(e)
            }
        };
        match result {
            Err(e) if e.is_retryable() && attempt < retry_limit => {
                attempt += 1;
                session
                    .shared
                    .metrics
                    .retries
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::debug!(
                    conn = session.id,
                    attempt,
                    "retrying autocommit statement: {e}"
                );
            }
            r => return r,
        }
    }
}

async fn run(session: &mut Session, stmt: &Statement, txn: Arc<TxnHandle>) -> Result<Output> {
    match stmt {
        Statement::Query(_) => {
            let rs = query::select(session, stmt.clone(), txn).await;
            session.take_plan_warnings();
            Ok(rows_read(session, rs?))
        }
        Statement::Explain {
            statement, analyze, ..
        } => {
            let rs =
                crate::planner::explain::explain(session, (**statement).clone(), txn, *analyze)
                    .await;
            session.take_plan_warnings();
            Ok(Output::Rows(rs?))
        }
        Statement::Insert(insert) => {
            let (plan, source) = dml::insert::plan(session, insert, &txn)?;
            let input = insert_rows(session, &plan, source, &txn).await?;
            dml::insert::apply(session, &txn, plan, input).await
        }
        Statement::Update(u) => {
            let plan = dml::update::plan(session, u, &txn)?;
            let m = matched::read(session, &txn, &plan.target()).await?;
            dml::update::apply(session, &txn, plan, m).await
        }
        Statement::Delete(d) => {
            let m = matched::read(session, &txn, &dml::delete::target(d)?).await?;
            dml::delete::apply(session, &txn, m).await
        }
        other => Err(Error::unsupported_statement(other)),
    }
}

/// The result columns of a statement, for COM_STMT_PREPARE (empty for
/// statements that return no rows). Clients such as libmysqlclient decide
/// from these whether to read a result set after COM_STMT_EXECUTE.
pub async fn describe(session: &mut Session, stmt: &Statement) -> Result<Vec<ColumnDef>> {
    match stmt {
        Statement::Query(_) => {
            let created = session.txn.is_none();
            let handle = match &session.txn {
                Some(t) => t.handle.clone(),
                None => session.begin(false, true, TxnMode::Optimistic).await?,
            };
            let result = crate::planner::describe(session, stmt, handle).await;
            if created {
                session.txn = None;
            }
            result
        }
        s if crate::admin::show::is_show(s) => {
            // Run it: SHOW output is small and has no parameters.
            match crate::admin::show::execute(session, s.clone()).await {
                Ok(rs) => Ok(rs.columns),
                Err(_) => Ok(Vec::new()),
            }
        }
        _ => Ok(Vec::new()),
    }
}

/// An INSERT's rows: `VALUES` evaluated (`None` for DEFAULT), or its query
/// run in the statement's transaction.
async fn insert_rows(
    session: &mut Session,
    plan: &dml::insert::Plan,
    source: dml::insert::Source<'_>,
    txn: &Arc<TxnHandle>,
) -> Result<Vec<Vec<Option<Datum>>>> {
    match source {
        dml::insert::Source::Values(values) => {
            let mut out = Vec::with_capacity(values.rows.len());
            for exprs in &values.rows {
                let mut row = Vec::with_capacity(exprs.len());
                for e in &exprs.content {
                    row.push(constant::value_of(session, e).await?);
                }
                out.push(row);
            }
            Ok(out)
        }
        dml::insert::Source::Query(q) => {
            let rs =
                query::select(session, Statement::Query(Box::new(q.clone())), txn.clone()).await?;
            if rs.columns.len() != plan.width() {
                return Err(dml::insert::wrong_count(1));
            }
            Ok(rs
                .rows
                .into_iter()
                .map(|r| r.into_iter().map(Some).collect())
                .collect())
        }
    }
}
