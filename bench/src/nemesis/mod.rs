//! # The nemesis: faults against the whole system, as separate processes
//!
//! A run starts `duet pd`, three `duet kv` and `duet sql` as processes on
//! loopback ([`processes`]), runs three workloads through the SQL server
//! while a nemesis kills and pauses the stores and PD one fault at a time
//! ([`schedule`]), heals everything, and then checks what the clients saw:
//!
//! ```text
//!   workloads (mysql_async, 10 s deadline per statement)
//!     bank: transfers + snapshot readers --+
//!     set: unique autocommit inserts ------+--> duet sql --> duet pd
//!     register: autocommit get/put --------+         \--> kv0 kv1 kv2
//!                                                            ^
//!   nemesis: gap, fault (SIGKILL | SIGSTOP), hold, heal ------+  (and PD)
//!            ... until the duration is used up, then heal all
//! ```
//!
//! | workload | what it records | what must hold |
//! |---|---|---|
//! | [`bank`] | each snapshot read of all balances | every read, and the final state, keep the total |
//! | [`set`] | acknowledged and uncertain inserts | every acknowledged id is in the final read, nothing else appears |
//! | [`register`] | call/return of each read and write | the history is linearizable ([`crate::linearizability`]) |
//!
//! and, after the last fault healed, every workload succeeds again (the
//! system recovers, not only stays safe), and no process exits on its own.
//!
//! A statement that errs or misses its deadline is an unknown outcome, never
//! a failure of the run: a write may or may not have happened, and the
//! checks allow both. Only what the system acknowledged, and what reads
//! returned, is held against it.
//!
//! The run is reproducible as far as the schedule goes: the seed picks
//! every fault, target, gap and hold, and the workloads' choices; timing
//! of the processes is not under control. [`run`] prints the seed and the
//! schedule first. The `duet-bench nemesis` subcommand and
//! `bench/scripts/nemesis.sh` run it for as long as asked; the root
//! package's `cli` test runs a minute of it.

pub mod bank;
pub mod client;
pub mod processes;
pub mod register;
pub mod schedule;
pub mod set;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use tokio::task::JoinHandle;

use client::{Clock, Session, Success};
use processes::Processes;
use schedule::{Fault, FaultKind};

/// kv stores in the cluster: one fault at a time leaves a majority.
pub const KV_STORES: usize = 3;
/// Transfer tasks, snapshot readers, insert tasks, register tasks.
const TRANSFERS: u64 = 4;
const READERS: usize = 2;
const INSERTERS: i64 = 2;
const REGISTER_CLIENTS: u64 = 4;
/// Successes each kind needs after the heal for the run to call it
/// recovered.
const MIN_AFTER_HEAL: u64 = 5;
/// How long the workloads run on after the heal at least, so the healed
/// cluster's answers are checked too.
const SOAK: Duration = Duration::from_secs(5);

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `duet` binary.
    pub duet: PathBuf,
    pub seed: u64,
    /// How long faults are injected.
    pub duration: Duration,
    pub faults: Vec<FaultKind>,
    /// How long, after the heal, the workloads get to succeed again.
    pub recovery: Duration,
    /// Keep the data dirs and logs even if the run passes (they are always
    /// kept when it fails).
    pub keep_dir: bool,
}

/// What a run saw.
#[derive(Debug, Default)]
pub struct Report {
    pub seed: u64,
    /// The faults injected, with when (seconds since the workloads began).
    pub injected: Vec<String>,
    pub bank: bank::BankStats,
    pub bank_final: Option<String>,
    pub set: set::SetHistory,
    pub set_verdict: set::SetVerdict,
    pub set_final: Option<String>,
    pub register: register::RegisterHistory,
    /// `Err(key)`: the first row whose history is not linearizable.
    pub linearizable: Option<Result<(), u64>>,
    /// Successes per kind after the last fault healed.
    pub after_heal: Vec<(Success, u64)>,
    /// Processes that exited without being killed.
    pub crashes: Vec<String>,
    /// Where the data dirs and logs are, if kept.
    pub kept_dir: Option<PathBuf>,
}

