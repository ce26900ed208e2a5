//! Between duet's values and Arrow: table schemas as Arrow schemas, rows of
//! datums as record batches, and query results (Arrow) as wire rows with
//! MySQL column definitions.
//!
//! | SQL type                      | Arrow                        |
//! |-------------------------------|------------------------------|
//! | signed integers, YEAR         | Int64                        |
//! | unsigned integers             | UInt64                       |
//! | DECIMAL(p,s)                  | Decimal128(p,s)              |
//! | FLOAT, DOUBLE                 | Float64                      |
//! | CHAR/VARCHAR/TEXT             | Utf8                         |
//! | BINARY/VARBINARY/BLOB         | Binary                       |
//! | DATE                          | Date32                       |
//! | DATETIME, TIMESTAMP           | Timestamp(µs, no zone)       |
//! | TIME                          | Duration(µs)                 |
//!
//! Integers are widened to 64 bits because MySQL evaluates integer
//! arithmetic in 64 bits. The exact column type travels in the field's
//! metadata (`duet.*` keys), so a plain column in a result keeps its MySQL
//! type, flags and origin table in the column definition.

use std::collections::HashMap;
use std::sync::Arc;

use codec::datum::{Datum, DatumKind};
use codec::decimal::Decimal;
use datafusion::arrow::array::*;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;

use crate::catalog::model::{FieldType, SqlType, TableInfo};
use crate::error::{Error, Result};
use crate::protocol::resultset::ColumnDef;
use crate::protocol::{ColumnType, charset, flags};

const META_DB: &str = "duet.db";
const META_TABLE: &str = "duet.table";
const META_COLUMN: &str = "duet.column";
const META_TYPE: &str = "duet.type";
const META_FLAGS: &str = "duet.flags";

pub fn arrow_type(ft: &FieldType) -> DataType {
    match ft.datum_kind() {
        DatumKind::I64 => DataType::Int64,
        DatumKind::U64 => DataType::UInt64,
        DatumKind::F64 => DataType::Float64,
        DatumKind::Decimal => DataType::Decimal128(ft.length.clamp(1, 38) as u8, ft.scale as i8),
        DatumKind::Bytes if ft.is_binary() => DataType::Binary,
        DatumKind::Bytes => DataType::Utf8,
        DatumKind::Date => DataType::Date32,
        DatumKind::DateTime => DataType::Timestamp(TimeUnit::Microsecond, None),
        DatumKind::Time => DataType::Duration(TimeUnit::Microsecond),
    }
}

