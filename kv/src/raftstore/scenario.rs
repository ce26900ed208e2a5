//! Scenario tests for the store loop, in the style of the txn and PD
//! scenarios (toydb's goldenscripts, CockroachDB's datadriven tests): each
//! file in `testdata/` is a list of commands run against a [`Sim`], each
//! followed by `----` and its expected output. `UPDATE_GOLDEN=1` rewrites
//! the expected output; review the diff.
//!
//! Commands (stores are numbers; a peer's id is its store's id in region 1
//! and `region * 100 + store` in regions made by a split):
//!
//! ```text
//! cluster voters=1,2,3 [learners=4] [gc_threshold=N] [gc_limit=N] [chunk=BYTES]
//! campaign S [region=R]        the peer on S starts an election
//! transfer S to=T [region=R]   the leader on S hands leadership to T's peer
//! tick [N]                     N raft ticks of simulated time, delivering between
//! put S K V [as=NAME]          a write sent to the peer on S of K's region
//!                              (S may be `leader`: whichever store leads)
//! read S K [replica] [hold] [as=NAME]  a read (`replica`: a learner's or
//!                              follower's read; `hold`: not delivered until the next command)
//! split S K region=R           the peer on S proposes a split at K, new region R
//! partition 1|2,3              cut every link between the groups
//! heal                         restore every link
//! stop S | start S | restart S a crash (engine kept) / a start at the current time
//! status [region=R]            each running store's view: role, term, leader, applied
//! snapshots                    the snapshots sent so far: from, to, index, chunks
//! ```
//!
//! After every command, the requests answered during it print as
//! `NAME: outcome` (`ok`, `ok VALUE`, `ok <none>`, or an error kind); names
//! default to `w1`, `r1`, ... in order.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::Config;
use super::harness::{Pending, Sim, outcome};

struct Runner {
    sim: Option<Sim>,
    pending: BTreeMap<String, Pending>,
    /// Names in the order the requests were made.
    order: Vec<String>,
    reads: usize,
    writes: usize,
}

fn num(s: &str) -> u64 {
    s.parse()
        .unwrap_or_else(|_| panic!("{s:?} is not a number"))
}

fn list(s: &str) -> Vec<u64> {
    s.split(',').filter(|x| !x.is_empty()).map(num).collect()
}

impl Runner {
    fn sim(&mut self) -> &mut Sim {
        self.sim.as_mut().expect("`cluster` comes first")
    }

    /// A store argument: a number, or `leader` for the store whose peer of
    /// `region` leads in the highest term (elections after a partition are
    /// randomized, so scripts name the winner this way).
    fn store_arg(&self, s: &str, region: u64) -> u64 {
        if s != "leader" {
            return num(s);
        }
        let sim = self.sim.as_ref().expect("cluster");
        sim.store_ids()
            .into_iter()
            .filter_map(|id| {
                let p = sim.store(id).ok()?.peers.get(&region)?;
                p.is_leader().then_some((p.term(), id))
            })
            .max()
            .map_or(0, |(_, id)| id)
    }

