//! ```text
//! INSERT [IGNORE] | REPLACE INTO t [(cols)] VALUES (...), ... | SELECT ...
//! [ON DUPLICATE KEY UPDATE c = expr, ...]
//! ```
//!
//! ```text
//! source rows --fill defaults, AUTO_INCREMENT--> full rows
//!   --convert to column types (strict: errors; IGNORE: warnings)-->
//!   --handles + unique keys--> one batch read (locking, when pessimistic)
//!   --per row, in order, against the statement's own earlier writes:
//!       no conflict: insert
//!       conflict: 1062 | IGNORE: skip with a warning
//!               | REPLACE: delete every conflicting row, insert
//!               | ON DUPLICATE KEY UPDATE: update the first conflicting row
//! ```
//!
//! Affected rows as MySQL counts them: 1 per inserted row, 2 per updated
//! row (1 with CLIENT_FOUND_ROWS when nothing changed, else 0), and for
//! REPLACE 1 plus the number of rows it deleted.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use codec::datum::Datum;
use sqlparser::ast::{Insert, SetExpr, TableObject};

use crate::catalog::model::{DefaultValue, HandleKind, TableInfo};
use crate::dml::write;
use crate::error::{Error, Result, code};
use crate::session::{Output, Session, TxnHandle};
use crate::types::{self, Target};

/// What an INSERT writes, resolved against the catalog before its rows
/// are computed.
pub struct Plan {
    table: Arc<TableInfo>,
    /// The target columns, in the order the statement's rows give them.
    targets: Vec<usize>,
    mode: Mode,
    row_alias: Option<String>,
    strict: bool,
}

/// Where an INSERT's rows come from.
pub enum Source<'a> {
    /// `VALUES (...), ...`: expressions, each row already the targets' width.
    Values(&'a sqlparser::ast::Values),
    /// `INSERT ... SELECT` (or `TABLE t`, `VALUES` in a set operation).
    Query(&'a sqlparser::ast::Query),
}

impl Plan {
    /// How many values each row must have.
    pub fn width(&self) -> usize {
        self.targets.len()
    }
}

/// Resolves an INSERT's table, target columns and mode, and says where its
/// rows come from (`VALUES` rows are checked for their width here).
pub fn plan<'a>(
    session: &Session,
    insert: &'a Insert,
    txn: &TxnHandle,
) -> Result<(Plan, Source<'a>)> {
    let TableObject::TableName(name) = &insert.table else {
        return Err(Error::unsupported("INSERT INTO TABLE FUNCTION"));
    };
    let on_dup = match &insert.on {
        None => None,
        Some(sqlparser::ast::OnInsert::DuplicateKeyUpdate(a)) => Some(a.clone()),
        Some(other) => return Err(Error::unsupported(other)),
    };
    let mode = if insert.replace_into {
        Mode::Replace
    } else if let Some(a) = on_dup {
        Mode::Update(a)
    } else if insert.ignore {
        Mode::Ignore
    } else {
        Mode::Error
    };
    let row_alias = insert
        .insert_alias
        .as_ref()
        .map(|a| a.row_alias.to_string());
    let (db, tname) = session.qualified(name)?;
    let t = txn.schema.require_table(&db, &tname)?.clone();
    let targets = target_columns(&t, &insert.columns)?;
    let query = insert
        .source
        .as_ref()
        .ok_or_else(|| Error::unsupported("INSERT ... SET"))?;
    let source = match query.body.as_ref() {
        SetExpr::Values(values) => {
            for (r, exprs) in values.rows.iter().enumerate() {
                if exprs.len() != targets.len() {
                    return Err(wrong_count(r + 1));
                }
            }
            Source::Values(values)
        }
        _ => Source::Query(query),
    };
    let strict = types::is_strict(&session.vars.text("sql_mode")) && !insert.ignore;
    let plan = Plan {
        table: t,
        targets,
        mode,
        row_alias,
        strict,
    };
    Ok((plan, source))
}

