//! The SQL server over the wire with stock clients: `mysql_async` (text and
//! prepared statements), the `mariadb` command-line client, and clients
//! that misbehave (garbage bytes, oversized packets, vanishing mid-
//! transaction) — the server answers with an error or closes that one
//! connection and keeps serving everyone else.

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, OptsBuilder, Params, Value};
use tests::sql::{SqlCluster, code, connect};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_async_text_and_prepared() {
    tests::cluster::init_logging();
    let c = SqlCluster::start().await.unwrap();
    let mut conn = connect(&c, "test").await;
    conn.query_drop("CREATE TABLE items (id BIGINT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(32) NOT NULL, price DECIMAL(10,2), qty INT UNSIGNED, added DATETIME(3))")
        .await
        .unwrap();
    // Prepared inserts with typed parameters, text reads.
    let stmt = conn
        .prep("INSERT INTO items (name, price, qty, added) VALUES (?, ?, ?, ?)")
        .await
        .unwrap();
    for i in 0..5u32 {
        conn.exec_drop(
            &stmt,
            (
                format!("item{i}"),
                format!("{}.25", i * 10),
                i,
                "2024-02-29 12:34:56.789",
            ),
        )
        .await
        .unwrap();
    }
    assert_eq!(conn.last_insert_id(), Some(5));
    let rows: Vec<(u64, String, String, u32, String)> = conn
        .query("SELECT id, name, price, qty, added FROM items ORDER BY id")
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(
        rows[2],
        (
            3,
            "item2".into(),
            "20.25".into(),
            2,
            "2024-02-29 12:34:56.789".into()
        )
    );
    // Prepared point get (binary protocol), NULL and missing rows.
    let get = conn
        .prep("SELECT name, price, qty FROM items WHERE id = ?")
        .await
        .unwrap();
    let row: Option<(String, String, u32)> = conn.exec_first(&get, (4,)).await.unwrap();
    assert_eq!(row, Some(("item3".into(), "30.25".into(), 3)));
    let none: Option<(String, String, u32)> = conn.exec_first(&get, (99,)).await.unwrap();
    assert_eq!(none, None);
    // Prepared UPDATE / DELETE by key and their affected rows.
    conn.exec_drop("UPDATE items SET qty = qty + ? WHERE id = ?", (10, 1))
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 1);
    let qty: Option<u32> = conn
        .exec_first("SELECT qty FROM items WHERE id = ?", (1,))
        .await
        .unwrap();
    assert_eq!(qty, Some(10));
    conn.exec_drop("DELETE FROM items WHERE id = ?", (5,))
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 1);
    let n: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM items")
        .await
        .unwrap();
    assert_eq!(n, Some(4));
    // Errors carry MySQL codes.
    let e = conn
        .query_drop("INSERT INTO items (id, name) VALUES (1, 'dup')")
        .await
        .unwrap_err();
    assert_eq!(code(&e), 1062);
    let e = conn.query_drop("SELECT * FROM missing").await.unwrap_err();
    assert_eq!(code(&e), 1146);
    let e = conn.query_drop("SELECT nope FROM items").await.unwrap_err();
    assert_eq!(code(&e), 1054);
    let e = conn.query_drop("SELEC 1").await.unwrap_err();
    assert_eq!(code(&e), 1064);
    let e = conn
        .query_drop("INSERT INTO items (name, qty) VALUES ('x', -1)")
        .await
        .unwrap_err();
    assert_eq!(code(&e), 1264);
    // The connection still works after errors.
    let v: Option<String> = conn
        .query_first("SELECT @@version_comment LIMIT 1")
        .await
        .unwrap();
    assert!(v.unwrap().starts_with("duet"));
    // Parameters of every common type round-trip through a prepared SELECT.
    let row: Option<(i64, f64, String, Option<i64>)> = conn
        .exec_first("SELECT ?, ?, ?, ?", (-7i64, 1.5f64, "héllo", Value::NULL))
        .await
        .unwrap();
    assert_eq!(row, Some((-7, 1.5, "héllo".into(), None)));
    // Transactions: rollback discards, commit keeps; status flags follow.
    let mut tx = conn.start_transaction(Default::default()).await.unwrap();
    tx.query_drop("UPDATE items SET name = 'gone' WHERE id = 1")
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let name: Option<String> = conn
        .query_first("SELECT name FROM items WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(name.as_deref(), Some("item0"));
    let mut tx = conn.start_transaction(Default::default()).await.unwrap();
    tx.exec_drop("UPDATE items SET name = ? WHERE id = ?", ("kept", 1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let name: Option<String> = conn
        .query_first("SELECT name FROM items WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(name.as_deref(), Some("kept"));
    // The status port counts what happened.
    let status_port = c.status_port;
    let metrics = tokio::task::spawn_blocking(move || http_get(status_port, "/metrics"))
        .await
        .unwrap();
    assert!(metrics.starts_with("HTTP/1.1 200 OK"), "{metrics}");
    let count = |line: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(line))
            .and_then(|l| l.rsplit(' ').next())
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(count("duet_sql_statements_total{type=\"select\",result=\"ok\"}") >= 8);
    assert!(count("duet_sql_statements_total{type=\"insert\",result=\"error\"}") >= 2);
    assert_eq!(count("duet_sql_connections "), 1);
    let status = tokio::task::spawn_blocking(move || http_get(status_port, "/status"))
        .await
        .unwrap();
    assert!(status.contains("\"connections\":1"), "{status}");
    conn.disconnect().await.unwrap();
    c.shutdown().await;
}

/// A prepared point get keeps its plan between executions, and follows
/// DDL and `USE`: a new column shows, another database's table is read,
/// a dropped table is an error. Parameters that are not exact key values
/// take the general path and still answer right.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prepared_point_get_follows_ddl_and_use() {
    tests::cluster::init_logging();
    let c = SqlCluster::start().await.unwrap();
    let mut conn = connect(&c, "test").await;
    conn.query_drop("CREATE TABLE t (id INT PRIMARY KEY, u VARCHAR(8), v INT, UNIQUE KEY (u))")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)")
        .await
        .unwrap();
    let get = conn.prep("SELECT * FROM t WHERE id = ?").await.unwrap();
    let row: Option<(i32, String, i32)> = conn.exec_first(&get, (2,)).await.unwrap();
    assert_eq!(row, Some((2, "b".into(), 20)));
    // A string that is a number, a fraction, NULL: MySQL's comparisons.
    let row: Option<(i32, String, i32)> = conn.exec_first(&get, ("3",)).await.unwrap();
    assert_eq!(row.map(|r| r.0), Some(3));
    let rows: Vec<(i32, String, i32)> = conn.exec(&get, (2.5f64,)).await.unwrap();
    assert!(rows.is_empty());
    let rows: Vec<(i32, String, i32)> = conn.exec(&get, (Value::NULL,)).await.unwrap();
    assert!(rows.is_empty());
    // DDL: the same statement now returns the new column.
    conn.query_drop("ALTER TABLE t ADD COLUMN w INT DEFAULT 7")
        .await
        .unwrap();
    let row: Option<(i32, String, i32, i32)> = conn.exec_first(&get, (1,)).await.unwrap();
    assert_eq!(row, Some((1, "a".into(), 10, 7)));
    // A unique index with an IN list of parameters.
    let by_u = conn
        .prep("SELECT v FROM t WHERE u IN (?, ?) ORDER BY v")
        .await
        .unwrap();
    let vs: Vec<i32> = conn.exec(&by_u, ("c", "a")).await.unwrap();
    assert_eq!(vs, vec![10, 30]);
    // Inside a transaction, FOR UPDATE through the cached plan.
    let lock = conn
        .prep("SELECT v FROM t WHERE id = ? FOR UPDATE")
        .await
        .unwrap();
    conn.query_drop("BEGIN").await.unwrap();
    let v: Option<i32> = conn.exec_first(&lock, (3,)).await.unwrap();
    assert_eq!(v, Some(30));
    conn.query_drop("COMMIT").await.unwrap();
    // USE: the unqualified name now means the other database's table.
    conn.query_drop("CREATE DATABASE other").await.unwrap();
    conn.query_drop("CREATE TABLE other.t (id INT PRIMARY KEY, x VARCHAR(8))")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO other.t VALUES (1, 'there')")
        .await
        .unwrap();
    conn.query_drop("USE other").await.unwrap();
    let row: Option<(i32, String)> = conn.exec_first(&get, (1,)).await.unwrap();
    assert_eq!(row, Some((1, "there".into())));
    conn.query_drop("DROP TABLE other.t").await.unwrap();
    let e = conn
        .exec_first::<(i32, String), _, _>(&get, (1,))
        .await
        .unwrap_err();
    assert_eq!(code(&e), 1146);
    conn.disconnect().await.unwrap();
    c.shutdown().await;
}

