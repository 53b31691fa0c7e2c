//! Tests of record iteration, validation, limits and timestamp look-ups, over batches from
//! kafka-protocol's encoder and from hand-built (often broken) records, in every codec.

use std::io::Write;
use std::ops::ControlFlow;

use super::alloc_probe::peak_heap_growth;
use super::test_support::*;
use super::*;
use crate::batch::{set_log_append_time, validate_batch, BatchHeader, Compression};

const INVALID_RECORD: i16 = 87;
const INVALID_TIMESTAMP: i16 = 32;
const MESSAGE_TOO_LARGE: i16 = 10;
const CORRUPT_MESSAGE: i16 = 2;

/// Owned copy of what the reader reported for one record.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    offset: i64,
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

fn read_all(batch: &[u8], limits: &DecodeLimits) -> Result<Vec<Seen>, RecordsError> {
    let header = validate_batch(batch).expect("test batch has a valid header");
    let mut seen = Vec::new();
    for_each_record(batch, &header, limits, |record| {
        assert_eq!(record.header_count, record.headers().count());
        assert_eq!(record.key_len(), record.key.map(<[u8]>::len));
        seen.push(Seen {
            offset: record.offset(&header),
            timestamp: record.timestamp(&header),
            key: record.key.map(<[u8]>::to_vec),
            value: record.value.map(<[u8]>::to_vec),
            headers: record.headers().map(|h| (h.key.to_vec(), h.value.map(<[u8]>::to_vec))).collect(),
        });
        ControlFlow::<()>::Continue(())
    })?;
    Ok(seen)
}

fn header_of(batch: &[u8]) -> BatchHeader {
    validate_batch(batch).expect("test batch has a valid header")
}

fn validate(batch: &[u8], rules: &RecordRules) -> Result<RecordsSummary, RecordsError> {
    validate_records(batch, &header_of(batch), &DecodeLimits::default(), rules)
}

/// Rules whose clock sits at the test batches' timestamps.
fn rules() -> RecordRules<'static> {
    RecordRules::new(1_000)
}

// ---------------------------------------------------------------- iteration

#[test]
fn iteration_matches_what_kafka_protocol_encoded_in_every_codec() {
    let big_value = vec![7u8; 100_000]; // several 32 KiB xerial-snappy blocks
    let records = vec![
        kafka_record(10, 5_000, Some(b"key-0"), Some(b"value-0"), &[]),
        kafka_record(11, 4_000, None, Some(b""), &[("h1", Some(b"x")), ("h2", None)]),
        kafka_record(12, 6_000, Some(b""), None, &[("trace", Some(b"abc"))]),
        kafka_record(13, 6_000, Some(b"big"), Some(&big_value), &[]),
    ];
    for codec in ALL_CODECS {
        let batch = kafka_batch(&records, codec);
        let seen = read_all(&batch, &DecodeLimits::default()).unwrap_or_else(|e| panic!("{codec:?}: {e}"));
        let expected: Vec<Seen> = records
            .iter()
            .map(|r| Seen {
                offset: r.offset,
                timestamp: r.timestamp,
                key: r.key.as_ref().map(|k| k.to_vec()),
                value: r.value.as_ref().map(|v| v.to_vec()),
                headers: r
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_bytes().to_vec(), v.as_ref().map(|v| v.to_vec())))
                    .collect(),
            })
            .collect();
        assert_eq!(seen, expected, "{codec:?}");
    }
}

#[test]
fn duplicate_header_keys_are_kept_in_order_in_every_codec() {
    let mut spec = Spec::new(0, 0);
    spec.headers = vec![
        (b"dup".to_vec(), Some(b"1".to_vec())),
        (b"dup".to_vec(), None),
        (b"other".to_vec(), Some(Vec::new())),
        (b"dup".to_vec(), Some(b"3".to_vec())),
    ];
    for codec in ALL_CODECS {
        let batch = batch_of_specs(codec, 1_000, &[spec.clone(), Spec::new(1, 1)]);
        let seen = read_all(&batch, &DecodeLimits::default()).unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].headers, spec.headers, "{codec:?}");
        assert!(seen[1].headers.is_empty());
    }
}

#[test]
fn raw_snappy_without_xerial_framing_is_read_as_librdkafka_writes_it() {
    let specs: Vec<Spec> = (0..50).map(|i| Spec::new(i, i64::from(i))).collect();
    let raw = encode_records(&specs);
    let payload = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
    assert!(!payload.starts_with(b"\x82SNAPPY"));
    let batch = batch_with_payload(&BatchSpec::new(Compression::Snappy, 50), &payload);
    let seen = read_all(&batch, &DecodeLimits::default()).unwrap();
    assert_eq!(seen.len(), 50);
    assert_eq!(seen[49].offset, 49);
    assert_eq!(seen[49].timestamp, 1_049);
}

#[test]
fn gzip_payload_of_concatenated_members_is_read_whole() {
    let specs: Vec<Spec> = (0..4).map(|i| Spec::new(i, 0)).collect();
    let mut payload = Vec::new();
    for pair in specs.chunks(2) {
        payload.extend(compress(Compression::Gzip, &encode_records(pair)));
    }
    let batch = batch_with_payload(&BatchSpec::new(Compression::Gzip, 4), &payload);
    assert_eq!(read_all(&batch, &DecodeLimits::default()).unwrap().len(), 4);
}

#[test]
fn reader_lends_records_one_at_a_time_and_counts_bytes() {
    let specs: Vec<Spec> = (0..3).map(|i| Spec::new(i, 0)).collect();
    let raw = encode_records(&specs);
    for codec in ALL_CODECS {
        let batch = batch_of(&BatchSpec::new(codec, 3), &raw);
        let header = header_of(&batch);
        let mut reader = RecordReader::new(&batch, &header, &DecodeLimits::default()).unwrap();
        let mut indexes = Vec::new();
        while let Some(record) = reader.next_record().unwrap() {
            indexes.push(record.index);
        }
        assert_eq!(indexes, vec![0, 1, 2]);
        assert!(reader.next_record().unwrap().is_none());
        assert_eq!(reader.records_bytes(), raw.len(), "{codec:?}");
    }
}

