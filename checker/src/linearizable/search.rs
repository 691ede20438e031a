//! The search for a linearization of one partition: Wing & Gong's algorithm with Lowe's memo, as in Porcupine.
//!
//! Every operation becomes two entries, its call and its return, in one list sorted by time (a call before a return
//! at the same time, so that touching operations count as concurrent). The operations that may take effect next are
//! exactly those whose call entry comes before the first return entry left in the list (the *candidates*): any of
//! them could be the next to take effect, and none called after that return could, because the returning operation
//! must come first. At each point the search tries the candidates in order of [`Model::order_hint`], then call
//! order (Porcupine tries them in call order, which is what equal hints give):
//! - if the model accepts a candidate and the memo has not seen the resulting (linearized set, state), the search
//!   *lifts* it (unlinks both its entries, pushes it on a stack) and starts again with the new candidates;
//! - if no candidate works, it pops the last lifted operation, restores its entries and the state before it, and
//!   goes on with the candidates that followed it in that point's trying order.
//!
//! It succeeds when every operation that returned has been lifted; an operation that never returned has no return
//! entry, so it is tried like the rest but never forces a backtrack, and may be left out. It fails when it must
//! backtrack with an empty stack: then no order exists, because the memo only cuts branches whose futures were
//! already explored in full. Each model step and each backtrack spends one unit of the budget; a search that runs
//! out says [`Verdict::Unknown`].
//!
//! Unlinking and restoring are O(1) (Knuth's dancing links: entries are restored in the reverse order of removal,
//! which the stack guarantees).

use std::collections::BTreeSet;

use super::memo::Memo;
use super::{Model, Operation, SearchBudget, Verdict};

/// Marks the end of the entry list.
const NONE: u32 = u32::MAX;

/// The call and return entries of a partition's operations, as a doubly linked list in time order.
struct Entries {
    /// `next[e]`, `prev[e]`: neighbours of entry `e`; entry 0 is the head sentinel, entries 1.. are real.
    next: Vec<u32>,
    prev: Vec<u32>,
    /// The operation (local index) of each entry; unused for the sentinel.
    op: Vec<u32>,
    /// Whether each entry is a call (else a return).
    is_call: Vec<bool>,
    /// The call entry and, if it returned, the return entry of each operation.
    call_of: Vec<u32>,
    return_of: Vec<u32>,
}

impl Entries {
    /// Entries of `ops`, which are sorted by call time.
    fn new<I, O>(ops: &[&Operation<I, O>]) -> Entries {
        // (time, 0 for a call or 1 for a return, op): a call sorts before a return at the same time.
        let mut events: Vec<(u64, u8, u32)> = Vec::with_capacity(ops.len() * 2);
        for (local, op) in ops.iter().enumerate() {
            events.push((op.call_ns, 0, local as u32));
            if !op.is_pending() {
                events.push((op.return_ns, 1, local as u32));
            }
        }
        events.sort_unstable();
        let count = events.len() + 1;
        let mut entries = Entries {
            next: (1..=count as u32).map(|e| if e as usize == count { NONE } else { e }).collect(),
            prev: (0..count as u32).map(|e| e.wrapping_sub(1)).collect(),
            op: vec![NONE; count],
            is_call: vec![false; count],
            call_of: vec![NONE; ops.len()],
            return_of: vec![NONE; ops.len()],
        };
        for (position, &(_, kind, local)) in events.iter().enumerate() {
            let entry = position + 1;
            entries.op[entry] = local;
            entries.is_call[entry] = kind == 0;
            if kind == 0 {
                entries.call_of[local as usize] = entry as u32;
            } else {
                entries.return_of[local as usize] = entry as u32;
            }
        }
        assert!(entries.call_of.iter().all(|&e| e != NONE), "every operation has a call entry");
        entries
    }

    fn first(&self) -> u32 {
        self.next[0]
    }

    fn unlink(&mut self, entry: u32) {
        let (prev, next) = (self.prev[entry as usize], self.next[entry as usize]);
        self.next[prev as usize] = next;
        if next != NONE {
            self.prev[next as usize] = prev;
        }
    }

