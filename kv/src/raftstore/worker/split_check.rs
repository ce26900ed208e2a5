//! The split checker: a thread that measures regions in engine snapshots
//! (see [`crate::raftstore::operation::split::check_region`]).

use crossbeam::channel::Receiver;
use proto::metapb;

use crate::engine::SnapshotRef;
use crate::raftstore::operation::split::check_region;
use crate::raftstore::{StoreMsg, StoreRouter};

pub struct SplitCheckTask {
    pub region: metapb::Region,
    pub snapshot: SnapshotRef,
    pub split_size: u64,
}

pub fn run_split_checker(rx: Receiver<SplitCheckTask>, router: StoreRouter) {
    for task in rx {
        let region = &task.region;
        match check_region(task.snapshot.as_ref(), region, task.split_size) {
            Ok(check) => {
                let msg = StoreMsg::SplitCheckResult {
                    region_id: region.id,
                    epoch: region.region_epoch.unwrap_or_default(),
                    size: check.size,
                    keys: check.keys,
                    split_key: check.split_key,
                };
                if router.send(msg).is_err() {
                    return;
                }
            }
            Err(e) => tracing::warn!(region_id = region.id, "split check failed: {e}"),
        }
    }
}