fn http_get(port: u16, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passwords_and_multi_statements() {
    tests::cluster::init_logging();
    let c = SqlCluster::start().await.unwrap();
    // Multi-statements: results in order, stopping at the first error.
    let opts = OptsBuilder::from_opts(Opts::from_url(&c.url("test")).unwrap());
    let mut conn = Conn::new(opts).await.unwrap();
    let mut r = conn.query_iter("SELECT 1; SELECT 2, 3").await.unwrap();
    let first: Vec<i64> = r.collect().await.unwrap();
    let second: Vec<(i64, i64)> = r.collect().await.unwrap();
    drop(r);
    assert_eq!((first, second), (vec![1], vec![(2, 3)]));
    // A wrong password is refused with 1045.
    let bad = Conn::from_url(format!("mysql://root:wrong@127.0.0.1:{}/test", c.port)).await;
    assert_eq!(code(&bad.unwrap_err()), 1045);
    // An unknown database is refused with 1049.
    let bad = Conn::from_url(c.url("no_such_db")).await;
    assert_eq!(code(&bad.unwrap_err()), 1049);
    conn.disconnect().await.unwrap();
    c.shutdown().await;
}

fn mariadb(port: u16, db: &str, sql: &str) -> std::process::Output {
    Command::new("mariadb")
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            &port.to_string(),
            "-u",
            "root",
            "--batch",
            "--local-infile=1",
            "-D",
            db,
            "-e",
            sql,
        ])
        .output()
        .expect("the mariadb client is installed (apt mariadb-client; .ci/run installs it)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_cli() {
    tests::cluster::init_logging();
    let c = SqlCluster::start().await.unwrap();
    let port = c.port;
    let out = tokio::task::spawn_blocking(move || {
        let setup = mariadb(
            port,
            "test",
            "CREATE TABLE cli (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO cli VALUES (1,'one'),(2,'two'); SELECT id, v FROM cli ORDER BY id; SHOW TABLES;",
        );
        let err = mariadb(port, "test", "SELECT * FROM nope");
        // LOAD DATA LOCAL INFILE of a TPC-H style file (trailing '|').
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rows.tbl");
        let mut data = String::new();
        for i in 0..25_000 {
            data.push_str(&format!("{i}|name {i}|{}.{:02}|\n", i % 1000, i % 100));
        }
        std::fs::write(&file, data).unwrap();
        let load = mariadb(
            port,
            "test",
            &format!(
                "CREATE TABLE ld (id INT PRIMARY KEY, name VARCHAR(20), amount DECIMAL(8,2)); \
                 LOAD DATA LOCAL INFILE '{}' INTO TABLE ld FIELDS TERMINATED BY '|'; \
                 SELECT COUNT(*), SUM(amount), MAX(name) FROM ld;",
                file.display()
            ),
        );
        (setup, err, load)
    })
    .await
    .unwrap();
    let (setup, err, load) = out;
    assert!(
        load.status.success(),
        "LOAD DATA failed: {}",
        String::from_utf8_lossy(&load.stderr)
    );
    let expected_sum: u64 = (0..25_000u64).map(|i| (i % 1000) * 100 + i % 100).sum();
    assert_eq!(
        String::from_utf8_lossy(&load.stdout),
        format!(
            "COUNT(*)\tSUM(amount)\tMAX(name)\n25000\t{}.{:02}\tname 9999\n",
            expected_sum / 100,
            expected_sum % 100
        )
    );
    let stdout = String::from_utf8_lossy(&setup.stdout);
    assert!(
        setup.status.success(),
        "mariadb failed: {}",
        String::from_utf8_lossy(&setup.stderr)
    );
    assert_eq!(stdout, "id\tv\n1\tone\n2\ttwo\nTables_in_test\ncli\n");
    assert!(!err.status.success());
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert!(stderr.contains("ERROR 1146 (42S02)"), "{stderr}");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_clients_do_not_hurt_others() {
    tests::cluster::init_logging();
    let c = SqlCluster::start().await.unwrap();
    let mut good = connect(&c, "test").await;
    good.query_drop("CREATE TABLE k (id INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    good.query_drop("INSERT INTO k VALUES (1, 0)")
        .await
        .unwrap();
    let port = c.port;
    tokio::task::spawn_blocking(move || {
        // Binary garbage instead of a handshake response.
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut greeting = [0u8; 4];
        s.read_exact(&mut greeting).unwrap();
        let len = u32::from_le_bytes([greeting[0], greeting[1], greeting[2], 0]) as usize;
        let mut rest = vec![0u8; len];
        s.read_exact(&mut rest).unwrap();
        s.write_all(&[0x05, 0x00, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef, 0x00])
            .unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf); // an ERR packet, then close
        // A packet header announcing 16 MiB - 1 bytes after login would be
        // a valid start; one with a bad sequence number is not.
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&[0xff, 0xff, 0xff, 0x07]).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
    })
    .await
    .unwrap();
    // An oversized packet ends only that connection.
    let opts = OptsBuilder::from_opts(Opts::from_url(&c.url("test")).unwrap())
        .max_allowed_packet(Some(256 << 20));
    let mut big = Conn::new(opts).await.unwrap();
    let huge = "x".repeat(70 << 20);
    assert!(big.query_drop(format!("SELECT '{huge}'")).await.is_err());
    // A client vanishing mid-transaction leaves no lock behind.
    {
        let mut gone = connect(&c, "test").await;
        gone.query_drop("BEGIN").await.unwrap();
        gone.query_drop("UPDATE k SET v = 1 WHERE id = 1")
            .await
            .unwrap();
        drop(gone); // no COM_QUIT, no rollback
    }
    let started = Instant::now();
    good.query_drop("UPDATE k SET v = 2 WHERE id = 1")
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "waited {:?} for a dead client's lock",
        started.elapsed()
    );
    let v: Option<i64> = good
        .exec_first(
            "SELECT v FROM k WHERE id = ?",
            Params::Positional(vec![1.into()]),
        )
        .await
        .unwrap();
    assert_eq!(v, Some(2));
    good.disconnect().await.unwrap();
    c.shutdown().await;
}

