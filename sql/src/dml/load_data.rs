//! ```text
//! LOAD DATA LOCAL INFILE 'file' [REPLACE | IGNORE] INTO TABLE t
//! [CHARACTER SET cs] [FIELDS [TERMINATED BY 's'] [[OPTIONALLY] ENCLOSED BY
//! 'c'] [ESCAPED BY 'c']] [LINES [STARTING BY 's'] [TERMINATED BY 's']]
//! [IGNORE n LINES|ROWS] [(col, ...)]
//! ```
//!
//! ```text
//!  server --0xFB 'file'--> client --file bytes, in packets--> server
//!  bytes --RecordParser (fields, enclosures, escapes, \N = NULL)--> records
//!  records --batches of 20,000 rows--> insert::write_rows (IGNORE semantics)
//! ```
//!
//! The file streams through: records are parsed and written batch by batch
//! as packets arrive, so a large file never sits in memory whole. Outside a
//! transaction every batch commits on its own (TiDB does the same for LOAD
//! DATA); inside `BEGIN ... COMMIT` all rows join the open transaction.
//! As in MySQL, LOCAL implies IGNORE: duplicates and conversion problems
//! become warnings. The server never reads files of its own file system
//! (`LOAD DATA INFILE` without LOCAL is refused).

use std::sync::Arc;

use codec::datum::Datum;
use txn::client::TxnMode;

use crate::catalog::model::TableInfo;
use crate::dml::insert::{Mode, write_rows};
use crate::error::{Error, Result, code};
use crate::parse::load_data::LoadSpec;
use crate::session::{Output, Session};

const BATCH_ROWS: usize = 20_000;

/// Splits a byte stream into records; keeps an incomplete tail for the
/// next chunk.
pub struct RecordParser {
    spec: LoadSpec,
    buf: Vec<u8>,
}

impl RecordParser {
    pub fn new(spec: LoadSpec) -> RecordParser {
        RecordParser {
            spec,
            buf: Vec::new(),
        }
    }

    /// Adds bytes; returns the complete records found (the last record
    /// too when `last`).
    pub fn push(&mut self, data: &[u8], last: bool) -> Vec<Vec<Option<Vec<u8>>>> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        let mut pos = 0;
        while let Some((rec, next)) = self.record_at(pos, last) {
            if let Some(r) = rec {
                out.push(r);
            }
            pos = next;
        }
        self.buf.drain(..pos);
        out
    }

    fn starts(&self, at: usize, pat: &[u8]) -> bool {
        self.buf.len() >= at + pat.len() && &self.buf[at..at + pat.len()] == pat
    }

    /// One record from `pos`: (fields or None for a skipped line, next pos).
    /// One byte-at-a-time state machine (line prefix, enclosures, escapes,
    /// field and line terminators); its states share the position and
    /// the field being built, so it stays one function.
    #[allow(clippy::type_complexity)]
    fn record_at(
        &self,
        mut pos: usize,
        last: bool,
    ) -> Option<(Option<Vec<Option<Vec<u8>>>>, usize)> {
        let s = &self.spec;
        if pos >= self.buf.len() {
            return None;
        }
        if !s.line_start.is_empty() {
            // Skip to the next line prefix; a line without one is ignored.
            let mut i = pos;
            loop {
                if self.starts(i, &s.line_start) {
                    pos = i + s.line_start.len();
                    break;
                }
                if i >= self.buf.len() {
                    return if last {
                        Some((None, self.buf.len()))
                    } else {
                        None
                    };
                }
                i += 1;
            }
        }
        let mut fields = Vec::new();
        let mut i = pos;
        loop {
            // One field.
            let mut value = Vec::new();
            let mut enclosed = false;
            let mut was_null = false;
            if let Some(e) = s.enclosed
                && self.buf.get(i) == Some(&e)
            {
                enclosed = true;
                i += 1;
                loop {
                    let Some(&b) = self.buf.get(i) else {
                        return if last {
                            Some((Some(finish(fields, value, false)), self.buf.len()))
                        } else {
                            None
                        };
                    };
                    if Some(b) == s.escaped && i + 1 < self.buf.len() {
                        value.push(unescape(self.buf[i + 1]));
                        i += 2;
                        continue;
                    } else if Some(b) == s.escaped && !last {
                        return None;
                    }
                    if b == e {
                        if self.buf.get(i + 1) == Some(&e) {
                            value.push(e);
                            i += 2;
                            continue;
                        }
                        if i + 1 >= self.buf.len() && !last {
                            return None;
                        }
                        if i + 1 >= self.buf.len()
                            || self.starts(i + 1, &s.field_term)
                            || self.starts(i + 1, &s.line_term)
                        {
                            i += 1;
                            break;
                        }
                    }
                    value.push(b);
                    i += 1;
                }
            }
            if !enclosed {
                let start = i;
                loop {
                    if i >= self.buf.len() {
                        if !last {
                            return None;
                        }
                        break;
                    }
                    if self.starts(i, &s.field_term) || self.starts(i, &s.line_term) {
                        break;
                    }
                    let b = self.buf[i];
                    if Some(b) == s.escaped {
                        let Some(&n) = self.buf.get(i + 1) else {
                            if !last {
                                return None;
                            }
                            value.push(b);
                            i += 1;
                            continue;
                        };
                        if n == b'N' && i == start {
                            was_null = true;
                        }
                        value.push(unescape(n));
                        i += 2;
                        continue;
                    }
                    value.push(b);
                    i += 1;
                }
                was_null = was_null && i - start == 2;
            }
            fields.push(if was_null { None } else { Some(value) });
            if self.starts(i, &s.field_term) {
                i += s.field_term.len();
                continue;
            }
            if self.starts(i, &s.line_term) {
                i += s.line_term.len();
                return Some((Some(fields), i));
            }
            // End of data without a final line terminator.
            if i >= self.buf.len() && last {
                if fields.len() == 1 && fields[0].as_ref().is_some_and(|v| v.is_empty()) {
                    return Some((None, i));
                }
                return Some((Some(fields), i));
            }
            if i >= self.buf.len() {
                return None;
            }
        }
    }
}

