//! Every response the coordinator builds encodes (and decodes back) in the version the request
//! used, for every served version: kafka-protocol refuses fields a version cannot carry
//! (JoinGroup's skip_assignment before v9, LeaveGroup's member list before v3, OffsetFetch's
//! groups before v8), so version shaping mistakes show up here.

mod common;

use bytes::BytesMut;
use common::*;
use runnel_coordinator::{KnownTopics, Response, SERVED_VERSIONS};
use runnel_protocol::kafka_protocol::messages::{
    ApiKey, DeleteGroupsResponse, DescribeGroupsResponse, HeartbeatResponse, JoinGroupResponse,
    LeaveGroupResponse, ListGroupsResponse, OffsetCommitResponse, OffsetDeleteResponse, OffsetFetchResponse,
    SyncGroupResponse,
};
use runnel_protocol::kafka_protocol::protocol::{Decodable, Encodable};

fn round_trip<T: Encodable + Decodable>(message: &T, version: i16) -> T {
    let mut buf = BytesMut::new();
    message.encode(&mut buf, version).unwrap_or_else(|e| panic!("encode v{version}: {e}"));
    let mut bytes = buf.freeze();
    T::decode(&mut bytes, version).unwrap_or_else(|e| panic!("decode v{version}: {e}"))
}

/// Encodes and decodes `response` with `version`; returns its error codes after the trip.
fn wire(response: &Response, version: i16) -> Vec<i16> {
    match response {
        Response::JoinGroup(r) => vec![round_trip::<JoinGroupResponse>(r, version).error_code],
        Response::SyncGroup(r) => vec![round_trip::<SyncGroupResponse>(r, version).error_code],
        Response::Heartbeat(r) => vec![round_trip::<HeartbeatResponse>(r, version).error_code],
        Response::LeaveGroup(r) => {
            let r = round_trip::<LeaveGroupResponse>(r, version);
            std::iter::once(r.error_code).chain(r.members.iter().map(|m| m.error_code)).collect()
        }
        Response::OffsetCommit(r) => round_trip::<OffsetCommitResponse>(r, version)
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect(),
        Response::OffsetFetch(r) => {
            let r = round_trip::<OffsetFetchResponse>(r, version);
            std::iter::once(r.error_code).chain(r.groups.iter().map(|g| g.error_code)).collect()
        }
        Response::DescribeGroups(r) => {
            round_trip::<DescribeGroupsResponse>(r, version).groups.iter().map(|g| g.error_code).collect()
        }
        Response::ListGroups(r) => vec![round_trip::<ListGroupsResponse>(r, version).error_code],
        Response::DeleteGroups(r) => {
            round_trip::<DeleteGroupsResponse>(r, version).results.iter().map(|g| g.error_code).collect()
        }
        Response::OffsetDelete(r) => vec![round_trip::<OffsetDeleteResponse>(r, version).error_code],
    }
}

fn versions(key: ApiKey) -> std::ops::RangeInclusive<i16> {
    let (_, min, max) = SERVED_VERSIONS.iter().find(|(k, _, _)| *k == key).copied().unwrap();
    min..=max
}

