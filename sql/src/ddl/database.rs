//! `CREATE DATABASE` and `DROP DATABASE` (with its tables' data).

use sqlparser::ast::ObjectName;

use crate::catalog::jobs::{self, JobType};
use crate::catalog::meta;
use crate::catalog::model::DbInfo;
use crate::catalog::names::object_name;
use crate::ddl::txn::{check_name, in_ddl_txn};
use crate::error::{Error, Result, code};
use crate::session::{Output, Session};

pub async fn create_database(
    session: &mut Session,
    name: &ObjectName,
    if_not_exists: bool,
) -> Result<Output> {
    let (_, name) = object_name(name)?;
    check_name(&name, true)?;
    if name.eq_ignore_ascii_case("information_schema") || session.schema().db(&name).is_some() {
        if if_not_exists {
            session.note(
                code::ER_DB_CREATE_EXISTS,
                format!("Can't create database '{name}'; database exists"),
            );
            return Ok(Output::ok(0));
        }
        return Err(Error::new(
            code::ER_DB_CREATE_EXISTS,
            format!("Can't create database '{name}'; database exists"),
        ));
    }
    let created = in_ddl_txn(session, JobType::CreateSchema, async |txn, job| {
        if meta::list_dbs(txn)
            .await?
            .iter()
            .any(|d| d.name.eq_ignore_ascii_case(&name))
        {
            return Ok(false);
        }
        let id = meta::alloc_ids(txn, 1).await?;
        let db = DbInfo {
            id,
            name: name.clone(),
            charset: "utf8mb4".into(),
            collation: "utf8mb4_bin".into(),
        };
        meta::put_db(txn, &db).await?;
        (job.db_id, job.db_name) = (id, name.clone());
        Ok(true)
    })
    .await?;
    if !created && !if_not_exists {
        return Err(Error::new(
            code::ER_DB_CREATE_EXISTS,
            format!("Can't create database '{name}'; database exists"),
        ));
    }
    Ok(Output::ok(1))
}

pub async fn drop_database(session: &mut Session, name: &str, if_exists: bool) -> Result<Output> {
    let schema = session.schema();
    let Some(db) = schema.db(name).cloned() else {
        if if_exists {
            session.note(
                code::ER_DB_DROP_EXISTS,
                format!("Can't drop database '{name}'; database doesn't exist"),
            );
            return Ok(Output::ok(0));
        }
        return Err(Error::new(
            code::ER_DB_DROP_EXISTS,
            format!("Can't drop database '{name}'; database doesn't exist"),
        ));
    };
    let tables: Vec<_> = db.tables.values().cloned().collect();
    let db_id = db.info.id;
    let db_name = db.info.name.clone();
    in_ddl_txn(session, JobType::DropSchema, async |txn, job| {
        (job.db_id, job.db_name) = (db_id, db_name);
        let mut ranges = Vec::new();
        for t in &tables {
            meta::delete_table(txn, db_id, t.id).await?;
            ranges.push(codec::table::table_range(t.id));
        }
        meta::delete_db(txn, db_id).await?;
        jobs::add_delete_ranges(txn, job.id, &ranges).await
    })
    .await?;
    for t in &tables {
        session.shared.auto_ids.forget(t.id);
        crate::ddl::columnar::drop_rule(session, t.id).await?;
    }
    if session
        .db
        .as_deref()
        .is_some_and(|d| d.eq_ignore_ascii_case(name))
    {
        session.db = None;
    }
    Ok(Output::ok(tables.len() as u64))
}
