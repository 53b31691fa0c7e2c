//! bench/compare.py's produce and consume load generator, on librdkafka (the `rdkafka` crate).
//!
//! Kafka's Java perf tools, pinned to the one client core of a 2-core machine, top out near
//! the speed of the broker they measure, so they hide the difference between brokers. One
//! librdkafka client drives either broker at several times that rate from the same core.
//! The same binary and the same settings (librdkafka's defaults plus `acks`) run against both
//! brokers.
//!
//! ```text
//! runnel-bench-loadgen produce BOOTSTRAP TOPIC RECORDS RECORD_BYTES ACKS
//! runnel-bench-loadgen consume BOOTSTRAP TOPIC RECORDS
//! runnel-bench-loadgen latency BOOTSTRAP TOPIC RATE_MSG_S DURATION_S WARMUP_S RECORD_BYTES [KEY=VALUE ...]
//! ```
//!
//! produce and consume print one JSON line: records, bytes, seconds, mb_s and msg_s (MB =
//! 2^20 bytes, as Kafka's tools count), and cpu_s, the CPU time this process (every
//! librdkafka thread) used over the same timed window. They exit non-zero, saying why on
//! stderr, when a record fails or the count does not come out exact. latency is `latency.rs`; its
//! KEY=VALUE arguments are producer properties, `consumer.KEY=VALUE` consumer ones. compare.py
//! bounds every run with a timeout.

mod batches;
mod latency;
mod shared_payload;

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::client::Client;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::metadata::Metadata;
use rdkafka::producer::{DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

/// How long the producer's final flush may wait for outstanding deliveries.
const FLUSH_TIMEOUT_MS: u64 = 120_000;
/// How long the metadata before a run may take (the topic was just created by the caller).
const METADATA_TIMEOUT_MS: u64 = 30_000;
/// One consumer poll; the caller's timeout bounds the whole run.
const POLL_TIMEOUT_MS: u64 = 100;
/// librdkafka's fetch.queue.backoff.ms for every consumer (see `new_consumer`).
const FETCH_QUEUE_BACKOFF_MS: &str = "10";
/// librdkafka's fetch.wait.max.ms for the consume mode (see `consume`).
const CONSUME_FETCH_WAIT_MAX_MS: &str = "10";
/// A producer's sleep while librdkafka's queue is full or a flush waits (the resolution of a
/// produce's end time).
pub(crate) const QUEUE_WAIT: Duration = Duration::from_micros(100);

const MIB: f64 = 1024.0 * 1024.0;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("consume") {
        if let Err(why) = huge_page_heap() {
            eprintln!("runnel-bench-loadgen: {why}");
            return ExitCode::FAILURE;
        }
    }
    // Not for latency, which keeps the allocator it was measured with: one arena would put
    // its sending and receiving threads behind one lock.
    if matches!(args.first().map(String::as_str), Some("produce" | "consume")) {
        keep_freed_memory();
    }
    let outcome = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["produce", bootstrap, topic, records, record_bytes, acks] => {
            parse(records).and_then(|records| {
                parse(record_bytes).and_then(|record_bytes| produce(bootstrap, topic, records, record_bytes as usize, acks))
            })
        }
        ["consume", bootstrap, topic, records] => parse(records).and_then(|records| consume(bootstrap, topic, records)),
        ["latency", bootstrap, topic, rate, duration_s, warmup_s, record_bytes, props @ ..] => {
            return match latency::Plan::parse(rate, duration_s, warmup_s, record_bytes, props) {
                Ok(plan) => {
                    println!("{}", latency::run(bootstrap, topic, &plan).json());
                    ExitCode::SUCCESS
                }
                Err(why) => {
                    eprintln!("runnel-bench-loadgen: {why}");
                    ExitCode::FAILURE
                }
            };
        }
        _ => Err("usage: runnel-bench-loadgen produce BOOTSTRAP TOPIC RECORDS RECORD_BYTES ACKS\n       \
                  runnel-bench-loadgen consume BOOTSTRAP TOPIC RECORDS\n       \
                  runnel-bench-loadgen latency BOOTSTRAP TOPIC RATE_MSG_S DURATION_S WARMUP_S RECORD_BYTES [KEY=VALUE ...]"
            .to_owned()),
    };
    match outcome {
        Ok(report) => {
            println!("{}", report.json());
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("runnel-bench-loadgen: {why}");
            ExitCode::FAILURE
        }
    }
}

