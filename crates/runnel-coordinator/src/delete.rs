//! DeleteGroups (v0-2): Kafka's `deleteGroups`. Only Empty groups can be deleted; their
//! offsets are tombstoned, then the group itself.

use runnel_protocol::kafka_protocol::error::ResponseError;
use runnel_protocol::kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use runnel_protocol::kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use crate::decision::Emitter;
use crate::rebalance::tombstone_group;
use crate::record::Record;
use crate::request::{RequestId, Response};
use crate::responses::code;
use crate::state::GroupState;

pub(crate) fn handle(em: &mut Emitter<'_>, id: RequestId, request: &DeleteGroupsRequest) {
    let mut response = DeleteGroupsResponse::default();
    // Kafka's KafkaApis removes duplicate names before the coordinator sees them.
    let mut seen = std::collections::BTreeSet::new();
    for group_id in &request.groups_names {
        if !seen.insert(group_id.as_str()) {
            continue;
        }
        let error = delete_group(em, group_id.as_str());
        let mut result = DeletableGroupResult::default();
        result.group_id = group_id.clone();
        result.error_code = code(error);
        response.results.push(result);
    }
    em.respond(id, Response::DeleteGroups(response));
}

fn delete_group(em: &mut Emitter<'_>, group_id: &str) -> Option<ResponseError> {
    let Some(group) = em.group(group_id) else { return Some(ResponseError::GroupIdNotFound) };
    if group.state() != GroupState::Empty {
        return Some(ResponseError::NonEmptyGroup);
    }
    let offsets: Vec<(String, i32)> = em
        .coordinator
        .offsets
        .group(group_id)
        .map(|by_topic| {
            by_topic
                .iter()
                .flat_map(|(topic, partitions)| partitions.keys().map(move |p| (topic.clone(), *p)))
                .collect()
        })
        .unwrap_or_default();
    for (topic, partition) in offsets {
        em.emit(Record::OffsetTombstone { group_id: group_id.to_owned(), topic, partition });
    }
    tombstone_group(em, group_id);
    None
}
