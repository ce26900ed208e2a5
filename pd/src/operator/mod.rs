//! # Operators
//!
//! An operator is PD's plan to change one region: a short list of steps that
//! the region's leader carries out one at a time. PD cannot act on a region
//! itself; it can only answer the leader's heartbeat with "do this next".
//!
//! ```text
//!   replica checker / balance-leader / admin
//!                  | creates
//!                  v
//!   Operator{ AddLearner(p12@s4) -> PromoteLearner(p12@s4) -> RemovePeer(p3@s3) }
//!                  |
//!   heartbeat ---> advance(region) : skip steps whose effect the heartbeat shows,
//!   (region 7)                       answer with the first unfinished one
//!                  |
//!                  v
//!   RegionHeartbeatResponse{ change_peer: AddNode p12@s4 }
//! ```
//!
//! ## Steps and when they are finished
//!
//! | step | sent as | finished when the heartbeat shows |
//! |---|---|---|
//! | `AddLearner` | `change_peer AddLearnerNode` | the peer, no longer pending (it has caught up) |
//! | `PromoteLearner` | `change_peer AddNode` | the peer as a voter |
//! | `RemovePeer` | `change_peer RemoveNode` | the peer gone |
//! | `TransferLeader` | `transfer_leader` | the leader on the target store |
//!
//! A step whose effect is applied but not complete (a learner still receiving
//! its snapshot) sends nothing and waits. A `RemovePeer` aimed at the current
//! leader first asks the leader to hand leadership to another healthy voter:
//! TiKV refuses to remove its own leader.
//!
//! An operator is dropped when it finishes, when it times out (peer moves and
//! leader transfers have separate timeouts), when a step becomes impossible
//! (the target peer vanished), or when the region split or merged under it
//! (its `version` changed): the checkers then look at the region afresh.
//!
//! Everything here is pure: the region snapshot and `now` are inputs.

pub mod builder;
pub mod controller;

use std::fmt;
use std::time::{Duration, Instant};

use proto::metapb::{self, PeerRole};
use proto::pdpb::{self, ConfChangeType};

use crate::cluster::region::RegionInfo;
use crate::{PeerId, RegionId, StoreId};

/// One change for the region leader to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpStep {
    AddLearner {
        store_id: StoreId,
        peer_id: PeerId,
    },
    PromoteLearner {
        store_id: StoreId,
        peer_id: PeerId,
    },
    RemovePeer {
        store_id: StoreId,
        peer_id: PeerId,
    },
    TransferLeader {
        from_store: StoreId,
        to_store: StoreId,
    },
}

impl fmt::Display for OpStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpStep::AddLearner { store_id, peer_id } => {
                write!(f, "add learner peer {peer_id} on store {store_id}")
            }
            OpStep::PromoteLearner { store_id, peer_id } => {
                write!(f, "promote learner peer {peer_id} on store {store_id}")
            }
            OpStep::RemovePeer { store_id, peer_id } => {
                write!(f, "remove peer {peer_id} on store {store_id}")
            }
            OpStep::TransferLeader {
                from_store,
                to_store,
            } => {
                write!(
                    f,
                    "transfer leader from store {from_store} to store {to_store}"
                )
            }
        }
    }
}

/// What the leader is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    ChangePeer {
        peer: metapb::Peer,
        change: ConfChangeType,
    },
    TransferLeader {
        peer: metapb::Peer,
    },
}

impl Command {
    /// The heartbeat answer carrying this command.
    pub fn to_response(&self, region: &RegionInfo) -> pdpb::RegionHeartbeatResponse {
        let mut resp = pdpb::RegionHeartbeatResponse {
            header: crate::error::ok_header(),
            region_id: region.id(),
            region_epoch: region.meta.region_epoch,
            target_peer: region.leader,
            ..Default::default()
        };
        match self {
            Command::ChangePeer { peer, change } => {
                let mut cp = pdpb::ChangePeer {
                    peer: Some(*peer),
                    ..Default::default()
                };
                cp.set_change_type(*change);
                resp.change_peer = Some(cp);
            }
            Command::TransferLeader { peer } => {
                resp.transfer_leader = Some(pdpb::TransferLeader { peer: Some(*peer) });
            }
        }
        resp
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::ChangePeer { peer, change } => {
                write!(f, "{change:?} peer {} on store {}", peer.id, peer.store_id)
            }
            Command::TransferLeader { peer } => {
                write!(
                    f,
                    "transfer leader to peer {} on store {}",
                    peer.id, peer.store_id
                )
            }
        }
    }
}

