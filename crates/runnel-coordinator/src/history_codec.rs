//! The bytes of Runnel's rebalance-history records in `__consumer_offsets` (no Kafka format
//! exists for them; see `codec` for why Kafka's tools skip them).
//!
//! Key, version [`GROUP_HISTORY_KEY_VERSION`]: group (string), generation (int32); one key per
//! (group, generation), so compaction keeps every retained generation and a pruned or deleted
//! one is a tombstone of its key. Value, version [`GROUP_HISTORY_VALUE_VERSION`], in Kafka's
//! classic (non-flexible) primitives: protocol type (string), protocol (nullable string),
//! leader (nullable string), reason (nullable string, a [`RebalanceReason`] name), started and
//! completed (int64 ms), left omitted and moves omitted (int32), then arrays of members (member id, instance id,
//! client id, client host, assignment: array of topic + int32 partitions), joined (member id,
//! instance id, client id, client host), left (the same and a reason) and moves (topic,
//! partition, nullable from, nullable to).

use crate::error::CoordinatorError;
use crate::history::{
    GenerationHistory, HistoryMember, JoinedMember, LeftMember, PartitionMove, RebalanceReason, TopicPartitions,
};
use crate::wire::{Reader, Writer};

/// The key version of a rebalance-history record. Kafka 4.1 uses record types (key versions)
/// 0-21 and its loader and console formatters skip types they do not know, so a value far
/// above them cannot collide with a future Kafka record type for a long time.
pub const GROUP_HISTORY_KEY_VERSION: i16 = 32_000;
/// The value version written (and the only one read).
pub const GROUP_HISTORY_VALUE_VERSION: i16 = 0;

/// Lower bounds on encoded element sizes, so a hostile count cannot allocate beyond the input.
const MEMBER_MIN_BYTES: usize = 12;
const TOPIC_PARTITIONS_MIN_BYTES: usize = 6;
const PARTITION_BYTES: usize = 4;
const JOINED_MIN_BYTES: usize = 8;
const LEFT_MIN_BYTES: usize = 10;
const MOVE_MIN_BYTES: usize = 10;

pub(crate) fn key(group_id: &str, generation: i32) -> Vec<u8> {
    let mut w = Writer::new();
    w.i16(GROUP_HISTORY_KEY_VERSION);
    w.string(group_id);
    w.i32(generation);
    w.finish()
}

/// The rest of a history key after its version: (group, generation).
pub(crate) fn decode_key(k: &mut Reader<'_>) -> Result<(String, i32), CoordinatorError> {
    let group_id = k.string("GroupHistoryKey.group")?;
    let generation = k.i32("GroupHistoryKey.generation")?;
    Ok((group_id, generation))
}

pub(crate) fn value(entry: &GenerationHistory) -> Vec<u8> {
    let mut w = Writer::new();
    w.i16(GROUP_HISTORY_VALUE_VERSION);
    w.string(&entry.protocol_type);
    w.nullable_string(entry.protocol.as_deref());
    w.nullable_string(entry.leader.as_deref());
    w.nullable_string(entry.reason.map(RebalanceReason::name));
    w.i64(entry.started_at_ms);
    w.i64(entry.completed_at_ms);
    w.i32(i32::try_from(entry.left_omitted).unwrap_or(i32::MAX));
    w.i32(i32::try_from(entry.moves_omitted).unwrap_or(i32::MAX));
    w.array_len(entry.members.len());
    for m in &entry.members {
        w.string(&m.member_id);
        w.nullable_string(m.group_instance_id.as_deref());
        w.string(&m.client_id);
        w.string(&m.client_host);
        w.array_len(m.assignment.len());
        for tp in &m.assignment {
            w.string(&tp.topic);
            w.array_len(tp.partitions.len());
            for p in &tp.partitions {
                w.i32(*p);
            }
        }
    }
    w.array_len(entry.joined.len());
    for j in &entry.joined {
        w.string(&j.member_id);
        w.nullable_string(j.group_instance_id.as_deref());
        w.string(&j.client_id);
        w.string(&j.client_host);
    }
    w.array_len(entry.left.len());
    for l in &entry.left {
        w.string(&l.member_id);
        w.nullable_string(l.group_instance_id.as_deref());
        w.string(&l.client_id);
        w.string(&l.client_host);
        w.string(l.reason.name());
    }
    w.array_len(entry.moves.len());
    for mv in &entry.moves {
        w.string(&mv.topic);
        w.i32(mv.partition);
        w.nullable_string(mv.from.as_deref());
        w.nullable_string(mv.to.as_deref());
    }
    w.finish()
}

