//! # Write records
//!
//! A [`Write`] sits in the `write` column family under
//! `enc(key) ++ !commit_ts` and records what happened to a key at that
//! timestamp: a committed `Put` (value inline when short, else in `default`
//! at `start_ts`), a `Delete`, a `Lock` (a committed read lock, no data), or
//! a `Rollback` (written at `commit_ts == start_ts` so a late prewrite or
//! commit of that transaction fails).
//!
//! Binary layout, byte-compatible with TiKV's `txn_types::Write`:
//!
//! ```text
//! flag(1: P D L R) | start_ts: var u64
//! then, optionally, in this order:
//!   'v' len(u8) value      short value
//!   'R'                    has_overlapped_rollback
//! ```
//!
//! *Protected* rollbacks (TiKV): a `Rollback` whose short value is `b"p"`
//! must never be collapsed (deleted by a later rollback of the same key),
//! because it guards a pessimistic primary or a `check_txn_status` verdict.
//! *Overlapped rollback*: when a rollback of txn B would land at
//! `commit_ts == B.start_ts` exactly where another transaction's commit
//! record already is, the rollback is recorded as a flag on that record.
//!
//! Deviation: TiKV stops at an unknown tag (for GC fences and other newer
//! fields); duet rejects it.

use std::fmt;

use codec::number::{decode_var_u64, encode_var_u64};

use super::lock::{SHORT_VALUE_PREFIX, take_short_value, take_u8};
use super::{LockType, TimeStamp, Value, show_value};
use crate::{Error, Result};

const FLAG_PUT: u8 = b'P';
const FLAG_DELETE: u8 = b'D';
const FLAG_LOCK: u8 = b'L';
const FLAG_ROLLBACK: u8 = b'R';
const FLAG_OVERLAPPED_ROLLBACK: u8 = b'R';

/// The short value marking a protected rollback record.
pub const PROTECTED_ROLLBACK_SHORT_VALUE: &[u8] = b"p";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteType {
    Put,
    Delete,
    Lock,
    Rollback,
}

impl WriteType {
    /// The record a lock of this type commits to; pessimistic locks are
    /// never committed as such.
    pub fn from_lock_type(lock_type: LockType) -> Option<WriteType> {
        match lock_type {
            LockType::Put => Some(WriteType::Put),
            LockType::Delete => Some(WriteType::Delete),
            LockType::Lock => Some(WriteType::Lock),
            LockType::Pessimistic => None,
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            WriteType::Put => FLAG_PUT,
            WriteType::Delete => FLAG_DELETE,
            WriteType::Lock => FLAG_LOCK,
            WriteType::Rollback => FLAG_ROLLBACK,
        }
    }

    pub fn from_u8(b: u8) -> Option<WriteType> {
        match b {
            FLAG_PUT => Some(WriteType::Put),
            FLAG_DELETE => Some(WriteType::Delete),
            FLAG_LOCK => Some(WriteType::Lock),
            FLAG_ROLLBACK => Some(WriteType::Rollback),
            _ => None,
        }
    }
}

/// A commit (or rollback) record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub write_type: WriteType,
    pub start_ts: TimeStamp,
    pub short_value: Option<Value>,
    /// This commit record also stands for the rollback of the transaction
    /// whose start_ts equals this record's commit_ts.
    pub has_overlapped_rollback: bool,
}

impl Write {
    pub fn new(write_type: WriteType, start_ts: TimeStamp, short_value: Option<Value>) -> Write {
        Write {
            write_type,
            start_ts,
            short_value,
            has_overlapped_rollback: false,
        }
    }

    /// A rollback record for `start_ts`; `protected` ones are never
    /// collapsed.
    pub fn new_rollback(start_ts: TimeStamp, protected: bool) -> Write {
        let short_value = protected.then(|| PROTECTED_ROLLBACK_SHORT_VALUE.to_vec());
        Write::new(WriteType::Rollback, start_ts, short_value)
    }

