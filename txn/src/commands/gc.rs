//! The GC command for one range: collects (see [`actions::gc`]) the keys
//! with write records in `[start, end)`, at most `limit_keys` of them
//! (0 = all) and at most about [`actions::MAX_TXN_WRITE_SIZE`] bytes of
//! deletions. `next_key` is where the next call starts (inclusive), `None`
//! when the range is done.

use super::write_result::WriteResult;
use crate::Result;
use crate::actions::{self, MAX_TXN_WRITE_SIZE};
use crate::mvcc::{MvccReader, MvccTxn};
use crate::types::{Key, TimeStamp};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcOutput {
    pub next_key: Option<Key>,
    pub deleted_versions: usize,
}

pub fn gc(
    reader: &mut MvccReader<'_>,
    start: Key,
    end: Option<Key>,
    safe_point: TimeStamp,
    limit_keys: usize,
) -> Result<WriteResult<GcOutput>> {
    // One key more than asked for tells where the next call starts.
    let scan_limit = if limit_keys == 0 { 0 } else { limit_keys + 1 };
    let (mut keys, _) = reader.scan_write_keys(Some(&start), end.as_ref(), scan_limit)?;
    let mut next_key =
        (limit_keys != 0 && keys.len() > limit_keys).then(|| keys.remove(limit_keys));
    let mut txn = MvccTxn::new(TimeStamp::zero());
    let mut deleted_versions = 0;
    let mut keys = keys.into_iter().peekable();
    while let Some(key) = keys.next() {
        let info = actions::gc(&mut txn, reader, key.clone(), safe_point)?;
        deleted_versions += info.deleted_versions;
        if !info.is_completed {
            next_key = Some(key);
            break;
        }
        if txn.write_size() >= MAX_TXN_WRITE_SIZE
            && let Some(next) = keys.peek()
        {
            next_key = Some(next.clone());
            break;
        }
    }
    Ok(WriteResult {
        modifies: txn.into_modifies(),
        output: GcOutput {
            next_key,
            deleted_versions,
        },
    })
}
