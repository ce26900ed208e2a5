//! Columnar replicas, end to end over the wire.
//!
//! * Placement: `ALTER TABLE ... SET COLUMNAR REPLICA n` (and TiDB's `SET
//!   TIFLASH REPLICA n`) becomes a PD placement rule, and PD puts a learner
//!   of every region of the table on the columnar store, also for a region
//!   split off later; `0`, `DROP TABLE` and `TRUNCATE TABLE` take the rule
//!   away or move it.
//! * Reads with `isolation_read_engines = 'columnar'` go to the learners
//!   and give the row store's answer: fresh right after a commit (no
//!   sleep), never showing uncommitted or rolled-back writes, at the
//!   transaction's snapshot, with prewritten locks resolved either way,
//!   across a restart of the columnar store and a split.

use std::time::Duration;

use mysql_async::Conn;
use mysql_async::prelude::*;
use proto::metapb::{PeerRole, Region};
use tests::cluster::wait_until;
use tests::sql::{SqlCluster, code};

/// The table's id, from information_schema.
async fn table_id(conn: &mut Conn, name: &str) -> i64 {
    conn.query_first(format!(
        "SELECT TIDB_TABLE_ID FROM information_schema.tables WHERE table_schema = 'test' AND table_name = '{name}'"
    ))
    .await
    .unwrap()
    .expect("table listed")
}

/// The regions overlapping the table's key range, as PD sees them.
async fn table_regions(pd: &pd::client::PdClient, table_id: i64) -> Vec<Region> {
    let rule = sql::catalog::placement::rule(table_id, 1);
    pd.scan_regions(&rule.start_key, &rule.end_key, 0)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.region)
        .filter(|r| r.end_key.is_empty() || r.end_key > rule.start_key)
        .collect()
}

/// Waits until each of the table's regions (at least `min_regions`) has
/// exactly `learners` learners on the columnar store `store`.
async fn wait_for_learners(
    pd: &pd::client::PdClient,
    table_id: i64,
    store: u64,
    min_regions: usize,
    learners: usize,
) {
    let what = format!("{learners} learner(s) of table {table_id} on store {store}");
    wait_until(&what, Duration::from_secs(30), || {
        let pd = pd.clone();
        async move {
            let regions = table_regions(&pd, table_id).await;
            regions.len() >= min_regions
                && regions.iter().all(|r| learners_on(r, store) == learners)
        }
    })
    .await
    .unwrap();
}

/// Waits until `information_schema.columnar_replica` says the table's
/// replica is available (every region has a caught-up learner), as a user
/// would before counting on it.
async fn wait_available(c: &SqlCluster, table: &str) {
    let url = c.url("test");
    let q = format!(
        "SELECT available FROM information_schema.columnar_replica WHERE table_name = '{table}'"
    );
    wait_until(
        &format!("{table}'s replica available"),
        Duration::from_secs(30),
        || {
            let (url, q) = (url.clone(), q.clone());
            async move {
                let Ok(mut conn) = Conn::from_url(url).await else {
                    return false;
                };
                conn.query_first::<i64, _>(q).await.ok().flatten() == Some(1)
            }
        },
    )
    .await
    .unwrap();
}

