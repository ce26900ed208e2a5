//! `ALTER TABLE ... MODIFY [COLUMN]`, `CHANGE [COLUMN]` and `ALTER COLUMN
//! ... DROP DEFAULT`.
//!
//! Rows store values by column id, and every integer is held in 64 bits
//! and every string as bytes, so most changes users make need no rewrite:
//!
//! * **instant** (one schema version): a new name, default, comment or
//!   position; NOT NULL to NULL; a type that holds every value of the old
//!   one in the same form — a wider integer of the same signedness, a
//!   longer VARCHAR/VARBINARY/CHAR, a bigger TEXT or BLOB, FLOAT to DOUBLE,
//!   more fractional-second digits;
//! * **NULL to NOT NULL** (an owner job, TiDB's way): first every server
//!   refuses to write NULL to the column (a flag, reads unchanged), then the
//!   owner reads every row; a NULL found fails the job with 1138 and the
//!   flag goes, else the column becomes NOT NULL;
//! * **any other type change** (narrowing, another type family, DECIMAL
//!   precision or scale, signedness, CHAR to VARCHAR ...) converts every
//!   row and the indexes over the column, online, as an owner job
//!   ([`crate::ddl::convert_column`]): the converted values go into a
//!   hidden column with a new id and hidden copies of the indexes, which
//!   take the old ones' places at the end. A value that does not fit the
//!   new type (strict mode: 1264, 1265, 1366 ...) fails the job, and the
//!   table is left as it was. A column of the primary key (the rows'
//!   handle) is not converted (8200), as in TiDB.
//!
//! Other DDL that changes the table's columns waits for no job: while a
//! conversion runs it is refused (8200), see `crate::ddl::txn`.

use sqlparser::ast::{
    ColumnDef, ColumnOption, ColumnOptionDef, DataType, Ident, MySQLColumnPosition,
};

use crate::catalog::jobs::{Job, JobArgs, JobError, JobState, JobType};
use crate::catalog::meta;
use crate::catalog::model::{ColumnInfo, FieldType, SchemaState, SqlType, TableInfo};
use crate::ddl::owner::{Step, finish, job_error, publish_from};
use crate::error::{Error, Result, code};
use crate::session::Session;
use crate::session::shared::Shared;

/// `MODIFY c def` (`new_name` None) or `CHANGE c new_name def`.
pub async fn modify(
    session: &mut Session,
    table: &TableInfo,
    name: &Ident,
    new_name: Option<&Ident>,
    data_type: &DataType,
    options: &[ColumnOption],
    position: &Option<MySQLColumnPosition>,
) -> Result<()> {
    let (_, old) = table
        .column(&name.value)
        .ok_or_else(|| Error::bad_field(&name.value, &table.name))?;
    let def = ColumnDef {
        name: new_name.unwrap_or(name).clone(),
        data_type: data_type.clone(),
        options: options
            .iter()
            .map(|o| ColumnOptionDef {
                name: None,
                option: o.clone(),
            })
            .collect(),
    };
    let (new, convert) = definition(table, old, &def)?;
    if let Some(MySQLColumnPosition::After(after)) = position
        && table.column(&after.value).is_none()
    {
        return Err(Error::bad_field(&after.value, &table.name));
    }
    let position = position.clone();
    let old_name = old.name.clone();
    if convert || (old.nullable && !new.nullable) {
        let mut job = super::index::table_job(session, table, JobType::ModifyColumn);
        job.args = JobArgs::ModifyColumn {
            column: new,
            old_name,
            first: matches!(position, Some(MySQLColumnPosition::First)),
            after: match position {
                Some(MySQLColumnPosition::After(a)) => Some(a.value),
                _ => None,
            },
            convert,
        };
        super::job::run(&session.shared, job).await?;
        return Ok(());
    }
    let id = old.id;
    super::txn::update_table(session, table, JobType::ModifyColumn, move |t| {
        super::column::place(t, id, &old_name, new, &position)
    })
    .await?;
    Ok(())
}

