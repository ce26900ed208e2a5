//! # Table and index key layout
//!
//! Every SQL row and index entry is a key in the one transactional
//! keyspace, laid out as in TiDB `tablecodec/tablecodec.go`:
//!
//! ```text
//! table prefix  t{table_id}                          74 | i64 (sign-flipped BE)
//! row key       t{table_id}_r{handle}                74 | tid | 5F 72 | handle
//! index key     t{table_id}_i{index_id}{values}      74 | tid | 5F 69 | iid | datums [| handle]
//!
//! handle  Int(h):         sign-flipped BE i64 (no flag byte)
//!         Common(datums): key::encode_key_datums (clustered primary key)
//! ```
//!
//! Because table and index ids are sign-flipped big-endian, all keys of a
//! table are contiguous and tables are ordered by id, so a table, its
//! records and each of its indexes are key *ranges* ([`table_range`],
//! [`record_range`], [`index_range`]); regions split at table boundaries
//! (DESIGN.md §2). Within the record range, rows sort by handle; within an
//! index range, entries sort by their values (memcomparable datums, see
//! [`crate::key`]).
//!
//! A *unique* index key holds only the values (the handle goes in the
//! value, so a second row with the same values collides on the key); a
//! non-unique index appends the handle, making each entry distinct. An
//! `Int` handle in an index key is an `intFlag` datum (TiDB does the same),
//! so it decodes like any other datum; a common handle's datums follow
//! as they are.
//!
//! Range ends use [`prefix_next`], the smallest key above every key with a
//! prefix; an empty end key means "no upper bound" (the keyspace
//! convention for region and scan ranges).

use crate::datum::Datum;
use crate::error::{Error, Result, take};
use crate::key::{decode_key_datum, decode_key_datums, encode_key_datum, encode_key_datums};
use crate::number::{U64_SIZE, decode_i64, encode_i64};

/// A table's id.
pub type TableId = i64;
/// An index's id, unique within its table.
pub type IndexId = i64;
/// A column's id, unique within its table and never reused.
pub type ColumnId = i64;

const TABLE_PREFIX: &[u8] = b"t";
const RECORD_SEP: &[u8] = b"_r";
const INDEX_SEP: &[u8] = b"_i";
const TABLE_PREFIX_LEN: usize = TABLE_PREFIX.len() + U64_SIZE;

/// How a row is identified: an integer row id / integer primary key, or a
/// clustered (non-integer or composite) primary key's values.
#[derive(Clone, Debug, PartialEq)]
pub enum Handle {
    /// `_tidb_rowid` or an integer primary key.
    Int(i64),
    /// The values of a clustered primary key, in key column order.
    Common(Vec<Datum>),
}

impl Handle {
    /// Appends the handle as it appears at the end of a row key.
    fn encode_row_suffix(&self, buf: &mut Vec<u8>) {
        match self {
            Handle::Int(h) => encode_i64(buf, *h),
            Handle::Common(ds) => encode_key_datums(buf, ds),
        }
    }
}

/// `t{table_id}`: the prefix of every key of the table.
pub fn table_prefix(table_id: TableId) -> Vec<u8> {
    let mut buf = Vec::with_capacity(TABLE_PREFIX_LEN + 2 + U64_SIZE);
    buf.extend_from_slice(TABLE_PREFIX);
    encode_i64(&mut buf, table_id);
    buf
}

/// `t{table_id}_r`: the prefix of every row key of the table.
pub fn record_prefix(table_id: TableId) -> Vec<u8> {
    let mut buf = table_prefix(table_id);
    buf.extend_from_slice(RECORD_SEP);
    buf
}

/// `t{table_id}_i{index_id}`: the prefix of every key of the index.
pub fn index_prefix(table_id: TableId, index_id: IndexId) -> Vec<u8> {
    let mut buf = table_prefix(table_id);
    buf.extend_from_slice(INDEX_SEP);
    encode_i64(&mut buf, index_id);
    buf
}

