//! # copr: what the SQL layer and the stores evaluate alike
//!
//! A scan that the SQL layer pushes down to the stores is only correct if
//! the stores compute exactly what the SQL layer would have computed: the
//! same rows kept by a filter, the same overflow errors, the same casts of
//! strings to numbers, the same partial aggregates. This crate holds that
//! shared vocabulary and its semantics, so there is one definition of
//! each, used on both sides of the wire:
//!
//! ```text
//!   sql (planner, executor)                 stores
//!   ───────────────────────                 ──────
//!   plans with mysql::functions(),          txn::coprocessor endpoint (row store):
//!   checked_plan, decimal::fast             MVCC scan page -> Fragment::run
//!   builds TableScan + encode_filter   ──>    -> encode_batches (Arrow IPC)
//!          + PlanFragment (bytes)           columnar::service (columnar store):
//!   decode_batches / runs the same     <──    view rows -> Fragment::apply
//!   Fragment over its own buffered            -> PlanFragment::run -> Flight
//!   writes, and PlanFragment over
//!   row-store pages
//! ```
//!
//! A tour:
//!
//! 1. [`fragment`] — [`Fragment`]: a pushed-down table scan. Decodes raw
//!    records (row key, row value) into Arrow columns of the scan
//!    ([`Fragment::decode`]), keeps the rows every pushed filter accepts
//!    and projects the output columns ([`Fragment::apply`]). Filters travel
//!    as `datafusion-proto` bytes ([`encode_filter`]).
//! 2. [`plan`] — [`PlanFragment`]: operators run over a scan's rows where
//!    they are read (a partial aggregate, a top-N), a DataFusion physical
//!    plan whose one leaf is a placeholder for the scan.
//! 3. [`encode_batches`] / [`decode_batches`] — the Arrow IPC stream a row
//!    store's answer carries.
//! 4. [`mysql`] — MySQL semantics DataFusion lacks: MySQL's scalar
//!    functions, integer `+ - *` that fail on overflow, and a rewrite of
//!    every expression of a plan.
//! 5. [`decimal`] — DECIMAL `+ - *` without per-value overflow checks
//!    where a batch's magnitudes show nothing can overflow.
//! 6. [`bloom`] — [`KeyBloom`](bloom::KeyBloom): a join's build-side keys
//!    as a Bloom filter the stores test rows against (a runtime filter).
//!
//! Every serialized expression is decoded against one function registry
//! (DataFusion's built-ins, [`mysql::functions`] and [`bloom::udf`]), the
//! same in every process, so a function name means the same function on
//! every side.
//!
//! Dependencies: `codec` (keys, rows, datums, SQL types as Arrow types),
//! `proto` (the [`TableScan`](proto::kvrpcpb::TableScan) a request
//! carries), DataFusion and `datafusion-proto`. Nothing here knows about
//! transactions, regions or RPC: `txn` runs fragments over MVCC scans,
//! `columnar` over its Arrow views, `sql` over a transaction's buffer.
//! Crates that only pass Arrow batches along name them through
//! [`arrow`], the Arrow DataFusion uses, re-exported here so they need
//! not depend on DataFusion.
//!
//! Reference: TiKV `src/coprocessor` and `components/tidb_query_*` (the
//! expression evaluation TiKV shares with TiDB's semantics).

pub mod bloom;
pub mod decimal;
mod error;
pub mod fragment;
mod ipc;
pub mod mysql;
pub mod plan;
mod registry;

/// The Arrow crate DataFusion is built on, for crates that pass record
/// batches along without planning or evaluating anything themselves.
pub use datafusion::arrow;

pub use error::{Error, OVERFLOW_PREFIX, Result, overflow_of};
pub use fragment::{Fragment, encode_filter, scan_schema};
pub use ipc::{decode_batches, encode_batches};
pub use plan::PlanFragment;

#[cfg(test)]
mod tests;
