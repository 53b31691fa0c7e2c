"""ListOffsets v1-v7 and OffsetForLeaderEpoch v2-v4, raw and through kafka-python's
consumer, against both brokers.

What Kafka 4.1.1 answers, and so what these tests assert on both brokers:
- -2 (earliest): the log start offset; -1 (latest): the log end offset; both with
  timestamp -1 and, from v4, leader epoch 0.
- A timestamp: the first offset whose record timestamp is >= the target, with that
  record's timestamp (records inside a batch need not be in timestamp order; the answer is
  the first OFFSET that qualifies). A target after every record: offset -1, timestamp -1.
- -3 (max timestamp, v7+): the offset and timestamp of the record with the largest
  timestamp (not the last record); on an empty partition offset -1. Below v7, -3 is
  answered 35 UNSUPPORTED_VERSION, as are -4 and -5 (earliest-local, latest-tiered) at v7.
- Unknown topic or partition: 3.
- OffsetForLeaderEpoch for epoch 0 (the only epoch of a single node): leader epoch 0 and
  end offset = log end; an epoch never seen: leader epoch -1, end offset -1.
"""

from __future__ import annotations

import socket

import pytest
from kafka import KafkaConsumer, TopicPartition

from harness import wire
from harness import wire_protocol as wp
from harness.wire_protocol import BatchRecord

LIST_OFFSETS_VERSIONS = list(range(1, 8))
BASE_TS = 1_700_000_000_000
CLIENT_TIMEOUT_MS = 20000
# Offsets 0-9 in five batches, timestamps BASE_TS + offset seconds; then one batch whose two
# records are out of timestamp order: offset 10 at +50 s, offset 11 at +20 s.
ORDERED_RECORDS = 10
UNORDERED = [(10, BASE_TS + 50_000), (11, BASE_TS + 20_000)]
LOG_END = 12
MAX_TS_OFFSET, MAX_TS = 10, BASE_TS + 50_000


def connect(broker) -> socket.socket:
    return wire.connect(broker.bootstrap)


def produce_timestamped(broker, topic: str) -> None:
    with connect(broker) as s:
        for first in range(0, ORDERED_RECORDS, 2):
            recs = [BatchRecord(b"k", b"v%d" % o, BASE_TS + 1000 * o) for o in (first, first + 1)]
            res = wp.produce(s, topic, 0, wp.batch(recs))
            assert (res.error_code, res.base_offset) == (wp.ERROR_NONE, first), res
        res = wp.produce(s, topic, 0, wp.batch([BatchRecord(b"k", b"v%d" % o, ts) for o, ts in UNORDERED]))
        assert (res.error_code, res.base_offset) == (wp.ERROR_NONE, ORDERED_RECORDS), res


@pytest.fixture
def timestamped_topic(broker, topic) -> str:
    wp.create_topic(broker.bootstrap, topic)
    produce_timestamped(broker, topic)
    return topic


def expected_epoch(version: int) -> int:
    return 0 if version >= 4 else -1


@pytest.mark.parametrize("version", LIST_OFFSETS_VERSIONS)
def test_earliest_and_latest(broker, timestamped_topic, version):
    with connect(broker) as s:
        earliest = wp.list_offsets(s, timestamped_topic, 0, wp.EARLIEST_TIMESTAMP, version=version)
        latest = wp.list_offsets(s, timestamped_topic, 0, wp.LATEST_TIMESTAMP, version=version)
    assert earliest == wp.ListOffsetsResult(wp.ERROR_NONE, -1, 0, expected_epoch(version)), earliest
    assert latest == wp.ListOffsetsResult(wp.ERROR_NONE, -1, LOG_END, expected_epoch(version)), latest


# target offset -> expected (offset, timestamp) of the first record at or after it
BY_TIMESTAMP = {
    "before-all": (BASE_TS - 5000, (0, BASE_TS)),
    "exact-first": (BASE_TS, (0, BASE_TS)),
    "between-records": (BASE_TS + 2500, (3, BASE_TS + 3000)),
    "exact-mid-batch": (BASE_TS + 5000, (5, BASE_TS + 5000)),
    "last-ordered": (BASE_TS + 9000, (9, BASE_TS + 9000)),
    # Offset 10 (+50 s) is the first offset whose timestamp reaches +20 s or +30 s.
    "unordered-batch-low": (BASE_TS + 20_000, (10, BASE_TS + 50_000)),
    "unordered-batch-mid": (BASE_TS + 30_000, (10, BASE_TS + 50_000)),
    "exact-max": (BASE_TS + 50_000, (10, BASE_TS + 50_000)),
}


@pytest.mark.parametrize("version", LIST_OFFSETS_VERSIONS)
def test_by_timestamp_finds_first_offset_at_or_after_target(broker, timestamped_topic, version):
    with connect(broker) as s:
        got = {case: wp.list_offsets(s, timestamped_topic, 0, target, version=version)
               for case, (target, _) in BY_TIMESTAMP.items()}
        after_all = wp.list_offsets(s, timestamped_topic, 0, BASE_TS + 60_000, version=version)
    want = {case: wp.ListOffsetsResult(wp.ERROR_NONE, ts, off, expected_epoch(version))
            for case, (_, (off, ts)) in BY_TIMESTAMP.items()}
    assert got == want
    assert after_all == wp.ListOffsetsResult(wp.ERROR_NONE, -1, -1, -1), after_all


