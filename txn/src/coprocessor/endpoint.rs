//! The store side of a coprocessor request: one page of an MVCC scan of the
//! region ([`Storage::scan_page`]: rows, or the locks in the page's range
//! that block the read), run through the request's [`Fragment`].

use copr::{Fragment, encode_batches};
use proto::kvrpcpb::CopRequest;

use crate::storage::Storage;
use crate::types::{LockInfo, TimeStamp};
use crate::{Error, Result};

/// Records scanned per page when the request does not say.
pub const DEFAULT_PAGE_RECORDS: usize = 4096;

/// The most records one page may scan, whatever the request asks.
const MAX_PAGE_RECORDS: usize = 65_536;

/// What one coprocessor call found.
#[derive(Debug, Default)]
pub struct CopOutcome {
    /// Arrow IPC stream of the rows kept (empty: none).
    pub data: Vec<u8>,
    /// Where the next page starts (encoded; empty: this region is done).
    pub resume_key: Vec<u8>,
    pub scanned: u64,
    /// Locks in the way: nothing else is answered.
    pub locks: Vec<LockInfo>,
}

impl Storage {
    /// Scans one page of `[start_key, end_key)` ∩ the region at
    /// `start_ts` and runs the request's fragment over it.
    pub async fn coprocessor(&self, req: CopRequest) -> Result<CopOutcome> {
        let scan = req
            .scan
            .as_ref()
            .ok_or_else(|| Error::InvalidArgument("coprocessor request without a scan".into()))?;
        let fragment = Fragment::new(scan, &req.filters, &req.output, req.limit)?;
        let page_records = match req.page_records as usize {
            0 => DEFAULT_PAGE_RECORDS,
            n => n.min(MAX_PAGE_RECORDS),
        };
        let bypass: Vec<TimeStamp> = req
            .resolved_locks
            .iter()
            .map(|&t| TimeStamp::new(t))
            .collect();
        let page = match self
            .scan_page(
                req.context.unwrap_or_default(),
                &req.start_key,
                &req.end_key,
                page_records,
                TimeStamp::new(req.start_ts),
                &bypass,
            )
            .await?
        {
            Ok(page) => page,
            Err(locks) => {
                return Ok(CopOutcome {
                    locks,
                    ..Default::default()
                });
            }
        };
        let batch = fragment.run(&page.rows, fragment.limit)?;
        Ok(CopOutcome {
            data: encode_batches(&fragment.output_schema(), &[batch])?,
            resume_key: page.resume_key,
            scanned: page.rows.len() as u64,
            locks: Vec::new(),
        })
    }
}
