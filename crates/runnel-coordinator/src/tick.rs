//! What happens with the passage of time: loaded groups start their members' sessions, expired
//! sessions remove members, the join timer completes (or extends) the join phase, the sync
//! timer removes members that never sent SyncGroup, and the retention sweep expires offsets
//! and removes empty groups that have none left (Kafka's `cleanupGroupMetadata`).

use crate::decision::Emitter;
use crate::history::RebalanceReason;
use crate::rebalance::{
    activate_if_loaded, complete_join, prepare_rebalance, remove_member,
    remove_member_and_update_group, remove_pending_member_and_update_group, tombstone_group,
    try_complete_initial_rebalance_else_schedule,
};
use crate::record::{GroupEvent, Record};
use crate::state::GroupState;
use crate::timers::{JoinTimerKind, TimerKey};

pub(crate) fn run(em: &mut Emitter<'_>) {
    let now_ms = em.now_ms;
    for group_id in em.coordinator.groups_due(now_ms) {
        fire_group_timers(em, &group_id);
    }
    match em.retention_check_at_ms() {
        // The first sweep runs one interval after the coordinator starts, as in Kafka.
        None => {}
        Some(at_ms) if at_ms <= now_ms => expire_offsets(em),
        Some(_) => return,
    }
    let at_ms = now_ms.saturating_add(em.config().offsets_retention_check_interval_ms.max(1));
    em.emit(Record::RetentionCheckScheduled { at_ms });
}

/// Fires each timer that was due when the tick started, once, in deadline order; a timer
/// rescheduled to a deadline that is already due fires at the next tick.
fn fire_group_timers(em: &mut Emitter<'_>, group_id: &str) {
    activate_if_loaded(em, group_id);
    let now_ms = em.now_ms;
    let Some(group) = em.group(group_id) else { return };
    for key in group.timers.due(now_ms) {
        let Some(group) = em.group(group_id) else { return };
        if group.timers.deadline(&key).is_none_or(|d| d > now_ms) {
            continue;
        }
        match key {
            TimerKey::Heartbeat(member_id) => expire_session(em, group_id, &member_id),
            TimerKey::Join => {
                let Some(timer) = group.join_timer else { continue };
                // Armed only while PreparingRebalance (checked by `check_invariants`).
                if group.state() != GroupState::PreparingRebalance {
                    em.event(group_id, GroupEvent::JoinTimerSet { timer: None });
                    continue;
                }
                match timer.kind {
                    JoinTimerKind::InitialDelay { delay_ms, remaining_ms } => {
                        try_complete_initial_rebalance_else_schedule(em, group_id, delay_ms, remaining_ms)
                    }
                    JoinTimerKind::Rebalance => complete_join(em, group_id),
                }
            }
            TimerKey::Sync => expire_pending_sync(em, group_id),
        }
    }
}

/// Kafka's `expireClassicGroupMemberHeartbeat`.
fn expire_session(em: &mut Emitter<'_>, group_id: &str, member_id: &str) {
    em.event(group_id, GroupEvent::HeartbeatScheduled { member_id: member_id.to_owned(), deadline_ms: None });
    let Some(group) = em.group(group_id) else { return };
    if group.is_pending_member(member_id) {
        remove_pending_member_and_update_group(em, group_id, member_id);
    } else if group.member(member_id).is_some_and(|m| !m.has_satisfied_heartbeat()) {
        remove_member_and_update_group(em, group_id, member_id);
    }
}

/// Kafka's `expirePendingSync`: members that did not send SyncGroup within the rebalance
/// timeout are removed and the group rebalances.
fn expire_pending_sync(em: &mut Emitter<'_>, group_id: &str) {
    let Some(group) = em.group(group_id) else { return };
    let Some(timer) = group.sync_timer else { return };
    em.event(group_id, GroupEvent::SyncTimerSet { timer: None });
    let Some(group) = em.group(group_id) else { return };
    let syncing = matches!(group.state(), GroupState::CompletingRebalance | GroupState::Stable);
    if timer.generation_id != group.generation_id() || !syncing || group.pending_sync_members.is_empty() {
        return;
    }
    let pending: Vec<String> = group.pending_sync_members.iter().cloned().collect();
    for member_id in pending {
        let is_member = em.group(group_id).is_some_and(|g| g.has_member(&member_id));
        if is_member {
            remove_member(em, group_id, &member_id, RebalanceReason::RebalanceTimeout);
        } else {
            // A static member's replaced id (see `ClassicGroup::pending_sync_members`).
            em.event(group_id, GroupEvent::PendingSyncRemoved { member_id });
        }
    }
    prepare_rebalance(em, group_id, RebalanceReason::RebalanceTimeout);
}

/// Kafka's `cleanupGroupMetadata`: per group, expire the offsets whose retention has passed
/// (never those of topics the group is subscribed to); an Empty group left without offsets is
/// deleted.
fn expire_offsets(em: &mut Emitter<'_>) {
    let now_ms = em.now_ms;
    let retention_ms = em.config().offsets_retention_ms;
    for group_id in em.group_ids() {
        let Some(group) = em.group(&group_id) else { continue };
        let mut expired = Vec::new();
        let mut all_expired = true;
        if let Some(by_topic) = em.coordinator.offsets.group(&group_id) {
            for (topic, partitions) in by_topic {
                if group.is_subscribed_to_topic(topic) {
                    all_expired = false;
                    continue;
                }
                for (partition, value) in partitions {
                    // No condition (a non-empty group that is not a Stable consumer group with
                    // known subscriptions): nothing expires, not even explicit expirations.
                    let is_expired = match group.offset_retention_base_ms(value.commit_timestamp_ms) {
                        None => false,
                        // Written by OffsetCommit v2-4 with an explicit retention.
                        Some(_) if value.expire_timestamp_ms != -1 => now_ms >= value.expire_timestamp_ms,
                        Some(base_ms) => now_ms.saturating_sub(base_ms) >= retention_ms,
                    };
                    if is_expired {
                        expired.push((topic.clone(), *partition));
                    } else {
                        all_expired = false;
                    }
                }
            }
        }
        let delete_group = all_expired && group.state() == GroupState::Empty;
        for (topic, partition) in expired {
            em.emit(Record::OffsetTombstone { group_id: group_id.clone(), topic, partition });
        }
        if delete_group {
            tombstone_group(em, &group_id);
        }
    }
}
