//! The rebalance machinery shared by JoinGroup, SyncGroup, LeaveGroup and the timers: starting
//! a rebalance, completing the join phase (a new generation), propagating assignments, and
//! removing members while answering whatever they had parked. Follows Kafka's
//! `GroupMetadataManager` step for step; each step emits records into the decision.

use runnel_protocol::kafka_protocol::error::ResponseError;
use runnel_protocol::kafka_protocol::messages::SyncGroupResponse;

use crate::decision::Emitter;
use crate::history::{completed_generation, RebalanceReason};
use crate::member::HeldRequest;
use crate::record::{GroupEvent, Record};
use crate::request::Response;
use crate::responses::{join_members, sync_error, JoinAnswer};
use crate::state::GroupState;
use crate::timers::{JoinTimer, JoinTimerKind, SyncTimer};

pub(crate) fn deadline(now_ms: i64, timeout_ms: i32) -> i64 {
    now_ms.saturating_add(i64::from(timeout_ms.max(0)))
}

/// Answers the member's parked JoinGroup, if it has one.
pub(crate) fn answer_join(em: &mut Emitter<'_>, group_id: &str, member_id: &str, answer: JoinAnswer) {
    let Some(held) = em.group(group_id).and_then(|g| g.member(member_id)).and_then(|m| m.awaiting_join)
    else {
        return;
    };
    em.event(group_id, GroupEvent::JoinAnswered { member_id: member_id.to_owned() });
    em.respond(held.id, Response::JoinGroup(answer.into_response(held.api_version)));
}

/// Answers the member's parked SyncGroup, if it has one; `restart_session` restarts its session
/// as Kafka does after propagating an assignment.
pub(crate) fn answer_sync(
    em: &mut Emitter<'_>,
    group_id: &str,
    member_id: &str,
    response: SyncGroupResponse,
    restart_session: bool,
) {
    let Some(member) = em.group(group_id).and_then(|g| g.member(member_id)) else { return };
    let Some(held) = member.awaiting_sync else { return };
    let heartbeat_deadline_ms = restart_session.then(|| deadline(em.now_ms, member.session_timeout_ms));
    em.event(group_id, GroupEvent::SyncAnswered { member_id: member_id.to_owned(), heartbeat_deadline_ms });
    em.respond(held.id, Response::SyncGroup(response));
}

/// Removes a member. Its parked JoinGroup gets UNKNOWN_MEMBER_ID as in Kafka; a parked
/// SyncGroup (which Kafka leaves unanswered) gets UNKNOWN_MEMBER_ID too, so every held request
/// is answered exactly once.
pub(crate) fn remove_member(em: &mut Emitter<'_>, group_id: &str, member_id: &str, reason: RebalanceReason) {
    answer_join(em, group_id, member_id, JoinAnswer::error(ResponseError::UnknownMemberId, ""));
    answer_sync(em, group_id, member_id, sync_error(ResponseError::UnknownMemberId), false);
    em.event(group_id, GroupEvent::MemberRemoved { member_id: member_id.to_owned(), reason });
}

/// Records the generation the group has just completed (Stable with its assignment, or Empty)
/// in its history, tombstoning the generations that fall out of the bound.
pub(crate) fn record_completed_generation(em: &mut Emitter<'_>, group_id: &str) {
    let Some(group) = em.group(group_id) else { return };
    let history = em.history(group_id);
    let entry = completed_generation(group, history.and_then(|h| h.latest()), em.now_ms);
    let pruned = history.map(|h| h.to_prune_for(entry.generation)).unwrap_or_default();
    for generation in pruned {
        em.emit(Record::GroupHistoryTombstone { group_id: group_id.to_owned(), generation });
    }
    em.emit(Record::GroupHistory { group_id: group_id.to_owned(), entry });
}

/// Deletes the group: its history's generations, then the group itself.
pub(crate) fn tombstone_group(em: &mut Emitter<'_>, group_id: &str) {
    let generations: Vec<i32> = em.history(group_id).map(|h| h.generations().collect()).unwrap_or_default();
    for generation in generations {
        em.emit(Record::GroupHistoryTombstone { group_id: group_id.to_owned(), generation });
    }
    em.emit(Record::GroupTombstone { group_id: group_id.to_owned() });
}

/// A group loaded from its GroupMetadata record starts its members' sessions at the first
/// decision that touches it, and rebalances if it is over `group.max.size` (Kafka's
/// `onLoaded`).
pub(crate) fn activate_if_loaded(em: &mut Emitter<'_>, group_id: &str) {
    let Some(group) = em.group(group_id) else { return };
    if !group.awaiting_activation {
        return;
    }
    let over_capacity = group.num_members() > usize::try_from(em.config().group_max_size).unwrap_or(0);
    em.event(group_id, GroupEvent::Activated { at_ms: em.now_ms });
    if over_capacity {
        // `group.max.size` was lowered by the operator while the group was bigger.
        prepare_rebalance(em, group_id, RebalanceReason::AdminAction);
    }
}

