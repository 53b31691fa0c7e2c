//! `GET /api/groups`, `GET /api/groups/{group}` and `GET /api/groups/{group}/lag`: consumer
//! groups as the coordinator has them, their committed offsets with lag, and the sampled lag
//! history.

use std::collections::BTreeMap;

use bytes::{Buf, Bytes};
use runnel_coordinator::{ClassicGroup, GroupState};
use runnel_protocol::kafka_protocol::messages::ConsumerProtocolAssignment;
use runnel_protocol::kafka_protocol::protocol::Decodable;
use serde::Serialize;

use crate::admin::lag::{committed_offsets, lag_of, Committed, LagSample, PartitionLag, LAG_SAMPLE_INTERVAL_MS};
use crate::admin::reply::{json, not_found, Reply};
use crate::admin::routes::Call;
use crate::context::now_ms;

/// The newest ConsumerProtocolAssignment version the pinned kafka-protocol decodes; newer
/// ones are read as it, as Kafka's `ConsumerProtocol` does.
const CONSUMER_ASSIGNMENT_VERSION_MAX: i16 = 3;

#[derive(Serialize)]
struct GroupSummary {
    group_id: String,
    state: &'static str,
    protocol_type: String,
    protocol: Option<String>,
    members: usize,
    lag_total: i64,
}

#[derive(Serialize)]
pub struct TopicAssignment {
    pub topic: String,
    pub partitions: Vec<i32>,
}

#[derive(Serialize)]
struct MemberView {
    member_id: String,
    group_instance_id: Option<String>,
    client_id: String,
    client_host: String,
    assignment: Vec<TopicAssignment>,
}

#[derive(Serialize)]
struct GroupView {
    group_id: String,
    state: &'static str,
    generation: i32,
    protocol_type: String,
    protocol: Option<String>,
    leader: Option<String>,
    members: Vec<MemberView>,
    offsets: Vec<PartitionLag>,
}

#[derive(Serialize)]
struct LagView {
    interval_ms: u64,
    samples: Vec<LagSample>,
}

/// The partitions of a consumer's assignment by topic; empty when the bytes are not a
/// consumer assignment (another protocol type's assignor wrote them).
pub fn consumer_assignment(bytes: &Bytes) -> Vec<TopicAssignment> {
    let mut buf = bytes.clone();
    if buf.len() < 2 {
        return Vec::new();
    }
    let version = buf.get_i16();
    if version < 0 {
        return Vec::new();
    }
    let Ok(decoded) = ConsumerProtocolAssignment::decode(&mut buf, version.min(CONSUMER_ASSIGNMENT_VERSION_MAX)) else {
        return Vec::new();
    };
    let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for assigned in decoded.assigned_partitions {
        by_topic.entry(assigned.topic.as_str().to_string()).or_default().extend(assigned.partitions);
    }
    by_topic
        .into_iter()
        .map(|(topic, mut partitions)| {
            partitions.sort_unstable();
            partitions.dedup();
            TopicAssignment { topic, partitions }
        })
        .collect()
}

fn protocol_type(group: &ClassicGroup) -> String {
    group.protocol_type().unwrap_or_default().to_string()
}

fn protocol(group: &ClassicGroup) -> Option<String> {
    group.protocol_name().map(str::to_string)
}

pub fn list(call: &Call) -> Reply {
    let ctx = &call.ctx;
    let groups: Vec<(GroupSummary, Vec<Committed>)> = ctx.groups.inspect(|coordinator| {
        coordinator
            .groups()
            .map(|group| {
                let summary = GroupSummary {
                    group_id: group.group_id().to_string(),
                    state: group.state().name(),
                    protocol_type: protocol_type(group),
                    protocol: protocol(group),
                    members: group.num_members(),
                    lag_total: 0,
                };
                (summary, committed_offsets(coordinator, ctx, group.group_id()))
            })
            .collect()
    });
    let now = now_ms();
    let mut groups: Vec<GroupSummary> = groups
        .into_iter()
        .map(|(mut summary, committed)| {
            summary.lag_total = lag_of(ctx, &committed, now, false).iter().map(|p| p.lag).sum();
            summary
        })
        .collect();
    groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    json(&groups)
}

pub fn get(call: &Call) -> Reply {
    let ctx = &call.ctx;
    let group_id = call.param("group");
    let found = ctx.groups.inspect(|coordinator| {
        let group = coordinator.group(group_id)?;
        let members = group
            .members()
            .map(|m| MemberView {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                assignment: consumer_assignment(&m.assignment),
            })
            .collect();
        let view = GroupView {
            group_id: group_id.to_string(),
            state: group.state().name(),
            generation: group.generation_id(),
            protocol_type: protocol_type(group),
            protocol: protocol(group),
            leader: group.leader_id().map(str::to_string),
            members,
            offsets: Vec::new(),
        };
        Some((view, committed_offsets(coordinator, ctx, group_id)))
    });
    let Some((mut view, committed)) = found else { return not_found(format!("group '{group_id}'")) };
    view.offsets = lag_of(ctx, &committed, now_ms(), true);
    json(&view)
}

pub fn lag(call: &Call) -> Reply {
    let group_id = call.param("group");
    let known = call.ctx.groups.inspect(|coordinator| coordinator.group(group_id).is_some_and(|g| g.state() != GroupState::Dead));
    if !known {
        return not_found(format!("group '{group_id}'"));
    }
    json(&LagView { interval_ms: LAG_SAMPLE_INTERVAL_MS, samples: call.state.lag.lock().samples(group_id) })
}

#[cfg(test)]
mod tests {
    use runnel_protocol::kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
    use runnel_protocol::kafka_protocol::messages::TopicName;
    use runnel_protocol::kafka_protocol::protocol::{Encodable, StrBytes};

    use super::*;

    #[test]
    fn consumer_assignments_decode_by_topic_and_garbage_is_empty() {
        let mut assignment = ConsumerProtocolAssignment::default();
        for (topic, partitions) in [("b", vec![2, 0]), ("a", vec![1]), ("b", vec![0])] {
            let mut tp = TopicPartition::default();
            tp.topic = TopicName(StrBytes::from_static_str(topic));
            tp.partitions = partitions;
            assignment.assigned_partitions.push(tp);
        }
        let mut bytes = bytes::BytesMut::new();
        bytes.extend_from_slice(&1i16.to_be_bytes());
        assignment.encode(&mut bytes, 1).expect("encodes");
        let decoded = consumer_assignment(&bytes.freeze());
        let shown: Vec<_> = decoded.iter().map(|a| (a.topic.as_str(), a.partitions.clone())).collect();
        assert_eq!(shown, [("a", vec![1]), ("b", vec![0, 2])]);
        assert!(consumer_assignment(&Bytes::from_static(b"\x00\x00\xff\xff\xff")).is_empty());
        assert!(consumer_assignment(&Bytes::new()).is_empty());
    }
}
