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
//!   by answering region heartbeats with operator steps.
//!
//! ```text
//!      kv / columnar stores                    sql, duet-ctl
//!   StoreHeartbeat, RegionHeartbeat,        Tso, GetRegion, ScanRegions,
//!   AskSplit, ReportSplit, PutStore         AddOperator, GetOperators, ...
//!                 \                            /
//!                  v                          v
//!   +---------------------- server (tonic) --------------------------+
//!   |  tso::TimestampOracle   id::IdService   Mutex<cluster::Cluster> |
//!   |                                            |  stores, regions,  |
//!   |          background tick ---------------->  operators          |
//!   +------------------------------- storage (RocksDB) --------------+
//! ```
//!
//! ## A tour, bottom-up
//!
//! 1. [`tso`]: `ts = physical_ms << 18 | logical`; the pure allocator and
//!    the persisted-window trick that keeps timestamps monotonic across
//!    restarts.
//! 2. [`id`]: the id allocator, persisted in steps.
//! 3. [`storage`]: the handful of metadata keys, on RocksDB (or in memory
//!    for tests).
//! 4. [`cluster`]: the state and its rules. [`cluster::store`] is the store
//!    state machine (Up / Disconnected / Down / Offline / Tombstone),
//!    [`cluster::region`] the region map with its epoch-based staleness rule
//!    and key index, then one file per group of RPCs.
//! 5. [`operator`]: operators (steps for one region, finished when a
//!    heartbeat shows their effect), how they are built and the controller
//!    that holds them and enforces per-store limits.
//! 6. [`schedule`]: the decisions, as pure functions with scenario tests:
//!    the replica checker and balance-leader.
//! 7. [`server`]: [`PdConfig`], [`start`] and [`PdHandle`], the gRPC shell.
//! 8. [`client`]: [`PdClient`], what every other component uses, with TSO
//!    batching and retries across PD restarts.
//! 9. [`error`]: [`Error`], shared by both sides of the wire.
//!
//! Everything that decides something (TSO, ids, store states, staleness,
//! operator progress, scheduling) takes time as an argument and does no I/O,
//! so it is tested deterministically; only `server` and `client` touch
//! sockets and clocks.
//!
//! ## Where duet's PD differs from TiDB's
//!
//! - A single PD process, not yet a Raft group of three (DESIGN.md §4 plans
//!   that); its metadata is durable in RocksDB under `data_dir`.
//! - Region heartbeats are unary calls; an operator step rides on the answer
//!   to the next heartbeat rather than on a server push.
//! - Stores loaded after a PD restart get a fresh grace period instead of
//!   being judged by a heartbeat time PD never persisted.

pub mod client;
pub mod cluster;
pub mod error;
pub mod id;
pub mod operator;
pub mod schedule;
pub mod server;
pub mod storage;
pub mod tso;

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
