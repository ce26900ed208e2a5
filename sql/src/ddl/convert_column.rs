//! A MODIFY/CHANGE COLUMN that converts every row (TiDB's column type
//! change, `pkg/ddl/modify_column.go`), run by the DDL owner as an online
//! job, one schema version per step:
//!
//! ```text
//!  none --> delete only --> write only --> write reorganization
//!     (the hidden new column and index copies added; their state)
//!       --> backfill, in batches, checkpointed in the job
//!       --> public: the new column takes the old one's place, name and
//!           options, the copies the old indexes' places and names; the
//!           old column and indexes stay hidden and write only
//!       --> the old column and indexes delete only
//!       --> they are gone; the old indexes' entries freed after GC
//!  a value that does not fit, a duplicate in a unique copy, or a cancel
//!  before public: back to delete only, then none (the copies' entries
//!  freed after GC); the table is as it was
//! ```
//!
//! The new column is a [`ChangingColumn`] of the table: a new column id
//! (the table's `next_column_id`, never reused) and copies of the indexes
//! over the column under new index ids from the global allocator. Writes
//! keep them as `crate::table::changing` describes, converting as a
//! strict-mode INSERT does; reads never see them. Servers one state apart
//! agree as for an index being added: one that writes the copy runs only
//! beside one that at least deletes its entries.
//!
//! The backfill starts once every server writes the copy. Each batch
//! (`tidb_ddl_reorg_batch_size` rows) is one pessimistic transaction that
//! claims ownership, locks the job (a cancel is seen at once), reads the
//! next rows' keys at its snapshot, locks the rows and reads their newest
//! version (a concurrent writer is waited for, never converted as it
//! was), rewrites each row with the converted value — the row value is
//! edited by column id, so every other column, even one added meanwhile,
//! is kept as it is — writes the copies' entries, and stores where the
//! next batch starts and the rows done: a new owner resumes there. A
//! batch that meets a lock or a deadlock is tried again; a value that does
//! not convert fails the job with MySQL's ALTER TABLE error (1264 out of
//! range, 1265 data truncated, 1366 incorrect value, 1138 a NULL for NOT
//! NULL, "at row N" counting rows in key order), and it rolls back.
//!
//! The old column leaves as a dropped index does (TiDB keeps a changed
//! column's old counterpart the same way): a server one version behind
//! public still reads the old column id, also through the scans the
//! stores decode, so public writes still write it — the new value
//! converted back, exactly — and the old indexes' entries, and only the
//! next version, once every server has public, stops writing them
//! (delete only); the one after that removes them. The job's schema state
//! stays "public" through these two steps, and it cannot be cancelled.
//!
//! Rows store values by column id, so the old column's values left in the
//! rows are ignored once it is gone, and the new one's left by a rolled
//! back job likewise (ids are never reused).

use std::collections::HashMap;
use std::time::Duration;

use codec::datum::Datum;
use codec::row::{RawColumn, RowView};
use sqlparser::ast::MySQLColumnPosition;

use crate::catalog::jobs::{self, Job, JobArgs, JobError, JobState};
use crate::catalog::meta;
use crate::catalog::model::{
    ChangingColumn, ChangingIndex, ColumnId, ColumnInfo, FieldType, HandleKind, IndexColumn,
    IndexInfo, RemovingColumn, SchemaState, SqlType, TableInfo,
};
use crate::ddl::index::{BACKFILL_RETRIES, job_table, reorg_batch_size, retry_backfill};
use crate::ddl::owner::{self, Step, claim, finish, job_error, publish_from};
use crate::error::{Error, Result, code};
use crate::session::shared::Shared;
use crate::table::changing::{Changing, convert_value};

