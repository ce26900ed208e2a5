//! # Percolator actions
//!
//! Each action is one plain function over a write buffer
//! ([`MvccTxn`](crate::mvcc::MvccTxn)) and a snapshot reader
//! ([`MvccReader`](crate::mvcc::MvccReader)) that handles *one key*;
//! commands in [`crate::commands`] loop over keys and collect the results.
//! No action does I/O beyond reading the snapshot, so each is deterministic
//! and tested on an in-memory engine.
//!
//! The life of an optimistic transaction `T` (start_ts 10, primary `a`):
//!
//! ```text
//!            prewrite a,b           commit a @20        commit b @20
//! lock   a: T  b: T         ->   b: T             ->  (none)
//! write                          a@20: Put(10)        a@20, b@20
//! ```
//!
//! and what can happen to it on the way:
//!
//! * [`prewrite()`] — take the locks; `KeyIsLocked` / `WriteConflict` /
//!   `AlreadyExist` stop it. Pessimistic transactions first take
//!   [`acquire_pessimistic_lock()`]s and undo them with
//!   [`pessimistic_rollback()`].
//! * [`commit()`] — primary first (the commit point), then the rest.
//! * [`cleanup()`] — roll back one key (client abort, or a lock whose TTL
//!   expired).
//! * [`check_txn_status()`] — a blocked transaction asks the primary what
//!   happened to the owner, rolling back expired transactions and pushing
//!   `min_commit_ts` of live ones.
//! * [`gc()`] — drop versions no reader can see any more.
//! * [`commit_1pc`] — for a transaction prewritten in one command with
//!   `try_one_pc`: write the records directly, no locks.
//!
//! The rollback helpers cleanup and check_txn_status share —
//! [`rollback_lock`], [`make_rollback`], [`collapse_prev_rollback`] — are
//! in `rollback.rs`, with the rule they follow.
//!
//! Follows TiKV's `src/storage/txn/actions/`.

mod check_txn_status;
mod cleanup;
mod commit;
mod gc;
mod one_pc;
mod pessimistic_lock;
mod pessimistic_rollback;
mod prewrite;
mod rollback;

pub use check_txn_status::{
    MissingLockAction, TxnStatus, check_txn_status, check_txn_status_lock_exists,
    check_txn_status_missing_lock,
};
pub use cleanup::cleanup;
pub use commit::commit;
pub use gc::{GcInfo, MAX_TXN_WRITE_SIZE, gc};
pub use one_pc::commit_1pc;
pub use pessimistic_lock::acquire_pessimistic_lock;
pub use pessimistic_rollback::pessimistic_rollback;
pub use prewrite::{PrewriteProps, prewrite};
pub use rollback::{collapse_prev_rollback, make_rollback, rollback_lock};
