//! # Where a table's rows live in the cluster
//!
//! A table's keys are the range `[t{id}, t{id+1})` (encoded as region
//! boundaries are). Its columnar replicas are PD's placement rule
//! `table-{id}` over that range ([`rule`]); PD's region map tells which
//! regions hold it ([`table_regions`]) and whether each has caught-up
//! learners on columnar stores ([`caught_up`]). DDL sets the rule
//! ([`crate::ddl::columnar`]); statistics and `information_schema` read
//! the regions.

use proto::metapb::PeerRole;
use proto::pdpb::{ColumnarRule, GetRegionResponse};

/// PD's rule id for a table's columnar replicas.
pub fn rule_id(table_id: i64) -> String {
    format!("table-{table_id}")
}

/// The rule asking for `count` columnar replicas of the table's keys
/// (encoded, as region boundaries are).
pub fn rule(table_id: i64, count: u64) -> ColumnarRule {
    let encode = |k: Vec<u8>| txn::types::Key::from_raw(&k).into_encoded();
    ColumnarRule {
        id: rule_id(table_id),
        start_key: encode(codec::table::table_prefix(table_id)),
        end_key: encode(codec::table::table_prefix(table_id + 1)),
        count,
    }
}

/// The regions of a table (as PD knows them, with their heartbeat stats).
pub async fn table_regions(
    pd: &pd::client::PdClient,
    table_id: i64,
) -> crate::Result<Vec<GetRegionResponse>> {
    let rule = rule(table_id, 1);
    Ok(pd
        .scan_regions(&rule.start_key, &rule.end_key, 0)
        .await?
        .into_iter()
        .filter(|r| {
            r.region
                .as_ref()
                .is_some_and(|g| g.end_key.is_empty() || g.end_key > rule.start_key)
        })
        .collect())
}

/// Whether a region has `count` learners on `columnar_stores` that are
/// neither catching up (PD's pending peers) nor down.
pub fn caught_up(r: &GetRegionResponse, columnar_stores: &[u64], count: u64) -> bool {
    let Some(region) = &r.region else {
        return false;
    };
    let down = |id: u64| {
        r.down_peers
            .iter()
            .any(|d| d.peer.as_ref().is_some_and(|q| q.id == id))
    };
    let learners = region
        .peers
        .iter()
        .filter(|p| {
            p.role == PeerRole::Learner as i32
                && columnar_stores.contains(&p.store_id)
                && !r.pending_peers.iter().any(|q| q.id == p.id)
                && !down(p.id)
        })
        .count() as u64;
    learners >= count
}
