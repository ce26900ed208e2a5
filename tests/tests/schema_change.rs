//! Schema changes while transactions write: nothing acknowledged is lost
//! or wrong. A transaction that straddles a DDL on a table it writes fails
//! its COMMIT with 8028 and leaves nothing; an autocommit statement runs
//! again on the new schema; an index built while rows are written, updated
//! and deleted ends with exactly one entry per row (`ADMIN CHECK TABLE`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, OptsBuilder};
use tests::sql::{SqlCluster, code, connect};

/// The ids a query returns, sorted.
async fn ids(conn: &mut Conn, sql: &str) -> Vec<i64> {
    let mut v: Vec<i64> = conn.query(sql).await.expect(sql);
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_insert_straddling_add_unique_index_fails_its_commit() {
    tests::cluster::init_logging();
    let c = SqlCluster::start().await.unwrap();
    let mut a = connect(&c, "test").await;
    let mut b = connect(&c, "test").await;
    b.query_drop("CREATE TABLE t1 (id INT PRIMARY KEY, u INT)")
        .await
        .unwrap();
    b.query_drop("INSERT INTO t1 VALUES (100, 1)")
        .await
        .unwrap();

    a.query_drop("BEGIN").await.unwrap();
    let _: Vec<(i64, i64)> = a.query("SELECT * FROM t1 WHERE id = 100").await.unwrap();
    b.query_drop("ALTER TABLE t1 ADD UNIQUE INDEX uk (u)")
        .await
        .unwrap();
    a.query_drop("INSERT INTO t1 VALUES (1, 7)").await.unwrap();
    let err = a.query_drop("COMMIT").await.unwrap_err();
    assert_eq!(code(&err), 8028, "{err}");

    // Nothing of the transaction is anywhere: not in the rows, not in the
    // index; the index is whole and enforces uniqueness.
    assert_eq!(
        ids(&mut b, "SELECT id FROM t1 WHERE u = 7").await,
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(&mut b, "SELECT id FROM t1 WHERE u + 0 = 7").await,
        Vec::<i64>::new()
    );
    b.query_drop("ADMIN CHECK TABLE t1").await.unwrap();
    b.query_drop("INSERT INTO t1 VALUES (2, 7)").await.unwrap();
    let dup = b
        .query_drop("INSERT INTO t1 VALUES (3, 7)")
        .await
        .unwrap_err();
    assert_eq!(code(&dup), 1062, "{dup}");
    assert_eq!(ids(&mut b, "SELECT id FROM t1 WHERE u = 7").await, vec![2]);

    // The connection goes on: a new transaction sees the new schema.
    a.query_drop("BEGIN").await.unwrap();
    a.query_drop("INSERT INTO t1 VALUES (4, 8)").await.unwrap();
    a.query_drop("COMMIT").await.unwrap();
    assert_eq!(ids(&mut b, "SELECT id FROM t1 WHERE u = 8").await, vec![4]);
    b.query_drop("ADMIN CHECK TABLE t1").await.unwrap();
    drop((a, b));
    c.shutdown().await;
}

/// ALTER TABLE's ALGORITHM and LOCK clauses: what cannot be done fails
/// before anything changes, what is not done says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alter_table_algorithm_and_lock_are_never_ignored_silently() {
    tests::cluster::init_logging();
    let c = SqlCluster::start().await.unwrap();
    let mut a = connect(&c, "test").await;
    a.query_drop("CREATE TABLE al (id INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    let err = a
        .query_drop("ALTER TABLE al ADD INDEX kv (v), ALGORITHM=INSTANT")
        .await
        .unwrap_err();
    assert_eq!(code(&err), 1846, "{err}");
    a.query_drop("ALTER TABLE al ADD INDEX kv (v), ALGORITHM=INPLACE, LOCK=NONE")
        .await
        .unwrap();
    let warnings: Vec<(String, u16, String)> = a.query("SHOW WARNINGS").await.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    a.query_drop("ALTER TABLE al DROP INDEX kv, ALGORITHM=COPY, LOCK=EXCLUSIVE")
        .await
        .unwrap();
    let warnings: Vec<(String, u16, String)> = a.query("SHOW WARNINGS").await.unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].2.contains("ALGORITHM=COPY"), "{warnings:?}");
    assert!(warnings[1].2.contains("LOCK=EXCLUSIVE"), "{warnings:?}");
    drop(a);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_insert_straddling_truncate_is_never_lost_silently() {
    tests::cluster::init_logging();
    let c = SqlCluster::start().await.unwrap();
    let mut a = connect(&c, "test").await;
    let mut b = connect(&c, "test").await;
    b.query_drop("CREATE TABLE t2 (id INT PRIMARY KEY)")
        .await
        .unwrap();
    b.query_drop("INSERT INTO t2 VALUES (5)").await.unwrap();

    a.query_drop("BEGIN").await.unwrap();
    let n: Option<i64> = a.query_first("SELECT COUNT(*) FROM t2").await.unwrap();
    assert_eq!(n, Some(1));
    b.query_drop("TRUNCATE TABLE t2").await.unwrap();
    a.query_drop("INSERT INTO t2 VALUES (1)").await.unwrap();
    let err = a.query_drop("COMMIT").await.unwrap_err();
    assert_eq!(code(&err), 8028, "{err}");
    assert_eq!(ids(&mut b, "SELECT id FROM t2").await, Vec::<i64>::new());

    // The same INSERT in autocommit mode after the TRUNCATE just works.
    a.query_drop("INSERT INTO t2 VALUES (1)").await.unwrap();
    assert_eq!(ids(&mut b, "SELECT id FROM t2").await, vec![1]);
    drop((a, b));
    c.shutdown().await;
}

