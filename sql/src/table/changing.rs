//! Writes while a column's type is being changed (a row-converting
//! MODIFY/CHANGE COLUMN, run by the DDL owner in
//! `crate::ddl::convert_column`; TiDB's "changing column").
//!
//! The table then has a [`ChangingColumn`]: the column as it will be,
//! under a new column id, and a copy of every index over the column, under
//! new index ids. Neither is in `columns` or `indexes`, so no read sees
//! them. What writes do with them follows the copy's state, as for an
//! index being added. Once the conversion is done, the old column and its
//! indexes leave the same way, hidden in the table's `removing` (a
//! [`RemovingColumn`]), as an index being dropped:
//!
//! ```text
//!  table's          state            write a row            delete a row
//!  changing         delete only      old column only        + the copies'
//!                                                             entries
//!                   write only,      + the value converted  + the copies'
//!                   write reorg.       under the new id,      entries
//!                                      the copies' entries
//!  -- public: the new column and the copies replace the old ones --
//!  removing         write only       + the value converted  + the old
//!                                      back under the old     indexes'
//!                                      id, the old indexes'   entries
//!                                      entries
//!                   delete only      new column only        + the old
//!                                                             indexes'
//!                                                             entries
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
//! columns with the public column replaced by the hidden one under the
//! name the hidden indexes' columns use, and the hidden indexes as its
//! indexes, so the ordinary index encoding ([`super::index_entry`])
//! serves.
//!
//! Why the old column is still written after public: a server one schema
//! version behind (F1: every step waits until all servers have the
//! previous version, so at most two adjacent versions run) still reads
//! the old column id, also through the scans the stores decode. While
//! writes on the public version keep the old id in every row (and the old
//! indexes' entries), such a server reads the right value for each row
//! whichever version wrote it; only once every server is on the public
//! version does the old column go to delete only. The value written back
//! is the new one converted to the old type strictly, and it must convert
//! back to exactly the new value: a server behind that updates the row
//! converts its old value forward again, so a clamped or otherwise lossy
//! value would silently change the new column. A write whose value the
//! old type cannot hold exactly therefore fails (the conversion's error,
//! or 1265) while the old column is write-only — one schema step.
//!
//! A delete or update on the public version finds the old indexes' entries
//! by converting the new value back; a row whose stored old value is not
//! that (one written before the swap whose value converts forward with a
//! loss, such as `'0123'` to 123) leaves its old entry behind until the
//! old indexes' ranges are freed at the end. Rows are still right for a
//! server behind; only its lookup through that stale entry, while the old
//! column is write-only, could find the row under the value it had.
//!
//! [`check_not_replaced`] stays as a defence: a row that has the new
//! column and lacks the old one, read on a schema where the old column is
//! public, fails the statement with 8028 (it runs again on the new
//! schema) rather than reading the old column's default. With the old
//! column written until every server is past it, no such row meets such a
//! server; the check is made where the SQL layer decodes rows.

use codec::datum::Datum;
use codec::row::{RawColumn, RowView};

use crate::catalog::model::{ChangingColumn, ColumnInfo, RemovingColumn, SchemaState, TableInfo};
use crate::error::{Error, Result, code};
use crate::types::{self, Target};

/// Which way a hidden column's value comes from the public one's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The changing column: the old value converted to the new type.
    Forward,
    /// The removing column: the new value converted back to the old type,
    /// exactly (see the module doc).
    Back,
}

/// A table's changing or removing column, ready for writes.
pub struct Changing<'a> {
    pub info: &'a ChangingColumn,
    /// The table as the hidden indexes see it (see the module doc).
    pub shadow: TableInfo,
    /// The public column's position in `columns`, the hidden one's in the
    /// shadow's.
    pub at: usize,
    /// The public column the hidden one follows.
    pub public: ColumnInfo,
    pub direction: Direction,
}

impl<'a> Changing<'a> {
    /// The table's changing column, if a change is under way.
    pub fn of(t: &'a TableInfo) -> Option<Changing<'a>> {
        let info = t.changing.as_ref()?;
        let at = t.columns.iter().position(|c| c.id == info.old_id)?;
        // The copies' columns name the old column.
        let name = t.columns[at].name.clone();
        Some(Self::new(t, info, at, name, Direction::Forward))
    }

    /// The table's removing column: the old column of a finished
    /// conversion, on its way out.
    pub fn removing(t: &'a TableInfo) -> Option<Changing<'a>> {
        let info: &RemovingColumn = t.removing.as_ref()?;
        let at = t.columns.iter().position(|c| c.id == info.old_id)?;
        // The old indexes' columns name the old column as it was.
        let name = info.column.name.clone();
        Some(Self::new(t, info, at, name, Direction::Back))
    }

    /// The table's changing and removing columns.
    pub fn all(t: &'a TableInfo) -> impl Iterator<Item = Changing<'a>> {
        Self::of(t).into_iter().chain(Self::removing(t))
    }

    fn new(
        t: &TableInfo,
        info: &'a ChangingColumn,
        at: usize,
        name: String,
        direction: Direction,
    ) -> Changing<'a> {
        let mut shadow = t.clone();
        shadow.changing = None;
        shadow.removing = None;
        shadow.columns[at] = ColumnInfo {
            name,
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
        Changing {
            info,
            shadow,
            at,
            public: t.columns[at].clone(),
            direction,
        }
    }

    /// Whether writes put the hidden value and the hidden indexes' entries.
    pub fn writes(&self) -> bool {
        self.info.state.writes()
    }

    /// The hidden column's value for `row` (in the table's column order).
    pub fn convert(&self, row: &[Datum]) -> Result<Datum> {
        let name = &self.public.name;
        let v = convert_value(row[self.at].clone(), &self.info.column, name, 1)?;
        if self.direction == Direction::Back {
            let again = convert_value(v.clone(), &self.public, name, 1);
            if again.as_ref().ok() != Some(&row[self.at]) {
                return Err(Error::new(
                    code::ER_WARN_DATA_TRUNCATED,
                    format!("Data truncated for column '{name}' at row 1"),
                ));
            }
        }
        Ok(v)
    }

    /// `row` as the shadow has it: the public column's value replaced by
    /// the hidden one's.
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
/// two schema versions ahead, which cannot run beside this one: a
/// defence (see the module doc).
pub fn check_not_replaced(t: &TableInfo, c: &ColumnInfo, row: &RowView<'_>) -> Result<()> {
    match &t.changing {
        Some(ch) if ch.old_id == c.id && row.raw(ch.column.id) != RawColumn::Absent => {
            Err(crate::catalog::schema_changed())
        }
        _ => Ok(()),
    }
}
