//! # Stores and their state machine
//!
//! A store is one kv (or columnar) process. Its state is partly decided by
//! an administrator and partly by time:
//!
//! ```text
//!            heartbeat                no heartbeat for            no heartbeat for
//!          +-----------+          store_disconnected_after       max_store_down_time
//!          v           |      Up ----------------> Disconnected ----------------> Down
//!   PutStore --> Up ---+       ^                        |                          |
//!                 |            +------------------------+--------------------------+
//!                 |                            any heartbeat
//!                 | RemoveStore
//!                 v
//!              Offline --(holds no peers any more)--> Tombstone (final)
//! ```
//!
//! Only the *administrative* state (Up, Offline, Tombstone) is persisted, in
//! `metapb::Store::state`; Disconnected and Down are derived from the time of
//! the last heartbeat by [`derive_state`], a pure function of that time and
//! `now`. After a PD restart a store's "last heartbeat" is the moment PD
//! loaded it, which gives every store a grace period to report in.

use std::time::{Duration, Instant};

use proto::metapb::{self, StoreState};
use proto::pdpb;

/// When a silent store counts as Disconnected and Down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreTimeouts {
    pub disconnected_after: Duration,
    pub down_after: Duration,
}

/// The state of a store whose admin state is `admin` and whose last
/// heartbeat was `silence` ago.
pub fn derive_state(admin: StoreState, silence: Duration, t: &StoreTimeouts) -> StoreState {
    match admin {
        StoreState::Tombstone => StoreState::Tombstone,
        StoreState::Offline => StoreState::Offline,
        _ if silence >= t.down_after => StoreState::Down,
        _ if silence >= t.disconnected_after => StoreState::Disconnected,
        _ => StoreState::Up,
    }
}

/// What PD knows about one store.
#[derive(Debug, Clone)]
pub struct StoreInfo {
    /// Registered metadata; `state` holds the admin state only.
    pub meta: metapb::Store,
    pub stats: Option<pdpb::StoreStats>,
    /// Last heartbeat, or when PD learned about the store.
    pub last_heartbeat: Instant,
    /// Wall-clock ms of the last heartbeat; 0 if none since PD started.
    pub last_heartbeat_ms: u64,
}

impl StoreInfo {
    pub fn new(meta: metapb::Store, now: Instant) -> Self {
        StoreInfo {
            meta,
            stats: None,
            last_heartbeat: now,
            last_heartbeat_ms: 0,
        }
    }

    pub fn id(&self) -> u64 {
        self.meta.id
    }

    /// The administrative state: Up, Offline or Tombstone.
    pub fn admin_state(&self) -> StoreState {
        self.meta.state()
    }

    pub fn is_tombstone(&self) -> bool {
        self.admin_state() == StoreState::Tombstone
    }

    /// The effective state at `now`.
    pub fn state(&self, now: Instant, t: &StoreTimeouts) -> StoreState {
        derive_state(
            self.admin_state(),
            now.saturating_duration_since(self.last_heartbeat),
            t,
        )
    }

    /// True for stores labelled `engine=columnar`.
    pub fn is_columnar(&self) -> bool {
        crate::core::is_columnar(&self.meta)
    }

    /// The metadata as clients see it, with the effective state.
    pub fn to_proto(&self, now: Instant, t: &StoreTimeouts) -> metapb::Store {
        let mut meta = self.meta.clone();
        meta.set_state(self.state(now, t));
        meta
    }

    /// Records a heartbeat.
    pub fn heartbeat(&mut self, stats: pdpb::StoreStats, now: Instant, now_ms: u64) {
        self.stats = Some(stats);
        self.last_heartbeat = now;
        self.last_heartbeat_ms = now_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: StoreTimeouts = StoreTimeouts {
        disconnected_after: Duration::from_secs(20),
        down_after: Duration::from_secs(1800),
    };

    #[test]
    fn state_follows_silence_and_admin_state() {
        use StoreState::*;
        let s = Duration::from_secs;
        let cases = [
            (Up, s(0), Up),
            (Up, s(19), Up),
            (Up, s(20), Disconnected),
            (Up, s(1799), Disconnected),
            (Up, s(1800), Down),
            (Offline, s(0), Offline),
            (Offline, s(5000), Offline),
            (Tombstone, s(0), Tombstone),
        ];
        for (admin, silence, want) in cases {
            assert_eq!(
                derive_state(admin, silence, &T),
                want,
                "{admin:?} after {silence:?}"
            );
        }
    }

    #[test]
    fn heartbeat_brings_a_down_store_back_up() {
        let t0 = Instant::now();
        let mut store = StoreInfo::new(
            metapb::Store {
                id: 1,
                ..Default::default()
            },
            t0,
        );
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(store.state(later, &T), StoreState::Down);
        store.heartbeat(pdpb::StoreStats::default(), later, 1);
        assert_eq!(store.state(later, &T), StoreState::Up);
        assert_eq!(
            store.to_proto(later + Duration::from_secs(30), &T).state(),
            StoreState::Disconnected
        );
    }
}
