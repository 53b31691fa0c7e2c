//! One consumer-group member on runnel-client, streaming what happens as JSON lines: the
//! Rust counterpart of `tests/clients/group_*.py`, with the same events and flags, so the
//! mixed-group tests (`tests/test_rust_client_groups.py`) read it like the Python members.
//!
//! ```text
//! cargo run -p runnel-client --example group_member -- --bootstrap 127.0.0.1:9092 \
//!     --topic orders --group billing [--client-id NAME] [--commit auto|batch|none] \
//!     [--offset-reset earliest|latest] [--session-timeout-ms N] [--heartbeat-interval-ms N] \
//!     [--max-poll-interval-ms N] [--max-poll-records N] [--fetch-max-wait-ms N] \
//!     [--poll-timeout-ms N] [--auto-commit-interval-ms N] [--assignment-strategy range,roundrobin] \
//!     [--max-runtime-s S]
//! ```
//!
//! Events (one JSON object a line, each with "ev", the member index "m" = 0 and a wall-clock
//! "t"): `start`, `assigned` / `revoked` / `lost` with "partitions", `records` with
//! [[partition, offset, key, value], ...], `commit` with "offsets" and "ok", `client_error`,
//! `closed`, and last `result` with "error". SIGTERM (or SIGINT) closes the consumer, which
//! leaves the group, and exits.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use runnel_client::consumer::{AssignmentStrategy, Consumer, ConsumerConfig, OffsetReset, RebalanceListener, TopicPartition};
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::Instant;

const DEFAULT_MAX_RUNTIME_S: f64 = 120.0;

