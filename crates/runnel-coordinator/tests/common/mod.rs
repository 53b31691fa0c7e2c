//! A fake broker around the coordinator, for tests: a fake clock, request ids, the broker loop
//! (decide, "write" the persisted records through encode/decode, replay, answer), and checks
//! after every decision: each response answers this request or a held one, nothing is
//! answered twice, the coordinator holds exactly the unanswered requests, groups keep their
//! invariants and generations never go backwards.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use runnel_coordinator::{
    decode, encode, CoordinatorConfig, Decision, GroupCoordinator, KnownTopics, Record, Request, RequestId,
    Response,
};
use runnel_protocol::kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use runnel_protocol::kafka_protocol::messages::leave_group_request::MemberIdentity;
use runnel_protocol::kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use runnel_protocol::kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use runnel_protocol::kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use runnel_protocol::kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use runnel_protocol::kafka_protocol::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse, GroupId,
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, ListGroupsRequest, ListGroupsResponse, OffsetCommitRequest, OffsetCommitResponse,
    OffsetDeleteRequest, OffsetDeleteResponse, OffsetFetchRequest, OffsetFetchResponse, SyncGroupRequest,
    SyncGroupResponse, TopicName,
};
use runnel_protocol::kafka_protocol::protocol::StrBytes;

pub use runnel_protocol::kafka_protocol::error::ResponseError;

pub const NONE: i16 = 0;

pub fn code(e: ResponseError) -> i16 {
    e.code()
}

pub fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

/// A consumer subscription (ConsumerProtocolSubscription v0) for `topics`.
pub fn subscription(topics: &[&str]) -> Bytes {
    let mut out = 0i16.to_be_bytes().to_vec();
    out.extend((topics.len() as i32).to_be_bytes());
    for t in topics {
        out.extend((t.len() as i16).to_be_bytes());
        out.extend(t.as_bytes());
    }
    out.extend((-1i32).to_be_bytes());
    Bytes::from(out)
}

/// The broker around the coordinator.
pub struct Harness {
    pub coordinator: GroupCoordinator,
    pub now_ms: i64,
    next_id: u64,
    /// Requests held by the coordinator, by this harness's bookkeeping.
    pub held: BTreeSet<RequestId>,
    /// Every answer ever sent.
    pub answers: BTreeMap<RequestId, Response>,
    /// Every persisted record written, decoded back from its bytes.
    pub log: Vec<Record>,
    generations: BTreeMap<String, i32>,
    pub decisions: usize,
}

impl Harness {
    pub fn new(config: CoordinatorConfig) -> Self {
        let mut h = Self {
            coordinator: GroupCoordinator::new(config),
            now_ms: 1_000_000,
            next_id: 1,
            held: BTreeSet::new(),
            answers: BTreeMap::new(),
            log: Vec::new(),
            generations: BTreeMap::new(),
            decisions: 0,
        };
        h.tick();
        h
    }

    /// A harness around an already loaded coordinator (nothing held), at `now_ms`.
    pub fn with_coordinator(coordinator: GroupCoordinator, now_ms: i64) -> Self {
        Self {
            coordinator,
            now_ms,
            next_id: 1_000_000,
            held: BTreeSet::new(),
            answers: BTreeMap::new(),
            log: Vec::new(),
            generations: BTreeMap::new(),
            decisions: 0,
        }
    }

    pub fn default_config() -> CoordinatorConfig {
        CoordinatorConfig { initial_rebalance_delay_ms: 0, ..CoordinatorConfig::default() }
    }

    pub fn with_defaults() -> Self {
        Self::new(Self::default_config())
    }

    /// Sends a request; returns its id and its response if the decision answered it.
    pub fn send(&mut self, request: Request) -> (RequestId, Option<Response>) {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        let decision = self.coordinator.handle(self.now_ms, id, request);
        self.apply(Some(id), decision);
        (id, self.answers.get(&id).cloned())
    }

    /// Sends a request that must be answered at once.
    pub fn call(&mut self, request: Request) -> Response {
        let (id, response) = self.send(request);
        response.unwrap_or_else(|| panic!("request {id:?} was held"))
    }

