//! Random request sequences (members joining, syncing, heartbeating, leaving, committing,
//! admins deleting, time passing, writes failing) never panic and keep the invariants the
//! harness checks after every decision: every response answers this request or a held one,
//! nothing is answered twice, the coordinator holds exactly the unanswered requests, groups
//! keep their structural invariants and generations never go backwards. Once the clients go
//! quiet, every held request is eventually answered.

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use common::*;
use proptest::prelude::*;
use runnel_coordinator::{CoordinatorConfig, GroupState, KnownTopics, Request, RequestId, Response};

const GROUPS: [&str; 2] = ["a", "b"];
const SLOTS: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    Join {
        group: usize,
        slot: usize,
        version: i16,
        fresh: bool,
        protocol: usize,
    },
    /// The group's leader (if a client knows it is) sends the assignment for the group's
    /// current generation: drives groups to Stable.
    LeaderSync {
        group: usize,
    },
    /// Every client that knows a member id of the group rejoins with it, unchanged.
    RejoinAll {
        group: usize,
    },
    /// Every client that knows a member id of the group sends SyncGroup for its generation.
    SyncAll {
        group: usize,
    },
    Sync {
        group: usize,
        slot: usize,
        generation_delta: i32,
    },
    Heartbeat {
        group: usize,
        slot: usize,
        generation_delta: i32,
    },
    Leave {
        group: usize,
        slot: usize,
        by_instance: bool,
    },
    Commit {
        group: usize,
        slot: usize,
        admin: bool,
        metadata_len: usize,
    },
    Fetch {
        group: usize,
    },
    Describe,
    List,
    DeleteGroup {
        group: usize,
    },
    OffsetDelete {
        group: usize,
    },
    Advance {
        ms: i64,
    },
    FailNextWrite,
}

fn op() -> impl Strategy<Value = Op> {
    let g = 0..GROUPS.len();
    let slot = 0..SLOTS;
    prop_oneof![
        6 => (g.clone(), slot.clone(), prop::sample::select(vec![0i16, 3, 4, 5, 7, 9]), prop::bool::weighted(0.3), prop::sample::select(vec![0usize, 0, 0, 1, 2]))
            .prop_map(|(group, slot, version, fresh, protocol)| Op::Join { group, slot, version, fresh, protocol }),
        3 => g.clone().prop_map(|group| Op::LeaderSync { group }),
        2 => g.clone().prop_map(|group| Op::RejoinAll { group }),
        2 => g.clone().prop_map(|group| Op::SyncAll { group }),
        4 => (g.clone(), slot.clone(), -1..=1i32).prop_map(|(group, slot, generation_delta)| Op::Sync { group, slot, generation_delta }),
        4 => (g.clone(), slot.clone(), -1..=1i32).prop_map(|(group, slot, generation_delta)| Op::Heartbeat { group, slot, generation_delta }),
        2 => (g.clone(), slot.clone(), any::<bool>()).prop_map(|(group, slot, by_instance)| Op::Leave { group, slot, by_instance }),
        2 => (g.clone(), slot.clone(), any::<bool>(), prop::sample::select(vec![0usize, 3, 5]))
            .prop_map(|(group, slot, admin, metadata_len)| Op::Commit { group, slot, admin, metadata_len }),
        1 => g.clone().prop_map(|group| Op::Fetch { group }),
        1 => Just(Op::Describe),
        1 => Just(Op::List),
        1 => g.clone().prop_map(|group| Op::DeleteGroup { group }),
        1 => g.clone().prop_map(|group| Op::OffsetDelete { group }),
        4 => prop::sample::select(vec![0i64, 50, 500, 1_000, 2_000]).prop_map(|ms| Op::Advance { ms }),
        1 => prop::sample::select(vec![7_000i64, 15_000, 40_000, 700_000]).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::FailNextWrite),
    ]
}

/// What one client (a slot) believes about its membership.
#[derive(Debug, Clone, Default)]
struct Client {
    member_id: String,
    generation: i32,
}

struct Driver {
    h: Harness,
    clients: BTreeMap<(usize, usize), Client>,
    /// Our requests whose answers update a client's view.
    pending_joins: BTreeMap<RequestId, (usize, usize)>,
    fail_next_write: bool,
    failed_writes: usize,
}

impl Driver {
    fn client(&mut self, group: usize, slot: usize) -> &mut Client {
        self.clients.entry((group, slot)).or_default()
    }

