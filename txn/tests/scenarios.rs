//! # Golden scenario tests for the Percolator layer
//!
//! Every `tests/scenarios/*.txt` is a script run against a fresh
//! `kv::engine::MemoryEngine` (toydb's goldenscript, CockroachDB's
//! datadriven style). A script is a sequence of blocks:
//!
//! ```text
//! # comments and blank lines are kept as they are
//! prewrite k1=v1 k2=v2 primary=k1 start=10
//! ----
//! ok min_commit_ts=11
//! put lock k1: Put primary=k1 start=10 ttl=3000 value=v1 min_commit=11
//! ...
//! ```
//!
//! The lines after `----`, up to a blank line, are the expected output.
//! Write commands print their result and then every engine write they made,
//! decoded; on an error nothing is written. `UPDATE_GOLDEN=1 cargo test -p
//! txn --test scenarios` rewrites the files with the actual output (review
//! the diff!); otherwise a mismatch fails with both versions of each block.
//!
//! The command language (timestamps are numbers or `phys(MS)` for a TSO
//! timestamp with that physical part; values `v` or `x*300` for 300 `x`s):
//!
//! ```text
//! prewrite MUT... primary=K start=TS [ttl=3000] [txn_size=N] [for_update=TS]
//!          [min_commit=TS] [pessimistic=K,K] [one_pc=TS]
//!     MUT: K=V (put) | del:K | lock:K | insert:K=V | check:K (check not exists)
//!     min_commit defaults to max(start, for_update) + 1, as TiDB sends it
//! commit K... start=TS commit=TS
//! rollback K... start=TS                      (BatchRollback)
//! cleanup K start=TS current=TS
//! check_txn_status K start=TS caller=TS current=TS [rollback_if_not_exist]
//!          [resolving_pessimistic]
//! resolve_lock start=TS commit=TS [from=K] [to=K] [limit=N]
//! pessimistic_lock K... primary=K start=TS for_update=TS [ttl=3000]
//!          [not_exist=K,K] [return_values] [min_commit=TS]
//! pessimistic_rollback K... start=TS for_update=TS
//! get K ts=TS [bypass=TS,TS]
//! scan START [END] ts=TS [limit=N] [reverse] [key_only] [bypass=TS,TS]
//! scan_lock max_ts=TS [from=K] [to=K] [limit=N]
//! gc safe_point=TS [from=K] [to=K] [limit=N]
//! dump
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use kv::engine::{CF_DEFAULT, CF_LOCK, CF_WRITE, MemoryEngine, Peekable};
use kv::keys;
use txn::actions::TxnStatus;
use txn::commands::{self, PessimisticLockArgs, PrewriteArgs, WriteResult};
use txn::mvcc::{Modify, MvccReader, apply_modifies_to, point_getter, scanner};
use txn::types::{Key, Lock, Mutation, TimeStamp, Write, escape};

