//! # PD client
//!
//! What kv stores, the SQL layer and `duet-ctl` use to talk to PD. A
//! [`PdClient`] is cheap to clone (all clones share one HTTP/2 connection and
//! one TSO stream) and turns PD's header errors into typed [`Error`]s:
//!
//! ```text
//!   client.get_region_by_id(9)
//!     ├─ Ok(GetRegionResponse)
//!     ├─ Err(Error::RegionNotFound(..))      header error REGION_NOT_FOUND
//!     └─ Err(Error::Transport{..})            PD restarting: is_retryable()
//! ```
//!
//! Reconnection: the tonic channel reconnects lazily after the connection
//! drops (a PD restart), and idempotent calls are retried a few times with a
//! short backoff, so a PD restart on the same address is mostly invisible to
//! callers. Calls that must not run twice (`bootstrap`, `add_operator`) are
//! not retried; the caller sees the transport error.
//!
//! Timestamps go through the `tso` submodule: concurrent `get_ts` calls are batched into
//! one request on a shared stream.
//!
//! For transactions there are the GC safe points ([`PdClient::update_min_start_ts`],
//! [`PdClient::get_gc_safe_point`], [`PdClient::update_gc_safe_point`]; see
//! [`crate::gc`] for the two-phase contract) and
//! the deadlock detector ([`PdClient::detect_deadlock`] and its clean-ups;
//! see [`crate::deadlock`]). All of them are idempotent and retried: detecting
//! an edge that is already recorded just refreshes it.

mod tso;

use std::future::Future;
use std::time::Duration;

use proto::metapb;
use proto::pdpb::{self, pd_client::PdClient as GrpcClient};
use tonic::transport::{Channel, Endpoint};

use crate::core::{DeadlockInfo, GcSafePoint, TxnTs, WaitForEntry};
use crate::error::{Error, Result};
use crate::{RegionId, StoreId};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts for idempotent calls that fail in transport.
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// A connection to PD. Clone freely.
#[derive(Clone)]
pub struct PdClient {
    addr: String,
    rpc: GrpcClient<Channel>,
    tso: std::sync::Arc<tso::TsoDispatcher>,
}

impl std::fmt::Debug for PdClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdClient")
            .field("addr", &self.addr)
            .finish()
    }
}

/// `Display` of an error and all its sources.
fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

fn request<T>(msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.set_timeout(REQUEST_TIMEOUT);
    req
}

