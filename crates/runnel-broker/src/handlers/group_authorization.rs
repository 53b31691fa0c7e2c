//! Authorization of the consumer-group APIs, as Kafka's `KafkaApis` does it around its group
//! coordinator: a request the caller may not make at all is answered here; otherwise the
//! resources it may not touch are taken out of the request and their answers put back into
//! the coordinator's response ([`After::apply`]).
//!
//! - JoinGroup, SyncGroup, Heartbeat, LeaveGroup: READ on the group (SyncGroup v5+ without
//!   its protocol type and name is the coordinator's INCONSISTENT_GROUP_PROTOCOL first).
//! - OffsetCommit: READ on the group, then READ on each topic; if no topic is left to commit,
//!   Kafka answers without the coordinator.
//! - OffsetFetch: DESCRIBE on each group, then DESCRIBE on each topic; offsets of topics the
//!   caller may not describe are hidden when it asked for all.
//! - DescribeGroups: DESCRIBE on each group (the denied ones first, as Kafka lists them), and
//!   the authorized operations of each group described without error.
//! - ListGroups: every group with DESCRIBE on the cluster, else those the caller may describe.
//! - DeleteGroups: DELETE on each group (the denied ones after the others).
//! - OffsetDelete: DELETE on the group, then READ on each topic.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::offset_delete_response::{OffsetDeleteResponsePartition, OffsetDeleteResponseTopic};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    GroupId, HeartbeatResponse, JoinGroupResponse, LeaveGroupResponse, OffsetCommitResponse, OffsetDeleteResponse,
    OffsetFetchRequest, OffsetFetchResponse, ResponseKind, SyncGroupResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use runnel_coordinator::{Request, Response};
use runnel_protocol::kafka_protocol;

use super::authorize::Authz;
use super::authorized_operations;
use crate::acl::AclOperation::{Delete, Describe, Read};

/// JoinGroup v7 made the protocol name nullable; Kafka answers errors with null from then on.
const JOIN_NULL_PROTOCOL_MIN_VERSION: i16 = 7;
/// SyncGroup v5 made the protocol type and name mandatory.
const SYNC_PROTOCOL_REQUIRED_MIN_VERSION: i16 = 5;
/// OffsetFetch v2 added the top-level error code.
const OFFSET_FETCH_ERROR_CODE_MIN_VERSION: i16 = 2;
/// OffsetFetch v8 batched groups.
const OFFSET_FETCH_GROUPS_MIN_VERSION: i16 = 8;
/// DescribeGroups v3 added authorized operations.
const DESCRIBE_OPERATIONS_MIN_VERSION: i16 = 3;

/// The outcome of the checks.
pub enum Gate {
    /// Answered without the coordinator.
    Answer(ResponseKind),
    /// For the coordinator (possibly narrowed); fix its response with [`After::apply`].
    Pass(Request, After),
}

/// Topics taken out of a request, with the partitions asked for.
type DeniedTopics = Vec<(TopicName, Vec<i32>)>;

/// What to put back into (or take out of) the coordinator's response.
pub enum After {
    Nothing,
    OffsetCommit(DeniedTopics),
    OffsetDelete(DeniedTopics),
    OffsetFetch {
        /// v8+: groups are answered in `groups`, not at the top level.
        batched: bool,
        /// v8+: each denied group with its position in the request.
        denied_groups: Vec<(usize, GroupId)>,
        /// Per group sent on (the single group before v8, under its id).
        fixes: Vec<(GroupId, FetchFix)>,
    },
    DescribeGroups { denied: Vec<GroupId>, operations: bool },
    ListGroups { describable_only: bool },
    DeleteGroups { denied: Vec<GroupId> },
}

/// One OffsetFetch group's topic denials.
#[derive(Default)]
pub struct FetchFix {
    /// All topics were asked for: hide those the caller may not describe.
    hide_undescribable: bool,
    denied_topics: DeniedTopics,
}

