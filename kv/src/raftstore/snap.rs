//! # Snapshots: generated off the store loop, streamed from an engine snapshot
//!
//! A leader sends a snapshot when a follower (or a new learner) needs
//! entries its log no longer has. Reading a whole region must not stall
//! the store loop, and must not hold the region in memory:
//!
//! ```text
//!  raft-rs ── Storage::snapshot ──> PeerStorage: not ready yet (TemporarilyUnavailable),
//!                                   generation wanted
//!  store loop ── GenTask { region, engine snapshot } ──> generator thread (worker::snap_gen)
//!  generator:  applied index, term, region read FROM THAT engine snapshot
//!              (written atomically with the data) -> Source registered,
//!              header snapshot (region, no keys) -> StoreMsg::SnapshotGenerated
//!  raft-rs asks again at its next probe: gets the header snapshot, sends MsgSnapshot
//!  transport:  streams the Source's keys in chunks (one CfData each), read as
//!              they are sent; the receiver reassembles, the store installs
//! ```
//!
//! The snapshot's label (index, term, membership) and its keys come from
//! the same engine snapshot, so a follower never installs a snapshot that
//! lacks writes it claims to contain. A `Source` pins its engine snapshot
//! until the send is reported, a newer one replaces it, or the peer goes.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use prost::Message as _;
use proto::metapb;
use proto::raft_serverpb::{CfData, RaftApplyState, RaftMessage, RegionLocalState, SnapshotData};
use protobuf::Message as _;
use raft::eraftpb::{Entry, Snapshot};

use super::peer_storage::conf_state_from_region;
use crate::engine::{CF_RAFT, DATA_CFS, SnapshotRef};
use crate::{Error, Result, keys};

/// A generated snapshot's data: the engine snapshot it was read from.
pub struct Source {
    pub index: u64,
    pub term: u64,
    pub region: metapb::Region,
    snapshot: SnapshotRef,
}

/// The sources of the snapshots a store generated, by region; shared by
/// the store loop, the generator and the transport.
#[derive(Clone, Default)]
pub struct SnapshotSources {
    inner: Arc<Mutex<HashMap<u64, Arc<Source>>>>,
}

impl SnapshotSources {
    pub fn insert(&self, source: Source) {
        self.inner.lock().insert(source.region.id, Arc::new(source));
    }

    /// The source of the snapshot of `region_id` labelled `(index, term)`.
    pub fn get(&self, region_id: u64, index: u64, term: u64) -> Option<Arc<Source>> {
        self.inner
            .lock()
            .get(&region_id)
            .filter(|s| s.index == index && s.term == term)
            .cloned()
    }

    pub fn remove(&self, region_id: u64) {
        self.inner.lock().remove(&region_id);
    }

    pub fn len(&self) -> usize {
        self.inner.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A region whose snapshot raft-rs wants, with the engine snapshot to read
/// it from (taken by the store loop between apply batches).
pub struct GenTask {
    pub region_id: u64,
    pub snapshot: SnapshotRef,
}

/// Builds the raft snapshot of a task's region: label and membership from
/// the engine snapshot, data only the header (the keys are streamed from
/// the returned source).
pub fn generate(task: &GenTask) -> Result<(Snapshot, Source)> {
    let engine = task.snapshot.as_ref();
    let id = task.region_id;
    let missing = |what: &str| Error::Engine(format!("region {id}: no {what} to snapshot"));
    let apply = engine
        .get(CF_RAFT, &keys::apply_state_key(id))?
        .ok_or_else(|| missing("apply state"))?;
    let apply = RaftApplyState::decode(apply.as_slice())?;
    let region = engine
        .get(CF_RAFT, &keys::region_state_key(id))?
        .ok_or_else(|| missing("region state"))?;
    let region = RegionLocalState::decode(region.as_slice())?
        .region
        .ok_or_else(|| missing("region"))?;
    let index = apply.applied_index;
    let truncated = apply.truncated_state.unwrap_or_default();
    let term = if index == truncated.index {
        truncated.term
    } else {
        let entry = engine
            .get(CF_RAFT, &keys::raft_log_key(id, index))?
            .ok_or_else(|| missing("raft log entry at the applied index"))?;
        Entry::parse_from_bytes(&entry)?.term
    };
    let header = SnapshotData {
        region: Some(region.clone()),
        data: Vec::new(),
    };
    let mut snap = Snapshot {
        data: header.encode_to_vec().into(),
        ..Default::default()
    };
    let meta = snap.mut_metadata();
    meta.index = index;
    meta.term = term;
    meta.set_conf_state(conf_state_from_region(&region));
    let source = Source {
        index,
        term,
        region,
        snapshot: task.snapshot.clone(),
    };
    Ok((snap, source))
}

/// Runs one generation and registers its source: what the generator
/// thread (and a test driving the store by hand) does with a task.
pub fn run_task(task: GenTask, sources: &SnapshotSources) -> super::StoreMsg {
    let region_id = task.region_id;
    let result = generate(&task).map(|(snap, source)| {
        sources.insert(source);
        snap
    });
    super::StoreMsg::SnapshotGenerated {
        region_id,
        snapshot: result,
    }
}

/// Reads the source's keys in pieces of about `chunk_size` bytes, one
/// column family at a time, handing each to `emit` as it fills; `emit`
/// returns false to stop (the receiver went away).
pub fn for_each_chunk(
    source: &Source,
    chunk_size: usize,
    emit: &mut dyn FnMut(CfData) -> bool,
) -> Result<()> {
    let start = keys::data_key(&source.region.start_key);
    let end = keys::data_end_key(&source.region.end_key);
    let mut go_on = true;
    for cf in DATA_CFS {
        let mut chunk = CfData {
            cf: cf.to_string(),
            ..Default::default()
        };
        let mut bytes = 0;
        source.snapshot.scan(cf, &start, &end, &mut |k, v| {
            chunk.keys.push(k.to_vec());
            chunk.values.push(v.to_vec());
            bytes += k.len() + v.len();
            if bytes >= chunk_size {
                bytes = 0;
                let full = std::mem::replace(
                    &mut chunk,
                    CfData {
                        cf: cf.to_string(),
                        ..Default::default()
                    },
                );
                go_on = emit(full);
            }
            go_on
        })?;
        if !go_on {
            return Ok(());
        }
        if !chunk.keys.is_empty() && !emit(chunk) {
            return Ok(());
        }
    }
    Ok(())
}

/// The raft message of a streamed snapshot with its chunks put back into
/// the snapshot's data, as the store loop installs it.
pub fn assemble(mut head: RaftMessage, chunks: Vec<CfData>) -> Result<RaftMessage> {
    let mut raft_msg = raft::eraftpb::Message::parse_from_bytes(&head.message)?;
    let mut data = SnapshotData::decode(&raft_msg.get_snapshot().data[..])?;
    data.data.extend(chunks);
    raft_msg.mut_snapshot().data = data.encode_to_vec().into();
    head.message = raft_msg.write_to_bytes()?;
    Ok(head)
}

/// The label of the snapshot a raft message carries: `(index, term)`.
pub fn label(msg: &RaftMessage) -> Result<(u64, u64)> {
    let raft_msg = raft::eraftpb::Message::parse_from_bytes(&msg.message)?;
    let meta = raft_msg.get_snapshot().get_metadata();
    Ok((meta.index, meta.term))
}
