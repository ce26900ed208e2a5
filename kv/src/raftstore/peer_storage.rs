//! # Peer storage: a region's raft log and states, backed by the engine
//!
//! Implements raft-rs' [`raft::Storage`] over the `raft` column family. What
//! it keeps in memory mirrors what is (or is about to be) persisted:
//!
//! ```text
//!            truncated                      applied        last
//! log:  ...  |  first_index ... ... ... ...  |  ...  ...   |
//!            '-- compacted away (snapshot covers it)
//! ```
//!
//! * `RaftLocalState` (hard state + last index) and log entries are written
//!   by the store loop in the *raft batch*, fsync'd before messages go out.
//! * `RaftApplyState` (applied index, truncated state) is written by the apply
//!   step in the *apply batch*, atomically with the data it applied, so a
//!   restart resumes after exactly the last applied entry.
//! * A snapshot is generated off the store loop from one engine snapshot
//!   (see [`super::snap`]): raft-rs hears `SnapshotTemporarilyUnavailable`
//!   until it is ready. It is installed by one batch that replaces the
//!   region's data and states.
//!
//! New regions (bootstrap, split) start with an empty log at index/term
//! [`RAFT_INIT_LOG_INDEX`]/[`RAFT_INIT_LOG_TERM`], as in TiKV, so a peer that
//! joins later always needs a snapshot first: there is no entry 1 to replay.

use prost::Message as _;
use proto::metapb::{self, PeerRole};
use proto::raft_serverpb::{
    PeerState, RaftApplyState, RaftLocalState, RaftTruncatedState, RegionLocalState, SnapshotData,
};
use protobuf::Message as PbMessage;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, StorageError};

use crate::engine::{CF_RAFT, DATA_CFS, EngineRef, WriteBatch};
use crate::{Result, keys};

pub const RAFT_INIT_LOG_TERM: u64 = 5;
pub const RAFT_INIT_LOG_INDEX: u64 = 5;

/// The raft log and states of one peer.
pub struct PeerStorage {
    engine: EngineRef,
    pub region: metapb::Region,
    pub hard_state: HardState,
    pub last_index: u64,
    last_term: u64,
    pub applied_index: u64,
    /// Term of the entry at `applied_index`.
    pub applied_term: u64,
    pub truncated_index: u64,
    pub truncated_term: u64,
    /// Where generating a snapshot for raft-rs stands. raft-rs asks
    /// through `&self`, hence the cell.
    generation: std::cell::RefCell<GenState>,
}

/// A snapshot's generation, from raft-rs asking to the snapshot it gets.
#[derive(Debug, Default)]
pub enum GenState {
    #[default]
    Idle,
    /// raft-rs asked; the store loop has not handed it to the generator.
    Wanted,
    Running,
    Ready(Snapshot),
}

pub fn conf_state_from_region(region: &metapb::Region) -> ConfState {
    let mut cs = ConfState::default();
    for p in &region.peers {
        if p.role == PeerRole::Learner as i32 {
            cs.learners.push(p.id);
        } else {
            cs.voters.push(p.id);
        }
    }
    cs
}

/// A region is initialized once it knows its range and peers (from bootstrap,
/// a split or a snapshot); a peer created by a message is not, until its
/// first snapshot arrives.
pub fn is_initialized(region: &metapb::Region) -> bool {
    !region.peers.is_empty()
}

fn raft_err(e: crate::Error) -> raft::Error {
    raft::Error::Store(StorageError::Other(Box::new(e)))
}

impl PeerStorage {
    /// Loads the peer's state from the engine. `region` is the region as the
    /// store knows it (from `RegionLocalState`, or a bare one for a peer
    /// created by a message).
    pub fn load(engine: EngineRef, region: metapb::Region) -> Result<PeerStorage> {
        let region_id = region.id;
        let mut s = PeerStorage {
            engine,
            region,
            hard_state: HardState::default(),
            last_index: 0,
            last_term: 0,
            applied_index: 0,
            applied_term: 0,
            truncated_index: 0,
            truncated_term: 0,
            generation: Default::default(),
        };
        if let Some(v) = s.engine.get(CF_RAFT, &keys::apply_state_key(region_id))? {
            let st = RaftApplyState::decode(v.as_slice())?;
            s.applied_index = st.applied_index;
            let t = st.truncated_state.unwrap_or_default();
            s.truncated_index = t.index;
            s.truncated_term = t.term;
        }
        if let Some(v) = s.engine.get(CF_RAFT, &keys::raft_state_key(region_id))? {
            let st = RaftLocalState::decode(v.as_slice())?;
            s.hard_state = HardState::parse_from_bytes(&st.hard_state)?;
            s.last_index = st.last_index;
        }
        // The commit index is persisted lazily; applied entries were committed.
        if s.hard_state.commit < s.applied_index {
            s.hard_state.commit = s.applied_index;
        }
        s.last_term = s.term_of(s.last_index)?;
        s.applied_term = s.term_of(s.applied_index)?;
        Ok(s)
    }

