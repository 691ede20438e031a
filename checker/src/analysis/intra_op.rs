//! The records inside one operation: consecutive reads and sends of one partition that are not neighbours in its
//! version order ([`Step`]s), and reads of a value the same operation sent ([`OwnRead`]s).
//!
//! Steps are judged by rank in the version order, not by raw offset: transaction markers take offsets that no
//! consumer returns, so a read of offset 4 right after offset 2 is a normal step when offset 3 is not known to hold
//! a record. Only irregular steps are kept (rank difference other than 1), so the index stays small on a healthy
//! history however many records its polls return.

use super::flat::{key_of, Kind, Rec};
use super::{Analysis, KeyId, KeyIndex, Position};
use crate::history::{Offset, OpType, Value};

/// Two consecutive records of one partition inside one operation that are not neighbours in the version order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// The partition.
    pub key: KeyId,
    /// The earlier record, as the operation lists it.
    pub before: Position,
    /// The record listed right after it.
    pub after: Position,
    /// The rank of `after` in the version order minus that of `before` (Jepsen's `:delta`): above 1 the operation
    /// jumped over `delta - 1` known records; 0 or below it went back or repeated a record.
    pub delta: i64,
}

/// A read by an operation of a value that the same operation sent to the same partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OwnRead {
    /// The operation (a completion).
    pub op: usize,
    /// The partition.
    pub key: KeyId,
    /// The value sent and read.
    pub value: Value,
    /// The offset it was read at.
    pub offset: Offset,
}

/// The last record seen of one key while walking one operation: position and rank in the version order.
#[derive(Clone, Copy)]
struct Last {
    key: KeyId,
    position: Position,
    rank: usize,
}

impl Analysis<'_> {
    /// Finds the poll steps, send steps and own reads of every completion's records, in one pass.
    pub(super) fn walk_intra_op(&self) -> (Vec<Step>, Vec<Step>, Vec<OwnRead>) {
        let (mut poll_steps, mut send_steps, mut own_reads) = (Vec::new(), Vec::new(), Vec::new());
        let mut last = Vec::new();
        let mut sent = Vec::new();
        for (op, meta) in self.flat.meta.iter().enumerate() {
            // Invocations list only what was asked for; every completion, whatever its outcome, lists what the
            // consumer returned and where the broker put the records, as Jepsen reads them.
            let recs = self.flat.recs(op);
            if meta.op_type == OpType::Invoke || recs.len() < 2 {
                continue;
            }
            let (mut send_count, mut read_count) = (0, 0);
            for rec in recs {
                match rec.kind {
                    Kind::Send => send_count += 1,
                    Kind::Read => read_count += 1,
                    Kind::PollKey | Kind::Key => {}
                }
            }
            if read_count > 1 {
                self.poll_steps_of(op, meta.has_keys, recs, &mut last, &mut poll_steps);
            }
            // Most operations send to each key at most once, and then there is no step to judge.
            if send_count > 1 && repeats_a_key(recs) {
                self.send_steps_of(op, recs, &mut last, &mut send_steps);
            }
            if send_count > 0 && read_count > 0 {
                own_reads_of(op, recs, &mut sent, &mut own_reads);
            }
        }
        (poll_steps, send_steps, own_reads)
    }

    /// Steps between consecutive reads of each key in `op`, across its poll micro-ops, in the order listed.
    fn poll_steps_of(&self, op: usize, has_keys: bool, recs: &[Rec], last: &mut Vec<Last>, steps: &mut Vec<Step>) {
        last.clear();
        let rebalanced = |key: KeyId| recs.iter().any(|r| r.kind == Kind::Key && key_of(r) == key);
        let mut previous = None;
        let mut skipping = false;
        for rec in recs {
            let id = key_of(rec);
            match rec.kind {
                Kind::PollKey => {
                    skipping = has_keys && rebalanced(id);
                    previous = last.iter().position(|l| l.key == id);
                }
                Kind::Read if !skipping => {
                    let index = &self.keys[id];
                    let hint = previous.map(|p: usize| last[p].rank);
                    // Every read is an observation, so its offset is always in the version order.
                    let Some(rank) = rank_near(index, rec.offset, hint) else { continue };
                    let position = Position { op, offset: rec.offset, value: rec.value };
                    let current = Last { key: id, position, rank };
                    match previous {
                        Some(p) => {
                            push_irregular(steps, &last[p], &current);
                            last[p] = current;
                        }
                        None => {
                            last.push(current);
                            previous = Some(last.len() - 1);
                        }
                    }
                }
                Kind::Read | Kind::Send | Kind::Key => {}
            }
        }
    }

    /// Steps between consecutive sends to each key in `op`, in the order listed. A send's place is its
    /// acknowledged offset, else the lowest offset any observation puts its value at; unplaced sends are skipped.
    fn send_steps_of(&self, op: usize, recs: &[Rec], last: &mut Vec<Last>, steps: &mut Vec<Step>) {
        last.clear();
        for rec in recs.iter().filter(|r| r.kind == Kind::Send) {
            let id = key_of(rec);
            let index = &self.keys[id];
            let Some(offset) = index.offset_of(rec.value) else { continue };
            let Some(rank) = index.rank(offset) else { continue };
            let current = Last { key: id, position: Position { op, offset, value: rec.value }, rank };
            match last.iter().position(|l| l.key == id) {
                Some(p) => {
                    push_irregular(steps, &last[p], &current);
                    last[p] = current;
                }
                None => last.push(current),
            }
        }
    }
}

/// Whether two sends among `recs` go to the same key.
fn repeats_a_key(recs: &[Rec]) -> bool {
    let mut keys: Vec<KeyId> = recs.iter().filter(|r| r.kind == Kind::Send).map(key_of).collect();
    keys.sort_unstable();
    keys.windows(2).any(|w| w[0] == w[1])
}

/// Reads by `op` of values it sent to the same key.
fn own_reads_of(op: usize, recs: &[Rec], sent: &mut Vec<(KeyId, Value)>, own: &mut Vec<OwnRead>) {
    sent.clear();
    sent.extend(recs.iter().filter(|r| r.kind == Kind::Send).map(|r| (key_of(r), r.value)));
    sent.sort_unstable();
    for rec in recs.iter().filter(|r| r.kind == Kind::Read) {
        if sent.binary_search(&(key_of(rec), rec.value)).is_ok() {
            own.push(OwnRead { op, key: key_of(rec), value: rec.value, offset: rec.offset });
        }
    }
}

/// The rank of `offset` in the version order, trying the rank right after `hint` first: consecutive reads are
/// almost always neighbours, and the check makes the walk linear instead of a binary search per record.
fn rank_near(index: &KeyIndex, offset: Offset, hint: Option<usize>) -> Option<usize> {
    if let Some(next) = hint.map(|h| h + 1) {
        if index.version_order.get(next) == Some(&offset) {
            return Some(next);
        }
    }
    index.rank(offset)
}

fn push_irregular(steps: &mut Vec<Step>, before: &Last, after: &Last) {
    assert_eq!(before.key, after.key);
    let delta = after.rank as i64 - before.rank as i64;
    if delta != 1 {
        steps.push(Step { key: after.key, before: before.position, after: after.position, delta });
    }
}
