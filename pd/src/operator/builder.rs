//! # Building operators
//!
//! Turns a scheduler's intent ([`ReplicaAction`], [`LeaderMove`]) or an
//! administrator's request (`AddOperator`) into an [`Operator`]: the steps,
//! fresh peer ids for new peers, a description and a timeout.
//!
//! | intent | steps |
//! |---|---|
//! | add voter (replace `p`) | AddLearner(new) -> PromoteLearner(new) [-> RemovePeer(p)] |
//! | promote learner `l` (replace `p`) | PromoteLearner(l) [-> RemovePeer(p)] |
//! | remove voter `p` | RemovePeer(p) (leadership handed off first if `p` leads) |
//! | move leader | TransferLeader |
//! | add columnar learner | AddLearner(new) |
//! | remove columnar learner `l` | RemovePeer(l) |
//! | admin ADD_PEER | AddLearner(new) -> PromoteLearner(new) |
//! | admin ADD_LEARNER | AddLearner(new) |
//! | admin REMOVE_PEER | RemovePeer |
//! | admin TRANSFER_LEADER | TransferLeader |
//!
//! Adding a voter always goes through a learner: the new peer receives its
//! snapshot without counting towards the quorum, and only joins it once it
//! has caught up (it is no longer in the leader's `pending_peers`). This is
//! how TiKV avoids a window where a quorum depends on an empty peer.
//!
//! Admin requests are validated here and refused with a message saying why.

use std::time::{Duration, Instant};

use proto::metapb::{PeerRole, StoreState};
use proto::pdpb::OperatorKind;

use super::{OpSource, OpStep, Operator};
use crate::cluster::region::RegionInfo;
use crate::error::{Error, Result};
use crate::schedule::ClusterView;
use crate::schedule::balance_leader::LeaderMove;
use crate::schedule::columnar_placement::ColumnarAction;
use crate::schedule::replica_checker::{RemoveReason, ReplicaAction};
use crate::{PeerId, StoreId};

/// How long operators may run before they are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpTimeouts {
    /// Operators that add or remove peers.
    pub region: Duration,
    /// Leader transfers.
    pub leader: Duration,
}

fn timeout_for(steps: &[OpStep], t: &OpTimeouts) -> Duration {
    if steps
        .iter()
        .all(|s| matches!(s, OpStep::TransferLeader { .. }))
    {
        t.leader
    } else {
        t.region
    }
}

fn make(
    region: &RegionInfo,
    desc: String,
    source: OpSource,
    steps: Vec<OpStep>,
    now: Instant,
    t: &OpTimeouts,
) -> Operator {
    let timeout = timeout_for(&steps, t);
    Operator::new(region, desc, source, steps, now, timeout)
}

/// The operator carrying out a replica checker decision.
pub fn from_replica_action(
    action: &ReplicaAction,
    region: &RegionInfo,
    new_peer_id: impl FnOnce() -> Result<PeerId>,
    now: Instant,
    t: &OpTimeouts,
) -> Result<Operator> {
    let (desc, mut steps, replace) = match action {
        ReplicaAction::AddVoter { store_id, replace } => {
            let peer_id = new_peer_id()?;
            let steps = vec![
                OpStep::AddLearner {
                    store_id: *store_id,
                    peer_id,
                },
                OpStep::PromoteLearner {
                    store_id: *store_id,
                    peer_id,
                },
            ];
            (
                if replace.is_some() {
                    "replace-replica"
                } else {
                    "add-replica"
                },
                steps,
                *replace,
            )
        }
        ReplicaAction::PromoteLearner { peer, replace } => {
            let steps = vec![OpStep::PromoteLearner {
                store_id: peer.store_id,
                peer_id: peer.id,
            }];
            (
                if replace.is_some() {
                    "replace-replica"
                } else {
                    "promote-learner"
                },
                steps,
                *replace,
            )
        }
        ReplicaAction::RemoveVoter { peer, reason } => {
            let desc = match reason {
                RemoveReason::UnhealthyStore(StoreState::Offline) => "remove-offline-replica",
                RemoveReason::UnhealthyStore(_) => "remove-down-replica",
                RemoveReason::Extra => "remove-extra-replica",
            };
            (desc, Vec::new(), Some(*peer))
        }
    };
    if let Some(p) = replace {
        steps.push(OpStep::RemovePeer {
            store_id: p.store_id,
            peer_id: p.id,
        });
    }
    Ok(make(
        region,
        desc.into(),
        OpSource::ReplicaChecker,
        steps,
        now,
        t,
    ))
}

