//! duet's SQL dialect: sqlparser's MySQL dialect with MySQL's arithmetic
//! keywords parsed as MySQL parses them.
//!
//! sqlparser's MySQL dialect reads `a DIV b` by parsing everything after
//! `DIV` as its right operand, so `7 DIV 2 + 1` became `7 DIV (2 + 1)`,
//! and it does not know `a MOD b` at all. Here both bind like `*`, `/` and
//! `%` (left-associative, tighter than `+`). Everything else is the MySQL
//! dialect's behaviour, delegated method by method; [`Dialect::dialect`]
//! reports the MySQL dialect so sqlparser's MySQL-specific branches apply.
//!
//! One statement is TiDB's, not MySQL's: `ALTER TABLE t SET {COLUMNAR |
//! TIFLASH} REPLICA n [LOCATION LABELS ...]`. It parses into an `ALTER
//! TABLE` whose one operation sets the property [`COLUMNAR_REPLICA`] (a
//! name no unquoted SQL can spell), which [`crate::ddl::alter`] carries out.

use std::any::TypeId;

use sqlparser::ast::{BinaryOperator, Expr, Statement};
use sqlparser::dialect::{Dialect, MySqlDialect, Precedence};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

/// The table property `SET COLUMNAR REPLICA n` parses into.
pub const COLUMNAR_REPLICA: &str = "duet.columnar_replica";

/// Whether the tokens ahead are `ALTER TABLE name SET {COLUMNAR|TIFLASH}
/// REPLICA` (the name one identifier or `db.name`).
fn is_set_columnar_replica(parser: &Parser) -> bool {
    let word = |n: usize| match &parser.peek_nth_token_ref(n).token {
        Token::Word(w) => Some(w.clone()),
        _ => None,
    };
    let keyword =
        |n: usize, k: Keyword| word(n).is_some_and(|w| w.keyword == k && w.quote_style.is_none());
    if !keyword(0, Keyword::ALTER) || !keyword(1, Keyword::TABLE) || word(2).is_none() {
        return false;
    }
    let set = if parser.peek_nth_token_ref(3).token == Token::Period && word(4).is_some() {
        5
    } else {
        3
    };
    let engine = word(set + 1).is_some_and(|w| {
        w.quote_style.is_none()
            && (w.value.eq_ignore_ascii_case("columnar") || w.value.eq_ignore_ascii_case("tiflash"))
    });
    keyword(set, Keyword::SET)
        && engine
        && word(set + 2)
            .is_some_and(|w| w.quote_style.is_none() && w.value.eq_ignore_ascii_case("replica"))
}

/// Parses `ALTER TABLE name SET {COLUMNAR|TIFLASH} REPLICA n [LOCATION
/// LABELS 'l' [, ...]]` (location labels are accepted and ignored: duet
/// places columnar replicas by the `engine` label alone).
fn parse_set_columnar_replica(parser: &mut Parser) -> Result<Statement, ParserError> {
    use sqlparser::ast::{
        AlterTable, AlterTableOperation, Ident, SqlOption, Value,
        helpers::attached_token::AttachedToken,
    };
    parser.expect_keywords(&[Keyword::ALTER, Keyword::TABLE])?;
    let name = parser.parse_object_name(false)?;
    parser.expect_keyword(Keyword::SET)?;
    parser.next_token(); // COLUMNAR | TIFLASH
    parser.next_token(); // REPLICA
    let count = parser.parse_literal_uint()?;
    if parser.parse_keyword(Keyword::LOCATION) {
        let labels = parser.next_token();
        if !matches!(&labels.token, Token::Word(w) if w.value.eq_ignore_ascii_case("labels")) {
            return parser.expected("LABELS", labels);
        }
        parser.parse_comma_separated(|p| p.parse_literal_string())?;
    }
    Ok(Statement::AlterTable(AlterTable {
        name,
        if_exists: false,
        only: false,
        operations: vec![AlterTableOperation::SetTblProperties {
            table_properties: vec![SqlOption::KeyValue {
                key: Ident::new(COLUMNAR_REPLICA),
                value: Expr::value(Value::Number(count.to_string(), false)),
            }],
        }],
        location: None,
        on_cluster: None,
        table_type: None,
        end_token: AttachedToken::empty(),
    }))
}