impl Report {
    /// Everything that went wrong; empty when the run passed.
    pub fn failures(&self) -> Vec<String> {
        let mut f = Vec::new();
        f.extend(self.bank.anomalies.iter().cloned());
        f.extend(self.bank_final.clone());
        if !self.set_verdict.lost.is_empty() {
            f.push(format!(
                "{} acknowledged inserts lost: {:?}",
                self.set_verdict.lost.len(),
                self.set_verdict.lost
            ));
        }
        if !self.set_verdict.unexpected.is_empty() {
            f.push(format!(
                "ids never inserted, or present twice: {:?}",
                self.set_verdict.unexpected
            ));
        }
        f.extend(self.set_final.clone());
        match self.linearizable {
            Some(Ok(())) => {}
            Some(Err(key)) => f.push(format!(
                "the history of register row {key} is not linearizable"
            )),
            None => f.push("the register history was not checked".into()),
        }
        for (kind, n) in &self.after_heal {
            if *n < MIN_AFTER_HEAL {
                f.push(format!(
                    "{n} {} after the last fault healed (at least {MIN_AFTER_HEAL} expected)",
                    kind.name()
                ));
            }
        }
        f.extend(self.crashes.iter().cloned());
        f
    }

    /// One line: counts per workload and the verdicts.
    pub fn summary(&self) -> String {
        let b = &self.bank;
        let r = &self.register;
        let after: Vec<String> = self
            .after_heal
            .iter()
            .map(|(k, n)| format!("{}={n}", k.name().replace(' ', "_")))
            .collect();
        format!(
            "seed={} faults={} | bank: transfers={} transfer_errors={} reads={} read_errors={} anomalies={} final={} \
             | set: acknowledged={} uncertain={} uncertain_present={} lost={} unexpected={} \
             | register: reads={} writes={} unknown_writes={} failed_reads={} linearizable={} \
             | after heal: {} | crashes={} | {}",
            self.seed,
            self.injected.len(),
            b.transfers,
            b.transfer_errors,
            b.reads,
            b.read_errors,
            b.anomalies.len(),
            if self.bank_final.is_none() {
                "ok"
            } else {
                "BAD"
            },
            self.set.acknowledged.len(),
            self.set.uncertain.len(),
            self.set_verdict.uncertain_present,
            self.set_verdict.lost.len(),
            self.set_verdict.unexpected.len(),
            r.reads,
            r.writes,
            r.unknown_writes,
            r.failed_reads,
            match self.linearizable {
                Some(Ok(())) => "yes".to_string(),
                Some(Err(k)) => format!("NO(row {k})"),
                None => "unchecked".to_string(),
            },
            after.join(" "),
            self.crashes.len(),
            if self.failures().is_empty() {
                "PASS"
            } else {
                "FAIL"
            },
        )
    }
}

fn say(clock: Option<&Clock>, msg: impl std::fmt::Display) {
    match clock {
        Some(c) => eprintln!("nemesis +{:.1}s: {msg}", c.secs()),
        None => eprintln!("nemesis: {msg}"),
    }
}

/// Runs the cluster, the workloads and the faults of `cfg`; returns what
/// was seen. An `Err` is a run that could not be carried out (the cluster
/// did not start, a process would not restart), not a failed check.
pub async fn run(cfg: &Config) -> Result<Report> {
    let plan = schedule::schedule(cfg.seed, cfg.duration, &cfg.faults, KV_STORES);
    let kinds: Vec<&str> = cfg.faults.iter().map(|k| k.name()).collect();
    say(
        None,
        format!(
            "seed {} duration {}s faults {} -> {} planned:",
            cfg.seed,
            cfg.duration.as_secs(),
            kinds.join(","),
            plan.len()
        ),
    );
    for (i, f) in plan.iter().enumerate() {
        say(None, format!("  {:>3}. {f}", i + 1));
    }

    let mut procs = Processes::start(&cfg.duet, KV_STORES).await?;
    say(
        None,
        format!("cluster up, data and logs in {}", procs.dir().display()),
    );
    let url = procs.sql_url();
    let mut report = Report {
        seed: cfg.seed,
        ..Report::default()
    };
    let result = async {
        setup(&url).await?;
        wait_replicated(&procs.pd_addr()).await?;
        drive(cfg, &plan, &mut procs, &url, &mut report).await
    }
    .await;
    if result.is_err() || !report.failures().is_empty() || cfg.keep_dir {
        report.kept_dir = Some(procs.keep());
    }
    match result {
        Ok(()) => Ok(report),
        Err(e) => Err(e.context(format!(
            "the nemesis run stopped; data dirs and logs kept in {}",
            procs.dir().display()
        ))),
    }
}

