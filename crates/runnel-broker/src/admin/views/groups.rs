//! `GET /api/groups`, `GET /api/groups/{group}` and `GET /api/groups/{group}/lag`: consumer
//! groups as the coordinator has them, their committed offsets with lag, and the sampled lag
//! history.

use runnel_coordinator::{consumer_assignment, ClassicGroup, GroupState, TopicPartitions};
use serde::Serialize;

use crate::admin::lag::{committed_offsets, lag_of, Committed, LagSample, PartitionLag, LAG_SAMPLE_INTERVAL_MS};
use crate::admin::reply::{json, not_found, Reply};
use crate::admin::routes::Call;
use crate::context::now_ms;

#[derive(Serialize)]
struct GroupSummary {
    group_id: String,
    state: &'static str,
    protocol_type: String,
    protocol: Option<String>,
    members: usize,
    lag_total: i64,
}

#[derive(Serialize)]
struct MemberView {
    member_id: String,
    group_instance_id: Option<String>,
    client_id: String,
    client_host: String,
    assignment: Vec<TopicPartitions>,
}

#[derive(Serialize)]
struct GroupView {
    group_id: String,
    state: &'static str,
    generation: i32,
    protocol_type: String,
    protocol: Option<String>,
    leader: Option<String>,
    members: Vec<MemberView>,
    offsets: Vec<PartitionLag>,
}

#[derive(Serialize)]
struct LagView {
    interval_ms: u64,
    samples: Vec<LagSample>,
}

fn protocol_type(group: &ClassicGroup) -> String {
    group.protocol_type().unwrap_or_default().to_string()
}

fn protocol(group: &ClassicGroup) -> Option<String> {
    group.protocol_name().map(str::to_string)
}

pub fn list(call: &Call) -> Reply {
    let ctx = &call.ctx;
    let groups: Vec<(GroupSummary, Vec<Committed>)> = ctx.groups.inspect(|coordinator| {
        coordinator
            .groups()
            .map(|group| {
                let summary = GroupSummary {
                    group_id: group.group_id().to_string(),
                    state: group.state().name(),
                    protocol_type: protocol_type(group),
                    protocol: protocol(group),
                    members: group.num_members(),
                    lag_total: 0,
                };
                (summary, committed_offsets(coordinator, ctx, group.group_id()))
            })
            .collect()
    });
    let now = now_ms();
    let mut groups: Vec<GroupSummary> = groups
        .into_iter()
        .map(|(mut summary, committed)| {
            summary.lag_total = lag_of(ctx, &committed, now, false).iter().map(|p| p.lag).sum();
            summary
        })
        .collect();
    groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    json(&groups)
}

pub fn get(call: &Call) -> Reply {
    let ctx = &call.ctx;
    let group_id = call.param("group");
    let found = ctx.groups.inspect(|coordinator| {
        let group = coordinator.group(group_id)?;
        let members = group
            .members()
            .map(|m| MemberView {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                // Another protocol type's assignor wrote bytes that are not a consumer assignment.
                assignment: consumer_assignment(&m.assignment).unwrap_or_default(),
            })
            .collect();
        let view = GroupView {
            group_id: group_id.to_string(),
            state: group.state().name(),
            generation: group.generation_id(),
            protocol_type: protocol_type(group),
            protocol: protocol(group),
            leader: group.leader_id().map(str::to_string),
            members,
            offsets: Vec::new(),
        };
        Some((view, committed_offsets(coordinator, ctx, group_id)))
    });
    let Some((mut view, committed)) = found else { return not_found(format!("group '{group_id}'")) };
    view.offsets = lag_of(ctx, &committed, now_ms(), true);
    json(&view)
}

pub fn lag(call: &Call) -> Reply {
    let group_id = call.param("group");
    let known = call.ctx.groups.inspect(|coordinator| coordinator.group(group_id).is_some_and(|g| g.state() != GroupState::Dead));
    if !known {
        return not_found(format!("group '{group_id}'"));
    }
    json(&LagView { interval_ms: LAG_SAMPLE_INTERVAL_MS, samples: call.state.lag.lock().samples(group_id) })
}