/// The row key of `handle` in the table.
pub fn encode_row_key(table_id: TableId, handle: &Handle) -> Vec<u8> {
    let mut buf = record_prefix(table_id);
    handle.encode_row_suffix(&mut buf);
    buf
}

/// Strips `t{id}{sep}` off `key`, returning the table id.
fn decode_prefix(key: &mut &[u8], sep: &[u8], expected: &'static str) -> Result<TableId> {
    let bad = || Error::BadKeyPrefix { expected };
    if key.len() < TABLE_PREFIX_LEN + sep.len() || !key.starts_with(TABLE_PREFIX) {
        return Err(bad());
    }
    *key = &key[TABLE_PREFIX.len()..];
    let table_id = decode_i64(key)?;
    if take(key, sep.len())? != sep {
        return Err(bad());
    }
    Ok(table_id)
}

/// The table id of a row key (`t{id}_r...`), or None for any other key
/// (index entries, metadata).
pub fn record_table_id(key: &[u8]) -> Option<TableId> {
    let mut rest = key;
    decode_prefix(&mut rest, RECORD_SEP, "row").ok()
}

/// The table id of any key of a table (a row `t{id}_r...` or an index
/// entry `t{id}_i...`), or None for other keys (metadata).
pub fn key_table_id(key: &[u8]) -> Option<TableId> {
    let mut rest = key.strip_prefix(TABLE_PREFIX)?;
    decode_i64(&mut rest).ok()
}

/// Splits a row key into table id and handle; `common` says whether the
/// table uses common (clustered, datum) handles.
pub fn decode_row_key(key: &[u8], common: bool) -> Result<(TableId, Handle)> {
    let mut rest = key;
    let table_id = decode_prefix(&mut rest, RECORD_SEP, "row")?;
    let handle = if common {
        let ds = decode_key_datums(&mut rest)?;
        if ds.is_empty() {
            return Err(Error::KeyLength {
                len: key.len(),
                expected: key.len() + 1,
            });
        }
        Handle::Common(ds)
    } else {
        if rest.len() != U64_SIZE {
            return Err(Error::KeyLength {
                len: key.len(),
                expected: TABLE_PREFIX_LEN + RECORD_SEP.len() + U64_SIZE,
            });
        }
        Handle::Int(decode_i64(&mut rest)?)
    };
    Ok((table_id, handle))
}

/// The key of an index entry: the index prefix, the encoded `values`, and
/// for a non-unique index the row's `handle` (`Int` as an `intFlag` datum,
/// `Common` as its datums); pass `None` for a unique index.
pub fn encode_index_key(
    table_id: TableId,
    index_id: IndexId,
    values: &[Datum],
    handle: Option<&Handle>,
) -> Vec<u8> {
    let mut buf = index_prefix(table_id, index_id);
    encode_key_datums(&mut buf, values);
    match handle {
        None => {}
        Some(Handle::Int(h)) => encode_key_datum(&mut buf, &Datum::I64(*h)),
        Some(Handle::Common(ds)) => encode_key_datums(&mut buf, ds),
    }
    buf
}

/// Splits an index key into table id, index id, the first `n_values`
/// datums (the indexed values) and the remaining datums (the handle of a
/// non-unique index entry; empty for a unique one).
pub fn decode_index_key(
    key: &[u8],
    n_values: usize,
) -> Result<(TableId, IndexId, Vec<Datum>, Vec<Datum>)> {
    let mut rest = key;
    let table_id = decode_prefix(&mut rest, INDEX_SEP, "index")?;
    let index_id = decode_i64(&mut rest)?;
    let values = (0..n_values)
        .map(|_| decode_key_datum(&mut rest))
        .collect::<Result<Vec<_>>>()?;
    let handle = decode_key_datums(&mut rest)?;
    Ok((table_id, index_id, values, handle))
}

/// The smallest key greater than every key starting with `prefix`: drop
/// trailing `0xFF` bytes and increment the last remaining byte. Empty
/// (= unbounded) if `prefix` is empty or all `0xFF`.
pub fn prefix_next(prefix: &[u8]) -> Vec<u8> {
    let mut next = prefix.to_vec();
    while let Some(last) = next.pop() {
        if last != 0xFF {
            next.push(last + 1);
            return next;
        }
    }
    next
}

