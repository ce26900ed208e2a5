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

use super::InfoSchema;
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

    /// A reload at `at` found `new` current (`old`: what was loaded
    /// before); records which tables changed between them.
    pub fn loaded(&self, old: &InfoSchema, new: &InfoSchema, at: TimeStamp) {
        let mut s = self.state.lock();
        if new.version < s.version {
            return;
        }
        if new.version > s.version {
            if s.version == 0 {
                s.known_from = new.version;
            } else {
                s.deltas.push_back((new.version, changed_tables(old, new)));
                while s.deltas.len() > HISTORY {
                    let (v, _) = s.deltas.pop_front().expect("non-empty");
                    s.known_from = v;
                }
            }
            s.version = new.version;
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

/// Tables whose definition differs between two loaded versions, or that
/// exist in only one of them (created, dropped, truncated: a new id).
fn changed_tables(old: &InfoSchema, new: &InfoSchema) -> BTreeSet<TableId> {
    let by_id = |s: &InfoSchema| {
        s.dbs
            .values()
            .flat_map(|d| d.tables.values())
            .map(|t| (t.id, t.clone()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (a, b) = (by_id(old), by_id(new));
    let mut changed: BTreeSet<TableId> = BTreeSet::new();
    for (id, t) in &a {
        if b.get(id) != Some(t) {
            changed.insert(*id);
        }
    }
    changed.extend(b.keys().filter(|id| !a.contains_key(id)));
    changed
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use crate::catalog::DbSchema;
    use crate::catalog::model::{DbInfo, HandleKind, TableInfo};

    fn table(id: i64, comment: &str) -> Arc<TableInfo> {
        Arc::new(TableInfo {
            id,
            db_id: 1,
            name: format!("t{id}"),
            columns: vec![],
            indexes: vec![],
            handle: HandleKind::RowId,
            next_column_id: 1,
            comment: comment.into(),
            create_time: 0,
            columnar_replica: 0,
        })
    }

    fn schema(version: i64, tables: &[Arc<TableInfo>]) -> InfoSchema {
        let tables: BTreeMap<String, Arc<TableInfo>> =
            tables.iter().map(|t| (t.name.clone(), t.clone())).collect();
        let db = DbSchema {
            info: DbInfo {
                id: 1,
                name: "d".into(),
                charset: "utf8mb4".into(),
                collation: "utf8mb4_bin".into(),
            },
            tables,
        };
        InfoSchema {
            version,
            dbs: [("d".to_string(), Arc::new(db))].into(),
            users: vec![],
        }
    }

    fn ts(ms: u64) -> TimeStamp {
        TimeStamp::compose(ms, 0)
    }

    #[test]
    fn a_write_to_a_changed_table_fails_and_others_pass() {
        let v = Validator::new(Duration::from_millis(1000));
        let v1 = schema(1, &[table(10, ""), table(20, "")]);
        v.loaded(&InfoSchema::default(), &v1, ts(100));
        let v2 = schema(2, &[table(10, "altered"), table(20, "")]);
        v.loaded(&v1, &v2, ts(200));
        let writes = |ids: &[i64]| ids.iter().copied().collect::<BTreeSet<_>>();
        assert_eq!(v.check(1, &writes(&[10]), ts(300)), Verdict::Changed);
        assert_eq!(v.check(1, &writes(&[20]), ts(300)), Verdict::Valid);
        assert_eq!(v.check(2, &writes(&[10]), ts(300)), Verdict::Valid);
        assert_eq!(v.check(1, &writes(&[]), ts(300)), Verdict::Valid);
        // Dropped and created tables count as changed.
        let v3 = schema(3, &[table(10, "altered"), table(30, "")]);
        v.loaded(&v2, &v3, ts(250));
        assert_eq!(v.check(2, &writes(&[20]), ts(300)), Verdict::Changed);
        assert_eq!(v.check(2, &writes(&[30]), ts(300)), Verdict::Changed);
        assert_eq!(v.check(2, &writes(&[10]), ts(300)), Verdict::Valid);
    }

    #[test]
    fn a_commit_past_the_lease_of_the_last_reload_is_expired() {
        let v = Validator::new(Duration::from_millis(1000));
        let writes: BTreeSet<i64> = [10].into();
        assert_eq!(v.check(0, &writes, ts(1)), Verdict::Expired);
        let v1 = schema(1, &[table(10, "")]);
        v.loaded(&InfoSchema::default(), &v1, ts(5000));
        assert_eq!(v.valid_until(), ts(6000));
        assert_eq!(v.check(1, &writes, ts(5999)), Verdict::Valid);
        assert_eq!(v.check(1, &writes, ts(6000)), Verdict::Expired);
        // A reload that finds the same version extends the bound.
        v.loaded(&v1, &v1, ts(5500));
        assert_eq!(v.check(1, &writes, ts(6400)), Verdict::Valid);
    }

    #[test]
    fn a_transaction_older_than_the_history_fails() {
        let v = Validator::new(Duration::from_millis(1000));
        let v5 = schema(5, &[table(10, "")]);
        v.loaded(&InfoSchema::default(), &v5, ts(100));
        let writes: BTreeSet<i64> = [99].into();
        assert_eq!(v.check(4, &writes, ts(200)), Verdict::Changed);
        assert_eq!(v.check(5, &writes, ts(200)), Verdict::Valid);
    }
}
