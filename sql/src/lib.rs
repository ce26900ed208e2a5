//! # sql: duet's SQL layer
//!
//! MySQL clients connect here. A tour, in the order a statement travels:
//!
//! * [`protocol`] — the MySQL wire protocol as pure encoders/decoders
//!   (handshake, auth scrambles, packets, result sets, binary parameters).
//! * [`server`] — the listener, one task per connection, the shared state
//!   (txn client, catalog, global variables, process list).
//! * [`session`] — per-connection state: variables, the open transaction,
//!   prepared statements; statement dispatch lives in [`execute`].
//! * [`parse`] — sqlparser (MySQL dialect) and parameter binding.
//! * [`catalog`] — schema model and its storage under the `m` prefix, with a
//!   versioned in-memory snapshot every server follows; [`ddl`] changes it.
//! * [`query`] — SELECT through DataFusion over the row regions.
//! * [`dml`] — INSERT (and later UPDATE, DELETE, LOAD DATA): rows to KV
//!   mutations with [`table`]'s key layout and [`types`]' conversions.
//! * [`show`], [`set`] — SHOW and SET; [`users`] — account statements.
//! * [`observe`] — the slow-query log.
//!
//! Errors carry MySQL codes ([`error`]).

pub mod catalog;
pub mod ddl;
pub mod dialect;
pub mod dml;
pub mod error;
pub mod eval;
pub mod execute;
pub mod observe;
pub mod parse;
pub mod protocol;
pub mod query;
pub mod server;
pub mod session;
pub mod set;
pub mod show;
pub mod table;
pub mod types;
pub mod users;

pub use error::{Error, Result};
pub use server::{SqlConfig, SqlServer};
