//! # The txn gRPC service
//!
//! `kvrpcpb.Txn` on every kv store: decodes a request, runs it on
//! [`Storage`], and encodes the outcome the way TiKV does — region errors
//! (the client re-routes and retries) in `region_error`, transaction errors
//! (the client resolves a lock, retries with a new ts, or aborts) as a
//! typed `KeyError`. gRPC status errors are kept for malformed requests.
//!
//! It is installed on a store as a [`kv::server::Extension`]
//! ([`extension`]), which also starts the store's GC worker.

use std::sync::Arc;
use std::time::Duration;

use proto::errorpb;
use proto::kvrpcpb::txn_server::{Txn, TxnServer};
use proto::kvrpcpb::*;
use tonic::{Request, Response, Status};

use crate::Error;
use crate::actions::TxnStatus;
use crate::commands::{PessimisticLockArgs, PrewriteArgs};
use crate::faults::Faults;
use crate::gc_worker::{GcConfig, run_gc_worker};
use crate::pb::{key_error, lock_info_to_pb, split};
use crate::storage::{KvResult, Storage};
use crate::types::{Key, Mutation, TimeStamp};

/// The extension that adds the txn service (and the GC worker) to a kv store.
pub fn extension(gc: GcConfig) -> kv::server::Extension {
    extension_with_faults(gc, None)
}

/// [`extension`] with injected faults (tests).
pub fn extension_with_faults(gc: GcConfig, faults: Option<Arc<Faults>>) -> kv::server::Extension {
    Box::new(move |ctx, routes| {
        let storage = Storage::with_faults(ctx, faults.clone());
        tokio::spawn(run_gc_worker(storage.clone(), gc));
        routes.add_service(
            TxnServer::new(TxnService { storage, faults })
                .max_decoding_message_size(64 * 1024 * 1024),
        )
    })
}

/// The longest one pessimistic lock request waits on a store.
const MAX_LOCK_WAIT_MS: u64 = 30_000;

pub struct TxnService {
    storage: Arc<Storage>,
    faults: Option<Arc<Faults>>,
}

impl TxnService {
    /// Fails the RPC after it ran if a test asked to lose this answer.
    /// Holds the answer after the RPC ran if a test asked to.
    async fn held(&self, method: &'static str, key: &[u8]) {
        if let Some(f) = &self.faults {
            f.hold(method, key).await;
        }
    }

    fn lost(&self, method: &'static str) -> std::result::Result<(), Status> {
        match &self.faults {
            Some(f) if f.take(method) => Err(Status::unavailable(format!(
                "injected fault: the answer of {method} was lost"
            ))),
            _ => Ok(()),
        }
    }
}

type RpcResult<T> = std::result::Result<Response<T>, Status>;

fn mutation_from_pb(m: proto::kvrpcpb::Mutation) -> std::result::Result<Mutation, Status> {
    let key = Key::from_raw(&m.key);
    Ok(match Op::try_from(m.op) {
        Ok(Op::Put) => Mutation::Put(key, m.value),
        Ok(Op::Del) => Mutation::Delete(key),
        Ok(Op::Lock) => Mutation::Lock(key),
        Ok(Op::Insert) => Mutation::Insert(key, m.value),
        Ok(Op::CheckNotExists) => Mutation::CheckNotExists(key),
        _ => {
            return Err(Status::invalid_argument(format!(
                "mutation op {} cannot be prewritten",
                m.op
            )));
        }
    })
}

fn pairs(results: Vec<KvResult>) -> Vec<KvPair> {
    results
        .into_iter()
        .map(|r| match r {
            Ok((key, value)) => KvPair {
                key,
                value,
                error: None,
            },
            Err(e) => {
                let key = match &e {
                    Error::KeyIsLocked(info) => info.key.clone(),
                    _ => vec![],
                };
                KvPair {
                    key,
                    value: vec![],
                    error: Some(key_error(e)),
                }
            }
        })
        .collect()
}

fn ts(v: u64) -> TimeStamp {
    TimeStamp::new(v)
}

fn tss(v: &[u64]) -> Vec<TimeStamp> {
    v.iter().copied().map(TimeStamp::new).collect()
}

