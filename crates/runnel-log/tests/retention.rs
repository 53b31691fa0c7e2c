//! Retention by time and by size, the log start offset it advances, and truncation.

mod common;

use common::*;
use runnel_log::{LogConfig, LogError, RetentionOutcome};

/// Appends batches of ~300 bytes with the given timestamps; with 1000-byte segments three
/// fit per segment.
fn fill(log: &mut runnel_log::PartitionLog, timestamps: &[i64]) -> Vec<Vec<u8>> {
    timestamps.iter().map(|&ts| append(log, &plain(1, 230, ts), ts).1).collect()
}

#[test]
fn retention_by_time_deletes_expired_segments_and_advances_log_start() {
    each_storage(|t| {
        let config = LogConfig { retention_ms: 10_000, ..small_config() };
        let mut log = t.open(&config, 0);
        let stored = fill(&mut log, &[1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 20_000, 21_000, 22_000, 30_000]);
        assert_eq!(log.segment_base_offsets(), vec![0, 3, 6, 9], "{}", t.name);
        // Segment 0's largest timestamp is 3_000, segment 3's is 6_000.
        assert_eq!(log.apply_retention(13_000).unwrap(), RetentionOutcome::default(), "not expired at exactly retention.ms");
        let outcome = log.apply_retention(13_001).unwrap();
        assert_eq!(outcome.segments_deleted, 1);
        assert_eq!(outcome.bytes_deleted, stored[..3].iter().map(|b| b.len() as u64).sum::<u64>());
        assert_eq!(log.log_start_offset(), 3);
        let outcome = log.apply_retention(16_500).unwrap();
        assert_eq!(outcome.segments_deleted, 1);
        assert_eq!(log.log_start_offset(), 6);
        assert_eq!(log.segment_base_offsets(), vec![6, 9]);
        assert!(matches!(log.read(5, 1_000, i64::MAX, true), Err(LogError::OffsetOutOfRange { .. })));
        assert_eq!(read_all(&log), stored[6..].to_vec(), "{}", t.name);
        let names = t.names();
        assert!(!names.iter().any(|n| n.starts_with("00000000000000000000.") || n.starts_with("00000000000000000003.")));
    });
}

#[test]
fn expired_active_segment_is_rolled_then_deleted() {
    each_storage(|t| {
        let config = LogConfig { retention_ms: 1_000, ..small_config() };
        let mut log = t.open(&config, 0);
        fill(&mut log, &[100, 200, 300, 400]);
        assert_eq!(log.segment_base_offsets(), vec![0, 3]);
        let outcome = log.apply_retention(5_000).unwrap();
        assert_eq!(outcome.segments_deleted, 2, "{}", t.name);
        assert_eq!(log.segment_base_offsets(), vec![4]);
        assert_eq!(log.log_start_offset(), 4);
        assert_eq!(log.log_end_offset(), 4);
        assert_eq!(log.size_bytes(), 0);
        // The empty active segment is never deleted.
        assert_eq!(log.apply_retention(50_000).unwrap(), RetentionOutcome::default());
        let next = append(&mut log, &plain(1, 10, 60_000), 60_000);
        assert_eq!(base_of(next.0), 4);
    });
}

#[test]
fn retention_by_size_deletes_oldest_segments_while_the_rest_stays_above_the_limit() {
    each_storage(|t| {
        let mut config = small_config();
        let mut log = t.open(&config, 0);
        let stored = fill(&mut log, &[0; 10]);
        let batch = stored[0].len() as i64;
        assert_eq!(log.segment_base_offsets(), vec![0, 3, 6, 9]);
        // 10 batches; keeping at least 5 means deleting only whole segments above that.
        config.retention_bytes = 5 * batch;
        log.set_config(config.clone());
        let outcome = log.apply_retention(0).unwrap();
        assert_eq!(outcome.segments_deleted, 1, "{}", t.name);
        assert_eq!(log.log_start_offset(), 3);
        assert_eq!(log.size_bytes() as i64, 7 * batch);
        config.retention_bytes = 4 * batch;
        log.set_config(config.clone());
        assert_eq!(log.apply_retention(0).unwrap().segments_deleted, 1);
        assert_eq!(log.log_start_offset(), 6);
        assert_eq!(read_all(&log), stored[6..].to_vec());
        // Deleting segment 6 would leave 1 batch: only a limit at or below that allows it.
        config.retention_bytes = batch + 1;
        log.set_config(config.clone());
        assert_eq!(log.apply_retention(0).unwrap().segments_deleted, 0);
        config.retention_bytes = batch;
        log.set_config(config.clone());
        assert_eq!(log.apply_retention(0).unwrap().segments_deleted, 1);
        assert_eq!(log.segment_base_offsets(), vec![9]);
        // Zero bytes: the active segment goes too, after a fresh one is rolled.
        config.retention_bytes = 0;
        log.set_config(config);
        assert_eq!(log.apply_retention(0).unwrap().segments_deleted, 1);
        assert_eq!(log.segment_base_offsets(), vec![10]);
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (10, 10));
    });
}

