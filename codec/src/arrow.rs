//! SQL values as Arrow columns: the one mapping from a column's value kind
//! to its Arrow type, shared by the SQL layer (results, in-memory scans)
//! and the stores' coprocessor (rows decoded into record batches).
//!
//! | value kind ([`DatumKind`])    | Arrow                        |
//! |-------------------------------|------------------------------|
//! | `I64` (signed integers, YEAR) | Int64                        |
//! | `U64` (unsigned integers)     | UInt64                       |
//! | `Decimal` (DECIMAL(p,s))      | Decimal128(p,s)              |
//! | `F64` (FLOAT, DOUBLE)         | Float64                      |
//! | `Bytes`, text types           | Utf8                         |
//! | `Bytes`, binary types         | Binary                       |
//! | `Date`                        | Date32 (days since epoch)    |
//! | `DateTime` (DATETIME, TIMESTAMP) | Timestamp(µs, no zone)    |
//! | `Time`                        | Duration(µs)                 |
//!
//! Integers are 64 bits wide because MySQL evaluates integer arithmetic in
//! 64 bits.

use std::sync::Arc;

use ::arrow::array::{
    ArrayRef, BinaryBuilder, Date32Builder, Decimal128Builder, DurationMicrosecondBuilder,
    Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder, UInt64Builder,
};
use ::arrow::datatypes::{DataType, TimeUnit};

use crate::datum::{Datum, DatumKind};

/// What decides a column's Arrow type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnKind {
    pub kind: DatumKind,
    /// DECIMAL precision (clamped to 1..=38) and scale.
    pub precision: u8,
    pub scale: u8,
    /// Bytes of a binary type (Arrow Binary rather than Utf8).
    pub binary: bool,
}

impl ColumnKind {
    pub fn arrow_type(&self) -> DataType {
        match self.kind {
            DatumKind::I64 => DataType::Int64,
            DatumKind::U64 => DataType::UInt64,
            DatumKind::F64 => DataType::Float64,
            DatumKind::Decimal => {
                DataType::Decimal128(self.precision.clamp(1, 38), self.scale.min(38) as i8)
            }
            DatumKind::Bytes if self.binary => DataType::Binary,
            DatumKind::Bytes => DataType::Utf8,
            DatumKind::Date => DataType::Date32,
            DatumKind::DateTime => DataType::Timestamp(TimeUnit::Microsecond, None),
            DatumKind::Time => DataType::Duration(TimeUnit::Microsecond),
        }
    }
}

/// `DatumKind` as the number it travels as (coprocessor requests).
pub fn kind_to_u32(k: DatumKind) -> u32 {
    match k {
        DatumKind::I64 => 0,
        DatumKind::U64 => 1,
        DatumKind::F64 => 2,
        DatumKind::Decimal => 3,
        DatumKind::Bytes => 4,
        DatumKind::Date => 5,
        DatumKind::DateTime => 6,
        DatumKind::Time => 7,
    }
}

/// The inverse of [`kind_to_u32`].
pub fn kind_from_u32(n: u32) -> Option<DatumKind> {
    Some(match n {
        0 => DatumKind::I64,
        1 => DatumKind::U64,
        2 => DatumKind::F64,
        3 => DatumKind::Decimal,
        4 => DatumKind::Bytes,
        5 => DatumKind::Date,
        6 => DatumKind::DateTime,
        7 => DatumKind::Time,
        _ => return None,
    })
}

/// A value that does not belong in the column it is put in.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub value: Datum,
    pub column: DataType,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "value {:?} does not fit an Arrow {} column",
            self.value, self.column
        )
    }
}

macro_rules! build {
    ($builder:ty, $values:expr, $dt:expr, |$d:ident| $pat:pat => $val:expr) => {{
        let mut b = <$builder>::with_capacity($values.len());
        for $d in $values {
            match $d {
                Datum::Null => b.append_null(),
                $pat => b.append_value($val),
                other => {
                    return Err(Mismatch {
                        value: other.clone(),
                        column: $dt.clone(),
                    });
                }
            }
        }
        Arc::new(b.finish()) as ArrayRef
    }};
}