fn keys(raw: &[Vec<u8>]) -> Vec<Key> {
    raw.iter().map(|k| Key::from_raw(k)).collect()
}

/// Builds a response from a result: `$ok` maps the value into the response,
/// errors go to `region_error` / `error`.
macro_rules! respond {
    ($result:expr, $resp:ty, |$v:pat_param| $ok:expr) => {{
        let resp: $resp = match $result {
            Ok($v) => $ok,
            Err(e) => {
                let (region_error, error) = split(e);
                <$resp>::default().with_errors(region_error, error)
            }
        };
        Ok(Response::new(resp))
    }};
}

/// Responses that carry one region error and one key error.
trait WithErrors: Sized {
    fn with_errors(self, region_error: Option<errorpb::Error>, error: Option<KeyError>) -> Self;
}

macro_rules! with_errors {
    ($($t:ty),*) => {$(
        impl WithErrors for $t {
            fn with_errors(mut self, re: Option<errorpb::Error>, e: Option<KeyError>) -> Self {
                self.region_error = re;
                self.error = e;
                self
            }
        }
    )*};
}
with_errors!(
    GetResponse,
    BatchGetResponse,
    ScanResponse,
    CommitResponse,
    CleanupResponse,
    BatchRollbackResponse,
    CheckTxnStatusResponse,
    TxnHeartBeatResponse,
    ResolveLockResponse,
    ScanLockResponse,
    CopResponse,
    ReadBarrierResponse
);

macro_rules! with_error_list {
    ($($t:ty),*) => {$(
        impl WithErrors for $t {
            fn with_errors(mut self, re: Option<errorpb::Error>, e: Option<KeyError>) -> Self {
                self.region_error = re;
                self.errors = e.into_iter().collect();
                self
            }
        }
    )*};
}
with_error_list!(
    PrewriteResponse,
    PessimisticLockResponse,
    PessimisticRollbackResponse
);

#[tonic::async_trait]
impl Txn for TxnService {
    async fn kv_get(&self, req: Request<GetRequest>) -> RpcResult<GetResponse> {
        let r = req.into_inner();
        let bypass = tss(&r.resolved_locks);
        let result = self
            .storage
            .get(
                r.context.unwrap_or_default(),
                &r.key,
                ts(r.version),
                &bypass,
            )
            .await;
        respond!(result, GetResponse, |v| match v {
            Some(value) => GetResponse {
                value,
                ..Default::default()
            },
            None => GetResponse {
                not_found: true,
                ..Default::default()
            },
        })
    }

    async fn kv_batch_get(&self, req: Request<BatchGetRequest>) -> RpcResult<BatchGetResponse> {
        let r = req.into_inner();
        let result = self
            .storage
            .batch_get(
                r.context.unwrap_or_default(),
                &r.keys,
                ts(r.version),
                &tss(&r.resolved_locks),
            )
            .await;
        respond!(result, BatchGetResponse, |v| BatchGetResponse {
            pairs: pairs(v),
            ..Default::default()
        })
    }

    async fn kv_scan(&self, req: Request<ScanRequest>) -> RpcResult<ScanResponse> {
        let r = req.into_inner();
        let limit = if r.limit == 0 {
            usize::MAX
        } else {
            r.limit as usize
        };
        let result = self
            .storage
            .scan(
                r.context.unwrap_or_default(),
                &r.start_key,
                &r.end_key,
                limit,
                ts(r.version),
                r.key_only,
                r.reverse,
                &tss(&r.resolved_locks),
            )
            .await;
        respond!(result, ScanResponse, |v| ScanResponse {
            pairs: pairs(v),
            ..Default::default()
        })
    }

