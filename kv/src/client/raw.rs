//! The raw KV client: routing, retries, and scans across regions.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use pd::PdClient;
use proto::errorpb;
use proto::kvrpcpb::kv_client::KvClient;
use proto::kvrpcpb::*;
use tonic::transport::Channel;

use super::{Backoff, RegionCache, RegionLocation};
use crate::{Error, Result};

/// How long one client operation keeps retrying before it gives up.
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(20);

/// Keys (with their payloads) that one region holds.
type Group<T> = (RegionLocation, Vec<(Vec<u8>, T)>);

#[derive(Clone)]
pub struct RawClient {
    cache: Arc<RegionCache>,
    timeout: Duration,
}

fn status_err(s: tonic::Status) -> Error {
    match s.code() {
        tonic::Code::Internal | tonic::Code::InvalidArgument => {
            Error::Other(s.message().to_string())
        }
        _ => Error::Transport(format!("{}: {}", s.code(), s.message())),
    }
}

/// Whether finding a region failed in a way that heals by itself: PD
/// unreachable for a moment, or a key briefly in no region PD knows (it
/// learns of a split from two reports).
pub fn routing_retryable(e: &Error) -> bool {
    e.is_retryable() || matches!(e, Error::Pd(pd::Error::RegionNotFound(_)))
}

fn check(region_error: Option<errorpb::Error>, error: &str) -> Result<()> {
    if let Some(e) = region_error {
        return Err(Error::from_region_error(e));
    }
    if !error.is_empty() {
        return Err(Error::Other(error.to_string()));
    }
    Ok(())
}

impl RawClient {
    pub async fn connect(pd_addr: &str) -> Result<RawClient> {
        Ok(RawClient::new(PdClient::connect(pd_addr).await?))
    }

    pub fn new(pd: PdClient) -> RawClient {
        RawClient {
            cache: Arc::new(RegionCache::new(pd)),
            timeout: DEFAULT_OP_TIMEOUT,
        }
    }

    /// Gives up on an operation after `timeout` of retries.
    pub fn with_timeout(mut self, timeout: Duration) -> RawClient {
        self.timeout = timeout;
        self
    }

    pub fn region_cache(&self) -> &Arc<RegionCache> {
        &self.cache
    }

