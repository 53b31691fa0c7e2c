//! Rebalance history: one entry per completed generation with the reason its rebalance started
//! (one scenario per reason), who joined and left, the partitions that moved, the bound on
//! kept generations, deletion with the group, and the same history after a restart or
//! compaction. Fake clock throughout.

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use runnel_coordinator::{
    decode, encode, CoordinatorConfig, GenerationHistory, GroupState, PartitionMove, RebalanceReason, Record, Request, RequestId,
    HISTORY_GENERATIONS_MAX, MOVES_PER_GENERATION_MAX,
};
use runnel_protocol::kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
use runnel_protocol::kafka_protocol::messages::{ConsumerProtocolAssignment, TopicName};
use runnel_protocol::kafka_protocol::protocol::Encodable;

const DELAY_MS: i32 = 3_000;
const SESSION_MS: i32 = 10_000;

fn config() -> CoordinatorConfig {
    CoordinatorConfig { initial_rebalance_delay_ms: DELAY_MS, ..CoordinatorConfig::default() }
}

/// A ConsumerProtocolAssignment v0 of topic "t" partitions.
fn assigned(partitions: &[i32]) -> Bytes {
    let mut a = ConsumerProtocolAssignment::default();
    if !partitions.is_empty() {
        let mut tp = TopicPartition::default();
        tp.topic = TopicName(s("t"));
        tp.partitions = partitions.to_vec();
        a.assigned_partitions.push(tp);
    }
    let mut out = BytesMut::new();
    out.extend_from_slice(&0i16.to_be_bytes());
    a.encode(&mut out, 0).expect("encodes");
    out.freeze()
}

/// A small consumer group driven like real clients: members join with MEMBER_ID_REQUIRED,
/// everyone rejoins when a rebalance starts, the leader assigns partitions of "t" round-robin
/// over the members in id order.
struct Group {
    h: Harness,
    /// Member id -> (client id, instance id).
    members: Vec<(String, String, Option<String>)>,
    generation: i32,
    partitions: i32,
    protocol_type: &'static str,
}

impl Group {
    fn new(partitions: i32) -> Self {
        Self { h: Harness::new(config()), members: Vec::new(), generation: 0, partitions, protocol_type: "consumer" }
    }

    fn join_request(&self, member_id: &str, client: &str, instance: Option<&str>) -> Request {
        let mut b = join("g", member_id).client(client).session(SESSION_MS).protocol_type(self.protocol_type);
        if let Some(i) = instance {
            b = b.instance(i);
        }
        b.build()
    }

    /// A new dynamic member joins; the rebalance runs to Stable.
    fn add(&mut self, client: &str) -> String {
        let r = self.h.call(self.join_request("", client, None));
        let id = as_join(&r).member_id.to_string();
        self.members.push((id.clone(), client.to_owned(), None));
        self.rebalance(Some(&id));
        id
    }

    /// A new static member joins; everyone rejoins and the rebalance runs to Stable.
    fn add_static(&mut self, client: &str, instance: &str) -> String {
        let (held, _) = self.h.send(self.join_request("", client, Some(instance)));
        let member_id = self.h.coordinator.group("g").unwrap().static_member_id(instance).unwrap().to_owned();
        let mut parked = vec![(member_id.clone(), held)];
        for (id, client, instance) in self.members.clone() {
            parked.push((id.clone(), self.h.send(self.join_request(&id, &client, instance.as_deref())).0));
        }
        self.members.push((member_id.clone(), client.to_owned(), Some(instance.to_owned())));
        self.finish_rebalance(parked);
        member_id
    }

    /// Every member (re)joins (`new` first joins with its fresh id), the join phase completes
    /// and the leader syncs.
    fn rebalance(&mut self, new: Option<&str>) {
        let mut parked = Vec::new();
        let mut members = self.members.clone();
        // The new member's JoinGroup comes first, as with real clients.
        members.sort_by_key(|(id, _, _)| Some(id.as_str()) != new);
        for (id, client, instance) in members {
            if Some(id.as_str()) == new || self.h.coordinator.group("g").is_some_and(|g| g.has_member(&id)) {
                parked.push((id.clone(), self.h.send(self.join_request(&id, &client, instance.as_deref())).0));
            }
        }
        self.finish_rebalance(parked);
    }

