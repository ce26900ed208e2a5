//! System variables: the names clients read at connect time and the ones
//! duet acts on.
//!
//! Each variable has a scope (global, session, or both) and a default.
//! `SET GLOBAL` changes the server-wide value that new sessions start from
//! (kept in memory on this SQL server, as TiDB does for most non-persisted
//! variables); `SET [SESSION]` changes the session's copy. Reading an
//! unknown variable is `ER_UNKNOWN_SYSTEM_VARIABLE` (1193), as in MySQL.
//! Values are kept as [`VarValue`] (integer or string) so `SELECT
//! @@autocommit` returns a number and `SELECT @@sql_mode` a string.

use std::collections::BTreeMap;

use crate::error::{Error, Result, code};

#[derive(Debug, Clone, PartialEq)]
pub enum VarValue {
    Int(i64),
    Str(String),
    Null,
}

impl VarValue {
    pub fn as_bool(&self) -> bool {
        match self {
            VarValue::Int(i) => *i != 0,
            VarValue::Str(s) => s.eq_ignore_ascii_case("ON") || s == "1",
            VarValue::Null => false,
        }
    }

    pub fn to_text(&self) -> String {
        match self {
            VarValue::Int(i) => i.to_string(),
            VarValue::Str(s) => s.clone(),
            VarValue::Null => String::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    Session,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// 0/1, also set with ON/OFF/TRUE/FALSE.
    Bool,
    Int,
    /// An integer within `[min, max]`; others are refused (1231).
    Range(i64, i64),
    Str,
    /// A string with a fixed set of values (compared case-insensitively).
    Enum(&'static [&'static str]),
}

#[derive(Clone, Copy)]
struct Def {
    name: &'static str,
    scope: Scope,
    kind: Kind,
    default: fn() -> VarValue,
    read_only: bool,
}

const ISOLATION: &[&str] = &[
    "READ-UNCOMMITTED",
    "READ-COMMITTED",
    "REPEATABLE-READ",
    "SERIALIZABLE",
];
const ENGINES: &[&str] = &[
    "row",
    "columnar",
    "row,columnar",
    "columnar,row",
    "tikv",
    "tiflash",
    "tikv,tiflash",
    "tiflash,tikv",
];

macro_rules! defs {
    ($( $name:literal, $scope:ident, $kind:expr, $default:expr, $ro:literal; )*) => {
        &[ $( Def { name: $name, scope: Scope::$scope, kind: $kind, default: || $default, read_only: $ro }, )* ]
    };
}

fn s(v: &str) -> VarValue {
    VarValue::Str(v.to_string())
}

/// The default sql_mode of MySQL 8.0 (and TiDB).
pub const DEFAULT_SQL_MODE: &str = "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION";

static DEFS: &[Def] = defs! {
    "autocommit", Both, Kind::Bool, VarValue::Int(1), false;
    "auto_increment_increment", Both, Kind::Int, VarValue::Int(1), false;
    "auto_increment_offset", Both, Kind::Int, VarValue::Int(1), false;
    "character_set_client", Both, Kind::Str, s("utf8mb4"), false;
    "character_set_connection", Both, Kind::Str, s("utf8mb4"), false;
    "character_set_database", Both, Kind::Str, s("utf8mb4"), false;
    "character_set_filesystem", Both, Kind::Str, s("binary"), false;
    "character_set_results", Both, Kind::Str, s("utf8mb4"), false;
    "character_set_server", Both, Kind::Str, s("utf8mb4"), false;
    "character_set_system", Global, Kind::Str, s("utf8"), true;
    "collation_connection", Both, Kind::Str, s("utf8mb4_bin"), false;
    "collation_database", Both, Kind::Str, s("utf8mb4_bin"), false;
    "collation_server", Both, Kind::Str, s("utf8mb4_bin"), false;
    "connect_timeout", Global, Kind::Int, VarValue::Int(10), false;
    "default_storage_engine", Both, Kind::Str, s("InnoDB"), false;
    "default_authentication_plugin", Global, Kind::Str, s("mysql_native_password"), true;
    "div_precision_increment", Both, Kind::Int, VarValue::Int(4), false;
    "foreign_key_checks", Both, Kind::Bool, VarValue::Int(0), false;
    "group_concat_max_len", Both, Kind::Int, VarValue::Int(1024), false;
    "have_ssl", Global, Kind::Str, s("DISABLED"), true;
    "hostname", Global, Kind::Str, s("localhost"), true;
    "init_connect", Global, Kind::Str, s(""), false;
    "innodb_lock_wait_timeout", Both, Kind::Int, VarValue::Int(50), false;
    "interactive_timeout", Both, Kind::Int, VarValue::Int(28800), false;
    "isolation_read_engines", Session, Kind::Str, s("row,columnar"), false;
    "tidb_isolation_read_engines", Session, Kind::Str, s("row,columnar"), false;
    "license", Global, Kind::Str, s("Apache-2.0"), true;
    "lower_case_table_names", Global, Kind::Int, VarValue::Int(2), true;
    "max_allowed_packet", Both, Kind::Int, VarValue::Int(67_108_864), false;
    "max_connections", Global, Kind::Int, VarValue::Int(0), false;
    "max_execution_time", Both, Kind::Int, VarValue::Int(0), false;
    "net_buffer_length", Both, Kind::Int, VarValue::Int(16384), false;
    "net_write_timeout", Both, Kind::Int, VarValue::Int(60), false;
    "net_read_timeout", Both, Kind::Int, VarValue::Int(30), false;
    "performance_schema", Global, Kind::Bool, VarValue::Int(0), true;
    "port", Global, Kind::Int, VarValue::Int(4000), true;
    "query_cache_size", Global, Kind::Int, VarValue::Int(0), false;
    "query_cache_type", Both, Kind::Str, s("OFF"), false;
    "read_only", Global, Kind::Bool, VarValue::Int(0), false;
    "socket", Global, Kind::Str, VarValue::Null, true;
    "sql_auto_is_null", Both, Kind::Bool, VarValue::Int(0), false;
    "sql_mode", Both, Kind::Str, s(DEFAULT_SQL_MODE), false;
    "sql_select_limit", Both, Kind::Int, VarValue::Int(i64::MAX), false;
    "sql_safe_updates", Both, Kind::Bool, VarValue::Int(0), false;
    "sql_notes", Both, Kind::Bool, VarValue::Int(1), false;
    "sql_warnings", Both, Kind::Bool, VarValue::Int(0), false;
    "system_time_zone", Global, Kind::Str, s("UTC"), true;
    "time_zone", Both, Kind::Str, s("SYSTEM"), false;
    "transaction_isolation", Both, Kind::Enum(ISOLATION), s("REPEATABLE-READ"), false;
    "tx_isolation", Both, Kind::Enum(ISOLATION), s("REPEATABLE-READ"), false;
    "transaction_read_only", Both, Kind::Bool, VarValue::Int(0), false;
    "tx_read_only", Both, Kind::Bool, VarValue::Int(0), false;
    "tidb_txn_mode", Both, Kind::Enum(&["pessimistic", "optimistic", ""]), s("pessimistic"), false;
    "tidb_ddl_reorg_batch_size", Global, Kind::Range(32, 10240), VarValue::Int(256), false;
    "tidb_retry_limit", Both, Kind::Int, VarValue::Int(10), false;
    "unique_checks", Both, Kind::Bool, VarValue::Int(1), false;
    "version", Global, Kind::Str, s(crate::protocol::handshake::SERVER_VERSION), true;
    "version_comment", Global, Kind::Str, s(concat!("duet ", env!("CARGO_PKG_VERSION"), " (Apache-2.0): a distributed HTAP database")), true;
    "version_compile_machine", Global, Kind::Str, s(std::env::consts::ARCH), true;
    "version_compile_os", Global, Kind::Str, s(std::env::consts::OS), true;
    "wait_timeout", Both, Kind::Int, VarValue::Int(28800), false;
    "warning_count", Session, Kind::Int, VarValue::Int(0), true;
    "error_count", Session, Kind::Int, VarValue::Int(0), true;
    "last_insert_id", Session, Kind::Int, VarValue::Int(0), false;
    "identity", Session, Kind::Int, VarValue::Int(0), false;
    "insert_id", Session, Kind::Int, VarValue::Int(0), false;
    "tidb_slow_log_threshold", Global, Kind::Int, VarValue::Int(300), false;
    "long_query_time", Both, Kind::Int, VarValue::Int(10), false;
    "slow_query_log", Global, Kind::Bool, VarValue::Int(1), false;
};

static ENGINE_DEF: &[&str] = ENGINES;

fn def(name: &str) -> Option<&'static Def> {
    DEFS.iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

/// Aliases MySQL keeps for compatibility.
fn canonical(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "tx_isolation" => "transaction_isolation".into(),
        "tx_read_only" => "transaction_read_only".into(),
        "tidb_isolation_read_engines" => "isolation_read_engines".into(),
        "identity" => "last_insert_id".into(),
        _ => lower,
    }
}

