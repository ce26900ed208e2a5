//! # Which engine reads a table: row store or columnar replica
//!
//! Every table access in a DataFusion plan is read either from the row
//! regions' leaders (`cop[row]`) or from the table's columnar replicas
//! (`cop[columnar]`). The choice, per access, in this order:
//!
//! 1. Reads of the newest rows (pessimistic DML, `SELECT ... FOR UPDATE`)
//!    use the row store: only it takes locks.
//! 2. The engines allowed are `isolation_read_engines` (TiDB:
//!    `tidb_isolation_read_engines`) ∩ what the table has (the row store
//!    always, the columnar engine when `SET COLUMNAR REPLICA n`, n > 0). None
//!    left is error 1815, as TiDB's "Can not find access path".
//! 3. A `/*+ READ_FROM_STORAGE(COLUMNAR[t1], ROW[t2]) */` hint (TiDB's
//!    `TIFLASH[...]` / `TIKV[...]` too) naming the table or its alias picks
//!    its engine if allowed; a hint naming an engine the table cannot use
//!    is ignored with a warning (TiDB's 1815 note), never obeyed wrongly.
//! 4. Otherwise cost ([`crate::planner::cost`]): the row store's access path (a
//!    full scan, a primary key range, an index lookup) against a scan of
//!    the columnar replica, from the table's statistics
//!    ([`crate::catalog::stats`]: `ANALYZE TABLE`, region heartbeats). A replica
//!    that is not available — a region without a caught-up learner, or a
//!    recent read it could not answer — costs nothing because it is not
//!    used: the access goes to the row store. Without an estimate (PD
//!    unreachable) keyed accesses stay on the row store and full scans go
//!    to the replica.
//!
//! A replica that cannot answer for a region at read time (still being
//! placed, lagging past the store's timeout, down) does not fail the
//! query: that region is read from the row store at the same timestamp
//! (`txn::client::coprocessor`), and the table's replica counts as
//! unavailable until its statistics are next refreshed.
//!
//! Hints apply to the query block they are written in (its FROM clause and
//! joins); names are table names or aliases, `db.t` allowed, TiDB's
//! `@qb` suffixes ignored.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use sqlparser::ast::{Query, SetExpr, Statement, TableFactor, TableWithJoins};

/// A storage engine a table can be read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    Row,
    Columnar,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Row => "row",
            Engine::Columnar => "columnar",
        }
    }

    fn parse(s: &str) -> Option<Engine> {
        match s.trim().to_ascii_lowercase().as_str() {
            "row" | "tikv" => Some(Engine::Row),
            "columnar" | "tiflash" => Some(Engine::Columnar),
            _ => None,
        }
    }
}

/// The engines a statement may read tables from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadEngines {
    pub row: bool,
    pub columnar: bool,
}

impl ReadEngines {
    /// Both engines: the planner chooses.
    pub const ANY: ReadEngines = ReadEngines {
        row: true,
        columnar: true,
    };
    /// The row store only (DML reads the rows it writes there).
    pub const ROW: ReadEngines = ReadEngines {
        row: true,
        columnar: false,
    };

    /// From `isolation_read_engines` (`row`, `columnar`, TiDB's `tikv` and
    /// `tiflash`, comma separated; validated when set).
    pub fn parse(value: &str) -> ReadEngines {
        let mut e = ReadEngines {
            row: false,
            columnar: false,
        };
        for part in value.split(',') {
            match Engine::parse(part) {
                Some(Engine::Row) => e.row = true,
                Some(Engine::Columnar) => e.columnar = true,
                None => {}
            }
        }
        if !e.row && !e.columnar {
            return ReadEngines::ANY;
        }
        e
    }

    fn allows(self, e: Engine) -> bool {
        match e {
            Engine::Row => self.row,
            Engine::Columnar => self.columnar,
        }
    }
}

/// What one statement's table reads follow.
#[derive(Debug, Clone)]
pub struct ReadPolicy {
    pub engines: ReadEngines,
    /// `(db, table)` in lower case -> the engine a hint asks for.
    pub hints: HashMap<(String, String), Engine>,
    /// Notes for SHOW WARNINGS raised while planning; the statement hands
    /// them to the session ([`ReadPolicy::report`]).
    pub warnings: Arc<Mutex<Vec<String>>>,
}

impl ReadPolicy {
    /// Row store only, no hints (DML).
    pub fn row_only() -> ReadPolicy {
        ReadPolicy {
            engines: ReadEngines::ROW,
            hints: HashMap::new(),
            warnings: Arc::default(),
        }
    }

    /// The session's engines and the hints in `stmt`.
    pub fn of(session: &crate::session::Session, stmt: &Statement) -> ReadPolicy {
        let engines = ReadEngines::parse(&session.vars.text("isolation_read_engines"));
        let db = session.db.clone().unwrap_or_default().to_lowercase();
        let mut hints = HashMap::new();
        let mut notes = Vec::new();
        if let Statement::Query(q) = stmt {
            collect_query(q, &db, &mut hints, &mut notes);
        }
        ReadPolicy {
            engines,
            hints,
            warnings: Arc::new(Mutex::new(notes)),
        }
    }