pub fn check(authz: &Authz<'_>, request: Request) -> Gate {
    let denied = || ResponseError::GroupAuthorizationFailed.code();
    match request {
        Request::JoinGroup { ref request, api_version, .. } if !authz.group(Read, &request.group_id) => {
            let protocol_name = (api_version < JOIN_NULL_PROTOCOL_MIN_VERSION).then(StrBytes::new);
            let response = JoinGroupResponse::default().with_error_code(denied()).with_protocol_name(protocol_name);
            Gate::Answer(ResponseKind::JoinGroup(response))
        }
        Request::SyncGroup { ref request, api_version }
            if !(api_version >= SYNC_PROTOCOL_REQUIRED_MIN_VERSION
                && (request.protocol_type.is_none() || request.protocol_name.is_none()))
                && !authz.group(Read, &request.group_id) =>
        {
            Gate::Answer(ResponseKind::SyncGroup(SyncGroupResponse::default().with_error_code(denied())))
        }
        Request::Heartbeat { ref request, .. } if !authz.group(Read, &request.group_id) => {
            Gate::Answer(ResponseKind::Heartbeat(HeartbeatResponse::default().with_error_code(denied())))
        }
        Request::LeaveGroup { ref request, .. } if !authz.group(Read, &request.group_id) => {
            Gate::Answer(ResponseKind::LeaveGroup(LeaveGroupResponse::default().with_error_code(denied())))
        }
        Request::OffsetCommit { mut request, api_version, topics } => {
            let asked = |t: &kafka_protocol::messages::offset_commit_request::OffsetCommitRequestTopic| {
                (t.name.clone(), t.partitions.iter().map(|p| p.partition_index).collect::<Vec<_>>())
            };
            if !authz.group(Read, &request.group_id) {
                let every = request.topics.iter().map(asked).collect();
                return Gate::Answer(ResponseKind::OffsetCommit(commit_errors(every, denied())));
            }
            let (allowed, refused): (Vec<_>, Vec<_>) =
                std::mem::take(&mut request.topics).into_iter().partition(|t| authz.topic(Read, &t.name));
            request.topics = allowed;
            let denied_topics: DeniedTopics = refused.iter().map(asked).collect();
            let committable =
                request.topics.iter().any(|t| t.partitions.iter().any(|p| topics.contains(&t.name, p.partition_index)));
            if !denied_topics.is_empty() && !committable {
                // Kafka answers without the coordinator when nothing is left to commit.
                let mut response = commit_errors(denied_topics, ResponseError::TopicAuthorizationFailed.code());
                let unknown = request.topics.iter().map(asked).collect();
                response.topics.extend(commit_errors(unknown, ResponseError::UnknownTopicOrPartition.code()).topics);
                return Gate::Answer(ResponseKind::OffsetCommit(response));
            }
            Gate::Pass(Request::OffsetCommit { request, api_version, topics }, After::OffsetCommit(denied_topics))
        }
        Request::OffsetDelete { mut request, api_version, topics } => {
            if !authz.group(Delete, &request.group_id) {
                return Gate::Answer(ResponseKind::OffsetDelete(OffsetDeleteResponse::default().with_error_code(denied())));
            }
            let (allowed, refused): (Vec<_>, Vec<_>) =
                std::mem::take(&mut request.topics).into_iter().partition(|t| authz.topic(Read, &t.name));
            request.topics = allowed;
            let denied_topics =
                refused.into_iter().map(|t| (t.name, t.partitions.iter().map(|p| p.partition_index).collect())).collect();
            Gate::Pass(Request::OffsetDelete { request, api_version, topics }, After::OffsetDelete(denied_topics))
        }
        Request::OffsetFetch { request, api_version } => offset_fetch(authz, request, api_version),
        Request::DescribeGroups { mut request, api_version } => {
            let operations = api_version >= DESCRIBE_OPERATIONS_MIN_VERSION && request.include_authorized_operations;
            let (allowed, denied): (Vec<GroupId>, Vec<GroupId>) =
                std::mem::take(&mut request.groups).into_iter().partition(|group| authz.group(Describe, group));
            request.groups = allowed;
            Gate::Pass(Request::DescribeGroups { request, api_version }, After::DescribeGroups { denied, operations })
        }
        Request::ListGroups { request, api_version } => {
            let describable_only = !authz.cluster(Describe);
            Gate::Pass(Request::ListGroups { request, api_version }, After::ListGroups { describable_only })
        }
        Request::DeleteGroups { mut request, api_version } => {
            let mut denied = Vec::new();
            request.groups_names.retain(|group| {
                let allowed = authz.group(Delete, group);
                if !allowed && !denied.contains(group) {
                    denied.push(group.clone());
                }
                allowed
            });
            Gate::Pass(Request::DeleteGroups { request, api_version }, After::DeleteGroups { denied })
        }
        other => Gate::Pass(other, After::Nothing),
    }
}

