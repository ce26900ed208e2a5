//! # The raw KV service
//!
//! Each request names a region, the epoch the client saw and the peer it
//! addressed. Writes become one raft command and are acknowledged after
//! they are applied; reads are served from a snapshot the region's leader
//! hands out once the read is linearizable (lease or ReadIndex). Region
//! errors go back in `region_error` so the client can refresh its routing
//! and retry; nothing else is retried here.

use std::sync::Arc;
use std::time::Duration;

use proto::errorpb;
use proto::kvrpcpb::kv_server::Kv;
use proto::kvrpcpb::*;
use proto::raft_cmdpb::{CmdType, Request as RaftRequest};
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

use crate::engine::CF_DEFAULT;
use crate::raftstore::peer::check_key_in_region;
use crate::raftstore::{ReadFlow, ReadResponse, RequestContext, StoreMsg, StoreRouter};
use crate::{Error, Result, keys};

pub struct KvService {
    router: StoreRouter,
    timeout: Duration,
    read_flow: Arc<ReadFlow>,
}

impl KvService {
    pub fn new(router: StoreRouter, timeout: Duration, read_flow: Arc<ReadFlow>) -> Self {
        KvService {
            router,
            timeout,
            read_flow,
        }
    }

    fn record_read<'a>(&self, region_id: u64, pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>) {
        let (mut bytes, mut keys) = (0, 0);
        for (k, v) in pairs {
            bytes += (k.len() + v.len()) as u64;
            keys += 1;
        }
        self.read_flow.record(region_id, bytes, keys);
    }

    async fn read(&self, ctx: Option<Context>) -> Result<ReadResponse> {
        let (tx, rx) = oneshot::channel();
        self.router.send(StoreMsg::Read {
            ctx: RequestContext::from(ctx),
            cb: tx,
        })?;
        self.wait(rx).await
    }

    async fn write(&self, ctx: Option<Context>, requests: Vec<RaftRequest>) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.router.send(StoreMsg::Write {
            ctx: RequestContext::from(ctx),
            requests,
            cb: tx,
        })?;
        self.wait(rx).await
    }

    async fn wait<T>(&self, rx: oneshot::Receiver<Result<T>>) -> Result<T> {
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(Error::ShuttingDown),
            Err(_) => Err(Error::Timeout("request not answered in time".into())),
        }
    }
}

fn put(key: Vec<u8>, value: Vec<u8>) -> RaftRequest {
    RaftRequest {
        cmd_type: CmdType::Put as i32,
        cf: CF_DEFAULT.into(),
        key,
        value,
        end_key: vec![],
    }
}

fn delete(key: Vec<u8>) -> RaftRequest {
    RaftRequest {
        cmd_type: CmdType::Delete as i32,
        cf: CF_DEFAULT.into(),
        key,
        value: vec![],
        end_key: vec![],
    }
}

