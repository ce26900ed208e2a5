//! # Region heartbeats
//!
//! A leader reports its region to PD on every heartbeat tick and right
//! after a change (split, membership): epoch, peers, leader, pending and
//! down peers, approximate size and keys, and the flow since the last
//! report. PD keeps the newest epoch it has seen and may answer with an
//! operator step ([`super::conf_change`]).

use std::time::Instant;

use proto::pdpb::{PeerStats, RegionHeartbeatRequest};

use super::super::config::Config;
use super::super::peer::Peer;

impl Peer {
    pub fn region_heartbeat(&mut self, cfg: &Config, now: Instant) -> RegionHeartbeatRequest {
        let down_peers = self
            .down_peers(now, cfg.max_peer_down_duration)
            .into_iter()
            .map(|(peer, secs)| PeerStats {
                peer: Some(peer),
                down_seconds: secs,
            })
            .collect();
        let req = RegionHeartbeatRequest {
            region: Some(self.region().clone()),
            leader: Some(self.peer),
            down_peers,
            pending_peers: self.pending_peers(),
            bytes_written: self.written_bytes,
            bytes_read: self.read_bytes,
            keys_written: self.written_keys,
            keys_read: self.read_keys,
            // The last split check's measure plus what was written since.
            approximate_size: self.approximate_size + self.size_diff_hint,
            approximate_keys: self.approximate_keys + self.keys_diff_hint,
            term: self.term(),
        };
        self.reported_pending = !req.pending_peers.is_empty();
        self.written_bytes = 0;
        self.written_keys = 0;
        self.read_bytes = 0;
        self.read_keys = 0;
        req
    }
}
