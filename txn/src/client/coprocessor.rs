//! The client side of coprocessor scans: one pushed-down table scan walked
//! region by region and page by page, with locks resolved on the way.
//!
//! A scan reads each region from its leader's row store, or — when the
//! task asks for the columnar engine — from the region's learner on a
//! columnar store (`columnar::service`), in two steps:
//!
//! ```text
//!   leader:   KvReadBarrier(ts, range)   no 1PC below ts still in flight
//!   learner:  Flight DoGet(ts, range)    ReadIndex, wait applied, locks, rows
//! ```
//!
//! A region whose columnar replica cannot answer (none placed yet, a
//! learner that lags past the store's timeout, a columnar store down)
//! is read from the row store instead, at the same ts: the answer is the
//! same, only slower, and [`Page::fell_back`] says so.
//!
//! [`CopScan::pages`] reads up to `scan_concurrency` regions at once (as
//! TiDB's copIterator does): a driver walks the range region by region,
//! each region's part runs as its own sequential scan (which follows
//! splits inside the part), and the parts' pages are handed on in key
//! order through one bounded channel per part. A scan with a row limit
//! stays sequential, so it stops reading once the limit is met.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow_flight::flight_service_client::FlightServiceClient;
use copr::arrow::array::RecordBatch;
use copr::{PlanFragment, decode_batches};
use futures::channel::mpsc;
use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt};
use kv::client::RegionLocation;
use proto::kvrpcpb::{CopRequest, CopResponse, ReadBarrierRequest, TableScan};
use proto::metapb::{Peer, PeerRole};

use super::rpc::{Rpc, context};
use super::snapshot::Snapshot;
use crate::coprocessor::flight;
use crate::pb::{check, check_region, from_key_error, lock_info_from_pb, status_err};
use crate::types::Key;
use crate::{Error, Result};

/// Attempts at one region's columnar replica (routing errors such as a
/// split in between) before the region is read from the row store.
const COLUMNAR_ATTEMPTS: usize = 3;

/// How long a learner answering `NotLeader` is asked again before the
/// region is read from the row store: it knows no leader yet (a region
/// just born from a split), or it is a newer peer than the cached region
/// names (the learner was replaced; PD hears of it within a heartbeat).
const LEARNER_NOT_LEADER_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// What to run on the stores, the same for every region and page.
#[derive(Debug, Clone, Default)]
pub struct CopTask {
    pub scan: TableScan,
    /// Encoded filter conjuncts (`copr::encode_filter`).
    pub filters: Vec<Vec<u8>>,
    /// Indexes of the scan columns returned.
    pub output: Vec<u32>,
    /// Rows wanted in all (None: every row).
    pub limit: Option<usize>,
    /// Records per page (0: the store's default).
    pub page_records: u32,
    /// Read the columnar replicas (learners on columnar stores).
    pub columnar: bool,
    /// Operators run over each region's rows where they are read (a
    /// partial aggregate, a top-N); pages then carry the plan's output.
    /// Only with `columnar` and no `limit`.
    pub plan: Option<Arc<PlanFragment>>,
}

/// One page of a scan: rows (or a pushed plan's output) and what the
/// stores did for them.
#[derive(Debug, Default)]
pub struct Page {
    pub batches: Vec<RecordBatch>,
    /// Records the stores scanned for this page.
    pub scanned: u64,
    /// The region was read from the row store although the task asked
    /// for its columnar replica.
    pub fell_back: bool,
}

/// Pages of one region's part of a parallel scan, in key order.
type PartPages = mpsc::Receiver<Result<Page>>;

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
    scanned: u64,
    /// Regions read from the row store although the task asked for the
    /// columnar one.
    fallbacks: u64,
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
            fallbacks: 0,
        }
    }
}

