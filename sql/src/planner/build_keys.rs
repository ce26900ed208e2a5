//! The rule that puts a [`BuildKeysExec`] over the build side of every hash
//! join whose dynamic filter reached a scan, and hands the scans the
//! shared [`BuildKeys`] (see [`crate::executor::build_keys`] for why and
//! how the keys become Bloom filters).

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::joins::HashJoinExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};

use crate::executor::build_keys::{BuildKeys, BuildKeysExec};
use crate::executor::scan::ScanExec;

/// The rule that gathers hash joins' build-side keys for the scans their
/// dynamic filters reached (see the module docs). It runs after
/// DataFusion's rules, once dynamic filters are placed.
#[derive(Debug, Default)]
pub struct ShareBuildKeys;

impl PhysicalOptimizerRule for ShareBuildKeys {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(plan.transform_up(share)?.data)
    }

    fn name(&self) -> &str {
        "share_build_keys"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

fn share(plan: Arc<dyn ExecutionPlan>) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
    let Some(join) = plan.downcast_ref::<HashJoinExec>() else {
        return Ok(Transformed::no(plan));
    };
    let produced = join.dynamic_expressions_produced();
    let Some(id) = produced.first().and_then(|f| f.expression_id()) else {
        return Ok(Transformed::no(plan));
    };
    if join.left().downcast_ref::<BuildKeysExec>().is_some() {
        return Ok(Transformed::no(plan));
    }
    let partitions = join.left().output_partitioning().partition_count();
    let sink = Arc::new(BuildKeys::new(id, partitions, join.on().len()));
    let right =
        join.right()
            .clone()
            .transform_down(|node| match node.downcast_ref::<ScanExec>() {
                Some(scan) if scan.has_runtime_filter(id) => Ok(Transformed::yes(Arc::new(
                    scan.with_build_keys(sink.clone()),
                )
                    as Arc<dyn ExecutionPlan>)),
                _ => Ok(Transformed::no(node)),
            })?;
    if !right.transformed {
        return Ok(Transformed::no(plan));
    }
    let left = Arc::new(BuildKeysExec::new(
        join.left().clone(),
        join.on().iter().map(|(l, _)| l.clone()).collect(),
        sink,
    ));
    Ok(Transformed::yes(plan.clone().replace_children(
        vec![left, right.data],
        ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
    )?))
}
