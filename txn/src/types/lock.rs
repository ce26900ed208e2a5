//! # Locks
//!
//! A [`Lock`] sits in the `lock` column family under `enc(key)` while a
//! transaction is between prewrite and commit/rollback (or holds a
//! pessimistic lock). It names the transaction (`ts` = start_ts), its
//! primary key (whose fate decides the whole transaction), how long the
//! owner promises to stay alive (`ttl`, milliseconds of physical time after
//! `ts`), and carries a short value inline so commit needs no extra read.
//!
//! Binary layout, byte-compatible with TiKV's `txn_types::Lock`:
//!
//! ```text
//! flag(1: P D L S) | primary: compact bytes | start_ts: var u64 | ttl: var u64
//! then, each only when not default, in this order:
//!   'v' len(u8) value        short value
//!   'f' u64 BE               for_update_ts   (pessimistic transactions)
//!   't' u64 BE               txn_size
//!   'c' u64 BE               min_commit_ts
//! ```
//!
//! Deviation: TiKV stops at an unknown tag for forward compatibility
//! (async-commit, rollback-ts and other fields duet does not implement);
//! duet rejects it, because a lock it cannot fully understand must not be
//! acted upon.

use std::fmt;

use codec::number::{decode_u64, decode_var_u64, encode_u64, encode_var_u64};

use super::lock_info::{LockInfo, LockType};
use super::{TimeStamp, Value, escape, show_value};
use crate::{Error, Result};

pub(crate) const SHORT_VALUE_PREFIX: u8 = b'v';
const FOR_UPDATE_TS_PREFIX: u8 = b'f';
const TXN_SIZE_PREFIX: u8 = b't';
const MIN_COMMIT_TS_PREFIX: u8 = b'c';

/// A Percolator lock. `primary` is the RAW primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    pub lock_type: LockType,
    pub primary: Vec<u8>,
    /// The owner's start_ts.
    pub ts: TimeStamp,
    /// Milliseconds of physical time after `ts` the lock is protected.
    pub ttl: u64,
    pub short_value: Option<Value>,
    /// Non-zero iff the owner is a pessimistic transaction.
    pub for_update_ts: TimeStamp,
    pub txn_size: u64,
    /// The transaction may not commit below this; readers and
    /// `check_txn_status` push it to get past the lock.
    pub min_commit_ts: TimeStamp,
}

impl Lock {
    /// A lock with no optional fields.
    pub fn new(lock_type: LockType, primary: Vec<u8>, ts: TimeStamp, ttl: u64) -> Lock {
        Lock {
            lock_type,
            primary,
            ts,
            ttl,
            short_value: None,
            for_update_ts: TimeStamp::zero(),
            txn_size: 0,
            min_commit_ts: TimeStamp::zero(),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(
            1 + 10
                + self.primary.len()
                + 20
                + self.short_value.as_ref().map_or(0, |v| 2 + v.len())
                + 27,
        );
        b.push(self.lock_type.to_u8());
        codec::bytes::encode_compact_bytes(&mut b, &self.primary);
        encode_var_u64(&mut b, self.ts.into_inner());
        encode_var_u64(&mut b, self.ttl);
        if let Some(v) = &self.short_value {
            debug_assert!(super::is_short_value(v));
            b.push(SHORT_VALUE_PREFIX);
            b.push(v.len() as u8);
            b.extend_from_slice(v);
        }
        if !self.for_update_ts.is_zero() {
            b.push(FOR_UPDATE_TS_PREFIX);
            encode_u64(&mut b, self.for_update_ts.into_inner());
        }
        if self.txn_size > 0 {
            b.push(TXN_SIZE_PREFIX);
            encode_u64(&mut b, self.txn_size);
        }
        if !self.min_commit_ts.is_zero() {
            b.push(MIN_COMMIT_TS_PREFIX);
            encode_u64(&mut b, self.min_commit_ts.into_inner());
        }
        b
    }

    pub fn parse(mut b: &[u8]) -> Result<Lock> {
        let flag = take_u8(&mut b, "lock type")?;
        let lock_type = LockType::from_u8(flag)
            .ok_or_else(|| Error::BadFormat(format!("invalid lock type flag {flag:#04x}")))?;
        let primary = codec::bytes::decode_compact_bytes(&mut b)?;
        let ts = decode_var_u64(&mut b)?.into();
        let ttl = decode_var_u64(&mut b)?;
        let mut lock = Lock::new(lock_type, primary, ts, ttl);
        while !b.is_empty() {
            match take_u8(&mut b, "lock field tag")? {
                SHORT_VALUE_PREFIX => lock.short_value = Some(take_short_value(&mut b)?),
                FOR_UPDATE_TS_PREFIX => lock.for_update_ts = decode_u64(&mut b)?.into(),
                TXN_SIZE_PREFIX => lock.txn_size = decode_u64(&mut b)?,
                MIN_COMMIT_TS_PREFIX => lock.min_commit_ts = decode_u64(&mut b)?.into(),
                tag => {
                    return Err(Error::BadFormat(format!(
                        "unknown lock field tag {tag:#04x}"
                    )));
                }
            }
        }
        Ok(lock)
    }

    /// Whether the owner's TTL has run out by `current_ts`: as in TiKV, iff
    /// `ts.physical() + ttl < current_ts.physical()`.
    pub fn is_expired(&self, current_ts: TimeStamp) -> bool {
        self.ts.physical().saturating_add(self.ttl) < current_ts.physical()
    }

    /// Whether the owner is a pessimistic transaction.
    pub fn is_pessimistic_txn(&self) -> bool {
        !self.for_update_ts.is_zero()
    }

    pub fn is_pessimistic_lock(&self) -> bool {
        self.lock_type == LockType::Pessimistic
    }

    /// What a blocked reader or writer reports back to the client.
    pub fn into_lock_info(self, raw_key: Vec<u8>) -> LockInfo {
        LockInfo {
            primary_lock: self.primary,
            lock_version: self.ts,
            key: raw_key,
            lock_ttl: self.ttl,
            txn_size: self.txn_size,
            lock_type: self.lock_type,
            lock_for_update_ts: self.for_update_ts,
            min_commit_ts: self.min_commit_ts,
        }
    }
}

impl fmt::Display for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} primary={} start={} ttl={}",
            self.lock_type,
            escape(&self.primary),
            self.ts,
            self.ttl
        )?;
        if let Some(v) = &self.short_value {
            write!(f, " value={}", show_value(v))?;
        }
        if !self.for_update_ts.is_zero() {
            write!(f, " for_update={}", self.for_update_ts)?;
        }
        if self.txn_size > 0 {
            write!(f, " txn_size={}", self.txn_size)?;
        }
        if !self.min_commit_ts.is_zero() {
            write!(f, " min_commit={}", self.min_commit_ts)?;
        }
        Ok(())
    }
}

