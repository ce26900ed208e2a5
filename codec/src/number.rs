//! # Integer encodings
//!
//! Two families, as in TiKV's `tikv_util::codec::number`:
//!
//! * **Fixed width, memcomparable** (for keys). `encode_u64` is plain
//!   big-endian, so byte order is numeric order. `encode_u64_desc` stores the
//!   bitwise NOT, which reverses the order — MVCC keys use it for timestamps
//!   so the newest version of a key sorts first. `encode_i64` flips the sign
//!   bit before going big-endian, so negative numbers sort before positive
//!   ones (`i64::MIN` -> `00..00`, `-1` -> `7F FF..FF`, `0` -> `80 00..00`).
//! * **Variable width** (for values, not memcomparable). `encode_var_u64` is
//!   LEB128: seven bits per byte, least significant group first, high bit set
//!   on every byte but the last. `encode_var_i64` zigzag-maps signed values
//!   first (`0, -1, 1, -2 ...` -> `0, 1, 2, 3 ...`) so small negative numbers
//!   stay short.
//! * **Floats, memcomparable** (TiDB `codec.EncodeFloat`). A non-negative
//!   float gets its sign bit set, a negative one has all bits inverted, and
//!   the resulting `u64` is written big-endian; IEEE 754 bit patterns of
//!   same-signed floats already sort like their magnitudes, so this makes
//!   byte order numeric order (`-inf < -1 < 0 < 1 < inf`). `-0.0` is first
//!   normalised to `0.0` so the two encode identically, as in TiDB. NaN is
//!   decided by its sign bit (TiDB uses `f >= 0`, which mangles NaN): a
//!   positive NaN sorts above `+inf` and decodes back to NaN.
//!
//! ```text
//! -1.0 -> 40 0F FF FF FF FF FF FF     0.0 -> 80 00 00 00 00 00 00 00
//!  1.0 -> BF F0 00 00 00 00 00 00
//! ```
//!
//! Encoders append to a `Vec<u8>`; decoders take `&mut &[u8]` and advance it.

use crate::error::{Error, Result, take};

/// Bytes of a fixed-width 64-bit integer.
pub const U64_SIZE: usize = 8;
/// Longest LEB128 encoding of a `u64`.
pub const MAX_VAR_U64_LEN: usize = 10;

const SIGN_MASK: u64 = 0x8000_0000_0000_0000;

/// Appends `v` big-endian (memcomparable, ascending).
pub fn encode_u64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Decodes a big-endian `u64`.
pub fn decode_u64(data: &mut &[u8]) -> Result<u64> {
    let b = take(data, U64_SIZE)?;
    Ok(u64::from_be_bytes(b.try_into().expect("8 bytes")))
}

/// Appends `!v` big-endian (memcomparable, descending).
pub fn encode_u64_desc(buf: &mut Vec<u8>, v: u64) {
    encode_u64(buf, !v);
}

/// Decodes a value written by [`encode_u64_desc`].
pub fn decode_u64_desc(data: &mut &[u8]) -> Result<u64> {
    decode_u64(data).map(|v| !v)
}

/// Appends `v` with its sign bit flipped, big-endian (memcomparable).
pub fn encode_i64(buf: &mut Vec<u8>, v: i64) {
    encode_u64(buf, (v as u64) ^ SIGN_MASK);
}

/// Decodes a value written by [`encode_i64`].
pub fn decode_i64(data: &mut &[u8]) -> Result<i64> {
    decode_u64(data).map(|u| (u ^ SIGN_MASK) as i64)
}

/// Appends `v` as a memcomparable float (sign-adjusted bits, big-endian).
pub fn encode_f64(buf: &mut Vec<u8>, v: f64) {
    // `-0.0 == 0.0`, so this also folds negative zero into positive zero.
    let v = if v == 0.0 { 0.0 } else { v };
    let u = v.to_bits();
    encode_u64(
        buf,
        if u & SIGN_MASK == 0 {
            u | SIGN_MASK
        } else {
            !u
        },
    );
}

/// Decodes a value written by [`encode_f64`].
pub fn decode_f64(data: &mut &[u8]) -> Result<f64> {
    let u = decode_u64(data)?;
    Ok(f64::from_bits(if u & SIGN_MASK != 0 {
        u & !SIGN_MASK
    } else {
        !u
    }))
}

