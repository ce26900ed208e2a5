//! Messages into a store's loop, and the callbacks that answer them.
//!
//! Everything that changes a region goes through the store loop's channel:
//! raft messages from other stores, client reads and writes, results of
//! background work (split checks, PD answers) and transport reports.

use proto::metapb;
use proto::pdpb::RegionHeartbeatResponse;
use proto::raft_cmdpb::Request;
use proto::raft_serverpb::RaftMessage;
use tokio::sync::oneshot;

use crate::Result;
use crate::engine::SnapshotRef;

/// What a client request names: the region, the epoch it saw, the peer.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub region_id: u64,
    pub region_epoch: Option<metapb::RegionEpoch>,
    pub peer: Option<metapb::Peer>,
    /// For a write: the leader term the caller read its snapshot in (from
    /// [`ReadResponse::term`]); the write is refused with `StaleCommand` if
    /// the region's leader is in another term by now. Zero: no check.
    /// Read-modify-write commands (Percolator actions) rely on this: a
    /// snapshot from one leadership and a write under another could miss
    /// what the leader in between wrote.
    pub term: u64,
    /// A read served by this peer whether or not it leads (learners of a
    /// columnar store): ReadIndex from the leader, then wait until applied.
    pub replica_read: bool,
}

impl From<Option<proto::kvrpcpb::Context>> for RequestContext {
    fn from(ctx: Option<proto::kvrpcpb::Context>) -> Self {
        let ctx = ctx.unwrap_or_default();
        RequestContext {
            region_id: ctx.region_id,
            region_epoch: ctx.region_epoch,
            peer: ctx.peer,
            term: 0,
            replica_read: ctx.replica_read,
        }
    }
}

/// A linearizable view of a region: an engine snapshot taken after the
/// leader confirmed it still leads (lease or ReadIndex) and had applied every
/// entry committed before the read arrived.
pub struct ReadResponse {
    pub snapshot: SnapshotRef,
    pub region: metapb::Region,
    /// The leader's term when the snapshot was taken.
    pub term: u64,
}

pub type ReadCallback = oneshot::Sender<Result<ReadResponse>>;
pub type WriteCallback = oneshot::Sender<Result<()>>;

/// Region state reported to callers that ask (tests, the harness).
#[derive(Debug, Clone)]
pub struct PeerStatus {
    pub region: metapb::Region,
    pub peer_id: u64,
    pub is_leader: bool,
    pub leader_id: u64,
    pub term: u64,
    pub applied_index: u64,
    pub commit_index: u64,
    pub last_index: u64,
    pub truncated_index: u64,
}

pub enum StoreMsg {
    /// A raft message from another store.
    Raft(Box<RaftMessage>),
    Read {
        ctx: RequestContext,
        cb: ReadCallback,
    },
    Write {
        ctx: RequestContext,
        requests: Vec<Request>,
        cb: WriteCallback,
    },
    /// The split checker measured a region.
    SplitCheckResult {
        region_id: u64,
        epoch: metapb::RegionEpoch,
        size: u64,
        keys: u64,
        split_key: Option<Vec<u8>>,
    },
    /// An admin request to split a region at a key.
    SplitRegion {
        ctx: RequestContext,
        split_key: Vec<u8>,
        cb: WriteCallback,
    },
    /// PD allocated ids for a split: propose it.
    ProposeSplit {
        region_id: u64,
        epoch: metapb::RegionEpoch,
        split_key: Vec<u8>,
        new_region_id: u64,
        new_peer_ids: Vec<u64>,
    },
    /// An operator step from PD for a region this store leads.
    PdOperator(Box<RegionHeartbeatResponse>),
    /// The generator built a snapshot raft-rs asked for (see `snap`).
    SnapshotGenerated {
        region_id: u64,
        snapshot: Result<raft::eraftpb::Snapshot>,
    },
    /// The transport finished sending a snapshot.
    SnapshotStatus {
        region_id: u64,
        to_peer_id: u64,
        ok: bool,
    },
    Unreachable {
        region_id: u64,
        to_peer_id: u64,
    },
    /// Status of every peer on this store.
    Status(oneshot::Sender<Vec<PeerStatus>>),
    Shutdown,
}
