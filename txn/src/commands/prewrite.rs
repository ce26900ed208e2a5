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

use super::WriteResult;
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
    let one_pc_commit_ts = args.one_pc_commit_ts.map(|commit_ts| {
        let commit_ts = cmp::max(commit_ts, min_commit_ts);
        actions::commit_1pc(&mut txn, commit_ts);
        commit_ts
    });
    Ok(WriteResult {
        modifies: txn.into_modifies(),
        output: PrewriteOutput {
            locks,
            min_commit_ts,
            one_pc_commit_ts,
        },
    })
}
