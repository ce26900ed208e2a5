//! The `Cleanup` and `BatchRollback` commands.
//!
//! `Cleanup` rolls back one key once its lock's TTL has expired by
//! `current_ts` (zero: unconditionally) and protects the rollback record.
//! `BatchRollback` is the client's own abort: unconditional, and its
//! rollback records may be collapsed later.

use super::write_result::WriteResult;
use crate::Result;
use crate::actions;
use crate::mvcc::{MvccReader, MvccTxn};
use crate::types::{Key, TimeStamp};

pub fn cleanup(
    reader: &mut MvccReader<'_>,
    key: Key,
    start_ts: TimeStamp,
    current_ts: TimeStamp,
) -> Result<WriteResult<()>> {
    let mut txn = MvccTxn::new(start_ts);
    actions::cleanup(&mut txn, reader, key, current_ts, true)?;
    Ok(WriteResult {
        modifies: txn.into_modifies(),
        output: (),
    })
}

pub fn batch_rollback(
    reader: &mut MvccReader<'_>,
    keys: Vec<Key>,
    start_ts: TimeStamp,
) -> Result<WriteResult<()>> {
    let mut txn = MvccTxn::new(start_ts);
    for key in keys {
        actions::cleanup(&mut txn, reader, key, TimeStamp::zero(), false)?;
    }
    Ok(WriteResult {
        modifies: txn.into_modifies(),
        output: (),
    })
}
