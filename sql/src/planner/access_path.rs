//! # Access paths: which keys a table read touches
//!
//! From the filters DataFusion offers a table scan, [`plan_access`] picks
//! how the table is read:
//!
//! | access path        | keys read                               | where filters run |
//! |--------------------|-----------------------------------------|-------------------|
//! | `TableFullScan`    | the table's record range                | on the kv stores (coprocessor) |
//! | `TableRangeScan`   | the handle range an integer PK allows   | on the kv stores (coprocessor) |
//! | `IndexRangeScan`   | index entries, then the rows by handle  | in the SQL layer, on the fetched rows |
//!
//! Every filter DataFusion offers is either pushed (it runs with the scan,
//! and DataFusion does not apply it again) or refused ([`pushable`]). A
//! filter is pushed when it is made of columns, constants, operators and
//! DataFusion's built-in functions, so the store can evaluate it exactly as
//! the SQL layer would; subqueries, outer references and volatile
//! functions stay above the scan. The chosen [`Access`] and the columns'
//! descriptions ([`column_spec`]) go to the scan executor
//! ([`crate::executor::scan::ScanExec`]).

use codec::datum::{Datum, DatumKind};
use codec::decimal::Decimal;
use codec::table::{self as keys, Handle};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};
use datafusion::scalar::ScalarValue;
use proto::kvrpcpb::ColumnSpec;

use crate::catalog::model::{HandleKind, IndexInfo, SchemaState, TableInfo};
use crate::executor::convert::numeric;
use crate::executor::scan::{Access, Narrowing};

/// Whether a filter can run inside the scan (on a store or on fetched
/// rows) with the same meaning it has above it.
pub fn pushable(e: &Expr) -> bool {
    if e.is_volatile() {
        return false;
    }
    let mut ok = true;
    let _ = e.apply(|e| {
        let fine = matches!(
            e,
            Expr::Column(_)
                | Expr::Literal(..)
                | Expr::BinaryExpr(_)
                | Expr::Not(_)
                | Expr::IsNull(_)
                | Expr::IsNotNull(_)
                | Expr::IsTrue(_)
                | Expr::IsFalse(_)
                | Expr::IsNotTrue(_)
                | Expr::IsNotFalse(_)
                | Expr::IsUnknown(_)
                | Expr::IsNotUnknown(_)
                | Expr::Negative(_)
                | Expr::Between(_)
                | Expr::InList(_)
                | Expr::Like(_)
                | Expr::SimilarTo(_)
                | Expr::Case(_)
                | Expr::Cast(_)
                | Expr::TryCast(_)
                | Expr::ScalarFunction(_)
        );
        if fine {
            Ok(TreeNodeRecursion::Continue)
        } else {
            ok = false;
            Ok(TreeNodeRecursion::Stop)
        }
    });
    ok
}

/// A value bound for one column in a key range.
#[derive(Debug, Clone)]
struct Bound {
    value: Datum,
    inclusive: bool,
}

/// What the filters say about one indexed column.
#[derive(Debug, Clone, Default)]
struct ColumnCond {
    points: Option<Vec<Datum>>,
    lo: Option<Bound>,
    hi: Option<Bound>,
    /// A filter made the column's condition impossible (`NULL` compared).
    empty: bool,
}

/// The datum a constant is in a column of `kind`, when comparing them
/// there orders like comparing their key encodings.
fn key_datum(v: &ScalarValue, kind: DatumKind, binary: bool) -> Option<Datum> {
    use ScalarValue as S;
    Some(match (v, kind) {
        (S::Int64(Some(i)), DatumKind::I64) => Datum::I64(*i),
        (S::Int64(Some(i)), DatumKind::U64) if *i >= 0 => Datum::U64(*i as u64),
        (S::UInt64(Some(u)), DatumKind::U64) => Datum::U64(*u),
        (S::UInt64(Some(u)), DatumKind::I64) if *u <= i64::MAX as u64 => Datum::I64(*u as i64),
        (S::Float64(Some(f)), DatumKind::F64) if f.is_finite() => Datum::F64(*f),
        (S::Decimal128(Some(m), _, s), DatumKind::Decimal) if *s >= 0 => {
            Datum::Decimal(Decimal::try_new(*m, *s as u8)?)
        }
        (S::Utf8(Some(s)) | S::LargeUtf8(Some(s)) | S::Utf8View(Some(s)), DatumKind::Bytes)
            if !binary =>
        {
            Datum::Bytes(s.as_bytes().to_vec())
        }
        (S::Binary(Some(b)) | S::LargeBinary(Some(b)), DatumKind::Bytes) if binary => {
            Datum::Bytes(b.clone())
        }
        (S::Date32(Some(d)), DatumKind::Date) => Datum::Date(*d),
        (S::TimestampMicrosecond(Some(t), None), DatumKind::DateTime) => Datum::DateTime(*t),
        _ => return None,
    })
}

