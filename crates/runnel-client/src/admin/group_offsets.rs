//! A consumer group's committed offsets: read (OffsetFetch), set (OffsetCommit from outside
//! the group) and delete (OffsetDelete).
//!
//! Owns: the three coordinator calls (committed positions are the consumer's
//! `OffsetAndMetadata`). Setting offsets commits with
//! generation -1 and an empty member id, as Kafka's `Admin.alterConsumerGroupOffsets` does:
//! the coordinator accepts that only while the group has no active members.

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_delete_request::{OffsetDeleteRequestPartition, OffsetDeleteRequestTopic};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{ApiKey, OffsetCommitRequest, OffsetDeleteRequest, OffsetFetchRequest};
use kafka_protocol::protocol::StrBytes;

use super::groups::group_id;
use super::offsets::clone_error;
use super::topics::{missing, topic_name};
use super::Admin;
use crate::consumer::{OffsetAndMetadata, TopicPartition};
use crate::error::{check, Error, Result};

/// OffsetFetch v8 batches groups (KIP-709) and moves the group's error into `groups`.
const OFFSET_FETCH_BATCHED_VERSION: i16 = 8;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const NOT_COORDINATOR: i16 = 16;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;

impl Admin {
    /// The group's committed offsets: of the given partitions, or of every partition it has
    /// committed when `partitions` is `None`. Partitions without a commit are left out.
    pub async fn list_group_offsets(
        &self,
        group: &str,
        partitions: Option<&[TopicPartition]>,
    ) -> Result<BTreeMap<TopicPartition, OffsetAndMetadata>> {
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for tp in partitions.unwrap_or_default() {
            by_topic.entry(&tp.topic).or_default().push(tp.partition);
        }
        let by_topic = &by_topic;
        let asked_all = partitions.is_none();
        self.coordinated(group, |_, connection| async move {
            let version = connection.version(ApiKey::OffsetFetch)?;
            let mut request = OffsetFetchRequest::default();
            // (topic, partition, offset, leader epoch, metadata, error)
            let mut rows: Vec<(String, i32, i64, i32, Option<StrBytes>, i16)> = Vec::new();
            if version >= OFFSET_FETCH_BATCHED_VERSION {
                let topics = (!asked_all).then(|| {
                    by_topic
                        .iter()
                        .map(|(t, ps)| {
                            OffsetFetchRequestTopics::default()
                                .with_name(topic_name(t))
                                .with_partition_indexes(ps.clone())
                        })
                        .collect()
                });
                request.groups =
                    vec![OffsetFetchRequestGroup::default().with_group_id(group_id(group)).with_topics(topics)];
                let response = connection.send(request).await?;
                let answer = response
                    .groups
                    .into_iter()
                    .find(|g| g.group_id.0.as_str() == group)
                    .ok_or_else(|| missing("OffsetFetch", group))?;
                check(answer.error_code, None, format!("fetch offsets of group {group}"))?;
                for t in answer.topics {
                    for p in t.partitions {
                        rows.push((
                            t.name.0.to_string(),
                            p.partition_index,
                            p.committed_offset,
                            p.committed_leader_epoch,
                            p.metadata,
                            p.error_code,
                        ));
                    }
                }
            } else {
                request.group_id = group_id(group);
                request.topics = (!asked_all).then(|| {
                    by_topic
                        .iter()
                        .map(|(t, ps)| {
                            OffsetFetchRequestTopic::default()
                                .with_name(topic_name(t))
                                .with_partition_indexes(ps.clone())
                        })
                        .collect()
                });
                let response = connection.send(request).await?;
                check(response.error_code, None, format!("fetch offsets of group {group}"))?;
                for t in response.topics {
                    for p in t.partitions {
                        rows.push((
                            t.name.0.to_string(),
                            p.partition_index,
                            p.committed_offset,
                            p.committed_leader_epoch,
                            p.metadata,
                            p.error_code,
                        ));
                    }
                }
            }
            let mut offsets = BTreeMap::new();
            for (topic, partition, offset, leader_epoch, metadata, error_code) in rows {
                let tp = TopicPartition::new(topic, partition);
                match error_code {
                    0 => {}
                    // Asked about a partition that does not exist: it has no offset.
                    UNKNOWN_TOPIC_OR_PARTITION => continue,
                    // Coordinator moves and pending transactional commits (UNSTABLE_OFFSET_COMMIT)
                    // concern the whole call: `coordinated` retries it.
                    code => return Err(Error::kafka(code, None, format!("fetch offset of {tp} for group {group}"))),
                }
                if offset < 0 {
                    continue;
                }
                offsets.insert(
                    tp,
                    OffsetAndMetadata {
                        offset,
                        leader_epoch: (leader_epoch >= 0).then_some(leader_epoch),
                        metadata: metadata.map(|m| m.to_string()).unwrap_or_default(),
                    },
                );
            }
            Ok(offsets)
        })
        .await
    }

