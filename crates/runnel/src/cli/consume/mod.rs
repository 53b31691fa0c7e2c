//! `runnel consume TOPIC...`: print records, like kafka-console-consumer and `rpk topic consume`.
//!
//! Owns: the command's flags, the consumer built from them (a group member that subscribes,
//! or a group-less reader of assigned partitions), and the print loop with its stop
//! conditions (`-n` records printed, `--timeout-ms` idle, Ctrl-C/SIGTERM, a closed stdout)
//! and commit policy. Whatever ends the loop, the consumer is closed, so a group member
//! leaves its group, and commits never cover a record that was not printed.

mod format;
mod offset;
mod start;

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use runnel_client::consumer::{Consumer, ConsumerConfig, ConsumerRecord, OffsetReset, TopicPartition};
use tokio_util::sync::CancellationToken;

use super::escape::unescape;
use super::signal::stop_on_signal;
use super::{output, Format, GlobalArgs};
use format::{Layout, TextFields};
use offset::OffsetSpec;
use start::{seek_all, GroupStarts};

/// Longest single `poll()`: the loop checks for a stop request between polls, so this
/// bounds how long Ctrl-C takes to be noticed. Well below `auto.commit.interval.ms`, which
/// `GroupStarts` relies on.
const POLL_SLICE_MS: u64 = 200;
/// How long closing the consumer (final commit, LeaveGroup) may take.
const CLOSE_TIMEOUT_MS: u64 = 10_000;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
/// How long a topic's transient metadata errors are retried before reading it.
const METADATA_WAIT_MS: u64 = 10_000;
/// Commit failures that mean the group rebalanced under the member
/// (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS).
const REBALANCE_CODES: [i16; 3] = [22, 25, 27];

#[derive(Args, Debug)]
#[command(after_help = "Without --group every partition (or each --partition) is read from -o (default: end). \
    With --group the topics are subscribed as a member of the group; partitions the group has committed \
    offsets for resume there, and -o / --from-beginning only place partitions without one.\n\n\
    Text output is kafka-console-consumer's: the value, preceded by the --print-* fields in the order \
    timestamp, partition, offset, headers, key, each followed by --key-separator. --format json prints one \
    object per line: topic, partition, offset, timestamp, timestamp_type, key, value, headers ([{key, value}]); \
    keys and values that are not UTF-8 appear as {\"base64\": ...}.\n\n\
    Examples:\n  runnel consume orders --from-beginning\n  \
    runnel consume orders -o -10 -n 10 --print-key --print-offset\n  \
    runnel consume orders -o @-1h --partition 0 --partition 1\n  \
    runnel consume orders payments --group audit --commit manual\n  \
    runnel consume orders -o start --timeout-ms 5000 --format json")]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Topics to read.
    #[arg(value_name = "TOPIC", required = true)]
    pub topics: Vec<String>,
    /// Consume as a member of this consumer group (subscribe) instead of reading every partition.
    #[arg(short = 'g', long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Start at the earliest offset (same as -o start).
    #[arg(long, conflicts_with = "offset")]
    pub from_beginning: bool,
    /// Where to start in each partition.
    #[arg(short = 'o', long, value_name = "OFFSET", allow_hyphen_values = true, long_help = OFFSET_LONG_HELP)]
    pub offset: Option<String>,
    /// Read only this partition (of each topic); repeatable. Not with --group.
    #[arg(short = 'p', long = "partition", value_name = "N", conflicts_with = "group",
          value_parser = clap::value_parser!(i32).range(0..))]
    pub partitions: Vec<i32>,
    /// When to commit offsets [default: auto with --group, none without].
    #[arg(long, value_enum, value_name = "MODE")]
    pub commit: Option<CommitMode>,
    /// Exit after printing this many records.
    #[arg(short = 'n', long = "num", visible_alias = "max-messages", value_name = "COUNT")]
    pub num: Option<u64>,
    /// Exit after this long without a record.
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// Print each record's key.
    #[arg(long)]
    pub print_key: bool,
    /// Print each record's partition.
    #[arg(long)]
    pub print_partition: bool,
    /// Print each record's offset.
    #[arg(long)]
    pub print_offset: bool,
    /// Print each record's timestamp and its type.
    #[arg(long)]
    pub print_timestamp: bool,
    /// Print each record's headers.
    #[arg(long)]
    pub print_headers: bool,
    /// What follows each printed field; \t, \n, \r and \\ are read as escapes.
    #[arg(long, value_name = "SEP", default_value = "\\t")]
    pub key_separator: String,
}

