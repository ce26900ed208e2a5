//! # The store loop
//!
//! One thread drives every peer on the store. Each iteration:
//!
//! ```text
//!  1. receive: block until a message or the next tick is due, then drain
//!     the channel (raft messages, client reads/writes, PD operators, ...)
//!  2. tick: raft ticks; on their own intervals: log GC, split checks,
//!     region and store heartbeats
//!  3. flush reads: one ReadIndex per peer for the reads that queued up
//!  4. readies (see `ready.rs`): persist every peer's entries, hard state and
//!     received snapshots in ONE write batch with ONE fsync, then send
//!     messages, then apply committed entries in one apply batch, then
//!     answer clients and run side effects (new split peers, destroyed peers)
//! ```
//!
//! Batching across regions is what keeps the fsync count per iteration at
//! one, however many regions and client requests were active.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use crossbeam::channel::{Receiver, RecvTimeoutError, Sender};
use prost::Message as _;
use proto::metapb;
use proto::raft_serverpb::{PeerState, RaftMessage, RegionLocalState};
use protobuf::Message as _;
use raft::eraftpb::MessageType;

use super::config::Config;
use super::msg::{PeerStatus, StoreMsg};
use super::peer::{Peer, clone_err};
use super::peer_storage::{clear_raft_state, clear_region_data};
use super::snap::{GenTask, SnapshotSources};
use super::worker::{PdTask, SplitCheckTask};
use crate::engine::{CF_RAFT, EngineRef, WriteBatch};
use crate::transport::Transport;
use crate::{Error, Result, keys};

/// The handle through which everything talks to a store loop.
#[derive(Clone)]
pub struct StoreRouter {
    tx: Sender<StoreMsg>,
}

impl StoreRouter {
    pub fn new() -> (StoreRouter, Receiver<StoreMsg>) {
        let (tx, rx) = crossbeam::channel::unbounded();
        (StoreRouter { tx }, rx)
    }

    pub fn send(&self, msg: StoreMsg) -> Result<()> {
        self.tx.send(msg).map_err(|_| Error::ShuttingDown)
    }

    /// Status of every peer on the store (for tests and diagnostics).
    pub async fn status(&self) -> Result<Vec<PeerStatus>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(StoreMsg::Status(tx))?;
        rx.await.map_err(|_| Error::ShuttingDown)
    }
}

/// What connects a store loop to the rest of the process.
pub struct StoreIo {
    pub rx: Receiver<StoreMsg>,
    pub transport: Arc<dyn Transport>,
    pub pd_tasks: tokio::sync::mpsc::UnboundedSender<PdTask>,
    pub split_checker: Sender<SplitCheckTask>,
    pub read_flow: Arc<super::ReadFlow>,
    /// Sees applied writes and reset ranges (a columnar store's hook).
    pub observer: Option<Arc<dyn super::ApplyObserver>>,
    /// The snapshot generator's queue, and the sources it registers (the
    /// transport streams from them).
    pub snap_gen: Sender<GenTask>,
    pub snapshots: SnapshotSources,
}

/// Deadlines of the periodic work.
struct Ticks {
    raft: Instant,
    gc: Instant,
    split_check: Instant,
    pd_heartbeat: Instant,
    store_heartbeat: Instant,
}

pub struct Store {
    pub(super) store_id: u64,
    pub(super) cfg: Config,
    pub(super) engine: EngineRef,
    pub(super) peers: HashMap<u64, Peer>,
    /// Initialized regions by the data key of their end: finds overlaps.
    pub(super) region_ranges: BTreeMap<Vec<u8>, u64>,
    rx: Receiver<StoreMsg>,
    pub(super) transport: Arc<dyn Transport>,
    pub(super) pd_tasks: tokio::sync::mpsc::UnboundedSender<PdTask>,
    split_checker: Sender<SplitCheckTask>,
    read_flow: Arc<super::ReadFlow>,
    pub(super) observer: Option<Arc<dyn super::ApplyObserver>>,
    snap_gen: Sender<GenTask>,
    snapshots: SnapshotSources,
    ticks: Ticks,
    /// The loop's clock: read once per iteration by the shell ([`Store::run`])
    /// or set by a test driving the core; every lease, timeout and liveness
    /// decision uses it.
    pub(super) now: Instant,
    started_at: u64,
    stopped: bool,
}

