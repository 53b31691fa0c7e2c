//! One member of a classic group (Kafka's `ClassicGroupMember`): identity, the protocols it
//! offered, its assignment, and the requests the coordinator is holding for it.

use std::collections::BTreeSet;

use bytes::Bytes;

use crate::request::RequestId;

/// One protocol (assignor) a member offered in JoinGroup, in the member's preference order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    pub name: String,
    pub metadata: Bytes,
}

/// A request the broker is holding for a member: answered by a later decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldRequest {
    pub id: RequestId,
    /// Responses are shaped by the version the client used.
    pub api_version: i16,
}

/// A member of a classic group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    /// As Kafka records it: the client's address formatted like Java's `InetAddress.toString()`
    /// (for example "/127.0.0.1"); the broker supplies it.
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<Protocol>,
    pub assignment: Bytes,
    /// A JoinGroup parked until the join phase completes.
    pub awaiting_join: Option<HeldRequest>,
    /// A SyncGroup parked until the leader's assignment arrives.
    pub awaiting_sync: Option<HeldRequest>,
    /// Added during the current join phase: its session deadline is the new-member join
    /// timeout and it may expire even while parked in JoinGroup.
    pub is_new: bool,
}

impl Member {
    pub fn is_static(&self) -> bool {
        self.group_instance_id.is_some()
    }

    /// The metadata the member offered for `protocol`, if it offered that protocol.
    pub fn metadata(&self, protocol: &str) -> Option<&Bytes> {
        self.protocols.iter().find(|p| p.name == protocol).map(|p| &p.metadata)
    }

    /// Whether `protocols` is exactly what the member offered last time (names, metadata and
    /// order), which is when a rejoin does not force a rebalance.
    pub fn matches(&self, protocols: &[Protocol]) -> bool {
        self.protocols == protocols
    }

    /// The member's vote: its most preferred protocol among `candidates`.
    pub fn vote<'a>(&'a self, candidates: &BTreeSet<&str>) -> Option<&'a str> {
        self.protocols.iter().map(|p| p.name.as_str()).find(|name| candidates.contains(name))
    }

    /// Whether an expired session deadline should spare the member: members parked in
    /// JoinGroup or SyncGroup cannot heartbeat, unless they are new (Kafka's
    /// `hasSatisfiedHeartbeat`).
    pub fn has_satisfied_heartbeat(&self) -> bool {
        !self.is_new && (self.awaiting_join.is_some() || self.awaiting_sync.is_some())
    }

    pub fn protocol_names(&self) -> impl Iterator<Item = &str> {
        self.protocols.iter().map(|p| p.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(protocols: &[&str]) -> Member {
        Member {
            member_id: "m".into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            rebalance_timeout_ms: 1,
            session_timeout_ms: 1,
            protocol_type: "consumer".into(),
            protocols: protocols
                .iter()
                .map(|n| Protocol { name: (*n).into(), metadata: Bytes::from_static(b"x") })
                .collect(),
            assignment: Bytes::new(),
            awaiting_join: None,
            awaiting_sync: None,
            is_new: false,
        }
    }

    #[test]
    fn vote_prefers_the_members_order() {
        let m = member(&["range", "roundrobin"]);
        let both: BTreeSet<&str> = ["roundrobin", "range"].into_iter().collect();
        assert_eq!(m.vote(&both), Some("range"));
        let one: BTreeSet<&str> = ["roundrobin"].into_iter().collect();
        assert_eq!(m.vote(&one), Some("roundrobin"));
        assert_eq!(m.vote(&BTreeSet::new()), None);
    }

    #[test]
    fn new_members_never_satisfy_the_heartbeat() {
        let mut m = member(&["range"]);
        m.awaiting_join = Some(HeldRequest { id: RequestId(1), api_version: 9 });
        assert!(m.has_satisfied_heartbeat());
        m.is_new = true;
        assert!(!m.has_satisfied_heartbeat());
        m.is_new = false;
        m.awaiting_join = None;
        assert!(!m.has_satisfied_heartbeat());
    }
}