    /// Writes the initial states of a new initialized region into `wb`.
    pub fn write_initial_state(wb: &mut WriteBatch, region: &metapb::Region) {
        let hs = HardState {
            term: RAFT_INIT_LOG_TERM,
            commit: RAFT_INIT_LOG_INDEX,
            ..Default::default()
        };
        let raft_state = RaftLocalState {
            hard_state: hs.write_to_bytes().expect("encode hard state"),
            last_index: RAFT_INIT_LOG_INDEX,
        };
        wb.put(
            CF_RAFT,
            keys::raft_state_key(region.id),
            raft_state.encode_to_vec(),
        );
        wb.put(
            CF_RAFT,
            keys::apply_state_key(region.id),
            initial_apply_state(region).encode_to_vec(),
        );
        write_region_state(wb, region, PeerState::Normal);
    }

    pub fn region_id(&self) -> u64 {
        self.region.id
    }

    pub fn is_initialized(&self) -> bool {
        is_initialized(&self.region)
    }

    pub fn engine(&self) -> &EngineRef {
        &self.engine
    }

    fn term_of(&self, idx: u64) -> Result<u64> {
        if idx == 0 {
            return Ok(0);
        }
        if idx == self.truncated_index {
            return Ok(self.truncated_term);
        }
        match self
            .engine
            .get(CF_RAFT, &keys::raft_log_key(self.region.id, idx))?
        {
            Some(v) => Ok(Entry::parse_from_bytes(&v)?.term),
            None => Err(crate::Error::Engine(format!(
                "region {} raft log entry {idx} missing (truncated {}, last {})",
                self.region.id, self.truncated_index, self.last_index
            ))),
        }
    }

    /// Appends entries from a ready to the raft batch, dropping any
    /// conflicting tail of the old log.
    pub fn append(&mut self, entries: &[Entry], wb: &mut WriteBatch) {
        let Some(last) = entries.last() else { return };
        let region_id = self.region.id;
        for e in entries {
            wb.put(
                CF_RAFT,
                keys::raft_log_key(region_id, e.index),
                e.write_to_bytes().expect("encode entry"),
            );
        }
        if last.index < self.last_index {
            wb.delete_range(
                CF_RAFT,
                keys::raft_log_key(region_id, last.index + 1),
                keys::raft_log_key(region_id, self.last_index + 1),
            );
        }
        self.last_index = last.index;
        self.last_term = last.term;
    }

    pub fn raft_local_state(&self) -> RaftLocalState {
        RaftLocalState {
            hard_state: self.hard_state.write_to_bytes().expect("encode hard state"),
            last_index: self.last_index,
        }
    }

    pub fn write_raft_state(&self, wb: &mut WriteBatch) {
        wb.put(
            CF_RAFT,
            keys::raft_state_key(self.region.id),
            self.raft_local_state().encode_to_vec(),
        );
    }

    pub fn apply_state(&self) -> RaftApplyState {
        RaftApplyState {
            applied_index: self.applied_index,
            truncated_state: Some(RaftTruncatedState {
                index: self.truncated_index,
                term: self.truncated_term,
            }),
            conf_state: conf_state_from_region(&self.region)
                .write_to_bytes()
                .expect("encode"),
        }
    }

    pub fn write_apply_state(&self, wb: &mut WriteBatch) {
        wb.put(
            CF_RAFT,
            keys::apply_state_key(self.region.id),
            self.apply_state().encode_to_vec(),
        );
    }

    /// Whether raft-rs wants a snapshot generated; the generation counts
    /// as running from here.
    pub fn take_gen_wanted(&self) -> bool {
        let mut state = self.generation.borrow_mut();
        if matches!(*state, GenState::Wanted) {
            *state = GenState::Running;
            return true;
        }
        false
    }

    /// The generator's answer: the snapshot raft-rs gets when it asks next,
    /// or (None: failed, or the task was never sent) nothing, so that
    /// asking again starts over.
    pub fn on_generated(&self, snap: Option<Snapshot>) {
        let mut state = self.generation.borrow_mut();
        if !matches!(*state, GenState::Running) {
            return;
        }
        *state = match snap {
            Some(s) => GenState::Ready(s),
            None => GenState::Idle,
        };
    }

