//! # What every session of one SQL server shares
//!
//! One [`Shared`] per SQL server, behind an `Arc` in every session: the
//! transaction client and PD client, the catalog (the schema snapshot every
//! statement reads), global variables, the process list, auto-id caches,
//! statement metrics and table statistics. The server creates it
//! ([`crate::server`]); everything below the server reads it through the
//! session.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use txn::client::{TxnClient, TxnConfig};

use crate::catalog::Catalog;
use crate::error::Result;
use crate::session::autoid::AutoIds;
use crate::session::processlist::ProcessList;
use crate::session::vars::GlobalVars;

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
    pub metrics: crate::session::observe::Metrics,
    /// Table statistics for the engine choice.
    pub stats: Arc<crate::catalog::stats::StatsCache>,
    /// This server as a DDL owner candidate (`crate::ddl::owner`).
    pub ddl: crate::catalog::jobs::DdlSignals,
    next_conn_id: AtomicU32,
}

/// Whether a start-up failure means the cluster is not up yet (PD not
/// reachable, not bootstrapped), not that something is wrong.
fn cluster_not_ready(e: &crate::Error) -> bool {
    let pd_not_ready = |e: &pd::Error| {
        matches!(
            e,
            pd::Error::NotBootstrapped
                | pd::Error::Unreachable { .. }
                | pd::Error::Transport { .. }
        )
    };
    match e {
        crate::Error::Pd(p) => pd_not_ready(p),
        crate::Error::Txn(txn::Error::Kv(kv::Error::Pd(p))) => pd_not_ready(p),
        _ => false,
    }
}

impl Shared {
    async fn connect(
        config: &SqlConfig,
    ) -> Result<(pd::client::PdClient, TxnClient, Arc<Catalog>)> {
        let pd = pd::client::PdClient::connect(&config.pd_addr).await?;
        let client = TxnClient::new(pd.clone(), config.txn.clone());
        let catalog = Catalog::open(client.clone(), config.schema_lease).await?;
        Ok((pd, client, catalog))
    }

    /// Connects to the cluster and opens the catalog, waiting (as long as
    /// it takes, saying so in the log) while PD is unreachable or the kv
    /// stores have not bootstrapped the cluster yet: a SQL server started
    /// beside them by a service manager comes up once they are.
    /// `addr`: where clients reach this server (shown as the DDL owner's
    /// address).
    pub async fn new(config: SqlConfig, addr: String) -> Result<Arc<Shared>> {
        let mut waited = 0u32;
        let (pd, client, catalog) = loop {
            match Self::connect(&config).await {
                Ok(parts) => break parts,
                Err(e) if cluster_not_ready(&e) => {
                    if waited.is_multiple_of(20) {
                        tracing::warn!(pd = %config.pd_addr, "waiting for the cluster: {e}");
                    }
                    waited += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e),
            }
        };
        let raw = kv::client::RawClient::new(pd.clone());
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
            ddl: crate::catalog::jobs::DdlSignals::new(addr),
            next_conn_id: AtomicU32::new(1),
        }))
    }

    pub fn next_conn_id(&self) -> u32 {
        self.next_conn_id.fetch_add(1, Ordering::Relaxed)
    }
}