    /// Undoes [`Entries::unlink`]; valid only in the reverse order of the unlinks.
    fn relink(&mut self, entry: u32) {
        let (prev, next) = (self.prev[entry as usize], self.next[entry as usize]);
        self.next[prev as usize] = entry;
        if next != NONE {
            self.prev[next as usize] = entry;
        }
    }

    fn lift(&mut self, local: u32) {
        self.unlink(self.call_of[local as usize]);
        if self.return_of[local as usize] != NONE {
            self.unlink(self.return_of[local as usize]);
        }
    }

    fn unlift(&mut self, local: u32) {
        if self.return_of[local as usize] != NONE {
            self.relink(self.return_of[local as usize]);
        }
        self.relink(self.call_of[local as usize]);
    }
}

/// Which operations have taken effect, kept in the form the memo stores (see `memo.rs`).
struct Linearized {
    bits: Vec<u64>,
    pending: Vec<bool>,
    /// The first operation, in call order, that returned and has not taken effect; `len` when none is left.
    frontier: u32,
    /// Operations that never returned and have not taken effect.
    open_pending: BTreeSet<u32>,
    /// For each operation that returned, the last operation called no later than its return: the search can only
    /// have lifted operations up to `reach[frontier]`, because the frontier's return entry bars the rest.
    reach: Vec<u32>,
    /// Scratch for the memo key, kept to save an allocation per step.
    exceptions: Vec<u32>,
}

impl Linearized {
    fn new<I, O>(ops: &[&Operation<I, O>]) -> Linearized {
        let pending: Vec<bool> = ops.iter().map(|op| op.is_pending()).collect();
        let reach = ops
            .iter()
            .map(|op| (ops.partition_point(|other| other.call_ns <= op.return_ns) as u32).saturating_sub(1))
            .collect();
        let mut linearized = Linearized {
            bits: vec![0; ops.len().div_ceil(64)],
            open_pending: (0..ops.len() as u32).filter(|&i| pending[i as usize]).collect(),
            pending,
            frontier: 0,
            reach,
            exceptions: Vec::new(),
        };
        linearized.advance_frontier();
        linearized
    }

    fn contains(&self, local: u32) -> bool {
        self.bits[local as usize / 64] & (1 << (local % 64)) != 0
    }

    fn advance_frontier(&mut self) {
        let len = self.pending.len() as u32;
        while self.frontier < len && (self.pending[self.frontier as usize] || self.contains(self.frontier)) {
            self.frontier += 1;
        }
    }

    fn insert(&mut self, local: u32) {
        assert!(!self.contains(local));
        self.bits[local as usize / 64] |= 1 << (local % 64);
        if self.pending[local as usize] {
            self.open_pending.remove(&local);
        } else if local == self.frontier {
            self.advance_frontier();
        }
        assert!(local != self.frontier);
    }

    fn remove(&mut self, local: u32) {
        assert!(self.contains(local));
        self.bits[local as usize / 64] &= !(1 << (local % 64));
        if self.pending[local as usize] {
            self.open_pending.insert(local);
        } else {
            self.frontier = self.frontier.min(local);
        }
    }

    /// The set in memo form: pending operations below the frontier left out, then operations above it taken.
    fn exceptions(&mut self) -> &[u32] {
        self.exceptions.clear();
        self.exceptions.extend(self.open_pending.range(..self.frontier));
        let len = self.pending.len() as u32;
        if self.frontier < len {
            let last = self.reach[self.frontier as usize];
            let first = self.frontier + 1;
            for word_index in first / 64..=last / 64 {
                let mut word = self.bits[word_index as usize];
                if word_index == first / 64 {
                    // Operations up to the frontier are not exceptions of this kind (pending ones below it were
                    // listed above), and most of them have taken effect: clear their bits rather than visit each.
                    word &= u64::MAX << (first % 64);
                }
                while word != 0 {
                    let local = word_index * 64 + word.trailing_zeros();
                    word &= word - 1;
                    assert!(local > self.frontier, "op {local} is above the frontier");
                    assert!(local <= last, "op {local} took effect beyond the frontier's reach {last}");
                    self.exceptions.push(local);
                }
            }
        }
        &self.exceptions
    }
}

