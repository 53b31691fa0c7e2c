//! What the client knows about the cluster, and the connections it keeps to it.
//!
//! Owns: bootstrapping, the latest Metadata snapshot, one pooled connection per broker,
//! and the coordinator lookup (FindCoordinator) with its cache. Producer, consumer and admin
//! share one `Cluster`; none of them opens sockets itself.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use kafka_protocol::messages::{
    ApiKey, FindCoordinatorRequest, MetadataRequest, MetadataResponse, TopicName,
};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::protocol::StrBytes;

use crate::config::ClientConfig;
use crate::conn::Connection;
use crate::error::{Error, Result};

/// Error codes after which FindCoordinator is worth asking again.
const COORDINATOR_RETRIABLE_CODES: [i16; 3] = [14, 15, 16];

/// Which kind of coordinator FindCoordinator looks up (its `key_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoordinatorKind {
    Group = 0,
    Transaction = 1,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

impl BrokerInfo {
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    pub partition: i32,
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub offline_replicas: Vec<i32>,
    pub error_code: i16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub error_code: i16,
    pub topic_id: uuid::Uuid,
    pub is_internal: bool,
    /// Sorted by partition index.
    pub partitions: Vec<PartitionInfo>,
}

/// One Metadata answer, merged into what the client already knew.
#[derive(Debug, Clone)]
pub struct Metadata {
    pub cluster_id: Option<String>,
    pub controller_id: i32,
    pub brokers: BTreeMap<i32, BrokerInfo>,
    pub topics: BTreeMap<String, TopicInfo>,
    pub fetched_at: Instant,
}

impl Metadata {
    fn empty() -> Metadata {
        Metadata { cluster_id: None, controller_id: -1, brokers: BTreeMap::new(), topics: BTreeMap::new(), fetched_at: Instant::now() }
    }

    /// Partition count of a topic the last refresh found without error.
    pub fn partition_count(&self, topic: &str) -> Option<usize> {
        self.topics.get(topic).filter(|t| t.error_code == 0).map(|t| t.partitions.len())
    }

    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionInfo> {
        self.topics.get(topic)?.partitions.iter().find(|p| p.partition == partition)
    }

    /// Merges a response: brokers and cluster facts are replaced; topics are replaced when
    /// the request asked for all of them, otherwise updated one by one.
    fn merged(&self, response: &MetadataResponse, all_topics: bool) -> Metadata {
        let brokers = response
            .brokers
            .iter()
            .map(|b| {
                let info = BrokerInfo {
                    node_id: b.node_id.0,
                    host: b.host.to_string(),
                    port: b.port,
                    rack: b.rack.as_ref().map(|r| r.to_string()),
                };
                (info.node_id, info)
            })
            .collect();
        let mut topics = if all_topics { BTreeMap::new() } else { self.topics.clone() };
        for topic in &response.topics {
            let Some(name) = topic.name.as_ref().map(|n| n.0.to_string()) else { continue };
            let mut partitions: Vec<PartitionInfo> = topic
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    partition: p.partition_index,
                    leader: p.leader_id.0,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                    offline_replicas: p.offline_replicas.iter().map(|b| b.0).collect(),
                    error_code: p.error_code,
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            let info = TopicInfo {
                name: name.clone(),
                error_code: topic.error_code,
                topic_id: topic.topic_id,
                is_internal: topic.is_internal,
                partitions,
            };
            topics.insert(name, info);
        }
        Metadata {
            cluster_id: response.cluster_id.as_ref().map(|c| c.to_string()),
            controller_id: response.controller_id.0,
            brokers,
            topics,
            fetched_at: Instant::now(),
        }
    }
}

/// Shared view of the cluster. Cheap to clone; clones share connections and metadata.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    metadata: RwLock<Arc<Metadata>>,
    connections: Mutex<HashMap<i32, Connection>>,
    /// A connection to a bootstrap address, used until a broker's node id is known.
    bootstrap: Mutex<Option<Connection>>,
    /// Addresses learned outside Metadata (FindCoordinator answers).
    extra_addrs: Mutex<HashMap<i32, String>>,
    coordinators: Mutex<HashMap<(CoordinatorKind, String), i32>>,
}