    /// Sends a request that must be held.
    pub fn park(&mut self, request: Request) -> RequestId {
        let (id, response) = self.send(request);
        assert!(response.is_none(), "request {id:?} was answered: {response:?}");
        id
    }

    pub fn answer(&self, id: RequestId) -> Option<&Response> {
        self.answers.get(&id)
    }

    /// Runs every tick due at the current time.
    pub fn tick(&mut self) {
        for _ in 0..1000 {
            let decision = self.coordinator.tick(self.now_ms);
            let idle = decision.is_empty();
            self.apply(None, decision);
            if idle || self.coordinator.next_deadline_ms().is_some_and(|d| d > self.now_ms) {
                return;
            }
        }
        panic!("ticks never settle at {}", self.now_ms);
    }

    /// Moves the clock forward by `ms`, firing every timer on the way in order.
    pub fn advance(&mut self, ms: i64) {
        let target = self.now_ms + ms;
        self.tick();
        for _ in 0..100_000 {
            match self.coordinator.next_deadline_ms() {
                Some(d) if d <= target && d > self.now_ms => {
                    self.now_ms = d;
                    self.tick();
                }
                _ => {
                    self.now_ms = target;
                    self.tick();
                    return;
                }
            }
        }
        panic!("timers never settle before {target}");
    }

    fn apply(&mut self, id: Option<RequestId>, decision: Decision) {
        self.decisions += 1;
        let mut answered_now = BTreeSet::new();
        for (answered, _) in &decision.responses {
            assert!(answered_now.insert(*answered), "{answered:?} answered twice in one decision");
            assert!(!self.answers.contains_key(answered), "{answered:?} answered a second time");
            assert!(
                Some(*answered) == id || self.held.contains(answered),
                "{answered:?} was neither this request nor held"
            );
        }
        for record in decision.persisted_records() {
            let (key, value) = encode(record).expect("persisted records encode");
            let key = key.expect("keys are always present");
            let decoded =
                decode(&key, value.as_deref()).expect("own records decode").expect("own records are kept");
            assert_eq!(&decoded, record, "record survives encode/decode");
            self.log.push(decoded);
        }
        for record in decision.records.iter().filter(|r| !r.persisted()) {
            assert!(encode(record).is_none(), "transient records are not encoded");
        }
        self.coordinator.replay_decision(&decision);
        for (answered, response) in decision.responses {
            self.held.remove(&answered);
            self.answers.insert(answered, response);
        }
        if let Some(id) = id {
            if !answered_now.contains(&id) {
                self.held.insert(id);
            }
        }
        let held: BTreeSet<RequestId> = self.coordinator.held_requests().into_iter().collect();
        assert_eq!(held, self.held, "the coordinator holds exactly the unanswered requests");
        for group in self.coordinator.groups() {
            group.check_invariants().unwrap();
            let last = self.generations.entry(group.group_id().to_owned()).or_insert(group.generation_id());
            assert!(group.generation_id() >= *last, "generation went backwards in {}", group.group_id());
            *last = group.generation_id();
        }
        self.generations.retain(|g, _| self.coordinator.group(g).is_some());
    }

    /// A coordinator rebuilt from the log, as a broker loading `__consumer_offsets` does.
    pub fn reloaded(&self) -> GroupCoordinator {
        let mut loaded = GroupCoordinator::new(self.coordinator.config().clone());
        for record in &self.log {
            loaded.replay(record);
        }
        loaded
    }

    /// A coordinator loaded from the log as compaction leaves it once tombstones are gone: the
    /// last record of each key, in log order, and no tombstones.
    pub fn compacted(&self) -> GroupCoordinator {
        let mut last: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
        for (i, record) in self.log.iter().enumerate() {
            let (key, _) = encode(record).expect("persisted records encode");
            last.insert(key.expect("keys are always present"), i);
        }
        let mut kept: Vec<usize> = last.into_values().collect();
        kept.sort_unstable();
        let mut loaded = GroupCoordinator::new(self.coordinator.config().clone());
        for i in kept {
            let record = &self.log[i];
            if encode(record).is_some_and(|(_, value)| value.is_some()) {
                loaded.replay(record);
            }
        }
        loaded
    }

