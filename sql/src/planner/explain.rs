//! `EXPLAIN` in TiDB's shape: one row per operator with `id | estRows |
//! task | access object | operator info`, drawn as a tree.
//!
//! ```text
//! id                      estRows   task      access object  operator info
//! Projection_1            8000.00   root                     ...
//! └─TableReader_2         8000.00   root                     data:Selection_3
//!   └─Selection_3         8000.00   cop[row]                 gt(k, 5)
//!     └─TableFullScan_4   10000.00  cop[row]  table:t        keep order:false, stats:pseudo
//! ```
//!
//! Point lookups show `Point_Get` / `Batch_Point_Get` (task `root`, no
//! planner). Otherwise the DataFusion physical plan is walked: operators
//! that only move batches between partitions are left out, the others take
//! TiDB's names (`HashAgg`, `Selection`, `TopN`, `HashJoin`, ...), and each
//! table scan becomes a `TableReader` over `cop[row]` operators (what runs
//! on the kv stores; `cop[columnar]` when the columnar replicas answer,
//! including a partial `HashAgg` or a `TopN` pushed down to them) or an
//! `IndexLookUp`. Scans of tables with a columnar replica, whose engine is
//! chosen by cost, estimate rows from the table's statistics
//! ([`crate::planner::cost`]; `stats:pseudo` unless `ANALYZE TABLE` ran); others use
//! TiDB's pseudo-statistics rules (a table is 10000 rows, an equality keeps
//! 1/1000 of them, a range 1/3), and operators above a scan a filter
//! factor of 0.8.
//!
//! `EXPLAIN ANALYZE` runs the statement and adds `actRows` (rows each
//! operator produced) and `execution info`.

use std::sync::Arc;

use datafusion::physical_plan::{ExecutionPlan, displayable};

use crate::error::Result;
use crate::executor::scan::{Access, ScanExec, duration};
use crate::protocol::resultset::ColumnDef;
use crate::session::{ResultSet, Session, TxnHandle};

use crate::planner::cost::{PSEUDO_ROWS, SELECTION_FACTOR};

/// One operator of the rendered plan.
#[derive(Debug, Clone)]
struct Op {
    name: String,
    est: f64,
    task: &'static str,
    access: String,
    info: String,
    act_rows: Option<usize>,
    exec_info: String,
    children: Vec<Op>,
}

impl Op {
    fn new(name: &str, est: f64, task: &'static str) -> Op {
        Op {
            name: name.to_string(),
            est,
            task,
            access: String::new(),
            info: String::new(),
            act_rows: None,
            exec_info: String::new(),
            children: Vec::new(),
        }
    }
}

/// Numbers operators in pre-order (`Name_1`, `Name_2`, ...).
fn number(op: &mut Op, next: &mut usize) {
    op.name = format!("{}_{}", op.name, *next);
    *next += 1;
    for c in &mut op.children {
        number(c, next);
    }
}

/// Rows of the tree, with TiDB's `├─` / `└─` / `│ ` drawing.
fn render<'a>(op: &'a Op, prefix: &str, last: bool, root: bool, out: &mut Vec<(String, &'a Op)>) {
    let id = if root {
        op.name.clone()
    } else {
        format!("{prefix}{}{}", if last { "└─" } else { "├─" }, op.name)
    };
    out.push((id, op));
    let child_prefix = if root {
        String::new()
    } else {
        format!("{prefix}{}", if last { "  " } else { "│ " })
    };
    for (i, c) in op.children.iter().enumerate() {
        render(c, &child_prefix, i + 1 == op.children.len(), false, out);
    }
}

/// The text after `SomethingExec: ` in DataFusion's one-line display.
fn details(plan: &dyn ExecutionPlan) -> String {
    let line = displayable(plan).one_line().to_string();
    let line = line.trim();
    match line.split_once(": ") {
        Some((_, rest)) => rest.to_string(),
        None => String::new(),
    }
}

/// Operators that only move batches between partitions or re-chunk them.
fn transparent(name: &str) -> bool {
    matches!(
        name,
        "CoalesceBatchesExec"
            | "CoalescePartitionsExec"
            | "RepartitionExec"
            | "CooperativeExec"
            | "SortPreservingMergeExec"
            | "ProjectionExec.passthrough"
            | "BuildKeysExec"
    )
}

