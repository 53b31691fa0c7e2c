//! Applying records to one group: the only code that changes a group. The coordinator's
//! `replay` and the decision builder's scratch copy both call [`apply_to_slot`], so the state
//! `handle` reasons about is, by construction, the state replay produces.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::group::ClassicGroup;
use crate::history::{RebalanceReason, RebalanceTracker};
use crate::member::{Member, Protocol};
use crate::record::{GroupEvent, GroupMetadataValue, Record};
use crate::state::GroupState;
use crate::timers::TimerKey;

/// Applies `record` to the group it names; `slot` is that group, `None` when absent.
///
/// A GroupMetadata record sets the group's persisted view: when the group already has exactly
/// that view (the live case: `handle` emits it as a snapshot of the group it just built) the
/// group is unchanged; otherwise (loading) the group is rebuilt from the record as Kafka's
/// `replay(GroupMetadataKey, GroupMetadataValue)` does.
pub(crate) fn apply_to_slot(group_id: &str, slot: &mut Option<ClassicGroup>, record: &Record) {
    match record {
        Record::GroupMetadata { value, .. } => {
            let unchanged = slot.as_ref().is_some_and(|g| g.persisted_view().as_ref() == Some(value));
            if !unchanged {
                *slot = Some(from_metadata(group_id, value));
            }
        }
        Record::GroupTombstone { .. } => *slot = None,
        Record::OffsetCommit { .. } => {
            // Offsets of a group that does not exist create a "simple" group (no protocol
            // type, no members), live and at load alike.
            if slot.is_none() {
                *slot = Some(ClassicGroup::new_empty(group_id, None));
            }
        }
        Record::OffsetTombstone { .. } | Record::RetentionCheckScheduled { .. } => {}
        // The completed generation's history starts afresh. At load the group may not exist
        // yet (compaction keeps history records older than the group's last GroupMetadata).
        Record::GroupHistory { .. } => {
            if let Some(group) = slot {
                group.rebalance = RebalanceTracker::default();
            }
        }
        Record::GroupHistoryTombstone { .. } => {}
        Record::Group { event, .. } => match slot {
            Some(group) => group.apply(event),
            // Transient records only ever follow the record that created their group.
            None => debug_assert!(false, "event {event:?} for absent group {group_id}"),
        },
    }
}

/// A group as Kafka loads it from its last GroupMetadata record: Stable with the recorded
/// members (each offering only the selected protocol) or Empty without members; sessions start
/// when the group is activated.
pub(crate) fn from_metadata(group_id: &str, value: &GroupMetadataValue) -> ClassicGroup {
    let protocol_type = (!value.protocol_type.is_empty()).then(|| value.protocol_type.clone());
    let timestamp = (value.current_state_timestamp_ms != -1).then_some(value.current_state_timestamp_ms);
    let mut group = ClassicGroup::new_empty(group_id, timestamp);
    group.generation_id = value.generation;
    group.protocol_type = protocol_type;
    group.protocol_name = value.protocol.clone();
    for m in &value.members {
        let member = Member {
            member_id: m.member_id.clone(),
            group_instance_id: m.group_instance_id.clone(),
            client_id: m.client_id.clone(),
            client_host: m.client_host.clone(),
            rebalance_timeout_ms: if m.rebalance_timeout_ms == -1 {
                m.session_timeout_ms
            } else {
                m.rebalance_timeout_ms
            },
            session_timeout_ms: m.session_timeout_ms,
            protocol_type: value.protocol_type.clone(),
            protocols: vec![Protocol {
                name: value.protocol.clone().unwrap_or_default(),
                metadata: m.subscription.clone(),
            }],
            assignment: m.assignment.clone(),
            awaiting_join: None,
            awaiting_sync: None,
            is_new: false,
        };
        if let Some(instance) = &member.group_instance_id {
            group.static_members.insert(instance.clone(), member.member_id.clone());
        }
        group.members.insert(member.member_id.clone(), member);
    }
    // A record naming a leader that is not a member would break the leader invariant; Kafka
    // never writes one, so such a record gets the first member instead.
    group.leader_id = match &value.leader {
        Some(leader) if group.members.contains_key(leader) => Some(leader.clone()),
        _ => group.members.keys().next().cloned(),
    };
    if !group.members.is_empty() {
        group.state = GroupState::Stable;
        group.awaiting_activation = true;
    }
    group.subscribed_topics = group.compute_subscribed_topics();
    group
}

