//! The `AcquirePessimisticLock` and `PessimisticRollback` commands.
//!
//! Locking stops at the first error with no writes; `KeyIsLocked` is
//! returned as an error so the scheduler can park the request in the lock
//! waiter queue and retry it when the lock goes.

use super::write_result::WriteResult;
use crate::Result;
use crate::actions;
use crate::mvcc::{MvccReader, MvccTxn};
use crate::types::{Key, TimeStamp, Value};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PessimisticLockArgs {
    /// Keys with their `should_not_exist` flag.
    pub keys: Vec<(Key, bool)>,
    /// Raw primary key.
    pub primary: Vec<u8>,
    pub start_ts: TimeStamp,
    pub lock_ttl: u64,
    pub for_update_ts: TimeStamp,
    /// Return each key's newest committed value.
    pub return_values: bool,
    pub min_commit_ts: TimeStamp,
}

/// Returns one value per key when `return_values`, none otherwise.
pub fn acquire_pessimistic_lock(
    reader: &mut MvccReader<'_>,
    args: &PessimisticLockArgs,
) -> Result<WriteResult<Vec<Option<Value>>>> {
    let mut txn = MvccTxn::new(args.start_ts);
    let mut values = vec![];
    for (key, should_not_exist) in &args.keys {
        let value = actions::acquire_pessimistic_lock(
            &mut txn,
            reader,
            key.clone(),
            &args.primary,
            *should_not_exist,
            args.lock_ttl,
            args.for_update_ts,
            args.return_values,
            args.min_commit_ts,
        )?;
        if args.return_values {
            values.push(value);
        }
    }
    Ok(WriteResult {
        modifies: txn.into_modifies(),
        output: values,
    })
}

pub fn pessimistic_rollback(
    reader: &mut MvccReader<'_>,
    keys: Vec<Key>,
    start_ts: TimeStamp,
    for_update_ts: TimeStamp,
) -> Result<WriteResult<()>> {
    let mut txn = MvccTxn::new(start_ts);
    for key in keys {
        actions::pessimistic_rollback(&mut txn, reader, key, for_update_ts)?;
    }
    Ok(WriteResult {
        modifies: txn.into_modifies(),
        output: (),
    })
}
