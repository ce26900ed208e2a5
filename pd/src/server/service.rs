//! # The gRPC service
//!
//! A thin translation between tonic and [`Cluster`]: unpack the request,
//! lock, call one method with the current time, pack the result. Errors the
//! caller can act on travel in the response header (see
//! [`crate::error`]); a gRPC `Status` is only used for malformed streams.
//!
//! The TSO stream is served by one task per client stream, answering each
//! request with the last of `count` timestamps. The task stops when the
//! client closes the stream or the server shuts down.
//!
//! The GC and deadlock RPCs go to their own state ([`crate::gc`],
//! [`crate::deadlock`]) in the same way, under their own mutexes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use proto::pdpb::{self, pd_server::Pd};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::PdState;
use crate::cluster::Cluster;
use crate::core;
use crate::error::{Error, Result, header_of, ok_header};

pub(crate) struct PdService {
    state: Arc<PdState>,
    shutdown: watch::Receiver<bool>,
}

impl PdService {
    pub(crate) fn new(state: Arc<PdState>, shutdown: watch::Receiver<bool>) -> Self {
        PdService { state, shutdown }
    }

    fn with_cluster<T>(&self, f: impl FnOnce(&mut Cluster, Instant) -> Result<T>) -> Result<T> {
        let mut cluster = self.state.cluster.lock();
        f(&mut cluster, Instant::now())
    }
}

fn required<T>(field: Option<T>, what: &str) -> Result<T> {
    field.ok_or_else(|| Error::InvalidArgument(format!("{what} is required")))
}

fn tso_response(state: &PdState, count: u32) -> pdpb::TsoResponse {
    match state.tso.get(count) {
        Ok(ts) => pdpb::TsoResponse {
            header: ok_header(),
            count,
            timestamp: Some(pdpb::Timestamp {
                physical: core::physical(ts) as i64,
                logical: core::logical(ts) as i64,
            }),
        },
        Err(e) => {
            tracing::warn!(error = %e, count, "tso request failed");
            pdpb::TsoResponse {
                header: Some(e.to_header()),
                count: 0,
                timestamp: None,
            }
        }
    }
}

fn ok<T>(msg: T) -> std::result::Result<Response<T>, Status> {
    Ok(Response::new(msg))
}

#[tonic::async_trait]
impl Pd for PdService {
    type TsoStream = ReceiverStream<std::result::Result<pdpb::TsoResponse, Status>>;