/// Where a step stands, judged from a region heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepStatus {
    /// Its effect is visible: move on.
    Done,
    /// Its effect is applied but not complete; nothing to send.
    Waiting(String),
    /// The leader has to do this.
    Send(Command),
    /// It can no longer happen.
    Invalid(String),
}

fn peer(id: PeerId, store_id: StoreId, role: PeerRole) -> metapb::Peer {
    let mut p = metapb::Peer {
        id,
        store_id,
        ..Default::default()
    };
    p.set_role(role);
    p
}

/// The healthy voter other than `except_store` best suited to lead: caught
/// up and alive, lowest peer id first for determinism.
pub fn leader_candidate(region: &RegionInfo, except_store: StoreId) -> Option<metapb::Peer> {
    region
        .voters()
        .filter(|p| p.store_id != except_store && region.is_healthy_peer(p.id))
        .min_by_key(|p| p.id)
        .copied()
}

impl OpStep {
    /// Judges this step against the region as the leader last reported it.
    pub fn status(&self, region: &RegionInfo) -> StepStatus {
        match *self {
            OpStep::AddLearner { store_id, peer_id } => match region.peer(peer_id) {
                Some(_) if region.is_pending(peer_id) => {
                    StepStatus::Waiting(format!("peer {peer_id} is catching up"))
                }
                Some(_) => StepStatus::Done,
                None if region.peer_on_store(store_id).is_some() => StepStatus::Invalid(format!(
                    "store {store_id} already holds another peer of region {}",
                    region.id()
                )),
                None => StepStatus::Send(Command::ChangePeer {
                    peer: peer(peer_id, store_id, PeerRole::Learner),
                    change: ConfChangeType::AddLearnerNode,
                }),
            },
            OpStep::PromoteLearner { store_id, peer_id } => match region.peer(peer_id) {
                Some(p) if p.role() == PeerRole::Voter => StepStatus::Done,
                Some(_) => StepStatus::Send(Command::ChangePeer {
                    peer: peer(peer_id, store_id, PeerRole::Voter),
                    change: ConfChangeType::AddNode,
                }),
                None => StepStatus::Invalid(format!("learner {peer_id} to promote is gone")),
            },
            OpStep::RemovePeer { store_id, peer_id } => match region.peer(peer_id) {
                None => StepStatus::Done,
                Some(p) if region.leader_store() == Some(store_id) => {
                    match leader_candidate(region, store_id) {
                        Some(to) => StepStatus::Send(Command::TransferLeader { peer: to }),
                        None if region.voters().count() <= 1 || p.role() == PeerRole::Learner => {
                            StepStatus::Invalid(format!(
                                "cannot remove peer {peer_id}: it leads and no other voter can"
                            ))
                        }
                        None => StepStatus::Waiting(format!(
                            "no healthy voter to take over from leader {peer_id}"
                        )),
                    }
                }
                Some(p) => StepStatus::Send(Command::ChangePeer {
                    peer: *p,
                    change: ConfChangeType::RemoveNode,
                }),
            },
            OpStep::TransferLeader { to_store, .. } => {
                if region.leader_store() == Some(to_store) {
                    return StepStatus::Done;
                }
                match region.peer_on_store(to_store) {
                    Some(p) if p.role() == PeerRole::Voter && region.is_healthy_peer(p.id) => {
                        StepStatus::Send(Command::TransferLeader { peer: *p })
                    }
                    Some(p) if p.role() == PeerRole::Voter => {
                        StepStatus::Waiting(format!("target peer {} is not healthy", p.id))
                    }
                    _ => StepStatus::Invalid(format!("no voter on store {to_store} to lead")),
                }
            }
        }
    }