/// `[t{id}, t{id+1})`: every key of the table.
pub fn table_range(table_id: TableId) -> (Vec<u8>, Vec<u8>) {
    let start = table_prefix(table_id);
    // The exact next prefix, so range ends match region split keys.
    let end = match table_id.checked_add(1) {
        Some(next) => table_prefix(next),
        None => prefix_next(&start),
    };
    (start, end)
}

/// `[t{id}_r, t{id}_s)`: every row key of the table.
pub fn record_range(table_id: TableId) -> (Vec<u8>, Vec<u8>) {
    let start = record_prefix(table_id);
    let end = prefix_next(&start);
    (start, end)
}

/// `[t{id}_i{index_id}, t{id}_i{index_id+1})`: every key of one index.
pub fn index_range(table_id: TableId, index_id: IndexId) -> (Vec<u8>, Vec<u8>) {
    let start = index_prefix(table_id, index_id);
    let end = match index_id.checked_add(1) {
        Some(next) => index_prefix(table_id, next),
        None => prefix_next(&start),
    };
    (start, end)
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::decimal::Decimal;

    fn in_range(key: &[u8], (start, end): &(Vec<u8>, Vec<u8>)) -> bool {
        key >= start.as_slice() && (end.is_empty() || key < end.as_slice())
    }

    #[test]
    fn record_table_id_tells_row_keys_apart() {
        assert_eq!(
            record_table_id(&encode_row_key(42, &Handle::Int(-7))),
            Some(42)
        );
        assert_eq!(record_table_id(&record_prefix(9)), Some(9));
        assert_eq!(record_table_id(&index_prefix(42, 1)), None);
        assert_eq!(record_table_id(b"mSchemaVersion"), None);
        assert_eq!(record_table_id(b""), None);
    }

    #[test]
    fn tidb_vectors() {
        assert_eq!(table_prefix(1), b"t\x80\x00\x00\x00\x00\x00\x00\x01");
        assert_eq!(
            encode_row_key(1, &Handle::Int(2)),
            b"t\x80\x00\x00\x00\x00\x00\x00\x01_r\x80\x00\x00\x00\x00\x00\x00\x02"
        );
        assert_eq!(
            encode_index_key(1, 2, &[Datum::I64(3)], None),
            b"t\x80\x00\x00\x00\x00\x00\x00\x01_i\x80\x00\x00\x00\x00\x00\x00\x02\x03\x80\x00\x00\x00\x00\x00\x00\x03"
        );
    }

    #[test]
    fn prefix_next_cases() {
        assert_eq!(prefix_next(b"ab"), b"ac");
        assert_eq!(prefix_next(b"a\xFF\xFF"), b"b");
        assert_eq!(prefix_next(b"\xFF\xFF"), b"");
        assert_eq!(prefix_next(b""), b"");
        assert_eq!(table_range(5).1, table_prefix(6));
        assert_eq!(table_range(-1).1, table_prefix(0));
        assert_eq!(table_range(i64::MAX).1, b"u");
        assert_eq!(record_range(1).1, [&table_prefix(1)[..], b"_s"].concat());
        assert_eq!(index_range(1, 7).1, index_prefix(1, 8));
        assert_eq!(
            index_range(1, i64::MAX).1,
            [&table_prefix(1)[..], b"_j"].concat()
        );
    }

    #[test]
    fn row_keys_round_trip_and_stay_in_range() {
        let mut rng = StdRng::seed_from_u64(41);
        for _ in 0..2000 {
            let table_id: TableId = rng.random_range(-3..3) * rng.random_range(0..i64::MAX / 3);
            let h: i64 = rng.random();
            let key = encode_row_key(table_id, &Handle::Int(h));
            assert_eq!(decode_row_key(&key, false), Ok((table_id, Handle::Int(h))));
            assert!(in_range(&key, &record_range(table_id)));
            assert!(in_range(&key, &table_range(table_id)));
            assert!(!in_range(&key, &index_range(table_id, 1)));
            if table_id < i64::MAX {
                assert!(!in_range(&key, &table_range(table_id + 1)));
            }

            let common = Handle::Common(vec![
                Datum::Bytes(vec![b'k'; rng.random_range(0..20)]),
                Datum::Decimal(Decimal::new(rng.random_range(-99..99), 1)),
            ]);
            let key = encode_row_key(table_id, &common);
            assert_eq!(decode_row_key(&key, true), Ok((table_id, common)));
            assert!(in_range(&key, &record_range(table_id)));
        }
    }

    #[test]
    fn rows_sort_by_handle() {
        let mut rng = StdRng::seed_from_u64(42);
        for _ in 0..2000 {
            let (a, b): (i64, i64) = (rng.random(), rng.random());
            let (ka, kb) = (
                encode_row_key(7, &Handle::Int(a)),
                encode_row_key(7, &Handle::Int(b)),
            );
            assert_eq!(a.cmp(&b), ka.cmp(&kb));
        }
    }

    #[test]
    fn index_keys_round_trip() {
        let values = vec![Datum::Bytes(b"alice".to_vec()), Datum::Null, Datum::U64(9)];
        let unique = encode_index_key(3, 4, &values, None);
        assert_eq!(
            decode_index_key(&unique, 3),
            Ok((3, 4, values.clone(), vec![]))
        );
        let non_unique = encode_index_key(3, 4, &values, Some(&Handle::Int(-5)));
        assert_eq!(
            decode_index_key(&non_unique, 3),
            Ok((3, 4, values.clone(), vec![Datum::I64(-5)]))
        );
        let handle = vec![Datum::Bytes(b"pk".to_vec()), Datum::I64(1)];
        let clustered = encode_index_key(3, 4, &values, Some(&Handle::Common(handle.clone())));
        assert_eq!(
            decode_index_key(&clustered, 3),
            Ok((3, 4, values.clone(), handle))
        );
        for key in [&unique, &non_unique, &clustered] {
            assert!(in_range(key, &index_range(3, 4)));
            assert!(!in_range(key, &index_range(3, 5)));
            assert!(!in_range(key, &record_range(3)));
            assert!(in_range(key, &table_range(3)));
        }
        // The non-unique entry sorts right after the unique one with the
        // same values, and entries sort by value first.
        assert!(unique < non_unique);
        let larger = encode_index_key(
            3,
            4,
            &[Datum::Bytes(b"bob".to_vec())],
            Some(&Handle::Int(-9)),
        );
        assert!(non_unique < larger && clustered < larger);
    }

    #[test]
    fn malformed_keys_fail() {
        let row = encode_row_key(1, &Handle::Int(2));
        let index = encode_index_key(1, 2, &[Datum::I64(3)], None);
        assert_eq!(
            decode_row_key(b"", false),
            Err(Error::BadKeyPrefix { expected: "row" })
        );
        assert_eq!(
            decode_row_key(&index, false),
            Err(Error::BadKeyPrefix { expected: "row" })
        );
        assert!(decode_row_key(&row[..row.len() - 1], false).is_err());
        assert!(decode_row_key(&[row.as_slice(), b"x"].concat(), false).is_err());
        assert!(decode_row_key(&record_prefix(1), true).is_err());
        assert_eq!(
            decode_index_key(&row, 0),
            Err(Error::BadKeyPrefix { expected: "index" })
        );
        assert!(decode_index_key(&index, 2).is_err());
        assert!(decode_index_key(&index[..index.len() - 2], 1).is_err());
        let mut m = row.clone();
        m[0] = b'm';
        assert!(decode_row_key(&m, false).is_err());
        let mut rng = StdRng::seed_from_u64(43);
        for _ in 0..5000 {
            let mut k = row.clone();
            let i = rng.random_range(0..k.len());
            k[i] = rng.random();
            k.truncate(rng.random_range(0..=k.len()));
            let _ = decode_row_key(&k, rng.random());
            let _ = decode_index_key(&k, rng.random_range(0..3));
        }
    }
}
