//! Snapshot isolation, crashes inside two-phase commit, deadlocks and GC,
//! on an in-process cluster of three stores.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use tests::cluster::{Cluster, init_logging, wait_until};
use tests::txn::{commit_one, locks_in, prewrite_only, test_txn_config};
use txn::Error;
use txn::client::TxnClient;

async fn setup() -> Result<(Cluster, TxnClient)> {
    init_logging();
    let cluster = Cluster::start(3).await?;
    let client = cluster.txn_client(test_txn_config()).await?;
    Ok((cluster, client))
}

async fn put(client: &TxnClient, key: &[u8], value: &[u8]) -> Result<()> {
    let mut t = client.begin().await?;
    t.put(key.to_vec(), value.to_vec()).await?;
    t.commit().await?;
    Ok(())
}

async fn read(client: &TxnClient, key: &[u8]) -> Result<Option<Vec<u8>>> {
    let snap = client.snapshot(client.current_ts().await?).await?;
    Ok(snap.get(key).await?)
}

/// Two optimistic read-modify-writes of one key: the second to commit fails
/// with a write conflict instead of overwriting the first (no lost update).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_update_is_prevented_optimistic() -> Result<()> {
    let (cluster, client) = setup().await?;
    put(&client, b"x", b"0").await?;
    let mut t1 = client.begin().await?;
    let mut t2 = client.begin().await?;
    assert_eq!(t1.get(b"x").await?, Some(b"0".to_vec()));
    assert_eq!(t2.get(b"x").await?, Some(b"0".to_vec()));
    t1.put(b"x".to_vec(), b"1".to_vec()).await?;
    t2.put(b"x".to_vec(), b"2".to_vec()).await?;
    t1.commit().await?;
    let err = t2.commit().await.expect_err("second writer must conflict");
    assert!(matches!(err, Error::WriteConflict { .. }), "{err}");
    assert_eq!(read(&client, b"x").await?, Some(b"1".to_vec()));
    cluster.shutdown().await;
    Ok(())
}

/// Pessimistic: the second `SELECT ... FOR UPDATE` waits for the first
/// transaction, then reads its committed value; both increments land.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_update_is_prevented_pessimistic() -> Result<()> {
    let (cluster, client) = setup().await?;
    put(&client, b"x", b"0").await?;
    let mut t1 = client.begin_pessimistic().await?;
    assert_eq!(t1.get_for_update(b"x").await?, Some(b"0".to_vec()));
    let c2 = client.clone();
    let second = tokio::spawn(async move {
        let mut t2 = c2.begin_pessimistic().await?;
        let v = t2.get_for_update(b"x").await?.expect("exists");
        let n: i64 = std::str::from_utf8(&v)?.parse()?;
        t2.put(b"x".to_vec(), (n + 1).to_string().into_bytes())
            .await?;
        t2.commit().await?;
        anyhow::Ok(n)
    });
    // The second transaction is waiting on t1's lock.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "t2 must wait for t1's lock");
    t1.put(b"x".to_vec(), b"1".to_vec()).await?;
    t1.commit().await?;
    let seen = tokio::time::timeout(Duration::from_secs(20), second).await???;
    assert_eq!(seen, 1, "t2 read t1's committed value under its lock");
    assert_eq!(read(&client, b"x").await?, Some(b"2".to_vec()));
    cluster.shutdown().await;
    Ok(())
}

