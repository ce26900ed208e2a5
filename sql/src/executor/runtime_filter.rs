//! Runtime filters: what a hash join learns from its build side, sent on
//! to the stores with the probe side's scan.
//!
//! DataFusion's hash join publishes a dynamic filter once its build side
//! is in: the key bounds (`k >= min AND k <= max`) and, for a build side
//! of up to [`IN_LIST_MAX`] keys, the keys themselves (`k IN (...)`).
//! More keys travel as a Bloom filter ([`copr::bloom`]) made
//! from the build side by [`crate::executor::build_keys`] (or from a partitioned
//! join's lists): one binary literal instead of a literal a key to decode
//! and plan for every region. It offers the filter to the
//! probe side during filter pushdown; [`ScanExec`](crate::executor::scan::ScanExec)
//! keeps it, and when the scan starts (after the build, as the join polls
//! its probe side only then) takes the filter's current value and adds
//! the conjuncts it can express as pushed filters. The stores then skip
//! chunks by min/max and return only rows that can join:
//!
//! ```text
//!   HashJoin  (build: part, 204 keys)        the scan's request
//!     ├─ scan part                           filters: p_brand = ..,
//!     └─ scan lineitem  <- dynamic filter      + l_partkey >= 42 AND l_partkey <= 199960
//!                                              + l_partkey IN (42, 97, ...)
//!
//!   HashJoin  (build: orders, 227,597 keys)
//!     ├─ ...                                 + l_orderkey IN bloom(227597 keys)
//!     └─ scan lineitem  <- dynamic filter
//! ```
//!
//! The join still checks every row it gets, so a runtime filter only has
//! to keep every row that can join: conjuncts that cannot be expressed (a
//! hash-table lookup, the routing of a partitioned join) are left out,
//! which only keeps more rows. Only dynamic filters are taken this way;
//! other filters of the plan above stay where the planner put them.

use std::sync::Arc;

use copr::bloom::{self, KeyBloom};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::logical_expr::Operator;
use datafusion::logical_expr::{BinaryExpr, Cast, Expr};
use datafusion::physical_expr::expressions::{
    CaseExpr, CastExpr, Column, DynamicFilterPhysicalExpr, InListExpr, IsNotNullExpr, IsNullExpr,
    Literal, NotExpr,
};
use datafusion::physical_expr::{PhysicalExpr, split_conjunction};
use datafusion::physical_expr_common::physical_expr::snapshot_physical_expr;
use datafusion::scalar::ScalarValue;

use crate::catalog::stats::ColumnStats;
use crate::executor::build_keys::BuildKeys;
use crate::executor::convert::numeric_literal;

/// Whether `filter` is one a query fills in while it runs.
pub fn is_dynamic(filter: &Arc<dyn PhysicalExpr>) -> bool {
    filter.downcast_ref::<DynamicFilterPhysicalExpr>().is_some()
}

/// The conjuncts of the filters' current values that a scan can push, as
/// logical expressions over the columns of `schema` (the rows the filters
/// were written against). Trivially true ones (a filter not filled in yet)
/// are left out.
pub fn current(filters: &[Arc<dyn PhysicalExpr>], schema: &Schema) -> Vec<Expr> {
    let mut out = Vec::new();
    for f in filters {
        let Ok(now) = snapshot_physical_expr(f.clone()) else {
            continue;
        };
        for part in split_conjunction(&now) {
            match logical(part, schema) {
                Some(Expr::Literal(ScalarValue::Boolean(Some(true)), _)) => {}
                Some(e) => out.push(e),
                None => {
                    if let Some(case) = part.downcast_ref::<CaseExpr>() {
                        out.extend(union_of_partitions(case, schema));
                    }
                }
            }
        }
    }
    out
}

/// [`current`], plus the Bloom filters [`crate::executor::build_keys`] gathered
/// from the build sides of `filters`' joins, for keys that have no IN list
/// or Bloom filter yet. `stats` gives a key column's analyzed statistics:
/// a bound at or beyond the column's own keeps every row, and a filter
/// holding half of its distinct values or more most rows; neither is sent
/// (the stores would test every row against it).
pub fn current_with_keys(
    filters: &[Arc<dyn PhysicalExpr>],
    schema: &Schema,
    keys: &[Arc<BuildKeys>],
    stats: impl Fn(&str) -> Option<ColumnStats>,
) -> Vec<Expr> {
    let ndv = |name: &str| stats(name).map(|s| s.ndv as f64);
    let mut out = current(filters, schema);
    out.retain(|e| !keeps_every_row(e, &stats));
    for f in filters {
        let Some(id) = f.expression_id() else {
            continue;
        };
        for k in keys.iter().filter(|k| k.filter_id == id) {
            let Some(blooms) = k.blooms() else {
                continue;
            };
            for (child, bloom) in f.children().into_iter().zip(blooms) {
                let (Some(bloom), Some(key)) = (bloom, logical(child, schema)) else {
                    continue;
                };
                let listed = out.iter().any(|e| match e {
                    Expr::InList(l) => !l.negated && *l.expr == key,
                    _ => bloom::key_of(e) == Some(&key),
                });
                let most = match &key {
                    Expr::Column(c) => ndv(&c.name).is_some_and(|n| bloom.keys() as f64 >= n / 2.0),
                    _ => false,
                };
                if !listed && !most {
                    out.push(bloom::filter(key, bloom));
                }
            }
        }
    }
    out
}

