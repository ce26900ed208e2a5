//! # The client side: routing and raw KV
//!
//! Every later layer reaches the kv stores through these pieces:
//!
//! * [`RegionCache`] — which region holds a key, who leads it, where its
//!   store listens; filled from PD on a miss, corrected from the region
//!   errors stores answer with;
//! * [`Backoff`] — exponential, bounded retry delays;
//! * [`RawClient`] — get/put/delete/scan and batches over raw KV, retrying
//!   on `NotLeader` (follow the hint), `EpochNotMatch` (take the store's
//!   current regions), `RegionNotFound`/`StoreNotMatch`/`KeyNotInRegion`
//!   (ask PD again) and transport errors (try another peer).

mod backoff;
mod raw;
mod region_cache;

pub use backoff::Backoff;
pub use raw::{RawClient, routing_retryable};
pub use region_cache::{RegionCache, RegionLocation};
