//! # Store membership: registration, heartbeats, removal
//!
//! ```text
//!   PutStore(store)        register or update address/labels/version; a
//!                          Tombstone store is refused for good
//!   StoreHeartbeat(stats)  refresh stats and liveness (Disconnected/Down -> Up)
//!   RemoveStore(id)        Up/Disconnected/Down -> Offline; the replica
//!                          checker then moves its voters away
//!   (tick)                 Offline with no peers left -> Tombstone
//! ```
//!
//! Addresses must be unique among stores that are not Tombstone, as in PD:
//! two live stores claiming one address would make routing ambiguous.

use std::time::Instant;

use proto::metapb::{self, StoreState};
use proto::pdpb;

use super::Cluster;
use super::store::StoreInfo;
use crate::StoreId;
use crate::error::{Error, Result};

/// Checks store metadata coming from outside.
pub fn validate_store(store: &metapb::Store) -> Result<()> {
    if store.id == 0 {
        return Err(Error::InvalidArgument("store id 0".into()));
    }
    if store.address.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "store {} has no address",
            store.id
        )));
    }
    Ok(())
}

impl Cluster {
    fn known_store(&self, id: StoreId) -> Result<&StoreInfo> {
        self.stores
            .get(&id)
            .ok_or_else(|| Error::StoreNotFound(format!("store {id} does not exist")))
    }

    /// Registers a store or updates its address, labels and version. The
    /// administrative state PD holds (Up or Offline) is kept.
    pub fn put_store(&mut self, mut store: metapb::Store, now: Instant) -> Result<()> {
        validate_store(&store)?;
        if let Some(clash) = self
            .stores
            .values()
            .find(|s| s.id() != store.id && !s.is_tombstone() && s.meta.address == store.address)
        {
            return Err(Error::InvalidArgument(format!(
                "address {} is already used by store {}",
                store.address,
                clash.id()
            )));
        }
        let admin_state = match self.stores.get(&store.id) {
            Some(s) if s.is_tombstone() => {
                return Err(Error::StoreTombstone(format!(
                    "store {} was removed and cannot rejoin",
                    store.id
                )));
            }
            Some(s) => s.admin_state(),
            None => StoreState::Up,
        };
        store.set_state(admin_state);
        self.storage.save_store(&store)?;
        match self.stores.get_mut(&store.id) {
            Some(existing) => {
                if existing.meta.address != store.address {
                    tracing::info!(store_id = store.id, from = %existing.meta.address, to = %store.address, "store address changed");
                }
                existing.meta = store;
            }
            None => {
                tracing::info!(store_id = store.id, address = %store.address, "store registered");
                self.stores.insert(store.id, StoreInfo::new(store, now));
            }
        }
        Ok(())
    }

    /// A store's metadata (with its effective state) and last statistics.
    pub fn get_store(
        &self,
        id: StoreId,
        now: Instant,
    ) -> Result<(metapb::Store, Option<pdpb::StoreStats>)> {
        let s = self.known_store(id)?;
        Ok((s.to_proto(now, &self.cfg.store_timeouts), s.stats))
    }

    /// All stores with their peer and leader counts.
    pub fn all_stores(&self, exclude_tombstone: bool, now: Instant) -> Vec<pdpb::StoreInfo> {
        self.stores
            .values()
            .filter(|s| !(exclude_tombstone && s.is_tombstone()))
            .map(|s| pdpb::StoreInfo {
                store: Some(s.to_proto(now, &self.cfg.store_timeouts)),
                stats: s.stats,
                region_count: self.regions.peer_count(s.id()),
                leader_count: self.regions.leader_count(s.id()),
                last_heartbeat_ms: s.last_heartbeat_ms,
            })
            .collect()
    }

    /// Records a store heartbeat.
    pub fn store_heartbeat(
        &mut self,
        stats: pdpb::StoreStats,
        now: Instant,
        now_ms: u64,
    ) -> Result<()> {
        self.ensure_bootstrapped()?;
        let id = stats.store_id;
        let timeouts = self.cfg.store_timeouts;
        let store = self
            .stores
            .get_mut(&id)
            .ok_or_else(|| Error::StoreNotFound(format!("store {id} does not exist")))?;
        if store.is_tombstone() {
            return Err(Error::StoreTombstone(format!("store {id} was removed")));
        }
        let before = store.state(now, &timeouts);
        store.heartbeat(stats, now, now_ms);
        if matches!(before, StoreState::Disconnected | StoreState::Down) {
            tracing::info!(store_id = id, was = ?before, "store is back");
        }
        Ok(())
    }

