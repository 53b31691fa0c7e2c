//! The admin client against a real broker: an in-process Runnel per test, or the broker at
//! `RUNNEL_TEST_BOOTSTRAP` (point it at Apache Kafka to check the same expectations there),
//! from the crate's shared fixture (`tests/common`).
//!
//! Records are produced and a group is formed with raw protocol requests through the
//! shared `Cluster`, so these tests depend on nothing but the admin client under test and
//! the core it shares.

mod admin_support;
mod common;

use std::collections::BTreeMap;

use admin_support::{eventually, join_group, produce, TestBroker};
use common::unique_name;
use runnel_client::admin::{
    AlterConfigOp, ConfigResource, ConfigSource, NewTopic, OffsetAndMetadata, OffsetSpec, TopicPartition,
};

const TOPIC_ALREADY_EXISTS: i16 = 36;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const OFFSET_OUT_OF_RANGE: i16 = 1;
const UNKNOWN_MEMBER_ID: i16 = 25;
const NON_EMPTY_GROUP: i16 = 68;
const GROUP_ID_NOT_FOUND: i16 = 69;
const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_lifecycle_create_describe_grow_delete() {
    let broker = TestBroker::start().await;
    let admin = broker.admin().await;
    let name = unique_name("admin-topic");

    let created =
        admin.create_topics(&[NewTopic::new(&name).partitions(3).replication_factor(1)], false).await.unwrap();
    let created = created[&name].as_ref().expect("created");
    assert_eq!(created.partitions, Some(3));
    assert!(created.topic_id.is_some_and(|id| !id.is_nil()));

    let again = admin.create_topics(&[NewTopic::new(&name).partitions(3)], false).await.unwrap();
    assert_eq!(again[&name].as_ref().unwrap_err().code(), Some(TOPIC_ALREADY_EXISTS));

    // Kafka's brokers learn of topic changes asynchronously: wait for each to show.
    eventually("the new topic to be listed", || async {
        let listed = admin.list_topics(false).await.unwrap();
        listed.iter().any(|t| t.name == name && t.partitions == 3 && !t.internal).then_some(())
    })
    .await;
    let description = eventually("the new topic's leaders", || async {
        let mut described = admin.describe_topics(std::slice::from_ref(&name)).await.unwrap();
        described.remove(&name).unwrap().ok().filter(|d| d.partitions.iter().all(|p| p.leader.is_some()))
    })
    .await;
    assert_eq!(description.partitions.iter().map(|p| p.partition).collect::<Vec<_>>(), [0, 1, 2]);
    assert!(description.partitions.iter().all(|p| p.leader.is_some() && p.replicas.len() == 1 && p.isr == p.replicas));
    assert_eq!(Some(description.topic_id), created.topic_id);

    let grown = admin.create_partitions(&BTreeMap::from([(name.clone(), 5)]), false).await.unwrap();
    grown[&name].as_ref().unwrap();
    eventually("five partitions", || async {
        let described = admin.describe_topics(std::slice::from_ref(&name)).await.unwrap();
        (described[&name].as_ref().unwrap().partitions.len() == 5).then_some(())
    })
    .await;

    let deleted = admin.delete_topics(std::slice::from_ref(&name)).await.unwrap();
    deleted[&name].as_ref().unwrap();
    let gone = admin.delete_topics(std::slice::from_ref(&name)).await.unwrap();
    assert_eq!(gone[&name].as_ref().unwrap_err().code(), Some(UNKNOWN_TOPIC_OR_PARTITION));
    eventually("the deleted topic to disappear", || async {
        let missing = admin.describe_topics(std::slice::from_ref(&name)).await.unwrap();
        missing[&name].as_ref().err().filter(|e| e.code() == Some(UNKNOWN_TOPIC_OR_PARTITION)).map(|_| ())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_only_creates_nothing() {
    let broker = TestBroker::start().await;
    let admin = broker.admin().await;
    let name = unique_name("admin-validate");
    let checked = admin.create_topics(&[NewTopic::new(&name).partitions(2)], true).await.unwrap();
    checked[&name].as_ref().expect("valid");
    let described = admin.describe_topics(std::slice::from_ref(&name)).await.unwrap();
    assert_eq!(described[&name].as_ref().unwrap_err().code(), Some(UNKNOWN_TOPIC_OR_PARTITION));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configs_describe_sources_and_alter_incrementally() {
    let broker = TestBroker::start().await;
    let admin = broker.admin().await;
    let name = unique_name("admin-configs");
    let created = admin
        .create_topics(&[NewTopic::new(&name).partitions(1).config("cleanup.policy", "compact")], false)
        .await
        .unwrap();
    created[&name].as_ref().unwrap();
    let resource = ConfigResource::topic(&name);

    let entries = eventually("the new topic's configs", || async {
        let mut described = admin.describe_configs(std::slice::from_ref(&resource), true, false).await.unwrap();
        described.remove(&resource).unwrap().ok()
    })
    .await;
    let policy = entries.iter().find(|e| e.name == "cleanup.policy").expect("cleanup.policy");
    assert_eq!(policy.value.as_deref(), Some("compact"));
    assert_eq!(policy.source, ConfigSource::DynamicTopicConfig);
    assert!(!policy.is_default());
    assert_eq!(policy.synonyms.first().map(|s| s.source), Some(ConfigSource::DynamicTopicConfig));
    let retention = entries.iter().find(|e| e.name == "retention.ms").expect("retention.ms");
    assert!(retention.is_default() || retention.source == ConfigSource::StaticBrokerConfig, "{retention:?}");

    let changes = BTreeMap::from([(
        resource.clone(),
        vec![
            AlterConfigOp::Set("retention.ms".into(), "3600000".into()),
            AlterConfigOp::Delete("cleanup.policy".into()),
        ],
    )]);
    let altered = admin.incremental_alter_configs(&changes, false).await.unwrap();
    altered[&resource].as_ref().unwrap();

    let entries = eventually("the altered configs", || async {
        let mut described = admin.describe_configs(std::slice::from_ref(&resource), false, false).await.unwrap();
        let entries = described.remove(&resource).unwrap().unwrap();
        let changed = entries.iter().any(|e| e.name == "retention.ms" && e.value.as_deref() == Some("3600000"));
        changed.then_some(entries)
    })
    .await;
    let retention = entries.iter().find(|e| e.name == "retention.ms").unwrap();
    assert_eq!((retention.value.as_deref(), retention.source), (Some("3600000"), ConfigSource::DynamicTopicConfig));
    let policy = entries.iter().find(|e| e.name == "cleanup.policy").unwrap();
    assert_eq!(policy.value.as_deref(), Some("delete"));
    assert_ne!(policy.source, ConfigSource::DynamicTopicConfig);

    let unknown = ConfigResource::topic(unique_name("admin-no-such-topic"));
    let described = admin.describe_configs(std::slice::from_ref(&unknown), false, false).await.unwrap();
    assert_eq!(described[&unknown].as_ref().unwrap_err().code(), Some(UNKNOWN_TOPIC_OR_PARTITION));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_offsets_earliest_latest_by_time_and_max_timestamp() {
    let broker = TestBroker::start().await;
    let admin = broker.admin().await;
    let name = unique_name("admin-offsets");
    admin.create_topics(&[NewTopic::new(&name).partitions(2)], false).await.unwrap()[&name].as_ref().unwrap();
    // Timestamps 1000, 2000, ... except record 2, the largest.
    let timestamps = [1_000, 2_000, 9_000, 4_000, 5_000];
    produce(admin.cluster(), &name, 0, &timestamps).await;

    let specs = BTreeMap::from([
        (tp(&name, 0), OffsetSpec::Earliest),
        (tp(&name, 1), OffsetSpec::Latest),
        (tp(&name, 7), OffsetSpec::Latest),
    ]);
    let listed = admin.list_offsets(&specs).await.unwrap();
    assert_eq!(listed[&tp(&name, 0)].as_ref().unwrap().offset, Some(0));
    assert_eq!(listed[&tp(&name, 1)].as_ref().unwrap().offset, Some(0));
    assert_eq!(listed[&tp(&name, 7)].as_ref().unwrap_err().code(), Some(UNKNOWN_TOPIC_OR_PARTITION));

    for (spec, offset) in [
        (OffsetSpec::Latest, Some(5)),
        (OffsetSpec::Timestamp(3_500), Some(2)),
        (OffsetSpec::Timestamp(4_500), Some(2)),
        (OffsetSpec::Timestamp(1_000), Some(0)),
        (OffsetSpec::Timestamp(9_001), None),
        (OffsetSpec::MaxTimestamp, Some(2)),
    ] {
        let listed = admin.list_offsets(&BTreeMap::from([(tp(&name, 0), spec)])).await.unwrap();
        assert_eq!(listed[&tp(&name, 0)].as_ref().unwrap().offset, offset, "{spec:?}");
    }
    let max = admin.list_offsets(&BTreeMap::from([(tp(&name, 0), OffsetSpec::MaxTimestamp)])).await.unwrap();
    assert_eq!(max[&tp(&name, 0)].as_ref().unwrap().timestamp, 9_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_records_at_reads_one_records_timestamp() {
    let broker = TestBroker::start().await;
    let admin = broker.admin().await;
    let name = unique_name("admin-peek");
    admin.create_topics(&[NewTopic::new(&name).partitions(1)], false).await.unwrap()[&name].as_ref().unwrap();
    produce(admin.cluster(), &name, 0, &[10_000, 20_000, 30_000]).await;
    produce(admin.cluster(), &name, 0, &[40_000]).await;

    let asked = BTreeMap::from([(tp(&name, 0), 1)]);
    let found = admin.first_records_at(&asked).await.unwrap();
    let position = found[&tp(&name, 0)].as_ref().unwrap().expect("a record");
    assert_eq!((position.offset, position.timestamp), (1, 20_000));

    let second_batch = admin.first_records_at(&BTreeMap::from([(tp(&name, 0), 3)])).await.unwrap();
    assert_eq!(second_batch[&tp(&name, 0)].as_ref().unwrap().map(|p| p.timestamp), Some(40_000));

    let at_end = admin.first_records_at(&BTreeMap::from([(tp(&name, 0), 4)])).await.unwrap();
    assert_eq!(at_end[&tp(&name, 0)].as_ref().unwrap(), &None);

    let beyond = admin.first_records_at(&BTreeMap::from([(tp(&name, 0), 99)])).await.unwrap();
    assert_eq!(beyond[&tp(&name, 0)].as_ref().unwrap_err().code(), Some(OFFSET_OUT_OF_RANGE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_describe_offsets_and_deletion_follow_the_groups_state() {
    let broker = TestBroker::start().await;
    let admin = broker.admin().await;
    let topic = unique_name("admin-group-topic");
    let group = unique_name("admin-group");
    admin.create_topics(&[NewTopic::new(&topic).partitions(2)], false).await.unwrap()[&topic].as_ref().unwrap();
    produce(admin.cluster(), &topic, 0, &[1, 2, 3, 4]).await;

    let member = join_group(admin.cluster(), &group, &topic, &[tp(&topic, 0), tp(&topic, 1)]).await;
    let listed = admin.list_groups().await.unwrap();
    let listing = listed.iter().find(|g| g.group_id == group).expect("listed");
    assert_eq!(listing.protocol_type, "consumer");
    assert_eq!(listing.state.as_deref(), Some("Stable"));

    let described = admin.describe_groups(std::slice::from_ref(&group)).await.unwrap();
    let description = described[&group].as_ref().unwrap();
    assert_eq!((description.state.as_str(), description.assignor.as_str()), ("Stable", "range"));
    assert_eq!(description.members.len(), 1);
    let m = &description.members[0];
    assert_eq!((m.member_id.as_str(), m.client_id.as_str()), (member.member_id.as_str(), admin_support::CLIENT_ID));
    assert!(m.host.contains("127.0.0.1"), "{}", m.host);
    assert_eq!(m.assignment, [tp(&topic, 0), tp(&topic, 1)]);
    assert_eq!(m.subscribed_topics, std::slice::from_ref(&topic));
    assert!(description.coordinator_id >= 0 && description.coordinator_addr.contains(':'));

    // Kafka's admin commits as generation -1 with no member: refused while members are active.
    let offsets = BTreeMap::from([(tp(&topic, 0), OffsetAndMetadata::new(1))]);
    let refused = admin.alter_group_offsets(&group, &offsets).await.unwrap();
    assert_eq!(refused[&tp(&topic, 0)].as_ref().unwrap_err().code(), Some(UNKNOWN_MEMBER_ID));
    let refused = admin.delete_groups(std::slice::from_ref(&group)).await.unwrap();
    assert_eq!(refused[&group].as_ref().unwrap_err().code(), Some(NON_EMPTY_GROUP));
    member.commit(admin.cluster(), &tp(&topic, 1), 3).await;
    let subscribed = admin.delete_group_offsets(&group, &[tp(&topic, 1)]).await.unwrap();
    assert_eq!(subscribed[&tp(&topic, 1)].as_ref().unwrap_err().code(), Some(GROUP_SUBSCRIBED_TO_TOPIC));

    member.leave(admin.cluster()).await;
    let described = admin.describe_groups(std::slice::from_ref(&group)).await.unwrap();
    assert_eq!(described[&group].as_ref().unwrap().state, "Empty");

    let offsets = BTreeMap::from([
        (tp(&topic, 0), OffsetAndMetadata { offset: 2, metadata: "by admin".into(), leader_epoch: None }),
        (tp(&topic, 1), OffsetAndMetadata::new(4)),
    ]);
    let altered = admin.alter_group_offsets(&group, &offsets).await.unwrap();
    assert!(altered.values().all(|r| r.is_ok()), "{altered:?}");
    let committed = admin.list_group_offsets(&group, None).await.unwrap();
    assert_eq!(committed[&tp(&topic, 0)].offset, 2);
    assert_eq!(committed[&tp(&topic, 0)].metadata, "by admin");
    assert_eq!(committed[&tp(&topic, 1)].offset, 4);
    let some = admin.list_group_offsets(&group, Some(&[tp(&topic, 1)])).await.unwrap();
    assert_eq!(some.keys().collect::<Vec<_>>(), [&tp(&topic, 1)]);

    let deleted = admin.delete_group_offsets(&group, &[tp(&topic, 0)]).await.unwrap();
    deleted[&tp(&topic, 0)].as_ref().unwrap();
    let committed = admin.list_group_offsets(&group, None).await.unwrap();
    assert_eq!(committed.keys().collect::<Vec<_>>(), [&tp(&topic, 1)]);

    let deleted = admin.delete_groups(std::slice::from_ref(&group)).await.unwrap();
    deleted[&group].as_ref().unwrap();
    let again = admin.delete_groups(std::slice::from_ref(&group)).await.unwrap();
    assert_eq!(again[&group].as_ref().unwrap_err().code(), Some(GROUP_ID_NOT_FOUND));
    // Before DescribeGroups v6 an unknown group is described as Dead; from v6 it is an error.
    match &admin.describe_groups(std::slice::from_ref(&group)).await.unwrap()[&group] {
        Ok(description) => assert_eq!(description.state, "Dead"),
        Err(error) => assert_eq!(error.code(), Some(GROUP_ID_NOT_FOUND)),
    }
}