    async fn kv_prewrite(&self, req: Request<PrewriteRequest>) -> RpcResult<PrewriteResponse> {
        let r = req.into_inner();
        let mutations = r
            .mutations
            .into_iter()
            .map(mutation_from_pb)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let first_key = mutations
            .first()
            .and_then(|m| m.key().to_raw().ok())
            .unwrap_or_default();
        let args = PrewriteArgs {
            mutations,
            primary: r.primary_lock,
            start_ts: ts(r.start_version),
            lock_ttl: r.lock_ttl,
            txn_size: r.txn_size,
            for_update_ts: ts(r.for_update_ts),
            is_pessimistic_lock: r.is_pessimistic_lock,
            min_commit_ts: ts(r.min_commit_ts),
            // The store picks the 1PC commit ts; any Some asks for 1PC.
            one_pc_commit_ts: r.try_one_pc.then(TimeStamp::zero),
            max_commit_ts: ts(r.max_commit_ts),
        };
        let result = self
            .storage
            .prewrite(r.context.unwrap_or_default(), args)
            .await;
        self.held("kv_prewrite", &first_key).await;
        self.lost("kv_prewrite")?;
        respond!(result, PrewriteResponse, |out| PrewriteResponse {
            errors: out
                .locks
                .into_iter()
                .map(|l| key_error(Error::KeyIsLocked(l)))
                .collect(),
            min_commit_ts: out.min_commit_ts.into_inner(),
            one_pc_commit_ts: out.one_pc_commit_ts.map(|t| t.into_inner()).unwrap_or(0),
            ..Default::default()
        })
    }

    async fn kv_commit(&self, req: Request<CommitRequest>) -> RpcResult<CommitResponse> {
        let r = req.into_inner();
        let first_key = r.keys.first().cloned().unwrap_or_default();
        let result = self
            .storage
            .commit(
                r.context.unwrap_or_default(),
                keys(&r.keys),
                ts(r.start_version),
                ts(r.commit_version),
            )
            .await;
        self.held("kv_commit", &first_key).await;
        self.lost("kv_commit")?;
        respond!(result, CommitResponse, |()| CommitResponse::default())
    }

    async fn kv_cleanup(&self, req: Request<CleanupRequest>) -> RpcResult<CleanupResponse> {
        let r = req.into_inner();
        let result = self
            .storage
            .cleanup(
                r.context.unwrap_or_default(),
                Key::from_raw(&r.key),
                ts(r.start_version),
                ts(r.current_ts),
            )
            .await;
        respond!(result, CleanupResponse, |()| CleanupResponse::default())
    }

    async fn kv_batch_rollback(
        &self,
        req: Request<BatchRollbackRequest>,
    ) -> RpcResult<BatchRollbackResponse> {
        let r = req.into_inner();
        let result = self
            .storage
            .batch_rollback(
                r.context.unwrap_or_default(),
                keys(&r.keys),
                ts(r.start_version),
            )
            .await;
        respond!(result, BatchRollbackResponse, |()| {
            BatchRollbackResponse::default()
        })
    }

    async fn kv_check_txn_status(
        &self,
        req: Request<CheckTxnStatusRequest>,
    ) -> RpcResult<CheckTxnStatusResponse> {
        let r = req.into_inner();
        let primary = r.primary_key.clone();
        let result = self
            .storage
            .check_txn_status(
                r.context.unwrap_or_default(),
                Key::from_raw(&r.primary_key),
                ts(r.lock_ts),
                ts(r.caller_start_ts),
                ts(r.current_ts),
                r.rollback_if_not_exist,
            )
            .await;
        respond!(result, CheckTxnStatusResponse, |status| {
            let mut resp = CheckTxnStatusResponse::default();
            match status {
                TxnStatus::RolledBack | TxnStatus::LockNotExistDoNothing => {}
                TxnStatus::TtlExpire => resp.action = Action::TtlExpireRollback as i32,
                TxnStatus::PessimisticRollBack => {
                    resp.action = Action::TtlExpirePessimisticRollback as i32
                }
                TxnStatus::LockNotExist => resp.action = Action::LockNotExistRollback as i32,
                TxnStatus::Committed { commit_ts } => resp.commit_version = commit_ts.into_inner(),
                TxnStatus::Uncommitted {
                    lock,
                    min_commit_ts_pushed,
                } => {
                    resp.lock_ttl = lock.ttl.max(1);
                    if min_commit_ts_pushed {
                        resp.action = Action::MinCommitTsPushed as i32;
                    }
                    resp.lock_info = Some(lock_info_to_pb(&lock.into_lock_info(primary)));
                }
            }
            resp
        })
    }

