//! # Reads: leader lease, then ReadIndex
//!
//! A read must see every write acknowledged before it arrived. The leader
//! serves it from an engine snapshot once two things hold: it is still the
//! leader, and it has applied everything committed when the read arrived.
//!
//! * **Lease** — if a quorum confirmed this leader at time `t` (a ReadIndex
//!   round trip or the commit of an entry proposed in this term at `t`), no
//!   other leader can exist before `t + election timeout`: with
//!   `check_quorum`, followers refuse votes while they hear from a leader.
//!   The lease ([`super::super::Config::leader_lease`]) stays two ticks
//!   shorter. Under a valid lease, and once the leader applied an entry of
//!   its own term, a read is served at once.
//! * **ReadIndex** — otherwise the reads that arrived in one loop iteration
//!   share one `read_index` request; when it returns (a quorum answered a
//!   heartbeat) the leader waits until it applied that index, then serves
//!   them all from one snapshot, and renews its lease.
//!
//! A leader that steps down fails its waiting reads with `NotLeader`.
//!
//! A ReadIndex request carries the asking peer's id with its counter
//! (`read_context`): raft-rs on the leader keys pending requests by that
//! context and silently drops a duplicate.
//!
//! * **Replica reads** (`RequestContext::replica_read`, what a columnar
//!   store's learners serve): any peer, leader or not, asks the leader for
//!   a read index (raft-rs forwards `MsgReadIndex` and the answer comes back
//!   as a `ReadState`), waits until it applied that index and serves from
//!   its own engine. A peer that knows no leader refuses with `NotLeader`;
//!   a request the leader drops (it has not committed in its term yet)
//!   times out like any unconfirmed read index.

use std::time::Instant;

use super::super::config::Config;
use super::super::msg::{ReadCallback, ReadResponse, RequestContext};
use super::super::peer::{Peer, ReadIndexRequest};
use crate::Error;
use crate::engine::EngineRef;

/// The context of a ReadIndex request: the asking peer's id and its own
/// counter. The leader keeps pending requests by context and drops one
/// whose context is already pending, so a learner's forwarded request must
/// never share one with the leader's own (their counters alone collide).
fn read_context(peer_id: u64, id: u64) -> Vec<u8> {
    let mut ctx = Vec::with_capacity(16);
    ctx.extend_from_slice(&peer_id.to_be_bytes());
    ctx.extend_from_slice(&id.to_be_bytes());
    ctx
}

/// The counter of a ReadIndex answer this peer asked for.
fn read_id(peer_id: u64, ctx: &[u8]) -> Option<u64> {
    let (peer, id) = ctx.split_at_checked(8)?;
    if u64::from_be_bytes(peer.try_into().ok()?) != peer_id {
        return None;
    }
    Some(u64::from_be_bytes(id.try_into().ok()?))
}

impl Peer {
    pub fn on_read(
        &mut self,
        ctx: &RequestContext,
        cb: ReadCallback,
        engine: &EngineRef,
        now: Instant,
    ) {
        if ctx.replica_read && !self.is_leader() {
            match self.check_replica_request(ctx) {
                Ok(()) => self.queued_reads.push((self.epoch().version, cb)),
                Err(e) => {
                    let _ = cb.send(Err(e));
                }
            }
            return;
        }
        if let Err(e) = self.check_request(ctx) {
            let _ = cb.send(Err(e));
            return;
        }
        if self.lease_valid(now) {
            let _ = cb.send(Ok(ReadResponse {
                snapshot: engine.snapshot(),
                region: self.region().clone(),
                term: self.term(),
            }));
            return;
        }
        self.queued_reads.push((self.epoch().version, cb));
    }

    /// Sends one ReadIndex for the reads queued this iteration. A new leader
    /// must first commit an entry of its term (raft-rs drops the request
    /// otherwise), so reads stay queued until then.
    pub fn flush_reads(&mut self, now: Instant) {
        if self.queued_reads.is_empty() {
            return;
        }
        if !self.is_leader() {
            // Replica reads: the leader answers the read index.
            if self.raft.raft.leader_id == raft::INVALID_ID {
                let err = self.not_leader();
                for (_, cb) in self.queued_reads.drain(..) {
                    let _ = cb.send(Err(super::super::peer::clone_err(&err)));
                }
                return;
            }
        } else if !self.raft.raft.commit_to_current_term() {
            return;
        }
        let id = self.next_read_id;
        self.next_read_id += 1;
        self.raft.read_index(read_context(self.peer_id(), id));
        self.inflight_reads.push_back(ReadIndexRequest {
            id,
            cbs: std::mem::take(&mut self.queued_reads),
            sent_at: now,
            read_index: None,
        });
    }

    pub fn on_read_states(&mut self, states: Vec<raft::ReadState>, cfg: &Config) {
        for rs in states {
            let Some(id) = read_id(self.peer_id(), &rs.request_ctx) else {
                continue;
            };
            let Some(req) = self.inflight_reads.iter_mut().find(|r| r.id == id) else {
                continue;
            };
            req.read_index = Some(rs.index);
            let sent_at = req.sent_at;
            self.renew_lease(sent_at, cfg);
        }
    }

    /// Serves the reads whose read index is applied. Called after the
    /// iteration's apply batch is written, so the snapshot includes it.
    pub fn serve_ready_reads(&mut self, engine: &EngineRef) {
        let applied = self.storage().applied_index;
        while let Some(front) = self.inflight_reads.front() {
            match front.read_index {
                Some(idx) if idx <= applied => {}
                _ => break,
            }
            let req = self.inflight_reads.pop_front().expect("front exists");
            let snapshot = engine.snapshot();
            let version = self.epoch().version;
            for (checked_at, cb) in req.cbs {
                let answer = if checked_at == version {
                    Ok(ReadResponse {
                        snapshot: snapshot.clone(),
                        region: self.region().clone(),
                        term: self.term(),
                    })
                } else {
                    Err(Error::EpochNotMatch(vec![self.region().clone()]))
                };
                let _ = cb.send(answer);
            }
        }
    }

    /// Fails reads that waited longer than the request timeout (a leader
    /// cut off from its quorum hears nothing back).
    pub fn expire_reads(&mut self, now: Instant, cfg: &Config) {
        while let Some(front) = self.inflight_reads.front() {
            if now.saturating_duration_since(front.sent_at) < cfg.request_timeout {
                break;
            }
            let req = self.inflight_reads.pop_front().expect("front exists");
            for (_, cb) in req.cbs {
                let _ = cb.send(Err(Error::Timeout(
                    "read index not confirmed by a quorum".into(),
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_contexts_of_two_peers_never_collide() {
        assert_ne!(read_context(1, 5), read_context(2, 5));
        assert_eq!(read_id(1, &read_context(1, 5)), Some(5));
        assert_eq!(read_id(2, &read_context(1, 5)), None);
        assert_eq!(read_id(1, &5u64.to_be_bytes()), None);
    }
}
