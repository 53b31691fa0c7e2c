//! `runnel produce TOPIC`: one record per input line, like kafka-console-producer.
//!
//! Owns: the command's flags, building the producer from them, and the send loop: read a
//! line, make it a record, hand it to the producer, and collect every record's outcome in
//! send order. A record that fails is reported on its own line and the command goes on;
//! a failure that stops the producer as a whole (topic never appeared, producer fenced)
//! stops reading. Ctrl-C or SIGTERM ends the input early: what was read is still delivered.

mod input;
mod line;
mod progress;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use runnel_client::producer::{
    Acks, Compression, DeliveryFuture, Producer, ProducerConfig, ProducerRecord, MESSAGE_TOO_LARGE,
};
use tokio::sync::mpsc;

use super::escape::unescape;
use super::signal::stop_on_signal;
use super::GlobalArgs;
use input::Item;
use line::{parse_headers, KeyMode};
use progress::{summary_line, Reporter, PROGRESS_REDRAW_MS};

/// Outcomes awaited behind the send loop; the producer's `buffer.memory` is the real bound.
const DELIVERY_QUEUE_RECORDS: usize = 100_000;

#[derive(Args, Debug)]
#[command(after_help = "Each input line is one record. Every failed record is reported on stderr as \
    `runnel: line N: <error>`; the exit status is non-zero if any record failed. A summary (records, bytes, \
    records/s, MB/s) ends the run on stderr.\n\n\
    Examples:\n  echo 'hello' | runnel produce orders\n  \
    runnel produce orders --file orders.txt --compression zstd\n  \
    printf 'user-1\\tsigned in\\n' | runnel produce events --parse-key\n  \
    runnel produce events --parse-key --key-separator : -H source=cli -H trace=abc < events.txt\n  \
    runnel produce orders --key customer-7 --partition 2 --acks 1 --linger-ms 50")]
pub struct ProduceArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The topic to write to.
    #[arg(value_name = "TOPIC")]
    pub topic: String,
    /// Read lines from this file instead of stdin.
    #[arg(short = 'f', long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The key of every record.
    #[arg(short = 'k', long, value_name = "KEY", conflicts_with = "parse_key")]
    pub key: Option<String>,
    /// Read each line as KEY<separator>VALUE (kafka-console-producer's parse.key).
    #[arg(long)]
    pub parse_key: bool,
    /// The separator --parse-key splits at; \t, \n, \r and \\ are read as escapes.
    #[arg(long, value_name = "SEP", default_value = "\\t", requires = "parse_key")]
    pub key_separator: String,
    /// A header on every record, KEY=VALUE; repeatable, kept in order.
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    /// Write every record to this partition instead of choosing by key (murmur2) or sticky.
    #[arg(short = 'p', long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
    pub partition: Option<i32>,
    /// Compression codec of the record batches [default: the --command-config file's
    /// compression.type, else none].
    #[arg(short = 'z', long, value_enum, value_name = "CODEC")]
    pub compression: Option<CodecArg>,
    /// Acknowledgements to wait for: 0 (none), 1 (the leader) or all. Idempotence is on with
    /// all (Kafka's default) and off otherwise [default: the --command-config file's acks,
    /// else all].
    #[arg(long, value_name = "ACKS", value_parser = ["0", "1", "all", "-1"])]
    pub acks: Option<String>,
    /// How long a batch waits for more records before it is sent [default: 5, Kafka's linger.ms].
    #[arg(long, value_name = "MS")]
    pub linger_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CodecArg {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl From<CodecArg> for Compression {
    fn from(codec: CodecArg) -> Compression {
        match codec {
            CodecArg::None => Compression::None,
            CodecArg::Gzip => Compression::Gzip,
            CodecArg::Snappy => Compression::Snappy,
            CodecArg::Lz4 => Compression::Lz4,
            CodecArg::Zstd => Compression::Zstd,
        }
    }
}

/// A record handed to the producer, awaiting its outcome.
struct Pending {
    line: u64,
    payload_bytes: u64,
    delivery: DeliveryFuture,
}

pub async fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let key_mode = match (&args.key, args.parse_key) {
        (Some(key), _) => KeyMode::Fixed(key.as_bytes().to_vec()),
        (None, true) => {
            let separator = unescape(&args.key_separator);
            if separator.is_empty() {
                bail!("--key-separator must not be empty");
            }
            KeyMode::Parse { separator }
        }
        (None, false) => KeyMode::None,
    };
    let headers = parse_headers(&args.headers)?;
    let config = producer_config(&args)?;
    let line_bytes_max = config.max_request_size;
    let servers = config.client.bootstrap_servers.join(",");
    let producer = Producer::new(config).await.with_context(|| format!("connecting to {servers}"))?;
    check_partition(&producer, &args.topic, args.partition).await?;

    let mut input = input::open(args.file.as_deref(), line_bytes_max)?;
    let show_progress = std::io::stderr().is_terminal() && !input.interactive;
    let reporter = Reporter::new(input.total_bytes, show_progress);
    let stop = stop_on_signal()?;
    let (deliveries, queue) = mpsc::channel(DELIVERY_QUEUE_RECORDS);
    let collector = tokio::spawn(collect(queue, reporter.clone()));
    let ticker = tokio::spawn(redraw(reporter.clone()));

    let mut fatal = None;
    loop {
        let item = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            item = input.items.recv() => item,
        };
        let (number, bytes) = match item {
            None => break,
            Some(Item::Failed(error)) => {
                fatal = Some(anyhow::Error::new(error).context("reading the input"));
                break;
            }
            Some(Item::TooLong { number, raw_len }) => {
                reporter.input_read(raw_len);
                reporter
                    .failed(&format!("line {number}: longer than max.request.size ({line_bytes_max} bytes); skipped"));
                continue;
            }
            Some(Item::Line { number, bytes, raw_len }) => {
                reporter.input_read(raw_len);
                (number, bytes)
            }
        };
        let (key, value) = match key_mode.split(&bytes, number) {
            Ok(split) => split,
            Err(error) => {
                reporter.failed(&error.to_string());
                continue;
            }
        };
        let payload_bytes = (key.as_ref().map_or(0, Vec::len)
            + value.len()
            + headers.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()) as u64;
        let mut record = ProducerRecord::new(args.topic.clone()).value(value);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(partition) = args.partition {
            record = record.partition(partition);
        }
        for (name, value) in &headers {
            record = record.header(name.clone(), value.clone());
        }
        let sent = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            sent = producer.send(record) => sent,
        };
        match sent {
            Ok(delivery) => {
                if deliveries.send(Pending { line: number, payload_bytes, delivery }).await.is_err() {
                    break;
                }
            }
            Err(error) if error.code() == Some(MESSAGE_TOO_LARGE) => {
                reporter.failed(&format!("line {number}: {error}"))
            }
            Err(error) => {
                // Later sends would fail the same way (or wait as long): stop reading.
                fatal = Some(anyhow::Error::new(error).context(format!("line {number}")));
                break;
            }
        }
    }
    drop(deliveries);
    let closed = producer.close().await;
    if collector.await.is_err() {
        bail!("the delivery collector stopped unexpectedly");
    }
    ticker.abort();
    reporter.finish();
    let counts = reporter.counts();
    eprintln!("{}", summary_line(&args.topic, &counts, reporter.elapsed()));
    if let Some(error) = fatal {
        return Err(error);
    }
    closed.context("closing the producer")?;
    if counts.failed > 0 {
        bail!("{} of {} records failed", counts.failed, counts.failed + counts.delivered);
    }
    Ok(())
}