/// Server-wide values (`SET GLOBAL`).
#[derive(Debug, Default)]
pub struct GlobalVars {
    overrides: parking_lot::RwLock<BTreeMap<String, VarValue>>,
}

impl GlobalVars {
    pub fn get(&self, name: &str) -> Option<VarValue> {
        let name = canonical(name);
        let d = def(&name)?;
        Some(
            self.overrides
                .read()
                .get(&name)
                .cloned()
                .unwrap_or_else(d.default),
        )
    }

    pub fn set(&self, name: &str, value: VarValue) -> Result<()> {
        let name = canonical(name);
        let d = def(&name).ok_or_else(|| unknown(&name))?;
        if d.scope == Scope::Session {
            return Err(Error::new(
                code::ER_WRONG_ARGUMENTS,
                format!(
                    "Variable '{name}' is a SESSION variable and can't be used with SET GLOBAL"
                ),
            ));
        }
        let v = check(d, value)?;
        self.overrides.write().insert(name, v);
        Ok(())
    }
}

/// A session's values (copied from the globals at connect).
#[derive(Debug, Clone, Default)]
pub struct SessionVars {
    values: BTreeMap<String, VarValue>,
}

impl SessionVars {
    pub fn new(globals: &GlobalVars) -> SessionVars {
        let mut values = BTreeMap::new();
        for d in DEFS {
            if d.scope != Scope::Global {
                values.insert(
                    d.name.to_string(),
                    globals.get(d.name).unwrap_or_else(d.default),
                );
            }
        }
        SessionVars { values }
    }

