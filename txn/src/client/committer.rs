//! The two-phase committer.
//!
//! ```text
//!  group mutations by region
//!  one region and 1PC allowed ─> prewrite(try_one_pc) ─> committed at the store's ts
//!     (at most the check's max_commit_ts; above it the store prewrites, 2PC goes on)
//!  otherwise:
//!   prewrite every region in parallel (the primary's lock is the decision point)
//!     KeyIsLocked -> resolve those locks, prewrite that region again
//!     WriteConflict / AlreadyExist / ... -> roll back what was prewritten, fail
//!   commit_ts <- PD; the caller's check at commit_ts (the schema check)
//!     fails -> roll back what was prewritten, fail
//!   commit the primary ────────── ok: the transaction is committed
//!     TxnLockNotFound: someone rolled it back (our TTL ran out) -> failed
//!     no answer in time: Undetermined (it may or may not have committed)
//!   commit the secondaries in the background (readers resolve leftovers)
//! ```
//!
//! Every step is idempotent on the stores, so retries after routing errors
//! are safe. TiKV client: `txnkv/transaction/2pc.go`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kv::client::Backoff;
use proto::kvrpcpb::*;

use super::shared::{Shared, StartClock};
use crate::pb::{check, check_region, from_key_error, status_err};
use crate::types::{LockInfo, Mutation, TimeStamp};
use crate::{Error, Result};

pub(super) struct Committer {
    pub shared: Arc<Shared>,
    pub start_ts: TimeStamp,
    pub clock: StartClock,
    /// Zero for optimistic transactions.
    pub for_update_ts: TimeStamp,
    pub primary: Vec<u8>,
    pub check: Option<Arc<dyn CommitCheck>>,
}

/// A condition the caller puts on its transaction's commit ts: the SQL
/// layer's schema check (the tables written have not changed since the
/// transaction began, as of the commit ts).
pub trait CommitCheck: Send + Sync {
    /// The largest commit ts the condition is already known to hold for:
    /// a one-phase commit is bounded by it (zero: no one-phase commit).
    fn max_commit_ts(&self) -> TimeStamp;
    /// Whether the condition holds at `commit_ts`; checked after the
    /// prewrite, before the primary commits.
    fn check(&self, commit_ts: TimeStamp) -> futures::future::BoxFuture<'_, CheckResult>;
}

/// What a [`CommitCheck`] answers: its own error when the commit must not
/// happen.
pub type CheckResult = std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;

type Item = (Mutation, bool);

/// What one region's prewrite answered.
struct PrewriteReply {
    items: Vec<(Vec<u8>, Item)>,
    locks: Vec<LockInfo>,
    one_pc_commit_ts: TimeStamp,
}

impl Committer {
    /// Lock TTL. A lock expires at `start_ts` (physical) + TTL, so the TTL
    /// counts the time the transaction has already run, plus the configured
    /// TTL, plus time for large transactions.
    fn lock_ttl(&self, bytes: usize) -> u64 {
        let config = &self.shared.config;
        let base = if self.for_update_ts.is_zero() {
            config.lock_ttl
        } else {
            config.pessimistic_lock_ttl
        };
        // TiKV's rule of thumb: 6 s more per MiB written, capped.
        let extra = (bytes as u64 / (1 << 20)) * 6_000;
        self.clock.elapsed_ms() + (base + extra).min(120_000)
    }

    pub async fn commit(self, mutations: Vec<Item>) -> Result<TimeStamp> {
        let bytes: usize = mutations
            .iter()
            .map(|(m, _)| match m {
                Mutation::Put(k, v) | Mutation::Insert(k, v) => k.as_encoded().len() + v.len(),
                other => other.key().as_encoded().len(),
            })
            .sum();
        let ttl = self.lock_ttl(bytes);
        let items: Vec<(Vec<u8>, Item)> = mutations
            .into_iter()
            .map(|(m, p)| Ok((m.key().to_raw()?, (m, p))))
            .collect::<Result<_>>()?;
        let keys: Vec<Vec<u8>> = items.iter().map(|(k, _)| k.clone()).collect();
        let one_pc_in_doubt = AtomicBool::new(false);
        match self.prewrite(items, ttl, &one_pc_in_doubt).await {
            Ok(Some(one_pc)) => Ok(one_pc),
            Ok(None) => self.commit_keys(keys).await,
            // A one-phase commit was sent and its answer lost: it may have
            // committed. Neither a failure nor a rollback may be reported.
            Err(e) if one_pc_in_doubt.load(Ordering::Relaxed) => Err(Error::Undetermined(format!(
                "one-phase commit of {} keys sent, outcome unknown: {e}",
                keys.len()
            ))),
            Err(e) => {
                self.rollback_in_background(keys);
                Err(e)
            }
        }
    }

