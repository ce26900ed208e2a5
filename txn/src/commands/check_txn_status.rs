//! The `CheckTxnStatus` command: what became of transaction `lock_ts`,
//! asked of its primary key (see [`actions::check_txn_status`]).
//!
//! [`check_txn_status_resolving_pessimistic_lock`] is the variant TiDB
//! uses when the lock it is blocked by is a pessimistic one
//! (`resolving_pessimistic_lock` in kvrpcpb): an expired `Pessimistic`
//! primary is just removed, and a missing one is left alone
//! (`LockNotExistDoNothing`).

use super::write_result::WriteResult;
use crate::Result;
use crate::actions::{self, TxnStatus};
use crate::mvcc::{MvccReader, MvccTxn};
use crate::types::{Key, TimeStamp};

pub fn check_txn_status(
    reader: &mut MvccReader<'_>,
    primary: Key,
    lock_ts: TimeStamp,
    caller_start_ts: TimeStamp,
    current_ts: TimeStamp,
    rollback_if_not_exist: bool,
) -> Result<WriteResult<TxnStatus>> {
    run(
        reader,
        primary,
        lock_ts,
        caller_start_ts,
        current_ts,
        rollback_if_not_exist,
        false,
    )
}

pub fn check_txn_status_resolving_pessimistic_lock(
    reader: &mut MvccReader<'_>,
    primary: Key,
    lock_ts: TimeStamp,
    caller_start_ts: TimeStamp,
    current_ts: TimeStamp,
    rollback_if_not_exist: bool,
) -> Result<WriteResult<TxnStatus>> {
    run(
        reader,
        primary,
        lock_ts,
        caller_start_ts,
        current_ts,
        rollback_if_not_exist,
        true,
    )
}

fn run(
    reader: &mut MvccReader<'_>,
    primary: Key,
    lock_ts: TimeStamp,
    caller_start_ts: TimeStamp,
    current_ts: TimeStamp,
    rollback_if_not_exist: bool,
    resolving_pessimistic_lock: bool,
) -> Result<WriteResult<TxnStatus>> {
    let mut txn = MvccTxn::new(lock_ts);
    let status = actions::check_txn_status(
        &mut txn,
        reader,
        primary,
        caller_start_ts,
        current_ts,
        rollback_if_not_exist,
        resolving_pessimistic_lock,
    )?;
    Ok(WriteResult {
        modifies: txn.into_modifies(),
        output: status,
    })
}