/// The Arrow schema of a table's public columns (lower-case names).
pub fn table_schema(db: &str, t: &TableInfo) -> SchemaRef {
    let fields: Vec<Field> = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut meta = HashMap::new();
            meta.insert(META_DB.to_string(), db.to_string());
            meta.insert(META_TABLE.to_string(), t.name.clone());
            meta.insert(META_COLUMN.to_string(), c.name.clone());
            meta.insert(
                META_TYPE.to_string(),
                serde_json::to_string(&c.ft).expect("field type serialises"),
            );
            meta.insert(META_FLAGS.to_string(), t.column_flags(i).to_string());
            Field::new(c.name.to_lowercase(), arrow_type(&c.ft), c.nullable).with_metadata(meta)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The column definition of a table column (COM_FIELD_LIST, SELECT of a
/// plain column).
pub fn table_column_def(db: &str, t: &TableInfo, i: usize, alias: Option<&str>) -> ColumnDef {
    let c = &t.columns[i];
    column_def_for(
        db,
        &t.name,
        &c.name,
        alias.unwrap_or(&c.name),
        &c.ft,
        t.column_flags(i),
    )
}

fn column_def_for(
    db: &str,
    table: &str,
    org_name: &str,
    name: &str,
    ft: &FieldType,
    flags: u16,
) -> ColumnDef {
    let (column_type, _) = ft.column_type();
    let binary = !ft.is_string();
    ColumnDef {
        schema: db.to_string(),
        table: table.to_string(),
        org_table: table.to_string(),
        name: name.to_string(),
        org_name: org_name.to_string(),
        charset: if binary {
            charset::BINARY
        } else {
            charset::UTF8MB4_BIN
        },
        length: ft.display_length(),
        column_type,
        flags,
        decimals: match ft.tp {
            SqlType::Decimal | SqlType::DateTime | SqlType::Timestamp | SqlType::Time => ft.scale,
            SqlType::Float | SqlType::Double => 31,
            _ => 0,
        },
    }
}

/// The column definition of a result field: from its metadata when it is
/// a table column, else from its Arrow type.
pub fn field_column_def(field: &Field, name: &str) -> ColumnDef {
    let m = field.metadata();
    if let (Some(db), Some(table), Some(col), Some(ty), Some(fl)) = (
        m.get(META_DB),
        m.get(META_TABLE),
        m.get(META_COLUMN),
        m.get(META_TYPE),
        m.get(META_FLAGS),
    ) && let Ok(ft) = serde_json::from_str::<FieldType>(ty)
    {
        let mut flags: u16 = fl.parse().unwrap_or(0);
        if field.is_nullable() {
            flags &= !flags::NOT_NULL;
        }
        let def = column_def_for(db, table, col, name, &ft, flags);
        if arrow_type(&ft) == *field.data_type() {
            return def;
        }
    }
    let mut def = ColumnDef::expr(name, wire_type(field.data_type()));
    match field.data_type() {
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
            def.decimals = (*s).max(0) as u8;
            def.length = *p as u32 + 2;
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            def.flags |= flags::UNSIGNED
        }
        DataType::Timestamp(TimeUnit::Second, _) => def.decimals = 0,
        DataType::Date32 | DataType::Date64 => def.decimals = 0,
        _ => {}
    }
    if !field.is_nullable() {
        def.flags |= flags::NOT_NULL;
    }
    def
}

fn wire_type(t: &DataType) -> ColumnType {
    match t {
        DataType::Null => ColumnType::Null,
        DataType::Boolean
        | DataType::Int8
        | DataType::UInt8
        | DataType::Int16
        | DataType::UInt16 => ColumnType::LongLong,
        DataType::Int32 | DataType::UInt32 | DataType::Int64 | DataType::UInt64 => {
            ColumnType::LongLong
        }
        DataType::Float16 | DataType::Float32 => ColumnType::Float,
        DataType::Float64 => ColumnType::Double,
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => ColumnType::NewDecimal,
        DataType::Date32 | DataType::Date64 => ColumnType::Date,
        DataType::Timestamp(..) => ColumnType::DateTime,
        DataType::Time32(_) | DataType::Time64(_) | DataType::Duration(_) => ColumnType::Time,
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => ColumnType::Blob,
        _ => ColumnType::VarString,
    }
}

/// Builds one Arrow column from datums of a column type: one arm per Arrow
/// type, kept together as the table of SQL type -> Arrow array.
pub fn build_array(ft: &FieldType, values: &[Datum]) -> Result<ArrayRef> {
    let bad =
        |d: &Datum| Error::internal(format!("value {d:?} does not fit column type {}", ft.sql()));
    Ok(match arrow_type(ft) {
        DataType::Int64 => {
            let mut b = Int64Builder::with_capacity(values.len());
            for v in values {
                match v {
                    Datum::Null => b.append_null(),
                    Datum::I64(i) => b.append_value(*i),
                    d => return Err(bad(d)),
                }
            }
            Arc::new(b.finish())
        }
        DataType::UInt64 => {
            let mut b = UInt64Builder::with_capacity(values.len());
            for v in values {
                match v {
                    Datum::Null => b.append_null(),
                    Datum::U64(u) => b.append_value(*u),
                    Datum::I64(i) if *i >= 0 => b.append_value(*i as u64),
                    d => return Err(bad(d)),
                }
            }
            Arc::new(b.finish())
        }
        DataType::Float64 => {
            let mut b = Float64Builder::with_capacity(values.len());
            for v in values {
                match v {
                    Datum::Null => b.append_null(),
                    Datum::F64(f) => b.append_value(*f),
                    d => return Err(bad(d)),
                }
            }
            Arc::new(b.finish())
        }
        DataType::Decimal128(p, s) => {
            let mut b = Decimal128Builder::with_capacity(values.len());
            for v in values {
                match v {
                    Datum::Null => b.append_null(),
                    Datum::Decimal(d) => {
                        let d = d.rescale(s as u8).ok_or_else(|| bad(v))?;
                        b.append_value(d.mantissa())
                    }
                    d => return Err(bad(d)),
                }
            }
            Arc::new(b.finish().with_precision_and_scale(p, s)?)
        }
        DataType::Utf8 => {
            let mut b = StringBuilder::with_capacity(values.len(), values.len() * 16);
            for v in values {
                match v {
                    Datum::Null => b.append_null(),
                    Datum::Bytes(s) => b.append_value(String::from_utf8_lossy(s)),
                    d => return Err(bad(d)),
                }
            }
            Arc::new(b.finish())
        }
        DataType::Binary => {
            let mut b = BinaryBuilder::with_capacity(values.len(), values.len() * 16);
            for v in values {
                match v {
                    Datum::Null => b.append_null(),
                    Datum::Bytes(s) => b.append_value(s),
                    d => return Err(bad(d)),
                }
            }
            Arc::new(b.finish())
        }
        DataType::Date32 => {
            let mut b = Date32Builder::with_capacity(values.len());
            for v in values {
                match v {
                    Datum::Null => b.append_null(),
                    Datum::Date(d) => b.append_value(*d),
                    d => return Err(bad(d)),
                }
            }
            Arc::new(b.finish())
        }
        DataType::Timestamp(..) => {
            let mut b = TimestampMicrosecondBuilder::with_capacity(values.len());
            for v in values {
                match v {
                    Datum::Null => b.append_null(),
                    Datum::DateTime(t) => b.append_value(*t),
                    d => return Err(bad(d)),
                }
            }
            Arc::new(b.finish())
        }
        DataType::Duration(_) => {
            let mut b = DurationMicrosecondBuilder::with_capacity(values.len());
            for v in values {
                match v {
                    Datum::Null => b.append_null(),
                    Datum::Time(t) => b.append_value(*t),
                    d => return Err(bad(d)),
                }
            }
            Arc::new(b.finish())
        }
        other => return Err(Error::internal(format!("no builder for {other}"))),
    })
}

/// A record batch from rows (each row in the schema's column order).
pub fn rows_to_batch(
    schema: SchemaRef,
    types: &[&FieldType],
    rows: Vec<Vec<Datum>>,
) -> Result<RecordBatch> {
    let n = types.len();
    let mut columns: Vec<Vec<Datum>> = (0..n).map(|_| Vec::with_capacity(rows.len())).collect();
    let num_rows = rows.len();
    for row in rows {
        for (i, v) in row.into_iter().enumerate() {
            columns[i].push(v);
        }
    }
    let arrays = types
        .iter()
        .zip(&columns)
        .map(|(ft, vals)| build_array(ft, vals))
        .collect::<Result<Vec<_>>>()?;
    let options =
        datafusion::arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(num_rows));
    Ok(RecordBatch::try_new_with_options(schema, arrays, &options)?)
}

