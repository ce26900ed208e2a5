//! A cluster with a SQL server in front: PD, three kv stores and
//! `sql::SqlServer` on a loopback port the OS picks, for tests that talk
//! MySQL over the wire (`mysql_async`, the `mariadb` CLI, sqllogictest).

use std::time::Duration;

use anyhow::Result;
use tokio::net::TcpListener;

use crate::cluster::Cluster;

/// A `mysql_async` connection to the cluster's SQL server, database `db`.
pub async fn connect(c: &SqlCluster, db: &str) -> mysql_async::Conn {
    mysql_async::Conn::from_url(c.url(db))
        .await
        .expect("connect")
}

/// The MySQL error code of a server's error answer (any other error is a
/// test failure).
pub fn code(e: &mysql_async::Error) -> u16 {
    match e {
        mysql_async::Error::Server(s) => s.code,
        other => panic!("not a server error: {other}"),
    }
}

pub struct SqlCluster {
    pub cluster: Cluster,
    pub server: sql::SqlServer,
    pub port: u16,
    pub status_port: u16,
}

impl SqlCluster {
    pub async fn start() -> Result<SqlCluster> {
        Self::start_on(Cluster::start(3).await?).await
    }

    /// A SQL server in front of `cluster` (one started with its own PD or
    /// raft settings).
    pub async fn start_on(cluster: Cluster) -> Result<SqlCluster> {
        Self::start_with_lease(cluster, Duration::from_millis(100)).await
    }

    /// [`Self::start_on`] with the server's schema lease: a DDL step waits
    /// at most two of them for the other servers ([`Self::another_server`])
    /// to load the previous version.
    pub async fn start_with_lease(cluster: Cluster, schema_lease: Duration) -> Result<SqlCluster> {
        let (server, port, status_port) =
            start_server(&cluster.pd_addr.to_string(), schema_lease).await?;
        Ok(SqlCluster {
            cluster,
            server,
            port,
            status_port,
        })
    }

    /// One more SQL server in front of the same cluster, with its own
    /// schema lease, and its port; the caller shuts it down.
    pub async fn another_server(&self, schema_lease: Duration) -> Result<(sql::SqlServer, u16)> {
        let (server, port, _) =
            start_server(&self.cluster.pd_addr.to_string(), schema_lease).await?;
        Ok((server, port))
    }

    /// A metric's value from the status port's `/metrics` (the line that
    /// starts with `series`, e.g. `name{label="v"}`); None if absent.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        use std::io::{Read, Write};
        let port = self.status_port;
        let body = tokio::task::spawn_blocking(move || {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .ok()?;
            let mut out = String::new();
            s.read_to_string(&mut out).ok()?;
            Some(out)
        })
        .await
        .ok()??;
        body.lines().find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
    }

    /// Asserts that columnar reads went to the columnar replicas: at least
    /// `min` region parts answered by them, none read from the row store
    /// instead.
    pub async fn assert_columnar_reads(&self, min: f64) {
        let by = |who: &str| format!("duet_sql_columnar_regions_total{{answered_by=\"{who}\"}}");
        let answered = self.metric(&by("columnar")).await.unwrap_or(0.0);
        let fell_back = self.metric(&by("row")).await;
        assert!(
            answered >= min,
            "only {answered} columnar region reads, expected {min}"
        );
        assert_eq!(
            fell_back,
            Some(0.0),
            "columnar reads fell back to the row store"
        );
    }

    /// A `mysql_async` URL for database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{db}", self.port)
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
        self.cluster.shutdown().await;
    }
}

/// A SQL server for the cluster at `pd_addr`: the server, its MySQL port
/// and its status port.
async fn start_server(pd_addr: &str, schema_lease: Duration) -> Result<(sql::SqlServer, u16, u16)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let cfg = sql::SqlConfig {
        pd_addr: pd_addr.to_string(),
        schema_lease,
        txn: crate::txn::test_txn_config(),
        ..Default::default()
    };
    let status = TcpListener::bind("127.0.0.1:0").await?;
    let status_port = status.local_addr()?.port();
    let server = sql::SqlServer::start(cfg, listener, Some(status))
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    Ok((server, port, status_port))
}
