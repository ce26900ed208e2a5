//! # Sessions: one per connection
//!
//! A session holds what MySQL keeps per connection — current database,
//! system variables, the open transaction, prepared statements, warnings,
//! `LAST_INSERT_ID()`. It is state only: [`crate::execute`] runs
//! statements against it, as this overview shows:
//!
//! ```text
//!  text --parse (sqlparser, MySQL dialect)--> Statement     (execute::entry)
//!     | transaction control, SET, USE, SHOW ...   execute, admin
//!     | DDL                                       implicit commit, then ddl::*
//!     | SELECT / INSERT / UPDATE / DELETE         in the statement's transaction:
//!     |    point get / single-row DML by key  ->  fast path (no planner)
//!     |    everything else                    ->  DataFusion over the row regions
//!     v
//!  Output (OK | rows)
//! ```
//!
//! **Transactions.** With `autocommit=1` and no `BEGIN`, every statement
//! runs in its own optimistic transaction (1PC when it touches one region)
//! and is retried on a write conflict, as TiDB retries autocommit
//! statements. `BEGIN` / `START TRANSACTION` (or `autocommit=0`) opens an
//! explicit transaction, pessimistic by default (`tidb_txn_mode`): every
//! written or `FOR UPDATE`-read row is locked when the statement runs, so
//! `COMMIT` does not fail on conflicts. A statement computes all its
//! mutations before applying any, so a failing statement leaves the
//! transaction as it was. Closing the connection rolls back what is open.
//! A transaction plans against the schema it began with; its commit fails
//! with 8028 when a table it writes changed since ([`schema_check`]).

pub mod autoid;
pub mod datafusion;
pub mod observe;
pub mod processlist;
pub mod schema_check;
pub mod shared;
pub mod split;
pub mod vars;

use std::collections::HashMap;
use std::sync::Arc;

use codec::datum::Datum;
use sqlparser::ast::Statement;
use txn::client::{Transaction, TxnMode};

use crate::catalog::InfoSchema;
use crate::error::{Error, Result, code};
use crate::protocol::resultset::ColumnDef;
use crate::protocol::status;
use crate::session::datafusion::QueryContext;
use crate::session::processlist::Process;
use crate::session::shared::Shared;
use crate::session::vars::{SessionVars, VarValue};

/// What a statement returns.
#[derive(Debug)]
pub enum Output {
    Ok {
        affected: u64,
        last_insert_id: u64,
        info: String,
    },
    Rows(ResultSet),
    /// LOAD DATA LOCAL INFILE: the connection fetches the file from the
    /// client and streams it to [`crate::execute::entry::load_data_chunk`].
    LocalInfile(LocalInfile),
}

impl Output {
    pub fn ok(affected: u64) -> Output {
        Output::Ok {
            affected,
            last_insert_id: 0,
            info: String::new(),
        }
    }
}

#[derive(Debug, Default)]
pub struct ResultSet {
    pub columns: Vec<ColumnDef>,
    pub rows: Vec<Vec<Datum>>,
}

/// A LOAD DATA LOCAL INFILE waiting for the file's contents.
#[derive(Debug)]
pub struct LocalInfile {
    pub file_name: String,
    pub spec: Box<crate::parse::load_data::LoadSpec>,
}

/// A prepared statement's shape, for COM_STMT_PREPARE's answer.
#[derive(Debug, Clone)]
pub struct PreparedInfo {
    pub id: u32,
    pub params: usize,
    pub columns: Vec<ColumnDef>,
}

pub(crate) struct Prepared {
    pub statement: Statement,
    /// The planner's cached plan (a point get's template). The session
    /// keeps it without knowing its type, as TiDB's `SessionVars` keeps
    /// prepared statements, so that session state sits below the planner.
    pub plan: Option<Arc<dyn std::any::Any + Send + Sync>>,
    /// A query with numbered placeholders, which `point_get` is planned
    /// from (again after DDL or `USE`).
    pub numbered: Option<Statement>,
    /// The schema version and database `point_get` was planned with.
    pub planned_with: (i64, Option<String>),
    pub params: usize,
    /// The text as prepared (process list, slow log).
    pub sql: String,
}

/// A warning or note for SHOW WARNINGS.
#[derive(Debug, Clone)]
pub struct Warning {
    pub level: &'static str,
    pub code: u16,
    pub message: String,
}

/// The transaction a statement runs in, shared with DataFusion's scans.
pub struct TxnHandle {
    pub txn: tokio::sync::RwLock<Transaction>,
    pub schema: Arc<InfoSchema>,
}

