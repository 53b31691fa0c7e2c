//! Rebalance history: what each generation of a group was, why its rebalance started, who
//! joined and left, and which partitions moved. Kafka keeps no such history; Runnel persists
//! one record per completed generation in `__consumer_offsets` (see `history_codec`) and keeps
//! the last [`HISTORY_GENERATIONS_MAX`] per group.
//!
//! A generation is recorded when it completes: when the leader's SyncGroup brings the
//! assignment (the group becomes Stable) or when the join phase leaves the group Empty. A
//! generation that is superseded before it completes (a member joins or leaves while the
//! leader is still assigning) is not recorded on its own: what happened during it is carried
//! into the next completed generation, whose reason stays the one that started the rebalance.
//! The in-progress part ([`RebalanceTracker`]) lives in the group, like Kafka's other
//! in-memory state, and is changed only by records.

use std::collections::BTreeMap;

use bytes::Bytes;
use runnel_protocol::kafka_protocol::messages::ConsumerProtocolAssignment;
use runnel_protocol::kafka_protocol::protocol::Decodable;
use serde::{Deserialize, Serialize};

use crate::group::ClassicGroup;
use crate::member::Member;

/// How many completed generations each group keeps.
pub const HISTORY_GENERATIONS_MAX: usize = 50;
/// The most departed members one generation records; more are counted in `left_omitted`.
pub const LEFT_MEMBERS_PER_GENERATION_MAX: usize = 1_000;
/// The most partition moves one generation records (the first, by topic and partition); more
/// are counted in `moves_omitted`. Keeps a full reshuffle of a large group from making one
/// history record many times the size of the group's own GroupMetadata record.
pub const MOVES_PER_GENERATION_MAX: usize = 1_000;

/// Why a rebalance started, or why a member left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RebalanceReason {
    /// A member joined.
    NewMember,
    /// A member sent LeaveGroup (a consumer closing).
    MemberLeft,
    /// A member stopped heartbeating.
    SessionTimeout,
    /// A static member rejoined without its member id: the old id is fenced.
    StaticMemberReplaced,
    /// A member rejoined with new subscription or protocol metadata (or the leader rejoined,
    /// which Kafka takes as a sign that the assignment's inputs changed).
    MetadataChange,
    /// An operator removed members (LeaveGroup by group instance id, or with the admin
    /// client's "member was removed by an admin" reason), or a lowered `group.max.size`.
    AdminAction,
    /// A member did not rejoin (or sync) within the rebalance timeout and was dropped.
    RebalanceTimeout,
}

impl RebalanceReason {
    pub const ALL: [RebalanceReason; 7] = [
        RebalanceReason::NewMember,
        RebalanceReason::MemberLeft,
        RebalanceReason::SessionTimeout,
        RebalanceReason::StaticMemberReplaced,
        RebalanceReason::MetadataChange,
        RebalanceReason::AdminAction,
        RebalanceReason::RebalanceTimeout,
    ];

    /// The name used in records, JSON and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            RebalanceReason::NewMember => "new_member",
            RebalanceReason::MemberLeft => "member_left",
            RebalanceReason::SessionTimeout => "session_timeout",
            RebalanceReason::StaticMemberReplaced => "static_member_replaced",
            RebalanceReason::MetadataChange => "metadata_change",
            RebalanceReason::AdminAction => "admin_action",
            RebalanceReason::RebalanceTimeout => "rebalance_timeout",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl std::fmt::Display for RebalanceReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One topic's partitions in a member's assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicPartitions {
    pub topic: String,
    pub partitions: Vec<i32>,
}

/// A member of a completed generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// Decoded for protocol type "consumer"; empty otherwise.
    pub assignment: Vec<TopicPartitions>,
}

/// A member that joined since the previous completed generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
}

/// A member that left since the previous completed generation, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub reason: RebalanceReason,
}

/// A partition whose owner changed; `None` is nobody (newly assigned, or revoked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionMove {
    pub topic: String,
    pub partition: i32,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// One completed generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationHistory {
    pub generation: i32,
    pub protocol_type: String,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// `None` only if the group completed a generation without a recorded start, which the
    /// coordinator never does; kept honest rather than invented.
    pub reason: Option<RebalanceReason>,
    pub started_at_ms: i64,
    pub completed_at_ms: i64,
    /// `completed_at_ms - started_at_ms`; derived, not stored.
    pub duration_ms: i64,
    pub joined: Vec<JoinedMember>,
    pub left: Vec<LeftMember>,
    /// Departures beyond [`LEFT_MEMBERS_PER_GENERATION_MAX`], counted but not listed.
    pub left_omitted: u32,
    pub members: Vec<HistoryMember>,
    pub moves: Vec<PartitionMove>,
    /// Moves beyond [`MOVES_PER_GENERATION_MAX`], counted but not listed.
    pub moves_omitted: u32,
}

