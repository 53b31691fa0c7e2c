//! The broker side of consumer groups: runs the pure `runnel-coordinator` state machine
//! against the real clock, the real `__consumer_offsets` log and real connections.
//!
//! Every coordinator step is the same three moves under one lock: decide (`handle` or
//! `tick`), persist the decision's durable records to the group's `__consumer_offsets`
//! partition, then `replay` the decision and deliver its responses. A request the
//! coordinator holds (a JoinGroup waiting for the rebalance, a SyncGroup waiting for the
//! leader) keeps its connection waiting on a oneshot channel until a later decision answers
//! it. If the write fails, nothing is replayed and only the requester gets an error.
//!
//! The coordinator's rebalance history is part of that state: its records go to the group's
//! partition with the rest, and `history` reads it for the admin API.

mod log_records;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use runnel_coordinator::{
    encode, partition_for_group, CoordinatorConfig, Decision, GroupCoordinator, GroupHistory, KnownTopics, Request,
    RequestId, RequestKind, Response,
};
use runnel_protocol::kafka_protocol::error::ResponseError;
use tokio::sync::{oneshot, Notify};
use tokio_util::sync::CancellationToken;

use crate::config::topic::offsets_topic_configs;
use crate::config::BrokerConfig;
use crate::context::now_ms;
use crate::topics::{NewTopic, TopicError, TopicRegistry};

pub use log_records::LogRecordsError;

/// Kafka's name for the internal topic holding group metadata and committed offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
/// How long the timer waits before retrying a tick whose records could not be written.
pub const TICK_RETRY_MS: u64 = 1_000;
/// The longest the timer sleeps without a deadline; a safety net, not a schedule.
pub const TIMER_IDLE_MS: u64 = 60_000;

pub struct GroupService {
    state: Mutex<State>,
    next_request_id: AtomicU64,
    deadline_changed: Notify,
    offsets_partitions: i32,
}

struct State {
    coordinator: GroupCoordinator,
    waiting: HashMap<RequestId, oneshot::Sender<Response>>,
}

impl std::fmt::Debug for GroupService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupService").field("offsets_partitions", &self.offsets_partitions).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GroupLoadError {
    #[error(transparent)]
    Read(#[from] LogRecordsError),
}

impl GroupService {
    /// Builds the coordinator and replays `__consumer_offsets` if it exists. Loading ends
    /// before the broker serves, so no request ever sees a half-loaded group.
    pub fn load(config: &BrokerConfig, topics: &TopicRegistry) -> Result<Self, GroupLoadError> {
        let mut coordinator = GroupCoordinator::new(coordinator_config(config));
        let (mut records, mut skipped) = (0usize, 0usize);
        if let Some(topic) = topics.get(OFFSETS_TOPIC) {
            for partition in &topic.partitions {
                log_records::for_each_stored(partition, |key, value| match runnel_coordinator::decode(key, value) {
                    Ok(Some(record)) => {
                        coordinator.replay(&record);
                        records += 1;
                    }
                    Ok(None) => skipped += 1,
                    Err(error) => {
                        skipped += 1;
                        tracing::warn!(partition = partition.index, %error, "skipping an unreadable group record");
                    }
                })?;
            }
            tracing::info!(records, skipped, groups = coordinator.groups().count(), "loaded consumer groups");
        }
        Ok(Self {
            state: Mutex::new(State { coordinator, waiting: HashMap::new() }),
            next_request_id: AtomicU64::new(0),
            deadline_changed: Notify::new(),
            offsets_partitions: config.offsets_topic_num_partitions,
        })
    }

    /// Creates `__consumer_offsets` on first use, as Kafka does on the first FindCoordinator.
    pub fn ensure_offsets_topic(&self, config: &BrokerConfig, topics: &TopicRegistry) -> Result<(), TopicError> {
        if topics.get(OFFSETS_TOPIC).is_some() {
            return Ok(());
        }
        let new = NewTopic {
            name: OFFSETS_TOPIC.to_string(),
            partitions: self.offsets_partitions,
            configs: offsets_topic_configs(config),
        };
        match topics.create(new, false, now_ms()) {
            Ok(_) | Err(TopicError::AlreadyExists(_)) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Runs one request through the coordinator and waits for its answer, which may come
    /// from a later decision. `None` when shutdown came first.
    pub async fn call(&self, topics: &TopicRegistry, request: Request, shutdown: &CancellationToken) -> Option<Response> {
        let id = RequestId(self.next_request_id.fetch_add(1, Ordering::Relaxed));
        let (sender, receiver) = oneshot::channel();
        {
            let mut state = self.state.lock();
            state.waiting.insert(id, sender);
            let kind = request.kind();
            let decision = state.coordinator.handle(now_ms(), id, request);
            self.apply(&mut state, topics, decision, Some((id, kind)));
        }
        self.deadline_changed.notify_one();
        tokio::select! {
            answered = receiver => answered.ok(),
            _ = shutdown.cancelled() => None,
        }
    }

    /// Fires the coordinator's timers (session expiry, rebalance and join delays, offset
    /// retention) until shutdown.
    pub async fn run_timers(&self, topics: &TopicRegistry, shutdown: CancellationToken) {
        loop {
            let wait_ms = {
                let state = self.state.lock();
                state.coordinator.next_deadline_ms().map(|deadline| deadline.saturating_sub(now_ms()).max(0) as u64)
            };
            if wait_ms != Some(0) {
                let sleep = tokio::time::sleep(Duration::from_millis(wait_ms.unwrap_or(TIMER_IDLE_MS).min(TIMER_IDLE_MS)));
                tokio::select! {
                    _ = sleep => {}
                    _ = self.deadline_changed.notified() => continue,
                    _ = shutdown.cancelled() => return,
                }
            }
            let written = {
                let mut state = self.state.lock();
                let decision = state.coordinator.tick(now_ms());
                self.apply(&mut state, topics, decision, None)
            };
            if !written {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(TICK_RETRY_MS)) => {}
                    _ = shutdown.cancelled() => return,
                }
            }
        }
    }

