//! `duet-ctl`: administer a duet cluster through PD.
//!
//! Tables for people by default, `--json` for scripts. Keys on the command
//! line are taken as UTF-8 bytes; keys in output are escaped (`\xNN` for
//! bytes outside printable ASCII).

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use pd::client::PdClient;
use proto::metapb;
use proto::pdpb;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(name = "duet-ctl", version, about = "Administer a duet cluster")]
struct Cli {
    /// PD address, HOST:PORT.
    #[arg(long, global = true, default_value = "127.0.0.1:2379")]
    pd: String,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Stores of the cluster.
    #[command(subcommand)]
    Store(StoreCmd),
    /// Regions of the cluster.
    #[command(subcommand)]
    Region(RegionCmd),
    /// Get a timestamp from PD's TSO.
    Tso,
    /// Raw key-value operations.
    #[command(subcommand)]
    Raw(RawCmd),
    /// PD operators.
    #[command(subcommand)]
    Operator(OperatorCmd),
    /// PD schedulers.
    #[command(subcommand)]
    Scheduler(SchedulerCmd),
    /// Garbage collection of old versions.
    #[command(subcommand)]
    Gc(GcCmd),
}

#[derive(Subcommand)]
enum StoreCmd {
    List,
    Show {
        id: u64,
    },
    /// Take a store out of the cluster: its peers move away, then it is Tombstone.
    Remove {
        id: u64,
    },
}

/// A storage engine, for filtering regions.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Engine {
    /// Regions with peers on kv (row) stores.
    Row,
    /// Regions with learners on columnar stores.
    Columnar,
}

#[derive(Subcommand)]
enum RegionCmd {
    /// Every region; `--engine columnar` keeps those with a columnar
    /// replica (a learner on a store labelled engine=columnar).
    List {
        #[arg(long, value_enum)]
        engine: Option<Engine>,
    },
    Show {
        id: u64,
    },
    /// The region holding KEY.
    Key {
        key: String,
    },
}

