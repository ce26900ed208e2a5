//! Parsing: sqlparser's MySQL dialect, plus the few MySQL statements it
//! does not know (`SHOW WARNINGS`, `SHOW INDEX`, `SHOW ENGINES` ...), and
//! binding prepared-statement parameters.

pub mod lex;
pub mod load_data;

use crate::dialect::DuetDialect;
use codec::datum::{self, Datum};
use sqlparser::ast::{Expr, Statement, Value, ValueWithSpan, VisitMut, VisitorMut};
use sqlparser::parser::Parser;
use std::ops::ControlFlow;

use crate::error::{Error, Result, code};

/// Parses exactly one statement.
pub fn parse_one(sql: &str) -> Result<Statement> {
    let trimmed = sql.trim().trim_end_matches(';').trim();
    if trimmed.is_empty() {
        return Err(Error::new(code::ER_EMPTY_QUERY, "Query was empty"));
    }
    let parsed = Parser::parse_sql(&DuetDialect::default(), trimmed);
    let parsed = match parsed {
        Err(e) => match set_with_names(trimmed) {
            Some(rewritten) => {
                Parser::parse_sql(&DuetDialect::default(), &rewritten).map_err(|_| e)
            }
            None => Err(e),
        },
        ok => ok,
    };
    let mut stmts = parsed.map_err(|e| syntax_error(trimmed, &e.to_string()))?;
    match stmts.len() {
        1 => Ok(stmts.pop().expect("one")),
        0 => Err(Error::new(code::ER_EMPTY_QUERY, "Query was empty")),
        _ => Err(Error::parse(
            "near ';' (multi-statements are not enabled on this connection)",
        )),
    }
}

/// MySQL allows `NAMES cs [COLLATE c]` among other assignments of one SET
/// (`SET sql_mode=..., NAMES utf8mb4`, as sqlx sends); sqlparser only
/// parses it alone. Rewrites it into the variables it sets.
fn set_with_names(sql: &str) -> Option<String> {
    let head = sql.get(..4)?;
    if !head.eq_ignore_ascii_case("set ") {
        return None;
    }
    let parts = split_top_level(&sql[4..]);
    if parts.len() < 2 {
        return None;
    }
    let mut out = Vec::new();
    let mut changed = false;
    for p in parts {
        let words: Vec<&str> = p.split_whitespace().collect();
        if words
            .first()
            .is_some_and(|w| w.eq_ignore_ascii_case("names"))
            && words.len() >= 2
        {
            let cs = words[1].trim_matches(|c| c == '\'' || c == '"' || c == '`');
            for v in [
                "character_set_client",
                "character_set_connection",
                "character_set_results",
            ] {
                out.push(format!("{v} = '{cs}'"));
            }
            if words.len() >= 4 && words[2].eq_ignore_ascii_case("collate") {
                let c = words[3].trim_matches(|c| c == '\'' || c == '"' || c == '`');
                out.push(format!("collation_connection = '{c}'"));
            }
            changed = true;
        } else {
            out.push(p.trim().to_string());
        }
    }
    changed.then(|| format!("SET {}", out.join(", ")))
}

