//! Every handler's response must encode at every version Runnel serves. The codec refuses
//! a field the version lacks unless it holds its default, so a handler that sets, say,
//! `log_start_offset` for Produce v3 fails only at encode time, for one client family.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use runnel_protocol::kafka_protocol;
use runnel_protocol::versions::SUPPORTED_APIS;
use tokio_util::sync::CancellationToken;

use super::handle;
use crate::context::testing::context;
use crate::context::now_ms;
use crate::topics::NewTopic;

const TOPIC: &str = "encode-test";

fn topic_name() -> TopicName {
    TopicName(StrBytes::from_static_str(TOPIC))
}

/// A request of each kind that names the test topic, so handlers fill their topic fields.
pub(super) fn request_for(key: ApiKey, version: i16) -> RequestKind {
    match key {
        ApiKey::Produce => {
            let batch = runnel_protocol::batch::testing::plain_batch(2, 8, now_ms());
            let partition = produce_request::PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(Bytes::from(batch)));
            let topic = produce_request::TopicProduceData::default()
                .with_name(topic_name())
                .with_partition_data(vec![partition]);
            RequestKind::Produce(ProduceRequest::default().with_acks(1).with_topic_data(vec![topic]))
        }
        ApiKey::Fetch => {
            let partition = fetch_request::FetchPartition::default().with_partition(0).with_partition_max_bytes(1 << 20);
            let topic = fetch_request::FetchTopic::default().with_topic(topic_name()).with_partitions(vec![partition]);
            RequestKind::Fetch(
                FetchRequest::default()
                    .with_max_wait_ms(0)
                    .with_max_bytes(1 << 20)
                    .with_isolation_level(if version >= 4 { 1 } else { 0 })
                    .with_topics(vec![topic]),
            )
        }
        ApiKey::ListOffsets => {
            let partitions = [-1, -2, -3, 0]
                .into_iter()
                .enumerate()
                .map(|(i, ts)| list_offsets_request::ListOffsetsPartition::default().with_partition_index(i as i32 % 2).with_timestamp(ts))
                .take(2)
                .collect();
            let topic = list_offsets_request::ListOffsetsTopic::default().with_name(topic_name()).with_partitions(partitions);
            RequestKind::ListOffsets(ListOffsetsRequest::default().with_topics(vec![topic]))
        }
        ApiKey::Metadata => {
            let topic = metadata_request::MetadataRequestTopic::default().with_name(Some(topic_name()));
            RequestKind::Metadata(MetadataRequest::default().with_topics(Some(vec![topic])))
        }
        ApiKey::ApiVersions => RequestKind::ApiVersions(
            ApiVersionsRequest::default()
                .with_client_software_name(StrBytes::from_static_str("test"))
                .with_client_software_version(StrBytes::from_static_str("1.0")),
        ),
        ApiKey::CreateTopics => {
            let topic = create_topics_request::CreatableTopic::default()
                .with_name(TopicName(StrBytes::from_string(format!("created-v{version}"))))
                .with_num_partitions(1)
                .with_replication_factor(1);
            let existing = create_topics_request::CreatableTopic::default().with_name(topic_name());
            RequestKind::CreateTopics(CreateTopicsRequest::default().with_topics(vec![topic, existing]))
        }
        ApiKey::DeleteTopics => {
            let name = TopicName(StrBytes::from_string(format!("created-v{version}")));
            let mut request = DeleteTopicsRequest::default();
            if version >= 6 {
                request.topics = vec![delete_topics_request::DeleteTopicState::default().with_name(Some(name))];
            } else {
                request.topic_names = vec![name, TopicName(StrBytes::from_static_str("absent"))];
            }
            RequestKind::DeleteTopics(request)
        }
        ApiKey::InitProducerId => RequestKind::InitProducerId(InitProducerIdRequest::default()),
        ApiKey::OffsetForLeaderEpoch => {
            let partition = offset_for_leader_epoch_request::OffsetForLeaderPartition::default().with_partition(0);
            let topic = offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                .with_topic(topic_name())
                .with_partitions(vec![partition]);
            RequestKind::OffsetForLeaderEpoch(OffsetForLeaderEpochRequest::default().with_topics(vec![topic]))
        }
        ApiKey::DescribeConfigs => {
            let topic = describe_configs_request::DescribeConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str(TOPIC));
            let broker = describe_configs_request::DescribeConfigsResource::default()
                .with_resource_type(4)
                .with_resource_name(StrBytes::from_static_str("1"));
            RequestKind::DescribeConfigs(
                DescribeConfigsRequest::default().with_resources(vec![topic, broker]).with_include_synonyms(true),
            )
        }
        ApiKey::AlterConfigs => {
            let config = |name: &'static str, value: &'static str| {
                alter_configs_request::AlterableConfig::default()
                    .with_name(StrBytes::from_static_str(name))
                    .with_value(Some(StrBytes::from_static_str(value)))
            };
            let resource = |resource_type: i8, name: &'static str, config| {
                alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(resource_type)
                    .with_resource_name(StrBytes::from_static_str(name))
                    .with_configs(vec![config])
            };
            RequestKind::AlterConfigs(
                AlterConfigsRequest::default()
                    .with_resources(vec![
                        resource(2, TOPIC, config("retention.ms", "3600000")),
                        resource(2, TOPIC, config("retention.ms", "bad")),
                        resource(2, "absent", config("retention.ms", "1")),
                        resource(4, "1", config("log.retention.ms", "1")),
                    ])
                    .with_validate_only(version % 2 == 0),
            )
        }
        ApiKey::IncrementalAlterConfigs => {
            let config = |name: &'static str, operation: i8, value: Option<&'static str>| {
                incremental_alter_configs_request::AlterableConfig::default()
                    .with_name(StrBytes::from_static_str(name))
                    .with_config_operation(operation)
                    .with_value(value.map(StrBytes::from_static_str))
            };
            let resource = |resource_type: i8, name: &'static str, configs| {
                incremental_alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(resource_type)
                    .with_resource_name(StrBytes::from_static_str(name))
                    .with_configs(configs)
            };
            RequestKind::IncrementalAlterConfigs(IncrementalAlterConfigsRequest::default().with_resources(vec![
                resource(2, TOPIC, vec![config("cleanup.policy", 2, Some("compact")), config("segment.ms", 1, None)]),
                resource(2, "absent", vec![config("retention.ms", 0, Some("1"))]),
                resource(4, "1", vec![config("log.retention.ms", 0, Some("1"))]),
                resource(8, "1", vec![config("root", 0, Some("INFO"))]),
            ]))
        }
        ApiKey::CreatePartitions => {
            let topic = create_partitions_request::CreatePartitionsTopic::default().with_name(topic_name()).with_count(1);
            RequestKind::CreatePartitions(CreatePartitionsRequest::default().with_topics(vec![topic]))
        }
        ApiKey::DescribeCluster => RequestKind::DescribeCluster(DescribeClusterRequest::default()),
        ApiKey::FindCoordinator => {
            let group = StrBytes::from_static_str("encode-group");
            RequestKind::FindCoordinator(FindCoordinatorRequest::default().with_key(group.clone()).with_coordinator_keys(
                if version >= 4 { vec![group] } else { Vec::new() },
            ))
        }
        ApiKey::JoinGroup => RequestKind::JoinGroup(
            JoinGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("encode-group")))
                .with_session_timeout_ms(10_000)
                .with_rebalance_timeout_ms(10_000)
                .with_protocol_type(StrBytes::from_static_str("consumer")),
        ),
        ApiKey::SyncGroup => RequestKind::SyncGroup(SyncGroupRequest::default()),
        ApiKey::Heartbeat => RequestKind::Heartbeat(HeartbeatRequest::default()),
        ApiKey::LeaveGroup => RequestKind::LeaveGroup(LeaveGroupRequest::default()),
        ApiKey::OffsetCommit => RequestKind::OffsetCommit(OffsetCommitRequest::default()),
        ApiKey::OffsetFetch => RequestKind::OffsetFetch(OffsetFetchRequest::default()),
        ApiKey::DescribeGroups => RequestKind::DescribeGroups(
            DescribeGroupsRequest::default().with_groups(vec![GroupId(StrBytes::from_static_str("encode-group"))]),
        ),
        ApiKey::ListGroups => RequestKind::ListGroups(ListGroupsRequest::default()),
        ApiKey::DeleteGroups => RequestKind::DeleteGroups(DeleteGroupsRequest::default()),
        ApiKey::OffsetDelete => RequestKind::OffsetDelete(OffsetDeleteRequest::default()),
        ApiKey::SaslHandshake => RequestKind::SaslHandshake(SaslHandshakeRequest::default()),
        ApiKey::SaslAuthenticate => RequestKind::SaslAuthenticate(SaslAuthenticateRequest::default()),
        ApiKey::DescribeUserScramCredentials => {
            RequestKind::DescribeUserScramCredentials(DescribeUserScramCredentialsRequest::default())
        }
        ApiKey::AlterUserScramCredentials => RequestKind::AlterUserScramCredentials(
            AlterUserScramCredentialsRequest::default().with_deletions(vec![
                alter_user_scram_credentials_request::ScramCredentialDeletion::default()
                    .with_name(StrBytes::from_static_str("nobody"))
                    .with_mechanism(1),
            ]),
        ),
        ApiKey::DescribeAcls => RequestKind::DescribeAcls(
            DescribeAclsRequest::default()
                .with_resource_type_filter(1)
                .with_resource_name_filter(None)
                .with_pattern_type_filter(1)
                .with_principal_filter(None)
                .with_host_filter(None)
                .with_operation(1)
                .with_permission_type(1),
        ),
        ApiKey::CreateAcls => RequestKind::CreateAcls(CreateAclsRequest::default().with_creations(vec![
            create_acls_request::AclCreation::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str(TOPIC))
                .with_resource_pattern_type(3)
                .with_principal(StrBytes::from_static_str("User:alice"))
                .with_host(StrBytes::from_static_str("*"))
                .with_operation(3)
                .with_permission_type(3),
        ])),
        ApiKey::DeleteAcls => RequestKind::DeleteAcls(DeleteAclsRequest::default().with_filters(vec![
            delete_acls_request::DeleteAclsFilter::default()
                .with_resource_type_filter(1)
                .with_resource_name_filter(None)
                .with_pattern_type_filter(1)
                .with_principal_filter(None)
                .with_host_filter(None)
                .with_operation(1)
                .with_permission_type(1),
        ])),
        other => panic!("add a request for {other:?} to this test"),
    }
}

#[tokio::test]
async fn every_served_version_of_every_api_encodes() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path());
    let new = NewTopic { name: TOPIC.into(), partitions: 2, configs: Default::default() };
    ctx.topics.create(new, false, now_ms()).unwrap();
    let shutdown = CancellationToken::new();
    let session = crate::session::Session::anonymous(
        "127.0.0.1:1".parse().unwrap(),
        "PLAINTEXT".into(),
        crate::config::SecurityProtocol::Plaintext,
    );
    for support in SUPPORTED_APIS {
        for version in support.served_min..=support.max {
            let request = request_for(support.key, version);
            let caller = super::Caller { client_id: "encode-test", session: &session };
            let reply = handle(&ctx, request, version, &caller, &shutdown).await;
            let Some(response) = reply.into_response(&ctx.read_buffers) else {
                panic!("{:?} v{version} gave no response", support.key)
            };
            let mut out = BytesMut::new();
            if let Err(error) = response.encode(&mut out, version) {
                panic!("{:?} v{version} does not encode: {error}", support.key);
            }
        }
    }
}
