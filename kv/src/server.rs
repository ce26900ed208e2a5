//! # A kv store process
//!
//! [`KvServer::start`] wires a store together:
//!
//! ```text
//!  engine (RocksDB under data_dir/db)
//!  PD: store id (once), register address, bootstrap the first region
//!  store loop thread ── raft messages ──> RaftClient (gRPC, per store)
//!  split checker thread, PD worker task
//!  gRPC server: RaftTransport (from other stores) + Kv (from clients)
//! ```
//!
//! Layers above the store (the transaction service) plug in as
//! [`Extension`]s: each gets a [`StoreContext`] — the router into the store
//! loop, the engine, a PD client, a shutdown signal — and adds its gRPC
//! services to the same port. `kv` does not depend on them.
//!
//! [`KvServer::shutdown`] stops the gRPC server, then the store loop (which
//! fails what is still waiting), then the workers; the engine closes when
//! the last handle drops.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use pd::PdClient;
use proto::kvrpcpb::kv_server::KvServer as KvGrpcServer;
use proto::metapb;
use proto::raft_serverpb::raft_transport_server::RaftTransportServer;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle as TaskHandle;

use crate::engine::{EngineRef, RocksEngine};
use crate::raftstore::bootstrap::{bootstrap_cluster, ensure_store_id};
use crate::raftstore::worker::{run_pd_worker, run_snap_generator, run_split_checker};
use crate::raftstore::{Config, ReadFlow, Store, StoreIo, StoreMsg, StoreRouter};
use crate::service::KvService;
use crate::transport::{MessageFilter, RaftClient, RaftService};
use crate::{Error, Result};

#[derive(Clone)]
pub struct KvConfig {
    /// The address other stores and clients use to reach this store.
    pub advertise_addr: String,
    pub data_dir: PathBuf,
    pub pd_addr: String,
    pub labels: Vec<(String, String)>,
    pub raftstore: Config,
    /// Sees applied writes (a columnar store's apply step); None on a
    /// plain kv store.
    pub apply_observer: Option<Arc<dyn crate::raftstore::ApplyObserver>>,
}

/// What a service layered on a store works with.
#[derive(Clone)]
pub struct StoreContext {
    pub store_id: u64,
    pub router: StoreRouter,
    pub engine: EngineRef,
    pub pd: PdClient,
    pub request_timeout: std::time::Duration,
    pub read_flow: Arc<ReadFlow>,
    /// Becomes `true` when the store shuts down; background tasks of an
    /// extension end then.
    pub shutdown: watch::Receiver<bool>,
}

/// Adds services (and may spawn background tasks) on a starting store.
pub type Extension =
    Box<dyn FnOnce(&StoreContext, tonic::service::Routes) -> tonic::service::Routes + Send>;

pub struct KvServer {
    store_id: u64,
    addr: SocketAddr,
    router: StoreRouter,
    engine: EngineRef,
    store_thread: Option<JoinHandle<()>>,
    split_thread: Option<JoinHandle<()>>,
    snap_thread: Option<JoinHandle<()>>,
    grpc_stop: Option<oneshot::Sender<()>>,
    grpc_task: Option<TaskHandle<()>>,
    pd_task: TaskHandle<()>,
    shutdown_tx: watch::Sender<bool>,
}

impl KvServer {
    /// Starts a store serving on `listener`, with the RocksDB engine under
    /// `cfg.data_dir`.
    pub async fn start(
        cfg: KvConfig,
        listener: TcpListener,
        extensions: Vec<Extension>,
    ) -> Result<KvServer> {
        std::fs::create_dir_all(&cfg.data_dir)
            .map_err(|e| Error::Engine(format!("create {}: {e}", cfg.data_dir.display())))?;
        let engine: EngineRef = Arc::new(RocksEngine::open(&cfg.data_dir.join("db"))?);
        Self::start_with(cfg, listener, engine, None, extensions).await
    }

