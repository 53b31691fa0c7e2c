//! The `Consumer`: Kafka's `ClassicKafkaConsumer` on tokio.
//!
//! Owns: the order of work inside `poll()` (group coordination and rebalance hooks,
//! auto-commit, positions from committed offsets or the reset policy, metadata refresh,
//! fetching), and the offset API around it (commit, committed, seek, position, offsets for
//! times). A consumer is used from one task at a time (`&mut self`), like Java's; it runs a
//! heartbeat task and fetch tasks in the background, which stop when it is closed or dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::codes;
use super::config::{ConsumerConfig, OffsetReset, CLOSE_TIMEOUT_MS_DEFAULT};
use super::fetcher::Fetcher;
use super::group::{self, Group, OffsetAndMetadata, Phase};
use super::listener::RebalanceListener;
use super::offsets::{self, OffsetAndTimestamp, EARLIEST_TIMESTAMP, LATEST_TIMESTAMP};
use super::record::{Records, TopicPartition};
use super::stream::RecordStream;
use super::subscription::{Mode, ResetTarget, SubscriptionState};
use crate::cluster::Cluster;
use crate::error::{Error, Result};

/// How often metadata is asked for again while a subscribed topic does not exist (Kafka's
/// `retry.backoff.max.ms` default), so that its creation starts a rebalance promptly.
pub const MISSING_TOPIC_REFRESH_MS: u64 = 1_000;
/// Longest a `poll()` waits between checks when it has nothing in flight (no assignment
/// yet, positions pending), so group events are noticed.
const IDLE_WAIT_MS: u64 = 50;

/// The group identity of a subscribed consumer (Java's `ConsumerGroupMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadata {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

/// A Kafka consumer: subscribe to topics as a member of a consumer group (or assign
/// partitions by hand), then `poll()` for records.
///
/// ```no_run
/// use std::time::Duration;
/// use runnel_client::consumer::{Consumer, ConsumerConfig, OffsetReset};
///
/// # async fn run() -> runnel_client::Result<()> {
/// let mut config = ConsumerConfig::new("127.0.0.1:9092", Some("billing"));
/// config.auto_offset_reset = OffsetReset::Earliest;
/// let mut consumer = Consumer::new(config).await?;
/// consumer.subscribe(["orders"], ())?;
/// for _ in 0..10 {
///     let records = consumer.poll(Duration::from_secs(1)).await?;
///     for record in &records {
///         println!("{}-{}@{}: {:?}", record.topic, record.partition, record.offset, record.value);
///     }
/// }
/// consumer.close().await?;
/// # Ok(())
/// # }
/// ```
pub struct Consumer {
    cluster: Cluster,
    config: Arc<ConsumerConfig>,
    subscriptions: SubscriptionState,
    fetcher: Fetcher,
    group: Option<Group>,
    listener: Box<dyn RebalanceListener>,
    /// Whether the revocation hook of the coming rebalance already ran.
    join_prepared: bool,
    next_auto_commit: Instant,
    auto_commit: Option<JoinHandle<Result<()>>>,
    /// Partition counts of the subscribed topics when the current generation formed.
    partition_counts: BTreeMap<String, Option<usize>>,
    metadata_refreshed_at: Option<Instant>,
    /// A fetch found a moved leader; refresh once the backoff allows.
    metadata_refresh_requested: bool,
    closed: bool,
}

impl Consumer {
    /// Connects to the cluster and builds a consumer.
    pub async fn new(config: ConsumerConfig) -> Result<Consumer> {
        config.validate()?;
        let cluster = Cluster::connect(config.client.clone()).await?;
        Consumer::with_cluster(cluster, config)
    }

