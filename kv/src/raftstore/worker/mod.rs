//! Background work the store loop hands off so it never blocks: talking to
//! PD (`pd`) and measuring regions for splits (`split_check`). Results
//! come back to the loop as [`super::StoreMsg`]s.

mod pd;
mod split_check;

pub use pd::{PdTask, run_pd_worker};
pub use split_check::{SplitCheckTask, run_split_checker};
