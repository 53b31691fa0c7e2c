//! Static membership (group.instance.id): replacing a restarted member without a rebalance,
//! fencing the old member id, leaving by instance id, and static members surviving a
//! rebalance they sit out.

mod common;

use bytes::Bytes;
use common::*;
use runnel_coordinator::{GroupState, Record};

/// Two static members i1 (leader) and i2 joined, synced and Stable. Returns their ids.
fn static_group(h: &mut Harness) -> (String, String, i32) {
    let j1 = h.park(join("g", "").instance("i1").build());
    let j2 = h.park(join("g", "").instance("i2").build());
    h.advance(0);
    let r1 = as_join(h.answer(j1).unwrap()).clone();
    let r2 = as_join(h.answer(j2).unwrap()).clone();
    let (m1, m2) = (r1.member_id.to_string(), r2.member_id.to_string());
    assert!(m1.starts_with("i1-") && m2.starts_with("i2-"), "static ids start with the instance id");
    let leader = r1.leader.to_string();
    assert_eq!(leader, m1, "the first member to join leads");
    let generation = r1.generation_id;
    let follower_sync = h.park(sync("g", &m2, generation).instance("i2").build());
    let assignments = vec![(m1.clone(), Bytes::from_static(b"a1")), (m2.clone(), Bytes::from_static(b"a2"))];
    h.call(sync("g", &m1, generation).instance("i1").assignments(assignments).build());
    assert_eq!(as_sync(h.answer(follower_sync).unwrap()).assignment, Bytes::from_static(b"a2"));
    (m1, m2, generation)
}

#[test]
fn a_restarted_static_member_takes_over_without_a_rebalance() {
    let mut h = Harness::with_defaults();
    let (m1, m2, generation) = static_group(&mut h);
    let r = h.call(join("g", "").instance("i2").build());
    let r = as_join(&r);
    let new_m2 = r.member_id.to_string();
    assert_ne!(new_m2, m2);
    assert_eq!((r.error_code, r.generation_id, r.leader.as_str()), (NONE, generation, m1.as_str()));
    assert!(r.members.is_empty() && !r.skip_assignment);
    let group = h.coordinator.group("g").unwrap();
    assert_eq!(group.state(), GroupState::Stable);
    assert_eq!(group.static_member_id("i2"), Some(new_m2.as_str()));
    // The new id is persisted at once.
    let Some(Record::GroupMetadata { value, .. }) = h.log.last() else { panic!("no GroupMetadata") };
    assert!(value.members.iter().any(|m| m.member_id == new_m2));
    // The old id is fenced; the new one works and keeps the assignment.
    let r = h.call(heartbeat_as("g", &m2, Some("i2"), generation));
    assert_eq!(as_heartbeat(&r).error_code, code(ResponseError::FencedInstanceId));
    let r = h.call(heartbeat_as("g", &new_m2, Some("i2"), generation));
    assert_eq!(as_heartbeat(&r).error_code, NONE);
    let r = h.call(sync("g", &new_m2, generation).instance("i2").build());
    assert_eq!(as_sync(&r).assignment, Bytes::from_static(b"a2"));
    let r = h.call(commit("g", &m2, generation, &[("t", 0, 1, None)]).instance("i2").build());
    assert_eq!(commit_errors(&r), vec![code(ResponseError::FencedInstanceId)]);
}

#[test]
fn a_restarted_static_leader_may_skip_the_assignment_from_v9() {
    let mut h = Harness::with_defaults();
    let (m1, m2, generation) = static_group(&mut h);
    let r = h.call(join("g", "").instance("i1").build());
    let r = as_join(&r);
    let new_m1 = r.member_id.to_string();
    assert_eq!((r.leader.as_str(), r.skip_assignment), (new_m1.as_str(), true));
    assert_eq!(r.members.len(), 2);
    assert!(r
        .members
        .iter()
        .any(|m| m.member_id.as_str() == m2 && m.group_instance_id.as_deref() == Some("i2")));
    // Before v9 the restarted leader is told the previous leader id and acts as a follower.
    let r = h.call(join("g", "").instance("i1").version(8).build());
    let r = as_join(&r);
    assert_eq!((r.leader.as_str(), r.skip_assignment, r.members.len()), (new_m1.as_str(), false, 0));
    assert_eq!(r.generation_id, generation);
    let _ = m1;
}