/// A group's history as the API shows it: completed generations, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GroupHistory {
    pub generations: Vec<GenerationHistory>,
}

/// The stored history of one group: the last [`HISTORY_GENERATIONS_MAX`] generations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct HistoryStore {
    generations: BTreeMap<i32, GenerationHistory>,
}

impl HistoryStore {
    /// Adds (or replaces) a generation and drops the oldest beyond the bound, so a log that
    /// lost a pruning tombstone still loads to the same bounded history.
    pub(crate) fn insert(&mut self, entry: GenerationHistory) {
        self.generations.insert(entry.generation, entry);
        while self.generations.len() > HISTORY_GENERATIONS_MAX {
            self.generations.pop_first();
        }
    }

    pub(crate) fn remove(&mut self, generation: i32) {
        self.generations.remove(&generation);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.generations.is_empty()
    }

    pub(crate) fn latest(&self) -> Option<&GenerationHistory> {
        self.generations.values().next_back()
    }

    pub(crate) fn generations(&self) -> impl Iterator<Item = i32> + '_ {
        self.generations.keys().copied()
    }

    /// The generations to tombstone so that, with `generation` added, at most
    /// [`HISTORY_GENERATIONS_MAX`] remain.
    pub(crate) fn to_prune_for(&self, generation: i32) -> Vec<i32> {
        let kept = self.generations.keys().filter(|g| **g != generation).count();
        let excess = (kept + 1).saturating_sub(HISTORY_GENERATIONS_MAX);
        self.generations.keys().copied().filter(|g| *g != generation).take(excess).collect()
    }

    pub(crate) fn view(&self) -> GroupHistory {
        GroupHistory { generations: self.generations.values().cloned().collect() }
    }
}

/// Applies a record to one group's stored history (`slot`, `None` when it has none): the
/// only code that changes history, used by replay and by the decision builder alike. A
/// deleted group's history goes with it.
pub(crate) fn apply_to_history(slot: &mut Option<HistoryStore>, record: &crate::record::Record) {
    use crate::record::Record;
    match record {
        Record::GroupHistory { entry, .. } => slot.get_or_insert_with(HistoryStore::default).insert(entry.clone()),
        Record::GroupHistoryTombstone { generation, .. } => {
            if let Some(store) = slot {
                store.remove(*generation);
            }
        }
        Record::GroupTombstone { .. } => *slot = None,
        _ => return,
    }
    if slot.as_ref().is_some_and(HistoryStore::is_empty) {
        *slot = None;
    }
}

/// What has happened since the group's last completed generation: the in-memory part of the
/// history, reset by the history record that completes a generation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RebalanceTracker {
    /// Why and when the current rebalance started; the first cause wins.
    pub(crate) started: Option<(RebalanceReason, i64)>,
    pub(crate) left: Vec<LeftMember>,
    pub(crate) left_omitted: u32,
}

impl RebalanceTracker {
    pub(crate) fn started(&mut self, reason: RebalanceReason, at_ms: i64) {
        if self.started.is_none() {
            self.started = Some((reason, at_ms));
        }
    }

    pub(crate) fn member_left(&mut self, member: &Member, member_id: &str, reason: RebalanceReason) {
        if self.left.len() >= LEFT_MEMBERS_PER_GENERATION_MAX {
            self.left_omitted = self.left_omitted.saturating_add(1);
            return;
        }
        self.left.push(LeftMember {
            member_id: member_id.to_owned(),
            group_instance_id: member.group_instance_id.clone(),
            client_id: member.client_id.clone(),
            client_host: member.client_host.clone(),
            reason,
        });
    }
}

