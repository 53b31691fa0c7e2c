//! JoinGroup (v0-9): Kafka's `classicGroupJoin` for new, pending, known and static members.
//! The service-level checks Kafka does before the group (group id, session timeout bounds)
//! come first, then the group is created if needed, then the per-state handling.

use bytes::Bytes;
use runnel_protocol::kafka_protocol::error::ResponseError;
use runnel_protocol::kafka_protocol::messages::JoinGroupRequest;

use crate::decision::Emitter;
use crate::history::RebalanceReason;
use crate::member::{HeldRequest, Member, Protocol};
use crate::member_id;
use crate::rebalance::{
    activate_if_loaded, answer_join, answer_sync, deadline, maybe_complete_join_phase,
    maybe_prepare_rebalance_or_complete_join, prepare_rebalance, remove_member,
};
use crate::record::{GroupEvent, GroupMetadataValue, Record};
use crate::request::{RequestId, Response};
use crate::responses::{join_members, sync_error, JoinAnswer};
use crate::state::GroupState;

/// The parts of a JoinGroup the handling needs, with v0's rebalance timeout filled in.
struct Join<'r> {
    group_id: &'r str,
    member_id: &'r str,
    group_instance_id: Option<&'r str>,
    protocol_type: &'r str,
    protocols: Vec<Protocol>,
    session_timeout_ms: i32,
    rebalance_timeout_ms: i32,
    client_id: &'r str,
    client_host: &'r str,
    held: HeldRequest,
}

impl Join<'_> {
    fn reply(&self, em: &mut Emitter<'_>, answer: JoinAnswer) {
        em.respond(self.held.id, Response::JoinGroup(answer.into_response(self.held.api_version)));
    }

    fn protocol_names(&self) -> impl Iterator<Item = &str> {
        self.protocols.iter().map(|p| p.name.as_str())
    }
}

pub(crate) fn handle(
    em: &mut Emitter<'_>,
    id: RequestId,
    request: &JoinGroupRequest,
    api_version: i16,
    client_id: &str,
    client_host: &str,
) {
    let join = Join {
        group_id: request.group_id.as_str(),
        member_id: request.member_id.as_str(),
        group_instance_id: request.group_instance_id.as_ref().map(|s| s.as_str()),
        protocol_type: request.protocol_type.as_str(),
        protocols: request
            .protocols
            .iter()
            .map(|p| Protocol { name: p.name.as_str().to_owned(), metadata: p.metadata.clone() })
            .collect(),
        session_timeout_ms: request.session_timeout_ms,
        // Version 0 has no rebalance timeout: Kafka uses the session timeout.
        rebalance_timeout_ms: if api_version == 0 {
            request.session_timeout_ms
        } else {
            request.rebalance_timeout_ms
        },
        client_id,
        client_host,
        held: HeldRequest { id, api_version },
    };
    let config = em.config();
    if join.group_id.is_empty() {
        return join.reply(em, JoinAnswer::error(ResponseError::InvalidGroupId, join.member_id));
    }
    if join.session_timeout_ms < config.min_session_timeout_ms
        || join.session_timeout_ms > config.max_session_timeout_ms
    {
        return join.reply(em, JoinAnswer::error(ResponseError::InvalidSessionTimeout, join.member_id));
    }

    let group_id = join.group_id;
    if em.group(group_id).is_none() {
        if !join.member_id.is_empty() {
            return join.reply(em, JoinAnswer::error(ResponseError::UnknownMemberId, join.member_id));
        }
        // Kafka commits a newly created group with an empty GroupMetadata record.
        let value = GroupMetadataValue::empty(em.now_ms);
        em.emit(Record::GroupMetadata { group_id: group_id.to_owned(), value });
    } else {
        activate_if_loaded(em, group_id);
    }
    let Some(group) = em.group(group_id) else { return };

    if !accepts_joining_member(em, group_id, join.member_id) {
        if group.has_member(join.member_id) {
            // Only a lowered `group.max.size` turns away a member already in the group.
            remove_member(em, group_id, join.member_id, RebalanceReason::AdminAction);
        } else if group.is_pending_member(join.member_id) {
            let member_id = join.member_id.to_owned();
            em.event(group_id, GroupEvent::PendingMemberRemoved { member_id });
        }
        return join.reply(em, JoinAnswer::error(ResponseError::GroupMaxSizeReached, ""));
    }
    if join.member_id.is_empty() {
        join_new_member(em, &join);
    } else {
        join_existing_member(em, &join);
    }
}

