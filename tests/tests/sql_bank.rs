//! The bank workload in SQL over the wire: concurrent transfers with
//! `SELECT ... FOR UPDATE` + `UPDATE` in pessimistic transactions, a
//! checker summing all balances in one snapshot, and deadlocks reported as
//! MySQL error 1213.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use mysql_async::prelude::*;
use mysql_async::{Conn, TxOpts};
use rand::Rng;
use tests::sql::SqlCluster;

const ACCOUNTS: i64 = 40;
const INITIAL: i64 = 1000;

fn code(e: &mysql_async::Error) -> Option<u16> {
    match e {
        mysql_async::Error::Server(s) => Some(s.code),
        _ => None,
    }
}

async fn transfer(
    conn: &mut Conn,
    from: i64,
    to: i64,
    amount: i64,
) -> Result<bool, mysql_async::Error> {
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    let a: Option<i64> = tx
        .exec_first("SELECT bal FROM acc WHERE id = ? FOR UPDATE", (from,))
        .await?;
    let b: Option<i64> = tx
        .exec_first("SELECT bal FROM acc WHERE id = ? FOR UPDATE", (to,))
        .await?;
    let (Some(a), Some(_)) = (a, b) else {
        tx.rollback().await?;
        return Ok(false);
    };
    if a < amount {
        tx.rollback().await?;
        return Ok(false);
    }
    tx.exec_drop("UPDATE acc SET bal = bal - ? WHERE id = ?", (amount, from))
        .await?;
    tx.exec_drop("UPDATE acc SET bal = bal + ? WHERE id = ?", (amount, to))
        .await?;
    tx.commit().await?;
    Ok(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bank_transfers_keep_the_total() {
    tests::cluster::init_logging();
    let c = SqlCluster::start().await.unwrap();
    let mut setup = Conn::from_url(c.url("test")).await.unwrap();
    setup
        .query_drop("CREATE TABLE acc (id BIGINT PRIMARY KEY, bal BIGINT NOT NULL)")
        .await
        .unwrap();
    let values: Vec<String> = (0..ACCOUNTS).map(|i| format!("({i}, {INITIAL})")).collect();
    setup
        .query_drop(format!("INSERT INTO acc VALUES {}", values.join(",")))
        .await
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let transfers = Arc::new(AtomicU64::new(0));
    let deadlocks = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..6u64 {
        let url = c.url("test");
        let transfers = transfers.clone();
        let deadlocks = deadlocks.clone();
        workers.push(tokio::spawn(async move {
            let mut conn = Conn::from_url(url).await.unwrap();
            let mut made = 0;
            while made < 25 {
                let (from, to, amount) = {
                    let mut rng = rand::rng();
                    let from = rng.random_range(0..ACCOUNTS);
                    let mut to = rng.random_range(0..ACCOUNTS);
                    if to == from {
                        to = (to + 1 + w as i64) % ACCOUNTS;
                    }
                    (from, to, rng.random_range(1..50))
                };
                match transfer(&mut conn, from, to, amount).await {
                    Ok(true) => {
                        made += 1;
                        transfers.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(false) => {}
                    Err(e) if code(&e) == Some(1213) => {
                        deadlocks.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) if code(&e) == Some(9007) || code(&e) == Some(1205) => {}
                    Err(e) => panic!("transfer failed: {e}"),
                }
            }
        }));
    }
    let checker = {
        let url = c.url("test");
        let done = done.clone();
        tokio::spawn(async move {
            let mut conn = Conn::from_url(url).await.unwrap();
            let mut checks = 0u64;
            while !done.load(Ordering::Relaxed) || checks == 0 {
                let row: Option<(i64, i64)> = conn
                    .query_first("SELECT SUM(bal), COUNT(*) FROM acc")
                    .await
                    .unwrap();
                assert_eq!(row, Some((ACCOUNTS * INITIAL, ACCOUNTS)), "the total moved");
                checks += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            checks
        })
    };
    for w in workers {
        w.await.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let checks = checker.await.unwrap();
    let total: Option<i64> = setup.query_first("SELECT SUM(bal) FROM acc").await.unwrap();
    assert_eq!(total, Some(ACCOUNTS * INITIAL));
    assert_eq!(transfers.load(Ordering::Relaxed), 6 * 25);
    tracing::info!(
        checks,
        deadlocks = deadlocks.load(Ordering::Relaxed),
        "bank done"
    );
    setup.disconnect().await.unwrap();
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deadlock_is_error_1213() {
    tests::cluster::init_logging();
    let c = SqlCluster::start().await.unwrap();
    let mut a = Conn::from_url(c.url("test")).await.unwrap();
    let mut b = Conn::from_url(c.url("test")).await.unwrap();
    a.query_drop("CREATE TABLE d (id INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    a.query_drop("INSERT INTO d VALUES (1, 0), (2, 0)")
        .await
        .unwrap();
    a.query_drop("BEGIN").await.unwrap();
    b.query_drop("BEGIN").await.unwrap();
    a.query_drop("UPDATE d SET v = 1 WHERE id = 1")
        .await
        .unwrap();
    b.query_drop("UPDATE d SET v = 2 WHERE id = 2")
        .await
        .unwrap();
    // a waits for b's lock and b for a's (in whichever order the two
    // statements arrive): one of them is the victim, and its transaction is
    // rolled back so the other goes on.
    let wait_a = tokio::spawn(async move {
        let r = a.query_drop("UPDATE d SET v = 1 WHERE id = 2").await;
        (a, r)
    });
    let rb = b.query_drop("UPDATE d SET v = 2 WHERE id = 1").await;
    let (mut a, ra) = wait_a.await.unwrap();
    let codes: Vec<Option<u16>> = [&ra, &rb]
        .iter()
        .map(|r| r.as_ref().err().and_then(code))
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == Some(1213)).count(),
        1,
        "exactly one deadlock victim: {codes:?}"
    );
    let _ = a.query_drop("ROLLBACK").await;
    let _ = b.query_drop("ROLLBACK").await;
    a.disconnect().await.unwrap();
    b.disconnect().await.unwrap();
    c.shutdown().await;
}