    /// Every group id any persisted record named.
    pub fn logged_groups(&self) -> BTreeSet<String> {
        self.log.iter().filter_map(|r| r.group_id().map(str::to_owned)).collect()
    }

    /// Joins `n` fresh dynamic members with v9 (MEMBER_ID_REQUIRED, then rejoin), completes
    /// the rebalance and syncs (the leader assigns `assignment-<member>`). Returns the member
    /// ids (leader first) and the generation.
    pub fn form_group(&mut self, group: &str, n: usize) -> (Vec<String>, i32) {
        let mut ids = Vec::new();
        for i in 0..n {
            let r = self.call(join(group, "").client(&format!("c{i}")).build());
            let r = as_join(&r);
            assert_eq!(r.error_code, code(ResponseError::MemberIdRequired));
            ids.push(r.member_id.to_string());
        }
        let parked: Vec<RequestId> = ids.iter().map(|m| self.park(join(group, m).build())).collect();
        self.advance(self.coordinator.config().initial_rebalance_delay_ms.into());
        let joins: Vec<JoinGroupResponse> =
            parked.iter().map(|id| as_join(self.answer(*id).expect("join answered")).clone()).collect();
        let generation = joins[0].generation_id;
        let leader = joins[0].leader.to_string();
        for j in &joins {
            assert_eq!(j.error_code, NONE);
            assert_eq!(j.generation_id, generation);
            assert_eq!(j.leader.as_str(), leader);
        }
        let assignments: Vec<(String, Bytes)> =
            ids.iter().map(|m| (m.clone(), Bytes::from(format!("assignment-{m}")))).collect();
        let followers: Vec<RequestId> = ids
            .iter()
            .filter(|m| **m != leader)
            .map(|m| self.park(sync(group, m, generation).build()))
            .collect();
        let leader_sync = self.call(sync(group, &leader, generation).assignments(assignments).build());
        assert_eq!(as_sync(&leader_sync).error_code, NONE);
        for f in followers {
            assert_eq!(as_sync(self.answer(f).expect("follower sync answered")).error_code, NONE);
        }
        let mut ordered = vec![leader.clone()];
        ordered.extend(ids.into_iter().filter(|m| *m != leader));
        (ordered, generation)
    }
}

pub struct JoinBuilder {
    request: JoinGroupRequest,
    version: i16,
    client_id: String,
    client_host: String,
}

pub fn join(group: &str, member_id: &str) -> JoinBuilder {
    let mut request = JoinGroupRequest::default();
    request.group_id = GroupId(s(group));
    request.member_id = s(member_id);
    request.session_timeout_ms = 10_000;
    request.rebalance_timeout_ms = 30_000;
    request.protocol_type = s("consumer");
    let mut b =
        JoinBuilder { request, version: 9, client_id: "client".into(), client_host: "/127.0.0.1".into() };
    b = b.protocols(&[("range", subscription(&["t"]))]);
    b
}

impl JoinBuilder {
    pub fn version(mut self, v: i16) -> Self {
        self.version = v;
        self
    }
    pub fn instance(mut self, id: &str) -> Self {
        self.request.group_instance_id = Some(s(id));
        self
    }
    pub fn protocols(mut self, protocols: &[(&str, Bytes)]) -> Self {
        self.request.protocols = protocols
            .iter()
            .map(|(name, metadata)| {
                let mut p = JoinGroupRequestProtocol::default();
                p.name = s(name);
                p.metadata = metadata.clone();
                p
            })
            .collect();
        self
    }
    pub fn protocol_type(mut self, t: &str) -> Self {
        self.request.protocol_type = s(t);
        self
    }
    pub fn session(mut self, ms: i32) -> Self {
        self.request.session_timeout_ms = ms;
        self
    }
    pub fn rebalance(mut self, ms: i32) -> Self {
        self.request.rebalance_timeout_ms = ms;
        self
    }
    pub fn client(mut self, id: &str) -> Self {
        self.client_id = id.to_owned();
        self
    }
    pub fn build(self) -> Request {
        Request::JoinGroup {
            request: self.request,
            api_version: self.version,
            client_id: self.client_id,
            client_host: self.client_host,
        }
    }
}

