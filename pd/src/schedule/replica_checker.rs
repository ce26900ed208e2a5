//! # Replica checker
//!
//! Keeps every region at `max_replicas` healthy voters. A voter is healthy
//! when its store is Up or merely Disconnected; voters on Down, Offline or
//! Tombstone (or unknown) stores are *unhealthy* and are replaced.
//!
//! The rules, first match wins:
//!
//! 1. **Too few healthy voters.** Reuse a caught-up learner on an Up row
//!    store by promoting it; otherwise add a voter (learner first, promoted
//!    once it has caught up) on the Up row store holding no peer of the region
//!    with the fewest peers (ties: lowest id), skipping stores at their
//!    replica limit. If there is an unhealthy voter, the same operator then
//!    removes it (a *replace*). No eligible store: do nothing; removing a
//!    voter now would only lower redundancy further.
//! 2. **Enough healthy voters but some unhealthy ones.** Remove one (Down and
//!    Tombstone before Offline, then by peer id).
//! 3. **Too many voters.** Remove the non-leader voter on the store with the
//!    most peers (ties: highest store id).
//!
//! Learners are never removed here: on columnar stores they are the columnar
//! replicas, and elsewhere an administrator put them there.
//!
//! This follows PD's `replica_checker.go` (`checkDownPeer`,
//! `checkOfflinePeer`, `checkMakeUpReplica`, `checkRemoveExtraReplica`).

use std::fmt;

use proto::metapb::{self, StoreState};

use super::{ClusterView, ScheduleConfig, StoreView, is_unhealthy};
use crate::StoreId;
use crate::cluster::region::RegionInfo;

/// Why a voter is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveReason {
    /// Its store is Down, Offline or Tombstone.
    UnhealthyStore(StoreState),
    /// The region has more voters than `max_replicas`.
    Extra,
}

/// What the replica checker wants done to a region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaAction {
    /// Add a voter on `store_id`, then remove `replace` if any.
    AddVoter {
        store_id: StoreId,
        replace: Option<metapb::Peer>,
    },
    /// Promote a caught-up learner, then remove `replace` if any.
    PromoteLearner {
        peer: metapb::Peer,
        replace: Option<metapb::Peer>,
    },
    /// Remove one voter.
    RemoveVoter {
        peer: metapb::Peer,
        reason: RemoveReason,
    },
}

impl fmt::Display for ReplicaAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let replace = |r: &Option<metapb::Peer>| match r {
            Some(p) => format!(" replace={}@{}", p.id, p.store_id),
            None => String::new(),
        };
        match self {
            ReplicaAction::AddVoter {
                store_id,
                replace: r,
            } => {
                write!(f, "add-voter store={store_id}{}", replace(r))
            }
            ReplicaAction::PromoteLearner { peer, replace: r } => {
                write!(
                    f,
                    "promote-learner peer={}@{}{}",
                    peer.id,
                    peer.store_id,
                    replace(r)
                )
            }
            ReplicaAction::RemoveVoter { peer, reason } => {
                let why = match reason {
                    RemoveReason::UnhealthyStore(s) => format!("{s:?}").to_lowercase(),
                    RemoveReason::Extra => "extra".into(),
                };
                write!(
                    f,
                    "remove-voter peer={}@{} reason={why}",
                    peer.id, peer.store_id
                )
            }
        }
    }
}

/// Decides what, if anything, to do about `region`'s replicas.
pub fn check(
    region: &RegionInfo,
    view: &ClusterView,
    cfg: &ScheduleConfig,
) -> Option<ReplicaAction> {
    let voters: Vec<&metapb::Peer> = region.voters().collect();
    let (mut bad, healthy): (Vec<&metapb::Peer>, Vec<&metapb::Peer>) = voters
        .iter()
        .partition(|p| is_unhealthy(view.state(p.store_id)));
    // Dead stores first: an Offline store still serves, a Down one does not.
    bad.sort_by_key(|p| (view.state(p.store_id) == StoreState::Offline, p.id));

    if healthy.len() < cfg.max_replicas {
        let replace = bad.first().map(|p| **p);
        if let Some(peer) = promotable_learner(region, view) {
            return Some(ReplicaAction::PromoteLearner { peer, replace });
        }
        return target_store(region, view, cfg).map(|store| ReplicaAction::AddVoter {
            store_id: store.id,
            replace,
        });
    }
    if let Some(peer) = bad.first() {
        let reason = RemoveReason::UnhealthyStore(view.state(peer.store_id));
        return Some(ReplicaAction::RemoveVoter {
            peer: **peer,
            reason,
        });
    }
    if voters.len() > cfg.max_replicas {
        let load = |p: &metapb::Peer| view.store(p.store_id).map_or(0, |s| s.region_count);
        return voters
            .iter()
            .filter(|p| Some(p.store_id) != region.leader_store())
            .max_by_key(|p| (load(p), p.store_id))
            .map(|p| ReplicaAction::RemoveVoter {
                peer: **p,
                reason: RemoveReason::Extra,
            });
    }
    None
}

