//! A transaction: snapshot reads at `start_ts`, a local write buffer, and
//! (pessimistic mode) row locks taken as the writes happen.
//!
//! Reads see the transaction's own writes first, then the snapshot at
//! `start_ts` (snapshot isolation; what MySQL calls `REPEATABLE-READ`).
//! `get_for_update` reads the newest committed value under a lock, as
//! `SELECT ... FOR UPDATE` does.
//!
//! In pessimistic mode every written or `lock_keys`-ed key is locked on its
//! store at a fresh `for_update_ts` before the call returns: a conflicting
//! lock makes the call wait (bounded by `lock_wait_timeout`, deadlocks
//! detected by PD), and a newer committed write makes it retry at a newer
//! `for_update_ts`. Commit then cannot fail on a write conflict. The first
//! locked key is the primary; a heartbeat keeps its TTL alive while the
//! transaction runs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kv::client::Backoff;
use proto::kvrpcpb::*;
use tokio::task::JoinHandle;

use super::committer::{CommitCheck, Committer};
use super::shared::{Shared, StartClock};
use super::snapshot::Snapshot;
use crate::error::WriteConflictReason;
use crate::pb::{check, status_err};
use crate::types::{Mutation, TimeStamp, Value};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnMode {
    Optimistic,
    Pessimistic,
}

/// A buffered write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Op {
    Put(Value),
    Delete,
    /// Only locked (`lock_keys` / `get_for_update`): committed as a Lock
    /// record, so a concurrent writer of the key conflicts.
    Lock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active,
    Committed,
    RolledBack,
}

pub struct Transaction {
    shared: Arc<Shared>,
    start_ts: TimeStamp,
    /// When `start_ts` was obtained (lock TTLs count from it).
    clock: StartClock,
    mode: TxnMode,
    snapshot: Snapshot,
    buffer: BTreeMap<Vec<u8>, Op>,
    /// Keys holding this transaction's pessimistic lock.
    locked: BTreeMap<Vec<u8>, ()>,
    for_update_ts: TimeStamp,
    primary: Option<Vec<u8>>,
    heartbeat: Option<JoinHandle<()>>,
    state: State,
}

impl Transaction {
    pub(super) fn new(
        shared: Arc<Shared>,
        start_ts: TimeStamp,
        clock: StartClock,
        mode: TxnMode,
    ) -> Transaction {
        Transaction {
            clock,
            snapshot: Snapshot::new(shared.clone(), start_ts),
            shared,
            start_ts,
            mode,
            buffer: BTreeMap::new(),
            locked: BTreeMap::new(),
            for_update_ts: TimeStamp::zero(),
            primary: None,
            heartbeat: None,
            state: State::Active,
        }
    }

    pub fn start_ts(&self) -> TimeStamp {
        self.start_ts
    }

    pub fn mode(&self) -> TxnMode {
        self.mode
    }

    fn check_active(&self) -> Result<()> {
        match self.state {
            State::Active => Ok(()),
            State::Committed => Err(Error::Aborted("transaction already committed".into())),
            State::RolledBack => Err(Error::Aborted("transaction already rolled back".into())),
        }
    }

    // ---- reads -------------------------------------------------------------

    pub async fn get(&self, key: &[u8]) -> Result<Option<Value>> {
        self.check_active()?;
        match self.buffer.get(key) {
            Some(Op::Put(v)) => Ok(Some(v.clone())),
            Some(Op::Delete) => Ok(None),
            _ => self.snapshot.get(key).await,
        }
    }

