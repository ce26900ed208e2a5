//! # Operator controller
//!
//! Holds the running operators: at most one per region. It enforces the
//! per-store limits that keep scheduling from swamping a store:
//!
//! - `replica_schedule_limit`: how many operators may at once be adding a
//!   peer to (sending a snapshot to) one store;
//! - `leader_schedule_limit`: how many leader transfers may at once involve
//!   one store, as source or target.
//!
//! Operators created by an administrator bypass the limits and replace an
//! operator a scheduler created for the same region (an admin knows better);
//! two admin operators on one region are refused.
//!
//! The controller is driven by the region heartbeat ([`OperatorController::dispatch`]) and
//! the scheduling tick ([`OperatorController::expire`]); both take `now`.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use proto::pdpb;

use super::{Command, OpSource, Operator, Progress};
use crate::cluster::region::RegionInfo;
use crate::{RegionId, StoreId};

/// Per-store concurrency limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub leader: u64,
    pub replica: u64,
}

/// How many running operators involve a store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreLoad {
    /// Operators still to add a peer on the store.
    pub replica_ops: u64,
    /// Leader transfers still to come from or to the store.
    pub leader_ops: u64,
    /// Net leaders the store will gain (+) or lose (-) from them.
    pub leader_delta: i64,
}

/// Why an operator was not added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddError {
    #[error("region {region_id} already has operator {existing}")]
    RegionBusy {
        region_id: RegionId,
        existing: String,
    },
    #[error("store {0} is at its scheduling limit")]
    StoreLimit(StoreId),
}

/// The running operators.
#[derive(Debug, Default)]
pub struct OperatorController {
    ops: BTreeMap<RegionId, Operator>,
}

impl OperatorController {
    pub fn get(&self, region_id: RegionId) -> Option<&Operator> {
        self.ops.get(&region_id)
    }

