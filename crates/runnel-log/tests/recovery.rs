//! Restart and crash recovery: clean shutdown, torn writes, garbage tails, corrupt batches and
//! indexes, full disks and failed syncs.

mod common;

use std::sync::Arc;

use common::*;
use runnel_log::{FaultPlan, FaultStorage, LogConfig, LogError, MemStorage, PartitionLog, Storage};
use runnel_protocol::batch::validate_batch;

fn fault_dir() -> (FaultStorage, Arc<dyn Storage>, std::path::PathBuf) {
    let fault = FaultStorage::new(MemStorage::new());
    let storage: Arc<dyn Storage> = Arc::new(fault.clone());
    (fault, storage, std::path::PathBuf::from("/data/t-0"))
}

#[test]
fn clean_restart_keeps_every_batch_and_offset() {
    each_storage(|t| {
        let config = small_config();
        let mut log = t.open(&config, 0);
        let mut stored = Vec::new();
        for i in 0..15 {
            stored.push(append(&mut log, &plain(2, 60, 1_000 + i), 0).1);
        }
        let bases = log.segment_base_offsets();
        log.close().unwrap();
        assert!(t.names().contains(&runnel_log::CLEAN_SHUTDOWN_FILE.to_owned()));
        t.crash(); // close made everything durable: a power loss now loses nothing
        let mut log = t.open(&config, 0);
        assert!(!t.names().contains(&runnel_log::CLEAN_SHUTDOWN_FILE.to_owned()), "open consumes the marker");
        assert_eq!(log.segment_base_offsets(), bases);
        assert_eq!(read_all(&log), stored, "{}", t.name);
        assert_eq!(log.batch_with_max_timestamp().unwrap(), Some(stored[14].clone()));
        assert_eq!(log.batch_for_timestamp(1_003).unwrap(), Some(stored[3].clone()));
        let next = append(&mut log, &plain(1, 10, 0), 0);
        assert_eq!(base_of(next.0), 30);
    });
}

#[test]
fn unclean_restart_on_files_keeps_what_the_os_wrote() {
    let t = TestDir::file();
    let config = small_config();
    let mut log = t.open(&config, 0);
    let mut stored = Vec::new();
    for _ in 0..10 {
        stored.push(append(&mut log, &plain(1, 90, 0), 0).1);
    }
    drop(log); // no close: no marker, no checkpoint advance
    let log = t.open(&config, 0);
    assert_eq!(read_all(&log), stored);
}

#[test]
fn crash_keeps_flushed_batches_and_drops_unflushed_ones() {
    let t = TestDir::mem();
    let config = small_config();
    let mut log = t.open(&config, 0);
    let mut stored = Vec::new();
    for _ in 0..8 {
        stored.push(append(&mut log, &plain(1, 100, 0), 0).1);
    }
    log.flush().unwrap();
    assert_eq!(log.recovery_point(), 8);
    for _ in 0..5 {
        append(&mut log, &plain(1, 100, 0), 0);
    }
    drop(log);
    t.crash();
    let log = t.open(&config, 0);
    assert_eq!(read_all(&log), stored);
    assert_eq!(log.log_end_offset(), 8);
}

#[test]
fn torn_write_is_truncated_on_recovery_and_never_served() {
    let (fault, storage, dir) = fault_dir();
    let config = LogConfig { flush_messages: 1, ..small_config() };
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    let mut stored = Vec::new();
    for _ in 0..3 {
        stored.push(append(&mut log, &plain(1, 100, 0), 0).1);
    }
    // The next write is the batch itself: it lands halfway and the process dies.
    fault.set_plan(FaultPlan { tear_write: Some((0, 70)), halt_at_write: Some(0), ..FaultPlan::default() });
    let batch = plain(1, 100, 0);
    assert!(matches!(log.append(&batch, 0), Err(LogError::Io(_))));
    assert_eq!(log.log_end_offset(), 3);
    assert_eq!(read_all(&log), stored, "the torn bytes are not served before the crash either");
    drop(log);
    fault.crash();
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    assert_eq!(read_all(&log), stored);
    stored.push(append(&mut log, &plain(1, 5, 0), 0).1);
    assert_eq!(read_all(&log), stored);
}

