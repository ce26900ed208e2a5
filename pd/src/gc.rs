//! # The GC safe point
//!
//! MVCC keeps old versions so that transactions can read at their
//! `start_ts`. Garbage collection drops what no reader can see any more, and
//! the **safe point** says how far it may go: a reader at `ts >= safe_point`
//! still finds every version it needs, a reader below it may not. PD keeps
//! the one safe point of the cluster (TiDB: `tikv_gc_safe_point`); kv stores
//! read it and collect below it.
//!
//! ```text
//!   ts ->   ... safe_point ......... min_start_ts of running txns ... now
//!                   ^                       ^                          ^
//!       max(previous, min(now - gc_life_time, min_start_ts - 1))    current TSO
//! ```
//!
//! ## The rule
//!
//! On every tick PD takes a fresh timestamp `now` from its own TSO and
//! computes ([`next_safe_point`]):
//!
//! 1. the candidate `compose(physical(now) - gc_life_time, 0)`: versions
//!    older than the life time (default 10 min, TiDB's `tidb_gc_life_time`)
//!    may go;
//! 2. capped at `min_start_ts - 1` over the live **registrations**: every
//!    client running transactions (a SQL server, a txn client process)
//!    reports the smallest `start_ts` among them, so a transaction running
//!    longer than the life time keeps its snapshot (TiDB: the min start ts
//!    each tidb-server reports, and PD's service safe points);
//! 3. never below the previous safe point: GC that happened cannot be undone,
//!    so the safe point **never goes backwards**, not even when a client
//!    registers an older `start_ts` (its transaction is then already past
//!    saving, and the kv stores will tell it so).
//!
//! Because the candidate comes from a timestamp PD just handed out, the safe
//! point is always at least the life time behind every timestamp the cluster
//! could be using now, whatever the wall clock does.
//!
//! ## Registrations
//!
//! A registration is `(client_id, min_start_ts, ttl)`. The client refreshes
//! it well within `ttl` (every `ttl / 3`, say) and must register a
//! transaction within `gc_life_time` of its start; `min_start_ts = 0`
//! removes the registration (the client has no transactions running). A
//! registration not refreshed within its `ttl` expires, so a crashed client
//! cannot hold GC back forever.
//!
//! ## Durability
//!
//! The safe point is persisted (synced) before anyone can see it, so it
//! survives a restart and never goes backwards across one. Registrations are
//! persisted too, when they appear, change or go; after a restart they come
//! back with a fresh `ttl` (their clients may have refreshed while PD was
//! down), like the stores' grace period.
//!
//! [`SafePointManager`] holds the state; time is an argument to every method
//! so the rules are tested without clocks.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proto::pdpb;

use crate::error::{Error, Result};
use crate::storage::Storage;
use crate::tso;

/// Client ids longer than this are refused.
const MAX_CLIENT_ID_LEN: usize = 256;

/// A client's registration as [`GcSafePoint`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinStartTs {
    pub client_id: String,
    /// The smallest `start_ts` among the client's running transactions.
    pub min_start_ts: u64,
    /// Time left before the registration expires unless refreshed.
    pub expires_in: Duration,
}

/// The GC state: the safe point, the life time and the registrations that
/// hold it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcSafePoint {
    /// Readers at or above this timestamp see every version they need.
    pub safe_point: u64,
    pub gc_life_time: Duration,
    /// Live registrations, by client id.
    pub min_start_ts: Vec<MinStartTs>,
}

impl From<pdpb::GetGcSafePointResponse> for GcSafePoint {
    fn from(resp: pdpb::GetGcSafePointResponse) -> Self {
        GcSafePoint {
            safe_point: resp.safe_point,
            gc_life_time: Duration::from_millis(resp.gc_life_time_ms),
            min_start_ts: resp
                .min_start_ts
                .into_iter()
                .map(|m| MinStartTs {
                    client_id: m.client_id,
                    min_start_ts: m.min_start_ts,
                    expires_in: Duration::from_millis(m.expires_in_ms),
                })
                .collect(),
        }
    }
}