/// A reader meeting a live transaction's lock neither sees the uncommitted
/// value nor waits for it: it pushes the lock's min_commit_ts above its ts,
/// and the writer then cannot commit below that.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_dirty_read_and_min_commit_ts_push() -> Result<()> {
    let (cluster, client) = setup().await?;
    put(&client, b"k", b"old").await?;
    let start = client.current_ts().await?;
    // A long TTL: the writer is alive throughout.
    prewrite_only(&client, b"k", &[(b"k", b"dirty")], start, 60_000).await?;
    let reader_ts = client.current_ts().await?;
    let t0 = Instant::now();
    let snap = client.snapshot(reader_ts).await?;
    assert_eq!(snap.get(b"k").await?, Some(b"old".to_vec()));
    ensure!(
        t0.elapsed() < Duration::from_secs(5),
        "the read did not wait for the lock's TTL"
    );
    // Committing at a ts the reader may have read at is refused ...
    let early = txn::types::TimeStamp::new(reader_ts.into_inner() - 1);
    let err = commit_one(&client, b"k", start, early)
        .await
        .expect_err("below min_commit_ts");
    assert!(matches!(err, Error::CommitTsExpired { .. }), "{err}");
    // ... a later one works, and the reader's snapshot still shows the old value.
    let commit_ts = client.current_ts().await?;
    commit_one(&client, b"k", start, commit_ts).await?;
    assert_eq!(snap.get(b"k").await?, Some(b"old".to_vec()));
    assert_eq!(read(&client, b"k").await?, Some(b"dirty".to_vec()));
    cluster.shutdown().await;
    Ok(())
}

/// Reads inside a transaction repeat: commits after its start stay invisible
/// to gets and scans.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repeatable_reads_and_readers_do_not_block_writers() -> Result<()> {
    let (cluster, client) = setup().await?;
    put(&client, b"a", b"1").await?;
    put(&client, b"b", b"1").await?;
    let reader = client.begin().await?;
    assert_eq!(reader.get(b"a").await?, Some(b"1".to_vec()));
    // A writer commits while the reader is open, without waiting on it.
    let t0 = Instant::now();
    let mut w = client.begin().await?;
    w.put(b"a".to_vec(), b"2".to_vec()).await?;
    w.put(b"c".to_vec(), b"2".to_vec()).await?;
    w.commit().await?;
    ensure!(
        t0.elapsed() < Duration::from_secs(5),
        "the writer waited for a reader"
    );
    assert_eq!(reader.get(b"a").await?, Some(b"1".to_vec()));
    let rows = reader.scan(b"a", b"z", 0, false).await?;
    assert_eq!(
        rows,
        vec![
            (b"a".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), b"1".to_vec())
        ]
    );
    let rows = reader.scan(b"a", b"z", 1, true).await?;
    assert_eq!(rows, vec![(b"b".to_vec(), b"1".to_vec())]);
    assert_eq!(read(&client, b"a").await?, Some(b"2".to_vec()));
    cluster.shutdown().await;
    Ok(())
}

/// Snapshot isolation allows write skew: two transactions read both keys
/// and each writes a different one; both commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn write_skew_is_allowed() -> Result<()> {
    let (cluster, client) = setup().await?;
    put(&client, b"x", b"1").await?;
    put(&client, b"y", b"1").await?;
    let mut t1 = client.begin().await?;
    let mut t2 = client.begin().await?;
    for t in [&t1, &t2] {
        assert_eq!(t.get(b"x").await?, Some(b"1".to_vec()));
        assert_eq!(t.get(b"y").await?, Some(b"1".to_vec()));
    }
    t1.put(b"x".to_vec(), b"0".to_vec()).await?;
    t2.put(b"y".to_vec(), b"0".to_vec()).await?;
    t1.commit().await?;
    t2.commit().await?;
    assert_eq!(read(&client, b"x").await?, Some(b"0".to_vec()));
    assert_eq!(read(&client, b"y").await?, Some(b"0".to_vec()));
    cluster.shutdown().await;
    Ok(())
}