fn literal(e: &Expr) -> Option<&ScalarValue> {
    match e {
        Expr::Literal(v, _) => Some(v),
        _ => None,
    }
}

fn column_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::Column(c) => Some(c.name.as_str()),
        _ => None,
    }
}

/// Folds one filter into the conditions of the column it constrains.
fn add_condition(conds: &mut [ColumnCond], names: &[(String, DatumKind, bool)], f: &Expr) {
    let find = |e: &Expr| {
        let n = column_name(e)?;
        names.iter().position(|(name, _, _)| name == n)
    };
    let datum = |i: usize, v: &ScalarValue| key_datum(v, names[i].1, names[i].2);
    match f {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (i, v, op) = if let (Some(i), Some(v)) = (find(left), literal(right)) {
                (i, v, *op)
            } else if let (Some(i), Some(v), Some(op)) = (find(right), literal(left), op.swap()) {
                (i, v, op)
            } else {
                return;
            };
            if v.is_null() {
                if matches!(
                    op,
                    Operator::Eq | Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq
                ) {
                    conds[i].empty = true;
                }
                return;
            }
            let Some(d) = datum(i, v) else { return };
            let c = &mut conds[i];
            match op {
                Operator::Eq => c.points = Some(vec![d]),
                Operator::Gt | Operator::GtEq => {
                    c.lo = Some(Bound {
                        value: d,
                        inclusive: op == Operator::GtEq,
                    })
                }
                Operator::Lt | Operator::LtEq => {
                    c.hi = Some(Bound {
                        value: d,
                        inclusive: op == Operator::LtEq,
                    })
                }
                _ => {}
            }
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => {
            let Some(i) = find(expr) else { return };
            if let (Some(l), Some(h)) = (literal(low), literal(high))
                && let (Some(l), Some(h)) = (datum(i, l), datum(i, h))
            {
                conds[i].lo = Some(Bound {
                    value: l,
                    inclusive: true,
                });
                conds[i].hi = Some(Bound {
                    value: h,
                    inclusive: true,
                });
            }
        }
        Expr::InList(list) if !list.negated => {
            let Some(i) = find(&list.expr) else { return };
            let mut points = Vec::new();
            for e in &list.list {
                match literal(e) {
                    Some(v) if v.is_null() => {}
                    Some(v) => match datum(i, v) {
                        Some(d) => points.push(d),
                        None => return,
                    },
                    None => return,
                }
            }
            if points.is_empty() {
                conds[i].empty = true;
            } else {
                conds[i].points = Some(points);
            }
        }
        _ => {}
    }
}

/// A `[start, end)` range of encoded keys.
type KeyRange = (Vec<u8>, Vec<u8>);

/// Key prefixes of the index points × the encoded bound of the next column.
const MAX_RANGES: usize = 256;

