//! Appends, reads, rolls and index lookups on both storages.

mod common;

use common::*;
use runnel_log::{AppendOutcome, LogConfig, LogError};
use runnel_protocol::batch::{split_batches, validate_batch, BATCH_HEADER_BYTES};

#[test]
fn append_then_read_round_trips_batches_byte_exact() {
    each_storage(|t| {
        let mut log = t.open(&LogConfig::default(), 0);
        let mut stored = Vec::new();
        let mut next = 0;
        for i in 0..20 {
            let records = 1 + (i % 4);
            let (outcome, bytes) = append(&mut log, &plain(records, 10 + i as usize * 7, 1_000 + i64::from(i)), 5);
            assert_eq!(
                outcome,
                AppendOutcome::Appended {
                    base_offset: next,
                    last_offset: next + i64::from(records) - 1,
                    log_append_time_ms: None
                },
                "{}",
                t.name
            );
            next += i64::from(records);
            stored.push(bytes);
        }
        assert_eq!(log.log_end_offset(), next);
        assert_eq!(log.log_start_offset(), 0);
        assert_eq!(log.size_bytes(), stored.iter().map(|b| b.len() as u64).sum::<u64>());
        assert_eq!(read_all(&log), stored, "{}", t.name);
        let whole = log.read(0, usize::MAX, i64::MAX, false).unwrap();
        assert_eq!(whole.bytes, stored.concat());
    });
}

#[test]
fn an_append_writes_its_patched_header_and_the_records_exactly_as_sent() {
    each_storage(|t| {
        let mut log = t.open(&LogConfig { log_append_time: true, ..LogConfig::default() }, 0);
        log.set_leader_epoch(7);
        append(&mut log, &plain(2, 10, 0), 1_000);
        let sent = plain(3, 40, 0);
        log.append(&sent, 2_000).unwrap();
        let stored = read_all(&log).pop().unwrap();
        let header = validate_batch(&stored).expect("the stored CRC covers the patched header");
        assert_eq!((header.base_offset, header.partition_leader_epoch, header.max_timestamp), (2, 7, 2_000), "{}", t.name);
        assert!(header.is_log_append_time());
        assert_eq!(stored[BATCH_HEADER_BYTES..], sent[BATCH_HEADER_BYTES..], "{}: the records as sent", t.name);
    });
}

#[test]
fn read_limits_by_max_bytes_max_offset_and_min_one_batch() {
    each_storage(|t| {
        let mut log = t.open(&LogConfig::default(), 0);
        let a = append(&mut log, &plain(2, 100, 0), 0).1; // offsets 0-1
        let b = append(&mut log, &plain(2, 100, 0), 0).1; // 2-3
        let c = append(&mut log, &plain(1, 500, 0), 0).1; // 4
        let two = a.len() + b.len();
        assert_eq!(log.read(0, two, i64::MAX, false).unwrap().bytes, [a.clone(), b.clone()].concat());
        assert_eq!(log.read(0, two - 1, i64::MAX, false).unwrap().bytes, a);
        assert!(log.read(0, a.len() - 1, i64::MAX, false).unwrap().bytes.is_empty());
        assert_eq!(log.read(0, 1, i64::MAX, true).unwrap().bytes, a, "min_one_batch returns the first batch whole");
        assert_eq!(log.read(4, 10, i64::MAX, true).unwrap().bytes, c);
        // max_offset is exclusive on base offsets: a batch starting at it is not returned.
        assert_eq!(log.read(0, usize::MAX, 2, false).unwrap().bytes, a);
        assert_eq!(log.read(0, usize::MAX, 3, false).unwrap().bytes, [a.clone(), b.clone()].concat());
        assert!(log.read(2, usize::MAX, 2, true).unwrap().bytes.is_empty());
    });
}

#[test]
fn read_outside_the_log_is_out_of_range_and_at_the_end_is_empty() {
    each_storage(|t| {
        let mut log = t.open(&LogConfig::default(), 0);
        append(&mut log, &plain(3, 10, 0), 0);
        assert!(log.read(3, 1_000, i64::MAX, true).unwrap().bytes.is_empty());
        assert!(matches!(
            log.read(4, 1_000, i64::MAX, true),
            Err(LogError::OffsetOutOfRange { offset: 4, log_start_offset: 0, log_end_offset: 3 })
        ));
        assert!(matches!(log.read(-1, 1_000, i64::MAX, true), Err(LogError::OffsetOutOfRange { .. })));
    });
}

