//! # The apply log: what the learner applied, in order
//!
//! The columnar view must change exactly as the learner's data does. The
//! raftstore calls [`ApplyLog`] (a [`kv::raftstore::ApplyObserver`]) while
//! an apply batch is open; it appends one record per change that matters
//! to the columnar view into the same batch, under
//! [`kv::keys::apply_log_key`]`(seq)`:
//!
//! * [`LogRecord::Commit`]: a commit record of a table row was written
//!   (the write CF key: encoded row key + commit ts). The value is not
//!   copied: the write record and, for long values, the default CF entry
//!   are in the engine by the time the record is read.
//! * [`LogRecord::Reset`]: the data of a key range was replaced by a
//!   snapshot or removed with a destroyed peer. The columnar view rebuilds
//!   that range from the engine.
//!
//! Commits of index entries, locks, rollbacks and GC deletions are not
//! logged: the columnar view holds table rows, and locks are read from the
//! lock CF at read time. Sequence numbers continue after the highest one
//! in the engine when the store starts.

use std::sync::atomic::{AtomicU64, Ordering};

use kv::engine::{CF_RAFT, CF_WRITE, EngineRef, WriteBatch};
use kv::raftstore::ApplyObserver;
use proto::metapb;
use proto::raft_cmdpb::{CmdType, Request};
use txn::types::Key;

use crate::{Error, Result};

/// One change to the columnar view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogRecord {
    /// The write CF key (encoded user key + commit ts) of a row's commit
    /// record.
    Commit(Vec<u8>),
    /// User keys `[start, end)` (encoded, as region boundaries; empty end:
    /// unbounded) must be rebuilt from the engine.
    Reset { start: Vec<u8>, end: Vec<u8> },
}

const TAG_COMMIT: u8 = 1;
const TAG_RESET: u8 = 2;

impl LogRecord {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            LogRecord::Commit(key) => {
                let mut v = Vec::with_capacity(key.len() + 1);
                v.push(TAG_COMMIT);
                v.extend_from_slice(key);
                v
            }
            LogRecord::Reset { start, end } => {
                let mut v = Vec::with_capacity(start.len() + end.len() + 5);
                v.push(TAG_RESET);
                v.extend_from_slice(&(start.len() as u32).to_be_bytes());
                v.extend_from_slice(start);
                v.extend_from_slice(end);
                v
            }
        }
    }

    pub fn decode(b: &[u8]) -> Result<LogRecord> {
        let bad = || Error::Corrupt(format!("apply log record {b:?}"));
        match b.split_first() {
            Some((&TAG_COMMIT, key)) => Ok(LogRecord::Commit(key.to_vec())),
            Some((&TAG_RESET, rest)) => {
                let (len, rest) = rest.split_first_chunk::<4>().ok_or_else(bad)?;
                let len = u32::from_be_bytes(*len) as usize;
                if rest.len() < len {
                    return Err(bad());
                }
                let (start, end) = rest.split_at(len);
                Ok(LogRecord::Reset {
                    start: start.to_vec(),
                    end: end.to_vec(),
                })
            }
            _ => Err(bad()),
        }
    }
}

/// Whether a write CF key belongs to a table row (not an index entry or
/// metadata).
pub fn is_row_commit(write_key: &[u8]) -> bool {
    let Ok((user, _)) = Key::split_on_ts_for(write_key) else {
        return false;
    };
    Key::from_encoded_slice(user)
        .to_raw()
        .is_ok_and(|raw| codec::table::record_table_id(&raw).is_some())
}

/// The observer that writes the apply log.
pub struct ApplyLog {
    next_seq: AtomicU64,
}

impl ApplyLog {
    /// Continues after the highest sequence number in `engine`.
    pub fn open(engine: &EngineRef) -> Result<ApplyLog> {
        Ok(ApplyLog {
            next_seq: AtomicU64::new(last_seq(engine.as_ref())? + 1),
        })
    }

    fn append(&self, record: &LogRecord, wb: &mut WriteBatch) {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        wb.put(CF_RAFT, kv::keys::apply_log_key(seq), record.encode());
    }
}

/// The highest sequence number in the log (0: empty).
pub fn last_seq(engine: &dyn kv::engine::Peekable) -> Result<u64> {
    let (start, end) = kv::keys::apply_log_range();
    let mut last = 0;
    engine.scan_reverse(CF_RAFT, &start, &end, &mut |k, _| {
        last = kv::keys::apply_log_seq(k);
        false
    })?;
    Ok(last)
}

impl ApplyObserver for ApplyLog {
    fn on_write(&self, _region: &metapb::Region, requests: &[Request], wb: &mut WriteBatch) {
        for r in requests {
            if r.cf == CF_WRITE && r.cmd_type == CmdType::Put as i32 && is_row_commit(&r.key) {
                self.append(&LogRecord::Commit(r.key.clone()), wb);
            }
        }
    }

    fn on_range_reset(&self, start: &[u8], end: &[u8], wb: &mut WriteBatch) {
        let record = LogRecord::Reset {
            start: start.to_vec(),
            end: end.to_vec(),
        };
        self.append(&record, wb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use txn::types::TimeStamp;

    #[test]
    fn records_round_trip() {
        for r in [
            LogRecord::Commit(b"abc".to_vec()),
            LogRecord::Reset {
                start: vec![],
                end: vec![],
            },
            LogRecord::Reset {
                start: b"s".to_vec(),
                end: b"end".to_vec(),
            },
        ] {
            assert_eq!(LogRecord::decode(&r.encode()).unwrap(), r);
        }
        assert!(LogRecord::decode(&[]).is_err());
        assert!(LogRecord::decode(&[TAG_RESET, 0, 0, 0, 9, 1]).is_err());
        assert!(LogRecord::decode(&[7]).is_err());
    }

    #[test]
    fn only_row_commits_are_logged() {
        let row = codec::table::encode_row_key(5, &codec::table::Handle::Int(1));
        let index = codec::table::index_prefix(5, 1);
        let write_key = |raw: &[u8]| {
            Key::from_raw(raw)
                .append_ts(TimeStamp::new(9))
                .into_encoded()
        };
        assert!(is_row_commit(&write_key(&row)));
        assert!(!is_row_commit(&write_key(&index)));
        assert!(!is_row_commit(&write_key(b"mTbl:")));
        assert!(!is_row_commit(b"garbage"));
    }
}
