//! The lock resolver: what a client does when it meets another
//! transaction's lock.
//!
//! A lock is only a pointer to its transaction's primary key; the primary
//! decides. For each transaction among the locks:
//!
//! ```text
//!  check_txn_status(primary, lock ts, caller ts, current ts from PD)
//!    committed at c     -> resolve_lock(commit c) in the lock's region
//!    rolled back        -> resolve_lock(rollback)  in the lock's region
//!    TTL expired        -> the store rolled the primary back -> resolve_lock(rollback)
//!    alive, min_commit_ts pushed above the caller's ts
//!                       -> nothing to do: the lock no longer blocks that read
//!    alive              -> wait (at most the lock's remaining TTL) and retry
//! ```
//!
//! A secondary lock whose primary has no lock and no record yet (the
//! primary's prewrite may still be in flight) is waited for until the
//! secondary's own TTL runs out; then the primary is rolled back
//! (`rollback_if_not_exist`), so a late prewrite of it fails.
//!
//! TiKV client: `txnkv/txnlock/lock_resolver.go`.

use std::collections::HashMap;

use crate::actions::TxnStatus;
use crate::client::rpc::Rpc;
use crate::pb::{check, lock_info_from_pb, status_err};
use crate::types::{Key, LockInfo, LockType, TimeStamp};
use crate::{Error, Result};
use kv::client::RegionLocation;
use pd::PdClient;
use proto::kvrpcpb::*;

#[derive(Clone)]
pub struct LockResolver {
    rpc: Rpc,
    pd: PdClient,
}

/// What resolving a set of locks achieved.
#[derive(Debug, Default)]
pub struct Resolved {
    /// Milliseconds until the earliest still-alive lock expires (0: none
    /// alive; every lock was resolved or no longer blocks the caller).
    pub ms_before_expired: u64,
    /// Live transactions whose `min_commit_ts` now lies above the caller's
    /// ts: a reader at that ts may pass their locks (they commit later).
    pub pushed: Vec<TimeStamp>,
}

impl LockResolver {
    pub fn new(rpc: Rpc, pd: PdClient) -> LockResolver {
        LockResolver { rpc, pd }
    }

    /// Resolves what can be resolved among `locks` met by a reader or writer
    /// at `caller_start_ts` (zero for writers and GC: no min_commit_ts push).
    pub async fn resolve(
        &self,
        locks: Vec<LockInfo>,
        caller_start_ts: TimeStamp,
    ) -> Result<Resolved> {
        let mut out = Resolved::default();
        if locks.is_empty() {
            return Ok(out);
        }
        let current_ts = TimeStamp::new(self.pd.get_ts().await.map_err(kv::Error::from)?);
        let mut statuses: HashMap<TimeStamp, TxnStatus> = HashMap::new();
        // A resolve_lock clears every lock of a transaction in a region: one
        // per (transaction, region) is enough.
        let mut resolved: Vec<(TimeStamp, RegionLocation)> = Vec::new();
        for lock in locks {
            let status = match statuses.get(&lock.lock_version) {
                Some(s) => s.clone(),
                None => {
                    let s = self.status_of(&lock, caller_start_ts, current_ts).await?;
                    statuses.insert(lock.lock_version, s.clone());
                    s
                }
            };
            let commit_ts = match status {
                TxnStatus::Committed { commit_ts } => commit_ts,
                TxnStatus::RolledBack
                | TxnStatus::TtlExpire
                | TxnStatus::LockNotExist
                | TxnStatus::PessimisticRollBack
                | TxnStatus::LockNotExistDoNothing => TimeStamp::zero(),
                TxnStatus::Uncommitted {
                    lock: primary,
                    min_commit_ts_pushed,
                } => {
                    let passable = !caller_start_ts.is_zero()
                        && min_commit_ts_pushed
                        && lock.lock_type != LockType::Pessimistic;
                    if passable {
                        if !out.pushed.contains(&lock.lock_version) {
                            out.pushed.push(lock.lock_version);
                        }
                    } else {
                        let left = remaining_ms(primary.ts, primary.ttl, current_ts).max(1);
                        out.ms_before_expired = match out.ms_before_expired {
                            0 => left,
                            m => m.min(left),
                        };
                    }
                    continue;
                }
            };
            let encoded = Key::from_raw(&lock.key).into_encoded();
            if resolved
                .iter()
                .any(|(ts, loc)| *ts == lock.lock_version && loc.contains(&encoded))
            {
                continue;
            }
            let loc = self.resolve_one(&lock, commit_ts).await?;
            resolved.push((lock.lock_version, loc));
        }
        Ok(out)
    }

