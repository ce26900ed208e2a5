//! A table's rows and index entries as KV pairs (DESIGN.md §2):
//!
//! ```text
//! record:        t{table}_r{handle}                  -> row (codec::row, by column id)
//! unique index:  t{table}_i{index}{values}           -> handle
//! other index:   t{table}_i{index}{values}{handle}   -> "0"
//! ```
//!
//! The handle is the integer primary key itself when the table has one
//! (that column is then not repeated in the row value), the encoded
//! primary-key values for other primary keys (clustered), or a hidden
//! auto-allocated row id. A unique index entry whose values contain NULL is
//! stored like a non-unique one (with the handle in the key): MySQL allows
//! any number of NULLs in a unique index.
//!
//! While a column's type is being changed, writes also keep its hidden
//! copy and the copies of its indexes, and then for a while the old
//! column and indexes ([`changing`]).

pub mod changing;

use codec::datum::Datum;
use codec::table::{self as keys, Handle};

use crate::catalog::model::{ColumnInfo, DefaultValue, HandleKind, IndexInfo, TableInfo};
use crate::error::{Error, Result};
use crate::types::{Target, convert};

pub fn record_key(t: &TableInfo, handle: &Handle) -> Vec<u8> {
    keys::encode_row_key(t.id, handle)
}

/// The integer handle of an integer primary key value.
pub fn int_handle(v: &Datum) -> Result<i64> {
    match v {
        Datum::I64(i) => Ok(*i),
        // Unsigned keys keep their bit pattern (TiDB does the same).
        Datum::U64(u) => Ok(*u as i64),
        other => Err(Error::internal(format!(
            "integer primary key holds {other:?}"
        ))),
    }
}

/// The handle of a full row (`row` in column order).
pub fn handle_of(t: &TableInfo, row: &[Datum], row_id: Option<i64>) -> Result<Handle> {
    match &t.handle {
        HandleKind::IntPk(i) => Ok(Handle::Int(int_handle(&row[*i])?)),
        HandleKind::Common => {
            let pk = t
                .primary()
                .ok_or_else(|| Error::internal("clustered table without a primary key"))?;
            Ok(Handle::Common(index_values(t, pk, row)))
        }
        HandleKind::RowId => Ok(Handle::Int(
            row_id.ok_or_else(|| Error::internal("row id missing"))?,
        )),
    }
}

/// The row value: every column but an integer primary key (which is the
/// handle).
pub fn encode_record(t: &TableInfo, row: &[Datum]) -> Vec<u8> {
    encode_record_with(t, row, &[])
}

/// The row value with more columns that are not in `t.columns` (a
/// changing column's hidden copy, a removing column, [`changing`]).
pub fn encode_record_with(t: &TableInfo, row: &[Datum], extra: &[(i64, &Datum)]) -> Vec<u8> {
    let skip = match t.handle {
        HandleKind::IntPk(i) => Some(i),
        _ => None,
    };
    let cols: Vec<(i64, &Datum)> = t
        .columns
        .iter()
        .zip(row)
        .enumerate()
        .filter(|(i, _)| Some(*i) != skip)
        .map(|(_, (c, v))| (c.id, v))
        .chain(extra.iter().copied())
        .collect();
    let mut buf = Vec::with_capacity(16 + row.len() * 8);
    codec::row::encode_row(&mut buf, &cols);
    buf
}

/// Decodes the columns at `offsets` of a record.
pub fn decode_record(
    t: &TableInfo,
    key: &[u8],
    value: &[u8],
    offsets: &[usize],
) -> Result<Vec<Datum>> {
    let view = codec::row::RowView::new(value)?;
    let mut handle = None;
    let mut out = Vec::with_capacity(offsets.len());
    for &i in offsets {
        let c = &t.columns[i];
        if let HandleKind::IntPk(pk) = t.handle
            && pk == i
        {
            if handle.is_none() {
                handle = Some(keys::decode_row_key(key, false)?.1);
            }
            let Some(Handle::Int(h)) = &handle else {
                return Err(Error::internal("bad row key"));
            };
            out.push(if c.ft.unsigned {
                Datum::U64(*h as u64)
            } else {
                Datum::I64(*h)
            });
            continue;
        }
        match view.get(c.id, c.ft.datum_kind())? {
            Some(d) => out.push(d),
            None => {
                changing::check_not_replaced(t, c, &view)?;
                out.push(original_default(c)?)
            }
        }
    }
    Ok(out)
}