fn finish(mut fields: Vec<Option<Vec<u8>>>, value: Vec<u8>, null: bool) -> Vec<Option<Vec<u8>>> {
    fields.push(if null { None } else { Some(value) });
    fields
}

fn unescape(b: u8) -> u8 {
    match b {
        b'n' => b'\n',
        b't' => b'\t',
        b'r' => b'\r',
        b'0' => 0,
        b'b' => 8,
        b'Z' => 26,
        other => other,
    }
}

/// A LOAD DATA in progress.
pub struct LoadState {
    parser: RecordParser,
    table: Arc<TableInfo>,
    /// Per field: the target column position, or None to discard.
    fields: Vec<Option<usize>>,
    targets: Vec<usize>,
    mode: Mode,
    skip: u64,
    pending: Vec<Vec<Option<Datum>>>,
    records: u64,
    affected: u64,
    line: u64,
}

pub fn begin(session: &mut Session, spec: LoadSpec) -> Result<LoadState> {
    let db = match &spec.db {
        Some(d) => d.clone(),
        None => session.current_db()?.to_string(),
    };
    let schema = session.schema();
    let table = schema.require_table(&db, &spec.table)?.clone();
    let fields: Vec<Option<usize>> = if spec.columns.is_empty() {
        (0..table.columns.len()).map(Some).collect()
    } else {
        spec.columns
            .iter()
            .map(|c| match c {
                None => Ok(None),
                Some(n) => table
                    .column(n)
                    .map(|(i, _)| Some(i))
                    .ok_or_else(|| Error::bad_field(n, "field list")),
            })
            .collect::<Result<_>>()?
    };
    let targets: Vec<usize> = fields.iter().flatten().copied().collect();
    let mode = if spec.replace {
        Mode::Replace
    } else {
        Mode::Ignore
    };
    Ok(LoadState {
        skip: spec.ignore_lines,
        parser: RecordParser::new(spec),
        table,
        fields,
        targets,
        mode,
        pending: Vec::new(),
        records: 0,
        affected: 0,
        line: 0,
    })
}

/// Feeds file bytes (`last`: the client finished sending).
pub async fn chunk(
    session: &mut Session,
    state: &mut LoadState,
    data: &[u8],
    last: bool,
) -> Result<()> {
    for rec in state.parser.push(data, last) {
        state.line += 1;
        if state.skip > 0 {
            state.skip -= 1;
            continue;
        }
        let mut row: Vec<Option<Datum>> = Vec::with_capacity(state.targets.len());
        let n = rec.len();
        let mut fields = rec.into_iter();
        for target in &state.fields {
            let v = fields.next();
            if target.is_none() {
                continue;
            }
            row.push(Some(match v {
                Some(Some(b)) => Datum::Bytes(b),
                Some(None) => Datum::Null,
                // Missing fields: the column's empty value, as MySQL does.
                None => Datum::Bytes(Vec::new()),
            }));
        }
        if n < state.fields.len() {
            session.warn(
                code::ER_WARN_TOO_FEW_RECORDS,
                format!("Row {} doesn't contain data for all columns", state.line),
            );
        } else if n > state.fields.len()
            && !(n == state.fields.len() + 1 && trailing_empty(&fields))
        {
            session.warn(
                code::ER_WARN_TOO_MANY_RECORDS,
                format!(
                    "Row {} was truncated; it contained more data than there were input columns",
                    state.line
                ),
            );
        }
        state.pending.push(row);
        if state.pending.len() >= BATCH_ROWS {
            flush(session, state).await?;
        }
    }
    if last {
        flush(session, state).await?;
    }
    Ok(())
}

