//! The region cache: key -> region, leader and store address.
//!
//! Regions are kept by start key; a lookup takes the last region starting
//! at or before the key and checks its end. Anything learnt (a new leader
//! from `NotLeader`, current regions from `EpochNotMatch`) replaces the
//! overlapping entries, so the cache never holds two regions for one key.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use parking_lot::RwLock;
use pd::PdClient;
use proto::kvrpcpb::kv_client::KvClient;
use proto::metapb;
use tonic::transport::{Channel, Endpoint};

use super::Backoff;
use crate::{Error, Result};

/// Where to send a request for a key.
#[derive(Debug, Clone)]
pub struct RegionLocation {
    pub region: metapb::Region,
    /// The peer believed to lead; `None` if unknown.
    pub leader: Option<metapb::Peer>,
}

impl RegionLocation {
    pub fn contains(&self, key: &[u8]) -> bool {
        pd::core::region_contains(&self.region, key)
    }

    /// The leader, or a guess among the voters to start from.
    pub fn target(&self) -> Option<metapb::Peer> {
        self.leader.or_else(|| {
            self.region
                .peers
                .iter()
                .find(|p| p.role == metapb::PeerRole::Voter as i32)
                .cloned()
        })
    }
}

pub struct RegionCache {
    pd: PdClient,
    regions: RwLock<BTreeMap<Vec<u8>, RegionLocation>>,
    stores: RwLock<HashMap<u64, metapb::Store>>,
    conns: RwLock<HashMap<String, Channel>>,
}

impl RegionCache {
    pub fn new(pd: PdClient) -> Self {
        RegionCache {
            pd,
            regions: RwLock::new(BTreeMap::new()),
            stores: RwLock::new(HashMap::new()),
            conns: RwLock::new(HashMap::new()),
        }
    }

    pub fn pd(&self) -> &PdClient {
        &self.pd
    }

    /// The region holding `key`, from the cache or PD.
    pub async fn locate(&self, key: &[u8]) -> Result<RegionLocation> {
        if let Some(loc) = self.cached(key) {
            return Ok(loc);
        }
        let resp = self.pd.get_region(key).await?;
        let region = resp.region.ok_or_else(|| Error::RegionNotFound(0))?;
        let loc = RegionLocation {
            region,
            leader: resp.leader.filter(|l| l.id != 0),
        };
        self.insert(loc.clone());
        Ok(loc)
    }

    fn cached(&self, key: &[u8]) -> Option<RegionLocation> {
        let regions = self.regions.read();
        let (_, loc) = regions.range(..=key.to_vec()).next_back()?;
        loc.contains(key).then(|| loc.clone())
    }