impl Store {
    pub fn new(store_id: u64, cfg: Config, engine: EngineRef, io: StoreIo) -> Result<Store> {
        Store::new_at(store_id, cfg, engine, io, Instant::now())
    }

    /// A store whose clock reads `now` (a test's simulated time).
    pub fn new_at(
        store_id: u64,
        cfg: Config,
        engine: EngineRef,
        io: StoreIo,
        now: Instant,
    ) -> Result<Store> {
        let StoreIo {
            rx,
            transport,
            pd_tasks,
            split_checker,
            read_flow,
            observer,
            snap_gen,
            snapshots,
        } = io;
        let mut store = Store {
            store_id,
            cfg,
            engine,
            peers: HashMap::new(),
            region_ranges: BTreeMap::new(),
            rx,
            transport,
            pd_tasks,
            split_checker,
            read_flow,
            observer,
            snap_gen,
            snapshots,
            ticks: Ticks {
                raft: now,
                gc: now,
                split_check: now,
                pd_heartbeat: now,
                store_heartbeat: now,
            },
            now,
            started_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            stopped: false,
        };
        store.load_peers()?;
        Ok(store)
    }

    /// Creates a peer for every region this store holds.
    fn load_peers(&mut self) -> Result<()> {
        let (start, end) = keys::region_meta_range();
        let mut states = Vec::new();
        self.engine.scan(CF_RAFT, &start, &end, &mut |_, v| {
            states.push(v.to_vec());
            true
        })?;
        for v in states {
            let state = RegionLocalState::decode(v.as_slice())?;
            if state.state == PeerState::Tombstone as i32 {
                continue;
            }
            let Some(mut peer) = self.local_peer(state.region.unwrap_or_default())? else {
                continue;
            };
            let me = peer.peer_id();
            // A region whose only voter is this peer need not wait out an
            // election timeout (a freshly bootstrapped cluster).
            let voters: Vec<u64> = peer
                .region()
                .peers
                .iter()
                .filter(|p| p.role == metapb::PeerRole::Voter as i32)
                .map(|p| p.id)
                .collect();
            if voters == [me] {
                peer.raft.campaign()?;
            } else {
                peer.no_vote_until = Some(self.now + self.cfg.election_timeout());
            }
            self.insert_peer(peer);
        }
        tracing::info!(
            store_id = self.store_id,
            regions = self.peers.len(),
            "store loaded its regions"
        );
        Ok(())
    }

    /// The peer of an initialized `region` that lives on this store, if any.
    pub(super) fn local_peer(&self, region: metapb::Region) -> Result<Option<Peer>> {
        let Some(me) = region.peers.iter().find(|p| p.store_id == self.store_id) else {
            return Ok(None);
        };
        let peer_id = me.id;
        Peer::new(
            self.store_id,
            &self.cfg,
            self.engine.clone(),
            region,
            peer_id,
        )
        .map(Some)
    }

    pub(super) fn insert_peer(&mut self, peer: Peer) {
        if peer.is_initialized() {
            self.region_ranges
                .insert(keys::data_end_key(&peer.region().end_key), peer.region_id());
        }
        self.peers.insert(peer.region_id(), peer);
    }

    /// Re-indexes a region whose range changed (split, snapshot).
    pub(super) fn update_range(&mut self, old: Option<&metapb::Region>, new: &metapb::Region) {
        if let Some(old) = old
            && !old.peers.is_empty()
        {
            let key = keys::data_end_key(&old.end_key);
            if self.region_ranges.get(&key) == Some(&old.id) {
                self.region_ranges.remove(&key);
            }
        }
        self.region_ranges
            .insert(keys::data_end_key(&new.end_key), new.id);
    }

