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

/// The jobs `ADMIN SHOW DDL JOBS` lists, newest first: (type, table,
/// schema state, row count, state).
async fn jobs(conn: &mut Conn) -> Vec<(String, String, String, i64, String)> {
    let rows: Vec<mysql_async::Row> = conn.query("ADMIN SHOW DDL JOBS 20").await.unwrap();
    rows.into_iter()
        .map(|r| {
            (
                r.get("JOB_TYPE").unwrap(),
                r.get("TABLE_NAME").unwrap(),
                r.get("SCHEMA_STATE").unwrap(),
                r.get("ROW_COUNT").unwrap(),
                r.get("STATE").unwrap(),
            )
        })
        .collect()
}

/// An ADD INDEX cancelled in the middle of its backfill (held there by a
/// session's lock on a row) rolls back: the statement answers 8214, the
/// index is gone from the table, its entries from the KV; the job shows as
/// "rollback done" beside the table's other jobs. Cancelling a finished or
/// unknown job says why it cannot.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_add_index_cancelled_mid_backfill_rolls_back() {
    tests::cluster::init_logging();
    let c = SqlCluster::start().await.unwrap();
    let mut a = connect(&c, "test").await;
    let mut b = connect(&c, "test").await;
    a.query_drop("CREATE TABLE cx (id INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    let values: Vec<String> = (1..=400).map(|i| format!("({i}, {})", i % 13)).collect();
    a.query_drop(format!("INSERT INTO cx VALUES {}", values.join(",")))
        .await
        .unwrap();
    a.query_drop("SET GLOBAL tidb_ddl_reorg_batch_size = 32")
        .await
        .unwrap();
    let mut locker = connect(&c, "test").await;
    locker.query_drop("BEGIN").await.unwrap();
    locker
        .query_drop("SELECT v FROM cx WHERE id = 200 FOR UPDATE")
        .await
        .unwrap();
    let ddl = tokio::spawn(async move {
        let r = a.query_drop("ALTER TABLE cx ADD INDEX iv (v)").await;
        (a, r)
    });
    let job_id = loop {
        let rows: Vec<mysql_async::Row> = b.query("ADMIN SHOW DDL JOBS").await.unwrap();
        let running = rows.into_iter().find(|r| {
            r.get::<String, _>("JOB_TYPE").as_deref() == Some("add index")
                && r.get::<String, _>("SCHEMA_STATE").as_deref() == Some("write reorganization")
                && r.get::<i64, _>("ROW_COUNT").is_some_and(|n| n > 0)
        });
        if let Some(r) = running {
            break r.get::<i64, _>("JOB_ID").unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    // The cancel waits for the batch holding the job, which waits for the
    // locked row.
    let mut canceller = connect(&c, "test").await;
    let cancel = tokio::spawn(async move {
        let rows: Vec<(i64, String)> = canceller
            .query(format!("ADMIN CANCEL DDL JOBS {job_id}"))
            .await
            .unwrap();
        rows
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    locker.query_drop("ROLLBACK").await.unwrap();
    assert_eq!(
        cancel.await.unwrap(),
        vec![(job_id, "successful".to_string())]
    );
    let (_a, r) = ddl.await.unwrap();
    let err = r.unwrap_err();
    assert_eq!(code(&err), 8214, "{err}");

    let indexes: Vec<mysql_async::Row> = b.query("SHOW INDEX FROM cx").await.unwrap();
    assert!(
        indexes
            .iter()
            .all(|r| r.get::<String, _>("Key_name").as_deref() != Some("iv")),
        "the cancelled index is gone"
    );
    b.query_drop("ADMIN CHECK TABLE cx").await.unwrap();
    let listed = jobs(&mut b).await;
    assert_eq!(
        listed[0],
        (
            "add index".into(),
            "cx".into(),
            "none".into(),
            listed[0].3,
            "rollback done".into()
        )
    );
    assert!(
        listed
            .iter()
            .any(|j| j.0 == "create table" && j.1 == "cx" && j.4 == "synced"),
        "{listed:?}"
    );
    let again: Vec<(i64, String)> = b
        .query(format!("ADMIN CANCEL DDL JOBS {job_id}, 999999999"))
        .await
        .unwrap();
    assert!(again[0].1.contains("8225"), "{again:?}");
    assert!(again[1].1.contains("8224"), "{again:?}");
    // The index can be added after all.
    b.query_drop("ALTER TABLE cx ADD INDEX iv (v)")
        .await
        .unwrap();
    let n: Option<i64> = b
        .query_first("SELECT COUNT(*) FROM cx WHERE v = 5")
        .await
        .unwrap();
    assert_eq!(n, Some(31));
    b.query_drop("ADMIN CHECK TABLE cx").await.unwrap();
    drop((b, locker));
    c.shutdown().await;
}

/// DROP TABLE and TRUNCATE answer at once and leave the rows in the KV
/// until the GC safe point passes the drop (TiDB's delete-range); then
/// the DDL owner deletes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropped_tables_are_freed_after_the_gc_safe_point() {
    tests::cluster::init_logging();
    let cluster = tests::cluster::Cluster::start_with(
        3,
        |pd| {
            pd.gc_life_time = std::time::Duration::from_secs(3);
            pd.gc_interval = std::time::Duration::from_millis(200);
        },
        |_| {},
    )
    .await
    .unwrap();
    let c = SqlCluster::start_on(cluster).await.unwrap();
    let mut b = connect(&c, "test").await;
    let mut ids = Vec::new();
    for t in ["gone", "emptied"] {
        b.query_drop(format!("CREATE TABLE {t} (id INT PRIMARY KEY)"))
            .await
            .unwrap();
        let values: Vec<String> = (1..=50).map(|i| format!("({i})")).collect();
        b.query_drop(format!("INSERT INTO {t} VALUES {}", values.join(",")))
            .await
            .unwrap();
        let id: Option<i64> = b
            .query_first(format!(
                "SELECT TIDB_TABLE_ID FROM information_schema.tables WHERE table_name = '{t}'"
            ))
            .await
            .unwrap();
        ids.push(id.expect("the table's id"));
    }
    b.query_drop("DROP TABLE gone").await.unwrap();
    b.query_drop("TRUNCATE TABLE emptied").await.unwrap();
    let client = txn::client::TxnClient::connect(&c.cluster.pd_addr.to_string())
        .await
        .unwrap();
    let rows_of = async |id: i64| {
        let (start, end) = codec::table::record_range(id);
        let txn = client.begin().await.unwrap();
        txn.scan(&start, &end, 0, false).await.unwrap().len()
    };
    assert_eq!(
        (rows_of(ids[0]).await, rows_of(ids[1]).await),
        (50, 50),
        "the statements freed nothing themselves"
    );
    let n: Option<i64> = b.query_first("SELECT COUNT(*) FROM emptied").await.unwrap();
    assert_eq!(n, Some(0));
    tests::cluster::wait_until(
        "the ranges freed",
        std::time::Duration::from_secs(60),
        || async { rows_of(ids[0]).await == 0 && rows_of(ids[1]).await == 0 },
    )
    .await
    .unwrap();
    drop(b);
    c.shutdown().await;
}

/// The `SHOW CREATE TABLE` text of a table.
async fn create_table(conn: &mut Conn, table: &str) -> String {
    let row: Option<(String, String)> = conn
        .query_first(format!("SHOW CREATE TABLE {table}"))
        .await
        .unwrap();
    row.expect("the table").1
}

/// A BIGINT column with an index narrowed to INT over a few thousand
/// rows while other sessions insert, update and delete rows: the job
/// converts the rows in many batches, every write meanwhile also writes
/// the converted value and the index copy, and afterwards every row reads
/// its last acknowledged value through the table and through the index,
/// `ADMIN CHECK TABLE` finds every entry, and nothing shows the old type.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_column_narrowed_under_concurrent_writes_converts_every_row() {
    use std::collections::BTreeMap;
    tests::cluster::init_logging();
    let c = SqlCluster::start().await.unwrap();
    let mut b = connect(&c, "test").await;
    b.query_drop("CREATE TABLE nw (id INT PRIMARY KEY, v BIGINT, w INT, KEY kv (v))")
        .await
        .unwrap();
    const ROWS: i64 = 3000;
    for chunk in (0..ROWS).collect::<Vec<_>>().chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| format!("({i}, {}, {})", i * 10, i % 3))
            .collect();
        b.query_drop(format!("INSERT INTO nw VALUES {}", values.join(",")))
            .await
            .unwrap();
    }
    b.query_drop("SET GLOBAL tidb_ddl_reorg_batch_size = 64")
        .await
        .unwrap();

    // Each writer owns the rows with id % 3 == w and knows their values.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut writers = Vec::new();
    for w in 0..3i64 {
        let mut conn = connect(&c, "test").await;
        let stop = stop.clone();
        let acked = acked.clone();
        writers.push(tokio::spawn(async move {
            let mut rows: BTreeMap<i64, i64> = (0..ROWS)
                .filter(|i| i % 3 == w)
                .map(|i| (i, i * 10))
                .collect();
            let definite = |e: &mysql_async::Error| matches!(code(e), 9007 | 8028 | 1213 | 1205);
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(std::time::Duration::from_millis(3)).await;
                i += 1;
                let new_id = ROWS + w + 3 * i;
                let old_id = (i * 37 * 3 + w) % ROWS;
                let new_v = -(new_id * 7);
                match conn
                    .query_drop(format!("INSERT INTO nw VALUES ({new_id}, {new_v}, {w})"))
                    .await
                {
                    Ok(()) => {
                        rows.insert(new_id, new_v);
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => assert!(definite(&e), "insert: {e}"),
                }
                if rows.contains_key(&old_id) {
                    match conn
                        .query_drop(format!("UPDATE nw SET v = v + 1 WHERE id = {old_id}"))
                        .await
                    {
                        Ok(()) => *rows.get_mut(&old_id).unwrap() += 1,
                        Err(e) => assert!(definite(&e), "update: {e}"),
                    }
                }
                if i % 4 == 0 {
                    let gone = (i * 101 * 3 + w) % ROWS;
                    match conn
                        .query_drop(format!("DELETE FROM nw WHERE id = {gone}"))
                        .await
                    {
                        Ok(()) => {
                            rows.remove(&gone);
                        }
                        Err(e) => assert!(definite(&e), "delete: {e}"),
                    }
                }
                // An explicit transaction now and then: it commits, or a
                // schema step under it fails it whole.
                if i % 5 == 0 {
                    let id = (i * 53 * 3 + w) % ROWS;
                    let r = async {
                        conn.query_drop("BEGIN").await?;
                        conn.query_drop(format!("UPDATE nw SET v = -v WHERE id = {id}"))
                            .await?;
                        conn.query_drop("COMMIT").await
                    }
                    .await;
                    match r {
                        Ok(()) => {
                            if let Some(v) = rows.get_mut(&id) {
                                *v = -*v;
                            }
                        }
                        Err(e) => {
                            assert!(definite(&e), "transaction: {e}");
                            let _ = conn.query_drop("ROLLBACK").await;
                        }
                    }
                }
            }
            rows
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let before = acked.load(Ordering::Relaxed);
    b.query_drop("ALTER TABLE nw MODIFY v INT NOT NULL")
        .await
        .unwrap();
    let during = acked.load(Ordering::Relaxed) - before;
    assert!(during > 20, "inserts while the job ran: {during}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let mut expected = BTreeMap::new();
    for w in writers {
        expected.extend(w.await.unwrap());
    }

    let listed = jobs(&mut b).await;
    let job = listed
        .iter()
        .find(|j| j.0 == "modify column" && j.1 == "nw")
        .expect("the modify job is listed");
    assert_eq!(job.4, "synced", "{listed:?}");
    assert!(job.3 >= ROWS / 2, "rows converted: {listed:?}");

    b.query_drop("ADMIN CHECK TABLE nw").await.unwrap();
    let ddl = create_table(&mut b, "nw").await;
    assert!(ddl.contains("`v` int NOT NULL"), "{ddl}");
    assert!(!ddl.contains("bigint"), "{ddl}");
    let columns: Vec<(String, String)> = b
        .query(
            "SELECT column_name, column_type FROM information_schema.columns \
             WHERE table_schema = 'test' AND table_name = 'nw' ORDER BY ordinal_position",
        )
        .await
        .unwrap();
    assert_eq!(
        columns,
        vec![
            ("id".to_string(), "int".to_string()),
            ("v".to_string(), "int".to_string()),
            ("w".to_string(), "int".to_string()),
        ]
    );

    let rows: Vec<(i64, i64, i64)> = b.query("SELECT * FROM nw ORDER BY id").await.unwrap();
    let got: BTreeMap<i64, i64> = rows.iter().map(|(id, v, _)| (*id, *v)).collect();
    assert_eq!(got.len(), expected.len());
    for (id, v) in &expected {
        assert_eq!(got.get(id), Some(v), "row {id}");
    }
    // Through the index: a range and single values.
    let in_range = expected
        .values()
        .filter(|v| (1000..=9000).contains(*v))
        .count() as i64;
    let n: Option<i64> = b
        .query_first("SELECT COUNT(*) FROM nw WHERE v BETWEEN 1000 AND 9000")
        .await
        .unwrap();
    assert_eq!(n, Some(in_range));
    for (id, v) in expected.iter().step_by(97) {
        let found = ids(&mut b, &format!("SELECT id FROM nw WHERE v = {v}")).await;
        assert!(found.contains(id), "v = {v}: {found:?}");
    }
    let err = b
        .query_drop("INSERT INTO nw VALUES (-1, 3000000000, 0)")
        .await
        .unwrap_err();
    assert_eq!(code(&err), 1264, "{err}");
    drop(b);
    c.shutdown().await;
}

/// A conversion held in its backfill (a session locks a row): writes
/// meanwhile must fit the new type (1264 otherwise), nothing shows the
/// hidden column; cancelled, it rolls back (8214) and the table is as it
/// was. A conversion that meets a value that does not fit after converting
/// some batches fails with MySQL's error and leaves the table as it was;
/// after the value is fixed it succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_column_conversion_cancelled_or_failing_mid_backfill_rolls_back() {
    tests::cluster::init_logging();
    // A short GC life: the entries of dropped index copies are freed soon.
    let cluster = tests::cluster::Cluster::start_with(
        3,
        |pd| {
            pd.gc_life_time = std::time::Duration::from_secs(3);
            pd.gc_interval = std::time::Duration::from_millis(200);
        },
        |_| {},
    )
    .await
    .unwrap();
    let c = SqlCluster::start_on(cluster).await.unwrap();
    let client = txn::client::TxnClient::connect(&c.cluster.pd_addr.to_string())
        .await
        .unwrap();
    // The ids of the indexes that have entries in the KV.
    let index_ids = async |table_id: i64| {
        let start = codec::table::index_prefix(table_id, 0);
        let end = codec::table::record_prefix(table_id);
        let txn = client.begin().await.unwrap();
        let mut ids: Vec<i64> = txn
            .scan(&start, &end, 0, false)
            .await
            .unwrap()
            .iter()
            .map(|(k, _)| codec::table::decode_index_key(k, 0).unwrap().1)
            .collect();
        ids.dedup();
        ids
    };
    let mut a = connect(&c, "test").await;
    let mut b = connect(&c, "test").await;
    a.query_drop("CREATE TABLE cc (id INT PRIMARY KEY, v VARCHAR(20), UNIQUE KEY uv (v))")
        .await
        .unwrap();
    let values: Vec<String> = (1..=400).map(|i| format!("({i}, '{}')", i * 3)).collect();
    a.query_drop(format!("INSERT INTO cc VALUES {}", values.join(",")))
        .await
        .unwrap();
    a.query_drop("SET GLOBAL tidb_ddl_reorg_batch_size = 32")
        .await
        .unwrap();
    let before = create_table(&mut b, "cc").await;
    let table_id: Option<i64> = b
        .query_first("SELECT TIDB_TABLE_ID FROM information_schema.tables WHERE table_name = 'cc'")
        .await
        .unwrap();
    let table_id = table_id.unwrap();
    let uv = index_ids(table_id).await;
    assert_eq!(uv.len(), 1, "the entries of uv: {uv:?}");
    let mut locker = connect(&c, "test").await;
    locker.query_drop("BEGIN").await.unwrap();
    locker
        .query_drop("SELECT v FROM cc WHERE id = 200 FOR UPDATE")
        .await
        .unwrap();
    let ddl = tokio::spawn(async move {
        let r = a.query_drop("ALTER TABLE cc MODIFY v INT").await;
        (a, r)
    });
    let job_id = loop {
        let rows: Vec<mysql_async::Row> = b.query("ADMIN SHOW DDL JOBS").await.unwrap();
        let running = rows.into_iter().find(|r| {
            r.get::<String, _>("JOB_TYPE").as_deref() == Some("modify column")
                && r.get::<String, _>("SCHEMA_STATE").as_deref() == Some("write reorganization")
                && r.get::<i64, _>("ROW_COUNT").is_some_and(|n| n > 0)
        });
        if let Some(r) = running {
            break r.get::<i64, _>("JOB_ID").unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    // Writes now keep the converted column: what does not fit is refused.
    let err = b
        .query_drop("INSERT INTO cc VALUES (1000, 'abc')")
        .await
        .unwrap_err();
    assert_eq!(code(&err), 1366, "{err}");
    let err = b
        .query_drop("UPDATE cc SET v = '99999999999' WHERE id = 1")
        .await
        .unwrap_err();
    assert_eq!(code(&err), 1264, "{err}");
    // A duplicate only in the new type's unique index is one too.
    let err = b
        .query_drop("INSERT INTO cc VALUES (1001, '06')")
        .await
        .unwrap_err();
    assert_eq!(code(&err), 1062, "{err}");
    b.query_drop("INSERT INTO cc VALUES (1002, '2000')")
        .await
        .unwrap();
    // Nothing shows the hidden column or indexes.
    let row: Vec<mysql_async::Row> = b.query("SELECT * FROM cc WHERE id = 1").await.unwrap();
    assert_eq!(row[0].len(), 2);
    assert_eq!(create_table(&mut b, "cc").await, before);
    let columns: Vec<mysql_async::Row> = b.query("SHOW COLUMNS FROM cc").await.unwrap();
    assert_eq!(columns.len(), 2);
    let indexes: Vec<mysql_async::Row> = b.query("SHOW INDEX FROM cc").await.unwrap();
    assert_eq!(indexes.len(), 2, "PRIMARY and uv");

    let mut canceller = connect(&c, "test").await;
    let cancel = tokio::spawn(async move {
        let rows: Vec<(i64, String)> = canceller
            .query(format!("ADMIN CANCEL DDL JOBS {job_id}"))
            .await
            .unwrap();
        rows
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    locker.query_drop("ROLLBACK").await.unwrap();
    assert_eq!(
        cancel.await.unwrap(),
        vec![(job_id, "successful".to_string())]
    );
    let (mut a, r) = ddl.await.unwrap();
    let err = r.unwrap_err();
    assert_eq!(code(&err), 8214, "{err}");
    assert_eq!(create_table(&mut b, "cc").await, before);
    b.query_drop("ADMIN CHECK TABLE cc").await.unwrap();
    let listed = jobs(&mut b).await;
    assert_eq!(
        (listed[0].0.as_str(), listed[0].4.as_str()),
        ("modify column", "rollback done"),
        "{listed:?}"
    );
    // The copy's entries the backfill wrote are freed once GC allows.
    assert!(index_ids(table_id).await.len() > 1, "the copy had entries");
    tests::cluster::wait_until(
        "the copy's entries freed",
        std::time::Duration::from_secs(60),
        || async { index_ids(table_id).await == uv },
    )
    .await
    .unwrap();
    // The old type takes any string again.
    b.query_drop("INSERT INTO cc VALUES (1000, 'abc')")
        .await
        .unwrap();

    // A value that does not fit, found after some batches: MySQL's error,
    // with the row it is at in key order, and the table as it was.
    let err = a
        .query_drop("ALTER TABLE cc MODIFY v INT")
        .await
        .unwrap_err();
    assert_eq!(code(&err), 1366, "{err}");
    assert!(
        err.to_string()
            .contains("Incorrect integer value: 'abc' for column 'v' at row 401"),
        "{err}"
    );
    assert_eq!(create_table(&mut b, "cc").await, before);
    b.query_drop("ADMIN CHECK TABLE cc").await.unwrap();
    let v: Option<String> = b
        .query_first("SELECT v FROM cc WHERE id = 7")
        .await
        .unwrap();
    assert_eq!(v.as_deref(), Some("21"));

    // Fixed, the conversion goes through: a new column id, the values and
    // the unique index as the new type.
    b.query_drop("UPDATE cc SET v = '-5' WHERE id = 1000")
        .await
        .unwrap();
    let err = a
        .query_drop("ALTER TABLE cc CHANGE v n INT UNSIGNED NULL")
        .await
        .unwrap_err();
    assert_eq!(code(&err), 1264, "{err}");
    a.query_drop("ALTER TABLE cc CHANGE v n INT NULL FIRST")
        .await
        .unwrap();
    let after = create_table(&mut b, "cc").await;
    assert!(after.contains("`n` int DEFAULT NULL"), "{after}");
    assert!(after.contains("UNIQUE KEY `uv` (`n`)"), "{after}");
    let rows: Vec<(i64, i64)> = b
        .query("SELECT n, id FROM cc WHERE n < 10 ORDER BY n")
        .await
        .unwrap();
    assert_eq!(rows, vec![(-5, 1000), (3, 1), (6, 2), (9, 3)]);
    let dup = b
        .query_drop("INSERT INTO cc VALUES (9, 5000)")
        .await
        .unwrap_err();
    assert_eq!(code(&dup), 1062, "{dup}");
    b.query_drop("ADMIN CHECK TABLE cc").await.unwrap();
    // The old uv's entries go too: only the new one's are left.
    tests::cluster::wait_until(
        "the old index's entries freed",
        std::time::Duration::from_secs(60),
        || async {
            let ids = index_ids(table_id).await;
            ids.len() == 1 && ids != uv
        },
    )
    .await
    .unwrap();
    b.query_drop("ADMIN CHECK TABLE cc").await.unwrap();
    drop((a, b, locker));
    c.shutdown().await;
}

/// Right after a conversion's public step a server may still run the
/// previous version (write reorganization) for up to a lease, reading the
/// old column id — also through the scans the stores decode. Server B is
/// held there (a test hook: it loads no newer version) while server A,
/// the DDL owner, runs the public version: A's inserts and updates must
/// still write the old column (converted back) and the old index, so B's
/// range scans, aggregates, point gets and index reads show the right
/// values, not the old column's default. The owner's long lease keeps the
/// job from going on while B is behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_one_version_behind_a_finished_conversion_reads_every_row_right() {
    use sql::catalog::model::SchemaState;
    use std::time::Duration;
    tests::cluster::init_logging();
    let cluster = tests::cluster::Cluster::start(3).await.unwrap();
    let c = SqlCluster::start_with_lease(cluster, Duration::from_secs(30))
        .await
        .unwrap();
    let mut a = connect(&c, "test").await;
    a.query_drop("CREATE TABLE lag (id INT PRIMARY KEY, v BIGINT, w INT, KEY kv (v))")
        .await
        .unwrap();
    a.query_drop("INSERT INTO lag VALUES (1, 10, 1), (2, 20, 2), (3, 30, 3)")
        .await
        .unwrap();
    // B reloads every 50ms, so every step finds it at once until held.
    let (server_b, port_b) = c.another_server(Duration::from_millis(100)).await.unwrap();
    let mut b =
        Conn::new(Opts::from_url(&format!("mysql://root@127.0.0.1:{port_b}/test")).unwrap())
            .await
            .unwrap();
    let table_state = |server: &sql::SqlServer| {
        let schema = server.shared().catalog.schema();
        let t = schema.table("test", "lag").unwrap().clone();
        (
            schema.version,
            t.changing.as_ref().map(|ch| ch.state),
            t.removing.as_ref().map(|rm| rm.state),
        )
    };

    // The backfill waits for a locked row: the job stays in write
    // reorganization until B is held there.
    let mut locker = connect(&c, "test").await;
    locker.query_drop("BEGIN").await.unwrap();
    locker
        .query_drop("SELECT v FROM lag WHERE id = 2 FOR UPDATE")
        .await
        .unwrap();
    let mut alter = connect(&c, "test").await;
    let ddl = tokio::spawn(async move {
        let r = alter.query_drop("ALTER TABLE lag MODIFY v INT").await;
        (alter, r)
    });
    let held = loop {
        let (version, changing, _) = table_state(&server_b);
        if changing == Some(SchemaState::WriteReorganization) {
            break version;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    server_b.shared().catalog.hold_at(Some(held));
    locker.query_drop("ROLLBACK").await.unwrap();

    // A reaches public; B is still on the version before.
    loop {
        let (_, changing, removing) = table_state(&c.server);
        if changing.is_none() && removing.is_some() {
            assert_eq!(removing, Some(SchemaState::WriteOnly));
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        table_state(&server_b),
        (held, Some(SchemaState::WriteReorganization), None)
    );

    // Written on the public version.
    a.query_drop("INSERT INTO lag VALUES (4, 40, 4)")
        .await
        .unwrap();
    a.query_drop("UPDATE lag SET v = 25 WHERE id = 2")
        .await
        .unwrap();
    // Read on the version before: scans the stores decode, an aggregate,
    // a point get, the old index.
    let rows: Vec<(i64, Option<i64>, i64)> = b
        .query("SELECT id, v, w FROM lag WHERE id > 0 ORDER BY id")
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![
            (1, Some(10), 1),
            (2, Some(25), 2),
            (3, Some(30), 3),
            (4, Some(40), 4)
        ]
    );
    let agg: Option<(i64, i64)> = b
        .query_first("SELECT SUM(v), COUNT(v) FROM lag WHERE id > 0")
        .await
        .unwrap();
    assert_eq!(agg, Some((105, 4)));
    let v: Option<Option<i64>> = b
        .query_first("SELECT v FROM lag WHERE id = 4")
        .await
        .unwrap();
    assert_eq!(v, Some(Some(40)));
    assert_eq!(
        ids(&mut b, "SELECT id FROM lag WHERE v = 40").await,
        vec![4]
    );
    assert_eq!(
        ids(&mut b, "SELECT id FROM lag WHERE v = 25").await,
        vec![2]
    );
    assert_eq!(
        ids(&mut b, "SELECT id FROM lag WHERE v = 20").await,
        Vec::<i64>::new()
    );

    // An UPDATE by a range on B (autocommit: optimistic) reads the rows
    // the stores decode and writes them back, both columns, on its
    // version: row 4 keeps its value.
    b.query_drop("UPDATE lag SET w = w + 10 WHERE id > 2")
        .await
        .unwrap();

    // B catches up; the old column goes, the job finishes.
    server_b.shared().catalog.hold_at(None);
    let (mut alter, r) = ddl.await.unwrap();
    r.unwrap();
    let (_, changing, removing) = table_state(&c.server);
    assert_eq!((changing, removing), (None, None));
    alter.query_drop("ADMIN CHECK TABLE lag").await.unwrap();
    let rows: Vec<(i64, Option<i64>, i64)> = a
        .query("SELECT id, v, w FROM lag ORDER BY id")
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![
            (1, Some(10), 1),
            (2, Some(25), 2),
            (3, Some(30), 13),
            (4, Some(40), 14)
        ]
    );
    assert_eq!(
        ids(&mut a, "SELECT id FROM lag WHERE v >= 25").await,
        vec![2, 3, 4]
    );
    drop((a, b, alter, locker));
    server_b.shutdown().await;
    c.shutdown().await;
}
