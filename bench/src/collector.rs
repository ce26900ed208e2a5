//! A tiny collector of per-task latencies and error counts.

use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
pub struct Collector {
    inner: Mutex<(Vec<Duration>, u64)>,
}

impl Collector {
    pub fn add(&self, lats: Vec<Duration>, errors: u64) {
        let mut g = self.inner.lock().expect("collector lock");
        g.0.extend(lats);
        g.1 += errors;
    }

    /// Everything collected: operation count, errors, p50 and p99 latency.
    pub fn summary(&self) -> Summary {
        let (mut lats, errors) = std::mem::take(&mut *self.inner.lock().expect("collector lock"));
        lats.sort();
        let n = lats.len();
        let pct = |p: f64| {
            lats.get(((n as f64 * p) as usize).min(n.saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Summary {
            ops: n,
            errors,
            p50_ms: pct(0.50).as_secs_f64() * 1e3,
            p99_ms: pct(0.99).as_secs_f64() * 1e3,
        }
    }
}

/// What a run of closed-loop clients measured.
pub struct Summary {
    pub ops: usize,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}
