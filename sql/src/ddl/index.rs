//! Adding and dropping indexes (and DROP COLUMN, which drops the indexes
//! over the column with it) as owner jobs, through F1's states, each its
//! own schema version with every server on it before the next
//! (`crate::ddl::txn::wait_schema_synced`):
//!
//! ```text
//!  add:   none -> delete only -> write only -> write reorganization
//!              -> backfill (checkpointed in the job) -> public
//!  drop:  public -> write only -> delete only -> none (entries' range
//!              freed after GC, crate::ddl::delete_range)
//!  add, failed or cancelled: back down to delete only, then none
//! ```
//!
//! Servers one state apart never disagree in a way that leaves an entry
//! wrong: one that writes entries only runs beside one that at least
//! deletes them. The backfill starts once every server writes the index
//! and goes through the rows in batches (`tidb_ddl_reorg_batch_size`,
//! default 256), each a pessimistic transaction that claims ownership,
//! locks the job (a cancel is seen at once), locks the rows and reads their
//! newest version before writing their entries (a concurrent writer is
//! waited for, never indexed as it was), and stores where the next batch
//! starts and the rows done so far: a new owner resumes there. A batch that
//! meets a deadlock or a lock wait is retried; a unique index that meets
//! two rows with the same values fails the job with 1062, and it rolls
//! back. Index ids come from the global allocator and are never reused.

use std::collections::HashMap;
use std::time::Duration;

use txn::client::Transaction;

use crate::catalog::jobs::{self, Job, JobArgs, JobError, JobState, JobType};
use crate::catalog::meta;
use crate::catalog::model::{HandleKind, IndexInfo, SchemaState, TableInfo};
use crate::ddl::owner::{self, Step, claim, finish, job_error, publish, publish_from};
use crate::error::{Error, Result, code};
use crate::session::Session;
use crate::session::shared::Shared;

/// `ADD INDEX` / `CREATE INDEX`: checks what can be checked before the job
/// is queued, then runs it.
pub async fn add_index(session: &Session, table: &TableInfo, idx: IndexInfo) -> Result<()> {
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
    if !idx.name.is_empty() && table.index(&idx.name).is_some() {
        return Err(dup_key_name(&idx.name));
    }
    let mut job = table_job(session, table, JobType::AddIndex);
    job.args = JobArgs::AddIndex { index: idx };
    crate::ddl::job::run(&session.shared, job).await?;
    Ok(())
}

/// `DROP INDEX`, or `DROP COLUMN` with `column_id` (and the indexes over
/// it).
pub async fn drop_indexes(
    session: &Session,
    table: &TableInfo,
    index_ids: Vec<i64>,
    column_id: Option<i64>,
) -> Result<()> {
    let job_type = match column_id {
        Some(_) => JobType::DropColumn,
        None => JobType::DropIndex,
    };
    let mut job = table_job(session, table, job_type);
    job.args = JobArgs::DropIndexes {
        index_ids,
        column_id,
    };
    crate::ddl::job::run(&session.shared, job).await?;
    Ok(())
}

pub(crate) fn table_job(session: &Session, table: &TableInfo, job_type: JobType) -> Job {
    let mut job = session.job(job_type);
    super::txn::describe_job(session, &mut job, table);
    job
}

fn dup_key_name(name: &str) -> Error {
    Error::new(code::ER_DUP_KEYNAME, format!("Duplicate key name '{name}'"))
}

fn no_table(job: &Job) -> JobError {
    job_error(&Error::no_such_table(&job.db_name, &job.table_name))
}

/// The job's table as stored now, or the job's error if it is gone.
pub(crate) async fn job_table(
    txn: &Transaction,
    job: &Job,
) -> Result<std::result::Result<TableInfo, JobError>> {
    Ok(meta::get_table(txn, job.db_id, job.table_id)
        .await?
        .ok_or_else(|| no_table(job)))
}

/// Moves the indexes `ids` of the job's table to `state` (a missing table
/// or index is left alone: there is nothing to move).
async fn set_states(
    shared: &Shared,
    job: &Job,
    ids: Vec<i64>,
    state: SchemaState,
    job_state: JobState,
) -> Result<()> {
    publish_from(shared, job, async move |txn, job| {
        if let Some(mut t) = meta::get_table(txn, job.db_id, job.table_id).await? {
            for i in t.indexes.iter_mut().filter(|i| ids.contains(&i.id)) {
                i.state = state;
            }
            meta::put_table(txn, &t).await?;
        }
        job.schema_state = Some(state);
        job.state = job_state;
        Ok(Ok(true))
    })
    .await
}

