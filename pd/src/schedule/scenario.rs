//! Scenario tests for the schedulers, in the style of CockroachDB's
//! datadriven tests and toydb's goldenscripts: each file in `testdata/` is a
//! list of commands, each followed by `----` and its expected output. Run
//! with `UPDATE_GOLDEN=1` to rewrite the expected output, then review the
//! diff.
//!
//! Commands:
//!
//! ```text
//! store <id> <up|disconnected|down|offline|tombstone> [columnar] [regions=N] [leaders=N] [replica_ops=N] [leader_ops=N]
//! region <id> voters=<store,..> [learners=<store,..>] [leader=<store>] [pending=<store,..>] [down=<store,..>]
//! config [max_replicas=N] [replica_limit=N] [leader_limit=N]
//! rule <id> <start|-> <end|-> <count>   a columnar rule (`-`: unbounded); count 0 drops it
//! check-replicas <region>      the replica checker's decision
//! check-columnar <region>      the columnar placement checker's decision
//! check-columnar-all           the columnar decision for every region
//! check-all                    the decision for every region
//! balance-leader               one balance-leader decision
//! balance-leader-loop          apply decisions until quiet, then print leader counts
//! ```
//!
//! Region `N` spans keys `rNNNN` to `rNNNN~`. Peer ids are `region * 10 + store`. Store region and leader counts are
//! those given on the `store` line plus what the `region` lines imply.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use proto::metapb::{self, PeerRole, StoreState};
use proto::pdpb;

use super::{
    ClusterView, ScheduleConfig, StoreView, balance_leader, columnar_placement, replica_checker,
};
use crate::cluster::region::RegionInfo;
use crate::cluster::region::tests::region;

#[derive(Default)]
struct World {
    stores: BTreeMap<u64, StoreView>,
    regions: BTreeMap<u64, RegionInfo>,
    rules: BTreeMap<String, pdpb::ColumnarRule>,
    cfg: ScheduleConfig,
}

fn list(v: &str) -> Vec<u64> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("number list"))
        .collect()
}

fn state(s: &str) -> StoreState {
    match s {
        "up" => StoreState::Up,
        "disconnected" => StoreState::Disconnected,
        "down" => StoreState::Down,
        "offline" => StoreState::Offline,
        "tombstone" => StoreState::Tombstone,
        other => panic!("unknown store state {other}"),
    }
}

impl World {
    fn view(&self) -> ClusterView {
        let mut stores = self.stores.clone();
        for r in self.regions.values() {
            for p in &r.meta.peers {
                if let Some(s) = stores.get_mut(&p.store_id) {
                    s.region_count += 1;
                }
            }
            if let Some(s) = r.leader_store().and_then(|id| stores.get_mut(&id)) {
                s.leader_count += 1;
            }
        }
        ClusterView { stores }
    }

    fn check_columnar(&self, r: &RegionInfo, view: &ClusterView) -> String {
        let wanted = columnar_placement::wanted(r, self.rules.values());
        columnar_placement::check(r, wanted, view, &self.cfg)
            .map_or("none".into(), |a| a.to_string())
    }

