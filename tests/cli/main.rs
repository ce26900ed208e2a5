//! The binaries end to end: `duet playground` becomes ready, `duet-ctl`
//! reads and writes through it with the documented output and exit codes,
//! and SIGTERM shuts the playground down cleanly; a DDL owner killed
//! mid-job ([`ddl_owner`]); a minute of kills and pauses under SQL
//! workloads ([`nemesis`]).

mod ddl_owner;
mod nemesis;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const DUET: &str = env!("CARGO_BIN_EXE_duet");
const CTL: &str = env!("CARGO_BIN_EXE_duet-ctl");

/// A base port with `n` free consecutive ports after it.
fn free_ports(n: u16) -> u16 {
    for _ in 0..100 {
        let base = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if base > u16::MAX - n {
            continue;
        }
        let held: Vec<_> = (0..n)
            .filter_map(|i| TcpListener::bind(("127.0.0.1", base + i)).ok())
            .collect();
        if held.len() == n as usize {
            return base;
        }
    }
    panic!("no {n} free consecutive ports");
}

struct Playground {
    child: Child,
    pd: String,
}

impl Drop for Playground {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_playground(dir: &std::path::Path) -> (Playground, Duration) {
    let base = free_ports(7);
    let started = Instant::now();
    let mut child = Command::new(DUET)
        .args(["playground", "--data-dir"])
        .arg(dir)
        .args([
            "--pd-port",
            &base.to_string(),
            "--kv-base-port",
            &(base + 1).to_string(),
            "--sql-port",
            &(base + 4).to_string(),
            "--status-port",
            &(base + 5).to_string(),
            "--columnar-port",
            &(base + 6).to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start duet playground");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let pg = Playground {
        child,
        pd: format!("127.0.0.1:{base}"),
    };
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("playground printed nothing");
    assert_eq!(line, "ready");
    (pg, started.elapsed())
}

fn ctl(pd: &str, args: &[&str]) -> Output {
    Command::new(CTL)
        .arg("--pd")
        .arg(pd)
        .args(args)
        .output()
        .expect("run duet-ctl")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim_end().to_string()
}

#[test]
fn playground_and_ctl_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let (mut pg, took) = start_playground(dir.path());
    eprintln!("playground ready after {took:?}");
    let pd = pg.pd.clone();

    let put = ctl(&pd, &["raw", "put", "hello", "world"]);
    assert!(put.status.success(), "{put:?}");
    let get = ctl(&pd, &["raw", "get", "hello"]);
    assert!(get.status.success());
    assert_eq!(stdout(&get), "world");
    let absent = ctl(&pd, &["raw", "get", "nope"]);
    assert_eq!(absent.status.code(), Some(1));
    assert!(absent.stdout.is_empty());
    assert!(String::from_utf8_lossy(&absent.stderr).contains("not found"));

    let region = ctl(&pd, &["--json", "region", "key", "hello"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&region)).expect("region json");
    for field in [
        "id",
        "start_key",
        "end_key",
        "epoch",
        "peers",
        "leader",
        "pending_peers",
        "down_peers",
        "approximate_size",
        "approximate_keys",
    ] {
        assert!(v.get(field).is_some(), "region json lacks {field}: {v}");
    }
    assert_eq!(v["peers"].as_array().map(Vec::len), Some(3));
    assert!(v["epoch"]["conf_ver"].is_u64() && v["epoch"]["version"].is_u64());

    let stores = ctl(&pd, &["store", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&stores)).expect("stores json");
    let stores = v.as_array().expect("array");
    // Three kv stores and the columnar store.
    assert_eq!(stores.len(), 4);
    for s in stores {
        for field in [
            "id",
            "address",
            "state",
            "labels",
            "region_count",
            "leader_count",
        ] {
            assert!(s.get(field).is_some(), "store json lacks {field}: {s}");
        }
        assert_eq!(s["state"], "Up");
    }

    let t1: u64 = stdout(&ctl(&pd, &["tso"]))
        .parse()
        .expect("tso is a number");
    let t2: u64 = stdout(&ctl(&pd, &["tso"]))
        .parse()
        .expect("tso is a number");
    assert!(t2 > t1);

    // The GC safe point trails the TSO by the default 10 min life time.
    let gc = ctl(&pd, &["gc", "status", "--json"]);
    assert!(gc.status.success(), "{gc:?}");
    let v: serde_json::Value = serde_json::from_str(&stdout(&gc)).expect("gc json");
    assert_eq!(v["gc_life_time_ms"], 600_000);
    let safe_point = v["safe_point"].as_u64().expect("safe point");
    assert!(
        safe_point > 0 && (safe_point >> 18) + 600_000 <= t2 >> 18,
        "{v}"
    );
    let time = v["safe_point_time"].as_str().expect("safe point time");
    assert!(
        time.len() == 24 && time.ends_with('Z') && time.starts_with("20"),
        "{time}"
    );
    assert!(v["min_start_ts"].is_array());
    assert!(stdout(&ctl(&pd, &["gc", "status"])).starts_with("safe point:"));

    // Wrong arguments and an unreachable PD: a message and a non-zero exit.
    let bad = ctl(&pd, &["operator", "add", "transfer-leader", "999999", "1"]);
    assert!(!bad.status.success());
    assert!(!bad.stderr.is_empty());
    let unknown = ctl(&pd, &["region", "frobnicate"]);
    assert!(!unknown.status.success());
    let unreachable = ctl("127.0.0.1:1", &["store", "list"]);
    assert!(!unreachable.status.success());
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("cannot reach PD"));

    // SIGTERM: a clean exit.
    let pid = pg.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = pg.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "playground did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
}

/// Kills a child process when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> Proc {
    Proc(
        Command::new(DUET)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start duet"),
    )
}

/// `duet sql` started before any kv store has bootstrapped the cluster
/// waits for it (as a service manager starts them all at once) and serves
/// once a store is up, instead of exiting.
#[test]
fn sql_server_waits_for_the_cluster_to_bootstrap() {
    let dir = tempfile::tempdir().unwrap();
    let base = free_ports(4);
    let pd = format!("127.0.0.1:{base}");
    let pd_dir = dir.path().join("pd");
    let kv_dir = dir.path().join("kv");
    let _pd = spawn(&["pd", "--addr", &pd, "--data-dir", pd_dir.to_str().unwrap()]);
    let sql_port = (base + 2).to_string();
    let status_port = (base + 3).to_string();
    let mut sql = spawn(&[
        "sql",
        "--pd",
        &pd,
        "--port",
        &sql_port,
        "--status-port",
        &status_port,
    ]);
    // No kv store yet: the SQL server keeps waiting.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        sql.0.try_wait().unwrap().is_none(),
        "duet sql exited before the cluster was bootstrapped"
    );
    let kv_addr = format!("127.0.0.1:{}", base + 1);
    let _kv = spawn(&[
        "kv",
        "--pd",
        &pd,
        "--addr",
        &kv_addr,
        "--data-dir",
        kv_dir.to_str().unwrap(),
    ]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = Command::new("mariadb")
            .args([
                "-h",
                "127.0.0.1",
                "-P",
                &sql_port,
                "-u",
                "root",
                "-N",
                "-e",
                "SELECT 1 + 1",
            ])
            .output()
            .expect("run mariadb");
        if out.status.success() {
            assert_eq!(stdout(&out), "2");
            break;
        }
        assert!(
            sql.0.try_wait().unwrap().is_none(),
            "duet sql exited while the cluster came up"
        );
        assert!(
            Instant::now() < deadline,
            "duet sql never served: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