/// Tells glibc's malloc to keep memory it gets back instead of returning it to the kernel:
/// one arena, fetch-sized buffers from the heap rather than fresh mappings, and no trimming.
/// librdkafka allocates a buffer per fetch response and frees it once its last record is
/// read; by default glibc unmapped or trimmed much of that memory and the next responses
/// were received into fresh pages. 89% of the consumer's page faults were in recvmsg, at
/// about 8 us each on this class of VM, up to a third of the client's CPU in a consume run.
/// Called before librdkafka starts a thread; the same for every broker.
fn keep_freed_memory() {
    const FETCH_BUFFER_FROM_HEAP_BYTES_MAX: libc::c_int = 32 << 20; // glibc's ceiling for it
    const TRIM_ABOVE_BYTES: libc::c_int = 1 << 30;
    // SAFETY: mallopt only sets allocator parameters; no allocation is in flight.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, FETCH_BUFFER_FROM_HEAP_BYTES_MAX);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_ABOVE_BYTES);
    }
}

/// glibc's tunable that has malloc ask for transparent huge pages (`madvise`) for the heap.
const HUGE_PAGE_TUNABLE: &str = "glibc.malloc.hugetlb=1";

/// Makes sure the heap is backed by transparent huge pages, re-executing this binary with
/// [`HUGE_PAGE_TUNABLE`] when it is not set: glibc reads its tunables only at start-up.
/// A consumer copies each fetch response (up to 16 MiB here) into one heap buffer and then
/// parses it; in 4 KiB pages every fourth 1 KiB record's header was a TLB miss besides a cache
/// miss. Interleaved runs of 1 GiB over 16 partitions, ten each: Runnel 1,164 → 1,297 MB/s
/// (medians), Kafka 1,044 → 1,108 MB/s (rounds 3-10, after its JIT warmed up). The kernel
/// must allow huge pages on `madvise` (this machine's default); where it does not, nothing
/// changes. The same for every broker.
fn huge_page_heap() -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
    if tunables.split(':').any(|tunable| tunable == HUGE_PAGE_TUNABLE) {
        return Ok(());
    }
    let tunables = if tunables.is_empty() { HUGE_PAGE_TUNABLE.to_owned() } else { format!("{tunables}:{HUGE_PAGE_TUNABLE}") };
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary to re-execute it: {e}"))?;
    // Returns only if the exec failed.
    let error = std::process::Command::new(exe).args(std::env::args_os().skip(1)).env("GLIBC_TUNABLES", tunables).exec();
    Err(format!("cannot re-execute with {HUGE_PAGE_TUNABLE}: {error}"))
}

fn parse(number: &str) -> Result<u64, String> {
    number.parse().map_err(|_| format!("not a count: {number:?}"))
}

struct Report {
    records: u64,
    bytes: u64,
    seconds: f64,
    cpu_s: f64,
}

impl Report {
    fn json(&self) -> String {
        let (records, bytes, seconds, cpu_s) = (self.records, self.bytes, self.seconds, self.cpu_s);
        let mb_s = bytes as f64 / MIB / seconds;
        let msg_s = records as f64 / seconds;
        format!(
            r#"{{"records": {records}, "bytes": {bytes}, "seconds": {seconds:.6}, "mb_s": {mb_s:.3}, "msg_s": {msg_s:.1}, "cpu_s": {cpu_s:.6}}}"#
        )
    }
}

