//! The cluster under test as separate processes on loopback: `duet pd`,
//! N × `duet kv` and `duet sql`, each on its own port and data dir under
//! one temp dir, each logging to `<dir>/<name>.log`.
//!
//! The nemesis reaches them only as an operator would: SIGKILL and a
//! restart with the same arguments (so on the same data dir), SIGSTOP and
//! SIGCONT. Nothing else about a process is known here.
//!
//! Every process dies with the [`Processes`] value: dropped (also while a
//! panic unwinds) it continues the paused ones and SIGKILLs and reaps them
//! all; on Linux each child also gets `PR_SET_PDEATHSIG`, so a test runner
//! that kills the driver outright takes the cluster down with it.
//!
//! Ports are picked free below the kernel's ephemeral range: a store is
//! restarted on the port it had, and a port in the ephemeral range could
//! meanwhile be taken as the local end of some outgoing connection.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rand::Rng;

use super::schedule::Target;

/// How long a (re)started process gets to listen on its port.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// One `duet` process: how to start it and, while it runs, its child.
pub struct Node {
    pub name: String,
    args: Vec<String>,
    /// The address it listens on once started.
    pub addr: SocketAddr,
    log: PathBuf,
    child: Option<Child>,
    paused: bool,
}

impl Node {
    fn new(name: &str, dir: &Path, addr: SocketAddr, args: Vec<String>) -> Node {
        Node {
            name: name.to_string(),
            args,
            addr,
            log: dir.join(format!("{name}.log")),
            child: None,
            paused: false,
        }
    }

