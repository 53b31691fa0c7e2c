//! The `__consumer_offsets` key and value formats, byte-compatible with Kafka 4 so the log is
//! readable by Kafka's tools and Kafka's log readable by Runnel.
//!
//! Written: OffsetCommitKey v1 (group, topic, partition) with OffsetCommitValue v3 (v1 when an
//! OffsetCommit v2-4 asked for an explicit retention, as Kafka does), and GroupMetadataKey v2
//! (group) with GroupMetadataValue v3. A deleted group or offset is the key with a null value.
//! Read: the same keys, and every value version Kafka 4 reads (0-4, 4 being flexible). Keys
//! of other record types (consumer-, share- and streams-group records, versions 3 and up) are
//! skipped, as Kafka skips record types it does not know.
//!
//! Runnel's own record: rebalance history, key version [`GROUP_HISTORY_KEY_VERSION`] (32000),
//! one record per (group, generation), format in `history_codec`. Kafka has no such record
//! type, and its tools were checked (Kafka 4.1.1 class files) to skip it: the serde behind
//! both the broker's loader and `kafka-console-consumer`'s `GroupMetadataMessageFormatter` /
//! `OffsetsMessageFormatter` (`GroupCoordinatorRecordSerde.apiMessageKeyFor`) turns an unknown
//! key version into `UnknownRecordTypeException`; the formatters
//! (`CoordinatorRecordMessageFormatter.writeTo`) catch it and print nothing for the record, and
//! the loader (`CoordinatorLoaderImpl.doLoad`) logs "Unknown record type 32000 ... Ignoring it"
//! at WARN once per record and goes on. The value is never read by Kafka, so its layout is
//! Runnel's alone.

use crate::error::CoordinatorError;
pub use crate::history_codec::{GROUP_HISTORY_KEY_VERSION, GROUP_HISTORY_VALUE_VERSION};
use crate::history_codec;
use crate::record::{GroupMetadataValue, MemberMetadata, OffsetCommitValue, Record};
use crate::wire::{Reader, Writer};

/// OffsetCommitKey version Kafka 4 writes (0 is the same layout, read too).
pub const OFFSET_COMMIT_KEY_VERSION: i16 = 1;
/// GroupMetadataKey version (the only one).
pub const GROUP_METADATA_KEY_VERSION: i16 = 2;
/// OffsetCommitValue version Kafka 4 writes without an expire timestamp.
pub const OFFSET_COMMIT_VALUE_VERSION: i16 = 3;
/// OffsetCommitValue version carrying an expire timestamp.
pub const OFFSET_COMMIT_VALUE_EXPIRING_VERSION: i16 = 1;
/// GroupMetadataValue version Kafka 4 writes.
pub const GROUP_METADATA_VALUE_VERSION: i16 = 3;
/// The highest value versions Kafka 4 can read; version 4 is the first flexible one.
pub const VALUE_VERSION_MAX: i16 = 4;

/// A Kafka record's key and value; a `None` value is a tombstone. The key is always present
/// for coordinator records; it is optional only to match the shape of a Kafka record.
pub type EncodedRecord = (Option<Vec<u8>>, Option<Vec<u8>>);

/// A persisted record's key and value bytes, or `None` for a transient record.
pub fn encode(record: &Record) -> Option<EncodedRecord> {
    match record {
        Record::GroupMetadata { group_id, value } => {
            Some((Some(group_key(group_id)), Some(group_value(value))))
        }
        Record::GroupTombstone { group_id } => Some((Some(group_key(group_id)), None)),
        Record::OffsetCommit { group_id, topic, partition, value } => {
            Some((Some(offset_key(group_id, topic, *partition)), Some(offset_value(value))))
        }
        Record::OffsetTombstone { group_id, topic, partition } => {
            Some((Some(offset_key(group_id, topic, *partition)), None))
        }
        Record::GroupHistory { group_id, entry } => Some((
            Some(history_codec::key(group_id, entry.generation)),
            Some(history_codec::value(entry)),
        )),
        Record::GroupHistoryTombstone { group_id, generation } => {
            Some((Some(history_codec::key(group_id, *generation)), None))
        }
        Record::Group { .. } | Record::RetentionCheckScheduled { .. } => None,
    }
}

