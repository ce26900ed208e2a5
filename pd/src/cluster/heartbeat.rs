//! # Region heartbeats and routing queries
//!
//! Process overview of a region heartbeat:
//!
//! ```text
//!   leader of region R ── RegionHeartbeat(R, leader, pending, down, stats) ──> PD
//!     1. validate (region, leader among its peers)
//!     2. stale? (epoch / overlaps, see region.rs) ── yes ──> STALE_REGION, nothing stored
//!     3. store R in the region map; persist if range/epoch/peers changed;
//!        drop regions R now covers
//!     4. R has an operator?  advance it with this report:
//!          next step to send ──> answer with change_peer / transfer_leader
//!          finished/cancelled/timed out ──> drop it, go on to 5
//!     5. no operator: run the replica checker on R now, so a missing replica
//!        is answered by this very heartbeat rather than the next tick
//! ```
//!
//! The routing queries (`GetRegion`, `GetRegionById`, `ScanRegions`) read the
//! same map. They serve whatever PD knows; a client that reaches a store with
//! a stale picture gets `EpochNotMatch`/`NotLeader` from the store and asks
//! again.

use std::time::Instant;

use proto::pdpb;

use super::Cluster;
use super::region::RegionInfo;
use crate::RegionId;
use crate::error::{Error, Result, ok_header};

impl Cluster {
    /// Handles a leader's report about its region; the answer may carry the
    /// next step of the region's operator.
    pub fn region_heartbeat(
        &mut self,
        req: &pdpb::RegionHeartbeatRequest,
        now: Instant,
    ) -> Result<pdpb::RegionHeartbeatResponse> {
        self.ensure_bootstrapped()?;
        let info = RegionInfo::from_heartbeat(req)?;
        let region_id = info.id();
        if let Err(e) = self.regions.check_stale(&info) {
            tracing::debug!(region_id, error = %e, "stale region heartbeat");
            return Err(e);
        }
        self.put_region(info)?;

        if let Some(resp) = self.dispatch(region_id, now) {
            return Ok(resp);
        }
        if self.cfg.enable_replica_checker
            && !self.operators.contains(region_id)
            && self.check_replicas(region_id, now)
            && let Some(resp) = self.dispatch(region_id, now)
        {
            return Ok(resp);
        }
        if !self.operators.contains(region_id)
            && self.check_columnar(region_id, now)
            && let Some(resp) = self.dispatch(region_id, now)
        {
            return Ok(resp);
        }
        Ok(pdpb::RegionHeartbeatResponse {
            header: ok_header(),
            region_id,
            ..Default::default()
        })
    }

    /// The command of the region's operator, as a heartbeat answer.
    fn dispatch(
        &mut self,
        region_id: RegionId,
        now: Instant,
    ) -> Option<pdpb::RegionHeartbeatResponse> {
        let region = self.regions.get(region_id)?;
        let cmd = self.operators.dispatch(region, now)?;
        tracing::debug!(region_id, command = %cmd, "operator step sent");
        Some(cmd.to_response(region))
    }

    /// The region containing `key`.
    pub fn get_region(&self, key: &[u8]) -> Result<pdpb::GetRegionResponse> {
        self.ensure_bootstrapped()?;
        self.regions
            .get_by_key(key)
            .map(RegionInfo::to_response)
            .ok_or_else(|| {
                Error::RegionNotFound(format!("no region contains key \"{}\"", key.escape_ascii()))
            })
    }

    pub fn get_region_by_id(&self, id: RegionId) -> Result<pdpb::GetRegionResponse> {
        self.ensure_bootstrapped()?;
        self.regions
            .get(id)
            .map(RegionInfo::to_response)
            .ok_or_else(|| Error::RegionNotFound(format!("region {id} does not exist")))
    }

