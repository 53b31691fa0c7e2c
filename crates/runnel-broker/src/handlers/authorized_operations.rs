//! Kafka's `authorized_operations` bit sets, for responses that report them.
//!
//! Without an authorizer every operation a resource supports is allowed; the bits are
//! Kafka's AclOperation codes (READ=3 .. DESCRIBE_TOKENS=14).

/// The value Kafka sends when the client did not ask for authorized operations.
pub const NOT_REQUESTED: i32 = i32::MIN;

const fn bits(operations: &[u8]) -> i32 {
    let mut set = 0;
    let mut i = 0;
    while i < operations.len() {
        set |= 1 << operations[i];
        i += 1;
    }
    set
}

/// READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.
pub const TOPIC_ALL: i32 = bits(&[3, 4, 5, 6, 7, 8, 10, 11]);
/// CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS,
/// IDEMPOTENT_WRITE, CREATE_TOKENS, DESCRIBE_TOKENS.
pub const CLUSTER_ALL: i32 = bits(&[5, 7, 8, 9, 10, 11, 12, 13, 14]);
/// READ, DELETE, DESCRIBE.
pub const GROUP_ALL: i32 = bits(&[3, 6, 8]);
