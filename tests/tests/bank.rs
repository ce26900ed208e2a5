//! The bank workload (the same code as `duet-bench bank`) on an in-process
//! cluster: transfers over several regions while a store holding leaders is
//! stopped and restarted and a region splits; every snapshot and the final
//! state must keep the total.

use std::time::Duration;

use anyhow::Result;
use bench::bank::{Bank, account_key, run_workload};
use tests::cluster::{Cluster, init_logging};
use tests::txn::test_txn_config;

async fn bank_with_failures(pessimistic: bool) -> Result<()> {
    init_logging();
    let mut cluster = Cluster::start(3).await?;
    let client = cluster.txn_client(test_txn_config()).await?;
    let pd = cluster.pd_client().await?;
    let params = Bank {
        pd: cluster.pd_addr.to_string(),
        accounts: 200,
        threads: 8,
        seconds: 12,
        pessimistic,
        regions: 3,
        initial_balance: 1000,
    };
    let prefix = "bank-test";
    let report = {
        let cluster = &mut cluster;
        let during = async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            // Stop the store leading the region of the first accounts.
            let first = txn::types::Key::from_raw(&account_key(prefix, 0)).into_encoded();
            let (victim, _) = cluster
                .wait_leader_of(&first, Duration::from_secs(10))
                .await
                .expect("a leader");
            cluster.stop_store(victim).await.expect("stop store");
            tokio::time::sleep(Duration::from_secs(3)).await;
            cluster.restart_store(victim).await.expect("restart store");
            // Split the accounts once more while transfers run.
            cluster
                .split_at_user_key(&account_key(prefix, 170))
                .await
                .expect("split");
        };
        run_workload(&client, &pd, &params, prefix, during).await?
    };
    eprintln!("{report:?}");
    assert!(report.violation.is_none(), "{}", report.summary());
    assert!(
        report.transfers > 50,
        "too few transfers: {}",
        report.summary()
    );
    assert!(report.checks > 5, "too few checks: {}", report.summary());
    cluster.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bank_optimistic_with_failover_and_split() -> Result<()> {
    bank_with_failures(false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bank_pessimistic_with_failover_and_split() -> Result<()> {
    bank_with_failures(true).await
}
