//! Offsets of partitions: earliest, latest, by timestamp and of the record with the largest
//! timestamp (ListOffsets).
//!
//! Owns: `OffsetSpec` and `ListedOffset`, and sending one ListOffsets per partition leader.
//! Leadership errors refresh metadata and retry the partitions they concern, within the API
//! timeout; a partition that does not exist fails at once.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{ApiKey, BrokerId, ListOffsetsRequest};

use super::topics::topic_name;
use super::Admin;
use crate::consumer::TopicPartition;
use crate::error::{Error, Result};

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const LEADER_NOT_AVAILABLE: i16 = 5;
const NOT_LEADER_OR_FOLLOWER: i16 = 6;
const FENCED_LEADER_EPOCH: i16 = 74;
const UNKNOWN_LEADER_EPOCH: i16 = 75;
const OFFSET_NOT_AVAILABLE: i16 = 78;
/// Errors after which the leader is looked up again (Kafka's retriable ListOffsets errors).
const LEADERSHIP_ERRORS: [i16; 6] = [
    UNKNOWN_TOPIC_OR_PARTITION,
    LEADER_NOT_AVAILABLE,
    NOT_LEADER_OR_FOLLOWER,
    FENCED_LEADER_EPOCH,
    UNKNOWN_LEADER_EPOCH,
    OFFSET_NOT_AVAILABLE,
];
const READ_UNCOMMITTED: i8 = 0;
/// ListOffsets v7 is the first that answers MaxTimestamp (KIP-734).
const MAX_TIMESTAMP_VERSION: i16 = 7;

/// Which offset of a partition to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The log end offset (the high watermark; with read_committed, the last stable offset).
    Latest,
    /// The offset of the record with the largest timestamp.
    MaxTimestamp,
    /// The first offset whose record timestamp is at or after this many ms since the epoch.
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire_timestamp(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::MaxTimestamp => -3,
            OffsetSpec::Timestamp(ms) => ms,
        }
    }
}

/// A ListOffsets answer for one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// `None` when no record matches (a timestamp after the last record's).
    pub offset: Option<i64>,
    /// The matched record's timestamp for `Timestamp` and `MaxTimestamp`; otherwise -1.
    pub timestamp: i64,
    pub leader_epoch: Option<i32>,
}

