//! The coordinator: all classic groups and committed offsets of the `__consumer_offsets`
//! partitions a broker leads. `handle` and `tick` decide without changing anything; `replay`
//! is the only code that changes state, live and at load.

use std::collections::{BTreeMap, BTreeSet};

use runnel_protocol::kafka_protocol::error::ResponseError;
use runnel_protocol::kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use runnel_protocol::kafka_protocol::messages::describe_groups_response::DescribedGroup;
use runnel_protocol::kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use runnel_protocol::kafka_protocol::messages::offset_fetch_response::OffsetFetchResponseGroup;
use runnel_protocol::kafka_protocol::messages::{
    DeleteGroupsResponse, DescribeGroupsResponse, GroupId, LeaveGroupResponse, ListGroupsResponse,
    OffsetCommitResponse, OffsetDeleteResponse, OffsetFetchResponse, TopicName,
};

use crate::config::CoordinatorConfig;
use crate::decision::{Decision, Emitter};
use crate::group::ClassicGroup;
use crate::group_replay::apply_to_slot;
use crate::history::{apply_to_history, GroupHistory, HistoryStore};
use crate::offset_store::OffsetStore;
use crate::record::{OffsetCommitValue, Record};
use crate::request::{Request, RequestId, RequestKind, Response};
use crate::responses::{heartbeat, str_bytes, sync_error, JoinAnswer};
use crate::{delete, describe, heartbeat as heartbeat_api, join, leave, offsets, sync, tick};

/// Runnel's group coordinator for Kafka's classic group protocol.
///
/// The broker's loop, strictly one decision at a time:
/// 1. `let decision = coordinator.handle(now_ms, id, request)` (or `tick(now_ms)` when
///    [`GroupCoordinator::next_deadline_ms`] has passed);
/// 2. write the [`Decision::persisted_records`] (encoded with [`crate::encode`]) to the
///    `__consumer_offsets` partition of each record's group
///    ([`crate::partition_for_group`]);
/// 3. if the write succeeded, `replay` every record in order (or call `replay_decision`),
///    then send every response; a request with no response in the decision is held and will
///    be answered by a later decision;
/// 4. if the write failed, replay nothing and answer the request with
///    [`GroupCoordinator::failed_write`]; requests held before stay held. A failed `tick` is
///    simply retried at the next tick.
///
/// At load, `replay` every decoded record of the partitions (nothing else may run until
/// loading is done, so Kafka's COORDINATOR_LOAD_IN_PROGRESS is never needed), then call `tick`:
/// loaded groups start their members' sessions at the first decision that touches them.
#[derive(Debug, Clone)]
pub struct GroupCoordinator {
    pub(crate) config: CoordinatorConfig,
    pub(crate) groups: BTreeMap<String, ClassicGroup>,
    pub(crate) offsets: OffsetStore,
    /// Each group's rebalance history; outlives the group's records at load (compaction keeps
    /// history records older than the group's last GroupMetadata) and dies with the group.
    pub(crate) histories: BTreeMap<String, HistoryStore>,
    /// `None` until the first tick schedules the retention sweep.
    pub(crate) retention_check_at_ms: Option<i64>,
    /// Each group's earliest deadline, to find due groups without scanning them all.
    deadlines: BTreeSet<(i64, String)>,
    indexed_deadline: BTreeMap<String, i64>,
}

