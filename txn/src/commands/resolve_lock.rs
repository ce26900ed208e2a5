//! The `ResolveLock` command: once the fate of transaction `start_ts` is
//! known (from its primary), commit (`commit_ts` non-zero) or roll back
//! (`commit_ts` zero) its locks in `[start, end)`, at most `limit` at a time
//! (0 = all). `next_key` is where the next batch starts (inclusive) when
//! more remain; the locks of this batch are gone once its modifies are
//! applied.

use super::write_result::WriteResult;
use crate::actions;
use crate::mvcc::{MvccReader, MvccTxn};
use crate::types::{Key, TimeStamp};
use crate::{Error, Result};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolveOutput {
    pub resolved: usize,
    pub next_key: Option<Key>,
}

pub fn resolve_lock(
    reader: &mut MvccReader<'_>,
    start_ts: TimeStamp,
    commit_ts: TimeStamp,
    start: Option<Key>,
    end: Option<Key>,
    limit: usize,
) -> Result<WriteResult<ResolveOutput>> {
    if !commit_ts.is_zero() && commit_ts <= start_ts {
        return Err(Error::InvalidTxnTso {
            start_ts,
            commit_ts,
        });
    }
    let (locks, more) = reader.scan_locks(
        start.as_ref(),
        end.as_ref(),
        |lock| lock.ts == start_ts,
        limit,
    )?;
    let mut txn = MvccTxn::new(start_ts);
    for (key, _) in &locks {
        if commit_ts.is_zero() {
            actions::cleanup(&mut txn, reader, key.clone(), TimeStamp::zero(), false)?;
        } else {
            actions::commit(&mut txn, reader, key.clone(), commit_ts)?;
        }
    }
    let next_key = if more {
        locks.last().map(|(k, _)| k.clone())
    } else {
        None
    };
    Ok(WriteResult {
        modifies: txn.into_modifies(),
        output: ResolveOutput {
            resolved: locks.len(),
            next_key,
        },
    })
}
