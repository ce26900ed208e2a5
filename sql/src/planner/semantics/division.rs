//! MySQL's division: `/` and `%` rewritten by their operand types (strings
//! are numbers already, see [`crate::planner::semantics::strings`]).
//!
//! | operands                  | MySQL                                      | rewritten to |
//! |---------------------------|--------------------------------------------|--------------|
//! | integers and DECIMALs     | DECIMAL, scale of the dividend + 4 (`div_precision_increment`) | decimal division, rounded to that scale |
//! | a FLOAT/DOUBLE            | DOUBLE                                     | `CAST(a AS DOUBLE) / CAST(b AS DOUBLE)` |
//! | divisor 0                 | NULL                                       | divisor `NULLIF(b, 0)` |
//!
//! DataFusion alone divides integers as integers (`7 / 2 = 3`) and fails on
//! a zero divisor; MySQL says `3.5000` and NULL. `%` keeps DataFusion's
//! types but also answers NULL for a zero divisor.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, Operator, lit};

use crate::planner::semantics::types::cast;

/// `div_precision_increment`'s default.
const DIV_PRECISION_INCREMENT: u8 = 4;
/// MySQL's largest DECIMAL scale.
const MAX_SCALE: u8 = 30;

/// Precision and scale of an exact numeric type.
fn exact(t: &DataType) -> Option<(u8, u8)> {
    Some(match t {
        DataType::Int8 | DataType::UInt8 => (3, 0),
        DataType::Int16 | DataType::UInt16 => (5, 0),
        DataType::Int32 | DataType::UInt32 => (10, 0),
        DataType::Int64 => (19, 0),
        DataType::UInt64 => (20, 0),
        DataType::Decimal128(p, s) if *s >= 0 => (*p, *s as u8),
        _ => return None,
    })
}

fn inexact(t: &DataType) -> bool {
    matches!(t, DataType::Float16 | DataType::Float32 | DataType::Float64)
}

/// `NULLIF(e, 0)` (spelled as a CASE so it needs no function registry).
fn null_if_zero(e: Expr) -> Expr {
    datafusion::logical_expr::when(
        e.clone().eq(lit(0i64)),
        lit(datafusion::scalar::ScalarValue::Null),
    )
    .otherwise(e)
    .expect("a CASE with one branch and ELSE is valid")
}

pub fn rewrite(e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e else {
        return Ok(Transformed::no(e));
    };
    if !matches!(op, Operator::Divide | Operator::Modulo) {
        return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr {
            left,
            op,
            right,
        })));
    }
    let (Ok(lt), Ok(rt)) = (left.get_type(schema), right.get_type(schema)) else {
        return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr {
            left,
            op,
            right,
        })));
    };
    let numeric = |t: &DataType| exact(t).is_some() || inexact(t);
    if !numeric(&lt) || !numeric(&rt) {
        return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr {
            left,
            op,
            right,
        })));
    }
    if op == Operator::Modulo {
        let divisor = null_if_zero(*right);
        return Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
            left,
            op,
            Box::new(divisor),
        ))));
    }
    let out = match (exact(&lt), exact(&rt)) {
        (Some((pl, sl)), Some((pr, sr))) => {
            let scale = (sl + DIV_PRECISION_INCREMENT).min(MAX_SCALE);
            let precision = (pl as u32 + sr as u32 + DIV_PRECISION_INCREMENT as u32)
                .clamp(scale as u32 + 1, 38) as u8;
            // Arrow divides to the dividend's scale + 4, truncating; one
            // more digit on the dividend lets the final cast round half
            // away from zero as MySQL does (2/3 = 0.6667).
            let l = cast(
                *left,
                DataType::Decimal128((pl.max(1) + 1).min(38), sl as i8 + 1),
            );
            let r = cast(
                null_if_zero(*right),
                DataType::Decimal128(pr.max(1), sr as i8),
            );
            cast(
                Expr::BinaryExpr(BinaryExpr::new(Box::new(l), Operator::Divide, Box::new(r))),
                DataType::Decimal128(precision, scale as i8),
            )
        }
        _ => {
            let l = cast(*left, DataType::Float64);
            let r = null_if_zero(cast(*right, DataType::Float64));
            Expr::BinaryExpr(BinaryExpr::new(Box::new(l), Operator::Divide, Box::new(r)))
        }
    };
    Ok(Transformed::yes(out))
}