#[test]
fn scenarios() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no scenarios in {}", dir.display());
    let mut failures = String::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap();
        let script = Script::parse(&text);
        let mut runner = Runner::new();
        let mut actual = Vec::new();
        for block in &script.blocks {
            actual.push(runner.run(&block.command));
        }
        if update {
            let rendered = script.render(&actual);
            if rendered != text {
                std::fs::write(path, rendered).unwrap();
            }
            continue;
        }
        for (block, got) in script.blocks.iter().zip(&actual) {
            if &block.expected != got {
                let _ = write!(
                    failures,
                    "\n=== {} (line {}): {}\n--- expected\n{}\n+++ actual\n{}\n",
                    path.file_name().unwrap().to_string_lossy(),
                    block.line,
                    block.command,
                    block.expected.join("\n"),
                    got.join("\n"),
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "scenario output differs (UPDATE_GOLDEN=1 to rewrite):{failures}"
    );
}

// ---------------------------------------------------------------------------
// Script files

struct Block {
    /// Comment and blank lines before the command.
    prelude: Vec<String>,
    command: String,
    line: usize,
    expected: Vec<String>,
}

struct Script {
    blocks: Vec<Block>,
    trailer: Vec<String>,
}

impl Script {
    fn parse(text: &str) -> Script {
        let mut blocks = vec![];
        let mut prelude = vec![];
        let mut lines = text.lines().enumerate().peekable();
        while let Some((n, line)) = lines.next() {
            if line.trim().is_empty() || line.starts_with('#') {
                prelude.push(line.to_string());
                continue;
            }
            let mut expected = vec![];
            if lines.peek().is_some_and(|(_, l)| *l == "----") {
                lines.next();
                for (_, l) in lines.by_ref() {
                    if l.is_empty() {
                        break;
                    }
                    expected.push(l.to_string());
                }
            }
            blocks.push(Block {
                prelude: std::mem::take(&mut prelude),
                command: line.trim().to_string(),
                line: n + 1,
                expected,
            });
        }
        Script {
            blocks,
            trailer: prelude,
        }
    }

    fn render(&self, outputs: &[Vec<String>]) -> String {
        let mut s = String::new();
        for (block, output) in self.blocks.iter().zip(outputs) {
            for l in &block.prelude {
                s.push_str(l);
                s.push('\n');
            }
            let _ = writeln!(s, "{}\n----", block.command);
            for l in output {
                let _ = writeln!(s, "{l}");
            }
            s.push('\n');
        }
        for l in &self.trailer {
            s.push_str(l);
            s.push('\n');
        }
        // Blocks end with a blank line; don't let preludes add more.
        while s.contains("\n\n\n") {
            s = s.replace("\n\n\n", "\n\n");
        }
        while s.ends_with("\n\n") {
            s.pop();
        }
        s
    }
}

// ---------------------------------------------------------------------------
// Command parsing

struct Args {
    positional: Vec<String>,
    named: HashMap<String, String>,
}

impl Args {
    /// `named` lists the option names; other `a=b` tokens are positional.
    fn parse(tokens: &[&str], named: &[&str]) -> Args {
        let mut args = Args {
            positional: vec![],
            named: HashMap::new(),
        };
        for t in tokens {
            match t.split_once('=') {
                Some((k, v)) if named.contains(&k) => {
                    args.named.insert(k.to_string(), v.to_string());
                }
                _ => args.positional.push(t.to_string()),
            }
        }
        args
    }

    fn ts(&self, name: &str) -> TimeStamp {
        parse_ts(
            self.named
                .get(name)
                .unwrap_or_else(|| panic!("missing {name}=")),
        )
    }

    fn ts_or(&self, name: &str, default: TimeStamp) -> TimeStamp {
        self.named.get(name).map_or(default, |v| parse_ts(v))
    }

    fn u64_or(&self, name: &str, default: u64) -> u64 {
        self.named.get(name).map_or(default, |v| v.parse().unwrap())
    }

    fn key(&self, name: &str) -> Option<Key> {
        self.named.get(name).map(|k| Key::from_raw(k.as_bytes()))
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.named
            .get(name)
            .map_or(vec![], |v| v.split(',').map(str::to_string).collect())
    }

    fn flag(&mut self, name: &str) -> bool {
        let before = self.positional.len();
        self.positional.retain(|p| p != name);
        before != self.positional.len()
    }

    fn keys(&self) -> Vec<Key> {
        self.positional
            .iter()
            .map(|k| Key::from_raw(k.as_bytes()))
            .collect()
    }
}

fn parse_ts(s: &str) -> TimeStamp {
    if let Some(ms) = s.strip_prefix("phys(").and_then(|r| r.strip_suffix(')')) {
        return TimeStamp::compose(ms.parse().unwrap(), 0);
    }
    TimeStamp::new(s.parse().unwrap_or_else(|_| panic!("bad timestamp {s}")))
}

fn parse_value(s: &str) -> Vec<u8> {
    match s.split_once('*') {
        Some((v, n)) => v.repeat(n.parse().unwrap()).into_bytes(),
        None => s.as_bytes().to_vec(),
    }
}

fn show_value(v: &[u8]) -> String {
    if v.len() > 16 && v.iter().all(|b| *b == v[0]) {
        return format!("{}*{}", escape(&v[..1]), v.len());
    }
    escape(v)
}

// ---------------------------------------------------------------------------
// Running commands

struct Runner {
    engine: MemoryEngine,
}

type Output = Vec<String>;

impl Runner {
    fn new() -> Runner {
        Runner {
            engine: MemoryEngine::new(),
        }
    }

    fn run(&mut self, command: &str) -> Output {
        let tokens: Vec<&str> = command.split_whitespace().collect();
        let (name, rest) = tokens.split_first().expect("empty command");
        match *name {
            "prewrite" => self.prewrite(rest),
            "commit" => {
                let a = Args::parse(rest, &["start", "commit"]);
                let (start, commit) = (a.ts("start"), a.ts("commit"));
                self.write(
                    |r| commands::commit(r, a.keys(), start, commit),
                    |()| "ok".into(),
                )
            }
            "rollback" => {
                let a = Args::parse(rest, &["start"]);
                let start = a.ts("start");
                self.write(
                    |r| commands::batch_rollback(r, a.keys(), start),
                    |()| "ok".into(),
                )
            }
            "cleanup" => {
                let a = Args::parse(rest, &["start", "current"]);
                let key = a.keys().remove(0);
                let (start, current) = (a.ts("start"), a.ts_or("current", TimeStamp::zero()));
                self.write(
                    |r| commands::cleanup(r, key, start, current),
                    |()| "ok".into(),
                )
            }
            "check_txn_status" => {
                let mut a = Args::parse(rest, &["start", "caller", "current"]);
                let rollback = a.flag("rollback_if_not_exist");
                let resolving = a.flag("resolving_pessimistic");
                let key = a.keys().remove(0);
                let (start, caller, current) = (a.ts("start"), a.ts("caller"), a.ts("current"));
                self.write(
                    |r| {
                        if resolving {
                            commands::check_txn_status_resolving_pessimistic_lock(
                                r, key, start, caller, current, rollback,
                            )
                        } else {
                            commands::check_txn_status(r, key, start, caller, current, rollback)
                        }
                    },
                    show_status,
                )
            }
            "resolve_lock" => {
                let a = Args::parse(rest, &["start", "commit", "from", "to", "limit"]);
                let (start, commit) = (a.ts("start"), a.ts("commit"));
                let limit = a.u64_or("limit", 0) as usize;
                self.write(
                    |r| commands::resolve_lock(r, start, commit, a.key("from"), a.key("to"), limit),
                    |o| match o.next_key {
                        Some(k) => format!("resolved={} next_key={k}", o.resolved),
                        None => format!("resolved={}", o.resolved),
                    },
                )
            }
            "pessimistic_lock" => self.pessimistic_lock(rest),
            "pessimistic_rollback" => {
                let a = Args::parse(rest, &["start", "for_update"]);
                let (start, for_update) = (a.ts("start"), a.ts("for_update"));
                self.write(
                    |r| commands::pessimistic_rollback(r, a.keys(), start, for_update),
                    |()| "ok".into(),
                )
            }
            "get" => {
                let a = Args::parse(rest, &["ts", "bypass"]);
                let key = a.keys().remove(0);
                let bypass: Vec<_> = a.list("bypass").iter().map(|t| parse_ts(t)).collect();
                let mut reader = MvccReader::new(&self.engine);
                match point_getter::get(&mut reader, &key, a.ts("ts"), &bypass) {
                    Ok(Some(v)) => vec![format!("{key} => {}", show_value(&v))],
                    Ok(None) => vec![format!("{key} => (none)")],
                    Err(e) => vec![format!("error: {e}")],
                }
            }
            "scan" => self.scan(rest),
            "scan_lock" => {
                let a = Args::parse(rest, &["max_ts", "from", "to", "limit"]);
                let limit = a.u64_or("limit", 0) as usize;
                let mut reader = MvccReader::new(&self.engine);
                match commands::scan_lock(
                    &mut reader,
                    a.ts("max_ts"),
                    a.key("from"),
                    a.key("to"),
                    limit,
                ) {
                    Ok(locks) if locks.is_empty() => vec!["(no locks)".into()],
                    Ok(locks) => locks.iter().map(|l| l.to_string()).collect(),
                    Err(e) => vec![format!("error: {e}")],
                }
            }
            "gc" => {
                let a = Args::parse(rest, &["safe_point", "from", "to", "limit"]);
                let start = a.key("from").unwrap_or_default();
                let limit = a.u64_or("limit", 0) as usize;
                let safe_point = a.ts("safe_point");
                self.write(
                    |r| commands::gc(r, start, a.key("to"), safe_point, limit),
                    |o| match o.next_key {
                        Some(k) => format!("deleted_versions={} next_key={k}", o.deleted_versions),
                        None => format!("deleted_versions={}", o.deleted_versions),
                    },
                )
            }
            "dump" => self.dump(),
            other => panic!("unknown command {other}"),
        }
    }

    /// Runs a write command; prints its output and the writes it applied.
    fn write<T>(
        &mut self,
        f: impl FnOnce(&mut MvccReader<'_>) -> txn::Result<WriteResult<T>>,
        show: impl FnOnce(T) -> String,
    ) -> Output {
        let mut reader = MvccReader::new(&self.engine);
        match f(&mut reader) {
            Ok(WriteResult { modifies, output }) => {
                apply_modifies_to(&self.engine, &modifies).unwrap();
                let mut out: Output = show(output).lines().map(str::to_string).collect();
                out.extend(modifies.iter().map(show_modify));
                out
            }
            Err(e) => vec![format!("error: {e}")],
        }
    }

    fn prewrite(&mut self, rest: &[&str]) -> Output {
        let names = [
            "primary",
            "start",
            "ttl",
            "txn_size",
            "for_update",
            "min_commit",
            "pessimistic",
            "one_pc",
        ];
        let a = Args::parse(rest, &names);
        let start = a.ts("start");
        let for_update = a.ts_or("for_update", TimeStamp::zero());
        let pessimistic = a.list("pessimistic");
        let mut mutations = vec![];
        let mut flags = vec![];
        for m in &a.positional {
            let (kind, body) = m.split_once(':').unwrap_or(("put", m));
            let (k, v) = body
                .split_once('=')
                .map_or((body, None), |(k, v)| (k, Some(v)));
            let key = Key::from_raw(k.as_bytes());
            mutations.push(match (kind, v) {
                ("put", Some(v)) => Mutation::Put(key, parse_value(v)),
                ("insert", Some(v)) => Mutation::Insert(key, parse_value(v)),
                ("del", None) => Mutation::Delete(key),
                ("lock", None) => Mutation::Lock(key),
                ("check", None) => Mutation::CheckNotExists(key),
                _ => panic!("bad mutation {m}"),
            });
            flags.push(pessimistic.iter().any(|p| p == k));
        }
        let args = PrewriteArgs {
            mutations,
            primary: a.named["primary"].as_bytes().to_vec(),
            start_ts: start,
            lock_ttl: a.u64_or("ttl", 3000),
            txn_size: a.u64_or("txn_size", 0),
            for_update_ts: for_update,
            is_pessimistic_lock: if pessimistic.is_empty() {
                vec![]
            } else {
                flags
            },
            min_commit_ts: a.ts_or("min_commit", start.max(for_update).next()),
            one_pc_commit_ts: a.named.get("one_pc").map(|t| parse_ts(t)),
            max_commit_ts: TimeStamp::zero(),
        };
        self.write(
            |r| commands::prewrite(r, &args),
            |o| {
                if !o.locks.is_empty() {
                    let locks: Vec<_> = o.locks.iter().map(|l| format!("locked: {l}")).collect();
                    return locks.join("\n");
                }
                match o.one_pc_commit_ts {
                    Some(c) => format!("ok min_commit_ts={} one_pc_commit_ts={c}", o.min_commit_ts),
                    None => format!("ok min_commit_ts={}", o.min_commit_ts),
                }
            },
        )
    }

    fn pessimistic_lock(&mut self, rest: &[&str]) -> Output {
        let names = [
            "primary",
            "start",
            "for_update",
            "ttl",
            "not_exist",
            "min_commit",
        ];
        let mut a = Args::parse(rest, &names);
        let return_values = a.flag("return_values");
        let not_exist = a.list("not_exist");
        let args = PessimisticLockArgs {
            keys: a
                .positional
                .iter()
                .map(|k| (Key::from_raw(k.as_bytes()), not_exist.contains(k)))
                .collect(),
            primary: a.named["primary"].as_bytes().to_vec(),
            start_ts: a.ts("start"),
            lock_ttl: a.u64_or("ttl", 3000),
            for_update_ts: a.ts("for_update"),
            return_values,
            min_commit_ts: a.ts_or("min_commit", TimeStamp::zero()),
        };
        self.write(
            |r| commands::acquire_pessimistic_lock(r, &args),
            |values| {
                if !return_values {
                    return "ok".into();
                }
                let shown: Vec<_> = values
                    .iter()
                    .map(|v| v.as_deref().map_or("(none)".into(), show_value))
                    .collect();
                format!("ok values=[{}]", shown.join(", "))
            },
        )
    }

    fn scan(&mut self, rest: &[&str]) -> Output {
        let mut a = Args::parse(rest, &["ts", "limit", "bypass"]);
        let reverse = a.flag("reverse");
        let key_only = a.flag("key_only");
        let keys = a.keys();
        let bypass: Vec<_> = a.list("bypass").iter().map(|t| parse_ts(t)).collect();
        let mut reader = MvccReader::new(&self.engine);
        let limit = a.u64_or("limit", 0) as usize;
        let ts = a.ts("ts");
        match scanner::scan(
            &mut reader,
            &keys[0],
            keys.get(1),
            ts,
            limit,
            key_only,
            reverse,
            &bypass,
        ) {
            Ok(entries) if entries.is_empty() => vec!["(empty)".into()],
            Ok(entries) => entries
                .into_iter()
                .map(|e| match e {
                    Ok((k, _)) if key_only => escape(&k),
                    Ok((k, v)) => format!("{} => {}", escape(&k), show_value(&v)),
                    Err(e) => format!("error: {e}"),
                })
                .collect(),
            Err(e) => vec![format!("error: {e}")],
        }
    }

    fn dump(&self) -> Output {
        let mut out = vec![];
        for cf in [CF_LOCK, CF_WRITE, CF_DEFAULT] {
            self.engine
                .scan(cf, keys::DATA_MIN_KEY, keys::DATA_MAX_KEY, &mut |k, v| {
                    out.push(format!(
                        "{cf} {}: {}",
                        show_key(cf, keys::origin_key(k)),
                        show_record(cf, v)
                    ));
                    true
                })
                .unwrap();
        }
        if out.is_empty() {
            out.push("(empty)".into());
        }
        out
    }
}

fn show_status(status: TxnStatus) -> String {
    match status {
        TxnStatus::Committed { commit_ts } => format!("Committed commit_ts={commit_ts}"),
        TxnStatus::Uncommitted {
            lock,
            min_commit_ts_pushed,
        } => format!("Uncommitted min_commit_ts_pushed={min_commit_ts_pushed} lock: {lock}"),
        other => format!("{other:?}"),
    }
}

fn show_key(cf: &str, key: &[u8]) -> String {
    if cf == CF_LOCK {
        return Key::from_encoded_slice(key).to_string();
    }
    let (user, ts) = Key::split_on_ts_for(key).unwrap();
    format!("{}@{ts}", Key::from_encoded_slice(user))
}

fn show_record(cf: &str, value: &[u8]) -> String {
    match cf {
        CF_LOCK => Lock::parse(value).unwrap().to_string(),
        CF_WRITE => Write::parse(value).unwrap().to_string(),
        _ => show_value(value),
    }
}

fn show_modify(m: &Modify) -> String {
    match m {
        Modify::Put { cf, key, value } => {
            format!("put {cf} {}: {}", show_key(cf, key), show_record(cf, value))
        }
        Modify::Delete { cf, key } => format!("delete {cf} {}", show_key(cf, key)),
    }
}