#[test]
fn join_and_sync_responses_encode_in_every_version() {
    for version in versions(ApiKey::JoinGroup) {
        let mut h = Harness::with_defaults();
        let r = h.call(join("", "").version(version).build());
        assert_eq!(wire(&r, version), vec![code(ResponseError::InvalidGroupId)]);
        // Two members (static from v5, so no MEMBER_ID_REQUIRED) join and are answered by the
        // join completing; the leader's answer carries the members.
        let mut b1 = join("g", "").version(version.min(3));
        let mut b2 = join("g", "").version(version.min(3));
        if version >= 5 {
            b1 = join("g", "").version(version).instance("i1");
            b2 = join("g", "").version(version).instance("i2");
        }
        let a = h.park(b1.build());
        let b = h.park(b2.build());
        h.advance(0);
        for id in [a, b] {
            assert_eq!(wire(h.answer(id).unwrap(), version), vec![NONE], "JoinGroup v{version}");
        }
        if version >= 4 {
            let r = h.call(join("g", "").version(version).build());
            assert_eq!(wire(&r, version), vec![code(ResponseError::MemberIdRequired)]);
        }
        if version >= 5 {
            // A static restart in Stable is answered at once (skip_assignment from v9).
            let leader = as_join(h.answer(a).unwrap()).leader.to_string();
            let generation = as_join(h.answer(a).unwrap()).generation_id;
            h.call(sync("g", &leader, generation).instance("i1").build());
            let r = h.call(join("g", "").version(version).instance("i1").build());
            assert_eq!(wire(&r, version), vec![NONE]);
        }
    }
    for version in versions(ApiKey::SyncGroup) {
        let mut h = Harness::with_defaults();
        let a = h.park(join("g", "").version(3).build());
        let b = h.park(join("g", "").version(3).build());
        h.advance(0);
        let leader = as_join(h.answer(a).unwrap()).leader.to_string();
        let follower = [a, b]
            .iter()
            .map(|id| as_join(h.answer(*id).unwrap()).member_id.to_string())
            .find(|m| *m != leader)
            .unwrap();
        let parked = h.park(sync("g", &follower, 1).version(version).build());
        let r = h.call(sync("g", &leader, 1).version(version).build());
        assert_eq!(wire(&r, version), vec![NONE]);
        assert_eq!(wire(h.answer(parked).unwrap(), version), vec![NONE]);
        let r = h.call(sync("g", "nobody", 1).version(version).build());
        assert_eq!(wire(&r, version), vec![code(ResponseError::UnknownMemberId)]);
    }
}

#[test]
fn other_responses_encode_in_every_version() {
    let mut h = Harness::with_defaults();
    let (m, generation) = h.form_group("g", 2);
    for version in versions(ApiKey::Heartbeat) {
        let r = h.call(heartbeat("g", &m[0], generation));
        assert_eq!(wire(&r, version), vec![NONE]);
    }
    for version in versions(ApiKey::OffsetCommit) {
        let r = h.call(commit("g", &m[0], generation, &[("t", 0, 1, Some("x"))]).version(version).build());
        assert_eq!(wire(&r, version), vec![NONE]);
    }
    for version in versions(ApiKey::OffsetFetch) {
        let r = if version >= 8 {
            h.call(fetch("g", Some(&[("t", &[0, 1])])))
        } else {
            h.call(fetch_v("g", Some(&[("t", &[0, 1])]), version))
        };
        let expected = if version >= 8 { vec![NONE, NONE] } else { vec![NONE] };
        assert_eq!(wire(&r, version), expected, "OffsetFetch v{version}");
    }
    for version in versions(ApiKey::DescribeGroups) {
        let r = h.call(describe(&["g", "absent"], version));
        let absent = if version >= 6 { code(ResponseError::GroupIdNotFound) } else { NONE };
        assert_eq!(wire(&r, version), vec![NONE, absent]);
    }
    for version in versions(ApiKey::ListGroups) {
        let r = h.call(list(&[], &[]));
        assert_eq!(wire(&r, version), vec![NONE]);
    }
    for version in versions(ApiKey::OffsetDelete) {
        let r = h.call(offset_delete("g", &[("other", &[0])], KnownTopics::new().with("other", 1)));
        assert_eq!(wire(&r, version), vec![NONE]);
    }
    for version in versions(ApiKey::DeleteGroups) {
        let r = h.call(delete_groups(&["g", "absent"]));
        let expected = vec![code(ResponseError::NonEmptyGroup), code(ResponseError::GroupIdNotFound)];
        assert_eq!(wire(&r, version), expected);
    }
    for version in versions(ApiKey::LeaveGroup) {
        let mut h = Harness::with_defaults();
        let (m, _) = h.form_group("g", 2);
        let r = if version >= 3 {
            h.call(leave("g", &[(&m[1], None), ("nobody", None)]))
        } else {
            h.call(leave_v0("g", &m[1], version))
        };
        let expected =
            if version >= 3 { vec![NONE, NONE, code(ResponseError::UnknownMemberId)] } else { vec![NONE] };
        assert_eq!(wire(&r, version), expected, "LeaveGroup v{version}");
    }
}