impl CopScan {
    /// Every page of the scan, in key order, with up to the client's
    /// `scan_concurrency` regions read at once (one at a time with a row
    /// limit). Dropping the stream stops the reads after the requests in
    /// flight.
    pub fn pages(self) -> BoxStream<'static, Result<Page>> {
        let concurrency = self.snapshot.shared.config.scan_concurrency;
        if concurrency <= 1 || self.task.limit.is_some() {
            return self.sequential();
        }
        let (mut parts_tx, parts) = mpsc::channel::<PartPages>(concurrency);
        let running = Arc::new(tokio::sync::Semaphore::new(concurrency));
        tokio::spawn(async move {
            let rpc = self.snapshot.shared.rpc.clone();
            let mut lo = self.lo.clone();
            loop {
                // Parts take their permits in key order, so the part being
                // handed on always runs.
                let Ok(permit) = running.clone().acquire_owned().await else {
                    return;
                };
                let (mut tx, rx) = mpsc::channel(2);
                if parts_tx.send(rx).await.is_err() {
                    return; // the reader is gone
                }
                let region_end = match rpc.locate_encoded(&lo).await {
                    Ok(loc) => loc.region.end_key,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                let last = region_end.is_empty() || (!self.hi.is_empty() && region_end >= self.hi);
                let part = self.part(
                    lo,
                    if last {
                        self.hi.clone()
                    } else {
                        region_end.clone()
                    },
                );
                tokio::spawn(async move {
                    let _permit = permit;
                    let mut pages = part.sequential();
                    while let Some(page) = pages.next().await {
                        let failed = page.is_err();
                        if tx.send(page).await.is_err() || failed {
                            return;
                        }
                    }
                });
                if last {
                    return;
                }
                lo = region_end;
            }
        });
        parts.flatten().boxed()
    }

    /// The scan of encoded keys `[lo, hi)` with this one's snapshot and task.
    fn part(&self, lo: Vec<u8>, hi: Vec<u8>) -> CopScan {
        CopScan {
            snapshot: self.snapshot.clone(),
            task: self.task.clone(),
            lo,
            hi,
            remaining: self.remaining,
            done: false,
            scanned: 0,
            fallbacks: 0,
        }
    }

