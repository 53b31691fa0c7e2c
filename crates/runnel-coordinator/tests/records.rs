//! `__consumer_offsets` records: golden bytes hand-derived from Kafka's schemas
//! (GroupMetadataKey/Value, OffsetCommitKey/Value), decoding of every value version Kafka 4
//! reads, and load: a coordinator rebuilt from the persisted records equals the live one in
//! everything persisted, and loaded groups start their members' sessions as Kafka's `onLoaded`.

mod common;

use bytes::Bytes;
use common::*;
use runnel_coordinator::{
    decode, encode, CoordinatorConfig, CoordinatorError, GroupCoordinator, GroupMetadataValue, GroupState,
    KnownTopics, MemberMetadata, OffsetCommitValue, Record,
};

fn be64(v: i64) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn one_member_value() -> GroupMetadataValue {
    GroupMetadataValue {
        protocol_type: "consumer".into(),
        generation: 1,
        protocol: Some("range".into()),
        leader: Some("m1".into()),
        current_state_timestamp_ms: 5,
        members: vec![MemberMetadata {
            member_id: "m1".into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "/h".into(),
            rebalance_timeout_ms: 300,
            session_timeout_ms: 100,
            subscription: Bytes::from_static(&[0xaa]),
            assignment: Bytes::new(),
        }],
    }
}

#[test]
fn group_metadata_golden_bytes() {
    let record = Record::GroupMetadata { group_id: "g".into(), value: one_member_value() };
    let (key, value) = encode(&record).unwrap();
    // GroupMetadataKey v2: version, group.
    assert_eq!(key.unwrap(), [0x00, 0x02, 0x00, 0x01, b'g']);
    // GroupMetadataValue v3: protocolType, generation, protocol, leader,
    // currentStateTimestamp, members[memberId, groupInstanceId, clientId, clientHost,
    // rebalanceTimeout, sessionTimeout, subscription, assignment].
    let expected = cat(&[
        &[0x00, 0x03],
        &[0x00, 0x08],
        b"consumer",
        &[0x00, 0x00, 0x00, 0x01],
        &[0x00, 0x05],
        b"range",
        &[0x00, 0x02],
        b"m1",
        &be64(5),
        &[0x00, 0x00, 0x00, 0x01],
        &[0x00, 0x02],
        b"m1",
        &[0xff, 0xff],
        &[0x00, 0x01],
        b"c",
        &[0x00, 0x02],
        b"/h",
        &[0x00, 0x00, 0x01, 0x2c],
        &[0x00, 0x00, 0x00, 0x64],
        &[0x00, 0x00, 0x00, 0x01, 0xaa],
        &[0x00, 0x00, 0x00, 0x00],
    ]);
    assert_eq!(value.unwrap(), expected);
    // The empty record JoinGroup writes for a new group: "" type, no protocol, no leader.
    let empty = Record::GroupMetadata { group_id: "g".into(), value: GroupMetadataValue::empty(7) };
    let (_, value) = encode(&empty).unwrap();
    let expected = cat(&[
        &[0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff],
        &be64(7),
        &[0, 0, 0, 0],
    ]);
    assert_eq!(value.unwrap(), expected);
    // A deleted group is its key with a null value.
    let (key, value) = encode(&Record::GroupTombstone { group_id: "g".into() }).unwrap();
    assert_eq!((key.unwrap(), value), (vec![0x00, 0x02, 0x00, 0x01, b'g'], None));
}

#[test]
fn offset_commit_golden_bytes() {
    let value = OffsetCommitValue {
        offset: 42,
        leader_epoch: 5,
        metadata: "m".into(),
        commit_timestamp_ms: 1000,
        expire_timestamp_ms: -1,
    };
    let record =
        Record::OffsetCommit { group_id: "g".into(), topic: "t".into(), partition: 1, value: value.clone() };
    let (key, bytes) = encode(&record).unwrap();
    // OffsetCommitKey v1: version, group, topic, partition.
    let expected_key = vec![0x00, 0x01, 0x00, 0x01, b'g', 0x00, 0x01, b't', 0x00, 0x00, 0x00, 0x01];
    assert_eq!(key.as_ref().unwrap(), &expected_key);
    // OffsetCommitValue v3: offset, leaderEpoch, metadata, commitTimestamp.
    assert_eq!(
        bytes.unwrap(),
        cat(&[&[0x00, 0x03], &be64(42), &[0, 0, 0, 5], &[0x00, 0x01, b'm'], &be64(1000)])
    );
    // With an expire timestamp (OffsetCommit v2-4 retention) Kafka writes v1: offset,
    // metadata, commitTimestamp, expireTimestamp.
    let expiring = Record::OffsetCommit {
        group_id: "g".into(),
        topic: "t".into(),
        partition: 1,
        value: OffsetCommitValue {
            expire_timestamp_ms: 2000,
            metadata: String::new(),
            leader_epoch: -1,
            ..value
        },
    };
    let (_, bytes) = encode(&expiring).unwrap();
    assert_eq!(bytes.unwrap(), cat(&[&[0x00, 0x01], &be64(42), &[0x00, 0x00], &be64(1000), &be64(2000)]));
    let (key, bytes) =
        encode(&Record::OffsetTombstone { group_id: "g".into(), topic: "t".into(), partition: 1 }).unwrap();
    assert_eq!((key.unwrap(), bytes), (expected_key, None));
}

