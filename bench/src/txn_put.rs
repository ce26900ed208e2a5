//! `duet-bench txn-put`: transactions that each write N random keys, from
//! several client tasks for a fixed time; prints committed transactions per
//! second and commit latency. Compare with `raw-put` to see what the
//! transaction protocol costs (timestamps, prewrite, commit).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use rand::Rng;
use txn::client::{TxnClient, TxnConfig};

use crate::collector::Collector;

#[derive(Args, Clone)]
pub struct TxnPut {
    #[arg(long, default_value = "127.0.0.1:2379")]
    pd: String,
    #[arg(long, default_value_t = 8)]
    threads: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 1)]
    keys_per_txn: usize,
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Distinct keys (large enough that conflicts are rare).
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    #[arg(long)]
    pessimistic: bool,
    /// Never commit in one phase (always 2PC).
    #[arg(long)]
    no_one_pc: bool,
}

pub async fn run(load: TxnPut) -> Result<()> {
    let pd = pd::PdClient::connect(&load.pd)
        .await
        .with_context(|| format!("cannot reach PD at {}", load.pd))?;
    let config = TxnConfig {
        try_one_pc: !load.no_one_pc,
        ..TxnConfig::default()
    };
    let client = TxnClient::new(pd, config);
    let deadline = Instant::now() + Duration::from_secs(load.seconds);
    let latencies = Arc::new(Collector::default());
    let conflicts = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..load.threads {
        let (client, latencies, load) = (client.clone(), latencies.clone(), load.clone());
        let total_conflicts = conflicts.clone();
        tasks.push(tokio::spawn(async move {
            let value = vec![b'v'; load.value_size];
            let mut mine = Vec::new();
            let mut errors = 0u64;
            let mut conflicts = 0u64;
            while Instant::now() < deadline {
                let keys: Vec<Vec<u8>> = {
                    let mut rng = rand::rng();
                    (0..load.keys_per_txn)
                        .map(|_| {
                            format!("txnput{:012}", rng.random_range(0..load.keys)).into_bytes()
                        })
                        .collect()
                };
                let t0 = Instant::now();
                let r = async {
                    let mut t = if load.pessimistic {
                        client.begin_pessimistic().await?
                    } else {
                        client.begin().await?
                    };
                    for k in keys {
                        t.put(k, value.clone()).await?;
                    }
                    t.commit().await
                }
                .await;
                match r {
                    Ok(_) => mine.push(t0.elapsed()),
                    Err(txn::Error::WriteConflict { .. } | txn::Error::Deadlock { .. }) => {
                        conflicts += 1
                    }
                    Err(e) => {
                        if errors < 3 {
                            eprintln!("txn failed: {e}");
                        }
                        errors += 1
                    }
                }
            }
            latencies.add(mine, errors);
            total_conflicts.fetch_add(conflicts, std::sync::atomic::Ordering::Relaxed);
        }));
    }
    let started = Instant::now();
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let sum = latencies.summary();
    let (n, errors) = (sum.ops, sum.errors);
    println!(
        "txn-put mode={} keys_per_txn={} threads={} txns={} conflicts={} errors={} txns_per_sec={:.0} keys_per_sec={:.0} p50_ms={:.2} p99_ms={:.2}",
        if load.pessimistic {
            "pessimistic"
        } else {
            "optimistic"
        },
        load.keys_per_txn,
        load.threads,
        n,
        conflicts.load(std::sync::atomic::Ordering::Relaxed),
        errors,
        n as f64 / elapsed,
        (n * load.keys_per_txn) as f64 / elapsed,
        sum.p50_ms,
        sum.p99_ms,
    );
    Ok(())
}
