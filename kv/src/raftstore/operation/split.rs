//! # Region split
//!
//! ```text
//!  split-check tick (leader, region grew)         split check worker
//!  ───────────────────────────────────────> scan region in a snapshot:
//!                                           size, keys, middle key
//!  <─────── SplitCheckResult ───────────────
//!  size > region_split_size ──> PD AskSplit (new region id, one peer id
//!                               per existing peer)
//!  <─────── ProposeSplit ─────
//!  propose admin Split through Raft
//!  ...every peer applies it at the same log index:
//!     left  = [start, split_key)  version + 1   (keeps the region id)
//!     right = [split_key, end)    version + 1   (new id, new peer ids, same stores)
//!  the store creates the right peer; the old leader's store campaigns
//!  for it at once; both are reported to PD.
//! ```
//!
//! A command proposed before the split but applied after it carries the old
//! epoch and is refused with `EpochNotMatch`, so a write can never land in
//! a region that no longer owns its key.

use proto::metapb;
use proto::raft_cmdpb::{AdminRequest, RaftCmdRequest, SplitRequest};

use super::super::apply::{ApplyContext, ApplyResult};
use super::super::peer::Peer;
use super::super::peer_storage::{PeerStorage, write_region_state};
use crate::engine::{DATA_CFS, Peekable};
use crate::{Error, Result, keys};
use proto::raft_serverpb::PeerState;

/// What a split check measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitCheck {
    pub size: u64,
    pub keys: u64,
    /// The first key past half of the region's size, if the region exceeds
    /// `split_size`.
    pub split_key: Option<Vec<u8>>,
}

/// Measures a region and finds its middle key. Pure over a snapshot.
pub fn check_region(
    reader: &dyn Peekable,
    region: &metapb::Region,
    split_size: u64,
) -> Result<SplitCheck> {
    let start = keys::data_key(&region.start_key);
    let end = keys::data_end_key(&region.end_key);
    // Sizes per user key, merged over the data CFs in key order.
    let mut sizes: std::collections::BTreeMap<Vec<u8>, u64> = std::collections::BTreeMap::new();
    let mut total = 0u64;
    let mut count = 0u64;
    for cf in DATA_CFS {
        reader.scan(cf, &start, &end, &mut |k, v| {
            let n = (k.len() + v.len()) as u64;
            total += n;
            if cf == crate::engine::CF_DEFAULT || cf == crate::engine::CF_WRITE {
                count += 1;
            }
            *sizes.entry(user_key_of(cf, k).to_vec()).or_default() += n;
            true
        })?;
    }
    let mut split_key = None;
    if total > split_size {
        let half = total / 2;
        let mut acc = 0;
        for (k, n) in &sizes {
            acc += n;
            if acc >= half {
                let key = keys::origin_key(k).to_vec();
                // The split key must leave both sides non-empty.
                if key.as_slice() > region.start_key.as_slice() {
                    split_key = Some(key);
                }
                break;
            }
        }
    }
    Ok(SplitCheck {
        size: total,
        keys: count,
        split_key,
    })
}

/// The part of a data key a split may fall before. Transactional records in
/// the `write` and `default` CFs end in an 8-byte timestamp (DESIGN.md §2):
/// all versions of a user key must stay in one region, so those keys count
/// under the key without it. Raw KV keys in `default` carry no timestamp;
/// cutting their last 8 bytes still yields a valid split point (a prefix
/// sorts before the key), just a less central one.
fn user_key_of<'a>(cf: &str, data_key: &'a [u8]) -> &'a [u8] {
    const TS_LEN: usize = 8;
    if (cf == crate::engine::CF_WRITE || cf == crate::engine::CF_DEFAULT)
        && data_key.len() > 1 + TS_LEN
    {
        &data_key[..data_key.len() - TS_LEN]
    } else {
        data_key
    }
}

/// Builds the two halves of a split. Pure.
pub fn split_region(
    region: &metapb::Region,
    split_key: &[u8],
    new_region_id: u64,
    new_peer_ids: &[u64],
) -> Result<(metapb::Region, metapb::Region)> {
    if split_key <= region.start_key.as_slice()
        || (!region.end_key.is_empty() && split_key >= region.end_key.as_slice())
    {
        return Err(Error::KeyNotInRegion {
            key: split_key.to_vec(),
            region_id: region.id,
            start_key: region.start_key.clone(),
            end_key: region.end_key.clone(),
        });
    }
    if new_peer_ids.len() != region.peers.len() {
        return Err(Error::InvalidArgument(format!(
            "split of region {} needs {} new peer ids, got {}",
            region.id,
            region.peers.len(),
            new_peer_ids.len()
        )));
    }
    let epoch = region.region_epoch.unwrap_or_default();
    let new_epoch = metapb::RegionEpoch {
        conf_ver: epoch.conf_ver,
        version: epoch.version + 1,
    };
    let mut left = region.clone();
    left.end_key = split_key.to_vec();
    left.region_epoch = Some(new_epoch);
    let right = metapb::Region {
        id: new_region_id,
        start_key: split_key.to_vec(),
        end_key: region.end_key.clone(),
        region_epoch: Some(new_epoch),
        peers: region
            .peers
            .iter()
            .zip(new_peer_ids)
            .map(|(p, id)| metapb::Peer {
                id: *id,
                store_id: p.store_id,
                role: p.role,
            })
            .collect(),
    };
    Ok((left, right))
}

