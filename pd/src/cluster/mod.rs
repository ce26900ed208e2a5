//! # The cluster: PD's state and the rules for changing it
//!
//! [`Cluster`] is everything PD knows besides timestamps: whether the
//! cluster is bootstrapped, the stores, the region map and the running
//! operators. Every RPC except `Tso` and `AllocId` is a method here; the gRPC
//! service is a thin shell that takes the lock, reads the clock and calls in.
//!
//! ```text
//!   gRPC service ──lock──> Cluster ─┬─ stores: StoreInfo (store.rs)      membership.rs
//!        now: Instant               ├─ regions: RegionMap (region.rs)    heartbeat.rs, split.rs
//!                                   ├─ operators: OperatorController     schedule.rs
//!                                   └─ storage (persist metadata), ids
//! ```
//!
//! Methods never sleep, spawn or read the clock: `now` is an argument, so
//! tests drive time by hand. They do write metadata to [`Storage`] before
//! changing memory, so what a caller saw acknowledged survives a restart.
//!
//! The files, by operation:
//!
//! | file | operations |
//! |---|---|
//! | `mod.rs` | loading, bootstrap, the scheduler's view |
//! | [`membership`] | PutStore, GetStore, GetAllStores, StoreHeartbeat, RemoveStore, Offline -> Tombstone |
//! | [`heartbeat`] | RegionHeartbeat (with operator answers), GetRegion, GetRegionById, ScanRegions |
//! | [`split`] | AskSplit, ReportSplit |
//! | [`schedule`] | the scheduling tick, AddOperator, GetOperators, GetSchedulers |

pub mod heartbeat;
pub mod membership;
pub mod region;
pub mod schedule;
pub mod split;
pub mod store;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use proto::metapb::{self, StoreState};
use proto::pdpb;

use crate::error::{Error, Result};
use crate::id::IdService;
use crate::operator::builder::OpTimeouts;
use crate::operator::controller::{Limits, OperatorController};
use crate::schedule::{ClusterView, ScheduleConfig, StoreView};
use crate::storage::Storage;
use crate::{RegionId, StoreId};
use region::{RegionInfo, RegionMap};
use store::{StoreInfo, StoreTimeouts};

/// The knobs of the cluster logic (derived from `PdConfig`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    pub store_timeouts: StoreTimeouts,
    pub schedule: ScheduleConfig,
    pub op_timeouts: OpTimeouts,
    pub enable_replica_checker: bool,
    pub enable_balance_leader: bool,
}

impl ClusterConfig {
    fn limits(&self) -> Limits {
        Limits {
            leader: self.schedule.leader_schedule_limit,
            replica: self.schedule.replica_schedule_limit,
        }
    }
}

/// PD's cluster state. Not thread-safe by itself: the server keeps it
/// behind one mutex.
pub struct Cluster {
    cfg: ClusterConfig,
    storage: Storage,
    ids: Arc<IdService>,
    bootstrapped: bool,
    stores: BTreeMap<StoreId, StoreInfo>,
    regions: RegionMap,
    operators: OperatorController,
    /// Columnar placement rules by id.
    columnar_rules: BTreeMap<String, pdpb::ColumnarRule>,
}

impl Cluster {
    /// Loads the persisted metadata. Stores get a fresh grace period: their
    /// last heartbeat counts as `now`.
    pub fn load(
        cfg: ClusterConfig,
        storage: Storage,
        ids: Arc<IdService>,
        now: Instant,
    ) -> Result<Self> {
        let bootstrapped = storage.is_bootstrapped()?;
        let stores: BTreeMap<StoreId, StoreInfo> = storage
            .load_stores()?
            .into_iter()
            .map(|meta| (meta.id, StoreInfo::new(meta, now)))
            .collect();
        let mut regions = RegionMap::default();
        for meta in storage.load_regions()? {
            let info = RegionInfo::from_meta(meta);
            match regions.check_stale(&info) {
                Ok(()) => {
                    regions.put(info);
                }
                Err(e) => {
                    tracing::warn!(region_id = info.id(), error = %e, "skipping stale persisted region")
                }
            }
        }
        let columnar_rules = storage
            .load_columnar_rules()?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        tracing::info!(
            bootstrapped,
            stores = stores.len(),
            regions = regions.len(),
            "cluster loaded"
        );
        Ok(Cluster {
            cfg,
            storage,
            ids,
            bootstrapped,
            stores,
            regions,
            operators: OperatorController::default(),
            columnar_rules,
        })
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.cfg
    }

    pub fn is_bootstrapped(&self) -> bool {
        self.bootstrapped
    }

    pub(crate) fn ensure_bootstrapped(&self) -> Result<()> {
        if self.bootstrapped {
            Ok(())
        } else {
            Err(Error::NotBootstrapped)
        }
    }

    pub fn regions(&self) -> &RegionMap {
        &self.regions
    }

    pub fn operators(&self) -> &OperatorController {
        &self.operators
    }

    pub fn store(&self, id: StoreId) -> Option<&StoreInfo> {
        self.stores.get(&id)
    }

