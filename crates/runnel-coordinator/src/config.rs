//! The coordinator's limits and timeouts, named after Kafka's `group.*` and `offsets.*` keys,
//! with Kafka 4's defaults.

/// Kafka's `offsets.retention.minutes` default: 7 days.
pub const OFFSETS_RETENTION_MS_DEFAULT: i64 = 7 * 24 * 60 * 60 * 1000;
/// Kafka's `offsets.retention.check.interval.ms` default.
pub const OFFSETS_RETENTION_CHECK_INTERVAL_MS_DEFAULT: i64 = 600_000;
/// Kafka's `group.initial.rebalance.delay.ms` default.
pub const INITIAL_REBALANCE_DELAY_MS_DEFAULT: i32 = 3_000;
/// Kafka's `group.min.session.timeout.ms` default.
pub const MIN_SESSION_TIMEOUT_MS_DEFAULT: i32 = 6_000;
/// Kafka's `group.max.session.timeout.ms` default.
pub const MAX_SESSION_TIMEOUT_MS_DEFAULT: i32 = 1_800_000;
/// Kafka's `group.max.size` default: unlimited.
pub const GROUP_MAX_SIZE_DEFAULT: i32 = i32::MAX;
/// Kafka's `offset.metadata.max.bytes` default.
pub const OFFSET_METADATA_MAX_BYTES_DEFAULT: i32 = 4_096;
/// Kafka's `CLASSIC_GROUP_NEW_MEMBER_JOIN_TIMEOUT_MS` (a constant there, not a config key): how
/// long a new member's parked JoinGroup may wait before the member is dropped.
pub const NEW_MEMBER_JOIN_TIMEOUT_MS_DEFAULT: i32 = 5 * 60 * 1000;

/// Everything the coordinator needs to know from the broker's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordinatorConfig {
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an empty group waits
    /// for more members (extended by each new member, up to the rebalance timeout).
    pub initial_rebalance_delay_ms: i32,
    /// `group.min.session.timeout.ms`: JoinGroup below it gets INVALID_SESSION_TIMEOUT.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`: JoinGroup above it gets INVALID_SESSION_TIMEOUT.
    pub max_session_timeout_ms: i32,
    /// `group.max.size`: members beyond it get GROUP_MAX_SIZE_REACHED.
    pub group_max_size: i32,
    /// `offsets.retention.minutes`, in milliseconds.
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms`: the period of the expiration sweep.
    pub offsets_retention_check_interval_ms: i64,
    /// `offset.metadata.max.bytes`: longer commit metadata gets OFFSET_METADATA_TOO_LARGE.
    /// Kafka compares Java's `String.length()`, i.e. UTF-16 code units, and so does Runnel.
    pub offset_metadata_max_bytes: i32,
    /// Kafka's fixed new-member join timeout (see [`NEW_MEMBER_JOIN_TIMEOUT_MS_DEFAULT`]).
    pub new_member_join_timeout_ms: i32,
    /// Mixed into generated member ids. The coordinator never reads a random source, so the
    /// broker should set this from one at startup; ids stay unique within a group regardless.
    pub member_id_seed: u64,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        Self {
            initial_rebalance_delay_ms: INITIAL_REBALANCE_DELAY_MS_DEFAULT,
            min_session_timeout_ms: MIN_SESSION_TIMEOUT_MS_DEFAULT,
            max_session_timeout_ms: MAX_SESSION_TIMEOUT_MS_DEFAULT,
            group_max_size: GROUP_MAX_SIZE_DEFAULT,
            offsets_retention_ms: OFFSETS_RETENTION_MS_DEFAULT,
            offsets_retention_check_interval_ms: OFFSETS_RETENTION_CHECK_INTERVAL_MS_DEFAULT,
            offset_metadata_max_bytes: OFFSET_METADATA_MAX_BYTES_DEFAULT,
            new_member_join_timeout_ms: NEW_MEMBER_JOIN_TIMEOUT_MS_DEFAULT,
            member_id_seed: 0,
        }
    }
}
