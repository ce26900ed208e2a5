//! # The GC safe points
//!
//! MVCC keeps old versions so that transactions can read at their
//! `start_ts`. Garbage collection drops what no reader can see any more. It
//! runs in two phases around two timestamps that PD keeps for the cluster:
//!
//! - the **txn safe point** (`safe_point` on the wire and in
//!   [`GcSafePoint`]; TiDB: `tikv_gc_safe_point` as the GC leader computes
//!   it): a reader at `ts >= safe_point` still finds every version it needs;
//!   reads below it are refused, and every lock at or below it belongs to a
//!   transaction that is over and is to be **resolved**;
//! - the **gc safe point** (`gc_safe_point`; TiDB: the gc safe point
//!   `UpdateGCSafePoint` publishes to PD): kv stores may **delete** MVCC
//!   versions at or below it, and never beyond it.
//!
//! ```text
//!   ts ->  gc_safe_point <= safe_point ...... min_start_ts of running txns ... now
//!               ^               ^
//!               |      max(previous, min(now - gc_life_time, min_start_ts - 1))
//!      max(previous, min(requested, safe_point)), once locks are resolved
//! ```
//!
//! ## Why two points
//!
//! A committed transaction's commit record lives with its primary key; a
//! secondary lock in another region is resolved by looking that record up.
//! If stores deleted versions up to the txn safe point while resolving old
//! locks only in the regions each one leads, a store could drop a primary's
//! commit record before another store resolved a secondary of the same
//! transaction, which would then find no commit record and roll the
//! secondary back: half a committed transaction lost. So:
//!
//! 1. **candidate**: PD advances the txn safe point on its own (below);
//! 2. **resolve**: the GC worker resolves every lock at or below it, in
//!    every region of the cluster, while the commit records are all still
//!    there;
//! 3. **publish**: only then does it call `UpdateGcSafePoint` with that
//!    txn safe point ([`SafePointManager::update_gc_safe_point`]);
//! 4. **delete**: kv stores read the gc safe point and delete versions at or
//!    below it.
//!
//! The publish rule ([`next_gc_safe_point`]) is
//! `gc_safe_point = max(previous, min(requested, safe_point))`: never beyond
//! the txn safe point (whatever a confused caller asks for), never
//! backwards (deletion cannot be undone), and idempotent, so the call can be
//! retried and a stale worker does no harm. The answer is the value now in
//! force, which may be below the request. The gc safe point starts at 0:
//! nothing is deleted until a worker has resolved locks once.
//!
//! ## The txn safe point rule
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
//! Both safe points are persisted (synced) before anyone can see them, so
//! they survive a restart and never go backwards across one; since each is
//! saved only after it changed under the rules above, the stored gc safe
//! point never exceeds the stored txn safe point. Registrations are
//! persisted too, when they appear, change or go; after a restart they come
//! back with a fresh `ttl` (their clients may have refreshed while PD was
//! down), like the stores' grace period.
//!
//! [`SafePointManager`] holds the state; time is an argument to every method
//! that needs it, so the rules are tested without clocks.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::core::{self, GcSafePoint, MinStartTs};
use crate::error::{Error, Result};
use crate::storage::Storage;

/// Client ids longer than this are refused.
const MAX_CLIENT_ID_LEN: usize = 256;

/// The txn safe point after `previous`, given a timestamp `now_ts` fresh from
/// the TSO, the life time and the smallest registered start ts (if any).
pub fn next_safe_point(
    previous: u64,
    now_ts: u64,
    life_time: Duration,
    min_start_ts: Option<u64>,
) -> u64 {
    let life_ms = life_time.as_millis() as u64;
    let mut candidate = core::compose(core::physical(now_ts).saturating_sub(life_ms), 0);
    if let Some(min) = min_start_ts {
        candidate = candidate.min(min.saturating_sub(1));
    }
    previous.max(candidate)
}

/// The gc safe point after `previous` when a GC worker asks for `requested`
/// while the txn safe point is `txn_safe_point`: never beyond the txn safe
/// point, never backwards.
pub fn next_gc_safe_point(previous: u64, requested: u64, txn_safe_point: u64) -> u64 {
    previous.max(requested.min(txn_safe_point))
}

#[derive(Debug, Clone)]
struct Registration {
    min_start_ts: u64,
    ttl: Duration,
    expires: Instant,
}

/// The two safe points, the registrations, and their persistence.
pub struct SafePointManager {
    storage: Storage,
    life_time: Duration,
    /// The txn safe point.
    safe_point: u64,
    gc_safe_point: u64,
    registrations: BTreeMap<String, Registration>,
}

