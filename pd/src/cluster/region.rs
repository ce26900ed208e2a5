//! # The region map
//!
//! PD's picture of where every key lives. It is rebuilt from region
//! heartbeats: each region leader periodically reports its region's range,
//! epoch, peers and statistics, and PD keeps the freshest report.
//!
//! ## Freshness: the epoch rule
//!
//! A region's epoch has two counters: `conf_ver` grows with every membership
//! change and `version` with every split or merge. A report is **stale** and
//! rejected (`STALE_REGION`) when
//!
//! - it is about a region PD knows and its `version` or `conf_ver` is lower
//!   than the known one (a delayed heartbeat, or one from a deposed leader);
//!   with an equal epoch, a lower Raft `term` is stale too;
//! - it overlaps *another* region whose `version` is higher (the reporter has
//!   not yet applied a split or merge that PD already heard about).
//!
//! Otherwise it replaces what PD knew, and any other region overlapping its
//! range is dropped: the newer report proves that range changed hands.
//!
//! ## Key index
//!
//! Regions tile the key space without overlap, so a `BTreeMap` from
//! `start_key` to region id finds the region containing a key with one
//! `range(..=key).next_back()`. An empty `end_key` means +infinity.
//!
//! ```text
//!   by_start:  ""  -> 2        region 2: ["",  "g")
//!              "g" -> 8        region 8: ["g", "t")
//!              "t" -> 5        region 5: ["t", +inf)
//! ```
//!
//! Per-store peer and leader counts are maintained incrementally here, since
//! the schedulers need them on every decision.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound::{Excluded, Unbounded};

use proto::metapb::{self, PeerRole};
use proto::pdpb;

use crate::error::{Error, Result};
use crate::{PeerId, RegionId, StoreId};

/// Read/write flow reported by the leader for the last heartbeat interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegionFlow {
    pub bytes_written: u64,
    pub bytes_read: u64,
    pub keys_written: u64,
    pub keys_read: u64,
}

/// Everything PD keeps about one region.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegionInfo {
    pub meta: metapb::Region,
    pub leader: Option<metapb::Peer>,
    pub down_peers: Vec<pdpb::PeerStats>,
    pub pending_peers: Vec<metapb::Peer>,
    pub approximate_size: u64,
    pub approximate_keys: u64,
    pub flow: RegionFlow,
    pub term: u64,
}

impl RegionInfo {
    /// A region known only from metadata (bootstrap, restart, split report).
    pub fn from_meta(meta: metapb::Region) -> Self {
        RegionInfo {
            meta,
            ..Default::default()
        }
    }

    /// Validates a leader's heartbeat and extracts the region from it.
    pub fn from_heartbeat(req: &pdpb::RegionHeartbeatRequest) -> Result<Self> {
        let meta = req
            .region
            .clone()
            .ok_or_else(|| Error::InvalidArgument("region heartbeat without region".into()))?;
        validate_region(&meta)?;
        let leader = req.leader.ok_or_else(|| {
            Error::InvalidArgument(format!("heartbeat of region {} without leader", meta.id))
        })?;
        if !meta
            .peers
            .iter()
            .any(|p| p.id == leader.id && p.store_id == leader.store_id)
        {
            return Err(Error::InvalidArgument(format!(
                "leader peer {} (store {}) is not a peer of region {}",
                leader.id, leader.store_id, meta.id
            )));
        }
        Ok(RegionInfo {
            meta,
            leader: Some(leader),
            down_peers: req.down_peers.clone(),
            pending_peers: req.pending_peers.clone(),
            approximate_size: req.approximate_size,
            approximate_keys: req.approximate_keys,
            flow: RegionFlow {
                bytes_written: req.bytes_written,
                bytes_read: req.bytes_read,
                keys_written: req.keys_written,
                keys_read: req.keys_read,
            },
            term: req.term,
        })
    }

    pub fn id(&self) -> RegionId {
        self.meta.id
    }

    /// `(conf_ver, version)`.
    pub fn epoch(&self) -> (u64, u64) {
        let e = self.meta.region_epoch.unwrap_or_default();
        (e.conf_ver, e.version)
    }

