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
//!   every server: poll mSchemaVersion (every half lease) <--+
//! ```
//!
//! Statements take the current `Arc<InfoSchema>` once and plan against it;
//! a transaction's commit is checked against what changed since
//! ([`validator`]), and a server whose schema is over a lease old reloads
//! before it plans (8027 when it cannot).
//! Names are matched case-insensitively (TiDB's `lower_case_table_names=2`:
//! stored as written, compared in lower case).
//!
//! A cluster's first SQL server bootstraps the catalog: databases `test`
//! and `mysql`, and user `root`@`%` with an empty password.

pub mod jobs;
pub mod meta;
pub mod model;
pub mod names;
pub mod placement;
pub mod registry;
pub mod stats;
pub mod validator;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use txn::client::TxnClient;

use crate::error::{Error, Result, code};
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

    /// Tables whose definition differs from `old`'s, or that exist in
    /// only one of the two (created, dropped, truncated: a new id).
    pub fn changed_since(&self, old: &InfoSchema) -> BTreeSet<model::TableId> {
        let by_id = |s: &InfoSchema| {
            s.dbs
                .values()
                .flat_map(|d| d.tables.values())
                .map(|t| (t.id, t.clone()))
                .collect::<BTreeMap<_, _>>()
        };
        let (a, b) = (by_id(old), by_id(self));
        let mut changed: BTreeSet<model::TableId> = a
            .iter()
            .filter(|(id, t)| b.get(id) != Some(t))
            .map(|(id, _)| *id)
            .collect();
        changed.extend(b.keys().filter(|id| !a.contains_key(id)));
        changed
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
    validator: validator::Validator,
    /// [`Catalog::hold_at`]: no version above this is loaded.
    held_at: AtomicI64,
}

impl Catalog {
    /// Bootstraps the catalog if this is a fresh cluster, then loads it;
    /// `lease`: the schema lease.
    pub async fn open(client: TxnClient, lease: Duration) -> Result<Arc<Catalog>> {
        bootstrap(&client).await?;
        let catalog = Arc::new(Catalog {
            client,
            current: RwLock::new(Arc::default()),
            validator: validator::Validator::new(lease),
            held_at: AtomicI64::new(i64::MAX),
        });
        catalog.reload().await?;
        Ok(catalog)
    }

    pub fn schema(&self) -> Arc<InfoSchema> {
        self.current.read().clone()
    }

    /// A test hook: from now on this server loads no schema version above
    /// `version` and keeps serving the one it has (None: it loads again),
    /// as a server one version behind does until its lease runs out —
    /// here for as long as a test needs. Each reload confirms the held
    /// version as if it were current, so the server also commits on it.
    #[doc(hidden)]
    pub fn hold_at(&self, version: Option<i64>) {
        self.held_at
            .store(version.unwrap_or(i64::MAX), Ordering::SeqCst);
    }

    /// Reads the whole catalog at a fresh snapshot and installs it.
    pub async fn reload(&self) -> Result<Arc<InfoSchema>> {
        let txn = self.client.begin().await?;
        let at = txn.start_ts();
        let version = meta::schema_version(&txn).await?;
        let loaded = self.schema();
        let held_at = self.held_at.load(Ordering::SeqCst);
        if version > held_at && loaded.version >= held_at {
            self.validator.loaded(loaded.version, BTreeSet::new, at);
            return Ok(loaded);
        }
        if version == loaded.version && version != 0 {
            self.validator.loaded(version, BTreeSet::new, at);
            return Ok(loaded);
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
            self.validator
                .loaded(schema.version, || schema.changed_since(&cur), at);
            *cur = schema;
        }
        Ok(cur.clone())
    }

    /// The current schema, reloaded first when it was last confirmed over
    /// a lease ago; 8027 when that fails (a stale schema is never served).
    pub async fn fresh_schema(&self) -> Result<Arc<InfoSchema>> {
        if self.validator.fresh() {
            return Ok(self.schema());
        }
        self.reload().await.map_err(|e| expired(&e))
    }

