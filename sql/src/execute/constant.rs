//! Constant expressions: the values of `SET x = expr` and of an INSERT's
//! `VALUES` items — literals read directly, anything else evaluated by
//! the planner as a table-less `SELECT`.

use codec::datum::Datum;
use sqlparser::ast::{Expr, Value};
use txn::client::TxnMode;

use crate::error::{Error, Result};
use crate::session::Session;

/// A constant expression's value without a table (SET, defaults): literals
/// directly, anything else through DataFusion.
pub async fn eval_constant(session: &mut Session, expr: &Expr) -> Result<Datum> {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::Null => return Ok(Datum::Null),
            Value::Number(n, _) => {
                if let Ok(i) = n.parse::<i64>() {
                    return Ok(Datum::I64(i));
                }
                if let Ok(d) = n.parse::<codec::decimal::Decimal>() {
                    return Ok(Datum::Decimal(d));
                }
            }
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                return Ok(Datum::Bytes(s.clone().into_bytes()));
            }
            Value::Boolean(b) => return Ok(Datum::I64(*b as i64)),
            _ => {}
        },
        Expr::UnaryOp {
            op: sqlparser::ast::UnaryOperator::Minus,
            expr: inner,
        } => {
            if let Expr::Value(v) = inner.as_ref()
                && let Value::Number(n, _) = &v.value
                && let Ok(i) = format!("-{n}").parse::<i64>()
            {
                return Ok(Datum::I64(i));
            }
        }
        _ => {}
    }
    let query = crate::parse::parse_one(&format!("SELECT {expr}"))?;
    let created = session.txn.is_none();
    let handle = match &session.txn {
        Some(t) => t.handle.clone(),
        None => session.begin(false, true, TxnMode::Optimistic).await?,
    };
    let result = crate::execute::query::select(session, query, handle).await;
    if created {
        session.txn = None;
    }
    let rs = result?;
    Ok(rs
        .rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next())
        .unwrap_or(Datum::Null))
}

/// A VALUES item: `None` for DEFAULT.
pub async fn value_of(session: &mut Session, e: &Expr) -> Result<Option<Datum>> {
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
        return Ok(Some(Datum::Decimal(
            n.parse().map_err(|_| Error::parse(format!("near '{n}'")))?,
        )));
    }
    eval_constant(session, e).await.map(Some)
}