/// Parses MySQL's `ANALYZE [NO_WRITE_TO_BINLOG | LOCAL] TABLE t [, ...]`
/// (sqlparser takes one table): the first table is the statement's
/// `table_name`, the others travel in `partitions`, which MySQL's ANALYZE
/// TABLE has no use for (`query::stats::analyze` reads them back).
fn parse_analyze_tables(parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
    let word = |n: usize| match &parser.peek_nth_token_ref(n).token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
        _ => None,
    };
    if word(0).as_deref() != Some("ANALYZE") {
        return None;
    }
    let skip = match word(1).as_deref() {
        Some("NO_WRITE_TO_BINLOG" | "LOCAL") => 2,
        _ => 1,
    };
    if word(skip).as_deref() != Some("TABLE") {
        return None;
    }
    for _ in 0..=skip {
        parser.next_token();
    }
    let names = match parser.parse_comma_separated(|p| p.parse_object_name(false)) {
        Ok(n) => n,
        Err(e) => return Some(Err(e)),
    };
    let mut names = names.into_iter();
    let first = names.next();
    let rest: Vec<Expr> = names
        .map(|n| {
            let parts: Vec<sqlparser::ast::Ident> =
                n.0.iter().filter_map(|p| p.as_ident().cloned()).collect();
            Expr::CompoundIdentifier(parts)
        })
        .collect();
    Some(Ok(Statement::Analyze(sqlparser::ast::Analyze {
        table_name: first,
        partitions: (!rest.is_empty()).then_some(rest),
        for_columns: false,
        columns: Vec::new(),
        cache_metadata: false,
        noscan: false,
        compute_statistics: false,
        has_table_keyword: true,
    })))
}

/// Parses MySQL's `START TRANSACTION WITH CONSISTENT SNAPSHOT [, READ
/// ONLY | READ WRITE]` (sqlparser stops at `WITH`). duet takes every
/// transaction's snapshot at its start, so the clause changes nothing.
fn parse_start_consistent_snapshot(parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
    let word = |n: usize| match &parser.peek_nth_token_ref(n).token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
        _ => None,
    };
    let wanted = ["START", "TRANSACTION", "WITH", "CONSISTENT", "SNAPSHOT"];
    if (0..wanted.len()).any(|i| word(i).as_deref() != Some(wanted[i])) {
        return None;
    }
    for _ in 0..wanted.len() {
        parser.next_token();
    }
    let modes = if parser.consume_token(&Token::Comma) {
        match parser.parse_transaction_modes() {
            Ok(m) => m,
            Err(e) => return Some(Err(e)),
        }
    } else {
        Vec::new()
    };
    Some(Ok(Statement::StartTransaction {
        modes,
        begin: false,
        transaction: Some(sqlparser::ast::BeginTransactionKind::Transaction),
        modifier: None,
        statements: vec![],
        exception: None,
        has_end_keyword: false,
    }))
}

/// The dialect every statement is parsed with.
#[derive(Debug, Default)]
pub struct DuetDialect {
    mysql: MySqlDialect,
}

/// The operator for a keyword that MySQL reads as multiplicative.
fn multiplicative_keyword(token: &Token) -> Option<BinaryOperator> {
    match token {
        Token::Word(w) if w.quote_style.is_none() && w.keyword == Keyword::DIV => {
            Some(BinaryOperator::MyIntegerDivide)
        }
        Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("mod") => {
            Some(BinaryOperator::Modulo)
        }
        _ => None,
    }
}