/// A client dies after prewriting a primary and a secondary in another
/// region: once the TTL passes, a reader rolls the transaction back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_after_prewrite_is_rolled_back() -> Result<()> {
    let (cluster, client) = setup().await?;
    put(&client, b"p", b"p0").await?;
    put(&client, b"s", b"s0").await?;
    cluster.split_at_user_key(b"r").await?;
    let start = client.current_ts().await?;
    let ttl_ms = 3_000;
    prewrite_only(
        &client,
        b"p",
        &[(b"p", b"p1"), (b"s", b"s1")],
        start,
        ttl_ms,
    )
    .await?;
    assert_eq!(locks_in(&client, b"a", b"z", start).await?, 2);
    // While the TTL runs, a reader passes the locks (it pushed the
    // primary's min_commit_ts) and leaves them in place.
    assert_eq!(read(&client, b"s").await?, Some(b"s0".to_vec()));
    assert_eq!(locks_in(&client, b"a", b"z", start).await?, 2);
    // Once the TTL has run out by PD's clock (time is the subject here), a
    // reader rolls the transaction back through its primary.
    wait_until("the locks' TTL passed", Duration::from_secs(30), || async {
        client
            .current_ts()
            .await
            .is_ok_and(|now| now.physical() > start.physical() + ttl_ms)
    })
    .await?;
    assert_eq!(read(&client, b"s").await?, Some(b"s0".to_vec()));
    assert_eq!(read(&client, b"p").await?, Some(b"p0".to_vec()));
    assert_eq!(locks_in(&client, b"a", b"z", start).await?, 0);
    // The dead transaction can no longer commit.
    let late = client.current_ts().await?;
    let err = commit_one(&client, b"p", start, late)
        .await
        .expect_err("rolled back");
    assert!(matches!(err, Error::TxnLockNotFound { .. }), "{err}");
    cluster.shutdown().await;
    Ok(())
}

/// A client dies after committing the primary but before the secondaries:
/// the transaction is committed, and a reader of a secondary commits it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_after_primary_commit_is_committed() -> Result<()> {
    let (cluster, client) = setup().await?;
    put(&client, b"p", b"p0").await?;
    put(&client, b"s", b"s0").await?;
    cluster.split_at_user_key(b"r").await?;
    let start = client.current_ts().await?;
    prewrite_only(&client, b"p", &[(b"p", b"p1"), (b"s", b"s1")], start, 500).await?;
    let commit_ts = client.current_ts().await?;
    commit_one(&client, b"p", start, commit_ts).await?;
    assert_eq!(read(&client, b"s").await?, Some(b"s1".to_vec()));
    assert_eq!(read(&client, b"p").await?, Some(b"p1".to_vec()));
    assert_eq!(locks_in(&client, b"a", b"z", commit_ts).await?, 0);
    cluster.shutdown().await;
    Ok(())
}

/// Two pessimistic transactions lock two keys in opposite orders: one gets
/// `Deadlock` (and rolls back, as a client would), the other commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deadlock_is_detected() -> Result<()> {
    let (cluster, client) = setup().await?;
    put(&client, b"a", b"0").await?;
    put(&client, b"b", b"0").await?;
    let mut t1 = client.begin_pessimistic().await?;
    let mut t2 = client.begin_pessimistic().await?;
    t1.lock_keys(vec![b"a".to_vec()]).await?;
    t2.lock_keys(vec![b"b".to_vec()]).await?;
    // Each writes the key the other holds; whichever is the victim rolls
    // back at once, which lets the other through.
    let attempt = |mut t: txn::client::Transaction, key: &'static [u8], value: &'static [u8]| {
        tokio::spawn(async move {
            let r = t.put(key.to_vec(), value.to_vec()).await;
            if r.is_err() {
                t.rollback().await?;
            }
            anyhow::Ok((t, r))
        })
    };
    let first = attempt(t1, b"b", b"1");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = attempt(t2, b"a", b"2");
    let (mut t1, r1) = tokio::time::timeout(Duration::from_secs(20), first).await???;
    let (mut t2, r2) = tokio::time::timeout(Duration::from_secs(20), second).await???;
    let is_deadlock = |r: &txn::Result<()>| matches!(r, Err(Error::Deadlock { .. }));
    assert!(
        is_deadlock(&r1) != is_deadlock(&r2),
        "exactly one deadlock: t1 {r1:?}, t2 {r2:?}"
    );
    let (winner, key, value) = if r1.is_ok() {
        (&mut t1, b"b", b"1")
    } else {
        (&mut t2, b"a", b"2")
    };
    assert!(
        r1.is_ok() || r2.is_ok(),
        "the survivor's write went through"
    );
    winner.commit().await?;
    assert_eq!(read(&client, key).await?, Some(value.to_vec()));
    cluster.shutdown().await;
    Ok(())
}

