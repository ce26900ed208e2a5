//! # Columnar placement
//!
//! Keeps the columnar replicas the SQL layer asked for
//! (`ALTER TABLE t SET COLUMNAR REPLICA n`): a [`ColumnarRule`] names a key
//! range and a count, and every region overlapping the range gets that many
//! learners on distinct columnar stores. A region no rule covers keeps no
//! learner on a columnar store. Learners on row stores are not this
//! checker's business (an administrator put them there, or the replica
//! checker is adding a voter through them).
//!
//! The rules, first match wins:
//!
//! 1. **Too few healthy columnar learners** (on an Up or Disconnected
//!    columnar store). Add one on the Up columnar store holding no peer of
//!    the region with the fewest peers (ties: lowest id), skipping stores at
//!    their replica limit. No eligible store: fall through.
//! 2. **A columnar learner on a Down, Offline or Tombstone store.** Remove
//!    it: it serves nothing and its store will not come back soon.
//! 3. **Too many** (also: the region is covered by no rule any more). Remove
//!    the learner on the store with the most peers (ties: highest id).
//!
//! Regions born from a split inherit the rule through their range: the
//! right half reports its own heartbeat and is checked like any region.
//! This is PD's placement-rule checker for `engine=tiflash` rules
//! (`pkg/schedule/checker/rule_checker.go`), for the one kind of rule duet
//! has.

use std::fmt;

use proto::metapb::{self, StoreState};
use proto::pdpb::ColumnarRule;

use super::{ClusterView, ScheduleConfig, StoreView, is_unhealthy};
use crate::StoreId;
use crate::cluster::region::RegionInfo;

/// Why a columnar learner is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveReason {
    /// Its store is Down, Offline or Tombstone.
    UnhealthyStore(StoreState),
    /// More learners than the rules ask for.
    Extra,
}

/// What the columnar checker wants done to a region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnarAction {
    AddLearner {
        store_id: StoreId,
    },
    RemoveLearner {
        peer: metapb::Peer,
        reason: RemoveReason,
    },
}

impl fmt::Display for ColumnarAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnarAction::AddLearner { store_id } => {
                write!(f, "add-columnar-learner store={store_id}")
            }
            ColumnarAction::RemoveLearner { peer, reason } => {
                let why = match reason {
                    RemoveReason::UnhealthyStore(s) => format!("{s:?}").to_lowercase(),
                    RemoveReason::Extra => "extra".into(),
                };
                write!(
                    f,
                    "remove-columnar-learner peer={}@{} reason={why}",
                    peer.id, peer.store_id
                )
            }
        }
    }
}

/// Whether the rule's range and the region's range share a key. Both are
/// `[start, end)` with an empty end meaning +infinity.
pub fn overlaps(rule: &ColumnarRule, region: &metapb::Region) -> bool {
    let before_end = |start: &[u8], end: &[u8]| end.is_empty() || start < end;
    before_end(&rule.start_key, &region.end_key) && before_end(&region.start_key, &rule.end_key)
}

/// The columnar learners `region` should have: the largest count among the
/// rules overlapping it (0 when none does).
pub fn wanted<'a>(region: &RegionInfo, rules: impl IntoIterator<Item = &'a ColumnarRule>) -> usize {
    rules
        .into_iter()
        .filter(|r| overlaps(r, &region.meta))
        .map(|r| r.count as usize)
        .max()
        .unwrap_or(0)
}

/// Decides what, if anything, to do about `region`'s columnar learners
/// when the rules ask for `wanted` of them.
pub fn check(
    region: &RegionInfo,
    wanted: usize,
    view: &ClusterView,
    cfg: &ScheduleConfig,
) -> Option<ColumnarAction> {
    let on_columnar = |p: &&metapb::Peer| view.store(p.store_id).is_none_or(|s| s.columnar);
    let learners: Vec<&metapb::Peer> = region.learners().filter(on_columnar).collect();
    let (mut bad, healthy): (Vec<&metapb::Peer>, Vec<&metapb::Peer>) = learners
        .iter()
        .partition(|p| is_unhealthy(view.state(p.store_id)));
    bad.sort_by_key(|p| (view.state(p.store_id) == StoreState::Offline, p.id));

    if healthy.len() < wanted
        && let Some(store) = target_store(region, view, cfg)
    {
        return Some(ColumnarAction::AddLearner { store_id: store.id });
    }
    if let Some(peer) = bad.first() {
        return Some(ColumnarAction::RemoveLearner {
            peer: **peer,
            reason: RemoveReason::UnhealthyStore(view.state(peer.store_id)),
        });
    }
    if healthy.len() > wanted {
        let load = |p: &metapb::Peer| view.store(p.store_id).map_or(0, |s| s.region_count);
        return healthy
            .iter()
            .max_by_key(|p| (load(p), p.store_id))
            .map(|p| ColumnarAction::RemoveLearner {
                peer: **p,
                reason: RemoveReason::Extra,
            });
    }
    None
}

/// The columnar store to receive a new learner.
fn target_store<'a>(
    region: &RegionInfo,
    view: &'a ClusterView,
    cfg: &ScheduleConfig,
) -> Option<&'a StoreView> {
    view.stores
        .values()
        .filter(|s| {
            s.state == StoreState::Up
                && s.columnar
                && region.peer_on_store(s.id).is_none()
                && s.replica_ops < cfg.replica_schedule_limit
        })
        .min_by_key(|s| (s.region_count + s.replica_ops, s.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(start: &str, end: &str, count: u64) -> ColumnarRule {
        ColumnarRule {
            id: "r".into(),
            start_key: start.as_bytes().to_vec(),
            end_key: end.as_bytes().to_vec(),
            count,
        }
    }

    fn region(start: &str, end: &str) -> metapb::Region {
        metapb::Region {
            start_key: start.as_bytes().to_vec(),
            end_key: end.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn ranges_overlap_with_open_ends() {
        let cases = [
            (("b", "d"), ("a", "c"), true),
            (("b", "d"), ("c", "e"), true),
            (("b", "d"), ("d", "e"), false),
            (("b", "d"), ("a", "b"), false),
            (("b", ""), ("x", ""), true),
            (("b", ""), ("a", "b"), false),
            (("", ""), ("m", "n"), true),
            (("", "b"), ("", ""), true),
        ];
        for ((rs, re), (gs, ge), want) in cases {
            assert_eq!(
                overlaps(&rule(rs, re, 1), &region(gs, ge)),
                want,
                "rule [{rs},{re}) region [{gs},{ge})"
            );
        }
    }
}
