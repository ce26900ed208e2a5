//! # The table scan: [`ScanExec`]
//!
//! The execution node that reads one table on either engine, as the
//! planner described it: the keys of its access path
//! ([`crate::planner::access_path`]), the pushed filters and fragment, the
//! runtime filters hash joins offer it. It streams the regions'
//! coprocessor answers (row stores, or the columnar replicas when the
//! planner chose them, falling back to the row stores when a replica
//! cannot answer) as Arrow batches.
//!
//! A transaction's uncommitted writes live in its client-side buffer, which
//! the stores cannot see: when the buffer holds writes in the table's range,
//! the scan reads through the transaction (buffer merged) and runs the same
//! [`Fragment`] locally (TiDB's `UnionScan`).

use std::fmt;
use std::sync::Arc;

use codec::datum::Datum;
use codec::table::{self as keys, Handle};
use copr::{Fragment, PlanFragment};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::Statistics;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::filter_pushdown::{
    ChildPushdownResult, FilterPushdownPhase, FilterPushdownPropagation,
};
use datafusion::physical_plan::metrics::{
    Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet, Time,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use futures::StreamExt;
use proto::kvrpcpb::TableScan;
use txn::client::{CopTask, Snapshot};

use crate::catalog::model::{HandleKind, TableInfo};
use crate::catalog::stats::StatsCache;
use crate::executor::build_keys::BuildKeys;
use crate::session::TxnHandle;

/// `e` with its columns unqualified (the scan knows columns by name).
fn unqualified(e: &Expr) -> datafusion::error::Result<Expr> {
    e.clone()
        .transform(|e| match e {
            Expr::Column(c) if c.relation.is_some() => Ok(Transformed::yes(Expr::Column(
                datafusion::common::Column::new_unqualified(c.name),
            ))),
            other => Ok(Transformed::no(other)),
        })
        .map(|t| t.data)
}

/// Which keys a scan reads.
#[derive(Debug, Clone)]
pub enum Access {
    /// Record keys `[start, end)`; `range` says whether they are narrowed
    /// from the whole table (a handle range), for EXPLAIN.
    Table {
        start: Vec<u8>,
        end: Vec<u8>,
        range: Option<String>,
    },
    /// Index entries in `ranges`, then the rows they point at.
    Index {
        index: String,
        ranges: Vec<(Vec<u8>, Vec<u8>)>,
        described: String,
        /// What narrows the entries, for the cost of the access.
        narrowed: Vec<Narrowing>,
    },
}

/// How one column of an index narrows its entries (columns by offset in
/// the table).
#[derive(Debug, Clone, PartialEq)]
pub enum Narrowing {
    /// Equal to one of `points` values.
    Points { column: usize, points: usize },
    /// Within bounds (numeric ones, when known, for statistics).
    Range {
        column: usize,
        lo: Option<f64>,
        hi: Option<f64>,
    },
}

/// What the statistics say a scan reads, for EXPLAIN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScanEstimate {
    /// The table's rows.
    pub total: f64,
    /// The rows the chosen access path reads.
    pub rows: f64,
    /// From `ANALYZE TABLE` (not region heartbeats or pseudo counts).
    pub analyzed: bool,
    /// The share of the table's rows that the pushed filters keep
    /// ([`crate::planner::selectivity`]; they include the conditions the access
    /// path narrows by).
    pub kept: f64,
}

/// A table scan in a DataFusion plan.
pub struct ScanExec {
    pub table: Arc<TableInfo>,
    /// `db.table`, for EXPLAIN.
    pub display: String,
    pub access: Access,
    pub task: CopTask,
    /// The pushed filters as text, for EXPLAIN.
    pub filter_text: Vec<String>,
    /// From the table's statistics, when the engine was chosen by cost.
    pub estimate: Option<ScanEstimate>,
    /// The table's statistics behind `estimate` (per-column distinct
    /// values and NULLs once analyzed), for DataFusion's join estimates.
    pub table_estimate: Option<Arc<crate::catalog::stats::TableEstimate>>,
    /// Told when a columnar read had to fall back to the row store.
    pub on_fallback: Option<Arc<StatsCache>>,
    /// Hash joins' dynamic filters offered to this scan, over its rows
    /// before any pushed plan ([`crate::executor::runtime_filter`]).
    runtime_filters: Vec<Arc<dyn PhysicalExpr>>,
    /// The build-side keys of those joins ([`crate::executor::build_keys`]).
    build_keys: Vec<Arc<BuildKeys>>,
    txn: Arc<TxnHandle>,
    latest: bool,
    schema: SchemaRef,
    props: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl fmt::Debug for ScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScanExec({})", self.display)
    }
}

