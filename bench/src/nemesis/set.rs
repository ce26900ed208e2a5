//! The set: unique autocommit INSERTs, and at the end every acknowledged
//! one is there.
//!
//! Worker `w` of `W` inserts ids `w, w + W, w + 2W, ...`, one autocommit
//! `INSERT INTO nemesis_set VALUES (?)` each, never retrying an id. An
//! insert answered OK is *acknowledged* and must be in the final read; one
//! that erred or got no answer may or may not be. The final read also
//! catches what should never be: an id no worker tried, or one twice.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{BACKOFF, Clock, Session, Success};

pub const SETUP: &[&str] = &["CREATE TABLE nemesis_set (id BIGINT PRIMARY KEY)"];

/// What one insert worker did.
#[derive(Debug, Default, Clone)]
pub struct SetHistory {
    pub acknowledged: Vec<i64>,
    /// Inserts that erred or got no answer: maybe there, maybe not.
    pub uncertain: Vec<i64>,
}

impl SetHistory {
    pub fn merge(&mut self, o: SetHistory) {
        self.acknowledged.extend(o.acknowledged);
        self.uncertain.extend(o.uncertain);
    }
}

/// Inserts until the clock stops.
pub async fn inserts(url: String, clock: Arc<Clock>, worker: i64, workers: i64) -> SetHistory {
    let mut s = Session::new(&url, &[]);
    let mut h = SetHistory::default();
    let mut id = worker;
    while !clock.stopped() {
        let started = Instant::now();
        match s.exec("INSERT INTO nemesis_set VALUES (?)", (id,)).await {
            Ok(_) => {
                h.acknowledged.push(id);
                clock.success(Success::Insert, started);
            }
            Err(_) => {
                h.uncertain.push(id);
                tokio::time::sleep(BACKOFF).await;
            }
        }
        id += workers;
    }
    h
}

/// What the final read found wrong.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SetVerdict {
    /// Acknowledged ids missing at the end.
    pub lost: Vec<i64>,
    /// Ids present that no insert tried, or present twice.
    pub unexpected: Vec<i64>,
    /// Uncertain inserts that turned out to have happened.
    pub uncertain_present: usize,
}

/// Compares the ids read at the end with what the workers did.
pub fn judge(h: &SetHistory, present: &[i64]) -> SetVerdict {
    let mut seen = HashSet::new();
    let tried: HashSet<i64> = h.acknowledged.iter().chain(&h.uncertain).copied().collect();
    let mut unexpected: Vec<i64> = present
        .iter()
        .filter(|id| !seen.insert(**id) || !tried.contains(id))
        .copied()
        .collect();
    unexpected.sort_unstable();
    let mut lost: Vec<i64> = h
        .acknowledged
        .iter()
        .filter(|id| !seen.contains(id))
        .copied()
        .collect();
    lost.sort_unstable();
    SetVerdict {
        lost,
        unexpected,
        uncertain_present: h.uncertain.iter().filter(|id| seen.contains(id)).count(),
    }
}

/// Reads every id once the inserts stopped (retried until the cluster
/// answers, for up to a minute).
pub async fn final_read(url: &str) -> Result<Vec<i64>, String> {
    let mut s = Session::new(url, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match s.rows::<i64>("SELECT id FROM nemesis_set").await {
            Ok(ids) => return Ok(ids),
            Err(e) if Instant::now() > deadline => {
                return Err(format!("the set could not be read: {e:?}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_acknowledged_ids_and_unexpected_ones_are_found() {
        let h = SetHistory {
            acknowledged: vec![0, 2, 4, 6],
            uncertain: vec![8, 10],
        };
        assert_eq!(
            judge(&h, &[0, 2, 4, 6, 10]),
            SetVerdict {
                lost: vec![],
                unexpected: vec![],
                uncertain_present: 1
            }
        );
        let v = judge(&h, &[0, 4, 6, 6, 7]);
        assert_eq!(v.lost, vec![2]);
        assert_eq!(v.unexpected, vec![6, 7], "6 twice, 7 never tried");
    }
}
