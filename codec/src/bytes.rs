//! # Byte-string encodings
//!
//! **Memcomparable group encoding** (TiDB `codec.EncodeBytes`, TiKV
//! `encode_bytes`, the MyRocks format): the input is cut into groups of 8
//! bytes; every group is written in full, followed by a marker byte
//! `0xFF - pad`, where `pad` is how many `0x00` bytes were added to fill the
//! group. Only the last group is padded, so its marker is below `0xFF`; an
//! input whose length is a multiple of 8 gets an extra all-padding group.
//!
//! ```text
//! ""     -> 00 00 00 00 00 00 00 00 F7
//! "abc"  -> 61 62 63 00 00 00 00 00 FA
//! "abcdefgh" -> 61 .. 68 FF  00 00 00 00 00 00 00 00 F7
//! ```
//!
//! Invariants: the encoding preserves order (`a < b` iff
//! `enc(a) < enc(b)`), and it is *prefix-free*: no encoded string is a proper
//! prefix of another, because only the final group carries a marker below
//! `0xFF`. The MVCC layer relies on the latter: it appends an 8-byte
//! timestamp to encoded keys, and `enc(k) ++ ts` sorts exactly like `k` for
//! different keys.
//!
//! **Compact encoding** (TiKV `encode_compact_bytes`): a zigzag varint length
//! followed by the bytes. Not memcomparable; used inside values (the primary
//! key in a lock record).

use crate::error::{Error, Result, take};
use crate::number::{decode_var_i64, encode_var_i64};

const ENC_GROUP_SIZE: usize = 8;
const ENC_MARKER: u8 = 0xFF;
const ENC_PAD: u8 = 0x00;

/// The length of the memcomparable encoding of `raw_len` bytes.
pub fn encoded_len(raw_len: usize) -> usize {
    (raw_len / ENC_GROUP_SIZE + 1) * (ENC_GROUP_SIZE + 1)
}

/// Encodes `raw` memcomparably.
pub fn encode_bytes(raw: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(encoded_len(raw.len()));
    encode_bytes_to(&mut buf, raw);
    buf
}

/// Appends the memcomparable encoding of `raw` to `buf`.
pub fn encode_bytes_to(buf: &mut Vec<u8>, raw: &[u8]) {
    buf.reserve(encoded_len(raw.len()));
    let mut chunks = raw.chunks_exact(ENC_GROUP_SIZE);
    for group in &mut chunks {
        buf.extend_from_slice(group);
        buf.push(ENC_MARKER);
    }
    let rest = chunks.remainder();
    let pad = ENC_GROUP_SIZE - rest.len();
    buf.extend_from_slice(rest);
    buf.resize(buf.len() + pad, ENC_PAD);
    buf.push(ENC_MARKER - pad as u8);
}

/// Decodes one memcomparable byte string from the front of `data`,
/// advancing it past the encoding.
pub fn decode_bytes(data: &mut &[u8]) -> Result<Vec<u8>> {
    let mut raw = Vec::with_capacity(data.len() / (ENC_GROUP_SIZE + 1) * ENC_GROUP_SIZE);
    loop {
        let group = take(data, ENC_GROUP_SIZE + 1)?;
        let marker = group[ENC_GROUP_SIZE];
        let pad = usize::from(ENC_MARKER - marker);
        if pad > ENC_GROUP_SIZE {
            return Err(Error::BadPadding { marker });
        }
        let real = ENC_GROUP_SIZE - pad;
        raw.extend_from_slice(&group[..real]);
        if pad == 0 {
            continue;
        }
        if group[real..ENC_GROUP_SIZE].iter().any(|&b| b != ENC_PAD) {
            return Err(Error::BadPadding { marker });
        }
        return Ok(raw);
    }
}

/// Appends `data` as a zigzag-varint length followed by the bytes.
pub fn encode_compact_bytes(buf: &mut Vec<u8>, data: &[u8]) {
    encode_var_i64(buf, data.len() as i64);
    buf.extend_from_slice(data);
}