    /// Starts removing a store: it goes Offline, its voters are moved away,
    /// and it becomes Tombstone once it holds no peers.
    pub fn remove_store(&mut self, id: StoreId) -> Result<()> {
        self.ensure_bootstrapped()?;
        let store = self.known_store(id)?;
        match store.admin_state() {
            StoreState::Tombstone => {
                return Err(Error::StoreTombstone(format!(
                    "store {id} is already removed"
                )));
            }
            StoreState::Offline => return Ok(()),
            _ => {}
        }
        let mut meta = store.meta.clone();
        meta.set_state(StoreState::Offline);
        self.storage.save_store(&meta)?;
        self.stores.get_mut(&id).expect("known above").meta = meta;
        let remaining = self
            .stores
            .values()
            .filter(|s| s.admin_state() == StoreState::Up && !s.is_columnar())
            .count();
        if remaining < self.cfg.schedule.max_replicas {
            tracing::warn!(
                store_id = id,
                remaining,
                max_replicas = self.cfg.schedule.max_replicas,
                "store set offline, but too few stores remain to hold its replicas"
            );
        } else {
            tracing::info!(store_id = id, "store set offline");
        }
        self.retire_empty_stores()?;
        Ok(())
    }

    /// Offline stores that hold no peers any more become Tombstone.
    pub fn retire_empty_stores(&mut self) -> Result<Vec<StoreId>> {
        let empty: Vec<StoreId> = self
            .stores
            .values()
            .filter(|s| {
                s.admin_state() == StoreState::Offline && self.regions.peer_count(s.id()) == 0
            })
            .map(StoreInfo::id)
            .collect();
        for id in &empty {
            let store = self.stores.get_mut(id).expect("listed above");
            let mut meta = store.meta.clone();
            meta.set_state(StoreState::Tombstone);
            self.storage.save_store(&meta)?;
            store.meta = meta;
            tracing::info!(store_id = id, "offline store is empty: now tombstone");
        }
        Ok(empty)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::tests::{bootstrapped, store};
    use super::*;

    fn state(c: &Cluster, id: u64, now: Instant) -> StoreState {
        c.get_store(id, now).unwrap().0.state()
    }

    fn beat(c: &mut Cluster, id: u64, now: Instant) -> Result<()> {
        c.store_heartbeat(
            pdpb::StoreStats {
                store_id: id,
                ..Default::default()
            },
            now,
            1,
        )
    }

    #[test]
    fn store_lifecycle() {
        let t0 = Instant::now();
        let (mut c, _) = bootstrapped(t0);
        c.put_store(store(4), t0).unwrap();
        assert_eq!(state(&c, 4, t0), StoreState::Up);
        let t1 = t0 + Duration::from_secs(25);
        assert_eq!(state(&c, 4, t1), StoreState::Disconnected);
        let t2 = t0 + Duration::from_secs(1800);
        assert_eq!(state(&c, 4, t2), StoreState::Down);
        beat(&mut c, 4, t2).unwrap();
        assert_eq!(state(&c, 4, t2), StoreState::Up);

        // Address change for the same id is fine; stealing another's is not.
        let mut moved = store(4);
        moved.address = "10.0.0.4:20160".into();
        c.put_store(moved, t2).unwrap();
        assert_eq!(c.get_store(4, t2).unwrap().0.address, "10.0.0.4:20160");
        let mut thief = store(5);
        thief.address = "10.0.0.4:20160".into();
        assert!(matches!(
            c.put_store(thief, t2),
            Err(Error::InvalidArgument(_))
        ));

        // Store 4 holds nothing: removal makes it tombstone at once.
        c.remove_store(4).unwrap();
        assert_eq!(state(&c, 4, t2), StoreState::Tombstone);
        assert!(matches!(
            c.put_store(store(4), t2),
            Err(Error::StoreTombstone(_))
        ));
        assert!(matches!(beat(&mut c, 4, t2), Err(Error::StoreTombstone(_))));
        assert!(matches!(c.remove_store(4), Err(Error::StoreTombstone(_))));
        assert!(matches!(c.remove_store(9), Err(Error::StoreNotFound(_))));
        assert!(matches!(beat(&mut c, 9, t2), Err(Error::StoreNotFound(_))));
        // Its address is free again.
        let mut reuse = store(6);
        reuse.address = "10.0.0.4:20160".into();
        c.put_store(reuse, t2).unwrap();

        let all = c.all_stores(true, t2);
        assert_eq!(
            all.iter()
                .map(|s| s.store.as_ref().unwrap().id)
                .collect::<Vec<_>>(),
            vec![1, 6]
        );
        assert_eq!((all[0].region_count, all[0].leader_count), (1, 0));
        assert_eq!(c.all_stores(false, t2).len(), 3);
    }

    #[test]
    fn offline_store_with_peers_waits_for_them_to_move() {
        let t0 = Instant::now();
        let (mut c, _) = bootstrapped(t0);
        c.remove_store(1).unwrap();
        assert_eq!(state(&c, 1, t0), StoreState::Offline);
        // Still heartbeating while it drains, and PutStore keeps it Offline.
        beat(&mut c, 1, t0).unwrap();
        c.put_store(store(1), t0).unwrap();
        assert_eq!(state(&c, 1, t0), StoreState::Offline);
        c.remove_store(1).unwrap();
        assert_eq!(c.retire_empty_stores().unwrap(), Vec::<u64>::new());
    }
}
