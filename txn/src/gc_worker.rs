//! # The GC worker: dropping versions nobody can read any more
//!
//! GC has two phases, as in TiDB, because a transaction spans regions: a
//! committed transaction's primary commit record may be the only proof that
//! a secondary lock in another region must be committed. Deleting that
//! record before the secondary is resolved would turn a committed write
//! into a rolled-back one.
//!
//! ```text
//!  PD: txn safe point = now - gc_life_time, held back by registered start ts
//!        │  (reads below it are refused)
//!        ▼
//!  phase 1, the GC leader (the Up store with the smallest id):
//!        every lock in the cluster with start_ts <= txn safe point is
//!        resolved through the lock resolver (commit or roll back after
//!        checking its primary); a lock of a transaction still alive ends
//!        the round — it is tried again later
//!        then PD.update_gc_safe_point(txn safe point)
//!        ▼
//!  PD: gc safe point (<= txn safe point, never backwards)
//!        ▼
//!  phase 2, every store, for the regions it leads:
//!        for each user key: keep every version newer than the gc safe point
//!        and the newest one at or below it (unless it is a delete); drop
//!        the rest — one raft command per batch of keys
//! ```
//!
//! Two stores that both believe they lead phase 1 (a stale store list) only
//! do the same idempotent work twice.
//!
//! TiKV: `src/server/gc_worker/`; TiDB: `store/gcworker/gc_worker.go`.

use std::sync::Arc;
use std::time::Duration;

use kv::client::RegionCache;
use kv::raftstore::StoreMsg;
use proto::kvrpcpb::{Context, ScanLockRequest};
use tokio::sync::oneshot;

use crate::client::rpc::Rpc;
use crate::client::{LockResolver, TxnConfig};
use crate::pb::{check, lock_info_from_pb, status_err};
use crate::storage::Storage;
use crate::types::{Key, TimeStamp};
use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct GcConfig {
    /// How often the worker asks PD for the safe points.
    pub interval: Duration,
    /// User keys per GC raft command.
    pub batch_keys: usize,
}

impl Default for GcConfig {
    fn default() -> Self {
        GcConfig {
            interval: Duration::from_secs(10),
            batch_keys: 256,
        }
    }
}

/// Locks scanned per request in phase 1.
const SCAN_LOCK_BATCH: u32 = 1024;

pub async fn run_gc_worker(storage: Arc<Storage>, config: GcConfig) {
    let ctx = storage.store().clone();
    let mut shutdown = ctx.shutdown.clone();
    let rpc = Rpc::new(
        Arc::new(RegionCache::new(ctx.pd.clone())),
        TxnConfig::default().write_timeout,
    );
    let resolver = LockResolver::new(rpc.clone(), ctx.pd.clone());
    let mut collected = TimeStamp::zero();
    // The first round runs at once: the store serves no transactional
    // command until it knows the safe point.
    let mut first = true;
    loop {
        let pause = if first {
            Duration::ZERO
        } else if !storage.safe_point_known() {
            Duration::from_millis(200)
        } else {
            config.interval
        };
        first = false;
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let round = async {
            let sp = ctx.pd.get_gc_safe_point().await.map_err(kv::Error::from)?;
            let (txn_sp, mut gc_sp) = (
                TimeStamp::new(sp.safe_point),
                TimeStamp::new(sp.gc_safe_point),
            );
            storage.update_safe_point(txn_sp);
            if txn_sp > gc_sp && is_gc_leader(&storage).await? {
                if resolve_locks_below(&rpc, &resolver, txn_sp).await? {
                    gc_sp = TimeStamp::new(
                        ctx.pd
                            .update_gc_safe_point(txn_sp.into_inner())
                            .await
                            .map_err(kv::Error::from)?,
                    );
                    tracing::info!(store_id = ctx.store_id, gc_safe_point = %gc_sp, "locks resolved, gc safe point advanced");
                } else {
                    tracing::debug!("gc: a live lock below the txn safe point; retrying later");
                }
            }
            if gc_sp > collected {
                let (skipped, deleted) = collect_leader_regions(&storage, gc_sp, &config).await?;
                tracing::info!(store_id = ctx.store_id, gc_safe_point = %gc_sp, deleted, skipped, "gc round");
                if skipped == 0 {
                    collected = gc_sp;
                }
            }
            Ok::<(), Error>(())
        };
        let result = tokio::select! {
            r = round => r,
            _ = shutdown.changed() => return,
        };
        if let Err(e) = result {
            tracing::warn!(store_id = ctx.store_id, "gc round failed: {e}");
        }
    }
}

/// A store silent this much longer than the freshest one is not a GC
/// leader candidate (it may be down; "Up" is only its admin state).
const GC_LEADER_HEARTBEAT_LAG_MS: u64 = 10_000;

