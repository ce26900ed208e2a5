//! Integer overflow is an error, as in MySQL (`ERROR 1690: BIGINT value is
//! out of range`), where DataFusion's planned `+ - *` wrap around. A
//! physical optimizer rule, because the flag lives on DataFusion's physical
//! binary expression: it rewrites the expressions of projections, filters
//! and aggregates (arguments and grouping keys) with
//! [`copr::mysql::checked_plan`], the same function the stores
//! apply to pushed-down filters and plans.
//!
//! [`FastDecimals`] then computes decimal arithmetic that cannot overflow
//! without checks ([`copr::decimal`]). It runs last, after the
//! plans pushed to the stores are serialized (they decode to checked
//! expressions and get the same treatment there).

use std::sync::Arc;

use copr::decimal;
use copr::mysql::{checked_plan, map_plan_exprs};
use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;

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

#[derive(Debug, Default)]
pub struct FastDecimals;

impl PhysicalOptimizerRule for FastDecimals {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        map_plan_exprs(plan, &decimal::fast)
    }

    fn name(&self) -> &str {
        "fast_decimals"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
