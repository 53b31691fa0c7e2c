"""Raw Kafka wire protocol for tests: frames, a few hand-encoded requests, RecordBatch v2.

Owns only what the harness needs to talk to a broker below any client library: the
readiness probe (ApiVersions v0 + Metadata v1) and the bad-input tests (oversized and
garbage frames, corrupt batches, unknown APIs). Everything is encoded by hand from the
Kafka protocol spec so a client library's own quirks cannot hide a broker bug.
Only non-flexible (pre-KIP-482) encodings are implemented; that is all the tests send.
"""

from __future__ import annotations

import itertools
import socket
import struct
import time
from dataclasses import dataclass, field

API_PRODUCE = 0
API_METADATA = 3
API_API_VERSIONS = 18
API_CREATE_TOPICS = 19

ERROR_NONE = 0
ERROR_CORRUPT_MESSAGE = 2
ERROR_UNKNOWN_TOPIC_OR_PARTITION = 3
ERROR_MESSAGE_TOO_LARGE = 10
ERROR_UNSUPPORTED_VERSION = 35
ERROR_TOPIC_ALREADY_EXISTS = 36
ERROR_INVALID_RECORD = 87

DEFAULT_IO_TIMEOUT_S = 10.0
CLIENT_ID = "runnel-tests"
# Largest response the tests accept; guards against reading garbage as a huge length.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024

_correlation_ids = itertools.count(1)


class ConnectionClosed(Exception):
    """The peer closed (or reset) the connection before a full response arrived."""


# --------------------------------------------------------------------------- encoding


def int8(v: int) -> bytes:
    return struct.pack(">b", v)


def int16(v: int) -> bytes:
    return struct.pack(">h", v)


def int32(v: int) -> bytes:
    return struct.pack(">i", v)


def int64(v: int) -> bytes:
    return struct.pack(">q", v)


def string(s: str | None) -> bytes:
    if s is None:
        return int16(-1)
    raw = s.encode()
    return int16(len(raw)) + raw


def nullable_bytes(b: bytes | None) -> bytes:
    if b is None:
        return int32(-1)
    return int32(len(b)) + b


def array(items: list[bytes] | None) -> bytes:
    if items is None:
        return int32(-1)
    return int32(len(items)) + b"".join(items)


def uvarint(v: int) -> bytes:
    out = bytearray()
    while True:
        byte = v & 0x7F
        v >>= 7
        if v:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def varint(v: int) -> bytes:
    """Zig-zag signed varint (RecordBatch v2 record fields)."""
    return uvarint((v << 1) ^ (v >> 63))


def varbytes(b: bytes | None) -> bytes:
    if b is None:
        return varint(-1)
    return varint(len(b)) + b


# --------------------------------------------------------------------------- decoding


