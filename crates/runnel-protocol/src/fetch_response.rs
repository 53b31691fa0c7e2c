//! Fetch responses encoded without copying their records.
//!
//! A fetch response is mostly record bytes read from the log. `kafka-protocol` copies them
//! into the output buffer; here everything but the records is written to the buffer and each
//! record set becomes a [`Splice`], to be written from its own `Bytes` with a vectored write.
//! In a profile of a consumer reading at full speed that copy was a fifth of the broker's CPU.
//!
//! A record set may also be left out of the response altogether, as an [`External`]: the
//! encoder writes its length and marks where its bytes go, and the writer supplies them
//! (the broker sends them from the log file with `sendfile`).
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
    pub records: Spliced,
}

/// Where a [`Splice`]'s bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spliced {
    /// In memory: written with a vectored write.
    Bytes(Bytes),
    /// The record set of `externals[index]` given to [`encode_spliced`], `len` bytes the
    /// writer supplies.
    External { index: usize, len: usize },
}

impl Splice {
    pub fn len(&self) -> usize {
        match &self.records {
            Spliced::Bytes(bytes) => bytes.len(),
            Spliced::External { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A partition's record set kept outside the response: `len` bytes, for the partition at
/// `partitions[partition]` of the topic at `responses[topic]`. That partition's own
/// `records` field is not encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct External {
    pub topic: usize,
    pub partition: usize,
    pub len: usize,
}

/// Encodes `response` at `version` onto `out`, pushing a [`Splice`] for each record set of
/// at least [`SPLICE_BYTES_MIN`] and for each of `externals` (in response order; positions
/// are offsets in `out`). Returns the bytes spliced. Externals need a response this encoder
/// writes itself ([`spliceable`]).
pub fn encode_spliced(
    out: &mut BytesMut,
    response: &FetchResponse,
    version: i16,
    externals: &[External],
    splices: &mut Vec<Splice>,
) -> Result<usize, String> {
    if !spliceable(response, version) {
        if !externals.is_empty() {
            return Err(format!("external record sets in a fetch response v{version} this encoder does not write"));
        }
        response.encode(out, version).map_err(|e| e.to_string())?;
        return Ok(0);
    }
    let mut externals = externals.iter().enumerate().peekable();
    let flexible = version >= FLEXIBLE_VERSION;
    let mut spliced_bytes = 0;
    out.put_i32(response.throttle_time_ms);
    if version >= 7 {
        out.put_i16(response.error_code);
        out.put_i32(response.session_id);
    }
    put_array_len(out, response.responses.len(), flexible);
    for (topic_at, topic) in response.responses.iter().enumerate() {
        let name = topic.topic.as_bytes();
        if flexible {
            put_uvarint(out, name.len() as u64 + 1);
        } else {
            out.put_i16(i16::try_from(name.len()).map_err(|_| "topic name longer than 32767 bytes")?);
        }
        out.put_slice(name);
        put_array_len(out, topic.partitions.len(), flexible);
        for (partition_at, partition) in topic.partitions.iter().enumerate() {
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
            let external = externals.next_if(|(_, e)| (e.topic, e.partition) == (topic_at, partition_at));
            match (external, &partition.records) {
                (Some((index, external)), _) => {
                    put_bytes_len(out, external.len, flexible)?;
                    splices.push(Splice { at: out.len(), records: Spliced::External { index, len: external.len } });
                    spliced_bytes += external.len;
                }
                (None, None) => put_null(out, flexible),
                (None, Some(records)) => {
                    put_bytes_len(out, records.len(), flexible)?;
                    if records.len() >= SPLICE_BYTES_MIN {
                        splices.push(Splice { at: out.len(), records: Spliced::Bytes(records.clone()) });
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
    if let Some((_, stray)) = externals.next() {
        return Err(format!("external record set for topic {} partition {} that the response lacks (or out of order)", stray.topic, stray.partition));
    }
    Ok(spliced_bytes)
}

/// Whether every field set is one this encoder writes (anything else is left to
/// `kafka-protocol`, including the errors it reports for fields a version lacks).
pub fn spliceable(response: &FetchResponse, version: i16) -> bool {
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

/// The length of a (non-null) bytes field.
fn put_bytes_len(out: &mut BytesMut, len: usize, flexible: bool) -> Result<(), String> {
    if flexible {
        put_uvarint(out, len as u64 + 1);
    } else {
        out.put_i32(i32::try_from(len).map_err(|_| "record set over 2 GiB")?);
    }
    Ok(())
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

/// One piece of a response on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WirePart<'a> {
    Bytes(&'a [u8]),
    /// The bytes of `externals[index]`, supplied by the writer.
    External(usize),
}

/// The pieces of `out` and its splices in wire order (empty pieces left out): what a
/// vectored write sends, with the external record sets between.
pub fn wire_parts<'a>(out: &'a [u8], splices: &'a [Splice]) -> Vec<WirePart<'a>> {
    let mut parts = Vec::with_capacity(2 * splices.len() + 1);
    let mut from = 0;
    for splice in splices {
        parts.push(WirePart::Bytes(&out[from..splice.at]));
        parts.push(match &splice.records {
            Spliced::Bytes(bytes) => WirePart::Bytes(bytes),
            Spliced::External { index, .. } => WirePart::External(*index),
        });
        from = splice.at;
    }
    parts.push(WirePart::Bytes(&out[from..]));
    parts.retain(|part| !matches!(part, WirePart::Bytes(bytes) if bytes.is_empty()));
    parts
}

/// `out` with every splice inserted where it belongs, `external(index)` giving the bytes of
/// each external record set: what the wire carries.
pub fn flatten<'a>(out: &'a [u8], splices: &'a [Splice], external: impl Fn(usize) -> &'a [u8]) -> Vec<u8> {
    wire_parts(out, splices)
        .into_iter()
        .flat_map(|part| match part {
            WirePart::Bytes(bytes) => bytes,
            WirePart::External(index) => external(index),
        })
        .copied()
        .collect()
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
        let spliced = encode_spliced(&mut out, response, version, &[], &mut splices).unwrap();
        assert_eq!(spliced, splices.iter().map(Splice::len).sum::<usize>());
        let flat = flatten(&out, &splices, |_| unreachable!("no externals"));
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

    /// Encodes `response` with the record sets at `external_at` (topic, partition) left out
    /// as externals, and returns the wire bytes with them supplied from the response.
    fn external_bytes(response: &FetchResponse, version: i16, external_at: &[(usize, usize)]) -> Vec<u8> {
        let externals: Vec<External> = external_at
            .iter()
            .map(|&(topic, partition)| {
                let records = response.responses[topic].partitions[partition].records.as_ref().unwrap();
                External { topic, partition, len: records.len() }
            })
            .collect();
        let mut left_out = response.clone();
        for &(topic, partition) in external_at {
            left_out.responses[topic].partitions[partition].records = Some(Bytes::new());
        }
        let mut out = BytesMut::new();
        let mut splices = Vec::new();
        let spliced = encode_spliced(&mut out, &left_out, version, &externals, &mut splices).unwrap();
        assert_eq!(spliced, splices.iter().map(Splice::len).sum::<usize>());
        let external = |index: usize| {
            let (topic, partition) = external_at[index];
            &response.responses[topic].partitions[partition].records.as_ref().unwrap()[..]
        };
        flatten(&out, &splices, external)
    }

    #[test]
    fn external_record_sets_are_written_where_their_bytes_belong() {
        for version in 4..=12 {
            let big = (0..70_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>();
            let response = response(&[
                ("t", vec![partition(0, Some(big.clone()), version, None), partition(1, Some(vec![1, 2, 3]), version, Some(1))]),
                ("u", vec![partition(2, Some(big[..100].to_vec()), version, None), partition(3, Some(big[..9000].to_vec()), version, None)]),
            ]);
            let expected = kafka_protocol_bytes(&response, version);
            for external_at in [vec![(0, 0)], vec![(0, 1), (1, 1)], vec![(0, 0), (0, 1), (1, 0), (1, 1)]] {
                assert_eq!(external_bytes(&response, version, &external_at), expected, "version {version}, {external_at:?}");
            }
        }
    }

    #[test]
    fn externals_the_encoder_cannot_place_are_errors() {
        let response = response(&[("t", vec![partition(1, Some(vec![0; 10]), 12, None)])]);
        let mut splices = Vec::new();
        let stray = [External { topic: 0, partition: 1, len: 5 }];
        assert!(encode_spliced(&mut BytesMut::new(), &response, 12, &stray, &mut splices).is_err());
        let out_of_order = [External { topic: 0, partition: 0, len: 5 }, External { topic: 0, partition: 0, len: 5 }];
        assert!(encode_spliced(&mut BytesMut::new(), &response, 12, &out_of_order, &mut splices).is_err());
        let present = [External { topic: 0, partition: 0, len: 5 }];
        assert!(encode_spliced(&mut BytesMut::new(), &response, 13, &present, &mut splices).is_err(), "v13 is not written here");
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