/// The operator carrying out a columnar placement decision.
pub fn from_columnar_action(
    action: &ColumnarAction,
    region: &RegionInfo,
    new_peer_id: impl FnOnce() -> Result<PeerId>,
    now: Instant,
    t: &OpTimeouts,
) -> Result<Operator> {
    let (desc, step) = match action {
        ColumnarAction::AddLearner { store_id } => (
            "add-columnar-replica",
            OpStep::AddLearner {
                store_id: *store_id,
                peer_id: new_peer_id()?,
            },
        ),
        ColumnarAction::RemoveLearner { peer, .. } => (
            "remove-columnar-replica",
            OpStep::RemovePeer {
                store_id: peer.store_id,
                peer_id: peer.id,
            },
        ),
    };
    Ok(make(
        region,
        desc.into(),
        OpSource::ColumnarPlacement,
        vec![step],
        now,
        t,
    ))
}

/// The operator carrying out a balance-leader decision.
pub fn from_leader_move(
    m: &LeaderMove,
    region: &RegionInfo,
    now: Instant,
    t: &OpTimeouts,
) -> Operator {
    let steps = vec![OpStep::TransferLeader {
        from_store: m.from_store,
        to_store: m.to_store,
    }];
    make(
        region,
        "balance-leader".into(),
        OpSource::BalanceLeader,
        steps,
        now,
        t,
    )
}

