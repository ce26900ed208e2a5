//! # Scheduling: the tick, heartbeat-time checks and the admin API
//!
//! The pure decisions live in [`crate::schedule`]; this file feeds them the
//! cluster's state and installs what they decide.
//!
//! ```text
//!   every schedule_interval (server task)        on a region heartbeat
//!     tick(now):                                  (region without operator)
//!       1. Offline stores with no peers -> Tombstone   check_replicas(region)
//!       2. drop timed-out operators
//!       3. replica checker over every idle region  check_columnar(region)
//!       4. columnar placement over every idle region
//!       5. balance-leader, up to leader_schedule_limit moves
//! ```
//!
//! Columnar placement rules (set by the SQL layer's `SET COLUMNAR REPLICA`)
//! are kept here too, persisted, and always enforced.
//!
//! New peer ids come from the cluster-wide id allocator.

use std::time::Instant;

use proto::pdpb::{self, OperatorKind};

use super::Cluster;
use crate::error::{Error, Result};
use crate::operator::builder;
use crate::operator::{OpSource, Operator};
use crate::schedule::{ClusterView, balance_leader, columnar_placement, replica_checker};
use crate::{RegionId, StoreId};

/// What one scheduling tick did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    pub tombstoned: Vec<StoreId>,
    pub expired: usize,
    /// Descriptions of the operators created.
    pub created: Vec<String>,
}

/// Scheduler names, as `GetSchedulers` lists them.
pub const REPLICA_CHECKER: &str = "replica-checker";
pub const BALANCE_LEADER: &str = "balance-leader";
pub const COLUMNAR_PLACEMENT: &str = "columnar-placement";

impl Cluster {
    /// One round of background scheduling.
    pub fn tick(&mut self, now: Instant) -> TickReport {
        let mut report = TickReport::default();
        if !self.bootstrapped {
            return report;
        }
        match self.retire_empty_stores() {
            Ok(stores) => report.tombstoned = stores,
            Err(e) => tracing::warn!(error = %e, "retiring empty stores failed"),
        }
        report.expired = self.operators.expire(now).len();
        if self.cfg.enable_replica_checker {
            let mut view = self.view(now);
            for region_id in self.idle_regions() {
                if let Some(desc) = self.check_replicas_in(region_id, &view, now) {
                    report.created.push(desc);
                    view = self.view(now);
                }
            }
        }
        let mut view = self.view(now);
        for region_id in self.idle_regions() {
            if let Some(desc) = self.check_columnar_in(region_id, &view, now) {
                report.created.push(desc);
                view = self.view(now);
            }
        }
        if self.cfg.enable_balance_leader {
            for _ in 0..self.cfg.schedule.leader_schedule_limit.max(1) {
                match self.balance_leader(now) {
                    Some(desc) => report.created.push(desc),
                    None => break,
                }
            }
        }
        report
    }

    /// Runs the replica checker on one region; true if it created an operator.
    pub(crate) fn check_replicas(&mut self, region_id: RegionId, now: Instant) -> bool {
        let view = self.view(now);
        self.check_replicas_in(region_id, &view, now).is_some()
    }

    fn check_replicas_in(
        &mut self,
        region_id: RegionId,
        view: &ClusterView,
        now: Instant,
    ) -> Option<String> {
        let region = self.regions.get(region_id)?;
        let action = replica_checker::check(region, view, &self.cfg.schedule)?;
        let built = builder::from_replica_action(
            &action,
            region,
            || self.ids.alloc(),
            now,
            &self.cfg.op_timeouts,
        );
        match built {
            Ok(op) => self.install(op),
            Err(e) => {
                tracing::warn!(region_id, %action, error = %e, "could not build replica operator");
                None
            }
        }
    }

    /// Runs the columnar placement checker on one region; true if it
    /// created an operator.
    pub(crate) fn check_columnar(&mut self, region_id: RegionId, now: Instant) -> bool {
        let view = self.view(now);
        self.check_columnar_in(region_id, &view, now).is_some()
    }

