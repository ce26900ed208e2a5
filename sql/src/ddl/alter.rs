//! Changing existing tables: indexes (with backfill), columns, TRUNCATE,
//! RENAME.
//!
//! **Indexes** come and go through F1's states ([`SchemaState`]), each
//! its own schema version, with two schema leases between them so every
//! SQL server has moved to a version before the next one is published
//! (a server confirms its schema every half lease and refuses to plan on
//! one over a lease old; a transaction planned on an older one fails its
//! commit, `crate::catalog::validator`):
//!
//! ```text
//!  add:   DeleteOnly -> WriteOnly -> WriteReorganization -> backfill -> Public
//!  drop:  Public -> WriteOnly -> DeleteOnly -> removed, entries deleted
//! ```
//!
//! Servers one state apart never disagree in a way that leaves an entry
//! wrong: one that writes entries only runs beside one that at least
//! deletes them. The backfill starts once every server writes the index
//! and goes through the rows in batches of 1,024, each a pessimistic
//! transaction that locks the rows and reads their newest version before
//! writing their entries (a concurrent writer is waited for, never indexed
//! as it was), retried on a deadlock; a unique index that meets two rows with the same values fails
//! with 1062 and is taken out again the same way it came in. Index ids
//! come from the global allocator and are never reused.
//!
//! Column changes need no data rewrite: rows store values by column id.

use std::sync::Arc;
use std::time::Duration;

use sqlparser::ast::{
    AlterTable, AlterTableOperation, ColumnOption, CreateIndex, ObjectName, RenameTableNameKind,
    SqlOption,
};

use crate::catalog::meta;
use crate::catalog::model::{HandleKind, IndexInfo, SchemaState, TableInfo};
use crate::error::{Error, Result, code};
use crate::session::{Output, Session};

fn resolve(session: &Session, name: &ObjectName) -> Result<(String, std::sync::Arc<TableInfo>)> {
    let (db, t) = session.qualified(name)?;
    let schema = session.schema();
    let table = schema.require_table(&db, &t)?.clone();
    Ok((db, table))
}

/// Re-reads the table inside the DDL transaction (the cached copy may be
/// one version old) and applies `change` to it.
async fn update_table(
    session: &Session,
    table: &TableInfo,
    change: impl FnOnce(&mut TableInfo) -> Result<()>,
) -> Result<TableInfo> {
    let id = table.id;
    let db_id = table.db_id;
    crate::ddl::txn::in_ddl_txn(session, async move |txn| {
        let mut t = meta::list_tables(txn, Some(db_id))
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| {
                Error::new(
                    code::ER_NO_SUCH_TABLE,
                    format!("Table '{}' doesn't exist", table.name),
                )
            })?;
        change(&mut t)?;
        meta::put_table(txn, &t).await?;
        Ok(t)
    })
    .await
}

pub async fn create_index(session: &mut Session, ci: &CreateIndex) -> Result<Output> {
    let (_, table) = resolve(session, &ci.table_name)?;
    let name = match &ci.name {
        Some(n) => crate::catalog::names::object_name(n)?.1,
        None => String::new(),
    };
    let columns = super::create_table::index_columns(&ci.columns)?;
    let idx = IndexInfo {
        id: 0,
        name,
        columns,
        unique: ci.unique,
        primary: false,
        state: SchemaState::DeleteOnly,
        comment: String::new(),
    };
    if ci.if_not_exists && table.index(&idx.name).is_some() {
        return Ok(Output::ok(0));
    }
    add_index(session, &table, idx).await?;
    Ok(Output::ok(0))
}

