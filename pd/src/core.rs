//! # What PD shares with everyone who talks to it
//!
//! The kv and columnar stores, the txn client and the SQL layer need a few
//! facts about PD's metadata and wire values, but none of PD's server: not
//! its region map, its schedulers or its storage. Those facts live here, in
//! a module that depends on nothing else in PD except [`crate::error`], and
//! PD's own server uses the same definitions (so a rule cannot drift apart
//! between the two sides of the wire):
//!
//! - **stores**: a store labelled `engine=columnar` ([`ENGINE_LABEL`],
//!   [`COLUMNAR_ENGINE`]; TiFlash's `engine=tiflash`) is a columnar store
//!   and only ever holds learners ([`is_columnar`]);
//! - **regions**: a region holds the keys `[start_key, end_key)`, an empty
//!   `end_key` being unbounded ([`region_contains`]);
//! - **timestamps**: the TSO layout `physical_ms << 18 | logical`
//!   ([`compose`], [`physical`], [`logical`]); [`crate::tso`] allocates
//!   them;
//! - **what PD answers** beyond protobuf: the GC safe points
//!   ([`GcSafePoint`], see [`crate::gc`] for the rules) and a detected
//!   deadlock ([`DeadlockInfo`], see [`crate::deadlock`]);
//! - **serving gRPC**: [`nodelay_incoming`], the accepted connections of a
//!   pre-bound listener with `TCP_NODELAY` set, used by every gRPC server in
//!   the cluster (PD, kv, columnar).
//!
//! Everything else a client needs from PD goes through [`crate::PdClient`].

use std::time::Duration;

use proto::{metapb, pdpb};

/// The label key that names a store's engine.
pub const ENGINE_LABEL: &str = "engine";
/// The [`ENGINE_LABEL`] value of a columnar store. Such stores only ever
/// hold learners.
pub const COLUMNAR_ENGINE: &str = "columnar";

/// True for store metadata labelled `engine=columnar`.
pub fn is_columnar(store: &metapb::Store) -> bool {
    store
        .labels
        .iter()
        .any(|l| l.key == ENGINE_LABEL && l.value == COLUMNAR_ENGINE)
}

/// True if `key` lies in `[region.start_key, region.end_key)`; an empty
/// `end_key` is unbounded.
pub fn region_contains(region: &metapb::Region, key: &[u8]) -> bool {
    key >= region.start_key.as_slice()
        && (region.end_key.is_empty() || key < region.end_key.as_slice())
}

/// Bits of a timestamp that hold the logical part.
pub const LOGICAL_BITS: u32 = 18;
/// Logical values are in `0..MAX_LOGICAL`.
pub const MAX_LOGICAL: u64 = 1 << LOGICAL_BITS;

/// Builds a timestamp from its physical (ms) and logical parts.
pub fn compose(physical_ms: u64, logical: u64) -> u64 {
    debug_assert!(logical < MAX_LOGICAL);
    (physical_ms << LOGICAL_BITS) | logical
}

/// The physical part (ms since the Unix epoch) of a timestamp.
pub fn physical(ts: u64) -> u64 {
    ts >> LOGICAL_BITS
}

/// The logical part of a timestamp.
pub fn logical(ts: u64) -> u64 {
    ts & (MAX_LOGICAL - 1)
}

/// A client's registration as [`GcSafePoint`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinStartTs {
    pub client_id: String,
    /// The smallest `start_ts` among the client's running transactions.
    pub min_start_ts: u64,
    /// Time left before the registration expires unless refreshed.
    pub expires_in: Duration,
}

/// The GC state: both safe points, the life time and the registrations that
/// hold the txn safe point back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcSafePoint {
    /// The **txn safe point**: readers at or above this timestamp see every
    /// version they need; reads below it are refused and locks at or below it
    /// are to be resolved. (The name predates the gc safe point.)
    pub safe_point: u64,
    pub gc_life_time: Duration,
    /// Live registrations, by client id.
    pub min_start_ts: Vec<MinStartTs>,
    /// The **gc safe point**: kv stores may delete versions at or below it.
    /// Always `<= safe_point`; 0 until first published.
    pub gc_safe_point: u64,
}

