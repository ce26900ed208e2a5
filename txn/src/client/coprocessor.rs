//! The client side of coprocessor scans: one pushed-down table scan walked
//! region by region and page by page, with locks resolved on the way.

use datafusion::arrow::array::RecordBatch;
use proto::kvrpcpb::{CopRequest, TableScan};

use super::Snapshot;
use super::rpc::{check_region, from_key_error, status_err};
use crate::Result;
use crate::coprocessor::decode_batches;
use crate::service::lock_info_from_pb;
use crate::types::Key;

/// What to run on the stores, the same for every region and page.
#[derive(Debug, Clone, Default)]
pub struct CopTask {
    pub scan: TableScan,
    /// Encoded filter conjuncts (`coprocessor::encode_filter`).
    pub filters: Vec<Vec<u8>>,
    /// Indexes of the scan columns returned.
    pub output: Vec<u32>,
    /// Rows wanted in all (None: every row).
    pub limit: Option<usize>,
    /// Records per page (0: the store's default).
    pub page_records: u32,
}

/// A coprocessor scan in progress over raw-key range `[start, end)`.
pub struct CopScan {
    snapshot: Snapshot,
    task: CopTask,
    /// The encoded part of the range not answered yet.
    lo: Vec<u8>,
    hi: Vec<u8>,
    remaining: Option<usize>,
    done: bool,
    /// Records the stores scanned so far.
    pub scanned: u64,
}

impl Snapshot {
    /// Starts a coprocessor scan of raw keys `[start, end)` at this
    /// snapshot's ts.
    pub fn coprocessor(&self, start: &[u8], end: &[u8], task: CopTask) -> CopScan {
        let hi = if end.is_empty() {
            Vec::new()
        } else {
            Key::from_raw(end).into_encoded()
        };
        CopScan {
            snapshot: self.clone(),
            remaining: task.limit,
            task,
            lo: Key::from_raw(start).into_encoded(),
            hi,
            done: false,
            scanned: 0,
        }
    }
}

impl CopScan {
    /// The next page's rows (possibly none), or None once the range is
    /// done or the limit reached.
    pub async fn next_page(&mut self) -> Result<Option<Vec<RecordBatch>>> {
        if self.done || self.remaining == Some(0) {
            return Ok(None);
        }
        let mut backoff = self.snapshot.backoff();
        loop {
            let passable = self.snapshot.passable();
            let req = CopRequest {
                context: None,
                start_ts: self.snapshot.ts().into_inner(),
                start_key: self.lo.clone(),
                end_key: self.hi.clone(),
                resolved_locks: passable,
                scan: Some(self.task.scan.clone()),
                filters: self.task.filters.clone(),
                output: self.task.output.clone(),
                limit: self.remaining.unwrap_or(0) as u64,
                page_records: self.task.page_records,
            };
            let (resp, region_end) = self
                .snapshot
                .shared
                .rpc
                .call_encoded(&self.lo, |mut c, ctx, loc| {
                    let mut req = req.clone();
                    req.context = Some(ctx);
                    async move {
                        let resp = c.coprocessor(req).await.map_err(status_err)?.into_inner();
                        check_region(resp.region_error.clone())?;
                        if let Some(e) = resp.error.clone() {
                            return Err(from_key_error(e));
                        }
                        Ok((resp, loc.region.end_key))
                    }
                })
                .await?;
            if !resp.locks.is_empty() {
                // Resolve, then ask for the same page again.
                let locks = resp.locks.iter().map(lock_info_from_pb).collect();
                self.snapshot.resolve(locks, &mut backoff).await?;
                continue;
            }
            self.scanned += resp.scanned_records;
            let batches = decode_batches(&resp.data)?;
            if let Some(r) = &mut self.remaining {
                let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                *r = r.saturating_sub(rows);
            }
            if !resp.resume_key.is_empty() {
                self.lo = resp.resume_key;
            } else if region_end.is_empty() || (!self.hi.is_empty() && region_end >= self.hi) {
                self.done = true;
            } else {
                self.lo = region_end;
            }
            return Ok(Some(batches));
        }
    }
}
