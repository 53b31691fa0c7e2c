//! The one task that turns queued batches into Produce requests and their answers into
//! record outcomes, as Kafka's `Sender` thread does.
//!
//! Owns: the in-flight requests (pipelined up to `max.in.flight.requests.per.connection`
//! per broker), retries with backoff and metadata refreshes on stale-leader errors,
//! `delivery.timeout.ms`, splitting batches the broker found too large so each record gets
//! its own outcome, and the idempotent producer's id and epoch: InitProducerId before the
//! first batch, a local epoch bump (sequences restart at 0) after a sequence gap or a
//! failed batch, as Kafka's `TransactionManager` does for a producer without transactions.
//!
//! The task never blocks on the network: connecting, metadata, InitProducerId and every
//! request run as futures in one `FuturesUnordered`, whose events the loop handles one at a
//! time. Requests to one broker are pushed, and so first polled and written, in drain order.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::{InitProducerIdRequest, ProduceRequest, ProduceResponse, ProducerId, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::accumulator::{ProducerBatch, ProducerIdentity, TopicPartition};
use super::config::Acks;
use super::record::RecordMetadata;
use super::{later, lock, replicate_error, Shared};
use crate::conn::Connection;
use crate::error::{Error, Result};

/// How long the loop sleeps when nothing is scheduled; it is woken early by any event.
const IDLE_WAKE: Duration = Duration::from_secs(1);

// Kafka error codes the sender treats specially.
const MESSAGE_TOO_LARGE: i16 = 10;
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const DUPLICATE_SEQUENCE_NUMBER: i16 = 46;
const UNKNOWN_PRODUCER_ID: i16 = 59;
/// Errors after which Kafka's producer stops for good.
const FATAL_CODES: [i16; 3] = [
    31, // CLUSTER_AUTHORIZATION_FAILED
    35, // UNSUPPORTED_VERSION
    90, // PRODUCER_FENCED
];
/// Errors that mean the client's metadata is stale (Kafka's `InvalidMetadataException`s).
const STALE_METADATA_CODES: [i16; 5] = [
    3,  // UNKNOWN_TOPIC_OR_PARTITION
    5,  // LEADER_NOT_AVAILABLE
    6,  // NOT_LEADER_OR_FOLLOWER
    74, // FENCED_LEADER_EPOCH
    75, // UNKNOWN_LEADER_EPOCH
];

/// Runs the sender until the producer is closed and everything is resolved, or until a
/// hard stop.
pub(super) async fn run(shared: Arc<Shared>) {
    let _finished = shared.finished.clone().drop_guard();
    Sender::new(shared).run().await;
}

enum Event {
    Produced { request: u64, result: Result<ProduceResponse> },
    SentWithoutAck { request: u64, result: Result<()> },
    Connected { node: i32, result: Result<Connection> },
    ProducerId(Result<ProducerIdentity>),
    Metadata(Result<()>),
}

struct InFlight {
    node: i32,
    batches: Vec<ProducerBatch>,
}

struct Sender {
    shared: Arc<Shared>,
    tasks: FuturesUnordered<BoxFuture<'static, Event>>,
    connections: HashMap<i32, Connection>,
    connecting: HashSet<i32>,
    connect_retry_at: HashMap<i32, Instant>,
    requests_per_node: HashMap<i32, usize>,
    in_flight: HashMap<u64, InFlight>,
    next_request: u64,
    identity: Option<ProducerIdentity>,
    identity_pending: bool,
    identity_retry_at: Option<Instant>,
    identity_failures: u32,
    /// A sequence may have been lost: bump the epoch once nothing is in flight.
    bump_required: bool,
    metadata_wanted: bool,
    metadata_pending: bool,
    metadata_retry_at: Option<Instant>,
}

enum Wake {
    Stop,
    Event(Event),
    Poke,
}

impl Sender {
    fn new(shared: Arc<Shared>) -> Sender {
        Sender {
            shared,
            tasks: FuturesUnordered::new(),
            connections: HashMap::new(),
            connecting: HashSet::new(),
            connect_retry_at: HashMap::new(),
            requests_per_node: HashMap::new(),
            in_flight: HashMap::new(),
            next_request: 0,
            identity: None,
            identity_pending: false,
            identity_retry_at: None,
            identity_failures: 0,
            bump_required: false,
            metadata_wanted: false,
            metadata_pending: false,
            metadata_retry_at: None,
        }
    }

    fn idempotent(&self) -> bool {
        self.shared.accumulator_config.idempotent
    }

