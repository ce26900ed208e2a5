//! # The store side: running Percolator commands on a kv store
//!
//! [`Storage`] is the shell around the pure commands in
//! [`crate::commands`]. Every write command goes through the same steps:
//!
//! ```text
//!  request ─> latches(keys) ─> snapshot from the region leader (epoch checked,
//!             │                 lease or ReadIndex, carries the leader's term)
//!             │              ─> command(reader) -> modifies + output      (pure)
//!             │              ─> one raft command with every modify, refused
//!             │                 if the leader's term moved since the snapshot
//!             │              ─> applied: wake lock waiters on unlocked keys
//!             └ release ─────────────────────────────────────────────> reply
//! ```
//!
//! Reads (`get`, `batch_get`, `scan`) take no latches: they check the
//! in-memory 1PC locks ([`memory_locks`]), then read a snapshot at their ts.
//! Pessimistic lock requests may wait for a conflicting lock
//! ([`lock_wait`]) after asking PD's deadlock detector. Requests at a ts
//! below the GC safe point this store knows are refused with
//! [`Error::TxnTooOld`]: the versions they need may be gone.
//!
//! TiKV: `src/storage/mod.rs`, `src/storage/txn/scheduler.rs`.

pub mod latches;
pub mod lock_wait;
pub mod memory_locks;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kv::engine::{CF_LOCK, Peekable};
use kv::raftstore::peer::check_key_in_region;
use kv::raftstore::{ReadResponse, RequestContext, StoreMsg};
use kv::server::StoreContext;
use proto::kvrpcpb::Context;
use proto::metapb;
use proto::raft_cmdpb::{CmdType, Request as RaftRequest};
use tokio::sync::oneshot;

use self::latches::Latches;
use self::lock_wait::LockWaits;
use self::memory_locks::MemoryLocks;
use crate::commands::{self, PessimisticLockArgs, PrewriteArgs, PrewriteOutput, WriteResult};
use crate::mvcc::{Modify, MvccReader};
use crate::types::{Key, LockInfo, TimeStamp, Value};
use crate::{Error, Result};

/// A key-value pair read by a transaction, or why that key could not be read.
pub type KvResult = std::result::Result<(Vec<u8>, Value), Error>;

/// Locks resolved per raft command when a whole transaction is resolved.
const RESOLVE_BATCH: usize = 256;

/// What the txn layer uses of its store. Deliberately not the engine: a
/// stopped store's RocksDB must close even while a request or the GC worker
/// still holds a `Storage`.
#[derive(Clone)]
pub struct StoreHandle {
    pub store_id: u64,
    pub router: kv::raftstore::StoreRouter,
    pub pd: pd::PdClient,
    pub request_timeout: Duration,
    pub read_flow: Arc<kv::raftstore::ReadFlow>,
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl From<&StoreContext> for StoreHandle {
    fn from(c: &StoreContext) -> Self {
        StoreHandle {
            store_id: c.store_id,
            router: c.router.clone(),
            pd: c.pd.clone(),
            request_timeout: c.request_timeout,
            read_flow: c.read_flow.clone(),
            shutdown: c.shutdown.clone(),
        }
    }
}

impl StoreHandle {
    /// A snapshot of the region `ctx` names, taken once the peer may serve
    /// it (leader lease or ReadIndex; any peer for `replica_read`), and of
    /// the epoch the caller saw.
    pub async fn snapshot(&self, ctx: Context) -> Result<ReadResponse> {
        let asked = ctx.region_epoch.map(|e| e.version);
        let (tx, rx) = oneshot::channel();
        self.router.send(StoreMsg::Read {
            ctx: RequestContext::from(Some(ctx)),
            cb: tx,
        })?;
        let snap = self.wait(rx).await?;
        // Scans are clamped to the region the client believes in; a snapshot
        // of a region whose range changed since must not be answered from
        // (the raftstore already refuses it; this keeps the invariant local).
        if asked != snap.region.region_epoch.map(|e| e.version) {
            return Err(kv::Error::EpochNotMatch(vec![snap.region]).into());
        }
        Ok(snap)
    }

