//! A follower cut off while the leader compacts its log catches up by
//! snapshot.

use std::time::Duration;

use tests::cluster::{Cluster, init_logging, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lagging_follower_catches_up_by_snapshot() -> anyhow::Result<()> {
    init_logging();
    let cluster = Cluster::start_with(
        3,
        |_| {},
        |c| {
            c.raft_log_gc_threshold = 10;
            c.raft_log_gc_count_limit = 50;
        },
    )
    .await?;
    let client = cluster.raw_client().await?;
    client.put(b"a".to_vec(), b"0".to_vec()).await?;
    let (leader, _) = cluster
        .wait_leader_of(b"a", Duration::from_secs(10))
        .await?;
    let follower = cluster
        .store_ids()
        .into_iter()
        .find(|s| *s != leader)
        .expect("a follower");
    let before = cluster.peer_status(follower).await[0].clone();
    cluster.network.isolate(follower, &cluster.store_ids());

    for i in 0..200 {
        client
            .put(format!("s{i:03}").into_bytes(), b"v".to_vec())
            .await?;
    }
    // The leader compacted past everything the follower has.
    wait_until(
        "leader log compacted past the follower",
        Duration::from_secs(20),
        || async {
            let st = cluster.peer_status(leader).await;
            st.first()
                .is_some_and(|s| s.truncated_index > before.last_index)
        },
    )
    .await?;

    cluster.network.heal();
    wait_until(
        "follower has every key",
        Duration::from_secs(20),
        || async {
            (0..200).all(|i| {
                cluster
                    .engine_get(follower, format!("s{i:03}").as_bytes())
                    .is_some()
            })
        },
    )
    .await?;
    let after = cluster.peer_status(follower).await[0].clone();
    assert!(
        after.truncated_index > before.last_index,
        "the follower was restored from a snapshot"
    );
    cluster.shutdown().await;
    Ok(())
}
