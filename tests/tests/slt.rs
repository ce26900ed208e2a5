//! sqllogictest files under `tests/slt/`, run over the MySQL wire protocol
//! (`mysql_async`, text protocol) against an in-process cluster with a SQL
//! server. Each file gets a fresh database of its own name.

use std::path::PathBuf;

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use sqllogictest::{DBOutput, DefaultColumnType};
use tests::sql::SqlCluster;

struct Db {
    conn: mysql_async::Conn,
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

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "duet"
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
    tests::cluster::init_logging();
    let c = SqlCluster::start()
        .await
        .expect("cluster with a SQL server");
    let mut failures = Vec::new();
    for file in slt_files() {
        let name = file
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .replace('-', "_");
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
                Ok(Db { conn })
            }
        });
        if let Err(e) = runner.run_file_async(&file).await {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    c.shutdown().await;
    assert!(
        failures.is_empty(),
        "sqllogictest failures:\n{}",
        failures.join("\n\n")
    );
}