/// INSERT ... SELECT and LOAD DATA in a transaction that an ADD INDEX
/// overtakes fail at COMMIT; in autocommit mode they run again and land
/// with their index entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn insert_select_and_load_data_straddling_add_index() {
    tests::cluster::init_logging();
    let c = SqlCluster::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.csv");
    let lines: String = (1000..1200).map(|i| format!("{i},{}\n", i % 50)).collect();
    std::fs::write(&file, lines).unwrap();
    let opts = OptsBuilder::from_opts(Opts::from_url(&c.url("test")).unwrap())
        .local_infile_handler(Some(mysql_async::WhiteListFsHandler::new([file.clone()])));
    let mut a = Conn::new(opts).await.unwrap();
    let mut b = connect(&c, "test").await;
    b.query_drop("CREATE TABLE src (id INT PRIMARY KEY, k INT)")
        .await
        .unwrap();
    let values: Vec<String> = (0..200).map(|i| format!("({i}, {})", i % 50)).collect();
    b.query_drop(format!("INSERT INTO src VALUES {}", values.join(",")))
        .await
        .unwrap();
    b.query_drop("CREATE TABLE dst (id INT PRIMARY KEY, k INT)")
        .await
        .unwrap();

    // INSERT ... SELECT in an explicit transaction.
    a.query_drop("BEGIN").await.unwrap();
    a.query_drop("INSERT INTO dst SELECT * FROM src")
        .await
        .unwrap();
    b.query_drop("ALTER TABLE dst ADD INDEX k1 (k)")
        .await
        .unwrap();
    let err = a.query_drop("COMMIT").await.unwrap_err();
    assert_eq!(code(&err), 8028, "{err}");
    let n: Option<i64> = b.query_first("SELECT COUNT(*) FROM dst").await.unwrap();
    assert_eq!(n, Some(0));

    // LOAD DATA in an explicit transaction.
    a.query_drop("BEGIN").await.unwrap();
    a.query_drop(format!(
        "LOAD DATA LOCAL INFILE '{}' INTO TABLE dst FIELDS TERMINATED BY ','",
        file.display()
    ))
    .await
    .unwrap();
    b.query_drop("ALTER TABLE dst ADD INDEX k2 (k, id)")
        .await
        .unwrap();
    let err = a.query_drop("COMMIT").await.unwrap_err();
    assert_eq!(code(&err), 8028, "{err}");
    let n: Option<i64> = b.query_first("SELECT COUNT(*) FROM dst").await.unwrap();
    assert_eq!(n, Some(0));

    // Autocommit: both run while an index is being added, and land.
    let ddl = tokio::spawn({
        let mut b = connect(&c, "test").await;
        async move {
            b.query_drop("ALTER TABLE dst ADD UNIQUE INDEX u3 (id, k)")
                .await
                .unwrap();
        }
    });
    a.query_drop("INSERT INTO dst SELECT * FROM src")
        .await
        .unwrap();
    a.query_drop(format!(
        "LOAD DATA LOCAL INFILE '{}' INTO TABLE dst FIELDS TERMINATED BY ','",
        file.display()
    ))
    .await
    .unwrap();
    ddl.await.unwrap();
    let n: Option<i64> = b.query_first("SELECT COUNT(*) FROM dst").await.unwrap();
    assert_eq!(n, Some(400));
    b.query_drop("ADMIN CHECK TABLE dst").await.unwrap();
    let k: Vec<i64> = b
        .query("SELECT id FROM dst WHERE k = 7 ORDER BY id")
        .await
        .unwrap();
    assert_eq!(k, vec![7, 57, 107, 157, 1007, 1057, 1107, 1157]);
    drop((a, b));
    c.shutdown().await;
}

