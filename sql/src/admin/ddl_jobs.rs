//! TiDB's statements about DDL jobs ([`crate::catalog::jobs`]):
//!
//! * `ADMIN SHOW DDL`: the schema version, the DDL owner, the running job;
//! * `ADMIN SHOW DDL JOBS [n]`: every queued job and the newest `n`
//!   (default 10) finished ones;
//! * `ADMIN SHOW DDL JOB QUERIES id [, id ...]`: the statements of jobs;
//! * `ADMIN CANCEL DDL JOBS id [, id ...]`: asks the owner to roll jobs
//!   back; one row per job, `successful` or why not.

use codec::datum::Datum;

use crate::catalog::jobs::{self, Job, JobArgs, JobState};
use crate::catalog::meta;
use crate::catalog::model::SchemaState;
use crate::error::{Error, Result, code};
use crate::protocol::ColumnType;
use crate::protocol::resultset::ColumnDef;
use crate::session::{Output, ResultSet, Session};

/// One of the statements above.
#[derive(Debug, PartialEq, Eq)]
pub enum AdminDdl {
    Show,
    ShowJobs(usize),
    Queries(Vec<i64>),
    Cancel(Vec<i64>),
}

/// The statement, when `sql` is one of them; an error when it starts like
/// one and is malformed.
pub fn parse(sql: &str) -> Option<Result<AdminDdl>> {
    let text = sql.trim().trim_end_matches(';');
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let ids = |rest: &[&str]| -> Result<Vec<i64>> {
        if rest.is_empty() {
            return Err(Error::parse(format!("near '{text}': no job id")));
        }
        rest.iter()
            .map(|r| {
                r.parse()
                    .map_err(|_| Error::parse(format!("near '{r}': not a job id")))
            })
            .collect()
    };
    Some(match w.as_slice() {
        ["ADMIN", "SHOW", "DDL"] => Ok(AdminDdl::Show),
        ["ADMIN", "SHOW", "DDL", "JOBS"] => Ok(AdminDdl::ShowJobs(10)),
        ["ADMIN", "SHOW", "DDL", "JOBS", n] => n
            .parse()
            .map(AdminDdl::ShowJobs)
            .map_err(|_| Error::parse(format!("near '{n}': not a number of jobs"))),
        ["ADMIN", "SHOW", "DDL", "JOB", "QUERIES", rest @ ..] => ids(rest).map(AdminDdl::Queries),
        ["ADMIN", "CANCEL", "DDL", "JOBS", rest @ ..] => ids(rest).map(AdminDdl::Cancel),
        ["ADMIN", "SHOW", "DDL", ..] | ["ADMIN", "CANCEL", ..] => {
            Err(Error::parse(format!("near '{text}'")))
        }
        _ => return None,
    })
}

pub async fn execute(session: &mut Session, stmt: AdminDdl) -> Result<Output> {
    let rs = match stmt {
        AdminDdl::Show => show_ddl(session).await?,
        AdminDdl::ShowJobs(n) => show_jobs(session, n).await?,
        AdminDdl::Queries(ids) => queries(session, &ids).await?,
        AdminDdl::Cancel(ids) => cancel(session, &ids).await?,
    };
    Ok(Output::Rows(rs))
}

fn text(v: impl Into<String>) -> Datum {
    Datum::Bytes(v.into().into_bytes())
}

fn time(ts: u64) -> Datum {
    if ts == 0 {
        Datum::Null
    } else {
        Datum::DateTime(txn::types::TimeStamp::new(ts).physical() as i64 * 1000)
    }
}

fn state_label(s: Option<SchemaState>) -> &'static str {
    match s {
        None => "none",
        Some(SchemaState::DeleteOnly) => "delete only",
        Some(SchemaState::WriteOnly) => "write only",
        Some(SchemaState::WriteReorganization) => "write reorganization",
        Some(SchemaState::Public) => "public",
    }
}

