//! The point-get fast path: `SELECT cols FROM t WHERE <key> = v` or
//! `<key> IN (v, ...)`, where the key is the primary key or a unique
//! index and every value is a literal of a comparable kind. Such a query
//! needs no planner: the keys are computed, read with one batch get (one
//! more for a unique index's handles), decoded and projected. TiDB calls
//! these `Point_Get` and `Batch_Point_Get`.
//!
//! A prepared statement keeps its point get as a [`Template`] whose key
//! values may be parameters: COM_STMT_EXECUTE binds them and runs the
//! lookup without parsing, binding an AST or planning again (TiDB's plan
//! cache for point gets). The template is re-planned when the schema
//! version or the current database changes.
//!
//! Anything that does not match exactly (other predicates, expressions in
//! the select list, joins, grouping, a literal that would need MySQL's
//! string-number comparison) is left to DataFusion.

use std::collections::BTreeMap;
use std::sync::Arc;

use codec::datum::{Datum, DatumKind};
use codec::table::Handle;
use sqlparser::ast::{
    BinaryOperator, Expr, GroupByExpr, Query, SelectItem, SetExpr, TableFactor, Value,
    WildcardAdditionalOptions,
};

use crate::catalog::model::{FieldType, HandleKind, IndexInfo, TableInfo};
use crate::error::Result;
use crate::protocol::resultset::ColumnDef;
use crate::session::{ResultSet, Session, TxnHandle};
use crate::types::{self, Target};

/// A planned point lookup.
#[derive(Debug, Clone)]
pub struct PointGet {
    pub db: String,
    pub table: Arc<TableInfo>,
    /// `None`: the key is the handle (primary key).
    pub index: Option<IndexInfo>,
    /// One tuple of key values per requested key.
    pub keys: Vec<Vec<Datum>>,
    /// Output: column offset and display name.
    pub columns: Vec<(usize, String)>,
    pub limit: Option<usize>,
    pub for_update: bool,
}

fn conjuncts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        Expr::Nested(inner) => conjuncts(inner, out),
        e => out.push(e),
    }
}

fn column_name(e: &Expr, table_names: &[String]) -> Option<String> {
    match e {
        Expr::Identifier(id) => Some(id.value.to_lowercase()),
        Expr::CompoundIdentifier(p)
            if p.len() == 2 && table_names.contains(&p[0].value.to_lowercase()) =>
        {
            Some(p[1].value.to_lowercase())
        }
        Expr::Nested(inner) => column_name(inner, table_names),
        _ => None,
    }
}

/// Converts a literal for a key column when the comparison is exact in
/// MySQL's rules (numbers to numbers, strings to strings / dates).
fn key_value(lit: Datum, ft: &FieldType) -> Option<Datum> {
    let compatible = match (&lit, ft.datum_kind()) {
        (Datum::Null, _) => false,
        (Datum::I64(_) | Datum::U64(_), DatumKind::I64 | DatumKind::U64 | DatumKind::Decimal) => {
            true
        }
        (Datum::Decimal(_), DatumKind::Decimal) => true,
        (
            Datum::Bytes(_),
            DatumKind::Bytes | DatumKind::Date | DatumKind::DateTime | DatumKind::Time,
        ) => true,
        (Datum::Bytes(b), DatumKind::I64 | DatumKind::U64) => std::str::from_utf8(b)
            .ok()
            .is_some_and(|s| s.parse::<i64>().is_ok()),
        _ => false,
    };
    if !compatible {
        return None;
    }
    let original = lit.clone();
    let target = Target {
        column: "",
        row: 0,
        strict: true,
    };
    let (v, _) = types::convert(lit, ft, &target).ok()?;
    // A value changed by the conversion (rounded, truncated, padded) is not
    // an exact key: let the general path compare it.
    let exact = match (&original, &v) {
        (Datum::I64(a), Datum::U64(b)) => *a >= 0 && *a as u64 == *b,
        (Datum::U64(a), Datum::I64(b)) => *b >= 0 && *a == *b as u64,
        (Datum::Decimal(a), Datum::Decimal(b)) => a == b,
        (Datum::I64(a), Datum::Decimal(b)) => codec::decimal::Decimal::from_i64(*a) == *b,
        (Datum::Bytes(_), Datum::Bytes(_)) => {
            !ft.is_binary() || ft.tp != crate::catalog::model::SqlType::Binary
        }
        (Datum::Bytes(_), _) => true,
        (a, b) => a == b,
    };
    exact.then_some(v)
}

