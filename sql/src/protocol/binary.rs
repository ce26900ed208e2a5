//! COM_STMT_EXECUTE: decoding parameter values from the binary protocol.
//!
//! ```text
//! stmt_id u32 | flags u8 | iterations u32 (=1)
//! | NULL bitmap (num_params+7)/8 | new_params_bound u8
//! | [types: (type u8, 0x80 if unsigned) per param]   when new_params_bound
//! | values of the non-NULL params not sent by COM_STMT_SEND_LONG_DATA
//! ```
//!
//! A client sends the types only when they change; the statement keeps the
//! last ones ([`ParamTypes`]).

use std::collections::HashMap;

use codec::datum::{self, Datum};
use codec::decimal::Decimal;

use super::ColumnType;
use super::packet::{Cursor, ProtocolError};

/// Parameter types as last bound: `(type, unsigned)`.
pub type ParamTypes = Vec<(ColumnType, bool)>;

/// The statement id, read before the rest so the caller can find the
/// statement (and its parameter count).
pub fn stmt_id(body: &[u8]) -> Result<u32, ProtocolError> {
    Cursor::new(body).u32()
}

/// Decodes the parameters of COM_STMT_EXECUTE (`body` excludes the command
/// byte). `types` holds the previously bound types and is updated.
pub fn parse_params(
    body: &[u8],
    num_params: usize,
    types: &mut ParamTypes,
    long_data: &HashMap<u16, Vec<u8>>,
) -> Result<Vec<Datum>, ProtocolError> {
    let mut c = Cursor::new(body);
    c.take(4 + 1 + 4)?;
    if num_params == 0 {
        return Ok(Vec::new());
    }
    let bitmap = c.take(num_params.div_ceil(8))?;
    let bound = c.u8()?;
    if bound == 1 {
        let mut new = Vec::with_capacity(num_params);
        for _ in 0..num_params {
            let t = c.u8()?;
            let flag = c.u8()?;
            let t =
                ColumnType::from_u8(t).ok_or(ProtocolError::Malformed("unknown parameter type"))?;
            new.push((t, flag & 0x80 != 0));
        }
        *types = new;
    } else if types.len() != num_params {
        if long_data.len() == num_params {
            // Every parameter came by COM_STMT_SEND_LONG_DATA.
            *types = vec![(ColumnType::Blob, false); num_params];
        } else {
            return Err(ProtocolError::Malformed("parameter types were never sent"));
        }
    }
    let mut out = Vec::with_capacity(num_params);
    for (i, &(t, unsigned)) in types.iter().enumerate() {
        if bitmap[i / 8] & (1 << (i % 8)) != 0 {
            out.push(Datum::Null);
            continue;
        }
        if let Some(data) = long_data.get(&(i as u16)) {
            out.push(Datum::Bytes(data.clone()));
            continue;
        }
        out.push(value(&mut c, t, unsigned)?);
    }
    Ok(out)
}

fn value(c: &mut Cursor<'_>, t: ColumnType, unsigned: bool) -> Result<Datum, ProtocolError> {
    use ColumnType::*;
    Ok(match t {
        Null => Datum::Null,
        Tiny => {
            let b = c.u8()?;
            if unsigned {
                Datum::U64(b as u64)
            } else {
                Datum::I64(b as i8 as i64)
            }
        }
        Short | Year => {
            let v = c.u16()?;
            if unsigned {
                Datum::U64(v as u64)
            } else {
                Datum::I64(v as i16 as i64)
            }
        }
        Long | Int24 => {
            let v = c.u32()?;
            if unsigned {
                Datum::U64(v as u64)
            } else {
                Datum::I64(v as i32 as i64)
            }
        }
        LongLong => {
            let v = c.u64()?;
            if unsigned {
                Datum::U64(v)
            } else {
                Datum::I64(v as i64)
            }
        }
        Float => Datum::F64(f32::from_le_bytes(c.take(4)?.try_into().expect("4")) as f64),
        Double => Datum::F64(f64::from_le_bytes(c.take(8)?.try_into().expect("8"))),
        Decimal | NewDecimal => {
            let s = c.lenenc_str()?;
            let text = std::str::from_utf8(s).map_err(|_| ProtocolError::Malformed("decimal"))?;
            match text.trim().parse::<self::Decimal>() {
                Ok(d) => Datum::Decimal(d),
                Err(_) => Datum::Bytes(s.to_vec()),
            }
        }
        Date | DateTime | Timestamp => {
            let len = c.u8()?;
            let body = c.take(len as usize)?;
            let mut b = Cursor::new(body);
            if len == 0 {
                return Ok(Datum::DateTime(0));
            }
            let y = b.u16()? as i32;
            let m = b.u8()? as u32;
            let d = b.u8()? as u32;
            let days = datum::date_from_ymd(y, m, d).ok_or(ProtocolError::Malformed("date"))?;
            let (mut hh, mut mi, mut ss, mut us) = (0i64, 0i64, 0i64, 0i64);
            if len >= 7 {
                hh = b.u8()? as i64;
                mi = b.u8()? as i64;
                ss = b.u8()? as i64;
            }
            if len >= 11 {
                us = b.u32()? as i64;
            }
            if t == Date {
                Datum::Date(days)
            } else {
                Datum::DateTime(
                    days as i64 * 86_400_000_000 + ((hh * 60 + mi) * 60 + ss) * 1_000_000 + us,
                )
            }
        }
        Time => {
            let len = c.u8()?;
            let body = c.take(len as usize)?;
            if len == 0 {
                return Ok(Datum::Time(0));
            }
            let mut b = Cursor::new(body);
            let neg = b.u8()? != 0;
            let days = b.u32()? as i64;
            let hh = b.u8()? as i64;
            let mi = b.u8()? as i64;
            let ss = b.u8()? as i64;
            let us = if len >= 12 { b.u32()? as i64 } else { 0 };
            let v = (((days * 24 + hh) * 60 + mi) * 60 + ss) * 1_000_000 + us;
            Datum::Time(if neg { -v } else { v })
        }
        _ => Datum::Bytes(c.lenenc_str()?.to_vec()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_typed_params_and_remembers_types() {
        let mut body = vec![1, 0, 0, 0, 0, 1, 0, 0, 0];
        body.push(0b0000_0010); // param 1 is NULL
        body.push(1);
        body.extend_from_slice(&[0x08, 0x00, 0x06, 0x00, 0xfd, 0x00]);
        body.extend_from_slice(&(-5i64).to_le_bytes());
        body.extend_from_slice(&[3, b'a', b'b', b'c']);
        let mut types = Vec::new();
        let p = parse_params(&body, 3, &mut types, &HashMap::new()).unwrap();
        assert_eq!(
            p,
            vec![Datum::I64(-5), Datum::Null, Datum::Bytes(b"abc".to_vec())]
        );
        // Next execution without types reuses them.
        let mut body2 = vec![1, 0, 0, 0, 0, 1, 0, 0, 0, 0b10, 0];
        body2.extend_from_slice(&7i64.to_le_bytes());
        body2.extend_from_slice(&[1, b'z']);
        let p = parse_params(&body2, 3, &mut types, &HashMap::new()).unwrap();
        assert_eq!(p[0], Datum::I64(7));
        // Truncated input is an error, not a panic.
        for n in 0..body.len() {
            let mut t = Vec::new();
            let _ = parse_params(&body[..n], 3, &mut t, &HashMap::new());
        }
    }
}
