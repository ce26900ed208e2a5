//! A cluster with a SQL server in front: PD, three kv stores and
//! `sql::SqlServer` on a loopback port the OS picks, for tests that talk
//! MySQL over the wire (`mysql_async`, the `mariadb` CLI, sqllogictest).

use std::time::Duration;

use anyhow::Result;
use tokio::net::TcpListener;

use crate::cluster::Cluster;

pub struct SqlCluster {
    pub cluster: Cluster,
    pub server: sql::SqlServer,
    pub port: u16,
    pub status_port: u16,
}

impl SqlCluster {
    pub async fn start() -> Result<SqlCluster> {
        let cluster = Cluster::start(3).await?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let cfg = sql::SqlConfig {
            pd_addr: cluster.pd_addr.to_string(),
            schema_lease: Duration::from_millis(100),
            txn: crate::txn::test_txn_config(),
            ..Default::default()
        };
        let status = TcpListener::bind("127.0.0.1:0").await?;
        let status_port = status.local_addr()?.port();
        let server = sql::SqlServer::start(cfg, listener, Some(status))
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
        Ok(SqlCluster {
            cluster,
            server,
            port,
            status_port,
        })
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
