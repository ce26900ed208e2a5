//! Injected faults for tests: answers a store computes and then "loses".
//!
//! Percolator's hard cases are the ones where a command *was executed* but
//! the client never heard back — a commit of the primary whose answer is
//! lost must end as `Undetermined`, a one-phase commit retried after a lost
//! answer must report the commit ts it really got. A [`Faults`] handed to
//! the txn service makes it drop the response of chosen RPCs after running
//! them; the client sees a transport error, exactly as if the connection
//! broke on the way back. Production stores pass none.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;

/// Which RPCs (by method name, e.g. `"kv_commit"`) lose their answers, and
/// which hold them back.
#[derive(Default)]
pub struct Faults {
    lose: Mutex<HashMap<&'static str, u32>>,
    /// Per method: the held answer, and the prefix of the request's first
    /// key it waits for.
    holds: Mutex<HashMap<&'static str, KeyedHold>>,
}

/// A hold waiting for a request whose first key starts with the prefix.
type KeyedHold = (Vec<u8>, Arc<Held>);

/// An answer held back after the store ran the command: the test learns
/// when it is held ([`Held::reached`]) and lets it go ([`Held::release`]).
pub struct Held {
    reached: watch::Sender<bool>,
    released: watch::Sender<bool>,
}

impl Held {
    /// Returns once the command ran and its answer is held.
    pub async fn reached(&self) {
        let mut rx = self.reached.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    pub fn release(&self) {
        self.released.send_replace(true);
    }
}

impl Faults {
    /// The next answer of `method` is held after the command ran, until
    /// released.
    pub fn hold_next(&self, method: &'static str) -> Arc<Held> {
        self.hold_next_on(method, b"")
    }

    /// The next answer of `method` whose request's first key starts with
    /// `prefix` (e.g. `b"t"`: table data, not the catalog's background
    /// writes) is held after the command ran, until released.
    pub fn hold_next_on(&self, method: &'static str, prefix: &[u8]) -> Arc<Held> {
        let held = Arc::new(Held {
            reached: watch::channel(false).0,
            released: watch::channel(false).0,
        });
        self.holds
            .lock()
            .insert(method, (prefix.to_vec(), held.clone()));
        held
    }

    /// Holds this answer of `method` (whose request's first key is `key`)
    /// if a test asked to.
    pub async fn hold(&self, method: &'static str, key: &[u8]) {
        let held = {
            let mut holds = self.holds.lock();
            match holds.get(method) {
                Some((prefix, _)) if key.starts_with(prefix) => {
                    holds.remove(method).map(|(_, h)| h)
                }
                _ => None,
            }
        };
        let Some(held) = held else {
            return;
        };
        let mut released = held.released.subscribe();
        held.reached.send_replace(true);
        let _ = released.wait_for(|r| *r).await;
    }

    /// The next `n` answers of `method` are lost (`u32::MAX`: all of them).
    pub fn lose_responses(&self, method: &'static str, n: u32) {
        self.lose.lock().insert(method, n);
    }

    pub fn clear(&self) {
        self.lose.lock().clear();
    }

    /// Whether this answer of `method` is to be lost (and counts it).
    pub fn take(&self, method: &'static str) -> bool {
        let mut lose = self.lose.lock();
        match lose.get_mut(method) {
            Some(0) | None => false,
            Some(n) => {
                if *n != u32::MAX {
                    *n -= 1;
                }
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_down_and_clears() {
        let f = Faults::default();
        f.lose_responses("kv_commit", 2);
        assert!(f.take("kv_commit"));
        assert!(!f.take("kv_prewrite"));
        assert!(f.take("kv_commit"));
        assert!(!f.take("kv_commit"));
        f.lose_responses("kv_commit", u32::MAX);
        assert!(f.take("kv_commit") && f.take("kv_commit"));
        f.clear();
        assert!(!f.take("kv_commit"));
    }
}
