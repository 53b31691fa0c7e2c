//! Group membership for the classic (eager) consumer protocol: Kafka's `AbstractCoordinator`
//! and the group half of `ConsumerCoordinator`.
//!
//! Owns: the coordinator connection (a dedicated one, as Java opens, so a long-polling Fetch
//! on the same broker never delays a heartbeat and a held JoinGroup never delays a fetch),
//! the member's identity (member id, generation, protocol), the join/sync exchange run as a
//! task that survives `poll()` timeouts, the leader's assignment, the background heartbeat
//! task with its session and poll-interval checks, LeaveGroup, and OffsetCommit/OffsetFetch
//! with the coordinator error handling Kafka specifies for each.
//!
//! What the application sees of a rebalance (revocation, assignment, auto-commit before
//! revocation) is driven from `poll()` in `consumer.rs`; this module only reports.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_fetch_request::{OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ApiKey, GroupId, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, OffsetCommitRequest,
    OffsetFetchRequest, SyncGroupRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::assignor::{AssignmentStrategy, MemberSubscription};
use super::codes;
use super::config::ConsumerConfig;
use super::protocol::{self, PROTOCOL_TYPE};
use super::record::TopicPartition;
use crate::cluster::{Cluster, CoordinatorKind};
use crate::conn::Connection;
use crate::error::{Error, Result};

/// Generation id of a member outside any generation.
pub(crate) const NO_GENERATION: i32 = -1;
/// Member id before the coordinator assigned one.
pub(crate) const UNKNOWN_MEMBER_ID: &str = "";
/// Extra time a JoinGroup may be held beyond the rebalance timeout (Java's
/// `JOIN_GROUP_TIMEOUT_LAPSE`).
const JOIN_GROUP_TIMEOUT_EXTRA_MS: u64 = 5_000;
/// Times in a row a JoinGroup may answer MEMBER_ID_REQUIRED before the join gives up
/// (one is the protocol; more means a confused coordinator).
const MEMBER_ID_REQUIRED_RETRIES_MAX: usize = 3;

/// A committed offset with its metadata string (Java's `OffsetAndMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    pub offset: i64,
    pub metadata: String,
    /// The leader epoch of the last consumed record, when known.
    pub leader_epoch: Option<i32>,
}

impl OffsetAndMetadata {
    pub fn new(offset: i64) -> OffsetAndMetadata {
        OffsetAndMetadata { offset, metadata: String::new(), leader_epoch: None }
    }
}

