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
/// the index copies; while the old column of a finished change is
/// write-only, its value converted back and the old indexes' entries
/// ([`table::changing`]). A value that does not convert fails the write.
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
    let mut hidden = Vec::new();
    for ch in Changing::all(t) {
        if writing && !ch.writes() {
            continue;
        }
        match ch.convert(row) {
            Ok(v) => hidden.push((ch, v)),
            Err(e) if writing => return Err(e),
            // Never written with entries: none to delete.
            Err(_) => {}
        }
    }
    let mut pairs = Vec::with_capacity(1 + t.indexes.len());
    let extra: Vec<(i64, &Datum)> = hidden
        .iter()
        .map(|(ch, v)| (ch.info.column.id, v))
        .collect();
    pairs.push((
        table::record_key(t, handle),
        table::encode_record_with(t, row, &extra),
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
    for (ch, v) in hidden {
        let shadow_row = ch.shadow_row(row, v);
        for idx in &ch.shadow.indexes {
            pairs.push(table::index_entry(&ch.shadow, idx, &shadow_row, handle));
        }
    }
    Ok(pairs)
}

/// The keys whose existence makes a row a duplicate: its record (when the
/// handle is the primary key) and its distinct unique-index entries, each
/// with the key name and shown value for ER_DUP_ENTRY — the hidden
/// unique indexes of a changing or removing column included while writes
/// maintain them (a value that does not convert fails here).
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
    for ch in Changing::all(t).filter(|ch| ch.writes()) {
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
            removing: None,
        }
    }

    /// The same table once the conversion is public, the column renamed
    /// too (`CHANGE v w INT`): `w` (column 3) with `KEY kv (w)` (index 6)
    /// public, the old `v BIGINT` (column 2) and its `kv (v)` (index 5)
    /// removing, in `state`. `old` is the old column's type.
    fn converted(state: SchemaState, old: SqlType, new: SqlType) -> TableInfo {
        let kv = |id: i64, column: &str| IndexInfo {
            id,
            name: "kv".into(),
            columns: vec![IndexColumn {
                name: column.into(),
                length: None,
            }],
            unique: false,
            primary: false,
            state: SchemaState::Public,
            comment: String::new(),
        };
        TableInfo {
            columns: vec![column(1, "id", SqlType::Int), column(3, "w", new)],
            indexes: vec![kv(6, "w")],
            changing: None,
            removing: Some(ChangingColumn {
                old_id: 3,
                column: column(2, "v", old),
                state,
                indexes: vec![ChangingIndex {
                    old_id: 6,
                    index: kv(5, "v"),
                }],
            }),
            ..table(SchemaState::Public)
        }
    }

    fn old_key(v: i64, h: &Handle) -> Vec<u8> {
        codec::table::encode_index_key(42, 5, &[Datum::I64(v)], Some(h))
    }

    #[test]
    fn public_writes_keep_the_old_column_while_it_is_write_only() {
        let h = Handle::Int(1);
        let row = [Datum::I64(1), Datum::I64(7)];

        // Write-only: the value converted back under the old id, so a
        // server one version behind reads it, and the old index's entry.
        let t = converted(SchemaState::WriteOnly, SqlType::BigInt, SqlType::Int);
        let pairs = row_pairs(&t, &row, &h).unwrap();
        assert_eq!(pairs.len(), 3);
        let record = codec::row::RowView::new(&pairs[0].1).unwrap();
        assert_eq!(record.column_ids(), vec![2, 3]);
        assert_eq!(
            record.get(2, codec::datum::DatumKind::I64).unwrap(),
            Some(Datum::I64(7))
        );
        assert_eq!(pairs[1].0, copy_key(7, &h));
        assert_eq!(pairs[2].0, old_key(7, &h));
        assert_eq!(
            row_keys(&t, &row, &h),
            vec![pairs[0].0.clone(), copy_key(7, &h), old_key(7, &h)]
        );

        // Delete-only: the old column and entry no longer written, the
        // entry still deleted.
        let t = converted(SchemaState::DeleteOnly, SqlType::BigInt, SqlType::Int);
        let pairs = row_pairs(&t, &row, &h).unwrap();
        assert_eq!(pairs.len(), 2);
        let record = codec::row::RowView::new(&pairs[0].1).unwrap();
        assert_eq!(record.column_ids(), vec![3]);
        assert_eq!(row_keys(&t, &row, &h)[2], old_key(7, &h));
    }

    #[test]
    fn a_value_the_old_type_cannot_hold_exactly_fails_while_the_old_column_is_written() {
        // INT converted to BIGINT (a signedness or family change would do
        // the same): a value past INT would be clamped for the server
        // behind, and its next update would write the clamped value back.
        let h = Handle::Int(1);
        let row = [Datum::I64(1), Datum::I64(5_000_000_000)];
        let t = converted(SchemaState::WriteOnly, SqlType::Int, SqlType::BigInt);
        let err = row_pairs(&t, &row, &h).unwrap_err();
        assert_eq!(err.code(), code::ER_WARN_DATA_OUT_OF_RANGE);
        // No old entry was ever written for it: none to delete.
        assert_eq!(row_keys(&t, &row, &h).len(), 2);
        // A value that fits goes in both.
        let fits = [Datum::I64(1), Datum::I64(-5)];
        assert_eq!(row_pairs(&t, &fits, &h).unwrap().len(), 3);
        // Once the old column is delete-only, the new type is all that
        // counts.
        let t = converted(SchemaState::DeleteOnly, SqlType::Int, SqlType::BigInt);
        assert_eq!(row_pairs(&t, &row, &h).unwrap().len(), 2);
    }

    #[test]
    fn a_value_that_converts_back_with_a_loss_fails_while_the_old_column_is_written() {
        // INT converted to VARCHAR: '007' is 7 back in INT, and 7 is '7'
        // forward again.
        let varchar = |n| FieldType {
            length: n,
            ..FieldType::new(SqlType::VarChar)
        };
        let mut t = converted(SchemaState::WriteOnly, SqlType::Int, SqlType::VarChar);
        t.columns[1].ft = varchar(10);
        let h = Handle::Int(1);
        let lossy = [Datum::I64(1), Datum::Bytes(b"007".to_vec())];
        assert_eq!(
            row_pairs(&t, &lossy, &h).unwrap_err().code(),
            code::ER_WARN_DATA_TRUNCATED
        );
        let exact = [Datum::I64(1), Datum::Bytes(b"7".to_vec())];
        let pairs = row_pairs(&t, &exact, &h).unwrap();
        let record = codec::row::RowView::new(&pairs[0].1).unwrap();
        assert_eq!(
            record.get(2, codec::datum::DatumKind::I64).unwrap(),
            Some(Datum::I64(7))
        );
        assert_eq!(pairs[2].0, old_key(7, &h));
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
