//! Read flow per region. Reads are served outside the store loop (from a
//! snapshot, by the gRPC handler), so the handler records what it read here
//! and the loop drains a region's counters into its next heartbeat.

use std::collections::HashMap;

use parking_lot::Mutex;

#[derive(Default)]
pub struct ReadFlow {
    regions: Mutex<HashMap<u64, (u64, u64)>>,
}

impl ReadFlow {
    pub fn record(&self, region_id: u64, bytes: u64, keys: u64) {
        let mut m = self.regions.lock();
        let e = m.entry(region_id).or_default();
        e.0 += bytes;
        e.1 += keys;
    }

    /// Bytes and keys read from the region since the last call.
    pub fn take(&self, region_id: u64) -> (u64, u64) {
        self.regions.lock().remove(&region_id).unwrap_or_default()
    }
}