/// With a short GC life time: old versions go, the newest version at or
/// below the gc safe point stays, snapshots below the txn safe point are
/// refused. A transaction whose client died after committing its primary
/// (region of `g`) but not its secondary (region of `h`) keeps its write to
/// `h`: GC resolves the secondary's lock through the primary's commit record
/// before that record, superseded by a later write to `g`, may be collected.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gc_keeps_exactly_the_versions_reads_need() -> Result<()> {
    init_logging();
    let cluster = Cluster::start_with(
        3,
        |pd| {
            pd.gc_life_time = Duration::from_secs(2);
            pd.gc_interval = Duration::from_millis(100);
        },
        |_| {},
    )
    .await?;
    let client = cluster.txn_client(test_txn_config()).await?;
    cluster.split_at_user_key(b"h").await?;
    for v in 1..=3 {
        put(&client, b"g", format!("v{v}").as_bytes()).await?;
    }
    put(&client, b"gone", b"x").await?;
    let mut t = client.begin().await?;
    t.delete(b"gone".to_vec()).await?;
    t.commit().await?;
    // A dead transaction: primary g committed, secondary h still locked.
    let start = client.current_ts().await?;
    prewrite_only(&client, b"g", &[(b"g", b"v4"), (b"h", b"h1")], start, 200).await?;
    let commit_ts = client.current_ts().await?;
    commit_one(&client, b"g", start, commit_ts).await?;
    // A later write to g makes the primary's commit record collectable.
    put(&client, b"g", b"v5").await?;
    let after = client.current_ts().await?;
    let pd = cluster.pd_client().await?;
    // Wait for the gc safe point (published after every old lock was
    // resolved) to pass every write, then for GC to act on every store (each
    // store collects the regions it leads; followers get the deletions
    // through raft).
    wait_until(
        "gc safe point past the writes",
        Duration::from_secs(30),
        || async {
            pd.get_gc_safe_point()
                .await
                .map(|s| s.gc_safe_point > after.into_inner())
                .unwrap_or(false)
        },
    )
    .await?;
    let versions = |store: u64, key: &[u8]| {
        let engine = cluster.engine(store).expect("store running");
        let prefix = kv::keys::data_key(txn::types::Key::from_raw(key).as_encoded());
        let mut n = 0;
        engine
            .scan(kv::engine::CF_WRITE, &prefix, b"", &mut |k, _| {
                if k.len() == prefix.len() + 8 && k.starts_with(&prefix) {
                    n += 1;
                }
                k.starts_with(&prefix)
            })
            .expect("scan");
        n
    };
    let stores = cluster.store_ids();
    wait_until(
        "old versions collected",
        Duration::from_secs(30),
        || async {
            stores.iter().all(|s| {
                versions(*s, b"g") == 1 && versions(*s, b"gone") == 0 && versions(*s, b"h") == 1
            })
        },
    )
    .await?;
    // The newest values survive; the secondary was committed, not rolled back.
    assert_eq!(read(&client, b"g").await?, Some(b"v5".to_vec()));
    assert_eq!(read(&client, b"h").await?, Some(b"h1".to_vec()));
    assert_eq!(read(&client, b"gone").await?, None);
    assert_eq!(locks_in(&client, b"a", b"z", after).await?, 0);
    // Below the safe point: refused.
    let old = txn::types::TimeStamp::new(start.into_inner() - 1);
    let err = client
        .snapshot(old)
        .await
        .err()
        .expect("below the safe point");
    assert!(matches!(err, Error::TxnTooOld { .. }), "{err}");
    cluster.shutdown().await;
    Ok(())
}

