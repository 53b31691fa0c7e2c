//! Fetching records from partition leaders: Kafka's `Fetcher` and `FetchCollector`.
//!
//! Owns: building one sessionless Fetch (v4..12, topic names) per leader for the fetchable
//! partitions, at most one in flight per broker, run as tasks so a fetch keeps going between
//! `poll()` calls; decoding the answers in those tasks; the buffer of completed fetches; and
//! draining that buffer into `poll()` batches of at most `max.poll.records`, checking each
//! completed fetch against the current position so an answer to a revoked or repositioned
//! partition is dropped. Prefetch is bounded: a partition with buffered records or a request
//! in flight is not fetched again, so at most one response per broker waits in memory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::buffer::{CompletedFetch, FetchBuffer};
use super::codes;
use super::config::ConsumerConfig;
use super::decode::{decode_partition, Decoded};
use super::record::{Records, TopicPartition};
use super::subscription::SubscriptionState;
use crate::cluster::Cluster;
use crate::error::Result;

/// Fetch settings copied out of the consumer configuration for the fetch tasks.
#[derive(Debug, Clone)]
struct FetchSettings {
    max_wait_ms: i32,
    min_bytes: i32,
    max_bytes: i32,
    partition_max_bytes: i32,
    isolation_level: i8,
    check_crcs: bool,
    request_timeout_ms: u64,
}

/// One partition's share of a Fetch answer.
enum Outcome {
    Data { decoded: Decoded, high_watermark: i64 },
    Error(i16),
}

struct PartitionResult {
    tp: TopicPartition,
    fetch_offset: i64,
    outcome: Outcome,
}

struct NodeResult {
    node: i32,
    outcome: Result<Vec<PartitionResult>>,
}

pub(crate) struct Fetcher {
    cluster: Cluster,
    settings: Arc<FetchSettings>,
    /// Broker -> the fetch task in flight and the partitions it asked for.
    in_flight: HashMap<i32, (AbortHandle, HashSet<TopicPartition>)>,
    results_tx: mpsc::UnboundedSender<NodeResult>,
    results_rx: mpsc::UnboundedReceiver<NodeResult>,
    buffer: FetchBuffer,
    /// Brokers that just failed, not asked again before the instant.
    backoff_until: HashMap<i32, Instant>,
}

impl Drop for Fetcher {
    fn drop(&mut self) {
        for (abort, _) in self.in_flight.values() {
            abort.abort();
        }
    }
}

impl Fetcher {
    pub fn new(cluster: Cluster, config: &ConsumerConfig) -> Fetcher {
        let (results_tx, results_rx) = mpsc::unbounded_channel();
        Fetcher {
            settings: Arc::new(FetchSettings {
                max_wait_ms: config.fetch_max_wait_ms,
                min_bytes: config.fetch_min_bytes,
                max_bytes: config.fetch_max_bytes,
                partition_max_bytes: config.max_partition_fetch_bytes,
                isolation_level: config.isolation_level.wire_value(),
                check_crcs: config.check_crcs,
                request_timeout_ms: config.client.request_timeout_ms,
            }),
            cluster,
            in_flight: HashMap::new(),
            results_tx,
            results_rx,
            buffer: FetchBuffer::new(config.auto_offset_reset),
            backoff_until: HashMap::new(),
        }
    }

    /// Whether a fetch answer said the leader moved (or none is known).
    pub fn take_metadata_refresh_needed(&mut self) -> bool {
        std::mem::take(&mut self.buffer.metadata_refresh_needed)
    }

    /// Starts a Fetch to every leader of a fetchable partition that has nothing buffered and
    /// nothing in flight.
    pub fn send_fetches(&mut self, subscriptions: &SubscriptionState) {
        let buffered: HashSet<TopicPartition> = self.buffer.partitions().cloned().collect();
        let in_flight: HashSet<&TopicPartition> = self.in_flight.values().flat_map(|(_, tps)| tps.iter()).collect();
        let metadata = self.cluster.metadata();
        let now = Instant::now();
        let mut by_node: BTreeMap<i32, Vec<(TopicPartition, i64)>> = BTreeMap::new();
        for (tp, position) in subscriptions.fetchable() {
            if buffered.contains(&tp) || in_flight.contains(&tp) {
                continue;
            }
            let leader = metadata.partition(&tp.topic, tp.partition).map(|p| p.leader).filter(|l| *l >= 0);
            let Some(leader) = leader else {
                self.buffer.metadata_refresh_needed = true;
                continue;
            };
            if self.in_flight.contains_key(&leader) || self.backoff_until.get(&leader).is_some_and(|t| *t > now) {
                continue;
            }
            by_node.entry(leader).or_default().push((tp, position));
        }
        for (node, partitions) in by_node {
            let tps: HashSet<TopicPartition> = partitions.iter().map(|(tp, _)| tp.clone()).collect();
            let cluster = self.cluster.clone();
            let settings = self.settings.clone();
            let tx = self.results_tx.clone();
            let task = tokio::spawn(async move {
                let outcome = fetch_from(&cluster, node, &settings, partitions).await;
                // The consumer may be gone; then nobody needs the answer.
                let _ = tx.send(NodeResult { node, outcome });
            });
            self.in_flight.insert(node, (task.abort_handle(), tps));
        }
    }

