//! Idempotent-producer rules: the 5-batch duplicate window, sequence gaps, epoch fencing and
//! bumps, expiry, and state surviving restarts and crashes.

mod common;

use common::*;
use runnel_log::{AppendOutcome, LogConfig, LogError, PartitionLog};

fn appended(log: &mut PartitionLog, batch: &[u8]) -> (i64, i64) {
    match append(log, batch, 0).0 {
        AppendOutcome::Appended { base_offset, last_offset, .. } => (base_offset, last_offset),
        other => panic!("expected an append, got {other:?}"),
    }
}

fn retry(log: &mut PartitionLog, batch: &[u8]) -> Result<AppendOutcome, LogError> {
    log.append(batch, 0)
}

#[test]
fn duplicate_of_each_of_the_last_five_batches_returns_its_original_offsets() {
    each_storage(|t| {
        let mut log = t.open(&LogConfig::default(), 0);
        append(&mut log, &plain(3, 5, 0), 0); // offsets 0-2 belong to nobody
        let batches: Vec<Vec<u8>> = (0..6).map(|i| idempotent(7, 0, i * 2, 2)).collect();
        let offsets: Vec<(i64, i64)> = batches.iter().map(|b| appended(&mut log, b)).collect();
        let end = log.log_end_offset();
        for (batch, &(base_offset, last_offset)) in batches.iter().zip(&offsets).skip(1) {
            assert_eq!(
                retry(&mut log, batch).unwrap(),
                AppendOutcome::Duplicate { base_offset, last_offset },
                "{}",
                t.name
            );
        }
        // The sixth-newest batch left the window: a retry of it is out of order.
        assert!(matches!(
            retry(&mut log, &batches[0]),
            Err(LogError::OutOfOrderSequence { producer_id: 7, expected: 12, received: 0 })
        ));
        assert_eq!(log.log_end_offset(), end, "{}: duplicates write nothing", t.name);
    });
}

#[test]
fn sequence_gap_is_out_of_order_and_the_next_in_sequence_batch_is_accepted() {
    each_storage(|t| {
        let mut log = t.open(&LogConfig::default(), 0);
        appended(&mut log, &idempotent(1, 0, 0, 3)); // seq 0-2
        assert!(matches!(
            retry(&mut log, &idempotent(1, 0, 4, 1)),
            Err(LogError::OutOfOrderSequence { producer_id: 1, expected: 3, received: 4 })
        ));
        // Overlapping but not identical to a cached batch: not a duplicate either.
        assert!(matches!(retry(&mut log, &idempotent(1, 0, 1, 2)), Err(LogError::OutOfOrderSequence { .. })));
        assert_eq!(appended(&mut log, &idempotent(1, 0, 3, 1)), (3, 3));
    });
}

#[test]
fn stale_epoch_is_fenced_and_a_bump_must_restart_at_sequence_zero() {
    each_storage(|t| {
        let mut log = t.open(&LogConfig::default(), 0);
        appended(&mut log, &idempotent(4, 2, 0, 1));
        appended(&mut log, &idempotent(4, 2, 1, 1));
        assert!(matches!(
            retry(&mut log, &idempotent(4, 1, 2, 1)),
            Err(LogError::InvalidProducerEpoch { producer_id: 4, received: 1, current: 2 })
        ));
        assert!(matches!(
            retry(&mut log, &idempotent(4, 3, 2, 1)),
            Err(LogError::OutOfOrderSequence { producer_id: 4, expected: 0, received: 2 })
        ));
        appended(&mut log, &idempotent(4, 3, 0, 1));
        // The bump cleared the old epoch's window: its batches are now fenced, not duplicates.
        assert!(matches!(retry(&mut log, &idempotent(4, 2, 1, 1)), Err(LogError::InvalidProducerEpoch { .. })));
        assert_eq!(log.producer_state().entry(4).unwrap().epoch, 3);
    });
}

#[test]
fn unknown_producer_may_start_at_any_sequence() {
    each_storage(|t| {
        let mut log = t.open(&LogConfig::default(), 0);
        assert_eq!(appended(&mut log, &idempotent(9, 5, 1_000, 2)), (0, 1));
        assert_eq!(appended(&mut log, &idempotent(9, 5, 1_002, 1)), (2, 2));
    });
}

#[test]
fn batches_without_a_producer_id_bypass_producer_checks() {
    each_storage(|t| {
        let mut log = t.open(&LogConfig::default(), 0);
        let batch = plain(2, 5, 0);
        assert_eq!(appended(&mut log, &batch), (0, 1));
        assert_eq!(appended(&mut log, &batch), (2, 3), "an identical plain batch is not a duplicate");
        assert!(log.producer_state().is_empty());
    });
}

#[test]
fn idle_producers_expire_and_may_then_restart_anywhere() {
    each_storage(|t| {
        let config = LogConfig { producer_id_expiration_ms: 10_000, ..LogConfig::default() };
        let mut log = t.open(&config, 0);
        appended(&mut log, &idempotent(3, 0, 0, 1)); // batch timestamp 1_000
        log.tick(1_000 + 9_999).unwrap();
        assert_eq!(log.expire_producers(1_000 + 9_999), 0);
        log.apply_retention(1_000 + 10_000).unwrap();
        assert!(log.producer_state().entry(3).is_none());
        assert_eq!(appended(&mut log, &idempotent(3, 0, 50, 1)), (1, 1));
    });
}

