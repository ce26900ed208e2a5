//! # The DDL owner: one SQL server at a time runs the queued jobs
//!
//! Every SQL server campaigns for the `mDDLOwner` key; the one holding it
//! takes jobs from the queue in id order and runs each one step at a
//! time. A step is one transaction that locks the schema version (every
//! catalog change bumps it), locks the owner key and checks it is still
//! this server's, locks the job, changes the catalog and the job's state
//! together, and commits. Then the owner waits until every live server
//! runs the new version before the next step, at most two schema leases
//! (`crate::ddl::txn::wait_schema_synced`).
//!
//! ```text
//!  campaign (every lease_ttl/4, or when a session queues a job):
//!    lock mDDLOwner; free, ours, or its lease over (TSO time)?
//!      -> write {us, lease_until = now + ttl}, commit: we are the owner
//!  owner: loop { job = first queued; step(job) until finished }
//!         free the ranges of dropped objects the GC has passed
//! ```
//!
//! Ownership is a lease for liveness only; safety does not rest on
//! clocks: a step of a deposed owner locks the owner key, sees another
//! server's id and aborts, so at most one owner's steps commit. A new
//! owner resumes a job from its stored state, a backfill from its stored
//! checkpoint ([`crate::ddl::index`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use txn::client::Transaction;

use crate::catalog::jobs::{self, Job, JobError, JobState, JobType, Owner};
use crate::error::{Error, Result, code};
use crate::session::shared::Shared;

/// How long an owner's claim holds without renewal: a dead owner is
/// replaced after at most this long.
pub fn lease_ttl(shared: &Shared) -> Duration {
    crate::catalog::registry::ttl(shared.config.schema_lease)
}

