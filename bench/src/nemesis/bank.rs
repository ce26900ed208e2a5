//! The bank: money moves between accounts and is never made or lost.
//!
//! Transfers run as explicit pessimistic transactions, TiDB's default:
//!
//! ```text
//!   BEGIN
//!   SELECT bal FROM bank WHERE id = lo FOR UPDATE   -- the lower id first,
//!   SELECT bal FROM bank WHERE id = hi FOR UPDATE   -- so no two deadlock
//!   UPDATE bank SET bal = bal - amount WHERE id = from
//!   UPDATE bank SET bal = bal + amount WHERE id = to
//!   COMMIT
//! ```
//!
//! Readers sum every balance inside a transaction, in turn three ways: all
//! rows in one SELECT (summed by the client, and counted), `SUM`/`COUNT`
//! computed by the server, and two SELECTs over the two halves of the ids
//! (one snapshot across statements). Every read that returns must see
//! [`TOTAL`] over [`ACCOUNTS`] rows, whatever the faults do to the
//! transfers around it: a transfer whose COMMIT got no answer may have
//! happened or not, but never half. The final state, read after the last
//! fault healed and the transfers stopped, keeps the total too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::client::{BACKOFF, Clock, Session, StmtError, Success};

pub const ACCOUNTS: i64 = 10;
pub const INITIAL: i64 = 100;
pub const TOTAL: i64 = ACCOUNTS * INITIAL;

pub const SETUP: &[&str] = &["CREATE TABLE bank (id BIGINT PRIMARY KEY, bal BIGINT NOT NULL)"];

pub fn fill() -> String {
    let rows: Vec<String> = (0..ACCOUNTS).map(|i| format!("({i}, {INITIAL})")).collect();
    format!("INSERT INTO bank VALUES {}", rows.join(", "))
}

/// Sessions give up waiting for a lock soon, so transfers stuck behind a
/// dead transaction's lock turn over quickly.
const SESSION_INIT: &[&str] = &["SET SESSION innodb_lock_wait_timeout = 5"];

/// What one bank task counted.
#[derive(Debug, Default, Clone)]
pub struct BankStats {
    pub transfers: u64,
    pub transfer_errors: u64,
    pub reads: u64,
    pub read_errors: u64,
    /// Reads (or the final state) that did not keep the total.
    pub anomalies: Vec<String>,
}

impl BankStats {
    pub fn merge(&mut self, o: BankStats) {
        self.transfers += o.transfers;
        self.transfer_errors += o.transfer_errors;
        self.reads += o.reads;
        self.read_errors += o.read_errors;
        self.anomalies.extend(o.anomalies);
    }
}

/// What a reader saw of all accounts in one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub rows: i64,
    pub distinct_ids: i64,
    pub sum: i64,
    /// The rows themselves, when the client read them (for the report).
    pub detail: String,
}

impl Snapshot {
    pub fn of_rows(rows: &[(i64, i64)]) -> Snapshot {
        let mut ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        ids.sort_unstable();
        ids.dedup();
        Snapshot {
            rows: rows.len() as i64,
            distinct_ids: ids.len() as i64,
            sum: rows.iter().map(|r| r.1).sum(),
            detail: format!("{rows:?}"),
        }
    }

    /// Whether it keeps the total; what is off if not.
    pub fn check(&self) -> Result<(), String> {
        if self.sum == TOTAL && self.rows == ACCOUNTS && self.distinct_ids == ACCOUNTS {
            return Ok(());
        }
        Err(format!(
            "{} rows ({} distinct ids) summing to {}, not {ACCOUNTS} summing to {TOTAL} {}",
            self.rows, self.distinct_ids, self.sum, self.detail
        ))
    }
}

/// Transfers until the clock stops.
pub async fn transfers(url: String, clock: Arc<Clock>, seed: u64) -> BankStats {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut s = Session::new(&url, SESSION_INIT);
    let mut stats = BankStats::default();
    while !clock.stopped() {
        let from = rng.random_range(0..ACCOUNTS);
        let to = (from + rng.random_range(1..ACCOUNTS)) % ACCOUNTS;
        let amount = rng.random_range(1..=20);
        let started = Instant::now();
        match transfer(&mut s, from, to, amount).await {
            Ok(_) => {
                stats.transfers += 1;
                clock.success(Success::Transfer, started);
            }
            Err(_) => {
                stats.transfer_errors += 1;
                s.abandon().await;
                tokio::time::sleep(BACKOFF).await;
            }
        }
    }
    stats
}

