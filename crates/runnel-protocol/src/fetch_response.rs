//! Fetch responses encoded without copying their records.
//!
//! A fetch response is mostly record bytes read from the log. `kafka-protocol` copies them
//! into the output buffer; here everything but the records is written to the buffer and each
//! record set becomes a [`Splice`], to be written from its own `Bytes` with a vectored write.
//! In a profile of a consumer reading at full speed that copy was a fifth of the broker's CPU.
//!
//! Only the shapes Runnel's fetch handler produces take this path (versions 4-12, no tagged
//! fields set, no topic ids); anything else is encoded by `kafka-protocol`, records copied,
//! so the bytes on the wire are always exactly `kafka-protocol`'s (a test compares the two
//! for every version).

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::FetchResponse;
use kafka_protocol::protocol::Encodable;

/// The first version with flexible (compact, tagged) encoding.
const FLEXIBLE_VERSION: i16 = 12;
/// Versions this encoder writes itself; the rest go to `kafka-protocol`.
const SPLICED_VERSIONS: std::ops::RangeInclusive<i16> = 4..=FLEXIBLE_VERSION;
/// Record sets smaller than this are copied: one more iovec costs more than the copy.
pub const SPLICE_BYTES_MIN: usize = 4096;

/// Record bytes that belong at `at` in the encoded buffer, written separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    pub at: usize,
    pub bytes: Bytes,
}

/// Encodes `response` at `version` onto `out`, pushing a [`Splice`] for each record set of
/// at least [`SPLICE_BYTES_MIN`] (positions are offsets in `out`). Returns the bytes spliced.
pub fn encode_spliced(
    out: &mut BytesMut,
    response: &FetchResponse,
    version: i16,
    splices: &mut Vec<Splice>,
) -> Result<usize, String> {
    if !spliceable(response, version) {
        response.encode(out, version).map_err(|e| e.to_string())?;
        return Ok(0);
    }
    let flexible = version >= FLEXIBLE_VERSION;
    let mut spliced_bytes = 0;
    out.put_i32(response.throttle_time_ms);
    if version >= 7 {
        out.put_i16(response.error_code);
        out.put_i32(response.session_id);
    }
    put_array_len(out, response.responses.len(), flexible);
    for topic in &response.responses {
        let name = topic.topic.as_bytes();
        if flexible {
            put_uvarint(out, name.len() as u64 + 1);
        } else {
            out.put_i16(i16::try_from(name.len()).map_err(|_| "topic name longer than 32767 bytes")?);
        }
        out.put_slice(name);
        put_array_len(out, topic.partitions.len(), flexible);
        for partition in &topic.partitions {
            out.put_i32(partition.partition_index);
            out.put_i16(partition.error_code);
            out.put_i64(partition.high_watermark);
            out.put_i64(partition.last_stable_offset);
            if version >= 5 {
                out.put_i64(partition.log_start_offset);
            }
            match &partition.aborted_transactions {
                None => put_null(out, flexible),
                Some(aborted) => {
                    put_array_len(out, aborted.len(), flexible);
                    for transaction in aborted {
                        out.put_i64(transaction.producer_id.0);
                        out.put_i64(transaction.first_offset);
                        put_no_tagged_fields(out, flexible);
                    }
                }
            }
            if version >= 11 {
                out.put_i32(partition.preferred_read_replica.0);
            }
            match &partition.records {
                None => put_null(out, flexible),
                Some(records) => {
                    if flexible {
                        put_uvarint(out, records.len() as u64 + 1);
                    } else {
                        out.put_i32(i32::try_from(records.len()).map_err(|_| "record set over 2 GiB")?);
                    }
                    if records.len() >= SPLICE_BYTES_MIN {
                        splices.push(Splice { at: out.len(), bytes: records.clone() });
                        spliced_bytes += records.len();
                    } else {
                        out.put_slice(records);
                    }
                }
            }
            put_no_tagged_fields(out, flexible);
        }
        put_no_tagged_fields(out, flexible);
    }
    put_no_tagged_fields(out, flexible);
    Ok(spliced_bytes)
}