/// Scans over several regions, forward and reverse, with and without
/// limits and bounds, agree with the data written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scans_cross_regions_in_both_directions() -> Result<()> {
    let (cluster, client) = setup().await?;
    let keys: Vec<Vec<u8>> = (0..40u32)
        .map(|i| format!("k{i:03}").into_bytes())
        .collect();
    let mut t = client.begin().await?;
    for k in &keys {
        t.put(k.clone(), k.clone()).await?;
    }
    t.commit().await?;
    for at in [b"k010".as_slice(), b"k020", b"k030"] {
        cluster.split_at_user_key(at).await?;
    }
    let snap = client.snapshot(client.current_ts().await?).await?;
    let all: Vec<Vec<u8>> = keys.clone();
    let got = |rows: Vec<(Vec<u8>, Vec<u8>)>| rows.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    assert_eq!(got(snap.scan(b"", b"", 0, false).await?), all);
    let mut rev = all.clone();
    rev.reverse();
    assert_eq!(got(snap.scan(b"", b"", 0, true).await?), rev);
    // Bounded, across two boundaries, with limits.
    assert_eq!(
        got(snap.scan(b"k005", b"k025", 0, false).await?),
        all[5..25].to_vec()
    );
    let mut want: Vec<Vec<u8>> = all[5..25].to_vec();
    want.reverse();
    assert_eq!(got(snap.scan(b"k005", b"k025", 0, true).await?), want);
    assert_eq!(
        got(snap.scan(b"k005", b"k025", 12, true).await?),
        want[..12].to_vec()
    );
    assert_eq!(
        got(snap.scan(b"k008", b"", 7, false).await?),
        all[8..15].to_vec()
    );
    cluster.shutdown().await;
    Ok(())
}

/// Batch gets and scans pass the locks of a live transaction whose
/// min_commit_ts they pushed, without waiting for its TTL.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batch_reads_pass_pushed_locks() -> Result<()> {
    let (cluster, client) = setup().await?;
    for k in [b"b1", b"b2", b"b3"] {
        put(&client, k, b"old").await?;
    }
    cluster.split_at_user_key(b"b2").await?;
    let start = client.current_ts().await?;
    // Primary b1, secondary b3 (another region), alive for a minute.
    prewrite_only(
        &client,
        b"b1",
        &[(b"b1", b"new"), (b"b3", b"new")],
        start,
        60_000,
    )
    .await?;
    let snap = client.snapshot(client.current_ts().await?).await?;
    let t0 = Instant::now();
    let rows = snap
        .batch_get(vec![b"b1".to_vec(), b"b2".to_vec(), b"b3".to_vec()])
        .await?;
    assert!(rows.iter().all(|(_, v)| v == b"old"), "{rows:?}");
    assert_eq!(rows.len(), 3);
    let rows = snap.scan(b"b", b"c", 0, false).await?;
    assert!(
        rows.iter().all(|(_, v)| v == b"old") && rows.len() == 3,
        "{rows:?}"
    );
    let rows = snap.scan(b"b", b"c", 0, true).await?;
    assert!(
        rows.iter().all(|(_, v)| v == b"old") && rows.len() == 3,
        "{rows:?}"
    );
    ensure!(
        t0.elapsed() < Duration::from_secs(10),
        "the reads waited for the lock's TTL"
    );
    assert_eq!(
        locks_in(&client, b"a", b"z", start).await?,
        2,
        "the live locks stay"
    );
    cluster.shutdown().await;
    Ok(())
}

/// A pessimistic transaction whose first lock request fails (lock wait
/// timeout) may go on: a later key becomes the primary, and it commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_first_lock_does_not_poison_the_transaction() -> Result<()> {
    init_logging();
    let cluster = Cluster::start(3).await?;
    let config = txn::client::TxnConfig {
        lock_wait_timeout: Duration::from_millis(500),
        ..test_txn_config()
    };
    let client = cluster.txn_client(config).await?;
    let mut holder = client.begin_pessimistic().await?;
    holder.lock_keys(vec![b"a".to_vec()]).await?;
    let mut t = client.begin_pessimistic().await?;
    let err = t
        .put(b"a".to_vec(), b"t".to_vec())
        .await
        .expect_err("a is held");
    assert!(matches!(err, Error::LockWaitTimeout { .. }), "{err}");
    t.put(b"c".to_vec(), b"t".to_vec()).await?;
    t.commit().await?;
    assert_eq!(read(&client, b"c").await?, Some(b"t".to_vec()));
    holder.rollback().await?;
    assert_eq!(read(&client, b"a").await?, None);
    cluster.shutdown().await;
    Ok(())
}