    async fn run(mut self) {
        loop {
            let now = Instant::now();
            self.expire(now);
            self.maybe_bump_epoch();
            self.maybe_init_producer_id(now);
            let mut wake_at = self.send_ready(now);
            self.maybe_refresh_metadata(now);
            for at in [self.identity_retry_at, self.metadata_retry_at, lock(&self.shared.accumulator).next_deadline()]
                .into_iter()
                .flatten()
                .chain(self.in_flight_deadline())
                .chain(self.connect_retry_at.values().copied())
                // A past instant here is one nothing waits for any more (a retry time that
                // was not needed): it must not turn the sleep into a busy loop.
                .filter(|&at| at > now)
            {
                wake_at = Some(wake_at.map_or(at, |w| w.min(at)));
            }
            if self.finished() {
                break;
            }
            let sleep = tokio::time::sleep_until(wake_at.unwrap_or(now + IDLE_WAKE).max(now).into());
            let wake = tokio::select! {
                biased;
                _ = self.shared.stop.cancelled() => Wake::Stop,
                Some(event) = self.tasks.next(), if !self.tasks.is_empty() => Wake::Event(event),
                _ = self.shared.wake.notified() => Wake::Poke,
                _ = sleep => Wake::Poke,
            };
            match wake {
                Wake::Stop => {
                    self.abort_all(&Error::Closed);
                    break;
                }
                Wake::Event(event) => self.handle(event),
                Wake::Poke => {}
            }
        }
    }

    fn finished(&self) -> bool {
        let accumulator = lock(&self.shared.accumulator);
        accumulator.is_closing() && accumulator.is_empty() && self.in_flight.is_empty()
    }

    fn in_flight_deadline(&self) -> Option<Instant> {
        self.in_flight
            .values()
            .flat_map(|f| f.batches.iter())
            .filter(|b| !b.is_done())
            .map(|b| b.deadline)
            .min()
    }

    /// Reports batches past `delivery.timeout.ms`, queued or in flight.
    fn expire(&mut self, now: Instant) {
        let expired = lock(&self.shared.accumulator).expire(now);
        let timeout_ms = self.shared.config.delivery_timeout_ms;
        for mut batch in expired {
            let error = expiry_error(&batch, timeout_ms, now);
            if batch.base_sequence().is_some() {
                self.bump_required = true;
            }
            batch.complete(|_, _| Err(replicate_error(&error)));
        }
        let mut bump = false;
        for flight in self.in_flight.values_mut() {
            for batch in flight.batches.iter_mut().filter(|b| b.deadline <= now && !b.is_done()) {
                let error = expiry_error(batch, timeout_ms, now);
                // Whether the broker wrote it is unknown: later sequences may have a gap.
                bump |= batch.base_sequence().is_some();
                batch.complete(|_, _| Err(replicate_error(&error)));
            }
        }
        self.bump_required |= bump;
        self.shared.progress.notify_waiters();
    }

    fn maybe_bump_epoch(&mut self) {
        if !self.bump_required || !self.in_flight.is_empty() {
            return;
        }
        self.bump_required = false;
        let Some(identity) = self.identity else { return };
        if identity.producer_epoch == i16::MAX {
            // The epoch is exhausted: a new producer id starts again at epoch 0.
            self.identity = None;
            return;
        }
        let bumped = ProducerIdentity { producer_id: identity.producer_id, producer_epoch: identity.producer_epoch + 1 };
        tracing::debug!("producer {} bumps its epoch to {}", bumped.producer_id, bumped.producer_epoch);
        self.identity = Some(bumped);
        lock(&self.shared.accumulator).restart_sequences(bumped);
    }

    fn maybe_init_producer_id(&mut self, now: Instant) {
        if !self.idempotent() || self.identity.is_some() || self.identity_pending || self.bump_required {
            return;
        }
        if self.identity_retry_at.is_some_and(|at| at > now) {
            return;
        }
        self.identity_retry_at = None;
        self.identity_pending = true;
        let cluster = self.shared.cluster.clone();
        self.tasks.push(Box::pin(async move { Event::ProducerId(init_producer_id(cluster).await) }));
    }

    fn maybe_refresh_metadata(&mut self, now: Instant) {
        if !self.metadata_wanted || self.metadata_pending || self.metadata_retry_at.is_some_and(|at| at > now) {
            return;
        }
        let topics: Vec<String> = lock(&self.shared.accumulator).topics().into_iter().collect();
        self.metadata_wanted = false;
        self.metadata_retry_at = None;
        if topics.is_empty() {
            return;
        }
        self.metadata_pending = true;
        let cluster = self.shared.cluster.clone();
        self.tasks.push(Box::pin(async move {
            // The Java producer's metadata requests allow auto-creation too.
            Event::Metadata(cluster.refresh(Some(&topics), true).await.map(|_| ()))
        }));
    }