fn trailing_empty(rest: &std::vec::IntoIter<Option<Vec<u8>>>) -> bool {
    rest.as_slice()
        .iter()
        .all(|f| f.as_ref().is_some_and(|v| v.is_empty()))
}

async fn flush(session: &mut Session, state: &mut LoadState) -> Result<()> {
    if state.pending.is_empty() {
        return Ok(());
    }
    let rows = std::mem::take(&mut state.pending);
    state.records += rows.len() as u64;
    let own_txn = session.txn.is_none() && session.autocommit();
    let handle = match &session.txn {
        Some(t) => t.handle.clone(),
        None if own_txn => session.begin(false, false, TxnMode::Optimistic).await?,
        None => {
            let mode = session.txn_mode();
            session.begin(true, false, mode).await?
        }
    };
    let result = write_rows(
        session,
        &handle,
        &state.table,
        &state.targets,
        rows,
        &state.mode,
        None,
        false,
    )
    .await;
    match result {
        Ok(w) => {
            state.affected += w.affected;
            if own_txn {
                session.commit_open().await?;
            }
            Ok(())
        }
        Err(e) => {
            if own_txn {
                let _ = session.rollback_txn().await;
            }
            Err(e)
        }
    }
}

pub fn end(session: &mut Session, state: LoadState) -> Output {
    let skipped = state.records.saturating_sub(state.affected);
    session.row_count = state.affected as i64;
    Output::Ok {
        affected: state.affected,
        last_insert_id: 0,
        info: format!(
            "Records: {}  Deleted: 0  Skipped: {skipped}  Warnings: {}",
            state.records,
            session.warnings.len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(sql: &str) -> LoadSpec {
        crate::parse::load_data::parse(sql).unwrap()
    }

    #[test]
    fn parses_the_clauses() {
        let s = spec(
            "LOAD DATA LOCAL INFILE '/tmp/x.tbl' INTO TABLE tpch.lineitem FIELDS TERMINATED BY '|' OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n' IGNORE 1 LINES (a, @skip, b)",
        );
        assert_eq!(s.file, "/tmp/x.tbl");
        assert_eq!(
            (s.db.as_deref(), s.table.as_str()),
            (Some("tpch"), "lineitem")
        );
        assert_eq!(s.field_term, b"|");
        assert_eq!(s.enclosed, Some(b'"'));
        assert_eq!(s.line_term, b"\n");
        assert_eq!(s.ignore_lines, 1);
        assert_eq!(s.columns, vec![Some("a".into()), None, Some("b".into())]);
        assert!(
            crate::parse::load_data::parse("LOAD DATA INFILE '/etc/passwd' INTO TABLE t").is_err()
        );
    }

    #[test]
    fn records_across_chunks_with_escapes_and_enclosures() {
        let s = spec(
            "LOAD DATA LOCAL INFILE 'f' INTO TABLE t FIELDS TERMINATED BY ',' ENCLOSED BY '\"'",
        );
        let mut p = RecordParser::new(s);
        let data = b"1,\"a,b\",\\N\n2,\"say \"\"hi\"\"\",x\\ty\n3,last,";
        let mut all = Vec::new();
        for chunk in data.chunks(3) {
            all.extend(p.push(chunk, false));
        }
        all.extend(p.push(b"", true));
        let text = |f: &Option<Vec<u8>>| f.as_ref().map(|v| String::from_utf8(v.clone()).unwrap());
        let rows: Vec<Vec<Option<String>>> =
            all.iter().map(|r| r.iter().map(text).collect()).collect();
        assert_eq!(
            rows,
            vec![
                vec![Some("1".into()), Some("a,b".into()), None],
                vec![
                    Some("2".into()),
                    Some("say \"hi\"".into()),
                    Some("x\ty".into())
                ],
                vec![Some("3".into()), Some("last".into()), Some("".into())],
            ]
        );
    }

    #[test]
    fn tpch_lines_end_with_a_separator() {
        let s = spec("LOAD DATA LOCAL INFILE 'f' INTO TABLE t FIELDS TERMINATED BY '|'");
        let mut p = RecordParser::new(s);
        let rows = p.push(b"1|abc|2.5|\n2|def|3|\n", true);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].len(), 4);
        assert_eq!(rows[0][3], Some(Vec::new()));
    }
}
