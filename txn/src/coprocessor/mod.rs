//! # The coprocessor: table scans that filter where the data is
//!
//! A SQL statement that scans a table does not pull the table into the SQL
//! layer to filter it: it sends a [`CopRequest`](proto::kvrpcpb::CopRequest)
//! to the leader of every region in range. The store scans its part of the
//! range at the request's `start_ts` (the same MVCC scan `kv_scan` uses, so
//! locks come back for the client to resolve) and runs the request's
//! [`copr::Fragment`] over the records: decode them into Arrow columns,
//! keep the rows every pushed filter accepts, project the requested
//! columns, stop at the limit. What travels back is an Arrow IPC stream
//! ([`copr::encode_batches`]).
//!
//! ```text
//!   SQL layer                                    kv store (region leader)
//!   ScanExec ── CopRequest{ts, range, scan,   ──> endpoint: MVCC scan (page)
//!                    filters, output, limit}          copr::Fragment::run
//!               <── CopResponse{Arrow IPC,        <── decode, filter, project,
//!                    resume_key | locks}              limit
//! ```
//!
//! What a fragment means — how records decode, what a filter computes,
//! MySQL's functions and overflow rules — lives in the `copr` crate, which
//! the SQL layer uses too: it runs the very same fragment itself when a
//! transaction has uncommitted writes in the range (they live only in the
//! client's buffer). This module is only the store's side of the request
//! ([`Storage::coprocessor`](crate::storage::Storage::coprocessor): which
//! records, at which ts, which locks stop the read) and how a columnar
//! store's answer is framed ([`flight`]). txn itself
//! plans and evaluates nothing, so it does not depend on DataFusion; the
//! record batches it passes along are named through copr's re-export of
//! Arrow ([`copr::arrow`]).
//!
//! Pages bound the work and the answer of one call: at most
//! `page_records` records are scanned before the store answers with a
//! `resume_key`.
//!
//! The client side (walking regions and pages, resolving locks, falling
//! back from a columnar replica to the row store) is
//! [`client::CopScan`](crate::client::CopScan).
//!
//! Reference: TiKV `src/coprocessor` (the DAG handler) and TiDB's
//! `distsql`; TiDB's `TableReader` / `cop[tikv]` tasks.

mod endpoint;
pub mod flight;

pub use endpoint::{CopOutcome, DEFAULT_PAGE_RECORDS};
