//! A classic group's state (Kafka's `ClassicGroup`) and the questions the request handlers
//! ask it. Nothing here mutates a group: that is `group_replay`'s job.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use runnel_protocol::kafka_protocol::error::ResponseError;

use crate::consumer_protocol::{subscription_topics, CONSUMER_PROTOCOL_TYPE};
use crate::history::RebalanceTracker;
use crate::member::{HeldRequest, Member};
use crate::record::{GroupMetadataValue, MemberMetadata};
use crate::request::RequestId;
use crate::state::GroupState;
use crate::timers::{JoinTimer, SyncTimer, TimerKey, Timers};

/// A classic group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassicGroup {
    pub(crate) group_id: String,
    pub(crate) state: GroupState,
    pub(crate) previous_state: GroupState,
    /// When the group entered its state; `None` when loaded from a record without it or
    /// created as a simple group by an offset commit.
    pub(crate) state_timestamp_ms: Option<i64>,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) generation_id: i32,
    pub(crate) leader_id: Option<String>,
    pub(crate) members: BTreeMap<String, Member>,
    /// group.instance.id -> member id.
    pub(crate) static_members: BTreeMap<String, String>,
    /// Ids handed out with MEMBER_ID_REQUIRED, not yet used to rejoin.
    pub(crate) pending_join_members: BTreeSet<String>,
    /// Members that owe a SyncGroup for the current generation. As in Kafka, this may name a
    /// static member's replaced id until the sync timer or the next rebalance clears it.
    pub(crate) pending_sync_members: BTreeSet<String>,
    pub(crate) new_member_added: bool,
    /// Computed when a generation starts (or the group is loaded), as Kafka does.
    pub(crate) subscribed_topics: Option<BTreeSet<String>>,
    pub(crate) join_timer: Option<JoinTimer>,
    pub(crate) sync_timer: Option<SyncTimer>,
    pub(crate) timers: Timers,
    /// Loaded from a GroupMetadata record; members' sessions start at the first decision.
    pub(crate) awaiting_activation: bool,
    /// What happened since the last completed generation, for its history entry.
    pub(crate) rebalance: RebalanceTracker,
}

impl ClassicGroup {
    /// A group with nothing in it: what Kafka creates for a first JoinGroup or an offset
    /// commit from outside the group.
    pub(crate) fn new_empty(group_id: &str, state_timestamp_ms: Option<i64>) -> Self {
        Self {
            group_id: group_id.to_owned(),
            state: GroupState::Empty,
            previous_state: GroupState::Dead,
            state_timestamp_ms,
            protocol_type: None,
            protocol_name: None,
            generation_id: 0,
            leader_id: None,
            members: BTreeMap::new(),
            static_members: BTreeMap::new(),
            pending_join_members: BTreeSet::new(),
            pending_sync_members: BTreeSet::new(),
            new_member_added: false,
            subscribed_topics: None,
            join_timer: None,
            sync_timer: None,
            timers: Timers::default(),
            awaiting_activation: false,
            rebalance: RebalanceTracker::default(),
        }
    }

    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    pub fn state(&self) -> GroupState {
        self.state
    }

    pub fn previous_state(&self) -> GroupState {
        self.previous_state
    }

    pub fn generation_id(&self) -> i32 {
        self.generation_id
    }

    pub fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    pub fn protocol_name(&self) -> Option<&str> {
        self.protocol_name.as_deref()
    }

    pub fn leader_id(&self) -> Option<&str> {
        self.leader_id.as_deref()
    }

    pub fn state_timestamp_ms(&self) -> Option<i64> {
        self.state_timestamp_ms
    }

    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    pub fn member(&self, member_id: &str) -> Option<&Member> {
        self.members.get(member_id)
    }

    pub fn has_member(&self, member_id: &str) -> bool {
        self.members.contains_key(member_id)
    }

    pub fn num_members(&self) -> usize {
        self.members.len()
    }

    pub fn is_pending_member(&self, member_id: &str) -> bool {
        self.pending_join_members.contains(member_id)
    }

    pub fn pending_members(&self) -> impl Iterator<Item = &str> {
        self.pending_join_members.iter().map(String::as_str)
    }

    pub fn pending_sync_members(&self) -> impl Iterator<Item = &str> {
        self.pending_sync_members.iter().map(String::as_str)
    }

