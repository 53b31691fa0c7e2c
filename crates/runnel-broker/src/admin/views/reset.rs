//! `POST /api/groups/{group}/reset-offsets`: Kafka's `kafka-consumer-groups --reset-offsets`.
//! Computes the plan (`to`: earliest, latest, offset, timestamp, shift; offsets clamped to
//! each partition's log start and end, as Kafka's tool does); a dry run unless `execute` is
//! true. Executing needs the group inactive (Empty, or unknown) and commits the plan as an
//! admin OffsetCommit (generation -1, no member) through the group coordinator, so it is
//! persisted and replayed like any commit.

// A refusal is the reply itself; admin requests are rare, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use hyper::StatusCode;
use runnel_coordinator::{GroupState, Request, Response};
use runnel_protocol::kafka_protocol::error::ResponseError;
use runnel_protocol::kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use runnel_protocol::kafka_protocol::messages::{GroupId, OffsetCommitRequest, TopicName};
use runnel_protocol::kafka_protocol::protocol::StrBytes;
use serde::{Deserialize, Serialize};

use super::messages::offset_for_timestamp;
use crate::admin::reply::{self, bad_request, json, not_found, Reply};
use crate::admin::routes::{BoxFuture, Call};
use crate::context::BrokerContext;
use crate::groups::GroupService;

/// The OffsetCommit version the admin commit is made with (classic groups, no member epoch).
const OFFSET_COMMIT_VERSION: i16 = 8;
/// Most partitions one reset may name.
pub const RESET_PARTITIONS_MAX: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetRequest {
    topic: String,
    partitions: Option<Vec<i32>>,
    to: String,
    value: Option<i64>,
    #[serde(default)]
    execute: bool,
}

#[derive(Debug, Clone, Serialize)]
struct PlanEntry {
    topic: String,
    partition: i32,
    current_offset: Option<i64>,
    new_offset: i64,
}

#[derive(Serialize)]
struct ResetView {
    group_id: String,
    execute: bool,
    plan: Vec<PlanEntry>,
}

/// Kafka's refusal, word for word (`ConsumerGroupCommand`).
fn inactive_required(group_id: &str, state: GroupState) -> Reply {
    reply::error(
        StatusCode::CONFLICT,
        format!("Assignments can only be reset if the group '{group_id}' is inactive, but the current state is {}.", state.name()),
    )
}

pub fn post(call: Call) -> BoxFuture {
    Box::pin(async move {
        let request: ResetRequest = match serde_json::from_slice(&call.body) {
            Ok(request) => request,
            Err(error) => return bad_request(format!("invalid reset-offsets request: {error}")),
        };
        let group_id = call.param("group").to_string();
        let ctx = call.ctx.clone();
        let planning = {
            let (ctx, group_id) = (ctx.clone(), group_id.clone());
            tokio::task::spawn_blocking(move || plan(&ctx, &group_id, &request).map(|plan| (plan, request.execute)))
        };
        let (plan, execute, state) = match planning.await {
            Ok(Ok(((plan, state), execute))) => (plan, execute, state),
            Ok(Err(refused)) => return refused,
            Err(error) => return reply::error(StatusCode::INTERNAL_SERVER_ERROR, format!("planning failed: {error}")),
        };
        if execute {
            if !matches!(state, GroupState::Empty | GroupState::Dead) {
                return inactive_required(&group_id, state);
            }
            if let Err(refused) = commit(&ctx, &group_id, &plan, &call.state.shutdown).await {
                return refused;
            }
        }
        json(&ResetView { group_id, execute, plan })
    })
}

