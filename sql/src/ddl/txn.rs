//! The transaction a one-step DDL statement runs in, and what DDL shares:
//! name checks, the job a statement is recorded as.

use txn::client::Transaction;

use crate::catalog::jobs::{self, Job, JobState, JobType};
use crate::catalog::meta;
use crate::catalog::model::TableInfo;
use crate::error::{Error, Result, code};
use crate::session::Session;
use crate::session::shared::Shared;

/// Runs `body` in a catalog transaction: schema version bumped, committed,
/// catalog reloaded here and waited for on every server. Alone, for
/// changes that are not DDL jobs (accounts).
pub(crate) async fn in_schema_txn<T>(
    shared: &Shared,
    body: impl AsyncFnOnce(&mut Transaction, i64) -> Result<T>,
) -> Result<T> {
    let (mut txn, version) = locked_catalog(shared).await?;
    let result: Result<T> = async {
        let v = body(&mut txn, version).await?;
        txn.commit().await?;
        Ok(v)
    }
    .await;
    if result.is_err() {
        let _ = txn.rollback().await;
    }
    let v = result?;
    shared.catalog.reload().await?;
    wait_schema_synced(shared, version).await;
    Ok(v)
}

/// Waits until every live SQL server runs schema `version` (they report
/// it in the [`crate::catalog::registry`]), at most two schema leases: a
/// server confirms its schema every half lease and refuses to plan on one
/// over a lease old, so after two leases none runs an older one.
pub(crate) async fn wait_schema_synced(shared: &Shared, version: i64) {
    let lease = shared.config.schema_lease;
    let bound = std::time::Instant::now() + lease * 2;
    let poll = (lease / 10).clamp(
        std::time::Duration::from_millis(5),
        std::time::Duration::from_millis(50),
    );
    while std::time::Instant::now() < bound {
        if let Ok(txn) = shared.client.begin().await
            && let Ok(servers) = crate::catalog::registry::live(&txn).await
            && servers
                .iter()
                .all(|s| s.id == shared.ddl.id || s.version >= version)
        {
            return;
        }
        tokio::time::sleep(poll).await;
    }
}

/// A pessimistic transaction holding the lock on the schema version,
/// bumped, whose snapshot already holds every catalog change before it:
/// reads of the catalog in it are current, and no other change can
/// commit in between (every catalog change bumps the version). Returns
/// the new version.
pub(crate) async fn locked_catalog(shared: &Shared) -> Result<(Transaction, i64)> {
    for _ in 0..100 {
        let mut txn = shared.client.begin_pessimistic().await?;
        let seen = match meta::schema_version(&txn).await {
            Ok(v) => v,
            Err(e) => {
                let _ = txn.rollback().await;
                return Err(e);
            }
        };
        match meta::bump_schema_version(&mut txn).await {
            Ok(v) if v == seen + 1 => return Ok((txn, v)),
            // A change committed after our snapshot: start again above it.
            Ok(_) => {
                let _ = txn.rollback().await;
            }
            Err(e) => {
                let _ = txn.rollback().await;
                return Err(e);
            }
        }
    }
    Err(Error::new(
        code::ER_LOCK_DEADLOCK,
        "the schema kept changing while a DDL statement waited for it; try again",
    ))
}

/// Runs a DDL statement that takes one schema version: `body` changes the
/// catalog (filling in the job's database and table), the version is
/// bumped, and the job goes straight to the history as synced, all in one
/// transaction. Such a change is safe for servers one version apart
/// (a transaction planned on the old version fails its commit with 8028
/// where it matters, `crate::catalog::validator`), so it needs no states.
pub(crate) async fn in_ddl_txn<T>(
    session: &Session,
    job_type: JobType,
    body: impl AsyncFnOnce(&mut Transaction, &mut Job) -> Result<T>,
) -> Result<T> {
    let mut job = session.job(job_type);
    in_schema_txn(&session.shared, async |txn, version| {
        job.id = meta::alloc_ids(txn, 1).await?;
        let v = body(txn, &mut job).await?;
        job.schema_version = version;
        job.state = JobState::Synced;
        let ts = txn.start_ts().into_inner();
        (job.create_ts, job.start_ts, job.end_ts) = (ts, ts, ts);
        jobs::put_history(txn, &job).await?;
        Ok(v)
    })
    .await
}

/// Re-reads the table inside the DDL transaction (the cached copy may be
/// one version old) and applies `change` to it. Refused (8200) while a
/// column of the table is being converted: every caller changes columns,
/// and the conversion's hidden copies follow the columns as they were
/// (TiDB queues such a statement behind the job; duet asks to try again).
pub(crate) async fn update_table(
    session: &Session,
    table: &TableInfo,
    job_type: JobType,
    change: impl FnOnce(&mut TableInfo) -> Result<()>,
) -> Result<TableInfo> {
    let id = table.id;
    let db_id = table.db_id;
    in_ddl_txn(session, job_type, async move |txn, job| {
        let mut t = meta::get_table(txn, db_id, id).await?.ok_or_else(|| {
            Error::new(
                code::ER_NO_SUCH_TABLE,
                format!("Table '{}' doesn't exist", table.name),
            )
        })?;
        describe_job(session, job, &t);
        // Converting: the old column is public, the new type the hidden
        // one's. Converted, the old column still leaving: the converted
        // column is public and has its type.
        let converting = match (&t.changing, &t.removing) {
            (Some(ch), _) => Some((ch.old_id, ch.column.ft.sql())),
            (None, Some(rm)) => Some((
                rm.old_id,
                t.columns
                    .iter()
                    .find(|c| c.id == rm.old_id)
                    .map_or_else(|| rm.column.ft.sql(), |c| c.ft.sql()),
            )),
            (None, None) => None,
        };
        if let Some((column_id, to)) = converting {
            return Err(Error::new(
                code::TIDB_UNSUPPORTED_DDL,
                format!(
                    "Unsupported ALTER TABLE while column '{}' of table '{}' is being converted to {to}; try again when that job has finished",
                    t.columns
                        .iter()
                        .find(|c| c.id == column_id)
                        .map_or("?", |c| c.name.as_str()),
                    t.name,
                ),
            ));
        }
        change(&mut t)?;
        meta::put_table(txn, &t).await?;
        Ok(t)
    })
    .await
}

/// Fills in the job's database and table.
pub(crate) fn describe_job(session: &Session, job: &mut Job, t: &TableInfo) {
    job.db_id = t.db_id;
    job.table_id = t.id;
    job.table_name = t.name.clone();
    job.db_name = session
        .schema()
        .dbs
        .values()
        .find(|d| d.info.id == t.db_id)
        .map(|d| d.info.name.clone())
        .unwrap_or_default();
}

pub(crate) fn check_column_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 64 || name.ends_with(' ') {
        return Err(Error::new(
            code::ER_WRONG_COLUMN_NAME,
            format!("Incorrect column name '{name}'"),
        ));
    }
    Ok(())
}

pub(crate) fn check_name(name: &str, db: bool) -> Result<()> {
    if name.is_empty() || name.len() > 64 || name.ends_with(' ') {
        let (c, what) = if db {
            (code::ER_WRONG_DB_NAME, "database")
        } else {
            (code::ER_WRONG_TABLE_NAME, "table")
        };
        return Err(Error::new(c, format!("Incorrect {what} name '{name}'")));
    }
    Ok(())
}
