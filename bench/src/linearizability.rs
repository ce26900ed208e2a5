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
//!
//! ## Long histories
//!
//! Each step of the search looks at every pending operation and each
//! memoized pair holds a bitset over the whole history, so a history of a
//! few thousand operations per key is already slow. Three exact
//! reductions, valid because the values written to one key are distinct
//! (the workloads write them so), keep it small:
//!
//! 1. An unknown put whose value no read returned is dropped: in a
//!    linearization that places it, no read sits between it and the next
//!    put (none returned its value), so taking it out leaves a
//!    linearization; and one without it stays one with the put placed
//!    last. Under faults most unknown puts are of that kind (the write
//!    never reached the leader).
//! 2. An unknown put whose value was read takes effect before the first of
//!    those reads returns, so that return bounds it: it gets that `ret`.
//! 3. Now every operation has a return, and the history splits at quiet
//!    points, where every operation before returned before any after was
//!    called: a linearization orders the parts as they come, so the
//!    parts are searched one after the other, each from every value the
//!    part before can end with.
//!
//! ```text
//!   put 1 |-----|               put 2 |------|      get→2 |--|
//!      get→1 |-----|              put 3 |------|
//!                   ^ quiet: part 1 ends, part 2 begins
//!   part 1 ends with 1 only; part 2, from 1, can end with 2 only
//!   (put 3 before put 2, as the read says)
//! ```
//!
//! Used by the in-process raw-KV test (`tests/tests/linearizable.rs`) and
//! by the register workload of the nemesis run ([`crate::nemesis`]).

use std::collections::{HashMap, HashSet};

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
/// linearizable. Values written to one key must be distinct.
pub fn check(history: &[Event]) -> Result<(), u64> {
    let mut by_key: HashMap<u64, Vec<Event>> = HashMap::new();
    for e in history {
        by_key.entry(e.key).or_default().push(e.clone());
    }
    let mut keys: Vec<u64> = by_key.keys().copied().collect();
    keys.sort_unstable();
    for key in keys {
        if !check_register(&by_key[&key]) {
            return Err(key);
        }
    }
    Ok(())
}

/// An operation with its return known or bounded.
#[derive(Debug, Clone)]
struct Bounded {
    op: Op,
    call: u128,
    ret: u128,
}

/// Whether one register's history is linearizable, starting empty.
/// Values put must be distinct.
pub fn check_register(ops: &[Event]) -> bool {
    // The first return of a read of each value.
    let mut first_read: HashMap<u64, u128> = HashMap::new();
    for e in ops {
        if let (Op::Get(Some(v)), Some(ret)) = (&e.op, e.ret) {
            let at = first_read.entry(*v).or_insert(ret);
            *at = (*at).min(ret);
        }
    }
    let mut bounded: Vec<Bounded> = ops
        .iter()
        .filter_map(|e| {
            let ret = match (&e.op, e.ret) {
                (_, Some(ret)) => ret,
                // A read whose answer never came says nothing.
                (Op::Get(_), None) => return None,
                // (1) and (2) of the module docs.
                (Op::Put(v), None) => *first_read.get(v)?,
            };
            Some(Bounded {
                op: e.op.clone(),
                call: e.call,
                ret,
            })
        })
        .collect();
    bounded.sort_by_key(|o| o.call);

    let mut states: HashSet<Option<u64>> = HashSet::from([None]);
    let mut part_start = 0;
    let mut latest_ret = 0;
    for i in 0..=bounded.len() {
        // (3): a part ends where the next operation starts after every
        // operation so far returned.
        if i == bounded.len() || (i > part_start && bounded[i].call > latest_ret) {
            let part = &bounded[part_start..i];
            states = states.iter().flat_map(|s| end_states(part, *s)).collect();
            if states.is_empty() {
                return false;
            }
            part_start = i;
        }
        if let Some(o) = bounded.get(i) {
            latest_ret = latest_ret.max(o.ret);
        }
    }
    true
}

/// Every value the register can hold after a linearization of `ops` that
/// starts from `initial` (none: the part is not linearizable from it).
fn end_states(ops: &[Bounded], initial: Option<u64>) -> HashSet<Option<u64>> {
    let n = ops.len();
    let mut ends = HashSet::new();
    let words = n.div_ceil(64).max(1);
    let mut seen: HashSet<(Vec<u64>, Option<u64>)> = HashSet::new();
    // Iterative DFS: each frame is (linearized set, state, next candidate to try).
    let mut stack: Vec<(Vec<u64>, Option<u64>, usize)> = vec![(vec![0; words], initial, 0)];
    while let Some((done, state, from)) = stack.pop() {
        let count: u32 = done.iter().map(|w| w.count_ones()).sum();
        if count as usize == n {
            ends.insert(state);
            continue;
        }
        let is_done = |i: usize| done[i / 64] & (1 << (i % 64)) != 0;
        // The earliest return among pending operations bounds who may go next.
        let min_ret = (0..n)
            .filter(|&i| !is_done(i))
            .map(|i| ops[i].ret)
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
    ends
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
    fn unknown_puts_nobody_read_are_dropped_before_the_search() {
        // Many unknown puts: without dropping them the search would try
        // each at every step; the verdict is the same either way.
        let mut h: Vec<Event> = (0..200u64)
            .map(|i| ev(Op::Put(1000 + i), u128::from(i), None))
            .collect();
        h.push(ev(Op::Put(1), 300, Some(301)));
        h.push(ev(Op::Get(Some(1)), 302, Some(303)));
        assert_eq!(check(&h), Ok(()));
        h.push(ev(Op::Get(Some(1050)), 304, Some(305)));
        h.push(ev(Op::Get(Some(1)), 306, Some(307)));
        assert_eq!(
            check(&h),
            Err(1),
            "the unknown put was read, then overwritten by nobody"
        );
    }

    #[test]
    fn long_histories_split_at_quiet_points() {
        // 100,000 operations in overlapping pairs: quick, part by part.
        let mut h = Vec::new();
        let mut t = 0;
        for i in 1..=50_000u64 {
            h.push(ev(Op::Put(i), t, Some(t + 3)));
            h.push(ev(Op::Get(Some(i)), t + 1, Some(t + 4)));
            t += 5;
        }
        assert!(check_register(&h));
        // A stale read at the very end is still found.
        h.push(ev(Op::Get(Some(7)), t, Some(t + 1)));
        assert!(!check_register(&h));
    }

    #[test]
    fn a_part_may_end_with_several_values() {
        // Two overlapping puts, then reads: either may have gone last, but
        // once a read saw one, later reads cannot see the other.
        let puts = [ev(Op::Put(1), 0, Some(10)), ev(Op::Put(2), 1, Some(11))];
        let mut h = puts.to_vec();
        h.push(ev(Op::Get(Some(1)), 20, Some(21)));
        assert!(check_register(&h));
        let mut h = puts.to_vec();
        h.push(ev(Op::Get(Some(2)), 20, Some(21)));
        assert!(check_register(&h));
        h.push(ev(Op::Get(Some(1)), 30, Some(31)));
        assert!(!check_register(&h));
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
