//! Test-only builders: records encoded by hand (so duplicate header keys and broken fields
//! are possible), wrapped into v2 batches compressed with kafka-protocol's own codecs, and
//! batches encoded end to end by kafka-protocol's `RecordBatchEncoder`.

use bytes::BytesMut;
use kafka_protocol::compression::{Compressor, Gzip, Lz4, Snappy, Zstd};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as KafkaCompression, Record as KafkaRecord, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::batch::{Compression, BATCH_HEADER_BYTES, BATCH_LENGTH_PREFIX_BYTES, MAGIC_V2};

pub(crate) const ALL_CODECS: [Compression; 5] =
    [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd];

/// One record, field by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spec {
    pub timestamp_delta: i64,
    pub offset_delta: i32,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Spec {
    pub(crate) fn new(offset_delta: i32, timestamp_delta: i64) -> Self {
        Self {
            timestamp_delta,
            offset_delta,
            key: Some(b"k".to_vec()),
            value: Some(b"v".to_vec()),
            headers: Vec::new(),
        }
    }
}

pub(crate) use super::varint::put_varint;

fn put_nullable(out: &mut Vec<u8>, bytes: &Option<Vec<u8>>) {
    match bytes {
        None => put_varint(out, -1),
        Some(bytes) => {
            put_varint(out, bytes.len() as i64);
            out.extend_from_slice(bytes);
        }
    }
}

/// The body of a record, without its length prefix.
pub(crate) fn record_body(spec: &Spec) -> Vec<u8> {
    let mut body = vec![0u8];
    put_varint(&mut body, spec.timestamp_delta);
    put_varint(&mut body, i64::from(spec.offset_delta));
    put_nullable(&mut body, &spec.key);
    put_nullable(&mut body, &spec.value);
    put_varint(&mut body, spec.headers.len() as i64);
    for (key, value) in &spec.headers {
        put_varint(&mut body, key.len() as i64);
        body.extend_from_slice(key);
        put_nullable(&mut body, value);
    }
    body
}

/// A length-prefixed body.
pub(crate) fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, body.len() as i64);
    out.extend_from_slice(body);
    out
}

pub(crate) fn encode_records(specs: &[Spec]) -> Vec<u8> {
    specs.iter().flat_map(|spec| framed(&record_body(spec))).collect()
}

/// Header fields of a batch under construction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchSpec {
    pub compression: Compression,
    pub records_count: i32,
    pub last_offset_delta: i32,
    pub base_offset: i64,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub base_sequence: i32,
    /// Attribute bits beyond the codec (timestamp type, transactional, control).
    pub extra_attributes: i16,
}

impl BatchSpec {
    pub(crate) fn new(compression: Compression, records_count: i32) -> Self {
        Self {
            compression,
            records_count,
            last_offset_delta: records_count - 1,
            base_offset: 0,
            base_timestamp: 1_000,
            max_timestamp: 1_000,
            producer_id: -1,
            base_sequence: -1,
            extra_attributes: 0,
        }
    }
}

pub(crate) fn codec_id(compression: Compression) -> i16 {
    match compression {
        Compression::None => 0,
        Compression::Gzip => 1,
        Compression::Snappy => 2,
        Compression::Lz4 => 3,
        Compression::Zstd => 4,
    }
}

/// Compresses `raw` exactly as kafka-protocol (and so a Kafka client) frames it.
pub(crate) fn compress(compression: Compression, raw: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    let fill = |tmp: &mut BytesMut| {
        tmp.extend_from_slice(raw);
        Ok(())
    };
    match compression {
        Compression::None => return raw.to_vec(),
        Compression::Gzip => <Gzip as Compressor<BytesMut>>::compress(&mut out, fill),
        Compression::Snappy => <Snappy as Compressor<BytesMut>>::compress(&mut out, fill),
        Compression::Lz4 => <Lz4 as Compressor<BytesMut>>::compress(&mut out, fill),
        Compression::Zstd => <Zstd as Compressor<BytesMut>>::compress(&mut out, fill),
    }
    .expect("test payload compresses");
    out.to_vec()
}