/// Splits an error into the region error a client retries on, or a
/// message for everything else.
fn split_err(e: Error) -> (Option<errorpb::Error>, String) {
    match e.to_region_error() {
        Some(re) => (Some(re), String::new()),
        None => (None, e.to_string()),
    }
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn split_region(
        &self,
        req: Request<SplitRegionRequest>,
    ) -> std::result::Result<Response<SplitRegionResponse>, Status> {
        let req = req.into_inner();
        let (tx, rx) = oneshot::channel();
        let sent = self.router.send(StoreMsg::SplitRegion {
            ctx: RequestContext::from(req.context),
            split_key: req.split_key,
            cb: tx,
        });
        let result = match sent {
            Ok(()) => self.wait(rx).await,
            Err(e) => Err(e),
        };
        let (region_error, error) = match result {
            Ok(()) => (None, String::new()),
            Err(e) => split_err(e),
        };
        Ok(Response::new(SplitRegionResponse {
            region_error,
            error,
        }))
    }

    async fn raw_get(
        &self,
        req: Request<RawGetRequest>,
    ) -> std::result::Result<Response<RawGetResponse>, Status> {
        let req = req.into_inner();
        let result = async {
            let read = self.read(req.context).await?;
            check_key_in_region(&read.region, &req.key)?;
            let value = read.snapshot.get(CF_DEFAULT, &keys::data_key(&req.key))?;
            if let Some(v) = &value {
                self.record_read(
                    read.region.id,
                    std::iter::once((req.key.as_slice(), v.as_slice())),
                );
            }
            Ok(value)
        }
        .await;
        Ok(Response::new(match result {
            Ok(Some(value)) => RawGetResponse {
                value,
                ..Default::default()
            },
            Ok(None) => RawGetResponse {
                not_found: true,
                ..Default::default()
            },
            Err(e) => {
                let (region_error, error) = split_err(e);
                RawGetResponse {
                    region_error,
                    error,
                    ..Default::default()
                }
            }
        }))
    }

    async fn raw_batch_get(
        &self,
        req: Request<RawBatchGetRequest>,
    ) -> std::result::Result<Response<RawBatchGetResponse>, Status> {
        let req = req.into_inner();
        let result = async {
            let read = self.read(req.context).await?;
            let mut pairs = Vec::new();
            for key in req.keys {
                check_key_in_region(&read.region, &key)?;
                if let Some(value) = read.snapshot.get(CF_DEFAULT, &keys::data_key(&key))? {
                    pairs.push(KvPair {
                        key,
                        value,
                        error: None,
                    });
                }
            }
            self.record_read(
                read.region.id,
                pairs.iter().map(|p| (p.key.as_slice(), p.value.as_slice())),
            );
            Ok(pairs)
        }
        .await;
        Ok(Response::new(match result {
            Ok(pairs) => RawBatchGetResponse {
                pairs,
                ..Default::default()
            },
            Err(e) => match split_err(e) {
                (Some(region_error), _) => RawBatchGetResponse {
                    region_error: Some(region_error),
                    ..Default::default()
                },
                (None, msg) => return Err(Status::internal(msg)),
            },
        }))
    }

    async fn raw_put(
        &self,
        req: Request<RawPutRequest>,
    ) -> std::result::Result<Response<RawPutResponse>, Status> {
        let req = req.into_inner();
        let (region_error, error) =
            match self.write(req.context, vec![put(req.key, req.value)]).await {
                Ok(()) => (None, String::new()),
                Err(e) => split_err(e),
            };
        Ok(Response::new(RawPutResponse {
            region_error,
            error,
        }))
    }

    async fn raw_batch_put(
        &self,
        req: Request<RawBatchPutRequest>,
    ) -> std::result::Result<Response<RawBatchPutResponse>, Status> {
        let req = req.into_inner();
        let requests = req.pairs.into_iter().map(|p| put(p.key, p.value)).collect();
        let (region_error, error) = match self.write(req.context, requests).await {
            Ok(()) => (None, String::new()),
            Err(e) => split_err(e),
        };
        Ok(Response::new(RawBatchPutResponse {
            region_error,
            error,
        }))
    }

    async fn raw_delete(
        &self,
        req: Request<RawDeleteRequest>,
    ) -> std::result::Result<Response<RawDeleteResponse>, Status> {
        let req = req.into_inner();
        let (region_error, error) = match self.write(req.context, vec![delete(req.key)]).await {
            Ok(()) => (None, String::new()),
            Err(e) => split_err(e),
        };
        Ok(Response::new(RawDeleteResponse {
            region_error,
            error,
        }))
    }

    async fn raw_batch_delete(
        &self,
        req: Request<RawBatchDeleteRequest>,
    ) -> std::result::Result<Response<RawBatchDeleteResponse>, Status> {
        let req = req.into_inner();
        let requests = req.keys.into_iter().map(delete).collect();
        let (region_error, error) = match self.write(req.context, requests).await {
            Ok(()) => (None, String::new()),
            Err(e) => split_err(e),
        };
        Ok(Response::new(RawBatchDeleteResponse {
            region_error,
            error,
        }))
    }

    async fn raw_scan(
        &self,
        req: Request<RawScanRequest>,
    ) -> std::result::Result<Response<RawScanResponse>, Status> {
        let req = req.into_inner();
        let result = async {
            let read = self.read(req.context).await?;
            let r = &read.region;
            // Clamp the scan to the region; the client continues in the next.
            let start = req.start_key.clone().max(r.start_key.clone());
            let end = match (req.end_key.is_empty(), r.end_key.is_empty()) {
                (true, _) => r.end_key.clone(),
                (false, true) => req.end_key.clone(),
                (false, false) => req.end_key.clone().min(r.end_key.clone()),
            };
            let limit = if req.limit == 0 {
                usize::MAX
            } else {
                req.limit as usize
            };
            let mut kvs = Vec::new();
            read.snapshot.scan(
                CF_DEFAULT,
                &keys::data_key(&start),
                &keys::data_end_key(&end),
                &mut |k, v| {
                    let value = if req.key_only { Vec::new() } else { v.to_vec() };
                    kvs.push(KvPair {
                        error: None,
                        key: keys::origin_key(k).to_vec(),
                        value,
                    });
                    kvs.len() < limit
                },
            )?;
            Ok(kvs)
        }
        .await;
        Ok(Response::new(match result {
            Ok(kvs) => RawScanResponse {
                kvs,
                ..Default::default()
            },
            Err(e) => match split_err(e) {
                (Some(region_error), _) => RawScanResponse {
                    region_error: Some(region_error),
                    ..Default::default()
                },
                (None, msg) => return Err(Status::internal(msg)),
            },
        }))
    }
}
