//! # Memcomparable datum encoding (index and common-handle keys)
//!
//! Every datum in a key is one flag byte followed by a memcomparable body,
//! as in TiDB `util/codec/codec.go` (`EncodeKey`). Concatenating encoded
//! datums gives a tuple encoding whose byte order is the lexicographic
//! order of the tuples, because every body is prefix-free (self-delimiting).
//!
//! ```text
//! flag  body                                          TiDB name
//! 0x00  (none)                       NULL             NilFlag
//! 0x01  group-encoded bytes          Bytes            bytesFlag
//! 0x03  sign-flipped i64, BE         I64              intFlag
//! 0x04  u64, BE                      U64              uintFlag
//! 0x05  sign-adjusted f64 bits, BE   F64              floatFlag
//! 0x06  decimal::encode_key          Decimal          decimalFlag (body differs)
//! 0x14  sign-flipped i64, BE         Date             (duet)
//! 0x15  sign-flipped i64, BE         DateTime         (duet)
//! 0x16  sign-flipped i64, BE         Time             (duet)
//!
//! (I64(-1), Bytes("ab")) -> 03 7F FF FF FF FF FF FF FF  01 61 62 00 00 00 00 00 00 F9
//! ```
//!
//! Invariants: within one kind, `a < b` iff `enc(a) < enc(b)`; `NULL` sorts
//! before every value (flag 0). Across kinds the order is the flag order,
//! which only matters for columns that mix kinds (none do). `-0.0` and
//! `0.0` encode identically (so a unique index sees them as equal), and
//! decimals that are equal at different scales encode identically.
//!
//! Deviations from TiDB, all because duet's datums must decode back to the
//! same variant without knowing the column type:
//!
//! * TiDB encodes DATE/DATETIME as `uintFlag` + packed bits and TIME as
//!   `durationFlag` + nanoseconds. duet's temporal datums are plain integers
//!   (days / microseconds), so each gets its own flag (20, 21, 22) followed
//!   by the sign-flipped integer, which sorts like the value.
//! * TiDB's decimal body is `precision, frac, bin`, which only orders values
//!   of one scale; duet's ([`crate::decimal`]) orders across scales.
//!
//! The decoder also accepts TiDB's non-memcomparable `compactBytesFlag`,
//! `varintFlag` and `uvarintFlag` (as Bytes, I64, U64), which carry no
//! ambiguity. `maxFlag` (250) is a range bound, never a stored datum, and is
//! rejected like any other unknown flag.

use crate::bytes::{decode_bytes, decode_compact_bytes, encode_bytes_to};
use crate::datum::{Datum, DatumKind};
use crate::decimal;
use crate::error::{Error, Result, take_u8};
use crate::number::{
    decode_f64, decode_i64, decode_u64, decode_var_i64, decode_var_u64, encode_f64, encode_i64,
    encode_u64,
};

/// TiDB `NilFlag`: SQL NULL, no body.
pub const NIL_FLAG: u8 = 0;
/// TiDB `bytesFlag`: memcomparable group-encoded bytes.
pub const BYTES_FLAG: u8 = 1;
/// TiDB `compactBytesFlag`: varint length + bytes (decoded, never encoded).
pub const COMPACT_BYTES_FLAG: u8 = 2;
/// TiDB `intFlag`: sign-flipped big-endian i64.
pub const INT_FLAG: u8 = 3;
/// TiDB `uintFlag`: big-endian u64.
pub const UINT_FLAG: u8 = 4;
/// TiDB `floatFlag`: memcomparable f64.
pub const FLOAT_FLAG: u8 = 5;
/// TiDB `decimalFlag` (duet's own body, see [`crate::decimal`]).
pub const DECIMAL_FLAG: u8 = 6;
/// TiDB `durationFlag`: not produced by duet (TIME uses [`TIME_FLAG`]).
pub const DURATION_FLAG: u8 = 7;
/// TiDB `varintFlag`: zigzag varint i64 (decoded, never encoded).
pub const VARINT_FLAG: u8 = 8;
/// TiDB `uvarintFlag`: varint u64 (decoded, never encoded).
pub const UVARINT_FLAG: u8 = 9;
/// duet: DATE as sign-flipped i64 days.
pub const DATE_FLAG: u8 = 20;
/// duet: DATETIME as sign-flipped i64 microseconds.
pub const DATETIME_FLAG: u8 = 21;
/// duet: TIME as sign-flipped i64 microseconds.
pub const TIME_FLAG: u8 = 22;
/// TiDB `maxFlag`: sorts after every datum; only for range bounds.
pub const MAX_FLAG: u8 = 250;