impl Peer {
    pub fn propose_split(
        &mut self,
        epoch: metapb::RegionEpoch,
        split_key: Vec<u8>,
        new_region_id: u64,
        new_peer_ids: Vec<u64>,
        now: std::time::Instant,
    ) -> Result<()> {
        if epoch.version != self.epoch().version || epoch.conf_ver != self.epoch().conf_ver {
            return Err(Error::EpochNotMatch(vec![self.region().clone()]));
        }
        // Validate before it goes into the log.
        split_region(self.region(), &split_key, new_region_id, &new_peer_ids)?;
        let cmd = RaftCmdRequest {
            header: None,
            requests: vec![],
            admin_request: Some(AdminRequest {
                split: Some(SplitRequest {
                    split_key,
                    new_region_id,
                    new_peer_ids,
                }),
                ..Default::default()
            }),
        };
        self.propose(cmd, Vec::new(), now)
    }

    pub fn apply_split(
        &mut self,
        epoch: metapb::RegionEpoch,
        split: SplitRequest,
        ctx: &mut ApplyContext,
    ) -> Result<()> {
        if epoch.version != self.epoch().version {
            return Err(Error::EpochNotMatch(vec![self.region().clone()]));
        }
        let (left, right) = split_region(
            self.region(),
            &split.split_key,
            split.new_region_id,
            &split.new_peer_ids,
        )?;
        write_region_state(&mut ctx.wb, &left, PeerState::Normal);
        PeerStorage::write_initial_state(&mut ctx.wb, &right);
        tracing::info!(
            region_id = left.id,
            new_region_id = right.id,
            split_key = ?right.start_key,
            "region split"
        );
        self.storage_mut().region = left;
        self.approximate_size /= 2;
        self.approximate_keys /= 2;
        self.size_diff_hint = 0;
        self.keys_diff_hint = 0;
        let was_leader = self.is_leader();
        ctx.results
            .push((self.region_id(), ApplyResult::Split { right, was_leader }));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{CF_DEFAULT, Engine, MemoryEngine, WriteBatch};

    fn region(start: &[u8], end: &[u8]) -> metapb::Region {
        metapb::Region {
            id: 1,
            start_key: start.to_vec(),
            end_key: end.to_vec(),
            region_epoch: Some(metapb::RegionEpoch {
                conf_ver: 3,
                version: 4,
            }),
            peers: vec![
                metapb::Peer {
                    id: 10,
                    store_id: 1,
                    role: 0,
                },
                metapb::Peer {
                    id: 11,
                    store_id: 2,
                    role: 1,
                },
            ],
        }
    }

    #[test]
    fn split_builds_adjacent_halves_with_bumped_versions() {
        let (l, r) = split_region(&region(b"a", b"z"), b"m", 7, &[70, 71]).unwrap();
        assert_eq!(
            (l.start_key.as_slice(), l.end_key.as_slice()),
            (&b"a"[..], &b"m"[..])
        );
        assert_eq!(
            (r.start_key.as_slice(), r.end_key.as_slice()),
            (&b"m"[..], &b"z"[..])
        );
        assert_eq!(l.region_epoch.unwrap().version, 5);
        assert_eq!(
            r.region_epoch.unwrap(),
            metapb::RegionEpoch {
                conf_ver: 3,
                version: 5
            }
        );
        assert_eq!(
            r.peers[1],
            metapb::Peer {
                id: 71,
                store_id: 2,
                role: 1
            }
        );
        assert!(split_region(&region(b"a", b"z"), b"a", 7, &[70, 71]).is_err());
        assert!(split_region(&region(b"a", b"z"), b"z", 7, &[70, 71]).is_err());
        assert!(split_region(&region(b"a", b""), b"zz", 7, &[70]).is_err());
        assert!(split_region(&region(b"a", b""), b"zz", 7, &[70, 71]).is_ok());
    }

    #[test]
    fn check_finds_the_middle_key_only_when_too_big() {
        let engine = MemoryEngine::new();
        let mut wb = WriteBatch::default();
        for i in 0..100u32 {
            wb.put(
                CF_DEFAULT,
                keys::data_key(format!("k{i:03}").as_bytes()),
                vec![0; 96],
            );
        }
        // Outside the region: not counted.
        wb.put(CF_DEFAULT, keys::data_key(b"zzz"), vec![0; 10_000]);
        engine.write(&wb, false).unwrap();
        let snap = engine.snapshot();
        let r = region(b"", b"z");
        let small = check_region(snap.as_ref(), &r, 1 << 20).unwrap();
        assert_eq!(small.keys, 100);
        assert_eq!(small.size, 100 * (5 + 96));
        assert_eq!(small.split_key, None);
        let big = check_region(snap.as_ref(), &r, 1000).unwrap();
        assert_eq!(big.split_key, Some(b"k049".to_vec()));
    }
}
