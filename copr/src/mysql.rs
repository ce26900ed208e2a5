//! MySQL semantics that DataFusion lacks, shared by the SQL layer (which
//! puts them into plans) and the stores (which evaluate pushed-down
//! filters):
//!
//! - [`functions`]: MySQL's scalar functions. Both sides register them
//!   under the same names, so a serialized filter decodes to the same
//!   function on either side.
//! - [`checked_arithmetic`]: integer `+ - *` that fail on overflow
//!   (MySQL's error 1690) where DataFusion wraps around; [`checked_plan`]
//!   applies it to every expression of a physical plan.

use std::sync::{Arc, OnceLock};

use codec::datum::parse_double_prefix;
use datafusion::arrow::array::{Array, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::utils::take_function_args;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Operator, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TypeSignature, Volatility,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::BinaryExpr;
use datafusion::physical_expr::projection::ProjectionExpr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::{AggregateExec, PhysicalGroupBy};
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::projection::ProjectionExec;

/// Every function of this module, to register in a function registry.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    vec![mysql_double()]
}

/// `mysql_double(s)`: the DOUBLE a string (or binary string) stands for
/// when MySQL compares or computes with it as a number — its longest
/// numeric prefix, 0 when none (`'10abc'` is 10, `'abc'` is 0). DataFusion's
/// `CAST(s AS DOUBLE)` fails on such strings instead.
pub fn mysql_double() -> Arc<ScalarUDF> {
    static F: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    F.get_or_init(|| Arc::new(ScalarUDF::from(MySqlDouble::new())))
        .clone()
}

/// `e` with every `+`, `-` and `*` checked for overflow: DataFusion plans
/// them wrapping (`9223372036854775807 + 1` is the smallest BIGINT), MySQL
/// fails the statement. The error is Arrow's `ArithmeticOverflow`.
pub fn checked_arithmetic(e: Arc<dyn PhysicalExpr>) -> Result<Arc<dyn PhysicalExpr>> {
    Ok(e.transform_up(|e| {
        let Some(b) = e.downcast_ref::<BinaryExpr>() else {
            return Ok(Transformed::no(e));
        };
        if !matches!(
            b.op(),
            Operator::Plus | Operator::Minus | Operator::Multiply
        ) {
            return Ok(Transformed::no(e));
        }
        let checked = BinaryExpr::new(b.left().clone(), *b.op(), b.right().clone())
            .with_fail_on_overflow(true);
        if &checked == b {
            return Ok(Transformed::no(e));
        }
        Ok(Transformed::yes(Arc::new(checked) as Arc<dyn PhysicalExpr>))
    })?
    .data)
}

/// `plan` with [`checked_arithmetic`] applied to the expressions of its
/// projections, filters and aggregates (arguments and grouping keys).
pub fn checked_plan(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    map_plan_exprs(plan, &|e, _| checked_arithmetic(e))
}

/// A rewrite of an expression over rows of the given schema.
pub type ExprRewrite<'a> =
    &'a dyn Fn(Arc<dyn PhysicalExpr>, &Schema) -> Result<Arc<dyn PhysicalExpr>>;

/// `plan` with `f` applied to the expressions of its projections, filters
/// and aggregates (arguments and grouping keys).
pub fn map_plan_exprs(
    plan: Arc<dyn ExecutionPlan>,
    f: ExprRewrite,
) -> Result<Arc<dyn ExecutionPlan>> {
    Ok(plan.transform_up(|p| map_node(p, f))?.data)
}

type Exprs = Vec<Arc<dyn PhysicalExpr>>;

/// `exprs` rewritten by `f`, or None when nothing changes.
fn map_all(
    exprs: &[Arc<dyn PhysicalExpr>],
    schema: &Schema,
    f: ExprRewrite,
) -> Result<Option<Exprs>> {
    let out = exprs
        .iter()
        .map(|e| f(e.clone(), schema))
        .collect::<Result<Exprs>>()?;
    let same = out
        .iter()
        .zip(exprs)
        .all(|(a, b)| Arc::ptr_eq(a, b) || a == b);
    Ok((!same).then_some(out))
}

fn map_node(
    plan: Arc<dyn ExecutionPlan>,
    f: ExprRewrite,
) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
    if let Some(p) = plan.downcast_ref::<ProjectionExec>() {
        let exprs: Exprs = p.expr().iter().map(|e| e.expr.clone()).collect();
        let Some(checked) = map_all(&exprs, &p.input().schema(), f)? else {
            return Ok(Transformed::no(plan));
        };
        let exprs = checked
            .into_iter()
            .zip(p.expr())
            .map(|(expr, e)| ProjectionExpr {
                expr,
                alias: e.alias.clone(),
            });
        return Ok(Transformed::yes(Arc::new(ProjectionExec::try_new(
            exprs,
            p.input().clone(),
        )?)));
    }
    if let Some(filter) = plan.downcast_ref::<FilterExec>() {
        let predicate = std::slice::from_ref(filter.predicate());
        let Some(mut checked) = map_all(predicate, &filter.input().schema(), f)? else {
            return Ok(Transformed::no(plan));
        };
        let filter = FilterExecBuilder::from(filter)
            .with_predicate(checked.remove(0))
            .build()?;
        return Ok(Transformed::yes(Arc::new(filter)));
    }
    if let Some(a) = plan.downcast_ref::<AggregateExec>() {
        return map_aggregate(a, f).map(|new| match new {
            Some(new) => Transformed::yes(new),
            None => Transformed::no(plan.clone()),
        });
    }
    Ok(Transformed::no(plan))
}

