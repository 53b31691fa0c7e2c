"""Bad input over raw sockets, against both brokers: Kafka 4.1 is the reference.

Each case is followed by a check that the broker still serves a new client. The brokers
here are private to this module and run with small limits set through the same
extra-config mechanism on both (message.max.bytes, socket.request.max.bytes).

What Kafka 4.1.1 does, and so what these tests assert:
- frame size above socket.request.max.bytes (or negative): connection closed, no reply;
- truncated or garbage frames: connection closed, no reply;
- Produce batch above message.max.bytes: partition error 10 MESSAGE_TOO_LARGE;
- batch with a bad CRC: partition error 2 CORRUPT_MESSAGE;
- unknown API key, or a version outside a known API's range: connection closed, no reply;
- ApiVersions v127: error 35 UNSUPPORTED_VERSION in the v0 body layout (v0 response
  header), listing key 18; the connection stays usable.
"""

from __future__ import annotations

import socket
import time

import pytest

from harness import BROKER_KINDS, make_broker, wire
from harness.fixtures import serve_shared
from harness.wire import Record, int16, int32

MESSAGE_MAX_BYTES = 2048
SOCKET_REQUEST_MAX_BYTES = 1024 * 1024
CLOSE_WAIT_S = 10.0
TOPIC_READY_WAIT_S = 30.0
TOPIC_POLL_S = 0.2
# UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER
RETRIABLE_PRODUCE_ERRORS = (3, 5, 6)


@pytest.fixture(scope="module", params=BROKER_KINDS)
def limited_broker(request, tmp_path_factory):
    b = make_broker(request.param, {"message.max.bytes": MESSAGE_MAX_BYTES,
                                    "socket.request.max.bytes": SOCKET_REQUEST_MAX_BYTES},
                    workdir=tmp_path_factory.mktemp(f"{request.param}-limited"))
    try:
        b.start()
        yield b
    finally:
        b.close(remove_workdir=False)


@pytest.fixture
def target(request, limited_broker):
    # A case that crashes the broker fails on its own (at teardown if not before); the
    # next case gets it restarted instead of failing with "connection refused".
    yield from serve_shared(request, limited_broker)


def connect(broker) -> socket.socket:
    return wire.connect(broker.bootstrap)


def ensure_topic(broker, name: str, partitions: int = 1) -> None:
    with connect(broker) as s:
        err, msg = wire.create_topics_v2(s, name, partitions)
        assert err in (wire.ERROR_NONE, wire.ERROR_TOPIC_ALREADY_EXISTS), (err, msg)
    deadline = time.monotonic() + TOPIC_READY_WAIT_S
    last = None
    while time.monotonic() < deadline:
        with connect(broker) as s:
            last = wire.metadata_v1(s, [name]).topics.get(name)
        if last and last["error"] == 0 and len(last["partitions"]) == partitions and all(
                err == 0 and leader >= 0 for err, leader in last["partitions"].values()):
            return
        time.sleep(TOPIC_POLL_S)
    raise AssertionError(f"topic {name} not ready: {last}")


def produce(broker, topic: str, batch: bytes, version: int = 8) -> wire.ProducePartitionResult:
    """Produce to partition 0, retrying (bounded) while leadership is still settling after
    topic creation, as a real client would: Kafka can answer NOT_LEADER_OR_FOLLOWER for a
    moment after Metadata already names the leader."""
    deadline = time.monotonic() + TOPIC_READY_WAIT_S
    while True:
        with connect(broker) as s:
            res = wire.produce(s, topic, 0, batch, version=version)
        if res.error_code not in RETRIABLE_PRODUCE_ERRORS or time.monotonic() >= deadline:
            return res
        time.sleep(TOPIC_POLL_S)


def assert_closed_without_response(sock: socket.socket) -> None:
    how, received = wire.read_until_closed(sock, CLOSE_WAIT_S)
    assert received == b"", f"broker answered instead of closing: {received[:64].hex()}"
    assert how is not None, f"connection still open {CLOSE_WAIT_S:.0f}s after the bad input"


def assert_still_serves(broker, topic: str | None = None, *, expect_base_offset: int | None = None) -> None:
    """A new client still gets ApiVersions and Metadata (and a valid Produce, given a topic)."""
    with connect(broker) as s:
        av = wire.api_versions(s, 0)
        assert av.error_code == wire.ERROR_NONE, av
        md = wire.metadata_v1(s)
        assert any(port == broker.port for _, _, port in md.brokers), md.brokers
    if topic is not None:
        res = produce(broker, topic, wire.record_batch([Record(b"k", b"still serving")]))
        assert res.error_code == wire.ERROR_NONE, res
        if expect_base_offset is not None:
            assert res.base_offset == expect_base_offset, res


@pytest.mark.parametrize("size", [SOCKET_REQUEST_MAX_BYTES + 1, 2**31 - 1, -1],
                         ids=["limit-plus-1", "int32-max", "negative"])
