//! Compaction (cleanup.policy=compact): what a round keeps, removes and rewrites, and how the
//! log reads, recovers and truncates afterwards.

mod common;
#[path = "compaction_support/mod.rs"]
mod support;

use std::collections::BTreeMap;

use common::{as_stored, each_storage, TestDir};
use runnel_log::{LogConfig, PartitionLog, CLEANER_CHECKPOINT_FILE};
use runnel_protocol::batch::{validate_batch, Compression as Codec};
use runnel_protocol::kafka_protocol::records::{Compression, RecordBatchDecoder};
use support::*;

/// Appends `count` puts cycling over `keys` keys, one record per batch, timestamps from
/// `timestamp_ms`; returns the records as appended.
fn fill(log: &mut PartitionLog, keys: usize, count: usize, timestamp_ms: i64) -> Vec<Served> {
    let mut appended = Vec::new();
    for i in 0..count {
        let (key, value) = (format!("k{}", i % keys), format!("value-{i}"));
        let (offset, _) = append_batch(log, &put(&key, &value, timestamp_ms + i as i64), timestamp_ms);
        appended.push(Served {
            offset,
            timestamp: timestamp_ms + i as i64,
            key: Some(key.into_bytes()),
            value: Some(value.into_bytes()),
        });
    }
    appended
}

fn active_base(log: &PartitionLog) -> i64 {
    *log.segment_base_offsets().last().unwrap()
}

#[test]
fn overwritten_keys_shrink_to_their_latest_values() {
    each_storage(|t| {
        let mut log = t.open(&compact_config(), 0);
        let appended = fill(&mut log, 5, 300, 1_000);
        let size_before = log.size_bytes();
        let outcome = log.compact(10_000).unwrap();
        assert!(outcome.cleaned, "{}: {outcome:?}", t.name);
        assert!(outcome.records_removed > 250, "{outcome:?}");
        assert!(outcome.bytes_after < outcome.bytes_before / 5, "{outcome:?}");
        assert!(log.size_bytes() < size_before / 4, "{} -> {}", size_before, log.size_bytes());
        let served = read_records(&log);
        assert_eq!(latest_values(&served), latest_values(&appended));
        let cleaned: Vec<&Served> = served.iter().filter(|r| r.offset < active_base(&log)).collect();
        let mut keys: Vec<_> = cleaned.iter().map(|r| r.key.clone()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), cleaned.len(), "each key once below the active segment");
        assert_eq!(log.log_end_offset(), 300, "offsets are never renumbered");
        assert_eq!(log.cleaner_checkpoint(), Some(active_base(&log)));
    });
}

#[test]
fn small_cleaned_segments_are_grouped_up_to_segment_bytes_in_the_next_round() {
    let t = TestDir::mem();
    let mut log = t.open(&compact_config(), 0);
    let mut appended = fill(&mut log, 5, 300, 1_000);
    log.compact(10_000).unwrap();
    let segments_after_first = log.segment_base_offsets().len();
    // As Kafka, groups are formed from the sizes before cleaning: the shrunken segments
    // merge when the next round rewrites them.
    appended.extend(fill(&mut log, 5, 30, 2_000));
    let outcome = log.compact(20_000).unwrap();
    assert!(outcome.segments_after < outcome.segments_before, "{outcome:?}");
    assert!(log.segment_base_offsets().len() < segments_after_first, "{:?}", log.segment_base_offsets());
    assert_eq!(latest_values(&read_records(&log)), latest_values(&appended));
}

#[test]
fn surviving_records_keep_their_offsets_timestamps_and_untouched_batches_their_bytes() {
    let t = TestDir::mem();
    let mut log = t.open(&compact_config(), 0);
    let mut originals = BTreeMap::new();
    for i in 0..60 {
        // Unique keys every third batch: those batches must come out byte for byte.
        let key = if i % 3 == 0 { format!("unique-{i}") } else { "hot".to_owned() };
        let batch = put(&key, &format!("v{i}"), 5_000 + i);
        let stored = as_stored(&batch, log.append(&batch, 0).unwrap());
        originals.insert(header(&stored).base_offset, stored);
    }
    let before = read_records(&log);
    log.compact(10_000).unwrap();
    let after = read_records(&log);
    for record in &after {
        assert!(before.contains(record), "{record:?} was served before with the same offset and timestamp");
    }
    for batch in read_batches(&log) {
        let h = header(&batch);
        if h.base_offset < active_base(&log) && h.records_count == 1 {
            assert_eq!(batch, originals[&h.base_offset], "batch {} copied byte for byte", h.base_offset);
        }
    }
}