    async fn tso(
        &self,
        request: Request<Streaming<pdpb::TsoRequest>>,
    ) -> std::result::Result<Response<Self::TsoStream>, Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        let state = self.state.clone();
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    next = inbound.message() => next,
                    _ = shutdown.wait_for(|stop| *stop) => break,
                    _ = tx.closed() => break,
                };
                let req = match next {
                    Ok(Some(req)) => req,
                    Ok(None) => break,
                    Err(status) => {
                        tracing::debug!(%status, "tso stream ended with an error");
                        break;
                    }
                };
                if tx.send(Ok(tso_response(&state, req.count))).await.is_err() {
                    break;
                }
            }
        });
        ok(ReceiverStream::new(rx))
    }

    async fn alloc_id(
        &self,
        _: Request<pdpb::AllocIdRequest>,
    ) -> std::result::Result<Response<pdpb::AllocIdResponse>, Status> {
        let r = self.state.ids.alloc();
        ok(pdpb::AllocIdResponse {
            header: header_of(&r),
            id: r.unwrap_or_default(),
        })
    }

    async fn is_bootstrapped(
        &self,
        _: Request<pdpb::IsBootstrappedRequest>,
    ) -> std::result::Result<Response<pdpb::IsBootstrappedResponse>, Status> {
        let bootstrapped = self.state.cluster.lock().is_bootstrapped();
        ok(pdpb::IsBootstrappedResponse {
            header: ok_header(),
            bootstrapped,
        })
    }

    async fn bootstrap(
        &self,
        request: Request<pdpb::BootstrapRequest>,
    ) -> std::result::Result<Response<pdpb::BootstrapResponse>, Status> {
        let req = request.into_inner();
        let r = self.with_cluster(|c, now| {
            c.bootstrap(
                required(req.store, "store")?,
                required(req.region, "region")?,
                now,
            )
        });
        ok(pdpb::BootstrapResponse {
            header: header_of(&r),
        })
    }

    async fn put_store(
        &self,
        request: Request<pdpb::PutStoreRequest>,
    ) -> std::result::Result<Response<pdpb::PutStoreResponse>, Status> {
        let req = request.into_inner();
        let r = self.with_cluster(|c, now| c.put_store(required(req.store, "store")?, now));
        ok(pdpb::PutStoreResponse {
            header: header_of(&r),
        })
    }

    async fn get_store(
        &self,
        request: Request<pdpb::GetStoreRequest>,
    ) -> std::result::Result<Response<pdpb::GetStoreResponse>, Status> {
        let id = request.into_inner().store_id;
        let r = self.with_cluster(|c, now| c.get_store(id, now));
        let header = header_of(&r);
        let (store, stats) = match r {
            Ok((store, stats)) => (Some(store), stats),
            Err(_) => (None, None),
        };
        ok(pdpb::GetStoreResponse {
            header,
            store,
            stats,
        })
    }

    async fn get_all_stores(
        &self,
        request: Request<pdpb::GetAllStoresRequest>,
    ) -> std::result::Result<Response<pdpb::GetAllStoresResponse>, Status> {
        let exclude = request.into_inner().exclude_tombstone_stores;
        let stores = self
            .state
            .cluster
            .lock()
            .all_stores(exclude, Instant::now());
        ok(pdpb::GetAllStoresResponse {
            header: ok_header(),
            stores,
        })
    }

    async fn store_heartbeat(
        &self,
        request: Request<pdpb::StoreHeartbeatRequest>,
    ) -> std::result::Result<Response<pdpb::StoreHeartbeatResponse>, Status> {
        let req = request.into_inner();
        let now_ms = crate::unix_ms();
        let r = self
            .with_cluster(|c, now| c.store_heartbeat(required(req.stats, "stats")?, now, now_ms));
        ok(pdpb::StoreHeartbeatResponse {
            header: header_of(&r),
        })
    }

    async fn region_heartbeat(
        &self,
        request: Request<pdpb::RegionHeartbeatRequest>,
    ) -> std::result::Result<Response<pdpb::RegionHeartbeatResponse>, Status> {
        let req = request.into_inner();
        let region_id = req.region.as_ref().map_or(0, |r| r.id);
        let r = self.with_cluster(|c, now| c.region_heartbeat(&req, now));
        ok(r.unwrap_or_else(|e| pdpb::RegionHeartbeatResponse {
            header: Some(e.to_header()),
            region_id,
            ..Default::default()
        }))
    }

    async fn get_region(
        &self,
        request: Request<pdpb::GetRegionRequest>,
    ) -> std::result::Result<Response<pdpb::GetRegionResponse>, Status> {
        let key = request.into_inner().region_key;
        let r = self.state.cluster.lock().get_region(&key);
        ok(region_response(r))
    }

    async fn get_region_by_id(
        &self,
        request: Request<pdpb::GetRegionByIdRequest>,
    ) -> std::result::Result<Response<pdpb::GetRegionResponse>, Status> {
        let id = request.into_inner().region_id;
        let r = self.state.cluster.lock().get_region_by_id(id);
        ok(region_response(r))
    }

    async fn scan_regions(
        &self,
        request: Request<pdpb::ScanRegionsRequest>,
    ) -> std::result::Result<Response<pdpb::ScanRegionsResponse>, Status> {
        let req = request.into_inner();
        let r = self.state.cluster.lock().scan_regions(
            &req.start_key,
            &req.end_key,
            req.limit as usize,
        );
        let header = header_of(&r);
        ok(pdpb::ScanRegionsResponse {
            header,
            regions: r.unwrap_or_default(),
        })
    }

    async fn ask_split(
        &self,
        request: Request<pdpb::AskSplitRequest>,
    ) -> std::result::Result<Response<pdpb::AskSplitResponse>, Status> {
        let req = request.into_inner();
        let r = self.with_cluster(|c, _| c.ask_split(&required(req.region, "region")?));
        ok(r.unwrap_or_else(|e| pdpb::AskSplitResponse {
            header: Some(e.to_header()),
            ..Default::default()
        }))
    }

    async fn report_split(
        &self,
        request: Request<pdpb::ReportSplitRequest>,
    ) -> std::result::Result<Response<pdpb::ReportSplitResponse>, Status> {
        let req = request.into_inner();
        let r = self.with_cluster(|c, _| {
            c.report_split(required(req.left, "left")?, required(req.right, "right")?)
        });
        ok(pdpb::ReportSplitResponse {
            header: header_of(&r),
        })
    }

    async fn add_operator(
        &self,
        request: Request<pdpb::AddOperatorRequest>,
    ) -> std::result::Result<Response<pdpb::AddOperatorResponse>, Status> {
        let req = request.into_inner();
        let r = self.with_cluster(|c, now| {
            let kind = pdpb::OperatorKind::try_from(req.kind).map_err(|_| {
                Error::InvalidArgument(format!("unknown operator kind {}", req.kind))
            })?;
            c.add_admin_operator(kind, req.region_id, req.store_id, now)
        });
        let header = header_of(&r);
        ok(pdpb::AddOperatorResponse {
            header,
            operator: r.ok(),
        })
    }

    async fn get_operators(
        &self,
        _: Request<pdpb::GetOperatorsRequest>,
    ) -> std::result::Result<Response<pdpb::GetOperatorsResponse>, Status> {
        let r = self.with_cluster(|c, now| c.operator_infos(now));
        let header = header_of(&r);
        ok(pdpb::GetOperatorsResponse {
            header,
            operators: r.unwrap_or_default(),
        })
    }

    async fn get_schedulers(
        &self,
        _: Request<pdpb::GetSchedulersRequest>,
    ) -> std::result::Result<Response<pdpb::GetSchedulersResponse>, Status> {
        let r = self.state.cluster.lock().scheduler_infos();
        let header = header_of(&r);
        ok(pdpb::GetSchedulersResponse {
            header,
            schedulers: r.unwrap_or_default(),
        })
    }

    async fn remove_store(
        &self,
        request: Request<pdpb::RemoveStoreRequest>,
    ) -> std::result::Result<Response<pdpb::RemoveStoreResponse>, Status> {
        let id = request.into_inner().store_id;
        let r = self.with_cluster(|c, _| c.remove_store(id));
        ok(pdpb::RemoveStoreResponse {
            header: header_of(&r),
        })
    }

    async fn set_columnar_rule(
        &self,
        request: Request<pdpb::SetColumnarRuleRequest>,
    ) -> std::result::Result<Response<pdpb::SetColumnarRuleResponse>, Status> {
        let rule = request.into_inner().rule.unwrap_or_default();
        let r = self.with_cluster(|c, _| c.set_columnar_rule(rule));
        ok(pdpb::SetColumnarRuleResponse {
            header: header_of(&r),
        })
    }

    async fn get_columnar_rules(
        &self,
        _: Request<pdpb::GetColumnarRulesRequest>,
    ) -> std::result::Result<Response<pdpb::GetColumnarRulesResponse>, Status> {
        let r = self.state.cluster.lock().columnar_rules();
        let header = header_of(&r);
        ok(pdpb::GetColumnarRulesResponse {
            header,
            rules: r.unwrap_or_default(),
        })
    }

    async fn update_min_start_ts(
        &self,
        request: Request<pdpb::UpdateMinStartTsRequest>,
    ) -> std::result::Result<Response<pdpb::UpdateMinStartTsResponse>, Status> {
        let req = request.into_inner();
        let r = self.state.gc.lock().update_min_start_ts(
            &req.client_id,
            req.min_start_ts,
            Duration::from_millis(req.ttl_ms),
            Instant::now(),
        );
        ok(pdpb::UpdateMinStartTsResponse {
            header: header_of(&r),
            safe_point: r.unwrap_or_default(),
        })
    }

    async fn get_gc_safe_point(
        &self,
        _: Request<pdpb::GetGcSafePointRequest>,
    ) -> std::result::Result<Response<pdpb::GetGcSafePointResponse>, Status> {
        let status = self.state.gc.lock().status(Instant::now());
        ok(status.into())
    }

    async fn update_gc_safe_point(
        &self,
        request: Request<pdpb::UpdateGcSafePointRequest>,
    ) -> std::result::Result<Response<pdpb::UpdateGcSafePointResponse>, Status> {
        let requested = request.into_inner().safe_point;
        let r = self.state.gc.lock().update_gc_safe_point(requested);
        ok(pdpb::UpdateGcSafePointResponse {
            header: header_of(&r),
            new_safe_point: r.unwrap_or_default(),
        })
    }

    async fn deadlock(
        &self,
        request: Request<pdpb::DeadlockRequest>,
    ) -> std::result::Result<Response<pdpb::DeadlockResponse>, Status> {
        let req = request.into_inner();
        let r = deadlock(&self.state, &req);
        ok(r.unwrap_or_else(|e| pdpb::DeadlockResponse {
            header: Some(e.to_header()),
            ..Default::default()
        }))
    }
}

