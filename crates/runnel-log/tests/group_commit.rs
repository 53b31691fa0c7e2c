//! Group commit at the log level: appends that defer their policy flush, a flush split into
//! taking sync handles (under the lock), syncing (unlocked) and finishing, and what a power
//! loss keeps at each step.

mod common;

use std::sync::Arc;

use common::*;
use runnel_log::{FaultPlan, FaultStorage, LogConfig, MemStorage, PartitionLog, Storage};

fn fault_dir() -> (FaultStorage, Arc<dyn Storage>, std::path::PathBuf) {
    let fault = FaultStorage::new(MemStorage::new());
    let storage: Arc<dyn Storage> = Arc::new(fault.clone());
    (fault, storage, std::path::PathBuf::from("/data/t-0"))
}

fn fsync_every_message() -> LogConfig {
    LogConfig { flush_messages: 1, ..small_config() }
}

/// Appends without the policy flush and returns the stored bytes: `batch` with the base
/// offset the log gave it.
fn append_deferred(log: &mut PartitionLog, batch: &[u8]) -> Vec<u8> {
    as_stored(batch, log.append_deferring_flush(batch, 0).expect("append"))
}

#[test]
fn deferred_append_does_not_sync_but_reports_the_flush_due() {
    let (fault, storage, dir) = fault_dir();
    let mut log = PartitionLog::open(storage, &dir, fsync_every_message(), 0).unwrap();
    fault.set_plan(FaultPlan::default());
    append_deferred(&mut log, &plain(1, 50, 0));
    assert_eq!(fault.syncs_seen(), 0, "the append itself must not fsync");
    assert!(log.flush_due());
    assert_eq!(log.recovery_point(), 0);
}

#[test]
fn group_commit_makes_what_was_appended_before_it_began_durable() {
    let (fault, storage, dir) = fault_dir();
    let config = fsync_every_message();
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    // Enough batches to roll a segment or two: new files and directory entries are covered too.
    let stored: Vec<Vec<u8>> = (0..12).map(|_| append_deferred(&mut log, &plain(1, 150, 0))).collect();
    assert!(log.segment_base_offsets().len() > 1);
    let pending = log.begin_flush().unwrap().expect("there is something to sync");
    assert_eq!(pending.target_offset(), 12);
    pending.sync().unwrap();
    // Appended after the sync ran: not covered, and lost by the power loss below.
    append_deferred(&mut log, &plain(1, 150, 0));
    log.finish_flush(pending, Ok(())).unwrap();
    assert_eq!(log.recovery_point(), 12);
    assert!(log.flush_due(), "the later append still waits for the next sync");
    drop(log);
    fault.crash();
    let log = PartitionLog::open(storage, &dir, config, 0).unwrap();
    assert_eq!(read_all(&log), stored);
}

#[test]
fn one_group_commit_covers_many_appends_with_one_fsync_of_the_active_log_file() {
    let (fault, storage, dir) = fault_dir();
    let config = LogConfig { flush_messages: 1, ..LogConfig::default() };
    let mut log = PartitionLog::open(storage, &dir, config, 0).unwrap();
    fault.set_plan(FaultPlan::default());
    for _ in 0..50 {
        append_deferred(&mut log, &plain(1, 100, 0));
    }
    let pending = log.begin_flush().unwrap().unwrap();
    let result = pending.sync();
    log.finish_flush(pending, result).unwrap();
    assert_eq!(log.recovery_point(), 50);
    // The active segment's log file, once: not one sync per append, and not its indexes,
    // which recovery rebuilds from the recovery point on.
    assert_eq!(fault.syncs_seen(), 1, "syncs for one group commit");
    assert!(log.begin_flush().unwrap().is_none(), "nothing left to sync");
}

