//! Runnel's consumer-group coordinator for Kafka's classic group protocol (JoinGroup,
//! SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups,
//! DeleteGroups, OffsetDelete), as a pure state machine. Apache Kafka 4's group-coordinator
//! module is the reference for every state, error code and timeout.
//!
//! # Shape
//!
//! [`GroupCoordinator::handle`] and [`GroupCoordinator::tick`] decide: they return a
//! [`Decision`] (responses and [`Record`]s) and change nothing. [`GroupCoordinator::replay`]
//! applies records and is the only code that changes state, live and when loading
//! `__consumer_offsets`. The coordinator never reads the clock (callers pass `now_ms`), never
//! touches a socket or a file, and never reads a random source (member ids are derived from
//! [`CoordinatorConfig::member_id_seed`] and the request).
//!
//! Requests that Kafka parks (a JoinGroup waiting for the rebalance, a follower's SyncGroup
//! waiting for the leader) get no response in their decision: they are recorded in the group
//! by transient records and answered, tagged with their [`RequestId`], by a later decision.
//! Every held request is answered exactly once: by the decision that completes it, or with an
//! error when its member is removed, fenced or superseded by a retry.
//!
//! Persisted records use Kafka's own `__consumer_offsets` formats ([`encode`], [`decode`]) and
//! partitioning ([`partition_for_group`]), so Kafka's tools can read Runnel's log.
//!
//! # Module map
//! - `state`: the states, the table of what each request does in each state, the transitions;
//! - `member`, `group`, `timers`: a group and its members; `group_replay`: applying records;
//! - `record`, `codec`, `wire`: records and their bytes; `partition`: the partition of a group;
//! - `decision`: decisions and the builder that applies records to a scratch copy as they are
//!   emitted; `coordinator`: the public entry points;
//! - `join`, `sync`, `heartbeat`, `leave`, `rebalance`: the group protocol; `member_id`: ids;
//!   `consumer_protocol`: reading subscribed topics out of consumer metadata;
//! - `offsets`, `offset_store`, `delete`, `describe`: offsets and administration;
//! - `request`: requests, responses and [`SERVED_VERSIONS`]; `responses`: shaping answers per
//!   API version; `error`: record decoding errors;
//! - `tick`: timers and offsets retention; `config`: limits with Kafka's defaults;
//! - `history`, `history_codec`: rebalance history (Runnel's own record type), one record per
//!   completed generation, the last [`HISTORY_GENERATIONS_MAX`] per group.
//!
//! Topic existence (which Kafka checks in `KafkaApis` before OffsetCommit and OffsetDelete
//! reach its coordinator) is an input: those requests carry the broker's [`KnownTopics`].
//!
//! # Where Runnel differs from Kafka 4 (deliberately)
//! - A JoinGroup or SyncGroup retried while the member's previous one is still parked: Kafka
//!   overwrites the parked request and never answers it; Runnel answers it with
//!   REBALANCE_IN_PROGRESS. A member removed while its SyncGroup is parked: Kafka never answers
//!   it; Runnel answers UNKNOWN_MEMBER_ID.
//! - A failed write answers the request with [`GroupCoordinator::failed_write`] and changes
//!   nothing. Kafka, for a leader's SyncGroup, also fails the parked followers with the error
//!   and rebalances; here they stay parked until the group rebalances or the sync timer fires.
//!   Kafka answers MEMBER_ID_REQUIRED even if writing a new group's record fails; Runnel
//!   answers the write error.
//! - An OffsetCommit from outside the group (generation -1) to an unknown group whose every
//!   partition fails validation (OFFSET_METADATA_TOO_LARGE) creates no group; Kafka creates an
//!   empty in-memory group that its next retention sweep removes.
//! - Where Kafka iterates a hash map (member order, protocol vote ties, leader re-election),
//!   Runnel uses member-id order.
//! - Transactional offset commits (TxnOffsetCommit, `require_stable`) are not implemented.

mod codec;
mod config;
mod consumer_protocol;
mod coordinator;
mod decision;
mod delete;
mod describe;
mod error;
mod group;
mod group_replay;
mod heartbeat;
mod history;
mod history_codec;
mod join;
mod leave;
mod member;
mod member_id;
mod offset_store;
mod offsets;
mod partition;
mod rebalance;
mod record;
mod request;
mod responses;
mod state;
mod sync;
mod tick;
mod timers;
mod wire;

pub use codec::{
    decode, encode, EncodedRecord, GROUP_HISTORY_KEY_VERSION, GROUP_HISTORY_VALUE_VERSION,
    GROUP_METADATA_KEY_VERSION, GROUP_METADATA_VALUE_VERSION, OFFSET_COMMIT_KEY_VERSION,
    OFFSET_COMMIT_VALUE_EXPIRING_VERSION, OFFSET_COMMIT_VALUE_VERSION,
};
pub use config::*;
pub use consumer_protocol::CONSUMER_PROTOCOL_TYPE;
pub use coordinator::GroupCoordinator;
pub use decision::Decision;
pub use describe::CLASSIC_GROUP_TYPE;
pub use error::CoordinatorError;
pub use group::ClassicGroup;
pub use history::{
    consumer_assignment, GenerationHistory, GroupHistory, HistoryMember, JoinedMember, LeftMember, PartitionMove,
    RebalanceReason, TopicPartitions, HISTORY_GENERATIONS_MAX, LEFT_MEMBERS_PER_GENERATION_MAX,
    MOVES_PER_GENERATION_MAX,
};
pub use member::{HeldRequest, Member, Protocol};
pub use member_id::MEMBER_ID_ATTEMPTS_MAX;
pub use partition::{java_string_hash, partition_for_group};
pub use record::{GroupEvent, GroupMetadataValue, MemberMetadata, OffsetCommitValue, Record};
pub use request::{KnownTopics, Request, RequestId, RequestKind, Response, SERVED_VERSIONS};
pub use state::GroupState;
pub use timers::{JoinTimer, JoinTimerKind, SyncTimer, TimerKey};
