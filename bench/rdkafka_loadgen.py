"""bench/loadgen (librdkafka through the `rdkafka` crate) as compare.py's produce and consume
load generator: built with cargo on first use into target/bench-loadgen (cargo rebuilds only
what changed), run pinned to the client CPU.

Why not Kafka's Java perf tools for these rows: pinned to the one client core of a 2-core
machine they top out near 30 MB/s of 1 KiB records, about what either broker takes from one
core, so both brokers measure the same client. librdkafka drives either broker several times
faster from the same core. The same binary and settings run against both brokers.

Public API: RdkafkaLoadGenerator(pin).produce(bootstrap, topic, records, record_size=, acks=,
timeout_s=) and .consume(bootstrap, topic, records, timeout_s=) -> Run (mb_s, msg_s, and
client_busy: the load generator's CPU time over its timed window per wall second, 1.0 being its
whole core); RdkafkaLatencyTool(loadgen).run(...) -> dict
(the latency mode's JSON: sent, acked, received, errors, p50_ms, p99_ms, p999_ms, max_ms, ...)
and .popen(...) for a long run whose caller samples the broker meanwhile (the soak); parse(out)
and check(result); build() -> the binary's path.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from common import CLIENT_CPU, DEFAULT_RECORD_SIZE_BYTES, REPO, TOOL_TIMEOUT_S, BenchError, run_tool, text

from harness.process import _die_with_parent

MANIFEST = REPO / "bench" / "loadgen" / "Cargo.toml"
TARGET_DIR = REPO / "target" / "bench-loadgen"
BINARY = TARGET_DIR / "release" / "runnel-bench-loadgen"
# librdkafka's C build from scratch takes a few minutes on two cores.
BUILD_TIMEOUT_S = 900.0
# A latency run's bound beyond its own duration: start-up, metadata, the flush and the drain.
RUN_SLACK_S = 90.0


def build() -> str:
    cmd = ["cargo", "build", "--release", "--locked", "--quiet", "--manifest-path", str(MANIFEST),
           "--target-dir", str(TARGET_DIR)]
    try:
        res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BenchError(f"building the load generator timed out after {BUILD_TIMEOUT_S:.0f}s") from None
    if res.returncode != 0:
        raise BenchError(f"building the load generator failed ({res.returncode}): {shlex.join(cmd)}\n{res.stderr}")
    return str(BINARY)


@dataclass(frozen=True)
class Run:
    mb_s: float
    msg_s: float
    client_busy: float  # CPU seconds per wall second over the timed window (1.0: its core)


class RdkafkaLoadGenerator:
    def __init__(self, pin: bool):
        self.binary = build()
        self.pin = pin

    def command(self, args: list[str]) -> list[str]:
        cmd = [self.binary, *args]
        return ["taskset", "-c", CLIENT_CPU, *cmd] if self.pin else cmd

    def _run(self, args: list[str], timeout_s: float) -> Run:
        out = run_tool(self.command(args), "the load generator", timeout_s)
        try:
            report = json.loads(out.strip().splitlines()[-1])
            return Run(report["mb_s"], report["msg_s"], report["cpu_s"] / report["seconds"])
        except (IndexError, ValueError, KeyError, ZeroDivisionError):
            raise BenchError(f"no report from the load generator {shlex.join(args)}:\n{out}") from None

    def produce(self, bootstrap: str, topic: str, records: int, *, record_size: int = DEFAULT_RECORD_SIZE_BYTES,
                acks: str = "1", timeout_s: float = TOOL_TIMEOUT_S) -> Run:
        return self._run(["produce", bootstrap, topic, str(records), str(record_size), acks], timeout_s)

    def consume(self, bootstrap: str, topic: str, records: int, *, timeout_s: float = TOOL_TIMEOUT_S) -> Run:
        return self._run(["consume", bootstrap, topic, str(records)], timeout_s)


class RdkafkaLatencyTool:
    """The load generator's `latency` mode (bench/loadgen/src/latency.rs: open loop, latency
    from each record's scheduled send time, HdrHistogram)."""

    def __init__(self, loadgen: RdkafkaLoadGenerator):
        self.loadgen = loadgen

    def command(self, bootstrap: str, topic: str, rate_msg_s: float, duration_s: float, *, warmup_s: float,
                record_size: int, acks: str, producer_props: dict[str, str] | None) -> list[str]:
        props = [f"{k}={v}" for k, v in {"acks": acks, **(producer_props or {})}.items()]
        return self.loadgen.command(["latency", bootstrap, topic, f"{rate_msg_s:.1f}", f"{duration_s:g}",
                                     f"{warmup_s:g}", str(record_size), *props])

    def run(self, bootstrap: str, topic: str, rate_msg_s: float, duration_s: float, *, warmup_s: float,
            record_size: int, acks: str = "1", producer_props: dict[str, str] | None = None) -> dict:
        """One open-loop run; raises BenchError unless every record sent was acknowledged and
        received back, without errors."""
        cmd = self.command(bootstrap, topic, rate_msg_s, duration_s, warmup_s=warmup_s, record_size=record_size,
                           acks=acks, producer_props=producer_props)
        return check(parse(run_tool(cmd, "the latency run", warmup_s + duration_s + RUN_SLACK_S)))

    def popen(self, bootstrap: str, topic: str, rate_msg_s: float, duration_s: float, *, warmup_s: float,
              record_size: int, stderr_path: Path, acks: str = "1",
              producer_props: dict[str, str] | None = None) -> subprocess.Popen:
        """Start a run in the background; stdout (one JSON line) is a pipe, stderr goes to
        stderr_path so a long run's client warnings cannot fill a pipe and stall it."""
        cmd = self.command(bootstrap, topic, rate_msg_s, duration_s, warmup_s=warmup_s, record_size=record_size,
                           acks=acks, producer_props=producer_props)
        with open(stderr_path, "w") as err:
            return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True,
                                    preexec_fn=_die_with_parent)


def parse(out: str) -> dict:
    lines = [ln for ln in text(out).splitlines() if ln.startswith("{")]
    if not lines:
        raise BenchError(f"no JSON from the latency run:\n{out}")
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError as e:
        raise BenchError(f"unparsable JSON from the latency run ({e}):\n{out}") from None


def check(result: dict) -> dict:
    problems = []
    if result["errors"] or result["first_error"]:
        problems.append(f"{result['errors']} send errors, first: {result['first_error']}")
    if result["acked"] != result["sent"]:
        problems.append(f"{result['acked']} of {result['sent']} records acknowledged")
    if result["received"] != result["acked"]:
        problems.append(f"{result['received']} of {result['acked']} acknowledged records received")
    if result["measured"] <= 0:
        problems.append("no record after the warm-up was received")
    if problems:
        raise BenchError("the latency run: " + "; ".join(problems) + f"\n{json.dumps(result)}")
    return result