/// Appends `v` as a LEB128 varint.
pub fn encode_var_u64(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Decodes a LEB128 varint.
pub fn decode_var_u64(data: &mut &[u8]) -> Result<u64> {
    let mut v = 0u64;
    for i in 0..MAX_VAR_U64_LEN {
        let Some((&b, rest)) = data.split_first() else {
            return Err(Error::Eof {
                needed: 1,
                remaining: 0,
            });
        };
        *data = rest;
        // The tenth byte may only carry the top bit of a u64.
        if i == MAX_VAR_U64_LEN - 1 && b > 1 {
            return Err(Error::VarIntOverflow);
        }
        v |= u64::from(b & 0x7F) << (7 * i);
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(Error::VarIntOverflow)
}

/// Appends `v` zigzag-mapped as a LEB128 varint.
pub fn encode_var_i64(buf: &mut Vec<u8>, v: i64) {
    encode_var_u64(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// Decodes a value written by [`encode_var_i64`].
pub fn decode_var_i64(data: &mut &[u8]) -> Result<i64> {
    let u = decode_var_u64(data)?;
    Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn enc(f: fn(&mut Vec<u8>, u64), v: u64) -> Vec<u8> {
        let mut b = vec![];
        f(&mut b, v);
        b
    }

    fn enc_i(f: fn(&mut Vec<u8>, i64), v: i64) -> Vec<u8> {
        let mut b = vec![];
        f(&mut b, v);
        b
    }

    /// Random values with a bias towards small magnitudes and edges.
    fn sample_u64(rng: &mut StdRng) -> u64 {
        match rng.random_range(0..4) {
            0 => rng.random_range(0..300),
            1 => u64::MAX - rng.random_range(0..300),
            2 => 1u64 << rng.random_range(0..64),
            _ => rng.random(),
        }
    }

    #[test]
    fn fixed_vectors() {
        assert_eq!(enc(encode_u64, 1), [0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(enc(encode_u64_desc, 0), [0xFF; 8]);
        assert_eq!(enc_i(encode_i64, 0), [0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            enc_i(encode_i64, -1),
            [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
        assert_eq!(enc_i(encode_i64, i64::MIN), [0; 8]);
        assert_eq!(enc(encode_var_u64, 300), [0xAC, 0x02]);
        assert_eq!(enc(encode_var_u64, u64::MAX).len(), MAX_VAR_U64_LEN);
        assert_eq!(enc_i(encode_var_i64, -1), [0x01]);
        assert_eq!(enc_i(encode_var_i64, 1), [0x02]);
        assert_eq!(enc_i(encode_var_i64, -64), [0x7F]);
    }

    #[test]
    fn round_trips() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..5000 {
            let u = sample_u64(&mut rng);
            let i = u as i64;
            let check_u = |f: fn(&mut Vec<u8>, u64), d: fn(&mut &[u8]) -> Result<u64>| {
                let b = enc(f, u);
                let mut s = b.as_slice();
                assert_eq!(d(&mut s).unwrap(), u);
                assert!(s.is_empty());
            };
            check_u(encode_u64, decode_u64);
            check_u(encode_u64_desc, decode_u64_desc);
            check_u(encode_var_u64, decode_var_u64);
            for (f, d) in [
                (
                    encode_i64 as fn(&mut Vec<u8>, i64),
                    decode_i64 as fn(&mut &[u8]) -> _,
                ),
                (encode_var_i64, decode_var_i64),
            ] {
                let b = enc_i(f, i);
                let mut s = b.as_slice();
                assert_eq!(d(&mut s).unwrap(), i);
                assert!(s.is_empty());
            }
        }
    }

    #[test]
    fn order_is_preserved() {
        let mut rng = StdRng::seed_from_u64(11);
        for _ in 0..5000 {
            let (a, b) = (sample_u64(&mut rng), sample_u64(&mut rng));
            assert_eq!(a.cmp(&b), enc(encode_u64, a).cmp(&enc(encode_u64, b)));
            assert_eq!(
                b.cmp(&a),
                enc(encode_u64_desc, a).cmp(&enc(encode_u64_desc, b))
            );
            let (x, y) = (a as i64, b as i64);
            assert_eq!(x.cmp(&y), enc_i(encode_i64, x).cmp(&enc_i(encode_i64, y)));
        }
    }

    #[test]
    fn floats_keep_order_and_fold_negative_zero() {
        let enc_f = |v: f64| {
            let mut b = vec![];
            encode_f64(&mut b, v);
            b
        };
        assert_eq!(enc_f(0.0), [0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(enc_f(-0.0), enc_f(0.0));
        assert_eq!(enc_f(1.0), [0xBF, 0xF0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            enc_f(-1.0),
            [0x40, 0x0F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
        assert!(enc_f(f64::NAN) > enc_f(f64::INFINITY));
        let b = enc_f(f64::NAN);
        assert!(decode_f64(&mut b.as_slice()).unwrap().is_nan());

        let mut rng = StdRng::seed_from_u64(13);
        let sample = |rng: &mut StdRng| match rng.random_range(0..5) {
            0 => rng.random_range(-3..3) as f64,
            1 => f64::from_bits(rng.random::<u64>()),
            2 => [
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::MIN_POSITIVE,
                -0.0,
                f64::MAX,
            ][rng.random_range(0..5)],
            _ => rng.random_range(-1e6..1e6),
        };
        for _ in 0..5000 {
            let (a, b) = (sample(&mut rng), sample(&mut rng));
            if a.is_nan() || b.is_nan() {
                continue;
            }
            let (ea, eb) = (enc_f(a), enc_f(b));
            assert_eq!(a.partial_cmp(&b).unwrap(), ea.cmp(&eb), "{a} vs {b}");
            let back = decode_f64(&mut ea.as_slice()).unwrap();
            assert_eq!(back, a);
            assert!(back.to_bits() == a.to_bits() || a == 0.0);
        }
    }

    #[test]
    fn truncated_and_overlong_input_fails() {
        let mut s: &[u8] = &[1, 2, 3];
        assert_eq!(
            decode_u64(&mut s),
            Err(Error::Eof {
                needed: 8,
                remaining: 3
            })
        );
        let mut s: &[u8] = &[0x80, 0x80];
        assert!(matches!(decode_var_u64(&mut s), Err(Error::Eof { .. })));
        let mut s: &[u8] = &[0xFF; 11];
        assert_eq!(decode_var_u64(&mut s), Err(Error::VarIntOverflow));
        let mut s: &[u8] = &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02];
        assert_eq!(decode_var_u64(&mut s), Err(Error::VarIntOverflow));
    }
}
