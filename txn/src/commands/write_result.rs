//! What every command hands the scheduler: the engine writes to propose
//! through Raft, and the answer to send once they are applied.

use crate::mvcc::Modify;

/// What a command writes and what it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteResult<T> {
    /// Engine writes, keys without the data prefix; empty when nothing
    /// changes.
    pub modifies: Vec<Modify>,
    pub output: T,
}
