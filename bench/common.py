"""Shared machinery for the benchmarks in bench/: Kafka's perf tools as the load generator,
broker process figures from /proc, topic creation, medians and ranges, the machine
description and the in-place rewrite of a Markdown results section.

Public API:
- run_tool(cmd, name, timeout_s): a load generator's stdout, or BenchError with what it printed.
- LoadGenerator(workdir, pin, jvm_opts): .produce(...) / .consume(...) run Kafka's ProducerPerformance /
  ConsumerPerformance (one server JVM each, pinned to CLIENT_CPU), .run(...) any Java main
  class against the Kafka jars (extra class path allowed).
- cpu_seconds(pid), memory_kib(pid): utime+stime and (VmRSS, VmHWM) of a process.
- create_topic(broker, topic, partitions, configs): CreateTopics v2 on the broker's PLAINTEXT port;
  delete_topic(broker, topic): DeleteTopics v1, to free a measured step's disk space.
- spread(values, decimals): "median (min-max)"; machine(): what the run ran on.
- write_results(path, section, begin, end): replace only the marked section of a Markdown file.
- BenchError: a tool failed, timed out, or moved a different number of records than asked.

Importing this module puts tests/ on sys.path, so `from harness import ...` works after it.
"""

from __future__ import annotations

import csv
import datetime
import io
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))

from harness import wire  # noqa: E402
from harness.java_tools import LOG4J2_XML  # noqa: E402
from harness.paths import JAVA_BIN, KAFKA_LIBS, RUNNEL_BIN  # noqa: E402
from harness.process import _die_with_parent  # noqa: E402

PRODUCER_PERFORMANCE = "org.apache.kafka.tools.ProducerPerformance"
CONSUMER_PERFORMANCE = "org.apache.kafka.tools.ConsumerPerformance"
BROKERS = ("runnel", "kafka")

# Bounds one tool invocation (JVM start included); a healthy full-size run takes seconds.
TOOL_TIMEOUT_S = 180.0
# ConsumerPerformance gives up after this long without a record (its --timeout).
CONSUMER_IDLE_TIMEOUT_MS = 30_000
BROKER_CPU = "0"
CLIENT_CPU = "1"
# The load generator gets a normal server JVM (C2, G1), unlike the harness's short-run tools.
LOADGEN_JVM_OPTS = ["-Xms512m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true"]
DEFAULT_RECORD_SIZE_BYTES = 1024
API_DELETE_TOPICS = 20
DELETE_TIMEOUT_MS = 30_000
MIB = 1024 * 1024
GIB = 1024 * MIB

# ProducerPerformance's summary line; progress lines have the same shape, the last one wins.
PRODUCER_SUMMARY = re.compile(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency")


class BenchError(RuntimeError):
    """A tool failed, timed out or moved a different number of records than asked."""


def text(data) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


# ---------------------------------------------------------------------------- the tools

def run_tool(cmd: list[str], name: str, timeout_s: float) -> str:
    """Runs a load generator to completion: its stdout, or BenchError naming `name` with the
    command and everything it printed if it failed or outlived `timeout_s`."""
    try:
        # The tool dies with this script (PDEATHSIG), so a killed benchmark leaves no client behind.
        res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s,
                             preexec_fn=_die_with_parent)
    except subprocess.TimeoutExpired as e:
        raise BenchError(f"{name} timed out after {timeout_s:.0f}s: {shlex.join(cmd)}\n"
                         f"{text(e.stdout)}{text(e.stderr)}") from None
    if res.returncode != 0:
        raise BenchError(f"{name} exited {res.returncode}: {shlex.join(cmd)}\n{res.stdout}{res.stderr}")
    return res.stdout


