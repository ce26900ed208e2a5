//! The transaction every DDL statement runs in, and what DDL shares: name
//! checks and deleting a key range.

use txn::client::Transaction;

use crate::catalog::meta;
use crate::error::{Error, Result, code};
use crate::session::Session;

/// Runs `body` in a DDL transaction: schema version bumped, committed,
/// catalog reloaded.
pub(crate) async fn in_ddl_txn<T>(
    session: &Session,
    body: impl AsyncFnOnce(&mut Transaction) -> Result<T>,
) -> Result<T> {
    let mut txn = session.shared.client.begin_pessimistic().await?;
    let result: Result<T> = async {
        let v = body(&mut txn).await?;
        meta::bump_schema_version(&mut txn).await?;
        txn.commit().await?;
        Ok(v)
    }
    .await;
    if result.is_err() {
        let _ = txn.rollback().await;
    }
    let v = result?;
    session.shared.catalog.reload().await?;
    Ok(v)
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

/// Deletes every key in `[start, end)`, 4096 keys per transaction.
pub async fn delete_range(session: &Session, start: &[u8], end: &[u8]) -> Result<()> {
    let mut from = start.to_vec();
    loop {
        let mut txn = session.shared.client.begin().await?;
        let batch = txn.scan(&from, end, 4096, false).await?;
        if batch.is_empty() {
            return Ok(());
        }
        let last = batch.last().expect("non-empty").0.clone();
        for (k, _) in batch {
            txn.delete(k).await?;
        }
        txn.commit().await?;
        from = last;
        from.push(0);
    }
}