    /// The store this step sends data to (a new peer receives a snapshot).
    pub fn receiving_store(&self) -> Option<StoreId> {
        match *self {
            OpStep::AddLearner { store_id, .. } => Some(store_id),
            _ => None,
        }
    }
}

/// Leader transfers are cheap and quick; peer changes move data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Leader,
    Region,
}

/// Who created an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpSource {
    Admin,
    ReplicaChecker,
    BalanceLeader,
    ColumnarPlacement,
}

impl OpSource {
    pub fn as_str(&self) -> &'static str {
        match self {
            OpSource::Admin => "admin",
            OpSource::ReplicaChecker => "replica-checker",
            OpSource::BalanceLeader => "balance-leader",
            OpSource::ColumnarPlacement => "columnar-placement",
        }
    }
}

/// What a heartbeat means for an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// All steps done.
    Finished,
    /// Send this to the leader.
    Send(Command),
    /// In progress; nothing to send now.
    Wait,
    /// Dropped: it cannot complete.
    Cancelled(String),
    /// Dropped: it took too long.
    TimedOut,
}

/// A plan of steps for one region.
#[derive(Debug, Clone)]
pub struct Operator {
    pub region_id: RegionId,
    /// The region's `version` at creation; a split or merge cancels.
    pub region_version: u64,
    pub desc: String,
    pub source: OpSource,
    pub kind: OpKind,
    pub steps: Vec<OpStep>,
    /// Index of the first unfinished step.
    pub current: usize,
    pub created_at: Instant,
    pub timeout: Duration,
    /// Human-readable state, for `GetOperators`.
    pub status: String,
}

impl Operator {
    pub fn new(
        region: &RegionInfo,
        desc: impl Into<String>,
        source: OpSource,
        steps: Vec<OpStep>,
        now: Instant,
        timeout: Duration,
    ) -> Self {
        let kind = if steps
            .iter()
            .all(|s| matches!(s, OpStep::TransferLeader { .. }))
        {
            OpKind::Leader
        } else {
            OpKind::Region
        };
        Operator {
            region_id: region.id(),
            region_version: region.epoch().1,
            desc: desc.into(),
            source,
            kind,
            steps,
            current: 0,
            created_at: now,
            timeout,
            status: "created".into(),
        }
    }

