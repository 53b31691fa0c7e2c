//! OffsetCommit (v2-9), OffsetFetch (v1-9, several groups from v8) and OffsetDelete (v0):
//! Kafka's `OffsetMetadataManager` plus the topic checks `KafkaApis` does before it.

use runnel_protocol::kafka_protocol::error::ResponseError;
use runnel_protocol::kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use runnel_protocol::kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use runnel_protocol::kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use runnel_protocol::kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse, OffsetFetchRequest,
    OffsetFetchResponse, TopicName,
};

use crate::decision::Emitter;
use crate::rebalance::{activate_if_loaded, deadline};
use crate::record::{GroupEvent, OffsetCommitValue, Record};
use crate::request::{KnownTopics, RequestId, Response};
use crate::responses::{code, str_bytes};
use crate::state::GroupState;

/// The retention Kafka's OffsetCommit v2-4 use to mean "the broker's default".
const DEFAULT_RETENTION_TIME_MS: i64 = -1;

fn topic_name(s: &str) -> TopicName {
    TopicName(str_bytes(s))
}

pub(crate) fn commit(
    em: &mut Emitter<'_>,
    id: RequestId,
    request: &OffsetCommitRequest,
    api_version: i16,
    known: &KnownTopics,
) {
    let group_id = request.group_id.as_str();
    let any_known = request
        .topics
        .iter()
        .any(|t| t.partitions.iter().any(|p| known.contains(t.name.as_str(), p.partition_index)));
    // Kafka answers unknown topics and partitions itself and calls the coordinator only when
    // something is left.
    let validation = if any_known { Some(validate_commit(em, request, api_version)) } else { None };

    let now_ms = em.now_ms;
    let expire_timestamp_ms = if request.retention_time_ms == DEFAULT_RETENTION_TIME_MS {
        -1
    } else {
        now_ms.saturating_add(request.retention_time_ms)
    };
    let metadata_max = usize::try_from(em.config().offset_metadata_max_bytes).unwrap_or(0);
    let mut response = OffsetCommitResponse::default();
    for topic in &request.topics {
        let name = topic.name.as_str();
        let mut topic_response = OffsetCommitResponseTopic::default();
        topic_response.name = topic_name(name);
        for partition in &topic.partitions {
            let index = partition.partition_index;
            let error = match validation {
                _ if !known.contains(name, index) => Some(ResponseError::UnknownTopicOrPartition),
                Some(Err(e)) => Some(e),
                _ => {
                    let metadata =
                        partition.committed_metadata.as_ref().map(|m| m.as_str()).unwrap_or_default();
                    // Kafka compares Java's String.length(): UTF-16 code units.
                    if metadata.encode_utf16().count() > metadata_max {
                        Some(ResponseError::OffsetMetadataTooLarge)
                    } else {
                        em.emit(Record::OffsetCommit {
                            group_id: group_id.to_owned(),
                            topic: name.to_owned(),
                            partition: index,
                            value: OffsetCommitValue {
                                offset: partition.committed_offset,
                                leader_epoch: partition.committed_leader_epoch,
                                metadata: metadata.to_owned(),
                                commit_timestamp_ms: now_ms,
                                expire_timestamp_ms,
                            },
                        });
                        None
                    }
                }
            };
            let mut p = OffsetCommitResponsePartition::default();
            p.partition_index = index;
            p.error_code = code(error);
            topic_response.partitions.push(p);
        }
        response.topics.push(topic_response);
    }
    em.respond(id, Response::OffsetCommit(response));
}

/// Kafka's `validateOffsetCommit`; on success a member's commit also restarts its session in
/// Stable and PreparingRebalance.
fn validate_commit(
    em: &mut Emitter<'_>,
    request: &OffsetCommitRequest,
    api_version: i16,
) -> Result<(), ResponseError> {
    let group_id = request.group_id.as_str();
    let generation = request.generation_id_or_member_epoch;
    let member_id = request.member_id.as_str();
    let instance = request.group_instance_id.as_ref().map(|s| s.as_str());
    if em.group(group_id).is_none() {
        return if generation < 0 {
            // From outside the group (admin tools, `assign()` consumers): a "simple" group is
            // created by the commit records.
            Ok(())
        } else if api_version >= 9 {
            Err(ResponseError::GroupIdNotFound)
        } else {
            Err(ResponseError::IllegalGeneration)
        };
    }
    activate_if_loaded(em, group_id);
    let Some(group) = em.group(group_id) else { return Err(ResponseError::UnknownMemberId) };
    let state = group.state();
    if generation < 0 && state == GroupState::Empty {
        return Ok(());
    }
    if generation >= 0 || !member_id.is_empty() || instance.is_some() {
        group.validate_member(member_id, instance)?;
        if generation != group.generation_id() {
            return Err(ResponseError::IllegalGeneration);
        }
    } else if state != GroupState::Empty {
        return Err(ResponseError::UnknownMemberId);
    }
    if state == GroupState::CompletingRebalance {
        return Err(ResponseError::RebalanceInProgress);
    }
    if matches!(state, GroupState::Stable | GroupState::PreparingRebalance) {
        if let Some(member) = group.member(member_id) {
            let deadline_ms = Some(deadline(em.now_ms, member.session_timeout_ms));
            em.event(
                group_id,
                GroupEvent::HeartbeatScheduled { member_id: member_id.to_owned(), deadline_ms },
            );
        }
    }
    Ok(())
}

/// One partition of an OffsetFetch answer.
struct Fetched {
    partition: i32,
    offset: i64,
    leader_epoch: i32,
    metadata: String,
}