#[test]
fn torn_tail_on_disk_is_truncated_on_recovery() {
    each_storage(|t| {
        let config = LogConfig { flush_messages: 1, ..small_config() };
        let mut log = t.open(&config, 0);
        let mut stored = Vec::new();
        for _ in 0..3 {
            stored.push(append(&mut log, &plain(1, 100, 0), 0).1);
        }
        drop(log);
        let torn = plain(1, 100, 0);
        t.append_raw("00000000000000000000.log", &torn[..torn.len() - 9]);
        let before = t.read("00000000000000000000.log").len();
        let log = t.open(&config, 0);
        assert_eq!(read_all(&log), stored, "{}", t.name);
        assert_eq!(t.read("00000000000000000000.log").len(), before - (torn.len() - 9), "{}: tail cut", t.name);
    });
}

#[test]
fn garbage_tail_after_clean_shutdown_is_truncated_too() {
    each_storage(|t| {
        let config = small_config();
        let mut log = t.open(&config, 0);
        let mut stored = Vec::new();
        for _ in 0..3 {
            stored.push(append(&mut log, &plain(1, 100, 0), 0).1);
        }
        log.close().unwrap();
        t.append_raw("00000000000000000000.log", &[0xAB; 200]);
        let mut log = t.open(&config, 0);
        assert_eq!(read_all(&log), stored, "{}", t.name);
        stored.push(append(&mut log, &plain(1, 7, 0), 0).1);
        assert_eq!(read_all(&log), stored);
    });
}

#[test]
fn corrupt_batch_mid_log_truncates_there_and_drops_later_segments() {
    each_storage(|t| {
        let config = small_config();
        let mut log = t.open(&config, 0);
        let mut stored = Vec::new();
        for _ in 0..12 {
            stored.push(append(&mut log, &plain(1, 150, 0), 0).1);
        }
        let bases = log.segment_base_offsets();
        assert!(bases.len() >= 3);
        drop(log); // unclean: the recovery point is still at the start
        // Flip a payload byte of the second batch of the first segment: its CRC no longer holds.
        let at = stored[0].len() + stored[1].len() - 3;
        t.overwrite("00000000000000000000.log", at as u64, &[0xFF]);
        let log = t.open(&config, 0);
        assert_eq!(read_all(&log), stored[..1].to_vec(), "{}", t.name);
        assert_eq!(log.segment_base_offsets(), vec![0]);
        let names = t.names();
        assert!(!names.iter().any(|n| n.starts_with(&format!("{:020}", bases[1]))), "{}: {names:?}", t.name);
    });
}

#[test]
fn non_contiguous_batch_offset_is_treated_as_corruption() {
    each_storage(|t| {
        let config = LogConfig::default();
        let mut log = t.open(&config, 0);
        let first = append(&mut log, &plain(2, 10, 0), 0).1;
        drop(log);
        // A valid batch whose base offset skips ahead: CRC fine, offsets not.
        let mut skipping = plain(1, 10, 0);
        runnel_protocol::batch::set_base_offset(&mut skipping, 5);
        t.append_raw("00000000000000000000.log", &skipping);
        let log = t.open(&config, 0);
        assert_eq!(read_all(&log), vec![first]);
    });
}

#[test]
fn corrupt_index_is_rebuilt_from_the_log() {
    each_storage(|t| {
        let config = LogConfig { index_interval_bytes: 50, ..LogConfig::default() };
        let mut log = t.open(&config, 0);
        let mut stored = Vec::new();
        for _ in 0..20 {
            stored.push(append(&mut log, &plain(1, 60, 0), 0).1);
        }
        log.close().unwrap();
        let good_index = t.read("00000000000000000000.index");
        // An entry pointing past the log: a trusted segment must not believe it.
        t.overwrite("00000000000000000000.index", 4, &[0x7F, 0, 0, 0]);
        let log = t.open(&config, 0);
        assert_eq!(read_all(&log), stored, "{}", t.name);
        for offset in 0..20 {
            let read = log.read(offset, 1, i64::MAX, true).unwrap();
            assert_eq!(read.bytes, stored[offset as usize]);
        }
        assert_eq!(t.read("00000000000000000000.index"), good_index, "{}: index rewritten", t.name);
    });
}

