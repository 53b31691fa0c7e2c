//! Authorization through the real handlers: a context with the authorizer on, callers with
//! and without ACLs, and the answers Kafka gives them.

use bytes::BytesMut;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use runnel_protocol::kafka_protocol;
use runnel_protocol::versions::SUPPORTED_APIS;
use tokio_util::sync::CancellationToken;

use super::testing::session;
use crate::acl::types::{AccessControlEntry, ResourcePattern};
use crate::acl::{AclBinding, AclOperation, Authorization, PatternType, PermissionType, ResourceType};
use crate::config::authorizer::AuthorizerConfig;
use crate::context::testing::context;
use crate::context::{now_ms, BrokerContext};
use crate::handlers::tests::request_for;
use crate::handlers::{handle, Caller, Reply};
use crate::session::Session;
use crate::topics::NewTopic;

const TOPIC: &str = "encode-topic";
const ADMIN: &str = "admin";
const TOPIC_DENIED: i16 = 29;
const GROUP_DENIED: i16 = 30;
const CLUSTER_DENIED: i16 = 31;

fn secured(dir: &std::path::Path) -> BrokerContext {
    let mut ctx = context(dir);
    let config = AuthorizerConfig {
        enabled: true,
        super_users: [format!("User:{ADMIN}")].into(),
        allow_everyone_if_no_acl_found: false,
    };
    ctx.authorization = Authorization::open(&config, dir).unwrap();
    ctx.topics.create(NewTopic { name: TOPIC.into(), partitions: 2, configs: Default::default() }, false, now_ms()).unwrap();
    ctx
}

fn allow(ctx: &BrokerContext, user: &str, resource_type: ResourceType, name: &str, pattern_type: PatternType, operation: AclOperation) {
    let binding = AclBinding {
        pattern: ResourcePattern::new(resource_type, name, pattern_type),
        entry: AccessControlEntry {
            principal: format!("User:{user}"),
            host: "*".into(),
            operation,
            permission_type: PermissionType::Allow,
        },
    };
    let store = ctx.authorization.store().unwrap();
    store
        .update(|current| {
            let mut next: Vec<AclBinding> = current.bindings().iter().cloned().collect();
            next.push(binding);
            (Some(next), ())
        })
        .unwrap();
}

async fn call(ctx: &BrokerContext, session: &Session, request: RequestKind, version: i16) -> Reply {
    let caller = Caller { client_id: "authz-test", session };
    handle(ctx, request, version, &caller, &CancellationToken::new()).await
}

async fn answer(ctx: &BrokerContext, user: &str, request: RequestKind, version: i16) -> ResponseKind {
    call(ctx, &session(Some(user)), request, version).await.into_response(&ctx.read_buffers).expect("a response")
}

fn name(text: &str) -> TopicName {
    TopicName(StrBytes::from_string(text.to_string()))
}

#[tokio::test]
async fn every_served_version_answers_a_caller_without_acls_and_encodes() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = secured(dir.path());
    let nobody = session(Some("nobody"));
    for support in SUPPORTED_APIS {
        for version in support.served_min..=support.max {
            let reply = call(&ctx, &nobody, request_for(support.key, version), version).await;
            let Some(response) = reply.into_response(&ctx.read_buffers) else {
                panic!("{:?} v{version} gave no response", support.key)
            };
            let mut out = BytesMut::new();
            if let Err(error) = response.encode(&mut out, version) {
                panic!("{:?} v{version} does not encode when denied: {error}", support.key);
            }
        }
    }
}

#[tokio::test]
async fn metadata_hides_topics_the_caller_may_not_describe() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = secured(dir.path());
    ctx.topics.create(NewTopic { name: "visible".into(), partitions: 1, configs: Default::default() }, false, now_ms()).unwrap();
    allow(&ctx, "alice", ResourceType::Topic, "visible", PatternType::Literal, AclOperation::Read);
    let all = MetadataRequest::default().with_topics(None);
    let ResponseKind::Metadata(listed) = answer(&ctx, "alice", RequestKind::Metadata(all), 12).await else { panic!() };
    let names: Vec<_> = listed.topics.iter().map(|t| t.name.as_ref().unwrap().to_string()).collect();
    assert_eq!(names, ["visible"], "READ implies DESCRIBE; the other topic is left out silently");

    let named = |topic: &str| metadata_request::MetadataRequestTopic::default().with_name(Some(name(topic)));
    let request = MetadataRequest::default().with_topics(Some(vec![named(TOPIC), named("absent")])).with_allow_auto_topic_creation(true);
    let ResponseKind::Metadata(asked) = answer(&ctx, "alice", RequestKind::Metadata(request), 12).await else { panic!() };
    assert_eq!(asked.topics.iter().map(|t| t.error_code).collect::<Vec<_>>(), [TOPIC_DENIED, TOPIC_DENIED]);
    assert!(asked.topics.iter().all(|t| t.partitions.is_empty() && t.topic_id.is_nil()));
    assert!(ctx.topics.get("absent").is_none(), "no DESCRIBE, no auto-creation");
}

