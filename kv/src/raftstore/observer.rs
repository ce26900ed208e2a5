//! # Apply observers: a hook for state machines layered on the raftstore
//!
//! A columnar store is a kv store whose regions are learner replicas, plus
//! a second view of the same data (Arrow columns). That view must follow
//! exactly what the store applies, in apply order, across restarts. The
//! raftstore therefore tells an [`ApplyObserver`] about every data command
//! it applies and every range whose data a snapshot replaced or a destroyed
//! peer removed — *while the apply batch is still open*, so what the
//! observer records (in the `raft` column family, under
//! [`crate::keys::apply_log_key`]) is written in the same atomic batch as
//! the data and the apply state:
//!
//! ```text
//!   committed entry ──> apply_normal ──> wb: data writes
//!                                    └─> observer.on_write ──> wb: its own log
//!   snapshot / destroy ──> wb: clear range ──> observer.on_range_reset ──> wb
//!   engine.write(wb)   (data, apply state and the observer's log: one batch)
//! ```
//!
//! A crash therefore never leaves the observer's record behind or ahead of
//! the data: after a restart it reads its log and continues. Observers
//! must be cheap: they run on the store loop thread.

use proto::metapb;
use proto::raft_cmdpb::Request;

use crate::engine::WriteBatch;

/// Sees what the store applies (see the module docs).
pub trait ApplyObserver: Send + Sync {
    /// A data command of `region` applies: `requests` (already validated)
    /// are being added to `wb`. The observer may add writes of its own.
    fn on_write(&self, region: &metapb::Region, requests: &[Request], wb: &mut WriteBatch);

    /// The data of user keys `[start, end)` (empty end: unbounded) was
    /// cleared in `wb`: a snapshot replaces it, or a peer is destroyed.
    fn on_range_reset(&self, start: &[u8], end: &[u8], wb: &mut WriteBatch);
}
