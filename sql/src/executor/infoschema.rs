//! `information_schema`: SCHEMATA, TABLES, COLUMNS, STATISTICS,
//! KEY_COLUMN_USAGE, PROCESSLIST and COLUMNAR_REPLICA (TiDB's name
//! TIFLASH_REPLICA too, see [`crate::executor::columnar_replica`]), built from the statement's catalog
//! snapshot (and the server's process list) as in-memory tables, so any
//! query DataFusion can run works on them.
//!
//! Column names are MySQL's upper-case ones; like every name they match
//! case-insensitively, and `SELECT *` shows them upper-case.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use codec::datum::Datum;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;

use crate::catalog::InfoSchema;
use crate::catalog::model::{DefaultValue, SqlType, TableInfo};
use crate::session::shared::Shared;

const TABLES: &[&str] = &[
    "schemata",
    "tables",
    "columns",
    "statistics",
    "key_column_usage",
    "processlist",
    "columnar_replica",
    "tiflash_replica",
];

pub struct InfoSchemaProvider {
    pub schema: Arc<InfoSchema>,
    pub shared: Arc<Shared>,
}

impl std::fmt::Debug for InfoSchemaProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InfoSchemaProvider")
    }
}

#[async_trait]
impl SchemaProvider for InfoSchemaProvider {
    fn table_names(&self) -> Vec<String> {
        TABLES.iter().map(|s| s.to_string()).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        let name = name.to_lowercase();
        if !TABLES.contains(&name.as_str()) {
            return Ok(None);
        }
        if name == "columnar_replica" || name == "tiflash_replica" {
            return Ok(Some(
                crate::executor::columnar_replica::table(&self.schema, &self.shared).await?,
            ));
        }
        let (cols, rows) = self.build(&name);
        let schema = schema_of(&cols);
        let batch = batch_of(schema.clone(), &cols, rows)?;
        Ok(Some(Arc::new(MemTable::try_new(
            schema,
            vec![vec![batch]],
        )?)))
    }

    fn table_exist(&self, name: &str) -> bool {
        TABLES.contains(&name.to_lowercase().as_str())
    }
}