impl From<GcSafePoint> for pdpb::GetGcSafePointResponse {
    fn from(gc: GcSafePoint) -> Self {
        pdpb::GetGcSafePointResponse {
            header: crate::error::ok_header(),
            safe_point: gc.safe_point,
            gc_life_time_ms: gc.gc_life_time.as_millis() as u64,
            min_start_ts: gc
                .min_start_ts
                .into_iter()
                .map(|m| pdpb::MinStartTs {
                    client_id: m.client_id,
                    min_start_ts: m.min_start_ts,
                    expires_in_ms: m.expires_in.as_millis() as u64,
                })
                .collect(),
        }
    }
}

/// The safe point after `previous`, given a timestamp `now_ts` fresh from
/// the TSO, the life time and the smallest registered start ts (if any).
pub fn next_safe_point(
    previous: u64,
    now_ts: u64,
    life_time: Duration,
    min_start_ts: Option<u64>,
) -> u64 {
    let life_ms = life_time.as_millis() as u64;
    let mut candidate = tso::compose(tso::physical(now_ts).saturating_sub(life_ms), 0);
    if let Some(min) = min_start_ts {
        candidate = candidate.min(min.saturating_sub(1));
    }
    previous.max(candidate)
}

#[derive(Debug, Clone)]
struct Registration {
    min_start_ts: u64,
    ttl: Duration,
    expires: Instant,
}

/// The safe point, the registrations, and their persistence.
pub struct SafePointManager {
    storage: Storage,
    life_time: Duration,
    safe_point: u64,
    registrations: BTreeMap<String, Registration>,
}

impl SafePointManager {
    /// Loads the persisted safe point and registrations; the registrations
    /// get a fresh `ttl` from `now`.
    pub fn load(storage: Storage, life_time: Duration, now: Instant) -> Result<Self> {
        let safe_point = storage.load_gc_safe_point()?;
        let registrations: BTreeMap<String, Registration> = storage
            .load_min_start_ts()?
            .into_iter()
            .map(|(client_id, min_start_ts, ttl_ms)| {
                let ttl = Duration::from_millis(ttl_ms);
                let reg = Registration {
                    min_start_ts,
                    ttl,
                    expires: now + ttl,
                };
                (client_id, reg)
            })
            .collect();
        tracing::info!(
            safe_point,
            registrations = registrations.len(),
            "GC safe point loaded"
        );
        Ok(SafePointManager {
            storage,
            life_time,
            safe_point,
            registrations,
        })
    }

    pub fn safe_point(&self) -> u64 {
        self.safe_point
    }

    /// Registers, refreshes or (with `min_start_ts == 0`) removes a client's
    /// smallest running `start_ts`. Returns the current safe point.
    pub fn update_min_start_ts(
        &mut self,
        client_id: &str,
        min_start_ts: u64,
        ttl: Duration,
        now: Instant,
    ) -> Result<u64> {
        if client_id.is_empty() || client_id.len() > MAX_CLIENT_ID_LEN {
            return Err(Error::InvalidArgument(format!(
                "client id must be 1..={MAX_CLIENT_ID_LEN} bytes, got {}",
                client_id.len()
            )));
        }
        if min_start_ts == 0 {
            if self.registrations.contains_key(client_id) {
                self.storage.delete_min_start_ts(&[client_id])?;
                self.registrations.remove(client_id);
                tracing::debug!(client_id, "min start ts removed");
            }
            return Ok(self.safe_point);
        }
        if ttl.is_zero() {
            return Err(Error::InvalidArgument(
                "a min start ts registration needs a positive ttl".into(),
            ));
        }
        if min_start_ts <= self.safe_point {
            tracing::warn!(
                client_id,
                min_start_ts,
                safe_point = self.safe_point,
                "registered start ts is at or below the GC safe point"
            );
        }
        let changed = self
            .registrations
            .get(client_id)
            .is_none_or(|r| r.min_start_ts != min_start_ts || r.ttl != ttl);
        if changed {
            self.storage
                .save_min_start_ts(client_id, min_start_ts, ttl.as_millis() as u64)?;
        }
        self.registrations.insert(
            client_id.to_string(),
            Registration {
                min_start_ts,
                ttl,
                expires: now + ttl,
            },
        );
        Ok(self.safe_point)
    }

