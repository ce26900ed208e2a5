//! # The deadlock detector
//!
//! Pessimistic transactions wait for each other's locks. A kv store that
//! makes transaction `T` wait for a lock held by transaction `L` on key `k`
//! asks the detector first: "`T` waits for `L` on `hash(k)`". The detector
//! keeps the cluster-wide **wait-for graph** (vertices are transactions,
//! named by their `start_ts`; an edge `T -> L` carries the hashes of the keys
//! `T` waits on) and answers:
//!
//! - **no deadlock**: the edge is recorded and `T` may wait;
//! - **deadlock**: `L` already waits, directly or through others, for `T`.
//!   The edge is *not* recorded, and the answer carries the cycle so the kv
//!   store can fail `T`'s lock request with a `Deadlock` error (MySQL 1213)
//!   that names the keys involved.
//!
//! ```text
//!   detect(T1 -> T2, k1)      T1 ──k1──> T2                 recorded
//!   detect(T2 -> T3, k2)      T1 ──k1──> T2 ──k2──> T3      recorded
//!   detect(T3 -> T1, k3)      T3 ──k3──> T1 ? T1 reaches T3: deadlock,
//!                             wait chain T1->T2 (k1), T2->T3 (k2), T3->T1 (k3)
//! ```
//!
//! The search is a depth-first walk from `L` looking for `T`; it visits each
//! transaction once, so it is linear in the size of the graph, which stays
//! small (one edge per waiting lock request).
//!
//! ## Clean up and expiry
//!
//! When a wait ends (the lock was released, or the waiter gave up) the kv
//! store removes the edge with [`DeadlockDetector::clean_up_wait_for`]; when a
//! transaction ends, [`DeadlockDetector::clean_up`] removes every edge out of
//! it. Messages get lost and clients crash, so every edge also **expires**
//! `ttl` after it was last detected (TiKV: 3 s); a waiter that waits longer
//! re-sends its detect request, which refreshes the edge. Expired edges are
//! skipped and dropped by the search, and swept from the whole graph at most
//! once per `ttl`.
//!
//! The behaviour follows TiKV's `DetectTable` in
//! `src/server/lock_manager/deadlock.rs`, with one difference in placement:
//! TiKV runs the detector on the store holding the leader of the first
//! region; duet runs one in PD, which every component already talks to.
//! The graph is soft state: after a PD restart it starts empty and waiters
//! rebuild it with their next detect requests.
//!
//! Like the rest of PD's decisions this is a plain data structure: time is an
//! argument and nothing here touches a socket or a clock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::core::{DeadlockInfo, TxnTs, WaitForEntry};

/// The keys one transaction waits on in another, and when that was last
/// confirmed.
#[derive(Debug, Clone)]
struct Edge {
    key_hashes: Vec<u64>,
    last_detect: Instant,
}

impl Edge {
    fn is_expired(&self, now: Instant, ttl: Duration) -> bool {
        now.saturating_duration_since(self.last_detect) >= ttl
    }
}

/// The wait-for graph between transactions.
#[derive(Debug)]
pub struct DeadlockDetector {
    /// `txn -> wait_for_txn -> edge`.
    wait_for: BTreeMap<TxnTs, BTreeMap<TxnTs, Edge>>,
    ttl: Duration,
    last_sweep: Option<Instant>,
}

impl DeadlockDetector {
    /// An empty graph whose edges expire `ttl` after their last detect.
    pub fn new(ttl: Duration) -> Self {
        DeadlockDetector {
            wait_for: BTreeMap::new(),
            ttl,
            last_sweep: None,
        }
    }

    /// `txn` is about to wait for `wait_for_txn` on `key_hash`. Returns the
    /// cycle if `wait_for_txn` already waits (transitively) for `txn`, and
    /// records nothing; otherwise records (or refreshes) the edge and
    /// returns `None`. A transaction never waits for itself: asking that is
    /// answered `None` and records nothing.
    pub fn detect(
        &mut self,
        txn: TxnTs,
        wait_for_txn: TxnTs,
        key_hash: u64,
        now: Instant,
    ) -> Option<DeadlockInfo> {
        if txn == wait_for_txn {
            return None;
        }
        self.maybe_sweep(now);
        if self.refresh_existing(txn, wait_for_txn, key_hash, now) {
            // The edge is already in the graph, so it closed no cycle then,
            // and edges added since were checked against it.
            return None;
        }
        let requested = WaitForEntry {
            txn,
            wait_for_txn,
            key_hash,
        };
        if let Some(info) = self.find_cycle(requested, now) {
            tracing::info!(
                start_ts = txn,
                wait_for_start_ts = wait_for_txn,
                chain_len = info.wait_chain.len(),
                "deadlock detected"
            );
            return Some(info);
        }
        self.wait_for.entry(txn).or_default().insert(
            wait_for_txn,
            Edge {
                key_hashes: vec![key_hash],
                last_detect: now,
            },
        );
        None
    }

