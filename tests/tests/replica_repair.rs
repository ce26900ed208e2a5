//! A store down past `max-store-down-time` has its peers replaced.

use std::time::Duration;

use proto::metapb::StoreState;
use tests::cluster::{Cluster, init_logging, voter_count, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn down_store_peers_are_replaced_on_a_fourth_store() -> anyhow::Result<()> {
    init_logging();
    let mut cluster = Cluster::start_with(
        3,
        |pd| pd.max_store_down_time = Duration::from_secs(3),
        |_| {},
    )
    .await?;
    cluster.add_store().await?;
    let client = cluster.raw_client().await?;
    for i in 0..20 {
        client
            .put(format!("rr{i:02}").into_bytes(), b"v".to_vec())
            .await?;
    }
    let pd = cluster.pd_client().await?;
    let region = pd.get_region(&[]).await?.region.expect("first region");
    let fourth = *cluster.store_ids().last().expect("4 stores");
    let victim = region
        .peers
        .iter()
        .map(|p| p.store_id)
        .find(|s| *s != fourth)
        .expect("a peer on the first three");
    cluster.stop_store(victim).await?;

    // The store is declared Down after max-store-down-time: this waits on
    // time itself.
    wait_until("victim store Down", Duration::from_secs(30), || async {
        pd.get_all_stores(false).await.is_ok_and(|stores| {
            stores.iter().any(|s| {
                s.store
                    .as_ref()
                    .is_some_and(|st| st.id == victim && st.state == StoreState::Down as i32)
            })
        })
    })
    .await?;
    wait_until(
        "three healthy voters without the down store",
        Duration::from_secs(60),
        || async {
            let Ok(r) = pd.get_region(&[]).await else {
                return false;
            };
            let Some(region) = r.region else { return false };
            voter_count(&region) == 3
                && region.peers.iter().all(|p| p.store_id != victim)
                && r.pending_peers.is_empty()
        },
    )
    .await?;
    for i in 0..20 {
        assert_eq!(
            client.get(format!("rr{i:02}").into_bytes()).await?,
            Some(b"v".to_vec())
        );
    }
    wait_until(
        "fourth store has the data",
        Duration::from_secs(20),
        || async { cluster.engine_get(fourth, b"rr19").is_some() },
    )
    .await?;
    cluster.shutdown().await;
    Ok(())
}
