//! SyncGroup (v0-5): Kafka's `classicGroupSync`. Followers park until the leader's SyncGroup
//! brings the assignment, which is persisted (GroupMetadata) and handed to every parked member
//! as the group becomes Stable.

use bytes::Bytes;
use runnel_protocol::kafka_protocol::error::ResponseError;
use runnel_protocol::kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use crate::decision::Emitter;
use crate::member::HeldRequest;
use crate::rebalance::{activate_if_loaded, answer_sync, propagate_assignment, record_completed_generation};
use crate::record::GroupEvent;
use crate::request::{RequestId, Response};
use crate::responses::{sync_error, sync_ok};
use crate::state::GroupState;

pub(crate) fn handle(em: &mut Emitter<'_>, id: RequestId, request: &SyncGroupRequest, api_version: i16) {
    match decide(em, id, request, api_version) {
        Ok(Some(response)) => em.respond(id, Response::SyncGroup(response)),
        Err(error) => em.respond(id, Response::SyncGroup(sync_error(error))),
        Ok(None) => {}
    }
}

/// `Ok(None)`: the request is parked (or was answered with the leader's assignment).
fn decide(
    em: &mut Emitter<'_>,
    id: RequestId,
    request: &SyncGroupRequest,
    api_version: i16,
) -> Result<Option<SyncGroupResponse>, ResponseError> {
    let error = Err;
    // From v5 the protocol type and name are mandatory (checked by Kafka's KafkaApis).
    if api_version >= 5 && (request.protocol_type.is_none() || request.protocol_name.is_none()) {
        return error(ResponseError::InconsistentGroupProtocol);
    }
    let group_id = request.group_id.as_str();
    let member_id = request.member_id.as_str();
    if group_id.is_empty() {
        return error(ResponseError::InvalidGroupId);
    }
    if em.group(group_id).is_none() {
        return error(ResponseError::UnknownMemberId);
    }
    activate_if_loaded(em, group_id);
    let Some(group) = em.group(group_id) else { return error(ResponseError::UnknownMemberId) };
    if group.state() == GroupState::Empty {
        return error(ResponseError::UnknownMemberId);
    }
    group.validate_member(member_id, request.group_instance_id.as_ref().map(|s| s.as_str()))?;
    if request.generation_id != group.generation_id() {
        return error(ResponseError::IllegalGeneration);
    }
    let inconsistent =
        |asked: Option<&str>, current: Option<&str>| matches!((asked, current), (Some(a), Some(c)) if a != c);
    if inconsistent(request.protocol_type.as_ref().map(|s| s.as_str()), group.protocol_type())
        || inconsistent(request.protocol_name.as_ref().map(|s| s.as_str()), group.protocol_name())
    {
        return error(ResponseError::InconsistentGroupProtocol);
    }

    match group.state() {
        GroupState::PreparingRebalance => error(ResponseError::RebalanceInProgress),
        GroupState::CompletingRebalance => {
            let is_leader = group.is_leader(member_id);
            // A SyncGroup already parked for the member (a client retry) is answered with
            // REBALANCE_IN_PROGRESS; Kafka drops it unanswered.
            answer_sync(em, group_id, member_id, sync_error(ResponseError::RebalanceInProgress), false);
            let request_held = HeldRequest { id, api_version };
            em.event(
                group_id,
                GroupEvent::SyncHeld { member_id: member_id.to_owned(), request: request_held },
            );
            remove_pending_sync_member(em, group_id, member_id);
            if is_leader {
                let assignments: Vec<(String, Bytes)> = request
                    .assignments
                    .iter()
                    .map(|a| (a.member_id.as_str().to_owned(), a.assignment.clone()))
                    .collect();
                em.event(group_id, GroupEvent::AssignmentsSet { assignments });
                // History first: the group's own record stays the last one written, as in Kafka.
                record_completed_generation(em, group_id);
                em.emit_group_metadata(group_id);
                propagate_assignment(em, group_id, None);
                em.event(group_id, GroupEvent::StateChanged { state: GroupState::Stable, at_ms: em.now_ms });
            }
            Ok(None)
        }
        GroupState::Stable => {
            let Some(member) = group.member(member_id) else { return error(ResponseError::UnknownMemberId) };
            let response = sync_ok(group.protocol_type(), group.protocol_name(), member.assignment.clone());
            remove_pending_sync_member(em, group_id, member_id);
            Ok(Some(response))
        }
        GroupState::Empty | GroupState::Dead => error(ResponseError::UnknownMemberId),
    }
}

/// Kafka's `removePendingSyncMember`: the sync timer stops once everybody has synced.
fn remove_pending_sync_member(em: &mut Emitter<'_>, group_id: &str, member_id: &str) {
    let Some(group) = em.group(group_id) else { return };
    if group.pending_sync_members.contains(member_id) {
        em.event(group_id, GroupEvent::PendingSyncRemoved { member_id: member_id.to_owned() });
    }
    let Some(group) = em.group(group_id) else { return };
    if group.pending_sync_members.is_empty() && group.sync_timer.is_some() {
        em.event(group_id, GroupEvent::SyncTimerSet { timer: None });
    }
}