#[test]
fn every_value_version_kafka_reads_decodes() {
    let group_key = [0x00, 0x02, 0x00, 0x01, b'g'];
    // GroupMetadataValue v0: no timestamp, no rebalance timeout, no instance id.
    let v0 = cat(&[
        &[0x00, 0x00, 0x00, 0x08],
        b"consumer",
        &[0, 0, 0, 3, 0x00, 0x05],
        b"range",
        &[0x00, 0x02],
        b"m1",
        &[0, 0, 0, 1, 0x00, 0x02],
        b"m1",
        &[0x00, 0x01, b'c', 0x00, 0x02],
        b"/h",
        &[0, 0, 0, 100, 0, 0, 0, 1, 0xaa, 0, 0, 0, 0],
    ]);
    let Some(Record::GroupMetadata { value, .. }) = decode(&group_key, Some(&v0)).unwrap() else { panic!() };
    assert_eq!((value.generation, value.current_state_timestamp_ms), (3, -1));
    assert_eq!(value.members[0].rebalance_timeout_ms, -1);
    assert_eq!(value.members[0].session_timeout_ms, 100);
    // GroupMetadataValue v4 (flexible): compact strings, bytes and arrays, tagged fields.
    let v4 = cat(&[
        &[0x00, 0x04, 0x09],
        b"consumer",
        &[0, 0, 0, 1, 0x06],
        b"range",
        &[0x03],
        b"m1",
        &be64(5),
        &[0x02, 0x03],
        b"m1",
        &[0x00, 0x02, b'c', 0x03],
        b"/h",
        &[0, 0, 1, 0x2c, 0, 0, 0, 0x64, 0x02, 0xaa, 0x01, 0x00],
        &[0x01, 0x07, 0x02, 0xbe, 0xef], // one unknown tagged field
    ]);
    let decoded = decode(&group_key, Some(&v4)).unwrap();
    assert_eq!(decoded, Some(Record::GroupMetadata { group_id: "g".into(), value: one_member_value() }));

    let offset_key_v0 = [0x00, 0x00, 0x00, 0x01, b'g', 0x00, 0x01, b't', 0x00, 0x00, 0x00, 0x02];
    for version in [0u8, 2] {
        let bytes = cat(&[&[0x00, version], &be64(9), &[0x00, 0x01, b'x'], &be64(77)]);
        let Some(Record::OffsetCommit { partition, value, .. }) =
            decode(&offset_key_v0, Some(&bytes)).unwrap()
        else {
            panic!()
        };
        assert_eq!((partition, value.offset, value.leader_epoch, value.metadata.as_str()), (2, 9, -1, "x"));
        assert_eq!((value.commit_timestamp_ms, value.expire_timestamp_ms), (77, -1));
    }
    let v4 = cat(&[&[0x00, 0x04], &be64(9), &[0, 0, 0, 4, 0x02, b'x'], &be64(77), &[0x00]]);
    let Some(Record::OffsetCommit { value, .. }) = decode(&offset_key_v0, Some(&v4)).unwrap() else {
        panic!()
    };
    assert_eq!((value.leader_epoch, value.metadata.as_str()), (4, "x"));
    assert_eq!(
        decode(&offset_key_v0, None).unwrap(),
        Some(Record::OffsetTombstone { group_id: "g".into(), topic: "t".into(), partition: 2 })
    );
}

