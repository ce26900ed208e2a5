//! The snapshot generator: a thread that builds the snapshots raft-rs asks
//! for from the engine snapshots the store loop hands it (see
//! [`crate::raftstore::snap`]), so a large region never stalls the loop.

use crossbeam::channel::Receiver;

use crate::raftstore::StoreRouter;
use crate::raftstore::snap::{GenTask, SnapshotSources, run_task};

pub fn run_snap_generator(rx: Receiver<GenTask>, router: StoreRouter, sources: SnapshotSources) {
    for task in rx {
        if router.send(run_task(task, &sources)).is_err() {
            return;
        }
    }
}
