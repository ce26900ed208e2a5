//! The `Commit` command: commit every key, or fail with no writes.

use super::write_result::WriteResult;
use crate::actions;
use crate::mvcc::{MvccReader, MvccTxn};
use crate::types::{Key, TimeStamp};
use crate::{Error, Result};

pub fn commit(
    reader: &mut MvccReader<'_>,
    keys: Vec<Key>,
    start_ts: TimeStamp,
    commit_ts: TimeStamp,
) -> Result<WriteResult<()>> {
    if commit_ts <= start_ts {
        return Err(Error::InvalidTxnTso {
            start_ts,
            commit_ts,
        });
    }
    let mut txn = MvccTxn::new(start_ts);
    for key in keys {
        actions::commit(&mut txn, reader, key, commit_ts)?;
    }
    Ok(WriteResult {
        modifies: txn.into_modifies(),
        output: (),
    })
}