/// The value at `row` of an Arrow column, as a datum.
pub fn array_value(array: &dyn Array, row: usize) -> Result<Datum> {
    if array.is_null(row) {
        return Ok(Datum::Null);
    }
    macro_rules! prim {
        ($t:ty) => {
            array
                .as_any()
                .downcast_ref::<$t>()
                .expect("array type matches its data type")
                .value(row)
        };
    }
    Ok(match array.data_type() {
        DataType::Null => Datum::Null,
        DataType::Boolean => Datum::I64(prim!(BooleanArray) as i64),
        DataType::Int8 => Datum::I64(prim!(Int8Array) as i64),
        DataType::Int16 => Datum::I64(prim!(Int16Array) as i64),
        DataType::Int32 => Datum::I64(prim!(Int32Array) as i64),
        DataType::Int64 => Datum::I64(prim!(Int64Array)),
        DataType::UInt8 => Datum::U64(prim!(UInt8Array) as u64),
        DataType::UInt16 => Datum::U64(prim!(UInt16Array) as u64),
        DataType::UInt32 => Datum::U64(prim!(UInt32Array) as u64),
        DataType::UInt64 => Datum::U64(prim!(UInt64Array)),
        DataType::Float32 => Datum::F64(prim!(Float32Array) as f64),
        DataType::Float64 => Datum::F64(prim!(Float64Array)),
        DataType::Decimal128(_, s) => Datum::Decimal(decimal_of(prim!(Decimal128Array), *s)),
        DataType::Utf8 => Datum::Bytes(prim!(StringArray).as_bytes().to_vec()),
        DataType::LargeUtf8 => Datum::Bytes(prim!(LargeStringArray).as_bytes().to_vec()),
        DataType::Utf8View => Datum::Bytes(prim!(StringViewArray).as_bytes().to_vec()),
        DataType::Binary => Datum::Bytes(prim!(BinaryArray).to_vec()),
        DataType::LargeBinary => Datum::Bytes(prim!(LargeBinaryArray).to_vec()),
        DataType::BinaryView => Datum::Bytes(prim!(BinaryViewArray).to_vec()),
        DataType::Date32 => Datum::Date(prim!(Date32Array)),
        DataType::Date64 => Datum::Date((prim!(Date64Array) / 86_400_000) as i32),
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => prim!(TimestampSecondArray) * 1_000_000,
                TimeUnit::Millisecond => prim!(TimestampMillisecondArray) * 1_000,
                TimeUnit::Microsecond => prim!(TimestampMicrosecondArray),
                TimeUnit::Nanosecond => prim!(TimestampNanosecondArray) / 1_000,
            };
            Datum::DateTime(v)
        }
        DataType::Duration(unit) => Datum::Time(match unit {
            TimeUnit::Second => prim!(DurationSecondArray) * 1_000_000,
            TimeUnit::Millisecond => prim!(DurationMillisecondArray) * 1_000,
            TimeUnit::Microsecond => prim!(DurationMicrosecondArray),
            TimeUnit::Nanosecond => prim!(DurationNanosecondArray) / 1_000,
        }),
        DataType::Time64(TimeUnit::Microsecond) => Datum::Time(prim!(Time64MicrosecondArray)),
        DataType::Time64(TimeUnit::Nanosecond) => Datum::Time(prim!(Time64NanosecondArray) / 1000),
        _ => {
            let formatter = datafusion::arrow::util::display::ArrayFormatter::try_new(
                array,
                &Default::default(),
            )?;
            Datum::Bytes(formatter.value(row).to_string().into_bytes())
        }
    })
}

