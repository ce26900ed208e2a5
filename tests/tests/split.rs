//! Region splits under a write load.

use std::collections::BTreeMap;
use std::time::Duration;

use tests::cluster::{Cluster, init_logging, wait_until};

/// Keys keep being written while regions split (split size a few KiB);
/// afterwards every key is readable through the client and PD's region map
/// agrees with the stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_under_writes() -> anyhow::Result<()> {
    init_logging();
    let cluster = Cluster::start_with(3, |_| {}, |c| c.region_split_size = 8 * 1024).await?;
    let client = cluster.raw_client().await?;
    let mut writers = Vec::new();
    for w in 0..4 {
        let client = client.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..150 {
                let key = format!("w{w}-{i:04}");
                client.put(key.into_bytes(), vec![b'x'; 200]).await?;
            }
            anyhow::Ok(())
        }));
    }
    for w in writers {
        w.await??;
    }
    let pd = cluster.pd_client().await?;
    wait_until("several regions", Duration::from_secs(30), || async {
        pd.scan_regions(&[], &[], 0)
            .await
            .map(|r| r.len())
            .unwrap_or(0)
            >= 4
    })
    .await?;
    for w in 0..4 {
        for i in 0..150 {
            let key = format!("w{w}-{i:04}");
            assert_eq!(
                client.get(key.clone().into_bytes()).await?,
                Some(vec![b'x'; 200]),
                "{key}"
            );
        }
    }
    assert_eq!(
        client.scan(b"w".to_vec(), b"x".to_vec(), 0).await?.len(),
        600
    );

    // PD's map and the stores' regions agree once heartbeats settle.
    wait_until(
        "PD agrees with the stores",
        Duration::from_secs(30),
        || async {
            let Ok(regions) = pd.scan_regions(&[], &[], 0).await else {
                return false;
            };
            let mut leaders = BTreeMap::new();
            for id in cluster.store_ids() {
                for st in cluster.peer_status(id).await {
                    if st.is_leader {
                        leaders.insert(st.region.id, st.region.clone());
                    }
                }
            }
            // Contiguous cover of the key space.
            let mut prev_end: Vec<u8> = vec![];
            for r in &regions {
                let region = r.region.clone().unwrap_or_default();
                if region.start_key != prev_end {
                    return false;
                }
                prev_end = region.end_key.clone();
                if leaders.get(&region.id) != Some(&region) {
                    return false;
                }
            }
            prev_end.is_empty() && leaders.len() == regions.len()
        },
    )
    .await?;
    cluster.shutdown().await;
    Ok(())
}