#[test]
fn missing_or_corrupt_checkpoint_recovers_every_segment() {
    each_storage(|t| {
        let config = small_config();
        let mut log = t.open(&config, 0);
        let mut stored = Vec::new();
        for _ in 0..10 {
            stored.push(append(&mut log, &plain(1, 150, 0), 0).1);
        }
        log.close().unwrap();
        t.overwrite(runnel_log::CHECKPOINT_FILE, 8, &[0xEE]);
        let log = t.open(&config, 0);
        assert_eq!(read_all(&log), stored, "{}", t.name);
        log.close().unwrap();
        t.storage.remove_file(&t.path(runnel_log::CHECKPOINT_FILE)).unwrap();
        let log = t.open(&config, 0);
        assert_eq!(read_all(&log), stored);
    });
}

#[test]
fn full_disk_fails_the_append_and_leaves_the_log_usable() {
    let (fault, storage, dir) = fault_dir();
    let config = LogConfig { index_interval_bytes: 50, ..LogConfig::default() };
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    let mut stored = Vec::new();
    let mut timestamp = 0;
    let mut next_batch = || {
        timestamp += 1;
        plain(1, 60, timestamp)
    };
    for _ in 0..3 {
        stored.push(append(&mut log, &next_batch(), 0).1);
    }
    // Write 0 is the batch; with an index entry due (every batch here), write 1 is the
    // offset-index entry and write 2 the time-index entry (timestamps keep growing).
    for plan in [
        FaultPlan { fail_write: Some(0), ..FaultPlan::default() },
        FaultPlan { fail_write: Some(1), ..FaultPlan::default() },
        FaultPlan { fail_write: Some(2), ..FaultPlan::default() },
        FaultPlan { tear_write: Some((0, 30)), ..FaultPlan::default() },
        FaultPlan { tear_write: Some((1, 3)), ..FaultPlan::default() },
        FaultPlan { disk_full: true, ..FaultPlan::default() },
    ] {
        fault.set_plan(plan.clone());
        let batch = next_batch();
        let result = log.append(&batch, 0);
        assert!(matches!(result, Err(LogError::Io(_))), "{plan:?}: {result:?}");
        assert!(fault.writes_seen() > 0);
        assert_eq!(log.failure(), None, "{plan:?}: a rolled-back append does not fail the log");
        assert_eq!(read_all(&log), stored, "{plan:?}");
        fault.set_plan(FaultPlan::default());
        stored.push(append(&mut log, &next_batch(), 0).1);
        assert_eq!(read_all(&log), stored, "{plan:?}: usable after the failure");
    }
    let index_len = fault.inner().file_bytes(&dir.join("00000000000000000000.index")).unwrap().len();
    assert_eq!(index_len, 8 * (stored.len() - 1), "one offset-index entry per batch after the first");
    let time_len = fault.inner().file_bytes(&dir.join("00000000000000000000.timeindex")).unwrap().len();
    assert_eq!(time_len, 12 * (stored.len() - 1), "one time-index entry per batch after the first");
    let files_len = fault.inner().file_bytes(&dir.join("00000000000000000000.log")).unwrap().len();
    assert_eq!(files_len as u64, log.size_bytes(), "no failed bytes left in the file");
    log.close().unwrap();
    let log = PartitionLog::open(storage, &dir, config, 0).unwrap();
    assert_eq!(read_all(&log), stored);
}

#[test]
fn full_disk_during_roll_fails_the_append_and_leaves_the_log_usable() {
    let (fault, storage, dir) = fault_dir();
    let config = small_config();
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    let mut stored = Vec::new();
    for _ in 0..3 {
        stored.push(append(&mut log, &plain(1, 200, 0), 0).1);
    }
    assert_eq!(log.segment_base_offsets(), vec![0]);
    fault.set_plan(FaultPlan { disk_full: true, ..FaultPlan::default() });
    let batch = plain(1, 400, 0);
    assert!(log.append(&batch, 0).is_err());
    assert_eq!(read_all(&log), stored);
    fault.set_plan(FaultPlan::default());
    stored.push(append(&mut log, &plain(1, 400, 0), 0).1);
    assert_eq!(read_all(&log), stored);
    assert_eq!(log.segment_base_offsets(), vec![0, 3]);
}