    /// A consumer sharing an existing cluster handle (and its connections). The cluster's
    /// client settings are used; `config.client` is ignored.
    pub fn with_cluster(cluster: Cluster, config: ConsumerConfig) -> Result<Consumer> {
        config.validate()?;
        let fetcher = Fetcher::new(cluster.clone(), &config);
        let interval = Duration::from_millis(config.auto_commit_interval_ms);
        Ok(Consumer {
            cluster,
            config: Arc::new(config),
            subscriptions: SubscriptionState::default(),
            fetcher,
            group: None,
            listener: Box::new(()),
            join_prepared: false,
            next_auto_commit: Instant::now() + interval,
            auto_commit: None,
            partition_counts: BTreeMap::new(),
            metadata_refreshed_at: None,
            metadata_refresh_requested: false,
            closed: false,
        })
    }

    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    /// The cluster handle, to share with a producer or admin client.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    fn ensure_open(&self) -> Result<()> {
        if self.closed {
            return Err(Error::Closed);
        }
        Ok(())
    }

    fn group_id(&self) -> Result<&str> {
        self.config
            .group_id
            .as_deref()
            .ok_or_else(|| Error::Config("this needs a group.id; the consumer has none".into()))
    }

    /// The group membership, created on first use (it spawns the heartbeat task).
    fn group(&mut self) -> Result<&mut Group> {
        let group_id = self.group_id()?.to_string();
        let (cluster, config) = (self.cluster.clone(), self.config.clone());
        Ok(self.group.get_or_insert_with(|| Group::new(group_id, cluster, config)))
    }

    /// Subscribes to `topics` as a member of the consumer's group; partitions come from the
    /// group's assignor on the next `poll()`. Replaces an earlier subscription (and listener).
    pub fn subscribe<I, S, L>(&mut self, topics: I, listener: L) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
        L: RebalanceListener + 'static,
    {
        self.ensure_open()?;
        self.group_id()?;
        let topics: BTreeSet<String> = topics.into_iter().map(Into::into).collect();
        if topics.is_empty() {
            return Err(Error::Config("subscribe() needs at least one topic; use unsubscribe() to stop".into()));
        }
        let changed = self.subscriptions.subscribed_topics() != Some(&topics);
        self.subscriptions.subscribe(topics)?;
        self.listener = Box::new(listener);
        self.metadata_refreshed_at = None;
        // A group not created yet joins on the first poll anyway; creating it here would
        // spawn its heartbeat task from a function that may run outside the runtime.
        if let (true, Some(group)) = (changed, self.group.as_ref()) {
            group.request_rejoin("the subscription changed");
        }
        Ok(())
    }

    /// Reads `partitions` without group membership. Commits still work when a group id is
    /// set (they carry no generation, as Kafka's "simple" consumers' commits).
    pub fn assign<I>(&mut self, partitions: I) -> Result<()>
    where
        I: IntoIterator<Item = TopicPartition>,
    {
        self.ensure_open()?;
        let partitions: BTreeSet<TopicPartition> = partitions.into_iter().collect();
        // Java commits the positions of the partitions given up before switching.
        self.maybe_auto_commit(true);
        self.subscriptions.assign_manual(partitions)?;
        self.fetcher.retain_assigned(&self.subscriptions);
        self.metadata_refreshed_at = None;
        Ok(())
    }

    /// Stops reading: revokes the partitions (with the listener) and leaves the group.
    pub async fn unsubscribe(&mut self) -> Result<()> {
        self.ensure_open()?;
        let timeout = Duration::from_millis(self.config.default_api_timeout_ms);
        self.leave_group("the consumer unsubscribed from all topics", timeout).await;
        self.subscriptions.unsubscribe();
        self.fetcher.retain_assigned(&self.subscriptions);
        Ok(())
    }

    /// The partitions currently assigned (by the group or by hand).
    pub fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.subscriptions.assigned()
    }

    /// The subscribed topics (empty for manual assignment).
    pub fn subscription(&self) -> BTreeSet<String> {
        self.subscriptions.subscribed_topics().cloned().unwrap_or_default()
    }

    /// The member's group identity, once it has joined.
    pub fn group_metadata(&self) -> Option<GroupMetadata> {
        let group = self.group.as_ref()?;
        Some(GroupMetadata {
            group_id: group.group_id().to_string(),
            generation_id: group.generation_id(),
            member_id: group.member_id(),
            group_instance_id: self.config.group_instance_id.clone(),
        })
    }

    /// Fetches records, waiting at most `timeout` for some to arrive. Group coordination
    /// (joining, rebalancing, the listener hooks) and auto-commit happen inside this call;
    /// a rebalance that takes longer than `timeout` continues on the next call.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Records> {
        self.ensure_open()?;
        let deadline = Instant::now() + timeout;
        if let Some(group) = &self.group {
            group.note_poll();
            if let Some(error) = group.fatal_error() {
                return Err(error);
            }
        }
        if self.subscriptions.mode() == &Mode::None {
            return Err(Error::Config("poll() needs subscribe() or assign() first".into()));
        }
        loop {
            let ready = self.poll_coordinator(deadline).await?;
            if ready {
                self.refresh_metadata_if_due().await;
                self.update_positions(deadline).await?;
                self.fetcher.collect_ready();
                let records = self.fetcher.drain(&mut self.subscriptions, self.config.max_poll_records)?;
                // Start the next fetches before handing records out, so they overlap with
                // the application's processing (Java does the same).
                self.fetcher.send_fetches(&self.subscriptions);
                if !records.is_empty() {
                    return Ok(records);
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Records::default());
            }
            let idle = (now + Duration::from_millis(IDLE_WAIT_MS)).min(deadline);
            if !(ready && self.fetcher.wait(deadline).await) {
                tokio::time::sleep_until(idle).await;
            }
        }
    }

    /// A stream of records, polling as needed. Each record's position is already past it
    /// when it is yielded; auto-commit (inside the next poll, which the stream runs only
    /// after every record of the previous batch was taken) commits only taken records.
    ///
    /// ```no_run
    /// use futures_core::Stream;
    /// use runnel_client::consumer::{Consumer, ConsumerConfig};
    ///
    /// # async fn run(mut consumer: Consumer) -> runnel_client::Result<()> {
    /// let mut stream = consumer.stream();
    /// while let Some(record) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)).await {
    ///     let record = record?;
    ///     println!("{}: {:?}", record.offset, record.value);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn stream(&mut self) -> RecordStream<'_> {
        RecordStream::new(self)
    }

    // ---- group coordination inside poll ----

    /// Joins or rejoins the group when needed and runs the listener hooks. True when the
    /// consumer is ready to fetch (member of a stable generation, or not in a group).
    async fn poll_coordinator(&mut self, deadline: Instant) -> Result<bool> {
        let Some(topics) = self.subscriptions.subscribed_topics().cloned() else {
            self.maybe_auto_commit(false);
            return Ok(true);
        };
        if self.group()?.needs_join() {
            if !self.join_prepared {
                self.prepare_join().await;
                self.join_prepared = true;
            }
            self.group()?.start_join(topics);
        }
        let group = self.group()?;
        if group.join_in_flight() {
            match group.await_join(deadline).await {
                None => return Ok(false),
                Some(Ok(outcome)) => {
                    self.join_prepared = false;
                    let assigned: BTreeSet<TopicPartition> = outcome.assignment.iter().cloned().collect();
                    // Partitions of topics no longer subscribed (subscribe() changed the
                    // topics while the join ran) are not read; the rejoin subscribe()
                    // asked for follows on the next loop.
                    let subscribed = self.subscriptions.subscribed_topics().cloned().unwrap_or_default();
                    let assigned: BTreeSet<TopicPartition> =
                        assigned.into_iter().filter(|tp| subscribed.contains(&tp.topic)).collect();
                    self.subscriptions.assign_from_group(assigned.clone());
                    self.fetcher.retain_assigned(&self.subscriptions);
                    self.partition_counts = outcome.partition_counts;
                    self.next_auto_commit = Instant::now() + Duration::from_millis(self.config.auto_commit_interval_ms);
                    tracing::info!(generation = outcome.generation_id, "assigned partitions: {assigned:?}");
                    let list: Vec<TopicPartition> = assigned.into_iter().collect();
                    self.listener.on_partitions_assigned(&list);
                }
                Some(Err(error)) => {
                    if is_retriable_join_error(&error) {
                        tracing::info!("joining the group failed, retrying: {error}");
                        let backoff = Duration::from_millis(self.cluster.config().retry_backoff_ms);
                        tokio::time::sleep_until((Instant::now() + backoff).min(deadline)).await;
                        return Ok(false);
                    }
                    return Err(error);
                }
            }
        }
        if self.group()?.phase() != Phase::Stable {
            return Ok(false);
        }
        self.maybe_auto_commit(false);
        Ok(true)
    }

    /// Java's `onJoinPrepare` for the eager protocol: commit (auto-commit only) and revoke
    /// everything, or report it lost when the generation is already gone.
    async fn prepare_join(&mut self) {
        let owned: Vec<TopicPartition> = self.subscriptions.assigned().into_iter().collect();
        let has_generation = self.group.as_ref().is_some_and(Group::has_generation);
        if has_generation {
            if self.config.enable_auto_commit {
                self.commit_before_revocation().await;
            }
            self.listener.on_partitions_revoked(&owned);
        } else if !owned.is_empty() {
            tracing::info!("partitions lost (the generation was reset): {owned:?}");
            self.listener.on_partitions_lost(&owned);
        }
        self.subscriptions.assign_from_group(BTreeSet::new());
        self.fetcher.retain_assigned(&self.subscriptions);
    }

    async fn commit_before_revocation(&mut self) {
        let offsets = self.consumed_offsets();
        if offsets.is_empty() {
            return;
        }
        let bound = self.config.default_api_timeout_ms.min(self.config.max_poll_interval_ms);
        let deadline = Instant::now() + Duration::from_millis(bound);
        let Some(group) = self.group.as_ref() else { return };
        match group.commit(&offsets, true, deadline).await {
            Ok(()) => tracing::debug!("committed {offsets:?} before revocation"),
            Err(error) => tracing::warn!("auto-commit before revocation failed: {error}"),
        }
    }

    fn consumed_offsets(&self) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        self.subscriptions
            .all_consumed()
            .into_iter()
            .map(|(tp, (offset, leader_epoch))| (tp, OffsetAndMetadata { offset, metadata: String::new(), leader_epoch }))
            .collect()
    }

    /// Starts an auto-commit when one is due (or `now`), unless one is still in flight.
    fn maybe_auto_commit(&mut self, now: bool) {
        if !self.config.enable_auto_commit || self.group.is_none() {
            return;
        }
        let at = Instant::now();
        if !now && at < self.next_auto_commit {
            return;
        }
        if self.auto_commit.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        if tokio::runtime::Handle::try_current().is_err() {
            // assign() called outside the runtime: nothing to run the commit on.
            return;
        }
        self.next_auto_commit = at + Duration::from_millis(self.config.auto_commit_interval_ms);
        let offsets = self.consumed_offsets();
        if offsets.is_empty() {
            return;
        }
        let use_generation = matches!(self.subscriptions.mode(), Mode::Topics(_));
        self.auto_commit = Some(self.spawn_commit(offsets, use_generation, "auto-commit"));
    }

    /// Commits in a task; a failure is logged (an auto-commit's caller never looks) and
    /// returned through the handle.
    fn spawn_commit(
        &self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        use_generation: bool,
        what: &'static str,
    ) -> JoinHandle<Result<()>> {
        let shared = self.group.as_ref().map(Group::shared);
        let deadline = Instant::now() + Duration::from_millis(self.config.default_api_timeout_ms);
        tokio::spawn(async move {
            let Some(shared) = shared else {
                return Err(Error::Config("commit needs a group.id".into()));
            };
            let outcome = group::commit(&shared, &offsets, use_generation, deadline).await;
            match &outcome {
                Ok(()) => tracing::debug!("{what} of {} partitions done", offsets.len()),
                Err(error) => tracing::warn!("{what} failed: {error}"),
            }
            outcome
        })
    }

    // ---- positions ----

    /// Gives every assigned partition a position: its committed offset, else the reset
    /// policy. Returns early (without error) when `deadline` passes.
    async fn update_positions(&mut self, deadline: Instant) -> Result<()> {
        let initializing: BTreeSet<TopicPartition> = self.subscriptions.initializing().into_iter().collect();
        if !initializing.is_empty() {
            let committed = if self.config.group_id.is_some() {
                match self.group()?.fetch_committed(&initializing, deadline).await {
                    Ok(committed) => committed,
                    Err(Error::Timeout(_)) => return Ok(()),
                    Err(error) => return Err(error),
                }
            } else {
                initializing.iter().map(|tp| (tp.clone(), None)).collect()
            };
            for (tp, offset) in committed {
                if !self.subscriptions.is_assigned(&tp) {
                    continue;
                }
                match offset {
                    Some(o) => self.subscriptions.seek(&tp, o.offset, o.leader_epoch)?,
                    None => self.reset_by_policy(&tp)?,
                }
            }
        }
        let resets = self.subscriptions.awaiting_reset();
        if resets.is_empty() {
            return Ok(());
        }
        let targets: BTreeMap<TopicPartition, i64> = resets
            .iter()
            .map(|(tp, target)| {
                let timestamp = match target {
                    ResetTarget::Earliest => EARLIEST_TIMESTAMP,
                    ResetTarget::Latest => LATEST_TIMESTAMP,
                };
                (tp.clone(), timestamp)
            })
            .collect();
        let found =
            match offsets::list_offsets(&self.cluster, &targets, self.config.isolation_level.wire_value(), deadline).await {
                Ok(found) => found,
                Err(Error::Timeout(_)) => return Ok(()),
                Err(error) => return Err(error),
            };
        for (tp, target) in resets {
            // Apply only if nothing repositioned the partition meanwhile.
            let still = self.subscriptions.awaiting_reset().into_iter().any(|(t, g)| t == tp && g == target);
            if let (true, Some(Some(answer))) = (still, found.get(&tp)) {
                tracing::debug!(partition = %tp, offset = answer.offset, "reset position to {target:?}");
                self.subscriptions.seek(&tp, answer.offset, answer.leader_epoch)?;
            }
        }
        Ok(())
    }

    fn reset_by_policy(&mut self, tp: &TopicPartition) -> Result<()> {
        let target = match self.config.auto_offset_reset {
            OffsetReset::Earliest => ResetTarget::Earliest,
            OffsetReset::Latest => ResetTarget::Latest,
            OffsetReset::None => {
                return Err(Error::NotFound(format!(
                    "no committed offset for partition {tp} and auto.offset.reset=none"
                )))
            }
        };
        self.subscriptions.request_reset(tp, target)
    }

    /// The offset of the next record `poll()` returns from `partition`, looking it up
    /// (committed offset or reset policy) when not known yet.
    pub async fn position(&mut self, partition: &TopicPartition) -> Result<i64> {
        self.ensure_open()?;
        if !self.subscriptions.is_assigned(partition) {
            return Err(Error::Config(format!("position() of {partition}, which is not assigned to this consumer")));
        }
        let deadline = Instant::now() + Duration::from_millis(self.config.default_api_timeout_ms);
        loop {
            if let Some(position) = self.subscriptions.position(partition) {
                return Ok(position);
            }
            self.update_positions(deadline).await?;
            if let Some(position) = self.subscriptions.position(partition) {
                return Ok(position);
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout(format!("position of {partition}")));
            }
            let backoff = Duration::from_millis(self.cluster.config().retry_backoff_ms);
            tokio::time::sleep_until((Instant::now() + backoff).min(deadline)).await;
        }
    }

    /// Sets the offset the next `poll()` reads `partition` from.
    pub fn seek(&mut self, partition: &TopicPartition, offset: i64) -> Result<()> {
        self.ensure_open()?;
        self.subscriptions.seek(partition, offset, None)
    }

    /// Moves `partitions` (all assigned ones when empty) to their first offset, looked up
    /// lazily on the next `poll()` or `position()`.
    pub fn seek_to_beginning(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        self.request_resets(partitions, ResetTarget::Earliest)
    }

    /// Moves `partitions` (all assigned ones when empty) to their end, looked up lazily.
    pub fn seek_to_end(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        self.request_resets(partitions, ResetTarget::Latest)
    }

    fn request_resets(&mut self, partitions: &[TopicPartition], target: ResetTarget) -> Result<()> {
        self.ensure_open()?;
        let all: Vec<TopicPartition>;
        let partitions = if partitions.is_empty() {
            all = self.subscriptions.assigned().into_iter().collect();
            &all[..]
        } else {
            partitions
        };
        for tp in partitions {
            self.subscriptions.request_reset(tp, target)?;
        }
        Ok(())
    }

    /// Stops fetching `partitions` until `resume`; `poll()` returns nothing from them.
    pub fn pause(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        partitions.iter().try_for_each(|tp| self.subscriptions.pause(tp))
    }

    pub fn resume(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        partitions.iter().try_for_each(|tp| self.subscriptions.resume(tp))
    }

    pub fn paused(&self) -> BTreeSet<TopicPartition> {
        self.subscriptions.paused()
    }

    // ---- offsets ----

    /// Commits the positions of every assigned partition (the offsets after the records
    /// `poll()` returned) and waits for the answer, retrying coordinator moves up to
    /// `default.api.timeout.ms`.
    pub async fn commit(&mut self) -> Result<()> {
        let offsets = self.consumed_offsets();
        self.commit_offsets(offsets).await
    }

    /// Commits the positions in the background. The handle may be awaited for the outcome
    /// or dropped (a failure is also logged). Like `tokio::spawn`, it must be called from
    /// within a tokio runtime.
    pub fn commit_async(&mut self) -> JoinHandle<Result<()>> {
        let offsets = self.consumed_offsets();
        let use_generation = matches!(self.subscriptions.mode(), Mode::Topics(_));
        if self.group_id().is_ok() {
            // Make sure the membership (and so the shared coordinator state) exists.
            let _ = self.group();
        }
        self.spawn_commit(offsets, use_generation, "asynchronous commit")
    }

    /// Commits the given offsets (the offset of the next record to read, as Kafka stores).
    pub async fn commit_offsets<I, O>(&mut self, offsets: I) -> Result<()>
    where
        I: IntoIterator<Item = (TopicPartition, O)>,
        O: Into<OffsetAndMetadata>,
    {
        self.ensure_open()?;
        let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> =
            offsets.into_iter().map(|(tp, o)| (tp, o.into())).collect();
        if let Some((tp, o)) = offsets.iter().find(|(_, o)| o.offset < 0) {
            return Err(Error::Config(format!("cannot commit negative offset {} for {tp}", o.offset)));
        }
        let use_generation = matches!(self.subscriptions.mode(), Mode::Topics(_));
        let deadline = Instant::now() + Duration::from_millis(self.config.default_api_timeout_ms);
        self.group()?.commit(&offsets, use_generation, deadline).await
    }

    /// The group's committed offsets for `partitions` (`None`: nothing committed).
    pub async fn committed(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
        self.ensure_open()?;
        let set: BTreeSet<TopicPartition> = partitions.iter().cloned().collect();
        let deadline = Instant::now() + Duration::from_millis(self.config.default_api_timeout_ms);
        self.group()?.fetch_committed(&set, deadline).await
    }

    /// For each partition, the earliest offset whose timestamp is at or after the given
    /// one (milliseconds since the epoch); `None` when there is no such record.
    pub async fn offsets_for_times(
        &mut self,
        timestamps: &BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndTimestamp>>> {
        self.ensure_open()?;
        if let Some((tp, t)) = timestamps.iter().find(|(_, t)| **t < 0) {
            return Err(Error::Config(format!("offsets_for_times: negative timestamp {t} for {tp}")));
        }
        self.list_offsets(timestamps).await
    }

    /// The first offset of each partition (the log start offset).
    pub async fn beginning_offsets(&mut self, partitions: &[TopicPartition]) -> Result<BTreeMap<TopicPartition, i64>> {
        self.special_offsets(partitions, EARLIEST_TIMESTAMP).await
    }

    /// The end offset of each partition (the offset the next produced record gets).
    pub async fn end_offsets(&mut self, partitions: &[TopicPartition]) -> Result<BTreeMap<TopicPartition, i64>> {
        self.special_offsets(partitions, LATEST_TIMESTAMP).await
    }

    async fn special_offsets(&mut self, partitions: &[TopicPartition], timestamp: i64) -> Result<BTreeMap<TopicPartition, i64>> {
        self.ensure_open()?;
        let targets = partitions.iter().map(|tp| (tp.clone(), timestamp)).collect();
        let found = self.list_offsets(&targets).await?;
        found
            .into_iter()
            .map(|(tp, o)| match o {
                Some(o) => Ok((tp, o.offset)),
                None => Err(Error::Protocol(format!("ListOffsets answered no offset for {tp}"))),
            })
            .collect()
    }

    async fn list_offsets(
        &mut self,
        targets: &BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndTimestamp>>> {
        let topics: Vec<String> = targets.keys().map(|tp| tp.topic.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let metadata = self.cluster.metadata();
        if targets.keys().any(|tp| metadata.partition(&tp.topic, tp.partition).is_none()) {
            self.cluster.refresh(Some(&topics), false).await?;
        }
        let deadline = Instant::now() + Duration::from_millis(self.config.default_api_timeout_ms);
        offsets::list_offsets(&self.cluster, targets, self.config.isolation_level.wire_value(), deadline).await
    }

    // ---- metadata ----

    /// Refreshes metadata of the topics in use when a fetch found a moved leader, when it is
    /// older than `metadata.max.age.ms`, or often while a subscribed topic is missing; a
    /// changed partition count of a subscribed topic starts a rebalance.
    async fn refresh_metadata_if_due(&mut self) {
        let topics: Vec<String> = match self.subscriptions.subscribed_topics() {
            Some(topics) => topics.iter().cloned().collect(),
            None => self.subscriptions.assigned().into_iter().map(|tp| tp.topic).collect::<BTreeSet<_>>().into_iter().collect(),
        };
        if topics.is_empty() {
            return;
        }
        self.metadata_refresh_requested |= self.fetcher.take_metadata_refresh_needed();
        let fetcher_asks = self.metadata_refresh_requested;
        let metadata = self.cluster.metadata();
        let missing = topics.iter().any(|t| metadata.partition_count(t).is_none());
        let age = self.metadata_refreshed_at.map(|at| at.elapsed());
        let client = self.cluster.config();
        let due = match age {
            None => true,
            Some(age) => {
                age >= Duration::from_millis(client.metadata_max_age_ms)
                    || (fetcher_asks && age >= Duration::from_millis(client.retry_backoff_ms))
                    || (missing && age >= Duration::from_millis(MISSING_TOPIC_REFRESH_MS))
            }
        };
        if !due {
            return;
        }
        self.metadata_refreshed_at = Some(Instant::now());
        self.metadata_refresh_requested = false;
        let auto_create = self.config.allow_auto_create_topics && self.subscriptions.subscribed_topics().is_some();
        let fresh = match self.cluster.refresh(Some(&topics), auto_create).await {
            Ok(fresh) => fresh,
            Err(error) => {
                tracing::debug!("metadata refresh failed: {error}");
                return;
            }
        };
        if self.subscriptions.subscribed_topics().is_none() {
            return;
        }
        let Some(group) = self.group.as_ref() else { return };
        if group.phase() != Phase::Stable {
            return;
        }
        for topic in &topics {
            let now = fresh.partition_count(topic);
            match self.partition_counts.get(topic) {
                Some(before) if *before != now => {
                    let reason = format!("partitions of {topic} changed from {before:?} to {now:?}");
                    group.request_rejoin(&reason);
                    return;
                }
                _ => {}
            }
        }
    }

    // ---- shutdown ----

    async fn leave_group(&mut self, reason: &str, timeout: Duration) {
        if matches!(self.subscriptions.mode(), Mode::Topics(_)) {
            let owned: Vec<TopicPartition> = self.subscriptions.assigned().into_iter().collect();
            if self.group.as_ref().is_some_and(Group::has_generation) {
                self.listener.on_partitions_revoked(&owned);
            } else if !owned.is_empty() {
                self.listener.on_partitions_lost(&owned);
            }
            self.subscriptions.assign_from_group(BTreeSet::new());
            if let Some(group) = self.group.as_mut() {
                group.leave(reason, timeout).await;
            }
        }
    }

    /// Commits (with auto-commit), runs the revocation hook, leaves the group (dynamic
    /// members) and stops the background tasks, within Kafka's default 30 s.
    pub async fn close(&mut self) -> Result<()> {
        self.close_with_timeout(Duration::from_millis(CLOSE_TIMEOUT_MS_DEFAULT)).await
    }

    /// As [`Consumer::close`] within `timeout`. Later calls on the consumer fail with
    /// [`Error::Closed`].
    pub async fn close_with_timeout(&mut self, timeout: Duration) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let deadline = Instant::now() + timeout;
        let mut outcome = Ok(());
        if let Some(previous) = self.auto_commit.take() {
            let _ = tokio::time::timeout_at(deadline, previous).await;
        }
        if self.config.enable_auto_commit && self.group.is_some() {
            let offsets = self.consumed_offsets();
            let use_generation = matches!(self.subscriptions.mode(), Mode::Topics(_));
            let stable = !use_generation || self.group.as_ref().is_some_and(|g| g.phase() == Phase::Stable);
            if !offsets.is_empty() && stable {
                if let Some(group) = self.group.as_ref() {
                    if let Err(error) = group.commit(&offsets, use_generation, deadline).await {
                        tracing::warn!("auto-commit on close failed: {error}");
                        outcome = Err(error);
                    }
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        self.leave_group("the consumer is being closed", left).await;
        if let Some(group) = self.group.as_mut() {
            group.shutdown();
        }
        self.subscriptions.unsubscribe();
        self.fetcher.retain_assigned(&self.subscriptions);
        outcome
    }
}

/// Join failures `poll()` retries on its own (after a backoff) rather than reporting.
fn is_retriable_join_error(error: &Error) -> bool {
    match error {
        Error::Kafka { code, .. } => {
            matches!(
                *code,
                codes::REBALANCE_IN_PROGRESS
                    | codes::UNKNOWN_MEMBER_ID
                    | codes::ILLEGAL_GENERATION
                    | codes::MEMBER_ID_REQUIRED
                    | codes::COORDINATOR_LOAD_IN_PROGRESS
            ) || codes::is_coordinator_gone(*code)
                || error.is_retriable()
        }
        // NotFound: no broker reachable to find the coordinator; Java's poll() keeps trying.
        Error::Io { .. } | Error::Timeout(_) | Error::Closed | Error::NotFound(_) => true,
        _ => false,
    }
}
