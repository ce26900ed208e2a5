//! # The client side of transactions
//!
//! What a SQL server (or any program) uses to run Percolator transactions
//! against the kv stores:
//!
//! ```text
//!  TxnClient ── begin() / begin_pessimistic() ──> Transaction
//!     │                                            │ get/batch_get/scan: Snapshot at start_ts
//!     │                                            │ put/delete/lock_keys: buffered (pessimistic:
//!     │                                            │   locked on the stores at once, waiting and
//!     │                                            │   detecting deadlocks)
//!     │                                            └ commit(): Committer (2PC, or 1PC)
//!     ├ snapshot(ts): read-only view at any ts >= the GC safe point
//!     ├ LockResolver: check the primary, then commit or roll back locks
//!     ├ Rpc: region cache routing, grouping by region, retries
//!     └ PD: timestamps (one batched stream), min start ts registration
//! ```
//!
//! Errors a caller acts on are typed ([`crate::Error`]: `WriteConflict`,
//! `KeyIsLocked`, `TxnLockNotFound`, `Deadlock`, `LockWaitTimeout`,
//! `AlreadyExist`) and `Undetermined`: the primary's commit was sent but
//! its outcome is unknown — the transaction may or may not have committed,
//! and the client must not report either.
//!
//! Running transactions register the oldest start ts of this client with PD
//! every second, so the GC safe point never passes a transaction still
//! reading (TiDB does the same through etcd).
//!
//! By file: `txn_client` (the entry point), `shared` (what its transactions
//! share: config, PD, routing, the lock resolver), `transaction`,
//! `committer`, `snapshot`, `lock_resolver`, [`rpc`] (routing to region
//! leaders) and `coprocessor` (pushed-down scans, [`CopScan`]). Responses
//! are turned into typed errors by [`crate::pb`], which the service on the
//! stores shares.

mod committer;
mod coprocessor;
mod lock_resolver;
pub mod rpc;
mod shared;
mod snapshot;
mod transaction;
mod txn_client;

pub use committer::{CheckResult, CommitCheck};
pub use coprocessor::{CopScan, CopTask, Page};
pub use lock_resolver::{LockResolver, Resolved};
pub use shared::{ColumnarStats, TxnConfig};
pub use snapshot::Snapshot;
pub use transaction::{Transaction, TxnMode};
pub use txn_client::TxnClient;