    fn check_columnar_in(
        &mut self,
        region_id: RegionId,
        view: &ClusterView,
        now: Instant,
    ) -> Option<String> {
        let region = self.regions.get(region_id)?;
        let wanted = columnar_placement::wanted(region, self.columnar_rules.values());
        let action = columnar_placement::check(region, wanted, view, &self.cfg.schedule)?;
        let built = builder::from_columnar_action(
            &action,
            region,
            || self.ids.alloc(),
            now,
            &self.cfg.op_timeouts,
        );
        match built {
            Ok(op) => self.install(op),
            Err(e) => {
                tracing::warn!(region_id, %action, error = %e, "could not build columnar operator");
                None
            }
        }
    }

    /// Creates, replaces or (count 0) deletes a columnar placement rule.
    pub fn set_columnar_rule(&mut self, rule: pdpb::ColumnarRule) -> Result<()> {
        self.ensure_bootstrapped()?;
        if rule.id.is_empty() {
            return Err(Error::InvalidArgument("a columnar rule needs an id".into()));
        }
        if !rule.end_key.is_empty() && rule.start_key >= rule.end_key {
            return Err(Error::InvalidArgument(format!(
                "columnar rule {:?}: start key is not before end key",
                rule.id
            )));
        }
        self.storage.save_columnar_rule(&rule)?;
        tracing::info!(rule = %rule.id, count = rule.count, "columnar rule set");
        if rule.count == 0 {
            self.columnar_rules.remove(&rule.id);
        } else {
            self.columnar_rules.insert(rule.id.clone(), rule);
        }
        Ok(())
    }

    /// The columnar placement rules, by id.
    pub fn columnar_rules(&self) -> Result<Vec<pdpb::ColumnarRule>> {
        self.ensure_bootstrapped()?;
        Ok(self.columnar_rules.values().cloned().collect())
    }

    /// One balance-leader decision, installed.
    fn balance_leader(&mut self, now: Instant) -> Option<String> {
        let view = self.view(now);
        let ops = &self.operators;
        let m = balance_leader::schedule(
            &view,
            self.regions.iter(),
            |id| ops.contains(id),
            &self.cfg.schedule,
        )?;
        let region = self.regions.get(m.region_id)?;
        let op = builder::from_leader_move(&m, region, now, &self.cfg.op_timeouts);
        self.install(op)
    }

    fn install(&mut self, op: Operator) -> Option<String> {
        let desc = op.to_string();
        let limits = self.cfg.limits();
        match self.operators.add(op, &limits) {
            Ok(()) => Some(desc),
            Err(e) => {
                tracing::debug!(operator = %desc, error = %e, "operator not added");
                None
            }
        }
    }

    /// An administrator's operator, validated and installed.
    pub fn add_admin_operator(
        &mut self,
        kind: OperatorKind,
        region_id: RegionId,
        store_id: StoreId,
        now: Instant,
    ) -> Result<pdpb::OperatorInfo> {
        self.ensure_bootstrapped()?;
        let region = self
            .regions
            .get(region_id)
            .ok_or_else(|| Error::RegionNotFound(format!("region {region_id} does not exist")))?;
        let view = self.view(now);
        let op = builder::admin_operator(
            kind,
            region,
            store_id,
            &view,
            || self.ids.alloc(),
            now,
            &self.cfg.op_timeouts,
        )?;
        debug_assert_eq!(op.source, OpSource::Admin);
        let info = op.info(now);
        self.operators
            .add(op, &self.cfg.limits())
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        Ok(info)
    }

    /// The running operators.
    pub fn operator_infos(&self, now: Instant) -> Result<Vec<pdpb::OperatorInfo>> {
        self.ensure_bootstrapped()?;
        Ok(self.operators.infos(now))
    }

