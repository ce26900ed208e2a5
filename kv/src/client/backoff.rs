//! Exponential backoff with a cap and a total deadline.

use std::time::{Duration, Instant};

use crate::{Error, Result};

pub struct Backoff {
    next: Duration,
    max: Duration,
    deadline: Instant,
    attempts: u32,
}

impl Backoff {
    pub fn new(total: Duration) -> Self {
        Backoff {
            next: Duration::from_millis(5),
            max: Duration::from_millis(500),
            deadline: Instant::now() + total,
            attempts: 0,
        }
    }

    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Sleeps before the next attempt, or gives up with `last` once the
    /// deadline has passed.
    pub async fn wait(&mut self, last: Error) -> Result<()> {
        self.attempts += 1;
        let now = Instant::now();
        if now >= self.deadline {
            return Err(last);
        }
        let d = self.next.min(self.deadline - now);
        tokio::time::sleep(d).await;
        self.next = (self.next * 2).min(self.max);
        Ok(())
    }
}