#[test]
fn read_from_an_offset_inside_a_batch_returns_the_whole_batch() {
    each_storage(|t| {
        let mut log = t.open(&LogConfig::default(), 0);
        append(&mut log, &plain(3, 10, 0), 0);
        let second = append(&mut log, &plain(5, 10, 0), 0).1; // offsets 3-7
        assert_eq!(log.read(6, 10_000, i64::MAX, false).unwrap().bytes, second);
    });
}

#[test]
fn segments_roll_by_size_and_are_named_by_base_offset() {
    each_storage(|t| {
        let config = small_config();
        let mut log = t.open(&config, 0);
        let mut stored = Vec::new();
        for _ in 0..12 {
            stored.push(append(&mut log, &plain(2, 150, 0), 0).1);
        }
        let batch_bytes = stored[0].len() as u64;
        let per_segment = config.segment_bytes / batch_bytes;
        let bases = log.segment_base_offsets();
        assert!(bases.len() >= 3, "{}: {bases:?}", t.name);
        for (i, base) in bases.iter().enumerate() {
            assert_eq!(*base, i as i64 * per_segment as i64 * 2, "{}", t.name);
        }
        let names = t.names();
        for base in &bases {
            for suffix in ["log", "index", "timeindex"] {
                let name = format!("{base:020}.{suffix}");
                assert!(names.contains(&name), "{}: {name} missing from {names:?}", t.name);
            }
        }
        for base in &bases[1..] {
            assert!(names.contains(&format!("{base:020}.snapshot")), "{}: roll writes a producer snapshot", t.name);
        }
        assert_eq!(read_all(&log), stored);
        assert!(t.read(&format!("{:020}.log", bases[0])).len() as u64 <= config.segment_bytes);
    });
}

#[test]
fn segments_roll_when_segment_ms_passed_since_the_first_batch_timestamp() {
    each_storage(|t| {
        let config = LogConfig { segment_ms: 1_000, ..LogConfig::default() };
        let mut log = t.open(&config, 0);
        append(&mut log, &plain(1, 10, 10_000), 10_000);
        append(&mut log, &plain(1, 10, 11_000), 11_000); // waited exactly segment.ms: no roll
        assert_eq!(log.segment_base_offsets(), vec![0]);
        append(&mut log, &plain(1, 10, 11_001), 11_001);
        assert_eq!(log.segment_base_offsets(), vec![0, 2], "{}", t.name);
        // A tick rolls an idle active segment too, and never an empty one.
        log.tick(12_002).unwrap();
        assert_eq!(log.segment_base_offsets(), vec![0, 2, 3]);
        log.tick(20_000).unwrap();
        assert_eq!(log.segment_base_offsets(), vec![0, 2, 3]);
    });
}

#[test]
fn index_lookups_land_mid_log_on_the_batch_holding_each_offset() {
    each_storage(|t| {
        let config = LogConfig { segment_bytes: 5_000, index_interval_bytes: 64, ..LogConfig::default() };
        let mut log = t.open(&config, 0);
        let mut stored = Vec::new();
        for i in 0..60 {
            stored.push(append(&mut log, &plain(1 + i % 3, 20, i64::from(i)), 0).1);
        }
        for offset in 0..log.log_end_offset() {
            let read = log.read(offset, 1, i64::MAX, true).unwrap();
            let header = validate_batch(&read.bytes).unwrap();
            assert!(header.base_offset <= offset && offset <= header.last_offset(), "{}: offset {offset}", t.name);
        }
        let index = t.read("00000000000000000000.index");
        let time_index = t.read("00000000000000000000.timeindex");
        assert!(index.len() >= 16 && index.len() % 8 == 0, "{}: index of {} bytes", t.name, index.len());
        assert!(!time_index.is_empty() && time_index.len() % 12 == 0);
        // Entries are big-endian (relative offset, position) pairs pointing at batch starts.
        let log_bytes = t.read("00000000000000000000.log");
        for entry in index.chunks_exact(8) {
            let relative = i32::from_be_bytes(entry[0..4].try_into().unwrap());
            let position = i32::from_be_bytes(entry[4..8].try_into().unwrap()) as usize;
            let batch = validate_batch(&log_bytes[position..][..split_batches(&log_bytes[position..]).0[0].end]).unwrap();
            assert_eq!(batch.last_offset(), i64::from(relative), "entry maps a batch's last offset");
        }
    });
}

