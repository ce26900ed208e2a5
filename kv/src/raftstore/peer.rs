//! # Peer: one replica of one region on this store
//!
//! A `Peer` wraps raft-rs' [`RawNode`] over a [`PeerStorage`] and keeps what
//! the store needs around it:
//!
//! * **proposals** waiting for their entry to be applied, matched by
//!   `(index, term)`; an entry at that index with another term means a new
//!   leader overwrote it, and the proposer hears `StaleCommand`;
//! * **reads** (see [`super::operation::read`]): served at once under a valid
//!   leader lease, otherwise batched into one ReadIndex per loop iteration;
//! * the **leader lease**, renewed whenever a quorum confirms this leader
//!   (a ReadIndex round trip, or the commit of an entry proposed in this
//!   term), measured from the moment the request was *sent*;
//! * liveness of the other peers (`peer_heartbeats`) for PD's down-peer
//!   report, and flow statistics for region heartbeats.
//!
//! The peer does no I/O of its own: the store loop persists its readies,
//! sends its messages and writes its apply batches.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use prost::Message as _;
use proto::metapb::{self, PeerRole};
use proto::raft_cmdpb::{RaftCmdRequest, RaftRequestHeader, Request};
use raft::eraftpb::ConfChange;
use raft::{RawNode, StateRole};

use super::config::Config;
use super::msg::{PeerStatus, ReadCallback, RequestContext, WriteCallback};
use super::peer_storage::PeerStorage;
use crate::engine::EngineRef;
use crate::{Error, Result};

/// A write batch is flushed early once its keys and values reach this size.
const MAX_WRITE_BATCH_BYTES: usize = 512 * 1024;

pub struct Proposal {
    pub index: u64,
    pub term: u64,
    /// Everyone waiting for this entry (client writes share entries).
    pub cbs: Vec<WriteCallback>,
    pub proposed_at: Instant,
}

/// A batch of reads that share one ReadIndex request.
/// A read waiting for its ReadIndex, with the epoch version it was checked
/// against: a split applied while it waits changes the region's range, and
/// the reader (who clamps scans to the range it believes) must hear
/// `EpochNotMatch` instead of a snapshot of the narrower region.
pub type QueuedRead = (u64, ReadCallback);

pub struct ReadIndexRequest {
    pub id: u64,
    pub cbs: Vec<QueuedRead>,
    pub sent_at: Instant,
    /// Set when the ReadIndex came back: the commit index to wait for.
    pub read_index: Option<u64>,
}

pub struct Peer {
    pub store_id: u64,
    pub peer: metapb::Peer,
    pub raft: RawNode<PeerStorage>,
    pub proposals: VecDeque<Proposal>,
    /// Checked client writes waiting for this iteration's flush.
    pub pending_writes: Vec<(Vec<Request>, WriteCallback)>,
    pub pending_write_bytes: usize,
    /// Reads that arrived this iteration, not yet sent as a ReadIndex.
    pub queued_reads: Vec<QueuedRead>,
    pub inflight_reads: VecDeque<ReadIndexRequest>,
    pub next_read_id: u64,
    pub lease_expire: Option<Instant>,
    /// When each other peer was last heard from (kept while leader).
    pub peer_heartbeats: HashMap<u64, Instant>,
    pub approximate_size: u64,
    pub approximate_keys: u64,
    /// Bytes written since the last split check.
    pub size_diff_hint: u64,
    /// Keys written since the last split check.
    pub keys_diff_hint: u64,
    pub written_bytes: u64,
    pub written_keys: u64,
    pub read_bytes: u64,
    pub read_keys: u64,
    /// Set once the peer was removed from its region; the store destroys it.
    pub pending_remove: bool,
    /// Hard state changed without a ready (commit index from a light ready).
    pub raft_state_dirty: bool,
    /// Whether a split check is in flight for this region.
    pub split_checking: bool,
    pub split_checked_once: bool,
    /// The last region heartbeat listed pending peers.
    pub reported_pending: bool,
    pub last_compacted_idx: u64,
    /// Peers learnt from incoming messages: an uninitialized peer does not
    /// know its region's members but must answer the leader.
    pub peer_cache: HashMap<u64, metapb::Peer>,
    /// A peer loaded at a store's restart votes for no one until then
    /// unless it hears from a leader first ([`Peer::refuses_vote`]).
    pub no_vote_until: Option<Instant>,
}