/// The plan and the group's state now (Dead for a group the coordinator does not know).
fn plan(ctx: &BrokerContext, group_id: &str, request: &ResetRequest) -> Result<(Vec<PlanEntry>, GroupState), Reply> {
    let Some(topic) = ctx.topics.get(&request.topic) else { return Err(not_found(format!("topic '{}'", request.topic))) };
    let mut partitions: Vec<i32> = match &request.partitions {
        Some(partitions) if partitions.is_empty() => return Err(bad_request("partitions, when given, must name at least one")),
        Some(partitions) => partitions.clone(),
        None => topic.partitions.iter().map(|p| p.index).collect(),
    };
    partitions.sort_unstable();
    partitions.dedup();
    if partitions.len() > RESET_PARTITIONS_MAX {
        return Err(bad_request(format!("at most {RESET_PARTITIONS_MAX} partitions per reset")));
    }
    if let Some(missing) = partitions.iter().find(|p| topic.partition(**p).is_none()) {
        return Err(not_found(format!("partition {missing} of topic '{}'", topic.name)));
    }
    let value = || request.value.ok_or_else(|| bad_request(format!("to={} needs a value", request.to)));
    let (state, current): (GroupState, Vec<Option<i64>>) = ctx.groups.inspect(|coordinator| {
        let state = coordinator.group(group_id).map_or(GroupState::Dead, |group| group.state());
        let current =
            partitions.iter().map(|p| coordinator.committed_offset(group_id, &topic.name, *p).map(|v| v.offset)).collect();
        (state, current)
    });
    let mut plan = Vec::with_capacity(partitions.len());
    for (index, current_offset) in partitions.iter().zip(current) {
        let Some(partition) = topic.partition(*index) else { continue };
        let (start, end) = (partition.log_start_offset(), partition.high_watermark());
        let wanted = match request.to.as_str() {
            "earliest" => start,
            "latest" => end,
            "offset" => value()?,
            "timestamp" => offset_for_timestamp(partition, value()?).unwrap_or(end),
            "shift" => {
                let Some(current) = current_offset else {
                    return Err(bad_request(format!(
                        "Cannot shift offset for partition {}-{index} since there is no current committed offset",
                        topic.name
                    )));
                };
                current.saturating_add(value()?)
            }
            other => {
                return Err(bad_request(format!("to must be earliest, latest, offset, timestamp or shift, got '{other}'")))
            }
        };
        plan.push(PlanEntry { topic: topic.name.clone(), partition: *index, current_offset, new_offset: wanted.clamp(start, end) });
    }
    Ok((plan, state))
}

/// Commits the plan as an admin OffsetCommit through the coordinator.
async fn commit(
    ctx: &Arc<BrokerContext>,
    group_id: &str,
    plan: &[PlanEntry],
    shutdown: &tokio_util::sync::CancellationToken,
) -> Result<(), Reply> {
    let failed = |message: String| reply::error(StatusCode::INTERNAL_SERVER_ERROR, message);
    ctx.groups
        .ensure_offsets_topic(&ctx.config, &ctx.topics)
        .map_err(|error| failed(format!("cannot create the offsets topic: {error}")))?;
    let mut request = OffsetCommitRequest::default();
    request.group_id = GroupId(StrBytes::from_string(group_id.to_string()));
    request.generation_id_or_member_epoch = -1;
    request.member_id = StrBytes::from_static_str("");
    if let Some(first) = plan.first() {
        let mut topic = OffsetCommitRequestTopic::default();
        topic.name = TopicName(StrBytes::from_string(first.topic.clone()));
        for entry in plan {
            let mut partition = OffsetCommitRequestPartition::default();
            partition.partition_index = entry.partition;
            partition.committed_offset = entry.new_offset;
            partition.committed_leader_epoch = -1;
            partition.committed_metadata = Some(StrBytes::from_static_str(""));
            topic.partitions.push(partition);
        }
        request.topics.push(topic);
    }
    let mut request = Request::OffsetCommit { request, api_version: OFFSET_COMMIT_VERSION, topics: Default::default() };
    let known = GroupService::known_topics(&ctx.topics, &request);
    if let Request::OffsetCommit { topics, .. } = &mut request {
        *topics = known;
    }
    let Some(Response::OffsetCommit(response)) = ctx.groups.call(&ctx.topics, request, shutdown).await else {
        return Err(reply::error(StatusCode::SERVICE_UNAVAILABLE, "the broker is shutting down"));
    };
    let errors: Vec<i16> = response.topics.iter().flat_map(|t| t.partitions.iter().map(|p| p.error_code)).filter(|c| *c != 0).collect();
    let Some(code) = errors.first() else { return Ok(()) };
    // The group became active between the check and the commit.
    let rejoined = [ResponseError::UnknownMemberId, ResponseError::IllegalGeneration, ResponseError::RebalanceInProgress]
        .iter()
        .any(|error| error.code() == *code);
    if rejoined {
        let state = ctx.groups.inspect(|c| c.group(group_id).map_or(GroupState::Dead, |g| g.state()));
        return Err(inactive_required(group_id, state));
    }
    let name = ResponseError::try_from_code(*code).map_or_else(|| format!("error code {code}"), |e| format!("{e:?}"));
    Err(failed(format!("the offset commit failed: {name}")))
}
