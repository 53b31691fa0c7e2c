//! Which version of each API this client speaks, and the choice per broker.
//!
//! Owns: the client's supported range per API. The minimum is the oldest version whose
//! fields the client's request builders fill correctly; the maximum stops before a version
//! that changes what a caller must send (Fetch v13 names topics by id, OffsetCommit v9 and
//! OffsetFetch v9 belong to the KIP-848 consumer protocol).

use std::collections::HashMap;

use kafka_protocol::messages::ApiKey;

/// Sent in ApiVersions v3+ so brokers can tell this client apart (KIP-511).
pub const CLIENT_SOFTWARE_NAME: &str = "runnel-client";

/// (api, min, max) this client speaks.
const CLIENT_VERSIONS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 9),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 4, 12),
    (ApiKey::OffsetCommit, 2, 8),
    (ApiKey::OffsetFetch, 1, 8),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 6),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::SaslHandshake, 1, 1),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::DescribeCluster, 0, 1),
    (ApiKey::DescribeUserScramCredentials, 0, 0),
    (ApiKey::AlterUserScramCredentials, 0, 0),
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::CreateAcls, 1, 3),
    (ApiKey::DeleteAcls, 1, 3),
];

/// The client's range for `api`, if it speaks it at all.
pub fn client_versions(api: ApiKey) -> Option<(i16, i16)> {
    CLIENT_VERSIONS.iter().find(|(key, _, _)| *key == api).map(|&(_, min, max)| (min, max))
}

/// The version to use per API key: the highest both sides speak. APIs with no common
/// version are left out, so using them fails with `UnsupportedVersion`.
pub(super) fn negotiate(broker: &HashMap<i16, (i16, i16)>) -> HashMap<i16, i16> {
    CLIENT_VERSIONS
        .iter()
        .filter_map(|&(api, client_min, client_max)| {
            let &(broker_min, broker_max) = broker.get(&(api as i16))?;
            let version = client_max.min(broker_max);
            (version >= client_min.max(broker_min)).then_some((api as i16, version))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_picks_the_highest_common_version_and_drops_disjoint_ranges() {
        let broker = HashMap::from([
            (ApiKey::Fetch as i16, (4, 17)),
            (ApiKey::Produce as i16, (3, 5)),
            (ApiKey::ListOffsets as i16, (8, 10)),
        ]);
        let chosen = negotiate(&broker);
        assert_eq!(chosen.get(&(ApiKey::Fetch as i16)), Some(&12));
        assert_eq!(chosen.get(&(ApiKey::Produce as i16)), Some(&5));
        assert_eq!(chosen.get(&(ApiKey::ListOffsets as i16)), None);
        assert_eq!(chosen.get(&(ApiKey::Metadata as i16)), None);
    }
}