#[test]
fn reader_after_an_error_keeps_returning_it() {
    for codec in ALL_CODECS {
        let batch = batch_of(&BatchSpec::new(codec, 3), &encode_records(&[Spec::new(0, 0)]));
        let header = header_of(&batch);
        let mut reader = RecordReader::new(&batch, &header, &DecodeLimits::default()).unwrap();
        assert!(reader.next_record().unwrap().is_some());
        let error = reader.next_record().unwrap_err();
        assert_eq!(error, RecordsError::PrematureEnd { declared: 3, read: 1 });
        assert_eq!(reader.next_record().unwrap_err(), error, "{codec:?}");
    }
}

#[test]
fn log_append_time_batch_reports_the_batch_max_timestamp_for_every_record() {
    let mut batch = batch_of_specs(Compression::None, 1_000, &[Spec::new(0, 0), Spec::new(1, 5)]);
    set_log_append_time(&mut batch, 77_000);
    let seen = read_all(&batch, &DecodeLimits::default()).unwrap();
    assert!(seen.iter().all(|s| s.timestamp == 77_000));
}

#[test]
fn empty_batch_yields_nothing_without_reading_its_payload() {
    let batch =
        batch_with_payload(&BatchSpec { last_offset_delta: 0, ..BatchSpec::new(Compression::Gzip, 0) }, b"junk");
    assert_eq!(read_all(&batch, &DecodeLimits::default()).unwrap(), Vec::new());
}

#[test]
fn for_each_record_stops_at_break_and_returns_its_value() {
    let batch = batch_of_specs(Compression::Zstd, 0, &[Spec::new(0, 0), Spec::new(1, 0), Spec::new(2, 0)]);
    let header = header_of(&batch);
    let mut visited = 0;
    let found = for_each_record(&batch, &header, &DecodeLimits::default(), |record| {
        visited += 1;
        if record.index == 1 {
            ControlFlow::Break("second")
        } else {
            ControlFlow::Continue(())
        }
    });
    assert_eq!(found, Ok(Some("second")));
    assert_eq!(visited, 2);
}

// ---------------------------------------------------------------- malformed records

fn first_error(batch: &[u8]) -> RecordsError {
    read_all(batch, &DecodeLimits::default()).expect_err("batch must be refused")
}

