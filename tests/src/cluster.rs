//! An in-process duet cluster for tests.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kv::client::RawClient;
use kv::engine::{CF_DEFAULT, EngineRef, RocksEngine};
use kv::raftstore::{Config, PeerStatus};
use kv::server::{KvConfig, KvServer};
use pd::client::PdClient;
use pd::server::{PdConfig, PdHandle};
use proto::metapb;
use tokio::net::TcpListener;

use crate::network::Network;

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut cond: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if cond().await {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub struct StoreSlot {
    pub id: u64,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub labels: Vec<(String, String)>,
    pub server: Option<KvServer>,
    /// A columnar store's view (stores labelled `engine=columnar` run as
    /// columnar stores).
    pub view: Option<Arc<columnar::view::ColumnarView>>,
}

pub struct Cluster {
    pub pd_cfg: PdConfig,
    pub pd_addr: SocketAddr,
    pub pd: Option<PdHandle>,
    pub stores: Vec<StoreSlot>,
    pub network: Arc<Network>,
    pub raft_cfg: Config,
    /// The GC worker of every store (tests shorten its interval).
    pub gc_cfg: txn::gc_worker::GcConfig,
    /// Answers the stores' txn services lose on purpose.
    pub faults: Arc<txn::faults::Faults>,
    _dir: tempfile::TempDir,
}

/// PD for tests: fast scheduling, stores Disconnected after 1 s; leaders
/// stay where elections put them unless a test turns balance-leader on.
pub fn test_pd_config(dir: PathBuf) -> PdConfig {
    PdConfig {
        data_dir: dir,
        schedule_interval: Duration::from_millis(50),
        store_disconnected_after: Duration::from_secs(1),
        enable_balance_leader: false,
        ..PdConfig::default()
    }
}

impl Cluster {
    /// PD plus `n` stores, with the first region fully replicated.
    pub async fn start(n: usize) -> Result<Cluster> {
        Self::start_with(n, |_| {}, |_| {}).await
    }

    pub async fn start_with(
        n: usize,
        pd_tweak: impl FnOnce(&mut PdConfig),
        raft_tweak: impl FnOnce(&mut Config),
    ) -> Result<Cluster> {
        let dir = tempfile::tempdir()?;
        let mut pd_cfg = test_pd_config(dir.path().join("pd"));
        pd_tweak(&mut pd_cfg);
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let pd_addr = listener.local_addr()?;
        let pd = pd::server::start(pd_cfg.clone(), listener).await?;
        let mut raft_cfg = Config::for_tests();
        raft_tweak(&mut raft_cfg);
        let mut cluster = Cluster {
            pd_cfg,
            pd_addr,
            pd: Some(pd),
            stores: Vec::new(),
            network: Arc::new(Network::default()),
            raft_cfg,
            gc_cfg: txn::gc_worker::GcConfig {
                interval: std::time::Duration::from_millis(200),
                ..Default::default()
            },
            faults: Arc::default(),
            _dir: dir,
        };
        // All stores start at once, so every cluster also exercises the
        // bootstrap race: exactly one store may create the first region.
        let mut pending = Vec::new();
        for idx in 0..n {
            let dir = cluster._dir.path().join(format!("kv{idx}"));
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            pending.push((dir, listener.local_addr()?, listener));
        }
        let c = &cluster;
        let started = futures::future::try_join_all(pending.into_iter().map(
            |(dir, addr, listener)| async move {
                let (server, view) = c.start_server(&dir, addr, listener, vec![]).await?;
                anyhow::Ok(StoreSlot {
                    id: server.store_id(),
                    addr,
                    dir,
                    labels: vec![],
                    server: Some(server),
                    view,
                })
            },
        ))
        .await?;
        cluster.stores.extend(started);
        let pd = cluster.pd_client().await?;
        let regions = pd.scan_regions(&[], &[], 0).await?;
        anyhow::ensure!(
            regions.len() == 1,
            "bootstrap created {} regions",
            regions.len()
        );
        cluster.wait_first_region_replicated(n.min(3)).await?;
        Ok(cluster)
    }

    /// Starts one more store; returns its index.
    pub async fn add_store(&mut self) -> Result<usize> {
        self.add_store_with_labels(vec![]).await
    }

    /// Starts one more store with these labels (`engine=columnar` makes it
    /// a columnar store); returns its index.
    pub async fn add_store_with_labels(&mut self, labels: Vec<(String, String)>) -> Result<usize> {
        let idx = self.stores.len();
        let dir = self._dir.path().join(format!("kv{idx}"));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (server, view) = self
            .start_server(&dir, addr, listener, labels.clone())
            .await?;
        self.stores.push(StoreSlot {
            id: server.store_id(),
            addr,
            dir,
            labels,
            server: Some(server),
            view,
        });
        Ok(idx)
    }

    async fn start_server(
        &self,
        dir: &std::path::Path,
        addr: SocketAddr,
        listener: TcpListener,
        labels: Vec<(String, String)>,
    ) -> Result<(KvServer, Option<Arc<columnar::view::ColumnarView>>)> {
        std::fs::create_dir_all(dir)?;
        let is_columnar = labels
            .iter()
            .any(|(k, v)| (k.as_str(), v.as_str()) == columnar::server::ENGINE_LABEL);
        let cfg = KvConfig {
            advertise_addr: addr.to_string(),
            data_dir: dir.to_path_buf(),
            pd_addr: self.pd_addr.to_string(),
            labels,
            raftstore: self.raft_cfg.clone(),
            apply_observer: None,
        };
        let engine: EngineRef = Arc::new(RocksEngine::open(&dir.join("db"))?);
        let filter: Arc<dyn kv::transport::MessageFilter> = self.network.clone();
        if is_columnar {
            let server =
                columnar::server::ColumnarServer::start_with(cfg, listener, engine, Some(filter))
                    .await?;
            let view = server.view().clone();
            return Ok((server.into_kv(), Some(view)));
        }
        let server = KvServer::start_with(
            cfg,
            listener,
            engine,
            Some(filter),
            vec![txn::service::extension_with_faults(
                self.gc_cfg.clone(),
                Some(self.faults.clone()),
            )],
        )
        .await?;
        Ok((server, None))
    }

    /// Starts a columnar store; returns its index.
    pub async fn add_columnar_store(&mut self) -> Result<usize> {
        let (k, v) = columnar::server::ENGINE_LABEL;
        self.add_store_with_labels(vec![(k.into(), v.into())]).await
    }

    pub fn store_ids(&self) -> Vec<u64> {
        self.stores.iter().map(|s| s.id).collect()
    }

    fn slot(&self, store_id: u64) -> Result<usize> {
        self.stores
            .iter()
            .position(|s| s.id == store_id)
            .context("no such store")
    }

    pub async fn stop_store(&mut self, store_id: u64) -> Result<()> {
        let i = self.slot(store_id)?;
        // A columnar view holds the engine open: let it go first.
        self.stores[i].view = None;
        if let Some(s) = self.stores[i].server.take() {
            let engine = Arc::downgrade(s.engine());
            s.shutdown().await;
            // Requests still being answered (a scan's Flight stream, a
            // connection draining after GOAWAY) hold the engine a moment
            // longer; a restart must not find RocksDB's LOCK taken.
            wait_until(
                "the stopped store's engine is closed",
                Duration::from_secs(10),
                || {
                    let gone = engine.upgrade().is_none();
                    async move { gone }
                },
            )
            .await?;
        }
        Ok(())
    }

    /// Restarts a stopped store on its data dir and address.
    pub async fn restart_store(&mut self, store_id: u64) -> Result<()> {
        let i = self.slot(store_id)?;
        let (dir, addr) = (self.stores[i].dir.clone(), self.stores[i].addr);
        let labels = self.stores[i].labels.clone();
        let listener = bind_retry(addr).await?;
        let (server, view) = self.start_server(&dir, addr, listener, labels).await?;
        assert_eq!(
            server.store_id(),
            store_id,
            "a restarted store keeps its id"
        );
        self.stores[i].server = Some(server);
        self.stores[i].view = view;
        Ok(())
    }

    pub async fn stop_pd(&mut self) {
        if let Some(pd) = self.pd.take() {
            pd.shutdown().await;
        }
    }

    pub async fn restart_pd(&mut self) -> Result<()> {
        let listener = bind_retry(self.pd_addr).await?;
        self.pd = Some(pd::server::start(self.pd_cfg.clone(), listener).await?);
        Ok(())
    }

    pub async fn pd_client(&self) -> Result<PdClient> {
        Ok(PdClient::connect(&self.pd_addr.to_string()).await?)
    }

    pub async fn raw_client(&self) -> Result<RawClient> {
        Ok(RawClient::new(self.pd_client().await?))
    }

    pub fn engine(&self, store_id: u64) -> Option<EngineRef> {
        let i = self.slot(store_id).ok()?;
        self.stores[i].server.as_ref().map(|s| s.engine().clone())
    }

    /// The value of a raw key in one store's engine, bypassing Raft.
    pub fn engine_get(&self, store_id: u64, key: &[u8]) -> Option<Vec<u8>> {
        self.engine(store_id)?
            .get(CF_DEFAULT, &kv::keys::data_key(key))
            .ok()
            .flatten()
    }

    pub async fn peer_status(&self, store_id: u64) -> Vec<PeerStatus> {
        let Ok(i) = self.slot(store_id) else {
            return vec![];
        };
        match &self.stores[i].server {
            Some(s) => s.router().status().await.unwrap_or_default(),
            None => vec![],
        }
    }

    /// The store whose peer leads the region holding `key`, per the stores.
    pub async fn leader_store_of(&self, key: &[u8]) -> Option<(u64, PeerStatus)> {
        for s in &self.stores {
            for st in self.peer_status(s.id).await {
                let r = &st.region;
                let inside = key >= r.start_key.as_slice()
                    && (r.end_key.is_empty() || key < r.end_key.as_slice());
                if st.is_leader && inside && !r.peers.is_empty() {
                    return Some((s.id, st));
                }
            }
        }
        None
    }

    /// Moves the leadership of the region holding `key` to the peer on
    /// `to_store` (as PD's transfer-leader operator step would) and waits
    /// until that peer leads.
    pub async fn transfer_leader_of(&self, key: &[u8], to_store: u64) -> Result<PeerStatus> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (leader, st) = self.wait_leader_of(key, Duration::from_secs(10)).await?;
            if leader == to_store {
                return Ok(st);
            }
            if Instant::now() > deadline {
                bail!("leadership of {key:?} did not move to store {to_store}");
            }
            let step = proto::pdpb::RegionHeartbeatResponse {
                region_id: st.region.id,
                region_epoch: st.region.region_epoch,
                transfer_leader: Some(proto::pdpb::TransferLeader {
                    peer: Some(proto::metapb::Peer {
                        store_id: to_store,
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            };
            if let Some(s) = &self.stores[self.slot(leader)?].server {
                let _ = s
                    .router()
                    .send(kv::raftstore::StoreMsg::PdOperator(Box::new(step)));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_leader_of(&self, key: &[u8], timeout: Duration) -> Result<(u64, PeerStatus)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.leader_store_of(key).await {
                return Ok(l);
            }
            if Instant::now() > deadline {
                bail!("no leader for key {key:?} within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until PD shows the first region with `voters` voters, a leader
    /// and no pending peers.
    pub async fn wait_first_region_replicated(&self, voters: usize) -> Result<()> {
        let pd = self.pd_client().await?;
        wait_until("first region replicated", Duration::from_secs(30), || {
            let pd = pd.clone();
            async move {
                let Ok(r) = pd.get_region(&[]).await else {
                    return false;
                };
                let Some(region) = r.region else { return false };
                voter_count(&region) >= voters
                    && r.leader.is_some_and(|l| l.id != 0)
                    && r.pending_peers.is_empty()
            }
        })
        .await
    }

    pub async fn shutdown(mut self) {
        for s in &mut self.stores {
            if let Some(server) = s.server.take() {
                server.shutdown().await;
            }
        }
        self.stop_pd().await;
    }
}

pub fn voter_count(region: &metapb::Region) -> usize {
    region
        .peers
        .iter()
        .filter(|p| p.role == metapb::PeerRole::Voter as i32)
        .count()
}

/// Binds an address a stopped server just released.
async fn bind_retry(addr: SocketAddr) -> Result<TcpListener> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) if Instant::now() < deadline => {
                tracing::debug!("rebinding {addr}: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e).context(format!("bind {addr}")),
        }
    }
}

/// Logs to stderr once per test binary, filtered by RUST_LOG.
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}
