//! The `LOAD DATA LOCAL INFILE` statement, parsed by hand (sqlparser does
//! not parse it) into a [`LoadSpec`]; [`crate::dml::load_data`] runs it.

use crate::error::{Error, Result, code};
use crate::parse::lex::{Tok, lex};

#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub file: String,
    pub replace: bool,
    pub db: Option<String>,
    pub table: String,
    pub field_term: Vec<u8>,
    pub enclosed: Option<u8>,
    pub escaped: Option<u8>,
    pub line_start: Vec<u8>,
    pub line_term: Vec<u8>,
    pub ignore_lines: u64,
    /// Target columns; `None` entries (`@var`) discard that field.
    pub columns: Vec<Option<String>>,
}

pub fn is_load_data(sql: &str) -> bool {
    let w: Vec<String> = sql
        .split_whitespace()
        .take(2)
        .map(|x| x.to_ascii_uppercase())
        .collect();
    matches!(w.as_slice(), [a, b] if a == "LOAD" && b == "DATA")
}

fn unescape_sep(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// Parses the statement's clauses in MySQL's order (one function, as the
/// grammar reads: each clause is a few lines over the same token cursor).
pub fn parse(sql: &str) -> Result<LoadSpec> {
    let toks = lex(sql.trim())?;
    let mut p = Parser { toks, pos: 0 };
    p.word("LOAD")?;
    p.word("DATA")?;
    let _ = p.eat("LOW_PRIORITY") || p.eat("CONCURRENT");
    if !p.eat("LOCAL") {
        return Err(Error::new(
            code::ER_NOT_SUPPORTED_YET,
            "LOAD DATA INFILE reads files on the server, which duet does not allow; use LOAD DATA LOCAL INFILE",
        ));
    }
    p.word("INFILE")?;
    let file = p.string()?;
    let replace = p.eat("REPLACE");
    if !replace {
        let _ = p.eat("IGNORE");
    }
    p.word("INTO")?;
    p.word("TABLE")?;
    let first = p.name()?;
    let (db, table) = match first.split_once('.') {
        Some((d, t)) => (Some(d.to_string()), t.to_string()),
        None => (None, first),
    };
    let mut spec = LoadSpec {
        file,
        replace,
        db,
        table,
        field_term: b"\t".to_vec(),
        enclosed: None,
        escaped: Some(b'\\'),
        line_start: Vec::new(),
        line_term: b"\n".to_vec(),
        ignore_lines: 0,
        columns: Vec::new(),
    };
    if p.eat("CHARACTER") {
        p.word("SET")?;
        p.name()?;
    } else if p.eat("CHARSET") {
        p.name()?;
    }
    if p.eat("FIELDS") || p.eat("COLUMNS") {
        loop {
            if p.eat("TERMINATED") {
                p.word("BY")?;
                spec.field_term = unescape_sep(&p.string()?);
            } else if p.eat("OPTIONALLY") || p.peek("ENCLOSED") {
                p.word("ENCLOSED")?;
                p.word("BY")?;
                spec.enclosed = p.string()?.bytes().next();
            } else if p.eat("ESCAPED") {
                p.word("BY")?;
                spec.escaped = p.string()?.bytes().next();
            } else {
                break;
            }
        }
    }
    if p.eat("LINES") {
        loop {
            if p.eat("STARTING") {
                p.word("BY")?;
                spec.line_start = unescape_sep(&p.string()?);
            } else if p.eat("TERMINATED") {
                p.word("BY")?;
                spec.line_term = unescape_sep(&p.string()?);
            } else {
                break;
            }
        }
    }
    if p.eat("IGNORE") {
        spec.ignore_lines = p
            .name()?
            .parse()
            .map_err(|_| Error::parse("near IGNORE (a number of lines)"))?;
        if !(p.eat("LINES") || p.eat("ROWS")) {
            return Err(Error::parse("near IGNORE n (LINES expected)"));
        }
    }
    if p.paren_open() {
        loop {
            let n = p.name()?;
            spec.columns
                .push(if n.starts_with('@') { None } else { Some(n) });
            if !p.comma() {
                break;
            }
        }
        if !p.paren_close() {
            return Err(Error::parse("near the column list"));
        }
    }
    if p.pos < p.toks.len() {
        return Err(Error::unsupported(format!(
            "LOAD DATA clause near {:?}",
            p.toks[p.pos]
        )));
    }
    if spec.field_term.is_empty() || spec.line_term.is_empty() {
        return Err(Error::unsupported("empty field or line terminators"));
    }
    Ok(spec)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self, w: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }
    fn eat(&mut self, w: &str) -> bool {
        let y = self.peek(w);
        if y {
            self.pos += 1;
        }
        y
    }
    fn word(&mut self, w: &str) -> Result<()> {
        if self.eat(w) {
            Ok(())
        } else {
            Err(Error::parse(format!(
                "near {:?} ({w} expected)",
                self.toks.get(self.pos)
            )))
        }
    }
    fn string(&mut self) -> Result<String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Quoted(s)) => {
                self.pos += 1;
                Ok(s)
            }
            other => Err(Error::parse(format!("near {other:?} (a string expected)"))),
        }
    }
    fn name(&mut self) -> Result<String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Word(s)) | Some(Tok::Quoted(s)) => {
                self.pos += 1;
                Ok(s)
            }
            Some(Tok::At) => {
                self.pos += 1;
                Ok(format!("@{}", self.name()?))
            }
            other => Err(Error::parse(format!("near {other:?} (a name expected)"))),
        }
    }
    fn paren_open(&mut self) -> bool {
        let y = self.toks.get(self.pos) == Some(&Tok::Open);
        if y {
            self.pos += 1;
        }
        y
    }
    fn paren_close(&mut self) -> bool {
        let y = self.toks.get(self.pos) == Some(&Tok::Close);
        if y {
            self.pos += 1;
        }
        y
    }
    fn comma(&mut self) -> bool {
        let y = self.toks.get(self.pos) == Some(&Tok::Comma);
        if y {
            self.pos += 1;
        }
        y
    }
}