fn reason(name: &str, what: &'static str) -> Result<RebalanceReason, CoordinatorError> {
    RebalanceReason::from_name(name).ok_or(CoordinatorError::InvalidValue { what })
}

pub(crate) fn decode_value(generation: i32, bytes: &[u8]) -> Result<GenerationHistory, CoordinatorError> {
    let mut r = Reader::new(bytes);
    let version = r.i16("GroupHistoryValue version")?;
    if version != GROUP_HISTORY_VALUE_VERSION {
        return Err(CoordinatorError::UnsupportedValueVersion { record: "GroupHistoryValue", version });
    }
    let protocol_type = r.string("GroupHistoryValue.protocolType")?;
    let protocol = r.nullable_string("GroupHistoryValue.protocol")?;
    let leader = r.nullable_string("GroupHistoryValue.leader")?;
    let reason_name = r.nullable_string("GroupHistoryValue.reason")?;
    let reason_value = match reason_name {
        Some(name) => Some(reason(&name, "GroupHistoryValue.reason")?),
        None => None,
    };
    let started_at_ms = r.i64("GroupHistoryValue.startedAt")?;
    let completed_at_ms = r.i64("GroupHistoryValue.completedAt")?;
    let left_omitted = u32::try_from(r.i32("GroupHistoryValue.leftOmitted")?).unwrap_or(0);
    let moves_omitted = u32::try_from(r.i32("GroupHistoryValue.movesOmitted")?).unwrap_or(0);

    let count = r.array_len("GroupHistoryValue.members", MEMBER_MIN_BYTES)?;
    let mut members = Vec::with_capacity(count);
    for _ in 0..count {
        let member_id = r.string("GroupHistoryMember.memberId")?;
        let group_instance_id = r.nullable_string("GroupHistoryMember.groupInstanceId")?;
        let client_id = r.string("GroupHistoryMember.clientId")?;
        let client_host = r.string("GroupHistoryMember.clientHost")?;
        let topics = r.array_len("GroupHistoryMember.assignment", TOPIC_PARTITIONS_MIN_BYTES)?;
        let mut assignment = Vec::with_capacity(topics);
        for _ in 0..topics {
            let topic = r.string("GroupHistoryMember.topic")?;
            let n = r.array_len("GroupHistoryMember.partitions", PARTITION_BYTES)?;
            let mut partitions = Vec::with_capacity(n);
            for _ in 0..n {
                partitions.push(r.i32("GroupHistoryMember.partition")?);
            }
            assignment.push(TopicPartitions { topic, partitions });
        }
        members.push(HistoryMember { member_id, group_instance_id, client_id, client_host, assignment });
    }
    let count = r.array_len("GroupHistoryValue.joined", JOINED_MIN_BYTES)?;
    let mut joined = Vec::with_capacity(count);
    for _ in 0..count {
        joined.push(JoinedMember {
            member_id: r.string("GroupHistoryJoined.memberId")?,
            group_instance_id: r.nullable_string("GroupHistoryJoined.groupInstanceId")?,
            client_id: r.string("GroupHistoryJoined.clientId")?,
            client_host: r.string("GroupHistoryJoined.clientHost")?,
        });
    }
    let count = r.array_len("GroupHistoryValue.left", LEFT_MIN_BYTES)?;
    let mut left = Vec::with_capacity(count);
    for _ in 0..count {
        let member_id = r.string("GroupHistoryLeft.memberId")?;
        let group_instance_id = r.nullable_string("GroupHistoryLeft.groupInstanceId")?;
        let client_id = r.string("GroupHistoryLeft.clientId")?;
        let client_host = r.string("GroupHistoryLeft.clientHost")?;
        let why = reason(&r.string("GroupHistoryLeft.reason")?, "GroupHistoryLeft.reason")?;
        left.push(LeftMember { member_id, group_instance_id, client_id, client_host, reason: why });
    }
    let count = r.array_len("GroupHistoryValue.moves", MOVE_MIN_BYTES)?;
    let mut moves = Vec::with_capacity(count);
    for _ in 0..count {
        moves.push(PartitionMove {
            topic: r.string("GroupHistoryMove.topic")?,
            partition: r.i32("GroupHistoryMove.partition")?,
            from: r.nullable_string("GroupHistoryMove.from")?,
            to: r.nullable_string("GroupHistoryMove.to")?,
        });
    }
    Ok(GenerationHistory {
        generation,
        protocol_type,
        protocol,
        leader,
        reason: reason_value,
        started_at_ms,
        completed_at_ms,
        duration_ms: completed_at_ms.saturating_sub(started_at_ms),
        joined,
        left,
        left_omitted,
        members,
        moves,
        moves_omitted,
    })
}
