//! CREATE TABLE: from sqlparser's definition to a [`TableInfo`].
//!
//! Rules as in MySQL/TiDB: a single integer PRIMARY KEY column becomes the
//! row handle; another primary key is clustered (its encoded values are the
//! handle); without one, rows get a hidden row id. PRIMARY KEY columns are
//! NOT NULL. At most one AUTO_INCREMENT column, which must be indexed
//! first in some key. TEXT/BLOB columns need a prefix length to be
//! indexed. Table options (ENGINE, CHARSET ...) are accepted and ignored,
//! as TiDB does.

use sqlparser::ast::{
    self, CharacterLength, ColumnOption, CreateTable, DataType, ExactNumberInfo, Expr,
    TableConstraint, Value,
};

use crate::catalog::jobs::JobType;
use crate::catalog::meta;
use crate::catalog::model::{
    ColumnInfo, DefaultValue, FieldType, HandleKind, IndexColumn, IndexInfo, SchemaState, SqlType,
    TableInfo,
};
use crate::error::{Error, Result, code};
use crate::session::{Output, Session};

pub async fn execute(session: &mut Session, ct: &CreateTable) -> Result<Output> {
    let (db, name) = session.qualified(&ct.name)?;
    crate::ddl::txn::check_name(&name, false)?;
    let schema = session.schema();
    let db_info = schema
        .db(&db)
        .ok_or_else(|| Error::bad_db(&db))?
        .info
        .clone();
    if schema.table(&db, &name).is_some() {
        if ct.if_not_exists {
            session.note(
                code::ER_TABLE_EXISTS,
                format!("Table '{name}' already exists"),
            );
            return Ok(Output::ok(0));
        }
        return Err(Error::new(
            code::ER_TABLE_EXISTS,
            format!("Table '{name}' already exists"),
        ));
    }
    if ct.query.is_some() {
        return Err(Error::unsupported("CREATE TABLE ... SELECT"));
    }
    let mut table = build(&name, db_info.id, ct)?;
    let n_indexes = table.indexes.len() as i64;
    let db_name = db_info.name.clone();
    let table_id = crate::ddl::txn::in_ddl_txn(session, JobType::CreateTable, async |txn, job| {
        if meta::list_tables(txn, Some(db_info.id))
            .await?
            .iter()
            .any(|t| t.name.eq_ignore_ascii_case(&name))
        {
            return Err(Error::new(
                code::ER_TABLE_EXISTS,
                format!("Table '{name}' already exists"),
            ));
        }
        let first = meta::alloc_ids(txn, 1 + n_indexes).await?;
        table.id = first;
        for (i, idx) in table.indexes.iter_mut().enumerate() {
            idx.id = i as i64 + 1;
        }
        meta::put_table(txn, &table).await?;
        (job.db_id, job.db_name) = (db_info.id, db_name);
        (job.table_id, job.table_name) = (first, table.name.clone());
        Ok(first)
    })
    .await?;
    split_table(session, table_id).await;
    Ok(Output::ok(0))
}

/// Gives a new table its own region (best effort: a table sharing a region
/// works, only slower to balance).
pub(crate) async fn split_table(session: &Session, table_id: i64) {
    for key in [
        codec::table::table_prefix(table_id),
        codec::table::table_prefix(table_id + 1),
    ] {
        let encoded = txn::types::Key::from_raw(&key).into_encoded();
        if let Err(e) = session.shared.raw.split_region(encoded).await {
            tracing::warn!(table_id, "splitting at the new table's prefix failed: {e}");
        }
    }
}