#[tokio::test]
async fn metadata_auto_creation_needs_create_on_the_cluster_or_the_topic() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = secured(dir.path());
    allow(&ctx, "alice", ResourceType::Topic, "auto-", PatternType::Prefixed, AclOperation::Describe);
    let request = |topic: &str| {
        RequestKind::Metadata(
            MetadataRequest::default()
                .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default().with_name(Some(name(topic)))]))
                .with_allow_auto_topic_creation(true),
        )
    };
    let ResponseKind::Metadata(refused) = answer(&ctx, "alice", request("auto-1"), 12).await else { panic!() };
    assert_eq!(refused.topics[0].error_code, TOPIC_DENIED);
    assert!(ctx.topics.get("auto-1").is_none());
    allow(&ctx, "alice", ResourceType::Topic, "auto-1", PatternType::Literal, AclOperation::Create);
    let ResponseKind::Metadata(created) = answer(&ctx, "alice", request("auto-1"), 12).await else { panic!() };
    assert_eq!(created.topics[0].error_code, 0);
    assert!(ctx.topics.get("auto-1").is_some());
}

#[tokio::test]
async fn produce_needs_write_on_the_topic() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = secured(dir.path());
    allow(&ctx, "alice", ResourceType::Topic, TOPIC, PatternType::Literal, AclOperation::Write);
    let records = runnel_protocol::batch::testing::plain_batch(1, 10, now_ms());
    let request = || {
        let partition = produce_request::PartitionProduceData::default().with_index(0).with_records(Some(records.clone().into()));
        let topic = produce_request::TopicProduceData::default().with_name(name(TOPIC)).with_partition_data(vec![partition]);
        RequestKind::Produce(ProduceRequest::default().with_acks(-1).with_topic_data(vec![topic]))
    };
    let code = |response: ResponseKind| match response {
        ResponseKind::Produce(r) => r.responses[0].partition_responses[0].error_code,
        _ => panic!(),
    };
    assert_eq!(code(answer(&ctx, "alice", request(), 9).await), 0);
    assert_eq!(code(answer(&ctx, "bob", request(), 9).await), TOPIC_DENIED);
    assert_eq!(code(answer(&ctx, ADMIN, request(), 9).await), 0, "a super user needs no ACL");
}

#[tokio::test]
async fn create_topics_needs_create_and_shows_configs_only_with_describe_configs() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = secured(dir.path());
    allow(&ctx, "alice", ResourceType::Topic, "mine-", PatternType::Prefixed, AclOperation::Create);
    allow(&ctx, "alice", ResourceType::Topic, "mine-shown", PatternType::Literal, AclOperation::DescribeConfigs);
    let topic = |topic: &str| create_topics_request::CreatableTopic::default().with_name(name(topic)).with_num_partitions(1).with_replication_factor(1);
    let request = CreateTopicsRequest::default().with_topics(vec![topic("mine-shown"), topic("mine-hidden"), topic("theirs")]);
    let ResponseKind::CreateTopics(response) = answer(&ctx, "alice", RequestKind::CreateTopics(request), 7).await else { panic!() };
    let results: Vec<_> = response.topics.iter().map(|t| (t.error_code, t.topic_config_error_code, t.num_partitions)).collect();
    assert_eq!(results, [(0, 0, 1), (0, TOPIC_DENIED, -1), (TOPIC_DENIED, 0, -1)]);
    assert!(response.topics[1].configs.as_ref().is_none_or(Vec::is_empty));
    assert_eq!(response.topics[2].error_message.as_deref(), Some("Authorization failed."));
    assert!(ctx.topics.get("theirs").is_none());

    allow(&ctx, "ops", ResourceType::Cluster, "kafka-cluster", PatternType::Literal, AclOperation::Create);
    let request = CreateTopicsRequest::default().with_topics(vec![topic("anything")]);
    let ResponseKind::CreateTopics(response) = answer(&ctx, "ops", RequestKind::CreateTopics(request), 7).await else { panic!() };
    assert_eq!(response.topics[0].error_code, 0, "CREATE on the cluster allows any topic");
}

