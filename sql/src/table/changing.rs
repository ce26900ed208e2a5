//! Writes while a column's type is being changed (a row-converting
//! MODIFY/CHANGE COLUMN, run by the DDL owner in
//! `crate::ddl::convert_column`; TiDB's "changing column").
//!
//! The table then has a [`ChangingColumn`]: the column as it will be,
//! under a new column id, and a copy of every index over the column, under
//! new index ids. Neither is in `columns` or `indexes`, so no read sees
//! them. What writes do with them follows the copy's state, as for an
//! index being added:
//!
//! ```text
//!  state            write a row                      delete a row
//!  delete only      old column only                  + the copies' entries
//!  write only,      + the converted value under the  + the copies' entries
//!  write reorg.       new id, the copies' entries
//! ```
//!
//! The converted value is the old column's value converted to the new type
//! as a strict-mode INSERT would (MySQL's ALTER TABLE rules): a value that
//! does not fit (1264, 1366, 1406 ...) or a NULL for a NOT NULL column
//! (1048) fails the write, so every value the copy holds is exact, and the
//! backfill, which converts the rows written before, fails the job on the
//! same values. A delete finds the copies' entries by converting the same
//! way; a value that does not convert never had any.
//!
//! The copies' entries are computed on a *shadow* of the table: its
//! columns with the old column replaced by the new one under the old
//! column's name (the copies' columns name it), and the copies as its
//! indexes, so the ordinary index encoding ([`super::index_entry`]) serves.
//!
//! At the end the new column replaces the old one in one schema version.
//! A server one version behind still reads the old id; a row written by
//! a server on the new version lacks it. Such a row is not read as the old
//! column's default (which an update would then convert and write back):
//! [`check_not_replaced`] fails the statement with 8028, and it runs again
//! on the new schema. That check is made where the SQL layer decodes rows
//! (point gets, the locking reads of UPDATE, DELETE and INSERT); a scan the
//! stores decode (an optimistic transaction's UPDATE reading by a range)
//! is not checked, so on a server that has not loaded the new version yet
//! such a statement could still see the old column's default for a row
//! written on the new one, for at most the schema lease.

use codec::datum::Datum;
use codec::row::{RawColumn, RowView};

use crate::catalog::model::{ChangingColumn, ColumnInfo, SchemaState, TableInfo};
use crate::error::{Error, Result, code};
use crate::types::{self, Target};

/// A table's changing column, ready for writes.
pub struct Changing<'a> {
    pub info: &'a ChangingColumn,
    /// The table as the copies see it (see the module doc).
    pub shadow: TableInfo,
    /// The old column's position in `columns`, the new one's in the
    /// shadow's.
    pub at: usize,
}

impl<'a> Changing<'a> {
    /// The table's changing column, if a change is under way.
    pub fn of(t: &'a TableInfo) -> Option<Changing<'a>> {
        let info = t.changing.as_ref()?;
        let at = t.columns.iter().position(|c| c.id == info.old_id)?;
        let mut shadow = t.clone();
        shadow.changing = None;
        shadow.columns[at] = ColumnInfo {
            name: t.columns[at].name.clone(),
            ..info.column.clone()
        };
        shadow.indexes = info
            .indexes
            .iter()
            .map(|ci| {
                let mut idx = ci.index.clone();
                idx.state = SchemaState::Public;
                idx
            })
            .collect();
        Some(Changing { info, shadow, at })
    }

    /// Whether writes put the converted value and the copies' entries.
    pub fn writes(&self) -> bool {
        self.info.state.writes()
    }

    /// The new column's value for `row` (in the table's column order).
    pub fn convert(&self, row: &[Datum]) -> Result<Datum> {
        let c = &self.shadow.columns[self.at];
        convert_value(row[self.at].clone(), &self.info.column, &c.name, 1)
    }

    /// `row` as the shadow has it: the old column's value replaced by the
    /// new one.
    pub fn shadow_row(&self, row: &[Datum], converted: Datum) -> Vec<Datum> {
        let mut r = row.to_vec();
        r[self.at] = converted;
        r
    }
}

/// `v` converted to the type of `column` as a strict-mode INSERT would
/// (named `name` at `row` in the error), NULL refused (1048) for a NOT
/// NULL column.
pub fn convert_value(v: Datum, column: &ColumnInfo, name: &str, row: usize) -> Result<Datum> {
    if v == Datum::Null {
        if column.nullable {
            return Ok(Datum::Null);
        }
        return Err(Error::new(
            code::ER_BAD_NULL,
            format!("Column '{name}' cannot be null"),
        ));
    }
    let target = Target {
        column: name,
        row,
        strict: true,
    };
    Ok(types::convert(v, &column.ft, &target)?.0)
}

/// Called when a row lacks column `c`: fails with 8028 if `c` is being
/// replaced and the row has the new column instead — written by a server
/// that already runs the schema where the change is done (see the module
/// doc).
pub fn check_not_replaced(t: &TableInfo, c: &ColumnInfo, row: &RowView<'_>) -> Result<()> {
    match &t.changing {
        Some(ch) if ch.old_id == c.id && row.raw(ch.column.id) != RawColumn::Absent => {
            Err(crate::catalog::schema_changed())
        }
        _ => Ok(()),
    }
}