/// The deepest point at which the search got stuck: what [`Verdict::NotLinearizable`] reports.
struct Deepest<S> {
    /// The operations (local indices) in the order they took effect.
    prefix: Vec<u32>,
    /// How many leading entries of `prefix` still match the stack, which may have been popped since.
    synced: usize,
    /// The operation that returned with no candidate able to precede it, and the state it found.
    stuck: Option<(u32, S)>,
}

/// One partition's search, between steps.
struct Search<'m, M: Model> {
    model: &'m M,
    ops: Vec<&'m Operation<M::Input, M::Output>>,
    entries: Entries,
    linearized: Linearized,
    memo: Memo<M::State>,
    /// Lifted operations (local indices) with the state before each.
    stack: Vec<(u32, M::State)>,
    /// [`Model::order_hint`] of each operation.
    hints: Vec<u64>,
    /// Operations that returned and have not taken effect.
    returned_left: usize,
    steps: u64,
    budget: SearchBudget,
    /// The most operations the stack has held.
    max_depth: usize,
    deepest: Deepest<M::State>,
}

/// How a search ended.
enum Outcome {
    Linearizable,
    NotLinearizable,
    OutOfBudget,
}

/// Checks the operations `indices` of `ops` (one partition, named `part`); `name` names an operation by its index.
pub(super) fn check_partition<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    indices: &[usize],
    part: &str,
    budget: SearchBudget,
    name: &dyn Fn(usize) -> String,
) -> Verdict {
    let mut order: Vec<usize> = indices.to_vec();
    order.sort_by_key(|&index| (ops[index].call_ns, index));
    let local_ops: Vec<&Operation<M::Input, M::Output>> = order.iter().map(|&index| &ops[index]).collect();
    assert!(local_ops.len() < NONE as usize / 2, "a partition holds fewer than 2^31 operations");
    let mut search = Search {
        model,
        entries: Entries::new(&local_ops),
        linearized: Linearized::new(&local_ops),
        memo: Memo::with_capacity(local_ops.len()),
        stack: Vec::new(),
        returned_left: local_ops.iter().filter(|op| !op.is_pending()).count(),
        hints: local_ops.iter().map(|op| model.order_hint(&op.input, &op.output)).collect(),
        ops: local_ops,
        steps: 0,
        budget,
        max_depth: 0,
        deepest: Deepest { prefix: Vec::new(), synced: 0, stuck: None },
    };
    match search.run() {
        Outcome::Linearizable => Verdict::Linearizable,
        Outcome::NotLinearizable => search.not_linearizable(&order, part, name),
        Outcome::OutOfBudget => Verdict::Unknown {
            reason: format!(
                "partition {part:?}: the search stopped after {} steps (its budget); its longest order held {} of \
                 {} operations, and it reached {} distinct points",
                search.steps,
                search.max_depth,
                search.ops.len(),
                search.memo.len()
            ),
        },
    }
}