#[test]
fn replacing_a_static_member_fences_its_parked_requests() {
    let mut h = Harness::with_defaults();
    let (m1, m2, generation) = static_group(&mut h);
    // i1's rejoin with new metadata starts a rebalance; i2's rejoin completes it.
    let j1 = h.park(join("g", &m1).instance("i1").protocols(&[("range", subscription(&["t", "u"]))]).build());
    let r = h.call(join("g", &m2).instance("i2").build());
    assert_eq!(as_join(&r).generation_id, generation + 1);
    assert_eq!(as_join(h.answer(j1).unwrap()).generation_id, generation + 1);
    assert_eq!(h.coordinator.group("g").unwrap().state(), GroupState::CompletingRebalance);
    // i2's SyncGroup is parked, then i2 restarts: the parked sync is fenced and the group
    // rebalances (the leader may already be assigning for the old id).
    let parked_sync = h.park(sync("g", &m2, generation + 1).instance("i2").build());
    let rejoin = h.park(join("g", "").instance("i2").build());
    let r = as_sync(h.answer(parked_sync).unwrap());
    assert_eq!(r.error_code, code(ResponseError::FencedInstanceId));
    assert_eq!(h.coordinator.group("g").unwrap().state(), GroupState::PreparingRebalance);
    // A second restart while the first rejoin is parked fences that one too.
    let again = h.park(join("g", "").instance("i2").build());
    let r = as_join(h.answer(rejoin).unwrap());
    assert_eq!(r.error_code, code(ResponseError::FencedInstanceId));
    // The fenced answer names the id being fenced: the first restart's.
    assert!(r.member_id.starts_with("i2-") && r.member_id.as_str() != m2);
    assert!(!h.coordinator.group("g").unwrap().has_member(r.member_id.as_str()));
    h.call(join("g", &m1).instance("i1").build());
    let r = as_join(h.answer(again).unwrap());
    assert_eq!((r.error_code, r.generation_id), (NONE, generation + 2));
}

#[test]
fn a_static_member_with_a_new_protocol_triggers_a_rebalance() {
    let mut h = Harness::with_defaults();
    let (_m1, _m2, _generation) = static_group(&mut h);
    let rr = subscription(&["t"]);
    // Both offer range: the vote stays range, so no rebalance even with a second protocol.
    let r = h.call(
        join("g", "").instance("i2").protocols(&[("roundrobin", rr.clone()), ("range", rr.clone())]).build(),
    );
    assert_eq!(as_join(&r).error_code, NONE);
    assert_eq!(h.coordinator.group("g").unwrap().state(), GroupState::Stable);
    // Now i1 prefers roundrobin too: the selected protocol would change, so rebalance.
    let id =
        h.park(join("g", "").instance("i1").protocols(&[("roundrobin", rr.clone()), ("range", rr)]).build());
    assert!(h.answer(id).is_none());
    assert_eq!(h.coordinator.group("g").unwrap().state(), GroupState::PreparingRebalance);
}

#[test]
fn leaving_by_instance_id_removes_the_static_member() {
    let mut h = Harness::with_defaults();
    let (m1, m2, _) = static_group(&mut h);
    let r = h.call(leave("g", &[("", Some("i2")), ("", Some("nobody")), ("", None)]));
    let errors: Vec<i16> = as_leave(&r).members.iter().map(|m| m.error_code).collect();
    assert_eq!(
        errors,
        vec![NONE, code(ResponseError::UnknownMemberId), code(ResponseError::UnknownMemberId)]
    );
    let group = h.coordinator.group("g").unwrap();
    assert!(!group.has_member(&m2));
    assert_eq!(group.static_member_id("i2"), None);
    assert_eq!(group.state(), GroupState::PreparingRebalance);
    // Leaving with a member id that does not match the instance is fenced.
    let r = h.call(leave("g", &[("wrong-id", Some("i1"))]));
    assert_eq!(as_leave(&r).members[0].error_code, code(ResponseError::FencedInstanceId));
    assert!(h.coordinator.group("g").unwrap().has_member(&m1));
}