/// The table a `CREATE TABLE` describes: columns, keys and options in the
/// order the statement gives them (one function, as the statement reads).
pub fn build(name: &str, db_id: i64, ct: &CreateTable) -> Result<TableInfo> {
    if ct.columns.is_empty() {
        return Err(Error::new(
            code::ER_TABLE_MUST_HAVE_COLUMNS,
            "A table must have at least 1 column",
        ));
    }
    let mut columns = Vec::new();
    let mut indexes: Vec<IndexInfo> = Vec::new();
    for (i, c) in ct.columns.iter().enumerate() {
        if columns
            .iter()
            .any(|x: &ColumnInfo| x.name.eq_ignore_ascii_case(&c.name.value))
        {
            return Err(Error::new(
                code::ER_DUP_FIELDNAME,
                format!("Duplicate column name '{}'", c.name.value),
            ));
        }
        let (col, col_indexes) = column(c, i as i64 + 1)?;
        columns.push(col);
        indexes.extend(col_indexes);
    }
    for tc in &ct.constraints {
        if let Some(idx) = constraint(tc)? {
            indexes.push(idx);
        }
    }
    // PRIMARY KEY columns are NOT NULL; only one primary key.
    if indexes.iter().filter(|i| i.primary).count() > 1 {
        return Err(Error::new(
            code::ER_MULTIPLE_PRI_KEY,
            "Multiple primary key defined",
        ));
    }
    for idx in &mut indexes {
        for ic in &idx.columns {
            let Some(col) = columns
                .iter_mut()
                .find(|c| c.name.eq_ignore_ascii_case(&ic.name))
            else {
                return Err(Error::new(
                    code::ER_KEY_COLUMN_DOES_NOT_EXIST,
                    format!("Key column '{}' doesn't exist in table", ic.name),
                ));
            };
            if idx.primary {
                col.nullable = false;
            }
            if col.ft.is_blob() && ic.length.is_none() {
                return Err(Error::new(
                    code::ER_BLOB_KEY_WITHOUT_LENGTH,
                    format!(
                        "BLOB/TEXT column '{}' used in key specification without a key length",
                        col.name
                    ),
                ));
            }
        }
    }
    name_indexes(&mut indexes);
    let autos: Vec<&ColumnInfo> = columns.iter().filter(|c| c.auto_increment).collect();
    if autos.len() > 1
        || autos.iter().any(|a| {
            !indexes.iter().any(|i| {
                i.columns
                    .first()
                    .is_some_and(|c| c.name.eq_ignore_ascii_case(&a.name))
            })
        })
    {
        return Err(Error::new(
            code::ER_WRONG_AUTO_KEY,
            "Incorrect table definition; there can be only one auto column and it must be defined as a key",
        ));
    }
    let handle = match indexes.iter().find(|i| i.primary) {
        Some(pk) if pk.columns.len() == 1 && pk.columns[0].length.is_none() => {
            let pos = columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(&pk.columns[0].name))
                .expect("checked");
            if columns[pos].ft.is_integer() && columns[pos].ft.tp != SqlType::Year {
                HandleKind::IntPk(pos)
            } else {
                HandleKind::Common
            }
        }
        Some(_) => HandleKind::Common,
        None => HandleKind::RowId,
    };
    let next_column_id = columns.len() as i64 + 1;
    Ok(TableInfo {
        id: 0,
        db_id,
        name: name.to_string(),
        columns,
        indexes,
        handle,
        next_column_id,
        comment: String::new(),
        create_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
        columnar_replica: 0,
        changing: None,
        removing: None,
    })
}

/// MySQL's default index names: the first column's name, then `_2`, `_3`.
pub(crate) fn name_indexes(indexes: &mut [IndexInfo]) {
    for i in 0..indexes.len() {
        if indexes[i].primary {
            indexes[i].name = "PRIMARY".into();
            continue;
        }
        if !indexes[i].name.is_empty() {
            continue;
        }
        let base = indexes[i].columns[0].name.clone();
        let mut name = base.clone();
        let mut n = 2;
        while indexes.iter().any(|x| x.name.eq_ignore_ascii_case(&name)) {
            name = format!("{base}_{n}");
            n += 1;
        }
        indexes[i].name = name;
    }
}