    fn finish_rebalance(&mut self, parked: Vec<(String, RequestId)>) {
        for _ in 0..10 {
            if parked.iter().all(|(_, id)| self.h.answer(*id).is_some()) {
                break;
            }
            self.h.advance(i64::from(DELAY_MS));
        }
        let group = self.h.coordinator.group("g").unwrap();
        if group.state() == GroupState::Empty {
            return;
        }
        assert_eq!(group.state(), GroupState::CompletingRebalance);
        self.generation = group.generation_id();
        let leader = group.leader_id().unwrap().to_owned();
        self.sync(&leader);
    }

    fn sync(&mut self, leader: &str) {
        let ids: Vec<String> = self.h.coordinator.group("g").unwrap().members().map(|m| m.member_id.clone()).collect();
        let mut assignments: Vec<(String, Vec<i32>)> = ids.iter().map(|id| (id.clone(), Vec::new())).collect();
        for p in 0..self.partitions {
            assignments[p as usize % ids.len()].1.push(p);
        }
        let assignments = assignments.into_iter().map(|(id, ps)| (id, assigned(&ps))).collect();
        let r = self.h.call(self.sync_request(leader).assignments(assignments).build());
        assert_eq!(as_sync(&r).error_code, NONE);
        assert_eq!(self.h.coordinator.group("g").unwrap().state(), GroupState::Stable);
        for follower in ids.iter().filter(|id| *id != leader) {
            let r = self.h.call(self.sync_request(follower).build());
            assert_eq!(as_sync(&r).error_code, NONE);
        }
    }

    fn sync_request(&self, member_id: &str) -> SyncBuilder {
        let mut request = sync("g", member_id, self.generation).protocol(Some(self.protocol_type), Some("range"));
        if let Some(i) = self.instance_of(member_id) {
            request = request.instance(&i);
        }
        request
    }

    fn instance_of(&self, member_id: &str) -> Option<String> {
        self.members.iter().find(|(id, _, _)| id == member_id).and_then(|(_, _, i)| i.clone())
    }

    /// Heartbeats every member but `except`.
    fn heartbeat_all_but(&mut self, except: &str) {
        let group = self.h.coordinator.group("g").unwrap();
        let ids: Vec<String> = group.members().map(|m| m.member_id.clone()).filter(|id| id != except).collect();
        for id in ids {
            let instance = self.instance_of(&id);
            self.h.call(heartbeat_as("g", &id, instance.as_deref(), self.generation));
        }
    }

    fn history(&self) -> Vec<GenerationHistory> {
        self.h.coordinator.history("g").expect("the group has a history").generations
    }

    fn last(&self) -> GenerationHistory {
        self.history().last().cloned().expect("at least one generation")
    }
}

fn mv(partition: i32, from: Option<&str>, to: Option<&str>) -> PartitionMove {
    PartitionMove { topic: "t".into(), partition, from: from.map(Into::into), to: to.map(Into::into) }
}

fn joined_ids(e: &GenerationHistory) -> Vec<&str> {
    e.joined.iter().map(|j| j.member_id.as_str()).collect()
}

fn left(e: &GenerationHistory) -> Vec<(&str, RebalanceReason)> {
    e.left.iter().map(|l| (l.member_id.as_str(), l.reason)).collect()
}

/// Every history the live coordinator has is what a restart (replaying the log) and a
/// compacted log rebuild.
fn assert_replay_equivalent(h: &Harness) {
    let reloaded = h.reloaded();
    let compacted = h.compacted();
    for group in h.logged_groups() {
        assert_eq!(h.coordinator.history(&group), reloaded.history(&group), "history of {group} after a restart");
        let gens = |c: &runnel_coordinator::GroupCoordinator| {
            c.history(&group).map(|h| h.generations).filter(|g| !g.is_empty())
        };
        assert_eq!(gens(&h.coordinator), gens(&compacted), "history of {group} after compaction");
    }
}