/// Appends the flag byte and memcomparable body of `d`.
pub fn encode_key_datum(buf: &mut Vec<u8>, d: &Datum) {
    match d {
        Datum::Null => buf.push(NIL_FLAG),
        Datum::I64(v) => {
            buf.push(INT_FLAG);
            encode_i64(buf, *v);
        }
        Datum::U64(v) => {
            buf.push(UINT_FLAG);
            encode_u64(buf, *v);
        }
        Datum::F64(v) => {
            buf.push(FLOAT_FLAG);
            encode_f64(buf, *v);
        }
        Datum::Decimal(v) => {
            buf.push(DECIMAL_FLAG);
            decimal::encode_key(buf, v);
        }
        Datum::Bytes(v) => {
            buf.push(BYTES_FLAG);
            encode_bytes_to(buf, v);
        }
        Datum::Date(v) => {
            buf.push(DATE_FLAG);
            encode_i64(buf, i64::from(*v));
        }
        Datum::DateTime(v) => {
            buf.push(DATETIME_FLAG);
            encode_i64(buf, *v);
        }
        Datum::Time(v) => {
            buf.push(TIME_FLAG);
            encode_i64(buf, *v);
        }
    }
}

/// Appends the encodings of `ds` one after another.
pub fn encode_key_datums(buf: &mut Vec<u8>, ds: &[Datum]) {
    for d in ds {
        encode_key_datum(buf, d);
    }
}

/// Decodes one flagged datum from the front of `data`, advancing it.
pub fn decode_key_datum(data: &mut &[u8]) -> Result<Datum> {
    Ok(match take_u8(data)? {
        NIL_FLAG => Datum::Null,
        BYTES_FLAG => Datum::Bytes(decode_bytes(data)?),
        COMPACT_BYTES_FLAG => Datum::Bytes(decode_compact_bytes(data)?),
        INT_FLAG => Datum::I64(decode_i64(data)?),
        UINT_FLAG => Datum::U64(decode_u64(data)?),
        FLOAT_FLAG => Datum::F64(decode_f64(data)?),
        DECIMAL_FLAG => Datum::Decimal(decimal::decode_key(data)?),
        VARINT_FLAG => Datum::I64(decode_var_i64(data)?),
        UVARINT_FLAG => Datum::U64(decode_var_u64(data)?),
        DATE_FLAG => {
            let v = decode_i64(data)?;
            Datum::Date(i32::try_from(v).map_err(|_| Error::BadValue {
                kind: DatumKind::Date,
                len: 8,
            })?)
        }
        DATETIME_FLAG => Datum::DateTime(decode_i64(data)?),
        TIME_FLAG => Datum::Time(decode_i64(data)?),
        flag => return Err(Error::BadFlag(flag)),
    })
}