    /// Drops expired registrations and advances the safe point for the
    /// fresh timestamp `now_ts`, persisting it before it is visible.
    /// Returns the (possibly unchanged) safe point.
    pub fn tick(&mut self, now_ts: u64, now: Instant) -> Result<u64> {
        let expired: Vec<&str> = self
            .registrations
            .iter()
            .filter(|(_, r)| r.expires <= now)
            .map(|(id, _)| id.as_str())
            .collect();
        if !expired.is_empty() {
            tracing::info!(clients = ?expired, "min start ts registrations expired");
            self.storage.delete_min_start_ts(&expired)?;
            self.registrations.retain(|_, r| r.expires > now);
        }
        let min = self.registrations.values().map(|r| r.min_start_ts).min();
        let next = next_safe_point(self.safe_point, now_ts, self.life_time, min);
        if next > self.safe_point {
            self.storage.save_gc_safe_point(next)?;
            tracing::debug!(
                safe_point = next,
                physical_ms = tso::physical(next),
                "GC safe point advanced"
            );
            self.safe_point = next;
        }
        Ok(self.safe_point)
    }

    /// The state as `GetGcSafePoint` answers it; registrations already past
    /// their ttl (but not yet dropped by a tick) are left out.
    pub fn status(&self, now: Instant) -> GcSafePoint {
        GcSafePoint {
            safe_point: self.safe_point,
            gc_life_time: self.life_time,
            min_start_ts: self
                .registrations
                .iter()
                .filter(|(_, r)| r.expires > now)
                .map(|(id, r)| MinStartTs {
                    client_id: id.clone(),
                    min_start_ts: r.min_start_ts,
                    expires_in: r.expires - now,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tso::compose;

    const LIFE: Duration = Duration::from_secs(600);
    const LIFE_MS: u64 = 600_000;
    const TTL: Duration = Duration::from_secs(5);

    fn manager(storage: &Storage, now: Instant) -> SafePointManager {
        SafePointManager::load(storage.clone(), LIFE, now).unwrap()
    }

    #[test]
    fn the_rule() {
        let now = compose(1_000_000, 17);
        let life_ago = compose(1_000_000 - LIFE_MS, 0);
        assert_eq!(next_safe_point(0, now, LIFE, None), life_ago);
        // Capped below the oldest running transaction.
        assert_eq!(
            next_safe_point(0, now, LIFE, Some(life_ago - 5)),
            life_ago - 6
        );
        // A young transaction does not hold anything back.
        assert_eq!(next_safe_point(0, now, LIFE, Some(now - 1)), life_ago);
        // Never backwards, whatever the inputs.
        assert_eq!(next_safe_point(life_ago + 9, now, LIFE, None), life_ago + 9);
        assert_eq!(next_safe_point(50, now, LIFE, Some(3)), 50);
        // A cluster younger than the life time collects nothing.
        assert_eq!(next_safe_point(0, compose(1000, 0), LIFE, None), 0);
        assert_eq!(next_safe_point(0, now, LIFE, Some(0)), 0);
    }

    #[test]
    fn advances_with_time_and_never_goes_backwards() {
        let storage = Storage::in_memory();
        let t0 = Instant::now();
        let mut m = manager(&storage, t0);
        assert_eq!(m.safe_point(), 0);
        let mut last = 0;
        // The TSO's physical time jumps around (it cannot, but the rule must
        // not care): the safe point only grows.
        for physical in [2_000_000, 2_000_500, 1_900_000, 2_100_000, 2_050_000] {
            let sp = m.tick(compose(physical, 3), t0).unwrap();
            assert!(sp >= last);
            assert!(tso::physical(sp) + LIFE_MS <= physical.max(2_100_000));
            last = sp;
        }
        assert_eq!(last, compose(2_100_000 - LIFE_MS, 0));
        assert_eq!(storage.load_gc_safe_point().unwrap(), last);
    }

    #[test]
    fn registrations_cap_the_safe_point_until_removed() {
        let storage = Storage::in_memory();
        let t0 = Instant::now();
        let mut m = manager(&storage, t0);
        let old_txn = compose(1_000_000, 4);
        m.update_min_start_ts("sql-1", old_txn, TTL, t0).unwrap();
        m.update_min_start_ts("sql-2", old_txn + 100, TTL, t0)
            .unwrap();
        let now_ts = compose(5_000_000, 0);
        assert_eq!(m.tick(now_ts, t0).unwrap(), old_txn - 1);
        // sql-1's old transaction finished; its next one is young.
        m.update_min_start_ts("sql-1", now_ts - 10, TTL, t0)
            .unwrap();
        assert_eq!(m.tick(now_ts, t0).unwrap(), old_txn + 99);
        // sql-2 has nothing running any more.
        m.update_min_start_ts("sql-2", 0, TTL, t0).unwrap();
        assert_eq!(m.tick(now_ts, t0).unwrap(), compose(5_000_000 - LIFE_MS, 0));
        let status = m.status(t0);
        assert_eq!(status.gc_life_time, LIFE);
        assert_eq!(
            status.min_start_ts,
            vec![MinStartTs {
                client_id: "sql-1".into(),
                min_start_ts: now_ts - 10,
                expires_in: TTL,
            }]
        );
        // Removing what is not registered is fine.
        m.update_min_start_ts("nobody", 0, Duration::ZERO, t0)
            .unwrap();
    }

    #[test]
    fn expired_registrations_are_ignored_and_refreshes_keep_them() {
        let storage = Storage::in_memory();
        let t0 = Instant::now();
        let mut m = manager(&storage, t0);
        m.update_min_start_ts("crashed", compose(100, 0), TTL, t0)
            .unwrap();
        m.update_min_start_ts("alive", compose(200, 0), TTL, t0)
            .unwrap();
        let t1 = t0 + Duration::from_secs(4);
        m.update_min_start_ts("alive", compose(200, 0), TTL, t1)
            .unwrap();
        let now_ts = compose(10_000_000, 0);
        assert_eq!(m.tick(now_ts, t1).unwrap(), compose(100, 0) - 1);
        let t2 = t0 + Duration::from_secs(6);
        let status = m.status(t2);
        assert_eq!(status.min_start_ts.len(), 1);
        assert_eq!(status.min_start_ts[0].expires_in, Duration::from_secs(3));
        assert_eq!(m.tick(now_ts, t2).unwrap(), compose(200, 0) - 1);
        assert_eq!(storage.load_min_start_ts().unwrap().len(), 1);
        let t3 = t0 + Duration::from_secs(9);
        assert_eq!(
            m.tick(now_ts, t3).unwrap(),
            compose(10_000_000 - LIFE_MS, 0)
        );
        assert!(storage.load_min_start_ts().unwrap().is_empty());
    }

    #[test]
    fn survives_a_restart() {
        let storage = Storage::in_memory();
        let t0 = Instant::now();
        let mut m = manager(&storage, t0);
        let now_ts = compose(3_000_000, 0);
        let first = m.tick(now_ts, t0).unwrap();
        m.update_min_start_ts("sql-1", first + 1000, TTL, t0)
            .unwrap();
        drop(m);
        // Restarted much later: the registration gets a fresh ttl.
        let t1 = t0 + Duration::from_secs(60);
        let mut m = manager(&storage, t1);
        assert_eq!(m.safe_point(), first);
        assert_eq!(m.status(t1).min_start_ts[0].expires_in, TTL);
        // Still capped after the restart, and never below what it was.
        let later = compose(3_000_000 + LIFE_MS, 0);
        assert_eq!(m.tick(later, t1).unwrap(), first + 999);
        assert_eq!(m.tick(now_ts, t1).unwrap(), first + 999);
    }

    #[test]
    fn rejects_bad_registrations() {
        let storage = Storage::in_memory();
        let t0 = Instant::now();
        let mut m = manager(&storage, t0);
        for (id, ttl) in [("", TTL), ("x", Duration::ZERO)] {
            assert!(matches!(
                m.update_min_start_ts(id, 5, ttl, t0),
                Err(Error::InvalidArgument(_))
            ));
        }
        let long = "c".repeat(MAX_CLIENT_ID_LEN + 1);
        assert!(m.update_min_start_ts(&long, 5, TTL, t0).is_err());
        assert!(m.status(t0).min_start_ts.is_empty());
    }
}