pub struct SyncBuilder {
    request: SyncGroupRequest,
    version: i16,
}

pub fn sync(group: &str, member_id: &str, generation: i32) -> SyncBuilder {
    let mut request = SyncGroupRequest::default();
    request.group_id = GroupId(s(group));
    request.member_id = s(member_id);
    request.generation_id = generation;
    request.protocol_type = Some(s("consumer"));
    request.protocol_name = Some(s("range"));
    SyncBuilder { request, version: 5 }
}

impl SyncBuilder {
    pub fn version(mut self, v: i16) -> Self {
        self.version = v;
        self
    }
    pub fn instance(mut self, id: &str) -> Self {
        self.request.group_instance_id = Some(s(id));
        self
    }
    pub fn protocol(mut self, protocol_type: Option<&str>, protocol_name: Option<&str>) -> Self {
        self.request.protocol_type = protocol_type.map(s);
        self.request.protocol_name = protocol_name.map(s);
        self
    }
    pub fn assignments(mut self, assignments: Vec<(String, Bytes)>) -> Self {
        self.request.assignments = assignments
            .into_iter()
            .map(|(member, assignment)| {
                let mut a = SyncGroupRequestAssignment::default();
                a.member_id = s(&member);
                a.assignment = assignment;
                a
            })
            .collect();
        self
    }
    pub fn build(self) -> Request {
        Request::SyncGroup { request: self.request, api_version: self.version }
    }
}

pub fn heartbeat(group: &str, member_id: &str, generation: i32) -> Request {
    heartbeat_as(group, member_id, None, generation)
}

pub fn heartbeat_as(group: &str, member_id: &str, instance: Option<&str>, generation: i32) -> Request {
    let mut request = HeartbeatRequest::default();
    request.group_id = GroupId(s(group));
    request.member_id = s(member_id);
    request.group_instance_id = instance.map(s);
    request.generation_id = generation;
    Request::Heartbeat { request, api_version: 4 }
}

/// LeaveGroup v5 for (member id, instance id) pairs.
pub fn leave(group: &str, members: &[(&str, Option<&str>)]) -> Request {
    let mut request = LeaveGroupRequest::default();
    request.group_id = GroupId(s(group));
    request.members = members
        .iter()
        .map(|(member, instance)| {
            let mut m = MemberIdentity::default();
            m.member_id = s(member);
            m.group_instance_id = instance.map(s);
            m
        })
        .collect();
    Request::LeaveGroup { request, api_version: 5 }
}

/// LeaveGroup v0-2 for one member.
pub fn leave_v0(group: &str, member: &str, version: i16) -> Request {
    let mut request = LeaveGroupRequest::default();
    request.group_id = GroupId(s(group));
    request.member_id = s(member);
    Request::LeaveGroup { request, api_version: version }
}

pub struct CommitBuilder {
    request: OffsetCommitRequest,
    version: i16,
    topics: KnownTopics,
}

/// OffsetCommit v9 of (topic, partition, offset, metadata); every topic known with 10
/// partitions unless `known` says otherwise.
pub fn commit(
    group: &str,
    member_id: &str,
    generation: i32,
    offsets: &[(&str, i32, i64, Option<&str>)],
) -> CommitBuilder {
    let mut request = OffsetCommitRequest::default();
    request.group_id = GroupId(s(group));
    request.member_id = s(member_id);
    request.generation_id_or_member_epoch = generation;
    let mut topics = KnownTopics::new();
    let mut by_topic: Vec<OffsetCommitRequestTopic> = Vec::new();
    for (topic, partition, offset, metadata) in offsets {
        topics.insert(*topic, 10);
        let mut p = OffsetCommitRequestPartition::default();
        p.partition_index = *partition;
        p.committed_offset = *offset;
        p.committed_metadata = metadata.map(s);
        match by_topic.iter_mut().find(|t| t.name.as_str() == *topic) {
            Some(t) => t.partitions.push(p),
            None => {
                let mut t = OffsetCommitRequestTopic::default();
                t.name = TopicName(s(topic));
                t.partitions.push(p);
                by_topic.push(t);
            }
        }
    }
    request.topics = by_topic;
    CommitBuilder { request, version: 9, topics }
}

