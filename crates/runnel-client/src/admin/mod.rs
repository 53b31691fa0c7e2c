//! The admin client: topics, configs, consumer groups and offsets, ACLs, as Kafka's `Admin`
//! offers them.
//!
//! Owns: building admin requests at the version each connection negotiated, sending each to
//! the broker that must answer it (the controller for topic changes, a group's coordinator
//! for group calls, partition leaders for ListOffsets and Fetch), retrying what Kafka calls
//! retriable until the API timeout, and turning answers into typed results. Where the
//! protocol answers per resource (topic, group, partition), so does the API: the outer
//! `Result` fails only when the call as a whole failed.
//!
//! ```no_run
//! use runnel_client::admin::{Admin, NewTopic};
//! use runnel_client::ClientConfig;
//!
//! # async fn run() -> runnel_client::Result<()> {
//! let admin = Admin::new(ClientConfig::new("localhost:9092")).await?;
//! let created = admin.create_topics(&[NewTopic::new("orders").partitions(3)], false).await?;
//! created["orders"].as_ref().map_err(|e| e.to_string()).expect("created");
//! for listing in admin.list_topics(false).await? {
//!     println!("{} ({} partitions)", listing.name, listing.partitions);
//! }
//! # Ok(())
//! # }
//! ```

mod acls;
mod configs;
mod group_offsets;
mod groups;
mod offsets;
mod peek;
mod retry;
pub mod scram;
mod topics;

use std::time::Duration;

use crate::cluster::Cluster;
use crate::config::ClientConfig;
use crate::error::Result;

pub use crate::consumer::{OffsetAndMetadata, TopicPartition};
pub use acls::{
    AccessControlEntry, AccessControlEntryFilter, AclBinding, AclBindingFilter, AclOperation, AclPermissionType, PatternType,
    ResourcePattern, ResourcePatternFilter, ResourceType, CLUSTER_RESOURCE_NAME,
};
pub use configs::{AlterConfigOp, ConfigEntry, ConfigResource, ConfigResourceType, ConfigSource, ConfigSynonym};
pub use groups::{GroupDescription, GroupListing, MemberDescription};
pub use offsets::{ListedOffset, OffsetSpec};
pub use peek::RecordPosition;
pub use topics::{CreatedTopic, NewTopic, PartitionDescription, TopicDescription, TopicListing};

/// Kafka's `default.api.timeout.ms`: how long one admin call may spend, retries included.
pub const API_TIMEOUT_MS_DEFAULT: u64 = 60_000;

/// An admin client over a shared [`Cluster`]. Cheap to clone.
#[derive(Clone)]
pub struct Admin {
    cluster: Cluster,
    api_timeout: Duration,
}

impl Admin {
    /// Connects to the cluster named by `config`.
    pub async fn new(config: ClientConfig) -> Result<Admin> {
        Ok(Admin::from_cluster(Cluster::connect(config).await?))
    }

    /// An admin client sharing connections and metadata with other users of `cluster`.
    pub fn from_cluster(cluster: Cluster) -> Admin {
        Admin { cluster, api_timeout: Duration::from_millis(API_TIMEOUT_MS_DEFAULT) }
    }

    /// Bounds every later call, retries included (Kafka's `default.api.timeout.ms`).
    pub fn with_api_timeout(mut self, timeout: Duration) -> Admin {
        self.api_timeout = timeout;
        self
    }

    /// The cluster this client talks to.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    fn retry(&self) -> retry::Retry {
        retry::Retry::new(self.api_timeout, Duration::from_millis(self.cluster.config().retry_backoff_ms))
    }

    fn api_timeout_ms(&self) -> i32 {
        i32::try_from(self.api_timeout.as_millis()).unwrap_or(i32::MAX)
    }
}