impl ScanExec {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        table: Arc<TableInfo>,
        display: String,
        access: Access,
        scan: TableScan,
        filters: &[Expr],
        output: Vec<u32>,
        limit: Option<usize>,
        txn: Arc<TxnHandle>,
        latest: bool,
        schema: SchemaRef,
    ) -> datafusion::error::Result<ScanExec> {
        let encoded = filters
            .iter()
            .map(|f| {
                let f = unqualified(f)?;
                copr::encode_filter(&f).map_err(|e| DataFusionError::External(Box::new(e)))
            })
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        let props = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(ScanExec {
            table,
            display,
            access,
            task: CopTask {
                scan,
                filters: encoded,
                output,
                limit,
                page_records: 0,
                columnar: false,
                plan: None,
            },
            filter_text: filters.iter().map(|f| f.to_string()).collect(),
            estimate: None,
            table_estimate: None,
            on_fallback: None,
            runtime_filters: Vec::new(),
            build_keys: Vec::new(),
            txn,
            latest,
            schema,
            props: Arc::new(props),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// This scan with `plan` run over its rows where they are read (see
    /// [`crate::planner::pushdown`]); the scan then returns the plan's output.
    pub fn with_plan(&self, plan: Arc<PlanFragment>) -> ScanExec {
        let mut exec = self.copy();
        exec.schema = plan.schema();
        exec.props = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(exec.schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        exec.task.plan = Some(plan);
        exec
    }

    /// `, runtime filter:...` for EXPLAIN when joins above filter this
    /// scan while it runs (their values once known, shortened).
    pub fn runtime_filter_text(&self) -> String {
        if self.runtime_filters.is_empty() {
            return String::new();
        }
        let schema = match &self.task.plan {
            Some(plan) => plan.input_schema(),
            None => self.schema.clone(),
        };
        let now = crate::executor::runtime_filter::current_with_keys(
            &self.runtime_filters,
            &schema,
            &self.build_keys,
            |name| key_stats(&self.task, self.table_estimate.as_deref(), name),
        );
        let mut text = if now.is_empty() {
            self.runtime_filters
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join(" AND ")
        } else {
            now.iter()
                .map(crate::executor::runtime_filter::display)
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        if let Some((cut, _)) = text.char_indices().nth(120) {
            text.truncate(cut);
            text.push_str("...");
        }
        format!(", runtime filter:{text}")
    }

    /// Whether a hash join's dynamic filter `id` reached this scan.
    pub fn has_runtime_filter(&self, id: u64) -> bool {
        self.runtime_filters
            .iter()
            .any(|f| f.expression_id() == Some(id))
    }

    /// This scan, also taking the Bloom filters of `keys` when it starts.
    pub fn with_build_keys(&self, keys: Arc<BuildKeys>) -> ScanExec {
        let mut exec = self.copy();
        exec.build_keys.push(keys);
        exec
    }

    /// The same scan, with metrics of its own.
    fn copy(&self) -> ScanExec {
        ScanExec {
            table: self.table.clone(),
            display: self.display.clone(),
            access: self.access.clone(),
            task: self.task.clone(),
            filter_text: self.filter_text.clone(),
            estimate: self.estimate,
            table_estimate: self.table_estimate.clone(),
            on_fallback: self.on_fallback.clone(),
            runtime_filters: self.runtime_filters.clone(),
            build_keys: self.build_keys.clone(),
            txn: self.txn.clone(),
            latest: self.latest,
            schema: self.schema.clone(),
            props: self.props.clone(),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// What EXPLAIN ANALYZE shows of a run: coprocessor pages and the
    /// records the stores (or the lookup) read.
    pub fn exec_info(&self) -> String {
        let m = self.metrics.clone_inner();
        let get = |n: &str| m.sum_by_name(n).map(|v| v.as_usize()).unwrap_or(0);
        format!(
            "cop_time:{}, cop_pages:{}, scanned_records:{}",
            duration(get("cop_time")),
            get("cop_pages"),
            get("scanned_records")
        )
    }

    fn fragment(&self) -> txn::Result<Fragment> {
        Ok(Fragment::new(
            &self.task.scan,
            &self.task.filters,
            &self.task.output,
            self.task.limit.unwrap_or(0) as u64,
        )?)
    }
}

impl DisplayAs for ScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ScanExec: table={}", self.display)?;
        match &self.access {
            Access::Table { range: None, .. } => write!(f, ", full scan")?,
            Access::Table { range: Some(r), .. } => write!(f, ", handle range {r}")?,
            Access::Index {
                index, described, ..
            } => write!(f, ", index {index} ({described})")?,
        }
        if !self.filter_text.is_empty() {
            write!(f, ", filters=[{}]", self.filter_text.join(", "))?;
        }
        if let Some(l) = self.task.limit {
            write!(f, ", limit={l}")?;
        }
        if let Some(p) = &self.task.plan {
            let mut ops = Vec::new();
            let mut node = Some(p.plan().clone());
            while let Some(n) = node {
                ops.push(n.name().to_string());
                node = n.children().first().map(|c| (*c).clone());
            }
            write!(f, ", pushed=[{}]", ops.join(" <- "))?;
        }
        Ok(())
    }
}

/// What the stream reads next.
enum State {
    Start,
    Cop(futures::stream::BoxStream<'static, txn::Result<txn::client::Page>>),
    Done,
}

struct Reader {
    exec: ScanParts,
    state: State,
}

/// The parts of a [`ScanExec`] its stream owns.
#[derive(Clone)]
struct ScanParts {
    table: Arc<TableInfo>,
    access: Access,
    task: CopTask,
    txn: Arc<TxnHandle>,
    latest: bool,
    schema: SchemaRef,
    fragment: Arc<Fragment>,
    on_fallback: Option<Arc<StatsCache>>,
    runtime_filters: Vec<Arc<dyn PhysicalExpr>>,
    build_keys: Vec<Arc<BuildKeys>>,
    table_estimate: Option<Arc<crate::catalog::stats::TableEstimate>>,
    /// The rows `runtime_filters` are written against.
    runtime_schema: SchemaRef,
    output_rows: Count,
    pages: Count,
    scanned: Count,
    /// Time spent waiting for the stores' pages.
    cop_time: Time,
}

/// The analyzed statistics of the scan's column `name`.
fn key_stats(
    task: &CopTask,
    estimate: Option<&crate::catalog::stats::TableEstimate>,
    name: &str,
) -> Option<crate::catalog::stats::ColumnStats> {
    let spec = task.scan.columns.iter().find(|c| c.name == name)?;
    estimate?.column(spec.id).cloned()
}

fn ext(e: impl Into<crate::Error>) -> DataFusionError {
    let e: crate::Error = e.into();
    DataFusionError::External(Box::new(e))
}

impl ScanParts {
    /// The task with what the runtime filters hold by now (the build
    /// sides of the joins above are in when the scan starts).
    fn task_now(&self) -> CopTask {
        let mut task = self.task.clone();
        let now = crate::executor::runtime_filter::current_with_keys(
            &self.runtime_filters,
            &self.runtime_schema,
            &self.build_keys,
            |name| key_stats(&self.task, self.table_estimate.as_deref(), name),
        );
        for f in now {
            match copr::encode_filter(&f) {
                Ok(bytes) => task.filters.push(bytes),
                Err(e) => tracing::debug!("runtime filter {f} not pushed: {e}"),
            }
        }
        task
    }

    /// Rebinds a batch to the plan's schema (which carries the column
    /// metadata result sets need).
    fn bind(&self, b: RecordBatch) -> datafusion::error::Result<RecordBatch> {
        self.output_rows.add(b.num_rows());
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            b.columns().to_vec(),
            &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(b.num_rows())),
        )?)
    }

    /// Reads everything through the transaction (its buffer merged) and
    /// runs the fragment here.
    async fn local(&self) -> datafusion::error::Result<RecordBatch> {
        let txn = self.txn.txn.read().await;
        let records = match &self.access {
            Access::Table { start, end, .. } => {
                let r = if self.latest {
                    txn.scan_latest(start, end, 0, false).await
                } else {
                    txn.scan(start, end, 0, false).await
                };
                r.map_err(ext)?
            }
            Access::Index { ranges, .. } => {
                let mut handles = Vec::new();
                for (s, e) in ranges {
                    let entries = if self.latest {
                        txn.scan_latest(s, e, 0, false).await
                    } else {
                        txn.scan(s, e, 0, false).await
                    }
                    .map_err(ext)?;
                    for (k, v) in entries {
                        handles.push(self.row_key(&k, &v)?);
                    }
                }
                txn.batch_get(handles).await.map_err(ext)?
            }
        };
        drop(txn);
        self.scanned.add(records.len());
        let rows = self
            .fragment
            .run(&records, self.fragment.limit)
            .map_err(ext)?;
        match &self.task.plan {
            Some(plan) => {
                let out = plan.run(vec![rows]).await.map_err(ext)?;
                Ok(datafusion::arrow::compute::concat_batches(
                    &plan.schema(),
                    &out,
                )?)
            }
            None => Ok(rows),
        }
    }

    /// The record key an index entry points at.
    fn row_key(&self, key: &[u8], value: &[u8]) -> datafusion::error::Result<Vec<u8>> {
        let Access::Index { index, .. } = &self.access else {
            return Err(ext(crate::Error::internal("not an index scan")));
        };
        let idx = self
            .table
            .index(index)
            .ok_or_else(|| ext(crate::Error::internal("index vanished")))?;
        let (_, _, _, handle) = keys::decode_index_key(key, idx.columns.len()).map_err(ext)?;
        let handle = match (handle.as_slice(), &self.table.handle) {
            ([], _) => crate::table::decode_handle(&self.table, value).map_err(ext)?,
            (_, HandleKind::Common) => Handle::Common(handle),
            ([Datum::I64(h)], _) => Handle::Int(*h),
            _ => return Err(ext(crate::Error::internal("bad index entry"))),
        };
        Ok(keys::encode_row_key(self.table.id, &handle))
    }

    /// Index entries, then rows, from a snapshot (no buffered writes in
    /// range).
    async fn index_lookup(&self, snap: &Snapshot) -> datafusion::error::Result<RecordBatch> {
        let Access::Index { ranges, .. } = &self.access else {
            return Err(ext(crate::Error::internal("not an index scan")));
        };
        let mut handles = Vec::new();
        for (s, e) in ranges {
            for (k, v) in snap.scan(s, e, 0, false).await.map_err(ext)? {
                handles.push(self.row_key(&k, &v)?);
            }
        }
        let mut records = snap.batch_get(handles).await.map_err(ext)?;
        // Rows in handle order, as a table scan would return them.
        records.sort_by(|a, b| a.0.cmp(&b.0));
        self.scanned.add(records.len());
        self.fragment
            .run(&records, self.fragment.limit)
            .map_err(ext)
    }

    async fn next(&self, state: State) -> datafusion::error::Result<Option<(RecordBatch, State)>> {
        match state {
            State::Done => Ok(None),
            State::Start => {
                let (start, end) = keys::table_range(self.table.id);
                let txn = self.txn.txn.read().await;
                if txn.has_writes_in(&start, &end) {
                    drop(txn);
                    let b = self.local().await?;
                    return Ok(Some((self.bind(b)?, State::Done)));
                }
                let snap = if self.latest {
                    txn.latest_snapshot().await
                } else {
                    txn.snapshot()
                }
                .map_err(ext)?;
                drop(txn);
                match &self.access {
                    Access::Index { .. } => {
                        let b = self.index_lookup(&snap).await?;
                        Ok(Some((self.bind(b)?, State::Done)))
                    }
                    Access::Table { start, end, .. } => {
                        let pages = snap.coprocessor(start, end, self.task_now()).pages();
                        Box::pin(self.next(State::Cop(pages))).await
                    }
                }
            }
            State::Cop(mut pages) => loop {
                let waiting = self.cop_time.timer();
                let page = pages.next().await;
                waiting.done();
                let Some(page) = page else {
                    return Ok(None);
                };
                let page = page.map_err(ext)?;
                self.scanned.add(page.scanned as usize);
                if page.fell_back
                    && let Some(stats) = &self.on_fallback
                {
                    stats.mark_lagging(self.table.id);
                }
                self.pages.add(1);
                let batches: Vec<RecordBatch> = page
                    .batches
                    .into_iter()
                    .filter(|b| b.num_rows() > 0)
                    .collect();
                if batches.is_empty() {
                    continue;
                }
                let b = datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches)?;
                return Ok(Some((self.bind(b)?, State::Cop(pages))));
            },
        }
    }
}

impl ExecutionPlan for ScanExec {
    fn name(&self) -> &'static str {
        "ScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    /// The runtime filters (a hash join computes its dynamic filter only
    /// when it finds it here, in its probe side).
    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> datafusion::error::Result<TreeNodeRecursion>,
    ) -> datafusion::error::Result<TreeNodeRecursion> {
        for filter in &self.runtime_filters {
            if f(filter)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    /// Keeps the dynamic filters of hash joins above (they are applied
    /// where the rows are read once known); other filters are left to the
    /// operators that hold them. Nothing is reported as pushed: the join
    /// checks every row anyway.
    fn handle_child_pushdown_result(
        &self,
        phase: FilterPushdownPhase,
        result: ChildPushdownResult,
        _config: &datafusion::config::ConfigOptions,
    ) -> datafusion::error::Result<FilterPushdownPropagation<Arc<dyn ExecutionPlan>>> {
        let dynamic: Vec<Arc<dyn PhysicalExpr>> = result
            .parent_filters
            .iter()
            .map(|f| f.filter.clone())
            .filter(crate::executor::runtime_filter::is_dynamic)
            .collect();
        let propagation = FilterPushdownPropagation::all_unsupported(result);
        if phase != FilterPushdownPhase::Post || dynamic.is_empty() || self.task.plan.is_some() {
            return Ok(propagation);
        }
        let mut with = self.copy();
        with.runtime_filters.extend(dynamic);
        Ok(propagation.with_updated_node(Arc::new(with)))
    }

    /// The estimated rows out (when the table has an estimate and no plan
    /// is pushed), so DataFusion builds hash joins on the smaller side and
    /// collects a small build side once instead of repartitioning both.
    fn partition_statistics(
        &self,
        _partition: Option<usize>,
    ) -> datafusion::error::Result<Arc<Statistics>> {
        let mut stats = Statistics::new_unknown(&self.schema);
        if let (Some(e), None) = (&self.estimate, &self.task.plan) {
            let mut rows = e.rows.min(e.total * e.kept);
            if let Some(l) = self.task.limit {
                rows = rows.min(l as f64);
            }
            let rows = rows.round() as usize;
            stats.num_rows = Precision::Inexact(rows);
            // Distinct values and NULLs of analyzed columns, so joins on
            // them are estimated (and ordered) by DataFusion.
            if let Some(te) = &self.table_estimate {
                for (col, &i) in stats.column_statistics.iter_mut().zip(&self.task.output) {
                    let Some(c) = self
                        .task
                        .scan
                        .columns
                        .get(i as usize)
                        .and_then(|spec| te.column(spec.id))
                    else {
                        continue;
                    };
                    col.distinct_count = Precision::Inexact((c.ndv as usize).clamp(1, rows.max(1)));
                    col.null_count = Precision::Inexact((c.nulls as usize).min(rows));
                }
            }
        }
        Ok(Arc::new(stats))
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> datafusion::error::Result<SendableRecordBatchStream> {
        let fragment = Arc::new(self.fragment().map_err(ext)?);
        let output_rows = MetricBuilder::new(&self.metrics).output_rows(partition);
        let pages = MetricBuilder::new(&self.metrics).counter("cop_pages", partition);
        let scanned = MetricBuilder::new(&self.metrics).counter("scanned_records", partition);
        let cop_time = MetricBuilder::new(&self.metrics).subset_time("cop_time", partition);
        let reader = Reader {
            exec: ScanParts {
                table: self.table.clone(),
                access: self.access.clone(),
                task: self.task.clone(),
                txn: self.txn.clone(),
                latest: self.latest,
                schema: self.schema.clone(),
                fragment,
                on_fallback: self.on_fallback.clone(),
                runtime_filters: self.runtime_filters.clone(),
                build_keys: self.build_keys.clone(),
                table_estimate: self.table_estimate.clone(),
                runtime_schema: match &self.task.plan {
                    Some(plan) => plan.input_schema(),
                    None => self.schema.clone(),
                },
                output_rows,
                pages,
                scanned,
                cop_time,
            },
            state: State::Start,
        };
        let stream = futures::stream::try_unfold(reader, |mut r| async move {
            let state = std::mem::replace(&mut r.state, State::Done);
            match r.exec.next(state).await? {
                None => Ok(None),
                Some((batch, next)) => {
                    r.state = next;
                    Ok(Some((batch, r)))
                }
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            stream,
        )))
    }
}

/// Nanoseconds as EXPLAIN ANALYZE shows times (`850µs`, `12.3ms`, `1.52s`).
pub fn duration(ns: usize) -> String {
    let ns = ns as f64;
    if ns >= 1e9 {
        format!("{:.2}s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.1}ms", ns / 1e6)
    } else {
        format!("{:.0}µs", ns / 1e3)
    }
}
