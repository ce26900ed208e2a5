//! What every workload shares: a MySQL session to `duet sql` whose every
//! statement has a client-side deadline, and the run's clock.
//!
//! A statement that errs is classified only by what the client can know:
//! the server answered with an error (the session is still usable; a
//! transaction is rolled back), or the connection broke or the deadline
//! passed (the outcome is unknown and the session is dropped, so the next
//! statement starts on a fresh one). Workloads never parse error messages.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mysql_async::Conn;
use mysql_async::prelude::*;

/// Every statement's client-side deadline: past it the outcome is unknown.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait between attempts after a failure, so a down cluster
/// is not hammered (and an unknown outcome is not piled on another).
pub const BACKOFF: Duration = Duration::from_millis(100);

/// Why a statement gave no answer.
#[derive(Debug)]
pub enum StmtError {
    /// The server answered with this MySQL error code.
    Server(u16),
    /// The connection broke or the deadline passed: no answer.
    NoAnswer,
}

/// The successes the run counts as progress, per workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Success {
    Transfer,
    SnapshotRead,
    Insert,
    RegisterRead,
    RegisterWrite,
}

impl Success {
    pub const ALL: [Success; 5] = [
        Success::Transfer,
        Success::SnapshotRead,
        Success::Insert,
        Success::RegisterRead,
        Success::RegisterWrite,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Success::Transfer => "transfers",
            Success::SnapshotRead => "snapshot reads",
            Success::Insert => "inserts",
            Success::RegisterRead => "register reads",
            Success::RegisterWrite => "register writes",
        }
    }
}

/// The run's clock: a common origin for histories, the instant the last
/// fault was healed, and the successes counted before and after it.
#[derive(Debug)]
pub struct Clock {
    pub origin: Instant,
    healed: OnceLock<Instant>,
    stop: AtomicBool,
    successes: [AtomicU64; 5],
    after_heal: [AtomicU64; 5],
}

impl Clock {
    pub fn new() -> Clock {
        Clock {
            origin: Instant::now(),
            healed: OnceLock::new(),
            stop: AtomicBool::new(false),
            successes: Default::default(),
            after_heal: Default::default(),
        }
    }

    /// Nanoseconds since the origin.
    pub fn now(&self) -> u128 {
        self.origin.elapsed().as_nanos()
    }

    /// Seconds since the origin, for messages.
    pub fn secs(&self) -> f64 {
        self.origin.elapsed().as_secs_f64()
    }

    pub fn mark_healed(&self) {
        let _ = self.healed.set(Instant::now());
    }

    /// Counts a success of an operation that started at `started`; it is
    /// progress after the heal if it started after it.
    pub fn success(&self, kind: Success, started: Instant) {
        self.successes[kind as usize].fetch_add(1, Ordering::Relaxed);
        if self.healed.get().is_some_and(|h| started >= *h) {
            self.after_heal[kind as usize].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn successes(&self, kind: Success) -> u64 {
        self.successes[kind as usize].load(Ordering::Relaxed)
    }

    pub fn successes_after_heal(&self, kind: Success) -> u64 {
        self.after_heal[kind as usize].load(Ordering::Relaxed)
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// A session that reconnects lazily after it was dropped.
pub struct Session {
    url: String,
    conn: Option<Conn>,
    /// Statements run on every new connection.
    init: Vec<String>,
}

impl Session {
    pub fn new(url: &str, init: &[&str]) -> Session {
        Session {
            url: url.to_string(),
            conn: None,
            init: init.iter().map(|s| s.to_string()).collect(),
        }
    }

    async fn conn(&mut self) -> Result<&mut Conn, StmtError> {
        if self.conn.is_none() {
            let mut conn = deadline(Conn::from_url(self.url.as_str())).await?;
            for stmt in &self.init {
                deadline(conn.query_drop(stmt.as_str())).await?;
            }
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("just set"))
    }

    fn judge<T>(&mut self, r: Result<T, StmtError>) -> Result<T, StmtError> {
        if let Err(StmtError::NoAnswer) = r {
            self.conn = None;
        }
        r
    }

    /// A text-protocol statement whose result is dropped.
    pub async fn run(&mut self, sql: &str) -> Result<(), StmtError> {
        let r = match self.conn().await {
            Ok(c) => deadline(c.query_drop(sql)).await,
            Err(e) => Err(e),
        };
        self.judge(r)
    }

    /// A text-protocol query's rows.
    pub async fn rows<T: FromRow + Send + 'static>(
        &mut self,
        sql: &str,
    ) -> Result<Vec<T>, StmtError> {
        let r = match self.conn().await {
            Ok(c) => deadline(c.query(sql)).await,
            Err(e) => Err(e),
        };
        self.judge(r)
    }

    /// A prepared statement's first row.
    pub async fn first<T: FromRow + Send + 'static>(
        &mut self,
        sql: &str,
        params: impl Into<mysql_async::Params> + Send,
    ) -> Result<Option<T>, StmtError> {
        let r = match self.conn().await {
            Ok(c) => deadline(c.exec_first(sql, params)).await,
            Err(e) => Err(e),
        };
        self.judge(r)
    }

    /// A prepared statement whose result is dropped; the affected rows.
    pub async fn exec(
        &mut self,
        sql: &str,
        params: impl Into<mysql_async::Params> + Send,
    ) -> Result<u64, StmtError> {
        let r = match self.conn().await {
            Ok(c) => match deadline(c.exec_drop(sql, params)).await {
                Ok(()) => Ok(c.affected_rows()),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        self.judge(r)
    }

    /// Ends a transaction that failed part-way: ROLLBACK, or drop the
    /// session if even that gets no answer (the server rolls back a
    /// closed session's transaction).
    pub async fn abandon(&mut self) {
        if self.conn.is_some() && self.run("ROLLBACK").await.is_err() {
            self.conn = None;
        }
    }
}

async fn deadline<T>(
    f: impl Future<Output = Result<T, mysql_async::Error>>,
) -> Result<T, StmtError> {
    match tokio::time::timeout(STATEMENT_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(mysql_async::Error::Server(e))) => Err(StmtError::Server(e.code)),
        Ok(Err(_)) | Err(_) => Err(StmtError::NoAnswer),
    }
}
