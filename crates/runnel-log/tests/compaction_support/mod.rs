//! Helpers for the compaction tests, included by each with `#[path]` (a directory, so Cargo
//! does not build it as a test of its own): keyed batches encoded by kafka-protocol's
//! `RecordBatchEncoder` (as a client encodes them), a reader that decodes every record the
//! log serves and checks what a consumer relies on, and the key -> latest value view that
//! compaction must preserve.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use bytes::Bytes;
use runnel_log::{LogConfig, PartitionLog};
use runnel_protocol::batch::{split_batches, validate_batch, BatchHeader};
use runnel_protocol::kafka_protocol::indexmap::IndexMap;
use runnel_protocol::kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use runnel_protocol::records::{for_each_record, DecodeLimits};

/// One record to produce: key and value (`None` value = tombstone).
pub type KeyValue<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

fn record(offset: i64, timestamp_ms: i64, (key, value): KeyValue<'_>) -> Record {
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset,
        // The encoder starts a new batch whenever `offset - sequence` changes: keep it
        // constant, with the first sequence at NO_SEQUENCE (-1).
        sequence: (offset - 1) as i32,
        timestamp: timestamp_ms,
        key: key.map(Bytes::copy_from_slice),
        value: value.map(Bytes::copy_from_slice),
        headers: IndexMap::new(),
    }
}

fn encode(records: &[Record], compression: Compression) -> Vec<u8> {
    let mut out = Vec::new();
    RecordBatchEncoder::encode(&mut out, records.iter(), &RecordEncodeOptions { version: 2, compression })
        .expect("kafka-protocol encodes the batch");
    let header = validate_batch(&out).expect("one valid batch");
    assert_eq!(header.total_bytes(), out.len(), "the records fit one batch");
    out
}

/// One batch of `records`, record `i` at timestamp `timestamp_ms + i`.
pub fn keyed_batch(records: &[KeyValue<'_>], timestamp_ms: i64, compression: Compression) -> Vec<u8> {
    let records: Vec<Record> =
        records.iter().enumerate().map(|(i, kv)| record(i as i64, timestamp_ms + i as i64, *kv)).collect();
    encode(&records, compression)
}

/// An uncompressed batch of one record.
pub fn put(key: &str, value: &str, timestamp_ms: i64) -> Vec<u8> {
    keyed_batch(&[(Some(key.as_bytes()), Some(value.as_bytes()))], timestamp_ms, Compression::None)
}

/// An uncompressed tombstone for `key`.
pub fn delete(key: &str, timestamp_ms: i64) -> Vec<u8> {
    keyed_batch(&[(Some(key.as_bytes()), None)], timestamp_ms, Compression::None)
}

/// A batch from an idempotent producer: `records` with sequences from `first_seq`.
pub fn idempotent_batch(
    producer_id: i64,
    epoch: i16,
    first_seq: i32,
    records: &[KeyValue<'_>],
    timestamp_ms: i64,
) -> Vec<u8> {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, kv)| Record {
            producer_id,
            producer_epoch: epoch,
            sequence: first_seq + i as i32,
            ..record(i as i64, timestamp_ms, *kv)
        })
        .collect();
    encode(&records, Compression::None)
}

/// Appends a batch, panicking on error; returns its (base, last) offsets.
pub fn append_batch(log: &mut PartitionLog, batch: &[u8], now_ms: i64) -> (i64, i64) {
    match log.append(batch, now_ms).expect("append") {
        runnel_log::AppendOutcome::Appended { base_offset, last_offset, .. }
        | runnel_log::AppendOutcome::Duplicate { base_offset, last_offset } => (base_offset, last_offset),
    }
}

/// One record as the log serves it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Served {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

/// Every batch from the log start to the log end, fetched in small reads. Checks what a
/// consumer relies on: whole valid batches, base offsets strictly increasing (gaps allowed),
/// never an empty read below the log end.
pub fn read_batches(log: &PartitionLog) -> Vec<Vec<u8>> {
    let mut batches = Vec::new();
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    while offset < end {
        let read = log.read(offset, 4096, i64::MAX, true).expect("read");
        assert!(!read.bytes.is_empty(), "empty read at {offset} below the log end {end}");
        let (ranges, whole) = split_batches(&read.bytes);
        assert_eq!(whole, read.bytes.len(), "a read returned a partial batch");
        for range in ranges {
            let header = validate_batch(&read.bytes[range.clone()]).expect("served batch is valid");
            assert!(
                header.last_offset() >= offset,
                "batch ending at {} served for offset {offset}",
                header.last_offset()
            );
            assert!(batches.is_empty() || header.base_offset >= offset, "offsets go backwards at {offset}");
            offset = header.last_offset() + 1;
            batches.push(read.bytes[range].to_vec());
        }
    }
    assert_eq!(offset, end, "the last batch ends at the log end");
    batches
}

/// The records of one batch, in order.
pub fn batch_records(batch: &[u8]) -> Vec<Served> {
    let header = validate_batch(batch).expect("valid batch");
    let mut out = Vec::new();
    for_each_record(batch, &header, &DecodeLimits::default(), |r| {
        out.push(Served {
            offset: r.offset(&header),
            timestamp: r.timestamp(&header),
            key: r.key.map(<[u8]>::to_vec),
            value: r.value.map(<[u8]>::to_vec),
        });
        ControlFlow::<()>::Continue(())
    })
    .expect("records decode");
    for r in &out {
        assert!(r.offset >= header.base_offset && r.offset <= header.last_offset(), "record outside its batch");
    }
    out
}

/// Every record the log serves; offsets strictly increase.
pub fn read_records(log: &PartitionLog) -> Vec<Served> {
    let records: Vec<Served> = read_batches(log).iter().flat_map(|b| batch_records(b)).collect();
    for pair in records.windows(2) {
        assert!(pair[0].offset < pair[1].offset, "record offsets increase: {} then {}", pair[0].offset, pair[1].offset);
    }
    records
}

/// Key -> value of the latest record of each key, leaving out keys whose latest record is a
/// tombstone (a removed tombstone and a kept one mean the same to a consumer).
pub fn latest_values<'a>(records: impl IntoIterator<Item = &'a Served>) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut latest: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    for r in records {
        if let Some(key) = &r.key {
            latest.insert(key.clone(), r.value.clone());
        }
    }
    latest.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect()
}

/// A compacted topic with small segments, cleaned whenever anything is dirty.
pub fn compact_config() -> LogConfig {
    LogConfig {
        compact: true,
        segment_bytes: 1_000,
        index_interval_bytes: 100,
        retention_ms: -1,
        min_cleanable_dirty_ratio: 0.0,
        ..LogConfig::default()
    }
}

pub fn header(batch: &[u8]) -> BatchHeader {
    BatchHeader::parse(batch).expect("header")
}
