//! # Columnar replicas of a table
//!
//! `ALTER TABLE t SET COLUMNAR REPLICA n` (TiDB: `SET TIFLASH REPLICA n`)
//! records `n` in the table's catalog entry and asks PD for a placement
//! rule `table-<id>` over the table's key range: PD's columnar placement
//! checker then keeps `n` learners on columnar stores for every region of
//! the table, also for regions born later from splits. `n = 0` removes
//! the rule, and PD removes the learners.
//!
//! ```text
//!   ALTER ... SET COLUMNAR REPLICA n
//!     1. n <= columnar stores that are not tombstones (else error 1105)
//!     2. DDL txn: table.columnar_replica = n, schema version + 1
//!     3. PD SetColumnarRule { id: table-<id>, [t<id>, t<id+1>), n }
//! ```
//!
//! Step 3 after 2: a failure there leaves the catalog ahead of PD, and
//! repeating the statement (idempotent) brings PD along. Dropping or
//! truncating a table drops or moves its rule.

use crate::catalog::jobs::JobType;
use crate::catalog::meta;
use crate::catalog::model::TableInfo;
use crate::catalog::placement::rule;
use crate::error::{Error, Result, code};
use crate::session::{Output, Session};

/// Sets the table's columnar replica count.
pub async fn set_replica(session: &Session, table: &TableInfo, count: u64) -> Result<Output> {
    let pd = &session.shared.pd;
    if count > 0 {
        let columnar = pd.columnar_store_ids().await?.len() as u64;
        if count > columnar {
            return Err(Error::new(
                code::ER_UNKNOWN,
                format!(
                    "the columnar replica count: {count} should be less than or equal to the total columnar server count: {columnar}"
                ),
            ));
        }
    }
    let id = table.id;
    crate::ddl::txn::in_ddl_txn(session, JobType::SetColumnarReplica, async |txn, job| {
        let mut t = meta::get_table(txn, table.db_id, id)
            .await?
            .ok_or_else(|| Error::no_such_table("", &table.name))?;
        (job.db_id, job.table_id, job.table_name) = (t.db_id, t.id, t.name.clone());
        t.columnar_replica = count;
        meta::put_table(txn, &t).await
    })
    .await?;
    pd.set_columnar_rule(rule(id, count)).await?;
    Ok(Output::ok(0))
}

/// Drops the rule of a table that is gone (DROP, TRUNCATE's old id).
pub async fn drop_rule(session: &Session, table_id: i64) -> Result<()> {
    Ok(session
        .shared
        .pd
        .set_columnar_rule(rule(table_id, 0))
        .await?)
}
