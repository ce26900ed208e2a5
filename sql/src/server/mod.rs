//! # The SQL server: listener, shared state, connections
//!
//! ```text
//!  TcpListener --accept--> conn::serve (one tokio task per client)
//!                              | handshake + auth (protocol::handshake/auth)
//!                              | command loop: packets -> Session -> packets
//!                              v
//!                           Session (per connection) --> Shared (per server):
//!                              txn client, catalog, global variables,
//!                              process list, auto-id caches
//! ```
//!
//! A connection's failure (bad packets, a vanished client) ends that
//! connection only; its open transaction is rolled back so no locks stay
//! behind.

pub mod conn;
pub mod processlist;
pub mod status;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use txn::client::{TxnClient, TxnConfig};

use crate::catalog::Catalog;
use crate::error::Result;
use crate::session::autoid::AutoIds;
use crate::session::vars::GlobalVars;
use processlist::ProcessList;

#[derive(Debug, Clone)]
pub struct SqlConfig {
    pub pd_addr: String,
    /// How often the catalog's schema version is polled.
    pub schema_lease: Duration,
    /// Payloads above this are refused (`max_allowed_packet`).
    pub max_packet: usize,
    /// Auto-increment values reserved per table per allocation.
    pub auto_id_batch: i64,
    pub txn: TxnConfig,
}

impl Default for SqlConfig {
    fn default() -> SqlConfig {
        SqlConfig {
            pd_addr: "127.0.0.1:2379".into(),
            schema_lease: Duration::from_millis(500),
            max_packet: 64 << 20,
            auto_id_batch: 30_000,
            txn: TxnConfig::default(),
        }
    }
}

/// What every session of one SQL server shares.
pub struct Shared {
    pub config: SqlConfig,
    pub client: TxnClient,
    /// Columnar placement rules, store lists.
    pub pd: pd::client::PdClient,
    /// For region splits (a new table starts in its own region).
    pub raw: kv::client::RawClient,
    pub catalog: Arc<Catalog>,
    pub globals: GlobalVars,
    pub processes: ProcessList,
    pub auto_ids: AutoIds,
    pub metrics: crate::observe::Metrics,
    /// Table statistics for the engine choice.
    pub stats: Arc<crate::query::stats::StatsCache>,
    next_conn_id: AtomicU32,
}

impl Shared {
    pub async fn new(config: SqlConfig) -> Result<Arc<Shared>> {
        let pd = pd::client::PdClient::connect(&config.pd_addr).await?;
        let raw = kv::client::RawClient::new(pd.clone());
        let client = TxnClient::new(pd.clone(), config.txn.clone());
        let catalog = Catalog::open(client.clone()).await?;
        Ok(Arc::new(Shared {
            auto_ids: AutoIds::new(config.auto_id_batch),
            config,
            client,
            pd,
            raw,
            catalog,
            globals: GlobalVars::default(),
            processes: ProcessList::default(),
            metrics: Default::default(),
            stats: Default::default(),
            next_conn_id: AtomicU32::new(1),
        }))
    }

    pub fn next_conn_id(&self) -> u32 {
        self.next_conn_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// A running SQL server.
pub struct SqlServer {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl SqlServer {
    /// Starts serving MySQL clients on `listener` and, if given, the
    /// HTTP status port on `status`.
    pub async fn start(
        config: SqlConfig,
        listener: TcpListener,
        status: Option<TcpListener>,
    ) -> Result<SqlServer> {
        let addr = listener.local_addr().map_err(crate::Error::internal)?;
        let shared = Shared::new(config).await?;
        let (shutdown, rx) = watch::channel(false);
        let follow = tokio::spawn(
            shared
                .catalog
                .clone()
                .follow(shared.config.schema_lease, rx.clone()),
        );
        let mut tasks = vec![follow];
        if let Some(status) = status {
            tasks.push(tokio::spawn(status::serve(
                status,
                shared.clone(),
                rx.clone(),
            )));
        }
        tasks.push(tokio::spawn(accept_loop(listener, shared.clone(), rx)));
        tracing::info!(%addr, "SQL server listening");
        Ok(SqlServer {
            addr,
            shared,
            shutdown,
            tasks,
        })
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops accepting, closes every connection (rolling back its
    /// transaction) and waits for the tasks.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(conn::serve(shared.clone(), stream, peer, shutdown.clone()));
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    while conns.join_next().await.is_some() {}
}
