//! `duet`: one binary for every component.
//!
//! * `duet pd` — the placement driver;
//! * `duet kv` — a kv store;
//! * `duet columnar` — a columnar store (learner replicas kept as columns);
//! * `duet sql` — the SQL server (MySQL protocol);
//! * `duet playground` — PD, N kv stores, a columnar store and the SQL
//!   server in one process,
//!   talking real gRPC on loopback, for trying duet on one machine.
//!
//! Logs go to stderr (`RUST_LOG` filters them); stdout carries only what a
//! script may read (the playground's `ready`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

mod cluster;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "duet",
    version,
    about = "duet: a distributed HTAP SQL database"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the placement driver.
    Pd {
        #[arg(long, default_value = "127.0.0.1:2379")]
        addr: String,
        #[arg(long, default_value = "./duet-data/pd")]
        data_dir: PathBuf,
        /// Seconds without a heartbeat before a store is Down and its peers
        /// are replaced.
        #[arg(long, default_value_t = 1800)]
        max_store_down_time: u64,
    },
    /// Run a kv store.
    Kv {
        #[arg(long, default_value = "127.0.0.1:2379")]
        pd: String,
        #[arg(long, default_value = "127.0.0.1:20160")]
        addr: String,
        /// The address to advertise to PD, if not `--addr`.
        #[arg(long)]
        advertise_addr: Option<String>,
        #[arg(long, default_value = "./duet-data/kv")]
        data_dir: PathBuf,
        /// Store labels, `key=value`, repeatable.
        #[arg(long = "label")]
        labels: Vec<String>,
        /// Split regions above this many bytes.
        #[arg(long, default_value_t = 96 * 1024 * 1024)]
        region_split_size: u64,
    },
    /// Run a columnar store: it hosts learner replicas of tables with
    /// `SET COLUMNAR REPLICA n` and serves analytical scans over them.
    Columnar {
        #[arg(long, default_value = "127.0.0.1:2379")]
        pd: String,
        #[arg(long, default_value = "127.0.0.1:3930")]
        addr: String,
        /// The address to advertise to PD, if not `--addr`.
        #[arg(long)]
        advertise_addr: Option<String>,
        #[arg(long, default_value = "./duet-data/columnar")]
        data_dir: PathBuf,
        /// More store labels, `key=value`, repeatable (`engine=columnar` is
        /// always set).
        #[arg(long = "label")]
        labels: Vec<String>,
    },
    /// Run the SQL server (MySQL protocol).
    Sql {
        #[arg(long, default_value = "127.0.0.1:2379")]
        pd: String,
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 4000)]
        port: u16,
        /// HTTP status port (`/metrics`, `/status`); 0 turns it off.
        #[arg(long, default_value_t = 10080)]
        status_port: u16,
    },
    /// Run PD, N kv stores, columnar stores and the SQL server in one
    /// process.
    Playground {
        #[arg(long, default_value = "./duet-data")]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 2379)]
        pd_port: u16,
        #[arg(long, default_value_t = 20160)]
        kv_base_port: u16,
        #[arg(long, default_value_t = 3)]
        kv_stores: u16,
        /// The first columnar store's port.
        #[arg(long, default_value_t = 3930)]
        columnar_port: u16,
        #[arg(long, default_value_t = 1)]
        columnar_stores: u16,
        #[arg(long, default_value_t = 4000)]
        sql_port: u16,
        /// The SQL server's HTTP status port; 0 turns it off.
        #[arg(long, default_value_t = 10080)]
        status_port: u16,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn parse_labels(labels: &[String]) -> Result<Vec<(String, String)>> {
    labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => bail!("label {l:?} is not key=value"),
        })
        .collect()
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("duet")
        .build()
        .context("start the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Pd { addr, data_dir, max_store_down_time } => {
                let cfg = pd::server::PdConfig {
                    data_dir,
                    max_store_down_time: Duration::from_secs(max_store_down_time),
                    ..Default::default()
                };
                let pd = cluster::start_pd(cfg, &addr).await?;
                eprintln!("duet pd serving on {}", pd.addr());
                cluster::wait_for_signal().await;
                pd.shutdown().await;
            }
            Command::Kv { pd, addr, advertise_addr, data_dir, labels, region_split_size } => {
                let raftstore = kv::raftstore::Config { region_split_size, ..Default::default() };
                let cfg = kv::server::KvConfig {
                    advertise_addr: advertise_addr.unwrap_or_else(|| addr.clone()),
                    data_dir,
                    pd_addr: pd,
                    labels: parse_labels(&labels)?,
                    raftstore,
                    apply_observer: None,
                };
                let store = cluster::start_kv(cfg, &addr).await?;
                eprintln!("duet kv store {} serving on {}", store.store_id(), store.addr());
                cluster::wait_for_signal().await;
                store.shutdown().await;
            }
            Command::Columnar { pd, addr, advertise_addr, data_dir, labels } => {
                let cfg = kv::server::KvConfig {
                    advertise_addr: advertise_addr.unwrap_or_else(|| addr.clone()),
                    data_dir,
                    pd_addr: pd,
                    labels: parse_labels(&labels)?,
                    raftstore: Default::default(),
                    apply_observer: None,
                };
                let store = cluster::start_columnar(cfg, &addr).await?;
                eprintln!("duet columnar store {} serving on {}", store.store_id(), store.addr());
                cluster::wait_for_signal().await;
                store.shutdown().await;
            }
            Command::Sql { pd, host, port, status_port } => {
                let status = (status_port != 0).then(|| format!("{host}:{status_port}"));
                let server = cluster::start_sql(&pd, &format!("{host}:{port}"), status.as_deref()).await?;
                eprintln!("duet sql serving on {}", server.addr());
                cluster::wait_for_signal().await;
                server.shutdown().await;
            }
            Command::Playground {
                data_dir,
                pd_port,
                kv_base_port,
                kv_stores,
                columnar_port,
                columnar_stores,
                sql_port,
                status_port,
            } => {
                if kv_stores == 0 {
                    bail!("--kv-stores must be at least 1");
                }
                let mut playground = cluster::Playground::start(
                    &data_dir,
                    pd_port,
                    kv_base_port,
                    kv_stores,
                    columnar_port,
                    columnar_stores,
                )
                .await?;
                playground.wait_ready(Duration::from_secs(120)).await?;
                playground.start_sql(sql_port, (status_port != 0).then_some(status_port)).await?;
                println!("ready");
                eprintln!(
                    "duet playground: PD at 127.0.0.1:{pd_port}, {kv_stores} kv stores from port {kv_base_port}, {columnar_stores} columnar stores from port {columnar_port}, SQL on port {sql_port}\n\
                     try: mysql -h 127.0.0.1 -P {sql_port} -u root\n\
                     or:  duet-ctl --pd 127.0.0.1:{pd_port} store list"
                );
                cluster::wait_for_signal().await;
                playground.shutdown().await;
            }
        }
        Ok(())
    })
}