    /// Sets the group's committed offsets from outside the group; one result per partition.
    /// The coordinator refuses (UNKNOWN_MEMBER_ID) while the group has active members.
    ///
    /// ```no_run
    /// use std::collections::BTreeMap;
    /// use runnel_client::admin::{Admin, OffsetAndMetadata, TopicPartition};
    ///
    /// # async fn run(admin: Admin) -> runnel_client::Result<()> {
    /// // Rewind an idle group to the start of partition 0.
    /// let offsets = BTreeMap::from([(TopicPartition::new("orders", 0), OffsetAndMetadata::new(0))]);
    /// for (tp, result) in admin.alter_group_offsets("billing", &offsets).await? {
    ///     result.map_err(|e| println!("{tp}: {e}")).ok();
    /// }
    /// let committed = admin.list_group_offsets("billing", None).await?;
    /// assert_eq!(committed[&TopicPartition::new("orders", 0)].offset, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn alter_group_offsets(
        &self,
        group: &str,
        offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let mut by_topic: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for (tp, committed) in offsets {
            by_topic.entry(&tp.topic).or_default().push(
                OffsetCommitRequestPartition::default()
                    .with_partition_index(tp.partition)
                    .with_committed_offset(committed.offset)
                    .with_committed_leader_epoch(committed.leader_epoch.unwrap_or(-1))
                    .with_committed_metadata(Some(StrBytes::from_string(committed.metadata.clone()))),
            );
        }
        let topics: Vec<OffsetCommitRequestTopic> = by_topic
            .into_iter()
            .map(|(topic, partitions)| {
                OffsetCommitRequestTopic::default().with_name(topic_name(topic)).with_partitions(partitions)
            })
            .collect();
        let topics = &topics;
        self.coordinated(group, |_, connection| async move {
            let request = OffsetCommitRequest::default()
                .with_group_id(group_id(group))
                .with_generation_id_or_member_epoch(-1)
                .with_member_id(StrBytes::from_static_str(""))
                .with_group_instance_id(None)
                .with_retention_time_ms(-1)
                .with_topics(topics.clone());
            let response = connection.send(request).await?;
            let mut results = BTreeMap::new();
            for t in response.topics {
                for p in t.partitions {
                    let tp = TopicPartition::new(t.name.0.to_string(), p.partition_index);
                    let result = check(p.error_code, None, format!("commit offset of {tp} for group {group}"));
                    // A coordinator error on any partition concerns the whole request:
                    // give it to `coordinated`, which finds the coordinator and resends.
                    if let Err(error) = &result {
                        if matches!(
                            p.error_code,
                            NOT_COORDINATOR | COORDINATOR_NOT_AVAILABLE | COORDINATOR_LOAD_IN_PROGRESS
                        ) {
                            return Err(clone_error(error));
                        }
                    }
                    results.insert(tp, result);
                }
            }
            Ok(results)
        })
        .await
        .map(|mut results| {
            for tp in offsets.keys() {
                if !results.contains_key(tp) {
                    results.insert(tp.clone(), Err(missing("OffsetCommit", &tp.to_string())));
                }
            }
            results
        })
    }

    /// Deletes the group's committed offsets of these partitions; one result per partition.
    /// A group-level refusal (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP...) fails the whole call;
    /// GROUP_SUBSCRIBED_TO_TOPIC comes per partition.
    pub async fn delete_group_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let mut by_topic: BTreeMap<&str, Vec<OffsetDeleteRequestPartition>> = BTreeMap::new();
        for tp in partitions {
            by_topic
                .entry(&tp.topic)
                .or_default()
                .push(OffsetDeleteRequestPartition::default().with_partition_index(tp.partition));
        }
        let topics: Vec<OffsetDeleteRequestTopic> = by_topic
            .into_iter()
            .map(|(topic, partitions)| {
                OffsetDeleteRequestTopic::default().with_name(topic_name(topic)).with_partitions(partitions)
            })
            .collect();
        let topics = &topics;
        let mut results = self
            .coordinated(group, |_, connection| async move {
                let request = OffsetDeleteRequest::default().with_group_id(group_id(group)).with_topics(topics.clone());
                let response = connection.send(request).await?;
                check(response.error_code, None, format!("delete offsets of group {group}"))?;
                let mut results = BTreeMap::new();
                for t in response.topics {
                    for p in t.partitions {
                        let tp = TopicPartition::new(t.name.0.to_string(), p.partition_index);
                        let result = check(p.error_code, None, format!("delete offset of {tp} for group {group}"));
                        results.insert(tp, result);
                    }
                }
                Ok(results)
            })
            .await?;
        for tp in partitions {
            if !results.contains_key(tp) {
                results.insert(tp.clone(), Err(missing("OffsetDelete", &tp.to_string())));
            }
        }
        Ok(results)
    }
}
