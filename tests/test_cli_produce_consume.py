"""`runnel produce` and `runnel consume` against Runnel and Apache Kafka.

Every scenario runs on both brokers (the `broker` fixture). Records `runnel produce` writes
are read back with kafka-python and with `runnel consume`; keyed records land where
kafka-python's and Kafka's own console producer put the same keys (murmur2); the text
output is kafka-console-consumer's, byte for byte, and matches a golden copy with
timestamps normalised; group commits (auto, manual, none) are checked with kafka-python's
admin client and `runnel group describe`. Failures must be one `runnel: <error>` line and a non-zero exit.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.partitioner.default import murmur2

from harness.cli import CliResult, eventually, failure_line, ok
from harness.cli import cli as runnel
from harness.java_tools import run_tool, tool_command
from harness.paths import RUNNEL_BIN
from harness.process import _die_with_parent

CLI_TIMEOUT_S = 60.0
EVENTUALLY_S = 30.0
READ_TIMEOUT_S = 30.0
# Long enough for every fetch of a few records to arrive; short enough to keep runs quick.
IDLE_EXIT_MS = "2000"
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
CONSOLE_PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
# A port nothing listens on: connections are refused at once.
CLOSED_BOOTSTRAP = "127.0.0.1:9"
HOUR_MS = 3_600_000
TIMESTAMP = re.compile(r"(CreateTime|LogAppendTime):\d+")
SUMMARY = re.compile(r"^(\d+) records produced to (\S+) \((\d+) failed\): (\d+) bytes in [\d.]+ s, "
                     r"[\d.]+ records/s, [\d.]+ MB/s$", re.M)


def summary(res: CliResult) -> tuple[int, str, int, int]:
    """(delivered, topic, failed, bytes) from the summary line on stderr."""
    found = SUMMARY.findall(res.stderr)
    assert len(found) == 1, res.describe()
    delivered, topic, failed, size = found[0]
    return int(delivered), topic, int(failed), int(size)


def create_topic(bootstrap: str, topic: str, partitions: int, configs: dict[str, str] | None = None) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, partitions, 1, topic_configs=configs or {})])
    finally:
        admin.close()

    def ready() -> bool:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap)
        try:
            return len(consumer.partitions_for_topic(topic) or ()) == partitions
        finally:
            consumer.close()

    eventually(f"{topic} with {partitions} partitions", ready)


def read_all(bootstrap: str, topic: str, count: int) -> list:
    """The first `count` records of every partition of `topic`, through kafka-python."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records = []
        deadline = time.monotonic() + READ_TIMEOUT_S
        while len(records) < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        assert len(records) == count, f"read {len(records)} of {count} records from {topic}"
        return records
    finally:
        consumer.close()