impl CommitBuilder {
    pub fn version(mut self, v: i16) -> Self {
        self.version = v;
        self
    }
    pub fn known(mut self, topics: KnownTopics) -> Self {
        self.topics = topics;
        self
    }
    pub fn retention(mut self, ms: i64) -> Self {
        self.request.retention_time_ms = ms;
        self
    }
    pub fn instance(mut self, id: &str) -> Self {
        self.request.group_instance_id = Some(s(id));
        self
    }
    pub fn leader_epoch(mut self, epoch: i32) -> Self {
        for t in &mut self.request.topics {
            for p in &mut t.partitions {
                p.committed_leader_epoch = epoch;
            }
        }
        self
    }
    pub fn build(self) -> Request {
        Request::OffsetCommit { request: self.request, api_version: self.version, topics: self.topics }
    }
}

/// OffsetFetch v8 for one group; `None` = all topics.
pub fn fetch(group: &str, topics: Option<&[(&str, &[i32])]>) -> Request {
    let mut g = OffsetFetchRequestGroup::default();
    g.group_id = GroupId(s(group));
    g.topics = topics.map(|ts| {
        ts.iter()
            .map(|(name, partitions)| {
                let mut t = OffsetFetchRequestTopics::default();
                t.name = TopicName(s(name));
                t.partition_indexes = partitions.to_vec();
                t
            })
            .collect()
    });
    let mut request = OffsetFetchRequest::default();
    request.groups = vec![g];
    Request::OffsetFetch { request, api_version: 8 }
}

/// OffsetFetch v1-7 (single group).
pub fn fetch_v(group: &str, topics: Option<&[(&str, &[i32])]>, version: i16) -> Request {
    let mut request = OffsetFetchRequest::default();
    request.group_id = GroupId(s(group));
    request.topics = topics.map(|ts| {
        ts.iter()
            .map(|(name, partitions)| {
                let mut t = OffsetFetchRequestTopic::default();
                t.name = TopicName(s(name));
                t.partition_indexes = partitions.to_vec();
                t
            })
            .collect()
    });
    Request::OffsetFetch { request, api_version: version }
}

pub fn describe(groups: &[&str], version: i16) -> Request {
    let mut request = DescribeGroupsRequest::default();
    request.groups = groups.iter().map(|g| GroupId(s(g))).collect();
    Request::DescribeGroups { request, api_version: version }
}

pub fn list(states: &[&str], types: &[&str]) -> Request {
    let mut request = ListGroupsRequest::default();
    request.states_filter = states.iter().map(|x| s(x)).collect();
    request.types_filter = types.iter().map(|x| s(x)).collect();
    Request::ListGroups { request, api_version: 5 }
}

pub fn delete_groups(groups: &[&str]) -> Request {
    let mut request = DeleteGroupsRequest::default();
    request.groups_names = groups.iter().map(|g| GroupId(s(g))).collect();
    Request::DeleteGroups { request, api_version: 2 }
}

pub fn offset_delete(group: &str, topics: &[(&str, &[i32])], known: KnownTopics) -> Request {
    let mut request = OffsetDeleteRequest::default();
    request.group_id = GroupId(s(group));
    request.topics = topics
        .iter()
        .map(|(name, partitions)| {
            let mut t = OffsetDeleteRequestTopic::default();
            t.name = TopicName(s(name));
            t.partitions = partitions
                .iter()
                .map(|p| {
                    let mut dp = OffsetDeleteRequestPartition::default();
                    dp.partition_index = *p;
                    dp
                })
                .collect();
            t
        })
        .collect();
    Request::OffsetDelete { request, api_version: 0, topics: known }
}