pub(crate) fn column(c: &ast::ColumnDef, id: i64) -> Result<(ColumnInfo, Vec<IndexInfo>)> {
    let ft = field_type(&c.data_type)?;
    let mut col = ColumnInfo {
        id,
        name: c.name.value.clone(),
        ft,
        nullable: true,
        default: None,
        auto_increment: false,
        on_update_now: false,
        comment: String::new(),
        origin_default: None,
        no_default: false,
        not_null_pending: false,
    };
    let mut indexes = Vec::new();
    let key = |primary: bool, unique: bool| IndexInfo {
        id: 0,
        name: String::new(),
        columns: vec![IndexColumn {
            name: c.name.value.clone(),
            length: None,
        }],
        unique,
        primary,
        state: SchemaState::Public,
        comment: String::new(),
    };
    for opt in &c.options {
        match &opt.option {
            ColumnOption::Null => col.nullable = true,
            ColumnOption::NotNull => col.nullable = false,
            ColumnOption::Default(e) => col.default = Some(default_value(e, &col)?),
            ColumnOption::PrimaryKey(_) => indexes.push(key(true, true)),
            ColumnOption::Unique(_) => indexes.push(key(false, true)),
            ColumnOption::Comment(s) => col.comment = s.clone(),
            ColumnOption::OnUpdate(e) if is_now(e) => col.on_update_now = true,
            ColumnOption::DialectSpecific(tokens) => {
                let text: String = tokens
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" ");
                if text.eq_ignore_ascii_case("AUTO_INCREMENT") {
                    if !col.ft.is_integer()
                        && !matches!(col.ft.tp, SqlType::Float | SqlType::Double)
                    {
                        return Err(Error::new(
                            code::ER_WRONG_AUTO_KEY,
                            format!("Incorrect column specifier for column '{}'", col.name),
                        ));
                    }
                    col.auto_increment = true;
                }
            }
            ColumnOption::CharacterSet(_) | ColumnOption::Collation(_) => {}
            other => return Err(Error::unsupported(format!("column option {other}"))),
        }
    }
    if col.auto_increment {
        col.nullable = false;
    }
    if col.default == Some(DefaultValue::Null) && !col.nullable {
        return Err(Error::new(
            code::ER_INVALID_DEFAULT,
            format!("Invalid default value for '{}'", col.name),
        ));
    }
    Ok((col, indexes))
}

fn is_now(e: &Expr) -> bool {
    let s = e.to_string().to_ascii_uppercase();
    s.starts_with("CURRENT_TIMESTAMP") || s.starts_with("NOW(") || s.starts_with("LOCALTIMESTAMP")
}

pub(super) fn default_value(e: &Expr, col: &ColumnInfo) -> Result<DefaultValue> {
    if is_now(e) {
        if !matches!(col.ft.tp, SqlType::DateTime | SqlType::Timestamp) {
            return Err(Error::new(
                code::ER_INVALID_DEFAULT,
                format!("Invalid default value for '{}'", col.name),
            ));
        }
        return Ok(DefaultValue::CurrentTimestamp);
    }
    let text = match e {
        Expr::Value(v) => match &v.value {
            Value::Null => return Ok(DefaultValue::Null),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            Value::Number(n, _) => n.clone(),
            Value::Boolean(b) => (*b as i32).to_string(),
            Value::HexStringLiteral(h) => h.clone(),
            other => other.to_string(),
        },
        Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => format!("-{expr}"),
        Expr::Nested(inner) => return default_value(inner, col),
        other => return Err(Error::unsupported(format!("default expression {other}"))),
    };
    if col.ft.is_blob() && !text.is_empty() {
        return Err(Error::new(
            code::ER_INVALID_DEFAULT,
            format!(
                "BLOB, TEXT, GEOMETRY or JSON column '{}' can't have a default value",
                col.name
            ),
        ));
    }
    // The default must convert cleanly (strictly) to the column type.
    let target = crate::types::Target {
        column: &col.name,
        row: 0,
        strict: true,
    };
    crate::types::convert(
        codec::datum::Datum::Bytes(text.clone().into_bytes()),
        &col.ft,
        &target,
    )
    .map_err(|_| {
        Error::new(
            code::ER_INVALID_DEFAULT,
            format!("Invalid default value for '{}'", col.name),
        )
    })?;
    Ok(DefaultValue::Literal(text))
}