    /// The wait of `txn` for `wait_for_txn` on `key_hash` is over; the edge
    /// goes when no key is left on it.
    pub fn clean_up_wait_for(&mut self, txn: TxnTs, wait_for_txn: TxnTs, key_hash: u64) {
        let Some(out) = self.wait_for.get_mut(&txn) else {
            return;
        };
        if let Some(edge) = out.get_mut(&wait_for_txn) {
            edge.key_hashes.retain(|h| *h != key_hash);
            if edge.key_hashes.is_empty() {
                out.remove(&wait_for_txn);
            }
        }
        if out.is_empty() {
            self.wait_for.remove(&txn);
        }
    }

    /// `txn` ended: it waits for nobody any more.
    pub fn clean_up(&mut self, txn: TxnTs) {
        self.wait_for.remove(&txn);
    }

    /// Drops every edge not detected within the ttl.
    pub fn expire(&mut self, now: Instant) {
        let ttl = self.ttl;
        self.wait_for.retain(|_, out| {
            out.retain(|_, edge| !edge.is_expired(now, ttl));
            !out.is_empty()
        });
        self.last_sweep = Some(now);
    }

    /// Live and not yet swept edges.
    pub fn edge_count(&self) -> usize {
        self.wait_for.values().map(BTreeMap::len).sum()
    }

    fn maybe_sweep(&mut self, now: Instant) {
        let due = self
            .last_sweep
            .is_none_or(|last| now.saturating_duration_since(last) >= self.ttl);
        if due {
            self.expire(now);
        }
    }

    /// Adds `key_hash` to a live `txn -> wait_for_txn` edge and refreshes it;
    /// false if there is no such edge.
    fn refresh_existing(
        &mut self,
        txn: TxnTs,
        wait_for_txn: TxnTs,
        key_hash: u64,
        now: Instant,
    ) -> bool {
        let ttl = self.ttl;
        let Some(edge) = self
            .wait_for
            .get_mut(&txn)
            .and_then(|out| out.get_mut(&wait_for_txn))
            .filter(|edge| !edge.is_expired(now, ttl))
        else {
            return false;
        };
        if !edge.key_hashes.contains(&key_hash) {
            edge.key_hashes.push(key_hash);
        }
        edge.last_detect = now;
        true
    }

    /// Depth-first search from `requested.wait_for_txn` for an edge into
    /// `requested.txn`, dropping expired edges on the way.
    fn find_cycle(&mut self, requested: WaitForEntry, now: Instant) -> Option<DeadlockInfo> {
        let ttl = self.ttl;
        let start = requested.wait_for_txn;
        // Each reached transaction -> the one it was reached from.
        let mut reached_from: BTreeMap<TxnTs, TxnTs> = BTreeMap::new();
        reached_from.insert(start, start);
        let mut stack = vec![start];
        while let Some(vertex) = stack.pop() {
            let Some(out) = self.wait_for.get_mut(&vertex) else {
                continue;
            };
            out.retain(|_, edge| !edge.is_expired(now, ttl));
            if out.is_empty() {
                self.wait_for.remove(&vertex);
                continue;
            }
            if let Some(closing) = out.get(&requested.txn) {
                let closing_hash = closing.key_hashes[0];
                return Some(self.cycle(requested, vertex, closing_hash, &reached_from));
            }
            for &next in out.keys() {
                if let std::collections::btree_map::Entry::Vacant(e) = reached_from.entry(next) {
                    e.insert(vertex);
                    stack.push(next);
                }
            }
        }
        None
    }

