//! The registers: a few rows read and written by autocommit statements,
//! and the history checked for linearizability.
//!
//! Each operation picks a row `k` and either writes a value no one wrote
//! before (`UPDATE nemesis_reg SET v = ? WHERE k = ?`) or reads it
//! (`SELECT v FROM nemesis_reg WHERE k = ?`), and records when it was
//! called and when it returned on the run's clock. A write that erred or
//! got no answer within the statement deadline may have taken effect at any
//! time after its call: it goes into the history with an unknown return
//! (`ret: None`). A read that erred says nothing and is left out. The rows
//! start at 0, which the history records as a write that returned before
//! anything else was called.
//!
//! The check is [`crate::linearizability::check`]: Wing & Gong's search
//! per row. Autocommit reads and writes in duet take their timestamps
//! from PD's TSO after the statement arrives, so a read that starts after a
//! write returned must see it (or a later write).

use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::client::{BACKOFF, Clock, Session, Success};
use crate::linearizability::{Event, Op};

/// Rows in the table.
pub const KEYS: u64 = 3;

pub const SETUP: &[&str] = &["CREATE TABLE nemesis_reg (k BIGINT PRIMARY KEY, v BIGINT NOT NULL)"];

pub fn fill() -> String {
    let rows: Vec<String> = (0..KEYS).map(|k| format!("({k}, 0)")).collect();
    format!("INSERT INTO nemesis_reg VALUES {}", rows.join(", "))
}

/// The writes that set every row to 0 before the history began.
pub fn initial_history() -> Vec<Event> {
    (0..KEYS)
        .map(|key| Event {
            key,
            op: Op::Put(0),
            call: 0,
            ret: Some(0),
        })
        .collect()
}

/// What one register worker did, and its part of the history.
#[derive(Debug, Default, Clone)]
pub struct RegisterHistory {
    pub events: Vec<Event>,
    pub reads: u64,
    pub writes: u64,
    /// Writes with an unknown outcome.
    pub unknown_writes: u64,
    pub failed_reads: u64,
}

impl RegisterHistory {
    pub fn merge(&mut self, o: RegisterHistory) {
        self.events.extend(o.events);
        self.reads += o.reads;
        self.writes += o.writes;
        self.unknown_writes += o.unknown_writes;
        self.failed_reads += o.failed_reads;
    }
}

/// Reads and writes until the clock stops. Worker `w` writes the values
/// `w + 1 + n * workers`, distinct across workers and never 0.
pub async fn operations(
    url: String,
    clock: Arc<Clock>,
    seed: u64,
    worker: u64,
    workers: u64,
) -> RegisterHistory {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut s = Session::new(&url, &[]);
    let mut h = RegisterHistory::default();
    let mut next = worker + 1;
    while !clock.stopped() {
        let key = rng.random_range(0..KEYS);
        let started = Instant::now();
        let call = clock.now();
        if rng.random_bool(0.5) {
            let value = next;
            next += workers;
            let r = s
                .exec("UPDATE nemesis_reg SET v = ? WHERE k = ?", (value, key))
                .await;
            let ret = r.is_ok().then(|| clock.now());
            h.events.push(Event {
                key,
                op: Op::Put(value),
                call,
                ret,
            });
            if ret.is_some() {
                h.writes += 1;
                clock.success(Success::RegisterWrite, started);
            } else {
                h.unknown_writes += 1;
                tokio::time::sleep(BACKOFF).await;
            }
        } else {
            match s
                .first::<u64>("SELECT v FROM nemesis_reg WHERE k = ?", (key,))
                .await
            {
                Ok(v) => {
                    h.events.push(Event {
                        key,
                        op: Op::Get(v),
                        call,
                        ret: Some(clock.now()),
                    });
                    h.reads += 1;
                    clock.success(Success::RegisterRead, started);
                }
                Err(_) => {
                    h.failed_reads += 1;
                    tokio::time::sleep(BACKOFF).await;
                }
            }
        }
    }
    h
}