    /// Runs `f` against the leader of the region holding `key`, retrying on
    /// region and transport errors until it succeeds or the timeout passes.
    async fn call<T, F, Fut>(&self, key: &[u8], f: F) -> Result<T>
    where
        F: Fn(KvClient<Channel>, Context, RegionLocation) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut backoff = Backoff::new(self.timeout);
        loop {
            let (loc, peer, client) = match self.cache.route(key).await {
                Ok(r) => r,
                // PD learns of a split from two reports; between them a
                // key may briefly belong to no region it knows.
                Err(e) if routing_retryable(&e) => {
                    backoff.wait(e).await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let ctx = Context {
                region_id: loc.region.id,
                region_epoch: loc.region.region_epoch,
                peer: Some(peer),
                replica_read: false,
            };
            match f(client, ctx, loc.clone()).await {
                Ok(v) => return Ok(v),
                Err(e) => self.cache.on_error(&loc, &peer, e, &mut backoff).await?,
            }
        }
    }

    /// The region holding `key`, retrying while routing is in flux.
    async fn locate(&self, key: &[u8]) -> Result<RegionLocation> {
        let mut backoff = Backoff::new(self.timeout);
        loop {
            match self.cache.locate(key).await {
                Err(e) if routing_retryable(&e) => backoff.wait(e).await?,
                other => return other,
            }
        }
    }

    pub async fn get(&self, key: Vec<u8>) -> Result<Option<Vec<u8>>> {
        self.call(&key, |mut c, ctx, _| {
            let req = RawGetRequest {
                context: Some(ctx),
                key: key.clone(),
            };
            async move {
                let resp = c.raw_get(req).await.map_err(status_err)?.into_inner();
                check(resp.region_error, &resp.error)?;
                Ok(if resp.not_found {
                    None
                } else {
                    Some(resp.value)
                })
            }
        })
        .await
    }

    pub async fn put(&self, key: Vec<u8>, value: Vec<u8>) -> Result<()> {
        self.call(&key, |mut c, ctx, _| {
            let req = RawPutRequest {
                context: Some(ctx),
                key: key.clone(),
                value: value.clone(),
            };
            async move {
                let resp = c.raw_put(req).await.map_err(status_err)?.into_inner();
                check(resp.region_error, &resp.error)
            }
        })
        .await
    }

    /// Asks the region holding `key` to split there (returns once the split
    /// is requested; see `SplitRegion`). `key` is in the region key space.
    pub async fn split_region(&self, key: Vec<u8>) -> Result<()> {
        self.call(&key, |mut c, ctx, _| {
            let req = SplitRegionRequest {
                context: Some(ctx),
                split_key: key.clone(),
            };
            async move {
                let resp = c.split_region(req).await.map_err(status_err)?.into_inner();
                check(resp.region_error, &resp.error)
            }
        })
        .await
    }

    pub async fn delete(&self, key: Vec<u8>) -> Result<()> {
        self.call(&key, |mut c, ctx, _| {
            let req = RawDeleteRequest {
                context: Some(ctx),
                key: key.clone(),
            };
            async move {
                let resp = c.raw_delete(req).await.map_err(status_err)?.into_inner();
                check(resp.region_error, &resp.error)
            }
        })
        .await
    }

    /// Pairs in `[start, end)` (empty `end`: to the end), at most `limit`
    /// (0: no limit), in key order, across as many regions as needed.
    pub async fn scan(
        &self,
        start: Vec<u8>,
        end: Vec<u8>,
        limit: u32,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        let mut key = start;
        loop {
            let want = if limit == 0 {
                0
            } else {
                limit - out.len() as u32
            };
            let (kvs, region_end) = self
                .call(&key, |mut c, ctx, loc| {
                    let req = RawScanRequest {
                        context: Some(ctx),
                        start_key: key.clone(),
                        end_key: end.clone(),
                        limit: want,
                        key_only: false,
                    };
                    async move {
                        let resp = c.raw_scan(req).await.map_err(status_err)?.into_inner();
                        check(resp.region_error, "")?;
                        Ok((resp.kvs, loc.region.end_key))
                    }
                })
                .await?;
            out.extend(kvs.into_iter().map(|p| (p.key, p.value)));
            let done = (limit != 0 && out.len() as u32 >= limit)
                || region_end.is_empty()
                || (!end.is_empty() && region_end >= end);
            if done {
                return Ok(out);
            }
            key = region_end;
        }
    }

    /// Groups keys by the region that holds them (as the cache knows it).
    async fn group<T>(&self, items: Vec<(Vec<u8>, T)>) -> Result<Vec<Group<T>>> {
        let mut groups: BTreeMap<u64, Group<T>> = BTreeMap::new();
        for (k, v) in items {
            let loc = self.locate(&k).await?;
            groups
                .entry(loc.region.id)
                .or_insert_with(|| (loc, Vec::new()))
                .1
                .push((k, v));
        }
        Ok(groups.into_values().collect())
    }

    pub async fn batch_put(&self, pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Result<()> {
        let mut pending = pairs;
        while !pending.is_empty() {
            let groups = self.group(std::mem::take(&mut pending)).await?;
            for (loc, group) in groups {
                let first = group[0].0.clone();
                let kvs: Vec<KvPair> = group
                    .iter()
                    .map(|(k, v)| KvPair {
                        error: None,
                        key: k.clone(),
                        value: v.clone(),
                    })
                    .collect();
                let result = self
                    .call(&first, |mut c, ctx, now| {
                        let req = RawBatchPutRequest {
                            context: Some(ctx),
                            pairs: kvs.clone(),
                        };
                        let same = now.region.id == loc.region.id;
                        async move {
                            if !same {
                                // The region changed under us: regroup.
                                return Err(Error::Other("regroup".into()));
                            }
                            let resp = c.raw_batch_put(req).await.map_err(status_err)?.into_inner();
                            check(resp.region_error, &resp.error)
                        }
                    })
                    .await;
                match result {
                    Ok(()) => {}
                    Err(Error::Other(m)) if m == "regroup" => pending.extend(group),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    pub async fn batch_get(&self, keys: Vec<Vec<u8>>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        let mut pending: Vec<(Vec<u8>, ())> = keys.into_iter().map(|k| (k, ())).collect();
        while !pending.is_empty() {
            let groups = self.group(std::mem::take(&mut pending)).await?;
            for (loc, group) in groups {
                let keys: Vec<Vec<u8>> = group.iter().map(|(k, _)| k.clone()).collect();
                let result = self
                    .call(&keys[0], |mut c, ctx, now| {
                        let req = RawBatchGetRequest {
                            context: Some(ctx),
                            keys: keys.clone(),
                        };
                        let same = now.region.id == loc.region.id;
                        async move {
                            if !same {
                                return Err(Error::Other("regroup".into()));
                            }
                            let resp = c.raw_batch_get(req).await.map_err(status_err)?.into_inner();
                            check(resp.region_error, "")?;
                            Ok(resp.pairs)
                        }
                    })
                    .await;
                match result {
                    Ok(pairs) => out.extend(pairs.into_iter().map(|p| (p.key, p.value))),
                    Err(Error::Other(m)) if m == "regroup" => pending.extend(group),
                    Err(e) => return Err(e),
                }
            }
        }
        out.sort();
        Ok(out)
    }
}
