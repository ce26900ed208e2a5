//! The rows an UPDATE or DELETE changes: [`Target`] says which (the
//! statement's table, WHERE, ORDER BY, LIMIT, and for UPDATE the new
//! values' expressions), [`Matched`] holds them as found, with handles and
//! the expressions' values per row. [`crate::execute::matched`] reads them;
//! [`super::update`] and [`super::delete`] write.

use std::sync::Arc;

use codec::datum::Datum;
use codec::table::Handle;
use sqlparser::ast::{Expr, ObjectName, OrderByExpr};

use crate::catalog::model::TableInfo;

pub struct MatchedRow {
    pub old: Vec<Datum>,
    pub handle: Handle,
    /// The values of the extra expressions for this row.
    pub extra: Vec<Datum>,
}

pub struct Matched {
    pub db: String,
    pub table: Arc<TableInfo>,
    pub rows: Vec<MatchedRow>,
}

pub struct Target<'a> {
    pub name: &'a ObjectName,
    pub selection: Option<&'a Expr>,
    pub order_by: &'a [OrderByExpr],
    pub limit: Option<&'a Expr>,
    pub extra: &'a [Expr],
}
