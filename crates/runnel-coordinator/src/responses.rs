//! Building responses the way Kafka shapes them per API version: JoinGroup's nullable protocol
//! name from v7, LeaveGroup's single top-level error before v3, and so on. Everything that
//! depends on the version lives here, so the handlers only decide what to say.

use bytes::Bytes;
use runnel_protocol::kafka_protocol::error::ResponseError;
use runnel_protocol::kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use runnel_protocol::kafka_protocol::messages::{HeartbeatResponse, JoinGroupResponse, SyncGroupResponse};
use runnel_protocol::kafka_protocol::protocol::StrBytes;

use crate::group::ClassicGroup;

pub(crate) fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

pub(crate) fn code(error: Option<ResponseError>) -> i16 {
    error.map_or(0, |e| e.code())
}

/// A JoinGroup answer before it is shaped for a version.
#[derive(Debug, Clone, Default)]
pub(crate) struct JoinAnswer {
    pub error: Option<ResponseError>,
    pub member_id: String,
    /// -1 on errors, as Kafka's default.
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub skip_assignment: bool,
    pub members: Vec<JoinGroupResponseMember>,
}

impl JoinAnswer {
    pub fn error(error: ResponseError, member_id: &str) -> Self {
        Self { error: Some(error), member_id: member_id.to_owned(), generation_id: -1, ..Self::default() }
    }

    /// The current generation, as a rejoining member (or every member when the join phase
    /// completes) sees it; only the leader gets the member list.
    pub fn current_generation(group: &ClassicGroup, member_id: &str, with_members: bool) -> Self {
        Self {
            error: None,
            member_id: member_id.to_owned(),
            generation_id: group.generation_id(),
            protocol_type: group.protocol_type().map(str::to_owned),
            protocol_name: group.protocol_name().map(str::to_owned),
            leader: group.leader_id().unwrap_or_default().to_owned(),
            skip_assignment: false,
            members: if with_members { join_members(group) } else { Vec::new() },
        }
    }

    /// Shapes the answer for `api_version` as Kafka's `JoinGroupResponse` constructor does:
    /// before v7 the protocol name is never null, from v7 an empty one is null.
    pub fn into_response(self, api_version: i16) -> JoinGroupResponse {
        let protocol_name = if api_version < 7 {
            Some(self.protocol_name.unwrap_or_default())
        } else {
            self.protocol_name.filter(|name| !name.is_empty())
        };
        let mut r = JoinGroupResponse::default();
        r.error_code = code(self.error);
        r.generation_id = self.generation_id;
        r.protocol_type = self.protocol_type.as_deref().map(str_bytes);
        r.protocol_name = protocol_name.as_deref().map(str_bytes);
        r.leader = str_bytes(&self.leader);
        r.skip_assignment = self.skip_assignment && api_version >= 9;
        r.member_id = str_bytes(&self.member_id);
        r.members = self.members;
        r
    }
}

/// The members with their metadata for the selected protocol, for the leader.
pub(crate) fn join_members(group: &ClassicGroup) -> Vec<JoinGroupResponseMember> {
    group
        .members()
        .map(|m| {
            let mut jm = JoinGroupResponseMember::default();
            jm.member_id = str_bytes(&m.member_id);
            jm.group_instance_id = m.group_instance_id.as_deref().map(str_bytes);
            jm.metadata = group.member_metadata(m);
            jm
        })
        .collect()
}

pub(crate) fn sync_error(error: ResponseError) -> SyncGroupResponse {
    let mut r = SyncGroupResponse::default();
    r.error_code = error.code();
    r
}

pub(crate) fn sync_ok(
    protocol_type: Option<&str>,
    protocol_name: Option<&str>,
    assignment: Bytes,
) -> SyncGroupResponse {
    let mut r = SyncGroupResponse::default();
    r.protocol_type = protocol_type.map(str_bytes);
    r.protocol_name = protocol_name.map(str_bytes);
    r.assignment = assignment;
    r
}

pub(crate) fn heartbeat(error: Option<ResponseError>) -> HeartbeatResponse {
    let mut r = HeartbeatResponse::default();
    r.error_code = code(error);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_name_nullability_follows_the_version() {
        let error = JoinAnswer::error(ResponseError::UnknownMemberId, "");
        assert_eq!(error.clone().into_response(6).protocol_name.as_deref(), Some(""));
        assert_eq!(error.into_response(7).protocol_name, None);
        let named = JoinAnswer { protocol_name: Some("range".into()), ..JoinAnswer::default() };
        assert_eq!(named.clone().into_response(0).protocol_name.as_deref(), Some("range"));
        assert_eq!(named.into_response(9).protocol_name.as_deref(), Some("range"));
        let skip = JoinAnswer { skip_assignment: true, ..JoinAnswer::default() };
        assert!(!skip.clone().into_response(8).skip_assignment);
        assert!(skip.into_response(9).skip_assignment);
    }
}