pub(crate) fn index_columns(cols: &[ast::IndexColumn]) -> Result<Vec<IndexColumn>> {
    cols.iter()
        .map(|c| match &c.column.expr {
            Expr::Identifier(id) => Ok(IndexColumn {
                name: id.value.clone(),
                length: None,
            }),
            // `KEY (c(10))` parses as a call.
            Expr::Function(f) => {
                let len = f.args.to_string();
                let len: u32 = len
                    .trim_matches(|ch| ch == '(' || ch == ')')
                    .trim()
                    .parse()
                    .map_err(|_| Error::parse(format!("near '{f}'")))?;
                Ok(IndexColumn {
                    name: f.name.to_string(),
                    length: Some(len),
                })
            }
            other => Err(Error::unsupported(format!("index on expression {other}"))),
        })
        .collect()
}

pub(crate) fn constraint(tc: &TableConstraint) -> Result<Option<IndexInfo>> {
    let mk = |name: Option<&ast::Ident>,
              cols: &[ast::IndexColumn],
              unique: bool,
              primary: bool|
     -> Result<IndexInfo> {
        Ok(IndexInfo {
            id: 0,
            name: name.map(|n| n.value.clone()).unwrap_or_default(),
            columns: index_columns(cols)?,
            unique,
            primary,
            state: SchemaState::Public,
            comment: String::new(),
        })
    };
    Ok(Some(match tc {
        TableConstraint::PrimaryKey(pk) => mk(None, &pk.columns, true, true)?,
        TableConstraint::Unique(u) => mk(
            u.index_name.as_ref().or(u.name.as_ref()),
            &u.columns,
            true,
            false,
        )?,
        TableConstraint::Index(i) => mk(i.name.as_ref(), &i.columns, false, false)?,
        // Foreign keys and checks are accepted and not enforced (TiDB
        // before 6.6 did the same).
        TableConstraint::ForeignKey(_) | TableConstraint::Check(_) => return Ok(None),
        other => return Err(Error::unsupported(format!("constraint {other}"))),
    }))
}

fn char_len(l: &Option<CharacterLength>, default: u32) -> u32 {
    match l {
        Some(CharacterLength::IntegerLength { length, .. }) => *length as u32,
        Some(CharacterLength::Max) => 65_535,
        None => default,
    }
}

fn decimal(info: &ExactNumberInfo, unsigned: bool) -> Result<FieldType> {
    let (p, s) = match info {
        ExactNumberInfo::None => (10, 0),
        ExactNumberInfo::Precision(p) => (*p as u32, 0),
        ExactNumberInfo::PrecisionAndScale(p, s) => (*p as u32, (*s).max(0) as u32),
    };
    if p > 38 {
        return Err(Error::new(
            code::ER_TOO_BIG_PRECISION,
            format!("Too-big precision {p} specified. Maximum is 38 in duet (65 in MySQL)."),
        ));
    }
    if s > 30 || s > p {
        return Err(Error::new(
            code::ER_TOO_BIG_PRECISION,
            format!("Too big scale {s} specified. Maximum is 30."),
        ));
    }
    Ok(FieldType {
        tp: SqlType::Decimal,
        unsigned,
        length: p.max(1),
        scale: s as u8,
    })
}

fn fsp(p: &Option<u64>) -> Result<u8> {
    match p {
        None => Ok(0),
        Some(n) if *n <= 6 => Ok(*n as u8),
        Some(n) => Err(Error::new(
            code::ER_TOO_BIG_PRECISION,
            format!("Too-big precision {n} specified. Maximum is 6."),
        )),
    }
}

