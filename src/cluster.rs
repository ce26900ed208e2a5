//! Starting components for the `duet` binary: PD, kv stores, and the
//! playground that runs them together.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kv::server::{KvConfig, KvServer};
use pd::server::{PdConfig, PdHandle};

pub async fn start_pd(cfg: PdConfig, addr: &str) -> Result<PdHandle> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("bind PD on {addr}"))?;
    let data_dir = cfg.data_dir.display().to_string();
    pd::server::start(cfg, listener)
        .await
        .with_context(|| format!("start PD with data dir {data_dir}"))
}

pub async fn start_kv(cfg: KvConfig, addr: &str) -> Result<KvServer> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("bind kv store on {addr}"))?;
    let pd_addr = cfg.pd_addr.clone();
    // PD may still be starting (as in the playground, or under a service
    // manager): wait for it a little.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut listener = Some(listener);
    loop {
        match KvServer::start(
            cfg.clone(),
            listener.take().expect("listener"),
            vec![txn::service::extension(txn::gc_worker::GcConfig::default())],
        )
        .await
        {
            Ok(s) => return Ok(s),
            Err(kv::Error::Pd(e)) if e.is_retryable() && Instant::now() < deadline => {
                tracing::info!("waiting for PD at {pd_addr}: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                listener = Some(
                    tokio::net::TcpListener::bind(addr)
                        .await
                        .context("re-bind kv store")?,
                );
            }
            Err(e) => return Err(e).with_context(|| format!("start kv store (PD at {pd_addr})")),
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("signal received, shutting down");
}

/// Starts the SQL server, and its HTTP status port if given; PD and the
/// kv stores must be reachable (the first server bootstraps the catalog).
pub async fn start_sql(
    pd_addr: &str,
    addr: &str,
    status_addr: Option<&str>,
) -> Result<sql::SqlServer> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("bind the SQL server on {addr}"))?;
    let status = match status_addr {
        Some(a) => Some(
            tokio::net::TcpListener::bind(a)
                .await
                .with_context(|| format!("bind the SQL status port on {a}"))?,
        ),
        None => None,
    };
    let cfg = sql::SqlConfig {
        pd_addr: pd_addr.to_string(),
        ..Default::default()
    };
    sql::SqlServer::start(cfg, listener, status)
        .await
        .map_err(|e| anyhow::anyhow!("start the SQL server (PD at {pd_addr}): {}", e.message()))
}

pub struct Playground {
    pd: PdHandle,
    stores: Vec<KvServer>,
    sql: Option<sql::SqlServer>,
    pd_addr: String,
    expected_stores: usize,
}

impl Playground {
    pub async fn start(
        data_dir: &Path,
        pd_port: u16,
        kv_base_port: u16,
        kv_stores: u16,
    ) -> Result<Playground> {
        let pd_addr = format!("127.0.0.1:{pd_port}");
        let pd_cfg = PdConfig {
            data_dir: data_dir.join("pd"),
            ..Default::default()
        };
        let pd = start_pd(pd_cfg, &pd_addr).await?;
        let mut stores = Vec::new();
        for i in 0..kv_stores {
            let port = kv_base_port
                .checked_add(i)
                .with_context(|| format!("kv port {kv_base_port} + {i} overflows"))?;
            let addr = format!("127.0.0.1:{port}");
            let cfg = KvConfig {
                advertise_addr: addr.clone(),
                data_dir: data_dir.join(format!("kv{}", i + 1)),
                pd_addr: pd_addr.clone(),
                labels: vec![],
                raftstore: Default::default(),
            };
            stores.push(start_kv(cfg, &addr).await?);
        }
        Ok(Playground {
            pd,
            stores,
            sql: None,
            pd_addr,
            expected_stores: kv_stores as usize,
        })
    }

    /// Waits until every store is Up and the first region has its voters
    /// (three, or one per store if fewer) and a leader.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let client = pd::client::PdClient::connect(&self.pd_addr).await?;
        let want_voters = self.expected_stores.min(3);
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(true) = cluster_ready(&client, self.expected_stores, want_voters).await {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the cluster did not become ready within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts the SQL server on `port` and its status port (after
    /// [`Playground::wait_ready`]).
    pub async fn start_sql(&mut self, port: u16, status_port: Option<u16>) -> Result<()> {
        let status = status_port.map(|p| format!("127.0.0.1:{p}"));
        self.sql = Some(
            start_sql(
                &self.pd_addr,
                &format!("127.0.0.1:{port}"),
                status.as_deref(),
            )
            .await?,
        );
        Ok(())
    }

    pub async fn shutdown(self) {
        if let Some(sql) = self.sql {
            sql.shutdown().await;
        }
        for s in self.stores {
            s.shutdown().await;
        }
        self.pd.shutdown().await;
    }
}

async fn cluster_ready(
    client: &pd::client::PdClient,
    stores: usize,
    voters: usize,
) -> Result<bool> {
    let all = client.get_all_stores(true).await?;
    let up = all
        .iter()
        .filter(|s| {
            s.store
                .as_ref()
                .is_some_and(|s| s.state == proto::metapb::StoreState::Up as i32)
        })
        .count();
    if up < stores {
        return Ok(false);
    }
    let first = client.get_region(&[]).await?;
    let Some(region) = first.region else {
        return Ok(false);
    };
    let n = region
        .peers
        .iter()
        .filter(|p| p.role == proto::metapb::PeerRole::Voter as i32)
        .count();
    Ok(n >= voters && first.leader.is_some_and(|l| l.id != 0) && first.pending_peers.is_empty())
}
