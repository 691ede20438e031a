//! What a consumer does with a fetch response: Kafka's `CompletedFetch` (clients/.../consumer/internals), which
//! turns the batches a broker returned into the records the application sees.
//!
//! The broker does not filter aborted transactions out of a read_committed fetch. It returns every batch up to
//! the last stable offset — data batches with their producer id and transactional flag, and the control
//! batches (COMMIT/ABORT markers) — together with the aborted transactions whose range overlaps the fetch (from
//! its aborted-transaction index: producer id and first offset). The consumer filters:
//! - before a transactional batch, every aborted transaction that starts at or before the batch's last offset
//!   is taken from the list and its producer becomes "aborted" (`consumeAbortedTransactionsUpTo`);
//! - a transactional batch of an aborted producer is skipped;
//! - that producer's ABORT marker ends its aborted run (`isBatchAborted` / `abortedProducerIds.remove`);
//! - control batches occupy offsets but are never delivered.
//!
//! A read_uncommitted consumer takes every data batch up to the high watermark, markers skipped. Both return
//! the offset to fetch from next: past the last batch returned, delivered or not.

use crate::protocol::{ControlMarker, FetchedBatch, IsolationLevel};
use std::collections::BTreeSet;

/// The records a fetch response yields to the application, and where the next fetch starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletedFetch {
    /// (offset, value) of every record delivered, in offset order.
    pub records: Vec<(u64, i64)>,
    /// The offset the consumer fetches from next.
    pub next_offset: u64,
}

/// Filters one partition's fetched batches as Kafka's consumer does; `aborted` is the response's list of
/// (producer id, first offset) of aborted transactions overlapping the fetch, `fetch_offset` where it started.
pub fn complete_fetch(
    batches: &[FetchedBatch],
    aborted: &[(u64, u64)],
    fetch_offset: u64,
    isolation: IsolationLevel,
) -> CompletedFetch {
    let mut pending: Vec<(u64, u64)> = aborted.to_vec();
    // Kafka keeps them in a priority queue by first offset; a sorted list consumed from the front is the same.
    pending.sort_by_key(|&(producer_id, first_offset)| (first_offset, producer_id));
    let mut pending = pending.into_iter().peekable();
    let mut aborted_producers: BTreeSet<u64> = BTreeSet::new();
    let mut fetched = CompletedFetch { records: Vec::new(), next_offset: fetch_offset };
    for batch in batches {
        assert!(batch.base_offset + batch.record_count() > fetched.next_offset, "batches come in offset order");
        fetched.next_offset = batch.base_offset + batch.record_count();
        if isolation == IsolationLevel::ReadCommitted && batch.transactional {
            while let Some((producer_id, _)) = pending.next_if(|&(_, first)| first <= batch.last_offset()) {
                aborted_producers.insert(producer_id);
            }
        }
        match batch.control {
            Some(ControlMarker::Abort) => {
                if let Some(producer_id) = batch.producer_id {
                    aborted_producers.remove(&producer_id);
                }
                continue;
            }
            Some(ControlMarker::Commit) => continue,
            None => {}
        }
        let aborted_batch = isolation == IsolationLevel::ReadCommitted
            && batch.transactional
            && batch.producer_id.is_some_and(|producer_id| aborted_producers.contains(&producer_id));
        if aborted_batch {
            continue;
        }
        let offsets = batch.base_offset..;
        let records = offsets.zip(batch.values.iter().copied()).filter(|(offset, _)| *offset >= fetch_offset);
        fetched.records.extend(records);
    }
    fetched
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(base_offset: u64, producer_id: u64, transactional: bool, values: &[i64]) -> FetchedBatch {
        FetchedBatch {
            base_offset,
            producer_id: Some(producer_id),
            transactional,
            control: None,
            values: values.into(),
        }
    }

    fn marker(offset: u64, producer_id: u64, marker: ControlMarker) -> FetchedBatch {
        FetchedBatch {
            base_offset: offset,
            producer_id: Some(producer_id),
            transactional: true,
            control: Some(marker),
            values: vec![0].into(),
        }
    }

    /// Two producers interleave on one partition; A's transaction aborts, B's commits, then A writes again:
    ///
    /// ```text
    ///   offset 0-1  A txn  [10, 11]     aborted index: (A, first 0)
    ///   offset 2    B txn  [20]
    ///   offset 3    ABORT(A)
    ///   offset 4    COMMIT(B)
    ///   offset 5    A txn  [12]         (A's next transaction)
    ///   offset 6    COMMIT(A)
    /// ```
    /// read_committed delivers 20 and 12; read_uncommitted delivers 10, 11, 20, 12. Without the aborted list a
    /// read_committed consumer would take the aborted records too.
    fn interleaved() -> Vec<FetchedBatch> {
        vec![
            data(0, 1, true, &[10, 11]),
            data(2, 2, true, &[20]),
            marker(3, 1, ControlMarker::Abort),
            marker(4, 2, ControlMarker::Commit),
            data(5, 1, true, &[12]),
            marker(6, 1, ControlMarker::Commit),
        ]
    }

    #[test]
    fn completed_fetch_skips_aborted_transactions_until_their_abort_marker() {
        let committed = complete_fetch(&interleaved(), &[(1, 0)], 0, IsolationLevel::ReadCommitted);
        assert_eq!(committed, CompletedFetch { records: vec![(2, 20), (5, 12)], next_offset: 7 });
        let uncommitted = complete_fetch(&interleaved(), &[(1, 0)], 0, IsolationLevel::ReadUncommitted);
        assert_eq!(uncommitted.records, vec![(0, 10), (1, 11), (2, 20), (5, 12)]);
        let unfiltered = complete_fetch(&interleaved(), &[], 0, IsolationLevel::ReadCommitted);
        assert_eq!(unfiltered.records.len(), 4, "the aborted list is what hides the aborted transaction");
    }

    #[test]
    fn completed_fetch_starting_inside_a_batch_delivers_from_the_fetch_offset() {
        let fetched = complete_fetch(&interleaved()[..2], &[], 1, IsolationLevel::ReadCommitted);
        assert_eq!(fetched, CompletedFetch { records: vec![(1, 11), (2, 20)], next_offset: 3 });
    }

    #[test]
    fn completed_fetch_keeps_non_transactional_batches_of_an_aborted_producer() {
        // An idempotent (non-transactional) batch is never part of a transaction, whatever the list says.
        let batches = vec![data(0, 1, false, &[7]), marker(1, 1, ControlMarker::Abort)];
        let fetched = complete_fetch(&batches, &[(1, 0)], 0, IsolationLevel::ReadCommitted);
        assert_eq!(fetched.records, vec![(0, 7)]);
    }
}