impl Peer {
    /// Whether to drop this (pre-)vote request unanswered: the peer was
    /// just loaded at a restart, has heard from no leader, and the
    /// request is not a leadership transfer. A restarted peer knows no
    /// leader, so raft's check-quorum guard (no vote while a leader is
    /// heard from) does not hold it back; granting at once would let a
    /// candidate win while the old leader's lease still serves reads
    /// (tikv#15035). One election timeout is as long as a leader's lease
    /// can outlive its last contact with this peer.
    pub fn refuses_vote(&self, msg: &raft::eraftpb::Message, now: Instant) -> bool {
        use raft::eraftpb::MessageType;
        matches!(
            msg.get_msg_type(),
            MessageType::MsgRequestVote | MessageType::MsgRequestPreVote
        ) && self.raft.raft.leader_id == raft::INVALID_ID
            && self.no_vote_until.is_some_and(|until| now < until)
            && msg.get_context() != raft::CAMPAIGN_TRANSFER
    }

    pub fn new(
        store_id: u64,
        cfg: &Config,
        engine: EngineRef,
        region: metapb::Region,
        peer_id: u64,
    ) -> Result<Peer> {
        let storage = PeerStorage::load(engine, region)?;
        let raft_cfg = raft::Config {
            id: peer_id,
            election_tick: cfg.raft_election_timeout_ticks,
            max_election_tick: cfg.raft_max_election_timeout_ticks,
            heartbeat_tick: cfg.raft_heartbeat_ticks,
            applied: storage.applied_index,
            max_size_per_msg: cfg.raft_max_size_per_msg,
            max_inflight_msgs: cfg.raft_max_inflight_msgs,
            check_quorum: true,
            pre_vote: true,
            ..Default::default()
        };
        raft_cfg.validate()?;
        let region = storage.region.clone();
        let peer = region
            .peers
            .iter()
            .find(|p| p.id == peer_id)
            .cloned()
            .unwrap_or(metapb::Peer {
                id: peer_id,
                store_id,
                role: PeerRole::Voter as i32,
            });
        let logger = super::raft_log::peer_logger(region.id, peer_id);
        let raft = RawNode::new(&raft_cfg, storage, &logger)?;
        Ok(Peer {
            store_id,
            peer,
            raft,
            proposals: VecDeque::new(),
            pending_writes: Vec::new(),
            pending_write_bytes: 0,
            queued_reads: Vec::new(),
            inflight_reads: VecDeque::new(),
            // Not 1: a leader may still hold a read of this peer's previous
            // incarnation (before a restart), and raft-rs drops a request
            // whose context repeats a pending one.
            next_read_id: u64::from(rand::random::<u32>()) + 1,
            lease_expire: None,
            peer_heartbeats: HashMap::new(),
            approximate_size: 0,
            approximate_keys: 0,
            size_diff_hint: 0,
            keys_diff_hint: 0,
            written_bytes: 0,
            written_keys: 0,
            read_bytes: 0,
            read_keys: 0,
            pending_remove: false,
            raft_state_dirty: false,
            split_checking: false,
            split_checked_once: false,
            reported_pending: false,
            last_compacted_idx: 0,
            no_vote_until: None,
            peer_cache: HashMap::new(),
        })
    }

    pub fn region_id(&self) -> u64 {
        self.region().id
    }

    pub fn peer_id(&self) -> u64 {
        self.peer.id
    }

    pub fn region(&self) -> &metapb::Region {
        &self.raft.store().region
    }

    pub fn storage(&self) -> &PeerStorage {
        self.raft.store()
    }

    pub fn storage_mut(&mut self) -> &mut PeerStorage {
        self.raft.mut_store()
    }

    pub fn is_initialized(&self) -> bool {
        self.storage().is_initialized()
    }

    pub fn is_leader(&self) -> bool {
        self.raft.raft.state == StateRole::Leader
    }

    pub fn term(&self) -> u64 {
        self.raft.raft.term
    }

    pub fn leader_id(&self) -> u64 {
        self.raft.raft.leader_id
    }

    /// The leader as a `metapb::Peer`, if known and in the region.
    pub fn leader(&self) -> Option<metapb::Peer> {
        let id = self.leader_id();
        self.region().peers.iter().find(|p| p.id == id).cloned()
    }

    pub fn epoch(&self) -> metapb::RegionEpoch {
        self.region().region_epoch.unwrap_or_default()
    }

    pub fn not_leader(&self) -> Error {
        Error::NotLeader {
            region_id: self.region_id(),
            leader: self.leader(),
        }
    }

