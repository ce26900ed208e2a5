//! Finding the rows an UPDATE or DELETE changes, with their handles and
//! (for UPDATE) the new values' expressions evaluated against each row.
//!
//! A `WHERE` naming one key (or an IN list of keys) takes the point-get
//! path and evaluates simple `SET` expressions itself
//! ([`crate::eval`]); anything else is a DataFusion query
//! `SELECT <all columns>, <SET expressions> FROM t WHERE ... ORDER BY ...
//! LIMIT ...`.
//!
//! In a pessimistic transaction the rows are read as of now ("current
//! read"), locked, and re-read under the lock; if a concurrent commit
//! changed a row between the read and the lock, the read is repeated —
//! now under the locks, so it is stable (TiDB re-executes the statement at
//! a newer `for_update_ts` the same way).

use std::sync::Arc;

use codec::datum::Datum;
use txn::client::TxnMode;

use crate::catalog::model::{HandleKind, TableInfo};
use crate::dml::target::{Matched, MatchedRow, Target};
use crate::error::{Error, Result};
use crate::planner::{StatementCtx, point_get};
use crate::session::{Session, TxnHandle};

pub async fn read(session: &Session, txn: &Arc<TxnHandle>, target: &Target<'_>) -> Result<Matched> {
    let (db, tname) = session.qualified(target.name)?;
    let schema = txn.schema.clone();
    let table = schema.require_table(&db, &tname)?.clone();
    let db = schema.db(&db).expect("db of a table").info.name.clone();
    let pessimistic = txn.txn.read().await.mode() == TxnMode::Pessimistic;
    if let Some(m) = try_point(session, txn, target, &db, &table).await? {
        return Ok(m);
    }
    let n = table.columns.len();
    let with_row_id = matches!(table.handle, HandleKind::RowId);
    let mut select: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("`{}`", c.name.replace('`', "``")))
        .collect();
    if with_row_id {
        select.push(crate::planner::provider::ROW_ID.to_string());
    }
    select.extend(target.extra.iter().map(|e| e.to_string()));
    let mut sql = format!("SELECT {} FROM {}", select.join(", "), target.name);
    if let Some(w) = target.selection {
        sql.push_str(&format!(" WHERE {w}"));
    }
    if !target.order_by.is_empty() {
        let parts: Vec<String> = target.order_by.iter().map(|o| o.to_string()).collect();
        sql.push_str(&format!(" ORDER BY {}", parts.join(", ")));
    }
    if let Some(l) = target.limit {
        sql.push_str(&format!(" LIMIT {l}"));
    }
    let query = crate::parse::parse_one(&sql)?;
    for _attempt in 0..10 {
        let ctx = StatementCtx {
            schema: schema.clone(),
            txn: txn.clone(),
            row_id: true,
            latest: pessimistic,
            read: std::sync::Arc::new(crate::planner::engine::ReadPolicy::row_only()),
        };
        let rs = crate::planner::run_with(session, query.clone(), ctx).await?;
        let mut rows = Vec::with_capacity(rs.rows.len());
        for mut r in rs.rows {
            let extra = r.split_off(n + with_row_id as usize);
            let row_id = if with_row_id {
                match r.pop() {
                    Some(Datum::I64(id)) => Some(id),
                    _ => return Err(Error::internal("row id missing")),
                }
            } else {
                None
            };
            let handle = crate::table::handle_of(&table, &r, row_id)?;
            rows.push(MatchedRow {
                old: r,
                handle,
                extra,
            });
        }
        if !pessimistic || rows.is_empty() {
            return Ok(Matched { db, table, rows });
        }
        // Lock, and check nothing moved between the read and the lock.
        let keys: Vec<Vec<u8>> = rows
            .iter()
            .map(|r| crate::table::record_key(&table, &r.handle))
            .collect();
        let latest = txn
            .txn
            .write()
            .await
            .batch_get_for_update(keys.clone())
            .await?;
        let all: Vec<usize> = (0..n).collect();
        let mut stable = true;
        for ((row, key), value) in rows.iter().zip(&keys).zip(&latest) {
            let now = match value {
                Some(v) => Some(crate::table::decode_record(&table, key, v, &all)?),
                None => None,
            };
            if now.as_ref() != Some(&row.old) {
                stable = false;
                break;
            }
        }
        if stable {
            return Ok(Matched { db, table, rows });
        }
    }
    Err(Error::Txn(txn::Error::Retryable(
        "rows kept changing while being locked".into(),
    )))
}

async fn try_point(
    session: &Session,
    txn: &Arc<TxnHandle>,
    target: &Target<'_>,
    db: &str,
    table: &Arc<TableInfo>,
) -> Result<Option<Matched>> {
    let Some(selection) = target.selection else {
        return Ok(None);
    };
    if !target.order_by.is_empty() || matches!(table.handle, HandleKind::RowId) {
        return Ok(None);
    }
    let sql = format!("SELECT * FROM {} WHERE {selection}", target.name);
    let Ok(sqlparser::ast::Statement::Query(q)) = crate::parse::parse_one(&sql) else {
        return Ok(None);
    };
    let Some(pg) = point_get::plan(session, &q) else {
        return Ok(None);
    };
    let all: Vec<usize> = (0..table.columns.len()).collect();
    let (handles, rows) = point_get::rows(&pg, txn, true, &all).await?;
    let limit = match target.limit.map(crate::eval::literal) {
        None => usize::MAX,
        Some(Some(Datum::I64(l))) if l >= 0 => l as usize,
        Some(_) => return Ok(None),
    };
    let mut out = Vec::new();
    for (handle, old) in handles.into_iter().zip(rows).take(limit) {
        let lookup = |name: &str| table.column(name).map(|(i, _)| old[i].clone());
        let mut extra = Vec::with_capacity(target.extra.len());
        for e in target.extra {
            match crate::eval::eval(e, &lookup)? {
                Some(v) => extra.push(v),
                None => return Ok(None),
            }
        }
        out.push(MatchedRow { old, handle, extra });
    }
    Ok(Some(Matched {
        db: db.to_string(),
        table: table.clone(),
        rows: out,
    }))
}
