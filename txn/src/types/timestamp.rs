//! # Timestamps
//!
//! A [`TimeStamp`] is a TSO timestamp from PD: `physical_ms << 18 | logical`
//! (DESIGN.md §2). Every version in the MVCC layer is named by one: a
//! transaction's `start_ts` (its snapshot, and the name of its locks and
//! long values) and its `commit_ts` (where its writes become visible).
//! Follows TiKV's `components/txn_types/src/timestamp.rs`.

use std::fmt;

/// Bits of a timestamp that hold the logical counter.
pub const TSO_PHYSICAL_SHIFT_BITS: u32 = 18;

/// A hybrid-logical timestamp, ordered as its `u64`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeStamp(u64);

impl TimeStamp {
    pub const fn new(ts: u64) -> TimeStamp {
        TimeStamp(ts)
    }

    pub const fn zero() -> TimeStamp {
        TimeStamp(0)
    }

    pub const fn max() -> TimeStamp {
        TimeStamp(u64::MAX)
    }

    /// Builds a timestamp from wall-clock milliseconds and a logical counter.
    pub const fn compose(physical_ms: u64, logical: u64) -> TimeStamp {
        TimeStamp((physical_ms << TSO_PHYSICAL_SHIFT_BITS) + logical)
    }

    /// The wall-clock part, in milliseconds.
    pub const fn physical(self) -> u64 {
        self.0 >> TSO_PHYSICAL_SHIFT_BITS
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub const fn is_max(self) -> bool {
        self.0 == u64::MAX
    }

    pub const fn into_inner(self) -> u64 {
        self.0
    }

    /// The next timestamp; saturates at [`TimeStamp::max`].
    pub const fn next(self) -> TimeStamp {
        TimeStamp(self.0.saturating_add(1))
    }

    /// The previous timestamp; saturates at zero.
    pub const fn prev(self) -> TimeStamp {
        TimeStamp(self.0.saturating_sub(1))
    }
}

impl From<u64> for TimeStamp {
    fn from(ts: u64) -> TimeStamp {
        TimeStamp(ts)
    }
}

impl From<TimeStamp> for u64 {
    fn from(ts: TimeStamp) -> u64 {
        ts.0
    }
}

impl fmt::Display for TimeStamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_and_split() {
        let ts = TimeStamp::compose(5000, 7);
        assert_eq!(ts.physical(), 5000);
        assert_eq!(ts.into_inner() & ((1 << TSO_PHYSICAL_SHIFT_BITS) - 1), 7);
        assert!(TimeStamp::compose(5000, 0) > TimeStamp::compose(4999, 262_143));
        assert_eq!(TimeStamp::max().next(), TimeStamp::max());
        assert_eq!(TimeStamp::zero().prev(), TimeStamp::zero());
        assert_eq!(TimeStamp::new(9).next(), 10.into());
        assert_eq!(TimeStamp::new(9).to_string(), "9");
    }
}