/// A timed window: wall time and this process's CPU time (user + system, every thread), so a
/// report can say how busy the client's core was, i.e. whether the client was the limit.
struct Clock {
    wall: Instant,
    cpu_s: f64,
}

impl Clock {
    fn start() -> Clock {
        Clock { wall: Instant::now(), cpu_s: process_cpu_s() }
    }

    /// (wall seconds, CPU seconds) since `start`.
    fn stop(&self) -> (f64, f64) {
        (self.wall.elapsed().as_secs_f64(), process_cpu_s() - self.cpu_s)
    }
}

fn process_cpu_s() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Counts delivery reports, so the run fails unless every record was acknowledged.
#[derive(Default)]
pub(crate) struct Deliveries {
    pub(crate) acknowledged: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) first_error: std::sync::OnceLock<String>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.acknowledged.fetch_add(1, Ordering::Relaxed),
            Err((error, _)) => {
                let _ = self.first_error.set(error.to_string());
                self.failed.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

/// Sends `records` records of `record_bytes` (no key) as fast as the producer takes them,
/// timed from the first send until the last acknowledgement.
///
/// A ThreadedProducer's thread serves the delivery reports, blocked on librdkafka's queue
/// between them, and this loop sleeps while the queue is full. Polling from this loop instead
/// busy-waited: rdkafka's `poll(timeout)` rounds what remains of its timeout down to whole
/// milliseconds and spins through the last one, so each short poll spun on the client's only
/// core, the more often the slower the broker acknowledged (against Kafka the producer spent
/// 35% of its CPU reading the clock).
///
/// Every record borrows one payload ([`shared_payload`]), so the client copies each record
/// once, into its request, as a client producing from its own buffers would.
fn produce(bootstrap: &str, topic: &str, records: u64, record_bytes: usize, acks: &str) -> Result<Report, String> {
    // Not all one byte value: some brokers' storage compresses or dedups runs. Declared
    // before the producer so it is dropped after it: queued records point into it.
    let payload: Vec<u8> = (0..record_bytes).map(|i| b'a' + (i % 26) as u8).collect();
    let producer: ThreadedProducer<Deliveries> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", acks)
        .create_with_context(Deliveries::default())
        .map_err(|e| format!("cannot create the producer: {e}"))?;
    // Connect and learn the topic's leaders before the clock starts, as the Java tool does.
    connected_metadata(producer.client(), topic)?;
    let topic_handle = shared_payload::Topic::new(&producer, topic)?;
    let clock = Clock::start();
    for sent in 0..records {
        loop {
            match topic_handle.send_borrowed(&payload) {
                Ok(()) => break,
                Err(RDKafkaErrorCode::QueueFull) => std::thread::sleep(QUEUE_WAIT),
                Err(error) => return Err(format!("send failed after {sent} records: {error:?}")),
            }
        }
    }
    flush(&producer)?;
    let (seconds, cpu_s) = clock.stop();
    let deliveries = producer.context();
    let (acknowledged, failed) = (deliveries.acknowledged.load(Ordering::Relaxed), deliveries.failed.load(Ordering::Relaxed));
    if failed > 0 || acknowledged != records {
        let first = deliveries.first_error.get().map_or("", String::as_str);
        return Err(format!("{acknowledged} of {records} records acknowledged, {failed} failed (first: {first})"));
    }
    Ok(Report { records, bytes: records * record_bytes as u64, seconds, cpu_s })
}

/// Waits until every queued record is acknowledged and its report served (by the producer's
/// polling thread). rdkafka's own `flush` polls in 100 ms slices that each last the whole
/// 100 ms, which added up to 100 ms after the last acknowledgement to every timed produce.
fn flush(producer: &ThreadedProducer<Deliveries>) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_millis(FLUSH_TIMEOUT_MS);
    loop {
        // A zero timeout returns at once; the call also tells librdkafka to send what it
        // holds without waiting for linger.ms.
        match producer.flush(Duration::ZERO) {
            Ok(()) => return Ok(()),
            Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) if Instant::now() < deadline => {
                std::thread::sleep(QUEUE_WAIT);
            }
            Err(e) => return Err(format!("flush: {e} ({} records unacknowledged)", producer.in_flight_count())),
        }
    }
}

