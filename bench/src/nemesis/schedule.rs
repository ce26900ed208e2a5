//! The fault schedule: which fault, on which process, after how long a
//! quiet spell and held for how long, drawn from a seed.
//!
//! A pure function of `(seed, duration, kinds, kv stores)`, so a run is
//! reproduced by its seed and the schedule is printed before anything
//! starts. Faults come one at a time: each is healed (the process restarted
//! or continued, and serving again) before the next quiet spell begins.
//!
//! ```text
//!   |-- gap --|== fault held ==|-- gap --|== fault held ==| ... | heal-all
//!   0        kill/pause      restart/                            ~duration
//!                            continue
//! ```
//!
//! A pause is held past the raft election timeout (10 ticks of 100 ms,
//! randomised by raft-rs up to twice that: at most 2 s), so a paused
//! leader's followers elect a new one and the old leader comes back to a
//! newer term; a killed process stays down for a few seconds, long enough
//! for leases to run out and clients to be refused.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The longest raft election timeout of a kv store with the default
/// config (`raft_election_timeout_ticks` 10 × `raft_base_tick_interval`
/// 100 ms, randomised in `[1, 2)` times that).
pub const ELECTION_TIMEOUT: Duration = Duration::from_secs(2);

/// A kind of fault the nemesis injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// SIGKILL a kv store, restart it on its data dir.
    KillKv,
    /// SIGKILL PD, restart it on its data dir.
    KillPd,
    /// SIGSTOP a kv store past the election timeout, then SIGCONT.
    PauseKv,
    /// SIGSTOP PD, then SIGCONT.
    PausePd,
}

impl FaultKind {
    pub const ALL: [FaultKind; 4] = [
        FaultKind::KillKv,
        FaultKind::KillPd,
        FaultKind::PauseKv,
        FaultKind::PausePd,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::KillKv => "kill-kv",
            FaultKind::KillPd => "kill-pd",
            FaultKind::PauseKv => "pause-kv",
            FaultKind::PausePd => "pause-pd",
        }
    }

    fn is_pause(self) -> bool {
        matches!(self, FaultKind::PauseKv | FaultKind::PausePd)
    }
}

impl FromStr for FaultKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown fault {s:?} (kill-kv, kill-pd, pause-kv, pause-pd)"))
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses a comma-separated fault list (`kill-kv,pause-pd`).
pub fn parse_kinds(list: &str) -> Result<Vec<FaultKind>, String> {
    let kinds: Vec<FaultKind> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    if kinds.is_empty() {
        return Err("no faults listed".into());
    }
    Ok(kinds)
}

/// The process a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Pd,
    /// The kv store with this index (0-based, in start order).
    Kv(usize),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Pd => f.write_str("pd"),
            Target::Kv(i) => write!(f, "kv{i}"),
        }
    }
}

/// One step of the schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub target: Target,
    /// Quiet time before the fault (after the previous one healed).
    pub gap: Duration,
    /// How long the process stays killed or paused.
    pub hold: Duration,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} for {:.1}s after {:.1}s quiet",
            self.kind,
            self.target,
            self.hold.as_secs_f64(),
            self.gap.as_secs_f64()
        )
    }
}

/// Faults drawn from `seed` until their gaps and holds fill `duration`.
pub fn schedule(
    seed: u64,
    duration: Duration,
    kinds: &[FaultKind],
    kv_stores: usize,
) -> Vec<Fault> {
    assert!(!kinds.is_empty() && kv_stores > 0);
    let mut rng = StdRng::seed_from_u64(seed);
    let millis =
        |rng: &mut StdRng, lo: u64, hi: u64| Duration::from_millis(rng.random_range(lo..hi));
    let mut planned = Duration::ZERO;
    let mut faults = Vec::new();
    loop {
        let kind = kinds[rng.random_range(0..kinds.len())];
        let target = match kind {
            FaultKind::KillKv | FaultKind::PauseKv => Target::Kv(rng.random_range(0..kv_stores)),
            FaultKind::KillPd | FaultKind::PausePd => Target::Pd,
        };
        let gap = millis(&mut rng, 2_000, 5_000);
        let hold = if kind.is_pause() {
            ELECTION_TIMEOUT + millis(&mut rng, 1_000, 4_000)
        } else {
            millis(&mut rng, 1_000, 5_000)
        };
        planned += gap + hold;
        if planned > duration {
            return faults;
        }
        faults.push(Fault {
            kind,
            target,
            gap,
            hold,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_one_schedule_that_fills_the_duration() {
        let d = Duration::from_secs(60);
        let a = schedule(7, d, &FaultKind::ALL, 3);
        assert_eq!(a, schedule(7, d, &FaultKind::ALL, 3));
        assert_ne!(a, schedule(8, d, &FaultKind::ALL, 3));
        let total: Duration = a.iter().map(|f| f.gap + f.hold).sum();
        assert!(
            total <= d && total > d - Duration::from_secs(12),
            "{total:?}"
        );
        assert!(a.len() >= 5, "{a:?}");
    }

    #[test]
    fn pauses_outlast_the_election_timeout_and_targets_fit_the_kinds() {
        let faults = schedule(1, Duration::from_secs(3_600), &FaultKind::ALL, 3);
        for f in &faults {
            match (f.kind, f.target) {
                (FaultKind::KillKv | FaultKind::PauseKv, Target::Kv(i)) => assert!(i < 3),
                (FaultKind::KillPd | FaultKind::PausePd, Target::Pd) => {}
                other => panic!("{other:?}"),
            }
            if f.kind.is_pause() {
                assert!(f.hold > ELECTION_TIMEOUT + Duration::from_millis(999));
            }
        }
        for k in FaultKind::ALL {
            assert!(faults.iter().any(|f| f.kind == k), "{k} never drawn");
        }
    }

    #[test]
    fn fault_lists_parse() {
        assert_eq!(
            parse_kinds("kill-kv, pause-pd"),
            Ok(vec![FaultKind::KillKv, FaultKind::PausePd])
        );
        assert!(parse_kinds("kill-sql").is_err());
        assert!(parse_kinds("").is_err());
    }
}
