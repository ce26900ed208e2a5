//! # The share of a table's rows that pushed filters keep
//!
//! A scan's estimated rows ([`ScanExec`](crate::executor::scan::ScanExec)'s
//! statistics, EXPLAIN's `estRows`) are the table's rows times the share
//! its filters keep. DataFusion orders joins and decides whether a hash
//! join's build side is small enough to collect once from these figures,
//! so a date range that keeps a sixth of `orders` has to be estimated as a
//! sixth, not as TiDB's flat selection factor.
//!
//! From `ANALYZE TABLE`'s per-column statistics (distinct values, NULLs,
//! bounds), as TiDB does without histograms:
//!
//! | filter                                  | share kept                               |
//! |-----------------------------------------|------------------------------------------|
//! | `c = v`, `c IN (v1, .., vn)`            | n / NDV(c)                               |
//! | `c > v`, `c BETWEEN a AND b`, ...        | the range's part of `[min(c), max(c)]` (all of one column's ranges intersected first) |
//! | `c <> v`, `c NOT IN (..)`               | 1 − n / NDV(c)                           |
//! | `c IS NULL` / `IS NOT NULL`             | NULLs / rows, and the rest               |
//! | `a OR b`                                | 1 − (1 − a)(1 − b)                       |
//! | `c LIKE 'p'` / `NOT LIKE`               | [`PATTERN_MATCH`] (p with wildcards; else as `=`), and the rest |
//! | anything else                           | [`SELECTION_FACTOR`]                      |
//!
//! Without statistics for the column an equality keeps [`PSEUDO_EQUAL`]
//! and a range [`PSEUDO_RANGE`]. Conjuncts on different columns are taken
//! as independent (their shares multiply).

use std::collections::BTreeMap;

use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};
use datafusion::scalar::ScalarValue;

use crate::catalog::model::{ColumnInfo, SqlType, TableInfo};
use crate::catalog::stats::{ColumnStats, TableEstimate};
use crate::executor::convert::numeric_literal;
use crate::planner::cost::{PSEUDO_EQUAL, PSEUDO_RANGE, SELECTION_FACTOR};

/// The share of rows `c LIKE 'pattern'` keeps when the pattern has
/// wildcards: a word searched for in names or comments matches few rows
/// (TPC-H's `%green%` 5 %, `forest%` 1 %, `PROMO%` 17 %), far from TiDB's
/// flat 0.8, which sends such filtered tables to the probe side of joins.
pub const PATTERN_MATCH: f64 = 0.1;

/// The share of `t`'s rows that all of `filters` (conjuncts) keep.
pub fn of_filters(t: &TableInfo, est: &TableEstimate, filters: &[Expr]) -> f64 {
    let rows = est.rows();
    let mut conjuncts = Vec::new();
    for f in filters {
        split_and(f, &mut conjuncts);
    }
    conjunction(t, est, rows, &conjuncts).clamp(0.0, 1.0)
}

fn split_and<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => {
            split_and(left, out);
            split_and(right, out);
        }
        e => out.push(e),
    }
}

/// Bounds on one column from the conjuncts that range over it.
#[derive(Debug, Default)]
struct Range {
    lo: Option<(f64, bool)>,
    hi: Option<(f64, bool)>,
}

impl Range {
    fn lower(&mut self, v: f64, inclusive: bool) {
        if self.lo.is_none_or(|(l, _)| v > l) {
            self.lo = Some((v, inclusive));
        } else if let Some((l, i)) = self.lo
            && l == v
        {
            self.lo = Some((l, i && inclusive));
        }
    }

    fn upper(&mut self, v: f64, inclusive: bool) {
        if self.hi.is_none_or(|(h, _)| v < h) {
            self.hi = Some((v, inclusive));
        } else if let Some((h, i)) = self.hi
            && h == v
        {
            self.hi = Some((h, i && inclusive));
        }
    }
}

/// The share a conjunction keeps: one range per column, the rest one by
/// one.
fn conjunction(t: &TableInfo, est: &TableEstimate, rows: f64, conjuncts: &[&Expr]) -> f64 {
    let mut ranges: BTreeMap<usize, Range> = BTreeMap::new();
    let mut share = 1.0;
    for c in conjuncts {
        match as_range(t, c) {
            Some((col, op, v)) => {
                let r = ranges.entry(col).or_default();
                match op {
                    Operator::Gt => r.lower(v, false),
                    Operator::GtEq => r.lower(v, true),
                    Operator::Lt => r.upper(v, false),
                    Operator::LtEq => r.upper(v, true),
                    _ => {}
                }
            }
            None => {
                if let Some((col, low, high)) = as_between(t, c) {
                    let r = ranges.entry(col).or_default();
                    r.lower(low, true);
                    r.upper(high, true);
                } else {
                    share *= one(t, est, rows, c);
                }
            }
        }
    }
    for (col, r) in ranges {
        let info = &t.columns[col];
        share *= match est.column(info.id) {
            Some(s) => range_share(&r, s, step(info)).unwrap_or(PSEUDO_RANGE),
            None => PSEUDO_RANGE,
        };
    }
    share
}

