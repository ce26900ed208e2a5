//! Responses: OK, ERR, EOF, column definitions, and rows in the text
//! (COM_QUERY) and binary (COM_STMT_EXECUTE) encodings.
//!
//! A result set is `column count | column definitions | [EOF] | rows |
//! EOF-or-OK`. With `CLIENT_DEPRECATE_EOF` the EOF after the definitions is
//! left out and the final one is an OK packet with header `0xFE`.
//!
//! ```text
//! text row:    per column  0xFB (NULL) | lenenc string of the value's text
//! binary row:  0x00 | NULL bitmap (offset 2) | per non-NULL column its
//!              binary form (ints little-endian by column width, doubles,
//!              length-prefixed date/time structs, lenenc strings)
//! ```

use codec::datum::{self, Datum};

use super::packet::{put_lenenc_int, put_lenenc_str};
use super::{ColumnType, charset, flags};

/// One column of a result set, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub schema: String,
    pub table: String,
    pub org_table: String,
    pub name: String,
    pub org_name: String,
    pub charset: u16,
    /// Maximum display length in bytes (MySQL's `length`).
    pub length: u32,
    pub column_type: ColumnType,
    pub flags: u16,
    pub decimals: u8,
}

impl ColumnDef {
    /// A computed column (no table) of the given type.
    pub fn expr(name: &str, column_type: ColumnType) -> ColumnDef {
        let (charset, length, flags, decimals) = match column_type {
            ColumnType::VarString | ColumnType::String | ColumnType::VarChar => {
                (charset::UTF8MB4_BIN, 1024 * 4, 0, 0x1f)
            }
            ColumnType::Blob | ColumnType::LongBlob => {
                (charset::UTF8MB4_BIN, u32::MAX, flags::BLOB, 0x1f)
            }
            ColumnType::LongLong => (charset::BINARY, 21, flags::BINARY | flags::NUM, 0),
            ColumnType::Tiny => (charset::BINARY, 4, flags::BINARY | flags::NUM, 0),
            ColumnType::Long => (charset::BINARY, 11, flags::BINARY | flags::NUM, 0),
            ColumnType::Double => (charset::BINARY, 22, flags::BINARY | flags::NUM, 31),
            ColumnType::Float => (charset::BINARY, 12, flags::BINARY | flags::NUM, 31),
            ColumnType::NewDecimal => (charset::BINARY, 67, flags::BINARY | flags::NUM, 30),
            ColumnType::Date => (charset::BINARY, 10, flags::BINARY, 0),
            ColumnType::DateTime | ColumnType::Timestamp => (charset::BINARY, 26, flags::BINARY, 6),
            ColumnType::Time => (charset::BINARY, 17, flags::BINARY, 6),
            ColumnType::Null => (charset::BINARY, 0, flags::BINARY, 0),
            _ => (charset::BINARY, 64, flags::BINARY, 0),
        };
        ColumnDef {
            schema: String::new(),
            table: String::new(),
            org_table: String::new(),
            name: name.to_string(),
            org_name: String::new(),
            charset,
            length,
            column_type,
            flags,
            decimals,
        }
    }

    /// Payload of a ColumnDefinition41 packet (`default` only for
    /// COM_FIELD_LIST).
    pub fn encode(&self, buf: &mut Vec<u8>, field_list_default: bool) {
        put_lenenc_str(buf, b"def");
        put_lenenc_str(buf, self.schema.as_bytes());
        put_lenenc_str(buf, self.table.as_bytes());
        put_lenenc_str(buf, self.org_table.as_bytes());
        put_lenenc_str(buf, self.name.as_bytes());
        put_lenenc_str(buf, self.org_name.as_bytes());
        buf.push(0x0c);
        buf.extend_from_slice(&self.charset.to_le_bytes());
        buf.extend_from_slice(&self.length.to_le_bytes());
        buf.push(self.column_type as u8);
        buf.extend_from_slice(&self.flags.to_le_bytes());
        buf.push(self.decimals);
        buf.extend_from_slice(&[0, 0]);
        if field_list_default {
            buf.push(0xFB);
        }
    }

    fn unsigned(&self) -> bool {
        self.flags & flags::UNSIGNED != 0
    }
}

/// OK packet payload (`header` 0x00, or 0xFE when it ends a result set
/// under CLIENT_DEPRECATE_EOF).
pub fn ok(
    buf: &mut Vec<u8>,
    header: u8,
    affected_rows: u64,
    last_insert_id: u64,
    status: u16,
    warnings: u16,
    info: &str,
) {
    buf.push(header);
    put_lenenc_int(buf, affected_rows);
    put_lenenc_int(buf, last_insert_id);
    buf.extend_from_slice(&status.to_le_bytes());
    buf.extend_from_slice(&warnings.to_le_bytes());
    // The protocol documents `string<EOF>` here, but MySQL's server writes
    // (and libmysqlclient / libmariadb read) a length-encoded string.
    if !info.is_empty() {
        put_lenenc_str(buf, info.as_bytes());
    }
}