/// Splits on commas outside quotes and parentheses.
fn split_top_level(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == '\\' && q != '`' {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' | '`' => {
                    quote = Some(c);
                    cur.push(c);
                }
                '(' => {
                    depth += 1;
                    cur.push(c);
                }
                ')' => {
                    depth -= 1;
                    cur.push(c);
                }
                ',' if depth == 0 => parts.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            },
        }
    }
    parts.push(cur);
    parts
}

fn syntax_error(sql: &str, message: &str) -> Error {
    // sqlparser says "... at Line: 1, Column: 8"; MySQL quotes the text
    // from there on.
    let near = position(message).and_then(|(line, col)| {
        let l = sql.lines().nth(line.checked_sub(1)?)?;
        let offset: usize = sql.lines().take(line - 1).map(|l| l.len() + 1).sum();
        let start = offset
            + l.char_indices()
                .nth(col.saturating_sub(1))
                .map(|(i, _)| i)?;
        sql.get(start..)
    });
    let near: String = near.unwrap_or("").chars().take(80).collect();
    Error::parse(format!("near '{near}' at line 1 ({message})"))
}

fn position(message: &str) -> Option<(usize, usize)> {
    let at = message.rfind("Line: ")?;
    let rest = &message[at + 6..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let col: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some((line.trim().parse().ok()?, col.parse().ok()?))
}

/// `SHOW WARNINGS` / `SHOW ERRORS` keep the warnings of the previous
/// statement.
pub fn is_show_warnings(stmt: &Statement) -> bool {
    // sqlparser parses these as `SHOW <identifiers>`.
    match stmt {
        Statement::ShowVariable { variable } => variable.first().is_some_and(|w| {
            ["WARNINGS", "ERRORS", "COUNT"]
                .iter()
                .any(|k| w.value.eq_ignore_ascii_case(k))
        }),
        _ => false,
    }
}

/// The `?` placeholders of a statement, in source order.
fn placeholders(stmt: &mut Statement) -> Vec<&mut Expr> {
    struct Collect(Vec<*mut Expr>);
    impl VisitorMut for Collect {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            if let Expr::Value(ValueWithSpan {
                value: Value::Placeholder(p),
                ..
            }) = e
                && p == "?"
            {
                self.0.push(e as *mut Expr);
            }
            ControlFlow::Continue(())
        }
    }
    let mut c = Collect(Vec::new());
    let _ = stmt.visit(&mut c);
    let mut exprs: Vec<&mut Expr> =
        c.0.into_iter()
            // SAFETY: each pointer is to a distinct node of `stmt`, which stays
            // mutably borrowed for the lifetime of the returned references.
            .map(|p| unsafe { &mut *p })
            .collect();
    exprs.sort_by_key(|e| match e {
        Expr::Value(v) => (v.span.start.line, v.span.start.column),
        _ => (0, 0),
    });
    exprs
}

pub fn count_placeholders(stmt: &Statement) -> usize {
    let mut s = stmt.clone();
    placeholders(&mut s).len()
}

/// The statement with its `?` placeholders numbered in binding order:
/// `?0`, `?1`, ... (what a cached plan refers to; see
/// [`crate::planner::point_get::Template`]).
pub fn number_placeholders(stmt: &Statement) -> Statement {
    let mut s = stmt.clone();
    for (i, slot) in placeholders(&mut s).into_iter().enumerate() {
        *slot = Expr::value(Value::Placeholder(format!("?{i}")));
    }
    s
}

/// The statement with its placeholders replaced by the parameter values.
pub fn bind_params(stmt: &Statement, params: &[Datum]) -> Result<Statement> {
    let mut s = stmt.clone();
    let slots = placeholders(&mut s);
    if slots.len() != params.len() {
        return Err(Error::new(
            code::ER_WRONG_ARGUMENTS,
            "Incorrect arguments to mysqld_stmt_execute",
        ));
    }
    for (slot, p) in slots.into_iter().zip(params) {
        *slot = literal(p);
    }
    Ok(s)
}

/// A datum as a SQL literal expression.
pub fn literal(d: &Datum) -> Expr {
    let v = match d {
        Datum::Null => Value::Null,
        Datum::I64(i) => Value::Number(i.to_string(), false),
        Datum::U64(u) => Value::Number(u.to_string(), false),
        Datum::F64(f) => Value::Number(format!("{f:e}"), false),
        Datum::Decimal(d) => Value::Number(d.to_string(), false),
        Datum::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => Value::SingleQuotedString(s.to_string()),
            Err(_) => Value::HexStringLiteral(b.iter().map(|x| format!("{x:02X}")).collect()),
        },
        Datum::Date(d) => Value::SingleQuotedString(datum::format_date(*d)),
        Datum::DateTime(t) => Value::SingleQuotedString(datum::format_datetime(*t, 6)),
        Datum::Time(t) => Value::SingleQuotedString(datum::format_time(*t, 6)),
    };
    Expr::value(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_in_source_order() {
        let s = parse_one("UPDATE t SET a = ?, b = ? WHERE id = ? LIMIT 1").unwrap();
        assert_eq!(count_placeholders(&s), 3);
        let b = bind_params(
            &s,
            &[Datum::I64(1), Datum::Bytes(b"x'y".to_vec()), Datum::Null],
        )
        .unwrap();
        assert_eq!(
            b.to_string(),
            "UPDATE t SET a = 1, b = 'x''y' WHERE id = NULL LIMIT 1"
        );
    }

    #[test]
    fn set_with_names_among_assignments() {
        let s = parse_one("SET sql_mode=(SELECT CONCAT(@@sql_mode, ',A,B')),time_zone='+00:00',NAMES utf8mb4 COLLATE utf8mb4_unicode_ci").unwrap();
        let text = s.to_string();
        assert!(text.contains("character_set_client = 'utf8mb4'"), "{text}");
        assert!(
            text.contains("collation_connection = 'utf8mb4_unicode_ci'"),
            "{text}"
        );
        assert!(text.contains("',A,B'"), "{text}");
    }

    #[test]
    fn syntax_errors_are_1064() {
        let e = parse_one("SELEC 1").unwrap_err();
        assert_eq!(e.code(), code::ER_PARSE);
        assert_eq!(parse_one("  ").unwrap_err().code(), code::ER_EMPTY_QUERY);
    }
}
