//! A DDL owner killed (-9) in the middle of an ADD INDEX backfill, with
//! separate processes: PD, a kv store and two SQL servers. The other SQL
//! server takes over the job once the dead owner's lease and locks run
//! out, resumes the backfill at the job's checkpoint (every row indexed
//! once: the job's row count is the table's), and the statement, sent to
//! that server, answers OK.

use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::{Conn, Row};

use super::{Proc, free_ports, spawn};

const ROWS: i64 = 3000;
/// The row a session holds locked, so the backfill stops before it:
/// 1,472 rows (46 batches of 32) are done when the owner is killed.
const HELD: i64 = 1500;

fn sql_server(pd: &str, port: u16, status: u16) -> Proc {
    spawn(&[
        "sql",
        "--pd",
        pd,
        "--port",
        &port.to_string(),
        "--status-port",
        &status.to_string(),
    ])
}

async fn connect(port: u16) -> Conn {
    let url = format!("mysql://root@127.0.0.1:{port}/test");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match Conn::from_url(&url).await {
            Ok(c) => return c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("SQL server on {port} never served: {e}"),
        }
    }
}

/// `ADMIN SHOW DDL`'s owner address.
async fn owner(conn: &mut Conn) -> String {
    let row: Row = conn
        .query_first("ADMIN SHOW DDL")
        .await
        .unwrap()
        .expect("a row");
    row.get::<Option<String>, _>("OWNER_ADDRESS")
        .unwrap()
        .unwrap_or_default()
}

/// The newest add-index job: (schema state, row count, state).
async fn add_index_job(conn: &mut Conn) -> Option<(String, i64, String)> {
    let rows: Vec<Row> = conn.query("ADMIN SHOW DDL JOBS").await.unwrap();
    rows.into_iter()
        .find(|r| r.get::<String, _>("JOB_TYPE").as_deref() == Some("add index"))
        .map(|r| {
            (
                r.get("SCHEMA_STATE").unwrap(),
                r.get("ROW_COUNT").unwrap(),
                r.get("STATE").unwrap(),
            )
        })
}

#[test]
fn a_ddl_owner_killed_mid_backfill_is_replaced_and_the_job_completes() {
    let dir = tempfile::tempdir().unwrap();
    let base = free_ports(6);
    let pd = format!("127.0.0.1:{base}");
    let pd_dir = dir.path().join("pd");
    let kv_dir = dir.path().join("kv");
    let kv_addr = format!("127.0.0.1:{}", base + 1);
    let _pd = spawn(&["pd", "--addr", &pd, "--data-dir", pd_dir.to_str().unwrap()]);
    let _kv = spawn(&[
        "kv",
        "--pd",
        &pd,
        "--addr",
        &kv_addr,
        "--data-dir",
        kv_dir.to_str().unwrap(),
    ]);
    let ports = [(base + 2, base + 3), (base + 4, base + 5)];
    let mut servers: Vec<Option<Proc>> = ports
        .iter()
        .map(|(p, s)| Some(sql_server(&pd, *p, *s)))
        .collect();

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut a = connect(ports[0].0).await;
        let mut b = connect(ports[1].0).await;
        a.query_drop("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
            .await
            .unwrap();
        for chunk in (1..=ROWS).collect::<Vec<_>>().chunks(500) {
            let values: Vec<String> = chunk.iter().map(|i| format!("({i}, {})", i % 97)).collect();
            a.query_drop(format!("INSERT INTO t VALUES {}", values.join(",")))
                .await
                .unwrap();
        }
        for c in [&mut a, &mut b] {
            c.query_drop("SET GLOBAL tidb_ddl_reorg_batch_size = 32")
                .await
                .unwrap();
        }

        // Which server owns the DDL; the statement goes to the other.
        let deadline = Instant::now() + Duration::from_secs(30);
        let first_owner = loop {
            let o = owner(&mut a).await;
            if !o.is_empty() {
                break o;
            }
            assert!(Instant::now() < deadline, "no DDL owner elected");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let owner_at = ports
            .iter()
            .position(|(p, _)| first_owner.ends_with(&format!(":{p}")))
            .unwrap_or_else(|| panic!("owner {first_owner} is neither server"));
        let other = 1 - owner_at;
        let mut submitter = if other == 0 { a } else { b };
        // Watches from the server that stays up.
        let mut watcher = connect(ports[other].0).await;

        let mut locker = connect(ports[other].0).await;
        locker.query_drop("BEGIN").await.unwrap();
        let _: Vec<i64> = locker
            .query(format!("SELECT v FROM t WHERE id = {HELD} FOR UPDATE"))
            .await
            .unwrap();
        let ddl = tokio::spawn(async move {
            let r = submitter.query_drop("ALTER TABLE t ADD INDEX iv (v)").await;
            (r, submitter)
        });

        // Mid-backfill: rows before the held one are done, the batch with
        // it waits.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some((state, rows, _)) = add_index_job(&mut watcher).await
                && state == "write reorganization"
                && rows >= HELD - 32
            {
                assert!(rows < HELD, "the backfill went past the held row");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the backfill never reached the held row"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // kill -9 (a Proc dropped is SIGKILLed and reaped), then restart it.
        servers[owner_at] = None;
        servers[owner_at] = Some(sql_server(&pd, ports[owner_at].0, ports[owner_at].1));
        locker.query_drop("ROLLBACK").await.unwrap();

        let (r, _submitter) = tokio::time::timeout(Duration::from_secs(180), ddl)
            .await
            .expect("the ADD INDEX never finished")
            .unwrap();
        r.expect("ADD INDEX after its owner was killed");

        let (state, rows, job_state) = add_index_job(&mut watcher).await.expect("the job");
        assert_eq!(
            (state.as_str(), rows, job_state.as_str()),
            ("public", ROWS, "synced"),
            "resumed at the checkpoint, every row indexed once"
        );
        watcher.query_drop("ADMIN CHECK TABLE t").await.unwrap();
        let n: Option<i64> = watcher
            .query_first("SELECT COUNT(*) FROM t WHERE v = 7")
            .await
            .unwrap();
        assert_eq!(n, Some(ROWS / 97 + i64::from(ROWS % 97 >= 7)));
        let now_owner = owner(&mut watcher).await;
        assert_ne!(now_owner, "", "a new owner");
    });
}
