//! End-to-end latency at a fixed rate, open loop: bench/java/LatencyBench.java's method on
//! librdkafka, so the rate can be half of what this client drives Kafka to.
//!
//! One thread sends on a fixed schedule (send i is due at start + i / rate), each payload
//! carrying its scheduled send time; one consumer, assigned every partition at its end offset
//! before the first send, records now - scheduled time per record in an HDR histogram.
//! Measuring from the scheduled time means a stalled producer or broker shows as latency
//! instead of silently lowering the rate (no coordinated omission). Records scheduled during
//! the warm-up are received but not recorded. Prints LatencyBench's JSON object; the caller
//! judges the counts (sent, acked, received, errors).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

use crate::{
    connected_metadata, new_consumer, partition_count, Deliveries, METADATA_TIMEOUT_MS, POLL_TIMEOUT_MS, QUEUE_WAIT,
};

/// Marks a client property as the consumer's (the rest are the producer's).
const CONSUMER_PREFIX: &str = "consumer.";
/// Payload header: scheduled send time (ns after the run's epoch) and sequence number.
const HEADER_BYTES: usize = 16;
/// Between setting up and the first scheduled send.
const START_DELAY_MS: u64 = 200;
/// After the last send, how long the consumer may take to receive what was acknowledged.
const DRAIN_TIMEOUT_MS: u64 = 30_000;
/// The producer's final flush.
const FLUSH_TIMEOUT_MS: u64 = 30_000;
/// Between two tries of a partition's end offset.
const RETRY_MS: u64 = 100;
/// Three significant digits, HdrHistogram's usual setting; values in microseconds.
const SIGNIFICANT_DIGITS: u8 = 3;

pub struct Plan {
    rate_msg_s: f64,
    duration_s: f64,
    warmup_s: f64,
    record_bytes: usize,
    /// librdkafka producer properties, from `key=value` arguments.
    producer_props: Vec<(String, String)>,
    /// librdkafka consumer properties, from `consumer.key=value` arguments.
    consumer_props: Vec<(String, String)>,
}

impl Plan {
    pub fn parse(rate: &str, duration_s: &str, warmup_s: &str, record_bytes: &str, props: &[&str]) -> Result<Plan, String> {
        let number = |what: &str, text: &str| text.parse::<f64>().map_err(|_| format!("{what}: not a number: {text:?}"));
        let props: Vec<(String, String)> = props
            .iter()
            .map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
            .collect::<Option<_>>()
            .ok_or("client properties are KEY=VALUE")?;
        let (consumer_props, producer_props): (Vec<_>, Vec<_>) = props.into_iter().partition(|(k, _)| k.starts_with(CONSUMER_PREFIX));
        let plan = Plan {
            rate_msg_s: number("rate", rate)?,
            duration_s: number("duration", duration_s)?,
            warmup_s: number("warm-up", warmup_s)?,
            record_bytes: record_bytes.parse().map_err(|_| format!("record bytes: not a count: {record_bytes:?}"))?,
            producer_props,
            consumer_props: consumer_props.into_iter().map(|(k, v)| (k[CONSUMER_PREFIX.len()..].to_owned(), v)).collect(),
        };
        if plan.rate_msg_s <= 0.0 || plan.duration_s <= 0.0 || plan.warmup_s < 0.0 {
            return Err("rate and duration must be positive, the warm-up not negative".to_owned());
        }
        if plan.record_bytes < HEADER_BYTES {
            return Err(format!("records must be at least {HEADER_BYTES} bytes"));
        }
        Ok(plan)
    }
}

/// A partition's end offset. Kafka answers NOT_LEADER for a moment after creating a topic,
/// so retryable errors are retried until METADATA_TIMEOUT_MS.
fn end_offset(consumer: &BaseConsumer, topic: &str, partition: i32) -> Result<i64, String> {
    let deadline = Instant::now() + Duration::from_millis(METADATA_TIMEOUT_MS);
    loop {
        match consumer.fetch_watermarks(topic, partition, Duration::from_millis(METADATA_TIMEOUT_MS)) {
            Ok((_, high)) => return Ok(high),
            Err(error) if Instant::now() < deadline && retryable(&error) => thread::sleep(Duration::from_millis(RETRY_MS)),
            Err(error) => return Err(format!("end offset of partition {partition}: {error}")),
        }
    }
}