/// A column: upper-case name and whether it is an integer (else text).
type Col = (&'static str, bool);

fn schema_of(cols: &[Col]) -> SchemaRef {
    Arc::new(Schema::new(
        cols.iter()
            .map(|(n, int)| {
                let mut meta = HashMap::new();
                meta.insert("duet.column".to_string(), n.to_string());
                Field::new(
                    n.to_lowercase(),
                    if *int {
                        DataType::Int64
                    } else {
                        DataType::Utf8
                    },
                    true,
                )
                .with_metadata(meta)
            })
            .collect::<Vec<_>>(),
    ))
}

fn batch_of(
    schema: SchemaRef,
    cols: &[Col],
    rows: Vec<Vec<Datum>>,
) -> Result<datafusion::arrow::record_batch::RecordBatch, DataFusionError> {
    use crate::catalog::model::FieldType;
    let int = FieldType::new(SqlType::BigInt);
    let text = FieldType::new(SqlType::LongText);
    let types: Vec<&FieldType> = cols
        .iter()
        .map(|(_, i)| if *i { &int } else { &text })
        .collect();
    Ok(crate::executor::convert::rows_to_batch(
        schema, &types, rows,
    )?)
}

fn s(v: impl Into<String>) -> Datum {
    Datum::Bytes(v.into().into_bytes())
}

fn i(v: i64) -> Datum {
    Datum::I64(v)
}

impl InfoSchemaProvider {
    /// One table's columns and rows (all but COLUMNAR_REPLICA).
    fn build(&self, table: &str) -> (Vec<Col>, Vec<Vec<Datum>>) {
        let schema = &self.schema;
        match table {
            "schemata" => schemata(schema),
            "tables" => tables(schema),
            "columns" => columns(schema),
            "statistics" => statistics(schema),
            "key_column_usage" => key_column_usage(schema),
            "processlist" => processlist(&self.shared),
            other => unreachable!("{other} is not in TABLES"),
        }
    }
}

/// SCHEMATA: one row per database.
fn schemata(schema: &InfoSchema) -> (Vec<Col>, Vec<Vec<Datum>>) {
    let cols = vec![
        ("CATALOG_NAME", false),
        ("SCHEMA_NAME", false),
        ("DEFAULT_CHARACTER_SET_NAME", false),
        ("DEFAULT_COLLATION_NAME", false),
        ("SQL_PATH", false),
    ];
    let mut rows = vec![vec![
        s("def"),
        s("information_schema"),
        s("utf8mb4"),
        s("utf8mb4_bin"),
        Datum::Null,
    ]];
    for d in schema.dbs.values() {
        rows.push(vec![
            s("def"),
            s(d.info.name.clone()),
            s(d.info.charset.clone()),
            s(d.info.collation.clone()),
            Datum::Null,
        ]);
    }
    (cols, rows)
}

/// TABLES: one row per table.
fn tables(schema: &InfoSchema) -> (Vec<Col>, Vec<Vec<Datum>>) {
    let cols = vec![
        ("TABLE_CATALOG", false),
        ("TABLE_SCHEMA", false),
        ("TABLE_NAME", false),
        ("TABLE_TYPE", false),
        ("ENGINE", false),
        ("VERSION", true),
        ("ROW_FORMAT", false),
        ("TABLE_ROWS", true),
        ("AUTO_INCREMENT", true),
        ("CREATE_TIME", false),
        ("TABLE_COLLATION", false),
        ("TABLE_COMMENT", false),
        ("TIDB_TABLE_ID", true),
    ];
    let mut rows = Vec::new();
    for d in schema.dbs.values() {
        for t in d.tables.values() {
            let created = codec::datum::format_datetime(t.create_time * 1_000_000, 0);
            rows.push(vec![
                s("def"),
                s(d.info.name.clone()),
                s(t.name.clone()),
                s("BASE TABLE"),
                s("InnoDB"),
                i(10),
                s("Compact"),
                Datum::Null,
                Datum::Null,
                s(created),
                s("utf8mb4_bin"),
                s(t.comment.clone()),
                i(t.id),
            ]);
        }
    }
    (cols, rows)
}

/// COLUMNS: one row per column of every table.
fn columns(schema: &InfoSchema) -> (Vec<Col>, Vec<Vec<Datum>>) {
    let cols = vec![
        ("TABLE_CATALOG", false),
        ("TABLE_SCHEMA", false),
        ("TABLE_NAME", false),
        ("COLUMN_NAME", false),
        ("ORDINAL_POSITION", true),
        ("COLUMN_DEFAULT", false),
        ("IS_NULLABLE", false),
        ("DATA_TYPE", false),
        ("CHARACTER_MAXIMUM_LENGTH", true),
        ("NUMERIC_PRECISION", true),
        ("NUMERIC_SCALE", true),
        ("DATETIME_PRECISION", true),
        ("CHARACTER_SET_NAME", false),
        ("COLLATION_NAME", false),
        ("COLUMN_TYPE", false),
        ("COLUMN_KEY", false),
        ("EXTRA", false),
        ("PRIVILEGES", false),
        ("COLUMN_COMMENT", false),
    ];
    let mut rows = Vec::new();
    for d in schema.dbs.values() {
        for t in d.tables.values() {
            for pos in 0..t.columns.len() {
                rows.push(column_row(&d.info.name, t, pos));
            }
        }
    }
    (cols, rows)
}

/// One column's row of COLUMNS.
fn column_row(db: &str, t: &TableInfo, pos: usize) -> Vec<Datum> {
    let c = &t.columns[pos];
    let default = match &c.default {
        Some(DefaultValue::Literal(v)) => s(v.clone()),
        Some(DefaultValue::CurrentTimestamp) => s("CURRENT_TIMESTAMP"),
        _ => Datum::Null,
    };
    let data_type =
        c.ft.sql()
            .split(['(', ' '])
            .next()
            .unwrap_or("")
            .to_string();
    let is_str = c.ft.is_string() || c.ft.is_binary();
    let (prec, scale) = match c.ft.tp {
        SqlType::Decimal => (i(c.ft.length as i64), i(c.ft.scale as i64)),
        SqlType::TinyInt => (i(3), i(0)),
        SqlType::SmallInt => (i(5), i(0)),
        SqlType::MediumInt => (i(7), i(0)),
        SqlType::Int => (i(10), i(0)),
        SqlType::BigInt => (i(if c.ft.unsigned { 20 } else { 19 }), i(0)),
        SqlType::Float => (i(12), Datum::Null),
        SqlType::Double => (i(22), Datum::Null),
        _ => (Datum::Null, Datum::Null),
    };
    let dt_prec = match c.ft.tp {
        SqlType::DateTime | SqlType::Timestamp | SqlType::Time => i(c.ft.scale as i64),
        _ => Datum::Null,
    };
    let extra = if c.auto_increment {
        "auto_increment"
    } else {
        ""
    };
    let text_only = |v: &str| {
        if c.ft.is_string() { s(v) } else { Datum::Null }
    };
    vec![
        s("def"),
        s(db),
        s(t.name.clone()),
        s(c.name.clone()),
        i(pos as i64 + 1),
        default,
        s(if c.nullable { "YES" } else { "NO" }),
        s(data_type),
        if is_str {
            i(c.ft.max_len().min(i64::MAX as usize) as i64)
        } else {
            Datum::Null
        },
        prec,
        scale,
        dt_prec,
        text_only("utf8mb4"),
        text_only("utf8mb4_bin"),
        s(c.ft.sql()),
        s(t.column_key(pos)),
        s(extra),
        s("select,insert,update,references"),
        s(c.comment.clone()),
    ]
}

/// STATISTICS: one row per column of every index.
fn statistics(schema: &InfoSchema) -> (Vec<Col>, Vec<Vec<Datum>>) {
    let cols = vec![
        ("TABLE_CATALOG", false),
        ("TABLE_SCHEMA", false),
        ("TABLE_NAME", false),
        ("NON_UNIQUE", true),
        ("INDEX_SCHEMA", false),
        ("INDEX_NAME", false),
        ("SEQ_IN_INDEX", true),
        ("COLUMN_NAME", false),
        ("SUB_PART", true),
        ("NULLABLE", false),
        ("INDEX_TYPE", false),
    ];
    let mut rows = Vec::new();
    for d in schema.dbs.values() {
        for t in d.tables.values() {
            for idx in &t.indexes {
                for (seq, ic) in idx.columns.iter().enumerate() {
                    let nullable = t.column(&ic.name).is_some_and(|(_, c)| c.nullable);
                    rows.push(vec![
                        s("def"),
                        s(d.info.name.clone()),
                        s(t.name.clone()),
                        i(!idx.unique as i64),
                        s(d.info.name.clone()),
                        s(idx.name.clone()),
                        i(seq as i64 + 1),
                        s(ic.name.clone()),
                        ic.length.map(|l| i(l as i64)).unwrap_or(Datum::Null),
                        s(if nullable { "YES" } else { "" }),
                        s("BTREE"),
                    ]);
                }
            }
        }
    }
    (cols, rows)
}

/// KEY_COLUMN_USAGE: one row per column of every unique key.
fn key_column_usage(schema: &InfoSchema) -> (Vec<Col>, Vec<Vec<Datum>>) {
    let cols = vec![
        ("CONSTRAINT_CATALOG", false),
        ("CONSTRAINT_SCHEMA", false),
        ("CONSTRAINT_NAME", false),
        ("TABLE_CATALOG", false),
        ("TABLE_SCHEMA", false),
        ("TABLE_NAME", false),
        ("COLUMN_NAME", false),
        ("ORDINAL_POSITION", true),
        ("POSITION_IN_UNIQUE_CONSTRAINT", true),
        ("REFERENCED_TABLE_SCHEMA", false),
        ("REFERENCED_TABLE_NAME", false),
        ("REFERENCED_COLUMN_NAME", false),
    ];
    let mut rows = Vec::new();
    for d in schema.dbs.values() {
        for t in d.tables.values() {
            for idx in t.indexes.iter().filter(|idx| idx.unique) {
                for (seq, ic) in idx.columns.iter().enumerate() {
                    rows.push(vec![
                        s("def"),
                        s(d.info.name.clone()),
                        s(idx.name.clone()),
                        s("def"),
                        s(d.info.name.clone()),
                        s(t.name.clone()),
                        s(ic.name.clone()),
                        i(seq as i64 + 1),
                        Datum::Null,
                        Datum::Null,
                        Datum::Null,
                        Datum::Null,
                    ]);
                }
            }
        }
    }
    (cols, rows)
}

/// PROCESSLIST: one row per connection of this server.
fn processlist(shared: &Shared) -> (Vec<Col>, Vec<Vec<Datum>>) {
    let cols = vec![
        ("ID", true),
        ("USER", false),
        ("HOST", false),
        ("DB", false),
        ("COMMAND", false),
        ("TIME", true),
        ("STATE", false),
        ("INFO", false),
    ];
    let mut rows = Vec::new();
    for p in shared.processes.all() {
        let current = p.current.lock().clone();
        let (command, time, info) = match current {
            Some((q, started)) => ("Query", started.elapsed().as_secs() as i64, s(q)),
            None => ("Sleep", p.connected.elapsed().as_secs() as i64, Datum::Null),
        };
        rows.push(vec![
            i(p.id as i64),
            s(p.user.clone()),
            s(p.host.clone()),
            p.db.lock().clone().map(s).unwrap_or(Datum::Null),
            s(command),
            i(time),
            s(if command == "Query" { "executing" } else { "" }),
            info,
        ]);
    }
    (cols, rows)
}
