//! # sql: duet's SQL layer
//!
//! MySQL clients connect here. The folders are the path a statement takes,
//! top to bottom, and a file imports only folders below its own:
//!
//! ```text
//!  server/     listener, one task per connection, the HTTP status port
//!    |           bytes -> packets (protocol) -> a statement for execute
//!  execute/    statement dispatch: the transaction each statement runs in,
//!    |           prepared statements, SET, ANALYZE, the read half of DML
//!  planner/    SELECT through DataFusion: MySQL rewrites and semantics
//!    |           rules, engine choice, cost, selectivity, access paths,
//!    |           pushdown, runtime filters, point-get plans, EXPLAIN
//!  executor/   what plans run: the scan of a table on either engine,
//!    |           build-side keys, information_schema tables, Arrow <-> rows
//!  admin/      SHOW, account statements
//!  ddl/        CREATE / ALTER / DROP / TRUNCATE / RENAME
//!  dml/        INSERT, UPDATE, DELETE, LOAD DATA: rows to KV mutations
//!  session/    per-connection state (variables, the open transaction,
//!    |           prepared statements, warnings) and what the server shares
//!  catalog/    schema model, its storage under `m`, names, statistics
//! ```
//!
//! Beside them, used by every layer: [`protocol`] (the MySQL wire protocol
//! as pure encoders/decoders), [`parse`] and [`dialect`] (sqlparser, MySQL
//! dialect, parameter binding), [`types`] and [`table`] (SQL value
//! conversions and the row/index key layout), [`eval`] (constant
//! expressions without DataFusion) and [`error`] (MySQL codes). The
//! import order is checked by `.ci/imports.py`.

pub mod admin;
pub mod catalog;
pub mod ddl;
pub mod dialect;
pub mod dml;
pub mod error;
pub mod eval;
pub mod execute;
pub mod executor;
pub mod parse;
pub mod planner;
pub mod protocol;
pub mod server;
pub mod session;
pub mod table;
pub mod types;

pub use error::{Error, Result};
pub use server::SqlServer;
pub use session::shared::SqlConfig;