/// The share one conjunct keeps that is not a range over a column.
fn one(t: &TableInfo, est: &TableEstimate, rows: f64, e: &Expr) -> f64 {
    match e {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let mut l = Vec::new();
            split_and(left, &mut l);
            let mut r = Vec::new();
            split_and(right, &mut r);
            let (a, b) = (conjunction(t, est, rows, &l), conjunction(t, est, rows, &r));
            1.0 - (1.0 - a) * (1.0 - b)
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right })
            if matches!(op, Operator::Eq | Operator::NotEq) =>
        {
            let col = match (column(t, left), column(t, right)) {
                (Some(c), None) if constant(right) => c,
                (None, Some(c)) if constant(left) => c,
                _ => return SELECTION_FACTOR,
            };
            let eq = points(t, est, col, 1);
            if *op == Operator::Eq { eq } else { 1.0 - eq }
        }
        Expr::InList(list) => match column(t, &list.expr) {
            Some(col) if list.list.iter().all(constant) => {
                let eq = points(t, est, col, list.list.len());
                if list.negated { 1.0 - eq } else { eq }
            }
            _ => SELECTION_FACTOR,
        },
        Expr::IsNull(inner) | Expr::IsNotNull(inner) => {
            let nulls = match column(t, inner).and_then(|c| est.column(t.columns[c].id)) {
                Some(s) if rows > 0.0 => (s.nulls as f64 / rows).min(1.0),
                Some(_) => 0.0,
                None => PSEUDO_EQUAL,
            };
            if matches!(e, Expr::IsNull(_)) {
                nulls
            } else {
                1.0 - nulls
            }
        }
        Expr::Not(inner) => 1.0 - one(t, est, rows, inner),
        Expr::Like(like) if column(t, &like.expr).is_some() => {
            let Expr::Literal(ScalarValue::Utf8(Some(p)), _) = like.pattern.as_ref() else {
                return SELECTION_FACTOR;
            };
            let col = column(t, &like.expr).expect("checked above");
            let share = if p.contains(['%', '_']) {
                PATTERN_MATCH
            } else {
                points(t, est, col, 1)
            };
            if like.negated { 1.0 - share } else { share }
        }
        Expr::Literal(ScalarValue::Boolean(Some(b)), _) => f64::from(u8::from(*b)),
        _ => SELECTION_FACTOR,
    }
}

/// The share `n` equality points keep on column `col`.
fn points(t: &TableInfo, est: &TableEstimate, col: usize, n: usize) -> f64 {
    match est.column(t.columns[col].id) {
        Some(s) if s.ndv > 0 => (n as f64 / s.ndv as f64).min(1.0),
        Some(_) => 0.0,
        None => (n as f64 * PSEUDO_EQUAL).min(1.0),
    }
}

/// `col op value` (or `value op col`, turned around) for a range operator.
fn as_range(t: &TableInfo, e: &Expr) -> Option<(usize, Operator, f64)> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e else {
        return None;
    };
    if !matches!(
        op,
        Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq
    ) {
        return None;
    }
    if let (Some(c), Some(v)) = (column(t, left), numeric_literal(right)) {
        return Some((c, *op, v));
    }
    let (c, v) = (column(t, right)?, numeric_literal(left)?);
    Some((c, op.swap()?, v))
}

/// `col BETWEEN low AND high`.
fn as_between(t: &TableInfo, e: &Expr) -> Option<(usize, f64, f64)> {
    let Expr::Between(Between {
        expr,
        negated: false,
        low,
        high,
    }) = e
    else {
        return None;
    };
    Some((
        column(t, expr)?,
        numeric_literal(low)?,
        numeric_literal(high)?,
    ))
}

/// The table column `e` reads (through casts).
fn column(t: &TableInfo, e: &Expr) -> Option<usize> {
    match e {
        Expr::Column(c) => t.column(&c.name).map(|(i, _)| i),
        Expr::Cast(c) => column(t, &c.expr),
        Expr::TryCast(c) => column(t, &c.expr),
        _ => None,
    }
}

/// Whether `e` is a constant (of any type).
fn constant(e: &Expr) -> bool {
    match e {
        Expr::Literal(..) => true,
        Expr::Cast(c) => constant(&c.expr),
        _ => false,
    }
}

/// The distance between neighbouring values of a column (0: continuous).
fn step(c: &ColumnInfo) -> f64 {
    match c.ft.tp {
        SqlType::Decimal => 10f64.powi(-i32::from(c.ft.scale)),
        SqlType::Float | SqlType::Double => 0.0,
        _ => 1.0,
    }
}