/// Takes the indexes out of the table (and the column, for DROP COLUMN),
/// recording their entries' ranges to be freed after GC.
async fn remove(
    shared: &Shared,
    job: &Job,
    ids: Vec<i64>,
    column_id: Option<i64>,
    job_state: JobState,
) -> Result<()> {
    publish_from(shared, job, async move |txn, job| {
        if let Some(mut t) = meta::get_table(txn, job.db_id, job.table_id).await? {
            t.indexes.retain(|i| !ids.contains(&i.id));
            if let Some(c) = column_id {
                t.columns.retain(|col| col.id != c);
                t.fix_handle_position();
            }
            meta::put_table(txn, &t).await?;
            let ranges: Vec<_> = ids
                .iter()
                .map(|id| codec::table::index_range(t.id, *id))
                .collect();
            jobs::add_delete_ranges(txn, job.id, &ranges).await?;
        }
        job.schema_state = None;
        job.state = job_state;
        Ok(Ok(true))
    })
    .await
}

/// One step of an ADD INDEX job.
pub(crate) async fn add_step(shared: &Shared, job: Job) -> Result<Step> {
    use SchemaState::*;
    let JobArgs::AddIndex { index } = &job.args else {
        return Err(Error::internal("an add-index job without its index"));
    };
    let id = index.id;
    Ok(match (job.state, job.schema_state) {
        (JobState::Queueing | JobState::Running, None) => {
            publish(shared, job.id, async |txn, job| {
                let mut t = match job_table(txn, job).await? {
                    Ok(t) => t,
                    Err(e) => return Ok(Err(e)),
                };
                let JobArgs::AddIndex { index } = &mut job.args else {
                    return Ok(Ok(false));
                };
                if !index.name.is_empty() && t.index(&index.name).is_some() {
                    return Ok(Err(job_error(&dup_key_name(&index.name))));
                }
                index.id = meta::alloc_ids(txn, 1).await?;
                index.state = DeleteOnly;
                t.indexes.push(index.clone());
                crate::ddl::create_table::name_indexes(&mut t.indexes);
                // The name the table gave it, for the job's later steps.
                *index = t.indexes.last().expect("just added").clone();
                meta::put_table(txn, &t).await?;
                job.state = JobState::Running;
                job.schema_state = Some(DeleteOnly);
                Ok(Ok(true))
            })
            .await?;
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
            set_states(shared, &job, vec![id], WriteOnly, JobState::Running).await?;
            Step::Wait
        }
        (JobState::Running, Some(WriteOnly)) => {
            set_states(
                shared,
                &job,
                vec![id],
                WriteReorganization,
                JobState::Running,
            )
            .await?;
            Step::Wait
        }
        (JobState::Running, Some(WriteReorganization)) => match backfill(shared, &job).await? {
            Backfill::Done => {
                set_states(shared, &job, vec![id], Public, JobState::Done).await?;
                Step::Wait
            }
            Backfill::Stopped => Step::Continue,
            Backfill::Failed(e) => {
                owner::fail(shared, job.id, e).await?;
                Step::Continue
            }
        },
        (JobState::Done, _) => {
            finish(shared, job.id, JobState::Synced, None).await?;
            Step::Finished
        }
        (JobState::RollingBack, Some(Public | WriteReorganization | WriteOnly)) => {
            set_states(shared, &job, vec![id], DeleteOnly, JobState::RollingBack).await?;
            Step::Wait
        }
        (JobState::RollingBack, Some(DeleteOnly)) => {
            remove(shared, &job, vec![id], None, JobState::RollingBack).await?;
            Step::Wait
        }
        (JobState::RollingBack, None) => {
            finish(shared, job.id, JobState::RollbackDone, None).await?;
            Step::Finished
        }
        (state, schema) => {
            return Err(Error::internal(format!(
                "add-index job {} in an impossible state {state:?}/{schema:?}",
                job.id
            )));
        }
    })
}

