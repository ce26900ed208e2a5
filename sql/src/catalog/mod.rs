//! # Catalog: what databases, tables and users exist, at which version
//!
//! The truth is in the transactional KV ([`meta`]); every SQL server keeps
//! an immutable snapshot of it, an [`InfoSchema`] at a schema version, and
//! swaps in a new one when the version moves:
//!
//! ```text
//!   DDL txn: change m* keys + bump mSchemaVersion --commit-->  KV
//!                                                          |
//!   this server: reload right after its own DDL            |
//!   every server: poll mSchemaVersion (schema_lease) <------+
//! ```
//!
//! Statements take the current `Arc<InfoSchema>` once and plan against it.
//! Names are matched case-insensitively (TiDB's `lower_case_table_names=2`:
//! stored as written, compared in lower case).
//!
//! A cluster's first SQL server bootstraps the catalog: databases `test`
//! and `mysql`, and user `root`@`%` with an empty password.

pub mod meta;
pub mod model;
pub mod names;
pub mod placement;
pub mod stats;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use txn::client::TxnClient;

use crate::error::{Error, Result};
use crate::protocol::auth::PasswordHashes;
use model::{DbInfo, TableInfo, UserInfo};

/// One database and its tables, by lower-case name.
#[derive(Debug, Clone)]
pub struct DbSchema {
    pub info: DbInfo,
    pub tables: BTreeMap<String, Arc<TableInfo>>,
}

/// An immutable snapshot of the catalog.
#[derive(Debug, Clone, Default)]
pub struct InfoSchema {
    pub version: i64,
    pub dbs: BTreeMap<String, Arc<DbSchema>>,
    pub users: Vec<UserInfo>,
}

impl InfoSchema {
    pub fn db(&self, name: &str) -> Option<&Arc<DbSchema>> {
        self.dbs.get(&name.to_lowercase())
    }

    pub fn table(&self, db: &str, table: &str) -> Option<&Arc<TableInfo>> {
        self.db(db)?.tables.get(&table.to_lowercase())
    }

    /// The table or the MySQL error for a missing database or table.
    pub fn require_table(&self, db: &str, table: &str) -> Result<&Arc<TableInfo>> {
        self.table(db, table)
            .ok_or_else(|| Error::no_such_table(db, table))
    }

    pub fn table_by_id(&self, id: i64) -> Option<(&Arc<DbSchema>, &Arc<TableInfo>)> {
        self.dbs
            .values()
            .find_map(|d| d.tables.values().find(|t| t.id == id).map(|t| (d, t)))
    }

    /// The user entry matching `user` from `host` (exact host first, then
    /// `%`).
    pub fn user(&self, user: &str, host: &str) -> Option<&UserInfo> {
        self.users
            .iter()
            .find(|u| u.user == user && u.host == host)
            .or_else(|| self.users.iter().find(|u| u.user == user && u.host == "%"))
    }
}

pub struct Catalog {
    client: TxnClient,
    current: RwLock<Arc<InfoSchema>>,
}

impl Catalog {
    /// Bootstraps the catalog if this is a fresh cluster, then loads it.
    pub async fn open(client: TxnClient) -> Result<Arc<Catalog>> {
        bootstrap(&client).await?;
        let catalog = Arc::new(Catalog {
            client,
            current: RwLock::new(Arc::default()),
        });
        catalog.reload().await?;
        Ok(catalog)
    }

    pub fn schema(&self) -> Arc<InfoSchema> {
        self.current.read().clone()
    }

    /// Reads the whole catalog at a fresh snapshot and installs it.
    pub async fn reload(&self) -> Result<Arc<InfoSchema>> {
        let txn = self.client.begin().await?;
        let version = meta::schema_version(&txn).await?;
        if version == self.current.read().version && version != 0 {
            return Ok(self.schema());
        }
        let mut dbs = BTreeMap::new();
        let tables = meta::list_tables(&txn, None).await?;
        for db in meta::list_dbs(&txn).await? {
            let mut db_tables = BTreeMap::new();
            for t in tables.iter().filter(|t| t.db_id == db.id) {
                db_tables.insert(t.name.to_lowercase(), Arc::new(t.clone()));
            }
            dbs.insert(
                db.name.to_lowercase(),
                Arc::new(DbSchema {
                    info: db,
                    tables: db_tables,
                }),
            );
        }
        let users = meta::list_users(&txn).await?;
        let schema = Arc::new(InfoSchema {
            version,
            dbs,
            users,
        });
        let mut cur = self.current.write();
        if schema.version >= cur.version {
            *cur = schema;
        }
        Ok(cur.clone())
    }

    /// Polls the schema version until `shutdown` fires.
    pub async fn follow(
        self: Arc<Self>,
        lease: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(lease) => {}
                _ = shutdown.changed() => return,
            }
            if let Err(e) = self.reload().await {
                tracing::warn!("reloading the catalog failed: {e}");
            }
        }
    }
}

async fn bootstrap(client: &TxnClient) -> Result<()> {
    for attempt in 0.. {
        let mut txn = client.begin_pessimistic().await?;
        if meta::is_bootstrapped(&txn).await? {
            txn.rollback().await?;
            return Ok(());
        }
        let result: Result<()> = async {
            meta::bump_schema_version(&mut txn).await?;
            let first = meta::alloc_ids(&mut txn, 2).await?;
            for (i, name) in ["test", "mysql"].iter().enumerate() {
                let db = DbInfo {
                    id: first + i as i64,
                    name: name.to_string(),
                    charset: "utf8mb4".into(),
                    collation: "utf8mb4_bin".into(),
                };
                meta::put_db(&mut txn, &db).await?;
            }
            let root = UserInfo {
                user: "root".into(),
                host: "%".into(),
                password: PasswordHashes::default(),
                plugin: crate::protocol::auth::NATIVE_PASSWORD.into(),
            };
            meta::put_user(&mut txn, &root).await?;
            meta::set_bootstrapped(&mut txn).await?;
            txn.commit().await?;
            Ok(())
        }
        .await;
        match result {
            Ok(()) => return Ok(()),
            // Another SQL server bootstrapping at the same time: look again.
            Err(e) if e.is_retryable() && attempt < 10 => {
                let _ = txn.rollback().await;
            }
            Err(e) => {
                let _ = txn.rollback().await;
                return Err(e);
            }
        }
    }
    unreachable!("the loop returns")
}