/// Decodes a value written by [`encode_compact_bytes`].
pub fn decode_compact_bytes(data: &mut &[u8]) -> Result<Vec<u8>> {
    let len = decode_var_i64(data)?;
    let n = usize::try_from(len).map_err(|_| Error::BadLength(len))?;
    Ok(take(data, n)?.to_vec())
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn random_bytes(rng: &mut StdRng) -> Vec<u8> {
        let len = rng.random_range(0..30);
        // A small alphabet including the pad and marker bytes makes shared
        // prefixes and tricky bytes common.
        (0..len)
            .map(|_| [0x00, 0x01, b'a', b'b', 0xF7, 0xFF][rng.random_range(0..6)])
            .collect()
    }

    #[test]
    fn tidb_vectors() {
        assert_eq!(encode_bytes(b""), [0, 0, 0, 0, 0, 0, 0, 0, 0xF7]);
        assert_eq!(
            encode_bytes(b"abc"),
            [b'a', b'b', b'c', 0, 0, 0, 0, 0, 0xFA]
        );
        assert_eq!(
            encode_bytes(b"abcdefgh"),
            [
                b'a', b'b', b'c', b'd', b'e', b'f', b'g', b'h', 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0xF7
            ]
        );
        assert_eq!(
            encode_bytes(&[1, 2, 3, 4, 5, 6, 7, 8, 9]),
            [1, 2, 3, 4, 5, 6, 7, 8, 0xFF, 9, 0, 0, 0, 0, 0, 0, 0, 0xF8]
        );
        let mut b = vec![];
        encode_compact_bytes(&mut b, b"pk");
        assert_eq!(b, [0x04, b'p', b'k']);
    }

    #[test]
    fn round_trip_and_lengths() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..2000 {
            let raw = random_bytes(&mut rng);
            let mut enc = encode_bytes(&raw);
            assert_eq!(enc.len(), encoded_len(raw.len()));
            enc.extend_from_slice(b"tail");
            let mut s = enc.as_slice();
            assert_eq!(decode_bytes(&mut s).unwrap(), raw);
            assert_eq!(s, b"tail");

            let mut c = vec![];
            encode_compact_bytes(&mut c, &raw);
            let mut s = c.as_slice();
            assert_eq!(decode_compact_bytes(&mut s).unwrap(), raw);
            assert!(s.is_empty());
        }
    }

    #[test]
    fn order_is_preserved_and_prefix_free() {
        let mut rng = StdRng::seed_from_u64(2);
        for _ in 0..5000 {
            let (a, b) = (random_bytes(&mut rng), random_bytes(&mut rng));
            let (ea, eb) = (encode_bytes(&a), encode_bytes(&b));
            assert_eq!(a.cmp(&b), ea.cmp(&eb), "{a:?} vs {b:?}");
            if a != b {
                assert!(!ea.starts_with(&eb) && !eb.starts_with(&ea));
            }
        }
    }

    #[test]
    fn malformed_input_fails() {
        let mut s: &[u8] = &[b'a', 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(decode_bytes(&mut s), Err(Error::Eof { .. })));
        // Marker claims 9 bytes of padding.
        let mut s: &[u8] = &[0, 0, 0, 0, 0, 0, 0, 0, 0xF6];
        assert_eq!(
            decode_bytes(&mut s),
            Err(Error::BadPadding { marker: 0xF6 })
        );
        // Padding bytes that are not zero.
        let mut s: &[u8] = &[b'a', 1, 0, 0, 0, 0, 0, 0, 0xF8];
        assert_eq!(
            decode_bytes(&mut s),
            Err(Error::BadPadding { marker: 0xF8 })
        );
        // A full group with no final group.
        let mut s: &[u8] = &[1, 2, 3, 4, 5, 6, 7, 8, 0xFF];
        assert!(matches!(decode_bytes(&mut s), Err(Error::Eof { .. })));
        let mut s: &[u8] = &[0x01, b'x'];
        assert_eq!(decode_compact_bytes(&mut s), Err(Error::BadLength(-1)));
        let mut s: &[u8] = &[0x08, b'x'];
        assert!(matches!(
            decode_compact_bytes(&mut s),
            Err(Error::Eof { .. })
        ));
    }
}