/// Kafka's `acceptJoiningMember`: `group.max.size` counts parked joins while rebalancing (so
/// the last rejoining members of a shrunk limit are the ones turned away) and members otherwise.
fn accepts_joining_member(em: &Emitter<'_>, group_id: &str, member_id: &str) -> bool {
    let Some(group) = em.group(group_id) else { return false };
    let max_size = usize::try_from(em.config().group_max_size).unwrap_or(0);
    match group.state() {
        GroupState::Empty | GroupState::Dead => true,
        GroupState::PreparingRebalance => {
            group.member(member_id).is_some_and(|m| m.awaiting_join.is_some())
                || group.num_awaiting_join() < max_size
        }
        GroupState::CompletingRebalance | GroupState::Stable => {
            group.has_member(member_id) || group.num_members() < max_size
        }
    }
}

fn join_new_member(em: &mut Emitter<'_>, join: &Join<'_>) {
    let group_id = join.group_id;
    let Some(group) = em.group(group_id) else { return };
    if !group.supports_protocols(join.protocol_type, join.protocol_names()) {
        return join.reply(em, JoinAnswer::error(ResponseError::InconsistentGroupProtocol, ""));
    }
    let prefix = join.group_instance_id.unwrap_or(join.client_id);
    let new_member_id =
        member_id::generate(group, prefix, em.config().member_id_seed, join.held.id, em.now_ms);
    match join.group_instance_id {
        Some(instance) => match group.static_member_id(instance).map(str::to_owned) {
            Some(existing) => update_static_member(em, join, &existing, &new_member_id),
            None => add_member(em, join, &new_member_id),
        },
        None if join.held.api_version >= 4 => {
            // The client must rejoin with this id, proving it received it.
            let deadline_ms = deadline(em.now_ms, join.session_timeout_ms);
            let member_id = new_member_id.clone();
            em.event(group_id, GroupEvent::PendingMemberAdded { member_id, deadline_ms });
            join.reply(em, JoinAnswer::error(ResponseError::MemberIdRequired, &new_member_id));
        }
        None => add_member(em, join, &new_member_id),
    }
}

fn join_existing_member(em: &mut Emitter<'_>, join: &Join<'_>) {
    let group_id = join.group_id;
    let member_id = join.member_id;
    let Some(group) = em.group(group_id) else { return };
    if !group.supports_protocols(join.protocol_type, join.protocol_names()) {
        return join.reply(em, JoinAnswer::error(ResponseError::InconsistentGroupProtocol, member_id));
    }
    if group.is_pending_member(member_id) {
        if join.group_instance_id.is_some() {
            // Pending ids are only handed to dynamic members; Kafka fails this with an
            // IllegalStateException, which reaches the client as UNKNOWN_SERVER_ERROR.
            return join.reply(em, JoinAnswer::error(ResponseError::UnknownServerError, member_id));
        }
        return add_member(em, join, member_id);
    }
    if let Err(error) = group.validate_member(member_id, join.group_instance_id) {
        return join.reply(em, JoinAnswer::error(error, member_id));
    }
    let Some(member) = group.member(member_id) else { return };
    let same_metadata = member.matches(&join.protocols);
    let is_leader = group.is_leader(member_id);
    match group.state() {
        GroupState::PreparingRebalance => update_member(em, join),
        GroupState::CompletingRebalance if same_metadata => {
            // The member probably missed the JoinGroup response: send it again.
            let answer = JoinAnswer::current_generation(group, member_id, is_leader);
            join.reply(em, answer);
        }
        GroupState::CompletingRebalance => update_member(em, join),
        // The leader's rejoin forces a rebalance (assignment inputs such as topic metadata may
        // have changed); so does a follower with new metadata.
        GroupState::Stable if is_leader || !same_metadata => update_member(em, join),
        GroupState::Stable => {
            let answer = JoinAnswer::current_generation(group, member_id, false);
            join.reply(em, answer);
        }
        GroupState::Empty | GroupState::Dead => {
            join.reply(em, JoinAnswer::error(ResponseError::UnknownMemberId, member_id));
        }
    }
}

/// Kafka's `updateMemberThenRebalanceOrCompleteJoin`. A JoinGroup already parked for the
/// member (a client retry) is answered with REBALANCE_IN_PROGRESS; Kafka drops it unanswered.
fn update_member(em: &mut Emitter<'_>, join: &Join<'_>) {
    let (group_id, member_id) = (join.group_id, join.member_id);
    answer_join(em, group_id, member_id, JoinAnswer::error(ResponseError::RebalanceInProgress, member_id));
    em.event(
        group_id,
        GroupEvent::MemberUpdated {
            member_id: member_id.to_owned(),
            protocols: join.protocols.clone(),
            rebalance_timeout_ms: join.rebalance_timeout_ms,
            session_timeout_ms: join.session_timeout_ms,
            awaiting_join: Some(join.held),
        },
    );
    maybe_prepare_rebalance_or_complete_join(em, group_id, RebalanceReason::MetadataChange);
}

