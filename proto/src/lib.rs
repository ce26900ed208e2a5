//! # proto: duet's wire formats
//!
//! Every RPC between duet's processes is defined here, in `proto/*.proto`, and
//! compiled by `tonic-prost-build` with a vendored `protoc`:
//!
//! | module | what it carries |
//! |---|---|
//! | [`metapb`] | cluster metadata: `Store`, `Region`, `RegionEpoch`, `Peer` |
//! | [`errorpb`] | region errors (`NotLeader`, `EpochNotMatch`, ...) with retry hints |
//! | [`pdpb`] | the placement driver: TSO, ids, bootstrap, heartbeats, routing, admin |
//! | [`raft_serverpb`] | raft messages between stores, chunked snapshots, local raft state |
//! | [`raft_cmdpb`] | commands proposed through Raft (writes, split, conf change) |
//! | [`kvrpcpb`] | the kv store's client API (raw KV) |
//!
//! Columnar stores answer scans over Arrow Flight (`arrow-flight`'s own
//! service), with a [`kvrpcpb::CopRequest`] as the ticket.
//!
//! The Raft messages themselves are raft-rs `eraftpb` messages, which use the
//! `protobuf` 2 crate; they travel as opaque bytes inside [`raft_serverpb::RaftMessage`].

#![allow(clippy::all)]

pub mod metapb {
    tonic::include_proto!("metapb");
}
pub mod errorpb {
    tonic::include_proto!("errorpb");
}
pub mod pdpb {
    tonic::include_proto!("pdpb");
}
pub mod raft_serverpb {
    tonic::include_proto!("raft_serverpb");
}
pub mod raft_cmdpb {
    tonic::include_proto!("raft_cmdpb");
}
pub mod kvrpcpb {
    tonic::include_proto!("kvrpcpb");
}