def test_frame_size_over_socket_request_max_bytes_closes_connection(target, size):
    with connect(target) as s:
        # Only the size and the start of a header: a broker that honours the limit closes
        # without waiting for (or allocating) the announced bytes.
        wire.send_all(s, int32(size) + int16(wire.API_API_VERSIONS) + int16(0))
        assert_closed_without_response(s)
    assert_still_serves(target)


def _frame(api_key: int, version: int, body: bytes) -> bytes:
    return wire.request_frame(api_key, version, body)[1]


GARBAGE_FRAMES = {
    # A 6-byte frame: api key + version, then half a correlation id.
    "truncated-header": int32(6) + int16(wire.API_METADATA) + int16(1) + b"\xab\xcd",
    # Bytes that are no request at all (api key 0xc8c9 = -14135).
    "random-bytes": int32(40) + bytes(range(200, 240)),
    # A valid header whose body claims a 2^31-1 element topic array.
    "metadata-huge-array": _frame(wire.API_METADATA, 1, int32(0x7FFFFFFF) + b"\x00\x01"),
    # A valid Produce v8 header with a body cut off inside the first field.
    "produce-truncated-body": _frame(wire.API_PRODUCE, 8, b"\xff\xff\x00"),
}


@pytest.mark.parametrize("case", sorted(GARBAGE_FRAMES))
def test_garbage_frame_closes_connection(target, case):
    with connect(target) as s:
        wire.send_all(s, GARBAGE_FRAMES[case])
        assert_closed_without_response(s)
    assert_still_serves(target)


def test_frame_cut_short_by_client_eof_is_dropped(target):
    with connect(target) as s:
        wire.send_all(s, int32(100) + int16(wire.API_METADATA) + int16(1) + b"\x00" * 6)
        s.shutdown(socket.SHUT_WR)
        assert_closed_without_response(s)
    assert_still_serves(target)


@pytest.mark.parametrize("version", [3, 8], ids=["produce-v3", "produce-v8"])
def test_produce_batch_over_message_max_bytes_gets_message_too_large(target, topic, version):
    ensure_topic(target, topic)
    batch = wire.record_batch([Record(b"k", b"x" * (2 * MESSAGE_MAX_BYTES))])
    res = produce(target, topic, batch, version)
    assert res.error_code == wire.ERROR_MESSAGE_TOO_LARGE, res
    assert res.base_offset == -1, res
    # Nothing was appended: the next valid batch gets offset 0.
    assert_still_serves(target, topic, expect_base_offset=0)


@pytest.mark.parametrize("version", [3, 8], ids=["produce-v3", "produce-v8"])
def test_produce_batch_with_corrupt_crc_gets_corrupt_message(target, topic, version):
    ensure_topic(target, topic)
    batch = wire.record_batch([Record(b"k", b"v")], corrupt_crc=True)
    res = produce(target, topic, batch, version)
    assert res.error_code == wire.ERROR_CORRUPT_MESSAGE, res
    assert res.base_offset == -1, res
    assert_still_serves(target, topic, expect_base_offset=0)


@pytest.mark.parametrize("api_key", [9999, 32767])
def test_unknown_api_key_closes_connection(target, api_key):
    with connect(target) as s:
        wire.send_all(s, _frame(api_key, 0, b""))
        assert_closed_without_response(s)
    assert_still_serves(target)


@pytest.mark.parametrize("api_key,version", [(wire.API_METADATA, 99), (wire.API_PRODUCE, 2)],
                         ids=["metadata-v99-above-max", "produce-v2-removed"])
def test_unsupported_version_of_known_api_closes_connection(target, api_key, version):
    with connect(target) as s:
        wire.send_all(s, _frame(api_key, version, b"\x00" * 16))
        assert_closed_without_response(s)
    assert_still_serves(target)


def test_api_versions_v127_gets_unsupported_version_in_v0_layout(target):
    with connect(target) as s:
        cid, frame = wire.request_frame(wire.API_API_VERSIONS, 127, wire.api_versions_v3_body(),
                                        flexible_header=True)
        wire.send_all(s, frame)
        body = wire.recv_response(s, cid)  # v0 response header: correlation id only
        res = wire.parse_api_versions_v0(body)
        assert res.error_code == wire.ERROR_UNSUPPORTED_VERSION, res
        assert wire.API_API_VERSIONS in res.api_keys, res
        lo, hi = res.api_keys[wire.API_API_VERSIONS]
        assert lo == 0 and hi >= 3, res
        assert body.remaining() == 0, f"{body.remaining()} bytes after the v0 body"
        # The client retries on the same connection, as Java and kafka-python 3 do.
        retry = wire.api_versions(s, 0)
        assert retry.error_code == wire.ERROR_NONE, retry
        assert wire.API_METADATA in retry.api_keys
    assert_still_serves(target)