/// One Arrow column of type `dt` (from [`ColumnKind::arrow_type`]) holding
/// `values`.
pub fn build_array<'a>(
    dt: &DataType,
    values: impl ExactSizeIterator<Item = &'a Datum>,
) -> Result<ArrayRef, Mismatch> {
    Ok(match dt {
        DataType::Int64 => build!(Int64Builder, values, dt, |d| Datum::I64(i) => *i),
        DataType::UInt64 => {
            let mut b = UInt64Builder::with_capacity(values.len());
            for d in values {
                match d {
                    Datum::Null => b.append_null(),
                    Datum::U64(u) => b.append_value(*u),
                    Datum::I64(i) if *i >= 0 => b.append_value(*i as u64),
                    other => {
                        return Err(Mismatch {
                            value: other.clone(),
                            column: dt.clone(),
                        });
                    }
                }
            }
            Arc::new(b.finish())
        }
        DataType::Float64 => build!(Float64Builder, values, dt, |d| Datum::F64(f) => *f),
        DataType::Decimal128(p, s) => {
            let mut b = Decimal128Builder::with_capacity(values.len());
            for d in values {
                match d {
                    Datum::Null => b.append_null(),
                    Datum::Decimal(v) => match v.rescale((*s).max(0) as u8) {
                        Some(v) => b.append_value(v.mantissa()),
                        None => {
                            return Err(Mismatch {
                                value: d.clone(),
                                column: dt.clone(),
                            });
                        }
                    },
                    other => {
                        return Err(Mismatch {
                            value: other.clone(),
                            column: dt.clone(),
                        });
                    }
                }
            }
            let array = b
                .finish()
                .with_precision_and_scale(*p, *s)
                .map_err(|_| Mismatch {
                    value: Datum::Null,
                    column: dt.clone(),
                })?;
            Arc::new(array)
        }
        DataType::Utf8 => {
            let mut b = StringBuilder::with_capacity(values.len(), values.len() * 16);
            for d in values {
                match d {
                    Datum::Null => b.append_null(),
                    Datum::Bytes(s) => match std::str::from_utf8(s) {
                        Ok(s) => b.append_value(s),
                        Err(_) => b.append_value(String::from_utf8_lossy(s)),
                    },
                    other => {
                        return Err(Mismatch {
                            value: other.clone(),
                            column: dt.clone(),
                        });
                    }
                }
            }
            Arc::new(b.finish())
        }
        DataType::Binary => {
            let mut b = BinaryBuilder::with_capacity(values.len(), values.len() * 16);
            for d in values {
                match d {
                    Datum::Null => b.append_null(),
                    Datum::Bytes(s) => b.append_value(s),
                    other => {
                        return Err(Mismatch {
                            value: other.clone(),
                            column: dt.clone(),
                        });
                    }
                }
            }
            Arc::new(b.finish())
        }
        DataType::Date32 => build!(Date32Builder, values, dt, |d| Datum::Date(v) => *v),
        DataType::Timestamp(TimeUnit::Microsecond, None) => {
            build!(TimestampMicrosecondBuilder, values, dt, |d| Datum::DateTime(v) => *v)
        }
        DataType::Duration(TimeUnit::Microsecond) => {
            build!(DurationMicrosecondBuilder, values, dt, |d| Datum::Time(v) => *v)
        }
        other => {
            return Err(Mismatch {
                value: Datum::Null,
                column: other.clone(),
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Decimal;
    use ::arrow::array::{Array, Decimal128Array, Int64Array, StringArray};

    #[test]
    fn kinds_round_trip_as_numbers() {
        for n in 0..8 {
            assert_eq!(kind_to_u32(kind_from_u32(n).unwrap()), n);
        }
        assert_eq!(kind_from_u32(8), None);
    }

    #[test]
    fn builds_columns_with_nulls() {
        let ints = [Datum::I64(1), Datum::Null, Datum::I64(-3)];
        let a = build_array(&DataType::Int64, ints.iter()).unwrap();
        let a = a.as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!((a.value(0), a.is_null(1), a.value(2)), (1, true, -3));

        let k = ColumnKind {
            kind: DatumKind::Decimal,
            precision: 10,
            scale: 2,
            binary: false,
        };
        let decs = [Datum::Decimal(Decimal::new(15, 1))];
        let a = build_array(&k.arrow_type(), decs.iter()).unwrap();
        let a = a.as_any().downcast_ref::<Decimal128Array>().unwrap();
        assert_eq!(a.value(0), 150, "1.5 at scale 2");

        let s = [Datum::Bytes("héllo".as_bytes().to_vec())];
        let a = build_array(&DataType::Utf8, s.iter()).unwrap();
        let a = a.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(a.value(0), "héllo");
    }

    #[test]
    fn refuses_a_value_of_another_kind() {
        let vals = [Datum::Bytes(b"x".to_vec())];
        let e = build_array(&DataType::Int64, vals.iter()).unwrap_err();
        assert_eq!(e.column, DataType::Int64);
    }
}
