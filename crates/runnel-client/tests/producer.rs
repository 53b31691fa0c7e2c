//! The producer against a real broker: an in-process Runnel, or whatever
//! `RUNNEL_TEST_BOOTSTRAP` names (the python suite points it at Apache Kafka 4.x too).
//!
//! Records are read back with plain Fetch requests and decoded with runnel-protocol's
//! validating record reader, so each test checks what the broker stored, not only what the
//! producer reported.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::{start_runnel, test_bootstrap, unique_name};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    CreateTopicsRequest, FetchRequest, InitProducerIdRequest, ProduceRequest, ProduceResponse, ProducerId,
    RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use runnel_client::cluster::Cluster;
use runnel_client::producer::batch::{self, ProducerFields, RecordData};
use runnel_client::producer::partitioner::partition_for_key;
use runnel_client::producer::{
    Acks, Compression, Producer, ProducerConfig, ProducerRecord, RawSerializer, TypedProducer,
};
use runnel_client::{ClientConfig, Error};
use runnel_protocol::batch::{split_batches, validate_batch};
use runnel_protocol::records::{DecodeLimits, RecordReader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bound on every test body.
const TEST_TIMEOUT: Duration = Duration::from_secs(90);
/// How long reading records back may take.
const FETCH_DEADLINE: Duration = Duration::from_secs(15);
/// Kafka's error code for MESSAGE_TOO_LARGE.
const MESSAGE_TOO_LARGE: i16 = 10;

/// Producer settings with test-sized timeouts.
fn config(bootstrap: &str) -> ProducerConfig {
    let mut config = ProducerConfig::new(bootstrap);
    config.client.request_timeout_ms = 10_000;
    config.delivery_timeout_ms = 40_000;
    config.max_block_ms = 20_000;
    config
}

async fn bounded<F: std::future::Future<Output = ()>>(body: F) {
    tokio::time::timeout(TEST_TIMEOUT, body).await.expect("test finished within its bound");
}

async fn cluster(bootstrap: &str) -> Cluster {
    Cluster::connect(ClientConfig::new(bootstrap)).await.expect("connect to the broker")
}

/// Creates a topic and waits until every partition has a leader in the metadata.
async fn create_topic(cluster: &Cluster, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let topic = CreatableTopic::default()
        .with_name(TopicName(StrBytes::from_string(name.to_string())))
        .with_num_partitions(partitions)
        .with_replication_factor(1)
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(StrBytes::from_string(k.to_string()))
                        .with_value(Some(StrBytes::from_string(v.to_string())))
                })
                .collect(),
        );
    let request = CreateTopicsRequest::default().with_topics(vec![topic]).with_timeout_ms(30_000);
    let connection = cluster.any_broker().await.expect("a broker");
    let response = connection.send(request).await.expect("CreateTopics");
    let result = &response.topics[0];
    assert_eq!(result.error_code, 0, "creating {name}: {:?}", result.error_message);
    let deadline = Instant::now() + FETCH_DEADLINE;
    loop {
        let metadata = cluster.refresh(Some(&[name.to_string()]), false).await.expect("metadata");
        let ready = metadata.topics.get(name).is_some_and(|t| {
            t.error_code == 0 && t.partitions.len() == partitions as usize && t.partitions.iter().all(|p| p.leader >= 0)
        });
        if ready {
            return;
        }
        assert!(Instant::now() < deadline, "topic {name} never got leaders");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One record as the broker stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stored {
    offset: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    /// The record's own sequence (batch base sequence + offset delta), -1 without one.
    sequence: i32,
    codec: i16,
}

/// Reads a partition from offset 0 until `at_least` records came back (or the deadline),
/// then once more to catch anything beyond.
async fn read_partition(cluster: &Cluster, topic: &str, partition: i32, at_least: usize) -> Vec<Stored> {
    let deadline = Instant::now() + FETCH_DEADLINE;
    let mut stored: Vec<Stored> = Vec::new();
    let mut extra_round = false;
    loop {
        let next_offset = stored.last().map_or(0, |r| r.offset + 1);
        let (_, connection) = cluster.leader(topic, partition).await.expect("leader");
        let request = FetchRequest::default()
            .with_max_wait_ms(200)
            .with_min_bytes(1)
            .with_max_bytes(8 * 1024 * 1024)
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(partition)
                    .with_fetch_offset(next_offset)
                    .with_partition_max_bytes(4 * 1024 * 1024)])]);
        let response = connection.send(request).await.expect("Fetch");
        let data = &response.responses[0].partitions[0];
        assert_eq!(data.error_code, 0, "fetch {topic}-{partition}");
        let bytes = data.records.clone().unwrap_or_default();
        let (ranges, _) = split_batches(&bytes);
        for range in ranges {
            let batch = &bytes[range];
            let header = validate_batch(batch).expect("a valid batch");
            let mut reader = RecordReader::new(batch, &header, &DecodeLimits::default()).expect("reader");
            while let Some(record) = reader.next_record().expect("record") {
                let offset = record.offset(&header);
                if offset < next_offset {
                    continue;
                }
                let sequence =
                    if header.base_sequence < 0 { -1 } else { header.base_sequence.wrapping_add(record.offset_delta) };
                stored.push(Stored {
                    offset,
                    key: record.key.map(<[u8]>::to_vec),
                    value: record.value.map(<[u8]>::to_vec),
                    headers: record.headers().map(|h| (h.key.to_vec(), h.value.map(<[u8]>::to_vec))).collect(),
                    timestamp: record.timestamp(&header),
                    producer_id: header.producer_id,
                    producer_epoch: header.producer_epoch,
                    sequence,
                    codec: header.attributes & 0x07,
                });
            }
        }
        if stored.len() >= at_least {
            if extra_round {
                return stored;
            }
            extra_round = true;
        }
        if Instant::now() >= deadline {
            return stored;
        }
    }
}