/// A learner that could become a voter right away: on an Up row store and
/// caught up.
fn promotable_learner(region: &RegionInfo, view: &ClusterView) -> Option<metapb::Peer> {
    region
        .learners()
        .filter(|p| {
            view.store(p.store_id)
                .is_some_and(|s| s.state == StoreState::Up && s.is_row_store())
                && region.is_healthy_peer(p.id)
        })
        .min_by_key(|p| p.id)
        .copied()
}

/// The store to receive a new voter.
fn target_store<'a>(
    region: &RegionInfo,
    view: &'a ClusterView,
    cfg: &ScheduleConfig,
) -> Option<&'a StoreView> {
    view.stores
        .values()
        .filter(|s| {
            s.state == StoreState::Up
                && s.is_row_store()
                && region.peer_on_store(s.id).is_none()
                && s.replica_ops < cfg.replica_schedule_limit
        })
        .min_by_key(|s| (s.region_count + s.replica_ops, s.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::region::tests::region;
    use StoreState::*;
    use proto::metapb::PeerRole;

    /// (store id, state, peer count).
    type Stores<'a> = &'a [(u64, StoreState, u64)];

    fn view(stores: Stores<'_>) -> ClusterView {
        let mut v = ClusterView::default();
        for &(id, state, regions) in stores {
            let mut s = StoreView::new(id, state);
            s.region_count = regions;
            v.stores.insert(id, s);
        }
        v
    }

    fn run(stores: &[(u64, StoreState, u64)], voters: &[u64]) -> String {
        let r = region(7, "", "", (1, 1), voters);
        check(&r, &view(stores), &ScheduleConfig::default())
            .map_or("none".into(), |a| a.to_string())
    }

    /// Each row: stores (id, state, peer count), voters of region 7 (first
    /// leads; peer id = 70 + store), expected action.
    #[test]
    fn decision_table() {
        let cases: &[(Stores<'_>, &[u64], &str)] = &[
            // Healthy and complete.
            (&[(1, Up, 1), (2, Up, 1), (3, Up, 1)], &[1, 2, 3], "none"),
            // Disconnected is not yet a reason to move data.
            (
                &[(1, Up, 1), (2, Up, 1), (3, Disconnected, 1), (4, Up, 0)],
                &[1, 2, 3],
                "none",
            ),
            // Missing a replica: the emptiest Up store.
            (
                &[(1, Up, 1), (2, Up, 1), (3, Up, 9), (4, Up, 2)],
                &[1, 2],
                "add-voter store=4",
            ),
            (
                &[(1, Up, 1), (2, Up, 1), (3, Up, 2), (4, Up, 2)],
                &[1, 2],
                "add-voter store=3",
            ),
            // Down voter replaced by the best Up store.
            (
                &[(1, Up, 1), (2, Up, 1), (3, Down, 1), (4, Up, 5), (5, Up, 3)],
                &[1, 2, 3],
                "add-voter store=5 replace=73@3",
            ),
            // Offline store drained the same way.
            (
                &[(1, Up, 1), (2, Up, 1), (3, Offline, 1), (4, Up, 0)],
                &[1, 2, 3],
                "add-voter store=4 replace=73@3",
            ),
            // Nowhere to go: keep the down voter.
            (
                &[(1, Up, 1), (2, Up, 1), (3, Down, 1), (4, Disconnected, 0)],
                &[1, 2, 3],
                "none",
            ),
            // Enough healthy voters: just remove the unhealthy one.
            (
                &[(1, Up, 1), (2, Up, 1), (3, Up, 1), (4, Down, 1)],
                &[1, 2, 3, 4],
                "remove-voter peer=74@4 reason=down",
            ),
            (
                &[
                    (1, Up, 1),
                    (2, Up, 1),
                    (3, Up, 1),
                    (4, Offline, 1),
                    (5, Down, 1),
                ],
                &[1, 2, 3, 4, 5],
                "remove-voter peer=75@5 reason=down",
            ),
            (
                &[(1, Up, 1), (2, Up, 1), (3, Up, 1), (4, Offline, 1)],
                &[1, 2, 3, 4],
                "remove-voter peer=74@4 reason=offline",
            ),
            // A voter on an unknown store counts as gone.
            (
                &[(1, Up, 1), (2, Up, 1), (3, Up, 1)],
                &[1, 2, 3, 9],
                "remove-voter peer=79@9 reason=tombstone",
            ),
            // Too many voters: the busiest non-leader goes, never the leader.
            (
                &[(1, Up, 50), (2, Up, 3), (3, Up, 7), (4, Up, 7)],
                &[1, 2, 3, 4],
                "remove-voter peer=74@4 reason=extra",
            ),
        ];
        for (stores, voters, want) in cases {
            assert_eq!(
                run(stores, voters),
                *want,
                "stores {stores:?} voters {voters:?}"
            );
        }
    }

    #[test]
    fn columnar_stores_never_get_voters_and_their_learners_do_not_count() {
        let mut v = view(&[(1, Up, 1), (2, Up, 1), (3, Up, 1), (4, Up, 0)]);
        v.stores.get_mut(&4).unwrap().columnar = true;
        let mut r = region(7, "", "", (1, 1), &[1, 2]);
        let cfg = ScheduleConfig::default();
        assert_eq!(
            check(&r, &v, &cfg).unwrap().to_string(),
            "add-voter store=3"
        );
        // A learner on the columnar store is neither promoted nor removed.
        let mut learner = metapb::Peer {
            id: 74,
            store_id: 4,
            ..Default::default()
        };
        learner.set_role(PeerRole::Learner);
        r.meta.peers.push(learner);
        assert_eq!(
            check(&r, &v, &cfg).unwrap().to_string(),
            "add-voter store=3"
        );
        let r3 = region(7, "", "", (1, 1), &[1, 2, 3]);
        let mut r3 = r3.clone();
        r3.meta.peers.push(learner);
        assert_eq!(check(&r3, &v, &cfg), None);
    }

    #[test]
    fn caught_up_row_learner_is_promoted_pending_one_is_not() {
        let v = view(&[(1, Up, 1), (2, Up, 1), (3, Up, 1), (4, Down, 1), (5, Up, 0)]);
        let mut r = region(7, "", "", (1, 1), &[1, 2, 4]);
        let mut learner = metapb::Peer {
            id: 73,
            store_id: 3,
            ..Default::default()
        };
        learner.set_role(PeerRole::Learner);
        r.meta.peers.push(learner);
        let cfg = ScheduleConfig::default();
        assert_eq!(
            check(&r, &v, &cfg).unwrap().to_string(),
            "promote-learner peer=73@3 replace=74@4"
        );
        r.pending_peers.push(learner);
        assert_eq!(
            check(&r, &v, &cfg).unwrap().to_string(),
            "add-voter store=5 replace=74@4"
        );
    }

    #[test]
    fn replica_limit_skips_busy_stores() {
        let mut v = view(&[(1, Up, 1), (2, Up, 1), (3, Up, 0), (4, Up, 5)]);
        let cfg = ScheduleConfig {
            replica_schedule_limit: 2,
            ..Default::default()
        };
        v.stores.get_mut(&3).unwrap().replica_ops = 2;
        let r = region(7, "", "", (1, 1), &[1, 2]);
        assert_eq!(
            check(&r, &v, &cfg).unwrap().to_string(),
            "add-voter store=4"
        );
        v.stores.get_mut(&4).unwrap().replica_ops = 2;
        assert_eq!(check(&r, &v, &cfg), None);
    }
}
