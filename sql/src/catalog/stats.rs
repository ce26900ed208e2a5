//! # Table statistics, for choosing an engine by cost
//!
//! Two sources, as in TiDB:
//!
//! - `ANALYZE TABLE t [, ...]` ([`crate::execute::analyze`]) counts the table's rows and, per column, its
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

use parking_lot::Mutex;
use pd::client::PdClient;
use serde::{Deserialize, Serialize};
use txn::client::TxnClient;

use crate::catalog::model::TableInfo;
use crate::catalog::placement::{caught_up, table_regions};
use crate::error::Result;

/// Rows of a table nothing is known about (TiDB's pseudo statistics).
pub const PSEUDO_ROWS: f64 = 10000.0;
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
            None => PSEUDO_ROWS,
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
    pub async fn get(
        &self,
        client: &TxnClient,
        pd: &PdClient,
        t: &TableInfo,
    ) -> Result<Arc<TableEstimate>> {
        if let Some(e) = self.tables.lock().get(&t.id)
            && e.fetched.elapsed() < STATS_LEASE
        {
            return Ok(e.estimate.clone());
        }
        let estimate = Arc::new(fetch(client, pd, t).await?);
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
async fn fetch(client: &TxnClient, pd: &PdClient, t: &TableInfo) -> Result<TableEstimate> {
    let ts = client.current_ts().await?;
    let snap = client.snapshot(ts).await?;
    let analyzed = match snap.get(&crate::catalog::meta::stats_key(t.id)).await? {
        Some(v) => serde_json::from_slice(&v).ok(),
        None => None,
    };
    let regions = table_regions(pd, t.id).await?;
    let columnar = if t.columnar_replica > 0 {
        pd.columnar_store_ids().await?
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
        .all(|r| caught_up(r, &columnar, t.columnar_replica))
    {
        estimate.replica_ready = false;
    }
    if estimate.regions == 0 {
        estimate.replica_ready = false;
    }
    Ok(estimate)
}
