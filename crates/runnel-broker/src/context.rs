//! Everything a request handler may read about the broker: config, identity, advertised
//! addresses, topics, producer ids. What handlers know of the client is in `session`.
//!
//! One `BrokerContext` exists per broker process, shared by every connection. It owns no
//! sockets and spawns no tasks; `server` does both.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::acl::Authorization;
use crate::admin::RequestMetrics;
use crate::config::BrokerConfig;
use crate::groups::GroupService;
use crate::producer_ids::ProducerIdAllocator;
use crate::read_buffers::ReadBuffers;
use crate::sasl::ScramCredentialStore;
use crate::topics::TopicRegistry;

/// A host and port this broker tells clients to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertisedEndpoint {
    pub host: String,
    pub port: i32,
}

/// The address clients are told to use, per listener name. Kafka answers Metadata,
/// FindCoordinator and DescribeCluster with the endpoint of the listener the request came in
/// on; a listener missing from advertised.listeners has no endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdvertisedListeners {
    by_listener: BTreeMap<String, AdvertisedEndpoint>,
}

impl AdvertisedListeners {
    pub fn new(endpoints: impl IntoIterator<Item = (String, AdvertisedEndpoint)>) -> AdvertisedListeners {
        AdvertisedListeners { by_listener: endpoints.into_iter().collect() }
    }

    /// The endpoint advertised for `listener` (an upper-cased listener name).
    pub fn get(&self, listener: &str) -> Option<&AdvertisedEndpoint> {
        self.by_listener.get(listener)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &AdvertisedEndpoint)> {
        self.by_listener.iter().map(|(name, endpoint)| (name.as_str(), endpoint))
    }
}

#[derive(Debug)]
pub struct BrokerContext {
    pub config: Arc<BrokerConfig>,
    pub node_id: i32,
    pub cluster_id: String,
    pub advertised: AdvertisedListeners,
    pub topics: TopicRegistry,
    pub producer_ids: ProducerIdAllocator,
    pub groups: GroupService,
    /// SCRAM users; handlers see their mechanisms and iteration counts, never their secrets.
    pub scram_credentials: ScramCredentialStore,
    /// ACLs, when an authorizer is configured; handlers ask through `handlers::authorize`.
    pub authorization: Authorization,
    /// Per-API request counts, latencies and bytes, for the admin listener's /metrics.
    pub request_metrics: RequestMetrics,
    /// Buffers fetches read into, reused once their response is written.
    pub read_buffers: Arc<ReadBuffers>,
}

/// Wall-clock milliseconds since the epoch, the unit of every Kafka timestamp.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod testing {
    //! A real context over a temporary log directory, for handler tests.

    use std::sync::Arc;

    use super::{AdvertisedEndpoint, AdvertisedListeners, BrokerContext};
    use crate::config::BrokerConfig;
    use crate::groups::GroupService;
    use crate::producer_ids::ProducerIdAllocator;
    use crate::topics::TopicRegistry;

    pub fn context(dir: &std::path::Path) -> BrokerContext {
        let map = [("log.dirs".to_string(), dir.display().to_string())].into();
        let (config, _) = BrokerConfig::from_map(&map).expect("test config");
        let config = Arc::new(config);
        let topics = TopicRegistry::open(dir, Arc::new(runnel_log::FileStorage::new()), config.clone(), super::now_ms())
            .expect("test topics");
        let groups = GroupService::load(&config, &topics).expect("test groups");
        BrokerContext {
            groups,
            node_id: config.node_id,
            config,
            cluster_id: "test-cluster-id-000000".into(),
            advertised: AdvertisedListeners::new([(
                "PLAINTEXT".to_string(),
                AdvertisedEndpoint { host: "127.0.0.1".into(), port: 9092 },
            )]),
            topics,
            producer_ids: ProducerIdAllocator::open(dir).expect("test producer ids"),
            scram_credentials: crate::sasl::ScramCredentialStore::open(dir).expect("test SCRAM credentials"),
            authorization: crate::acl::Authorization::disabled(),
            request_metrics: crate::admin::RequestMetrics::default(),
            read_buffers: Default::default(),
        }
    }
}
