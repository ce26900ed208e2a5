//! INSERT [IGNORE] INTO t [(cols)] VALUES (...), ... | SELECT ...
//!
//! ```text
//! source rows --fill defaults, AUTO_INCREMENT--> full rows
//!   --convert to column types (strict: errors; IGNORE: warnings)-->
//!   --handles + unique keys--> one batch read (locking, when pessimistic)
//!   --duplicates: 1062 (IGNORE: skip with a warning)--> puts
//! ```

use std::sync::Arc;

use codec::datum::Datum;
use sqlparser::ast::{Expr, Insert, SetExpr, TableObject, Value};

use super::write::{self, SeenKeys};
use crate::catalog::model::{DefaultValue, HandleKind, TableInfo};
use crate::error::{Error, Result, code};
use crate::session::{Output, Session, TxnHandle};
use crate::types::{self, Target};

pub async fn execute(session: &mut Session, insert: &Insert, txn: &Arc<TxnHandle>) -> Result<Output> {
    let TableObject::TableName(name) = &insert.table else {
        return Err(Error::unsupported("INSERT INTO TABLE FUNCTION"));
    };
    if insert.on.is_some() {
        return Err(Error::unsupported("INSERT ... ON DUPLICATE KEY UPDATE"));
    }
    if insert.replace_into {
        return Err(Error::unsupported("REPLACE"));
    }
    let (db, tname) = crate::ddl::object_name(name)?;
    let db = match db {
        Some(d) => d,
        None => session.current_db()?.to_string(),
    };
    let t = txn.schema.require_table(&db, &tname)?.clone();
    // Target columns.
    let targets: Vec<usize> = if insert.columns.is_empty() {
        (0..t.columns.len()).collect()
    } else {
        let mut v = Vec::new();
        for c in &insert.columns {
            let n = c.to_string();
            let n = n.trim_matches('`');
            let (i, _) = t.column(n).ok_or_else(|| Error::bad_field(n, "field list"))?;
            if v.contains(&i) {
                return Err(Error::new(code::ER_FIELD_SPECIFIED_TWICE, format!("Column '{n}' specified twice")));
            }
            v.push(i);
        }
        v
    };
    let source = insert.source.as_ref().ok_or_else(|| Error::unsupported("INSERT ... SET"))?;
    let input: Vec<Vec<Option<Datum>>> = match source.body.as_ref() {
        SetExpr::Values(values) => {
            let mut rows = Vec::with_capacity(values.rows.len());
            for (r, exprs) in values.rows.iter().enumerate() {
                if exprs.len() != targets.len() {
                    return Err(Error::new(
                        code::ER_WRONG_VALUE_COUNT_ON_ROW,
                        format!("Column count doesn't match value count at row {}", r + 1),
                    ));
                }
                let mut row = Vec::with_capacity(exprs.len());
                for e in &exprs.content {
                    row.push(value_of(session, e).await?);
                }
                rows.push(row);
            }
            rows
        }
        _ => {
            let rs = crate::query::select(session, sqlparser::ast::Statement::Query(source.clone()), txn.clone()).await?;
            if rs.columns.len() != targets.len() {
                return Err(Error::new(code::ER_WRONG_VALUE_COUNT_ON_ROW, "Column count doesn't match value count at row 1"));
            }
            rs.rows.into_iter().map(|r| r.into_iter().map(Some).collect()).collect()
        }
    };
    let strict = types::is_strict(&session.vars.text("sql_mode")) && !insert.ignore;
    let mut rows = Vec::with_capacity(input.len());
    for (r, values) in input.into_iter().enumerate() {
        rows.push(full_row(session, &t, &targets, values, r + 1, strict)?);
    }
    let first_auto = assign_auto_ids(session, &t, &mut rows).await?;
    let mut handles = Vec::with_capacity(rows.len());
    for row in &rows {
        let row_id = match t.handle {
            HandleKind::RowId => Some(session.shared.auto_ids.alloc(&session.shared.client, -t.id, 1).await?),
            _ => None,
        };
        handles.push(crate::table::handle_of(&t, row, row_id)?);
    }
    // Duplicate checks: one batch read of every unique key.
    let checks: Vec<Vec<(Vec<u8>, String, String)>> =
        rows.iter().zip(&handles).map(|(row, h)| write::unique_keys(&t, row, h)).collect();
    let all_keys: Vec<Vec<u8>> = checks.iter().flatten().map(|(k, _, _)| k.clone()).collect();
    let existing = {
        let mut tx = txn.txn.write().await;
        tx.batch_get_for_update(all_keys).await?
    };
    let mut existing = existing.into_iter();
    let mut seen = SeenKeys::default();
    let mut writes: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut inserted = 0u64;
    for ((row, h), keys) in rows.iter().zip(&handles).zip(&checks) {
        let mut dup = None;
        for (k, key_name, shown) in keys {
            let found = existing.next().flatten().is_some();
            if dup.is_none() && (found || !seen.insert(k)) {
                dup = Some(write::dup_entry(shown, key_name));
            }
        }
        if let Some(e) = dup {
            if insert.ignore {
                session.warn(code::ER_DUP_ENTRY, e.message());
                continue;
            }
            return Err(e);
        }
        writes.extend(write::row_pairs(&t, row, h));
        inserted += 1;
    }
    {
        let mut tx = txn.txn.write().await;
        let keys: Vec<Vec<u8>> = writes.iter().map(|(k, _)| k.clone()).collect();
        tx.lock_keys(keys).await?;
        for (k, v) in writes {
            tx.put(k, v).await?;
        }
    }
    if let Some(id) = first_auto {
        session.last_insert_id = id;
    }
    session.row_count = inserted as i64;
    let info = if rows.len() > 1 {
        format!("Records: {}  Duplicates: {}  Warnings: {}", rows.len(), rows.len() as u64 - inserted, session.warnings.len())
    } else {
        String::new()
    };
    Ok(Output::Ok { affected: inserted, last_insert_id: first_auto.unwrap_or(0), info })
}

