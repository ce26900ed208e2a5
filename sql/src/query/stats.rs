//! # Table statistics, for choosing an engine by cost
//!
//! Two sources, as in TiDB:
//!
//! - `ANALYZE TABLE t [, ...]` counts the table's rows and, per column, its
//!   distinct values, NULLs and (numeric, date and time columns) minimum
//!   and maximum — one aggregate query over the table, which itself reads
//!   the columnar replica when there is one. The result is stored in the
//!   catalog's key space (`mStats:{table_id}`, JSON), so every SQL server
//!   sees it.
//! - PD's region map: the regions of the table's record range with their
//!   approximate key counts (from region heartbeats), and whether each has
//!   a caught-up learner on a columnar store.
//!
//! [`StatsCache`] keeps both per table for [`STATS_LEASE`] (TiDB's stats
//! lease), so planning a statement costs no round trip most of the time.
//! A read that found a columnar replica unable to answer marks the table's
//! replica unavailable until the next refresh ([`StatsCache::mark_lagging`]),
//! so the next statements go to the row store at once instead of trying
//! the replica again.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use codec::datum::{Datum, DatumKind};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sqlparser::ast::{Analyze, ObjectName};

use super::scan::numeric;
use crate::catalog::model::TableInfo;
use crate::error::{Error, Result};
use crate::protocol::resultset::ColumnDef;
use crate::server::Shared;
use crate::session::{ResultSet, Session};
use txn::client::TxnMode;

/// How long cached statistics are used before they are read again.
pub const STATS_LEASE: Duration = Duration::from_secs(3);

