//! A minute of faults against the whole system as separate processes
//! (`duet pd`, 3 × `duet kv`, `duet sql`): kv stores and PD killed (-9)
//! and restarted, or paused (SIGSTOP) past the election timeout, one at a
//! time, while bank, set and register workloads run through the SQL
//! server. See `bench::nemesis` for the workloads and the checks;
//! `bench/scripts/nemesis.sh` runs the same for as long as asked.
//!
//! The seed is fixed so a failure reproduces the same schedule;
//! `DUET_NEMESIS_SEED` picks another.

use std::path::PathBuf;
use std::time::Duration;

use bench::nemesis::{self, Config, schedule::FaultKind};

#[test]
fn the_system_keeps_its_guarantees_under_kills_and_pauses() {
    let seed = std::env::var("DUET_NEMESIS_SEED")
        .ok()
        .map(|s| s.parse().expect("DUET_NEMESIS_SEED is a number"))
        .unwrap_or(20_240_601);
    let cfg = Config {
        duet: PathBuf::from(super::DUET),
        seed,
        duration: Duration::from_secs(60),
        faults: FaultKind::ALL.to_vec(),
        recovery: Duration::from_secs(60),
        keep_dir: false,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let report = rt.block_on(nemesis::run(&cfg)).expect("the nemesis run");
    nemesis::print_report(&report);
    let failures = report.failures();
    assert!(failures.is_empty(), "seed {seed}: {failures:#?}");
    assert!(!report.injected.is_empty(), "no fault was injected");
}