/// Whether `e` is a bound `col >= v` or `col <= v` that the column's
/// analyzed minimum or maximum already meets.
fn keeps_every_row(e: &Expr, stats: &impl Fn(&str) -> Option<ColumnStats>) -> bool {
    let Expr::BinaryExpr(b) = e else {
        return false;
    };
    let (Expr::Column(c), Some(v)) = (b.left.as_ref(), numeric_literal(&b.right)) else {
        return false;
    };
    let Some(s) = stats(&c.name) else {
        return false;
    };
    match b.op {
        Operator::GtEq => s.min.is_some_and(|min| v <= min),
        Operator::LtEq => s.max.is_some_and(|max| v >= max),
        _ => false,
    }
}

/// A pushed runtime filter as EXPLAIN shows it: a Bloom filter by its
/// key count, not its bytes.
pub fn display(e: &Expr) -> String {
    match bloom::as_filter(e) {
        Some((key, b)) => format!("{key} IN bloom({} keys)", b.keys()),
        None => e.to_string(),
    }
}

/// What one partition of a partitioned hash join says about a key column.
#[derive(Default)]
struct KeyBounds {
    lo: Option<ScalarValue>,
    hi: Option<ScalarValue>,
    keys: Option<Vec<ScalarValue>>,
}

impl KeyBounds {
    /// What holds for a row of either partition: the outer bounds and
    /// both key lists, where both partitions have them.
    fn union(self, other: KeyBounds) -> KeyBounds {
        use std::cmp::Ordering::{Greater, Less};
        // Whichever of `a` and `b` lies `further` out.
        let outer = |a: Option<ScalarValue>, b: Option<ScalarValue>, further| {
            let (a, b) = (a?, b?);
            if a.partial_cmp(&b)? == further {
                Some(a)
            } else {
                Some(b)
            }
        };
        KeyBounds {
            lo: outer(self.lo, other.lo, Less),
            hi: outer(self.hi, other.hi, Greater),
            keys: match (self.keys, other.keys) {
                (Some(mut a), Some(b)) => {
                    a.extend(b);
                    Some(a)
                }
                _ => None,
            },
        }
    }
}

/// A partitioned hash join's filter, `CASE hash(key) % n WHEN 0 THEN f0
/// WHEN 1 THEN f1 ... ELSE false END`, as conjuncts the stores can
/// evaluate. A row that can join passes its own partition's branch, so it
/// is within the lowest lower bound and the highest upper bound of the
/// branches, and among the union of their key lists — when every branch
/// that can hold rows has them. A branch that is `false` (an empty
/// partition) holds none; any other ELSE than `false` keeps everything.
fn union_of_partitions(case: &CaseExpr, schema: &Schema) -> Vec<Expr> {
    if case.expr().is_none() {
        return Vec::new();
    }
    let is_false = |e: &Arc<dyn PhysicalExpr>| {
        e.downcast_ref::<Literal>()
            .is_some_and(|l| l.value() == &ScalarValue::Boolean(Some(false)))
    };
    if !case.else_expr().is_some_and(is_false) {
        return Vec::new();
    }
    let mut branches: Vec<std::collections::BTreeMap<usize, KeyBounds>> = Vec::new();
    for (_, then) in case.when_then_expr() {
        if is_false(then) {
            continue;
        }
        let mut columns = std::collections::BTreeMap::<usize, KeyBounds>::new();
        for part in split_conjunction(then) {
            if let Some(b) =
                part.downcast_ref::<datafusion::physical_expr::expressions::BinaryExpr>()
                && let (Some(c), Some(v)) = (
                    b.left().downcast_ref::<Column>(),
                    b.right().downcast_ref::<Literal>(),
                )
            {
                let k = columns.entry(c.index()).or_default();
                match b.op() {
                    Operator::GtEq => k.lo = Some(v.value().clone()),
                    Operator::LtEq => k.hi = Some(v.value().clone()),
                    _ => {}
                }
            } else if let Some(i) = part.downcast_ref::<InListExpr>()
                && !i.negated()
                && let Some(c) = i.expr().downcast_ref::<Column>()
            {
                let values: Option<Vec<ScalarValue>> = i
                    .list()
                    .iter()
                    .map(|e| e.downcast_ref::<Literal>().map(|l| l.value().clone()))
                    .collect();
                columns.entry(c.index()).or_default().keys = values;
            }
        }
        branches.push(columns);
    }
    let Some((first, rest)) = branches.split_first_mut() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (index, mut k) in std::mem::take(first) {
        let Some(field) = schema.fields().get(index) else {
            continue;
        };
        for other in rest.iter_mut() {
            k = k.union(other.remove(&index).unwrap_or_default());
        }
        let column = || Expr::Column(datafusion::common::Column::new_unqualified(field.name()));
        if let Some(v) = k.lo {
            out.push(column().gt_eq(Expr::Literal(v, None)));
        }
        if let Some(v) = k.hi {
            out.push(column().lt_eq(Expr::Literal(v, None)));
        }
        if let Some(keys) = k.keys {
            out.extend(key_filter(column(), field.data_type(), keys.iter()));
        }
    }
    out
}

