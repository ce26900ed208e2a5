//! `information_schema.columnar_replica` (TiDB: `TIFLASH_REPLICA`): one row
//! per table with `SET COLUMNAR REPLICA n`, n > 0:
//!
//! | column | meaning |
//! |---|---|
//! | `TABLE_SCHEMA`, `TABLE_NAME`, `TABLE_ID` | the table |
//! | `REPLICA_COUNT` | n, as set |
//! | `LOCATION_LABELS` | accepted and ignored (empty) |
//! | `AVAILABLE` | 1 once every region of the table has n caught-up learners on columnar stores |
//! | `PROGRESS` | the share of the table's regions that have them (0..1) |
//! | `REGIONS` | the table's regions |
//! | `LAGGING_REGIONS` | regions whose learner is still catching up (a snapshot in flight, PD's pending peers), down or missing |
//!
//! Built from PD's region map at query time.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;

use crate::catalog::InfoSchema;
use crate::catalog::placement::{caught_up, table_regions};
use crate::session::shared::Shared;

/// One table's replica state.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaStatus {
    pub schema: String,
    pub table: String,
    pub table_id: i64,
    pub count: u64,
    pub regions: usize,
    pub ready: usize,
}

impl ReplicaStatus {
    pub fn progress(&self) -> f64 {
        if self.regions == 0 {
            0.0
        } else {
            self.ready as f64 / self.regions as f64
        }
    }

    pub fn available(&self) -> bool {
        self.regions > 0 && self.ready == self.regions
    }
}

/// The replica state of every table asking for columnar replicas.
pub async fn statuses(schema: &InfoSchema, shared: &Shared) -> crate::Result<Vec<ReplicaStatus>> {
    let pd = &shared.pd;
    let columnar_stores = pd.columnar_store_ids().await?;
    let mut out = Vec::new();
    for db in schema.dbs.values() {
        for t in db.tables.values().filter(|t| t.columnar_replica > 0) {
            let regions = table_regions(pd, t.id).await?;
            let ready = regions
                .iter()
                .filter(|r| caught_up(r, &columnar_stores, t.columnar_replica))
                .count();
            out.push(ReplicaStatus {
                schema: db.info.name.clone(),
                table: t.name.clone(),
                table_id: t.id,
                count: t.columnar_replica,
                regions: regions.len(),
                ready,
            });
        }
    }
    Ok(out)
}

/// The table as DataFusion reads it.
pub async fn table(schema: &InfoSchema, shared: &Shared) -> Result<Arc<MemTable>, DataFusionError> {
    let rows = statuses(schema, shared)
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    let field = |name: &str, tp: DataType| {
        let meta = [("duet.column".to_string(), name.to_string())].into();
        Field::new(name.to_lowercase(), tp, false).with_metadata(meta)
    };
    let schema = Arc::new(Schema::new(vec![
        field("TABLE_SCHEMA", DataType::Utf8),
        field("TABLE_NAME", DataType::Utf8),
        field("TABLE_ID", DataType::Int64),
        field("REPLICA_COUNT", DataType::Int64),
        field("LOCATION_LABELS", DataType::Utf8),
        field("AVAILABLE", DataType::Int64),
        field("PROGRESS", DataType::Float64),
        field("REGIONS", DataType::Int64),
        field("LAGGING_REGIONS", DataType::Int64),
    ]));
    let ints = |f: &dyn Fn(&ReplicaStatus) -> i64| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<Int64Array>())
    };
    let strs = |f: &dyn Fn(&ReplicaStatus) -> String| -> ArrayRef {
        Arc::new(rows.iter().map(|r| Some(f(r))).collect::<StringArray>())
    };
    let columns = vec![
        strs(&|r| r.schema.clone()),
        strs(&|r| r.table.clone()),
        ints(&|r| r.table_id),
        ints(&|r| r.count as i64),
        strs(&|_| String::new()),
        ints(&|r| r.available() as i64),
        Arc::new(rows.iter().map(|r| r.progress()).collect::<Float64Array>()) as ArrayRef,
        ints(&|r| r.regions as i64),
        ints(&|r| (r.regions - r.ready) as i64),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
}