fn retryable(error: &KafkaError) -> bool {
    use RDKafkaErrorCode::*;
    matches!(
        error.rdkafka_error_code(),
        Some(NotLeaderForPartition | LeaderNotAvailable | UnknownTopicOrPartition | NotCoordinator)
    )
}

pub struct Outcome {
    plan_rate_msg_s: f64,
    duration_s: f64,
    warmup_s: f64,
    record_bytes: usize,
    partitions: i32,
    sent: u64,
    acked: u64,
    errors: u64,
    received: u64,
    histogram: Histogram<u64>,
    max_send_lag: Duration,
    first_error: Option<String>,
}

impl Outcome {
    pub fn json(&self) -> String {
        let ms = |quantile: f64| self.histogram.value_at_quantile(quantile) as f64 / 1000.0;
        let first_error = self.first_error.as_deref().map_or("null".to_owned(), json_string);
        format!(
            r#"{{"rate_msg_s": {:.1}, "duration_s": {:.1}, "warmup_s": {:.1}, "record_size": {}, "partitions": {}, "sent": {}, "acked": {}, "errors": {}, "received": {}, "measured": {}, "p50_ms": {:.3}, "p99_ms": {:.3}, "p999_ms": {:.3}, "max_ms": {:.3}, "max_send_lag_ms": {:.3}, "first_error": {}}}"#,
            self.plan_rate_msg_s,
            self.duration_s,
            self.warmup_s,
            self.record_bytes,
            self.partitions,
            self.sent,
            self.acked,
            self.errors,
            self.received,
            self.histogram.len(),
            ms(0.5),
            ms(0.99),
            ms(0.999),
            self.histogram.max() as f64 / 1000.0,
            self.max_send_lag.as_secs_f64() * 1000.0,
            first_error,
        )
    }
}

/// Runs the plan; set-up failures end up in `first_error` with zero counts.
pub fn run(bootstrap: &str, topic: &str, plan: &Plan) -> Outcome {
    let mut outcome = Outcome {
        plan_rate_msg_s: plan.rate_msg_s,
        duration_s: plan.duration_s,
        warmup_s: plan.warmup_s,
        record_bytes: plan.record_bytes,
        partitions: 0,
        sent: 0,
        acked: 0,
        errors: 0,
        received: 0,
        histogram: Histogram::new(SIGNIFICANT_DIGITS).expect("3 significant digits is a valid histogram"),
        max_send_lag: Duration::ZERO,
        first_error: None,
    };
    if let Err(why) = measure(bootstrap, topic, plan, &mut outcome) {
        outcome.first_error.get_or_insert(why);
    }
    outcome
}