/// The most keys a runtime filter sends as an IN list; more go as a
/// Bloom filter. A store decodes and plans an IN list's every value for
/// every region, and min/max pruning uses lists only up to 20 values.
pub const IN_LIST_MAX: usize = 64;

/// `key IN (keys)` as the stores can test it: an IN list up to
/// [`IN_LIST_MAX`] keys, a Bloom filter beyond (None: keys of a type the
/// filter cannot hash, which then keeps every row).
fn key_filter<'a>(
    key: Expr,
    data_type: &DataType,
    keys: impl ExactSizeIterator<Item = &'a ScalarValue>,
) -> Option<Expr> {
    if keys.len() <= IN_LIST_MAX {
        let list = keys.map(|v| Expr::Literal(v.clone(), None)).collect();
        return Some(key.in_list(list, false));
    }
    let bloom = KeyBloom::from_values(data_type, keys)?;
    Some(bloom::filter(key, &bloom))
}

/// `expr` as a logical expression, if every node of it has one.
fn logical(expr: &Arc<dyn PhysicalExpr>, schema: &Schema) -> Option<Expr> {
    let any = expr.as_ref();
    if let Some(c) = any.downcast_ref::<Column>() {
        let field = schema.fields().get(c.index())?;
        return Some(Expr::Column(datafusion::common::Column::new_unqualified(
            field.name(),
        )));
    }
    if let Some(l) = any.downcast_ref::<Literal>() {
        return Some(Expr::Literal(l.value().clone(), None));
    }
    if let Some(b) = any.downcast_ref::<datafusion::physical_expr::expressions::BinaryExpr>() {
        return Some(Expr::BinaryExpr(BinaryExpr::new(
            Box::new(logical(b.left(), schema)?),
            *b.op(),
            Box::new(logical(b.right(), schema)?),
        )));
    }
    if let Some(i) = any.downcast_ref::<InListExpr>()
        && !i.negated()
        && i.list().len() > IN_LIST_MAX
    {
        let keys = i
            .list()
            .iter()
            .map(|e| e.downcast_ref::<Literal>().map(Literal::value))
            .collect::<Option<Vec<_>>>()?;
        let data_type = i.expr().data_type(schema).ok()?;
        return key_filter(logical(i.expr(), schema)?, &data_type, keys.into_iter());
    }
    if let Some(i) = any.downcast_ref::<InListExpr>() {
        let list = i
            .list()
            .iter()
            .map(|e| logical(e, schema))
            .collect::<Option<Vec<_>>>()?;
        return Some(logical(i.expr(), schema)?.in_list(list, i.negated()));
    }
    if let Some(c) = any.downcast_ref::<CastExpr>() {
        return Some(Expr::Cast(Cast::new(
            Box::new(logical(c.expr(), schema)?),
            c.cast_type().clone(),
        )));
    }
    if let Some(n) = any.downcast_ref::<NotExpr>() {
        return Some(Expr::Not(Box::new(logical(n.arg(), schema)?)));
    }
    if let Some(n) = any.downcast_ref::<IsNullExpr>() {
        return Some(Expr::IsNull(Box::new(logical(n.arg(), schema)?)));
    }
    if let Some(n) = any.downcast_ref::<IsNotNullExpr>() {
        return Some(Expr::IsNotNull(Box::new(logical(n.arg(), schema)?)));
    }
    None
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion::logical_expr::Operator;
    use datafusion::physical_expr::expressions::{binary, col, in_list, like, lit};

    use super::*;

    #[test]
    fn bounds_and_key_lists_become_pushed_filters_and_the_rest_is_left_out() {
        let schema = Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]);
        let a = col("a", &schema).unwrap();
        let b = col("b", &schema).unwrap();
        let s = col("s", &schema).unwrap();
        let bounds = binary(
            binary(a.clone(), Operator::GtEq, lit(3i64), &schema).unwrap(),
            Operator::And,
            binary(a.clone(), Operator::LtEq, lit(9i64), &schema).unwrap(),
            &schema,
        )
        .unwrap();
        let keys = in_list(b.clone(), vec![lit(4i64), lit(7i64)], &false, &schema).unwrap();
        // No logical form here: left out, which only keeps more rows.
        let pattern = like(false, false, s.clone(), lit("x%"), &schema).unwrap();
        let dynamic: Arc<dyn PhysicalExpr> = Arc::new(DynamicFilterPhysicalExpr::new(
            vec![a.clone(), b.clone()],
            lit(true),
        ));
        assert!(is_dynamic(&dynamic));
        assert!(!is_dynamic(&keys));
        // Not filled in yet: nothing to push.
        assert!(current(std::slice::from_ref(&dynamic), &schema).is_empty());

        let both = binary(bounds, Operator::And, keys, &schema).unwrap();
        let both = binary(both, Operator::And, pattern, &schema).unwrap();
        let pushed = current(&[both], &schema);
        let text: Vec<String> = pushed.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            text,
            vec![
                "a >= Int64(3)".to_string(),
                "a <= Int64(9)".to_string(),
                "b IN ([Int64(4), Int64(7)])".to_string(),
            ]
        );
    }

    #[test]
    fn many_keys_travel_as_a_bloom_filter() {
        let schema = Schema::new(vec![Field::new("k", DataType::Int64, true)]);
        let k = col("k", &schema).unwrap();
        let keys: Vec<_> = (0..1000i64).map(|v| lit(v * 3)).collect();
        let list = in_list(k.clone(), keys, &false, &schema).unwrap();
        let pushed = current(&[list], &schema);
        assert_eq!(pushed.len(), 1);
        let (_, bloom) = bloom::as_filter(&pushed[0]).unwrap();
        // Distinct keys as the filter counts them (a few collide).
        assert!((990..=1000).contains(&bloom.keys()), "{}", bloom.keys());
        assert_eq!(
            display(&pushed[0]),
            format!("k IN bloom({} keys)", bloom.keys())
        );
        let probe: datafusion::arrow::array::ArrayRef = Arc::new(
            datafusion::arrow::array::Int64Array::from_iter_values(0..3000),
        );
        let kept = bloom.test(&probe).true_count();
        assert!((1000..1100).contains(&kept), "{kept} of 3000 kept");
        // A few keys stay a list (min/max pruning can use it).
        let few = in_list(k, vec![lit(1i64), lit(2i64)], &false, &schema).unwrap();
        assert_eq!(
            display(&current(&[few], &schema)[0]),
            "k IN ([Int64(1), Int64(2)])"
        );
    }

    #[test]
    fn a_partitioned_join_pushes_the_union_of_its_partitions() {
        let schema = Schema::new(vec![Field::new("k", DataType::Int64, true)]);
        let k = col("k", &schema).unwrap();
        let branch = |lo: i64, hi: i64, keys: Vec<i64>| {
            let bounds = binary(
                binary(k.clone(), Operator::GtEq, lit(lo), &schema).unwrap(),
                Operator::And,
                binary(k.clone(), Operator::LtEq, lit(hi), &schema).unwrap(),
                &schema,
            )
            .unwrap();
            let keys = keys.into_iter().map(lit).collect();
            let keys = in_list(k.clone(), keys, &false, &schema).unwrap();
            binary(bounds, Operator::And, keys, &schema).unwrap()
        };
        // The routing expression itself cannot be sent (it stands in for
        // the join's hash here).
        let routing = binary(k.clone(), Operator::Modulo, lit(2i64), &schema).unwrap();
        let case = |else_: Arc<dyn PhysicalExpr>| -> Arc<dyn PhysicalExpr> {
            Arc::new(
                CaseExpr::try_new(
                    Some(routing.clone()),
                    vec![
                        (lit(0i64), branch(4, 8, vec![4, 8])),
                        (lit(1i64), branch(3, 5, vec![3, 5])),
                        (lit(2i64), lit(false)),
                    ],
                    Some(else_),
                )
                .unwrap(),
            )
        };
        let text: Vec<String> = current(&[case(lit(false))], &schema)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            text,
            vec![
                "k >= Int64(3)".to_string(),
                "k <= Int64(8)".to_string(),
                "k IN ([Int64(4), Int64(8), Int64(3), Int64(5)])".to_string(),
            ]
        );
        // A partition whose build side is unknown keeps every row.
        assert!(current(&[case(lit(true))], &schema).is_empty());
    }
}
