//! Statement observability: the slow-query log.
//!
//! A statement slower than `tidb_slow_log_threshold` milliseconds (default
//! 300, as TiDB) is logged at WARN under the tracing target `slow_query`
//! with its connection, user, database, duration and outcome.

use std::time::Duration;

use crate::error::Result;
use crate::session::{Output, Session};

pub fn statement_done(session: &Session, sql: &str, elapsed: Duration, result: &Result<Output>) {
    let threshold = session.shared.globals.get("tidb_slow_log_threshold").map(|v| v.to_text()).unwrap_or_default();
    let threshold: u64 = threshold.parse().unwrap_or(300);
    if elapsed >= Duration::from_millis(threshold) {
        let outcome = match result {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("error {}", e.code()),
        };
        let text: String = sql.chars().take(2048).collect();
        tracing::warn!(
            target: "slow_query",
            conn = session.id,
            user = %session.user,
            db = session.db.as_deref().unwrap_or(""),
            query_time_ms = elapsed.as_millis() as u64,
            outcome,
            "slow query: {text}"
        );
    }
}