fn check(header: Option<&pdpb::ResponseHeader>) -> Result<()> {
    match Error::from_header(header) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

impl PdClient {
    /// Connects to PD at `addr` (`host:port`, or a full `http://` URL).
    /// Fails with [`Error::Unreachable`] if PD cannot be reached within 3 s.
    pub async fn connect(addr: &str) -> Result<Self> {
        let url = if addr.contains("://") {
            addr.to_string()
        } else {
            format!("http://{addr}")
        };
        let unreachable = |message: String| Error::Unreachable {
            addr: addr.to_string(),
            message,
        };
        let endpoint = Endpoint::from_shared(url)
            .map_err(|e| Error::InvalidArgument(format!("bad PD address {addr:?}: {e}")))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5))
            .keep_alive_while_idle(true);
        let channel =
            tokio::time::timeout(CONNECT_TIMEOUT + Duration::from_secs(1), endpoint.connect())
                .await
                .map_err(|_| unreachable(format!("no connection within {CONNECT_TIMEOUT:?}")))?
                .map_err(|e| unreachable(chain(&e)))?;
        let rpc = GrpcClient::new(channel);
        let tso = std::sync::Arc::new(tso::TsoDispatcher::spawn(rpc.clone()));
        tracing::debug!(addr, "connected to PD");
        Ok(PdClient {
            addr: addr.to_string(),
            rpc,
            tso,
        })
    }

    /// The address this client talks to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Runs `call`, retrying retryable transport failures if `idempotent`.
    async fn call<T, F, Fut>(&self, idempotent: bool, call: F) -> Result<T>
    where
        F: Fn(GrpcClient<Channel>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
    {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match call(self.rpc.clone()).await {
                Ok(resp) => return Ok(resp.into_inner()),
                Err(status) => {
                    let e = Error::from(status);
                    if !idempotent || !e.is_retryable() || attempt >= ATTEMPTS {
                        return Err(e);
                    }
                    tracing::debug!(addr = %self.addr, error = %e, attempt, "PD call failed; retrying");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
            attempt += 1;
        }
    }

    /// A fresh timestamp, strictly greater than any handed out before.
    pub async fn get_ts(&self) -> Result<u64> {
        self.tso.get_ts().await
    }

    /// A fresh cluster-wide unique id.
    pub async fn alloc_id(&self) -> Result<u64> {
        let resp = self
            .call(true, |mut c| async move {
                c.alloc_id(request(pdpb::AllocIdRequest {})).await
            })
            .await?;
        check(resp.header.as_ref())?;
        Ok(resp.id)
    }

    pub async fn is_bootstrapped(&self) -> Result<bool> {
        let resp = self
            .call(true, |mut c| async move {
                c.is_bootstrapped(request(pdpb::IsBootstrappedRequest {}))
                    .await
            })
            .await?;
        check(resp.header.as_ref())?;
        Ok(resp.bootstrapped)
    }

    /// Bootstraps the cluster; [`Error::AlreadyBootstrapped`] if someone did.
    pub async fn bootstrap(&self, store: metapb::Store, region: metapb::Region) -> Result<()> {
        let req = pdpb::BootstrapRequest {
            store: Some(store),
            region: Some(region),
        };
        let resp = self
            .call(false, |mut c| {
                let req = req.clone();
                async move { c.bootstrap(request(req)).await }
            })
            .await?;
        check(resp.header.as_ref())
    }

    /// Registers a store or updates its address and labels.
    pub async fn put_store(&self, store: metapb::Store) -> Result<()> {
        let req = pdpb::PutStoreRequest { store: Some(store) };
        let resp = self
            .call(true, |mut c| {
                let req = req.clone();
                async move { c.put_store(request(req)).await }
            })
            .await?;
        check(resp.header.as_ref())
    }

    /// A store's metadata, with its current state.
    pub async fn get_store(&self, store_id: StoreId) -> Result<metapb::Store> {
        let resp = self
            .call(true, |mut c| async move {
                c.get_store(request(pdpb::GetStoreRequest { store_id }))
                    .await
            })
            .await?;
        check(resp.header.as_ref())?;
        resp.store
            .ok_or_else(|| Error::StoreNotFound(format!("store {store_id}")))
    }

    /// The ids of the columnar stores (labelled `engine=columnar`) that are
    /// not tombstones.
    pub async fn columnar_store_ids(&self) -> Result<Vec<u64>> {
        Ok(self
            .get_all_stores(true)
            .await?
            .into_iter()
            .filter_map(|s| s.store)
            .filter(crate::core::is_columnar)
            .map(|s| s.id)
            .collect())
    }

    /// All stores with their region and leader counts.
    pub async fn get_all_stores(&self, exclude_tombstone: bool) -> Result<Vec<pdpb::StoreInfo>> {
        let resp = self
            .call(true, |mut c| async move {
                let req = pdpb::GetAllStoresRequest {
                    exclude_tombstone_stores: exclude_tombstone,
                };
                c.get_all_stores(request(req)).await
            })
            .await?;
        check(resp.header.as_ref())?;
        Ok(resp.stores)
    }

    pub async fn store_heartbeat(&self, stats: pdpb::StoreStats) -> Result<()> {
        let req = pdpb::StoreHeartbeatRequest { stats: Some(stats) };
        let resp = self
            .call(true, |mut c| async move {
                c.store_heartbeat(request(req)).await
            })
            .await?;
        check(resp.header.as_ref())
    }

    /// Reports a region as its leader sees it; the answer may carry an
    /// operator step. [`Error::StaleRegion`] if PD knows a newer epoch.
    pub async fn region_heartbeat(
        &self,
        req: pdpb::RegionHeartbeatRequest,
    ) -> Result<pdpb::RegionHeartbeatResponse> {
        let resp = self
            .call(true, |mut c| {
                let req = req.clone();
                async move { c.region_heartbeat(request(req)).await }
            })
            .await?;
        check(resp.header.as_ref())?;
        Ok(resp)
    }

    /// The region containing `key`.
    pub async fn get_region(&self, key: &[u8]) -> Result<pdpb::GetRegionResponse> {
        let req = pdpb::GetRegionRequest {
            region_key: key.to_vec(),
        };
        let resp = self
            .call(true, |mut c| {
                let req = req.clone();
                async move { c.get_region(request(req)).await }
            })
            .await?;
        check(resp.header.as_ref())?;
        Ok(resp)
    }

    pub async fn get_region_by_id(&self, region_id: RegionId) -> Result<pdpb::GetRegionResponse> {
        let resp = self
            .call(true, |mut c| async move {
                c.get_region_by_id(request(pdpb::GetRegionByIdRequest { region_id }))
                    .await
            })
            .await?;
        check(resp.header.as_ref())?;
        Ok(resp)
    }

    /// Regions intersecting `[start, end)` in key order (empty `end`: to the
    /// end; `limit` 0: all).
    pub async fn scan_regions(
        &self,
        start: &[u8],
        end: &[u8],
        limit: u32,
    ) -> Result<Vec<pdpb::GetRegionResponse>> {
        let req = pdpb::ScanRegionsRequest {
            start_key: start.to_vec(),
            end_key: end.to_vec(),
            limit,
        };
        let resp = self
            .call(true, |mut c| {
                let req = req.clone();
                async move { c.scan_regions(request(req)).await }
            })
            .await?;
        check(resp.header.as_ref())?;
        Ok(resp.regions)
    }

    /// Ids for splitting `region`: a new region id and one peer id per peer.
    pub async fn ask_split(&self, region: metapb::Region) -> Result<pdpb::AskSplitResponse> {
        let req = pdpb::AskSplitRequest {
            region: Some(region),
        };
        let resp = self
            .call(true, |mut c| {
                let req = req.clone();
                async move { c.ask_split(request(req)).await }
            })
            .await?;
        check(resp.header.as_ref())?;
        Ok(resp)
    }

    pub async fn report_split(&self, left: metapb::Region, right: metapb::Region) -> Result<()> {
        let req = pdpb::ReportSplitRequest {
            left: Some(left),
            right: Some(right),
        };
        let resp = self
            .call(true, |mut c| {
                let req = req.clone();
                async move { c.report_split(request(req)).await }
            })
            .await?;
        check(resp.header.as_ref())
    }

    /// Asks PD to change a region (admin).
    pub async fn add_operator(
        &self,
        kind: pdpb::OperatorKind,
        region_id: RegionId,
        store_id: StoreId,
    ) -> Result<pdpb::OperatorInfo> {
        let req = pdpb::AddOperatorRequest {
            kind: kind as i32,
            region_id,
            store_id,
        };
        let resp = self
            .call(
                false,
                |mut c| async move { c.add_operator(request(req)).await },
            )
            .await?;
        check(resp.header.as_ref())?;
        resp.operator
            .ok_or_else(|| Error::Other("AddOperator answered without operator".into()))
    }

    /// The running operators.
    pub async fn get_operators(&self) -> Result<Vec<pdpb::OperatorInfo>> {
        let resp = self
            .call(true, |mut c| async move {
                c.get_operators(request(pdpb::GetOperatorsRequest {})).await
            })
            .await?;
        check(resp.header.as_ref())?;
        Ok(resp.operators)
    }

    pub async fn get_schedulers(&self) -> Result<Vec<pdpb::SchedulerInfo>> {
        let resp = self
            .call(true, |mut c| async move {
                c.get_schedulers(request(pdpb::GetSchedulersRequest {}))
                    .await
            })
            .await?;
        check(resp.header.as_ref())?;
        Ok(resp.schedulers)
    }

    /// Registers (or refreshes) the smallest `start_ts` among this client's
    /// running transactions, so the GC safe point stays below it; refresh
    /// well within `ttl`. `min_start_ts == 0` removes the registration.
    pub async fn update_min_start_ts(
        &self,
        client_id: &str,
        min_start_ts: u64,
        ttl: Duration,
    ) -> Result<()> {
        let req = pdpb::UpdateMinStartTsRequest {
            client_id: client_id.to_string(),
            min_start_ts,
            ttl_ms: ttl.as_millis() as u64,
        };
        let resp = self
            .call(true, |mut c| {
                let req = req.clone();
                async move { c.update_min_start_ts(request(req)).await }
            })
            .await?;
        check(resp.header.as_ref())
    }

    /// Both safe points (txn and gc), the life time and the registrations
    /// holding the txn safe point back.
    pub async fn get_gc_safe_point(&self) -> Result<GcSafePoint> {
        let resp = self
            .call(true, |mut c| async move {
                c.get_gc_safe_point(request(pdpb::GetGcSafePointRequest {}))
                    .await
            })
            .await?;
        check(resp.header.as_ref())?;
        Ok(resp.into())
    }

    /// Publishes the gc safe point, up to which kv stores may delete old
    /// versions. Call it only after every lock at or below `ts` has been
    /// resolved in every region, with `ts` at most the txn safe point read
    /// before resolving. PD never moves it beyond the txn safe point nor
    /// backwards; returns the gc safe point now in force (which may be below
    /// `ts`). Idempotent, so retried.
    pub async fn update_gc_safe_point(&self, ts: u64) -> Result<u64> {
        let resp = self
            .call(true, |mut c| async move {
                c.update_gc_safe_point(request(pdpb::UpdateGcSafePointRequest { safe_point: ts }))
                    .await
            })
            .await?;
        check(resp.header.as_ref())?;
        Ok(resp.new_safe_point)
    }

    async fn deadlock(
        &self,
        tp: pdpb::DeadlockRequestType,
        txn_ts: TxnTs,
        wait_for_txn_ts: TxnTs,
        key_hash: u64,
    ) -> Result<pdpb::DeadlockResponse> {
        let req = pdpb::DeadlockRequest {
            tp: tp as i32,
            txn_ts,
            wait_for_txn_ts,
            key_hash,
        };
        let resp = self
            .call(true, |mut c| async move { c.deadlock(request(req)).await })
            .await?;
        check(resp.header.as_ref())?;
        Ok(resp)
    }

    /// Transaction `txn_ts` is about to wait for `wait_for_txn_ts` on the key
    /// hashed to `key_hash`. `Some` if that would be a deadlock (the wait is
    /// then not recorded); `None` if the wait is recorded and may go ahead.
    /// A waiter re-detects at least once per `PdConfig::deadlock_ttl` while
    /// it waits, or its edge expires.
    pub async fn detect_deadlock(
        &self,
        txn_ts: TxnTs,
        wait_for_txn_ts: TxnTs,
        key_hash: u64,
    ) -> Result<Option<DeadlockInfo>> {
        let resp = self
            .deadlock(
                pdpb::DeadlockRequestType::Detect,
                txn_ts,
                wait_for_txn_ts,
                key_hash,
            )
            .await?;
        if !resp.deadlock {
            return Ok(None);
        }
        Ok(Some(DeadlockInfo {
            deadlock_key_hash: resp.deadlock_key_hash,
            wait_chain: resp
                .wait_chain
                .into_iter()
                .map(|e| WaitForEntry {
                    txn: e.txn,
                    wait_for_txn: e.wait_for_txn,
                    key_hash: e.key_hash,
                })
                .collect(),
        }))
    }

    /// The wait of `txn_ts` for `wait_for_txn_ts` on `key_hash` is over.
    pub async fn clean_up_wait_for(
        &self,
        txn_ts: TxnTs,
        wait_for_txn_ts: TxnTs,
        key_hash: u64,
    ) -> Result<()> {
        self.deadlock(
            pdpb::DeadlockRequestType::CleanUpWaitFor,
            txn_ts,
            wait_for_txn_ts,
            key_hash,
        )
        .await
        .map(drop)
    }

    /// Transaction `txn_ts` ended: drop every wait of it from the detector.
    pub async fn clean_up_deadlock(&self, txn_ts: TxnTs) -> Result<()> {
        self.deadlock(pdpb::DeadlockRequestType::CleanUp, txn_ts, 0, 0)
            .await
            .map(drop)
    }

    /// Starts removing a store (Offline, then Tombstone once drained).
    pub async fn remove_store(&self, store_id: StoreId) -> Result<()> {
        let resp = self
            .call(true, |mut c| async move {
                c.remove_store(request(pdpb::RemoveStoreRequest { store_id }))
                    .await
            })
            .await?;
        check(resp.header.as_ref())
    }

    /// Creates or replaces a columnar placement rule; count 0 deletes it.
    pub async fn set_columnar_rule(&self, rule: pdpb::ColumnarRule) -> Result<()> {
        let resp = self
            .call(true, |mut c| {
                let rule = rule.clone();
                async move {
                    c.set_columnar_rule(request(pdpb::SetColumnarRuleRequest { rule: Some(rule) }))
                        .await
                }
            })
            .await?;
        check(resp.header.as_ref())
    }

    pub async fn get_columnar_rules(&self) -> Result<Vec<pdpb::ColumnarRule>> {
        let resp = self
            .call(true, |mut c| async move {
                c.get_columnar_rules(request(pdpb::GetColumnarRulesRequest {}))
                    .await
            })
            .await?;
        check(resp.header.as_ref())?;
        Ok(resp.rules)
    }
}
