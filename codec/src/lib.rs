//! # codec: the encodings every duet layer reads the same way
//!
//! Keys in duet are compared as plain byte strings — by RocksDB, by the
//! region map, by the MVCC reader — so everything that ends up in a key must
//! be encoded *memcomparably*: `a < b` exactly when `enc(a) < enc(b)`
//! bytewise. The encodings here are TiDB's (`util/codec` in TiDB, `codec` in
//! TiKV's `tikv_util`), so keys written by duet look like keys written by
//! TiDB and the same mental models and tools apply.
//!
//! * [`bytes`] — the 8-byte *group* encoding of arbitrary byte strings
//!   (`0xFF - pad` marker after each group), used for every user key in the
//!   MVCC layer, plus the compact (length-prefixed, not memcomparable)
//!   encoding used inside values.
//! * [`number`] — fixed-width big-endian integers (ascending, descending and
//!   sign-flipped signed), and LEB128 / zigzag varints for values.
//!
//! Decoders take `&mut &[u8]` and advance the slice past what they consumed,
//! so a caller decodes a record field by field without index bookkeeping. A
//! decoder that fails leaves the slice in an unspecified position.
//!
//! Later layers add the SQL value (datum) encoding, the row format and the
//! table/index key layout here as well (see DESIGN.md §2).

pub mod bytes;
mod error;
pub mod number;

pub use error::{Error, Result};
