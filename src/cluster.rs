//! Starting components for the `duet` binary: PD, kv stores, columnar
//! stores, and the playground that runs them together.

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
    let pd_addr = cfg.pd_addr.clone();
    start_waiting_for_pd(addr, &pd_addr, "kv store", |listener| {
        let cfg = cfg.clone();
        async move {
            let gc = txn::gc_worker::GcConfig::default();
            KvServer::start(cfg, listener, vec![txn::service::extension(gc)])
                .await
                .map_err(pd_wait)
        }
    })
    .await
}

/// Starts a columnar store (a kv store labelled `engine=columnar` whose
/// learners keep the columnar view).
pub async fn start_columnar(cfg: KvConfig, addr: &str) -> Result<columnar::server::ColumnarServer> {
    let pd_addr = cfg.pd_addr.clone();
    start_waiting_for_pd(addr, &pd_addr, "columnar store", |listener| {
        let cfg = cfg.clone();
        async move {
            columnar::server::ColumnarServer::start(cfg, listener)
                .await
                .map_err(|e| match e {
                    columnar::Error::Kv(k) => pd_wait(k),
                    other => Start::Failed(other.into()),
                })
        }
    })
    .await
}

/// Why a store did not start: PD is not there yet (wait), or anything else.
enum Start {
    WaitForPd(String),
    Failed(anyhow::Error),
}

fn pd_wait(e: kv::Error) -> Start {
    match e {
        kv::Error::Pd(p) if p.is_retryable() => Start::WaitForPd(p.to_string()),
        other => Start::Failed(other.into()),
    }
}

/// Binds `addr` and starts a store on it; PD may still be starting (as in
/// the playground, or under a service manager), so retryable PD errors are
/// waited out for a little while.
async fn start_waiting_for_pd<T, F, Fut>(
    addr: &str,
    pd_addr: &str,
    what: &str,
    start: F,
) -> Result<T>
where
    F: Fn(tokio::net::TcpListener) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, Start>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("bind {what} on {addr}"))?;
        match start(listener).await {
            Ok(s) => return Ok(s),
            Err(Start::WaitForPd(e)) if Instant::now() < deadline => {
                tracing::info!("waiting for PD at {pd_addr}: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(Start::WaitForPd(e)) => bail!("start {what}: PD at {pd_addr} unreachable: {e}"),
            Err(Start::Failed(e)) => {
                return Err(e).with_context(|| format!("start {what} (PD at {pd_addr})"));
            }
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
    columnar: Vec<columnar::server::ColumnarServer>,
    sql: Option<sql::SqlServer>,
    pd_addr: String,
    kv_stores: usize,
    expected_stores: usize,
}

impl Playground {
    pub async fn start(
        data_dir: &Path,
        pd_port: u16,
        kv_base_port: u16,
        kv_stores: u16,
        columnar_port: u16,
        columnar_stores: u16,
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
                apply_observer: None,
            };
            stores.push(start_kv(cfg, &addr).await?);
        }
        let mut columnar = Vec::new();
        for i in 0..columnar_stores {
            let port = columnar_port
                .checked_add(i)
                .with_context(|| format!("columnar port {columnar_port} + {i} overflows"))?;
            let addr = format!("127.0.0.1:{port}");
            let cfg = KvConfig {
                advertise_addr: addr.clone(),
                data_dir: data_dir.join(format!("columnar{}", i + 1)),
                pd_addr: pd_addr.clone(),
                labels: vec![],
                raftstore: Default::default(),
                apply_observer: None,
            };
            columnar.push(start_columnar(cfg, &addr).await?);
        }
        Ok(Playground {
            pd,
            stores,
            columnar,
            sql: None,
            pd_addr,
            kv_stores: kv_stores as usize,
            expected_stores: (kv_stores + columnar_stores) as usize,
        })
    }

    /// Waits until every store is Up and the first region has its voters
    /// (three, or one per store if fewer) and a leader.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let client = pd::client::PdClient::connect(&self.pd_addr).await?;
        let want_voters = self.kv_stores.min(3);
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
        for s in self.columnar {
            s.shutdown().await;
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
