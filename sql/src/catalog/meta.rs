//! The catalog's keys in the transactional KV, under the `m` prefix (which
//! sorts before every table's `t` keys, so metadata lives in its own
//! region).
//!
//! ```text
//! mSchemaVersion                 -> i64 BE   bumped by every DDL
//! mNextID                        -> i64 BE   global id allocator (dbs, tables, indexes)
//! mBootstrapped                  -> "1"
//! mDB:{db_id BE}                 -> DbInfo (JSON)
//! mTbl:{db_id BE}{table_id BE}   -> TableInfo (JSON)
//! mAutoID:{table_id BE}          -> i64 BE   end of the last auto-id batch handed out
//! mUser:{user}@{host}            -> UserInfo (JSON)
//! mStats:{table_id BE}           -> TableStats (JSON), from ANALYZE TABLE
//! mDDLJob:{job_id BE}            -> Job (JSON)   queued DDL jobs ([`super::jobs`])
//! mDDLHistory:{job_id BE}        -> Job (JSON)   finished DDL jobs
//! mDDLOwner                      -> Owner (JSON) the DDL owner and its lease
//! mDelRange:{job_id BE}{n BE}    -> DeleteRange (JSON) key ranges to free after GC
//! ```
//!
//! Every function works inside a caller's transaction, so a DDL statement
//! changes its metadata and the schema version atomically; two DDLs
//! conflict on `mSchemaVersion` and are serialised by the pessimistic lock
//! on it.

use serde::Serialize;
use serde::de::DeserializeOwned;
use txn::client::Transaction;

use super::model::{DbId, DbInfo, TableId, TableInfo, UserInfo};
use crate::error::{Error, Result};

const SCHEMA_VERSION: &[u8] = b"mSchemaVersion";
const NEXT_ID: &[u8] = b"mNextID";
const BOOTSTRAPPED: &[u8] = b"mBootstrapped";
const DB_PREFIX: &[u8] = b"mDB:";
const TABLE_PREFIX: &[u8] = b"mTbl:";
const AUTO_ID_PREFIX: &[u8] = b"mAutoID:";
const USER_PREFIX: &[u8] = b"mUser:";
const STATS_PREFIX: &[u8] = b"mStats:";

pub(super) fn key(prefix: &[u8], ids: &[i64]) -> Vec<u8> {
    let mut k = prefix.to_vec();
    for id in ids {
        k.extend_from_slice(&id.to_be_bytes());
    }
    k
}

pub(super) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    *end.last_mut().expect("non-empty prefix") += 1;
    end
}

fn user_key(user: &str, host: &str) -> Vec<u8> {
    let mut k = USER_PREFIX.to_vec();
    k.extend_from_slice(user.as_bytes());
    k.push(b'@');
    k.extend_from_slice(host.as_bytes());
    k
}

pub(super) fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("catalog types serialise")
}

pub(super) fn from_json<T: DeserializeOwned>(b: &[u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|e| Error::internal(format!("corrupt catalog entry: {e}")))
}

fn read_i64(v: Option<Vec<u8>>) -> Result<i64> {
    match v {
        None => Ok(0),
        Some(b) => Ok(i64::from_be_bytes(
            b.as_slice()
                .try_into()
                .map_err(|_| Error::internal("corrupt catalog counter"))?,
        )),
    }
}

pub async fn schema_version(txn: &Transaction) -> Result<i64> {
    read_i64(txn.get(SCHEMA_VERSION).await?)
}

/// Bumps the schema version (locking it: concurrent DDLs serialise here).
pub async fn bump_schema_version(txn: &mut Transaction) -> Result<i64> {
    let v = read_i64(txn.get_for_update(SCHEMA_VERSION).await?)? + 1;
    txn.put(SCHEMA_VERSION.to_vec(), v.to_be_bytes().to_vec())
        .await?;
    Ok(v)
}

/// Allocates `n` consecutive global ids; returns the first.
pub async fn alloc_ids(txn: &mut Transaction, n: i64) -> Result<i64> {
    let next = read_i64(txn.get_for_update(NEXT_ID).await?)?.max(100);
    txn.put(NEXT_ID.to_vec(), (next + n).to_be_bytes().to_vec())
        .await?;
    Ok(next)
}

pub async fn is_bootstrapped(txn: &Transaction) -> Result<bool> {
    Ok(txn.get(BOOTSTRAPPED).await?.is_some())
}

/// Whether the cluster is bootstrapped, read at the newest version with a
/// lock: two SQL servers starting together serialise here, and the second
/// sees the first's catalog instead of writing its own over it.
pub async fn is_bootstrapped_for_update(txn: &mut Transaction) -> Result<bool> {
    Ok(txn.get_for_update(BOOTSTRAPPED).await?.is_some())
}

pub async fn set_bootstrapped(txn: &mut Transaction) -> Result<()> {
    txn.put(BOOTSTRAPPED.to_vec(), b"1".to_vec()).await?;
    Ok(())
}

