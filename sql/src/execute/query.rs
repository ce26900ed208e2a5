//! A SELECT: a point get when the WHERE clause names one key, otherwise
//! DataFusion through the planner; `FOR UPDATE` first locks the rows the
//! statement reads.

use std::sync::Arc;

use sqlparser::ast::Statement;

use crate::error::Result;
use crate::execute::matched;
use crate::planner::engine::ReadPolicy;
use crate::planner::{self, StatementCtx};
use crate::session::{ResultSet, Session, TxnHandle};

/// Runs a SELECT (or any query) through DataFusion and shapes the result
/// for the wire.
pub async fn select(session: &Session, stmt: Statement, txn: Arc<TxnHandle>) -> Result<ResultSet> {
    if let Statement::Query(q) = &stmt
        && let Some(pg) = crate::planner::point_get::plan(session, q)
    {
        return crate::planner::point_get::run(session, &pg, &txn).await;
    }
    let mut latest = false;
    if let Statement::Query(q) = &stmt
        && !q.locks.is_empty()
        && session.txn.as_ref().is_some_and(|t| t.explicit)
    {
        lock_rows(session, q, &txn).await?;
        latest = true;
    }
    let read = Arc::new(ReadPolicy::of(session, &stmt));
    let ctx = StatementCtx {
        schema: txn.schema.clone(),
        txn,
        row_id: false,
        latest,
        read: read.clone(),
    };
    let result = planner::run_with(session, stmt, ctx).await;
    read.report(session);
    result
}

/// SELECT ... FOR UPDATE beyond point keys: lock the rows the WHERE clause
/// matches (as UPDATE would), so the query then reads them, newest
/// committed, under the lock. Only single-table queries can say which rows
/// those are.
async fn lock_rows(
    session: &Session,
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
    let target = crate::dml::target::Target {
        name: &name,
        selection: selection.as_ref(),
        order_by: &[],
        limit: None,
        extra: &[],
    };
    matched::read(session, txn, &target).await?;
    Ok(())
}
