//! [`TxnClient`]: the entry point, a handle shared by every transaction of
//! a process. It begins transactions and snapshots at timestamps from PD,
//! and reports the oldest start ts still running to PD every second so the
//! GC safe point never passes a transaction still reading.

use std::sync::{Arc, Weak};
use std::time::Duration;

use kv::client::RegionCache;
use pd::PdClient;

use super::lock_resolver::LockResolver;
use super::rpc::Rpc;
use super::shared::{Shared, StartClock, TxnConfig};
use super::snapshot::Snapshot;
use super::transaction::{Transaction, TxnMode};
use crate::types::{TimeStamp, Value};
use crate::{Error, Result};

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
        let shared = Arc::new(Shared::new(pd, rpc, resolver, config));
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