/// The column `def` makes of `old`, checked against the table, and
/// whether every row must be converted to it.
fn definition(table: &TableInfo, old: &ColumnInfo, def: &ColumnDef) -> Result<(ColumnInfo, bool)> {
    let (mut new, keys) = super::create_table::column(def, old.id)?;
    if !keys.is_empty() {
        return Err(Error::unsupported("MODIFY/CHANGE COLUMN with a key"));
    }
    if new.auto_increment != old.auto_increment {
        return Err(super::column::unsupported("changing AUTO_INCREMENT"));
    }
    let convert = rewrite_needed(&old.ft, &new.ft);
    if convert {
        super::convert_column::check_convertible(table, old, &new.ft)?;
    }
    let in_primary = table.primary().is_some_and(|p| {
        p.columns
            .iter()
            .any(|ic| ic.name.eq_ignore_ascii_case(&old.name))
    });
    if in_primary && new.nullable {
        // MySQL 8.0: a primary key column stays NOT NULL.
        new.nullable = false;
    }
    if !new.name.eq_ignore_ascii_case(&old.name) {
        super::txn::check_column_name(&new.name)?;
        if table.column(&new.name).is_some() {
            return Err(Error::new(
                code::ER_DUP_FIELDNAME,
                format!("Duplicate column name '{}'", new.name),
            ));
        }
    }
    // A converted column has a value in every row; only an instant change
    // keeps reading old rows' missing values as before.
    new.origin_default = if convert {
        None
    } else {
        old.origin_default.clone()
    };
    Ok((new, convert))
}

