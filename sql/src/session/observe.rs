//! Statement observability: counters and a latency histogram served as
//! Prometheus text on the status port (`/metrics`), `/status`, and the
//! slow-query log.
//!
//! A statement slower than `tidb_slow_log_threshold` milliseconds (default
//! 300, as TiDB) is logged ([`crate::execute::entry`]) at WARN under the tracing target `slow_query`
//! with its connection, user, database, duration and outcome.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 2.5, 10.0,
];
const KINDS: [&str; 6] = ["select", "insert", "update", "delete", "ddl", "other"];

/// The SQL server's metrics.
#[derive(Default)]
pub struct Metrics {
    pub connections: AtomicU64,
    pub connections_total: AtomicU64,
    /// [kind][ok=0 / error=1]
    statements: [[AtomicU64; 2]; 6],
    buckets: [AtomicU64; 12],
    count: AtomicU64,
    sum_micros: AtomicU64,
    pub slow_queries: AtomicU64,
    pub retries: AtomicU64,
}

impl Metrics {
    pub fn observe(&self, kind: usize, ok: bool, elapsed: Duration) {
        self.statements[kind][!ok as usize].fetch_add(1, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    /// Prometheus text exposition format, with the transaction client's
    /// columnar read counts.
    pub fn render(&self, columnar: (u64, u64)) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let g = |v: &AtomicU64| v.load(Ordering::Relaxed);
        let _ = writeln!(s, "# HELP duet_sql_connections Open client connections.");
        let _ = writeln!(s, "# TYPE duet_sql_connections gauge");
        let _ = writeln!(s, "duet_sql_connections {}", g(&self.connections));
        let _ = writeln!(
            s,
            "# HELP duet_sql_connections_total Client connections accepted."
        );
        let _ = writeln!(s, "# TYPE duet_sql_connections_total counter");
        let _ = writeln!(
            s,
            "duet_sql_connections_total {}",
            g(&self.connections_total)
        );
        let _ = writeln!(
            s,
            "# HELP duet_sql_statements_total Statements run, by kind and result."
        );
        let _ = writeln!(s, "# TYPE duet_sql_statements_total counter");
        for (k, kind) in KINDS.iter().enumerate() {
            for (r, result) in ["ok", "error"].iter().enumerate() {
                let _ = writeln!(
                    s,
                    "duet_sql_statements_total{{type=\"{kind}\",result=\"{result}\"}} {}",
                    g(&self.statements[k][r])
                );
            }
        }
        let _ = writeln!(
            s,
            "# HELP duet_sql_statement_duration_seconds Statement latency."
        );
        let _ = writeln!(s, "# TYPE duet_sql_statement_duration_seconds histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                s,
                "duet_sql_statement_duration_seconds_bucket{{le=\"{b}\"}} {}",
                g(&self.buckets[i])
            );
        }
        let count = g(&self.count);
        let _ = writeln!(
            s,
            "duet_sql_statement_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            s,
            "duet_sql_statement_duration_seconds_sum {}",
            g(&self.sum_micros) as f64 / 1e6
        );
        let _ = writeln!(s, "duet_sql_statement_duration_seconds_count {count}");
        let _ = writeln!(
            s,
            "# HELP duet_sql_slow_queries_total Statements above tidb_slow_log_threshold."
        );
        let _ = writeln!(s, "# TYPE duet_sql_slow_queries_total counter");
        let _ = writeln!(s, "duet_sql_slow_queries_total {}", g(&self.slow_queries));
        let _ = writeln!(
            s,
            "# HELP duet_sql_autocommit_retries_total Autocommit statements retried after a conflict."
        );
        let _ = writeln!(s, "# TYPE duet_sql_autocommit_retries_total counter");
        let _ = writeln!(s, "duet_sql_autocommit_retries_total {}", g(&self.retries));
        let _ = writeln!(
            s,
            "# HELP duet_sql_columnar_regions_total Region parts of columnar reads, by who answered."
        );
        let _ = writeln!(s, "# TYPE duet_sql_columnar_regions_total counter");
        let _ = writeln!(
            s,
            "duet_sql_columnar_regions_total{{answered_by=\"columnar\"}} {}",
            columnar.0
        );
        let _ = writeln!(
            s,
            "duet_sql_columnar_regions_total{{answered_by=\"row\"}} {}",
            columnar.1
        );
        s
    }
}

pub fn kind_of(sql: &str) -> usize {
    let first = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match first.as_str() {
        "select" | "with" | "show" => 0,
        "insert" | "replace" => 1,
        "update" => 2,
        "delete" => 3,
        "create" | "drop" | "alter" | "truncate" | "rename" => 4,
        _ => 5,
    }
}
