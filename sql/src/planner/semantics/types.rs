//! Type tests and casts the MySQL-semantics rewrites share.

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::expr::Cast;

/// A signed or unsigned integer type.
pub fn integer(t: &DataType) -> bool {
    t.is_integer()
}

/// A character or binary string type.
pub fn string(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
    )
}

/// An integer, DECIMAL or floating-point type.
pub fn number(t: &DataType) -> bool {
    t.is_numeric()
}

pub fn cast(e: Expr, t: DataType) -> Expr {
    Expr::Cast(Cast::new(Box::new(e), t))
}
