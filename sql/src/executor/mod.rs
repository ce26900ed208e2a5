//! # Executors: what a query plan runs
//!
//! DataFusion runs the operators; these are duet's own, which the planner
//! ([`crate::planner`]) puts into its plans:
//!
//! * [`scan`] — [`scan::ScanExec`], the scan of one table on either engine:
//!   its regions' coprocessor streams (row stores or columnar replicas),
//!   with the access path, pushed fragment and runtime filters the planner
//!   gave it.
//! * [`build_keys`] — a pass-through over a hash join's build side that
//!   turns its keys into Bloom filters for the probe side's scans;
//!   [`runtime_filter`] turns DataFusion's dynamic filters into what a scan
//!   sends.
//! * [`infoschema`] and [`columnar_replica`] — `information_schema` tables,
//!   built from the catalog and PD when a query reads them.
//! * [`convert`] — Arrow arrays and record batches to and from rows of
//!   datums, and result-column definitions for the wire.

pub mod build_keys;
pub mod columnar_replica;
pub mod convert;
pub mod infoschema;
pub mod runtime_filter;
pub mod scan;
