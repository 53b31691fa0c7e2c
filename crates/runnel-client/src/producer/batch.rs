//! Record batches in Kafka's v2 format, as the producer writes them.
//!
//! Owns: the exact and upper-bound sizes of records (what `batch.size` and
//! `max.request.size` are measured against) and the encoder. The records section is written
//! here and compressed with kafka-protocol's codecs; the batch header follows Kafka's
//! `DefaultRecordBatch` (base timestamp = the first record's, CRC-32C from the attributes
//! on). The encoder is our own rather than kafka-protocol's `RecordBatchEncoder` because
//! that one keeps headers in a map, and Kafka records may repeat a header key.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Gzip, Lz4, Snappy, Zstd};

use super::config::Compression;
use crate::error::{Error, Result};

/// Bytes of a v2 batch header, up to and including the record count.
pub const BATCH_HEADER_BYTES: usize = 61;
/// Kafka's `DefaultRecord.MAX_RECORD_OVERHEAD`: the most the length, attributes, timestamp
/// delta and offset delta of one record can take.
pub const MAX_RECORD_OVERHEAD_BYTES: usize = 21;
/// Batch magic byte for the v2 format.
const MAGIC_V2: i8 = 2;
/// Where the CRC-covered part of a batch starts (the attributes field).
const CRC_START: usize = 21;
/// Offset of the CRC field in a batch.
const CRC_OFFSET: usize = 17;

/// No producer id: batches of a producer that is not idempotent.
pub const NO_PRODUCER_ID: i64 = -1;
pub const NO_PRODUCER_EPOCH: i16 = -1;
pub const NO_SEQUENCE: i32 = -1;

/// One record's contents, already serialized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordData {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
    pub timestamp: i64,
}

/// The idempotence fields of a batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerFields {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
}

impl ProducerFields {
    /// The fields of a producer that is not idempotent.
    pub const NONE: ProducerFields =
        ProducerFields { producer_id: NO_PRODUCER_ID, producer_epoch: NO_PRODUCER_EPOCH, base_sequence: NO_SEQUENCE };
}

/// The size of the key, value and headers part of a record (Kafka's `DefaultRecord.sizeOf`
/// without the deltas).
fn body_bytes(record: &RecordData) -> usize {
    let mut size = nullable_bytes(record.key.as_deref()) + nullable_bytes(record.value.as_deref());
    size += varint_bytes(len_i64(record.headers.len()));
    for (key, value) in &record.headers {
        size += varint_bytes(len_i64(key.len())) + key.len() + nullable_bytes(value.as_deref());
    }
    size
}

/// The exact bytes a record takes in an uncompressed batch, length prefix included.
pub fn record_bytes(record: &RecordData, offset_delta: i32, timestamp_delta: i64) -> usize {
    let inner = 1 + varint_bytes(timestamp_delta) + varint_bytes(i64::from(offset_delta)) + body_bytes(record);
    varint_bytes(len_i64(inner)) + inner
}

/// Kafka's `estimateSizeInBytesUpperBound` for a batch holding only this record: what the
/// Java producer compares with `max.request.size` and `buffer.memory` before accepting it.
pub fn single_record_batch_upper_bound(record: &RecordData) -> usize {
    BATCH_HEADER_BYTES + MAX_RECORD_OVERHEAD_BYTES + body_bytes(record)
}