    pub fn contains(&self, region_id: RegionId) -> bool {
        self.ops.contains_key(&region_id)
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Load per store from the running operators.
    pub fn store_loads(&self) -> HashMap<StoreId, StoreLoad> {
        let mut loads: HashMap<StoreId, StoreLoad> = HashMap::new();
        for op in self.ops.values() {
            for store in op.receiving_stores() {
                loads.entry(store).or_default().replica_ops += 1;
            }
            for (from, to) in op.leader_moves() {
                let f = loads.entry(from).or_default();
                f.leader_ops += 1;
                f.leader_delta -= 1;
                let t = loads.entry(to).or_default();
                t.leader_ops += 1;
                t.leader_delta += 1;
            }
        }
        loads
    }

    /// Adds an operator, subject to the rules in the module docs.
    pub fn add(&mut self, op: Operator, limits: &Limits) -> Result<(), AddError> {
        if let Some(existing) = self.ops.get(&op.region_id)
            && (op.source != OpSource::Admin || existing.source == OpSource::Admin)
        {
            return Err(AddError::RegionBusy {
                region_id: op.region_id,
                existing: existing.to_string(),
            });
        }
        if op.source != OpSource::Admin {
            let loads = self.store_loads();
            let load = |s: StoreId| loads.get(&s).copied().unwrap_or_default();
            if let Some(s) = op
                .receiving_stores()
                .find(|s| load(*s).replica_ops >= limits.replica)
            {
                return Err(AddError::StoreLimit(s));
            }
            for (from, to) in op.leader_moves() {
                if let Some(s) = [from, to]
                    .into_iter()
                    .find(|s| load(*s).leader_ops >= limits.leader)
                {
                    return Err(AddError::StoreLimit(s));
                }
            }
        }
        tracing::info!(region_id = op.region_id, operator = %op, "operator added");
        if let Some(replaced) = self.ops.insert(op.region_id, op) {
            tracing::info!(region_id = replaced.region_id, operator = %replaced, "operator replaced by admin");
        }
        Ok(())
    }

    /// Drops the operator of a region (the region vanished).
    pub fn remove(&mut self, region_id: RegionId) -> Option<Operator> {
        self.ops.remove(&region_id)
    }

    /// Advances the region's operator with a fresh heartbeat and returns the
    /// command for the leader, if any. Finished, cancelled and timed-out
    /// operators are dropped.
    pub fn dispatch(&mut self, region: &RegionInfo, now: Instant) -> Option<Command> {
        let op = self.ops.get_mut(&region.id())?;
        let outcome = match op.advance(region, now) {
            Progress::Send(cmd) => return Some(cmd),
            Progress::Wait => return None,
            Progress::Finished => "finished".to_string(),
            Progress::TimedOut => "timed out".to_string(),
            Progress::Cancelled(why) => format!("cancelled: {why}"),
        };
        let op = self.ops.remove(&region.id()).expect("present above");
        let took_ms = now.saturating_duration_since(op.created_at).as_millis() as u64;
        tracing::info!(region_id = op.region_id, operator = %op, took_ms, "operator {outcome}");
        None
    }

    /// Drops operators past their timeout (regions that stopped
    /// heartbeating never get to [`Self::dispatch`]).
    pub fn expire(&mut self, now: Instant) -> Vec<Operator> {
        let expired: Vec<RegionId> = self
            .ops
            .values()
            .filter(|op| op.is_timed_out(now))
            .map(|op| op.region_id)
            .collect();
        expired
            .into_iter()
            .filter_map(|id| self.ops.remove(&id))
            .inspect(
                |op| tracing::warn!(region_id = op.region_id, operator = %op, "operator timed out"),
            )
            .collect()
    }

    /// The admin API's listing, by region id.
    pub fn infos(&self, now: Instant) -> Vec<pdpb::OperatorInfo> {
        self.ops.values().map(|op| op.info(now)).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::cluster::region::tests::region;
    use crate::operator::OpStep;

    const LIMITS: Limits = Limits {
        leader: 1,
        replica: 2,
    };

    fn add_peer(region_id: u64, store: u64, source: OpSource) -> Operator {
        let r = region(region_id, "", "", (1, 1), &[1, 2]);
        let steps = vec![
            OpStep::AddLearner {
                store_id: store,
                peer_id: region_id * 100,
            },
            OpStep::PromoteLearner {
                store_id: store,
                peer_id: region_id * 100,
            },
        ];
        Operator::new(
            &r,
            "add-peer",
            source,
            steps,
            Instant::now(),
            Duration::from_secs(60),
        )
    }

    fn transfer(region_id: u64, from: u64, to: u64) -> Operator {
        let r = region(region_id, "", "", (1, 1), &[from, to]);
        let steps = vec![OpStep::TransferLeader {
            from_store: from,
            to_store: to,
        }];
        Operator::new(
            &r,
            "transfer-leader",
            OpSource::BalanceLeader,
            steps,
            Instant::now(),
            Duration::from_secs(10),
        )
    }

    #[test]
    fn one_operator_per_region_admin_wins() {
        let mut c = OperatorController::default();
        c.add(add_peer(7, 3, OpSource::ReplicaChecker), &LIMITS)
            .unwrap();
        assert!(matches!(
            c.add(add_peer(7, 4, OpSource::ReplicaChecker), &LIMITS),
            Err(AddError::RegionBusy { region_id: 7, .. })
        ));
        c.add(add_peer(7, 4, OpSource::Admin), &LIMITS).unwrap();
        assert_eq!(c.get(7).unwrap().source, OpSource::Admin);
        assert!(c.add(add_peer(7, 5, OpSource::Admin), &LIMITS).is_err());
    }

    #[test]
    fn per_store_limits() {
        let mut c = OperatorController::default();
        c.add(add_peer(1, 3, OpSource::ReplicaChecker), &LIMITS)
            .unwrap();
        c.add(add_peer(2, 3, OpSource::ReplicaChecker), &LIMITS)
            .unwrap();
        assert_eq!(
            c.add(add_peer(3, 3, OpSource::ReplicaChecker), &LIMITS),
            Err(AddError::StoreLimit(3))
        );
        c.add(add_peer(3, 4, OpSource::ReplicaChecker), &LIMITS)
            .unwrap();
        c.add(add_peer(4, 3, OpSource::Admin), &LIMITS).unwrap();
        assert_eq!(c.store_loads()[&3].replica_ops, 3);

        c.add(transfer(10, 1, 2), &LIMITS).unwrap();
        assert_eq!(
            c.add(transfer(11, 1, 5), &LIMITS),
            Err(AddError::StoreLimit(1))
        );
        assert_eq!(
            c.add(transfer(11, 6, 2), &LIMITS),
            Err(AddError::StoreLimit(2))
        );
        let loads = c.store_loads();
        assert_eq!((loads[&1].leader_delta, loads[&2].leader_delta), (-1, 1));
    }

    #[test]
    fn dispatch_drops_finished_and_expire_drops_late() {
        let mut c = OperatorController::default();
        c.add(transfer(10, 1, 2), &LIMITS).unwrap();
        c.add(transfer(11, 3, 4), &LIMITS).unwrap();
        let mut r = region(10, "", "", (1, 1), &[1, 2]);
        let now = Instant::now();
        assert!(matches!(
            c.dispatch(&r, now),
            Some(Command::TransferLeader { .. })
        ));
        r.leader = r.peer(102).copied();
        assert_eq!(c.dispatch(&r, now), None);
        assert!(!c.contains(10));
        let expired = c.expire(now + Duration::from_secs(11));
        assert_eq!(expired.len(), 1);
        assert!(c.is_empty());
    }
}
