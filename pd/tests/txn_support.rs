//! What transactions need from PD, over real gRPC on loopback: the txn safe
//! point (advancing with time, held back by registered transactions,
//! surviving a restart), the gc safe point (published, capped at the txn
//! safe point, monotonic, surviving a restart) and the deadlock detector.
//!
//! The safe point tests are about time itself, so they poll with a deadline
//! on a PD configured with a 300 ms life time and a 50 ms GC interval.

use std::future::Future;
use std::time::{Duration, Instant};

use pd::core::{compose, physical};
use pd::{Error, GcSafePoint, PdClient, PdConfig, WaitForEntry};
use tokio::net::TcpListener;

const LIFE: Duration = Duration::from_millis(300);
const LIFE_MS: u64 = 300;
const TTL: Duration = Duration::from_secs(30);

fn config(dir: &std::path::Path) -> PdConfig {
    PdConfig {
        gc_life_time: LIFE,
        gc_interval: Duration::from_millis(50),
        ..PdConfig::with_data_dir(dir.join("pd"))
    }
}

/// Polls `get_gc_safe_point` until `done` holds (5 s at most).
async fn wait_for_safe_point(
    client: &PdClient,
    what: &str,
    done: impl Fn(&GcSafePoint) -> bool,
) -> GcSafePoint {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let gc = client.get_gc_safe_point().await.unwrap();
        if done(&gc) {
            return gc;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {gc:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The safe point is never within the life time of a fresh timestamp.
async fn assert_behind_tso(client: &PdClient) {
    let gc = client.get_gc_safe_point().await.unwrap();
    let now = client.get_ts().await.unwrap();
    assert!(
        gc.safe_point <= compose(physical(now) - LIFE_MS, 0),
        "safe point {} is within {LIFE:?} of ts {now}",
        gc.safe_point
    );
}

/// `f` keeps returning the same value for a few GC ticks.
async fn stays<T, F, Fut>(f: F) -> T
where
    T: PartialEq + std::fmt::Debug,
    F: Fn() -> Fut,
    Fut: Future<Output = T>,
{
    let first = f().await;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(f().await, first);
    }
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_safe_point_advances_is_held_back_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = pd::start(config(dir.path()), listener).await.unwrap();
    let client = PdClient::connect(&addr.to_string()).await.unwrap();

    // --- It trails the TSO by the life time.
    let ts1 = client.get_ts().await.unwrap();
    let gc = wait_for_safe_point(&client, "the safe point to pass ts1 - life", |gc| {
        gc.safe_point >= compose(physical(ts1) - LIFE_MS, 0)
    })
    .await;
    assert_eq!(gc.gc_life_time, LIFE);
    assert!(gc.min_start_ts.is_empty());
    assert_behind_tso(&client).await;

    // --- A long transaction holds it back, just below its start_ts.
    let start_ts = client.get_ts().await.unwrap();
    client
        .update_min_start_ts("sql-1", start_ts, TTL)
        .await
        .unwrap();
    wait_for_safe_point(&client, "the cap", |gc| gc.safe_point == start_ts - 1).await;
    let held = stays(|| async { client.get_gc_safe_point().await.unwrap().safe_point }).await;
    assert_eq!(held, start_ts - 1);
    let gc = client.get_gc_safe_point().await.unwrap();
    assert_eq!(gc.min_start_ts.len(), 1);
    let reg = &gc.min_start_ts[0];
    assert_eq!(
        (reg.client_id.as_str(), reg.min_start_ts),
        ("sql-1", start_ts)
    );
    assert!(reg.expires_in <= TTL && reg.expires_in > TTL - Duration::from_secs(5));
    // A refresh with an older start ts cannot pull it back.
    client.update_min_start_ts("sql-1", 5, TTL).await.unwrap();
    assert_eq!(client.get_gc_safe_point().await.unwrap().safe_point, held);

    // --- The transaction ends: the safe point resumes.
    client.update_min_start_ts("sql-1", 0, TTL).await.unwrap();
    let gc = wait_for_safe_point(&client, "the safe point to resume", |gc| {
        gc.safe_point > start_ts
    })
    .await;
    assert!(gc.min_start_ts.is_empty());
    assert_behind_tso(&client).await;
    assert!(matches!(
        client.update_min_start_ts("", 7, TTL).await,
        Err(Error::InvalidArgument(_))
    ));

    // --- A registration and the safe point survive a restart.
    let start_ts = client.get_ts().await.unwrap();
    client
        .update_min_start_ts("sql-2", start_ts, TTL)
        .await
        .unwrap();
    wait_for_safe_point(&client, "the cap", |gc| gc.safe_point == start_ts - 1).await;
    server.shutdown().await;
    let listener = TcpListener::bind(addr).await.unwrap();
    let server = pd::start(config(dir.path()), listener).await.unwrap();
    let gc = stays(|| async { client.get_gc_safe_point().await.unwrap().safe_point }).await;
    assert_eq!(
        gc,
        start_ts - 1,
        "the same client carries on after the restart"
    );
    let regs = client.get_gc_safe_point().await.unwrap().min_start_ts;
    assert_eq!(regs.len(), 1);
    assert_eq!(
        (regs[0].client_id.as_str(), regs[0].min_start_ts),
        ("sql-2", start_ts)
    );
    client.update_min_start_ts("sql-2", 0, TTL).await.unwrap();
    wait_for_safe_point(&client, "the safe point to resume", |gc| {
        gc.safe_point > start_ts
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_safe_point_is_capped_monotonic_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = pd::start(config(dir.path()), listener).await.unwrap();
    let client = PdClient::connect(&addr.to_string()).await.unwrap();

    // Nothing is deletable until a GC worker publishes.
    assert_eq!(client.get_gc_safe_point().await.unwrap().gc_safe_point, 0);
    assert_eq!(client.update_gc_safe_point(0).await.unwrap(), 0);

    // Hold the txn safe point still, so the caps below are exact.
    let start_ts = client.get_ts().await.unwrap();
    client
        .update_min_start_ts("gc-worker", start_ts, TTL)
        .await
        .unwrap();
    let txn = start_ts - 1;
    wait_for_safe_point(&client, "the cap", |gc| gc.safe_point == txn).await;
    assert_eq!(client.get_gc_safe_point().await.unwrap().gc_safe_point, 0);

    // Below the txn safe point: taken as asked.
    assert_eq!(
        client.update_gc_safe_point(txn - 10).await.unwrap(),
        txn - 10
    );
    // Backwards: refused; the answer is the value in force.
    assert_eq!(
        client.update_gc_safe_point(txn - 20).await.unwrap(),
        txn - 10
    );
    assert_eq!(client.update_gc_safe_point(0).await.unwrap(), txn - 10);
    // Beyond the txn safe point: capped at it.
    assert_eq!(
        client.update_gc_safe_point(start_ts + 5).await.unwrap(),
        txn
    );
    assert_eq!(client.update_gc_safe_point(u64::MAX).await.unwrap(), txn);
    let gc = client.get_gc_safe_point().await.unwrap();
    assert_eq!((gc.safe_point, gc.gc_safe_point), (txn, txn));

    // Persisted over a restart, and still never backwards.
    server.shutdown().await;
    let listener = TcpListener::bind(addr).await.unwrap();
    let server = pd::start(config(dir.path()), listener).await.unwrap();
    let gc = client.get_gc_safe_point().await.unwrap();
    assert_eq!((gc.safe_point, gc.gc_safe_point), (txn, txn));
    assert_eq!(client.update_gc_safe_point(txn - 5).await.unwrap(), txn);

    // The txn safe point moves on alone; the gc safe point follows only
    // when published, and then only as far as the txn safe point.
    client
        .update_min_start_ts("gc-worker", 0, TTL)
        .await
        .unwrap();
    wait_for_safe_point(&client, "the txn safe point to resume", |gc| {
        gc.safe_point > start_ts
    })
    .await;
    assert_eq!(client.get_gc_safe_point().await.unwrap().gc_safe_point, txn);
    let published = client.update_gc_safe_point(u64::MAX).await.unwrap();
    assert!(published > start_ts);
    let gc = client.get_gc_safe_point().await.unwrap();
    assert_eq!(gc.gc_safe_point, published);
    assert!(gc.safe_point >= published);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_registrations_stop_holding_gc_back() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = pd::start(config(dir.path()), listener).await.unwrap();
    let client = PdClient::connect(&server.addr().to_string()).await.unwrap();
    let start_ts = client.get_ts().await.unwrap();
    // A client that registers once and then crashes.
    client
        .update_min_start_ts("crashed", start_ts, Duration::from_millis(400))
        .await
        .unwrap();
    let gc = client.get_gc_safe_point().await.unwrap();
    assert!(gc.safe_point < start_ts);
    assert_eq!(gc.min_start_ts.len(), 1);
    let gc = wait_for_safe_point(&client, "the registration to expire", |gc| {
        gc.safe_point > start_ts
    })
    .await;
    assert!(gc.min_start_ts.is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlock_between_two_transactions_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = pd::start(config(dir.path()), listener).await.unwrap();
    let addr = server.addr().to_string();
    // Two kv stores, each with its own client.
    let store_a = PdClient::connect(&addr).await.unwrap();
    let store_b = PdClient::connect(&addr).await.unwrap();
    let (t1, t2) = (
        store_a.get_ts().await.unwrap(),
        store_a.get_ts().await.unwrap(),
    );

    // t1 waits for t2 on key 11 (store a); t2 then waits for t1 on key 22.
    assert_eq!(store_a.detect_deadlock(t1, t2, 11).await.unwrap(), None);
    let info = store_b
        .detect_deadlock(t2, t1, 22)
        .await
        .unwrap()
        .expect("a deadlock");
    assert_eq!(info.deadlock_key_hash, 11);
    let edge = |txn, wait_for_txn, key_hash| WaitForEntry {
        txn,
        wait_for_txn,
        key_hash,
    };
    assert_eq!(info.wait_chain, vec![edge(t1, t2, 11), edge(t2, t1, 22)]);

    // t1's wait ends: t2 may wait for t1.
    store_a.clean_up_wait_for(t1, t2, 11).await.unwrap();
    assert_eq!(store_b.detect_deadlock(t2, t1, 22).await.unwrap(), None);
    // t2 ends: t1 may wait for t2 again.
    store_b.clean_up_deadlock(t2).await.unwrap();
    assert_eq!(store_a.detect_deadlock(t1, t2, 11).await.unwrap(), None);

    // Nonsense is refused.
    for (txn, wait_for) in [(t1, t1), (0, t2), (t1, 0)] {
        let bad = store_a.detect_deadlock(txn, wait_for, 1).await;
        assert!(matches!(bad, Err(Error::InvalidArgument(_))), "{bad:?}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn bad_gc_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for cfg in [
        PdConfig {
            gc_interval: Duration::ZERO,
            ..config(dir.path())
        },
        PdConfig {
            gc_life_time: Duration::ZERO,
            ..config(dir.path())
        },
        PdConfig {
            deadlock_ttl: Duration::ZERO,
            ..config(dir.path())
        },
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        assert!(matches!(
            pd::start(cfg, listener).await,
            Err(Error::InvalidArgument(_))
        ));
    }
}
