//! The broker's topics: which exist, their partitions and their config overrides.
//!
//! Reads are lock-free snapshots (`Arc<Topic>`); every change (create, delete, add
//! partitions, alter configs) is serialised by one mutex, persisted to `topics.json`, and
//! then published by swapping the topic's `Arc`. A `Topic` is immutable once published.

mod group_commit;
mod names;
mod partition;
mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use runnel_log::{LogError, PartitionLog, Storage};
use uuid::Uuid;

pub use names::{collision_key, validate_topic_name, TOPIC_NAME_LENGTH_MAX};
pub use group_commit::GroupCommit;
pub use partition::{check_leader_epoch, Appended, Partition, LEADER_EPOCH};
pub use store::{StoredTopic, TopicStore, TopicStoreError};

use crate::config::topic::{effective_topic_settings, log_config_from, TopicSettings};
use crate::config::BrokerConfig;

/// Kafka's cap on partitions per topic is the broker's memory; ours is a named limit so a
/// typo like 10000000 is refused instead of creating ten million directories.
pub const PARTITIONS_PER_TOPIC_MAX: i32 = 100_000;

/// Topics only the broker writes; clients get INVALID_TOPIC_EXCEPTION when producing to them.
pub const INTERNAL_TOPICS: &[&str] = &["__consumer_offsets", "__transaction_state"];

/// A published topic. Immutable: changes publish a new one.
#[derive(Debug)]
pub struct Topic {
    pub name: String,
    pub id: Uuid,
    /// The overrides as stored; `settings` is what they resolve to on this broker.
    pub configs: BTreeMap<String, String>,
    pub settings: TopicSettings,
    pub partitions: Vec<Arc<Partition>>,
}

impl Topic {
    pub fn partition(&self, index: i32) -> Option<&Arc<Partition>> {
        usize::try_from(index).ok().and_then(|i| self.partitions.get(i))
    }

    /// Kafka's internal topics: written only by the broker itself.
    pub fn is_internal(&self) -> bool {
        INTERNAL_TOPICS.contains(&self.name.as_str())
    }

    fn stored(&self) -> StoredTopic {
        StoredTopic {
            name: self.name.clone(),
            id: self.id,
            partitions: self.partitions.len() as i32,
            configs: self.configs.clone(),
        }
    }
}

/// What went wrong with a topic operation; each maps to one Kafka error code.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("Topic '{0}' already exists.")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidName(String),
    #[error("{0}")]
    InvalidPartitions(String),
    #[error("{0}")]
    InvalidReplicationFactor(String),
    #[error("{0}")]
    InvalidConfig(String),
    #[error("{0}")]
    InvalidReplicaAssignment(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("This server does not host this topic-partition.")]
    UnknownTopic,
    #[error("{0}")]
    Log(#[from] LogError),
    #[error("{0}")]
    Store(#[from] TopicStoreError),
}

impl TopicError {
    pub fn code(&self) -> i16 {
        use kafka_protocol::error::ResponseError as E;
        use runnel_protocol::kafka_protocol;
        match self {
            TopicError::AlreadyExists(_) => E::TopicAlreadyExists.code(),
            TopicError::InvalidName(_) => E::InvalidTopicException.code(),
            TopicError::InvalidPartitions(_) => E::InvalidPartitions.code(),
            TopicError::InvalidReplicationFactor(_) => E::InvalidReplicationFactor.code(),
            TopicError::InvalidConfig(_) => E::InvalidConfig.code(),
            TopicError::InvalidReplicaAssignment(_) => E::InvalidReplicaAssignment.code(),
            TopicError::InvalidRequest(_) => E::InvalidRequest.code(),
            TopicError::UnknownTopic => E::UnknownTopicOrPartition.code(),
            TopicError::Log(_) | TopicError::Store(_) => E::KafkaStorageError.code(),
        }
    }
}

/// A topic to create, with defaults already resolved.
#[derive(Debug, Clone)]
pub struct NewTopic {
    pub name: String,
    pub partitions: i32,
    pub configs: BTreeMap<String, String>,
}

pub struct TopicRegistry {
    log_dir: PathBuf,
    storage: Arc<dyn Storage>,
    broker_config: Arc<BrokerConfig>,
    store: TopicStore,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    changes: Mutex<()>,
    group_commit: GroupCommit,
}

impl std::fmt::Debug for TopicRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicRegistry").field("log_dir", &self.log_dir).finish_non_exhaustive()
    }
}