/// Encodes `records` (at least one) as one v2 batch with base offset 0.
pub fn encode(records: &[RecordData], compression: Compression, producer: ProducerFields) -> Result<Bytes> {
    let first = records.first().ok_or_else(|| Error::Protocol("a record batch needs at least one record".into()))?;
    let count = i32::try_from(records.len()).map_err(|_| Error::Protocol("too many records for one batch".into()))?;
    let base_timestamp = first.timestamp;
    let max_timestamp = records.iter().map(|r| r.timestamp).max().unwrap_or(base_timestamp);

    let mut body = BytesMut::new();
    for (index, record) in records.iter().enumerate() {
        let offset_delta = i32::try_from(index).map_err(|_| Error::Protocol("too many records for one batch".into()))?;
        put_record(&mut body, record, offset_delta, record.timestamp.wrapping_sub(base_timestamp));
    }

    let mut batch = BytesMut::with_capacity(BATCH_HEADER_BYTES + body.len());
    batch.put_i64(0); // base offset: the broker assigns it
    batch.put_i32(0); // batch length, filled below
    batch.put_i32(-1); // partition leader epoch: the broker sets it
    batch.put_i8(MAGIC_V2);
    batch.put_u32(0); // CRC, filled below
    batch.put_i16(compression.attribute_bits());
    batch.put_i32(count - 1); // last offset delta
    batch.put_i64(base_timestamp);
    batch.put_i64(max_timestamp);
    batch.put_i64(producer.producer_id);
    batch.put_i16(producer.producer_epoch);
    batch.put_i32(producer.base_sequence);
    batch.put_i32(count);
    compress_into(&mut batch, &body, compression)?;

    let length = i32::try_from(batch.len() - 12).map_err(|_| Error::Protocol("record batch larger than 2 GiB".into()))?;
    batch[8..12].copy_from_slice(&length.to_be_bytes());
    let crc = crc32c::crc32c(&batch[CRC_START..]);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(batch.freeze())
}

fn compress_into(batch: &mut BytesMut, body: &[u8], compression: Compression) -> Result<()> {
    let copy = |out: &mut BytesMut| {
        out.put_slice(body);
        Ok(())
    };
    let outcome = match compression {
        Compression::None => {
            batch.put_slice(body);
            return Ok(());
        }
        Compression::Gzip => Gzip::compress(batch, copy),
        Compression::Snappy => Snappy::compress(batch, copy),
        Compression::Lz4 => Lz4::compress(batch, copy),
        Compression::Zstd => Zstd::compress(batch, copy),
    };
    outcome.map_err(|e| Error::Protocol(format!("{} compression failed: {e:#}", compression.name())))
}

fn put_record(out: &mut BytesMut, record: &RecordData, offset_delta: i32, timestamp_delta: i64) {
    let inner = 1 + varint_bytes(timestamp_delta) + varint_bytes(i64::from(offset_delta)) + body_bytes(record);
    put_varint(out, len_i64(inner));
    out.put_i8(0); // attributes: unused
    put_varint(out, timestamp_delta);
    put_varint(out, i64::from(offset_delta));
    put_nullable(out, record.key.as_deref());
    put_nullable(out, record.value.as_deref());
    put_varint(out, len_i64(record.headers.len()));
    for (key, value) in &record.headers {
        put_varint(out, len_i64(key.len()));
        out.put_slice(key.as_bytes());
        put_nullable(out, value.as_deref());
    }
}

fn put_nullable(out: &mut BytesMut, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varint(out, -1),
        Some(bytes) => {
            put_varint(out, len_i64(bytes.len()));
            out.put_slice(bytes);
        }
    }
}

fn nullable_bytes(bytes: Option<&[u8]>) -> usize {
    match bytes {
        None => varint_bytes(-1),
        Some(bytes) => varint_bytes(len_i64(bytes.len())) + bytes.len(),
    }
}

fn len_i64(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

/// Zig-zag varint (Kafka's varint and varlong share the encoding).
fn put_varint(out: &mut BytesMut, value: i64) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    while zigzag >= 0x80 {
        out.put_u8((zigzag as u8) | 0x80);
        zigzag >>= 7;
    }
    out.put_u8(zigzag as u8);
}

