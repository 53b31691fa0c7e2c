//! Offset look-ups by time: the earliest and latest offsets and `offsets_for_times`, through
//! ListOffsets to each partition's leader (Kafka's `OffsetFetcher`).
//!
//! Owns: grouping partitions by leader, the per-partition error handling (a moved leader
//! means refresh metadata and ask again, until the deadline), and the special timestamps.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::codes;
use super::record::TopicPartition;
use crate::cluster::Cluster;
use crate::error::{Error, Result};

/// ListOffsets timestamp asking for the log start offset.
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// ListOffsets timestamp asking for the log end offset (high watermark).
pub const LATEST_TIMESTAMP: i64 = -1;
/// `replica_id` of a consumer in ListOffsets.
const CONSUMER_REPLICA_ID: i32 = -1;

/// What ListOffsets found for one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetAndTimestamp {
    pub offset: i64,
    /// The timestamp of the record at `offset` (-1 for the earliest/latest look-ups).
    pub timestamp: i64,
    pub leader_epoch: Option<i32>,
}

/// Looks up `targets` (partition -> timestamp, or one of the special timestamps) until each
/// has an answer or `deadline` passes. A partition with no offset at or after its timestamp
/// maps to `None`.
pub(crate) async fn list_offsets(
    cluster: &Cluster,
    targets: &BTreeMap<TopicPartition, i64>,
    isolation_level: i8,
    deadline: Instant,
) -> Result<BTreeMap<TopicPartition, Option<OffsetAndTimestamp>>> {
    let mut found = BTreeMap::new();
    let mut pending: BTreeMap<TopicPartition, i64> = targets.clone();
    let backoff = Duration::from_millis(cluster.config().retry_backoff_ms);
    let mut last_error: Option<Error> = None;
    loop {
        let mut refresh = false;
        let mut by_leader: HashMap<i32, Vec<(TopicPartition, i64)>> = HashMap::new();
        let metadata = cluster.metadata();
        for (tp, timestamp) in &pending {
            match metadata.partition(&tp.topic, tp.partition).map(|p| p.leader).filter(|l| *l >= 0) {
                Some(leader) => by_leader.entry(leader).or_default().push((tp.clone(), *timestamp)),
                None => refresh = true,
            }
        }
        for (leader, partitions) in by_leader {
            match list_from_leader(cluster, leader, &partitions, isolation_level, deadline).await {
                Ok(answers) => {
                    for (tp, answer) in answers {
                        match answer {
                            Ok(value) => {
                                pending.remove(&tp);
                                found.insert(tp, value);
                            }
                            Err(error) if error.code().is_some_and(codes::is_stale_metadata) => {
                                refresh = true;
                                last_error = Some(error);
                            }
                            Err(error) if error.is_retriable() => last_error = Some(error),
                            Err(error) => return Err(error),
                        }
                    }
                }
                Err(error) if error.is_retriable() || matches!(error, Error::Closed) => {
                    refresh = true;
                    last_error = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        if pending.is_empty() {
            return Ok(found);
        }
        if Instant::now() + backoff >= deadline {
            let what = pending.keys().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            return Err(match last_error {
                Some(error) if !error.is_retriable() => error,
                Some(error) => Error::Timeout(format!("listing offsets of {what}: last error: {error}")),
                None => Error::Timeout(format!("listing offsets of {what}: no leader known")),
            });
        }
        tokio::time::sleep(backoff).await;
        if refresh {
            let topics: Vec<String> = pending.keys().map(|tp| tp.topic.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            if let Err(error) = cluster.refresh(Some(&topics), false).await {
                last_error = Some(error);
            }
        }
    }
}

type Answer = Result<Option<OffsetAndTimestamp>>;

async fn list_from_leader(
    cluster: &Cluster,
    leader: i32,
    partitions: &[(TopicPartition, i64)],
    isolation_level: i8,
    deadline: Instant,
) -> Result<Vec<(TopicPartition, Answer)>> {
    let connection = cluster.broker(leader).await?;
    let mut topics: BTreeMap<&str, Vec<ListOffsetsPartition>> = BTreeMap::new();
    for (tp, timestamp) in partitions {
        topics.entry(tp.topic.as_str()).or_default().push(
            ListOffsetsPartition::default().with_partition_index(tp.partition).with_timestamp(*timestamp),
        );
    }
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(CONSUMER_REPLICA_ID))
        .with_isolation_level(isolation_level)
        .with_topics(
            topics
                .into_iter()
                .map(|(name, partitions)| {
                    ListOffsetsTopic::default()
                        .with_name(TopicName(StrBytes::from_string(name.to_string())))
                        .with_partitions(partitions)
                })
                .collect(),
        );
    let wait = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    let timeout = wait.min(Duration::from_millis(cluster.config().request_timeout_ms));
    let response = connection.send_with_timeout(request, timeout).await?;
    let mut answers = Vec::new();
    for topic in response.topics {
        for p in topic.partitions {
            let tp = TopicPartition::new(topic.name.0.to_string(), p.partition_index);
            if !partitions.iter().any(|(asked, _)| *asked == tp) {
                continue;
            }
            let answer = if p.error_code != codes::NONE {
                Err(Error::kafka(p.error_code, None, format!("list offsets of {tp}")))
            } else if p.offset < 0 {
                Ok(None)
            } else {
                Ok(Some(OffsetAndTimestamp {
                    offset: p.offset,
                    timestamp: p.timestamp,
                    leader_epoch: (p.leader_epoch >= 0).then_some(p.leader_epoch),
                }))
            };
            answers.push((tp, answer));
        }
    }
    Ok(answers)
}
