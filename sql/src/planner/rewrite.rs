//! AST rewrites that give MySQL meaning to a statement before DataFusion
//! plans it.
//!
//! * `@@var`, `@@session.var`, `@@global.var` become the variable's value;
//!   `@var` the user variable's value (NULL when unset).
//! * Session functions — `DATABASE()`, `SCHEMA()`, `USER()`,
//!   `CURRENT_USER()`, `VERSION()`, `CONNECTION_ID()`, `LAST_INSERT_ID()`,
//!   `ROW_COUNT()`, `FOUND_ROWS()` — become literals (constant within a
//!   statement, as in MySQL).
//! * Number literals with an exponent (`1e3`) become DOUBLEs, as in
//!   MySQL; other decimal literals stay DECIMAL.
//! * `a DIV b` becomes `CAST((a / b) AS BIGINT)`: MySQL's division
//!   ([`crate::planner::semantics::division`]) truncated toward zero.
//! * `GROUP_CONCAT(...)` becomes DataFusion's `string_agg`; `IF(c, a, b)`
//!   a `CASE`.
//! * A scalar subquery selecting a plain expression selects
//!   `mysql_single_row(expr)` (see `semantics::subquery`).
//! * Identifiers are lower-cased (names compare case-insensitively).
//! * Result columns get MySQL's names: the expression as written
//!   (`SELECT COUNT(*)` is named `COUNT(*)`), or the alias. DataFusion
//!   needs unique names, so unaliased expressions are aliased
//!   `__duet_col_{i}` internally and renamed on the way out
//!   ([`OutputNames`]).

use std::collections::HashMap;
use std::ops::ControlFlow;

use codec::datum::Datum;
use sqlparser::ast::{
    Expr, Ident, ObjectName, ObjectNamePart, OrderBy, OrderByKind, Query, SelectItem, SetExpr,
    Statement, Value, VisitMut, VisitorMut,
};

use crate::error::{Error, Result};
use crate::session::Session;
use crate::session::vars::VarValue;

/// Display names of result columns, by the field name DataFusion gives
/// them.
#[derive(Debug, Default)]
pub struct OutputNames {
    by_field: HashMap<String, String>,
}

impl OutputNames {
    pub fn name_for(&self, field: &str) -> Option<String> {
        self.by_field.get(field).cloned()
    }
}

pub fn for_datafusion(session: &Session, mut stmt: Statement) -> Result<(Statement, OutputNames)> {
    let mut names = OutputNames::default();
    if let Statement::Query(q) = &mut stmt {
        name_columns(q, &mut names);
    }
    substitute(session, &mut stmt)?;
    lowercase(&mut stmt);
    Ok((stmt, names))
}

/// The left-most SELECT of a query (it names a UNION's columns).
fn first_select(q: &mut Query) -> Option<&mut sqlparser::ast::Select> {
    let mut body = q.body.as_mut();
    loop {
        match body {
            SetExpr::Select(s) => return Some(s),
            SetExpr::SetOperation { left, .. } => body = left.as_mut(),
            SetExpr::Query(inner) => body = inner.body.as_mut(),
            _ => return None,
        }
    }
}

fn name_columns(q: &mut Query, names: &mut OutputNames) {
    let set_operation = matches!(q.body.as_ref(), SetExpr::SetOperation { .. });
    let Some(select) = first_select(q) else {
        return;
    };
    // A column's internal alias by the name it is shown with.
    let mut internal_by_shown: HashMap<String, String> = HashMap::new();
    for (i, item) in select.projection.iter_mut().enumerate() {
        match item {
            SelectItem::UnnamedExpr(expr) => {
                let shown = match &*expr {
                    Expr::Identifier(id) => id.value.clone(),
                    Expr::CompoundIdentifier(parts) => {
                        parts.last().map(|p| p.value.clone()).unwrap_or_default()
                    }
                    Expr::Value(v) => match &v.value {
                        Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
                        other => other.to_string(),
                    },
                    e => e.to_string(),
                };
                let internal = format!("__duet_col_{i}");
                internal_by_shown
                    .entry(shown.to_lowercase())
                    .or_insert_with(|| internal.clone());
                names.by_field.insert(internal.clone(), shown);
                *item = SelectItem::ExprWithAlias {
                    expr: expr.clone(),
                    alias: Ident::with_quote('"', internal),
                };
            }
            SelectItem::ExprWithAlias { alias, .. } => {
                names
                    .by_field
                    .insert(alias.value.to_lowercase(), alias.value.clone());
            }
            _ => {}
        }
    }
    // The ORDER BY of a UNION sorts the union's columns, which carry the
    // internal names: `... UNION ... ORDER BY id`.
    if set_operation
        && let Some(OrderBy {
            kind: OrderByKind::Expressions(exprs),
            ..
        }) = &mut q.order_by
    {
        for e in exprs {
            if let Expr::Identifier(id) = &mut e.expr
                && let Some(internal) = internal_by_shown.get(&id.value.to_lowercase())
            {
                *id = Ident::with_quote('"', internal.clone());
            }
        }
    }
}

