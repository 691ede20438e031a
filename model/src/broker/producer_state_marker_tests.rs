//! The marker epoch checks of `ProducerAppendInfo.appendEndTxnMarker` / `checkProducerEpoch`, for both
//! transaction versions, built by hand on one partition's producer state.

use super::*;

fn id(producer_id: u64, epoch: u16) -> ProducerIdentity {
    ProducerIdentity { producer_id, epoch, base_sequence: 0 }
}

/// Producer 1 wrote a transactional batch at `epoch` at offset 0: its transaction is open here.
fn open_at(epoch: u16) -> ProducerStateManager {
    let mut state = ProducerStateManager::new();
    state.update(id(1, epoch), 1, 0, true, 0);
    assert!(state.has_open_txn(1, epoch));
    state
}

#[test]
fn check_producer_epoch_tv2_rejects_a_marker_at_the_current_epoch_of_an_open_transaction() {
    // KAFKA-19446: the open transaction at epoch 4 is the producer's next one; a COMMIT at epoch 4 is a late
    // copy of the previous transaction's marker and must not end it.
    let state = open_at(4);
    assert_eq!(state.check_marker_transaction_version_2(id(1, 4), true), Err(ErrorCode::InvalidProducerEpoch));
    assert_eq!(state.check_marker_transaction_version_2(id(1, 3), true), Err(ErrorCode::InvalidProducerEpoch));
    assert_eq!(state.check_marker_transaction_version_2(id(1, 5), true), Ok(()), "the bumped epoch ends it");
}

#[test]
fn check_producer_epoch_tv2_accepts_an_idempotent_retry_with_no_transaction_open() {
    // KAFKA-19999: the first copy of the epoch-5 marker landed and closed the transaction; its retry is
    // accepted, an older epoch is not.
    let mut state = open_at(4);
    assert_eq!(state.apply_marker(id(1, 5), ControlMarker::Commit, 0, 1), None);
    assert!(!state.has_open_txn(1, 5));
    assert_eq!(state.check_marker_transaction_version_2(id(1, 5), true), Ok(()));
    assert_eq!(state.check_marker_transaction_version_2(id(1, 4), true), Err(ErrorCode::InvalidProducerEpoch));
    assert_eq!(state.check_marker_transaction_version_2(id(2, 0), true), Ok(()), "an id the partition never saw");
}

#[test]
fn check_producer_epoch_tv2_before_kafka_19999_refuses_the_idempotent_retry() {
    // The `KAFKA-19999` switch: the first copy of the epoch-5 COMMIT landed; its retry, at the same epoch with
    // nothing open, is refused as a stale marker, so the coordinator never hears it written.
    let mut state = open_at(4);
    state.apply_marker(id(1, 5), ControlMarker::Commit, 0, 1);
    assert_eq!(state.check_marker_transaction_version_2(id(1, 5), false), Err(ErrorCode::InvalidProducerEpoch));
    assert_eq!(state.check_marker_transaction_version_2(id(1, 5), true), Ok(()), "fixed: accepted");
    assert_eq!(state.check_marker_transaction_version_2(id(1, 6), false), Ok(()), "a bumped epoch still passes");
}

#[test]
fn check_producer_epoch_tv1_accepts_the_current_epoch_and_fences_older_ones() {
    // Transaction version 1 keeps the epoch across transactions: its markers come at the current epoch.
    let state = open_at(4);
    assert_eq!(state.check_marker(id(1, 4), 0), Ok(()));
    assert_eq!(state.check_marker(id(1, 3), 0), Err(ErrorCode::InvalidProducerEpoch));
}

#[test]
fn check_coordinator_epoch_fences_a_marker_of_an_older_coordinator() {
    let mut state = open_at(4);
    state.apply_marker(id(1, 4), ControlMarker::Abort, 3, 1);
    assert_eq!(state.check_marker(id(1, 4), 2), Err(ErrorCode::TransactionCoordinatorFenced));
    assert_eq!(state.check_marker(id(1, 4), 3), Ok(()));
}
