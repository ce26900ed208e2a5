//! `ANALYZE TABLE t [, ...]`: one aggregate query per table — rows, and
//! per column distinct values, NULLs and the range of numeric, date and
//! time columns — run like any query (on the columnar replica when there
//! is one), stored in the catalog ([`crate::catalog::stats`]) for every
//! SQL server to read.

use std::collections::BTreeMap;

use codec::datum::{Datum, DatumKind};
use sqlparser::ast::{Analyze, ObjectName};
use txn::client::TxnMode;

use crate::catalog::model::TableInfo;
use crate::catalog::names;
use crate::catalog::stats::{ColumnStats, TableStats};
use crate::error::{Error, Result};
use crate::executor::convert::numeric;
use crate::protocol::resultset::ColumnDef;
use crate::session::{ResultSet, Session};

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Columns whose MIN and MAX [`numeric`] turns into numbers.
fn ranged(kind: DatumKind) -> bool {
    matches!(
        kind,
        DatumKind::I64
            | DatumKind::U64
            | DatumKind::F64
            | DatumKind::Decimal
            | DatumKind::Date
            | DatumKind::DateTime
    )
}

fn count(d: &Datum) -> u64 {
    match d {
        Datum::I64(v) => (*v).max(0) as u64,
        Datum::U64(v) => *v,
        _ => 0,
    }
}

/// Counts one table's statistics at the session's snapshot.
async fn analyze_table(session: &mut Session, db: &str, t: &TableInfo) -> Result<TableStats> {
    let mut select = vec!["COUNT(*)".to_string()];
    for c in &t.columns {
        let q = quote(&c.name);
        // Distinct values by HyperLogLog (as TiDB's FM sketches): one
        // small state per column, merged across regions and pushed to the
        // columnar stores, where an exact COUNT(DISTINCT) of a text column
        // of millions of rows held every value in one hash set. DataFusion
        // has no sketch for floats; they are counted exactly.
        if c.ft.datum_kind() == DatumKind::F64 {
            select.push(format!("COUNT(DISTINCT {q}), COUNT({q})"));
        } else {
            select.push(format!("APPROX_DISTINCT({q}), COUNT({q})"));
        }
        if ranged(c.ft.datum_kind()) {
            select.push(format!("MIN({q}), MAX({q})"));
        } else {
            select.push("NULL, NULL".into());
        }
    }
    let sql = format!(
        "SELECT {} FROM {}.{}",
        select.join(", "),
        quote(db),
        quote(&t.name)
    );
    let stmt = crate::parse::parse_one(&sql)?;
    let handle = session.begin(false, true, TxnMode::Optimistic).await?;
    let version = handle.txn.read().await.start_ts().into_inner();
    let rs = crate::execute::query::select(session, stmt, handle).await;
    session.txn = None;
    let rs = rs?;
    let row = rs
        .rows
        .first()
        .ok_or_else(|| Error::internal("ANALYZE counted no row"))?;
    let mut stats = TableStats {
        row_count: count(&row[0]),
        version,
        columns: BTreeMap::new(),
    };
    for (i, c) in t.columns.iter().enumerate() {
        let at = 1 + i * 4;
        let non_null = count(&row[at + 1]);
        stats.columns.insert(
            c.id,
            ColumnStats {
                ndv: count(&row[at]),
                nulls: stats.row_count.saturating_sub(non_null),
                min: numeric(&row[at + 2]),
                max: numeric(&row[at + 3]),
            },
        );
    }
    Ok(stats)
}

/// The tables an `ANALYZE TABLE` names (the dialect puts the second and
/// later ones in `partitions`, see [`crate::dialect`]).
fn named_tables(a: &Analyze) -> Result<Vec<ObjectName>> {
    let mut names: Vec<ObjectName> = a.table_name.iter().cloned().collect();
    for e in a.partitions.iter().flatten() {
        match e {
            sqlparser::ast::Expr::Identifier(i) => names.push(ObjectName::from(vec![i.clone()])),
            sqlparser::ast::Expr::CompoundIdentifier(parts) => {
                names.push(ObjectName::from(parts.clone()))
            }
            other => return Err(Error::unsupported(format!("ANALYZE TABLE ... {other}"))),
        }
    }
    if names.is_empty() {
        return Err(Error::unsupported("ANALYZE without a table"));
    }
    Ok(names)
}

/// `ANALYZE TABLE t [, ...]`: MySQL's result set, one row per table.
pub async fn analyze(session: &mut Session, a: &Analyze) -> Result<ResultSet> {
    let columns = ["Table", "Op", "Msg_type", "Msg_text"]
        .iter()
        .map(|n| ColumnDef::expr(n, crate::protocol::ColumnType::VarString))
        .collect();
    let mut rows = Vec::new();
    for name in named_tables(a)? {
        let (db, table) = names::object_name(&name)?;
        let db = match db {
            Some(d) => d,
            None => session.current_db()?.to_string(),
        };
        let info = session.schema().require_table(&db, &table)?.clone();
        let stats = analyze_table(session, &db, &info).await?;
        let mut txn = session.shared.client.begin().await?;
        crate::catalog::meta::put_stats(&mut txn, info.id, &stats).await?;
        txn.commit().await?;
        session.shared.stats.invalidate(info.id);
        let text = |s: &str| Datum::Bytes(s.as_bytes().to_vec());
        rows.push(vec![
            text(&format!("{db}.{}", info.name)),
            text("analyze"),
            text("status"),
            text("OK"),
        ]);
    }
    Ok(ResultSet { columns, rows })
}