    /// Sends a request; if a write was told to fail and the decision needs one, the write
    /// fails: nothing is replayed and the request gets `failed_write`'s answer.
    fn send(&mut self, request: Request) -> (RequestId, Option<Response>) {
        if self.fail_next_write {
            let id = RequestId(10_000_000 + self.failed_writes as u64);
            let kind = request.kind();
            let decision = self.h.coordinator.handle(self.h.now_ms, id, request.clone());
            if decision.needs_write() {
                self.fail_next_write = false;
                self.failed_writes += 1;
                let response =
                    self.h.coordinator.failed_write(id, &kind, ResponseError::NotLeaderOrFollower.code());
                return (id, Some(response));
            }
        }
        self.h.send(request)
    }

    fn learn(&mut self) {
        let answered: Vec<(RequestId, (usize, usize))> = self
            .pending_joins
            .iter()
            .filter(|(id, _)| self.h.answer(**id).is_some())
            .map(|(id, c)| (*id, *c))
            .collect();
        for (id, (group, slot)) in answered {
            self.pending_joins.remove(&id);
            let Some(Response::JoinGroup(r)) = self.h.answer(id).cloned() else { continue };
            let client = self.client(group, slot);
            if r.error_code == NONE || r.error_code == code(ResponseError::MemberIdRequired) {
                client.member_id = r.member_id.to_string();
                client.generation = r.generation_id;
            }
        }
    }

    fn run(&mut self, op: &Op) {
        match *op {
            Op::Join { group, slot, version, fresh, protocol } => {
                let static_member = version >= 5 && slot % 2 == 1;
                let member_id =
                    if fresh { String::new() } else { self.client(group, slot).member_id.clone() };
                let protocols: Vec<(&str, Bytes)> = match protocol {
                    0 => vec![("range", subscription(&["t"]))],
                    1 => vec![("roundrobin", subscription(&["t", "u"])), ("range", subscription(&["t"]))],
                    _ => vec![("sticky", subscription(&["u"]))],
                };
                let mut b = join(GROUPS[group], &member_id)
                    .version(version)
                    .protocols(&protocols)
                    .session(6_000 + 1_000 * slot as i32)
                    .rebalance(8_000 + 4_000 * slot as i32)
                    .client(&format!("slot{slot}"));
                if static_member {
                    b = b.instance(&format!("inst{slot}"));
                }
                let (id, _) = self.send(b.build());
                self.pending_joins.insert(id, (group, slot));
            }
            Op::LeaderSync { group } => {
                let Some(g) = self.h.coordinator.group(GROUPS[group]) else { return self.learn() };
                let Some(leader) = g.leader_id().map(str::to_owned) else { return self.learn() };
                let generation = g.generation_id();
                let assignments: Vec<(String, Bytes)> =
                    g.members().map(|m| (m.member_id.clone(), Bytes::from(m.member_id.clone()))).collect();
                let knows = self.clients.iter().any(|((cg, _), c)| *cg == group && c.member_id == leader);
                if knows {
                    let request = sync(GROUPS[group], &leader, generation)
                        .protocol(None, None)
                        .version(3)
                        .assignments(assignments);
                    self.send(request.build());
                }
            }
            Op::RejoinAll { group } => {
                for slot in 0..SLOTS {
                    let c = self.client(group, slot).clone();
                    if c.member_id.is_empty() {
                        continue;
                    }
                    let mut b = join(GROUPS[group], &c.member_id)
                        .session(6_000 + 1_000 * slot as i32)
                        .rebalance(8_000 + 4_000 * slot as i32);
                    if c.member_id.starts_with("inst") {
                        b = b.instance(&format!("inst{slot}"));
                    }
                    let (id, _) = self.send(b.build());
                    self.pending_joins.insert(id, (group, slot));
                    self.learn();
                }
            }
            Op::SyncAll { group } => {
                for slot in 0..SLOTS {
                    let c = self.client(group, slot).clone();
                    if c.member_id.is_empty() {
                        continue;
                    }
                    let mut b =
                        sync(GROUPS[group], &c.member_id, c.generation).protocol(None, None).version(4);
                    if c.member_id.starts_with("inst") {
                        b = b.instance(&format!("inst{slot}"));
                    }
                    self.send(b.build());
                }
            }
            Op::Sync { group, slot, generation_delta } => {
                let c = self.client(group, slot).clone();
                let generation = c.generation + generation_delta;
                let assignments: Vec<(String, Bytes)> = self
                    .h
                    .coordinator
                    .group(GROUPS[group])
                    .map(|g| g.members().map(|m| (m.member_id.clone(), Bytes::from_static(b"x"))).collect())
                    .unwrap_or_default();
                let request = sync(GROUPS[group], &c.member_id, generation)
                    .protocol(None, None)
                    .version(4)
                    .assignments(assignments);
                self.send(request.build());
            }
            Op::Heartbeat { group, slot, generation_delta } => {
                let c = self.client(group, slot).clone();
                self.send(heartbeat(GROUPS[group], &c.member_id, c.generation + generation_delta));
            }
            Op::Leave { group, slot, by_instance } => {
                let c = self.client(group, slot).clone();
                let instance = format!("inst{slot}");
                let request = if by_instance {
                    leave(GROUPS[group], &[("", Some(instance.as_str()))])
                } else {
                    leave(GROUPS[group], &[(c.member_id.as_str(), None)])
                };
                self.send(request);
            }
            Op::Commit { group, slot, admin, metadata_len } => {
                let c = self.client(group, slot).clone();
                let metadata = "m".repeat(metadata_len);
                let (member, generation) =
                    if admin { (String::new(), -1) } else { (c.member_id, c.generation) };
                let request = commit(
                    GROUPS[group],
                    &member,
                    generation,
                    &[("t", slot as i32, 5, Some(metadata.as_str())), ("u", 0, 1, None)],
                );
                self.send(request.build());
            }
            Op::Fetch { group } => {
                self.send(fetch(GROUPS[group], None));
            }
            Op::Describe => {
                self.send(describe(&GROUPS, 5));
            }
            Op::List => {
                self.send(list(&[], &[]));
            }
            Op::DeleteGroup { group } => {
                self.send(delete_groups(&[GROUPS[group]]));
            }
            Op::OffsetDelete { group } => {
                self.send(offset_delete(
                    GROUPS[group],
                    &[("t", &[0, 1]), ("u", &[0])],
                    KnownTopics::new().with("t", 4).with("u", 1),
                ));
            }
            Op::Advance { ms } => self.h.advance(ms),
            Op::FailNextWrite => self.fail_next_write = true,
        }
        self.learn();
    }
}

