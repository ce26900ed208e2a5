//! # Is a transaction's schema still good at its commit ts?
//!
//! A transaction plans every statement against the schema version it
//! began with. A DDL that changes one of the tables it writes in the
//! meantime (an index added, the table truncated) would make its writes
//! wrong under the new schema: an index entry missing, a row written into
//! a table id that no longer exists. So the commit checks, at its commit
//! ts, that none of the tables it writes changed since it began (TiDB's
//! `domain/schema_validator.go`):
//!
//! ```text
//!  reload at ts r finds version v        (no DDL committed below r is missing)
//!  a commit at c is judged by what this server knew at r, good while c < r + lease
//!    tables written changed in (start version, v]  -> 8028, nothing written
//!    c >= r + lease: reload first; cannot         -> 8027
//! ```
//!
//! The DDL side keeps its part of the bargain: it waits two leases
//! between schema states (`crate::ddl`), so a transaction judged by a
//! version one state old commits before the next state's work (a
//! backfill) reads.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use txn::types::TimeStamp;

use super::model::TableId;

/// Versions of history kept; a transaction older than that fails its
/// commit check if it wrote anything.
const HISTORY: usize = 1024;

/// What a commit check concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// None of the tables changed, as of the commit ts.
    Valid,
    /// One of them changed since the transaction began (8028).
    Changed,
    /// This server's knowledge is too old for the commit ts: reload, then
    /// ask again (8027 if the reload fails).
    Expired,
}

pub struct Validator {
    lease: Duration,
    state: Mutex<State>,
}

struct State {
    version: i64,
    /// The ts of the reload that last confirmed `version` (zero: never).
    confirmed_at: TimeStamp,
    confirmed_when: Option<Instant>,
    /// `(version, tables changed on the way to it)`, oldest first.
    deltas: VecDeque<(i64, BTreeSet<TableId>)>,
    /// The history is complete from this version on.
    known_from: i64,
}

impl Validator {
    pub fn new(lease: Duration) -> Validator {
        Validator {
            lease,
            state: Mutex::new(State {
                version: 0,
                confirmed_at: TimeStamp::zero(),
                confirmed_when: None,
                deltas: VecDeque::new(),
                known_from: i64::MAX,
            }),
        }
    }

    /// A reload at `at` found `version` current; `changed`: the tables
    /// that differ from the version loaded before (asked only when the
    /// version moved).
    pub fn loaded(&self, version: i64, changed: impl FnOnce() -> BTreeSet<TableId>, at: TimeStamp) {
        let mut s = self.state.lock();
        if version < s.version {
            return;
        }
        if version > s.version {
            if s.version == 0 {
                s.known_from = version;
            } else {
                s.deltas.push_back((version, changed()));
                while s.deltas.len() > HISTORY {
                    let (v, _) = s.deltas.pop_front().expect("non-empty");
                    s.known_from = v;
                }
            }
            s.version = version;
        }
        if at > s.confirmed_at {
            s.confirmed_at = at;
            s.confirmed_when = Some(Instant::now());
        }
    }

    /// Whether a transaction that began at schema version `start` and
    /// writes `tables` may commit at `commit_ts`.
    pub fn check(&self, start: i64, tables: &BTreeSet<TableId>, commit_ts: TimeStamp) -> Verdict {
        let s = self.state.lock();
        if commit_ts >= self.bound(&s) {
            return Verdict::Expired;
        }
        if start >= s.version || tables.is_empty() {
            return Verdict::Valid;
        }
        if start < s.known_from {
            return Verdict::Changed;
        }
        let changed = s
            .deltas
            .iter()
            .filter(|(v, _)| *v > start)
            .any(|(_, ids)| !ids.is_disjoint(tables));
        if changed {
            Verdict::Changed
        } else {
            Verdict::Valid
        }
    }

    /// The ts below which a commit of a transaction the current version
    /// knows is good without reloading (zero: reload first).
    pub fn valid_until(&self) -> TimeStamp {
        self.bound(&self.state.lock())
    }

    fn bound(&self, s: &State) -> TimeStamp {
        if s.confirmed_at.is_zero() {
            return TimeStamp::zero();
        }
        TimeStamp::compose(s.confirmed_at.physical() + self.lease.as_millis() as u64, 0)
    }

    /// Whether the loaded version was confirmed within the last lease (by
    /// this server's clock): statements may plan against it.
    pub fn fresh(&self) -> bool {
        self.state
            .lock()
            .confirmed_when
            .is_some_and(|t| t.elapsed() < self.lease)
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ms: u64) -> TimeStamp {
        TimeStamp::compose(ms, 0)
    }

    fn ids(v: &[i64]) -> BTreeSet<TableId> {
        v.iter().copied().collect()
    }

    #[test]
    fn a_write_to_a_changed_table_fails_and_others_pass() {
        let v = Validator::new(Duration::from_millis(1000));
        v.loaded(1, || unreachable!("the first load has no history"), ts(100));
        v.loaded(2, || ids(&[10]), ts(200));
        assert_eq!(v.check(1, &ids(&[10]), ts(300)), Verdict::Changed);
        assert_eq!(v.check(1, &ids(&[20]), ts(300)), Verdict::Valid);
        assert_eq!(v.check(2, &ids(&[10]), ts(300)), Verdict::Valid);
        assert_eq!(v.check(1, &ids(&[]), ts(300)), Verdict::Valid);
        v.loaded(3, || ids(&[20, 30]), ts(250));
        assert_eq!(v.check(2, &ids(&[20]), ts(300)), Verdict::Changed);
        assert_eq!(v.check(1, &ids(&[30]), ts(300)), Verdict::Changed);
        assert_eq!(v.check(2, &ids(&[10]), ts(300)), Verdict::Valid);
        // An older version found by a slower reload changes nothing.
        v.loaded(2, || unreachable!(), ts(260));
        assert_eq!(v.check(3, &ids(&[10, 20, 30]), ts(300)), Verdict::Valid);
    }

    #[test]
    fn a_commit_past_the_lease_of_the_last_reload_is_expired() {
        let v = Validator::new(Duration::from_millis(1000));
        let writes = ids(&[10]);
        assert_eq!(v.check(0, &writes, ts(1)), Verdict::Expired);
        v.loaded(1, BTreeSet::new, ts(5000));
        assert_eq!(v.valid_until(), ts(6000));
        assert_eq!(v.check(1, &writes, ts(5999)), Verdict::Valid);
        assert_eq!(v.check(1, &writes, ts(6000)), Verdict::Expired);
        // A reload that finds the same version extends the bound.
        v.loaded(1, || unreachable!(), ts(5500));
        assert_eq!(v.check(1, &writes, ts(6400)), Verdict::Valid);
    }

    #[test]
    fn a_transaction_older_than_the_history_fails() {
        let v = Validator::new(Duration::from_millis(1000));
        v.loaded(5, BTreeSet::new, ts(100));
        assert_eq!(v.check(4, &ids(&[99]), ts(200)), Verdict::Changed);
        assert_eq!(v.check(5, &ids(&[99]), ts(200)), Verdict::Valid);
    }
}
