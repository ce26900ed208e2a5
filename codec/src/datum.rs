//! # SQL values (datums) and the calendar arithmetic behind dates and times
//!
//! A [`Datum`] is one SQL value as the storage layer sees it: the handful of
//! physical representations every SQL type maps onto (TiDB `types.Datum`,
//! trimmed). The SQL layer decides which [`DatumKind`] a column uses —
//! `BIGINT` -> `I64`, `BIGINT UNSIGNED` -> `U64`, `DOUBLE` -> `F64`,
//! `DECIMAL` -> `Decimal`, `VARCHAR`/`BLOB` -> `Bytes` (strings are UTF-8
//! bytes; collation is the SQL layer's business) — and the key and row
//! codecs need that kind to turn bytes back into a datum.
//!
//! Temporal values are plain integers with no time zone, so they sort and
//! encode like integers:
//!
//! ```text
//! Date(i32)      days since 1970-01-01         (1970-01-02 = 1, 1969-12-31 = -1)
//! DateTime(i64)  microseconds since 1970-01-01 00:00:00
//! Time(i64)      signed microseconds, |t| <= 838:59:59.999999 (MySQL TIME)
//! ```
//!
//! Dates use the proleptic Gregorian calendar over years `0..=9999`, as
//! MySQL does. MySQL's "zero date" `0000-00-00` (and zero months or days)
//! is rejected: it is not a day and would break the integer order. The
//! day <-> civil-date conversion is Howard Hinnant's `days_from_civil`
//! algorithm (<https://howardhinnant.github.io/date_algorithms.html>); the
//! accepted literal forms follow MySQL's "Date and Time Literals" manual
//! page (TiDB `types/time.go` parses the same forms).
//!
//! Fractional seconds carry up to six digits (`fsp`, fractional seconds
//! precision). Parsers round a seventh digit half up; formatters print
//! exactly `fsp` digits, truncating (a stored value already has at most the
//! column's `fsp` digits, so truncation loses nothing).

use crate::decimal::Decimal;

/// Microseconds per second.
pub const MICROS_PER_SEC: i64 = 1_000_000;
/// Microseconds per day.
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SEC;
/// Largest MySQL `TIME` magnitude, 838:59:59.999999, in microseconds.
pub const MAX_TIME_MICROS: i64 = (838 * 3600 + 59 * 60 + 59) * MICROS_PER_SEC + 999_999;
/// Most fractional second digits a temporal value carries.
pub const MAX_FSP: u8 = 6;
/// Days since 1970-01-01 of 0000-01-01, the first valid date.
pub const MIN_DATE: i32 = -719_528;
/// Days since 1970-01-01 of 9999-12-31, the last valid date.
pub const MAX_DATE: i32 = 2_932_896;

/// One SQL value; see the module docs for what each variant holds.
/// Equality is structural, except that decimals compare by value
/// (`1.50 == 1.5`) and floats by IEEE rules (`NaN != NaN`, `-0.0 == 0.0`).
#[derive(Clone, Debug, PartialEq)]
pub enum Datum {
    /// SQL `NULL`.
    Null,
    /// Signed integers (`TINYINT` .. `BIGINT`).
    I64(i64),
    /// Unsigned integers (`... UNSIGNED`).
    U64(u64),
    /// `FLOAT` and `DOUBLE`.
    F64(f64),
    /// `DECIMAL(p, s)`.
    Decimal(Decimal),
    /// Strings (UTF-8 bytes) and binary strings.
    Bytes(Vec<u8>),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since 1970-01-01 00:00:00, no time zone.
    DateTime(i64),
    /// Signed microseconds, within ±[`MAX_TIME_MICROS`].
    Time(i64),
}

/// The physical kind of a non-null [`Datum`]; decoders need it to know how
/// to read a value's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DatumKind {
    /// [`Datum::I64`].
    I64,
    /// [`Datum::U64`].
    U64,
    /// [`Datum::F64`].
    F64,
    /// [`Datum::Decimal`].
    Decimal,
    /// [`Datum::Bytes`].
    Bytes,
    /// [`Datum::Date`].
    Date,
    /// [`Datum::DateTime`].
    DateTime,
    /// [`Datum::Time`].
    Time,
}

