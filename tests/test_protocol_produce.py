"""Produce over raw requests, against both brokers: the idempotent producer's sequence and
epoch rules, acks, unknown topics and partitions, and record validation.

What Kafka 4.1.1 answers, and so what these tests assert on both brokers:
- InitProducerId without a transactional id: a new producer id at epoch 0 on every call.
- A retried duplicate of any of the last 5 batches of a producer: error 0 and the batch's
  ORIGINAL base offset, nothing appended. A retry of an older batch (outside the 5-batch
  window): 45 OUT_OF_ORDER_SEQUENCE_NUMBER.
- A sequence gap: 45. A bumped epoch (client-side, same producer id) must start at
  sequence 0 (else 45); after the bump the old epoch gets 47 INVALID_PRODUCER_EPOCH.
- A producer id the partition has never seen, first sequence non-zero: ACCEPTED (error 0);
  Kafka does not answer UNKNOWN_PRODUCER_ID (59) there since KIP-360.
- acks=0: no response at all; acks=2: 21 INVALID_REQUIRED_ACKS.
- Unknown topic, partition out of range: 3 (and no auto creation by Produce).
- Two batches in one partition's records: 87 INVALID_RECORD.
- A gzip batch whose payload is not gzip: -1 UNKNOWN_SERVER_ERROR (Kafka's decompression
  failure is not mapped to a specific error); a gzip batch whose records are truncated or
  fewer than declared: 87.
- A record with a null key to a compacted topic: 87 with one record error naming the batch
  index and Kafka's message.
- A CreateTime more than message.timestamp.after.max.ms (1 h) ahead: 32 INVALID_TIMESTAMP,
  with a record error (v8+) naming the timestamp and the accepted range.
The corrupt-CRC case lives in test_bad_input.py.
"""

from __future__ import annotations

import gzip
import re
import socket
import time

import pytest

from harness import wire
from harness import wire_protocol as wp
from harness.wire_protocol import BatchRecord

# Produce v7 is the first with the current idempotence semantics clients rely on; v11 is the
# newest both brokers serve (flexible encoding).
IDEMPOTENT_VERSIONS = [7, 11]
DUPLICATE_WINDOW_BATCHES = 5
RECORDS_PER_BATCH = 2
NO_RESPONSE_WAIT_S = 0.5
TIMESTAMP_AFTER_MAX_MS = 3_600_000
TIMESTAMP_SLACK_MS = 120_000


def connect(broker) -> socket.socket:
    return wire.connect(broker.bootstrap)


def log_end(broker, topic: str, partition: int = 0) -> int:
    with connect(broker) as s:
        res = wp.list_offsets(s, topic, partition, wp.LATEST_TIMESTAMP)
    assert res.error_code == wp.ERROR_NONE, res
    return res.offset


def new_producer(broker) -> tuple[int, int]:
    res = wp.init_producer_id_settled(broker.bootstrap)
    assert res.error_code == wp.ERROR_NONE, res
    assert res.producer_id >= 0 and res.producer_epoch == 0, res
    return res.producer_id, res.producer_epoch


def values(tag: str, seq: int, n: int = RECORDS_PER_BATCH) -> list[bytes]:
    return [f"{tag}-{seq + i}".encode() for i in range(n)]


def all_values(broker, topic: str) -> list[bytes | None]:
    with connect(broker) as s:
        res = wp.fetch_one(s, topic, 0, 0)
    assert res.error_code == wp.ERROR_NONE, res
    return wp.values_of(res.batches)


# --------------------------------------------------------------------------- idempotence


def test_init_producer_id_gives_a_new_id_at_epoch_zero_each_time(broker):
    wp.init_producer_id_settled(broker.bootstrap)  # waits out Kafka's first id-block fetch
    seen = []
    with connect(broker) as s:
        for version in (0, 1, 2, 3, 4, 4):
            res = wp.init_producer_id(s, version=version)
            assert res.error_code == wp.ERROR_NONE, (version, res)
            assert res.producer_id >= 0 and res.producer_epoch == 0, (version, res)
            seen.append(res.producer_id)
    assert len(set(seen)) == len(seen), f"producer ids repeat: {seen}"


