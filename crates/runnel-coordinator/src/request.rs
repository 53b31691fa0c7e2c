//! What the broker hands the coordinator and what it gets back: requests (the decoded
//! kafka-protocol request plus what Kafka reads from the request context or the metadata
//! cache), responses, and the request summary used to answer a request whose records could
//! not be written.

use std::collections::BTreeMap;

use runnel_protocol::kafka_protocol::messages::{
    ApiKey, DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, ListGroupsRequest, ListGroupsResponse, OffsetCommitRequest, OffsetCommitResponse,
    OffsetDeleteRequest, OffsetDeleteResponse, OffsetFetchRequest, OffsetFetchResponse, SyncGroupRequest,
    SyncGroupResponse,
};

/// The API versions `handle` implements: Kafka 4's classic-group ranges (OffsetCommit and
/// OffsetFetch from 2 and 1, as Kafka 4 serves them; DescribeGroups up to 6, whose only change
/// is GROUP_ID_NOT_FOUND for unknown groups). Versions outside are the broker's to refuse.
pub const SERVED_VERSIONS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 6),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::OffsetDelete, 0, 0),
];

/// The broker's token for a request. Responses to held requests come back tagged with it, so
/// it must be unique among the requests the broker is holding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// The topics and partition counts the broker knows, for the topics a request names. Kafka
/// checks topic and partition existence in `KafkaApis` before the coordinator sees an
/// OffsetCommit or OffsetDelete; Runnel's broker looks the topics up (see
/// [`Request::topics_to_look_up`]) and passes the result in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownTopics {
    partition_counts: BTreeMap<String, i32>,
}

impl KnownTopics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `topic` exists with `partition_count` partitions.
    pub fn insert(&mut self, topic: impl Into<String>, partition_count: i32) {
        self.partition_counts.insert(topic.into(), partition_count);
    }

    /// Builder form of [`KnownTopics::insert`].
    pub fn with(mut self, topic: impl Into<String>, partition_count: i32) -> Self {
        self.insert(topic, partition_count);
        self
    }

    pub fn contains_topic(&self, topic: &str) -> bool {
        self.partition_counts.contains_key(topic)
    }

    pub fn contains(&self, topic: &str, partition: i32) -> bool {
        self.partition_counts.get(topic).is_some_and(|count| partition >= 0 && partition < *count)
    }
}

/// A request for the coordinator: the decoded kafka-protocol request and its API version,
/// plus what Kafka takes from elsewhere.
#[derive(Debug, Clone)]
pub enum Request {
    /// `client_id` (request header) and `client_host` (peer address, formatted like Java's
    /// `InetAddress.toString()`, e.g. "/127.0.0.1") are stored with the member.
    JoinGroup {
        request: JoinGroupRequest,
        api_version: i16,
        client_id: String,
        client_host: String,
    },
    SyncGroup {
        request: SyncGroupRequest,
        api_version: i16,
    },
    Heartbeat {
        request: HeartbeatRequest,
        api_version: i16,
    },
    LeaveGroup {
        request: LeaveGroupRequest,
        api_version: i16,
    },
    /// `topics`: what the broker knows of the topics the request names.
    OffsetCommit {
        request: OffsetCommitRequest,
        api_version: i16,
        topics: KnownTopics,
    },
    OffsetFetch {
        request: OffsetFetchRequest,
        api_version: i16,
    },
    DescribeGroups {
        request: DescribeGroupsRequest,
        api_version: i16,
    },
    ListGroups {
        request: ListGroupsRequest,
        api_version: i16,
    },
    DeleteGroups {
        request: DeleteGroupsRequest,
        api_version: i16,
    },
    /// `topics`: what the broker knows of the topics the request names.
    OffsetDelete {
        request: OffsetDeleteRequest,
        api_version: i16,
        topics: KnownTopics,
    },
}

/// A response, to be encoded by the broker with the request's API version.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    JoinGroup(JoinGroupResponse),
    SyncGroup(SyncGroupResponse),
    Heartbeat(HeartbeatResponse),
    LeaveGroup(LeaveGroupResponse),
    OffsetCommit(OffsetCommitResponse),
    OffsetFetch(OffsetFetchResponse),
    DescribeGroups(DescribeGroupsResponse),
    ListGroups(ListGroupsResponse),
    DeleteGroups(DeleteGroupsResponse),
    OffsetDelete(OffsetDeleteResponse),
}