impl Datum {
    /// The datum's kind, `None` for `Null`.
    pub fn kind(&self) -> Option<DatumKind> {
        Some(match self {
            Datum::Null => return None,
            Datum::I64(_) => DatumKind::I64,
            Datum::U64(_) => DatumKind::U64,
            Datum::F64(_) => DatumKind::F64,
            Datum::Decimal(_) => DatumKind::Decimal,
            Datum::Bytes(_) => DatumKind::Bytes,
            Datum::Date(_) => DatumKind::Date,
            Datum::DateTime(_) => DatumKind::DateTime,
            Datum::Time(_) => DatumKind::Time,
        })
    }

    /// Whether the datum is SQL `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, Datum::Null)
    }
}

fn is_leap_year(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap_year(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (no range checks).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let (m, d) = (i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 of `y-m-d`, or `None` unless it is a real date in
/// years 0..=9999.
pub fn date_from_ymd(y: i32, m: u32, d: u32) -> Option<i32> {
    let y = i64::from(y);
    if !(0..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d) as i32)
}

/// The `(year, month, day)` of a day number (any `i32`, also out of range).
pub fn ymd_from_date(days: i32) -> (i32, u32, u32) {
    let z = i64::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m, d)
}

/// `YYYY-MM-DD` for a day number.
pub fn format_date(days: i32) -> String {
    let (y, m, d) = ymd_from_date(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Appends `.` and the first `fsp` (at most 6) digits of `micros` (< 10^6).
fn push_fraction(out: &mut String, micros: i64, fsp: u8) {
    let fsp = usize::from(fsp.min(MAX_FSP));
    if fsp > 0 {
        out.push('.');
        out.push_str(&format!("{micros:06}")[..fsp]);
    }
}

/// `YYYY-MM-DD HH:MM:SS[.f]` with `fsp` fraction digits (truncated).
pub fn format_datetime(micros: i64, fsp: u8) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let tod = micros.rem_euclid(MICROS_PER_DAY);
    // |micros| / MICROS_PER_DAY < 2^27, so the day number fits an i32.
    let mut out = format_date(days as i32);
    let secs = tod / MICROS_PER_SEC;
    out.push_str(&format!(
        " {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ));
    push_fraction(&mut out, tod % MICROS_PER_SEC, fsp);
    out
}

/// `[-]HH:MM:SS[.f]` (hours may exceed 24) with `fsp` fraction digits.
pub fn format_time(micros: i64, fsp: u8) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let secs = abs / MICROS_PER_SEC as u64;
    let mut out = format!(
        "{sign}{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    push_fraction(&mut out, (abs % MICROS_PER_SEC as u64) as i64, fsp);
    out
}

/// `s` as a number if it is `min..=max` ASCII digits.
fn digits(s: &str, min: usize, max: usize) -> Option<i64> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0, |acc, b| acc * 10 + i64::from(b - b'0')))
}

/// Microseconds of a fraction's digits (after the `.`), rounding a seventh
/// digit half up; may return exactly one second.
fn fraction_micros(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut micros = 0;
    for i in 0..6 {
        micros = micros * 10 + s.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
    }
    if s.as_bytes().get(6).is_some_and(|&b| b >= b'5') {
        micros += 1;
    }
    Some(micros)
}

/// Splits an optional `.fraction` off the end of `s`.
fn split_fraction(s: &str) -> Option<(&str, i64)> {
    match s.split_once('.') {
        Some((main, frac)) => Some((main, fraction_micros(frac)?)),
        None => Some((s, 0)),
    }
}

/// Microseconds of `h`, `m`, `s` after range-checking minutes and seconds.
fn hms_micros(h: i64, m: i64, s: i64) -> Option<i64> {
    (m < 60 && s < 60).then_some(((h * 60 + m) * 60 + s) * MICROS_PER_SEC)
}

/// A clock `H:MM:SS[.f]` with up to `hour_digits` hour digits and hours
/// up to `max_hour`. Fewer fields (`H:MM`, `H`) are accepted when `partial`
/// is set, without a fraction.
fn parse_clock(s: &str, hour_digits: usize, max_hour: i64, partial: bool) -> Option<i64> {
    let (main, frac) = split_fraction(s)?;
    let fields: Vec<&str> = main.split(':').collect();
    let n = fields.len();
    if n > 3 || (n < 3 && (!partial || s.contains('.'))) {
        return None;
    }
    let h = digits(fields[0], 1, hour_digits).filter(|&h| h <= max_hour)?;
    let field = |i: usize| fields.get(i).map_or(Some(0), |f| digits(f, 1, 2));
    Some(hms_micros(h, field(1)?, field(2)?)? + frac)
}

/// Parses a date: `YYYY-MM-DD` (month and day may have one digit) or
/// `YYYYMMDD`, into days since 1970-01-01.
pub fn parse_date(s: &str) -> Option<i32> {
    let (y, m, d) = if let Some((y, rest)) = s.split_once('-') {
        let (m, d) = rest.split_once('-')?;
        (digits(y, 4, 4)?, digits(m, 1, 2)?, digits(d, 1, 2)?)
    } else {
        digits(s, 8, 8)?;
        (
            digits(&s[..4], 4, 4)?,
            digits(&s[4..6], 2, 2)?,
            digits(&s[6..], 2, 2)?,
        )
    };
    date_from_ymd(y as i32, m as u32, d as u32)
}

/// Parses a datetime into microseconds since the epoch: `YYYY-MM-DD`,
/// `YYYY-MM-DD HH:MM:SS[.ffffff]`, `YYYY-MM-DDTHH:MM:SS[.ffffff]`,
/// `YYYYMMDDHHMMSS[.ffffff]` or `YYYYMMDD`.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let (days, tod) = if s.contains('-') {
        match s.find([' ', 'T']) {
            Some(i) => (
                parse_date(&s[..i])?,
                parse_clock(&s[i + 1..], 2, 23, false)?,
            ),
            None => (parse_date(s)?, 0),
        }
    } else {
        let (main, frac) = split_fraction(s)?;
        match main.len() {
            8 if !s.contains('.') => (parse_date(main)?, 0),
            14 => {
                digits(main, 14, 14)?; // all ASCII, so slicing is safe
                let [h, m, sec] = [8, 10, 12].map(|i| digits(&main[i..i + 2], 2, 2));
                let h = h.filter(|&h| h < 24)?;
                (parse_date(&main[..8])?, hms_micros(h, m?, sec?)? + frac)
            }
            _ => return None,
        }
    };
    // A rounded fraction may carry into the next day, but not past 9999.
    let micros = i64::from(days) * MICROS_PER_DAY + tod;
    (micros < (i64::from(MAX_DATE) + 1) * MICROS_PER_DAY).then_some(micros)
}

