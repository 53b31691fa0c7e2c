//! Every request in every state, checked against the table in the `state` module's docs
//! (Kafka's `ClassicGroupState` actions). Each cell starts from a fresh group in that state and
//! sends one request from a member of the current generation (or from outside the group).

mod common;

use common::*;
use runnel_coordinator::{GroupState, KnownTopics, Request, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Error(i16),
    Held,
}
use Outcome::*;

struct Fixture {
    h: Harness,
    follower: String,
    generation: i32,
}

fn fixture(state: GroupState) -> Fixture {
    let mut h = Harness::with_defaults();
    if state == GroupState::Dead {
        return Fixture { h, follower: "nobody".into(), generation: 0 };
    }
    // Three members, so that one rejoin does not complete a rebalance.
    let (m, generation) = h.form_group("g", 3);
    let (leader, follower, third) = (m[0].clone(), m[1].clone(), m[2].clone());
    let generation = match state {
        GroupState::Stable => generation,
        GroupState::PreparingRebalance => {
            h.park(join("g", &leader).build());
            generation
        }
        GroupState::CompletingRebalance => {
            h.park(join("g", &leader).build());
            h.park(join("g", &follower).build());
            h.call(join("g", &third).build());
            generation + 1
        }
        GroupState::Empty => {
            h.call(leave("g", &[(&leader, None), (&follower, None), (&third, None)]));
            generation + 1
        }
        GroupState::Dead => unreachable!(),
    };
    assert_eq!(h.coordinator.group("g").unwrap().state(), state);
    Fixture { h, follower, generation }
}

fn error_of(response: &Response) -> i16 {
    match response {
        Response::JoinGroup(r) => r.error_code,
        Response::SyncGroup(r) => r.error_code,
        Response::Heartbeat(r) => r.error_code,
        Response::LeaveGroup(r) => {
            if r.error_code != NONE {
                r.error_code
            } else {
                r.members[0].error_code
            }
        }
        Response::OffsetCommit(_) => commit_errors(response)[0],
        Response::OffsetFetch(r) => {
            let g = &r.groups[0];
            assert_eq!(g.topics[0].partitions[0].committed_offset, -1);
            g.error_code
        }
        Response::DescribeGroups(r) => r.groups[0].error_code,
        Response::ListGroups(r) => r.error_code,
        Response::DeleteGroups(r) => r.results[0].error_code,
        Response::OffsetDelete(r) => {
            if r.error_code != NONE {
                r.error_code
            } else {
                r.topics[0].partitions[0].error_code
            }
        }
    }
}

