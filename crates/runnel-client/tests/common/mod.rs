//! Shared fixture for runnel-client's integration tests: a broker to talk to.
//!
//! `test_bootstrap()` returns the broker named by `RUNNEL_TEST_BOOTSTRAP` (`host:port`, e.g.
//! an Apache Kafka started by the python harness) when set, otherwise an in-process Runnel
//! broker on a free loopback port with its data in a temporary directory. The returned
//! `Guard` stops that broker and removes its data when dropped. `unique_name` gives topic
//! and group names that do not collide across tests or runs. Either way the client's own
//! log lines (`runnel_client=info`, or `RUST_LOG`) go to the test's captured output, so a
//! failing test shows how its consumers saw the group.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use runnel_broker::config::BrokerConfig;
use runnel_broker::Broker;
use tokio_util::sync::CancellationToken;

/// Environment variable naming an external broker to test against.
pub const BOOTSTRAP_ENV: &str = "RUNNEL_TEST_BOOTSTRAP";
/// Attempts at binding a fresh port (another process may grab the one we picked).
const BIND_ATTEMPTS: usize = 5;

/// Keeps an in-process broker alive; dropping it shuts the broker down.
pub struct Guard {
    shutdown: Option<CancellationToken>,
    _data: Option<tempfile::TempDir>,
}

impl Guard {
    fn external() -> Guard {
        Guard { shutdown: None, _data: None }
    }

    /// Whether this guard runs an in-process Runnel broker (as opposed to an external one).
    pub fn is_in_process(&self) -> bool {
        self.shutdown.is_some()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(shutdown) = &self.shutdown {
            shutdown.cancel();
        }
    }
}

/// The external broker from `RUNNEL_TEST_BOOTSTRAP`, if set.
pub fn external_bootstrap() -> Option<String> {
    std::env::var(BOOTSTRAP_ENV).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// The bootstrap address of the broker under test, and a guard that keeps it running.
pub async fn test_bootstrap() -> (String, Guard) {
    match external_bootstrap() {
        Some(bootstrap) => {
            capture_client_logs();
            (bootstrap, Guard::external())
        }
        None => start_runnel(&[]).await,
    }
}

/// Starts an in-process Runnel broker with extra server.properties settings (they win over
/// the fixture's own `listeners` and `log.dirs`). Returns its listener address.
pub async fn start_runnel(settings: &[(&str, &str)]) -> (String, Guard) {
    capture_client_logs();
    let data = tempfile::tempdir().expect("temporary directory for broker data");
    let mut last_error = String::new();
    for _ in 0..BIND_ATTEMPTS {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut map = BTreeMap::new();
        map.insert("listeners".to_string(), format!("PLAINTEXT://{addr}"));
        map.insert("log.dirs".to_string(), data.path().display().to_string());
        map.insert("offsets.topic.replication.factor".to_string(), "1".to_string());
        for (key, value) in settings {
            map.insert(key.to_string(), value.to_string());
        }
        let (config, _warnings) = BrokerConfig::from_map(&map).expect("valid broker settings");
        match Broker::bind(config).await {
            Ok(broker) => {
                let shutdown = CancellationToken::new();
                tokio::spawn(broker.run(shutdown.clone()));
                return (addr, Guard { shutdown: Some(shutdown), _data: Some(data) });
            }
            Err(error) => last_error = error.to_string(),
        }
    }
    panic!("could not start an in-process broker: {last_error}");
}

/// Sends the client's log lines to libtest's capture. The runtime's worker threads inherit
/// the capture of the test thread that started them, so each test's lines stay its own and
/// are printed only when it fails.
fn capture_client_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("runnel_client=info"));
    // Only the first call in a test binary installs it.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_test_writer().try_init();
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// A name no other test (or earlier run) uses: `prefix-<pid>-<nanos>-<counter>`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() % 1_000_000_000_000);
    format!("{prefix}-{}-{nanos}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}