pub(crate) fn maybe_prepare_rebalance_or_complete_join(
    em: &mut Emitter<'_>,
    group_id: &str,
    reason: RebalanceReason,
) {
    let Some(group) = em.group(group_id) else { return };
    if group.can_rebalance() {
        prepare_rebalance(em, group_id, reason);
    } else {
        maybe_complete_join_phase(em, group_id);
    }
}

/// Kafka's `prepareRebalance`, started by `reason`.
pub(crate) fn prepare_rebalance(em: &mut Emitter<'_>, group_id: &str, reason: RebalanceReason) {
    let Some(group) = em.group(group_id) else { return };
    if group.state() == GroupState::CompletingRebalance {
        reset_and_propagate_assignment_with_error(em, group_id, ResponseError::RebalanceInProgress);
    }
    let Some(group) = em.group(group_id) else { return };
    let has_pending_sync = !group.pending_sync_members.is_empty();
    let has_sync_timer = group.sync_timer.is_some();
    let initial = group.state() == GroupState::Empty;
    let rebalance_timeout_ms = group.rebalance_timeout_ms();
    if has_pending_sync {
        em.event(group_id, GroupEvent::PendingSyncCleared);
    }
    if has_sync_timer {
        em.event(group_id, GroupEvent::SyncTimerSet { timer: None });
    }
    if initial {
        let delay_ms = em.config().initial_rebalance_delay_ms.max(0);
        let remaining_ms = rebalance_timeout_ms.saturating_sub(delay_ms).max(0);
        let timer = JoinTimer {
            deadline_ms: deadline(em.now_ms, delay_ms),
            kind: JoinTimerKind::InitialDelay { delay_ms, remaining_ms },
        };
        em.event(group_id, GroupEvent::JoinTimerSet { timer: Some(timer) });
    }
    em.event(group_id, GroupEvent::RebalanceStarted { reason, at_ms: em.now_ms });
    em.event(group_id, GroupEvent::StateChanged { state: GroupState::PreparingRebalance, at_ms: em.now_ms });
    if !initial {
        maybe_complete_join_else_schedule(em, group_id);
    }
}

fn maybe_complete_join_else_schedule(em: &mut Emitter<'_>, group_id: &str) {
    let Some(group) = em.group(group_id) else { return };
    if group.has_all_members_joined() {
        complete_join(em, group_id);
    } else {
        let timer = JoinTimer {
            deadline_ms: deadline(em.now_ms, group.rebalance_timeout_ms()),
            kind: JoinTimerKind::Rebalance,
        };
        em.event(group_id, GroupEvent::JoinTimerSet { timer: Some(timer) });
    }
}

/// Kafka's `maybeCompleteJoinPhase`: never during the initial (delayed) rebalance.
pub(crate) fn maybe_complete_join_phase(em: &mut Emitter<'_>, group_id: &str) {
    let Some(group) = em.group(group_id) else { return };
    if group.state() == GroupState::PreparingRebalance
        && group.previous_state() != GroupState::Empty
        && group.has_all_members_joined()
    {
        complete_join(em, group_id);
    }
}

/// Kafka's `tryCompleteInitialRebalanceElseSchedule`: while new members keep arriving, wait
/// another delay, for at most the remaining time.
pub(crate) fn try_complete_initial_rebalance_else_schedule(
    em: &mut Emitter<'_>,
    group_id: &str,
    delay_ms: i32,
    remaining_ms: i32,
) {
    let Some(group) = em.group(group_id) else { return };
    if group.new_member_added && remaining_ms != 0 {
        let new_delay_ms = em.config().initial_rebalance_delay_ms.max(0).min(remaining_ms);
        let new_remaining_ms = remaining_ms.saturating_sub(delay_ms).max(0);
        em.event(group_id, GroupEvent::NewMemberAddedSet { value: false });
        let timer = JoinTimer {
            deadline_ms: deadline(em.now_ms, new_delay_ms),
            kind: JoinTimerKind::InitialDelay { delay_ms: new_delay_ms, remaining_ms: new_remaining_ms },
        };
        em.event(group_id, GroupEvent::JoinTimerSet { timer: Some(timer) });
    } else {
        complete_join(em, group_id);
    }
}

