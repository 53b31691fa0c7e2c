//! Writing the batches compaction keeps but changes, in the v2 layout (see
//! `runnel_protocol::batch`), as Kafka's `MemoryRecords.filterTo` does:
//!
//! - a rebuilt batch keeps the original base offset and last offset delta (so the producer's
//!   last sequence survives), producer id, epoch, base sequence, partition leader epoch,
//!   timestamp type, transactional and control flags and compression codec; each retained
//!   record keeps its offset delta, timestamp, key, value and headers. Its base timestamp is
//!   the delete horizon when one is set (attribute bit 6), else the first retained record's
//!   timestamp; its max timestamp is the largest retained timestamp (the original one under
//!   LogAppendTime);
//! - an empty batch (all records removed but the batch kept: the last batch of an active
//!   producer, or of a cleaned segment) is Kafka's `writeEmptyHeader`: the original offsets
//!   and producer fields, no records, uncompressed, base timestamp -1, the original max
//!   timestamp.

use std::io;

use runnel_protocol::batch::{BatchHeader, Compression, BATCH_HEADER_BYTES, BATCH_LENGTH_PREFIX_BYTES, MAGIC_V2};
use runnel_protocol::kafka_protocol::compression::{Compressor, Gzip, Lz4, Snappy, Zstd};
use runnel_protocol::records::{put_varint, Record, NO_TIMESTAMP};

use runnel_protocol::batch::{
    update_crc, ATTRIBUTES_COMPRESSION_MASK as COMPRESSION_MASK, ATTRIBUTES_CONTROL_MASK as CONTROL_FLAG,
    ATTRIBUTES_DELETE_HORIZON_MASK as DELETE_HORIZON_FLAG, ATTRIBUTES_TIMESTAMP_TYPE_MASK as TIMESTAMP_TYPE_FLAG,
    ATTRIBUTES_TRANSACTIONAL_MASK as TRANSACTIONAL_FLAG,
};

/// The delete horizon of a stored batch, if it carries one.
pub(crate) fn delete_horizon_ms(header: &BatchHeader) -> Option<i64> {
    (header.attributes & DELETE_HORIZON_FLAG != 0).then_some(header.base_timestamp)
}

/// One record the cleaner keeps, copied out of its batch (compressed batches lend records
/// only until the next one is read).
#[derive(Debug, Clone)]
pub(crate) struct RetainedRecord {
    attributes: i8,
    timestamp: i64,
    offset_delta: i32,
    /// Key, value and headers, already in record wire form.
    tail: Vec<u8>,
    pub is_tombstone: bool,
}

impl RetainedRecord {
    pub fn copy_of(record: &Record<'_>, header: &BatchHeader) -> Self {
        let mut tail = Vec::with_capacity(
            record.key_len().unwrap_or(0) + record.value_len().unwrap_or(0) + 2 * MAX_VARINT_BYTES + 1,
        );
        put_nullable(&mut tail, record.key);
        put_nullable(&mut tail, record.value);
        put_varint(&mut tail, record.header_count as i64);
        for h in record.headers() {
            put_varint(&mut tail, h.key.len() as i64);
            tail.extend_from_slice(h.key);
            put_nullable(&mut tail, h.value);
        }
        Self {
            attributes: record.attributes,
            timestamp: record.timestamp(header),
            offset_delta: record.offset_delta,
            tail,
            is_tombstone: record.value.is_none(),
        }
    }
}

/// Longest zigzag varlong.
const MAX_VARINT_BYTES: usize = 10;

fn put_nullable(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varint(out, -1),
        Some(bytes) => {
            put_varint(out, bytes.len() as i64);
            out.extend_from_slice(bytes);
        }
    }
}