fn values(stored: &[Stored]) -> Vec<String> {
    stored.iter().map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or(b"<null>")).into_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_all_leader_and_none_deliver_every_record() {
    bounded(async {
        let (bootstrap, _guard) = test_bootstrap().await;
        let cluster = cluster(&bootstrap).await;
        for acks in [Acks::All, Acks::Leader, Acks::None] {
            let topic = unique_name("acks");
            create_topic(&cluster, &topic, 1, &[]).await;
            let mut config = config(&bootstrap);
            config.acks = acks;
            let producer = Producer::new(config).await.unwrap();
            let mut deliveries = Vec::new();
            for i in 0..20 {
                let record = ProducerRecord::new(&topic).partition(0).value(format!("v{i}"));
                deliveries.push(producer.send(record).await.unwrap());
            }
            let mut offsets = Vec::new();
            for delivery in deliveries {
                let metadata = delivery.await.unwrap();
                assert_eq!((metadata.topic.as_str(), metadata.partition), (topic.as_str(), 0));
                offsets.push(metadata.offset);
            }
            if acks == Acks::None {
                assert!(offsets.iter().all(|&o| o == -1), "acks=0 reports no offsets: {offsets:?}");
            } else {
                assert_eq!(offsets, (0..20).collect::<Vec<i64>>(), "{acks:?}");
            }
            producer.close().await.unwrap();
            let stored = read_partition(&cluster, &topic, 0, 20).await;
            assert_eq!(values(&stored), (0..20).map(|i| format!("v{i}")).collect::<Vec<_>>(), "{acks:?}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_round_trips_keys_values_and_headers() {
    bounded(async {
        let (bootstrap, _guard) = test_bootstrap().await;
        let cluster = cluster(&bootstrap).await;
        for codec in Compression::ALL {
            let topic = unique_name(&format!("codec-{}", codec.name()));
            create_topic(&cluster, &topic, 1, &[]).await;
            let mut config = config(&bootstrap);
            config.compression = codec;
            config.linger_ms = 50;
            let producer = Producer::new(config).await.unwrap();
            let records = vec![
                ProducerRecord::new(&topic)
                    .partition(0)
                    .key("k1")
                    .value("a value that compresses: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
                    .header("dup", "first")
                    .header("dup", "second")
                    .null_header("nothing")
                    .timestamp(1_700_000_000_000),
                ProducerRecord::new(&topic).partition(0),
                ProducerRecord::new(&topic).partition(0).key(Bytes::new()).value(vec![0u8, 255, 7]),
            ];
            let mut deliveries = Vec::new();
            for record in records {
                deliveries.push(producer.send(record).await.unwrap());
            }
            for delivery in deliveries {
                delivery.await.unwrap();
            }
            producer.close().await.unwrap();
            let stored = read_partition(&cluster, &topic, 0, 3).await;
            assert_eq!(stored.len(), 3, "{codec:?}");
            assert!(stored.iter().all(|r| r.codec == codec.attribute_bits()), "{codec:?}: {stored:?}");
            assert_eq!(stored[0].key.as_deref(), Some(&b"k1"[..]));
            assert_eq!(
                stored[0].headers,
                vec![
                    (b"dup".to_vec(), Some(b"first".to_vec())),
                    (b"dup".to_vec(), Some(b"second".to_vec())),
                    (b"nothing".to_vec(), None)
                ],
                "{codec:?}: repeated header keys and null header values are kept"
            );
            assert_eq!(stored[0].timestamp, 1_700_000_000_000);
            assert_eq!((stored[1].key.as_deref(), stored[1].value.as_deref()), (None, None), "null key and value");
            assert_eq!((stored[2].key.as_deref(), stored[2].value.as_deref()), (Some(&b""[..]), Some(&[0u8, 255, 7][..])));
        }
    })
    .await;
}

/// Partitions for 6 partitions computed independently with kafka-python 3.0.12's
/// `murmur2(key) & 0x7fffffff % 6`, the Java client's formula.
const KEYS_OVER_SIX: [(&str, i32); 8] = [
    ("alpha", 4),
    ("beta", 2),
    ("gamma", 4),
    ("delta", 2),
    ("epsilon", 1),
    ("zeta", 1),
    ("eta", 0),
    ("order-1001", 0),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_records_land_on_the_java_clients_partitions() {
    bounded(async {
        let (bootstrap, _guard) = test_bootstrap().await;
        let cluster = cluster(&bootstrap).await;
        let topic = unique_name("keys");
        create_topic(&cluster, &topic, 6, &[]).await;
        let producer = Producer::new(config(&bootstrap)).await.unwrap();
        for (key, expected) in KEYS_OVER_SIX {
            assert_eq!(partition_for_key(key.as_bytes(), 6), Some(expected), "{key}");
            let metadata = producer.send(ProducerRecord::new(&topic).key(key).value(key)).await.unwrap().await.unwrap();
            assert_eq!(metadata.partition, expected, "{key}");
        }
        producer.close().await.unwrap();
        for partition in 0..6 {
            let expected: Vec<&str> = KEYS_OVER_SIX.iter().filter(|(_, p)| *p == partition).map(|(k, _)| *k).collect();
            let stored = read_partition(&cluster, &topic, partition, expected.len()).await;
            let keys: Vec<String> = stored.iter().map(|r| String::from_utf8_lossy(r.key.as_deref().unwrap_or(b"")).into_owned()).collect();
            assert_eq!(keys, expected, "partition {partition}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unkeyed_records_stick_to_one_partition_until_batch_size() {
    bounded(async {
        let (bootstrap, _guard) = test_bootstrap().await;
        let cluster = cluster(&bootstrap).await;
        let topic = unique_name("sticky");
        create_topic(&cluster, &topic, 4, &[]).await;

        // 40 small records (well under one batch.size): one partition, one batch.
        let mut config = config(&bootstrap);
        config.linger_ms = 1_000;
        let producer = Producer::new(config).await.unwrap();
        let mut deliveries = Vec::new();
        for i in 0..40 {
            deliveries.push(producer.send(ProducerRecord::new(&topic).value(format!("small-{i}"))).await.unwrap());
        }
        producer.flush().await.unwrap();
        let mut partitions = BTreeSet::new();
        for delivery in deliveries {
            partitions.insert(delivery.await.unwrap().partition);
        }
        assert_eq!(partitions.len(), 1, "unkeyed records under batch.size share a partition: {partitions:?}");
        producer.close().await.unwrap();

        // With a tiny batch.size the sticky partition moves on, in runs.
        let mut config = self::config(&bootstrap);
        config.batch_size = 200;
        config.linger_ms = 1_000;
        let producer = Producer::new(config).await.unwrap();
        let mut deliveries = Vec::new();
        for i in 0..200 {
            deliveries.push(producer.send(ProducerRecord::new(&topic).value(format!("record-{i:04}"))).await.unwrap());
        }
        producer.flush().await.unwrap();
        let mut sequence = Vec::new();
        for delivery in deliveries {
            sequence.push(delivery.await.unwrap().partition);
        }
        let used: BTreeSet<i32> = sequence.iter().copied().collect();
        assert!(used.len() > 1, "200 records over batch.size=200 spread out: {used:?}");
        let switches = sequence.windows(2).filter(|w| w[0] != w[1]).count();
        assert!(switches < 100, "records stay in runs, not round-robin: {switches} switches");
        producer.close().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_batches_carry_producer_id_and_consecutive_sequences() {
    bounded(async {
        let (bootstrap, _guard) = test_bootstrap().await;
        let cluster = cluster(&bootstrap).await;
        let topic = unique_name("idem");
        create_topic(&cluster, &topic, 1, &[]).await;
        let mut config = config(&bootstrap);
        config.batch_size = 300; // several batches
        let producer = Producer::new(config).await.unwrap();
        assert!(producer.config().idempotence_enabled());
        let mut deliveries = Vec::new();
        for i in 0..30 {
            deliveries.push(producer.send(ProducerRecord::new(&topic).partition(0).value(format!("idem-{i:02}"))).await.unwrap());
        }
        for (i, delivery) in deliveries.into_iter().enumerate() {
            assert_eq!(delivery.await.unwrap().offset, i as i64);
        }
        producer.close().await.unwrap();
        let stored = read_partition(&cluster, &topic, 0, 30).await;
        assert_eq!(stored.len(), 30);
        assert!(stored[0].producer_id >= 0, "idempotent batches name their producer: {:?}", stored[0]);
        assert!(stored.iter().all(|r| r.producer_id == stored[0].producer_id && r.producer_epoch == stored[0].producer_epoch));
        assert_eq!(stored.iter().map(|r| r.sequence).collect::<Vec<_>>(), (0..30).collect::<Vec<i32>>());
        let batches: HashSet<i64> = stored.iter().map(|r| r.offset - i64::from(r.sequence)).collect();
        assert_eq!(batches.len(), 1, "offset - sequence is constant for one producer session");
    })
    .await;
}

/// What the idempotent producer relies on when it retries: the broker drops a batch whose
/// producer id, epoch and sequence it already has, and says so without an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_drops_a_resent_idempotent_batch() {
    bounded(async {
        let (bootstrap, _guard) = test_bootstrap().await;
        let cluster = cluster(&bootstrap).await;
        let topic = unique_name("dedup");
        create_topic(&cluster, &topic, 1, &[]).await;
        let connection = cluster.any_broker().await.unwrap();
        let identity = connection
            .send(
                InitProducerIdRequest::default()
                    .with_transactional_id(None)
                    .with_transaction_timeout_ms(i32::MAX)
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1),
            )
            .await
            .unwrap();
        assert_eq!(identity.error_code, 0);
        let fields = ProducerFields {
            producer_id: identity.producer_id.0,
            producer_epoch: identity.producer_epoch,
            base_sequence: 0,
        };
        let records: Vec<RecordData> = (0..3)
            .map(|i| RecordData { key: None, value: Some(Bytes::from(format!("d{i}"))), headers: vec![], timestamp: 1 })
            .collect();
        let encoded = batch::encode(&records, Compression::None, fields).unwrap();
        let (_, leader) = cluster.leader(&topic, 0).await.unwrap();
        let produce = |bytes: Bytes| {
            ProduceRequest::default().with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.clone())))
                .with_partition_data(vec![PartitionProduceData::default().with_index(0).with_records(Some(bytes))])])
        };
        let first = leader.send(produce(encoded.clone())).await.unwrap();
        let first = &first.responses[0].partition_responses[0];
        assert_eq!((first.error_code, first.base_offset), (0, 0));
        let again = leader.send(produce(encoded)).await.unwrap();
        let again = &again.responses[0].partition_responses[0];
        // Kafka answers NONE with the original offset while it remembers the batch;
        // DUPLICATE_SEQUENCE_NUMBER is the other answer the producer takes as success.
        assert!(again.error_code == 0 || again.error_code == 46, "resent batch: {again:?}");
        if again.error_code == 0 {
            assert_eq!(again.base_offset, 0, "the duplicate reports the original offset");
        }
        let stored = read_partition(&cluster, &topic, 0, 3).await;
        assert_eq!(values(&stored), vec!["d0", "d1", "d2"], "stored once");
    })
    .await;
}

/// What the test proxy does to the next Produce request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Forward the request (the broker writes it) but drop the connection instead of
    /// delivering its response.
    LoseResponse,
    /// Do not forward the request; answer it with this error code for every partition.
    AnswerWith(i16),
}

/// A loopback proxy that forwards Kafka frames both ways and injects one armed `Fault`.
struct FaultyProxy {
    addr: String,
    fault: Arc<Mutex<Option<Fault>>>,
}

impl FaultyProxy {
    async fn start(listener: TcpListener, upstream: String) -> FaultyProxy {
        let addr = listener.local_addr().unwrap().to_string();
        let fault = Arc::new(Mutex::new(None));
        let fault_in_task = fault.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else { continue };
                tokio::spawn(proxy_connection(client, server, fault_in_task.clone()));
            }
        });
        FaultyProxy { addr, fault }
    }

    fn arm(&self, fault: Fault) {
        *self.fault.lock().unwrap() = Some(fault);
    }

    fn fired(&self) -> bool {
        self.fault.lock().unwrap().is_none()
    }
}

/// Takes the armed fault if it is `wanted`.
fn take_fault(fault: &Mutex<Option<Fault>>, wanted: impl Fn(Fault) -> bool) -> Option<Fault> {
    let mut armed = fault.lock().unwrap();
    let taken = armed.filter(|f| wanted(*f))?;
    *armed = None;
    Some(taken)
}

async fn read_frame<R: AsyncReadExt + Unpin>(reader: &mut R) -> Option<Vec<u8>> {
    let size = reader.read_i32().await.ok()?;
    let mut frame = vec![0; usize::try_from(size).ok()?];
    reader.read_exact(&mut frame).await.ok()?;
    Some(frame)
}

async fn write_frame<W: AsyncWriteExt + Unpin>(writer: &mut W, frame: &[u8]) -> bool {
    let size = (frame.len() as i32).to_be_bytes();
    writer.write_all(&size).await.is_ok() && writer.write_all(frame).await.is_ok()
}

/// A Produce response answering every partition of the Produce request `frame` with `code`.
fn produce_error_response(frame: &[u8], code: i16) -> Vec<u8> {
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let mut body = Bytes::copy_from_slice(frame);
    let header = RequestHeader::decode(&mut body, ProduceRequest::header_version(version)).unwrap();
    let request = ProduceRequest::decode(&mut body, version).unwrap();
    let topics = request
        .topic_data
        .iter()
        .map(|topic| {
            TopicProduceResponse::default().with_name(topic.name.clone()).with_partition_responses(
                topic
                    .partition_data
                    .iter()
                    .map(|p| {
                        PartitionProduceResponse::default()
                            .with_index(p.index)
                            .with_error_code(code)
                            .with_base_offset(-1)
                            .with_log_append_time_ms(-1)
                            .with_log_start_offset(0)
                    })
                    .collect(),
            )
        })
        .collect();
    let mut out = BytesMut::new();
    ResponseHeader::default()
        .with_correlation_id(header.correlation_id)
        .encode(&mut out, ProduceResponse::header_version(version))
        .unwrap();
    ProduceResponse::default().with_responses(topics).encode(&mut out, version).unwrap();
    out.to_vec()
}

async fn proxy_connection(client: TcpStream, server: TcpStream, fault: Arc<Mutex<Option<Fault>>>) {
    let (mut client_read, client_write) = client.into_split();
    let client_write = Arc::new(tokio::sync::Mutex::new(client_write));
    let (mut server_read, mut server_write) = server.into_split();
    let produce_ids: Arc<Mutex<HashSet<i32>>> = Arc::default();
    let (ids, to_client, upstream_fault) = (produce_ids.clone(), client_write.clone(), fault.clone());
    let upstream = tokio::spawn(async move {
        while let Some(frame) = read_frame(&mut client_read).await {
            if frame.len() >= 8 && i16::from_be_bytes([frame[0], frame[1]]) == 0 {
                if let Some(Fault::AnswerWith(code)) =
                    take_fault(&upstream_fault, |f| matches!(f, Fault::AnswerWith(_)))
                {
                    let reply = produce_error_response(&frame, code);
                    if !write_frame(&mut *to_client.lock().await, &reply).await {
                        break;
                    }
                    continue;
                }
                ids.lock().unwrap().insert(i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]));
            }
            if !write_frame(&mut server_write, &frame).await {
                break;
            }
        }
    });
    while let Some(frame) = read_frame(&mut server_read).await {
        let correlation_id = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
        let is_produce = produce_ids.lock().unwrap().remove(&correlation_id);
        if is_produce && take_fault(&fault, |f| f == Fault::LoseResponse).is_some() {
            break; // lose the response: the client sees the connection drop
        }
        if !write_frame(&mut *client_write.lock().await, &frame).await {
            break;
        }
    }
    upstream.abort();
}