#[test]
fn failed_group_commit_sync_fails_the_log_and_recovery_keeps_only_synced_data() {
    let (fault, storage, dir) = fault_dir();
    let config = fsync_every_message();
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    let stored = vec![append_deferred(&mut log, &plain(1, 60, 0))];
    let pending = log.begin_flush().unwrap().unwrap();
    let result = pending.sync();
    log.finish_flush(pending, result).unwrap();
    append_deferred(&mut log, &plain(1, 60, 0));
    fault.set_plan(FaultPlan { fail_sync: Some(0), ..FaultPlan::default() });
    let pending = log.begin_flush().unwrap().unwrap();
    let result = pending.sync();
    assert!(result.is_err());
    assert!(log.finish_flush(pending, result).is_err());
    assert_eq!(log.recovery_point(), 1, "a failed sync does not move the recovery point");
    assert!(log.failure().is_some(), "after a failed fsync nothing unsynced can be trusted");
    assert!(log.append_deferring_flush(&plain(1, 60, 0), 0).is_err());
    drop(log);
    fault.crash();
    let log = PartitionLog::open(storage, &dir, config, 0).unwrap();
    assert_eq!(read_all(&log), stored);
}

#[test]
fn inline_flush_while_a_group_commit_is_in_flight_still_syncs_the_files() {
    let (fault, storage, dir) = fault_dir();
    let config = fsync_every_message();
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    let stored: Vec<Vec<u8>> = (0..3).map(|_| append_deferred(&mut log, &plain(1, 60, 0))).collect();
    // The pending flush clears the dirty flags; its sync has not run yet.
    let pending = log.begin_flush().unwrap().unwrap();
    fault.set_plan(FaultPlan::default());
    log.flush().unwrap();
    assert!(fault.syncs_seen() > 0, "an inline flush must not trust flags a pending flush cleared");
    assert_eq!(log.recovery_point(), 3);
    drop(pending);
    drop(log);
    fault.crash();
    let log = PartitionLog::open(storage, &dir, config, 0).unwrap();
    assert_eq!(read_all(&log), stored);
}

#[test]
fn recovery_truncates_a_torn_tail_left_behind_a_group_commit() {
    let (fault, storage, dir) = fault_dir();
    let config = fsync_every_message();
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    let stored: Vec<Vec<u8>> = (0..2).map(|_| append_deferred(&mut log, &plain(1, 60, 0))).collect();
    let pending = log.begin_flush().unwrap().unwrap();
    let result = pending.sync();
    log.finish_flush(pending, result).unwrap();
    // The next append tears and the process dies; the group commit that would cover it
    // never runs.
    fault.set_plan(FaultPlan { tear_write: Some((0, 30)), halt_at_write: Some(0), ..FaultPlan::default() });
    assert!(log.append_deferring_flush(&plain(1, 60, 0), 0).is_err());
    drop(log);
    fault.crash();
    let mut log = PartitionLog::open(storage, &dir, config, 0).unwrap();
    assert_eq!(read_all(&log), stored);
    assert_eq!(log.log_end_offset(), 2);
    append_deferred(&mut log, &plain(1, 60, 0));
    assert_eq!(log.log_end_offset(), 3);
}

#[test]
fn indexes_left_unsynced_by_group_commit_are_synced_once_their_segment_rolls() {
    let (fault, storage, dir) = fault_dir();
    let config = fsync_every_message();
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    let mut stored = Vec::new();
    // Group-commit every append, across several rolls, with a dense index.
    for _ in 0..30 {
        stored.push(append_deferred(&mut log, &plain(1, 150, 0)));
        let pending = log.begin_flush().unwrap().unwrap();
        let result = pending.sync();
        log.finish_flush(pending, result).unwrap();
    }
    assert!(log.segment_base_offsets().len() > 3);
    drop(log);
    fault.crash();
    // Segments below the recovery point are trusted with their indexes: lookups in them
    // must still land on the right batches.
    let log = PartitionLog::open(storage, &dir, config, 0).unwrap();
    assert_eq!(read_all(&log), stored);
    for (offset, batch) in stored.iter().enumerate() {
        let read = log.read(offset as i64, 1, i64::MAX, true).unwrap();
        assert_eq!(&read.bytes, batch, "lookup of offset {offset}");
    }
}