type Cell = (&'static str, fn(&Fixture) -> Request, [Outcome; 5]);

const U: Outcome = Error(25); // UNKNOWN_MEMBER_ID
const RIP: Outcome = Error(27); // REBALANCE_IN_PROGRESS
const OK: Outcome = Error(0);

/// Columns: Empty, PreparingRebalance, CompletingRebalance, Stable, Dead.
fn table() -> Vec<Cell> {
    vec![
        ("join, new dynamic member", |_| join("g", "").build(), [Error(79); 5]),
        ("join, known member, same metadata", |f| join("g", &f.follower).build(), [U, Held, OK, OK, U]),
        ("sync", |f| sync("g", &f.follower, f.generation).build(), [U, RIP, Held, OK, U]),
        ("heartbeat", |f| heartbeat("g", &f.follower, f.generation), [U, RIP, OK, OK, U]),
        ("leave", |f| leave("g", &[(&f.follower, None)]), [U, OK, OK, OK, U]),
        (
            "commit from a member",
            |f| commit("g", &f.follower, f.generation, &[("t", 0, 5, None)]).build(),
            [U, OK, RIP, OK, Error(69)],
        ),
        (
            "commit v8 from a member",
            |f| commit("g", &f.follower, f.generation, &[("t", 0, 5, None)]).version(8).build(),
            [U, OK, RIP, OK, Error(22)],
        ),
        (
            "commit from outside (generation -1)",
            |_| commit("g", "", -1, &[("t", 0, 5, None)]).build(),
            [OK, U, U, U, OK],
        ),
        ("fetch", |_| fetch("g", Some(&[("t", &[0])])), [OK; 5]),
        ("describe", |_| describe(&["g"], 5), [OK; 5]),
        ("describe v6", |_| describe(&["g"], 6), [OK, OK, OK, OK, Error(69)]),
        ("list", |_| list(&[], &[]), [OK; 5]),
        ("delete groups", |_| delete_groups(&["g"]), [OK, Error(68), Error(68), Error(68), Error(69)]),
        (
            "offset delete, unsubscribed topic",
            |_| offset_delete("g", &[("other", &[0])], KnownTopics::new().with("t", 10).with("other", 10)),
            [OK, OK, OK, OK, Error(69)],
        ),
        (
            "offset delete, subscribed topic",
            |_| offset_delete("g", &[("t", &[0])], KnownTopics::new().with("t", 10).with("other", 10)),
            [OK, Error(86), Error(86), Error(86), Error(69)],
        ),
    ]
}

#[test]
fn every_request_in_every_state() {
    let states = [
        GroupState::Empty,
        GroupState::PreparingRebalance,
        GroupState::CompletingRebalance,
        GroupState::Stable,
        GroupState::Dead,
    ];
    let mut mismatches = Vec::new();
    let mut cells = 0;
    for (name, request, expected) in table() {
        for (column, state) in states.iter().enumerate() {
            let mut f = fixture(*state);
            let (_, response) = f.h.send(request(&f));
            let outcome = match &response {
                None => Held,
                Some(r) => Error(error_of(r)),
            };
            cells += 1;
            if outcome != expected[column] {
                mismatches.push(format!("{name} in {state}: got {outcome:?}, want {:?}", expected[column]));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {cells} cells differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert_eq!(cells, 75);
}

#[test]
fn describe_reports_each_state_by_kafkas_name() {
    for (state, name) in [
        (GroupState::Empty, "Empty"),
        (GroupState::PreparingRebalance, "PreparingRebalance"),
        (GroupState::CompletingRebalance, "CompletingRebalance"),
        (GroupState::Stable, "Stable"),
        (GroupState::Dead, "Dead"),
    ] {
        let mut f = fixture(state);
        let r = f.h.call(describe(&["g"], 5));
        let d = &as_describe(&r).groups[0];
        assert_eq!(d.group_state.as_str(), name);
        let members = if matches!(state, GroupState::Empty | GroupState::Dead) { 0 } else { 3 };
        assert_eq!(d.members.len(), members, "{name}");
        let protocol_type = if state == GroupState::Dead { "" } else { "consumer" };
        assert_eq!(d.protocol_type.as_str(), protocol_type);
        // Only a Stable group shows its protocol and the members' metadata.
        let stable = state == GroupState::Stable;
        assert_eq!(d.protocol_data.as_str(), if stable { "range" } else { "" });
        for m in &d.members {
            assert_eq!(m.member_metadata.is_empty(), !stable);
            assert_eq!(m.client_host.as_str(), "/127.0.0.1");
            assert!(m.client_id.starts_with('c'));
        }
        let r = f.h.call(list(&[], &[]));
        let listed: Vec<(String, String, String)> = as_list(&r)
            .groups
            .iter()
            .map(|g| (g.group_id.to_string(), g.group_state.to_string(), g.group_type.to_string()))
            .collect();
        let expected = if state == GroupState::Dead {
            vec![]
        } else {
            vec![("g".to_owned(), name.to_owned(), "classic".to_owned())]
        };
        assert_eq!(listed, expected);
    }
}

#[test]
fn stable_describe_shows_metadata_and_assignments() {
    let mut f = fixture(GroupState::Stable);
    let r = f.h.call(describe(&["g", "absent"], 5));
    let groups = &as_describe(&r).groups;
    let members = &groups[0].members;
    assert!(members.iter().all(|m| m.member_metadata == subscription(&["t"])));
    assert!(members.iter().all(|m| m.member_assignment.starts_with(b"assignment-")));
    assert_eq!((groups[1].group_state.as_str(), groups[1].error_code), ("Dead", NONE));
}

#[test]
fn list_groups_filters_by_state_and_type() {
    let mut h = Harness::with_defaults();
    h.form_group("stable", 1);
    h.call(commit("simple", "", -1, &[("t", 0, 1, None)]).build());
    let names = |h: &mut Harness, states: &[&str], types: &[&str]| -> Vec<String> {
        let r = h.call(list(states, types));
        as_list(&r).groups.iter().map(|g| g.group_id.to_string()).collect()
    };
    assert_eq!(names(&mut h, &[], &[]), vec!["simple", "stable"]);
    assert_eq!(names(&mut h, &[" STABLE "], &[]), vec!["stable"]);
    assert_eq!(names(&mut h, &["empty"], &[]), vec!["simple"]);
    assert_eq!(names(&mut h, &["empty", "Stable"], &["Classic"]), vec!["simple", "stable"]);
    assert!(names(&mut h, &["bogus"], &[]).is_empty());
    assert!(names(&mut h, &[], &["consumer"]).is_empty());
    let r = h.call(list(&[], &[]));
    let simple = &as_list(&r).groups[0];
    assert_eq!((simple.protocol_type.as_str(), simple.group_state.as_str()), ("", "Empty"));
}
