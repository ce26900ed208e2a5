//! Errors of the SQL layer, each carrying the MySQL error code and SQLSTATE
//! a client sees.
//!
//! Most failures are user-facing and final (`ER_NO_SUCH_TABLE`, a duplicate
//! key ...): they are [`Error::Sql`] with their MySQL code. Failures from
//! below keep their source (`Txn`, `DataFusion`) so callers can act on the
//! category — an autocommit statement is retried when
//! [`Error::is_retryable`] says the conflict was transient — and are given a
//! code when they reach the wire ([`Error::code`]), as TiDB does
//! (write conflict 9007, deadlock 1213, lock wait timeout 1205).

use std::fmt;

use datafusion::error::DataFusionError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// MySQL error codes used by duet (names as in MySQL's `mysqld_error.h`).
pub mod code {
    /// TiDB's "Internal : ..." (e.g. no access path for the read engines asked for).
    pub const ER_INTERNAL_ERROR: u16 = 1815;
    pub const ER_DBACCESS_DENIED: u16 = 1044;
    pub const ER_ACCESS_DENIED: u16 = 1045;
    pub const ER_NO_DB: u16 = 1046;
    pub const ER_UNKNOWN_COM: u16 = 1047;
    pub const ER_BAD_NULL: u16 = 1048;
    pub const ER_INVALID_USE_OF_NULL: u16 = 1138;
    pub const ER_NO_DEFAULT_FOR_FIELD: u16 = 1364;
    pub const ER_BAD_DB: u16 = 1049;
    pub const ER_DB_CREATE_EXISTS: u16 = 1007;
    pub const ER_DB_DROP_EXISTS: u16 = 1008;
    pub const ER_TABLE_EXISTS: u16 = 1050;
    pub const ER_BAD_TABLE: u16 = 1051;
    pub const ER_NON_UNIQ: u16 = 1052;
    pub const ER_BAD_FIELD: u16 = 1054;
    pub const ER_WRONG_FIELD_WITH_GROUP: u16 = 1055;
    pub const ER_DUP_FIELDNAME: u16 = 1060;
    pub const ER_DUP_KEYNAME: u16 = 1061;
    pub const ER_DUP_ENTRY: u16 = 1062;
    pub const ER_PARSE: u16 = 1064;
    pub const ER_EMPTY_QUERY: u16 = 1065;
    pub const ER_NONUNIQ_TABLE: u16 = 1066;
    pub const ER_INVALID_DEFAULT: u16 = 1067;
    pub const ER_MULTIPLE_PRI_KEY: u16 = 1068;
    pub const ER_TOO_LONG_KEY: u16 = 1071;
    pub const ER_KEY_COLUMN_DOES_NOT_EXIST: u16 = 1072;
    pub const ER_WRONG_AUTO_KEY: u16 = 1075;
    pub const ER_WRONG_SUB_KEY: u16 = 1089;
    pub const ER_CANT_DROP_FIELD_OR_KEY: u16 = 1091;
    pub const ER_NO_SUCH_THREAD: u16 = 1094;
    pub const ER_WRONG_VALUE_COUNT_ON_ROW: u16 = 1136;
    pub const ER_UNKNOWN_SYSTEM_VARIABLE: u16 = 1193;
    pub const ER_NO_SUCH_TABLE: u16 = 1146;
    pub const ER_NET_PACKET_TOO_LARGE: u16 = 1153;
    pub const ER_NET_PACKETS_OUT_OF_ORDER: u16 = 1156;
    pub const ER_BLOB_KEY_WITHOUT_LENGTH: u16 = 1170;
    pub const ER_PRIMARY_CANT_HAVE_NULL: u16 = 1171;
    pub const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
    pub const ER_LOCK_DEADLOCK: u16 = 1213;
    pub const ER_WRONG_VALUE_FOR_VAR: u16 = 1231;
    pub const ER_WRONG_TYPE_FOR_VAR: u16 = 1232;
    pub const ER_VAR_CANT_BE_READ: u16 = 1233;
    pub const ER_NOT_SUPPORTED_YET: u16 = 1235;
    pub const ER_UNKNOWN_STMT_HANDLER: u16 = 1243;
    pub const ER_WARN_DATA_OUT_OF_RANGE: u16 = 1264;
    pub const ER_WARN_DATA_TRUNCATED: u16 = 1265;
    pub const ER_CANNOT_USER: u16 = 1396;
    pub const ER_TRUNCATED_WRONG_VALUE: u16 = 1292;
    pub const ER_UNKNOWN_TIME_ZONE: u16 = 1298;
    pub const ER_TOO_BIG_PRECISION: u16 = 1426;
    pub const ER_DATA_TOO_LONG: u16 = 1406;
    pub const ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: u16 = 1366;
    pub const ER_DATA_OUT_OF_RANGE: u16 = 1690;
    pub const ER_DIVISION_BY_ZERO: u16 = 1365;
    pub const ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION: u16 = 1792;
    pub const ER_UNKNOWN: u16 = 1105;
    pub const ER_QUERY_INTERRUPTED: u16 = 1317;
    pub const ER_WRONG_ARGUMENTS: u16 = 1210;
    pub const ER_CANT_CHANGE_TX_CHARACTERISTICS: u16 = 1568;
    pub const ER_SPECIFIC_ACCESS_DENIED: u16 = 1227;
    pub const ER_INVALID_GROUP_FUNC_USE: u16 = 1111;
    pub const ER_OPERAND_COLUMNS: u16 = 1241;
    pub const ER_SUBQUERY_NO_1_ROW: u16 = 1242;
    pub const ER_WRONG_DB_NAME: u16 = 1102;
    pub const ER_WRONG_TABLE_NAME: u16 = 1103;
    pub const ER_TOO_BIG_DISPLAYWIDTH: u16 = 1439;
    pub const ER_TOO_BIG_FIELDLENGTH: u16 = 1074;
    pub const ER_FIELD_SPECIFIED_TWICE: u16 = 1110;
    pub const ER_TABLE_MUST_HAVE_COLUMNS: u16 = 1113;
    pub const ER_WRONG_KEY_COLUMN: u16 = 1167;
    pub const ER_LOAD_DATA_INVALID: u16 = 1148;
    pub const ER_WARN_TOO_FEW_RECORDS: u16 = 1261;
    pub const ER_WARN_TOO_MANY_RECORDS: u16 = 1262;
    pub const ER_ALTER_OPERATION_NOT_SUPPORTED_REASON: u16 = 1846;
    pub const ER_WRONG_COLUMN_NAME: u16 = 1166;
    /// TiDB: ADMIN CHECK TABLE found a row and its index entries apart.
    pub const ER_ADMIN_CHECK_TABLE: u16 = 8003;
    /// TiDB: write conflict in an optimistic transaction.
    pub const TIDB_WRITE_CONFLICT: u16 = 9007;
    /// TiDB: GC life time is shorter than the transaction duration.
    pub const TIDB_GC_TOO_EARLY: u16 = 9006;
    /// TiDB: the schema could not be loaded within a lease.
    pub const TIDB_INFO_SCHEMA_EXPIRED: u16 = 8027;
    /// TiDB: information schema is changed during the transaction.
    pub const TIDB_INFO_SCHEMA_CHANGED: u16 = 8028;
    /// TiDB: a DDL job was cancelled (`ADMIN CANCEL DDL JOBS`).
    pub const TIDB_CANCELLED_DDL_JOB: u16 = 8214;
    /// TiDB: a DDL change it does not make (`Unsupported modify column`).
    pub const TIDB_UNSUPPORTED_DDL: u16 = 8200;
    /// TiDB: `ADMIN CANCEL DDL JOBS` of a job that does not exist.
    pub const TIDB_DDL_JOB_NOT_FOUND: u16 = 8224;
    /// TiDB: `ADMIN CANCEL DDL JOBS` of a finished job.
    pub const TIDB_CANCEL_FINISHED_DDL_JOB: u16 = 8225;
    /// TiDB: `ADMIN CANCEL DDL JOBS` of a job past the point of no return.
    pub const TIDB_CANNOT_CANCEL_DDL_JOB: u16 = 8226;
}

