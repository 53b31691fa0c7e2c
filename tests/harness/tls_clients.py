"""The seed's user story over SSL with client certificates, with real clients, in-process:
create a 2-partition topic, produce 10 keyed records, consume them in a group with auto
commit, and read back the group's committed offsets.

- kp_user_story / ck_user_story / java_user_story / runnel_user_story(bootstrap, certs, topic,
  group, workdir): kafka-python, confluent-kafka (librdkafka), Kafka's Java console tools and
  the runnel CLI (runnel-client, reading the same Java client.properties); each returns a
  StoryResult with what was produced, consumed and committed.
- tls_socket(bootstrap, certs, cert=..., key=...): a Python ssl socket for wire-level checks.
Every wait is bounded (STORY_TIMEOUT_S).
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

from .certs import Certs, write_client_properties
from .cli import ok
from .java_tools import CONSUMER_GROUP_COMMAND, run_tool

COUNT = 10
PARTITIONS = 2
DISTINCT_KEYS = 5
STORY_TIMEOUT_S = 60.0
AUTO_COMMIT_INTERVAL_MS = 500
POLL_TIMEOUT_MS = 500
TLS_IO_TIMEOUT_S = 10.0
TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"
CONSOLE_PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"


@dataclass
class StoryResult:
    produced: list[tuple[str, str]] = field(default_factory=list)
    consumed: list[tuple[str, str, int, int]] = field(default_factory=list)  # key, value, partition, offset
    committed: dict[int, int] = field(default_factory=dict)  # partition -> committed offset

    def problems(self) -> list[str]:
        out = []
        if sorted(self.produced) != sorted((k, v) for k, v, _, _ in self.consumed):
            out.append(f"consumed {self.consumed} is not exactly produced {self.produced}")
        by_key: dict[str, set[int]] = {}
        for k, _, p, _ in self.consumed:
            by_key.setdefault(k, set()).add(p)
        if any(len(parts) != 1 for parts in by_key.values()):
            out.append(f"a key landed in several partitions: {by_key}")
        ends: dict[int, int] = {}
        for _, _, p, o in self.consumed:
            ends[p] = max(ends.get(p, 0), o + 1)
        if self.committed != ends:
            out.append(f"committed offsets {self.committed} are not the consumed ends {ends}")
        if sum(self.committed.values()) != COUNT:
            out.append(f"committed offsets {self.committed} do not add up to {COUNT}")
        return out


def records(topic: str) -> list[tuple[str, str]]:
    return [(f"key-{i % DISTINCT_KEYS}", f"{topic}-value-{i}") for i in range(COUNT)]


def _deadline_left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"the story did not finish within {STORY_TIMEOUT_S:.0f}s")
    return left


# ---------------------------------------------------------------------------- kafka-python

def kp_ssl(certs: Certs, *, cert: Path | None = None, key: Path | None = None) -> dict:
    return dict(security_protocol="SSL", ssl_cafile=str(certs.ca),
                ssl_certfile=str(cert or certs.client_cert), ssl_keyfile=str(key or certs.client_key))


def kp_user_story(bootstrap: str, certs: Certs, topic: str, group: str, workdir: Path | None = None) -> StoryResult:
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic

    deadline = time.monotonic() + STORY_TIMEOUT_S
    result = StoryResult(produced=records(topic))
    tls = kp_ssl(certs)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(STORY_TIMEOUT_S * 1000), **tls)
    try:
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, **tls)
    try:
        futures = [producer.send(topic, key=k.encode(), value=v.encode()) for k, v in result.produced]
        for f in futures:
            f.get(timeout=_deadline_left(deadline))
    finally:
        producer.close(timeout=TLS_IO_TIMEOUT_S)
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                             enable_auto_commit=True, auto_commit_interval_ms=AUTO_COMMIT_INTERVAL_MS, **tls)
    try:
        while len(result.consumed) < COUNT:
            _deadline_left(deadline)
            for batch in consumer.poll(timeout_ms=POLL_TIMEOUT_MS).values():
                result.consumed += [(r.key.decode(), r.value.decode(), r.partition, r.offset) for r in batch]
    finally:
        consumer.close()  # with auto commit, close() commits what was consumed
    reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, **tls)
    try:
        for p in range(PARTITIONS):
            offset = reader.committed(TopicPartition(topic, p))
            if offset is not None:
                result.committed[p] = offset
    finally:
        reader.close()
    return result


# ---------------------------------------------------------------------------- confluent-kafka

def ck_ssl(certs: Certs) -> dict:
    return {"security.protocol": "SSL", "ssl.ca.location": str(certs.ca),
            "ssl.certificate.location": str(certs.client_cert), "ssl.key.location": str(certs.client_key)}


def ck_user_story(bootstrap: str, certs: Certs, topic: str, group: str, workdir: Path | None = None) -> StoryResult:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    deadline = time.monotonic() + STORY_TIMEOUT_S
    result = StoryResult(produced=records(topic))
    base = {"bootstrap.servers": bootstrap, **ck_ssl(certs)}
    admin = AdminClient(base)
    for future in admin.create_topics([NewTopic(topic, PARTITIONS, 1)]).values():
        future.result(timeout=_deadline_left(deadline))
    producer = Producer(base)
    errors: list[str] = []
    for k, v in result.produced:
        producer.produce(topic, key=k, value=v, on_delivery=lambda err, _msg: err and errors.append(str(err)))
    if producer.flush(_deadline_left(deadline)) != 0 or errors:
        raise AssertionError(f"confluent-kafka produce failed: {errors}")
    consumer = Consumer({**base, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": True,
                         "auto.commit.interval.ms": AUTO_COMMIT_INTERVAL_MS})
    try:
        consumer.subscribe([topic])
        while len(result.consumed) < COUNT:
            msg = consumer.poll(min(POLL_TIMEOUT_MS / 1000, _deadline_left(deadline)))
            if msg is None:
                continue
            if msg.error():
                raise AssertionError(f"confluent-kafka consume error: {msg.error()}")
            result.consumed.append((msg.key().decode(), msg.value().decode(), msg.partition(), msg.offset()))
    finally:
        consumer.close()  # commits the final offsets with auto commit on
    reader = Consumer({**base, "group.id": group, "enable.auto.commit": False})
    try:
        committed = reader.committed([TopicPartition(topic, p) for p in range(PARTITIONS)],
                                     timeout=_deadline_left(deadline))
    finally:
        reader.close()
    result.committed = {tp.partition: tp.offset for tp in committed if tp.offset >= 0}
    return result


# ---------------------------------------------------------------------------- Java tools

_DESCRIBE_ROW = re.compile(r"^\S+\s+(\S+)\s+(\d+)\s+(\d+|-)\s+(\d+|-)\s")


def java_user_story(bootstrap: str, certs: Certs, topic: str, group: str, workdir: Path) -> StoryResult:
    return java_properties_story(bootstrap, write_client_properties(workdir / "client.properties", certs), topic, group)


def java_properties_story(bootstrap: str, props: Path, topic: str, group: str) -> StoryResult:
    """The story through Kafka's console tools, each given the client.properties `props`
    (TLS, SASL or both)."""
    deadline = time.monotonic() + STORY_TIMEOUT_S
    result = StoryResult(produced=records(topic))

    def tool(main_class: str, args: list[str], stdin: str | None = None):
        res = run_tool(main_class, args, timeout_s=_deadline_left(deadline), input_text=stdin)
        assert res.returncode == 0, res.describe()
        return res

    tool(TOPIC_COMMAND, ["--bootstrap-server", bootstrap, "--command-config", str(props), "--create",
                         "--topic", topic, "--partitions", str(PARTITIONS), "--replication-factor", "1"])
    lines = "".join(f"{k}\t{v}\n" for k, v in result.produced)
    tool(CONSOLE_PRODUCER, ["--bootstrap-server", bootstrap, "--producer.config", str(props), "--topic", topic,
                            "--property", "parse.key=true", "--property", "key.separator=\t"], stdin=lines)
    consumed = tool(CONSOLE_CONSUMER, [
        "--bootstrap-server", bootstrap, "--consumer.config", str(props), "--topic", topic, "--group", group,
        "--from-beginning", "--max-messages", str(COUNT), "--timeout-ms", str(int(STORY_TIMEOUT_S * 1000)),
        "--consumer-property", f"auto.commit.interval.ms={AUTO_COMMIT_INTERVAL_MS}",
        "--property", "print.key=true", "--property", "print.partition=true", "--property", "print.offset=true",
        "--property", "key.separator=\t"])
    for line in consumed.stdout.splitlines():
        # "Partition:1\tOffset:0\tkey-1\tvalue" (partition and offset first, then key and value)
        parts = line.split("\t")
        if len(parts) == 4 and parts[0].startswith("Partition:") and parts[1].startswith("Offset:"):
            result.consumed.append((parts[2], parts[3], int(parts[0].split(":")[1]), int(parts[1].split(":")[1])))
    described = tool(CONSUMER_GROUP_COMMAND, ["--bootstrap-server", bootstrap, "--command-config", str(props),
                                              "--describe", "--group", group])
    for line in described.stdout.splitlines():
        m = _DESCRIBE_ROW.match(line)
        if m and m.group(1) == topic and m.group(3) != "-":
            result.committed[int(m.group(2))] = int(m.group(3))
    return result


# ---------------------------------------------------------------------------- runnel CLI

def runnel_user_story(bootstrap: str, certs: Certs, topic: str, group: str, workdir: Path) -> StoryResult:
    deadline = time.monotonic() + STORY_TIMEOUT_S
    props = write_client_properties(workdir / "client.properties", certs)
    result = StoryResult(produced=records(topic))

    def cli(args: list[str], stdin: str | None = None) -> str:
        return ok(bootstrap, *args, "--command-config", str(props), stdin=stdin, timeout_s=_deadline_left(deadline)).stdout

    cli(["topic", "create", topic, "--partitions", str(PARTITIONS), "--replication-factor", "1"])
    cli(["produce", topic, "--parse-key"], stdin="".join(f"{k}\t{v}\n" for k, v in result.produced))
    consumed = cli(["consume", topic, "--group", group, "--from-beginning", "-n", str(COUNT), "--commit", "auto",
                    "--timeout-ms", str(int(STORY_TIMEOUT_S * 1000)), "--format", "json"])
    for line in consumed.splitlines():
        record = json.loads(line)
        result.consumed.append((record["key"], record["value"], record["partition"], record["offset"]))
    for group_info in json.loads(cli(["group", "describe", "--group", group, "--format", "json"])):
        for row in group_info["offsets"]:
            if row["topic"] == topic and row["current_offset"] is not None:
                result.committed[row["partition"]] = row["current_offset"]
    return result


# ---------------------------------------------------------------------------- raw TLS

def tls_socket(bootstrap: str, certs: Certs, *, cert: Path | None = None, key: Path | None = None,
               with_client_cert: bool = True, timeout_s: float = TLS_IO_TIMEOUT_S) -> ssl.SSLSocket:
    """A TLS connection to bootstrap trusting the test CA, with the client certificate unless
    told otherwise. The handshake may succeed even when the broker refuses the certificate
    (TLS 1.3 reports that on the first read)."""
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    if with_client_cert:
        ctx.load_cert_chain(str(cert or certs.client_cert), str(key or certs.client_key))
    host, port = bootstrap.rsplit(":", 1)
    raw = socket.create_connection((host, int(port)), timeout=timeout_s)
    try:
        return ctx.wrap_socket(raw, server_hostname=host)
    except BaseException:
        raw.close()
        raise