/// Attributes Kafka's `computeAttributes` writes: only the known bits survive a rewrite.
fn attributes(original: &BatchHeader, codec_bits: i16, delete_horizon: bool) -> i16 {
    let mut attributes = original.attributes & (TIMESTAMP_TYPE_FLAG | TRANSACTIONAL_FLAG | CONTROL_FLAG);
    attributes |= codec_bits & COMPRESSION_MASK;
    if delete_horizon {
        attributes |= DELETE_HORIZON_FLAG;
    }
    attributes
}

fn compress(codec: Compression, raw: Vec<u8>) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len() / 2 + 64);
    let result = match codec {
        Compression::None => return Ok(raw),
        Compression::Gzip => <Gzip as Compressor<Vec<u8>>>::compress(&mut out, |tmp| {
            tmp.extend_from_slice(&raw);
            Ok(())
        }),
        Compression::Snappy => <Snappy as Compressor<Vec<u8>>>::compress(&mut out, |tmp| {
            tmp.extend_from_slice(&raw);
            Ok(())
        }),
        Compression::Lz4 => <Lz4 as Compressor<Vec<u8>>>::compress(&mut out, |tmp| {
            tmp.extend_from_slice(&raw);
            Ok(())
        }),
        Compression::Zstd => <Zstd as Compressor<Vec<u8>>>::compress(&mut out, |tmp| {
            tmp.extend_from_slice(&raw);
            Ok(())
        }),
    };
    result.map_err(|e| io::Error::other(format!("recompressing a cleaned batch: {e}")))?;
    Ok(out)
}

/// Header fields of a batch to write, besides those copied from the original.
struct NewHeader {
    attributes: i16,
    base_timestamp: i64,
    max_timestamp: i64,
    records_count: i32,
}

fn finish_batch(original: &BatchHeader, fields: NewHeader, records_section: &[u8]) -> io::Result<Vec<u8>> {
    let total = BATCH_HEADER_BYTES + records_section.len();
    let batch_length = i32::try_from(total - BATCH_LENGTH_PREFIX_BYTES)
        .map_err(|_| io::Error::other(format!("cleaned batch of {total} bytes is too large")))?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&original.base_offset.to_be_bytes());
    out.extend_from_slice(&batch_length.to_be_bytes());
    out.extend_from_slice(&original.partition_leader_epoch.to_be_bytes());
    out.push(MAGIC_V2 as u8);
    out.extend_from_slice(&[0u8; 4]); // CRC, below
    out.extend_from_slice(&fields.attributes.to_be_bytes());
    out.extend_from_slice(&original.last_offset_delta.to_be_bytes());
    out.extend_from_slice(&fields.base_timestamp.to_be_bytes());
    out.extend_from_slice(&fields.max_timestamp.to_be_bytes());
    out.extend_from_slice(&original.producer_id.to_be_bytes());
    out.extend_from_slice(&original.producer_epoch.to_be_bytes());
    out.extend_from_slice(&original.base_sequence.to_be_bytes());
    out.extend_from_slice(&fields.records_count.to_be_bytes());
    debug_assert_eq!(out.len(), BATCH_HEADER_BYTES);
    out.extend_from_slice(records_section);
    update_crc(&mut out);
    Ok(out)
}

/// The original batch with only `records` (in order, at least one), carrying
/// `delete_horizon_ms` if given.
pub(crate) fn rebuild_batch(
    original: &BatchHeader,
    records: &[RetainedRecord],
    delete_horizon_ms: Option<i64>,
) -> io::Result<Vec<u8>> {
    assert!(!records.is_empty(), "a rebuilt batch keeps at least one record");
    let codec = original.compression().map_err(|e| io::Error::other(e.to_string()))?;
    let base_timestamp = delete_horizon_ms.unwrap_or(records[0].timestamp);
    let max_timestamp = if original.is_log_append_time() {
        original.max_timestamp
    } else {
        records.iter().map(|r| r.timestamp).fold(NO_TIMESTAMP, i64::max)
    };
    let mut raw = Vec::with_capacity(records.iter().map(|r| r.tail.len() + 3 * MAX_VARINT_BYTES).sum());
    let mut body = Vec::new();
    for record in records {
        body.clear();
        body.push(record.attributes as u8);
        put_varint(&mut body, record.timestamp.wrapping_sub(base_timestamp));
        put_varint(&mut body, i64::from(record.offset_delta));
        body.extend_from_slice(&record.tail);
        put_varint(&mut raw, body.len() as i64);
        raw.extend_from_slice(&body);
    }
    let codec_bits = original.attributes & COMPRESSION_MASK;
    let records_section = compress(codec, raw)?;
    let count = i32::try_from(records.len()).map_err(|_| io::Error::other("too many records"))?;
    let fields = NewHeader {
        attributes: attributes(original, codec_bits, delete_horizon_ms.is_some()),
        base_timestamp,
        max_timestamp,
        records_count: count,
    };
    finish_batch(original, fields, &records_section)
}

