"""The Rust client's integration tests (crates/runnel-client/tests/*.rs) against each broker.

One test per broker kind runs `cargo test -p runnel-client --tests` with RUNNEL_TEST_BOOTSTRAP
set to that broker, so every Rust scenario (producer, consumer, admin) runs against Runnel and
Apache Kafka alike; without the variable the Rust tests start an in-process Runnel instead.
Cargo builds what is missing first (bounded with the run); on failure the test shows the tail
of cargo's output, where the Rust test names and assertion messages are.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Build (when not already built) plus every Rust integration test, on a 2-core machine.
CARGO_TIMEOUT_S = 1500
# Lines of cargo output shown when the run fails.
OUTPUT_TAIL_LINES = 400
CARGO_JOBS = "2"


def _tail(text: str | bytes | None) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-OUTPUT_TAIL_LINES:])


def test_rust_client_integration_tests(broker):
    env = {**os.environ, "RUNNEL_TEST_BOOTSTRAP": broker.bootstrap}
    command = ["cargo", "test", "-j", CARGO_JOBS, "-p", "runnel-client", "--tests"]
    try:
        result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                                timeout=CARGO_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as expired:
        raise AssertionError(
            f"`{' '.join(command)}` against {broker.kind} did not finish in {CARGO_TIMEOUT_S}s\n"
            f"--- stdout ---\n{_tail(expired.stdout)}\n--- stderr ---\n{_tail(expired.stderr)}"
        ) from None
    assert result.returncode == 0, (
        f"`{' '.join(command)}` against {broker.kind} ({broker.bootstrap}) exited {result.returncode}\n"
        f"--- stdout ---\n{_tail(result.stdout)}\n--- stderr ---\n{_tail(result.stderr)}"
    )
    assert "test result: ok" in result.stdout, f"cargo ran no tests?\n{_tail(result.stdout)}"
