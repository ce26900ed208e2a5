//! Turning full rows into KV mutations: the record and every index entry.

use std::collections::HashMap;

use codec::datum::Datum;
use codec::table::Handle;

use crate::catalog::model::{HandleKind, IndexInfo, TableInfo};
use crate::error::{Error, Result, code};
use crate::table;
use crate::table::changing::Changing;

/// The KV pairs writing one row puts: its record and its entries in the
/// indexes writes maintain (not those in `DeleteOnly`). While a column's
/// type is being changed, also its converted value and the entries of
/// the index copies ([`table::changing`]); a value that does not convert
/// fails the write.
pub fn row_pairs(t: &TableInfo, row: &[Datum], handle: &Handle) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    entries(t, row, handle, true)
}

/// The keys removing one row deletes: its record and its entries in every
/// index, `DeleteOnly` ones included. Paired with [`row_pairs`], an
/// update or a REPLACE deletes what the old row had and writes what the
/// new one needs.
pub fn row_keys(t: &TableInfo, row: &[Datum], handle: &Handle) -> Vec<Vec<u8>> {
    entries(t, row, handle, false)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

/// Never fails when not `writing`.
fn entries(
    t: &TableInfo,
    row: &[Datum],
    handle: &Handle,
    writing: bool,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let changing = Changing::of(t);
    let copies = match &changing {
        Some(ch) if ch.writes() || !writing => match ch.convert(row) {
            Ok(v) => Some((ch, v)),
            Err(e) if writing => return Err(e),
            // Never written with entries: none to delete.
            Err(_) => None,
        },
        _ => None,
    };
    let mut pairs = Vec::with_capacity(1 + t.indexes.len());
    let extra = copies.as_ref().map(|(ch, v)| (ch.info.column.id, v));
    pairs.push((
        table::record_key(t, handle),
        table::encode_record_with(t, row, extra),
    ));
    for idx in &t.indexes {
        if idx.primary && !matches!(t.handle, HandleKind::RowId) {
            continue; // the handle is the primary key
        }
        if writing && !idx.state.writes() {
            continue;
        }
        pairs.push(table::index_entry(t, idx, row, handle));
    }
    if let Some((ch, v)) = copies {
        let shadow_row = ch.shadow_row(row, v);
        for idx in &ch.shadow.indexes {
            pairs.push(table::index_entry(&ch.shadow, idx, &shadow_row, handle));
        }
    }
    Ok(pairs)
}

/// The keys whose existence makes a row a duplicate: its record (when the
/// handle is the primary key) and its distinct unique-index entries, each
/// with the key name and shown value for ER_DUP_ENTRY — the copies of
/// unique indexes over a changing column included, once writes maintain
/// them (a value that does not convert fails here).
pub fn unique_keys(
    t: &TableInfo,
    row: &[Datum],
    handle: &Handle,
) -> Result<Vec<(Vec<u8>, String, String)>> {
    let mut keys = unique_keys_of(
        t,
        t.indexes.iter().filter(|i| i.state.writes()),
        row,
        handle,
    );
    if let Some(ch) = Changing::of(t).filter(|ch| ch.writes()) {
        let shadow_row = ch.shadow_row(row, ch.convert(row)?);
        keys.extend(unique_keys_of(
            &ch.shadow,
            ch.shadow.indexes.iter(),
            &shadow_row,
            handle,
        ));
    }
    Ok(keys)
}

/// [`unique_keys`] of a row already stored: one whose value does not
/// convert (written before the copies were kept) has no copy entries.
pub fn stored_unique_keys(
    t: &TableInfo,
    row: &[Datum],
    handle: &Handle,
) -> Vec<(Vec<u8>, String, String)> {
    unique_keys(t, row, handle).unwrap_or_else(|_| {
        unique_keys_of(
            t,
            t.indexes.iter().filter(|i| i.state.writes()),
            row,
            handle,
        )
    })
}

fn unique_keys_of<'a>(
    t: &TableInfo,
    indexes: impl Iterator<Item = &'a IndexInfo>,
    row: &[Datum],
    handle: &Handle,
) -> Vec<(Vec<u8>, String, String)> {
    let mut keys = Vec::new();
    for idx in indexes {
        let values = table::index_values(t, idx, row);
        let shown = values.iter().map(show).collect::<Vec<_>>().join("-");
        if idx.primary && !matches!(t.handle, HandleKind::RowId) {
            keys.push((
                table::record_key(t, handle),
                format!("{}.PRIMARY", t.name),
                shown,
            ));
        } else if table::is_distinct_entry(idx, &values) {
            let (k, _) = table::index_entry(t, idx, row, handle);
            keys.push((k, format!("{}.{}", t.name, idx.name), shown));
        }
    }
    keys
}