/// Recognises a point get; `None` sends the query to DataFusion.
pub fn plan(session: &Session, q: &Query) -> Option<PointGet> {
    template(session, q)?.bind(&[])
}

/// A key value of a [`Template`]: known when planned, or a parameter of
/// the prepared statement converted for the key column when bound.
#[derive(Debug, Clone)]
enum KeyPart {
    Value(Datum),
    Param(usize, FieldType),
}

/// A point get planned once for a prepared statement.
#[derive(Debug, Clone)]
pub struct Template {
    /// The lookup, with `keys` empty until bound.
    plan: PointGet,
    keys: Vec<Vec<KeyPart>>,
}

impl Template {
    /// The lookup for these parameters; `None` when a parameter is not an
    /// exact key value (NULL, a string for a number column ...): the
    /// statement then takes the general path.
    pub fn bind(&self, params: &[Datum]) -> Option<PointGet> {
        let keys = self
            .keys
            .iter()
            .map(|key| {
                key.iter()
                    .map(|part| match part {
                        KeyPart::Value(v) => Some(v.clone()),
                        KeyPart::Param(i, ft) => key_value(params.get(*i)?.clone(), ft),
                    })
                    .collect::<Option<Vec<_>>>()
            })
            .collect::<Option<Vec<_>>>()?;
        Some(PointGet {
            keys,
            ..self.plan.clone()
        })
    }
}

/// Plans a point get whose key values may be numbered placeholders
/// (`?0`, see [`crate::parse::number_placeholders`]): a single-table
/// SELECT of plain columns whose WHERE is equalities (one IN list at most)
/// covering the primary key or a unique index.
pub fn template(session: &Session, q: &Query) -> Option<Template> {
    let (for_update, limit) = shape(q)?;
    let SetExpr::Select(s) = q.body.as_ref() else {
        return None;
    };
    let (db, table, table_names) = single_table(session, s)?;
    let columns = projection(s, &table, &table_names)?;
    let eq = key_equalities(s.selection.as_ref()?, &table, &table_names)?;
    let (index, key_cols) = unique_key(&table, &eq)?;
    // Cartesian product is only the IN list (every other column has one value).
    let n = eq.values().map(|v| v.len()).max().unwrap_or(1);
    let keys = (0..n)
        .map(|k| {
            key_cols
                .iter()
                .map(|c| {
                    let v = &eq[c];
                    v[if v.len() == 1 { 0 } else { k }].clone()
                })
                .collect()
        })
        .collect();
    Some(Template {
        plan: PointGet {
            db,
            table,
            index,
            keys: Vec::new(),
            columns,
            limit,
            for_update,
        },
        keys,
    })
}

/// The query around the SELECT: no CTE, ORDER BY or FETCH; `FOR UPDATE`
/// (plain) and a literal LIMIT allowed. Returns (for_update, limit).
fn shape(q: &Query) -> Option<(bool, Option<usize>)> {
    if q.with.is_some() || q.order_by.is_some() || q.fetch.is_some() {
        return None;
    }
    let for_update = match q.locks.as_slice() {
        [] => false,
        [l] if matches!(l.lock_type, sqlparser::ast::LockType::Update)
            && l.of.is_none()
            && l.nonblock.is_none() =>
        {
            true
        }
        _ => return None,
    };
    let limit = match &q.limit_clause {
        None => None,
        Some(sqlparser::ast::LimitClause::LimitOffset {
            limit: Some(l),
            offset: None,
            limit_by,
        }) if limit_by.is_empty() => match crate::eval::literal(l)? {
            Datum::I64(n) if n >= 0 => Some(n as usize),
            _ => return None,
        },
        Some(_) => return None,
    };
    Some((for_update, limit))
}

/// The one table a plain SELECT reads: (database as stored, table, the
/// names its columns may be qualified with).
fn single_table(
    session: &Session,
    s: &sqlparser::ast::Select,
) -> Option<(String, Arc<TableInfo>, Vec<String>)> {
    if s.distinct.is_some()
        || s.from.len() != 1
        || !s.from[0].joins.is_empty()
        || s.having.is_some()
        || !s.named_window.is_empty()
        || s.qualify.is_some()
        || s.top.is_some()
        || s.into.is_some()
        || !matches!(&s.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty())
    {
        return None;
    }
    let TableFactor::Table {
        name,
        alias,
        args: None,
        with_hints,
        ..
    } = &s.from[0].relation
    else {
        return None;
    };
    if !with_hints.is_empty() {
        return None;
    }
    let (db, tname) = crate::catalog::names::object_name(name).ok()?;
    let db = match db {
        Some(d) => d,
        None => session.db.clone()?,
    };
    let schema = session.schema();
    let db_name = schema.db(&db)?.info.name.clone();
    let table = schema.table(&db, &tname)?.clone();
    let mut table_names = vec![tname.to_lowercase()];
    if let Some(a) = alias {
        table_names = vec![a.name.value.to_lowercase()];
    }
    Some((db_name, table, table_names))
}

