//! A hash join's build-side keys, gathered for the scans on its probe
//! side: the Bloom filters of [`crate::executor::runtime_filter`] for build sides
//! too large for an IN list.
//!
//! DataFusion's dynamic filter carries the build side's keys only as an IN
//! list, which it makes a literal a key (costly past a few thousand keys:
//! TPC-H Q5's 227,597 order keys took a third of the query's CPU), and past
//! its limit as a reference to the join's hash table, which cannot leave
//! the process. So a rule ([`crate::planner::build_keys::ShareBuildKeys`], after
//! DataFusion's own)
//! puts a [`BuildKeysExec`] over the build side of every hash join whose
//! dynamic filter reached a scan: it passes the build side's batches
//! through unchanged and keeps their key columns; when every build
//! partition is in, it makes one Bloom filter per key column and hands it
//! to the scans through a shared [`BuildKeys`]:
//!
//! ```text
//!   HashJoin (dynamic filter #7)
//!     ├─ BuildKeysExec ──── BuildKeys #7 ────┐  Bloom filter per key column
//!     │    └─ scan orders                    │
//!     └─ ...                                 v
//!          └─ scan lineitem (runtime filter #7): l_orderkey IN bloom(227597 keys)
//! ```
//!
//! The scans take the filters when they start, which is after the build:
//! a join polls its probe side only once its build side is in (for a
//! partitioned join, once every partition's is). A scan that starts
//! earlier, or a build side that did not finish, pushes nothing — a
//! runtime filter is only ever an optimization: the join checks every row.
//! Build sides of more than [`MAX_BUILD_ROWS`] rows are not gathered.
//!
//! Reference: TiDB's runtime filters (`RuntimeFilter` in TiFlash), Impala's
//! and Spark's Bloom-filter joins.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use copr::bloom::KeyBloom;
use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::Result;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::statistics::{ChildStats, StatisticsArgs};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, RecordBatchStream,
    SendableRecordBatchStream, Statistics,
};
use futures::Stream;

/// The most build-side rows gathered into Bloom filters (beyond, a
/// filter's bytes for every region outweigh what it saves).
pub const MAX_BUILD_ROWS: usize = 1 << 20;

/// The keys of one join's build side, shared with the scans its dynamic
/// filter reached.
#[derive(Debug)]
pub struct BuildKeys {
    /// The dynamic filter's id, as the scans see it.
    pub filter_id: u64,
    partitions: usize,
    gathering: Mutex<Gathering>,
    blooms: OnceLock<Vec<Option<KeyBloom>>>,
}

#[derive(Debug, Default)]
struct Gathering {
    /// Per key column, its arrays so far.
    columns: Vec<Vec<ArrayRef>>,
    rows: usize,
    finished: usize,
    too_many: bool,
}

impl BuildKeys {
    pub fn new(filter_id: u64, partitions: usize, keys: usize) -> BuildKeys {
        BuildKeys {
            filter_id,
            partitions,
            gathering: Mutex::new(Gathering {
                columns: vec![Vec::new(); keys],
                ..Gathering::default()
            }),
            blooms: OnceLock::new(),
        }
    }

    fn add(&self, keys: Vec<ArrayRef>, rows: usize) {
        let mut g = self.gathering.lock().expect("build keys lock");
        if g.too_many {
            return;
        }
        g.rows += rows;
        if g.rows > MAX_BUILD_ROWS {
            g.too_many = true;
            g.columns.iter_mut().for_each(Vec::clear);
            return;
        }
        for (column, array) in g.columns.iter_mut().zip(keys) {
            column.push(array);
        }
    }

    /// One build partition is in; after the last, the filters are made.
    fn finish_partition(&self) {
        let mut g = self.gathering.lock().expect("build keys lock");
        g.finished += 1;
        if g.finished < self.partitions {
            return;
        }
        let blooms = if g.too_many {
            Vec::new()
        } else {
            g.columns
                .iter()
                .map(|arrays| KeyBloom::from_arrays(arrays))
                .collect()
        };
        g.columns = Vec::new();
        let _ = self.blooms.set(blooms);
    }

