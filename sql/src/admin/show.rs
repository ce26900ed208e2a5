//! SHOW statements: [`execute`] dispatches to one function per statement,
//! each answering from the catalog, the session or the server's shared
//! state. Rows come out sorted by value where MySQL sorts them.

use codec::datum::Datum;
use sqlparser::ast::{ShowStatementFilter, ShowStatementOptions, Statement};

use crate::error::{Error, Result};
use crate::protocol::ColumnType;
use crate::protocol::resultset::ColumnDef;
use crate::session::vars::VarValue;
use crate::session::{ResultSet, Session};

pub fn is_show(s: &Statement) -> bool {
    matches!(
        s,
        Statement::ShowDatabases { .. }
            | Statement::ShowSchemas { .. }
            | Statement::ShowTables { .. }
            | Statement::ShowVariables { .. }
            | Statement::ShowStatus { .. }
            | Statement::ShowColumns { .. }
            | Statement::ExplainTable { .. }
            | Statement::ShowCreate { .. }
            | Statement::ShowProcessList { .. }
            | Statement::ShowCollation { .. }
            | Statement::ShowCharset(_)
            | Statement::ShowVariable { .. }
    )
}

fn text_cols(names: &[&str]) -> Vec<ColumnDef> {
    names
        .iter()
        .map(|n| ColumnDef::expr(n, ColumnType::VarString))
        .collect()
}

fn s(v: impl Into<String>) -> Datum {
    Datum::Bytes(v.into().into_bytes())
}