    pub fn is_timed_out(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.created_at) >= self.timeout
    }

    /// Skips the steps the region shows as done and says what comes next.
    pub fn advance(&mut self, region: &RegionInfo, now: Instant) -> Progress {
        if region.epoch().1 != self.region_version {
            return Progress::Cancelled(format!(
                "region {} split or merged (version {} -> {})",
                self.region_id,
                self.region_version,
                region.epoch().1
            ));
        }
        while let Some(step) = self.steps.get(self.current) {
            let status = step.status(region);
            if status == StepStatus::Done {
                self.current += 1;
                continue;
            }
            if self.is_timed_out(now) {
                return Progress::TimedOut;
            }
            return match status {
                StepStatus::Done => unreachable!("handled above"),
                StepStatus::Waiting(why) => {
                    self.status = format!("waiting: {why}");
                    Progress::Wait
                }
                StepStatus::Send(cmd) => {
                    self.status = format!("sent: {cmd}");
                    Progress::Send(cmd)
                }
                StepStatus::Invalid(why) => Progress::Cancelled(why),
            };
        }
        self.status = "finished".into();
        Progress::Finished
    }

    /// Stores that receive a new peer from the unfinished steps.
    pub fn receiving_stores(&self) -> impl Iterator<Item = StoreId> + '_ {
        self.steps[self.current.min(self.steps.len())..]
            .iter()
            .filter_map(OpStep::receiving_store)
    }

    /// `(from, to)` of the leader transfers still ahead.
    pub fn leader_moves(&self) -> impl Iterator<Item = (StoreId, StoreId)> + '_ {
        self.steps[self.current.min(self.steps.len())..]
            .iter()
            .filter_map(|s| match *s {
                OpStep::TransferLeader {
                    from_store,
                    to_store,
                } => Some((from_store, to_store)),
                _ => None,
            })
    }

    /// The admin API's view.
    pub fn info(&self, now: Instant) -> pdpb::OperatorInfo {
        pdpb::OperatorInfo {
            region_id: self.region_id,
            desc: self.desc.clone(),
            source: self.source.as_str().into(),
            steps: self.steps.iter().map(ToString::to_string).collect(),
            current_step: self.current as u32,
            age_ms: now.saturating_duration_since(self.created_at).as_millis() as u64,
            status: self.status.clone(),
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} region {} [", self.desc, self.region_id)?;
        for (i, s) in self.steps.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let mark = if i == self.current { "*" } else { "" };
            write!(f, "{sep}{mark}{s}")?;
        }
        write!(f, "] by {}", self.source.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::region::tests::region;

    fn learner(r: &mut RegionInfo, id: u64, store: u64) {
        r.meta.peers.push(peer(id, store, PeerRole::Learner));
        r.meta.region_epoch.as_mut().unwrap().conf_ver += 1;
    }

    fn promote(r: &mut RegionInfo, id: u64) {
        r.meta
            .peers
            .iter_mut()
            .find(|p| p.id == id)
            .unwrap()
            .set_role(PeerRole::Voter);
    }

    fn remove(r: &mut RegionInfo, id: u64) {
        r.meta.peers.retain(|p| p.id != id);
    }

    fn sent(p: Progress) -> String {
        match p {
            Progress::Send(cmd) => cmd.to_string(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn replace_peer_progresses_step_by_step() {
        let t0 = Instant::now();
        // Region 7 on stores 1 (leader), 2, 3; peer ids 71, 72, 73.
        let mut r = region(7, "", "", (3, 1), &[1, 2, 3]);
        let steps = vec![
            OpStep::AddLearner {
                store_id: 4,
                peer_id: 100,
            },
            OpStep::PromoteLearner {
                store_id: 4,
                peer_id: 100,
            },
            OpStep::RemovePeer {
                store_id: 3,
                peer_id: 73,
            },
        ];
        let mut op = Operator::new(
            &r,
            "replace",
            OpSource::ReplicaChecker,
            steps,
            t0,
            Duration::from_secs(60),
        );
        let now = t0 + Duration::from_secs(1);
        assert_eq!(
            sent(op.advance(&r, now)),
            "AddLearnerNode peer 100 on store 4"
        );
        // The same heartbeat again: the same step again.
        assert_eq!(
            sent(op.advance(&r, now)),
            "AddLearnerNode peer 100 on store 4"
        );
        learner(&mut r, 100, 4);
        r.pending_peers.push(*r.peer(100).unwrap());
        assert_eq!(op.advance(&r, now), Progress::Wait);
        assert!(op.status.contains("catching up"));
        r.pending_peers.clear();
        assert_eq!(sent(op.advance(&r, now)), "AddNode peer 100 on store 4");
        assert_eq!(op.current, 1);
        promote(&mut r, 100);
        assert_eq!(sent(op.advance(&r, now)), "RemoveNode peer 73 on store 3");
        remove(&mut r, 73);
        assert_eq!(op.advance(&r, now), Progress::Finished);
        assert_eq!(op.current, 3);
    }

    #[test]
    fn a_heartbeat_can_finish_several_steps_at_once() {
        let t0 = Instant::now();
        let mut r = region(7, "", "", (3, 1), &[1, 2]);
        let steps = vec![
            OpStep::AddLearner {
                store_id: 4,
                peer_id: 100,
            },
            OpStep::PromoteLearner {
                store_id: 4,
                peer_id: 100,
            },
        ];
        let mut op = Operator::new(
            &r,
            "add",
            OpSource::Admin,
            steps,
            t0,
            Duration::from_secs(60),
        );
        learner(&mut r, 100, 4);
        promote(&mut r, 100);
        assert_eq!(op.advance(&r, t0), Progress::Finished);
    }

    #[test]
    fn removing_the_leader_transfers_leadership_first() {
        let t0 = Instant::now();
        let mut r = region(7, "", "", (3, 1), &[1, 2, 3]);
        r.pending_peers.push(*r.peer(72).unwrap());
        let steps = vec![OpStep::RemovePeer {
            store_id: 1,
            peer_id: 71,
        }];
        let mut op = Operator::new(
            &r,
            "remove",
            OpSource::Admin,
            steps,
            t0,
            Duration::from_secs(60),
        );
        // Peer 72 is pending, so 73 takes over.
        assert_eq!(
            sent(op.advance(&r, t0)),
            "transfer leader to peer 73 on store 3"
        );
        r.leader = r.peer(73).copied();
        assert_eq!(sent(op.advance(&r, t0)), "RemoveNode peer 71 on store 1");
    }

    #[test]
    fn transfer_leader_and_cancellation() {
        let t0 = Instant::now();
        let mut r = region(7, "", "", (3, 1), &[1, 2]);
        let steps = vec![OpStep::TransferLeader {
            from_store: 1,
            to_store: 2,
        }];
        let mut op = Operator::new(
            &r,
            "balance",
            OpSource::BalanceLeader,
            steps.clone(),
            t0,
            Duration::from_secs(10),
        );
        assert_eq!(op.kind, OpKind::Leader);
        assert_eq!(
            sent(op.advance(&r, t0)),
            "transfer leader to peer 72 on store 2"
        );
        r.leader = r.peer(72).copied();
        assert_eq!(op.advance(&r, t0), Progress::Finished);

        // The target voter disappears: cancelled.
        let mut r = region(7, "", "", (3, 1), &[1, 2]);
        let mut op = Operator::new(
            &r,
            "balance",
            OpSource::BalanceLeader,
            steps.clone(),
            t0,
            Duration::from_secs(10),
        );
        remove(&mut r, 72);
        assert!(matches!(op.advance(&r, t0), Progress::Cancelled(_)));

        // The region splits: cancelled.
        let mut r = region(7, "", "", (3, 1), &[1, 2]);
        let mut op = Operator::new(
            &r,
            "balance",
            OpSource::BalanceLeader,
            steps.clone(),
            t0,
            Duration::from_secs(10),
        );
        r.meta.region_epoch.as_mut().unwrap().version += 1;
        assert!(matches!(op.advance(&r, t0), Progress::Cancelled(m) if m.contains("split")));

        // Too slow: timed out, unless the heartbeat shows it done.
        let mut r = region(7, "", "", (3, 1), &[1, 2]);
        let mut op = Operator::new(
            &r,
            "balance",
            OpSource::BalanceLeader,
            steps,
            t0,
            Duration::from_secs(10),
        );
        let late = t0 + Duration::from_secs(10);
        assert_eq!(op.advance(&r, late), Progress::TimedOut);
        r.leader = r.peer(72).copied();
        assert_eq!(op.advance(&r, late), Progress::Finished);
    }

    #[test]
    fn info_lists_steps_and_age() {
        let t0 = Instant::now();
        let r = region(7, "", "", (3, 1), &[1, 2]);
        let steps = vec![OpStep::TransferLeader {
            from_store: 1,
            to_store: 2,
        }];
        let op = Operator::new(
            &r,
            "transfer-leader",
            OpSource::Admin,
            steps,
            t0,
            Duration::from_secs(10),
        );
        let info = op.info(t0 + Duration::from_millis(1500));
        assert_eq!(
            info.steps,
            vec!["transfer leader from store 1 to store 2".to_string()]
        );
        assert_eq!((info.age_ms, info.source.as_str()), (1500, "admin"));
        assert_eq!(
            op.to_string(),
            "transfer-leader region 7 [*transfer leader from store 1 to store 2] by admin"
        );
    }
}
