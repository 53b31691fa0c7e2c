//! Everything a request handler may read: config, identity, topics, producer ids.
//!
//! One `BrokerContext` exists per broker process, shared by every connection. It owns no
//! sockets and spawns no tasks; `server` does both.

use std::sync::Arc;

use crate::config::BrokerConfig;
use crate::producer_ids::ProducerIdAllocator;
use crate::topics::TopicRegistry;

/// A host and port this broker tells clients to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertisedEndpoint {
    pub host: String,
    pub port: i32,
}

#[derive(Debug)]
pub struct BrokerContext {
    pub config: Arc<BrokerConfig>,
    pub node_id: i32,
    pub cluster_id: String,
    pub advertised: AdvertisedEndpoint,
    pub topics: TopicRegistry,
    pub producer_ids: ProducerIdAllocator,
}

/// Wall-clock milliseconds since the epoch, the unit of every Kafka timestamp.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}
