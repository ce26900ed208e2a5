//! # The PD server
//!
//! The I/O shell around the pure parts of the crate:
//!
//! ```text
//!            tonic PD service (service.rs)            scheduling task
//!   Tso ─────> TimestampOracle (own mutex)             every schedule_interval:
//!   AllocId ─> IdService (own mutex)                     Cluster::tick(now)
//!   UpdateMinStartTs, GetGcSafePoint,                  GC task
//!   UpdateGcSafePoint                                  every gc_interval: a ts
//!        ────> Mutex<SafePointManager>
//!   Deadlock > Mutex<DeadlockDetector>                   from the TSO, then
//!   others ──> Mutex<Cluster> ──> Storage (RocksDB       SafePointManager::tick
//!                                 under data_dir)
//! ```
//!
//! [`start`] opens the metadata under `data_dir`, loads it, and serves on a
//! listener the caller has already bound (so tests bind `127.0.0.1:0`, and
//! the binary binds whatever `--addr` says). [`PdHandle::shutdown`] stops
//! accepting, ends the TSO streams and the scheduling task, waits for them
//! and flushes and closes the storage, so a new PD can open the same
//! directory right away.
//!
//! The mutexes are never held across an `.await`; every handler locks, calls
//! one method with `Instant::now()`, and unlocks. The GC state and the
//! deadlock detector have their own mutexes, so transactions never wait for
//! the region map and heartbeats never wait for lock-wait bookkeeping.

mod service;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use proto::pdpb::pd_server::PdServer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cluster::store::StoreTimeouts;
use crate::cluster::{Cluster, ClusterConfig};
use crate::deadlock::DeadlockDetector;
use crate::error::{Error, Result};
use crate::gc::SafePointManager;
use crate::id::IdService;
use crate::operator::builder::OpTimeouts;
use crate::schedule::ScheduleConfig;
use crate::storage::Storage;
use crate::tso::TimestampOracle;

/// PD's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct PdConfig {
    /// Where the metadata (RocksDB) lives.
    pub data_dir: PathBuf,
    /// Voters per region.
    pub max_replicas: usize,
    /// A store silent this long is Down and its voters are replaced.
    pub max_store_down_time: Duration,
    /// A store silent this long is Disconnected (no data moves yet).
    pub store_disconnected_after: Duration,
    /// How often the background scheduling tick runs.
    pub schedule_interval: Duration,
    /// Concurrent leader transfers per store.
    pub leader_schedule_limit: u64,
    /// Concurrent peer additions per store.
    pub replica_schedule_limit: u64,
    /// Leader counts may differ by `max(1, mean * ratio)` before balancing.
    pub leader_tolerance_ratio: f64,
    /// Operators adding or removing peers are dropped after this long.
    pub operator_timeout: Duration,
    /// Leader transfer operators are dropped after this long.
    pub leader_operator_timeout: Duration,
    /// How far ahead of the clock the TSO persists its bound.
    pub tso_save_window: Duration,
    pub enable_replica_checker: bool,
    pub enable_balance_leader: bool,
    /// How long old versions are kept: the txn safe point trails the TSO by
    /// this much (TiDB's `tidb_gc_life_time`).
    pub gc_life_time: Duration,
    /// How often the txn safe point is recomputed, and so how often the
    /// stores collect garbage (TiDB's `tidb_gc_run_interval`, 10 min).
    pub gc_interval: Duration,
    /// A deadlock detector edge not detected again within this long expires.
    pub deadlock_ttl: Duration,
}

impl Default for PdConfig {
    fn default() -> Self {
        let schedule = ScheduleConfig::default();
        PdConfig {
            data_dir: PathBuf::from("pd-data"),
            max_replicas: schedule.max_replicas,
            max_store_down_time: Duration::from_secs(30 * 60),
            store_disconnected_after: Duration::from_secs(20),
            schedule_interval: Duration::from_millis(200),
            leader_schedule_limit: schedule.leader_schedule_limit,
            replica_schedule_limit: schedule.replica_schedule_limit,
            leader_tolerance_ratio: schedule.leader_tolerance_ratio,
            operator_timeout: Duration::from_secs(60),
            leader_operator_timeout: Duration::from_secs(10),
            tso_save_window: Duration::from_secs(3),
            enable_replica_checker: true,
            enable_balance_leader: true,
            gc_life_time: Duration::from_secs(10 * 60),
            gc_interval: Duration::from_secs(10 * 60),
            deadlock_ttl: Duration::from_secs(3),
        }
    }
}

impl PdConfig {
    /// Defaults with metadata under `data_dir`.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        PdConfig {
            data_dir: data_dir.into(),
            ..Default::default()
        }
    }

    /// The part the cluster logic reads.
    pub fn cluster_config(&self) -> ClusterConfig {
        ClusterConfig {
            store_timeouts: StoreTimeouts {
                disconnected_after: self.store_disconnected_after,
                down_after: self.max_store_down_time,
            },
            schedule: ScheduleConfig {
                max_replicas: self.max_replicas,
                leader_schedule_limit: self.leader_schedule_limit,
                replica_schedule_limit: self.replica_schedule_limit,
                leader_tolerance_ratio: self.leader_tolerance_ratio,
            },
            op_timeouts: OpTimeouts {
                region: self.operator_timeout,
                leader: self.leader_operator_timeout,
            },
            enable_replica_checker: self.enable_replica_checker,
            enable_balance_leader: self.enable_balance_leader,
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidArgument(format!("PD config: {m}")));
        if self.max_replicas == 0 {
            return bad("max_replicas must be at least 1");
        }
        if self.schedule_interval.is_zero() {
            return bad("schedule_interval must be positive");
        }
        if self.store_disconnected_after > self.max_store_down_time {
            return bad("store_disconnected_after must not exceed max_store_down_time");
        }
        if self.tso_save_window < Duration::from_millis(2) {
            return bad("tso_save_window must be at least 2 ms");
        }
        if self.gc_life_time < Duration::from_millis(1) {
            return bad("gc_life_time must be at least 1 ms");
        }
        if self.gc_interval.is_zero() {
            return bad("gc_interval must be positive");
        }
        if self.deadlock_ttl.is_zero() {
            return bad("deadlock_ttl must be positive");
        }
        Ok(())
    }
}

