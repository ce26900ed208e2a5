//! Where a modified column goes in its table, shared by the instant
//! MODIFY/CHANGE COLUMN, the NULL to NOT NULL job
//! (`crate::ddl::modify_column`) and the converting one
//! (`crate::ddl::convert_column`).

use sqlparser::ast::{Ident, MySQLColumnPosition};

use crate::catalog::model::{ColumnId, ColumnInfo, TableInfo};
use crate::error::{Error, Result, code};

/// 8200, TiDB's answer to a column change it does not make.
pub(crate) fn unsupported(reason: &str) -> Error {
    Error::new(
        code::TIDB_UNSUPPORTED_DDL,
        format!("Unsupported modify column: {reason}"),
    )
}

/// Puts `new` where the column `old_id` (named `old_name`) was, or at
/// `position`, renaming it in the indexes.
pub(crate) fn place(
    t: &mut TableInfo,
    old_id: ColumnId,
    old_name: &str,
    new: ColumnInfo,
    position: &Option<MySQLColumnPosition>,
) -> Result<()> {
    let Some(at) = t.columns.iter().position(|c| c.id == old_id) else {
        return Err(Error::bad_field(old_name, &t.name));
    };
    for ic in t.indexes.iter_mut().flat_map(|i| i.columns.iter_mut()) {
        if ic.name.eq_ignore_ascii_case(old_name) {
            ic.name = new.name.clone();
        }
    }
    match position {
        None => t.columns[at] = new,
        Some(p) => {
            t.columns.remove(at);
            let to = match p {
                MySQLColumnPosition::First => 0,
                MySQLColumnPosition::After(after) => t
                    .column(&after.value)
                    .map(|(i, _)| i + 1)
                    .ok_or_else(|| Error::bad_field(&after.value, &t.name))?,
            };
            t.columns.insert(to, new);
        }
    }
    t.fix_handle_position();
    Ok(())
}

/// The position a job's arguments name.
pub(crate) fn position(first: bool, after: Option<String>) -> Option<MySQLColumnPosition> {
    match (first, after) {
        (true, _) => Some(MySQLColumnPosition::First),
        (_, Some(a)) => Some(MySQLColumnPosition::After(Ident::new(a))),
        _ => None,
    }
}