/// One group's topics: the describable ones stay in the request, the others are remembered.
fn split_fetch_topics<T>(authz: &Authz<'_>, topics: Option<Vec<T>>, parts: impl Fn(T) -> (TopicName, Vec<i32>), name: impl Fn(&T) -> &TopicName) -> (Option<Vec<T>>, FetchFix) {
    let Some(topics) = topics else {
        return (None, FetchFix { hide_undescribable: true, denied_topics: Vec::new() });
    };
    let (allowed, refused): (Vec<T>, Vec<T>) = topics.into_iter().partition(|t| authz.topic(Describe, name(t)));
    (Some(allowed), FetchFix { hide_undescribable: false, denied_topics: refused.into_iter().map(parts).collect() })
}

fn offset_fetch(authz: &Authz<'_>, mut request: OffsetFetchRequest, api_version: i16) -> Gate {
    let denied = ResponseError::GroupAuthorizationFailed.code();
    if api_version < OFFSET_FETCH_GROUPS_MIN_VERSION {
        if !authz.group(Describe, &request.group_id) {
            // v1 has no top-level error; Kafka's answer there is simply empty.
            let code = if api_version >= OFFSET_FETCH_ERROR_CODE_MIN_VERSION { denied } else { 0 };
            return Gate::Answer(ResponseKind::OffsetFetch(OffsetFetchResponse::default().with_error_code(code)));
        }
        let (topics, fix) = split_fetch_topics(authz, request.topics.take(), |t| (t.name, t.partition_indexes), |t| &t.name);
        request.topics = topics;
        let fixes = vec![(request.group_id.clone(), fix)];
        return Gate::Pass(Request::OffsetFetch { request, api_version }, After::OffsetFetch { batched: false, denied_groups: Vec::new(), fixes });
    }
    let mut denied_groups = Vec::new();
    let mut fixes = Vec::new();
    for (position, mut group) in std::mem::take(&mut request.groups).into_iter().enumerate() {
        if !authz.group(Describe, &group.group_id) {
            denied_groups.push((position, group.group_id));
            continue;
        }
        let (topics, fix) = split_fetch_topics(authz, group.topics.take(), |t| (t.name, t.partition_indexes), |t| &t.name);
        group.topics = topics;
        fixes.push((group.group_id.clone(), fix));
        request.groups.push(group);
    }
    if request.groups.is_empty() {
        let groups = denied_groups.into_iter().map(|(_, id)| group_error(id, denied)).collect();
        return Gate::Answer(ResponseKind::OffsetFetch(OffsetFetchResponse::default().with_groups(groups)));
    }
    Gate::Pass(Request::OffsetFetch { request, api_version }, After::OffsetFetch { batched: true, denied_groups, fixes })
}