impl GroupCoordinator {
    pub fn new(config: CoordinatorConfig) -> Self {
        Self {
            config,
            groups: BTreeMap::new(),
            offsets: OffsetStore::default(),
            histories: BTreeMap::new(),
            retention_check_at_ms: None,
            deadlines: BTreeSet::new(),
            indexed_deadline: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &CoordinatorConfig {
        &self.config
    }

    /// Decides what `request` does: the responses (possibly none yet: the request is then
    /// held) and the records that make it so. Changes nothing.
    pub fn handle(&self, now_ms: i64, id: RequestId, request: Request) -> Decision {
        debug_assert!(!self.holds(id), "request id {id:?} is already held");
        let mut em = Emitter::new(self, now_ms);
        match &request {
            Request::JoinGroup { request, api_version, client_id, client_host } => {
                join::handle(&mut em, id, request, *api_version, client_id, client_host)
            }
            Request::SyncGroup { request, api_version } => sync::handle(&mut em, id, request, *api_version),
            Request::Heartbeat { request, .. } => heartbeat_api::handle(&mut em, id, request),
            Request::LeaveGroup { request, api_version } => leave::handle(&mut em, id, request, *api_version),
            Request::OffsetCommit { request, api_version, topics } => {
                offsets::commit(&mut em, id, request, *api_version, topics)
            }
            Request::OffsetFetch { request, api_version } => {
                offsets::fetch(&mut em, id, request, *api_version)
            }
            Request::DescribeGroups { request, api_version } => {
                describe::describe(&mut em, id, request, *api_version)
            }
            Request::ListGroups { request, .. } => describe::list(&mut em, id, request),
            Request::DeleteGroups { request, .. } => delete::handle(&mut em, id, request),
            Request::OffsetDelete { request, topics, .. } => offsets::delete(&mut em, id, request, topics),
        }
        em.finish()
    }

    /// Decides what the passage of time does by `now_ms`: expired sessions, join and sync
    /// timers, loaded groups' activation, the offsets retention sweep. Changes nothing.
    pub fn tick(&self, now_ms: i64) -> Decision {
        let mut em = Emitter::new(self, now_ms);
        tick::run(&mut em);
        em.finish()
    }

    /// When `tick` must run next: the earliest timer, or `i64::MIN` when something is due
    /// right away (a loaded group, the first retention schedule).
    pub fn next_deadline_ms(&self) -> Option<i64> {
        let groups = self.deadlines.first().map(|(deadline, _)| *deadline);
        let retention = self.retention_check_at_ms.unwrap_or(i64::MIN);
        Some(groups.map_or(retention, |g| g.min(retention)))
    }

    /// Applies one record: the only way the coordinator's state changes.
    pub fn replay(&mut self, record: &Record) {
        match record {
            Record::RetentionCheckScheduled { at_ms } => {
                self.retention_check_at_ms = Some(*at_ms);
                return;
            }
            Record::OffsetCommit { group_id, topic, partition, value } => {
                self.offsets.put(group_id, topic, *partition, value.clone())
            }
            Record::OffsetTombstone { group_id, topic, partition } => {
                self.offsets.remove(group_id, topic, *partition)
            }
            _ => {}
        }
        let Some(group_id) = record.group_id() else { return };
        if matches!(
            record,
            Record::GroupHistory { .. } | Record::GroupHistoryTombstone { .. } | Record::GroupTombstone { .. }
        ) {
            let mut history = self.histories.remove(group_id);
            apply_to_history(&mut history, record);
            if let Some(history) = history {
                self.histories.insert(group_id.to_owned(), history);
            }
        }
        let mut slot = self.groups.remove(group_id);
        apply_to_slot(group_id, &mut slot, record);
        if let Some(group) = slot {
            self.groups.insert(group_id.to_owned(), group);
        }
        self.reindex(group_id);
    }

    /// Replays every record of `decision`, in order. In debug builds, checks that every group
    /// the decision touched is now exactly what `handle` (or `tick`) computed.
    pub fn replay_decision(&mut self, decision: &Decision) {
        for record in &decision.records {
            self.replay(record);
        }
        for (group_id, expected) in &decision.expected_groups {
            debug_assert_eq!(
                self.groups.get(group_id),
                expected.as_ref(),
                "group {group_id}: replay diverged from the decision"
            );
        }
    }

    /// The response to `request` when its decision's records could not be written. Kafka maps
    /// storage errors before answering: UNKNOWN_TOPIC_OR_PARTITION, NOT_ENOUGH_REPLICAS and
    /// REQUEST_TIMED_OUT become COORDINATOR_NOT_AVAILABLE; NOT_LEADER_OR_FOLLOWER and
    /// KAFKA_STORAGE_ERROR become NOT_COORDINATOR; MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE
    /// and INVALID_FETCH_SIZE become UNKNOWN_SERVER_ERROR; anything else is passed on.
    pub fn failed_write(&self, id: RequestId, request: &RequestKind, error_code: i16) -> Response {
        debug_assert!(!self.holds(id), "a request whose write failed cannot be held");
        let error = coordinator_error_for_write_error(error_code);
        match request {
            RequestKind::JoinGroup { api_version } => {
                Response::JoinGroup(JoinAnswer::error(error, "").into_response(*api_version))
            }
            RequestKind::SyncGroup => Response::SyncGroup(sync_error(error)),
            RequestKind::Heartbeat => Response::Heartbeat(heartbeat(Some(error))),
            RequestKind::LeaveGroup => {
                let mut r = LeaveGroupResponse::default();
                r.error_code = error.code();
                Response::LeaveGroup(r)
            }
            RequestKind::OffsetCommit { topics } => {
                let mut r = OffsetCommitResponse::default();
                for (name, partitions) in topics {
                    let mut t = OffsetCommitResponseTopic::default();
                    t.name = TopicName(str_bytes(name));
                    for (index, known) in partitions {
                        let mut p = OffsetCommitResponsePartition::default();
                        p.partition_index = *index;
                        p.error_code =
                            if *known { error.code() } else { ResponseError::UnknownTopicOrPartition.code() };
                        t.partitions.push(p);
                    }
                    r.topics.push(t);
                }
                Response::OffsetCommit(r)
            }
            RequestKind::OffsetFetch { api_version, group_ids } => {
                let mut r = OffsetFetchResponse::default();
                if *api_version >= 8 {
                    r.groups = group_ids
                        .iter()
                        .map(|g| {
                            let mut group = OffsetFetchResponseGroup::default();
                            group.group_id = GroupId(str_bytes(g));
                            group.error_code = error.code();
                            group
                        })
                        .collect();
                } else {
                    r.error_code = error.code();
                }
                Response::OffsetFetch(r)
            }
            RequestKind::DescribeGroups { group_ids } => {
                let mut r = DescribeGroupsResponse::default();
                r.groups = group_ids
                    .iter()
                    .map(|g| {
                        let mut d = DescribedGroup::default();
                        d.group_id = GroupId(str_bytes(g));
                        d.error_code = error.code();
                        d
                    })
                    .collect();
                Response::DescribeGroups(r)
            }
            RequestKind::ListGroups => {
                let mut r = ListGroupsResponse::default();
                r.error_code = error.code();
                Response::ListGroups(r)
            }
            RequestKind::DeleteGroups { group_ids } => {
                let mut r = DeleteGroupsResponse::default();
                let mut seen = BTreeSet::new();
                r.results = group_ids
                    .iter()
                    .filter(|g| seen.insert(g.as_str()))
                    .map(|g| {
                        let mut d = DeletableGroupResult::default();
                        d.group_id = GroupId(str_bytes(g));
                        d.error_code = error.code();
                        d
                    })
                    .collect();
                Response::DeleteGroups(r)
            }
            RequestKind::OffsetDelete => {
                let mut r = OffsetDeleteResponse::default();
                r.error_code = error.code();
                Response::OffsetDelete(r)
            }
        }
    }

    pub fn group(&self, group_id: &str) -> Option<&ClassicGroup> {
        self.groups.get(group_id)
    }

    pub fn groups(&self) -> impl Iterator<Item = &ClassicGroup> {
        self.groups.values()
    }

    /// The group's completed generations, oldest first (at most
    /// [`crate::HISTORY_GENERATIONS_MAX`]); `None` when neither the group nor any history of
    /// it exists. A group without completed generations has an empty history.
    pub fn history(&self, group_id: &str) -> Option<GroupHistory> {
        match self.histories.get(group_id) {
            Some(history) => Some(history.view()),
            None => self.groups.contains_key(group_id).then(GroupHistory::default),
        }
    }

    pub fn committed_offset(
        &self,
        group_id: &str,
        topic: &str,
        partition: i32,
    ) -> Option<&OffsetCommitValue> {
        self.offsets.get(group_id, topic, partition)
    }

    /// How many offsets are stored, over all groups.
    pub fn num_offsets(&self) -> usize {
        self.offsets.len()
    }

    /// Every request currently held, in no particular order.
    pub fn held_requests(&self) -> Vec<RequestId> {
        self.groups.values().flat_map(|g| g.held_requests()).map(|h| h.id).collect()
    }

    pub fn holds(&self, id: RequestId) -> bool {
        self.groups.values().any(|g| g.holds(id))
    }

    /// Groups with a deadline at or before `now_ms`.
    pub(crate) fn groups_due(&self, now_ms: i64) -> Vec<String> {
        self.deadlines
            .iter()
            .take_while(|(deadline, _)| *deadline <= now_ms)
            .map(|(_, group_id)| group_id.clone())
            .collect()
    }

    fn reindex(&mut self, group_id: &str) {
        if let Some(old) = self.indexed_deadline.remove(group_id) {
            self.deadlines.remove(&(old, group_id.to_owned()));
        }
        if let Some(deadline) = self.groups.get(group_id).and_then(ClassicGroup::next_deadline_ms) {
            self.indexed_deadline.insert(group_id.to_owned(), deadline);
            self.deadlines.insert((deadline, group_id.to_owned()));
        }
    }
}

/// Kafka's `appendGroupMetadataErrorToResponseError` (the same table its generic operation
/// error handler uses).
fn coordinator_error_for_write_error(error_code: i16) -> ResponseError {
    use ResponseError::*;
    match ResponseError::try_from_code(error_code) {
        None => UnknownServerError,
        Some(UnknownTopicOrPartition | NotEnoughReplicas | RequestTimedOut) => CoordinatorNotAvailable,
        Some(NotLeaderOrFollower | KafkaStorageError) => NotCoordinator,
        Some(MessageTooLarge | RecordListTooLarge | InvalidFetchSize) => UnknownServerError,
        Some(other) => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_errors_map_like_kafka() {
        use ResponseError::*;
        let map = |e: ResponseError| coordinator_error_for_write_error(e.code());
        assert_eq!(map(UnknownTopicOrPartition), CoordinatorNotAvailable);
        assert_eq!(map(NotEnoughReplicas), CoordinatorNotAvailable);
        assert_eq!(map(RequestTimedOut), CoordinatorNotAvailable);
        assert_eq!(map(NotLeaderOrFollower), NotCoordinator);
        assert_eq!(map(KafkaStorageError), NotCoordinator);
        assert_eq!(map(MessageTooLarge), UnknownServerError);
        assert_eq!(map(RecordListTooLarge), UnknownServerError);
        assert_eq!(map(InvalidFetchSize), UnknownServerError);
        assert_eq!(map(CoordinatorNotAvailable), CoordinatorNotAvailable);
        assert_eq!(coordinator_error_for_write_error(0), UnknownServerError);
    }
}