/// What a conversion cannot do, checked when the statement comes and
/// again when the job starts: a column of the primary key (it is the
/// rows' handle, as in TiDB: 8200), an index prefix on a type that is not
/// a string or longer than the new type (1089), a TEXT or BLOB in an
/// index without a prefix (1170).
pub(crate) fn check_convertible(t: &TableInfo, old: &ColumnInfo, new: &FieldType) -> Result<()> {
    let over_old = |ic: &IndexColumn| ic.name.eq_ignore_ascii_case(&old.name);
    if t.primary().is_some_and(|p| p.columns.iter().any(over_old)) {
        return Err(super::column::unsupported(
            "this column has primary key flag",
        ));
    }
    let stringy = new.is_string() || new.is_binary();
    let fixed = matches!(
        new.tp,
        SqlType::Char | SqlType::VarChar | SqlType::Binary | SqlType::VarBinary
    );
    for ic in t
        .indexes
        .iter()
        .flat_map(|i| &i.columns)
        .filter(|ic| over_old(ic))
    {
        match ic.length {
            Some(n) if !stringy || (fixed && n as usize > new.max_len()) => {
                return Err(Error::new(
                    code::ER_WRONG_SUB_KEY,
                    "Incorrect prefix key; the used key part isn't a string, the used length is longer than the key part, or the storage engine doesn't support unique prefix keys",
                ));
            }
            None if new.is_blob() => {
                return Err(Error::new(
                    code::ER_BLOB_KEY_WITHOUT_LENGTH,
                    format!(
                        "BLOB/TEXT column '{}' used in key specification without a key length",
                        old.name
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The job's arguments: the column as it will be, the old name, where
/// the column goes.
fn args(job: &Job) -> Result<(ColumnInfo, String, Option<MySQLColumnPosition>)> {
    match &job.args {
        JobArgs::ModifyColumn {
            column,
            old_name,
            first,
            after,
            ..
        } => Ok((
            column.clone(),
            old_name.clone(),
            super::column::position(*first, after.clone()),
        )),
        _ => Err(Error::internal("a modify-column job without its column")),
    }
}

/// One step of a converting MODIFY/CHANGE COLUMN job.
pub(crate) async fn step(shared: &Shared, job: Job) -> Result<Step> {
    use SchemaState::*;
    Ok(match (job.state, job.schema_state) {
        (JobState::Queueing | JobState::Running, None) => {
            start(shared, &job).await?;
            Step::Wait
        }
        (JobState::Cancelling, None) => {
            finish(
                shared,
                job.id,
                JobState::Cancelled,
                Some(owner::cancelled()),
            )
            .await?;
            Step::Finished
        }
        (JobState::Cancelling, Some(_)) => {
            owner::fail(shared, job.id, owner::cancelled()).await?;
            Step::Continue
        }
        (JobState::Running, Some(DeleteOnly)) => {
            set_state(shared, &job, WriteOnly, JobState::Running).await?;
            Step::Wait
        }
        (JobState::Running, Some(WriteOnly)) => {
            set_state(shared, &job, WriteReorganization, JobState::Running).await?;
            Step::Wait
        }
        (JobState::Running, Some(WriteReorganization)) => match backfill(shared, &job).await? {
            Backfill::Done => {
                swap(shared, &job).await?;
                Step::Wait
            }
            Backfill::Stopped => Step::Continue,
            Backfill::Failed(e) => {
                owner::fail(shared, job.id, e).await?;
                Step::Continue
            }
        },
        (JobState::Running, Some(Public)) => {
            // Each of these steps goes by the table's state, not the
            // job's: make sure the last one is everywhere first, also
            // when resuming after an error or as a new owner.
            crate::ddl::txn::wait_schema_synced(shared, job.schema_version).await;
            retire_old(shared, &job).await?;
            Step::Wait
        }
        (JobState::Done, _) => {
            finish(shared, job.id, JobState::Synced, None).await?;
            Step::Finished
        }
        (JobState::RollingBack, Some(WriteReorganization | WriteOnly)) => {
            set_state(shared, &job, DeleteOnly, JobState::RollingBack).await?;
            Step::Wait
        }
        (JobState::RollingBack, Some(DeleteOnly)) => {
            remove_copies(shared, &job).await?;
            Step::Wait
        }
        (JobState::RollingBack, None) => {
            finish(shared, job.id, JobState::RollbackDone, None).await?;
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

/// The first step: the new column (a new id) and the index copies (new
/// ids) join the table in delete-only state.
async fn start(shared: &Shared, job: &Job) -> Result<()> {
    let (column, old_name, _) = args(job)?;
    publish_from(shared, job, async move |txn, job| {
        let mut t = match job_table(txn, job).await? {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        if t.changing.is_some() || t.removing.is_some() {
            return Ok(Err(job_error(&Error::internal(
                "another column of the table is being converted",
            ))));
        }
        let Some((_, old)) = t.column(&old_name) else {
            return Ok(Err(job_error(&Error::bad_field(&old_name, &t.name))));
        };
        let old = old.clone();
        if let Err(e) = check_convertible(&t, &old, &column.ft) {
            return Ok(Err(job_error(&e)));
        }
        if !column.name.eq_ignore_ascii_case(&old.name) && t.column(&column.name).is_some() {
            return Ok(Err(JobError {
                code: code::ER_DUP_FIELDNAME,
                message: format!("Duplicate column name '{}'", column.name),
            }));
        }
        let over: Vec<_> = t
            .indexes
            .iter()
            .filter(|i| {
                i.columns
                    .iter()
                    .any(|ic| ic.name.eq_ignore_ascii_case(&old.name))
            })
            .cloned()
            .collect();
        let first_id = meta::alloc_ids(txn, over.len() as i64).await?;
        let indexes = over
            .into_iter()
            .zip(first_id..)
            .map(|(old_index, id)| ChangingIndex {
                old_id: old_index.id,
                index: IndexInfo {
                    id,
                    state: SchemaState::Public,
                    ..old_index
                },
            })
            .collect();
        let new = ColumnInfo {
            id: t.next_column_id,
            ..column
        };
        t.next_column_id += 1;
        t.changing = Some(ChangingColumn {
            old_id: old.id,
            column: new,
            state: SchemaState::DeleteOnly,
            indexes,
        });
        meta::put_table(txn, &t).await?;
        job.state = JobState::Running;
        job.schema_state = Some(SchemaState::DeleteOnly);
        Ok(Ok(true))
    })
    .await
}

/// Moves the new column and the copies to `state`. Going forward, the
/// table and its changing column must be there; rolling back, a table
/// gone (dropped, truncated) leaves nothing to do.
async fn set_state(
    shared: &Shared,
    job: &Job,
    state: SchemaState,
    job_state: JobState,
) -> Result<()> {
    publish_from(shared, job, async move |txn, job| {
        match job_table(txn, job).await? {
            Ok(mut t) => match t.changing.as_mut() {
                Some(ch) => {
                    ch.state = state;
                    meta::put_table(txn, &t).await?;
                }
                None if job_state == JobState::RollingBack => {}
                None => {
                    return Ok(Err(job_error(&Error::internal(
                        "the converted column is not in its table",
                    ))));
                }
            },
            Err(_) if job_state == JobState::RollingBack => {}
            Err(e) => return Ok(Err(e)),
        }
        job.schema_state = Some(state);
        job.state = job_state;
        Ok(Ok(true))
    })
    .await
}

/// Rolled back: the new column and the copies leave the table, the
/// copies' entries are freed after GC.
async fn remove_copies(shared: &Shared, job: &Job) -> Result<()> {
    publish_from(shared, job, async move |txn, job| {
        if let Ok(mut t) = job_table(txn, job).await?
            && let Some(ch) = t.changing.take()
        {
            meta::put_table(txn, &t).await?;
            let ranges: Vec<_> = ch
                .indexes
                .iter()
                .map(|ci| codec::table::index_range(t.id, ci.index.id))
                .collect();
            jobs::add_delete_ranges(txn, job.id, &ranges).await?;
        }
        job.schema_state = None;
        Ok(Ok(true))
    })
    .await
}

/// The point of no return: the new column takes the old one's place (or
/// the one asked for), name and options; each copy takes its old index's
/// place and name. The old column and indexes stay, hidden and
/// write-only, as the table's `removing`: a server still on the previous
/// version reads them ([`crate::table::changing`]).
async fn swap(shared: &Shared, job: &Job) -> Result<()> {
    let (_, _, position) = args(job)?;
    publish_from(shared, job, async move |txn, job| {
        let mut t = match job_table(txn, job).await? {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        let Some(ch) = t.changing.take() else {
            return Ok(Err(job_error(&Error::internal(
                "the converted column is not in its table",
            ))));
        };
        let Some(old) = t.columns.iter().find(|c| c.id == ch.old_id).cloned() else {
            return Ok(Err(job_error(&Error::internal(
                "the column being converted is gone",
            ))));
        };
        let mut old_indexes = Vec::new();
        for ci in ch.indexes {
            if let Some(i) = t.indexes.iter().position(|i| i.id == ci.old_id) {
                let copy = IndexInfo {
                    name: t.indexes[i].name.clone(),
                    state: SchemaState::Public,
                    ..ci.index
                };
                let was = std::mem::replace(&mut t.indexes[i], copy);
                old_indexes.push(ChangingIndex {
                    old_id: t.indexes[i].id,
                    index: was,
                });
            }
        }
        let new_id = ch.column.id;
        if let Err(e) = super::column::place(&mut t, old.id, &old.name, ch.column, &position) {
            return Ok(Err(job_error(&e)));
        }
        t.removing = Some(RemovingColumn {
            old_id: new_id,
            column: old,
            state: SchemaState::WriteOnly,
            indexes: old_indexes,
        });
        meta::put_table(txn, &t).await?;
        job.schema_state = Some(SchemaState::Public);
        Ok(Ok(true))
    })
    .await
}

/// After public, one step each: the old column and indexes go from write
/// only to delete only, then leave the table (their entries freed after
/// GC) and the job is done. A table dropped or truncated meanwhile has
/// nothing left to retire.
async fn retire_old(shared: &Shared, job: &Job) -> Result<()> {
    publish_from(shared, job, async move |txn, job| {
        let mut done = true;
        if let Ok(mut t) = job_table(txn, job).await? {
            match t.removing.as_mut() {
                Some(rm) if rm.state.writes() => {
                    rm.state = SchemaState::DeleteOnly;
                    meta::put_table(txn, &t).await?;
                    done = false;
                }
                Some(_) => {
                    let rm = t.removing.take().expect("matched");
                    meta::put_table(txn, &t).await?;
                    let ranges: Vec<_> = rm
                        .indexes
                        .iter()
                        .map(|ci| codec::table::index_range(t.id, ci.index.id))
                        .collect();
                    jobs::add_delete_ranges(txn, job.id, &ranges).await?;
                }
                None => {}
            }
        }
        if done {
            job.state = JobState::Done;
        }
        Ok(Ok(true))
    })
    .await
}

enum Backfill {
    Done,
    /// The job is no longer running (cancelled): its next step decides.
    Stopped,
    Failed(JobError),
}

/// Converts every row, from the job's checkpoint on.
async fn backfill(shared: &Shared, job: &Job) -> Result<Backfill> {
    let txn = shared.client.begin().await?;
    let t = match job_table(&txn, job).await? {
        Ok(t) => t,
        Err(e) => return Ok(Backfill::Failed(e)),
    };
    let Some(changing) = Changing::of(&t) else {
        return Err(Error::internal(format!(
            "the converted column of job {} is not in its table",
            job.id
        )));
    };
    let (start, end) = codec::table::record_range(t.id);
    let mut from = job.reorg_next.clone().unwrap_or(start);
    let limit = reorg_batch_size(shared);
    let mut attempt = 0;
    loop {
        match backfill_batch(shared, &t, &changing, job.id, &from, &end, limit).await {
            Ok(Batch::Next(next)) => {
                from = next;
                attempt = 0;
            }
            Ok(Batch::End) => return Ok(Backfill::Done),
            Ok(Batch::Stopped) => return Ok(Backfill::Stopped),
            Ok(Batch::Failed(e)) => return Ok(Backfill::Failed(e)),
            Err(e) if retry_backfill(&e) && attempt < BACKFILL_RETRIES => {
                attempt += 1;
                tracing::debug!(table = %t.name, attempt, "conversion batch retried: {e}");
                tokio::time::sleep(Duration::from_millis(10 * attempt as u64)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

enum Batch {
    /// Done up to here.
    Next(Vec<u8>),
    End,
    Stopped,
    /// A value that does not convert, or a duplicate in a unique copy.
    Failed(JobError),
}

/// Converts the rows in `[from, end)`, up to `limit`, in one pessimistic
/// transaction with the job's checkpoint (see the module doc).
async fn backfill_batch(
    shared: &Shared,
    t: &TableInfo,
    changing: &Changing<'_>,
    job_id: i64,
    from: &[u8],
    end: &[u8],
    limit: usize,
) -> Result<Batch> {
    let mut txn = shared.client.begin_pessimistic().await?;
    let result: Result<Batch> = async {
        claim(&mut txn, shared).await?;
        let Some(mut job) = jobs::job_for_update(&mut txn, job_id).await? else {
            return Ok(Batch::Stopped);
        };
        if job.state != JobState::Running {
            return Ok(Batch::Stopped);
        }
        // Dropped or truncated meanwhile: the next step fails the job.
        if meta::get_table(&txn, job.db_id, job.table_id)
            .await?
            .is_none()
        {
            return Ok(Batch::Stopped);
        }
        let keys: Vec<Vec<u8>> = txn
            .scan(from, end, limit, false)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let Some(last) = keys.last() else {
            return Ok(Batch::End);
        };
        let mut next = last.clone();
        next.push(0);
        let rows = txn.batch_get_for_update(keys.clone()).await?;
        let converted = match convert_rows(t, changing, &keys, &rows, job.row_count)? {
            Ok(c) => c,
            Err(e) => return Ok(Batch::Failed(e)),
        };
        if let Some(e) = unique_clash(&mut txn, &converted.entries).await? {
            return Ok(Batch::Failed(e));
        }
        txn.lock_keys(converted.entries.iter().map(|e| e.key.clone()).collect())
            .await?;
        let written = converted.records.len() as i64;
        for (k, v) in converted.records {
            txn.put(k, v).await?;
        }
        for e in converted.entries {
            txn.put(e.key, e.value).await?;
        }
        job.reorg_next = Some(next.clone());
        job.row_count += written;
        jobs::put_job(&mut txn, &job).await?;
        txn.commit().await?;
        Ok(Batch::Next(next))
    }
    .await;
    match &result {
        Ok(Batch::Next(_)) => {}
        _ => {
            let _ = txn.rollback().await;
        }
    }
    result
}

/// A batch's rows converted: the rewritten records and the copies'
/// entries.
struct Converted {
    records: Vec<(Vec<u8>, Vec<u8>)>,
    entries: Vec<Entry>,
}

/// An index copy's entry; for a unique one, the key name and the values
/// a 1062 shows.
struct Entry {
    key: Vec<u8>,
    value: Vec<u8>,
    unique: Option<(String, String)>,
}

/// Converts the rows (`None`: deleted since the scan); `done` rows came
/// before them. The inner error is the job's: a value that does not fit.
fn convert_rows(
    t: &TableInfo,
    changing: &Changing<'_>,
    keys: &[Vec<u8>],
    rows: &[Option<Vec<u8>>],
    done: i64,
) -> Result<std::result::Result<Converted, JobError>> {
    let all: Vec<usize> = (0..t.columns.len()).collect();
    let common = matches!(t.handle, HandleKind::Common);
    let ch = changing.info;
    let name = &ch.column.name;
    let mut out = Converted {
        records: Vec::with_capacity(keys.len()),
        entries: Vec::new(),
    };
    let present = keys
        .iter()
        .zip(rows)
        .filter_map(|(k, v)| Some((k, v.as_ref()?)));
    for (n, (k, v)) in present.enumerate() {
        let row_no = done as usize + n + 1;
        let row = crate::table::decode_record(t, k, v, &all)?;
        let old = row[changing.at].clone();
        let value = match convert_value(old.clone(), &ch.column, name, row_no) {
            Ok(value) => value,
            Err(e) => return Ok(Err(alter_error(&e, name, row_no))),
        };
        let mut sets = vec![(ch.column.id, value.clone())];
        // Kept in the row even where it was missing (the column came
        // later): a row with the new column and without the old one is
        // one a server past this job wrote (`crate::table::changing`).
        if RowView::new(v)?.raw(ch.old_id) == RawColumn::Absent {
            sets.push((ch.old_id, old));
        }
        out.records.push((k.clone(), set_columns(v, &sets)?));
        let (_, handle) = codec::table::decode_row_key(k, common)?;
        let shadow_row = changing.shadow_row(&row, value);
        for idx in &changing.shadow.indexes {
            let values = crate::table::index_values(&changing.shadow, idx, &shadow_row);
            let (key, value) =
                crate::table::index_entry(&changing.shadow, idx, &shadow_row, &handle);
            let unique = crate::table::is_distinct_entry(idx, &values).then(|| {
                let shown: Vec<String> = values.iter().map(crate::dml::write::show).collect();
                (format!("{}.{}", t.name, idx.name), shown.join("-"))
            });
            out.entries.push(Entry { key, value, unique });
        }
    }
    Ok(Ok(out))
}

/// A unique copy's entry that another row holds already (in the store,
/// or earlier in the batch): the job fails with 1062.
async fn unique_clash(
    txn: &mut txn::client::Transaction,
    entries: &[Entry],
) -> Result<Option<JobError>> {
    let unique: Vec<Vec<u8>> = entries
        .iter()
        .filter(|e| e.unique.is_some())
        .map(|e| e.key.clone())
        .collect();
    if unique.is_empty() {
        return Ok(None);
    }
    let mut held: HashMap<Vec<u8>, Vec<u8>> = unique
        .iter()
        .cloned()
        .zip(txn.batch_get_for_update(unique.clone()).await?)
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    for e in entries {
        let Some((key_name, shown)) = &e.unique else {
            continue;
        };
        if held.get(&e.key).is_some_and(|v| *v != e.value) {
            return Ok(Some(job_error(&crate::dml::write::dup_entry(
                shown, key_name,
            ))));
        }
        held.insert(e.key.clone(), e.value.clone());
    }
    Ok(None)
}

/// A conversion error as MySQL's ALTER TABLE reports it: a string too
/// long is "data truncated" (1265), a NULL for NOT NULL 1138.
fn alter_error(e: &Error, column: &str, row: usize) -> JobError {
    match e.code() {
        code::ER_DATA_TOO_LONG => JobError {
            code: code::ER_WARN_DATA_TRUNCATED,
            message: format!("Data truncated for column '{column}' at row {row}"),
        },
        code::ER_BAD_NULL => JobError {
            code: code::ER_INVALID_USE_OF_NULL,
            message: "Invalid use of NULL value".into(),
        },
        _ => job_error(e),
    }
}

/// A row value with the columns `sets` put in (replacing any of the same
/// id) and every other column's bytes as they were.
fn set_columns(value: &[u8], sets: &[(ColumnId, Datum)]) -> Result<Vec<u8>> {
    let view = RowView::new(value)?;
    let kept: Vec<(ColumnId, Datum)> = view
        .column_ids()
        .into_iter()
        .filter(|id| sets.iter().all(|(s, _)| s != id))
        .map(|id| {
            // The bytes go back as they came: a Bytes datum is stored raw.
            let d = match view.raw(id) {
                RawColumn::Value(b) => Datum::Bytes(b.to_vec()),
                _ => Datum::Null,
            };
            (id, d)
        })
        .collect();
    let cols: Vec<(ColumnId, &Datum)> = kept.iter().chain(sets).map(|(id, d)| (*id, d)).collect();
    let mut buf = Vec::with_capacity(value.len() + 16);
    codec::row::encode_row(&mut buf, &cols);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_columns_keeps_every_other_column_as_it_was() {
        let mut row = Vec::new();
        let s = Datum::Bytes(b"abc".to_vec());
        codec::row::encode_row(
            &mut row,
            &[(1, &Datum::I64(-7)), (2, &Datum::Null), (3, &s)],
        );
        let edited = set_columns(&row, &[(9, Datum::I64(300)), (2, Datum::U64(5))]).unwrap();
        let view = RowView::new(&edited).unwrap();
        assert_eq!(
            view.get(1, codec::datum::DatumKind::I64).unwrap(),
            Some(Datum::I64(-7))
        );
        assert_eq!(
            view.get(2, codec::datum::DatumKind::U64).unwrap(),
            Some(Datum::U64(5))
        );
        assert_eq!(
            view.get(3, codec::datum::DatumKind::Bytes).unwrap(),
            Some(s)
        );
        assert_eq!(
            view.get(9, codec::datum::DatumKind::I64).unwrap(),
            Some(Datum::I64(300))
        );
        assert_eq!(view.column_ids(), vec![1, 2, 3, 9]);
    }
}
