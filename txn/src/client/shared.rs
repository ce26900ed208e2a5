//! What every transaction of one client shares: the configuration
//! ([`TxnConfig`]), PD, routing and the lock resolver ([`Shared`]), the
//! start timestamps still running (reported to PD so GC waits for them),
//! the columnar read counters, and the clock a transaction's lock TTLs
//! count from ([`StartClock`]).

use std::collections::BTreeMap;
use std::time::Duration;

use parking_lot::Mutex;
use pd::PdClient;

use super::lock_resolver::LockResolver;
use super::rpc::Rpc;
use crate::Result;
use crate::types::TimeStamp;

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
    pub fn new(pd: PdClient, rpc: Rpc, resolver: LockResolver, config: TxnConfig) -> Shared {
        Shared {
            pd,
            rpc,
            resolver,
            config,
            running: Mutex::new(BTreeMap::new()),
            columnar: ColumnarStats::default(),
        }
    }

    pub async fn ts(&self) -> Result<TimeStamp> {
        Ok(TimeStamp::new(
            self.pd.get_ts().await.map_err(kv::Error::from)?,
        ))
    }

    pub(super) fn register(&self, ts: TimeStamp) {
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

    pub(super) fn min_running(&self) -> Option<TimeStamp> {
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
