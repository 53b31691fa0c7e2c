//! The report card's adapter for Runnel's own Rust client (runnel-client): every scenario of
//! compat/scenarios.py, with the checks of compat/python/adapterlib.py and
//! compat/franzgo/main.go, through runnel-client's public API only.
//!
//! Usage: `runnel-compat --bootstrap HOST:PORT --scenarios ID,ID --run-id RUN` prints one JSON
//! line naming the client, then one per scenario (protocol in compat/scenarios.py).
//! `--child-member TOPIC,GROUP,COUNT` is group.crash's member a (internal).

mod child;
mod ctx;
mod member;
mod outcome;
mod scenarios;

use std::io::Write;
use std::time::{Duration, Instant};

use outcome::Outcome;

/// The client's name on the card.
pub const CLIENT_NAME: &str = "runnel-client";
const CLIENT_VERSION: &str = runnel_client::VERSION;
/// The longest one scenario may take (group.crash needs about 15 s; its waits are bounded
/// well under this), so a hung call fails its scenario instead of the whole adapter run.
const SCENARIO_BOUND: Duration = Duration::from_secs(100);
const DETAIL_CHARS: usize = 600;
/// The runtime's worker threads: the machine's two cores.
const WORKER_THREADS: usize = 2;

struct Args {
    bootstrap: String,
    scenarios: Vec<String>,
    run_id: String,
    child_member: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { bootstrap: String::new(), scenarios: Vec::new(), run_id: "x".into(), child_member: None };
    let mut raw = std::env::args().skip(1);
    while let Some(flag) = raw.next() {
        let mut value = || raw.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--bootstrap" => args.bootstrap = value()?,
            "--scenarios" => {
                args.scenarios = value()?.split(',').filter(|s| !s.is_empty()).map(String::from).collect()
            }
            "--run-id" => args.run_id = value()?,
            "--child-member" => args.child_member = Some(value()?),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    if args.bootstrap.is_empty() {
        return Err("--bootstrap is required".into());
    }
    Ok(args)
}

fn emit(line: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("runnel-compat: {message}");
            std::process::exit(2);
        }
    };
    // The client's warnings (a failed auto-commit, a retried join) go to stderr, whose tail
    // the card shows when an adapter misbehaves. RUST_LOG overrides the level.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(WORKER_THREADS).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("runnel-compat: cannot start the runtime: {error}");
            std::process::exit(2);
        }
    };
    let code = runtime.block_on(async_main(args));
    // Background tasks (heartbeats, fetches) must not keep a finished adapter alive.
    std::process::exit(code);
}

async fn async_main(args: Args) -> i32 {
    if let Some(spec) = &args.child_member {
        return child::run(&args.bootstrap, spec).await;
    }
    let ctx = match ctx::Ctx::connect(&args.bootstrap, &args.run_id).await {
        Ok(ctx) => ctx,
        Err(error) => {
            eprintln!("runnel-compat: cannot connect to {}: {}", args.bootstrap, outcome::describe(&error));
            return 2;
        }
    };
    emit(serde_json::json!({"client": CLIENT_NAME, "version": CLIENT_VERSION}));
    for id in &args.scenarios {
        let start = Instant::now();
        let outcome = match tokio::time::timeout(SCENARIO_BOUND, scenarios::run(&ctx, id)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Outcome::Fail(format!("scenario not done within {:.0}s", SCENARIO_BOUND.as_secs_f64()))),
        };
        let (status, detail) = match outcome {
            Ok(detail) => ("pass", detail),
            Err(Outcome::Fail(detail)) => ("fail", detail),
            Err(Outcome::Skip(reason)) => ("skip", reason),
        };
        let detail: String = detail.chars().take(DETAIL_CHARS).collect();
        let elapsed_s = (start.elapsed().as_secs_f64() * 100.0).round() / 100.0;
        emit(serde_json::json!({"scenario": id, "status": status, "detail": detail, "elapsed_s": elapsed_s}));
    }
    0
}