    /// Moves finished fetches into the buffer without waiting.
    pub fn collect_ready(&mut self) {
        while let Ok(result) = self.results_rx.try_recv() {
            self.accept(result);
        }
    }

    /// Waits until a fetch in flight finishes or `deadline`. False when nothing is in flight
    /// or the deadline passed.
    pub async fn wait(&mut self, deadline: Instant) -> bool {
        if self.in_flight.is_empty() {
            return false;
        }
        match tokio::time::timeout_at(deadline, self.results_rx.recv()).await {
            Ok(Some(result)) => {
                self.accept(result);
                true
            }
            _ => false,
        }
    }

    fn accept(&mut self, result: NodeResult) {
        self.in_flight.remove(&result.node);
        match result.outcome {
            Ok(partitions) => {
                self.backoff_until.remove(&result.node);
                for p in partitions {
                    let fetch = match p.outcome {
                        Outcome::Data { decoded, high_watermark } => {
                            CompletedFetch::data(p.tp, p.fetch_offset, decoded, high_watermark)
                        }
                        Outcome::Error(code) => CompletedFetch::failed(p.tp, p.fetch_offset, code),
                    };
                    self.buffer.push(fetch);
                }
            }
            Err(error) => {
                tracing::debug!(node = result.node, "fetch failed: {error}");
                let backoff = Duration::from_millis(self.cluster.config().retry_backoff_ms);
                self.backoff_until.insert(result.node, Instant::now() + backoff);
                self.buffer.metadata_refresh_needed = true;
            }
        }
    }

    /// Hands out up to `max_records` buffered records, advancing positions (see
    /// [`FetchBuffer::drain`]).
    pub fn drain(&mut self, subscriptions: &mut SubscriptionState, max_records: usize) -> Result<Records> {
        self.buffer.drain(subscriptions, max_records)
    }

    /// Drops everything buffered or in flight for partitions no longer assigned.
    pub fn retain_assigned(&mut self, subscriptions: &SubscriptionState) {
        self.buffer.retain_assigned(subscriptions);
    }
}

async fn fetch_from(
    cluster: &Cluster,
    node: i32,
    settings: &FetchSettings,
    partitions: Vec<(TopicPartition, i64)>,
) -> Result<Vec<PartitionResult>> {
    let connection = cluster.broker(node).await?;
    let mut topics: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
    for (tp, offset) in &partitions {
        topics.entry(tp.topic.as_str()).or_default().push(
            FetchPartition::default()
                .with_partition(tp.partition)
                .with_fetch_offset(*offset)
                .with_partition_max_bytes(settings.partition_max_bytes),
        );
    }
    let request = FetchRequest::default()
        .with_max_wait_ms(settings.max_wait_ms)
        .with_min_bytes(settings.min_bytes)
        .with_max_bytes(settings.max_bytes)
        .with_isolation_level(settings.isolation_level)
        .with_topics(
            topics
                .into_iter()
                .map(|(name, ps)| {
                    FetchTopic::default().with_topic(TopicName(StrBytes::from_string(name.to_string()))).with_partitions(ps)
                })
                .collect(),
        );
    // The broker may hold the request for max_wait_ms before answering.
    let timeout = Duration::from_millis(settings.request_timeout_ms + settings.max_wait_ms.max(0) as u64);
    let response = connection.send_with_timeout(request, timeout).await?;
    crate::error::check(response.error_code, None, format!("fetch from broker {node}"))?;
    let asked: HashMap<&TopicPartition, i64> = partitions.iter().map(|(tp, o)| (tp, *o)).collect();
    let mut results = Vec::new();
    for topic in response.responses {
        let name = topic.topic.0.as_str();
        for p in topic.partitions {
            let tp = TopicPartition::new(name, p.partition_index);
            let Some(&fetch_offset) = asked.get(&tp) else { continue };
            let outcome = if p.error_code != codes::NONE {
                Outcome::Error(p.error_code)
            } else {
                let data = p.records.unwrap_or_else(Bytes::new);
                let decoded = decode_partition(name, p.partition_index, &data, fetch_offset, settings.check_crcs);
                Outcome::Data { decoded, high_watermark: p.high_watermark }
            };
            results.push(PartitionResult { tp, fetch_offset, outcome });
        }
    }
    Ok(results)
}