pub fn as_join(r: &Response) -> &JoinGroupResponse {
    match r {
        Response::JoinGroup(r) => r,
        other => panic!("not a JoinGroup response: {other:?}"),
    }
}
pub fn as_sync(r: &Response) -> &SyncGroupResponse {
    match r {
        Response::SyncGroup(r) => r,
        other => panic!("not a SyncGroup response: {other:?}"),
    }
}
pub fn as_heartbeat(r: &Response) -> &HeartbeatResponse {
    match r {
        Response::Heartbeat(r) => r,
        other => panic!("not a Heartbeat response: {other:?}"),
    }
}
pub fn as_leave(r: &Response) -> &LeaveGroupResponse {
    match r {
        Response::LeaveGroup(r) => r,
        other => panic!("not a LeaveGroup response: {other:?}"),
    }
}
pub fn as_commit(r: &Response) -> &OffsetCommitResponse {
    match r {
        Response::OffsetCommit(r) => r,
        other => panic!("not an OffsetCommit response: {other:?}"),
    }
}
pub fn as_fetch(r: &Response) -> &OffsetFetchResponse {
    match r {
        Response::OffsetFetch(r) => r,
        other => panic!("not an OffsetFetch response: {other:?}"),
    }
}
pub fn as_describe(r: &Response) -> &DescribeGroupsResponse {
    match r {
        Response::DescribeGroups(r) => r,
        other => panic!("not a DescribeGroups response: {other:?}"),
    }
}
pub fn as_list(r: &Response) -> &ListGroupsResponse {
    match r {
        Response::ListGroups(r) => r,
        other => panic!("not a ListGroups response: {other:?}"),
    }
}
pub fn as_delete_groups(r: &Response) -> &DeleteGroupsResponse {
    match r {
        Response::DeleteGroups(r) => r,
        other => panic!("not a DeleteGroups response: {other:?}"),
    }
}
pub fn as_offset_delete(r: &Response) -> &OffsetDeleteResponse {
    match r {
        Response::OffsetDelete(r) => r,
        other => panic!("not an OffsetDelete response: {other:?}"),
    }
}

/// Every partition error of an OffsetCommit response, in order.
pub fn commit_errors(r: &Response) -> Vec<i16> {
    as_commit(r).topics.iter().flat_map(|t| t.partitions.iter().map(|p| p.error_code)).collect()
}

/// (topic, partition, offset, metadata) of an OffsetFetch v8 response's first group.
pub fn fetched(r: &Response) -> Vec<(String, i32, i64, String)> {
    let g = &as_fetch(r).groups[0];
    assert_eq!(g.error_code, NONE);
    g.topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| {
                (
                    t.name.to_string(),
                    p.partition_index,
                    p.committed_offset,
                    p.metadata.as_deref().unwrap_or("").to_owned(),
                )
            })
        })
        .collect()
}

/// Everything about a group that its GroupMetadata records carry (a loaded group with members
/// is Stable, so any live state with members reads as Stable).
pub fn persisted_summary(g: &runnel_coordinator::ClassicGroup) -> String {
    let stable_or_empty = match g.state() {
        runnel_coordinator::GroupState::Empty => "Empty",
        _ => "Stable",
    };
    let protocol = g.protocol_name().unwrap_or_default();
    let members: Vec<String> = g
        .members()
        .map(|m| {
            format!(
                "{}/{:?}/{}/{}/{}/{}/{:?}/{:?}",
                m.member_id,
                m.group_instance_id,
                m.client_id,
                m.client_host,
                m.rebalance_timeout_ms,
                m.session_timeout_ms,
                m.metadata(protocol),
                m.assignment
            )
        })
        .collect();
    format!(
        "{stable_or_empty} gen={} type={:?} protocol={:?} leader={:?} at={:?} members={members:?}",
        g.generation_id(),
        g.protocol_type(),
        g.protocol_name(),
        g.leader_id(),
        g.state_timestamp_ms().filter(|_| g.state() == runnel_coordinator::GroupState::Empty),
    )
}

/// The group's state as DescribeGroups reports it.
pub fn state_of(h: &mut Harness, group: &str) -> String {
    let r = h.call(describe(&[group], 5));
    as_describe(&r).groups[0].group_state.to_string()
}
