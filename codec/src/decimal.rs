//! # Exact fixed-point decimals (SQL `DECIMAL(p, s)`)
//!
//! A [`Decimal`] is `mantissa / 10^scale` with an `i128` mantissa of at most
//! 38 significant digits ([`MAX_PRECISION`]) and a scale of at most 30
//! ([`MAX_SCALE`]), i.e. MySQL's `DECIMAL` limited to 38 digits instead of
//! 65 so that one machine word pair holds any value. The scale is part of
//! the value's *representation*, not its identity: `1.50` and `1.5` compare,
//! hash and key-encode equal, but `1.50` prints as `1.50` because a
//! `DECIMAL(3, 2)` column shows two fraction digits. The arithmetic follows
//! MySQL's rules for the result scale (see TiDB `types/mydecimal.go`):
//!
//! | operation | result scale |
//! |---|---|
//! | `a + b`, `a - b` | `max(sa, sb)` |
//! | `a * b` | `min(sa + sb, 30)`, rounded |
//! | `a / b` | `min(sa + div_precision_increment, 30)`, rounded |
//!
//! Rounding is always *half away from zero* (`2.5 -> 3`, `-2.5 -> -3`), as
//! MySQL rounds decimals. Operations return `None` when the exact result at
//! its scale needs more than 38 digits; MySQL would have 65 digits of room,
//! duet reports "out of range" instead. Intermediate products and quotients
//! use a private 512-bit integer (`wide.rs`), so no digits are lost before
//! the final rounding.
//!
//! ## Memcomparable key encoding
//!
//! TiDB's decimal key encoding stores the column's precision and scale, and
//! relies on every value of a column having the same scale. duet's keys must
//! order *values* regardless of scale (a unique index must see `1.5` and
//! `1.50` as a duplicate), so duet uses its own, scientific-notation layout.
//! The value is normalised to `±0.d1 d2 ... dn × 10^E` with `d1 != 0` and no
//! trailing zero digit (`E` is in `-29..=38`):
//!
//! ```text
//! zero:      02
//! positive:  03  E+128  pair pair ... pair  00
//! negative:  01  !(E+128) !pair ... !pair   FF      (! = bitwise NOT)
//!
//! pair = 10 * d_i + d_(i+1) + 1  (1..=100; a missing last digit counts as 0)
//!
//!  12.5   -> 03 82 0D 33 00        (0.125 × 10^2: pairs "12" "50")
//!  0.0012 -> 03 7E 0D 00           (0.12 × 10^-2)
//! -12.5   -> 01 7D F2 CC FF
//! ```
//!
//! A larger exponent means a larger magnitude because `d1 != 0`; with equal
//! exponents the digit strings compare lexicographically, and the `00`
//! terminator sorts a digit string before its own extensions (`0.12 <
//! 0.123`). Padding a final odd digit with `0` is harmless because a
//! normalised digit string never ends in a real `0`. Negative values invert
//! every byte after the sign so larger magnitudes sort first. The encoding
//! is prefix-free (self-terminating) and at most 22 bytes long.
//! [`decode_key`] returns the normalised value (scale = number of fraction
//! digits actually needed); the caller rescales it to the column's scale.

mod wide;

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use crate::error::{Error, Result, take_u8};
use wide::Wide;

/// Most significant digits a decimal can hold.
pub const MAX_PRECISION: u8 = 38;
/// Most fraction digits a decimal can hold.
pub const MAX_SCALE: u8 = 30;
/// MySQL's default `div_precision_increment`: extra scale of a quotient.
pub const DIV_PRECISION_INCREMENT: u8 = 4;

