//! AUTO_INCREMENT values, handed out in batches per SQL server.
//!
//! Like TiDB, each server reserves a batch (`auto_id_batch`, default
//! 30,000) of a table's ids with one small transaction on `mAutoID:{table}`
//! and serves inserts from memory until it runs out. Ids are unique and
//! increasing per server, but not consecutive across servers (TiDB's
//! documented behaviour); a restart skips the rest of a batch. An explicit
//! value larger than the cached range moves the allocator past it.

use std::collections::HashMap;

use parking_lot::Mutex;
use txn::client::TxnClient;

use crate::catalog::meta;
use crate::catalog::model::TableId;
use crate::error::Result;

pub struct AutoIds {
    batch: i64,
    /// Per table: the next id to hand out and the end of the batch.
    ranges: Mutex<HashMap<TableId, (i64, i64)>>,
    /// Serialises refills (and keeps them off the `ranges` lock).
    refill: tokio::sync::Mutex<()>,
}

impl AutoIds {
    pub fn new(batch: i64) -> AutoIds {
        AutoIds {
            batch: batch.max(1),
            ranges: Mutex::new(HashMap::new()),
            refill: Default::default(),
        }
    }

    /// `n` consecutive ids, the first returned.
    pub async fn alloc(&self, client: &TxnClient, table: TableId, n: i64) -> Result<i64> {
        loop {
            if let Some(first) = self.take(table, n) {
                return Ok(first);
            }
            let _guard = self.refill.lock().await;
            if let Some(first) = self.take(table, n) {
                return Ok(first);
            }
            self.reserve(client, table, n.max(self.batch), 0).await?;
        }
    }

    fn take(&self, table: TableId, n: i64) -> Option<i64> {
        let mut ranges = self.ranges.lock();
        let r = ranges.get_mut(&table)?;
        if r.1 - r.0 >= n {
            let first = r.0;
            r.0 += n;
            Some(first)
        } else {
            None
        }
    }

    /// An explicit value was inserted: later allocations start above it.
    pub async fn observe(&self, client: &TxnClient, table: TableId, value: i64) -> Result<()> {
        {
            let mut ranges = self.ranges.lock();
            if let Some(r) = ranges.get_mut(&table) {
                if value < r.0 {
                    return Ok(());
                }
                if value < r.1 {
                    r.0 = value + 1;
                    return Ok(());
                }
            }
        }
        let _guard = self.refill.lock().await;
        self.reserve(client, table, self.batch, value).await
    }

    async fn reserve(
        &self,
        client: &TxnClient,
        table: TableId,
        n: i64,
        at_least: i64,
    ) -> Result<()> {
        let mut attempt = 0;
        loop {
            let mut txn = client.begin().await?;
            let r = meta::alloc_auto_ids(&mut txn, table, n, at_least).await;
            let r = match r {
                Ok(range) => txn.commit().await.map(|_| range).map_err(Into::into),
                Err(e) => Err(e),
            };
            match r {
                Ok(range) => {
                    self.ranges.lock().insert(table, range);
                    return Ok(());
                }
                Err(e) if e.is_retryable() && attempt < 20 => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Forgets a table's cached range (TRUNCATE, DROP).
    pub fn forget(&self, table: TableId) {
        self.ranges.lock().remove(&table);
    }
}