/// What [`crate::GroupCoordinator::failed_write`] needs to shape an error response; take it
/// with [`Request::kind`] before handing the request to `handle`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    JoinGroup {
        api_version: i16,
    },
    SyncGroup,
    Heartbeat,
    LeaveGroup,
    /// Each topic's partitions, flagged with whether the broker knows them.
    OffsetCommit {
        topics: Vec<(String, Vec<(i32, bool)>)>,
    },
    OffsetFetch {
        api_version: i16,
        group_ids: Vec<String>,
    },
    DescribeGroups {
        group_ids: Vec<String>,
    },
    ListGroups,
    DeleteGroups {
        group_ids: Vec<String>,
    },
    OffsetDelete,
}

impl Request {
    pub fn api_version(&self) -> i16 {
        match self {
            Request::JoinGroup { api_version, .. }
            | Request::SyncGroup { api_version, .. }
            | Request::Heartbeat { api_version, .. }
            | Request::LeaveGroup { api_version, .. }
            | Request::OffsetCommit { api_version, .. }
            | Request::OffsetFetch { api_version, .. }
            | Request::DescribeGroups { api_version, .. }
            | Request::ListGroups { api_version, .. }
            | Request::DeleteGroups { api_version, .. }
            | Request::OffsetDelete { api_version, .. } => *api_version,
        }
    }

    /// The topics whose existence the broker must look up and pass in [`KnownTopics`].
    pub fn topics_to_look_up(&self) -> Vec<String> {
        let mut topics: Vec<String> = match self {
            Request::OffsetCommit { request, .. } => {
                request.topics.iter().map(|t| t.name.as_str().to_owned()).collect()
            }
            Request::OffsetDelete { request, .. } => {
                request.topics.iter().map(|t| t.name.as_str().to_owned()).collect()
            }
            _ => Vec::new(),
        };
        topics.sort();
        topics.dedup();
        topics
    }

    /// The summary `failed_write` needs.
    pub fn kind(&self) -> RequestKind {
        match self {
            Request::JoinGroup { api_version, .. } => RequestKind::JoinGroup { api_version: *api_version },
            Request::SyncGroup { .. } => RequestKind::SyncGroup,
            Request::Heartbeat { .. } => RequestKind::Heartbeat,
            Request::LeaveGroup { .. } => RequestKind::LeaveGroup,
            Request::OffsetCommit { request, topics, .. } => RequestKind::OffsetCommit {
                topics: request
                    .topics
                    .iter()
                    .map(|t| {
                        let name = t.name.as_str();
                        let partitions = t
                            .partitions
                            .iter()
                            .map(|p| (p.partition_index, topics.contains(name, p.partition_index)))
                            .collect();
                        (name.to_owned(), partitions)
                    })
                    .collect(),
            },
            Request::OffsetFetch { request, api_version } => RequestKind::OffsetFetch {
                api_version: *api_version,
                group_ids: if *api_version >= 8 {
                    request.groups.iter().map(|g| g.group_id.as_str().to_owned()).collect()
                } else {
                    vec![request.group_id.as_str().to_owned()]
                },
            },
            Request::DescribeGroups { request, .. } => RequestKind::DescribeGroups {
                group_ids: request.groups.iter().map(|g| g.as_str().to_owned()).collect(),
            },
            Request::ListGroups { .. } => RequestKind::ListGroups,
            Request::DeleteGroups { request, .. } => RequestKind::DeleteGroups {
                group_ids: request.groups_names.iter().map(|g| g.as_str().to_owned()).collect(),
            },
            Request::OffsetDelete { .. } => RequestKind::OffsetDelete,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_topics_check_partition_ranges() {
        let topics = KnownTopics::new().with("t", 3);
        assert!(topics.contains("t", 0));
        assert!(topics.contains("t", 2));
        assert!(!topics.contains("t", 3));
        assert!(!topics.contains("t", -1));
        assert!(!topics.contains("u", 0));
        assert!(topics.contains_topic("t"));
    }
}