/// The partitions in a consumer's assignment (ConsumerProtocolAssignment, any version; versions
/// newer than the crate knows are read as its newest, as Kafka's `ConsumerProtocol` does).
/// `None` when the bytes do not parse: the leader's assignor wrote something else.
pub fn consumer_assignment(bytes: &Bytes) -> Option<Vec<TopicPartitions>> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let mut buf = bytes.clone();
    if buf.len() < 2 {
        return None;
    }
    let version = i16::from_be_bytes([buf[0], buf[1]]);
    if version < 0 {
        return None;
    }
    let _ = bytes::Buf::get_i16(&mut buf);
    let version = version.min(CONSUMER_ASSIGNMENT_VERSION_MAX);
    let decoded = ConsumerProtocolAssignment::decode(&mut buf, version).ok()?;
    let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for tp in decoded.assigned_partitions {
        by_topic.entry(tp.topic.as_str().to_owned()).or_default().extend(tp.partitions);
    }
    Some(
        by_topic
            .into_iter()
            .map(|(topic, mut partitions)| {
                partitions.sort_unstable();
                partitions.dedup();
                TopicPartitions { topic, partitions }
            })
            .collect(),
    )
}

/// The newest ConsumerProtocolAssignment version the pinned kafka-protocol decodes.
const CONSUMER_ASSIGNMENT_VERSION_MAX: i16 = 3;

/// The history entry for the generation `group` has just completed, at `now_ms`, against the
/// previous completed generation (`None` for a group's first).
pub(crate) fn completed_generation(
    group: &ClassicGroup,
    previous: Option<&GenerationHistory>,
    now_ms: i64,
) -> GenerationHistory {
    let consumer = group.uses_consumer_protocol();
    let members: Vec<HistoryMember> = group
        .members()
        .map(|m| HistoryMember {
            member_id: m.member_id.clone(),
            group_instance_id: m.group_instance_id.clone(),
            client_id: m.client_id.clone(),
            client_host: m.client_host.clone(),
            assignment: if consumer { consumer_assignment(&m.assignment).unwrap_or_default() } else { Vec::new() },
        })
        .collect();
    let was_member = |id: &str| previous.is_some_and(|p| p.members.iter().any(|m| m.member_id == id));
    let joined = members
        .iter()
        .filter(|m| !was_member(&m.member_id))
        .map(|m| JoinedMember {
            member_id: m.member_id.clone(),
            group_instance_id: m.group_instance_id.clone(),
            client_id: m.client_id.clone(),
            client_host: m.client_host.clone(),
        })
        .collect();
    let tracker = &group.rebalance;
    let left = tracker.left.iter().filter(|l| !group.has_member(&l.member_id)).cloned().collect();
    let mut moves =
        if consumer { moves(previous.map(|p| p.members.as_slice()).unwrap_or(&[]), &members) } else { Vec::new() };
    let moves_omitted = u32::try_from(moves.len().saturating_sub(MOVES_PER_GENERATION_MAX)).unwrap_or(u32::MAX);
    moves.truncate(MOVES_PER_GENERATION_MAX);
    let (reason, started_at_ms) = match tracker.started {
        Some((reason, at_ms)) => (Some(reason), at_ms),
        None => (None, now_ms),
    };
    GenerationHistory {
        generation: group.generation_id(),
        protocol_type: group.protocol_type().unwrap_or_default().to_owned(),
        protocol: group.protocol_name().map(str::to_owned),
        leader: group.leader_id().map(str::to_owned),
        reason,
        started_at_ms,
        completed_at_ms: now_ms,
        duration_ms: now_ms.saturating_sub(started_at_ms),
        joined,
        left,
        left_omitted: tracker.left_omitted,
        members,
        moves,
        moves_omitted,
    }
}

