//! Offsets: commit and fetch round trips across versions, validation (metadata size, unknown
//! topics, generations), commits from outside the group, expiration by Kafka 4's rules,
//! OffsetDelete, DeleteGroups, and the answers to failed writes.

mod common;

use common::*;
use runnel_coordinator::{
    CoordinatorConfig, GroupState, KnownTopics, Record, Request, RequestKind, Response,
};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

#[test]
fn committed_offsets_and_metadata_round_trip() {
    let mut h = Harness::with_defaults();
    let (m, generation) = h.form_group("g", 1);
    let r = h.call(
        commit(
            "g",
            &m[0],
            generation,
            &[("t", 0, 42, Some("meta")), ("t", 3, 7, None), ("u", 1, 9, Some(""))],
        )
        .leader_epoch(5)
        .build(),
    );
    assert_eq!(commit_errors(&r), vec![NONE; 3]);
    let r = h.call(fetch("g", Some(&[("t", &[0, 1, 3]), ("u", &[1])])));
    assert_eq!(
        fetched(&r),
        vec![
            ("t".into(), 0, 42, "meta".into()),
            ("t".into(), 1, -1, "".into()),
            ("t".into(), 3, 7, "".into()),
            ("u".into(), 1, 9, "".into()),
        ]
    );
    let g = &as_fetch(&r).groups[0];
    assert_eq!(g.topics[0].partitions[0].committed_leader_epoch, 5);
    assert_eq!(g.topics[0].partitions[1].committed_leader_epoch, -1);
    // All topics.
    let r = h.call(fetch("g", None));
    assert_eq!(fetched(&r).len(), 3);
    // The record is Kafka's v3 value with the commit time.
    let Some(Record::OffsetCommit { value, .. }) =
        h.log.iter().rev().find(|r| matches!(r, Record::OffsetCommit { .. }))
    else {
        panic!()
    };
    assert_eq!((value.commit_timestamp_ms, value.expire_timestamp_ms, value.leader_epoch), (h.now_ms, -1, 5));
}

#[test]
fn offset_fetch_versions_shape_the_answer() {
    let mut h = Harness::with_defaults();
    h.call(commit("g", "", -1, &[("t", 0, 3, Some("x"))]).build());
    for version in 1..=7 {
        let r = h.call(fetch_v("g", Some(&[("t", &[0, 1])]), version));
        let r = as_fetch(&r);
        assert!(r.groups.is_empty());
        assert_eq!(r.error_code, NONE);
        let offsets: Vec<i64> = r.topics[0].partitions.iter().map(|p| p.committed_offset).collect();
        assert_eq!(offsets, vec![3, -1], "v{version}");
        assert_eq!(r.topics[0].partitions[0].metadata.as_deref(), Some("x"));
    }
    let r = h.call(fetch_v("g", None, 2));
    assert_eq!(as_fetch(&r).topics[0].partitions.len(), 1);
    // Several groups in one v8 request, one of them unknown.
    let mut request = match fetch("g", Some(&[("t", &[0])])) {
        Request::OffsetFetch { request, .. } => request,
        _ => unreachable!(),
    };
    let mut other = request.groups[0].clone();
    other.group_id = runnel_protocol::kafka_protocol::messages::GroupId(s("unknown"));
    request.groups.push(other);
    let r = h.call(Request::OffsetFetch { request, api_version: 9 });
    let groups = &as_fetch(&r).groups;
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].topics[0].partitions[0].committed_offset, 3);
    assert_eq!(groups[1].topics[0].partitions[0].committed_offset, -1);
    assert_eq!(groups[1].error_code, NONE);
    let r = h.call(fetch("unknown", None));
    assert!(as_fetch(&r).groups[0].topics.is_empty());
}

#[test]
fn metadata_longer_than_the_limit_is_refused_counting_utf16_units() {
    let config = CoordinatorConfig { offset_metadata_max_bytes: 4, ..Harness::default_config() };
    let mut h = Harness::new(config);
    // "\u{1F600}\u{1F600}" is 8 bytes of UTF-8 but 4 UTF-16 units: accepted, as in Kafka.
    let r = h.call(
        commit(
            "g",
            "",
            -1,
            &[("t", 0, 1, Some("abcd")), ("t", 1, 1, Some("abcde")), ("t", 2, 1, Some("\u{1F600}\u{1F600}"))],
        )
        .build(),
    );
    assert_eq!(commit_errors(&r), vec![NONE, code(ResponseError::OffsetMetadataTooLarge), NONE]);
    let r = h.call(fetch("g", Some(&[("t", &[1])])));
    assert_eq!(fetched(&r)[0].2, -1);
}

