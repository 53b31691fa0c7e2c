"""Behaviour that depends on broker settings, on private brokers of both kinds: automatic
topic creation (on with num.partitions, and off), and retention by size and by time over
small segments.

What Kafka 4.1.1 does, and so what these tests assert on both brokers:
- auto.create.topics.enable=true: Metadata (v1, or v4+ with allow_auto_topic_creation)
  for an unknown topic creates it with num.partitions partitions.
- auto.create.topics.enable=false: Metadata answers 3 whatever the request allows, and
  nothing is created.
- Topic-level segment.bytes must be at least 1 MiB in Kafka 4, so the retention tests
  write 100 kB batches into 1 MiB segments (ten batches a segment). With retention.bytes
  1 MiB and three segments, the oldest segment goes and the log start offset becomes 10
  within a bounded wait; with retention.ms 1 h and every record stamped 2 h ago, every
  segment goes (Kafka rolls the active one first) and the log start is the log end.
  Records below the log start are gone: fetching them gives OFFSET_OUT_OF_RANGE, and the
  log keeps taking and serving new records at the old log end.
"""

from __future__ import annotations

import socket
import time

import pytest

from harness import BROKER_KINDS, make_broker, wire
from harness import wire_protocol as wp
from harness.fixtures import serve_shared
from harness.wire_protocol import BatchRecord

AUTO_CREATE_PARTITIONS = 3
RETENTION_CHECK_INTERVAL_MS = 200
SEGMENT_BYTES = 1024 * 1024  # Kafka 4's minimum segment.bytes
VALUE_BYTES = 100_000
BATCHES_PER_SEGMENT = 10  # 10 x ~100 kB fit in 1 MiB, the 11th rolls
SEGMENTS = 3
RETENTION_WAIT_S = 30.0
# Retention runs every RETENTION_CHECK_INTERVAL_MS; after the log start first moves, a few
# more runs must leave it where Kafka leaves it.
SETTLE_S = 10 * RETENTION_CHECK_INTERVAL_MS / 1000
HOUR_MS = 3_600_000

TUNED_CONFIG = {
    "num.partitions": AUTO_CREATE_PARTITIONS,
    "log.retention.check.interval.ms": RETENTION_CHECK_INTERVAL_MS,
    # Kafka waits this long after start before its first retention run (default 30 s).
    "log.initial.task.delay.ms": 0,
}


@pytest.fixture(scope="module", params=BROKER_KINDS)
def broker_kind(request) -> str:
    """conftest's broker_kind, module-scoped here so the tuned broker below can be shared by
    the module's tests (and `--broker` still selects by it)."""
    return request.param


@pytest.fixture(scope="module")
def tuned_broker(broker_kind, tmp_path_factory):
    b = make_broker(broker_kind, TUNED_CONFIG, workdir=tmp_path_factory.mktemp(f"{broker_kind}-tuned"))
    try:
        b.start()
        yield b
    finally:
        b.close(remove_workdir=False)


@pytest.fixture
def target(request, tuned_broker):
    yield from serve_shared(request, tuned_broker)


def connect(broker) -> socket.socket:
    return wire.connect(broker.bootstrap)


def wait_topic(broker, name: str, partitions: int, *, version: int | None = None) -> dict:
    """Poll Metadata (auto creation allowed) until the topic has its partitions, all led."""
    deadline = time.monotonic() + wp.READY_WAIT_S
    last = None
    while time.monotonic() < deadline:
        with connect(broker) as s:
            if version is None:
                md = wire.metadata_v1(s, [name]).topics.get(name)
                last = md and {"error": md["error"], "partitions": md["partitions"]}
            else:
                t = wp.metadata(s, [name], version=version).topics.get(name)
                last = t and {"error": t.error_code, "partitions": t.partitions}
        if last and last["error"] == 0 and len(last["partitions"]) == partitions and all(
                err == 0 and leader >= 0 for err, leader in last["partitions"].values()):
            return last
        time.sleep(wp.READY_POLL_S)
    raise AssertionError(f"{name} not auto-created with {partitions} partitions: {last}")


# --------------------------------------------------------------------------- auto creation


@pytest.mark.parametrize("version", [None, 4, 8], ids=["v1", "v4-allow", "v8-allow"])
def test_metadata_auto_creates_unknown_topic_with_num_partitions(target, topic, version):
    wait_topic(target, topic, AUTO_CREATE_PARTITIONS, version=version)
    wp.wait_partitions_ready(target.bootstrap, topic, AUTO_CREATE_PARTITIONS)
    with connect(target) as s:
        res = wp.produce(s, topic, AUTO_CREATE_PARTITIONS - 1, wp.batch([BatchRecord(b"k", b"auto")]))
    assert (res.error_code, res.base_offset) == (wp.ERROR_NONE, 0), res


