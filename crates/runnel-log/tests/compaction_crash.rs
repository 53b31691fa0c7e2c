//! Crash safety of compaction: a failure or power loss at every write and every sync of a
//! round leaves, after reopening, either the old records or the cleaned ones (per segment
//! group), never a mix inside a group, never a lost or duplicated record, and the next round
//! reaches the same cleaned log.

#[path = "compaction_support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::sync::Arc;

use runnel_log::{FaultPlan, FaultStorage, LogConfig, MemStorage, PartitionLog, Storage};
use runnel_protocol::kafka_protocol::records::Compression;
use support::*;

const NOW_MS: i64 = 100_000;

/// A single segment group: segments roll by time (every few batches), small enough to be
/// cleaned into one.
fn single_group_config() -> LogConfig {
    LogConfig { segment_bytes: 1 << 20, segment_ms: 100, delete_retention_ms: 1_000, ..compact_config() }
}

/// Many groups: segments roll by size and groups are bounded by the same size.
fn many_groups_config() -> LogConfig {
    LogConfig { segment_bytes: 400, delete_retention_ms: 1_000, ..compact_config() }
}

struct Setup {
    fault: FaultStorage,
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    config: LogConfig,
}

impl Setup {
    fn open(&self) -> PartitionLog {
        PartitionLog::open(self.storage.clone(), &self.dir, self.config.clone(), NOW_MS).expect("reopen")
    }
}

/// A flushed log with overwritten keys, tombstones and multi-record batches (some partly
/// superseded, so they are rebuilt), ready to compact.
fn setup(config: &LogConfig) -> (Setup, PartitionLog) {
    let fault = FaultStorage::new(MemStorage::new());
    let storage: Arc<dyn Storage> = Arc::new(fault.clone());
    let dir = PathBuf::from("/data/compact-0");
    let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).unwrap();
    for i in 0..36i64 {
        let timestamp = 1_000 + 40 * i;
        let batch = match i % 6 {
            0 => delete(&format!("k{}", i % 4), timestamp),
            1 => {
                let (a, b) = (format!("k{}", i % 5), format!("m{i}"));
                keyed_batch(
                    &[(Some(a.as_bytes()), Some(b"x")), (Some(b.as_bytes()), Some(b"y"))],
                    timestamp,
                    Compression::None,
                )
            }
            _ => put(&format!("k{}", i % 5), &format!("v{i}"), timestamp),
        };
        append_batch(&mut log, &batch, timestamp);
    }
    log.flush().unwrap();
    (Setup { fault, storage, dir, config: config.clone() }, log)
}

/// The records before and after an undisturbed round, and its write and sync counts.
struct Baseline {
    old: Vec<Served>,
    new: Vec<Served>,
    writes: u64,
    syncs: u64,
}

fn baseline(config: &LogConfig) -> Baseline {
    let (s, mut log) = setup(config);
    let old = read_records(&log);
    s.fault.set_plan(FaultPlan::default());
    let outcome = log.compact(NOW_MS).unwrap();
    assert!(outcome.cleaned && outcome.records_removed > 0, "{outcome:?}");
    let (writes, syncs) = (s.fault.writes_seen(), s.fault.syncs_seen());
    let new = read_records(&log);
    assert_ne!(old, new);
    Baseline { old, new, writes, syncs }
}

/// What a reopened log may hold. For one group: exactly the old or the new records. For
/// many: only old records, at least the new ones, the same latest value per key.
fn check_recovered(records: &[Served], b: &Baseline, single_group: bool, context: &str) {
    if single_group {
        assert!(
            records == b.old || records == b.new,
            "{context}: neither the old nor the cleaned records: {records:?}"
        );
    } else {
        for r in records {
            assert!(b.old.contains(r), "{context}: {r:?} was never written");
        }
        for r in &b.new {
            assert!(records.contains(r), "{context}: {r:?} was lost");
        }
        assert_eq!(latest_values(records), latest_values(&b.old), "{context}");
    }
}

/// Reopens, checks, then compacts again at the same time: the result is the cleaned log.
fn reopen_and_finish(s: &Setup, b: &Baseline, single_group: bool, context: &str) {
    let mut log = s.open();
    check_recovered(&read_records(&log), b, single_group, context);
    log.compact(NOW_MS).unwrap_or_else(|e| panic!("{context}: compaction after recovery: {e}"));
    assert_eq!(read_records(&log), b.new, "{context}: the next round reaches the cleaned log");
    let names = s.storage.list_dir(&s.dir).unwrap();
    assert!(!names.iter().any(|n| n.ends_with(".cleaned") || n.ends_with(".swap")), "{context}: leftovers {names:?}");
    // And it still takes writes.
    append_batch(&mut log, &put("after", "crash", NOW_MS), NOW_MS);
}