fn varint_bytes(value: i64) -> usize {
    let zigzag = ((value << 1) ^ (value >> 63)) as u64;
    let bits = 64 - zigzag.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use runnel_protocol::batch::validate_batch;
    use runnel_protocol::records::{DecodeLimits, RecordReader};

    fn record(key: Option<&str>, value: Option<&str>, headers: &[(&str, Option<&str>)], timestamp: i64) -> RecordData {
        RecordData {
            key: key.map(|k| Bytes::copy_from_slice(k.as_bytes())),
            value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.map(|v| Bytes::copy_from_slice(v.as_bytes())))).collect(),
            timestamp,
        }
    }

    type Decoded = (Option<Vec<u8>>, Option<Vec<u8>>, Vec<(Vec<u8>, Option<Vec<u8>>)>, i64, i64);

    /// Decodes with runnel-protocol's validating reader, which checks the CRC, the length,
    /// the declared count and every record's framing.
    fn decode(batch: &[u8]) -> (runnel_protocol::batch::BatchHeader, Vec<Decoded>) {
        let header = validate_batch(batch).expect("valid batch");
        let mut reader = RecordReader::new(batch, &header, &DecodeLimits::default()).expect("reader");
        let mut out = Vec::new();
        while let Some(r) = reader.next_record().expect("record") {
            let headers = r.headers().map(|h| (h.key.to_vec(), h.value.map(<[u8]>::to_vec))).collect();
            out.push((r.key.map(<[u8]>::to_vec), r.value.map(<[u8]>::to_vec), headers, r.offset(&header), r.timestamp(&header)));
        }
        (header, out)
    }

    fn sample() -> Vec<RecordData> {
        vec![
            record(Some("k1"), Some("v1"), &[("h", Some("a")), ("h", Some("b")), ("n", None)], 1_000),
            record(None, None, &[], 990),
            record(Some(""), Some("third value"), &[("", Some(""))], 1_500),
        ]
    }

    #[test]
    fn every_codec_round_trips_through_a_validating_reader() {
        for codec in Compression::ALL {
            let fields = ProducerFields { producer_id: 42, producer_epoch: 3, base_sequence: 7 };
            let batch = encode(&sample(), codec, fields).unwrap();
            let (header, records) = decode(&batch);
            assert_eq!(header.compression().unwrap() as i16, codec.attribute_bits(), "{codec:?}");
            assert_eq!((header.producer_id, header.producer_epoch, header.base_sequence), (42, 3, 7));
            assert_eq!((header.records_count, header.last_offset_delta), (3, 2));
            assert_eq!((header.base_timestamp, header.max_timestamp), (1_000, 1_500));
            assert_eq!(records.len(), 3);
            let (key, value, headers, offset, timestamp) = &records[0];
            assert_eq!((key.as_deref(), value.as_deref()), (Some(&b"k1"[..]), Some(&b"v1"[..])));
            let expected: Vec<(Vec<u8>, Option<Vec<u8>>)> =
                vec![(b"h".to_vec(), Some(b"a".to_vec())), (b"h".to_vec(), Some(b"b".to_vec())), (b"n".to_vec(), None)];
            assert_eq!(headers, &expected, "duplicate header keys and null header values survive");
            assert_eq!((*offset, *timestamp), (0, 1_000));
            assert_eq!(records[1], (None, None, vec![], 1, 990), "null key and value; earlier timestamp");
            assert_eq!(records[2].0.as_deref(), Some(&b""[..]), "an empty key is not a null key");
        }
    }

    #[test]
    fn kafka_protocol_decoder_reads_our_batches_too() {
        for codec in Compression::ALL {
            let batch = encode(&sample(), codec, ProducerFields::NONE).unwrap();
            let mut bytes = batch.clone();
            let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut bytes).expect("decode");
            assert_eq!(set.records.len(), 3, "{codec:?}");
            assert_eq!(set.records[2].value.as_deref(), Some(&b"third value"[..]));
            assert_eq!(set.records[0].producer_id, -1);
        }
    }

    #[test]
    fn exact_sizes_add_up_to_the_uncompressed_batch() {
        let records = sample();
        let base = records[0].timestamp;
        let sum: usize =
            records.iter().enumerate().map(|(i, r)| record_bytes(r, i as i32, r.timestamp - base)).sum();
        let batch = encode(&records, Compression::None, ProducerFields::NONE).unwrap();
        assert_eq!(batch.len(), BATCH_HEADER_BYTES + sum);
        for r in &records {
            assert!(single_record_batch_upper_bound(r) >= BATCH_HEADER_BYTES + record_bytes(r, i32::MAX, i64::MIN));
        }
    }

    #[test]
    fn varint_sizes_match_encoding() {
        for value in [0, 1, -1, 63, 64, -65, 8191, 8192, i64::from(i32::MAX), i64::MIN, i64::MAX] {
            let mut out = BytesMut::new();
            put_varint(&mut out, value);
            assert_eq!(out.len(), varint_bytes(value), "{value}");
        }
    }

    #[test]
    fn empty_batches_are_refused() {
        assert!(encode(&[], Compression::None, ProducerFields::NONE).is_err());
    }
}