/// What `ANALYZE TABLE` found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TableStats {
    pub row_count: u64,
    /// The snapshot it counted (a TSO timestamp).
    pub version: u64,
    /// By column id.
    pub columns: BTreeMap<i64, ColumnStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ColumnStats {
    /// Distinct non-NULL values.
    pub ndv: u64,
    pub nulls: u64,
    /// Bounds of numeric, date and time columns (dates as days, times as
    /// microseconds), for range estimates.
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// What the engine choice knows about a table.
#[derive(Debug, Clone, Default)]
pub struct TableEstimate {
    pub analyzed: Option<TableStats>,
    /// Sum of the approximate key counts PD has for the table's regions.
    pub approximate_rows: u64,
    pub regions: usize,
    /// Every region has a caught-up learner on a columnar store.
    pub replica_ready: bool,
}

impl TableEstimate {
    /// The table's rows: analyzed, else from region heartbeats, else
    /// TiDB's pseudo count.
    pub fn rows(&self) -> f64 {
        match &self.analyzed {
            Some(s) => s.row_count as f64,
            None if self.approximate_rows > 0 => self.approximate_rows as f64,
            None => super::cost::PSEUDO_ROWS,
        }
    }

    pub fn column(&self, id: i64) -> Option<&ColumnStats> {
        self.analyzed.as_ref()?.columns.get(&id)
    }
}

struct Entry {
    estimate: Arc<TableEstimate>,
    fetched: Instant,
}

/// Per-table estimates, refreshed after [`STATS_LEASE`].
#[derive(Default)]
pub struct StatsCache {
    tables: Mutex<HashMap<i64, Entry>>,
}

impl StatsCache {
    /// The estimate for `t`, read again when older than the lease.
    pub async fn get(&self, shared: &Shared, t: &TableInfo) -> Result<Arc<TableEstimate>> {
        if let Some(e) = self.tables.lock().get(&t.id)
            && e.fetched.elapsed() < STATS_LEASE
        {
            return Ok(e.estimate.clone());
        }
        let estimate = Arc::new(fetch(shared, t).await?);
        self.tables.lock().insert(
            t.id,
            Entry {
                estimate: estimate.clone(),
                fetched: Instant::now(),
            },
        );
        Ok(estimate)
    }

    /// The table's columnar replica could not answer a read: treat it as
    /// unavailable until the next refresh.
    pub fn mark_lagging(&self, table: i64) {
        if let Some(e) = self.tables.lock().get_mut(&table) {
            let mut est = (*e.estimate).clone();
            est.replica_ready = false;
            e.estimate = Arc::new(est);
        }
    }

    /// Forgets a table's estimate (after ANALYZE, DDL).
    pub fn invalidate(&self, table: i64) {
        self.tables.lock().remove(&table);
    }
}

/// Reads the stored statistics and PD's view of the table's regions.
async fn fetch(shared: &Shared, t: &TableInfo) -> Result<TableEstimate> {
    let ts = shared.client.current_ts().await?;
    let snap = shared.client.snapshot(ts).await?;
    let analyzed = match snap.get(&crate::catalog::meta::stats_key(t.id)).await? {
        Some(v) => serde_json::from_slice(&v).ok(),
        None => None,
    };
    let regions = super::columnar_replica::table_regions(&shared.pd, t.id).await?;
    let columnar = if t.columnar_replica > 0 {
        shared.pd.columnar_store_ids().await?
    } else {
        Vec::new()
    };
    let mut estimate = TableEstimate {
        analyzed,
        regions: regions.len(),
        approximate_rows: regions.iter().map(|r| r.approximate_keys).sum(),
        replica_ready: t.columnar_replica > 0,
    };
    if !regions
        .iter()
        .all(|r| super::columnar_replica::caught_up(r, &columnar, t.columnar_replica))
    {
        estimate.replica_ready = false;
    }
    if estimate.regions == 0 {
        estimate.replica_ready = false;
    }
    Ok(estimate)
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Columns whose MIN and MAX [`numeric`] turns into numbers.
fn ranged(kind: DatumKind) -> bool {
    matches!(
        kind,
        DatumKind::I64
            | DatumKind::U64
            | DatumKind::F64
            | DatumKind::Decimal
            | DatumKind::Date
            | DatumKind::DateTime
    )
}

fn count(d: &Datum) -> u64 {
    match d {
        Datum::I64(v) => (*v).max(0) as u64,
        Datum::U64(v) => *v,
        _ => 0,
    }
}

/// Counts one table's statistics at the session's snapshot.
async fn analyze_table(session: &mut Session, db: &str, t: &TableInfo) -> Result<TableStats> {
    let mut select = vec!["COUNT(*)".to_string()];
    for c in &t.columns {
        let q = quote(&c.name);
        // Distinct values by HyperLogLog (as TiDB's FM sketches): one
        // small state per column, merged across regions and pushed to the
        // columnar stores, where an exact COUNT(DISTINCT) of a text column
        // of millions of rows held every value in one hash set. DataFusion
        // has no sketch for floats; they are counted exactly.
        if c.ft.datum_kind() == DatumKind::F64 {
            select.push(format!("COUNT(DISTINCT {q}), COUNT({q})"));
        } else {
            select.push(format!("APPROX_DISTINCT({q}), COUNT({q})"));
        }
        if ranged(c.ft.datum_kind()) {
            select.push(format!("MIN({q}), MAX({q})"));
        } else {
            select.push("NULL, NULL".into());
        }
    }
    let sql = format!(
        "SELECT {} FROM {}.{}",
        select.join(", "),
        quote(db),
        quote(&t.name)
    );
    let stmt = crate::parse::parse_one(&sql)?;
    let handle = session.begin(false, true, TxnMode::Optimistic).await?;
    let version = handle.txn.read().await.start_ts().into_inner();
    let rs = crate::query::select(session, stmt, handle).await;
    session.txn = None;
    let rs = rs?;
    let row = rs
        .rows
        .first()
        .ok_or_else(|| Error::internal("ANALYZE counted no row"))?;
    let mut stats = TableStats {
        row_count: count(&row[0]),
        version,
        columns: BTreeMap::new(),
    };
    for (i, c) in t.columns.iter().enumerate() {
        let at = 1 + i * 4;
        let non_null = count(&row[at + 1]);
        stats.columns.insert(
            c.id,
            ColumnStats {
                ndv: count(&row[at]),
                nulls: stats.row_count.saturating_sub(non_null),
                min: numeric(&row[at + 2]),
                max: numeric(&row[at + 3]),
            },
        );
    }
    Ok(stats)
}

/// The tables an `ANALYZE TABLE` names (the dialect puts the second and
/// later ones in `partitions`, see [`crate::dialect`]).
fn named_tables(a: &Analyze) -> Result<Vec<ObjectName>> {
    let mut names: Vec<ObjectName> = a.table_name.iter().cloned().collect();
    for e in a.partitions.iter().flatten() {
        match e {
            sqlparser::ast::Expr::Identifier(i) => names.push(ObjectName::from(vec![i.clone()])),
            sqlparser::ast::Expr::CompoundIdentifier(parts) => {
                names.push(ObjectName::from(parts.clone()))
            }
            other => return Err(Error::unsupported(format!("ANALYZE TABLE ... {other}"))),
        }
    }
    if names.is_empty() {
        return Err(Error::unsupported("ANALYZE without a table"));
    }
    Ok(names)
}

/// `ANALYZE TABLE t [, ...]`: MySQL's result set, one row per table.
pub async fn analyze(session: &mut Session, a: &Analyze) -> Result<ResultSet> {
    let columns = ["Table", "Op", "Msg_type", "Msg_text"]
        .iter()
        .map(|n| ColumnDef::expr(n, crate::protocol::ColumnType::VarString))
        .collect();
    let mut rows = Vec::new();
    for name in named_tables(a)? {
        let (db, table) = crate::ddl::object_name(&name)?;
        let db = match db {
            Some(d) => d,
            None => session.current_db()?.to_string(),
        };
        let info = session.schema().require_table(&db, &table)?.clone();
        let stats = analyze_table(session, &db, &info).await?;
        let mut txn = session.shared.client.begin().await?;
        crate::catalog::meta::put_stats(&mut txn, info.id, &stats).await?;
        txn.commit().await?;
        session.shared.stats.invalidate(info.id);
        let text = |s: &str| Datum::Bytes(s.as_bytes().to_vec());
        rows.push(vec![
            text(&format!("{db}.{}", info.name)),
            text("analyze"),
            text("status"),
            text("OK"),
        ]);
    }
    Ok(ResultSet { columns, rows })
}