#[test]
fn tombstones_are_kept_until_delete_retention_after_their_first_cleaning() {
    each_storage(|t| {
        let config = LogConfig { delete_retention_ms: 1_000, ..compact_config() };
        let mut log = t.open(&config, 0);
        append_batch(&mut log, &put("a", "1", 100), 0);
        append_batch(&mut log, &put("b", "1", 100), 0);
        append_batch(&mut log, &delete("a", 200), 0);
        fill(&mut log, 3, 40, 300);
        let tombstone = |log: &PartitionLog| read_records(log).into_iter().find(|r| r.key.as_deref() == Some(b"a"));

        let first = log.compact(10_000).unwrap();
        assert!(first.cleaned && first.tombstones_removed == 0, "{first:?}");
        let kept = tombstone(&log).expect("tombstone kept before delete.retention.ms");
        assert_eq!(kept.value, None);
        let batch =
            read_batches(&log).into_iter().find(|b| batch_records(b).iter().any(|r| r.offset == kept.offset)).unwrap();
        let h = header(&batch);
        assert_eq!(h.attributes & 0x40, 0x40, "delete horizon flag");
        assert_eq!(h.base_timestamp, 11_000, "the horizon is now + delete.retention.ms");
        assert_eq!(kept.timestamp, 200, "the record keeps its own timestamp");

        fill(&mut log, 3, 40, 20_000);
        let before_horizon = log.compact(10_999).unwrap();
        assert!(before_horizon.cleaned, "{before_horizon:?}");
        assert!(tombstone(&log).is_some(), "{}: still before the horizon", t.name);

        fill(&mut log, 3, 40, 30_000);
        let after_horizon = log.compact(11_000).unwrap();
        assert_eq!(after_horizon.tombstones_removed, 1, "{after_horizon:?}");
        assert_eq!(tombstone(&log), None, "{}: removed at the horizon", t.name);
        let latest = latest_values(&read_records(&log));
        assert_eq!(latest.get(b"b".as_slice()).map(Vec::as_slice), Some(b"1".as_slice()));
        assert!(!latest.contains_key(b"a".as_slice()));
    });
}

#[test]
fn tombstone_superseded_by_a_later_value_goes_at_once() {
    let t = TestDir::mem();
    let mut log = t.open(&compact_config(), 0);
    append_batch(&mut log, &put("a", "1", 100), 0);
    append_batch(&mut log, &delete("a", 100), 0);
    append_batch(&mut log, &put("a", "2", 100), 0);
    fill(&mut log, 2, 30, 200);
    log.compact(1_000).unwrap();
    let a: Vec<Served> = read_records(&log).into_iter().filter(|r| r.key.as_deref() == Some(b"a")).collect();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].value.as_deref(), Some(b"2".as_slice()));
}

#[test]
fn active_segment_is_never_rewritten() {
    let t = TestDir::mem();
    let config = LogConfig { segment_bytes: 1 << 20, ..compact_config() };
    let mut log = t.open(&config, 0);
    fill(&mut log, 1, 50, 0);
    let name = "00000000000000000000.log";
    let bytes = t.read(name);
    let outcome = log.compact(100_000).unwrap();
    assert!(!outcome.cleaned, "a log that is all active segment has nothing cleanable: {outcome:?}");
    assert_eq!(t.read(name), bytes);

    // With older segments to clean, the active one still keeps every duplicate.
    let mut log = t.open(&compact_config(), 0);
    fill(&mut log, 1, 50, 0);
    let active = format!("{:020}.log", active_base(&log));
    let active_bytes = t.read(&active);
    assert!(log.compact(100_000).unwrap().cleaned);
    assert_eq!(t.read(&active), active_bytes);
}