#[test]
fn overlong_record_length_varint_is_invalid_record_in_every_codec() {
    let mut raw = vec![0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    raw.extend(framed(&record_body(&Spec::new(0, 0))));
    for codec in ALL_CODECS {
        let error = first_error(&batch_of(&BatchSpec::new(codec, 1), &raw));
        assert_eq!(error, RecordsError::InvalidRecord { index: 0, defect: RecordDefect::VarintTooLong }, "{codec:?}");
        assert_eq!(error.kafka_error_code(), INVALID_RECORD);
    }
}

#[test]
fn overlong_timestamp_varlong_inside_a_record_is_invalid_record() {
    let mut body = vec![0u8];
    body.extend([0xffu8; 10]);
    body.extend([0, 0, 0, 0]);
    for codec in ALL_CODECS {
        let error = first_error(&batch_of(&BatchSpec::new(codec, 1), &framed(&body)));
        assert_eq!(error, RecordsError::InvalidRecord { index: 0, defect: RecordDefect::VarintTooLong }, "{codec:?}");
    }
}

#[test]
fn record_cut_short_is_invalid_record_in_every_codec() {
    let whole = encode_records(&[Spec::new(0, 0), Spec::new(1, 0)]);
    let cut = &whole[..whole.len() - 2];
    for codec in ALL_CODECS {
        let error = first_error(&batch_of(&BatchSpec::new(codec, 2), cut));
        assert!(
            matches!(error, RecordsError::InvalidRecord { index: 1, defect: RecordDefect::LengthBeyondBatch { .. } }),
            "{codec:?}: {error:?}"
        );
        assert_eq!(error.kafka_error_code(), INVALID_RECORD);
    }
}

#[test]
fn field_running_past_the_record_length_is_invalid_record() {
    let mut spec = Spec::new(0, 0);
    spec.value = Some(vec![1; 10]);
    let mut body = record_body(&spec);
    // Claim a 20-byte value inside a record that holds only 10.
    let value_length_at = body.iter().position(|&b| b == 20).unwrap();
    body[value_length_at] = 40;
    for codec in ALL_CODECS {
        let error = first_error(&batch_of(&BatchSpec::new(codec, 1), &framed(&body)));
        assert_eq!(error, RecordsError::InvalidRecord { index: 0, defect: RecordDefect::FieldOverrun }, "{codec:?}");
    }
}

#[test]
fn record_length_longer_than_its_fields_is_a_length_mismatch() {
    let mut body = record_body(&Spec::new(0, 0));
    body.push(0xAA);
    let error = first_error(&batch_of(&BatchSpec::new(Compression::None, 1), &framed(&body)));
    assert!(
        matches!(error, RecordsError::InvalidRecord { defect: RecordDefect::LengthMismatch { .. }, .. }),
        "{error:?}"
    );
}

#[test]
fn negative_record_length_and_header_fields_are_invalid_records() {
    let mut negative_length = Vec::new();
    put_varint(&mut negative_length, -5);
    assert_eq!(
        first_error(&batch_of(&BatchSpec::new(Compression::Lz4, 1), &negative_length)),
        RecordsError::InvalidRecord { index: 0, defect: RecordDefect::NegativeLength(-5) }
    );

    let mut body = vec![0, 0, 0, 1, 1]; // attributes, ts, offset, null key, null value (-1 = 1)
    put_varint(&mut body, -2);
    let error = first_error(&batch_of(&BatchSpec::new(Compression::None, 1), &framed(&body)));
    assert_eq!(error, RecordsError::InvalidRecord { index: 0, defect: RecordDefect::NegativeHeaderCount(-2) });

    let mut body = vec![0, 0, 0, 1, 1];
    put_varint(&mut body, 1);
    put_varint(&mut body, -3);
    body.push(1);
    let error = first_error(&batch_of(&BatchSpec::new(Compression::Gzip, 1), &framed(&body)));
    assert_eq!(error, RecordsError::InvalidRecord { index: 0, defect: RecordDefect::NegativeHeaderKeyLength(-3) });

    let mut body = vec![0, 0, 0, 1, 1];
    put_varint(&mut body, 1_000);
    let error = first_error(&batch_of(&BatchSpec::new(Compression::None, 1), &framed(&body)));
    assert!(matches!(error, RecordsError::InvalidRecord { defect: RecordDefect::HeaderCountExceedsBody { .. }, .. }));
}

#[test]
fn any_negative_key_or_value_length_reads_as_null_as_in_kafka() {
    let mut body = vec![0, 0, 0];
    put_varint(&mut body, -7);
    put_varint(&mut body, -1);
    put_varint(&mut body, 0);
    let seen = read_all(&batch_of(&BatchSpec::new(Compression::None, 1), &framed(&body)), &DecodeLimits::default());
    let seen = seen.unwrap();
    assert_eq!((seen[0].key.clone(), seen[0].value.clone()), (None, None));
}

#[test]
fn fewer_records_than_declared_is_premature_end_in_every_codec() {
    let raw = encode_records(&[Spec::new(0, 0), Spec::new(1, 0)]);
    for codec in ALL_CODECS {
        let error = first_error(&batch_of(&BatchSpec::new(codec, 3), &raw));
        assert_eq!(error, RecordsError::PrematureEnd { declared: 3, read: 2 }, "{codec:?}");
        assert_eq!(error.kafka_error_code(), INVALID_RECORD);
    }
}

#[test]
fn more_records_than_declared_is_trailing_bytes_in_every_codec() {
    let raw = encode_records(&[Spec::new(0, 0), Spec::new(1, 0)]);
    for codec in ALL_CODECS {
        let error = first_error(&batch_of(&BatchSpec::new(codec, 1), &raw));
        assert_eq!(error, RecordsError::TrailingBytes { declared: 1 }, "{codec:?}");
        assert_eq!(error.kafka_error_code(), INVALID_RECORD);
    }
}

#[test]
fn garbage_after_the_last_record_is_trailing_bytes_in_every_codec() {
    let mut raw = encode_records(&[Spec::new(0, 0)]);
    raw.extend([0xde, 0xad, 0xbe]);
    for codec in ALL_CODECS {
        let error = first_error(&batch_of(&BatchSpec::new(codec, 1), &raw));
        assert_eq!(error, RecordsError::TrailingBytes { declared: 1 }, "{codec:?}");
    }
}

#[test]
fn truncated_compressed_payloads_are_refused_in_every_codec() {
    let specs: Vec<Spec> = (0..20).map(|i| Spec::new(i, 0)).collect();
    let raw = encode_records(&specs);
    for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
        let payload = compress(codec, &raw);
        for cut in [1, 4, payload.len() / 2] {
            let batch = batch_with_payload(&BatchSpec::new(codec, 20), &payload[..payload.len() - cut]);
            let error = first_error(&batch);
            assert!(
                matches!(
                    error,
                    RecordsError::TruncatedCompressedRecords { .. }
                        | RecordsError::PrematureEnd { .. }
                        | RecordsError::InvalidRecord { defect: RecordDefect::LengthBeyondBatch { .. }, .. }
                ),
                "{codec:?} cut {cut}: {error:?}"
            );
            assert_eq!(error.kafka_error_code(), INVALID_RECORD);
        }
    }
}

#[test]
fn lz4_frame_without_its_end_mark_is_refused_even_after_the_last_record() {
    let raw = encode_records(&[Spec::new(0, 0)]);
    let payload = compress(Compression::Lz4, &raw);
    // The last four bytes are the end mark, or the content checksum that follows it.
    let batch = batch_with_payload(&BatchSpec::new(Compression::Lz4, 1), &payload[..payload.len() - 4]);
    assert!(matches!(first_error(&batch), RecordsError::TruncatedCompressedRecords { codec: Compression::Lz4 }));
}

#[test]
fn garbage_payload_is_a_decompression_error_in_every_codec() {
    for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
        let batch = batch_with_payload(
            &BatchSpec::new(codec, 1),
            b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01not a codec stream",
        );
        let error = first_error(&batch);
        // For snappy the bytes are a valid xerial header whose first block claims more
        // bytes than follow: a stream cut short rather than garbage.
        let truncated_snappy = codec == Compression::Snappy && matches!(error, RecordsError::TruncatedCompressedRecords { .. });
        assert!(matches!(error, RecordsError::Decompression { .. }) || truncated_snappy, "{codec:?}: {error:?}");
    }
}

#[test]
fn unknown_codec_is_refused_by_the_reader() {
    let batch = batch_of(&BatchSpec::new(Compression::None, 1), &encode_records(&[Spec::new(0, 0)]));
    let mut header = header_of(&batch);
    header.attributes |= 0x05;
    let error = RecordReader::new(&batch, &header, &DecodeLimits::default()).err();
    assert_eq!(error, Some(RecordsError::UnknownCompression(5)));
}

#[test]
fn batch_shorter_than_its_header_is_corrupt_message_not_a_panic() {
    let batch = batch_of(&BatchSpec::new(Compression::None, 1), &encode_records(&[Spec::new(0, 0)]));
    let header = header_of(&batch);
    let error = RecordReader::new(&batch[..20], &header, &DecodeLimits::default()).err().unwrap();
    assert_eq!(error, RecordsError::InvalidBatch(BatchDefect::TooShort(20)));
    assert_eq!(error.kafka_error_code(), CORRUPT_MESSAGE);
}

// ---------------------------------------------------------------- limits