/// Whether this store leads phase 1: it is the store with the smallest id
/// among the Up stores that heartbeat recently. Freshness is judged against
/// the freshest heartbeat PD saw, so no clocks are compared.
async fn is_gc_leader(storage: &Storage) -> Result<bool> {
    let me = storage.store().store_id;
    let stores = storage
        .store()
        .pd
        .get_all_stores(true)
        .await
        .map_err(kv::Error::from)?;
    Ok(gc_leader(&stores) == Some(me))
}

fn gc_leader(stores: &[proto::pdpb::StoreInfo]) -> Option<u64> {
    let up = proto::metapb::StoreState::Up as i32;
    let freshest = stores.iter().map(|s| s.last_heartbeat_ms).max()?;
    stores
        .iter()
        .filter(|s| s.last_heartbeat_ms + GC_LEADER_HEARTBEAT_LAG_MS >= freshest)
        .filter_map(|s| s.store.as_ref())
        .filter(|s| s.state == up)
        .map(|s| s.id)
        .min()
}

/// Phase 1: resolves every lock in the cluster with `start_ts <= ts`,
/// region by region. `false`: some lock belongs to a live transaction.
pub async fn resolve_locks_below(
    rpc: &Rpc,
    resolver: &LockResolver,
    ts: TimeStamp,
) -> Result<bool> {
    let mut from: Vec<u8> = vec![];
    loop {
        let (locks, region_end) = rpc
            .call_encoded(&from, |mut c, ctx, loc| {
                let req = ScanLockRequest {
                    context: Some(ctx),
                    max_version: ts.into_inner(),
                    start_key: from.clone(),
                    end_key: vec![],
                    limit: SCAN_LOCK_BATCH,
                };
                async move {
                    let resp = c.kv_scan_lock(req).await.map_err(status_err)?.into_inner();
                    check(resp.region_error, resp.error)?;
                    let locks: Vec<_> = resp.locks.iter().map(lock_info_from_pb).collect();
                    Ok((locks, loc.region.end_key))
                }
            })
            .await?;
        if !locks.is_empty() {
            let resolved = resolver.resolve(locks, TimeStamp::zero()).await?;
            if resolved.ms_before_expired > 0 {
                return Ok(false);
            }
            // Scan the same region again: more locks, or none left.
            continue;
        }
        if region_end.is_empty() {
            return Ok(true);
        }
        from = region_end;
    }
}

/// Phase 2 on every region this store leads. Returns (regions skipped,
/// versions deleted).
async fn collect_leader_regions(
    storage: &Arc<Storage>,
    gc_safe_point: TimeStamp,
    config: &GcConfig,
) -> Result<(usize, usize)> {
    let (tx, rx) = oneshot::channel();
    storage.store().router.send(StoreMsg::Status(tx))?;
    let Ok(peers) = rx.await else {
        return Ok((0, 0));
    };
    let (mut skipped, mut deleted) = (0, 0);
    for p in peers.into_iter().filter(|p| p.is_leader) {
        let region = p.region;
        let ctx = Context {
            region_id: region.id,
            region_epoch: region.region_epoch,
            peer: region.peers.iter().find(|x| x.id == p.peer_id).cloned(),
            replica_read: false,
        };
        match collect_region(storage, ctx, gc_safe_point, config).await {
            Ok(n) => deleted += n,
            Err(e) => {
                tracing::debug!(region_id = region.id, "gc of region postponed: {e}");
                skipped += 1;
            }
        }
    }
    Ok((skipped, deleted))
}

/// Drops old versions in one region, a batch of user keys per raft command.
async fn collect_region(
    storage: &Arc<Storage>,
    ctx: Context,
    gc_safe_point: TimeStamp,
    config: &GcConfig,
) -> Result<usize> {
    let mut next: Option<Key> = None;
    let mut deleted = 0;
    loop {
        let (after, n) = storage
            .gc(ctx, next.take(), gc_safe_point, config.batch_keys)
            .await?;
        deleted += n;
        match after {
            Some(k) => next = Some(k),
            None => return Ok(deleted),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::metapb::{Store, StoreState};
    use proto::pdpb::StoreInfo;

    fn store(id: u64, state: StoreState, last_heartbeat_ms: u64) -> StoreInfo {
        StoreInfo {
            store: Some(Store {
                id,
                state: state as i32,
                ..Default::default()
            }),
            last_heartbeat_ms,
            ..Default::default()
        }
    }

    #[test]
    fn the_gc_leader_is_the_smallest_live_up_store() {
        let now = 1_000_000;
        let stores = vec![
            store(1, StoreState::Up, now - 60_000), // silent: probably down
            store(2, StoreState::Offline, now),
            store(3, StoreState::Up, now - 2_000),
            store(4, StoreState::Up, now),
        ];
        assert_eq!(gc_leader(&stores), Some(3));
        assert_eq!(gc_leader(&[]), None);
    }
}