    /// The wait chain for a cycle found at `last -> requested.txn`.
    fn cycle(
        &self,
        requested: WaitForEntry,
        last: TxnTs,
        closing_hash: u64,
        reached_from: &BTreeMap<TxnTs, TxnTs>,
    ) -> DeadlockInfo {
        // Walk back from `last` to the start of the search.
        let mut path = vec![last];
        let mut vertex = last;
        while vertex != requested.wait_for_txn {
            vertex = reached_from[&vertex];
            path.push(vertex);
        }
        path.reverse();
        let mut wait_chain: Vec<WaitForEntry> = path
            .windows(2)
            .map(|pair| WaitForEntry {
                txn: pair[0],
                wait_for_txn: pair[1],
                key_hash: self.wait_for[&pair[0]][&pair[1]].key_hashes[0],
            })
            .collect();
        wait_chain.push(WaitForEntry {
            txn: last,
            wait_for_txn: requested.txn,
            key_hash: closing_hash,
        });
        wait_chain.push(requested);
        DeadlockInfo {
            deadlock_key_hash: closing_hash,
            wait_chain,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(3);

    fn entry(txn: TxnTs, wait_for_txn: TxnTs, key_hash: u64) -> WaitForEntry {
        WaitForEntry {
            txn,
            wait_for_txn,
            key_hash,
        }
    }

    #[test]
    fn two_transactions_waiting_for_each_other() {
        let now = Instant::now();
        let mut d = DeadlockDetector::new(TTL);
        assert_eq!(d.detect(10, 20, 1, now), None);
        let info = d.detect(20, 10, 2, now).expect("deadlock");
        assert_eq!(info.deadlock_key_hash, 1);
        assert_eq!(info.wait_chain, vec![entry(10, 20, 1), entry(20, 10, 2)]);
        assert_eq!(d.edge_count(), 1, "the deadlocking edge is not recorded");
    }

    #[test]
    fn three_transaction_cycle_reports_the_whole_chain() {
        let now = Instant::now();
        let mut d = DeadlockDetector::new(TTL);
        assert_eq!(d.detect(1, 2, 12, now), None);
        assert_eq!(d.detect(2, 3, 23, now), None);
        let info = d.detect(3, 1, 31, now).expect("deadlock");
        assert_eq!(info.deadlock_key_hash, 23);
        assert_eq!(
            info.wait_chain,
            vec![entry(1, 2, 12), entry(2, 3, 23), entry(3, 1, 31)]
        );
        // Every entry continues from the previous one and the chain closes.
        for pair in info.wait_chain.windows(2) {
            assert_eq!(pair[0].wait_for_txn, pair[1].txn);
        }
    }

    #[test]
    fn chains_and_diamonds_are_not_deadlocks() {
        let now = Instant::now();
        let mut d = DeadlockDetector::new(TTL);
        // 1 -> 2 -> 3 -> 4 and 1 -> 3: many paths, no cycle.
        for (txn, wait_for) in [(1, 2), (2, 3), (3, 4), (1, 3), (5, 3), (4, 6)] {
            assert_eq!(d.detect(txn, wait_for, txn * 10, now), None);
        }
        assert_eq!(d.edge_count(), 6);
        // Waiting on the same transaction again, on another key, is fine.
        assert_eq!(d.detect(1, 2, 99, now), None);
        assert_eq!(d.edge_count(), 6);
        // But the end of the chain waiting for its start is not.
        let info = d.detect(6, 1, 61, now).expect("deadlock");
        assert_eq!(info.wait_chain.first().unwrap().txn, 1);
        assert_eq!(info.wait_chain.last(), Some(&entry(6, 1, 61)));
        assert_eq!(d.detect(7, 7, 1, now), None, "no self-wait edges");
        assert_eq!(d.edge_count(), 6);
    }

    #[test]
    fn edges_expire_unless_detected_again() {
        let t0 = Instant::now();
        let mut d = DeadlockDetector::new(TTL);
        assert_eq!(d.detect(1, 2, 1, t0), None);
        assert_eq!(d.detect(3, 4, 3, t0), None);
        // 3 -> 4 is refreshed at t0 + 2 s; 1 -> 2 is not.
        assert_eq!(d.detect(3, 4, 3, t0 + Duration::from_secs(2)), None);
        let later = t0 + Duration::from_millis(3500);
        assert_eq!(
            d.detect(2, 1, 2, later),
            None,
            "an expired edge closes no cycle"
        );
        assert!(d.detect(4, 3, 4, later).is_some(), "a refreshed edge does");
        // Sweeping drops what expired: only 2 -> 1 (recorded at `later`) and
        // 3 -> 4 (refreshed at t0 + 2 s) were alive at t0 + 4.5 s.
        d.expire(t0 + Duration::from_millis(4500));
        assert_eq!(d.edge_count(), 2);
        d.expire(t0 + Duration::from_secs(10));
        assert_eq!(d.edge_count(), 0);
    }

    #[test]
    fn expired_edges_are_swept_by_later_detects() {
        let t0 = Instant::now();
        let mut d = DeadlockDetector::new(TTL);
        for txn in 1..=5 {
            assert_eq!(d.detect(txn, txn + 100, txn, t0), None);
        }
        assert_eq!(d.detect(50, 60, 1, t0 + Duration::from_secs(4)), None);
        assert_eq!(d.edge_count(), 1);
    }

    #[test]
    fn clean_up_removes_edges() {
        let now = Instant::now();
        let mut d = DeadlockDetector::new(TTL);
        assert_eq!(d.detect(1, 2, 7, now), None);
        assert_eq!(d.detect(1, 2, 8, now), None);
        assert_eq!(d.detect(1, 3, 9, now), None);
        // One of two keys on 1 -> 2 released: the edge stays.
        d.clean_up_wait_for(1, 2, 7);
        assert!(d.detect(2, 1, 5, now).is_some());
        d.clean_up_wait_for(1, 2, 8);
        assert_eq!(d.edge_count(), 1);
        assert_eq!(d.detect(2, 1, 5, now), None, "1 no longer waits for 2");
        // Cleaning up unknown edges is harmless.
        d.clean_up_wait_for(42, 43, 1);
        d.clean_up_wait_for(1, 43, 1);
        // Transaction 1 ends: every edge out of it goes.
        d.clean_up(1);
        assert_eq!(d.edge_count(), 1, "only 2 -> 1 is left");
        assert!(d.detect(1, 2, 9, now).is_some(), "2 -> 1 is still there");
    }
}
