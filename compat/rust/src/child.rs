//! group.crash's member a, run as a child process of the adapter (`--child-member
//! TOPIC,GROUP,COUNT`): it reads COUNT records, commits them, prints "committed" and keeps
//! polling (heartbeating) until the parent kills it with SIGKILL, or for at most
//! [`CHILD_LIFETIME`] so an orphan never lingers.

use std::io::Write;
use std::time::Duration;

use runnel_client::consumer::Consumer;
use tokio::time::Instant;

use crate::ctx::{POLL, WAIT};
use crate::member::{member_config, MemberOpts};

const CHILD_LIFETIME: Duration = Duration::from_secs(120);

/// Returns the process exit code.
pub async fn run(bootstrap: &str, spec: &str) -> i32 {
    match member(bootstrap, spec).await {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("runnel-compat child member: {message}");
            1
        }
    }
}

async fn member(bootstrap: &str, spec: &str) -> Result<(), String> {
    let parts: Vec<&str> = spec.split(',').collect();
    let [topic, group, count] = parts[..] else {
        return Err(format!("--child-member wants TOPIC,GROUP,COUNT, got {spec:?}"));
    };
    let count: usize = count.parse().map_err(|_| format!("not a count: {count:?}"))?;
    let mut consumer = Consumer::new(member_config(bootstrap, group, MemberOpts::default()))
        .await
        .map_err(|e| e.to_string())?;
    consumer.subscribe([topic], ()).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + WAIT;
    let mut got = 0;
    while got < count && Instant::now() < deadline {
        got += consumer.poll(POLL).await.map_err(|e| e.to_string())?.count();
    }
    consumer.commit().await.map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "committed").and_then(|()| out.flush()).map_err(|e| e.to_string())?;
    drop(out);
    let end = Instant::now() + CHILD_LIFETIME;
    while Instant::now() < end {
        consumer.poll(POLL).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}