fn var_literal(v: VarValue) -> Expr {
    match v {
        VarValue::Int(i) => Expr::value(Value::Number(i.to_string(), false)),
        VarValue::Str(s) => Expr::value(Value::SingleQuotedString(s)),
        VarValue::Null => Expr::value(Value::Null),
    }
}

/// `@@x` / `@@session.x` / `@@global.x`: (name, global).
pub fn system_var(expr: &Expr) -> Option<(String, bool)> {
    match expr {
        Expr::Identifier(id) if id.value.starts_with("@@") => {
            let name = &id.value[2..];
            if let Some(rest) = strip_scope(name, "global.") {
                return Some((rest.to_string(), true));
            }
            let name = strip_scope(name, "session.")
                .or_else(|| strip_scope(name, "local."))
                .unwrap_or(name);
            Some((name.to_string(), false))
        }
        Expr::CompoundIdentifier(parts) if parts.len() == 2 && parts[0].value.starts_with("@@") => {
            let scope = parts[0].value[2..].to_ascii_lowercase();
            Some((parts[1].value.clone(), scope == "global"))
        }
        _ => None,
    }
}

fn strip_scope<'a>(name: &'a str, scope: &str) -> Option<&'a str> {
    (name.len() > scope.len() && name[..scope.len()].eq_ignore_ascii_case(scope))
        .then(|| &name[scope.len()..])
}

/// `@x`: a user variable's name.
pub fn user_var(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(id) if id.value.starts_with('@') && !id.value.starts_with("@@") => {
            Some(id.value[1..].to_lowercase())
        }
        _ => None,
    }
}

fn function_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Function(f) if f.name.0.len() == 1 => {
            let no_args = match &f.args {
                sqlparser::ast::FunctionArguments::None => true,
                sqlparser::ast::FunctionArguments::List(l) => l.args.is_empty(),
                _ => false,
            };
            no_args.then(|| f.name.to_string().to_ascii_lowercase())
        }
        Expr::Identifier(id) if id.quote_style.is_none() => {
            let n = id.value.to_ascii_lowercase();
            matches!(n.as_str(), "current_user" | "session_user" | "system_user").then_some(n)
        }
        _ => None,
    }
}

/// The value of a session function, if `name` is one.
pub fn session_function(session: &Session, name: &str) -> Option<Expr> {
    let s = |v: String| Expr::value(Value::SingleQuotedString(v));
    let n = |v: String| Expr::value(Value::Number(v, false));
    Some(match name {
        "database" | "schema" => match &session.db {
            Some(db) => s(db.clone()),
            None => Expr::value(Value::Null),
        },
        "user" | "session_user" | "system_user" => s(format!("{}@{}", session.user, session.host)),
        "current_user" => s(format!("{}@%", session.user)),
        "version" => s(crate::protocol::handshake::SERVER_VERSION.to_string()),
        "connection_id" => n(session.id.to_string()),
        "last_insert_id" => n(session.last_insert_id.to_string()),
        "row_count" => n(session.row_count.to_string()),
        "found_rows" => n(session.found_rows.to_string()),
        _ => return None,
    })
}

