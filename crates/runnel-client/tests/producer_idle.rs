//! An idle producer must cost (almost) no CPU: a stale retry instant once made the sender's
//! loop sleep "until the past", waking at every timer tick. Its own test binary, so that no other test
//! shares the process whose CPU time it measures (Linux `/proc/self/stat`).

mod common;

use std::time::Duration;

use common::{test_bootstrap, unique_name};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::{ApiKey, DeleteTopicsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use runnel_client::producer::{Producer, ProducerConfig, ProducerRecord};

/// Wall time the producer sits idle while CPU time is measured.
const IDLE_WINDOW: Duration = Duration::from_secs(3);
/// CPU the whole process (producer, and the in-process broker if any) may use meanwhile.
/// Idle measures 0-10 ms; a sender loop woken at every timer tick (1 ms) measures ~200 ms.
const IDLE_CPU_MAX: Duration = Duration::from_millis(80);

/// User plus system CPU time of this process so far.
fn process_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let after_name = &stat[stat.rfind(')').expect("command name") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // USER_HZ is 100 on every Linux this runs on.
    Duration::from_millis(ticks * 10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_producer_does_not_wake_at_every_timer_tick_after_a_metadata_retry() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let (bootstrap, _guard) = test_bootstrap().await;
        let producer = Producer::new(ProducerConfig::new(&bootstrap)).await.unwrap();
        let topic = unique_name("idle");
        producer.send(ProducerRecord::new(&topic).partition(0).value("v")).await.unwrap().await.unwrap();
        // Delete the topic under the producer: its next batch meets UNKNOWN_TOPIC_OR_PARTITION,
        // and the sender refreshes metadata (auto-creating the topic again) and retries. That
        // leaves a metadata retry time behind, which once made the idle loop spin.
        let connection = producer.cluster().any_broker().await.unwrap();
        let name = TopicName(StrBytes::from_string(topic.clone()));
        let request = if connection.version(ApiKey::DeleteTopics).unwrap() >= 6 {
            DeleteTopicsRequest::default().with_topics(vec![DeleteTopicState::default().with_name(Some(name))])
        } else {
            DeleteTopicsRequest::default().with_topic_names(vec![name])
        };
        let request = request.with_timeout_ms(10_000);
        let response = connection.send(request).await.unwrap();
        assert_eq!(response.responses[0].error_code, 0, "delete {topic}");
        producer.send(ProducerRecord::new(&topic).partition(0).value("again")).await.unwrap().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = process_cpu_time();
        tokio::time::sleep(IDLE_WINDOW).await;
        let used = process_cpu_time().saturating_sub(before);
        assert!(used < IDLE_CPU_MAX, "an idle producer used {used:?} of CPU in {IDLE_WINDOW:?}");
        producer.close().await.unwrap();
    })
    .await
    .expect("bounded");
}
