//! # pd: duet's placement driver
//!
//! PD is the one place in a duet cluster that sees everything. It plays the
//! role of TiDB's PD:
//!
//! - it hands out **timestamps** (the TSO) that order every transaction;
//! - it hands out **ids** for stores, regions and peers;
//! - it keeps the **region map**: which key range lives on which stores and
//!   who leads it, rebuilt from the heartbeats region leaders send;
//! - it **schedules**: it keeps every region at `max_replicas` voters,
//!   replaces replicas on dead or removed stores and spreads leaders evenly,
//!   by answering region heartbeats with operator steps;
//! - it keeps the **GC safe points**: the txn safe point, below which reads
//!   are refused and old locks get resolved, held back by the transactions
//!   clients report as running; and the gc safe point, published once those
//!   locks are resolved cluster-wide, up to which kv stores may drop old
//!   versions;
//! - it hosts the cluster's **deadlock detector** for pessimistic
//!   transactions.
//!
//! ```text
//!      kv / columnar stores                    sql, txn clients, duet-ctl
//!   StoreHeartbeat, RegionHeartbeat,        Tso, GetRegion, ScanRegions,
//!   AskSplit, ReportSplit, PutStore,        UpdateMinStartTs, GetGcSafePoint,
//!   Deadlock                                UpdateGcSafePoint, AddOperator, ...
//!                 \                            /
//!                  v                          v
//!   +---------------------- server (tonic) --------------------------+
//!   |  tso::TimestampOracle   id::IdService   Mutex<cluster::Cluster> |
//!   |  Mutex<gc::SafePointManager>               |  stores, regions,  |
//!   |  Mutex<deadlock::DeadlockDetector>         |  operators         |
//!   |     background ticks: scheduling, GC -----+                    |
//!   +------------------------------- storage (RocksDB) --------------+
//! ```
//!
//! ## A tour, bottom-up
//!
//! 1. [`core`]: what both sides of the wire share, with no
//!    dependency on the server: the columnar store label, a region's key
//!    range, the TSO layout, the GC and deadlock answers, and the no-delay
//!    listener every gRPC server in the cluster serves on. The kv and
//!    columnar stores, txn and sql use PD only through it, [`client`] and
//!    [`error`].
//! 2. [`tso`]: timestamps (`ts = physical_ms << 18 | logical`, the layout
//!    in `core`) are allocated here: the pure allocator and
//!    the persisted-window trick that keeps timestamps monotonic across
//!    restarts.
//! 3. [`id`]: the id allocator, persisted in steps.
//! 4. [`storage`]: the handful of metadata keys, on RocksDB (or in memory
//!    for tests).
//! 5. [`cluster`]: the state and its rules. [`cluster::store`] is the store
//!    state machine (Up / Disconnected / Down / Offline / Tombstone),
//!    [`cluster::region`] the region map with its epoch-based staleness rule
//!    and key index, then one file per group of RPCs.
//! 6. [`operator`]: operators (steps for one region, finished when a
//!    heartbeat shows their effect), how they are built and the controller
//!    that holds them and enforces per-store limits.
//! 7. [`schedule`]: the decisions, as pure functions with scenario tests:
//!    the replica checker and balance-leader.
//! 8. What transactions need from PD: [`gc`], the two safe points (the txn
//!    safe point `max(previous, min(now - gc_life_time, min_start_ts - 1))`
//!    and the gc safe point `max(previous, min(requested, txn safe point))`
//!    published after locks are resolved; both never backwards, persisted)
//!    and the registrations of running transactions;
//!    [`deadlock`], the wait-for graph between transactions that refuses a
//!    wait closing a cycle.
//! 9. [`server`]: [`PdConfig`], [`start`] and [`PdHandle`], the gRPC shell.
//! 10. [`client`]: [`PdClient`], what every other component uses, with TSO
//!     batching and retries across PD restarts.
//! 11. [`error`]: [`Error`], shared by both sides of the wire.
//!
//! Everything that decides something (TSO, ids, store states, staleness,
//! operator progress, scheduling, the safe point, deadlocks) takes time as an
//! argument and does no I/O, so it is tested deterministically; only
//! `server`, `client` and the listener in `core` touch sockets and clocks.
//!
//! ## Where duet's PD differs from TiDB's
//!
//! - A single PD process, not yet a Raft group of three (DESIGN.md §4 plans
//!   that); its metadata is durable in RocksDB under `data_dir`.
//! - Region heartbeats are unary calls; an operator step rides on the answer
//!   to the next heartbeat rather than on a server push.
//! - Stores loaded after a PD restart get a fresh grace period instead of
//!   being judged by a heartbeat time PD never persisted.
//! - The deadlock detector lives in PD, not on the kv store leading the
//!   first region as in TiKV: every component already talks to PD, and no
//!   detector leadership has to follow a region leader around. Its graph is
//!   soft state, rebuilt by waiters' next detect requests after a restart.
//! - There is no separate GC worker electing a leader among SQL servers (as
//!   TiDB does): PD computes the txn safe point itself from its TSO, the
//!   life time and the registered min start ts of running transactions
//!   (which plays the part of both TiDB's per-server min start ts and PD's
//!   service safe points). Whoever resolves the locks below it cluster-wide
//!   then publishes the gc safe point with `UpdateGcSafePoint`.

pub mod client;
pub mod cluster;
pub mod core;
pub mod deadlock;
pub mod error;
pub mod gc;
pub mod id;
pub mod operator;
pub mod schedule;
pub mod server;
pub mod storage;
pub mod tso;

pub use crate::core::{DeadlockInfo, GcSafePoint, WaitForEntry};
pub use client::PdClient;
pub use error::{Error, Result};
pub use server::{PdConfig, PdHandle, start};

/// Identifies a store.
pub type StoreId = u64;
/// Identifies a region.
pub type RegionId = u64;
/// Identifies a peer (one replica of a region).
pub type PeerId = u64;

/// Milliseconds since the Unix epoch, from the wall clock.
pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
