//! LeaveGroup (v0-5, batched from v3): Kafka's `classicGroupLeave`. Members leave by member id,
//! or (admin removal) by group instance id with no member id; pending members may leave too.

use runnel_protocol::kafka_protocol::error::ResponseError;
use runnel_protocol::kafka_protocol::messages::leave_group_response::MemberResponse;
use runnel_protocol::kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use crate::decision::Emitter;
use crate::history::RebalanceReason;
use crate::rebalance::{
    activate_if_loaded, maybe_complete_join_phase, maybe_prepare_rebalance_or_complete_join, remove_member,
};
use crate::record::GroupEvent;
use crate::request::{RequestId, Response};
use crate::responses::{code, str_bytes};
use crate::state::GroupState;

struct Leaving {
    member_id: String,
    group_instance_id: Option<String>,
    /// The client's reason (v5+), which tells an admin removal from a consumer closing.
    reason: Option<String>,
    error: Option<ResponseError>,
}

/// The reason Kafka's admin client puts in LeaveGroup (alone or followed by ": <reason>") when
/// an operator removes members (`kafka-consumer-groups --delete-members`).
pub const ADMIN_LEAVE_REASON: &str = "member was removed by an admin";

impl Leaving {
    fn history_reason(&self) -> RebalanceReason {
        let by_admin = self.member_id.is_empty()
            || self.reason.as_deref().is_some_and(|r| r.starts_with(ADMIN_LEAVE_REASON));
        if by_admin {
            RebalanceReason::AdminAction
        } else {
            RebalanceReason::MemberLeft
        }
    }
}

pub(crate) fn handle(em: &mut Emitter<'_>, id: RequestId, request: &LeaveGroupRequest, api_version: i16) {
    // Before v3 a LeaveGroup names one member, by member id.
    let mut leaving: Vec<Leaving> = if api_version >= 3 {
        request
            .members
            .iter()
            .map(|m| Leaving {
                member_id: m.member_id.as_str().to_owned(),
                group_instance_id: m.group_instance_id.as_ref().map(|s| s.as_str().to_owned()),
                reason: m.reason.as_ref().map(|s| s.as_str().to_owned()),
                error: None,
            })
            .collect()
    } else {
        vec![Leaving {
            member_id: request.member_id.as_str().to_owned(),
            group_instance_id: None,
            reason: None,
            error: None,
        }]
    };
    let top_level = decide(em, request.group_id.as_str(), &mut leaving);

    let mut response = LeaveGroupResponse::default();
    if api_version >= 3 {
        response.error_code = code(top_level);
        response.members = leaving
            .iter()
            .map(|l| {
                let mut m = MemberResponse::default();
                m.member_id = str_bytes(&l.member_id);
                m.group_instance_id = l.group_instance_id.as_deref().map(str_bytes);
                m.error_code = code(l.error);
                m
            })
            .collect();
    } else {
        response.error_code = code(top_level.or_else(|| leaving.first().and_then(|l| l.error)));
    }
    em.respond(id, Response::LeaveGroup(response));
}

/// Fills in each member's error; returns the request-level error.
fn decide(em: &mut Emitter<'_>, group_id: &str, leaving: &mut [Leaving]) -> Option<ResponseError> {
    if group_id.is_empty() {
        return Some(ResponseError::InvalidGroupId);
    }
    if em.group(group_id).is_none() {
        for l in leaving.iter_mut() {
            l.error = Some(ResponseError::UnknownMemberId);
        }
        return None;
    }
    activate_if_loaded(em, group_id);
    let mut first_reason: Option<RebalanceReason> = None;
    for l in leaving.iter_mut() {
        let Some(group) = em.group(group_id) else { break };
        if l.member_id.is_empty() {
            // Removal by group instance id (e.g. kafka-consumer-groups --delete of a static member).
            let current =
                l.group_instance_id.as_deref().and_then(|i| group.static_member_id(i)).map(str::to_owned);
            match current {
                Some(current) => remove_member(em, group_id, &current, l.history_reason()),
                None => l.error = Some(ResponseError::UnknownMemberId),
            }
        } else if group.is_pending_member(&l.member_id) {
            em.event(group_id, GroupEvent::PendingMemberRemoved { member_id: l.member_id.clone() });
        } else {
            match group.validate_member(&l.member_id, l.group_instance_id.as_deref()) {
                Ok(()) => remove_member(em, group_id, &l.member_id, l.history_reason()),
                Err(e) => l.error = Some(e),
            }
        }
        if l.error.is_none() && first_reason.is_none() {
            first_reason = Some(l.history_reason());
        }
    }
    if let Some(reason) = first_reason {
        match em.group(group_id).map(|g| g.state()) {
            Some(GroupState::Stable | GroupState::CompletingRebalance) => {
                maybe_prepare_rebalance_or_complete_join(em, group_id, reason)
            }
            Some(GroupState::PreparingRebalance) => maybe_complete_join_phase(em, group_id),
            _ => {}
        }
    }
    None
}