#[tokio::test]
async fn delete_topics_needs_delete_and_hides_existence_without_describe() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = secured(dir.path());
    allow(&ctx, "alice", ResourceType::Topic, TOPIC, PatternType::Literal, AclOperation::Describe);
    let request = |topic: &str| RequestKind::DeleteTopics(DeleteTopicsRequest::default().with_topic_names(vec![name(topic)]));
    let code = |response: ResponseKind| match response {
        ResponseKind::DeleteTopics(r) => r.responses[0].error_code,
        _ => panic!(),
    };
    assert_eq!(code(answer(&ctx, "alice", request(TOPIC), 5).await), TOPIC_DENIED, "DESCRIBE but no DELETE");
    assert_eq!(code(answer(&ctx, "alice", request("absent"), 5).await), TOPIC_DENIED, "no DESCRIBE: existence not disclosed");
    allow(&ctx, "alice", ResourceType::Topic, "absent", PatternType::Literal, AclOperation::Describe);
    assert_eq!(code(answer(&ctx, "alice", request("absent"), 5).await), 3, "UNKNOWN_TOPIC_OR_PARTITION once describable");
    allow(&ctx, "alice", ResourceType::Topic, TOPIC, PatternType::Literal, AclOperation::Delete);
    assert_eq!(code(answer(&ctx, "alice", request(TOPIC), 5).await), 0);
    assert!(ctx.topics.get(TOPIC).is_none());
}

#[tokio::test]
async fn group_apis_need_the_group_and_offset_commits_the_topics() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = secured(dir.path());
    let join = RequestKind::JoinGroup(
        JoinGroupRequest::default()
            .with_group_id(GroupId(StrBytes::from_static_str("g")))
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(10_000)
            .with_protocol_type(StrBytes::from_static_str("consumer")),
    );
    let ResponseKind::JoinGroup(refused) = answer(&ctx, "bob", join, 9).await else { panic!() };
    assert_eq!((refused.error_code, refused.protocol_name.is_none()), (GROUP_DENIED, true));

    allow(&ctx, "bob", ResourceType::Group, "g", PatternType::Literal, AclOperation::Read);
    let partition = offset_commit_request::OffsetCommitRequestPartition::default().with_partition_index(0).with_committed_offset(0);
    let commit_topic =
        |topic: &str| offset_commit_request::OffsetCommitRequestTopic::default().with_name(name(topic)).with_partitions(vec![partition.clone()]);
    let commit = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("g")))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![commit_topic(TOPIC)]);
    let ResponseKind::OffsetCommit(response) = answer(&ctx, "bob", RequestKind::OffsetCommit(commit.clone()), 8).await else { panic!() };
    assert_eq!(response.topics[0].partitions[0].error_code, TOPIC_DENIED, "READ on the group, none on the topic");
    allow(&ctx, "bob", ResourceType::Topic, TOPIC, PatternType::Literal, AclOperation::Read);
    let ResponseKind::OffsetCommit(response) = answer(&ctx, "bob", RequestKind::OffsetCommit(commit), 8).await else { panic!() };
    assert_eq!(response.topics[0].partitions[0].error_code, 0);

    let describe = |groups: &[&str]| {
        let groups = groups.iter().map(|g| GroupId(StrBytes::from_string(g.to_string()))).collect();
        RequestKind::DescribeGroups(DescribeGroupsRequest::default().with_groups(groups).with_include_authorized_operations(true))
    };
    let ResponseKind::DescribeGroups(described) = answer(&ctx, "bob", describe(&["g", "other"]), 5).await else { panic!() };
    let seen: Vec<_> = described.groups.iter().map(|g| (g.group_id.to_string(), g.error_code)).collect();
    assert_eq!(seen, [("other".to_string(), GROUP_DENIED), ("g".to_string(), 0)], "denied groups first, as Kafka");
    let read_and_describe = (1 << AclOperation::Read.code()) | (1 << AclOperation::Describe.code());
    assert_eq!(described.groups[1].authorized_operations, read_and_describe);

    let ResponseKind::ListGroups(listed) = answer(&ctx, "bob", RequestKind::ListGroups(ListGroupsRequest::default()), 5).await else { panic!() };
    assert_eq!(listed.groups.iter().map(|g| g.group_id.to_string()).collect::<Vec<_>>(), ["g"]);
    let ResponseKind::ListGroups(none) = answer(&ctx, "carol", RequestKind::ListGroups(ListGroupsRequest::default()), 5).await else { panic!() };
    assert!(none.groups.is_empty());
}

