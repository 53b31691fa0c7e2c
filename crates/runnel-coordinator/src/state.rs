//! The classic group states, the table of what each request does in each state, and the
//! legal transitions between states (Kafka's `ClassicGroupState`).
//!
//! # What each request does in each state
//!
//! "held" means the request gets no response yet: it is parked in the group (as state created
//! by a transient record) and answered by a later decision. "Dead" is the state of a group that
//! does not exist (never created, or removed by a tombstone): Kafka 4's coordinator removes a
//! group from its map when it dies, and so does Runnel, so a stored group is never Dead.
//!
//! | request \ state | Empty | PreparingRebalance | CompletingRebalance | Stable | Dead (absent) |
//! |---|---|---|---|---|---|
//! | JoinGroup, no member id, v4+ dynamic | pending member, MEMBER_ID_REQUIRED | same | same | same | group created (empty GroupMetadata written), then as Empty |
//! | JoinGroup, no member id, v0-3 or static | member added, held; -> PreparingRebalance (initial delay) | added, held; join may complete | added, held; -> PreparingRebalance (held syncs get REBALANCE_IN_PROGRESS) | added, held; -> PreparingRebalance | created, then as Empty |
//! | JoinGroup, static member rejoins with no member id | - | id replaced (old id fenced), held | replaced, held; -> PreparingRebalance | replaced; same protocol: GroupMetadata written and answered at once, else -> PreparingRebalance | - |
//! | JoinGroup, pending member id | member added, held; -> PreparingRebalance | added, held | added; -> PreparingRebalance | added; -> PreparingRebalance | UNKNOWN_MEMBER_ID |
//! | JoinGroup, known member | UNKNOWN_MEMBER_ID | updated, held; join completes when all have joined | same metadata: current generation (leader gets members); else -> PreparingRebalance | leader or new metadata: -> PreparingRebalance; else current generation | UNKNOWN_MEMBER_ID |
//! | SyncGroup | UNKNOWN_MEMBER_ID | REBALANCE_IN_PROGRESS | follower held; leader: GroupMetadata with assignments written, every held sync answered, -> Stable | the member's assignment | UNKNOWN_MEMBER_ID |
//! | Heartbeat | UNKNOWN_MEMBER_ID | REBALANCE_IN_PROGRESS, session extended | NONE, session extended | NONE, session extended | UNKNOWN_MEMBER_ID |
//! | LeaveGroup | UNKNOWN_MEMBER_ID (pending members may leave) | member removed; join may complete | removed; -> PreparingRebalance | removed; -> PreparingRebalance | UNKNOWN_MEMBER_ID per member |
//! | OffsetCommit, member + generation | UNKNOWN_MEMBER_ID | accepted (previous generation), session extended | REBALANCE_IN_PROGRESS | accepted, session extended | v9: GROUP_ID_NOT_FOUND, else ILLEGAL_GENERATION |
//! | OffsetCommit, generation -1, no member id | accepted (how `--reset-offsets` works) | UNKNOWN_MEMBER_ID | UNKNOWN_MEMBER_ID | UNKNOWN_MEMBER_ID | simple group created, accepted |
//! | OffsetFetch | offsets | offsets | offsets | offsets | -1 for every asked partition / no topics |
//! | DescribeGroups | "Empty", no members | members without metadata | members without metadata | protocol and members with metadata | "Dead" (v6: GROUP_ID_NOT_FOUND) |
//! | ListGroups | listed | listed | listed | listed | not listed |
//! | DeleteGroups | offsets and group tombstoned | NON_EMPTY_GROUP | NON_EMPTY_GROUP | NON_EMPTY_GROUP | GROUP_ID_NOT_FOUND |
//! | OffsetDelete | tombstones (GROUP_SUBSCRIBED_TO_TOPIC for subscribed topics) | NON_EMPTY_GROUP unless protocol type "consumer" | same | same | GROUP_ID_NOT_FOUND |
//!
//! Timers (fired by `tick`): a member's session (heartbeat) deadline removes it unless it is
//! parked in a JoinGroup or SyncGroup; a pending member's deadline removes it; the join timer
//! completes the join phase (removing dynamic members that did not rejoin) after the initial
//! delay or the rebalance timeout; the sync timer removes members that did not send SyncGroup
//! within the rebalance timeout and rebalances; the retention sweep expires offsets and removes
//! empty groups without offsets.
//!
//! # Transitions
//!
//! | to | legal from |
//! |---|---|
//! | Empty | PreparingRebalance |
//! | PreparingRebalance | Stable, CompletingRebalance, Empty |
//! | CompletingRebalance | PreparingRebalance |
//! | Stable | CompletingRebalance |
//! | Dead | every state |

/// A classic group's state, printed exactly as Kafka prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// Every state, for tables and tests.
    pub const ALL: [GroupState; 5] = [
        GroupState::Empty,
        GroupState::PreparingRebalance,
        GroupState::CompletingRebalance,
        GroupState::Stable,
        GroupState::Dead,
    ];

    /// The name DescribeGroups and ListGroups report.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }

    /// The lower-case name ListGroups' states filter is compared against.
    pub fn lower_case_name(self) -> &'static str {
        match self {
            GroupState::Empty => "empty",
            GroupState::PreparingRebalance => "preparingrebalance",
            GroupState::CompletingRebalance => "completingrebalance",
            GroupState::Stable => "stable",
            GroupState::Dead => "dead",
        }
    }

    /// The states a group must be in to move to `self`.
    pub fn valid_previous_states(self) -> &'static [GroupState] {
        use GroupState::*;
        match self {
            Empty => &[PreparingRebalance],
            PreparingRebalance => &[Stable, CompletingRebalance, Empty],
            CompletingRebalance => &[PreparingRebalance],
            Stable => &[CompletingRebalance],
            Dead => &[Stable, PreparingRebalance, CompletingRebalance, Empty, Dead],
        }
    }

    /// Whether a group in `from` may move to `self`.
    pub fn can_follow(self, from: GroupState) -> bool {
        self.valid_previous_states().contains(&from)
    }
}

impl std::fmt::Display for GroupState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_table_matches_kafka() {
        use GroupState::*;
        let legal = |to: GroupState, from: GroupState| to.can_follow(from);
        assert!(legal(PreparingRebalance, Empty));
        assert!(legal(CompletingRebalance, PreparingRebalance));
        assert!(legal(Stable, CompletingRebalance));
        assert!(legal(PreparingRebalance, Stable));
        assert!(legal(Empty, PreparingRebalance));
        assert!(!legal(Stable, Empty));
        assert!(!legal(Stable, PreparingRebalance));
        assert!(!legal(CompletingRebalance, Stable));
        assert!(!legal(Empty, Stable));
        assert!(!legal(Empty, CompletingRebalance));
        for from in GroupState::ALL {
            assert!(legal(Dead, from));
        }
        for to in [Empty, PreparingRebalance, CompletingRebalance, Stable] {
            assert!(!legal(to, Dead), "nothing leaves Dead, not even {to}");
        }
    }

    #[test]
    fn names_are_kafkas() {
        let names: Vec<&str> = GroupState::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names, ["Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"]);
        for state in GroupState::ALL {
            assert_eq!(state.lower_case_name(), state.name().to_lowercase());
        }
    }
}
