//! Changing existing tables: columns, TRUNCATE, RENAME; indexes are
//! owner jobs ([`crate::ddl::index`]).
//!
//! Column changes here need no data rewrite (rows store values by column
//! id) and take one schema version each (`crate::ddl::txn::in_ddl_txn`).

use std::sync::Arc;

use sqlparser::ast::{
    AlterTable, AlterTableOperation, ColumnOption, CreateIndex, ObjectName, RenameTableNameKind,
    SqlOption,
};

use crate::catalog::jobs::{self, JobType};
use crate::catalog::meta;
use crate::catalog::model::{IndexInfo, SchemaState, TableInfo};
use crate::error::{Error, Result, code};
use crate::session::{Output, Session};

fn resolve(session: &Session, name: &ObjectName) -> Result<(String, std::sync::Arc<TableInfo>)> {
    let (db, t) = session.qualified(name)?;
    let schema = session.schema();
    let table = schema.require_table(&db, &t)?.clone();
    Ok((db, table))
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
    super::index::add_index(session, &table, idx).await?;
    Ok(Output::ok(0))
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
    super::index::drop_indexes(session, &table, vec![idx.id], None).await?;
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
                super::index::add_index(session, &table, idx).await?;
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
            AlterTableOperation::AlterColumn {
                column_name,
                op: sqlparser::ast::AlterColumnOperation::DropDefault,
            } => super::modify_column::drop_default(session, &table, &column_name.value).await?,
            AlterTableOperation::ModifyColumn {
                col_name,
                data_type,
                options,
                column_position,
            } => {
                super::modify_column::modify(
                    session,
                    &table,
                    col_name,
                    None,
                    data_type,
                    options,
                    column_position,
                )
                .await?
            }
            AlterTableOperation::ChangeColumn {
                old_name,
                new_name,
                data_type,
                options,
                column_position,
            } => {
                super::modify_column::modify(
                    session,
                    &table,
                    old_name,
                    Some(new_name),
                    data_type,
                    options,
                    column_position,
                )
                .await?
            }
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
    super::txn::check_column_name(to)?;
    if !from.eq_ignore_ascii_case(to) && table.column(to).is_some() {
        return Err(Error::new(
            code::ER_DUP_FIELDNAME,
            format!("Duplicate column name '{to}'"),
        ));
    }
    let (old, new) = (c.name.clone(), to.to_string());
    super::txn::update_table(session, table, JobType::RenameColumn, move |t| {
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
    super::txn::update_table(session, table, JobType::SetDefaultValue, move |t| {
        for c in t.columns.iter_mut().filter(|c| c.id == id) {
            c.no_default = false;
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
    super::txn::update_table(session, table, JobType::AddColumn, move |t| {
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
        // The indexes over the column go with it, through their states.
        super::index::drop_indexes(session, table, dropped, Some(c.id)).await?;
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
    crate::ddl::txn::in_ddl_txn(session, JobType::RenameTable, async |txn, job| {
        let mut t = meta::get_table(txn, old_db, id)
            .await?
            .ok_or_else(|| Error::no_such_table("", &table.name))?;
        super::txn::describe_job(session, job, &t);
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
    let new_id = crate::ddl::txn::in_ddl_txn(session, JobType::TruncateTable, async |txn, job| {
        let mut t = meta::get_table(txn, table.db_id, old)
            .await?
            .ok_or_else(|| Error::no_such_table("", &table.name))?;
        super::txn::describe_job(session, job, &t);
        meta::delete_table(txn, t.db_id, old).await?;
        jobs::add_delete_ranges(txn, job.id, &[codec::table::table_range(old)]).await?;
        t.id = meta::alloc_ids(txn, 1).await?;
        // A conversion under way is of the old table: its job finds the
        // table gone and stops (or, past public, has nothing left to do).
        t.changing = None;
        t.removing = None;
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
    crate::ddl::columnar::drop_rule(session, old).await?;
    Ok(Output::ok(0))
}
