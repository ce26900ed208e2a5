//! A small evaluator for the expressions the fast paths meet: literals,
//! column references, unary minus and `+ - *` on numbers, with MySQL's
//! integer-overflow error. Anything else returns `None` and the statement
//! takes the general (DataFusion) path.

use codec::datum::Datum;
use codec::decimal::Decimal;
use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator, Value};

use crate::error::{Error, Result, code};

/// A literal's datum (`None` for anything that is not a plain literal).
pub fn literal(e: &Expr) -> Option<Datum> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Null => Some(Datum::Null),
            Value::Number(n, _) => number(n),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                Some(Datum::Bytes(s.clone().into_bytes()))
            }
            Value::Boolean(b) => Some(Datum::I64(*b as i64)),
            Value::HexStringLiteral(h) => hex(h).map(Datum::Bytes),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match literal(expr)? {
            Datum::I64(i) => i
                .checked_neg()
                .map(Datum::I64)
                .or(Some(Datum::Decimal(-Decimal::from_i64(i)))),
            Datum::U64(u) if u == 1 << 63 => Some(Datum::I64(i64::MIN)),
            Datum::U64(u) => Some(Datum::Decimal(-Decimal::from_u64(u))),
            Datum::Decimal(d) => Some(Datum::Decimal(-d)),
            Datum::F64(f) => Some(Datum::F64(-f)),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Plus,
            expr,
        } => literal(expr),
        Expr::Nested(inner) => literal(inner),
        _ => None,
    }
}

/// A numeric literal as MySQL types it: integer, DECIMAL with a point,
/// DOUBLE with an exponent.
pub fn number(n: &str) -> Option<Datum> {
    if n.contains(['e', 'E']) {
        return n.parse::<f64>().ok().map(Datum::F64);
    }
    if !n.contains('.') {
        if let Ok(i) = n.parse::<i64>() {
            return Some(Datum::I64(i));
        }
        if let Ok(u) = n.parse::<u64>() {
            return Some(Datum::U64(u));
        }
    }
    n.parse::<Decimal>().ok().map(Datum::Decimal)
}

fn hex(h: &str) -> Option<Vec<u8>> {
    let h = if h.len() % 2 == 1 {
        format!("0{h}")
    } else {
        h.to_string()
    };
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).ok())
        .collect()
}

/// Evaluates `e` with `column` resolving (lower-case) column names.
/// `Ok(None)`: not something this evaluator handles.
pub fn eval(e: &Expr, column: &dyn Fn(&str) -> Option<Datum>) -> Result<Option<Datum>> {
    eval_with(e, column, &|_| None, None)
}

/// [`eval`] for `INSERT ... ON DUPLICATE KEY UPDATE`: `VALUES(c)` and
/// `alias.c` (MySQL 8's `AS alias` row alias) read the row that was to be
/// inserted through `values`.
pub fn eval_with(
    e: &Expr,
    column: &dyn Fn(&str) -> Option<Datum>,
    values: &dyn Fn(&str) -> Option<Datum>,
    alias: Option<&str>,
) -> Result<Option<Datum>> {
    if let Some(d) = literal(e) {
        return Ok(Some(d));
    }
    Ok(match e {
        Expr::Identifier(id) => column(&id.value.to_lowercase()),
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
            let name = parts[1].value.to_lowercase();
            if alias.is_some_and(|a| a.eq_ignore_ascii_case(&parts[0].value)) {
                values(&name)
            } else {
                column(&name)
            }
        }
        Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("values") => {
            let arg = f.args.to_string();
            let arg = arg
                .trim_matches(|c| c == '(' || c == ')')
                .trim()
                .trim_matches('`')
                .to_lowercase();
            values(&arg)
        }
        Expr::Nested(inner) => eval_with(inner, column, values, alias)?,
        Expr::BinaryOp { left, op, right }
            if matches!(
                op,
                BinaryOperator::Plus | BinaryOperator::Minus | BinaryOperator::Multiply
            ) =>
        {
            let (Some(a), Some(b)) = (
                eval_with(left, column, values, alias)?,
                eval_with(right, column, values, alias)?,
            ) else {
                return Ok(None);
            };
            arith(&a, op, &b, e)?
        }
        _ => None,
    })
}

fn overflow(e: &Expr, kind: &str) -> Error {
    Error::new(
        code::ER_DATA_OUT_OF_RANGE,
        format!("{kind} value is out of range in '({e})'"),
    )
}

fn arith(a: &Datum, op: &BinaryOperator, b: &Datum, e: &Expr) -> Result<Option<Datum>> {
    use Datum::*;
    if matches!(a, Null) || matches!(b, Null) {
        return Ok(Some(Null));
    }
    Ok(Some(match (a, b) {
        (I64(x), I64(y)) => {
            let r = match op {
                BinaryOperator::Plus => x.checked_add(*y),
                BinaryOperator::Minus => x.checked_sub(*y),
                _ => x.checked_mul(*y),
            };
            I64(r.ok_or_else(|| overflow(e, "BIGINT"))?)
        }
        (U64(_), _) | (_, U64(_))
            if !matches!(a, F64(_) | Decimal(_)) && !matches!(b, F64(_) | Decimal(_)) =>
        {
            let x = as_i128(a);
            let y = as_i128(b);
            let r = match op {
                BinaryOperator::Plus => x + y,
                BinaryOperator::Minus => x - y,
                _ => x.checked_mul(y).unwrap_or(i128::MAX),
            };
            U64(u64::try_from(r).map_err(|_| overflow(e, "BIGINT UNSIGNED"))?)
        }
        (F64(_), _) | (_, F64(_)) => {
            let (Some(x), Some(y)) = (as_f64(a), as_f64(b)) else {
                return Ok(None);
            };
            let r = match op {
                BinaryOperator::Plus => x + y,
                BinaryOperator::Minus => x - y,
                _ => x * y,
            };
            if !r.is_finite() {
                return Err(overflow(e, "DOUBLE"));
            }
            F64(r)
        }
        _ => {
            let (Some(x), Some(y)) = (as_decimal(a), as_decimal(b)) else {
                return Ok(None);
            };
            let r = match op {
                BinaryOperator::Plus => x.checked_add(y),
                BinaryOperator::Minus => x.checked_sub(y),
                _ => x.checked_mul(y),
            };
            Decimal(r.ok_or_else(|| overflow(e, "DECIMAL"))?)
        }
    }))
}

fn as_i128(d: &Datum) -> i128 {
    match d {
        Datum::I64(i) => *i as i128,
        Datum::U64(u) => *u as i128,
        _ => 0,
    }
}

fn as_f64(d: &Datum) -> Option<f64> {
    Some(match d {
        Datum::I64(i) => *i as f64,
        Datum::U64(u) => *u as f64,
        Datum::F64(f) => *f,
        Datum::Decimal(x) => x.to_f64(),
        Datum::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().unwrap_or(0.0),
        _ => return None,
    })
}

fn as_decimal(d: &Datum) -> Option<Decimal> {
    Some(match d {
        Datum::I64(i) => Decimal::from_i64(*i),
        Datum::U64(u) => Decimal::from_u64(*u),
        Datum::Decimal(x) => *x,
        _ => return None,
    })
}