struct Args {
    bootstrap: String,
    topic: String,
    group: String,
    client_id: String,
    commit: String,
    offset_reset: OffsetReset,
    session_timeout_ms: u64,
    heartbeat_interval_ms: u64,
    max_poll_interval_ms: u64,
    max_poll_records: usize,
    fetch_max_wait_ms: i32,
    poll_timeout_ms: u64,
    auto_commit_interval_ms: u64,
    strategies: Vec<AssignmentStrategy>,
    max_runtime_s: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut flags: BTreeMap<String, String> = BTreeMap::new();
    let mut raw = std::env::args().skip(1);
    while let Some(flag) = raw.next() {
        let name = flag.strip_prefix("--").ok_or_else(|| format!("unexpected argument {flag:?}"))?;
        let value = raw.next().ok_or_else(|| format!("--{name} needs a value"))?;
        flags.insert(name.to_string(), value);
    }
    let mut take = |name: &str, default: Option<&str>| -> Result<String, String> {
        flags.remove(name).or(default.map(String::from)).ok_or_else(|| format!("--{name} is required"))
    };
    fn number<T: std::str::FromStr>(name: &str, value: String) -> Result<T, String> {
        value.parse().map_err(|_| format!("--{name}: not a number: {value:?}"))
    }
    let args = Args {
        bootstrap: take("bootstrap", None)?,
        topic: take("topic", None)?,
        group: take("group", None)?,
        client_id: take("client-id", Some("rust-member"))?,
        commit: take("commit", Some("none"))?,
        offset_reset: OffsetReset::parse(&take("offset-reset", Some("earliest"))?).map_err(|e| e.to_string())?,
        session_timeout_ms: number("session-timeout-ms", take("session-timeout-ms", Some("10000"))?)?,
        heartbeat_interval_ms: number("heartbeat-interval-ms", take("heartbeat-interval-ms", Some("1000"))?)?,
        max_poll_interval_ms: number("max-poll-interval-ms", take("max-poll-interval-ms", Some("30000"))?)?,
        max_poll_records: number("max-poll-records", take("max-poll-records", Some("500"))?)?,
        fetch_max_wait_ms: number("fetch-max-wait-ms", take("fetch-max-wait-ms", Some("100"))?)?,
        poll_timeout_ms: number("poll-timeout-ms", take("poll-timeout-ms", Some("100"))?)?,
        auto_commit_interval_ms: number("auto-commit-interval-ms", take("auto-commit-interval-ms", Some("5000"))?)?,
        strategies: take("assignment-strategy", Some("range"))?
            .split(',')
            .map(|s| AssignmentStrategy::parse(s).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?,
        max_runtime_s: number("max-runtime-s", take("max-runtime-s", Some(&DEFAULT_MAX_RUNTIME_S.to_string()))?)?,
    };
    if !["auto", "batch", "none"].contains(&args.commit.as_str()) {
        return Err(format!("--commit: expected auto, batch or none, got {:?}", args.commit));
    }
    if let Some(unknown) = flags.keys().next() {
        return Err(format!("unknown flag --{unknown}"));
    }
    Ok(args)
}

fn now_s() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_text(bytes: Option<&[u8]>) -> String {
    bytes.map_or_else(|| "null".to_string(), |b| json_string(&String::from_utf8_lossy(b)))
}

/// Prints one event line; `fields` is already-encoded JSON members (`"k": v, ...`).
fn emit(ev: &str, fields: &str) {
    let separator = if fields.is_empty() { "" } else { ", " };
    let line = format!("{{\"ev\": {}, \"t\": {:.6}, \"m\": 0{separator}{fields}}}\n", json_string(ev), now_s());
    let mut out = std::io::stdout().lock();
    // A closed stdout (the test went away) is no reason to stop consuming mid-rebalance.
    let _ = out.write_all(line.as_bytes()).and_then(|_| out.flush());
}

fn partitions_json(partitions: &[TopicPartition]) -> String {
    let mut ps: Vec<i32> = partitions.iter().map(|tp| tp.partition).collect();
    ps.sort_unstable();
    format!("\"partitions\": [{}]", ps.iter().map(i32::to_string).collect::<Vec<_>>().join(", "))
}

struct Listener;

impl RebalanceListener for Listener {
    fn on_partitions_revoked(&mut self, partitions: &[TopicPartition]) {
        emit("revoked", &partitions_json(partitions));
    }
    fn on_partitions_assigned(&mut self, partitions: &[TopicPartition]) {
        emit("assigned", &partitions_json(partitions));
    }
    fn on_partitions_lost(&mut self, partitions: &[TopicPartition]) {
        emit("lost", &partitions_json(partitions));
    }
}

fn offsets_json(offsets: &BTreeMap<TopicPartition, i64>) -> String {
    let members: Vec<String> = offsets.iter().map(|(tp, o)| format!("\"{}\": {o}", tp.partition)).collect();
    format!("{{{}}}", members.join(", "))
}

async fn run(args: &Args) -> Result<(), String> {
    let mut config = ConsumerConfig::new(&args.bootstrap, Some(&args.group));
    config.client.client_id = args.client_id.clone();
    config.enable_auto_commit = args.commit == "auto";
    config.auto_commit_interval_ms = args.auto_commit_interval_ms;
    config.auto_offset_reset = args.offset_reset;
    config.session_timeout_ms = args.session_timeout_ms;
    config.heartbeat_interval_ms = args.heartbeat_interval_ms;
    config.max_poll_interval_ms = args.max_poll_interval_ms;
    config.max_poll_records = args.max_poll_records;
    config.fetch_max_wait_ms = args.fetch_max_wait_ms;
    config.assignment_strategies = args.strategies.clone();
    let mut consumer = Consumer::new(config).await.map_err(|e| e.to_string())?;
    emit("start", &format!("\"client_id\": {}", json_string(&args.client_id)));
    consumer.subscribe([args.topic.clone()], Listener).map_err(|e| e.to_string())?;

    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs_f64(args.max_runtime_s);
    let poll_timeout = Duration::from_millis(args.poll_timeout_ms);
    let mut outcome = Ok(());
    loop {
        let records = tokio::select! {
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            _ = tokio::time::sleep_until(deadline) => {
                outcome = Err(format!("still running after --max-runtime-s {}", args.max_runtime_s));
                break;
            }
            polled = consumer.poll(poll_timeout) => polled,
        };
        let records = match records {
            Ok(records) => records,
            Err(error) => {
                emit("client_error", &format!("\"error\": {}", json_string(&error.to_string())));
                continue;
            }
        };
        if records.is_empty() {
            continue;
        }
        let rows: Vec<String> = records
            .iter()
            .map(|r| format!("[{}, {}, {}, {}]", r.partition, r.offset, json_text(r.key.as_deref()), json_text(r.value.as_deref())))
            .collect();
        emit("records", &format!("\"records\": [{}]", rows.join(", ")));
        if args.commit == "batch" {
            let shown = offsets_json(&records.next_offsets());
            match consumer.commit().await {
                Ok(()) => emit("commit", &format!("\"offsets\": {shown}, \"ok\": true, \"error\": null")),
                Err(error) => emit(
                    "commit",
                    &format!("\"offsets\": {shown}, \"ok\": false, \"error\": {}", json_string(&error.to_string())),
                ),
            }
        }
    }
    // poll() may have been dropped mid-way by the select above; close() copes with that.
    if let Err(error) = consumer.close().await {
        emit("client_error", &format!("\"error\": {}", json_string(&error.to_string())));
    }
    emit("closed", "");
    outcome
}

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let outcome = match parse_args() {
        Ok(args) => run(&args).await,
        Err(error) => Err(error),
    };
    let error = match &outcome {
        Ok(()) => "null".to_string(),
        Err(error) => json_string(error),
    };
    let result = format!(
        "{{\"ev\": \"result\", \"t\": {:.6}, \"client\": \"runnel-client\", \"client_version\": \"{}\", \"error\": {error}, \"elapsed_s\": {:.3}}}\n",
        now_s(),
        env!("CARGO_PKG_VERSION"),
        started.elapsed().as_secs_f64()
    );
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(result.as_bytes()).and_then(|_| out.flush());
    std::process::exit(if outcome.is_ok() { 0 } else { 1 });
}