impl Admin {
    /// Looks up one offset per partition; one result per partition. Offsets are read as
    /// `read_uncommitted` sees them (`Latest` is the high watermark), as Kafka's tools do.
    ///
    /// ```no_run
    /// use std::collections::BTreeMap;
    /// use runnel_client::admin::{Admin, OffsetSpec, TopicPartition};
    ///
    /// # async fn run(admin: Admin) -> runnel_client::Result<()> {
    /// let specs = BTreeMap::from([
    ///     (TopicPartition::new("orders", 0), OffsetSpec::Earliest),
    ///     (TopicPartition::new("orders", 1), OffsetSpec::Latest),
    /// ]);
    /// for (tp, listed) in admin.list_offsets(&specs).await? {
    ///     println!("{tp}: {:?}", listed?.offset);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn list_offsets(
        &self,
        specs: &BTreeMap<TopicPartition, OffsetSpec>,
    ) -> Result<BTreeMap<TopicPartition, Result<ListedOffset>>> {
        let mut results = BTreeMap::new();
        let mut pending: BTreeSet<TopicPartition> = specs.keys().cloned().collect();
        let retry = self.retry();
        while !pending.is_empty() {
            let topics: Vec<String> =
                pending.iter().map(|tp| tp.topic.clone()).collect::<BTreeSet<_>>().into_iter().collect();
            let metadata = self.cluster.refresh(Some(&topics), false).await?;
            let mut by_leader: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
            let mut last_error = None;
            for tp in &pending {
                let unknown = || Err(Error::kafka(UNKNOWN_TOPIC_OR_PARTITION, None, format!("list offsets of {tp}")));
                let Some(topic) = metadata.topics.get(&tp.topic) else {
                    results.insert(tp.clone(), unknown());
                    continue;
                };
                if topic.error_code == UNKNOWN_TOPIC_OR_PARTITION {
                    results.insert(tp.clone(), unknown());
                    continue;
                }
                if topic.error_code != 0 {
                    let error = Error::kafka(topic.error_code, None, format!("list offsets of {tp}"));
                    if error.is_retriable() {
                        last_error = Some(error);
                    } else {
                        results.insert(tp.clone(), Err(error));
                    }
                    continue;
                }
                match topic.partitions.iter().find(|p| p.partition == tp.partition) {
                    None => {
                        results.insert(tp.clone(), unknown());
                    }
                    Some(p) if p.leader >= 0 => by_leader.entry(p.leader).or_default().push(tp.clone()),
                    Some(_) => {
                        last_error = Some(Error::kafka(LEADER_NOT_AVAILABLE, None, format!("list offsets of {tp}")))
                    }
                }
            }
            for (leader, partitions) in by_leader {
                match self.list_offsets_on(leader, &partitions, specs).await {
                    Ok(answers) => {
                        for (tp, answer) in answers {
                            match answer {
                                Err(error) if error.code().is_some_and(|c| LEADERSHIP_ERRORS.contains(&c)) => {
                                    last_error = Some(error)
                                }
                                other => {
                                    results.insert(tp, other);
                                }
                            }
                        }
                    }
                    Err(error) if error.is_retriable() => last_error = Some(error),
                    Err(error) => return Err(error),
                }
            }
            pending.retain(|tp| !results.contains_key(tp));
            if pending.is_empty() {
                break;
            }
            let Some(error) = last_error else {
                for tp in std::mem::take(&mut pending) {
                    let error = super::topics::missing("ListOffsets", &tp.to_string());
                    results.insert(tp, Err(error));
                }
                break;
            };
            if let Err(error) = retry.pause(error).await {
                for tp in std::mem::take(&mut pending) {
                    results.insert(tp, Err(clone_error(&error)));
                }
            }
        }
        Ok(results)
    }

    async fn list_offsets_on(
        &self,
        leader: i32,
        partitions: &[TopicPartition],
        specs: &BTreeMap<TopicPartition, OffsetSpec>,
    ) -> Result<Vec<(TopicPartition, Result<ListedOffset>)>> {
        let connection = self.cluster.broker(leader).await?;
        let version = connection.version(ApiKey::ListOffsets)?;
        let mut answers = Vec::new();
        let mut by_topic: BTreeMap<&str, Vec<ListOffsetsPartition>> = BTreeMap::new();
        for tp in partitions {
            let spec = specs.get(tp).copied().unwrap_or(OffsetSpec::Latest);
            if spec == OffsetSpec::MaxTimestamp && version < MAX_TIMESTAMP_VERSION {
                let error = Error::UnsupportedVersion {
                    api: format!("ListOffsets v{version} for MaxTimestamp"),
                    broker: connection.addr().to_string(),
                };
                answers.push((tp.clone(), Err(error)));
                continue;
            }
            by_topic.entry(&tp.topic).or_default().push(
                ListOffsetsPartition::default()
                    .with_partition_index(tp.partition)
                    .with_current_leader_epoch(-1)
                    .with_timestamp(spec.wire_timestamp()),
            );
        }
        if by_topic.is_empty() {
            return Ok(answers);
        }
        let request = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_isolation_level(READ_UNCOMMITTED)
            .with_topics(
                by_topic
                    .into_iter()
                    .map(|(topic, partitions)| {
                        ListOffsetsTopic::default().with_name(topic_name(topic)).with_partitions(partitions)
                    })
                    .collect(),
            )
            .with_timeout_ms(self.api_timeout_ms());
        let response = connection.send(request).await?;
        for topic in response.topics {
            for p in topic.partitions {
                let tp = TopicPartition::new(topic.name.0.to_string(), p.partition_index);
                let answer =
                    crate::error::check(p.error_code, None, format!("list offsets of {tp}")).map(|()| ListedOffset {
                        offset: (p.offset >= 0).then_some(p.offset),
                        timestamp: p.timestamp,
                        leader_epoch: (p.leader_epoch >= 0).then_some(p.leader_epoch),
                    });
                answers.push((tp, answer));
            }
        }
        Ok(answers)
    }
}

/// `Error` holds an `io::Error` and so is not `Clone`; partitions that share one failure
/// each get a copy that keeps its code and text.
pub(super) fn clone_error(error: &Error) -> Error {
    match error {
        Error::Kafka { code, message, context, .. } => Error::kafka(*code, message.clone(), context.clone()),
        Error::Timeout(text) => Error::Timeout(text.clone()),
        Error::NotFound(text) => Error::NotFound(text.clone()),
        Error::Config(text) => Error::Config(text.clone()),
        other => Error::Protocol(other.to_string()),
    }
}
