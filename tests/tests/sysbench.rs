//! Unmodified sysbench 1.0.20 (apt `sysbench`, libmysqlclient, prepared
//! statements) against the SQL server: `oltp_read_write prepare`, then
//! each OLTP workload for a few seconds with 8 threads; every one must
//! finish with no failed statement. sysbench itself retries a transaction
//! that lost a deadlock (error 1213, its "ignored errors"); those are
//! legitimate outcomes of concurrent writers on the same rows — MySQL
//! has them too — and are only bounded here. Throughput is the benchmark's
//! business (`bench/scripts/sysbench.sh`); this test holds the workloads to
//! running cleanly.

use std::process::Command;

use tests::sql::SqlCluster;

fn sysbench(port: u16, args: &[&str]) -> (bool, String) {
    let out = Command::new("sysbench")
        .args(args)
        .args([
            "--db-driver=mysql",
            "--mysql-host=127.0.0.1",
            &format!("--mysql-port={port}"),
            "--mysql-user=root",
            "--mysql-db=sbtest",
            "--tables=2",
            "--table-size=3000",
            "--threads=8",
            "--time=3",
        ])
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