    fn run(&mut self, line: &str) -> String {
        let mut words = line.split_whitespace();
        let cmd = words.next().unwrap_or_default();
        let args: Vec<&str> = words.collect();
        let kv = |key: &str| {
            args.iter()
                .find_map(|a| a.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        };
        match cmd {
            "store" => {
                let id: u64 = args[0].parse().expect("store id");
                let mut s = StoreView::new(id, state(args[1]));
                s.columnar = args.contains(&"columnar");
                let n = |k| kv(k).map_or(0, |v: &str| v.parse().expect("count"));
                (s.region_count, s.leader_count) = (n("regions"), n("leaders"));
                (s.replica_ops, s.leader_ops) = (n("replica_ops"), n("leader_ops"));
                self.stores.insert(id, s);
                "ok".into()
            }
            "region" => {
                let id: u64 = args[0].parse().expect("region id");
                let voters = list(kv("voters").expect("voters="));
                let key = format!("r{id:04}");
                let mut r = region(id, &key, &format!("{key}~"), (1, 1), &voters);
                for s in list(kv("learners").unwrap_or_default()) {
                    let mut p = metapb::Peer {
                        id: id * 10 + s,
                        store_id: s,
                        ..Default::default()
                    };
                    p.set_role(PeerRole::Learner);
                    r.meta.peers.push(p);
                }
                if let Some(l) = kv("leader") {
                    r.leader = r.peer_on_store(l.parse().expect("leader store")).copied();
                }
                for s in list(kv("pending").unwrap_or_default()) {
                    r.pending_peers
                        .push(*r.peer_on_store(s).expect("pending peer"));
                }
                for s in list(kv("down").unwrap_or_default()) {
                    let peer = r.peer_on_store(s).copied();
                    r.down_peers.push(pdpb::PeerStats {
                        peer,
                        down_seconds: 60,
                    });
                }
                self.regions.insert(id, r);
                "ok".into()
            }
            "config" => {
                if let Some(v) = kv("max_replicas") {
                    self.cfg.max_replicas = v.parse().expect("max_replicas");
                }
                if let Some(v) = kv("replica_limit") {
                    self.cfg.replica_schedule_limit = v.parse().expect("replica_limit");
                }
                if let Some(v) = kv("leader_limit") {
                    self.cfg.leader_schedule_limit = v.parse().expect("leader_limit");
                }
                "ok".into()
            }
            "rule" => {
                let key = |k: &str| {
                    if k == "-" {
                        vec![]
                    } else {
                        k.as_bytes().to_vec()
                    }
                };
                let rule = pdpb::ColumnarRule {
                    id: args[0].into(),
                    start_key: key(args[1]),
                    end_key: key(args[2]),
                    count: args[3].parse().expect("count"),
                };
                if rule.count == 0 {
                    self.rules.remove(&rule.id);
                } else {
                    self.rules.insert(rule.id.clone(), rule);
                }
                "ok".into()
            }
            "check-columnar" => {
                let r = &self.regions[&args[0].parse::<u64>().expect("region id")];
                self.check_columnar(r, &self.view())
            }
            "check-columnar-all" => {
                let view = self.view();
                let lines: Vec<String> = self
                    .regions
                    .iter()
                    .map(|(id, r)| format!("region {id}: {}", self.check_columnar(r, &view)))
                    .collect();
                lines.join("\n")
            }
            "check-replicas" => {
                let r = &self.regions[&args[0].parse::<u64>().expect("region id")];
                replica_checker::check(r, &self.view(), &self.cfg)
                    .map_or("none".into(), |a| a.to_string())
            }
            "check-all" => {
                let view = self.view();
                let mut out = String::new();
                for (id, r) in &self.regions {
                    let got = replica_checker::check(r, &view, &self.cfg);
                    let _ = writeln!(
                        out,
                        "region {id}: {}",
                        got.map_or("none".into(), |a| a.to_string())
                    );
                }
                out.trim_end().to_string()
            }
            "balance-leader" => {
                balance_leader::schedule(&self.view(), self.regions.values(), |_| false, &self.cfg)
                    .map_or("none".into(), |m| m.to_string())
            }
            "balance-leader-loop" => {
                let mut out = String::new();
                for _ in 0..100 {
                    let view = self.view();
                    let Some(m) = balance_leader::schedule(
                        &view,
                        self.regions.values(),
                        |_| false,
                        &self.cfg,
                    ) else {
                        break;
                    };
                    let _ = writeln!(out, "{m}");
                    let r = self.regions.get_mut(&m.region_id).expect("region");
                    r.leader = r.peer_on_store(m.to_store).copied();
                }
                let view = self.view();
                let counts: Vec<String> = view
                    .stores
                    .values()
                    .map(|s| format!("s{}={}", s.id, s.leader_count))
                    .collect();
                let _ = write!(out, "leaders: {}", counts.join(" "));
                out
            }
            other => panic!("unknown command {other:?}"),
        }
    }
}

/// Runs one scenario file; returns the file as it should read.
fn run_file(text: &str) -> String {
    let mut world = World::default();
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
        let result = world.run(line);
        let _ = writeln!(out, "{line}\n----\n{result}");
    }
    out
}

#[test]
fn scheduler_scenarios() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/schedule/testdata");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for path in files {
        let text = std::fs::read_to_string(&path).expect("scenario file");
        let got = run_file(&text);
        if update {
            std::fs::write(&path, &got).expect("write scenario");
        } else {
            assert_eq!(
                got,
                text,
                "scenario {} differs; rerun with UPDATE_GOLDEN=1 and review",
                path.display()
            );
        }
    }
}