/// Parses a MySQL `TIME` into signed microseconds: `[-]HH:MM:SS[.f]` (up to
/// three hour digits), `[-]HH:MM`, `[-]D HH[:MM[:SS[.f]]]` (days 0..=34),
/// or the numeric `[-][H..]HHMMSS[.f]` (`1112` is 00:11:12). The magnitude
/// must not exceed 838:59:59.999999.
pub fn parse_time(s: &str) -> Option<i64> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let micros = if let Some((d, clock)) = body.split_once(' ') {
        let days = digits(d, 1, 2).filter(|&d| d <= 34)?;
        days * MICROS_PER_DAY + parse_clock(clock, 2, 23, true)?
    } else if body.contains(':') {
        parse_clock(body, 3, 838, true)?
    } else {
        let (main, frac) = split_fraction(body)?;
        let n = digits(main, 1, 7)?;
        hms_micros(n / 10_000, n / 100 % 100, n % 100)? + frac
    };
    if micros > MAX_TIME_MICROS {
        return None;
    }
    Some(if negative { -micros } else { micros })
}

/// The number a string stands for when MySQL compares or computes with it
/// as a DOUBLE: the longest numeric prefix after leading spaces
/// (`" 12.5e1abc"` is 125), or 0 when none leads. The flag says something
/// was cut off or nothing numeric was found (MySQL's "Truncated incorrect
/// DOUBLE value" warning).
pub fn parse_double_prefix(s: &[u8]) -> (f64, bool) {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let t = &s[start..];
    let digits = |from: usize| t[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut end = usize::from(matches!(t.first(), Some(b'+' | b'-')));
    let int = digits(end);
    end += int;
    let mut frac = 0;
    if t.get(end) == Some(&b'.') {
        frac = digits(end + 1);
        if int + frac > 0 {
            end += 1 + frac;
        }
    }
    if int + frac == 0 {
        return (0.0, true);
    }
    if matches!(t.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(t.get(end + 1), Some(b'+' | b'-')));
        let exp = digits(end + 1 + sign);
        if exp > 0 {
            end += 1 + sign + exp;
        }
    }
    // The prefix is ASCII digits, signs, '.' and 'e': valid UTF-8 and a
    // valid Rust float literal.
    let text = std::str::from_utf8(&t[..end]).expect("ASCII");
    let v: f64 = text.parse().unwrap_or(0.0);
    (v, end < t.len())
}

