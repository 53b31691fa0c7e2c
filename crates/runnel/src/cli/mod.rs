//! The operator CLI: the client commands of the `runnel` binary (`topic`, `group`, and the
//! `produce`/`consume` commands to come).
//!
//! Owns: the options every client command shares (`GlobalArgs`: bootstrap servers,
//! `--command-config`, `--format`), turning them into a `ClientConfig`, and running one
//! command to completion. A new client command flattens `GlobalArgs` into its own Args and
//! prints through `output`, so flags and formats stay the same everywhere.

pub mod acl;
pub mod certs;
pub mod consume;
pub mod escape;
pub mod group;
pub mod output;
pub mod produce;
pub mod props;
pub mod signal;
pub mod time;
pub mod topic;
pub mod user;

use std::future::Future;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use runnel_client::admin::Admin;
use runnel_client::config::{parse_properties, Properties};
use runnel_client::ClientConfig;

/// Where a client command connects when neither `-b`, `RUNNEL_BROKERS` nor the
/// `--command-config` file names a broker.
pub const BOOTSTRAP_DEFAULT: &str = "localhost:9092";
/// `client.id` of the CLI's connections unless the properties file sets one.
pub const CLIENT_ID_DEFAULT: &str = "runnel-cli";

/// Options shared by every client command; each may also follow the subcommand.
#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Brokers to bootstrap from, host:port[,host:port...] [env: RUNNEL_BROKERS] [default: localhost:9092].
    #[arg(short = 'b', long = "bootstrap-server", value_name = "HOST:PORT", global = true)]
    pub bootstrap_server: Option<String>,
    /// A Kafka client .properties file (security.protocol, ssl.*, sasl.*, client.id, request.timeout.ms, ...).
    #[arg(long = "command-config", value_name = "FILE", global = true)]
    pub command_config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Text, global = true)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Kafka's tools' layout.
    Text,
    /// One JSON document on stdout.
    Json,
}

impl GlobalArgs {
    /// The client properties: the `--command-config` file, with the bootstrap servers from
    /// `-b`, `RUNNEL_BROKERS`, the file's `bootstrap.servers`, or the default, in that order
    /// (Kafka's tools also let `--bootstrap-server` win over the file). Producer and consumer
    /// commands read their own keys (acks, compression.type, group.instance.id, ...) from it.
    pub fn properties(&self) -> anyhow::Result<Properties> {
        let mut props = match &self.command_config {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                parse_properties(&text).with_context(|| format!("in {}", path.display()))?
            }
            None => Properties::new(),
        };
        let env = std::env::var("RUNNEL_BROKERS").ok().filter(|v| !v.trim().is_empty());
        if let Some(servers) = self.bootstrap_server.clone().or(env) {
            props.insert("bootstrap.servers".into(), servers);
        }
        props.entry("bootstrap.servers".into()).or_insert_with(|| BOOTSTRAP_DEFAULT.into());
        props.entry("client.id".into()).or_insert_with(|| CLIENT_ID_DEFAULT.into());
        Ok(props)
    }

    /// Reads a role's configuration from [`GlobalArgs::properties`], naming the file on error.
    pub fn config_from<T, E>(&self, read: impl FnOnce(&Properties) -> Result<T, E>) -> anyhow::Result<T>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let props = self.properties()?;
        match &self.command_config {
            Some(path) => read(&props).with_context(|| format!("in {}", path.display())),
            None => Ok(read(&props)?),
        }
    }

    /// The client configuration every role shares.
    pub fn client_config(&self) -> anyhow::Result<ClientConfig> {
        self.config_from(ClientConfig::from_properties)
    }

    /// An admin client connected to the cluster.
    pub async fn admin(&self) -> anyhow::Result<Admin> {
        let config = self.client_config()?;
        Admin::new(config).await.context("cannot connect")
    }
}

/// Runs one command on a single-threaded runtime: a CLI invocation is one short conversation.
pub fn run(command: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(command)
}

/// Joins a multi-line message into the one line a failure is allowed.
pub fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// An error and its causes as one line, `context: cause: cause`, leaving out a cause whose
/// text its parent already shows (the client's I/O errors print their `io::Error`).
pub fn error_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = one_line(&cause.to_string());
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(bootstrap: Option<&str>, file: Option<PathBuf>) -> GlobalArgs {
        GlobalArgs { bootstrap_server: bootstrap.map(String::from), command_config: file, format: Format::Text }
    }

    #[test]
    fn flag_beats_properties_file_which_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("client.properties");
        std::fs::write(&file, "bootstrap.servers=file:1\nclient.id=mine\nrequest.timeout.ms=1234\n").unwrap();
        let from_file = args(None, Some(file.clone())).client_config().unwrap();
        // RUNNEL_BROKERS is not set by the test runner; when it is, it wins over the file.
        if std::env::var("RUNNEL_BROKERS").is_err() {
            assert_eq!(from_file.bootstrap_servers, vec!["file:1"]);
        }
        assert_eq!(from_file.client_id, "mine");
        assert_eq!(from_file.request_timeout_ms, 1234);
        let flagged = args(Some("flag:2"), Some(file)).client_config().unwrap();
        assert_eq!(flagged.bootstrap_servers, vec!["flag:2"]);
        if std::env::var("RUNNEL_BROKERS").is_err() {
            assert_eq!(args(None, None).client_config().unwrap().bootstrap_servers, vec![BOOTSTRAP_DEFAULT]);
        }
        assert_eq!(args(None, None).client_config().unwrap().client_id, CLIENT_ID_DEFAULT);
    }

    #[test]
    fn bad_properties_name_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.properties");
        std::fs::write(&file, "request.timeout.ms=soon\n").unwrap();
        let error = format!("{:#}", args(Some("h:1"), Some(file)).client_config().unwrap_err());
        assert!(error.contains("bad.properties") && error.contains("request.timeout.ms"), "{error}");
    }

    #[test]
    fn missing_properties_file_is_named() {
        let error = format!("{:#}", args(None, Some("/nonexistent/x.properties".into())).client_config().unwrap_err());
        assert!(error.contains("/nonexistent/x.properties"), "{error}");
    }

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("a\n  b\n\nc"), "a; b; c");
    }

    #[test]
    fn error_line_leaves_out_causes_already_shown() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let client = runnel_client::Error::Io { broker: "h:9".into(), source: io };
        let error = anyhow::Error::new(client).context("cannot connect");
        assert_eq!(error_line(&error), "cannot connect: h:9: Connection refused");
    }
}