/// Kafka's `completeClassicGroupJoin`: drop dynamic members that did not rejoin, make sure the
/// leader rejoined (or elect one that did), start the next generation and answer every parked
/// JoinGroup (the leader gets the members); an empty group writes its GroupMetadata instead.
pub(crate) fn complete_join(em: &mut Emitter<'_>, group_id: &str) {
    let Some(group) = em.group(group_id) else { return };
    let had_join_timer = group.join_timer.is_some();
    let not_rejoined: Vec<String> = group
        .members()
        .filter(|m| m.awaiting_join.is_none() && !m.is_static())
        .map(|m| m.member_id.clone())
        .collect();
    if had_join_timer {
        em.event(group_id, GroupEvent::JoinTimerSet { timer: None });
    }
    for member_id in &not_rejoined {
        remove_member(em, group_id, member_id, RebalanceReason::RebalanceTimeout);
    }

    let Some(group) = em.group(group_id) else { return };
    // Kafka's `maybeElectNewJoinedLeader`.
    let (leader_rejoined, new_leader) = match group.leader_id() {
        None => (false, None),
        Some(leader) if group.member(leader).is_some_and(|m| m.awaiting_join.is_some()) => (true, None),
        Some(_) => match group.members().find(|m| m.awaiting_join.is_some()) {
            Some(joined) => (true, Some(joined.member_id.clone())),
            None => (false, None),
        },
    };
    if let Some(leader_id) = new_leader {
        em.event(group_id, GroupEvent::LeaderChanged { leader_id: Some(leader_id) });
    }
    let Some(group) = em.group(group_id) else { return };
    if !leader_rejoined && group.num_members() > 0 {
        // Nobody rejoined: wait another rebalance timeout for sessions to clear the group.
        let timer = JoinTimer {
            deadline_ms: deadline(em.now_ms, group.rebalance_timeout_ms()),
            kind: JoinTimerKind::Rebalance,
        };
        em.event(group_id, GroupEvent::JoinTimerSet { timer: Some(timer) });
        return;
    }

    let protocol_name = group.select_protocol();
    em.event(group_id, GroupEvent::GenerationStarted { protocol_name, at_ms: em.now_ms });
    let Some(group) = em.group(group_id) else { return };
    if group.state() == GroupState::Empty {
        record_completed_generation(em, group_id);
        em.emit_group_metadata(group_id);
        return;
    }

    let leader_members = join_members(group);
    let now_ms = em.now_ms;
    let mut answers: Vec<(String, Option<HeldRequest>, i64, JoinAnswer)> = Vec::new();
    for member in group.members() {
        let mut answer = JoinAnswer::current_generation(group, &member.member_id, false);
        if group.is_leader(&member.member_id) {
            answer.members = leader_members.clone();
        }
        answers.push((
            member.member_id.clone(),
            member.awaiting_join,
            deadline(now_ms, member.session_timeout_ms),
            answer,
        ));
    }
    let sync_timer = SyncTimer {
        deadline_ms: deadline(now_ms, group.rebalance_timeout_ms()),
        generation_id: group.generation_id(),
    };
    for (member_id, held, heartbeat_deadline_ms, answer) in answers {
        em.event(group_id, GroupEvent::MemberJoinCompleted { member_id, heartbeat_deadline_ms });
        if let Some(held) = held {
            em.respond(held.id, Response::JoinGroup(answer.into_response(held.api_version)));
        }
    }
    em.event(group_id, GroupEvent::SyncTimerSet { timer: Some(sync_timer) });
}

/// Kafka's `resetAndPropagateAssignmentWithError`: only in CompletingRebalance.
pub(crate) fn reset_and_propagate_assignment_with_error(
    em: &mut Emitter<'_>,
    group_id: &str,
    error: ResponseError,
) {
    em.event(group_id, GroupEvent::AssignmentsSet { assignments: Vec::new() });
    propagate_assignment(em, group_id, Some(error));
}

/// Kafka's `propagateAssignment`: every parked SyncGroup gets the member's assignment (or the
/// error) and the member's session restarts.
pub(crate) fn propagate_assignment(em: &mut Emitter<'_>, group_id: &str, error: Option<ResponseError>) {
    let Some(group) = em.group(group_id) else { return };
    let (protocol_type, protocol_name) = match error {
        None => (group.protocol_type().map(str::to_owned), group.protocol_name().map(str::to_owned)),
        Some(_) => (None, None),
    };
    let parked: Vec<(String, bytes::Bytes)> = group
        .members()
        .filter(|m| m.awaiting_sync.is_some())
        .map(|m| (m.member_id.clone(), m.assignment.clone()))
        .collect();
    for (member_id, assignment) in parked {
        let mut response =
            crate::responses::sync_ok(protocol_type.as_deref(), protocol_name.as_deref(), assignment);
        response.error_code = crate::responses::code(error);
        answer_sync(em, group_id, &member_id, response, true);
    }
}

/// A member's session expired (Kafka's `removeMemberAndUpdateClassicGroup`).
pub(crate) fn remove_member_and_update_group(em: &mut Emitter<'_>, group_id: &str, member_id: &str) {
    remove_member(em, group_id, member_id, RebalanceReason::SessionTimeout);
    let Some(group) = em.group(group_id) else { return };
    match group.state() {
        GroupState::Stable | GroupState::CompletingRebalance => {
            maybe_prepare_rebalance_or_complete_join(em, group_id, RebalanceReason::SessionTimeout)
        }
        GroupState::PreparingRebalance if group.has_all_members_joined() => complete_join(em, group_id),
        _ => {}
    }
}

/// A pending member's deadline passed (Kafka's `removePendingMemberAndUpdateClassicGroup`).
pub(crate) fn remove_pending_member_and_update_group(em: &mut Emitter<'_>, group_id: &str, member_id: &str) {
    em.event(group_id, GroupEvent::PendingMemberRemoved { member_id: member_id.to_owned() });
    let Some(group) = em.group(group_id) else { return };
    if group.state() == GroupState::PreparingRebalance && group.has_all_members_joined() {
        complete_join(em, group_id);
    }
}