fn learners_on(region: &Region, store: u64) -> usize {
    region
        .peers
        .iter()
        .filter(|p| p.store_id == store && p.role() == PeerRole::Learner)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn set_columnar_replica_places_learners_on_the_columnar_store() {
    tests::cluster::init_logging();
    let mut c = SqlCluster::start().await.unwrap();
    let mut conn = Conn::from_url(c.url("test")).await.unwrap();
    conn.query_drop("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        .await
        .unwrap();

    // No columnar store yet: TiDB's error for too few TiFlash servers.
    let err = conn
        .query_drop("ALTER TABLE t SET TIFLASH REPLICA 1")
        .await
        .unwrap_err();
    assert_eq!(code(&err), 1105, "{err}");
    assert!(
        err.to_string().contains("columnar server count: 0"),
        "{err}"
    );

    let idx = c.cluster.add_columnar_store().await.unwrap();
    let columnar = c.cluster.stores[idx].id;
    let pd = c.cluster.pd_client().await.unwrap();
    let id = table_id(&mut conn, "t").await;

    // Unknown table, bad count, more replicas than columnar stores.
    let err = conn
        .query_drop("ALTER TABLE nope SET COLUMNAR REPLICA 1")
        .await
        .unwrap_err();
    assert_eq!(code(&err), 1146, "{err}");
    let err = conn
        .query_drop("ALTER TABLE t SET COLUMNAR REPLICA -1")
        .await
        .unwrap_err();
    assert_eq!(code(&err), 1064, "{err}");
    let err = conn
        .query_drop("ALTER TABLE t SET COLUMNAR REPLICA 2")
        .await
        .unwrap_err();
    assert_eq!(code(&err), 1105, "{err}");

    conn.query_drop("ALTER TABLE test.t SET COLUMNAR REPLICA 1 LOCATION LABELS 'zone'")
        .await
        .unwrap();
    assert_eq!(pd.get_columnar_rules().await.unwrap().len(), 1);
    wait_for_learners(&pd, id, columnar, 1, 1).await;
    // The learner received the table's rows (raft snapshot or log).
    wait_until(
        "the learner applied the rows",
        Duration::from_secs(30),
        || {
            let statuses = c.cluster.peer_status(columnar);
            async move {
                statuses.await.iter().any(|p| {
                    p.applied_index > 0
                        && p.region.start_key <= sql::catalog::placement::rule(id, 1).start_key
                })
            }
        },
    )
    .await
    .unwrap();
    // Writes keep working with the learner in place.
    conn.query_drop("INSERT INTO t VALUES (4, 'd')")
        .await
        .unwrap();
    let n: i64 = conn
        .query_first("SELECT COUNT(*) FROM t")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 4);

    // TRUNCATE gives the table a new id; the rule follows it.
    conn.query_drop("TRUNCATE TABLE t").await.unwrap();
    let new_id = table_id(&mut conn, "t").await;
    assert_ne!(new_id, id);
    let rules = pd.get_columnar_rules().await.unwrap();
    assert_eq!(rules, vec![sql::catalog::placement::rule(new_id, 1)]);

    // Zero removes the rule, and PD removes the learners.
    conn.query_drop("ALTER TABLE t SET TIFLASH REPLICA 0")
        .await
        .unwrap();
    assert!(pd.get_columnar_rules().await.unwrap().is_empty());
    wait_for_learners(&pd, new_id, columnar, 0, 0).await;

    // DROP TABLE drops the rule.
    conn.query_drop("ALTER TABLE t SET COLUMNAR REPLICA 1")
        .await
        .unwrap();
    assert_eq!(pd.get_columnar_rules().await.unwrap().len(), 1);
    conn.query_drop("DROP TABLE t").await.unwrap();
    assert!(pd.get_columnar_rules().await.unwrap().is_empty());

    drop(conn);
    c.shutdown().await;
}

/// A cluster with a columnar store and table `t` (id, v, n) holding
/// `rows` rows, replicated to the columnar store; returns the store id.
async fn columnar_table(c: &mut SqlCluster, conn: &mut Conn, rows: i64) -> u64 {
    let idx = c.cluster.add_columnar_store().await.unwrap();
    let store = c.cluster.stores[idx].id;
    conn.query_drop("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(400), n BIGINT, KEY (n))")
        .await
        .unwrap();
    let values: Vec<String> = (1..=rows)
        .map(|i| {
            format!(
                "({i}, 'row {i} {}', {})",
                "x".repeat((i % 300) as usize),
                i * 10
            )
        })
        .collect();
    for chunk in values.chunks(200) {
        conn.query_drop(format!("INSERT INTO t VALUES {}", chunk.join(",")))
            .await
            .unwrap();
    }
    conn.query_drop("ALTER TABLE t SET COLUMNAR REPLICA 1")
        .await
        .unwrap();
    let id = table_id(conn, "t").await;
    let pd = c.cluster.pd_client().await.unwrap();
    wait_for_learners(&pd, id, store, 1, 1).await;
    wait_available(c, "t").await;
    store
}

type Row = (i64, String, i64);

async fn rows(conn: &mut Conn, sql: &str) -> Vec<Row> {
    conn.query(sql).await.unwrap()
}

/// Prewrites two rows of one transaction (the first is the primary) and
/// stops there, as a crashed client would.
async fn prewrite_pair(
    client: &txn::client::TxnClient,
    rows: &[(Vec<u8>, Vec<u8>); 2],
    start: txn::types::TimeStamp,
    ttl_ms: u64,
) {
    let pairs: Vec<(&[u8], &[u8])> = rows
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect();
    tests::txn::prewrite_only(client, &rows[0].0, &pairs, start, ttl_ms)
        .await
        .unwrap();
}

/// Asserts that a query gives the same rows on both connections.
/// The rows of `q`, of any shape, as text.
async fn answer(conn: &mut Conn, q: &str) -> String {
    let rows: Vec<mysql_async::Row> = conn.query(q).await.unwrap();
    format!(
        "{:?}",
        rows.into_iter().map(|r| r.unwrap()).collect::<Vec<_>>()
    )
}

async fn assert_same_answers(a: &mut Conn, b: &mut Conn, q: &str) {
    assert_eq!(answer(a, q).await, answer(b, q).await, "{q}");
}

async fn explain(conn: &mut Conn, sql: &str) -> String {
    let rows: Vec<mysql_async::Row> = conn.query(format!("EXPLAIN {sql}")).await.unwrap();
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.get::<Option<String>, _>(i).flatten().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn columnar_reads_are_fresh_and_consistent() {
    tests::cluster::init_logging();
    let mut c = SqlCluster::start().await.unwrap();
    let mut w = Conn::from_url(c.url("test")).await.unwrap();
    columnar_table(&mut c, &mut w, 300).await;
    let mut r = Conn::from_url(c.url("test")).await.unwrap();
    r.query_drop("SET SESSION isolation_read_engines = 'columnar'")
        .await
        .unwrap();
    let all = "SELECT id, v, n FROM t ORDER BY id";
    let plan = explain(&mut r, "SELECT v FROM t WHERE n > 100").await;
    assert!(plan.contains("cop[columnar]"), "{plan}");
    assert!(!plan.contains("cop[row]"), "{plan}");

    // The same answer as the row store, for rows, filters and aggregates.
    assert_eq!(rows(&mut r, all).await, rows(&mut w, all).await);
    assert_eq!(rows(&mut r, all).await.len(), 300);
    for q in [
        "SELECT COUNT(*), SUM(n), MIN(v), MAX(id) FROM t WHERE n BETWEEN 200 AND 2000",
        "SELECT n % 7, COUNT(*), SUM(id) FROM t GROUP BY n % 7 ORDER BY 1",
        "SELECT id, n FROM t WHERE v LIKE 'row 1%' ORDER BY n DESC LIMIT 5",
    ] {
        assert_same_answers(&mut r, &mut w, q).await;
    }

    // Fresh: a committed row is there at once, every time.
    for i in 1000..1020 {
        w.query_drop(format!("INSERT INTO t VALUES ({i}, 'new', {i})"))
            .await
            .unwrap();
        let n: i64 = r
            .query_first(format!(
                "SELECT COUNT(*) FROM t WHERE id = {i} AND v = 'new'"
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 1, "row {i} not visible through the columnar replica");
    }
    // Into the stable layer (chunks on disk), then a delta on top of it:
    // the answers stay the row store's, filters skip chunks by min/max.
    let view = c
        .cluster
        .stores
        .iter()
        .find_map(|s| s.view.clone())
        .expect("the columnar store's view");
    assert!(view.compact(0).await.unwrap() > 0);
    assert!(view.stable_versions() >= 300);
    assert_eq!(rows(&mut r, all).await, rows(&mut w, all).await);
    for q in [
        "SELECT id, n FROM t WHERE n > 2500 ORDER BY id",
        "SELECT COUNT(*), SUM(n) FROM t WHERE n < 0 OR v = 'new'",
    ] {
        assert_same_answers(&mut r, &mut w, q).await;
    }
    w.query_drop("UPDATE t SET v = 'changed' WHERE id <= 10")
        .await
        .unwrap();
    w.query_drop("DELETE FROM t WHERE id > 290 AND id <= 300")
        .await
        .unwrap();
    assert_eq!(rows(&mut r, all).await, rows(&mut w, all).await);

    // Uncommitted and rolled-back writes never show.
    w.query_drop("BEGIN").await.unwrap();
    w.query_drop("INSERT INTO t VALUES (5000, 'uncommitted', 1)")
        .await
        .unwrap();
    w.query_drop("UPDATE t SET n = -1 WHERE id = 1")
        .await
        .unwrap();
    let seen: i64 = r
        .query_first("SELECT COUNT(*) FROM t WHERE id = 5000 OR n = -1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, 0);
    w.query_drop("ROLLBACK").await.unwrap();
    let seen: i64 = r
        .query_first("SELECT COUNT(*) FROM t WHERE id = 5000 OR n = -1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, 0);

    // A snapshot does not see later commits; a new one does.
    r.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        .await
        .unwrap();
    let before: i64 = r
        .query_first("SELECT COUNT(*) FROM t")
        .await
        .unwrap()
        .unwrap();
    w.query_drop("INSERT INTO t VALUES (6000, 'later', 1)")
        .await
        .unwrap();
    let again: i64 = r
        .query_first("SELECT COUNT(*) FROM t")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before, again);
    r.query_drop("COMMIT").await.unwrap();
    let after: i64 = r
        .query_first("SELECT COUNT(*) FROM t")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, before + 1);

    // Columnar alone on a table without a replica: TiDB's error 1815.
    w.query_drop("CREATE TABLE plain (id INT PRIMARY KEY, k INT)")
        .await
        .unwrap();
    let err = r.query_drop("SELECT * FROM plain").await.unwrap_err();
    assert_eq!(code(&err), 1815, "{err}");

    // Both engines allowed (the default): with statistics, cost sends full
    // scans to the replica and narrow key ranges to the row store; hints
    // override, and a hint a table cannot follow is a warning, not an
    // error.
    w.query_drop("ANALYZE TABLE t").await.unwrap();
    let (row, columnar) = ("cop[row]", "cop[columnar]");
    for (sql, has, lacks) in [
        ("SELECT SUM(n) FROM t", vec![columnar], vec![row]),
        (
            "SELECT v FROM t WHERE id BETWEEN 5 AND 9",
            vec![row],
            vec![columnar],
        ),
        (
            "SELECT v FROM t WHERE n = 50",
            vec![row, "IndexRangeScan"],
            vec![columnar],
        ),
        (
            "SELECT /*+ READ_FROM_STORAGE(TIKV[t]) */ SUM(n) FROM t",
            vec![row],
            vec![columnar],
        ),
        (
            "SELECT /*+ READ_FROM_STORAGE(TIFLASH[x]) */ x.v FROM t x WHERE x.n = 50",
            vec![columnar],
            vec![row],
        ),
        (
            "SELECT /*+ READ_FROM_STORAGE(COLUMNAR[t], ROW[p]) */ COUNT(*) FROM t JOIN plain p ON t.id = p.k",
            vec![columnar, row],
            vec![],
        ),
    ] {
        let plan = explain(&mut w, sql).await;
        assert!(
            has.iter().all(|h| plan.contains(h)) && !lacks.iter().any(|l| plan.contains(l)),
            "{sql}:\n{plan}"
        );
    }
    let n: i64 = w
        .query_first("SELECT /*+ READ_FROM_STORAGE(COLUMNAR[plain]) */ COUNT(*) FROM plain")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0);
    let warnings: Vec<(String, u16, String)> = w.query("SHOW WARNINGS").await.unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .2
            .contains("No available path for table test.plain"),
        "{warnings:?}"
    );
    // Partial aggregates and top-N run on the columnar store; the final
    // aggregate and the merge of the per-region top-N in the SQL layer.
    for (sql, pushed) in [
        (
            "SELECT n % 5, COUNT(*), SUM(id) FROM t WHERE id > 3 GROUP BY n % 5",
            "HashAgg",
        ),
        ("SELECT COUNT(*), MIN(v) FROM t", "HashAgg"),
        ("SELECT id, v FROM t ORDER BY n DESC LIMIT 3", "TopN"),
    ] {
        let plan = explain(&mut r, sql).await;
        let ops: Vec<(&str, &str)> = plan
            .lines()
            .map(|l| {
                let cells: Vec<&str> = l.split(" | ").collect();
                (
                    cells[0].trim_start_matches(['└', '─', ' ', '│', '├']),
                    cells[2],
                )
            })
            .collect();
        let at =
            |name: &str, task: &str| ops.iter().any(|(op, t)| op.starts_with(name) && *t == task);
        assert!(
            at(pushed, "root") && at(pushed, columnar) && at("TableReader", "root"),
            "{sql}:\n{plan}"
        );
        if pushed == "HashAgg" {
            assert!(plan.contains("mode=Partial"), "{sql}:\n{plan}");
        }
    }

    // The same answer through either engine.
    let by_row: Vec<(i64, i64)> = w
        .query("SELECT /*+ READ_FROM_STORAGE(ROW[t]) */ n % 5, SUM(id) FROM t GROUP BY n % 5 ORDER BY 1")
        .await
        .unwrap();
    let by_columnar: Vec<(i64, i64)> = w
        .query("SELECT /*+ READ_FROM_STORAGE(COLUMNAR[t]) */ n % 5, SUM(id) FROM t GROUP BY n % 5 ORDER BY 1")
        .await
        .unwrap();
    assert_eq!(by_row, by_columnar);

    // information_schema shows the replica available.
    let status: Vec<(String, String, i64, i64, f64)> = w
        .query("SELECT table_schema, table_name, replica_count, available, progress FROM information_schema.columnar_replica")
        .await
        .unwrap();
    assert_eq!(
        status,
        vec![("test".to_string(), "t".to_string(), 1, 1, 1.0)]
    );

    drop((w, r));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn columnar_reads_resolve_locks_and_survive_restart_and_split() {
    use tests::txn::{commit_one, test_txn_config};
    tests::cluster::init_logging();
    let mut c = SqlCluster::start().await.unwrap();
    let mut w = Conn::from_url(c.url("test")).await.unwrap();
    let store = columnar_table(&mut c, &mut w, 100).await;
    let id = table_id(&mut w, "t").await;
    let mut r = Conn::from_url(c.url("test")).await.unwrap();
    r.query_drop("SET SESSION isolation_read_engines = 'columnar'")
        .await
        .unwrap();
    let all = "SELECT id, v, n FROM t ORDER BY id";

    // Locks left by a client that stopped after prewrite: rows 201 and 202
    // (copies of row 1's value), primary 201.
    let client = c.cluster.txn_client(test_txn_config()).await.unwrap();
    let key = |h: i64| codec::table::encode_row_key(id, &codec::table::Handle::Int(h));
    let snap = client
        .snapshot(client.current_ts().await.unwrap())
        .await
        .unwrap();
    let value = snap.get(&key(1)).await.unwrap().expect("row 1");
    let (k201, k202) = (key(201), key(202));

    // Committed primary, secondary still locked: the reader commits it.
    let start = client.current_ts().await.unwrap();
    let pair = |a: &[u8], b: &[u8]| [(a.to_vec(), value.clone()), (b.to_vec(), value.clone())];
    prewrite_pair(&client, &pair(&k201, &k202), start, 60_000).await;
    let commit = client.current_ts().await.unwrap();
    commit_one(&client, &k201, start, commit).await.unwrap();
    let ids: Vec<i64> = r
        .query("SELECT id FROM t WHERE id > 200 ORDER BY id")
        .await
        .unwrap();
    assert_eq!(ids, vec![201, 202]);

    // Prewritten and abandoned (short TTL): rolled back, never seen.
    let (k203, k204) = (key(203), key(204));
    let start = client.current_ts().await.unwrap();
    prewrite_pair(&client, &pair(&k203, &k204), start, 500).await;
    let ids: Vec<i64> = r
        .query("SELECT id FROM t WHERE id > 200 ORDER BY id")
        .await
        .unwrap();
    assert_eq!(ids, vec![201, 202]);
    assert_eq!(rows(&mut r, all).await, rows(&mut w, all).await);

    // Restart the columnar store; write while it is down.
    c.cluster.stop_store(store).await.unwrap();
    w.query_drop("INSERT INTO t VALUES (300, 'while down', 3)")
        .await
        .unwrap();
    // Reads while it is down fall back to the row store, which runs no
    // pushed plans: the SQL layer runs the partial aggregate and the
    // top-N over the rows it returns, with the same answer.
    let fell_back = "duet_sql_columnar_regions_total{answered_by=\"row\"}";
    let before = c.metric(fell_back).await.unwrap_or(0.0);
    for q in [
        "SELECT n % 3, COUNT(*), SUM(id), MAX(v) FROM t GROUP BY n % 3 ORDER BY 1",
        "SELECT id, v FROM t ORDER BY n DESC, id LIMIT 3",
    ] {
        let hinted = q.replacen("SELECT", "SELECT /*+ READ_FROM_STORAGE(ROW[t]) */", 1);
        assert_eq!(
            answer(&mut r, q).await,
            answer(&mut w, &hinted).await,
            "{q}"
        );
    }
    assert!(c.metric(fell_back).await.unwrap_or(0.0) >= before + 2.0);
    c.cluster.restart_store(store).await.unwrap();
    let n: i64 = r
        .query_first("SELECT COUNT(*) FROM t WHERE id = 300")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(rows(&mut r, all).await, rows(&mut w, all).await);
    let plan = explain(&mut r, all).await;
    assert!(plan.contains("cop[columnar]"), "{plan}");

    // Split the table's region: both halves get a learner, reads span them.
    c.cluster.split_at_user_key(&key(50)).await.unwrap();
    let pd = c.cluster.pd_client().await.unwrap();
    wait_for_learners(&pd, id, store, 2, 1).await;
    w.query_drop("INSERT INTO t VALUES (140, 'left', 4), (400, 'right', 4)")
        .await
        .unwrap();
    assert_eq!(rows(&mut r, all).await, rows(&mut w, all).await);
    let views = c
        .cluster
        .stores
        .iter()
        .filter_map(|s| s.view.as_ref())
        .count();
    assert_eq!(views, 1);

    drop((w, r));
    c.shutdown().await;
}

/// A scan over many regions reads several at once (the client's
/// `scan_concurrency`) and still returns every row once, in key order, on
/// both engines; a scan with a row limit stops at the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scans_over_many_regions_read_them_in_parallel_in_key_order() {
    tests::cluster::init_logging();
    let mut c = SqlCluster::start().await.unwrap();
    let mut conn = Conn::from_url(c.url("test")).await.unwrap();
    let store = columnar_table(&mut c, &mut conn, 600).await;
    let id = table_id(&mut conn, "t").await;
    for at in (100..600).step_by(100) {
        let key = codec::table::encode_row_key(id, &codec::table::Handle::Int(at));
        c.cluster.split_at_user_key(&key).await.unwrap();
    }
    let pd = c.cluster.pd_client().await.unwrap();
    wait_for_learners(&pd, id, store, 6, 1).await;
    let all: Vec<i64> = (1..=600).collect();
    for engine in ["row", "columnar"] {
        conn.query_drop(format!("SET SESSION isolation_read_engines = '{engine}'"))
            .await
            .unwrap();
        let ids: Vec<i64> = conn.query("SELECT id FROM t").await.unwrap();
        assert_eq!(ids, all, "{engine}");
        let ids: Vec<i64> = conn.query("SELECT id FROM t LIMIT 250").await.unwrap();
        assert_eq!(ids, all[..250], "{engine}");
        let (n, sum): (i64, i64) = conn
            .query_first("SELECT COUNT(*), CAST(SUM(n) AS SIGNED) FROM t")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((n, sum), (600, 10 * 600 * 601 / 2), "{engine}");
        let plan: Vec<mysql_async::Row> = conn
            .query("EXPLAIN ANALYZE SELECT id FROM t")
            .await
            .unwrap();
        let info: Vec<String> = plan
            .iter()
            .map(|r| r.get::<Option<String>, _>(5).flatten().unwrap_or_default())
            .collect();
        assert!(
            info.iter().any(|i| i.contains("cop_pages:6,")),
            "{engine}: {info:?}"
        );
    }
    c.assert_columnar_reads(6.0).await;

    drop(conn);
    c.shutdown().await;
}

/// A hash join's build side filters the scan on its probe side where the
/// rows are read: the join's keys travel with the scan's requests (a
/// runtime filter), so the stores return only rows that can join, on
/// both engines, and the answer is unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn join_build_sides_filter_probe_scans_at_the_stores() {
    tests::cluster::init_logging();
    let mut c = SqlCluster::start().await.unwrap();
    let mut conn = Conn::from_url(c.url("test")).await.unwrap();
    let store = columnar_table(&mut c, &mut conn, 600).await;
    conn.query_drop("CREATE TABLE k (id INT PRIMARY KEY, tag VARCHAR(10))")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO k VALUES (7, 'a'), (300, 'b'), (599, 'c'), (1000, 'none')")
        .await
        .unwrap();
    conn.query_drop("ALTER TABLE k SET COLUMNAR REPLICA 1")
        .await
        .unwrap();
    let kid = table_id(&mut conn, "k").await;
    let pd = c.cluster.pd_client().await.unwrap();
    wait_for_learners(&pd, kid, store, 1, 1).await;
    wait_available(&c, "k").await;
    // More build-side keys than an IN list carries: a Bloom filter.
    conn.query_drop("CREATE TABLE many (id INT PRIMARY KEY)")
        .await
        .unwrap();
    let sixes: Vec<String> = (1..=100).map(|i| format!("({})", i * 6)).collect();
    conn.query_drop(format!("INSERT INTO many VALUES {}", sixes.join(",")))
        .await
        .unwrap();
    conn.query_drop("ALTER TABLE many SET COLUMNAR REPLICA 1")
        .await
        .unwrap();
    let mid = table_id(&mut conn, "many").await;
    wait_for_learners(&pd, mid, store, 1, 1).await;
    wait_available(&c, "many").await;
    conn.query_drop("ANALYZE TABLE t, k, many").await.unwrap();

    let q = "SELECT t.id, k.tag FROM k JOIN t ON t.id = k.id ORDER BY t.id";
    let bloom_q = "SELECT COUNT(*), SUM(t.n) FROM many JOIN t ON t.id = many.id";
    for engine in ["row", "columnar"] {
        conn.query_drop(format!("SET SESSION isolation_read_engines = '{engine}'"))
            .await
            .unwrap();
        let got: Vec<(i64, String)> = conn.query(q).await.unwrap();
        let want = [(7, "a"), (300, "b"), (599, "c")].map(|(i, t)| (i, t.to_string()));
        assert_eq!(got, want, "{engine}");
        let plan: Vec<mysql_async::Row> = conn.query(format!("EXPLAIN ANALYZE {q}")).await.unwrap();
        let cell = |r: &mysql_async::Row, i: usize| {
            r.get::<Option<String>, _>(i).flatten().unwrap_or_default()
        };
        let scan = plan
            .iter()
            .position(|r| cell(r, 4) == "table:t")
            .expect("a scan of t");
        let info = cell(&plan[scan], 6);
        assert!(
            info.contains("runtime filter:") && info.contains("IN ("),
            "{engine}: {info}"
        );
        let reader = plan[..scan]
            .iter()
            .rev()
            .find(|r| cell(r, 0).contains("TableReader"))
            .expect("t's reader");
        assert_eq!(
            cell(reader, 2),
            "3",
            "{engine}: rows of t returned by the stores"
        );

        let got: Vec<(i64, i64)> = conn.query(bloom_q).await.unwrap();
        assert_eq!(got, [(100, 303_000)], "{engine}");
        let plan: Vec<mysql_async::Row> = conn
            .query(format!("EXPLAIN ANALYZE {bloom_q}"))
            .await
            .unwrap();
        let scan = plan
            .iter()
            .position(|r| cell(r, 4) == "table:t")
            .expect("a scan of t");
        let info = cell(&plan[scan], 6);
        assert!(info.contains("id IN bloom(100 keys)"), "{engine}: {info}");
        let reader = plan[..scan]
            .iter()
            .rev()
            .find(|r| cell(r, 0).contains("TableReader"))
            .expect("t's reader");
        // Every key, and few of the other 500 rows (a Bloom filter's
        // false positives, which the join drops).
        let returned: usize = cell(reader, 2).parse().unwrap();
        assert!(
            (100..150).contains(&returned),
            "{engine}: {returned} rows of t"
        );
    }

    drop(conn);
    c.shutdown().await;
}