    /// Inserts a region, evicting every cached region it overlaps.
    pub fn insert(&self, loc: RegionLocation) {
        let mut regions = self.regions.write();
        let start = loc.region.start_key.clone();
        let end = loc.region.end_key.clone();
        let overlapping: Vec<Vec<u8>> = regions
            .iter()
            .filter(|(_, l)| {
                let r = &l.region;
                (end.is_empty() || r.start_key < end) && (r.end_key.is_empty() || r.end_key > start)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in overlapping {
            regions.remove(&k);
        }
        regions.insert(start, loc);
    }

    pub fn invalidate(&self, region_id: u64) {
        self.regions.write().retain(|_, l| l.region.id != region_id);
    }

    pub fn update_leader(&self, region_id: u64, leader: metapb::Peer) {
        let mut regions = self.regions.write();
        if let Some(loc) = regions.values_mut().find(|l| l.region.id == region_id) {
            if loc.region.peers.iter().any(|p| p.id == leader.id) {
                loc.leader = Some(leader);
            } else {
                // A leader we do not know of: the membership changed.
                let id = loc.region.id;
                regions.retain(|_, l| l.region.id != id);
            }
        }
    }

    /// Forgets the leader and moves on to the next voter after `failed`.
    pub fn rotate_leader(&self, region_id: u64, failed: &metapb::Peer) {
        let mut regions = self.regions.write();
        if let Some(loc) = regions.values_mut().find(|l| l.region.id == region_id) {
            let voters: Vec<&metapb::Peer> = loc
                .region
                .peers
                .iter()
                .filter(|p| p.role == metapb::PeerRole::Voter as i32)
                .collect();
            let pos = voters
                .iter()
                .position(|p| p.id == failed.id)
                .map_or(0, |i| i + 1);
            loc.leader = voters.get(pos % voters.len().max(1)).map(|p| *(*p));
        }
    }

    /// Takes the regions a store reported with `EpochNotMatch`.
    pub fn on_epoch_not_match(&self, region_id: u64, current: Vec<metapb::Region>) {
        if current.is_empty() {
            self.invalidate(region_id);
            return;
        }
        for region in current {
            self.insert(RegionLocation {
                region,
                leader: None,
            });
        }
    }

    pub async fn store_addr(&self, store_id: u64) -> Result<String> {
        Ok(self.store(store_id).await?.address)
    }

    /// The store's metadata (address, labels), from the cache or PD.
    pub async fn store(&self, store_id: u64) -> Result<metapb::Store> {
        if let Some(s) = self.stores.read().get(&store_id) {
            return Ok(s.clone());
        }
        let store = self.pd.get_store(store_id).await?;
        self.stores.write().insert(store_id, store.clone());
        Ok(store)
    }

    pub fn invalidate_store(&self, store_id: u64) {
        if let Some(store) = self.stores.write().remove(&store_id) {
            self.conns.write().remove(&store.address);
        }
    }

    /// The region holding `key`, the peer to address and a client for its
    /// store.
    pub async fn route(
        &self,
        key: &[u8],
    ) -> Result<(RegionLocation, metapb::Peer, KvClient<Channel>)> {
        let (loc, peer, channel) = self.route_channel(key).await?;
        let client = KvClient::new(channel).max_decoding_message_size(256 * 1024 * 1024);
        Ok((loc, peer, client))
    }

    /// The region holding `key`, the peer to address and a channel to its
    /// store (any gRPC service the store serves can use it).
    pub async fn route_channel(
        &self,
        key: &[u8],
    ) -> Result<(RegionLocation, metapb::Peer, Channel)> {
        let loc = self.locate(key).await?;
        let Some(peer) = loc.target() else {
            self.invalidate(loc.region.id);
            return Err(Error::NotLeader {
                region_id: loc.region.id,
                leader: None,
            });
        };
        let addr = self.store_addr(peer.store_id).await?;
        let channel = self.channel(&addr)?;
        Ok((loc, peer, channel))
    }

    /// Updates routing after an error from a request to `peer` of `loc`.
    /// Returns whether the request may be retried (a routing or transient
    /// error); anything else is the caller's to report.
    pub fn learn(&self, loc: &RegionLocation, peer: &metapb::Peer, e: &Error) -> bool {
        let region_id = loc.region.id;
        match e {
            Error::NotLeader {
                leader: Some(l), ..
            } if l.id != peer.id && l.id != 0 => self.update_leader(region_id, *l),
            Error::NotLeader { .. } => self.rotate_leader(region_id, peer),
            Error::EpochNotMatch(regions) => self.on_epoch_not_match(region_id, regions.clone()),
            Error::StoreNotMatch { .. } => {
                self.invalidate_store(peer.store_id);
                self.invalidate(region_id);
            }
            Error::RegionNotFound(_) | Error::KeyNotInRegion { .. } => self.invalidate(region_id),
            Error::Transport(_) => {
                self.invalidate_store(peer.store_id);
                self.rotate_leader(region_id, peer);
            }
            other => return other.is_retryable(),
        }
        true
    }

    /// [`RegionCache::learn`], then waits before the retry; `Err` means give
    /// up (not a routing error, or the backoff's deadline passed). A new
    /// leader or the current regions from the store are retried at once for
    /// the first few attempts.
    pub async fn on_error(
        &self,
        loc: &RegionLocation,
        peer: &metapb::Peer,
        e: Error,
        backoff: &mut Backoff,
    ) -> Result<()> {
        if !self.learn(loc, peer, &e) {
            return Err(e);
        }
        let told_where = match &e {
            Error::NotLeader {
                leader: Some(l), ..
            } => l.id != peer.id && l.id != 0,
            Error::EpochNotMatch(_) => true,
            _ => false,
        };
        if told_where && backoff.attempts() < 3 {
            return Ok(());
        }
        backoff.wait(e).await
    }

    /// A (lazily connecting) channel to the store at `addr`, shared by
    /// every client of that store.
    pub fn channel(&self, addr: &str) -> Result<Channel> {
        if let Some(c) = self.conns.read().get(addr) {
            return Ok(c.clone());
        }
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| Error::Transport(e.to_string()))?
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(15))
            .tcp_nodelay(true);
        let channel = endpoint.connect_lazy();
        self.conns.write().insert(addr.to_string(), channel.clone());
        Ok(channel)
    }
}
