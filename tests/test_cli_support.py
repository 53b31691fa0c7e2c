"""Plumbing for the `runnel topic` / `runnel group` CLI suites (test_cli_*.py); holds no tests.

- cli(bootstrap, *args): run target/release/runnel with bounded time; stdout, stderr, exit.
- kafka_topics(bootstrap, *args): Kafka's own kafka-topics.sh (TopicCommand) on the same broker.
- Test data through kafka-python (.venv): topics, records with chosen timestamps, a group
  that committed and left (Empty), and an ActiveMember thread that keeps a group Stable.
- Table helpers: Kafka's tools print fixed-width tables whose widths depend on the data,
  so comparisons split rows on whitespace (`rows`) and sort them where Kafka's order is a
  HashMap's.
- eventually(): a bounded poll, for what Kafka's brokers learn asynchronously (a new topic,
  a config change).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.admin import NewTopic

from harness.java_tools import run_tool
from harness.paths import RUNNEL_BIN
from harness.process import _die_with_parent

CLI_TIMEOUT_S = 60.0
TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"
EVENTUALLY_S = 30.0
POLL_S = 0.2
JOIN_WAIT_S = 30.0
MEMBER_POLL_MS = 200
MEMBER_STOP_WAIT_S = 30.0
# Short sessions so a member that is gone frees its group quickly.
MEMBER_OPTIONS = dict(session_timeout_ms=10000, heartbeat_interval_ms=500, max_poll_interval_ms=30000)


@dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (f"$ runnel {' '.join(self.args)}\nexit {self.returncode}\n--- stdout ---\n{self.stdout}"
                f"--- stderr ---\n{self.stderr}")


def cli(bootstrap: str | None, *args: str, env: dict[str, str] | None = None, timeout_s: float = CLI_TIMEOUT_S) -> CliResult:
    """runnel ARGS with -b BOOTSTRAP (unless None); RUNNEL_BROKERS only from `env`."""
    full = [*args] + (["-b", bootstrap] if bootstrap is not None else [])
    run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NO_COLOR": "1", **(env or {})}
    try:
        res = subprocess.run([str(RUNNEL_BIN), *full], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=timeout_s, env=run_env, preexec_fn=_die_with_parent)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"runnel {' '.join(full)} timed out after {timeout_s:.0f}s: {e.stdout!r} {e.stderr!r}") from None
    return CliResult(full, res.returncode, res.stdout, res.stderr)


def ok(bootstrap: str | None, *args: str, **kwargs) -> CliResult:
    """cli(...) that must exit 0 with nothing on stderr but notes."""
    res = cli(bootstrap, *args, **kwargs)
    assert res.returncode == 0, res.describe()
    assert "runnel:" not in res.stderr, res.describe()
    return res


def failure_line(res: CliResult) -> str:
    """The one `runnel: <error>` line a failed command prints; asserts the shape."""
    assert res.returncode != 0, res.describe()
    lines = [line for line in res.stderr.splitlines() if line.startswith("runnel: ")]
    assert len(lines) == 1, res.describe()
    return lines[0]


def kafka_topics(bootstrap: str, *args: str):
    return run_tool(TOPIC_COMMAND, ["--bootstrap-server", bootstrap, *args])


def eventually(what: str, check, timeout_s: float = EVENTUALLY_S):
    """Calls check() until it returns something truthy (returned), at most timeout_s."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(POLL_S)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}; last: {last!r}")


# --------------------------------------------------------------------------- data


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        admin.close()
    eventually(f"{topic} to have {partitions} partitions",
               lambda: _partition_count(bootstrap, topic) == partitions)


def _partition_count(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        return len(consumer.partitions_for_topic(topic) or ())
    finally:
        consumer.close()


def produce(bootstrap: str, topic: str, counts: dict[int, int], timestamp_ms: int) -> None:
    """counts[partition] records per partition, all with this timestamp; acks=all."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        futures = [producer.send(topic, value=f"p{p}-{i}".encode(), partition=p, timestamp_ms=timestamp_ms)
                   for p, n in counts.items() for i in range(n)]
        producer.flush(timeout=30)
        for f in futures:
            f.get(timeout=30)
    finally:
        producer.close()


def commit_and_leave(bootstrap: str, group: str, topic: str, offsets: dict[int, int], client_id: str) -> None:
    """A member joins `group` (subscribed to `topic`), commits `offsets` and leaves: the
    group is then Empty with those committed offsets."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, client_id=client_id,
                             enable_auto_commit=False, auto_offset_reset="earliest", **MEMBER_OPTIONS)
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + JOIN_WAIT_S
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(timeout_ms=MEMBER_POLL_MS)
        assert consumer.assignment(), f"{group} got no assignment"
        consumer.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()})
    finally:
        consumer.close()


class ActiveMember:
    """One kafka-python member polling in a thread, so its group stays Stable. It commits
    `offsets` once assigned and never again (auto-commit off): lag stays what the test set."""

    def __init__(self, bootstrap: str, group: str, topic: str, offsets: dict[int, int], client_id: str):
        self.group, self.topic, self.offsets = group, topic, offsets
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, client_id=client_id,
                                      enable_auto_commit=False, auto_offset_reset="latest", **MEMBER_OPTIONS)
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ready.wait(JOIN_WAIT_S):
            self.close()
            raise AssertionError(f"{group}: no assignment within {JOIN_WAIT_S}s ({self.error!r})")

    def _run(self) -> None:
        try:
            self.consumer.subscribe([self.topic])
            while not self.stop.is_set():
                self.consumer.poll(timeout_ms=MEMBER_POLL_MS)
                if not self.ready.is_set() and self.consumer.assignment():
                    self.consumer.commit({TopicPartition(self.topic, p): OffsetAndMetadata(o, "", -1)
                                          for p, o in self.offsets.items()})
                    self.ready.set()
        except BaseException as e:  # noqa: BLE001 - reported by the test through .error
            self.error = e
        finally:
            self.consumer.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(MEMBER_STOP_WAIT_S)


# --------------------------------------------------------------------------- tables


def rows(text: str) -> list[list[str]]:
    """Every non-blank line split on whitespace."""
    return [line.split() for line in text.splitlines() if line.strip()]


def table(text: str, drop: tuple[str, ...] = ()) -> tuple[list[str], list[tuple[str, ...]]]:
    """(header, sorted rows) of a one-header table, without the named columns. Every
    header line in the text (one per group) is dropped but the first."""
    lines = rows(text)
    assert lines, f"no table in {text!r}"
    header = lines[0]
    keep = [i for i, name in enumerate(header) if name not in drop]
    body = [tuple(r[i] for i in keep) for r in lines[1:] if r != header]
    return [header[i] for i in keep], sorted(body)