/// Decodes flagged datums until `data` is empty.
pub fn decode_key_datums(data: &mut &[u8]) -> Result<Vec<Datum>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        out.push(decode_key_datum(data)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::datum::MAX_TIME_MICROS;
    use crate::decimal::Decimal;

    fn enc(d: &Datum) -> Vec<u8> {
        let mut b = vec![];
        encode_key_datum(&mut b, d);
        b
    }

    fn sample(rng: &mut StdRng, kind: DatumKind) -> Datum {
        let small = rng.random_bool(0.5);
        match kind {
            DatumKind::I64 if small => Datum::I64(rng.random_range(-3..3)),
            DatumKind::I64 => Datum::I64(rng.random()),
            DatumKind::U64 if small => Datum::U64(rng.random_range(0..3)),
            DatumKind::U64 => Datum::U64(rng.random()),
            DatumKind::F64 if small => Datum::F64(f64::from(rng.random_range(-2i8..2)) * 0.5),
            DatumKind::F64 => {
                let f = f64::from_bits(rng.random());
                Datum::F64(if f.is_nan() { f64::NEG_INFINITY } else { f })
            }
            DatumKind::Decimal => {
                let m = if small {
                    rng.random_range(-30..30)
                } else {
                    rng.random::<i64>().into()
                };
                Datum::Decimal(Decimal::new(m, rng.random_range(0..4)))
            }
            DatumKind::Bytes => {
                let len = rng.random_range(0..20);
                Datum::Bytes(
                    (0..len)
                        .map(|_| [0, 1, 0xFF, b'a'][rng.random_range(0..4)])
                        .collect(),
                )
            }
            DatumKind::Date => Datum::Date(rng.random_range(-1000..1000)),
            DatumKind::DateTime => {
                Datum::DateTime(rng.random_range(-5..5) * rng.random_range(0..i64::MAX / 5))
            }
            DatumKind::Time => Datum::Time(rng.random_range(-MAX_TIME_MICROS..=MAX_TIME_MICROS)),
        }
    }

    /// The value order within one kind (`Null` first).
    fn value_cmp(a: &Datum, b: &Datum) -> Ordering {
        match (a, b) {
            (Datum::Null, Datum::Null) => Ordering::Equal,
            (Datum::Null, _) => Ordering::Less,
            (_, Datum::Null) => Ordering::Greater,
            (Datum::I64(x), Datum::I64(y)) => x.cmp(y),
            (Datum::U64(x), Datum::U64(y)) => x.cmp(y),
            (Datum::F64(x), Datum::F64(y)) => x.partial_cmp(y).unwrap(),
            (Datum::Decimal(x), Datum::Decimal(y)) => x.cmp(y),
            (Datum::Bytes(x), Datum::Bytes(y)) => x.cmp(y),
            (Datum::Date(x), Datum::Date(y)) => x.cmp(y),
            (Datum::DateTime(x), Datum::DateTime(y)) | (Datum::Time(x), Datum::Time(y)) => x.cmp(y),
            _ => unreachable!("mixed kinds"),
        }
    }

    const KINDS: [DatumKind; 8] = [
        DatumKind::I64,
        DatumKind::U64,
        DatumKind::F64,
        DatumKind::Decimal,
        DatumKind::Bytes,
        DatumKind::Date,
        DatumKind::DateTime,
        DatumKind::Time,
    ];

    #[test]
    fn tidb_vectors() {
        assert_eq!(enc(&Datum::Null), [0]);
        assert_eq!(
            enc(&Datum::I64(-1)),
            [3, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
        assert_eq!(enc(&Datum::U64(1)), [4, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(enc(&Datum::F64(1.0)), [5, 0xBF, 0xF0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            enc(&Datum::Bytes(b"ab".to_vec())),
            [1, b'a', b'b', 0, 0, 0, 0, 0, 0, 0xF9]
        );
        assert_eq!(enc(&Datum::Date(0)), [20, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(enc(&Datum::F64(-0.0)), enc(&Datum::F64(0.0)));
        assert_eq!(
            enc(&Datum::Decimal(Decimal::new(150, 2))),
            enc(&Datum::Decimal(Decimal::new(15, 1)))
        );
    }

    #[test]
    fn order_matches_value_order_within_each_kind() {
        let mut rng = StdRng::seed_from_u64(31);
        for kind in KINDS {
            for _ in 0..3000 {
                let pick = |rng: &mut StdRng| {
                    if rng.random_ratio(1, 10) {
                        Datum::Null
                    } else {
                        sample(rng, kind)
                    }
                };
                let (a, b) = (pick(&mut rng), pick(&mut rng));
                let (ea, eb) = (enc(&a), enc(&b));
                assert_eq!(value_cmp(&a, &b), ea.cmp(&eb), "{a:?} vs {b:?}");
                // Tuples order lexicographically too.
                let c = sample(&mut rng, kind);
                let (mut ta, mut tb) = (vec![], vec![]);
                encode_key_datums(&mut ta, &[a.clone(), c.clone()]);
                encode_key_datums(&mut tb, &[b.clone(), c.clone()]);
                let expected = value_cmp(&a, &b).then(Ordering::Equal);
                assert_eq!(expected, ta.cmp(&tb));
            }
        }
    }

    #[test]
    fn round_trip() {
        let mut rng = StdRng::seed_from_u64(32);
        for _ in 0..2000 {
            let n = rng.random_range(0..6);
            let ds: Vec<Datum> = (0..n)
                .map(|_| {
                    if rng.random_ratio(1, 8) {
                        Datum::Null
                    } else {
                        let kind = KINDS[rng.random_range(0..KINDS.len())];
                        sample(&mut rng, kind)
                    }
                })
                .collect();
            let mut buf = vec![];
            encode_key_datums(&mut buf, &ds);
            let mut s = buf.as_slice();
            let back = decode_key_datums(&mut s).unwrap();
            assert!(s.is_empty());
            // Decimals come back normalised but numerically equal, which is
            // what `Decimal`'s `PartialEq` compares.
            assert_eq!(back, ds);
            for (d, b) in ds.iter().zip(&back) {
                assert_eq!(d.kind(), b.kind());
            }
        }
    }

    #[test]
    fn tidb_value_flags_decode() {
        let mut buf = vec![
            VARINT_FLAG,
            0x03,
            UVARINT_FLAG,
            0xAC,
            0x02,
            COMPACT_BYTES_FLAG,
        ];
        crate::bytes::encode_compact_bytes(&mut buf, b"hi");
        let mut s = buf.as_slice();
        assert_eq!(
            decode_key_datums(&mut s).unwrap(),
            [
                Datum::I64(-2),
                Datum::U64(300),
                Datum::Bytes(b"hi".to_vec())
            ]
        );
    }

    #[test]
    fn malformed_input_fails() {
        for bad in [
            &[DURATION_FLAG, 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[MAX_FLAG],
            &[INT_FLAG, 0, 0],
            &[BYTES_FLAG, b'a'],
            &[DECIMAL_FLAG, 9],
            &[DATE_FLAG, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        ] {
            let mut s = bad;
            assert!(decode_key_datums(&mut s).is_err(), "{bad:?}");
        }
        let mut rng = StdRng::seed_from_u64(33);
        for _ in 0..20_000 {
            let len = rng.random_range(0..40);
            let junk: Vec<u8> = (0..len).map(|_| rng.random_range(0..24)).collect();
            let _ = decode_key_datums(&mut junk.as_slice());
        }
    }
}