/// Whether every field set is one this encoder writes (anything else is left to
/// `kafka-protocol`, including the errors it reports for fields a version lacks).
fn spliceable(response: &FetchResponse, version: i16) -> bool {
    SPLICED_VERSIONS.contains(&version)
        && (version >= 7 || (response.error_code == 0 && response.session_id == 0))
        && response.node_endpoints.is_empty()
        && response.unknown_tagged_fields.is_empty()
        && response.responses.iter().all(|topic| topic_spliceable(topic, version))
}

fn topic_spliceable(topic: &FetchableTopicResponse, version: i16) -> bool {
    topic.topic_id.is_nil()
        && topic.unknown_tagged_fields.is_empty()
        && topic.partitions.iter().all(|partition| partition_spliceable(partition, version))
}

fn partition_spliceable(partition: &PartitionData, version: i16) -> bool {
    let defaults = PartitionData::default();
    (version >= 5 || partition.log_start_offset == defaults.log_start_offset)
        && (version >= 11 || partition.preferred_read_replica == defaults.preferred_read_replica)
        && partition.diverging_epoch == defaults.diverging_epoch
        && partition.current_leader == defaults.current_leader
        && partition.snapshot_id == defaults.snapshot_id
        && partition.unknown_tagged_fields.is_empty()
        && partition.aborted_transactions.iter().flatten().all(|t| t.unknown_tagged_fields.is_empty())
}

/// A null nullable array or bytes: length 0 as a compact length, -1 before flexible versions.
fn put_null(out: &mut BytesMut, flexible: bool) {
    if flexible {
        put_uvarint(out, 0);
    } else {
        out.put_i32(-1);
    }
}

/// The empty tagged-field section that ends every flexible struct.
fn put_no_tagged_fields(out: &mut BytesMut, flexible: bool) {
    if flexible {
        put_uvarint(out, 0);
    }
}

fn put_array_len(out: &mut BytesMut, len: usize, flexible: bool) {
    if flexible {
        put_uvarint(out, len as u64 + 1);
    } else {
        out.put_i32(len as i32);
    }
}

