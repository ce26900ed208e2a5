//! # Balance-leader scheduler
//!
//! Leaders serve all reads and writes of their region, so their count per
//! store is the first-order measure of load. This scheduler moves one leader
//! at a time from the store with the most leaders to the store with the
//! fewest, among stores that may lead (Up, not columnar).
//!
//! A move is proposed only when `source - target > tolerance`, with
//! `tolerance = max(1, mean * leader_tolerance_ratio)`. A transfer narrows the
//! gap by two, so with a tolerance of at least one the target never ends up
//! above the source: no ping-pong. Leader counts already include transfers in
//! flight (see [`StoreView::leader_count`]), so consecutive decisions in one
//! tick do not overshoot.
//!
//! The region moved is the first (in key order) led on the source that has
//! no running operator and has a healthy (caught up, alive) voter on the
//! target. If the busiest pair has no such region, the next pair is tried.
//!
//! Follows PD's `balance_leader.go`, minus its scoring by region size.

use std::fmt;

use proto::metapb::StoreState;

use super::{ClusterView, ScheduleConfig, StoreView};
use crate::cluster::region::RegionInfo;
use crate::{RegionId, StoreId};

/// Move the leader of `region_id` from `from_store` to `to_store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderMove {
    pub region_id: RegionId,
    pub from_store: StoreId,
    pub to_store: StoreId,
}

impl fmt::Display for LeaderMove {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "transfer-leader region={} from={} to={}",
            self.region_id, self.from_store, self.to_store
        )
    }
}

/// How far apart leader counts may drift.
pub fn tolerance(stores: &[&StoreView], cfg: &ScheduleConfig) -> u64 {
    let total: u64 = stores.iter().map(|s| s.leader_count).sum();
    let mean = total as f64 / stores.len().max(1) as f64;
    ((mean * cfg.leader_tolerance_ratio).round() as u64).max(1)
}

