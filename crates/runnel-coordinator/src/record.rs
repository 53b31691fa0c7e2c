//! Every state change, as a record. Persisted records are Kafka's `__consumer_offsets` records
//! (GroupMetadata and OffsetCommit, with tombstones); transient records carry the live,
//! in-memory changes (held requests, timers, state transitions) that Kafka keeps only in
//! memory and that are rebuilt at load from the persisted ones.

use bytes::Bytes;

use crate::history::{GenerationHistory, RebalanceReason};
use crate::member::{HeldRequest, Member, Protocol};
use crate::state::GroupState;
use crate::timers::{JoinTimer, SyncTimer};

/// Kafka's GroupMetadataValue: a classic group's last persisted generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadataValue {
    /// "" for a group with no protocol type yet.
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// When the group entered its current state; -1 when unknown (written by old brokers).
    pub current_state_timestamp_ms: i64,
    pub members: Vec<MemberMetadata>,
}

impl GroupMetadataValue {
    /// What Kafka writes when JoinGroup creates a group: generation 0, no members.
    pub fn empty(now_ms: i64) -> Self {
        Self {
            protocol_type: String::new(),
            generation: 0,
            protocol: None,
            leader: None,
            current_state_timestamp_ms: now_ms,
            members: Vec::new(),
        }
    }
}

/// One member in a GroupMetadataValue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMetadata {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// -1 in records older than value version 1: load falls back to the session timeout.
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    /// The member's metadata for the group's selected protocol.
    pub subscription: Bytes,
    pub assignment: Bytes,
}

/// Kafka's OffsetCommitValue. Sentinels are kept as Kafka writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitValue {
    pub offset: i64,
    /// -1: no leader epoch.
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp_ms: i64,
    /// -1: none (set only by OffsetCommit v2-4's `retention_time_ms`).
    pub expire_timestamp_ms: i64,
}

/// A state change. `handle` and `tick` produce them; `replay` applies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Persisted: a classic group's generation, members and assignments.
    GroupMetadata { group_id: String, value: GroupMetadataValue },
    /// Persisted: the group is deleted.
    GroupTombstone { group_id: String },
    /// Persisted: a committed offset.
    OffsetCommit { group_id: String, topic: String, partition: i32, value: OffsetCommitValue },
    /// Persisted: the offset is deleted.
    OffsetTombstone { group_id: String, topic: String, partition: i32 },
    /// Persisted (Runnel's own record type): one completed generation of the group's history.
    GroupHistory { group_id: String, entry: GenerationHistory },
    /// Persisted: a generation pruned from (or deleted with) the group's history.
    GroupHistoryTombstone { group_id: String, generation: i32 },
    /// Transient: a live change to one group.
    Group { group_id: String, event: GroupEvent },
    /// Transient: when the offsets retention sweep runs next.
    RetentionCheckScheduled { at_ms: i64 },
}

impl Record {
    /// Whether the record is written to `__consumer_offsets` (and has [`crate::encode`]d bytes).
    pub fn persisted(&self) -> bool {
        matches!(
            self,
            Record::GroupMetadata { .. }
                | Record::GroupTombstone { .. }
                | Record::OffsetCommit { .. }
                | Record::OffsetTombstone { .. }
                | Record::GroupHistory { .. }
                | Record::GroupHistoryTombstone { .. }
        )
    }

    /// The group the record belongs to, which picks its `__consumer_offsets` partition.
    pub fn group_id(&self) -> Option<&str> {
        match self {
            Record::GroupMetadata { group_id, .. }
            | Record::GroupTombstone { group_id }
            | Record::OffsetCommit { group_id, .. }
            | Record::OffsetTombstone { group_id, .. }
            | Record::GroupHistory { group_id, .. }
            | Record::GroupHistoryTombstone { group_id, .. }
            | Record::Group { group_id, .. } => Some(group_id),
            Record::RetentionCheckScheduled { .. } => None,
        }
    }
}

/// A live change to one group. Each mirrors one step of Kafka's in-memory group handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupEvent {
    /// `transitionTo`: asserts the edge is legal; stamps the state time.
    StateChanged {
        state: GroupState,
        at_ms: i64,
    },
    /// A member joins (with its parked JoinGroup, if any).
    MemberAdded {
        member: Member,
    },
    /// A known member rejoined with (possibly) new protocols and timeouts.
    MemberUpdated {
        member_id: String,
        protocols: Vec<Protocol>,
        rebalance_timeout_ms: i32,
        session_timeout_ms: i32,
        awaiting_join: Option<HeldRequest>,
    },
    /// The member is gone, for `reason`. Its held requests were answered by the same decision.
    MemberRemoved {
        member_id: String,
        reason: RebalanceReason,
    },
    /// A rebalance starts (the group moves to PreparingRebalance) because of `reason`; the
    /// first cause since the last completed generation is the one its history records.
    RebalanceStarted {
        reason: RebalanceReason,
        at_ms: i64,
    },
    /// MEMBER_ID_REQUIRED handed out an id; the member must rejoin with it before the deadline.
    PendingMemberAdded {
        member_id: String,
        deadline_ms: i64,
    },
    PendingMemberRemoved {
        member_id: String,
    },
    /// A static member rejoined without its member id: the member keeps everything but its id.
    StaticMemberReplaced {
        group_instance_id: String,
        old_member_id: String,
        new_member_id: String,
    },
    /// The join phase completed for this member: its parked JoinGroup (if any) is answered,
    /// it is no longer new, its session restarts and it now owes a SyncGroup.
    MemberJoinCompleted {
        member_id: String,
        heartbeat_deadline_ms: i64,
    },
    /// The member's parked JoinGroup was answered.
    JoinAnswered {
        member_id: String,
    },
    /// The member's SyncGroup is parked until the leader's assignment arrives.
    SyncHeld {
        member_id: String,
        request: HeldRequest,
    },
    /// The member's parked SyncGroup was answered; its session restarts if a deadline is given.
    SyncAnswered {
        member_id: String,
        heartbeat_deadline_ms: Option<i64>,
    },
    /// Set or cancel a member's (or pending member's) session deadline.
    HeartbeatScheduled {
        member_id: String,
        deadline_ms: Option<i64>,
    },
    LeaderChanged {
        leader_id: Option<String>,
    },
    /// `initNextGeneration`: generation + 1, the selected protocol, and CompletingRebalance
    /// (or Empty when no member is left); pending syncs are cleared.
    GenerationStarted {
        protocol_name: Option<String>,
        at_ms: i64,
    },
    /// Every member's assignment (members not listed get an empty one).
    AssignmentsSet {
        assignments: Vec<(String, Bytes)>,
    },
    PendingSyncRemoved {
        member_id: String,
    },
    PendingSyncCleared,
    /// Kafka's `newMemberAdded` flag, which extends the initial rebalance delay.
    NewMemberAddedSet {
        value: bool,
    },
    JoinTimerSet {
        timer: Option<JoinTimer>,
    },
    SyncTimerSet {
        timer: Option<SyncTimer>,
    },
    /// The group was loaded from its GroupMetadata record: its members' sessions start now
    /// (Kafka's `onLoaded`).
    Activated {
        at_ms: i64,
    },
}