#[test]
fn a_group_forming_is_new_member_with_its_initial_delay_as_duration() {
    let mut g = Group::new(2);
    let start = g.h.now_ms;
    let m1 = g.add("consumer-1");
    let e = g.last();
    assert_eq!(g.history().len(), 1);
    assert_eq!((e.generation, e.reason), (1, Some(RebalanceReason::NewMember)));
    assert_eq!((e.started_at_ms, e.completed_at_ms, e.duration_ms), (start, start + 3_000, 3_000));
    assert_eq!(joined_ids(&e), vec![m1.as_str()]);
    assert_eq!(e.joined[0].client_id, "consumer-1");
    assert_eq!(e.joined[0].client_host, "/127.0.0.1");
    assert!(e.left.is_empty());
    assert_eq!(e.moves, vec![mv(0, None, Some(&m1)), mv(1, None, Some(&m1))]);
    assert_eq!((e.protocol_type.as_str(), e.protocol.as_deref(), e.leader.as_deref()), ("consumer", Some("range"), Some(m1.as_str())));
    assert_eq!(e.members.len(), 1);
    assert_eq!(e.members[0].assignment[0].partitions, vec![0, 1]);
    assert_replay_equivalent(&g.h);
}

/// One row per reason: how the rebalance is caused, the reason recorded, who left and why.
#[test]
fn each_reason_is_recorded_with_who_left() {
    type Cause = fn(&mut Group, &str, &str) -> Option<RebalanceReason>;
    let cases: &[(&str, Cause, RebalanceReason)] = &[
        (
            "a second member joins",
            |g, _, _| {
                g.add("consumer-3");
                None
            },
            RebalanceReason::NewMember,
        ),
        (
            "a member leaves (consumer close)",
            |g, _, m2| {
                g.h.call(leave("g", &[(m2, None)]));
                g.rebalance(None);
                Some(RebalanceReason::MemberLeft)
            },
            RebalanceReason::MemberLeft,
        ),
        (
            "a member stops heartbeating",
            |g, _, m2| {
                for _ in 0..3 {
                    g.h.advance(i64::from(SESSION_MS) / 2 - 1);
                    g.heartbeat_all_but(m2);
                }
                assert_eq!(g.h.coordinator.group("g").unwrap().state(), GroupState::PreparingRebalance);
                g.rebalance(None);
                Some(RebalanceReason::SessionTimeout)
            },
            RebalanceReason::SessionTimeout,
        ),
        (
            "a follower rejoins with a new subscription",
            |g, _, m2| {
                let r = join("g", m2).client("consumer-2").session(SESSION_MS).protocols(&[("range", subscription(&["t", "u"]))]);
                let held = g.h.park(r.build());
                let m1 = g.members[0].0.clone();
                let other = g.h.send(g.join_request(&m1, "consumer-1", None)).0;
                g.finish_rebalance(vec![(m2.to_owned(), held), (m1, other)]);
                None
            },
            RebalanceReason::MetadataChange,
        ),
        (
            "an admin removes a member",
            |g, _, m2| {
                let mut request = leave("g", &[(m2, None)]);
                if let Request::LeaveGroup { request, .. } = &mut request {
                    request.members[0].reason = Some(s("member was removed by an admin: test"));
                }
                g.h.call(request);
                g.rebalance(None);
                Some(RebalanceReason::AdminAction)
            },
            RebalanceReason::AdminAction,
        ),
    ];
    for (what, cause, expected) in cases {
        let mut g = Group::new(4);
        let m1 = g.add("consumer-1");
        let m2 = g.add("consumer-2");
        let before = g.history().len();
        let left_reason = cause(&mut g, &m1, &m2);
        let history = g.history();
        assert!(history.len() > before, "{what}: a generation was recorded");
        let e = &history[before];
        assert_eq!(e.reason, Some(*expected), "{what}");
        assert!(e.completed_at_ms >= e.started_at_ms, "{what}");
        assert_eq!(e.duration_ms, e.completed_at_ms - e.started_at_ms, "{what}");
        if let Some(reason) = left_reason {
            assert_eq!(left(e), vec![(m2.as_str(), reason)], "{what}");
        }
        assert_replay_equivalent(&g.h);
    }
}

