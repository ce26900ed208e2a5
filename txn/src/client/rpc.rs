//! Routing txn requests to region leaders.
//!
//! Keys are located by their memcomparable encoding (region boundaries live
//! in that space). A request goes to the peer the [`RegionCache`] believes
//! leads the region; region errors (`NotLeader`, `EpochNotMatch`, ...)
//! correct the cache and the request is retried with backoff, as in the raw
//! client. Requests over many keys are grouped by region and sent in
//! parallel; a group whose region changed (split, merge) is regrouped.
//!
//! Transaction errors come back as `KeyError`s and are turned into typed
//! [`Error`]s by [`crate::pb`] ([`check`](crate::pb::check),
//! [`from_key_error`](crate::pb::from_key_error)); the callers decide what
//! they mean.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kv::client::{Backoff, RegionCache, RegionLocation, routing_retryable};
use proto::kvrpcpb::Context;
use proto::kvrpcpb::txn_client::TxnClient as TxnKvClient;
use tonic::transport::Channel;

use crate::types::Key;
use crate::{Error, Result};

pub type KvStub = TxnKvClient<Channel>;

/// Items (keys with payloads) held by one region.
pub type Group<T> = (RegionLocation, Vec<(Vec<u8>, T)>);

#[derive(Clone)]
pub struct Rpc {
    cache: Arc<RegionCache>,
    /// How long one operation keeps retrying on routing errors.
    pub timeout: Duration,
}

/// Whether an error is about routing (refresh the cache and retry).
fn is_routing(e: &Error) -> bool {
    matches!(e, Error::Kv(k) if routing_retryable(k))
}

impl Rpc {
    pub fn new(cache: Arc<RegionCache>, timeout: Duration) -> Rpc {
        Rpc { cache, timeout }
    }

    pub fn cache(&self) -> &Arc<RegionCache> {
        &self.cache
    }

    /// Runs `f` against the leader of the region holding the raw `key`,
    /// retrying routing errors until the timeout.
    pub async fn call<T, F, Fut>(&self, key: &[u8], f: F) -> Result<T>
    where
        F: Fn(KvStub, Context, RegionLocation) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let encoded = Key::from_raw(key).into_encoded();
        self.call_encoded(&encoded, f).await
    }

    /// [`Rpc::call`] for a key already encoded (scans continue at region
    /// boundaries, which are encoded keys).
    pub async fn call_encoded<T, F, Fut>(&self, encoded: &[u8], f: F) -> Result<T>
    where
        F: Fn(KvStub, Context, RegionLocation) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut backoff = Backoff::new(self.timeout);
        loop {
            let (loc, peer, channel) = match self.cache.route_channel(encoded).await {
                Ok(r) => r,
                Err(e) if routing_retryable(&e) => {
                    backoff.wait(e).await?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let ctx = context(&loc, peer);
            let stub = TxnKvClient::new(channel).max_decoding_message_size(256 * 1024 * 1024);
            match f(stub, ctx, loc.clone()).await {
                Ok(v) => return Ok(v),
                Err(Error::Kv(e)) if routing_retryable(&e) => {
                    self.cache.on_error(&loc, &peer, e, &mut backoff).await?
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The region the cache (or PD) places an encoded key in, retrying
    /// while PD has no answer yet.
    pub async fn locate_encoded(&self, encoded: &[u8]) -> Result<RegionLocation> {
        let mut backoff = Backoff::new(self.timeout);
        loop {
            match self.cache.locate(encoded).await {
                Ok(loc) => return Ok(loc),
                Err(e) if routing_retryable(&e) => backoff.wait(e).await?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Groups raw keys (with payloads) by the region the cache places them
    /// in, in key order.
    pub async fn group<T>(&self, items: Vec<(Vec<u8>, T)>) -> Result<Vec<Group<T>>> {
        let mut groups: BTreeMap<Vec<u8>, Group<T>> = BTreeMap::new();
        for (k, v) in items {
            let loc = self
                .locate_encoded(&Key::from_raw(&k).into_encoded())
                .await?;
            groups
                .entry(loc.region.start_key.clone())
                .or_insert_with(|| (loc, Vec::new()))
                .1
                .push((k, v));
        }
        Ok(groups.into_values().collect())
    }

    /// Sends every group of `items` to its region in parallel with `f`;
    /// groups hit by a routing error are regrouped and sent again. Returns
    /// the results of the groups in no particular order.
    pub async fn for_each_group<T, R, F, Fut>(
        &self,
        items: Vec<(Vec<u8>, T)>,
        f: F,
    ) -> Result<Vec<R>>
    where
        T: Clone,
        F: Fn(KvStub, Context, Vec<(Vec<u8>, T)>) -> Fut,
        Fut: Future<Output = Result<R>>,
    {
        let mut out = Vec::new();
        let mut pending = items;
        let mut backoff = Backoff::new(self.timeout);
        while !pending.is_empty() {
            let groups = self.group(std::mem::take(&mut pending)).await?;
            let attempts = groups.into_iter().map(|(loc, items)| {
                let f = &f;
                async move {
                    let Some(peer) = loc.target() else {
                        self.cache.invalidate(loc.region.id);
                        let e = kv::Error::NotLeader {
                            region_id: loc.region.id,
                            leader: None,
                        };
                        return (loc, None, items, Err(Error::Kv(e)));
                    };
                    let channel = match self.store_channel(peer.store_id).await {
                        Ok(c) => c,
                        Err(e) => return (loc, Some(peer), items, Err(e)),
                    };
                    let stub =
                        TxnKvClient::new(channel).max_decoding_message_size(256 * 1024 * 1024);
                    let r = f(stub, context(&loc, peer), items.clone()).await;
                    (loc, Some(peer), items, r)
                }
            });
            let mut last_err = None;
            for (loc, peer, items, r) in futures::future::join_all(attempts).await {
                match r {
                    Ok(v) => out.push(v),
                    Err(e) if is_routing(&e) => {
                        if let (Some(peer), Error::Kv(k)) = (peer, &e) {
                            self.cache.learn(&loc, &peer, k);
                        }
                        pending.extend(items);
                        last_err = Some(e);
                    }
                    Err(e) => return Err(e),
                }
            }
            if let Some(Error::Kv(e)) = last_err {
                backoff.wait(e).await?;
            }
        }
        Ok(out)
    }

    async fn store_channel(&self, store_id: u64) -> Result<Channel> {
        let addr = self.cache.store_addr(store_id).await?;
        Ok(self.cache.channel(&addr)?)
    }
}

pub fn context(loc: &RegionLocation, peer: proto::metapb::Peer) -> Context {
    Context {
        region_id: loc.region.id,
        region_epoch: loc.region.region_epoch,
        peer: Some(peer),
        replica_read: false,
    }
}