/// EOF packet payload.
pub fn eof(buf: &mut Vec<u8>, status: u16, warnings: u16) {
    buf.push(0xFE);
    buf.extend_from_slice(&warnings.to_le_bytes());
    buf.extend_from_slice(&status.to_le_bytes());
}

/// ERR packet payload.
pub fn err(buf: &mut Vec<u8>, code: u16, sqlstate: &str, message: &str) {
    buf.push(0xFF);
    buf.extend_from_slice(&code.to_le_bytes());
    buf.push(b'#');
    let mut state = [b'H', b'Y', b'0', b'0', b'0'];
    for (d, s) in state.iter_mut().zip(sqlstate.bytes()) {
        *d = s;
    }
    buf.extend_from_slice(&state);
    // MySQL cuts messages at 512 bytes (MYSQL_ERRMSG_SIZE).
    let mut end = message.len().min(512);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    buf.extend_from_slice(&message.as_bytes()[..end]);
}

/// A text-protocol row.
pub fn text_row(buf: &mut Vec<u8>, columns: &[ColumnDef], row: &[Datum]) {
    let mut scratch = String::new();
    for (col, v) in columns.iter().zip(row) {
        match v {
            Datum::Null => buf.push(0xFB),
            Datum::Bytes(b) => put_lenenc_str(buf, b),
            v => {
                scratch.clear();
                format_text(&mut scratch, col, v);
                put_lenenc_str(buf, scratch.as_bytes());
            }
        }
    }
}

/// The text form of a non-NULL value in a column, as MySQL prints it.
pub fn format_text(out: &mut String, col: &ColumnDef, v: &Datum) {
    use std::fmt::Write;
    match v {
        Datum::Null => {}
        Datum::I64(i) => {
            let _ = write!(out, "{i}");
        }
        Datum::U64(u) => {
            let _ = write!(out, "{u}");
        }
        Datum::F64(f) => {
            if col.column_type == ColumnType::Float {
                out.push_str(&format_float(*f as f32 as f64, 6));
            } else {
                out.push_str(&format_float(*f, 17));
            }
        }
        Datum::Decimal(d) => {
            let _ = write!(out, "{d}");
        }
        Datum::Bytes(b) => out.push_str(&String::from_utf8_lossy(b)),
        Datum::Date(d) => out.push_str(&datum::format_date(*d)),
        Datum::DateTime(t) => out.push_str(&datum::format_datetime(*t, col.decimals.min(6))),
        Datum::Time(t) => out.push_str(&datum::format_time(*t, col.decimals.min(6))),
    }
}

/// MySQL's rendering of a floating-point number: the shortest digits that
/// read back to the same value (at most `max_digits` significant ones),
/// in scientific notation below 1e-4 and from 1e15 on.
pub fn format_float(v: f64, max_digits: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let sci = if max_digits >= 17 {
        format!("{v:e}")
    } else {
        // Round to max_digits significant digits, then drop trailing zeros.
        let s = format!("{:.*e}", max_digits - 1, v);
        let (m, e) = s.split_once('e').expect("exponent");
        let m = if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.')
        } else {
            m
        };
        format!("{m}e{e}")
    };
    let (mantissa, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    if !(-5..15).contains(&exp) {
        return format!("{mantissa}e{exp}");
    }
    let neg = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    if exp < 0 {
        s.push_str("0.");
        for _ in 0..(-exp - 1) {
            s.push('0');
        }
        s.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            s.push_str(&digits);
            for _ in digits.len()..int_len {
                s.push('0');
            }
        } else {
            s.push_str(&digits[..int_len]);
            s.push('.');
            s.push_str(&digits[int_len..]);
        }
    }
    s
}

/// A binary-protocol row.
pub fn binary_row(buf: &mut Vec<u8>, columns: &[ColumnDef], row: &[Datum]) {
    buf.push(0x00);
    let bitmap_at = buf.len();
    buf.resize(bitmap_at + (columns.len() + 7 + 2) / 8, 0);
    for (i, (col, v)) in columns.iter().zip(row).enumerate() {
        if matches!(v, Datum::Null) {
            let bit = i + 2;
            buf[bitmap_at + bit / 8] |= 1 << (bit % 8);
            continue;
        }
        binary_value(buf, col, v);
    }
}