    /// The store loop's answer, or a timeout after `request_timeout`.
    pub async fn wait<T>(&self, rx: oneshot::Receiver<kv::Result<T>>) -> kv::Result<T> {
        match tokio::time::timeout(self.request_timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(kv::Error::ShuttingDown),
            Err(_) => Err(kv::Error::Timeout("request not answered in time".into())),
        }
    }
}

/// One page of a coprocessor scan ([`Storage::scan_page`]).
pub struct Page {
    pub rows: Vec<(Vec<u8>, Value)>,
    /// Encoded key the next page starts at (empty: the region is done).
    pub resume_key: Vec<u8>,
}

pub struct Storage {
    ctx: StoreHandle,
    latches: Latches,
    memory_locks: Arc<MemoryLocks>,
    lock_waits: LockWaits,
    /// The newest GC safe point this store has seen (from the GC worker).
    safe_point: AtomicU64,
    /// Whether `safe_point` came from PD yet: until it has, a restarted
    /// store cannot tell a read below the safe point (whose versions may
    /// be collected) from one above, and answers none.
    safe_point_known: std::sync::atomic::AtomicBool,
    /// Hold points for tests (none in production).
    faults: Option<Arc<crate::faults::Faults>>,
}

/// The hold point between choosing a 1PC commit ts and writing (tests).
pub const ONE_PC_TS_CHOSEN: &str = "prewrite: 1PC commit ts chosen";

impl Storage {
    pub fn new(ctx: &StoreContext) -> Arc<Storage> {
        Storage::with_faults(ctx, None)
    }

    /// A storage that stops at the hold points a test sets in `faults`
    /// (see [`crate::faults::Faults::hold_next_on`]).
    pub fn with_faults(
        ctx: &StoreContext,
        faults: Option<Arc<crate::faults::Faults>>,
    ) -> Arc<Storage> {
        Arc::new(Storage {
            ctx: StoreHandle::from(ctx),
            latches: Latches::new(4096),
            memory_locks: Arc::new(MemoryLocks::default()),
            lock_waits: LockWaits::new(1024),
            safe_point: AtomicU64::new(0),
            safe_point_known: std::sync::atomic::AtomicBool::new(false),
            faults,
        })
    }

    pub fn store(&self) -> &StoreHandle {
        &self.ctx
    }

    pub fn safe_point(&self) -> TimeStamp {
        TimeStamp::new(self.safe_point.load(Ordering::Acquire))
    }

    /// Whether the safe point was loaded from PD since the store started.
    pub fn safe_point_known(&self) -> bool {
        self.safe_point_known.load(Ordering::Acquire)
    }

    pub fn update_safe_point(&self, ts: TimeStamp) {
        self.safe_point.fetch_max(ts.into_inner(), Ordering::AcqRel);
        self.safe_point_known.store(true, Ordering::Release);
    }

    fn check_ts(&self, ts: TimeStamp) -> Result<()> {
        if !self.safe_point_known.load(Ordering::Acquire) {
            // A region error: the client backs off and asks again.
            return Err(Error::Kv(kv::Error::ServerIsBusy(
                "the GC safe point is not loaded from PD yet".into(),
            )));
        }
        let safe_point = self.safe_point();
        if ts < safe_point {
            return Err(Error::TxnTooOld { ts, safe_point });
        }
        Ok(())
    }

    // ---- reads -------------------------------------------------------------

    /// `bypass`: transactions whose locks the read may pass (see
    /// `resolved_locks` in kvrpcpb).
    pub async fn get(
        &self,
        ctx: Context,
        key: &[u8],
        ts: TimeStamp,
        bypass: &[TimeStamp],
    ) -> Result<Option<Value>> {
        self.check_ts(ts)?;
        let key = Key::from_raw(key);
        self.wait_memory_locks(ctx, ts, std::slice::from_ref(key.as_encoded()), None)
            .await?;
        let snap = self.snapshot(ctx).await?;
        check_key_in_region(&snap.region, key.as_encoded())?;
        let mut reader = MvccReader::new(reader_of(&snap));
        let value = crate::mvcc::point_getter::get(&mut reader, &key, ts, bypass)?;
        if let Some(v) = &value {
            self.ctx
                .read_flow
                .record(snap.region.id, (key.as_encoded().len() + v.len()) as u64, 1);
        }
        Ok(value)
    }