    /// The status of the lock's transaction, from its primary.
    async fn status_of(
        &self,
        lock: &LockInfo,
        caller_start_ts: TimeStamp,
        current_ts: TimeStamp,
    ) -> Result<TxnStatus> {
        let first = self
            .check_txn_status(lock, caller_start_ts, current_ts, false)
            .await;
        match first {
            Err(Error::TxnNotFound { .. }) => {
                if remaining_ms(lock.lock_version, lock.lock_ttl, current_ts) > 0 {
                    // The primary's prewrite may still be on its way: treat
                    // the transaction as alive for the secondary's TTL.
                    return Ok(TxnStatus::Uncommitted {
                        lock: crate::types::Lock {
                            lock_type: lock.lock_type,
                            primary: lock.primary_lock.clone(),
                            ts: lock.lock_version,
                            ttl: lock.lock_ttl,
                            short_value: None,
                            for_update_ts: lock.lock_for_update_ts,
                            txn_size: lock.txn_size,
                            min_commit_ts: lock.min_commit_ts,
                        },
                        min_commit_ts_pushed: false,
                    });
                }
                self.check_txn_status(lock, caller_start_ts, current_ts, true)
                    .await
            }
            other => other,
        }
    }

    /// One check_txn_status call on the lock's primary.
    pub async fn check_txn_status(
        &self,
        lock: &LockInfo,
        caller_start_ts: TimeStamp,
        current_ts: TimeStamp,
        rollback_if_not_exist: bool,
    ) -> Result<TxnStatus> {
        let primary = &lock.primary_lock;
        self.rpc
            .call(primary, |mut c, ctx, _| {
                let req = CheckTxnStatusRequest {
                    context: Some(ctx),
                    primary_key: primary.clone(),
                    lock_ts: lock.lock_version.into_inner(),
                    caller_start_ts: caller_start_ts.into_inner(),
                    current_ts: current_ts.into_inner(),
                    rollback_if_not_exist,
                };
                async move {
                    let resp = c
                        .kv_check_txn_status(req)
                        .await
                        .map_err(status_err)?
                        .into_inner();
                    check(resp.region_error.clone(), resp.error.clone())?;
                    Ok(status_from_pb(&resp, primary))
                }
            })
            .await
    }

    /// Commits (`commit_ts` non-zero) or rolls back every lock of the
    /// lock's transaction in the lock's region.
    async fn resolve_one(&self, lock: &LockInfo, commit_ts: TimeStamp) -> Result<RegionLocation> {
        let start = lock.lock_version.into_inner();
        self.rpc
            .call(&lock.key, |mut c, ctx, loc| {
                let req = ResolveLockRequest {
                    context: Some(ctx),
                    start_version: start,
                    commit_version: commit_ts.into_inner(),
                    keys: vec![],
                };
                async move {
                    let resp = c
                        .kv_resolve_lock(req)
                        .await
                        .map_err(status_err)?
                        .into_inner();
                    check(resp.region_error, resp.error)?;
                    Ok(loc)
                }
            })
            .await
    }
}

/// Milliseconds a lock written at `start` with `ttl` has left at `now`.
fn remaining_ms(start: TimeStamp, ttl: u64, now: TimeStamp) -> u64 {
    (start.physical() + ttl).saturating_sub(now.physical())
}

pub fn status_from_pb(resp: &CheckTxnStatusResponse, primary: &[u8]) -> TxnStatus {
    if resp.commit_version != 0 {
        return TxnStatus::Committed {
            commit_ts: TimeStamp::new(resp.commit_version),
        };
    }
    if resp.lock_ttl != 0 {
        let info = resp
            .lock_info
            .as_ref()
            .map(lock_info_from_pb)
            .unwrap_or_else(|| LockInfo {
                primary_lock: primary.to_vec(),
                lock_version: TimeStamp::zero(),
                key: primary.to_vec(),
                lock_ttl: resp.lock_ttl,
                txn_size: 0,
                lock_type: LockType::Put,
                lock_for_update_ts: TimeStamp::zero(),
                min_commit_ts: TimeStamp::zero(),
            });
        return TxnStatus::Uncommitted {
            lock: crate::types::Lock {
                lock_type: info.lock_type,
                primary: info.primary_lock,
                ts: info.lock_version,
                ttl: resp.lock_ttl,
                short_value: None,
                for_update_ts: info.lock_for_update_ts,
                txn_size: info.txn_size,
                min_commit_ts: info.min_commit_ts,
            },
            min_commit_ts_pushed: resp.action == Action::MinCommitTsPushed as i32,
        };
    }
    match Action::try_from(resp.action).unwrap_or(Action::NoAction) {
        Action::TtlExpireRollback => TxnStatus::TtlExpire,
        Action::LockNotExistRollback => TxnStatus::LockNotExist,
        Action::TtlExpirePessimisticRollback => TxnStatus::PessimisticRollBack,
        _ => TxnStatus::RolledBack,
    }
}
