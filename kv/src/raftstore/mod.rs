//! # The multi-Raft store
//!
//! A kv store hosts many regions; each region is one Raft group, and this
//! store holds one peer (replica) of it. The design follows TiKV's
//! raftstore, laid out by operation:
//!
//! ```text
//!   gRPC (raw KV, raft transport)         PD
//!        │ StoreMsg                        ^ heartbeats, ask split
//!        v                                 │
//!   ┌─────────────── store loop (one thread, store.rs) ─────────────┐
//!   │  peers: region id -> Peer { RawNode<PeerStorage>, proposals,  │
//!   │                             reads, lease }                    │
//!   │  ready.rs: persist (1 fsync) -> send -> apply -> answer       │
//!   └───────────────────────────────────────────────────────────────┘
//!        │ engine writes                   │ raft messages
//!        v                                 v
//!     RocksDB (default/lock/write/raft)   Transport (batched per store)
//! ```
//!
//! | module | role |
//! |---|---|
//! | [`store`] | the loop, message dispatch, peer creation and destruction, ticks |
//! | `ready` | persisting readies, sending messages, applying, side effects |
//! | [`peer`] | one peer: raft node, proposals, lease, liveness of others |
//! | [`peer_storage`] | raft-rs `Storage` over the engine, installing snapshots |
//! | [`snap`] | snapshots generated off the loop, streamed in chunks |
//! | [`apply`] | committed entries -> engine writes, epoch checks |
//! | [`observer`] | a hook that sees applied writes (the columnar store's) |
//! | [`operation`] | read, split, conf change, log GC, heartbeats |
//! | [`worker`] | PD worker, split checker, snapshot generator |
//! | [`bootstrap`] | store identity and the cluster's first region |
//!
//! Invariants worth knowing:
//! * nothing is sent before the state it depends on is fsync'd;
//! * the engine holds the effects of exactly the entries up to each
//!   region's `applied_index` (data and apply state share a write batch);
//! * a client is acknowledged only after its entry is applied;
//! * a request with a stale epoch never touches data.

pub mod apply;
pub mod bootstrap;
pub mod config;
pub mod flow;
#[cfg(test)]
mod harness;
pub mod msg;
pub mod observer;
pub mod operation;
pub mod peer;
pub mod peer_storage;
mod raft_log;
mod ready;
#[cfg(test)]
mod scenario;
pub mod snap;
pub mod store;
pub mod worker;

pub use config::Config;
pub use flow::ReadFlow;
pub use msg::{PeerStatus, ReadResponse, RequestContext, StoreMsg};
pub use observer::ApplyObserver;
pub use store::{Store, StoreIo, StoreRouter};
