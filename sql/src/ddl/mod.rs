//! # DDL: changes to the catalog
//!
//! Each DDL statement runs in its own pessimistic transaction that edits
//! the `m` keys and bumps the schema version ([`crate::catalog::meta`]),
//! commits, and reloads this server's catalog; other SQL servers see the
//! new version within their schema lease. MySQL's implicit commit before
//! DDL is done by the caller.
//!
//! Creating a table splits the row regions at its key prefix, so a new
//! table starts in its own region (DESIGN.md §2).

pub mod alter;
pub mod columnar;
pub mod create_table;

use sqlparser::ast::{ObjectName, ObjectType, Statement};
use txn::client::Transaction;

use crate::catalog::meta;
use crate::catalog::model::DbInfo;
use crate::error::{Error, Result, code};
use crate::session::{Output, Session};

pub async fn execute(session: &mut Session, stmt: Statement) -> Result<Output> {
    match stmt {
        Statement::CreateDatabase {
            db_name,
            if_not_exists,
            ..
        } => create_database(session, &db_name, if_not_exists).await,
        Statement::CreateTable(ct) => create_table::execute(session, &ct).await,
        Statement::Drop {
            object_type: ObjectType::Schema | ObjectType::Database,
            names,
            if_exists,
            ..
        } => {
            let (_, name) = object_name(&names[0])?;
            drop_database(session, &name, if_exists).await
        }
        Statement::Drop {
            object_type: ObjectType::Table,
            names,
            if_exists,
            ..
        } => drop_tables(session, &names, if_exists).await,
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
        other => Err(Error::unsupported(
            other
                .to_string()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        )),
    }
}

/// `[db.]name` as (db, name).
pub fn object_name(n: &ObjectName) -> Result<(Option<String>, String)> {
    let parts: Vec<String> =
        n.0.iter()
            .filter_map(|p| p.as_ident().map(|i| i.value.clone()))
            .collect();
    match parts.as_slice() {
        [name] => Ok((None, name.clone())),
        [db, name] => Ok((Some(db.clone()), name.clone())),
        _ => Err(Error::parse(format!("near '{n}'"))),
    }
}

/// `[db.]name` as (db, name), the database defaulting to the session's
/// current one (ER_NO_DB without one).
pub fn qualified(session: &Session, n: &ObjectName) -> Result<(String, String)> {
    let (db, name) = object_name(n)?;
    let db = match db {
        Some(d) => d,
        None => session.current_db()?.to_string(),
    };
    Ok((db, name))
}

/// Runs `body` in a DDL transaction: schema version bumped, committed,
/// catalog reloaded.
pub(crate) async fn in_ddl_txn<T>(
    session: &Session,
    body: impl AsyncFnOnce(&mut Transaction) -> Result<T>,
) -> Result<T> {
    let mut txn = session.shared.client.begin_pessimistic().await?;
    let result: Result<T> = async {
        let v = body(&mut txn).await?;
        meta::bump_schema_version(&mut txn).await?;
        txn.commit().await?;
        Ok(v)
    }
    .await;
    if result.is_err() {
        let _ = txn.rollback().await;
    }
    let v = result?;
    session.shared.catalog.reload().await?;
    Ok(v)
}

pub(crate) fn check_name(name: &str, db: bool) -> Result<()> {
    if name.is_empty() || name.len() > 64 || name.ends_with(' ') {
        let (c, what) = if db {
            (code::ER_WRONG_DB_NAME, "database")
        } else {
            (code::ER_WRONG_TABLE_NAME, "table")
        };
        return Err(Error::new(c, format!("Incorrect {what} name '{name}'")));
    }
    Ok(())
}

async fn create_database(
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
    let created = in_ddl_txn(session, async |txn| {
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

async fn drop_database(session: &mut Session, name: &str, if_exists: bool) -> Result<Output> {
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
    in_ddl_txn(session, async |txn| {
        for t in &tables {
            meta::delete_table(txn, db_id, t.id).await?;
        }
        meta::delete_db(txn, db_id).await?;
        Ok(())
    })
    .await?;
    for t in &tables {
        delete_table_data(session, t.id).await?;
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

async fn drop_tables(
    session: &mut Session,
    names: &[ObjectName],
    if_exists: bool,
) -> Result<Output> {
    let schema = session.schema();
    let mut targets = Vec::new();
    let mut missing = Vec::new();
    for n in names {
        let (db, table) = qualified(session, n)?;
        match schema.table(&db, &table) {
            Some(t) => targets.push((schema.db(&db).expect("db of a table").info.id, t.clone())),
            None => missing.push(format!("{db}.{table}")),
        }
    }
    if !missing.is_empty() {
        let msg = format!("Unknown table '{}'", missing.join(","));
        if !if_exists {
            return Err(Error::new(code::ER_BAD_TABLE, msg));
        }
        session.note(code::ER_BAD_TABLE, msg);
    }
    if targets.is_empty() {
        return Ok(Output::ok(0));
    }
    in_ddl_txn(session, async |txn| {
        for (db_id, t) in &targets {
            meta::delete_table(txn, *db_id, t.id).await?;
        }
        Ok(())
    })
    .await?;
    for (_, t) in &targets {
        session.shared.auto_ids.forget(t.id);
        delete_table_data(session, t.id).await?;
    }
    Ok(Output::ok(0))
}

/// Deletes a dropped table's rows and index entries, in batches, and its
/// columnar replicas.
///
/// TiDB hands this to GC ("delete range"); duet deletes the keys with
/// ordinary transactions right after the DDL commits, which is slower for
/// big tables but needs no extra machinery.
pub(crate) async fn delete_table_data(session: &Session, table_id: i64) -> Result<()> {
    columnar::drop_rule(session, table_id).await?;
    let (start, end) = codec::table::table_range(table_id);
    delete_range(session, &start, &end).await
}

/// Deletes every key in `[start, end)`, 4096 keys per transaction.
pub(crate) async fn delete_range(session: &Session, start: &[u8], end: &[u8]) -> Result<()> {
    let mut from = start.to_vec();
    loop {
        let mut txn = session.shared.client.begin().await?;
        let batch = txn.scan(&from, end, 4096, false).await?;
        if batch.is_empty() {
            return Ok(());
        }
        let last = batch.last().expect("non-empty").0.clone();
        for (k, _) in batch {
            txn.delete(k).await?;
        }
        txn.commit().await?;
        from = last;
        from.push(0);
    }
}
