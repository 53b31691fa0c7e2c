//! The consumer against a real broker: the shared fixture (tests/common) starts an in-process
//! Runnel per test, or uses whatever `RUNNEL_TEST_BOOTSTRAP` names (run the same binary against Apache Kafka with
//! `RUNNEL_TEST_BOOTSTRAP=127.0.0.1:port cargo test -p runnel-client --test consumer`).
//!
//! Records are written with raw Produce requests built by kafka-protocol's encoder, so these
//! tests depend on nothing but the consumer and the shared core. Every wait is bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{CreatePartitionsRequest, CreateTopicsRequest, ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use runnel_client::cluster::Cluster;
use runnel_client::config::ClientConfig;
use runnel_client::consumer::{
    Consumer, ConsumerConfig, ConsumerRecord, OffsetReset, RebalanceListener, StringDeserializer, TopicPartition,
};
use runnel_client::Error;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Bound on any single wait in these tests.
const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);

// ---- fixture ----

mod common;

use common::unique_name;

struct Fixture {
    bootstrap: String,
    cluster: Cluster,
    _broker: common::Guard,
}

/// The shared fixture's broker; an in-process Runnel gets no initial rebalance delay (as
/// the python group tests configure both brokers) and a small offsets topic.
async fn fixture() -> Fixture {
    let (bootstrap, guard) = match common::external_bootstrap() {
        Some(_) => common::test_bootstrap().await,
        None => {
            common::start_runnel(&[("group.initial.rebalance.delay.ms", "0"), ("offsets.topic.num.partitions", "4")])
                .await
        }
    };
    let cluster = Cluster::connect(ClientConfig::new(&bootstrap)).await.expect("connect");
    Fixture { bootstrap, cluster, _broker: guard }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

async fn create_topic(f: &Fixture, partitions: i32) -> String {
    let name = unique_name("consumer");
    let connection = f.cluster.any_broker().await.expect("broker");
    let request = CreateTopicsRequest::default().with_timeout_ms(30_000).with_topics(vec![CreatableTopic::default()
        .with_name(TopicName(StrBytes::from_string(name.clone())))
        .with_num_partitions(partitions)
        .with_replication_factor(1)]);
    let response = connection.send(request).await.expect("create topics");
    assert_eq!(response.topics[0].error_code, 0, "create {name}: {:?}", response.topics[0].error_message);
    wait_for_partitions(f, &name, partitions as usize).await;
    name
}

async fn wait_for_partitions(f: &Fixture, topic: &str, partitions: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let metadata = f.cluster.refresh(Some(&[topic.to_string()]), false).await.expect("metadata");
        let ready = metadata
            .topics
            .get(topic)
            .is_some_and(|t| t.partitions.len() == partitions && t.partitions.iter().all(|p| p.leader >= 0));
        if ready {
            return;
        }
        assert!(Instant::now() < deadline, "{topic} never got {partitions} partitions with leaders");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn add_partitions(f: &Fixture, topic: &str, count: i32) {
    let connection = f.cluster.any_broker().await.expect("broker");
    let request = CreatePartitionsRequest::default().with_timeout_ms(30_000).with_topics(vec![
        CreatePartitionsTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_count(count)
            .with_assignments(None),
    ]);
    let response = connection.send(request).await.expect("create partitions");
    assert_eq!(response.results[0].error_code, 0, "{:?}", response.results[0].error_message);
    wait_for_partitions(f, topic, count as usize).await;
}

/// Writes one batch of `(key, value, timestamp)` records to a partition; returns its base offset.
async fn produce(f: &Fixture, topic: &str, partition: i32, records: &[(Option<String>, String, i64)]) -> i64 {
    let encoded: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (key, value, timestamp))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder keeps records in one batch while offset minus sequence is constant.
            sequence: i as i32,
            timestamp: *timestamp,
            key: key.as_ref().map(|k| Bytes::copy_from_slice(k.as_bytes())),
            value: Some(Bytes::copy_from_slice(value.as_bytes())),
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &encoded, &RecordEncodeOptions { version: 2, compression: Compression::None })
        .expect("encode");
    let request = ProduceRequest::default().with_acks(-1).with_timeout_ms(30_000).with_topic_data(vec![
        TopicProduceData::default().with_name(TopicName(StrBytes::from_string(topic.to_string()))).with_partition_data(
            vec![PartitionProduceData::default().with_index(partition).with_records(Some(buf.freeze()))],
        ),
    ]);
    // A new topic's leader may answer NOT_LEADER_OR_FOLLOWER for a moment (Kafka); retry.
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, leader) = f.cluster.leader(topic, partition).await.expect("leader");
        let response = leader.send(request.clone()).await.expect("produce");
        let answer = &response.responses[0].partition_responses[0];
        match answer.error_code {
            0 => return answer.base_offset,
            6 | 3 | 5 if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                f.cluster.refresh(Some(&[topic.to_string()]), false).await.expect("metadata");
            }
            code => panic!("produce to {topic}-{partition}: error {code}"),
        }
    }
}