/// A Decimal128 cell as a [`Decimal`]: scales above duet's 30 (DataFusion's
/// division can produce them) are rounded to 30 digits.
fn decimal_of(mantissa: i128, scale: i8) -> Decimal {
    let scale = scale.max(0) as u32;
    if let Some(d) = Decimal::try_new(mantissa, scale.min(255) as u8) {
        return d;
    }
    let drop = scale.saturating_sub(30);
    let p = 10i128.pow(drop.min(38));
    let q = mantissa / p;
    let r = mantissa % p;
    let rounded = if r.abs() * 2 >= p {
        q + mantissa.signum()
    } else {
        q
    };
    Decimal::try_new(rounded, 30).unwrap_or(Decimal::ZERO)
}

/// Record batches as rows for the wire.
pub fn batches_to_rows(batches: &[RecordBatch]) -> Result<Vec<Vec<Datum>>> {
    let mut rows = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            let row = b
                .columns()
                .iter()
                .map(|c| array_value(c.as_ref(), r))
                .collect::<Result<Vec<_>>>()?;
            rows.push(row);
        }
    }
    Ok(rows)
}

/// A datum as a number, for range estimates (dates as days, times as
/// microseconds); None for strings and NULL.
pub fn numeric(d: &Datum) -> Option<f64> {
    match d {
        Datum::I64(v) => Some(*v as f64),
        Datum::U64(v) => Some(*v as f64),
        Datum::F64(v) => Some(*v),
        Datum::Decimal(d) => d.to_string().parse().ok(),
        Datum::Date(v) => Some(*v as f64),
        Datum::DateTime(v) => Some(*v as f64),
        _ => None,
    }
}

/// A constant as a number on the scale `ANALYZE` keeps bounds in (dates
/// as days, date-times as microseconds).
pub fn numeric_literal(e: &datafusion::logical_expr::Expr) -> Option<f64> {
    let v = match e {
        datafusion::logical_expr::Expr::Literal(v, _) => v,
        datafusion::logical_expr::Expr::Cast(c) => return numeric_literal(&c.expr),
        _ => return None,
    };
    Some(match v {
        datafusion::scalar::ScalarValue::Int8(Some(v)) => *v as f64,
        datafusion::scalar::ScalarValue::Int16(Some(v)) => *v as f64,
        datafusion::scalar::ScalarValue::Int32(Some(v)) => *v as f64,
        datafusion::scalar::ScalarValue::Int64(Some(v)) => *v as f64,
        datafusion::scalar::ScalarValue::UInt8(Some(v)) => *v as f64,
        datafusion::scalar::ScalarValue::UInt16(Some(v)) => *v as f64,
        datafusion::scalar::ScalarValue::UInt32(Some(v)) => *v as f64,
        datafusion::scalar::ScalarValue::UInt64(Some(v)) => *v as f64,
        datafusion::scalar::ScalarValue::Float32(Some(v)) => *v as f64,
        datafusion::scalar::ScalarValue::Float64(Some(v)) => *v,
        datafusion::scalar::ScalarValue::Decimal128(Some(v), _, s) => {
            *v as f64 / 10f64.powi(i32::from(*s))
        }
        datafusion::scalar::ScalarValue::Date32(Some(v)) => *v as f64,
        datafusion::scalar::ScalarValue::TimestampMicrosecond(Some(v), _) => *v as f64,
        // Strings have no bounds in the statistics.
        datafusion::scalar::ScalarValue::Utf8(Some(_))
        | datafusion::scalar::ScalarValue::LargeUtf8(Some(_)) => return None,
        _ => return None,
    })
}