impl Cluster {
    /// Connects to the first reachable bootstrap server and fetches the broker list.
    pub async fn connect(config: ClientConfig) -> Result<Cluster> {
        if config.bootstrap_servers.is_empty() {
            return Err(Error::Config("no bootstrap servers".into()));
        }
        let cluster = Cluster {
            inner: Arc::new(Inner {
                config,
                metadata: RwLock::new(Arc::new(Metadata::empty())),
                connections: Mutex::new(HashMap::new()),
                bootstrap: Mutex::new(None),
                extra_addrs: Mutex::new(HashMap::new()),
                coordinators: Mutex::new(HashMap::new()),
            }),
        };
        cluster.refresh(Some(&[]), false).await?;
        Ok(cluster)
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The last metadata snapshot; no network.
    pub fn metadata(&self) -> Arc<Metadata> {
        read(&self.inner.metadata).clone()
    }

    /// Fetches Metadata for `topics` (`None`: every topic) and merges it into the snapshot.
    /// Topics are auto-created only when `allow_auto_create` is set and the broker allows it.
    pub async fn refresh(&self, topics: Option<&[String]>, allow_auto_create: bool) -> Result<Arc<Metadata>> {
        let request_topics = topics.map(|names| {
            names
                .iter()
                .map(|n| MetadataRequestTopic::default().with_name(Some(TopicName(StrBytes::from_string(n.clone())))))
                .collect()
        });
        let request = MetadataRequest::default()
            .with_topics(request_topics)
            .with_allow_auto_topic_creation(allow_auto_create);
        let mut last_error = None;
        for attempt in 0..self.candidate_count() {
            let connection = match self.any_broker_from(attempt).await {
                Ok(connection) => connection,
                Err(error) => {
                    last_error = Some(error);
                    continue;
                }
            };
            match connection.send(request.clone()).await {
                Ok(response) => {
                    let merged = Arc::new(self.metadata().merged(&response, topics.is_none()));
                    *write(&self.inner.metadata) = merged.clone();
                    return Ok(merged);
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or(Error::NotFound("no reachable broker".into())))
    }

    /// A connection to broker `node_id`, reusing an open one.
    pub async fn broker(&self, node_id: i32) -> Result<Connection> {
        if let Some(open) = lock(&self.inner.connections).get(&node_id).filter(|c| !c.is_closed()) {
            return Ok(open.clone());
        }
        let addr = self.addr_of(node_id).ok_or_else(|| Error::NotFound(format!("broker {node_id}")))?;
        let connection = Connection::connect(&addr, &self.inner.config).await?;
        let mut connections = lock(&self.inner.connections);
        // Another task may have connected meanwhile; keep one connection per broker.
        let kept = match connections.get(&node_id).filter(|c| !c.is_closed()) {
            Some(winner) => winner.clone(),
            None => {
                connections.insert(node_id, connection.clone());
                connection
            }
        };
        Ok(kept)
    }

    /// A connection to any reachable broker, for requests any broker can answer.
    pub async fn any_broker(&self) -> Result<Connection> {
        let mut last_error = None;
        for attempt in 0..self.candidate_count() {
            match self.any_broker_from(attempt).await {
                Ok(connection) => return Ok(connection),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or(Error::NotFound("no reachable broker".into())))
    }

    /// The leader of a partition and a connection to it; refreshes metadata once when the
    /// partition or its leader is unknown.
    pub async fn leader(&self, topic: &str, partition: i32) -> Result<(i32, Connection)> {
        let known = |m: &Metadata| m.partition(topic, partition).map(|p| p.leader).filter(|&l| l >= 0);
        let leader = match known(&self.metadata()) {
            Some(leader) => leader,
            None => {
                let fresh = self.refresh(Some(&[topic.to_string()]), false).await?;
                known(&fresh).ok_or_else(|| Error::NotFound(format!("leader of {topic}-{partition}")))?
            }
        };
        Ok((leader, self.broker(leader).await?))
    }

    /// The coordinator for a group (or transactional id), cached until invalidated.
    /// Retries while the coordinator is loading or moving, up to `request.timeout.ms`.
    pub async fn coordinator(&self, kind: CoordinatorKind, key: &str) -> Result<(i32, Connection)> {
        let cached = lock(&self.inner.coordinators).get(&(kind, key.to_string())).copied();
        if let Some(node_id) = cached {
            match self.broker(node_id).await {
                Ok(connection) => return Ok((node_id, connection)),
                Err(_) => self.invalidate_coordinator(kind, key),
            }
        }
        let deadline = Instant::now() + Duration::from_millis(self.inner.config.request_timeout_ms);
        loop {
            let (code, message, found) = self.find_coordinator(kind, key).await?;
            if code == 0 {
                let (node_id, addr) = found;
                lock(&self.inner.extra_addrs).insert(node_id, addr);
                lock(&self.inner.coordinators).insert((kind, key.to_string()), node_id);
                return Ok((node_id, self.broker(node_id).await?));
            }
            if !COORDINATOR_RETRIABLE_CODES.contains(&code) || Instant::now() >= deadline {
                return Err(Error::kafka(code, message, format!("find coordinator for {key:?}")));
            }
            tokio::time::sleep(Duration::from_millis(self.inner.config.retry_backoff_ms)).await;
        }
    }

    /// Forgets a cached coordinator, after NOT_COORDINATOR or a failed connection.
    pub fn invalidate_coordinator(&self, kind: CoordinatorKind, key: &str) {
        lock(&self.inner.coordinators).remove(&(kind, key.to_string()));
    }

    async fn find_coordinator(&self, kind: CoordinatorKind, key: &str) -> Result<(i16, Option<String>, (i32, String))> {
        let connection = self.any_broker().await?;
        let key_bytes = StrBytes::from_string(key.to_string());
        let batched = connection.version(ApiKey::FindCoordinator)? >= 4;
        let mut request = FindCoordinatorRequest::default().with_key_type(kind as i8);
        if batched {
            request.coordinator_keys = vec![key_bytes];
        } else {
            request.key = key_bytes;
        }
        let response = connection.send(request).await?;
        if batched {
            let entry = response
                .coordinators
                .into_iter()
                .next()
                .ok_or_else(|| Error::Protocol("FindCoordinator answered no coordinator".into()))?;
            let message = entry.error_message.map(|m| m.to_string());
            Ok((entry.error_code, message, (entry.node_id.0, format!("{}:{}", entry.host, entry.port))))
        } else {
            let message = response.error_message.map(|m| m.to_string());
            Ok((response.error_code, message, (response.node_id.0, format!("{}:{}", response.host, response.port))))
        }
    }

    fn addr_of(&self, node_id: i32) -> Option<String> {
        self.metadata()
            .brokers
            .get(&node_id)
            .map(BrokerInfo::addr)
            .or_else(|| lock(&self.inner.extra_addrs).get(&node_id).cloned())
    }

    /// How many distinct places `any_broker_from` can try.
    fn candidate_count(&self) -> usize {
        1 + self.metadata().brokers.len().max(self.inner.config.bootstrap_servers.len())
    }

    /// The `attempt`-th choice: an open pooled connection first, then known brokers, then
    /// bootstrap addresses (rotating so that retries move on).
    async fn any_broker_from(&self, attempt: usize) -> Result<Connection> {
        if attempt == 0 {
            let open = lock(&self.inner.connections).values().find(|c| !c.is_closed()).cloned();
            let open = open.or_else(|| lock(&self.inner.bootstrap).clone().filter(|c| !c.is_closed()));
            if let Some(open) = open {
                return Ok(open);
            }
        }
        let metadata = self.metadata();
        let brokers: Vec<i32> = metadata.brokers.keys().copied().collect();
        if !brokers.is_empty() {
            return self.broker(brokers[attempt % brokers.len()]).await;
        }
        let servers = &self.inner.config.bootstrap_servers;
        let addr = &servers[attempt % servers.len()];
        let connection = Connection::connect(addr, &self.inner.config).await?;
        *lock(&self.inner.bootstrap) = Some(connection.clone());
        Ok(connection)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section here is a single map operation: a poisoned lock is consistent.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}
