//! Latches: commands that touch the same keys run one after another.
//!
//! A Percolator command reads a snapshot, decides, and writes through Raft;
//! two commands on one key interleaving between those steps would both
//! decide on the same old state (two prewrites both seeing no lock). Each
//! key hashes to one of a fixed number of slots; a command takes the slots
//! of all its keys — sorted, so two commands never wait on each other in a
//! cycle — and holds them until its write is applied. Slots are FIFO
//! (tokio's mutex is fair), so a hot key cannot starve a command.
//!
//! Latches only order commands on *this* store: correctness across a leader
//! change comes from the write carrying the term its snapshot was read in
//! (see `kv::raftstore::RequestContext::term`).
//!
//! TiKV: `src/storage/txn/latch.rs`.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard};

pub struct Latches {
    slots: Vec<Arc<Mutex<()>>>,
}

/// Held slots; dropping it lets the next commands in.
pub struct LatchGuard {
    _held: Vec<OwnedMutexGuard<()>>,
}

impl Latches {
    pub fn new(size: usize) -> Latches {
        let size = size.next_power_of_two().max(1);
        Latches {
            slots: (0..size).map(|_| Arc::new(Mutex::new(()))).collect(),
        }
    }

    /// The slot a key falls in.
    pub fn slot_of(&self, key: &[u8]) -> usize {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        (h.finish() as usize) & (self.slots.len() - 1)
    }

    /// Waits until every slot of `keys` is free, then holds them.
    pub async fn acquire<'a>(&self, keys: impl IntoIterator<Item = &'a [u8]>) -> LatchGuard {
        let mut slots: Vec<usize> = keys.into_iter().map(|k| self.slot_of(k)).collect();
        slots.sort_unstable();
        slots.dedup();
        let mut held = Vec::with_capacity(slots.len());
        for s in slots {
            held.push(self.slots[s].clone().lock_owned().await);
        }
        LatchGuard { _held: held }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn same_key_waits_other_key_does_not() {
        let latches = Arc::new(Latches::new(64));
        let g = latches.acquire([b"a".as_slice(), b"b"]).await;
        // A different key whose slot is free goes through at once.
        let other = (0..1000u32)
            .map(|i| i.to_be_bytes().to_vec())
            .find(|k| {
                let s = latches.slot_of(k);
                s != latches.slot_of(b"a") && s != latches.slot_of(b"b")
            })
            .expect("some key hashes elsewhere");
        drop(latches.acquire([other.as_slice()]).await);
        // The same key waits until the first guard drops.
        let l2 = latches.clone();
        let waiter = tokio::spawn(async move { drop(l2.acquire([b"b".as_slice()]).await) });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(g);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("released")
            .expect("task");
    }

    #[tokio::test]
    async fn overlapping_key_sets_in_opposite_order_do_not_deadlock() {
        let latches = Arc::new(Latches::new(16));
        let mut tasks = Vec::new();
        for i in 0..50u32 {
            let l = latches.clone();
            tasks.push(tokio::spawn(async move {
                let keys: Vec<Vec<u8>> = if i % 2 == 0 {
                    vec![b"x".to_vec(), b"y".to_vec()]
                } else {
                    vec![b"y".to_vec(), b"x".to_vec()]
                };
                let _g = l.acquire(keys.iter().map(|k| k.as_slice())).await;
                tokio::task::yield_now().await;
            }));
        }
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .expect("no deadlock")
                .expect("task");
        }
    }
}
