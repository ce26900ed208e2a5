//! The `Prewrite` command (optimistic and pessimistic, with optional 1PC).
//!
//! Every mutation is prewritten; `KeyIsLocked` is collected per key and
//! any other error aborts. As in TiKV, if any key is locked *nothing* is
//! written ("skip write stage if some keys are locked"): the client
//! resolves the locks and retries the whole prewrite, which is idempotent.
//!
//! With `one_pc_commit_ts`, a prewrite that finds no locks commits at once:
//! the locks become write records. The commit ts is raised to the largest
//! `min_commit_ts` of the locks if that is higher (a reader pushed a
//! pessimistic lock), as TiKV derives its 1PC commit ts from
//! `min_commit_ts`; the ts used is returned.

use std::cmp;

use super::write_result::WriteResult;
use crate::actions::{self, PrewriteProps};
use crate::mvcc::{MvccReader, MvccTxn};
use crate::types::{LockInfo, Mutation, TimeStamp};
use crate::{Error, Result};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrewriteArgs {
    pub mutations: Vec<Mutation>,
    /// Raw primary key.
    pub primary: Vec<u8>,
    pub start_ts: TimeStamp,
    pub lock_ttl: u64,
    pub txn_size: u64,
    /// Zero for optimistic transactions.
    pub for_update_ts: TimeStamp,
    /// Per mutation: whether it holds a pessimistic lock. Empty = none.
    pub is_pessimistic_lock: Vec<bool>,
    pub min_commit_ts: TimeStamp,
    /// Commit in one phase at this ts if nothing is locked.
    pub one_pc_commit_ts: Option<TimeStamp>,
    /// Non-zero: the largest ts a one-phase commit may take (the store
    /// prewrites as usual when its ts would be larger).
    pub max_commit_ts: TimeStamp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrewriteOutput {
    /// Locks of other transactions that stopped the prewrite.
    pub locks: Vec<LockInfo>,
    /// The largest `min_commit_ts` among the written locks.
    pub min_commit_ts: TimeStamp,
    /// The commit ts, when committed in one phase.
    pub one_pc_commit_ts: Option<TimeStamp>,
}

pub fn prewrite(
    reader: &mut MvccReader<'_>,
    args: &PrewriteArgs,
) -> Result<WriteResult<PrewriteOutput>> {
    if !args.is_pessimistic_lock.is_empty()
        && args.is_pessimistic_lock.len() != args.mutations.len()
    {
        return Err(Error::InvalidArgument(format!(
            "{} is_pessimistic_lock flags for {} mutations",
            args.is_pessimistic_lock.len(),
            args.mutations.len()
        )));
    }
    if let Some(commit_ts) = args.one_pc_commit_ts
        && commit_ts <= args.start_ts
    {
        return Err(Error::InvalidTxnTso {
            start_ts: args.start_ts,
            commit_ts,
        });
    }
    let props = PrewriteProps {
        start_ts: args.start_ts,
        primary: args.primary.clone(),
        lock_ttl: args.lock_ttl,
        txn_size: args.txn_size,
        for_update_ts: args.for_update_ts,
        min_commit_ts: args.min_commit_ts,
        try_one_pc: args.one_pc_commit_ts.is_some(),
    };
    let mut txn = MvccTxn::new(args.start_ts);
    let mut locks = vec![];
    let mut min_commit_ts = TimeStamp::zero();
    for (i, mutation) in args.mutations.iter().enumerate() {
        let is_pessimistic_lock = args.is_pessimistic_lock.get(i).copied().unwrap_or(false);
        match actions::prewrite(
            &mut txn,
            reader,
            &props,
            mutation.clone(),
            is_pessimistic_lock,
        ) {
            Ok(ts) => min_commit_ts = cmp::max(min_commit_ts, ts),
            Err(Error::KeyIsLocked(info)) => locks.push(info),
            Err(e) => return Err(e),
        }
    }
    if !locks.is_empty() {
        return Ok(WriteResult {
            modifies: vec![],
            output: PrewriteOutput {
                locks,
                ..PrewriteOutput::default()
            },
        });
    }
    let one_pc_commit_ts = match args.one_pc_commit_ts {
        None => None,
        Some(commit_ts) => one_pc_outcome(reader, args, &mut txn, commit_ts, min_commit_ts)?,
    };
    Ok(WriteResult {
        modifies: txn.into_modifies(),
        output: PrewriteOutput {
            locks,
            min_commit_ts,
            one_pc_commit_ts,
        },
    })
}

/// Decides a 1PC prewrite that found no locks. Normally every written key
/// commits at `commit_ts`. Two retries need care:
///
/// * every key is already committed by this transaction (an earlier 1PC
///   attempt whose answer was lost): nothing is written and the commit ts
///   found is returned, so the client learns the real one;
/// * some key already holds this transaction's own prewrite lock (an
///   earlier 2PC attempt): 1PC would commit the rest and leave that lock,
///   so the prewrite falls back to 2PC and writes locks.
fn one_pc_outcome(
    reader: &mut MvccReader<'_>,
    args: &PrewriteArgs,
    txn: &mut MvccTxn,
    commit_ts: TimeStamp,
    min_commit_ts: TimeStamp,
) -> Result<Option<TimeStamp>> {
    let writing = args
        .mutations
        .iter()
        .filter(|m| !m.should_not_write())
        .count();
    if txn.locks_for_1pc.len() == writing {
        let commit_ts = cmp::max(commit_ts, min_commit_ts);
        actions::commit_1pc(txn, commit_ts);
        return Ok(Some(commit_ts));
    }
    if txn.locks_for_1pc.is_empty()
        && let Some(m) = args.mutations.iter().find(|m| !m.should_not_write())
        && let Some(committed_at) = reader
            .get_txn_commit_record(m.key(), args.start_ts)?
            .committed()
    {
        return Ok(Some(committed_at));
    }
    for one_pc in std::mem::take(&mut txn.locks_for_1pc) {
        txn.put_lock(one_pc.key, &one_pc.lock);
    }
    Ok(None)
}
