//! Configuration of a store's raftstore. Defaults follow TiKV's where they
//! apply; tests shrink the intervals and sizes.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    /// One raft tick.
    pub raft_base_tick_interval: Duration,
    /// Ticks without a leader before a follower campaigns.
    pub raft_election_timeout_ticks: usize,
    /// A follower's election timeout is drawn from [election timeout, this)
    /// ticks; 0 means twice the election timeout (raft-rs' default). The
    /// store-loop harness pins it to make elections deterministic.
    pub raft_max_election_timeout_ticks: usize,
    pub raft_heartbeat_ticks: usize,
    /// Entries per append message.
    pub raft_max_size_per_msg: u64,
    pub raft_max_inflight_msgs: usize,
    /// Compact the log once this many entries are applied past the last
    /// compaction and every follower has them.
    pub raft_log_gc_threshold: u64,
    /// Compact even if a follower lags (it will need a snapshot) once the log
    /// is this long.
    pub raft_log_gc_count_limit: u64,
    pub raft_log_gc_tick_interval: Duration,
    /// A region larger than this is split.
    pub region_split_size: u64,
    pub split_region_check_tick_interval: Duration,
    pub pd_heartbeat_tick_interval: Duration,
    pub pd_store_heartbeat_tick_interval: Duration,
    /// A peer not heard from for this long is reported as down to PD.
    pub max_peer_down_duration: Duration,
    /// How long a client request may wait for its proposal or read.
    pub request_timeout: Duration,
    /// Bytes of one snapshot chunk on the wire.
    pub snap_chunk_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            raft_base_tick_interval: Duration::from_millis(100),
            raft_election_timeout_ticks: 10,
            raft_max_election_timeout_ticks: 0,
            raft_heartbeat_ticks: 2,
            raft_max_size_per_msg: 1024 * 1024,
            raft_max_inflight_msgs: 256,
            raft_log_gc_threshold: 50,
            raft_log_gc_count_limit: 20_000,
            raft_log_gc_tick_interval: Duration::from_secs(3),
            region_split_size: 96 * 1024 * 1024,
            split_region_check_tick_interval: Duration::from_secs(10),
            pd_heartbeat_tick_interval: Duration::from_secs(2),
            pd_store_heartbeat_tick_interval: Duration::from_secs(10),
            max_peer_down_duration: Duration::from_secs(300),
            request_timeout: Duration::from_secs(10),
            snap_chunk_size: 1024 * 1024,
        }
    }
}

impl Config {
    /// The leader lease: shorter than the election timeout (by two ticks, for
    /// tick granularity) so that no other peer can have been elected while
    /// a lease taken at a quorum-confirmed instant is still valid.
    pub fn leader_lease(&self) -> Duration {
        let ticks = self.raft_election_timeout_ticks.saturating_sub(2).max(1) as u32;
        self.raft_base_tick_interval * ticks
    }

    /// The election timeout: a follower that heard from no leader for this
    /// long campaigns.
    pub fn election_timeout(&self) -> Duration {
        self.raft_base_tick_interval * self.raft_election_timeout_ticks as u32
    }

    /// Small intervals and sizes for tests: elections in well under a
    /// second, frequent heartbeats and checks.
    pub fn for_tests() -> Self {
        Config {
            raft_base_tick_interval: Duration::from_millis(20),
            raft_election_timeout_ticks: 10,
            raft_heartbeat_ticks: 2,
            raft_log_gc_threshold: 20,
            raft_log_gc_count_limit: 200,
            raft_log_gc_tick_interval: Duration::from_millis(100),
            split_region_check_tick_interval: Duration::from_millis(100),
            pd_heartbeat_tick_interval: Duration::from_millis(100),
            pd_store_heartbeat_tick_interval: Duration::from_millis(100),
            max_peer_down_duration: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            snap_chunk_size: 16 * 1024,
            ..Config::default()
        }
    }
}