    /// Passes the planning notes on to the session's warnings.
    pub fn report(&self, session: &crate::session::Session) {
        let notes = std::mem::take(&mut *self.warnings.lock());
        session.plan_warnings.lock().extend(notes);
    }
}

/// The outcome of choosing for one access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Use(Engine),
    /// No allowed engine can read the table (error 1815).
    NoPath {
        allowed: &'static str,
    },
}

/// Chooses the engine of one table access (rules in the module docs).
/// `cheaper`: the engine the cost model prefers ([`crate::planner::cost`]). The
/// warning, if any, is for an unusable hint.
pub fn choose(
    engines: ReadEngines,
    has_replica: bool,
    hint: Option<Engine>,
    cheaper: Engine,
    latest: bool,
    table: &str,
) -> (Choice, Option<String>) {
    if latest {
        return (Choice::Use(Engine::Row), None);
    }
    let can = |e: Engine| engines.allows(e) && (e == Engine::Row || has_replica);
    if !can(Engine::Row) && !can(Engine::Columnar) {
        return (Choice::NoPath { allowed: "row" }, None);
    }
    let mut warning = None;
    if let Some(h) = hint {
        if can(h) {
            return (Choice::Use(h), None);
        }
        warning = Some(format!(
            "No available path for table {table} with the store type {} of the hint /*+ read_from_storage */, please check the status of the table replica and variable value of isolation_read_engines",
            h.name()
        ));
    }
    let engine = match (can(Engine::Row), can(Engine::Columnar)) {
        (true, false) => Engine::Row,
        (false, _) => Engine::Columnar,
        (true, true) => cheaper,
    };
    (Choice::Use(engine), warning)
}

fn collect_query(
    q: &Query,
    db: &str,
    hints: &mut HashMap<(String, String), Engine>,
    notes: &mut Vec<String>,
) {
    if let Some(with) = &q.with {
        for cte in &with.cte_tables {
            collect_query(&cte.query, db, hints, notes);
        }
    }
    collect_set_expr(&q.body, db, hints, notes);
}

fn collect_set_expr(
    body: &SetExpr,
    db: &str,
    hints: &mut HashMap<(String, String), Engine>,
    notes: &mut Vec<String>,
) {
    match body {
        SetExpr::Select(s) => {
            let mut asked = Vec::new();
            for h in &s.optimizer_hints {
                match parse_read_from_storage(&h.text) {
                    Ok(v) => asked.extend(v),
                    Err(e) => notes.push(e),
                }
            }
            let tables = from_tables(&s.from, db);
            for (engine, name) in asked {
                let name = name.to_lowercase();
                let found: Vec<_> = tables
                    .iter()
                    .filter(|(alias, qualified, _)| *alias == name || *qualified == name)
                    .map(|(_, _, key)| key.clone())
                    .collect();
                if found.is_empty() {
                    notes.push(format!(
                        "There are no matching table names for ({name}) in optimizer hint /*+ READ_FROM_STORAGE */"
                    ));
                }
                for key in found {
                    hints.insert(key, engine);
                }
            }
            for twj in &s.from {
                collect_factor_queries(&twj.relation, db, hints, notes);
                for j in &twj.joins {
                    collect_factor_queries(&j.relation, db, hints, notes);
                }
            }
        }
        SetExpr::Query(q) => collect_query(q, db, hints, notes),
        SetExpr::SetOperation { left, right, .. } => {
            collect_set_expr(left, db, hints, notes);
            collect_set_expr(right, db, hints, notes);
        }
        _ => {}
    }
}

fn collect_factor_queries(
    f: &TableFactor,
    db: &str,
    hints: &mut HashMap<(String, String), Engine>,
    notes: &mut Vec<String>,
) {
    if let TableFactor::Derived { subquery, .. } = f {
        collect_query(subquery, db, hints, notes);
    }
}

/// The FROM clause's tables: (name a hint may use, `db.table`, key).
fn from_tables(from: &[TableWithJoins], db: &str) -> Vec<(String, String, (String, String))> {
    let mut out = Vec::new();
    let mut add = |f: &TableFactor| {
        if let TableFactor::Table { name, alias, .. } = f {
            let parts: Vec<String> = name
                .0
                .iter()
                .filter_map(|p| p.as_ident().map(|i| i.value.to_lowercase()))
                .collect();
            let (d, t) = match parts.as_slice() {
                [t] => (db.to_string(), t.clone()),
                [.., d, t] => (d.clone(), t.clone()),
                [] => return,
            };
            let shown = alias
                .as_ref()
                .map(|a| a.name.value.to_lowercase())
                .unwrap_or_else(|| t.clone());
            out.push((shown, format!("{d}.{t}"), (d, t)));
        }
    };
    for twj in from {
        add(&twj.relation);
        for j in &twj.joins {
            add(&j.relation);
        }
    }
    out
}