impl ClassicGroup {
    /// Kafka's `transitionTo`: the edge must be legal.
    fn transition_to(&mut self, to: GroupState, at_ms: i64) {
        assert!(
            to.can_follow(self.state),
            "group {}: illegal transition {} -> {}",
            self.group_id,
            self.state,
            to
        );
        self.previous_state = self.state;
        self.state = to;
        self.state_timestamp_ms = Some(at_ms);
    }

    fn member_mut(&mut self, member_id: &str) -> Option<&mut Member> {
        let member = self.members.get_mut(member_id);
        debug_assert!(member.is_some(), "group {}: no member {member_id}", self.group_id);
        member
    }

    fn set_heartbeat(&mut self, member_id: &str, deadline_ms: Option<i64>) {
        let key = TimerKey::Heartbeat(member_id.to_owned());
        match deadline_ms {
            Some(deadline) => self.timers.set(key, deadline),
            None => self.timers.cancel(&key),
        }
    }

    pub(crate) fn apply(&mut self, event: &GroupEvent) {
        match event {
            GroupEvent::StateChanged { state, at_ms } => self.transition_to(*state, *at_ms),
            GroupEvent::MemberAdded { member } => {
                debug_assert!(!self.members.contains_key(&member.member_id));
                if let Some(instance) = &member.group_instance_id {
                    self.static_members.insert(instance.clone(), member.member_id.clone());
                }
                if self.members.is_empty() {
                    self.protocol_type = Some(member.protocol_type.clone());
                }
                if self.leader_id.is_none() {
                    self.leader_id = Some(member.member_id.clone());
                }
                self.pending_join_members.remove(&member.member_id);
                self.members.insert(member.member_id.clone(), member.clone());
            }
            GroupEvent::MemberUpdated {
                member_id,
                protocols,
                rebalance_timeout_ms,
                session_timeout_ms,
                awaiting_join,
            } => {
                if let Some(m) = self.member_mut(member_id) {
                    m.protocols = protocols.clone();
                    m.rebalance_timeout_ms = *rebalance_timeout_ms;
                    m.session_timeout_ms = *session_timeout_ms;
                    m.awaiting_join = *awaiting_join;
                }
            }
            GroupEvent::MemberRemoved { member_id, reason } => {
                if let Some(removed) = self.members.remove(member_id) {
                    self.rebalance.member_left(&removed, member_id, *reason);
                    debug_assert!(
                        removed.awaiting_join.is_none() && removed.awaiting_sync.is_none(),
                        "group {}: member {member_id} removed with a held request",
                        self.group_id
                    );
                    if let Some(instance) = &removed.group_instance_id {
                        self.static_members.remove(instance);
                    }
                }
                if self.is_leader(member_id) {
                    self.leader_id = self.members.keys().next().cloned();
                }
                self.pending_join_members.remove(member_id);
                self.pending_sync_members.remove(member_id);
                self.set_heartbeat(member_id, None);
            }
            GroupEvent::RebalanceStarted { reason, at_ms } => self.rebalance.started(*reason, *at_ms),
            GroupEvent::PendingMemberAdded { member_id, deadline_ms } => {
                self.pending_join_members.insert(member_id.clone());
                self.set_heartbeat(member_id, Some(*deadline_ms));
            }
            GroupEvent::PendingMemberRemoved { member_id } => {
                self.pending_join_members.remove(member_id);
                self.set_heartbeat(member_id, None);
            }
            GroupEvent::StaticMemberReplaced { group_instance_id, old_member_id, new_member_id } => {
                if let Some(old) = self.members.remove(old_member_id) {
                    debug_assert!(old.awaiting_join.is_none() && old.awaiting_sync.is_none());
                    self.rebalance.member_left(&old, old_member_id, RebalanceReason::StaticMemberReplaced);
                    let replacement = Member {
                        member_id: new_member_id.clone(),
                        awaiting_join: None,
                        awaiting_sync: None,
                        is_new: false,
                        ..old
                    };
                    self.members.insert(new_member_id.clone(), replacement);
                    if self.is_leader(old_member_id) {
                        self.leader_id = Some(new_member_id.clone());
                    }
                    self.static_members.insert(group_instance_id.clone(), new_member_id.clone());
                    self.set_heartbeat(old_member_id, None);
                }
            }
            GroupEvent::MemberJoinCompleted { member_id, heartbeat_deadline_ms } => {
                if let Some(m) = self.member_mut(member_id) {
                    m.awaiting_join = None;
                    m.is_new = false;
                }
                self.set_heartbeat(member_id, Some(*heartbeat_deadline_ms));
                self.pending_sync_members.insert(member_id.clone());
            }
            GroupEvent::JoinAnswered { member_id } => {
                if let Some(m) = self.member_mut(member_id) {
                    m.awaiting_join = None;
                }
            }
            GroupEvent::SyncHeld { member_id, request } => {
                if let Some(m) = self.member_mut(member_id) {
                    m.awaiting_sync = Some(*request);
                }
            }
            GroupEvent::SyncAnswered { member_id, heartbeat_deadline_ms } => {
                if let Some(m) = self.member_mut(member_id) {
                    m.awaiting_sync = None;
                }
                if heartbeat_deadline_ms.is_some() {
                    self.set_heartbeat(member_id, *heartbeat_deadline_ms);
                }
            }
            GroupEvent::HeartbeatScheduled { member_id, deadline_ms } => {
                self.set_heartbeat(member_id, *deadline_ms);
            }
            GroupEvent::LeaderChanged { leader_id } => self.leader_id = leader_id.clone(),
            GroupEvent::GenerationStarted { protocol_name, at_ms } => {
                self.generation_id = self.generation_id.wrapping_add(1);
                self.protocol_name = protocol_name.clone();
                self.subscribed_topics = self.compute_subscribed_topics();
                let to =
                    if self.members.is_empty() { GroupState::Empty } else { GroupState::CompletingRebalance };
                self.transition_to(to, *at_ms);
                self.pending_sync_members.clear();
            }
            GroupEvent::AssignmentsSet { assignments } => {
                let by_member: BTreeMap<&str, &Bytes> =
                    assignments.iter().map(|(id, a)| (id.as_str(), a)).collect();
                for m in self.members.values_mut() {
                    m.assignment =
                        by_member.get(m.member_id.as_str()).map(|a| (*a).clone()).unwrap_or_default();
                }
            }
            GroupEvent::PendingSyncRemoved { member_id } => {
                self.pending_sync_members.remove(member_id);
            }
            GroupEvent::PendingSyncCleared => self.pending_sync_members.clear(),
            GroupEvent::NewMemberAddedSet { value } => self.new_member_added = *value,
            GroupEvent::JoinTimerSet { timer } => {
                self.join_timer = *timer;
                match timer {
                    Some(t) => self.timers.set(TimerKey::Join, t.deadline_ms),
                    None => self.timers.cancel(&TimerKey::Join),
                }
            }
            GroupEvent::SyncTimerSet { timer } => {
                self.sync_timer = *timer;
                match timer {
                    Some(t) => self.timers.set(TimerKey::Sync, t.deadline_ms),
                    None => self.timers.cancel(&TimerKey::Sync),
                }
            }
            GroupEvent::Activated { at_ms } => {
                self.awaiting_activation = false;
                let sessions: Vec<(String, i32)> =
                    self.members.values().map(|m| (m.member_id.clone(), m.session_timeout_ms)).collect();
                for (member_id, session_timeout_ms) in sessions {
                    self.set_heartbeat(&member_id, Some(at_ms.saturating_add(i64::from(session_timeout_ms))));
                }
            }
        }
    }
}