/// ER_WRONG_VALUE_COUNT_ON_ROW for row `row` (1-based).
pub fn wrong_count(row: usize) -> Error {
    Error::new(
        code::ER_WRONG_VALUE_COUNT_ON_ROW,
        format!("Column count doesn't match value count at row {row}"),
    )
}

/// The target columns an INSERT names (all, in order, when it names none).
fn target_columns(t: &TableInfo, columns: &[sqlparser::ast::ObjectName]) -> Result<Vec<usize>> {
    if columns.is_empty() {
        return Ok((0..t.columns.len()).collect());
    }
    let mut v = Vec::new();
    for c in columns {
        let n = c.to_string();
        let n = n.trim_matches('`');
        let (i, _) = t
            .column(n)
            .ok_or_else(|| Error::bad_field(n, "field list"))?;
        if v.contains(&i) {
            return Err(Error::new(
                code::ER_FIELD_SPECIFIED_TWICE,
                format!("Column '{n}' specified twice"),
            ));
        }
        v.push(i);
    }
    Ok(v)
}

/// Writes an INSERT's rows (`None` for DEFAULT), computed by the caller
/// from its [`Source`].
pub async fn apply(
    session: &mut Session,
    txn: &Arc<TxnHandle>,
    plan: Plan,
    input: Vec<Vec<Option<Datum>>>,
) -> Result<Output> {
    let out = write_rows(
        session,
        txn,
        &plan.table,
        &plan.targets,
        input,
        &plan.mode,
        plan.row_alias.as_deref(),
        plan.strict,
    )
    .await?;
    session.row_count = out.affected as i64;
    let info = if out.records > 1 {
        format!(
            "Records: {}  Duplicates: {}  Warnings: {}",
            out.records,
            out.records - out.inserted,
            session.warnings.len()
        )
    } else {
        String::new()
    };
    Ok(Output::Ok {
        affected: out.affected,
        last_insert_id: out.first_auto.unwrap_or(0),
        info,
    })
}

/// What `write_rows` did.
pub struct Written {
    pub records: u64,
    pub inserted: u64,
    pub affected: u64,
    pub first_auto: Option<u64>,
}

/// Inserts `input` rows (values for the `targets` columns, `None` for
/// DEFAULT) into `t`, handling duplicates per `mode`; shared by INSERT,
/// REPLACE and LOAD DATA.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn write_rows(
    session: &mut Session,
    txn: &Arc<TxnHandle>,
    t: &Arc<TableInfo>,
    targets: &[usize],
    input: Vec<Vec<Option<Datum>>>,
    mode: &Mode,
    row_alias: Option<&str>,
    strict: bool,
) -> Result<Written> {
    let t = t.clone();
    let records = input.len() as u64;
    let mut rows = Vec::with_capacity(input.len());
    for (r, values) in input.into_iter().enumerate() {
        rows.push(full_row(session, &t, targets, values, r + 1, strict)?);
    }
    let first_auto = assign_auto_ids(session, &t, &mut rows).await?;
    let handles = handles_of(session, &t, &rows).await?;
    // Duplicate checks: one batch read of every unique key.
    let checks: Vec<Vec<(Vec<u8>, String, String)>> = rows
        .iter()
        .zip(&handles)
        .map(|(row, h)| write::unique_keys(&t, row, h))
        .collect::<Result<_>>()?;
    let all_keys: Vec<Vec<u8>> = checks.iter().flatten().map(|(k, _, _)| k.clone()).collect();
    let existing = {
        let mut tx = txn.txn.write().await;
        tx.batch_get_for_update(all_keys.clone()).await?
    };
    let mut view = View {
        txn: txn.clone(),
        known: all_keys.into_iter().zip(existing).collect(),
        overlay: Default::default(),
    };
    let mut affected = 0u64;
    let mut inserted = 0u64;
    let found_rows = session.capabilities & crate::protocol::caps::FOUND_ROWS != 0;
    for ((row, h), keys) in rows.iter().zip(&handles).zip(&checks) {
        let mut conflicts = Vec::new();
        for (k, key_name, shown) in keys {
            if let Some(v) = view.get(k).await? {
                conflicts.push((k.clone(), key_name.clone(), shown.clone(), v));
            }
        }
        if conflicts.is_empty() {
            view.write_row(&t, row, h)?;
            inserted += 1;
            affected += 1;
            continue;
        }
        match mode {
            Mode::Error => {
                let (_, key_name, shown, _) = &conflicts[0];
                return Err(write::dup_entry(shown, key_name));
            }
            Mode::Ignore => {
                let (_, key_name, shown, _) = &conflicts[0];
                session.warn(
                    code::ER_DUP_ENTRY,
                    write::dup_entry(shown, key_name).message(),
                );
            }
            Mode::Replace => {
                affected += replace_row(&mut view, &t, row, h, &conflicts).await?;
                inserted += 1;
            }
            Mode::Update(assignments) => {
                let (k, _, _, v) = &conflicts[0];
                let changed = update_row(
                    session,
                    &mut view,
                    &t,
                    (row, h),
                    (k, v),
                    assignments,
                    row_alias,
                )
                .await?;
                affected += if changed { 2 } else { found_rows as u64 };
            }
        }
    }
    {
        let mut tx = txn.txn.write().await;
        let keys: Vec<Vec<u8>> = view.overlay.keys().cloned().collect();
        tx.lock_keys(keys).await?;
        for (k, v) in view.overlay {
            match v {
                Some(v) => tx.put(k, v).await?,
                None => tx.delete(k).await?,
            }
        }
    }
    if let Some(id) = first_auto {
        session.last_insert_id = id;
    }
    Ok(Written {
        records,
        inserted,
        affected,
        first_auto,
    })
}

