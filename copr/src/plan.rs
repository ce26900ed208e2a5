//! Operators pushed down above a scan: partial aggregation and top-N.
//!
//! A [`PlanFragment`] is a DataFusion physical plan whose one leaf is a
//! placeholder (`EmptyExec` with the scan's output schema) standing for
//! the rows a [`Fragment`](crate::Fragment) returns. It travels with
//! `datafusion-proto`; whoever runs the scan runs the fragment over its
//! rows ([`PlanFragment::run`]): the columnar store over a region's part,
//! or the SQL layer over rows the row store returned for a region whose
//! columnar replica could not answer. Partial aggregates and per-region
//! top-N merge in the SQL layer's final aggregate or sort, so running the
//! fragment once per region, or once per page, gives the same answer.
//!
//! ```text
//!   SQL layer plan                      pushed fragment (per region)
//!   AggregateExec Final                 AggregateExec Partial
//!     ScanExec [fragment] ─────────>   ProjectionExec / FilterExec
//!                                           EmptyExec  <- the scan's rows
//! ```
//!
//! Expressions decode against the function registry filters use
//! (DataFusion's built-ins and MySQL's), and `+ - *` are checked for
//! overflow again after decoding (the flag does not travel), except
//! decimal ones that cannot overflow ([`crate::decimal`]).

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::memory::MemorySourceConfig;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;

use crate::error::{Result, df};
use crate::registry::task_ctx;
use crate::{decimal, mysql};

/// Operators to run over a scan's rows.
#[derive(Debug, Clone)]
pub struct PlanFragment {
    plan: Arc<dyn ExecutionPlan>,
    /// The schema of the rows it reads (the scan's output).
    input: SchemaRef,
    /// The plan as it travels.
    bytes: Arc<[u8]>,
}

fn is_leaf(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.children().is_empty()
}

impl PlanFragment {
    /// A fragment from a plan whose only leaf is an `EmptyExec`; an error
    /// when the plan has another shape or cannot be serialized.
    pub fn new(plan: Arc<dyn ExecutionPlan>) -> Result<PlanFragment> {
        let bytes = datafusion_proto::bytes::physical_plan_to_bytes(plan.clone()).map_err(df)?;
        Self::with_bytes(plan, bytes.to_vec().into())
    }

    fn with_bytes(plan: Arc<dyn ExecutionPlan>, bytes: Arc<[u8]>) -> Result<PlanFragment> {
        let mut leaves = Vec::new();
        plan.apply(|p| {
            if is_leaf(p) {
                leaves.push(p.clone());
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .map_err(df)?;
        match leaves.as_slice() {
            [leaf] if leaf.downcast_ref::<EmptyExec>().is_some() => Ok(PlanFragment {
                input: leaf.schema(),
                plan,
                bytes,
            }),
            _ => Err(df("a pushed plan reads exactly one placeholder scan")),
        }
    }

    /// The plan (its leaf the placeholder), e.g. for EXPLAIN.
    pub fn plan(&self) -> &Arc<dyn ExecutionPlan> {
        &self.plan
    }

    /// The schema of the rows the fragment reads.
    pub fn input_schema(&self) -> SchemaRef {
        self.input.clone()
    }

    /// The schema of what [`PlanFragment::run`] returns.
    pub fn schema(&self) -> SchemaRef {
        self.plan.schema()
    }

    /// The fragment in the form it travels in.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// A fragment from [`PlanFragment::bytes`].
    pub fn decode(bytes: &[u8]) -> Result<PlanFragment> {
        let plan =
            datafusion_proto::bytes::physical_plan_from_bytes(bytes, task_ctx()).map_err(df)?;
        let plan = mysql::checked_plan(plan).map_err(df)?;
        let plan = mysql::map_plan_exprs(plan, &decimal::fast).map_err(df)?;
        PlanFragment::with_bytes(plan, bytes.into())
    }

    /// The fragment's output over `batches` (rows of the input schema).
    pub async fn run(&self, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
        let batches = batches
            .into_iter()
            .filter(|b| b.num_rows() > 0)
            .map(|b| {
                RecordBatch::try_new_with_options(
                    self.input.clone(),
                    b.columns().to_vec(),
                    &datafusion::arrow::array::RecordBatchOptions::new()
                        .with_row_count(Some(b.num_rows())),
                )
                .map_err(df)
            })
            .collect::<Result<Vec<_>>>()?;
        let source =
            MemorySourceConfig::try_new_exec(&[batches], self.input.clone(), None).map_err(df)?;
        let plan = self
            .plan
            .clone()
            .transform_up(|p| {
                if is_leaf(&p) {
                    Ok(Transformed::yes(source.clone() as Arc<dyn ExecutionPlan>))
                } else {
                    Ok(Transformed::no(p))
                }
            })
            .map_err(df)?
            .data;
        let out = datafusion::physical_plan::collect(plan, task_ctx().clone())
            .await
            .map_err(|e| crate::error::eval("running a pushed-down plan", e))?;
        Ok(out.into_iter().filter(|b| b.num_rows() > 0).collect())
    }
}

/// Whether the stores know the aggregate function `name` (what a pushed
/// plan may use).
pub fn knows_aggregate(name: &str) -> bool {
    task_ctx().aggregate_functions().contains_key(name)
}
