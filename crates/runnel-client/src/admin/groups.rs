//! Consumer groups: list, describe, delete.
//!
//! Owns: the group views (`GroupListing`, `GroupDescription`, `MemberDescription`) and the
//! coordinator round trip shared by every group call: find the group's coordinator, send,
//! and on NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE / COORDINATOR_LOAD_IN_PROGRESS forget
//! it and try again within the API timeout. Member assignments of consumer groups are
//! decoded from the embedded consumer protocol, as Kafka's admin does.

use std::collections::BTreeMap;
use std::future::Future;

use bytes::Bytes;
use kafka_protocol::messages::{DeleteGroupsRequest, DescribeGroupsRequest, GroupId, ListGroupsRequest};
use kafka_protocol::protocol::StrBytes;

use super::topics::missing;
use super::Admin;
use crate::cluster::CoordinatorKind;
use crate::conn::Connection;
use crate::consumer::protocol::{decode_assignment, decode_subscription, PROTOCOL_TYPE};
use crate::consumer::TopicPartition;
use crate::error::{Error, Result};

const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const NOT_COORDINATOR: i16 = 16;
/// Offsets of a transaction still in flight; asking again shortly succeeds.
const UNSTABLE_OFFSET_COMMIT: i16 = 88;

/// One group as ListGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    pub group_id: String,
    /// `consumer` for consumer groups; other protocols (Connect, Streams) name their own.
    pub protocol_type: String,
    /// `Stable`, `Empty`, ...; reported since ListGroups v4.
    pub state: Option<String>,
    /// `Classic` or `Consumer`; reported since ListGroups v5.
    pub group_type: Option<String>,
}

/// A group's state and members, from its coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub group_id: String,
    /// Kafka's state names: `Stable`, `Empty`, `PreparingRebalance`, `CompletingRebalance`,
    /// `Dead` (an unknown group, before DescribeGroups v6).
    pub state: String,
    pub protocol_type: String,
    /// The chosen assignor (`range`, `cooperative-sticky`, ...) while the group is active.
    pub assignor: String,
    pub members: Vec<MemberDescription>,
    pub coordinator_id: i32,
    /// `host:port` of the coordinator.
    pub coordinator_addr: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    /// As the broker saw it: `/127.0.0.1`.
    pub host: String,
    /// The member's partitions, decoded for consumer groups (empty otherwise).
    pub assignment: Vec<TopicPartition>,
    /// The topics the member subscribed to, decoded for consumer groups.
    pub subscribed_topics: Vec<String>,
    pub raw_metadata: Bytes,
    pub raw_assignment: Bytes,
}

impl Admin {
    /// Every group on every broker, sorted by id.
    pub async fn list_groups(&self) -> Result<Vec<GroupListing>> {
        let metadata = self.cluster.refresh(Some(&[]), false).await?;
        let mut groups = BTreeMap::new();
        for &node_id in metadata.brokers.keys() {
            let retry = self.retry();
            let response = loop {
                let outcome = match self.cluster.broker(node_id).await {
                    Ok(connection) => connection.send(ListGroupsRequest::default()).await,
                    Err(error) => Err(error),
                };
                let error = match outcome {
                    Ok(response) if response.error_code == COORDINATOR_LOAD_IN_PROGRESS => {
                        Error::kafka(response.error_code, None, format!("list groups on broker {node_id}"))
                    }
                    Ok(response) => break response,
                    Err(error) if error.is_retriable() => error,
                    Err(error) => return Err(error),
                };
                retry.pause(error).await?;
            };
            crate::error::check(response.error_code, None, format!("list groups on broker {node_id}"))?;
            for group in response.groups {
                let listing = GroupListing {
                    group_id: group.group_id.0.to_string(),
                    protocol_type: group.protocol_type.to_string(),
                    state: (!group.group_state.is_empty()).then(|| group.group_state.to_string()),
                    group_type: (!group.group_type.is_empty()).then(|| group.group_type.to_string()),
                };
                groups.insert(listing.group_id.clone(), listing);
            }
        }
        Ok(groups.into_values().collect())
    }