#[test]
fn record_above_max_record_bytes_is_message_too_large() {
    let mut spec = Spec::new(0, 0);
    spec.value = Some(vec![0; 5_000]);
    let limits = DecodeLimits { max_record_bytes: 4_096, ..DecodeLimits::default() };
    for codec in ALL_CODECS {
        let batch = batch_of_specs(codec, 0, &[spec.clone()]);
        let error = read_all(&batch, &limits).unwrap_err();
        assert!(matches!(error, RecordsError::RecordTooLarge { index: 0, limit_bytes: 4_096, .. }), "{codec:?}");
        assert_eq!(error.kafka_error_code(), MESSAGE_TOO_LARGE);
    }
}

#[test]
fn record_with_more_headers_than_the_limit_is_refused() {
    let mut spec = Spec::new(0, 0);
    spec.headers = (0..5).map(|i| (vec![b'h', i], None)).collect();
    let limits = DecodeLimits { max_header_count: 4, ..DecodeLimits::default() };
    let error = read_all(&batch_of_specs(Compression::Snappy, 0, &[spec]), &limits).unwrap_err();
    assert_eq!(error, RecordsError::TooManyHeaders { index: 0, count: 5, limit: 4 });
    assert_eq!(error.kafka_error_code(), INVALID_RECORD);
}

#[test]
fn decompressed_size_limit_applies_to_every_codec() {
    let specs: Vec<Spec> = (0..100).map(|i| Spec { value: Some(vec![0; 1_000]), ..Spec::new(i, 0) }).collect();
    let raw = encode_records(&specs);
    let limits = DecodeLimits { max_decompressed_bytes: 50_000, ..DecodeLimits::default() };
    for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
        let error = read_all(&batch_of(&BatchSpec::new(codec, 100), &raw), &limits).unwrap_err();
        assert_eq!(error, RecordsError::DecompressedTooLarge { limit_bytes: 50_000 }, "{codec:?}");
        assert_eq!(error.kafka_error_code(), MESSAGE_TOO_LARGE);
        // Exactly at the limit is fine.
        let exact = DecodeLimits { max_decompressed_bytes: raw.len(), ..DecodeLimits::default() };
        assert_eq!(read_all(&batch_of(&BatchSpec::new(codec, 100), &raw), &exact).unwrap().len(), 100, "{codec:?}");
    }
}

#[test]
fn record_length_claiming_2_gib_allocates_nothing() {
    let mut raw = Vec::new();
    put_varint(&mut raw, i64::from(i32::MAX));
    raw.extend([0u8; 32]);
    for codec in ALL_CODECS {
        let batch = batch_of(&BatchSpec::new(codec, 1), &raw);
        let header = header_of(&batch);
        let limits = DecodeLimits::default();
        let (error, peak_bytes) = peak_heap_growth(|| read_all_with(&batch, &header, &limits));
        let error = error.unwrap_err();
        match codec {
            Compression::None => assert!(
                matches!(error, RecordsError::InvalidRecord { defect: RecordDefect::LengthBeyondBatch { .. }, .. }),
                "{error:?}"
            ),
            _ => assert!(matches!(error, RecordsError::RecordTooLarge { .. }), "{codec:?}: {error:?}"),
        }
        assert!(peak_bytes < 1 << 20, "{codec:?} held {peak_bytes} bytes");
    }
    // With the record limit lifted, the claim is still only paid for as bytes arrive.
    let lifted = DecodeLimits { max_record_bytes: usize::MAX, ..DecodeLimits::default() };
    let batch = batch_of(&BatchSpec::new(Compression::Gzip, 1), &raw);
    let header = header_of(&batch);
    let (error, peak_bytes) = peak_heap_growth(|| read_all_with(&batch, &header, &lifted));
    assert!(matches!(error, Err(RecordsError::InvalidRecord { defect: RecordDefect::LengthBeyondBatch { .. }, .. })));
    assert!(peak_bytes < 1 << 20, "held {peak_bytes} bytes");
}

fn read_all_with(batch: &[u8], header: &BatchHeader, limits: &DecodeLimits) -> Result<usize, RecordsError> {
    let mut count = 0;
    for_each_record(batch, header, limits, |_| {
        count += 1;
        ControlFlow::<()>::Continue(())
    })?;
    Ok(count)
}

/// `count` copies of a gzip member (or zstd frame), which decoders read back to back.
fn repeated(member: &[u8], count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(member.len() * count);
    for _ in 0..count {
        out.extend_from_slice(member);
    }
    out
}

const MIB: usize = 1 << 20;
const BOMB_MEMBERS: usize = 1024;

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(raw).unwrap();
    encoder.finish().unwrap()
}

/// About 1 MiB of valid records with zero-filled 1000-byte values.
fn bomb_chunk() -> Vec<u8> {
    let spec = Spec { key: None, value: Some(vec![0; 1_000]), ..Spec::new(0, 0) };
    let record = framed(&record_body(&spec));
    repeated(&record, MIB / record.len())
}

fn bomb_spec(codec: Compression) -> BatchSpec {
    BatchSpec::new(codec, i32::MAX)
}

#[test]
fn gzip_bomb_of_1_gib_zeros_fails_fast_in_bounded_memory() {
    let payload = repeated(&gzip(&vec![0u8; MIB]), BOMB_MEMBERS);
    assert!(payload.len() < 4 * MIB, "bomb is {} bytes", payload.len());
    let batch = batch_with_payload(&bomb_spec(Compression::Gzip), &payload);
    let header = header_of(&batch);
    let limits = DecodeLimits::default();
    let (result, peak_bytes) = peak_heap_growth(|| read_all_with(&batch, &header, &limits));
    // A zero length makes an empty record: the very first one is malformed.
    assert_eq!(result, Err(RecordsError::InvalidRecord { index: 0, defect: RecordDefect::FieldOverrun }));
    assert!(peak_bytes < MIB, "held {peak_bytes} bytes");
}