@pytest.mark.parametrize("version", IDEMPOTENT_VERSIONS)
def test_retried_duplicate_of_each_of_last_five_batches_gets_its_original_offset(broker, topic, version):
    wp.create_topic(broker.bootstrap, topic)
    pid, epoch = new_producer(broker)
    batches = DUPLICATE_WINDOW_BATCHES + 1
    offsets = []
    with connect(broker) as s:
        for i in range(batches):
            seq = i * RECORDS_PER_BATCH
            res = wp.produce(s, topic, 0, wp.idempotent_batch(pid, epoch, seq, values("a", seq)), version=version)
            assert res.error_code == wp.ERROR_NONE, (i, res)
            offsets.append(res.base_offset)
        assert offsets == [i * RECORDS_PER_BATCH for i in range(batches)], offsets
        end = batches * RECORDS_PER_BATCH

        # Retries of the last five, newest first then oldest first: each is acknowledged
        # with the offset the original got, and nothing is appended.
        window = list(range(1, batches))
        for i in list(reversed(window)) + window:
            seq = i * RECORDS_PER_BATCH
            res = wp.produce(s, topic, 0, wp.idempotent_batch(pid, epoch, seq, values("a", seq)), version=version)
            assert (res.error_code, res.base_offset) == (wp.ERROR_NONE, offsets[i]), (f"retry of batch {i}", res)
        assert log_end(broker, topic) == end

        # The oldest batch has left the 5-batch window: Kafka treats it as out of order.
        res = wp.produce(s, topic, 0, wp.idempotent_batch(pid, epoch, 0, values("a", 0)), version=version)
        assert res.error_code == wp.ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER, res

        # The producer goes on where it was.
        res = wp.produce(s, topic, 0, wp.idempotent_batch(pid, epoch, end, values("a", end)), version=version)
        assert (res.error_code, res.base_offset) == (wp.ERROR_NONE, end), res
    assert all_values(broker, topic) == [v for seq in range(0, end + RECORDS_PER_BATCH, RECORDS_PER_BATCH)
                                         for v in values("a", seq)]