    pub async fn batch_get(
        &self,
        ctx: Context,
        keys: &[Vec<u8>],
        ts: TimeStamp,
        bypass: &[TimeStamp],
    ) -> Result<Vec<KvResult>> {
        self.check_ts(ts)?;
        let keys: Vec<Key> = keys.iter().map(|k| Key::from_raw(k)).collect();
        let encoded: Vec<Vec<u8>> = keys.iter().map(|k| k.as_encoded().clone()).collect();
        self.wait_memory_locks(ctx, ts, &encoded, None).await?;
        let snap = self.snapshot(ctx).await?;
        for k in &keys {
            check_key_in_region(&snap.region, k.as_encoded())?;
        }
        let mut reader = MvccReader::new(reader_of(&snap));
        let mut out = Vec::with_capacity(keys.len());
        let (mut bytes, mut n) = (0u64, 0u64);
        for key in keys {
            match crate::mvcc::point_getter::get(&mut reader, &key, ts, bypass) {
                Ok(Some(v)) => {
                    bytes += (key.as_encoded().len() + v.len()) as u64;
                    n += 1;
                    out.push(Ok((key.to_raw()?, v)));
                }
                Ok(None) => {}
                Err(e @ Error::KeyIsLocked(_)) => out.push(Err(e)),
                Err(e) => return Err(e),
            }
        }
        self.ctx.read_flow.record(snap.region.id, bytes, n);
        Ok(out)
    }

    /// What a range read at `ts` starts from: the ts checked, the range's
    /// one-phase commits below `ts` waited for, a snapshot, and the range
    /// clamped to its region (`end` None: the region's end).
    async fn range_snapshot(
        &self,
        ctx: Context,
        start: &[u8],
        end: &[u8],
        ts: TimeStamp,
    ) -> Result<(ReadResponse, Key, Option<Key>)> {
        self.check_ts(ts)?;
        // The requested range covers the clamped one: waiting on it is at
        // worst a short wait for a 1PC just outside the region.
        self.wait_memory_locks(ctx, ts, &[], Some((start, end)))
            .await?;
        let snap = self.snapshot(ctx).await?;
        let (lo, hi) = clamp_to_region(&snap.region, start, end);
        let end_key = (!hi.is_empty()).then(|| Key::from_encoded(hi));
        Ok((snap, Key::from_encoded(lo), end_key))
    }

    /// Scans the encoded range `[start, end)` clamped to the region.
    #[allow(clippy::too_many_arguments)]
    pub async fn scan(
        &self,
        ctx: Context,
        start: &[u8],
        end: &[u8],
        limit: usize,
        ts: TimeStamp,
        key_only: bool,
        reverse: bool,
        bypass: &[TimeStamp],
    ) -> Result<Vec<KvResult>> {
        let (snap, start_key, end_key) = self.range_snapshot(ctx, start, end, ts).await?;
        let mut reader = MvccReader::new(reader_of(&snap));
        let out = crate::mvcc::scanner::scan(
            &mut reader,
            &start_key,
            end_key.as_ref(),
            ts,
            limit,
            key_only,
            reverse,
            bypass,
        )?;
        self.record_read(&snap, out.iter().flatten());
        Ok(out)
    }

    /// One coprocessor page: the first `limit` keys of the encoded range
    /// (clamped to the region) with a value visible at `ts` and the encoded
    /// key the next page starts at (empty: the region is done), or the
    /// locks that block a read at `ts` anywhere in the part of the range
    /// the page covers ([`crate::mvcc::range_locks`], the check the
    /// columnar replicas make). `Ok(Err(locks))`: resolve them, then ask
    /// again.
    pub async fn scan_page(
        &self,
        ctx: Context,
        start: &[u8],
        end: &[u8],
        limit: usize,
        ts: TimeStamp,
        bypass: &[TimeStamp],
    ) -> Result<std::result::Result<Page, Vec<LockInfo>>> {
        let (snap, start_key, end_key) = self.range_snapshot(ctx, start, end, ts).await?;
        let mut reader = MvccReader::new(reader_of(&snap));
        let rows = crate::mvcc::scanner::scan_past_locks(
            &mut reader,
            &start_key,
            end_key.as_ref(),
            ts,
            limit,
        )?;
        // A full page covers the range up to its last key.
        let next = match rows.last() {
            Some((last, _)) if rows.len() >= limit => {
                let mut next = last.clone();
                next.push(0);
                Some(Key::from_raw(&next))
            }
            _ => None,
        };
        let covered = next.as_ref().or(end_key.as_ref());
        let locks = crate::mvcc::range_locks(&mut reader, &start_key, covered, ts, bypass)?;
        if !locks.is_empty() {
            return Ok(Err(locks));
        }
        self.record_read(&snap, rows.iter());
        Ok(Ok(Page {
            rows,
            resume_key: next.map(Key::into_encoded).unwrap_or_default(),
        }))
    }