async fn add_index(session: &mut Session, table: &TableInfo, mut idx: IndexInfo) -> Result<()> {
    if idx.name.eq_ignore_ascii_case("primary") || idx.primary {
        return Err(Error::unsupported(
            "adding a PRIMARY KEY to an existing table",
        ));
    }
    for ic in &idx.columns {
        let (_, c) = table.column(&ic.name).ok_or_else(|| {
            Error::new(
                code::ER_KEY_COLUMN_DOES_NOT_EXIST,
                format!("Key column '{}' doesn't exist in table", ic.name),
            )
        })?;
        if c.ft.is_blob() && ic.length.is_none() {
            return Err(Error::new(
                code::ER_BLOB_KEY_WITHOUT_LENGTH,
                format!(
                    "BLOB/TEXT column '{}' used in key specification without a key length",
                    c.name
                ),
            ));
        }
    }
    // Delete-only: the index exists, with an id never used before.
    let (table_id, db_id) = (table.id, table.db_id);
    let name = idx.name.clone();
    let t = crate::ddl::txn::in_ddl_txn(session, async move |txn| {
        let mut t = table_in_txn(txn, db_id, table_id).await?;
        if !name.is_empty() && t.index(&name).is_some() {
            return Err(Error::new(
                code::ER_DUP_KEYNAME,
                format!("Duplicate key name '{name}'"),
            ));
        }
        idx.id = meta::alloc_ids(txn, 1).await?;
        idx.state = SchemaState::DeleteOnly;
        t.indexes.push(idx);
        super::create_table::name_indexes(&mut t.indexes);
        meta::put_table(txn, &t).await?;
        Ok(t)
    })
    .await?;
    let id = t.indexes.last().expect("just added").id;
    let mut t = t;
    for state in [SchemaState::WriteOnly, SchemaState::WriteReorganization] {
        wait_schema_synced(session).await;
        t = set_index_state(session, &t, id, state).await?;
    }
    wait_schema_synced(session).await;
    let idx = t
        .indexes
        .iter()
        .find(|i| i.id == id)
        .expect("just added")
        .clone();
    if let Err(e) = backfill(session, &t, &idx).await {
        if let Err(undo) = remove_index(session, &t, id).await {
            tracing::warn!(table = %t.name, index = %idx.name, "taking a failed index out failed: {undo}");
        }
        return Err(e);
    }
    set_index_state(session, &t, id, SchemaState::Public).await?;
    Ok(())
}

/// Waits until every SQL server runs the schema version just published:
/// two schema leases (each confirms its schema every half lease).
async fn wait_schema_synced(session: &Session) {
    tokio::time::sleep(session.shared.config.schema_lease * 2).await;
}

/// The table's stored definition, read inside a DDL transaction.
async fn table_in_txn(
    txn: &mut txn::client::Transaction,
    db_id: i64,
    id: i64,
) -> Result<TableInfo> {
    meta::list_tables(txn, Some(db_id))
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| Error::no_such_table("", &id.to_string()))
}

async fn set_index_state(
    session: &Session,
    t: &TableInfo,
    id: i64,
    state: SchemaState,
) -> Result<TableInfo> {
    update_table(session, t, |t| {
        if let Some(i) = t.indexes.iter_mut().find(|i| i.id == id) {
            i.state = state;
        }
        Ok(())
    })
    .await
}

/// Takes an index out through the states backwards, then deletes its
/// entries; returns the table without it.
async fn remove_index(session: &Session, t: &TableInfo, id: i64) -> Result<TableInfo> {
    let state = |t: &TableInfo| t.indexes.iter().find(|i| i.id == id).map(|i| i.state);
    let mut t = t.clone();
    if matches!(state(&t), Some(SchemaState::Public)) {
        t = set_index_state(session, &t, id, SchemaState::WriteOnly).await?;
        wait_schema_synced(session).await;
    }
    if !matches!(state(&t), Some(SchemaState::DeleteOnly) | None) {
        t = set_index_state(session, &t, id, SchemaState::DeleteOnly).await?;
        wait_schema_synced(session).await;
    }
    let t = update_table(session, &t, |t| {
        t.indexes.retain(|i| i.id != id);
        Ok(())
    })
    .await?;
    let (start, end) = codec::table::index_range(t.id, id);
    crate::ddl::txn::delete_range(session, &start, &end).await?;
    Ok(t)
}