/// A VALUES item: `None` for DEFAULT.
async fn value_of(session: &mut Session, e: &Expr) -> Result<Option<Datum>> {
    if let Expr::Identifier(id) = e
        && id.quote_style.is_none()
        && id.value.eq_ignore_ascii_case("default")
    {
        return Ok(None);
    }
    if let Expr::Value(v) = e
        && let Value::Number(n, _) = &v.value
        && !n.contains(['e', 'E'])
        && n.contains('.')
    {
        return Ok(Some(Datum::Decimal(n.parse().map_err(|_| Error::parse(format!("near '{n}'")))?)));
    }
    crate::execute::eval_constant(session, e).await.map(Some)
}

/// A full row in column order: given values converted, others defaulted.
fn full_row(
    session: &mut Session,
    t: &TableInfo,
    targets: &[usize],
    values: Vec<Option<Datum>>,
    row_no: usize,
    strict: bool,
) -> Result<Vec<Datum>> {
    let mut row: Vec<Option<Datum>> = vec![None; t.columns.len()];
    for (&i, v) in targets.iter().zip(values) {
        row[i] = v;
    }
    let mut out = Vec::with_capacity(row.len());
    for (i, v) in row.into_iter().enumerate() {
        let c = &t.columns[i];
        let v = match v {
            Some(v) => v,
            None => match &c.default {
                Some(DefaultValue::Literal(s)) => Datum::Bytes(s.clone().into_bytes()),
                Some(DefaultValue::CurrentTimestamp) => Datum::DateTime(now_micros()),
                Some(DefaultValue::Null) => Datum::Null,
                None if c.nullable || c.auto_increment => Datum::Null,
                None => {
                    let msg = format!("Field '{}' doesn't have a default value", c.name);
                    if strict {
                        return Err(Error::new(code::ER_NO_DEFAULT_FOR_FIELD, msg));
                    }
                    session.warn(code::ER_NO_DEFAULT_FOR_FIELD, msg);
                    crate::table::original_default(c).unwrap_or(Datum::Null)
                }
            },
        };
        if v == Datum::Null && !c.nullable && !c.auto_increment {
            let msg = format!("Column '{}' cannot be null", c.name);
            if strict || targets.len() == 1 {
                return Err(Error::new(code::ER_BAD_NULL, msg));
            }
            session.warn(code::ER_BAD_NULL, msg);
            out.push(zero_of(c));
            continue;
        }
        let target = Target { column: &c.name, row: row_no, strict };
        let (v, problem) = types::convert(v, &c.ft, &target)?;
        if let Some(p) = problem {
            session.warn(p.code, p.message);
        }
        out.push(v);
    }
    Ok(out)
}

fn zero_of(c: &crate::catalog::model::ColumnInfo) -> Datum {
    let target = Target { column: &c.name, row: 0, strict: false };
    types::convert(Datum::I64(0), &c.ft, &target).map(|(d, _)| d).unwrap_or(Datum::Bytes(Vec::new()))
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Fills NULL/0 AUTO_INCREMENT values from the allocator; explicit values
/// move it. Returns the first generated id (LAST_INSERT_ID()).
async fn assign_auto_ids(session: &mut Session, t: &TableInfo, rows: &mut [Vec<Datum>]) -> Result<Option<u64>> {
    let Some(col) = t.auto_increment_column() else { return Ok(None) };
    let ft = t.columns[col].ft.clone();
    let missing = rows
        .iter()
        .filter(|r| matches!(r[col], Datum::Null | Datum::I64(0) | Datum::U64(0)))
        .count() as i64;
    let mut max_explicit = None;
    for r in rows.iter() {
        if let Datum::I64(v) = r[col] && v > 0 {
            max_explicit = max_explicit.max(Some(v));
        }
        if let Datum::U64(v) = r[col] && v > 0 {
            max_explicit = max_explicit.max(Some(v as i64));
        }
    }
    if let Some(m) = max_explicit {
        session.shared.auto_ids.observe(&session.shared.client, t.id, m).await?;
    }
    if missing == 0 {
        return Ok(None);
    }
    let first = session.shared.auto_ids.alloc(&session.shared.client, t.id, missing).await?;
    let mut next = first;
    for r in rows.iter_mut() {
        if matches!(r[col], Datum::Null | Datum::I64(0) | Datum::U64(0)) {
            let target = Target { column: &t.columns[col].name, row: 0, strict: true };
            r[col] = types::convert(Datum::I64(next), &ft, &target)?.0;
            next += 1;
        }
    }
    Ok(Some(first as u64))
}

