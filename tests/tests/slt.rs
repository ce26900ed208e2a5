//! sqllogictest files under `tests/slt/`, run over the MySQL wire protocol
//! (`mysql_async`, text protocol) against an in-process cluster with a SQL
//! server. Each file gets a fresh database of its own name.
//!
//! Every file runs twice: on the row store, and on columnar replicas —
//! a cluster with a columnar store, every table the file creates given
//! `SET COLUMNAR REPLICA 1`, queries waiting until the replicas are
//! available (after `TRUNCATE` too: the table's new id gets new replicas)
//! and run with `isolation_read_engines = 'columnar'`. The
//! expected answers are the same file's, so both engines must agree.
//! Files whose expectations are row-store plans (`EXPLAIN` output) run on
//! the row store only.

use std::path::PathBuf;

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use sqllogictest::{DBOutput, DefaultColumnType};
use tests::sql::SqlCluster;

struct Db {
    conn: mysql_async::Conn,
    /// The columnar pass: replicas for every table, columnar reads.
    columnar: bool,
    /// A table was created since the replicas were last seen available.
    pending_replicas: bool,
}

/// Files checking row-store plans (EXPLAIN), skipped in the columnar pass.
const ROW_ONLY: &[&str] = &["pushdown"];

/// The table a `CREATE TABLE` statement creates.
fn created_table(sql: &str) -> Option<String> {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    if upper.len() < 3 || upper[0] != "CREATE" || upper[1] != "TABLE" {
        return None;
    }
    let i = if upper.len() > 5 && upper[2] == "IF" && upper[3] == "NOT" && upper[4] == "EXISTS" {
        5
    } else {
        2
    };
    let name = words[i].split('(').next()?.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// Whether `sql` is a `TRUNCATE [TABLE]`: the table gets a new id, whose
/// columnar replicas are placed anew (as after CREATE TABLE).
fn is_truncate(sql: &str) -> bool {
    sql.split_whitespace()
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("TRUNCATE"))
}

fn is_query(sql: &str) -> bool {
    let first = sql
        .trim_start()
        .trim_start_matches('(')
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(first.as_str(), "SELECT" | "WITH" | "TABLE")
}

impl Db {
    /// Waits until every columnar replica is available.
    async fn wait_for_replicas(&mut self) -> Result<(), DbError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let missing: Option<i64> = self
                .conn
                .query_first(
                    "SELECT COUNT(*) FROM information_schema.columnar_replica WHERE available = 0",
                )
                .await
                .map_err(|e| DbError(e.to_string()))?;
            if missing == Some(0) {
                self.pending_replicas = false;
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(DbError(
                    "columnar replicas not available within 60 s".into(),
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

#[derive(Debug)]
struct DbError(String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DbError {}

fn text(v: mysql_async::Value) -> String {
    use mysql_async::Value::*;
    match v {
        NULL => "NULL".into(),
        Bytes(b) => {
            let s = String::from_utf8_lossy(&b).into_owned();
            if s.is_empty() { "(empty)".into() } else { s }
        }
        Int(i) => i.to_string(),
        UInt(u) => u.to_string(),
        Float(f) => f.to_string(),
        Double(d) => d.to_string(),
        other => format!("{other:?}"),
    }
}

#[async_trait]
impl sqllogictest::AsyncDB for Db {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        if self.columnar && self.pending_replicas && is_query(sql) {
            self.wait_for_replicas().await?;
        }
        let out = self.run_sql(sql).await?;
        if self.columnar && is_truncate(sql) {
            self.pending_replicas = true;
        }
        if self.columnar
            && let Some(table) = created_table(sql)
        {
            self.conn
                .query_drop(format!("ALTER TABLE {table} SET COLUMNAR REPLICA 1"))
                .await
                .map_err(|e| DbError(format!("columnar replica of {table}: {e}")))?;
            self.pending_replicas = true;
        }
        Ok(out)
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "duet"
    }
}

impl Db {
    async fn run_sql(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DbError> {
        let mut result = self
            .conn
            .query_iter(sql)
            .await
            .map_err(|e| DbError(e.to_string()))?;
        let columns = result.columns().map(|c| c.len()).unwrap_or(0);
        let rows: Vec<mysql_async::Row> =
            result.collect().await.map_err(|e| DbError(e.to_string()))?;
        let affected = result.affected_rows();
        drop(result);
        if columns == 0 {
            return Ok(DBOutput::StatementComplete(affected));
        }
        let rows: Vec<Vec<String>> = rows
            .into_iter()
            .map(|r| r.unwrap().into_iter().map(text).collect())
            .collect();
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; columns],
            rows,
        })
    }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/slt exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqllogictest_files() {
    run_files(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqllogictest_files_on_columnar_replicas() {
    run_files(true).await;
}

async fn run_files(columnar: bool) {
    tests::cluster::init_logging();
    let mut c = SqlCluster::start()
        .await
        .expect("cluster with a SQL server");
    if columnar {
        c.cluster
            .add_columnar_store()
            .await
            .expect("a columnar store");
    }
    let mut failures = Vec::new();
    for file in slt_files() {
        let name = file
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .replace('-', "_");
        if columnar && ROW_ONLY.contains(&name.as_str()) {
            continue;
        }
        let db = format!("slt_{name}");
        {
            let mut admin = mysql_async::Conn::from_url(c.url("test"))
                .await
                .expect("connect");
            admin
                .query_drop(format!("CREATE DATABASE {db}"))
                .await
                .expect("create the file's database");
            admin.disconnect().await.expect("disconnect");
        }
        let url = c.url(&db);
        let mut runner = sqllogictest::Runner::new(move || {
            let url = url.clone();
            async move {
                let conn = mysql_async::Conn::from_url(url)
                    .await
                    .map_err(|e| DbError(e.to_string()))?;
                let mut db = Db {
                    conn,
                    columnar,
                    pending_replicas: false,
                };
                if columnar {
                    db.run_sql("SET SESSION isolation_read_engines = 'columnar'")
                        .await?;
                }
                Ok(db)
            }
        });
        if let Err(e) = runner.run_file_async(&file).await {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "sqllogictest failures:\n{}",
        failures.join("\n\n")
    );
    if columnar {
        // The replicas answered: no region fell back to the row store.
        c.assert_columnar_reads(50.0).await;
    }
    c.shutdown().await;
}