/// Kafka's unsigned varint: 7 bits per byte, low bits first, high bit set on all but the last.
fn put_uvarint(out: &mut BytesMut, mut value: u64) {
    while value >= 0x80 {
        out.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    out.put_u8(value as u8);
}

/// The pieces of `out` and its splices in wire order (empty pieces left out): what a
/// vectored write sends.
pub fn wire_parts<'a>(out: &'a [u8], splices: &'a [Splice]) -> Vec<&'a [u8]> {
    let mut parts = Vec::with_capacity(2 * splices.len() + 1);
    let mut from = 0;
    for splice in splices {
        parts.push(&out[from..splice.at]);
        parts.push(&splice.bytes[..]);
        from = splice.at;
    }
    parts.push(&out[from..]);
    parts.retain(|part| !part.is_empty());
    parts
}

/// `out` with every splice inserted where it belongs: what the wire carries.
pub fn flatten(out: &[u8], splices: &[Splice]) -> Vec<u8> {
    wire_parts(out, splices).concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::fetch_response::{AbortedTransaction, EpochEndOffset};
    use kafka_protocol::messages::{BrokerId, ProducerId, TopicName};
    use kafka_protocol::protocol::StrBytes;
    use proptest::prelude::*;

    fn kafka_protocol_bytes(response: &FetchResponse, version: i16) -> Vec<u8> {
        let mut out = BytesMut::new();
        response.encode(&mut out, version).unwrap();
        out.to_vec()
    }

    fn spliced_bytes(response: &FetchResponse, version: i16) -> (Vec<u8>, Vec<Splice>) {
        let mut out = BytesMut::from(&b"prefix"[..]);
        let mut splices = Vec::new();
        let spliced = encode_spliced(&mut out, response, version, &mut splices).unwrap();
        assert_eq!(spliced, splices.iter().map(|s| s.bytes.len()).sum::<usize>());
        let flat = flatten(&out, &splices);
        assert_eq!(&flat[..6], b"prefix");
        (flat[6..].to_vec(), splices)
    }

    fn partition(index: i32, records: Option<Vec<u8>>, version: i16, aborted: Option<usize>) -> PartitionData {
        PartitionData::default()
            .with_partition_index(index)
            .with_error_code(if index % 3 == 0 { 1 } else { 0 })
            .with_high_watermark(i64::from(index) * 1_000_003)
            .with_last_stable_offset(i64::from(index) * 999)
            .with_log_start_offset(if version >= 5 { i64::from(index) } else { -1 })
            .with_preferred_read_replica(BrokerId(if version >= 11 { index % 2 } else { -1 }))
            .with_aborted_transactions(aborted.map(|n| {
                (0..n)
                    .map(|i| AbortedTransaction::default().with_producer_id(ProducerId(i as i64)).with_first_offset(7))
                    .collect()
            }))
            .with_records(records.map(Bytes::from))
    }

    fn response(topics: &[(&str, Vec<PartitionData>)]) -> FetchResponse {
        FetchResponse::default()
            .with_throttle_time_ms(5)
            .with_responses(
                topics
                    .iter()
                    .map(|(name, partitions)| {
                        FetchableTopicResponse::default()
                            .with_topic(TopicName(StrBytes::from_string(name.to_string())))
                            .with_partitions(partitions.clone())
                    })
                    .collect(),
            )
    }

    #[test]
    fn spliced_encoding_is_kafka_protocols_for_every_served_version() {
        for version in 4..=12 {
            let big = (0..70_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>();
            let response = response(
                &[
                    ("t", vec![partition(0, Some(big.clone()), version, None), partition(1, Some(vec![1, 2, 3]), version, Some(0))]),
                    ("", vec![]),
                    ("ünïcode-topic", vec![partition(2, None, version, Some(2)), partition(3, Some(Vec::new()), version, None)]),
                    ("many", (0..200).map(|i| partition(i, Some(big[..5000].to_vec()), version, None)).collect()),
                ],
            );
            let (flat, splices) = spliced_bytes(&response, version);
            assert_eq!(flat, kafka_protocol_bytes(&response, version), "version {version}");
            assert_eq!(splices.len(), 201, "version {version}: the large record sets are spliced, small ones copied");
        }
    }

    #[test]
    fn fields_this_encoder_does_not_write_fall_back_to_kafka_protocol() {
        let diverging = PartitionData::default()
            .with_diverging_epoch(EpochEndOffset::default().with_epoch(3).with_end_offset(9))
            .with_records(Some(Bytes::from(vec![0u8; 10_000])));
        let response = response(&[("t", vec![diverging])]);
        let (flat, splices) = spliced_bytes(&response, 12);
        assert!(splices.is_empty());
        assert_eq!(flat, kafka_protocol_bytes(&response, 12));
        // A version the encoder does not write (v13 carries topic ids) goes the same way.
        let response = self::response(&[("t", vec![partition(0, Some(vec![0; 9000]), 13, None)])]);
        let (flat, splices) = spliced_bytes(&response, 13);
        assert!(splices.is_empty());
        assert_eq!(flat, kafka_protocol_bytes(&response, 13));
    }

    proptest! {
        #[test]
        fn spliced_encoding_matches_kafka_protocol_for_any_partition_layout(
            version in 4i16..=12,
            sizes in proptest::collection::vec(proptest::option::of(0usize..20_000), 0..12),
            aborted in proptest::option::of(0usize..3),
        ) {
            let partitions = sizes
                .iter()
                .enumerate()
                .map(|(i, size)| partition(i as i32, size.map(|n| vec![i as u8; n]), version, aborted))
                .collect();
            let response = response(&[("topic", partitions)]);
            let (flat, _) = spliced_bytes(&response, version);
            prop_assert_eq!(flat, kafka_protocol_bytes(&response, version));
        }
    }
}
