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

import threading
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.admin import NewTopic

from harness.cli import CliResult, cli, eventually, failure_line, ok  # noqa: F401 (the suites import them from here)
from harness.java_tools import run_tool

TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"
JOIN_WAIT_S = 30.0
MEMBER_POLL_MS = 200
MEMBER_STOP_WAIT_S = 30.0
# Short sessions so a member that is gone frees its group quickly.
MEMBER_OPTIONS = dict(session_timeout_ms=10000, heartbeat_interval_ms=500, max_poll_interval_ms=30000)


def kafka_topics(bootstrap: str, *args: str):
    return run_tool(TOPIC_COMMAND, ["--bootstrap-server", bootstrap, *args])


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


def subscribe(consumer: KafkaConsumer, topic: str) -> None:
    """subscribe(), then a metadata round trip before the first poll(): kafka-python 3.0.x
    can otherwise lose its own first rebalance (tests/clients/group_kp.py says how)."""
    consumer.subscribe([topic])
    consumer.topics()


def commit_and_leave(bootstrap: str, group: str, topic: str, offsets: dict[int, int], client_id: str) -> None:
    """A member joins `group` (subscribed to `topic`), commits `offsets` and leaves: the
    group is then Empty with those committed offsets."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, client_id=client_id,
                             enable_auto_commit=False, auto_offset_reset="earliest", **MEMBER_OPTIONS)
    try:
        subscribe(consumer, topic)
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
            subscribe(self.consumer, self.topic)
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