impl Dialect for DuetDialect {
    fn dialect(&self) -> TypeId {
        TypeId::of::<MySqlDialect>()
    }

    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        multiplicative_keyword(&parser.peek_token().token)
            .map(|_| Ok(self.prec_value(Precedence::MulDivModOp)))
    }

    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        _precedence: u8,
    ) -> Option<Result<Expr, ParserError>> {
        let op = multiplicative_keyword(&parser.peek_token().token)?;
        parser.next_token();
        // The right operand binds only what binds tighter than `*`, so the
        // operator is left-associative: `8 DIV 2 DIV 2` is `(8 DIV 2) DIV 2`.
        let right = match parser.parse_subexpr(self.prec_value(Precedence::MulDivModOp)) {
            Ok(right) => right,
            Err(e) => return Some(Err(e)),
        };
        Some(Ok(Expr::BinaryOp {
            left: Box::new(expr.clone()),
            op,
            right: Box::new(right),
        }))
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        self.mysql.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        self.mysql.is_identifier_part(ch)
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        self.mysql.is_delimited_identifier_start(ch)
    }
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.mysql.identifier_quote_style(identifier)
    }
    fn supports_string_literal_backslash_escape(&self) -> bool {
        self.mysql.supports_string_literal_backslash_escape()
    }
    fn supports_string_literal_concatenation(&self) -> bool {
        self.mysql.supports_string_literal_concatenation()
    }
    fn ignores_wildcard_escapes(&self) -> bool {
        self.mysql.ignores_wildcard_escapes()
    }
    fn supports_numeric_prefix(&self) -> bool {
        self.mysql.supports_numeric_prefix()
    }
    fn supports_bitwise_shift_operators(&self) -> bool {
        self.mysql.supports_bitwise_shift_operators()
    }
    fn supports_multiline_comment_hints(&self) -> bool {
        self.mysql.supports_multiline_comment_hints()
    }
    fn parse_statement(&self, parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
        if is_set_columnar_replica(parser) {
            return Some(parse_set_columnar_replica(parser));
        }
        if let Some(r) = parse_start_consistent_snapshot(parser) {
            return Some(r);
        }
        if let Some(r) = parse_analyze_tables(parser) {
            return Some(r);
        }
        self.mysql.parse_statement(parser)
    }
    fn require_interval_qualifier(&self) -> bool {
        self.mysql.require_interval_qualifier()
    }
    fn supports_limit_comma(&self) -> bool {
        self.mysql.supports_limit_comma()
    }
    fn supports_create_table_select(&self) -> bool {
        self.mysql.supports_create_table_select()
    }
    fn supports_insert_set(&self) -> bool {
        self.mysql.supports_insert_set()
    }
    fn supports_user_host_grantee(&self) -> bool {
        self.mysql.supports_user_host_grantee()
    }
    fn is_table_factor_alias(&self, explicit: bool, kw: &Keyword, parser: &mut Parser) -> bool {
        self.mysql.is_table_factor_alias(explicit, kw, parser)
    }
    fn supports_table_hints(&self) -> bool {
        self.mysql.supports_table_hints()
    }
    fn requires_single_line_comment_whitespace(&self) -> bool {
        self.mysql.requires_single_line_comment_whitespace()
    }
    fn supports_match_against(&self) -> bool {
        self.mysql.supports_match_against()
    }
    fn supports_select_modifiers(&self) -> bool {
        self.mysql.supports_select_modifiers()
    }
    fn supports_set_names(&self) -> bool {
        self.mysql.supports_set_names()
    }
    fn supports_comma_separated_set_assignments(&self) -> bool {
        self.mysql.supports_comma_separated_set_assignments()
    }
    fn supports_update_order_by(&self) -> bool {
        self.mysql.supports_update_order_by()
    }
    fn supports_data_type_signed_suffix(&self) -> bool {
        self.mysql.supports_data_type_signed_suffix()
    }
    fn supports_cross_join_constraint(&self) -> bool {
        self.mysql.supports_cross_join_constraint()
    }
    fn supports_double_ampersand_operator(&self) -> bool {
        self.mysql.supports_double_ampersand_operator()
    }
    fn supports_binary_kw_as_cast(&self) -> bool {
        self.mysql.supports_binary_kw_as_cast()
    }
    fn supports_comment_optimizer_hint(&self) -> bool {
        self.mysql.supports_comment_optimizer_hint()
    }
    fn supports_constraint_keyword_without_name(&self) -> bool {
        self.mysql.supports_constraint_keyword_without_name()
    }
    fn supports_key_column_option(&self) -> bool {
        self.mysql.supports_key_column_option()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> String {
        Parser::parse_sql(&DuetDialect::default(), sql).unwrap()[0].to_string()
    }

    #[test]
    fn div_and_mod_bind_like_multiplication() {
        assert_eq!(parse("SELECT 7 DIV 2 + 1"), "SELECT 7 DIV 2 + 1");
        let Statement::Query(q) =
            Parser::parse_sql(&DuetDialect::default(), "SELECT 7 DIV 2 + 1").unwrap()[0].clone()
        else {
            panic!("a query")
        };
        let sqlparser::ast::SetExpr::Select(s) = *q.body else {
            panic!("a select")
        };
        let sqlparser::ast::SelectItem::UnnamedExpr(Expr::BinaryOp { op, left, .. }) =
            &s.projection[0]
        else {
            panic!("a binary op")
        };
        assert_eq!(*op, BinaryOperator::Plus);
        assert!(matches!(
            **left,
            Expr::BinaryOp {
                op: BinaryOperator::MyIntegerDivide,
                ..
            }
        ));
        assert_eq!(parse("SELECT a MOD 7 FROM t"), "SELECT a % 7 FROM t");
        assert_eq!(parse("SELECT 1 + 8 mod 3 * 2"), "SELECT 1 + 8 % 3 * 2");
    }

    #[test]
    fn mod_stays_a_function_and_an_identifier() {
        assert_eq!(parse("SELECT MOD(7, 3)"), "SELECT MOD(7, 3)");
        assert_eq!(parse("SELECT `mod` FROM t"), "SELECT `mod` FROM t");
    }
}
