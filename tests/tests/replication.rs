//! Replication, failover and restart of a 3-store cluster.

use std::time::Duration;

use tests::cluster::{Cluster, init_logging, wait_until};

const T: Duration = Duration::from_secs(20);

/// A write acknowledged through the leader is in every replica's engine once
/// applied there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn write_reaches_every_replica() -> anyhow::Result<()> {
    init_logging();
    let cluster = Cluster::start(3).await?;
    let client = cluster.raw_client().await?;
    client.put(b"k1".to_vec(), b"v1".to_vec()).await?;
    assert_eq!(client.get(b"k1".to_vec()).await?, Some(b"v1".to_vec()));
    for id in cluster.store_ids() {
        wait_until(&format!("k1 applied on store {id}"), T, || async {
            cluster.engine_get(id, b"k1") == Some(b"v1".to_vec())
        })
        .await?;
    }
    client.delete(b"k1".to_vec()).await?;
    assert_eq!(client.get(b"k1".to_vec()).await?, None);
    cluster.shutdown().await;
    Ok(())
}

/// The leader is cut off from the others: a new leader is elected, every
/// acknowledged write is still readable, and writes continue. Then the old
/// leader's store is stopped outright and the same holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failover_keeps_acknowledged_writes() -> anyhow::Result<()> {
    init_logging();
    let mut cluster = Cluster::start(3).await?;
    let client = cluster.raw_client().await?;
    for i in 0..20 {
        client
            .put(format!("key{i:02}").into_bytes(), b"before".to_vec())
            .await?;
    }
    let (old_leader, status) = cluster.wait_leader_of(b"key00", T).await?;
    cluster.network.isolate(old_leader, &cluster.store_ids());
    wait_until("a new leader elsewhere", T, || async {
        matches!(cluster.leader_store_of(b"key00").await, Some((s, st)) if s != old_leader && st.term > status.term)
    })
    .await?;
    for i in 0..20 {
        assert_eq!(
            client.get(format!("key{i:02}").into_bytes()).await?,
            Some(b"before".to_vec())
        );
    }
    for i in 20..40 {
        client
            .put(format!("key{i:02}").into_bytes(), b"after".to_vec())
            .await?;
    }
    cluster.network.heal();

    // Now stop the current leader's store entirely.
    let (leader, _) = cluster.wait_leader_of(b"key00", T).await?;
    cluster.stop_store(leader).await?;
    for i in 0..40 {
        let want = if i < 20 {
            b"before".to_vec()
        } else {
            b"after".to_vec()
        };
        assert_eq!(
            client.get(format!("key{i:02}").into_bytes()).await?,
            Some(want)
        );
    }
    client.put(b"key99".to_vec(), b"last".to_vec()).await?;
    cluster.restart_store(leader).await?;
    wait_until("restarted store catches up", T, || async {
        cluster.engine_get(leader, b"key99").is_some()
    })
    .await?;
    cluster.shutdown().await;
    Ok(())
}

/// Every store and PD stop and restart on their dirs: every acknowledged
/// write is there, and every timestamp after is above every one before.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_restart_loses_nothing() -> anyhow::Result<()> {
    init_logging();
    let mut cluster = Cluster::start(3).await?;
    let client = cluster.raw_client().await?;
    for i in 0..50 {
        client
            .put(
                format!("r{i:03}").into_bytes(),
                format!("v{i}").into_bytes(),
            )
            .await?;
    }
    let pd = cluster.pd_client().await?;
    let mut max_before = 0;
    for _ in 0..100 {
        max_before = max_before.max(pd.get_ts().await?);
    }
    for id in cluster.store_ids() {
        cluster.stop_store(id).await?;
    }
    cluster.stop_pd().await;
    cluster.restart_pd().await?;
    for id in cluster.store_ids() {
        cluster.restart_store(id).await?;
    }
    let client = cluster.raw_client().await?;
    for i in 0..50 {
        assert_eq!(
            client.get(format!("r{i:03}").into_bytes()).await?,
            Some(format!("v{i}").into_bytes()),
            "key r{i:03} after restart"
        );
    }
    let pd = cluster.pd_client().await?;
    let after = pd.get_ts().await?;
    assert!(
        after > max_before,
        "tso went backwards: {after} <= {max_before}"
    );
    let all = client.scan(b"r".to_vec(), b"s".to_vec(), 0).await?;
    assert_eq!(all.len(), 50);
    cluster.shutdown().await;
    Ok(())
}

/// One follower's links are slow (every message delayed): the quorum of
/// the other two keeps writes flowing, and the slow follower still ends up
/// with every write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_follower_does_not_block_writes() -> anyhow::Result<()> {
    init_logging();
    let cluster = Cluster::start(3).await?;
    let client = cluster.raw_client().await?;
    client.put(b"d0".to_vec(), b"v".to_vec()).await?;
    let (leader, _) = cluster.wait_leader_of(b"d0", T).await?;
    let slow = cluster
        .store_ids()
        .into_iter()
        .find(|s| *s != leader)
        .expect("a follower");
    for other in cluster.store_ids().into_iter().filter(|s| *s != slow) {
        cluster
            .network
            .delay(other, slow, Duration::from_millis(300));
        cluster
            .network
            .delay(slow, other, Duration::from_millis(300));
    }
    for i in 1..50 {
        client
            .put(format!("d{i}").into_bytes(), b"v".to_vec())
            .await?;
    }
    assert!(cluster.engine_get(leader, b"d49").is_some());
    wait_until("the slow follower has every write", T, || async {
        (0..50).all(|i| {
            cluster
                .engine_get(slow, format!("d{i}").as_bytes())
                .is_some()
        })
    })
    .await?;
    cluster.network.heal();
    cluster.shutdown().await;
    Ok(())
}