/// The selected columns (offset, name shown): plain columns or `*`.
fn projection(
    s: &sqlparser::ast::Select,
    table: &TableInfo,
    table_names: &[String],
) -> Option<Vec<(usize, String)>> {
    let mut columns = Vec::new();
    for item in &s.projection {
        match item {
            SelectItem::Wildcard(WildcardAdditionalOptions {
                opt_ilike: None,
                opt_exclude: None,
                opt_except: None,
                opt_replace: None,
                opt_rename: None,
                ..
            }) => {
                columns.extend(
                    table
                        .columns
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (i, c.name.clone())),
                );
            }
            SelectItem::UnnamedExpr(e) => {
                let n = column_name(e, table_names)?;
                let (i, c) = table.column(&n)?;
                let shown = match e {
                    Expr::Identifier(id) => id.value.clone(),
                    Expr::CompoundIdentifier(p) => p[1].value.clone(),
                    _ => c.name.clone(),
                };
                columns.push((i, shown));
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                let n = column_name(expr, table_names)?;
                let (i, _) = table.column(&n)?;
                columns.push((i, alias.value.clone()));
            }
            _ => return None,
        }
    }
    Some(columns)
}

/// The WHERE clause as key values per column: equalities, one IN list at
/// most, each value a literal or a numbered placeholder.
fn key_equalities(
    selection: &Expr,
    table: &TableInfo,
    table_names: &[String],
) -> Option<BTreeMap<usize, Vec<KeyPart>>> {
    let mut parts = Vec::new();
    conjuncts(selection, &mut parts);
    let mut eq: BTreeMap<usize, Vec<KeyPart>> = BTreeMap::new();
    let mut in_list_col = None;
    for p in parts {
        let (col, lits): (String, Vec<&Expr>) = match p {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } => match (
                column_name(left, table_names),
                column_name(right, table_names),
            ) {
                (Some(c), None) => (c, vec![right.as_ref()]),
                (None, Some(c)) => (c, vec![left.as_ref()]),
                _ => return None,
            },
            Expr::InList {
                expr,
                list,
                negated: false,
            } => {
                if in_list_col.is_some() {
                    return None;
                }
                let c = column_name(expr, table_names)?;
                in_list_col = Some(c.clone());
                (c, list.iter().collect())
            }
            _ => return None,
        };
        let (i, c) = table.column(&col)?;
        if eq.contains_key(&i) {
            return None;
        }
        let mut values = Vec::new();
        for l in lits {
            if let Expr::Value(v) = l
                && let Value::Placeholder(p) = &v.value
            {
                let n = p.strip_prefix('?')?.parse().ok()?;
                values.push(KeyPart::Param(n, c.ft.clone()));
                continue;
            }
            values.push(KeyPart::Value(key_value(crate::eval::literal(l)?, &c.ft)?));
        }
        eq.insert(i, values);
    }
    Some(eq)
}

/// The key the equalities cover: the primary key first, then any unique
/// index. Returns the index (None for the primary key) and its columns.
fn unique_key(
    table: &TableInfo,
    eq: &BTreeMap<usize, Vec<KeyPart>>,
) -> Option<(Option<IndexInfo>, Vec<usize>)> {
    let covers = |idx: &IndexInfo| {
        idx.columns.len() == eq.len()
            && idx.columns.iter().all(|ic| {
                ic.length.is_none()
                    && table
                        .column(&ic.name)
                        .is_some_and(|(i, _)| eq.contains_key(&i))
            })
    };
    Some(match &table.handle {
        HandleKind::IntPk(pk) if eq.len() == 1 && eq.contains_key(pk) => (None, vec![*pk]),
        HandleKind::Common if table.primary().is_some_and(covers) => {
            let pk = table.primary().expect("checked");
            (None, table.index_offsets(pk))
        }
        _ => {
            let idx = table.indexes.iter().find(|i| {
                i.unique
                    && i.state == crate::catalog::model::SchemaState::Public
                    && covers(i)
                    && (!i.primary || matches!(table.handle, HandleKind::RowId))
            })?;
            (Some(idx.clone()), table.index_offsets(idx))
        }
    })
}

