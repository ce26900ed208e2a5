//! Freeing the keys of dropped tables and indexes once GC has passed the
//! drop (TiDB's delete-range): DROP TABLE, TRUNCATE, DROP DATABASE and
//! the last step of DROP INDEX only record the key ranges
//! (`mDelRange`, [`crate::catalog::jobs::DeleteRange`]) in the
//! transaction that drops them, so the statement is quick and a read at a
//! timestamp before the drop still finds the data while GC keeps it.
//!
//! The DDL owner, when its queue is empty, stamps each new range with a
//! timestamp above the drop (its own read's) and, once PD's txn safe point
//! is past that stamp, deletes the range's keys in batches of 4,096
//! transactional deletes and then the record; GC then drops the versions.
//! Two owners racing (one deposed) conflict on the record and delete
//! nothing twice that matters: deleting a deleted key is a no-op.
//! A range is deleted at most once a round, a few batches at a time, so a
//! queued DDL job never waits long behind a big table's deletion.

use crate::catalog::jobs::{self, DeleteRange};
use crate::error::Result;
use crate::session::shared::Shared;

/// Keys deleted per transaction.
const BATCH: usize = 4096;
/// Batches per range per round.
const BATCHES_PER_ROUND: usize = 16;

/// One round over the pending ranges.
pub(crate) async fn run(shared: &Shared) -> Result<()> {
    let txn = shared.client.begin().await?;
    let pending = jobs::delete_ranges(&txn).await?;
    if pending.is_empty() {
        return Ok(());
    }
    let read_ts = txn.start_ts().into_inner();
    let safe_point = shared.pd.get_gc_safe_point().await?.safe_point;
    for (key, range) in pending {
        match range.ts {
            None => stamp(shared, key, range, read_ts).await?,
            Some(ts) if ts < safe_point => delete(shared, key, range).await?,
            Some(_) => {}
        }
    }
    Ok(())
}

async fn stamp(shared: &Shared, key: Vec<u8>, mut range: DeleteRange, ts: u64) -> Result<()> {
    range.ts = Some(ts);
    let mut txn = shared.client.begin().await?;
    let result: Result<()> = async {
        jobs::put_delete_range(&mut txn, key, &range).await?;
        txn.commit().await?;
        Ok(())
    }
    .await;
    if result.is_err() {
        let _ = txn.rollback().await;
    }
    result
}

/// Deletes up to [`BATCHES_PER_ROUND`] batches of the range's keys; the
/// record goes (or shrinks to what is left) in the last batch's
/// transaction.
async fn delete(shared: &Shared, key: Vec<u8>, mut range: DeleteRange) -> Result<()> {
    for _ in 0..BATCHES_PER_ROUND {
        let mut txn = shared.client.begin().await?;
        let result: Result<bool> = async {
            let batch = txn.scan(&range.start, &range.end, BATCH, false).await?;
            let done = batch.len() < BATCH;
            if let Some((last, _)) = batch.last() {
                range.start = last.clone();
                range.start.push(0);
            }
            for (k, _) in batch {
                txn.delete(k).await?;
            }
            if done {
                txn.delete(key.clone()).await?;
            } else {
                jobs::put_delete_range(&mut txn, key.clone(), &range).await?;
            }
            txn.commit().await?;
            Ok(done)
        }
        .await;
        match result {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => {
                let _ = txn.rollback().await;
                return Err(e);
            }
        }
    }
    Ok(())
}
