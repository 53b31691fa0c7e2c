//! Ctrl-C and SIGTERM for the long-running client commands (`produce`, `consume`).
//!
//! Owns: turning the first signal into a cancelled token the command checks between units
//! of work (so it can finish cleanly: deliver what was read, leave the group), and the
//! second into an immediate exit, as `runnel serve` does.

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// Exit status after a second signal: 128 + SIGINT, what a shell reports for Ctrl-C.
const SECOND_SIGNAL_EXIT: i32 = 130;

/// A token cancelled at the first Ctrl-C or SIGTERM. Must be called inside the runtime.
pub fn stop_on_signal() -> anyhow::Result<CancellationToken> {
    let stop = CancellationToken::new();
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let token = stop.clone();
    tokio::spawn(async move {
        for round in 0..2 {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            if round == 0 {
                token.cancel();
            } else {
                std::process::exit(SECOND_SIGNAL_EXIT);
            }
        }
    });
    Ok(stop)
}
