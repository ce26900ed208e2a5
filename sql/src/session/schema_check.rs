//! The schema check a transaction's commit makes
//! ([`crate::catalog::validator`]): the tables its keys belong to, the
//! schema version it began at, asked of the catalog at the commit ts.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::future::BoxFuture;
use txn::client::{CheckResult, CommitCheck, Transaction};
use txn::types::TimeStamp;

use crate::catalog::model::TableId;
use crate::catalog::validator::Verdict;
use crate::session::shared::Shared;

pub struct SchemaCheck {
    shared: Arc<Shared>,
    start: i64,
    tables: BTreeSet<TableId>,
}

impl SchemaCheck {
    /// The check for `txn`, begun at schema version `start`; None when it
    /// writes no table.
    pub fn of(shared: &Arc<Shared>, start: i64, txn: &Transaction) -> Option<Arc<dyn CommitCheck>> {
        let tables: BTreeSet<TableId> = txn
            .buffered_keys()
            .filter_map(codec::table::key_table_id)
            .collect();
        if tables.is_empty() {
            return None;
        }
        Some(Arc::new(SchemaCheck {
            shared: shared.clone(),
            start,
            tables,
        }))
    }
}

impl CommitCheck for SchemaCheck {
    fn max_commit_ts(&self) -> TimeStamp {
        let catalog = &self.shared.catalog;
        match catalog.verdict(self.start, &self.tables, TimeStamp::zero()) {
            Verdict::Valid => catalog.valid_until().prev(),
            Verdict::Changed | Verdict::Expired => TimeStamp::zero(),
        }
    }

    fn check(&self, commit_ts: TimeStamp) -> BoxFuture<'_, CheckResult> {
        Box::pin(async move {
            self.shared
                .catalog
                .check_commit(self.start, &self.tables, commit_ts)
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        })
    }
}

/// A commit's error as the SQL layer reports it: the schema check's own
/// error (8028, 8027) comes back out of the transaction layer's.
pub fn commit_error(e: txn::Error) -> crate::Error {
    match e {
        txn::Error::CommitCheck(inner) => match inner.downcast::<crate::Error>() {
            Ok(ours) => *ours,
            Err(other) => crate::Error::Txn(txn::Error::CommitCheck(other)),
        },
        e => crate::Error::Txn(e),
    }
}
