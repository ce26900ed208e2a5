//! Snapshot reads: everything committed at or before one timestamp.
//!
//! A read that meets a lock at or below its ts cannot know yet whether the
//! locked write belongs to its snapshot, so it asks the
//! [`LockResolver`](super::lock_resolver::LockResolver): a committed or
//! dead transaction's lock is resolved, a live one has its `min_commit_ts`
//! pushed above the read's ts (it will commit later than the read, so the
//! read may skip it), and only when neither works does the read wait.
//! Read-only snapshots never write locks, so they never block writers.
//!
//! A [`Snapshot`] at any ts at or above the GC safe point is a consistent
//! historical view — what `AS OF TIMESTAMP` uses.

use kv::client::Backoff;
use proto::kvrpcpb::*;

use super::shared::Shared;
use crate::pb::{check, check_region, from_key_error, status_err};
use crate::types::{Key, LockInfo, TimeStamp, Value};
use crate::{Error, Result};

/// A consistent read view at one timestamp.
#[derive(Clone)]
pub struct Snapshot {
    pub(super) shared: std::sync::Arc<Shared>,
    ts: TimeStamp,
    /// Live transactions whose locks this snapshot may pass: their
    /// `min_commit_ts` was pushed above `ts`.
    resolved: std::sync::Arc<parking_lot::Mutex<Vec<u64>>>,
}

/// One key's read outcome inside a region batch.
type Pairs = Vec<(Vec<u8>, Value)>;

impl Snapshot {
    pub(super) fn new(shared: std::sync::Arc<Shared>, ts: TimeStamp) -> Snapshot {
        Snapshot {
            shared,
            ts,
            resolved: Default::default(),
        }
    }

    pub fn ts(&self) -> TimeStamp {
        self.ts
    }

    pub(super) fn passable(&self) -> Vec<u64> {
        self.resolved.lock().clone()
    }

    pub(super) fn backoff(&self) -> Backoff {
        Backoff::new(self.shared.config.read_timeout)
    }

    /// Resolves the locks a read met, and waits if some are alive.
    pub(super) async fn resolve(&self, locks: Vec<LockInfo>, backoff: &mut Backoff) -> Result<()> {
        let resolved = self.shared.resolver.resolve(locks, self.ts).await?;
        {
            let mut passable = self.resolved.lock();
            for ts in resolved.pushed {
                if !passable.contains(&ts.into_inner()) {
                    passable.push(ts.into_inner());
                }
            }
        }
        if resolved.ms_before_expired > 0 {
            let e = kv::Error::ServerIsBusy("waiting for a live lock".into());
            backoff.wait(e).await?;
        }
        Ok(())
    }

    pub async fn get(&self, key: &[u8]) -> Result<Option<Value>> {
        self.get_inner(key, true).await
    }

    /// A point read at the largest timestamp: the newest committed value,
    /// with no TSO round trip (TiKV's max-ts point get). A single key
    /// read this way is linearizable: a transaction that committed before
    /// the read began either shows its write record or, while its commit
    /// is still rolling through secondaries, a lock. A lock is returned as
    /// `KeyIsLocked` and never resolved here (pushing a lock's
    /// `min_commit_ts` past the largest timestamp would wedge its
    /// transaction): the caller reads again with a real timestamp.
    pub(super) async fn get_max_ts(&self, key: &[u8]) -> Result<Option<Value>> {
        debug_assert!(self.ts.is_max());
        self.get_inner(key, false).await
    }

    async fn get_inner(&self, key: &[u8], resolve: bool) -> Result<Option<Value>> {
        let mut backoff = self.backoff();
        let ts = self.ts.into_inner();
        loop {
            let passable = self.passable();
            let result = self
                .shared
                .rpc
                .call(key, |mut c, ctx, _| {
                    let req = GetRequest {
                        context: Some(ctx),
                        key: key.to_vec(),
                        version: ts,
                        resolved_locks: passable.clone(),
                    };
                    async move {
                        let resp = c.kv_get(req).await.map_err(status_err)?.into_inner();
                        check(resp.region_error, resp.error)?;
                        Ok((!resp.not_found).then_some(resp.value))
                    }
                })
                .await;
            match result {
                Err(Error::KeyIsLocked(lock)) if resolve => {
                    self.resolve(vec![lock], &mut backoff).await?
                }
                other => return other,
            }
        }
    }