#[test]
fn a_member_that_misses_the_rebalance_leaves_with_rebalance_timeout() {
    let mut g = Group::new(2);
    let m1 = g.add("consumer-1");
    let m2 = g.add("consumer-2");
    // consumer-3 joins; m1 rejoins, m2 does not (but keeps heartbeating): dropped when the
    // rebalance timeout ends the join phase.
    let r = g.h.call(g.join_request("", "consumer-3", None));
    let m3 = as_join(&r).member_id.to_string();
    let j3 = g.h.send(g.join_request(&m3, "consumer-3", None)).0;
    let j1 = g.h.send(g.join_request(&m1, "consumer-1", None)).0;
    for _ in 0..6 {
        g.h.advance(4_999);
        g.h.call(heartbeat("g", &m2, g.generation));
    }
    g.h.advance(30_000 - 6 * 4_999);
    assert!(g.h.answer(j1).is_some() && g.h.answer(j3).is_some());
    g.generation = g.h.coordinator.group("g").unwrap().generation_id();
    let leader = g.h.coordinator.group("g").unwrap().leader_id().unwrap().to_owned();
    g.sync(&leader);
    let e = g.last();
    assert_eq!(e.reason, Some(RebalanceReason::NewMember));
    assert_eq!(left(&e), vec![(m2.as_str(), RebalanceReason::RebalanceTimeout)]);
    assert_eq!(joined_ids(&e), vec![m3.as_str()]);
    assert_eq!(e.duration_ms, 30_000);
    assert_replay_equivalent(&g.h);
}

#[test]
fn a_member_that_never_syncs_starts_a_rebalance_timeout_rebalance() {
    let mut g = Group::new(2);
    let m1 = g.add("consumer-1");
    let m2 = g.add("consumer-2");
    // Both rejoin (the leader's rejoin rebalances); the leader syncs, m2 never does.
    let j1 = g.h.send(g.join_request(&m1, "consumer-1", None)).0;
    let j2 = g.h.send(g.join_request(&m2, "consumer-2", None)).0;
    assert!(g.h.answer(j1).is_some() && g.h.answer(j2).is_some());
    g.generation = g.h.coordinator.group("g").unwrap().generation_id();
    let leader = g.h.coordinator.group("g").unwrap().leader_id().unwrap().to_owned();
    let ids: Vec<String> = g.h.coordinator.group("g").unwrap().members().map(|m| m.member_id.clone()).collect();
    let assignments = ids.iter().enumerate().map(|(i, id)| (id.clone(), assigned(&[i as i32]))).collect();
    g.h.call(g.sync_request(&leader).assignments(assignments).build());
    assert_eq!(g.last().reason, Some(RebalanceReason::MetadataChange));
    // Sessions stay alive; the sync timer (the rebalance timeout, 30 s) drops m2.
    for _ in 0..7 {
        g.h.advance(4_999);
        g.h.call(heartbeat("g", &m1, g.generation));
        g.h.call(heartbeat("g", &m2, g.generation));
    }
    assert_eq!(g.h.coordinator.group("g").unwrap().state(), GroupState::PreparingRebalance);
    let started = g.h.now_ms - (7 * 4_999 - 30_000);
    g.h.advance(1_000);
    let held = g.h.send(g.join_request(&m1, "consumer-1", None)).0;
    g.finish_rebalance(vec![(m1.clone(), held)]);
    let e = g.last();
    assert_eq!(e.reason, Some(RebalanceReason::RebalanceTimeout));
    assert_eq!(left(&e), vec![(m2.as_str(), RebalanceReason::RebalanceTimeout)]);
    assert_eq!((e.started_at_ms, e.duration_ms), (started, e.completed_at_ms - started));
    assert!(e.duration_ms >= 1_000);
    assert!(e.moves.iter().all(|m| m.to.as_deref() == Some(m1.as_str())));
    assert!(e.moves.iter().any(|m| m.from.as_deref() == Some(m2.as_str())));
    assert_replay_equivalent(&g.h);
}