    /// The last generated snapshot was sent (or failed): the next request
    /// generates a fresh one.
    pub fn reset_gen(&self) {
        let mut state = self.generation.borrow_mut();
        if matches!(*state, GenState::Ready(_)) {
            *state = GenState::Idle;
        }
    }

    /// Installs a received snapshot: replaces the region's data and states in
    /// `wb` and the in-memory state. Returns the region it describes.
    pub fn apply_snapshot(
        &mut self,
        snap: &Snapshot,
        wb: &mut WriteBatch,
    ) -> Result<metapb::Region> {
        let data = SnapshotData::decode(&snap.data[..])?;
        let region = data.region.clone().unwrap_or_default();
        let meta = snap.get_metadata();
        // Clear what this peer had: the old range (if any) and the new one.
        if self.is_initialized() {
            clear_region_data(wb, &self.region);
        }
        clear_region_data(wb, &region);
        for cf in &data.data {
            let cf_name = crate::engine::static_cf(&cf.cf)
                .ok_or_else(|| crate::Error::Codec(format!("snapshot has unknown cf {}", cf.cf)))?;
            for (k, v) in cf.keys.iter().zip(&cf.values) {
                wb.put(cf_name, k.clone(), v.clone());
            }
        }
        let (log_start, log_end) = keys::raft_log_range(region.id);
        wb.delete_range(CF_RAFT, log_start, log_end);
        self.region = region.clone();
        self.last_index = meta.index;
        self.last_term = meta.term;
        self.applied_index = meta.index;
        self.applied_term = meta.term;
        self.truncated_index = meta.index;
        self.truncated_term = meta.term;
        if self.hard_state.commit < meta.index {
            self.hard_state.commit = meta.index;
        }
        self.write_apply_state(wb);
        self.write_raft_state(wb);
        write_region_state(wb, &region, PeerState::Normal);
        Ok(region)
    }

    /// Records a log compaction (applied from a CompactLog command).
    pub fn compact_to(&mut self, index: u64, term: u64, wb: &mut WriteBatch) {
        if index <= self.truncated_index {
            return;
        }
        let region_id = self.region.id;
        wb.delete_range(
            CF_RAFT,
            keys::raft_log_key(region_id, 0),
            keys::raft_log_key(region_id, index + 1),
        );
        self.truncated_index = index;
        self.truncated_term = term;
    }

    /// Term of the entry at `idx`, or None if compacted or beyond the log.
    pub fn entry_term(&self, idx: u64) -> Option<u64> {
        if idx < self.truncated_index || idx > self.last_index {
            return None;
        }
        self.term_of(idx).ok()
    }
}

fn initial_apply_state(_region: &metapb::Region) -> RaftApplyState {
    RaftApplyState {
        applied_index: RAFT_INIT_LOG_INDEX,
        truncated_state: Some(RaftTruncatedState {
            index: RAFT_INIT_LOG_INDEX,
            term: RAFT_INIT_LOG_TERM,
        }),
        conf_state: Vec::new(),
    }
}

pub fn write_region_state(wb: &mut WriteBatch, region: &metapb::Region, state: PeerState) {
    let st = RegionLocalState {
        state: state as i32,
        region: Some(region.clone()),
    };
    wb.put(
        CF_RAFT,
        keys::region_state_key(region.id),
        st.encode_to_vec(),
    );
}

/// Deletes every data key of the region's range, in all data CFs.
pub fn clear_region_data(wb: &mut WriteBatch, region: &metapb::Region) {
    let start = keys::data_key(&region.start_key);
    let end = keys::data_end_key(&region.end_key);
    for cf in DATA_CFS {
        wb.delete_range(cf, start.clone(), end.clone());
    }
}

/// Deletes a peer's raft log and states and marks it Tombstone.
pub fn clear_raft_state(wb: &mut WriteBatch, region: &metapb::Region) {
    let (s, e) = keys::raft_log_range(region.id);
    wb.delete_range(CF_RAFT, s, e);
    wb.delete(CF_RAFT, keys::raft_state_key(region.id));
    wb.delete(CF_RAFT, keys::apply_state_key(region.id));
    write_region_state(wb, region, PeerState::Tombstone);
}