/// The SQLSTATE MySQL pairs with a code.
pub fn sqlstate(code: u16) -> &'static str {
    use code::*;
    match code {
        ER_DBACCESS_DENIED | ER_NO_DB | ER_BAD_DB | ER_BAD_TABLE | ER_SPECIFIC_ACCESS_DENIED => {
            "42000"
        }
        ER_ACCESS_DENIED => "28000",
        ER_UNKNOWN_COM | ER_NET_PACKET_TOO_LARGE | ER_NET_PACKETS_OUT_OF_ORDER => "08S01",
        ER_NO_DEFAULT_FOR_FIELD => "HY000",
        ER_BAD_NULL | ER_DUP_ENTRY | ER_PRIMARY_CANT_HAVE_NULL => "23000",
        ER_TABLE_EXISTS => "42S01",
        ER_NON_UNIQ | ER_BAD_FIELD => "42S22",
        ER_NO_SUCH_TABLE => "42S02",
        ER_WRONG_FIELD_WITH_GROUP
        | ER_DUP_FIELDNAME
        | ER_DUP_KEYNAME
        | ER_PARSE
        | ER_EMPTY_QUERY
        | ER_NONUNIQ_TABLE
        | ER_INVALID_DEFAULT
        | ER_MULTIPLE_PRI_KEY
        | ER_TOO_LONG_KEY
        | ER_KEY_COLUMN_DOES_NOT_EXIST
        | ER_WRONG_AUTO_KEY
        | ER_CANT_DROP_FIELD_OR_KEY
        | ER_WRONG_VALUE_FOR_VAR
        | ER_WRONG_TYPE_FOR_VAR
        | ER_NOT_SUPPORTED_YET
        | ER_UNKNOWN_SYSTEM_VARIABLE
        | ER_BLOB_KEY_WITHOUT_LENGTH
        | ER_TOO_BIG_PRECISION
        | ER_WRONG_DB_NAME
        | ER_WRONG_TABLE_NAME
        | ER_WRONG_COLUMN_NAME
        | ER_TOO_BIG_DISPLAYWIDTH
        | ER_TOO_BIG_FIELDLENGTH
        | ER_TABLE_MUST_HAVE_COLUMNS
        | ER_WRONG_KEY_COLUMN
        | ER_WRONG_SUB_KEY
        | ER_INVALID_GROUP_FUNC_USE => "42000",
        ER_WRONG_VALUE_COUNT_ON_ROW => "21S01",
        ER_OPERAND_COLUMNS | ER_SUBQUERY_NO_1_ROW => "21000",
        ER_LOCK_DEADLOCK => "40001",
        ER_DATA_OUT_OF_RANGE | ER_WARN_DATA_OUT_OF_RANGE => "22003",
        ER_DATA_TOO_LONG => "22001",
        ER_WARN_DATA_TRUNCATED => "01000",
        ER_INVALID_USE_OF_NULL => "22004",
        ER_TRUNCATED_WRONG_VALUE | ER_TRUNCATED_WRONG_VALUE_FOR_FIELD => "22007",
        ER_DIVISION_BY_ZERO => "22012",
        ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION | ER_CANT_CHANGE_TX_CHARACTERISTICS => "25006",
        ER_QUERY_INTERRUPTED => "70100",
        ER_ALTER_OPERATION_NOT_SUPPORTED_REASON => "0A000",
        ER_UNKNOWN_STMT_HANDLER => "HY000",
        _ => "HY000",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A user-facing error with its MySQL code.
    #[error("{message}")]
    Sql { code: u16, message: String },
    /// From the transaction layer; mapped to a code by [`Error::code`].
    #[error("{0}")]
    Txn(#[from] txn::Error),
    /// From DataFusion's planner or executor.
    #[error("{0}")]
    DataFusion(Box<DataFusionError>),
    #[error("codec: {0}")]
    Codec(#[from] codec::Error),
    #[error("pd: {0}")]
    Pd(#[from] pd::Error),
}

impl From<DataFusionError> for Error {
    fn from(e: DataFusionError) -> Error {
        // An error of ours that travelled through DataFusion comes back out.
        match e {
            DataFusionError::External(inner) => match inner.downcast::<Error>() {
                Ok(ours) => *ours,
                Err(other) => Error::DataFusion(Box::new(DataFusionError::External(other))),
            },
            DataFusionError::Context(_, inner) => Error::from(*inner),
            // An error shared by several consumers (a join's build side):
            // ours keeps its code and message.
            DataFusionError::Shared(inner) => match inner.find_root() {
                DataFusionError::External(root) => match root.downcast_ref::<Error>() {
                    Some(ours) => Error::new(ours.code(), ours.message()),
                    None => Error::DataFusion(Box::new(DataFusionError::Shared(inner))),
                },
                _ => Error::DataFusion(Box::new(DataFusionError::Shared(inner))),
            },
            e => Error::DataFusion(Box::new(e)),
        }
    }
}

impl From<copr::Error> for Error {
    fn from(e: copr::Error) -> Error {
        Error::Txn(e.into())
    }
}

impl From<datafusion::arrow::error::ArrowError> for Error {
    fn from(e: datafusion::arrow::error::ArrowError) -> Error {
        Error::DataFusion(Box::new(DataFusionError::ArrowError(Box::new(e), None)))
    }
}

impl From<Error> for DataFusionError {
    fn from(e: Error) -> DataFusionError {
        DataFusionError::External(Box::new(e))
    }
}

impl Error {
    pub fn new(code: u16, message: impl fmt::Display) -> Error {
        Error::Sql {
            code,
            message: message.to_string(),
        }
    }

    pub fn parse(near: impl fmt::Display) -> Error {
        Error::new(
            code::ER_PARSE,
            format!(
                "You have an error in your SQL syntax; check the manual that corresponds to your duet version for the right syntax to use {near}"
            ),
        )
    }

    pub fn unsupported(what: impl fmt::Display) -> Error {
        Error::new(
            code::ER_NOT_SUPPORTED_YET,
            format!("This version of duet doesn't yet support '{what}'"),
        )
    }

    /// ER_NOT_SUPPORTED_YET naming a statement by its first three words.
    pub fn unsupported_statement(stmt: &sqlparser::ast::Statement) -> Error {
        let text = stmt.to_string();
        Error::unsupported(
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    pub fn no_such_table(db: &str, table: &str) -> Error {
        Error::new(
            code::ER_NO_SUCH_TABLE,
            format!("Table '{db}.{table}' doesn't exist"),
        )
    }

    pub fn bad_db(db: &str) -> Error {
        Error::new(code::ER_BAD_DB, format!("Unknown database '{db}'"))
    }

    pub fn no_db() -> Error {
        Error::new(code::ER_NO_DB, "No database selected")
    }

    pub fn bad_field(column: &str, clause: &str) -> Error {
        Error::new(
            code::ER_BAD_FIELD,
            format!("Unknown column '{column}' in '{clause}'"),
        )
    }

    pub fn internal(what: impl fmt::Display) -> Error {
        Error::new(code::ER_UNKNOWN, what)
    }

    /// The MySQL error code a client receives.
    pub fn code(&self) -> u16 {
        if self.overflow().is_some() {
            return code::ER_DATA_OUT_OF_RANGE;
        }
        match self {
            Error::Sql { code, .. } => *code,
            Error::Txn(e) => txn_code(e),
            Error::DataFusion(e) => datafusion_code(e),
            Error::Codec(_) | Error::Pd(_) => code::ER_UNKNOWN,
        }
    }

    pub fn sqlstate(&self) -> &'static str {
        sqlstate(self.code())
    }

    /// Checked integer arithmetic that overflowed, here or in a store
    /// (where it comes back as [`txn::Error::Overflow`]): the operation.
    fn overflow(&self) -> Option<String> {
        match self {
            Error::Txn(txn::Error::Overflow(operation)) => Some(operation.clone()),
            Error::DataFusion(e) => datafusion_overflow(e),
            _ => None,
        }
    }

    /// The message a client receives.
    pub fn message(&self) -> String {
        if let Some(operation) = self.overflow() {
            return format!("BIGINT value is out of range in '({operation})'");
        }
        match self {
            Error::Txn(txn::Error::Deadlock { .. }) => {
                "Deadlock found when trying to get lock; try restarting transaction".into()
            }
            Error::Txn(txn::Error::LockWaitTimeout { .. }) => {
                "Lock wait timeout exceeded; try restarting transaction".into()
            }
            Error::Txn(e @ txn::Error::WriteConflict { .. }) => {
                format!("Write conflict, {e} [try again later]")
            }
            Error::DataFusion(e) => datafusion_message(e),
            e => e.to_string(),
        }
    }

    /// A transient conflict: the whole transaction may be run again.
    /// A changed schema (8028) is one too: the statement is planned again
    /// against the new one.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Txn(
                txn::Error::WriteConflict { .. }
                    | txn::Error::Retryable(_)
                    | txn::Error::TxnLockNotFound { .. }
                    | txn::Error::PessimisticLockRolledBack { .. }
            ) | Error::Sql {
                code: code::TIDB_INFO_SCHEMA_CHANGED,
                ..
            }
        )
    }
}

/// The operation of an overflow raised in DataFusion (Arrow's checked
/// arithmetic), or of one of ours that travelled through it.
fn datafusion_overflow(e: &DataFusionError) -> Option<String> {
    if let Some(operation) = copr::overflow_of(e) {
        return Some(operation);
    }
    let DataFusionError::External(inner) = e.find_root() else {
        return None;
    };
    if let Some(ours) = inner.downcast_ref::<Error>() {
        return ours.overflow();
    }
    match inner.downcast_ref::<txn::Error>() {
        Some(txn::Error::Overflow(operation)) => Some(operation.clone()),
        _ => None,
    }
}

fn txn_code(e: &txn::Error) -> u16 {
    match e {
        txn::Error::WriteConflict { .. } => code::TIDB_WRITE_CONFLICT,
        txn::Error::Deadlock { .. } => code::ER_LOCK_DEADLOCK,
        txn::Error::LockWaitTimeout { .. } => code::ER_LOCK_WAIT_TIMEOUT,
        txn::Error::TxnTooOld { .. } => code::TIDB_GC_TOO_EARLY,
        // TiDB's ErrResultUndetermined is of no MySQL class: 1105.
        txn::Error::Undetermined(_) => code::ER_UNKNOWN,
        _ => code::ER_UNKNOWN,
    }
}

fn datafusion_code(e: &DataFusionError) -> u16 {
    match e {
        DataFusionError::SQL(..) => code::ER_PARSE,
        DataFusionError::NotImplemented(_) => code::ER_NOT_SUPPORTED_YET,
        DataFusionError::Plan(m) if m.contains("not found") && m.contains("table") => {
            code::ER_NO_SUCH_TABLE
        }
        DataFusionError::SchemaError(e, _) => match **e {
            datafusion::common::SchemaError::FieldNotFound { .. } => code::ER_BAD_FIELD,
            datafusion::common::SchemaError::AmbiguousReference { .. } => code::ER_NON_UNIQ,
            _ => code::ER_UNKNOWN,
        },
        DataFusionError::ArrowError(e, _) => match **e {
            datafusion::arrow::error::ArrowError::DivideByZero => code::ER_DIVISION_BY_ZERO,
            datafusion::arrow::error::ArrowError::ArithmeticOverflow(_) => {
                code::ER_DATA_OUT_OF_RANGE
            }
            _ => code::ER_UNKNOWN,
        },
        DataFusionError::Context(_, inner) => datafusion_code(inner),
        DataFusionError::Diagnostic(_, inner) => datafusion_code(inner),
        DataFusionError::External(inner) => match inner.downcast_ref::<Error>() {
            Some(ours) => ours.code(),
            None => code::ER_UNKNOWN,
        },
        _ => code::ER_UNKNOWN,
    }
}

fn datafusion_message(e: &DataFusionError) -> String {
    match e {
        DataFusionError::Plan(m) if m.starts_with("table '") && m.ends_with("' not found") => {
            // "table 'def.db.t' not found" -> MySQL's wording.
            let name = &m[7..m.len() - 11];
            let name = name.strip_prefix("def.").unwrap_or(name);
            format!("Table '{name}' doesn't exist")
        }
        DataFusionError::SchemaError(inner, _) => match &**inner {
            datafusion::common::SchemaError::FieldNotFound { field, .. } => {
                format!("Unknown column '{}' in 'field list'", field.name())
            }
            other => other.to_string(),
        },
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => {
            datafusion_message(inner)
        }
        e => e.strip_backtrace(),
    }
}