/// Picks one leader to move, if the cluster is out of balance.
/// `regions` in key order; `busy` tells regions with a running operator.
pub fn schedule<'a>(
    view: &ClusterView,
    regions: impl IntoIterator<Item = &'a RegionInfo>,
    busy: impl Fn(RegionId) -> bool,
    cfg: &ScheduleConfig,
) -> Option<LeaderMove> {
    let stores: Vec<&StoreView> = view
        .stores
        .values()
        .filter(|s| s.state == StoreState::Up && s.is_row_store())
        .collect();
    if stores.len() < 2 {
        return None;
    }
    let tolerance = tolerance(&stores, cfg);
    let mut sources = stores.clone();
    sources.sort_by_key(|s| (std::cmp::Reverse(s.leader_count), s.id));
    let mut targets = stores;
    targets.sort_by_key(|s| (s.leader_count, s.id));

    let regions: Vec<&RegionInfo> = regions.into_iter().collect();
    for source in sources
        .iter()
        .filter(|s| s.leader_ops < cfg.leader_schedule_limit)
    {
        for target in &targets {
            if source.leader_count <= target.leader_count + tolerance {
                break;
            }
            if target.leader_ops >= cfg.leader_schedule_limit {
                continue;
            }
            let found = regions.iter().find(|r| {
                r.leader_store() == Some(source.id)
                    && !busy(r.id())
                    && r.voters()
                        .any(|p| p.store_id == target.id && r.is_healthy_peer(p.id))
            });
            if let Some(r) = found {
                return Some(LeaderMove {
                    region_id: r.id(),
                    from_store: source.id,
                    to_store: target.id,
                });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::region::tests::region;

    /// (store id, state, leader count).
    type Stores<'a> = &'a [(u64, StoreState, u64)];

    fn view(stores: Stores<'_>) -> ClusterView {
        let mut v = ClusterView::default();
        for &(id, state, leaders) in stores {
            let mut s = StoreView::new(id, state);
            s.leader_count = leaders;
            v.stores.insert(id, s);
        }
        v
    }

    fn decide(stores: &[(u64, StoreState, u64)], regions: &[RegionInfo]) -> String {
        schedule(
            &view(stores),
            regions,
            |_| false,
            &ScheduleConfig::default(),
        )
        .map_or("none".into(), |m| m.to_string())
    }

    #[test]
    fn moves_from_most_to_least_loaded() {
        use StoreState::*;
        // Regions 1..=4 led by store 1, each with voters on 1, 2, 3.
        let regions: Vec<RegionInfo> = (1..=4)
            .map(|i| region(i, &format!("k{i}"), &format!("k{i}~"), (1, 1), &[1, 2, 3]))
            .collect();
        let cases: &[(Stores<'_>, &str)] = &[
            (
                &[(1, Up, 4), (2, Up, 0), (3, Up, 1)],
                "transfer-leader region=1 from=1 to=2",
            ),
            (
                &[(1, Up, 4), (2, Up, 3), (3, Up, 1)],
                "transfer-leader region=1 from=1 to=3",
            ),
            // Within tolerance: leave it.
            (&[(1, Up, 2), (2, Up, 1), (3, Up, 1)], "none"),
            (&[(1, Up, 1), (2, Up, 0), (3, Up, 0)], "none"),
            // A down or disconnected store is no target.
            (&[(1, Up, 4), (2, Down, 0), (3, Disconnected, 0)], "none"),
            (
                &[(1, Up, 4), (2, Down, 0), (3, Up, 1)],
                "transfer-leader region=1 from=1 to=3",
            ),
        ];
        for (stores, want) in cases {
            assert_eq!(decide(stores, &regions), *want, "stores {stores:?}");
        }
    }

    #[test]
    fn needs_a_healthy_voter_on_the_target() {
        use StoreState::*;
        let stores = [(1, Up, 3), (2, Up, 0), (3, Up, 2)];
        // Region 1 has no voter on 2; region 2's voter on 2 is pending.
        let r1 = region(1, "a", "b", (1, 1), &[1, 3]);
        let mut r2 = region(2, "b", "c", (1, 1), &[1, 2, 3]);
        r2.pending_peers.push(*r2.peer(22).unwrap());
        assert_eq!(decide(&stores, &[r1.clone(), r2.clone()]), "none");
        r2.pending_peers.clear();
        assert_eq!(
            decide(&stores, &[r1, r2]),
            "transfer-leader region=2 from=1 to=2"
        );
    }

    #[test]
    fn skips_busy_regions_columnar_stores_and_limits() {
        use StoreState::*;
        let regions: Vec<RegionInfo> = (1..=2)
            .map(|i| region(i, &format!("k{i}"), &format!("k{i}~"), (1, 1), &[1, 2]))
            .collect();
        let mut v = view(&[(1, Up, 4), (2, Up, 0)]);
        let cfg = ScheduleConfig::default();
        let got = schedule(&v, &regions, |id| id == 1, &cfg).unwrap();
        assert_eq!(got.region_id, 2);
        v.stores.get_mut(&2).unwrap().leader_ops = cfg.leader_schedule_limit;
        assert_eq!(schedule(&v, &regions, |_| false, &cfg), None);
        v.stores.get_mut(&2).unwrap().leader_ops = 0;
        v.stores.get_mut(&2).unwrap().columnar = true;
        assert_eq!(schedule(&v, &regions, |_| false, &cfg), None);
    }

    #[test]
    fn converges_without_ping_pong() {
        use StoreState::*;
        // 9 regions, all led by store 1, voters on 1, 2, 3. Apply each move
        // and re-run until quiet.
        let mut regions: Vec<RegionInfo> = (1..=9)
            .map(|i| region(i, &format!("k{i}"), &format!("k{i}~"), (1, 1), &[1, 2, 3]))
            .collect();
        let cfg = ScheduleConfig::default();
        let mut moves = 0;
        loop {
            let mut v = view(&[(1, Up, 0), (2, Up, 0), (3, Up, 0)]);
            for r in &regions {
                v.stores
                    .get_mut(&r.leader_store().unwrap())
                    .unwrap()
                    .leader_count += 1;
            }
            let Some(m) = schedule(&v, &regions, |_| false, &cfg) else {
                break;
            };
            let r = regions.iter_mut().find(|r| r.id() == m.region_id).unwrap();
            r.leader = r.peer_on_store(m.to_store).copied();
            moves += 1;
            assert!(moves <= 6, "does not converge");
        }
        let counts: Vec<usize> = (1..=3)
            .map(|s| {
                regions
                    .iter()
                    .filter(|r| r.leader_store() == Some(s))
                    .count()
            })
            .collect();
        assert_eq!(counts, vec![3, 3, 3]);
        assert_eq!(moves, 6);
    }
}