fn metric_rows(plan: &dyn ExecutionPlan) -> Option<usize> {
    plan.metrics().and_then(|m| m.output_rows())
}

/// A scan's operators as TiDB draws them: `TableReader` over a table scan
/// (with its pushed selection, limit and plan), or `IndexLookUp` over an
/// index range scan and the row fetch. One function: both trees share the
/// estimates computed at the top, and each reads as the tree it draws.
fn scan_ops(scan: &ScanExec, analyze: bool) -> Op {
    let table = format!("table:{}", scan.table.name);
    let filters = scan.filter_text.join(", ");
    let act = if analyze { metric_rows(scan) } else { None };
    let exec_info = if analyze {
        scan.exec_info()
    } else {
        String::new()
    };
    let task = if scan.task.columnar {
        "cop[columnar]"
    } else {
        "cop[row]"
    };
    // Statistics when the engine was chosen by cost, else pseudo ones.
    let (total, rows, kept, stats) = match scan.estimate {
        Some(e) => (
            e.total,
            Some(e.rows),
            e.kept,
            if e.analyzed { "" } else { ", stats:pseudo" },
        ),
        None => (PSEUDO_ROWS, None, SELECTION_FACTOR, ", stats:pseudo"),
    };
    match &scan.access {
        Access::Table { range, .. } => {
            let (name, est, info) = match range {
                None => ("TableFullScan", total, format!("keep order:false{stats}")),
                Some(r) => (
                    "TableRangeScan",
                    rows.unwrap_or(PSEUDO_ROWS / 3.0),
                    format!("range:{r}, keep order:false{stats}"),
                ),
            };
            let mut leaf = Op::new(name, est, task);
            leaf.access = table;
            leaf.info = info + &scan.runtime_filter_text();
            let mut top = leaf;
            if !filters.is_empty() {
                let mut sel = Op::new("Selection", top.est.min(total * kept), task);
                sel.info = filters;
                sel.children.push(top);
                top = sel;
            }
            if let Some(l) = scan.task.limit {
                let mut lim = Op::new("Limit", top.est.min(l as f64), task);
                lim.info = format!("offset:0, count:{l}");
                lim.children.push(top);
                top = lim;
            }
            if let Some(plan) = &scan.task.plan {
                // The pushed operators, over the scan they read.
                let mut ops = plan_ops_over(plan.plan(), false, Some(&top));
                if ops.len() == 1 {
                    top = ops.remove(0);
                }
            }
            let mut reader = Op::new("TableReader", top.est, "root");
            reader.act_rows = act;
            reader.exec_info = exec_info;
            reader.children.push(top);
            reader
        }
        Access::Index {
            index,
            ranges,
            described,
            ..
        } => {
            let cols = scan
                .table
                .index(index)
                .map(|i| {
                    i.columns
                        .iter()
                        .map(|c| c.name.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let est = match rows {
                Some(r) => r,
                None if described.contains("range") => PSEUDO_ROWS / 3.0,
                None => (ranges.len() as f64 * PSEUDO_ROWS / 1000.0).min(PSEUDO_ROWS),
            };
            let mut build = Op::new("IndexRangeScan(Build)", est, "cop[row]");
            build.access = format!("{table}, index:{index}({cols})");
            build.info = format!("range:{described}, keep order:false{stats}");
            let mut probe = Op::new("TableRowIDScan(Probe)", est, "cop[row]");
            probe.access = table;
            probe.info = format!("keep order:false{stats}");
            let mut probe_top = probe;
            if !filters.is_empty() {
                let mut sel = Op::new("Selection(Probe)", est * SELECTION_FACTOR, "root");
                sel.info = filters;
                sel.children.push(probe_top);
                probe_top = sel;
            }
            let mut est_top = probe_top.est;
            let mut info = String::new();
            if let Some(l) = scan.task.limit {
                est_top = est_top.min(l as f64);
                info = format!("limit:{l}");
            }
            let mut lookup = Op::new("IndexLookUp", est_top, "root");
            lookup.info = info;
            lookup.act_rows = act;
            lookup.exec_info = exec_info;
            lookup.children = vec![build, probe_top];
            lookup
        }
    }
}

/// The operators of a DataFusion plan (several when a transparent node
/// has several inputs).
fn plan_ops(plan: &Arc<dyn ExecutionPlan>, analyze: bool) -> Vec<Op> {
    plan_ops_over(plan, analyze, None)
}

/// [`plan_ops`]; with `scan`, the plan is one pushed to the stores: its
/// placeholder leaf is `scan` and its operators run in `scan`'s task.
fn plan_ops_over(plan: &Arc<dyn ExecutionPlan>, analyze: bool, scan: Option<&Op>) -> Vec<Op> {
    if let Some(scan) = plan.downcast_ref::<ScanExec>() {
        return vec![scan_ops(scan, analyze)];
    }
    if let Some(leaf) = scan
        && plan.children().is_empty()
    {
        return vec![leaf.clone()];
    }
    let name = plan.name().to_string();
    let children: Vec<Op> = plan
        .children()
        .into_iter()
        .flat_map(|c| plan_ops_over(c, analyze, scan))
        .collect();
    if transparent(&name) {
        return children;
    }
    let child_est = children.iter().map(|c| c.est).fold(0.0, f64::max);
    let info = details(plan.as_ref());
    let (tidb, est) = match name.as_str() {
        "ProjectionExec" => ("Projection", child_est),
        "FilterExec" => ("Selection", child_est * SELECTION_FACTOR),
        "AggregateExec" => {
            let grouped = !info.contains("gby=[]");
            (
                "HashAgg",
                if grouped {
                    child_est * SELECTION_FACTOR
                } else {
                    1.0
                },
            )
        }
        n if n.starts_with("SortExec") && info.contains("fetch=") => ("TopN", child_est),
        n if n.starts_with("SortExec") => ("Sort", child_est),
        "GlobalLimitExec" | "LocalLimitExec" => ("Limit", child_est),
        "HashJoinExec" => ("HashJoin", child_est),
        "NestedLoopJoinExec" => ("NestedLoopJoin", child_est),
        "CrossJoinExec" => ("CartesianJoin", children.iter().map(|c| c.est).product()),
        "SortMergeJoinExec" => ("MergeJoin", child_est),
        "SymmetricHashJoinExec" => ("HashJoin", child_est),
        "UnionExec" | "InterleaveExec" => ("Union", children.iter().map(|c| c.est).sum()),
        "WindowAggExec" | "BoundedWindowAggExec" => ("Window", child_est),
        "PlaceholderRowExec" => ("TableDual", 1.0),
        "EmptyExec" => ("TableDual", 0.0),
        "UnnestExec" => ("Unnest", child_est),
        "RecursiveQueryExec" => ("CTEFullScan", child_est),
        other => (other.strip_suffix("Exec").unwrap_or(other), child_est),
    };
    let est = match fetch_of(&info) {
        Some(n) => est.min(n as f64),
        None => est,
    };
    let mut op = Op::new(tidb, est, scan.map_or("root", |s| s.task));
    op.info = info;
    if analyze {
        op.act_rows = metric_rows(plan.as_ref());
        // CPU time summed over the operator's partitions.
        if let Some(t) = plan.metrics().and_then(|m| m.elapsed_compute()) {
            op.exec_info = format!("time:{}", duration(t));
        }
    }
    op.children = children;
    vec![op]
}

/// `fetch=N` in a DataFusion operator's details.
fn fetch_of(info: &str) -> Option<usize> {
    let rest = &info[info.find("fetch=")? + 6..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Point lookups: `Point_Get` for one key, `Batch_Point_Get` for several.
fn point_get_op(pg: &crate::planner::point_get::PointGet) -> Op {
    let n = pg.keys.len();
    let name = if n == 1 {
        "Point_Get"
    } else {
        "Batch_Point_Get"
    };
    let mut op = Op::new(name, n as f64, "root");
    let keys: Vec<String> = pg
        .keys
        .iter()
        .map(|k| {
            let vals: Vec<String> = k.iter().map(crate::dml::write::show).collect();
            vals.join(" ")
        })
        .collect();
    op.access = match &pg.index {
        None => {
            if n == 1 {
                format!("table:{}, handle:{}", pg.table.name, keys[0])
            } else {
                format!("table:{}, handle:[{}]", pg.table.name, keys.join(" "))
            }
        }
        Some(idx) => {
            let cols: Vec<String> = idx.columns.iter().map(|c| c.name.clone()).collect();
            format!(
                "table:{}, index:{}({})",
                pg.table.name,
                idx.name,
                cols.join(", ")
            )
        }
    };
    op.info = if n == 1 {
        if pg.for_update {
            "lock".into()
        } else {
            String::new()
        }
    } else {
        "keep order:false, desc:false".into()
    };
    op
}

/// `EXPLAIN [ANALYZE] <query>`.
pub async fn explain(
    session: &Session,
    stmt: sqlparser::ast::Statement,
    txn: Arc<TxnHandle>,
    analyze: bool,
) -> Result<ResultSet> {
    let mut root = if let sqlparser::ast::Statement::Query(q) = &stmt
        && let Some(pg) = crate::planner::point_get::plan(session, q)
    {
        let mut op = point_get_op(&pg);
        if analyze {
            let rs = crate::planner::point_get::run(session, &pg, &txn).await?;
            op.act_rows = Some(rs.rows.len());
        }
        op
    } else {
        let (bound, _) = crate::planner::rewrite::for_datafusion(session, stmt)?;
        let read = Arc::new(crate::planner::engine::ReadPolicy::of(session, &bound));
        let ctx = crate::planner::StatementCtx {
            schema: txn.schema.clone(),
            txn,
            row_id: false,
            latest: false,
            read: read.clone(),
        };
        let plan = crate::planner::physical_plan(session, bound, ctx).await?;
        if analyze {
            crate::planner::execute_plan(session, plan.clone()).await?;
        }
        read.report(session);
        let mut ops = plan_ops(&plan, analyze);
        match ops.len() {
            1 => ops.remove(0),
            _ => {
                let mut u = Op::new("Union", ops.iter().map(|o| o.est).sum(), "root");
                u.children = ops;
                u
            }
        }
    };
    number(&mut root, &mut 1);
    let mut lines = Vec::new();
    render(&root, "", true, true, &mut lines);
    let mut names = vec!["id", "estRows"];
    if analyze {
        names.push("actRows");
    }
    names.extend(["task", "access object"]);
    if analyze {
        names.push("execution info");
    }
    names.push("operator info");
    let columns: Vec<ColumnDef> = names
        .iter()
        .map(|n| ColumnDef::expr(n, crate::protocol::ColumnType::VarString))
        .collect();
    let rows = lines
        .into_iter()
        .map(|(id, op)| {
            let mut row = vec![id, format!("{:.2}", op.est)];
            if analyze {
                row.push(op.act_rows.map(|n| n.to_string()).unwrap_or_default());
            }
            row.push(op.task.to_string());
            row.push(op.access.clone());
            if analyze {
                row.push(op.exec_info.clone());
            }
            row.push(op.info.clone());
            row.into_iter()
                .map(|s| codec::datum::Datum::Bytes(s.into_bytes()))
                .collect()
        })
        .collect();
    Ok(ResultSet { columns, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_trees_like_tidb() {
        let mut root = Op::new("Projection", 1.0, "root");
        let mut reader = Op::new("TableReader", 1.0, "root");
        reader
            .children
            .push(Op::new("TableFullScan", 1.0, "cop[row]"));
        root.children.push(Op::new("Selection", 1.0, "root"));
        root.children.push(reader);
        number(&mut root, &mut 1);
        let mut lines = Vec::new();
        render(&root, "", true, true, &mut lines);
        let ids: Vec<&str> = lines.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "Projection_1",
                "├─Selection_2",
                "└─TableReader_3",
                "  └─TableFullScan_4"
            ]
        );
    }

    #[test]
    fn reads_fetch_counts() {
        assert_eq!(fetch_of("TopK(fetch=10), expr=[a@0 ASC]"), Some(10));
        assert_eq!(fetch_of("expr=[a@0 ASC]"), None);
    }
}