#[test]
fn a_second_member_moves_partitions_from_the_first() {
    let mut g = Group::new(4);
    let m1 = g.add("consumer-1");
    let m2 = g.add("consumer-2");
    let e = g.last();
    assert_eq!((e.generation, e.reason), (2, Some(RebalanceReason::NewMember)));
    assert_eq!(joined_ids(&e), vec![m2.as_str()]);
    let owner = |p: i32| {
        e.members.iter().find(|m| m.assignment.iter().any(|t| t.partitions.contains(&p))).unwrap().member_id.clone()
    };
    let expected: Vec<PartitionMove> =
        (0..4).filter(|p| owner(*p) != m1).map(|p| mv(p, Some(&m1), Some(&owner(p)))).collect();
    assert_eq!(expected.len(), 2, "half the partitions move to the new member");
    assert!(expected.iter().all(|m| m.to.as_deref() == Some(m2.as_str())));
    assert_eq!(e.moves, expected);
}

#[test]
fn a_replaced_static_member_that_changes_the_protocol_is_static_member_replaced() {
    let mut g = Group::new(2);
    let m1 = g.add_static("consumer-1", "i1");
    let m2 = g.add_static("consumer-2", "i2");
    // i2 restarts without its member id, now offering only "roundrobin" (i1 offers both).
    let m1_both = join("g", &m1).client("consumer-1").instance("i1").session(SESSION_MS).protocols(&[
        ("range", subscription(&["t"])),
        ("roundrobin", subscription(&["t"])),
    ]);
    // m1 (the leader) rejoins offering both: a metadata_change rebalance, completed first.
    g.h.park(m1_both.build());
    let gen_before = g.history().len();
    let j2 = g.h.send(join("g", &m2).client("consumer-2").instance("i2").session(SESSION_MS).protocols(&[
        ("range", subscription(&["t"])),
        ("roundrobin", subscription(&["t"])),
    ]).build()).0;
    g.h.advance(0);
    assert!(g.h.answer(j2).is_some());
    g.generation = g.h.coordinator.group("g").unwrap().generation_id();
    g.sync(&m1);
    assert_eq!(g.history().len(), gen_before + 1);
    assert_eq!(g.last().reason, Some(RebalanceReason::MetadataChange));
    // Now i2 restarts offering only roundrobin: the vote changes, so the group rebalances.
    let r = join("g", "").client("consumer-2").instance("i2").session(SESSION_MS).protocols(&[("roundrobin", subscription(&["t"]))]);
    let j2 = g.h.park(r.build());
    let new_m2 = g.h.coordinator.group("g").unwrap().static_member_id("i2").unwrap().to_owned();
    assert_ne!(new_m2, m2);
    assert_eq!(g.h.coordinator.group("g").unwrap().state(), GroupState::PreparingRebalance);
    let j1 = g.h.send(join("g", &m1).client("consumer-1").instance("i1").session(SESSION_MS).protocols(&[
        ("range", subscription(&["t"])),
        ("roundrobin", subscription(&["t"])),
    ]).build()).0;
    g.h.advance(0);
    assert!(g.h.answer(j1).is_some() && g.h.answer(j2).is_some());
    g.generation = g.h.coordinator.group("g").unwrap().generation_id();
    if let Some(entry) = g.members.iter_mut().find(|(id, _, _)| *id == m2) {
        entry.0 = new_m2.clone();
    }
    let leader = g.h.coordinator.group("g").unwrap().leader_id().unwrap().to_owned();
    let ids: Vec<String> = g.h.coordinator.group("g").unwrap().members().map(|m| m.member_id.clone()).collect();
    let request = g.sync_request(&leader).protocol(Some("consumer"), Some("roundrobin"));
    let assignments = ids.iter().enumerate().map(|(i, id)| (id.clone(), assigned(&[i as i32]))).collect();
    let r = g.h.call(request.assignments(assignments).build());
    assert_eq!(as_sync(&r).error_code, NONE);
    let e = g.last();
    assert_eq!(e.reason, Some(RebalanceReason::StaticMemberReplaced));
    assert_eq!(left(&e), vec![(m2.as_str(), RebalanceReason::StaticMemberReplaced)]);
    assert_eq!(e.left[0].group_instance_id.as_deref(), Some("i2"));
    assert_eq!(joined_ids(&e), vec![new_m2.as_str()]);
    assert_eq!(e.protocol.as_deref(), Some("roundrobin"));
    assert_replay_equivalent(&g.h);
}