/// One transfer; `Ok(false)` if `from` had too little (rolled back).
async fn transfer(s: &mut Session, from: i64, to: i64, amount: i64) -> Result<bool, StmtError> {
    s.run("BEGIN").await?;
    let mut balance = None;
    for id in [from.min(to), from.max(to)] {
        let bal: Option<i64> = s
            .first("SELECT bal FROM bank WHERE id = ? FOR UPDATE", (id,))
            .await?;
        if id == from {
            balance = bal;
        }
    }
    if balance.is_none_or(|b| b < amount) {
        s.run("ROLLBACK").await?;
        return Ok(false);
    }
    s.exec("UPDATE bank SET bal = bal - ? WHERE id = ?", (amount, from))
        .await?;
    s.exec("UPDATE bank SET bal = bal + ? WHERE id = ?", (amount, to))
        .await?;
    s.run("COMMIT").await?;
    Ok(true)
}

/// Snapshot reads until the clock stops; `first` picks the first of the
/// three ways to read.
pub async fn readers(url: String, clock: Arc<Clock>, first: usize) -> BankStats {
    let mut s = Session::new(&url, &[]);
    let mut stats = BankStats::default();
    let mut way = first;
    while !clock.stopped() {
        let started = Instant::now();
        match read(&mut s, way % 3).await {
            Ok(snapshot) => {
                stats.reads += 1;
                clock.success(Success::SnapshotRead, started);
                if let Err(e) = snapshot.check() {
                    stats.anomalies.push(format!(
                        "a snapshot read ({}) at +{:.3}s saw {e}",
                        WAYS[way % 3],
                        started.duration_since(clock.origin).as_secs_f64()
                    ));
                }
                // A COMMIT of a read-only transaction says nothing more.
                if s.run("COMMIT").await.is_err() {
                    s.abandon().await;
                }
            }
            Err(_) => {
                stats.read_errors += 1;
                s.abandon().await;
                tokio::time::sleep(BACKOFF).await;
            }
        }
        way += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stats
}

const WAYS: [&str; 3] = ["all rows", "SUM/COUNT", "two halves"];

/// Reads every balance in a transaction left open (the caller commits).
async fn read(s: &mut Session, way: usize) -> Result<Snapshot, StmtError> {
    s.run("BEGIN").await?;
    match way {
        0 => Ok(Snapshot::of_rows(
            &s.rows("SELECT id, bal FROM bank").await?,
        )),
        1 => {
            let row: Vec<(i64, i64)> = s.rows("SELECT SUM(bal), COUNT(*) FROM bank").await?;
            let (sum, count) = row.first().copied().unwrap_or((0, 0));
            Ok(Snapshot {
                rows: count,
                distinct_ids: count,
                sum,
                detail: String::new(),
            })
        }
        _ => {
            let half = ACCOUNTS / 2;
            let mut rows: Vec<(i64, i64)> = s
                .rows(&format!("SELECT id, bal FROM bank WHERE id < {half}"))
                .await?;
            // Let transfers commit between the two statements.
            tokio::time::sleep(Duration::from_millis(10)).await;
            rows.extend(
                s.rows::<(i64, i64)>(&format!("SELECT id, bal FROM bank WHERE id >= {half}"))
                    .await?,
            );
            Ok(Snapshot::of_rows(&rows))
        }
    }
}

/// The final state, read once the transfers stopped (retried until the
/// cluster answers, for up to a minute).
pub async fn final_check(url: &str) -> Result<(), String> {
    let mut s = Session::new(url, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match s.rows::<(i64, i64)>("SELECT id, bal FROM bank").await {
            Ok(rows) => {
                return Snapshot::of_rows(&rows)
                    .check()
                    .map_err(|e| format!("the final state has {e}"));
            }
            Err(e) if Instant::now() > deadline => {
                return Err(format!("the final state could not be read: {e:?}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_keeps_the_total_or_says_what_is_off() {
        let mut rows: Vec<(i64, i64)> = (0..ACCOUNTS).map(|i| (i, INITIAL)).collect();
        assert_eq!(Snapshot::of_rows(&rows).check(), Ok(()));
        rows[0].1 -= 7;
        let e = Snapshot::of_rows(&rows).check().unwrap_err();
        assert!(e.contains("summing to 993"), "{e}");
        rows[0].1 += 7;
        rows.pop();
        assert!(
            Snapshot::of_rows(&rows).check().is_err(),
            "a missing account"
        );
        rows.push((0, INITIAL));
        assert!(
            Snapshot::of_rows(&rows).check().is_err(),
            "an account twice"
        );
    }
}
