//! # Raft transport
//!
//! Raft messages leave a store through a [`Transport`]. The real one,
//! [`RaftClient`], keeps one gRPC client stream per destination store and
//! sends whatever queued up since the last send as one
//! `RaftMessageBatch`; snapshot messages go over their own stream in chunks
//! (`grpc`). The receiving side is [`RaftService`], which feeds messages
//! into the store loop.
//!
//! Every outgoing message first passes an optional [`MessageFilter`]: tests
//! use it to drop, delay, partition and heal links between stores while the
//! rest of the stack (gRPC, PD, clients) runs for real.

mod grpc;
mod service;

use std::time::Duration;

use proto::raft_serverpb::RaftMessage;

pub use grpc::RaftClient;
pub use service::RaftService;

pub trait Transport: Send + Sync + 'static {
    /// Queues a message for its store. Never blocks.
    fn send(&self, msg: RaftMessage);

    /// Sends a message that carries a raft snapshot (`MsgSnapshot`); the
    /// store reports the outcome back with `StoreMsg::SnapshotStatus`.
    fn send_snapshot(&self, msg: RaftMessage);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterAction {
    Deliver,
    Drop,
    Delay(Duration),
}

/// Decides the fate of each raft message between two stores.
pub trait MessageFilter: Send + Sync + 'static {
    fn action(&self, from_store: u64, to_store: u64, msg: &RaftMessage) -> FilterAction;
}