    pub fn status(&self) -> PeerStatus {
        PeerStatus {
            region: self.region().clone(),
            peer_id: self.peer_id(),
            is_leader: self.is_leader(),
            leader_id: self.leader_id(),
            term: self.term(),
            applied_index: self.storage().applied_index,
            commit_index: self.raft.raft.raft_log.committed,
            last_index: self.storage().last_index,
            truncated_index: self.storage().truncated_index,
        }
    }

    /// Checks that a client request may be served here: this peer leads
    /// and the client's epoch is current. Data requests are only refused on
    /// a `version` change (split/merge moved keys); a membership change
    /// (`conf_ver`) does not move keys.
    pub fn check_request(&self, ctx: &RequestContext) -> Result<()> {
        if !self.is_leader() {
            return Err(self.not_leader());
        }
        self.check_replica_request(ctx)
    }

    /// [`Peer::check_request`] for a replica read: the request names this
    /// peer and the current epoch; leadership does not matter.
    pub fn check_replica_request(&self, ctx: &RequestContext) -> Result<()> {
        if let Some(p) = &ctx.peer
            && p.id != 0
            && p.id != self.peer_id()
        {
            return Err(self.not_leader());
        }
        let current = self.epoch();
        match &ctx.region_epoch {
            Some(e) if e.version == current.version => Ok(()),
            _ => Err(Error::EpochNotMatch(vec![self.region().clone()])),
        }
    }

    /// Checks that `key` lies in this region.
    pub fn check_key(&self, key: &[u8]) -> Result<()> {
        check_key_in_region(self.region(), key)
    }

    fn header(&self) -> RaftRequestHeader {
        RaftRequestHeader {
            region_id: self.region_id(),
            peer: Some(self.peer),
            region_epoch: Some(self.epoch()),
        }
    }

    /// Proposes a command; `cbs` hear the outcome once it is applied, or
    /// the error at once if it cannot be proposed.
    pub fn propose(
        &mut self,
        cmd: RaftCmdRequest,
        cbs: Vec<WriteCallback>,
        now: Instant,
    ) -> Result<()> {
        match self.try_propose(cmd) {
            Ok(index) => {
                self.proposals.push_back(Proposal {
                    index,
                    term: self.term(),
                    cbs,
                    proposed_at: now,
                });
                Ok(())
            }
            Err(e) => {
                for cb in cbs {
                    let _ = cb.send(Err(clone_err(&e)));
                }
                Err(e)
            }
        }
    }

    /// Appends the command to the raft log; returns its index.
    fn try_propose(&mut self, mut cmd: RaftCmdRequest) -> Result<u64> {
        if !self.is_leader() {
            return Err(self.not_leader());
        }
        if self.raft.raft.lead_transferee.is_some() {
            return Err(Error::ServerIsBusy("leader transfer in progress".into()));
        }
        if cmd.header.is_none() {
            cmd.header = Some(self.header());
        }
        let last = self.raft.raft.raft_log.last_index();
        self.raft.propose(vec![], cmd.encode_to_vec())?;
        let index = self.raft.raft.raft_log.last_index();
        if index == last {
            return Err(self.not_leader());
        }
        Ok(index)
    }

    /// Proposes client writes after checking the request and its keys.
    pub fn propose_write(
        &mut self,
        ctx: &RequestContext,
        requests: Vec<Request>,
        cb: WriteCallback,
        now: Instant,
    ) {
        let checked = self.check_request(ctx).and_then(|()| {
            if ctx.term != 0 && ctx.term != self.term() {
                return Err(Error::StaleCommand);
            }
            requests.iter().try_for_each(|r| {
                self.check_key(&r.key)?;
                if !r.end_key.is_empty() {
                    let r_end = &self.region().end_key;
                    if !r_end.is_empty() && r.end_key > *r_end {
                        return self.check_key(&r.end_key);
                    }
                }
                Ok(())
            })
        });
        if let Err(e) = checked {
            let _ = cb.send(Err(e));
            return;
        }
        self.pending_write_bytes += requests
            .iter()
            .map(|r| r.key.len() + r.value.len())
            .sum::<usize>();
        self.pending_writes.push((requests, cb));
        if self.pending_write_bytes >= MAX_WRITE_BATCH_BYTES {
            self.flush_writes(now);
        }
    }

