//! # Row format v2 (row values keyed by column id)
//!
//! A row's value holds its columns by *column id*, not by position, so
//! `ADD COLUMN` needs no rewrite: an old row simply lacks the new id and
//! the reader substitutes the column's default. The layout is TiDB's
//! `util/rowcodec` (row format v2):
//!
//! ```text
//! 80 | flag | n_not_null u16 | n_null u16 | not-null ids | null ids | end offsets | values
//!
//! flag bit 0 (large): ids and offsets are u32 instead of u8 / u16
//! ids:     ascending within each list; u8 each, or u32 LE when large
//! offsets: one per not-null column, the END of its value within `values`
//!          (u16 LE, or u32 LE when large); the last one == values.len()
//!
//! row {1: I64(7), 3: NULL, 2: Bytes("ab")}:
//! 80 00 | 02 00 | 01 00 | 01 02 | 03 | 01 00  03 00 | 07  61 62
//! ```
//!
//! A row is *large* when a column id exceeds 255 or the values exceed
//! 64 KiB. The value encodings are not self-describing; the reader passes
//! the column's [`DatumKind`]:
//!
//! | kind | bytes |
//! |---|---|
//! | I64, Date, DateTime, Time | little-endian two's complement in 1, 2, 4 or 8 bytes, the fewest that hold it |
//! | U64 | little-endian in 1, 2, 4 or 8 bytes |
//! | F64 | the 8-byte memcomparable float ([`crate::number::encode_f64`]) |
//! | Bytes | raw |
//! | Decimal | scale byte, then the mantissa little-endian two's complement in the fewest bytes (1..=16) |
//!
//! The decimal value encoding is duet's own (TiDB stores precision, frac
//! and MySQL's binary decimal): it keeps the scale, so `1.50` reads back as
//! `1.50`. Everything else matches TiDB.
//!
//! [`RowView`] validates the header once (version, sorted ids, monotonic
//! offsets inside the value area) and then reads any column by binary
//! search without copying; corrupt input yields an error, never a panic.

use std::cmp::Ordering;

use crate::datum::{Datum, DatumKind};
use crate::decimal::Decimal;
use crate::error::{Error, Result, take, take_u8};
use crate::number::{decode_f64, encode_f64};
use crate::table::ColumnId;

/// The version byte that opens every v2 row.
pub const ROW_VERSION: u8 = 128;
/// Flag bit: ids are u32 and offsets are u32.
const FLAG_LARGE: u8 = 1;