    /// Persists, replays and answers one decision; false when the write failed.
    fn apply(
        &self,
        state: &mut State,
        topics: &TopicRegistry,
        decision: Decision,
        requester: Option<(RequestId, RequestKind)>,
    ) -> bool {
        if decision.needs_write() {
            if let Err(error) = self.persist(topics, &decision) {
                tracing::error!(%error, "cannot write group records");
                if let Some((id, kind)) = requester {
                    let response = state.coordinator.failed_write(id, &kind, error.code());
                    if let Some(sender) = state.waiting.remove(&id) {
                        let _ = sender.send(response);
                    }
                }
                return false;
            }
        }
        state.coordinator.replay_decision(&decision);
        for (id, response) in decision.responses {
            // A receiver may be gone: its connection closed while the request was held.
            if let Some(sender) = state.waiting.remove(&id) {
                let _ = sender.send(response);
            }
        }
        true
    }

    /// Appends the decision's durable records, one batch per `__consumer_offsets` partition.
    fn persist(&self, topics: &TopicRegistry, decision: &Decision) -> Result<(), PersistError> {
        let mut by_partition: BTreeMap<i32, Vec<log_records::KeyValue>> = BTreeMap::new();
        for record in decision.persisted_records() {
            let (Some(group_id), Some((Some(key), value))) = (record.group_id(), encode(record)) else {
                continue;
            };
            let partition = partition_for_group(group_id, self.offsets_partitions);
            by_partition.entry(partition).or_default().push((key, value));
        }
        let now = now_ms();
        for (index, entries) in by_partition {
            let partition = topics.partition(OFFSETS_TOPIC, index).ok_or(PersistError::NoOffsetsTopic)?;
            let batch = log_records::encode_batch(&entries, now).map_err(PersistError::Encode)?;
            partition.append(&batch, now).map_err(PersistError::Append)?;
        }
        Ok(())
    }

    /// Runs `f` on the coordinator as it is now, for read-only views (the admin API). Keep
    /// `f` short: group requests wait while it runs.
    pub fn inspect<T>(&self, f: impl FnOnce(&GroupCoordinator) -> T) -> T {
        f(&self.state.lock().coordinator)
    }

    /// The group's rebalance history, oldest generation first (replayed from
    /// `__consumer_offsets` at load like the rest of the group); `None` when neither the group
    /// nor any history of it exists.
    pub fn history(&self, group_id: &str) -> Option<GroupHistory> {
        self.state.lock().coordinator.history(group_id)
    }

    /// What the broker knows of the topics a request names.
    pub fn known_topics(topics: &TopicRegistry, request: &Request) -> KnownTopics {
        let mut known = KnownTopics::new();
        for name in request.topics_to_look_up() {
            if let Some(topic) = topics.get(&name) {
                known.insert(name, topic.partitions.len() as i32);
            }
        }
        known
    }
}

#[derive(Debug, thiserror::Error)]
enum PersistError {
    #[error("{OFFSETS_TOPIC} does not exist")]
    NoOffsetsTopic,
    #[error(transparent)]
    Encode(LogRecordsError),
    #[error("append failed: {0}")]
    Append(runnel_log::LogError),
}

impl PersistError {
    fn code(&self) -> i16 {
        match self {
            PersistError::NoOffsetsTopic => ResponseError::UnknownTopicOrPartition.code(),
            PersistError::Encode(_) => ResponseError::UnknownServerError.code(),
            PersistError::Append(_) => ResponseError::KafkaStorageError.code(),
        }
    }
}

fn coordinator_config(config: &BrokerConfig) -> CoordinatorConfig {
    CoordinatorConfig {
        initial_rebalance_delay_ms: config.group_initial_rebalance_delay_ms,
        min_session_timeout_ms: config.group_min_session_timeout_ms,
        max_session_timeout_ms: config.group_max_session_timeout_ms,
        group_max_size: config.group_max_size,
        offsets_retention_ms: i64::from(config.offsets_retention_minutes) * 60_000,
        offsets_retention_check_interval_ms: config.offsets_retention_check_interval_ms,
        offset_metadata_max_bytes: config.offset_metadata_max_bytes,
        member_id_seed: uuid::Uuid::new_v4().as_u64_pair().0,
        ..CoordinatorConfig::default()
    }
}