/// Kafka's `writeEmptyHeader` for `original`: same offsets and producer fields, no records.
pub(crate) fn empty_batch(original: &BatchHeader) -> io::Result<Vec<u8>> {
    let fields = NewHeader {
        attributes: attributes(original, 0, false),
        base_timestamp: NO_TIMESTAMP,
        max_timestamp: original.max_timestamp,
        records_count: 0,
    };
    finish_batch(original, fields, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use runnel_protocol::batch::{testing, validate_batch};
    use runnel_protocol::records::{for_each_record, DecodeLimits};
    use std::ops::ControlFlow;

    fn records_of(batch: &[u8]) -> Vec<(i64, i64, Option<Vec<u8>>)> {
        let header = validate_batch(batch).unwrap();
        let mut out = Vec::new();
        for_each_record(batch, &header, &DecodeLimits::default(), |r| {
            out.push((r.offset(&header), r.timestamp(&header), r.value.map(<[u8]>::to_vec)));
            ControlFlow::<()>::Continue(())
        })
        .unwrap();
        out
    }

    #[test]
    fn rebuilt_batch_keeps_offsets_and_producer_fields_and_sets_the_horizon() {
        let mut original = testing::batch(4, 3, 1_000, 7, 2, 40);
        runnel_protocol::batch::set_base_offset(&mut original, 100);
        let header = validate_batch(&original).unwrap();
        let mut kept = Vec::new();
        let mut index = 0;
        for_each_record(&original, &header, &DecodeLimits::default(), |r| {
            if index % 2 == 1 {
                kept.push(RetainedRecord::copy_of(r, &header));
            }
            index += 1;
            ControlFlow::<()>::Continue(())
        })
        .unwrap();
        let rebuilt = rebuild_batch(&header, &kept, Some(5_000)).unwrap();
        let new = validate_batch(&rebuilt).unwrap();
        assert_eq!((new.base_offset, new.last_offset_delta, new.records_count), (100, 3, 2));
        assert_eq!((new.producer_id, new.producer_epoch, new.base_sequence), (7, 2, 40));
        assert_eq!(delete_horizon_ms(&new), Some(5_000));
        assert_eq!(new.max_timestamp, 1_000);
        let records = records_of(&rebuilt);
        assert_eq!(records.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(), vec![(101, 1_000), (103, 1_000)]);
    }

    #[test]
    fn empty_batch_is_kafkas_empty_header() {
        let mut original = testing::batch(3, 3, 1_000, 7, 2, 40);
        runnel_protocol::batch::set_base_offset(&mut original, 10);
        let header = validate_batch(&original).unwrap();
        let empty = empty_batch(&header).unwrap();
        let new = validate_batch(&empty).unwrap();
        assert_eq!(empty.len(), BATCH_HEADER_BYTES);
        assert_eq!((new.base_offset, new.last_offset(), new.records_count), (10, 12, 0));
        assert_eq!((new.base_timestamp, new.max_timestamp), (NO_TIMESTAMP, 1_000));
        assert_eq!(new.last_sequence(), header.last_sequence());
    }
}
