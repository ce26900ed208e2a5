//! `ADMIN CHECK TABLE t [, t2 ...]` (TiDB): every row of the table has its
//! entry in every public index, and no index entry lacks its row. Both are
//! read at one snapshot; the first difference fails the statement with
//! 8003 and says which row and index.

use std::collections::HashMap;

use crate::catalog::model::{HandleKind, SchemaState, TableInfo};
use crate::error::{Error, Result, code};
use crate::session::{Output, Session};

/// The statement's table names, when `sql` is `ADMIN CHECK TABLE ...`.
pub fn parse(sql: &str) -> Option<Vec<String>> {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let [a, c, t, ..] = words.as_slice() else {
        return None;
    };
    if !(a.eq_ignore_ascii_case("admin")
        && c.eq_ignore_ascii_case("check")
        && t.eq_ignore_ascii_case("table"))
    {
        return None;
    }
    Some(
        words[3..]
            .join(" ")
            .trim_end_matches(';')
            .split(',')
            .map(|n| n.trim().trim_matches('`').to_string())
            .filter(|n| !n.is_empty())
            .collect(),
    )
}

pub async fn execute(session: &mut Session, tables: &[String]) -> Result<Output> {
    if tables.is_empty() {
        return Err(Error::parse("near 'ADMIN CHECK TABLE': no table named"));
    }
    let schema = session.schema();
    let mut infos = Vec::new();
    for name in tables {
        let (db, t) = match name.split_once('.') {
            Some((db, t)) => (
                db.trim_matches('`').to_string(),
                t.trim_matches('`').to_string(),
            ),
            None => (session.current_db()?.to_string(), name.clone()),
        };
        infos.push(schema.require_table(&db, &t)?.clone());
    }
    let txn = session.shared.client.begin().await?;
    for t in infos {
        check_table(&txn, &t).await?;
    }
    Ok(Output::ok(0))
}

async fn check_table(txn: &txn::client::Transaction, t: &TableInfo) -> Result<()> {
    let all: Vec<usize> = (0..t.columns.len()).collect();
    let (start, end) = codec::table::record_range(t.id);
    let common = matches!(t.handle, HandleKind::Common);
    let rows = txn
        .scan(&start, &end, 0, false)
        .await?
        .into_iter()
        .map(|(k, v)| {
            let row = crate::table::decode_record(t, &k, &v, &all)?;
            let (_, handle) = codec::table::decode_row_key(&k, common)?;
            Ok((row, handle))
        })
        .collect::<Result<Vec<_>>>()?;
    for idx in t.indexes.iter().filter(|i| i.state == SchemaState::Public) {
        if idx.primary && t.handle != HandleKind::RowId {
            continue; // the row key is the primary key
        }
        let mut expected: HashMap<Vec<u8>, (Vec<u8>, String)> = HashMap::with_capacity(rows.len());
        for (row, handle) in &rows {
            let (key, value) = crate::table::index_entry(t, idx, row, handle);
            expected.insert(key, (value, describe(row)));
        }
        let (lo, hi) = codec::table::index_range(t.id, idx.id);
        for (key, value) in txn.scan(&lo, &hi, 0, false).await? {
            match expected.remove(&key) {
                Some((want, _)) if want == value => {}
                Some((_, row)) => {
                    return Err(inconsistent(
                        t,
                        &idx.name,
                        &format!("index entry of row {row} points to another row"),
                    ));
                }
                None => {
                    return Err(inconsistent(
                        t,
                        &idx.name,
                        &format!("index entry {} has no row", txn::types::escape(&key)),
                    ));
                }
            }
        }
        if let Some((_, row)) = expected.into_values().next() {
            return Err(inconsistent(
                t,
                &idx.name,
                &format!("row {row} has no index entry"),
            ));
        }
    }
    Ok(())
}

fn describe(row: &[codec::datum::Datum]) -> String {
    let shown: Vec<String> = row.iter().map(crate::dml::write::show).collect();
    format!("({})", shown.join(", "))
}

fn inconsistent(t: &TableInfo, index: &str, what: &str) -> Error {
    Error::new(
        code::ER_ADMIN_CHECK_TABLE,
        format!(
            "data inconsistency in table: {}, index: {index}: {what}",
            t.name
        ),
    )
}
