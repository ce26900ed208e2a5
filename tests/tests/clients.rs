//! Unmodified third-party MySQL clients against duet's SQL server: PyMySQL,
//! MySQL Connector/Python and mysql2 (Node.js), each driven by a script in
//! `tests/clients/`, and sqlx, driven from here.
//!
//! Every client does the same things, each against its own cluster and its
//! own database: connect as root with an empty password, create a table,
//! write rows holding NULLs, a DECIMAL, DATETIMEs with and without
//! fractional seconds, a BIGINT past 2^53 and utf8mb4 text with a 4-byte
//! character, read them back through the text protocol and (all but
//! PyMySQL, which has none) server-side prepared statements comparing types
//! and values, roll back and commit a transaction, and see MySQL error codes
//! 1062 and 1146. A script prints one `<client>: ok: ...` line and exits 0,
//! or says what differed and exits non-zero.
//!
//! The clients are not vendored: `.ci/run` installs the Python modules with
//! pip and the Node ones with `npm ci --prefix tests/clients/node`. A missing
//! client fails its test, it does not skip it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlRow};
use sqlx::types::BigDecimal;
use sqlx::types::chrono::NaiveDateTime;
use sqlx::{Connection, Executor, Row};
use tests::sql::SqlCluster;

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// Runs `program script 127.0.0.1 <port> <database>` against a fresh
/// cluster and fails the test, with the script's output, unless it exits 0
/// having printed `<client>: ok:`.
async fn run_client_script(client: &str, program: &str, script: &str, database: &str) {
    tests::cluster::init_logging();
    let c = SqlCluster::start().await.unwrap();
    let port = c.port.to_string();
    let script = clients_dir().join(script);
    let args = [
        script.to_str().unwrap().to_owned(),
        "127.0.0.1".into(),
        port,
        database.into(),
    ];
    let cwd = script.parent().unwrap().to_owned();
    let program_owned = program.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&program_owned)
            .args(&args)
            .current_dir(cwd)
            .output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("cannot run {program} (is it installed? .ci/run checks): {e}"));
    c.shutdown().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.starts_with(&format!("{client}: ok:")),
        "{client} check failed ({}); .ci/run installs the client libraries\n\
         --- stdout\n{stdout}--- stderr\n{stderr}",
        out.status
    );
    println!("{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pymysql() {
    run_client_script(
        "pymysql",
        "python3",
        "python/check_pymysql.py",
        "client_pymysql",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_connector_python() {
    run_client_script(
        "mysql-connector-python",
        "python3",
        "python/check_mysql_connector.py",
        "client_connector",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql2_node() {
    run_client_script("mysql2", "node", "node/check_mysql2.js", "client_mysql2").await;
}

/// One row of `items`, as sqlx decodes it.
#[derive(Debug, PartialEq)]
struct Item {
    id: i32,
    name: Option<String>,
    price: Option<BigDecimal>,
    added: Option<NaiveDateTime>,
    stamp: Option<NaiveDateTime>,
    qty: Option<i64>,
}

impl Item {
    fn from_row(row: &MySqlRow) -> Item {
        let item = Item {
            id: row.get("id"),
            name: row.get("name"),
            price: row.get("price"),
            added: row.get("added"),
            stamp: row.get("stamp"),
            qty: row.get("qty"),
        };
        // BigDecimal's equality ignores the scale: 12.340 == 12.34.
        let digits: Option<String> = item.price.as_ref().map(|p| p.to_string());
        let want = match item.id {
            1 => Some("12.34"),
            2 => Some("-0.05"),
            _ => None,
        };
        assert_eq!(digits.as_deref(), want, "DECIMAL(10,2) of row {}", item.id);
        item
    }
}

fn datetime(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
}

fn expected_items() -> Vec<Item> {
    vec![
        Item {
            id: 1,
            name: Some("plain".into()),
            price: Some(BigDecimal::from_str("12.34").unwrap()),
            added: Some(datetime("2024-02-29 12:34:56")),
            stamp: Some(datetime("2024-02-29 12:34:56.123456")),
            qty: Some(7),
        },
        Item {
            id: 2,
            name: Some("héllo wörld — 日本語 🦀".into()),
            price: Some(BigDecimal::from_str("-0.05").unwrap()),
            added: Some(datetime("1999-12-31 23:59:59")),
            stamp: Some(datetime("1970-01-01 00:00:00.000001")),
            qty: Some(-9_007_199_254_740_993),
        },
        Item {
            id: 3,
            name: None,
            price: None,
            added: None,
            stamp: None,
            qty: None,
        },
    ]
}

const COLUMNS: &str = "id, name, price, added, stamp, qty";

fn mysql_code(e: sqlx::Error) -> u16 {
    match e {
        sqlx::Error::Database(e) => e.downcast_ref::<MySqlDatabaseError>().number(),
        other => panic!("not a server error: {other}"),
    }
}

async fn count(conn: &mut MySqlConnection, id: i32) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM items WHERE id = ?")
        .bind(id)
        .fetch_one(conn)
        .await
        .unwrap()
}

/// sqlx prepares every query that has arguments (`sqlx::query`) and sends
/// plain strings (`Executor::execute(&str)`, `fetch_all(&str)`) as
/// COM_QUERY, so both protocols run here.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlx_mysql() {
    tests::cluster::init_logging();
    let c = SqlCluster::start().await.unwrap();
    let opts = MySqlConnectOptions::new()
        .host("127.0.0.1")
        .port(c.port)
        .username("root");
    let mut boot = MySqlConnection::connect_with(&opts.clone().database("test"))
        .await
        .unwrap();
    boot.execute("CREATE DATABASE IF NOT EXISTS client_sqlx")
        .await
        .unwrap();
    boot.close().await.unwrap();
    let opts = opts.database("client_sqlx");
    let mut conn = MySqlConnection::connect_with(&opts).await.unwrap();
    let mut other = MySqlConnection::connect_with(&opts).await.unwrap();
    conn.execute(
        "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(64), price DECIMAL(10,2), \
         added DATETIME, stamp DATETIME(6), qty BIGINT)",
    )
    .await
    .unwrap();

    // Typed binary parameters; the last row through a statement that is
    // closed right after its execution (COM_STMT_CLOSE pipelined).
    let insert = format!("INSERT INTO items ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)");
    let items = expected_items();
    for (i, item) in items.iter().enumerate() {
        let done = sqlx::query(&insert)
            .bind(item.id)
            .bind(&item.name)
            .bind(&item.price)
            .bind(item.added)
            .bind(item.stamp)
            .bind(item.qty)
            .persistent(i + 1 < items.len())
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1, "INSERT of row {}", item.id);
    }

    let select = format!("SELECT {COLUMNS} FROM items");
    let text: Vec<Item> = conn
        .fetch_all(&*format!("{select} ORDER BY id"))
        .await
        .unwrap()
        .iter()
        .map(Item::from_row)
        .collect();
    assert_eq!(text, items, "text SELECT");
    let prepared: Vec<Item> = sqlx::query(&format!("{select} WHERE id >= ? ORDER BY id"))
        .bind(1)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(Item::from_row)
        .collect();
    assert_eq!(prepared, items, "prepared SELECT");
    for item in &items[..2] {
        let row = sqlx::query(&format!(
            "{select} WHERE name = ? AND price = ? AND added = ? AND stamp = ? AND qty = ?"
        ))
        .bind(&item.name)
        .bind(&item.price)
        .bind(item.added)
        .bind(item.stamp)
        .bind(item.qty)
        .fetch_optional(&mut conn)
        .await
        .unwrap();
        assert_eq!(
            row.as_ref().map(Item::from_row).as_ref(),
            Some(item),
            "prepared SELECT by the values of row {}",
            item.id
        );
    }
    let get = format!("{select} WHERE id = ?");
    let row = sqlx::query(&get)
        .bind(3)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(Item::from_row(&row), items[2], "point get of the NULL row");
    let none = sqlx::query(&get)
        .bind(99)
        .fetch_optional(&mut conn)
        .await
        .unwrap();
    assert!(none.is_none(), "point get of a missing row");

    // BEGIN / INSERT / ROLLBACK leaves no row; BEGIN / INSERT / COMMIT does.
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("INSERT INTO items (id, name) VALUES (?, ?)")
        .bind(10)
        .bind("rolled back")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(count(&mut tx, 10).await, 1, "own uncommitted row");
    assert_eq!(count(&mut other, 10).await, 0, "another connection");
    tx.rollback().await.unwrap();
    assert_eq!(count(&mut conn, 10).await, 0, "row after ROLLBACK");
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("INSERT INTO items (id, name) VALUES (?, ?)")
        .bind(11)
        .bind("committed")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(count(&mut other, 11).await, 0, "another connection");
    tx.commit().await.unwrap();
    let after: Vec<(i32, String)> =
        sqlx::query_as("SELECT id, name FROM items WHERE id IN (?, ?) ORDER BY id")
            .bind(10)
            .bind(11)
            .fetch_all(&mut other)
            .await
            .unwrap();
    assert_eq!(after, vec![(11, "committed".to_owned())], "after COMMIT");

    // Errors carry their MySQL codes, from both protocols, and leave the
    // connection usable.
    let dup = sqlx::query(&insert)
        .bind(1)
        .bind("dup")
        .bind(None::<BigDecimal>)
        .bind(None::<NaiveDateTime>)
        .bind(None::<NaiveDateTime>)
        .bind(None::<i64>)
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert_eq!(mysql_code(dup), 1062, "duplicate key (prepared)");
    let dup = conn
        .execute("INSERT INTO items (id) VALUES (1)")
        .await
        .unwrap_err();
    assert_eq!(mysql_code(dup), 1062, "duplicate key (text)");
    let missing = sqlx::query("SELECT * FROM no_such_table WHERE id = ?")
        .bind(1)
        .fetch_all(&mut conn)
        .await
        .unwrap_err();
    assert_eq!(mysql_code(missing), 1146, "unknown table (prepared)");
    let missing = conn
        .fetch_all("SELECT * FROM no_such_table")
        .await
        .unwrap_err();
    assert_eq!(mysql_code(missing), 1146, "unknown table (text)");
    let v: String = sqlx::query_scalar("SELECT ?")
        .bind("after errors")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(v, "after errors");

    other.close().await.unwrap();
    conn.close().await.unwrap();
    c.shutdown().await;
}
