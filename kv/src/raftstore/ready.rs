//! # Handling readies: persist, send, apply
//!
//! The order is what makes the store safe:
//!
//! 1. every peer's ready is collected; entries, hard states and received
//!    snapshots go into **one** raft write batch, written with **one fsync**;
//! 2. only then are messages sent (a vote or an append acknowledgement
//!    must never leave before what it promises is durable);
//! 3. committed entries are applied into one apply batch (data + apply
//!    states), written without fsync: the raft log is durable, and a crash
//!    re-applies from the persisted apply state, which is atomic with the
//!    data;
//! 4. callbacks fire, reads waiting for their index are served, and side
//!    effects run (new split peers, destroyed peers, heartbeats to PD).

use proto::raft_serverpb::RaftMessage;
use protobuf::Message as _;
use raft::{Ready, StateRole};

use super::apply::{ApplyContext, ApplyResult};
use super::peer::Peer;
use super::store::Store;
use super::worker::PdTask;
use crate::Result;
use crate::engine::WriteBatch;

impl Store {
    pub(super) fn handle_readies(&mut self) -> Result<()> {
        let mut raft_wb = WriteBatch::default();
        // Only new entries, a snapshot, or a term/vote change need the fsync;
        // a commit index alone may be lost in a crash (it is recomputed, and
        // a restart takes at least the applied index).
        let mut must_sync = false;
        let mut readies: Vec<(u64, Ready)> = Vec::new();
        let mut range_changes = Vec::new();
        for (id, peer) in self.peers.iter_mut() {
            if peer.raft_state_dirty {
                peer.raft_state_dirty = false;
                peer.storage().write_raft_state(&mut raft_wb);
            }
            if !peer.raft.has_ready() {
                continue;
            }
            let rd = peer.raft.ready();
            let mut state_changed = false;
            must_sync |= rd.must_sync() || !rd.snapshot().is_empty();
            if !rd.snapshot().is_empty() {
                let old = peer.region().clone();
                let region = peer
                    .storage_mut()
                    .apply_snapshot(rd.snapshot(), &mut raft_wb)?;
                if let Some(o) = &self.observer {
                    // The old range (if any) and the new one were cleared.
                    if super::peer_storage::is_initialized(&old) {
                        o.on_range_reset(&old.start_key, &old.end_key, &mut raft_wb);
                    }
                    o.on_range_reset(&region.start_key, &region.end_key, &mut raft_wb);
                }
                tracing::info!(
                    region_id = *id,
                    index = rd.snapshot().get_metadata().index,
                    "applying snapshot"
                );
                if let Some(me) = region.peers.iter().find(|p| p.id == peer.peer_id()) {
                    peer.peer = *me;
                }
                peer.abandon_proposals();
                range_changes.push((old, region));
                state_changed = true;
            }
            if !rd.entries().is_empty() {
                peer.storage_mut().append(rd.entries(), &mut raft_wb);
                state_changed = true;
            }
            if let Some(hs) = rd.hs() {
                peer.storage_mut().hard_state = hs.clone();
                state_changed = true;
            }
            if state_changed {
                peer.storage().write_raft_state(&mut raft_wb);
            }
            readies.push((*id, rd));
        }
        if !raft_wb.is_empty() {
            self.engine.write(&raft_wb, must_sync)?;
        }
        for (old, new) in range_changes {
            self.update_range(Some(&old), &new);
        }

        let mut apply = ApplyContext {
            observer: self.observer.clone(),
            ..ApplyContext::default()
        };
        let mut became_leader = Vec::new();
        for (id, mut rd) in readies {
            let peer = self.peers.get_mut(&id).expect("peer with a ready exists");
            if let Some(ss) = rd.ss() {
                match ss.raft_state {
                    StateRole::Leader => {
                        let now = self.now;
                        for p in peer.region().peers.clone() {
                            peer.peer_heartbeats.insert(p.id, now);
                        }
                        became_leader.push(id);
                        tracing::info!(
                            region_id = id,
                            peer_id = peer.peer_id(),
                            term = peer.term(),
                            "became leader"
                        );
                    }
                    _ => peer.on_lost_leadership(),
                }
            }
            send_messages(peer, rd.take_messages(), self.transport.as_ref());
            send_messages(peer, rd.take_persisted_messages(), self.transport.as_ref());
            if !rd.read_states().is_empty() {
                peer.on_read_states(rd.take_read_states(), &self.cfg);
            }
            peer.apply_entries(rd.take_committed_entries(), &mut apply, &self.cfg);
            let mut light = peer.raft.advance(rd);
            if let Some(commit) = light.commit_index() {
                peer.storage_mut().hard_state.commit = commit;
                peer.raft_state_dirty = true;
            }
            send_messages(peer, light.take_messages(), self.transport.as_ref());
            peer.apply_entries(light.take_committed_entries(), &mut apply, &self.cfg);
            peer.raft.advance_apply();
        }
        if !apply.wb.is_empty() {
            self.engine.write(&apply.wb, false)?;
        }
        for (cb, result) in apply.callbacks {
            let _ = cb.send(result);
        }
        for peer in self.peers.values_mut() {
            peer.serve_ready_reads(&self.engine);
        }
        for (region_id, result) in apply.results {
            self.on_apply_result(region_id, result)?;
        }
        for id in became_leader {
            self.heartbeat_pd(id);
        }
        Ok(())
    }