pub async fn list_dbs(txn: &Transaction) -> Result<Vec<DbInfo>> {
    let pairs = txn
        .scan(DB_PREFIX, &prefix_end(DB_PREFIX), 0, false)
        .await?;
    pairs.iter().map(|(_, v)| from_json(v)).collect()
}

pub async fn put_db(txn: &mut Transaction, db: &DbInfo) -> Result<()> {
    txn.put(key(DB_PREFIX, &[db.id]), to_json(db)).await?;
    Ok(())
}

pub async fn delete_db(txn: &mut Transaction, id: DbId) -> Result<()> {
    txn.delete(key(DB_PREFIX, &[id])).await?;
    Ok(())
}

pub async fn list_tables(txn: &Transaction, db: Option<DbId>) -> Result<Vec<TableInfo>> {
    let start = match db {
        Some(id) => key(TABLE_PREFIX, &[id]),
        None => TABLE_PREFIX.to_vec(),
    };
    let end = match db {
        Some(id) => key(TABLE_PREFIX, &[id + 1]),
        None => prefix_end(TABLE_PREFIX),
    };
    let pairs = txn.scan(&start, &end, 0, false).await?;
    pairs.iter().map(|(_, v)| from_json(v)).collect()
}

/// One table's stored definition.
pub async fn get_table(txn: &Transaction, db: DbId, id: TableId) -> Result<Option<TableInfo>> {
    match txn.get(&key(TABLE_PREFIX, &[db, id])).await? {
        Some(v) => Ok(Some(from_json(&v)?)),
        None => Ok(None),
    }
}

pub async fn put_table(txn: &mut Transaction, t: &TableInfo) -> Result<()> {
    txn.put(key(TABLE_PREFIX, &[t.db_id, t.id]), to_json(t))
        .await?;
    Ok(())
}

/// Removes only the table's definition (RENAME moves it to a new key).
pub async fn delete_table_info(txn: &mut Transaction, db: DbId, id: TableId) -> Result<()> {
    txn.delete(key(TABLE_PREFIX, &[db, id])).await?;
    Ok(())
}

/// Removes the table's definition, its auto-id counters and statistics.
pub async fn delete_table(txn: &mut Transaction, db: DbId, id: TableId) -> Result<()> {
    txn.delete(key(AUTO_ID_PREFIX, &[-id])).await?;
    txn.delete(key(TABLE_PREFIX, &[db, id])).await?;
    txn.delete(key(AUTO_ID_PREFIX, &[id])).await?;
    txn.delete(stats_key(id)).await?;
    Ok(())
}

/// Reserves `n` auto-increment values for a table, returning the range
/// `[start, end)`; `at_least` raises the start (explicit inserts of larger
/// values move the allocator past them).
pub async fn alloc_auto_ids(
    txn: &mut Transaction,
    table: TableId,
    n: i64,
    at_least: i64,
) -> Result<(i64, i64)> {
    let k = key(AUTO_ID_PREFIX, &[table]);
    let base = read_i64(txn.get_for_update(&k).await?)?.max(at_least);
    let end = base.saturating_add(n);
    txn.put(k, end.to_be_bytes().to_vec()).await?;
    Ok((base + 1, end + 1))
}

/// The current end of a table's auto-id allocations (for SHOW CREATE
/// TABLE's AUTO_INCREMENT and information_schema).
pub async fn auto_id_end(txn: &Transaction, table: TableId) -> Result<i64> {
    read_i64(txn.get(&key(AUTO_ID_PREFIX, &[table])).await?)
}

pub async fn set_auto_id(txn: &mut Transaction, table: TableId, end: i64) -> Result<()> {
    txn.put(key(AUTO_ID_PREFIX, &[table]), end.to_be_bytes().to_vec())
        .await?;
    Ok(())
}

pub async fn list_users(txn: &Transaction) -> Result<Vec<UserInfo>> {
    let pairs = txn
        .scan(USER_PREFIX, &prefix_end(USER_PREFIX), 0, false)
        .await?;
    pairs.iter().map(|(_, v)| from_json(v)).collect()
}

pub async fn get_user(txn: &Transaction, user: &str, host: &str) -> Result<Option<UserInfo>> {
    match txn.get(&user_key(user, host)).await? {
        Some(v) => Ok(Some(from_json(&v)?)),
        None => Ok(None),
    }
}

pub async fn put_user(txn: &mut Transaction, u: &UserInfo) -> Result<()> {
    txn.put(user_key(&u.user, &u.host), to_json(u)).await?;
    Ok(())
}

pub async fn delete_user(txn: &mut Transaction, user: &str, host: &str) -> Result<()> {
    txn.delete(user_key(user, host)).await?;
    Ok(())
}

/// Where a table's statistics are kept.
pub fn stats_key(table: TableId) -> Vec<u8> {
    key(STATS_PREFIX, &[table])
}

/// Stores a table's statistics ([`crate::catalog::stats::TableStats`]).
pub async fn put_stats(
    txn: &mut Transaction,
    table: TableId,
    stats: &impl Serialize,
) -> Result<()> {
    txn.put(stats_key(table), to_json(stats)).await?;
    Ok(())
}