class Reader:
    """Cursor over a response body; raises ValueError on truncation."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"truncated: need {n} bytes at {self.pos}, have {len(self.data) - self.pos}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def int8(self) -> int:
        return struct.unpack(">b", self.take(1))[0]

    def int16(self) -> int:
        return struct.unpack(">h", self.take(2))[0]

    def int32(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def int64(self) -> int:
        return struct.unpack(">q", self.take(8))[0]

    def string(self) -> str | None:
        n = self.int16()
        return None if n < 0 else self.take(n).decode()

    def array(self, item) -> list | None:
        n = self.int32()
        return None if n < 0 else [item(self) for _ in range(n)]

    def remaining(self) -> int:
        return len(self.data) - self.pos


# --------------------------------------------------------------------------- CRC32C

def _crc32c_table() -> list[int]:
    poly = 0x82F63B78  # Castagnoli, reflected
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC32C_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# --------------------------------------------------------------------------- RecordBatch v2


@dataclass
class Record:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)


def record_batch(records: list[Record], *, base_timestamp_ms: int | None = None,
                 producer_id: int = -1, producer_epoch: int = -1, base_sequence: int = -1,
                 corrupt_crc: bool = False) -> bytes:
    """Encode an uncompressed RecordBatch v2 (magic 2) with a valid CRC32C.

    corrupt_crc flips the stored CRC so the batch is otherwise well formed but fails the
    checksum, which is what a broker must reject with CORRUPT_MESSAGE.
    """
    if not records:
        raise ValueError("a record batch needs at least one record")
    ts = int(time.time() * 1000) if base_timestamp_ms is None else base_timestamp_ms
    body = bytearray()
    for i, rec in enumerate(records):
        r = bytearray()
        r += int8(0)              # record attributes
        r += varint(0)            # timestamp delta
        r += varint(i)            # offset delta
        r += varbytes(rec.key)
        r += varbytes(rec.value)
        r += varint(len(rec.headers))
        for hk, hv in rec.headers:
            r += varbytes(hk.encode())
            r += varbytes(hv)
        body += varint(len(r)) + r
    after_crc = (
        int16(0)                          # attributes: no compression, CreateTime
        + int32(len(records) - 1)         # last offset delta
        + int64(ts) + int64(ts)           # base / max timestamp
        + int64(producer_id) + int16(producer_epoch) + int32(base_sequence)
        + int32(len(records)) + bytes(body)
    )
    crc = crc32c(after_crc)
    if corrupt_crc:
        crc ^= 0xFFFFFFFF
    # batchLength counts everything after the length field itself.
    batch_length = 4 + 1 + 4 + len(after_crc)  # leader epoch + magic + crc + rest
    return (int64(0) + int32(batch_length) + int32(-1) + int8(2)
            + struct.pack(">I", crc) + after_crc)


# --------------------------------------------------------------------------- framing


def request_frame(api_key: int, api_version: int, body: bytes, *,
                  correlation_id: int | None = None, client_id: str | None = CLIENT_ID,
                  flexible_header: bool = False) -> tuple[int, bytes]:
    """A size-prefixed request with a v1 request header, or v2 (an empty tagged-field
    section after client_id) when flexible_header is set, as flexible API versions use."""
    cid = next(_correlation_ids) if correlation_id is None else correlation_id
    payload = int16(api_key) + int16(api_version) + int32(cid) + string(client_id)
    if flexible_header:
        payload += uvarint(0)
    payload += body
    return cid, int32(len(payload)) + payload


def connect(bootstrap: str, timeout_s: float = DEFAULT_IO_TIMEOUT_S) -> socket.socket:
    host, port = bootstrap.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=timeout_s)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        try:
            chunk = sock.recv(n - len(buf))
        except (ConnectionResetError, BrokenPipeError) as e:
            raise ConnectionClosed(str(e)) from e
        if not chunk:
            raise ConnectionClosed(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def recv_response(sock: socket.socket, correlation_id: int, *, flexible_header: bool = False) -> Reader:
    """Read one response frame, check its correlation id, return a Reader over the body."""
    size = struct.unpack(">i", _recv_exact(sock, 4))[0]
    if size < 4 or size > MAX_RESPONSE_BYTES:
        raise ValueError(f"implausible response size {size}")
    r = Reader(_recv_exact(sock, size))
    got = r.int32()
    if got != correlation_id:
        raise ValueError(f"correlation id {got}, expected {correlation_id}")
    if flexible_header:
        ntags = r.take(1)[0]
        if ntags:
            raise ValueError("tagged fields in response header not supported by this reader")
    return r


def send_all(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except (ConnectionResetError, BrokenPipeError) as e:
        raise ConnectionClosed(str(e)) from e


def call(sock: socket.socket, api_key: int, api_version: int, body: bytes, *,
         flexible_header: bool = False) -> Reader:
    """Send one request and read its response (response header v0: correlation id only)."""
    cid, frame = request_frame(api_key, api_version, body, flexible_header=flexible_header)
    send_all(sock, frame)
    return recv_response(sock, cid)


def read_until_closed(sock: socket.socket, timeout_s: float) -> tuple[str | None, bytes]:
    """Read until the peer closes or timeout_s passes.

    Returns (how, received): how is "eof" or "reset" when the peer closed, None when the
    connection was still open at the deadline; received is every byte the peer sent
    first (a broker that closes on bad input sends nothing).
    """
    deadline = time.monotonic() + timeout_s
    received = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None, bytes(received)
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return None, bytes(received)
        except (ConnectionResetError, BrokenPipeError):
            return "reset", bytes(received)
        if not chunk:
            return "eof", bytes(received)
        received += chunk


# --------------------------------------------------------------------------- requests


@dataclass
class ApiVersionsResult:
    error_code: int
    api_keys: dict[int, tuple[int, int]]


def parse_api_versions_v0(r: Reader) -> ApiVersionsResult:
    error = r.int16()
    keys = r.array(lambda rr: (rr.int16(), rr.int16(), rr.int16())) or []
    return ApiVersionsResult(error, {k: (lo, hi) for k, lo, hi in keys})


def compact_string(s: str) -> bytes:
    raw = s.encode()
    return uvarint(len(raw) + 1) + raw


def api_versions_v3_body(software_name: str = CLIENT_ID, software_version: str = "1.0") -> bytes:
    return compact_string(software_name) + compact_string(software_version) + uvarint(0)


def api_versions(sock: socket.socket, version: int = 0) -> ApiVersionsResult:
    """ApiVersions, reading the body in the v0 layout.

    For version 0 that is the real answer. For a version above the broker's maximum the
    broker must answer UNSUPPORTED_VERSION in the v0 layout (and a v0 response header);
    the request is sent the way a real client sends it: header v2 and a v3-style body.
    """
    if version == 0:
        return parse_api_versions_v0(call(sock, API_API_VERSIONS, 0, b""))
    if version < 3:
        raise ValueError("only v0 and versions >= 3 (flexible) are encoded here")
    r = call(sock, API_API_VERSIONS, version, api_versions_v3_body(), flexible_header=True)
    return parse_api_versions_v0(r)


@dataclass
class MetadataResult:
    brokers: list[tuple[int, str, int]]
    controller_id: int
    topics: dict[str, dict]  # name -> {"error": int, "partitions": {index: (error, leader)}}


def metadata_v1(sock: socket.socket, topics: list[str] | None = None) -> MetadataResult:
    body = array(None if topics is None else [string(t) for t in topics])
    r = call(sock, API_METADATA, 1, body)
    brokers = r.array(lambda rr: (rr.int32(), rr.string(), rr.int32(), rr.string())) or []
    controller = r.int32()

    def partition(rr: Reader):
        err, idx, leader = rr.int16(), rr.int32(), rr.int32()
        rr.array(Reader.int32)
        rr.array(Reader.int32)
        return idx, (err, leader)

    def topic(rr: Reader):
        err, name, _internal = rr.int16(), rr.string(), rr.int8()
        parts = dict(rr.array(partition) or [])
        return name, {"error": err, "partitions": parts}

    return MetadataResult([(b[0], b[1], b[2]) for b in brokers], controller, dict(r.array(topic) or []))


def create_topics_v2(sock: socket.socket, name: str, partitions: int, *, timeout_ms: int = 30000,
                     configs: dict[str, str] | None = None) -> tuple[int, str | None]:
    """CreateTopics v2 for one topic with replication factor 1; returns (error, message)."""
    cfg = [string(k) + string(v) for k, v in (configs or {}).items()]
    topic = string(name) + int32(partitions) + int16(1) + array([]) + array(cfg)
    body = array([topic]) + int32(timeout_ms) + int8(0)
    r = call(sock, API_CREATE_TOPICS, 2, body)
    r.int32()  # throttle
    results = r.array(lambda rr: (rr.string(), rr.int16(), rr.string())) or []
    for tname, err, msg in results:
        if tname == name:
            return err, msg
    raise ValueError(f"CreateTopics response lacks topic {name}: {results}")


@dataclass
class ProducePartitionResult:
    error_code: int
    base_offset: int
    error_message: str | None = None
    record_errors: list[tuple[int, str | None]] = field(default_factory=list)


def produce_body(topic: str, partition: int, records: bytes, *, acks: int = -1, timeout_ms: int = 30000) -> bytes:
    """Produce v3-v8 request body (all share this non-flexible layout)."""
    part = int32(partition) + nullable_bytes(records)
    return string(None) + int16(acks) + int32(timeout_ms) + array([string(topic) + array([part])])


def parse_produce_response(r: Reader, version: int) -> dict[tuple[str, int], ProducePartitionResult]:
    out: dict[tuple[str, int], ProducePartitionResult] = {}
    for _ in range(r.int32()):
        name = r.string()
        for _ in range(r.int32()):
            idx, err, base = r.int32(), r.int16(), r.int64()
            r.int64()  # log append time
            if version >= 5:
                r.int64()  # log start offset
            res = ProducePartitionResult(err, base)
            if version >= 8:
                res.record_errors = r.array(lambda rr: (rr.int32(), rr.string())) or []
                res.error_message = r.string()
            out[(name, idx)] = res
    return out


def produce(sock: socket.socket, topic: str, partition: int, records: bytes, *, version: int = 8,
            acks: int = -1) -> ProducePartitionResult:
    if not 3 <= version <= 8:
        raise ValueError("only non-flexible Produce v3-v8 is encoded here")
    r = call(sock, API_PRODUCE, version, produce_body(topic, partition, records, acks=acks))
    return parse_produce_response(r, version)[(topic, partition)]
