//! # Timestamp oracle (TSO)
//!
//! Every transaction reads at a `start_ts` and commits at a `commit_ts`, both
//! handed out here. A timestamp is a `u64`
//!
//! ```text
//!   63                                18 17             0
//!  +------------------------------------+----------------+
//!  |  physical: ms since the Unix epoch |  logical (18b) |
//!  +------------------------------------+----------------+
//! ```
//!
//! exactly as in TiDB, so `physical(ts)` is a wall-clock time a human can read
//! and up to 2^18 timestamps can be issued per millisecond.
//!
//! ## The invariant: never go backwards, not even across restarts
//!
//! Timestamps are strictly increasing for the lifetime of the cluster. Within
//! a process that is easy (keep the last one, only grow). Across restarts PD
//! does what TiDB's PD does: before handing out any timestamp with physical
//! part `p`, a *bound* `>= p` has been persisted. The bound is written a
//! window ahead (`now + 3 s`), so only one durable write per window is needed
//! rather than one per request. After a restart the allocator starts strictly
//! above the persisted bound, which is above everything handed out before,
//! even if the wall clock went backwards in between.
//!
//! ```text
//!   issued ... p ......... saved_bound = p + window       time ->
//!   restart:                          start at saved_bound + 1 (or now, if later)
//! ```
//!
//! When the logical counter would overflow within one millisecond, the
//! physical part moves ahead by one millisecond (a little into the future,
//! still covered by the bound check).
//!
//! [`TsoAllocator`] is the pure state machine (clock and persistence passed
//! in); [`TimestampOracle`] is the thin shell with the wall clock and storage.
//! The layout itself ([`compose`],
//! [`physical`](crate::core::physical), [`logical`](crate::core::logical))
//! is in [`crate::core`], shared with every client.

use std::time::Duration;

use parking_lot::Mutex;

use crate::core::{MAX_LOGICAL, compose};
use crate::error::{Error, Result};
use crate::storage::Storage;

/// The TSO state machine. Time and persistence are inputs, so the
/// monotonicity argument can be tested without clocks or disks.
#[derive(Debug)]
pub struct TsoAllocator {
    /// Physical part of the last timestamp handed out (0: none yet).
    physical: u64,
    /// Logical part of the last timestamp handed out.
    logical: u64,
    /// Lowest physical part this incarnation may use: one above the bound
    /// persisted by the previous incarnation.
    floor: u64,
    /// Persisted upper bound of any physical part this incarnation issues.
    saved_bound: u64,
    window_ms: u64,
}

impl TsoAllocator {
    /// An allocator resuming after `saved_bound` (0 for a new cluster). It
    /// persists a new bound before issuing its first timestamp.
    pub fn new(saved_bound: u64, window: Duration) -> Self {
        TsoAllocator {
            physical: 0,
            logical: 0,
            floor: saved_bound + 1,
            saved_bound,
            window_ms: (window.as_millis() as u64).max(1),
        }
    }

    /// Hands out `count` consecutive timestamps and returns the last one; the
    /// first is `last - count + 1` (all share one physical part). `save` is
    /// called with a new bound to persist when needed; if it fails, nothing
    /// is handed out and the state is unchanged.
    pub fn alloc(
        &mut self,
        count: u32,
        now_ms: u64,
        save: impl FnOnce(u64) -> Result<()>,
    ) -> Result<u64> {
        let count = u64::from(count);
        if count == 0 || count >= MAX_LOGICAL {
            return Err(Error::InvalidArgument(format!(
                "tso count must be in 1..{MAX_LOGICAL}, got {count}"
            )));
        }
        let now = now_ms.max(self.floor);
        let (mut physical, mut logical) = (self.physical, self.logical);
        if now > physical {
            physical = now;
            logical = 0;
        }
        if logical + count >= MAX_LOGICAL {
            // This millisecond is used up: borrow the next one.
            physical += 1;
            logical = 0;
        }
        if self.saved_bound < physical + self.window_ms / 2 {
            let bound = physical + self.window_ms;
            save(bound)?;
            self.saved_bound = bound;
        }
        self.physical = physical;
        self.logical = logical + count;
        Ok(compose(physical, self.logical))
    }

    /// The bound persisted so far.
    pub fn saved_bound(&self) -> u64 {
        self.saved_bound
    }
}

/// The TSO shell: the wall clock, the allocator and its durable bound.
pub struct TimestampOracle {
    alloc: Mutex<TsoAllocator>,
    storage: Storage,
}

impl TimestampOracle {
    /// Resumes from the bound in `storage`.
    pub fn load(storage: Storage, window: Duration) -> Result<Self> {
        let saved = storage.load_tso_bound()?;
        tracing::info!(
            saved_bound_ms = saved,
            "timestamp oracle resumes above saved bound"
        );
        Ok(TimestampOracle {
            alloc: Mutex::new(TsoAllocator::new(saved, window)),
            storage,
        })
    }

