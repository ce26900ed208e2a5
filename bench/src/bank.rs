//! `duet-bench bank`: concurrent transfers between accounts, with a checker
//! that reads every account in one snapshot and verifies the total.
//!
//! Each transfer is a transaction: read two random accounts, move a random
//! amount from one to the other if it has enough, commit. Conflicting
//! transfers fail (`WriteConflict`, `Deadlock`, lock wait timeouts) and are
//! counted, not retried. Under snapshot isolation every snapshot — at
//! whatever ts, while transfers, failovers and splits go on — must show the
//! same total: a lost update, a torn commit or a dirty read breaks it.
//!
//! The accounts live under a prefix unique to the run, spread over several
//! regions (the bench asks the stores to split between them). The last line
//! printed is `transfers=<n> conflicts=<n> checks=<n> invariant=ok`, or
//! `invariant=VIOLATED ...` with the snapshot ts and the sums, and a non-zero
//! exit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use kv::client::RawClient;
use rand::Rng;
use txn::Error as TxnError;
use txn::client::{TxnClient, TxnConfig};

#[derive(Args, Clone, Debug)]
pub struct Bank {
    #[arg(long, default_value = "127.0.0.1:2379")]
    pub pd: String,
    #[arg(long, default_value_t = 1000)]
    pub accounts: u64,
    #[arg(long, default_value_t = 8)]
    pub threads: usize,
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Pessimistic transactions (lock the two accounts with
    /// `get_for_update`), TiDB's default; otherwise optimistic.
    #[arg(long)]
    pub pessimistic: bool,
    /// Regions to spread the accounts over.
    #[arg(long, default_value_t = 4)]
    pub regions: u64,
    #[arg(long, default_value_t = 1000)]
    pub initial_balance: i64,
}

/// What a run counted, and the first violation found.
#[derive(Debug)]
pub struct BankReport {
    pub transfers: u64,
    pub conflicts: u64,
    pub checks: u64,
    pub undetermined: u64,
    pub other_errors: u64,
    pub violation: Option<String>,
}

impl BankReport {
    /// The bench's last line.
    pub fn summary(&self) -> String {
        let head = format!(
            "transfers={} conflicts={} checks={}",
            self.transfers, self.conflicts, self.checks
        );
        match &self.violation {
            None => format!("{head} invariant=ok"),
            Some(v) => format!("{head} invariant=VIOLATED {v}"),
        }
    }
}

#[derive(Default)]
struct Counters {
    transfers: AtomicU64,
    conflicts: AtomicU64,
    undetermined: AtomicU64,
    errors: AtomicU64,
    checks: AtomicU64,
}

/// The key of account `i` under `prefix`.
pub fn account_key(prefix: &str, i: u64) -> Vec<u8> {
    format!("{prefix}/acct/{i:08}").into_bytes()
}

fn decode(v: &[u8]) -> Result<i64> {
    Ok(std::str::from_utf8(v)?.parse()?)
}

/// The CLI: connect, run, print, exit non-zero on a violation.
pub async fn run(b: Bank) -> Result<()> {
    let pd = pd::PdClient::connect(&b.pd)
        .await
        .with_context(|| format!("cannot reach PD at {}", b.pd))?;
    let client = TxnClient::new(pd.clone(), TxnConfig::default());
    let prefix = format!("bank-{}", client.current_ts().await?);
    let report = run_workload(&client, &pd, &b, &prefix, std::future::ready(())).await?;
    eprintln!(
        "undetermined={} other_errors={} transfers_per_sec={:.0}",
        report.undetermined,
        report.other_errors,
        report.transfers as f64 / b.seconds as f64,
    );
    println!("{}", report.summary());
    if report.violation.is_some() {
        std::process::exit(1);
    }
    Ok(())
}

/// Sets up the accounts, runs transfers and checks for `b.seconds`, and
/// meanwhile runs `during` (tests inject failures there).
pub async fn run_workload(
    client: &TxnClient,
    pd: &pd::PdClient,
    b: &Bank,
    prefix: &str,
    during: impl std::future::Future<Output = ()>,
) -> Result<BankReport> {
    let prefix = prefix.to_string();
    let total = b.initial_balance * b.accounts as i64;
    setup(client, pd, b, &prefix).await?;
    eprintln!(
        "bank: {} accounts under {prefix}/, total {total}, {} threads, {} s, {}",
        b.accounts,
        b.threads,
        b.seconds,
        if b.pessimistic {
            "pessimistic"
        } else {
            "optimistic"
        }
    );

    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(b.seconds);
    let mut workers = Vec::new();
    for _ in 0..b.threads {
        let (client, counters, prefix, b) =
            (client.clone(), counters.clone(), prefix.clone(), b.clone());
        workers.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                match transfer(&client, &prefix, &b).await {
                    Ok(true) => counters.transfers.fetch_add(1, Ordering::Relaxed),
                    Ok(false) => 0,
                    Err(e) if is_conflict(&e) => counters.conflicts.fetch_add(1, Ordering::Relaxed),
                    Err(TxnError::Undetermined(_)) => {
                        counters.undetermined.fetch_add(1, Ordering::Relaxed)
                    }
                    Err(e) => {
                        if counters.errors.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("transfer failed: {e}");
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        0
                    }
                };
            }
        }));
    }
    let checker = {
        let (client, counters, prefix, stop) = (
            client.clone(),
            counters.clone(),
            prefix.clone(),
            stop.clone(),
        );
        let accounts = b.accounts;
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match check(&client, &prefix, accounts, total).await {
                    Ok(Ok(())) => {
                        counters.checks.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Err(violation)) => return Some(violation),
                    Err(e) => {
                        eprintln!("check could not read: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            None
        })
    };
    during.await;
    for w in workers {
        w.await?;
    }
    stop.store(true, Ordering::Relaxed);
    let mut violation = checker.await?;
    if violation.is_none() {
        // One last check after every transfer ended.
        let mut tries = 0;
        loop {
            match check(client, &prefix, b.accounts, total).await {
                Ok(Ok(())) => {
                    counters.checks.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Ok(Err(v)) => {
                    violation = Some(v);
                    break;
                }
                Err(e) if tries < 20 => {
                    tries += 1;
                    eprintln!("final check could not read: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => bail!("final check failed: {e}"),
            }
        }
    }
    let c = &counters;
    Ok(BankReport {
        transfers: c.transfers.load(Ordering::Relaxed),
        conflicts: c.conflicts.load(Ordering::Relaxed),
        checks: c.checks.load(Ordering::Relaxed),
        undetermined: c.undetermined.load(Ordering::Relaxed),
        other_errors: c.errors.load(Ordering::Relaxed),
        violation,
    })
}

fn is_conflict(e: &TxnError) -> bool {
    matches!(
        e,
        TxnError::WriteConflict { .. }
            | TxnError::KeyIsLocked(_)
            | TxnError::Deadlock { .. }
            | TxnError::LockWaitTimeout { .. }
            | TxnError::TxnLockNotFound { .. }
    )
}

/// Writes the accounts and splits them over regions.
async fn setup(client: &TxnClient, pd: &pd::PdClient, b: &Bank, prefix: &str) -> Result<()> {
    let value = b.initial_balance.to_string().into_bytes();
    let ids: Vec<u64> = (0..b.accounts).collect();
    for chunk in ids.chunks(200) {
        let mut t = client.begin().await?;
        for i in chunk {
            t.put(account_key(prefix, *i), value.clone()).await?;
        }
        t.commit().await?;
    }
    if b.regions > 1 {
        let raw = RawClient::new(pd.clone());
        for r in 1..b.regions {
            let at = account_key(prefix, b.accounts * r / b.regions);
            split_at(&raw, pd, &txn::types::Key::from_raw(&at).into_encoded()).await?;
        }
        let start = txn::types::Key::from_raw(&account_key(prefix, 0)).into_encoded();
        let end = txn::types::Key::from_raw(&account_key(prefix, b.accounts)).into_encoded();
        let regions = pd.scan_regions(&start, &end, 0).await?;
        eprintln!("accounts span {} regions", regions.len());
    }
    Ok(())
}

/// Splits the region holding the encoded `key` there, and waits until PD
/// knows a region starting at it. Splits are asynchronous and a request
/// made against an epoch that changed meanwhile is dropped, so it repeats.
async fn split_at(raw: &RawClient, pd: &pd::PdClient, key: &[u8]) -> Result<()> {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = pd.get_region(key).await
            && r.region.as_ref().is_some_and(|r| r.start_key == key)
        {
            return Ok(());
        }
        if Instant::now() > until {
            bail!("region did not split at {key:?} within 30 s");
        }
        if let Err(e) = raw.split_region(key.to_vec()).await {
            eprintln!("split request: {e}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One transfer; `Ok(false)` when the source lacked the funds.
async fn transfer(client: &TxnClient, prefix: &str, b: &Bank) -> Result<bool, TxnError> {
    let (from, to, amount) = {
        let mut rng = rand::rng();
        let from = rng.random_range(0..b.accounts);
        let mut to = rng.random_range(0..b.accounts - 1);
        if to >= from {
            to += 1;
        }
        (from, to, rng.random_range(1..=100i64))
    };
    let (kf, kt) = (account_key(prefix, from), account_key(prefix, to));
    let mut t = if b.pessimistic {
        client.begin_pessimistic().await?
    } else {
        client.begin().await?
    };
    let result = async {
        let (vf, vt) = if b.pessimistic {
            (t.get_for_update(&kf).await?, t.get_for_update(&kt).await?)
        } else {
            (t.get(&kf).await?, t.get(&kt).await?)
        };
        let bad = || TxnError::Aborted("account missing".into());
        let bf = decode(&vf.ok_or_else(bad)?).map_err(|e| TxnError::Aborted(e.to_string()))?;
        let bt = decode(&vt.ok_or_else(bad)?).map_err(|e| TxnError::Aborted(e.to_string()))?;
        if bf < amount {
            return Ok(false);
        }
        t.put(kf.clone(), (bf - amount).to_string().into_bytes())
            .await?;
        t.put(kt.clone(), (bt + amount).to_string().into_bytes())
            .await?;
        Ok(true)
    }
    .await;
    match result {
        Ok(true) => {
            t.commit().await?;
            Ok(true)
        }
        Ok(false) => {
            t.rollback().await?;
            Ok(false)
        }
        Err(e) => {
            let _ = t.rollback().await;
            Err(e)
        }
    }
}

/// Reads every account at a fresh ts. The inner result is the verdict.
async fn check(
    client: &TxnClient,
    prefix: &str,
    accounts: u64,
    total: i64,
) -> Result<std::result::Result<(), String>> {
    let ts = client.current_ts().await?;
    let snap = client.snapshot(ts).await?;
    let start = account_key(prefix, 0);
    let end = account_key(prefix, accounts);
    let rows = snap.scan(&start, &end, 0, false).await?;
    let mut sum = 0i64;
    for (_, v) in &rows {
        sum += decode(v)?;
    }
    if rows.len() as u64 != accounts || sum != total {
        return Ok(Err(format!(
            "snapshot_ts={ts} accounts_seen={} expected_accounts={accounts} sum={sum} expected_sum={total}",
            rows.len()
        )));
    }
    Ok(Ok(()))
}
