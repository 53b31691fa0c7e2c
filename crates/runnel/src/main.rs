//! The `runnel` binary. `runnel serve` runs the broker; operator commands join it later.
//!
//! Every flag is defined once, here, in clap's derive form.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use runnel_broker::config::{parse_override, BrokerConfig};
use runnel_broker::Broker;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "runnel", version, about = "A Kafka-compatible streaming broker")]
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

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUNNEL_LOG").unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("runnel: {error:#}");
            std::process::ExitCode::FAILURE
        }
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
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async {
        let broker = Broker::bind(config).await?;
        let data = std::fs::canonicalize(broker.log_dir()).unwrap_or_else(|_| broker.log_dir().to_path_buf());
        for addr in broker.local_addrs() {
            tracing::info!("Runnel {} listening on {addr}", env!("CARGO_PKG_VERSION"));
        }
        tracing::info!("data in {}", data.display());
        let shutdown = CancellationToken::new();
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
