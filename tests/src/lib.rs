//! # Integration test support
//!
//! * [`cluster`] — an in-process cluster: a real PD and real kv stores on
//!   RocksDB in temp dirs, talking gRPC on loopback ports the OS picks, with
//!   a [`network::Network`] filter on every store's raft transport that can
//!   drop, delay, partition and heal links, and stores and PD that stop and
//!   restart on their data dirs.
//! * [`txn`] — a transaction client for tests, splits at user keys, and
//!   the raw txn RPCs that leave a two-phase commit half-done; every
//!   store's txn service can also lose chosen answers on purpose
//!   (`Cluster::faults`, see `txn::faults`).
//! * [`sql`] — the same cluster with a SQL server in front, for tests over
//!   the MySQL wire protocol.
//! * [`linearizability`] — a Wing–Gong checker for register histories
//!   (raw get/put on a few keys under concurrent clients).
//!
//! Tests wait for conditions ([`cluster::wait_until`]) and never sleep to
//! synchronise; sleeps appear only where time itself is the subject (a
//! store down long enough to be declared Down).

pub mod cluster;
pub mod linearizability;
pub mod network;
pub mod sql;
pub mod txn;