    /// Fails unless a transaction that began at schema version `start`
    /// and writes `tables` may commit at `commit_ts` ([`validator`]):
    /// 8028 when one of the tables changed, 8027 when this server cannot
    /// learn whether one did.
    pub async fn check_commit(
        &self,
        start: i64,
        tables: &std::collections::BTreeSet<model::TableId>,
        commit_ts: txn::types::TimeStamp,
    ) -> Result<()> {
        use validator::Verdict;
        for _ in 0..2 {
            match self.validator.check(start, tables, commit_ts) {
                Verdict::Valid => return Ok(()),
                Verdict::Changed => return Err(schema_changed()),
                // The reload's ts is above `commit_ts`: decided next round.
                Verdict::Expired => {
                    self.reload().await.map_err(|e| expired(&e))?;
                }
            }
        }
        Err(expired(&"the schema was reloaded but is still behind"))
    }

    /// What the validator concludes now, without reloading.
    pub fn verdict(
        &self,
        start: i64,
        tables: &std::collections::BTreeSet<model::TableId>,
        commit_ts: txn::types::TimeStamp,
    ) -> validator::Verdict {
        self.validator.check(start, tables, commit_ts)
    }

    /// The largest commit ts [`Self::check_commit`] accepts without
    /// reloading.
    pub fn valid_until(&self) -> txn::types::TimeStamp {
        self.validator.valid_until()
    }

    /// Reloads every half lease until `shutdown` fires, so the schema is
    /// always confirmed within one lease (TiDB's `loadSchemaInLoop`), and
    /// keeps this server's entry in the [`registry`] (server `id` at
    /// `addr`) current; removes it at shutdown.
    pub async fn follow(
        self: Arc<Self>,
        lease: Duration,
        id: String,
        addr: String,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let renew = registry::ttl(lease) / 4;
        let mut reported: Option<(i64, std::time::Instant)> = None;
        loop {
            if let Err(e) = self.reload().await {
                tracing::warn!("reloading the catalog failed: {e}");
            }
            let version = self.schema().version;
            let due = reported.is_none_or(|(v, at)| v != version || at.elapsed() >= renew);
            if due {
                match registry::report(&self.client, &id, &addr, version, lease).await {
                    Ok(()) => reported = Some((version, std::time::Instant::now())),
                    Err(e) => tracing::warn!("reporting the schema version failed: {e}"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(lease / 2) => {}
                _ = shutdown.changed() => break,
            }
        }
        if let Err(e) = registry::leave(&self.client, &id).await {
            tracing::debug!("leaving the server registry: {e}");
        }
    }
}

/// 8027: this server could not load the current schema within a lease.
fn expired(cause: &dyn std::fmt::Display) -> Error {
    Error::new(
        code::TIDB_INFO_SCHEMA_EXPIRED,
        format!(
            "Information schema is out of date: schema failed to update in 1 lease, please make sure duet can connect to its kv stores ({cause})"
        ),
    )
}

async fn bootstrap(client: &TxnClient) -> Result<()> {
    for attempt in 0.. {
        let txn = client.begin().await?;
        if meta::is_bootstrapped(&txn).await? {
            return Ok(());
        }
        let mut txn = client.begin_pessimistic().await?;
        let result: Result<()> = async {
            if meta::is_bootstrapped_for_update(&mut txn).await? {
                return Ok(txn.rollback().await?);
            }
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

/// 8028: a table changed under the statement or transaction (retryable:
/// an autocommit statement runs again on the new schema).
pub fn schema_changed() -> Error {
    Error::new(
        code::TIDB_INFO_SCHEMA_CHANGED,
        "Information schema is changed during the execution of the statement(for example, table definition may be updated by other DDL ran in parallel). If you see this error often, try increasing `tidb_max_delta_schema_count`. [try again later]",
    )
}
