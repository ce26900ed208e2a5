//! MySQL's implicit conversions into a column's type, as `INSERT`,
//! `UPDATE` and `LOAD DATA` apply them.
//!
//! In strict mode (`STRICT_TRANS_TABLES` / `STRICT_ALL_TABLES` in
//! `sql_mode`, the default) a value that does not fit is an error:
//! out of range is 1264, a string that is not a number or date is 1366 /
//! 1292, a too-long string is 1406. Without strict mode (or with `INSERT
//! IGNORE`) the value is clipped or zeroed and a warning with the same code
//! is recorded instead, as MySQL does.

use codec::datum::{self, Datum};
use codec::decimal::Decimal;

use crate::catalog::model::{FieldType, SqlType};
use crate::error::{Error, Result, code};

/// Where a conversion happens, for error messages and warnings.
pub struct Target<'a> {
    pub column: &'a str,
    pub row: usize,
    pub strict: bool,
}

/// A non-fatal conversion problem (recorded as a warning when not strict).
pub struct Problem {
    pub code: u16,
    pub message: String,
}

/// Converts `v` to `ft`. `Err` in strict mode; otherwise the adjusted
/// value and, if something was lost, the warning to record.
pub fn convert(v: Datum, ft: &FieldType, t: &Target<'_>) -> Result<(Datum, Option<Problem>)> {
    match convert_inner(v, ft, t) {
        Ok(d) => Ok((d, None)),
        Err((fallback, problem)) => {
            if t.strict {
                Err(Error::new(problem.code, problem.message))
            } else {
                Ok((fallback, Some(problem)))
            }
        }
    }
}

type Conv = std::result::Result<Datum, (Datum, Problem)>;

fn out_of_range(t: &Target<'_>, fallback: Datum) -> Conv {
    Err((
        fallback,
        Problem {
            code: code::ER_WARN_DATA_OUT_OF_RANGE,
            message: format!(
                "Out of range value for column '{}' at row {}",
                t.column, t.row
            ),
        },
    ))
}

fn incorrect(t: &Target<'_>, kind: &str, v: &str, fallback: Datum) -> Conv {
    let code = if matches!(kind, "integer" | "decimal" | "double" | "float") {
        code::ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
    } else {
        code::ER_TRUNCATED_WRONG_VALUE
    };
    Err((
        fallback,
        Problem {
            code,
            message: format!(
                "Incorrect {kind} value: '{v}' for column '{}' at row {}",
                t.column, t.row
            ),
        },
    ))
}

fn text(d: &Datum) -> String {
    match d {
        Datum::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Datum::I64(i) => i.to_string(),
        Datum::U64(u) => u.to_string(),
        Datum::F64(f) => crate::protocol::resultset::format_float(*f, 17),
        Datum::Decimal(d) => d.to_string(),
        Datum::Date(d) => datum::format_date(*d),
        Datum::DateTime(t) => datum::format_datetime(*t, 6),
        Datum::Time(t) => datum::format_time(*t, 6),
        Datum::Null => "NULL".into(),
    }
}

/// A number parsed from the start of a string, as MySQL reads "12abc"
/// (12, truncated) — `None` when nothing numeric leads.
fn parse_number_prefix(s: &str) -> (Option<Decimal>, bool) {
    let t = s.trim();
    if let Ok(d) = t.parse::<Decimal>() {
        return (Some(d), false);
    }
    // Longest numeric prefix.
    let mut end = 0;
    for i in (1..=t.len()).rev() {
        if t.is_char_boundary(i) && t[..i].parse::<Decimal>().is_ok() {
            end = i;
            break;
        }
    }
    if end == 0 {
        (None, true)
    } else {
        (t[..end].parse().ok(), true)
    }
}

fn convert_inner(v: Datum, ft: &FieldType, t: &Target<'_>) -> Conv {
    if v == Datum::Null {
        return Ok(Datum::Null);
    }
    use SqlType::*;
    match ft.tp {
        TinyInt | SmallInt | MediumInt | Int | BigInt => to_int(v, ft, t),
        Year => to_year(v, t),
        Decimal => to_decimal(v, ft, t),
        Float | Double => to_double(v, ft, t),
        Char | VarChar | TinyText | Text | MediumText | LongText => to_string(v, ft, t),
        Binary | VarBinary | TinyBlob | Blob | MediumBlob | LongBlob => to_binary(v, ft, t),
        Date => to_date(v, t),
        DateTime | Timestamp => to_datetime(v, ft, t),
        Time => to_time(v, ft, t),
    }
}