    pub async fn batch_get(&self, keys: Vec<Vec<u8>>) -> Result<Vec<(Vec<u8>, Value)>> {
        self.check_active()?;
        let mut out = Vec::new();
        let mut remote = Vec::new();
        for k in keys {
            match self.buffer.get(&k) {
                Some(Op::Put(v)) => out.push((k, v.clone())),
                Some(Op::Delete) => {}
                _ => remote.push(k),
            }
        }
        out.extend(self.snapshot.batch_get(remote).await?);
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Pairs in `[start, end)` (empty end: no bound), own writes included,
    /// at most `limit` (0: all), ascending or descending.
    pub async fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<(Vec<u8>, Value)>> {
        self.check_active()?;
        self.scan_snapshot(&self.snapshot, start, end, limit, reverse)
            .await
    }

    /// Like [`Transaction::scan`], but of the newest committed data (a
    /// fresh timestamp) instead of the snapshot at `start_ts`: the "current
    /// read" a pessimistic DML statement uses to find the rows it locks.
    pub async fn scan_latest(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<(Vec<u8>, Value)>> {
        self.check_active()?;
        let ts = self.shared.ts().await?;
        let snapshot = Snapshot::new(self.shared.clone(), ts);
        self.scan_snapshot(&snapshot, start, end, limit, reverse)
            .await
    }

    /// The snapshot at `start_ts`, for reads that go around the write
    /// buffer (coprocessor scans; see [`Transaction::has_writes_in`]).
    pub fn snapshot(&self) -> Result<Snapshot> {
        self.check_active()?;
        Ok(self.snapshot.clone())
    }

    /// A snapshot of the newest committed data (a fresh timestamp): the
    /// "current read" of pessimistic DML, as [`Transaction::scan_latest`].
    pub async fn latest_snapshot(&self) -> Result<Snapshot> {
        self.check_active()?;
        let ts = self.shared.ts().await?;
        Ok(Snapshot::new(self.shared.clone(), ts))
    }

    /// Whether the write buffer holds a put or delete of a raw key in
    /// `[start, end)` (empty end: unbounded): reads of that range must
    /// merge the buffer.
    pub fn has_writes_in(&self, start: &[u8], end: &[u8]) -> bool {
        let upper = if end.is_empty() {
            std::ops::Bound::Unbounded
        } else {
            std::ops::Bound::Excluded(end.to_vec())
        };
        self.buffer
            .range((std::ops::Bound::Included(start.to_vec()), upper))
            .any(|(_, op)| *op != Op::Lock)
    }

    async fn scan_snapshot(
        &self,
        snapshot: &Snapshot,
        start: &[u8],
        end: &[u8],
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<(Vec<u8>, Value)>> {
        let in_range =
            |k: &Vec<u8>| k.as_slice() >= start && (end.is_empty() || k.as_slice() < end);
        let local: Vec<(&Vec<u8>, &Op)> = self
            .buffer
            .iter()
            .filter(|(k, op)| in_range(k) && **op != Op::Lock)
            .collect();
        // Deleted keys may hide snapshot rows: fetch that many more.
        let extra = local.iter().filter(|(_, op)| **op == Op::Delete).count();
        let want = if limit == 0 { 0 } else { limit + extra };
        let remote = snapshot.scan(start, end, want, reverse).await?;
        let mut merged: BTreeMap<Vec<u8>, Value> = remote.into_iter().collect();
        // Rows beyond the last remote row may be missing when the remote scan
        // was cut by its limit: only merge local rows up to that point.
        let bound = (want != 0 && merged.len() >= want).then(|| {
            if reverse {
                merged.keys().next().cloned()
            } else {
                merged.keys().next_back().cloned()
            }
        });
        for (k, op) in local {
            if let Some(Some(b)) = &bound
                && ((!reverse && k > b) || (reverse && k < b))
            {
                continue;
            }
            match op {
                Op::Put(v) => {
                    merged.insert(k.clone(), v.clone());
                }
                Op::Delete => {
                    merged.remove(k);
                }
                Op::Lock => {}
            }
        }
        let mut out: Vec<(Vec<u8>, Value)> = merged.into_iter().collect();
        if reverse {
            out.reverse();
        }
        if limit != 0 {
            out.truncate(limit);
        }
        Ok(out)
    }

    /// Locks `key` and reads its newest committed value (not the snapshot's):
    /// `SELECT ... FOR UPDATE`. Optimistic transactions read the snapshot and
    /// check at commit that nobody wrote the key since.
    pub async fn get_for_update(&mut self, key: &[u8]) -> Result<Option<Value>> {
        self.check_active()?;
        match self.buffer.get(key) {
            Some(Op::Put(v)) => return Ok(Some(v.clone())),
            Some(Op::Delete) => return Ok(None),
            _ => {}
        }
        if self.mode == TxnMode::Optimistic {
            self.buffer.insert(key.to_vec(), Op::Lock);
            return self.snapshot.get(key).await;
        }
        let values = self.pessimistic_lock(vec![key.to_vec()], true).await?;
        self.buffer.entry(key.to_vec()).or_insert(Op::Lock);
        Ok(values.into_iter().next().flatten())
    }

    /// `get_for_update` for many keys with one locking round: the newest
    /// committed value of each key (`None` when absent), own writes first.
    /// Optimistic transactions read the snapshot and check the keys at
    /// commit.
    pub async fn batch_get_for_update(&mut self, keys: Vec<Vec<u8>>) -> Result<Vec<Option<Value>>> {
        self.check_active()?;
        let mut out: Vec<Option<Option<Value>>> = keys
            .iter()
            .map(|k| match self.buffer.get(k) {
                Some(Op::Put(v)) => Some(Some(v.clone())),
                Some(Op::Delete) => Some(None),
                _ => None,
            })
            .collect();
        let remote: Vec<Vec<u8>> = keys
            .iter()
            .zip(&out)
            .filter(|(_, o)| o.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        if !remote.is_empty() {
            let values: Vec<Option<Value>> = if self.mode == TxnMode::Optimistic {
                let found: BTreeMap<Vec<u8>, Value> = self
                    .snapshot
                    .batch_get(remote.clone())
                    .await?
                    .into_iter()
                    .collect();
                remote.iter().map(|k| found.get(k).cloned()).collect()
            } else {
                self.pessimistic_lock(remote.clone(), true).await?
            };
            let mut values = values.into_iter();
            for o in out.iter_mut().filter(|o| o.is_none()) {
                *o = Some(values.next().flatten());
            }
            for k in remote {
                self.buffer.entry(k).or_insert(Op::Lock);
            }
        }
        Ok(out.into_iter().map(|o| o.flatten()).collect())
    }

    // ---- writes ------------------------------------------------------------

    pub async fn put(&mut self, key: Vec<u8>, value: Value) -> Result<()> {
        self.check_active()?;
        self.lock_if_pessimistic(&key).await?;
        self.buffer.insert(key, Op::Put(value));
        Ok(())
    }

    pub async fn delete(&mut self, key: Vec<u8>) -> Result<()> {
        self.check_active()?;
        self.lock_if_pessimistic(&key).await?;
        self.buffer.insert(key, Op::Delete);
        Ok(())
    }

    /// Locks keys without writing them (pessimistic: now; optimistic: a
    /// write-conflict check at commit).
    pub async fn lock_keys(&mut self, keys: Vec<Vec<u8>>) -> Result<()> {
        self.check_active()?;
        if self.mode == TxnMode::Pessimistic {
            let new: Vec<Vec<u8>> = keys
                .iter()
                .filter(|k| !self.locked.contains_key(*k))
                .cloned()
                .collect();
            if !new.is_empty() {
                self.pessimistic_lock(new, false).await?;
            }
        }
        for k in keys {
            self.buffer.entry(k).or_insert(Op::Lock);
        }
        Ok(())
    }

    async fn lock_if_pessimistic(&mut self, key: &[u8]) -> Result<()> {
        if self.mode == TxnMode::Pessimistic && !self.locked.contains_key(key) {
            self.pessimistic_lock(vec![key.to_vec()], false).await?;
        }
        Ok(())
    }

    /// Takes pessimistic locks on `keys` at a fresh for_update_ts, retrying
    /// on newer writes and waiting on conflicting locks.
    async fn pessimistic_lock(
        &mut self,
        keys: Vec<Vec<u8>>,
        return_values: bool,
    ) -> Result<Vec<Option<Value>>> {
        let config = self.shared.config.clone();
        let deadline = Instant::now() + config.lock_wait_timeout;
        let mut backoff = Backoff::new(config.lock_wait_timeout + config.write_timeout);
        // The first locked key becomes the primary; if this first request
        // fails, the choice is undone (the key may hold no lock).
        let assigned_primary = self.primary.is_none();
        if assigned_primary {
            self.primary = Some(keys[0].clone());
        }
        let primary = self.primary.clone().expect("set above");
        let result = self
            .pessimistic_lock_loop(&keys, &primary, return_values, deadline, &mut backoff)
            .await;
        if result.is_err() {
            if assigned_primary {
                self.primary = None;
            }
            // Keys of the failed request that did get a lock: release them
            // now, not at the end of the transaction.
            let partial: Vec<Vec<u8>> = keys
                .iter()
                .filter(|k| !self.locked.contains_key(*k))
                .cloned()
                .collect();
            // Released before the error is returned: a retry that locks a
            // key again must not race with its release.
            if !partial.is_empty() {
                let _ = pessimistic_rollback(&self.shared, self.start_ts, partial).await;
            }
        }
        result
    }

    async fn pessimistic_lock_loop(
        &mut self,
        keys: &[Vec<u8>],
        primary: &[u8],
        return_values: bool,
        deadline: Instant,
        backoff: &mut Backoff,
    ) -> Result<Vec<Option<Value>>> {
        loop {
            self.for_update_ts = self.shared.ts().await?;
            let left = deadline.saturating_duration_since(Instant::now());
            // One request waits at most a few seconds on the store (below
            // the channel's timeout); the loop carries the rest.
            let wait_ms = left.min(Duration::from_secs(5)).as_millis() as u64;
            match self
                .lock_request(keys, primary, return_values, wait_ms)
                .await
            {
                Ok(values) => {
                    for k in keys {
                        self.locked.insert(k.clone(), ());
                    }
                    self.start_heartbeat();
                    return Ok(values);
                }
                Err(Error::WriteConflict {
                    reason: WriteConflictReason::PessimisticRetry,
                    ..
                }) => continue,
                Err(Error::KeyIsLocked(lock)) => {
                    if Instant::now() >= deadline {
                        return Err(Error::LockWaitTimeout {
                            key: lock.key,
                            lock_ts: lock.lock_version,
                        });
                    }
                    let resolved = self
                        .shared
                        .resolver
                        .resolve(vec![lock], TimeStamp::zero())
                        .await?;
                    if resolved.ms_before_expired > 0 {
                        backoff
                            .wait(kv::Error::ServerIsBusy("lock wait".into()))
                            .await?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One round of lock requests, region by region; values in key order of
    /// `keys`.
    async fn lock_request(
        &self,
        keys: &[Vec<u8>],
        primary: &[u8],
        return_values: bool,
        wait_ms: u64,
    ) -> Result<Vec<Option<Value>>> {
        let start = self.start_ts.into_inner();
        let for_update = self.for_update_ts.into_inner();
        let ttl = self.clock.elapsed_ms() + self.shared.config.pessimistic_lock_ttl;
        let items: Vec<(Vec<u8>, ())> = keys.iter().map(|k| (k.clone(), ())).collect();
        let results = self
            .shared
            .rpc
            .for_each_group(items, |mut c, ctx, items| {
                let keys: Vec<Vec<u8>> = items.into_iter().map(|(k, ())| k).collect();
                let req = PessimisticLockRequest {
                    context: Some(ctx),
                    mutations: keys
                        .iter()
                        .map(|k| proto::kvrpcpb::Mutation {
                            op: proto::kvrpcpb::Op::PessimisticLock as i32,
                            key: k.clone(),
                            value: vec![],
                            should_not_exist: false,
                        })
                        .collect(),
                    primary_lock: primary.to_vec(),
                    start_version: start,
                    lock_ttl: ttl,
                    for_update_ts: for_update,
                    wait_timeout: wait_ms,
                    return_values,
                    min_commit_ts: for_update + 1,
                };
                async move {
                    let resp = c
                        .kv_pessimistic_lock(req)
                        .await
                        .map_err(status_err)?
                        .into_inner();
                    check(resp.region_error, resp.errors.into_iter().next())?;
                    let values: Vec<(Vec<u8>, Option<Value>)> = keys
                        .into_iter()
                        .zip(resp.values.into_iter().zip(resp.not_founds))
                        .map(|(k, (v, nf))| (k, (!nf).then_some(v)))
                        .collect();
                    Ok(values)
                }
            })
            .await?;
        let mut by_key: BTreeMap<Vec<u8>, Option<Value>> = results.into_iter().flatten().collect();
        Ok(keys.iter().map(|k| by_key.remove(k).flatten()).collect())
    }

    /// Keeps the primary's pessimistic lock alive while the transaction
    /// runs.
    fn start_heartbeat(&mut self) {
        if self.heartbeat.is_some() {
            return;
        }
        let Some(primary) = self.primary.clone() else {
            return;
        };
        let shared = self.shared.clone();
        let start = self.start_ts.into_inner();
        let ttl = shared.config.pessimistic_lock_ttl;
        let max_ttl = shared.config.max_txn_ttl.as_millis() as u64;
        let clock = self.clock;
        self.heartbeat = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(ttl / 3)).await;
                // TTLs count from start_ts; past max_txn_ttl the locks are
                // left to expire.
                let elapsed = clock.elapsed_ms();
                if elapsed > max_ttl {
                    return;
                }
                let advise = elapsed + ttl;
                let r = shared
                    .rpc
                    .call(&primary, |mut c, ctx, _| {
                        let req = TxnHeartBeatRequest {
                            context: Some(ctx),
                            primary_lock: primary.clone(),
                            start_version: start,
                            advise_lock_ttl: advise,
                        };
                        async move {
                            let resp = c
                                .kv_txn_heart_beat(req)
                                .await
                                .map_err(status_err)?
                                .into_inner();
                            check(resp.region_error, resp.error)
                        }
                    })
                    .await;
                if r.is_err() {
                    return;
                }
            }
        }));
    }

    // ---- the end -----------------------------------------------------------

    /// Commits; returns the commit ts (the start ts for a transaction that
    /// wrote nothing). On `Undetermined` the outcome is unknown.
    pub async fn commit(&mut self) -> Result<TimeStamp> {
        self.commit_checked(None).await
    }

    /// The raw keys this transaction writes or locks at commit.
    pub fn buffered_keys(&self) -> impl Iterator<Item = &[u8]> {
        self.buffer.keys().map(Vec::as_slice)
    }

    /// Commits if `check` holds at the commit ts ([`CommitCheck`]); a
    /// failed check rolls the transaction back
    /// ([`Error::CommitCheck`]).
    pub async fn commit_checked(
        &mut self,
        check: Option<Arc<dyn CommitCheck>>,
    ) -> Result<TimeStamp> {
        self.check_active()?;
        let mutations: Vec<(Mutation, bool)> = self
            .buffer
            .iter()
            .map(|(k, op)| {
                let key = crate::types::Key::from_raw(k);
                let m = match op {
                    Op::Put(v) => Mutation::Put(key, v.clone()),
                    Op::Delete => Mutation::Delete(key),
                    Op::Lock => Mutation::Lock(key),
                };
                (m, self.locked.contains_key(k))
            })
            .collect();
        let result = if mutations.is_empty() {
            Ok(self.start_ts)
        } else {
            let primary = self
                .primary
                .clone()
                .unwrap_or_else(|| self.buffer.keys().next().expect("non-empty").clone());
            let committer = Committer {
                shared: self.shared.clone(),
                start_ts: self.start_ts,
                clock: self.clock,
                for_update_ts: if self.mode == TxnMode::Pessimistic {
                    self.for_update_ts.max(self.start_ts)
                } else {
                    TimeStamp::zero()
                },
                primary,
                check,
            };
            committer.commit(mutations).await
        };
        self.stop_heartbeat();
        match &result {
            Ok(_) => self.state = State::Committed,
            Err(Error::Undetermined(_)) => self.state = State::Committed,
            Err(_) => {
                self.state = State::RolledBack;
                self.release_pessimistic_locks();
            }
        }
        self.shared.unregister(self.start_ts);
        result
    }

    /// Discards the writes and releases pessimistic locks.
    pub async fn rollback(&mut self) -> Result<()> {
        self.check_active()?;
        self.stop_heartbeat();
        self.state = State::RolledBack;
        self.shared.unregister(self.start_ts);
        let keys: Vec<Vec<u8>> = std::mem::take(&mut self.locked).into_keys().collect();
        if !keys.is_empty() {
            pessimistic_rollback(&self.shared, self.start_ts, keys).await?;
        }
        Ok(())
    }

    fn stop_heartbeat(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }

    /// Best-effort release in the background (locks also expire by TTL).
    fn release_pessimistic_locks(&mut self) {
        let keys: Vec<Vec<u8>> = std::mem::take(&mut self.locked).into_keys().collect();
        self.release_in_background(keys);
    }

    fn release_in_background(&self, keys: Vec<Vec<u8>>) {
        if keys.is_empty() {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let shared = self.shared.clone();
            let start = self.start_ts;
            rt.spawn(async move {
                let _ = pessimistic_rollback(&shared, start, keys).await;
            });
        }
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if self.state == State::Active {
            self.stop_heartbeat();
            self.shared.unregister(self.start_ts);
            self.release_pessimistic_locks();
        }
    }
}

async fn pessimistic_rollback(
    shared: &Shared,
    start_ts: TimeStamp,
    keys: Vec<Vec<u8>>,
) -> Result<()> {
    let items: Vec<(Vec<u8>, ())> = keys.into_iter().map(|k| (k, ())).collect();
    shared
        .rpc
        .for_each_group(items, |mut c, ctx, items| {
            let req = PessimisticRollbackRequest {
                context: Some(ctx),
                start_version: start_ts.into_inner(),
                for_update_ts: u64::MAX,
                keys: items.into_iter().map(|(k, ())| k).collect(),
            };
            async move {
                let resp = c
                    .kv_pessimistic_rollback(req)
                    .await
                    .map_err(status_err)?
                    .into_inner();
                check(resp.region_error, resp.errors.into_iter().next())
            }
        })
        .await?;
    Ok(())
}