    /// Proposes the writes that arrived this iteration as one raft entry:
    /// one log append, one replication round and one apply for all of them.
    /// They were checked against the same epoch (nothing is applied between
    /// receiving them and this flush), so they succeed or fail together.
    pub fn flush_writes(&mut self, now: Instant) {
        if self.pending_writes.is_empty() {
            return;
        }
        self.pending_write_bytes = 0;
        let mut requests = Vec::new();
        let mut cbs = Vec::with_capacity(self.pending_writes.len());
        for (reqs, cb) in self.pending_writes.drain(..) {
            requests.extend(reqs);
            cbs.push(cb);
        }
        let cmd = RaftCmdRequest {
            header: Some(self.header()),
            requests,
            admin_request: None,
        };
        if let Err(e) = self.propose(cmd, cbs, now) {
            tracing::debug!(
                region_id = self.region_id(),
                "write batch not proposed: {e}"
            );
        }
    }

    /// Proposes a membership change for `peer`.
    pub fn propose_conf_change(&mut self, cc: ConfChange, peer: metapb::Peer) -> Result<()> {
        if !self.is_leader() {
            return Err(self.not_leader());
        }
        if self.raft.raft.has_pending_conf() {
            return Err(Error::ServerIsBusy("a membership change is pending".into()));
        }
        let cmd = RaftCmdRequest {
            header: Some(self.header()),
            requests: vec![],
            admin_request: Some(proto::raft_cmdpb::AdminRequest {
                change_peer: Some(proto::raft_cmdpb::ChangePeerRequest {
                    peer: Some(peer),
                    change_type: cc.get_change_type() as u32,
                }),
                ..Default::default()
            }),
        };
        self.raft.propose_conf_change(cmd.encode_to_vec(), cc)?;
        Ok(())
    }

    /// Hands leadership to `peer_id`. Lease reads stop at once: the
    /// transferee campaigns without waiting for the old lease to run out.
    pub fn transfer_leader(&mut self, peer_id: u64) {
        self.lease_expire = None;
        self.raft.transfer_leader(peer_id);
    }

    pub fn remember_peer(&mut self, peer: metapb::Peer) {
        if peer.id != 0 && !self.peer_cache.contains_key(&peer.id) {
            self.peer_cache.insert(peer.id, peer);
        }
    }

    /// The `metapb::Peer` for a raft id: from the region, else from the cache.
    pub fn find_peer(&self, id: u64) -> Option<metapb::Peer> {
        self.region()
            .peers
            .iter()
            .find(|p| p.id == id)
            .cloned()
            .or_else(|| self.peer_cache.get(&id).cloned())
    }

    pub fn lease_valid(&self, now: Instant) -> bool {
        self.is_leader()
            && self.raft.raft.lead_transferee.is_none()
            && self.lease_expire.is_some_and(|t| now < t)
            && self.storage().applied_term == self.term()
    }

    pub fn renew_lease(&mut self, confirmed_at: Instant, cfg: &Config) {
        if self.is_leader() && self.raft.raft.lead_transferee.is_none() {
            let until = confirmed_at + cfg.leader_lease();
            if self.lease_expire.is_none_or(|t| t < until) {
                self.lease_expire = Some(until);
            }
        }
    }

    /// Called when this peer stops leading: nothing it promised as leader
    /// can be kept.
    pub fn on_lost_leadership(&mut self) {
        self.lease_expire = None;
        let err = self.not_leader();
        for (_, cb) in self.queued_reads.drain(..) {
            let _ = cb.send(Err(clone_err(&err)));
        }
        self.pending_write_bytes = 0;
        for (_, cb) in self.pending_writes.drain(..) {
            let _ = cb.send(Err(clone_err(&err)));
        }
        for req in self.inflight_reads.drain(..) {
            for (_, cb) in req.cbs {
                let _ = cb.send(Err(clone_err(&err)));
            }
        }
        self.peer_heartbeats.clear();
        self.abandon_proposals();
    }

    /// Answers every proposal still waiting for its entry: this peer may
    /// never apply it (it lost leadership; a quorum may be gone), or the
    /// entry may reach it inside a snapshot, which no proposal is matched
    /// against. The outcome is unknown — the entry may still commit under
    /// another leader — so callers hear a timeout, never a failure. A caller
    /// holding locks of its own (the txn latches) may release them: this
    /// store serves again only as leader of a later term, after applying
    /// every entry committed before it.
    pub fn abandon_proposals(&mut self) {
        for p in self.proposals.drain(..) {
            for cb in p.cbs {
                let _ = cb.send(Err(Error::Timeout(
                    "leadership lost before the write was applied; it may still apply".into(),
                )));
            }
        }
    }

