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