/// Handles for new rows: from the primary key, or a new row id for tables
/// without one.
async fn handles_of(
    session: &Session,
    t: &TableInfo,
    rows: &[Vec<Datum>],
) -> Result<Vec<codec::table::Handle>> {
    let mut handles = Vec::with_capacity(rows.len());
    for row in rows {
        let row_id = match t.handle {
            HandleKind::RowId => Some(
                session
                    .shared
                    .auto_ids
                    .alloc(&session.shared.client, -t.id, 1)
                    .await?,
            ),
            _ => None,
        };
        handles.push(crate::table::handle_of(t, row, row_id)?);
    }
    Ok(handles)
}

/// A unique key of a new row that exists: (key, index name, value shown,
/// the existing entry's value).
type Conflict = (Vec<u8>, String, String, Vec<u8>);

/// REPLACE: deletes every row a conflicting key points at, then writes the
/// new row. Returns the affected rows (1 + the rows deleted).
async fn replace_row(
    view: &mut View,
    t: &TableInfo,
    row: &[Datum],
    h: &codec::table::Handle,
    conflicts: &[Conflict],
) -> Result<u64> {
    let mut affected = 1;
    let mut deleted = std::collections::HashSet::new();
    for (k, _, _, v) in conflicts {
        let old_handle = conflict_handle(t, k, v, h)?;
        let rk = crate::table::record_key(t, &old_handle);
        if !deleted.insert(rk.clone()) {
            continue;
        }
        if let Some(old) = view.row(t, &rk).await? {
            view.delete_row(t, &old, &old_handle);
            affected += 1;
        }
    }
    view.write_row(t, row, h)?;
    Ok(affected)
}

