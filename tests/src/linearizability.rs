//! The Wing–Gong register checker lives in the `bench` crate
//! ([`bench::linearizability`]), where the nemesis run over separate
//! processes uses it too; the in-process tests reach it here.

pub use bench::linearizability::*;