/// Appends `v` little-endian in the fewest of 1, 2, 4 or 8 bytes.
fn encode_compact_i64(buf: &mut Vec<u8>, v: i64) {
    if let Ok(v) = i8::try_from(v) {
        buf.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i16::try_from(v) {
        buf.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i32::try_from(v) {
        buf.extend_from_slice(&v.to_le_bytes());
    } else {
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends `v` little-endian in the fewest of 1, 2, 4 or 8 bytes.
fn encode_compact_u64(buf: &mut Vec<u8>, v: u64) {
    if let Ok(v) = u8::try_from(v) {
        buf.push(v);
    } else if let Ok(v) = u16::try_from(v) {
        buf.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = u32::try_from(v) {
        buf.extend_from_slice(&v.to_le_bytes());
    } else {
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// Reads a value written by [`encode_compact_i64`].
fn decode_compact_i64(b: &[u8], kind: DatumKind) -> Result<i64> {
    Ok(match *b {
        [x] => i64::from(x as i8),
        [_, _] => i64::from(i16::from_le_bytes([b[0], b[1]])),
        [_, _, _, _] => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        [_, _, _, _, _, _, _, _] => i64::from_le_bytes(b.try_into().expect("8 bytes")),
        _ => return Err(Error::BadValue { kind, len: b.len() }),
    })
}

/// Reads a value written by [`encode_compact_u64`].
fn decode_compact_u64(b: &[u8]) -> Result<u64> {
    if !matches!(b.len(), 1 | 2 | 4 | 8) {
        return Err(Error::BadValue {
            kind: DatumKind::U64,
            len: b.len(),
        });
    }
    let mut le = [0u8; 8];
    le[..b.len()].copy_from_slice(b);
    Ok(u64::from_le_bytes(le))
}

/// Appends the scale byte and the mantissa in the fewest bytes that keep
/// its two's complement sign.
fn encode_decimal(buf: &mut Vec<u8>, d: &Decimal) {
    buf.push(d.scale());
    let le = d.mantissa().to_le_bytes();
    let mut n = le.len();
    // Drop a top byte while it is pure sign extension of the one below.
    while n > 1 {
        let (top, below) = (le[n - 1], le[n - 2]);
        if (top == 0x00 && below < 0x80) || (top == 0xFF && below >= 0x80) {
            n -= 1;
        } else {
            break;
        }
    }
    buf.extend_from_slice(&le[..n]);
}

/// Reads a value written by [`encode_decimal`].
fn decode_decimal(b: &[u8]) -> Result<Decimal> {
    let Some((&scale, m)) = b.split_first() else {
        return Err(Error::BadDecimal);
    };
    if m.is_empty() || m.len() > 16 {
        return Err(Error::BadDecimal);
    }
    let fill = if m[m.len() - 1] >= 0x80 { 0xFF } else { 0x00 };
    let mut le = [fill; 16];
    le[..m.len()].copy_from_slice(m);
    Decimal::try_new(i128::from_le_bytes(le), scale).ok_or(Error::BadDecimal)
}

/// Appends the value bytes of a non-null datum.
fn encode_value(buf: &mut Vec<u8>, d: &Datum) {
    match d {
        Datum::Null => unreachable!("nulls are in the null id list"),
        Datum::I64(v) | Datum::DateTime(v) | Datum::Time(v) => encode_compact_i64(buf, *v),
        Datum::Date(v) => encode_compact_i64(buf, i64::from(*v)),
        Datum::U64(v) => encode_compact_u64(buf, *v),
        Datum::F64(v) => encode_f64(buf, *v),
        Datum::Decimal(v) => encode_decimal(buf, v),
        Datum::Bytes(v) => buf.extend_from_slice(v),
    }
}

/// A column of a row, not yet decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawColumn<'a> {
    /// The row has no such column (written before it was added).
    Absent,
    Null,
    /// The value bytes, read with [`decode_value`] and the column's kind.
    Value(&'a [u8]),
}

/// Reads the value bytes of a column of `kind`.
pub fn decode_value(b: &[u8], kind: DatumKind) -> Result<Datum> {
    let bad = || Error::BadValue { kind, len: b.len() };
    Ok(match kind {
        DatumKind::I64 => Datum::I64(decode_compact_i64(b, kind)?),
        DatumKind::U64 => Datum::U64(decode_compact_u64(b)?),
        DatumKind::F64 => {
            if b.len() != 8 {
                return Err(bad());
            }
            Datum::F64(decode_f64(&mut &b[..])?)
        }
        DatumKind::Decimal => Datum::Decimal(decode_decimal(b)?),
        DatumKind::Bytes => Datum::Bytes(b.to_vec()),
        DatumKind::Date => {
            let v = decode_compact_i64(b, kind)?;
            Datum::Date(i32::try_from(v).map_err(|_| bad())?)
        }
        DatumKind::DateTime => Datum::DateTime(decode_compact_i64(b, kind)?),
        DatumKind::Time => Datum::Time(decode_compact_i64(b, kind)?),
    })
}

/// Appends the row-format-v2 encoding of `cols` (any order; `Null` datums
/// go to the null list).
///
/// # Panics
///
/// If a column id is outside `0..=u32::MAX` or appears twice, if more than
/// 65535 columns are null or not null, or if the values exceed 4 GiB: all
/// are schema bugs, not data errors.
pub fn encode_row(buf: &mut Vec<u8>, cols: &[(ColumnId, &Datum)]) {
    let mut not_null: Vec<(u32, &Datum)> = Vec::with_capacity(cols.len());
    let mut nulls: Vec<u32> = Vec::new();
    for &(id, d) in cols {
        let id = u32::try_from(id).expect("column id must be in 0..=u32::MAX");
        if d.is_null() {
            nulls.push(id);
        } else {
            not_null.push((id, d));
        }
    }
    not_null.sort_unstable_by_key(|&(id, _)| id);
    nulls.sort_unstable();
    let mut all: Vec<u32> = not_null
        .iter()
        .map(|&(id, _)| id)
        .chain(nulls.iter().copied())
        .collect();
    all.sort_unstable();
    assert!(
        all.windows(2).all(|w| w[0] != w[1]),
        "duplicate column id in row"
    );

    let mut values = Vec::new();
    let mut ends = Vec::with_capacity(not_null.len());
    for (_, d) in &not_null {
        encode_value(&mut values, d);
        ends.push(u32::try_from(values.len()).expect("row values exceed 4 GiB"));
    }
    let large = values.len() > usize::from(u16::MAX) || all.last().is_some_and(|&id| id > 255);
    let count = |n: usize| u16::try_from(n).expect("more than 65535 columns in row");

    buf.push(ROW_VERSION);
    buf.push(if large { FLAG_LARGE } else { 0 });
    buf.extend_from_slice(&count(not_null.len()).to_le_bytes());
    buf.extend_from_slice(&count(nulls.len()).to_le_bytes());
    for id in not_null.iter().map(|&(id, _)| id).chain(nulls) {
        if large {
            buf.extend_from_slice(&id.to_le_bytes());
        } else {
            buf.push(id as u8);
        }
    }
    for end in ends {
        if large {
            buf.extend_from_slice(&end.to_le_bytes());
        } else {
            buf.extend_from_slice(&(end as u16).to_le_bytes());
        }
    }
    buf.extend_from_slice(&values);
}

/// A validated, zero-copy view of an encoded row.
#[derive(Clone, Copy, Debug)]
pub struct RowView<'a> {
    large: bool,
    not_null_ids: &'a [u8],
    null_ids: &'a [u8],
    offsets: &'a [u8],
    values: &'a [u8],
}

/// Reads entry `i` of a packed array of 1-, 2- or 4-byte LE integers.
fn read_entry(arr: &[u8], width: usize, i: usize) -> u32 {
    let b = &arr[i * width..(i + 1) * width];
    match width {
        1 => u32::from(b[0]),
        2 => u32::from(u16::from_le_bytes([b[0], b[1]])),
        _ => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
    }
}

impl<'a> RowView<'a> {
    /// Checks the header of `data` and returns a view for reading columns.
    pub fn new(data: &'a [u8]) -> Result<Self> {
        let mut s = data;
        if take_u8(&mut s)? != ROW_VERSION {
            return Err(Error::BadRow("not a row format v2 value"));
        }
        let flag = take_u8(&mut s)?;
        if flag & !FLAG_LARGE != 0 {
            return Err(Error::BadRow("unknown flag bits"));
        }
        let large = flag & FLAG_LARGE != 0;
        let mut count = || take(&mut s, 2).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])));
        let (n_not_null, n_null) = (count()?, count()?);
        let (id_width, offset_width) = if large { (4, 4) } else { (1, 2) };
        let view = RowView {
            large,
            not_null_ids: take(&mut s, n_not_null * id_width)?,
            null_ids: take(&mut s, n_null * id_width)?,
            offsets: take(&mut s, n_not_null * offset_width)?,
            values: s,
        };
        view.validate()?;
        Ok(view)
    }

    fn id_width(&self) -> usize {
        if self.large { 4 } else { 1 }
    }

    fn offset_width(&self) -> usize {
        if self.large { 4 } else { 2 }
    }

    fn ids(&self, list: &'a [u8]) -> impl Iterator<Item = u32> + 'a {
        let w = self.id_width();
        (0..list.len() / w).map(move |i| read_entry(list, w, i))
    }

    /// Ids strictly ascending and disjoint; offsets ascending, ending at
    /// the end of the value area.
    fn validate(&self) -> Result<()> {
        let ascending = |list| {
            let ids: Vec<u32> = self.ids(list).collect();
            ids.windows(2).all(|w| w[0] < w[1])
        };
        if !ascending(self.not_null_ids) || !ascending(self.null_ids) {
            return Err(Error::BadRow("column ids not ascending"));
        }
        if self.column_ids().windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::BadRow("column id both null and not null"));
        }
        let n = self.not_null_ids.len() / self.id_width();
        let mut prev = 0;
        for i in 0..n {
            let end = read_entry(self.offsets, self.offset_width(), i) as usize;
            if end < prev {
                return Err(Error::BadRow("value offsets not ascending"));
            }
            prev = end;
        }
        if prev != self.values.len() {
            return Err(Error::BadRow("value offsets do not cover the values"));
        }
        Ok(())
    }

    /// Binary search for `id` in a sorted id list.
    fn find(&self, list: &[u8], id: u32) -> Option<usize> {
        let w = self.id_width();
        let (mut lo, mut hi) = (0, list.len() / w);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match read_entry(list, w, mid).cmp(&id) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// Column `id` decoded as `kind`: `None` if the row lacks the column
    /// (use its default), `Some(Datum::Null)` if it is NULL.
    pub fn get(&self, id: ColumnId, kind: DatumKind) -> Result<Option<Datum>> {
        match self.raw(id) {
            RawColumn::Absent => Ok(None),
            RawColumn::Null => Ok(Some(Datum::Null)),
            RawColumn::Value(b) => decode_value(b, kind).map(Some),
        }
    }

    /// Column `id` without decoding it.
    pub fn raw(&self, id: ColumnId) -> RawColumn<'a> {
        let Ok(id) = u32::try_from(id) else {
            return RawColumn::Absent;
        };
        if let Some(i) = self.find(self.not_null_ids, id) {
            let w = self.offset_width();
            let start = if i == 0 {
                0
            } else {
                read_entry(self.offsets, w, i - 1) as usize
            };
            let end = read_entry(self.offsets, w, i) as usize;
            let values: &'a [u8] = self.values;
            return RawColumn::Value(&values[start..end]);
        }
        match self.find(self.null_ids, id) {
            Some(_) => RawColumn::Null,
            None => RawColumn::Absent,
        }
    }

    /// Every column id present in the row (null or not), ascending.
    pub fn column_ids(&self) -> Vec<ColumnId> {
        let mut ids: Vec<ColumnId> = self
            .ids(self.not_null_ids)
            .chain(self.ids(self.null_ids))
            .map(ColumnId::from)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Whether the row uses 4-byte ids and offsets.
    pub fn is_large(&self) -> bool {
        self.large
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn encode(cols: &[(ColumnId, Datum)]) -> Vec<u8> {
        let refs: Vec<(ColumnId, &Datum)> = cols.iter().map(|(id, d)| (*id, d)).collect();
        let mut buf = vec![];
        encode_row(&mut buf, &refs);
        buf
    }

    fn random_datum(rng: &mut StdRng) -> Datum {
        match rng.random_range(0..10) {
            0 => Datum::Null,
            1 => Datum::I64(rng.random::<i64>() >> rng.random_range(0..64)),
            2 => Datum::U64(rng.random::<u64>() >> rng.random_range(0..64)),
            3 => Datum::F64(rng.random_range(-1e9..1e9)),
            4 => {
                let m = rng.random::<i128>() >> rng.random_range(2..128);
                Datum::Decimal(Decimal::new(m, rng.random_range(0..=30)))
            }
            5 => Datum::Bytes((0..rng.random_range(0..40)).map(|_| rng.random()).collect()),
            6 => Datum::Date(rng.random_range(-800_000..3_000_000)),
            7 => Datum::DateTime(rng.random()),
            8 => Datum::Time(rng.random_range(-3_020_399_999_999..3_020_399_999_999)),
            _ => Datum::I64(rng.random_range(-200..200)),
        }
    }

    /// The kind to read a datum back with (any kind works for Null).
    fn kind_of(d: &Datum) -> DatumKind {
        d.kind().unwrap_or(DatumKind::Bytes)
    }

    /// Asserts every column reads back exactly (decimals with their scale).
    fn assert_round_trip(cols: &[(ColumnId, Datum)], row: &[u8]) {
        let view = RowView::new(row).unwrap();
        for (id, d) in cols {
            let got = view.get(*id, kind_of(d)).unwrap();
            assert_eq!(got.as_ref(), Some(d), "column {id}");
            if let (Some(Datum::Decimal(a)), Datum::Decimal(b)) = (&got, d) {
                assert_eq!((a.mantissa(), a.scale()), (b.mantissa(), b.scale()));
            }
        }
        let mut ids: Vec<ColumnId> = cols.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        assert_eq!(view.column_ids(), ids);
    }

    #[test]
    fn tidb_layout_vector() {
        let row = encode(&[
            (1, Datum::I64(7)),
            (3, Datum::Null),
            (2, Datum::Bytes(b"ab".to_vec())),
        ]);
        assert_eq!(
            row,
            [
                0x80, 0x00, 0x02, 0x00, 0x01, 0x00, 0x01, 0x02, 0x03, 0x01, 0x00, 0x03, 0x00, 0x07,
                b'a', b'b'
            ]
        );
        assert_eq!(encode(&[]), [0x80, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn compact_value_widths() {
        let width = |d: Datum| encode(&[(1, d)]).len() - 9; // header 6 + id 1 + offset 2
        assert_eq!(width(Datum::I64(-128)), 1);
        assert_eq!(width(Datum::I64(128)), 2);
        assert_eq!(width(Datum::I64(-32_769)), 4);
        assert_eq!(width(Datum::I64(1 << 31)), 8);
        assert_eq!(width(Datum::U64(255)), 1);
        assert_eq!(width(Datum::U64(65_536)), 4);
        assert_eq!(width(Datum::U64(u64::MAX)), 8);
        assert_eq!(width(Datum::F64(1.5)), 8);
        assert_eq!(width(Datum::Decimal(Decimal::new(-128, 2))), 2);
        assert_eq!(width(Datum::Decimal(Decimal::new(128, 2))), 3);
        assert_eq!(width(Datum::Decimal(Decimal::new(0, 0))), 2);
        assert_eq!(
            width(Datum::Decimal(Decimal::new(-(10i128.pow(38) - 1), 30))),
            17
        );
        assert_eq!(width(Datum::Date(19_000)), 2);
    }

    #[test]
    fn round_trip_many_columns() {
        let mut rng = StdRng::seed_from_u64(51);
        for _ in 0..500 {
            let n = rng.random_range(0..60);
            let max_id = if rng.random_bool(0.3) { 100_000 } else { 255 };
            let mut ids: Vec<ColumnId> = (0..n).map(|_| rng.random_range(0..=max_id)).collect();
            ids.sort_unstable();
            ids.dedup();
            let cols: Vec<(ColumnId, Datum)> = ids
                .into_iter()
                .rev()
                .map(|id| (id, random_datum(&mut rng)))
                .collect();
            let row = encode(&cols);
            assert_round_trip(&cols, &row);
            let view = RowView::new(&row).unwrap();
            assert_eq!(view.is_large(), cols.iter().any(|(id, _)| *id > 255));
        }
    }

    #[test]
    fn large_ids_and_values() {
        let cols = vec![
            (256, Datum::I64(1)),
            (3, Datum::Null),
            (u32::MAX as i64, Datum::U64(2)),
        ];
        let row = encode(&cols);
        assert!(RowView::new(&row).unwrap().is_large());
        assert_round_trip(&cols, &row);

        let big = vec![0xAB; 70_000];
        let cols = vec![
            (1, Datum::Bytes(big)),
            (2, Datum::I64(-1)),
            (4, Datum::Null),
        ];
        let row = encode(&cols);
        let view = RowView::new(&row).unwrap();
        assert!(view.is_large());
        assert_round_trip(&cols, &row);
        assert_eq!(view.get(1 << 40, DatumKind::I64), Ok(None));
        assert_eq!(view.get(-1, DatumKind::I64), Ok(None));
    }

    #[test]
    fn absent_is_not_null() {
        let row = encode(&[(1, Datum::I64(1)), (5, Datum::Null)]);
        let view = RowView::new(&row).unwrap();
        assert_eq!(view.get(5, DatumKind::I64), Ok(Some(Datum::Null)));
        assert_eq!(view.get(3, DatumKind::I64), Ok(None)); // added later: use default
        assert_eq!(view.get(0, DatumKind::I64), Ok(None));
        assert_eq!(view.get(6, DatumKind::I64), Ok(None));
        assert_eq!(view.column_ids(), [1, 5]);
    }

    #[test]
    fn kind_mismatch_is_an_error() {
        let row = encode(&[
            (1, Datum::Bytes(b"abc".to_vec())),
            (2, Datum::I64(i64::MAX)),
        ]);
        let view = RowView::new(&row).unwrap();
        assert_eq!(
            view.get(1, DatumKind::I64),
            Err(Error::BadValue {
                kind: DatumKind::I64,
                len: 3
            })
        );
        assert!(view.get(1, DatumKind::F64).is_err());
        assert!(view.get(2, DatumKind::Date).is_err());
        // Bytes reads whatever is stored.
        assert_eq!(
            view.get(2, DatumKind::Bytes),
            Ok(Some(Datum::Bytes(i64::MAX.to_le_bytes().to_vec())))
        );
    }

    #[test]
    #[should_panic(expected = "duplicate column id")]
    fn duplicate_ids_panic() {
        encode(&[(1, Datum::I64(1)), (1, Datum::Null)]);
    }

    #[test]
    fn corrupt_headers_fail() {
        let row = encode(&[(1, Datum::I64(1)), (2, Datum::I64(2)), (3, Datum::Null)]);
        let corrupt = |i: usize, v: u8| {
            let mut r = row.clone();
            r[i] = v;
            RowView::new(&r).map(|_| ())
        };
        assert_eq!(
            corrupt(0, 0x7F),
            Err(Error::BadRow("not a row format v2 value"))
        );
        assert_eq!(corrupt(1, 0x02), Err(Error::BadRow("unknown flag bits")));
        assert_eq!(
            corrupt(6, 0x02),
            Err(Error::BadRow("column ids not ascending"))
        );
        assert_eq!(
            corrupt(8, 0x02),
            Err(Error::BadRow("column id both null and not null"))
        );
        assert_eq!(
            corrupt(9, 0x03),
            Err(Error::BadRow("value offsets not ascending"))
        );
        assert_eq!(
            corrupt(11, 0x03),
            Err(Error::BadRow("value offsets do not cover the values"))
        );
        assert!(RowView::new(&row[..row.len() - 1]).is_err());
        assert!(RowView::new(&[row.as_slice(), &[0]].concat()).is_err());
        assert!(RowView::new(&[]).is_err());
    }

    #[test]
    fn fuzz_never_panics() {
        let mut rng = StdRng::seed_from_u64(52);
        let kinds = [
            DatumKind::I64,
            DatumKind::U64,
            DatumKind::F64,
            DatumKind::Decimal,
            DatumKind::Bytes,
            DatumKind::Date,
            DatumKind::DateTime,
            DatumKind::Time,
        ];
        let probe = |data: &[u8], rng: &mut StdRng| {
            if let Ok(view) = RowView::new(data) {
                for id in view.column_ids().into_iter().chain([0, 1, 300]) {
                    let _ = view.get(id, kinds[rng.random_range(0..kinds.len())]);
                }
            }
        };
        for _ in 0..20_000 {
            // Pure noise, mostly with a valid version byte.
            let len = rng.random_range(0..48);
            let mut junk: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            if !junk.is_empty() && rng.random_bool(0.8) {
                junk[0] = ROW_VERSION;
                if junk.len() > 1 {
                    junk[1] &= FLAG_LARGE;
                }
            }
            probe(&junk, &mut rng);
            // A valid row with a few bytes changed and maybe truncated.
            let cols: Vec<(ColumnId, Datum)> = (0..rng.random_range(0..6))
                .map(|i| (i * rng.random_range(1..100), random_datum(&mut rng)))
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_iter()
                .collect();
            let mut row = encode(&cols);
            for _ in 0..rng.random_range(1..4) {
                let i = rng.random_range(0..row.len());
                row[i] = rng.random();
            }
            row.truncate(rng.random_range(0..=row.len()));
            probe(&row, &mut rng);
        }
    }
}