pub(crate) struct ActiveTxn {
    pub handle: Arc<TxnHandle>,
    /// Opened by BEGIN or by autocommit=0 (stays open across statements).
    pub explicit: bool,
    pub read_only: bool,
}

/// Marks the connection's process as committing while alive.
struct Committing<'a>(&'a Process);

impl<'a> Committing<'a> {
    fn mark(p: &'a Process) -> Committing<'a> {
        p.committing
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Committing(p)
    }
}

impl Drop for Committing<'_> {
    fn drop(&mut self) {
        self.0
            .committing
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

pub struct Session {
    pub(crate) shared: Arc<Shared>,
    pub id: u32,
    pub user: String,
    pub host: String,
    pub db: Option<String>,
    pub vars: SessionVars,
    pub capabilities: u32,
    pub(crate) txn: Option<ActiveTxn>,
    pub last_insert_id: u64,
    /// ROW_COUNT(): affected rows of the last DML, -1 after a SELECT.
    pub row_count: i64,
    pub found_rows: u64,
    pub warnings: Vec<Warning>,
    /// Notes raised while planning (an unusable optimizer hint), moved to
    /// `warnings` when the statement ends.
    pub(crate) plan_warnings: Arc<parking_lot::Mutex<Vec<String>>>,
    /// User variables (`SET @x = ...`), by lower-case name.
    pub user_vars: HashMap<String, Datum>,
    pub(crate) prepared: HashMap<u32, Prepared>,
    pub(crate) next_stmt_id: u32,
    pub(crate) process: Arc<Process>,
    /// The connection's DataFusion session, set up by the planner.
    pub(crate) df: QueryContext,
}

impl Session {
    /// A session for connection `id`; `df` is its DataFusion session
    /// (`crate::planner::query_context`).
    pub fn new(
        shared: Arc<Shared>,
        id: u32,
        user: &str,
        host: &str,
        capabilities: u32,
        df: QueryContext,
    ) -> Session {
        let process = shared.processes.register(id, user, host, None);
        let vars = SessionVars::new(&shared.globals);
        Session {
            shared,
            id,
            user: user.to_string(),
            host: host.to_string(),
            db: None,
            vars,
            capabilities,
            txn: None,
            last_insert_id: 0,
            row_count: -1,
            found_rows: 0,
            warnings: Vec::new(),
            plan_warnings: Arc::default(),
            user_vars: HashMap::new(),
            prepared: HashMap::new(),
            next_stmt_id: 1,
            process,
            df,
        }
    }

    pub fn process(&self) -> &Arc<Process> {
        &self.process
    }

    pub fn schema(&self) -> Arc<InfoSchema> {
        self.shared.catalog.schema()
    }

    /// A DDL job for the statement this session runs.
    pub fn job(&self, job_type: crate::catalog::jobs::JobType) -> crate::catalog::jobs::Job {
        let query = match &*self.process.current.lock() {
            Some((sql, _)) => sql.clone(),
            None => String::new(),
        };
        crate::catalog::jobs::Job::new(job_type, &query)
    }

    /// The current database or ER_NO_DB.
    pub fn current_db(&self) -> Result<&str> {
        self.db.as_deref().ok_or_else(Error::no_db)
    }

    /// `[db.]name` as (db, name), the database defaulting to the current
    /// one (ER_NO_DB without one).
    pub fn qualified(&self, n: &sqlparser::ast::ObjectName) -> Result<(String, String)> {
        let (db, name) = crate::catalog::names::object_name(n)?;
        let db = match db {
            Some(d) => d,
            None => self.current_db()?.to_string(),
        };
        Ok((db, name))
    }

    pub fn autocommit(&self) -> bool {
        self.vars.int("autocommit") != 0
    }

    pub fn status_flags(&self) -> u16 {
        let mut s = 0;
        if self.autocommit() {
            s |= status::AUTOCOMMIT;
        }
        if let Some(t) = &self.txn
            && t.explicit
        {
            s |= status::IN_TRANS;
            if t.read_only {
                s |= status::IN_TRANS_READONLY;
            }
        }
        s
    }

    pub fn warning_count(&self) -> u16 {
        self.warnings.len().min(u16::MAX as usize) as u16
    }

    /// Moves the notes raised while planning into the warnings (code 1815,
    /// as TiDB reports unusable storage hints).
    pub fn take_plan_warnings(&mut self) {
        let notes = std::mem::take(&mut *self.plan_warnings.lock());
        for n in notes {
            self.warn(code::ER_INTERNAL_ERROR, n);
        }
    }

    pub fn warn(&mut self, code: u16, message: impl Into<String>) {
        self.warnings.push(Warning {
            level: "Warning",
            code,
            message: message.into(),
        });
    }

    pub fn note(&mut self, code: u16, message: impl Into<String>) {
        self.warnings.push(Warning {
            level: "Note",
            code,
            message: message.into(),
        });
    }

    pub fn use_db(&mut self, db: &str) -> Result<()> {
        let schema = self.schema();
        let info = schema.db(db).ok_or_else(|| Error::bad_db(db))?;
        self.db = Some(info.info.name.clone());
        *self.process.db.lock() = self.db.clone();
        Ok(())
    }

    pub fn statistics(&self) -> String {
        format!(
            "Uptime: {}  Threads: {}  Questions: 0  Slow queries: 0  Opens: 0  Flush tables: 0  Open tables: 0  Queries per second avg: 0.000",
            self.process.connected.elapsed().as_secs(),
            self.shared.processes.all().len()
        )
    }

    /// `KILL [QUERY] id`.
    pub fn kill(&self, id: u32, query_only: bool) -> Result<()> {
        let p = self.shared.processes.get(id).ok_or_else(|| {
            Error::new(code::ER_NO_SUCH_THREAD, format!("Unknown thread id: {id}"))
        })?;
        if query_only {
            p.kill_query.notify_waiters();
        } else {
            p.killed.store(true, std::sync::atomic::Ordering::SeqCst);
            p.kill_connection.notify_one();
            p.kill_query.notify_waiters();
        }
        Ok(())
    }

    /// COM_RESET_CONNECTION: roll back, forget state, keep the login.
    pub async fn reset(&mut self) {
        self.rollback_open().await;
        self.vars = SessionVars::new(&self.shared.globals);
        self.prepared.clear();
        self.warnings.clear();
        self.last_insert_id = 0;
        self.row_count = -1;
    }

    /// The connection is going away.
    pub async fn close(&mut self) {
        self.rollback_open().await;
        self.shared.processes.unregister(self.id);
    }

    async fn rollback_open(&mut self) {
        if let Some(t) = self.txn.take() {
            let mut txn = t.handle.txn.write().await;
            if let Err(e) = txn.rollback().await {
                tracing::warn!(conn = self.id, "rollback on close failed: {e}");
            }
        }
    }

    pub fn prepared_params(&self, id: u32) -> Option<usize> {
        self.prepared.get(&id).map(|p| p.params)
    }

    pub fn close_prepared(&mut self, id: u32) {
        self.prepared.remove(&id);
    }

    // ---- transactions ---------------------------------------------------

    /// The mode explicit transactions use (`tidb_txn_mode`).
    pub fn txn_mode(&self) -> TxnMode {
        if self
            .vars
            .text("tidb_txn_mode")
            .eq_ignore_ascii_case("optimistic")
        {
            TxnMode::Optimistic
        } else {
            TxnMode::Pessimistic
        }
    }

    pub(crate) async fn begin(
        &mut self,
        explicit: bool,
        read_only: bool,
        mode: TxnMode,
    ) -> Result<Arc<TxnHandle>> {
        let txn = self.shared.client.begin_with(mode).await?;
        let handle = Arc::new(TxnHandle {
            txn: tokio::sync::RwLock::new(txn),
            schema: self.schema(),
        });
        self.txn = Some(ActiveTxn {
            handle: handle.clone(),
            explicit,
            read_only,
        });
        Ok(handle)
    }

    /// Commits the open transaction if its tables' schema still holds
    /// (8028 when one changed since it began: nothing is written).
    pub(crate) async fn commit_open(&mut self) -> Result<()> {
        if let Some(t) = self.txn.take() {
            let mut txn = t.handle.txn.write().await;
            let check = schema_check::SchemaCheck::of(&self.shared, t.handle.schema.version, &txn);
            let _committing = Committing::mark(&self.process);
            txn.commit_checked(check)
                .await
                .map_err(schema_check::commit_error)?;
        }
        Ok(())
    }

    pub(crate) async fn rollback_txn(&mut self) -> Result<()> {
        if let Some(t) = self.txn.take() {
            let mut txn = t.handle.txn.write().await;
            txn.rollback().await?;
        }
        Ok(())
    }

    pub(crate) fn set_var(&mut self, name: &str, value: VarValue, global: bool) -> Result<()> {
        if global {
            return self.shared.globals.set(name, value);
        }
        self.vars.set(name, value)
    }
}
