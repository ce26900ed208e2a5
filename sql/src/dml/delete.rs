//! `DELETE FROM t [WHERE ...] [ORDER BY ...] [LIMIT n]`: each matched
//! row's record and index entries are deleted ([`target`] names the rows,
//! [`crate::execute::matched`] reads them, [`apply`] deletes).

use std::sync::Arc;

use sqlparser::ast::{Delete, FromTable, TableFactor};

use crate::dml::target::{Matched, Target};
use crate::dml::write;
use crate::error::{Error, Result};
use crate::session::{Output, Session, TxnHandle};

/// The rows a DELETE names (single-table DELETE only).
pub fn target(d: &Delete) -> Result<Target<'_>> {
    let from = match &d.from {
        FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
    };
    if !d.tables.is_empty() || d.using.is_some() || from.len() != 1 || !from[0].joins.is_empty() {
        return Err(Error::unsupported("multi-table DELETE"));
    }
    let TableFactor::Table { name, .. } = &from[0].relation else {
        return Err(Error::unsupported("DELETE from a derived table"));
    };
    Ok(Target {
        name,
        selection: d.selection.as_ref(),
        order_by: &d.order_by,
        limit: d.limit.as_ref(),
        extra: &[],
    })
}

/// Deletes the matched rows.
pub async fn apply(session: &mut Session, txn: &Arc<TxnHandle>, m: Matched) -> Result<Output> {
    let mut keys = Vec::new();
    for row in &m.rows {
        keys.extend(write::row_keys(&m.table, &row.old, &row.handle));
    }
    {
        let mut tx = txn.txn.write().await;
        tx.lock_keys(keys.clone()).await?;
        for k in keys {
            tx.delete(k).await?;
        }
    }
    let n = m.rows.len() as u64;
    session.row_count = n as i64;
    Ok(Output::ok(n))
}
