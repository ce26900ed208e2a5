//! Background work the store loop hands off so it never blocks: talking to
//! PD (`pd`), measuring regions for splits (`split_check`) and generating
//! snapshots (`snap_gen`). Results come back to the loop as
//! [`super::StoreMsg`]s.

mod pd;
mod snap_gen;
mod split_check;

pub use pd::{PdTask, run_pd_worker};
pub use snap_gen::run_snap_generator;
pub use split_check::{SplitCheckTask, run_split_checker};
