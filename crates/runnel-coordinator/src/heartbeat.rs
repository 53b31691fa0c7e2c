//! Heartbeat (v0-4): Kafka's `classicGroupHeartbeat`. A valid heartbeat restarts the member's
//! session; during a rebalance it tells the member to rejoin.

use runnel_protocol::kafka_protocol::error::ResponseError;
use runnel_protocol::kafka_protocol::messages::HeartbeatRequest;

use crate::decision::Emitter;
use crate::rebalance::{activate_if_loaded, deadline};
use crate::record::GroupEvent;
use crate::request::{RequestId, Response};
use crate::responses::heartbeat;
use crate::state::GroupState;

pub(crate) fn handle(em: &mut Emitter<'_>, id: RequestId, request: &HeartbeatRequest) {
    let error = decide(em, request);
    em.respond(id, Response::Heartbeat(heartbeat(error)));
}

fn decide(em: &mut Emitter<'_>, request: &HeartbeatRequest) -> Option<ResponseError> {
    let group_id = request.group_id.as_str();
    let member_id = request.member_id.as_str();
    if group_id.is_empty() {
        return Some(ResponseError::InvalidGroupId);
    }
    if em.group(group_id).is_none() {
        return Some(ResponseError::UnknownMemberId);
    }
    activate_if_loaded(em, group_id);
    let Some(group) = em.group(group_id) else { return Some(ResponseError::UnknownMemberId) };
    if let Err(e) = group.validate_member(member_id, request.group_instance_id.as_ref().map(|s| s.as_str())) {
        return Some(e);
    }
    if request.generation_id != group.generation_id() {
        return Some(ResponseError::IllegalGeneration);
    }
    let state = group.state();
    let Some(session_timeout_ms) = group.member(member_id).map(|m| m.session_timeout_ms) else {
        return Some(ResponseError::UnknownMemberId);
    };
    let reply = match state {
        GroupState::Empty | GroupState::Dead => return Some(ResponseError::UnknownMemberId),
        GroupState::PreparingRebalance => Some(ResponseError::RebalanceInProgress),
        // Consumers heartbeat as soon as they have their JoinGroup response, while the group
        // is still CompletingRebalance: a normal heartbeat.
        GroupState::CompletingRebalance | GroupState::Stable => None,
    };
    let deadline_ms = Some(deadline(em.now_ms, session_timeout_ms));
    em.event(group_id, GroupEvent::HeartbeatScheduled { member_id: member_id.to_owned(), deadline_ms });
    reply
}