    /// Bootstraps the cluster with its first store and region, atomically:
    /// exactly one caller ever succeeds.
    pub fn bootstrap(
        &mut self,
        mut store: metapb::Store,
        region: metapb::Region,
        now: Instant,
    ) -> Result<()> {
        if self.bootstrapped {
            return Err(Error::AlreadyBootstrapped);
        }
        membership::validate_store(&store)?;
        region::validate_region(&region)?;
        if self
            .stores
            .get(&store.id)
            .is_some_and(StoreInfo::is_tombstone)
        {
            return Err(Error::StoreTombstone(format!(
                "store {} was removed",
                store.id
            )));
        }
        store.set_state(StoreState::Up);
        self.storage.save_bootstrap(&store, &region)?;
        tracing::info!(
            store_id = store.id,
            region_id = region.id,
            "cluster bootstrapped"
        );
        self.bootstrapped = true;
        self.stores.insert(store.id, StoreInfo::new(store, now));
        let info = RegionInfo::from_meta(region);
        for removed in self.regions.put(info).removed {
            self.operators.remove(removed);
        }
        Ok(())
    }

    /// The schedulers' snapshot of the stores at `now`, including the load
    /// of running operators.
    pub fn view(&self, now: Instant) -> ClusterView {
        let loads = self.operators.store_loads();
        let stores = self
            .stores
            .values()
            .map(|s| {
                let load = loads.get(&s.id()).copied().unwrap_or_default();
                let leaders = self.regions.leader_count(s.id()) as i64 + load.leader_delta;
                let view = StoreView {
                    id: s.id(),
                    state: s.state(now, &self.cfg.store_timeouts),
                    columnar: s.is_columnar(),
                    region_count: self.regions.peer_count(s.id()),
                    leader_count: leaders.max(0) as u64,
                    replica_ops: load.replica_ops,
                    leader_ops: load.leader_ops,
                };
                (s.id(), view)
            })
            .collect();
        ClusterView { stores }
    }

    /// Records a region (already checked for staleness) and persists it if
    /// its metadata changed; regions it overlapped are dropped, with their
    /// operators.
    pub(crate) fn put_region(&mut self, info: RegionInfo) -> Result<()> {
        let region_id = info.id();
        let meta_changed = self
            .regions
            .get(region_id)
            .is_none_or(|old| old.meta != info.meta);
        let removed = self.regions.overlaps(&info.meta);
        if meta_changed || !removed.is_empty() {
            self.storage.save_regions(&[&info.meta], &removed)?;
        }
        for id in self.regions.put(info).removed {
            tracing::info!(
                region_id = id,
                by = region_id,
                "region replaced by an overlapping newer one"
            );
            self.operators.remove(id);
        }
        Ok(())
    }

    /// A new peer id.
    pub(crate) fn alloc_id(&self) -> Result<u64> {
        self.ids.alloc()
    }

    /// Regions in key order without a running operator.
    fn idle_regions(&self) -> Vec<RegionId> {
        self.regions
            .iter()
            .map(RegionInfo::id)
            .filter(|id| !self.operators.contains(*id))
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;

    pub(crate) fn config() -> ClusterConfig {
        ClusterConfig {
            store_timeouts: StoreTimeouts {
                disconnected_after: Duration::from_secs(20),
                down_after: Duration::from_secs(1800),
            },
            schedule: ScheduleConfig::default(),
            op_timeouts: OpTimeouts {
                region: Duration::from_secs(60),
                leader: Duration::from_secs(10),
            },
            enable_replica_checker: true,
            enable_balance_leader: true,
        }
    }

    pub(crate) fn store(id: u64) -> metapb::Store {
        metapb::Store {
            id,
            address: format!("127.0.0.1:{}", 20160 + id),
            ..Default::default()
        }
    }

    /// A cluster on in-memory storage, bootstrapped with store 1 and region
    /// 2 (peer 3 on store 1) covering everything.
    pub(crate) fn bootstrapped(now: Instant) -> (Cluster, Storage) {
        let storage = Storage::in_memory();
        let ids = Arc::new(IdService::load(storage.clone()).unwrap());
        let mut c = Cluster::load(config(), storage.clone(), ids, now).unwrap();
        let region = metapb::Region {
            id: 2,
            region_epoch: Some(metapb::RegionEpoch {
                conf_ver: 1,
                version: 1,
            }),
            peers: vec![metapb::Peer {
                id: 3,
                store_id: 1,
                role: 0,
            }],
            ..Default::default()
        };
        c.bootstrap(store(1), region, now).unwrap();
        (c, storage)
    }

    #[test]
    fn bootstrap_once_and_reload() {
        let now = Instant::now();
        let (mut c, storage) = bootstrapped(now);
        let again = c.bootstrap(
            store(5),
            metapb::Region {
                id: 6,
                ..Default::default()
            },
            now,
        );
        assert_eq!(again, Err(Error::AlreadyBootstrapped));
        let ids = Arc::new(IdService::load(storage.clone()).unwrap());
        let reloaded = Cluster::load(config(), storage, ids, now).unwrap();
        assert!(reloaded.is_bootstrapped());
        assert_eq!(reloaded.regions().get_by_key(b"any").unwrap().id(), 2);
        assert_eq!(reloaded.store(1).unwrap().admin_state(), StoreState::Up);
    }

    #[test]
    fn bootstrap_validates() {
        let storage = Storage::in_memory();
        let ids = Arc::new(IdService::load(storage.clone()).unwrap());
        let now = Instant::now();
        let mut c = Cluster::load(config(), storage, ids, now).unwrap();
        let no_peers = metapb::Region {
            id: 2,
            ..Default::default()
        };
        assert!(matches!(
            c.bootstrap(store(1), no_peers, now),
            Err(Error::InvalidArgument(_))
        ));
        assert!(!c.is_bootstrapped());
    }
}