/// One step of a DROP INDEX or DROP COLUMN job.
pub(crate) async fn drop_step(shared: &Shared, job: Job) -> Result<Step> {
    use SchemaState::*;
    let JobArgs::DropIndexes {
        index_ids,
        column_id,
    } = job.args.clone()
    else {
        return Err(Error::internal("a drop-index job without its indexes"));
    };
    Ok(match (job.state, job.schema_state) {
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
        (JobState::Queueing, None) if index_ids.is_empty() => {
            remove(shared, &job, index_ids, column_id, JobState::Done).await?;
            Step::Wait
        }
        (JobState::Queueing, None) => {
            let txn = shared.client.begin().await?;
            if let Err(e) = job_table(&txn, &job).await? {
                finish(shared, job.id, JobState::Cancelled, Some(e)).await?;
                return Ok(Step::Finished);
            }
            set_states(shared, &job, index_ids, WriteOnly, JobState::Running).await?;
            Step::Wait
        }
        (JobState::Running, Some(WriteOnly)) => {
            set_states(shared, &job, index_ids, DeleteOnly, JobState::Running).await?;
            Step::Wait
        }
        (JobState::Running, Some(DeleteOnly)) => {
            remove(shared, &job, index_ids, column_id, JobState::Done).await?;
            Step::Wait
        }
        (JobState::Done, _) => {
            finish(shared, job.id, JobState::Synced, None).await?;
            Step::Finished
        }
        (state, schema) => {
            return Err(Error::internal(format!(
                "drop-index job {} in an impossible state {state:?}/{schema:?}",
                job.id
            )));
        }
    })
}

enum Backfill {
    Done,
    /// The job is no longer running (cancelled): its next step decides.
    Stopped,
    Failed(JobError),
}

/// Writes the index entries of every row, from the job's checkpoint on.
async fn backfill(shared: &Shared, job: &Job) -> Result<Backfill> {
    let txn = shared.client.begin().await?;
    let t = match job_table(&txn, job).await? {
        Ok(t) => t,
        Err(e) => return Ok(Backfill::Failed(e)),
    };
    let JobArgs::AddIndex { index } = &job.args else {
        return Err(Error::internal("an add-index job without its index"));
    };
    let Some(idx) = t.indexes.iter().find(|i| i.id == index.id).cloned() else {
        return Err(Error::internal(format!(
            "index {} of job {} is not in its table",
            index.id, job.id
        )));
    };
    let (start, end) = codec::table::record_range(t.id);
    let mut from = job.reorg_next.clone().unwrap_or(start);
    let batch = reorg_batch_size(shared);
    let mut attempt = 0;
    loop {
        match backfill_batch(shared, &t, &idx, job.id, &from, &end, batch).await {
            Ok(Batch::Next(next)) => {
                from = next;
                attempt = 0;
            }
            Ok(Batch::End) => return Ok(Backfill::Done),
            Ok(Batch::Stopped) => return Ok(Backfill::Stopped),
            Err(e) if e.code() == code::ER_DUP_ENTRY => {
                return Ok(Backfill::Failed(job_error(&e)));
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

/// Rows a backfill batch reads and writes (`tidb_ddl_reorg_batch_size`).
pub(crate) fn reorg_batch_size(shared: &Shared) -> usize {
    match shared.globals.get("tidb_ddl_reorg_batch_size") {
        Some(crate::session::vars::VarValue::Int(n)) => n as usize,
        _ => 256,
    }
}

/// How often one backfill batch is tried again after a conflict.
pub(crate) const BACKFILL_RETRIES: usize = 100;

/// Whether a backfill batch that failed with `e` is worth another try:
/// a deadlock with, or a lock wait on, a concurrent writer.
pub(crate) fn retry_backfill(e: &Error) -> bool {
    e.is_retryable()
        || matches!(
            e.code(),
            code::ER_LOCK_DEADLOCK | code::ER_LOCK_WAIT_TIMEOUT
        )
}

enum Batch {
    /// Done up to here.
    Next(Vec<u8>),
    End,
    Stopped,
}

/// Writes the entries of the rows in `[from, end)`, up to `limit`, in one
/// pessimistic transaction with the job's checkpoint: the rows and their
/// entries are locked and read at their newest version first, so a
/// concurrent change of a row (even one only locked so far) is waited for
/// and then indexed as it is, never as it was.
async fn backfill_batch(
    shared: &Shared,
    t: &TableInfo,
    idx: &IndexInfo,
    job_id: i64,
    from: &[u8],
    end: &[u8],
    limit: usize,
) -> Result<Batch> {
    let all: Vec<usize> = (0..t.columns.len()).collect();
    let mut txn = shared.client.begin_pessimistic().await?;
    let result: Result<Batch> = async {
        claim(&mut txn, shared).await?;
        let Some(mut job) = jobs::job_for_update(&mut txn, job_id).await? else {
            return Ok(Batch::Stopped);
        };
        if job.state != JobState::Running {
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
        let existing: HashMap<Vec<u8>, Vec<u8>> = unique_keys
            .iter()
            .cloned()
            .zip(txn.batch_get_for_update(unique_keys.clone()).await?)
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        // Every entry locked in one request, not one per put.
        txn.lock_keys(entries.iter().map(|e| e.0.0.clone()).collect())
            .await?;
        let mut seen = HashMap::new();
        let written = entries.len() as i64;
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