impl After {
    /// Puts the denied resources' answers into the coordinator's response and applies the
    /// filters Kafka applies to it.
    pub fn apply(self, authz: &Authz<'_>, response: Response) -> Response {
        let topic_denied = ResponseError::TopicAuthorizationFailed.code();
        let group_denied = ResponseError::GroupAuthorizationFailed.code();
        match (self, response) {
            (After::OffsetCommit(denied), Response::OffsetCommit(mut r)) => {
                let mut topics = commit_errors(denied, topic_denied).topics;
                topics.append(&mut r.topics);
                Response::OffsetCommit(r.with_topics(topics))
            }
            (After::OffsetDelete(denied), Response::OffsetDelete(mut r)) => {
                if r.error_code == 0 {
                    let mut topics: Vec<OffsetDeleteResponseTopic> = denied
                        .into_iter()
                        .map(|(name, partitions)| {
                            let partitions = partitions
                                .into_iter()
                                .map(|index| OffsetDeleteResponsePartition::default().with_partition_index(index).with_error_code(topic_denied))
                                .collect();
                            OffsetDeleteResponseTopic::default().with_name(name).with_partitions(partitions)
                        })
                        .collect();
                    topics.append(&mut r.topics);
                    r.topics = topics;
                }
                Response::OffsetDelete(r)
            }
            (After::OffsetFetch { batched, denied_groups, mut fixes }, Response::OffsetFetch(mut r)) => {
                if !batched {
                    // Before v8: the single group's answer is at the top level.
                    if let Some((_, fix)) = fixes.pop() {
                        if r.error_code == 0 {
                            fix_fetch_topics(authz, fix, &mut r.topics, |t| &t.name, |name, partitions| {
                                let partitions = partitions
                                    .into_iter()
                                    .map(|index| unauthorized_offset(index, OffsetFetchResponsePartition::default()))
                                    .collect();
                                OffsetFetchResponseTopic::default().with_name(name).with_partitions(partitions)
                            });
                        }
                    }
                    return Response::OffsetFetch(r);
                }
                for group in &mut r.groups {
                    let Some(at) = fixes.iter().position(|(id, _)| *id == group.group_id) else { continue };
                    let (_, fix) = fixes.remove(at);
                    if group.error_code == 0 {
                        fix_fetch_topics(authz, fix, &mut group.topics, |t| &t.name, |name, partitions| {
                            let partitions = partitions.into_iter().map(unauthorized_offsets).collect();
                            OffsetFetchResponseTopics::default().with_name(name).with_partitions(partitions)
                        });
                    }
                }
                for (position, group_id) in denied_groups {
                    let at = position.min(r.groups.len());
                    r.groups.insert(at, group_error(group_id, group_denied));
                }
                Response::OffsetFetch(r)
            }
            (After::DescribeGroups { denied, operations }, Response::DescribeGroups(mut r)) => {
                for group in &mut r.groups {
                    group.authorized_operations = authorized_operations::group(authz, &group.group_id, operations && group.error_code == 0);
                }
                let mut groups: Vec<DescribedGroup> = denied
                    .into_iter()
                    .map(|group_id| DescribedGroup::default().with_group_id(group_id).with_error_code(group_denied))
                    .collect();
                groups.append(&mut r.groups);
                Response::DescribeGroups(r.with_groups(groups))
            }
            (After::ListGroups { describable_only: true }, Response::ListGroups(mut r)) => {
                r.groups.retain(|group| authz.group(Describe, &group.group_id));
                Response::ListGroups(r)
            }
            (After::DeleteGroups { denied }, Response::DeleteGroups(mut r)) => {
                r.results.extend(
                    denied.into_iter().map(|group_id| DeletableGroupResult::default().with_group_id(group_id).with_error_code(group_denied)),
                );
                Response::DeleteGroups(r)
            }
            (_, response) => response,
        }
    }
}

/// Hides undescribable topics of an all-topics answer, or appends the denied topics' answers.
fn fix_fetch_topics<T>(authz: &Authz<'_>, fix: FetchFix, topics: &mut Vec<T>, name: impl Fn(&T) -> &TopicName, denied: impl Fn(TopicName, Vec<i32>) -> T) {
    if fix.hide_undescribable {
        topics.retain(|topic| authz.topic(Describe, name(topic)));
    }
    topics.extend(fix.denied_topics.into_iter().map(|(topic, partitions)| denied(topic, partitions)));
}

fn unauthorized_offset(index: i32, partition: OffsetFetchResponsePartition) -> OffsetFetchResponsePartition {
    partition.with_partition_index(index).with_committed_offset(-1).with_error_code(ResponseError::TopicAuthorizationFailed.code())
}

fn unauthorized_offsets(index: i32) -> OffsetFetchResponsePartitions {
    OffsetFetchResponsePartitions::default()
        .with_partition_index(index)
        .with_committed_offset(-1)
        .with_error_code(ResponseError::TopicAuthorizationFailed.code())
}

fn group_error(group_id: GroupId, code: i16) -> OffsetFetchResponseGroup {
    OffsetFetchResponseGroup::default().with_group_id(group_id).with_error_code(code)
}

fn commit_errors(topics: DeniedTopics, code: i16) -> OffsetCommitResponse {
    let topics = topics
        .into_iter()
        .map(|(name, partitions)| {
            let partitions = partitions
                .into_iter()
                .map(|index| OffsetCommitResponsePartition::default().with_partition_index(index).with_error_code(code))
                .collect();
            OffsetCommitResponseTopic::default().with_name(name).with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}
