//! # The SQL server: listener, shared state, connections
//!
//! ```text
//!  TcpListener --accept--> crate::server::conn::serve (one tokio task per client)
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
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::session::shared::{Shared, SqlConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

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
        let shared = Shared::new(config, addr.to_string()).await?;
        // In the registry before the first client: a DDL waits for this
        // server from now on.
        crate::catalog::registry::report(
            &shared.client,
            &shared.ddl.id,
            &shared.ddl.addr,
            shared.catalog.schema().version,
            shared.config.schema_lease,
        )
        .await?;
        let (shutdown, rx) = watch::channel(false);
        let follow = tokio::spawn(shared.catalog.clone().follow(
            shared.config.schema_lease,
            shared.ddl.id.clone(),
            shared.ddl.addr.clone(),
            rx.clone(),
        ));
        let owner = tokio::spawn(crate::ddl::owner::run(shared.clone(), rx.clone()));
        let mut tasks = vec![follow, owner];
        if let Some(status) = status {
            tasks.push(tokio::spawn(crate::server::status::serve(
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
                    conns.spawn(crate::server::conn::serve(shared.clone(), stream, peer, shutdown.clone()));
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