impl SafePointManager {
    /// Loads the persisted safe points and registrations; the registrations
    /// get a fresh `ttl` from `now`.
    pub fn load(storage: Storage, life_time: Duration, now: Instant) -> Result<Self> {
        let safe_point = storage.load_txn_safe_point()?;
        let gc_safe_point = storage.load_gc_safe_point()?;
        if gc_safe_point > safe_point {
            return Err(Error::Storage(format!(
                "gc safe point {gc_safe_point} is beyond the txn safe point {safe_point}"
            )));
        }
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
            gc_safe_point,
            registrations = registrations.len(),
            "GC safe point loaded"
        );
        Ok(SafePointManager {
            storage,
            life_time,
            safe_point,
            gc_safe_point,
            registrations,
        })
    }

    /// The txn safe point.
    pub fn safe_point(&self) -> u64 {
        self.safe_point
    }

    /// The gc safe point.
    pub fn gc_safe_point(&self) -> u64 {
        self.gc_safe_point
    }

    /// Publishes the gc safe point after a GC worker resolved every lock at
    /// or below `requested` cluster-wide: moves it to
    /// [`next_gc_safe_point`], persisting it before it is visible. Returns
    /// the gc safe point now in force (below `requested` if that was beyond
    /// the txn safe point or behind the current gc safe point).
    pub fn update_gc_safe_point(&mut self, requested: u64) -> Result<u64> {
        let next = next_gc_safe_point(self.gc_safe_point, requested, self.safe_point);
        if requested > self.safe_point {
            tracing::warn!(
                requested,
                safe_point = self.safe_point,
                "gc safe point requested beyond the txn safe point; capped"
            );
        }
        if next > self.gc_safe_point {
            self.storage.save_gc_safe_point(next)?;
            tracing::debug!(
                gc_safe_point = next,
                physical_ms = core::physical(next),
                "gc safe point advanced"
            );
            self.gc_safe_point = next;
        }
        Ok(self.gc_safe_point)
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

    /// Drops expired registrations and advances the txn safe point for the
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
            self.storage.save_txn_safe_point(next)?;
            tracing::debug!(
                safe_point = next,
                physical_ms = core::physical(next),
                "txn safe point advanced"
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
            gc_safe_point: self.gc_safe_point,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::compose;

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
    fn the_gc_safe_point_rule() {
        // Follows the request up to the txn safe point...
        assert_eq!(next_gc_safe_point(0, 40, 100), 40);
        assert_eq!(next_gc_safe_point(40, 100, 100), 100);
        // ...never beyond it...
        assert_eq!(next_gc_safe_point(40, 150, 100), 100);
        assert_eq!(next_gc_safe_point(0, u64::MAX, 100), 100);
        assert_eq!(next_gc_safe_point(0, 5, 0), 0);
        // ...and never backwards.
        assert_eq!(next_gc_safe_point(60, 30, 100), 60);
        assert_eq!(next_gc_safe_point(60, 0, 100), 60);
        assert_eq!(next_gc_safe_point(60, 60, 100), 60);
    }

    #[test]
    fn gc_safe_point_is_published_capped_and_monotonic() {
        let storage = Storage::in_memory();
        let t0 = Instant::now();
        let mut m = manager(&storage, t0);
        // Nothing may be deleted before any txn safe point exists.
        assert_eq!(m.update_gc_safe_point(compose(1, 0)).unwrap(), 0);
        let txn = m.tick(compose(2_000_000, 0), t0).unwrap();
        assert_eq!(txn, compose(2_000_000 - LIFE_MS, 0));
        assert_eq!(m.status(t0).gc_safe_point, 0);
        // Below the txn safe point: taken as asked.
        assert_eq!(m.update_gc_safe_point(txn - 10).unwrap(), txn - 10);
        assert_eq!(storage.load_gc_safe_point().unwrap(), txn - 10);
        // Backwards: refused, the current value answers.
        assert_eq!(m.update_gc_safe_point(txn - 20).unwrap(), txn - 10);
        // Beyond the txn safe point: capped at it.
        assert_eq!(m.update_gc_safe_point(txn + 10).unwrap(), txn);
        assert_eq!(storage.load_gc_safe_point().unwrap(), txn);
        let status = m.status(t0);
        assert_eq!((status.safe_point, status.gc_safe_point), (txn, txn));
        // The txn safe point moves on alone; the gc safe point waits.
        let later = m.tick(compose(2_500_000, 0), t0).unwrap();
        assert!(later > txn);
        assert_eq!(m.gc_safe_point(), txn);
        assert_eq!(m.update_gc_safe_point(later).unwrap(), later);
    }

    #[test]
    fn a_gc_safe_point_beyond_the_txn_safe_point_is_corrupt() {
        let storage = Storage::in_memory();
        storage.save_txn_safe_point(10).unwrap();
        storage.save_gc_safe_point(11).unwrap();
        assert!(matches!(
            SafePointManager::load(storage, LIFE, Instant::now()),
            Err(Error::Storage(_))
        ));
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
            assert!(core::physical(sp) + LIFE_MS <= physical.max(2_100_000));
            last = sp;
        }
        assert_eq!(last, compose(2_100_000 - LIFE_MS, 0));
        assert_eq!(storage.load_txn_safe_point().unwrap(), last);
        // Ticks never move the gc safe point.
        assert_eq!(m.gc_safe_point(), 0);
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
        assert_eq!(m.update_gc_safe_point(first - 7).unwrap(), first - 7);
        drop(m);
        // Restarted much later: the registration gets a fresh ttl.
        let t1 = t0 + Duration::from_secs(60);
        let mut m = manager(&storage, t1);
        assert_eq!(m.safe_point(), first);
        assert_eq!(m.gc_safe_point(), first - 7);
        assert_eq!(m.status(t1).gc_safe_point, first - 7);
        assert_eq!(m.update_gc_safe_point(first - 9).unwrap(), first - 7);
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
