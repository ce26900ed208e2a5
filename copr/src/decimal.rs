//! DECIMAL `+ - *` without overflow checks where no value overflows.
//!
//! Arrow checks every decimal operation for overflow, and rescales an
//! operand of another scale with a checked 128-bit multiply per value:
//! `l_extendedprice * (1 - l_discount)` costs two checked multiplies and a
//! checked subtraction a row, a quarter of TPC-H Q1's CPU. [`DecimalArith`]
//! computes the same values with plain wrapping arithmetic when the
//! operands' magnitudes in a batch show that nothing can overflow 128 bits
//! (a product of values below 2^a and 2^b is below 2^(a+b)), and with
//! Arrow's checked kernels otherwise — so the answer, and the overflow
//! error, are Arrow's. [`fast`] puts it in place of the decimal `+ - *`
//! of an expression.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, PrimitiveArray, new_null_array};
use datafusion::arrow::compute::kernels::arity::binary;
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, Operator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::BinaryExpr;
use datafusion::physical_expr_common::datum::apply;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Add,
    Sub,
    Mul,
}

/// A decimal `+ - *`, computed without checks where it cannot overflow.
#[derive(Debug, Eq)]
pub struct DecimalArith {
    left: Arc<dyn PhysicalExpr>,
    right: Arc<dyn PhysicalExpr>,
    op: Op,
    /// What each side's values are multiplied by to reach the result's
    /// scale (`+` and `-`).
    l_mul: i128,
    r_mul: i128,
    precision: u8,
    scale: i8,
    /// The checked expression it stands for, as EXPLAIN shows it.
    shown: Arc<dyn PhysicalExpr>,
}

impl PartialEq for DecimalArith {
    fn eq(&self, other: &Self) -> bool {
        self.left.eq(&other.left)
            && self.right.eq(&other.right)
            && self.op == other.op
            && (self.precision, self.scale) == (other.precision, other.scale)
    }
}

/// Hashes what [`PartialEq`] compares (the multipliers follow from the
/// operands' types, and `shown` from the rest).
impl std::hash::Hash for DecimalArith {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.left.hash(state);
        self.right.hash(state);
        self.op.hash(state);
        (self.precision, self.scale).hash(state);
    }
}

fn decimal(t: &DataType) -> Option<(u8, i8)> {
    match t {
        DataType::Decimal128(p, s) => Some((*p, *s)),
        _ => None,
    }
}

impl DecimalArith {
    /// `b` as a [`DecimalArith`], if its operands are decimals (the
    /// result typed by Arrow's rules, as DataFusion types it).
    fn of(b: &BinaryExpr, schema: &Schema) -> Option<DecimalArith> {
        let op = match b.op() {
            Operator::Plus => Op::Add,
            Operator::Minus => Op::Sub,
            Operator::Multiply => Op::Mul,
            _ => return None,
        };
        let (p1, s1) = decimal(&b.left().data_type(schema).ok()?)?;
        let (p2, s2) = decimal(&b.right().data_type(schema).ok()?)?;
        let (precision, scale, l_mul, r_mul) = match op {
            Op::Add | Op::Sub => {
                let scale = s1.max(s2);
                let whole = (p1 as i16 - s1 as i16).max(p2 as i16 - s2 as i16);
                let precision = scale as i16 + whole + 1;
                let pow = |k: i8| 10i128.checked_pow(u32::try_from(k).ok()?);
                (precision, scale, pow(scale - s1)?, pow(scale - s2)?)
            }
            Op::Mul => (p1 as i16 + p2 as i16 + 1, s1.checked_add(s2)?, 1, 1),
        };
        if !(0..=38).contains(&scale) {
            return None;
        }
        let precision = precision.clamp(1, 38) as u8;
        // Only where DataFusion types it the same way.
        if b.data_type(schema).ok()? != DataType::Decimal128(precision, scale) {
            return None;
        }
        Some(DecimalArith {
            left: b.left().clone(),
            right: b.right().clone(),
            op,
            l_mul,
            r_mul,
            precision,
            scale,
            shown: Arc::new(BinaryExpr::new(shown(b.left()), *b.op(), shown(b.right()))),
        })
    }

