//! Integer arithmetic and sums as MySQL types them.
//!
//! | expression                      | MySQL                  | DataFusion alone | rewritten to |
//! |---------------------------------|------------------------|------------------|--------------|
//! | `a + b`, `a - b`, `a * b` on integers | BIGINT (BIGINT UNSIGNED when both are unsigned) | the wider operand type: two INTs add as INT and overflow at 2^31 | both operands cast to BIGINT (UNSIGNED) |
//! | `SUM(i)`, `AVG(i)` of an integer | DECIMAL (AVG with scale 4) | BIGINT (wrapping on overflow), DOUBLE | the argument cast to DECIMAL(20,0) |
//! | `AVG(d)` of a DECIMAL(p,s)       | scale s + 4, rounded   | scale s + 4, truncated | [`round_averages`]: one more digit, rounded above the aggregate |
//!
//! Overflow of the BIGINT arithmetic itself is an error
//! ([`crate::planner::semantics::overflow`]; between two literals, here). A signed operand mixed with a BIGINT UNSIGNED one
//! is left to DataFusion's coercion.

use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;
use datafusion::common::Column;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::Projection;
use datafusion::logical_expr::{Aggregate, BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator};

use crate::planner::semantics::types::{cast, integer};

/// The type MySQL computes `a op b` in for integer operand types.
fn bigint(l: &DataType, r: &DataType) -> Option<DataType> {
    if !integer(l) || !integer(r) {
        return None;
    }
    if l.is_unsigned_integer() && r.is_unsigned_integer() {
        Some(DataType::UInt64)
    } else if *l == DataType::UInt64 || *r == DataType::UInt64 {
        None
    } else {
        Some(DataType::Int64)
    }
}

/// An integer literal's value.
fn integer_literal(e: &Expr) -> Option<i128> {
    let Expr::Literal(v, _) = e else {
        return None;
    };
    Some(match v {
        ScalarValue::Int8(Some(v)) => *v as i128,
        ScalarValue::Int16(Some(v)) => *v as i128,
        ScalarValue::Int32(Some(v)) => *v as i128,
        ScalarValue::Int64(Some(v)) => *v as i128,
        ScalarValue::UInt8(Some(v)) => *v as i128,
        ScalarValue::UInt16(Some(v)) => *v as i128,
        ScalarValue::UInt32(Some(v)) => *v as i128,
        ScalarValue::UInt64(Some(v)) => *v as i128,
        _ => return None,
    })
}

/// `a op b` on two literals when it leaves the type `t` it is computed
/// in. DataFusion folds constants before the physical plan exists, with
/// wrapping arithmetic, so the overflow is caught here.
fn overflow(a: &Expr, op: Operator, b: &Expr, t: &DataType) -> Option<String> {
    let (a, b) = (integer_literal(a)?, integer_literal(b)?);
    let v = match op {
        Operator::Plus => a + b,
        Operator::Minus => a - b,
        _ => a * b,
    };
    let fits = match t {
        DataType::UInt64 => u64::try_from(v).is_ok(),
        _ => i64::try_from(v).is_ok(),
    };
    (!fits).then(|| format!("{a} {op} {b}"))
}

fn widened(e: Box<Expr>, from: &DataType, to: &DataType) -> Box<Expr> {
    if from == to {
        e
    } else {
        Box::new(cast(*e, to.clone()))
    }
}

pub fn rewrite(e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    Ok(match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right })
            if matches!(op, Operator::Plus | Operator::Minus | Operator::Multiply) =>
        {
            let types = (left.get_type(schema), right.get_type(schema));
            match types {
                (Ok(l), Ok(r)) => match bigint(&l, &r) {
                    Some(t) if let Some(operation) = overflow(&left, op, &right, &t) => {
                        return Err(DataFusionError::ArrowError(
                            Box::new(ArrowError::ArithmeticOverflow(format!(
                                "{}{operation}",
                                copr::OVERFLOW_PREFIX
                            ))),
                            None,
                        ));
                    }
                    Some(t) if t != l || t != r => Transformed::yes(Expr::BinaryExpr(
                        BinaryExpr::new(widened(left, &l, &t), op, widened(right, &r, &t)),
                    )),
                    _ => Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op, right })),
                },
                _ => Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op, right })),
            }
        }
        Expr::AggregateFunction(mut f)
            if matches!(f.func.name(), "sum" | "avg") && f.params.args.len() == 1 =>
        {
            match f.params.args[0].get_type(schema) {
                Ok(t) if integer(&t) => {
                    let arg = f.params.args.remove(0);
                    f.params.args.push(cast(arg, DataType::Decimal128(20, 0)));
                    Transformed::yes(Expr::AggregateFunction(f))
                }
                _ => Transformed::no(Expr::AggregateFunction(f)),
            }
        }
        e => Transformed::no(e),
    })
}

/// `AVG` of a DECIMAL(p,s), rounded as MySQL does: DataFusion divides to
/// scale s + 4 truncating (AVG of 1, 1, 2 is 1.3333, MySQL says 1.3333; of
/// 100, 100, 120 it is 106.6666 where MySQL says 106.6667). The argument
/// gets one more digit of scale and a projection above the aggregate casts
/// the average back to scale s + 4, which rounds half away from zero.
/// Runs after the expression rewrites, so AVG of an integer is an AVG of a
/// DECIMAL by then.
pub fn round_averages(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let LogicalPlan::Aggregate(agg) = plan else {
        return Ok(Transformed::no(plan));
    };
    let input_schema = agg.input.schema().clone();
    let mut rounded: Vec<Option<DataType>> = Vec::with_capacity(agg.aggr_expr.len());
    let mut aggr_expr = Vec::with_capacity(agg.aggr_expr.len());
    for e in &agg.aggr_expr {
        let name = e.schema_name().to_string();
        let target = match e.clone().unalias() {
            Expr::AggregateFunction(mut f)
                if f.func.name() == "avg" && f.params.args.len() == 1 && !f.params.distinct =>
            {
                match f.params.args[0].get_type(&input_schema)? {
                    DataType::Decimal128(p, s) if (0..38).contains(&s) => {
                        let arg = f.params.args.remove(0);
                        f.params
                            .args
                            .push(cast(arg, DataType::Decimal128((p + 1).min(38), s + 1)));
                        aggr_expr.push(Expr::AggregateFunction(f).alias(name));
                        Some(DataType::Decimal128((p + 4).min(38), (s + 4).min(38)))
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        if target.is_none() {
            aggr_expr.push(e.clone());
        }
        rounded.push(target);
    }
    if rounded.iter().all(Option::is_none) {
        return Ok(Transformed::no(LogicalPlan::Aggregate(agg)));
    }
    let new = Aggregate::try_new(agg.input.clone(), agg.group_expr.clone(), aggr_expr)?;
    let schema = new.schema.clone();
    let first_aggregate = schema.fields().len() - rounded.len();
    let exprs = schema
        .iter()
        .enumerate()
        .map(|(i, (qualifier, field))| {
            let column = Expr::Column(Column::from((qualifier, field)));
            match i
                .checked_sub(first_aggregate)
                .and_then(|a| rounded[a].clone())
            {
                Some(target) => cast(column, target).alias(field.name()),
                None => column,
            }
        })
        .collect();
    let projection = Projection::try_new(exprs, std::sync::Arc::new(LogicalPlan::Aggregate(new)))?;
    Ok(Transformed::yes(LogicalPlan::Projection(projection)))
}
