//! Golden output of the operator CLI: one session of `runnel topic` and `runnel group`
//! commands against a fresh in-process Runnel, compared line for line with
//! `tests/golden/cli_session.txt`. What varies between runs (the broker's address, topic
//! ids) is replaced by placeholders; record timestamps are set two hours back so LAG-TIME
//! reads `2h00m` (and JSON's `lag_time_ms` within a minute of two hours shows as `<2h>`). After an intended change to the output, regenerate the file with
//! `RUNNEL_BLESS_GOLDEN=1 cargo test -p runnel --test cli_golden` and review the diff.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use runnel_broker::config::BrokerConfig;
use runnel_broker::Broker;
use runnel_client::admin::{Admin, OffsetAndMetadata, TopicPartition};
use runnel_client::producer::{Producer, ProducerConfig, ProducerRecord};
use runnel_client::ClientConfig;
use tokio_util::sync::CancellationToken;

const GOLDEN: &str = "tests/golden/cli_session.txt";
/// How far back the records' timestamps are: LAG-TIME then reads 2h00m for the whole run.
const RECORD_AGE_MS: i64 = 2 * 60 * 60 * 1000;
/// Kafka prints topic ids as 22 characters of URL-safe base64.
const TOPIC_ID_CHARS: usize = 22;
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

struct Session {
    bootstrap: String,
    transcript: String,
}

impl Session {
    /// Runs `runnel ARGS` and appends its normalised output to the transcript.
    async fn run(&mut self, args: &[&str]) {
        let binary = env!("CARGO_BIN_EXE_runnel");
        let mut command = Command::new(binary);
        command.args(args).env_remove("RUNNEL_BROKERS").env("NO_COLOR", "1").env("RUNNEL_BROKERS", &self.bootstrap);
        let output = tokio::time::timeout(COMMAND_TIMEOUT, tokio::task::spawn_blocking(move || command.output()))
            .await
            .expect("command finished in time")
            .expect("command thread")
            .expect("command ran");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        self.transcript += &format!("$ runnel {}\n", args.join(" "));
        self.transcript += &self.normalise(&stdout);
        if !stderr.is_empty() {
            self.transcript += "--- stderr\n";
            self.transcript += &self.normalise(&stderr);
        }
        self.transcript += &format!("--- exit {}\n\n", output.status.code().unwrap_or(-1));
    }

    fn normalise(&self, text: &str) -> String {
        let text = text.replace(&self.bootstrap, "<broker>");
        let mut out = String::new();
        for line in text.lines() {
            out += &mask_lag_time_ms(&mask_topic_ids(line));
            out.push('\n');
        }
        out
    }
}

/// JSON's `"lag_time_ms": 7200123` depends on when the command ran: it becomes
/// `"lag_time_ms": <2h>` when it lies within the records' age plus a minute, and stays as
/// it was (failing the comparison) otherwise.
fn mask_lag_time_ms(line: &str) -> String {
    let marker = "\"lag_time_ms\": ";
    let Some(at) = line.find(marker) else { return line.to_string() };
    let start = at + marker.len();
    let digits: String = line[start..].chars().take_while(char::is_ascii_digit).collect();
    match digits.parse::<i64>() {
        Ok(ms) if (RECORD_AGE_MS..RECORD_AGE_MS + 60_000).contains(&ms) => {
            format!("{}<2h>{}", &line[..start], &line[start + digits.len()..])
        }
        _ => line.to_string(),
    }
}

/// Replaces the value after `TopicId: ` and in `"topic_id": "..."` with `<topic-id>`.
fn mask_topic_ids(line: &str) -> String {
    let mut out = line.to_string();
    for marker in ["TopicId: ", "\"topic_id\": \""] {
        if let Some(at) = out.find(marker) {
            let start = at + marker.len();
            let end = (start + TOPIC_ID_CHARS).min(out.len());
            out.replace_range(start..end, "<topic-id>");
        }
    }
    out
}