#[test]
fn unknown_topics_and_partitions_are_refused_per_partition() {
    let mut h = Harness::with_defaults();
    let known = KnownTopics::new().with("t", 2);
    let r = h.call(
        commit("g", "", -1, &[("t", 0, 1, None), ("t", 2, 1, None), ("nope", 0, 1, None)])
            .known(known.clone())
            .build(),
    );
    let unknown = code(ResponseError::UnknownTopicOrPartition);
    assert_eq!(commit_errors(&r), vec![NONE, unknown, unknown]);
    // Nothing known: Kafka never reaches the coordinator, so no group is created.
    let r = h.call(commit("other", "", -1, &[("nope", 0, 1, None)]).known(known.clone()).build());
    assert_eq!(commit_errors(&r), vec![unknown]);
    assert!(h.coordinator.group("other").is_none());
    // Group errors apply to the known partitions only.
    let r = h.call(commit("ghost", "m", 3, &[("t", 0, 1, None), ("nope", 0, 1, None)]).known(known).build());
    assert_eq!(commit_errors(&r), vec![code(ResponseError::GroupIdNotFound), unknown]);
}

#[test]
fn commits_from_outside_create_a_simple_group_and_need_an_empty_group() {
    let mut h = Harness::with_defaults();
    let r = h.call(commit("simple", "", -1, &[("t", 0, 10, None)]).build());
    assert_eq!(commit_errors(&r), vec![NONE]);
    let group = h.coordinator.group("simple").unwrap();
    assert!(group.is_simple());
    assert_eq!(group.protocol_type(), None);
    // kafka-consumer-groups --reset-offsets against an active group is refused...
    let (m, generation) = h.form_group("active", 1);
    let r = h.call(commit("active", "", -1, &[("t", 0, 1, None)]).build());
    assert_eq!(commit_errors(&r), vec![code(ResponseError::UnknownMemberId)]);
    // ...and accepted once the group is empty.
    h.call(leave("active", &[(&m[0], None)]));
    assert_eq!(h.coordinator.group("active").unwrap().state(), GroupState::Empty);
    let r = h.call(commit("active", "", -1, &[("t", 0, 1, None)]).build());
    assert_eq!(commit_errors(&r), vec![NONE]);
    // A member of an old generation is refused.
    let r = h.call(commit("active", &m[0], generation, &[("t", 0, 1, None)]).build());
    assert_eq!(commit_errors(&r), vec![code(ResponseError::UnknownMemberId)]);
    // A consumer joining the simple group makes it a real group.
    let id = h.park(join("simple", "").version(3).build());
    h.advance(0);
    assert_eq!(as_join(h.answer(id).unwrap()).error_code, NONE);
    assert_eq!(h.coordinator.group("simple").unwrap().protocol_type(), Some("consumer"));
}

#[test]
fn member_commits_check_the_generation_and_extend_the_session() {
    let mut h = Harness::with_defaults();
    let (m, generation) = h.form_group("g", 1);
    let r = h.call(commit("g", &m[0], generation + 1, &[("t", 0, 1, None)]).build());
    assert_eq!(commit_errors(&r), vec![code(ResponseError::IllegalGeneration)]);
    let r = h.call(commit("g", "stranger", generation, &[("t", 0, 1, None)]).build());
    assert_eq!(commit_errors(&r), vec![code(ResponseError::UnknownMemberId)]);
    // Committing keeps the member alive without heartbeats.
    for _ in 0..5 {
        h.advance(9_000);
        let r = h.call(commit("g", &m[0], generation, &[("t", 0, 1, None)]).build());
        assert_eq!(commit_errors(&r), vec![NONE]);
    }
    assert_eq!(h.coordinator.group("g").unwrap().state(), GroupState::Stable);
}

#[test]
fn empty_group_offsets_expire_a_retention_after_the_group_emptied() {
    const HOUR_MS: i64 = 60 * 60 * 1000;
    let config = CoordinatorConfig { offsets_retention_ms: HOUR_MS, ..Harness::default_config() };
    let mut h = Harness::new(config);
    let (m, generation) = h.form_group("g", 1);
    let committed_at = h.now_ms;
    h.call(commit("g", &m[0], generation, &[("t", 0, 5, None)]).build());
    // The commit ages while the group is active (40 minutes of heartbeats): nothing expires.
    for _ in 0..(40 * 60 / 9) {
        h.advance(9_000);
        h.call(heartbeat("g", &m[0], generation));
    }
    h.call(leave("g", &[(&m[0], None)]));
    let emptied_at = h.now_ms;
    // Retention is measured from when the group became Empty, not from the commit.
    h.advance(committed_at + HOUR_MS + 600_000 - h.now_ms);
    assert_eq!(h.coordinator.committed_offset("g", "t", 0).map(|v| v.offset), Some(5));
    // The sweep runs every 10 minutes; the first one after emptied_at + retention removes the
    // offset and then the group.
    h.advance(emptied_at + HOUR_MS + 600_000 - h.now_ms);
    assert!(h.coordinator.committed_offset("g", "t", 0).is_none());
    assert!(h.coordinator.group("g").is_none(), "an empty group without offsets is deleted");
    assert!(h.log.iter().any(|r| matches!(r, Record::GroupTombstone { group_id } if group_id == "g")));
}

