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
//! * A snapshot is generated from the engine at the applied index, and
//!   installed by one batch that replaces the region's data and states.
//!
//! New regions (bootstrap, split) start with an empty log at index/term
//! [`RAFT_INIT_LOG_INDEX`]/[`RAFT_INIT_LOG_TERM`], as in TiKV, so a peer that
//! joins later always needs a snapshot first: there is no entry 1 to replay.

use prost::Message as _;
use proto::metapb::{self, PeerRole};
use proto::raft_serverpb::{
    CfData, PeerState, RaftApplyState, RaftLocalState, RaftTruncatedState, RegionLocalState,
    SnapshotData,
};
use protobuf::Message as PbMessage;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, StorageError};

use crate::engine::{CF_RAFT, DATA_CFS, EngineRef, Peekable, WriteBatch};
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

    /// Builds a snapshot of the region from one consistent engine snapshot:
    /// its data, and the applied index, term and membership as persisted
    /// with that data. The in-memory applied index runs ahead of the engine
    /// while an apply batch is not yet written (`ready.rs` advances raft,
    /// which may ask for a snapshot, before writing it), so labelling the
    /// live data with it could send a snapshot lacking writes it claims.
    pub fn generate_snapshot(&self) -> Result<Snapshot> {
        let engine = self.engine.snapshot();
        let id = self.region.id;
        let missing =
            |what: &str| crate::Error::Engine(format!("region {id}: no {what} to snapshot"));
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
        let data = region_snapshot_data(engine.as_ref(), &region)?;
        let mut snap = Snapshot {
            data: data.encode_to_vec().into(),
            ..Default::default()
        };
        let meta = snap.mut_metadata();
        meta.index = index;
        meta.term = term;
        meta.set_conf_state(conf_state_from_region(&region));
        Ok(snap)
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

/// Reads every key of the region's range in the data CFs.
pub fn region_snapshot_data(
    reader: &dyn Peekable,
    region: &metapb::Region,
) -> Result<SnapshotData> {
    let start = keys::data_key(&region.start_key);
    let end = keys::data_end_key(&region.end_key);
    let mut data = Vec::new();
    for cf in DATA_CFS {
        let mut cf_data = CfData {
            cf: cf.to_string(),
            ..Default::default()
        };
        reader.scan(cf, &start, &end, &mut |k, v| {
            cf_data.keys.push(k.to_vec());
            cf_data.values.push(v.to_vec());
            true
        })?;
        data.push(cf_data);
    }
    Ok(SnapshotData {
        region: Some(region.clone()),
        data,
    })
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

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        if !self.is_initialized() || self.applied_index < request_index {
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        let snap = self.generate_snapshot().map_err(raft_err)?;
        // What is written may be behind what raft asks for: later.
        if snap.get_metadata().index < request_index {
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        Ok(snap)
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

    /// While an apply batch is not yet written, the in-memory applied index
    /// is ahead of the engine: a snapshot is labelled with what its data
    /// holds, never with the in-memory index.
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
        let snap = s.snapshot(0, 2).unwrap();
        assert_eq!(
            (snap.get_metadata().index, snap.get_metadata().term),
            (5, 5)
        );
        // Asked for index 6: not yet.
        assert!(matches!(
            s.snapshot(6, 2),
            Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable
            ))
        ));
    }

    #[test]
    fn snapshot_round_trip_replaces_data() {
        let engine: EngineRef = Arc::new(MemoryEngine::new());
        let mut wb = WriteBatch::default();
        PeerStorage::write_initial_state(&mut wb, &region());
        wb.put(
            crate::engine::CF_DEFAULT,
            keys::data_key(b"a"),
            b"1".to_vec(),
        );
        engine.write(&wb, true).unwrap();
        let s = PeerStorage::load(engine.clone(), region()).unwrap();
        let snap = s.snapshot(0, 2).unwrap();
        assert_eq!(snap.get_metadata().index, 5);

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
        assert_eq!(
            other
                .get(crate::engine::CF_DEFAULT, &keys::data_key(b"a"))
                .unwrap(),
            Some(b"1".to_vec())
        );
        assert_eq!(
            other
                .get(crate::engine::CF_DEFAULT, &keys::data_key(b"stale"))
                .unwrap(),
            None
        );
        assert_eq!((t.first_index().unwrap(), t.last_index().unwrap()), (6, 5));
    }
}