/// Kafka's `addMemberThenRebalanceOrCompleteJoin`. A new member's session deadline is the
/// new-member join timeout: it cannot heartbeat while its JoinGroup is parked, and a client
/// that gave up must not stay in the rebalance forever.
fn add_member(em: &mut Emitter<'_>, join: &Join<'_>, member_id: &str) {
    let group_id = join.group_id;
    let Some(group) = em.group(group_id) else { return };
    let initial_rebalance =
        group.state() == GroupState::PreparingRebalance && group.previous_state() == GroupState::Empty;
    if initial_rebalance && !group.new_member_added {
        em.event(group_id, GroupEvent::NewMemberAddedSet { value: true });
    }
    let member = Member {
        member_id: member_id.to_owned(),
        group_instance_id: join.group_instance_id.map(str::to_owned),
        client_id: join.client_id.to_owned(),
        client_host: join.client_host.to_owned(),
        rebalance_timeout_ms: join.rebalance_timeout_ms,
        session_timeout_ms: join.session_timeout_ms,
        protocol_type: join.protocol_type.to_owned(),
        protocols: join.protocols.clone(),
        assignment: Bytes::new(),
        awaiting_join: Some(join.held),
        awaiting_sync: None,
        is_new: true,
    };
    em.event(group_id, GroupEvent::MemberAdded { member });
    let deadline_ms = Some(deadline(em.now_ms, em.config().new_member_join_timeout_ms));
    em.event(group_id, GroupEvent::HeartbeatScheduled { member_id: member_id.to_owned(), deadline_ms });
    maybe_prepare_rebalance_or_complete_join(em, group_id, RebalanceReason::NewMember);
}

/// Kafka's `updateStaticMemberThenRebalanceOrCompleteJoin`: a static member rejoined without
/// its member id. The old id is fenced (its parked requests get FENCED_INSTANCE_ID) and the
/// member continues under the new id. In Stable, if the group's protocol would not change,
/// the new id is persisted and answered at once with the current generation, no rebalance.
fn update_static_member(em: &mut Emitter<'_>, join: &Join<'_>, old_member_id: &str, new_member_id: &str) {
    let group_id = join.group_id;
    let Some(group) = em.group(group_id) else { return };
    let state = group.state();
    if matches!(state, GroupState::Empty | GroupState::Dead) {
        // Kafka throws IllegalStateException here (an Empty group has no static members).
        return join.reply(em, JoinAnswer::error(ResponseError::UnknownServerError, ""));
    }
    let previous_leader = group.leader_id().unwrap_or_default().to_owned();
    let Some(old_session_timeout_ms) = group.member(old_member_id).map(|m| m.session_timeout_ms) else {
        return;
    };
    let Some(instance) = join.group_instance_id else { return };

    let fenced = JoinAnswer::error(ResponseError::FencedInstanceId, old_member_id);
    answer_join(em, group_id, old_member_id, fenced);
    answer_sync(em, group_id, old_member_id, sync_error(ResponseError::FencedInstanceId), false);
    em.event(
        group_id,
        GroupEvent::StaticMemberReplaced {
            group_instance_id: instance.to_owned(),
            old_member_id: old_member_id.to_owned(),
            new_member_id: new_member_id.to_owned(),
        },
    );
    // Kafka restarts the session with the member's previous session timeout.
    let deadline_ms = Some(deadline(em.now_ms, old_session_timeout_ms));
    em.event(group_id, GroupEvent::HeartbeatScheduled { member_id: new_member_id.to_owned(), deadline_ms });
    em.event(
        group_id,
        GroupEvent::MemberUpdated {
            member_id: new_member_id.to_owned(),
            protocols: join.protocols.clone(),
            rebalance_timeout_ms: join.rebalance_timeout_ms,
            session_timeout_ms: join.session_timeout_ms,
            awaiting_join: Some(join.held),
        },
    );

    match state {
        GroupState::Stable => {
            let Some(group) = em.group(group_id) else { return };
            if group.select_protocol().as_deref() != group.protocol_name() {
                return maybe_prepare_rebalance_or_complete_join(
                    em,
                    group_id,
                    RebalanceReason::StaticMemberReplaced,
                );
            }
            em.emit_group_metadata(group_id);
            let Some(group) = em.group(group_id) else { return };
            let answer = if join.held.api_version >= 9 {
                let is_leader = group.is_leader(new_member_id);
                JoinAnswer {
                    members: if is_leader { join_members(group) } else { Vec::new() },
                    skip_assignment: is_leader,
                    ..JoinAnswer::current_generation(group, new_member_id, false)
                }
            } else {
                // Before v9 the client cannot skip the assignment, so Kafka names the previous
                // leader id and the member behaves as a follower.
                JoinAnswer {
                    leader: previous_leader,
                    ..JoinAnswer::current_generation(group, new_member_id, false)
                }
            };
            answer_join(em, group_id, new_member_id, answer);
        }
        // The leader may already be assigning for the old id: rebalance.
        GroupState::CompletingRebalance => prepare_rebalance(em, group_id, RebalanceReason::StaticMemberReplaced),
        _ => maybe_complete_join_phase(em, group_id),
    }
}
