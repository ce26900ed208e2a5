//! # The delta layer: row versions as they arrive
//!
//! Every committed version of a table row the learner applied, per table,
//! ordered by row key and then newest first — the shape an MVCC read
//! wants:
//!
//! ```text
//!   table 42: (t42_r1, ts 120) -> Put(row)      a read at ts 130 sees this
//!             (t42_r1, ts 100) -> Put(row)      a read at ts 110 sees this
//!             (t42_r2, ts 125) -> Delete        at ts >= 125 row 2 is gone
//!             (t42_r2, ts 90)  -> Put(row)
//! ```
//!
//! Keys are raw row keys (`t{id}_r{handle}`), so a region's range (decoded
//! from its encoded bounds) selects its rows directly. Inserting a version
//! that is already there is a no-op, which makes rebuilding a range from
//! the engine idempotent. Values are row-format bytes (`codec::row`),
//! decoded with the reader's column list, so `ADD COLUMN` / `DROP COLUMN`
//! need nothing here.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use codec::table::TableId;

/// One version of a row: its value, or None for a delete.
pub type Version = Option<Arc<[u8]>>;

/// A row version with its raw row key and commit ts.
pub type RowVersion = (Vec<u8>, u64, Version);

/// One table's versions by (row key, newest first).
type TableVersions = BTreeMap<(Vec<u8>, Reverse<u64>), Version>;

type KeyBound = Bound<(Vec<u8>, Reverse<u64>)>;

#[derive(Debug, Default)]
pub struct Delta {
    tables: HashMap<TableId, TableVersions>,
}

impl Delta {
    /// Adds a version of the row at raw key `key` (a row key of `table`).
    pub fn insert(&mut self, table: TableId, key: Vec<u8>, commit_ts: u64, version: Version) {
        self.tables
            .entry(table)
            .or_default()
            .insert((key, Reverse(commit_ts)), version);
    }

    /// Drops every version of rows with raw keys in `[start, end)` (empty
    /// end: unbounded).
    pub fn clear_range(&mut self, start: &[u8], end: &[u8]) {
        for rows in self.tables.values_mut() {
            let doomed: Vec<_> = rows
                .range(range_bounds(start, end))
                .map(|(k, _)| k.clone())
                .collect();
            for k in doomed {
                rows.remove(&k);
            }
        }
        self.tables.retain(|_, rows| !rows.is_empty());
    }

    /// For each key of `table` in `[start, end)`, its newest version
    /// committed at or before `ts` (deletes included: a delete here hides
    /// older versions in the stable layer).
    pub fn newest(&self, table: TableId, start: &[u8], end: &[u8], ts: u64) -> Vec<RowVersion> {
        let Some(rows) = self.tables.get(&table) else {
            return Vec::new();
        };
        let mut out: Vec<RowVersion> = Vec::new();
        for ((key, Reverse(commit_ts)), version) in rows.range(range_bounds(start, end)) {
            if *commit_ts > ts || out.last().is_some_and(|(k, ..)| k == key) {
                continue;
            }
            out.push((key.clone(), *commit_ts, version.clone()));
        }
        out
    }

    /// The rows of `table` in `[start, end)` visible at `ts`: for each key
    /// the newest version committed at or before `ts`, unless a delete.
    pub fn visible(
        &self,
        table: TableId,
        start: &[u8],
        end: &[u8],
        ts: u64,
    ) -> Vec<(Vec<u8>, Arc<[u8]>)> {
        self.newest(table, start, end, ts)
            .into_iter()
            .filter_map(|(k, _, v)| v.map(|v| (k, v)))
            .collect()
    }

    /// Every version, per table, sorted by key and then newest first.
    pub fn all(&self) -> Vec<(TableId, Vec<RowVersion>)> {
        self.tables
            .iter()
            .map(|(t, rows)| {
                let versions = rows
                    .iter()
                    .map(|((k, Reverse(ts)), v)| (k.clone(), *ts, v.clone()))
                    .collect();
                (*t, versions)
            })
            .collect()
    }