    /// Per key column (in the join's key order), its Bloom filter, once
    /// the whole build side is in (None before; an entry is None for a
    /// key type that cannot be hashed or an empty build side).
    pub fn blooms(&self) -> Option<&[Option<KeyBloom>]> {
        self.blooms.get().map(Vec::as_slice)
    }
}

/// A build side, passed through, its keys kept for a [`BuildKeys`].
#[derive(Debug)]
pub struct BuildKeysExec {
    input: Arc<dyn ExecutionPlan>,
    keys: Vec<Arc<dyn PhysicalExpr>>,
    sink: Arc<BuildKeys>,
}

impl BuildKeysExec {
    /// Passes `input` through, gathering the columns `keys` evaluate to
    /// into `sink`.
    pub fn new(
        input: Arc<dyn ExecutionPlan>,
        keys: Vec<Arc<dyn PhysicalExpr>>,
        sink: Arc<BuildKeys>,
    ) -> BuildKeysExec {
        BuildKeysExec { input, keys, sink }
    }
}

impl DisplayAs for BuildKeysExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let keys: Vec<String> = self.keys.iter().map(|k| k.to_string()).collect();
        write!(
            f,
            "BuildKeysExec: keys=[{}], filter={}",
            keys.join(", "),
            self.sink.filter_id
        )
    }
}

impl ExecutionPlan for BuildKeysExec {
    fn name(&self) -> &str {
        "BuildKeysExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        for k in &self.keys {
            if f(k)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(BuildKeysExec {
            input: children.swap_remove(0),
            keys: self.keys.clone(),
            sink: self.sink.clone(),
        }))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(partition)]
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        Ok(Arc::clone(&input_stats[0]))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        Ok(Box::pin(KeysStream {
            input: self.input.execute(partition, context)?,
            keys: self.keys.clone(),
            sink: self.sink.clone(),
            done: false,
        }))
    }
}

struct KeysStream {
    input: SendableRecordBatchStream,
    keys: Vec<Arc<dyn PhysicalExpr>>,
    sink: Arc<BuildKeys>,
    done: bool,
}

impl Stream for KeysStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.input.as_mut().poll_next(cx);
        match &next {
            Poll::Ready(Some(Ok(batch))) => {
                let keys = self
                    .keys
                    .iter()
                    .map(|k| k.evaluate(batch)?.into_array(batch.num_rows()))
                    .collect::<Result<Vec<_>>>();
                match keys {
                    Ok(keys) => self.sink.add(keys, batch.num_rows()),
                    Err(e) => return Poll::Ready(Some(Err(e))),
                }
            }
            Poll::Ready(None) if !self.done => {
                self.done = true;
                self.sink.finish_partition();
            }
            _ => {}
        }
        next
    }
}

impl RecordBatchStream for KeysStream {
    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::Int64Array;

    use super::*;

    fn ints(values: std::ops::Range<i64>) -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(values))
    }

    #[test]
    fn filters_are_made_once_every_build_partition_is_in() {
        let keys = BuildKeys::new(7, 2, 1);
        keys.add(vec![ints(0..100)], 100);
        keys.finish_partition();
        assert!(
            keys.blooms().is_none(),
            "one partition of two is not the build side"
        );
        keys.add(vec![ints(100..150)], 50);
        keys.finish_partition();
        let blooms = keys.blooms().expect("both partitions are in");
        let bloom = blooms[0].as_ref().expect("integers hash");
        assert_eq!(bloom.keys(), 150);
        assert_eq!(bloom.test(&ints(0..150)).true_count(), 150);
    }

    #[test]
    fn a_build_side_too_large_gives_no_filter() {
        let keys = BuildKeys::new(7, 1, 1);
        keys.add(vec![ints(0..10)], MAX_BUILD_ROWS);
        keys.add(vec![ints(10..20)], 10);
        keys.finish_partition();
        assert_eq!(keys.blooms(), Some(&[][..]));
    }
}