fn binary_value(buf: &mut Vec<u8>, col: &ColumnDef, v: &Datum) {
    let as_i64 = |v: &Datum| -> i64 {
        match v {
            Datum::I64(i) => *i,
            Datum::U64(u) => *u as i64,
            Datum::F64(f) => *f as i64,
            Datum::Decimal(d) => d.to_i64_round().unwrap_or(0),
            _ => 0,
        }
    };
    match col.column_type {
        ColumnType::Tiny => buf.push(as_i64(v) as u8),
        ColumnType::Short | ColumnType::Year => {
            buf.extend_from_slice(&(as_i64(v) as u16).to_le_bytes())
        }
        ColumnType::Long | ColumnType::Int24 => {
            buf.extend_from_slice(&(as_i64(v) as u32).to_le_bytes())
        }
        ColumnType::LongLong => {
            let x = match v {
                Datum::U64(u) if col.unsigned() => *u,
                v => as_i64(v) as u64,
            };
            buf.extend_from_slice(&x.to_le_bytes())
        }
        ColumnType::Float => {
            let f = match v {
                Datum::F64(f) => *f as f32,
                v => as_i64(v) as f32,
            };
            buf.extend_from_slice(&f.to_le_bytes())
        }
        ColumnType::Double => {
            let f = match v {
                Datum::F64(f) => *f,
                Datum::Decimal(d) => d.to_f64(),
                Datum::U64(u) => *u as f64,
                v => as_i64(v) as f64,
            };
            buf.extend_from_slice(&f.to_le_bytes())
        }
        ColumnType::Date | ColumnType::DateTime | ColumnType::Timestamp => {
            let micros = match v {
                Datum::Date(d) => *d as i64 * 86_400_000_000,
                Datum::DateTime(t) => *t,
                _ => 0,
            };
            binary_datetime(buf, micros, col.column_type == ColumnType::Date)
        }
        ColumnType::Time => {
            let t = match v {
                Datum::Time(t) => *t,
                _ => 0,
            };
            binary_time(buf, t)
        }
        _ => {
            let mut s = String::new();
            match v {
                Datum::Bytes(b) => put_lenenc_str(buf, b),
                v => {
                    format_text(&mut s, col, v);
                    put_lenenc_str(buf, s.as_bytes());
                }
            }
        }
    }
}

fn binary_datetime(buf: &mut Vec<u8>, micros: i64, date_only: bool) {
    let days = micros.div_euclid(86_400_000_000);
    let in_day = micros.rem_euclid(86_400_000_000);
    let (y, m, d) = datum::ymd_from_date(days as i32);
    let secs = in_day / 1_000_000;
    let frac = (in_day % 1_000_000) as u32;
    let (hh, mm, ss) = (
        (secs / 3600) as u8,
        (secs / 60 % 60) as u8,
        (secs % 60) as u8,
    );
    let len = if date_only || (in_day == 0) {
        4
    } else if frac == 0 {
        7
    } else {
        11
    };
    buf.push(len);
    buf.extend_from_slice(&(y as u16).to_le_bytes());
    buf.push(m as u8);
    buf.push(d as u8);
    if len >= 7 {
        buf.extend_from_slice(&[hh, mm, ss]);
    }
    if len == 11 {
        buf.extend_from_slice(&frac.to_le_bytes());
    }
}

fn binary_time(buf: &mut Vec<u8>, micros: i64) {
    if micros == 0 {
        buf.push(0);
        return;
    }
    let neg = micros < 0;
    let a = micros.unsigned_abs();
    let secs = a / 1_000_000;
    let frac = (a % 1_000_000) as u32;
    let days = (secs / 86_400) as u32;
    let (hh, mm, ss) = (
        (secs / 3600 % 24) as u8,
        (secs / 60 % 60) as u8,
        (secs % 60) as u8,
    );
    buf.push(if frac == 0 { 8 } else { 12 });
    buf.push(neg as u8);
    buf.extend_from_slice(&days.to_le_bytes());
    buf.extend_from_slice(&[hh, mm, ss]);
    if frac != 0 {
        buf.extend_from_slice(&frac.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_mysql_does() {
        assert_eq!(format_float(1.5, 17), "1.5");
        assert_eq!(format_float(100.0, 17), "100");
        assert_eq!(format_float(1e20, 17), "1e20");
        assert_eq!(format_float(1e-7, 17), "1e-7");
        assert_eq!(format_float(0.1 + 0.2, 17), "0.30000000000000004");
        assert_eq!(format_float(-0.00012, 17), "-0.00012");
        assert_eq!(format_float(123456789012345.0, 17), "123456789012345");
        assert_eq!(format_float(1234567.0f32 as f64, 6), "1234570");
        assert_eq!(format_float(0.1f32 as f64, 6), "0.1");
    }

    #[test]
    fn null_bitmap_has_offset_two() {
        let cols = vec![ColumnDef::expr("a", ColumnType::LongLong); 3];
        let mut buf = Vec::new();
        binary_row(
            &mut buf,
            &cols,
            &[Datum::I64(1), Datum::Null, Datum::I64(-1)],
        );
        assert_eq!(buf[0], 0);
        assert_eq!(buf[1], 0b0000_1000);
        assert_eq!(&buf[2..10], &1i64.to_le_bytes());
        assert_eq!(&buf[10..18], &(-1i64).to_le_bytes());
    }

    #[test]
    fn err_packet_layout() {
        let mut buf = Vec::new();
        err(&mut buf, 1146, "42S02", "Table 'test.t' doesn't exist");
        assert_eq!(
            &buf[..9],
            &[0xFF, 0x7A, 0x04, b'#', b'4', b'2', b'S', b'0', b'2']
        );
    }
}
