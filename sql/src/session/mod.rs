//! # Sessions: one per connection
//!
//! A session holds what MySQL keeps per connection — current database,
//! system variables, the open transaction, prepared statements, warnings,
//! `LAST_INSERT_ID()` — and runs statements:
//!
//! ```text
//!  text --parse (sqlparser, MySQL dialect)--> Statement
//!     | transaction control, SET, USE, SHOW ...   handled here
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

pub mod autoid;
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
use crate::server::Shared;
use crate::server::processlist::Process;
use vars::{SessionVars, VarValue};

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
    /// client and streams it to [`Session::load_data_chunk`].
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
    pub spec: Box<crate::dml::load_data::LoadSpec>,
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
    /// A point get's cached plan.
    pub point_get: Option<crate::query::point_get::Template>,
    /// A query with numbered placeholders, which `point_get` is planned
    /// from (again after DDL or `USE`).
    pub numbered: Option<Statement>,
    /// The schema version and database `point_get` was planned with.
    pub planned_with: (i64, Option<String>),
    pub params: usize,
    /// The text as prepared (process list, slow log).
    pub sql: String,
}

/// A prepared statement bound to its parameters.
enum Bound {
    PointGet(crate::query::point_get::PointGet),
    Statement(Box<Statement>),
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
    next_stmt_id: u32,
    process: Arc<Process>,
    pub(crate) df: crate::query::DfSession,
}

