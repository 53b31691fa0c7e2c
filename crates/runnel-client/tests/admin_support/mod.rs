//! Fixtures for the admin tests: a broker to talk to, unique names, records with chosen
//! timestamps, and a one-member consumer group formed by hand (JoinGroup + SyncGroup), so
//! the admin tests need neither the producer nor the consumer of this crate.
//!
//! The broker comes from the crate's shared fixture (`tests/common`): `RUNNEL_TEST_BOOTSTRAP`
//! when set (Runnel or Apache Kafka), otherwise an in-process Runnel that is stopped and
//! its data removed when the `TestBroker` is dropped.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::BytesMut;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ApiKey, GroupId, JoinGroupRequest, LeaveGroupRequest, OffsetCommitRequest, ProduceRequest, SyncGroupRequest,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use runnel_client::admin::{Admin, TopicPartition};
use runnel_client::cluster::{Cluster, CoordinatorKind};
use runnel_client::consumer::protocol::{encode_assignment, encode_subscription};
use runnel_client::ClientConfig;

use crate::common::{external_bootstrap, start_runnel, test_bootstrap, Guard};

pub const CLIENT_ID: &str = "admin-test";
/// JoinGroup waits for the rebalance (Kafka's group.initial.rebalance.delay.ms is 3 s).
const JOIN_WAIT: Duration = Duration::from_secs(30);
const SESSION_TIMEOUT_MS: i32 = 30_000;
const MEMBER_ID_REQUIRED: i16 = 79;
const NOT_LEADER_OR_FOLLOWER: i16 = 6;
/// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR.
const COORDINATOR_ERRORS: [i16; 3] = [14, 15, 16];
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
/// How long a new topic or config change may take to reach every broker's metadata
/// (Kafka's KRaft brokers learn them asynchronously).
const PROPAGATION_WAIT: Duration = Duration::from_secs(20);
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Polls `check` until it returns `Some`, for at most PROPAGATION_WAIT.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PROPAGATION_WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// The broker under test (the shared fixture's: `RUNNEL_TEST_BOOTSTRAP` or an in-process
/// Runnel without the initial rebalance delay) and an admin client for it.
pub struct TestBroker {
    pub bootstrap: String,
    _guard: Guard,
}

impl TestBroker {
    pub async fn start() -> TestBroker {
        let (bootstrap, guard) = match external_bootstrap() {
            Some(_) => test_bootstrap().await,
            None => start_runnel(&[("group.initial.rebalance.delay.ms", "0")]).await,
        };
        TestBroker { bootstrap, _guard: guard }
    }

    pub async fn admin(&self) -> Admin {
        let mut config = ClientConfig::new(&self.bootstrap);
        config.client_id = CLIENT_ID.to_string();
        Admin::new(config).await.expect("admin connects")
    }
}

/// Appends one batch with one record per timestamp to a partition (acks=all).
pub async fn produce(cluster: &Cluster, topic: &str, partition: i32, timestamps: &[i64]) {
    let records: Vec<Record> = timestamps
        .iter()
        .enumerate()
        .map(|(i, &timestamp)| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder starts a new batch whenever offset - sequence changes; this keeps
            // one batch with base sequence -1 (no idempotent producer).
            sequence: i as i32 - 1,
            timestamp,
            key: None,
            value: Some(bytes::Bytes::from(format!("value-{i}"))),
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    let mut batch = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut batch,
        &records,
        &RecordEncodeOptions { version: 2, compression: Compression::None },
    )
    .expect("encode batch");
    let batch = batch.freeze();
    eventually(&format!("a produce to {topic}-{partition} to succeed"), || async {
        let (_, leader) = cluster.leader(topic, partition).await.ok()?;
        let request = ProduceRequest::default().with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(batch.clone()))]),
        ]);
        let response = leader.send(request).await.ok()?;
        let codes: Vec<i16> =
            response.responses.iter().flat_map(|t| t.partition_responses.iter().map(|p| p.error_code)).collect();
        // A new topic's leader may not know it yet (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION):
        // refresh and try again; anything else is a failure.
        if codes.iter().any(|&c| c == NOT_LEADER_OR_FOLLOWER || c == UNKNOWN_TOPIC_OR_PARTITION) {
            cluster.refresh(Some(&[topic.to_string()]), false).await.ok()?;
            return None;
        }
        assert_eq!(codes, [0], "produce to {topic}-{partition}");
        Some(())
    })
    .await;
}

/// A group member formed by hand: it stays in the group until `leave` (or its session
/// times out), without heartbeats.
pub struct Member {
    pub group: String,
    pub member_id: String,
    pub generation_id: i32,
}