    /// Counts the pairs a read returned in the region's read flow.
    fn record_read<'a>(
        &self,
        snap: &ReadResponse,
        pairs: impl Iterator<Item = &'a (Vec<u8>, Value)>,
    ) {
        let (mut bytes, mut n) = (0u64, 0u64);
        for (k, v) in pairs {
            bytes += (k.len() + v.len()) as u64;
            n += 1;
        }
        self.ctx.read_flow.record(snap.region.id, bytes, n);
    }

    /// Locks with `start_ts <= max_ts` in the encoded range, clamped to the
    /// region.
    pub async fn scan_lock(
        &self,
        ctx: Context,
        max_ts: TimeStamp,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Result<Vec<LockInfo>> {
        let snap = self.snapshot(ctx).await?;
        let (lo, hi) = clamp_to_region(&snap.region, start, end);
        let mut reader = MvccReader::new(reader_of(&snap));
        let start_key = Key::from_encoded(lo);
        let end_key = (!hi.is_empty()).then(|| Key::from_encoded(hi));
        commands::scan_lock(&mut reader, max_ts, Some(start_key), end_key, limit)
    }

    /// Returns once this leader holds no in-memory lock of a one-phase
    /// commit with `start_ts <= ts` in the encoded range: a 1PC that could
    /// still commit below `ts` is applied by then, so a learner read at
    /// `ts` started afterwards sees it (its ReadIndex covers the entry).
    pub async fn read_barrier(
        &self,
        ctx: Context,
        ts: TimeStamp,
        start: &[u8],
        end: &[u8],
    ) -> Result<()> {
        self.check_ts(ts)?;
        self.wait_memory_locks(ctx, ts, &[], Some((start, end)))
            .await?;
        // Only the leader's memory locks count: confirm it still leads.
        self.snapshot(ctx).await?;
        Ok(())
    }

    // ---- writes ------------------------------------------------------------

    /// Prewrites; with `args.one_pc_commit_ts` requested (any value) the
    /// store takes the commit ts from PD under memory locks and commits in
    /// the same raft command if nothing is locked.
    pub async fn prewrite(
        self: &Arc<Self>,
        ctx: Context,
        mut args: PrewriteArgs,
    ) -> Result<PrewriteOutput> {
        self.check_ts(args.start_ts)?;
        let keys: Vec<Vec<u8>> = args
            .mutations
            .iter()
            .map(|m| m.key().as_encoded().clone())
            .collect();
        let latches = self.acquire_latches(&keys).await?;
        let this = self.clone();
        self.detached(async move {
            let _latches = latches;
            // Checked again under the latches: a prewrite queued behind
            // others must not land below a safe point published meanwhile.
            this.check_ts(args.start_ts)?;
            // 1PC: the snapshot (and with it the leader's term) comes
            // first, then the memory lock, then the commit ts. A reader at
            // a later ts either reads this leader at this term after the
            // lock went up (and waits for it), or reads another leader, and
            // then our term is over and the write is refused as stale: the
            // write never lands below a read that missed it.
            let snap = match args.one_pc_commit_ts {
                Some(_) => Some(this.snapshot(ctx).await?),
                None => None,
            };
            let _memory_locks = match args.one_pc_commit_ts {
                Some(_) => {
                    let guard = this.memory_locks.lock(args.start_ts, keys.clone());
                    let ts = TimeStamp::new(this.ctx.pd.get_ts().await.map_err(kv::Error::from)?);
                    if args.max_commit_ts.is_zero() || ts <= args.max_commit_ts {
                        args.one_pc_commit_ts = Some(ts);
                        Some(guard)
                    } else {
                        // Past the client's bound: an ordinary prewrite,
                        // and the client commits in two phases.
                        args.one_pc_commit_ts = None;
                        None
                    }
                }
                None => None,
            };
            if let (Some(f), Some(_)) = (&this.faults, &_memory_locks) {
                // A test's hold point: the 1PC commit ts is chosen, the
                // write not yet proposed.
                let first = args.mutations.first().and_then(|m| m.key().to_raw().ok());
                f.hold(ONE_PC_TS_CHOSEN, &first.unwrap_or_default()).await;
            }
            let snap = match snap {
                Some(snap) => snap,
                None => this.snapshot(ctx).await?,
            };
            this.run_on(snap, ctx, &keys, |reader| commands::prewrite(reader, &args))
                .await
        })
        .await
    }

    pub async fn commit(
        self: &Arc<Self>,
        ctx: Context,
        keys: Vec<Key>,
        start_ts: TimeStamp,
        commit_ts: TimeStamp,
    ) -> Result<()> {
        let encoded = encoded_keys(&keys);
        self.run_write(ctx, &encoded, move |reader| {
            commands::commit(reader, keys, start_ts, commit_ts)
        })
        .await
    }

    pub async fn cleanup(
        self: &Arc<Self>,
        ctx: Context,
        key: Key,
        start_ts: TimeStamp,
        current_ts: TimeStamp,
    ) -> Result<()> {
        let encoded = vec![key.as_encoded().clone()];
        self.run_write(ctx, &encoded, move |reader| {
            commands::cleanup(reader, key, start_ts, current_ts)
        })
        .await
    }

    pub async fn batch_rollback(
        self: &Arc<Self>,
        ctx: Context,
        keys: Vec<Key>,
        start_ts: TimeStamp,
    ) -> Result<()> {
        let encoded = encoded_keys(&keys);
        self.run_write(ctx, &encoded, move |reader| {
            commands::batch_rollback(reader, keys, start_ts)
        })
        .await
    }

    pub async fn check_txn_status(
        self: &Arc<Self>,
        ctx: Context,
        primary: Key,
        lock_ts: TimeStamp,
        caller_start_ts: TimeStamp,
        current_ts: TimeStamp,
        rollback_if_not_exist: bool,
    ) -> Result<crate::actions::TxnStatus> {
        let encoded = vec![primary.as_encoded().clone()];
        self.run_write(ctx, &encoded, move |reader| {
            commands::check_txn_status(
                reader,
                primary,
                lock_ts,
                caller_start_ts,
                current_ts,
                rollback_if_not_exist,
            )
        })
        .await
    }

    /// Extends the TTL of a live transaction's primary lock; returns the TTL
    /// now in force.
    pub async fn txn_heart_beat(
        self: &Arc<Self>,
        ctx: Context,
        primary: Key,
        start_ts: TimeStamp,
        advise_ttl: u64,
    ) -> Result<u64> {
        let encoded = vec![primary.as_encoded().clone()];
        self.run_write(ctx, &encoded, move |reader| {
            commands::txn_heart_beat(reader, primary, start_ts, advise_ttl)
        })
        .await
    }

    /// Commits (`commit_ts` non-zero) or rolls back the locks of `start_ts`:
    /// the given keys, or every such lock in the region.
    pub async fn resolve_lock(
        self: &Arc<Self>,
        ctx: Context,
        start_ts: TimeStamp,
        commit_ts: TimeStamp,
        keys: Vec<Key>,
    ) -> Result<()> {
        if !keys.is_empty() {
            return self.resolve_keys(ctx, start_ts, commit_ts, keys).await;
        }
        let mut from: Option<Key> = None;
        loop {
            // Read phase: find a batch of the transaction's locks.
            let snap = self.snapshot(ctx).await?;
            let (lo, hi) = clamp_to_region(&snap.region, b"", b"");
            let mut reader = MvccReader::new(reader_of(&snap));
            let start = from.take().unwrap_or_else(|| Key::from_encoded(lo));
            let end = (!hi.is_empty()).then(|| Key::from_encoded(hi));
            let (locks, more) = reader.scan_locks(
                Some(&start),
                end.as_ref(),
                |l| l.ts == start_ts,
                RESOLVE_BATCH,
            )?;
            let next = locks.last().map(|(k, _)| k.clone());
            let keys: Vec<Key> = locks.into_iter().map(|(k, _)| k).collect();
            if !keys.is_empty() {
                // Write phase, under the keys' latches.
                self.resolve_keys(ctx, start_ts, commit_ts, keys).await?;
            }
            match (more, next) {
                (true, Some(last)) => {
                    let mut k = last.into_encoded();
                    k.push(0);
                    from = Some(Key::from_encoded(k));
                }
                _ => return Ok(()),
            }
        }
    }

    async fn resolve_keys(
        self: &Arc<Self>,
        ctx: Context,
        start_ts: TimeStamp,
        commit_ts: TimeStamp,
        keys: Vec<Key>,
    ) -> Result<()> {
        if commit_ts.is_zero() {
            self.batch_rollback(ctx, keys, start_ts).await
        } else {
            self.commit(ctx, keys, start_ts, commit_ts).await
        }
    }

    /// Takes pessimistic locks, waiting up to `wait_timeout` for conflicting
    /// locks (zero: fail at once with `KeyIsLocked`).
    pub async fn pessimistic_lock(
        self: &Arc<Self>,
        ctx: Context,
        args: PessimisticLockArgs,
        wait_timeout: Duration,
    ) -> Result<Vec<Option<Value>>> {
        self.check_ts(args.for_update_ts)?;
        let encoded: Vec<Vec<u8>> = args
            .keys
            .iter()
            .map(|(k, _)| k.as_encoded().clone())
            .collect();
        let deadline = tokio::time::Instant::now() + wait_timeout;
        loop {
            let slots: Vec<_> = encoded.iter().map(|k| self.lock_waits.slot(k)).collect();
            let mut woken: Vec<_> = slots.iter().map(|s| Box::pin(s.notified())).collect();
            for w in &mut woken {
                w.as_mut().enable();
            }
            let attempt = args.clone();
            let result = self
                .run_write(ctx, &encoded, move |reader| {
                    commands::acquire_pessimistic_lock(reader, &attempt)
                })
                .await;
            let info = match result {
                Err(Error::KeyIsLocked(info))
                    if tokio::time::Instant::now() < deadline && !lock_expired(&info) =>
                {
                    info
                }
                other => return other,
            };
            let locked = Key::from_raw(&info.key).into_encoded();
            let key_hash = LockWaits::key_hash(&locked);
            let pd = &self.ctx.pd;
            let waiter = args.start_ts.into_inner();
            let holder = info.lock_version.into_inner();
            if let Some(dl) = pd
                .detect_deadlock(waiter, holder, key_hash)
                .await
                .map_err(kv::Error::from)?
            {
                return Err(Error::Deadlock {
                    lock_ts: info.lock_version,
                    lock_key: info.key.clone(),
                    deadlock_key_hash: dl.deadlock_key_hash,
                    wait_chain: dl.wait_chain,
                });
            }
            let i = encoded.iter().position(|k| *k == locked).unwrap_or(0);
            let wait = woken.swap_remove(i);
            // The lock may also go away without a wake-up here (its TTL runs
            // out, or the region's leader moves): look again at least every
            // few hundred milliseconds.
            let recheck = tokio::time::Instant::now() + Duration::from_millis(500);
            let mut shutdown = self.ctx.shutdown.clone();
            tokio::select! {
                _ = tokio::time::timeout_at(deadline.min(recheck), wait) => {}
                _ = shutdown.changed() => return Err(kv::Error::ShuttingDown.into()),
            }
            let pd = pd.clone();
            tokio::spawn(async move {
                let _ = pd.clean_up_wait_for(waiter, holder, key_hash).await;
            });
        }
    }

    pub async fn pessimistic_rollback(
        self: &Arc<Self>,
        ctx: Context,
        keys: Vec<Key>,
        start_ts: TimeStamp,
        for_update_ts: TimeStamp,
    ) -> Result<()> {
        let encoded = encoded_keys(&keys);
        self.run_write(ctx, &encoded, move |reader| {
            commands::pessimistic_rollback(reader, keys, start_ts, for_update_ts)
        })
        .await
    }

    /// Garbage-collects one batch of user keys from `start`; returns where
    /// the next batch begins (None: the region is done) and the versions
    /// removed. GC takes no latches: it only removes versions at or below
    /// the safe point, which no running command reads or writes.
    pub async fn gc(
        &self,
        ctx: Context,
        start: Option<Key>,
        safe_point: TimeStamp,
        limit_keys: usize,
    ) -> Result<(Option<Key>, usize)> {
        let snap = self.snapshot(ctx).await?;
        let (lo, hi) = clamp_to_region(&snap.region, b"", b"");
        let start = start.unwrap_or_else(|| Key::from_encoded(lo));
        let end = (!hi.is_empty()).then(|| Key::from_encoded(hi));
        let mut reader = MvccReader::new(reader_of(&snap));
        let WriteResult { modifies, output } =
            commands::gc(&mut reader, start, end, safe_point, limit_keys)?;
        // No latches to guard: a bounded wait is enough.
        let write = self.write(ctx, snap.term, modifies);
        tokio::time::timeout(self.ctx.request_timeout, write)
            .await
            .map_err(|_| kv::Error::Timeout("gc write not applied in time".into()))??;
        Ok((output.next_key, output.deleted_versions))
    }

    // ---- the shell ---------------------------------------------------------

    /// Runs a write command under its keys' latches in a task of its own.
    async fn run_write<T, F>(self: &Arc<Self>, ctx: Context, keys: &[Vec<u8>], cmd: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut MvccReader) -> Result<WriteResult<T>> + Send + 'static,
    {
        let latches = self.acquire_latches(keys).await?;
        let this = self.clone();
        let keys = keys.to_vec();
        self.detached(async move {
            let _latches = latches;
            this.run_latched(ctx, &keys, cmd).await
        })
        .await
    }

    /// Takes the keys' latches, waiting at most the request timeout (a
    /// command ahead may wait on raft for long; this one then fails
    /// retryably instead of queueing without bound).
    async fn acquire_latches(&self, keys: &[Vec<u8>]) -> Result<latches::LatchGuard> {
        let acquire = self.latches.acquire(keys.iter().map(|k| k.as_slice()));
        tokio::time::timeout(self.ctx.request_timeout, acquire)
            .await
            .map_err(|_| {
                kv::Error::ServerIsBusy("keys are latched by a pending command".into()).into()
            })
    }

    /// Runs `work` — which holds latches (and maybe memory locks) until its
    /// raft write is applied, refused or abandoned by a leader that stepped
    /// down — in a task of its own, and waits for it at most the request
    /// timeout. The guards must outlive the
    /// request: were they dropped while the proposal is still in the raft
    /// log (a timeout here, or the client cancelling the RPC), a second
    /// command could decide on a snapshot without the first write and both
    /// would apply — a commit and a rollback of one primary, say. On a
    /// timeout the caller learns `Timeout`; a retry queues behind the
    /// pending command on the latches and sees its outcome.
    async fn detached<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let task = tokio::spawn(work);
        match tokio::time::timeout(self.ctx.request_timeout, task).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(kv::Error::Other(format!("txn command task: {e}")).into()),
            Err(_) => Err(kv::Error::Timeout("txn command not finished in time".into()).into()),
        }
    }

    /// Snapshot, command, raft write; the caller holds the keys' latches.
    async fn run_latched<T>(
        &self,
        ctx: Context,
        keys: &[Vec<u8>],
        cmd: impl FnOnce(&mut MvccReader) -> Result<WriteResult<T>>,
    ) -> Result<T> {
        let snap = self.snapshot(ctx).await?;
        self.run_on(snap, ctx, keys, cmd).await
    }

    /// Runs `cmd` on `snap` and writes its changes, refused if the leader's
    /// term moved since the snapshot.
    async fn run_on<T>(
        &self,
        snap: ReadResponse,
        ctx: Context,
        keys: &[Vec<u8>],
        cmd: impl FnOnce(&mut MvccReader) -> Result<WriteResult<T>>,
    ) -> Result<T> {
        for k in keys {
            check_key_in_region(&snap.region, k)?;
        }
        let WriteResult { modifies, output } = {
            let mut reader = MvccReader::new(reader_of(&snap));
            cmd(&mut reader)?
        };
        let unlocked: Vec<Vec<u8>> = modifies
            .iter()
            .filter_map(|m| match m {
                Modify::Delete { cf, key } if *cf == CF_LOCK => Some(key.clone()),
                _ => None,
            })
            .collect();
        self.write(ctx, snap.term, modifies).await?;
        self.lock_waits.wake(unlocked.iter().map(|k| k.as_slice()));
        Ok(output)
    }

    async fn snapshot(&self, ctx: Context) -> Result<ReadResponse> {
        self.ctx.snapshot(ctx).await
    }

    async fn write(&self, ctx: Context, term: u64, modifies: Vec<Modify>) -> Result<()> {
        if modifies.is_empty() {
            return Ok(());
        }
        let requests = modifies.into_iter().map(to_raft_request).collect();
        let mut rctx = RequestContext::from(Some(ctx));
        rctx.term = term;
        let (tx, rx) = oneshot::channel();
        self.ctx.router.send(StoreMsg::Write {
            ctx: rctx,
            requests,
            cb: tx,
        })?;
        // No timeout: the raftstore answers every proposal once it is
        // applied, superseded (StaleCommand), abandoned by a leader that
        // stepped down or applied a snapshot (Timeout), or the store stops;
        // the caller holds latches that must not be released before that.
        match rx.await {
            Ok(r) => Ok(r?),
            Err(_) => Err(kv::Error::ShuttingDown.into()),
        }
    }

    /// Waits out the 1PC memory locks a read at `ts` must not pass. A
    /// store that holds such a lock but no longer leads the region (the
    /// 1PC write will be refused as stale) answers `NotLeader` at once,
    /// so the reader goes to the leader instead of waiting here.
    async fn wait_memory_locks(
        &self,
        ctx: Context,
        ts: TimeStamp,
        keys: &[Vec<u8>],
        range: Option<(&[u8], &[u8])>,
    ) -> Result<()> {
        let locks = &self.memory_locks;
        if locks.wait_readable(ts, keys, range, Duration::ZERO).await {
            return Ok(());
        }
        self.snapshot(ctx).await?;
        if locks
            .wait_readable(ts, keys, range, self.ctx.request_timeout)
            .await
        {
            Ok(())
        } else {
            Err(kv::Error::ServerIsBusy("a one-phase commit holds the keys".into()).into())
        }
    }
}