#[test]
fn reads_inside_compacted_gaps_return_the_next_surviving_batch() {
    each_storage(|t| {
        let mut log = t.open(&compact_config(), 0);
        fill(&mut log, 4, 120, 0);
        log.compact(1_000).unwrap();
        let batches = read_batches(&log);
        let lasts: Vec<(i64, i64)> = batches.iter().map(|b| (header(b).base_offset, header(b).last_offset())).collect();
        assert!(lasts.windows(2).any(|w| w[1].0 > w[0].1 + 1), "compaction left gaps");
        for offset in 0..log.log_end_offset() {
            let read = log.read(offset, 1, i64::MAX, true).unwrap();
            let h = validate_batch(&read.bytes).expect("one whole batch");
            let expected = lasts.iter().find(|(_, last)| *last >= offset).unwrap();
            assert_eq!((h.base_offset, h.last_offset()), *expected, "{}: read at {offset}", t.name);
            // Bounded by max_offset: nothing when the next surviving batch starts at or past it.
            let bounded = log.read(offset, 1 << 20, offset, false).unwrap();
            assert!(bounded.bytes.is_empty() || h.base_offset < offset);
        }
        assert!(log.read(log.log_end_offset(), 100, i64::MAX, true).unwrap().bytes.is_empty());
        // The rebuilt time indexes: timestamps grow with offsets here, so each surviving
        // batch is the first whose max timestamp reaches its own.
        for batch in &batches {
            let h = header(batch);
            let found = log.batch_for_timestamp(h.max_timestamp).unwrap().expect("a batch at its own timestamp");
            assert_eq!(&found, batch, "{}: time lookup of {}", t.name, h.max_timestamp);
        }
    });
}

#[test]
fn compressed_batches_are_cleaned_and_keep_their_codec() {
    for (compression, codec) in [
        (Compression::Gzip, Codec::Gzip),
        (Compression::Snappy, Codec::Snappy),
        (Compression::Lz4, Codec::Lz4),
        (Compression::Zstd, Codec::Zstd),
    ] {
        let t = TestDir::mem();
        let mut log = t.open(&compact_config(), 0);
        let mut appended = Vec::new();
        for round in 0..40 {
            let values: Vec<String> = (0..5).map(|k| format!("v{round}-{k}")).collect();
            let keys: Vec<String> = (0..5).map(|k| format!("k{}", (round + k) % 7)).collect();
            let records: Vec<KeyValue<'_>> =
                keys.iter().zip(&values).map(|(k, v)| (Some(k.as_bytes()), Some(v.as_bytes()))).collect();
            let batch = keyed_batch(&records, 1_000 + round as i64, compression);
            let (base, _) = append_batch(&mut log, &batch, 0);
            for (i, (k, v)) in keys.iter().zip(&values).enumerate() {
                appended.push(Served {
                    offset: base + i as i64,
                    timestamp: 0,
                    key: Some(k.clone().into_bytes()),
                    value: Some(v.clone().into_bytes()),
                });
            }
        }
        let outcome = log.compact(10_000).unwrap();
        assert!(outcome.cleaned && outcome.records_removed > 0, "{codec:?}: {outcome:?}");
        let served = read_records(&log);
        assert_eq!(latest_values(&served), latest_values(&appended), "{codec:?}");
        let mut rebuilt = 0;
        for batch in read_batches(&log) {
            let h = header(&batch);
            if h.records_count > 0 {
                assert_eq!(h.compression().unwrap(), codec, "the cleaned batch keeps its codec");
                if h.records_count < 5 {
                    rebuilt += 1;
                }
            }
            // A client's decoder reads the rebuilt batch too.
            let mut buf = bytes::Bytes::from(batch.clone());
            let set = RecordBatchDecoder::decode(&mut buf).expect("kafka-protocol decodes the cleaned batch");
            assert_eq!(set.records.len(), h.records_count as usize, "{codec:?}");
        }
        assert!(rebuilt > 0, "{codec:?}: some batches were rebuilt");
    }
}