/// Reads `records` records from the start of every partition of `topic` (assigned, no
/// group), timed from the assignment until the last record; bytes are keys plus values.
///
/// The broker may hold a fetch for fetch.wait.max.ms when none of its partitions has data,
/// and librdkafka sends the next fetch only after that one is answered. Its first fetch
/// names only the partitions whose start offset it has resolved so far, sometimes just one;
/// the producer's sticky partitioner leaves about a third of 100 partitions empty, so when
/// that one was empty, the broker held the fetch for librdkafka's default 500 ms while every
/// other partition waited behind it. Against Runnel, which answers the offset lookups at
/// once, that was 5 of 10 consumes of 512 MiB over 100 partitions (285-420 MB/s with the
/// client 43-59% busy, against 661-722). With 10 ms none stalled, and Kafka's figures did
/// not change. A consume has a backlog, so no other fetch waits.
fn consume(bootstrap: &str, topic: &str, records: u64) -> Result<Report, String> {
    let consumer = new_consumer(bootstrap, &[("fetch.wait.max.ms".to_owned(), CONSUME_FETCH_WAIT_MAX_MS.to_owned())])?;
    let partitions = partition_count(&consumer, topic)?;
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .map_err(|e| format!("assignment: {e}"))?;
    }
    let clock = Clock::start();
    consumer.assign(&assignment).map_err(|e| format!("assign: {e}"))?;
    let (received, bytes) = batches::read(&consumer, records)?;
    let (seconds, cpu_s) = clock.stop();
    Ok(Report { records: received, bytes, seconds, cpu_s })
}

/// A consumer for assigned partitions: the group id is never joined nor committed to.
/// A consumer with the settings every mode shares, then `extra` (`key`, `value`) on top.
pub(crate) fn new_consumer(bootstrap: &str, extra: &[(String, String)]) -> Result<BaseConsumer, String> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "runnel-bench-loadgen")
        .set("enable.auto.commit", "false")
        // librdkafka stops fetching a partition for this long once its local queue passes
        // queued.min.messages: 1 s by default, which stalls a reader that is slower than the
        // broker feeding it and so makes a faster broker look slower.
        .set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS);
    for (key, value) in extra {
        config.set(key, value);
    }
    config.create().map_err(|e| format!("cannot create the consumer: {e}"))
}

/// How many partitions `topic` has, from [`connected_metadata`].
pub(crate) fn partition_count(consumer: &BaseConsumer, topic: &str) -> Result<i32, String> {
    let metadata = connected_metadata(consumer.client(), topic)?;
    let partitions = metadata.topics().iter().find(|t| t.name() == topic).map_or(0, |t| t.partitions().len());
    if partitions == 0 {
        return Err(format!("topic {topic} has no partitions in the metadata"));
    }
    Ok(partitions as i32)
}

/// Metadata for `topic` served by a broker under its own id, which means the client is
/// connected to the broker the metadata names. librdkafka answers the first request over its
/// bootstrap connection, then drops that connection and connects to the broker by id (about
/// 50 ms here, after a reconnect backoff); a clock started before that would time the
/// reconnect, the same dead time for either broker.
pub(crate) fn connected_metadata<C: ClientContext>(client: &Client<C>, topic: &str) -> Result<Metadata, String> {
    let deadline = Instant::now() + Duration::from_millis(METADATA_TIMEOUT_MS);
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let metadata = client.fetch_metadata(Some(topic), remaining).map_err(|e| format!("metadata for {topic}: {e}"))?;
        if metadata.orig_broker_id() >= 0 {
            return Ok(metadata);
        }
        if Instant::now() >= deadline {
            return Err(format!("metadata for {topic} came only over the bootstrap connection for {METADATA_TIMEOUT_MS} ms"));
        }
    }
}