impl Session {
    pub fn new(shared: Arc<Shared>, id: u32, user: &str, host: &str, capabilities: u32) -> Session {
        let process = shared.processes.register(id, user, host, None);
        let vars = SessionVars::new(&shared.globals);
        let df = crate::query::DfSession::new(shared.clone());
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

    /// The current database or ER_NO_DB.
    pub fn current_db(&self) -> Result<&str> {
        self.db.as_deref().ok_or_else(Error::no_db)
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

    /// COM_FIELD_LIST: the columns of a table in the current database.
    pub fn field_list(&self, table: &str) -> Result<Vec<ColumnDef>> {
        let db = self.current_db()?;
        let schema = self.schema();
        let t = schema.require_table(db, table)?;
        Ok((0..t.columns.len())
            .map(|i| crate::query::convert::table_column_def(db, t, i, None))
            .collect())
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

    // ---- statements -----------------------------------------------------

    /// Runs one statement of text.
    pub async fn execute(&mut self, sql: &str) -> Result<Output> {
        let started = std::time::Instant::now();
        *self.process.current.lock() = Some((sql.to_string(), started));
        let result = self.execute_text(sql).await;
        *self.process.current.lock() = None;
        crate::observe::statement_done(self, sql, started.elapsed(), &result);
        result
    }

    async fn execute_text(&mut self, sql: &str) -> Result<Output> {
        if crate::dml::load_data::is_load_data(sql) {
            self.warnings.clear();
            let spec = crate::dml::load_data::parse(sql)?;
            // Fail before the client sends the file if the table is wrong.
            crate::dml::load_data::begin(self, spec.clone())?;
            return Ok(Output::LocalInfile(LocalInfile {
                file_name: spec.file.clone(),
                spec: Box::new(spec),
            }));
        }
        if crate::users::is_account_statement(sql) {
            self.warnings.clear();
            self.commit_open().await?;
            return crate::users::execute(self, sql).await;
        }
        let stmt = crate::parse::parse_one(sql)?;
        let clears_warnings = !crate::parse::is_show_warnings(&stmt);
        if clears_warnings {
            self.warnings.clear();
        }
        let killed = self.process.clone();
        tokio::select! {
            r = crate::execute::statement(self, stmt) => r,
            _ = killed.kill_query.notified() => {
                Err(Error::new(code::ER_QUERY_INTERRUPTED, "Query execution was interrupted"))
            }
        }
    }

    pub async fn prepare(&mut self, sql: &str) -> Result<PreparedInfo> {
        let stmt = crate::parse::parse_one(sql)?;
        let params = crate::parse::count_placeholders(&stmt);
        let columns = crate::execute::describe(self, &stmt).await?;
        let id = self.next_stmt_id;
        self.next_stmt_id = self.next_stmt_id.wrapping_add(1).max(1);
        let numbered =
            matches!(stmt, Statement::Query(_)).then(|| crate::parse::number_placeholders(&stmt));
        let point_get = match &numbered {
            Some(Statement::Query(q)) => crate::query::point_get::template(self, q),
            _ => None,
        };
        self.prepared.insert(
            id,
            Prepared {
                point_get,
                numbered,
                planned_with: (self.schema().version, self.db.clone()),
                statement: stmt,
                params,
                sql: sql.to_string(),
            },
        );
        Ok(PreparedInfo {
            id,
            params,
            columns,
        })
    }

    pub fn prepared_params(&self, id: u32) -> Option<usize> {
        self.prepared.get(&id).map(|p| p.params)
    }

    pub fn close_prepared(&mut self, id: u32) {
        self.prepared.remove(&id);
    }

    pub async fn execute_prepared(&mut self, id: u32, params: Vec<Datum>) -> Result<Output> {
        let p = self.prepared.get(&id).ok_or_else(|| {
            Error::new(
                code::ER_UNKNOWN_STMT_HANDLER,
                format!("Unknown prepared statement handler ({id}) given to mysqld_stmt_execute"),
            )
        })?;
        if params.len() != p.params {
            return Err(Error::new(
                code::ER_WRONG_ARGUMENTS,
                "Incorrect arguments to mysqld_stmt_execute",
            ));
        }
        // A cached point get, re-planned first when DDL or `USE` made it
        // stale.
        let now = (self.schema().version, self.db.clone());
        if let Some(numbered) = &p.numbered
            && p.planned_with != now
        {
            let Statement::Query(q) = numbered.clone() else {
                unreachable!("only queries are numbered")
            };
            let fresh = crate::query::point_get::template(self, &q);
            if let Some(p) = self.prepared.get_mut(&id) {
                p.point_get = fresh;
                p.planned_with = now;
            }
        }
        let p = &self.prepared[&id];
        let work = match p.point_get.as_ref().and_then(|t| t.bind(&params)) {
            Some(pg) => Bound::PointGet(pg),
            None => Bound::Statement(Box::new(crate::parse::bind_params(&p.statement, &params)?)),
        };
        let text = p.sql.clone();
        let started = std::time::Instant::now();
        *self.process.current.lock() = Some((text.clone(), started));
        self.warnings.clear();
        let killed = self.process.clone();
        let work = async {
            match work {
                Bound::PointGet(pg) => crate::execute::point_get(self, &pg).await,
                Bound::Statement(stmt) => crate::execute::statement(self, *stmt).await,
            }
        };
        let result = tokio::select! {
            r = work => r,
            _ = killed.kill_query.notified() => {
                Err(Error::new(code::ER_QUERY_INTERRUPTED, "Query execution was interrupted"))
            }
        };
        *self.process.current.lock() = None;
        crate::observe::statement_done(self, &text, started.elapsed(), &result);
        result
    }

    /// LOAD DATA: the file's contents arrive in chunks (see
    /// [`crate::dml::load_data`]).
    pub fn load_data_begin(
        &mut self,
        req: LocalInfile,
    ) -> Result<crate::dml::load_data::LoadState> {
        crate::dml::load_data::begin(self, *req.spec)
    }

    pub async fn load_data_chunk(
        &mut self,
        state: &mut crate::dml::load_data::LoadState,
        data: &[u8],
        last: bool,
    ) -> Result<()> {
        crate::dml::load_data::chunk(self, state, data, last).await
    }

    pub fn load_data_end(&mut self, state: crate::dml::load_data::LoadState) -> Output {
        crate::dml::load_data::end(self, state)
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

    pub(crate) async fn commit_open(&mut self) -> Result<()> {
        if let Some(t) = self.txn.take() {
            let mut txn = t.handle.txn.write().await;
            txn.commit().await?;
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
