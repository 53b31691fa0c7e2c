"""Fetch over raw requests, against both brokers: long polling, min_bytes, the size limits
(KIP-74), isolation levels, out-of-range offsets and fetch sessions.

What Kafka 4.1.1 does, and so what these tests assert on both brokers:
- A fetch parked on an empty partition (max_wait_ms, min_bytes=1) returns as soon as a
  produce lands; with nothing produced it returns after about max_wait_ms, empty.
- min_bytes above what is there: the fetch waits max_wait_ms, then returns what there is;
  a produce that brings the total over min_bytes ends the wait early.
- A batch larger than partition_max_bytes and max_bytes is still returned whole when it is
  the first data of the response (KIP-74); after that the limits hold (Kafka may append
  a partial batch up to the limit, which readers drop; whole batches never exceed it).
- Large record sets (Runnel sends those of 32 KiB or more from its log files with sendfile)
  come back byte for byte, from several partitions in one response, on every version, and
  a partition limit inside them still gives whole batches only.
- isolation_level=1 without transactions reads up to the high watermark (LSO = HW) and
  answers an empty aborted-transactions list; read_uncommitted answers it null.
- Fetch offset past the log end: 1 OFFSET_OUT_OF_RANGE (high watermark -1 in the error
  partition); at the log end: no error, no records. Unknown topic or partition: 3.
- session_id 0 with epoch 0 (a client asking for a session) gets a full answer; the broker
  may create a session (Kafka does) or decline with session id 0 (Runnel does).
"""

from __future__ import annotations

import random
import socket
import threading
import time

import pytest

from harness import wire
from harness import wire_protocol as wp
from harness.wire_protocol import BatchRecord, FetchPartition

LONG_POLL_MAX_WAIT_MS = 3000
PRODUCE_DELAY_S = 0.3
# A parked fetch must answer well before max_wait once data lands; generous for a loaded
# 2-core machine and a JVM.
WAKEUP_BOUND_S = 2.0
IDLE_MAX_WAIT_MS = 1500
IDLE_EARLY_SLACK_S = 0.2
IDLE_LATE_BOUND_S = 5.0
BIG_VALUE_BYTES = 5000
SMALL_LIMIT_BYTES = 100
# Batches of 3 x 20 KB: each well over the 32 KiB from which Runnel sends from its files.
LARGE_VALUE_BYTES = 20_000
LARGE_BATCH_RECORDS = 3
LARGE_BATCHES = 5
LARGE_PARTITIONS = 3
# Kafka serves the newest Fetch versions it shares with Runnel; 12 is the first flexible one.
FETCH_VERSIONS = [4, 7, 11, 12]


def connect(broker) -> socket.socket:
    return wire.connect(broker.bootstrap)


def produce(broker, topic: str, values: list[bytes], partition: int = 0) -> int:
    with connect(broker) as s:
        res = wp.produce(s, topic, partition, wp.batch([BatchRecord(b"k", v) for v in values]))
    assert res.error_code == wp.ERROR_NONE, res
    return res.base_offset


class TimedFetch:
    """A fetch run on its own thread and connection, timed from just before it is sent."""

    def __init__(self, broker, partitions: list[FetchPartition], **kwargs):
        self.result: wp.FetchResult | None = None
        self.error: BaseException | None = None
        self.elapsed_s: float | None = None
        self.sock = connect(broker)
        self.sock.settimeout(wire.DEFAULT_IO_TIMEOUT_S + LONG_POLL_MAX_WAIT_MS / 1000)
        self.sent = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(partitions, kwargs), daemon=True)
        self.thread.start()
        assert self.sent.wait(wire.DEFAULT_IO_TIMEOUT_S), "fetch thread did not start"

    def _run(self, partitions, kwargs) -> None:
        start = time.monotonic()
        self.sent.set()
        try:
            self.result = wp.fetch(self.sock, partitions, **kwargs)
        except BaseException as e:  # noqa: BLE001 - re-raised in join()
            self.error = e
        self.elapsed_s = time.monotonic() - start

    def join(self) -> wp.FetchResult:
        self.thread.join(wire.DEFAULT_IO_TIMEOUT_S + LONG_POLL_MAX_WAIT_MS / 1000)
        self.sock.close()
        assert not self.thread.is_alive(), "fetch never returned"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


