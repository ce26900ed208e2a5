//! # DML: INSERT, UPDATE, DELETE, LOAD DATA
//!
//! A statement first computes every row it writes and checks every key it
//! must (duplicate primary and unique keys through their index entries),
//! and only then applies its mutations to the transaction: a statement that
//! fails leaves the transaction as it was. In a pessimistic transaction the
//! keys are locked with one `lock_keys` round per statement and read at the
//! lock's `for_update_ts`, so a duplicate committed by a concurrent
//! transaction is seen, not missed.

pub mod delete;
pub mod insert;
pub mod load_data;
pub mod target;
pub mod update;
pub mod write;