const OFFSET_LONG_HELP: &str = "Where to start in each partition: start, end, N (offset N), -N (N records \
    before the end), @TIMESTAMP_MS (the first record at or after it), @YYYY-MM-DDTHH:mm:SS[.sss][zone] or \
    @-DURATION (e.g. @-30m, @-2d, @-1h30m; units ms, s, m, h, d, w). Offsets are clamped to what the \
    partition holds. [default: end]";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CommitMode {
    /// Commit in the background every auto.commit.interval.ms and on exit.
    Auto,
    /// Commit after each printed batch.
    Manual,
    /// Never commit, even with a group.
    None,
}

pub async fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    // The --command-config file supplies consumer settings (session.timeout.ms,
    // group.instance.id, fetch sizes, ...); --group wins over its group.id, as in
    // kafka-console-consumer.
    let mut config = args.global.config_from(ConsumerConfig::from_properties)?;
    let group = args.group.clone().or_else(|| config.group_id.clone());
    let spec = match (&args.offset, args.from_beginning) {
        (Some(text), _) => OffsetSpec::parse(text, now_ms())?,
        (None, true) => OffsetSpec::Start,
        (None, false) => OffsetSpec::End,
    };
    let commit = match (args.commit, &group) {
        (Some(CommitMode::Auto), None) => bail!("--commit auto needs --group"),
        (Some(CommitMode::Manual), None) => bail!("--commit manual needs --group"),
        (Some(mode), _) => mode,
        (None, Some(_)) => CommitMode::Auto,
        (None, None) => CommitMode::None,
    };
    let layout = match args.global.format {
        Format::Json => Layout::Json,
        Format::Text => {
            let fields = TextFields {
                timestamp: args.print_timestamp,
                partition: args.print_partition,
                offset: args.print_offset,
                headers: args.print_headers,
                key: args.print_key,
            };
            Layout::Text { fields, separator: unescape(&args.key_separator) }
        }
    };

    config.group_id = group.clone();
    config.enable_auto_commit = commit == CommitMode::Auto;
    config.auto_offset_reset = match spec {
        OffsetSpec::Start => OffsetReset::Earliest,
        _ => OffsetReset::Latest,
    };
    let servers = config.client.bootstrap_servers.join(",");
    let mut consumer = Consumer::new(config).await.with_context(|| format!("connecting to {servers}"))?;

    let stop = stop_on_signal()?;
    let mut group_starts = None;
    let prepared = match &group {
        Some(_) => {
            if matches!(spec, OffsetSpec::Start | OffsetSpec::End) {
                consumer.subscribe(args.topics.iter().cloned(), ()).map_err(anyhow::Error::from)
            } else {
                let (starts, listener) = GroupStarts::new(spec);
                group_starts = Some(starts);
                consumer.subscribe(args.topics.iter().cloned(), listener).map_err(anyhow::Error::from)
            }
        }
        None => assign(&mut consumer, &args.topics, &args.partitions, spec).await,
    };
    let outcome = match prepared {
        Ok(()) => {
            let mut session = Session { consumer: &mut consumer, layout, commit, group_starts, printed_total: 0 };
            session.run(args.num, args.timeout_ms, &stop).await
        }
        Err(error) => Err(error),
    };
    let closed = consumer.close_with_timeout(Duration::from_millis(CLOSE_TIMEOUT_MS)).await;
    let printed = outcome?;
    eprintln!("Processed a total of {printed} messages");
    closed.context("closing the consumer")?;
    Ok(())
}

/// Assigns every partition of `topics` (or only `partitions` of each) and seeks them.
async fn assign(
    consumer: &mut Consumer,
    topics: &[String],
    partitions: &[i32],
    spec: OffsetSpec,
) -> anyhow::Result<()> {
    let mut assigned = Vec::new();
    for topic in topics {
        let all = partitions_of(consumer, topic).await?;
        let chosen: Vec<i32> = if partitions.is_empty() { all.clone() } else { partitions.to_vec() };
        for partition in chosen {
            if !all.contains(&partition) {
                bail!("topic {topic} has no partition {partition} (it has {})", all.len());
            }
            assigned.push(TopicPartition::new(topic.clone(), partition));
        }
    }
    assigned.sort();
    assigned.dedup();
    consumer.assign(assigned.iter().cloned())?;
    seek_all(consumer, &assigned, spec).await
}

