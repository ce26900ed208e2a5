//! # The client side of transactions
//!
//! What a SQL server (or any program) uses to run Percolator transactions
//! against the kv stores:
//!
//! ```text
//!  TxnClient ── begin() / begin_pessimistic() ──> Transaction
//!     │                                            │ get/batch_get/scan: Snapshot at start_ts
//!     │                                            │ put/delete/lock_keys: buffered (pessimistic:
//!     │                                            │   locked on the stores at once, waiting and
//!     │                                            │   detecting deadlocks)
//!     │                                            └ commit(): Committer (2PC, or 1PC)
//!     ├ snapshot(ts): read-only view at any ts >= the GC safe point
//!     ├ LockResolver: check the primary, then commit or roll back locks
//!     ├ Rpc: region cache routing, grouping by region, retries
//!     └ PD: timestamps (one batched stream), min start ts registration
//! ```
//!
//! Errors a caller acts on are typed ([`Error::WriteConflict`],
//! [`Error::KeyIsLocked`], [`Error::TxnLockNotFound`], [`Error::Deadlock`],
//! [`Error::LockWaitTimeout`], [`Error::AlreadyExist`]) and
//! [`Error::Undetermined`]: the primary's commit was sent but its outcome is
//! unknown — the transaction may or may not have committed, and the client
//! must not report either.
//!
//! Running transactions register the oldest start ts of this client with PD
//! every second, so the GC safe point never passes a transaction still
//! reading (TiDB does the same through etcd).

mod committer;
mod coprocessor;
mod lock_resolver;
pub mod rpc;
mod snapshot;
mod transaction;

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use kv::client::RegionCache;
use parking_lot::Mutex;
use pd::PdClient;

pub use coprocessor::{CopScan, CopTask, Page};
pub use lock_resolver::{LockResolver, Resolved};
pub use snapshot::Snapshot;
pub use transaction::{Transaction, TxnMode};

use self::rpc::Rpc;
use crate::types::{TimeStamp, Value};
use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct TxnConfig {
    /// TTL of prewrite locks (ms); large transactions get more.
    pub lock_ttl: u64,
    /// TTL of pessimistic locks (ms), kept alive by heartbeats while the
    /// transaction runs.
    pub pessimistic_lock_ttl: u64,
    /// How long a pessimistic lock request waits for a conflicting lock
    /// (MySQL's `innodb_lock_wait_timeout`).
    pub lock_wait_timeout: Duration,
    /// How long one read keeps retrying (routing, live locks).
    pub read_timeout: Duration,
    /// How long a write step keeps retrying before it fails (the primary's
    /// commit then ends as `Undetermined`).
    pub write_timeout: Duration,
    /// Commit single-region transactions in one phase.
    pub try_one_pc: bool,
    /// Heartbeats keep a transaction's locks alive at most this long after
    /// it began (TiDB's `max-txn-ttl`), so an abandoned open transaction
    /// cannot hold rows, or the GC safe point, forever.
    pub max_txn_ttl: Duration,
    /// Regions a coprocessor scan reads at once (TiDB's
    /// `tidb_distsql_scan_concurrency`); pages still arrive in key order.
    pub scan_concurrency: usize,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            lock_ttl: 3_000,
            pessimistic_lock_ttl: 20_000,
            lock_wait_timeout: Duration::from_secs(50),
            read_timeout: Duration::from_secs(20),
            write_timeout: Duration::from_secs(20),
            try_one_pc: true,
            max_txn_ttl: Duration::from_secs(3600),
            scan_concurrency: 4,
        }
    }
}

/// What every transaction of one client shares.
pub(crate) struct Shared {
    pub pd: PdClient,
    pub rpc: Rpc,
    pub resolver: LockResolver,
    pub config: TxnConfig,
    /// start_ts -> number of running transactions that began at it.
    running: Mutex<BTreeMap<TimeStamp, usize>>,
    pub columnar: ColumnarStats,
}

/// How coprocessor scans that asked for columnar replicas went.
#[derive(Debug, Default)]
pub struct ColumnarStats {
    /// Region parts answered by a columnar replica.
    pub regions: std::sync::atomic::AtomicU64,
    /// Region parts read from the row store instead.
    pub fallbacks: std::sync::atomic::AtomicU64,
}

impl Shared {
    pub async fn ts(&self) -> Result<TimeStamp> {
        Ok(TimeStamp::new(
            self.pd.get_ts().await.map_err(kv::Error::from)?,
        ))
    }

    fn register(&self, ts: TimeStamp) {
        *self.running.lock().entry(ts).or_default() += 1;
    }

    pub fn unregister(&self, ts: TimeStamp) {
        let mut running = self.running.lock();
        if let Some(n) = running.get_mut(&ts) {
            *n -= 1;
            if *n == 0 {
                running.remove(&ts);
            }
        }
    }

    fn min_running(&self) -> Option<TimeStamp> {
        self.running.lock().keys().next().copied()
    }
}

