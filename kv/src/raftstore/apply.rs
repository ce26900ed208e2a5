//! # Apply: committed entries become engine writes
//!
//! The store loop applies every committed entry of every peer into one
//! *apply batch* per loop iteration. The batch carries the user data and
//! each peer's `RaftApplyState`, so the engine holds exactly the effects of
//! entries `..=applied_index`, and a restart re-applies nothing.
//!
//! ```text
//!  committed entries ──> apply_entries ──> ApplyContext { wb, callbacks, results }
//!                                              │ engine.write(wb)
//!                                              ├─> callbacks fire (writes acknowledged)
//!                                              └─> results: new split peers, destroy self
//! ```
//!
//! Every command carries the epoch its proposer saw; a data command whose
//! `version` is stale (the region split since) is refused with
//! `EpochNotMatch` rather than writing keys the region no longer owns. Admin
//! commands are in [`super::operation`]: split, conf change, log compaction.

use prost::Message as _;
use proto::metapb;
use proto::raft_cmdpb::{CmdType, RaftCmdRequest};
use raft::eraftpb::{Entry, EntryType};

use super::config::Config;
use super::msg::WriteCallback;
use super::peer::{Peer, clone_err};
use crate::engine::{WriteBatch, static_cf};
use crate::{Error, Result, keys};

/// What applying a batch of entries asks the store to do afterwards.
pub enum ApplyResult {
    /// The region split; `right` is the new region, to be created here.
    Split {
        right: metapb::Region,
        was_leader: bool,
    },
    /// Membership changed; `removed_self` means this peer must go.
    ConfChanged { removed_self: bool },
}

#[derive(Default)]
pub struct ApplyContext {
    pub wb: WriteBatch,
    /// Sees every applied data command (the columnar store's hook).
    pub observer: Option<std::sync::Arc<dyn super::ApplyObserver>>,
    pub callbacks: Vec<(WriteCallback, Result<()>)>,
    /// Per region: side effects to run once `wb` is written.
    pub results: Vec<(u64, ApplyResult)>,
}

impl Peer {
    /// Applies committed entries into `ctx`, in log order.
    pub fn apply_entries(&mut self, entries: Vec<Entry>, ctx: &mut ApplyContext, cfg: &Config) {
        if entries.is_empty() {
            return;
        }
        for entry in entries {
            if entry.index <= self.storage().applied_index {
                continue;
            }
            let result = match entry.get_entry_type() {
                EntryType::EntryNormal => self.apply_normal(&entry, ctx),
                EntryType::EntryConfChange | EntryType::EntryConfChangeV2 => {
                    self.apply_conf_change(&entry, ctx)
                }
            };
            let storage = self.storage_mut();
            storage.applied_index = entry.index;
            storage.applied_term = entry.term;
            self.answer_proposals(entry.index, entry.term, result, ctx, cfg);
            if self.pending_remove {
                break;
            }
        }
        self.storage().write_apply_state(&mut ctx.wb);
    }

    /// Matches the applied entry with waiting proposals.
    fn answer_proposals(
        &mut self,
        index: u64,
        term: u64,
        result: Result<()>,
        ctx: &mut ApplyContext,
        cfg: &Config,
    ) {
        let mut result = Some(result);
        while let Some(p) = self.proposals.front() {
            if p.index > index {
                break;
            }
            let p = self.proposals.pop_front().expect("front exists");
            if p.index == index && p.term == term {
                if term == self.term() {
                    // A quorum had this entry: the lease holds from when it was proposed.
                    self.renew_lease(p.proposed_at, cfg);
                }
                let result = result.take().unwrap_or(Ok(()));
                for cb in p.cbs {
                    let r = match &result {
                        Ok(()) => Ok(()),
                        Err(e) => Err(clone_err(e)),
                    };
                    ctx.callbacks.push((cb, r));
                }
            } else {
                for cb in p.cbs {
                    ctx.callbacks.push((cb, Err(Error::StaleCommand)));
                }
            }
        }
    }

    fn apply_normal(&mut self, entry: &Entry, ctx: &mut ApplyContext) -> Result<()> {
        if entry.data.is_empty() {
            // The empty entry a new leader appends.
            return Ok(());
        }
        let cmd = match RaftCmdRequest::decode(&entry.data[..]) {
            Ok(cmd) => cmd,
            Err(e) => {
                tracing::error!(
                    region_id = self.region_id(),
                    index = entry.index,
                    "bad command: {e}"
                );
                return Err(e.into());
            }
        };
        if let Some(admin) = cmd.admin_request {
            if let Some(split) = admin.split {
                let header_epoch = cmd.header.and_then(|h| h.region_epoch).unwrap_or_default();
                return self.apply_split(header_epoch, split, ctx);
            }
            if let Some(compact) = admin.compact_log {
                self.apply_compact_log(compact.compact_index, compact.compact_term, ctx);
            }
            return Ok(());
        }
        let epoch = cmd.header.and_then(|h| h.region_epoch).unwrap_or_default();
        if epoch.version != self.epoch().version {
            return Err(Error::EpochNotMatch(vec![self.region().clone()]));
        }
        // Validate the whole command first: it applies entirely or not at all.
        let mut checked = Vec::with_capacity(cmd.requests.len());
        for req in &cmd.requests {
            let cf = match req.cf.as_str() {
                "" => crate::engine::CF_DEFAULT,
                name => static_cf(name)
                    .filter(|cf| *cf != crate::engine::CF_RAFT)
                    .ok_or_else(|| {
                        Error::InvalidArgument(format!("unknown column family {name:?}"))
                    })?,
            };
            let cmd_type = CmdType::try_from(req.cmd_type).map_err(|_| {
                Error::InvalidArgument(format!("unknown cmd type {}", req.cmd_type))
            })?;
            checked.push((req, cf, cmd_type));
        }
        if let Some(observer) = &ctx.observer {
            observer.on_write(self.region(), &cmd.requests, &mut ctx.wb);
        }
        let mut written = 0u64;
        for (req, cf, cmd_type) in checked {
            match cmd_type {
                CmdType::Put => {
                    written += (req.key.len() + req.value.len()) as u64;
                    ctx.wb.put(cf, keys::data_key(&req.key), req.value.clone());
                }
                CmdType::Delete => {
                    written += req.key.len() as u64;
                    ctx.wb.delete(cf, keys::data_key(&req.key));
                }
                CmdType::DeleteRange => {
                    let end = if req.end_key.is_empty() {
                        keys::data_end_key(&self.region().end_key)
                    } else {
                        keys::data_key(&req.end_key)
                    };
                    ctx.wb.delete_range(cf, keys::data_key(&req.key), end);
                }
            }
        }
        self.written_bytes += written;
        self.written_keys += cmd.requests.len() as u64;
        self.size_diff_hint += written;
        self.keys_diff_hint += cmd.requests.len() as u64;
        Ok(())
    }
}