/// Does what a deadlock request asks of the detector.
fn deadlock(state: &PdState, req: &pdpb::DeadlockRequest) -> Result<pdpb::DeadlockResponse> {
    let tp = pdpb::DeadlockRequestType::try_from(req.tp)
        .map_err(|_| Error::InvalidArgument(format!("unknown deadlock request type {}", req.tp)))?;
    if req.txn_ts == 0 {
        return Err(Error::InvalidArgument("txn_ts is required".into()));
    }
    let waits = matches!(
        tp,
        pdpb::DeadlockRequestType::Detect | pdpb::DeadlockRequestType::CleanUpWaitFor
    );
    if waits && (req.wait_for_txn_ts == 0 || req.wait_for_txn_ts == req.txn_ts) {
        return Err(Error::InvalidArgument(format!(
            "transaction {} cannot wait for transaction {}",
            req.txn_ts, req.wait_for_txn_ts
        )));
    }
    let mut detector = state.deadlock.lock();
    let mut resp = pdpb::DeadlockResponse {
        header: ok_header(),
        ..Default::default()
    };
    match tp {
        pdpb::DeadlockRequestType::Detect => {
            let found = detector.detect(
                req.txn_ts,
                req.wait_for_txn_ts,
                req.key_hash,
                Instant::now(),
            );
            if let Some(info) = found {
                resp.deadlock = true;
                resp.deadlock_key_hash = info.deadlock_key_hash;
                resp.wait_chain = info
                    .wait_chain
                    .into_iter()
                    .map(|e| pdpb::WaitForEntry {
                        txn: e.txn,
                        wait_for_txn: e.wait_for_txn,
                        key_hash: e.key_hash,
                    })
                    .collect();
            }
        }
        pdpb::DeadlockRequestType::CleanUpWaitFor => {
            detector.clean_up_wait_for(req.txn_ts, req.wait_for_txn_ts, req.key_hash)
        }
        pdpb::DeadlockRequestType::CleanUp => detector.clean_up(req.txn_ts),
    }
    Ok(resp)
}

fn region_response(r: Result<pdpb::GetRegionResponse>) -> pdpb::GetRegionResponse {
    r.unwrap_or_else(|e| pdpb::GetRegionResponse {
        header: Some(e.to_header()),
        ..Default::default()
    })
}
