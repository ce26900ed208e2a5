//! # What a table access costs on each engine
//!
//! The engine choice ([`crate::planner::engine::choose`]) compares, per table
//! access, the cost of the row store's access path with a scan of the
//! columnar replica. Costs are in units of "one row read from the row
//! store" and come from the table's estimate ([`crate::catalog::stats`]): its rows
//! (`ANALYZE TABLE`, else region heartbeats, else TiDB's pseudo 10000),
//! its regions, and per-column distinct counts and bounds.
//!
//! | access                | rows read                                        | cost per row |
//! |-----------------------|--------------------------------------------------|--------------|
//! | row: full scan        | all, plus [`ROW_REGION`] per region                | [`ROW_SCAN`] |
//! | row: handle range     | the range's share of `[min, max]` of the key, plus one [`ROW_REGION`] | [`ROW_SCAN`] |
//! | row: index range      | rows × Π points/NDV (equalities) × range share, plus one [`ROW_REGION`] | [`INDEX_LOOKUP`] |
//! | columnar: full scan   | all, plus [`COLUMNAR_REGION`] per region (a read barrier on the leader, then the learner) | [`COLUMNAR_ROW`] |
//!
//! Without statistics an equality keeps 1/1000 of the rows and a range
//! 1/3 (TiDB's pseudo selectivities). The per-row constants are rounded
//! from this machine's measurements (docs/performance.md: a TPC-H Q6 scan
//! is ~20× cheaper on the columnar replica; an index lookup reads an entry
//! and then the row).

use crate::catalog::model::{HandleKind, TableInfo};
pub use crate::catalog::stats::PSEUDO_ROWS;
use crate::catalog::stats::TableEstimate;
use crate::executor::scan::{Access, Narrowing};

/// Share of rows an equality keeps without statistics.
pub const PSEUDO_EQUAL: f64 = 1.0 / 1000.0;
/// Share of rows a range keeps without statistics.
pub const PSEUDO_RANGE: f64 = 1.0 / 3.0;
/// Share of rows a filter keeps when nothing better is known (TiDB's
/// selection factor).
pub const SELECTION_FACTOR: f64 = 0.8;

/// A row read from the row store by a table scan (MVCC scan, row decode).
pub const ROW_SCAN: f64 = 1.0;
/// One region of a row store read (a coprocessor call).
pub const ROW_REGION: f64 = 10.0;
/// A row found through an index: the entry, then the row by key.
pub const INDEX_LOOKUP: f64 = 3.0;
/// A row of a columnar scan.
pub const COLUMNAR_ROW: f64 = 0.05;
/// One region of a columnar scan (read barrier, read index, a Flight call).
pub const COLUMNAR_REGION: f64 = 20.0;

/// The estimate of one access.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Costs {
    /// Rows the row store's access path reads.
    pub rows: f64,
    pub row: f64,
    pub columnar: f64,
}

/// The share of `[min, max]` that `[lo, hi]` covers.
fn range_share(
    lo: Option<f64>,
    hi: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
) -> Option<f64> {
    let (min, max) = (min?, max?);
    if max < min {
        return None;
    }
    let lo = lo.unwrap_or(min).max(min);
    let hi = hi.unwrap_or(max).min(max);
    if hi < lo {
        return Some(0.0);
    }
    // Discrete values: an equality over integers covers one of them.
    Some(((hi - lo + 1.0) / (max - min + 1.0)).min(1.0))
}

/// The costs of reading `access` of `t` from each engine.
pub fn estimate(
    t: &TableInfo,
    est: &TableEstimate,
    access: &Access,
    handle_range: Option<(i64, i64)>,
) -> Costs {
    let total = est.rows();
    let rows = match access {
        Access::Table { range: None, .. } => total,
        Access::Table { .. } => {
            let (lo, hi) = handle_range.unwrap_or((i64::MIN, i64::MAX));
            let stats = match t.handle {
                HandleKind::IntPk(pk) => est.column(t.columns[pk].id),
                _ => None,
            };
            let bounded = |v: i64| (v != i64::MIN && v != i64::MAX).then_some(v as f64);
            match stats.and_then(|s| range_share(bounded(lo), bounded(hi), s.min, s.max)) {
                Some(share) => total * share,
                None if lo > hi => 0.0,
                None => match (bounded(lo), bounded(hi)) {
                    (Some(l), Some(h)) => (h - l + 1.0).min(total),
                    _ => total * PSEUDO_RANGE,
                },
            }
        }
        Access::Index { narrowed, .. } => {
            let mut share = 1.0;
            for n in narrowed {
                share *= match n {
                    Narrowing::Points { column, points } => {
                        match est.column(t.columns[*column].id) {
                            Some(s) if s.ndv > 0 => (*points as f64 / s.ndv as f64).min(1.0),
                            Some(_) => 0.0,
                            None => (*points as f64 * PSEUDO_EQUAL).min(1.0),
                        }
                    }
                    Narrowing::Range { column, lo, hi } => est
                        .column(t.columns[*column].id)
                        .and_then(|s| range_share(*lo, *hi, s.min, s.max))
                        .unwrap_or(PSEUDO_RANGE),
                };
            }
            total * share
        }
    };
    let regions = est.regions.max(1) as f64;
    let (per_row, calls) = match access {
        Access::Index { .. } => (INDEX_LOOKUP, 1.0),
        Access::Table { range: None, .. } => (ROW_SCAN, regions),
        Access::Table { .. } => (ROW_SCAN, 1.0),
    };
    Costs {
        rows,
        row: rows * per_row + calls * ROW_REGION,
        columnar: total * COLUMNAR_ROW + regions * COLUMNAR_REGION,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_shares_follow_the_bounds() {
        assert_eq!(
            range_share(Some(1.0), Some(10.0), Some(1.0), Some(100.0)),
            Some(0.1)
        );
        assert_eq!(range_share(None, None, Some(1.0), Some(100.0)), Some(1.0));
        assert_eq!(
            range_share(Some(200.0), None, Some(1.0), Some(100.0)),
            Some(0.0)
        );
        assert_eq!(range_share(Some(1.0), None, None, None), None);
    }
}
