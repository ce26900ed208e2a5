//! # columnar: the columnar store
//!
//! A columnar store is a kv store (the same multi-Raft raftstore over
//! RocksDB) that hosts only **learner** replicas — PD places them there for
//! every region of a table with `SET COLUMNAR REPLICA n` — and keeps a
//! second, analytical view of what they apply. TiFlash is the reference:
//! learners never vote or lead, so analytics never slow the row regions'
//! quorum down.
//!
//! ```text
//!   row region leader ── raft log ──> learner (this store)
//!                                        │ apply: data CFs + apply log (one batch)
//!                                        v
//!                                  ColumnarView ── catch_up ──> Delta (row versions
//!                                        ^                       by table, key, ts)
//!                                        │        ── compact ──> stable chunks (files)
//!   SQL layer ── Flight DoGet ───────────┘
//!     (ticket: a coprocessor request:    1. ReadIndex from the leader, wait until applied
//!      region, start_ts, filters,        2. locks with ts <= start_ts in range that block
//!      columns, pushed plan fragment)       the read -> answered instead of rows
//!                                        3. catch the view up to that snapshot
//!                                        4. MVCC-visible rows (chunks pruned by min/max,
//!                                           delta rows decoded) -> Fragment (filter,
//!                                           project, limit) -> plan fragment (partial
//!                                           aggregate or top-N), if one was pushed
//!                                        5. Arrow record batches back over Flight
//! ```
//!
//! Both halves read Percolator state through txn's MVCC layer, as the row
//! store does: committed versions with `txn::mvcc::MvccReader`
//! (`load_write`, `scan_committed`) and blocking locks with
//! `txn::mvcc::range_locks`, so a version or a lock means the same here as
//! on the row path.
//!
//! | module | role |
//! |---|---|
//! | [`apply_log`] | the raftstore hook: what the learner applied, in order, atomically with it |
//! | [`delta`] | row versions as they arrive, per table, MVCC visibility |
//! | [`stable`] | sorted immutable chunks of versions, raw column bytes decoded once per column |
//! | [`files`] | chunk files (Arrow IPC) and the manifest |
//! | [`view`] | both layers kept in step with the engine; compaction; restart from files + log |
//! | [`service`] | the Arrow Flight service (`DoGet` only): consistent scans running pushed fragments |
//! | [`server`] | a columnar store process: kv store + hook + service + catch-up/compaction loop |
//!
//! The SQL layer makes the read consistent with the row path in one more
//! step before it asks this store: one-phase commits hold in-memory locks
//! on the region leader only, so it first asks the leader to wait them out
//! (`KvReadBarrier`), then reads here (see `txn::client::coprocessor`). It
//! runs the final aggregate or top-N over the regions' partial results.
//!
//! Not here yet (see docs/columnar.md): MPP exchange between columnar
//! stores; joins run in the SQL layer.

pub mod apply_log;
pub mod delta;
pub mod files;
pub mod server;
pub mod service;
pub mod stable;
pub mod view;

/// Errors of the columnar store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("corrupt columnar data: {0}")]
    Corrupt(String),
    #[error("columnar files: {0}")]
    Io(String),
    #[error(transparent)]
    Codec(#[from] codec::Error),
    #[error(transparent)]
    Kv(#[from] kv::Error),
    #[error(transparent)]
    Txn(#[from] txn::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<Error> for txn::Error {
    fn from(e: Error) -> txn::Error {
        match e {
            Error::Kv(k) => txn::Error::Kv(k),
            Error::Txn(t) => t,
            Error::Codec(c) => txn::Error::Codec(c),
            Error::Corrupt(m) => txn::Error::BadFormat(m),
            Error::Io(m) => txn::Error::Kv(kv::Error::Engine(m)),
        }
    }
}
