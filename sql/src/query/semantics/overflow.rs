//! Integer overflow is an error, as in MySQL (`ERROR 1690: BIGINT value is
//! out of range`), where DataFusion's planned `+ - *` wrap around. A
//! physical optimizer rule, because the flag lives on DataFusion's physical
//! binary expression: it rewrites the expressions of projections, filters
//! and aggregates (arguments and grouping keys) with
//! [`txn::coprocessor::mysql::checked_plan`], the same function the stores
//! apply to pushed-down filters and plans.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use txn::coprocessor::mysql::checked_plan;

#[derive(Debug, Default)]
pub struct CheckedArithmetic;

impl PhysicalOptimizerRule for CheckedArithmetic {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        checked_plan(plan)
    }

    fn name(&self) -> &str {
        "mysql_checked_arithmetic"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