def produce_at(bootstrap: str, topic: str, records: list[tuple[int, int, str]]) -> None:
    """(partition, timestamp_ms, value) records through kafka-python, acks=all."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        futures = [producer.send(topic, value=v.encode(), partition=p, timestamp_ms=ts) for p, ts, v in records]
        producer.flush(timeout=30)
        for f in futures:
            f.get(timeout=30)
    finally:
        producer.close()


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0}


def described(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """Committed offsets as `runnel group describe --format json` shows them."""
    doc = json.loads(ok(bootstrap, "group", "describe", "--group", group, "--format", "json").stdout)
    rows = [row for entry in doc for row in entry["offsets"]]
    return {row["partition"]: row["current_offset"] for row in rows
            if row["topic"] == topic and row["current_offset"] is not None}


def group_state(bootstrap: str, group: str) -> str:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return admin.describe_groups([group])[group]["group_state"]
    finally:
        admin.close()


def key_partition(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def lines_of(res: CliResult) -> list[str]:
    return res.stdout.splitlines()


# --------------------------------------------------------------------------- produce


@pytest.mark.parametrize("codec", CODECS)
def test_produce_keys_headers_and_codec_read_back(broker, topic, codec):
    bs = broker.bootstrap
    create_topic(bs, topic, 3)
    count = 60
    text = "".join(f"key-{i}\tvalue {i}\n" for i in range(count))
    res = ok(bs, "produce", topic, "--parse-key", "-H", "trace=t1", "-H", "source=cli", "-H", "trace=t2",
             "--compression", codec, stdin=text)
    assert res.stdout == ""
    delivered, named, failed, size = summary(res)
    headers = [("trace", b"t1"), ("source", b"cli"), ("trace", b"t2")]
    payload = sum(len(f"key-{i}") + len(f"value {i}") for i in range(count)) + count * sum(len(k) + len(v) for k, v in headers)
    assert (delivered, named, failed, size) == (count, topic, 0, payload)

    records = read_all(bs, topic, count)
    by_key = {r.key.decode(): r for r in records}
    assert sorted(by_key) == sorted(f"key-{i}" for i in range(count))
    for i in range(count):
        r = by_key[f"key-{i}"]
        assert r.value == f"value {i}".encode()
        assert [(k, v) for k, v in r.headers] == headers
        assert r.partition == key_partition(r.key, 3), f"key-{i}"

    consumed = ok(bs, "consume", topic, "--from-beginning", "-n", str(count), "--format", "json")
    objects = [json.loads(line) for line in lines_of(consumed)]
    assert len(objects) == count
    ours = sorted((o["partition"], o["offset"], o["key"], o["value"], tuple((h["key"], h["value"]) for h in o["headers"]))
                  for o in objects)
    theirs = sorted((r.partition, r.offset, r.key.decode(), r.value.decode(),
                     tuple((k, v.decode()) for k, v in r.headers)) for r in records)
    assert ours == theirs
    assert f"Processed a total of {count} messages" in consumed.stderr


def test_key_to_partition_agrees_with_kafka_console_producer(broker, topic):
    bs = broker.bootstrap
    partitions = 7
    ours_topic, theirs_topic = f"{topic}-runnel", f"{topic}-console"
    create_topic(bs, ours_topic, partitions)
    create_topic(bs, theirs_topic, partitions)
    keys = [f"user-{i}" for i in range(100)] + ["", "ключ", "a:b"]
    text = "".join(f"{k}:v\n" for k in keys)
    ok(bs, "produce", ours_topic, "--parse-key", "--key-separator", ":", stdin=text)
    cmd = tool_command(CONSOLE_PRODUCER, ["--bootstrap-server", bs, "--topic", theirs_topic,
                                          "--property", "parse.key=true", "--property", "key.separator=:"])
    java = subprocess.run(cmd, input=text.encode(), capture_output=True, timeout=CLI_TIMEOUT_S, preexec_fn=_die_with_parent)
    assert java.returncode == 0, java.stderr.decode(errors="replace")

    ours = {r.key: r.partition for r in read_all(bs, ours_topic, len(keys))}
    theirs = {r.key: r.partition for r in read_all(bs, theirs_topic, len(keys))}
    # "a:b" splits at the first separator, as parse.key does.
    assert set(ours) == {k.split(":")[0].encode() for k in keys}
    assert ours == theirs
    assert ours == {k: key_partition(k, partitions) for k in ours}
    assert len(set(ours.values())) == partitions


def test_fixed_key_partition_and_acks(broker, topic):
    bs = broker.bootstrap
    create_topic(bs, topic, 4)
    ok(bs, "produce", topic, "--key", "same", "--acks", "1", "--linger-ms", "20", stdin="a\nb\nc\n")
    ok(bs, "produce", topic, "--partition", "3", "--acks", "0", stdin="d\n")
    ok(bs, "produce", topic, "--file", "/dev/null")
    records = read_all(bs, topic, 4)
    keyed = [r for r in records if r.key == b"same"]
    assert [r.value for r in keyed] == [b"a", b"b", b"c"]
    assert {r.partition for r in keyed} == {key_partition(b"same", 4)}
    unkeyed = [r for r in records if r.key is None]
    assert [(r.partition, r.value) for r in unkeyed] == [(3, b"d")]


def test_failed_records_are_each_reported_and_fail_the_run(broker, topic):
    bs = broker.bootstrap
    create_topic(bs, topic, 1, {"max.message.bytes": "1000"})
    big = "x" * 5000
    text = f"a:small-1\nb:{big}\nno separator here\nc:small-2\n"
    res = runnel(bs, "produce", topic, "--parse-key", "--key-separator", ":", stdin=text)
    assert res.returncode != 0, res.describe()
    errors = [line for line in res.stderr.splitlines() if line.startswith("runnel: ")]
    assert len(errors) == 3, res.describe()
    assert errors[-1] == "runnel: 2 of 4 records failed", res.describe()
    assert any("line 2" in e and "MESSAGE_TOO_LARGE" in e for e in errors), res.describe()
    assert any("line 3" in e and "separator" in e for e in errors), res.describe()
    delivered, _, failed, _ = summary(res)
    assert (delivered, failed) == (2, 2)
    assert [r.value for r in read_all(bs, topic, 2)] == [b"small-1", b"small-2"]


def test_large_input_from_a_file(broker, topic, tmp_path):
    bs = broker.bootstrap
    create_topic(bs, topic, 3)
    count = 50_000
    path = tmp_path / "input.txt"
    path.write_text("".join(f"record {i:06d}\n" for i in range(count)))
    res = ok(bs, "produce", topic, "--file", str(path), "--compression", "lz4")
    delivered, _, failed, size = summary(res)
    assert (delivered, failed, size) == (count, 0, count * len("record 000000"))
    consumed = ok(bs, "consume", topic, "--from-beginning", "-n", str(count))
    assert sorted(lines_of(consumed)) == [f"record {i:06d}" for i in range(count)]


# --------------------------------------------------------------------------- consume: where to start


def test_offset_forms(broker, topic):
    bs = broker.bootstrap
    create_topic(bs, topic, 2)
    now = int(time.time() * 1000)
    # Per partition: three old records (two hours ago), two recent ones (ten minutes ago).
    stamps = [now - 2 * HOUR_MS + i for i in range(3)] + [now - 600_000 + i for i in range(2)]
    produce_at(bs, topic, [(p, ts, f"p{p}-{i}") for p in range(2) for i, ts in enumerate(stamps)])

    def values(*args: str) -> list[str]:
        return sorted(lines_of(ok(bs, "consume", topic, *args, "--timeout-ms", IDLE_EXIT_MS)))

    everything = sorted(f"p{p}-{i}" for p in range(2) for i in range(5))
    assert values("--from-beginning") == everything
    assert values("-o", "start") == everything
    assert values("-o", "end") == []
    assert values() == []
    assert values("-o", "3") == ["p0-3", "p0-4", "p1-3", "p1-4"]
    assert values("-o", "99") == []
    assert values("-o", "-1") == ["p0-4", "p1-4"]
    assert values("-o", "-50") == everything
    assert values("-o", f"@{stamps[3]}") == ["p0-3", "p0-4", "p1-3", "p1-4"]
    assert values("-o", f"@{stamps[1]}") == ["p0-1", "p0-2", "p0-3", "p0-4", "p1-1", "p1-2", "p1-3", "p1-4"]
    assert values("-o", "@-1h") == ["p0-3", "p0-4", "p1-3", "p1-4"]
    assert values("-o", "@-3h") == everything
    assert values("-o", f"@{now + HOUR_MS}") == []
    assert values("-o", "-2", "--partition", "1") == ["p1-3", "p1-4"]
    assert values("--from-beginning", "-p", "0", "-p", "1") == everything


def test_offset_end_reads_only_new_records(broker, topic):
    bs = broker.bootstrap
    create_topic(bs, topic, 1)
    ok(bs, "produce", topic, stdin="old-1\nold-2\n")
    proc = subprocess.Popen([str(RUNNEL_BIN), "consume", topic, "-o", "end", "-n", "1", "-b", bs],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_die_with_parent)
    try:
        deadline = time.monotonic() + EVENTUALLY_S
        i = 0
        while proc.poll() is None and time.monotonic() < deadline:
            ok(bs, "produce", topic, stdin=f"new-{i}\n")
            i += 1
            time.sleep(0.5)
        out, err = proc.communicate(timeout=EVENTUALLY_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.decode()
    assert re.fullmatch(r"new-\d+\n", out.decode()), out.decode()


# --------------------------------------------------------------------------- consume: groups


def produce_spread(bs: str, topic: str, per_partition: int, partitions: int = 2) -> list[str]:
    produce_at(bs, topic, [(p, int(time.time() * 1000), f"p{p}-{i}") for p in range(partitions) for i in range(per_partition)])
    return [f"p{p}-{i}" for p in range(partitions) for i in range(per_partition)]


@pytest.mark.parametrize("mode", ["auto", "manual", "none"])
def test_group_commit_modes(broker, topic, mode):
    bs = broker.bootstrap
    group = f"{topic}-g"
    create_topic(bs, topic, 2)
    everything = produce_spread(bs, topic, 5)

    first = ok(bs, "consume", topic, "-g", group, "--from-beginning", "-n", "6", "--commit", mode,
               "--print-partition", "--print-offset")
    printed = lines_of(first)
    assert len(printed) == 6, first.describe()
    # Positions after what was printed, per partition: exactly what a commit may store.
    after: dict[int, int] = {}
    for line in printed:
        partition, offset, _ = line.split("\t")
        after[int(partition.split(":")[1])] = int(offset.split(":")[1]) + 1
    eventually("the group to be empty", lambda: group_state(bs, group) == "Empty")
    stored = committed(bs, group, topic)
    if mode == "none":
        assert stored == {}
    else:
        assert {p: o for p, o in stored.items() if o > 0} == after
        assert sum(stored.values()) == 6
        assert described(bs, group, topic) == stored

    rest = 4 if mode != "none" else 10
    second = ok(bs, "consume", topic, "-g", group, "--from-beginning", "-n", str(rest), "--commit", mode)
    seen = [line.split("\t")[-1] for line in printed]
    if mode == "none":
        assert sorted(lines_of(second)) == sorted(everything)
        assert committed(bs, group, topic) == {}
    else:
        assert sorted(seen + lines_of(second)) == sorted(everything)
        eventually("the group to be empty", lambda: group_state(bs, group) == "Empty")
        assert committed(bs, group, topic) == {0: 5, 1: 5}
        assert described(bs, group, topic) == {0: 5, 1: 5}


def test_group_offset_only_places_partitions_without_a_commit(broker, topic):
    bs = broker.bootstrap
    group = f"{topic}-g"
    create_topic(bs, topic, 2)
    produce_spread(bs, topic, 3)
    first = ok(bs, "consume", topic, "-g", group, "-o", "-1", "-n", "2")
    assert sorted(lines_of(first)) == ["p0-2", "p1-2"]
    eventually("the group to be empty", lambda: group_state(bs, group) == "Empty")
    assert committed(bs, group, topic) == {0: 3, 1: 3}
    produce_at(bs, topic, [(0, int(time.time() * 1000), "p0-new"), (1, int(time.time() * 1000), "p1-new")])
    # The group's commits win over -o: only the records after them.
    second = ok(bs, "consume", topic, "-g", group, "-o", "-3", "-n", "2")
    assert sorted(lines_of(second)) == ["p0-new", "p1-new"]


def test_sigterm_commits_and_leaves_the_group(broker, topic):
    bs = broker.bootstrap
    group = f"{topic}-g"
    create_topic(bs, topic, 2)
    produce_spread(bs, topic, 4)
    proc = subprocess.Popen([str(RUNNEL_BIN), "consume", topic, "-g", group, "--from-beginning", "-b", bs],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_die_with_parent)
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, b"")), daemon=True)
    reader.start()
    try:
        eventually("8 printed records", lambda: len(lines) >= 8)
        eventually("a stable group", lambda: group_state(bs, group) == "Stable")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=EVENTUALLY_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=EVENTUALLY_S)
    err = proc.stderr.read().decode()
    assert proc.returncode == 0, err
    assert "Processed a total of 8 messages" in err
    # Leaving (not a session expiry, 45 s by default) empties the group at once.
    eventually("the group to be empty", lambda: group_state(bs, group) == "Empty", timeout_s=10)
    assert committed(bs, group, topic) == {0: 4, 1: 4}


# --------------------------------------------------------------------------- output

GOLDEN_ALL_FIELDS = (
    "CreateTime:<ts>|Partition:0|Offset:0|h1:a,h2:b|k1|first value\n"
    "CreateTime:<ts>|Partition:0|Offset:1|h1:a,h2:b|k2|second\tvalue\n"
    "CreateTime:<ts>|Partition:0|Offset:2|NO_HEADERS|null|unkeyed\n"
)
GOLDEN_KEY_ONLY = "k1\tfirst value\nk2\tsecond\tvalue\nnull\tunkeyed\n"
PRINT_ALL = ["--print-timestamp", "--print-partition", "--print-offset", "--print-headers", "--print-key"]


def test_text_output_matches_golden_and_kafka_console_consumer(broker, topic):
    bs = broker.bootstrap
    create_topic(bs, topic, 1)
    ok(bs, "produce", topic, "--parse-key", "-H", "h1=a", "-H", "h2=b", stdin="k1\tfirst value\nk2\tsecond\tvalue\n")
    ok(bs, "produce", topic, stdin="unkeyed\n")

    ours = ok(bs, "consume", topic, "--from-beginning", "-n", "3", *PRINT_ALL, "--key-separator", "|").stdout
    assert TIMESTAMP.sub(r"\1:<ts>", ours) == GOLDEN_ALL_FIELDS
    assert ok(bs, "consume", topic, "--from-beginning", "-n", "3", "--print-key").stdout == GOLDEN_KEY_ONLY

    props = ["print.timestamp", "print.partition", "print.offset", "print.headers", "print.key"]
    java = run_tool(CONSOLE_CONSUMER, ["--bootstrap-server", bs, "--topic", topic, "--from-beginning",
                                       "--max-messages", "3", "--timeout-ms", "30000",
                                       *[a for p in props for a in ("--property", f"{p}=true")],
                                       "--property", "key.separator=|"])
    assert java.returncode == 0, java.describe()
    assert ours == java.stdout


def test_json_output(broker, topic):
    bs = broker.bootstrap
    create_topic(bs, topic, 1)
    ok(bs, "produce", topic, "--key", "k", "-H", "h=1", "-H", "h=2", stdin='v "quoted"\n')
    ok(bs, "produce", topic, stdin="plain\n")
    res = ok(bs, "consume", topic, "-o", "start", "-n", "2", "--format", "json")
    objects = [json.loads(line) for line in lines_of(res)]
    for o in objects:
        assert isinstance(o.pop("timestamp"), int)
    assert objects == [
        {"topic": topic, "partition": 0, "offset": 0, "timestamp_type": "CreateTime", "key": "k",
         "value": 'v "quoted"', "headers": [{"key": "h", "value": "1"}, {"key": "h", "value": "2"}]},
        {"topic": topic, "partition": 0, "offset": 1, "timestamp_type": "CreateTime", "key": None,
         "value": "plain", "headers": []},
    ]


def test_several_topics_in_one_run(broker, topic):
    bs = broker.bootstrap
    a, b = f"{topic}-a", f"{topic}-b"
    create_topic(bs, a, 1)
    create_topic(bs, b, 2)
    ok(bs, "produce", a, stdin="from-a\n")
    ok(bs, "produce", b, "--partition", "1", stdin="from-b\n")
    res = ok(bs, "consume", a, b, "--from-beginning", "-n", "2", "--format", "json")
    assert sorted((o["topic"], o["partition"], o["value"]) for o in map(json.loads, lines_of(res))) == \
        [(a, 0, "from-a"), (b, 1, "from-b")]


# --------------------------------------------------------------------------- failures and help


def test_failures_are_one_line(broker, topic):
    bs = broker.bootstrap
    create_topic(bs, topic, 2)
    missing = f"{topic}-missing"
    cases = [
        (("consume", missing, "--from-beginning", "--timeout-ms", "1000"), f"runnel: Topic '{missing}' does not exist"),
        (("consume", topic, "-o", "soon"), 'runnel: invalid offset "soon"'),
        (("consume", topic, "--partition", "5"), f"runnel: topic {topic} has no partition 5 (it has 2)"),
        (("consume", topic, "--commit", "manual"), "runnel: --commit manual needs --group"),
        (("consume", topic, "-g", "g", "--partition", "0"), "runnel: the argument"),
    ]
    for args, start in cases:
        line = failure_line(runnel(bs, *args))
        assert line.startswith(start), (args, line)
    line = failure_line(runnel(bs, "produce", topic, "--partition", "9", stdin="x\n"))
    assert line == f"runnel: topic {topic} has no partition 9 (it has 2)"
    line = failure_line(runnel(bs, "produce", topic, "--file", "/nonexistent/input.txt"))
    assert "/nonexistent/input.txt" in line
    line = failure_line(runnel(bs, "produce", topic, "-H", "novalue", stdin="x\n"))
    assert "novalue" in line


def test_unreachable_broker_is_one_line():
    for args in (["produce", "t"], ["consume", "t"]):
        line = failure_line(runnel(CLOSED_BOOTSTRAP, *args, stdin="x\n"))
        assert CLOSED_BOOTSTRAP in line, line


def test_help_shows_examples():
    for command in ("produce", "consume"):
        res = subprocess.run([str(RUNNEL_BIN), command, "--help"], capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
        assert res.returncode == 0, res.stderr
        assert "Examples:" in res.stdout and f"runnel {command} " in res.stdout, res.stdout
        for flag in ("--bootstrap-server", "--command-config", "--format"):
            assert flag in res.stdout, (command, flag)


def test_command_config_supplies_producer_and_consumer_settings(broker, topic, tmp_path):
    """--command-config is a Kafka client.properties for every role: the producer reads its
    keys (max.request.size) and the consumer its own (group.id, group.instance.id) from it."""
    producer_props = tmp_path / "producer.properties"
    producer_props.write_text("max.request.size=1000\n")
    res = runnel(broker.bootstrap, "produce", topic, "--command-config", str(producer_props), stdin="x" * 2000 + "\n")
    assert res.returncode != 0 and "max.request.size" in res.stderr, res.describe()

    ok(broker.bootstrap, "produce", topic, stdin="small\n")
    group = f"{topic}-g"
    consumer_props = tmp_path / "consumer.properties"
    consumer_props.write_text(f"group.id={group}\ngroup.instance.id=static-cli-1\n")
    ok(broker.bootstrap, "consume", topic, "--command-config", str(consumer_props), "--from-beginning", "-n", "1")
    described = json.loads(ok(broker.bootstrap, "group", "describe", "--group", group, "--format", "json").stdout)
    assert [row["current_offset"] for row in described[0]["offsets"] if row["topic"] == topic] == [1], described