/// The workloads, the faults, the heal and the checks, on a cluster set up.
async fn drive(
    cfg: &Config,
    plan: &[Fault],
    procs: &mut Processes,
    url: &str,
    report: &mut Report,
) -> Result<()> {
    let clock = Arc::new(Clock::new());
    let workloads = Workloads::spawn(cfg.seed, url, &clock);
    // Faults start once every workload works.
    wait_progress(&clock, Duration::from_secs(60), 1, |k| clock.successes(k))
        .await
        .context("the workloads never got going")?;
    say(Some(&clock), "workloads running");

    inject(plan, procs, &clock, report).await?;

    clock.mark_healed();
    say(
        Some(&clock),
        "all healed; waiting for every workload to succeed again",
    );
    let soak = tokio::time::sleep(SOAK);
    let recovered = wait_progress(&clock, cfg.recovery, MIN_AFTER_HEAL, |k| {
        clock.successes_after_heal(k)
    })
    .await;
    soak.await;
    if let Err(e) = &recovered {
        say(Some(&clock), format!("{e:#}"));
    }
    report.after_heal = Success::ALL
        .iter()
        .map(|k| (*k, clock.successes_after_heal(*k)))
        .collect();
    clock.stop();
    say(Some(&clock), "stopping the workloads");
    workloads.join(report).await?;
    report.crashes.extend(procs.restart_crashed().await?);

    say(Some(&clock), "checking");
    check(url, &clock, report).await
}

/// The workload tasks while they run.
struct Workloads {
    bank: Vec<JoinHandle<bank::BankStats>>,
    set: Vec<JoinHandle<set::SetHistory>>,
    register: Vec<JoinHandle<register::RegisterHistory>>,
}

impl Workloads {
    fn spawn(seed: u64, url: &str, clock: &Arc<Clock>) -> Workloads {
        let mut bank = Vec::new();
        for w in 0..TRANSFERS {
            let seed = seed.wrapping_add(w);
            bank.push(tokio::spawn(bank::transfers(
                url.into(),
                clock.clone(),
                seed,
            )));
        }
        for r in 0..READERS {
            bank.push(tokio::spawn(bank::readers(url.into(), clock.clone(), r)));
        }
        let set = (0..INSERTERS)
            .map(|w| tokio::spawn(set::inserts(url.into(), clock.clone(), w, INSERTERS)))
            .collect();
        let register = (0..REGISTER_CLIENTS)
            .map(|w| {
                let seed = seed.wrapping_add(100 + w);
                let clock = clock.clone();
                tokio::spawn(register::operations(
                    url.into(),
                    clock,
                    seed,
                    w,
                    REGISTER_CLIENTS,
                ))
            })
            .collect();
        Workloads {
            bank,
            set,
            register,
        }
    }

    /// Waits for every task (the clock stopped) and adds up what they saw.
    async fn join(self, report: &mut Report) -> Result<()> {
        for t in self.bank {
            report.bank.merge(t.await?);
        }
        for t in self.set {
            report.set.merge(t.await?);
        }
        for t in self.register {
            report.register.merge(t.await?);
        }
        Ok(())
    }
}

/// Runs the schedule: each fault after its gap, held, then healed (the
/// process restarted and listening, or continued). A process found exited
/// on its own is reported and started again.
async fn inject(
    plan: &[Fault],
    procs: &mut Processes,
    clock: &Clock,
    report: &mut Report,
) -> Result<()> {
    for (i, f) in plan.iter().enumerate() {
        tokio::time::sleep(f.gap).await;
        for c in procs.restart_crashed().await? {
            say(Some(clock), &c);
            report.crashes.push(c);
        }
        let at = clock.secs();
        match f.kind {
            FaultKind::KillKv | FaultKind::KillPd => procs.kill(f.target),
            FaultKind::PauseKv | FaultKind::PausePd => procs.pause(f.target),
        }
        say(
            Some(clock),
            format!("fault {}/{}: {} {}", i + 1, plan.len(), f.kind, f.target),
        );
        tokio::time::sleep(f.hold).await;
        match f.kind {
            FaultKind::KillKv | FaultKind::KillPd => procs
                .restart(f.target)
                .await
                .with_context(|| format!("restarting {} after {}", f.target, f.kind))?,
            FaultKind::PauseKv | FaultKind::PausePd => procs.resume(f.target),
        }
        say(Some(clock), format!("healed {}", f.target));
        report.injected.push(format!(
            "+{at:.1}s {} {} for {:.1}s",
            f.kind,
            f.target,
            f.hold.as_secs_f64()
        ));
    }
    for c in procs.restart_crashed().await? {
        say(Some(clock), &c);
        report.crashes.push(c);
    }
    Ok(())
}

/// The final reads and the register history's check, once the workloads
/// stopped.
async fn check(url: &str, clock: &Clock, report: &mut Report) -> Result<()> {
    report.bank_final = bank::final_check(url).await.err();
    match set::final_read(url).await {
        Ok(present) => report.set_verdict = set::judge(&report.set, &present),
        Err(e) => report.set_final = Some(e),
    }
    let mut history = register::initial_history();
    history.extend(report.register.events.iter().cloned());
    let started = Instant::now();
    report.linearizable =
        Some(tokio::task::spawn_blocking(move || crate::linearizability::check(&history)).await?);
    say(
        Some(clock),
        format!(
            "register history of {} events checked in {:.1}s",
            report.register.events.len(),
            started.elapsed().as_secs_f64()
        ),
    );
    Ok(())
}