#[tokio::test]
async fn acl_apis_need_the_cluster_and_answer_security_disabled_without_an_authorizer() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = secured(dir.path());
    let create = request_for(ApiKey::CreateAcls, 3);
    let ResponseKind::CreateAcls(denied) = answer(&ctx, "alice", create.clone(), 3).await else { panic!() };
    assert_eq!(denied.results[0].error_code, CLUSTER_DENIED);
    let ResponseKind::CreateAcls(created) = answer(&ctx, ADMIN, create, 3).await else { panic!() };
    assert_eq!(created.results[0].error_code, 0);
    let ResponseKind::DescribeAcls(described) = answer(&ctx, ADMIN, request_for(ApiKey::DescribeAcls, 3), 3).await else { panic!() };
    assert_eq!(described.resources.len(), 1);
    assert_eq!(described.resources[0].acls[0].principal.as_str(), "User:alice");
    let ResponseKind::DescribeAcls(refused) = answer(&ctx, "alice", request_for(ApiKey::DescribeAcls, 3), 3).await else { panic!() };
    assert_eq!(refused.error_code, CLUSTER_DENIED, "DESCRIBE on the cluster, not on the topic, is what counts");
    let ResponseKind::DeleteAcls(deleted) = answer(&ctx, ADMIN, request_for(ApiKey::DeleteAcls, 3), 3).await else { panic!() };
    assert_eq!(deleted.filter_results[0].matching_acls.len(), 1);
    assert!(ctx.authorization.store().unwrap().authorizer().acls.is_empty());

    let open_dir = tempfile::tempdir().unwrap();
    let open = context(open_dir.path());
    let ResponseKind::DescribeAcls(disabled) = answer(&open, "alice", request_for(ApiKey::DescribeAcls, 1), 1).await else { panic!() };
    assert_eq!(disabled.error_code, 54);
    let ResponseKind::CreateAcls(disabled) = answer(&open, "alice", request_for(ApiKey::CreateAcls, 1), 1).await else { panic!() };
    assert_eq!(disabled.results[0].error_code, 54);
}

#[tokio::test]
async fn acl_requests_kafka_cannot_parse_close_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = secured(dir.path());
    let unknown_type = RequestKind::DescribeAcls(DescribeAclsRequest::default().with_pattern_type_filter(1).with_operation(1).with_permission_type(1));
    assert!(matches!(call(&ctx, &session(Some(ADMIN)), unknown_type, 2).await, Reply::Close(_)));
}

#[tokio::test]
async fn an_open_broker_reports_every_supported_operation() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path());
    let request = DescribeClusterRequest::default().with_include_cluster_authorized_operations(true);
    let ResponseKind::DescribeCluster(response) = answer(&ctx, "anyone", RequestKind::DescribeCluster(request), 1).await else { panic!() };
    let expected = [5, 7, 8, 9, 10, 11, 12].iter().fold(0, |bits, code| bits | (1 << code));
    assert_eq!(response.cluster_authorized_operations, expected);
    let secured_dir = tempfile::tempdir().unwrap();
    let secured = secured(secured_dir.path());
    let request = DescribeClusterRequest::default().with_include_cluster_authorized_operations(true);
    let ResponseKind::DescribeCluster(response) = answer(&secured, "anyone", RequestKind::DescribeCluster(request), 1).await else { panic!() };
    assert_eq!((response.error_code, response.cluster_authorized_operations), (0, 0), "no DESCRIBE: 0, not an error");
}