#[test]
fn idempotent_producer_keeps_its_last_batch_and_sequence_state() {
    let t = TestDir::mem();
    let config = compact_config();
    let mut log = t.open(&config, 0);
    let mut last = (0, 0);
    for seq in 0..30 {
        last = append_batch(&mut log, &idempotent_batch(7, 0, seq, &[(Some(b"k0"), Some(b"p"))], 1_000), 1_000);
    }
    // A later plain write supersedes every record of the producer.
    fill(&mut log, 1, 20, 2_000);
    let outcome = log.compact(5_000).unwrap();
    assert!(outcome.cleaned, "{outcome:?}");
    let batches = read_batches(&log);
    let producer_batches: Vec<_> = batches.iter().map(|b| header(b)).filter(|h| h.producer_id == 7).collect();
    // Superseded batches go, except as empty batches closing a cleaned segment.
    assert!(producer_batches.len() < 30 / 4, "{}", producer_batches.len());
    assert!(producer_batches.iter().all(|h| h.records_count == 0), "every record of the producer was superseded");
    let kept = *producer_batches.last().unwrap();
    assert_eq!((kept.base_offset, kept.last_offset()), last, "the producer's last batch stays");
    assert_eq!(
        (kept.records_count, kept.base_sequence, kept.producer_epoch),
        (0, 29, 0),
        "an empty batch with its sequence"
    );
    log.close().unwrap();

    // Rebuild the producer state from the log alone.
    for name in t.names() {
        if name.ends_with(".snapshot") {
            t.storage.remove_file(&t.path(&name)).unwrap();
        }
    }
    t.storage.remove_file(&t.path(runnel_log::CLEAN_SHUTDOWN_FILE)).unwrap();
    let mut log = t.open(&config, 6_000);
    let duplicate = idempotent_batch(7, 0, 29, &[(Some(b"k0"), Some(b"p"))], 1_000);
    assert_eq!(
        log.append(&duplicate, 6_000).unwrap(),
        runnel_log::AppendOutcome::Duplicate { base_offset: last.0, last_offset: last.1 },
        "a retry of the last batch is still recognised"
    );
    let next = idempotent_batch(7, 0, 30, &[(Some(b"k"), Some(b"q"))], 6_000);
    assert!(matches!(log.append(&next, 6_000).unwrap(), runnel_log::AppendOutcome::Appended { .. }));
    let gap = idempotent_batch(7, 0, 40, &[(Some(b"k"), Some(b"r"))], 6_000);
    assert!(matches!(log.append(&gap, 6_000), Err(runnel_log::LogError::OutOfOrderSequence { .. })));
}

#[test]
fn keyless_records_are_dropped_without_failing_the_round() {
    let t = TestDir::mem();
    let mut log = t.open(&compact_config(), 0);
    for i in 0..30 {
        let value = format!("loose-{i}");
        append_batch(
            &mut log,
            &keyed_batch(&[(None, Some(value.as_bytes())), (Some(b"k"), Some(value.as_bytes()))], 0, Compression::None),
            0,
        );
    }
    fill(&mut log, 2, 20, 0);
    let outcome = log.compact(1_000).unwrap();
    assert!(outcome.cleaned);
    assert!(outcome.keyless_records_removed > 0, "{outcome:?}");
    let served = read_records(&log);
    assert!(served.iter().filter(|r| r.offset < active_base(&log)).all(|r| r.key.is_some()));
}

#[test]
fn dirty_ratio_below_the_minimum_skips_the_round_unless_max_lag_forces_it() {
    let t = TestDir::mem();
    let config = LogConfig { min_cleanable_dirty_ratio: 0.5, ..compact_config() };
    let mut log = t.open(&config, 0);
    fill(&mut log, 50, 100, 1_000);
    assert!(log.compact(2_000).unwrap().cleaned, "the first round sees only dirty bytes");
    let checkpoint = log.cleaner_checkpoint().unwrap();
    // A little more: dirty but under half the log.
    fill(&mut log, 50, 20, 3_000);
    let skipped = log.compact(4_000).unwrap();
    assert!(!skipped.cleaned && skipped.dirty_ratio > 0.0 && skipped.dirty_ratio <= 0.5, "{skipped:?}");
    assert_eq!(log.cleaner_checkpoint(), Some(checkpoint));

    log.set_config(LogConfig { max_compaction_lag_ms: 1_000, ..config });
    let forced = log.compact(4_000 + 1_000).unwrap();
    assert!(forced.cleaned, "max.compaction.lag.ms passed for the dirty segments: {forced:?}");
    assert!(log.cleaner_checkpoint().unwrap() > checkpoint);
}

#[test]
fn min_compaction_lag_leaves_recent_segments_dirty() {
    let t = TestDir::mem();
    let config = LogConfig { min_compaction_lag_ms: 10_000, ..compact_config() };
    let mut log = t.open(&config, 0);
    fill(&mut log, 2, 40, 1_000);
    let old_end = log.log_end_offset();
    fill(&mut log, 2, 40, 50_000);
    let outcome = log.compact(55_000).unwrap();
    assert!(outcome.cleaned);
    let checkpoint = log.cleaner_checkpoint().unwrap();
    assert!(
        checkpoint <= old_end + 40 && checkpoint < active_base(&log),
        "stops before the young segments: {checkpoint}"
    );
    let young: Vec<Served> = read_records(&log).into_iter().filter(|r| r.offset >= checkpoint).collect();
    assert_eq!(young.len() as i64, log.log_end_offset() - checkpoint, "young records are all still there");
}

