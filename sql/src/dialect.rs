//! duet's SQL dialect: sqlparser's MySQL dialect with MySQL's arithmetic
//! keywords parsed as MySQL parses them.
//!
//! sqlparser's MySQL dialect reads `a DIV b` by parsing everything after
//! `DIV` as its right operand, so `7 DIV 2 + 1` became `7 DIV (2 + 1)`,
//! and it does not know `a MOD b` at all. Here both bind like `*`, `/` and
//! `%` (left-associative, tighter than `+`). Everything else is the MySQL
//! dialect's behaviour, delegated method by method; [`Dialect::dialect`]
//! reports the MySQL dialect so sqlparser's MySQL-specific branches apply.

use std::any::TypeId;

use sqlparser::ast::{BinaryOperator, Expr, Statement};
use sqlparser::dialect::{Dialect, MySqlDialect, Precedence};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

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