async fn start_broker(data: &std::path::Path) -> (String, CancellationToken) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let settings: BTreeMap<String, String> = [
        ("listeners", format!("PLAINTEXT://127.0.0.1:{port}")),
        ("log.dirs", data.display().to_string()),
        ("group.initial.rebalance.delay.ms", "0".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let (config, _) = BrokerConfig::from_map(&settings).expect("broker config");
    let broker = Broker::bind(config).await.expect("broker starts");
    let shutdown = CancellationToken::new();
    tokio::spawn(broker.run(shutdown.clone()));
    (format!("127.0.0.1:{port}"), shutdown)
}

async fn produce(bootstrap: &str, topic: &str, partition: i32, count: usize, timestamp_ms: i64) {
    let producer = Producer::new(ProducerConfig::new(bootstrap)).await.expect("producer");
    for i in 0..count {
        let record = ProducerRecord::new(topic)
            .partition(partition)
            .key(format!("k{i}"))
            .value(format!("v{i}"))
            .timestamp(timestamp_ms);
        producer.send(record).await.expect("send").await.expect("delivered");
    }
    producer.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_session_matches_golden_output() {
    let data = tempfile::tempdir().expect("temporary directory");
    let (bootstrap, shutdown) = start_broker(data.path()).await;
    let mut s = Session { bootstrap: bootstrap.clone(), transcript: String::new() };

    s.run(&["topic", "create", "orders", "--partitions", "2", "--config", "cleanup.policy=compact"]).await;
    s.run(&["topic", "create", "orders"]).await;
    s.run(&["topic", "create", "orders", "--if-not-exists"]).await;
    s.run(&["topic", "create", "events", "-p", "1"]).await;
    s.run(&["topic", "list"]).await;
    s.run(&["topic", "describe", "orders"]).await;
    s.run(&["topic", "describe", "missing"]).await;
    s.run(&["topic", "alter", "orders", "--partitions", "3", "--config", "retention.ms=3600000"]).await;
    s.run(&["topic", "describe", "orders", "--format", "json"]).await;

    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as i64;
    produce(&bootstrap, "orders", 0, 5, now_ms - RECORD_AGE_MS).await;
    produce(&bootstrap, "orders", 1, 3, now_ms - RECORD_AGE_MS).await;
    produce(&bootstrap, "events", 0, 4, now_ms - RECORD_AGE_MS).await;
    // A group that only ever stored offsets: Empty, no members, as after its consumers left.
    let admin = Admin::new(ClientConfig::new(&bootstrap)).await.expect("admin");
    let offsets = BTreeMap::from([
        (TopicPartition::new("orders", 0), OffsetAndMetadata::new(2)),
        (TopicPartition::new("orders", 1), OffsetAndMetadata::new(3)),
        (TopicPartition::new("events", 0), OffsetAndMetadata::new(1)),
    ]);
    let committed = admin.alter_group_offsets("billing", &offsets).await.expect("commit");
    assert!(committed.values().all(|r| r.is_ok()), "{committed:?}");

    s.run(&["group", "list", "--state"]).await;
    s.run(&["group", "describe", "--group", "billing"]).await;
    s.run(&["group", "describe", "--group", "billing", "--members"]).await;
    s.run(&["group", "describe", "--group", "billing", "--state"]).await;
    s.run(&["group", "describe", "--group", "nobody"]).await;
    s.run(&["group", "reset-offsets", "--group", "billing", "--all-topics", "--to-earliest"]).await;
    s.run(&["group", "reset-offsets", "--group", "billing", "--topic", "orders", "--shift-by", "10"]).await;
    s.run(&["group", "reset-offsets", "--group", "billing", "--topic", "orders:7", "--to-latest"]).await;
    s.run(&["group", "reset-offsets", "--group", "billing", "--topic", "orders:0", "--to-offset", "1", "--execute"])
        .await;
    s.run(&["group", "reset-offsets", "--group", "billing", "--all-topics", "--to-current", "--export"]).await;
    s.run(&["group", "delete-offsets", "--group", "billing", "--topic", "events"]).await;
    s.run(&["group", "describe", "--group", "billing", "--format", "json"]).await;
    s.run(&["group", "delete", "--group", "billing"]).await;
    s.run(&["group", "delete", "--group", "billing"]).await;
    s.run(&["topic", "delete", "orders", "events"]).await;
    s.run(&["topic", "delete", "orders", "--if-exists"]).await;
    s.run(&["topic", "list", "--bogus"]).await;
    shutdown.cancel();

    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    if std::env::var_os("RUNNEL_BLESS_GOLDEN").is_some() {
        std::fs::write(&path, &s.transcript).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).expect("golden file (create it with RUNNEL_BLESS_GOLDEN=1)");
    if expected != s.transcript {
        let first = expected
            .lines()
            .zip(s.transcript.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(s.transcript.lines().count()));
        panic!(
            "CLI output differs from {GOLDEN} at line {}:\n  expected: {:?}\n  actual:   {:?}\n--- whole actual transcript:\n{}",
            first + 1,
            expected.lines().nth(first),
            s.transcript.lines().nth(first),
            s.transcript
        );
    }
}