/// The `(engine, table)` pairs of every `READ_FROM_STORAGE(...)` in a hint
/// comment's text; other hints are skipped. An unknown engine or a
/// malformed list is an error message (a warning for the user).
pub fn parse_read_from_storage(text: &str) -> Result<Vec<(Engine, String)>, String> {
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(found) = lower[rest..].find("read_from_storage") {
        let start = rest + found + "read_from_storage".len();
        let after = lower[start..].trim_start();
        let open = lower.len() - after.len();
        if !after.starts_with('(') {
            return Err(format!(
                "Optimizer hint syntax error at line 1 near '{}'",
                &text[open..]
            ));
        }
        let close = lower[open..].find(')').map(|i| open + i).ok_or_else(|| {
            format!(
                "Optimizer hint syntax error at line 1 near '{}'",
                &text[open..]
            )
        })?;
        let inner = &text[open + 1..close];
        let mut items = inner;
        while !items.trim().is_empty() {
            let (engine, tail) = items
                .split_once('[')
                .ok_or_else(|| format!("Optimizer hint syntax error at line 1 near '{inner}'"))?;
            let engine_name = engine.trim().trim_start_matches(',').trim();
            let engine = Engine::parse(engine_name).ok_or_else(|| {
                format!(
                    "Unknown storage type '{engine_name}' in optimizer hint READ_FROM_STORAGE (use ROW, COLUMNAR, TIKV or TIFLASH)"
                )
            })?;
            let (names, tail) = tail
                .split_once(']')
                .ok_or_else(|| format!("Optimizer hint syntax error at line 1 near '{inner}'"))?;
            for n in names.split(',') {
                let n = n.trim();
                let n = n.split('@').next().unwrap_or(n).trim().trim_matches('`');
                if !n.is_empty() {
                    out.push((engine, n.to_string()));
                }
            }
            items = tail;
        }
        rest = close + 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_parse_in_tidb_and_duet_spelling() {
        let v = parse_read_from_storage(
            " READ_FROM_STORAGE(TIFLASH[t1, test.t2@sel_1], tikv[t3]) HASH_JOIN(t1) ",
        )
        .unwrap();
        assert_eq!(
            v,
            vec![
                (Engine::Columnar, "t1".into()),
                (Engine::Columnar, "test.t2".into()),
                (Engine::Row, "t3".into()),
            ]
        );
        let v =
            parse_read_from_storage("read_from_storage(columnar[`a`]) read_from_storage(ROW[b])")
                .unwrap();
        assert_eq!(
            v,
            vec![(Engine::Columnar, "a".into()), (Engine::Row, "b".into())]
        );
        assert!(parse_read_from_storage("HASH_AGG()").unwrap().is_empty());
        assert!(
            parse_read_from_storage("READ_FROM_STORAGE(DISK[t])")
                .unwrap_err()
                .contains("DISK")
        );
        assert!(parse_read_from_storage("READ_FROM_STORAGE(TIFLASH[t)").is_err());
        assert!(parse_read_from_storage("READ_FROM_STORAGE TIFLASH").is_err());
    }

    #[test]
    fn engines_from_the_variable() {
        assert_eq!(ReadEngines::parse("row,columnar"), ReadEngines::ANY);
        assert_eq!(ReadEngines::parse("tikv"), ReadEngines::ROW);
        assert_eq!(
            ReadEngines::parse("tiflash"),
            ReadEngines {
                row: false,
                columnar: true
            }
        );
    }

    #[test]
    fn choice_follows_variable_then_hint_then_cost() {
        use Engine::*;
        let col_only = ReadEngines {
            row: false,
            columnar: true,
        };
        // `keyed` stands for a cost model that prefers the row store.
        let c = |e, replica, hint, keyed: bool| {
            let cheaper = if keyed { Row } else { Columnar };
            choose(e, replica, hint, cheaper, false, "test.t")
        };
        // Cost decides when both engines may be used.
        assert_eq!(
            c(ReadEngines::ANY, true, None, false).0,
            Choice::Use(Columnar)
        );
        assert_eq!(c(ReadEngines::ANY, true, None, true).0, Choice::Use(Row));
        assert_eq!(c(ReadEngines::ANY, false, None, false).0, Choice::Use(Row));
        // Hints win where allowed.
        assert_eq!(
            c(ReadEngines::ANY, true, Some(Row), false),
            (Choice::Use(Row), None)
        );
        assert_eq!(
            c(ReadEngines::ANY, true, Some(Columnar), true),
            (Choice::Use(Columnar), None)
        );
        // A hint for an engine the table lacks: warned, ignored.
        let (choice, w) = c(ReadEngines::ANY, false, Some(Columnar), false);
        assert_eq!(choice, Choice::Use(Row));
        assert!(w.unwrap().contains("No available path for table test.t"));
        let (choice, w) = c(ReadEngines::ROW, true, Some(Columnar), false);
        assert_eq!(choice, Choice::Use(Row));
        assert!(w.is_some());
        // The variable alone.
        assert_eq!(c(col_only, true, Some(Row), true).0, Choice::Use(Columnar));
        assert_eq!(
            c(col_only, false, None, false).0,
            Choice::NoPath { allowed: "row" }
        );
        // Locking reads stay on the row store.
        assert_eq!(
            choose(col_only, true, None, Columnar, true, "t").0,
            Choice::Use(Row)
        );
    }
}
