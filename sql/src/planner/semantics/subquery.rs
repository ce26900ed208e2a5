//! Scalar subqueries that select a plain column. MySQL runs
//! `(SELECT d.name FROM dept d WHERE d.id = e.dept_id)` and fails with
//! error 1242 only when a row's subquery finds more than one row;
//! DataFusion refuses to plan a correlated scalar subquery unless it is an
//! aggregate. [`crate::planner::rewrite`] wraps such a subquery's one
//! expression in the aggregate `mysql_single_row`, which is that value for
//! one row, NULL for none, and error 1242 for more — MySQL's meaning, in a
//! form DataFusion decorrelates.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion::common::{Result, ScalarValue};

use crate::error::{Error, code};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};

/// The aggregate's name, as the AST rewrite calls it.
pub const SINGLE_ROW: &str = "mysql_single_row";

pub fn single_row() -> AggregateUDF {
    AggregateUDF::from(SingleRow {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SingleRow {
    signature: Signature,
}

impl AggregateUDFImpl for SingleRow {
    fn name(&self) -> &str {
        SINGLE_ROW
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(OneValue {
            value: ScalarValue::try_from(args.return_field.data_type())?,
            rows: 0,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(
                args.return_field
                    .as_ref()
                    .clone()
                    .with_name(format_state_name(args.name, "value"))
                    .with_nullable(true),
            ),
            Arc::new(Field::new(
                format_state_name(args.name, "rows"),
                DataType::UInt64,
                false,
            )),
        ])
    }
}

#[derive(Debug)]
struct OneValue {
    value: ScalarValue,
    rows: u64,
}

impl OneValue {
    fn add(&mut self, rows: u64, values: &ArrayRef, at: usize) -> Result<()> {
        if rows == 0 {
            return Ok(());
        }
        self.rows += rows;
        if self.rows > 1 {
            return Err(Error::new(
                code::ER_SUBQUERY_NO_1_ROW,
                "Subquery returns more than 1 row",
            )
            .into());
        }
        self.value = ScalarValue::try_from_array(values, at)?;
        Ok(())
    }
}

impl Accumulator for OneValue {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let rows = values[0].len() as u64;
        self.add(rows, &values[0], 0)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.value.clone())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.value.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            self.value.clone(),
            ScalarValue::UInt64(Some(self.rows)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let rows = states[1].as_primitive::<UInt64Type>();
        for i in 0..rows.len() {
            self.add(rows.value(i), &states[0], i)?;
        }
        Ok(())
    }
}
