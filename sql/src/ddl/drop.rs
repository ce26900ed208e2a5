//! `DROP TABLE`, and deleting a dropped or truncated table's data.

use sqlparser::ast::ObjectName;

use crate::catalog::meta;
use crate::ddl::txn::{delete_range, in_ddl_txn};
use crate::error::{Error, Result, code};
use crate::session::{Output, Session};

pub async fn drop_tables(
    session: &mut Session,
    names: &[ObjectName],
    if_exists: bool,
) -> Result<Output> {
    let schema = session.schema();
    let mut targets = Vec::new();
    let mut missing = Vec::new();
    for n in names {
        let (db, table) = session.qualified(n)?;
        match schema.table(&db, &table) {
            Some(t) => targets.push((schema.db(&db).expect("db of a table").info.id, t.clone())),
            None => missing.push(format!("{db}.{table}")),
        }
    }
    if !missing.is_empty() {
        let msg = format!("Unknown table '{}'", missing.join(","));
        if !if_exists {
            return Err(Error::new(code::ER_BAD_TABLE, msg));
        }
        session.note(code::ER_BAD_TABLE, msg);
    }
    if targets.is_empty() {
        return Ok(Output::ok(0));
    }
    in_ddl_txn(session, async |txn| {
        for (db_id, t) in &targets {
            meta::delete_table(txn, *db_id, t.id).await?;
        }
        Ok(())
    })
    .await?;
    for (_, t) in &targets {
        session.shared.auto_ids.forget(t.id);
        delete_table_data(session, t.id).await?;
    }
    Ok(Output::ok(0))
}

/// Deletes a dropped table's rows and index entries, in batches, and its
/// columnar replicas.
///
/// TiDB hands this to GC ("delete range"); duet deletes the keys with
/// ordinary transactions right after the DDL commits, which is slower for
/// big tables but needs no extra machinery.
pub async fn delete_table_data(session: &Session, table_id: i64) -> Result<()> {
    crate::ddl::columnar::drop_rule(session, table_id).await?;
    let (start, end) = codec::table::table_range(table_id);
    delete_range(session, &start, &end).await
}
