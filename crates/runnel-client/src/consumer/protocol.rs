//! The embedded consumer protocol: what members put in JoinGroup metadata and what the
//! leader puts in SyncGroup assignments.
//!
//! Owns: encoding and decoding `ConsumerProtocolSubscription` and
//! `ConsumerProtocolAssignment` with their 2-byte version prefix, as Java's
//! `ConsumerProtocol` does: written at the highest version (3), read at the version found,
//! clamped to 3 for newer peers. kafka-python and librdkafka members write v0/v1, which
//! read the same way. The bytes come from other members through the broker, so decoding
//! never trusts them: every failure is an error, never a panic.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::{
    ConsumerProtocolAssignment, TopicPartition as AssignedTopic,
};
use kafka_protocol::messages::consumer_protocol_subscription::{
    ConsumerProtocolSubscription, TopicPartition as OwnedTopic,
};
use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::record::TopicPartition;
use crate::error::{Error, Result};

/// JoinGroup's `protocol_type` for consumers.
pub const PROTOCOL_TYPE: &str = "consumer";
/// Highest ConsumerProtocol version this client reads and writes (Kafka 4's).
pub const CONSUMER_PROTOCOL_VERSION_MAX: i16 = 3;

/// What one member asked for, decoded from its JoinGroup metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub topics: BTreeSet<String>,
    pub owned_partitions: Vec<TopicPartition>,
    pub generation_id: i32,
}

/// Encodes this member's subscription; `generation_id` is its last generation or -1.
pub fn encode_subscription(topics: &BTreeSet<String>, generation_id: i32) -> Result<Bytes> {
    let message = ConsumerProtocolSubscription::default()
        .with_topics(topics.iter().map(|t| StrBytes::from_string(t.clone())).collect())
        .with_owned_partitions(Vec::<OwnedTopic>::new())
        .with_generation_id(generation_id);
    prefixed(&message, CONSUMER_PROTOCOL_VERSION_MAX)
}

/// Decodes a member's JoinGroup metadata.
pub fn decode_subscription(metadata: &Bytes) -> Result<Subscription> {
    let mut buf = metadata.clone();
    let version = read_version(&mut buf, "subscription")?;
    let message = ConsumerProtocolSubscription::decode(&mut buf, version)
        .map_err(|e| Error::Protocol(format!("consumer protocol subscription v{version}: {e}")))?;
    Ok(Subscription {
        topics: message.topics.iter().map(|t| t.to_string()).collect(),
        owned_partitions: message
            .owned_partitions
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| TopicPartition::new(t.topic.0.to_string(), *p)))
            .collect(),
        generation_id: message.generation_id,
    })
}

/// Encodes one member's assignment, grouping partitions by topic in topic order.
pub fn encode_assignment(partitions: &[TopicPartition]) -> Result<Bytes> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        by_topic.entry(tp.topic.as_str()).or_default().push(tp.partition);
    }
    let assigned = by_topic
        .into_iter()
        .map(|(topic, partitions)| {
            AssignedTopic::default()
                .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(partitions)
        })
        .collect();
    let message = ConsumerProtocolAssignment::default().with_assigned_partitions(assigned);
    prefixed(&message, CONSUMER_PROTOCOL_VERSION_MAX)
}

/// Decodes this member's SyncGroup assignment. An empty buffer (the leader left this member
/// out) is an empty assignment.
pub fn decode_assignment(assignment: &Bytes) -> Result<Vec<TopicPartition>> {
    if assignment.is_empty() {
        return Ok(Vec::new());
    }
    let mut buf = assignment.clone();
    let version = read_version(&mut buf, "assignment")?;
    let message = ConsumerProtocolAssignment::decode(&mut buf, version)
        .map_err(|e| Error::Protocol(format!("consumer protocol assignment v{version}: {e}")))?;
    let mut partitions: Vec<TopicPartition> = message
        .assigned_partitions
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| TopicPartition::new(t.topic.0.to_string(), *p)))
        .collect();
    partitions.sort();
    partitions.dedup();
    Ok(partitions)
}

fn prefixed<M: Encodable>(message: &M, version: i16) -> Result<Bytes> {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&version.to_be_bytes());
    message.encode(&mut buf, version).map_err(|e| Error::Protocol(format!("consumer protocol encode: {e}")))?;
    Ok(buf.freeze())
}

/// Reads the version prefix; newer versions are read as the newest known one, which is
/// how Kafka keeps the protocol forward compatible (fields are only ever appended).
fn read_version(buf: &mut Bytes, what: &str) -> Result<i16> {
    if buf.len() < 2 {
        return Err(Error::Protocol(format!("consumer protocol {what}: {} bytes, no version", buf.len())));
    }
    let version = i16::from_be_bytes([buf[0], buf[1]]);
    let _ = buf.split_to(2);
    if version < 0 {
        return Err(Error::Protocol(format!("consumer protocol {what}: unsupported version {version}")));
    }
    Ok(version.min(CONSUMER_PROTOCOL_VERSION_MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn subscription_round_trips_at_v3() {
        let bytes = encode_subscription(&topics(&["b", "a"]), 4).unwrap();
        assert_eq!(&bytes[..2], &[0, 3]);
        let decoded = decode_subscription(&bytes).unwrap();
        assert_eq!(decoded.topics, topics(&["a", "b"]));
        assert_eq!(decoded.generation_id, 4);
    }

    #[test]
    fn v0_subscription_as_kafka_python_writes_it_decodes() {
        // version 0, topics ["t1"], user_data null: kafka-python 2's ConsumerProtocolMemberMetadata.
        let bytes = Bytes::from_static(&[0, 0, 0, 0, 0, 1, 0, 2, b't', b'1', 0xff, 0xff, 0xff, 0xff]);
        let decoded = decode_subscription(&bytes).unwrap();
        assert_eq!(decoded.topics, topics(&["t1"]));
        assert_eq!(decoded.generation_id, -1);
    }

    #[test]
    fn newer_versions_are_read_as_v3() {
        let mut bytes = encode_subscription(&topics(&["x"]), 1).unwrap().to_vec();
        bytes[1] = 9;
        bytes.extend_from_slice(&[1, 2, 3]); // fields a future version appended
        assert_eq!(decode_subscription(&Bytes::from(bytes)).unwrap().topics, topics(&["x"]));
    }

    #[test]
    fn assignment_round_trips_grouped_by_topic() {
        let partitions = vec![TopicPartition::new("b", 1), TopicPartition::new("a", 0), TopicPartition::new("b", 0)];
        let bytes = encode_assignment(&partitions).unwrap();
        let decoded = decode_assignment(&bytes).unwrap();
        assert_eq!(decoded, vec![TopicPartition::new("a", 0), TopicPartition::new("b", 0), TopicPartition::new("b", 1)]);
        assert_eq!(decode_assignment(&Bytes::new()).unwrap(), vec![]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&[0u8][..], &[0xff, 0xff], &[0, 0, 0x7f, 0xff, 0xff, 0xff], &[0, 3, 0, 0, 0, 1, 0]] {
            let bytes = Bytes::copy_from_slice(bytes);
            assert!(decode_subscription(&bytes).is_err(), "{bytes:?}");
            assert!(decode_assignment(&bytes).is_err(), "{bytes:?}");
        }
    }
}