#[cfg(test)]
mod tests {
    #[test]
    fn double_prefixes_read_as_mysql_does() {
        use super::parse_double_prefix as p;
        assert_eq!(p(b"10"), (10.0, false));
        assert_eq!(p(b"  -1.5e2"), (-150.0, false));
        assert_eq!(p(b"10abc"), (10.0, true));
        assert_eq!(p(b"1e"), (1.0, true));
        assert_eq!(p(b".5x"), (0.5, true));
        assert_eq!(p(b"3."), (3.0, false));
        assert_eq!(p(b"abc"), (0.0, true));
        assert_eq!(p(b""), (0.0, true));
        assert_eq!(p(b"-"), (0.0, true));
        assert_eq!(p(b"0x1F"), (0.0, true));
        assert_eq!(p(b"1e400").0, f64::INFINITY);
    }

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(Datum::Null.kind(), None);
        assert!(Datum::Null.is_null());
        assert_eq!(Datum::I64(1).kind(), Some(DatumKind::I64));
        assert_eq!(
            Datum::Decimal(Decimal::ZERO).kind(),
            Some(DatumKind::Decimal)
        );
        assert_eq!(Datum::Bytes(vec![]).kind(), Some(DatumKind::Bytes));
        assert_eq!(Datum::Time(-1).kind(), Some(DatumKind::Time));
        assert!(!Datum::Date(0).is_null());
    }

    #[test]
    fn calendar_vectors() {
        assert_eq!(date_from_ymd(1970, 1, 1), Some(0));
        assert_eq!(date_from_ymd(1970, 1, 2), Some(1));
        assert_eq!(date_from_ymd(1969, 12, 31), Some(-1));
        assert_eq!(date_from_ymd(2000, 3, 1), Some(11_017));
        assert_eq!(date_from_ymd(0, 1, 1), Some(MIN_DATE));
        assert_eq!(date_from_ymd(9999, 12, 31), Some(MAX_DATE));
        assert_eq!(date_from_ymd(2024, 2, 29), Some(19_782));
        assert_eq!(date_from_ymd(2023, 2, 29), None);
        assert_eq!(date_from_ymd(1900, 2, 29), None);
        assert_eq!(date_from_ymd(2000, 2, 29), Some(11_016));
        assert_eq!(date_from_ymd(0, 0, 0), None);
        assert_eq!(date_from_ymd(2024, 13, 1), None);
        assert_eq!(date_from_ymd(2024, 4, 31), None);
        assert_eq!(date_from_ymd(10_000, 1, 1), None);
        assert_eq!(date_from_ymd(-1, 12, 31), None);
        assert_eq!(ymd_from_date(19_782), (2024, 2, 29));
        assert_eq!(ymd_from_date(MIN_DATE - 1), (-1, 12, 31));
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(MIN_DATE), "0000-01-01");
    }

    #[test]
    fn every_day_round_trips() {
        let mut expected = MIN_DATE;
        for y in 0..=9999 {
            for m in 1..=12 {
                for d in 1..=days_in_month(i64::from(y), m) {
                    let days = date_from_ymd(y, m, d).unwrap();
                    assert_eq!(days, expected, "{y}-{m}-{d}");
                    assert_eq!(ymd_from_date(days), (y, m, d));
                    expected += 1;
                }
            }
        }
        assert_eq!(expected, MAX_DATE + 1);
    }

    #[test]
    fn formatting() {
        let dt = parse_datetime("2024-01-02 03:04:05.123456").unwrap();
        assert_eq!(format_datetime(dt, 3), "2024-01-02 03:04:05.123");
        assert_eq!(format_datetime(dt, 0), "2024-01-02 03:04:05");
        assert_eq!(format_datetime(dt, 9), "2024-01-02 03:04:05.123456");
        assert_eq!(format_datetime(-1, 6), "1969-12-31 23:59:59.999999");
        assert_eq!(format_time(-MAX_TIME_MICROS, 0), "-838:59:59");
        assert_eq!(format_time(MAX_TIME_MICROS, 6), "838:59:59.999999");
        assert_eq!(format_time(0, 2), "00:00:00.00");
        assert_eq!(format_time(-1_500_000, 1), "-00:00:01.5");
    }

    #[test]
    fn parse_date_forms() {
        assert_eq!(parse_date("2024-02-29"), date_from_ymd(2024, 2, 29));
        assert_eq!(parse_date("2024-2-9"), date_from_ymd(2024, 2, 9));
        assert_eq!(parse_date("20240229"), date_from_ymd(2024, 2, 29));
        for bad in [
            "",
            "2023-02-29",
            "0000-00-00",
            "2024-02",
            "24-02-01",
            "2024-02-01 ",
            " 2024-02-01",
            "2024/02/01",
            "2024-02-01x",
            "202402290",
            "2024-13-01",
            "２０２４0101",
            "-2024-01-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parse_datetime_forms() {
        let base = i64::from(date_from_ymd(2024, 1, 2).unwrap()) * MICROS_PER_DAY;
        let at =
            |h: i64, m: i64, s: i64, us: i64| base + ((h * 60 + m) * 60 + s) * MICROS_PER_SEC + us;
        for (s, want) in [
            ("2024-01-02", base),
            ("20240102", base),
            ("2024-01-02 03:04:05", at(3, 4, 5, 0)),
            ("2024-01-02T03:04:05", at(3, 4, 5, 0)),
            ("2024-01-02 03:04:05.5", at(3, 4, 5, 500_000)),
            ("2024-01-02 3:4:5.000001", at(3, 4, 5, 1)),
            ("2024-01-02 23:59:59.9999995", at(24, 0, 0, 0)),
            ("20240102030405", at(3, 4, 5, 0)),
            ("20240102030405.25", at(3, 4, 5, 250_000)),
        ] {
            assert_eq!(parse_datetime(s), Some(want), "{s}");
        }
        assert_eq!(
            parse_datetime("9999-12-31 23:59:59.999999"),
            Some((i64::from(MAX_DATE) + 1) * MICROS_PER_DAY - 1)
        );
        for bad in [
            "",
            "2024-01-02 24:00:00",
            "2024-01-02 03:60:00",
            "2024-01-02 03:04",
            "2024-01-02 03:04:05.",
            "2024-01-02 03:04:05.x",
            "2024-01-02  03:04:05",
            "2024-01-02X03:04:05",
            "2024010203040",
            "20240102.5",
            "20240230030405",
            "9999-12-31 23:59:59.9999995",
            "2024-01-02 03:04:05 ",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parse_time_forms() {
        let t = |h: i64, m: i64, s: i64, us: i64| ((h * 60 + m) * 60 + s) * MICROS_PER_SEC + us;
        for (s, want) in [
            ("12:34:56", t(12, 34, 56, 0)),
            ("-12:34:56.5", -t(12, 34, 56, 500_000)),
            ("838:59:59", t(838, 59, 59, 0)),
            ("-838:59:59.999999", -MAX_TIME_MICROS),
            ("12:34", t(12, 34, 0, 0)),
            ("1 02:03:04", t(26, 3, 4, 0)),
            ("34 22:59:59", t(838, 59, 59, 0)),
            ("2 3", t(51, 0, 0, 0)),
            ("-1 02:03", -t(26, 3, 0, 0)),
            ("123456", t(12, 34, 56, 0)),
            ("1112", t(0, 11, 12, 0)),
            ("12", t(0, 0, 12, 0)),
            ("8385959.25", t(838, 59, 59, 250_000)),
            ("-000001", -t(0, 0, 1, 0)),
        ] {
            assert_eq!(parse_time(s), Some(want), "{s}");
        }
        for bad in [
            "",
            "-",
            "839:00:00",
            "838:59:59.9999995",
            "35 00:00:00",
            "1 24:00:00",
            "12:60:00",
            "12:34:56:78",
            "12:34.5",
            "126000",
            "8390000",
            "12345678",
            "--12:00:00",
            " 12:00:00",
            "12:00:00 ",
            "1:2:3.",
        ] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parse_format_round_trip() {
        let mut rng = StdRng::seed_from_u64(21);
        let max_dt = (i64::from(MAX_DATE) + 1) * MICROS_PER_DAY;
        let min_dt = i64::from(MIN_DATE) * MICROS_PER_DAY;
        for _ in 0..3000 {
            let dt = rng.random_range(min_dt..max_dt);
            assert_eq!(parse_datetime(&format_datetime(dt, 6)), Some(dt));
            let tm = rng.random_range(-MAX_TIME_MICROS..=MAX_TIME_MICROS);
            assert_eq!(parse_time(&format_time(tm, 6)), Some(tm));
            let d = rng.random_range(MIN_DATE..=MAX_DATE);
            assert_eq!(parse_date(&format_date(d)), Some(d));
        }
    }
}