/// When a transaction's `start_ts` was obtained, by this process's
/// monotonic clock. Lock TTLs count from `start_ts` (its physical part), so
/// a lock written later needs the time elapsed since then added to its TTL;
/// measuring it with `Instant` keeps wall-clock skew between this machine
/// and PD out of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StartClock(std::time::Instant);

impl StartClock {
    pub fn now() -> StartClock {
        StartClock(std::time::Instant::now())
    }

    pub fn elapsed_ms(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }
}

/// The entry point: a handle shared by every transaction of a process.
#[derive(Clone)]
pub struct TxnClient {
    shared: Arc<Shared>,
}

/// How often running transactions' oldest start ts is reported to PD, and
/// how long PD keeps a report.
const MIN_START_TS_INTERVAL: Duration = Duration::from_secs(1);
const MIN_START_TS_TTL: Duration = Duration::from_secs(10);

impl TxnClient {
    pub async fn connect(pd_addr: &str) -> Result<TxnClient> {
        let pd = PdClient::connect(pd_addr).await.map_err(kv::Error::from)?;
        Ok(TxnClient::new(pd, TxnConfig::default()))
    }

    /// A client over an existing PD connection. Must be called inside a
    /// tokio runtime (it starts the min-start-ts reporter).
    pub fn new(pd: PdClient, config: TxnConfig) -> TxnClient {
        let cache = Arc::new(RegionCache::new(pd.clone()));
        let rpc = Rpc::new(cache, config.write_timeout);
        let resolver = LockResolver::new(rpc.clone(), pd.clone());
        let shared = Arc::new(Shared {
            pd,
            rpc,
            resolver,
            config,
            running: Mutex::new(BTreeMap::new()),
            columnar: ColumnarStats::default(),
        });
        tokio::spawn(report_min_start_ts(Arc::downgrade(&shared)));
        TxnClient { shared }
    }

    pub fn config(&self) -> &TxnConfig {
        &self.shared.config
    }

    /// Columnar reads so far: (regions answered by a replica, regions
    /// read from the row store instead).
    pub fn columnar_stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let c = &self.shared.columnar;
        (c.regions.load(Relaxed), c.fallbacks.load(Relaxed))
    }

    pub fn pd(&self) -> &PdClient {
        &self.shared.pd
    }

    /// A fresh timestamp from PD.
    pub async fn current_ts(&self) -> Result<TimeStamp> {
        self.shared.ts().await
    }

    /// An optimistic transaction: writes are buffered, conflicts surface at
    /// commit.
    pub async fn begin(&self) -> Result<Transaction> {
        self.begin_with(TxnMode::Optimistic).await
    }

    /// A pessimistic transaction (TiDB's and MySQL's default behaviour):
    /// writes and `lock_keys` lock rows when they run.
    pub async fn begin_pessimistic(&self) -> Result<Transaction> {
        self.begin_with(TxnMode::Pessimistic).await
    }

    pub async fn begin_with(&self, mode: TxnMode) -> Result<Transaction> {
        let clock = StartClock::now();
        let start_ts = self.shared.ts().await?;
        self.shared.register(start_ts);
        Ok(Transaction::new(self.shared.clone(), start_ts, clock, mode))
    }

    /// The newest committed value of one key without a timestamp from PD
    /// (see `Snapshot::get_max_ts`); `Err(KeyIsLocked)` when a lock is
    /// on the key, and the caller should read at a real timestamp.
    pub async fn get_latest(&self, key: &[u8]) -> Result<Option<Value>> {
        Snapshot::new(self.shared.clone(), TimeStamp::max())
            .get_max_ts(key)
            .await
    }

    /// A read-only view at `ts`; refused below the GC safe point.
    pub async fn snapshot(&self, ts: TimeStamp) -> Result<Snapshot> {
        let sp = self
            .shared
            .pd
            .get_gc_safe_point()
            .await
            .map_err(kv::Error::from)?;
        let safe_point = TimeStamp::new(sp.safe_point);
        if ts < safe_point {
            return Err(Error::TxnTooOld { ts, safe_point });
        }
        Ok(Snapshot::new(self.shared.clone(), ts))
    }

    pub fn lock_resolver(&self) -> &LockResolver {
        &self.shared.resolver
    }

    pub fn rpc(&self) -> &Rpc {
        &self.shared.rpc
    }
}

/// Reports the oldest running start ts to PD until the client is dropped.
async fn report_min_start_ts(shared: Weak<Shared>) {
    let id = format!(
        "txn-client-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    );
    let mut reported = false;
    loop {
        tokio::time::sleep(MIN_START_TS_INTERVAL).await;
        let Some(s) = shared.upgrade() else {
            return;
        };
        let pd = s.pd.clone();
        let min = s.min_running();
        drop(s);
        match min {
            Some(ts) => {
                reported = pd
                    .update_min_start_ts(&id, ts.into_inner(), MIN_START_TS_TTL)
                    .await
                    .is_ok();
            }
            None if reported => {
                reported = pd
                    .update_min_start_ts(&id, 0, MIN_START_TS_TTL)
                    .await
                    .is_err();
            }
            None => {}
        }
    }
}