/// A key value as ER_DUP_ENTRY shows it.
pub(crate) fn show(d: &Datum) -> String {
    match d {
        Datum::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Datum::Null => "NULL".into(),
        other => {
            let mut s = String::new();
            let col = crate::protocol::resultset::ColumnDef::expr(
                "",
                crate::protocol::ColumnType::VarString,
            );
            crate::protocol::resultset::format_text(&mut s, &col, other);
            s
        }
    }
}

pub fn dup_entry(value: &str, key: &str) -> Error {
    Error::new(
        code::ER_DUP_ENTRY,
        format!("Duplicate entry '{value}' for key '{key}'"),
    )
}

/// Keys written earlier in the same statement, to catch duplicates among
/// the statement's own rows.
#[derive(Default)]
pub struct SeenKeys(HashMap<Vec<u8>, ()>);

impl SeenKeys {
    pub fn insert(&mut self, k: &[u8]) -> bool {
        self.0.insert(k.to_vec(), ()).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::{
        ChangingColumn, ChangingIndex, ColumnInfo, FieldType, IndexColumn, SchemaState, SqlType,
    };

    fn column(id: i64, name: &str, tp: SqlType) -> ColumnInfo {
        ColumnInfo {
            id,
            name: name.into(),
            ft: FieldType::new(tp),
            nullable: true,
            default: None,
            auto_increment: false,
            on_update_now: false,
            comment: String::new(),
            origin_default: None,
            no_default: false,
            not_null_pending: false,
        }
    }

    /// `t (id INT PRIMARY KEY, v BIGINT, KEY kv (v))` with `v` being
    /// converted to INT (column 3, index copy 6) in `state`.
    fn table(state: SchemaState) -> TableInfo {
        let kv = IndexInfo {
            id: 5,
            name: "kv".into(),
            columns: vec![IndexColumn {
                name: "v".into(),
                length: None,
            }],
            unique: false,
            primary: false,
            state: SchemaState::Public,
            comment: String::new(),
        };
        TableInfo {
            id: 42,
            db_id: 1,
            name: "t".into(),
            columns: vec![
                column(1, "id", SqlType::Int),
                column(2, "v", SqlType::BigInt),
            ],
            indexes: vec![kv.clone()],
            handle: HandleKind::IntPk(0),
            next_column_id: 4,
            comment: String::new(),
            create_time: 0,
            columnar_replica: 0,
            changing: Some(ChangingColumn {
                old_id: 2,
                column: column(3, "v", SqlType::Int),
                state,
                indexes: vec![ChangingIndex {
                    old_id: 5,
                    index: IndexInfo { id: 6, ..kv },
                }],
            }),
        }
    }

    fn copy_key(v: i64, h: &Handle) -> Vec<u8> {
        codec::table::encode_index_key(42, 6, &[Datum::I64(v)], Some(h))
    }

    #[test]
    fn writes_keep_the_converted_copy_once_it_writes() {
        let h = Handle::Int(1);
        let row = [Datum::I64(1), Datum::I64(7)];

        // Delete-only: the copy is not written, but its entry is deleted.
        let t = table(SchemaState::DeleteOnly);
        let pairs = row_pairs(&t, &row, &h).unwrap();
        assert_eq!(pairs.len(), 2);
        let record = codec::row::RowView::new(&pairs[0].1).unwrap();
        assert_eq!(record.column_ids(), vec![2]);
        let keys = row_keys(&t, &row, &h);
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[2], copy_key(7, &h));

        // Write-only: the converted value under the new id, the copy's entry.
        let t = table(SchemaState::WriteOnly);
        let pairs = row_pairs(&t, &row, &h).unwrap();
        assert_eq!(pairs.len(), 3);
        let record = codec::row::RowView::new(&pairs[0].1).unwrap();
        assert_eq!(record.column_ids(), vec![2, 3]);
        assert_eq!(
            record.get(3, codec::datum::DatumKind::I64).unwrap(),
            Some(Datum::I64(7))
        );
        assert_eq!(pairs[2].0, copy_key(7, &h));
    }

    #[test]
    fn a_value_the_new_type_cannot_hold_fails_the_write_but_not_a_delete() {
        let h = Handle::Int(1);
        let row = [Datum::I64(1), Datum::I64(5_000_000_000)];
        let t = table(SchemaState::WriteReorganization);
        let err = row_pairs(&t, &row, &h).unwrap_err();
        assert_eq!(err.code(), code::ER_WARN_DATA_OUT_OF_RANGE);
        // Never converted, so it has no copy entry to delete.
        assert_eq!(row_keys(&t, &row, &h).len(), 2);
        // Before the copy is written, the old type is all that counts.
        let t = table(SchemaState::DeleteOnly);
        assert_eq!(row_pairs(&t, &row, &h).unwrap().len(), 2);
    }
}
