//! A small tokenizer for the statements sqlparser's MySQL dialect does not
//! parse and duet parses by hand: account statements
//! ([`crate::admin::users`]) and `LOAD DATA` ([`super::load_data`]).

use crate::error::{Error, Result};

/// A token of the small statements parsed by hand (accounts, LOAD DATA).
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Word(String),
    Quoted(String),
    At,
    Comma,
    Eq,
    Open,
    Close,
}

pub fn lex(sql: &str) -> Result<Vec<Tok>> {
    let mut out = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '@' => {
                chars.next();
                out.push(Tok::At);
            }
            ',' => {
                chars.next();
                out.push(Tok::Comma);
            }
            '=' => {
                chars.next();
                out.push(Tok::Eq);
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            ';' => {
                chars.next();
            }
            q @ ('\'' | '"' | '`') => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err(Error::parse("near the end (unterminated quote)")),
                        Some('\\') if q != '`' => {
                            // MySQL's string escapes.
                            if let Some(n) = chars.next() {
                                s.push(match n {
                                    'n' => '\n',
                                    't' => '\t',
                                    'r' => '\r',
                                    '0' => '\0',
                                    'b' => '\u{8}',
                                    'Z' => '\u{1a}',
                                    other => other,
                                });
                            }
                        }
                        Some(x) if x == q => {
                            if chars.peek() == Some(&q) {
                                chars.next();
                                s.push(q);
                            } else {
                                break;
                            }
                        }
                        Some(x) => s.push(x),
                    }
                }
                out.push(Tok::Quoted(s));
            }
            _ => {
                let mut s = String::new();
                while let Some(&x) = chars.peek() {
                    if x.is_alphanumeric()
                        || x == '_'
                        || x == '$'
                        || x == '.'
                        || x == '%'
                        || x == '-'
                        || x == '/'
                    {
                        s.push(x);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if s.is_empty() {
                    return Err(Error::parse(format!(
                        "near '{}'",
                        chars.collect::<String>()
                    )));
                }
                out.push(Tok::Word(s));
            }
        }
    }
    Ok(out)
}