fn reader_of(snap: &ReadResponse) -> &dyn Peekable {
    &*snap.snapshot
}

fn encoded_keys(keys: &[Key]) -> Vec<Vec<u8>> {
    keys.iter().map(|k| k.as_encoded().clone()).collect()
}

/// `[start, end)` ∩ the region's range, as data-less encoded keys (empty
/// end: unbounded).
pub fn clamp_to_region(region: &metapb::Region, start: &[u8], end: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let lo = start.max(region.start_key.as_slice()).to_vec();
    let hi = match (end.is_empty(), region.end_key.is_empty()) {
        (true, _) => region.end_key.clone(),
        (false, true) => end.to_vec(),
        (false, false) => end.min(region.end_key.as_slice()).to_vec(),
    };
    (lo, hi)
}

/// Whether a lock's TTL ran out by this store's clock (a hint: the client
/// decides with PD's time through check_txn_status).
fn lock_expired(info: &LockInfo) -> bool {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    now_ms >= info.lock_version.physical() + info.lock_ttl
}

fn to_raft_request(m: Modify) -> RaftRequest {
    match m {
        Modify::Put { cf, key, value } => RaftRequest {
            cmd_type: CmdType::Put as i32,
            cf: cf.to_string(),
            key,
            value,
            end_key: vec![],
        },
        Modify::Delete { cf, key } => RaftRequest {
            cmd_type: CmdType::Delete as i32,
            cf: cf.to_string(),
            key,
            value: vec![],
            end_key: vec![],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(start: &[u8], end: &[u8]) -> metapb::Region {
        metapb::Region {
            start_key: start.to_vec(),
            end_key: end.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn ranges_are_clamped_to_the_region() {
        let r = region(b"c", b"m");
        assert_eq!(
            clamp_to_region(&r, b"a", b""),
            (b"c".to_vec(), b"m".to_vec())
        );
        assert_eq!(
            clamp_to_region(&r, b"d", b"f"),
            (b"d".to_vec(), b"f".to_vec())
        );
        assert_eq!(
            clamp_to_region(&r, b"d", b"z"),
            (b"d".to_vec(), b"m".to_vec())
        );
        let all = region(b"", b"");
        assert_eq!(clamp_to_region(&all, b"", b""), (vec![], vec![]));
        assert_eq!(
            clamp_to_region(&all, b"b", b"x"),
            (b"b".to_vec(), b"x".to_vec())
        );
    }
}