#[test]
fn a_static_member_that_sits_out_a_rebalance_stays_in_the_group() {
    let mut h = Harness::with_defaults();
    let (m1, m2, generation) = static_group(&mut h);
    // i2 rejoins with new metadata; i1 keeps heartbeating but never rejoins.
    let j2 = h.park(join("g", &m2).instance("i2").protocols(&[("range", subscription(&["x"]))]).build());
    for _ in 0..3 {
        h.advance(9_000);
        let r = h.call(heartbeat_as("g", &m1, Some("i1"), generation));
        assert_eq!(as_heartbeat(&r).error_code, code(ResponseError::RebalanceInProgress));
    }
    h.advance(3_000);
    // At the rebalance timeout the join completes; the static i1 was not removed, and i2,
    // the only member that rejoined, leads.
    let r = as_join(h.answer(j2).unwrap());
    assert_eq!((r.error_code, r.leader.as_str(), r.members.len()), (NONE, m2.as_str(), 2));
    assert!(h.coordinator.group("g").unwrap().has_member(&m1));
}

/// After Kafka's `testRebalanceCompletesBeforeMemberJoins`: a static member that does not
/// rejoin is kept through the rebalance (its session restarts when the join completes), then
/// expires by session; nothing of the old generation disturbs the next one.
#[test]
fn a_static_member_that_never_rejoins_expires_by_session_only() {
    let config =
        runnel_coordinator::CoordinatorConfig { min_session_timeout_ms: 1_000, ..Harness::default_config() };
    let mut h = Harness::new(config);
    let first = h.park(join("g", "").instance("leader-instance-id").session(5_000).rebalance(10_000).build());
    h.advance(0);
    let first_id = as_join(h.answer(first).unwrap()).member_id.to_string();
    h.call(sync("g", &first_id, 1).instance("leader-instance-id").build());
    assert_eq!(h.coordinator.group("g").unwrap().state(), GroupState::Stable);
    // A new dynamic member (v3: no MEMBER_ID_REQUIRED) joins: rebalance.
    let second = h.park(join("g", "").version(3).session(2_500).rebalance(10_000).build());
    for _ in 0..2 {
        h.advance(2_500);
        let r = h.call(heartbeat_as("g", &first_id, Some("leader-instance-id"), 1));
        assert_eq!(as_heartbeat(&r).error_code, code(ResponseError::RebalanceInProgress));
    }
    // The rebalance timeout (10 s) and the first member's session end at the same instant; the
    // join timer was set first, so the join completes first and keeps the static member.
    h.advance(5_000);
    let r = as_join(h.answer(second).unwrap()).clone();
    assert_eq!((r.error_code, r.generation_id, r.members.len()), (NONE, 2, 2));
    let second_id = r.member_id.to_string();
    assert_eq!(r.leader.as_str(), second_id, "the member that rejoined leads");
    h.call(sync("g", &second_id, 2).build());
    assert_eq!(h.coordinator.group("g").unwrap().state(), GroupState::Stable);
    let r = h.call(heartbeat_as("g", &first_id, Some("leader-instance-id"), 1));
    assert_eq!(as_heartbeat(&r).error_code, code(ResponseError::IllegalGeneration));
    // The static member's session, restarted at the completion, ends 5 s later.
    for expected in [NONE, NONE, code(ResponseError::RebalanceInProgress)] {
        h.advance(2_000);
        assert_eq!(as_heartbeat(&h.call(heartbeat("g", &second_id, 2))).error_code, expected);
    }
    assert!(!h.coordinator.group("g").unwrap().has_member(&first_id));
    let r = h.call(join("g", &second_id).version(3).session(2_500).rebalance(10_000).build());
    assert_eq!((as_join(&r).error_code, as_join(&r).generation_id), (NONE, 3));
    h.call(sync("g", &second_id, 3).build());
    for _ in 0..20 {
        h.advance(2_000);
        assert_eq!(as_heartbeat(&h.call(heartbeat("g", &second_id, 3))).error_code, NONE);
    }
    assert_eq!(h.coordinator.group("g").unwrap().state(), GroupState::Stable);
}
