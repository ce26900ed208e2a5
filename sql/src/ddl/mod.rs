//! # DDL: changes to the catalog
//!
//! Every DDL statement is a job ([`crate::catalog::jobs`]), listed by
//! `ADMIN SHOW DDL JOBS`:
//!
//! * a change that is safe for servers one schema version apart (CREATE,
//!   DROP and TRUNCATE TABLE, RENAME, ADD COLUMN, defaults, ...) runs in
//!   one pessimistic transaction of the statement's server that locks and
//!   bumps the schema version, edits the `m` keys and writes the job to the
//!   history (`txn::in_ddl_txn`);
//! * a change that needs states (ADD and DROP INDEX, DROP COLUMN, MODIFY
//!   COLUMN to NOT NULL or to a type every row is converted to) is queued
//!   and run by the DDL owner, one state per schema version, and survives
//!   the owner's death ([`owner`], [`index`], [`modify_column`],
//!   [`convert_column`]); the statement waits for it ([`job`]).
//!
//! Dropped tables' and indexes' keys are freed once GC passes the drop
//! ([`delete_range`]). Other SQL servers see a new version within their
//! schema lease. MySQL's implicit commit before DDL is done by the caller.
//!
//! Creating a table splits the row regions at its key prefix, so a new
//! table starts in its own region (DESIGN.md §2).

pub mod alter;
pub mod column;
pub mod columnar;
pub mod convert_column;
pub mod create_table;
pub mod database;
pub mod delete_range;
pub mod drop;
pub mod index;
pub mod job;
pub mod modify_column;
pub mod owner;
pub mod txn;

use sqlparser::ast::{ObjectType, Statement};

use crate::catalog::names::object_name;
use crate::error::{Error, Result};
use crate::session::{Output, Session};

pub async fn execute(session: &mut Session, stmt: Statement) -> Result<Output> {
    match stmt {
        Statement::CreateDatabase {
            db_name,
            if_not_exists,
            ..
        } => database::create_database(session, &db_name, if_not_exists).await,
        Statement::CreateTable(ct) => create_table::execute(session, &ct).await,
        Statement::Drop {
            object_type: ObjectType::Schema | ObjectType::Database,
            names,
            if_exists,
            ..
        } => {
            let (_, name) = object_name(&names[0])?;
            database::drop_database(session, &name, if_exists).await
        }
        Statement::Drop {
            object_type: ObjectType::Table,
            names,
            if_exists,
            ..
        } => drop::drop_tables(session, &names, if_exists).await,
        Statement::Drop {
            object_type: ObjectType::Index,
            names,
            if_exists,
            table: Some(table),
            ..
        } => {
            let (_, index) = object_name(&names[0])?;
            alter::drop_index(session, &table, &index, if_exists).await
        }
        Statement::CreateIndex(ci) => alter::create_index(session, &ci).await,
        Statement::AlterTable(at) => alter::alter_table(session, &at).await,
        Statement::Truncate(t) => {
            for target in &t.table_names {
                alter::truncate(session, &target.name).await?;
            }
            Ok(Output::ok(0))
        }
        Statement::RenameTable(renames) => {
            for r in &renames {
                alter::rename(session, &r.old_name, &r.new_name).await?;
            }
            Ok(Output::ok(0))
        }
        other => Err(Error::unsupported_statement(&other)),
    }
}