fn clamp_int(x: i128, ft: &FieldType, t: &Target<'_>) -> Conv {
    let (lo, hi) = ft.int_range();
    let make = |x: i128| {
        if ft.unsigned {
            Datum::U64(x as u64)
        } else {
            Datum::I64(x as i64)
        }
    };
    if x < lo {
        out_of_range(t, make(lo))
    } else if x > hi {
        out_of_range(t, make(hi))
    } else {
        Ok(make(x))
    }
}

fn to_int(v: Datum, ft: &FieldType, t: &Target<'_>) -> Conv {
    match &v {
        Datum::I64(i) => clamp_int(*i as i128, ft, t),
        Datum::U64(u) => clamp_int(*u as i128, ft, t),
        Datum::F64(f) => {
            if f.is_nan() {
                return incorrect(t, "integer", &text(&v), Datum::I64(0));
            }
            clamp_int(f.round().clamp(-1e20, 1e20) as i128, ft, t)
        }
        Datum::Decimal(d) => match d.rescale(0) {
            Some(r) => clamp_int(r.mantissa(), ft, t),
            None => clamp_int(
                if d.mantissa() < 0 {
                    i128::MIN
                } else {
                    i128::MAX
                },
                ft,
                t,
            ),
        },
        Datum::Bytes(b) => {
            let s = String::from_utf8_lossy(b);
            match parse_number_prefix(&s) {
                (Some(d), false) => to_int(Datum::Decimal(d), ft, t),
                (Some(d), true) => {
                    let fallback = to_int(Datum::Decimal(d), ft, t).unwrap_or_else(|(f, _)| f);
                    incorrect(t, "integer", &s, fallback)
                }
                (None, _) => incorrect(
                    t,
                    "integer",
                    &s,
                    if ft.unsigned {
                        Datum::U64(0)
                    } else {
                        Datum::I64(0)
                    },
                ),
            }
        }
        Datum::Date(d) => {
            let (y, m, dd) = datum::ymd_from_date(*d);
            clamp_int((y as i128) * 10000 + (m as i128) * 100 + dd as i128, ft, t)
        }
        Datum::DateTime(us) => {
            let days = us.div_euclid(86_400_000_000);
            let secs = us.rem_euclid(86_400_000_000) / 1_000_000;
            let (y, m, dd) = datum::ymd_from_date(days as i32);
            let x = ((y as i128 * 100 + m as i128) * 100 + dd as i128) * 1_000_000
                + (secs / 3600 * 10000 + secs / 60 % 60 * 100 + secs % 60) as i128;
            clamp_int(x, ft, t)
        }
        Datum::Time(us) => {
            let s = us.abs() / 1_000_000;
            let x = (s / 3600 * 10000 + s / 60 % 60 * 100 + s % 60) as i128;
            clamp_int(if *us < 0 { -x } else { x }, ft, t)
        }
        Datum::Null => Ok(Datum::Null),
    }
}

fn to_year(v: Datum, t: &Target<'_>) -> Conv {
    let n = match &v {
        Datum::Bytes(b) => {
            let s = String::from_utf8_lossy(b).trim().to_string();
            match s.parse::<i64>() {
                // '0'..'69' -> 2000..2069, '70'..'99' -> 1970..1999; '0000'/'00' stay as written
                Ok(y) if s.len() <= 2 => {
                    if y < 70 {
                        2000 + y
                    } else {
                        1900 + y
                    }
                }
                Ok(y) => y,
                Err(_) => return incorrect(t, "year", &s, Datum::I64(0)),
            }
        }
        other => match to_int(other.clone(), &FieldType::new(SqlType::BigInt), t) {
            Ok(Datum::I64(0)) => 0,
            Ok(Datum::I64(y)) if (1..70).contains(&y) => 2000 + y,
            Ok(Datum::I64(y)) if (70..100).contains(&y) => 1900 + y,
            Ok(Datum::I64(y)) => y,
            _ => return incorrect(t, "year", &text(&v), Datum::I64(0)),
        },
    };
    if n == 0 || (1901..=2155).contains(&n) {
        Ok(Datum::I64(n))
    } else {
        out_of_range(t, Datum::I64(0))
    }
}

