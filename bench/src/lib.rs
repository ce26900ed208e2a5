//! duet's workload tools as a library: the `duet-bench` binary drives them
//! from the command line, and integration tests run the same workloads
//! (the bank) with failures injected.

pub mod bank;
pub mod collector;
pub mod txn_put;
