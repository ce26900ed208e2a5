//! `UPDATE t SET c = expr, ... [WHERE ...] [ORDER BY ...] [LIMIT n]`.
//!
//! The matched rows and the new values come from [`crate::execute::matched`]; each
//! changed row rewrites its record (moving it when the primary key
//! changes) and exactly the index entries whose values changed. New unique
//! keys are checked with one batch read. Affected rows count changed rows,
//! or matched rows when the client asked for CLIENT_FOUND_ROWS.

use std::collections::HashSet;
use std::sync::Arc;

use codec::datum::Datum;
use sqlparser::ast::{AssignmentTarget, Expr, TableFactor, Update};

use crate::catalog::model::{HandleKind, TableInfo};
use crate::dml::target::{Matched, MatchedRow, Target};
use crate::dml::write;
use crate::error::{Error, Result, code};
use crate::protocol::caps;
use crate::session::{Output, Session, TxnHandle};
use crate::types;

/// What an UPDATE writes, resolved against the catalog before its rows
/// are read.
pub struct Plan<'a> {
    table: Arc<TableInfo>,
    /// The assigned columns, and the expressions assigned to them.
    targets: Vec<usize>,
    values: Vec<Expr>,
    update: &'a Update,
}

impl<'a> Plan<'a> {
    /// The rows to read, with the assigned expressions evaluated per row.
    pub fn target(&self) -> Target<'_> {
        let u = self.update;
        let TableFactor::Table { name, .. } = &u.table.relation else {
            unreachable!("checked by plan")
        };
        Target {
            name,
            selection: u.selection.as_ref(),
            order_by: &u.order_by,
            limit: u.limit.as_ref(),
            extra: &self.values,
        }
    }
}

/// Resolves an UPDATE's table and assigned columns.
pub fn plan<'a>(session: &Session, u: &'a Update, txn: &TxnHandle) -> Result<Plan<'a>> {
    if !u.table.joins.is_empty() || u.from.is_some() {
        return Err(Error::unsupported("multi-table UPDATE"));
    }
    let TableFactor::Table { name, .. } = &u.table.relation else {
        return Err(Error::unsupported("UPDATE of a derived table"));
    };
    let (db, tname) = session.qualified(name)?;
    let t = txn.schema.require_table(&db, &tname)?.clone();
    let mut targets = Vec::new();
    let mut values = Vec::new();
    for a in &u.assignments {
        let AssignmentTarget::ColumnName(col) = &a.target else {
            return Err(Error::unsupported("tuple assignment"));
        };
        let col_name = col
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.clone())
            .unwrap_or_default();
        let (i, _) = t
            .column(&col_name)
            .ok_or_else(|| Error::bad_field(&col_name, "field list"))?;
        targets.push(i);
        values.push(a.value.clone());
    }
    Ok(Plan {
        table: t,
        targets,
        values,
        update: u,
    })
}

/// Writes the matched rows' new values.
pub async fn apply(
    session: &mut Session,
    txn: &Arc<TxnHandle>,
    plan: Plan<'_>,
    m: Matched,
) -> Result<Output> {
    let Plan {
        table: t, targets, ..
    } = plan;
    let strict = types::is_strict(&session.vars.text("sql_mode"));
    let mut changed = 0u64;
    let mut deletes: Vec<Vec<u8>> = Vec::new();
    let mut puts: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut new_unique: Vec<(Vec<u8>, String, String)> = Vec::new();
    let mut old_keys: HashSet<Vec<u8>> = HashSet::new();
    for (r, row) in m.rows.iter().enumerate() {
        let new = new_values(session, &t, &targets, row, r + 1, strict)?;
        if new == row.old {
            continue;
        }
        changed += 1;
        let row_id = match (&t.handle, &row.handle) {
            (HandleKind::RowId, codec::table::Handle::Int(id)) => Some(*id),
            _ => None,
        };
        let new_handle = crate::table::handle_of(&t, &new, row_id)?;
        let old_keys_of_row = write::row_keys(&t, &row.old, &row.handle);
        let new_pairs = write::row_pairs(&t, &new, &new_handle)?;
        let old_set: HashSet<&Vec<u8>> = old_keys_of_row.iter().collect();
        let new_set: HashSet<&Vec<u8>> = new_pairs.iter().map(|(k, _)| k).collect();
        for k in &old_keys_of_row {
            old_keys.insert(k.clone());
            if !new_set.contains(k) {
                deletes.push(k.clone());
            }
        }
        for (k, key_name, shown) in write::unique_keys(&t, &new, &new_handle)? {
            if !old_set.contains(&k) {
                new_unique.push((k, key_name, shown));
            }
        }
        puts.extend(new_pairs);
    }
    check_unique(txn, &new_unique, &old_keys).await?;
    write_changes(txn, deletes, puts).await?;
    let matched = m.rows.len() as u64;
    session.row_count = changed as i64;
    let affected = if session.capabilities & caps::FOUND_ROWS != 0 {
        matched
    } else {
        changed
    };
    let info = format!(
        "Rows matched: {matched}  Changed: {changed}  Warnings: {}",
        session.warnings.len()
    );
    Ok(Output::Ok {
        affected,
        last_insert_id: 0,
        info,
    })
}