# --------------------------------------------------------------------------- long polling


def test_parked_fetch_returns_soon_after_a_produce_lands(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    pending = TimedFetch(broker, [FetchPartition(topic, 0, 0)], max_wait_ms=LONG_POLL_MAX_WAIT_MS, min_bytes=1)
    time.sleep(PRODUCE_DELAY_S)
    produce(broker, topic, [b"wake up"])
    res = pending.join()
    part = res.partitions[(topic, 0)]
    assert part.error_code == wp.ERROR_NONE, part
    assert wp.values_of(part.batches) == [b"wake up"], part
    assert PRODUCE_DELAY_S * 0.8 <= pending.elapsed_s < WAKEUP_BOUND_S, (
        f"fetch returned after {pending.elapsed_s:.2f}s; produce landed at ~{PRODUCE_DELAY_S}s, "
        f"max_wait {LONG_POLL_MAX_WAIT_MS} ms")


def test_parked_fetch_without_data_returns_after_max_wait(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    pending = TimedFetch(broker, [FetchPartition(topic, 0, 0)], max_wait_ms=IDLE_MAX_WAIT_MS, min_bytes=1)
    res = pending.join()
    part = res.partitions[(topic, 0)]
    assert (part.error_code, part.high_watermark, part.batches) == (wp.ERROR_NONE, 0, []), part
    assert IDLE_MAX_WAIT_MS / 1000 - IDLE_EARLY_SLACK_S <= pending.elapsed_s < IDLE_LATE_BOUND_S, pending.elapsed_s


def test_min_bytes_above_what_is_there_waits_then_returns_what_there_is(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    produce(broker, topic, [b"only this"])
    pending = TimedFetch(broker, [FetchPartition(topic, 0, 0)], max_wait_ms=IDLE_MAX_WAIT_MS,
                         min_bytes=1024 * 1024)
    res = pending.join()
    part = res.partitions[(topic, 0)]
    assert part.error_code == wp.ERROR_NONE, part
    assert wp.values_of(part.batches) == [b"only this"], part
    assert IDLE_MAX_WAIT_MS / 1000 - IDLE_EARLY_SLACK_S <= pending.elapsed_s < IDLE_LATE_BOUND_S, pending.elapsed_s


def test_produce_reaching_min_bytes_ends_the_wait_early(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    produce(broker, topic, [b"small"])
    pending = TimedFetch(broker, [FetchPartition(topic, 0, 0)], max_wait_ms=LONG_POLL_MAX_WAIT_MS,
                         min_bytes=2 * BIG_VALUE_BYTES)
    time.sleep(PRODUCE_DELAY_S)
    produce(broker, topic, [b"x" * BIG_VALUE_BYTES, b"y" * BIG_VALUE_BYTES])
    res = pending.join()
    part = res.partitions[(topic, 0)]
    assert part.error_code == wp.ERROR_NONE, part
    assert wp.values_of(part.batches) == [b"small", b"x" * BIG_VALUE_BYTES, b"y" * BIG_VALUE_BYTES], part
    assert pending.elapsed_s < WAKEUP_BOUND_S, pending.elapsed_s


# --------------------------------------------------------------------------- size limits


def test_batch_larger_than_both_limits_is_returned_whole_first(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    produce(broker, topic, [b"a" * BIG_VALUE_BYTES, b"b" * BIG_VALUE_BYTES])
    produce(broker, topic, [b"next"])
    with connect(broker) as s:
        part = wp.fetch_one(s, topic, 0, 0, partition_max_bytes=SMALL_LIMIT_BYTES, max_bytes=SMALL_LIMIT_BYTES)
    assert part.error_code == wp.ERROR_NONE, part
    batches = part.batches
    assert [b.base_offset for b in batches] == [0], batches
    assert batches[0].size_bytes > 2 * BIG_VALUE_BYTES
    assert wp.values_of(batches) == [b"a" * BIG_VALUE_BYTES, b"b" * BIG_VALUE_BYTES]


def test_partition_max_bytes_bounds_whole_batches_after_the_first(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    for i in range(6):
        produce(broker, topic, [bytes([65 + i]) * 1000])
    with connect(broker) as s:
        first = wp.fetch_one(s, topic, 0, 0)
        size = first.batches[0].size_bytes
        limit = 2 * size + size // 2
        part = wp.fetch_one(s, topic, 0, 0, partition_max_bytes=limit)
    assert part.error_code == wp.ERROR_NONE, part
    assert len(part.records) <= limit, (len(part.records), limit)
    assert [b.base_offset for b in part.batches] == [0, 1], part.batches


def test_max_bytes_spent_by_first_partition_leaves_nothing_whole_for_the_next(broker, topic):
    wp.create_topic(broker.bootstrap, topic, partitions=2)
    produce(broker, topic, [b"p0" * BIG_VALUE_BYTES], partition=0)
    produce(broker, topic, [b"p1" * BIG_VALUE_BYTES], partition=1)
    with connect(broker) as s:
        res = wp.fetch(s, [FetchPartition(topic, 0, 0), FetchPartition(topic, 1, 0)], max_bytes=SMALL_LIMIT_BYTES)
    p0, p1 = res.partitions[(topic, 0)], res.partitions[(topic, 1)]
    assert (p0.error_code, p1.error_code) == (wp.ERROR_NONE, wp.ERROR_NONE), res
    assert wp.values_of(p0.batches) == [b"p0" * BIG_VALUE_BYTES], p0
    assert p1.batches == [], p1
    assert p1.high_watermark == 1, p1


def produce_large(broker, topic: str, partition: int) -> list[bytes]:
    """LARGE_BATCHES batches of random values into one partition; returns the values."""
    rng = random.Random(f"{topic}-{partition}")
    values = []
    for _ in range(LARGE_BATCHES):
        batch = [rng.randbytes(LARGE_VALUE_BYTES) for _ in range(LARGE_BATCH_RECORDS)]
        produce(broker, topic, batch, partition=partition)
        values.extend(batch)
    return values


@pytest.mark.parametrize("version", FETCH_VERSIONS)
def test_large_record_sets_from_several_partitions_come_back_byte_for_byte(broker, topic, version):
    wp.create_topic(broker.bootstrap, topic, partitions=LARGE_PARTITIONS)
    produced = {p: produce_large(broker, topic, p) for p in range(LARGE_PARTITIONS)}
    wanted = [FetchPartition(topic, p, 0, partition_max_bytes=4 * 1024 * 1024) for p in range(LARGE_PARTITIONS)]
    with connect(broker) as s:
        res = wp.fetch(s, wanted, version=version)
        # From the middle of the log, and then again on the same connection.
        middle = wp.fetch_one(s, topic, 1, 2 * LARGE_BATCH_RECORDS, version=version)
    for p in range(LARGE_PARTITIONS):
        part = res.partitions[(topic, p)]
        assert part.error_code == wp.ERROR_NONE, part
        assert part.high_watermark == LARGE_BATCHES * LARGE_BATCH_RECORDS, part
        assert wp.values_of(part.batches) == produced[p], f"partition {p}"
    assert wp.values_of(middle.batches) == produced[1][2 * LARGE_BATCH_RECORDS:]


def test_partition_max_bytes_inside_large_batches_gives_whole_batches_only(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    values = produce_large(broker, topic, 0)
    with connect(broker) as s:
        size = wp.fetch_one(s, topic, 0, 0).batches[0].size_bytes
        limit = 3 * size + size // 2
        part = wp.fetch_one(s, topic, 0, LARGE_BATCH_RECORDS, partition_max_bytes=limit)
    assert part.error_code == wp.ERROR_NONE, part
    assert len(part.records) <= limit, (len(part.records), limit)
    assert [b.base_offset for b in part.batches] == [3, 6, 9], part.batches
    assert wp.values_of(part.batches) == values[LARGE_BATCH_RECORDS:4 * LARGE_BATCH_RECORDS]


# --------------------------------------------------------------------------- offsets, isolation


@pytest.mark.parametrize("version", FETCH_VERSIONS)
def test_fetch_versions_return_the_same_batches(broker, topic, version):
    wp.create_topic(broker.bootstrap, topic)
    produce(broker, topic, [b"r0", b"r1"])
    produce(broker, topic, [b"r2"])
    with connect(broker) as s:
        part = wp.fetch_one(s, topic, 0, 0, version=version)
        # From the middle of a batch: the whole containing batch comes back.
        mid = wp.fetch_one(s, topic, 0, 1, version=version)
    assert (part.error_code, part.high_watermark) == (wp.ERROR_NONE, 3), part
    assert [(b.base_offset, b.record_count) for b in part.batches] == [(0, 2), (2, 1)]
    assert wp.values_of(part.batches) == [b"r0", b"r1", b"r2"]
    if version >= 5:
        assert part.log_start_offset == 0, part
    assert [b.base_offset for b in mid.batches] == [0, 2], mid


def test_read_committed_reads_up_to_the_high_watermark(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    produce(broker, topic, [b"c0", b"c1"])
    produce(broker, topic, [b"c2"])
    with connect(broker) as s:
        part = wp.fetch_one(s, topic, 0, 0, isolation_level=1)
    assert part.error_code == wp.ERROR_NONE, part
    assert (part.high_watermark, part.last_stable_offset) == (3, 3), part
    assert part.aborted_transactions == [], part
    assert wp.values_of(part.batches) == [b"c0", b"c1", b"c2"]


def test_read_uncommitted_answers_null_aborted_transactions(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    produce(broker, topic, [b"u0"])
    with connect(broker) as s:
        part = wp.fetch_one(s, topic, 0, 0, isolation_level=0)
    assert part.error_code == wp.ERROR_NONE, part
    assert part.aborted_transactions is None, part


@pytest.mark.parametrize("past_end", [1, 1000])
def test_fetch_offset_past_the_end_gets_offset_out_of_range(broker, topic, past_end):
    wp.create_topic(broker.bootstrap, topic)
    produce(broker, topic, [b"e0", b"e1"])
    with connect(broker) as s:
        at_end = wp.fetch_one(s, topic, 0, 2)
        past = wp.fetch_one(s, topic, 0, 2 + past_end)
        negative = wp.fetch_one(s, topic, 0, -past_end)
    assert (at_end.error_code, at_end.high_watermark, at_end.batches) == (wp.ERROR_NONE, 2, []), at_end
    assert past.error_code == wp.ERROR_OFFSET_OUT_OF_RANGE, past
    assert past.batches == [], past
    assert negative.error_code == wp.ERROR_OFFSET_OUT_OF_RANGE, negative


def test_offset_out_of_range_partition_reports_high_watermark_minus_one(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    produce(broker, topic, [b"h0"])
    with connect(broker) as s:
        past = wp.fetch_one(s, topic, 0, 5)
    assert past.error_code == wp.ERROR_OFFSET_OUT_OF_RANGE, past
    assert past.high_watermark == -1, past


def test_fetch_unknown_topic_or_partition_gets_unknown_topic_or_partition(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    with connect(broker) as s:
        res = wp.fetch(s, [FetchPartition(topic, 1, 0), FetchPartition(topic + "-absent", 0, 0)])
    assert res.partitions[(topic, 1)].error_code == wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION, res
    assert res.partitions[(topic + "-absent", 0)].error_code == wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION, res


def test_fetch_session_request_with_id_zero_epoch_zero_gets_a_full_answer(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    produce(broker, topic, [b"s0", b"s1"])
    with connect(broker) as s:
        res = wp.fetch(s, [FetchPartition(topic, 0, 0)], session_id=0, session_epoch=0)
        assert res.error_code == wp.ERROR_NONE, res
        assert res.session_id >= 0, res
        assert wp.values_of(res.partitions[(topic, 0)].batches) == [b"s0", b"s1"], res
        # Full fetches without a session keep working on the same connection.
        again = wp.fetch(s, [FetchPartition(topic, 0, 1)], session_id=0, session_epoch=-1)
    assert (again.error_code, again.session_id) == (wp.ERROR_NONE, 0), again
    assert wp.values_of(again.partitions[(topic, 0)].batches) == [b"s0", b"s1"], again