    fn spawn(&mut self, duet: &Path) -> Result<()> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("open {}", self.log.display()))?;
        let mut cmd = Command::new(duet);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Each process leads its own process group, whose parent (this
            // driver) stays in the session: the group is never orphaned
            // while paused, so the kernel's SIGHUP to orphaned groups with
            // a stopped member cannot kill it if the driver's own group is
            // orphaned (a driver started in the background of a shell that
            // then exits). A process that dies of a signal is reported with
            // the signal's name.
            cmd.process_group(0);
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl is async-signal-safe; nothing else runs between
            // fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("start {} ({})", self.name, duet.display()))?;
        self.child = Some(child);
        self.paused = false;
        Ok(())
    }

    /// Starts the process and waits until it listens on its address; a
    /// process that exits at once (its port still held, say) is started
    /// again, a few times.
    async fn start(&mut self, duet: &Path) -> Result<()> {
        for attempt in 1..=5 {
            self.spawn(duet)?;
            match self.wait_listening().await {
                Ok(()) => return Ok(()),
                Err(e) if attempt < 5 => {
                    eprintln!(
                        "nemesis: {} did not come up ({e:#}); starting it again",
                        self.name
                    );
                    self.kill();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("the last attempt returns")
    }

    async fn wait_listening(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.exited() {
                bail!("{} exited: {status}", self.name);
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} not listening on {} after {START_TIMEOUT:?}",
                    self.name,
                    self.addr
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The exit status, if the process ran and is gone.
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// SIGKILL (continuing it first if paused) and reap.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if self.paused {
                signal(&child, libc::SIGCONT);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        self.paused = false;
    }

    fn pause(&mut self) {
        if let Some(child) = &self.child {
            signal(child, libc::SIGSTOP);
            self.paused = true;
        }
    }

    fn resume(&mut self) {
        if let Some(child) = &self.child {
            signal(child, libc::SIGCONT);
        }
        self.paused = false;
    }

    /// The last `n` lines of its log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill(2) on the pid of a child not yet reaped (we hold its
    // `Child` and only `kill` reaps it), so the pid is not recycled.
    unsafe {
        libc::kill(child.id() as libc::pid_t, sig);
    }
}

/// PD, the kv stores and the SQL server, and the temp dir they live in.
pub struct Processes {
    duet: PathBuf,
    pub pd: Node,
    pub kvs: Vec<Node>,
    pub sql: Node,
    // Dropped after the nodes (fields drop in order): the processes are
    // gone before their data dirs are removed.
    dir: Option<tempfile::TempDir>,
    kept: Option<PathBuf>,
}

impl Processes {
    /// Starts PD, `kv_stores` kv stores and the SQL server, each once the
    /// one before listens.
    pub async fn start(duet: &Path, kv_stores: usize) -> Result<Processes> {
        let dir = tempfile::Builder::new().prefix("duet-nemesis-").tempdir()?;
        let path = dir.path().to_path_buf();
        let ports = free_ports(kv_stores + 2)?;
        let addr = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
        let data = |name: &str| path.join(name).to_string_lossy().into_owned();
        let pd_addr = addr(ports[0]).to_string();
        let pd = Node::new(
            "pd",
            &path,
            addr(ports[0]),
            vec![
                "pd".into(),
                "--addr".into(),
                pd_addr.clone(),
                "--data-dir".into(),
                data("pd"),
            ],
        );
        let kvs = (0..kv_stores)
            .map(|i| {
                let name = format!("kv{i}");
                let a = addr(ports[1 + i]);
                let args = vec![
                    "kv".into(),
                    "--pd".into(),
                    pd_addr.clone(),
                    "--addr".into(),
                    a.to_string(),
                    "--data-dir".into(),
                    data(&name),
                ];
                Node::new(&name, &path, a, args)
            })
            .collect();
        let sql_port = ports[kv_stores + 1];
        let sql = Node::new(
            "sql",
            &path,
            addr(sql_port),
            vec![
                "sql".into(),
                "--pd".into(),
                pd_addr,
                "--port".into(),
                sql_port.to_string(),
                "--status-port".into(),
                "0".into(),
            ],
        );
        let mut p = Processes {
            duet: duet.to_path_buf(),
            pd,
            kvs,
            sql,
            dir: Some(dir),
            kept: None,
        };
        match p.start_all().await {
            Ok(()) => Ok(p),
            Err(e) => {
                let dir = p.keep();
                Err(e.context(format!("data dirs and logs kept in {}", dir.display())))
            }
        }
    }

    async fn start_all(&mut self) -> Result<()> {
        self.pd.start(&self.duet).await?;
        for kv in &mut self.kvs {
            kv.start(&self.duet).await?;
        }
        // `duet sql` listens only once the cluster is bootstrapped.
        self.sql.start(&self.duet).await
    }

    /// Where the data dirs and logs are.
    pub fn dir(&self) -> &Path {
        match (&self.dir, &self.kept) {
            (Some(d), _) => d.path(),
            (None, Some(k)) => k,
            (None, None) => unreachable!("one of the two is set"),
        }
    }

    /// Keeps the data dirs and logs when the processes go; returns where.
    pub fn keep(&mut self) -> PathBuf {
        if let Some(dir) = self.dir.take() {
            self.kept = Some(dir.keep());
        }
        self.dir().to_path_buf()
    }

    pub fn pd_addr(&self) -> String {
        self.pd.addr.to_string()
    }

    pub fn sql_url(&self) -> String {
        format!("mysql://root@{}/test", self.sql.addr)
    }

    fn node(&mut self, target: Target) -> &mut Node {
        match target {
            Target::Pd => &mut self.pd,
            Target::Kv(i) => &mut self.kvs[i],
        }
    }

    pub fn kill(&mut self, target: Target) {
        self.node(target).kill();
    }

    pub async fn restart(&mut self, target: Target) -> Result<()> {
        let duet = self.duet.clone();
        self.node(target).start(&duet).await
    }

    pub fn pause(&mut self, target: Target) {
        self.node(target).pause();
    }

    pub fn resume(&mut self, target: Target) {
        self.node(target).resume();
    }

    /// Processes that exited without the nemesis killing them, with the
    /// tail of their logs; each is started again.
    pub async fn restart_crashed(&mut self) -> Result<Vec<String>> {
        let duet = self.duet.clone();
        let mut crashed = Vec::new();
        let nodes = std::iter::once(&mut self.pd)
            .chain(self.kvs.iter_mut())
            .chain(std::iter::once(&mut self.sql));
        for node in nodes {
            if let Some(status) = node.exited() {
                crashed.push(format!(
                    "{} exited on its own ({status}); its log ends:\n{}",
                    node.name,
                    node.log_tail(30)
                ));
                node.child = None;
                node.start(&duet).await?;
            }
        }
        Ok(crashed)
    }
}

/// `n` distinct ports free on 127.0.0.1, below the ephemeral range.
fn free_ports(n: usize) -> Result<Vec<u16>> {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let range = 10_000..low.max(12_000);
    let mut ports: Vec<u16> = Vec::new();
    let mut held = Vec::new();
    for _ in 0..1_000 {
        if ports.len() == n {
            return Ok(ports);
        }
        let p = rand::rng().random_range(range.clone());
        if ports.contains(&p) {
            continue;
        }
        if let Ok(l) = TcpListener::bind(("127.0.0.1", p)) {
            held.push(l);
            ports.push(p);
        }
    }
    bail!("no {n} free ports in {range:?}")
}