fn to_decimal(v: Datum, ft: &FieldType, t: &Target<'_>) -> Conv {
    let d = match &v {
        Datum::I64(i) => Decimal::from_i64(*i),
        Datum::U64(u) => Decimal::from_u64(*u),
        Datum::F64(f) => match Decimal::from_f64(*f) {
            Some(d) => d,
            None => return out_of_range(t, Datum::Decimal(max_decimal(ft, f.is_sign_negative()))),
        },
        Datum::Decimal(d) => *d,
        Datum::Bytes(b) => {
            let s = String::from_utf8_lossy(b);
            match parse_number_prefix(&s) {
                (Some(d), false) => d,
                (Some(d), true) => {
                    let fallback = to_decimal(Datum::Decimal(d), ft, t).unwrap_or_else(|(f, _)| f);
                    return incorrect(t, "decimal", &s, fallback);
                }
                (None, _) => {
                    return incorrect(t, "decimal", &s, Datum::Decimal(Decimal::new(0, ft.scale)));
                }
            }
        }
        other => match to_int(other.clone(), &FieldType::new(SqlType::BigInt), t) {
            Ok(Datum::I64(i)) => Decimal::from_i64(i),
            _ => {
                return incorrect(
                    t,
                    "decimal",
                    &text(&v),
                    Datum::Decimal(Decimal::new(0, ft.scale)),
                );
            }
        },
    };
    match d.rescale(ft.scale) {
        Some(r) if r.fits(ft.length as u8, ft.scale) => Ok(Datum::Decimal(r)),
        _ => out_of_range(t, Datum::Decimal(max_decimal(ft, d.mantissa() < 0))),
    }
}

fn max_decimal(ft: &FieldType, negative: bool) -> Decimal {
    let digits = ft.length.clamp(1, 38);
    let m = 10i128.pow(digits) - 1;
    Decimal::new(if negative { -m } else { m }, ft.scale)
}

fn to_double(v: Datum, ft: &FieldType, t: &Target<'_>) -> Conv {
    let f = match &v {
        Datum::I64(i) => *i as f64,
        Datum::U64(u) => *u as f64,
        Datum::F64(f) => *f,
        Datum::Decimal(d) => d.to_f64(),
        Datum::Bytes(b) => {
            let s = String::from_utf8_lossy(b);
            match s.trim().parse::<f64>() {
                Ok(f) if f.is_finite() => f,
                _ => match parse_number_prefix(&s) {
                    (Some(d), _) => return incorrect(t, "double", &s, Datum::F64(d.to_f64())),
                    (None, _) => return incorrect(t, "double", &s, Datum::F64(0.0)),
                },
            }
        }
        other => match to_int(other.clone(), &FieldType::new(SqlType::BigInt), t) {
            Ok(Datum::I64(i)) => i as f64,
            _ => return incorrect(t, "double", &text(&v), Datum::F64(0.0)),
        },
    };
    if ft.tp == SqlType::Float {
        let narrowed = f as f32;
        if narrowed.is_infinite() {
            return out_of_range(
                t,
                Datum::F64(if f < 0.0 {
                    f32::MIN as f64
                } else {
                    f32::MAX as f64
                }),
            );
        }
        return Ok(Datum::F64(narrowed as f64));
    }
    if ft.unsigned && f < 0.0 {
        return out_of_range(t, Datum::F64(0.0));
    }
    Ok(Datum::F64(f))
}

fn to_string(v: Datum, ft: &FieldType, t: &Target<'_>) -> Conv {
    let s = match v {
        Datum::Bytes(b) => match String::from_utf8(b) {
            Ok(s) => s,
            Err(e) => {
                let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let shown: String = e
                    .as_bytes()
                    .iter()
                    .take(8)
                    .map(|b| format!("\\x{b:02X}"))
                    .collect();
                return Err((
                    Datum::Bytes(lossy.into_bytes()),
                    Problem {
                        code: code::ER_TRUNCATED_WRONG_VALUE_FOR_FIELD,
                        message: format!(
                            "Incorrect string value: '{shown}' for column '{}' at row {}",
                            t.column, t.row
                        ),
                    },
                ));
            }
        },
        other => text(&other),
    };
    let max = ft.max_len();
    let over = if matches!(ft.tp, SqlType::Char | SqlType::VarChar) {
        s.chars().count() > max
    } else {
        s.len() > max
    };
    if over {
        let cut: String = if matches!(ft.tp, SqlType::Char | SqlType::VarChar) {
            s.chars().take(max).collect()
        } else {
            let mut end = max.min(s.len());
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s[..end].to_string()
        };
        return Err((
            Datum::Bytes(cut.into_bytes()),
            Problem {
                code: code::ER_DATA_TOO_LONG,
                message: format!("Data too long for column '{}' at row {}", t.column, t.row),
            },
        ));
    }
    // CHAR drops trailing spaces (PAD_CHAR_TO_FULL_LENGTH off).
    let s = if ft.tp == SqlType::Char {
        s.trim_end_matches(' ').to_string()
    } else {
        s
    };
    Ok(Datum::Bytes(s.into_bytes()))
}