/// Every partition whose owner differs between two generations' members, by topic and
/// partition.
pub(crate) fn moves(before: &[HistoryMember], after: &[HistoryMember]) -> Vec<PartitionMove> {
    let owners = |members: &[HistoryMember]| {
        let mut owners: BTreeMap<(String, i32), String> = BTreeMap::new();
        for m in members {
            for tp in &m.assignment {
                for p in &tp.partitions {
                    owners.insert((tp.topic.clone(), *p), m.member_id.clone());
                }
            }
        }
        owners
    };
    let (before, after) = (owners(before), owners(after));
    let mut keys: Vec<&(String, i32)> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|key| {
            let (from, to) = (before.get(key), after.get(key));
            (from != to).then(|| PartitionMove {
                topic: key.0.clone(),
                partition: key.1,
                from: from.cloned(),
                to: to.cloned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use runnel_protocol::kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
    use runnel_protocol::kafka_protocol::messages::TopicName;
    use runnel_protocol::kafka_protocol::protocol::{Encodable, StrBytes};

    fn assignment(version: i16, topics: &[(&str, &[i32])]) -> Bytes {
        let mut a = ConsumerProtocolAssignment::default();
        for (t, ps) in topics {
            let mut tp = TopicPartition::default();
            tp.topic = TopicName(StrBytes::from_string((*t).to_owned()));
            tp.partitions = ps.to_vec();
            a.assigned_partitions.push(tp);
        }
        let mut out = bytes::BytesMut::new();
        out.extend_from_slice(&version.to_be_bytes());
        a.encode(&mut out, version.min(3)).unwrap();
        out.freeze()
    }

    fn member(id: &str, topics: &[(&str, &[i32])]) -> HistoryMember {
        HistoryMember {
            member_id: id.into(),
            group_instance_id: None,
            client_id: id.into(),
            client_host: "/127.0.0.1".into(),
            assignment: topics
                .iter()
                .map(|(t, ps)| TopicPartitions { topic: (*t).into(), partitions: ps.to_vec() })
                .collect(),
        }
    }

    #[test]
    fn consumer_assignment_reads_every_version() {
        for version in 0..=3 {
            let bytes = assignment(version, &[("b", &[1, 0]), ("a", &[2])]);
            assert_eq!(
                consumer_assignment(&bytes),
                Some(vec![
                    TopicPartitions { topic: "a".into(), partitions: vec![2] },
                    TopicPartitions { topic: "b".into(), partitions: vec![0, 1] },
                ]),
                "version {version}"
            );
        }
        assert_eq!(consumer_assignment(&Bytes::new()), Some(vec![]));
    }

    #[test]
    fn consumer_assignment_from_a_newer_version_is_read_as_the_newest_known() {
        let bytes = assignment(7, &[("t", &[0])]);
        assert_eq!(consumer_assignment(&bytes), Some(vec![TopicPartitions { topic: "t".into(), partitions: vec![0] }]));
    }

    #[test]
    fn garbage_assignment_is_none_not_a_panic() {
        assert_eq!(consumer_assignment(&Bytes::from_static(&[0])), None);
        assert_eq!(consumer_assignment(&Bytes::from_static(&[0xff, 0xff, 0, 0])), None);
        assert_eq!(consumer_assignment(&Bytes::from_static(&[0, 0, 0x7f, 0xff, 0xff, 0xff])), None);
    }

    #[test]
    fn moves_list_changed_owners_only() {
        let before = [member("m1", &[("t", &[0, 1])])];
        let after = [member("m1", &[("t", &[0])]), member("m2", &[("t", &[1]), ("u", &[0])])];
        let got = moves(&before, &after);
        let mv = |t: &str, p, from: Option<&str>, to: Option<&str>| PartitionMove {
            topic: t.into(),
            partition: p,
            from: from.map(Into::into),
            to: to.map(Into::into),
        };
        assert_eq!(got, vec![mv("t", 1, Some("m1"), Some("m2")), mv("u", 0, None, Some("m2"))]);
        assert_eq!(moves(&after, &[]), vec![
            mv("t", 0, Some("m1"), None),
            mv("t", 1, Some("m2"), None),
            mv("u", 0, Some("m2"), None)
        ]);
    }

    #[test]
    fn store_keeps_the_newest_generations() {
        let mut store = HistoryStore::default();
        let entry = |g| GenerationHistory {
            generation: g,
            protocol_type: "consumer".into(),
            protocol: None,
            leader: None,
            reason: Some(RebalanceReason::NewMember),
            started_at_ms: 0,
            completed_at_ms: 0,
            duration_ms: 0,
            joined: vec![],
            left: vec![],
            left_omitted: 0,
            members: vec![],
            moves: vec![],
            moves_omitted: 0,
        };
        for g in 1..=(HISTORY_GENERATIONS_MAX as i32) {
            assert!(store.to_prune_for(g).is_empty());
            store.insert(entry(g));
        }
        let next = HISTORY_GENERATIONS_MAX as i32 + 1;
        assert_eq!(store.to_prune_for(next), vec![1]);
        store.insert(entry(next));
        assert_eq!(store.generations().next(), Some(2));
        assert_eq!(store.view().generations.len(), HISTORY_GENERATIONS_MAX);
    }

    #[test]
    fn reason_names_round_trip() {
        for r in RebalanceReason::ALL {
            assert_eq!(RebalanceReason::from_name(r.name()), Some(r));
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{}\"", r.name()));
        }
    }
}
