//! Turning one partition's fetched bytes into records.
//!
//! Owns: walking the record batches of a Fetch response partition the way Kafka's
//! `CompletedFetch` does: whole batches only (a trailing partial batch is the broker cutting
//! at the size limit), CRC checked, control batches (transaction markers) skipped, records
//! below the fetch offset skipped (a batch starts where the producer wrote it, not where we
//! asked), and the next fetch offset taken from the last batch read even when it yielded no
//! records. Decoding goes through runnel-protocol's bounded record reader, so a hostile or
//! corrupt batch costs at most its limits and becomes an error, never a panic.

use bytes::Bytes;
use runnel_protocol::batch::{split_batches, validate_batch, BatchHeader, MAGIC_V2};
use runnel_protocol::records::{DecodeLimits, RecordReader, DEFAULT_MESSAGE_MAX_BYTES};

use super::record::{ConsumerRecord, Header, TimestampType};
use crate::error::Error;

/// The records of one fetched partition from the fetch offset on.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    pub records: Vec<ConsumerRecord>,
    /// Where the next fetch starts: one past the last whole batch read, or the fetch offset
    /// when none was.
    pub next_fetch_offset: i64,
    /// A batch that could not be read, after the records before it. The consumer reports it
    /// when the records before it have been handed out, as Java does; the position then
    /// stays at the bad batch.
    pub error: Option<Error>,
}

/// Decodes `data` (a Fetch response's `records` for `topic`-`partition`) from `fetch_offset`.
pub(crate) fn decode_partition(topic: &str, partition: i32, data: &Bytes, fetch_offset: i64, check_crcs: bool) -> Decoded {
    let mut decoded = Decoded { next_fetch_offset: fetch_offset, ..Decoded::default() };
    let (ranges, _whole_end) = split_batches(data);
    if ranges.is_empty() && !data.is_empty() {
        decoded.error = Some(Error::Protocol(format!(
            "{topic}-{partition} at offset {fetch_offset}: the fetch returned {} bytes but no whole record batch \
             (a batch larger than max.partition.fetch.bytes from a broker that does not return oversized batches?)",
            data.len()
        )));
        return decoded;
    }
    for range in ranges {
        let bytes = &data[range.clone()];
        let header = match read_header(bytes, check_crcs) {
            Ok(header) => header,
            Err(reason) => {
                decoded.error = Some(corrupt(topic, partition, decoded.next_fetch_offset, &reason));
                return decoded;
            }
        };
        let next = header.last_offset().saturating_add(1);
        if header.last_offset() < fetch_offset || header.is_control() || header.records_count == 0 {
            decoded.next_fetch_offset = decoded.next_fetch_offset.max(next);
            continue;
        }
        match read_records(topic, partition, data, range, &header, fetch_offset, &mut decoded.records) {
            Ok(()) => decoded.next_fetch_offset = decoded.next_fetch_offset.max(next),
            Err(reason) => {
                // Drop the records of the bad batch already read: the position must stay at
                // its start so the error repeats until the application seeks past it.
                decoded.records.retain(|r| r.offset < header.base_offset);
                decoded.error = Some(corrupt(topic, partition, header.base_offset.max(fetch_offset), &reason));
                return decoded;
            }
        }
    }
    decoded
}

fn corrupt(topic: &str, partition: i32, offset: i64, reason: &str) -> Error {
    Error::Protocol(format!("record batch of {topic}-{partition} at offset {offset} is invalid: {reason}"))
}

fn read_header(bytes: &[u8], check_crcs: bool) -> std::result::Result<BatchHeader, String> {
    if check_crcs {
        return validate_batch(bytes).map_err(|e| e.to_string());
    }
    let header = BatchHeader::parse(bytes).map_err(|e| e.to_string())?;
    if header.magic != MAGIC_V2 {
        return Err(format!("unsupported record batch magic {} (only v2 is read)", header.magic));
    }
    Ok(header)
}