// rdkafka's `send` returns the record with its error, as the retry in `send_waiting` needs.
#[allow(clippy::result_large_err)]
fn measure(bootstrap: &str, topic: &str, plan: &Plan, outcome: &mut Outcome) -> Result<(), String> {
    let consumer = new_consumer(bootstrap, &plan.consumer_props)?;
    outcome.partitions = partition_count(&consumer, topic)?;
    // Explicit end offsets, resolved now, so no record sent from here on is skipped.
    let mut assignment = TopicPartitionList::new();
    for partition in 0..outcome.partitions {
        let high = end_offset(&consumer, topic, partition)?;
        assignment
            .add_partition_offset(topic, partition, Offset::Offset(high))
            .map_err(|e| format!("assignment: {e}"))?;
    }
    consumer.assign(&assignment).map_err(|e| format!("assign: {e}"))?;

    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    for (key, value) in &plan.producer_props {
        config.set(key, value);
    }
    let producer: ThreadedProducer<Deliveries> =
        config.create_with_context(Deliveries::default()).map_err(|e| format!("cannot create the producer: {e}"))?;
    connected_metadata(producer.client(), topic)?;

    let epoch = Instant::now();
    let start = epoch + Duration::from_millis(START_DELAY_MS);
    let measure_from = start + Duration::from_secs_f64(plan.warmup_s);
    let total = ((plan.warmup_s + plan.duration_s) * plan.rate_msg_s).round().max(1.0) as u64;
    let interval_ns = (1e9 / plan.rate_msg_s).round().max(1.0) as u64;

    let received = Arc::new(AtomicU64::new(0));
    let expected = Arc::new(AtomicU64::new(u64::MAX)); // set once sending is done
    let sending_done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (received, expected, sending_done) = (received.clone(), expected.clone(), sending_done.clone());
        let measure_from_ns = (measure_from - epoch).as_nanos() as u64;
        let mut histogram = outcome.histogram.clone();
        thread::spawn(move || {
            let mut drain_deadline = None;
            loop {
                if let Some(Ok(message)) = consumer.poll(Duration::from_millis(POLL_TIMEOUT_MS)) {
                    let now_ns = epoch.elapsed().as_nanos() as u64;
                    if let Some(header) = message.payload().and_then(|p| p.get(..HEADER_BYTES)) {
                        let scheduled_ns = u64::from_be_bytes(header[..8].try_into().expect("8 bytes"));
                        received.fetch_add(1, Ordering::Relaxed);
                        if scheduled_ns >= measure_from_ns {
                            let _ = histogram.record(now_ns.saturating_sub(scheduled_ns) / 1000);
                        }
                    }
                }
                if sending_done.load(Ordering::Acquire) {
                    let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + Duration::from_millis(DRAIN_TIMEOUT_MS));
                    if received.load(Ordering::Relaxed) >= expected.load(Ordering::Acquire) || Instant::now() > deadline {
                        return histogram;
                    }
                }
            }
        })
    };

    let mut payload = vec![b'x'; plan.record_bytes];
    for i in 0..total {
        let scheduled = start + Duration::from_nanos(i * interval_ns);
        let now = Instant::now();
        if now < scheduled {
            thread::sleep(scheduled - now);
        }
        outcome.max_send_lag = outcome.max_send_lag.max(Instant::now().saturating_duration_since(scheduled));
        payload[..8].copy_from_slice(&((scheduled - epoch).as_nanos() as u64).to_be_bytes());
        payload[8..16].copy_from_slice(&i.to_be_bytes());
        let record = Record::to(topic).payload(&payload);
        if let Err(error) = send_waiting(record, |r| producer.send(r), || thread::sleep(QUEUE_WAIT)) {
            outcome.errors += 1;
            outcome.first_error.get_or_insert_with(|| error.to_string());
        }
    }
    outcome.sent = total;
    let flushed = producer.flush(Duration::from_millis(FLUSH_TIMEOUT_MS));
    let deliveries = producer.context();
    outcome.acked = deliveries.acknowledged.load(Ordering::Relaxed);
    outcome.errors += deliveries.failed.load(Ordering::Relaxed);
    if let Some(first) = deliveries.first_error.get() {
        outcome.first_error.get_or_insert_with(|| first.clone());
    }
    if let Err(e) = flushed {
        outcome.first_error.get_or_insert_with(|| format!("flush: {e}"));
    }
    expected.store(outcome.acked, Ordering::Release);
    sending_done.store(true, Ordering::Release);
    outcome.histogram = reader.join().map_err(|_| "the consumer thread panicked".to_owned())?;
    outcome.received = received.load(Ordering::Relaxed);
    if outcome.received < outcome.acked {
        outcome.first_error.get_or_insert_with(|| "consumer did not finish within the drain timeout".to_owned());
    }
    Ok(())
}

fn json_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' | '\\' => quoted.extend(['\\', c]),
            c if u32::from(c) < 0x20 => quoted.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// A record as librdkafka's producers take it: no key, a borrowed payload.
type Record<'a> = BaseRecord<'a, (), [u8]>;

/// Queues `record` with `send`, calling `wait` while librdkafka's queue is full (so a full
/// queue slows the sender down instead of failing the run).
fn send_waiting<'a>(
    mut record: Record<'a>,
    mut send: impl FnMut(Record<'a>) -> Result<(), (KafkaError, Record<'a>)>,
    mut wait: impl FnMut(),
) -> Result<(), KafkaError> {
    loop {
        match send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                wait();
            }
            Err((error, _)) => return Err(error),
        }
    }
}
