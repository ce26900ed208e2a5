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

use parking_lot::Mutex;

/// Which RPCs (by method name, e.g. `"kv_commit"`) lose their answers.
#[derive(Default)]
pub struct Faults {
    lose: Mutex<HashMap<&'static str, u32>>,
}

impl Faults {
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