fn map_aggregate(a: &AggregateExec, f: ExprRewrite) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let mut changed = false;
    let schema = a.input_schema();
    let group_by = a.group_expr();
    let keys: Exprs = group_by.expr().iter().map(|(e, _)| e.clone()).collect();
    let keys = match map_all(&keys, &schema, f)? {
        Some(keys) => {
            changed = true;
            keys
        }
        None => keys,
    };
    let mut aggregates = Vec::with_capacity(a.aggr_expr().len());
    for agg in a.aggr_expr() {
        match map_all(&agg.expressions(), &schema, f)? {
            Some(args) => {
                let order_by = agg.order_bys().iter().map(|s| s.expr.clone()).collect();
                match agg.with_new_expressions(args, order_by) {
                    Some(new) => {
                        changed = true;
                        aggregates.push(Arc::new(new));
                    }
                    None => aggregates.push(agg.clone()),
                }
            }
            None => aggregates.push(agg.clone()),
        }
    }
    if !changed {
        return Ok(None);
    }
    let group_by = PhysicalGroupBy::new(
        keys.into_iter()
            .zip(group_by.expr())
            .map(|(e, (_, name))| (e, name.clone()))
            .collect(),
        group_by.null_expr().to_vec(),
        group_by.groups().to_vec(),
        group_by.has_grouping_set(),
    );
    let new = AggregateExec::try_new(
        *a.mode(),
        group_by,
        aggregates,
        a.filter_expr().to_vec(),
        a.input().clone(),
        a.input_schema(),
    )?
    .with_limit_options(a.limit_options());
    Ok(Some(Arc::new(new)))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MySqlDouble {
    signature: Signature,
}

impl MySqlDouble {
    fn new() -> Self {
        let one = |t: DataType| TypeSignature::Exact(vec![t]);
        MySqlDouble {
            signature: Signature::one_of(
                vec![
                    one(DataType::Utf8),
                    one(DataType::LargeUtf8),
                    one(DataType::Utf8View),
                    one(DataType::Binary),
                    one(DataType::LargeBinary),
                    one(DataType::BinaryView),
                ],
                Volatility::Immutable,
            ),
        }
    }
}

fn doubles<'a>(values: impl Iterator<Item = Option<&'a [u8]>>) -> Float64Array {
    values
        .map(|v| v.map(|s| parse_double_prefix(s).0))
        .collect()
}

impl ScalarUDFImpl for MySqlDouble {
    fn name(&self) -> &str {
        "mysql_double"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = take_function_args(self.name(), args.args)?;
        let scalar = matches!(arg, ColumnarValue::Scalar(_));
        let array = arg.into_array(if scalar { 1 } else { args.number_rows })?;
        let out = match array.data_type() {
            DataType::Utf8 => doubles(
                array
                    .as_string::<i32>()
                    .iter()
                    .map(|v| v.map(str::as_bytes)),
            ),
            DataType::LargeUtf8 => doubles(
                array
                    .as_string::<i64>()
                    .iter()
                    .map(|v| v.map(str::as_bytes)),
            ),
            DataType::Utf8View => {
                doubles(array.as_string_view().iter().map(|v| v.map(str::as_bytes)))
            }
            DataType::Binary => doubles(array.as_binary::<i32>().iter()),
            DataType::LargeBinary => doubles(array.as_binary::<i64>().iter()),
            DataType::BinaryView => doubles(array.as_binary_view().iter()),
            other => return exec_err!("mysql_double of {other}"),
        };
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(Arc::new(out))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::Field;
    use datafusion::common::config::ConfigOptions;

    fn call(arg: ColumnarValue, rows: usize) -> ColumnarValue {
        let f = mysql_double();
        let arg_type = arg.data_type();
        f.invoke_with_args(ScalarFunctionArgs {
            args: vec![arg],
            arg_fields: vec![Arc::new(Field::new("s", arg_type, true))],
            number_rows: rows,
            return_field: Arc::new(Field::new("d", DataType::Float64, true)),
            config_options: Arc::new(ConfigOptions::default()),
        })
        .unwrap()
    }

    #[test]
    fn strings_read_as_their_numeric_prefix() {
        let strings = StringArray::from(vec![Some("10"), Some("10abc"), Some("abc"), None]);
        let ColumnarValue::Array(out) = call(ColumnarValue::Array(Arc::new(strings)), 4) else {
            panic!("an array in, an array out");
        };
        let out = out.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            vec![Some(10.0), Some(10.0), Some(0.0), None]
        );
        let one = call(
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(" 1.5e1x".into()))),
            7,
        );
        assert!(matches!(
            one,
            ColumnarValue::Scalar(ScalarValue::Float64(Some(v))) if v == 15.0
        ));
    }
}