/// A batch whose records section is exactly `payload` (already compressed if at all), with
/// a correct length and CRC.
pub(crate) fn batch_with_payload(spec: &BatchSpec, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; BATCH_HEADER_BYTES];
    out.extend_from_slice(payload);
    let batch_length = (out.len() - BATCH_LENGTH_PREFIX_BYTES) as i32;
    let attributes = codec_id(spec.compression) | spec.extra_attributes;
    out[0..8].copy_from_slice(&spec.base_offset.to_be_bytes());
    out[8..12].copy_from_slice(&batch_length.to_be_bytes());
    out[16] = MAGIC_V2 as u8;
    out[21..23].copy_from_slice(&attributes.to_be_bytes());
    out[23..27].copy_from_slice(&spec.last_offset_delta.to_be_bytes());
    out[27..35].copy_from_slice(&spec.base_timestamp.to_be_bytes());
    out[35..43].copy_from_slice(&spec.max_timestamp.to_be_bytes());
    out[43..51].copy_from_slice(&spec.producer_id.to_be_bytes());
    out[51..53].copy_from_slice(&(-1i16).to_be_bytes());
    out[53..57].copy_from_slice(&spec.base_sequence.to_be_bytes());
    out[57..61].copy_from_slice(&spec.records_count.to_be_bytes());
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out
}

/// A batch of `raw` records compressed with the spec's codec.
pub(crate) fn batch_of(spec: &BatchSpec, raw: &[u8]) -> Vec<u8> {
    batch_with_payload(spec, &compress(spec.compression, raw))
}

/// A batch of hand-encoded records, with a header derived from them.
pub(crate) fn batch_of_specs(compression: Compression, base_timestamp: i64, specs: &[Spec]) -> Vec<u8> {
    let mut spec = BatchSpec::new(compression, specs.len() as i32);
    spec.base_timestamp = base_timestamp;
    spec.max_timestamp = specs.iter().map(|s| base_timestamp + s.timestamp_delta).max().unwrap_or(-1);
    batch_of(&spec, &encode_records(specs))
}

pub(crate) fn kafka_compression(compression: Compression) -> KafkaCompression {
    match compression {
        Compression::None => KafkaCompression::None,
        Compression::Gzip => KafkaCompression::Gzip,
        Compression::Snappy => KafkaCompression::Snappy,
        Compression::Lz4 => KafkaCompression::Lz4,
        Compression::Zstd => KafkaCompression::Zstd,
    }
}

/// A plain producer record for kafka-protocol's encoder.
pub(crate) fn kafka_record(
    offset: i64,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(&str, Option<&[u8]>)],
) -> KafkaRecord {
    let headers: IndexMap<StrBytes, Option<bytes::Bytes>> = headers
        .iter()
        .map(|(k, v)| (StrBytes::from_string((*k).to_owned()), v.map(bytes::Bytes::copy_from_slice)))
        .collect();
    KafkaRecord {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset,
        sequence: -1,
        timestamp,
        key: key.map(bytes::Bytes::copy_from_slice),
        value: value.map(bytes::Bytes::copy_from_slice),
        headers,
    }
}

/// One batch encoded end to end by kafka-protocol.
pub(crate) fn kafka_batch(records: &[KafkaRecord], compression: Compression) -> Vec<u8> {
    // The encoder starts a new batch whenever `offset - sequence` changes; number the
    // sequences along the offsets so that the first one stays NO_SEQUENCE (-1).
    let first_offset = records.first().map_or(0, |r| r.offset);
    let records: Vec<KafkaRecord> =
        records.iter().map(|r| KafkaRecord { sequence: (r.offset - first_offset - 1) as i32, ..r.clone() }).collect();
    let mut out = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut out,
        records.iter(),
        &RecordEncodeOptions { version: 2, compression: kafka_compression(compression) },
    )
    .expect("kafka-protocol encodes the test batch");
    out.to_vec()
}