/// `IF(c, a, b)` as `CASE WHEN c THEN a ELSE b END`: only the chosen
/// branch is evaluated, as in MySQL.
fn if_function(f: &sqlparser::ast::Function) -> Option<Expr> {
    use sqlparser::ast::{FunctionArg, FunctionArgExpr, FunctionArguments};
    if !f.name.to_string().eq_ignore_ascii_case("if") {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let args: Vec<Expr> = list
        .args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let [condition, then, otherwise] = <[Expr; 3]>::try_from(args).ok()?;
    Some(Expr::Case {
        case_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
        end_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
        operand: None,
        conditions: vec![sqlparser::ast::CaseWhen {
            condition,
            result: then,
        }],
        else_result: Some(Box::new(otherwise)),
    })
}

/// `GROUP_CONCAT([DISTINCT] a[, b...] [ORDER BY ...] [SEPARATOR s])` as
/// DataFusion's `string_agg(CAST(a AS VARCHAR) || ..., s [ORDER BY ...])`:
/// rows where any argument is NULL are skipped, the separator defaults to
/// `,`.
fn group_concat(f: &mut sqlparser::ast::Function) {
    use sqlparser::ast::{FunctionArg, FunctionArgExpr, FunctionArgumentClause, FunctionArguments};
    if !f.name.to_string().eq_ignore_ascii_case("group_concat") {
        return;
    }
    let FunctionArguments::List(list) = &mut f.args else {
        return;
    };
    let as_text = |e: Expr| Expr::Cast {
        kind: sqlparser::ast::CastKind::Cast,
        expr: Box::new(e),
        data_type: sqlparser::ast::DataType::Varchar(None),
        array: false,
        format: None,
    };
    let mut joined: Option<Expr> = None;
    for arg in list.args.drain(..) {
        let FunctionArg::Unnamed(FunctionArgExpr::Expr(a)) = arg else {
            // `GROUP_CONCAT(*)` and named arguments: left for the planner
            // to reject.
            return;
        };
        joined = Some(match joined {
            None => as_text(a),
            Some(j) => Expr::BinaryOp {
                left: Box::new(j),
                op: sqlparser::ast::BinaryOperator::StringConcat,
                right: Box::new(as_text(a)),
            },
        });
    }
    let Some(joined) = joined else {
        return;
    };
    let mut separator: sqlparser::ast::ValueWithSpan =
        sqlparser::ast::Value::SingleQuotedString(",".into()).into();
    list.clauses.retain(|c| match c {
        FunctionArgumentClause::Separator(v) => {
            separator = v.clone();
            false
        }
        _ => true,
    });
    list.args = vec![
        FunctionArg::Unnamed(FunctionArgExpr::Expr(joined)),
        FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(separator))),
    ];
    f.name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new("string_agg"))]);
}

/// Aggregate functions, by name: a scalar subquery selecting one of them
/// already answers one row.
const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "group_concat",
    "string_agg",
    "bit_and",
    "bit_or",
    "bit_xor",
    "std",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "var_pop",
    "var_samp",
    "variance",
    "json_arrayagg",
    "json_objectagg",
    "any_value",
];

