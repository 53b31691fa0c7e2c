//! The group protocol end to end with a fake clock: joining (MEMBER_ID_REQUIRED, the initial
//! delay, protocol selection), completing rebalances with 2 and 20 members, sessions,
//! rebalance and sync timeouts, leaving, and request validation.

mod common;

use bytes::Bytes;
use common::*;
use runnel_coordinator::{CoordinatorConfig, GroupState, Record};

#[test]
fn two_members_reach_stable_with_one_generation() {
    let mut h = Harness::with_defaults();
    let (members, generation) = h.form_group("g", 2);
    assert_eq!(generation, 1);
    let group = h.coordinator.group("g").unwrap();
    assert_eq!(group.state(), GroupState::Stable);
    assert_eq!(group.leader_id(), Some(members[0].as_str()));
    for m in &members {
        assert_eq!(group.member(m).unwrap().assignment, Bytes::from(format!("assignment-{m}")));
    }
    // Exactly one GroupMetadata after the leader's sync, with both assignments.
    let Some(Record::GroupMetadata { value, .. }) = h.log.last() else { panic!("no GroupMetadata") };
    assert_eq!(value.generation, 1);
    assert_eq!(value.protocol.as_deref(), Some("range"));
    assert_eq!(value.members.len(), 2);
    assert!(value.members.iter().all(|m| m.assignment.starts_with(b"assignment-")));
    assert_eq!(state_of(&mut h, "g"), "Stable");
}

#[test]
fn twenty_members_joining_concurrently_get_one_generation_and_one_answer_each() {
    let config = CoordinatorConfig { initial_rebalance_delay_ms: 3_000, ..Harness::default_config() };
    let mut h = Harness::new(config);
    let mut ids = Vec::new();
    for i in 0..20 {
        let r = h.call(join("big", "").client(&format!("c{i}")).build());
        assert_eq!(as_join(&r).error_code, code(ResponseError::MemberIdRequired));
        ids.push(as_join(&r).member_id.to_string());
    }
    assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), 20, "ids are unique");
    // The rejoins arrive 100 ms apart; every new member extends the initial delay.
    let mut parked = Vec::new();
    for m in &ids {
        parked.push(h.park(join("big", m).build()));
        h.advance(100);
    }
    assert!(parked.iter().all(|id| h.answer(*id).is_none()), "nobody answered during the delay");
    // Arrivals until 1.9 s; the delay (3 s) is extended once, to 6 s. It is now 2 s.
    h.advance(3_999);
    assert!(parked.iter().all(|id| h.answer(*id).is_none()));
    h.advance(1);
    let joins: Vec<_> = parked.iter().map(|id| as_join(h.answer(*id).unwrap()).clone()).collect();
    let generation = joins[0].generation_id;
    let leader = joins[0].leader.to_string();
    assert_eq!(generation, 1);
    let with_members: Vec<_> = joins.iter().filter(|j| !j.members.is_empty()).collect();
    assert_eq!(with_members.len(), 1, "only the leader gets the member list");
    assert_eq!(with_members[0].member_id.as_str(), leader);
    assert_eq!(with_members[0].members.len(), 20);
    for j in &joins {
        assert_eq!((j.error_code, j.generation_id, j.leader.as_str()), (NONE, generation, leader.as_str()));
        assert_eq!(j.protocol_name.as_deref(), Some("range"));
        assert_eq!(j.protocol_type.as_deref(), Some("consumer"));
    }
    let followers: Vec<_> =
        ids.iter().filter(|m| **m != leader).map(|m| h.park(sync("big", m, generation).build())).collect();
    let assignments = ids.iter().map(|m| (m.clone(), Bytes::from(m.clone()))).collect();
    let r = h.call(sync("big", &leader, generation).assignments(assignments).build());
    assert_eq!(as_sync(&r).assignment, Bytes::from(leader.clone()));
    for (id, m) in followers.iter().zip(ids.iter().filter(|m| **m != leader)) {
        let r = as_sync(h.answer(*id).unwrap());
        assert_eq!((r.error_code, r.assignment.clone()), (NONE, Bytes::from(m.clone())));
        assert_eq!(r.protocol_name.as_deref(), Some("range"));
    }
    assert_eq!(h.coordinator.group("big").unwrap().state(), GroupState::Stable);
    assert!(h.held.is_empty());
}