    fn on_apply_result(&mut self, region_id: u64, result: ApplyResult) -> Result<()> {
        match result {
            ApplyResult::Split { right, was_leader } => {
                let Some(left) = self.peers.get(&region_id).map(|p| p.region().clone()) else {
                    return Ok(());
                };
                // The left keeps its start; its end moved to the split key.
                let mut old = left.clone();
                old.end_key = right.end_key.clone();
                self.update_range(Some(&old), &left);
                if let Some(existing) = self.peers.get(&right.id)
                    && !existing.is_initialized()
                {
                    // Created by an early message; the split supersedes it.
                    self.peers.remove(&right.id);
                }
                if self.peers.contains_key(&right.id) {
                    return Ok(());
                }
                let Some(mut peer) = self.local_peer(right.clone())? else {
                    return Ok(());
                };
                if was_leader {
                    peer.approximate_size = self.peers[&region_id].approximate_size;
                    peer.approximate_keys = self.peers[&region_id].approximate_keys;
                    // Campaign at once, as TiKV does: the other peers will
                    // apply the same split and vote.
                    peer.raft.campaign()?;
                }
                self.insert_peer(peer);
                if was_leader {
                    let _ = self.pd_tasks.send(PdTask::ReportSplit { left, right });
                    self.heartbeat_pd(region_id);
                }
            }
            ApplyResult::ConfChanged { removed_self } => {
                if removed_self {
                    self.destroy_peer(region_id, false)?;
                } else {
                    self.heartbeat_pd(region_id);
                }
            }
        }
        Ok(())
    }
}

fn send_messages(
    peer: &Peer,
    msgs: Vec<raft::eraftpb::Message>,
    transport: &dyn crate::transport::Transport,
) {
    if msgs.is_empty() {
        return;
    }
    let region = peer.region();
    for m in msgs {
        let Some(to_peer) = peer.find_peer(m.to) else {
            tracing::debug!(
                region_id = region.id,
                to = m.to,
                "message to unknown peer dropped"
            );
            continue;
        };
        let is_snapshot = m.get_msg_type() == raft::eraftpb::MessageType::MsgSnapshot;
        let message = match m.write_to_bytes() {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(region_id = region.id, "encode raft message: {e}");
                continue;
            }
        };
        let msg = RaftMessage {
            region_id: region.id,
            from_peer: Some(peer.peer),
            to_peer: Some(to_peer),
            region_epoch: region.region_epoch,
            message,
            start_key: region.start_key.clone(),
            end_key: region.end_key.clone(),
            is_tombstone: false,
        };
        if is_snapshot {
            transport.send_snapshot(msg);
        } else {
            transport.send(msg);
        }
    }
}
