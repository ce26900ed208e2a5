//! Unmodified sysbench 1.0.20 (apt `sysbench`, libmysqlclient, prepared
//! statements) against the SQL server: `oltp_read_write prepare`, then
//! each OLTP workload for a few seconds with 8 threads; every one must
//! finish with no failed statement. sysbench itself retries a transaction
//! that lost a deadlock (error 1213, its "ignored errors"); those are
//! legitimate outcomes of concurrent writers on the same rows — MySQL
//! has them too — and are only bounded here. Throughput is the benchmark's
//! business (`bench/scripts/sysbench.sh`); this test holds the workloads to
//! running cleanly.
//!
//! A second test runs sysbench's writes against a table with a columnar
//! replica while a reader checks an invariant through the columnar engine.

use std::process::Command;

use tests::sql::SqlCluster;

fn sysbench(port: u16, args: &[&str]) -> (bool, String) {
    sysbench_with(
        port,
        args,
        &["--tables=2", "--table-size=3000", "--threads=8", "--time=3"],
    )
}

fn sysbench_with(port: u16, args: &[&str], options: &[&str]) -> (bool, String) {
    let out = Command::new("sysbench")
        .args(args)
        .args([
            "--db-driver=mysql",
            "--mysql-host=127.0.0.1",
            &format!("--mysql-port={port}"),
            "--mysql-user=root",
            "--mysql-db=sbtest",
        ])
        .args(options)
        .output()
        .expect("sysbench is installed (apt sysbench; .ci/run installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sysbench_oltp_workloads_run_without_errors() {
    tests::cluster::init_logging();
    let c = SqlCluster::start().await.unwrap();
    let mut conn = mysql_async::Conn::from_url(c.url("test")).await.unwrap();
    mysql_async::prelude::Queryable::query_drop(&mut conn, "CREATE DATABASE sbtest")
        .await
        .unwrap();
    let port = c.port;
    let results = tokio::task::spawn_blocking(move || {
        let mut results = vec![("prepare", sysbench(port, &["oltp_read_write", "prepare"]))];
        for w in [
            "oltp_point_select",
            "oltp_read_only",
            "oltp_read_write",
            "oltp_insert",
            "oltp_update_index",
        ] {
            results.push((w, sysbench(port, &[w, "run"])));
        }
        results
    })
    .await
    .unwrap();
    let count = |text: &str, label: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no '{label}' in:\n{text}"));
        line.trim_start()[label.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    for (w, (ok, text)) in &results {
        assert!(ok, "sysbench {w} failed:\n{text}");
        if *w != "prepare" {
            let transactions = count(text, "transactions:");
            let retried = count(text, "ignored errors:");
            assert!(transactions > 0, "sysbench {w} made no progress:\n{text}");
            let writes = matches!(*w, "oltp_read_write" | "oltp_update_index" | "oltp_insert");
            if writes {
                assert!(
                    retried <= 5.max(transactions / 10),
                    "sysbench {w}: {retried} deadlock retries in {transactions} transactions\n{text}"
                );
            } else {
                assert_eq!(retried, 0, "sysbench {w} (read only) had errors:\n{text}");
            }
            tracing::info!(
                workload = w,
                transactions,
                retried,
                "{}",
                count(text, "queries:")
            );
        }
    }
    conn.disconnect().await.unwrap();
    c.shutdown().await;
}

/// sysbench's `oltp_write_only` (per transaction: an indexed UPDATE, an
/// UPDATE, a DELETE and the INSERT of the same id) against a table with a
/// columnar replica, bounded by a number of transactions; meanwhile a
/// reader on the columnar engine checks that every snapshot has all rows:
/// the count and the sum of ids never change.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn columnar_reads_hold_an_invariant_while_sysbench_writes() {
    use mysql_async::prelude::Queryable;
    tests::cluster::init_logging();
    let mut c = SqlCluster::start().await.unwrap();
    c.cluster.add_columnar_store().await.unwrap();
    let mut conn = mysql_async::Conn::from_url(c.url("test")).await.unwrap();
    conn.query_drop("CREATE DATABASE sbtest").await.unwrap();
    let port = c.port;
    let options = ["--tables=1", "--table-size=2000", "--threads=4"];
    let (ok, text) = tokio::task::spawn_blocking(move || {
        sysbench_with(port, &["oltp_write_only", "prepare"], &options)
    })
    .await
    .unwrap();
    assert!(ok, "sysbench prepare failed:\n{text}");
    conn.query_drop("ALTER TABLE sbtest.sbtest1 SET COLUMNAR REPLICA 1")
        .await
        .unwrap();
    tests::cluster::wait_until(
        "the columnar replica",
        std::time::Duration::from_secs(60),
        || {
            let url = c.url("test");
            async move {
                let mut conn = mysql_async::Conn::from_url(url).await.unwrap();
                let available: Option<i64> = conn
                    .query_first("SELECT available FROM information_schema.columnar_replica")
                    .await
                    .unwrap();
                available == Some(1)
            }
        },
    )
    .await
    .unwrap();

    let writer = tokio::task::spawn_blocking(move || {
        let run = ["--events=600", "--time=0"];
        let all: Vec<&str> = options.iter().chain(run.iter()).copied().collect();
        sysbench_with(port, &["oltp_write_only", "run"], &all)
    });
    let mut reader = mysql_async::Conn::from_url(c.url("sbtest")).await.unwrap();
    reader
        .query_drop("SET SESSION isolation_read_engines = 'columnar'")
        .await
        .unwrap();
    let mut checks = 0;
    loop {
        let done = writer.is_finished();
        let (n, sum): (i64, i64) = reader
            .query_first("SELECT COUNT(*), CAST(SUM(id) AS SIGNED) FROM sbtest1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((n, sum), (2000, 2000 * 2001 / 2), "check {checks}");
        checks += 1;
        if done && checks >= 10 {
            break;
        }
    }
    let (ok, text) = writer.await.unwrap();
    assert!(ok, "sysbench oltp_write_only failed:\n{text}");
    assert!(text.contains("transactions:"), "{text}");
    c.assert_columnar_reads(checks as f64).await;
    tracing::info!(checks, "invariant held");
    drop((conn, reader));
    c.shutdown().await;
}