/// What the service and the background task share.
pub(crate) struct PdState {
    pub cluster: Mutex<Cluster>,
    pub tso: TimestampOracle,
    pub ids: Arc<IdService>,
    pub gc: Mutex<SafePointManager>,
    pub deadlock: Mutex<DeadlockDetector>,
}

/// A running PD.
pub struct PdHandle {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<std::result::Result<(), tonic::transport::Error>>>,
    scheduler: Option<JoinHandle<()>>,
    gc: Option<JoinHandle<()>>,
    storage: Storage,
}

/// Opens the metadata under `config.data_dir` and serves the PD gRPC API on
/// `listener` until [`PdHandle::shutdown`].
pub async fn start(config: PdConfig, listener: TcpListener) -> Result<PdHandle> {
    config.validate()?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Other(format!("listener has no local address: {e}")))?;
    let cfg = config.clone();
    let (storage, state) = tokio::task::spawn_blocking(move || open(&cfg))
        .await
        .map_err(|e| Error::Other(format!("loading PD metadata panicked: {e}")))??;
    let state = Arc::new(state);
    let (shutdown, shutdown_rx) = watch::channel(false);

    let service = service::PdService::new(state.clone(), shutdown_rx.clone());
    let incoming = crate::core::nodelay_incoming(listener);
    let mut signal = shutdown_rx.clone();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .http2_keepalive_interval(Some(Duration::from_secs(10)))
            .add_service(PdServer::new(service))
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = signal.wait_for(|stop| *stop).await;
            }),
    );
    let scheduler = tokio::spawn(schedule_loop(
        state.clone(),
        config.schedule_interval,
        shutdown_rx.clone(),
    ));
    let gc = tokio::spawn(gc_loop(state, config.gc_interval, shutdown_rx));
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "PD serving");
    Ok(PdHandle {
        addr,
        shutdown,
        server: Some(server),
        scheduler: Some(scheduler),
        gc: Some(gc),
        storage,
    })
}

fn open(config: &PdConfig) -> Result<(Storage, PdState)> {
    let storage = Storage::open_rocksdb(&config.data_dir)?;
    let ids = Arc::new(IdService::load(storage.clone())?);
    let tso = TimestampOracle::load(storage.clone(), config.tso_save_window)?;
    let now = Instant::now();
    let cluster = Cluster::load(config.cluster_config(), storage.clone(), ids.clone(), now)?;
    let gc = SafePointManager::load(storage.clone(), config.gc_life_time, now)?;
    Ok((
        storage,
        PdState {
            cluster: Mutex::new(cluster),
            tso,
            ids,
            gc: Mutex::new(gc),
            deadlock: Mutex::new(DeadlockDetector::new(config.deadlock_ttl)),
        },
    ))
}

async fn schedule_loop(state: Arc<PdState>, interval: Duration, mut stop: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|stop| *stop) => break,
        }
        let report = state.cluster.lock().tick(Instant::now());
        if !report.created.is_empty() || report.expired > 0 || !report.tombstoned.is_empty() {
            tracing::debug!(created = ?report.created, expired = report.expired,
                tombstoned = ?report.tombstoned, "scheduling tick");
        }
    }
}

/// Recomputes the txn safe point every `interval` (the first time right
/// away), from a timestamp PD hands out to itself, and sweeps the deadlock
/// detector's expired edges.
async fn gc_loop(state: Arc<PdState>, interval: Duration, mut stop: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|stop| *stop) => break,
        }
        // The timestamp is taken before the lock: an older `now` can only
        // give a smaller candidate.
        let ticked = state
            .tso
            .get(1)
            .and_then(|now_ts| state.gc.lock().tick(now_ts, Instant::now()));
        if let Err(e) = ticked {
            tracing::warn!(error = %e, "txn safe point not updated");
        }
        state.deadlock.lock().expire(Instant::now());
    }
}

/// How long shutdown waits for open connections before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

impl PdHandle {
    /// The address PD serves on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and the background work, then flushes and closes the
    /// metadata storage.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in [self.scheduler.take(), self.gc.take()]
            .into_iter()
            .flatten()
        {
            let _ = task.await;
        }
        if let Some(mut server) = self.server.take() {
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::warn!(error = %e, "PD server ended with an error"),
                Ok(Err(e)) => tracing::warn!(error = %e, "PD server task failed"),
                Err(_) => {
                    tracing::warn!("PD connections did not close in time; aborting them");
                    server.abort();
                    let _ = server.await;
                }
            }
        }
        if let Err(e) = self.storage.flush() {
            tracing::warn!(error = %e, "flushing PD metadata failed");
        }
        self.storage.close();
        tracing::info!(addr = %self.addr, "PD stopped");
    }
}

impl Drop for PdHandle {
    fn drop(&mut self) {
        // Dropped without shutdown(): at least stop the tasks.
        let _ = self.shutdown.send(true);
    }
}