    pub fn set_overlapped_rollback(mut self, has_overlapped_rollback: bool) -> Write {
        self.has_overlapped_rollback = has_overlapped_rollback;
        self
    }

    /// Whether this is a rollback that must not be collapsed.
    pub fn is_protected(&self) -> bool {
        self.write_type == WriteType::Rollback
            && self.short_value.as_deref() == Some(PROTECTED_ROLLBACK_SHORT_VALUE)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b =
            Vec::with_capacity(1 + 10 + self.short_value.as_ref().map_or(0, |v| 2 + v.len()) + 1);
        b.push(self.write_type.to_u8());
        encode_var_u64(&mut b, self.start_ts.into_inner());
        if let Some(v) = &self.short_value {
            debug_assert!(super::is_short_value(v));
            b.push(SHORT_VALUE_PREFIX);
            b.push(v.len() as u8);
            b.extend_from_slice(v);
        }
        if self.has_overlapped_rollback {
            b.push(FLAG_OVERLAPPED_ROLLBACK);
        }
        b
    }

    pub fn parse(mut b: &[u8]) -> Result<Write> {
        let flag = take_u8(&mut b, "write type")?;
        let write_type = WriteType::from_u8(flag)
            .ok_or_else(|| Error::BadFormat(format!("invalid write type flag {flag:#04x}")))?;
        let start_ts = decode_var_u64(&mut b)?.into();
        let mut write = Write::new(write_type, start_ts, None);
        while !b.is_empty() {
            match take_u8(&mut b, "write field tag")? {
                SHORT_VALUE_PREFIX => write.short_value = Some(take_short_value(&mut b)?),
                FLAG_OVERLAPPED_ROLLBACK => write.has_overlapped_rollback = true,
                tag => {
                    return Err(Error::BadFormat(format!(
                        "unknown write field tag {tag:#04x}"
                    )));
                }
            }
        }
        Ok(write)
    }
}

impl fmt::Display for Write {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} start={}", self.write_type, self.start_ts)?;
        if self.is_protected() {
            write!(f, " protected")?;
        } else if let Some(v) = &self.short_value {
            write!(f, " value={}", show_value(v))?;
        }
        if self.has_overlapped_rollback {
            write!(f, " overlapped_rollback")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    #[test]
    fn round_trip_every_field_combination() {
        let mut rng = StdRng::seed_from_u64(6);
        let types = [
            WriteType::Put,
            WriteType::Delete,
            WriteType::Lock,
            WriteType::Rollback,
        ];
        for _ in 0..3000 {
            let mut w = Write::new(
                types[rng.random_range(0..4)],
                rng.random::<u64>().into(),
                None,
            );
            if rng.random() {
                let len = rng.random_range(0..=255);
                w.short_value = Some((0..len).map(|_| rng.random()).collect());
            }
            w.has_overlapped_rollback = rng.random();
            let b = w.to_bytes();
            assert_eq!(Write::parse(&b).unwrap(), w);
            let cut = rng.random_range(0..b.len());
            if let Ok(p) = Write::parse(&b[..cut]) {
                assert_ne!(p, w);
            }
        }
    }

    #[test]
    fn tikv_layout_and_errors() {
        let w = Write::new(WriteType::Put, 300.into(), Some(b"ab".to_vec()));
        assert_eq!(w.to_bytes(), [b'P', 0xAC, 0x02, b'v', 2, b'a', b'b']);
        let r = Write::new_rollback(5.into(), true).set_overlapped_rollback(true);
        assert_eq!(r.to_bytes(), [b'R', 5, b'v', 1, b'p', b'R']);
        assert!(Write::new_rollback(5.into(), true).is_protected());
        assert!(!Write::new_rollback(5.into(), false).is_protected());
        assert!(Write::parse(b"").is_err());
        assert!(Write::parse(b"Q\x01").is_err());
        assert!(Write::parse(b"P").is_err());
        assert!(Write::parse(b"P\x01v\x03ab").is_err());
        assert!(Write::parse(b"P\x01x").is_err());
    }
}
