//! Transaction helpers for integration tests: a client tuned for tests,
//! splitting at a user key, and the raw txn RPCs a test uses to stop a
//! two-phase commit half-way (as a crashed client would).

use std::time::Duration;

use anyhow::{Result, ensure};
use proto::kvrpcpb::*;
use txn::client::{TxnClient, TxnConfig};
use txn::pb::{check, status_err};
use txn::types::{Key, TimeStamp};

use crate::cluster::{Cluster, wait_until};

/// Short lock TTLs and waits, so crash and conflict cases resolve quickly.
pub fn test_txn_config() -> TxnConfig {
    TxnConfig {
        lock_ttl: 1_000,
        pessimistic_lock_ttl: 3_000,
        lock_wait_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(20),
        write_timeout: Duration::from_secs(20),
        try_one_pc: true,
        max_txn_ttl: Duration::from_secs(600),
        scan_concurrency: 4,
    }
}

impl Cluster {
    pub async fn txn_client(&self, config: TxnConfig) -> Result<TxnClient> {
        Ok(TxnClient::new(self.pd_client().await?, config))
    }

    /// Splits the region holding the user key `key` right before it and
    /// waits until PD routes `key` to a region starting there.
    pub async fn split_at_user_key(&self, key: &[u8]) -> Result<()> {
        let encoded = Key::from_raw(key).into_encoded();
        let raw = self.raw_client().await?;
        let pd = self.pd_client().await?;
        wait_until("split at user key", Duration::from_secs(30), || async {
            if let Ok(r) = pd.get_region(&encoded).await
                && r.region.as_ref().is_some_and(|r| r.start_key == encoded)
            {
                return true;
            }
            let _ = raw.split_region(encoded.clone()).await;
            false
        })
        .await
    }
}

/// Prewrites `(key, value)` pairs of one transaction with `primary`, region
/// by region, and nothing else: a client that stops here left locks.
pub async fn prewrite_only(
    client: &TxnClient,
    primary: &[u8],
    pairs: &[(&[u8], &[u8])],
    start_ts: TimeStamp,
    ttl_ms: u64,
) -> Result<()> {
    let items: Vec<(Vec<u8>, Vec<u8>)> = pairs
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect();
    client
        .rpc()
        .for_each_group(items, |mut c, ctx, items| {
            let req = PrewriteRequest {
                context: Some(ctx),
                mutations: items
                    .into_iter()
                    .map(|(key, value)| Mutation {
                        op: Op::Put as i32,
                        key,
                        value,
                        should_not_exist: false,
                    })
                    .collect(),
                primary_lock: primary.to_vec(),
                start_version: start_ts.into_inner(),
                lock_ttl: ttl_ms,
                txn_size: pairs.len() as u64,
                min_commit_ts: start_ts.into_inner() + 1,
                ..Default::default()
            };
            async move {
                let resp = c.kv_prewrite(req).await.map_err(status_err)?.into_inner();
                check(resp.region_error, resp.errors.into_iter().next())
            }
        })
        .await?;
    Ok(())
}

/// Commits only `key` of a prewritten transaction.
pub async fn commit_one(
    client: &TxnClient,
    key: &[u8],
    start_ts: TimeStamp,
    commit_ts: TimeStamp,
) -> Result<(), txn::Error> {
    client
        .rpc()
        .call(key, |mut c, ctx, _| {
            let req = CommitRequest {
                context: Some(ctx),
                start_version: start_ts.into_inner(),
                keys: vec![key.to_vec()],
                commit_version: commit_ts.into_inner(),
            };
            async move {
                let resp = c.kv_commit(req).await.map_err(status_err)?.into_inner();
                check(resp.region_error, resp.error)
            }
        })
        .await
}

/// The locks left in `[start, end)` (user keys) at or below `max_ts`.
pub async fn locks_in(
    client: &TxnClient,
    start: &[u8],
    end: &[u8],
    max_ts: TimeStamp,
) -> Result<usize> {
    let lo = Key::from_raw(start).into_encoded();
    let hi = Key::from_raw(end).into_encoded();
    let mut n = 0;
    let mut from = lo;
    loop {
        let (count, region_end) = client
            .rpc()
            .call_encoded(&from, |mut c, ctx, loc| {
                let req = ScanLockRequest {
                    context: Some(ctx),
                    max_version: max_ts.into_inner(),
                    start_key: from.clone(),
                    end_key: hi.clone(),
                    limit: 0,
                };
                async move {
                    let resp = c.kv_scan_lock(req).await.map_err(status_err)?.into_inner();
                    check(resp.region_error, resp.error)?;
                    Ok((resp.locks.len(), loc.region.end_key))
                }
            })
            .await?;
        n += count;
        if region_end.is_empty() || region_end >= hi {
            return Ok(n);
        }
        ensure!(region_end > from, "regions go backwards");
        from = region_end;
    }
}