    /// State, assignor and members of each group; one result per group.
    ///
    /// ```no_run
    /// use runnel_client::admin::Admin;
    ///
    /// # async fn run(admin: Admin) -> runnel_client::Result<()> {
    /// let groups = ["billing".to_string()];
    /// for (group, described) in admin.describe_groups(&groups).await? {
    ///     let described = described?;
    ///     println!("{group}: {} with {} members", described.state, described.members.len());
    ///     for member in &described.members {
    ///         println!("  {} {} {:?}", member.client_id, member.host, member.assignment);
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn describe_groups(&self, groups: &[String]) -> Result<BTreeMap<String, Result<GroupDescription>>> {
        let mut results = BTreeMap::new();
        for group in groups {
            let result = self
                .coordinated(group, |node_id, connection| async move {
                    let request = DescribeGroupsRequest::default().with_groups(vec![group_id(group)]);
                    let response = connection.send(request).await?;
                    let described = response
                        .groups
                        .into_iter()
                        .find(|g| g.group_id.0.as_str() == group.as_str())
                        .ok_or_else(|| missing("DescribeGroups", group))?;
                    if described.error_code != 0 {
                        let message = described.error_message.map(|m| m.to_string());
                        return Err(Error::kafka(described.error_code, message, format!("describe group {group}")));
                    }
                    let consumer = described.protocol_type.as_str() == PROTOCOL_TYPE;
                    let members = described.members.into_iter().map(|m| member(m, consumer, group)).collect();
                    Ok(GroupDescription {
                        group_id: group.clone(),
                        state: described.group_state.to_string(),
                        protocol_type: described.protocol_type.to_string(),
                        assignor: described.protocol_data.to_string(),
                        members,
                        coordinator_id: node_id,
                        coordinator_addr: connection.addr().to_string(),
                    })
                })
                .await;
            results.insert(group.clone(), result);
        }
        Ok(results)
    }

    /// Deletes groups that have no members; one result per group (NON_EMPTY_GROUP,
    /// GROUP_ID_NOT_FOUND, ...).
    pub async fn delete_groups(&self, groups: &[String]) -> Result<BTreeMap<String, Result<()>>> {
        let mut results = BTreeMap::new();
        for group in groups {
            let result = self
                .coordinated(group, |_, connection| async move {
                    let request = DeleteGroupsRequest::default().with_groups_names(vec![group_id(group)]);
                    let response = connection.send(request).await?;
                    let result = response
                        .results
                        .into_iter()
                        .find(|r| r.group_id.0.as_str() == group.as_str())
                        .ok_or_else(|| missing("DeleteGroups", group))?;
                    crate::error::check(result.error_code, None, format!("delete group {group}"))
                })
                .await;
            results.insert(group.clone(), result);
        }
        Ok(results)
    }

    /// Runs `call` against the group's coordinator, finding it again after the errors that
    /// mean it moved or is loading (and waiting out UNSTABLE_OFFSET_COMMIT), until the API
    /// timeout.
    pub(super) async fn coordinated<T, F, Fut>(&self, group: &str, mut call: F) -> Result<T>
    where
        F: FnMut(i32, Connection) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let retry = self.retry();
        loop {
            let outcome = match self.cluster.coordinator(CoordinatorKind::Group, group).await {
                Ok((node_id, connection)) => call(node_id, connection).await,
                Err(error) => Err(error),
            };
            let error = match outcome {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            match error.code() {
                Some(NOT_COORDINATOR | COORDINATOR_NOT_AVAILABLE) => {
                    self.cluster.invalidate_coordinator(CoordinatorKind::Group, group)
                }
                Some(COORDINATOR_LOAD_IN_PROGRESS | UNSTABLE_OFFSET_COMMIT) => {}
                _ if error.is_retriable() && error.code().is_none() => {
                    self.cluster.invalidate_coordinator(CoordinatorKind::Group, group)
                }
                _ => return Err(error),
            }
            retry.pause(error).await?;
        }
    }
}

pub(super) fn group_id(group: &str) -> GroupId {
    GroupId(StrBytes::from_string(group.to_string()))
}

fn member(
    m: kafka_protocol::messages::describe_groups_response::DescribedGroupMember,
    consumer: bool,
    group: &str,
) -> MemberDescription {
    let (assignment, subscribed_topics) = if consumer {
        // A member's bytes come from its client, not the broker: one that cannot be read
        // leaves that member's partitions unknown rather than failing the whole describe.
        let assignment = decode_assignment(&m.member_assignment).unwrap_or_else(|error| {
            tracing::debug!("group {group}: member {}: {error}", m.member_id);
            Vec::new()
        });
        let topics = if m.member_metadata.is_empty() {
            Vec::new()
        } else {
            decode_subscription(&m.member_metadata).map(|s| s.topics.into_iter().collect()).unwrap_or_default()
        };
        (assignment, topics)
    } else {
        (Vec::new(), Vec::new())
    };
    MemberDescription {
        member_id: m.member_id.to_string(),
        group_instance_id: m.group_instance_id.map(|i| i.to_string()),
        client_id: m.client_id.to_string(),
        host: m.client_host.to_string(),
        assignment,
        subscribed_topics,
        raw_metadata: m.member_metadata,
        raw_assignment: m.member_assignment,
    }
}