impl From<pdpb::GetGcSafePointResponse> for GcSafePoint {
    fn from(resp: pdpb::GetGcSafePointResponse) -> Self {
        GcSafePoint {
            safe_point: resp.safe_point,
            gc_life_time: Duration::from_millis(resp.gc_life_time_ms),
            min_start_ts: resp
                .min_start_ts
                .into_iter()
                .map(|m| MinStartTs {
                    client_id: m.client_id,
                    min_start_ts: m.min_start_ts,
                    expires_in: Duration::from_millis(m.expires_in_ms),
                })
                .collect(),
            gc_safe_point: resp.gc_safe_point,
        }
    }
}

impl From<GcSafePoint> for pdpb::GetGcSafePointResponse {
    fn from(gc: GcSafePoint) -> Self {
        pdpb::GetGcSafePointResponse {
            header: crate::error::ok_header(),
            safe_point: gc.safe_point,
            gc_life_time_ms: gc.gc_life_time.as_millis() as u64,
            min_start_ts: gc
                .min_start_ts
                .into_iter()
                .map(|m| pdpb::MinStartTs {
                    client_id: m.client_id,
                    min_start_ts: m.min_start_ts,
                    expires_in_ms: m.expires_in.as_millis() as u64,
                })
                .collect(),
            gc_safe_point: gc.gc_safe_point,
        }
    }
}

/// A transaction, named by its `start_ts`.
pub type TxnTs = u64;

/// One edge of the wait-for graph: `txn` waits for `wait_for_txn` on the key
/// whose hash is `key_hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WaitForEntry {
    pub txn: TxnTs,
    pub wait_for_txn: TxnTs,
    pub key_hash: u64,
}

/// A detected deadlock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlockInfo {
    /// The key hash on the cycle's edge back into the transaction that
    /// asked: the key on which someone in the cycle waits for it (TiKV's
    /// `deadlock_key_hash`).
    pub deadlock_key_hash: u64,
    /// The cycle, edge by edge: it starts at the transaction that was asked
    /// to be waited for, each entry's `wait_for_txn` is the next entry's
    /// `txn`, and the last entry is the requested (unrecorded) edge.
    pub wait_chain: Vec<WaitForEntry>,
}

/// The connections a pre-bound listener accepts, with `TCP_NODELAY` set.
/// tonic's `Server::tcp_nodelay` only applies to listeners it binds itself;
/// without it, small responses wait for the peer's delayed ACK (~40 ms).
pub fn nodelay_incoming(
    listener: tokio::net::TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt as _;
    tokio_stream::wrappers::TcpListenerStream::new(listener).map(|conn| {
        if let Ok(stream) = &conn {
            let _ = stream.set_nodelay(true);
        }
        conn
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columnar_label() {
        let mut meta = metapb::Store::default();
        assert!(!is_columnar(&meta));
        meta.labels.push(metapb::StoreLabel {
            key: "engine".into(),
            value: "columnar".into(),
        });
        assert!(is_columnar(&meta));
    }

    #[test]
    fn region_bounds() {
        let region = metapb::Region {
            start_key: b"b".to_vec(),
            end_key: b"d".to_vec(),
            ..Default::default()
        };
        assert!(!region_contains(&region, b"a"));
        assert!(region_contains(&region, b"b"));
        assert!(region_contains(&region, b"c\xff"));
        assert!(!region_contains(&region, b"d"));
        let unbounded = metapb::Region {
            start_key: b"b".to_vec(),
            ..Default::default()
        };
        assert!(region_contains(&unbounded, b"\xff\xff"));
    }

    #[test]
    fn compose_and_split() {
        let ts = compose(1_700_000_000_000, 42);
        assert_eq!(physical(ts), 1_700_000_000_000);
        assert_eq!(logical(ts), 42);
        assert!(compose(5, MAX_LOGICAL - 1) < compose(6, 0));
    }
}