    /// Peers the leader has not heard from for `max_down`.
    pub fn down_peers(
        &self,
        now: Instant,
        max_down: std::time::Duration,
    ) -> Vec<(metapb::Peer, u64)> {
        self.region()
            .peers
            .iter()
            .filter(|p| p.id != self.peer_id())
            .filter_map(|p| {
                let last = self.peer_heartbeats.get(&p.id)?;
                let silent = now.saturating_duration_since(*last);
                (silent >= max_down).then_some((*p, silent.as_secs()))
            })
            .collect()
    }

    /// Peers still catching up, as TiKV defines them: their log match is
    /// behind the leader's truncated index (they need a snapshot), or they
    /// are being sent one. The leader does not know of a peer it has no
    /// progress for yet, which also counts.
    pub fn pending_peers(&self) -> Vec<metapb::Peer> {
        let truncated = self.storage().truncated_index;
        let prs = self.raft.raft.prs();
        self.region()
            .peers
            .iter()
            .filter(|p| p.id != self.peer_id())
            .filter(|p| match prs.get(p.id) {
                Some(pr) => pr.matched < truncated || pr.state == raft::ProgressState::Snapshot,
                None => true,
            })
            .cloned()
            .collect()
    }
}

/// `KeyNotInRegion` unless `key` lies in `[region.start_key, region.end_key)`.
pub fn check_key_in_region(region: &metapb::Region, key: &[u8]) -> Result<()> {
    let r = region;
    if pd::core::region_contains(r, key) {
        Ok(())
    } else {
        Err(Error::KeyNotInRegion {
            key: key.to_vec(),
            region_id: r.id,
            start_key: r.start_key.clone(),
            end_key: r.end_key.clone(),
        })
    }
}

/// `Error` is not `Clone` (it wraps foreign errors); region errors are.
pub fn clone_err(e: &Error) -> Error {
    match e {
        Error::NotLeader { region_id, leader } => Error::NotLeader {
            region_id: *region_id,
            leader: *leader,
        },
        Error::EpochNotMatch(r) => Error::EpochNotMatch(r.clone()),
        Error::RegionNotFound(id) => Error::RegionNotFound(*id),
        Error::StaleCommand => Error::StaleCommand,
        Error::ServerIsBusy(s) => Error::ServerIsBusy(s.clone()),
        Error::Timeout(s) => Error::Timeout(s.clone()),
        Error::ShuttingDown => Error::ShuttingDown,
        other => Error::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use raft::eraftpb::{Message, MessageType};

    use super::*;
    use crate::engine::{MemoryEngine, WriteBatch};

    fn three_voters() -> metapb::Region {
        metapb::Region {
            id: 1,
            region_epoch: Some(metapb::RegionEpoch {
                conf_ver: 1,
                version: 1,
            }),
            peers: (1..=3)
                .map(|i| metapb::Peer {
                    id: i,
                    store_id: i,
                    role: PeerRole::Voter as i32,
                })
                .collect(),
            ..Default::default()
        }
    }

    fn vote_request(t: MessageType, context: &[u8]) -> Message {
        let mut m = Message::default();
        m.set_msg_type(t);
        m.from = 2;
        m.to = 1;
        m.term = 10;
        m.context = context.to_vec().into();
        m
    }

    /// A peer loaded at a restart grants no vote for an election timeout
    /// unless it hears from a leader or the vote is a leadership transfer
    /// (tikv#15035: a new leader must not win while the old one's lease
    /// may still serve reads).
    #[test]
    fn a_restarted_peer_waits_an_election_timeout_before_voting() {
        let engine: EngineRef = Arc::new(MemoryEngine::new());
        let mut wb = WriteBatch::default();
        PeerStorage::write_initial_state(&mut wb, &three_voters());
        engine.write(&wb, true).unwrap();
        let cfg = Config::for_tests();
        let mut peer = Peer::new(1, &cfg, engine, three_voters(), 1).unwrap();
        let now = Instant::now();
        peer.no_vote_until = Some(now + cfg.election_timeout());
        for t in [MessageType::MsgRequestPreVote, MessageType::MsgRequestVote] {
            assert!(peer.refuses_vote(&vote_request(t, b""), now));
            assert!(!peer.refuses_vote(&vote_request(t, raft::CAMPAIGN_TRANSFER), now));
            assert!(!peer.refuses_vote(&vote_request(t, b""), now + cfg.election_timeout()));
        }
        assert!(!peer.refuses_vote(&vote_request(MessageType::MsgAppend, b""), now));
        // Once a leader is known, raft's own check-quorum guard decides.
        peer.raft.raft.leader_id = 3;
        assert!(!peer.refuses_vote(&vote_request(MessageType::MsgRequestVote, b""), now));
    }
}
