//! Region operations, one file each, as TiKV's raftstore-v2 lays them out:
//!
//! | file | operation |
//! |---|---|
//! | [`read`] | lease reads and ReadIndex |
//! | [`split`] | split check, split proposal, split apply |
//! | [`conf_change`] | membership changes and leader transfer, from PD operators |
//! | [`compact`] | raft log garbage collection |
//! | [`heartbeat`] | region heartbeats to PD |

pub mod compact;
pub mod conf_change;
pub mod heartbeat;
pub mod read;
pub mod split;
