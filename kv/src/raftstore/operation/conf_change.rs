//! # Membership changes and leader transfer
//!
//! PD asks a region's leader, in a heartbeat answer, for one step at a time:
//! add a learner, promote it (`AddNode` on a learner), remove a peer, or
//! transfer leadership. A membership change is a raft `ConfChange` entry
//! whose context carries the `metapb::Peer` (raft-rs knows only node ids).
//! raft-rs allows one pending change at a time.
//!
//! On apply, every peer updates the region's peer list, bumps `conf_ver`,
//! persists the region in the apply batch and tells raft-rs. A peer that was
//! removed asks the store to destroy it once the batch is written.

use prost::Message as _;
use proto::metapb::{self, PeerRole};
use proto::pdpb::{ConfChangeType as PdChangeType, RegionHeartbeatResponse};
use proto::raft_cmdpb::RaftCmdRequest;
use proto::raft_serverpb::PeerState;
use protobuf::Message as _;
use raft::eraftpb::{ConfChange, ConfChangeType, Entry};

use super::super::apply::{ApplyContext, ApplyResult};
use super::super::peer::Peer;
use super::super::peer_storage::write_region_state;
use crate::{Error, Result};

/// Applies a membership change to a region's peer list. Pure; `None` if it
/// changes nothing (a duplicate).
pub fn change_peers(
    region: &metapb::Region,
    change: ConfChangeType,
    peer: &metapb::Peer,
) -> Option<metapb::Region> {
    let mut r = region.clone();
    let pos = r.peers.iter().position(|p| p.id == peer.id);
    match (change, pos) {
        (ConfChangeType::AddNode, Some(i)) => {
            if r.peers[i].role == PeerRole::Voter as i32 {
                return None;
            }
            r.peers[i].role = PeerRole::Voter as i32;
        }
        (ConfChangeType::AddNode, None) => r.peers.push(metapb::Peer {
            role: PeerRole::Voter as i32,
            ..*peer
        }),
        (ConfChangeType::AddLearnerNode, None) => r.peers.push(metapb::Peer {
            role: PeerRole::Learner as i32,
            ..*peer
        }),
        (ConfChangeType::AddLearnerNode, Some(_)) => return None,
        (ConfChangeType::RemoveNode, Some(i)) => {
            r.peers.remove(i);
        }
        (ConfChangeType::RemoveNode, None) => return None,
    }
    let mut epoch = r.region_epoch.unwrap_or_default();
    epoch.conf_ver += 1;
    r.region_epoch = Some(epoch);
    Some(r)
}

impl Peer {
    pub fn apply_conf_change(&mut self, entry: &Entry, ctx: &mut ApplyContext) -> Result<()> {
        let cc = ConfChange::parse_from_bytes(&entry.data)?;
        let cmd = RaftCmdRequest::decode(&entry.context[..])?;
        let peer = cmd
            .admin_request
            .and_then(|a| a.change_peer)
            .and_then(|c| c.peer)
            .unwrap_or(metapb::Peer {
                id: cc.node_id,
                ..Default::default()
            });
        let proposed_epoch = cmd.header.and_then(|h| h.region_epoch).unwrap_or_default();
        let current = self.epoch();
        if proposed_epoch.conf_ver != current.conf_ver {
            // Proposed against an older membership; raft-rs still needs to
            // hear about the entry, as a no-op.
            self.raft.apply_conf_change(&ConfChange::default())?;
            return Err(Error::EpochNotMatch(vec![self.region().clone()]));
        }
        let change = cc.get_change_type();
        let Some(region) = change_peers(self.region(), change, &peer) else {
            self.raft.apply_conf_change(&cc)?;
            return Ok(());
        };
        tracing::info!(
            region_id = region.id,
            peer_id = peer.id,
            store_id = peer.store_id,
            ?change,
            conf_ver = region.region_epoch.unwrap_or_default().conf_ver,
            "membership changed"
        );
        write_region_state(&mut ctx.wb, &region, PeerState::Normal);
        self.storage_mut().region = region;
        self.raft.apply_conf_change(&cc)?;
        let removed_self = change == ConfChangeType::RemoveNode && peer.id == self.peer_id();
        if removed_self {
            self.pending_remove = true;
        } else if let Some(me) = self.region().peers.iter().find(|p| p.id == self.peer_id()) {
            self.peer = *me;
        }
        if change == ConfChangeType::RemoveNode {
            self.peer_heartbeats.remove(&peer.id);
        }
        ctx.results
            .push((self.region_id(), ApplyResult::ConfChanged { removed_self }));
        Ok(())
    }