    /// The values of those `keys` that exist, in key order.
    pub async fn batch_get(&self, keys: Vec<Vec<u8>>) -> Result<Vec<(Vec<u8>, Value)>> {
        let mut backoff = self.backoff();
        let ts = self.ts.into_inner();
        let mut out = Vec::new();
        let mut pending: Vec<(Vec<u8>, ())> = keys.into_iter().map(|k| (k, ())).collect();
        while !pending.is_empty() {
            let passable = self.passable();
            let results = self
                .shared
                .rpc
                .for_each_group(std::mem::take(&mut pending), |mut c, ctx, items| {
                    let req = BatchGetRequest {
                        context: Some(ctx),
                        keys: items.into_iter().map(|(k, ())| k).collect(),
                        version: ts,
                        resolved_locks: passable.clone(),
                    };
                    async move {
                        let resp = c.kv_batch_get(req).await.map_err(status_err)?.into_inner();
                        check(resp.region_error, resp.error)?;
                        split_pairs(resp.pairs)
                    }
                })
                .await?;
            let mut locks = Vec::new();
            for (pairs, locked) in results {
                out.extend(pairs);
                locks.extend(locked);
            }
            if !locks.is_empty() {
                pending = locks.iter().map(|l| (l.key.clone(), ())).collect();
                self.resolve(locks, &mut backoff).await?;
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Pairs with raw keys in `[start, end)` (empty end: no bound), at most
    /// `limit` (0: no limit); ascending, or descending when `reverse`.
    pub async fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<(Vec<u8>, Value)>> {
        let lo = Key::from_raw(start).into_encoded();
        let hi = if end.is_empty() {
            vec![]
        } else {
            Key::from_raw(end).into_encoded()
        };
        self.scan_encoded(lo, hi, limit, reverse, false).await
    }

    /// Scans encoded bounds region by region.
    pub async fn scan_encoded(
        &self,
        lo: Vec<u8>,
        hi: Vec<u8>,
        limit: usize,
        reverse: bool,
        key_only: bool,
    ) -> Result<Vec<(Vec<u8>, Value)>> {
        let mut backoff = self.backoff();
        let ts = self.ts.into_inner();
        let mut out: Pairs = Vec::new();
        // The part of [lo, hi) not scanned yet.
        let (mut lo, mut hi) = (lo, hi);
        loop {
            let want = if limit == 0 {
                0
            } else {
                (limit - out.len()) as u32
            };
            // Forward scans walk regions from `lo`; reverse ones from the
            // region holding the key just below `hi`.
            let anchor = if reverse {
                key_before(&hi)
            } else {
                Some(lo.clone())
            };
            let Some(mut anchor) = anchor else {
                return Ok(out);
            };
            let passable = self.passable();
            if reverse {
                // The anchor only guesses the region holding the keys just
                // below `hi`; walk forward until it is that region.
                anchor = self.region_below(anchor, &hi).await?;
            }
            let (pairs, region_start, region_end) = self
                .shared
                .rpc
                .call_encoded(&anchor, |mut c, ctx, loc| {
                    let req = ScanRequest {
                        context: Some(ctx),
                        start_key: lo.clone(),
                        end_key: hi.clone(),
                        limit: want,
                        version: ts,
                        key_only,
                        reverse,
                        resolved_locks: passable.clone(),
                    };
                    async move {
                        let resp = c.kv_scan(req).await.map_err(status_err)?.into_inner();
                        check_region(resp.region_error)?;
                        if let Some(e) = resp.error {
                            return Err(from_key_error(e));
                        }
                        Ok((resp.pairs, loc.region.start_key, loc.region.end_key))
                    }
                })
                .await?;
            let (got, locks) = split_pairs(pairs)?;
            if !locks.is_empty() {
                // Resolve and scan this region again from the same place.
                self.resolve(locks, &mut backoff).await?;
                continue;
            }
            // A reverse scan must start in the region that holds the keys
            // just below `hi`; if routing moved (a split) and the region
            // answering ends below `hi`, the keys in between would be
            // skipped: drop the answer and locate again.
            if reverse && !region_end.is_empty() && (hi.is_empty() || region_end < hi) {
                continue;
            }
            out.extend(got);
            if limit != 0 && out.len() >= limit {
                out.truncate(limit);
                return Ok(out);
            }
            if reverse {
                if region_start.is_empty() || region_start <= lo {
                    return Ok(out);
                }
                hi = region_start;
            } else {
                if region_end.is_empty() || (!hi.is_empty() && region_end >= hi) {
                    return Ok(out);
                }
                lo = region_end;
            }
        }
    }
}

impl Snapshot {
    /// A key in the region that holds the keys just below `hi` (empty: the
    /// last region), starting from a guess at or below them.
    async fn region_below(&self, mut anchor: Vec<u8>, hi: &[u8]) -> Result<Vec<u8>> {
        loop {
            let loc = self
                .shared
                .rpc
                .cache()
                .locate(&anchor)
                .await
                .map_err(Error::from)?;
            let end = &loc.region.end_key;
            if end.is_empty() || (!hi.is_empty() && end.as_slice() >= hi) {
                return Ok(anchor);
            }
            anchor = end.clone();
        }
    }
}

/// Found pairs and locked keys of a batch get.
fn split_pairs(pairs: Vec<KvPair>) -> Result<(Pairs, Vec<LockInfo>)> {
    let mut found = Vec::new();
    let mut locks = Vec::new();
    for p in pairs {
        match p.error {
            Some(e) => match from_key_error(e) {
                Error::KeyIsLocked(l) => locks.push(l),
                other => return Err(other),
            },
            None => found.push((p.key, p.value)),
        }
    }
    Ok((found, locks))
}

/// A key that locates the region holding the keys just below `end` (empty:
/// the last region). None when nothing lies below.
fn key_before(end: &[u8]) -> Option<Vec<u8>> {
    // A guess only: `region_below` walks forward from it to the region that
    // really holds the keys just below `end`.
    if end.is_empty() {
        return Some(vec![0xff; 16]);
    }
    // Just below `end`: `end` minus one at its last byte, then 0xFF bytes.
    let mut k = end.to_vec();
    while let Some(last) = k.pop() {
        if last > 0 {
            k.push(last - 1);
            k.extend_from_slice(&[0xff; 16]);
            return Some(k);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::key_before;

    #[test]
    fn key_before_sorts_just_below() {
        let e = b"abc".to_vec();
        let k = key_before(&e).expect("exists");
        assert!(k < e);
        assert!(k > b"abb".to_vec());
        assert_eq!(key_before(&[0, 0]), None);
        assert!(key_before(b"").is_some());
    }
}