#[test]
fn cleaner_checkpoint_survives_restarts_so_a_clean_log_is_not_recompacted() {
    each_storage(|t| {
        let config = compact_config();
        let mut log = t.open(&config, 0);
        fill(&mut log, 3, 80, 0);
        assert!(log.compact(1_000).unwrap().cleaned);
        let checkpoint = log.cleaner_checkpoint();
        log.close().unwrap();
        assert!(t.names().contains(&CLEANER_CHECKPOINT_FILE.to_owned()));
        let mut log = t.open(&config, 2_000);
        assert_eq!(log.cleaner_checkpoint(), checkpoint);
        let again = log.compact(3_000).unwrap();
        assert!(!again.cleaned && again.dirty_ratio == 0.0, "{}: {again:?}", t.name);
    });
}

#[test]
fn compact_is_a_no_op_for_a_delete_topic() {
    let t = TestDir::mem();
    let config = LogConfig { compact: false, ..compact_config() };
    let mut log = t.open(&config, 0);
    fill(&mut log, 1, 60, 0);
    let before = read_batches(&log);
    assert_eq!(log.compact(10_000).unwrap(), runnel_log::CompactionOutcome::default());
    assert_eq!(read_batches(&log), before);
    assert_eq!(log.cleaner_checkpoint(), None);
}

#[test]
fn compacted_log_reopens_intact_after_a_crash_or_without_its_checkpoint() {
    each_storage(|t| {
        let config = compact_config();
        let mut log = t.open(&config, 0);
        fill(&mut log, 3, 100, 0);
        log.compact(1_000).unwrap();
        log.flush().unwrap();
        let expected = read_records(&log);
        let lasts: Vec<i64> = read_batches(&log).iter().map(|b| header(b).last_offset()).collect();
        drop(log);
        t.crash();
        let log = t.open(&config, 2_000);
        assert_eq!(read_records(&log), expected, "{}: unclean reopen", t.name);
        drop(log);
        // Without the partition checkpoint every segment is recovered; gaps stay accepted.
        t.storage.remove_file(&t.path(runnel_log::CHECKPOINT_FILE)).unwrap();
        let log = t.open(&config, 3_000);
        assert_eq!(read_records(&log), expected, "{}: reopen without checkpoint", t.name);
        let after: Vec<i64> = read_batches(&log).iter().map(|b| header(b).last_offset()).collect();
        assert_eq!(after, lasts);
    });
}

#[test]
fn truncating_into_a_compacted_segment_keeps_the_batches_before() {
    let t = TestDir::mem();
    let mut log = t.open(&compact_config(), 0);
    fill(&mut log, 3, 100, 0);
    log.compact(1_000).unwrap();
    let before = read_records(&log);
    let cut = before[before.len() / 3].offset;
    log.truncate_to(cut).unwrap();
    let after = read_records(&log);
    let expected: Vec<Served> = before.into_iter().filter(|r| r.offset < cut).collect();
    assert_eq!(after, expected);
    assert!(log.cleaner_checkpoint().unwrap() <= log.log_end_offset(), "the cleaner checkpoint follows the truncation");
}

#[test]
fn retention_and_compaction_apply_together_on_compact_delete_topics() {
    let t = TestDir::mem();
    let config = LogConfig { retention_ms: 10_000, ..compact_config() };
    let mut log = t.open(&config, 0);
    fill(&mut log, 3, 60, 1_000);
    log.compact(2_000).unwrap();
    fill(&mut log, 3, 60, 50_000);
    let retention = log.apply_retention(55_000).unwrap();
    assert!(retention.segments_deleted > 0);
    assert!(log.cleaner_checkpoint().unwrap() < log.log_start_offset(), "retention passed the checkpoint");
    let outcome = log.compact(56_000).unwrap();
    assert_eq!(outcome.first_dirty_offset, log.log_start_offset(), "reset to the log start: {outcome:?}");
    assert!(outcome.cleaned);
    let served = read_records(&log);
    assert!(served.iter().all(|r| r.timestamp >= 50_000));
}
