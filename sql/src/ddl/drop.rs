//! `DROP TABLE`: the definitions go in one DDL transaction, which also
//! records the tables' key ranges to be freed once GC passes the drop
//! ([`crate::ddl::delete_range`]).

use sqlparser::ast::ObjectName;

use crate::catalog::jobs::{self, JobType};
use crate::catalog::meta;
use crate::ddl::txn::in_ddl_txn;
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
            Some(t) => targets.push((db, t.clone())),
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
    // One job per table, as TiDB records them.
    for (db, t) in &targets {
        in_ddl_txn(session, JobType::DropTable, async |txn, job| {
            (job.db_id, job.db_name) = (t.db_id, db.clone());
            (job.table_id, job.table_name) = (t.id, t.name.clone());
            meta::delete_table(txn, t.db_id, t.id).await?;
            jobs::add_delete_ranges(txn, job.id, &[codec::table::table_range(t.id)]).await
        })
        .await?;
        session.shared.auto_ids.forget(t.id);
        crate::ddl::columnar::drop_rule(session, t.id).await?;
    }
    Ok(Output::ok(0))
}