    /// The schedulers with their settings.
    pub fn scheduler_infos(&self) -> Result<Vec<pdpb::SchedulerInfo>> {
        self.ensure_bootstrapped()?;
        let s = &self.cfg.schedule;
        let replica = serde_json::json!({
            "max-replicas": s.max_replicas,
            "replica-schedule-limit": s.replica_schedule_limit,
            "max-store-down-time-secs": self.cfg.store_timeouts.down_after.as_secs(),
            "operator-timeout-secs": self.cfg.op_timeouts.region.as_secs(),
        });
        let leader = serde_json::json!({
            "leader-schedule-limit": s.leader_schedule_limit,
            "tolerance-ratio": s.leader_tolerance_ratio,
            "operator-timeout-secs": self.cfg.op_timeouts.leader.as_secs(),
        });
        Ok(vec![
            pdpb::SchedulerInfo {
                name: REPLICA_CHECKER.into(),
                enabled: self.cfg.enable_replica_checker,
                config: replica.to_string(),
            },
            pdpb::SchedulerInfo {
                name: BALANCE_LEADER.into(),
                enabled: self.cfg.enable_balance_leader,
                config: leader.to_string(),
            },
            pdpb::SchedulerInfo {
                name: COLUMNAR_PLACEMENT.into(),
                enabled: true,
                config: serde_json::json!({ "rules": self.columnar_rules.len() }).to_string(),
            },
        ])
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proto::metapb::{self, StoreState};

    use super::super::tests::{bootstrapped, store};
    use super::*;

    fn heartbeat(
        c: &mut Cluster,
        meta: metapb::Region,
        leader_store: u64,
        now: Instant,
    ) -> pdpb::RegionHeartbeatResponse {
        let leader = meta
            .peers
            .iter()
            .find(|p| p.store_id == leader_store)
            .copied();
        let req = pdpb::RegionHeartbeatRequest {
            region: Some(meta),
            leader,
            ..Default::default()
        };
        c.region_heartbeat(&req, now).unwrap()
    }

    /// Region 2 on stores 1, 2, 3 (peers 3, 21, 31), led from store 1.
    fn three_replicas(c: &mut Cluster, now: Instant) -> metapb::Region {
        for id in [2, 3, 4] {
            c.put_store(store(id), now).unwrap();
        }
        let mut meta = c.regions().get(2).unwrap().meta.clone();
        meta.peers.push(metapb::Peer {
            id: 21,
            store_id: 2,
            role: 0,
        });
        meta.peers.push(metapb::Peer {
            id: 31,
            store_id: 3,
            role: 0,
        });
        meta.region_epoch.as_mut().unwrap().conf_ver = 3;
        let resp = heartbeat(c, meta.clone(), 1, now);
        assert!(resp.change_peer.is_none() && resp.transfer_leader.is_none());
        meta
    }

    #[test]
    fn down_store_is_replaced_by_the_tick() {
        let t0 = Instant::now();
        let (mut c, _) = bootstrapped(t0);
        let meta = three_replicas(&mut c, t0);
        // Stores 1, 2, 4 keep heartbeating; 3 falls silent past max_store_down_time.
        let later = t0 + Duration::from_secs(1801);
        for id in [1, 2, 4] {
            c.store_heartbeat(
                pdpb::StoreStats {
                    store_id: id,
                    ..Default::default()
                },
                later,
                0,
            )
            .unwrap();
        }
        let report = c.tick(later);
        assert_eq!(report.created.len(), 1, "{report:?}");
        assert!(
            report.created[0].starts_with("replace-replica region 2 [*add learner"),
            "{report:?}"
        );
        assert!(report.created[0].contains("remove peer 31 on store 3"));
        let resp = heartbeat(&mut c, meta, 1, later);
        let cp = resp.change_peer.unwrap();
        assert_eq!(cp.peer.unwrap().store_id, 4);
        // A second tick creates nothing new for the same region.
        assert!(c.tick(later).created.is_empty());
        let infos = c.operator_infos(later).unwrap();
        assert_eq!(infos.len(), 1);
        assert_eq!(infos[0].source, "replica-checker");
        // The operator times out if nothing happens.
        let report = c.tick(later + Duration::from_secs(61));
        assert_eq!(report.expired, 1);
    }

    #[test]
    fn columnar_rule_adds_a_learner_on_heartbeat_and_removes_it_at_zero() {
        let t0 = Instant::now();
        let (mut c, _) = bootstrapped(t0);
        let meta = three_replicas(&mut c, t0);
        let mut columnar = store(5);
        columnar.labels.push(metapb::StoreLabel {
            key: "engine".into(),
            value: "columnar".into(),
        });
        c.put_store(columnar, t0).unwrap();
        let rule = |count| pdpb::ColumnarRule {
            id: "table-7".into(),
            start_key: b"t7".to_vec(),
            end_key: b"t8".to_vec(),
            count,
        };
        c.set_columnar_rule(rule(1)).unwrap();
        let resp = heartbeat(&mut c, meta.clone(), 1, t0);
        let cp = resp.change_peer.expect("a learner is added");
        assert_eq!(cp.change_type(), pdpb::ConfChangeType::AddLearnerNode);
        let learner = cp.peer.unwrap();
        assert_eq!(learner.store_id, 5);
        assert_eq!(
            c.operator_infos(t0).unwrap()[0].source,
            "columnar-placement"
        );

        // The learner joined; the operator finishes and nothing more is asked.
        let mut with_learner = meta;
        with_learner.peers.push(learner);
        with_learner.region_epoch.as_mut().unwrap().conf_ver += 1;
        let resp = heartbeat(&mut c, with_learner.clone(), 1, t0);
        assert!(resp.change_peer.is_none());
        assert!(c.operator_infos(t0).unwrap().is_empty());
        assert!(c.tick(t0).created.is_empty());

        // Replica count 0: the rule is gone and so is the learner.
        c.set_columnar_rule(rule(0)).unwrap();
        assert!(c.columnar_rules().unwrap().is_empty());
        let resp = heartbeat(&mut c, with_learner, 1, t0);
        let cp = resp.change_peer.expect("the learner is removed");
        assert_eq!(cp.change_type(), pdpb::ConfChangeType::RemoveNode);
        assert_eq!(cp.peer.unwrap().store_id, 5);
    }

    #[test]
    fn offline_store_drains_then_becomes_tombstone() {
        let t0 = Instant::now();
        let (mut c, _) = bootstrapped(t0);
        let mut meta = three_replicas(&mut c, t0);
        c.remove_store(3).unwrap();
        let resp = heartbeat(&mut c, meta.clone(), 1, t0);
        let cp = resp.change_peer.unwrap();
        assert_eq!(cp.change_type(), pdpb::ConfChangeType::AddLearnerNode);
        let new = cp.peer.unwrap();
        // The leader adds, the learner catches up, gets promoted, store 3's peer goes.
        meta.peers.push(new);
        meta.region_epoch.as_mut().unwrap().conf_ver += 1;
        let resp = heartbeat(&mut c, meta.clone(), 1, t0);
        assert_eq!(
            resp.change_peer.unwrap().change_type(),
            pdpb::ConfChangeType::AddNode
        );
        meta.peers
            .last_mut()
            .unwrap()
            .set_role(metapb::PeerRole::Voter);
        meta.region_epoch.as_mut().unwrap().conf_ver += 1;
        let resp = heartbeat(&mut c, meta.clone(), 1, t0);
        let cp = resp.change_peer.unwrap();
        assert_eq!(
            (cp.change_type(), cp.peer.unwrap().id),
            (pdpb::ConfChangeType::RemoveNode, 31)
        );
        meta.peers.retain(|p| p.id != 31);
        meta.region_epoch.as_mut().unwrap().conf_ver += 1;
        let resp = heartbeat(&mut c, meta, 1, t0);
        assert!(resp.change_peer.is_none());
        assert_eq!(c.tick(t0).tombstoned, vec![3]);
        assert_eq!(c.get_store(3, t0).unwrap().0.state(), StoreState::Tombstone);
    }

    #[test]
    fn admin_operator_and_listing() {
        let t0 = Instant::now();
        let (mut c, _) = bootstrapped(t0);
        let meta = three_replicas(&mut c, t0);
        let info = c
            .add_admin_operator(OperatorKind::TransferLeader, 2, 2, t0)
            .unwrap();
        assert_eq!(
            (info.desc.as_str(), info.source.as_str()),
            ("transfer-leader", "admin")
        );
        let resp = heartbeat(&mut c, meta.clone(), 1, t0);
        assert_eq!(resp.transfer_leader.unwrap().peer.unwrap().store_id, 2);
        assert!(matches!(
            c.add_admin_operator(OperatorKind::AddPeer, 2, 4, t0),
            Err(Error::InvalidArgument(m)) if m.contains("already has operator")
        ));
        assert!(matches!(
            c.add_admin_operator(OperatorKind::AddPeer, 9, 4, t0),
            Err(Error::RegionNotFound(_))
        ));
        heartbeat(&mut c, meta, 2, t0);
        assert!(c.operator_infos(t0).unwrap().is_empty());
        let names: Vec<String> = c
            .scheduler_infos()
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(
            names,
            vec!["replica-checker", "balance-leader", "columnar-placement"]
        );
    }
}
