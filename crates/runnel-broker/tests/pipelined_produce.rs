//! A connection keeps reading while its produce requests wait for their group commit: a
//! producer's pipelined acks=all requests to a flush.messages=1 topic are all answered, in
//! request order, each only once durable, and a request of another kind sent behind them is
//! answered after them.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use runnel_broker::config::BrokerConfig;
use runnel_broker::Broker;
use runnel_protocol::batch::testing;
use runnel_protocol::kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use runnel_protocol::kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use runnel_protocol::kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, MetadataRequest, MetadataResponse, ProduceRequest,
    ProduceResponse, RequestHeader, TopicName,
};
use runnel_protocol::kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Bound on every network wait in this test.
const IO_TIMEOUT: Duration = Duration::from_secs(20);
const PRODUCE_VERSION: i16 = 9;
const CREATE_TOPICS_VERSION: i16 = 5;
const METADATA_VERSION: i16 = 1;
const PIPELINED_PRODUCES: i32 = 6;
const PARTITIONS: i32 = 4;

fn frame(key: ApiKey, version: i16, correlation_id: i32, request: &impl Encodable) -> BytesMut {
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("pipeline-test")));
    let mut body = BytesMut::new();
    header.encode(&mut body, key.request_header_version(version)).expect("header encodes");
    request.encode(&mut body, version).expect("request encodes");
    let mut frame = BytesMut::new();
    frame.put_i32(body.len() as i32);
    frame.extend_from_slice(&body);
    frame
}

/// Reads one response frame; returns its correlation id and body (header tags skipped).
async fn read_response(stream: &mut TcpStream, key: ApiKey, version: i16) -> (i32, Bytes) {
    let size = stream.read_i32().await.expect("response size");
    let mut bytes = vec![0u8; usize::try_from(size).expect("sane size")];
    stream.read_exact(&mut bytes).await.expect("response body");
    let mut bytes = Bytes::from(bytes);
    let correlation_id = bytes.get_i32();
    if key.response_header_version(version) >= 1 {
        assert_eq!(bytes.get_u8(), 0, "no header tagged fields");
    }
    (correlation_id, bytes)
}

fn produce_request(topic: &str) -> ProduceRequest {
    let partitions = (0..PARTITIONS)
        .map(|index| {
            PartitionProduceData::default()
                .with_index(index)
                .with_records(Some(Bytes::from(testing::plain_batch(3, 100, 1_000))))
        })
        .collect();
    ProduceRequest::default().with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![TopicProduceData::default()
        .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
        .with_partition_data(partitions)])
}

#[tokio::test]
async fn pipelined_fsync_produces_are_answered_in_order_after_their_group_commit() {
    let data = tempfile::tempdir().expect("data dir");
    let map: BTreeMap<String, String> = [
        ("listeners", "PLAINTEXT://127.0.0.1:0".to_string()),
        ("log.dirs", data.path().display().to_string()),
        ("offsets.topic.replication.factor", "1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let (config, _) = BrokerConfig::from_map(&map).expect("valid config");
    let broker = Broker::bind(config).await.expect("broker binds");
    let address = broker.local_addr_of("PLAINTEXT").expect("plaintext listener");
    let shutdown = CancellationToken::new();
    let served = tokio::spawn(broker.run(shutdown.clone()));

    let exchange = async {
        let mut stream = TcpStream::connect(address).await.expect("connects");
        let topic = "fsync-every-message";
        let create = CreateTopicsRequest::default().with_timeout_ms(10_000).with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str(topic)))
            .with_num_partitions(PARTITIONS)
            .with_replication_factor(1)
            .with_configs(vec![
                CreatableTopicConfig::default()
                    .with_name(StrBytes::from_static_str("flush.messages"))
                    .with_value(Some(StrBytes::from_static_str("1"))),
            ])]);
        stream.write_all(&frame(ApiKey::CreateTopics, CREATE_TOPICS_VERSION, 1, &create)).await.unwrap();
        let (_, mut body) = read_response(&mut stream, ApiKey::CreateTopics, CREATE_TOPICS_VERSION).await;
        let created = CreateTopicsResponse::decode(&mut body, CREATE_TOPICS_VERSION).expect("decodes");
        assert_eq!(created.topics[0].error_code, 0, "topic created");

        // Every produce, then a metadata request, written before any response is read.
        let mut burst = BytesMut::new();
        for i in 0..PIPELINED_PRODUCES {
            burst.extend_from_slice(&frame(ApiKey::Produce, PRODUCE_VERSION, 100 + i, &produce_request(topic)));
        }
        let metadata = MetadataRequest::default().with_topics(Some(vec![]));
        burst.extend_from_slice(&frame(ApiKey::Metadata, METADATA_VERSION, 999, &metadata));
        stream.write_all(&burst).await.unwrap();

        for i in 0..PIPELINED_PRODUCES {
            let (correlation_id, mut body) = read_response(&mut stream, ApiKey::Produce, PRODUCE_VERSION).await;
            assert_eq!(correlation_id, 100 + i, "responses in request order");
            let response = ProduceResponse::decode(&mut body, PRODUCE_VERSION).expect("decodes");
            for partition in &response.responses[0].partition_responses {
                assert_eq!(partition.error_code, 0, "produce {i} partition {}", partition.index);
                assert_eq!(partition.base_offset, i64::from(3 * i), "produce {i} lands after the ones before it");
            }
        }
        let (correlation_id, mut body) = read_response(&mut stream, ApiKey::Metadata, METADATA_VERSION).await;
        assert_eq!(correlation_id, 999, "the metadata answer comes after every produce");
        MetadataResponse::decode(&mut body, METADATA_VERSION).expect("decodes");
    };
    tokio::time::timeout(IO_TIMEOUT, exchange).await.expect("bounded exchange");
    shutdown.cancel();
    let _ = tokio::time::timeout(IO_TIMEOUT, served).await.expect("broker stops");
}