    async fn kv_txn_heart_beat(
        &self,
        req: Request<TxnHeartBeatRequest>,
    ) -> RpcResult<TxnHeartBeatResponse> {
        let r = req.into_inner();
        let result = self
            .storage
            .txn_heart_beat(
                r.context.unwrap_or_default(),
                Key::from_raw(&r.primary_lock),
                ts(r.start_version),
                r.advise_lock_ttl,
            )
            .await;
        respond!(result, TxnHeartBeatResponse, |ttl| TxnHeartBeatResponse {
            lock_ttl: ttl,
            ..Default::default()
        })
    }

    async fn kv_resolve_lock(
        &self,
        req: Request<ResolveLockRequest>,
    ) -> RpcResult<ResolveLockResponse> {
        let r = req.into_inner();
        let result = self
            .storage
            .resolve_lock(
                r.context.unwrap_or_default(),
                ts(r.start_version),
                ts(r.commit_version),
                keys(&r.keys),
            )
            .await;
        respond!(result, ResolveLockResponse, |()| {
            ResolveLockResponse::default()
        })
    }

    async fn kv_pessimistic_lock(
        &self,
        req: Request<PessimisticLockRequest>,
    ) -> RpcResult<PessimisticLockResponse> {
        let r = req.into_inner();
        let args = PessimisticLockArgs {
            keys: r
                .mutations
                .iter()
                .map(|m| (Key::from_raw(&m.key), m.should_not_exist))
                .collect(),
            primary: r.primary_lock,
            start_ts: ts(r.start_version),
            lock_ttl: r.lock_ttl,
            for_update_ts: ts(r.for_update_ts),
            return_values: r.return_values,
            min_commit_ts: ts(r.min_commit_ts),
        };
        // Bounded on the store whatever the client asks; the client loops
        // for longer waits.
        let wait = Duration::from_millis(r.wait_timeout.min(MAX_LOCK_WAIT_MS));
        let result = self
            .storage
            .pessimistic_lock(r.context.unwrap_or_default(), args, wait)
            .await;
        respond!(result, PessimisticLockResponse, |values| {
            let not_founds = values.iter().map(|v| v.is_none()).collect();
            PessimisticLockResponse {
                values: values.into_iter().map(|v| v.unwrap_or_default()).collect(),
                not_founds,
                ..Default::default()
            }
        })
    }

    async fn kv_pessimistic_rollback(
        &self,
        req: Request<PessimisticRollbackRequest>,
    ) -> RpcResult<PessimisticRollbackResponse> {
        let r = req.into_inner();
        let result = self
            .storage
            .pessimistic_rollback(
                r.context.unwrap_or_default(),
                keys(&r.keys),
                ts(r.start_version),
                ts(r.for_update_ts),
            )
            .await;
        respond!(result, PessimisticRollbackResponse, |()| {
            PessimisticRollbackResponse::default()
        })
    }

    async fn coprocessor(&self, req: Request<CopRequest>) -> RpcResult<CopResponse> {
        let result = self.storage.coprocessor(req.into_inner()).await;
        respond!(result, CopResponse, |out| CopResponse {
            locks: out.locks.iter().map(lock_info_to_pb).collect(),
            data: out.data,
            resume_key: out.resume_key,
            scanned_records: out.scanned,
            ..Default::default()
        })
    }

    async fn kv_read_barrier(
        &self,
        req: Request<ReadBarrierRequest>,
    ) -> RpcResult<ReadBarrierResponse> {
        let r = req.into_inner();
        let result = self
            .storage
            .read_barrier(
                r.context.unwrap_or_default(),
                ts(r.start_ts),
                &r.start_key,
                &r.end_key,
            )
            .await;
        respond!(result, ReadBarrierResponse, |()| {
            ReadBarrierResponse::default()
        })
    }

    async fn kv_scan_lock(&self, req: Request<ScanLockRequest>) -> RpcResult<ScanLockResponse> {
        let r = req.into_inner();
        let limit = if r.limit == 0 {
            usize::MAX
        } else {
            r.limit as usize
        };
        let result = self
            .storage
            .scan_lock(
                r.context.unwrap_or_default(),
                ts(r.max_version),
                &r.start_key,
                &r.end_key,
                limit,
            )
            .await;
        respond!(result, ScanLockResponse, |locks| ScanLockResponse {
            locks: locks.iter().map(lock_info_to_pb).collect(),
            ..Default::default()
        })
    }
}