/// One transfer between two accounts: a pessimistic transaction
/// (`SELECT ... FOR UPDATE` + two `UPDATE`s) when `explicit`, otherwise one
/// autocommit statement (a one-phase commit when both rows share a region).
/// Deadlocks and conflicts are a lost transfer, not a failure.
async fn transfer(conn: &mut Conn, from: i64, to: i64, explicit: bool) {
    use mysql_async::TxOpts;
    let result: Result<(), mysql_async::Error> = async {
        if !explicit {
            return conn
                .exec_drop(
                    "UPDATE acc SET bal = CASE WHEN id = ? THEN bal - 7 ELSE bal + 7 END WHERE id IN (?, ?)",
                    (from, from, to),
                )
                .await;
        }
        let mut tx = conn.start_transaction(TxOpts::default()).await?;
        let _: Option<i64> = tx
            .exec_first("SELECT bal FROM acc WHERE id = ? FOR UPDATE", (from,))
            .await?;
        tx.exec_drop("UPDATE acc SET bal = bal - 3 WHERE id = ?", (from,))
            .await?;
        tx.exec_drop("UPDATE acc SET bal = bal + 3 WHERE id = ?", (to,))
            .await?;
        tx.commit().await
    }
    .await;
    match result {
        Ok(()) => {}
        Err(mysql_async::Error::Server(e)) if matches!(e.code, 1213 | 1205 | 9007 | 8002) => {}
        Err(e) => panic!("transfer failed: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bank_invariant_holds_through_the_columnar_engine_under_writes() {
    tests::cluster::init_logging();
    let mut c = SqlCluster::start().await.unwrap();
    let store = c.cluster.add_columnar_store().await.unwrap();
    let store = c.cluster.stores[store].id;
    let mut setup = Conn::from_url(c.url("test")).await.unwrap();
    setup
        .query_drop("CREATE TABLE acc (id BIGINT PRIMARY KEY, bal BIGINT NOT NULL)")
        .await
        .unwrap();
    let rows: Vec<String> = (0..40).map(|i| format!("({i}, 1000)")).collect();
    setup
        .query_drop(format!("INSERT INTO acc VALUES {}", rows.join(",")))
        .await
        .unwrap();
    let id = table_id(&mut setup, "acc").await;
    // Two regions, so transfers span regions (two-phase commits) and stay
    // within one (one-phase commits).
    let key = codec::table::encode_row_key(id, &codec::table::Handle::Int(20));
    c.cluster.split_at_user_key(&key).await.unwrap();
    setup
        .query_drop("ALTER TABLE acc SET COLUMNAR REPLICA 1")
        .await
        .unwrap();
    let pd = c.cluster.pd_client().await.unwrap();
    wait_for_learners(&pd, id, store, 2, 1).await;

    let writers: Vec<_> = (0..4)
        .map(|w| {
            let url = c.url("test");
            tokio::spawn(async move {
                let mut conn = Conn::from_url(url).await.unwrap();
                for i in 0..40i64 {
                    let from = (w * 11 + i * 7) % 40;
                    let to = (from + 1 + (i % 3) * 19) % 40;
                    transfer(&mut conn, from, to, i % 2 == 0).await;
                }
            })
        })
        .collect();
    let mut reader = Conn::from_url(c.url("test")).await.unwrap();
    reader
        .query_drop("SET SESSION isolation_read_engines = 'columnar'")
        .await
        .unwrap();
    let mut checks = 0;
    loop {
        let done = writers.iter().all(|w| w.is_finished());
        let (total, n): (i64, i64) = reader
            .query_first("SELECT CAST(SUM(bal) AS SIGNED), COUNT(*) FROM acc")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (total, n),
            (40_000, 40),
            "check {checks} saw a broken snapshot"
        );
        checks += 1;
        if done && checks >= 20 {
            break;
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    c.assert_columnar_reads(2.0 * checks as f64).await;
    // The balances moved.
    let moved: i64 = reader
        .query_first("SELECT COUNT(*) FROM acc WHERE bal <> 1000")
        .await
        .unwrap()
        .unwrap();
    assert!(moved > 0);
    drop((setup, reader));
    c.shutdown().await;
}

/// The task of each table scan in a plan, by table name.
async fn engines_of(conn: &mut Conn, sql: &str) -> Vec<(String, String)> {
    let plan = explain(conn, sql).await;
    plan.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split(" | ").collect();
            let table = cells.get(3)?.strip_prefix("table:")?;
            let table = table.split(',').next()?.to_string();
            Some((table, cells[2].to_string()))
        })
        .fold(Vec::new(), |mut out, scan| {
            // An index lookup shows the table twice (entries, rows).
            if out.last() != Some(&scan) {
                out.push(scan);
            }
            out
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn engine_choice_follows_statistics_and_replica_health() {
    tests::cluster::init_logging();
    let mut c = SqlCluster::start().await.unwrap();
    let mut w = Conn::from_url(c.url("test")).await.unwrap();
    let store = columnar_table(&mut c, &mut w, 300).await;
    // `g` has two values: an index on it finds half the table.
    w.query_drop("CREATE TABLE s (id INT PRIMARY KEY, g INT, v VARCHAR(20), KEY (g))")
        .await
        .unwrap();
    let values: Vec<String> = (1..=300)
        .map(|i| format!("({i}, {}, 'v{i}')", i % 2))
        .collect();
    w.query_drop(format!("INSERT INTO s VALUES {}", values.join(",")))
        .await
        .unwrap();
    w.query_drop("ALTER TABLE s SET COLUMNAR REPLICA 1")
        .await
        .unwrap();
    let pd = c.cluster.pd_client().await.unwrap();
    wait_for_learners(&pd, table_id(&mut w, "s").await, store, 1, 1).await;
    wait_available(&c, "s").await;
    let (row, columnar) = ("cop[row]".to_string(), "cop[columnar]".to_string());
    let on = |task: &String| vec![("s".to_string(), task.clone())];
    let by_index = "SELECT id, v FROM s WHERE g = 1 ORDER BY id";
    let most_keys = "SELECT id, v FROM s WHERE id > 10 ORDER BY id";
    let few_keys = "SELECT id, v FROM s WHERE id BETWEEN 5 AND 9 ORDER BY id";

    // Without statistics an equality keeps 1/1000 of the rows: the index.
    assert_eq!(engines_of(&mut w, by_index).await, on(&row));
    let plan = explain(&mut w, by_index).await;
    assert!(plan.contains("stats:pseudo"), "{plan}");

    // ANALYZE TABLE answers as MySQL does, one row per table.
    let done: Vec<(String, String, String, String)> =
        w.query("ANALYZE TABLE s, test.t").await.unwrap();
    let ok = |t: &str| {
        (
            t.to_string(),
            "analyze".to_string(),
            "status".to_string(),
            "OK".to_string(),
        )
    };
    assert_eq!(done, vec![ok("test.s"), ok("test.t")]);
    let err = w.query_drop("ANALYZE TABLE nosuch").await.unwrap_err();
    assert_eq!(code(&err), 1146, "{err}");

    // With them: g = 1 finds 150 rows through the index, dearer than
    // scanning the replica; a key range over most of the table too; five
    // keys stay on the row store.
    assert_eq!(engines_of(&mut w, by_index).await, on(&columnar));
    assert_eq!(engines_of(&mut w, most_keys).await, on(&columnar));
    assert_eq!(engines_of(&mut w, few_keys).await, on(&row));
    let plan = explain(&mut w, "SELECT COUNT(*) FROM s").await;
    assert!(
        plan.contains("TableFullScan") && plan.contains("300.00") && !plan.contains("pseudo"),
        "{plan}"
    );
    for q in [by_index, most_keys, few_keys] {
        let hinted = q.replacen("SELECT", "SELECT /*+ READ_FROM_STORAGE(ROW[s]) */", 1);
        assert_eq!(
            answer(&mut w, q).await,
            answer(&mut w, &hinted).await,
            "{q}"
        );
    }

    // A replica that cannot answer: the read falls back region by region
    // (right answer), and the next statements go to the row store.
    c.cluster.stop_store(store).await.unwrap();
    let n: i64 = w
        .query_first("SELECT COUNT(*) FROM s")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 300);
    assert_eq!(engines_of(&mut w, "SELECT COUNT(*) FROM s").await, on(&row));
    // Back once it has caught up again (statistics refresh every few
    // seconds).
    c.cluster.restart_store(store).await.unwrap();
    let url = c.url("test");
    wait_until("the replica is used again", Duration::from_secs(30), || {
        let url = url.clone();
        async move {
            let Ok(mut conn) = Conn::from_url(url).await else {
                return false;
            };
            let engines = engines_of(&mut conn, "SELECT COUNT(*) FROM s").await;
            engines == vec![("s".to_string(), "cop[columnar]".to_string())]
        }
    })
    .await
    .unwrap();

    drop(w);
    c.shutdown().await;
}