fn group_id(group: &str) -> GroupId {
    GroupId(StrBytes::from_string(group.to_string()))
}

/// Joins `group` as its only member, subscribed to `topic`, and syncs `assignment` as the
/// leader's decision: the group is then Stable with one member holding those partitions.
pub async fn join_group(cluster: &Cluster, group: &str, topic: &str, assignment: &[TopicPartition]) -> Member {
    let metadata = encode_subscription(&BTreeSet::from([topic.to_string()]), -1).expect("subscription");
    let member_id = std::cell::RefCell::new(String::new());
    // The first group of a Kafka cluster creates __consumer_offsets: its coordinator may
    // answer NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS for a moment.
    let (coordinator, joined) = eventually(&format!("joining group {group}"), || {
        let metadata = metadata.clone();
        let member_id = &member_id;
        async move {
            let (_, coordinator) = cluster.coordinator(CoordinatorKind::Group, group).await.ok()?;
            let request = JoinGroupRequest::default()
                .with_group_id(group_id(group))
                .with_session_timeout_ms(SESSION_TIMEOUT_MS)
                .with_rebalance_timeout_ms(SESSION_TIMEOUT_MS)
                .with_member_id(StrBytes::from_string(member_id.borrow().clone()))
                .with_protocol_type(StrBytes::from_static_str("consumer"))
                .with_protocols(vec![JoinGroupRequestProtocol::default()
                    .with_name(StrBytes::from_static_str("range"))
                    .with_metadata(metadata)]);
            let response = coordinator.send_with_timeout(request, JOIN_WAIT).await.expect("join");
            match response.error_code {
                0 => Some((coordinator, response)),
                MEMBER_ID_REQUIRED => {
                    *member_id.borrow_mut() = response.member_id.to_string();
                    None
                }
                code if COORDINATOR_ERRORS.contains(&code) => {
                    cluster.invalidate_coordinator(CoordinatorKind::Group, group);
                    None
                }
                code => panic!("join group {group}: error {code}"),
            }
        }
    })
    .await;
    let member_id = joined.member_id.to_string();
    let sync = SyncGroupRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id(joined.generation_id)
        .with_member_id(StrBytes::from_string(member_id.clone()))
        .with_protocol_type(Some(StrBytes::from_static_str("consumer")))
        .with_protocol_name(Some(StrBytes::from_static_str("range")))
        .with_assignments(vec![SyncGroupRequestAssignment::default()
            .with_member_id(StrBytes::from_string(member_id.clone()))
            .with_assignment(encode_assignment(assignment).expect("assignment"))]);
    let synced = coordinator.send_with_timeout(sync, JOIN_WAIT).await.expect("sync");
    assert_eq!(synced.error_code, 0, "sync group {group}");
    Member { group: group.to_string(), member_id, generation_id: joined.generation_id }
}

impl Member {
    /// Commits as this member (generation and member id), as a consumer does.
    pub async fn commit(&self, cluster: &Cluster, tp: &TopicPartition, offset: i64) {
        let (_, coordinator) = cluster.coordinator(CoordinatorKind::Group, &self.group).await.expect("coordinator");
        let request = OffsetCommitRequest::default()
            .with_group_id(group_id(&self.group))
            .with_generation_id_or_member_epoch(self.generation_id)
            .with_member_id(StrBytes::from_string(self.member_id.clone()))
            .with_retention_time_ms(-1)
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(StrBytes::from_string(tp.topic.clone())))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(tp.partition)
                    .with_committed_offset(offset)
                    .with_committed_leader_epoch(-1)])]);
        let response = coordinator.send(request).await.expect("commit");
        for t in response.topics {
            for p in t.partitions {
                assert_eq!(p.error_code, 0, "member commit of {tp}");
            }
        }
    }

    /// Leaves the group, which becomes Empty.
    pub async fn leave(self, cluster: &Cluster) {
        let (_, coordinator) = cluster.coordinator(CoordinatorKind::Group, &self.group).await.expect("coordinator");
        let member_id = StrBytes::from_string(self.member_id.clone());
        // LeaveGroup v3 moved the member into a list (batched leaves, KIP-345).
        let request = if coordinator.version(ApiKey::LeaveGroup).expect("LeaveGroup") >= 3 {
            LeaveGroupRequest::default().with_members(vec![MemberIdentity::default().with_member_id(member_id)])
        } else {
            LeaveGroupRequest::default().with_member_id(member_id)
        }
        .with_group_id(group_id(&self.group));
        let response = coordinator.send(request).await.expect("leave");
        assert_eq!(response.error_code, 0, "leave group {}", self.group);
    }
}