    /// Prewrites everything; `Some(ts)` when it was committed by 1PC.
    async fn prewrite(
        &self,
        items: Vec<(Vec<u8>, Item)>,
        ttl: u64,
        one_pc_in_doubt: &AtomicBool,
    ) -> Result<Option<TimeStamp>> {
        let total = items.len();
        let max_commit_ts = match &self.check {
            Some(c) => c.max_commit_ts(),
            None => TimeStamp::zero(),
        };
        let one_pc =
            self.shared.config.try_one_pc && (self.check.is_none() || !max_commit_ts.is_zero());
        let mut pending = items;
        let mut backoff = Backoff::new(self.shared.config.write_timeout);
        while !pending.is_empty() {
            let replies = self
                .shared
                .rpc
                .for_each_group(std::mem::take(&mut pending), |mut c, ctx, items| {
                    let try_one_pc = one_pc && items.len() == total;
                    let req = PrewriteRequest {
                        context: Some(ctx),
                        mutations: items.iter().map(|(_, (m, _))| mutation_pb(m)).collect(),
                        primary_lock: self.primary.clone(),
                        start_version: self.start_ts.into_inner(),
                        lock_ttl: ttl,
                        is_pessimistic_lock: items.iter().map(|(_, (_, p))| *p).collect(),
                        txn_size: total as u64,
                        for_update_ts: self.for_update_ts.into_inner(),
                        min_commit_ts: self.start_ts.max(self.for_update_ts).into_inner() + 1,
                        try_one_pc,
                        max_commit_ts: max_commit_ts.into_inner(),
                    };
                    async move {
                        let resp = match c.kv_prewrite(req).await {
                            Ok(r) => r.into_inner(),
                            Err(status) => {
                                if try_one_pc {
                                    one_pc_in_doubt.store(true, Ordering::Relaxed);
                                }
                                return Err(status_err(status));
                            }
                        };
                        if try_one_pc && outcome_unknown(&resp.region_error) {
                            one_pc_in_doubt.store(true, Ordering::Relaxed);
                        }
                        check_region(resp.region_error)?;
                        let mut locks = Vec::new();
                        for e in resp.errors {
                            match from_key_error(e) {
                                Error::KeyIsLocked(l) => locks.push(l),
                                other => return Err(other),
                            }
                        }
                        Ok(PrewriteReply {
                            items,
                            locks,
                            one_pc_commit_ts: TimeStamp::new(resp.one_pc_commit_ts),
                        })
                    }
                })
                .await?;
            let mut locks = Vec::new();
            for reply in replies {
                if !reply.one_pc_commit_ts.is_zero() {
                    return Ok(Some(reply.one_pc_commit_ts));
                }
                if !reply.locks.is_empty() {
                    locks.extend(reply.locks);
                    pending.extend(reply.items);
                }
            }
            if !locks.is_empty() {
                let resolved = self
                    .shared
                    .resolver
                    .resolve(locks, TimeStamp::zero())
                    .await?;
                if resolved.ms_before_expired > 0 {
                    backoff
                        .wait(kv::Error::ServerIsBusy("prewrite waits for a lock".into()))
                        .await?;
                }
            }
        }
        Ok(None)
    }