impl TopicRegistry {
    /// Loads `topics.json` and opens (recovering) every partition log.
    pub fn open(
        log_dir: &Path,
        storage: Arc<dyn Storage>,
        broker_config: Arc<BrokerConfig>,
        now_ms: i64,
    ) -> Result<Self, TopicError> {
        let store = TopicStore::new(log_dir);
        let mut topics = BTreeMap::new();
        for stored in store.load()? {
            let settings = effective_topic_settings(&broker_config, &stored.configs);
            let log_config = log_config_from(&broker_config, &settings);
            let mut partitions = Vec::with_capacity(stored.partitions as usize);
            for index in 0..stored.partitions {
                let dir = partition_dir(log_dir, &stored.name, index);
                let log = PartitionLog::open(storage.clone(), &dir, log_config.clone(), now_ms)?;
                partitions.push(Arc::new(Partition::new(stored.name.clone(), index, log)));
            }
            let topic = Topic { name: stored.name.clone(), id: stored.id, configs: stored.configs, settings, partitions };
            topics.insert(stored.name, Arc::new(topic));
        }
        Ok(Self {
            log_dir: log_dir.to_path_buf(),
            storage,
            broker_config,
            store,
            topics: RwLock::new(topics),
            changes: Mutex::new(()),
            group_commit: GroupCommit::new(),
        })
    }