/// The partition ids of `topic`. A topic the cluster does not know is an error at once; a
/// transient error (a topic still being created, an election) is retried for a while.
async fn partitions_of(consumer: &Consumer, topic: &str) -> anyhow::Result<Vec<i32>> {
    let deadline = Instant::now() + Duration::from_millis(METADATA_WAIT_MS);
    let backoff = Duration::from_millis(consumer.cluster().config().retry_backoff_ms.max(1));
    let topics = [topic.to_string()];
    loop {
        let metadata = consumer.cluster().refresh(Some(&topics), false).await.context("fetching topic metadata")?;
        let error = match metadata.topics.get(topic) {
            None => bail!("Topic '{topic}' does not exist"),
            Some(info) if info.error_code == UNKNOWN_TOPIC_OR_PARTITION => bail!("Topic '{topic}' does not exist"),
            Some(info) if info.error_code == 0 && !info.partitions.is_empty() => {
                return Ok(info.partitions.iter().map(|p| p.partition).collect());
            }
            Some(info) => runnel_client::Error::kafka(info.error_code, None, format!("topic {topic}")),
        };
        if !(error.is_retriable() || error.code() == Some(0)) || Instant::now() + backoff > deadline {
            bail!("{error}");
        }
        tokio::time::sleep(backoff).await;
    }
}

struct Session<'a> {
    consumer: &'a mut Consumer,
    layout: Layout,
    commit: CommitMode,
    group_starts: Option<GroupStarts>,
    printed_total: u64,
}

impl Session<'_> {
    /// Polls and prints until a stop condition; returns how many records were printed.
    async fn run(
        &mut self,
        num: Option<u64>,
        timeout_ms: Option<u64>,
        stop: &CancellationToken,
    ) -> anyhow::Result<u64> {
        let idle_limit = timeout_ms.map(Duration::from_millis);
        let mut last_record_at = Instant::now();
        while num.is_none_or(|n| self.printed_total < n) && !stop.is_cancelled() {
            let mut slice = Duration::from_millis(POLL_SLICE_MS);
            if let Some(limit) = idle_limit {
                let idle = last_record_at.elapsed();
                if idle >= limit {
                    break;
                }
                slice = slice.min(limit - idle);
            }
            let records: Vec<ConsumerRecord> = self.consumer.poll(slice).await?.into_iter().collect();
            let records = match &self.group_starts {
                Some(starts) => starts.apply(self.consumer, records).await?,
                None => records,
            };
            if records.is_empty() {
                continue;
            }
            last_record_at = Instant::now();
            let room = num.map(|n| n - self.printed_total);
            if self.print_batch(&records, room).await? == Printed::Part {
                break;
            }
        }
        Ok(self.printed_total)
    }

    /// Prints up to `room` records of the batch, commits what was printed (manual mode),
    /// and rewinds partitions whose records were not all printed, so that no commit (auto
    /// mode's, on close) covers them.
    async fn print_batch(&mut self, records: &[ConsumerRecord], room: Option<u64>) -> anyhow::Result<Printed> {
        let mut out = BufWriter::new(io::stdout().lock());
        let mut next_offsets: BTreeMap<TopicPartition, i64> = BTreeMap::new();
        let mut printed = 0usize;
        let mut closed_pipe = false;
        for record in records {
            if room.is_some_and(|room| printed as u64 >= room) {
                break;
            }
            match self.layout.write(&mut out, record) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::BrokenPipe => {
                    closed_pipe = true;
                    break;
                }
                Err(error) => return Err(anyhow::Error::new(error).context("writing to stdout")),
            }
            printed += 1;
            next_offsets.insert(TopicPartition::new(record.topic.clone(), record.partition), record.offset + 1);
        }
        match out.flush() {
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => closed_pipe = true,
            other => other.context("writing to stdout")?,
        }
        drop(out);
        self.printed_total += printed as u64;
        if self.commit == CommitMode::Manual && !next_offsets.is_empty() {
            match self.consumer.commit_offsets(next_offsets).await {
                Ok(()) => {}
                // The group moved on; whoever owns the partitions now reads them from the
                // last commit that went through, and so does this member after rejoining.
                Err(error) if error.code().is_some_and(|c| REBALANCE_CODES.contains(&c)) => {
                    output::note(&format!("runnel: warning: offsets not committed: {error}"));
                }
                Err(error) => return Err(anyhow::Error::new(error).context("committing offsets")),
            }
        }
        if printed == records.len() && !closed_pipe {
            return Ok(Printed::All);
        }
        // The first record not printed of each partition is where reading (and a commit) resumes.
        let mut rewind: BTreeMap<TopicPartition, i64> = BTreeMap::new();
        for record in &records[printed..] {
            rewind.entry(TopicPartition::new(record.topic.clone(), record.partition)).or_insert(record.offset);
        }
        for (tp, offset) in rewind {
            self.consumer.seek(&tp, offset)?;
        }
        Ok(Printed::Part)
    }
}

/// How much of a batch `print_batch` printed.
#[derive(Debug, PartialEq, Eq)]
enum Printed {
    All,
    /// `-n` was reached or stdout closed: the command ends.
    Part,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