#[tokio::test]
async fn scram_credentials_need_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = secured(dir.path());
    let named = describe_user_scram_credentials_request::UserName::default().with_name(StrBytes::from_static_str("x"));
    let describe = RequestKind::DescribeUserScramCredentials(DescribeUserScramCredentialsRequest::default().with_users(Some(vec![named])));
    let ResponseKind::DescribeUserScramCredentials(refused) = answer(&ctx, "bob", describe.clone(), 0).await else { panic!() };
    assert_eq!((refused.error_code, refused.results.len(), refused.results[0].error_code), (CLUSTER_DENIED, 1, CLUSTER_DENIED));
    let ResponseKind::DescribeUserScramCredentials(allowed) = answer(&ctx, ADMIN, describe, 0).await else { panic!() };
    assert_eq!(allowed.error_code, 0);
    let deletion = |user: &'static str| {
        alter_user_scram_credentials_request::ScramCredentialDeletion::default().with_name(StrBytes::from_static_str(user)).with_mechanism(1)
    };
    let alter = RequestKind::AlterUserScramCredentials(
        AlterUserScramCredentialsRequest::default().with_deletions(vec![deletion("zed"), deletion("amy"), deletion("zed")]),
    );
    let ResponseKind::AlterUserScramCredentials(refused) = answer(&ctx, "bob", alter, 0).await else { panic!() };
    let users: Vec<_> = refused.results.iter().map(|r| (r.user.to_string(), r.error_code)).collect();
    assert_eq!(users, [("amy".to_string(), CLUSTER_DENIED), ("zed".to_string(), CLUSTER_DENIED)]);
}

#[tokio::test]
async fn offset_fetch_answers_denied_groups_and_topics_where_kafka_does() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = secured(dir.path());
    ctx.topics.create(NewTopic { name: "hidden".into(), partitions: 1, configs: Default::default() }, false, now_ms()).unwrap();
    let commit_topic = |topic: &str| {
        offset_commit_request::OffsetCommitRequestTopic::default().with_name(name(topic)).with_partitions(vec![
            offset_commit_request::OffsetCommitRequestPartition::default().with_partition_index(0).with_committed_offset(7),
        ])
    };
    let commit = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("g")))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![commit_topic(TOPIC), commit_topic("hidden")]);
    let ResponseKind::OffsetCommit(committed) = answer(&ctx, ADMIN, RequestKind::OffsetCommit(commit), 8).await else { panic!() };
    assert!(committed.topics.iter().all(|t| t.partitions[0].error_code == 0));
    allow(&ctx, "bob", ResourceType::Group, "g", PatternType::Literal, AclOperation::Describe);
    allow(&ctx, "bob", ResourceType::Topic, TOPIC, PatternType::Literal, AclOperation::Describe);

    // v7, all topics: the undescribable one is left out.
    let all = OffsetFetchRequest::default().with_group_id(GroupId(StrBytes::from_static_str("g"))).with_topics(None);
    let ResponseKind::OffsetFetch(fetched) = answer(&ctx, "bob", RequestKind::OffsetFetch(all), 7).await else { panic!() };
    assert_eq!(fetched.topics.iter().map(|t| t.name.to_string()).collect::<Vec<_>>(), [TOPIC]);

    // v8: a denied group keeps its place; a named undescribable topic is refused, not read.
    let group = |id: &'static str, topics: Option<Vec<&str>>| {
        offset_fetch_request::OffsetFetchRequestGroup::default().with_group_id(GroupId(StrBytes::from_static_str(id))).with_topics(
            topics.map(|names| {
                names
                    .into_iter()
                    .map(|n| offset_fetch_request::OffsetFetchRequestTopics::default().with_name(name(n)).with_partition_indexes(vec![0]))
                    .collect()
            }),
        )
    };
    let request = OffsetFetchRequest::default().with_groups(vec![group("other", None), group("g", Some(vec![TOPIC, "hidden"]))]);
    let ResponseKind::OffsetFetch(fetched) = answer(&ctx, "bob", RequestKind::OffsetFetch(request), 8).await else { panic!() };
    let groups: Vec<_> = fetched.groups.iter().map(|g| (g.group_id.to_string(), g.error_code)).collect();
    assert_eq!(groups, [("other".to_string(), GROUP_DENIED), ("g".to_string(), 0)]);
    let topics: Vec<_> = fetched.groups[1]
        .topics
        .iter()
        .map(|t| (t.name.to_string(), t.partitions[0].committed_offset, t.partitions[0].error_code))
        .collect();
    assert_eq!(topics, [(TOPIC.to_string(), 7, 0), ("hidden".to_string(), -1, TOPIC_DENIED)]);
}