fn each_fault(config: LogConfig, single_group: bool) {
    let b = baseline(&config);
    assert!(b.writes > 0 && b.syncs > 3, "{} writes, {} syncs", b.writes, b.syncs);
    for at_write in 0..=b.writes {
        for tear in [None, Some(7)] {
            // The process dies at this write (torn or not), then the power goes.
            let (s, mut log) = setup(&config);
            s.fault.set_plan(FaultPlan {
                halt_at_write: Some(at_write),
                tear_write: tear.map(|bytes| (at_write, bytes)),
                ..FaultPlan::default()
            });
            let result = log.compact(NOW_MS);
            assert!(at_write == b.writes || result.is_err(), "halting at write {at_write} fails the round");
            drop(log);
            s.fault.crash();
            reopen_and_finish(&s, &b, single_group, &format!("halt at write {at_write} tear {tear:?}"));
        }
        // A full disk at this write: the process carries on.
        let (s, mut log) = setup(&config);
        s.fault.set_plan(FaultPlan { fail_write: Some(at_write), ..FaultPlan::default() });
        let result = log.compact(NOW_MS);
        let context = format!("full disk at write {at_write}");
        if log.failure().is_none() {
            check_recovered(&read_records(&log), &b, single_group, &context);
        }
        assert!(at_write == b.writes || result.is_err(), "{context}");
        drop(log);
        s.fault.set_plan(FaultPlan::default());
        reopen_and_finish(&s, &b, single_group, &context);
    }
    for at_sync in 0..b.syncs {
        for power_loss in [false, true] {
            let (s, mut log) = setup(&config);
            s.fault.set_plan(FaultPlan { fail_sync: Some(at_sync), ..FaultPlan::default() });
            let result = log.compact(NOW_MS);
            let context = format!("failed sync {at_sync}, power loss {power_loss}");
            assert!(result.is_err(), "{context}");
            drop(log);
            if power_loss {
                s.fault.crash();
            } else {
                s.fault.set_plan(FaultPlan::default());
            }
            reopen_and_finish(&s, &b, single_group, &context);
        }
    }
}

#[test]
fn crash_at_every_io_step_of_a_single_group_swap_recovers_old_or_new_records() {
    each_fault(single_group_config(), true);
}

#[test]
fn crash_at_every_io_step_of_a_many_group_round_loses_and_duplicates_nothing() {
    each_fault(many_groups_config(), false);
}

#[test]
fn single_group_config_really_cleans_into_one_group() {
    let (_s, mut log) = setup(&single_group_config());
    let segments = log.segment_base_offsets().len();
    assert!(segments > 5, "{segments} segments");
    let outcome = log.compact(NOW_MS).unwrap();
    assert_eq!((outcome.segments_before, outcome.segments_after), (segments - 1, 1), "{outcome:?}");
}

#[test]
fn leftover_cleaned_file_is_removed_and_a_committed_swap_finished_on_open() {
    let config = single_group_config();
    let b = baseline(&config);
    // A .cleaned file alone never committed: open drops it and keeps the old records.
    let (s, log) = setup(&config);
    drop(log);
    let cleaned = s.dir.join(format!("{:020}.log.cleaned", 0));
    let mut file = s.storage.open_file(&cleaned, true).unwrap();
    file.write_all_at(b"half a batch", 0).unwrap();
    drop(file);
    let log = s.open();
    assert_eq!(read_records(&log), b.old);
    assert!(!s.storage.exists(&cleaned).unwrap());
    drop(log);

    // A committed swap (the cleaned log renamed to .log.swap, nothing else done yet) is
    // rolled forward: the old segments it covers go and it takes the first one's name.
    let (done, mut cleaned_log) = setup(&config);
    cleaned_log.compact(NOW_MS).unwrap();
    let first = done.dir.join(format!("{:020}.log", 0));
    let cleaned_bytes = done.fault.inner().file_bytes(&first).unwrap();
    let (s, log) = setup(&config);
    let old_segments = log.segment_base_offsets();
    drop(log);
    let mut swap = s.storage.open_file(&s.dir.join(format!("{:020}.log.swap", 0)), true).unwrap();
    swap.write_all_at(&cleaned_bytes, 0).unwrap();
    drop(swap);
    let log = s.open();
    assert_eq!(read_records(&log), b.new);
    assert_eq!(log.segment_base_offsets(), vec![0, *old_segments.last().unwrap()]);
}
