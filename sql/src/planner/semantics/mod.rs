//! # MySQL semantics inside DataFusion plans
//!
//! DataFusion's expression semantics are PostgreSQL-like; a MySQL user
//! expects MySQL's. One analyzer rule ([`MySqlSemantics`]) runs before
//! DataFusion's type coercion and rewrites expressions by their operand
//! types, an expression planner ([`StringArithmetic`]) does the same for
//! arithmetic on strings while the SQL is planned, and one physical
//! optimizer rule ([`CheckedArithmetic`]) makes the
//! planned integer arithmetic fail on overflow:
//!
//! | MySQL                                              | file |
//! |----------------------------------------------------|------|
//! | a string compared with or computed with a number is read as a DOUBLE (`'10abc' = 10`, `'abc' = 0`, `n + '2'`) | [`strings`] |
//! | integer `+ - *` is BIGINT arithmetic; SUM/AVG of exact numbers are DECIMAL | [`integers`] |
//! | `/` is DECIMAL (scale + 4) or DOUBLE, NULL on a zero divisor | [`division`] |
//! | integer overflow is error 1690, not a wrap-around  | [`overflow`] |
//! | a scalar subquery may select a plain column; more than one row is error 1242 | [`subquery`] |
//!
//! The rewrites keep each expression's output name, so the columns a
//! client sees are named after what it wrote.

pub mod division;
pub mod integers;
pub mod overflow;
pub mod strings;
pub mod subquery;
pub mod types;

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;
use datafusion::optimizer::analyzer::Analyzer;

pub use overflow::{CheckedArithmetic, FastDecimals};
pub use strings::StringArithmetic;

/// The analyzer rule: every rewrite of this module, bottom-up over every
/// expression of every plan node (subqueries included).
#[derive(Debug, Default)]
pub struct MySqlSemantics;

/// DataFusion's analyzer rules with [`MySqlSemantics`] first.
pub fn analyzer_rules() -> Vec<Arc<dyn AnalyzerRule + Send + Sync>> {
    let mut rules = Analyzer::new().rules;
    rules.insert(0, Arc::new(MySqlSemantics));
    rules
}

fn rewrite(e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    strings::rewrite(e, schema)?
        .transform_data(|e| integers::rewrite(e, schema))?
        .transform_data(|e| division::rewrite(e, schema))
}

fn analyze_node(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let mut schema = merge_schema(&plan.inputs());
    if let LogicalPlan::TableScan(ts) = &plan {
        let source =
            DFSchema::try_from_qualified_schema(ts.table_name.clone(), &ts.source.schema())?;
        schema.merge(&source);
    }
    let names = datafusion::optimizer::utils::NamePreserver::new(&plan);
    plan.map_expressions(|expr| {
        let saved = names.save(&expr);
        expr.transform_up(|e| rewrite(e, &schema))
            .map(|t| t.update_data(|e| saved.restore(e)))
    })?
    .map_data(|plan| plan.recompute_schema())?
    .transform_data(integers::round_averages)
}

impl AnalyzerRule for MySqlSemantics {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        Ok(plan.transform_up_with_subqueries(analyze_node)?.data)
    }

    fn name(&self) -> &str {
        "mysql_semantics"
    }
}