const POW10: [u128; 39] = {
    let mut t = [1u128; 39];
    let mut i = 1;
    while i < t.len() {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};
const MAX_MANTISSA: u128 = POW10[MAX_PRECISION as usize] - 1;

fn pow10(k: u8) -> u128 {
    POW10[usize::from(k)]
}

/// `n / d` rounded half away from zero.
fn div_round_u128(n: u128, d: u128) -> u128 {
    let (q, r) = (n / d, n % d);
    if r >= d - r { q + 1 } else { q }
}

/// Number of decimal digits of `v` (0 for 0).
fn digit_count(mut v: u128) -> u8 {
    let mut n = 0;
    while v > 0 {
        v /= 10;
        n += 1;
    }
    n
}

/// An exact decimal number `mantissa / 10^scale`; see the module docs.
#[derive(Clone, Copy, Debug)]
pub struct Decimal {
    mantissa: i128,
    scale: u8,
}

impl Decimal {
    /// Zero with scale 0.
    pub const ZERO: Decimal = Decimal {
        mantissa: 0,
        scale: 0,
    };

    /// `mantissa / 10^scale`. Panics if `|mantissa| >= 10^38` or `scale > 30`;
    /// use [`Decimal::try_new`] for untrusted input.
    pub const fn new(mantissa: i128, scale: u8) -> Decimal {
        match Decimal::try_new(mantissa, scale) {
            Some(d) => d,
            None => panic!("decimal mantissa or scale out of range"),
        }
    }

    /// `mantissa / 10^scale`, or `None` if it exceeds 38 digits or scale 30.
    pub const fn try_new(mantissa: i128, scale: u8) -> Option<Decimal> {
        if scale > MAX_SCALE || mantissa.unsigned_abs() > MAX_MANTISSA {
            None
        } else {
            Some(Decimal { mantissa, scale })
        }
    }

    /// Builds `±abs / 10^scale`, or `None` if `abs` has more than 38 digits.
    fn from_sign_abs(negative: bool, abs: u128, scale: u8) -> Option<Decimal> {
        if abs > MAX_MANTISSA {
            return None;
        }
        let m = abs as i128;
        Some(Decimal {
            mantissa: if negative { -m } else { m },
            scale,
        })
    }

    /// Like [`Decimal::from_sign_abs`], from a wide magnitude.
    fn from_sign_wide(negative: bool, abs: Wide, scale: u8) -> Option<Decimal> {
        Decimal::from_sign_abs(negative, abs.to_u128()?, scale)
    }

    /// The unscaled integer value.
    pub const fn mantissa(&self) -> i128 {
        self.mantissa
    }

    /// The number of fraction digits.
    pub const fn scale(&self) -> u8 {
        self.scale
    }

    /// The integer `v` with scale 0.
    pub fn from_i64(v: i64) -> Decimal {
        Decimal::new(i128::from(v), 0)
    }

    /// The integer `v` with scale 0.
    pub fn from_u64(v: u64) -> Decimal {
        Decimal::new(i128::from(v), 0)
    }

    /// The shortest decimal that reads back as `v` (`0.1` -> `0.1`, scale 1),
    /// or `None` for NaN, infinities and magnitudes of 10^38 and more. Digits
    /// beyond scale 30 are rounded off.
    pub fn from_f64(v: f64) -> Option<Decimal> {
        if !v.is_finite() {
            return None;
        }
        // `{:e}` prints the shortest round-trip digits in scientific form.
        format!("{v:e}").parse().ok()
    }

    /// The nearest `f64`.
    pub fn to_f64(&self) -> f64 {
        // Both operands exact in f64 -> one correctly rounded division.
        if self.mantissa.unsigned_abs() < 1 << 53 && self.scale <= 22 {
            return self.mantissa as f64 / 10f64.powi(i32::from(self.scale));
        }
        self.to_string()
            .parse()
            .expect("Display of a decimal is a valid float literal")
    }

    /// Whether the value is zero (at any scale).
    pub const fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// Whether the value is below zero.
    pub const fn is_negative(&self) -> bool {
        self.mantissa < 0
    }

    /// The same value with trailing fraction zeros removed (`1.50` -> `1.5`).
    pub fn normalize(self) -> Decimal {
        let mut d = self;
        while d.scale > 0 && d.mantissa % 10 == 0 {
            d.mantissa /= 10;
            d.scale -= 1;
        }
        d
    }

    /// Digits of the integer part of `|self|` (0 for values below 1).
    fn int_digits(&self) -> u8 {
        digit_count(self.mantissa.unsigned_abs() / pow10(self.scale))
    }

    /// MySQL's precision of the value: integer digits plus scale, at least 1
    /// (`123.45` -> 5, `0.5` -> 1).
    pub fn precision(&self) -> u8 {
        (self.int_digits() + self.scale).max(1)
    }

    /// Whether the value, rounded to `scale`, fits `DECIMAL(precision, scale)`.
    pub fn fits(&self, precision: u8, scale: u8) -> bool {
        if precision == 0 || precision > MAX_PRECISION || scale > precision {
            return false;
        }
        self.rescale(scale)
            .is_some_and(|d| d.int_digits() <= precision - scale)
    }

    /// The value at `scale`, rounded half away from zero if digits are
    /// dropped; `None` if `scale > 30` or the result needs more than 38 digits.
    pub fn rescale(&self, scale: u8) -> Option<Decimal> {
        if scale > MAX_SCALE {
            return None;
        }
        match scale.cmp(&self.scale) {
            Ordering::Equal => Some(*self),
            Ordering::Greater => {
                let m = self
                    .mantissa
                    .checked_mul(pow10(scale - self.scale) as i128)?;
                Decimal::try_new(m, scale)
            }
            Ordering::Less => {
                let abs = div_round_u128(self.mantissa.unsigned_abs(), pow10(self.scale - scale));
                Decimal::from_sign_abs(self.is_negative(), abs, scale)
            }
        }
    }

    /// The value rounded half away from zero to an integer, if it fits `i64`.
    pub fn to_i64_round(&self) -> Option<i64> {
        let d = self.rescale(0)?;
        i64::try_from(d.mantissa).ok()
    }

    /// Splits the value into its truncated integer part and its fraction
    /// part expressed at `scale >= self.scale`; both carry the value's sign.
    fn split_at(&self, scale: u8) -> (i128, i128) {
        let p = pow10(self.scale) as i128;
        let frac = (self.mantissa % p) * pow10(scale - self.scale) as i128;
        (self.mantissa / p, frac)
    }

    /// `self + rhs` at scale `max(sa, sb)`; `None` on overflow.
    pub fn checked_add(self, rhs: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(rhs.scale);
        let one = pow10(scale) as i128;
        let (ia, fa) = self.split_at(scale);
        let (ib, fb) = rhs.split_at(scale);
        // Integer and fraction parts are summed apart so that no
        // intermediate overflows when the (possibly cancelling) sum fits.
        let mut int = ia.checked_add(ib)?;
        let mut frac = fa + fb;
        if frac >= one {
            int = int.checked_add(1)?;
            frac -= one;
        } else if frac <= -one {
            int = int.checked_sub(1)?;
            frac += one;
        }
        if int > 0 && frac < 0 {
            int -= 1;
            frac += one;
        } else if int < 0 && frac > 0 {
            int += 1;
            frac -= one;
        }
        Decimal::try_new(int.checked_mul(one)?.checked_add(frac)?, scale)
    }

    /// `self - rhs` at scale `max(sa, sb)`; `None` on overflow.
    pub fn checked_sub(self, rhs: Decimal) -> Option<Decimal> {
        self.checked_add(-rhs)
    }

    /// `self * rhs` at scale `min(sa + sb, 30)`, rounded; `None` on overflow.
    pub fn checked_mul(self, rhs: Decimal) -> Option<Decimal> {
        let scale = self.scale + rhs.scale;
        let result_scale = scale.min(MAX_SCALE);
        let mut abs = Wide::mul_u128(self.mantissa.unsigned_abs(), rhs.mantissa.unsigned_abs());
        if scale > result_scale {
            abs = abs.div_round(pow10(scale - result_scale));
        }
        let negative = self.is_negative() != rhs.is_negative();
        Decimal::from_sign_wide(negative, abs, result_scale)
    }

    /// `self / rhs` at scale `min(sa + extra_scale, 30)`, rounded half away
    /// from zero (MySQL passes `div_precision_increment`, by default
    /// [`DIV_PRECISION_INCREMENT`]); `None` on division by zero or overflow.
    pub fn checked_div(self, rhs: Decimal, extra_scale: u8) -> Option<Decimal> {
        if rhs.is_zero() {
            return None;
        }
        let result_scale = self.scale.saturating_add(extra_scale).min(MAX_SCALE);
        // q = (ma / 10^sa) / (mb / 10^sb) * 10^rs = ma * 10^(sb + rs - sa) / mb
        let shift = rhs.scale + result_scale - self.scale;
        let mut n = Wide::from_u128(self.mantissa.unsigned_abs());
        n.mul_pow10(u32::from(shift));
        let abs = n.div_round(rhs.mantissa.unsigned_abs());
        let negative = self.is_negative() != rhs.is_negative();
        Decimal::from_sign_wide(negative, abs, result_scale)
    }

    /// The decimal for a normalised digit string: `digits` (values 0..=9, no
    /// leading zero) shifted so that the last `scale` of them are fraction
    /// digits (a negative `scale` appends zeros). Fraction digits beyond 30,
    /// or beyond what 38 significant digits leave room for, are rounded off.
    fn from_digits(negative: bool, digits: &[u8], scale: i64) -> Result<Decimal> {
        let n = digits.len() as i64;
        let fold = |ds: &[u8]| ds.iter().fold(0u128, |acc, &d| acc * 10 + u128::from(d));
        if n == 0 {
            return Ok(Decimal::new(0, scale.clamp(0, i64::from(MAX_SCALE)) as u8));
        }
        let max_digits = i64::from(MAX_PRECISION);
        if scale <= 0 {
            if n - scale > max_digits {
                return Err(Error::DecimalOverflow);
            }
            let abs = fold(digits) * pow10((-scale) as u8);
            return Decimal::from_sign_abs(negative, abs, 0).ok_or(Error::DecimalOverflow);
        }
        let int_digits = (n - scale).max(0);
        if int_digits > max_digits {
            return Err(Error::DecimalOverflow);
        }
        let target = scale.min(i64::from(MAX_SCALE)).min(max_digits - int_digits);
        let keep = n - (scale - target);
        let mut abs = if keep > 0 {
            fold(&digits[..keep as usize])
        } else {
            0
        };
        if (0..n).contains(&keep) && digits[keep as usize] >= 5 {
            abs += 1;
        }
        Decimal::from_sign_abs(negative, abs, target as u8).ok_or(Error::DecimalOverflow)
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Decimal {}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let (sa, sb) = (self.mantissa.signum(), other.mantissa.signum());
        if sa != sb || sa == 0 {
            return sa.cmp(&sb);
        }
        // Same sign: (truncated integer part, fraction at a common scale)
        // orders lexicographically, and neither part can overflow.
        let scale = self.scale.max(other.scale);
        self.split_at(scale).cmp(&other.split_at(scale))
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for Decimal {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Equal values must hash equally whatever their scale.
        let n = self.normalize();
        n.mantissa.hash(state);
        n.scale.hash(state);
    }
}

impl std::ops::Neg for Decimal {
    type Output = Decimal;

    fn neg(self) -> Decimal {
        // |mantissa| < 10^38, so negation never overflows.
        Decimal {
            mantissa: -self.mantissa,
            scale: self.scale,
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let abs = self.mantissa.unsigned_abs();
        let p = pow10(self.scale);
        let sign = if self.is_negative() { "-" } else { "" };
        let s = if self.scale == 0 {
            format!("{sign}{abs}")
        } else {
            let width = usize::from(self.scale);
            format!("{sign}{}.{:0width$}", abs / p, abs % p)
        };
        f.pad(&s)
    }
}

impl FromStr for Decimal {
    type Err = Error;

    /// Parses a MySQL decimal literal: `[+-]digits[.digits][e[+-]digits]`
    /// with digits on at least one side of the point (`-12.340`, `1e3`,
    /// `.5`, `+3.`). No surrounding spaces. The scale is the number of
    /// fraction digits minus the exponent (at least 0, rounded down to 30).
    fn from_str(s: &str) -> Result<Decimal> {
        let invalid = || Error::InvalidDecimal(s.to_owned());
        let b = s.as_bytes();
        let digits_from = |mut i: usize| {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            (&b[start..i], i)
        };
        let (negative, i) = match b.first() {
            Some(b'-') => (true, 1),
            Some(b'+') => (false, 1),
            _ => (false, 0),
        };
        let (int_part, mut i) = digits_from(i);
        let mut frac_part: &[u8] = &[];
        if b.get(i) == Some(&b'.') {
            (frac_part, i) = digits_from(i + 1);
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let mut exp: i64 = 0;
        if matches!(b.get(i), Some(b'e' | b'E')) {
            let (exp_negative, start) = match b.get(i + 1) {
                Some(b'-') => (true, i + 2),
                Some(b'+') => (false, i + 2),
                _ => (false, i + 1),
            };
            let (exp_digits, end) = digits_from(start);
            i = end;
            if exp_digits.is_empty() {
                return Err(invalid());
            }
            // Saturate: anything this large over- or underflows anyway.
            for &d in exp_digits {
                exp = (exp * 10 + i64::from(d - b'0')).min(1_000_000_000);
            }
            if exp_negative {
                exp = -exp;
            }
        }
        if i != b.len() {
            return Err(invalid());
        }
        let digits: Vec<u8> = int_part
            .iter()
            .chain(frac_part)
            .map(|c| c - b'0')
            .skip_while(|&d| d == 0)
            .collect();
        Decimal::from_digits(negative, &digits, frac_part.len() as i64 - exp)
    }
}

const KEY_NEGATIVE: u8 = 0x01;
const KEY_ZERO: u8 = 0x02;
const KEY_POSITIVE: u8 = 0x03;
const KEY_EXP_BIAS: i64 = 128;
const KEY_TERMINATOR: u8 = 0x00;

/// Appends the memcomparable key encoding of `d` (see the module docs).
pub fn encode_key(buf: &mut Vec<u8>, d: &Decimal) {
    if d.is_zero() {
        buf.push(KEY_ZERO);
        return;
    }
    let all = d.mantissa.unsigned_abs().to_string();
    let exp = all.len() as i64 - i64::from(d.scale);
    let digits = all.trim_end_matches('0').as_bytes();
    let (sign, flip) = if d.is_negative() {
        (KEY_NEGATIVE, 0xFF)
    } else {
        (KEY_POSITIVE, 0x00)
    };
    buf.push(sign);
    buf.push((exp + KEY_EXP_BIAS) as u8 ^ flip);
    for pair in digits.chunks(2) {
        let hi = pair[0] - b'0';
        let lo = pair.get(1).map_or(0, |c| c - b'0');
        buf.push((hi * 10 + lo + 1) ^ flip);
    }
    buf.push(KEY_TERMINATOR ^ flip);
}

/// Decodes a value written by [`encode_key`], in normalised form (no
/// trailing fraction zeros), advancing `data` past it.
pub fn decode_key(data: &mut &[u8]) -> Result<Decimal> {
    let flip = match take_u8(data)? {
        KEY_ZERO => return Ok(Decimal::ZERO),
        KEY_NEGATIVE => 0xFF,
        KEY_POSITIVE => 0x00,
        _ => return Err(Error::BadDecimal),
    };
    let exp = i64::from(take_u8(data)? ^ flip) - KEY_EXP_BIAS;
    let mut digits = Vec::with_capacity(usize::from(MAX_PRECISION));
    loop {
        let pair = take_u8(data)? ^ flip;
        if pair == KEY_TERMINATOR {
            break;
        }
        if pair > 100 || digits.len() >= usize::from(MAX_PRECISION) {
            return Err(Error::BadDecimal);
        }
        digits.push((pair - 1) / 10);
        digits.push((pair - 1) % 10);
    }
    if digits.last() == Some(&0) {
        digits.pop(); // padding of an odd digit count
    }
    // Canonical form: non-empty, no leading or trailing zero digit.
    if digits.first().is_none_or(|&d| d == 0) || digits.last() == Some(&0) {
        return Err(Error::BadDecimal);
    }
    let scale = digits.len() as i64 - exp;
    if scale > i64::from(MAX_SCALE) || exp.max(0) + scale.max(0) > i64::from(MAX_PRECISION) {
        return Err(Error::BadDecimal);
    }
    Decimal::from_digits(flip != 0, &digits, scale).map_err(|_| Error::BadDecimal)
}

#[cfg(test)]
mod tests {
    use std::collections::hash_map::DefaultHasher;

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn key(v: &Decimal) -> Vec<u8> {
        let mut b = vec![];
        encode_key(&mut b, v);
        b
    }

    fn hash(v: &Decimal) -> u64 {
        let mut h = DefaultHasher::new();
        v.hash(&mut h);
        h.finish()
    }

    /// Random decimals biased towards small mantissas, edges and equal
    /// values at different scales.
    fn sample(rng: &mut StdRng) -> Decimal {
        let scale = rng.random_range(0..=MAX_SCALE);
        let m: i128 = match rng.random_range(0..5) {
            0 => rng.random_range(-1000..1000),
            1 => rng.random_range(-(MAX_MANTISSA as i128)..=MAX_MANTISSA as i128),
            2 => {
                let sign = if rng.random() { 1 } else { -1 };
                sign * (pow10(rng.random_range(0..=MAX_PRECISION)) as i128 - rng.random_range(0..2))
            }
            3 => rng.random_range(-5..5) * pow10(rng.random_range(0..30)) as i128,
            _ => rng.random::<i64>().into(),
        };
        Decimal::try_new(m, scale).unwrap_or(Decimal::new(m.signum(), scale))
    }

    #[test]
    fn parse_and_display() {
        for (input, shown, m, s) in [
            ("-12.340", "-12.340", -12340, 3),
            ("1e3", "1000", 1000, 0),
            (".5", "0.5", 5, 1),
            ("+3.", "3", 3, 0),
            ("0", "0", 0, 0),
            ("-0.00", "0.00", 0, 2),
            ("1.5e1", "15", 15, 0),
            ("1.25E-2", "0.0125", 125, 4),
            ("000123.4500", "123.4500", 1234500, 4),
            ("0e999999999999999", "0", 0, 0),
            (
                "99999999999999999999999999999999999999",
                "99999999999999999999999999999999999999",
                MAX_MANTISSA as i128,
                0,
            ),
            // Fraction digits beyond 30 are rounded off.
            (
                "0.1234567890123456789012345678905",
                "0.123456789012345678901234567891",
                123456789012345678901234567891,
                30,
            ),
            // ... as are those beyond what 38 digits leave room for.
            (
                "12345678901234567890.123456789012345678",
                "12345678901234567890.123456789012345678",
                12345678901234567890123456789012345678,
                18,
            ),
            (
                "12345678901234567890.1234567890123456785",
                "12345678901234567890.123456789012345679",
                12345678901234567890123456789012345679,
                18,
            ),
            ("1e-40", "0.000000000000000000000000000000", 0, 30),
            ("-5e-31", "-0.000000000000000000000000000001", -1, 30),
        ] {
            let v = d(input);
            assert_eq!((v.mantissa(), v.scale()), (m, s), "{input}");
            assert_eq!(v.to_string(), shown, "{input}");
            assert_eq!(d(shown).mantissa(), m);
        }
        assert_eq!(format!("{:>6}", d("1.5")), "   1.5");
    }

    #[test]
    fn parse_rejects_garbage_and_overflow() {
        for bad in [
            "", " 1", "1 ", ".", "+", "-", "e3", "1e", "1e+", "1..2", "1.2.3", "abc", "--1",
            "0x10", "1_000", "1,5", "١", "+.e1", "1e3.5",
        ] {
            assert_eq!(
                bad.parse::<Decimal>(),
                Err(Error::InvalidDecimal(bad.to_owned())),
                "{bad:?}"
            );
        }
        for big in [
            "100000000000000000000000000000000000000",
            "99999999999999999999999999999999999999.5",
            "1e38",
            "1e999999999999",
        ] {
            assert_eq!(big.parse::<Decimal>(), Err(Error::DecimalOverflow), "{big}");
        }
    }

    #[test]
    fn equality_order_and_hash_ignore_scale() {
        assert_eq!(d("1.50"), d("1.5"));
        assert_eq!(hash(&d("1.50")), hash(&d("1.5")));
        assert_eq!(hash(&d("100")), hash(&d("100.000")));
        assert_eq!(d("0.000"), Decimal::ZERO);
        assert!(d("-2.1") < d("-1.9"));
        assert!(d("-1.5") < d("-1.2"));
        assert!(d("0.0001") > d("-99999"));
        assert!(d("1.000000000000000000000000000001") > d("1"));
        let mut rng = StdRng::seed_from_u64(5);
        for _ in 0..5000 {
            let (a, b) = (sample(&mut rng), sample(&mut rng));
            // Reference: compare a.m * 10^sb with b.m * 10^sa exactly.
            let expected = if a.mantissa.signum() != b.mantissa.signum() {
                a.mantissa.signum().cmp(&b.mantissa.signum())
            } else {
                let mut x = Wide::from_u128(a.mantissa.unsigned_abs());
                x.mul_pow10(b.scale.into());
                let mut y = Wide::from_u128(b.mantissa.unsigned_abs());
                y.mul_pow10(a.scale.into());
                if a.is_negative() {
                    y.cmp(&x)
                } else {
                    x.cmp(&y)
                }
            };
            assert_eq!(a.cmp(&b), expected, "{a} vs {b}");
        }
    }

    #[test]
    fn rescale_rounds_half_away_from_zero() {
        assert_eq!(d("1.25").rescale(1).unwrap().to_string(), "1.3");
        assert_eq!(d("-1.25").rescale(1).unwrap().to_string(), "-1.3");
        assert_eq!(d("1.24").rescale(1).unwrap().to_string(), "1.2");
        assert_eq!(d("9.95").rescale(1).unwrap().to_string(), "10.0");
        assert_eq!(d("1.5").rescale(4).unwrap().to_string(), "1.5000");
        assert_eq!(d("1").rescale(31), None);
        assert_eq!(d("12345678901234567890123456789012345678").rescale(1), None);
        assert_eq!(d("2.5").to_i64_round(), Some(3));
        assert_eq!(d("-2.5").to_i64_round(), Some(-3));
        assert_eq!(d("-2.49").to_i64_round(), Some(-2));
        assert_eq!(d("9223372036854775807.4").to_i64_round(), Some(i64::MAX));
        assert_eq!(d("9223372036854775807.5").to_i64_round(), None);
        assert_eq!(d("-9223372036854775808.4").to_i64_round(), Some(i64::MIN));
    }

    #[test]
    fn precision_and_fits() {
        assert_eq!(d("123.45").precision(), 5);
        assert_eq!(d("0.5").precision(), 1);
        assert_eq!(d("0").precision(), 1);
        assert_eq!(d("-0.001").precision(), 3);
        assert_eq!(d("100").precision(), 3);
        assert!(d("123.45").fits(5, 2));
        assert!(!d("123.45").fits(4, 2));
        assert!(d("123.456").fits(5, 2)); // rounds to 123.46
        assert!(!d("9.995").fits(3, 2)); // rounds to 10.00
        assert!(d("9.994").fits(3, 2));
        assert!(d("-0.5").fits(1, 1));
        assert!(!d("1").fits(1, 2));
        assert!(!d("1").fits(39, 0));
    }

    #[test]
    fn arithmetic_vectors() {
        let add = |a: &str, b: &str| d(a).checked_add(d(b)).map(|v| v.to_string());
        let sub = |a: &str, b: &str| d(a).checked_sub(d(b)).map(|v| v.to_string());
        let mul = |a: &str, b: &str| d(a).checked_mul(d(b)).map(|v| v.to_string());
        let div = |a: &str, b: &str| {
            d(a).checked_div(d(b), DIV_PRECISION_INCREMENT)
                .map(|v| v.to_string())
        };
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(add("1.5", "2.25"), s("3.75"));
        assert_eq!(add("-1.5", "0.25"), s("-1.25"));
        assert_eq!(add("1.5", "-1.50"), s("0.00"));
        assert_eq!(sub("0.1", "0.35"), s("-0.25"));
        assert_eq!(sub("-0.75", "-0.25"), s("-0.50"));
        // Cancelling sums whose aligned operands alone exceed i128.
        assert_eq!(
            add(
                "17500000000000000000000000000000000000",
                "-9999999999999999999999999999999999999.9"
            ),
            s("7500000000000000000000000000000000000.1")
        );
        assert_eq!(add("99999999999999999999999999999999999999", "1"), None);
        assert_eq!(sub("-99999999999999999999999999999999999999", "0.1"), None);
        assert_eq!(mul("1.5", "-2.25"), s("-3.375"));
        assert_eq!(
            mul("0.000000000000001", "0.000000000000000005"),
            s("0.000000000000000000000000000000")
        );
        assert_eq!(
            mul("0.000000000000001", "0.0000000000000005"),
            s("0.000000000000000000000000000001")
        );
        assert_eq!(
            mul("123456789.12345678901234567891", "1.00000000000000000001"),
            None // 9 integer digits + scale 30 = 39 digits
        );
        assert_eq!(
            mul("1234567.123456789012345", "0.000000000000001"),
            s("0.000000001234567123456789012345")
        );
        assert_eq!(mul("99999999999999999999", "100000000000000000000"), None);
        assert_eq!(div("1", "3"), s("0.3333"));
        assert_eq!(div("2", "3"), s("0.6667"));
        assert_eq!(div("-2", "3"), s("-0.6667"));
        assert_eq!(div("1.00", "3"), s("0.333333"));
        assert_eq!(div("1", "0.003"), s("333.3333"));
        assert_eq!(div("10", "4"), s("2.5000"));
        assert_eq!(div("1", "0"), None);
        assert_eq!(div("1", "0.00"), None);
        assert_eq!(div("99999999999999999999999999999999999", "0.0001"), None);
        assert_eq!(
            d("1").checked_div(d("7"), 40).map(|v| v.to_string()),
            s("0.142857142857142857142857142857")
        );
        assert_eq!(
            d("0.000000000000000000000000000001")
                .checked_div(d("0.000000000000000000000000000003"), 4)
                .map(|v| v.to_string()),
            s("0.333333333333333333333333333333")
        );
    }

    /// Reference arithmetic in plain i128 for operands small enough that it
    /// cannot overflow.
    #[test]
    fn arithmetic_matches_i128_reference() {
        let mut rng = StdRng::seed_from_u64(6);
        let small = |rng: &mut StdRng| {
            Decimal::new(
                rng.random_range(-1_000_000_000i128..1_000_000_000),
                rng.random_range(0..=12),
            )
        };
        let round_div = |n: i128, d: i128| {
            let q = div_round_u128(n.unsigned_abs(), d.unsigned_abs()) as i128;
            if (n < 0) != (d < 0) { -q } else { q }
        };
        for _ in 0..5000 {
            let (a, b) = (small(&mut rng), small(&mut rng));
            let s = a.scale.max(b.scale);
            let (am, bm) = (
                a.mantissa * pow10(s - a.scale) as i128,
                b.mantissa * pow10(s - b.scale) as i128,
            );
            let sum = a.checked_add(b).unwrap();
            assert_eq!((sum.mantissa, sum.scale), (am + bm, s));
            let diff = a.checked_sub(b).unwrap();
            assert_eq!((diff.mantissa, diff.scale), (am - bm, s));
            let prod = a.checked_mul(b).unwrap();
            assert_eq!(
                (prod.mantissa, prod.scale),
                (a.mantissa * b.mantissa, a.scale + b.scale)
            );
            if let Some(q) = a.checked_div(b, DIV_PRECISION_INCREMENT) {
                let rs = a.scale + DIV_PRECISION_INCREMENT;
                let shift = b.scale + rs - a.scale;
                let expected = round_div(a.mantissa * pow10(shift) as i128, b.mantissa);
                assert_eq!((q.mantissa, q.scale), (expected, rs), "{a} / {b}");
            } else {
                assert!(b.is_zero());
            }
            let neg = -a;
            assert_eq!(neg.checked_add(a).unwrap(), Decimal::ZERO);
        }
    }

    #[test]
    fn float_conversions() {
        let f = |v: f64| Decimal::from_f64(v).map(|d| (d.to_string(), d.scale()));
        assert_eq!(f(0.1), Some(("0.1".into(), 1)));
        assert_eq!(f(-2.5), Some(("-2.5".into(), 1)));
        assert_eq!(f(1e20), Some(("100000000000000000000".into(), 0)));
        assert_eq!(f(123.456), Some(("123.456".into(), 3)));
        assert_eq!(f(0.0), Some(("0".into(), 0)));
        assert_eq!(f(f64::NAN), None);
        assert_eq!(f(f64::INFINITY), None);
        assert_eq!(f(1e40), None);
        assert_eq!(d("0.1").to_f64(), 0.1);
        assert_eq!(d("-123.456").to_f64(), -123.456);
        assert_eq!(
            d("12345678901234567890.123456789").to_f64(),
            12345678901234567890.123456789
        );
        assert_eq!(
            Decimal::from_i64(i64::MIN).to_string(),
            i64::MIN.to_string()
        );
        assert_eq!(
            Decimal::from_u64(u64::MAX).to_string(),
            u64::MAX.to_string()
        );
        let mut rng = StdRng::seed_from_u64(8);
        for _ in 0..2000 {
            let v: f64 = rng.random_range(-1e12..1e12) / 10f64.powi(rng.random_range(0..10));
            assert_eq!(Decimal::from_f64(v).unwrap().to_f64(), v);
        }
    }

    #[test]
    fn key_vectors() {
        assert_eq!(key(&d("0")), [0x02]);
        assert_eq!(key(&d("0.000")), [0x02]);
        assert_eq!(key(&d("12.5")), [0x03, 0x82, 0x0D, 0x33, 0x00]);
        assert_eq!(key(&d("12.50")), key(&d("12.5")));
        assert_eq!(key(&d("0.0012")), [0x03, 0x7E, 0x0D, 0x00]);
        assert_eq!(key(&d("-12.5")), [0x01, 0x7D, 0xF2, 0xCC, 0xFF]);
        assert_eq!(key(&d("-99999999999999999999999999999999999999")).len(), 22);
    }

    #[test]
    fn key_order_and_round_trip() {
        let mut rng = StdRng::seed_from_u64(9);
        for _ in 0..10_000 {
            let (a, b) = (sample(&mut rng), sample(&mut rng));
            let (ka, kb) = (key(&a), key(&b));
            assert_eq!(a.cmp(&b), ka.cmp(&kb), "{a} vs {b}");
            if a != b {
                assert!(!ka.starts_with(&kb) && !kb.starts_with(&ka));
            }
            let mut buf = ka.clone();
            buf.push(0xAB);
            let mut s = buf.as_slice();
            let back = decode_key(&mut s).unwrap();
            assert_eq!(s, [0xAB]);
            assert_eq!(back, a);
            assert_eq!(
                (back.mantissa, back.scale),
                (a.normalize().mantissa, a.normalize().scale)
            );
        }
    }

    #[test]
    fn malformed_keys_fail() {
        for bad in [
            &[][..],
            &[0x04],
            &[0x03],
            &[0x03, 0x82],
            &[0x03, 0x82, 0x00],             // no digits
            &[0x03, 0x82, 0x01, 0x0D, 0x00], // leading zero digits
            &[0x03, 0x82, 0x65, 0x00],       // pair byte 101
            &[0x03, 0xF0, 0x0D, 0x00],       // exponent too large
            &[0x03, 0x40, 0x0D, 0x00],       // scale too large
        ] {
            let mut s = bad;
            let r = decode_key(&mut s);
            assert!(r.is_err(), "{bad:02X?} -> {r:?}");
        }
        // A final pair "10" is the padded odd digit "1": 12.1.
        let mut s: &[u8] = &[0x03, 0x82, 0x0D, 0x0B, 0x00];
        assert_eq!(decode_key(&mut s), Ok(d("12.1")));
        let mut rng = StdRng::seed_from_u64(10);
        for _ in 0..20_000 {
            let len = rng.random_range(0..24);
            let junk: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            let mut s = junk.as_slice();
            if let Ok(v) = decode_key(&mut s) {
                // Whatever decodes must re-encode to exactly what was read.
                assert_eq!(key(&v), junk[..junk.len() - s.len()]);
            }
        }
    }
}