#[test]
fn member_id_required_only_from_v4() {
    let mut h = Harness::with_defaults();
    let r = h.call(join("g", "").version(4).client("my-client").build());
    let r = as_join(&r);
    assert_eq!(r.error_code, code(ResponseError::MemberIdRequired));
    assert!(r.member_id.starts_with("my-client-"), "{}", r.member_id.as_str());
    assert_eq!(r.generation_id, -1);
    let pending = r.member_id.to_string();
    assert_eq!(
        h.coordinator.group("g").unwrap().pending_members().collect::<Vec<_>>(),
        vec![pending.as_str()]
    );
    // Before v4 the member is added at once and its JoinGroup parked.
    let id = h.park(join("g2", "").version(3).build());
    h.advance(0);
    let r = as_join(h.answer(id).unwrap());
    assert_eq!(r.error_code, NONE);
    assert_eq!(r.leader, r.member_id);
    assert_eq!(r.generation_id, 1);
}

#[test]
fn pending_member_expires_after_its_session_timeout() {
    let mut h = Harness::with_defaults();
    let r = h.call(join("g", "").session(6_000).build());
    let pending = as_join(&r).member_id.to_string();
    h.advance(5_999);
    assert!(h.coordinator.group("g").unwrap().is_pending_member(&pending));
    h.advance(1);
    assert!(!h.coordinator.group("g").unwrap().is_pending_member(&pending));
    let r = h.call(join("g", &pending).build());
    assert_eq!(as_join(&r).error_code, code(ResponseError::UnknownMemberId));
}

#[test]
fn session_expiry_removes_the_member_and_rebalances() {
    let mut h = Harness::with_defaults();
    let (m, generation) = h.form_group("g", 2);
    let (a, b) = (&m[0], &m[1]);
    for _ in 0..2 {
        h.advance(4_000);
        assert_eq!(as_heartbeat(&h.call(heartbeat("g", a, generation))).error_code, NONE);
    }
    assert!(h.coordinator.group("g").unwrap().has_member(b));
    // b never heartbeat: its 10 s session ran out.
    h.advance(2_000);
    let group = h.coordinator.group("g").unwrap();
    assert!(!group.has_member(b));
    assert_eq!(group.state(), GroupState::PreparingRebalance);
    let r = h.call(heartbeat("g", a, generation));
    assert_eq!(as_heartbeat(&r).error_code, code(ResponseError::RebalanceInProgress));
    let r = h.call(join("g", a).build());
    let r = as_join(&r);
    assert_eq!((r.error_code, r.generation_id, r.leader.as_str()), (NONE, generation + 1, a.as_str()));
    let r = h.call(heartbeat("g", b, generation));
    assert_eq!(as_heartbeat(&r).error_code, code(ResponseError::UnknownMemberId));
}

#[test]
fn rebalance_timeout_drops_members_that_do_not_rejoin() {
    let mut h = Harness::with_defaults();
    let (m, generation) = h.form_group("g", 2);
    let (leader, follower) = (&m[0], &m[1]);
    // The leader's rejoin forces a rebalance; the follower keeps heartbeating but never rejoins.
    let parked = h.park(join("g", leader).rebalance(20_000).build());
    for _ in 0..4 {
        h.advance(4_000);
        let r = h.call(heartbeat("g", follower, generation));
        assert_eq!(as_heartbeat(&r).error_code, code(ResponseError::RebalanceInProgress));
    }
    assert!(h.answer(parked).is_none());
    // The group's rebalance timeout is the largest member's: 30 s (the follower's).
    h.advance(14_000);
    let r = as_join(h.answer(parked).expect("join completed by the rebalance timeout"));
    assert_eq!((r.error_code, r.generation_id, r.members.len()), (NONE, generation + 1, 1));
    assert!(!h.coordinator.group("g").unwrap().has_member(follower));
    let r = h.call(heartbeat("g", follower, generation));
    assert_eq!(as_heartbeat(&r).error_code, code(ResponseError::UnknownMemberId));
}

#[test]
fn initial_delay_extends_while_members_arrive_up_to_the_rebalance_timeout() {
    let config = CoordinatorConfig { initial_rebalance_delay_ms: 3_000, ..Harness::default_config() };
    let mut h = Harness::new(config);
    let start = h.now_ms;
    let first = h.park(join("g", "").version(3).rebalance(10_000).build());
    let mut parked = vec![first];
    // A new member every 2 s keeps extending the delay; the timeout caps it at 10 s.
    for _ in 0..4 {
        h.advance(2_000);
        parked.push(h.park(join("g", "").version(3).rebalance(10_000).build()));
    }
    h.advance(1_999);
    assert_eq!(h.now_ms - start, 9_999);
    assert!(parked.iter().all(|id| h.answer(*id).is_none()));
    h.advance(1);
    assert!(parked.iter().all(|id| h.answer(*id).is_some()), "completes at the rebalance timeout");
    assert_eq!(h.coordinator.group("g").unwrap().num_members(), 5);
}

