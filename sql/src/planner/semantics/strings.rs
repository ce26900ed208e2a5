//! Strings read as numbers. MySQL compares a string with a number, and
//! computes with a string, as DOUBLEs, reading the string's longest numeric
//! prefix (`'10abc' = 10` and `'abc' = 0` are true, `5 + '2'` is 7);
//! DataFusion casts the string to the number's type and fails on
//! `'10abc'`.
//!
//! | expression                                  | rewritten to |
//! |---------------------------------------------|--------------|
//! | `=, <>, <, <=, >, >=, <=>` with a string on one side and a number on the other, `IN`, `BETWEEN` mixing them | the string side becomes a number |
//! | `+ - * / %` with a string operand           | the string operand becomes a DOUBLE |
//!
//! Arithmetic is rewritten while DataFusion plans the SQL
//! ([`StringArithmetic`], an expression planner), because the planner
//! types each projection as it builds it and rejects `Int64 + Utf8` before
//! any analyzer rule runs; comparisons are rewritten by the analyzer rule.
//!
//! A string literal becomes a literal: an integer when it spells one
//! exactly and is compared (so `id = '5'` is still a primary-key lookup
//! and a range on an index), a DOUBLE otherwise. Any other string
//! expression becomes `mysql_double(e)`, which the stores evaluate too.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{Between, BinaryExpr, Expr, ExprSchemable, Operator};
use sqlparser::ast::BinaryOperator;

use crate::planner::semantics::types::{number, string};

fn comparison(op: Operator) -> bool {
    matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
            | Operator::IsDistinctFrom
            | Operator::IsNotDistinctFrom
    )
}

fn arithmetic(op: Operator) -> bool {
    matches!(
        op,
        Operator::Plus | Operator::Minus | Operator::Multiply | Operator::Divide | Operator::Modulo
    )
}

/// The number a string expression stands for. `compared`: an exact
/// integer literal stays an integer.
fn as_number(e: Expr, compared: bool) -> Expr {
    let text = match &e {
        Expr::Literal(
            ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s),
            _,
        ) => s.as_deref(),
        _ => return copr::mysql::mysql_double().call(vec![e]),
    };
    let Some(text) = text else {
        return Expr::Literal(ScalarValue::Float64(None), None);
    };
    if compared && let Ok(i) = text.trim_start().parse::<i64>() {
        return Expr::Literal(ScalarValue::Int64(Some(i)), None);
    }
    let (v, _truncated) = codec::datum::parse_double_prefix(text.as_bytes());
    Expr::Literal(ScalarValue::Float64(Some(v)), None)
}

/// `e` as a number when `is` (it is a string), else itself.
fn number_if(e: Box<Expr>, is: bool, compared: bool) -> Box<Expr> {
    if is {
        Box::new(as_number(*e, compared))
    } else {
        e
    }
}

/// Reads the string ones of `exprs` as numbers when they mix strings and
/// numbers; None when they do not.
fn mixed(exprs: &[&Expr], schema: &DFSchema) -> Option<Vec<bool>> {
    let types: Vec<DataType> = exprs
        .iter()
        .map(|e| e.get_type(schema).ok())
        .collect::<Option<_>>()?;
    let strings: Vec<bool> = types.iter().map(string).collect();
    let numbers = types.iter().filter(|t| number(t)).count();
    let nulls = types.iter().filter(|t| t.is_null()).count();
    // Only strings, numbers and NULLs, at least one of each kind.
    let n_strings = strings.iter().filter(|s| **s).count();
    (n_strings > 0 && numbers > 0 && n_strings + numbers + nulls == types.len()).then_some(strings)
}

pub fn rewrite(e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    Ok(match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if comparison(op) || arithmetic(op) => {
            let which = if comparison(op) {
                mixed(&[&left, &right], schema)
            } else {
                // Arithmetic reads strings as numbers whatever the other
                // side is (`'1' + '2'` is 3).
                let types = (left.get_type(schema), right.get_type(schema));
                match types {
                    (Ok(l), Ok(r))
                        if (string(&l) || string(&r))
                            && (string(&l) || number(&l) || l.is_null())
                            && (string(&r) || number(&r) || r.is_null()) =>
                    {
                        Some(vec![string(&l), string(&r)])
                    }
                    _ => None,
                }
            };
            match which {
                Some(s) => Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                    number_if(left, s[0], comparison(op)),
                    op,
                    number_if(right, s[1], comparison(op)),
                ))),
                None => Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op, right })),
            }
        }
        Expr::InList(InList {
            expr,
            list,
            negated,
        }) => {
            let all: Vec<&Expr> = std::iter::once(expr.as_ref()).chain(&list).collect();
            match mixed(&all, schema) {
                Some(s) => {
                    let expr = number_if(expr, s[0], true);
                    let list = list
                        .into_iter()
                        .zip(&s[1..])
                        .map(|(e, is)| if *is { as_number(e, true) } else { e })
                        .collect();
                    Transformed::yes(Expr::InList(InList::new(expr, list, negated)))
                }
                None => Transformed::no(Expr::InList(InList::new(expr, list, negated))),
            }
        }
        Expr::Between(Between {
            expr,
            negated,
            low,
            high,
        }) => match mixed(&[&expr, &low, &high], schema) {
            Some(s) => Transformed::yes(Expr::Between(Between::new(
                number_if(expr, s[0], true),
                negated,
                number_if(low, s[1], true),
                number_if(high, s[2], true),
            ))),
            None => Transformed::no(Expr::Between(Between::new(expr, negated, low, high))),
        },
        e => Transformed::no(e),
    })
}

/// Arithmetic with a string operand, planned as arithmetic on numbers.
#[derive(Debug, Default)]
pub struct StringArithmetic;

impl ExprPlanner for StringArithmetic {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let op = match expr.op {
            BinaryOperator::Plus => Operator::Plus,
            BinaryOperator::Minus => Operator::Minus,
            BinaryOperator::Multiply => Operator::Multiply,
            BinaryOperator::Divide => Operator::Divide,
            BinaryOperator::Modulo => Operator::Modulo,
            _ => return Ok(PlannerResult::Original(expr)),
        };
        let RawBinaryExpr {
            op: raw_op,
            left,
            right,
        } = expr;
        let planned = rewrite(
            Expr::BinaryExpr(BinaryExpr::new(Box::new(left), op, Box::new(right))),
            schema,
        )?;
        match planned {
            t if t.transformed => Ok(PlannerResult::Planned(t.data)),
            t => {
                let Expr::BinaryExpr(BinaryExpr { left, right, .. }) = t.data else {
                    unreachable!("an untransformed binary expression stays one");
                };
                Ok(PlannerResult::Original(RawBinaryExpr {
                    op: raw_op,
                    left: *left,
                    right: *right,
                }))
            }
        }
    }
}
