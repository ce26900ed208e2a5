//! # Schedulers
//!
//! Scheduling decisions are pure functions from a snapshot of the cluster to
//! an intended change; the caller turns the intent into an
//! [`Operator`](crate::operator::Operator) (allocating peer ids) and the
//! heartbeat loop carries it out. Keeping them pure makes every decision
//! testable as a table or a scenario file, with no clocks or sockets.
//!
//! ```text
//!   Cluster (stores, regions, running operators, now)
//!        |  ClusterView::build: store states, counts, in-flight load
//!        v
//!   replica_checker::check(region, view)  -> Option<ReplicaAction>
//!   balance_leader::schedule(view, regions) -> Option<LeaderMove>
//!        |  operator::builder
//!        v
//!   Operator --> OperatorController
//! ```
//!
//! | scheduler | keeps | reference |
//! |---|---|---|
//! | [`replica_checker`] | `max_replicas` healthy voters per region; replaces voters on Down/Offline stores | PD `pkg/schedule/checker/replica_checker.go` |
//! | [`balance_leader`] | leader counts even across stores that may lead | PD `pkg/schedule/schedulers/balance_leader.go` |
//! | [`columnar_placement`] | the columnar learners the rules ask for, on columnar stores | PD `pkg/schedule/checker/rule_checker.go` |
//!
//! Columnar stores (`engine=columnar`) only ever hold learners; they are
//! never picked for voters or leaders, and only the columnar placement
//! checker adds or removes their learners.

pub mod balance_leader;
pub mod columnar_placement;
pub mod replica_checker;
#[cfg(test)]
mod scenario;

use std::collections::BTreeMap;

use proto::metapb::StoreState;

use crate::StoreId;

/// The knobs the schedulers read.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleConfig {
    /// Voters each region should have.
    pub max_replicas: usize,
    /// Concurrent leader transfers per store.
    pub leader_schedule_limit: u64,
    /// Concurrent peer additions per store.
    pub replica_schedule_limit: u64,
    /// Leader counts may differ by `max(1, mean * ratio)` before balancing.
    pub leader_tolerance_ratio: f64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            max_replicas: 3,
            leader_schedule_limit: 4,
            replica_schedule_limit: 8,
            leader_tolerance_ratio: 0.05,
        }
    }
}

/// One store as the schedulers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreView {
    pub id: StoreId,
    pub state: StoreState,
    pub columnar: bool,
    /// Peers (voters and learners) on the store.
    pub region_count: u64,
    /// Leaders on the store, counting transfers in flight as done.
    pub leader_count: u64,
    /// Running operators adding a peer here.
    pub replica_ops: u64,
    /// Running leader transfers from or to here.
    pub leader_ops: u64,
}

impl StoreView {
    /// A store in `state` with no load, for tests and scenarios.
    pub fn new(id: StoreId, state: StoreState) -> Self {
        StoreView {
            id,
            state,
            columnar: false,
            region_count: 0,
            leader_count: 0,
            replica_ops: 0,
            leader_ops: 0,
        }
    }

    /// May hold voters and lead: not columnar.
    pub fn is_row_store(&self) -> bool {
        !self.columnar
    }
}

/// A voter on a store in one of these states is not counted as healthy and
/// gets replaced. Disconnected is a blip, not yet a reason to move data.
pub fn is_unhealthy(state: StoreState) -> bool {
    matches!(
        state,
        StoreState::Down | StoreState::Offline | StoreState::Tombstone
    )
}

/// A snapshot of all stores.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    pub stores: BTreeMap<StoreId, StoreView>,
}

impl ClusterView {
    pub fn store(&self, id: StoreId) -> Option<&StoreView> {
        self.stores.get(&id)
    }

    /// State of a store; an unknown store counts as Tombstone.
    pub fn state(&self, id: StoreId) -> StoreState {
        self.store(id).map_or(StoreState::Tombstone, |s| s.state)
    }
}