    /// `count` timestamps; returns the last.
    pub fn get(&self, count: u32) -> Result<u64> {
        let mut alloc = self.alloc.lock();
        alloc.alloc(count, crate::unix_ms(), |bound| {
            self.storage.save_tso_bound(bound)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{logical, physical};

    const WINDOW: Duration = Duration::from_secs(3);

    fn saving(saved: &mut Vec<u64>) -> impl FnOnce(u64) -> Result<()> + '_ {
        move |b| {
            saved.push(b);
            Ok(())
        }
    }

    #[test]
    fn strictly_increasing_within_and_across_milliseconds() {
        let mut tso = TsoAllocator::new(0, WINDOW);
        let mut saved = Vec::new();
        let mut last = 0;
        for (now, count) in [
            (1000, 1),
            (1000, 5),
            (1000, 1),
            (1001, 3),
            (999, 1),
            (1001, 2),
        ] {
            let ts = tso.alloc(count, now, saving(&mut saved)).unwrap();
            let first = ts - u64::from(count) + 1;
            assert!(first > last, "{first} after {last}");
            assert_eq!(
                physical(first),
                physical(ts),
                "a batch shares one physical part"
            );
            last = ts;
        }
        // The clock went back to 999, time stood still: physical stays at 1001.
        assert_eq!(physical(last), 1001);
        // One save: the bound (1000 + 3000) covers the rest.
        assert_eq!(saved, vec![4000]);
    }

    #[test]
    fn logical_overflow_advances_physical() {
        let mut tso = TsoAllocator::new(0, WINDOW);
        let mut saved = Vec::new();
        let a = tso
            .alloc((MAX_LOGICAL - 10) as u32, 50, saving(&mut saved))
            .unwrap();
        assert_eq!((physical(a), logical(a)), (50, MAX_LOGICAL - 10));
        let b = tso.alloc(100, 50, saving(&mut saved)).unwrap();
        assert_eq!((physical(b), logical(b)), (51, 100));
        assert!(b - 99 > a);
    }

    #[test]
    fn bound_is_saved_ahead_before_use() {
        let mut tso = TsoAllocator::new(0, WINDOW);
        let mut saved = Vec::new();
        for now in (0..20_000).step_by(250) {
            let ts = tso.alloc(1, now, saving(&mut saved)).unwrap();
            assert!(physical(ts) <= tso.saved_bound());
        }
        // Roughly one durable write per half window, not one per request.
        assert!(saved.len() <= 20_000 / 1500 + 1, "{saved:?}");
    }

    #[test]
    fn restart_starts_above_everything_issued_even_if_clock_went_back() {
        let mut first = TsoAllocator::new(0, WINDOW);
        let mut last = 0;
        for now in [10_000, 10_000, 10_500] {
            last = first.alloc(7, now, |_| Ok(())).unwrap();
        }
        let bound = first.saved_bound();
        // Restart with the clock far behind.
        let mut second = TsoAllocator::new(bound, WINDOW);
        let mut saved = Vec::new();
        let ts = second.alloc(1, 2_000, saving(&mut saved)).unwrap();
        assert!(ts > last);
        assert_eq!(physical(ts), bound + 1);
        assert_eq!(
            saved,
            vec![bound + 1 + 3000],
            "a new bound is saved before serving"
        );
    }

    #[test]
    fn failed_save_hands_out_nothing() {
        let mut tso = TsoAllocator::new(0, WINDOW);
        let err = tso
            .alloc(1, 100, |_| Err(Error::Storage("disk full".into())))
            .unwrap_err();
        assert!(matches!(err, Error::Storage(_)));
        let ts = tso.alloc(1, 100, |_| Ok(())).unwrap();
        assert_eq!((physical(ts), logical(ts)), (100, 1));
    }

    #[test]
    fn rejects_bad_counts() {
        let mut tso = TsoAllocator::new(0, WINDOW);
        assert!(tso.alloc(0, 1, |_| Ok(())).is_err());
        assert!(tso.alloc(MAX_LOGICAL as u32, 1, |_| Ok(())).is_err());
    }

    #[test]
    fn oracle_is_monotonic_across_restart_on_same_dir() {
        let dir = tempfile::tempdir().unwrap();
        let mut last = 0;
        for _ in 0..3 {
            let storage = Storage::open_rocksdb(dir.path()).unwrap();
            let oracle = TimestampOracle::load(storage.clone(), WINDOW).unwrap();
            for count in [1, 10, 1] {
                let ts = oracle.get(count).unwrap();
                assert!(ts - u64::from(count) + 1 > last);
                last = ts;
            }
            drop(oracle);
            storage.close();
        }
    }
}