    /// `@@name` / `@@session.name` (`global: false`) or `@@global.name`.
    pub fn get(&self, globals: &GlobalVars, name: &str, global: bool) -> Result<VarValue> {
        let name = canonical(name);
        let d = def(&name).ok_or_else(|| unknown(&name))?;
        if global {
            if d.scope == Scope::Session {
                return Err(Error::new(
                    code::ER_WRONG_ARGUMENTS,
                    format!("Variable '{name}' is a SESSION variable"),
                ));
            }
            return Ok(globals.get(&name).unwrap_or_else(d.default));
        }
        match self.values.get(&name) {
            Some(v) => Ok(v.clone()),
            None => Ok(globals.get(&name).unwrap_or_else(d.default)),
        }
    }

    pub fn set(&mut self, name: &str, value: VarValue) -> Result<()> {
        let name = canonical(name);
        let d = def(&name).ok_or_else(|| unknown(&name))?;
        if d.read_only {
            return Err(Error::new(
                code::ER_WRONG_ARGUMENTS,
                format!("Variable '{name}' is a read only variable"),
            ));
        }
        if d.scope == Scope::Global {
            return Err(Error::new(
                code::ER_WRONG_ARGUMENTS,
                format!("Variable '{name}' is a GLOBAL variable and should be set with SET GLOBAL"),
            ));
        }
        let v = check(d, value)?;
        if name == "isolation_read_engines" {
            let lower = v.to_text().to_ascii_lowercase().replace(' ', "");
            if !ENGINE_DEF.contains(&lower.as_str()) {
                return Err(wrong_value(&name, &v.to_text()));
            }
        }
        self.values.insert(name, v);
        Ok(())
    }