/// `ALTER COLUMN c DROP DEFAULT`: an insert that leaves the column out
/// fails in strict mode (1364), also for a nullable column.
pub async fn drop_default(session: &mut Session, table: &TableInfo, column: &str) -> Result<()> {
    let (_, c) = table
        .column(column)
        .ok_or_else(|| Error::bad_field(column, &table.name))?;
    let id = c.id;
    super::txn::update_table(session, table, JobType::SetDefaultValue, move |t| {
        for c in t.columns.iter_mut().filter(|c| c.id == id) {
            c.default = None;
            c.no_default = true;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Whether going from `old` to `new` needs every row converted: false
/// when every stored value of `old` is a value of `new` as it is.
pub fn rewrite_needed(old: &FieldType, new: &FieldType) -> bool {
    use SqlType::*;
    let int_rank = |t: SqlType| match t {
        TinyInt => Some(1),
        SmallInt => Some(2),
        MediumInt => Some(3),
        Int => Some(4),
        BigInt => Some(5),
        _ => None,
    };
    let text_rank = |t: SqlType| match t {
        TinyText => Some(1),
        Text => Some(2),
        MediumText => Some(3),
        LongText => Some(4),
        _ => None,
    };
    let blob_rank = |t: SqlType| match t {
        TinyBlob => Some(1),
        Blob => Some(2),
        MediumBlob => Some(3),
        LongBlob => Some(4),
        _ => None,
    };
    let ok = match (old.tp, new.tp) {
        (a, b) if int_rank(a).is_some() && int_rank(b).is_some() => {
            old.unsigned == new.unsigned && int_rank(b) >= int_rank(a)
        }
        (Year, Year) | (Double, Double) | (Float, Float | Double) => true,
        (VarChar, VarChar) | (Char, Char) | (VarBinary, VarBinary) => new.length >= old.length,
        (Binary, Binary) => new.length == old.length,
        (a, b) if text_rank(a).is_some() && text_rank(b).is_some() => text_rank(b) >= text_rank(a),
        (a, b) if blob_rank(a).is_some() && blob_rank(b).is_some() => blob_rank(b) >= blob_rank(a),
        (Decimal, Decimal) => new.length == old.length && new.scale == old.scale,
        (Date, Date) => true,
        (DateTime, DateTime) | (Timestamp, Timestamp) | (Time, Time) => new.scale >= old.scale,
        _ => false,
    };
    !ok
}

/// One step of a MODIFY COLUMN job: a conversion, or to NOT NULL.
pub(crate) async fn step(shared: &Shared, job: Job) -> Result<Step> {
    let JobArgs::ModifyColumn {
        column,
        old_name,
        first,
        after,
        convert,
    } = job.args.clone()
    else {
        return Err(Error::internal("a modify-column job without its column"));
    };
    if convert {
        return super::convert_column::step(shared, job).await;
    }
    let id = column.id;
    let from = (job.state, job.schema_state);
    let set_pending = async |pending: bool, state: JobState, schema: Option<SchemaState>| {
        publish_from(shared, &job, async move |txn, job| {
            let Some(mut t) = meta::get_table(txn, job.db_id, job.table_id).await? else {
                return Ok(Err(job_error(&Error::no_such_table(
                    &job.db_name,
                    &job.table_name,
                ))));
            };
            let mut id = id;
            // The column by its name when the job starts: a job queued
            // before this one may have given it a new id (a conversion).
            if from == (JobState::Queueing, None)
                && let JobArgs::ModifyColumn {
                    column, old_name, ..
                } = &mut job.args
            {
                let Some((_, c)) = t.column(old_name) else {
                    return Ok(Err(job_error(&Error::bad_field(old_name, &t.name))));
                };
                (id, column.id) = (c.id, c.id);
            }
            for c in t.columns.iter_mut().filter(|c| c.id == id) {
                c.not_null_pending = pending;
            }
            meta::put_table(txn, &t).await?;
            job.state = state;
            job.schema_state = schema;
            Ok(Ok(true))
        })
        .await
    };
    Ok(match (job.state, job.schema_state) {
        (JobState::Cancelling, None) => {
            finish(
                shared,
                job.id,
                JobState::Cancelled,
                Some(super::owner::cancelled()),
            )
            .await?;
            Step::Finished
        }
        (JobState::Queueing, None) => {
            set_pending(true, JobState::Running, Some(SchemaState::WriteOnly)).await?;
            Step::Wait
        }
        (JobState::Running | JobState::Cancelling, Some(SchemaState::WriteOnly)) => {
            let cancelled = job.state == JobState::Cancelling;
            match if cancelled {
                Some(super::owner::cancelled())
            } else {
                find_null(shared, &job, id).await?
            } {
                Some(e) => {
                    super::owner::fail(shared, job.id, e).await?;
                    Step::Continue
                }
                None => {
                    let position = super::column::position(first, after);
                    publish_from(shared, &job, async move |txn, job| {
                        let Some(mut t) = meta::get_table(txn, job.db_id, job.table_id).await?
                        else {
                            return Ok(Err(job_error(&Error::no_such_table(
                                &job.db_name,
                                &job.table_name,
                            ))));
                        };
                        if let Err(e) =
                            super::column::place(&mut t, id, &old_name, column, &position)
                        {
                            return Ok(Err(job_error(&e)));
                        }
                        meta::put_table(txn, &t).await?;
                        job.state = JobState::Done;
                        job.schema_state = Some(SchemaState::Public);
                        Ok(Ok(true))
                    })
                    .await?;
                    Step::Wait
                }
            }
        }
        (JobState::RollingBack, Some(_)) => {
            set_pending(false, JobState::RollingBack, None).await?;
            Step::Wait
        }
        (JobState::RollingBack, None) => {
            finish(shared, job.id, JobState::RollbackDone, None).await?;
            Step::Finished
        }
        (JobState::Done, _) => {
            finish(shared, job.id, JobState::Synced, None).await?;
            Step::Finished
        }
        (state, schema) => {
            return Err(Error::internal(format!(
                "modify-column job {} in an impossible state {state:?}/{schema:?}",
                job.id
            )));
        }
    })
}

/// Reads every row (every server refuses NULL writes by now) and answers
/// 1138 at the first NULL in the column.
async fn find_null(shared: &Shared, job: &Job, column_id: i64) -> Result<Option<JobError>> {
    let txn = shared.client.begin().await?;
    let Some(t) = meta::get_table(&txn, job.db_id, job.table_id).await? else {
        return Ok(Some(job_error(&Error::no_such_table(
            &job.db_name,
            &job.table_name,
        ))));
    };
    let Some(at) = t.columns.iter().position(|c| c.id == column_id) else {
        return Err(Error::internal("the modified column is gone"));
    };
    let (mut from, end) = codec::table::record_range(t.id);
    loop {
        let batch = txn.scan(&from, &end, 1024, false).await?;
        let Some((last, _)) = batch.last() else {
            return Ok(None);
        };
        from = last.clone();
        from.push(0);
        for (k, v) in &batch {
            let row = crate::table::decode_record(&t, k, v, &[at])?;
            if row[0] == codec::datum::Datum::Null {
                return Ok(Some(JobError {
                    code: code::ER_INVALID_USE_OF_NULL,
                    message: "Invalid use of NULL value".into(),
                }));
            }
        }
    }
}
