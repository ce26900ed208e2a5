//! # The GC worker: dropping versions nobody can read any more
//!
//! PD keeps the cluster's GC safe point: `now - gc_life_time`, held back by
//! the oldest start ts that running transactions registered, never moving
//! backwards. Every kv store runs this worker, which follows it:
//!
//! ```text
//!  every interval: safe point <- PD   (also tells Storage to refuse reads below it)
//!    for each region this store leads:
//!      1. locks with start_ts <= safe point: resolve them through the lock
//!         resolver (commit or roll back after checking the primary); a lock
//!         of a transaction still alive keeps the region for the next round
//!      2. for each user key: keep every version newer than the safe point and
//!         the newest one at or below it (unless it is a delete); drop the rest
//! ```
//!
//! Step 1 comes first because a lock below the safe point may belong to a
//! committed transaction whose secondaries were never committed: dropping
//! the older versions first would lose the value readers must see.
//!
//! TiKV: `src/server/gc_worker/`; TiDB's GC leader does step 1 cluster-wide.

use std::sync::Arc;
use std::time::Duration;

use kv::raftstore::StoreMsg;
use proto::kvrpcpb::Context;
use tokio::sync::oneshot;

use crate::Result;
use crate::client::rpc::Rpc;
use crate::client::{LockResolver, TxnConfig};
use crate::storage::Storage;
use crate::types::{Key, TimeStamp};

#[derive(Debug, Clone)]
pub struct GcConfig {
    /// How often the worker asks PD for the safe point.
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

/// What one round did, for logs and tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct GcRound {
    pub regions: usize,
    pub regions_skipped: usize,
    pub locks_resolved: usize,
    pub versions_deleted: usize,
}

pub async fn run_gc_worker(storage: Arc<Storage>, config: GcConfig) {
    let ctx = storage.store().clone();
    let mut shutdown = ctx.shutdown.clone();
    let cache = Arc::new(kv::client::RegionCache::new(ctx.pd.clone()));
    let resolver = LockResolver::new(
        Rpc::new(cache, TxnConfig::default().write_timeout),
        ctx.pd.clone(),
    );
    let mut done = TimeStamp::zero();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(config.interval) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let safe_point = match ctx.pd.get_gc_safe_point().await {
            Ok(sp) => TimeStamp::new(sp.safe_point),
            Err(e) => {
                tracing::debug!("gc: no safe point from PD: {e}");
                continue;
            }
        };
        storage.update_safe_point(safe_point);
        if safe_point.is_zero() || safe_point <= done {
            continue;
        }
        let round = tokio::select! {
            r = gc_round(&storage, &resolver, safe_point, &config) => r,
            _ = shutdown.changed() => return,
        };
        match round {
            Ok(round) => {
                if round.regions_skipped == 0 {
                    done = safe_point;
                }
                tracing::info!(
                    store_id = ctx.store_id,
                    safe_point = %safe_point,
                    regions = round.regions,
                    skipped = round.regions_skipped,
                    locks = round.locks_resolved,
                    deleted = round.versions_deleted,
                    "gc round"
                );
            }
            Err(e) => tracing::warn!(store_id = ctx.store_id, "gc round failed: {e}"),
        }
    }
}

/// One pass over the regions this store leads.
pub async fn gc_round(
    storage: &Storage,
    resolver: &LockResolver,
    safe_point: TimeStamp,
    config: &GcConfig,
) -> Result<GcRound> {
    let (tx, rx) = oneshot::channel();
    storage.store().router.send(StoreMsg::Status(tx))?;
    let Ok(peers) = rx.await else {
        return Ok(GcRound::default());
    };
    let mut round = GcRound::default();
    for p in peers.into_iter().filter(|p| p.is_leader) {
        round.regions += 1;
        let region = p.region;
        let peer = region.peers.iter().find(|x| x.id == p.peer_id).cloned();
        let ctx = Context {
            region_id: region.id,
            region_epoch: region.region_epoch,
            peer,
        };
        match gc_region(storage, resolver, ctx, safe_point, config).await {
            Ok(Some((locks, deleted))) => {
                round.locks_resolved += locks;
                round.versions_deleted += deleted;
            }
            Ok(None) => round.regions_skipped += 1,
            Err(e) => {
                tracing::debug!(region_id = region.id, "gc of region postponed: {e}");
                round.regions_skipped += 1;
            }
        }
    }
    Ok(round)
}

/// Resolves old locks, then drops old versions. `None`: a live lock below
/// the safe point keeps this region for the next round.
async fn gc_region(
    storage: &Storage,
    resolver: &LockResolver,
    ctx: Context,
    safe_point: TimeStamp,
    config: &GcConfig,
) -> Result<Option<(usize, usize)>> {
    let locks = storage
        .scan_lock(ctx, safe_point, b"", b"", usize::MAX)
        .await?;
    let n_locks = locks.len();
    if !locks.is_empty() {
        let resolved = resolver.resolve(locks, TimeStamp::zero()).await?;
        if resolved.ms_before_expired > 0 {
            return Ok(None);
        }
        let left = storage.scan_lock(ctx, safe_point, b"", b"", 1).await?;
        if !left.is_empty() {
            return Ok(None);
        }
    }
    let mut next: Option<Key> = None;
    let mut deleted = 0;
    loop {
        let (after, n) = storage
            .gc(ctx, next.take(), safe_point, config.batch_keys)
            .await?;
        deleted += n;
        match after {
            Some(k) => next = Some(k),
            None => return Ok(Some((n_locks, deleted))),
        }
    }
}