    /// The session value of a variable duet itself defines (panics on a
    /// name missing from the table: a programming error).
    pub fn value(&self, name: &str) -> VarValue {
        self.values
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("session variable {name} not defined"))
    }

    pub fn int(&self, name: &str) -> i64 {
        match self.value(name) {
            VarValue::Int(i) => i,
            v => v.to_text().parse().unwrap_or(0),
        }
    }

    pub fn text(&self, name: &str) -> String {
        self.value(name).to_text()
    }

    /// Names and values for `SHOW [GLOBAL|SESSION] VARIABLES`.
    pub fn all(&self, globals: &GlobalVars, global: bool) -> Vec<(&'static str, VarValue)> {
        DEFS.iter()
            .filter(|d| !global || d.scope != Scope::Session)
            .map(|d| {
                let v = if global || d.scope == Scope::Global {
                    globals.get(d.name).unwrap_or_else(d.default)
                } else {
                    self.values.get(d.name).cloned().unwrap_or_else(d.default)
                };
                (d.name, v)
            })
            .collect()
    }
}

fn unknown(name: &str) -> Error {
    Error::new(
        code::ER_UNKNOWN_SYSTEM_VARIABLE,
        format!("Unknown system variable '{name}'"),
    )
}

fn wrong_value(name: &str, v: &str) -> Error {
    Error::new(
        code::ER_WRONG_VALUE_FOR_VAR,
        format!("Variable '{name}' can't be set to the value of '{v}'"),
    )
}

fn check(d: &Def, v: VarValue) -> Result<VarValue> {
    match d.kind {
        Kind::Bool => match &v {
            VarValue::Int(0 | 1) => Ok(v),
            VarValue::Str(s) => match s.to_ascii_uppercase().as_str() {
                "ON" | "TRUE" | "1" => Ok(VarValue::Int(1)),
                "OFF" | "FALSE" | "0" => Ok(VarValue::Int(0)),
                _ => Err(wrong_value(d.name, s)),
            },
            other => Err(wrong_value(d.name, &other.to_text())),
        },
        Kind::Int => match &v {
            VarValue::Int(_) => Ok(v),
            VarValue::Str(s) => s.trim().parse::<i64>().map(VarValue::Int).map_err(|_| {
                Error::new(
                    code::ER_WRONG_TYPE_FOR_VAR,
                    format!("Incorrect argument type to variable '{}'", d.name),
                )
            }),
            VarValue::Null => Err(wrong_value(d.name, "NULL")),
        },
        Kind::Range(min, max) => {
            let n = check(
                &Def {
                    kind: Kind::Int,
                    ..*d
                },
                v,
            )?;
            match n {
                VarValue::Int(i) if (min..=max).contains(&i) => Ok(n),
                other => Err(wrong_value(d.name, &other.to_text())),
            }
        }
        Kind::Str => Ok(v),
        Kind::Enum(values) => {
            let t = v.to_text();
            match values.iter().find(|x| x.eq_ignore_ascii_case(&t)) {
                Some(x) => Ok(VarValue::Str(x.to_string())),
                None => Err(wrong_value(d.name, &t)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_copies_globals_and_checks_values() {
        let g = GlobalVars::default();
        let mut s = SessionVars::new(&g);
        assert_eq!(s.get(&g, "AUTOCOMMIT", false).unwrap(), VarValue::Int(1));
        s.set("autocommit", VarValue::Str("OFF".into())).unwrap();
        assert_eq!(s.int("autocommit"), 0);
        assert!(s.set("autocommit", VarValue::Str("maybe".into())).is_err());
        s.set("tx_isolation", VarValue::Str("read-committed".into()))
            .unwrap();
        assert_eq!(s.text("transaction_isolation"), "READ-COMMITTED");
        assert_eq!(
            s.get(&g, "no_such", false).unwrap_err().code(),
            code::ER_UNKNOWN_SYSTEM_VARIABLE
        );
        assert_eq!(s.get(&g, "socket", false).unwrap(), VarValue::Null);
        assert!(s.set("version", VarValue::Str("x".into())).is_err());
        g.set("wait_timeout", VarValue::Int(5)).unwrap();
        assert_eq!(SessionVars::new(&g).int("wait_timeout"), 5);
        assert_eq!(s.int("wait_timeout"), 28800);
    }
}