#[test]
fn initial_delay_without_new_members_completes_after_one_extension() {
    let config = CoordinatorConfig { initial_rebalance_delay_ms: 3_000, ..Harness::default_config() };
    let mut h = Harness::new(config);
    let start = h.now_ms;
    let a = h.park(join("g", "").version(3).rebalance(10_000).build());
    h.advance(2_000);
    let b = h.park(join("g", "").version(3).rebalance(10_000).build());
    // At 3 s a new member was seen: wait another 3 s; nobody new by 6 s: complete.
    h.advance(3_999);
    assert!(h.answer(a).is_none());
    h.advance(1);
    assert_eq!(h.now_ms - start, 6_000);
    assert!(h.answer(a).is_some() && h.answer(b).is_some());
}

#[test]
fn sync_timeout_removes_members_that_never_sync_and_fails_parked_syncs() {
    let mut h = Harness::with_defaults();
    let (m, generation) = h.form_group("g", 2);
    let (leader, follower) = (&m[0], &m[1]);
    let lj = h.park(join("g", leader).build());
    let fj = h.call(join("g", follower).build());
    assert_eq!(as_join(&fj).generation_id, generation + 1);
    assert_eq!(as_join(h.answer(lj).unwrap()).generation_id, generation + 1);
    let parked_sync = h.park(sync("g", follower, generation + 1).build());
    // The leader heartbeats but never sends its assignment: after the rebalance timeout (30 s)
    // it is removed. (Heartbeats are normal while CompletingRebalance.)
    for _ in 0..3 {
        h.advance(9_000);
        for member in [leader, follower] {
            assert_eq!(as_heartbeat(&h.call(heartbeat("g", member, generation + 1))).error_code, NONE);
        }
    }
    assert!(h.answer(parked_sync).is_none());
    h.advance(3_000);
    let r = as_sync(h.answer(parked_sync).unwrap());
    assert_eq!(r.error_code, code(ResponseError::RebalanceInProgress));
    let group = h.coordinator.group("g").unwrap();
    assert!(!group.has_member(leader));
    assert_eq!(group.state(), GroupState::PreparingRebalance);
}

#[test]
fn stable_follower_rejoin_with_same_metadata_gets_the_current_generation() {
    let mut h = Harness::with_defaults();
    let (m, generation) = h.form_group("g", 2);
    let r = h.call(join("g", &m[1]).build());
    let r = as_join(&r);
    assert_eq!((r.error_code, r.generation_id, r.leader.as_str()), (NONE, generation, m[0].as_str()));
    assert!(r.members.is_empty());
    assert_eq!(h.coordinator.group("g").unwrap().state(), GroupState::Stable);
    // New metadata forces a rebalance.
    let id = h.park(join("g", &m[1]).protocols(&[("range", subscription(&["t", "u"]))]).build());
    assert_eq!(h.coordinator.group("g").unwrap().state(), GroupState::PreparingRebalance);
    let r = h.call(join("g", &m[0]).build());
    assert_eq!(as_join(&r).generation_id, generation + 1);
    assert_eq!(as_join(&r).members.len(), 2, "the leader sees both members");
    assert_eq!(as_join(h.answer(id).unwrap()).generation_id, generation + 1);
}

#[test]
fn completing_rebalance_rejoin_with_same_metadata_resends_the_join_response() {
    let mut h = Harness::with_defaults();
    let (m, generation) = h.form_group("g", 2);
    let lj = h.park(join("g", &m[0]).build());
    h.call(join("g", &m[1]).build());
    assert!(h.answer(lj).is_some());
    assert_eq!(h.coordinator.group("g").unwrap().state(), GroupState::CompletingRebalance);
    let r = h.call(join("g", &m[0]).build());
    let r = as_join(&r);
    assert_eq!((r.generation_id, r.members.len()), (generation + 1, 2));
    assert_eq!(h.coordinator.group("g").unwrap().state(), GroupState::CompletingRebalance);
}

#[test]
fn protocol_is_chosen_by_vote_among_common_protocols() {
    let mut h = Harness::with_defaults();
    let rr = || subscription(&["t"]);
    let a = h.park(join("g", "").version(3).protocols(&[("range", rr()), ("roundrobin", rr())]).build());
    let b = h.park(join("g", "").version(3).protocols(&[("roundrobin", rr()), ("range", rr())]).build());
    let c = h.park(
        join("g", "")
            .version(3)
            .protocols(&[("roundrobin", rr()), ("range", rr()), ("sticky", rr())])
            .build(),
    );
    // A fourth member without a common protocol is refused.
    let r = h.call(join("g", "").version(3).protocols(&[("sticky", rr())]).build());
    assert_eq!(as_join(&r).error_code, code(ResponseError::InconsistentGroupProtocol));
    let r = h.call(join("g", "").version(3).protocol_type("connect").build());
    assert_eq!(as_join(&r).error_code, code(ResponseError::InconsistentGroupProtocol));
    h.advance(0);
    for id in [a, b, c] {
        assert_eq!(as_join(h.answer(id).unwrap()).protocol_name.as_deref(), Some("roundrobin"));
    }
}