    /// Starts a store on a given engine, optionally filtering its outgoing
    /// raft messages (tests).
    pub async fn start_with(
        cfg: KvConfig,
        listener: TcpListener,
        engine: EngineRef,
        filter: Option<Arc<dyn MessageFilter>>,
        extensions: Vec<Extension>,
    ) -> Result<KvServer> {
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Transport(e.to_string()))?;
        let pd = PdClient::connect(&cfg.pd_addr).await?;
        let store_id = ensure_store_id(&engine, &pd).await?;
        let store_meta = metapb::Store {
            id: store_id,
            address: cfg.advertise_addr.clone(),
            labels: cfg
                .labels
                .iter()
                .map(|(k, v)| metapb::StoreLabel {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            state: metapb::StoreState::Up as i32,
        };
        pd.put_store(store_meta.clone()).await?;
        // A columnar store only ever hosts learners: it never bootstraps
        // the cluster's first region (a voter).
        if !pd::core::is_columnar(&store_meta) {
            bootstrap_cluster(&engine, &pd, &store_meta).await?;
        }

        let (router, rx) = StoreRouter::new();
        let runtime = tokio::runtime::Handle::current();
        let snapshots = crate::raftstore::snap::SnapshotSources::default();
        let transport = RaftClient::new(
            store_id,
            pd.clone(),
            router.clone(),
            filter,
            runtime,
            cfg.raftstore.snap_chunk_size,
            snapshots.clone(),
        );
        let (pd_tx, pd_rx) = tokio::sync::mpsc::unbounded_channel();
        let pd_task = tokio::spawn(run_pd_worker(pd.clone(), pd_rx, router.clone()));
        let read_flow = Arc::new(crate::raftstore::ReadFlow::default());
        let (split_tx, split_rx) = crossbeam::channel::unbounded();
        let split_router = router.clone();
        let split_thread = std::thread::Builder::new()
            .name(format!("split-check-{store_id}"))
            .spawn(move || run_split_checker(split_rx, split_router))
            .map_err(|e| Error::Other(e.to_string()))?;
        let (snap_tx, snap_rx) = crossbeam::channel::unbounded();
        let snap_router = router.clone();
        let snap_sources = snapshots.clone();
        let snap_thread = std::thread::Builder::new()
            .name(format!("snap-gen-{store_id}"))
            .spawn(move || run_snap_generator(snap_rx, snap_router, snap_sources))
            .map_err(|e| Error::Other(e.to_string()))?;
        let io = StoreIo {
            rx,
            transport: Arc::new(transport),
            pd_tasks: pd_tx,
            split_checker: split_tx,
            read_flow: read_flow.clone(),
            observer: cfg.apply_observer.clone(),
            snap_gen: snap_tx,
            snapshots,
        };
        let store = Store::new(store_id, cfg.raftstore.clone(), engine.clone(), io)?;
        let store_thread = std::thread::Builder::new()
            .name(format!("raftstore-{store_id}"))
            .spawn(move || store.run())
            .map_err(|e| Error::Other(e.to_string()))?;

        let (grpc_stop, stop_rx) = oneshot::channel::<()>();
        let raft_service = RaftTransportServer::new(RaftService::new(router.clone()))
            .max_decoding_message_size(usize::MAX);
        let kv_service = KvGrpcServer::new(KvService::new(
            router.clone(),
            cfg.raftstore.request_timeout,
            read_flow.clone(),
        ))
        .max_decoding_message_size(64 * 1024 * 1024);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let ctx = StoreContext {
            store_id,
            router: router.clone(),
            engine: engine.clone(),
            pd: pd.clone(),
            request_timeout: cfg.raftstore.request_timeout,
            read_flow,
            shutdown: shutdown_rx,
        };
        let mut routes = tonic::service::Routes::new(raft_service).add_service(kv_service);
        for extension in extensions {
            routes = extension(&ctx, routes);
        }
        let incoming = pd::core::nodelay_incoming(listener);
        let grpc_task = tokio::spawn(async move {
            let result = tonic::transport::Server::builder()
                .tcp_nodelay(true)
                .add_routes(routes)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stop_rx.await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!("kv gRPC server failed: {e}");
            }
        });
        tracing::info!(store_id, %addr, "kv store started");
        Ok(KvServer {
            store_id,
            addr,
            router,
            engine,
            store_thread: Some(store_thread),
            split_thread: Some(split_thread),
            snap_thread: Some(snap_thread),
            grpc_stop: Some(grpc_stop),
            grpc_task: Some(grpc_task),
            pd_task,
            shutdown_tx,
        })
    }

    pub fn store_id(&self) -> u64 {
        self.store_id
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn router(&self) -> &StoreRouter {
        &self.router
    }

    pub fn engine(&self) -> &EngineRef {
        &self.engine
    }

    /// Stops serving and joins every thread and task of the store.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(stop) = self.grpc_stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.grpc_task.take() {
            // Streams from other stores stay open indefinitely; after a grace
            // period the server is cut off so its port is free again.
            let grace = std::time::Duration::from_secs(1);
            if tokio::time::timeout(grace, &mut task).await.is_err() {
                task.abort();
                let _ = task.await;
            }
        }
        let _ = self.router.send(StoreMsg::Shutdown);
        if let Some(t) = self.store_thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        self.pd_task.abort();
        // The split checker and the snapshot generator end once the store
        // loop dropped their senders.
        for t in [self.split_thread.take(), self.snap_thread.take()]
            .into_iter()
            .flatten()
        {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        tracing::info!(store_id = self.store_id, "kv store stopped");
    }
}