    /// Carries out one operator step from PD, if this peer still leads the
    /// region at the epoch PD saw.
    pub fn on_pd_operator(&mut self, resp: &RegionHeartbeatResponse) -> Result<()> {
        if !self.is_leader() {
            return Err(self.not_leader());
        }
        if let Some(e) = &resp.region_epoch
            && (e.version != self.epoch().version || e.conf_ver != self.epoch().conf_ver)
        {
            return Err(Error::EpochNotMatch(vec![self.region().clone()]));
        }
        if let Some(change) = &resp.change_peer {
            let peer = change.peer.unwrap_or_default();
            let change_type = match PdChangeType::try_from(change.change_type) {
                Ok(PdChangeType::AddNode) => ConfChangeType::AddNode,
                Ok(PdChangeType::RemoveNode) => ConfChangeType::RemoveNode,
                Ok(PdChangeType::AddLearnerNode) => ConfChangeType::AddLearnerNode,
                Err(_) => {
                    return Err(Error::InvalidArgument(format!(
                        "change type {}",
                        change.change_type
                    )));
                }
            };
            if change_type == ConfChangeType::RemoveNode && peer.id == self.peer_id() {
                // A leader does not remove itself: hand over first.
                if let Some(to) = self.transfer_target() {
                    self.transfer_leader(to);
                }
                return Ok(());
            }
            if change_peers(self.region(), change_type, &peer).is_none() {
                return Ok(());
            }
            let mut cc = ConfChange::default();
            cc.set_change_type(change_type);
            cc.node_id = peer.id;
            return self.propose_conf_change(cc, peer);
        }
        if let Some(t) = &resp.transfer_leader {
            let peer = t.peer.unwrap_or_default();
            let target = self
                .region()
                .peers
                .iter()
                .find(|p| p.id == peer.id || (peer.id == 0 && p.store_id == peer.store_id));
            if let Some(target) = target.cloned()
                && target.id != self.peer_id()
                && target.role == PeerRole::Voter as i32
            {
                self.transfer_leader(target.id);
            }
        }
        Ok(())
    }

    /// The most caught-up other voter.
    fn transfer_target(&self) -> Option<u64> {
        let prs = self.raft.raft.prs();
        self.region()
            .peers
            .iter()
            .filter(|p| p.id != self.peer_id() && p.role == PeerRole::Voter as i32)
            .filter_map(|p| prs.get(p.id).map(|pr| (pr.matched, p.id)))
            .max()
            .map(|(_, id)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region() -> metapb::Region {
        metapb::Region {
            id: 1,
            region_epoch: Some(metapb::RegionEpoch {
                conf_ver: 1,
                version: 1,
            }),
            peers: vec![metapb::Peer {
                id: 2,
                store_id: 1,
                role: 0,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn learner_added_promoted_removed() {
        let p = metapb::Peer {
            id: 3,
            store_id: 2,
            role: 0,
        };
        let r = change_peers(&region(), ConfChangeType::AddLearnerNode, &p).unwrap();
        assert_eq!(r.peers[1].role, PeerRole::Learner as i32);
        assert_eq!(r.region_epoch.unwrap().conf_ver, 2);
        assert!(change_peers(&r, ConfChangeType::AddLearnerNode, &p).is_none());
        let r = change_peers(&r, ConfChangeType::AddNode, &p).unwrap();
        assert_eq!(r.peers[1].role, PeerRole::Voter as i32);
        assert!(change_peers(&r, ConfChangeType::AddNode, &p).is_none());
        let r = change_peers(&r, ConfChangeType::RemoveNode, &p).unwrap();
        assert_eq!(r.peers.len(), 1);
        assert_eq!(r.region_epoch.unwrap().conf_ver, 4);
        assert!(change_peers(&r, ConfChangeType::RemoveNode, &p).is_none());
    }
}