impl raft::Storage for PeerStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        let cs = if self.is_initialized() {
            conf_state_from_region(&self.region)
        } else {
            ConfState::default()
        };
        Ok(RaftState::new(self.hard_state.clone(), cs))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low <= self.truncated_index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > self.last_index + 1 {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let mut entries = Vec::with_capacity((high - low) as usize);
        let start = keys::raft_log_key(self.region.id, low);
        let end = keys::raft_log_key(self.region.id, high);
        let mut decode_err = None;
        self.engine
            .scan(
                CF_RAFT,
                &start,
                &end,
                &mut |_, v| match Entry::parse_from_bytes(v) {
                    Ok(e) => {
                        entries.push(e);
                        true
                    }
                    Err(e) => {
                        decode_err = Some(e);
                        false
                    }
                },
            )
            .map_err(raft_err)?;
        if let Some(e) = decode_err {
            return Err(raft_err(e.into()));
        }
        if entries.len() as u64 != high - low {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        raft::util::limit_size(&mut entries, max_size.into());
        Ok(entries)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx < self.truncated_index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if idx > self.last_index {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        if idx == self.last_index {
            return Ok(self.last_term);
        }
        self.term_of(idx).map_err(raft_err)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.truncated_index + 1)
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last_index)
    }

    /// A generated snapshot at `request_index` or later; otherwise a
    /// generation is wanted (the store loop starts it) and raft-rs hears
    /// "temporarily unavailable" and asks again at its next probe.
    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let unavailable = Err(raft::Error::Store(
            StorageError::SnapshotTemporarilyUnavailable,
        ));
        if !self.is_initialized() {
            return unavailable;
        }
        let mut state = self.generation.borrow_mut();
        match &*state {
            GenState::Ready(s) if s.get_metadata().index >= request_index => return Ok(s.clone()),
            GenState::Wanted | GenState::Running => {}
            GenState::Idle | GenState::Ready(_) => *state = GenState::Wanted,
        }
        unavailable
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use raft::Storage;

    use super::*;
    use crate::engine::MemoryEngine;

    fn region() -> metapb::Region {
        metapb::Region {
            id: 1,
            peers: vec![metapb::Peer {
                id: 2,
                store_id: 1,
                role: 0,
            }],
            region_epoch: Some(metapb::RegionEpoch {
                conf_ver: 1,
                version: 1,
            }),
            ..Default::default()
        }
    }

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            data: vec![index as u8].into(),
            ..Default::default()
        }
    }

    #[test]
    fn initial_state_append_truncate_and_reload() {
        let engine: EngineRef = Arc::new(MemoryEngine::new());
        let mut wb = WriteBatch::default();
        PeerStorage::write_initial_state(&mut wb, &region());
        engine.write(&wb, true).unwrap();
        let mut s = PeerStorage::load(engine.clone(), region()).unwrap();
        assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (6, 5));
        assert_eq!(s.term(5).unwrap(), 5);

        let mut wb = WriteBatch::default();
        s.append(&[entry(6, 6), entry(7, 6), entry(8, 6)], &mut wb);
        s.hard_state.term = 6;
        s.write_raft_state(&mut wb);
        engine.write(&wb, true).unwrap();
        // A new leader overwrites the tail.
        let mut wb = WriteBatch::default();
        s.append(&[entry(7, 7)], &mut wb);
        s.write_raft_state(&mut wb);
        engine.write(&wb, true).unwrap();
        assert_eq!(s.last_index().unwrap(), 7);
        let got = s
            .entries(6, 8, None, GetEntriesContext::empty(false))
            .unwrap();
        assert_eq!(
            got.iter().map(|e| (e.index, e.term)).collect::<Vec<_>>(),
            vec![(6, 6), (7, 7)]
        );
        assert!(
            engine
                .get(CF_RAFT, &keys::raft_log_key(1, 8))
                .unwrap()
                .is_none()
        );

        let reloaded = PeerStorage::load(engine.clone(), region()).unwrap();
        assert_eq!((reloaded.last_index, reloaded.last_term), (7, 7));
        assert_eq!(reloaded.hard_state.term, 6);

        let mut wb = WriteBatch::default();
        s.compact_to(6, 6, &mut wb);
        engine.write(&wb, true).unwrap();
        assert_eq!(s.first_index().unwrap(), 7);
        assert!(matches!(
            s.term(5),
            Err(raft::Error::Store(StorageError::Compacted))
        ));
        assert!(
            s.entries(6, 8, None, GetEntriesContext::empty(false))
                .is_err()
        );
    }

    /// A snapshot as the store and its generator make one, streamed in
    /// chunks of `chunk_size` bytes and reassembled.
    fn generate_and_stream(s: &PeerStorage, chunk_size: usize) -> (Snapshot, usize) {
        assert!(s.take_gen_wanted(), "raft-rs asked for a snapshot");
        let task = crate::raftstore::snap::GenTask {
            region_id: s.region_id(),
            snapshot: s.engine().snapshot(),
        };
        let (snap, source) = crate::raftstore::snap::generate(&task).unwrap();
        let mut chunks = Vec::new();
        crate::raftstore::snap::for_each_chunk(&source, chunk_size, &mut |c| {
            chunks.push(c);
            true
        })
        .unwrap();
        let n = chunks.len();
        let mut msg = raft::eraftpb::Message::default();
        msg.set_snapshot(snap);
        let head = proto::raft_serverpb::RaftMessage {
            message: msg.write_to_bytes().unwrap(),
            ..Default::default()
        };
        let full = crate::raftstore::snap::assemble(head, chunks).unwrap();
        let msg = raft::eraftpb::Message::parse_from_bytes(&full.message).unwrap();
        (msg.get_snapshot().clone(), n)
    }

    fn unavailable(r: raft::Result<Snapshot>) -> bool {
        matches!(
            r,
            Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable
            ))
        )
    }

    /// While an apply batch is not yet written, the in-memory applied index
    /// is ahead of the engine: a snapshot is labelled with what its data
    /// holds, never with the in-memory index. raft-rs hears "temporarily
    /// unavailable" until the generator answered.
    #[test]
    fn a_snapshot_is_labelled_with_what_its_data_holds() {
        let engine: EngineRef = Arc::new(MemoryEngine::new());
        let mut wb = WriteBatch::default();
        PeerStorage::write_initial_state(&mut wb, &region());
        wb.put(
            crate::engine::CF_DEFAULT,
            keys::data_key(b"a"),
            b"1".to_vec(),
        );
        engine.write(&wb, true).unwrap();
        let mut s = PeerStorage::load(engine.clone(), region()).unwrap();
        // Entry 6 applied in memory; its batch (writing "b") still pending.
        let mut wb = WriteBatch::default();
        s.append(&[entry(6, 6)], &mut wb);
        engine.write(&wb, true).unwrap();
        s.applied_index = 6;
        s.applied_term = 6;
        assert!(unavailable(s.snapshot(0, 2)));
        assert!(unavailable(s.snapshot(0, 2)), "one generation at a time");
        let (snap, _) = generate_and_stream(&s, 1024);
        assert_eq!(
            (snap.get_metadata().index, snap.get_metadata().term),
            (5, 5)
        );
        assert!(!s.take_gen_wanted(), "the generation is running");
        let mut header = snap.clone();
        header.data = proto::raft_serverpb::SnapshotData {
            region: Some(region()),
            data: vec![],
        }
        .encode_to_vec()
        .into();
        s.on_generated(Some(header));
        assert_eq!(s.snapshot(0, 2).unwrap().get_metadata().index, 5);
        // Asked for index 6: a newer one is wanted.
        assert!(unavailable(s.snapshot(6, 2)));
        assert!(s.take_gen_wanted());
    }

    #[test]
    fn snapshot_round_trip_replaces_data() {
        let engine: EngineRef = Arc::new(MemoryEngine::new());
        let mut wb = WriteBatch::default();
        PeerStorage::write_initial_state(&mut wb, &region());
        for k in [&b"a"[..], b"b", b"c"] {
            wb.put(crate::engine::CF_DEFAULT, keys::data_key(k), b"1".to_vec());
        }
        engine.write(&wb, true).unwrap();
        let s = PeerStorage::load(engine.clone(), region()).unwrap();
        assert!(unavailable(s.snapshot(0, 2)));
        // Every key its own chunk: the stream reassembles them in order.
        let (snap, chunks) = generate_and_stream(&s, 1);
        assert_eq!(snap.get_metadata().index, 5);
        assert_eq!(chunks, 3);

        let other: EngineRef = Arc::new(MemoryEngine::new());
        let mut wb = WriteBatch::default();
        wb.put(
            crate::engine::CF_DEFAULT,
            keys::data_key(b"stale"),
            b"x".to_vec(),
        );
        other.write(&wb, true).unwrap();
        let bare = metapb::Region {
            id: 1,
            ..Default::default()
        };
        let mut t = PeerStorage::load(other.clone(), bare).unwrap();
        let mut wb = WriteBatch::default();
        let r = t.apply_snapshot(&snap, &mut wb).unwrap();
        other.write(&wb, true).unwrap();
        assert_eq!(r.peers.len(), 1);
        for k in [&b"a"[..], b"b", b"c"] {
            assert_eq!(
                other
                    .get(crate::engine::CF_DEFAULT, &keys::data_key(k))
                    .unwrap(),
                Some(b"1".to_vec())
            );
        }
        assert_eq!(
            other
                .get(crate::engine::CF_DEFAULT, &keys::data_key(b"stale"))
                .unwrap(),
            None
        );
        assert_eq!((t.first_index().unwrap(), t.last_index().unwrap()), (6, 5));
    }
}