impl From<i64> for OffsetAndMetadata {
    fn from(offset: i64) -> OffsetAndMetadata {
        OffsetAndMetadata::new(offset)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Unjoined,
    /// JoinGroup/SyncGroup in flight; no heartbeats.
    Joining,
    Stable,
}

/// The member's identity and what the heartbeat task has learned.
struct MemberState {
    member_id: String,
    generation_id: i32,
    protocol: Option<String>,
    phase: Phase,
    rejoin_needed: bool,
    rejoin_reason: String,
    coordinator: Option<Connection>,
    last_poll: Instant,
    last_heartbeat_ok: Instant,
    /// An error that ends membership for good (FENCED_INSTANCE_ID), reported by `poll()`.
    fatal: Option<(i16, String)>,
}

/// The result of a completed join: this member's assignment in the new generation.
#[derive(Debug)]
pub(crate) struct JoinOutcome {
    pub generation_id: i32,
    pub assignment: Vec<TopicPartition>,
    /// Partition counts of this member's topics when the generation was formed; a change
    /// triggers a rejoin (Java's metadata snapshot check).
    pub partition_counts: BTreeMap<String, Option<usize>>,
}

/// Shared between the consumer, the join task and the heartbeat task.
pub(crate) struct Shared {
    state: Mutex<MemberState>,
    group_id: String,
    instance_id: Option<String>,
    cluster: Cluster,
    config: Arc<ConsumerConfig>,
}

/// One consumer's membership in its group.
pub(crate) struct Group {
    shared: Arc<Shared>,
    heartbeat: JoinHandle<()>,
    join: Option<JoinHandle<Result<JoinOutcome>>>,
    cancel: CancellationToken,
}

impl Drop for Group {
    fn drop(&mut self) {
        self.cancel.cancel();
        self.heartbeat.abort();
        if let Some(join) = self.join.take() {
            join.abort();
        }
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, MemberState> {
    // Every critical section only assigns fields, so a poisoned lock holds consistent data.
    shared.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Group {
    pub fn new(group_id: String, cluster: Cluster, config: Arc<ConsumerConfig>) -> Group {
        let now = Instant::now();
        let shared = Arc::new(Shared {
            state: Mutex::new(MemberState {
                member_id: UNKNOWN_MEMBER_ID.to_string(),
                generation_id: NO_GENERATION,
                protocol: None,
                phase: Phase::Unjoined,
                rejoin_needed: true,
                rejoin_reason: "initial join".into(),
                coordinator: None,
                last_poll: now,
                last_heartbeat_ok: now,
                fatal: None,
            }),
            instance_id: config.group_instance_id.clone(),
            group_id,
            cluster,
            config,
        });
        let cancel = CancellationToken::new();
        let heartbeat = tokio::spawn(heartbeat_loop(shared.clone(), cancel.clone()));
        Group { shared, heartbeat, join: None, cancel }
    }

    pub fn group_id(&self) -> &str {
        &self.shared.group_id
    }

    /// Records that the application called `poll()` (for `max.poll.interval.ms`).
    pub fn note_poll(&self) {
        lock(&self.shared).last_poll = Instant::now();
    }

    pub fn fatal_error(&self) -> Option<Error> {
        lock(&self.shared).fatal.as_ref().map(|(code, message)| Error::kafka(*code, Some(message.clone()), "group membership"))
    }

    pub fn phase(&self) -> Phase {
        lock(&self.shared).phase
    }

    /// Whether `poll()` must (re)join: asked for by the heartbeat, a commit, a metadata change,
    /// or never joined. False while a join is in flight.
    pub fn needs_join(&self) -> bool {
        if self.join.is_some() {
            return false;
        }
        let state = lock(&self.shared);
        state.rejoin_needed || state.phase != Phase::Stable
    }

    pub fn request_rejoin(&self, reason: &str) {
        let mut state = lock(&self.shared);
        if !state.rejoin_needed {
            tracing::info!(group = %self.shared.group_id, "rejoining the group: {reason}");
        }
        state.rejoin_needed = true;
        state.rejoin_reason = reason.to_string();
    }

    /// Whether the member still holds a generation; false after the coordinator or the
    /// poll-interval check reset it, when partitions are lost rather than revoked.
    pub fn has_generation(&self) -> bool {
        let state = lock(&self.shared);
        state.generation_id != NO_GENERATION && state.member_id != UNKNOWN_MEMBER_ID
    }

    pub fn member_id(&self) -> String {
        lock(&self.shared).member_id.clone()
    }

    pub fn generation_id(&self) -> i32 {
        lock(&self.shared).generation_id
    }

    pub fn join_in_flight(&self) -> bool {
        self.join.is_some()
    }

    /// Starts JoinGroup + SyncGroup for `topics` in the background.
    pub fn start_join(&mut self, topics: BTreeSet<String>) {
        {
            // A rejoin asked for from now on (a new subscription, a metadata change) must
            // survive this join's success, so the request is cleared here, not at the end.
            let mut state = lock(&self.shared);
            state.phase = Phase::Joining;
            state.rejoin_needed = false;
        }
        let shared = self.shared.clone();
        self.join = Some(tokio::spawn(async move {
            let outcome = join_and_sync(&shared, &topics).await;
            if outcome.is_err() {
                let mut state = lock(&shared);
                if state.phase == Phase::Joining {
                    state.phase = Phase::Unjoined;
                }
                state.rejoin_needed = true;
            }
            outcome
        }));
    }

    /// Waits for the join in flight until `deadline`. `None`: still running (or none).
    pub async fn await_join(&mut self, deadline: Instant) -> Option<Result<JoinOutcome>> {
        let join = self.join.as_mut()?;
        let finished = tokio::time::timeout_at(deadline, join).await.ok()?;
        self.join = None;
        Some(finished.unwrap_or_else(|e| Err(Error::Protocol(format!("group join task failed: {e}")))))
    }

    /// Stops a join in flight (close, unsubscribe).
    pub fn abort_join(&mut self) {
        if let Some(join) = self.join.take() {
            join.abort();
            let mut state = lock(&self.shared);
            if state.phase == Phase::Joining {
                state.phase = Phase::Unjoined;
            }
        }
    }

    /// Sends LeaveGroup once (dynamic members only, as Kafka: a static member is only
    /// removed by its session timeout) and resets the generation.
    pub async fn leave(&mut self, reason: &str, timeout: Duration) {
        self.abort_join();
        let (member_id, coordinator) = {
            let state = lock(&self.shared);
            (state.member_id.clone(), state.coordinator.clone())
        };
        if self.shared.instance_id.is_none() && member_id != UNKNOWN_MEMBER_ID {
            match coordinator.filter(|c| !c.is_closed()) {
                Some(connection) => match send_leave(&self.shared, &connection, &member_id, reason, timeout).await {
                    Ok(()) => tracing::info!(group = %self.shared.group_id, %member_id, "left the group: {reason}"),
                    Err(error) => tracing::info!(group = %self.shared.group_id, "LeaveGroup failed: {error}"),
                },
                // As Java: no coordinator to tell; the session timeout removes the member.
                None => tracing::info!(group = %self.shared.group_id, %member_id, "no LeaveGroup sent: coordinator unknown"),
            }
        }
        reset(&self.shared, true, reason);
    }

    /// Stops the heartbeat task.
    pub fn shutdown(&mut self) {
        self.cancel.cancel();
        self.abort_join();
    }

    /// Commits `offsets`, retrying coordinator moves until `deadline`. `generation` is
    /// `None` for a consumer with manually assigned partitions (Kafka's "simple" commit).
    pub async fn commit(
        &self,
        offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
        use_generation: bool,
        deadline: Instant,
    ) -> Result<()> {
        commit(&self.shared, offsets, use_generation, deadline).await
    }

    /// A handle for an asynchronous commit that outlives `&self`.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// The committed offsets of `partitions` (`None`: nothing committed).
    pub async fn fetch_committed(
        &self,
        partitions: &BTreeSet<TopicPartition>,
        deadline: Instant,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
        let shared = &self.shared;
        loop {
            let attempt = async {
                let connection = coordinator(shared).await?;
                let wait = remaining(deadline).min(Duration::from_millis(shared.cluster.config().request_timeout_ms));
                offset_fetch(shared, &connection, partitions, wait).await
            };
            let error = match attempt.await {
                Ok(found) => return Ok(found),
                Err(error) => error,
            };
            if !handle_coordinator_error(shared, &error) {
                return Err(error);
            }
            if !backoff_before(shared, deadline).await {
                return Err(timeout_error("fetching committed offsets", error));
            }
        }
    }
}

pub(crate) async fn commit(
    shared: &Shared,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    use_generation: bool,
    deadline: Instant,
) -> Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    loop {
        let (generation_id, member_id, instance_id) = if use_generation {
            let state = lock(shared);
            if state.phase != Phase::Stable || state.generation_id == NO_GENERATION {
                let code = if state.phase == Phase::Joining { codes::REBALANCE_IN_PROGRESS } else { codes::ILLEGAL_GENERATION };
                return Err(Error::kafka(
                    code,
                    Some("the consumer is not part of an active group; poll() rejoins it".into()),
                    format!("commit offsets for group {}", shared.group_id),
                ));
            }
            (state.generation_id, state.member_id.clone(), shared.instance_id.clone())
        } else {
            (NO_GENERATION, UNKNOWN_MEMBER_ID.to_string(), None)
        };
        let attempt = async {
            let connection = coordinator(shared).await?;
            let wait = remaining(deadline).min(Duration::from_millis(shared.cluster.config().request_timeout_ms));
            offset_commit(shared, &connection, offsets, generation_id, &member_id, instance_id, wait).await
        };
        let error = match attempt.await {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        match error.code() {
            Some(codes::REBALANCE_IN_PROGRESS) => {
                request_rejoin(shared, "a commit found the group rebalancing");
                return Err(error);
            }
            Some(codes::UNKNOWN_MEMBER_ID) | Some(codes::ILLEGAL_GENERATION) => {
                reset(shared, error.code() == Some(codes::UNKNOWN_MEMBER_ID), "a commit was refused");
                return Err(error);
            }
            Some(codes::FENCED_INSTANCE_ID) => {
                set_fatal(shared, &error);
                return Err(error);
            }
            _ => {}
        }
        if !handle_coordinator_error(shared, &error) {
            return Err(error);
        }
        if !backoff_before(shared, deadline).await {
            return Err(timeout_error("committing offsets", error));
        }
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))
}

/// Sleeps `retry.backoff.ms` if that ends before `deadline`; false when it would not.
async fn backoff_before(shared: &Shared, deadline: Instant) -> bool {
    let backoff = Duration::from_millis(shared.cluster.config().retry_backoff_ms);
    if Instant::now() + backoff >= deadline {
        return false;
    }
    tokio::time::sleep(backoff).await;
    true
}

fn timeout_error(what: &str, last: Error) -> Error {
    Error::Timeout(format!("{what}: last error: {last}"))
}

/// Reacts to an error talking to the coordinator; true when asking again may succeed.
fn handle_coordinator_error(shared: &Shared, error: &Error) -> bool {
    match error {
        Error::Kafka { code, .. } if codes::is_coordinator_gone(*code) => {
            mark_coordinator_unknown(shared);
            true
        }
        Error::Kafka { code, .. } => {
            matches!(*code, codes::COORDINATOR_LOAD_IN_PROGRESS | codes::UNSTABLE_OFFSET_COMMIT)
                || error.is_retriable()
        }
        Error::Io { .. } | Error::Timeout(_) | Error::Closed => {
            mark_coordinator_unknown(shared);
            true
        }
        _ => false,
    }
}

fn mark_coordinator_unknown(shared: &Shared) {
    let old = lock(shared).coordinator.take();
    if let Some(connection) = old {
        tracing::info!(group = %shared.group_id, coordinator = connection.addr(), "group coordinator marked unknown");
        connection.close();
    }
    shared.cluster.invalidate_coordinator(CoordinatorKind::Group, &shared.group_id);
}

fn request_rejoin(shared: &Shared, reason: &str) {
    let mut state = lock(shared);
    state.rejoin_needed = true;
    state.rejoin_reason = reason.to_string();
}

/// Java's `resetStateAndGeneration` followed by `requestRejoin`.
fn reset(shared: &Shared, reset_member_id: bool, reason: &str) {
    let mut state = lock(shared);
    tracing::info!(group = %shared.group_id, "resetting generation{}: {reason}", if reset_member_id { " and member id" } else { "" });
    state.generation_id = NO_GENERATION;
    state.protocol = None;
    if reset_member_id {
        state.member_id = UNKNOWN_MEMBER_ID.to_string();
    }
    if state.phase == Phase::Stable {
        state.phase = Phase::Unjoined;
    }
    state.rejoin_needed = true;
    state.rejoin_reason = reason.to_string();
}

fn set_fatal(shared: &Shared, error: &Error) {
    let mut state = lock(shared);
    state.fatal = Some((error.code().unwrap_or(codes::FENCED_INSTANCE_ID), error.to_string()));
    state.phase = Phase::Unjoined;
}

/// The dedicated coordinator connection, discovering the coordinator when unknown.
async fn coordinator(shared: &Shared) -> Result<Connection> {
    let cached = lock(shared).coordinator.clone().filter(|c| !c.is_closed());
    if let Some(open) = cached {
        return Ok(open);
    }
    let (node_id, pooled) = shared.cluster.coordinator(CoordinatorKind::Group, &shared.group_id).await?;
    let dedicated = Connection::connect(pooled.addr(), shared.cluster.config()).await?;
    tracing::debug!(group = %shared.group_id, node_id, addr = dedicated.addr(), "group coordinator found");
    let mut state = lock(shared);
    match state.coordinator.clone().filter(|c| !c.is_closed()) {
        Some(winner) => Ok(winner),
        None => {
            state.coordinator = Some(dedicated.clone());
            Ok(dedicated)
        }
    }
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

// ---- join and sync ----

async fn join_and_sync(shared: &Shared, topics: &BTreeSet<String>) -> Result<JoinOutcome> {
    let config = &shared.config;
    let connection = coordinator(shared).await.inspect_err(|e| {
        handle_coordinator_error(shared, e);
    })?;
    let version = connection.version(ApiKey::JoinGroup)?;
    let (member_id, last_generation, reason) = {
        let state = lock(shared);
        (state.member_id.clone(), state.generation_id, state.rejoin_reason.clone())
    };
    let mut protocols = Vec::new();
    let metadata = protocol::encode_subscription(topics, last_generation)?;
    for strategy in &config.assignment_strategies {
        protocols.push(JoinGroupRequestProtocol::default().with_name(str_bytes(strategy.name())).with_metadata(metadata.clone()));
    }
    let join_timeout = Duration::from_millis(
        config.client.request_timeout_ms.max(config.max_poll_interval_ms + JOIN_GROUP_TIMEOUT_EXTRA_MS),
    );
    let mut member_id = member_id;
    let mut response: Option<JoinGroupResponse> = None;
    for _ in 0..=MEMBER_ID_REQUIRED_RETRIES_MAX {
        let mut request = JoinGroupRequest::default()
            .with_group_id(GroupId(str_bytes(&shared.group_id)))
            .with_session_timeout_ms(config.session_timeout_ms as i32)
            .with_rebalance_timeout_ms(config.max_poll_interval_ms as i32)
            .with_member_id(str_bytes(&member_id))
            .with_protocol_type(str_bytes(PROTOCOL_TYPE))
            .with_protocols(protocols.clone());
        if version >= 5 {
            request.group_instance_id = shared.instance_id.as_deref().map(str_bytes);
        }
        if version >= 8 {
            request.reason = Some(str_bytes(&reason));
        }
        let answer = connection.send_with_timeout(request, join_timeout).await.inspect_err(|e| {
            handle_coordinator_error(shared, e);
        })?;
        match answer.error_code {
            codes::NONE => {
                response = Some(answer);
                break;
            }
            codes::MEMBER_ID_REQUIRED => {
                // KIP-394: the coordinator names our member id; join again with it.
                member_id = answer.member_id.to_string();
                lock(shared).member_id = member_id.clone();
                continue;
            }
            code => {
                let error = Error::kafka(code, None, format!("join group {}", shared.group_id));
                match code {
                    codes::UNKNOWN_MEMBER_ID => reset(shared, true, "JoinGroup: unknown member id"),
                    codes::FENCED_INSTANCE_ID => set_fatal(shared, &error),
                    codes::COORDINATOR_LOAD_IN_PROGRESS | codes::REBALANCE_IN_PROGRESS => {}
                    _ => {
                        handle_coordinator_error(shared, &error);
                    }
                }
                return Err(error);
            }
        }
    }
    let Some(response) = response else {
        return Err(Error::Protocol(format!(
            "join group {}: MEMBER_ID_REQUIRED {} times in a row",
            shared.group_id,
            MEMBER_ID_REQUIRED_RETRIES_MAX + 1
        )));
    };
    if let Some(kind) = response.protocol_type.as_deref().filter(|t| *t != PROTOCOL_TYPE) {
        return Err(Error::kafka(codes::INCONSISTENT_GROUP_PROTOCOL, Some(format!("group protocol type is {kind:?}")), "join group"));
    }
    let protocol_name = response.protocol_name.as_ref().map(|p| p.to_string()).unwrap_or_default();
    let strategy = AssignmentStrategy::from_name(&protocol_name).ok_or_else(|| {
        Error::kafka(codes::INCONSISTENT_GROUP_PROTOCOL, Some(format!("the group chose assignor {protocol_name:?}, which this client lacks")), "join group")
    })?;
    let member_id = response.member_id.to_string();
    let generation_id = response.generation_id;
    {
        let mut state = lock(shared);
        state.member_id = member_id.clone();
        state.generation_id = generation_id;
        state.protocol = Some(protocol_name.clone());
    }
    let is_leader = response.leader.as_str() == member_id;
    tracing::info!(group = %shared.group_id, %member_id, generation_id, leader = is_leader, protocol = %protocol_name, "joined the group");

    let assignments = if is_leader && !response.skip_assignment {
        leader_assign(shared, strategy, &response).await?
    } else {
        // The other members look their topics up too, so that the partition counts kept
        // for this generation are current and a later refresh does not take staleness for
        // a change (which would start a needless rebalance).
        let own: Vec<String> = topics.iter().cloned().collect();
        if let Err(error) = shared.cluster.refresh(Some(&own), config.allow_auto_create_topics).await {
            tracing::debug!(group = %shared.group_id, "metadata refresh after JoinGroup failed: {error}");
        }
        Vec::new()
    };
    let counts_metadata = shared.cluster.metadata();
    let partition_counts = topics.iter().map(|t| (t.clone(), counts_metadata.partition_count(t))).collect();

    let sync_version = connection.version(ApiKey::SyncGroup)?;
    let mut sync = SyncGroupRequest::default()
        .with_group_id(GroupId(str_bytes(&shared.group_id)))
        .with_generation_id(generation_id)
        .with_member_id(str_bytes(&member_id))
        .with_assignments(assignments);
    if sync_version >= 3 {
        sync.group_instance_id = shared.instance_id.as_deref().map(str_bytes);
    }
    if sync_version >= 5 {
        sync.protocol_type = Some(str_bytes(PROTOCOL_TYPE));
        sync.protocol_name = Some(str_bytes(&protocol_name));
    }
    let sync_timeout = Duration::from_millis(config.client.request_timeout_ms.max(config.max_poll_interval_ms));
    let answer = connection.send_with_timeout(sync, sync_timeout).await.inspect_err(|e| {
        handle_coordinator_error(shared, e);
    })?;
    if answer.error_code != codes::NONE {
        let error = Error::kafka(answer.error_code, None, format!("sync group {}", shared.group_id));
        match answer.error_code {
            codes::UNKNOWN_MEMBER_ID => reset(shared, true, "SyncGroup: unknown member id"),
            codes::ILLEGAL_GENERATION => reset(shared, false, "SyncGroup: illegal generation"),
            codes::FENCED_INSTANCE_ID => set_fatal(shared, &error),
            codes::REBALANCE_IN_PROGRESS => {}
            _ => {
                handle_coordinator_error(shared, &error);
            }
        }
        return Err(error);
    }
    if let Some(name) = answer.protocol_name.as_deref().filter(|n| *n != protocol_name.as_str()) {
        return Err(Error::kafka(codes::INCONSISTENT_GROUP_PROTOCOL, Some(format!("SyncGroup named protocol {name:?}")), "sync group"));
    }
    let assignment = protocol::decode_assignment(&answer.assignment)?;
    {
        let mut state = lock(shared);
        if state.generation_id != generation_id || state.member_id != member_id {
            // The heartbeat task reset the generation meanwhile (Java's check in SyncGroup).
            return Err(Error::kafka(codes::ILLEGAL_GENERATION, None, "sync group: generation reset meanwhile"));
        }
        state.phase = Phase::Stable;
        state.last_heartbeat_ok = Instant::now();
    }
    tracing::info!(group = %shared.group_id, generation_id, partitions = assignment.len(), "synced the group");
    Ok(JoinOutcome { generation_id, assignment, partition_counts })
}

/// The leader's part: decode every member's subscription, look up the partition counts of
/// every subscribed topic, run the chosen assignor, encode one assignment per member.
async fn leader_assign(
    shared: &Shared,
    strategy: AssignmentStrategy,
    response: &JoinGroupResponse,
) -> Result<Vec<SyncGroupRequestAssignment>> {
    let mut members = Vec::new();
    for member in &response.members {
        let topics = match protocol::decode_subscription(&member.metadata) {
            Ok(subscription) => subscription.topics,
            Err(error) => {
                // One member's unreadable metadata must not stall the whole group: it gets
                // nothing, the others proceed.
                tracing::warn!(group = %shared.group_id, member = %member.member_id.as_str(), "{error}");
                BTreeSet::new()
            }
        };
        members.push(MemberSubscription {
            member_id: member.member_id.to_string(),
            group_instance_id: member.group_instance_id.as_ref().map(|i| i.to_string()),
            topics,
        });
    }
    let all_topics: Vec<String> =
        members.iter().flat_map(|m| m.topics.iter().cloned()).collect::<BTreeSet<_>>().into_iter().collect();
    let metadata = if all_topics.is_empty() {
        shared.cluster.metadata()
    } else {
        shared.cluster.refresh(Some(&all_topics), shared.config.allow_auto_create_topics).await?
    };
    let counts: BTreeMap<String, i32> = all_topics
        .iter()
        .filter_map(|t| metadata.partition_count(t).filter(|n| *n > 0).map(|n| (t.clone(), n as i32)))
        .collect();
    let assignment = strategy.assign(&counts, &members);
    tracing::debug!(group = %shared.group_id, ?assignment, "leader computed the assignment");
    assignment
        .into_iter()
        .map(|(member_id, partitions)| {
            Ok(SyncGroupRequestAssignment::default()
                .with_member_id(str_bytes(&member_id))
                .with_assignment(protocol::encode_assignment(&partitions)?))
        })
        .collect()
}

// ---- heartbeat ----

async fn heartbeat_loop(shared: Arc<Shared>, cancel: CancellationToken) {
    let interval = Duration::from_millis(shared.config.heartbeat_interval_ms);
    let backoff = Duration::from_millis(shared.cluster.config().retry_backoff_ms);
    let mut wait = interval;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = interval;
        let (generation_id, member_id, poll_expired, session_expired) = {
            let state = lock(&shared);
            if state.fatal.is_some() || state.phase != Phase::Stable {
                continue;
            }
            let now = Instant::now();
            (
                state.generation_id,
                state.member_id.clone(),
                now.duration_since(state.last_poll) > Duration::from_millis(shared.config.max_poll_interval_ms),
                now.duration_since(state.last_heartbeat_ok) > Duration::from_millis(shared.config.session_timeout_ms),
            )
        };
        if poll_expired {
            tracing::warn!(
                group = %shared.group_id,
                "poll() was not called within max.poll.interval.ms ({} ms): leaving the group",
                shared.config.max_poll_interval_ms
            );
            let coordinator = lock(&shared).coordinator.clone();
            if shared.instance_id.is_none() {
                if let Some(connection) = coordinator.filter(|c| !c.is_closed()) {
                    let timeout = Duration::from_millis(shared.cluster.config().request_timeout_ms);
                    let _ = send_leave(&shared, &connection, &member_id, "consumer poll timeout has expired", timeout).await;
                }
            }
            reset(&shared, true, "consumer poll timeout has expired");
            continue;
        }
        if session_expired {
            // No successful heartbeat for a whole session: the coordinator has likely moved.
            mark_coordinator_unknown(&shared);
        }
        let connection = match coordinator(&shared).await {
            Ok(connection) => connection,
            Err(error) => {
                tracing::debug!(group = %shared.group_id, "heartbeat: no coordinator: {error}");
                wait = backoff;
                continue;
            }
        };
        match send_heartbeat(&shared, &connection, generation_id, &member_id).await {
            Ok(()) => lock(&shared).last_heartbeat_ok = Instant::now(),
            Err(error) => {
                wait = backoff;
                let stale = {
                    let state = lock(&shared);
                    state.generation_id != generation_id || state.member_id != member_id
                };
                match error.code() {
                    Some(codes::REBALANCE_IN_PROGRESS) => {
                        wait = interval;
                        // The heartbeat counts: the coordinator saw us. An answer about a
                        // generation we already left (a join ran meanwhile) asks nothing.
                        let mut state = lock(&shared);
                        state.last_heartbeat_ok = Instant::now();
                        if !stale && state.phase == Phase::Stable {
                            state.rejoin_needed = true;
                            state.rejoin_reason = "group is already rebalancing".into();
                        }
                    }
                    Some(codes::ILLEGAL_GENERATION) | Some(codes::UNKNOWN_MEMBER_ID) if !stale => {
                        let code = error.code();
                        reset(&shared, code == Some(codes::UNKNOWN_MEMBER_ID), &format!("heartbeat: {error}"));
                    }
                    Some(codes::FENCED_INSTANCE_ID) if !stale => set_fatal(&shared, &error),
                    _ => {
                        if !handle_coordinator_error(&shared, &error) {
                            tracing::warn!(group = %shared.group_id, "heartbeat failed: {error}");
                        }
                    }
                }
            }
        }
    }
}

async fn send_heartbeat(shared: &Shared, connection: &Connection, generation_id: i32, member_id: &str) -> Result<()> {
    let version = connection.version(ApiKey::Heartbeat)?;
    let mut request = HeartbeatRequest::default()
        .with_group_id(GroupId(str_bytes(&shared.group_id)))
        .with_generation_id(generation_id)
        .with_member_id(str_bytes(member_id));
    if version >= 3 {
        request.group_instance_id = shared.instance_id.as_deref().map(str_bytes);
    }
    let response = connection.send(request).await?;
    crate::error::check(response.error_code, None, format!("heartbeat to group {}", shared.group_id))
}

async fn send_leave(shared: &Shared, connection: &Connection, member_id: &str, reason: &str, timeout: Duration) -> Result<()> {
    let version = connection.version(ApiKey::LeaveGroup)?;
    let mut request = LeaveGroupRequest::default().with_group_id(GroupId(str_bytes(&shared.group_id)));
    if version >= 3 {
        let mut member = MemberIdentity::default().with_member_id(str_bytes(member_id));
        if version >= 5 {
            member.reason = Some(str_bytes(reason));
        }
        request.members = vec![member];
    } else {
        request.member_id = str_bytes(member_id);
    }
    let response = connection.send_with_timeout(request, timeout).await?;
    crate::error::check(response.error_code, None, "leave group")?;
    for member in response.members {
        crate::error::check(member.error_code, None, "leave group")?;
    }
    Ok(())
}

// ---- offsets ----

async fn offset_commit(
    shared: &Shared,
    connection: &Connection,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    generation_id: i32,
    member_id: &str,
    instance_id: Option<String>,
    timeout: Duration,
) -> Result<()> {
    let version = connection.version(ApiKey::OffsetCommit)?;
    let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for (tp, offset) in offsets {
        let mut partition = OffsetCommitRequestPartition::default()
            .with_partition_index(tp.partition)
            .with_committed_offset(offset.offset)
            .with_committed_metadata(Some(str_bytes(&offset.metadata)));
        if version >= 6 {
            partition.committed_leader_epoch = offset.leader_epoch.unwrap_or(-1);
        }
        topics.entry(tp.topic.as_str()).or_default().push(partition);
    }
    let mut request = OffsetCommitRequest::default()
        .with_group_id(GroupId(str_bytes(&shared.group_id)))
        .with_generation_id_or_member_epoch(generation_id)
        .with_member_id(str_bytes(member_id))
        .with_topics(
            topics
                .into_iter()
                .map(|(name, partitions)| {
                    OffsetCommitRequestTopic::default()
                        .with_name(TopicName(str_bytes(name)))
                        .with_partitions(partitions)
                })
                .collect(),
        );
    if version >= 7 {
        request.group_instance_id = instance_id.as_deref().map(str_bytes);
    }
    let response = connection.send_with_timeout(request, timeout).await?;
    // The first failed partition decides; Kafka answers one group-wide error on every
    // partition when the group refuses the commit.
    for topic in response.topics {
        for partition in topic.partitions {
            if partition.error_code != codes::NONE {
                return Err(Error::kafka(
                    partition.error_code,
                    None,
                    format!("commit offset of {}-{} for group {}", topic.name.0.as_str(), partition.partition_index, shared.group_id),
                ));
            }
        }
    }
    Ok(())
}

async fn offset_fetch(
    shared: &Shared,
    connection: &Connection,
    partitions: &BTreeSet<TopicPartition>,
    timeout: Duration,
) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
    let version = connection.version(ApiKey::OffsetFetch)?;
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        by_topic.entry(tp.topic.as_str()).or_default().push(tp.partition);
    }
    let mut request = OffsetFetchRequest::default();
    if version >= 8 {
        let topics = by_topic
            .iter()
            .map(|(name, ps)| {
                OffsetFetchRequestTopics::default().with_name(TopicName(str_bytes(name))).with_partition_indexes(ps.clone())
            })
            .collect();
        request.groups =
            vec![OffsetFetchRequestGroup::default().with_group_id(GroupId(str_bytes(&shared.group_id))).with_topics(Some(topics))];
    } else {
        request.group_id = GroupId(str_bytes(&shared.group_id));
        request.topics = Some(
            by_topic
                .iter()
                .map(|(name, ps)| {
                    OffsetFetchRequestTopic::default().with_name(TopicName(str_bytes(name))).with_partition_indexes(ps.clone())
                })
                .collect(),
        );
    }
    let response = connection.send_with_timeout(request, timeout).await?;
    let context = || format!("fetch committed offsets of group {}", shared.group_id);
    let mut found: BTreeMap<TopicPartition, Option<OffsetAndMetadata>> = BTreeMap::new();
    let mut record = |topic: &str, partition: i32, offset: i64, epoch: i32, metadata: Option<&StrBytes>, code: i16| {
        crate::error::check(code, None, format!("{} ({topic}-{partition})", context()))?;
        let tp = TopicPartition::new(topic, partition);
        if partitions.contains(&tp) {
            let value = (offset >= 0).then(|| OffsetAndMetadata {
                offset,
                metadata: metadata.map(|m| m.to_string()).unwrap_or_default(),
                leader_epoch: (epoch >= 0).then_some(epoch),
            });
            found.insert(tp, value);
        }
        Ok::<(), Error>(())
    };
    if version >= 8 {
        let group = response
            .groups
            .into_iter()
            .find(|g| g.group_id.0.as_str() == shared.group_id)
            .ok_or_else(|| Error::Protocol(format!("{}: the answer names no such group", context())))?;
        crate::error::check(group.error_code, None, context())?;
        for topic in group.topics {
            for p in topic.partitions {
                record(topic.name.0.as_str(), p.partition_index, p.committed_offset, p.committed_leader_epoch, p.metadata.as_ref(), p.error_code)?;
            }
        }
    } else {
        crate::error::check(response.error_code, None, context())?;
        for topic in response.topics {
            for p in topic.partitions {
                record(topic.name.0.as_str(), p.partition_index, p.committed_offset, p.committed_leader_epoch, p.metadata.as_ref(), p.error_code)?;
            }
        }
    }
    for tp in partitions {
        found.entry(tp.clone()).or_insert(None);
    }
    Ok(found)
}