pub async fn run(session: &Session, pg: &PointGet, txn: &Arc<TxnHandle>) -> Result<ResultSet> {
    // SELECT ... FOR UPDATE locks only inside a transaction (autocommit
    // locks would be released at once).
    let lock = pg.for_update && session.txn.as_ref().is_some_and(|a| a.explicit);
    let offsets: Vec<usize> = pg.columns.iter().map(|(i, _)| *i).collect();
    let (_, rows) = rows(pg, txn, lock, &offsets).await?;
    Ok(result_set(pg, rows))
}

fn result_set(pg: &PointGet, mut rows: Vec<Vec<Datum>>) -> ResultSet {
    if let Some(l) = pg.limit {
        rows.truncate(l);
    }
    let columns: Vec<ColumnDef> = pg
        .columns
        .iter()
        .map(|(i, name)| {
            crate::executor::convert::table_column_def(&pg.db, &pg.table, *i, Some(name))
        })
        .collect();
    ResultSet { columns, rows }
}

/// An autocommit point get of one row by its handle, read at the largest
/// timestamp: one RPC, no TSO (see `TxnClient::get_latest`). None when a
/// lock is on the row (or the lookup is not by handle): the caller runs
/// the ordinary path, which resolves locks at a real timestamp.
pub async fn run_latest(session: &Session, pg: &PointGet) -> Result<Option<ResultSet>> {
    if pg.index.is_some() || pg.keys.len() != 1 {
        return Ok(None);
    }
    let t = &pg.table;
    let handle = match t.handle {
        HandleKind::IntPk(_) => Handle::Int(crate::table::int_handle(&pg.keys[0][0])?),
        _ => Handle::Common(pg.keys[0].clone()),
    };
    let key = crate::table::record_key(t, &handle);
    let value = match session.shared.client.get_latest(&key).await {
        Ok(v) => v,
        Err(txn::Error::KeyIsLocked(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let offsets: Vec<usize> = pg.columns.iter().map(|(i, _)| *i).collect();
    let rows = match value {
        Some(v) => vec![crate::table::decode_record(t, &key, &v, &offsets)?],
        None => Vec::new(),
    };
    Ok(Some(result_set(pg, rows)))
}

/// The existing rows a point get names (in key order), with their handles;
/// `lock`: read the newest values under a lock (`get_for_update`).
pub async fn rows(
    pg: &PointGet,
    txn: &Arc<TxnHandle>,
    lock: bool,
    offsets: &[usize],
) -> Result<(Vec<Handle>, Vec<Vec<Datum>>)> {
    let t = &pg.table;
    // Handles: directly, or through the unique index.
    let handles: Vec<Handle> = match &pg.index {
        None => pg
            .keys
            .iter()
            .map(|k| match t.handle {
                HandleKind::IntPk(_) => crate::table::int_handle(&k[0]).map(Handle::Int),
                _ => Ok(Handle::Common(k.clone())),
            })
            .collect::<Result<_>>()?,
        Some(idx) => {
            let keys: Vec<Vec<u8>> = pg
                .keys
                .iter()
                .map(|vals| codec::table::encode_index_key(t.id, idx.id, vals, None))
                .collect();
            let values = read(txn, keys, lock).await?;
            values
                .into_iter()
                .flatten()
                .map(|v| crate::table::decode_handle(t, &v))
                .collect::<Result<_>>()?
        }
    };
    let mut keyed: Vec<(Vec<u8>, Handle)> = handles
        .into_iter()
        .map(|h| (crate::table::record_key(t, &h), h))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    let values = read(txn, keyed.iter().map(|(k, _)| k.clone()).collect(), lock).await?;
    let mut out_handles = Vec::new();
    let mut rows = Vec::new();
    for ((k, h), v) in keyed.into_iter().zip(values) {
        if let Some(v) = v {
            rows.push(crate::table::decode_record(t, &k, &v, offsets)?);
            out_handles.push(h);
        }
    }
    Ok((out_handles, rows))
}

async fn read(
    txn: &Arc<TxnHandle>,
    keys: Vec<Vec<u8>>,
    for_update: bool,
) -> Result<Vec<Option<Vec<u8>>>> {
    if for_update {
        let mut tx = txn.txn.write().await;
        return Ok(tx.batch_get_for_update(keys).await?);
    }
    let tx = txn.txn.read().await;
    if keys.len() == 1 {
        return Ok(vec![tx.get(&keys[0]).await?]);
    }
    let found: BTreeMap<Vec<u8>, Vec<u8>> = tx.batch_get(keys.clone()).await?.into_iter().collect();
    Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
}