async fn backfill(session: &Session, t: &TableInfo, idx: &IndexInfo) -> Result<()> {
    let (mut from, end) = codec::table::record_range(t.id);
    let mut attempt = 0;
    loop {
        match backfill_batch(session, t, idx, &from, &end).await {
            Ok(None) => return Ok(()),
            Ok(Some(next)) => {
                from = next;
                attempt = 0;
            }
            // A deadlock with, or a lock wait on, a concurrent writer:
            // read the batch again.
            Err(e) if retry_backfill(&e) && attempt < BACKFILL_RETRIES => {
                attempt += 1;
                tracing::debug!(table = %t.name, index = %idx.name, attempt, "backfill batch retried: {e}");
                tokio::time::sleep(Duration::from_millis(10 * attempt as u64)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// How often one backfill batch is tried again after a conflict.
const BACKFILL_RETRIES: usize = 100;

fn retry_backfill(e: &Error) -> bool {
    e.is_retryable()
        || matches!(
            e.code(),
            code::ER_LOCK_DEADLOCK | code::ER_LOCK_WAIT_TIMEOUT
        )
}

/// Writes the entries of the rows in `[from, end)`, up to a batch, in one
/// pessimistic transaction: the rows and their entries are locked and read
/// at their newest version first, so a concurrent change of a row (even one
/// only locked so far) is waited for and then indexed as it is, never as
/// it was. Returns where the next batch starts, or None at the end.
async fn backfill_batch(
    session: &Session,
    t: &TableInfo,
    idx: &IndexInfo,
    from: &[u8],
    end: &[u8],
) -> Result<Option<Vec<u8>>> {
    let all: Vec<usize> = (0..t.columns.len()).collect();
    let mut txn = session.shared.client.begin_pessimistic().await?;
    let result: Result<Option<Vec<u8>>> = async {
        let keys: Vec<Vec<u8>> = txn
            .scan(from, end, 1024, false)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let Some(last) = keys.last() else {
            return Ok(None);
        };
        let mut next = last.clone();
        next.push(0);
        let rows = txn.batch_get_for_update(keys.clone()).await?;
        let common = matches!(t.handle, HandleKind::Common);
        let mut entries = Vec::with_capacity(keys.len());
        for (k, v) in keys.iter().zip(rows) {
            // Deleted since the scan: nothing to index.
            let Some(v) = v else { continue };
            let row = crate::table::decode_record(t, k, &v, &all)?;
            let (_, handle) = codec::table::decode_row_key(k, common)?;
            let values = crate::table::index_values(t, idx, &row);
            entries.push((
                crate::table::index_entry(t, idx, &row, &handle),
                crate::table::is_distinct_entry(idx, &values),
                values,
            ));
        }
        let unique_keys: Vec<Vec<u8>> = entries
            .iter()
            .filter(|e| e.1)
            .map(|e| e.0.0.clone())
            .collect();
        let existing: std::collections::HashMap<Vec<u8>, Vec<u8>> = unique_keys
            .iter()
            .cloned()
            .zip(txn.batch_get_for_update(unique_keys.clone()).await?)
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        // Every entry locked in one request, not one per put.
        txn.lock_keys(entries.iter().map(|e| e.0.0.clone()).collect())
            .await?;
        let mut seen = std::collections::HashMap::new();
        for ((key, value), distinct, values) in entries {
            if distinct {
                let clash = existing.get(&key).is_some_and(|v| *v != value)
                    || seen.get(&key).is_some_and(|v: &Vec<u8>| *v != value);
                if clash {
                    let shown: Vec<String> = values.iter().map(crate::dml::write::show).collect();
                    return Err(crate::dml::write::dup_entry(
                        &shown.join("-"),
                        &format!("{}.{}", t.name, idx.name),
                    ));
                }
                seen.insert(key.clone(), value.clone());
            }
            txn.put(key, value).await?;
        }
        txn.commit().await?;
        Ok(Some(next))
    }
    .await;
    if result.is_err() {
        let _ = txn.rollback().await;
    }
    result
}

pub async fn drop_index(
    session: &mut Session,
    table_name: &ObjectName,
    index: &str,
    if_exists: bool,
) -> Result<Output> {
    let (_, table) = resolve(session, table_name)?;
    let Some(idx) = table.index(index).cloned() else {
        if if_exists {
            return Ok(Output::ok(0));
        }
        return Err(Error::new(
            code::ER_CANT_DROP_FIELD_OR_KEY,
            format!("Can't DROP '{index}'; check that column/key exists"),
        ));
    };
    if idx.primary {
        return Err(Error::unsupported("dropping the PRIMARY KEY"));
    }
    remove_index(session, &table, idx.id).await?;
    Ok(Output::ok(0))
}

pub async fn alter_table(session: &mut Session, at: &AlterTable) -> Result<Output> {
    let (db, table) = resolve(session, &at.name)?;
    check_algorithm_and_lock(session, &at.operations)?;
    for op in &at.operations {
        let table = session.schema().require_table(&db, &table.name)?.clone();
        match op {
            AlterTableOperation::AddConstraint { constraint, .. } => {
                let Some(mut idx) = super::create_table::constraint(constraint)? else {
                    continue;
                };
                idx.state = SchemaState::DeleteOnly;
                add_index(session, &table, idx).await?;
            }
            AlterTableOperation::SetTblProperties { table_properties } => {
                set_properties(session, &table, table_properties).await?;
            }
            AlterTableOperation::DropIndex { name } => {
                drop_index(session, &at.name, &name.value, false).await?;
            }
            AlterTableOperation::AddColumn {
                if_not_exists,
                column_def,
                column_position,
                ..
            } => {
                add_column(session, &table, column_def, column_position, *if_not_exists).await?;
            }
            AlterTableOperation::DropColumn {
                column_names,
                if_exists,
                ..
            } => drop_columns(session, &table, column_names, *if_exists).await?,
            AlterTableOperation::RenameTable { table_name } => {
                let (RenameTableNameKind::As(n) | RenameTableNameKind::To(n)) = table_name;
                rename(session, &at.name, n).await?;
            }
            AlterTableOperation::RenameColumn {
                old_column_name,
                new_column_name,
            } => {
                rename_column(
                    session,
                    &table,
                    &old_column_name.value,
                    &new_column_name.value,
                )
                .await?;
            }
            AlterTableOperation::AlterColumn {
                column_name,
                op: sqlparser::ast::AlterColumnOperation::SetDefault { value },
            } => set_default(session, &table, &column_name.value, value).await?,
            AlterTableOperation::AutoIncrement { value, .. } => {
                set_auto_increment(session, &table, value).await?;
            }
            // Checked above, before anything changed.
            AlterTableOperation::Algorithm { .. } | AlterTableOperation::Lock { .. } => {}
            other => return Err(Error::unsupported(format!("ALTER TABLE ... {other}"))),
        }
    }
    Ok(Output::ok(0))
}

/// `ALTER TABLE t RENAME COLUMN a TO b`: the column and the indexes over
/// it change their name; rows keep their values (stored by column id).
async fn rename_column(
    session: &mut Session,
    table: &TableInfo,
    from: &str,
    to: &str,
) -> Result<()> {
    let (_, c) = table
        .column(from)
        .ok_or_else(|| Error::bad_field(from, &table.name))?;
    if to.is_empty() || to.len() > 64 || to.ends_with(' ') {
        return Err(Error::new(
            code::ER_WRONG_COLUMN_NAME,
            format!("Incorrect column name '{to}'"),
        ));
    }
    if !from.eq_ignore_ascii_case(to) && table.column(to).is_some() {
        return Err(Error::new(
            code::ER_DUP_FIELDNAME,
            format!("Duplicate column name '{to}'"),
        ));
    }
    let (old, new) = (c.name.clone(), to.to_string());
    update_table(session, table, move |t| {
        for c in t.columns.iter_mut().filter(|c| c.name == old) {
            c.name = new.clone();
        }
        for ic in t.indexes.iter_mut().flat_map(|i| i.columns.iter_mut()) {
            if ic.name.eq_ignore_ascii_case(&old) {
                ic.name = new.clone();
            }
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// `ALTER TABLE t ALTER [COLUMN] c SET DEFAULT v`: rows inserted from now
/// on take `v`; rows already there keep their values.
async fn set_default(
    session: &mut Session,
    table: &TableInfo,
    column: &str,
    value: &sqlparser::ast::Expr,
) -> Result<()> {
    let (_, c) = table
        .column(column)
        .ok_or_else(|| Error::bad_field(column, &table.name))?;
    let default = super::create_table::default_value(value, c)?;
    if default == crate::catalog::model::DefaultValue::Null && !c.nullable {
        return Err(Error::new(
            code::ER_INVALID_DEFAULT,
            format!("Invalid default value for '{}'", c.name),
        ));
    }
    let id = c.id;
    update_table(session, table, move |t| {
        for c in t.columns.iter_mut().filter(|c| c.id == id) {
            c.default = Some(default.clone());
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// `ALGORITHM=` and `LOCK=` as TiDB takes them: every change here is
/// INPLACE, metadata-only ones INSTANT, and none locks the table. An
/// algorithm that cannot be had fails the statement before anything
/// changes (1846, as MySQL); `ALGORITHM=COPY` and a table lock asked for
/// are not done, and a warning says so.
fn check_algorithm_and_lock(session: &mut Session, ops: &[AlterTableOperation]) -> Result<()> {
    use sqlparser::ast::{AlterTableAlgorithm, AlterTableLock};
    // Index changes write or delete entries: INPLACE, as in MySQL.
    let not_instant = ops.iter().any(|op| {
        matches!(
            op,
            AlterTableOperation::AddConstraint { .. } | AlterTableOperation::DropIndex { .. }
        )
    });
    for op in ops {
        match op {
            AlterTableOperation::Algorithm {
                algorithm: AlterTableAlgorithm::Instant,
                ..
            } if not_instant => {
                return Err(Error::new(
                    code::ER_ALTER_OPERATION_NOT_SUPPORTED_REASON,
                    "ALGORITHM=INSTANT is not supported. Reason: Cannot alter table by INSTANT. Try ALGORITHM=INPLACE.",
                ));
            }
            AlterTableOperation::Algorithm {
                algorithm: AlterTableAlgorithm::Copy,
                ..
            } => session.warn(
                code::ER_UNKNOWN,
                "ALGORITHM=COPY is not supported: the change is made INPLACE",
            ),
            AlterTableOperation::Lock {
                lock: lock @ (AlterTableLock::Shared | AlterTableLock::Exclusive),
                ..
            } => session.warn(
                code::ER_UNKNOWN,
                format!("LOCK={lock} is not supported: duet's schema changes never lock the table"),
            ),
            _ => {}
        }
    }
    Ok(())
}

/// `ALTER TABLE t AUTO_INCREMENT = n`: the next value this server
/// allocates is at least `n` (as InnoDB, a value at or below one already
/// handed out changes nothing). Other SQL servers finish the batch of
/// values they hold first, as TiDB's do.
async fn set_auto_increment(
    session: &mut Session,
    table: &TableInfo,
    value: &sqlparser::ast::ValueWithSpan,
) -> Result<()> {
    let n: i64 = match &value.value {
        sqlparser::ast::Value::Number(n, _) => n.parse().ok(),
        _ => None,
    }
    .filter(|n| *n >= 0)
    .ok_or_else(|| Error::parse(format!("near 'AUTO_INCREMENT = {value}'")))?;
    if n > 0 {
        session
            .shared
            .auto_ids
            .observe(&session.shared.client, table.id, n - 1)
            .await?;
    }
    Ok(())
}

/// `ALTER TABLE t SET ...`: the columnar replica count.
async fn set_properties(
    session: &mut Session,
    table: &Arc<TableInfo>,
    table_properties: &[SqlOption],
) -> Result<()> {
    for p in table_properties {
        match p {
            SqlOption::KeyValue { key, value } if key.value == crate::dialect::COLUMNAR_REPLICA => {
                let count = value
                    .to_string()
                    .parse::<u64>()
                    .map_err(|_| Error::parse(format!("near 'REPLICA {value}'")))?;
                super::columnar::set_replica(session, table, count).await?;
            }
            other => return Err(Error::unsupported(format!("SET {other}"))),
        }
    }
    Ok(())
}

/// `ALTER TABLE t ADD COLUMN ...` (no key, no AUTO_INCREMENT): rows written
/// before keep no value for it and read its original default.
async fn add_column(
    session: &mut Session,
    table: &Arc<TableInfo>,
    column_def: &sqlparser::ast::ColumnDef,
    column_position: &Option<sqlparser::ast::MySQLColumnPosition>,
    if_not_exists: bool,
) -> Result<()> {
    if table.column(&column_def.name.value).is_some() {
        if if_not_exists {
            return Ok(());
        }
        return Err(Error::new(
            code::ER_DUP_FIELDNAME,
            format!("Duplicate column name '{}'", column_def.name.value),
        ));
    }
    if column_def.options.iter().any(|o| {
        matches!(
            o.option,
            ColumnOption::PrimaryKey(_) | ColumnOption::Unique(_)
        )
    }) {
        return Err(Error::unsupported("ADD COLUMN with a key"));
    }
    let position = column_position.clone();
    let def = column_def.clone();
    update_table(session, table, move |t| {
        let (mut col, _) = super::create_table::column(&def, t.next_column_id)?;
        if col.auto_increment {
            return Err(Error::unsupported("ADD COLUMN ... AUTO_INCREMENT"));
        }
        t.next_column_id += 1;
        col.origin_default = match &col.default {
            Some(crate::catalog::model::DefaultValue::Literal(s)) => Some(s.clone()),
            _ if !col.nullable => Some(zero_text(&col.ft)),
            _ => None,
        };
        let at = match &position {
            Some(sqlparser::ast::MySQLColumnPosition::First) => 0,
            Some(sqlparser::ast::MySQLColumnPosition::After(after)) => t
                .column(&after.value)
                .map(|(i, _)| i + 1)
                .ok_or_else(|| Error::bad_field(&after.value, &t.name))?,
            None => t.columns.len(),
        };
        t.columns.insert(at, col);
        t.fix_handle_position();
        Ok(())
    })
    .await?;
    Ok(())
}

/// `ALTER TABLE t DROP COLUMN ...`, with the indexes over the column.
async fn drop_columns(
    session: &mut Session,
    table: &Arc<TableInfo>,
    column_names: &[sqlparser::ast::Ident],
    if_exists: bool,
) -> Result<()> {
    for name in column_names {
        let Some((_, c)) = table.column(&name.value) else {
            if if_exists {
                continue;
            }
            return Err(Error::new(
                code::ER_CANT_DROP_FIELD_OR_KEY,
                format!("Can't DROP '{}'; check that column/key exists", name.value),
            ));
        };
        let col = c.name.clone();
        if table.primary().is_some_and(|p| {
            p.columns
                .iter()
                .any(|ic| ic.name.eq_ignore_ascii_case(&col))
        }) {
            return Err(Error::unsupported("dropping a primary key column"));
        }
        if table.columns.len() == 1 {
            return Err(Error::new(
                code::ER_CANT_DROP_FIELD_OR_KEY,
                "You can't delete all columns with ALTER TABLE; use DROP TABLE instead",
            ));
        }
        let dropped: Vec<i64> = table
            .indexes
            .iter()
            .filter(|i| {
                i.columns
                    .iter()
                    .any(|ic| ic.name.eq_ignore_ascii_case(&col))
            })
            .map(|i| i.id)
            .collect();
        // The indexes over the column go first, through their states.
        let mut t: TableInfo = (**table).clone();
        for id in dropped {
            t = remove_index(session, &t, id).await?;
        }
        update_table(session, &t, |t| {
            t.columns.retain(|c| !c.name.eq_ignore_ascii_case(&col));
            t.fix_handle_position();
            Ok(())
        })
        .await?;
    }
    Ok(())
}

fn zero_text(ft: &crate::catalog::model::FieldType) -> String {
    use crate::catalog::model::SqlType::*;
    match ft.tp {
        Date => "0000-00-00".into(),
        DateTime | Timestamp => "0000-00-00 00:00:00".into(),
        Time => "00:00:00".into(),
        Char | VarChar | TinyText | Text | MediumText | LongText | Binary | VarBinary
        | TinyBlob | Blob | MediumBlob | LongBlob => String::new(),
        _ => "0".into(),
    }
}

pub async fn rename(session: &mut Session, from: &ObjectName, to: &ObjectName) -> Result<Output> {
    let (_, table) = resolve(session, from)?;
    let (db, name) = session.qualified(to)?;
    crate::ddl::txn::check_name(&name, false)?;
    let schema = session.schema();
    let target = schema.db(&db).ok_or_else(|| Error::bad_db(&db))?;
    if target.tables.contains_key(&name.to_lowercase()) {
        return Err(Error::new(
            code::ER_TABLE_EXISTS,
            format!("Table '{name}' already exists"),
        ));
    }
    let new_db = target.info.id;
    let old_db = table.db_id;
    let id = table.id;
    crate::ddl::txn::in_ddl_txn(session, async |txn| {
        let mut t = meta::list_tables(txn, Some(old_db))
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| Error::no_such_table("", &table.name))?;
        meta::delete_table_info(txn, old_db, id).await?;
        t.name = name.clone();
        t.db_id = new_db;
        meta::put_table(txn, &t).await
    })
    .await?;
    Ok(Output::ok(0))
}

pub async fn truncate(session: &mut Session, name: &ObjectName) -> Result<Output> {
    let (_, table) = resolve(session, name)?;
    let old = table.id;
    let new_id = crate::ddl::txn::in_ddl_txn(session, async |txn| {
        let mut t = meta::list_tables(txn, Some(table.db_id))
            .await?
            .into_iter()
            .find(|t| t.id == old)
            .ok_or_else(|| Error::no_such_table("", &table.name))?;
        meta::delete_table(txn, t.db_id, old).await?;
        t.id = meta::alloc_ids(txn, 1).await?;
        meta::put_table(txn, &t).await?;
        Ok(t.id)
    })
    .await?;
    session.shared.auto_ids.forget(old);
    session.shared.auto_ids.forget(-old);
    super::create_table::split_table(session, new_id).await;
    if table.columnar_replica > 0 {
        let rule = crate::catalog::placement::rule(new_id, table.columnar_replica);
        session.shared.pd.set_columnar_rule(rule).await?;
    }
    crate::ddl::drop::delete_table_data(session, old).await?;
    Ok(Output::ok(0))
}
