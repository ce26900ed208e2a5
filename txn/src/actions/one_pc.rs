//! # One-phase commit
//!
//! A transaction whose mutations all fit in one region, prewritten in one
//! command with `try_one_pc`, needs no second phase: prewrite checks every
//! key as usual but keeps the locks back (in
//! [`MvccTxn::locks_for_1pc`](crate::mvcc::MvccTxn)), and [`commit_1pc`]
//! writes the commit records at once. No lock is ever visible, so no
//! reader waits and nothing is left to resolve.
//!
//! Follows TiKV's `handle_1pc_locks` in `src/storage/txn/commands/prewrite.rs`.

use crate::mvcc::MvccTxn;
use crate::types::{TimeStamp, Write, WriteType};

/// Turns the locks a `try_one_pc` prewrite kept back into write records at
/// `commit_ts`, removing the pessimistic locks they replace.
pub fn commit_1pc(txn: &mut MvccTxn, commit_ts: TimeStamp) {
    for one_pc in std::mem::take(&mut txn.locks_for_1pc) {
        let write_type = WriteType::from_lock_type(one_pc.lock.lock_type)
            .expect("prewrite never leaves a pessimistic lock");
        let write = Write::new(write_type, txn.start_ts, one_pc.lock.short_value);
        txn.put_write(one_pc.key.clone(), commit_ts, write.to_bytes());
        if one_pc.remove_pessimistic_lock {
            txn.unlock_key(one_pc.key);
        }
    }
}