/// The primary's commit runs on the store but every answer is lost: the
/// client must report `Undetermined` — not success, not failure — and the
/// transaction is in fact committed (readers commit the secondary).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_commit_answer_is_undetermined() -> Result<()> {
    init_logging();
    let cluster = Cluster::start(3).await?;
    let config = txn::client::TxnConfig {
        write_timeout: Duration::from_secs(2),
        try_one_pc: false,
        ..test_txn_config()
    };
    let client = cluster.txn_client(config).await?;
    cluster.split_at_user_key(b"m").await?;
    let mut t = client.begin().await?;
    t.put(b"a".to_vec(), b"1".to_vec()).await?;
    t.put(b"z".to_vec(), b"1".to_vec()).await?;
    cluster.faults.lose_responses("kv_commit", u32::MAX);
    let err = t.commit().await.expect_err("no answer can come back");
    cluster.faults.clear();
    assert!(matches!(err, Error::Undetermined(_)), "{err}");
    let reader = cluster.txn_client(test_txn_config()).await?;
    assert_eq!(read(&reader, b"a").await?, Some(b"1".to_vec()));
    assert_eq!(read(&reader, b"z").await?, Some(b"1".to_vec()));
    cluster.shutdown().await;
    Ok(())
}

/// A one-phase commit whose answer is lost is retried; the retry finds the
/// transaction committed and reports the commit ts it really got.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_one_pc_answer_reports_the_real_commit_ts() -> Result<()> {
    let (cluster, client) = setup().await?;
    let mut t = client.begin().await?;
    t.put(b"k".to_vec(), b"v".to_vec()).await?;
    cluster.faults.lose_responses("kv_prewrite", 1);
    let commit_ts = t.commit().await?;
    cluster.faults.clear();
    let before = client
        .snapshot(txn::types::TimeStamp::new(commit_ts.into_inner() - 1))
        .await?;
    assert_eq!(
        before.get(b"k").await?,
        None,
        "not visible below the commit ts"
    );
    let at = client.snapshot(commit_ts).await?;
    assert_eq!(
        at.get(b"k").await?,
        Some(b"v".to_vec()),
        "visible at the commit ts"
    );
    cluster.shutdown().await;
    Ok(())
}

/// A read at the largest timestamp (autocommit point gets) sees every
/// committed write with no TSO round trip, never an uncommitted one, and
/// hands back, without resolving it, a lock of a transaction that may have
/// committed (a secondary whose primary is committed); the primary's own
/// lock means "not committed yet" and is read past.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_ts_point_reads_are_linearizable() -> Result<()> {
    let (cluster, client) = setup().await?;
    put(&client, b"p", b"p0").await?;
    put(&client, b"s", b"s0").await?;
    assert_eq!(client.get_latest(b"p").await?, Some(b"p0".to_vec()));
    assert_eq!(client.get_latest(b"nope").await?, None);
    cluster.split_at_user_key(b"r").await?;

    let start = client.current_ts().await?;
    prewrite_only(
        &client,
        b"p",
        &[(b"p", b"p1"), (b"s", b"s1")],
        start,
        60_000,
    )
    .await?;
    // Prewritten only: the primary reads its committed value, the
    // secondary's lock is returned.
    assert_eq!(client.get_latest(b"p").await?, Some(b"p0".to_vec()));
    match client.get_latest(b"s").await {
        Err(Error::KeyIsLocked(l)) => ensure!(l.primary_lock == b"p", "{l:?}"),
        other => anyhow::bail!("expected the secondary's lock, got {other:?}"),
    }
    // The primary commits: the new value is visible at once; the secondary
    // is still locked until resolved, and the lock is not touched.
    let commit_ts = client.current_ts().await?;
    commit_one(&client, b"p", start, commit_ts).await?;
    assert_eq!(client.get_latest(b"p").await?, Some(b"p1".to_vec()));
    ensure!(matches!(
        client.get_latest(b"s").await,
        Err(Error::KeyIsLocked(_))
    ));
    assert_eq!(locks_in(&client, b"a", b"z", commit_ts).await?, 1);
    // A timestamped read resolves it; then the max-ts read sees it too.
    assert_eq!(read(&client, b"s").await?, Some(b"s1".to_vec()));
    assert_eq!(client.get_latest(b"s").await?, Some(b"s1".to_vec()));
    cluster.shutdown().await;
    Ok(())
}