/// Kafka's producer defaults with the command's flags applied.
fn producer_config(args: &ProduceArgs) -> anyhow::Result<ProducerConfig> {
    let mut config = args.global.config_from(ProducerConfig::from_properties)?;
    if let Some(acks) = &args.acks {
        config.acks = Acks::parse(acks)?;
    }
    if let Some(codec) = args.compression {
        config.compression = codec.into();
    }
    if let Some(linger_ms) = args.linger_ms {
        config.linger_ms = linger_ms;
    }
    // As Kafka does when delivery.timeout.ms is not set: it covers linger plus a request.
    let floor = config.linger_ms.saturating_add(config.client.request_timeout_ms);
    config.delivery_timeout_ms = config.delivery_timeout_ms.max(floor);
    config.validate()?;
    Ok(config)
}

/// Refuses a `--partition` the topic does not have, rather than waiting `max.block.ms`
/// for it to appear. A topic not known yet is left to the producer (it may be created).
async fn check_partition(producer: &Producer, topic: &str, partition: Option<i32>) -> anyhow::Result<()> {
    let Some(partition) = partition else { return Ok(()) };
    let topics = [topic.to_string()];
    let Ok(metadata) = producer.cluster().refresh(Some(&topics), false).await else { return Ok(()) };
    if let Some(count) = metadata.partition_count(topic).filter(|count| *count > 0) {
        if usize::try_from(partition).map_or(true, |p| p >= count) {
            bail!("topic {topic} has no partition {partition} (it has {count})");
        }
    }
    Ok(())
}

/// Awaits each record's outcome in send order and tallies it.
async fn collect(mut queue: mpsc::Receiver<Pending>, reporter: Reporter) {
    while let Some(pending) = queue.recv().await {
        match pending.delivery.await {
            Ok(_) => reporter.delivered(pending.payload_bytes),
            Err(error) => reporter.failed(&format!("line {}: {}", pending.line, super::one_line(&error.to_string()))),
        }
    }
}

async fn redraw(reporter: Reporter) {
    let mut interval = tokio::time::interval(Duration::from_millis(PROGRESS_REDRAW_MS));
    loop {
        interval.tick().await;
        reporter.redraw();
    }
}