    /// The broker's flusher: produce requests that must be durable wait on it.
    pub fn group_commit(&self) -> &GroupCommit {
        &self.group_commit
    }

    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().get(name).cloned()
    }

    pub fn get_by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        self.topics.read().values().find(|topic| topic.id == id).cloned()
    }

    pub fn all(&self) -> Vec<Arc<Topic>> {
        self.topics.read().values().cloned().collect()
    }

    pub fn partition(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        self.get(topic).and_then(|topic| topic.partition(index).cloned())
    }

    /// Checks a creation as Kafka does; with `validate_only` nothing is created.
    pub fn create(&self, new: NewTopic, validate_only: bool, now_ms: i64) -> Result<Arc<Topic>, TopicError> {
        validate_topic_name(&new.name).map_err(TopicError::InvalidName)?;
        if new.partitions <= 0 {
            return Err(TopicError::InvalidPartitions("Number of partitions must be larger than 0.".into()));
        }
        if new.partitions > PARTITIONS_PER_TOPIC_MAX {
            return Err(TopicError::InvalidPartitions(format!(
                "Number of partitions {} exceeds Runnel's limit of {PARTITIONS_PER_TOPIC_MAX}.",
                new.partitions
            )));
        }
        let _changing = self.changes.lock();
        let existing = self.topics.read();
        if existing.contains_key(&new.name) {
            return Err(TopicError::AlreadyExists(new.name));
        }
        let key = collision_key(&new.name);
        if let Some(other) = existing.keys().find(|name| collision_key(name) == key) {
            return Err(TopicError::InvalidName(format!(
                "Topic '{}' collides with existing topic: {other}",
                new.name
            )));
        }
        drop(existing);
        let id = Uuid::new_v4();
        let settings = effective_topic_settings(&self.broker_config, &new.configs);
        if validate_only {
            return Ok(Arc::new(Topic { name: new.name, id, configs: new.configs, settings, partitions: Vec::new() }));
        }
        let partitions = self.open_new_partitions(&new.name, 0..new.partitions, &settings, now_ms)?;
        let topic = Arc::new(Topic { name: new.name.clone(), id, configs: new.configs, settings, partitions });
        self.publish(topic.clone())?;
        tracing::info!(topic = %topic.name, partitions = topic.partitions.len(), "created topic");
        Ok(topic)
    }

    /// Grows a topic to `count` partitions.
    pub fn add_partitions(&self, name: &str, count: i32, validate_only: bool, now_ms: i64) -> Result<(), TopicError> {
        let _changing = self.changes.lock();
        let topic = self.get(name).ok_or(TopicError::UnknownTopic)?;
        let current = topic.partitions.len() as i32;
        if count < current {
            return Err(TopicError::InvalidPartitions(format!(
                "The topic {name} currently has {current} partition(s); {count} would not be an increase."
            )));
        }
        if count == current {
            return Err(TopicError::InvalidPartitions(format!("Topic already has {current} partition(s).")));
        }
        if count > PARTITIONS_PER_TOPIC_MAX {
            return Err(TopicError::InvalidPartitions(format!(
                "Number of partitions {count} exceeds Runnel's limit of {PARTITIONS_PER_TOPIC_MAX}."
            )));
        }
        if validate_only {
            return Ok(());
        }
        let mut partitions = topic.partitions.clone();
        partitions.extend(self.open_new_partitions(name, current..count, &topic.settings, now_ms)?);
        let grown = Topic {
            name: topic.name.clone(),
            id: topic.id,
            configs: topic.configs.clone(),
            settings: topic.settings.clone(),
            partitions,
        };
        self.publish(Arc::new(grown))?;
        tracing::info!(topic = name, from = current, to = count, "added partitions");
        Ok(())
    }

    /// Alters a topic's config overrides: `change` computes the new overrides from the current
    /// ones, or says why not. It runs under the change lock, so two concurrent alters cannot
    /// lose each other's keys. A topic that does not exist is given empty overrides and is
    /// reported unknown only if `change` accepts them, as Kafka's controller validates before
    /// it checks existence. The new overrides are persisted, published, then applied to the
    /// live logs; with `validate_only`, or when nothing changes, nothing is written.
    pub fn alter_configs(
        &self,
        name: &str,
        validate_only: bool,
        change: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, TopicError>,
    ) -> Result<(), TopicError> {
        let _changing = self.changes.lock();
        let topic = self.get(name);
        let none = BTreeMap::new();
        let configs = change(topic.as_ref().map_or(&none, |topic| &topic.configs))?;
        let topic = topic.ok_or(TopicError::UnknownTopic)?;
        if validate_only || configs == topic.configs {
            return Ok(());
        }
        let settings = effective_topic_settings(&self.broker_config, &configs);
        let log_config = log_config_from(&self.broker_config, &settings);
        let changed =
            Topic { name: topic.name.clone(), id: topic.id, configs, settings, partitions: topic.partitions.clone() };
        self.publish(Arc::new(changed))?;
        for partition in &topic.partitions {
            partition.set_config(log_config.clone());
        }
        tracing::info!(topic = name, "altered topic configs");
        Ok(())
    }

    /// Deletes a topic and its data. Fetches holding its partitions finish on the old `Arc`.
    pub fn delete(&self, name: &str) -> Result<Arc<Topic>, TopicError> {
        let _changing = self.changes.lock();
        let topic = self.get(name).ok_or(TopicError::UnknownTopic)?;
        let remaining: Vec<StoredTopic> =
            self.topics.read().values().filter(|t| t.name != name).map(|t| t.stored()).collect();
        self.store.save(&remaining)?;
        self.topics.write().remove(name);
        for partition in &topic.partitions {
            let dir = partition_dir(&self.log_dir, &topic.name, partition.index);
            if let Err(error) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), %error, "could not remove a deleted partition's directory");
            }
        }
        tracing::info!(topic = name, "deleted topic");
        Ok(topic)
    }

    /// Flushes and closes every log cleanly (writes producer snapshots and clean markers).
    pub fn close_all(&self) {
        let topics = std::mem::take(&mut *self.topics.write());
        for topic in topics.into_values() {
            let Ok(topic) = Arc::try_unwrap(topic) else {
                tracing::warn!("topic still in use at shutdown; its logs are flushed but not marked clean");
                continue;
            };
            for partition in topic.partitions {
                match Arc::try_unwrap(partition) {
                    Ok(partition) => {
                        if let Err(error) = partition.into_log().close() {
                            tracing::warn!(topic = %topic.name, %error, "closing a partition log failed");
                        }
                    }
                    Err(partition) => {
                        if let Err(error) = partition.with_log_mut(|log| log.flush()) {
                            tracing::warn!(topic = %topic.name, %error, "flushing a partition log failed");
                        }
                    }
                }
            }
        }
    }

    fn open_new_partitions(
        &self,
        name: &str,
        indexes: std::ops::Range<i32>,
        settings: &TopicSettings,
        now_ms: i64,
    ) -> Result<Vec<Arc<Partition>>, TopicError> {
        let log_config = log_config_from(&self.broker_config, settings);
        let mut partitions = Vec::new();
        for index in indexes {
            let dir = partition_dir(&self.log_dir, name, index);
            if dir.exists() {
                // A stray directory from a crash between deleting a topic's entry and its data.
                tracing::warn!(dir = %dir.display(), "removing a stray partition directory before reuse");
                std::fs::remove_dir_all(&dir).map_err(LogError::Io)?;
            }
            let log = PartitionLog::open(self.storage.clone(), &dir, log_config.clone(), now_ms)?;
            partitions.push(Arc::new(Partition::new(name.to_string(), index, log)));
        }
        Ok(partitions)
    }

    fn publish(&self, topic: Arc<Topic>) -> Result<(), TopicError> {
        let mut stored: Vec<StoredTopic> =
            self.topics.read().values().filter(|t| t.name != topic.name).map(|t| t.stored()).collect();
        stored.push(topic.stored());
        self.store.save(&stored)?;
        self.topics.write().insert(topic.name.clone(), topic);
        Ok(())
    }
}

/// Kafka's partition directory name.
pub fn partition_dir(log_dir: &Path, topic: &str, index: i32) -> PathBuf {
    log_dir.join(format!("{topic}-{index}"))
}
