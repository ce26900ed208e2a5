//! # A columnar store process
//!
//! [`ColumnarServer::start`] is a kv store with three differences:
//!
//! * its labels include `engine=columnar`, so PD places only learners of
//!   tables with columnar replicas here (and it never bootstraps the
//!   cluster's first region);
//! * its raftstore runs the [`ApplyLog`] hook, and the [`ColumnarView`] is
//!   built from the engine before the raftstore starts applying;
//! * it serves Arrow Flight (`DoGet` scans, see [`crate::service`]) and
//!   no transaction service (a
//!   learner takes no writes from clients); a background task keeps
//!   the view caught up every [`CATCH_UP_INTERVAL`] so reads find little
//!   left to do, and compacts the delta into chunk files under
//!   `{data_dir}/columnar`.

use std::sync::Arc;
use std::time::Duration;

use arrow_flight::flight_service_server::FlightServiceServer;
use kv::engine::{EngineRef, RocksEngine};
use kv::server::{KvConfig, KvServer};
use kv::transport::MessageFilter;
use tokio::net::TcpListener;

use crate::Result;
use crate::apply_log::ApplyLog;
use crate::service::ColumnarService;
use crate::view::ColumnarView;

/// How often the view catches up with the learners on its own.
pub const CATCH_UP_INTERVAL: Duration = Duration::from_millis(200);
/// A delta this large is compacted at once.
pub const COMPACT_VERSIONS: usize = 65_536;
/// A delta is compacted at least this often.
pub const COMPACT_INTERVAL: Duration = Duration::from_secs(5);

/// The label that makes a store columnar (PD's `engine=columnar`).
pub const ENGINE_LABEL: (&str, &str) = (pd::core::ENGINE_LABEL, pd::core::COLUMNAR_ENGINE);

pub struct ColumnarServer {
    kv: KvServer,
    view: Arc<ColumnarView>,
}

impl ColumnarServer {
    /// Starts a columnar store with RocksDB under `cfg.data_dir`.
    pub async fn start(cfg: KvConfig, listener: TcpListener) -> Result<ColumnarServer> {
        std::fs::create_dir_all(&cfg.data_dir)
            .map_err(|e| kv::Error::Engine(format!("create {}: {e}", cfg.data_dir.display())))?;
        let engine: EngineRef = Arc::new(RocksEngine::open(&cfg.data_dir.join("db"))?);
        Self::start_with(cfg, listener, engine, None).await
    }

    /// Starts a columnar store on a given engine, optionally filtering its
    /// outgoing raft messages (tests).
    pub async fn start_with(
        mut cfg: KvConfig,
        listener: TcpListener,
        engine: EngineRef,
        filter: Option<Arc<dyn MessageFilter>>,
    ) -> Result<ColumnarServer> {
        let (k, v) = ENGINE_LABEL;
        cfg.labels.retain(|(key, _)| key != k);
        cfg.labels.push((k.to_string(), v.to_string()));
        let log = Arc::new(ApplyLog::open(&engine)?);
        let view = Arc::new(ColumnarView::open(
            engine.clone(),
            Some(&cfg.data_dir.join("columnar")),
        )?);
        cfg.apply_observer = Some(log);
        let service_view = view.clone();
        let extension: kv::server::Extension = Box::new(move |ctx, routes| {
            let service = ColumnarService::new(ctx.into(), service_view.clone());
            tokio::spawn(catch_up_loop(
                service_view,
                ctx.pd.clone(),
                ctx.shutdown.clone(),
            ));
            routes.add_service(
                FlightServiceServer::new(service).max_decoding_message_size(64 * 1024 * 1024),
            )
        });
        let kv = KvServer::start_with(cfg, listener, engine, filter, vec![extension]).await?;
        Ok(ColumnarServer { kv, view })
    }

    pub fn store_id(&self) -> u64 {
        self.kv.store_id()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.kv.addr()
    }

    pub fn kv(&self) -> &KvServer {
        &self.kv
    }

    /// The kv store underneath (its shutdown stops everything; the
    /// view lives on in the service until then).
    pub fn into_kv(self) -> KvServer {
        self.kv
    }

    pub fn view(&self) -> &Arc<ColumnarView> {
        &self.view
    }

    pub async fn shutdown(self) {
        self.kv.shutdown().await;
    }
}

/// Catches the view up every [`CATCH_UP_INTERVAL`] and compacts it when
/// the delta holds [`COMPACT_VERSIONS`] versions or is
/// [`COMPACT_INTERVAL`] old, with PD's gc safe point.
async fn catch_up_loop(
    view: Arc<ColumnarView>,
    pd: pd::PdClient,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(CATCH_UP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_compaction = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let v = view.clone();
        match tokio::task::spawn_blocking(move || v.catch_up_now()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("columnar catch-up failed: {e}"),
            Err(e) => tracing::warn!("columnar catch-up task failed: {e}"),
        }
        let pending = view.delta_versions();
        if pending >= COMPACT_VERSIONS
            || (pending > 0 && last_compaction.elapsed() >= COMPACT_INTERVAL)
        {
            last_compaction = tokio::time::Instant::now();
            let safe_point = match pd.get_gc_safe_point().await {
                Ok(sp) => sp.gc_safe_point,
                Err(e) => {
                    tracing::debug!("no gc safe point, compacting without GC: {e}");
                    0
                }
            };
            let v = view.clone();
            let compacted = tokio::task::spawn_blocking(move || {
                futures::executor::block_on(v.compact(safe_point))
            })
            .await;
            match compacted {
                Ok(Ok(n)) => tracing::debug!(versions = n, "columnar compaction"),
                Ok(Err(e)) => tracing::warn!("columnar compaction failed: {e}"),
                Err(e) => tracing::warn!("columnar compaction task failed: {e}"),
            }
        }
    }
}