/// MySQL LIKE on a name (`%`, `_`, case-insensitive).
pub fn like(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('%') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some('_') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('\\') if p.len() > 1 => !n.is_empty() && n[0] == p[1] && go(&p[2..], &n[1..]),
            Some(c) => !n.is_empty() && n[0].eq_ignore_ascii_case(c) && go(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

fn like_filter(filter: &Option<ShowStatementFilter>) -> Result<Option<String>> {
    match filter {
        None => Ok(None),
        Some(ShowStatementFilter::Like(p)) | Some(ShowStatementFilter::ILike(p)) => {
            Ok(Some(p.clone()))
        }
        Some(other) => Err(Error::unsupported(format!("SHOW ... {other}"))),
    }
}

fn options_filter(o: &ShowStatementOptions) -> Result<Option<String>> {
    like_filter(&o.filter_position.as_ref().map(|p| match p {
        sqlparser::ast::ShowStatementFilterPosition::Infix(f)
        | sqlparser::ast::ShowStatementFilterPosition::Suffix(f) => f.clone(),
    }))
}

pub async fn execute(session: &mut Session, stmt: Statement) -> Result<ResultSet> {
    match stmt {
        Statement::ShowDatabases { show_options, .. }
        | Statement::ShowSchemas { show_options, .. } => databases(session, &show_options),
        Statement::ShowTables {
            full, show_options, ..
        } => tables(session, full, &show_options),
        Statement::ShowVariables { filter, global, .. } => variables(session, &filter, global),
        Statement::ShowStatus { filter, .. } => status(session, &filter),
        Statement::ShowProcessList { full } => Ok(processlist(session, full)),
        Statement::ShowCollation { filter } => collations(&filter),
        Statement::ShowCharset(_) => Ok(charsets()),
        Statement::ShowCreate {
            obj_type: sqlparser::ast::ShowCreateObject::Table,
            obj_name,
        } => create_table(session, &obj_name),
        Statement::ShowColumns {
            full, show_options, ..
        } => columns(session, full, &show_options),
        // `DESCRIBE t`, `DESC t`, `EXPLAIN t`: MySQL's shorthand for
        // `SHOW COLUMNS FROM t`.
        Statement::ExplainTable {
            hive_format: None,
            has_table_keyword: false,
            table_name,
            ..
        } => table_columns(session, &table_name, false, None),
        Statement::ShowVariable { variable } => {
            let words: Vec<String> = variable.iter().map(|i| i.value.clone()).collect();
            let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
            match upper.first().map(String::as_str) {
                Some("WARNINGS") => Ok(warnings(session, false)),
                Some("ERRORS") => Ok(warnings(session, true)),
                Some("ENGINES") => Ok(engines()),
                Some("INDEX") | Some("INDEXES") | Some("KEYS") => index(session, &words, &upper),
                Some("GRANTS") => Ok(grants(session)),
                _ => Err(Error::parse(format!("near 'SHOW {}'", words.join(" ")))),
            }
        }
        other => Err(Error::unsupported_statement(&other)),
    }
}

/// `SHOW DATABASES [LIKE ...]`.
fn databases(session: &Session, options: &ShowStatementOptions) -> Result<ResultSet> {
    let pat = options_filter(options)?;
    let mut names: Vec<String> = session
        .schema()
        .dbs
        .values()
        .map(|d| d.info.name.clone())
        .collect();
    names.push("information_schema".into());
    names.sort();
    let rows = names
        .into_iter()
        .filter(|n| pat.as_ref().is_none_or(|p| like(p, n)))
        .map(|n| vec![s(n)])
        .collect();
    Ok(ResultSet {
        columns: text_cols(&["Database"]),
        rows,
    })
}

/// `SHOW [FULL] TABLES [FROM db] [LIKE ...]`, sorted by name.
fn tables(session: &Session, full: bool, options: &ShowStatementOptions) -> Result<ResultSet> {
    let db = match &options.show_in {
        Some(i) => i
            .parent_name
            .as_ref()
            .map(|n| n.to_string())
            .ok_or_else(Error::no_db)?,
        None => session.current_db()?.to_string(),
    };
    let schema = session.schema();
    let d = schema.db(&db).ok_or_else(|| Error::bad_db(&db))?;
    let pat = options_filter(options)?;
    let title = format!("Tables_in_{}", d.info.name);
    let mut names: Vec<&str> = d
        .tables
        .values()
        .map(|t| t.name.as_str())
        .filter(|n| pat.as_ref().is_none_or(|p| like(p, n)))
        .collect();
    names.sort_unstable();
    let rows = names
        .into_iter()
        .map(|n| {
            if full {
                vec![s(n), s("BASE TABLE")]
            } else {
                vec![s(n)]
            }
        })
        .collect();
    let columns = if full {
        text_cols(&[&title, "Table_type"])
    } else {
        text_cols(&[&title])
    };
    Ok(ResultSet { columns, rows })
}

/// `SHOW [GLOBAL | SESSION] VARIABLES [LIKE ...]`.
fn variables(
    session: &Session,
    filter: &Option<ShowStatementFilter>,
    global: bool,
) -> Result<ResultSet> {
    let pat = like_filter(filter)?;
    let rows = session
        .vars
        .all(&session.shared.globals, global)
        .into_iter()
        .filter(|(n, _)| pat.as_ref().is_none_or(|p| like(p, n)))
        .map(|(n, v)| {
            vec![
                s(n),
                match v {
                    VarValue::Null => s(""),
                    v => s(v.to_text()),
                },
            ]
        })
        .collect();
    Ok(ResultSet {
        columns: text_cols(&["Variable_name", "Value"]),
        rows,
    })
}

/// `SHOW [GLOBAL | SESSION] STATUS [LIKE ...]`.
fn status(session: &Session, filter: &Option<ShowStatementFilter>) -> Result<ResultSet> {
    let pat = like_filter(filter)?;
    let uptime = session.process().connected.elapsed().as_secs();
    let status = [
        (
            "Threads_connected",
            session.shared.processes.all().len().to_string(),
        ),
        ("Uptime", uptime.to_string()),
        ("Ssl_cipher", String::new()),
    ];
    let rows = status
        .into_iter()
        .filter(|(n, _)| pat.as_ref().is_none_or(|p| like(p, n)))
        .map(|(n, v)| vec![s(n), s(v)])
        .collect();
    Ok(ResultSet {
        columns: text_cols(&["Variable_name", "Value"]),
        rows,
    })
}

/// `SHOW [FULL] PROCESSLIST`.
fn processlist(session: &Session, full: bool) -> ResultSet {
    let mut rows = Vec::new();
    for p in session.shared.processes.all() {
        let current = p.current.lock().clone();
        let (command, time, info) = match current {
            Some((q, started)) => {
                let q = if full {
                    q
                } else {
                    q.chars().take(100).collect()
                };
                ("Query", started.elapsed().as_secs(), s(q))
            }
            None => ("Sleep", p.connected.elapsed().as_secs(), Datum::Null),
        };
        rows.push(vec![
            Datum::U64(p.id as u64),
            s(p.user.clone()),
            s(p.host.clone()),
            p.db.lock().clone().map(s).unwrap_or(Datum::Null),
            s(command),
            Datum::U64(time),
            s(if command == "Query" { "executing" } else { "" }),
            info,
        ]);
    }
    let mut columns = text_cols(&[
        "Id", "User", "Host", "db", "Command", "Time", "State", "Info",
    ]);
    columns[0] = ColumnDef::expr("Id", ColumnType::LongLong);
    columns[5] = ColumnDef::expr("Time", ColumnType::LongLong);
    ResultSet { columns, rows }
}

/// `SHOW COLLATION [LIKE ...]`.
fn collations(filter: &Option<ShowStatementFilter>) -> Result<ResultSet> {
    let pat = like_filter(filter)?;
    let all = [
        ("utf8mb4_bin", "utf8mb4", 46, "Yes"),
        ("utf8mb4_general_ci", "utf8mb4", 45, ""),
        ("binary", "binary", 63, "Yes"),
    ];
    let rows = all
        .into_iter()
        .filter(|(n, ..)| pat.as_ref().is_none_or(|p| like(p, n)))
        .map(|(n, cs, id, def)| {
            vec![
                s(n),
                s(cs),
                Datum::I64(id),
                s(def),
                s("Yes"),
                Datum::I64(1),
                s("PAD SPACE"),
            ]
        })
        .collect();
    let mut columns = text_cols(&[
        "Collation",
        "Charset",
        "Id",
        "Default",
        "Compiled",
        "Sortlen",
        "Pad_attribute",
    ]);
    columns[2] = ColumnDef::expr("Id", ColumnType::LongLong);
    columns[5] = ColumnDef::expr("Sortlen", ColumnType::LongLong);
    Ok(ResultSet { columns, rows })
}

/// `SHOW CHARACTER SET`.
fn charsets() -> ResultSet {
    let rows = vec![
        vec![
            s("utf8mb4"),
            s("UTF-8 Unicode"),
            s("utf8mb4_bin"),
            Datum::I64(4),
        ],
        vec![s("binary"), s("binary"), s("binary"), Datum::I64(1)],
    ];
    let mut columns = text_cols(&["Charset", "Description", "Default collation", "Maxlen"]);
    columns[3] = ColumnDef::expr("Maxlen", ColumnType::LongLong);
    ResultSet { columns, rows }
}

/// `SHOW CREATE TABLE t`.
fn create_table(session: &Session, name: &sqlparser::ast::ObjectName) -> Result<ResultSet> {
    let (db, name) = session.qualified(name)?;
    let schema = session.schema();
    let t = schema.require_table(&db, &name)?;
    let ddl = show_create_table(t);
    Ok(ResultSet {
        columns: text_cols(&["Table", "Create Table"]),
        rows: vec![vec![s(t.name.clone()), s(ddl)]],
    })
}

/// `SHOW [FULL] COLUMNS FROM t [LIKE ...]`.
fn columns(session: &Session, full: bool, options: &ShowStatementOptions) -> Result<ResultSet> {
    let name = options
        .show_in
        .as_ref()
        .and_then(|i| i.parent_name.as_ref())
        .ok_or_else(|| Error::parse("near 'SHOW COLUMNS'"))?;
    table_columns(session, name, full, options_filter(options)?)
}

/// The columns of table `name` whose names match `pat`, as `SHOW [FULL]
/// COLUMNS` and `DESCRIBE` list them.
fn table_columns(
    session: &Session,
    name: &sqlparser::ast::ObjectName,
    full: bool,
    pat: Option<String>,
) -> Result<ResultSet> {
    let (db, table) = session.qualified(name)?;
    let schema = session.schema();
    let t = schema.require_table(&db, &table)?;
    let rows = (0..t.columns.len())
        .filter(|&i| pat.as_ref().is_none_or(|p| like(p, &t.columns[i].name)))
        .map(|i| column_row(t, i, full))
        .collect();
    let columns = if full {
        text_cols(&[
            "Field",
            "Type",
            "Collation",
            "Null",
            "Key",
            "Default",
            "Extra",
            "Privileges",
            "Comment",
        ])
    } else {
        text_cols(&["Field", "Type", "Null", "Key", "Default", "Extra"])
    };
    Ok(ResultSet { columns, rows })
}

/// One column's row of `SHOW [FULL] COLUMNS`.
fn column_row(t: &crate::catalog::model::TableInfo, i: usize, full: bool) -> Vec<Datum> {
    use crate::catalog::model::DefaultValue;
    let c = &t.columns[i];
    let key = t.column_key(i);
    let default = match &c.default {
        Some(DefaultValue::Literal(v)) => s(v.clone()),
        Some(DefaultValue::CurrentTimestamp) => s("CURRENT_TIMESTAMP"),
        _ => Datum::Null,
    };
    let mut extra = Vec::new();
    if c.auto_increment {
        extra.push("auto_increment");
    }
    if c.default == Some(DefaultValue::CurrentTimestamp) {
        extra.push("DEFAULT_GENERATED");
    }
    if c.on_update_now {
        extra.push("on update CURRENT_TIMESTAMP");
    }
    let mut row = vec![s(c.name.clone()), s(c.ft.sql())];
    if full {
        row.push(if c.ft.is_string() {
            s("utf8mb4_bin")
        } else {
            Datum::Null
        });
    }
    row.extend([
        s(if c.nullable { "YES" } else { "NO" }),
        s(key),
        default,
        s(extra.join(" ")),
    ]);
    if full {
        row.extend([s("select,insert,update,references"), s(c.comment.clone())]);
    }
    row
}

/// `SHOW WARNINGS` / `SHOW ERRORS`.
fn warnings(session: &Session, errors_only: bool) -> ResultSet {
    let rows = session
        .warnings
        .iter()
        .filter(|w| !errors_only || w.level == "Error")
        .map(|w| vec![s(w.level), Datum::I64(w.code as i64), s(w.message.clone())])
        .collect();
    let mut columns = text_cols(&["Level", "Code", "Message"]);
    columns[1] = ColumnDef::expr("Code", ColumnType::Long);
    ResultSet { columns, rows }
}

/// `SHOW ENGINES`.
fn engines() -> ResultSet {
    let rows = vec![vec![
        s("InnoDB"),
        s("DEFAULT"),
        s("duet row store (RocksDB regions, Percolator transactions)"),
        s("YES"),
        s("YES"),
        s("YES"),
    ]];
    ResultSet {
        columns: text_cols(&[
            "Engine",
            "Support",
            "Comment",
            "Transactions",
            "XA",
            "Savepoints",
        ]),
        rows,
    }
}

/// `SHOW INDEX | INDEXES | KEYS FROM t [FROM db]` (`words` as written,
/// `upper` in upper case).
fn index(session: &Session, words: &[String], upper: &[String]) -> Result<ResultSet> {
    let (table, db) = match upper {
        [_, f, _] if f == "FROM" || f == "IN" => {
            (words[2].clone(), session.current_db()?.to_string())
        }
        [_, f, _, g, _] if (f == "FROM" || f == "IN") && (g == "FROM" || g == "IN") => {
            (words[2].clone(), words[4].clone())
        }
        _ => return Err(Error::parse("near 'SHOW INDEX'")),
    };
    let schema = session.schema();
    let t = schema.require_table(&db, &table)?;
    Ok(show_index(t))
}

/// `SHOW GRANTS`.
fn grants(session: &Session) -> ResultSet {
    let user = format!(
        "GRANT ALL PRIVILEGES ON *.* TO '{}'@'%' WITH GRANT OPTION",
        session.user
    );
    ResultSet {
        columns: text_cols(&[&format!("Grants for {}@%", session.user)]),
        rows: vec![vec![s(user)]],
    }
}

fn show_index(t: &crate::catalog::model::TableInfo) -> ResultSet {
    let mut rows = Vec::new();
    for idx in &t.indexes {
        for (seq, ic) in idx.columns.iter().enumerate() {
            let nullable = t.column(&ic.name).map(|(_, c)| c.nullable).unwrap_or(false);
            rows.push(vec![
                s(t.name.clone()),
                Datum::I64(!idx.unique as i64),
                s(idx.name.clone()),
                Datum::I64(seq as i64 + 1),
                s(ic.name.clone()),
                s("A"),
                Datum::I64(0),
                ic.length
                    .map(|l| Datum::I64(l as i64))
                    .unwrap_or(Datum::Null),
                Datum::Null,
                s(if nullable { "YES" } else { "" }),
                s("BTREE"),
                s(""),
                s(idx.comment.clone()),
                s("YES"),
                Datum::Null,
            ]);
        }
    }
    let mut cols = text_cols(&[
        "Table",
        "Non_unique",
        "Key_name",
        "Seq_in_index",
        "Column_name",
        "Collation",
        "Cardinality",
        "Sub_part",
        "Packed",
        "Null",
        "Index_type",
        "Comment",
        "Index_comment",
        "Visible",
        "Expression",
    ]);
    for i in [1, 3, 6, 7] {
        cols[i] = ColumnDef::expr(&cols[i].name.clone(), ColumnType::LongLong);
    }
    ResultSet {
        columns: cols,
        rows,
    }
}

/// SHOW CREATE TABLE's statement, in MySQL 8.0's layout.
pub fn show_create_table(t: &crate::catalog::model::TableInfo) -> String {
    use crate::catalog::model::DefaultValue;
    let q = |n: &str| format!("`{}`", n.replace('`', "``"));
    let mut lines = Vec::new();
    for c in &t.columns {
        let mut l = format!("  {} {}", q(&c.name), c.ft.sql());
        if !c.nullable {
            l.push_str(" NOT NULL");
        }
        match &c.default {
            Some(DefaultValue::Literal(v)) => {
                l.push_str(&format!(" DEFAULT '{}'", v.replace('\'', "''")))
            }
            Some(DefaultValue::CurrentTimestamp) => l.push_str(" DEFAULT CURRENT_TIMESTAMP"),
            Some(DefaultValue::Null) => l.push_str(" DEFAULT NULL"),
            None if c.nullable && !c.ft.is_blob() => l.push_str(" DEFAULT NULL"),
            None => {}
        }
        if c.on_update_now {
            l.push_str(" ON UPDATE CURRENT_TIMESTAMP");
        }
        if c.auto_increment {
            l.push_str(" AUTO_INCREMENT");
        }
        if !c.comment.is_empty() {
            l.push_str(&format!(" COMMENT '{}'", c.comment.replace('\'', "''")));
        }
        lines.push(l);
    }
    for idx in &t.indexes {
        let cols: Vec<String> = idx
            .columns
            .iter()
            .map(|ic| match ic.length {
                Some(n) => format!("{}({n})", q(&ic.name)),
                None => q(&ic.name),
            })
            .collect();
        let cols = cols.join(",");
        let l = if idx.primary {
            let clustered = if matches!(t.handle, crate::catalog::model::HandleKind::RowId) {
                "NONCLUSTERED"
            } else {
                "CLUSTERED"
            };
            format!("  PRIMARY KEY ({cols}) /*T![clustered_index] {clustered} */")
        } else if idx.unique {
            format!("  UNIQUE KEY {} ({cols})", q(&idx.name))
        } else {
            format!("  KEY {} ({cols})", q(&idx.name))
        };
        lines.push(l);
    }
    let mut out = format!(
        "CREATE TABLE {} (\n{}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        q(&t.name),
        lines.join(",\n")
    );
    if !t.comment.is_empty() {
        out.push_str(&format!(" COMMENT='{}'", t.comment.replace('\'', "''")));
    }
    out
}