#[test]
fn removing_a_static_member_by_instance_id_is_an_admin_action() {
    let mut g = Group::new(2);
    let m1 = g.add_static("consumer-1", "i1");
    let m2 = g.add_static("consumer-2", "i2");
    let r = g.h.call(leave("g", &[("", Some("i2"))]));
    assert_eq!(as_leave(&r).members[0].error_code, NONE);
    g.members.retain(|(id, _, _)| *id != m2);
    g.rebalance(None);
    let e = g.last();
    assert_eq!(e.reason, Some(RebalanceReason::AdminAction));
    assert_eq!(left(&e), vec![(m2.as_str(), RebalanceReason::AdminAction)]);
    assert_eq!(e.moves, vec![mv(1, Some(&m2), Some(&m1))]);
}

#[test]
fn the_last_member_leaving_records_an_empty_generation_and_deleting_the_group_deletes_its_history() {
    let mut g = Group::new(2);
    let m1 = g.add("consumer-1");
    g.h.call(leave("g", &[(&m1, None)]));
    let e = g.last();
    assert_eq!(g.h.coordinator.group("g").unwrap().state(), GroupState::Empty);
    assert_eq!((e.generation, e.reason), (2, Some(RebalanceReason::MemberLeft)));
    assert_eq!(e.duration_ms, 0);
    assert_eq!(left(&e), vec![(m1.as_str(), RebalanceReason::MemberLeft)]);
    assert_eq!(e.moves, vec![mv(0, Some(&m1), None), mv(1, Some(&m1), None)]);
    assert_eq!(g.history().len(), 2);

    let r = g.h.call(delete_groups(&["g"]));
    assert_eq!(as_delete_groups(&r).results[0].error_code, NONE);
    assert_eq!(g.h.coordinator.history("g"), None);
    let tombstoned: Vec<i32> = g
        .h
        .log
        .iter()
        .filter_map(|r| match r {
            Record::GroupHistoryTombstone { group_id, generation } if group_id == "g" => Some(*generation),
            _ => None,
        })
        .collect();
    assert_eq!(tombstoned, vec![1, 2], "every kept generation is tombstoned for compaction");
    assert_eq!(g.h.reloaded().history("g"), None);
    assert_eq!(g.h.compacted().history("g"), None);

    // A group of the same name starts a fresh history.
    g.members.clear();
    g.add("consumer-9");
    let history = g.history();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].generation, 1);
    assert_replay_equivalent(&g.h);
}

#[test]
fn history_keeps_the_last_generations_and_tombstones_the_rest() {
    let mut g = Group::new(1);
    g.add("consumer-1");
    let rebalances = HISTORY_GENERATIONS_MAX + 10;
    for _ in 0..rebalances {
        // The leader rejoining forces a rebalance (metadata_change).
        g.rebalance(None);
    }
    let history = g.history();
    assert_eq!(history.len(), HISTORY_GENERATIONS_MAX);
    let newest = g.generation;
    assert_eq!(newest, rebalances as i32 + 1);
    let generations: Vec<i32> = history.iter().map(|e| e.generation).collect();
    let expected: Vec<i32> = ((newest - HISTORY_GENERATIONS_MAX as i32 + 1)..=newest).collect();
    assert_eq!(generations, expected, "oldest first, newest last");
    assert!(history.iter().all(|e| e.reason == Some(RebalanceReason::MetadataChange) && e.moves.is_empty()));
    let tombstones = g.h.log.iter().filter(|r| matches!(r, Record::GroupHistoryTombstone { .. })).count();
    assert_eq!(tombstones, 11, "one tombstone per pruned generation");
    assert_replay_equivalent(&g.h);
}

#[test]
fn a_full_reshuffle_of_a_large_group_lists_the_first_moves_and_counts_the_rest() {
    let partitions = MOVES_PER_GENERATION_MAX as i32 + 500;
    let mut g = Group::new(partitions);
    g.add("consumer-1");
    let first = g.last();
    assert_eq!(first.moves.len(), MOVES_PER_GENERATION_MAX);
    assert_eq!(first.moves_omitted, 500);
    assert_eq!(first.moves.last().map(|m| m.partition), Some(MOVES_PER_GENERATION_MAX as i32 - 1));
    assert_eq!(first.members[0].assignment[0].partitions.len(), partitions as usize, "assignments are whole");
    assert_replay_equivalent(&g.h);
}