def test_max_timestamp_v7_finds_the_record_with_the_largest_timestamp(broker, timestamped_topic):
    with connect(broker) as s:
        res = wp.list_offsets(s, timestamped_topic, 0, wp.MAX_TIMESTAMP, version=7)
    assert res == wp.ListOffsetsResult(wp.ERROR_NONE, MAX_TS, MAX_TS_OFFSET, 0), res


def test_max_timestamp_and_timestamps_on_an_empty_partition_find_nothing(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    with connect(broker) as s:
        max_ts = wp.list_offsets(s, topic, 0, wp.MAX_TIMESTAMP, version=7)
        by_ts = wp.list_offsets(s, topic, 0, 0, version=7)
    assert max_ts == wp.ListOffsetsResult(wp.ERROR_NONE, -1, -1, -1), max_ts
    assert by_ts == wp.ListOffsetsResult(wp.ERROR_NONE, -1, -1, -1), by_ts


@pytest.mark.parametrize("version,timestamp", [(6, -3), (1, -3), (7, -4), (7, -5)],
                         ids=["max-ts-v6", "max-ts-v1", "earliest-local-v7", "latest-tiered-v7"])
def test_sentinel_newer_than_the_version_gets_unsupported_version(broker, timestamped_topic, version, timestamp):
    with connect(broker) as s:
        res = wp.list_offsets(s, timestamped_topic, 0, timestamp, version=version)
    assert (res.error_code, res.offset) == (wp.ERROR_UNSUPPORTED_VERSION, -1), res


@pytest.mark.parametrize("version", [1, 7])
def test_unknown_topic_or_partition_gets_unknown_topic_or_partition(broker, topic, version):
    wp.create_topic(broker.bootstrap, topic)
    with connect(broker) as s:
        for name, partition in ((topic, 1), (topic, 99), (topic + "-absent", 0)):
            res = wp.list_offsets(s, name, partition, wp.LATEST_TIMESTAMP, version=version)
            assert (res.error_code, res.offset) == (wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION, -1), (name, partition, res)


def test_kafka_python_consumer_offset_lookups(broker, timestamped_topic):
    """The same lookups through a real client (kafka-python 3: ListOffsets at the highest
    version both sides support)."""
    tp = TopicPartition(timestamped_topic, 0)
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False,
                             request_timeout_ms=CLIENT_TIMEOUT_MS)
    try:
        assert consumer.beginning_offsets([tp], timeout_ms=CLIENT_TIMEOUT_MS) == {tp: 0}
        assert consumer.end_offsets([tp], timeout_ms=CLIENT_TIMEOUT_MS) == {tp: LOG_END}
        found = consumer.offsets_for_times({tp: BASE_TS + 2500}, timeout_ms=CLIENT_TIMEOUT_MS)[tp]
        assert (found.offset, found.timestamp) == (3, BASE_TS + 3000), found
        found = consumer.offsets_for_times({tp: BASE_TS + 20_000}, timeout_ms=CLIENT_TIMEOUT_MS)[tp]
        assert (found.offset, found.timestamp) == (10, BASE_TS + 50_000), found
        assert consumer.offsets_for_times({tp: BASE_TS + 60_000}, timeout_ms=CLIENT_TIMEOUT_MS) == {tp: None}
    finally:
        consumer.close()


# --------------------------------------------------------------------------- OffsetForLeaderEpoch


@pytest.mark.parametrize("version", [2, 3, 4])
def test_offset_for_leader_epoch_zero_ends_at_the_log_end(broker, timestamped_topic, version):
    with connect(broker) as s:
        res = wp.offset_for_leader_epoch(s, timestamped_topic, 0, 0, version=version)
        current = wp.offset_for_leader_epoch(s, timestamped_topic, 0, 0, version=version, current_leader_epoch=0)
        unknown_epoch = wp.offset_for_leader_epoch(s, timestamped_topic, 0, 5, version=version)
        absent = wp.offset_for_leader_epoch(s, timestamped_topic + "-absent", 0, 0, version=version)
    assert res == wp.EpochEndOffset(wp.ERROR_NONE, 0, LOG_END), res
    assert current == wp.EpochEndOffset(wp.ERROR_NONE, 0, LOG_END), current
    assert unknown_epoch == wp.EpochEndOffset(wp.ERROR_NONE, -1, -1), unknown_epoch
    assert absent.error_code == wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION, absent


def test_offset_for_leader_epoch_on_an_empty_partition_is_zero(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    with connect(broker) as s:
        res = wp.offset_for_leader_epoch(s, topic, 0, 0)
    assert res == wp.EpochEndOffset(wp.ERROR_NONE, 0, 0), res