    /// An initialized region other than `except` overlapping `[start, end)`.
    pub(super) fn find_overlap(&self, start: &[u8], end: &[u8], except: u64) -> Option<u64> {
        let start = keys::data_key(start);
        let end = keys::data_end_key(end);
        // Regions are indexed by end key: the candidates end after `start`.
        let after_start = (std::ops::Bound::Excluded(start), std::ops::Bound::Unbounded);
        for (_, id) in self.region_ranges.range::<Vec<u8>, _>(after_start) {
            if *id == except {
                continue;
            }
            let r = self.peers.get(id)?.region();
            if keys::data_key(&r.start_key) < end {
                return Some(*id);
            }
            break;
        }
        None
    }

    /// The shell: a thread that feeds the core ([`Store::step`],
    /// [`Store::tick`], [`Store::process`]) from the channel and the wall
    /// clock. Everything else is the core's, and runs the same under a
    /// test's simulated time (`harness`).
    pub fn run(mut self) {
        tracing::info!(store_id = self.store_id, "store loop started");
        while !self.stopped {
            let timeout = self.ticks.raft.saturating_duration_since(Instant::now());
            let first = match self.rx.recv_timeout(timeout) {
                Ok(msg) => Some(msg),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            self.now = Instant::now();
            if let Some(msg) = first {
                self.step(msg);
            }
            for _ in 0..4096 {
                match self.rx.try_recv() {
                    Ok(msg) => self.step(msg),
                    Err(_) => break,
                }
            }
            self.tick(Instant::now());
            if let Err(e) = self.process() {
                // A failed engine write leaves raft state unknowable: stop
                // rather than acknowledge anything more.
                tracing::error!(store_id = self.store_id, "store loop stopping: {e}");
                break;
            }
        }
        self.shutdown();
    }

    /// Ends the iteration: proposes the writes and sends the reads that
    /// queued up, then persists, sends and applies every peer's ready.
    pub fn process(&mut self) -> Result<()> {
        let now = self.now;
        for peer in self.peers.values_mut() {
            peer.flush_writes(now);
            peer.flush_reads(now);
        }
        self.handle_readies()?;
        self.start_snapshot_generations();
        Ok(())
    }

    /// Hands the snapshots raft-rs asked for to the generator, each with an
    /// engine snapshot taken now: between apply batches, though the
    /// generator reads the label from the same engine snapshot anyway.
    fn start_snapshot_generations(&mut self) {
        for peer in self.peers.values() {
            if !peer.storage().take_gen_wanted() {
                continue;
            }
            let task = GenTask {
                region_id: peer.region_id(),
                snapshot: self.engine.snapshot(),
            };
            if self.snap_gen.send(task).is_err() {
                peer.storage().on_generated(None);
            }
        }
    }

    /// Whether a `Shutdown` message was handled.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    fn shutdown(&mut self) {
        for peer in self.peers.values_mut() {
            peer.on_lost_leadership();
            for cb in peer.proposals.drain(..).flat_map(|p| p.cbs) {
                let _ = cb.send(Err(Error::ShuttingDown));
            }
        }
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                StoreMsg::Read { cb, .. } => {
                    let _ = cb.send(Err(Error::ShuttingDown));
                }
                StoreMsg::Write { cb, .. } => {
                    let _ = cb.send(Err(Error::ShuttingDown));
                }
                _ => {}
            }
        }
        tracing::info!(store_id = self.store_id, "store loop stopped");
    }

    /// Handles one message; its effects leave at the next [`Store::process`].
    pub fn step(&mut self, msg: StoreMsg) {
        let now = self.now;
        match msg {
            StoreMsg::Raft(m) => {
                if let Err(e) = self.on_raft_message(*m) {
                    tracing::debug!(store_id = self.store_id, "raft message dropped: {e}");
                }
            }
            StoreMsg::Read { ctx, cb } if self.wrong_store(&ctx) => {
                let _ = cb.send(Err(self.store_not_match(&ctx)));
            }
            StoreMsg::Write { ctx, cb, .. } if self.wrong_store(&ctx) => {
                let _ = cb.send(Err(self.store_not_match(&ctx)));
            }
            StoreMsg::Read { ctx, cb } => match self.peers.get_mut(&ctx.region_id) {
                Some(peer) => peer.on_read(&ctx, cb, &self.engine, now),
                None => {
                    let _ = cb.send(Err(Error::RegionNotFound(ctx.region_id)));
                }
            },
            StoreMsg::Write { ctx, requests, cb } => match self.peers.get_mut(&ctx.region_id) {
                Some(peer) => peer.propose_write(&ctx, requests, cb, now),
                None => {
                    let _ = cb.send(Err(Error::RegionNotFound(ctx.region_id)));
                }
            },
            StoreMsg::SplitCheckResult {
                region_id,
                epoch,
                size,
                keys,
                split_key,
            } => self.on_split_check_result(region_id, epoch, size, keys, split_key),
            StoreMsg::SplitRegion { ctx, split_key, cb } => {
                let result = match self.peers.get_mut(&ctx.region_id) {
                    None => Err(Error::RegionNotFound(ctx.region_id)),
                    Some(peer) => peer
                        .check_request(&ctx)
                        .and_then(|()| peer.check_key(&split_key))
                        .and_then(|()| {
                            if split_key == peer.region().start_key {
                                return Err(Error::InvalidArgument(
                                    "split key is the region's start key".into(),
                                ));
                            }
                            let _ = self.pd_tasks.send(PdTask::AskSplit {
                                region: peer.region().clone(),
                                split_key,
                            });
                            Ok(())
                        }),
                };
                let _ = cb.send(result);
            }
            StoreMsg::ProposeSplit {
                region_id,
                epoch,
                split_key,
                new_region_id,
                new_peer_ids,
            } => {
                if let Some(peer) = self.peers.get_mut(&region_id)
                    && let Err(e) =
                        peer.propose_split(epoch, split_key, new_region_id, new_peer_ids, now)
                {
                    tracing::info!(region_id, "split not proposed: {e}");
                }
            }
            StoreMsg::PdOperator(resp) => {
                if let Some(peer) = self.peers.get_mut(&resp.region_id)
                    && let Err(e) = peer.on_pd_operator(&resp)
                {
                    tracing::debug!(region_id = resp.region_id, "operator step not taken: {e}");
                }
            }
            StoreMsg::SnapshotGenerated {
                region_id,
                snapshot,
            } => {
                let snapshot = snapshot
                    .inspect_err(|e| tracing::warn!(region_id, "snapshot generation failed: {e}"))
                    .ok();
                if let Some(peer) = self.peers.get(&region_id) {
                    peer.storage().on_generated(snapshot);
                }
            }
            StoreMsg::SnapshotStatus {
                region_id,
                to_peer_id,
                ok,
            } => {
                // The source's engine snapshot is released; a later request
                // generates a fresh one.
                self.snapshots.remove(region_id);
                if let Some(peer) = self.peers.get_mut(&region_id) {
                    peer.storage().reset_gen();
                    let status = if ok {
                        raft::SnapshotStatus::Finish
                    } else {
                        raft::SnapshotStatus::Failure
                    };
                    peer.raft.report_snapshot(to_peer_id, status);
                }
            }
            StoreMsg::Unreachable {
                region_id,
                to_peer_id,
            } => {
                if let Some(peer) = self.peers.get_mut(&region_id) {
                    peer.raft.report_unreachable(to_peer_id);
                }
            }
            StoreMsg::Status(tx) => {
                let _ = tx.send(self.peers.values().map(Peer::status).collect());
            }
            StoreMsg::Shutdown => self.stopped = true,
        }
    }

    /// A request addressed to a peer on another store (the client's store
    /// address is stale, e.g. a store restarted elsewhere).
    fn wrong_store(&self, ctx: &super::RequestContext) -> bool {
        ctx.peer
            .is_some_and(|p| p.store_id != 0 && p.store_id != self.store_id)
    }

    fn store_not_match(&self, ctx: &super::RequestContext) -> Error {
        let requested = ctx.peer.map_or(0, |p| p.store_id);
        Error::StoreNotMatch {
            requested,
            actual: self.store_id,
        }
    }

    fn on_raft_message(&mut self, msg: RaftMessage) -> Result<()> {
        let to = msg.to_peer.unwrap_or_default();
        let from = msg.from_peer.unwrap_or_default();
        if to.store_id != self.store_id {
            return Err(Error::StoreNotMatch {
                requested: to.store_id,
                actual: self.store_id,
            });
        }
        if msg.is_tombstone {
            return self.on_tombstone_message(&msg);
        }
        let raft_msg = raft::eraftpb::Message::parse_from_bytes(&msg.message)?;
        let region_id = msg.region_id;
        if let Some(peer) = self.peers.get(&region_id)
            && peer.peer_id() != to.id
        {
            if to.id > peer.peer_id() {
                // Our peer was removed and the region re-added one here.
                tracing::info!(
                    region_id,
                    old = peer.peer_id(),
                    new = to.id,
                    "replacing stale peer"
                );
                self.destroy_peer(region_id, true)?;
            } else {
                return Ok(());
            }
        }
        if !self.peers.contains_key(&region_id) && !self.maybe_create_peer(&msg, &raft_msg)? {
            return Ok(());
        }
        let msg_type = raft_msg.get_msg_type();
        if msg_type == MessageType::MsgSnapshot && !self.check_snapshot(&msg, &raft_msg)? {
            return Ok(());
        }
        let peer = self.peers.get_mut(&region_id).expect("peer exists");
        // A sender that is no longer a member, with an older membership,
        // has been removed: tell it to destroy itself.
        let local_epoch = peer.epoch();
        let msg_epoch = msg.region_epoch.unwrap_or_default();
        if peer.is_initialized()
            && !peer.region().peers.iter().any(|p| p.id == from.id)
            && msg_epoch.conf_ver < local_epoch.conf_ver
        {
            let gc = RaftMessage {
                region_id,
                from_peer: Some(peer.peer),
                to_peer: Some(from),
                region_epoch: Some(local_epoch),
                is_tombstone: true,
                ..Default::default()
            };
            self.transport.send(gc);
            return Ok(());
        }
        if peer.refuses_vote(&raft_msg, self.now) {
            tracing::debug!(
                region_id,
                from = from.id,
                "vote refused: restarted, no leader heard yet"
            );
            return Ok(());
        }
        peer.peer_heartbeats.insert(from.id, self.now);
        peer.remember_peer(from);
        peer.raft.step(raft_msg)?;
        Ok(())
    }

    /// Creates an uninitialized peer for a message from a region's leader
    /// that this store does not know yet (a peer PD just added here).
    fn maybe_create_peer(
        &mut self,
        msg: &RaftMessage,
        raft_msg: &raft::eraftpb::Message,
    ) -> Result<bool> {
        let from_leader = matches!(
            raft_msg.get_msg_type(),
            MessageType::MsgAppend | MessageType::MsgHeartbeat | MessageType::MsgSnapshot
        );
        if !from_leader {
            return Ok(false);
        }
        let region_id = msg.region_id;
        let msg_epoch = msg.region_epoch.unwrap_or_default();
        if let Some(v) = self
            .engine
            .get(CF_RAFT, &keys::region_state_key(region_id))?
        {
            let state = RegionLocalState::decode(v.as_slice())?;
            let local = state
                .region
                .as_ref()
                .and_then(|r| r.region_epoch)
                .unwrap_or_default();
            let local_peer = state
                .region
                .as_ref()
                .and_then(|r| r.peers.iter().find(|p| p.store_id == self.store_id))
                .map_or(0, |p| p.id);
            let to_id = msg.to_peer.as_ref().map_or(0, |p| p.id);
            if state.state == PeerState::Tombstone as i32
                && (msg_epoch.conf_ver <= local.conf_ver || to_id <= local_peer)
            {
                return Ok(false);
            }
        }
        if self
            .find_overlap(&msg.start_key, &msg.end_key, region_id)
            .is_some()
        {
            // This store has not applied the split that created the region
            // yet; the split will create the peer.
            return Ok(false);
        }
        let to = msg.to_peer.unwrap_or_default();
        let region = metapb::Region {
            id: region_id,
            ..Default::default()
        };
        let peer = Peer::new(self.store_id, &self.cfg, self.engine.clone(), region, to.id)?;
        tracing::info!(
            store_id = self.store_id,
            region_id,
            peer_id = to.id,
            "created peer from message"
        );
        self.insert_peer(peer);
        Ok(true)
    }

    /// A snapshot may only be installed if its range overlaps no other
    /// region on this store.
    fn check_snapshot(&self, msg: &RaftMessage, raft_msg: &raft::eraftpb::Message) -> Result<bool> {
        let data = proto::raft_serverpb::SnapshotData::decode(&raft_msg.get_snapshot().data[..])?;
        let region = data.region.unwrap_or_default();
        if let Some(other) = self.find_overlap(&region.start_key, &region.end_key, msg.region_id) {
            tracing::info!(
                region_id = msg.region_id,
                other,
                "snapshot overlaps another region; dropped"
            );
            return Ok(false);
        }
        Ok(true)
    }

    fn on_tombstone_message(&mut self, msg: &RaftMessage) -> Result<()> {
        let region_id = msg.region_id;
        let Some(peer) = self.peers.get(&region_id) else {
            return Ok(());
        };
        let to_id = msg.to_peer.as_ref().map_or(0, |p| p.id);
        let msg_epoch = msg.region_epoch.unwrap_or_default();
        if peer.peer_id() == to_id && peer.epoch().conf_ver < msg_epoch.conf_ver {
            tracing::info!(
                region_id,
                peer_id = to_id,
                "peer was removed from its region; destroying"
            );
            self.destroy_peer(region_id, false)?;
        }
        Ok(())
    }

    /// Removes a peer and its raft state; its data too unless another peer
    /// of the same region (`replacing`) takes over the range at once.
    pub(super) fn destroy_peer(&mut self, region_id: u64, replacing: bool) -> Result<()> {
        let Some(mut peer) = self.peers.remove(&region_id) else {
            return Ok(());
        };
        let region = peer.region().clone();
        self.snapshots.remove(region_id);
        if peer.is_initialized() {
            let key = keys::data_end_key(&region.end_key);
            if self.region_ranges.get(&key) == Some(&region_id) {
                self.region_ranges.remove(&key);
            }
        }
        let mut wb = WriteBatch::default();
        if peer.is_initialized() && !replacing {
            clear_region_data(&mut wb, &region);
            if let Some(o) = &self.observer {
                o.on_range_reset(&region.start_key, &region.end_key, &mut wb);
            }
        }
        clear_raft_state(&mut wb, &region);
        self.engine.write(&wb, true)?;
        peer.on_lost_leadership();
        let err = Error::RegionNotFound(region_id);
        for cb in peer.proposals.drain(..).flat_map(|p| p.cbs) {
            let _ = cb.send(Err(clone_err(&err)));
        }
        tracing::info!(
            store_id = self.store_id,
            region_id,
            peer_id = peer.peer_id(),
            "peer destroyed"
        );
        Ok(())
    }

    /// Advances the clock to `now` and runs the periodic work that is due:
    /// raft ticks, log GC, split checks, heartbeats to PD.
    pub fn tick(&mut self, now: Instant) {
        self.now = now;
        if now >= self.ticks.raft {
            self.ticks.raft = now + self.cfg.raft_base_tick_interval;
            let mut caught_up = Vec::new();
            for peer in self.peers.values_mut() {
                peer.raft.tick();
                peer.expire_reads(now, &self.cfg);
                // PD waits for pending peers to catch up before its next
                // operator step: tell it as soon as they have.
                if peer.reported_pending && peer.is_leader() && peer.pending_peers().is_empty() {
                    caught_up.push(peer.region_id());
                }
            }
            for id in caught_up {
                self.heartbeat_pd(id);
            }
        }
        if now >= self.ticks.gc {
            self.ticks.gc = now + self.cfg.raft_log_gc_tick_interval;
            for peer in self.peers.values_mut() {
                peer.on_raft_gc_tick(&self.cfg, now);
            }
        }
        if now >= self.ticks.split_check {
            self.ticks.split_check = now + self.cfg.split_region_check_tick_interval;
            self.schedule_split_checks();
        }
        if now >= self.ticks.pd_heartbeat {
            self.ticks.pd_heartbeat = now + self.cfg.pd_heartbeat_tick_interval;
            let ids: Vec<u64> = self.peers.keys().copied().collect();
            for id in ids {
                self.heartbeat_pd(id);
            }
        }
        if now >= self.ticks.store_heartbeat {
            self.ticks.store_heartbeat = now + self.cfg.pd_store_heartbeat_tick_interval;
            self.store_heartbeat();
        }
    }

    fn schedule_split_checks(&mut self) {
        let threshold = (self.cfg.region_split_size / 16).max(1);
        for peer in self.peers.values_mut() {
            if !peer.is_leader() || peer.split_checking {
                continue;
            }
            if peer.approximate_size != 0 && peer.size_diff_hint < threshold {
                continue;
            }
            if peer.approximate_size == 0 && peer.size_diff_hint == 0 && peer.split_checked_once {
                continue;
            }
            peer.split_checking = true;
            peer.split_checked_once = true;
            peer.size_diff_hint = 0;
            peer.keys_diff_hint = 0;
            let task = SplitCheckTask {
                region: peer.region().clone(),
                snapshot: self.engine.snapshot(),
                split_size: self.cfg.region_split_size,
            };
            if self.split_checker.send(task).is_err() {
                peer.split_checking = false;
            }
        }
    }

    fn on_split_check_result(
        &mut self,
        region_id: u64,
        epoch: metapb::RegionEpoch,
        size: u64,
        keys: u64,
        split_key: Option<Vec<u8>>,
    ) {
        let Some(peer) = self.peers.get_mut(&region_id) else {
            return;
        };
        peer.split_checking = false;
        if peer.epoch().version != epoch.version {
            return;
        }
        peer.approximate_size = size;
        peer.approximate_keys = keys;
        if let Some(split_key) = split_key
            && peer.is_leader()
        {
            let _ = self.pd_tasks.send(PdTask::AskSplit {
                region: peer.region().clone(),
                split_key,
            });
        }
    }

    /// Reports a region this store leads to PD.
    pub(super) fn heartbeat_pd(&mut self, region_id: u64) {
        let Some(peer) = self.peers.get_mut(&region_id) else {
            return;
        };
        if !peer.is_leader() || !peer.is_initialized() {
            return;
        }
        let (bytes, keys) = self.read_flow.take(region_id);
        peer.read_bytes += bytes;
        peer.read_keys += keys;
        let req = peer.region_heartbeat(&self.cfg, self.now);
        let _ = self.pd_tasks.send(PdTask::RegionHeartbeat(Box::new(req)));
    }

    fn store_heartbeat(&mut self) {
        let stats = proto::pdpb::StoreStats {
            store_id: self.store_id,
            region_count: self.peers.len() as u32,
            leader_count: self.peers.values().filter(|p| p.is_leader()).count() as u32,
            used_size: self.engine.used_size(),
            start_time: self.started_at,
            ..Default::default()
        };
        let _ = self.pd_tasks.send(PdTask::StoreHeartbeat(stats));
    }
}
