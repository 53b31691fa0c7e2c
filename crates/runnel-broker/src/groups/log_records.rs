//! Key/value records in a partition log, for the broker's own internal topics.
//!
//! The group coordinator persists its state as key/value records in `__consumer_offsets`
//! (Kafka's formats, encoded by `runnel-coordinator`). This module frames them as a v2
//! record batch for appending, and walks a partition's stored batches to load them back.

use bytes::{Bytes, BytesMut};
use runnel_log::LogError;
use runnel_protocol::batch::{split_batches, BatchHeader};
use runnel_protocol::kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType, NO_PARTITION_LEADER_EPOCH,
    NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE,
};
use runnel_protocol::records::{for_each_record, DecodeLimits};

use crate::topics::Partition;

/// Bytes read from the log per step while loading.
pub const LOAD_READ_BYTES: usize = 4 << 20;

/// One stored key/value pair; a `None` value is a tombstone.
pub type KeyValue = (Vec<u8>, Option<Vec<u8>>);

#[derive(Debug, thiserror::Error)]
pub enum LogRecordsError {
    #[error("cannot encode an internal record batch: {0}")]
    Encode(String),
    #[error("cannot read {topic}-{partition}: {source}")]
    Read { topic: String, partition: i32, source: LogError },
    #[error("corrupt record batch in {topic}-{partition} at offset {offset}: {reason}")]
    Corrupt { topic: String, partition: i32, offset: i64, reason: String },
}

/// Frames `entries` as one uncompressed v2 batch, ready for `Partition::append`.
pub fn encode_batch(entries: &[KeyValue], now_ms: i64) -> Result<Vec<u8>, LogRecordsError> {
    assert!(!entries.is_empty(), "an internal batch needs at least one record");
    let records: Vec<Record> = entries
        .iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder starts a new batch whenever offset - sequence changes, so the
            // sequence must advance with the offset; the batch header keeps the first one,
            // NO_SEQUENCE, as Kafka's own coordinator writes.
            sequence: NO_SEQUENCE + i as i32,
            timestamp: now_ms,
            key: Some(Bytes::copy_from_slice(key)),
            value: value.as_deref().map(Bytes::copy_from_slice),
            headers: Default::default(),
        })
        .collect();
    let mut out = BytesMut::new();
    let options = RecordEncodeOptions { version: 2, compression: Compression::None };
    RecordBatchEncoder::encode(&mut out, &records, &options).map_err(|e| LogRecordsError::Encode(e.to_string()))?;
    Ok(out.to_vec())
}

/// Calls `f(key, value)` for every keyed record in the partition, oldest first.
pub fn for_each_stored(
    partition: &Partition,
    mut f: impl FnMut(&[u8], Option<&[u8]>),
) -> Result<(), LogRecordsError> {
    let (topic, index) = (partition.topic.clone(), partition.index);
    let mut offset = partition.log_start_offset();
    let end = partition.log_end_offset();
    while offset < end {
        let read = partition
            .read(offset, LOAD_READ_BYTES, true)
            .map_err(|source| LogRecordsError::Read { topic: topic.clone(), partition: index, source })?;
        if read.bytes.is_empty() {
            break;
        }
        let (ranges, _) = split_batches(&read.bytes);
        for range in ranges {
            let batch = &read.bytes[range];
            let corrupt = |reason: String| LogRecordsError::Corrupt { topic: topic.clone(), partition: index, offset, reason };
            let header = BatchHeader::parse(batch).map_err(|e| corrupt(e.to_string()))?;
            let limits = DecodeLimits::for_message_max_bytes(batch.len());
            for_each_record(batch, &header, &limits, |record| {
                if let Some(key) = record.key {
                    f(key, record.value);
                }
                std::ops::ControlFlow::<()>::Continue(())
            })
            .map_err(|e| corrupt(e.to_string()))?;
            offset = header.last_offset() + 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use runnel_protocol::batch::{validate_batch, NO_SEQUENCE};

    use super::*;

    #[test]
    fn several_records_make_one_valid_non_idempotent_batch() {
        let entries = vec![(b"k1".to_vec(), Some(b"v1".to_vec())), (b"k2".to_vec(), None), (b"k3".to_vec(), Some(vec![]))];
        let batch = encode_batch(&entries, 1_000).unwrap();
        let header = validate_batch(&batch).unwrap();
        assert_eq!(header.records_count, 3);
        assert_eq!(header.base_sequence, NO_SEQUENCE);
        assert!(!header.has_producer_id());
        let mut seen = Vec::new();
        for_each_record(&batch, &header, &DecodeLimits::default(), |record| {
            seen.push((record.key.unwrap().to_vec(), record.value.map(<[u8]>::to_vec)));
            std::ops::ControlFlow::<()>::Continue(())
        })
        .unwrap();
        assert_eq!(seen, entries);
    }
}