    /// Whether no value of `l op r` can overflow 128 bits, by the largest
    /// magnitudes of the operands (NULL slots included: that only errs on
    /// the side of checking).
    fn cannot_overflow(&self, l: &ColumnarValue, r: &ColumnarValue) -> bool {
        let bits = |v: &ColumnarValue| -> u32 {
            let largest = match v {
                ColumnarValue::Array(a) => a
                    .as_primitive::<Decimal128Type>()
                    .values()
                    .iter()
                    .fold(0u128, |m, v| m.max(v.unsigned_abs())),
                ColumnarValue::Scalar(ScalarValue::Decimal128(v, ..)) => {
                    v.map_or(0, i128::unsigned_abs)
                }
                ColumnarValue::Scalar(_) => u128::MAX,
            };
            128 - largest.leading_zeros()
        };
        let mul_bits = |m: i128| 128 - m.unsigned_abs().leading_zeros();
        match self.op {
            Op::Mul => bits(l) + bits(r) <= 127,
            Op::Add | Op::Sub => {
                let widest = (bits(l) + mul_bits(self.l_mul)).max(bits(r) + mul_bits(self.r_mul));
                widest < 127
            }
        }
    }

    fn apply(
        &self,
        l: ColumnarValue,
        r: ColumnarValue,
        f: impl Fn(i128, i128) -> i128,
    ) -> Result<ColumnarValue> {
        let (p, s) = (self.precision, self.scale);
        let out_type = DataType::Decimal128(p, s);
        let value = |v: &ScalarValue| match v {
            ScalarValue::Decimal128(v, ..) => *v,
            _ => None,
        };
        let array: PrimitiveArray<Decimal128Type> = match (l, r) {
            (ColumnarValue::Array(a), ColumnarValue::Array(b)) => binary(
                a.as_primitive::<Decimal128Type>(),
                b.as_primitive::<Decimal128Type>(),
                f,
            )?,
            (ColumnarValue::Array(a), ColumnarValue::Scalar(y)) => match value(&y) {
                Some(y) => a.as_primitive::<Decimal128Type>().unary(|x| f(x, y)),
                None => return Ok(ColumnarValue::Array(new_null_array(&out_type, a.len()))),
            },
            (ColumnarValue::Scalar(x), ColumnarValue::Array(b)) => match value(&x) {
                Some(x) => b.as_primitive::<Decimal128Type>().unary(|y| f(x, y)),
                None => return Ok(ColumnarValue::Array(new_null_array(&out_type, b.len()))),
            },
            (ColumnarValue::Scalar(x), ColumnarValue::Scalar(y)) => {
                let v = value(&x).zip(value(&y)).map(|(x, y)| f(x, y));
                return Ok(ColumnarValue::Scalar(ScalarValue::Decimal128(v, p, s)));
            }
        };
        Ok(ColumnarValue::Array(Arc::new(
            array.with_precision_and_scale(p, s)?,
        )))
    }
}

/// The expression EXPLAIN shows for `e`.
fn shown(e: &Arc<dyn PhysicalExpr>) -> Arc<dyn PhysicalExpr> {
    match e.downcast_ref::<DecimalArith>() {
        Some(d) => d.shown.clone(),
        None => e.clone(),
    }
}

impl fmt::Display for DecimalArith {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.shown)
    }
}

