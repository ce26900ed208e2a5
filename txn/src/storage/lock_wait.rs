//! Waiting for conflicting locks (pessimistic transactions).
//!
//! A pessimistic lock request that meets another transaction's lock does not
//! fail at once, as an optimistic prewrite would: like InnoDB and TiDB it
//! waits, up to the request's `wait_timeout`, for the lock to go away. The
//! waiter first asks the cluster's deadlock detector (hosted by PD) whether
//! waiting would close a cycle in the wait-for graph; if so it gets
//! `Deadlock` instead. While waiting it sleeps on the key's slot here; every
//! applied command that deletes a lock wakes the slots of the keys it
//! unlocked, and the waiter retries its command. A lock whose TTL has run out
//! is not waited for: the client resolves it (check the primary, roll back
//! or commit).
//!
//! Wake-ups are per slot (a key's hash), not per key: a collision only costs
//! a spurious retry. TiKV: `src/server/lock_manager/waiter_manager.rs`.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use tokio::sync::Notify;

pub struct LockWaits {
    slots: Vec<Arc<Notify>>,
}

impl LockWaits {
    pub fn new(size: usize) -> LockWaits {
        let size = size.next_power_of_two().max(1);
        LockWaits {
            slots: (0..size).map(|_| Arc::new(Notify::new())).collect(),
        }
    }

    /// The hash the deadlock detector identifies a key by.
    pub fn key_hash(key: &[u8]) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        h.finish()
    }

    /// The wake-up source for an encoded key. Take it (and call
    /// `notified()` on it) before running the command that may find the
    /// lock, so a release in between is not missed.
    pub fn slot(&self, key: &[u8]) -> Arc<Notify> {
        let n = self.slots.len() as u64;
        self.slots[(Self::key_hash(key) % n) as usize].clone()
    }

    /// Wakes everyone waiting on these (encoded) keys.
    pub fn wake<'a>(&self, keys: impl IntoIterator<Item = &'a [u8]>) {
        for k in keys {
            self.slot(k).notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_release_wakes_the_waiter_registered_before_it() {
        let waits = LockWaits::new(16);
        let slot = waits.slot(b"k");
        let notified = slot.notified();
        // Released between registration and the await: still delivered.
        waits.wake([b"k".as_slice()]);
        tokio::time::timeout(Duration::from_secs(5), notified)
            .await
            .expect("woken");
    }
}