/// The record stored under `key` with `value` (`None` = tombstone); `Ok(None)` for record
/// types this coordinator does not keep.
pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<Option<Record>, CoordinatorError> {
    let mut k = Reader::new(key);
    let key_version = k.i16("record key version")?;
    match key_version {
        0 | 1 => {
            let group_id = k.string("OffsetCommitKey.group")?;
            let topic = k.string("OffsetCommitKey.topic")?;
            let partition = k.i32("OffsetCommitKey.partition")?;
            Ok(Some(match value {
                None => Record::OffsetTombstone { group_id, topic, partition },
                Some(v) => {
                    Record::OffsetCommit { group_id, topic, partition, value: decode_offset_value(v)? }
                }
            }))
        }
        GROUP_METADATA_KEY_VERSION => {
            let group_id = k.string("GroupMetadataKey.group")?;
            Ok(Some(match value {
                None => Record::GroupTombstone { group_id },
                Some(v) => Record::GroupMetadata { group_id, value: decode_group_value(v)? },
            }))
        }
        GROUP_HISTORY_KEY_VERSION => {
            let (group_id, generation) = history_codec::decode_key(&mut k)?;
            Ok(Some(match value {
                None => Record::GroupHistoryTombstone { group_id, generation },
                Some(v) => Record::GroupHistory { group_id, entry: history_codec::decode_value(generation, v)? },
            }))
        }
        _ => Ok(None),
    }
}

fn group_key(group_id: &str) -> Vec<u8> {
    let mut w = Writer::new();
    w.i16(GROUP_METADATA_KEY_VERSION);
    w.string(group_id);
    w.finish()
}

fn offset_key(group_id: &str, topic: &str, partition: i32) -> Vec<u8> {
    let mut w = Writer::new();
    w.i16(OFFSET_COMMIT_KEY_VERSION);
    w.string(group_id);
    w.string(topic);
    w.i32(partition);
    w.finish()
}

fn offset_value(value: &OffsetCommitValue) -> Vec<u8> {
    let mut w = Writer::new();
    if value.expire_timestamp_ms != -1 {
        w.i16(OFFSET_COMMIT_VALUE_EXPIRING_VERSION);
        w.i64(value.offset);
        w.string(&value.metadata);
        w.i64(value.commit_timestamp_ms);
        w.i64(value.expire_timestamp_ms);
    } else {
        w.i16(OFFSET_COMMIT_VALUE_VERSION);
        w.i64(value.offset);
        w.i32(value.leader_epoch);
        w.string(&value.metadata);
        w.i64(value.commit_timestamp_ms);
    }
    w.finish()
}

fn group_value(value: &GroupMetadataValue) -> Vec<u8> {
    let mut w = Writer::new();
    w.i16(GROUP_METADATA_VALUE_VERSION);
    w.string(&value.protocol_type);
    w.i32(value.generation);
    w.nullable_string(value.protocol.as_deref());
    w.nullable_string(value.leader.as_deref());
    w.i64(value.current_state_timestamp_ms);
    w.array_len(value.members.len());
    for m in &value.members {
        w.string(&m.member_id);
        w.nullable_string(m.group_instance_id.as_deref());
        w.string(&m.client_id);
        w.string(&m.client_host);
        w.i32(m.rebalance_timeout_ms);
        w.i32(m.session_timeout_ms);
        w.bytes(&m.subscription);
        w.bytes(&m.assignment);
    }
    w.finish()
}

