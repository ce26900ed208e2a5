//! # Bootstrap: the store's identity and the cluster's first region
//!
//! A store gets its id from PD once and keeps it in `StoreIdent`. The first
//! store to start a new cluster also creates the first region `["", "")`
//! with a single peer on itself, TiKV-style, in two steps so a crash in
//! between leaves nothing inconsistent:
//!
//! 1. *prepare*: write the region's initial state and a prepare marker;
//! 2. ask PD to bootstrap with that region; on success drop the marker;
//!    if another store won the race, erase the prepared region.
//!
//! A store that restarts with the marker present finishes the job: it keeps
//! the region if PD holds it, erases it otherwise. The replica checker then
//! grows the region to three voters on other stores.

use pd::PdClient;
use prost::Message as _;
use proto::metapb;
use proto::raft_serverpb::{PeerState, RegionLocalState, StoreIdent};

use super::peer_storage::{PeerStorage, clear_raft_state};
use crate::engine::{CF_RAFT, EngineRef, WriteBatch};
use crate::{Error, Result, keys};

/// The store id in the engine, or a new one from PD written into it.
pub async fn ensure_store_id(engine: &EngineRef, pd: &PdClient) -> Result<u64> {
    if let Some(v) = engine.get(CF_RAFT, keys::STORE_IDENT_KEY)? {
        return Ok(StoreIdent::decode(v.as_slice())?.store_id);
    }
    let store_id = pd.alloc_id().await?;
    let mut wb = WriteBatch::default();
    wb.put(
        CF_RAFT,
        keys::STORE_IDENT_KEY.to_vec(),
        StoreIdent {
            cluster_id: 0,
            store_id,
        }
        .encode_to_vec(),
    );
    engine.write(&wb, true)?;
    Ok(store_id)
}

/// Bootstraps the cluster with a first region on this store if nobody has.
pub async fn bootstrap_cluster(
    engine: &EngineRef,
    pd: &PdClient,
    store: &metapb::Store,
) -> Result<()> {
    let prepared = match engine.get(CF_RAFT, keys::PREPARE_BOOTSTRAP_KEY)? {
        Some(v) => Some(
            RegionLocalState::decode(v.as_slice())?
                .region
                .unwrap_or_default(),
        ),
        None => None,
    };
    if pd.is_bootstrapped().await? {
        if let Some(region) = prepared {
            finish_or_erase(engine, pd, &region).await?;
        }
        return Ok(());
    }
    let region = match prepared {
        Some(r) => r,
        None => {
            let region_id = pd.alloc_id().await?;
            let peer_id = pd.alloc_id().await?;
            let region = metapb::Region {
                id: region_id,
                start_key: vec![],
                end_key: vec![],
                region_epoch: Some(metapb::RegionEpoch {
                    conf_ver: 1,
                    version: 1,
                }),
                peers: vec![metapb::Peer {
                    id: peer_id,
                    store_id: store.id,
                    role: 0,
                }],
            };
            let mut wb = WriteBatch::default();
            let marker = RegionLocalState {
                state: PeerState::Normal as i32,
                region: Some(region.clone()),
            };
            wb.put(
                CF_RAFT,
                keys::PREPARE_BOOTSTRAP_KEY.to_vec(),
                marker.encode_to_vec(),
            );
            PeerStorage::write_initial_state(&mut wb, &region);
            engine.write(&wb, true)?;
            region
        }
    };
    match pd.bootstrap(store.clone(), region.clone()).await {
        Ok(()) => {
            tracing::info!(
                store_id = store.id,
                region_id = region.id,
                "bootstrapped the cluster"
            );
            let mut wb = WriteBatch::default();
            wb.delete(CF_RAFT, keys::PREPARE_BOOTSTRAP_KEY.to_vec());
            engine.write(&wb, true)?;
            Ok(())
        }
        Err(pd::Error::AlreadyBootstrapped) => finish_or_erase(engine, pd, &region).await,
        Err(e) => Err(Error::Pd(e)),
    }
}

async fn finish_or_erase(engine: &EngineRef, pd: &PdClient, region: &metapb::Region) -> Result<()> {
    let ours = match pd.get_region_by_id(region.id).await {
        Ok(r) => r.region.is_some_and(|r| r.id == region.id),
        Err(pd::Error::RegionNotFound(_)) => false,
        Err(e) => return Err(Error::Pd(e)),
    };
    let mut wb = WriteBatch::default();
    if !ours {
        tracing::info!(
            region_id = region.id,
            "another store bootstrapped the cluster; erasing prepared region"
        );
        clear_raft_state(&mut wb, region);
    }
    wb.delete(CF_RAFT, keys::PREPARE_BOOTSTRAP_KEY.to_vec());
    engine.write(&wb, true)?;
    Ok(())
}