/// Ten keyed records `k0..k9` / `v0..v9` in one partition.
async fn produce_ten(f: &Fixture, topic: &str, partition: i32) {
    let ts = now_ms();
    let records: Vec<_> = (0..10).map(|i| (Some(format!("k{i}")), format!("v{i}"), ts)).collect();
    produce(f, topic, partition, &records).await;
}

fn config(f: &Fixture, group: Option<&str>) -> ConsumerConfig {
    let mut config = ConsumerConfig::new(&f.bootstrap, group);
    config.auto_offset_reset = OffsetReset::Earliest;
    config.session_timeout_ms = 10_000;
    config.heartbeat_interval_ms = 500;
    config.fetch_max_wait_ms = 100;
    config.auto_commit_interval_ms = 200;
    config
}

/// Polls until `want` records arrived in total (failing after [`WAIT`]); returns them all.
async fn poll_records(consumer: &mut Consumer, want: usize) -> Vec<ConsumerRecord> {
    let deadline = Instant::now() + WAIT;
    let mut all = Vec::new();
    while all.len() < want {
        assert!(Instant::now() < deadline, "only {} of {want} records arrived", all.len());
        all.extend(consumer.poll(POLL).await.expect("poll"));
    }
    all
}

/// Polls for `duration` and returns whatever arrived.
async fn poll_for(consumer: &mut Consumer, duration: Duration) -> Vec<ConsumerRecord> {
    let until = Instant::now() + duration;
    let mut all = Vec::new();
    while Instant::now() < until {
        all.extend(consumer.poll(POLL).await.expect("poll"));
    }
    all
}

async fn committed_offset(f: &Fixture, group: &str, tp: &TopicPartition) -> Option<i64> {
    let mut checker = Consumer::new(config(f, Some(group))).await.expect("consumer");
    let committed = checker.committed(std::slice::from_ref(tp)).await.expect("committed");
    checker.close().await.expect("close");
    committed.get(tp).cloned().flatten().map(|o| o.offset)
}

fn offsets_of(records: &[ConsumerRecord]) -> Vec<i64> {
    records.iter().map(|r| r.offset).collect()
}