/// A scalar subquery that selects one plain expression
/// (`(SELECT d.name FROM dept d WHERE d.id = e.dept_id)`) selects
/// `mysql_single_row(expr)` instead ([`crate::planner::semantics::subquery`]). Left
/// alone when the subquery aggregates, groups, is DISTINCT, has a LIMIT or
/// a window function, or is a set operation: those already mean something
/// else or plan as they are.
fn single_row(q: &mut Query) {
    if q.limit_clause.is_some() || q.fetch.is_some() {
        return;
    }
    let SetExpr::Select(select) = q.body.as_mut() else {
        return;
    };
    let grouped = !matches!(
        &select.group_by,
        sqlparser::ast::GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty()
    );
    if grouped
        || select.having.is_some()
        || select.distinct.is_some()
        || select.projection.len() != 1
    {
        return;
    }
    let expr = match &mut select.projection[0] {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
        _ => return,
    };
    let mut aggregated = false;
    let _ = sqlparser::ast::visit_expressions(expr, |e| {
        if let Expr::Function(f) = e
            && (f.over.is_some()
                || AGGREGATES.contains(&f.name.to_string().to_lowercase().as_str()))
        {
            aggregated = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    if aggregated {
        return;
    }
    let inner = std::mem::replace(expr, Expr::value(sqlparser::ast::Value::Null));
    *expr = Expr::Function(sqlparser::ast::Function {
        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(
            crate::planner::semantics::subquery::SINGLE_ROW,
        ))]),
        uses_odbc_syntax: false,
        parameters: sqlparser::ast::FunctionArguments::None,
        args: sqlparser::ast::FunctionArguments::List(sqlparser::ast::FunctionArgumentList {
            duplicate_treatment: None,
            args: vec![sqlparser::ast::FunctionArg::Unnamed(
                sqlparser::ast::FunctionArgExpr::Expr(inner),
            )],
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    });
}

fn substitute(session: &Session, stmt: &mut Statement) -> Result<()> {
    struct Sub<'a> {
        session: &'a Session,
    }
    impl VisitorMut for Sub<'_> {
        type Break = Error;
        fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<Error> {
            if let Some((name, global)) = system_var(e) {
                match self
                    .session
                    .vars
                    .get(&self.session.shared.globals, &name, global)
                {
                    Ok(v) => *e = var_literal(v),
                    Err(err) => return ControlFlow::Break(err),
                }
            } else if let Some(name) = user_var(e) {
                let v = self
                    .session
                    .user_vars
                    .get(&name)
                    .cloned()
                    .unwrap_or(Datum::Null);
                *e = crate::parse::literal(&v);
            } else if let Some(name) = function_name(e)
                && let Some(v) = session_function(self.session, &name)
            {
                *e = v;
            } else if let Expr::BinaryOp {
                left,
                op: sqlparser::ast::BinaryOperator::MyIntegerDivide,
                right,
            } = e
            {
                // `a DIV b`: the quotient (MySQL's `/`, NULL for a zero
                // divisor) truncated to an integer.
                let quotient = Expr::Nested(Box::new(Expr::BinaryOp {
                    left: left.clone(),
                    op: sqlparser::ast::BinaryOperator::Divide,
                    right: right.clone(),
                }));
                *e = Expr::Cast {
                    kind: sqlparser::ast::CastKind::Cast,
                    expr: Box::new(quotient),
                    data_type: sqlparser::ast::DataType::BigInt(None),
                    array: false,
                    format: None,
                };
            }
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<Error> {
            match e {
                Expr::Function(f) => {
                    group_concat(f);
                    if let Some(case) = if_function(f) {
                        *e = case;
                    }
                }
                Expr::Subquery(q) => single_row(q),
                // MySQL's `CAST(x AS SIGNED|UNSIGNED [INTEGER])`: 64-bit.
                Expr::Cast { data_type, .. } => {
                    use sqlparser::ast::DataType as T;
                    match data_type {
                        T::Signed | T::SignedInteger => *data_type = T::BigInt(None),
                        T::Unsigned | T::UnsignedInteger => *data_type = T::BigIntUnsigned(None),
                        _ => {}
                    }
                }
                _ => {}
            }
            // A literal with an exponent is a DOUBLE in MySQL (`1e0/3` is
            // 0.333…, not a DECIMAL quotient). Cast from its text so a
            // magnitude no DECIMAL holds (`1e300`) still parses.
            if let Expr::Value(v) = e
                && let sqlparser::ast::Value::Number(n, _) = &v.value
                && n.contains(['e', 'E'])
            {
                *e = Expr::Cast {
                    kind: sqlparser::ast::CastKind::Cast,
                    expr: Box::new(Expr::Value(
                        sqlparser::ast::Value::SingleQuotedString(n.clone()).into(),
                    )),
                    data_type: sqlparser::ast::DataType::Double(
                        sqlparser::ast::ExactNumberInfo::None,
                    ),
                    array: false,
                    format: None,
                };
            }
            ControlFlow::Continue(())
        }
    }
    match stmt.visit(&mut Sub { session }) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

fn lowercase(stmt: &mut Statement) {
    struct Lower;
    impl VisitorMut for Lower {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            match e {
                Expr::Identifier(id) => id.value = id.value.to_lowercase(),
                Expr::CompoundIdentifier(parts) => {
                    for p in parts {
                        p.value = p.value.to_lowercase();
                    }
                }
                _ => {}
            }
            ControlFlow::Continue(())
        }
        fn pre_visit_relation(&mut self, name: &mut ObjectName) -> ControlFlow<()> {
            for part in &mut name.0 {
                if let ObjectNamePart::Identifier(id) = part {
                    id.value = id.value.to_lowercase();
                }
            }
            ControlFlow::Continue(())
        }
    }
    let _ = stmt.visit(&mut Lower);
}