/// An index added and dropped while autocommit and explicit transactions
/// insert, update and delete rows: afterwards every row has exactly its
/// entries, and no write that succeeded is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn index_built_and_dropped_under_concurrent_writes() {
    tests::cluster::init_logging();
    let c = SqlCluster::start().await.unwrap();
    let mut b = connect(&c, "test").await;
    b.query_drop("CREATE TABLE w (id INT PRIMARY KEY, u INT, v INT)")
        .await
        .unwrap();
    let values: Vec<String> = (0..300).map(|i| format!("({i}, {i}, 0)")).collect();
    b.query_drop(format!("INSERT INTO w VALUES {}", values.join(",")))
        .await
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..3i64 {
        let mut conn = connect(&c, "test").await;
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut acked: Vec<i64> = Vec::new();
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                i += 1;
                let id = 1000 + w * 100_000 + i;
                // Insert (autocommit), move a row's u, delete another;
                // every third round the same in an explicit transaction.
                let explicit = i % 3 == 0;
                let stmts = [
                    format!("INSERT INTO w VALUES ({id}, {id}, {w})"),
                    format!(
                        "UPDATE w SET u = u + 1000000 WHERE id = {}",
                        (i * 7 + w) % 300
                    ),
                    format!("DELETE FROM w WHERE id = {}", id - 1),
                ];
                if explicit {
                    let r = async {
                        conn.query_drop("BEGIN").await?;
                        for s in &stmts {
                            conn.query_drop(s).await?;
                        }
                        conn.query_drop("COMMIT").await
                    }
                    .await;
                    match r {
                        Ok(()) => {
                            acked.retain(|&a| a != id - 1);
                            acked.push(id);
                        }
                        Err(e) => {
                            assert!(
                                matches!(code(&e), 8028 | 9007 | 1213),
                                "unexpected error: {e}"
                            );
                            let _ = conn.query_drop("ROLLBACK").await;
                        }
                    }
                } else {
                    // Autocommit statements retry themselves; under this
                    // much contention one may still give up with 9007.
                    let mut ran = Vec::new();
                    for s in &stmts {
                        match conn.query_drop(s).await {
                            Ok(()) => ran.push(true),
                            Err(e) if code(&e) == 9007 => ran.push(false),
                            Err(e) => panic!("{s}: {e}"),
                        }
                    }
                    if ran[0] {
                        acked.push(id);
                    }
                    if ran[2] {
                        acked.retain(|&a| a != id - 1);
                    }
                }
            }
            acked
        }));
    }
    b.query_drop("ALTER TABLE w ADD INDEX ku (u)")
        .await
        .unwrap();
    b.query_drop("ADMIN CHECK TABLE w").await.unwrap();
    b.query_drop("ALTER TABLE w ADD UNIQUE INDEX kv (v, id)")
        .await
        .unwrap();
    b.query_drop("ALTER TABLE w DROP INDEX ku").await.unwrap();
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    b.query_drop("ADMIN CHECK TABLE w").await.unwrap();
    let present = ids(&mut b, "SELECT id FROM w WHERE id >= 1000").await;
    for id in &acked {
        assert!(present.contains(id), "acknowledged insert {id} is missing");
    }
    drop(b);
    c.shutdown().await;
}
