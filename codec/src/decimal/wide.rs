//! A fixed 512-bit unsigned integer, just wide enough for decimal
//! multiplication and division without losing digits.
//!
//! A decimal mantissa is below `10^38 < 2^127`. The widest intermediate is a
//! division's dividend `|mantissa| * 10^60` (scale shift of up to 30 + 30),
//! below `10^98 < 2^326`; a product of two mantissas is below `10^76`. Eight
//! 64-bit limbs (little-endian: `limbs[0]` is least significant) hold either
//! with room to spare, so none of these operations can overflow for the
//! inputs `decimal.rs` gives them.
//!
//! Division is binary long division by a divisor below `2^127`, so the
//! running remainder (`< divisor`) shifted left by one still fits a `u128`.

const LIMBS: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Wide([u64; LIMBS]);

impl Wide {
    /// The value `v`.
    pub(super) fn from_u128(v: u128) -> Wide {
        let mut limbs = [0; LIMBS];
        limbs[0] = v as u64;
        limbs[1] = (v >> 64) as u64;
        Wide(limbs)
    }

    /// The exact product `a * b`.
    pub(super) fn mul_u128(a: u128, b: u128) -> Wide {
        let (a, b) = ([a as u64, (a >> 64) as u64], [b as u64, (b >> 64) as u64]);
        let mut out = [0u64; LIMBS];
        for (i, &x) in a.iter().enumerate() {
            let mut carry = 0u128;
            for (j, &y) in b.iter().enumerate() {
                let t = u128::from(out[i + j]) + u128::from(x) * u128::from(y) + carry;
                out[i + j] = t as u64;
                carry = t >> 64;
            }
            out[i + b.len()] = carry as u64;
        }
        Wide(out)
    }

    /// Multiplies in place by `m`; the inputs used here never overflow 512 bits.
    fn mul_u64(&mut self, m: u64) {
        let mut carry = 0u128;
        for limb in &mut self.0 {
            let t = u128::from(*limb) * u128::from(m) + carry;
            *limb = t as u64;
            carry = t >> 64;
        }
        debug_assert_eq!(carry, 0, "Wide overflow");
    }

    /// Multiplies in place by `10^k`.
    pub(super) fn mul_pow10(&mut self, mut k: u32) {
        const TEN_19: u64 = 10_000_000_000_000_000_000;
        while k >= 19 {
            self.mul_u64(TEN_19);
            k -= 19;
        }
        if k > 0 {
            self.mul_u64(10u64.pow(k));
        }
    }

    /// Adds one in place.
    fn incr(&mut self) {
        for limb in &mut self.0 {
            let (v, overflow) = limb.overflowing_add(1);
            *limb = v;
            if !overflow {
                return;
            }
        }
    }

    /// `(self / d, self % d)` for `0 < d < 2^127`.
    fn div_rem(&self, d: u128) -> (Wide, u128) {
        debug_assert!(d > 0 && d < 1 << 127);
        let mut q = [0u64; LIMBS];
        let mut r = 0u128;
        for i in (0..LIMBS * 64).rev() {
            let bit = (self.0[i / 64] >> (i % 64)) & 1;
            r = (r << 1) | u128::from(bit);
            if r >= d {
                r -= d;
                q[i / 64] |= 1 << (i % 64);
            }
        }
        (Wide(q), r)
    }

    /// `self / d` rounded half away from zero, for `0 < d < 2^127`.
    pub(super) fn div_round(&self, d: u128) -> Wide {
        let (mut q, r) = self.div_rem(d);
        if r >= d - r {
            q.incr();
        }
        q
    }

    /// The value as a `u128`, if it fits.
    pub(super) fn to_u128(self) -> Option<u128> {
        if self.0[2..].iter().any(|&l| l != 0) {
            return None;
        }
        Some(u128::from(self.0[0]) | (u128::from(self.0[1]) << 64))
    }
}

#[cfg(test)]
impl PartialOrd for Wide {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Numeric order (most significant limb first); only tests need it.
#[cfg(test)]
impl Ord for Wide {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.iter().rev().cmp(other.0.iter().rev())
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    #[test]
    fn matches_u128_arithmetic_where_it_fits() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..2000 {
            let a: u64 = rng.random();
            let b: u64 = rng.random();
            let p = Wide::mul_u128(a.into(), b.into());
            assert_eq!(p.to_u128(), Some(u128::from(a) * u128::from(b)));
            let d = u128::from(rng.random_range(1..u64::MAX));
            let n = u128::from(a) * u128::from(b);
            let (q, r) = p.div_rem(d);
            assert_eq!((q.to_u128(), r), (Some(n / d), n % d));
        }
    }

    #[test]
    fn wide_products_divide_back() {
        let mut rng = StdRng::seed_from_u64(4);
        for _ in 0..500 {
            let a = rng.random::<u128>() >> 1;
            let b = rng.random::<u128>() >> 1;
            let p = Wide::mul_u128(a, b);
            if b > 0 {
                assert_eq!(p.div_rem(b), (Wide::from_u128(a), 0));
            }
        }
        let mut w = Wide::from_u128(7);
        w.mul_pow10(60);
        let mut ten_30 = Wide::from_u128(1);
        ten_30.mul_pow10(30);
        let q = w.div_round(10u128.pow(30)).div_round(10u128.pow(30));
        assert_eq!(q.to_u128(), Some(7));
        assert_eq!(ten_30.to_u128(), Some(10u128.pow(30)));
        // Rounding is half away from zero on the magnitude.
        assert_eq!(Wide::from_u128(15).div_round(10).to_u128(), Some(2));
        assert_eq!(Wide::from_u128(14).div_round(10).to_u128(), Some(1));
        assert_eq!(Wide::from_u128(u128::MAX).to_u128(), Some(u128::MAX));
        let mut big = Wide::from_u128(u128::MAX);
        big.incr();
        assert_eq!(big.to_u128(), None);
    }
}
