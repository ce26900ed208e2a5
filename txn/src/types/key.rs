//! # Keys
//!
//! A [`Key`] owns a user key in its *encoded* form: the memcomparable group
//! encoding of the raw bytes ([`codec::bytes`]), optionally followed by an
//! 8-byte timestamp stored as `!ts` big-endian. The three MVCC column
//! families are keyed like this:
//!
//! ```text
//! lock     enc(k)              -> Lock
//! write    enc(k) ++ !commit   -> Write
//! default  enc(k) ++ !start    -> long value
//! ```
//!
//! Because the group encoding is prefix-free and order-preserving, and the
//! timestamp is inverted, all versions of a key are contiguous, ordered
//! newest first, and different keys keep the order of their raw bytes
//! whatever timestamps are appended. Keys here never carry kv's `z` data
//! prefix; the MVCC reader adds it with `kv::keys::data_key`.
//!
//! Follows TiKV's `components/txn_types/src/types.rs` (`Key`).

use std::fmt;

use codec::number::{U64_SIZE, decode_u64_desc, encode_u64_desc};

use super::TimeStamp;
use crate::Result;

/// An encoded key, with or without a timestamp suffix. Ordered and hashed by
/// its encoded bytes.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Key(Vec<u8>);

impl Key {
    /// Encodes a raw user key.
    pub fn from_raw(raw: &[u8]) -> Key {
        let mut encoded = Vec::with_capacity(codec::bytes::encoded_len(raw.len()) + U64_SIZE);
        codec::bytes::encode_bytes_to(&mut encoded, raw);
        Key(encoded)
    }

    /// Wraps bytes that are already encoded.
    pub fn from_encoded(encoded: Vec<u8>) -> Key {
        Key(encoded)
    }

    pub fn from_encoded_slice(encoded: &[u8]) -> Key {
        Key(encoded.to_vec())
    }

    pub fn as_encoded(&self) -> &Vec<u8> {
        &self.0
    }

    pub fn into_encoded(self) -> Vec<u8> {
        self.0
    }

    /// Decodes the raw user key (ignoring any timestamp suffix).
    pub fn to_raw(&self) -> Result<Vec<u8>> {
        let mut s = self.0.as_slice();
        Ok(codec::bytes::decode_bytes(&mut s)?)
    }

    /// Appends `ts` as `!ts` big-endian.
    pub fn append_ts(mut self, ts: TimeStamp) -> Key {
        self.0.reserve(U64_SIZE);
        encode_u64_desc(&mut self.0, ts.into_inner());
        self
    }

    /// The timestamp suffix.
    pub fn decode_ts(&self) -> Result<TimeStamp> {
        Ok(Key::split_on_ts_for(&self.0)?.1)
    }

    /// Drops the timestamp suffix.
    pub fn truncate_ts(mut self) -> Result<Key> {
        let len = Key::split_on_ts_for(&self.0)?.0.len();
        self.0.truncate(len);
        Ok(self)
    }

    /// Splits an encoded key with a timestamp suffix into the user key and
    /// the timestamp.
    pub fn split_on_ts_for(key: &[u8]) -> Result<(&[u8], TimeStamp)> {
        if key.len() < U64_SIZE {
            return Err(codec::Error::KeyLength {
                len: key.len(),
                expected: U64_SIZE,
            }
            .into());
        }
        let (user, mut ts) = key.split_at(key.len() - U64_SIZE);
        Ok((user, decode_u64_desc(&mut ts)?.into()))
    }

    /// Whether `ts_encoded_key` (a key with a timestamp suffix) belongs to
    /// the user key `user_key_encoded`.
    pub fn is_user_key_eq(ts_encoded_key: &[u8], user_key_encoded: &[u8]) -> bool {
        ts_encoded_key.len() == user_key_encoded.len() + U64_SIZE
            && ts_encoded_key.starts_with(user_key_encoded)
    }

    /// Whether this (timestamp-less) key is the encoding of `raw`.
    pub fn is_encoded_from(&self, raw: &[u8]) -> bool {
        self.0.len() == codec::bytes::encoded_len(raw.len())
            && self.to_raw().is_ok_and(|r| r == raw)
    }
}

impl fmt::Display for Key {
    /// The raw key escaped when it decodes, the encoded bytes in hex
    /// otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_raw() {
            Ok(raw) => write!(f, "{}", super::escape(&raw)),
            Err(_) => {
                for b in &self.0 {
                    write!(f, "{b:02X}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({self})")
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn random_raw(rng: &mut StdRng) -> Vec<u8> {
        let len = rng.random_range(0..20);
        (0..len)
            .map(|_| [0u8, b'a', b'b', 0xFF][rng.random_range(0..4)])
            .collect()
    }

    #[test]
    fn ts_round_trip() {
        let k = Key::from_raw(b"key").append_ts(42.into());
        assert_eq!(k.decode_ts().unwrap(), TimeStamp::new(42));
        let (user, ts) = Key::split_on_ts_for(k.as_encoded()).unwrap();
        assert_eq!(user, Key::from_raw(b"key").as_encoded().as_slice());
        assert_eq!(ts, 42.into());
        assert!(Key::is_user_key_eq(
            k.as_encoded(),
            Key::from_raw(b"key").as_encoded()
        ));
        assert!(!Key::is_user_key_eq(
            k.as_encoded(),
            Key::from_raw(b"ke").as_encoded()
        ));
        assert_eq!(k.clone().truncate_ts().unwrap(), Key::from_raw(b"key"));
        assert_eq!(k.to_raw().unwrap(), b"key");
        assert!(Key::from_raw(b"key").is_encoded_from(b"key"));
        assert!(!Key::from_raw(b"key").is_encoded_from(b"kex"));
        assert!(Key::split_on_ts_for(b"short").is_err());
        assert_eq!(Key::from_raw(b"a\x01").to_string(), "a\\x01");
    }

    #[test]
    fn versions_sort_by_key_then_newest_first() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..5000 {
            let (a, b) = (random_raw(&mut rng), random_raw(&mut rng));
            let (t1, t2) = (TimeStamp::new(rng.random()), TimeStamp::new(rng.random()));
            let ka = Key::from_raw(&a).append_ts(t1);
            let kb = Key::from_raw(&b).append_ts(t2);
            if a != b {
                assert_eq!(a.cmp(&b), ka.cmp(&kb), "{a:?}@{t1} vs {b:?}@{t2}");
            } else {
                assert_eq!(t2.cmp(&t1), ka.cmp(&kb));
            }
        }
    }
}