    /// Commits the primary, then the secondaries in the background.
    async fn commit_keys(&self, keys: Vec<Vec<u8>>) -> Result<TimeStamp> {
        let mut commit_ts = self.shared.ts().await?;
        let mut attempts = 0;
        loop {
            attempts += 1;
            if let Some(check) = &self.check
                && let Err(e) = check.check(commit_ts).await
            {
                self.rollback_in_background(keys);
                return Err(Error::CommitCheck(e));
            }
            match self.commit_primary(commit_ts).await {
                Ok(()) => break,
                Err(Error::CommitTsExpired { min_commit_ts, .. }) if attempts < 5 => {
                    commit_ts = self.shared.ts().await?.max(min_commit_ts);
                }
                // The lock is gone and there is no commit record: rolled back
                // by someone who found it expired. Definitely not committed.
                Err(e @ Error::TxnLockNotFound { .. }) => return Err(e),
                Err(e) => {
                    return Err(Error::Undetermined(format!(
                        "commit of primary key {:?} at {commit_ts}: {e}",
                        self.primary
                    )));
                }
            }
        }
        let secondaries: Vec<(Vec<u8>, ())> = keys
            .into_iter()
            .filter(|k| *k != self.primary)
            .map(|k| (k, ()))
            .collect();
        if !secondaries.is_empty() {
            let shared = self.shared.clone();
            let start = self.start_ts;
            tokio::spawn(async move {
                if let Err(e) = commit_secondaries(&shared, start, commit_ts, secondaries).await {
                    tracing::debug!(start_ts = %start, "secondary commit left to readers: {e}");
                }
            });
        }
        Ok(commit_ts)
    }

    async fn commit_primary(&self, commit_ts: TimeStamp) -> Result<()> {
        let primary = self.primary.clone();
        self.shared
            .rpc
            .call(&primary, |mut c, ctx, _| {
                let req = CommitRequest {
                    context: Some(ctx),
                    start_version: self.start_ts.into_inner(),
                    keys: vec![primary.clone()],
                    commit_version: commit_ts.into_inner(),
                };
                async move {
                    let resp = c.kv_commit(req).await.map_err(status_err)?.into_inner();
                    check(resp.region_error, resp.error)
                }
            })
            .await
    }

    fn rollback_in_background(&self, keys: Vec<Vec<u8>>) {
        let shared = self.shared.clone();
        let start = self.start_ts.into_inner();
        tokio::spawn(async move {
            let items: Vec<(Vec<u8>, ())> = keys.into_iter().map(|k| (k, ())).collect();
            let r = shared
                .rpc
                .for_each_group(items, |mut c, ctx, items| {
                    let req = BatchRollbackRequest {
                        context: Some(ctx),
                        start_version: start,
                        keys: items.into_iter().map(|(k, ())| k).collect(),
                    };
                    async move {
                        let resp = c
                            .kv_batch_rollback(req)
                            .await
                            .map_err(status_err)?
                            .into_inner();
                        check(resp.region_error, resp.error)
                    }
                })
                .await;
            if let Err(e) = r {
                tracing::debug!(start_ts = start, "rollback left to readers: {e}");
            }
        });
    }
}

async fn commit_secondaries(
    shared: &Shared,
    start_ts: TimeStamp,
    commit_ts: TimeStamp,
    keys: Vec<(Vec<u8>, ())>,
) -> Result<()> {
    shared
        .rpc
        .for_each_group(keys, |mut c, ctx, items| {
            let req = CommitRequest {
                context: Some(ctx),
                start_version: start_ts.into_inner(),
                keys: items.into_iter().map(|(k, ())| k).collect(),
                commit_version: commit_ts.into_inner(),
            };
            async move {
                let resp = c.kv_commit(req).await.map_err(status_err)?.into_inner();
                check(resp.region_error, resp.error)
            }
        })
        .await?;
    Ok(())
}

/// Whether a region error leaves open whether the request was executed: a
/// store timeout or shutdown (reported as `ServerIsBusy`; the raft write
/// may still apply). Routing errors (`NotLeader`, `EpochNotMatch`, ...) are
/// raised before anything is proposed, and `StaleCommand` means the
/// proposal was overwritten.
fn outcome_unknown(re: &Option<proto::errorpb::Error>) -> bool {
    re.as_ref().is_some_and(|e| e.server_is_busy.is_some())
}

fn mutation_pb(m: &Mutation) -> proto::kvrpcpb::Mutation {
    let raw = m.key().to_raw().unwrap_or_default();
    let (op, value) = match m {
        Mutation::Put(_, v) => (Op::Put, v.clone()),
        Mutation::Delete(_) => (Op::Del, vec![]),
        Mutation::Lock(_) => (Op::Lock, vec![]),
        Mutation::Insert(_, v) => (Op::Insert, v.clone()),
        Mutation::CheckNotExists(_) => (Op::CheckNotExists, vec![]),
    };
    proto::kvrpcpb::Mutation {
        op: op as i32,
        key: raw,
        value,
        should_not_exist: false,
    }
}