/// The key ranges of `index` the filters allow, and a score (equality
/// columns count double), or None when the index does not help. One pass
/// over the index columns in key order (points extend the prefix, the
/// first range ends it), kept whole as that walk.
fn index_ranges(
    t: &TableInfo,
    index: &IndexInfo,
    filters: &[&Expr],
) -> Option<(usize, Vec<KeyRange>, String, Vec<Narrowing>)> {
    let offsets = t.index_offsets(index);
    let mut names = Vec::new();
    for (ic, &off) in index.columns.iter().zip(&offsets) {
        if ic.length.is_some() {
            // A prefix index stores cut values: no exact ranges.
            break;
        }
        let c = &t.columns[off];
        names.push((c.name.to_lowercase(), c.ft.datum_kind(), c.ft.is_binary()));
    }
    if names.is_empty() {
        return None;
    }
    let mut conds = vec![ColumnCond::default(); names.len()];
    for f in filters {
        add_condition(&mut conds, &names, f);
    }
    let prefix = keys::index_prefix(t.id, index.id);
    let mut prefixes: Vec<Vec<u8>> = vec![prefix];
    let mut score = 0;
    let mut described = Vec::new();
    let mut narrowed = Vec::new();
    let mut i = 0;
    while i < conds.len() {
        let c = &conds[i];
        if c.empty {
            return Some((usize::MAX, Vec::new(), "empty".into(), Vec::new()));
        }
        let Some(points) = &c.points else { break };
        if prefixes.len() * points.len() > MAX_RANGES {
            break;
        }
        prefixes = prefixes
            .iter()
            .flat_map(|p| {
                points.iter().map(move |d| {
                    let mut k = p.clone();
                    codec::key::encode_key_datum(&mut k, d);
                    k
                })
            })
            .collect();
        described.push(format!("{} in {} value(s)", names[i].0, points.len()));
        narrowed.push(Narrowing::Points {
            column: offsets[i],
            points: points.len(),
        });
        score += 2;
        i += 1;
    }
    let range = conds.get(i).filter(|c| c.lo.is_some() || c.hi.is_some());
    let ranges = match range {
        Some(c) => {
            score += 1;
            described.push(format!("{} in a range", names[i].0));
            narrowed.push(Narrowing::Range {
                column: offsets[i],
                lo: c.lo.as_ref().and_then(|b| numeric(&b.value)),
                hi: c.hi.as_ref().and_then(|b| numeric(&b.value)),
            });
            prefixes
                .iter()
                .map(|p| {
                    let start = match &c.lo {
                        Some(b) => {
                            let mut k = p.clone();
                            codec::key::encode_key_datum(&mut k, &b.value);
                            if b.inclusive {
                                k
                            } else {
                                keys::prefix_next(&k)
                            }
                        }
                        None => {
                            // Above every NULL of the column.
                            let mut k = p.clone();
                            codec::key::encode_key_datum(&mut k, &Datum::Null);
                            keys::prefix_next(&k)
                        }
                    };
                    let end = match &c.hi {
                        Some(b) => {
                            let mut k = p.clone();
                            codec::key::encode_key_datum(&mut k, &b.value);
                            if b.inclusive {
                                keys::prefix_next(&k)
                            } else {
                                k
                            }
                        }
                        None => keys::prefix_next(p),
                    };
                    (start, end)
                })
                .filter(|(s, e)| s < e)
                .collect()
        }
        None => prefixes
            .iter()
            .map(|p| (p.clone(), keys::prefix_next(p)))
            .collect(),
    };
    (score > 0).then(|| (score, ranges, described.join(", "), narrowed))
}

/// Chooses how to read `t` under `filters`: a handle range of an integer
/// primary key, else the best index range, else the whole table.
pub fn plan_access(t: &TableInfo, handle_range: Option<(i64, i64)>, filters: &[&Expr]) -> Access {
    if let Some((lo, hi)) = handle_range {
        let (start, end) = if lo > hi {
            let p = keys::record_prefix(t.id);
            (p.clone(), p)
        } else {
            let start = keys::encode_row_key(t.id, &Handle::Int(lo));
            let end = match hi.checked_add(1) {
                Some(h) => keys::encode_row_key(t.id, &Handle::Int(h)),
                None => keys::record_range(t.id).1,
            };
            (start, end)
        };
        return Access::Table {
            start,
            end,
            range: Some(format!("[{lo},{hi}]")),
        };
    }
    let best = t
        .indexes
        .iter()
        .filter(|i| i.state == SchemaState::Public && !(i.primary && t.handle != HandleKind::RowId))
        .filter_map(|i| index_ranges(t, i, filters).map(|(s, r, d, n)| (s, i, r, d, n)))
        .max_by_key(|(s, ..)| *s);
    if let Some((_, index, ranges, described, narrowed)) = best {
        return Access::Index {
            index: index.name.clone(),
            ranges,
            described,
            narrowed,
        };
    }
    let (start, end) = keys::record_range(t.id);
    Access::Table {
        start,
        end,
        range: None,
    }
}

/// The scan's column description for the stores.
pub fn column_spec(
    t: &TableInfo,
    offset: usize,
    name: &str,
    nullable: bool,
) -> crate::Result<ColumnSpec> {
    let c = &t.columns[offset];
    let handle = matches!(t.handle, HandleKind::IntPk(pk) if pk == offset);
    let mut default = Vec::new();
    let d = crate::table::original_default(c)?;
    if d != Datum::Null {
        codec::key::encode_key_datum(&mut default, &d);
    }
    Ok(ColumnSpec {
        id: c.id,
        name: name.to_string(),
        kind: codec::arrow::kind_to_u32(c.ft.datum_kind()),
        precision: c.ft.length,
        scale: c.ft.scale as u32,
        binary: c.ft.is_binary(),
        handle,
        nullable,
        default,
    })
}

/// The hidden row id as a scan column.
pub fn row_id_spec(name: &str) -> ColumnSpec {
    ColumnSpec {
        id: -1,
        name: name.to_string(),
        kind: codec::arrow::kind_to_u32(DatumKind::I64),
        handle: true,
        nullable: false,
        ..Default::default()
    }
}