    /// Regions intersecting `[start, end)` in key order (empty `end`: to the
    /// end; `limit` 0: all).
    pub fn scan_regions(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Result<Vec<pdpb::GetRegionResponse>> {
        self.ensure_bootstrapped()?;
        Ok(self
            .regions
            .scan(start, end, limit)
            .into_iter()
            .map(RegionInfo::to_response)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proto::metapb::{self, PeerRole};
    use proto::pdpb::ConfChangeType;

    use super::super::tests::{bootstrapped, store};
    use super::*;

    /// Heartbeat for `region` as stored in the cluster, after `edit`.
    fn hb(
        c: &Cluster,
        id: u64,
        edit: impl FnOnce(&mut RegionInfo),
    ) -> pdpb::RegionHeartbeatRequest {
        let mut r = c.regions().get(id).unwrap().clone();
        if r.leader.is_none() {
            let first = r.voters().next().copied();
            r.leader = first;
        }
        edit(&mut r);
        pdpb::RegionHeartbeatRequest {
            region: Some(r.meta.clone()),
            leader: r.leader,
            pending_peers: r.pending_peers.clone(),
            down_peers: r.down_peers.clone(),
            ..Default::default()
        }
    }

    fn describe(resp: &pdpb::RegionHeartbeatResponse) -> String {
        if let Some(cp) = &resp.change_peer {
            let p = cp.peer.unwrap();
            format!("{:?} {}@{}", cp.change_type(), p.id, p.store_id)
        } else if let Some(tl) = &resp.transfer_leader {
            format!("transfer to {}", tl.peer.unwrap().store_id)
        } else {
            "nothing".into()
        }
    }

    fn bump_conf(r: &mut RegionInfo) {
        r.meta.region_epoch.as_mut().unwrap().conf_ver += 1;
    }

    #[test]
    fn heartbeats_grow_a_single_replica_region_to_three() {
        let t0 = Instant::now();
        let (mut c, _) = bootstrapped(t0);
        c.put_store(store(4), t0).unwrap();
        c.put_store(store(5), t0).unwrap();
        let mut now = t0;
        // Drive the region through heartbeats, applying each command the way
        // a leader would, until PD has nothing more to ask.
        let mut log = Vec::new();
        for _ in 0..20 {
            now += Duration::from_millis(100);
            let resp = c.region_heartbeat(&hb(&c, 2, |_| {}), now).unwrap();
            let said = describe(&resp);
            if said == "nothing" {
                break;
            }
            log.push(said);
            let cp = resp.change_peer.unwrap();
            let peer = cp.peer.unwrap();
            let req = hb(&c, 2, |r| {
                bump_conf(r);
                match cp.change_type() {
                    ConfChangeType::AddLearnerNode => {
                        r.meta.peers.push(peer);
                        r.pending_peers.push(peer); // receiving its snapshot
                    }
                    ConfChangeType::AddNode => {
                        r.meta
                            .peers
                            .iter_mut()
                            .find(|p| p.id == peer.id)
                            .unwrap()
                            .set_role(PeerRole::Voter);
                    }
                    ConfChangeType::RemoveNode => r.meta.peers.retain(|p| p.id != peer.id),
                }
            });
            let resp = c.region_heartbeat(&req, now).unwrap();
            // While the learner is pending, PD waits.
            if cp.change_type() == ConfChangeType::AddLearnerNode {
                assert_eq!(describe(&resp), "nothing");
                c.region_heartbeat(&hb(&c, 2, |r| r.pending_peers.clear()), now)
                    .unwrap();
            }
        }
        let ids: Vec<u64> = {
            let r = c.regions().get(2).unwrap();
            assert!(r.learners().next().is_none());
            r.voters().map(|p| p.store_id).collect()
        };
        assert_eq!(ids, vec![1, 4, 5]);
        assert_eq!(log.len(), 4, "{log:?}");
        assert!(
            log[0].starts_with("AddLearnerNode") && log[1].starts_with("AddNode"),
            "{log:?}"
        );
    }

    #[test]
    fn stale_heartbeat_is_refused_and_not_stored() {
        let t0 = Instant::now();
        let (mut c, _) = bootstrapped(t0);
        c.region_heartbeat(
            &hb(&c, 2, |r| {
                r.meta.region_epoch = Some(metapb::RegionEpoch {
                    conf_ver: 3,
                    version: 4,
                })
            }),
            t0,
        )
        .unwrap();
        let stale = hb(&c, 2, |r| {
            r.meta.region_epoch = Some(metapb::RegionEpoch {
                conf_ver: 3,
                version: 3,
            });
            r.meta.end_key = b"zzz".to_vec();
        });
        assert!(matches!(
            c.region_heartbeat(&stale, t0),
            Err(Error::StaleRegion(_))
        ));
        assert!(
            c.get_region(b"zzzz").is_ok(),
            "the stale range was not stored"
        );
    }

    #[test]
    fn routing_queries() {
        let t0 = Instant::now();
        let (c, _) = bootstrapped(t0);
        assert_eq!(c.get_region(b"k").unwrap().region.unwrap().id, 2);
        assert_eq!(c.get_region_by_id(2).unwrap().region.unwrap().id, 2);
        assert!(matches!(
            c.get_region_by_id(99),
            Err(Error::RegionNotFound(_))
        ));
        assert_eq!(c.scan_regions(b"", b"", 0).unwrap().len(), 1);
    }
}