#[test]
fn gzip_bomb_of_1_gib_valid_records_stops_at_the_default_limit_in_bounded_memory() {
    let payload = repeated(&gzip(&bomb_chunk()), BOMB_MEMBERS);
    assert!(payload.len() < 16 * MIB, "bomb is {} bytes", payload.len());
    let batch = batch_with_payload(&bomb_spec(Compression::Gzip), &payload);
    let header = header_of(&batch);
    let limits = DecodeLimits::default();
    let (result, peak_bytes) = peak_heap_growth(|| read_all_with(&batch, &header, &limits));
    assert_eq!(result, Err(RecordsError::DecompressedTooLarge { limit_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES }));
    assert!(peak_bytes < MIB, "held {peak_bytes} bytes");
}

#[test]
fn zstd_bomb_of_1_gib_valid_records_stops_at_the_limit_in_bounded_memory() {
    let frame = zstd::encode_all(&bomb_chunk()[..], 3).unwrap();
    let payload = repeated(&frame, BOMB_MEMBERS);
    let batch = batch_with_payload(&bomb_spec(Compression::Zstd), &payload);
    let header = header_of(&batch);
    let limits = DecodeLimits { max_decompressed_bytes: 16 * MIB, ..DecodeLimits::default() };
    let (result, peak_bytes) = peak_heap_growth(|| read_all_with(&batch, &header, &limits));
    assert_eq!(result, Err(RecordsError::DecompressedTooLarge { limit_bytes: 16 * MIB }));
    assert!(peak_bytes < MIB, "held {peak_bytes} bytes");
}

#[test]
fn validating_a_bomb_stops_at_the_limit_with_capped_record_errors() {
    let payload = repeated(&gzip(&bomb_chunk()), 64);
    let batch = batch_with_payload(&bomb_spec(Compression::Gzip), &payload);
    let header = header_of(&batch);
    let limits = DecodeLimits { max_decompressed_bytes: 8 * MIB, ..DecodeLimits::default() };
    let (result, peak_bytes) = peak_heap_growth(|| validate_records(&batch, &header, &limits, &rules()));
    assert_eq!(result, Err(RecordsError::DecompressedTooLarge { limit_bytes: 8 * MIB }));
    assert!(peak_bytes < MIB, "held {peak_bytes} bytes");
}

#[test]
fn lz4_bomb_stops_at_the_limit() {
    let payload = compress(Compression::Lz4, &repeated(&bomb_chunk(), 32));
    let batch = batch_with_payload(&bomb_spec(Compression::Lz4), &payload);
    let limits = DecodeLimits { max_decompressed_bytes: 4 * MIB, ..DecodeLimits::default() };
    let header = header_of(&batch);
    let (result, peak_bytes) = peak_heap_growth(|| read_all_with(&batch, &header, &limits));
    assert_eq!(result, Err(RecordsError::DecompressedTooLarge { limit_bytes: 4 * MIB }));
    assert!(peak_bytes < MIB, "held {peak_bytes} bytes");
}