fn to_binary(v: Datum, ft: &FieldType, t: &Target<'_>) -> Conv {
    let mut b = match v {
        Datum::Bytes(b) => b,
        other => text(&other).into_bytes(),
    };
    let max = ft.max_len();
    if b.len() > max {
        b.truncate(max);
        return Err((
            Datum::Bytes(b),
            Problem {
                code: code::ER_DATA_TOO_LONG,
                message: format!("Data too long for column '{}' at row {}", t.column, t.row),
            },
        ));
    }
    if ft.tp == SqlType::Binary {
        b.resize(max, 0);
    }
    Ok(Datum::Bytes(b))
}

fn to_date(v: Datum, t: &Target<'_>) -> Conv {
    match to_datetime(v, &FieldType::new(SqlType::DateTime), t)? {
        Datum::DateTime(us) => Ok(Datum::Date(us.div_euclid(86_400_000_000) as i32)),
        other => Ok(other),
    }
}

fn round_fsp(us: i64, fsp: u8) -> i64 {
    let unit = 10i64.pow(6 - fsp.min(6) as u32);
    let r = us.rem_euclid(unit);
    if r * 2 >= unit { us - r + unit } else { us - r }
}

fn to_datetime(v: Datum, ft: &FieldType, t: &Target<'_>) -> Conv {
    let kind = if ft.tp == SqlType::Timestamp {
        "timestamp"
    } else {
        "datetime"
    };
    let us = match &v {
        Datum::DateTime(us) => *us,
        Datum::Date(d) => *d as i64 * 86_400_000_000,
        Datum::Bytes(b) => {
            let s = String::from_utf8_lossy(b);
            match datum::parse_datetime(s.trim()) {
                Some(us) => us,
                None => return incorrect(t, kind, &s, Datum::DateTime(0)),
            }
        }
        Datum::I64(_) | Datum::U64(_) | Datum::Decimal(_) | Datum::F64(_) => {
            // 20240102 or 20240102030405
            let s = text(&v);
            let digits = s.split('.').next().unwrap_or("");
            match datum::parse_datetime(digits) {
                Some(us) => us,
                None => return incorrect(t, kind, &s, Datum::DateTime(0)),
            }
        }
        Datum::Time(_) | Datum::Null => return incorrect(t, kind, &text(&v), Datum::DateTime(0)),
    };
    Ok(Datum::DateTime(round_fsp(us, ft.scale)))
}

fn to_time(v: Datum, ft: &FieldType, t: &Target<'_>) -> Conv {
    const MAX: i64 = (838 * 3600 + 59 * 60 + 59) * 1_000_000;
    let us = match &v {
        Datum::Time(us) => *us,
        Datum::DateTime(us) => us.rem_euclid(86_400_000_000),
        Datum::Bytes(b) => {
            let s = String::from_utf8_lossy(b);
            match datum::parse_time(s.trim()) {
                Some(us) => us,
                None => return incorrect(t, "time", &s, Datum::Time(0)),
            }
        }
        Datum::I64(_) | Datum::U64(_) | Datum::Decimal(_) | Datum::F64(_) => {
            let s = text(&v);
            match datum::parse_time(&s) {
                Some(us) => us,
                None => return incorrect(t, "time", &s, Datum::Time(0)),
            }
        }
        _ => return incorrect(t, "time", &text(&v), Datum::Time(0)),
    };
    let us = round_fsp(us, ft.scale);
    if us.abs() > MAX {
        return out_of_range(t, Datum::Time(if us < 0 { -MAX } else { MAX }));
    }
    Ok(Datum::Time(us))
}

/// Whether `sql_mode` makes conversions strict.
pub fn is_strict(sql_mode: &str) -> bool {
    sql_mode.split(',').any(|m| {
        let m = m.trim();
        m.eq_ignore_ascii_case("STRICT_TRANS_TABLES") || m.eq_ignore_ascii_case("STRICT_ALL_TABLES")
    })
}