#[test]
fn simple_group_offsets_expire_by_commit_time() {
    let config = CoordinatorConfig { offsets_retention_ms: DAY_MS, ..Harness::default_config() };
    let mut h = Harness::new(config);
    h.call(commit("s", "", -1, &[("t", 0, 1, None)]).build());
    h.advance(DAY_MS / 2);
    h.call(commit("s", "", -1, &[("t", 1, 1, None)]).build());
    h.advance(DAY_MS / 2 + 600_000);
    assert!(h.coordinator.committed_offset("s", "t", 0).is_none());
    assert!(h.coordinator.committed_offset("s", "t", 1).is_some());
    assert!(h.coordinator.group("s").is_some(), "a group with offsets stays");
    h.advance(DAY_MS / 2);
    assert!(h.coordinator.group("s").is_none());
}

#[test]
fn stable_consumer_groups_expire_only_unsubscribed_topics() {
    let config = CoordinatorConfig { offsets_retention_ms: DAY_MS, ..Harness::default_config() };
    let mut h = Harness::new(config);
    let (m, generation) = h.form_group("g", 1); // subscribed to "t"
    h.call(commit("g", &m[0], generation, &[("t", 0, 1, None), ("old", 0, 1, None)]).build());
    for _ in 0..((DAY_MS + 1_200_000) / 9_000) {
        h.advance(9_000);
        h.call(heartbeat("g", &m[0], generation));
    }
    assert!(h.coordinator.committed_offset("g", "t", 0).is_some());
    assert!(h.coordinator.committed_offset("g", "old", 0).is_none());
}

#[test]
fn an_explicit_retention_from_v2_to_v4_sets_the_expire_timestamp() {
    let mut h = Harness::with_defaults();
    let r = h.call(commit("s", "", -1, &[("t", 0, 1, None)]).version(2).retention(60_000).build());
    assert_eq!(commit_errors(&r), vec![NONE]);
    let value = h.coordinator.committed_offset("s", "t", 0).unwrap();
    assert_eq!(value.expire_timestamp_ms, h.now_ms + 60_000);
    assert_eq!(value.leader_epoch, -1);
    // The next sweep after the expire timestamp removes it (default retention is 7 days).
    h.advance(600_000);
    assert!(h.coordinator.committed_offset("s", "t", 0).is_none());
}

#[test]
fn offset_delete_follows_the_group_and_subscriptions() {
    let mut h = Harness::with_defaults();
    let known = || KnownTopics::new().with("t", 10).with("other", 10);
    let (m, generation) = h.form_group("g", 1);
    h.call(commit("g", &m[0], generation, &[("t", 0, 1, None), ("other", 0, 1, None)]).build());
    // A Stable consumer group: subscribed topics are protected, others can go.
    let r = h.call(offset_delete("g", &[("t", &[0]), ("other", &[0, 1]), ("nope", &[0])], known()));
    let r = as_offset_delete(&r);
    assert_eq!(r.error_code, NONE);
    let errors: Vec<Vec<i16>> =
        r.topics.iter().map(|t| t.partitions.iter().map(|p| p.error_code).collect()).collect();
    assert_eq!(
        errors,
        vec![
            vec![code(ResponseError::GroupSubscribedToTopic)],
            vec![NONE, NONE],
            vec![code(ResponseError::UnknownTopicOrPartition)]
        ]
    );
    assert!(h.coordinator.committed_offset("g", "other", 0).is_none());
    assert!(h.coordinator.committed_offset("g", "t", 0).is_some());
    // A non-consumer group that is not Empty is refused as a whole.
    let id = h.park(join("c", "").version(3).protocol_type("connect").build());
    h.advance(0);
    assert!(h.answer(id).is_some());
    let r = h.call(offset_delete("c", &[("t", &[0])], known()));
    assert_eq!(as_offset_delete(&r).error_code, code(ResponseError::NonEmptyGroup));
    assert!(as_offset_delete(&r).topics.is_empty());
    let r = h.call(offset_delete("ghost", &[("t", &[0])], known()));
    assert_eq!(as_offset_delete(&r).error_code, code(ResponseError::GroupIdNotFound));
    let r = h.call(offset_delete("", &[], known()));
    assert_eq!(as_offset_delete(&r).error_code, code(ResponseError::InvalidGroupId));
}