    /// Removes one version (moved to the stable layer).
    pub fn remove(&mut self, table: TableId, key: &[u8], ts: u64) {
        if let Some(rows) = self.tables.get_mut(&table) {
            rows.remove(&(key.to_vec(), Reverse(ts)));
            if rows.is_empty() {
                self.tables.remove(&table);
            }
        }
    }

    /// Versions held, over all tables.
    pub fn len(&self) -> usize {
        self.tables.values().map(|r| r.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

/// Map bounds for raw keys `[start, end)`: the smallest entry of `start`
/// has the newest ts (`Reverse(u64::MAX)`), and every entry of `end` is
/// excluded.
fn range_bounds(start: &[u8], end: &[u8]) -> (KeyBound, KeyBound) {
    let lo = Bound::Included((start.to_vec(), Reverse(u64::MAX)));
    let hi = if end.is_empty() {
        Bound::Unbounded
    } else {
        Bound::Excluded((end.to_vec(), Reverse(u64::MAX)))
    };
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(v: &str) -> Version {
        Some(Arc::from(v.as_bytes()))
    }

    fn seen(d: &Delta, ts: u64) -> Vec<(String, String)> {
        d.visible(1, b"", b"", ts)
            .into_iter()
            .map(|(k, v)| {
                (
                    String::from_utf8(k).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn reads_see_the_newest_version_at_their_ts() {
        let mut d = Delta::default();
        d.insert(1, b"a".to_vec(), 100, put("a1"));
        d.insert(1, b"a".to_vec(), 120, put("a2"));
        d.insert(1, b"b".to_vec(), 90, put("b1"));
        d.insert(1, b"b".to_vec(), 125, None);
        d.insert(1, b"c".to_vec(), 200, put("c1"));
        // A duplicate insert (a range rebuilt) changes nothing.
        d.insert(1, b"a".to_vec(), 100, put("a1"));
        assert_eq!(d.len(), 5);
        let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(seen(&d, 50), vec![]);
        assert_eq!(seen(&d, 100), vec![kv("a", "a1"), kv("b", "b1")]);
        assert_eq!(seen(&d, 124), vec![kv("a", "a2"), kv("b", "b1")]);
        assert_eq!(seen(&d, 125), vec![kv("a", "a2")]);
        assert_eq!(seen(&d, u64::MAX), vec![kv("a", "a2"), kv("c", "c1")]);
        assert!(d.visible(2, b"", b"", u64::MAX).is_empty());
        // `newest` keeps the delete, so it can hide older stable versions.
        let newest: Vec<(Vec<u8>, u64, bool)> = d
            .newest(1, b"", b"", 130)
            .into_iter()
            .map(|(k, ts, v)| (k, ts, v.is_some()))
            .collect();
        assert_eq!(
            newest,
            vec![(b"a".to_vec(), 120, true), (b"b".to_vec(), 125, false)]
        );
        let all = d.all();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].1.len(), 5);
        assert_eq!(all[0].1[0].1, 120, "newest first within a key");
        for (k, ts, _) in all[0].1.clone() {
            d.remove(1, &k, ts);
        }
        assert!(d.is_empty());
    }

    #[test]
    fn ranges_bound_reads_and_clears() {
        let mut d = Delta::default();
        for k in ["a", "b", "c", "d"] {
            d.insert(1, k.as_bytes().to_vec(), 10, put(k));
            d.insert(1, k.as_bytes().to_vec(), 20, put(k));
        }
        let keys = |d: &Delta, s: &[u8], e: &[u8]| -> Vec<Vec<u8>> {
            d.visible(1, s, e, 30).into_iter().map(|(k, _)| k).collect()
        };
        assert_eq!(keys(&d, b"b", b"d"), vec![b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(keys(&d, b"c", b""), vec![b"c".to_vec(), b"d".to_vec()]);
        d.clear_range(b"b", b"c");
        assert_eq!(
            keys(&d, b"", b""),
            vec![b"a".to_vec(), b"c".to_vec(), b"d".to_vec()]
        );
        d.clear_range(b"", b"");
        assert!(d.is_empty());
    }
}