    fn connect(&mut self, node: i32, now: Instant) {
        if self.connecting.contains(&node) || self.connect_retry_at.get(&node).is_some_and(|&at| at > now) {
            return;
        }
        self.connect_retry_at.remove(&node);
        self.connecting.insert(node);
        let cluster = self.shared.cluster.clone();
        self.tasks.push(Box::pin(async move { Event::Connected { node, result: cluster.broker(node).await } }));
    }

    /// Drains sendable batches into requests, returning when to look again.
    fn send_ready(&mut self, now: Instant) -> Option<Instant> {
        if self.bump_required || self.shared.fatal_error().is_some() {
            return None;
        }
        let (ready, next) = lock(&self.shared.accumulator).ready(now);
        if ready.is_empty() {
            return next;
        }
        let metadata = self.shared.cluster.metadata();
        let mut by_node: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
        for tp in ready {
            match metadata.partition(&tp.0, tp.1).map(|p| p.leader).filter(|&l| l >= 0) {
                Some(leader) => by_node.entry(leader).or_default().push(tp),
                None => self.metadata_wanted = true,
            }
        }
        let max_in_flight = self.shared.config.max_in_flight_requests_per_connection;
        for (node, partitions) in by_node {
            let connection = match self.connections.get(&node) {
                Some(c) if !c.is_closed() => c.clone(),
                _ => {
                    self.connections.remove(&node);
                    self.connect(node, now);
                    continue;
                }
            };
            while self.requests_per_node.get(&node).copied().unwrap_or(0) < max_in_flight {
                let batches = lock(&self.shared.accumulator).drain(
                    &partitions,
                    self.shared.config.max_request_size,
                    self.identity,
                    now,
                );
                if batches.is_empty() {
                    break;
                }
                self.send_request(node, &connection, batches, now);
            }
        }
        next
    }

