//! # A linearizability checker for registers (Wing & Gong, with memoization)
//!
//! A history is a list of operations on independent registers (keys), each
//! with the real-time interval `[call, ret]` in which it ran. Because
//! linearizability is *local* (Herlihy & Wing), each key is checked on its
//! own.
//!
//! The search (as in porcupine, after Lowe's refinement of Wing & Gong):
//! at each step, any operation that was called before every not yet
//! linearized operation returned may go next; it is applied to the model
//! (a register: a put sets it, a get must read it), and the search goes on
//! from the new (set of linearized operations, register value) pair,
//! memoized so no pair is explored twice.
//!
//! An operation whose outcome is unknown (the client gave up on a put) gets
//! `ret = None`: it may take effect at any point after its call, or never —
//! which is the same as taking effect after everything else.

use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put(u64),
    /// A read and what it returned.
    Get(Option<u64>),
}

#[derive(Debug, Clone)]
pub struct Event {
    pub key: u64,
    pub op: Op,
    /// Nanoseconds since the history began.
    pub call: u128,
    /// `None`: the outcome is unknown (only meaningful for puts).
    pub ret: Option<u128>,
}

/// Checks every key's sub-history; returns the first key that is not
/// linearizable.
pub fn check(history: &[Event]) -> Result<(), u64> {
    let mut keys: Vec<u64> = history.iter().map(|e| e.key).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let ops: Vec<Event> = history
            .iter()
            .filter(|e| e.key == key)
            // A read whose answer never came says nothing.
            .filter(|e| !(matches!(e.op, Op::Get(_)) && e.ret.is_none()))
            .cloned()
            .collect();
        if !check_register(&ops) {
            return Err(key);
        }
    }
    Ok(())
}

fn ret_time(e: &Event) -> u128 {
    e.ret.unwrap_or(u128::MAX)
}

/// Whether one register's history is linearizable, starting empty.
pub fn check_register(ops: &[Event]) -> bool {
    let n = ops.len();
    let words = n.div_ceil(64).max(1);
    let mut seen: HashSet<(Vec<u64>, Option<u64>)> = HashSet::new();
    // Iterative DFS: each frame is (linearized set, state, next candidate to try).
    let mut stack: Vec<(Vec<u64>, Option<u64>, usize)> = vec![(vec![0; words], None, 0)];
    while let Some((done, state, from)) = stack.pop() {
        let count: u32 = done.iter().map(|w| w.count_ones()).sum();
        if count as usize == n {
            return true;
        }
        let is_done = |i: usize| done[i / 64] & (1 << (i % 64)) != 0;
        // The earliest return among pending operations bounds who may go next.
        let min_ret = (0..n)
            .filter(|&i| !is_done(i))
            .map(|i| ret_time(&ops[i]))
            .min()
            .unwrap_or(u128::MAX);
        let mut i = from;
        while i < n {
            if !is_done(i) && ops[i].call <= min_ret {
                let next_state = match &ops[i].op {
                    Op::Put(v) => Some(Some(*v)),
                    Op::Get(r) => (*r == state).then_some(state),
                };
                if let Some(next_state) = next_state {
                    let mut next = done.clone();
                    next[i / 64] |= 1 << (i % 64);
                    if seen.insert((next.clone(), next_state)) {
                        // Come back to try the remaining candidates later.
                        stack.push((done.clone(), state, i + 1));
                        stack.push((next, next_state, 0));
                        break;
                    }
                }
            }
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(op: Op, call: u128, ret: Option<u128>) -> Event {
        Event {
            key: 1,
            op,
            call,
            ret,
        }
    }

    #[test]
    fn sequential_history_is_linearizable() {
        let h = vec![ev(Op::Put(1), 0, Some(1)), ev(Op::Get(Some(1)), 2, Some(3))];
        assert!(check_register(&h));
    }

    #[test]
    fn stale_read_after_a_completed_write_is_not() {
        let h = vec![
            ev(Op::Put(1), 0, Some(1)),
            ev(Op::Put(2), 2, Some(3)),
            ev(Op::Get(Some(1)), 4, Some(5)),
        ];
        assert!(!check_register(&h));
    }

    #[test]
    fn concurrent_operations_may_order_either_way() {
        let h = vec![
            ev(Op::Put(1), 0, Some(10)),
            ev(Op::Get(None), 1, Some(2)),
            ev(Op::Get(Some(1)), 3, Some(4)),
        ];
        assert!(check_register(&h));
        // But once a read saw the new value, a later read cannot go back.
        let h2 = vec![
            ev(Op::Put(1), 0, Some(10)),
            ev(Op::Get(Some(1)), 1, Some(2)),
            ev(Op::Get(None), 3, Some(4)),
        ];
        assert!(!check_register(&h2));
    }

    #[test]
    fn unknown_puts_may_or_may_not_have_happened() {
        let took_effect = vec![ev(Op::Put(7), 0, None), ev(Op::Get(Some(7)), 5, Some(6))];
        assert!(check_register(&took_effect));
        let never = vec![ev(Op::Put(7), 0, None), ev(Op::Get(None), 5, Some(6))];
        assert!(check_register(&never));
        let made_up = vec![ev(Op::Put(7), 0, None), ev(Op::Get(Some(8)), 5, Some(6))];
        assert!(!check_register(&made_up));
    }

    #[test]
    fn keys_are_checked_independently() {
        let mut h = vec![ev(Op::Put(1), 0, Some(1))];
        h.push(Event {
            key: 2,
            op: Op::Get(Some(1)),
            call: 2,
            ret: Some(3),
        });
        assert_eq!(check(&h), Err(2));
    }
}