class LoadGenerator:
    """Runs Kafka's perf tools (or another Java main class) in one JVM each, optionally
    pinned to the client CPU."""

    def __init__(self, workdir: Path, pin: bool, jvm_opts: list[str] = LOADGEN_JVM_OPTS):
        self.log4j = workdir / "loadgen-log4j2.xml"
        self.log4j.write_text(LOG4J2_XML)
        self.pin = pin
        self.jvm_opts = list(jvm_opts)

    def command(self, main_class: str, args: list[str], extra_classpath: list[Path] = ()) -> list[str]:
        classpath = os.pathsep.join([*(str(p) for p in extra_classpath), str(KAFKA_LIBS / "*")])
        cmd = [JAVA_BIN, *self.jvm_opts, f"-Dlog4j2.configurationFile={self.log4j}", "-cp", classpath,
               main_class, *args]
        if self.pin:
            cmd = ["taskset", "-c", CLIENT_CPU, *cmd]
        return cmd

    def run(self, main_class: str, args: list[str], *, timeout_s: float = TOOL_TIMEOUT_S,
            extra_classpath: list[Path] = ()) -> str:
        return run_tool(self.command(main_class, args, extra_classpath), main_class, timeout_s)

    def produce(self, bootstrap: str, topic: str, records: int, client_config: Path | None = None, *,
                record_size: int = DEFAULT_RECORD_SIZE_BYTES, acks: str = "1",
                timeout_s: float = TOOL_TIMEOUT_S) -> tuple[float, float, float]:
        """(MB/s, msg/s, avg latency ms) as ProducerPerformance prints them (MB = 2^20 bytes),
        at full speed (--throughput -1), otherwise the producer's defaults."""
        args = ["--topic", topic, "--num-records", str(records), "--record-size", str(record_size),
                "--throughput", "-1", "--producer-props", f"bootstrap.servers={bootstrap}", f"acks={acks}"]
        if client_config is not None:
            args += ["--producer.config", str(client_config)]
        out = self.run(PRODUCER_PERFORMANCE, args, timeout_s=timeout_s)
        summaries = PRODUCER_SUMMARY.findall(out)
        if not summaries:
            raise BenchError(f"no summary line from ProducerPerformance:\n{out}")
        sent, msg_s, mb_s, latency_ms = summaries[-1]
        if int(sent) != records:
            raise BenchError(f"ProducerPerformance sent {sent} of {records} records:\n{out}")
        return float(mb_s), float(msg_s), float(latency_ms)

    def consume(self, bootstrap: str, topic: str, records: int, client_config: Path | None = None, *,
                group_prefix: str = "bench", timeout_s: float = TOOL_TIMEOUT_S) -> tuple[float, float]:
        """(MB/s, msg/s) from ConsumerPerformance's fetch.* columns: the join is excluded."""
        args = ["--bootstrap-server", bootstrap, "--topic", topic, "--messages", str(records),
                "--group", f"{group_prefix}-{uuid.uuid4().hex[:8]}", "--timeout", str(CONSUMER_IDLE_TIMEOUT_MS)]
        if client_config is not None:
            args += ["--consumer.config", str(client_config)]
        out = self.run(CONSUMER_PERFORMANCE, args, timeout_s=timeout_s)
        lines = [ln for ln in out.splitlines() if ln.count(",") >= 9]
        if len(lines) < 2:
            raise BenchError(f"no stats from ConsumerPerformance:\n{out}")
        rows = list(csv.reader(io.StringIO("\n".join(lines[-2:]))))
        stats = {k.strip(): v.strip() for k, v in zip(rows[0], rows[1])}
        try:
            consumed = int(stats["data.consumed.in.nMsg"])
            mb_s, msg_s = float(stats["fetch.MB.sec"]), float(stats["fetch.nMsg.sec"])
        except (KeyError, ValueError) as e:
            raise BenchError(f"unexpected ConsumerPerformance output ({e}):\n{out}") from None
        if consumed != records:
            raise BenchError(f"ConsumerPerformance read {consumed} of {records} records:\n{out}")
        return mb_s, msg_s


# ---------------------------------------------------------------------------- the brokers

def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of stat(5); the split starts at field 3 (state).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB: resident now, and the peak so far."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    try:
        return values["VmRSS"], values["VmHWM"]
    except KeyError:
        raise BenchError(f"/proc/{pid}/status has no VmRSS/VmHWM (process gone?)") from None


def create_topic(broker, topic: str, partitions: int, configs: dict[str, str] | None = None) -> None:
    with wire.connect(broker.bootstrap) as sock:
        error, message = wire.create_topics_v2(sock, topic, partitions, configs=configs)
    if error != 0:
        raise BenchError(f"CreateTopics {topic} ({partitions} partitions, {configs or {}}) on {broker.kind}: "
                         f"error {error} {message}")


def delete_topic(broker, topic: str) -> None:
    """DeleteTopics v1 on the broker's PLAINTEXT port: a measured step's data is removed before
    the next step writes (a full run writes tens of GB; Kafka frees the files a minute later,
    its log.segment.delete.delay.ms)."""
    with wire.connect(broker.bootstrap) as sock:
        r = wire.call(sock, API_DELETE_TOPICS, 1, wire.array([wire.string(topic)]) + wire.int32(DELETE_TIMEOUT_MS))
        r.int32()  # throttle
        results = r.array(lambda rr: (rr.string(), rr.int16())) or []
    errors = [error for name, error in results if name == topic]
    if errors != [0]:
        raise BenchError(f"DeleteTopics {topic} on {broker.kind}: {results}")


# ---------------------------------------------------------------------------- reporting

def spread(values: list[float], decimals: int) -> str:
    med = f"{statistics.median(values):,.{decimals}f}"
    if len(values) == 1:
        return med
    return f"{med} ({min(values):,.{decimals}f}-{max(values):,.{decimals}f})"


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    java = subprocess.run([JAVA_BIN, "-version"], capture_output=True, text=True, timeout=30).stderr.splitlines()
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            timeout=30).stdout.strip()
    built = datetime.datetime.fromtimestamp(RUNNEL_BIN.stat().st_mtime, datetime.timezone.utc)
    return {"nproc": str(os.cpu_count()), "cpu": model, "kernel": platform.release(),
            "java": java[0] if java else "unknown", "commit": commit,
            "runnel binary built": built.strftime("%Y-%m-%d %H:%M UTC"),
            "kafka jars": ", ".join(sorted(p.name for p in KAFKA_LIBS.glob("kafka_2.13-*.jar"))) or "none"}


def write_results(path: Path, section: str, begin: str, end: str) -> None:
    """Replace the results section of a Markdown file (between the begin and end marker
    lines), keeping everything around it; append the section if the markers are missing."""
    block = f"{begin}\n{section}{end}\n"
    content = path.read_text() if path.exists() else ""
    if begin in content and end in content:
        head, rest = content.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        content = head + block + tail
    else:
        content = (content.rstrip("\n") + "\n\n" if content else "") + block
    path.write_text(content)