/// The log alone rebuilds the persisted state: the same groups and offsets, and every group
/// at rest (Stable or Empty) exactly as persisted.
fn log_rebuilds_the_persisted_state(h: &Harness) -> Result<(), TestCaseError> {
    let loaded = h.reloaded();
    let live_ids: Vec<&str> = h.coordinator.groups().map(|g| g.group_id()).collect();
    let loaded_ids: Vec<&str> = loaded.groups().map(|g| g.group_id()).collect();
    prop_assert_eq!(live_ids, loaded_ids);
    for group in h.coordinator.groups() {
        if matches!(group.state(), GroupState::Stable | GroupState::Empty) {
            let reloaded = loaded.group(group.group_id()).map(persisted_summary);
            prop_assert_eq!(Some(persisted_summary(group)), reloaded);
        }
    }
    prop_assert_eq!(loaded.num_offsets(), h.coordinator.num_offsets());
    // Rebalance history: the same after a restart, and after compaction.
    let compacted = h.compacted();
    for group_id in h.logged_groups() {
        let live = h.coordinator.history(&group_id);
        prop_assert_eq!(&live, &loaded.history(&group_id), "history of {} after a reload", group_id);
        let live_generations = live.map(|h| h.generations);
        let compacted_generations = compacted.history(&group_id).map(|h| h.generations);
        // A compacted log may have lost an empty group's last record (its tombstone is gone
        // with it), so compare the generations, which only tombstones remove.
        prop_assert_eq!(
            live_generations.filter(|g| !g.is_empty()),
            compacted_generations.filter(|g| !g.is_empty()),
            "history of {} after compaction", group_id
        );
    }
    Ok(())
}

fn small_config() -> CoordinatorConfig {
    CoordinatorConfig {
        initial_rebalance_delay_ms: 1_000,
        group_max_size: 3,
        offset_metadata_max_bytes: 4,
        offsets_retention_ms: 3_600_000,
        ..CoordinatorConfig::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_the_invariants_and_answer_every_held_request(ops in prop::collection::vec(op(), 1..100)) {
        let mut d = Driver {
            h: Harness::new(small_config()),
            clients: BTreeMap::new(),
            pending_joins: BTreeMap::new(),
            fail_next_write: false,
            failed_writes: 0,
        };
        for op in &ops {
            d.run(op);
        }
        log_rebuilds_the_persisted_state(&d.h)?;
        // The clients go quiet: timers must answer everything still held.
        for _ in 0..50 {
            if d.h.held.is_empty() {
                break;
            }
            d.h.advance(60_000);
        }
        prop_assert!(d.h.held.is_empty(), "still held after the clients went quiet: {:?}", d.h.held);
        log_rebuilds_the_persisted_state(&d.h)?;
    }
}