#[test]
fn failed_rollback_fails_the_log_until_reopen() {
    let (fault, storage, dir) = fault_dir();
    let config = LogConfig::default();
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    let stored = vec![append(&mut log, &plain(1, 60, 0), 0).1];
    log.flush().unwrap();
    // The write tears and the process is dead: the truncate that would undo it fails too.
    fault.set_plan(FaultPlan { tear_write: Some((0, 20)), halt_at_write: Some(0), ..FaultPlan::default() });
    assert!(log.append(&plain(1, 60, 0), 0).is_err());
    assert!(log.failure().is_some());
    fault.set_plan(FaultPlan::default());
    assert!(matches!(log.append(&plain(1, 60, 0), 0), Err(LogError::Io(_))), "writes refused");
    assert!(log.flush().is_err());
    assert_eq!(read_all(&log), stored, "reads still serve what was committed");
    drop(log);
    let log = PartitionLog::open(storage, &dir, config, 0).unwrap();
    assert_eq!(read_all(&log), stored);
}

#[test]
fn failed_sync_fails_the_log_and_recovery_keeps_only_synced_data() {
    let (fault, storage, dir) = fault_dir();
    let config = LogConfig::default();
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    let stored = vec![append(&mut log, &plain(1, 60, 0), 0).1];
    log.flush().unwrap();
    append(&mut log, &plain(1, 60, 0), 0);
    fault.set_plan(FaultPlan { fail_sync: Some(0), ..FaultPlan::default() });
    assert!(log.flush().is_err());
    assert_eq!(log.recovery_point(), 1, "a failed flush does not move the recovery point");
    assert!(log.failure().is_some());
    assert!(log.append(&plain(1, 60, 0), 0).is_err());
    drop(log);
    fault.crash();
    let log = PartitionLog::open(storage, &dir, config, 0).unwrap();
    assert_eq!(read_all(&log), stored);
}

#[test]
fn flush_messages_syncs_every_n_records() {
    let (fault, storage, dir) = fault_dir();
    let config = LogConfig { flush_messages: 3, ..LogConfig::default() };
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    let mut stored = Vec::new();
    for _ in 0..7 {
        stored.push(append(&mut log, &plain(1, 10, 0), 0).1);
    }
    assert_eq!(log.recovery_point(), 6);
    drop(log);
    fault.crash();
    let log = PartitionLog::open(storage, &dir, config, 0).unwrap();
    assert_eq!(read_all(&log), stored[..6].to_vec());
}

#[test]
fn flush_ms_is_applied_by_tick() {
    let (fault, storage, dir) = fault_dir();
    let config = LogConfig { flush_ms: 1_000, ..LogConfig::default() };
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    let stored = vec![append(&mut log, &plain(1, 10, 0), 100).1];
    log.tick(999).unwrap();
    assert_eq!(log.recovery_point(), 0);
    log.tick(1_000).unwrap();
    assert_eq!(log.recovery_point(), 1);
    append(&mut log, &plain(1, 10, 0), 1_001);
    drop(log);
    fault.crash();
    let log = PartitionLog::open(storage, &dir, config, 0).unwrap();
    assert_eq!(read_all(&log), stored);
}

#[test]
fn tick_syncs_rolled_segments_so_recovery_starts_at_the_active_one() {
    let (fault, storage, dir) = fault_dir();
    let config = small_config();
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    let mut stored = Vec::new();
    for _ in 0..10 {
        stored.push(append(&mut log, &plain(1, 150, 0), 0).1);
    }
    let active = *log.segment_base_offsets().last().unwrap();
    assert!(active > 0);
    log.tick(1).unwrap();
    assert_eq!(log.recovery_point(), active);
    drop(log);
    fault.crash();
    let log = PartitionLog::open(storage, &dir, config, 0).unwrap();
    let kept = read_all(&log);
    assert_eq!(kept, stored[..active as usize].to_vec());
}

#[test]
fn recovered_batches_are_exactly_the_stored_ones() {
    // Guards the recovery scanner against handing back shifted or partial batches.
    each_storage(|t| {
        let config = LogConfig { segment_bytes: 3_000, index_interval_bytes: 10, ..LogConfig::default() };
        let mut log = t.open(&config, 0);
        let mut stored = Vec::new();
        for i in 0..40 {
            stored.push(append(&mut log, &plain(1 + i % 5, (i * 13 % 200) as usize, i64::from(i)), 0).1);
        }
        drop(log);
        let log = t.open(&config, 0);
        let read = read_all(&log);
        assert_eq!(read, stored, "{}", t.name);
        for batch in read {
            validate_batch(&batch).unwrap();
        }
    });
}