    fn run(&mut self, line: &str) -> String {
        let words: Vec<&str> = line.split_whitespace().collect();
        let mut args = Vec::new();
        let mut opts: BTreeMap<&str, &str> = BTreeMap::new();
        for w in &words[1..] {
            match w.split_once('=') {
                Some((k, v)) => {
                    opts.insert(k, v);
                }
                None => args.push(*w),
            }
        }
        let region = opts.get("region").map_or(1, |r| num(r));
        let mut out = String::new();
        let result = (|| -> crate::Result<()> {
            match words[0] {
                "cluster" => {
                    let mut cfg = Config::for_tests();
                    if let Some(v) = opts.get("gc_threshold") {
                        cfg.raft_log_gc_threshold = num(v);
                    }
                    if let Some(v) = opts.get("gc_limit") {
                        cfg.raft_log_gc_count_limit = num(v);
                    }
                    if let Some(v) = opts.get("chunk") {
                        cfg.snap_chunk_size = num(v) as usize;
                    }
                    let voters = list(opts.get("voters").expect("voters="));
                    let learners = opts.get("learners").map_or(Vec::new(), |l| list(l));
                    self.sim = Some(Sim::new(cfg, &voters, &learners)?);
                }
                "campaign" => {
                    let s = num(args[0]);
                    self.sim().with_peer(s, region, |p| p.raft.campaign())??;
                    self.sim().deliver()?;
                }
                "transfer" => {
                    let s = num(args[0]);
                    let to = num(opts["to"]);
                    let to_peer = if region == 1 { to } else { region * 100 + to };
                    self.sim()
                        .with_peer(s, region, |p| p.transfer_leader(to_peer))?;
                    self.sim().deliver()?;
                }
                "tick" => {
                    let n = args.first().map_or(1, |n| num(n) as u32);
                    self.sim().tick(n)?;
                }
                "put" => {
                    let s = self.store_arg(args[0], region);
                    let p = self.sim().put(s, args[1].as_bytes(), args[2].as_bytes())?;
                    self.writes += 1;
                    let name = opts
                        .get("as")
                        .map_or(format!("w{}", self.writes), |n| n.to_string());
                    self.add(name, p);
                    self.sim().deliver()?;
                }
                "read" => {
                    let replica = args.contains(&"replica");
                    let s = self.store_arg(args[0], region);
                    let p = self.sim().read(s, args[1].as_bytes(), replica)?;
                    self.reads += 1;
                    let name = opts
                        .get("as")
                        .map_or(format!("r{}", self.reads), |n| n.to_string());
                    self.add(name, p);
                    if !args.contains(&"hold") {
                        self.sim().deliver()?;
                    }
                }
                "split" => {
                    self.sim().split(num(args[0]), args[1].as_bytes(), region)?;
                    self.sim().deliver()?;
                }
                "partition" => {
                    let groups: Vec<Vec<u64>> = args[0].split('|').map(list).collect();
                    self.sim().partition(&groups);
                }
                "heal" => self.sim().heal(),
                "stop" => self.sim().stop(num(args[0])),
                "start" => self.sim().start(num(args[0]))?,
                "restart" => {
                    let s = num(args[0]);
                    self.sim().stop(s);
                    self.sim().start(s)?;
                }
                "status" => {
                    let sim = self.sim.as_ref().expect("cluster");
                    for s in sim.store_ids() {
                        let Ok(store) = sim.store(s) else {
                            let _ = writeln!(out, "s{s}: down");
                            continue;
                        };
                        match store.peers.get(&region) {
                            None => {
                                let _ = writeln!(out, "s{s}: no peer");
                            }
                            Some(p) => {
                                let st = p.status();
                                let role = if st.is_leader {
                                    "leader"
                                } else if p.peer.role == proto::metapb::PeerRole::Learner as i32 {
                                    "learner"
                                } else {
                                    "follower"
                                };
                                let _ = writeln!(
                                    out,
                                    "s{s}: {role} term={} leader={} applied={} truncated={} range=[{},{})",
                                    st.term,
                                    st.leader_id,
                                    st.applied_index,
                                    st.truncated_index,
                                    String::from_utf8_lossy(&st.region.start_key),
                                    String::from_utf8_lossy(&st.region.end_key),
                                );
                            }
                        }
                    }
                }
                "snapshots" => {
                    for s in &self.sim.as_ref().expect("cluster").sent_snapshots {
                        let _ = writeln!(
                            out,
                            "s{} -> s{} region={} index={} chunks={}",
                            s.from, s.to, s.region_id, s.index, s.chunks
                        );
                    }
                }
                other => panic!("unknown command {other}"),
            }
            Ok(())
        })();
        if let Err(e) = result {
            let _ = writeln!(out, "error: {e}");
        }
        for name in self.order.clone() {
            let Some(p) = self.pending.get_mut(&name) else {
                continue;
            };
            if let Some(o) = outcome(p) {
                let _ = writeln!(out, "{name}: {o}");
                self.pending.remove(&name);
                self.order.retain(|n| *n != name);
            }
        }
        out
    }

    fn add(&mut self, name: String, p: Pending) {
        self.order.push(name.clone());
        self.pending.insert(name, p);
    }
}

/// Runs one scenario file; returns the file as it should read.
fn run_file(text: &str) -> String {
    let mut runner = Runner {
        sim: None,
        pending: BTreeMap::new(),
        order: Vec::new(),
        reads: 0,
        writes: 0,
    };
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() || line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        assert_eq!(
            lines.next(),
            Some("----"),
            "command {line:?} must be followed by ----"
        );
        while lines.peek().is_some_and(|l| !l.trim().is_empty()) {
            lines.next();
        }
        let result = runner.run(line);
        let _ = write!(out, "{line}\n----\n{result}");
    }
    out
}

#[test]
fn raftstore_scenarios() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/raftstore/testdata");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failed = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("scenario file");
        let got = run_file(&text);
        if update {
            std::fs::write(&path, &got).expect("write scenario");
        } else if got != text {
            failed.push(format!(
                "{}:\n--- expected\n{text}\n--- got\n{got}",
                path.display()
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "scenarios differ (rerun with UPDATE_GOLDEN=1 and review):\n{}",
        failed.join("\n")
    );
}