/// Offsets of `group_id` for the asked topics, or all of them when `topics` is `None`. An
/// unknown group has no offsets: -1 for every asked partition, no topics when asking for all.
fn fetch_group(
    em: &Emitter<'_>,
    group_id: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
) -> Vec<(String, Vec<Fetched>)> {
    let exists = em.group(group_id).is_some();
    let store = &em.coordinator.offsets;
    let fetched = |topic: &str, partition: i32| match store.get(group_id, topic, partition).filter(|_| exists)
    {
        Some(v) => Fetched {
            partition,
            offset: v.offset,
            leader_epoch: v.leader_epoch,
            metadata: v.metadata.clone(),
        },
        None => Fetched { partition, offset: -1, leader_epoch: -1, metadata: String::new() },
    };
    match topics {
        Some(topics) => topics
            .into_iter()
            .map(|(topic, partitions)| {
                let partitions = partitions.into_iter().map(|p| fetched(&topic, p)).collect();
                (topic, partitions)
            })
            .collect(),
        None if !exists => Vec::new(),
        None => store
            .group(group_id)
            .map(|by_topic| {
                by_topic
                    .iter()
                    .map(|(topic, partitions)| {
                        (topic.clone(), partitions.keys().map(|p| fetched(topic, *p)).collect())
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

pub(crate) fn fetch(em: &mut Emitter<'_>, id: RequestId, request: &OffsetFetchRequest, api_version: i16) {
    let mut response = OffsetFetchResponse::default();
    if api_version >= 8 {
        for group in &request.groups {
            let topics = group.topics.as_ref().map(|ts| {
                ts.iter().map(|t| (t.name.as_str().to_owned(), t.partition_indexes.clone())).collect()
            });
            let mut g = OffsetFetchResponseGroup::default();
            g.group_id = group.group_id.clone();
            for (topic, partitions) in fetch_group(em, group.group_id.as_str(), topics) {
                let mut t = OffsetFetchResponseTopics::default();
                t.name = topic_name(&topic);
                for f in partitions {
                    let mut p = OffsetFetchResponsePartitions::default();
                    p.partition_index = f.partition;
                    p.committed_offset = f.offset;
                    p.committed_leader_epoch = f.leader_epoch;
                    p.metadata = Some(str_bytes(&f.metadata));
                    t.partitions.push(p);
                }
                g.topics.push(t);
            }
            response.groups.push(g);
        }
    } else {
        let topics = request
            .topics
            .as_ref()
            .map(|ts| ts.iter().map(|t| (t.name.as_str().to_owned(), t.partition_indexes.clone())).collect());
        for (topic, partitions) in fetch_group(em, request.group_id.as_str(), topics) {
            let mut t = OffsetFetchResponseTopic::default();
            t.name = topic_name(&topic);
            for f in partitions {
                let mut p = OffsetFetchResponsePartition::default();
                p.partition_index = f.partition;
                p.committed_offset = f.offset;
                p.committed_leader_epoch = f.leader_epoch;
                p.metadata = Some(str_bytes(&f.metadata));
                t.partitions.push(p);
            }
            response.topics.push(t);
        }
    }
    em.respond(id, Response::OffsetFetch(response));
}

pub(crate) fn delete(
    em: &mut Emitter<'_>,
    id: RequestId,
    request: &OffsetDeleteRequest,
    known: &KnownTopics,
) {
    let response = match delete_offsets(em, request, known) {
        Ok(response) => response,
        Err(error) => {
            // A group-level error replaces the whole answer, as Kafka's response builder does.
            let mut response = OffsetDeleteResponse::default();
            response.error_code = error.code();
            response
        }
    };
    em.respond(id, Response::OffsetDelete(response));
}

fn delete_offsets(
    em: &mut Emitter<'_>,
    request: &OffsetDeleteRequest,
    known: &KnownTopics,
) -> Result<OffsetDeleteResponse, ResponseError> {
    let group_id = request.group_id.as_str();
    if group_id.is_empty() {
        return Err(ResponseError::InvalidGroupId);
    }
    let Some(group) = em.group(group_id) else { return Err(ResponseError::GroupIdNotFound) };
    let non_empty = matches!(
        group.state(),
        GroupState::Stable | GroupState::PreparingRebalance | GroupState::CompletingRebalance
    );
    if non_empty && !group.uses_consumer_protocol() {
        return Err(ResponseError::NonEmptyGroup);
    }
    let mut response = OffsetDeleteResponse::default();
    let mut tombstones = Vec::new();
    for topic in &request.topics {
        let name = topic.name.as_str();
        let subscribed = group.is_subscribed_to_topic(name);
        let mut topic_response = OffsetDeleteResponseTopic::default();
        topic_response.name = topic_name(name);
        for partition in &topic.partitions {
            let index = partition.partition_index;
            let error = if !known.contains(name, index) {
                Some(ResponseError::UnknownTopicOrPartition)
            } else if subscribed {
                Some(ResponseError::GroupSubscribedToTopic)
            } else {
                if em.coordinator.offsets.get(group_id, name, index).is_some() {
                    tombstones.push((name.to_owned(), index));
                }
                None
            };
            let mut p = OffsetDeleteResponsePartition::default();
            p.partition_index = index;
            p.error_code = code(error);
            topic_response.partitions.push(p);
        }
        response.topics.push(topic_response);
    }
    for (topic, partition) in tombstones {
        em.emit(Record::OffsetTombstone { group_id: group_id.to_owned(), topic, partition });
    }
    Ok(response)
}