#[test]
fn reopen_never_claims_unsynced_recovered_bytes_durable() {
    // A process that wrote but never synced, then restarted without a power loss: the
    // reopened log serves those bytes but must not move its recovery point over them until
    // it has synced them, or a power cut would leave a checkpoint trusting a torn tail.
    let (fault, storage, dir) = fault_dir();
    let config = LogConfig::default();
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    let mut stored = Vec::new();
    for _ in 0..4 {
        stored.push(append(&mut log, &plain(1, 30, 0), 0).1);
    }
    drop(log);
    let log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    assert_eq!(read_all(&log), stored);
    assert_eq!(log.recovery_point(), 0);
    drop(log);
    fault.crash();
    let log = PartitionLog::open(storage, &dir, config, 0).unwrap();
    assert!(stored.starts_with(&read_all(&log)), "what survives the power cut is a valid prefix");
}

#[test]
fn corrupt_index_of_an_older_segment_is_ignored_and_reads_stay_correct() {
    each_storage(|t| {
        let config = LogConfig { index_interval_bytes: 50, ..small_config() };
        let mut log = t.open(&config, 0);
        let mut stored = Vec::new();
        for _ in 0..12 {
            stored.push(append(&mut log, &plain(1, 120, 0), 0).1);
        }
        assert!(log.segment_base_offsets().len() >= 3);
        log.close().unwrap();
        // Point the first entry at the second one's batch: followed, a lookup of the first
        // entry's offset would land past its batch. Positions no longer strictly increase, so
        // the lazily loaded index must be thrown away, not used.
        let index = t.read("00000000000000000000.index");
        assert!(index.len() >= 24, "{}", t.name);
        t.overwrite("00000000000000000000.index", 4, &index[12..16]);
        let log = t.open(&config, 0);
        for (offset, batch) in stored.iter().enumerate() {
            assert_eq!(&log.read(offset as i64, 1, i64::MAX, true).unwrap().bytes, batch, "{}", t.name);
        }
    });
}

#[test]
fn clean_open_writes_nothing_and_syncs_only_the_directory() {
    // Guards startup cost: with many partitions, per-partition checkpoint rewrites and
    // segment syncs on a clean open add up to seconds.
    let (fault, storage, dir) = fault_dir();
    let config = small_config();
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    for _ in 0..10 {
        append(&mut log, &plain(1, 150, 0), 0);
    }
    log.close().unwrap();
    fault.set_plan(FaultPlan::default());
    let log = PartitionLog::open(storage, &dir, config, 0).unwrap();
    assert_eq!(fault.writes_seen(), 0);
    assert_eq!(fault.syncs_seen(), 1, "only the marker's removal");
    assert_eq!(log.recovery_point(), log.log_end_offset());
}

#[test]
fn unclean_open_syncs_nothing_and_the_next_flush_makes_the_recovered_tail_durable() {
    // Guards restart time after kill -9: syncing every partition at open made it grow with
    // the partition count (four syncs each).
    let (fault, storage, dir) = fault_dir();
    let config = small_config();
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    for _ in 0..4 {
        append(&mut log, &plain(1, 150, 0), 0);
    }
    log.flush().unwrap();
    for _ in 0..6 {
        append(&mut log, &plain(1, 150, 0), 0);
    }
    drop(log); // killed: no marker; offsets 4-9 may be in the page cache only
    fault.set_plan(FaultPlan::default());
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    assert_eq!(fault.syncs_seen(), 0, "recovery rebuilt the tail's indexes without syncing anything");
    assert_eq!(log.log_end_offset(), 10, "recovery kept what the process wrote");
    assert!(log.recovery_point() <= 4, "only what the checkpoint says is durable");
    log.flush().unwrap();
    assert_eq!(log.recovery_point(), 10);
    drop(log);
    fault.crash(); // a power cut: only synced data survives
    let log = PartitionLog::open(storage, &dir, config, 0).unwrap();
    assert_eq!(log.log_end_offset(), 10, "the flush after the unclean open synced the recovered tail");
}