/// Campaigns and, while this server owns the DDL, runs jobs, until
/// `shutdown`.
pub async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let tick = lease_ttl(&shared) / 4;
    loop {
        match campaign(&shared).await {
            Ok(true) => {
                if let Err(e) = work(&shared).await {
                    tracing::warn!("DDL owner: {e}; trying again");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::debug!("DDL owner campaign: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shared.ddl.queued.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Takes or renews the owner key; true if this server owns the DDL now.
async fn campaign(shared: &Shared) -> Result<bool> {
    let mut txn = shared.client.begin_pessimistic().await?;
    let result: Result<bool> = async {
        let now = txn.start_ts().physical();
        let ours = match jobs::owner_for_update(&mut txn).await? {
            None => true,
            Some(o) => o.id == shared.ddl.id || o.lease_until_ms < now,
        };
        if ours {
            renew(&mut txn, shared).await?;
            txn.commit().await?;
        } else {
            txn.rollback().await?;
        }
        Ok(ours)
    }
    .await;
    if result.is_err() {
        let _ = txn.rollback().await;
    }
    result
}

async fn renew(txn: &mut Transaction, shared: &Shared) -> Result<()> {
    let owner = Owner {
        id: shared.ddl.id.clone(),
        addr: shared.ddl.addr.clone(),
        lease_until_ms: txn.start_ts().physical() + lease_ttl(shared).as_millis() as u64,
    };
    jobs::put_owner(txn, &owner).await
}

/// Inside a step's transaction: locks the owner key, fails unless this
/// server still owns the DDL, and renews the lease.
pub(crate) async fn claim(txn: &mut Transaction, shared: &Shared) -> Result<()> {
    match jobs::owner_for_update(txn).await? {
        Some(o) if o.id == shared.ddl.id => renew(txn, shared).await,
        _ => Err(Error::new(
            code::ER_UNKNOWN,
            "this SQL server is no longer the DDL owner",
        )),
    }
}

/// Runs queued jobs until the queue is empty, then frees what dropped
/// objects left once GC allows.
async fn work(shared: &Shared) -> Result<()> {
    loop {
        let txn = shared.client.begin().await?;
        let next = jobs::queued_jobs(&txn).await?.into_iter().next();
        let Some(job) = next else { break };
        run_job(shared, job.id).await?;
        shared.ddl.finished.notify_waiters();
    }
    crate::ddl::delete_range::run(shared).await
}

/// What the owner does after a step.
pub(crate) enum Step {
    /// A new schema version is out: wait until every server runs it.
    Wait,
    /// Go on at once.
    Continue,
    /// The job is in the history.
    Finished,
}

async fn run_job(shared: &Shared, id: i64) -> Result<()> {
    loop {
        let txn = shared.client.begin().await?;
        let Some(job) = jobs::queued_jobs(&txn)
            .await?
            .into_iter()
            .find(|j| j.id == id)
        else {
            return Ok(());
        };
        let step = match job.job_type {
            JobType::AddIndex => crate::ddl::index::add_step(shared, job).await?,
            JobType::DropIndex | JobType::DropColumn => {
                crate::ddl::index::drop_step(shared, job).await?
            }
            JobType::ModifyColumn => crate::ddl::modify_column::step(shared, job).await?,
            other => {
                let error = JobError {
                    code: code::ER_UNKNOWN,
                    message: format!("a '{}' job is not run by the owner", other.label()),
                };
                finish(shared, id, JobState::Cancelled, Some(error)).await?;
                Step::Finished
            }
        };
        match step {
            Step::Wait => {
                let version = shared.catalog.schema().version;
                crate::ddl::txn::wait_schema_synced(shared, version).await;
            }
            Step::Continue => {}
            Step::Finished => return Ok(()),
        }
    }
}

/// One step that changes the catalog: `change` gets the transaction
/// (schema version locked and bumped, ownership claimed) and the job as it
/// is now. It returns `Ok(false)` to leave everything as it was (the job
/// moved on meanwhile, e.g. was cancelled); a [`JobError`] from it fails
/// the job without touching the catalog: the job goes on rolling back.
pub(crate) async fn publish(
    shared: &Shared,
    id: i64,
    change: impl AsyncFnOnce(&mut Transaction, &mut Job) -> Result<std::result::Result<bool, JobError>>,
) -> Result<()> {
    let (mut txn, version) = crate::ddl::txn::locked_catalog(shared).await?;
    let result: Result<()> = async {
        claim(&mut txn, shared).await?;
        let Some(mut job) = jobs::job_for_update(&mut txn, id).await? else {
            txn.rollback().await?;
            return Ok(());
        };
        if job.start_ts == 0 {
            job.start_ts = txn.start_ts().into_inner();
        }
        match change(&mut txn, &mut job).await? {
            Ok(true) => {
                job.schema_version = version;
                jobs::put_job(&mut txn, &job).await?;
                txn.commit().await?;
            }
            Ok(false) => txn.rollback().await?,
            Err(e) => {
                txn.rollback().await?;
                fail(shared, id, e).await?;
            }
        }
        Ok(())
    }
    .await;
    if result.is_err() {
        let _ = txn.rollback().await;
    }
    result?;
    shared.catalog.reload().await?;
    Ok(())
}

/// [`publish`] for a step the owner decided on `seen`: nothing changes if
/// the job moved on since (cancelled, or taken further by another owner).
pub(crate) async fn publish_from(
    shared: &Shared,
    seen: &Job,
    change: impl AsyncFnOnce(&mut Transaction, &mut Job) -> Result<std::result::Result<bool, JobError>>,
) -> Result<()> {
    let from = (seen.state, seen.schema_state);
    publish(shared, seen.id, async move |txn, job| {
        if (job.state, job.schema_state) != from {
            return Ok(Ok(false));
        }
        change(txn, job).await
    })
    .await
}

/// Changes only the job (no schema version): `change` returns false to
/// leave it.
pub(crate) async fn update_job(
    shared: &Shared,
    id: i64,
    change: impl FnOnce(&mut Job) -> bool,
) -> Result<()> {
    let mut txn = shared.client.begin_pessimistic().await?;
    let result: Result<()> = async {
        claim(&mut txn, shared).await?;
        let mut job = jobs::job_for_update(&mut txn, id).await?;
        let changed = job.as_mut().is_some_and(change);
        match job {
            Some(job) if changed => {
                jobs::put_job(&mut txn, &job).await?;
                txn.commit().await?;
            }
            _ => txn.rollback().await?,
        }
        Ok(())
    }
    .await;
    if result.is_err() {
        let _ = txn.rollback().await;
    }
    result
}

/// The job failed: it rolls back from where it is, keeping `error` for
/// the client.
pub(crate) async fn fail(shared: &Shared, id: i64, error: JobError) -> Result<()> {
    update_job(shared, id, |job| {
        job.state = JobState::RollingBack;
        job.error.get_or_insert(error);
        true
    })
    .await
}

/// Moves the job to the history in `state`.
pub(crate) async fn finish(
    shared: &Shared,
    id: i64,
    state: JobState,
    error: Option<JobError>,
) -> Result<()> {
    let mut txn = shared.client.begin_pessimistic().await?;
    let result: Result<()> = async {
        claim(&mut txn, shared).await?;
        if let Some(mut job) = jobs::job_for_update(&mut txn, id).await? {
            job.state = state;
            if job.error.is_none() {
                job.error = error;
            }
            job.end_ts = txn.start_ts().into_inner();
            jobs::finish_job(&mut txn, &job).await?;
            txn.commit().await?;
        } else {
            txn.rollback().await?;
        }
        Ok(())
    }
    .await;
    if result.is_err() {
        let _ = txn.rollback().await;
    }
    result
}

/// The error a cancelled job answers its statement with.
pub(crate) fn cancelled() -> JobError {
    JobError {
        code: code::TIDB_CANCELLED_DDL_JOB,
        message: "Cancelled DDL job".into(),
    }
}

/// A job-level error from a statement error.
pub(crate) fn job_error(e: &Error) -> JobError {
    JobError {
        code: e.code(),
        message: e.message().to_string(),
    }
}
