//! Account statements, which sqlparser's MySQL dialect does not parse:
//! `CREATE USER [IF NOT EXISTS] u [IDENTIFIED [WITH plugin] BY 'pw'], ...`,
//! `DROP USER [IF EXISTS] u, ...`, `ALTER USER [IF EXISTS] u IDENTIFIED
//! [WITH plugin] BY 'pw'`, `SET PASSWORD [FOR u] = 'pw'`. An account is
//! `name[@host]` (quoted or not); the host defaults to `%`.
//!
//! Privileges are not enforced yet: every account may do everything (see
//! docs/sql.md).

use crate::catalog::meta;
use crate::catalog::model::UserInfo;
use crate::error::{Error, Result, code};
use crate::parse::lex::{Tok, lex};
use crate::protocol::auth::{CACHING_SHA2_PASSWORD, NATIVE_PASSWORD, PasswordHashes};
use crate::session::{Output, Session};

struct P {
    toks: Vec<Tok>,
    pos: usize,
}

impl P {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn eat_word(&mut self, w: &str) -> bool {
        let yes = self.peek_word(w);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn expect_word(&mut self, w: &str) -> Result<()> {
        if self.eat_word(w) {
            Ok(())
        } else {
            Err(self.err())
        }
    }

    fn eat(&mut self, t: &Tok) -> bool {
        let yes = self.toks.get(self.pos) == Some(t);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn name(&mut self) -> Result<String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => {
                self.pos += 1;
                Ok(w)
            }
            _ => Err(self.err()),
        }
    }

    fn string(&mut self) -> Result<String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Quoted(w)) => {
                self.pos += 1;
                Ok(w)
            }
            _ => Err(self.err()),
        }
    }

    fn account(&mut self) -> Result<(String, String)> {
        let user = self.name()?;
        let host = if self.eat(&Tok::At) {
            self.name()?
        } else {
            "%".to_string()
        };
        Ok((user, host))
    }

    fn done(&self) -> bool {
        self.pos >= self.toks.len()
    }

    fn err(&self) -> Error {
        Error::parse(format!("near '{:?}'", self.toks.get(self.pos)))
    }

    /// `[IDENTIFIED [WITH plugin] [BY 'pw']]`
    fn auth(&mut self) -> Result<Option<(String, String)>> {
        if !self.eat_word("IDENTIFIED") {
            return Ok(None);
        }
        let mut plugin = NATIVE_PASSWORD.to_string();
        if self.eat_word("WITH") {
            plugin = self.name()?.to_lowercase();
            if plugin != NATIVE_PASSWORD && plugin != CACHING_SHA2_PASSWORD {
                return Err(Error::new(
                    code::ER_NOT_SUPPORTED_YET,
                    format!("Plugin '{plugin}' is not loaded"),
                ));
            }
        }
        let pw = if self.eat_word("BY") {
            self.string()?
        } else {
            String::new()
        };
        Ok(Some((plugin, pw)))
    }
}

/// Whether `sql` is an account statement this module runs.
pub fn is_account_statement(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(2)
        .map(|w| w.to_ascii_uppercase())
        .collect();
    matches!(words.as_slice(), [a, b] if (a == "CREATE" || a == "DROP" || a == "ALTER") && b == "USER")
        || matches!(words.as_slice(), [a, b] if a == "SET" && b.starts_with("PASSWORD"))
}

pub async fn execute(session: &mut Session, sql: &str) -> Result<Output> {
    let mut p = P {
        toks: lex(sql.trim())?,
        pos: 0,
    };
    if p.eat_word("SET") {
        return set_password(session, &mut p).await;
    }
    let (verb, if_flag, specs) = parse_accounts(&mut p)?;
    let changes = applicable(session, &verb, if_flag, specs)?;
    write_accounts(session, &verb, changes).await
}

/// An account and, unless dropped, its `IDENTIFIED [WITH plugin] BY`.
type Spec = ((String, String), Option<(String, String)>);

