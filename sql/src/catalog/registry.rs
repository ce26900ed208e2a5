//! Which SQL servers are alive and which schema version each runs, so a
//! DDL statement can return as soon as every live server has its change
//! (TiDB's schema-version sync through etcd).
//!
//! ```text
//! mServer:{server id} -> ServerInfo (JSON) {addr, version, lease_until_ms}
//! ```
//!
//! Each server writes its entry when it loads a new version and at least
//! every quarter of [`ttl`]; an entry not renewed within [`ttl`] is a dead
//! server's and is ignored (TSO time). Waiting is still bounded by two
//! schema leases: a server that has not loaded a version within a lease
//! refuses to plan on the old one (`super::validator`), so the registry only
//! makes the wait shorter, never the guarantee weaker.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use txn::client::{Transaction, TxnClient};

use super::meta::{from_json, prefix_end, to_json};
use crate::error::Result;

const PREFIX: &[u8] = b"mServer:";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub id: String,
    pub addr: String,
    pub version: i64,
    pub lease_until_ms: u64,
}

/// How long an entry lives without renewal.
pub fn ttl(schema_lease: Duration) -> Duration {
    (schema_lease * 10).max(Duration::from_secs(2))
}

fn key(id: &str) -> Vec<u8> {
    let mut k = PREFIX.to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

/// Writes this server's entry.
pub async fn report(
    client: &TxnClient,
    id: &str,
    addr: &str,
    version: i64,
    schema_lease: Duration,
) -> Result<()> {
    let mut txn = client.begin().await?;
    let info = ServerInfo {
        id: id.to_string(),
        addr: addr.to_string(),
        version,
        lease_until_ms: txn.start_ts().physical() + ttl(schema_lease).as_millis() as u64,
    };
    let result: Result<()> = async {
        txn.put(key(id), to_json(&info)).await?;
        txn.commit().await?;
        Ok(())
    }
    .await;
    if result.is_err() {
        let _ = txn.rollback().await;
    }
    result
}

/// Removes this server's entry (a clean shutdown).
pub async fn leave(client: &TxnClient, id: &str) -> Result<()> {
    let mut txn = client.begin().await?;
    txn.delete(key(id)).await?;
    txn.commit().await?;
    Ok(())
}

/// The live servers' entries, as of `txn`'s snapshot.
pub async fn live(txn: &Transaction) -> Result<Vec<ServerInfo>> {
    let now = txn.start_ts().physical();
    let pairs = txn.scan(PREFIX, &prefix_end(PREFIX), 0, false).await?;
    Ok(pairs
        .iter()
        .filter_map(|(_, v)| from_json::<ServerInfo>(v).ok())
        .filter(|s| s.lease_until_ms >= now)
        .collect())
}
