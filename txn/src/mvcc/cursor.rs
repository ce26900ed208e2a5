//! # Cursors over one column family
//!
//! kv's [`Peekable`] only offers callback scans (`scan_ordered`), while the
//! MVCC scanner must walk the `lock` and `write` column families side by
//! side and sometimes jump ahead (TiKV's `next` a few times, then `seek`).
//! A [`Cursor`] turns callback scans into an iterator with seeks: it reads
//! the engine in batches into a buffer and remembers where the next batch
//! starts. Batches start small (a point-ish read costs little) and double up
//! to [`MAX_BATCH`] (a long scan costs few engine calls). A seek drops the
//! buffer and moves the bound, so it costs one engine call.
//!
//! Invariants: keys in the buffer are origin keys (no `z` prefix), strictly
//! inside `[lower, upper)`, in the cursor's direction; a forward cursor only
//! seeks forward and a reverse one only backward.

use std::collections::VecDeque;

use kv::engine::Peekable;
use kv::keys;

use crate::Result;

const MIN_BATCH: usize = 4;
/// The largest number of entries read from the engine in one call.
pub const MAX_BATCH: usize = 256;

/// Counters of engine work, to check that readers stay efficient.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Statistics {
    /// Engine calls (point gets and scans started, including cursor
    /// refills and seeks).
    pub engine_calls: u64,
    /// Key-value pairs read from the engine.
    pub entries: u64,
}

impl Statistics {
    pub fn add(&mut self, other: &Statistics) {
        self.engine_calls += other.engine_calls;
        self.entries += other.entries;
    }
}

pub(crate) struct Cursor<'a> {
    snapshot: &'a dyn Peekable,
    cf: &'static str,
    /// Inclusive data key.
    lower: Vec<u8>,
    /// Exclusive data key.
    upper: Vec<u8>,
    reverse: bool,
    buf: VecDeque<(Vec<u8>, Vec<u8>)>,
    /// Nothing is left in the engine beyond `buf`.
    exhausted: bool,
    batch: usize,
    pub(crate) stats: Statistics,
}

impl<'a> Cursor<'a> {
    /// A cursor over encoded keys `[lower, upper)`; `upper = None` is
    /// unbounded (up to the end of the data key space).
    pub(crate) fn new(
        snapshot: &'a dyn Peekable,
        cf: &'static str,
        lower: &[u8],
        upper: Option<&[u8]>,
        reverse: bool,
    ) -> Cursor<'a> {
        Cursor {
            snapshot,
            cf,
            lower: keys::data_key(lower),
            upper: upper.map_or_else(|| keys::data_end_key(b""), keys::data_key),
            reverse,
            buf: VecDeque::new(),
            exhausted: false,
            batch: MIN_BATCH,
            stats: Statistics::default(),
        }
    }

    /// The current entry, if any.
    pub(crate) fn peek(&mut self) -> Result<Option<&(Vec<u8>, Vec<u8>)>> {
        if self.buf.is_empty() && !self.exhausted {
            self.fill()?;
        }
        Ok(self.buf.front())
    }

    /// Moves past the current entry.
    pub(crate) fn advance(&mut self) {
        self.buf.pop_front();
    }

    /// Forward cursors: continue at the first key `>= key`. Entries
    /// already buffered are reused; otherwise the next engine call starts
    /// at `key`.
    pub(crate) fn seek(&mut self, key: &[u8]) {
        debug_assert!(!self.reverse);
        while let Some((k, _)) = self.buf.front() {
            if k.as_slice() >= key {
                return;
            }
            self.buf.pop_front();
        }
        let key = keys::data_key(key);
        if key > self.lower {
            self.lower = key;
            self.batch = MIN_BATCH;
        }
    }

    /// Reverse cursors: continue at the last key `< key`.
    pub(crate) fn seek_for_prev(&mut self, key: &[u8]) {
        debug_assert!(self.reverse);
        while let Some((k, _)) = self.buf.front() {
            if k.as_slice() < key {
                return;
            }
            self.buf.pop_front();
        }
        let key = keys::data_key(key);
        if key < self.upper {
            self.upper = key;
            self.batch = MIN_BATCH;
        }
    }

    fn fill(&mut self) -> Result<()> {
        let limit = self.batch;
        let buf = &mut self.buf;
        self.stats.engine_calls += 1;
        if self.lower < self.upper {
            self.snapshot.scan_ordered(
                self.cf,
                &self.lower,
                &self.upper,
                self.reverse,
                &mut |k, v| {
                    buf.push_back((keys::origin_key(k).to_vec(), v.to_vec()));
                    buf.len() < limit
                },
            )?;
        }
        self.stats.entries += buf.len() as u64;
        match buf.back() {
            Some((last, _)) if buf.len() >= limit => {
                if self.reverse {
                    self.upper = keys::data_key(last);
                } else {
                    let mut next = keys::data_key(last);
                    next.push(0);
                    self.lower = next;
                }
            }
            _ => self.exhausted = true,
        }
        self.batch = (self.batch * 2).min(MAX_BATCH);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use kv::engine::{CF_WRITE, Engine, MemoryEngine, WriteBatch};

    use super::*;

    fn engine_with(keys: &[&[u8]]) -> MemoryEngine {
        let engine = MemoryEngine::new();
        let mut wb = WriteBatch::default();
        for k in keys {
            wb.put(CF_WRITE, keys::data_key(k), k.to_vec());
        }
        engine.write(&wb, false).unwrap();
        engine
    }

    fn drain(c: &mut Cursor<'_>) -> Vec<Vec<u8>> {
        let mut out = vec![];
        while let Some((k, _)) = c.peek().unwrap() {
            out.push(k.clone());
            c.advance();
        }
        out
    }

    #[test]
    fn walks_in_batches_and_seeks() {
        let all: Vec<Vec<u8>> = (0..100u8).map(|i| vec![b'k', i]).collect();
        let refs: Vec<&[u8]> = all.iter().map(|k| k.as_slice()).collect();
        let engine = engine_with(&refs);

        let mut c = Cursor::new(&engine, CF_WRITE, b"k\x05", Some(b"k\x50"), false);
        assert_eq!(drain(&mut c), all[5..0x50].to_vec());
        // 4 + 8 + 16 + 32 + 64 covers 75 entries in five calls.
        assert_eq!(c.stats.engine_calls, 5);

        let mut c = Cursor::new(&engine, CF_WRITE, b"", None, false);
        c.peek().unwrap();
        c.seek(b"k\x60");
        assert_eq!(c.peek().unwrap().unwrap().0, b"k\x60");
        assert_eq!(drain(&mut c).len(), 100 - 0x60);

        let mut c = Cursor::new(&engine, CF_WRITE, b"k\x10", None, true);
        let got = drain(&mut c);
        assert_eq!(got.len(), 100 - 0x10);
        assert_eq!(got[0], b"k\x63");
        let mut c = Cursor::new(&engine, CF_WRITE, b"k\x10", None, true);
        c.peek().unwrap();
        c.seek_for_prev(b"k\x20");
        assert_eq!(
            drain(&mut c),
            all[0x10..0x20].iter().rev().cloned().collect::<Vec<_>>()
        );
    }
}
