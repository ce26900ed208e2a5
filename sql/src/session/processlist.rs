//! The process list: every connection, what it runs, and a way to stop it
//! (`SHOW PROCESSLIST`, `information_schema.PROCESSLIST`, `KILL`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// One connection's entry.
#[derive(Debug)]
pub struct Process {
    pub id: u32,
    pub user: String,
    pub host: String,
    pub db: Mutex<Option<String>>,
    /// The statement running now and when it started.
    pub current: Mutex<Option<(String, Instant)>>,
    pub connected: Instant,
    /// `KILL QUERY`: interrupts the running statement.
    pub kill_query: Notify,
    /// `KILL [CONNECTION]`: closes the connection.
    pub kill_connection: Notify,
    pub killed: std::sync::atomic::AtomicBool,
    /// A commit is on its way: `KILL QUERY` waits for its outcome rather
    /// than answer 1317 for a transaction that may have committed.
    pub committing: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default)]
pub struct ProcessList {
    procs: Mutex<BTreeMap<u32, Arc<Process>>>,
}

impl ProcessList {
    pub fn register(&self, id: u32, user: &str, host: &str, db: Option<String>) -> Arc<Process> {
        let p = Arc::new(Process {
            id,
            user: user.to_string(),
            host: host.to_string(),
            db: Mutex::new(db),
            current: Mutex::new(None),
            connected: Instant::now(),
            kill_query: Notify::new(),
            kill_connection: Notify::new(),
            killed: Default::default(),
            committing: Default::default(),
        });
        self.procs.lock().insert(id, p.clone());
        p
    }

    pub fn unregister(&self, id: u32) {
        self.procs.lock().remove(&id);
    }

    pub fn get(&self, id: u32) -> Option<Arc<Process>> {
        self.procs.lock().get(&id).cloned()
    }

    pub fn all(&self) -> Vec<Arc<Process>> {
        self.procs.lock().values().cloned().collect()
    }
}