#[test]
fn leaving_rebalances_and_the_last_leave_empties_the_group() {
    let mut h = Harness::with_defaults();
    let (m, generation) = h.form_group("g", 2);
    let r = h.call(leave("g", &[(&m[1], None)]));
    assert_eq!(as_leave(&r).members[0].error_code, NONE);
    assert_eq!(h.coordinator.group("g").unwrap().state(), GroupState::PreparingRebalance);
    let r = h.call(join("g", &m[0]).build());
    assert_eq!(as_join(&r).generation_id, generation + 1);
    let r = h.call(leave("g", &[(&m[0], None), ("nobody", None)]));
    let errors: Vec<i16> = as_leave(&r).members.iter().map(|m| m.error_code).collect();
    assert_eq!(errors, vec![NONE, code(ResponseError::UnknownMemberId)]);
    let group = h.coordinator.group("g").unwrap();
    assert_eq!(group.state(), GroupState::Empty);
    assert_eq!(group.generation_id(), generation + 2);
    let Some(Record::GroupMetadata { value, .. }) = h.log.last() else { panic!("no GroupMetadata") };
    assert_eq!((value.generation, value.members.len(), value.protocol.as_deref()), (generation + 2, 0, None));
    assert_eq!(value.protocol_type, "consumer");
}

#[test]
fn leave_group_before_v3_reports_the_member_error_at_top_level() {
    let mut h = Harness::with_defaults();
    let (m, _) = h.form_group("g", 2);
    for version in 0..=2 {
        let r = h.call(leave_v0("g", "nobody", version));
        assert_eq!(as_leave(&r).error_code, code(ResponseError::UnknownMemberId));
        assert!(as_leave(&r).members.is_empty());
    }
    let r = h.call(leave_v0("g", &m[1], 1));
    assert_eq!(as_leave(&r).error_code, NONE);
    let r = h.call(leave_v0("nogroup", "x", 2));
    assert_eq!(as_leave(&r).error_code, code(ResponseError::UnknownMemberId));
    let r = h.call(leave_v0("", "x", 2));
    assert_eq!(as_leave(&r).error_code, code(ResponseError::InvalidGroupId));
}

#[test]
fn join_validation_errors() {
    let config = CoordinatorConfig { group_max_size: 2, ..Harness::default_config() };
    let mut h = Harness::new(config);
    let r = h.call(join("", "").build());
    assert_eq!(as_join(&r).error_code, code(ResponseError::InvalidGroupId));
    let r = h.call(join("g", "").session(5_999).build());
    assert_eq!(as_join(&r).error_code, code(ResponseError::InvalidSessionTimeout));
    let r = h.call(join("g", "").session(1_800_001).build());
    assert_eq!(as_join(&r).error_code, code(ResponseError::InvalidSessionTimeout));
    assert!(h.coordinator.group("g").is_none(), "rejected before the group is created");
    let r = h.call(join("g", "someone").build());
    assert_eq!(as_join(&r).error_code, code(ResponseError::UnknownMemberId));
    assert!(h.coordinator.group("g").is_none());
    h.form_group("g", 2);
    let r = h.call(join("g", "").build());
    let r = as_join(&r);
    assert_eq!((r.error_code, r.member_id.as_str()), (code(ResponseError::GroupMaxSizeReached), ""));
    // v6 keeps a non-null protocol name on errors, v7 makes it null.
    let r = h.call(join("", "").version(6).build());
    assert_eq!(as_join(&r).protocol_name.as_deref(), Some(""));
    let r = h.call(join("", "").version(7).build());
    assert_eq!(as_join(&r).protocol_name, None);
}

#[test]
fn a_retried_join_answers_the_superseded_one() {
    let mut h = Harness::with_defaults();
    let (m, generation) = h.form_group("g", 2);
    let first = h.park(join("g", &m[0]).build());
    let second = h.park(join("g", &m[0]).build());
    let r = as_join(h.answer(first).unwrap());
    assert_eq!(r.error_code, code(ResponseError::RebalanceInProgress));
    h.call(join("g", &m[1]).build());
    assert_eq!(as_join(h.answer(second).unwrap()).generation_id, generation + 1);
}