fn decode_offset_value(bytes: &[u8]) -> Result<OffsetCommitValue, CoordinatorError> {
    let mut r = Reader::new(bytes);
    let version = r.i16("OffsetCommitValue version")?;
    if !(0..=VALUE_VERSION_MAX).contains(&version) {
        return Err(CoordinatorError::UnsupportedValueVersion { record: "OffsetCommitValue", version });
    }
    let flexible = version >= 4;
    let offset = r.i64("OffsetCommitValue.offset")?;
    let leader_epoch = if version >= 3 { r.i32("OffsetCommitValue.leaderEpoch")? } else { -1 };
    let metadata = if flexible {
        r.compact_string("OffsetCommitValue.metadata")?
    } else {
        r.string("OffsetCommitValue.metadata")?
    };
    let commit_timestamp_ms = r.i64("OffsetCommitValue.commitTimestamp")?;
    let expire_timestamp_ms = if version == 1 { r.i64("OffsetCommitValue.expireTimestamp")? } else { -1 };
    if flexible {
        r.skip_tagged_fields("OffsetCommitValue tagged fields")?;
    }
    Ok(OffsetCommitValue { offset, leader_epoch, metadata, commit_timestamp_ms, expire_timestamp_ms })
}

/// A lower bound on one member's encoded size in every value version (18 bytes in version 0,
/// 14 in flexible version 4), so a hostile member count cannot make the decoder allocate more
/// than the record's own size.
const MEMBER_METADATA_MIN_BYTES: usize = 14;

fn decode_group_value(bytes: &[u8]) -> Result<GroupMetadataValue, CoordinatorError> {
    let mut r = Reader::new(bytes);
    let version = r.i16("GroupMetadataValue version")?;
    if !(0..=VALUE_VERSION_MAX).contains(&version) {
        return Err(CoordinatorError::UnsupportedValueVersion { record: "GroupMetadataValue", version });
    }
    let flexible = version >= 4;
    let string = |r: &mut Reader<'_>, what| if flexible { r.compact_string(what) } else { r.string(what) };
    let nullable = |r: &mut Reader<'_>, what| {
        if flexible {
            r.compact_nullable_string(what)
        } else {
            r.nullable_string(what)
        }
    };
    let protocol_type = string(&mut r, "GroupMetadataValue.protocolType")?;
    let generation = r.i32("GroupMetadataValue.generation")?;
    let protocol = nullable(&mut r, "GroupMetadataValue.protocol")?;
    let leader = nullable(&mut r, "GroupMetadataValue.leader")?;
    let current_state_timestamp_ms =
        if version >= 2 { r.i64("GroupMetadataValue.currentStateTimestamp")? } else { -1 };
    let count = if flexible {
        r.compact_array_len("GroupMetadataValue.members", MEMBER_METADATA_MIN_BYTES)?
    } else {
        r.array_len("GroupMetadataValue.members", MEMBER_METADATA_MIN_BYTES)?
    };
    let mut members = Vec::with_capacity(count);
    for _ in 0..count {
        let member_id = string(&mut r, "MemberMetadata.memberId")?;
        let group_instance_id =
            if version >= 3 { nullable(&mut r, "MemberMetadata.groupInstanceId")? } else { None };
        let client_id = string(&mut r, "MemberMetadata.clientId")?;
        let client_host = string(&mut r, "MemberMetadata.clientHost")?;
        let rebalance_timeout_ms = if version >= 1 { r.i32("MemberMetadata.rebalanceTimeout")? } else { -1 };
        let session_timeout_ms = r.i32("MemberMetadata.sessionTimeout")?;
        let (subscription, assignment) = if flexible {
            (r.compact_bytes("MemberMetadata.subscription")?, r.compact_bytes("MemberMetadata.assignment")?)
        } else {
            (r.bytes("MemberMetadata.subscription")?, r.bytes("MemberMetadata.assignment")?)
        };
        if flexible {
            r.skip_tagged_fields("MemberMetadata tagged fields")?;
        }
        members.push(MemberMetadata {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout_ms,
            session_timeout_ms,
            subscription,
            assignment,
        });
    }
    if flexible {
        r.skip_tagged_fields("GroupMetadataValue tagged fields")?;
    }
    Ok(GroupMetadataValue {
        protocol_type,
        generation,
        protocol,
        leader,
        current_state_timestamp_ms,
        members,
    })
}