    fn send_request(&mut self, node: i32, connection: &Connection, batches: Vec<ProducerBatch>, now: Instant) {
        let compression = self.shared.accumulator_config.compression;
        let mut topics: BTreeMap<String, Vec<PartitionProduceData>> = BTreeMap::new();
        let mut sendable = Vec::with_capacity(batches.len());
        for mut batch in batches {
            match batch.encoded(compression) {
                Ok(bytes) => {
                    topics
                        .entry(batch.topic.clone())
                        .or_default()
                        .push(PartitionProduceData::default().with_index(batch.partition).with_records(Some(bytes)));
                    sendable.push(batch);
                }
                Err(error) => self.fail(batch, error, now),
            }
        }
        if sendable.is_empty() {
            return;
        }
        let acks = self.shared.config.acks;
        let timeout_ms = i32::try_from(self.shared.config.client.request_timeout_ms).unwrap_or(i32::MAX);
        let topic_data = topics
            .into_iter()
            .map(|(name, partitions)| {
                TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_string(name)))
                    .with_partition_data(partitions)
            })
            .collect();
        let request = ProduceRequest::default()
            .with_transactional_id(None)
            .with_acks(acks.as_i16())
            .with_timeout_ms(timeout_ms)
            .with_topic_data(topic_data);
        let id = self.next_request;
        self.next_request += 1;
        *self.requests_per_node.entry(node).or_default() += 1;
        self.in_flight.insert(id, InFlight { node, batches: sendable });
        let connection = connection.clone();
        if acks == Acks::None {
            self.tasks.push(Box::pin(async move {
                Event::SentWithoutAck { request: id, result: connection.send_no_response(request).await }
            }));
        } else {
            self.tasks.push(Box::pin(async move {
                Event::Produced { request: id, result: connection.send(request).await }
            }));
        }
    }

    fn handle(&mut self, event: Event) {
        let now = Instant::now();
        match event {
            Event::Connected { node, result } => {
                self.connecting.remove(&node);
                match result {
                    Ok(connection) => {
                        self.connections.insert(node, connection);
                    }
                    Err(error) => {
                        tracing::debug!("producer cannot connect to broker {node}: {error}");
                        self.connect_retry_at.insert(node, later(now, self.backoff(1)));
                        self.metadata_wanted = true;
                    }
                }
            }
            Event::Metadata(result) => {
                self.metadata_pending = false;
                if let Err(error) = result {
                    tracing::debug!("producer metadata refresh failed: {error}");
                    self.metadata_wanted = true;
                }
                self.metadata_retry_at = Some(later(now, self.backoff(1)));
            }
            Event::ProducerId(result) => {
                self.identity_pending = false;
                match result {
                    Ok(identity) => {
                        self.identity_failures = 0;
                        self.identity = Some(identity);
                        lock(&self.shared.accumulator).restart_sequences(identity);
                    }
                    Err(error) if is_network_error(&error) || error.is_retriable() => {
                        self.identity_failures = self.identity_failures.saturating_add(1);
                        self.identity_retry_at = Some(later(now, self.backoff(self.identity_failures)));
                        tracing::debug!("InitProducerId failed, will retry: {error}");
                    }
                    Err(error) => self.fatal(error),
                }
            }
            Event::SentWithoutAck { request, result } => {
                let Some(flight) = self.take_flight(request) else { return };
                match result {
                    Ok(()) => {
                        for batch in flight.batches {
                            self.succeed(batch, -1, -1);
                        }
                    }
                    Err(error) => self.request_failed(flight, error, now),
                }
            }
            Event::Produced { request, result } => {
                let Some(flight) = self.take_flight(request) else { return };
                match result {
                    Ok(response) => self.handle_response(flight, response, now),
                    Err(error) => self.request_failed(flight, error, now),
                }
            }
        }
    }

    fn take_flight(&mut self, request: u64) -> Option<InFlight> {
        let flight = self.in_flight.remove(&request)?;
        if let Some(count) = self.requests_per_node.get_mut(&flight.node) {
            *count = count.saturating_sub(1);
        }
        Some(flight)
    }

    fn request_failed(&mut self, flight: InFlight, error: Error, now: Instant) {
        if is_network_error(&error) {
            // The connection is gone or in doubt; the leader may have moved too.
            self.connections.remove(&flight.node);
            self.metadata_wanted = true;
        }
        let retriable = is_network_error(&error) || error.is_retriable();
        for batch in flight.batches {
            self.retry_or_fail(batch, replicate_error(&error), retriable, now);
        }
    }

    fn handle_response(&mut self, flight: InFlight, response: ProduceResponse, now: Instant) {
        let mut answers: HashMap<(String, i32), PartitionProduceResponse> = HashMap::new();
        for topic in response.responses {
            let name = topic.name.0.to_string();
            for partition in topic.partition_responses {
                answers.insert((name.clone(), partition.index), partition);
            }
        }
        for batch in flight.batches {
            match answers.remove(&(batch.topic.clone(), batch.partition)) {
                Some(answer) => self.handle_partition(batch, answer, now),
                None => {
                    let error = Error::Protocol(format!(
                        "Produce response has no answer for {}-{}",
                        batch.topic, batch.partition
                    ));
                    self.fail(batch, error, now);
                }
            }
        }
    }

    fn handle_partition(&mut self, batch: ProducerBatch, answer: PartitionProduceResponse, now: Instant) {
        let code = answer.error_code;
        if code == 0 {
            self.succeed(batch, answer.base_offset, answer.log_append_time_ms);
            return;
        }
        if code == DUPLICATE_SEQUENCE_NUMBER {
            // The broker already has this batch but no longer its offset (Kafka reports
            // success without an offset too).
            self.succeed(batch, answer.base_offset, answer.log_append_time_ms);
            return;
        }
        if code == MESSAGE_TOO_LARGE && batch.record_count() > 1 && !batch.is_done() {
            tracing::debug!("{}-{}: batch of {} records too large, splitting", batch.topic, batch.partition, batch.record_count());
            lock(&self.shared.accumulator).split_and_reenqueue(batch, now);
            return;
        }
        let message = answer
            .error_message
            .map(|m| m.to_string())
            .or_else(|| answer.record_errors.first().and_then(|e| e.batch_index_error_message.as_ref().map(|m| m.to_string())));
        let error = Error::kafka(code, message, format!("produce to {}-{}", batch.topic, batch.partition));
        if STALE_METADATA_CODES.contains(&code) {
            self.metadata_wanted = true;
        }
        if FATAL_CODES.contains(&code) {
            self.fail(batch, replicate_error(&error), now);
            self.fatal(error);
            return;
        }
        let mut retriable = error.is_retriable();
        if self.idempotent() && batch.base_sequence().is_some() {
            match code {
                OUT_OF_ORDER_SEQUENCE_NUMBER => {
                    // Not the partition's first unresolved batch: an earlier one failed and
                    // this one just follows it; retry after it. The first one: the broker has
                    // a real gap, so start a new epoch (Kafka's TransactionManager.canRetry).
                    if self.is_first_unresolved(&batch) {
                        self.bump_required = true;
                    }
                    retriable = true;
                }
                UNKNOWN_PRODUCER_ID => {
                    // The broker lost this producer's state (retention removed it).
                    self.bump_required = true;
                    retriable = true;
                }
                _ => {}
            }
        }
        self.retry_or_fail(batch, error, retriable, now);
    }

    fn is_first_unresolved(&self, batch: &ProducerBatch) -> bool {
        let accumulator = lock(&self.shared.accumulator);
        accumulator.first_unresolved(&batch.topic, batch.partition) == batch.base_sequence()
    }

    fn retry_or_fail(&mut self, batch: ProducerBatch, error: Error, retriable: bool, now: Instant) {
        if batch.is_done() {
            // Already reported (delivery timeout while in flight).
            lock(&self.shared.accumulator).batch_resolved(&batch);
            self.shared.progress.notify_waiters();
            return;
        }
        let retries_left = batch.attempts <= self.shared.config.retries;
        if retriable && retries_left && now < batch.deadline {
            tracing::debug!(
                "{}-{}: retrying batch after attempt {}: {error}",
                batch.topic,
                batch.partition,
                batch.attempts
            );
            let retry_at = later(now, self.backoff(batch.attempts));
            lock(&self.shared.accumulator).reenqueue(batch, retry_at);
            return;
        }
        let error = if retriable && now >= batch.deadline {
            expiry_error(&batch, self.shared.config.delivery_timeout_ms, now)
        } else {
            error
        };
        self.fail(batch, error, now);
    }

    fn succeed(&mut self, mut batch: ProducerBatch, base_offset: i64, log_append_time_ms: i64) {
        let (topic, partition) = (batch.topic.clone(), batch.partition);
        batch.complete(|index, data| {
            Ok(RecordMetadata {
                topic: topic.clone(),
                partition,
                offset: if base_offset >= 0 { base_offset.saturating_add(index as i64) } else { -1 },
                timestamp: if log_append_time_ms >= 0 { log_append_time_ms } else { data.timestamp },
            })
        });
        lock(&self.shared.accumulator).batch_resolved(&batch);
        self.shared.progress.notify_waiters();
    }

    fn fail(&mut self, mut batch: ProducerBatch, error: Error, _now: Instant) {
        if self.idempotent() && batch.base_sequence().is_some() {
            // The sequence of this batch is spent without a write; later batches of the
            // partition would find a gap. A new epoch restarts every partition at 0.
            self.bump_required = true;
        }
        batch.complete(|_, _| Err(replicate_error(&error)));
        lock(&self.shared.accumulator).batch_resolved(&batch);
        self.shared.progress.notify_waiters();
    }

    /// A producer-wide error: every waiting record fails, and so does every later send.
    fn fatal(&mut self, error: Error) {
        tracing::warn!("producer failed for good: {error}");
        self.shared.set_fatal(&error);
        self.abort_all(&error);
    }

    fn abort_all(&mut self, error: &Error) {
        let queued = lock(&self.shared.accumulator).take_all();
        for mut batch in queued {
            batch.complete(|_, _| Err(replicate_error(error)));
        }
        for flight in self.in_flight.values_mut() {
            for batch in &mut flight.batches {
                batch.complete(|_, _| Err(replicate_error(error)));
            }
        }
        self.shared.progress.notify_waiters();
    }

    /// Kafka's exponential retry backoff (KIP-580), without the jitter.
    fn backoff(&self, attempts: u32) -> Duration {
        let base = self.shared.config.client.retry_backoff_ms.max(1);
        let cap = self.shared.config.retry_backoff_max_ms.max(base);
        let exponent = attempts.saturating_sub(1).min(20);
        Duration::from_millis(base.saturating_mul(1u64 << exponent).min(cap))
    }
}

fn expiry_error(batch: &ProducerBatch, delivery_timeout_ms: u64, now: Instant) -> Error {
    Error::Timeout(format!(
        "Expiring {} record(s) for {}-{}: {} ms has passed since batch creation (delivery.timeout.ms={delivery_timeout_ms})",
        batch.record_count(),
        batch.topic,
        batch.partition,
        now.saturating_duration_since(batch.created_at).as_millis()
    ))
}

/// Failures of the connection itself, which Kafka's clients always retry.
fn is_network_error(error: &Error) -> bool {
    matches!(error, Error::Io { .. } | Error::Timeout(_) | Error::Closed)
}

async fn init_producer_id(cluster: crate::cluster::Cluster) -> Result<ProducerIdentity> {
    let connection = cluster.any_broker().await?;
    let request = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(i32::MAX)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let response = connection.send(request).await?;
    crate::error::check(response.error_code, None, "InitProducerId")?;
    Ok(ProducerIdentity { producer_id: response.producer_id.0, producer_epoch: response.producer_epoch })
}