    pub fn peer(&self, peer_id: PeerId) -> Option<&metapb::Peer> {
        self.meta.peers.iter().find(|p| p.id == peer_id)
    }

    pub fn peer_on_store(&self, store_id: StoreId) -> Option<&metapb::Peer> {
        self.meta.peers.iter().find(|p| p.store_id == store_id)
    }

    pub fn voters(&self) -> impl Iterator<Item = &metapb::Peer> {
        self.meta
            .peers
            .iter()
            .filter(|p| p.role() == PeerRole::Voter)
    }

    pub fn learners(&self) -> impl Iterator<Item = &metapb::Peer> {
        self.meta
            .peers
            .iter()
            .filter(|p| p.role() == PeerRole::Learner)
    }

    pub fn leader_store(&self) -> Option<StoreId> {
        self.leader.as_ref().map(|p| p.store_id)
    }

    pub fn is_pending(&self, peer_id: PeerId) -> bool {
        self.pending_peers.iter().any(|p| p.id == peer_id)
    }

    pub fn is_down(&self, peer_id: PeerId) -> bool {
        self.down_peers
            .iter()
            .any(|d| d.peer.as_ref().is_some_and(|p| p.id == peer_id))
    }

    /// Caught up and alive, as far as the leader can tell.
    pub fn is_healthy_peer(&self, peer_id: PeerId) -> bool {
        !self.is_pending(peer_id) && !self.is_down(peer_id)
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        crate::core::region_contains(&self.meta, key)
    }

    /// The routing answer for this region.
    pub fn to_response(&self) -> pdpb::GetRegionResponse {
        pdpb::GetRegionResponse {
            header: crate::error::ok_header(),
            region: Some(self.meta.clone()),
            leader: self.leader,
            down_peers: self.down_peers.clone(),
            pending_peers: self.pending_peers.clone(),
            approximate_size: self.approximate_size,
            approximate_keys: self.approximate_keys,
        }
    }
}

/// Checks the shape of region metadata coming from outside.
pub fn validate_region(meta: &metapb::Region) -> Result<()> {
    if meta.id == 0 {
        return Err(Error::InvalidArgument("region id 0".into()));
    }
    if meta.peers.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "region {} has no peers",
            meta.id
        )));
    }
    if !meta.end_key.is_empty() && meta.end_key <= meta.start_key {
        return Err(Error::InvalidArgument(format!(
            "region {} has an empty range: end_key <= start_key",
            meta.id
        )));
    }
    Ok(())
}

/// Why `new` is staler than `old`, if it is. `same_region` selects the
/// rule: the full epoch for the same region, only `version` for another
/// region overlapping it.
pub fn stale_reason(old: &RegionInfo, new: &RegionInfo, same_region: bool) -> Option<String> {
    let ((old_conf, old_ver), (new_conf, new_ver)) = (old.epoch(), new.epoch());
    if same_region {
        if new_ver < old_ver || new_conf < old_conf {
            return Some(format!(
                "region {} epoch (conf_ver {new_conf}, version {new_ver}) is older than \
                 (conf_ver {old_conf}, version {old_ver})",
                new.id()
            ));
        }
        if (new_conf, new_ver) == (old_conf, old_ver) && new.term != 0 && new.term < old.term {
            return Some(format!(
                "region {} reported by term {} after term {}",
                new.id(),
                new.term,
                old.term
            ));
        }
    } else if old_ver > new_ver {
        return Some(format!(
            "region {} (version {new_ver}) overlaps region {} with newer version {old_ver}",
            new.id(),
            old.id()
        ));
    }
    None
}

/// What [`RegionMap::put`] changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PutOutcome {
    /// Range, epoch or peers differ from what was known (persist it).
    pub meta_changed: bool,
    /// Other regions dropped because the new one overlaps them.
    pub removed: Vec<RegionId>,
}

/// All regions, by id and by start key.
#[derive(Debug, Default)]
pub struct RegionMap {
    regions: HashMap<RegionId, RegionInfo>,
    by_start: BTreeMap<Vec<u8>, RegionId>,
    store_peers: HashMap<StoreId, u64>,
    store_leaders: HashMap<StoreId, u64>,
}

