//! Runtime filters: what a hash join learns from its build side, sent on
//! to the stores with the probe side's scan.
//!
//! DataFusion's hash join publishes a dynamic filter once its build side
//! is in: the key bounds (`k >= min AND k <= max`) and, for a small build
//! side, the keys themselves (`k IN (...)`). It offers the filter to the
//! probe side during filter pushdown; [`RowScanExec`](super::scan::RowScanExec)
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
//! ```
//!
//! The join still checks every row it gets, so a runtime filter only has
//! to keep every row that can join: conjuncts that cannot be expressed (a
//! hash-table lookup, the routing of a partitioned join) are left out,
//! which only keeps more rows. Only dynamic filters are taken this way;
//! other filters of the plan above stay where the planner put them.

use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion::logical_expr::{BinaryExpr, Cast, Expr};
use datafusion::physical_expr::expressions::{
    CastExpr, Column, DynamicFilterPhysicalExpr, InListExpr, IsNotNullExpr, IsNullExpr, Literal,
    NotExpr,
};
use datafusion::physical_expr::{PhysicalExpr, split_conjunction};
use datafusion::physical_expr_common::physical_expr::snapshot_physical_expr;
use datafusion::scalar::ScalarValue;

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
                Some(Expr::Literal(ScalarValue::Boolean(Some(true)), _)) | None => {}
                Some(e) => out.push(e),
            }
        }
    }
    out
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
}