def test_sequence_gap_gets_out_of_order_sequence_number(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    pid, epoch = new_producer(broker)
    with connect(broker) as s:
        res = wp.produce(s, topic, 0, wp.idempotent_batch(pid, epoch, 0, [b"s0"]))
        assert res.error_code == wp.ERROR_NONE, res
        res = wp.produce(s, topic, 0, wp.idempotent_batch(pid, epoch, 2, [b"s2"]))
        assert res.error_code == wp.ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER, res
        assert res.base_offset == -1, res
        res = wp.produce(s, topic, 0, wp.idempotent_batch(pid, epoch, 1, [b"s1"]))
        assert (res.error_code, res.base_offset) == (wp.ERROR_NONE, 1), res
    assert all_values(broker, topic) == [b"s0", b"s1"]


def test_epoch_bump_restarts_at_sequence_zero_and_fences_the_old_epoch(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    pid, epoch = new_producer(broker)
    with connect(broker) as s:
        for seq in range(3):
            res = wp.produce(s, topic, 0, wp.idempotent_batch(pid, epoch, seq, [b"e0-%d" % seq]))
            assert res.error_code == wp.ERROR_NONE, res
        # A client-side bump (same id, epoch + 1) must start at sequence 0.
        res = wp.produce(s, topic, 0, wp.idempotent_batch(pid, epoch + 1, 3, [b"e1-bad"]))
        assert res.error_code == wp.ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER, res
        res = wp.produce(s, topic, 0, wp.idempotent_batch(pid, epoch + 1, 0, [b"e1-0"]))
        assert (res.error_code, res.base_offset) == (wp.ERROR_NONE, 3), res
        # The old epoch is fenced, whatever its sequence.
        for seq in (3, 0):
            res = wp.produce(s, topic, 0, wp.idempotent_batch(pid, epoch, seq, [b"e0-stale"]))
            assert res.error_code == wp.ERROR_INVALID_PRODUCER_EPOCH, (seq, res)
        res = wp.produce(s, topic, 0, wp.idempotent_batch(pid, epoch + 1, 1, [b"e1-1"]))
        assert (res.error_code, res.base_offset) == (wp.ERROR_NONE, 4), res
    assert all_values(broker, topic) == [b"e0-0", b"e0-1", b"e0-2", b"e1-0", b"e1-1"]


def test_unknown_producer_id_with_nonzero_first_sequence_is_accepted(broker, topic):
    """Kafka 4.1 accepts the first batch of a producer id the partition has no state for,
    whatever its sequence (the state may have expired), and checks sequences from there."""
    wp.create_topic(broker.bootstrap, topic)
    pid, epoch = new_producer(broker)
    with connect(broker) as s:
        res = wp.produce(s, topic, 0, wp.idempotent_batch(pid, epoch, 7, [b"u7"]))
        assert (res.error_code, res.base_offset) == (wp.ERROR_NONE, 0), res
        res = wp.produce(s, topic, 0, wp.idempotent_batch(pid, epoch, 8, [b"u8"]))
        assert (res.error_code, res.base_offset) == (wp.ERROR_NONE, 1), res
        res = wp.produce(s, topic, 0, wp.idempotent_batch(pid, epoch, 10, [b"u10"]))
        assert res.error_code == wp.ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER, res
    assert all_values(broker, topic) == [b"u7", b"u8"]


# --------------------------------------------------------------------------- acks, routing


def test_acks_zero_gets_no_response_and_the_next_request_gets_its_own(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    with connect(broker) as s:
        produce_cid = wp.send_produce(s, topic, 0, wp.batch([BatchRecord(b"k", b"fire-and-forget")]), acks=0)
        # wire.recv_response rejects any correlation id but the Metadata one, so a Produce
        # response arriving first fails here.
        cid, frame = wire.request_frame(wire.API_METADATA, 1, wire.array([wire.string(topic)]))
        assert cid != produce_cid
        wire.send_all(s, frame)
        wire.recv_response(s, cid)
        how, extra = wire.read_until_closed(s, NO_RESPONSE_WAIT_S)
        assert (how, extra) == (None, b""), f"unexpected bytes after the Metadata response: {extra[:32].hex()}"
    # The record was appended all the same.
    deadline = time.monotonic() + wp.READY_WAIT_S
    while log_end(broker, topic) != 1 and time.monotonic() < deadline:
        time.sleep(wp.READY_POLL_S)
    assert all_values(broker, topic) == [b"fire-and-forget"]


@pytest.mark.parametrize("version", [3, 8, 11])
def test_acks_two_gets_invalid_required_acks(broker, topic, version):
    wp.create_topic(broker.bootstrap, topic)
    with connect(broker) as s:
        res = wp.produce(s, topic, 0, wp.batch([BatchRecord(b"k", b"v")]), acks=2, version=version)
    assert (res.error_code, res.base_offset) == (wp.ERROR_INVALID_REQUIRED_ACKS, -1), res
    assert log_end(broker, topic) == 0


def test_produce_to_unknown_topic_gets_unknown_topic_and_creates_nothing(broker, topic):
    with connect(broker) as s:
        res = wp.produce(s, topic, 0, wp.batch([BatchRecord(b"k", b"v")]))
        assert (res.error_code, res.base_offset) == (wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION, -1), res
        md = wp.metadata(s, [topic], allow_auto_topic_creation=False)
    assert md.topics[topic].error_code == wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION, md


@pytest.mark.parametrize("partition", [1, 7, -1])
def test_produce_to_partition_out_of_range_gets_unknown_topic_or_partition(broker, topic, partition):
    wp.create_topic(broker.bootstrap, topic)
    with connect(broker) as s:
        res = wp.produce(s, topic, partition, wp.batch([BatchRecord(b"k", b"v")]))
    assert (res.error_code, res.base_offset) == (wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION, -1), res


def test_two_batches_in_one_partition_get_invalid_record(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    two = wp.batch([BatchRecord(b"k", b"first")]) + wp.batch([BatchRecord(b"k", b"second")])
    with connect(broker) as s:
        res = wp.produce(s, topic, 0, two)
    assert (res.error_code, res.base_offset) == (wp.ERROR_INVALID_RECORD, -1), res
    assert log_end(broker, topic) == 0


# --------------------------------------------------------------------------- record validation


def _gzip_batch(records_section: bytes, record_count: int) -> bytes:
    return wp.batch([], base_timestamp_ms=int(time.time() * 1000), compression=wp.COMPRESSION_GZIP,
                    records_section=records_section, record_count=record_count)


def _two_records() -> bytes:
    now = int(time.time() * 1000)
    return wp.encode_records([BatchRecord(b"k1", b"one", now), BatchRecord(b"k2", b"two", now)], now)


BROKEN_COMPRESSED = {
    # (records section, declared count, Kafka 4.1's answer)
    "payload-not-gzip": (lambda: b"this is not a gzip stream at all", 1, -1),
    "records-truncated": (lambda: gzip.compress(_two_records()[:-3]), 2, wp.ERROR_INVALID_RECORD),
    "fewer-records-than-declared": (lambda: gzip.compress(_two_records()), 3, wp.ERROR_INVALID_RECORD),
}


@pytest.mark.parametrize("case", sorted(BROKEN_COMPRESSED))
def test_compressed_batch_with_broken_records_is_rejected_as_kafka_does(broker, topic, case):
    make, count, expected = BROKEN_COMPRESSED[case]
    wp.create_topic(broker.bootstrap, topic)
    with connect(broker) as s:
        res = wp.produce(s, topic, 0, _gzip_batch(make(), count))
        assert (res.error_code, res.base_offset) == (expected, -1), res
        # A well-formed gzip batch is still accepted at offset 0.
        good = wp.batch([BatchRecord(b"k", b"fine"), BatchRecord(b"k", b"too")], compression=wp.COMPRESSION_GZIP)
        res = wp.produce(s, topic, 0, good)
        assert (res.error_code, res.base_offset) == (wp.ERROR_NONE, 0), res


@pytest.mark.parametrize("null_at", [0, 1])
def test_null_key_to_compacted_topic_gets_invalid_record_with_record_error(broker, topic, null_at):
    wp.create_topic(broker.bootstrap, topic, configs={"cleanup.policy": "compact"})
    records = [BatchRecord(b"k0", b"v0"), BatchRecord(b"k1", b"v1")]
    records[null_at] = BatchRecord(None, b"no key")
    with connect(broker) as s:
        res = wp.produce(s, topic, 0, wp.batch(records))
    assert (res.error_code, res.base_offset) == (wp.ERROR_INVALID_RECORD, -1), res
    detail = f"Compacted topic cannot accept message without key in topic partition {topic}-0"
    assert res.record_errors == [(null_at, detail)], res
    assert res.error_message == (
        "One or more records have been rejected due to 1 record errors in total, and only showing the first "
        f"three errors at most: [RecordError(batchIndex={null_at}, message='{detail}')]"), res
    assert log_end(broker, topic) == 0


_TIMESTAMP_ERROR = re.compile(
    r"Timestamp (-?\d+) of message with offset 0 is out of range\. "
    r"The timestamp should be within \[(-?\d+), (-?\d+)\]")


@pytest.mark.parametrize("version", [3, 8, 11])
def test_create_time_over_an_hour_ahead_gets_invalid_timestamp(broker, topic, version):
    wp.create_topic(broker.bootstrap, topic)
    before = int(time.time() * 1000)
    future = before + TIMESTAMP_AFTER_MAX_MS + TIMESTAMP_SLACK_MS
    with connect(broker) as s:
        res = wp.produce(s, topic, 0, wp.batch([BatchRecord(b"k", b"late", future)]), version=version)
        after = int(time.time() * 1000)
        assert (res.error_code, res.base_offset) == (wp.ERROR_INVALID_TIMESTAMP, -1), res
        if version >= 8:
            assert res.error_message == "One or more records have been rejected due to invalid timestamp", res
            assert len(res.record_errors) == 1 and res.record_errors[0][0] == 0, res
            m = _TIMESTAMP_ERROR.fullmatch(res.record_errors[0][1] or "")
            assert m, res.record_errors
            assert int(m.group(1)) == future, res.record_errors
            # The upper bound is the broker's clock plus message.timestamp.after.max.ms.
            assert before + TIMESTAMP_AFTER_MAX_MS <= int(m.group(3)) <= after + TIMESTAMP_AFTER_MAX_MS, res
        # Ten minutes ahead is inside the window.
        res = wp.produce(s, topic, 0, wp.batch([BatchRecord(b"k", b"soon", before + 600_000)]), version=version)
        assert (res.error_code, res.base_offset) == (wp.ERROR_NONE, 0), res