/// An in-process Runnel that advertises a `FaultyProxy` in front of it, so that every
/// client connection goes through the proxy.
async fn runnel_behind_proxy() -> (FaultyProxy, common::Guard) {
    let proxy_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = proxy_listener.local_addr().unwrap().to_string();
    let broker_addr = format!("127.0.0.1:{}", common::free_port());
    let (_, guard) = start_runnel(&[
        ("listeners", &format!("PLAINTEXT://{broker_addr}")),
        ("advertised.listeners", &format!("PLAINTEXT://{proxy_addr}")),
    ])
    .await;
    (FaultyProxy::start(proxy_listener, broker_addr).await, guard)
}

/// The retry after a lost Produce response: written once with idempotence, twice without
/// (which shows the response really was lost). Needs a broker that advertises the proxy,
/// so it runs on the in-process Runnel only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_a_lost_response_is_deduplicated_only_when_idempotent() {
    if common::external_bootstrap().is_some() {
        eprintln!("skipped: needs an in-process broker that advertises the test proxy");
        return;
    }
    bounded(async {
        let (proxy, _guard) = runnel_behind_proxy().await;
        let cluster = cluster(&proxy.addr).await;

        for idempotent in [true, false] {
            let topic = unique_name("lost");
            create_topic(&cluster, &topic, 1, &[]).await;
            let mut config = config(&proxy.addr);
            config.enable_idempotence = Some(idempotent);
            if !idempotent {
                config.acks = Acks::Leader;
            }
            let producer = Producer::new(config).await.unwrap();
            proxy.arm(Fault::LoseResponse);
            let metadata =
                producer.send(ProducerRecord::new(&topic).partition(0).value("once")).await.unwrap().await.unwrap();
            assert!(proxy.fired(), "the proxy lost a response");
            producer.close().await.unwrap();
            let stored = read_partition(&cluster, &topic, 0, 1).await;
            if idempotent {
                assert_eq!(values(&stored), vec!["once"], "the broker dropped the retried duplicate");
                assert_eq!(metadata.offset, 0);
            } else {
                assert_eq!(values(&stored), vec!["once", "once"], "without idempotence the retry duplicates");
            }
        }

        // Several batches in flight when the connection drops: every one is retried with its
        // sequence, in order, and each record is stored exactly once, in send order.
        let topic = unique_name("lost-many");
        create_topic(&cluster, &topic, 1, &[]).await;
        let mut config = config(&proxy.addr);
        config.batch_size = 300;
        config.linger_ms = 0;
        let producer = Producer::new(config).await.unwrap();
        producer.send(ProducerRecord::new(&topic).partition(0).value("warm-up")).await.unwrap().await.unwrap();
        proxy.arm(Fault::LoseResponse);
        let mut deliveries = Vec::new();
        for i in 0..60 {
            deliveries.push(producer.send(ProducerRecord::new(&topic).partition(0).value(format!("m{i:02}"))).await.unwrap());
        }
        let mut offsets = Vec::new();
        for delivery in deliveries {
            offsets.push(delivery.await.unwrap().offset);
        }
        assert!(proxy.fired(), "the proxy lost a response");
        producer.close().await.unwrap();
        let stored = read_partition(&cluster, &topic, 0, 61).await;
        let expected: Vec<String> =
            std::iter::once("warm-up".to_string()).chain((0..60).map(|i| format!("m{i:02}"))).collect();
        assert_eq!(values(&stored), expected);
        assert_eq!(offsets, (1..61).collect::<Vec<i64>>(), "each record reports the offset it is stored at");
    })
    .await;
}

