//! # Key layout inside a kv store's engine
//!
//! User data and the store's own bookkeeping share one engine, so keys are
//! prefixed (TiKV's layout):
//!
//! ```text
//! z{user_key}                              data CFs: user data ("data keys")
//! 0x01 0x01                                raft CF: StoreIdent
//! 0x01 0x02                                raft CF: region prepared for bootstrap
//! 0x01 0x02 {region_id:8} 0x01 {index:8}   raft CF: raft log entry
//! 0x01 0x02 {region_id:8} 0x02             raft CF: RaftLocalState (hard state, last index)
//! 0x01 0x02 {region_id:8} 0x03             raft CF: RaftApplyState
//! 0x01 0x03 {region_id:8} 0x01             raft CF: RegionLocalState
//! 0x01 0x04 {seq:8}                        raft CF: an apply observer's log
//! ```
//!
//! Integers are big-endian so the log of a region is ordered by index. A
//! region `[start, end)` of user keys covers data keys `[z start, z end)`, or
//! up to [`DATA_MAX_KEY`] when `end` is empty.

pub const DATA_PREFIX: u8 = b'z';
pub const DATA_MIN_KEY: &[u8] = b"z";
pub const DATA_MAX_KEY: &[u8] = b"{";

pub const STORE_IDENT_KEY: &[u8] = &[0x01, 0x01];
pub const PREPARE_BOOTSTRAP_KEY: &[u8] = &[0x01, 0x02];
const REGION_RAFT_PREFIX: [u8; 2] = [0x01, 0x02];
const REGION_META_PREFIX: [u8; 2] = [0x01, 0x03];
const APPLY_LOG_PREFIX: [u8; 2] = [0x01, 0x04];
const RAFT_LOG_SUFFIX: u8 = 0x01;
const RAFT_STATE_SUFFIX: u8 = 0x02;
const APPLY_STATE_SUFFIX: u8 = 0x03;
const REGION_STATE_SUFFIX: u8 = 0x01;

pub fn data_key(key: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(key.len() + 1);
    v.push(DATA_PREFIX);
    v.extend_from_slice(key);
    v
}

/// The data key of a region's end: `DATA_MAX_KEY` for an unbounded region.
pub fn data_end_key(end_key: &[u8]) -> Vec<u8> {
    if end_key.is_empty() {
        DATA_MAX_KEY.to_vec()
    } else {
        data_key(end_key)
    }
}

pub fn origin_key(data_key: &[u8]) -> &[u8] {
    debug_assert_eq!(data_key.first(), Some(&DATA_PREFIX));
    &data_key[1..]
}

fn region_key(prefix: [u8; 2], region_id: u64, suffix: u8) -> Vec<u8> {
    let mut v = Vec::with_capacity(11);
    v.extend_from_slice(&prefix);
    v.extend_from_slice(&region_id.to_be_bytes());
    v.push(suffix);
    v
}

pub fn raft_log_key(region_id: u64, index: u64) -> Vec<u8> {
    let mut v = region_key(REGION_RAFT_PREFIX, region_id, RAFT_LOG_SUFFIX);
    v.extend_from_slice(&index.to_be_bytes());
    v
}

/// `[raft_log_key(region, 0), raft_log_key(region, u64::MAX)]` as a half-open
/// range that covers every log key of the region.
pub fn raft_log_range(region_id: u64) -> (Vec<u8>, Vec<u8>) {
    let start = region_key(REGION_RAFT_PREFIX, region_id, RAFT_LOG_SUFFIX);
    let end = region_key(REGION_RAFT_PREFIX, region_id, RAFT_LOG_SUFFIX + 1);
    (start, end)
}

pub fn raft_log_index(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&key[key.len() - 8..]);
    u64::from_be_bytes(b)
}

pub fn raft_state_key(region_id: u64) -> Vec<u8> {
    region_key(REGION_RAFT_PREFIX, region_id, RAFT_STATE_SUFFIX)
}

pub fn apply_state_key(region_id: u64) -> Vec<u8> {
    region_key(REGION_RAFT_PREFIX, region_id, APPLY_STATE_SUFFIX)
}

pub fn region_state_key(region_id: u64) -> Vec<u8> {
    region_key(REGION_META_PREFIX, region_id, REGION_STATE_SUFFIX)
}

/// The range of all region state keys, to load every region at start.
pub fn region_meta_range() -> (Vec<u8>, Vec<u8>) {
    (
        REGION_META_PREFIX.to_vec(),
        vec![REGION_META_PREFIX[0], REGION_META_PREFIX[1] + 1],
    )
}

/// An entry of an apply observer's log (`raftstore::observer`), ordered by
/// `seq`.
pub fn apply_log_key(seq: u64) -> Vec<u8> {
    let mut v = APPLY_LOG_PREFIX.to_vec();
    v.extend_from_slice(&seq.to_be_bytes());
    v
}

/// The range of every apply observer log key.
pub fn apply_log_range() -> (Vec<u8>, Vec<u8>) {
    (
        APPLY_LOG_PREFIX.to_vec(),
        vec![APPLY_LOG_PREFIX[0], APPLY_LOG_PREFIX[1] + 1],
    )
}

/// The sequence number of an apply log key.
pub fn apply_log_seq(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&key[key.len() - 8..]);
    u64::from_be_bytes(b)
}

pub fn region_id_of_state_key(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&key[2..10]);
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keys_order_by_region_then_index() {
        assert!(raft_log_key(1, 255) < raft_log_key(1, 256));
        assert!(raft_log_key(1, u64::MAX) < raft_log_key(2, 0));
        assert!(raft_log_key(1, 7) < raft_state_key(1));
        let (s, e) = raft_log_range(3);
        assert!(s <= raft_log_key(3, 0) && raft_log_key(3, u64::MAX) < e);
        assert_eq!(raft_log_index(&raft_log_key(9, 42)), 42);
        assert_eq!(region_id_of_state_key(&region_state_key(77)), 77);
        let (s, e) = apply_log_range();
        assert!(s <= apply_log_key(0) && apply_log_key(u64::MAX) < e);
        assert!(region_state_key(u64::MAX) < s);
        assert_eq!(apply_log_seq(&apply_log_key(42)), 42);
    }

    #[test]
    fn data_keys_stay_inside_data_range() {
        assert!(data_key(b"") >= DATA_MIN_KEY.to_vec());
        assert!(data_key(&[0xff; 8]).as_slice() < DATA_MAX_KEY);
        assert_eq!(data_end_key(b""), DATA_MAX_KEY);
        assert_eq!(origin_key(&data_key(b"abc")), b"abc");
    }
}
