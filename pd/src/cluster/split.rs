//! # Splits
//!
//! A region leader splits its region when it grows past the split threshold
//! (TiKV's split checker). PD's part:
//!
//! ```text
//!   leader ── AskSplit(region) ──────────────> PD: new region id + one new
//!                                                  peer id per peer, in order
//!   leader proposes the split through Raft, applies it
//!   leader ── ReportSplit(left, right) ──────> PD: records both halves
//!   both leaders ── RegionHeartbeat ─────────> PD: the authoritative picture
//! ```
//!
//! The ids are handed out whether or not the split happens; an id is never
//! reused, so an abandoned split costs nothing but the numbers.
//!
//! `ReportSplit` applies the same freshness rules as a heartbeat (a half PD
//! already knows a newer version of is ignored). A half PD has not heard from
//! yet gets, as its presumed leader, its peer on the store that led the
//! region before the split: TiKV starts the new region's election there, and a
//! client guessing wrong is corrected by the store with `NotLeader`.

use proto::metapb;
use proto::pdpb;

use super::Cluster;
use super::region::{RegionInfo, validate_region};
use crate::error::{Error, Result, ok_header};

impl Cluster {
    /// Ids for splitting `region` in two.
    pub fn ask_split(&mut self, region: &metapb::Region) -> Result<pdpb::AskSplitResponse> {
        self.ensure_bootstrapped()?;
        validate_region(region)?;
        if self.regions.get(region.id).is_none() {
            return Err(Error::RegionNotFound(format!(
                "region {} does not exist",
                region.id
            )));
        }
        let new_region_id = self.alloc_id()?;
        let new_peer_ids = region
            .peers
            .iter()
            .map(|_| self.alloc_id())
            .collect::<Result<_>>()?;
        tracing::info!(region_id = region.id, new_region_id, "split ids allocated");
        Ok(pdpb::AskSplitResponse {
            header: ok_header(),
            new_region_id,
            new_peer_ids,
        })
    }

    /// Records the two halves of a finished split.
    pub fn report_split(&mut self, left: metapb::Region, right: metapb::Region) -> Result<()> {
        self.ensure_bootstrapped()?;
        validate_region(&left)?;
        validate_region(&right)?;
        if left.id == right.id || left.end_key != right.start_key || left.end_key.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "regions {} and {} are not the two halves of a split",
                left.id, right.id
            )));
        }
        let leader_store = [left.id, right.id]
            .iter()
            .find_map(|id| self.regions.get(*id).and_then(RegionInfo::leader_store));
        for half in [left, right] {
            let mut info = RegionInfo::from_meta(half);
            info.leader = match self.regions.get(info.id()) {
                Some(known) => known.leader.filter(|l| info.peer(l.id).is_some()),
                None => None,
            }
            .or_else(|| leader_store.and_then(|s| info.peer_on_store(s).copied()));
            match self.regions.check_stale(&info) {
                Ok(()) => self.put_region(info)?,
                Err(e) => {
                    tracing::debug!(region_id = info.id(), error = %e, "split half already superseded")
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::super::tests::bootstrapped;
    use super::*;

    fn half(id: u64, start: &[u8], end: &[u8], peer_id: u64) -> metapb::Region {
        metapb::Region {
            id,
            start_key: start.to_vec(),
            end_key: end.to_vec(),
            region_epoch: Some(metapb::RegionEpoch {
                conf_ver: 1,
                version: 2,
            }),
            peers: vec![metapb::Peer {
                id: peer_id,
                store_id: 1,
                role: 0,
            }],
        }
    }

    #[test]
    fn ask_then_report_split() {
        let now = Instant::now();
        let (mut c, _) = bootstrapped(now);
        let hb = pdpb::RegionHeartbeatRequest {
            region: c.regions().get(2).map(|r| r.meta.clone()),
            leader: Some(metapb::Peer {
                id: 3,
                store_id: 1,
                role: 0,
            }),
            ..Default::default()
        };
        c.region_heartbeat(&hb, now).unwrap();
        let original = c.regions().get(2).unwrap().meta.clone();
        let ids = c.ask_split(&original).unwrap();
        assert_eq!(ids.new_peer_ids.len(), 1);
        assert_ne!(ids.new_region_id, ids.new_peer_ids[0]);
        let again = c.ask_split(&original).unwrap();
        assert!(
            again.new_region_id > ids.new_peer_ids[0],
            "ids are never reused"
        );

        let new_id = ids.new_region_id;
        c.report_split(
            half(new_id, b"", b"m", ids.new_peer_ids[0]),
            half(2, b"m", b"", 3),
        )
        .unwrap();
        let left = c.get_region(b"a").unwrap();
        assert_eq!(left.region.unwrap().id, new_id);
        assert_eq!(
            left.leader.unwrap().id,
            ids.new_peer_ids[0],
            "leader presumed on the old leader's store"
        );
        assert_eq!(c.get_region(b"x").unwrap().region.unwrap().id, 2);
        assert_eq!(c.scan_regions(b"", b"", 0).unwrap().len(), 2);
        assert_eq!(c.regions().peer_count(1), 2);

        // A late report of the same split changes nothing; nonsense is refused.
        c.report_split(
            half(new_id, b"", b"m", ids.new_peer_ids[0]),
            half(2, b"m", b"", 3),
        )
        .unwrap();
        assert_eq!(c.regions().len(), 2);
        let bad = c.report_split(half(2, b"", b"m", 3), half(2, b"m", b"", 3));
        assert!(matches!(bad, Err(Error::InvalidArgument(_))));
        assert!(matches!(
            c.ask_split(&half(77, b"", b"", 1)),
            Err(Error::RegionNotFound(_))
        ));
    }
}