/// A sequence gap (OUT_OF_ORDER_SEQUENCE_NUMBER on the partition's first unresolved batch)
/// and lost producer state (UNKNOWN_PRODUCER_ID) make the idempotent producer start a new
/// epoch at sequence 0 and retry, as Kafka's producer does; the record is stored once.
/// The error is injected by the proxy, so this runs on the in-process Runnel only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequence_gap_or_unknown_producer_bumps_the_epoch_and_retries() {
    if common::external_bootstrap().is_some() {
        eprintln!("skipped: needs an in-process broker that advertises the test proxy");
        return;
    }
    bounded(async {
        let (proxy, _guard) = runnel_behind_proxy().await;
        let cluster = cluster(&proxy.addr).await;
        for code in [45, 59] {
            let topic = unique_name("gap");
            create_topic(&cluster, &topic, 1, &[]).await;
            let producer = Producer::new(config(&proxy.addr)).await.unwrap();
            producer.send(ProducerRecord::new(&topic).partition(0).value("first")).await.unwrap().await.unwrap();
            proxy.arm(Fault::AnswerWith(code));
            let metadata =
                producer.send(ProducerRecord::new(&topic).partition(0).value("second")).await.unwrap().await.unwrap();
            assert!(proxy.fired(), "the proxy answered with error {code}");
            assert_eq!(metadata.offset, 1, "error {code}");
            producer.close().await.unwrap();
            let stored = read_partition(&cluster, &topic, 0, 2).await;
            assert_eq!(values(&stored), vec!["first", "second"], "error {code}");
            assert_eq!(stored[1].producer_id, stored[0].producer_id);
            assert_eq!(stored[1].producer_epoch, stored[0].producer_epoch + 1, "error {code}: a new epoch");
            assert_eq!(stored[1].sequence, 0, "error {code}: sequences restart with the epoch");
        }
    })
    .await;
}

