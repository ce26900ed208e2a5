//! # kv: duet's row store
//!
//! A kv store holds *regions* — key ranges `[start, end)` — each replicated
//! by its own Raft group across three stores, on RocksDB. This crate is the
//! store and the client that reaches it. A tour, bottom up:
//!
//! 1. [`engine`] — the storage-engine trait (column families `default`,
//!    `lock`, `write`, `raft`; snapshots; atomic write batches) with a
//!    RocksDB implementation and an in-memory one for tests.
//! 2. [`keys`] — how user data and raft bookkeeping share one engine.
//! 3. [`raftstore`] — multi-Raft: one raft-rs `RawNode` per region, all
//!    driven by one store loop that batches ticks, proposals and readies
//!    across regions (one fsync per iteration), applies committed entries,
//!    serves linearizable reads (lease, ReadIndex), splits regions, changes
//!    membership on PD's orders and reports to PD. Snapshots are generated
//!    off the loop and streamed from an engine snapshot. The loop's logic
//!    is a core (`Store::step`/`tick`/`process`) under a thin thread; the
//!    store-loop scenarios drive that core with simulated time.
//! 4. [`transport`] — raft messages between stores: batched per destination
//!    store over a gRPC stream, snapshots in chunks read as they are sent; a
//!    filter hook lets tests drop, delay and partition.
//! 5. [`service`] — the raw KV gRPC API; [`server`] assembles a store.
//! 6. [`client`] — region cache, backoff, and the raw KV client that every
//!    later layer (transactions, SQL) routes through.
//!
//! Raw KV values live in the `default` column family under their user key.
//! As in TiKV's API v1, raw and transactional data must not share keys.
//!
//! Reference: TiKV's `components/raftstore` and `raftstore-v2`, raft-rs'
//! `examples/five_mem_node`.

pub mod client;
pub mod engine;
mod error;
pub mod keys;
pub mod raftstore;
pub mod server;
pub mod service;
pub mod transport;

pub use error::{Error, Result};