/// ON DUPLICATE KEY UPDATE: applies the assignments to the row the first
/// conflicting key points at. Returns whether the row changed.
async fn update_row(
    session: &mut Session,
    view: &mut View,
    t: &TableInfo,
    (row, h): (&[Datum], &codec::table::Handle),
    (k, v): (&[u8], &[u8]),
    assignments: &[sqlparser::ast::Assignment],
    row_alias: Option<&str>,
) -> Result<bool> {
    let old_handle = conflict_handle(t, k, v, h)?;
    let rk = crate::table::record_key(t, &old_handle);
    let Some(old) = view.row(t, &rk).await? else {
        return Err(Error::internal(
            "a unique index entry points to a missing row",
        ));
    };
    let new = updated_row(session, t, &old, row, assignments, row_alias)?;
    if new == old {
        return Ok(false);
    }
    let row_id = match (&t.handle, &old_handle) {
        (HandleKind::RowId, codec::table::Handle::Int(id)) => Some(*id),
        _ => None,
    };
    let new_handle = crate::table::handle_of(t, &new, row_id)?;
    let old_keys: std::collections::HashSet<Vec<u8>> =
        write::stored_unique_keys(t, &old, &old_handle)
            .into_iter()
            .map(|(k, _, _)| k)
            .collect();
    for (nk, key_name, shown) in write::unique_keys(t, &new, &new_handle)? {
        if !old_keys.contains(&nk) && view.get(&nk).await?.is_some() {
            return Err(write::dup_entry(&shown, &key_name));
        }
    }
    view.delete_row(t, &old, &old_handle);
    view.write_row(t, &new, &new_handle)?;
    Ok(true)
}

/// What to do with a row whose key exists.
pub(crate) enum Mode {
    Error,
    Ignore,
    Replace,
    Update(Vec<sqlparser::ast::Assignment>),
}

/// The statement's view of the keys it touches: its own writes first, then
/// what the batch read found, then (for rows reached through a unique
/// index) a locking read.
struct View {
    txn: Arc<TxnHandle>,
    known: HashMap<Vec<u8>, Option<Vec<u8>>>,
    overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl View {
    async fn get(&mut self, k: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(v) = self.overlay.get(k) {
            return Ok(v.clone());
        }
        if let Some(v) = self.known.get(k) {
            return Ok(v.clone());
        }
        let v = self
            .txn
            .txn
            .write()
            .await
            .batch_get_for_update(vec![k.to_vec()])
            .await?
            .pop()
            .flatten();
        self.known.insert(k.to_vec(), v.clone());
        Ok(v)
    }

    async fn row(&mut self, t: &TableInfo, record_key: &[u8]) -> Result<Option<Vec<Datum>>> {
        let all: Vec<usize> = (0..t.columns.len()).collect();
        match self.get(record_key).await? {
            Some(v) => Ok(Some(crate::table::decode_record(t, record_key, &v, &all)?)),
            None => Ok(None),
        }
    }

    fn write_row(&mut self, t: &TableInfo, row: &[Datum], h: &codec::table::Handle) -> Result<()> {
        for (k, v) in write::row_pairs(t, row, h)? {
            self.overlay.insert(k, Some(v));
        }
        Ok(())
    }

    fn delete_row(&mut self, t: &TableInfo, row: &[Datum], h: &codec::table::Handle) {
        for k in write::row_keys(t, row, h) {
            self.overlay.insert(k, None);
        }
    }
}

/// The handle of the existing row a conflicting key belongs to.
fn conflict_handle(
    t: &TableInfo,
    key: &[u8],
    value: &[u8],
    new_handle: &codec::table::Handle,
) -> Result<codec::table::Handle> {
    let record = crate::table::record_key(t, new_handle);
    if key == record.as_slice() {
        return Ok(new_handle.clone());
    }
    crate::table::decode_handle(t, value)
}

/// ON DUPLICATE KEY UPDATE: the old row with the assignments applied
/// (`VALUES(c)` / `alias.c` read the row that was to be inserted).
fn updated_row(
    session: &mut Session,
    t: &TableInfo,
    old: &[Datum],
    proposed: &[Datum],
    assignments: &[sqlparser::ast::Assignment],
    alias: Option<&str>,
) -> Result<Vec<Datum>> {
    let strict = types::is_strict(&session.vars.text("sql_mode"));
    let mut new = old.to_vec();
    for a in assignments {
        let sqlparser::ast::AssignmentTarget::ColumnName(col) = &a.target else {
            return Err(Error::unsupported("tuple assignment"));
        };
        let name = col
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.clone())
            .unwrap_or_default();
        let (i, c) = t
            .column(&name)
            .ok_or_else(|| Error::bad_field(&name, "field list"))?;
        let current = new.clone();
        let column = |n: &str| t.column(n).map(|(j, _)| current[j].clone());
        let values = |n: &str| t.column(n).map(|(j, _)| proposed[j].clone());
        let v = crate::eval::eval_with(&a.value, &column, &values, alias)?.ok_or_else(|| {
            Error::unsupported(format!("ON DUPLICATE KEY UPDATE expression {}", a.value))
        })?;
        if v == Datum::Null && c.rejects_null() {
            return Err(Error::new(
                code::ER_BAD_NULL,
                format!("Column '{}' cannot be null", c.name),
            ));
        }
        let (v, problem) = types::convert(
            v,
            &c.ft,
            &Target {
                column: &c.name,
                row: 1,
                strict,
            },
        )?;
        if let Some(p) = problem {
            session.warn(p.code, p.message);
        }
        new[i] = v;
    }
    Ok(new)
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
                None if (c.nullable && !c.no_default) || c.auto_increment => Datum::Null,
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
        if v == Datum::Null && c.rejects_null() && !c.auto_increment {
            let msg = format!("Column '{}' cannot be null", c.name);
            if strict || targets.len() == 1 {
                return Err(Error::new(code::ER_BAD_NULL, msg));
            }
            session.warn(code::ER_BAD_NULL, msg);
            out.push(zero_of(c));
            continue;
        }
        let target = Target {
            column: &c.name,
            row: row_no,
            strict,
        };
        let (v, problem) = types::convert(v, &c.ft, &target)?;
        if let Some(p) = problem {
            session.warn(p.code, p.message);
        }
        out.push(v);
    }
    Ok(out)
}

