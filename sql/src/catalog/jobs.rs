//! DDL jobs as stored in the KV (TiDB's `model.Job`): the queue the DDL
//! owner works through, the history of finished jobs, the owner's lease,
//! and the key ranges waiting to be freed once GC passes them.
//!
//! ```text
//!  statement --submit--> mDDLJob:{id}  (Queueing)
//!                          | owner: one schema state per step, each its own
//!                          | schema version, checkpointed in the job
//!                          v
//!                        mDDLHistory:{id}  (Synced | RollbackDone | Cancelled)
//!  submitter polls mDDLHistory:{id} and answers the client
//! ```
//!
//! The types are plain data; running jobs is `crate::ddl::owner`'s.

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use txn::client::Transaction;

use super::meta::{from_json, key, prefix_end, to_json};
use super::model::{ColumnInfo, IndexInfo, SchemaState};
use crate::error::Result;

const JOB_PREFIX: &[u8] = b"mDDLJob:";
const HISTORY_PREFIX: &[u8] = b"mDDLHistory:";
const OWNER: &[u8] = b"mDDLOwner";
const DELETE_RANGE_PREFIX: &[u8] = b"mDelRange:";

/// What a job does; the label is what `ADMIN SHOW DDL JOBS` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobType {
    CreateSchema,
    DropSchema,
    CreateTable,
    DropTable,
    TruncateTable,
    RenameTable,
    AddIndex,
    DropIndex,
    AddColumn,
    DropColumn,
    ModifyColumn,
    RenameColumn,
    SetDefaultValue,
    SetColumnarReplica,
}

impl JobType {
    pub fn label(self) -> &'static str {
        match self {
            JobType::CreateSchema => "create schema",
            JobType::DropSchema => "drop schema",
            JobType::CreateTable => "create table",
            JobType::DropTable => "drop table",
            JobType::TruncateTable => "truncate table",
            JobType::RenameTable => "rename table",
            JobType::AddIndex => "add index",
            JobType::DropIndex => "drop index",
            JobType::AddColumn => "add column",
            JobType::DropColumn => "drop column",
            JobType::ModifyColumn => "modify column",
            JobType::RenameColumn => "rename column",
            JobType::SetDefaultValue => "set default value",
            JobType::SetColumnarReplica => "set columnar replica",
        }
    }
}

/// Where a job is in its life (TiDB's `JobState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    /// Waiting for the owner.
    Queueing,
    Running,
    /// `ADMIN CANCEL DDL JOBS` asked; the owner rolls it back at its next
    /// step.
    Cancelling,
    /// Going back through the states after a failure or a cancel.
    RollingBack,
    /// Its last schema version is published; servers are catching up.
    Done,
    /// Finished and every server has its last version.
    Synced,
    /// Failed or cancelled, and every change undone.
    RollbackDone,
    /// Cancelled before it changed anything.
    Cancelled,
}

impl JobState {
    pub fn label(self) -> &'static str {
        match self {
            JobState::Queueing => "queueing",
            JobState::Running => "running",
            JobState::Cancelling => "cancelling",
            JobState::RollingBack => "rollingback",
            JobState::Done => "done",
            JobState::Synced => "synced",
            JobState::RollbackDone => "rollback done",
            JobState::Cancelled => "cancelled",
        }
    }
}

/// What a multi-step job needs to resume after its owner died.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JobArgs {
    /// Statements done in one step: nothing to resume.
    None,
    /// The index being added (its id fixed by the first step).
    AddIndex { index: IndexInfo },
    /// Indexes going away together, and the column with them (DROP
    /// COLUMN).
    DropIndexes {
        index_ids: Vec<i64>,
        column_id: Option<i64>,
    },
    /// MODIFY/CHANGE COLUMN to NOT NULL, or to a type every row must be
    /// converted to (`convert`): the column as it will be, its name
    /// before, and where it goes (`FIRST`, or `AFTER` a column). The new
    /// column id and index copies of a conversion are in the table
    /// ([`super::model::ChangingColumn`]).
    ModifyColumn {
        column: ColumnInfo,
        old_name: String,
        first: bool,
        after: Option<String>,
        #[serde(default)]
        convert: bool,
    },
}

/// A failed job's error, as the client gets it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobError {
    pub code: u16,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub id: i64,
    pub job_type: JobType,
    pub db_id: i64,
    pub db_name: String,
    pub table_id: i64,
    pub table_name: String,
    pub query: String,
    pub state: JobState,
    /// The state the job's object is in; None before the first step and
    /// after it is gone.
    pub schema_state: Option<SchemaState>,
    /// The schema version of the job's last step.
    pub schema_version: i64,
    /// Rows backfilled so far.
    pub row_count: i64,
    /// Where the backfill goes on (the first row key not yet done).
    pub reorg_next: Option<Vec<u8>>,
    pub error: Option<JobError>,
    /// TSO timestamps: queued, first step, finished.
    pub create_ts: u64,
    pub start_ts: u64,
    pub end_ts: u64,
    pub args: JobArgs,
}

impl Job {
    pub fn new(job_type: JobType, query: &str) -> Job {
        Job {
            id: 0,
            job_type,
            db_id: 0,
            db_name: String::new(),
            table_id: 0,
            table_name: String::new(),
            query: query.to_string(),
            state: JobState::Queueing,
            schema_state: None,
            schema_version: 0,
            row_count: 0,
            reorg_next: None,
            error: None,
            create_ts: 0,
            start_ts: 0,
            end_ts: 0,
            args: JobArgs::None,
        }
    }