impl RegionMap {
    pub fn len(&self) -> usize {
        self.regions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    pub fn get(&self, id: RegionId) -> Option<&RegionInfo> {
        self.regions.get(&id)
    }

    /// All regions, in key order.
    pub fn iter(&self) -> impl Iterator<Item = &RegionInfo> {
        self.by_start.values().filter_map(|id| self.regions.get(id))
    }

    /// The region containing `key`.
    pub fn get_by_key(&self, key: &[u8]) -> Option<&RegionInfo> {
        let (_, id) = self
            .by_start
            .range::<[u8], _>((std::ops::Bound::Unbounded, std::ops::Bound::Included(key)))
            .next_back()?;
        self.regions.get(id).filter(|r| r.contains(key))
    }

    /// Regions intersecting `[start, end)` (empty `end`: to the end), in key
    /// order, at most `limit` of them (0: no limit).
    pub fn scan(&self, start: &[u8], end: &[u8], limit: usize) -> Vec<&RegionInfo> {
        let limit = if limit == 0 { usize::MAX } else { limit };
        let mut out: Vec<&RegionInfo> = self.get_by_key(start).into_iter().collect();
        for (key, id) in self.by_start.range::<[u8], _>((Excluded(start), Unbounded)) {
            if out.len() >= limit || (!end.is_empty() && key.as_slice() >= end) {
                break;
            }
            out.extend(self.regions.get(id));
        }
        out.truncate(limit);
        out
    }

    /// Ids of regions other than `meta.id` whose ranges intersect `meta`'s.
    pub fn overlaps(&self, meta: &metapb::Region) -> Vec<RegionId> {
        let (start, end) = (meta.start_key.as_slice(), meta.end_key.as_slice());
        let mut ids: Vec<RegionId> = self.get_by_key(start).map(|r| r.id()).into_iter().collect();
        for (key, id) in self.by_start.range::<[u8], _>((Excluded(start), Unbounded)) {
            if !end.is_empty() && key.as_slice() >= end {
                break;
            }
            ids.push(*id);
        }
        ids.retain(|id| *id != meta.id);
        ids
    }

    /// Rejects `new` if it is staler than what PD knows (see the module docs).
    pub fn check_stale(&self, new: &RegionInfo) -> Result<()> {
        if let Some(reason) = self
            .regions
            .get(&new.id())
            .and_then(|old| stale_reason(old, new, true))
        {
            return Err(Error::StaleRegion(reason));
        }
        for id in self.overlaps(&new.meta) {
            if let Some(reason) = stale_reason(&self.regions[&id], new, false) {
                return Err(Error::StaleRegion(reason));
            }
        }
        Ok(())
    }

    /// Stores `new` (already checked with [`Self::check_stale`]), dropping
    /// regions it overlaps.
    pub fn put(&mut self, new: RegionInfo) -> PutOutcome {
        let removed = self.overlaps(&new.meta);
        for id in &removed {
            self.remove(*id);
        }
        let meta_changed = match self.remove(new.id()) {
            Some(old) => old.meta != new.meta,
            None => true,
        };
        self.account(&new, true);
        self.by_start.insert(new.meta.start_key.clone(), new.id());
        self.regions.insert(new.id(), new);
        PutOutcome {
            meta_changed,
            removed,
        }
    }

    /// Forgets a region.
    pub fn remove(&mut self, id: RegionId) -> Option<RegionInfo> {
        let old = self.regions.remove(&id)?;
        if self.by_start.get(&old.meta.start_key) == Some(&id) {
            self.by_start.remove(&old.meta.start_key);
        }
        self.account(&old, false);
        Some(old)
    }

    /// Peers (voters and learners) on a store.
    pub fn peer_count(&self, store: StoreId) -> u64 {
        self.store_peers.get(&store).copied().unwrap_or(0)
    }

    /// Regions led from a store.
    pub fn leader_count(&self, store: StoreId) -> u64 {
        self.store_leaders.get(&store).copied().unwrap_or(0)
    }

    fn account(&mut self, region: &RegionInfo, add: bool) {
        fn bump(map: &mut HashMap<StoreId, u64>, store: StoreId, add: bool) {
            let n = map.entry(store).or_default();
            *n = if add { *n + 1 } else { n.saturating_sub(1) };
        }
        for peer in &region.meta.peers {
            bump(&mut self.store_peers, peer.store_id, add);
        }
        if let Some(store) = region.leader_store() {
            bump(&mut self.store_leaders, store, add);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A region `[start, end)` with epoch and voters on `stores` (peer id =
    /// region id * 10 + store id), led by the first.
    pub(crate) fn region(
        id: u64,
        start: &str,
        end: &str,
        (conf_ver, version): (u64, u64),
        stores: &[u64],
    ) -> RegionInfo {
        let peers: Vec<metapb::Peer> = stores
            .iter()
            .map(|s| metapb::Peer {
                id: id * 10 + s,
                store_id: *s,
                role: 0,
            })
            .collect();
        RegionInfo {
            leader: peers.first().cloned(),
            meta: metapb::Region {
                id,
                start_key: start.as_bytes().to_vec(),
                end_key: end.as_bytes().to_vec(),
                region_epoch: Some(metapb::RegionEpoch { conf_ver, version }),
                peers,
            },
            ..Default::default()
        }
    }

    fn put(map: &mut RegionMap, r: RegionInfo) -> Result<PutOutcome> {
        map.check_stale(&r)?;
        Ok(map.put(r))
    }

    fn layout(map: &RegionMap) -> Vec<(u64, String, String)> {
        map.iter()
            .map(|r| {
                let s = |k: &[u8]| String::from_utf8(k.to_vec()).unwrap();
                (r.id(), s(&r.meta.start_key), s(&r.meta.end_key))
            })
            .collect()
    }

    #[test]
    fn lookup_by_key_with_open_end() {
        let mut map = RegionMap::default();
        put(&mut map, region(2, "", "g", (1, 1), &[1])).unwrap();
        put(&mut map, region(8, "g", "t", (1, 1), &[1])).unwrap();
        put(&mut map, region(5, "t", "", (1, 1), &[1])).unwrap();
        for (key, want) in [
            ("", 2),
            ("a", 2),
            ("g", 8),
            ("s\u{7f}", 8),
            ("t", 5),
            ("zzzz", 5),
        ] {
            assert_eq!(
                map.get_by_key(key.as_bytes()).unwrap().id(),
                want,
                "key {key:?}"
            );
        }
        let ids = |v: Vec<&RegionInfo>| v.iter().map(|r| r.id()).collect::<Vec<_>>();
        assert_eq!(ids(map.scan(b"", b"", 0)), vec![2, 8, 5]);
        assert_eq!(ids(map.scan(b"h", b"", 0)), vec![8, 5]);
        assert_eq!(ids(map.scan(b"a", b"t", 0)), vec![2, 8]);
        assert_eq!(ids(map.scan(b"a", b"", 2)), vec![2, 8]);
        assert_eq!(ids(map.scan(b"a", b"g", 0)), vec![2]);
    }

    #[test]
    fn gaps_are_not_covered() {
        let mut map = RegionMap::default();
        put(&mut map, region(2, "a", "c", (1, 1), &[1])).unwrap();
        put(&mut map, region(3, "e", "", (1, 1), &[1])).unwrap();
        assert!(map.get_by_key(b"").is_none());
        assert!(map.get_by_key(b"d").is_none());
        let ids: Vec<u64> = map.scan(b"c", b"", 0).iter().map(|r| r.id()).collect();
        assert_eq!(ids, vec![3]);
    }

    #[test]
    fn split_then_merge_replace_overlaps() {
        let mut map = RegionMap::default();
        put(&mut map, region(2, "", "", (1, 1), &[1, 2, 3])).unwrap();
        // Split at "m": region 2 keeps the left half, 10 is new; both version 2.
        // The right half reports first: it overlaps the older region 2.
        let out = put(&mut map, region(10, "m", "", (1, 2), &[1, 2, 3])).unwrap();
        assert_eq!(out.removed, vec![2]);
        assert_eq!(layout(&map), vec![(10, "m".into(), "".into())]);
        // A late heartbeat from the unsplit region 2 is stale.
        let err = put(&mut map, region(2, "", "", (1, 1), &[1, 2, 3])).unwrap_err();
        assert!(matches!(err, Error::StaleRegion(_)), "{err}");
        put(&mut map, region(2, "", "m", (1, 2), &[1, 2, 3])).unwrap();
        assert_eq!(
            layout(&map),
            vec![(2, "".into(), "m".into()), (10, "m".into(), "".into())]
        );
        // A further split of the left half.
        put(&mut map, region(11, "", "f", (1, 3), &[1, 2, 3])).unwrap();
        put(&mut map, region(2, "f", "m", (1, 3), &[1, 2, 3])).unwrap();
        assert_eq!(
            layout(&map),
            vec![
                (11, "".into(), "f".into()),
                (2, "f".into(), "m".into()),
                (10, "m".into(), "".into())
            ]
        );
        assert_eq!(map.get_by_key(b"g").unwrap().id(), 2);
        // Merge 2 into 10 (version bumps past both).
        let out = put(&mut map, region(10, "f", "", (1, 4), &[1, 2, 3])).unwrap();
        assert_eq!(out.removed, vec![2]);
        assert_eq!(
            layout(&map),
            vec![(11, "".into(), "f".into()), (10, "f".into(), "".into())]
        );
        assert_eq!(map.peer_count(1), 2);
        assert_eq!(map.leader_count(1), 2);
    }

    #[test]
    fn stale_heartbeats_are_rejected_and_not_stored() {
        let mut map = RegionMap::default();
        put(&mut map, region(2, "", "", (5, 5), &[1, 2, 3])).unwrap();
        for epoch in [(4, 5), (5, 4), (4, 6), (6, 4)] {
            let err = put(&mut map, region(2, "", "", epoch, &[1, 2])).unwrap_err();
            assert!(matches!(err, Error::StaleRegion(_)), "epoch {epoch:?}");
        }
        assert_eq!(map.get(2).unwrap().epoch(), (5, 5));
        assert_eq!(map.get(2).unwrap().meta.peers.len(), 3);
        // Same epoch: accepted, but not a metadata change.
        let out = put(&mut map, region(2, "", "", (5, 5), &[1, 2, 3])).unwrap();
        assert!(!out.meta_changed);
        // A lower term with the same epoch is a deposed leader talking.
        let mut newer = region(2, "", "", (5, 5), &[2, 1, 3]);
        newer.term = 8;
        put(&mut map, newer).unwrap();
        let mut older = region(2, "", "", (5, 5), &[1, 2, 3]);
        older.term = 7;
        assert!(put(&mut map, older).is_err());
        assert_eq!(map.get(2).unwrap().leader_store(), Some(2));
        assert_eq!((map.leader_count(1), map.leader_count(2)), (0, 1));
        // Newer conf_ver: accepted and a metadata change.
        assert!(
            put(&mut map, region(2, "", "", (6, 5), &[2, 3]))
                .unwrap()
                .meta_changed
        );
        assert_eq!((map.peer_count(1), map.peer_count(2)), (0, 1));
    }

    #[test]
    fn heartbeat_validation() {
        let hb = |r: &RegionInfo, leader: Option<metapb::Peer>| pdpb::RegionHeartbeatRequest {
            region: Some(r.meta.clone()),
            leader,
            ..Default::default()
        };
        let r = region(2, "a", "b", (1, 1), &[1, 2]);
        assert!(RegionInfo::from_heartbeat(&hb(&r, r.leader)).is_ok());
        assert!(RegionInfo::from_heartbeat(&hb(&r, None)).is_err());
        let stranger = metapb::Peer {
            id: 99,
            store_id: 9,
            role: 0,
        };
        assert!(RegionInfo::from_heartbeat(&hb(&r, Some(stranger))).is_err());
        let backwards = region(2, "b", "a", (1, 1), &[1]);
        assert!(RegionInfo::from_heartbeat(&hb(&backwards, backwards.leader)).is_err());
    }
}
