//! The `runnel` binary: `runnel serve` runs the broker; `runnel topic` and `runnel group`
//! are the operator CLI (in `cli`), a client of any Kafka-compatible cluster.
//!
//! Every flag is defined once, in clap's derive form: `serve`'s here, the client commands'
//! in `cli` (their shared options in `cli::GlobalArgs`). Every failure ends as one line,
//! `runnel: <error>`, on stderr and a non-zero exit.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand};
use runnel_broker::config::{parse_override, BrokerConfig};
use runnel_broker::admin::AdminServer;
use runnel_broker::Broker;
use tokio_util::sync::CancellationToken;

/// Exit status of a command line clap could not parse (as clap itself uses).
const USAGE_EXIT: u8 = 2;

#[derive(Parser)]
#[command(name = "runnel", version, about = "A Kafka-compatible streaming broker and its operator CLI")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the broker. With no options it serves localhost:9092 with data in ./runnel-data.
    #[command(after_help = "Examples:\n  runnel serve\n  runnel serve --config server.properties\n  \
        runnel serve --override listeners=PLAINTEXT://127.0.0.1:19092 --override log.dirs=/tmp/d")]
    Serve(ServeArgs),
    /// Create, list, describe, alter and delete topics.
    Topic(cli::topic::TopicArgs),
    /// List and describe consumer groups, reset and delete their offsets, delete groups.
    Group(cli::group::GroupArgs),
    /// Make a development CA and TLS certificates (server and clients) and print their settings.
    Certs(cli::certs::CertsArgs),
    /// Write records to a topic, one per line of stdin or --file.
    Produce(cli::produce::ProduceArgs),
    /// Print records of topics, from every partition or as a member of a consumer group.
    Consume(cli::consume::ConsumeArgs),
    /// Create, delete and list SCRAM users (SASL/SCRAM credentials).
    User(cli::user::UserArgs),
    /// Create, list and delete ACLs (kafka-acls' options and output).
    Acl(cli::acl::AclArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// A Kafka server.properties file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Set one server.properties key; repeatable, applied after --config.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    let result = match cli.command {
        Command::Serve(args) => {
            init_tracing("info", false);
            serve(args)
        }
        Command::Topic(args) => {
            init_tracing("warn", true);
            cli::run(cli::topic::run(args))
        }
        Command::Group(args) => {
            init_tracing("warn", true);
            cli::run(cli::group::run(args))
        }
        Command::Certs(args) => cli::certs::run(args),
        Command::Produce(args) => {
            init_tracing("warn", true);
            cli::run(cli::produce::run(args))
        }
        Command::Consume(args) => {
            init_tracing("warn", true);
            cli::run(cli::consume::run(args))
        }
        Command::User(args) => {
            init_tracing("warn", true);
            cli::run(cli::user::run(args))
        }
        Command::Acl(args) => {
            init_tracing("warn", true);
            cli::run(cli::acl::run(args))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("runnel: {}", cli::error_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// Help and version go to stdout as clap prints them; a usage error becomes one line.
fn usage_error(error: clap::Error) -> ExitCode {
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            error.exit()
        }
        _ => {
            // clap's message is its first paragraph; usage and tips follow a blank line.
            let rendered = error.render().to_string();
            let message: Vec<&str> = rendered.lines().map(str::trim).take_while(|l| !l.is_empty()).collect();
            let message = message.join(" ");
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            eprintln!("runnel: {message} (see --help)");
            ExitCode::from(USAGE_EXIT)
        }
    }
}

/// The broker logs to stdout at info; client commands keep stdout for their output and
/// log warnings only, to stderr. `RUNNEL_LOG` overrides the level either way.
fn init_tracing(default_level: &str, to_stderr: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUNNEL_LOG").unwrap_or_else(|_| default_level.into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    if to_stderr {
        builder.with_writer(std::io::stderr).init();
    } else {
        builder.init();
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let overrides = args
        .overrides
        .iter()
        .map(|raw| parse_override(raw))
        .collect::<Result<Vec<_>, _>>()
        .context("invalid --override")?;
    let (config, warnings) = BrokerConfig::load(args.config.as_deref(), &overrides).context("invalid configuration")?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    // Kafka's request handler threads: handlers and their disk IO run on these workers, so a
    // write the kernel throttles holds one of them, not the whole broker (tokio's default is
    // one worker per core: one, when pinned).
    let worker_threads = usize::try_from(config.num_io_threads).context("num.io.threads")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        // The admin listener answers /healthz (and /readyz 503) while storage recovers.
        let admin = match AdminServer::bind(&config).await? {
            Some(admin) => Some(admin.serve(shutdown.clone())?),
            None => None,
        };
        let mut broker = Broker::bind(config).await?;
        if let Some(admin) = admin {
            broker.attach_admin(admin);
        }
        let data = std::fs::canonicalize(broker.log_dir()).unwrap_or_else(|_| broker.log_dir().to_path_buf());
        for addr in broker.local_addrs() {
            tracing::info!("Runnel {} listening on {addr}", env!("CARGO_PKG_VERSION"));
        }
        tracing::info!("data in {}", data.display());
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        broker.run(shutdown).await;
        anyhow::Ok(())
    })
}

/// SIGTERM or Ctrl-C starts a graceful shutdown; a second one exits at once.
async fn cancel_on_signal(shutdown: CancellationToken) {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGTERM");
            return;
        }
    };
    for round in 0..2 {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        if round == 0 {
            tracing::info!("signal received: shutting down");
            shutdown.cancel();
        } else {
            tracing::warn!("second signal: exiting without a clean shutdown");
            std::process::exit(130);
        }
    }
}