/// Validates an administrator's `AddOperator` and builds it.
pub fn admin_operator(
    kind: OperatorKind,
    region: &RegionInfo,
    store_id: StoreId,
    view: &ClusterView,
    new_peer_id: impl FnOnce() -> Result<PeerId>,
    now: Instant,
    t: &OpTimeouts,
) -> Result<Operator> {
    let region_id = region.id();
    let store = view
        .store(store_id)
        .ok_or_else(|| Error::StoreNotFound(format!("store {store_id} does not exist")))?;
    let existing = region.peer_on_store(store_id).copied();
    let invalid = |msg: String| Err(Error::InvalidArgument(msg));
    let (desc, steps) = match kind {
        OperatorKind::AddPeer | OperatorKind::AddLearner => {
            if store.state != StoreState::Up {
                return invalid(format!("store {store_id} is {:?}, not Up", store.state));
            }
            if let Some(p) = existing {
                return invalid(format!(
                    "store {store_id} already holds peer {} of region {region_id}",
                    p.id
                ));
            }
            if kind == OperatorKind::AddPeer && store.columnar {
                return invalid(format!(
                    "store {store_id} is a columnar store and only holds learners; use ADD_LEARNER"
                ));
            }
            let peer_id = new_peer_id()?;
            let mut steps = vec![OpStep::AddLearner { store_id, peer_id }];
            if kind == OperatorKind::AddPeer {
                steps.push(OpStep::PromoteLearner { store_id, peer_id });
                ("add-peer", steps)
            } else {
                ("add-learner", steps)
            }
        }
        OperatorKind::RemovePeer => {
            let Some(p) = existing else {
                return invalid(format!(
                    "store {store_id} holds no peer of region {region_id}"
                ));
            };
            if p.role() == PeerRole::Voter && region.voters().count() <= 1 {
                return invalid(format!(
                    "peer {} is the only voter of region {region_id}",
                    p.id
                ));
            }
            (
                "remove-peer",
                vec![OpStep::RemovePeer {
                    store_id,
                    peer_id: p.id,
                }],
            )
        }
        OperatorKind::TransferLeader => {
            match existing {
                Some(p) if p.role() == PeerRole::Voter => {}
                _ => {
                    return invalid(format!(
                        "store {store_id} holds no voter of region {region_id} to lead it"
                    ));
                }
            }
            if region.leader_store() == Some(store_id) {
                return invalid(format!("store {store_id} already leads region {region_id}"));
            }
            if store.state != StoreState::Up {
                return invalid(format!("store {store_id} is {:?}, not Up", store.state));
            }
            let from_store = region.leader_store().unwrap_or_default();
            (
                "transfer-leader",
                vec![OpStep::TransferLeader {
                    from_store,
                    to_store: store_id,
                }],
            )
        }
    };
    Ok(make(region, desc.into(), OpSource::Admin, steps, now, t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::region::tests::region;
    use crate::schedule::StoreView;
    use proto::metapb;

    const T: OpTimeouts = OpTimeouts {
        region: Duration::from_secs(60),
        leader: Duration::from_secs(10),
    };

    fn view() -> ClusterView {
        let mut v = ClusterView::default();
        for (id, state) in [
            (1, StoreState::Up),
            (2, StoreState::Up),
            (3, StoreState::Up),
            (4, StoreState::Up),
            (5, StoreState::Down),
            (6, StoreState::Up),
        ] {
            v.stores.insert(id, StoreView::new(id, state));
        }
        v.stores.get_mut(&6).unwrap().columnar = true;
        v
    }

    fn admin(kind: OperatorKind, store: u64) -> Result<Vec<String>> {
        let r = region(7, "", "", (1, 1), &[1, 2, 3]);
        let op = admin_operator(kind, &r, store, &view(), || Ok(100), Instant::now(), &T)?;
        Ok(op.steps.iter().map(ToString::to_string).collect())
    }

    fn err(kind: OperatorKind, store: u64) -> String {
        match admin(kind, store) {
            Err(Error::InvalidArgument(m)) => format!("invalid: {m}"),
            Err(Error::StoreNotFound(m)) => format!("store not found: {m}"),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn admin_requests_build_steps() {
        assert_eq!(
            admin(OperatorKind::AddPeer, 4).unwrap(),
            vec![
                "add learner peer 100 on store 4",
                "promote learner peer 100 on store 4"
            ]
        );
        assert_eq!(
            admin(OperatorKind::AddLearner, 6).unwrap(),
            vec!["add learner peer 100 on store 6"]
        );
        assert_eq!(
            admin(OperatorKind::RemovePeer, 3).unwrap(),
            vec!["remove peer 73 on store 3"]
        );
        assert_eq!(
            admin(OperatorKind::TransferLeader, 2).unwrap(),
            vec!["transfer leader from store 1 to store 2"]
        );
    }

    #[test]
    fn admin_requests_are_validated() {
        use OperatorKind::*;
        assert_eq!(err(AddPeer, 9), "store not found: store 9 does not exist");
        assert_eq!(err(AddPeer, 5), "invalid: store 5 is Down, not Up");
        assert_eq!(
            err(AddPeer, 2),
            "invalid: store 2 already holds peer 72 of region 7"
        );
        assert!(err(AddPeer, 6).contains("columnar"));
        assert_eq!(
            err(RemovePeer, 4),
            "invalid: store 4 holds no peer of region 7"
        );
        assert_eq!(
            err(TransferLeader, 4),
            "invalid: store 4 holds no voter of region 7 to lead it"
        );
        assert_eq!(
            err(TransferLeader, 1),
            "invalid: store 1 already leads region 7"
        );
        let single = region(8, "", "", (1, 1), &[1]);
        let e = admin_operator(
            RemovePeer,
            &single,
            1,
            &view(),
            || Ok(1),
            Instant::now(),
            &T,
        );
        assert!(matches!(e, Err(Error::InvalidArgument(m)) if m.contains("only voter")));
    }

    #[test]
    fn replica_actions_become_steps_with_timeouts() {
        let r = region(7, "", "", (1, 1), &[1, 2, 3]);
        let now = Instant::now();
        let replace = Some(metapb::Peer {
            id: 73,
            store_id: 3,
            role: 0,
        });
        let op = from_replica_action(
            &ReplicaAction::AddVoter {
                store_id: 4,
                replace,
            },
            &r,
            || Ok(100),
            now,
            &T,
        )
        .unwrap();
        assert_eq!(op.desc, "replace-replica");
        assert_eq!(op.steps.len(), 3);
        assert_eq!(op.timeout, T.region);
        let m = LeaderMove {
            region_id: 7,
            from_store: 1,
            to_store: 2,
        };
        let op = from_leader_move(&m, &r, now, &T);
        assert_eq!(op.timeout, T.leader);
        let remove = ReplicaAction::RemoveVoter {
            peer: *r.peer(71).unwrap(),
            reason: RemoveReason::Extra,
        };
        let op = from_replica_action(&remove, &r, || unreachable!(), now, &T).unwrap();
        assert_eq!(op.desc, "remove-extra-replica");
        assert_eq!(
            op.steps,
            vec![OpStep::RemovePeer {
                store_id: 1,
                peer_id: 71
            }]
        );
    }
}
