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
//! [`Error`]s here ([`from_key_error`]); the callers decide what they mean.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kv::client::{Backoff, RegionCache, RegionLocation, routing_retryable};
use proto::errorpb;
use proto::kvrpcpb::txn_client::TxnClient as TxnKvClient;
use proto::kvrpcpb::{Context, KeyError};
use tonic::transport::Channel;

use crate::service::lock_info_from_pb;
use crate::types::{Key, TimeStamp};
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

/// A gRPC failure: a broken connection is a transport error (the request
/// may or may not have been executed).
pub fn status_err(s: tonic::Status) -> Error {
    match s.code() {
        tonic::Code::InvalidArgument => Error::Kv(kv::Error::InvalidArgument(s.message().into())),
        _ => Error::Kv(kv::Error::Transport(format!(
            "{}: {}",
            s.code(),
            s.message()
        ))),
    }
}

/// Fails with the region error, if the response carries one.
pub fn check_region(re: Option<errorpb::Error>) -> Result<()> {
    match re {
        Some(e) => Err(Error::Kv(kv::Error::from_region_error(e))),
        None => Ok(()),
    }
}

/// Fails with the region error or the key error of a response.
pub fn check(re: Option<errorpb::Error>, ke: Option<KeyError>) -> Result<()> {
    check_region(re)?;
    match ke {
        Some(e) => Err(from_key_error(e)),
        None => Ok(()),
    }
}

/// The typed error a `KeyError` stands for.
pub fn from_key_error(e: KeyError) -> Error {
    use proto::kvrpcpb::write_conflict::Reason;
    if let Some(l) = e.locked {
        return Error::KeyIsLocked(lock_info_from_pb(&l));
    }
    if let Some(c) = e.conflict {
        let reason = match Reason::try_from(c.reason).unwrap_or(Reason::Optimistic) {
            Reason::Optimistic => crate::error::WriteConflictReason::Optimistic,
            Reason::PessimisticRetry => crate::error::WriteConflictReason::PessimisticRetry,
            Reason::SelfRolledBack => crate::error::WriteConflictReason::SelfRolledBack,
        };
        return Error::WriteConflict {
            start_ts: TimeStamp::new(c.start_ts),
            conflict_start_ts: TimeStamp::new(c.conflict_ts),
            conflict_commit_ts: TimeStamp::new(c.conflict_commit_ts),
            key: c.key,
            primary: c.primary,
            reason,
        };
    }
    if let Some(a) = e.already_exist {
        return Error::AlreadyExist { key: a.key };
    }
    if let Some(d) = e.deadlock {
        return Error::Deadlock {
            lock_ts: TimeStamp::new(d.lock_ts),
            lock_key: d.lock_key,
            deadlock_key_hash: d.deadlock_key_hash,
            wait_chain: d
                .wait_chain
                .into_iter()
                .map(|w| pd::WaitForEntry {
                    txn: w.txn,
                    wait_for_txn: w.wait_for_txn,
                    key_hash: w.key_hash,
                })
                .collect(),
        };
    }
    if let Some(c) = e.commit_ts_expired {
        return Error::CommitTsExpired {
            start_ts: TimeStamp::new(c.start_ts),
            commit_ts: TimeStamp::new(c.attempted_commit_ts),
            key: c.key,
            min_commit_ts: TimeStamp::new(c.min_commit_ts),
        };
    }
    if let Some(t) = e.txn_not_found {
        return Error::TxnNotFound {
            start_ts: TimeStamp::new(t.start_ts),
            key: t.primary_key,
        };
    }
    if let Some(t) = e.txn_lock_not_found {
        return Error::TxnLockNotFound {
            start_ts: TimeStamp::new(t.start_ts),
            commit_ts: TimeStamp::new(t.commit_ts),
            key: t.key,
        };
    }
    if let Some(c) = e.committed {
        return Error::Committed {
            start_ts: TimeStamp::new(c.start_ts),
            commit_ts: TimeStamp::new(c.commit_ts),
            key: c.key,
        };
    }
    if let Some(t) = e.txn_too_old {
        return Error::TxnTooOld {
            ts: TimeStamp::new(t.ts),
            safe_point: TimeStamp::new(t.safe_point),
        };
    }
    if !e.retryable.is_empty() {
        return Error::Retryable(e.retryable);
    }
    Error::Aborted(e.abort)
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
