//! Pushing partial aggregation and top-N down to the columnar stores.
//!
//! A physical optimizer rule that runs after DataFusion's own. Where an
//! operator reads a columnar table scan through operators that work row
//! by row (projections, filters, re-chunking, round-robin repartitioning),
//! the operator and those below it travel with the scan as a
//! [`PlanFragment`] and run on every region's rows where they are read:
//!
//! | the plan has                        | the stores run               | the SQL layer keeps |
//! |-------------------------------------|------------------------------|---------------------|
//! | `AggregateExec(Partial)` over a scan | the partial aggregate        | the final aggregate over what comes back |
//! | `AggregateExec(Single)` over a scan  | its partial half             | its final half |
//! | `SortExec(fetch=n)` over a scan      | a top-n per region           | the top-n over those |
//!
//! Partial aggregate states and per-region top-n merge exactly, so the
//! answer does not depend on how many regions (or pages, when a region is
//! read from the row store instead) there are. Only aggregate functions
//! the stores know are pushed ([`knows_aggregate`]); a plan that does not
//! serialize stays in the SQL layer. Scans of the row store are left as
//! they are.
//!
//! Reference: TiDB's `PhysicalHashAgg` split into partial (`cop[tiflash]`)
//! and final (`root`) halves, and its TopN pushdown.

use std::sync::Arc;

use copr::PlanFragment;
use copr::plan::knows_aggregate;
use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::Partitioning;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;

use crate::executor::scan::{Access, ScanExec};

#[derive(Debug, Default)]
pub struct PushToColumnar;

impl PhysicalOptimizerRule for PushToColumnar {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(plan.transform_up(push)?.data)
    }

    fn name(&self) -> &str {
        "push_to_columnar"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Below `plan`, through row-by-row operators, a columnar scan with
/// nothing pushed yet: that scan, and `plan` with the scan replaced by
/// the placeholder a [`PlanFragment`] reads (operators that only move
/// batches between partitions are dropped: the fragment runs in one).
fn over_scan(
    plan: &Arc<dyn ExecutionPlan>,
) -> Option<(Arc<dyn ExecutionPlan>, Arc<dyn ExecutionPlan>)> {
    if let Some(scan) = plan.downcast_ref::<ScanExec>() {
        let eligible = scan.task.columnar
            && scan.task.plan.is_none()
            && scan.task.limit.is_none()
            && matches!(scan.access, Access::Table { .. });
        if !eligible {
            return None;
        }
        let placeholder: Arc<dyn ExecutionPlan> = Arc::new(EmptyExec::new(plan.schema()));
        return Some((plan.clone(), placeholder));
    }
    let children = plan.children();
    let [child] = children.as_slice() else {
        return None;
    };
    match plan.name() {
        "ProjectionExec" | "FilterExec" => {
            let (scan, below) = over_scan(child)?;
            let node = replace_children_if_necessary(plan.clone(), vec![below]).ok()?;
            Some((scan, node))
        }
        "CoalesceBatchesExec" | "CooperativeExec" => over_scan(child),
        "RepartitionExec" => {
            let r = plan.downcast_ref::<RepartitionExec>()?;
            match r.partitioning() {
                Partitioning::RoundRobinBatch(_) => over_scan(child),
                _ => None,
            }
        }
        _ => None,
    }
}

/// `fragment` run by `scan`'s stores: the scan that returns its output.
fn pushed(
    scan: &Arc<dyn ExecutionPlan>,
    fragment: Arc<dyn ExecutionPlan>,
) -> Option<Arc<dyn ExecutionPlan>> {
    let scan = scan.downcast_ref::<ScanExec>()?;
    match PlanFragment::new(fragment) {
        Ok(f) => Some(Arc::new(scan.with_plan(Arc::new(f)))),
        Err(e) => {
            tracing::debug!("not pushed to the columnar stores: {e}");
            None
        }
    }
}

fn push(plan: Arc<dyn ExecutionPlan>) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
    if let Some(a) = plan.downcast_ref::<AggregateExec>() {
        if !a
            .aggr_expr()
            .iter()
            .all(|f| knows_aggregate(f.fun().name()))
        {
            return Ok(Transformed::no(plan));
        }
        let Some((scan, below)) = over_scan(a.input()) else {
            return Ok(Transformed::no(plan));
        };
        match a.mode() {
            AggregateMode::Partial => {
                let partial = replace_children_if_necessary(plan.clone(), vec![below])?;
                if let Some(new) = pushed(&scan, partial) {
                    return Ok(Transformed::yes(new));
                }
            }
            AggregateMode::Single | AggregateMode::SinglePartitioned => {
                let partial = AggregateExec::try_new(
                    AggregateMode::Partial,
                    a.group_expr().clone(),
                    a.aggr_expr().to_vec(),
                    a.filter_expr().to_vec(),
                    below,
                    a.input_schema(),
                )?;
                let group_by = partial.group_expr().as_final();
                let aggregates = partial.aggr_expr().to_vec();
                if let Some(new) = pushed(&scan, Arc::new(partial)) {
                    let last = AggregateExec::try_new(
                        AggregateMode::Final,
                        group_by,
                        aggregates,
                        a.filter_expr().to_vec(),
                        new,
                        a.input_schema(),
                    )?
                    .with_limit_options(a.limit_options());
                    return Ok(Transformed::yes(Arc::new(last)));
                }
            }
            _ => {}
        }
        return Ok(Transformed::no(plan));
    }
    if let Some(s) = plan.downcast_ref::<SortExec>()
        && let Some(fetch) = s.fetch()
        && let Some((scan, below)) = over_scan(s.input())
    {
        let top_n = SortExec::new(s.expr().clone(), below).with_fetch(Some(fetch));
        if let Some(new) = pushed(&scan, Arc::new(top_n)) {
            return Ok(Transformed::yes(replace_children_if_necessary(
                plan.clone(),
                vec![new],
            )?));
        }
    }
    Ok(Transformed::no(plan))
}