/// `SET PASSWORD [FOR u] = 'pw'`.
async fn set_password(session: &mut Session, p: &mut P) -> Result<Output> {
    let schema = session.schema();
    p.expect_word("PASSWORD")?;
    let (user, host) = if p.eat_word("FOR") {
        p.account()?
    } else {
        (session.user.clone(), "%".to_string())
    };
    if !p.eat(&Tok::Eq) {
        return Err(p.err());
    }
    let pw = p.string()?;
    let mut u = schema.user(&user, &host).cloned().ok_or_else(|| {
        Error::new(
            code::ER_CANNOT_USER,
            format!("Operation SET PASSWORD failed for '{user}'@'{host}'"),
        )
    })?;
    u.password = PasswordHashes::new(&pw);
    crate::ddl::txn::in_schema_txn(&session.shared, async |txn, _| {
        meta::put_user(txn, &u).await
    })
    .await?;
    Ok(Output::ok(0))
}

/// `CREATE | DROP | ALTER USER [IF [NOT] EXISTS] account [auth], ...`:
/// the verb, whether IF ... EXISTS was given, and the accounts.
fn parse_accounts(p: &mut P) -> Result<(String, bool, Vec<Spec>)> {
    let verb = p.name()?.to_ascii_uppercase();
    p.expect_word("USER")?;
    let if_flag = match verb.as_str() {
        "CREATE" => {
            let yes = p.eat_word("IF");
            if yes {
                p.expect_word("NOT")?;
                p.expect_word("EXISTS")?;
            }
            yes
        }
        _ => {
            let yes = p.eat_word("IF");
            if yes {
                p.expect_word("EXISTS")?;
            }
            yes
        }
    };
    let mut specs = Vec::new();
    loop {
        let account = p.account()?;
        let auth = if verb == "DROP" { None } else { p.auth()? };
        specs.push((account, auth));
        if !p.eat(&Tok::Comma) {
            break;
        }
    }
    if !p.done() {
        return Err(p.err());
    }
    Ok((verb, if_flag, specs))
}

/// The accounts the statement changes: ones that exist for DROP and ALTER,
/// ones that do not for CREATE; the others are notes with IF [NOT] EXISTS
/// and fail the statement (1396) without.
fn applicable(
    session: &mut Session,
    verb: &str,
    if_flag: bool,
    specs: Vec<Spec>,
) -> Result<Vec<Spec>> {
    let schema = session.schema();
    let exists = |u: &str, h: &str| schema.users.iter().any(|x| x.user == u && x.host == h);
    let mut failed = Vec::new();
    let mut changes = Vec::new();
    for ((user, host), auth) in specs {
        let present = exists(&user, &host);
        match verb {
            "CREATE" if present => {
                if if_flag {
                    session.note(
                        code::ER_CANNOT_USER,
                        format!("User '{user}'@'{host}' already exists"),
                    );
                } else {
                    failed.push(format!("'{user}'@'{host}'"));
                }
            }
            "DROP" | "ALTER" if !present => {
                if if_flag {
                    session.note(
                        code::ER_CANNOT_USER,
                        format!("User '{user}'@'{host}' does not exist"),
                    );
                } else {
                    failed.push(format!("'{user}'@'{host}'"));
                }
            }
            _ => changes.push(((user, host), auth)),
        }
    }
    if !failed.is_empty() {
        return Err(Error::new(
            code::ER_CANNOT_USER,
            format!("Operation {verb} USER failed for {}", failed.join(",")),
        ));
    }
    Ok(changes)
}

/// Writes the accounts in one DDL transaction.
async fn write_accounts(session: &mut Session, verb: &str, changes: Vec<Spec>) -> Result<Output> {
    crate::ddl::txn::in_schema_txn(&session.shared, async |txn, _| {
        for ((user, host), auth) in &changes {
            if verb == "DROP" {
                meta::delete_user(txn, user, host).await?;
                continue;
            }
            let (plugin, pw) = auth
                .clone()
                .unwrap_or((NATIVE_PASSWORD.to_string(), String::new()));
            let mut u = match meta::get_user(txn, user, host).await? {
                Some(u) => u,
                None => UserInfo {
                    user: user.clone(),
                    host: host.clone(),
                    password: PasswordHashes::default(),
                    plugin: plugin.clone(),
                },
            };
            if verb == "CREATE" || auth.is_some() {
                u.password = PasswordHashes::new(&pw);
                u.plugin = plugin;
            }
            meta::put_user(txn, &u).await?;
        }
        Ok(())
    })
    .await?;
    Ok(Output::ok(0))
}