fn zero_of(c: &crate::catalog::model::ColumnInfo) -> Datum {
    let target = Target {
        column: &c.name,
        row: 0,
        strict: false,
    };
    types::convert(Datum::I64(0), &c.ft, &target)
        .map(|(d, _)| d)
        .unwrap_or(Datum::Bytes(Vec::new()))
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Fills NULL/0 AUTO_INCREMENT values from the allocator; explicit values
/// move it. Returns the first generated id (LAST_INSERT_ID()).
async fn assign_auto_ids(
    session: &mut Session,
    t: &TableInfo,
    rows: &mut [Vec<Datum>],
) -> Result<Option<u64>> {
    let Some(col) = t.auto_increment_column() else {
        return Ok(None);
    };
    let ft = t.columns[col].ft.clone();
    let missing = rows
        .iter()
        .filter(|r| matches!(r[col], Datum::Null | Datum::I64(0) | Datum::U64(0)))
        .count() as i64;
    let mut max_explicit = None;
    for r in rows.iter() {
        if let Datum::I64(v) = r[col]
            && v > 0
        {
            max_explicit = max_explicit.max(Some(v));
        }
        if let Datum::U64(v) = r[col]
            && v > 0
        {
            max_explicit = max_explicit.max(Some(v as i64));
        }
    }
    if let Some(m) = max_explicit {
        session
            .shared
            .auto_ids
            .observe(&session.shared.client, t.id, m)
            .await?;
    }
    if missing == 0 {
        return Ok(None);
    }
    let first = session
        .shared
        .auto_ids
        .alloc(&session.shared.client, t.id, missing)
        .await?;
    let mut next = first;
    for r in rows.iter_mut() {
        if matches!(r[col], Datum::Null | Datum::I64(0) | Datum::U64(0)) {
            let target = Target {
                column: &t.columns[col].name,
                row: 0,
                strict: true,
            };
            r[col] = types::convert(Datum::I64(next), &ft, &target)?.0;
            next += 1;
        }
    }
    Ok(Some(first as u64))
}