// ---- offsets and positions ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_with_auto_commit_reads_ten_keyed_records_and_commits_to_the_end() {
    let f = fixture().await;
    let topic = create_topic(&f, 1).await;
    produce_ten(&f, &topic, 0).await;
    let group = unique_name("g-auto");
    let mut consumer = Consumer::new(config(&f, Some(&group))).await.unwrap();
    consumer.subscribe([topic.clone()], ()).unwrap();
    let records = poll_records(&mut consumer, 10).await;
    assert_eq!(offsets_of(&records), (0..10).collect::<Vec<_>>());
    for (i, record) in records.iter().enumerate() {
        let typed = record.deserialize(&StringDeserializer, &StringDeserializer).unwrap();
        assert_eq!((typed.key, typed.value), (Some(format!("k{i}")), Some(format!("v{i}"))));
    }
    // Auto-commit runs inside poll(): keep polling (no close, which also commits) until the
    // committed offset reaches the end.
    let tp = TopicPartition::new(&topic, 0);
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(poll_for(&mut consumer, Duration::from_millis(300)).await.is_empty());
        if committed_offset(&f, &group, &tp).await == Some(10) {
            break;
        }
        assert!(Instant::now() < deadline, "auto-commit never committed offset 10");
    }
    consumer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_commit_is_where_the_next_member_resumes() {
    let f = fixture().await;
    let topic = create_topic(&f, 1).await;
    produce_ten(&f, &topic, 0).await;
    let group = unique_name("g-manual");
    let mut cfg = config(&f, Some(&group));
    cfg.enable_auto_commit = false;
    let mut first = Consumer::new(cfg.clone()).await.unwrap();
    first.subscribe([topic.clone()], ()).unwrap();
    let records = poll_records(&mut first, 10).await;
    assert_eq!(records.len(), 10);
    first.commit().await.unwrap();
    let tp = TopicPartition::new(&topic, 0);
    assert_eq!(first.committed(std::slice::from_ref(&tp)).await.unwrap()[&tp].as_ref().map(|o| o.offset), Some(10));
    first.close().await.unwrap();

    let ts = now_ms();
    produce(&f, &topic, 0, &(10..15).map(|i| (None, format!("v{i}"), ts)).collect::<Vec<_>>()).await;
    let mut second = Consumer::new(cfg).await.unwrap();
    second.subscribe([topic.clone()], ()).unwrap();
    let more = poll_records(&mut second, 5).await;
    assert_eq!(offsets_of(&more), vec![10, 11, 12, 13, 14]);
    assert!(poll_for(&mut second, Duration::from_millis(500)).await.is_empty());
    second.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_offsets_stores_metadata_and_exact_offsets() {
    let f = fixture().await;
    let topic = create_topic(&f, 2).await;
    let group = unique_name("g-offsets");
    let mut cfg = config(&f, Some(&group));
    cfg.enable_auto_commit = false;
    let mut consumer = Consumer::new(cfg).await.unwrap();
    let (p0, p1) = (TopicPartition::new(&topic, 0), TopicPartition::new(&topic, 1));
    consumer.assign([p0.clone(), p1.clone()]).unwrap();
    let mut with_metadata = runnel_client::consumer::OffsetAndMetadata::new(0);
    with_metadata.metadata = "checkpoint-7".into();
    consumer.commit_offsets([(p0.clone(), with_metadata)]).await.unwrap();
    consumer.commit_offsets([(p1.clone(), 0i64)]).await.unwrap();
    let committed = consumer.committed(&[p0.clone(), p1.clone()]).await.unwrap();
    assert_eq!(committed[&p0].as_ref().map(|o| (o.offset, o.metadata.as_str())), Some((0, "checkpoint-7")));
    assert_eq!(committed[&p1].as_ref().map(|o| o.offset), Some(0));
    assert!(consumer.commit_offsets([(p0.clone(), -1i64)]).await.is_err());
    consumer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_commits_a_new_member_reads_everything_again() {
    let f = fixture().await;
    let topic = create_topic(&f, 1).await;
    produce_ten(&f, &topic, 0).await;
    let group = unique_name("g-none");
    let mut cfg = config(&f, Some(&group));
    cfg.enable_auto_commit = false;
    for _ in 0..2 {
        let mut consumer = Consumer::new(cfg.clone()).await.unwrap();
        consumer.subscribe([topic.clone()], ()).unwrap();
        assert_eq!(offsets_of(&poll_records(&mut consumer, 10).await), (0..10).collect::<Vec<_>>());
        consumer.close().await.unwrap();
    }
    assert_eq!(committed_offset(&f, &group, &TopicPartition::new(&topic, 0)).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_seek_to_beginning_and_seek_to_end_move_the_position() {
    let f = fixture().await;
    let topic = create_topic(&f, 1).await;
    produce_ten(&f, &topic, 0).await;
    let mut consumer = Consumer::new(config(&f, None)).await.unwrap();
    let tp = TopicPartition::new(&topic, 0);
    consumer.assign([tp.clone()]).unwrap();
    assert_eq!(consumer.position(&tp).await.unwrap(), 0);

    consumer.seek(&tp, 7).unwrap();
    assert_eq!(offsets_of(&poll_records(&mut consumer, 3).await), vec![7, 8, 9]);
    assert_eq!(consumer.position(&tp).await.unwrap(), 10);

    consumer.seek_to_beginning(&[]).unwrap();
    assert_eq!(consumer.position(&tp).await.unwrap(), 0);
    assert_eq!(offsets_of(&poll_records(&mut consumer, 10).await), (0..10).collect::<Vec<_>>());

    consumer.seek(&tp, 2).unwrap();
    consumer.seek_to_end(std::slice::from_ref(&tp)).unwrap();
    assert!(poll_for(&mut consumer, Duration::from_millis(500)).await.is_empty());
    assert_eq!(consumer.position(&tp).await.unwrap(), 10);
    assert_eq!(consumer.beginning_offsets(std::slice::from_ref(&tp)).await.unwrap()[&tp], 0);
    assert_eq!(consumer.end_offsets(std::slice::from_ref(&tp)).await.unwrap()[&tp], 10);

    // Past the end: OFFSET_OUT_OF_RANGE, reset by auto.offset.reset=earliest.
    consumer.seek(&tp, 1_000).unwrap();
    assert_eq!(poll_records(&mut consumer, 10).await[0].offset, 0);
    consumer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_without_a_reset_policy_is_an_error() {
    let f = fixture().await;
    let topic = create_topic(&f, 1).await;
    produce_ten(&f, &topic, 0).await;
    let mut cfg = config(&f, None);
    cfg.auto_offset_reset = OffsetReset::None;
    let mut consumer = Consumer::new(cfg).await.unwrap();
    let tp = TopicPartition::new(&topic, 0);
    consumer.assign([tp.clone()]).unwrap();
    // No committed offset and no policy: the position cannot be found.
    assert!(matches!(consumer.poll(POLL).await, Err(Error::NotFound(_))));
    consumer.seek(&tp, 50).unwrap();
    let deadline = Instant::now() + WAIT;
    let error = loop {
        match consumer.poll(POLL).await {
            Err(error) => break error,
            Ok(records) => assert!(records.is_empty()),
        }
        assert!(Instant::now() < deadline, "no OFFSET_OUT_OF_RANGE");
    };
    assert_eq!(error.code(), Some(1), "{error}");
    consumer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assign_without_a_group_reads_the_chosen_partitions_and_cannot_commit() {
    let f = fixture().await;
    let topic = create_topic(&f, 3).await;
    for p in 0..3 {
        produce_ten(&f, &topic, p).await;
    }
    let mut consumer = Consumer::new(config(&f, None)).await.unwrap();
    consumer.assign([TopicPartition::new(&topic, 0), TopicPartition::new(&topic, 2)]).unwrap();
    assert_eq!(consumer.assignment().len(), 2);
    let records = poll_records(&mut consumer, 20).await;
    let partitions: BTreeSet<i32> = records.iter().map(|r| r.partition).collect();
    assert_eq!(partitions, BTreeSet::from([0, 2]));
    assert!(poll_for(&mut consumer, Duration::from_millis(300)).await.is_empty());
    assert!(matches!(consumer.commit().await, Err(Error::Config(_))));
    consumer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assigned_partitions_commit_with_a_group_and_resume_from_it() {
    let f = fixture().await;
    let topic = create_topic(&f, 1).await;
    produce_ten(&f, &topic, 0).await;
    let group = unique_name("g-assign");
    let tp = TopicPartition::new(&topic, 0);
    let mut cfg = config(&f, Some(&group));
    cfg.enable_auto_commit = false;
    let mut first = Consumer::new(cfg.clone()).await.unwrap();
    first.assign([tp.clone()]).unwrap();
    assert!(poll_records(&mut first, 4).await.len() >= 4);
    first.commit_offsets([(tp.clone(), 4i64)]).await.unwrap();
    first.close().await.unwrap();
    let mut second = Consumer::new(cfg).await.unwrap();
    second.assign([tp.clone()]).unwrap();
    assert_eq!(second.position(&tp).await.unwrap(), 4);
    second.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_for_times_finds_the_first_record_at_or_after_each_time() {
    let f = fixture().await;
    let topic = create_topic(&f, 1).await;
    let base = now_ms() - 60_000;
    let records: Vec<_> = (0..10).map(|i| (None, format!("v{i}"), base + i * 1_000)).collect();
    produce(&f, &topic, 0, &records).await;
    let mut consumer = Consumer::new(config(&f, None)).await.unwrap();
    let tp = TopicPartition::new(&topic, 0);
    let found = consumer.offsets_for_times(&BTreeMap::from([(tp.clone(), base + 3_500)])).await.unwrap();
    let hit = found[&tp].expect("an offset");
    assert_eq!((hit.offset, hit.timestamp), (4, base + 4_000));
    let exact = consumer.offsets_for_times(&BTreeMap::from([(tp.clone(), base)])).await.unwrap();
    assert_eq!(exact[&tp].map(|o| o.offset), Some(0));
    let future = consumer.offsets_for_times(&BTreeMap::from([(tp.clone(), base + 3_600_000)])).await.unwrap();
    assert_eq!(future[&tp], None);
    consumer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_poll_records_bounds_every_batch() {
    let f = fixture().await;
    let topic = create_topic(&f, 2).await;
    produce_ten(&f, &topic, 0).await;
    produce_ten(&f, &topic, 1).await;
    let mut cfg = config(&f, Some(&unique_name("g-max")));
    cfg.max_poll_records = 3;
    let mut consumer = Consumer::new(cfg).await.unwrap();
    consumer.subscribe([topic.clone()], ()).unwrap();
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while seen.len() < 20 {
        assert!(Instant::now() < deadline, "only {} records", seen.len());
        let batch = consumer.poll(POLL).await.unwrap();
        assert!(batch.count() <= 3, "a poll returned {} records", batch.count());
        seen.extend(batch.into_iter().map(|r| (r.partition, r.offset)));
    }
    seen.sort();
    let expected: Vec<(i32, i64)> = (0..2).flat_map(|p| (0..10).map(move |o| (p, o))).collect();
    assert_eq!(seen, expected, "every record exactly once");
    consumer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_yields_records_in_order_across_polls() {
    let f = fixture().await;
    let topic = create_topic(&f, 1).await;
    produce_ten(&f, &topic, 0).await;
    let mut cfg = config(&f, None);
    cfg.max_poll_records = 4;
    let mut consumer = Consumer::new(cfg).await.unwrap();
    consumer.assign([TopicPartition::new(&topic, 0)]).unwrap();
    let mut offsets = Vec::new();
    {
        use futures_core::Stream;
        let mut stream = consumer.stream();
        let deadline = Instant::now() + WAIT;
        while offsets.len() < 10 {
            let next = tokio::time::timeout_at(
                deadline,
                std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)),
            )
            .await
            .expect("stream stalled");
            offsets.push(next.expect("stream ended").expect("record").offset);
        }
    }
    assert_eq!(offsets, (0..10).collect::<Vec<_>>());
    consumer.close().await.unwrap();
}

// ---- groups ----

#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Revoked(&'static str, Vec<i32>),
    Assigned(&'static str, Vec<i32>),
    Lost(&'static str, Vec<i32>),
}

#[derive(Clone)]
struct Recorder {
    name: &'static str,
    events: Arc<Mutex<Vec<Event>>>,
}

fn partitions_of(tps: &[TopicPartition]) -> Vec<i32> {
    tps.iter().map(|tp| tp.partition).collect()
}

impl RebalanceListener for Recorder {
    fn on_partitions_revoked(&mut self, partitions: &[TopicPartition]) {
        self.events.lock().unwrap().push(Event::Revoked(self.name, partitions_of(partitions)));
    }
    fn on_partitions_assigned(&mut self, partitions: &[TopicPartition]) {
        self.events.lock().unwrap().push(Event::Assigned(self.name, partitions_of(partitions)));
    }
    fn on_partitions_lost(&mut self, partitions: &[TopicPartition]) {
        self.events.lock().unwrap().push(Event::Lost(self.name, partitions_of(partitions)));
    }
}

/// Polls `consumer` in a task until `stop`; returns it with every record it read.
fn run_member(mut consumer: Consumer, stop: CancellationToken) -> tokio::task::JoinHandle<(Consumer, Vec<ConsumerRecord>)> {
    tokio::spawn(async move {
        let mut read = Vec::new();
        while !stop.is_cancelled() {
            read.extend(consumer.poll(POLL).await.expect("poll"));
        }
        (consumer, read)
    })
}

fn last_assignment(events: &[Event], name: &str) -> Option<Vec<i32>> {
    events.iter().rev().find_map(|e| match e {
        Event::Assigned(n, ps) if *n == name => Some(ps.clone()),
        _ => None,
    })
}

async fn wait_for_events(events: &Arc<Mutex<Vec<Event>>>, what: &str, done: impl Fn(&[Event]) -> bool) -> Vec<Event> {
    let deadline = Instant::now() + WAIT;
    loop {
        let snapshot = events.lock().unwrap().clone();
        if done(&snapshot) {
            return snapshot;
        }
        assert!(Instant::now() < deadline, "{what}: events so far {snapshot:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_split_two_partitions_and_every_revoke_precedes_every_assign() {
    let f = fixture().await;
    let topic = create_topic(&f, 2).await;
    let group = unique_name("g-split");
    let events = Arc::new(Mutex::new(Vec::new()));
    let stop = CancellationToken::new();

    let mut a = Consumer::new(config(&f, Some(&group))).await.unwrap();
    a.subscribe([topic.clone()], Recorder { name: "a", events: events.clone() }).unwrap();
    let a_task = run_member(a, stop.clone());
    wait_for_events(&events, "a owns both", |e| last_assignment(e, "a") == Some(vec![0, 1])).await;

    let mut b = Consumer::new(config(&f, Some(&group))).await.unwrap();
    b.subscribe([topic.clone()], Recorder { name: "b", events: events.clone() }).unwrap();
    let b_task = run_member(b, stop.clone());
    let log = wait_for_events(&events, "one partition each", |e| {
        matches!((last_assignment(e, "a"), last_assignment(e, "b")), (Some(x), Some(y)) if x.len() == 1 && y.len() == 1)
    })
    .await;

    // The second rebalance: a gives up both partitions before either member's new
    // assignment. (b's first join revokes nothing and, as in Java, calls no hook.)
    let a_revoke = log.iter().position(|e| *e == Event::Revoked("a", vec![0, 1])).expect("a revoked both");
    let final_assigns: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(i, e)| *i > a_revoke && matches!(e, Event::Assigned(..)))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(final_assigns.len(), 2, "{log:?}");
    assert!(log[..a_revoke].iter().all(|e| !matches!(e, Event::Assigned("b", _))), "{log:?}");
    let (x, y) = (last_assignment(&log, "a").unwrap(), last_assignment(&log, "b").unwrap());
    assert_eq!([x, y].concat().into_iter().collect::<BTreeSet<_>>(), BTreeSet::from([0, 1]));
    assert!(!log.iter().any(|e| matches!(e, Event::Lost(..))), "{log:?}");
    // And the group stays put: no further rebalance once both have a partition.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(*events.lock().unwrap(), log, "a rebalance nobody asked for");

    // Both read their own partition.
    produce_ten(&f, &topic, 0).await;
    produce_ten(&f, &topic, 1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.cancel();
    let (mut a, read_a) = a_task.await.unwrap();
    let (mut b, read_b) = b_task.await.unwrap();
    assert_eq!(read_a.len() + read_b.len(), 20);
    assert_eq!(read_a.iter().map(|r| r.partition).collect::<BTreeSet<_>>().len(), 1);
    assert_eq!(read_b.iter().map(|r| r.partition).collect::<BTreeSet<_>>().len(), 1);
    a.close().await.unwrap();
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_hands_partitions_to_the_other_member_without_waiting_for_the_session() {
    let f = fixture().await;
    let topic = create_topic(&f, 2).await;
    let group = unique_name("g-close");
    let events = Arc::new(Mutex::new(Vec::new()));
    let stop = CancellationToken::new();
    let mut cfg = config(&f, Some(&group));
    cfg.session_timeout_ms = 30_000;
    let mut a = Consumer::new(cfg.clone()).await.unwrap();
    a.subscribe([topic.clone()], Recorder { name: "a", events: events.clone() }).unwrap();
    let a_task = run_member(a, stop.clone());
    wait_for_events(&events, "a owns both", |e| last_assignment(e, "a") == Some(vec![0, 1])).await;

    let mut b = Consumer::new(cfg).await.unwrap();
    let b_events = Arc::new(Mutex::new(Vec::new()));
    b.subscribe([topic.clone()], Recorder { name: "b", events: b_events.clone() }).unwrap();
    let b_deadline = Instant::now() + WAIT;
    while b.assignment().is_empty() {
        assert!(Instant::now() < b_deadline, "b never got a partition");
        b.poll(POLL).await.unwrap();
    }
    wait_for_events(&events, "a down to one", |e| last_assignment(e, "a").is_some_and(|p| p.len() == 1)).await;

    let closed_at = Instant::now();
    b.close().await.unwrap();
    assert_eq!(b_events.lock().unwrap().last().cloned().map(|e| matches!(e, Event::Revoked("b", ref p) if p.len() == 1)), Some(true));
    wait_for_events(&events, "a owns both again", |e| last_assignment(e, "a") == Some(vec![0, 1])).await;
    let took = closed_at.elapsed();
    assert!(took < Duration::from_secs(10), "handing over took {took:?} (session timeout 30 s)");
    stop.cancel();
    let (mut a, _) = a_task.await.unwrap();
    a.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_member_gets_its_partitions_back_without_a_rebalance() {
    let f = fixture().await;
    let topic = create_topic(&f, 2).await;
    let group = unique_name("g-static");
    let mut cfg = config(&f, Some(&group));
    cfg.session_timeout_ms = 30_000;
    cfg.group_instance_id = Some(unique_name("instance"));
    let mut first = Consumer::new(cfg.clone()).await.unwrap();
    first.subscribe([topic.clone()], ()).unwrap();
    let deadline = Instant::now() + WAIT;
    while first.assignment().len() != 2 {
        assert!(Instant::now() < deadline, "the static member never got its partitions");
        first.poll(POLL).await.unwrap();
    }
    let generation = first.group_metadata().unwrap().generation_id;
    let old_member_id = first.group_metadata().unwrap().member_id;
    first.close().await.unwrap();

    // Same instance id: the coordinator hands back the assignment of the same generation,
    // with a new member id, and no rebalance (a static member sends no LeaveGroup).
    let mut second = Consumer::new(cfg).await.unwrap();
    second.subscribe([topic.clone()], ()).unwrap();
    let started = Instant::now();
    while second.assignment().len() != 2 {
        assert!(Instant::now() < deadline, "the restarted static member never got its partitions");
        second.poll(POLL).await.unwrap();
    }
    let again = second.group_metadata().unwrap();
    assert_eq!(again.generation_id, generation, "a static rejoin must not start a new generation");
    assert_ne!(again.member_id, old_member_id);
    assert!(started.elapsed() < Duration::from_secs(10));
    second.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_partitions_start_a_rebalance_that_assigns_them() {
    let f = fixture().await;
    let topic = create_topic(&f, 1).await;
    let group = unique_name("g-grow");
    let mut cfg = config(&f, Some(&group));
    cfg.client.metadata_max_age_ms = 500;
    let mut consumer = Consumer::new(cfg).await.unwrap();
    consumer.subscribe([topic.clone()], ()).unwrap();
    let deadline = Instant::now() + WAIT;
    while consumer.assignment().len() != 1 {
        assert!(Instant::now() < deadline, "no first assignment");
        consumer.poll(POLL).await.unwrap();
    }
    add_partitions(&f, &topic, 3).await;
    while consumer.assignment().len() != 3 {
        assert!(Instant::now() < deadline, "the new partitions were never assigned");
        consumer.poll(POLL).await.unwrap();
    }
    consumer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_keep_an_idle_member_in_the_group_past_its_session_timeout() {
    let f = fixture().await;
    let topic = create_topic(&f, 1).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let mut cfg = config(&f, Some(&unique_name("g-idle")));
    cfg.session_timeout_ms = 6_000;
    let mut consumer = Consumer::new(cfg).await.unwrap();
    consumer.subscribe([topic.clone()], Recorder { name: "a", events: events.clone() }).unwrap();
    let deadline = Instant::now() + WAIT;
    while consumer.assignment().is_empty() {
        assert!(Instant::now() < deadline, "no assignment");
        consumer.poll(POLL).await.unwrap();
    }
    let generation = consumer.group_metadata().unwrap().generation_id;
    let before = events.lock().unwrap().clone();
    // Longer than the session, shorter than max.poll.interval.ms: only the heartbeat task
    // keeps the membership alive.
    tokio::time::sleep(Duration::from_secs(8)).await;
    produce_ten(&f, &topic, 0).await;
    assert_eq!(poll_records(&mut consumer, 10).await.len(), 10);
    assert_eq!(consumer.group_metadata().unwrap().generation_id, generation);
    assert_eq!(*events.lock().unwrap(), before, "no rebalance while idle");
    consumer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_stops_polling_leaves_and_reports_its_partitions_lost() {
    let f = fixture().await;
    let topic = create_topic(&f, 1).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let mut cfg = config(&f, Some(&unique_name("g-slow")));
    cfg.max_poll_interval_ms = 2_000;
    let mut consumer = Consumer::new(cfg).await.unwrap();
    consumer.subscribe([topic.clone()], Recorder { name: "a", events: events.clone() }).unwrap();
    let deadline = Instant::now() + WAIT;
    while consumer.assignment().is_empty() {
        assert!(Instant::now() < deadline, "no assignment");
        consumer.poll(POLL).await.unwrap();
    }
    let generation = consumer.group_metadata().unwrap().generation_id;
    tokio::time::sleep(Duration::from_secs(4)).await;
    // The heartbeat task left the group; the next polls report the loss and rejoin.
    while consumer.group_metadata().unwrap().generation_id <= generation || consumer.assignment().is_empty() {
        assert!(Instant::now() < deadline, "never rejoined: {:?}", events.lock().unwrap());
        consumer.poll(POLL).await.unwrap();
    }
    let log = events.lock().unwrap().clone();
    assert_eq!(log, vec![Event::Assigned("a", vec![0]), Event::Lost("a", vec![0]), Event::Assigned("a", vec![0])]);
    consumer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_member_loses_its_partitions_when_its_session_expires() {
    let f = fixture().await;
    let topic = create_topic(&f, 2).await;
    let group = unique_name("g-crash");
    let events = Arc::new(Mutex::new(Vec::new()));
    let stop = CancellationToken::new();
    let mut cfg = config(&f, Some(&group));
    cfg.session_timeout_ms = 6_000;
    let mut a = Consumer::new(cfg.clone()).await.unwrap();
    a.subscribe([topic.clone()], Recorder { name: "a", events: events.clone() }).unwrap();
    let a_task = run_member(a, stop.clone());
    wait_for_events(&events, "a owns both", |e| last_assignment(e, "a") == Some(vec![0, 1])).await;
    let mut b = Consumer::new(cfg).await.unwrap();
    b.subscribe([topic.clone()], ()).unwrap();
    let deadline = Instant::now() + WAIT;
    while b.assignment().len() != 1 {
        assert!(Instant::now() < deadline, "b never got a partition");
        b.poll(POLL).await.unwrap();
    }
    // No close(): the heartbeats stop and no LeaveGroup is sent.
    let dropped_at = Instant::now();
    drop(b);
    wait_for_events(&events, "a owns both again", |e| last_assignment(e, "a") == Some(vec![0, 1])).await;
    let took = dropped_at.elapsed();
    assert!(took >= Duration::from_secs(4), "moved after {took:?}, before the 6 s session could expire");
    stop.cancel();
    let (mut a, _) = a_task.await.unwrap();
    a.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_during_a_join_rejoins_with_the_new_topics() {
    let f = fixture().await;
    let first = create_topic(&f, 1).await;
    let second = create_topic(&f, 1).await;
    let group = unique_name("g-resubscribe");
    let events = Arc::new(Mutex::new(Vec::new()));
    let mut x = Consumer::new(config(&f, Some(&group))).await.unwrap();
    x.subscribe([first.clone()], Recorder { name: "x", events: events.clone() }).unwrap();
    let deadline = Instant::now() + WAIT;
    while x.assignment().is_empty() {
        assert!(Instant::now() < deadline, "x got nothing");
        x.poll(POLL).await.unwrap();
    }
    // x stops polling, so c's JoinGroup is held by the coordinator until x rejoins.
    let mut c = Consumer::new(config(&f, Some(&group))).await.unwrap();
    c.subscribe([first.clone()], ()).unwrap();
    assert!(c.poll(Duration::from_millis(300)).await.unwrap().is_empty());
    assert!(c.assignment().is_empty(), "the join should still be held");
    c.subscribe([second.clone()], ()).unwrap();
    let stop = CancellationToken::new();
    let x_task = run_member(x, stop.clone());
    while c.assignment() != BTreeSet::from([TopicPartition::new(&second, 0)]) {
        assert!(Instant::now() < deadline, "c never read {second}: has {:?}", c.assignment());
        c.poll(POLL).await.unwrap();
    }
    stop.cancel();
    let (mut x, _) = x_task.await.unwrap();
    x.close().await.unwrap();
    c.close().await.unwrap();
}