#[test]
fn unknown_record_types_are_skipped_and_bad_records_are_errors() {
    // Key version 3 is a consumer-group (KIP-848) record: not ours, skipped as Kafka skips
    // record types it does not know.
    assert_eq!(decode(&[0x00, 0x03, 0x00, 0x01, b'g'], Some(&[0x00, 0x00])), Ok(None));
    assert_eq!(decode(&[0x7f, 0xff], None), Ok(None));
    assert!(matches!(decode(&[0x00], None), Err(CoordinatorError::Truncated { .. })));
    assert!(matches!(decode(&[0x00, 0x02, 0x00, 0x05, b'g'], None), Err(CoordinatorError::Truncated { .. })));
    assert!(matches!(
        decode(&[0x00, 0x02, 0x00, 0x01, b'g'], Some(&[0x00, 0x05])),
        Err(CoordinatorError::UnsupportedValueVersion { version: 5, .. })
    ));
    assert!(matches!(
        decode(&[0x00, 0x02, 0x00, 0x01, 0xff], None),
        Err(CoordinatorError::InvalidUtf8 { .. })
    ));
    // A member count far beyond the bytes present fails without allocating for it.
    let hostile = cat(&[
        &[0x00, 0x03, 0x00, 0x00, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
        &be64(0),
        &[0x7f, 0xff, 0xff, 0xff],
    ]);
    assert!(decode(&[0x00, 0x02, 0x00, 0x01, b'g'], Some(&hostile)).is_err());
}

/// Builds groups in every persisted shape: Stable, emptied, simple, replaced static member,
/// deleted, with offsets committed, deleted and expired.
fn busy_harness() -> Harness {
    let mut h = Harness::with_defaults();
    h.form_group("stable", 3);
    let (m, generation) = h.form_group("emptied", 2);
    h.call(
        commit("emptied", &m[0], generation, &[("t", 0, 11, Some("meta")), ("t", 1, 12, None)])
            .leader_epoch(3)
            .build(),
    );
    h.call(leave("emptied", &[(&m[0], None), (&m[1], None)]));
    h.call(commit("simple", "", -1, &[("t", 0, 1, None), ("u", 0, 2, None), ("v", 0, 3, None)]).build());
    h.call(offset_delete("simple", &[("u", &[0])], KnownTopics::new().with("u", 1)));
    h.call(commit("gone", "", -1, &[("t", 0, 1, None)]).build());
    h.call(delete_groups(&["gone"]));
    let j = h.park(join("static", "").instance("i1").build());
    h.advance(0);
    let member = as_join(h.answer(j).unwrap()).member_id.to_string();
    h.call(
        sync("static", &member, 1)
            .instance("i1")
            .assignments(vec![(member.clone(), Bytes::from_static(b"s"))])
            .build(),
    );
    h.call(join("static", "").instance("i1").build());
    h
}

#[test]
fn a_coordinator_loaded_from_the_log_matches_the_live_one() {
    let h = busy_harness();
    let loaded = h.reloaded();
    let live: Vec<String> =
        h.coordinator.groups().map(|g| format!("{}: {}", g.group_id(), persisted_summary(g))).collect();
    let reloaded: Vec<String> =
        loaded.groups().map(|g| format!("{}: {}", g.group_id(), persisted_summary(g))).collect();
    assert_eq!(live, reloaded);
    assert_eq!(live.len(), 4, "stable, emptied, simple, static: {live:#?}");
    assert_eq!(loaded.num_offsets(), h.coordinator.num_offsets());
    for (group, topic, partition) in
        [("emptied", "t", 0), ("emptied", "t", 1), ("simple", "t", 0), ("simple", "v", 0)]
    {
        assert_eq!(
            loaded.committed_offset(group, topic, partition),
            h.coordinator.committed_offset(group, topic, partition)
        );
        assert!(loaded.committed_offset(group, topic, partition).is_some());
    }
    assert!(loaded.committed_offset("simple", "u", 0).is_none());
    assert!(loaded.group("gone").is_none() && loaded.committed_offset("gone", "t", 0).is_none());
    let emptied = loaded.group("emptied").unwrap();
    assert_eq!(emptied.state_timestamp_ms(), h.coordinator.group("emptied").unwrap().state_timestamp_ms());
}

#[test]
fn loaded_members_start_their_sessions_at_the_first_tick() {
    let h = busy_harness();
    let now_ms = h.now_ms;
    let loaded = h.reloaded();
    assert_eq!(loaded.next_deadline_ms(), Some(i64::MIN), "loaded groups need a tick");
    let stable = loaded.group("stable").unwrap();
    assert_eq!(stable.state(), GroupState::Stable);
    let members: Vec<String> = stable.members().map(|m| m.member_id.clone()).collect();
    let generation = stable.generation_id();
    let mut h = Harness::with_coordinator(loaded, now_ms);
    h.tick();
    let stable = h.coordinator.group("stable").unwrap();
    for m in &members {
        assert_eq!(stable.heartbeat_deadline_ms(m), Some(h.now_ms + 10_000));
    }
    // Members that heartbeat stay; the one that does not is removed after its session.
    h.advance(5_000);
    for m in &members[..2] {
        assert_eq!(as_heartbeat(&h.call(heartbeat("stable", m, generation))).error_code, NONE);
    }
    h.advance(5_000);
    let stable = h.coordinator.group("stable").unwrap();
    assert_eq!(stable.state(), GroupState::PreparingRebalance);
    assert!(!stable.has_member(&members[2]));
}

#[test]
fn a_loaded_group_over_the_size_limit_rebalances() {
    let h = busy_harness();
    let config = CoordinatorConfig { group_max_size: 2, ..h.coordinator.config().clone() };
    let mut loaded = GroupCoordinator::new(config);
    for record in &h.log {
        loaded.replay(record);
    }
    let decision = loaded.tick(h.now_ms);
    loaded.replay_decision(&decision);
    assert_eq!(loaded.group("stable").unwrap().state(), GroupState::PreparingRebalance);
    assert_eq!(loaded.group("static").unwrap().state(), GroupState::Stable);
}
