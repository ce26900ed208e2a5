//! Queuing a DDL job and waiting for it: the statement's side of a job
//! the owner runs ([`crate::ddl::owner`]). The statement answers when the
//! job is in the history: OK, or the job's error.

use std::time::Duration;

use crate::catalog::jobs::{self, Job, JobState};
use crate::catalog::meta;
use crate::error::{Error, Result};
use crate::session::shared::Shared;

/// How often a waiting statement looks for its job in the history (it is
/// also woken when this server, as owner, finishes a job).
const POLL: Duration = Duration::from_millis(100);

/// Queues `job` and waits until it is finished; returns it as finished,
/// or its error.
pub async fn run(shared: &Shared, mut job: Job) -> Result<Job> {
    let mut txn = shared.client.begin_pessimistic().await?;
    let queued: Result<()> = async {
        job.id = meta::alloc_ids(&mut txn, 1).await?;
        job.state = JobState::Queueing;
        job.create_ts = txn.start_ts().into_inner();
        jobs::put_job(&mut txn, &job).await?;
        txn.commit().await?;
        Ok(())
    }
    .await;
    if queued.is_err() {
        let _ = txn.rollback().await;
    }
    queued?;
    shared.ddl.queued.notify_one();
    wait(shared, job.id).await
}

async fn wait(shared: &Shared, id: i64) -> Result<Job> {
    loop {
        let finished = shared.ddl.finished.notified();
        let txn = shared.client.begin().await?;
        if let Some(job) = jobs::history_job(&txn, id).await? {
            shared.catalog.reload().await?;
            return match &job.error {
                Some(e) => Err(Error::new(e.code, e.message.clone())),
                None => Ok(job),
            };
        }
        tokio::select! {
            _ = finished => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}