#[test]
fn dedup_survives_a_clean_restart() {
    each_storage(|t| {
        let config = small_config();
        let mut log = t.open(&config, 0);
        let batches: Vec<Vec<u8>> = (0..5).map(|i| idempotent(11, 1, i * 3, 3)).collect();
        let offsets: Vec<(i64, i64)> = batches.iter().map(|b| appended(&mut log, b)).collect();
        log.close().unwrap();
        let mut log = t.open(&config, 0);
        for (batch, &(base_offset, last_offset)) in batches.iter().zip(&offsets) {
            assert_eq!(retry(&mut log, batch).unwrap(), AppendOutcome::Duplicate { base_offset, last_offset }, "{}", t.name);
        }
        assert!(matches!(retry(&mut log, &idempotent(11, 1, 16, 1)), Err(LogError::OutOfOrderSequence { .. })));
        appended(&mut log, &idempotent(11, 1, 15, 1));
    });
}

#[test]
fn dedup_survives_a_crash_by_replaying_the_log() {
    each_storage(|t| {
        // Rolls write snapshots mid-way; the batches after the last one are replayed.
        let config = LogConfig { flush_messages: 1, segment_bytes: 300, ..small_config() };
        let mut log = t.open(&config, 0);
        let batches: Vec<Vec<u8>> = (0..9).map(|i| idempotent(12, 0, i * 2, 2)).collect();
        let offsets: Vec<(i64, i64)> = batches.iter().map(|b| appended(&mut log, b)).collect();
        assert!(log.segment_base_offsets().len() > 1);
        drop(log);
        t.crash();
        let mut log = t.open(&config, 0);
        for (batch, &(base_offset, last_offset)) in batches.iter().zip(&offsets).skip(4) {
            assert_eq!(retry(&mut log, batch).unwrap(), AppendOutcome::Duplicate { base_offset, last_offset }, "{}", t.name);
        }
        appended(&mut log, &idempotent(12, 0, 18, 1));
    });
}

#[test]
fn dedup_survives_a_crash_without_any_snapshot() {
    each_storage(|t| {
        let config = LogConfig { flush_messages: 1, ..LogConfig::default() };
        let mut log = t.open(&config, 0);
        let batches: Vec<Vec<u8>> = (0..3).map(|i| idempotent(13, 0, i, 1)).collect();
        let offsets: Vec<(i64, i64)> = batches.iter().map(|b| appended(&mut log, b)).collect();
        drop(log);
        t.crash();
        assert!(!t.names().iter().any(|n| n.ends_with(".snapshot")));
        let mut log = t.open(&config, 0);
        for (batch, &(base_offset, last_offset)) in batches.iter().zip(&offsets) {
            assert_eq!(retry(&mut log, batch).unwrap(), AppendOutcome::Duplicate { base_offset, last_offset });
        }
    });
}

#[test]
fn corrupt_snapshot_is_ignored_and_state_rebuilt_from_the_log() {
    each_storage(|t| {
        let config = LogConfig::default();
        let mut log = t.open(&config, 0);
        let batches: Vec<Vec<u8>> = (0..4).map(|i| idempotent(14, 2, i, 1)).collect();
        let offsets: Vec<(i64, i64)> = batches.iter().map(|b| appended(&mut log, b)).collect();
        log.close().unwrap();
        let snapshot = format!("{:020}.snapshot", 4);
        assert!(t.names().contains(&snapshot));
        t.overwrite(&snapshot, 10, &[0xFF, 0xFF]);
        let mut log = t.open(&config, 0);
        assert!(!t.names().contains(&snapshot), "{}: the corrupt snapshot is removed", t.name);
        for (batch, &(base_offset, last_offset)) in batches.iter().zip(&offsets) {
            assert_eq!(retry(&mut log, batch).unwrap(), AppendOutcome::Duplicate { base_offset, last_offset });
        }
        assert!(matches!(retry(&mut log, &idempotent(14, 1, 4, 1)), Err(LogError::InvalidProducerEpoch { .. })));
    });
}

#[test]
fn snapshot_past_the_recovered_end_is_not_used() {
    // A snapshot written at a roll can outlive the data it describes (the data was never
    // synced); using it would remember batches that are no longer in the log.
    let t = TestDir::mem();
    let config = LogConfig { segment_bytes: 300, ..small_config() };
    let mut log = t.open(&config, 0);
    appended(&mut log, &idempotent(15, 0, 0, 1));
    log.flush().unwrap();
    for i in 1..8 {
        appended(&mut log, &idempotent(15, 0, i, 1));
    }
    assert!(log.segment_base_offsets().len() > 1);
    drop(log);
    t.crash();
    let snapshots: Vec<String> = t.names().into_iter().filter(|n| n.ends_with(".snapshot")).collect();
    assert!(!snapshots.is_empty(), "a roll snapshot past the flushed data survived the crash");
    let mut log = t.open(&config, 0);
    assert_eq!(log.log_end_offset(), 1);
    assert!(t.names().iter().all(|n| !snapshots.contains(n)), "snapshots past the end are deleted");
    // Sequence 1 was lost with its data: it is a new append, not a duplicate.
    assert_eq!(appended(&mut log, &idempotent(15, 0, 1, 1)), (1, 1));
}