/// A matched row with the assignments applied (converted to the columns'
/// types, warnings noted), and `ON UPDATE CURRENT_TIMESTAMP` columns set
/// when anything else changed.
fn new_values(
    session: &mut Session,
    t: &TableInfo,
    targets: &[usize],
    row: &MatchedRow,
    row_no: usize,
    strict: bool,
) -> Result<Vec<Datum>> {
    let r = row_no - 1;
    let mut new = row.old.clone();
    for (&i, v) in targets.iter().zip(&row.extra) {
        let c = &t.columns[i];
        if *v == Datum::Null && c.rejects_null() {
            return Err(Error::new(
                code::ER_BAD_NULL,
                format!("Column '{}' cannot be null", c.name),
            ));
        }
        let target = types::Target {
            column: &c.name,
            row: r + 1,
            strict,
        };
        let (v, problem) = types::convert(v.clone(), &c.ft, &target)?;
        if let Some(p) = problem {
            session.warn(p.code, p.message);
        }
        new[i] = v;
    }
    if new == row.old {
        return Ok(new);
    }
    for (i, c) in t.columns.iter().enumerate() {
        if c.on_update_now && !targets.contains(&i) {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros() as i64)
                .unwrap_or(0);
            new[i] = types::convert(
                Datum::DateTime(now),
                &c.ft,
                &types::Target {
                    column: &c.name,
                    row: r + 1,
                    strict: false,
                },
            )?
            .0;
        }
    }
    Ok(new)
}

/// Fails with 1062 when a unique key the statement adds exists (and is not
/// one of the changed rows' own old keys) or is added twice.
async fn check_unique(
    txn: &Arc<TxnHandle>,
    new_unique: &[(Vec<u8>, String, String)],
    old_keys: &HashSet<Vec<u8>>,
) -> Result<()> {
    if new_unique.is_empty() {
        return Ok(());
    }
    let keys: Vec<Vec<u8>> = new_unique.iter().map(|(k, _, _)| k.clone()).collect();
    let existing = txn.txn.write().await.batch_get_for_update(keys).await?;
    let mut seen = write::SeenKeys::default();
    for ((k, key_name, shown), v) in new_unique.iter().zip(existing) {
        let taken_by_other = v.is_some() && !old_keys.contains(k);
        if taken_by_other || !seen.insert(k) {
            return Err(write::dup_entry(shown, key_name));
        }
    }
    Ok(())
}

/// Locks every key written, then deletes and puts.
async fn write_changes(
    txn: &Arc<TxnHandle>,
    deletes: Vec<Vec<u8>>,
    puts: Vec<(Vec<u8>, Vec<u8>)>,
) -> Result<()> {
    let mut tx = txn.txn.write().await;
    let mut keys: Vec<Vec<u8>> = deletes.clone();
    keys.extend(puts.iter().map(|(k, _)| k.clone()));
    tx.lock_keys(keys).await?;
    for k in deletes {
        tx.delete(k).await?;
    }
    for (k, v) in puts {
        tx.put(k, v).await?;
    }
    Ok(())
}