#[test]
fn delete_groups_removes_empty_groups_with_their_offsets() {
    let mut h = Harness::with_defaults();
    h.call(commit("a", "", -1, &[("t", 0, 1, None), ("u", 2, 3, None)]).build());
    h.form_group("busy", 1);
    let r = h.call(delete_groups(&["a", "busy", "ghost", "a"]));
    let results: Vec<(String, i16)> =
        as_delete_groups(&r).results.iter().map(|r| (r.group_id.to_string(), r.error_code)).collect();
    assert_eq!(
        results,
        vec![
            ("a".into(), NONE),
            ("busy".into(), code(ResponseError::NonEmptyGroup)),
            ("ghost".into(), code(ResponseError::GroupIdNotFound)),
        ]
    );
    assert!(h.coordinator.group("a").is_none());
    assert!(h.coordinator.committed_offset("a", "u", 2).is_none());
    let tombstones = h
        .log
        .iter()
        .filter(|r| matches!(r, Record::OffsetTombstone { group_id, .. } if group_id == "a"))
        .count();
    assert_eq!(tombstones, 2);
    assert!(matches!(h.log.last(), Some(Record::GroupTombstone { group_id }) if group_id == "a"));
    assert_eq!(state_of(&mut h, "a"), "Dead");
}

#[test]
fn failed_writes_are_answered_with_kafkas_coordinator_errors() {
    let h = Harness::with_defaults();
    let c = &h.coordinator;
    let commit_request = commit("g", "", -1, &[("t", 0, 1, None), ("nope", 0, 1, None)])
        .known(KnownTopics::new().with("t", 1))
        .build();
    let kind = commit_request.kind();
    let storage_error = ResponseError::KafkaStorageError.code();
    let r = c.failed_write(runnel_coordinator::RequestId(999), &kind, storage_error);
    assert_eq!(
        commit_errors(&r),
        vec![code(ResponseError::NotCoordinator), code(ResponseError::UnknownTopicOrPartition)]
    );
    let timed_out = ResponseError::RequestTimedOut.code();
    let r = c.failed_write(
        runnel_coordinator::RequestId(999),
        &RequestKind::JoinGroup { api_version: 9 },
        timed_out,
    );
    assert_eq!(as_join(&r).error_code, code(ResponseError::CoordinatorNotAvailable));
    let r = c.failed_write(
        runnel_coordinator::RequestId(999),
        &RequestKind::SyncGroup,
        ResponseError::MessageTooLarge.code(),
    );
    assert_eq!(as_sync(&r).error_code, code(ResponseError::UnknownServerError));
    let r = c.failed_write(
        runnel_coordinator::RequestId(999),
        &delete_groups(&["x", "y", "x"]).kind(),
        storage_error,
    );
    assert_eq!(as_delete_groups(&r).results.len(), 2);
    assert!(
        matches!(c.failed_write(runnel_coordinator::RequestId(999), &RequestKind::LeaveGroup, storage_error), Response::LeaveGroup(l) if l.error_code == code(ResponseError::NotCoordinator))
    );
}

#[test]
fn a_failed_write_changes_nothing_and_keeps_held_requests_held() {
    let mut h = Harness::with_defaults();
    let (m, generation) = h.form_group("g", 2);
    let lj = h.park(join("g", &m[0]).build());
    h.call(join("g", &m[1]).build());
    let g2 = as_join(h.answer(lj).unwrap()).generation_id;
    assert_eq!(g2, generation + 1);
    let parked = h.park(sync("g", &m[1], g2).build());
    // The leader's sync decision writes GroupMetadata; the write fails: nothing is replayed.
    let leader_sync = sync("g", &m[0], g2).assignments(vec![]).build();
    let kind = leader_sync.kind();
    let before = h.coordinator.group("g").cloned();
    let decision = h.coordinator.handle(h.now_ms, runnel_coordinator::RequestId(10_000), leader_sync);
    assert!(decision.needs_write());
    let r = h.coordinator.failed_write(
        runnel_coordinator::RequestId(10_000),
        &kind,
        ResponseError::NotLeaderOrFollower.code(),
    );
    assert_eq!(as_sync(&r).error_code, code(ResponseError::NotCoordinator));
    assert_eq!(h.coordinator.group("g").cloned(), before);
    assert!(h.coordinator.holds(parked));
    // The leader retries and succeeds.
    let r = h.call(sync("g", &m[0], g2).assignments(vec![]).build());
    assert_eq!(as_sync(&r).error_code, NONE);
    assert_eq!(as_sync(h.answer(parked).unwrap()).error_code, NONE);
}