/// A restarted store refuses a read below the GC safe point from its first
/// request (the versions it needs may be collected), not only once its GC
/// worker's first round comes around.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_store_knows_the_safe_point_at_once() -> Result<()> {
    init_logging();
    let mut cluster = Cluster::start_with(
        1,
        |pd| {
            pd.gc_life_time = Duration::from_secs(1);
            pd.gc_interval = Duration::from_millis(100);
        },
        |_| {},
    )
    .await?;
    let client = cluster.txn_client(test_txn_config()).await?;
    put(&client, b"k", b"v1").await?;
    let ts = client.current_ts().await?;
    let old = client.snapshot(ts).await?;
    assert_eq!(old.get(b"k").await?, Some(b"v1".to_vec()));
    let pd = cluster.pd_client().await?;
    wait_until(
        "the safe point passes the snapshot",
        Duration::from_secs(30),
        || async {
            pd.get_gc_safe_point()
                .await
                .map(|s| s.safe_point > ts.into_inner())
                .unwrap_or(false)
        },
    )
    .await?;
    // The restarted store's GC worker would not come round for an hour.
    cluster.gc_cfg.interval = Duration::from_secs(3600);
    for id in cluster.store_ids() {
        cluster.stop_store(id).await?;
        cluster.restart_store(id).await?;
    }
    let err = old.get(b"k").await.expect_err("below the safe point");
    assert!(matches!(err, Error::TxnTooOld { .. }), "{err}");
    cluster.shutdown().await;
    Ok(())
}

/// A 1PC write's snapshot, memory lock and commit ts belong to one
/// leadership. If the leadership moves to another store and back after the
/// commit ts was chosen, a reader at a later ts may have been served by the
/// interim leader, which knew nothing of the write: the write must then be
/// refused (its term is over) and retried above that read, never land below
/// it (the read would not repeat).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_one_pc_write_never_lands_below_a_read_served_by_an_interim_leader() -> Result<()> {
    let (cluster, client) = setup().await?;
    put(&client, b"k", b"v0").await?;
    let (home, _) = cluster
        .wait_leader_of(b"k", Duration::from_secs(10))
        .await?;
    let other = *cluster
        .store_ids()
        .iter()
        .find(|s| **s != home)
        .expect("three stores");

    let held = cluster
        .faults
        .hold_next_on(txn::storage::ONE_PC_TS_CHOSEN, b"k");
    let writer = tokio::spawn({
        let client = client.clone();
        async move {
            let mut t = client.begin().await?;
            t.put(b"k".to_vec(), b"v1".to_vec()).await?;
            t.commit().await
        }
    });
    tokio::time::timeout(Duration::from_secs(10), held.reached()).await?;

    // Away and back while the 1PC write waits with its commit ts chosen.
    cluster.transfer_leader_of(b"k", other).await?;
    let read_ts = client.current_ts().await?;
    let seen = client.snapshot(read_ts).await?.get(b"k").await?;
    assert_eq!(seen, Some(b"v0".to_vec()), "the interim leader's view");
    cluster.transfer_leader_of(b"k", home).await?;
    held.release();

    let commit_ts = tokio::time::timeout(Duration::from_secs(20), writer).await???;
    let again = client.snapshot(read_ts).await?.get(b"k").await?;
    assert_eq!(again, seen, "the read at {read_ts:?} did not repeat");
    ensure!(
        commit_ts > read_ts,
        "committed at {commit_ts:?}, below the read at {read_ts:?}"
    );
    assert_eq!(read(&client, b"k").await?, Some(b"v1".to_vec()));
    cluster.shutdown().await;
    Ok(())
}
