//! # Pessimistic rollback
//!
//! When a statement of a pessimistic transaction fails (a write conflict,
//! a deadlock), the locks it took are released without touching anything
//! else: this transaction's `Pessimistic` lock on the key is removed if it
//! was taken at or below `for_update_ts`. Prewritten locks, other
//! transactions' locks and locks taken by a later statement stay. No
//! rollback record is written — the transaction itself goes on.
//!
//! Follows TiKV's `src/storage/txn/commands/pessimistic_rollback.rs`.

use crate::Result;
use crate::mvcc::{MvccReader, MvccTxn};
use crate::types::{Key, TimeStamp};

pub fn pessimistic_rollback(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<'_>,
    key: Key,
    for_update_ts: TimeStamp,
) -> Result<()> {
    if let Some(lock) = reader.load_lock(&key)?
        && lock.is_pessimistic_lock()
        && lock.ts == txn.start_ts
        && lock.for_update_ts <= for_update_ts
    {
        txn.unlock_key(key);
    }
    Ok(())
}
