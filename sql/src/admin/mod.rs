//! # Administrative statements
//!
//! * [`show`] — the `SHOW` statements, one function each, answered from the
//!   catalog, the session and the server's shared state.
//! * [`check`] — `ADMIN CHECK TABLE`: rows and index entries agree.
//! * [`ddl_jobs`] — `ADMIN SHOW DDL [JOBS]`, `ADMIN CANCEL DDL JOBS`.
//! * [`users`] — `CREATE USER`, `DROP USER`, `ALTER USER`, `SET PASSWORD`,
//!   `GRANT`, `SHOW GRANTS`: accounts in the catalog.
//!
//! `SET` evaluates expressions through the planner, so it lives with
//! dispatch in [`crate::execute::set`].

pub mod check;
pub mod ddl_jobs;
pub mod show;
pub mod users;
