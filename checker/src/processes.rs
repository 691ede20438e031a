//! What every pass over a history needs per process: a dense id for each process, so that per-process state
//! lives in vectors instead of maps searched on every event, and the pairing of each invocation with its
//! process's next completion.

use std::collections::BTreeMap;

use crate::history::OpType;

/// Processes renumbered densely from 0 in order of first sight.
#[derive(Debug, Default)]
pub(crate) struct DenseProcesses {
    ids: BTreeMap<u64, usize>,
    /// The last process seen and its id: a process's invocation and completion are often close together.
    last: Option<(u64, usize)>,
}

impl DenseProcesses {
    /// The dense id of `process`, and true if the process is seen for the first time.
    pub(crate) fn id(&mut self, process: u64) -> (usize, bool) {
        if let Some((last, id)) = self.last {
            if last == process {
                return (id, false);
            }
        }
        let next = self.ids.len();
        let id = *self.ids.entry(process).or_insert(next);
        self.last = Some((process, id));
        (id, id == next)
    }

    /// How many processes have been seen.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}

/// Pairs each invocation with its process's next completion, both ways in `partner`; `in_flight` is the
/// process's invocation, if any. A second invocation while one is in flight breaks the format; the first then
/// never completes, which is read as an unknown outcome.
pub(crate) fn pair(partner: &mut [Option<usize>], in_flight: &mut Option<usize>, op_type: OpType, index: usize) {
    if op_type == OpType::Invoke {
        *in_flight = Some(index);
    } else if let Some(invoke) = in_flight.take() {
        partner[invoke] = Some(index);
        partner[index] = Some(invoke);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_in_order_of_first_sight() {
        let mut processes = DenseProcesses::default();
        let seen: Vec<(usize, bool)> = [7, 7, 3, 7, 9, 3].into_iter().map(|p| processes.id(p)).collect();
        assert_eq!(seen, vec![(0, true), (0, false), (1, true), (0, false), (2, true), (1, false)]);
        assert_eq!(processes.len(), 3);
    }

    #[test]
    fn an_invocation_pairs_with_its_next_completion_and_a_second_invocation_orphans_the_first() {
        let mut partner = vec![None; 4];
        let mut in_flight = None;
        for (index, op_type) in [OpType::Invoke, OpType::Invoke, OpType::Ok, OpType::Ok].into_iter().enumerate() {
            pair(&mut partner, &mut in_flight, op_type, index);
        }
        assert_eq!(partner, vec![None, Some(2), Some(1), None]);
    }
}