    /// Pages one region at a time.
    fn sequential(self) -> BoxStream<'static, Result<Page>> {
        futures::stream::try_unfold(self, |mut scan| async move {
            let (scanned, fallbacks) = (scan.scanned, scan.fallbacks);
            Ok(scan.next_page().await?.map(|batches| {
                let page = Page {
                    batches,
                    scanned: scan.scanned - scanned,
                    fell_back: scan.fallbacks > fallbacks,
                };
                (page, scan)
            }))
        })
        .boxed()
    }

    /// The next page's rows (possibly none), or None once the range is
    /// done or the limit reached.
    pub async fn next_page(&mut self) -> Result<Option<Vec<RecordBatch>>> {
        if self.done || self.remaining == Some(0) {
            return Ok(None);
        }
        if self.task.columnar {
            let shared = self.snapshot.shared.clone();
            let stats = &shared.columnar;
            match self.columnar_page().await {
                Ok((resp, batches, region_end)) => {
                    tracing::debug!(table = self.task.scan.table_id, "columnar page");
                    stats.regions.fetch_add(1, Ordering::Relaxed);
                    self.advance(&resp, &batches, region_end);
                    return Ok(Some(batches));
                }
                Err(Error::Kv(e)) => {
                    tracing::debug!("columnar replica unavailable, reading the row store: {e}");
                    stats.fallbacks.fetch_add(1, Ordering::Relaxed);
                    self.fallbacks += 1;
                }
                Err(e) => return Err(e),
            }
        }
        let (resp, region_end) = self.row_page().await?;
        let batches = decode_batches(&resp.data)?;
        self.advance(&resp, &batches, region_end);
        match &self.task.plan {
            // Row stores run no plans: run it here over their rows.
            Some(plan) => Ok(Some(plan.run(batches).await?)),
            None => Ok(Some(batches)),
        }
    }

    fn request(&self) -> CopRequest {
        CopRequest {
            context: None,
            start_ts: self.snapshot.ts().into_inner(),
            start_key: self.lo.clone(),
            end_key: self.hi.clone(),
            resolved_locks: self.snapshot.passable(),
            scan: Some(self.task.scan.clone()),
            filters: self.task.filters.clone(),
            output: self.task.output.clone(),
            limit: self.remaining.unwrap_or(0) as u64,
            page_records: self.task.page_records,
            plan: Vec::new(),
        }
    }

    /// One page from the region leader's row store, locks resolved.
    async fn row_page(&mut self) -> Result<(CopResponse, Vec<u8>)> {
        let mut backoff = self.snapshot.backoff();
        loop {
            let req = self.request();
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
            return Ok((resp, region_end));
        }
    }

    /// One region's part from its columnar learner (over Arrow Flight,
    /// see [`flight`]), locks resolved. A `Error::Kv` means the replica
    /// could not answer (read the row store).
    async fn columnar_page(&mut self) -> Result<(CopResponse, Vec<RecordBatch>, Vec<u8>)> {
        let mut backoff = self.snapshot.backoff();
        let mut attempts = 0;
        let started = std::time::Instant::now();
        loop {
            attempts += 1;
            let rpc = &self.snapshot.shared.rpc;
            let ts = self.snapshot.ts().into_inner();
            let (lo, hi) = (self.lo.clone(), self.hi.clone());
            let loc = rpc
                .call_encoded(&self.lo, |mut c, ctx, loc| {
                    let req = ReadBarrierRequest {
                        context: Some(ctx),
                        start_ts: ts,
                        start_key: lo.clone(),
                        end_key: hi.clone(),
                    };
                    async move {
                        let resp = c
                            .kv_read_barrier(req)
                            .await
                            .map_err(status_err)?
                            .into_inner();
                        check(resp.region_error, resp.error)?;
                        Ok(loc)
                    }
                })
                .await?;
            let result = async {
                let learner = columnar_learner(rpc, &loc).await?;
                let cache = rpc.cache();
                let channel = cache.channel(&cache.store_addr(learner.store_id).await?)?;
                let mut client = FlightServiceClient::new(channel);
                let mut req = self.request();
                if let Some(plan) = &self.task.plan {
                    req.plan = plan.bytes().to_vec();
                }
                let mut ctx = context(&loc, learner);
                ctx.replica_read = true;
                req.context = Some(ctx);
                let stream = client
                    .do_get(flight::ticket(&req))
                    .await
                    .map_err(status_err)?
                    .into_inner();
                let (resp, batches) = flight::decode(stream).await?;
                check(resp.region_error.clone(), resp.error.clone())?;
                Ok::<_, Error>((resp, batches))
            }
            .await;
            match result {
                Ok((resp, _)) if !resp.locks.is_empty() => {
                    let locks = resp.locks.iter().map(lock_info_from_pb).collect();
                    self.snapshot.resolve(locks, &mut backoff).await?;
                }
                Ok((resp, batches)) => return Ok((resp, batches, loc.region.end_key)),
                Err(Error::Kv(e))
                    if attempts < COLUMNAR_ATTEMPTS
                        || (matches!(e, kv::Error::NotLeader { .. })
                            && started.elapsed() < LEARNER_NOT_LEADER_WAIT) =>
                {
                    match &e {
                        kv::Error::EpochNotMatch(regions) => rpc
                            .cache()
                            .on_epoch_not_match(loc.region.id, regions.clone()),
                        // The cached region may predate its learner
                        // (membership changes keep the epoch's version):
                        // ask PD again.
                        kv::Error::Transport(_)
                        | kv::Error::StoreNotMatch { .. }
                        | kv::Error::NotLeader { .. }
                        | kv::Error::RegionNotFound(_) => rpc.cache().invalidate(loc.region.id),
                        _ => {}
                    }
                    if !matches!(
                        e,
                        kv::Error::EpochNotMatch(_) | kv::Error::RegionNotFound(_)
                    ) {
                        backoff.wait(e).await?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Counts a page's rows and moves the scan past it.
    fn advance(&mut self, resp: &CopResponse, batches: &[RecordBatch], region_end: Vec<u8>) {
        self.scanned += resp.scanned_records;
        if let Some(r) = &mut self.remaining {
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            *r = r.saturating_sub(rows);
        }
        if !resp.resume_key.is_empty() {
            self.lo = resp.resume_key.clone();
        } else if region_end.is_empty() || (!self.hi.is_empty() && region_end >= self.hi) {
            self.done = true;
        } else {
            self.lo = region_end;
        }
    }
}

/// The region's learner on a columnar store, or an error (the region has
/// no columnar replica yet).
async fn columnar_learner(rpc: &Rpc, loc: &RegionLocation) -> Result<Peer> {
    for p in &loc.region.peers {
        if p.role != PeerRole::Learner as i32 {
            continue;
        }
        let store = rpc.cache().store(p.store_id).await?;
        if pd::core::is_columnar(&store) {
            return Ok(*p);
        }
    }
    Err(Error::Kv(kv::Error::RegionNotFound(loc.region.id)))
}