/// The value an old row has for a column added after it was written.
pub fn original_default(c: &ColumnInfo) -> Result<Datum> {
    if let Some(s) = &c.origin_default {
        let target = Target {
            column: &c.name,
            row: 0,
            strict: false,
        };
        return Ok(convert(Datum::Bytes(s.clone().into_bytes()), &c.ft, &target)?.0);
    }
    match &c.default {
        None | Some(DefaultValue::Null) => Ok(Datum::Null),
        Some(DefaultValue::CurrentTimestamp) => Ok(Datum::Null),
        Some(DefaultValue::Literal(s)) => {
            let target = Target {
                column: &c.name,
                row: 0,
                strict: false,
            };
            Ok(convert(Datum::Bytes(s.clone().into_bytes()), &c.ft, &target)?.0)
        }
    }
}

/// An index's key values for a row (prefix lengths applied).
pub fn index_values(t: &TableInfo, idx: &IndexInfo, row: &[Datum]) -> Vec<Datum> {
    idx.columns
        .iter()
        .map(|ic| {
            let (i, _) = t.column(&ic.name).expect("index column exists");
            match (&row[i], ic.length) {
                (Datum::Bytes(b), Some(n)) => {
                    Datum::Bytes(prefix(b, n as usize, t.columns[i].ft.is_string()))
                }
                (v, _) => v.clone(),
            }
        })
        .collect()
}

fn prefix(b: &[u8], n: usize, chars: bool) -> Vec<u8> {
    if !chars {
        return b[..b.len().min(n)].to_vec();
    }
    match std::str::from_utf8(b) {
        Ok(s) => s.chars().take(n).collect::<String>().into_bytes(),
        Err(_) => b[..b.len().min(n)].to_vec(),
    }
}

/// Whether an index entry holds the handle in its value (unique, no NULL):
/// then its key alone identifies at most one row.
pub fn is_distinct_entry(idx: &IndexInfo, values: &[Datum]) -> bool {
    idx.unique && !values.contains(&Datum::Null)
}

/// The KV pair of one index entry.
pub fn index_entry(
    t: &TableInfo,
    idx: &IndexInfo,
    row: &[Datum],
    handle: &Handle,
) -> (Vec<u8>, Vec<u8>) {
    let values = index_values(t, idx, row);
    if is_distinct_entry(idx, &values) {
        (
            keys::encode_index_key(t.id, idx.id, &values, None),
            encode_handle(handle),
        )
    } else {
        (
            keys::encode_index_key(t.id, idx.id, &values, Some(handle)),
            b"0".to_vec(),
        )
    }
}

/// A unique index entry's value: the handle.
pub fn encode_handle(h: &Handle) -> Vec<u8> {
    match h {
        Handle::Int(i) => i.to_be_bytes().to_vec(),
        Handle::Common(values) => {
            let mut buf = Vec::new();
            codec::key::encode_key_datums(&mut buf, values);
            buf
        }
    }
}

pub fn decode_handle(t: &TableInfo, value: &[u8]) -> Result<Handle> {
    match t.handle {
        HandleKind::Common => {
            let mut v = value;
            Ok(Handle::Common(codec::key::decode_key_datums(&mut v)?))
        }
        _ => {
            let b: [u8; 8] = value
                .try_into()
                .map_err(|_| Error::internal("bad unique index value"))?;
            Ok(Handle::Int(i64::from_be_bytes(b)))
        }
    }
}
