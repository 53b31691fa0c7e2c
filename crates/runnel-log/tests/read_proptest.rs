//! Reads against a model: for any log (batch sizes, segment rolls, index density) and any
//! read (offset, max bytes, max offset, min one batch), `read_into` and the file slices of
//! `read_file_slices` return exactly the batches the rule picks from the list of appended
//! batches, across segment boundaries.

mod common;

use common::*;
use proptest::prelude::*;
use runnel_log::{LogConfig, PartitionLog};

/// (base offset, bytes as stored) of each appended batch, in order.
type Appended = Vec<(i64, Vec<u8>)>;

fn build(t: &TestDir, config: &LogConfig, batches: &[(i32, usize)]) -> (PartitionLog, Appended) {
    let mut log = t.open(config, 0);
    let mut appended = Vec::new();
    for &(records, value_bytes) in batches {
        let (outcome, bytes) = append(&mut log, &plain(records, value_bytes, 0), 0);
        appended.push((base_of(outcome), bytes));
    }
    (log, appended)
}

/// The rule, on the flat batch list: from the batch holding `offset`, take batches while
/// their base offset is below `max_offset` and the total fits `max_bytes`; a first batch
/// that does not fit comes alone with `min_one_batch`.
fn model(appended: &Appended, offset: i64, max_bytes: usize, max_offset: i64, min_one_batch: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let holding = appended.iter().position(|(base, bytes)| {
        let records = i64::from(header(bytes).last_offset_delta) + 1;
        offset < base + records
    });
    for (base, bytes) in appended.iter().skip(holding.unwrap_or(appended.len())) {
        if *base >= max_offset {
            break;
        }
        if out.len() + bytes.len() > max_bytes {
            if out.is_empty() && min_one_batch {
                out.extend_from_slice(bytes);
            }
            break;
        }
        out.extend_from_slice(bytes);
    }
    out
}

fn slices_bytes(log: &PartitionLog, offset: i64, max_bytes: usize, max_offset: i64, min_one_batch: bool) -> Vec<u8> {
    let slices = log.read_file_slices(offset, max_bytes, max_offset, min_one_batch).unwrap().expect("a file storage shares its files");
    let mut out = Vec::new();
    for slice in slices {
        assert!(!slice.is_empty(), "no empty slices");
        slice.read_append(&mut out).unwrap();
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn reads_return_exactly_the_batches_the_rule_picks(
        batches in prop::collection::vec((1..5i32, 1..400usize), 1..40),
        segment_bytes in 300..3_000u64,
        index_interval_bytes in prop::sample::select(vec![1u64, 100, 700, 4096]),
        offset_pick in 0.0..1.0f64,
        max_bytes in prop::sample::select(vec![0usize, 1, 90, 500, 1_000, 2_500, 10_000, usize::MAX]),
        max_offset_pick in 0.0..1.2f64,
        min_one_batch: bool,
    ) {
        let config = LogConfig { segment_bytes, index_interval_bytes, ..small_config() };
        let t = TestDir::file();
        let (log, appended) = build(&t, &config, &batches);
        let end = log.log_end_offset();
        let offset = (offset_pick * end as f64) as i64;
        let max_offset = (max_offset_pick * end as f64) as i64;
        let expected = model(&appended, offset, max_bytes, max_offset, min_one_batch);
        let copied = log.read(offset, max_bytes, max_offset, min_one_batch).unwrap().bytes;
        prop_assert_eq!(&copied, &expected, "read_into");
        prop_assert_eq!(slices_bytes(&log, offset, max_bytes, max_offset, min_one_batch), expected, "file slices");
    }
}

#[test]
fn memory_storage_has_no_file_slices_to_share() {
    let t = TestDir::mem();
    let (log, _) = build(&t, &small_config(), &[(2, 10)]);
    assert!(log.read_file_slices(0, usize::MAX, i64::MAX, false).unwrap().is_none());
}

#[test]
fn a_file_slice_outlives_its_segment_being_deleted() {
    let t = TestDir::file();
    let config = LogConfig { segment_bytes: 300, ..small_config() };
    let (log, appended) = build(&t, &config, &[(1, 200), (1, 200), (1, 200)]);
    let slices = log.read_file_slices(0, usize::MAX, i64::MAX, false).unwrap().unwrap();
    assert!(slices.len() >= 2, "the read spans segments");
    drop(log);
    std::fs::remove_dir_all(t.path("")).unwrap();
    let mut out = Vec::new();
    for slice in &slices {
        slice.read_append(&mut out).unwrap();
    }
    let all: Vec<u8> = appended.into_iter().flat_map(|(_, bytes)| bytes).collect();
    assert_eq!(out, all);
}
