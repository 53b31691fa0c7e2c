//! DescribeGroups (v0-6) and ListGroups (v0-5): read-only views of the groups, as Kafka's
//! `describeGroups` and `listGroups` present them. Authorized operations are left at Kafka's
//! "not requested" default for the broker to fill in.

use runnel_protocol::kafka_protocol::error::ResponseError;
use runnel_protocol::kafka_protocol::messages::describe_groups_response::{
    DescribedGroup, DescribedGroupMember,
};
use runnel_protocol::kafka_protocol::messages::list_groups_response::ListedGroup;
use runnel_protocol::kafka_protocol::messages::{
    DescribeGroupsRequest, DescribeGroupsResponse, GroupId, ListGroupsRequest, ListGroupsResponse,
};

use crate::decision::Emitter;
use crate::request::{RequestId, Response};
use crate::responses::str_bytes;
use crate::state::GroupState;

/// The type name ListGroups v5 reports for (and filters by) classic groups.
pub const CLASSIC_GROUP_TYPE: &str = "classic";

pub(crate) fn describe(
    em: &mut Emitter<'_>,
    id: RequestId,
    request: &DescribeGroupsRequest,
    api_version: i16,
) {
    let mut response = DescribeGroupsResponse::default();
    for group_id in &request.groups {
        response.groups.push(describe_one(em, group_id, api_version));
    }
    em.respond(id, Response::DescribeGroups(response));
}

fn describe_one(em: &Emitter<'_>, group_id: &GroupId, api_version: i16) -> DescribedGroup {
    let mut described = DescribedGroup::default();
    described.group_id = group_id.clone();
    let Some(group) = em.group(group_id.as_str()) else {
        described.group_state = str_bytes(GroupState::Dead.name());
        if api_version >= 6 {
            described.error_code = ResponseError::GroupIdNotFound.code();
            described.error_message = Some(str_bytes(&format!("Group {} not found.", group_id.as_str())));
        }
        return described;
    };
    let stable = group.state() == GroupState::Stable;
    described.group_state = str_bytes(group.state().name());
    described.protocol_type = str_bytes(group.protocol_type().unwrap_or_default());
    if stable {
        described.protocol_data = str_bytes(group.protocol_name().unwrap_or_default());
    }
    described.members = group
        .members()
        .map(|m| {
            let mut dm = DescribedGroupMember::default();
            dm.member_id = str_bytes(&m.member_id);
            dm.group_instance_id = m.group_instance_id.as_deref().map(str_bytes);
            dm.client_id = str_bytes(&m.client_id);
            dm.client_host = str_bytes(&m.client_host);
            // Metadata only once the protocol is settled, as Kafka does.
            if stable {
                dm.member_metadata = group.member_metadata(m);
            }
            dm.member_assignment = m.assignment.clone();
            dm
        })
        .collect();
    described
}

pub(crate) fn list(em: &mut Emitter<'_>, id: RequestId, request: &ListGroupsRequest) {
    // Kafka compares states case-insensitively after trimming, and types case-insensitively;
    // an unknown type or state matches nothing.
    let states: Vec<String> =
        request.states_filter.iter().map(|s| s.as_str().trim().to_lowercase()).collect();
    let types_match = request.types_filter.is_empty()
        || request.types_filter.iter().any(|t| t.as_str().to_lowercase() == CLASSIC_GROUP_TYPE);
    let mut response = ListGroupsResponse::default();
    if types_match {
        for group_id in em.group_ids() {
            let Some(group) = em.group(&group_id) else { continue };
            if !states.is_empty() && !states.iter().any(|s| s == group.state().lower_case_name()) {
                continue;
            }
            let mut listed = ListedGroup::default();
            listed.group_id = GroupId(str_bytes(&group_id));
            listed.protocol_type = str_bytes(group.protocol_type().unwrap_or_default());
            listed.group_state = str_bytes(group.state().name());
            listed.group_type = str_bytes(CLASSIC_GROUP_TYPE);
            response.groups.push(listed);
        }
    }
    em.respond(id, Response::ListGroups(response));
}
