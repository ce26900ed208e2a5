//! # Raft log GC
//!
//! On its GC tick a leader proposes `CompactLog` once at least
//! `raft_log_gc_threshold` entries were applied since the last compaction.
//! It compacts up to the slowest peer's match, so followers that keep up
//! never need a snapshot; but once the log exceeds `raft_log_gc_count_limit`
//! it compacts to the applied index regardless, and a peer left behind
//! catches up by snapshot. Every peer applies the command at the same log
//! position and deletes its own entries up to the compact index.

use proto::raft_cmdpb::{AdminRequest, CompactLogRequest, RaftCmdRequest};

use super::super::apply::ApplyContext;
use super::super::config::Config;
use super::super::peer::Peer;

/// Where to compact, or `None`: pure, over the leader's view.
pub fn compact_index(applied: u64, truncated: u64, min_matched: u64, cfg: &Config) -> Option<u64> {
    if applied <= truncated || applied - truncated < cfg.raft_log_gc_threshold {
        return None;
    }
    let idx = if applied - truncated >= cfg.raft_log_gc_count_limit {
        applied
    } else {
        min_matched.min(applied)
    };
    (idx > truncated).then_some(idx)
}

impl Peer {
    pub fn on_raft_gc_tick(&mut self, cfg: &Config, now: std::time::Instant) {
        if !self.is_leader() || self.raft.raft.has_pending_conf() {
            return;
        }
        let storage = self.storage();
        let self_id = self.peer_id();
        let min_matched = self
            .raft
            .raft
            .prs()
            .iter()
            .filter(|(id, _)| **id != self_id)
            .map(|(_, pr)| pr.matched)
            .min()
            .unwrap_or(storage.applied_index);
        let Some(idx) = compact_index(
            storage.applied_index,
            storage.truncated_index,
            min_matched,
            cfg,
        ) else {
            return;
        };
        if idx <= self.last_compacted_idx {
            return;
        }
        let Some(term) = storage.entry_term(idx) else {
            return;
        };
        let cmd = RaftCmdRequest {
            header: None,
            requests: vec![],
            admin_request: Some(AdminRequest {
                compact_log: Some(CompactLogRequest {
                    compact_index: idx,
                    compact_term: term,
                }),
                ..Default::default()
            }),
        };
        if self.propose(cmd, Vec::new(), now).is_ok() {
            self.last_compacted_idx = idx;
        }
    }

    pub fn apply_compact_log(&mut self, index: u64, term: u64, ctx: &mut ApplyContext) {
        let storage = self.storage_mut();
        if index > storage.applied_index {
            // Never compact past what this peer has applied.
            return;
        }
        storage.compact_to(index, term, &mut ctx.wb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_waits_for_followers_until_the_count_limit() {
        let cfg = Config {
            raft_log_gc_threshold: 10,
            raft_log_gc_count_limit: 100,
            ..Config::default()
        };
        // Too few entries.
        assert_eq!(compact_index(15, 10, 15, &cfg), None);
        // Followers keep up: compact to the slowest match.
        assert_eq!(compact_index(40, 10, 30, &cfg), Some(30));
        // A follower is behind the truncated index: nothing to gain.
        assert_eq!(compact_index(40, 10, 5, &cfg), None);
        // The log is too long: compact anyway.
        assert_eq!(compact_index(120, 10, 5, &cfg), Some(120));
    }
}