impl PhysicalExpr for DecimalArith {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Decimal128(self.precision, self.scale))
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        Ok(self.left.nullable(input_schema)? || self.right.nullable(input_schema)?)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let l = self.left.evaluate(batch)?;
        let r = self.right.evaluate(batch)?;
        if !self.cannot_overflow(&l, &r) {
            return match self.op {
                Op::Add => apply(&l, &r, numeric::add),
                Op::Sub => apply(&l, &r, numeric::sub),
                Op::Mul => apply(&l, &r, numeric::mul),
            };
        }
        let (lm, rm) = (self.l_mul, self.r_mul);
        match (self.op, lm, rm) {
            (Op::Add, 1, 1) => self.apply(l, r, |a, b| a.wrapping_add(b)),
            (Op::Add, ..) => self.apply(l, r, |a, b| {
                a.wrapping_mul(lm).wrapping_add(b.wrapping_mul(rm))
            }),
            (Op::Sub, 1, 1) => self.apply(l, r, |a, b| a.wrapping_sub(b)),
            (Op::Sub, ..) => self.apply(l, r, |a, b| {
                a.wrapping_mul(lm).wrapping_sub(b.wrapping_mul(rm))
            }),
            (Op::Mul, ..) => self.apply(l, r, |a, b| a.wrapping_mul(b)),
        }
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.left, &self.right]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let right = children.pop().expect("two children");
        let left = children.pop().expect("two children");
        let shown = self
            .shown
            .clone()
            .with_new_children(vec![shown(&left), shown(&right)])?;
        Ok(Arc::new(DecimalArith {
            left,
            right,
            op: self.op,
            l_mul: self.l_mul,
            r_mul: self.r_mul,
            precision: self.precision,
            scale: self.scale,
            shown,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shown.fmt_sql(f)
    }
}

/// `e` (over rows of `schema`) with every decimal `+ - *` computed by
/// [`DecimalArith`].
pub fn fast(e: Arc<dyn PhysicalExpr>, schema: &Schema) -> Result<Arc<dyn PhysicalExpr>> {
    Ok(e.transform_up(|e| {
        let Some(b) = e.downcast_ref::<BinaryExpr>() else {
            return Ok(Transformed::no(e));
        };
        // Children already replaced are typed as before.
        match DecimalArith::of(b, schema) {
            Some(d) => Ok(Transformed::yes(Arc::new(d) as Arc<dyn PhysicalExpr>)),
            None => Ok(Transformed::no(e)),
        }
    })?
    .data)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{ArrayRef, Decimal128Array};
    use datafusion::arrow::datatypes::Field;
    use datafusion::physical_expr::expressions::{binary as binary_expr, col, lit};

    use super::*;

    fn dec(values: Vec<Option<i128>>, p: u8, s: i8) -> ArrayRef {
        Arc::new(
            Decimal128Array::from(values)
                .with_precision_and_scale(p, s)
                .unwrap(),
        )
    }

    #[test]
    fn gives_the_checked_answer_and_type() {
        let schema = Schema::new(vec![
            Field::new("price", DataType::Decimal128(15, 2), true),
            Field::new("disc", DataType::Decimal128(15, 2), true),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema.clone()),
            vec![
                dec(vec![Some(123_456), Some(-99), None], 15, 2),
                dec(vec![Some(5), Some(10), Some(1)], 15, 2),
            ],
        )
        .unwrap();
        let price = col("price", &schema).unwrap();
        let disc = col("disc", &schema).unwrap();
        // price * (1 - disc), and price + 0.5 (scales differ)
        let one_minus = binary_expr(
            lit(ScalarValue::Decimal128(Some(1), 20, 0)),
            Operator::Minus,
            disc,
            &schema,
        )
        .unwrap();
        let revenue = binary_expr(price.clone(), Operator::Multiply, one_minus, &schema).unwrap();
        let half = lit(ScalarValue::Decimal128(Some(5), 2, 1));
        let plus = binary_expr(price, Operator::Plus, half, &schema).unwrap();
        for e in [revenue, plus] {
            let checked = e.evaluate(&batch).unwrap().into_array(3).unwrap();
            let f = fast(e.clone(), &schema).unwrap();
            assert!(
                f.downcast_ref::<DecimalArith>().is_some(),
                "{e} is not made fast"
            );
            assert_eq!(f.to_string(), e.to_string());
            assert_eq!(f.data_type(&schema).unwrap(), e.data_type(&schema).unwrap());
            let got = f.evaluate(&batch).unwrap().into_array(3).unwrap();
            assert_eq!(&got, &checked, "{e}");
        }
    }

    #[test]
    fn values_that_could_overflow_are_checked() {
        let schema = Schema::new(vec![Field::new("big", DataType::Decimal128(38, 0), true)]);
        let big = col("big", &schema).unwrap();
        let square = binary_expr(big.clone(), Operator::Multiply, big, &schema).unwrap();
        let f = fast(square, &schema).unwrap();
        assert!(f.downcast_ref::<DecimalArith>().is_some());
        let batch = |v: i128| {
            RecordBatch::try_new(
                Arc::new(schema.clone()),
                vec![dec(vec![Some(v), None], 38, 0)],
            )
            .unwrap()
        };
        let small = f.evaluate(&batch(3)).unwrap().into_array(2).unwrap();
        assert_eq!(small.as_primitive::<Decimal128Type>().value(0), 9);
        assert!(small.is_null(1));
        // 10^20 squared does not fit 128 bits: Arrow's overflow error.
        let err = f.evaluate(&batch(10i128.pow(20))).unwrap_err();
        assert!(err.to_string().contains("Overflow"), "{err}");
    }
}