#[test]
fn join_v0_uses_the_session_timeout_as_rebalance_timeout() {
    let mut h = Harness::with_defaults();
    let id = h.park(join("g", "").version(0).session(7_000).rebalance(99_999).build());
    h.advance(0);
    let leader = as_join(h.answer(id).unwrap()).member_id.to_string();
    h.call(sync("g", &leader, 1).version(0).protocol(None, None).build());
    let Some(Record::GroupMetadata { value, .. }) = h.log.last() else { panic!() };
    assert_eq!(value.members[0].rebalance_timeout_ms, 7_000);
}

#[test]
fn sync_validation_errors() {
    let mut h = Harness::with_defaults();
    let (m, generation) = h.form_group("g", 2);
    let cases = [
        (
            sync("g", &m[1], generation).protocol(None, Some("range")).build(),
            ResponseError::InconsistentGroupProtocol,
        ),
        (
            sync("g", &m[1], generation).protocol(Some("consumer"), Some("sticky")).build(),
            ResponseError::InconsistentGroupProtocol,
        ),
        (sync("g", &m[1], generation + 1).build(), ResponseError::IllegalGeneration),
        (sync("g", "nobody", generation).build(), ResponseError::UnknownMemberId),
        (sync("nogroup", &m[1], generation).build(), ResponseError::UnknownMemberId),
        (sync("", &m[1], generation).build(), ResponseError::InvalidGroupId),
        (sync("g", &m[1], generation).instance("not-static").build(), ResponseError::UnknownMemberId),
    ];
    for (request, error) in cases {
        assert_eq!(as_sync(&h.call(request)).error_code, code(error));
    }
    // Before v5 the protocol fields are optional.
    let r = h.call(sync("g", &m[1], generation).version(4).protocol(None, None).build());
    assert_eq!(as_sync(&r).error_code, NONE);
}

#[test]
fn heartbeat_validation_errors() {
    let mut h = Harness::with_defaults();
    let (m, generation) = h.form_group("g", 2);
    let cases = [
        (heartbeat("", &m[0], generation), ResponseError::InvalidGroupId),
        (heartbeat("nogroup", &m[0], generation), ResponseError::UnknownMemberId),
        (heartbeat("g", "nobody", generation), ResponseError::UnknownMemberId),
        (heartbeat("g", &m[0], generation - 1), ResponseError::IllegalGeneration),
    ];
    for (request, error) in cases {
        assert_eq!(as_heartbeat(&h.call(request)).error_code, code(error));
    }
}

#[test]
fn a_heartbeat_extends_the_session() {
    let mut h = Harness::with_defaults();
    let (m, generation) = h.form_group("g", 1);
    for _ in 0..10 {
        h.advance(9_000);
        assert_eq!(as_heartbeat(&h.call(heartbeat("g", &m[0], generation))).error_code, NONE);
    }
    h.advance(10_000);
    let group = h.coordinator.group("g").unwrap();
    assert_eq!(group.state(), GroupState::Empty, "the only member expired");
    assert_eq!(group.generation_id(), generation + 1);
}

#[test]
fn an_expired_member_parked_in_join_is_answered_unknown_member() {
    let mut h = Harness::with_defaults();
    let (m, _) = h.form_group("g", 2);
    // The follower rejoins with new metadata (so it is parked) while the leader goes silent.
    let parked = h.park(join("g", &m[1]).protocols(&[("range", subscription(&["x"]))]).build());
    // The leader's session (10 s) expires; the parked member is spared (it cannot heartbeat).
    h.advance(10_000);
    let r = as_join(h.answer(parked).expect("join completes once the leader is gone"));
    assert_eq!((r.error_code, r.leader.as_str()), (NONE, m[1].as_str()));
}

/// The broker must replay each decision before deciding the next; a decision replayed onto a
/// state it was not computed from is caught (debug builds compare every touched group).
#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "replay diverged from the decision")]
fn replaying_a_stale_decision_is_caught_in_debug_builds() {
    let mut h = Harness::with_defaults();
    let (m, generation) = h.form_group("g", 2);
    let now = h.now_ms;
    let heartbeat_decision =
        h.coordinator.handle(now, runnel_coordinator::RequestId(900), heartbeat("g", &m[0], generation));
    let leave_decision =
        h.coordinator.handle(now, runnel_coordinator::RequestId(901), leave("g", &[(&m[0], None)]));
    h.coordinator.replay_decision(&leave_decision);
    h.coordinator.replay_decision(&heartbeat_decision);
}