/// Limits for one batch: scaled from its own size, never below Kafka's default
/// `message.max.bytes`, so any batch a broker accepted decodes while a compression bomb
/// still stops at a fixed ratio.
fn limits_for(batch_bytes: usize) -> DecodeLimits {
    DecodeLimits::for_message_max_bytes(batch_bytes.max(DEFAULT_MESSAGE_MAX_BYTES))
}

fn read_records(
    topic: &str,
    partition: i32,
    data: &Bytes,
    range: std::ops::Range<usize>,
    header: &BatchHeader,
    fetch_offset: i64,
    out: &mut Vec<ConsumerRecord>,
) -> std::result::Result<(), String> {
    let batch = &data[range.clone()];
    let mut reader = RecordReader::new(batch, header, &limits_for(batch.len())).map_err(|e| e.to_string())?;
    let compressed = header.compression().map(|c| c != runnel_protocol::batch::Compression::None).unwrap_or(true);
    // Uncompressed records point into `data`; share its buffer instead of copying.
    let share = |slice: &[u8]| if compressed { Bytes::copy_from_slice(slice) } else { data.slice_ref(slice) };
    let timestamp_type =
        if header.is_log_append_time() { TimestampType::LogAppendTime } else { TimestampType::CreateTime };
    let leader_epoch = (header.partition_leader_epoch >= 0).then_some(header.partition_leader_epoch);
    while let Some(record) = reader.next_record().map_err(|e| e.to_string())? {
        let offset = record.offset(header);
        if offset < fetch_offset {
            continue;
        }
        out.push(ConsumerRecord {
            topic: topic.to_string(),
            partition,
            offset,
            timestamp: record.timestamp(header),
            timestamp_type,
            key: record.key.map(share),
            value: record.value.map(share),
            headers: record
                .headers()
                .map(|h| Header { key: String::from_utf8_lossy(h.key).into_owned(), value: h.value.map(share) })
                .collect(),
            leader_epoch,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use indexmap::IndexMap;
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType as WireTimestampType,
    };

    fn record(offset: i64, key: &str, value: &str) -> Record {
        let mut headers = IndexMap::new();
        headers.insert(StrBytes::from_static_str("h"), Some(Bytes::from_static(b"hv")));
        Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 3,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: WireTimestampType::Creation,
            offset,
            // kafka-protocol's encoder batches records together only when offset minus
            // sequence is constant.
            sequence: offset as i32,
            timestamp: 1_000 + offset,
            key: Some(Bytes::copy_from_slice(key.as_bytes())),
            value: Some(Bytes::copy_from_slice(value.as_bytes())),
            headers,
        }
    }

    fn batch(base: i64, count: i64, compression: Compression) -> BytesMut {
        let records: Vec<Record> = (base..base + count).map(|o| record(o, &format!("k{o}"), &format!("v{o}"))).collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression }).unwrap();
        buf
    }

    fn control_batch(base: i64) -> BytesMut {
        let mut r = record(base, "", "");
        r.control = true;
        r.transactional = true;
        r.producer_id = 9;
        r.producer_epoch = 0;
        r.key = Some(Bytes::from_static(&[0, 0, 0, 0])); // version 0, type ABORT
        r.value = Some(Bytes::from_static(&[0, 0, 0, 0, 0, 0]));
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(&mut buf, [&r], &RecordEncodeOptions { version: 2, compression: Compression::None })
            .unwrap();
        buf
    }

    fn concat(parts: &[BytesMut]) -> Bytes {
        let mut all = BytesMut::new();
        for p in parts {
            all.extend_from_slice(p);
        }
        all.freeze()
    }

    #[test]
    fn records_below_the_fetch_offset_are_skipped_within_a_batch() {
        let data = concat(&[batch(0, 5, Compression::None), batch(5, 3, Compression::None)]);
        let decoded = decode_partition("t", 0, &data, 3, true);
        assert!(decoded.error.is_none());
        assert_eq!(decoded.records.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![3, 4, 5, 6, 7]);
        assert_eq!(decoded.next_fetch_offset, 8);
        let r = &decoded.records[0];
        assert_eq!((r.key.as_deref(), r.value.as_deref()), (Some(&b"k3"[..]), Some(&b"v3"[..])));
        assert_eq!(r.timestamp, 1_003);
        assert_eq!(r.timestamp_type, TimestampType::CreateTime);
        assert_eq!(r.headers, vec![Header { key: "h".into(), value: Some(Bytes::from_static(b"hv")) }]);
    }

    #[test]
    fn compressed_batches_decode() {
        for compression in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let data = batch(10, 4, compression).freeze();
            let decoded = decode_partition("t", 1, &data, 11, true);
            assert!(decoded.error.is_none(), "{compression:?}: {:?}", decoded.error);
            assert_eq!(decoded.records.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![11, 12, 13]);
            assert_eq!(decoded.next_fetch_offset, 14);
        }
    }

    #[test]
    fn control_batches_are_skipped_but_advance_the_next_fetch_offset() {
        let data = concat(&[batch(0, 2, Compression::None), control_batch(2)]);
        let decoded = decode_partition("t", 0, &data, 0, true);
        assert_eq!(decoded.records.len(), 2);
        assert_eq!(decoded.next_fetch_offset, 3);
        let only_marker = decode_partition("t", 0, &concat(&[control_batch(7)]), 7, true);
        assert!(only_marker.records.is_empty() && only_marker.error.is_none());
        assert_eq!(only_marker.next_fetch_offset, 8);
    }

    #[test]
    fn a_trailing_partial_batch_is_ignored() {
        let whole = batch(0, 2, Compression::None);
        let partial = batch(2, 2, Compression::None);
        let mut data = BytesMut::from(&whole[..]);
        data.extend_from_slice(&partial[..partial.len() - 5]);
        let decoded = decode_partition("t", 0, &data.freeze(), 0, true);
        assert_eq!(decoded.records.len(), 2);
        assert_eq!(decoded.next_fetch_offset, 2);
        assert!(decoded.error.is_none());
    }

    #[test]
    fn only_a_partial_batch_is_an_error() {
        let partial = batch(0, 2, Compression::None);
        let decoded = decode_partition("t", 0, &Bytes::copy_from_slice(&partial[..30]), 0, true);
        assert!(decoded.error.is_some());
        assert_eq!(decoded.next_fetch_offset, 0);
    }

    #[test]
    fn a_corrupt_batch_reports_an_error_after_the_good_records_before_it() {
        let good = batch(0, 2, Compression::None);
        let mut bad = batch(2, 2, Compression::None);
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        let decoded = decode_partition("t", 0, &concat(&[good.clone(), bad.clone()]), 0, true);
        assert_eq!(decoded.records.len(), 2);
        assert_eq!(decoded.next_fetch_offset, 2);
        let error = decoded.error.unwrap().to_string();
        assert!(error.contains("t-0 at offset 2") && error.contains("CRC"), "{error}");
        // Without CRC checks the flipped byte is read as data or fails record parsing; either
        // way nothing panics and no record of the bad batch is half-returned.
        let unchecked = decode_partition("t", 0, &concat(&[good, bad]), 0, false);
        assert!(unchecked.records.len() == 4 || (unchecked.records.len() == 2 && unchecked.error.is_some()));
    }

    #[test]
    fn mutated_batches_never_panic() {
        let mut state = 0x2545_f491_u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for compression in [Compression::None, Compression::Gzip, Compression::Lz4] {
            let original = batch(0, 6, compression);
            for _ in 0..3_000 {
                let mut mutated = original.clone();
                for _ in 0..=(next() % 3) {
                    let at = next() as usize % mutated.len();
                    mutated[at] = next() as u8;
                }
                let decoded = decode_partition("t", 0, &mutated.freeze(), 0, false);
                // Whatever the bytes claim, nothing below the fetch offset comes out and the
                // next fetch never moves backwards.
                assert!(decoded.records.iter().all(|r| r.offset >= 0));
                assert!(decoded.next_fetch_offset >= 0);
            }
        }
    }
}
