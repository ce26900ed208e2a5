//! # txn: Percolator transactions on top of the kv store
//!
//! duet's transactions are TiKV's: Google Percolator's two-phase commit over
//! a multi-versioned key space, with TSO timestamps from PD (DESIGN.md §3).
//! This crate holds the logic that runs on every kv store. A tour, bottom
//! up:
//!
//! 1. [`types`] — the vocabulary and its on-disk formats, byte-compatible
//!    with TiKV's `txn_types`: [`TimeStamp`](types::TimeStamp),
//!    [`Key`](types::Key) (memcomparable user key, optionally `++ !ts`),
//!    [`Lock`](types::Lock), [`Write`](types::Write),
//!    [`Mutation`](types::Mutation).
//! 2. [`mvcc`] — how those live in the engine's `lock`, `write` and
//!    `default` column families: [`MvccReader`](mvcc::MvccReader) reads one
//!    snapshot, [`MvccTxn`](mvcc::MvccTxn) buffers the writes an action
//!    decides on, [`point_getter`](mvcc::point_getter) and
//!    [`scanner`](mvcc::scanner) serve snapshot reads that stop at locks.
//! 3. [`actions`] — one file per Percolator step on one key: prewrite,
//!    commit, cleanup (rollback), check_txn_status, pessimistic lock and
//!    rollback, GC. Pure functions of (snapshot, request) -> (writes,
//!    answer).
//! 4. [`commands`] — what one request does to one region: loop an action
//!    over the keys, decide which failures abort, return
//!    [`WriteResult`](commands::WriteResult)s for the scheduler to propose
//!    through Raft.
//! 5. [`storage`] — the shell on each kv store: latches, snapshots from the
//!    region leader, raft writes that carry the snapshot's term, in-memory
//!    locks for one-phase commits, waiting for pessimistic locks with PD's
//!    deadlock detector.
//! 6. [`service`] — the `kvrpcpb.Txn` gRPC service, installed on every kv
//!    store as a `kv::server::Extension`; [`gc_worker`] — two-phase GC
//!    following PD's safe points; [`faults`] — lost answers for tests.
//! 7. [`pb`] — how txn's locks and errors travel in `kvrpcpb` messages,
//!    both ways: the service writes them, the client reads them back.
//! 8. [`coprocessor`] — table scans pushed down to the stores: an MVCC
//!    scan page run through a [`copr::Fragment`] (decoded into Arrow
//!    columns, filtered, projected, limited), and the Arrow Flight framing
//!    of a columnar store's answer. What a fragment computes is the `copr`
//!    crate's, shared with the SQL layer; txn plans and evaluates nothing
//!    itself and does not depend on DataFusion (the record batches it
//!    passes along are [`copr::arrow`]'s).
//! 9. [`client`] — what applications use: `TxnClient`, `Transaction`, the
//!    two-phase committer, the lock resolver, snapshot reads, coprocessor
//!    scans. The model and its guarantees are in `docs/transactions.md`.
//!
//! ```text
//!   client (2PC, lock resolver, CopScan)
//!        |  gRPC (messages converted by pb, on both ends)
//!   service -> scheduler (latches, snapshot, raft proposal)
//!      |           |
//!      |        commands ──> actions ──> MvccReader ──> kv engine snapshot
//!      |           └── Modify[] ──> raft ──> apply: WriteBatch (z-prefixed)
//!      └─ coprocessor: MVCC scan page ──> copr::Fragment ──> Arrow IPC
//! ```
//!
//! Invariants the whole crate keeps:
//!
//! * Nothing below the scheduler does I/O other than reading the snapshot
//!   it was handed; every decision is deterministic and covered by the
//!   golden scenarios in `tests/scenarios/`.
//! * Keys handled here are encoded MVCC keys *without* kv's `z` data
//!   prefix; the reader and the raft apply add it.
//! * A key has at most one lock; a transaction's fate is decided by its
//!   primary key's commit record alone.
//!
//! Reference: TiKV `src/storage/{mvcc,txn}` and `components/txn_types`;
//! Peng & Dabek, *Large-scale Incremental Processing Using Distributed
//! Transactions and Notifications* (OSDI 2010).

pub mod actions;
pub mod client;
pub mod commands;
pub mod coprocessor;
mod error;
pub mod faults;
pub mod gc_worker;
pub mod mvcc;
pub mod pb;
pub mod service;
pub mod storage;
pub mod types;

pub use error::{Error, Result, WriteConflictReason};
