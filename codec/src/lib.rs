//! # codec: the encodings every duet layer reads the same way
//!
//! Keys in duet are compared as plain byte strings — by RocksDB, by the
//! region map, by the MVCC reader — so everything that ends up in a key must
//! be encoded *memcomparably*: `a < b` exactly when `enc(a) < enc(b)`
//! bytewise. The encodings here are TiDB's (`util/codec` in TiDB, `codec` in
//! TiKV's `tikv_util`), so keys written by duet look like keys written by
//! TiDB and the same mental models and tools apply.
//!
//! Read the modules bottom-up; each builds on the ones before it:
//!
//! * [`bytes`] — the 8-byte *group* encoding of arbitrary byte strings
//!   (`0xFF - pad` marker after each group), used for every user key in the
//!   MVCC layer, plus the compact (length-prefixed, not memcomparable)
//!   encoding used inside values.
//! * [`number`] — fixed-width big-endian integers (ascending, descending and
//!   sign-flipped signed), memcomparable floats, and LEB128 / zigzag varints
//!   for values.
//! * [`decimal`] — [`Decimal`], exact fixed-point numbers (38 digits, scale
//!   up to 30) with MySQL's parsing, rounding and result-scale rules, and a
//!   memcomparable key encoding that orders values regardless of scale.
//! * [`datum`] — [`Datum`], one SQL value (integer, float, decimal, bytes,
//!   date, datetime, time), plus the calendar arithmetic, parsers and
//!   formatters for the temporal kinds.
//! * [`key`] — TiDB's flagged memcomparable datum encoding: one flag byte
//!   per datum, so tuples of datums (index values, clustered primary keys)
//!   sort like the tuples.
//! * [`table`] — the key layout of SQL data: `t{table}_r{handle}` row keys,
//!   `t{table}_i{index}{values}[handle]` index keys, and the key ranges of a
//!   table, its records and its indexes.
//! * [`arrow`] — the mapping from value kinds to Arrow types, and columns
//!   of datums as Arrow arrays (the SQL layer and the coprocessor).
//! * [`row`] — TiDB's row format v2: a row value keyed by column id, so a
//!   column added later is simply absent from old rows; read through the
//!   zero-copy [`RowView`].
//!
//! ```text
//! key:   t | table_id | _r | handle            value:  row v2 { col_id -> value }
//!        t | table_id | _i | index_id | key datums [| handle datums]
//!                                      (flag byte + memcomparable body each)
//! ```
//!
//! Decoders take `&mut &[u8]` and advance the slice past what they consumed,
//! so a caller decodes a record field by field without index bookkeeping. A
//! decoder that fails leaves the slice in an unspecified position. Decoders
//! never panic on malformed input; they return [`Error`].
//!
//! The `m`-prefixed metadata keys (DESIGN.md §2) are built by the layer that
//! owns the catalogue, from the primitives here.

pub mod arrow;
pub mod bytes;
pub mod datum;
pub mod decimal;
mod error;
pub mod key;
pub mod number;
pub mod row;
pub mod table;

pub use datum::{Datum, DatumKind};
pub use decimal::Decimal;
pub use error::{Error, Result};
pub use row::{RowView, encode_row};
pub use table::{ColumnId, Handle, IndexId, TableId};