/// The part of `[min, max]` that `r` covers; None without bounds.
fn range_share(r: &Range, s: &ColumnStats, step: f64) -> Option<f64> {
    let (min, max) = (s.min?, s.max?);
    if max < min {
        return None;
    }
    let lo = match r.lo {
        Some((v, inclusive)) if !inclusive => v + step,
        Some((v, _)) => v,
        None => min,
    }
    .max(min);
    let hi = match r.hi {
        Some((v, inclusive)) if !inclusive => v - step,
        Some((v, _)) => v,
        None => max,
    }
    .min(max);
    if hi < lo {
        return Some(0.0);
    }
    let width = max - min + step;
    if width <= 0.0 {
        return Some(1.0);
    }
    Some(((hi - lo + step) / width).min(1.0))
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::{col, lit};

    use super::*;
    use crate::catalog::model::{FieldType, HandleKind};
    use crate::catalog::stats::TableStats;

    fn table() -> (TableInfo, TableEstimate) {
        let mut t = TableInfo {
            id: 1,
            db_id: 1,
            name: "t".into(),
            columns: Vec::new(),
            indexes: Vec::new(),
            handle: HandleKind::RowId,
            next_column_id: 5,
            comment: String::new(),
            create_time: 0,
            columnar_replica: 0,
            changing: None,
            removing: None,
        };
        let mut decimal = FieldType::new(SqlType::Decimal);
        decimal.length = 15;
        decimal.scale = 2;
        for (id, name, ft) in [
            (1, "d", FieldType::new(SqlType::Date)),
            (2, "status", FieldType::new(SqlType::Char)),
            (3, "discount", decimal),
            (4, "note", FieldType::new(SqlType::VarChar)),
        ] {
            t.columns.push(ColumnInfo {
                id,
                name: name.into(),
                ft,
                nullable: true,
                default: None,
                auto_increment: false,
                on_update_now: false,
                comment: String::new(),
                origin_default: None,
                no_default: false,
                not_null_pending: false,
            });
        }
        let mut stats = TableStats {
            row_count: 1000,
            ..Default::default()
        };
        let bounds = |ndv, nulls, min, max| ColumnStats {
            ndv,
            nulls,
            min,
            max,
        };
        stats
            .columns
            .insert(1, bounds(600, 0, Some(0.0), Some(599.0)));
        stats.columns.insert(2, bounds(4, 0, None, None));
        stats
            .columns
            .insert(3, bounds(11, 0, Some(0.0), Some(0.10)));
        stats.columns.insert(4, bounds(900, 100, None, None));
        let est = TableEstimate {
            analyzed: Some(stats),
            ..Default::default()
        };
        (t, est)
    }

    fn share(filters: &[Expr]) -> f64 {
        let (t, est) = table();
        (of_filters(&t, &est, filters) * 1000.0).round() / 1000.0
    }

    #[test]
    fn ranges_on_one_column_are_intersected_before_they_are_measured() {
        // A sixth of the dates, not 5/6 × 1/6.
        assert_eq!(
            share(&[col("d").gt_eq(lit(100i64)), col("d").lt(lit(200i64))]),
            0.167
        );
        assert_eq!(share(&[col("d").between(lit(100i64), lit(199i64))]), 0.167);
        // Turned around, and out of bounds.
        assert_eq!(share(&[lit(300i64).gt(col("d"))]), 0.5);
        assert_eq!(share(&[col("d").gt(lit(1000i64))]), 0.0);
        // Decimal steps: 0.05..0.07 is three of eleven values.
        let dec = |v: i128| lit(ScalarValue::Decimal128(Some(v), 15, 2));
        assert_eq!(
            share(&[col("discount").between(dec(5), dec(7))]),
            (3.0f64 / 11.0 * 1000.0).round() / 1000.0
        );
    }

    #[test]
    fn equalities_use_distinct_values_and_the_rest_combines() {
        assert_eq!(share(&[col("status").eq(lit("F"))]), 0.25);
        assert_eq!(share(&[col("status").not_eq(lit("F"))]), 0.75);
        assert_eq!(
            share(&[col("status").in_list(vec![lit("F"), lit("O")], false)]),
            0.5
        );
        assert_eq!(share(&[col("note").is_null()]), 0.1);
        // Independent columns multiply; OR is one minus both missing.
        assert_eq!(
            share(&[col("status").eq(lit("F")), col("d").lt(lit(300i64))]),
            0.125
        );
        assert_eq!(
            share(&[col("status").eq(lit("F")).or(col("status").eq(lit("O")))]),
            0.438
        );
        // A pattern with wildcards matches few rows, one without is `=`.
        assert_eq!(share(&[col("note").like(lit("%a%"))]), PATTERN_MATCH);
        assert_eq!(share(&[col("status").not_like(lit("F"))]), 0.75);
        // What cannot be measured keeps TiDB's selection factor.
        let modulo = col("d") % lit(7i64);
        assert_eq!(share(&[modulo.eq(lit(0i64))]), SELECTION_FACTOR);
    }
}