/// Retriable errors (a stale leader, a broker-side timeout) are retried with the batch's
/// sequence unchanged: no new epoch, stored once. In-process Runnel only (injected errors).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retriable_errors_are_retried_with_the_same_sequence() {
    if common::external_bootstrap().is_some() {
        eprintln!("skipped: needs an in-process broker that advertises the test proxy");
        return;
    }
    bounded(async {
        let (proxy, _guard) = runnel_behind_proxy().await;
        let cluster = cluster(&proxy.addr).await;
        for code in [6, 7] {
            // NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT
            let topic = unique_name("retriable");
            create_topic(&cluster, &topic, 1, &[]).await;
            let producer = Producer::new(config(&proxy.addr)).await.unwrap();
            producer.send(ProducerRecord::new(&topic).partition(0).value("first")).await.unwrap().await.unwrap();
            proxy.arm(Fault::AnswerWith(code));
            let metadata =
                producer.send(ProducerRecord::new(&topic).partition(0).value("second")).await.unwrap().await.unwrap();
            assert!(proxy.fired(), "the proxy answered with error {code}");
            assert_eq!(metadata.offset, 1, "error {code}");
            producer.close().await.unwrap();
            let stored = read_partition(&cluster, &topic, 0, 2).await;
            assert_eq!(values(&stored), vec!["first", "second"], "error {code}");
            assert_eq!(stored[1].producer_epoch, stored[0].producer_epoch, "error {code}: same epoch");
            assert_eq!(stored[1].sequence, 1, "error {code}: same sequence");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_larger_than_max_request_size_fails_at_send() {
    bounded(async {
        let (bootstrap, _guard) = test_bootstrap().await;
        let topic = unique_name("huge");
        let mut config = config(&bootstrap);
        config.max_request_size = 10_000;
        let producer = Producer::new(config).await.unwrap();
        let error = match producer.send(ProducerRecord::new(&topic).value(vec![7u8; 20_000])).await {
            Ok(_) => panic!("a 20 kB record passed max.request.size=10000"),
            Err(error) => error,
        };
        assert_eq!(error.code(), Some(MESSAGE_TOO_LARGE), "{error}");
        // The producer goes on.
        producer.send(ProducerRecord::new(&topic).value("fits")).await.unwrap().await.unwrap();
        producer.close().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_too_large_for_the_broker_is_split_and_reported_per_record() {
    bounded(async {
        let (bootstrap, _guard) = test_bootstrap().await;
        let cluster = cluster(&bootstrap).await;
        let topic = unique_name("split");
        create_topic(&cluster, &topic, 1, &[("max.message.bytes", "2000")]).await;
        let mut config = config(&bootstrap);
        config.linger_ms = 5_000;
        config.delivery_timeout_ms = 60_000;
        let producer = Producer::new(config).await.unwrap();
        let mut deliveries = Vec::new();
        for i in 0..6 {
            let value = if i == 3 { "x".repeat(3_000) } else { format!("small-{i}") };
            deliveries.push(producer.send(ProducerRecord::new(&topic).partition(0).value(value)).await.unwrap());
        }
        producer.flush().await.unwrap();
        let mut outcomes = Vec::new();
        for delivery in deliveries {
            outcomes.push(delivery.await);
        }
        for (i, outcome) in outcomes.iter().enumerate() {
            match (i, outcome) {
                (3, Err(error)) => assert_eq!(error.code(), Some(MESSAGE_TOO_LARGE), "{error}"),
                (3, Ok(metadata)) => panic!("a 3000-byte record passed max.message.bytes=2000: {metadata:?}"),
                (_, Err(error)) => panic!("record {i} failed with its too-large neighbour: {error}"),
                (_, Ok(_)) => {}
            }
        }
        // Later records still go through (a new epoch restarts the sequences).
        let after = producer.send(ProducerRecord::new(&topic).partition(0).value("after")).await.unwrap();
        producer.flush().await.unwrap();
        after.await.unwrap();
        producer.close().await.unwrap();
        let stored = read_partition(&cluster, &topic, 0, 6).await;
        assert_eq!(values(&stored), vec!["small-0", "small-1", "small-2", "small-4", "small-5", "after"]);
        // The failed record's sequence was spent, so the producer moved to a new epoch, as
        // Kafka's idempotent producer does, instead of leaving a gap the broker would refuse.
        assert_eq!(stored[5].producer_id, stored[0].producer_id);
        assert_eq!(stored[5].producer_epoch, stored[0].producer_epoch + 1, "{stored:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_to_an_unknown_topic_auto_creates_it() {
    bounded(async {
        let (bootstrap, _guard) = test_bootstrap().await;
        let topic = unique_name("auto");
        let producer = Producer::new(config(&bootstrap)).await.unwrap();
        let metadata = producer.send(ProducerRecord::new(&topic).key("k").value("v")).await.unwrap().await.unwrap();
        assert_eq!(metadata.topic, topic);
        assert_eq!(metadata.offset, 0);
        let fresh = producer.cluster().refresh(Some(std::slice::from_ref(&topic)), false).await.unwrap();
        assert!(fresh.partition_count(&topic).is_some_and(|n| n >= 1));
        producer.close().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_topic_name_fails_without_waiting() {
    bounded(async {
        let (bootstrap, _guard) = test_bootstrap().await;
        let producer = Producer::new(config(&bootstrap)).await.unwrap();
        let started = Instant::now();
        let error = match producer.send(ProducerRecord::new("bad topic name!").value("v")).await {
            Ok(_) => panic!("a topic name with spaces was accepted"),
            Err(error) => error,
        };
        assert_eq!(error.code(), Some(17), "INVALID_TOPIC_EXCEPTION: {error}");
        assert!(started.elapsed() < Duration::from_secs(10), "failed fast, not after max.block.ms");
        producer.close().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_timestamp_or_partition_is_refused_at_send() {
    bounded(async {
        let (bootstrap, _guard) = test_bootstrap().await;
        let producer = Producer::new(config(&bootstrap)).await.unwrap();
        let topic = unique_name("neg");
        let error = producer.send(ProducerRecord::new(&topic).timestamp(-5).value("v")).await.err().expect("refused");
        assert_eq!(error.code(), Some(32), "INVALID_TIMESTAMP: {error}");
        let error = producer.send(ProducerRecord::new(&topic).partition(-1).value("v")).await.err().expect("refused");
        assert!(matches!(error, Error::NotFound(_)), "{error}");
        producer.close().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_partition_times_out_after_max_block() {
    bounded(async {
        let (bootstrap, _guard) = test_bootstrap().await;
        let cluster = cluster(&bootstrap).await;
        let topic = unique_name("nopart");
        create_topic(&cluster, &topic, 1, &[]).await;
        let mut config = config(&bootstrap);
        config.max_block_ms = 500;
        let producer = Producer::new(config).await.unwrap();
        match producer.send(ProducerRecord::new(&topic).partition(5).value("v")).await {
            Err(Error::Timeout(text)) => assert!(text.contains("Partition 5"), "{text}"),
            Err(other) => panic!("unexpected error: {other}"),
            Ok(_) => panic!("partition 5 of a one-partition topic was accepted"),
        }
        producer.close().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_delivers_queued_records_and_refuses_new_ones() {
    bounded(async {
        let (bootstrap, _guard) = test_bootstrap().await;
        let cluster = cluster(&bootstrap).await;
        let topic = unique_name("close");
        create_topic(&cluster, &topic, 2, &[]).await;
        let mut config = config(&bootstrap);
        config.linger_ms = 10_000; // only close can make these sendable in time
        let producer = Producer::new(config).await.unwrap();
        let mut deliveries = Vec::new();
        for i in 0..10 {
            deliveries.push(producer.send(ProducerRecord::new(&topic).value(format!("c{i}"))).await.unwrap());
        }
        let started = Instant::now();
        producer.close().await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(9), "close ignored linger.ms");
        for delivery in deliveries {
            assert!(delivery.await.unwrap().offset >= 0);
        }
        assert!(matches!(producer.send(ProducerRecord::new(&topic).value("late")).await, Err(Error::Closed)));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_producer_serializes_keys_and_values() {
    bounded(async {
        let (bootstrap, _guard) = test_bootstrap().await;
        let cluster = cluster(&bootstrap).await;
        let topic = unique_name("typed");
        create_topic(&cluster, &topic, 1, &[]).await;
        let producer = Producer::new(config(&bootstrap)).await.unwrap();
        let typed: TypedProducer<str, String> = TypedProducer::new(producer.clone(), RawSerializer, RawSerializer);
        typed.send(&topic, Some("k"), Some(&"héllo".to_string())).await.unwrap().await.unwrap();
        typed.send(&topic, None, None).await.unwrap().await.unwrap();
        producer.close().await.unwrap();
        let stored = read_partition(&cluster, &topic, 0, 2).await;
        type KeyValue = (Option<Vec<u8>>, Option<Vec<u8>>);
        let pairs: BTreeMap<i64, KeyValue> = stored.iter().map(|r| (r.offset, (r.key.clone(), r.value.clone()))).collect();
        assert_eq!(pairs[&0], (Some(b"k".to_vec()), Some("héllo".as_bytes().to_vec())));
        assert_eq!(pairs[&1], (None, None));
    })
    .await;
}