#[test]
fn minus_one_disables_both_retention_limits() {
    each_storage(|t| {
        let mut log = t.open(&small_config(), 0);
        fill(&mut log, &[0; 10]);
        assert_eq!(log.apply_retention(i64::MAX).unwrap(), RetentionOutcome::default());
        assert_eq!(log.log_start_offset(), 0);
    });
}

#[test]
fn log_start_offset_survives_restart_and_crash() {
    each_storage(|t| {
        let config = LogConfig { retention_ms: 10_000, ..small_config() };
        let mut log = t.open(&config, 0);
        let stored = fill(&mut log, &[1, 2, 3, 4, 5, 6, 50_000]);
        log.apply_retention(30_000).unwrap();
        assert_eq!(log.log_start_offset(), 6);
        log.flush().unwrap();
        drop(log);
        t.crash();
        let log = t.open(&config, 0);
        assert_eq!(log.log_start_offset(), 6, "{}", t.name);
        assert_eq!(read_all(&log), stored[6..].to_vec());
        log.close().unwrap();
        let log = t.open(&config, 0);
        assert_eq!(log.log_start_offset(), 6);
    });
}

#[test]
fn crash_after_retention_neither_resurrects_segments_nor_reuses_offsets() {
    // Nothing was flushed: the data is lost, but offsets below the log start were handed out
    // and must not be handed out again.
    let t = TestDir::mem();
    let config = LogConfig { retention_ms: 10_000, ..small_config() };
    let mut log = t.open(&config, 0);
    fill(&mut log, &[1, 2, 3, 4, 5, 6, 50_000]);
    log.apply_retention(30_000).unwrap();
    drop(log);
    t.crash();
    let mut log = t.open(&config, 0);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (6, 6));
    assert_eq!(log.segment_base_offsets(), vec![6]);
    assert!(!t.names().iter().any(|n| n.starts_with("00000000000000000000.")));
    assert_eq!(base_of(append(&mut log, &plain(1, 5, 0), 0).0), 6);
}

#[test]
fn truncate_to_cuts_at_the_batch_holding_the_offset() {
    each_storage(|t| {
        let config = small_config();
        let mut log = t.open(&config, 0);
        let mut stored = Vec::new();
        for _ in 0..8 {
            stored.push(append(&mut log, &plain(2, 200, 0), 0).1);
        }
        assert!(log.segment_base_offsets().len() > 2);
        log.truncate_to(7).unwrap(); // offset 7 is inside the batch 6-7
        assert_eq!(log.log_end_offset(), 6);
        assert_eq!(read_all(&log), stored[..3].to_vec(), "{}", t.name);
        stored.truncate(3);
        stored.push(append(&mut log, &plain(1, 10, 0), 0).1);
        assert_eq!(read_all(&log), stored);
        log.close().unwrap();
        let log = t.open(&config, 0);
        assert_eq!(read_all(&log), stored, "{}", t.name);
    });
}

#[test]
fn truncate_to_rebuilds_producer_state_below_the_cut() {
    each_storage(|t| {
        let mut log = t.open(&LogConfig::default(), 0);
        append(&mut log, &idempotent(5, 0, 0, 1), 0);
        append(&mut log, &idempotent(5, 0, 1, 1), 0);
        log.truncate_to(1).unwrap();
        // Sequence 1 is gone from the log: it must be accepted again, not answered as a duplicate.
        let (outcome, _) = append(&mut log, &idempotent(5, 0, 1, 1), 0);
        assert!(matches!(outcome, runnel_log::AppendOutcome::Appended { base_offset: 1, .. }), "{}", t.name);
    });
}

#[test]
fn truncate_to_at_or_below_log_start_empties_the_log() {
    each_storage(|t| {
        let config = LogConfig { retention_ms: 10, ..small_config() };
        let mut log = t.open(&config, 0);
        fill(&mut log, &[0, 0, 0, 1_000, 1_000]);
        log.apply_retention(100).unwrap();
        assert_eq!(log.log_start_offset(), 3);
        log.truncate_to(3).unwrap();
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (3, 3));
        assert_eq!(log.segment_base_offsets(), vec![3]);
        let next = append(&mut log, &plain(1, 5, 0), 0);
        assert_eq!(base_of(next.0), 3, "{}", t.name);
        log.truncate_to(0).unwrap();
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
        assert_eq!(log.segment_base_offsets(), vec![0]);
        drop(log);
        let log = t.open(&config, 0);
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
    });
}

#[test]
fn delete_removes_the_partition_directory() {
    each_storage(|t| {
        let mut log = t.open(&LogConfig::default(), 0);
        append(&mut log, &plain(1, 5, 0), 0);
        log.delete().unwrap();
        assert!(!t.storage.exists(&t.dir).unwrap(), "{}", t.name);
    });
}
