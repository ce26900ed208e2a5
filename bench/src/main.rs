//! `duet-bench`: workload tools that print figures.
//!
//! * `raw-put` / `raw-get`: closed-loop raw KV operations from N client
//!   tasks for a fixed time; prints operations per second and latency
//!   percentiles.
//! * `txn-put`: transactions writing N keys each; committed transactions
//!   per second ([`txn_put`]).
//! * `bank`: concurrent transfers with a snapshot checker of the total
//!   ([`bank`]).
//! * `nemesis`: PD, three kv stores and a SQL server as processes, bank,
//!   set and register workloads over SQL while stores and PD are killed
//!   and paused; checks the total, acknowledged inserts and
//!   linearizability ([`nemesis`]).

use bench::{bank, collector, nemesis, txn_put};

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use kv::client::RawClient;
use rand::Rng;

#[derive(Parser)]
#[command(name = "duet-bench", version, about = "duet workload tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Raw puts of random keys.
    RawPut(Load),
    /// Raw gets of keys written first.
    RawGet(Load),
    /// Transactions writing N random keys each.
    TxnPut(txn_put::TxnPut),
    /// Transfers between accounts; checks the total in every snapshot.
    Bank(bank::Bank),
    /// Faults (kill -9, SIGSTOP) against PD and kv stores run as processes
    /// while SQL workloads run; checks what the clients saw.
    Nemesis(nemesis::Nemesis),
}

#[derive(Args, Clone)]
struct Load {
    #[arg(long, default_value = "127.0.0.1:2379")]
    pd: String,
    #[arg(long, default_value_t = 1)]
    threads: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Distinct keys.
    #[arg(long, default_value_t = 10_000)]
    keys: u64,
}

fn key(i: u64) -> Vec<u8> {
    format!("bench{i:010}").into_bytes()
}

async fn run(load: Load, put: bool) -> Result<()> {
    let client = RawClient::connect(&load.pd)
        .await
        .with_context(|| format!("cannot reach PD at {}", load.pd))?;
    if !put {
        // Make sure the keys being read exist.
        let value = vec![b'v'; load.value_size];
        let prefill = load.keys.min(2_000);
        for chunk in (0..prefill).collect::<Vec<_>>().chunks(100) {
            client
                .batch_put(chunk.iter().map(|i| (key(*i), value.clone())).collect())
                .await?;
        }
        eprintln!("prefilled {prefill} keys");
    }
    let read_keys = if put { load.keys } else { load.keys.min(2_000) };
    let deadline = Instant::now() + Duration::from_secs(load.seconds);
    let latencies = Arc::new(collector::Collector::default());
    let mut tasks = Vec::new();
    for _ in 0..load.threads {
        let client = client.clone();
        let latencies = latencies.clone();
        let value = vec![b'v'; load.value_size];
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let k = key(rand::rng().random_range(0..read_keys));
                let t = Instant::now();
                let r = if put {
                    client.put(k, value.clone()).await
                } else {
                    client.get(k).await.map(|_| ())
                };
                match r {
                    Ok(()) => mine.push(t.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            latencies.add(mine, errors);
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
        "{} threads={} ops={} errors={} ops_per_sec={:.0} p50_ms={:.2} p99_ms={:.2}",
        if put { "raw-put" } else { "raw-get" },
        load.threads,
        n,
        errors,
        n as f64 / elapsed,
        sum.p50_ms,
        sum.p99_ms,
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::RawPut(load) => run(load, true).await,
        Command::RawGet(load) => run(load, false).await,
        Command::TxnPut(load) => txn_put::run(load).await,
        Command::Bank(b) => bank::run(b).await,
        Command::Nemesis(n) => nemesis::main(n).await,
    }
}