/// Waits until every kind of success counted by `count` reaches `min`.
async fn wait_progress(
    clock: &Clock,
    timeout: Duration,
    min: u64,
    count: impl Fn(Success) -> u64,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let behind: Vec<String> = Success::ALL
            .iter()
            .filter(|k| count(**k) < min)
            .map(|k| format!("{} {}", count(*k), k.name()))
            .collect();
        if behind.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline || clock.stopped() {
            bail!("after {timeout:?} only {}", behind.join(", "));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates and fills the tables, once `duet sql` serves.
async fn setup(url: &str) -> Result<()> {
    let mut s = Session::new(url, &[]);
    let deadline = Instant::now() + Duration::from_secs(90);
    while let Err(e) = s.run("SELECT 1").await {
        if Instant::now() > deadline {
            bail!("duet sql never answered: {e:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let fills = [bank::fill(), register::fill()];
    let statements = bank::SETUP
        .iter()
        .chain(set::SETUP)
        .chain(register::SETUP)
        .map(|s| s.to_string())
        .chain(fills);
    for stmt in statements {
        s.run(&stmt)
            .await
            .map_err(|e| anyhow::anyhow!("{stmt}: {e:?}"))?;
    }
    Ok(())
}

/// Waits until PD sees every kv store up and every region with a voter on
/// each and a leader, so the first fault hits a replicated cluster.
async fn wait_replicated(pd_addr: &str) -> Result<()> {
    let pd = pd::PdClient::connect(pd_addr).await?;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let stores = pd.get_all_stores(true).await?;
        let up = stores
            .iter()
            .filter(|s| {
                s.store
                    .as_ref()
                    .is_some_and(|s| s.state == proto::metapb::StoreState::Up as i32)
            })
            .count();
        let regions = pd.scan_regions(b"", b"", 0).await?;
        let replicated = regions.iter().all(|r| {
            let voters = r.region.as_ref().map_or(0, |r| {
                r.peers
                    .iter()
                    .filter(|p| p.role == proto::metapb::PeerRole::Voter as i32)
                    .count()
            });
            voters >= KV_STORES && r.leader.as_ref().is_some_and(|l| l.id != 0)
        });
        if up >= KV_STORES && !regions.is_empty() && replicated {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{up} stores up, {} regions, replicated: {replicated}",
                regions.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `duet-bench nemesis`: the run from the command line.
#[derive(Args, Clone, Debug)]
pub struct Nemesis {
    /// The `duet` binary [default: the one beside duet-bench].
    #[arg(long)]
    pub duet: Option<PathBuf>,
    /// Picks the schedule and the workloads' choices [default: random,
    /// printed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Seconds of faults.
    #[arg(long, default_value_t = 600)]
    pub duration: u64,
    /// The faults to draw from, comma-separated.
    #[arg(long, default_value = "kill-kv,kill-pd,pause-kv,pause-pd")]
    pub faults: String,
    /// Seconds the workloads get to recover after the heal.
    #[arg(long, default_value_t = 60)]
    pub recovery: u64,
    /// Keep the data dirs and logs even if the run passes.
    #[arg(long)]
    pub keep_dir: bool,
}

/// Runs, prints the faults, the failures and the summary line last;
/// exits non-zero if a check failed.
pub async fn main(args: Nemesis) -> Result<()> {
    let duet = match args.duet {
        Some(d) => d,
        None => std::env::current_exe()?
            .parent()
            .context("duet-bench has no directory")?
            .join("duet"),
    };
    let cfg = Config {
        duet,
        seed: args.seed.unwrap_or_else(rand::random),
        duration: Duration::from_secs(args.duration),
        faults: schedule::parse_kinds(&args.faults).map_err(anyhow::Error::msg)?,
        recovery: Duration::from_secs(args.recovery),
        keep_dir: args.keep_dir,
    };
    let report = run(&cfg).await?;
    print_report(&report);
    if !report.failures().is_empty() {
        std::process::exit(1);
    }
    Ok(())
}

/// The faults injected, any failures, where the logs are, and the summary
/// line (last).
pub fn print_report(report: &Report) {
    println!("faults injected:");
    for f in &report.injected {
        println!("  {f}");
    }
    for f in report.failures() {
        println!("FAILURE: {f}");
    }
    if let Some(dir) = &report.kept_dir {
        println!("data dirs and logs kept in {}", dir.display());
    }
    println!("{}", report.summary());
}
