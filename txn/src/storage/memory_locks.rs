//! In-memory locks for one-phase commits.
//!
//! A 1PC prewrite writes commit records directly, with a commit ts the
//! store takes from PD — no lock ever reaches the lock CF. Without a lock, a
//! reader could take its snapshot after the commit ts was chosen but before
//! the write is applied, and then the write appears below its read ts: a
//! non-repeatable read. So the 1PC command holds a *memory lock* on its keys
//! from before it asks PD for the commit ts until its write is applied, and
//! every reader first checks the memory locks of what it reads:
//!
//! ```text
//!  reader:  ts from PD ── check memory locks ── snapshot
//!  1PC:           lock keys in memory ── commit_ts from PD ── write applied ── unlock
//! ```
//!
//! Either the reader checks before the 1PC locked — then its ts was issued
//! before the commit ts, which is fetched later, so the write is invisible to
//! it anyway — or it finds the memory lock and waits for the unlock (a raft
//! round trip), after which its snapshot holds the write. TiKV's concurrency
//! manager solves the same problem with `max_ts` instead, saving the PD
//! round trip; duet takes the simpler route (see docs/transactions.md).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::types::TimeStamp;

/// An encoded key's memory lock: the transaction's start ts and what wakes
/// its readers.
type MemoryLock = (TimeStamp, Arc<Notify>);

#[derive(Default)]
pub struct MemoryLocks {
    inner: Mutex<BTreeMap<Vec<u8>, MemoryLock>>,
}

/// Keys locked in memory; dropping it unlocks them and wakes readers.
pub struct MemoryLockGuard {
    locks: Arc<MemoryLocks>,
    keys: Vec<Vec<u8>>,
    notify: Arc<Notify>,
}

impl Drop for MemoryLockGuard {
    fn drop(&mut self) {
        let mut map = self.locks.inner.lock();
        for k in &self.keys {
            map.remove(k);
        }
        drop(map);
        self.notify.notify_waiters();
    }
}

impl MemoryLocks {
    /// Locks encoded `keys` for a transaction. The caller holds the keys'
    /// latches, so no other command holds a memory lock on them.
    pub fn lock(self: &Arc<Self>, start_ts: TimeStamp, keys: Vec<Vec<u8>>) -> MemoryLockGuard {
        let notify = Arc::new(Notify::new());
        let mut map = self.inner.lock();
        for k in &keys {
            map.insert(k.clone(), (start_ts, notify.clone()));
        }
        MemoryLockGuard {
            locks: self.clone(),
            keys,
            notify,
        }
    }

    /// Waits until no memory lock with `start_ts <= read_ts` covers one of
    /// the encoded `keys` or lies in the encoded range `[start, end)` (empty
    /// end: unbounded). Gives up after `timeout` and returns false.
    pub async fn wait_readable(
        &self,
        read_ts: TimeStamp,
        keys: &[Vec<u8>],
        range: Option<(&[u8], &[u8])>,
        timeout: Duration,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = {
                let map = self.inner.lock();
                if map.is_empty() {
                    return true;
                }
                let blocking = |(ts, _): &MemoryLock| *ts <= read_ts;
                let mut found = keys
                    .iter()
                    .filter_map(|k| map.get(k))
                    .find(|v| blocking(v))
                    .map(|(_, n)| n.clone());
                if found.is_none()
                    && let Some((start, end)) = range
                {
                    let upper = if end.is_empty() {
                        std::ops::Bound::Unbounded
                    } else {
                        std::ops::Bound::Excluded(end.to_vec())
                    };
                    found = map
                        .range((std::ops::Bound::Included(start.to_vec()), upper))
                        .map(|(_, v)| v)
                        .find(|v| blocking(v))
                        .map(|(_, n)| n.clone());
                }
                match found {
                    None => return true,
                    Some(n) => n,
                }
            };
            let wait = notified.notified();
            // The guard may have dropped between the map check and here.
            if !self.still_locked(&notified) {
                continue;
            }
            if tokio::time::timeout_at(deadline, wait).await.is_err() {
                return false;
            }
        }
    }

    fn still_locked(&self, notify: &Arc<Notify>) -> bool {
        self.inner
            .lock()
            .values()
            .any(|(_, n)| Arc::ptr_eq(n, notify))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readers_wait_for_older_memory_locks_only() {
        let locks = Arc::new(MemoryLocks::default());
        let guard = locks.lock(TimeStamp::new(10), vec![b"k".to_vec()]);
        let short = Duration::from_millis(20);
        // A read below the lock's start ts is not blocked.
        assert!(
            locks
                .wait_readable(TimeStamp::new(9), &[b"k".to_vec()], None, short)
                .await
        );
        // Another key, and a range that misses it, are not blocked.
        assert!(
            locks
                .wait_readable(TimeStamp::new(20), &[b"j".to_vec()], None, short)
                .await
        );
        assert!(
            locks
                .wait_readable(TimeStamp::new(20), &[], Some((b"l", b"")), short)
                .await
        );
        // A point read and a range over it wait, and time out while held.
        assert!(
            !locks
                .wait_readable(TimeStamp::new(20), &[b"k".to_vec()], None, short)
                .await
        );
        assert!(
            !locks
                .wait_readable(TimeStamp::new(20), &[], Some((b"a", b"z")), short)
                .await
        );
        let l2 = locks.clone();
        let reader = tokio::spawn(async move {
            l2.wait_readable(
                TimeStamp::new(20),
                &[],
                Some((b"a", b"")),
                Duration::from_secs(10),
            )
            .await
        });
        tokio::task::yield_now().await;
        drop(guard);
        assert!(reader.await.expect("task"));
    }
}