async fn show_ddl(session: &Session) -> Result<ResultSet> {
    let txn = session.shared.client.begin().await?;
    let version = meta::schema_version(&txn).await?;
    let owner = jobs::owner(&txn).await?;
    let running = jobs::queued_jobs(&txn).await?;
    let (owner_id, owner_addr) = match owner {
        Some(o) => (text(o.id), text(o.addr)),
        None => (Datum::Null, Datum::Null),
    };
    let running_desc = running
        .iter()
        .map(|j| {
            format!(
                "ID:{}, Type:{}, State:{}, SchemaState:{}, SchemaId:{}, TableId:{}, RowCount:{}",
                j.id,
                j.job_type.label(),
                j.state.label(),
                state_label(j.schema_state),
                j.db_id,
                j.table_id,
                j.row_count
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let query = running
        .iter()
        .map(|j| j.query.clone())
        .collect::<Vec<_>>()
        .join("\n");
    Ok(ResultSet {
        columns: vec![
            ColumnDef::expr("SCHEMA_VER", ColumnType::LongLong),
            ColumnDef::expr("OWNER_ID", ColumnType::VarString),
            ColumnDef::expr("OWNER_ADDRESS", ColumnType::VarString),
            ColumnDef::expr("RUNNING_JOBS", ColumnType::VarString),
            ColumnDef::expr("SELF_ID", ColumnType::VarString),
            ColumnDef::expr("QUERY", ColumnType::VarString),
        ],
        rows: vec![vec![
            Datum::I64(version),
            owner_id,
            owner_addr,
            text(running_desc),
            text(session.shared.ddl.id.clone()),
            text(query),
        ]],
    })
}

fn job_row(j: &Job) -> Vec<Datum> {
    vec![
        Datum::I64(j.id),
        text(j.db_name.clone()),
        text(j.table_name.clone()),
        text(j.job_type.label()),
        text(state_label(j.schema_state)),
        Datum::I64(j.db_id),
        Datum::I64(j.table_id),
        Datum::I64(j.row_count),
        time(j.create_ts),
        time(j.start_ts),
        if j.finished() {
            time(j.end_ts)
        } else {
            Datum::Null
        },
        text(j.state.label()),
    ]
}

async fn show_jobs(session: &Session, n: usize) -> Result<ResultSet> {
    let txn = session.shared.client.begin().await?;
    let mut rows: Vec<Vec<Datum>> = jobs::queued_jobs(&txn)
        .await?
        .iter()
        .rev()
        .map(job_row)
        .collect();
    if n > 0 {
        rows.extend(jobs::recent_history(&txn, n).await?.iter().map(job_row));
    }
    let col = |n: &str, t| ColumnDef::expr(n, t);
    use ColumnType::{DateTime, LongLong, VarString};
    Ok(ResultSet {
        columns: vec![
            col("JOB_ID", LongLong),
            col("DB_NAME", VarString),
            col("TABLE_NAME", VarString),
            col("JOB_TYPE", VarString),
            col("SCHEMA_STATE", VarString),
            col("SCHEMA_ID", LongLong),
            col("TABLE_ID", LongLong),
            col("ROW_COUNT", LongLong),
            col("CREATE_TIME", DateTime),
            col("START_TIME", DateTime),
            col("END_TIME", DateTime),
            col("STATE", VarString),
        ],
        rows,
    })
}

async fn queries(session: &Session, ids: &[i64]) -> Result<ResultSet> {
    let txn = session.shared.client.begin().await?;
    let queued = jobs::queued_jobs(&txn).await?;
    let mut rows = Vec::new();
    for id in ids {
        let job = match queued.iter().find(|j| j.id == *id) {
            Some(j) => Some(j.clone()),
            None => jobs::history_job(&txn, *id).await?,
        };
        if let Some(j) = job {
            rows.push(vec![text(j.query)]);
        }
    }
    Ok(ResultSet {
        columns: vec![ColumnDef::expr("QUERY", ColumnType::VarString)],
        rows,
    })
}

/// Marks each job cancelling if it can still be undone; the owner rolls it
/// back at its next step (a backfill sees it at its next batch).
async fn cancel(session: &Session, ids: &[i64]) -> Result<ResultSet> {
    let mut rows = Vec::new();
    for id in ids {
        let outcome = cancel_one(session, *id).await?;
        let result = match outcome {
            None => "successful".to_string(),
            Some(e) => format!("Error: [ddl:{}]{}", e.code(), e.message()),
        };
        rows.push(vec![Datum::I64(*id), text(result)]);
    }
    session.shared.ddl.queued.notify_one();
    Ok(ResultSet {
        columns: vec![
            ColumnDef::expr("JOB_ID", ColumnType::LongLong),
            ColumnDef::expr("RESULT", ColumnType::VarString),
        ],
        rows,
    })
}

/// None when the job is now cancelling, else why it is not.
async fn cancel_one(session: &Session, id: i64) -> Result<Option<Error>> {
    let mut txn = session.shared.client.begin_pessimistic().await?;
    let result: Result<Option<Error>> = async {
        let Some(mut job) = jobs::job_for_update(&mut txn, id).await? else {
            let finished = jobs::history_job(&txn, id).await?.is_some();
            txn.rollback().await?;
            return Ok(Some(if finished {
                finished_error(id)
            } else {
                Error::new(
                    code::TIDB_DDL_JOB_NOT_FOUND,
                    format!("DDL Job:{id} not found"),
                )
            }));
        };
        let cancellable = match (&job.args, job.state) {
            (_, JobState::Queueing) => true,
            (JobArgs::AddIndex { .. } | JobArgs::ModifyColumn { .. }, JobState::Running) => {
                job.schema_state != Some(SchemaState::Public)
            }
            _ => false,
        };
        if job.state == JobState::Cancelling {
            txn.rollback().await?;
            return Ok(Some(Error::new(
                code::TIDB_CANCELLED_DDL_JOB,
                "Cancelled DDL job",
            )));
        }
        if !cancellable {
            txn.rollback().await?;
            return Ok(Some(match job.state {
                JobState::Done | JobState::Synced => finished_error(id),
                _ => Error::new(
                    code::TIDB_CANNOT_CANCEL_DDL_JOB,
                    format!("This job:{id} is almost finished, can't be cancelled now"),
                ),
            }));
        }
        job.state = JobState::Cancelling;
        jobs::put_job(&mut txn, &job).await?;
        txn.commit().await?;
        Ok(None)
    }
    .await;
    if result.is_err() {
        let _ = txn.rollback().await;
    }
    result
}

fn finished_error(id: i64) -> Error {
    Error::new(
        code::TIDB_CANCEL_FINISHED_DDL_JOB,
        format!("This job:{id} is finished, so can't be cancelled"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::jobs::JobType;

    #[test]
    fn parses_the_statements() {
        let p = |s: &str| parse(s).map(|r| r.map_err(|e| e.code()));
        assert_eq!(p("admin show ddl"), Some(Ok(AdminDdl::Show)));
        assert_eq!(p("ADMIN SHOW DDL JOBS;"), Some(Ok(AdminDdl::ShowJobs(10))));
        assert_eq!(p("admin show ddl jobs 3"), Some(Ok(AdminDdl::ShowJobs(3))));
        assert_eq!(
            p("ADMIN CANCEL DDL JOBS 5, 7"),
            Some(Ok(AdminDdl::Cancel(vec![5, 7])))
        );
        assert_eq!(
            p("admin show ddl job queries 9"),
            Some(Ok(AdminDdl::Queries(vec![9])))
        );
        assert_eq!(p("ADMIN CANCEL DDL JOBS x"), Some(Err(code::ER_PARSE)));
        assert_eq!(p("ADMIN CHECK TABLE t"), None);
        assert_eq!(p("SELECT 1"), None);
    }

    #[test]
    fn every_job_type_and_state_has_a_label() {
        assert_eq!(JobType::AddIndex.label(), "add index");
        assert_eq!(JobState::RollbackDone.label(), "rollback done");
        assert_eq!(
            state_label(Some(SchemaState::WriteReorganization)),
            "write reorganization"
        );
    }
}