/// `KILL QUERY` that lands while a statement commits does not answer 1317
/// for a transaction that committed: the commit's outcome is the answer
/// (an autocommit statement, and an explicit COMMIT).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_query_during_commit_reports_the_commit() {
    tests::cluster::init_logging();
    let c = SqlCluster::start().await.unwrap();
    let mut a = connect(&c, "test").await;
    let mut b = connect(&c, "test").await;
    b.query_drop("CREATE TABLE kq (id INT PRIMARY KEY)")
        .await
        .unwrap();
    let id: u64 = a
        .query_first("SELECT CONNECTION_ID()")
        .await
        .unwrap()
        .unwrap();

    for (held_rpc, statements) in [
        ("kv_prewrite", vec!["INSERT INTO kq VALUES (1)"]),
        (
            "kv_prewrite",
            vec!["BEGIN", "INSERT INTO kq VALUES (2), (1000000)", "COMMIT"],
        ),
    ] {
        let (last, first) = statements.split_last().unwrap();
        for s in first {
            a.query_drop(*s).await.unwrap();
        }
        // Table data only: the catalog's background writes go on.
        let held = c.cluster.faults.hold_next_on(held_rpc, b"t");
        let last = last.to_string();
        let run = tokio::spawn(async move {
            let r = a.query_drop(last).await;
            (a, r)
        });
        held.reached().await;
        b.query_drop(format!("KILL QUERY {id}")).await.unwrap();
        held.release();
        let (conn, result) = run.await.unwrap();
        a = conn;
        assert!(result.is_ok(), "{held_rpc}: {result:?}");
    }
    let rows: Vec<i64> = b.query("SELECT id FROM kq ORDER BY id").await.unwrap();
    assert_eq!(rows, vec![1, 2, 1000000]);
    // The connection goes on.
    a.query_drop("SELECT 1").await.unwrap();
    drop((a, b));
    c.shutdown().await;
}