#[test]
fn other_protocol_types_record_members_but_no_moves() {
    let mut g = Group::new(2);
    g.protocol_type = "connect";
    g.add("worker-1");
    g.add("worker-2");
    let e = g.last();
    assert_eq!(e.protocol_type, "connect");
    assert_eq!(e.members.len(), 2);
    assert!(e.members.iter().all(|m| m.assignment.is_empty()));
    assert!(e.moves.is_empty());
}

#[test]
fn an_assignment_that_does_not_parse_records_no_partitions() {
    let mut g = Group::new(0);
    let r = g.h.call(g.join_request("", "consumer-1", None));
    let id = as_join(&r).member_id.to_string();
    let held = g.h.send(g.join_request(&id, "consumer-1", None)).0;
    g.h.advance(i64::from(DELAY_MS));
    assert!(g.h.answer(held).is_some());
    let garbage = Bytes::from_static(&[0, 0, 0x7f, 0xff, 0xff, 0xff]);
    let r = g.h.call(sync("g", &id, 1).assignments(vec![(id.clone(), garbage)]).build());
    assert_eq!(as_sync(&r).error_code, NONE);
    let e = g.last();
    assert!(e.members[0].assignment.is_empty() && e.moves.is_empty());
}

#[test]
fn history_survives_a_restart_and_continues_from_it() {
    let mut g = Group::new(2);
    let m1 = g.add("consumer-1");
    let m2 = g.add("consumer-2");
    let before = g.history();
    // Restart: a new coordinator from the log; the members carry on.
    let loaded = g.h.reloaded();
    assert_eq!(loaded.history("g").unwrap().generations, before);
    let mut h = Harness::with_coordinator(loaded, g.h.now_ms + 1_000);
    h.log = g.h.log.clone();
    g.h = h;
    g.h.call(leave("g", &[(&m2, None)]));
    g.rebalance(None);
    let history = g.history();
    assert_eq!(&history[..before.len()], &before[..]);
    let e = history.last().unwrap();
    assert_eq!(e.reason, Some(RebalanceReason::MemberLeft));
    assert_eq!(left(e), vec![(m2.as_str(), RebalanceReason::MemberLeft)]);
    assert_eq!(e.moves.iter().filter(|m| m.to.as_deref() == Some(m1.as_str())).count(), e.moves.len());
    assert_replay_equivalent(&g.h);
}

#[test]
fn history_records_use_their_own_key_version_and_bad_values_fail_cleanly() {
    let mut g = Group::new(3);
    g.add("consumer-1");
    g.add("consumer-2");
    let record = g.h.log.iter().rev().find(|r| matches!(r, Record::GroupHistory { .. })).unwrap().clone();
    let (key, value) = encode(&record).unwrap();
    let (key, value) = (key.unwrap(), value.unwrap());
    assert_eq!(&key[..2], &runnel_coordinator::GROUP_HISTORY_KEY_VERSION.to_be_bytes());
    assert_eq!(decode(&key, Some(&value)).unwrap(), Some(record));
    // Every truncation of the value is an error, never a panic.
    for len in 0..value.len() {
        assert!(decode(&key, Some(&value[..len])).is_err(), "truncated at {len}");
    }
    // A member count claiming 2^31 - 1 members fails without allocating for them.
    let mut hostile = value.clone();
    let members_at = hostile.len() - value.len() + members_offset(&value);
    hostile[members_at..members_at + 4].copy_from_slice(&i32::MAX.to_be_bytes());
    assert!(decode(&key, Some(&hostile)).is_err());
    // An unknown value version is refused.
    let mut newer = value.clone();
    newer[..2].copy_from_slice(&1i16.to_be_bytes());
    assert!(decode(&key, Some(&newer)).is_err());
}

/// Where the members array starts in a value: after version, protocol type, protocol,
/// leader, reason (four int16-length strings), two timestamps and left_omitted.
fn members_offset(value: &[u8]) -> usize {
    let mut at = 2;
    for _ in 0..4 {
        let len = i16::from_be_bytes([value[at], value[at + 1]]);
        at += 2 + usize::try_from(len).unwrap_or(0);
    }
    at + 8 + 8 + 4 + 4
}
