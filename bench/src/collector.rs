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

    pub fn take(&self) -> (Vec<Duration>, u64) {
        std::mem::take(&mut *self.inner.lock().expect("collector lock"))
    }
}