    /// Whether the job is over (it is then in the history).
    pub fn finished(&self) -> bool {
        matches!(
            self.state,
            JobState::Synced | JobState::RollbackDone | JobState::Cancelled
        )
    }
}

/// The DDL owner's claim: which server, and until when (TSO physical
/// milliseconds) no other may take over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub id: String,
    pub addr: String,
    pub lease_until_ms: u64,
}

/// A key range of a dropped table or index, freed once the GC safe point
/// passes `ts` (filled in by the owner when it first sees the range: any
/// read that sees the range is above the commit that dropped it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRange {
    pub start: Vec<u8>,
    pub end: Vec<u8>,
    pub ts: Option<u64>,
}

pub async fn put_job(txn: &mut Transaction, job: &Job) -> Result<()> {
    txn.put(key(JOB_PREFIX, &[job.id]), to_json(job)).await?;
    Ok(())
}

/// A queued job, read with a lock (the owner's steps and a cancel
/// serialise on it).
pub async fn job_for_update(txn: &mut Transaction, id: i64) -> Result<Option<Job>> {
    match txn.get_for_update(&key(JOB_PREFIX, &[id])).await? {
        Some(v) => Ok(Some(from_json(&v)?)),
        None => Ok(None),
    }
}

/// The queue, oldest first.
pub async fn queued_jobs(txn: &Transaction) -> Result<Vec<Job>> {
    let pairs = txn
        .scan(JOB_PREFIX, &prefix_end(JOB_PREFIX), 0, false)
        .await?;
    pairs.iter().map(|(_, v)| from_json(v)).collect()
}

/// Moves a finished job from the queue to the history.
pub async fn finish_job(txn: &mut Transaction, job: &Job) -> Result<()> {
    txn.delete(key(JOB_PREFIX, &[job.id])).await?;
    put_history(txn, job).await
}

pub async fn put_history(txn: &mut Transaction, job: &Job) -> Result<()> {
    txn.put(key(HISTORY_PREFIX, &[job.id]), to_json(job))
        .await?;
    Ok(())
}

pub async fn history_job(txn: &Transaction, id: i64) -> Result<Option<Job>> {
    match txn.get(&key(HISTORY_PREFIX, &[id])).await? {
        Some(v) => Ok(Some(from_json(&v)?)),
        None => Ok(None),
    }
}

/// The newest `limit` finished jobs, newest first.
pub async fn recent_history(txn: &Transaction, limit: usize) -> Result<Vec<Job>> {
    let pairs = txn
        .scan(HISTORY_PREFIX, &prefix_end(HISTORY_PREFIX), limit, true)
        .await?;
    pairs.iter().map(|(_, v)| from_json(v)).collect()
}

pub async fn owner(txn: &Transaction) -> Result<Option<Owner>> {
    match txn.get(OWNER).await? {
        Some(v) => Ok(Some(from_json(&v)?)),
        None => Ok(None),
    }
}

/// The owner record, locked: a step of a job and a takeover serialise
/// here, so a deposed owner's step cannot commit after a new owner took
/// over.
pub async fn owner_for_update(txn: &mut Transaction) -> Result<Option<Owner>> {
    match txn.get_for_update(OWNER).await? {
        Some(v) => Ok(Some(from_json(&v)?)),
        None => Ok(None),
    }
}

pub async fn put_owner(txn: &mut Transaction, owner: &Owner) -> Result<()> {
    txn.put(OWNER.to_vec(), to_json(owner)).await?;
    Ok(())
}

/// Records ranges for the owner to free after GC passes the drop.
pub async fn add_delete_ranges(
    txn: &mut Transaction,
    job_id: i64,
    ranges: &[(Vec<u8>, Vec<u8>)],
) -> Result<()> {
    for (n, (start, end)) in ranges.iter().enumerate() {
        let r = DeleteRange {
            start: start.clone(),
            end: end.clone(),
            ts: None,
        };
        txn.put(key(DELETE_RANGE_PREFIX, &[job_id, n as i64]), to_json(&r))
            .await?;
    }
    Ok(())
}

/// Every pending range, with its key.
pub async fn delete_ranges(txn: &Transaction) -> Result<Vec<(Vec<u8>, DeleteRange)>> {
    let pairs = txn
        .scan(
            DELETE_RANGE_PREFIX,
            &prefix_end(DELETE_RANGE_PREFIX),
            0,
            false,
        )
        .await?;
    pairs
        .into_iter()
        .map(|(k, v)| Ok((k, from_json(&v)?)))
        .collect()
}

pub async fn put_delete_range(txn: &mut Transaction, k: Vec<u8>, r: &DeleteRange) -> Result<()> {
    txn.put(k, to_json(r)).await?;
    Ok(())
}

/// This server's side of the DDL machinery, shared by its sessions: its
/// id as an owner candidate, a bell the owner loop waits on (rung when a
/// session queues a job) and one sessions wait on (rung when this server,
/// as owner, finishes a job).
pub struct DdlSignals {
    pub id: String,
    pub addr: String,
    pub queued: Notify,
    pub finished: Notify,
}

impl DdlSignals {
    pub fn new(addr: String) -> DdlSignals {
        DdlSignals {
            id: format!("{:016x}", rand::random::<u64>()),
            addr,
            queued: Notify::new(),
            finished: Notify::new(),
        }
    }
}
