//! A controllable network between stores: every store's raft transport asks
//! it what to do with each outgoing message.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use kv::transport::{FilterAction, MessageFilter};
use parking_lot::RwLock;
use proto::raft_serverpb::RaftMessage;

#[derive(Default)]
pub struct Network {
    /// Directed links (from, to) whose messages are dropped.
    cut: RwLock<HashSet<(u64, u64)>>,
    /// Directed links whose messages are delayed.
    delayed: RwLock<HashMap<(u64, u64), Duration>>,
}

impl Network {
    /// Drops everything to and from `store`.
    pub fn isolate(&self, store: u64, all: &[u64]) {
        let mut cut = self.cut.write();
        for &other in all.iter().filter(|s| **s != store) {
            cut.insert((store, other));
            cut.insert((other, store));
        }
    }

    /// Splits the stores into groups that cannot reach each other.
    pub fn partition(&self, groups: &[&[u64]]) {
        let mut cut = self.cut.write();
        for (i, a) in groups.iter().enumerate() {
            for (j, b) in groups.iter().enumerate() {
                if i != j {
                    for &x in *a {
                        for &y in *b {
                            cut.insert((x, y));
                        }
                    }
                }
            }
        }
    }

    /// Drops messages from `from` to `to` only.
    pub fn cut_one_way(&self, from: u64, to: u64) {
        self.cut.write().insert((from, to));
    }

    pub fn delay(&self, from: u64, to: u64, by: Duration) {
        self.delayed.write().insert((from, to), by);
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.cut.write().clear();
        self.delayed.write().clear();
    }
}

impl MessageFilter for Network {
    fn action(&self, from: u64, to: u64, _msg: &RaftMessage) -> FilterAction {
        if self.cut.read().contains(&(from, to)) {
            return FilterAction::Drop;
        }
        match self.delayed.read().get(&(from, to)) {
            Some(d) => FilterAction::Delay(*d),
            None => FilterAction::Deliver,
        }
    }
}