#[test]
fn batch_for_timestamp_finds_the_first_batch_at_or_after_it() {
    each_storage(|t| {
        let config = LogConfig { segment_bytes: 600, index_interval_bytes: 50, ..LogConfig::default() };
        let mut log = t.open(&config, 0);
        let timestamps = [100, 300, 200, 500, 400, 700, 600, 900];
        let mut stored = Vec::new();
        for ts in timestamps {
            stored.push(append(&mut log, &plain(1, 100, ts), 0).1);
        }
        assert!(log.segment_base_offsets().len() > 2);
        assert_eq!(log.batch_for_timestamp(0).unwrap(), Some(stored[0].clone()));
        assert_eq!(log.batch_for_timestamp(100).unwrap(), Some(stored[0].clone()));
        assert_eq!(log.batch_for_timestamp(250).unwrap(), Some(stored[1].clone()));
        assert_eq!(log.batch_for_timestamp(450).unwrap(), Some(stored[3].clone()));
        assert_eq!(log.batch_for_timestamp(650).unwrap(), Some(stored[5].clone()));
        assert_eq!(log.batch_for_timestamp(900).unwrap(), Some(stored[7].clone()));
        assert_eq!(log.batch_for_timestamp(901).unwrap(), None);
        assert_eq!(log.batch_with_max_timestamp().unwrap(), Some(stored[7].clone()));
    });
}

#[test]
fn batch_with_max_timestamp_is_the_earliest_holder_of_the_maximum() {
    each_storage(|t| {
        let mut log = t.open(&small_config(), 0);
        assert_eq!(log.batch_with_max_timestamp().unwrap(), None);
        let mut stored = Vec::new();
        for ts in [5, 50, 9, 50, 7] {
            stored.push(append(&mut log, &plain(1, 300, ts), 0).1);
        }
        assert_eq!(log.batch_with_max_timestamp().unwrap(), Some(stored[1].clone()), "{}", t.name);
    });
}

#[test]
fn log_append_time_stamps_the_batch_and_keeps_its_crc_valid() {
    each_storage(|t| {
        let config = LogConfig { log_append_time: true, ..LogConfig::default() };
        let mut log = t.open(&config, 0);
        let (outcome, stored) = append(&mut log, &plain(2, 10, 5), 77_000);
        assert_eq!(outcome, AppendOutcome::Appended { base_offset: 0, last_offset: 1, log_append_time_ms: Some(77_000) });
        let read = log.read(0, 10_000, i64::MAX, false).unwrap().bytes;
        assert_eq!(read, stored);
        let header = validate_batch(&read).unwrap();
        assert!(header.is_log_append_time());
        assert_eq!(header.max_timestamp, 77_000);
    });
}

#[test]
fn malformed_batch_is_rejected_and_nothing_is_written() {
    each_storage(|t| {
        let mut log = t.open(&LogConfig::default(), 0);
        let mut short = plain(1, 10, 0);
        short.pop();
        assert!(matches!(log.append(&short, 0), Err(LogError::InvalidBatch(_))));
        let tiny = vec![0u8; 20];
        assert!(matches!(log.append(&tiny, 0), Err(LogError::InvalidBatch(_))));
        let mut old_magic = plain(1, 10, 0);
        old_magic[16] = 1;
        assert!(matches!(log.append(&old_magic, 0), Err(LogError::InvalidBatch(_))));
        assert_eq!(log.log_end_offset(), 0);
        assert_eq!(log.size_bytes(), 0);
    });
}

#[test]
fn set_config_applies_to_the_next_append() {
    each_storage(|t| {
        let mut log = t.open(&LogConfig::default(), 0);
        append(&mut log, &plain(1, 400, 0), 0);
        append(&mut log, &plain(1, 400, 0), 0);
        assert_eq!(log.segment_base_offsets(), vec![0]);
        log.set_config(LogConfig { segment_bytes: 1_000, ..LogConfig::default() });
        append(&mut log, &plain(1, 400, 0), 0);
        assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    });
}

#[test]
fn segments_roll_when_an_index_is_full() {
    each_storage(|t| {
        // Room for two offset-index entries and one time-index entry per segment.
        let config = LogConfig { segment_index_bytes: 16, index_interval_bytes: 0, ..LogConfig::default() };
        let mut log = t.open(&config, 0);
        let mut stored = Vec::new();
        for ts in 0..9 {
            stored.push(append(&mut log, &plain(1, 10, ts), 0).1);
        }
        // First batch: no entry (nothing since the last one); second: entries; third: the time
        // index is full, so the segment rolls before it.
        assert_eq!(log.segment_base_offsets(), vec![0, 2, 4, 6, 8], "{}", t.name);
        assert_eq!(read_all(&log), stored);
    });
}