/// The column type for a SQL data type: one match arm per type
/// sqlparser knows (a table, kept whole so every type reads in one place).
pub fn field_type(dt: &DataType) -> Result<FieldType> {
    use SqlType as T;
    let int = |tp: T, unsigned: bool, width: &Option<u64>| FieldType {
        tp,
        unsigned,
        length: width.map(|w| w as u32).unwrap_or(0),
        scale: 0,
    };
    Ok(match dt {
        DataType::TinyInt(w) => int(T::TinyInt, false, w),
        DataType::TinyIntUnsigned(w) => int(T::TinyInt, true, w),
        DataType::Bool | DataType::Boolean => FieldType {
            tp: T::TinyInt,
            unsigned: false,
            length: 1,
            scale: 0,
        },
        DataType::SmallInt(w) => int(T::SmallInt, false, w),
        DataType::SmallIntUnsigned(w) => int(T::SmallInt, true, w),
        DataType::MediumInt(w) => int(T::MediumInt, false, w),
        DataType::MediumIntUnsigned(w) => int(T::MediumInt, true, w),
        DataType::Int(w) | DataType::Integer(w) => int(T::Int, false, w),
        DataType::IntUnsigned(w) | DataType::IntegerUnsigned(w) => int(T::Int, true, w),
        DataType::BigInt(w) => int(T::BigInt, false, w),
        DataType::BigIntUnsigned(w) => int(T::BigInt, true, w),
        DataType::Decimal(i) | DataType::Numeric(i) | DataType::Dec(i) => decimal(i, false)?,
        DataType::DecimalUnsigned(i) | DataType::DecUnsigned(i) => decimal(i, true)?,
        DataType::Float(ExactNumberInfo::Precision(p)) if *p > 24 => FieldType::new(T::Double),
        DataType::Float(_) => FieldType::new(T::Float),
        DataType::FloatUnsigned(_) => FieldType {
            unsigned: true,
            ..FieldType::new(T::Float)
        },
        DataType::Double(_) | DataType::DoublePrecision | DataType::Real => {
            FieldType::new(T::Double)
        }
        DataType::DoubleUnsigned(_)
        | DataType::DoublePrecisionUnsigned
        | DataType::RealUnsigned => FieldType {
            unsigned: true,
            ..FieldType::new(T::Double)
        },
        DataType::Char(l) | DataType::Character(l) => {
            let n = char_len(l, 1);
            if n > 255 {
                return Err(Error::new(
                    code::ER_TOO_BIG_FIELDLENGTH,
                    "Column length too big for CHAR (max = 255); use BLOB or TEXT instead",
                ));
            }
            FieldType {
                tp: T::Char,
                unsigned: false,
                length: n,
                scale: 0,
            }
        }
        DataType::Varchar(l)
        | DataType::CharVarying(l)
        | DataType::CharacterVarying(l)
        | DataType::Nvarchar(l) => {
            let Some(_) = l else {
                return Err(Error::parse("near 'varchar' (VARCHAR needs a length)"));
            };
            let n = char_len(l, 0);
            if n > 16_383 {
                return Err(Error::new(
                    code::ER_TOO_BIG_FIELDLENGTH,
                    "Column length too big (max = 16383); use BLOB or TEXT instead",
                ));
            }
            FieldType {
                tp: T::VarChar,
                unsigned: false,
                length: n,
                scale: 0,
            }
        }
        DataType::TinyText => FieldType::new(T::TinyText),
        DataType::Text => FieldType::new(T::Text),
        DataType::MediumText => FieldType::new(T::MediumText),
        DataType::LongText => FieldType::new(T::LongText),
        DataType::Binary(l) => FieldType {
            tp: T::Binary,
            unsigned: false,
            length: l.unwrap_or(1) as u32,
            scale: 0,
        },
        DataType::Varbinary(l) => {
            let n = match l {
                Some(ast::BinaryLength::IntegerLength { length }) => *length as u32,
                Some(ast::BinaryLength::Max) => 65_535,
                None => return Err(Error::parse("near 'varbinary' (VARBINARY needs a length)")),
            };
            FieldType {
                tp: T::VarBinary,
                unsigned: false,
                length: n,
                scale: 0,
            }
        }
        DataType::TinyBlob => FieldType::new(T::TinyBlob),
        DataType::Blob(_) => FieldType::new(T::Blob),
        DataType::MediumBlob => FieldType::new(T::MediumBlob),
        DataType::LongBlob => FieldType::new(T::LongBlob),
        DataType::Date => FieldType::new(T::Date),
        DataType::Datetime(p) => FieldType {
            scale: fsp(p)?,
            ..FieldType::new(T::DateTime)
        },
        DataType::Timestamp(p, _) => FieldType {
            scale: fsp(p)?,
            ..FieldType::new(T::Timestamp)
        },
        DataType::Time(p, _) => FieldType {
            scale: fsp(p)?,
            ..FieldType::new(T::Time)
        },
        DataType::Custom(name, _) if name.to_string().eq_ignore_ascii_case("year") => {
            FieldType::new(T::Year)
        }
        other => return Err(Error::unsupported(format!("column type {other}"))),
    })
}