impl<M: Model> Search<'_, M> {
    fn run(&mut self) -> Outcome {
        let mut state = self.model.init();
        // After a backtrack, the operation just undone: the candidates before it, in trying order, have been tried.
        let mut undone: Option<u32> = None;
        let mut candidates: Vec<u32> = Vec::new();
        loop {
            if self.returned_left == 0 {
                return Outcome::Linearizable;
            }
            let blocker = self.candidates(&mut candidates);
            let start = undone.map_or(0, |op| {
                1 + candidates.iter().position(|&c| c == op).expect("an undone operation is a candidate again")
            });
            let mut lifted = false;
            for &local in &candidates[start..] {
                if self.steps >= self.budget.max_steps_per_partition {
                    return Outcome::OutOfBudget;
                }
                self.steps += 1;
                let op = self.ops[local as usize];
                if let Some(after) = self.model.step(&state, &op.input, &op.output) {
                    if self.first_visit(local, &after) {
                        self.stack.push((local, std::mem::replace(&mut state, after)));
                        self.entries.lift(local);
                        self.max_depth = self.max_depth.max(self.stack.len());
                        lifted = true;
                        break;
                    }
                }
            }
            if lifted {
                undone = None;
                continue;
            }
            // No candidate can come next, and `blocker` must come before anything called after its return.
            self.note_stuck(blocker, &state);
            if self.steps >= self.budget.max_steps_per_partition {
                return Outcome::OutOfBudget;
            }
            self.steps += 1;
            let Some((local, before)) = self.stack.pop() else {
                return Outcome::NotLinearizable;
            };
            self.unlift(local);
            state = before;
            undone = Some(local);
        }
    }

    /// Fills `candidates` with the operations that may take effect next, in trying order (hint, then call order),
    /// and returns the operation whose return bars the rest.
    fn candidates(&self, candidates: &mut Vec<u32>) -> u32 {
        candidates.clear();
        let mut entry = self.entries.first();
        // Every operation that returned and has not taken effect still has its return entry in the list, after its
        // call: the walk meets a return before it can run off the end.
        while self.entries.is_call[entry as usize] {
            candidates.push(self.entries.op[entry as usize]);
            entry = self.entries.next[entry as usize];
            assert!(entry != NONE, "walked past every return with {} operations left", self.returned_left);
        }
        // Operations are numbered in call order, so (hint, number) is the trying order, the same at every visit.
        candidates.sort_unstable_by_key(|&local| (self.hints[local as usize], local));
        self.entries.op[entry as usize]
    }

    /// Marks `local` as taken effect, leaving `after`; if the memo has seen that point, undoes it and says false.
    fn first_visit(&mut self, local: u32, after: &M::State) -> bool {
        self.linearized.insert(local);
        let frontier = self.linearized.frontier;
        let exceptions = self.linearized.exceptions();
        if self.memo.insert(frontier, exceptions, after.clone()) {
            if !self.ops[local as usize].is_pending() {
                self.returned_left -= 1;
            }
            true
        } else {
            self.linearized.remove(local);
            false
        }
    }

    fn unlift(&mut self, local: u32) {
        self.entries.unlift(local);
        self.linearized.remove(local);
        if !self.ops[local as usize].is_pending() {
            self.returned_left += 1;
        }
        self.deepest.synced = self.deepest.synced.min(self.stack.len());
        assert!(self.returned_left <= self.ops.len());
    }

    /// Remembers the stack if it is the deepest at which the search has been stuck; `blocked` could not follow it.
    fn note_stuck(&mut self, blocked: u32, state: &M::State) {
        let deepest = &mut self.deepest;
        if deepest.stuck.is_some() && self.stack.len() <= deepest.prefix.len() {
            return;
        }
        // Copy only the part of the stack that changed since the last copy, so a search that goes ever deeper
        // copies each operation about once rather than its whole prefix at every new depth.
        deepest.prefix.truncate(deepest.synced);
        deepest.prefix.extend(self.stack[deepest.synced..].iter().map(|(local, _)| *local));
        deepest.synced = self.stack.len();
        deepest.stuck = Some((blocked, state.clone()));
        assert_eq!(deepest.prefix.len(), self.stack.len());
    }
}

impl<M: Model> Search<'_, M> {
    /// The verdict of a failed search: the deepest prefix, and the operation that could not follow it.
    fn not_linearizable(&self, order: &[usize], part: &str, name: &dyn Fn(usize) -> String) -> Verdict {
        let (blocked, state) = self.deepest.stuck.as_ref().expect("a failed search was stuck at least once");
        let longest_prefix: Vec<usize> = self.deepest.prefix.iter().map(|&local| order[local as usize]).collect();
        let op = self.ops[*blocked as usize];
        assert!(!op.is_pending(), "only an operation that returned can block the search");
        let after = match longest_prefix.len() {
            0 => "before any operation took effect".to_string(),
            n => {
                let last = longest_prefix[n - 1];
                format!(
                    "after the longest order the search found ({n} operations, the last {}) took effect",
                    name(last)
                )
            }
        };
        let why = match self.model.step(state, &op.input, &op.output) {
            None => "the model rejects it in that state",
            Some(_) => "no order of the operations left could follow it",
        };
        let explanation = format!(
            "{after}, the state was {state:?}; {} (client {}: {:?} returned {:?}, called at {}, returned at {}) had to \
             take effect before anything called after it returned, but no operation called before then could come \
             next: not it, because {why}",
            name(order[*blocked as usize]),
            op.client,
            op.input,
            op.output,
            op.call_ns,
            op.return_ns,
        );
        let blocked = order[*blocked as usize];
        Verdict::NotLinearizable { partition: part.to_string(), longest_prefix, explanation, blocked }
    }
}