pub(crate) fn take_u8(b: &mut &[u8], what: &str) -> Result<u8> {
    let (&first, rest) = b
        .split_first()
        .ok_or_else(|| Error::BadFormat(format!("truncated record: missing {what}")))?;
    *b = rest;
    Ok(first)
}

pub(crate) fn take_short_value(b: &mut &[u8]) -> Result<Value> {
    let len = usize::from(take_u8(b, "short value length")?);
    if b.len() < len {
        return Err(Error::BadFormat(format!(
            "truncated short value: {len} bytes expected, {} left",
            b.len()
        )));
    }
    let (v, rest) = b.split_at(len);
    *b = rest;
    Ok(v.to_vec())
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn random_lock(rng: &mut StdRng) -> Lock {
        let types = [
            LockType::Put,
            LockType::Delete,
            LockType::Lock,
            LockType::Pessimistic,
        ];
        let plen = rng.random_range(0..100);
        let ttl_bits = rng.random_range(1..64);
        let ttl = rng.random_range(0..1u64 << ttl_bits);
        let mut lock = Lock::new(
            types[rng.random_range(0..4)],
            (0..plen).map(|_| rng.random()).collect(),
            rng.random::<u64>().into(),
            ttl,
        );
        // Every combination of optional fields shows up.
        let mask: u8 = rng.random_range(0..16);
        if mask & 1 != 0 {
            let len = rng.random_range(0..=255);
            lock.short_value = Some((0..len).map(|_| rng.random()).collect());
        }
        if mask & 2 != 0 {
            lock.for_update_ts = rng.random_range(1..u64::MAX).into();
        }
        if mask & 4 != 0 {
            lock.txn_size = rng.random_range(1..u64::MAX);
        }
        if mask & 8 != 0 {
            lock.min_commit_ts = rng.random_range(1..u64::MAX).into();
        }
        lock
    }

    #[test]
    fn round_trip_every_field_combination() {
        let mut rng = StdRng::seed_from_u64(5);
        for _ in 0..3000 {
            let lock = random_lock(&mut rng);
            let b = lock.to_bytes();
            assert_eq!(Lock::parse(&b).unwrap(), lock);
            // Every strict prefix is rejected or (when it ends exactly
            // between fields) parses to a different lock.
            let cut = rng.random_range(0..b.len());
            if let Ok(l) = Lock::parse(&b[..cut]) {
                assert_ne!(l, lock);
            }
        }
    }

    #[test]
    fn tikv_layout() {
        let mut lock = Lock::new(LockType::Put, b"pk".to_vec(), 10.into(), 3000);
        lock.short_value = Some(b"v".to_vec());
        lock.min_commit_ts = 11.into();
        let mut expected = vec![b'P', 0x04, b'p', b'k', 10, 0xB8, 0x17, b'v', 1, b'v', b'c'];
        expected.extend_from_slice(&11u64.to_be_bytes());
        assert_eq!(lock.to_bytes(), expected);
    }

    #[test]
    fn malformed_locks_fail() {
        assert!(Lock::parse(b"").is_err());
        assert!(Lock::parse(b"X\x00\x01\x01").is_err());
        assert!(Lock::parse(b"P\x04pk").is_err());
        assert!(Lock::parse(b"P\x00\x01\x01v\x05ab").is_err());
        assert!(Lock::parse(b"P\x00\x01\x01f\x00\x00").is_err());
        assert!(Lock::parse(b"P\x00\x01\x01z").is_err());
        assert!(Lock::parse(b"P\x00\x01\x01").is_ok());
    }

    #[test]
    fn expiry_follows_physical_time() {
        let lock = Lock::new(LockType::Put, vec![], TimeStamp::compose(1000, 5), 100);
        assert!(!lock.is_expired(TimeStamp::compose(1100, 9)));
        assert!(lock.is_expired(TimeStamp::compose(1101, 0)));
    }
}