#[test]
fn snappy_block_declaring_1_gib_is_refused_before_allocating() {
    // A raw snappy block is a varint length then ops; declare 1 GiB, supply a few bytes.
    let mut block = Vec::new();
    let mut declared = 1usize << 30;
    while declared >= 0x80 {
        block.push((declared as u8) | 0x80);
        declared >>= 7;
    }
    block.push(declared as u8);
    block.extend([0u8; 8]);

    let mut xerial = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
    xerial.extend((block.len() as u32).to_be_bytes());
    xerial.extend(&block);
    for payload in [block.clone(), xerial] {
        let batch = batch_with_payload(&BatchSpec::new(Compression::Snappy, 1), &payload);
        let header = header_of(&batch);
        let limits = DecodeLimits::default();
        let (result, peak_bytes) = peak_heap_growth(|| read_all_with(&batch, &header, &limits));
        assert!(matches!(result, Err(RecordsError::Decompression { codec: Compression::Snappy, .. })), "{result:?}");
        assert!(peak_bytes < MIB, "held {peak_bytes} bytes");
    }

    // A plausible claim above the budget is a size error, still unallocated.
    let mut state = 0x2545_f491_u32;
    let noise: Vec<u8> = (0..100_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    let raw = encode_records(&[Spec { value: Some(noise), ..Spec::new(0, 0) }]);
    let payload = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
    let batch = batch_with_payload(&BatchSpec::new(Compression::Snappy, 1), &payload);
    let header = header_of(&batch);
    let limits = DecodeLimits { max_decompressed_bytes: 10_000, ..DecodeLimits::default() };
    let (result, peak_bytes) = peak_heap_growth(|| read_all_with(&batch, &header, &limits));
    assert_eq!(result, Err(RecordsError::DecompressedTooLarge { limit_bytes: 10_000 }));
    assert!(peak_bytes < 50_000, "held {peak_bytes} bytes");
}

#[test]
fn zstd_frame_requiring_a_window_above_the_limit_is_refused() {
    let raw = encode_records(&[Spec::new(0, 0)]);
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    encoder.window_log(DEFAULT_ZSTD_WINDOW_LOG_MAX + 1).unwrap();
    encoder.include_contentsize(false).unwrap();
    encoder.write_all(&raw).unwrap();
    let payload = encoder.finish().unwrap();
    let batch = batch_with_payload(&BatchSpec::new(Compression::Zstd, 1), &payload);
    let error = read_all(&batch, &DecodeLimits::default()).unwrap_err();
    assert!(matches!(error, RecordsError::Decompression { codec: Compression::Zstd, .. }), "{error:?}");
    let roomy = DecodeLimits { zstd_window_log_max: DEFAULT_ZSTD_WINDOW_LOG_MAX + 1, ..DecodeLimits::default() };
    assert_eq!(read_all(&batch, &roomy).unwrap().len(), 1);
}

#[test]
fn default_limits_follow_kafka_message_max_bytes() {
    let limits = DecodeLimits::default();
    assert_eq!(limits, DecodeLimits::for_message_max_bytes(DEFAULT_MESSAGE_MAX_BYTES));
    assert_eq!(limits.max_decompressed_bytes, 1_048_588 * 64);
    assert_eq!(limits.max_record_bytes, 1_048_588 * 16);
    assert_eq!(DecodeLimits::for_message_max_bytes(usize::MAX).max_decompressed_bytes, usize::MAX);
}

// ---------------------------------------------------------------- validation

#[test]
fn valid_batch_in_every_codec_is_summarised_with_its_first_max_timestamp() {
    let specs = [Spec::new(0, 5), Spec::new(1, 9), Spec::new(2, 3), Spec::new(3, 9)];
    for codec in ALL_CODECS {
        let batch = batch_of_specs(codec, 1_000, &specs);
        let summary = validate(&batch, &rules()).unwrap();
        assert_eq!(summary.records_count, 4);
        assert_eq!(summary.max_timestamp, 1_009);
        assert_eq!(summary.max_timestamp_offset_delta, 1, "{codec:?}");
        assert_eq!(summary.records_bytes, encode_records(&specs).len());
        assert!(summary.max_timestamp_matches(&header_of(&batch)));
    }
}

#[test]
fn kafka_protocol_batches_validate() {
    let records: Vec<_> = (0..10).map(|i| kafka_record(i, 900 + i, Some(b"k"), Some(b"v"), &[("h", None)])).collect();
    for codec in ALL_CODECS {
        let batch = kafka_batch(&records, codec);
        let summary = validate(&batch, &rules()).unwrap();
        assert_eq!((summary.max_timestamp, summary.max_timestamp_offset_delta), (909, 9));
    }
}

#[test]
fn header_max_timestamp_disagreeing_with_records_is_reported_not_refused() {
    let mut spec = BatchSpec::new(Compression::None, 2);
    spec.max_timestamp = 5;
    let batch = batch_of(&spec, &encode_records(&[Spec::new(0, 0), Spec::new(1, 7)]));
    let summary = validate(&batch, &rules()).unwrap();
    assert_eq!(summary.max_timestamp, 1_007);
    assert!(!summary.max_timestamp_matches(&header_of(&batch)));
}

#[test]
fn client_batch_checks_follow_kafka_validate_batch() {
    let raw = encode_records(&[Spec::new(0, 0)]);
    let cases = [
        (
            BatchSpec { records_count: 0, last_offset_delta: 0, ..BatchSpec::new(Compression::None, 1) },
            BatchDefect::NonPositiveCount(0),
        ),
        (
            BatchSpec { last_offset_delta: 2, ..BatchSpec::new(Compression::None, 1) },
            BatchDefect::InconsistentCount { last_offset_delta: 2, records_count: 1 },
        ),
        (
            BatchSpec { extra_attributes: 0x20, ..BatchSpec::new(Compression::None, 1) },
            BatchDefect::ControlBatchFromClient,
        ),
        (
            BatchSpec { producer_id: 7, base_sequence: -1, ..BatchSpec::new(Compression::None, 1) },
            BatchDefect::MissingSequence { producer_id: 7, base_sequence: -1 },
        ),
    ];
    for (spec, defect) in cases {
        let batch = batch_of(&spec, &raw);
        let header = BatchHeader::parse(&batch).unwrap();
        let error = validate_records(&batch, &header, &DecodeLimits::default(), &rules()).unwrap_err();
        assert_eq!(error, RecordsError::InvalidBatch(defect));
        assert_eq!(error.kafka_error_code(), INVALID_RECORD);
    }
    // The coordinator may write control batches.
    let control = batch_of(&BatchSpec { extra_attributes: 0x20, ..BatchSpec::new(Compression::None, 1) }, &raw);
    let coordinator = RecordRules { origin: AppendOrigin::Coordinator, ..rules() };
    assert!(validate(&control, &coordinator).is_ok());
}

#[test]
fn compacted_topic_refuses_keyless_records_with_per_record_errors() {
    let specs = [Spec::new(0, 0), Spec { key: None, ..Spec::new(1, 0) }, Spec { key: None, ..Spec::new(2, 0) }];
    let compacted = RecordRules { compacted: true, ..rules() };
    for codec in ALL_CODECS {
        let batch = batch_of_specs(codec, 1_000, &specs);
        let error = validate(&batch, &compacted).unwrap_err();
        assert_eq!(error.kafka_error_code(), INVALID_RECORD);
        let indexes: Vec<i32> = error.record_errors().iter().map(|e| e.batch_index).collect();
        assert_eq!(indexes, vec![1, 2], "{codec:?}");
        assert_eq!(error.record_errors()[0].message, "Compacted topic cannot accept message without key");
        assert!(error.to_string().contains("due to 2 record errors in total"), "{error}");
        assert!(validate(&batch, &rules()).is_ok());
    }
}

#[test]
fn create_time_outside_the_configured_window_is_invalid_timestamp() {
    let now = 1_000_000;
    let strict = RecordRules { timestamp_before_max_ms: 1_000, timestamp_after_max_ms: 500, ..RecordRules::new(now) };
    let specs = [
        Spec::new(0, 0),
        Spec::new(1, 998_999 - 1_000),
        Spec::new(2, 1_000_501 - 1_000),
        Spec::new(3, 1_000_500 - 1_000),
    ];
    let batch = batch_of_specs(Compression::Gzip, 1_000, &specs);
    let error = validate(&batch, &strict).unwrap_err();
    assert_eq!(error.kafka_error_code(), INVALID_TIMESTAMP);
    let indexes: Vec<i32> = error.record_errors().iter().map(|e| e.batch_index).collect();
    // 1_000 and 998_999 are too old, 1_000_501 too new; 1_000_500 is exactly on the bound.
    assert_eq!(indexes, vec![0, 1, 2]);
    assert!(error.record_errors().iter().all(|e| e.error_code == INVALID_TIMESTAMP));
    assert_eq!(error.to_string(), "One or more records have been rejected due to invalid timestamp");
}

#[test]
fn one_timestamp_error_makes_the_whole_batch_invalid_timestamp() {
    let rules = RecordRules { compacted: true, timestamp_after_max_ms: 0, ..RecordRules::new(1_000) };
    let specs = [Spec { key: None, ..Spec::new(0, 0) }, Spec::new(1, 10)];
    let error = validate(&batch_of_specs(Compression::None, 1_000, &specs), &rules).unwrap_err();
    assert_eq!(error.kafka_error_code(), INVALID_TIMESTAMP);
    let codes: Vec<i16> = error.record_errors().iter().map(|e| e.error_code).collect();
    assert_eq!(codes, vec![INVALID_RECORD, INVALID_TIMESTAMP]);
}

#[test]
fn kafka_4_default_rules_allow_old_timestamps_but_not_more_than_an_hour_ahead() {
    let now = 10_000_000_000;
    let ahead = batch_of_specs(Compression::None, now + 3_600_001, &[Spec::new(0, 0)]);
    assert_eq!(validate(&ahead, &RecordRules::new(now)).unwrap_err().kafka_error_code(), INVALID_TIMESTAMP);
    let ancient = batch_of_specs(Compression::None, 0, &[Spec::new(0, 0)]);
    assert!(validate(&ancient, &RecordRules::new(now)).is_ok());
}

#[test]
fn records_without_timestamp_skip_the_range_check() {
    let batch = batch_of_specs(Compression::None, -1, &[Spec::new(0, 0)]);
    let summary = validate(&batch, &RecordRules::new(1_000_000_000_000)).unwrap();
    assert_eq!((summary.max_timestamp, summary.max_timestamp_offset_delta), (NO_TIMESTAMP, -1));
}

#[test]
fn producer_setting_log_append_time_is_judged_as_kafka_judges_it() {
    let mut batch = batch_of_specs(Compression::None, 1_000, &[Spec::new(0, 0)]);
    set_log_append_time(&mut batch, 1_000);
    // CreateTime topic: the record's timestamp is the batch max, which is in range.
    assert!(validate(&batch, &rules()).is_ok());
    // LogAppendTime topic: a producer may not claim the broker's timestamp.
    let append_time = RecordRules { timestamp_type: TimestampType::LogAppend, ..rules() };
    let error = validate(&batch, &append_time).unwrap_err();
    assert_eq!(error.kafka_error_code(), INVALID_TIMESTAMP);
    // CreateTime topic with no usable batch max: refused too.
    set_log_append_time(&mut batch, NO_TIMESTAMP);
    assert_eq!(validate(&batch, &rules()).unwrap_err().kafka_error_code(), INVALID_TIMESTAMP);
}

#[test]
fn log_append_time_topic_skips_create_time_checks() {
    let batch = batch_of_specs(Compression::None, 0, &[Spec::new(0, 0)]);
    let append_time = RecordRules { timestamp_type: TimestampType::LogAppend, ..RecordRules::new(i64::MAX / 2) };
    assert!(validate(&batch, &append_time).is_ok());
}

#[test]
fn offset_deltas_out_of_sequence_are_refused() {
    for codec in ALL_CODECS {
        let batch = batch_of_specs(codec, 1_000, &[Spec::new(0, 0), Spec::new(5, 0), Spec::new(2, 0)]);
        let error = validate(&batch, &rules()).unwrap_err();
        assert_eq!(error.kafka_error_code(), INVALID_RECORD);
        let indexes: Vec<i32> = error.record_errors().iter().map(|e| e.batch_index).collect();
        assert_eq!(indexes, vec![1], "{codec:?}");
    }
}

#[test]
fn record_errors_are_capped_but_counted() {
    let count = MAX_REPORTED_RECORD_ERRORS + 500;
    let specs: Vec<Spec> = (0..count as i32).map(|i| Spec { key: None, ..Spec::new(i, 0) }).collect();
    let batch = batch_of_specs(Compression::Zstd, 1_000, &specs);
    match validate(&batch, &RecordRules { compacted: true, ..rules() }).unwrap_err() {
        RecordsError::Rejected { errors, total, timestamp } => {
            assert_eq!(errors.len(), MAX_REPORTED_RECORD_ERRORS);
            assert_eq!(total, count);
            assert!(!timestamp);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn structural_error_wins_over_collected_record_errors() {
    let mut raw = encode_records(&[Spec { key: None, ..Spec::new(0, 0) }]);
    raw.push(0xff);
    let batch = batch_of(&BatchSpec::new(Compression::None, 1), &raw);
    let error = validate(&batch, &RecordRules { compacted: true, ..rules() }).unwrap_err();
    assert_eq!(error, RecordsError::TrailingBytes { declared: 1 });
    assert!(error.record_errors().is_empty());
}

// ---------------------------------------------------------------- timestamp look-ups

#[test]
fn find_offset_for_timestamp_returns_the_first_record_at_or_after_the_target() {
    let specs = [Spec::new(0, 10), Spec::new(1, 30), Spec::new(2, 20), Spec::new(3, 30)];
    for codec in ALL_CODECS {
        let mut spec = BatchSpec::new(codec, 4);
        spec.base_offset = 100;
        spec.base_timestamp = 1_000;
        spec.max_timestamp = 1_030;
        let batch = batch_of(&spec, &encode_records(&specs));
        let header = header_of(&batch);
        let limits = DecodeLimits::default();
        let find = |target| find_offset_for_timestamp(&batch, &header, &limits, target).unwrap();
        assert_eq!(find(0), Some((100, 1_010)), "{codec:?}");
        assert_eq!(find(1_011), Some((101, 1_030)));
        assert_eq!(find(1_030), Some((101, 1_030)));
        assert_eq!(find(1_031), None);
        let from = find_offset_for_timestamp_from(&batch, &header, &limits, 1_015, 102).unwrap();
        assert_eq!(from, Some((102, 1_020)));
    }
}

#[test]
fn max_timestamp_record_is_the_first_of_the_largest() {
    let specs = [Spec::new(0, 10), Spec::new(1, 30), Spec::new(2, 20), Spec::new(3, 30)];
    for codec in ALL_CODECS {
        let mut spec = BatchSpec::new(codec, 4);
        spec.base_offset = 100;
        let batch = batch_of(&spec, &encode_records(&specs));
        let found = max_timestamp_record(&batch, &header_of(&batch), &DecodeLimits::default()).unwrap();
        assert_eq!(found, Some((101, 1_030)), "{codec:?}");
    }
    let empty = batch_with_payload(&BatchSpec { last_offset_delta: 0, ..BatchSpec::new(Compression::None, 0) }, &[]);
    assert_eq!(max_timestamp_record(&empty, &header_of(&empty), &DecodeLimits::default()), Ok(None));
}

#[test]
fn timestamp_look_ups_on_log_append_time_batches_use_the_batch_time() {
    let mut batch = batch_of_specs(Compression::Lz4, 1_000, &[Spec::new(0, 0), Spec::new(1, 9)]);
    set_log_append_time(&mut batch, 5_000);
    let header = header_of(&batch);
    let limits = DecodeLimits::default();
    assert_eq!(max_timestamp_record(&batch, &header, &limits), Ok(Some((0, 5_000))));
    assert_eq!(find_offset_for_timestamp(&batch, &header, &limits, 4_000), Ok(Some((0, 5_000))));
    assert_eq!(find_offset_for_timestamp(&batch, &header, &limits, 5_001), Ok(None));
}

#[test]
fn timestamp_look_ups_report_malformed_batches() {
    let raw = encode_records(&[Spec::new(0, 0)]);
    let batch = batch_of(&BatchSpec::new(Compression::Snappy, 2), &raw);
    let header = header_of(&batch);
    let limits = DecodeLimits::default();
    assert_eq!(
        max_timestamp_record(&batch, &header, &limits),
        Err(RecordsError::PrematureEnd { declared: 2, read: 1 })
    );
    assert_eq!(
        find_offset_for_timestamp(&batch, &header, &limits, i64::MAX),
        Err(RecordsError::PrematureEnd { declared: 2, read: 1 })
    );
}

// ---------------------------------------------------------------- properties

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn codec() -> impl Strategy<Value = Compression> {
        proptest::sample::select(ALL_CODECS.to_vec())
    }

    fn exercise(batch: &[u8], header: &BatchHeader) {
        let limits =
            DecodeLimits { max_decompressed_bytes: 1 << 16, max_record_bytes: 1 << 14, ..DecodeLimits::default() };
        let _ = read_all_with(batch, header, &limits);
        let _ = validate_records(batch, header, &limits, &RecordRules { compacted: true, ..RecordRules::new(0) });
        let _ = find_offset_for_timestamp(batch, header, &limits, 0);
        let _ = max_timestamp_record(batch, header, &limits);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn reading_never_panics_on_arbitrary_records_bytes(
            codec in codec(),
            records_count in -2i32..40,
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
            compress_first in any::<bool>(),
        ) {
            // Raw bytes exercise the decoders; compressed ones reach the record parser.
            let payload = if compress_first { compress(codec, &bytes) } else { bytes };
            let spec = BatchSpec { last_offset_delta: records_count.max(1) - 1, ..BatchSpec::new(codec, records_count) };
            let batch = batch_with_payload(&spec, &payload);
            let header = BatchHeader::parse(&batch).unwrap();
            exercise(&batch, &header);
        }

        #[test]
        fn reading_never_panics_on_mutated_valid_batches(
            codec in codec(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        ) {
            let specs: Vec<Spec> = (0..6).map(|i| Spec { headers: vec![(b"h".to_vec(), None)], ..Spec::new(i, i64::from(i)) }).collect();
            let mut raw = encode_records(&specs);
            for (at, value) in flips {
                let at = at % raw.len();
                raw[at] = value;
            }
            let batch = batch_of(&BatchSpec::new(codec, 6), &raw);
            let header = BatchHeader::parse(&batch).unwrap();
            exercise(&batch, &header);
        }

        #[test]
        fn any_records_round_trip_through_kafka_protocol_in_any_codec(
            codec in codec(),
            records in proptest::collection::vec(
                (
                    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
                    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
                    proptest::collection::vec(("[a-z]{1,6}", proptest::option::of(proptest::collection::vec(any::<u8>(), 0..10))), 0..4),
                    -1_000i64..1_000,
                ),
                1..20,
            ),
        ) {
            let encoded: Vec<_> = records
                .iter()
                .enumerate()
                .map(|(i, (key, value, headers, delta))| {
                    let headers: Vec<(&str, Option<&[u8]>)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
                    kafka_record(50 + i as i64, 1_000_000 + delta, key.as_deref(), value.as_deref(), &headers)
                })
                .collect();
            let batch = kafka_batch(&encoded, codec);
            let seen = read_all(&batch, &DecodeLimits::default()).unwrap();
            prop_assert_eq!(seen.len(), encoded.len());
            for (seen, sent) in seen.iter().zip(&encoded) {
                prop_assert_eq!(seen.offset, sent.offset);
                prop_assert_eq!(seen.timestamp, sent.timestamp);
                prop_assert_eq!(seen.key.as_deref(), sent.key.as_deref());
                prop_assert_eq!(seen.value.as_deref(), sent.value.as_deref());
                let sent_headers: Vec<(Vec<u8>, Option<Vec<u8>>)> =
                    sent.headers.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.as_ref().map(|v| v.to_vec()))).collect();
                prop_assert_eq!(&seen.headers, &sent_headers);
            }
            let summary = validate_records(&batch, &header_of(&batch), &DecodeLimits::default(), &RecordRules::new(1_000_000)).unwrap();
            let max = encoded.iter().map(|r| r.timestamp).max().unwrap();
            let first = encoded.iter().position(|r| r.timestamp == max).unwrap();
            prop_assert_eq!(summary.max_timestamp, max);
            prop_assert_eq!(summary.max_timestamp_offset_delta as usize, first);
        }
    }
}