def test_auto_create_disabled_answers_unknown_topic_and_creates_nothing(broker_kind, broker_factory, topic):
    broker = broker_factory(broker_kind, {"auto.create.topics.enable": "false"})
    with connect(broker) as s:
        v1 = wire.metadata_v1(s, [topic]).topics[topic]
        assert v1["error"] == wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION, v1
        v8 = wp.metadata(s, [topic], version=8, allow_auto_topic_creation=True).topics[topic]
        assert v8.error_code == wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION, v8
        res = wp.produce(s, topic, 0, wp.batch([BatchRecord(b"k", b"v")]))
        assert res.error_code == wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION, res
        time.sleep(wp.READY_POLL_S)
        assert topic not in wp.metadata(s, None).topics


# --------------------------------------------------------------------------- retention


def fill_segments(broker, topic: str, timestamp_ms: int | None = None) -> int:
    """SEGMENTS segments' worth of ~100 kB batches; returns the log end offset."""
    count = SEGMENTS * BATCHES_PER_SEGMENT
    with connect(broker) as s:
        for i in range(count):
            rec = BatchRecord(b"k", bytes([48 + i % 10]) * VALUE_BYTES, timestamp_ms)
            res = wp.produce(s, topic, 0, wp.batch([rec]))
            assert (res.error_code, res.base_offset) == (wp.ERROR_NONE, i), res
    return count


def offsets(broker, topic: str) -> tuple[int, int]:
    with connect(broker) as s:
        earliest = wp.list_offsets(s, topic, 0, wp.EARLIEST_TIMESTAMP)
        latest = wp.list_offsets(s, topic, 0, wp.LATEST_TIMESTAMP)
    assert earliest.error_code == latest.error_code == wp.ERROR_NONE, (earliest, latest)
    return earliest.offset, latest.offset


def wait_log_start_moves(broker, topic: str) -> int:
    deadline = time.monotonic() + RETENTION_WAIT_S
    start = 0
    while time.monotonic() < deadline:
        start, _ = offsets(broker, topic)
        if start > 0:
            time.sleep(SETTLE_S)
            return offsets(broker, topic)[0]
        time.sleep(RETENTION_CHECK_INTERVAL_MS / 1000)
    raise AssertionError(f"log start offset of {topic} still {start} after {RETENTION_WAIT_S}s")


def assert_below_log_start_is_gone(broker, topic: str, start: int, end: int) -> None:
    with connect(broker) as s:
        for offset in (0, start - 1):
            res = wp.fetch_one(s, topic, 0, offset)
            assert res.error_code == wp.ERROR_OFFSET_OUT_OF_RANGE, (offset, res)
        res = wp.fetch_one(s, topic, 0, start)
        assert res.error_code == wp.ERROR_NONE, res
        assert res.log_start_offset == start, res
        if start < end:
            assert res.batches and res.batches[0].base_offset == start, res.batches[:1]
        # The log goes on at its end.
        res = wp.produce(s, topic, 0, wp.batch([BatchRecord(b"k", b"after retention")]))
        assert (res.error_code, res.base_offset) == (wp.ERROR_NONE, end), res
        res = wp.fetch_one(s, topic, 0, end)
        assert wp.values_of(res.batches) == [b"after retention"], res


def test_retention_bytes_deletes_the_oldest_segment(target, topic):
    wp.create_topic(target.bootstrap, topic, configs={"segment.bytes": str(SEGMENT_BYTES),
                                                      "retention.bytes": str(SEGMENT_BYTES)})
    end = fill_segments(target, topic)
    start = wait_log_start_moves(target, topic)
    # Three segments of ~1 MB against 1 MiB retained: only the oldest can go without
    # dropping below retention.bytes.
    assert offsets(target, topic) == (BATCHES_PER_SEGMENT, end), f"log start {start}"
    assert_below_log_start_is_gone(target, topic, BATCHES_PER_SEGMENT, end)


def test_retention_ms_deletes_every_expired_segment(target, topic):
    wp.create_topic(target.bootstrap, topic, configs={"segment.bytes": str(SEGMENT_BYTES),
                                                      "retention.ms": str(HOUR_MS)})
    end = fill_segments(target, topic, timestamp_ms=int(time.time() * 1000) - 2 * HOUR_MS)
    wait_log_start_moves(target, topic)
    assert offsets(target, topic) == (end, end)
    assert_below_log_start_is_gone(target, topic, end, end)