    pub fn static_member_id(&self, group_instance_id: &str) -> Option<&str> {
        self.static_members.get(group_instance_id).map(String::as_str)
    }

    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader_id.as_deref() == Some(member_id)
    }

    pub fn join_timer(&self) -> Option<JoinTimer> {
        self.join_timer
    }

    pub fn sync_timer(&self) -> Option<SyncTimer> {
        self.sync_timer
    }

    pub fn heartbeat_deadline_ms(&self, member_id: &str) -> Option<i64> {
        self.timers.deadline(&TimerKey::Heartbeat(member_id.to_owned()))
    }

    /// The earliest timer, or `i64::MIN` while a loaded group waits for its activation.
    pub fn next_deadline_ms(&self) -> Option<i64> {
        if self.awaiting_activation {
            return Some(i64::MIN);
        }
        self.timers.first_deadline_ms()
    }

    /// Every request held for this group's members.
    pub fn held_requests(&self) -> Vec<HeldRequest> {
        self.members.values().flat_map(|m| m.awaiting_join.into_iter().chain(m.awaiting_sync)).collect()
    }

    pub fn holds(&self, id: RequestId) -> bool {
        self.members.values().any(|m| {
            m.awaiting_join.is_some_and(|h| h.id == id) || m.awaiting_sync.is_some_and(|h| h.id == id)
        })
    }

    /// A group that only stores offsets: no protocol type, no members, nobody pending.
    pub fn is_simple(&self) -> bool {
        self.protocol_type.is_none()
            && self.state == GroupState::Empty
            && self.pending_join_members.is_empty()
    }

    pub fn uses_consumer_protocol(&self) -> bool {
        self.protocol_type.as_deref() == Some(CONSUMER_PROTOCOL_TYPE)
    }

    pub(crate) fn num_awaiting_join(&self) -> usize {
        self.members.values().filter(|m| m.awaiting_join.is_some()).count()
    }

    /// Every member has rejoined and nobody holds a MEMBER_ID_REQUIRED id.
    pub(crate) fn has_all_members_joined(&self) -> bool {
        self.members.len() == self.num_awaiting_join() && self.pending_join_members.is_empty()
    }

    pub(crate) fn can_rebalance(&self) -> bool {
        GroupState::PreparingRebalance.can_follow(self.state)
    }

    /// The largest rebalance timeout among the members (0 without members).
    pub(crate) fn rebalance_timeout_ms(&self) -> i32 {
        self.members.values().map(|m| m.rebalance_timeout_ms).max().unwrap_or(0).max(0)
    }

    /// Kafka's `validateMember`: the instance id (if any) must map to this member id, and the
    /// member must exist.
    pub(crate) fn validate_member(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> Result<(), ResponseError> {
        if let Some(instance) = group_instance_id {
            match self.static_members.get(instance) {
                None => return Err(ResponseError::UnknownMemberId),
                Some(existing) if existing != member_id => return Err(ResponseError::FencedInstanceId),
                Some(_) => {}
            }
        }
        if !self.has_member(member_id) {
            return Err(ResponseError::UnknownMemberId);
        }
        Ok(())
    }

    /// How many members offer each protocol.
    fn protocol_counts(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for m in self.members.values() {
            for name in m.protocol_names() {
                *counts.entry(name).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Whether a member offering `protocols` of `protocol_type` may join: any non-empty offer
    /// while Empty; otherwise the same protocol type and a protocol every member offers.
    pub(crate) fn supports_protocols<'a>(
        &self,
        protocol_type: &str,
        protocols: impl IntoIterator<Item = &'a str>,
    ) -> bool {
        let mut protocols = protocols.into_iter().peekable();
        if self.state == GroupState::Empty {
            return !protocol_type.is_empty() && protocols.peek().is_some();
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        let counts = self.protocol_counts();
        let size = self.members.len();
        protocols.any(|name| counts.get(name).copied().unwrap_or(0) == size)
    }

    /// Kafka's vote: each member votes for its preferred protocol among those every member
    /// offers; the most votes win (ties go to the smallest name, Kafka's pick is hash order).
    pub(crate) fn select_protocol(&self) -> Option<String> {
        let size = self.members.len();
        if size == 0 {
            return None;
        }
        let candidates: BTreeSet<&str> = self
            .protocol_counts()
            .into_iter()
            .filter(|(_, count)| *count == size)
            .map(|(name, _)| name)
            .collect();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(choice) = m.vote(&candidates) {
                *votes.entry(choice).or_insert(0) += 1;
            }
        }
        let best = votes.values().copied().max()?;
        votes.into_iter().find(|(_, n)| *n == best).map(|(name, _)| name.to_owned())
    }

    /// The topics the members subscribe to, when the group uses the consumer protocol and
    /// every member's metadata parses (Kafka's `computeSubscribedTopics`).
    pub(crate) fn compute_subscribed_topics(&self) -> Option<BTreeSet<String>> {
        if !self.uses_consumer_protocol() {
            return None;
        }
        if self.members.is_empty() {
            return Some(BTreeSet::new());
        }
        let protocol = self.protocol_name.as_deref()?;
        let mut topics = BTreeSet::new();
        for m in self.members.values() {
            topics.extend(subscription_topics(m.metadata(protocol)?)?);
        }
        Some(topics)
    }

    /// Kafka's `isSubscribedToTopic`: when the subscriptions are unknown, a consumer group is
    /// assumed subscribed to everything and any other group to nothing.
    pub(crate) fn is_subscribed_to_topic(&self, topic: &str) -> bool {
        match &self.subscribed_topics {
            Some(topics) => topics.contains(topic),
            None => self.uses_consumer_protocol(),
        }
    }

    /// Kafka's `offsetExpirationCondition`: the time an offset's retention is measured from,
    /// given its commit time; `None` when the group's offsets do not expire now.
    pub(crate) fn offset_retention_base_ms(&self, commit_timestamp_ms: i64) -> Option<i64> {
        match &self.protocol_type {
            None => Some(commit_timestamp_ms),
            Some(_) if self.state == GroupState::Empty => {
                Some(self.state_timestamp_ms.unwrap_or(commit_timestamp_ms))
            }
            Some(_)
                if self.uses_consumer_protocol()
                    && self.subscribed_topics.is_some()
                    && self.state == GroupState::Stable =>
            {
                Some(commit_timestamp_ms)
            }
            Some(_) => None,
        }
    }

    /// The GroupMetadata record that describes this group now, as Kafka's
    /// `newGroupMetadataRecord` builds it from the members' current assignments; `None` when
    /// a member has no metadata for the selected protocol (Kafka refuses to write that).
    pub(crate) fn persisted_view(&self) -> Option<GroupMetadataValue> {
        let mut members = Vec::with_capacity(self.members.len());
        for m in self.members.values() {
            let protocol = self.protocol_name.as_deref()?;
            members.push(MemberMetadata {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                session_timeout_ms: m.session_timeout_ms,
                subscription: m.metadata(protocol)?.clone(),
                assignment: m.assignment.clone(),
            });
        }
        Some(GroupMetadataValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation_id,
            protocol: self.protocol_name.clone(),
            leader: self.leader_id.clone(),
            current_state_timestamp_ms: self.state_timestamp_ms.unwrap_or(-1),
            members,
        })
    }

    /// The metadata each member offered for the selected protocol, for the leader's
    /// JoinGroup response and DescribeGroups.
    pub(crate) fn member_metadata(&self, member: &Member) -> Bytes {
        self.protocol_name.as_deref().and_then(|p| member.metadata(p)).cloned().unwrap_or_default()
    }

    /// Structural invariants every decision must keep; checked in debug builds after each
    /// decision and by the tests. Returns the first violation.
    pub fn check_invariants(&self) -> Result<(), String> {
        let fail = |what: String| Err(format!("group {}: {what}", self.group_id));
        if self.state == GroupState::Dead {
            return fail("a stored group is never Dead".into());
        }
        if self.state == GroupState::Empty && !self.members.is_empty() {
            return fail(format!("Empty with {} members", self.members.len()));
        }
        if let Some(leader) = &self.leader_id {
            if !self.members.contains_key(leader) && !self.awaiting_activation {
                return fail(format!("leader {leader} is not a member"));
            }
        } else if !self.members.is_empty() {
            return fail("members but no leader".into());
        }
        for (instance, member_id) in &self.static_members {
            match self.members.get(member_id) {
                Some(m) if m.group_instance_id.as_deref() == Some(instance.as_str()) => {}
                _ => return fail(format!("static {instance} -> {member_id} is not that member")),
            }
        }
        for m in self.members.values() {
            if let Some(instance) = &m.group_instance_id {
                if self.static_members.get(instance) != Some(&m.member_id) {
                    return fail(format!("member {} lost its static mapping", m.member_id));
                }
            }
            if m.awaiting_join.is_some() && self.state != GroupState::PreparingRebalance {
                return fail(format!("{} holds a JoinGroup in {}", m.member_id, self.state));
            }
            if m.awaiting_sync.is_some() && self.state != GroupState::CompletingRebalance {
                return fail(format!("{} holds a SyncGroup in {}", m.member_id, self.state));
            }
            if self.pending_join_members.contains(&m.member_id) {
                return fail(format!("{} is both member and pending", m.member_id));
            }
        }
        let mut held: Vec<RequestId> = self.held_requests().iter().map(|h| h.id).collect();
        held.sort();
        let before = held.len();
        held.dedup();
        if held.len() != before {
            return fail("a request is held twice".into());
        }
        if !self.timers.is_consistent() {
            return fail("timer indexes disagree".into());
        }
        if self.join_timer.is_some() && self.state != GroupState::PreparingRebalance {
            return fail(format!("join timer in {}", self.state));
        }
        if self.sync_timer.is_some()
            && !matches!(self.state, GroupState::CompletingRebalance | GroupState::Stable)
        {
            return fail(format!("sync timer in {}", self.state));
        }
        if self.join_timer.map(|t| t.deadline_ms) != self.timers.deadline(&TimerKey::Join) {
            return fail("join timer not indexed".into());
        }
        if self.sync_timer.map(|t| t.deadline_ms) != self.timers.deadline(&TimerKey::Sync) {
            return fail("sync timer not indexed".into());
        }
        for (key, _) in self.timers.iter() {
            if let TimerKey::Heartbeat(id) = key {
                if !self.members.contains_key(id) && !self.pending_join_members.contains(id) {
                    return fail(format!("session timer for unknown member {id}"));
                }
            }
        }
        Ok(())
    }
}
