//! The `TxnHeartBeat` command: a long-running transaction keeps its primary
//! lock alive by raising the lock's TTL (never lowering it). A lock that is
//! gone means the transaction was rolled back (or committed): the caller
//! learns it from the error and stops.
//!
//! TiKV: `src/storage/txn/commands/txn_heart_beat.rs`.

use super::write_result::WriteResult;
use crate::mvcc::{MvccReader, MvccTxn};
use crate::types::{Key, TimeStamp};
use crate::{Error, Result};

/// Returns the TTL now in force.
pub fn txn_heart_beat(
    reader: &mut MvccReader<'_>,
    primary: Key,
    start_ts: TimeStamp,
    advise_ttl: u64,
) -> Result<WriteResult<u64>> {
    let mut txn = MvccTxn::new(start_ts);
    let ttl = match reader.load_lock(&primary)? {
        Some(mut lock) if lock.ts == start_ts => {
            if lock.ttl < advise_ttl {
                lock.ttl = advise_ttl;
                txn.put_lock(primary, &lock);
            }
            lock.ttl
        }
        _ => {
            return Err(Error::TxnNotFound {
                start_ts,
                key: primary.to_raw()?,
            });
        }
    };
    Ok(WriteResult {
        modifies: txn.into_modifies(),
        output: ttl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mvcc::apply_modifies_to;
    use crate::types::{Lock, LockType};
    use kv::engine::{Engine, MemoryEngine};

    #[test]
    fn raises_the_ttl_of_the_live_primary_only() {
        let engine = MemoryEngine::new();
        let key = Key::from_raw(b"p");
        let mut txn = MvccTxn::new(TimeStamp::new(10));
        txn.put_lock(
            key.clone(),
            &Lock::new(
                LockType::Pessimistic,
                b"p".to_vec(),
                TimeStamp::new(10),
                100,
            ),
        );
        apply_modifies_to(&engine, &txn.into_modifies()).expect("apply");
        let snap = engine.snapshot();
        let mut reader = MvccReader::new(&*snap);
        let r = txn_heart_beat(&mut reader, key.clone(), TimeStamp::new(10), 500).expect("alive");
        assert_eq!(r.output, 500);
        assert_eq!(r.modifies.len(), 1);
        apply_modifies_to(&engine, &r.modifies).expect("apply");
        // A lower advice changes nothing.
        let snap = engine.snapshot();
        let mut reader = MvccReader::new(&*snap);
        let r = txn_heart_beat(&mut reader, key.clone(), TimeStamp::new(10), 200).expect("alive");
        assert_eq!((r.output, r.modifies.len()), (500, 0));
        // Another transaction's heartbeat finds no lock of its own.
        let err =
            txn_heart_beat(&mut reader, key, TimeStamp::new(11), 900).expect_err("not its lock");
        assert!(matches!(err, Error::TxnNotFound { .. }));
    }
}
