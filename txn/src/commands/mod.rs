//! # Transaction commands
//!
//! A command is what one client request asks of one region: prewrite these
//! mutations, commit these keys, resolve the locks of that transaction. It
//! runs the per-key [actions](crate::actions) over one snapshot and one
//! write buffer, decides what to do with per-key failures, and hands back
//! the [`Modify`](crate::mvcc::Modify)s to propose through Raft together
//! with the response payload, as a [`WriteResult`].
//!
//! ```text
//!   scheduler: latches on the keys -> snapshot -> MvccReader
//!        -> commands::commit(&mut reader, keys, start_ts, commit_ts)
//!        -> WriteResult { modifies -> raft proposal, output -> response }
//! ```
//!
//! Commands are thin and free of I/O; the scheduler (latches, snapshots,
//! proposals, waking lock waiters) wraps them. Any error aborts a command
//! with no writes, except where noted (prewrite collects `KeyIsLocked` per
//! key so the client resolves them all at once).
//!
//! Follows TiKV's `src/storage/txn/commands/`.

mod check_txn_status;
mod cleanup;
mod commit;
mod gc;
mod pessimistic_lock;
mod prewrite;
mod resolve_lock;
mod scan_lock;
mod txn_heart_beat;
mod write_result;

pub use check_txn_status::{check_txn_status, check_txn_status_resolving_pessimistic_lock};
pub use cleanup::{batch_rollback, cleanup};
pub use commit::commit;
pub use gc::{GcOutput, gc};
pub use pessimistic_lock::{PessimisticLockArgs, acquire_pessimistic_lock, pessimistic_rollback};
pub use prewrite::{PrewriteArgs, PrewriteOutput, prewrite};
pub use resolve_lock::{ResolveOutput, resolve_lock};
pub use scan_lock::scan_lock;
pub use txn_heart_beat::txn_heart_beat;
pub use write_result::WriteResult;