#[derive(Subcommand)]
enum RawCmd {
    Put {
        key: String,
        value: String,
    },
    /// Print the value alone; exit 1 if the key is absent.
    Get {
        key: String,
    },
    Delete {
        key: String,
    },
    /// Pairs in [START, END).
    Scan {
        start: String,
        end: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

#[derive(Subcommand)]
enum OperatorCmd {
    /// Add an operator: transfer-leader, add-peer or remove-peer REGION STORE.
    Add {
        kind: OperatorKindArg,
        region: u64,
        store: u64,
    },
    Show,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OperatorKindArg {
    TransferLeader,
    AddPeer,
    RemovePeer,
    AddLearner,
}

#[derive(Subcommand)]
enum SchedulerCmd {
    Show,
}

#[derive(Subcommand)]
enum GcCmd {
    /// The txn and gc safe points, the life time and the transactions
    /// holding the txn safe point back.
    Status,
}

fn escape(key: &[u8]) -> String {
    let mut s = String::new();
    for &b in key {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            s.push(b as char);
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

/// A timestamp's physical part as an RFC 3339 UTC time, e.g.
/// `2024-05-01T12:34:56.789Z`.
fn ts_time(ts: u64) -> String {
    let ms = pd::core::physical(ts);
    let (secs, ms) = (ms / 1000, ms % 1000);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn print_gc(gc: &pd::GcSafePoint, as_json: bool) {
    if as_json {
        let regs: Vec<Value> = gc
            .min_start_ts
            .iter()
            .map(|m| {
                json!({
                    "client_id": m.client_id, "min_start_ts": m.min_start_ts,
                    "expires_in_ms": m.expires_in.as_millis() as u64,
                })
            })
            .collect();
        println!(
            "{}",
            json!({
                "safe_point": gc.safe_point,
                "safe_point_time": (gc.safe_point > 0).then(|| ts_time(gc.safe_point)),
                "gc_safe_point": gc.gc_safe_point,
                "gc_safe_point_time": (gc.gc_safe_point > 0).then(|| ts_time(gc.gc_safe_point)),
                "gc_life_time_ms": gc.gc_life_time.as_millis() as u64,
                "min_start_ts": regs,
            })
        );
        return;
    }
    let time = |ts: u64| {
        if ts == 0 {
            "none yet".to_string()
        } else {
            ts_time(ts)
        }
    };
    // The txn safe point: reads below it are refused, locks at or below it
    // get resolved. The gc safe point: versions at or below it may be deleted.
    println!("safe point:    {} ({})", gc.safe_point, time(gc.safe_point));
    println!(
        "gc safe point: {} ({})",
        gc.gc_safe_point,
        time(gc.gc_safe_point)
    );
    println!("gc life time:  {:?}", gc.gc_life_time);
    if gc.min_start_ts.is_empty() {
        println!("no running transactions registered");
        return;
    }
    let rows = gc
        .min_start_ts
        .iter()
        .map(|m| {
            vec![
                m.client_id.clone(),
                m.min_start_ts.to_string(),
                ts_time(m.min_start_ts),
                format!("{}ms", m.expires_in.as_millis()),
            ]
        })
        .collect();
    table(
        &["CLIENT", "MIN START TS", "START TIME", "EXPIRES IN"],
        rows,
    );
}

fn state_name(state: i32) -> String {
    metapb::StoreState::try_from(state).map_or_else(
        |_| format!("unknown({state})"),
        |s| s.as_str_name().to_string(),
    )
}

fn role_name(role: i32) -> &'static str {
    if role == metapb::PeerRole::Learner as i32 {
        "Learner"
    } else {
        "Voter"
    }
}

fn store_json(s: &pdpb::StoreInfo) -> Value {
    let store = s.store.clone().unwrap_or_default();
    let labels: serde_json::Map<String, Value> = store
        .labels
        .iter()
        .map(|l| (l.key.clone(), Value::String(l.value.clone())))
        .collect();
    json!({
        "id": store.id,
        "address": store.address,
        "state": state_name(store.state),
        "labels": labels,
        "version": store.version,
        "region_count": s.region_count,
        "leader_count": s.leader_count,
        "last_heartbeat_ms": s.last_heartbeat_ms,
    })
}

fn peer_json(p: &metapb::Peer) -> Value {
    json!({"id": p.id, "store_id": p.store_id, "role": role_name(p.role)})
}

fn region_json(r: &pdpb::GetRegionResponse) -> Value {
    let region = r.region.clone().unwrap_or_default();
    let epoch = region.region_epoch.unwrap_or_default();
    json!({
        "id": region.id,
        "start_key": escape(&region.start_key),
        "end_key": escape(&region.end_key),
        "epoch": {"conf_ver": epoch.conf_ver, "version": epoch.version},
        "peers": region.peers.iter().map(peer_json).collect::<Vec<_>>(),
        "leader": r.leader.as_ref().filter(|l| l.id != 0).map(|l| json!({"id": l.id, "store_id": l.store_id})),
        "pending_peers": r.pending_peers.iter().map(peer_json).collect::<Vec<_>>(),
        "down_peers": r.down_peers.iter().map(|d| {
            let p = d.peer.unwrap_or_default();
            json!({"peer": peer_json(&p), "down_seconds": d.down_seconds})
        }).collect::<Vec<_>>(),
        "approximate_size": r.approximate_size,
        "approximate_keys": r.approximate_keys,
    })
}

/// Prints rows as an aligned table.
fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.len());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
}

fn print_stores(stores: &[pdpb::StoreInfo], as_json: bool) {
    if as_json {
        println!("{}", Value::Array(stores.iter().map(store_json).collect()));
        return;
    }
    let rows = stores
        .iter()
        .map(|s| {
            let st = s.store.clone().unwrap_or_default();
            let labels: Vec<String> = st
                .labels
                .iter()
                .map(|l| format!("{}={}", l.key, l.value))
                .collect();
            vec![
                st.id.to_string(),
                st.address,
                state_name(st.state),
                labels.join(","),
                s.region_count.to_string(),
                s.leader_count.to_string(),
            ]
        })
        .collect();
    table(
        &["ID", "ADDRESS", "STATE", "LABELS", "REGIONS", "LEADERS"],
        rows,
    );
}

fn print_regions(regions: &[pdpb::GetRegionResponse], as_json: bool, single: bool) {
    if as_json {
        let values: Vec<Value> = regions.iter().map(region_json).collect();
        if single && values.len() == 1 {
            println!("{}", values[0]);
        } else {
            println!("{}", Value::Array(values));
        }
        return;
    }
    let rows = regions
        .iter()
        .map(|r| {
            let region = r.region.clone().unwrap_or_default();
            let epoch = region.region_epoch.unwrap_or_default();
            let peers: Vec<String> = region
                .peers
                .iter()
                .map(|p| {
                    let lead = r.leader.as_ref().is_some_and(|l| l.id == p.id);
                    let learner = if p.role == metapb::PeerRole::Learner as i32 {
                        "(L)"
                    } else {
                        ""
                    };
                    format!(
                        "{}@{}{}{}",
                        p.id,
                        p.store_id,
                        learner,
                        if lead { "*" } else { "" }
                    )
                })
                .collect();
            vec![
                region.id.to_string(),
                format!("\"{}\"", escape(&region.start_key)),
                format!("\"{}\"", escape(&region.end_key)),
                format!("{}/{}", epoch.conf_ver, epoch.version),
                peers.join(" "),
                r.pending_peers.len().to_string(),
                r.down_peers.len().to_string(),
                r.approximate_size.to_string(),
                r.approximate_keys.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "START",
            "END",
            "CONF/VER",
            "PEERS (id@store, *leader)",
            "PENDING",
            "DOWN",
            "SIZE",
            "KEYS",
        ],
        rows,
    );
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let pd = PdClient::connect(&cli.pd)
        .await
        .with_context(|| format!("cannot reach PD at {}", cli.pd))?;
    let as_json = cli.json;
    match cli.command {
        Command::Store(StoreCmd::List) => {
            let stores = pd.get_all_stores(false).await?;
            print_stores(&stores, as_json);
        }
        Command::Store(StoreCmd::Show { id }) => {
            let stores = pd.get_all_stores(false).await?;
            let Some(s) = stores
                .iter()
                .find(|s| s.store.as_ref().is_some_and(|st| st.id == id))
            else {
                bail!("store {id} not found");
            };
            if as_json {
                println!("{}", store_json(s));
            } else {
                print_stores(std::slice::from_ref(s), false);
            }
        }
        Command::Store(StoreCmd::Remove { id }) => {
            pd.remove_store(id).await?;
            println!("store {id} is being removed");
        }
        Command::Region(RegionCmd::List { engine }) => {
            let mut regions = pd.scan_regions(&[], &[], 0).await?;
            if let Some(engine) = engine {
                let columnar = pd.columnar_store_ids().await?;
                regions.retain(|r| {
                    r.region.as_ref().is_some_and(|g| {
                        g.peers
                            .iter()
                            .any(|p| columnar.contains(&p.store_id) == (engine == Engine::Columnar))
                    })
                });
            }
            print_regions(&regions, as_json, false);
        }
        Command::Region(RegionCmd::Show { id }) => {
            let r = pd.get_region_by_id(id).await?;
            if r.region.is_none() {
                bail!("region {id} not found");
            }
            print_regions(&[r], as_json, true);
        }
        Command::Region(RegionCmd::Key { key }) => {
            let r = pd.get_region(key.as_bytes()).await?;
            print_regions(&[r], as_json, true);
        }
        Command::Tso => {
            let ts = pd.get_ts().await?;
            if as_json {
                println!(
                    "{}",
                    json!({"ts": ts, "physical_ms": pd::core::physical(ts), "logical": pd::core::logical(ts)})
                );
            } else {
                println!("{ts}");
                eprintln!(
                    "physical: {} ms, logical: {}",
                    pd::core::physical(ts),
                    pd::core::logical(ts)
                );
            }
        }
        Command::Raw(cmd) => return raw(pd, cmd, as_json).await,
        Command::Operator(OperatorCmd::Add {
            kind,
            region,
            store,
        }) => {
            let kind = match kind {
                OperatorKindArg::TransferLeader => pdpb::OperatorKind::TransferLeader,
                OperatorKindArg::AddPeer => pdpb::OperatorKind::AddPeer,
                OperatorKindArg::RemovePeer => pdpb::OperatorKind::RemovePeer,
                OperatorKindArg::AddLearner => pdpb::OperatorKind::AddLearner,
            };
            let op = pd.add_operator(kind, region, store).await?;
            print_operators(&[op], as_json);
        }
        Command::Operator(OperatorCmd::Show) => {
            let ops = pd.get_operators().await?;
            print_operators(&ops, as_json);
        }
        Command::Scheduler(SchedulerCmd::Show) => {
            let schedulers = pd.get_schedulers().await?;
            if as_json {
                let v: Vec<Value> = schedulers
                    .iter()
                    .map(|s| json!({"name": s.name, "enabled": s.enabled, "config": s.config}))
                    .collect();
                println!("{}", Value::Array(v));
            } else {
                let rows = schedulers
                    .iter()
                    .map(|s| vec![s.name.clone(), s.enabled.to_string(), s.config.clone()])
                    .collect();
                table(&["NAME", "ENABLED", "CONFIG"], rows);
            }
        }
        Command::Gc(GcCmd::Status) => {
            let gc = pd.get_gc_safe_point().await?;
            print_gc(&gc, as_json);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_operators(ops: &[pdpb::OperatorInfo], as_json: bool) {
    if as_json {
        let v: Vec<Value> = ops
            .iter()
            .map(|o| {
                json!({
                    "region_id": o.region_id, "desc": o.desc, "source": o.source,
                    "steps": o.steps, "current_step": o.current_step, "age_ms": o.age_ms,
                    "status": o.status,
                })
            })
            .collect();
        println!("{}", Value::Array(v));
        return;
    }
    let rows = ops
        .iter()
        .map(|o| {
            vec![
                o.region_id.to_string(),
                o.desc.clone(),
                o.source.clone(),
                format!(
                    "{}/{}: {}",
                    o.current_step,
                    o.steps.len(),
                    o.steps.join(" -> ")
                ),
                format!("{}ms", o.age_ms),
                o.status.clone(),
            ]
        })
        .collect();
    table(
        &["REGION", "KIND", "SOURCE", "STEPS", "AGE", "STATUS"],
        rows,
    );
}

async fn raw(pd: PdClient, cmd: RawCmd, as_json: bool) -> Result<ExitCode> {
    let client = kv::client::RawClient::new(pd);
    match cmd {
        RawCmd::Put { key, value } => {
            client.put(key.into_bytes(), value.into_bytes()).await?;
            if !as_json {
                println!("OK");
            }
        }
        RawCmd::Get { key } => match client.get(key.clone().into_bytes()).await? {
            Some(v) => {
                if as_json {
                    println!("{}", json!({"key": key, "value": escape(&v)}));
                } else {
                    println!("{}", String::from_utf8_lossy(&v));
                }
            }
            None => {
                eprintln!("key {key:?} not found");
                return Ok(ExitCode::from(1));
            }
        },
        RawCmd::Delete { key } => {
            client.delete(key.into_bytes()).await?;
            if !as_json {
                println!("OK");
            }
        }
        RawCmd::Scan { start, end, limit } => {
            let kvs = client
                .scan(
                    start.into_bytes(),
                    end.map(String::into_bytes).unwrap_or_default(),
                    limit,
                )
                .await?;
            if as_json {
                let v: Vec<Value> = kvs
                    .iter()
                    .map(|(k, v)| json!({"key": escape(k), "value": escape(v)}))
                    .collect();
                println!("{}", Value::Array(v));
            } else {
                for (k, v) in kvs {
                    println!("{}\t{}", escape(&k), escape(&v));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
