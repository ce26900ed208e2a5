//! Integer overflow is an error, as in MySQL (`ERROR 1690: BIGINT value is
//! out of range`), where DataFusion's planned `+ - *` wrap around. A
//! physical optimizer rule, because the flag lives on DataFusion's physical
//! binary expression: it rewrites the expressions of projections, filters
//! and aggregates (arguments and grouping keys) with
//! [`txn::coprocessor::mysql::checked_arithmetic`], the same function the
//! stores apply to pushed-down filters.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::projection::ProjectionExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::{AggregateExec, PhysicalGroupBy};
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::projection::ProjectionExec;
use txn::coprocessor::mysql::checked_arithmetic;

#[derive(Debug, Default)]
pub struct CheckedArithmetic;

impl PhysicalOptimizerRule for CheckedArithmetic {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(plan.transform_up(checked_node)?.data)
    }

    fn name(&self) -> &str {
        "mysql_checked_arithmetic"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

type Exprs = Vec<Arc<dyn PhysicalExpr>>;

/// The checked form of `exprs`, or None when nothing changes.
fn checked_all(exprs: &[Arc<dyn PhysicalExpr>]) -> Result<Option<Exprs>> {
    let out = exprs
        .iter()
        .map(|e| checked_arithmetic(e.clone()))
        .collect::<Result<Exprs>>()?;
    let same = out.iter().zip(exprs).all(|(a, b)| a == b);
    Ok((!same).then_some(out))
}

fn checked_node(plan: Arc<dyn ExecutionPlan>) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
    if let Some(p) = plan.downcast_ref::<ProjectionExec>() {
        let exprs: Exprs = p.expr().iter().map(|e| e.expr.clone()).collect();
        let Some(checked) = checked_all(&exprs)? else {
            return Ok(Transformed::no(plan));
        };
        let exprs = checked
            .into_iter()
            .zip(p.expr())
            .map(|(expr, e)| ProjectionExpr {
                expr,
                alias: e.alias.clone(),
            });
        return Ok(Transformed::yes(Arc::new(ProjectionExec::try_new(
            exprs,
            p.input().clone(),
        )?)));
    }
    if let Some(f) = plan.downcast_ref::<FilterExec>() {
        let Some(mut checked) = checked_all(std::slice::from_ref(f.predicate()))? else {
            return Ok(Transformed::no(plan));
        };
        let filter = FilterExecBuilder::from(f)
            .with_predicate(checked.remove(0))
            .build()?;
        return Ok(Transformed::yes(Arc::new(filter)));
    }
    if let Some(a) = plan.downcast_ref::<AggregateExec>() {
        return checked_aggregate(a).map(|new| match new {
            Some(new) => Transformed::yes(new),
            None => Transformed::no(plan.clone()),
        });
    }
    Ok(Transformed::no(plan))
}

fn checked_aggregate(a: &AggregateExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let mut changed = false;
    let group_by = a.group_expr();
    let keys: Exprs = group_by.expr().iter().map(|(e, _)| e.clone()).collect();
    let keys = match checked_all(&keys)? {
        Some(keys) => {
            changed = true;
            keys
        }
        None => keys,
    };
    let mut aggregates = Vec::with_capacity(a.aggr_expr().len());
    for f in a.aggr_expr() {
        match checked_all(&f.expressions())? {
            Some(args) => {
                let order_by = f.order_bys().iter().map(|s| s.expr.clone()).collect();
                match f.with_new_expressions(args, order_by) {
                    Some(new) => {
                        changed = true;
                        aggregates.push(Arc::new(new));
                    }
                    None => aggregates.push(f.clone()),
                }
            }
            None => aggregates.push(f.clone()),
        }
    }
    if !changed {
        return Ok(None);
    }
    let group_by = PhysicalGroupBy::new(
        keys.into_iter()
            .zip(group_by.expr())
            .map(|(e, (_, name))| (e, name.clone()))
            .collect(),
        group_by.null_expr().to_vec(),
        group_by.groups().to_vec(),
        group_by.has_grouping_set(),
    );
    let new = AggregateExec::try_new(
        *a.mode(),
        group_by,
        aggregates,
        a.filter_expr().to_vec(),
        a.input().clone(),
        a.input_schema(),
    )?
    .with_limit_options(a.limit_options());
    Ok(Some(Arc::new(new)))
}
