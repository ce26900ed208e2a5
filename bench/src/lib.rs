//! duet's workload tools as a library: the `duet-bench` binary drives them
//! from the command line, and integration tests run the same workloads
//! (the bank) with failures injected.
//!
//! * [`bank`], [`txn_put`], [`collector`]: workloads on the transaction
//!   client, and latency figures.
//! * [`nemesis`]: the whole system as separate processes, SQL workloads,
//!   and faults (kill -9, SIGSTOP) against kv stores and PD; the root
//!   package's `cli` test runs a minute of it, `bench/scripts/nemesis.sh`
//!   as long as asked.
//! * [`linearizability`]: the Wing–Gong register checker the nemesis and
//!   the in-process tests use.

pub mod bank;
pub mod collector;
pub mod linearizability;
pub mod nemesis;
pub mod txn_put;
