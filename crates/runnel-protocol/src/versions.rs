//! The API versions Runnel advertises, and which of them it can actually serve.
//!
//! Two ranges per API: the advertised range (what ApiVersions lists) and the served range
//! (what handlers accept). They differ only where old clients need an old minimum to be
//! advertised before they enable a feature (librdkafka checks Produce v0 for compression,
//! OffsetCommit v0-1 and OffsetFetch v1 for groups) while Kafka 4 itself rejects those
//! versions at request time. Nothing is advertised that is not implemented: Java and
//! librdkafka start using an API as soon as they see it.

use kafka_protocol::messages::ApiKey;

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiSupport {
    pub key: ApiKey,
    pub advertised_min: i16,
    pub max: i16,
    pub served_min: i16,
}

impl ApiSupport {
    pub fn serves(&self, version: i16) -> bool {
        version >= self.served_min && version <= self.max
    }
}

const fn row(key: ApiKey, advertised_min: i16, served_min: i16, max: i16) -> ApiSupport {
    ApiSupport { key, advertised_min, max, served_min }
}

/// Every API Runnel implements.
pub const SUPPORTED_APIS: &[ApiSupport] = &[
    row(ApiKey::Produce, 0, 3, 11),
    row(ApiKey::Fetch, 4, 4, 12),
    row(ApiKey::ListOffsets, 1, 1, 7),
    row(ApiKey::Metadata, 0, 0, 12),
    row(ApiKey::ApiVersions, 0, 0, 4),
    row(ApiKey::CreateTopics, 2, 2, 7),
    row(ApiKey::DeleteTopics, 1, 1, 6),
    row(ApiKey::InitProducerId, 0, 0, 5),
    row(ApiKey::OffsetForLeaderEpoch, 2, 2, 4),
    row(ApiKey::DescribeConfigs, 1, 1, 4),
    row(ApiKey::AlterConfigs, 0, 0, 2),
    row(ApiKey::CreatePartitions, 0, 0, 3),
    row(ApiKey::IncrementalAlterConfigs, 0, 0, 1),
    row(ApiKey::DescribeCluster, 0, 0, 1),
    row(ApiKey::FindCoordinator, 0, 0, 4),
    row(ApiKey::JoinGroup, 0, 0, 9),
    row(ApiKey::SyncGroup, 0, 0, 5),
    row(ApiKey::Heartbeat, 0, 0, 4),
    row(ApiKey::LeaveGroup, 0, 0, 5),
    // librdkafka <= 2.11 enables groups only when OffsetCommit v0-1 are advertised; Kafka 4
    // serves from v2, as do we.
    row(ApiKey::OffsetCommit, 0, 2, 9),
    row(ApiKey::OffsetFetch, 1, 1, 9),
    // v6 answers an unknown group with GROUP_ID_NOT_FOUND, which kafka-consumer-groups
    // reports as Kafka 4 does.
    row(ApiKey::DescribeGroups, 0, 0, 6),
    row(ApiKey::ListGroups, 0, 0, 5),
    row(ApiKey::DeleteGroups, 0, 0, 2),
    row(ApiKey::OffsetDelete, 0, 0, 0),
    // Kafka 4.0 removed v0 of the ACL APIs.
    row(ApiKey::DescribeAcls, 1, 1, 3),
    row(ApiKey::CreateAcls, 1, 1, 3),
    row(ApiKey::DeleteAcls, 1, 1, 3),
    // As Kafka 4.1: handshake v0 (raw tokens after it, KIP-43) and v1 (SaslAuthenticate, KIP-152).
    row(ApiKey::SaslHandshake, 0, 0, 1),
    row(ApiKey::SaslAuthenticate, 0, 0, 2),
    row(ApiKey::DescribeUserScramCredentials, 0, 0, 0),
    row(ApiKey::AlterUserScramCredentials, 0, 0, 0),
];

/// The row for `key`, if Runnel implements that API at all.
pub fn support_for(key: ApiKey) -> Option<&'static ApiSupport> {
    SUPPORTED_APIS.iter().find(|support| support.key == key)
}

/// The highest ApiVersions version Runnel serves; a client asking for more gets the v0
/// UNSUPPORTED_VERSION fallback.
pub const API_VERSIONS_MAX: i16 = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_range_lies_inside_the_advertised_one_and_the_codec() {
        for support in SUPPORTED_APIS {
            assert!(support.advertised_min <= support.served_min, "{:?}", support.key);
            assert!(support.served_min <= support.max, "{:?}", support.key);
            let codec = support.key.valid_versions();
            assert!(support.served_min >= codec.min && support.max <= codec.max, "{:?}", support.key);
        }
    }

    #[test]
    fn table_has_no_duplicate_keys() {
        for (i, a) in SUPPORTED_APIS.iter().enumerate() {
            assert!(SUPPORTED_APIS[i + 1..].iter().all(|b| b.key != a.key));
        }
    }
}
