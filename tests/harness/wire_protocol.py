"""Raw Kafka requests for the differential protocol tests (tests/test_protocol_*.py).

Owns the hand-encoded requests and response readers those tests need beyond harness.wire:
flexible (KIP-482) encodings, a RecordBatch v2 builder with per-record timestamps,
producer fields and compression, a batch reader for Fetch results, and the requests
InitProducerId, Produce (any acks, v3-v11), Fetch v4-v12, ListOffsets v1-v7,
OffsetForLeaderEpoch v2-v4 and Metadata v4-v8, plus the bounded readiness waits a test
needs before using a new topic (every partition led) or Kafka's producer ids (its first id
block). Everything follows the Kafka protocol spec, so a client library's quirks cannot
hide a broker bug. Framing, the non-flexible primitives and CRC32C come from harness.wire.
"""

from __future__ import annotations

import gzip
import socket
import struct
import time
from dataclasses import dataclass, field

from .wire import (
    API_METADATA,
    API_PRODUCE,
    ProducePartitionResult,
    Reader,
    array,
    connect,
    crc32c,
    create_topics_v2,
    int8,
    int16,
    int32,
    int64,
    nullable_bytes,
    recv_response,
    request_frame,
    send_all,
    string,
    uvarint,
    varbytes,
    varint,
)

API_FETCH = 1
API_LIST_OFFSETS = 2
API_INIT_PRODUCER_ID = 22
API_OFFSET_FOR_LEADER_EPOCH = 23

# The first version of each API that uses the flexible (compact, tagged) encoding.
FIRST_FLEXIBLE_VERSION = {
    API_PRODUCE: 9,
    API_FETCH: 12,
    API_LIST_OFFSETS: 6,
    API_METADATA: 9,
    API_INIT_PRODUCER_ID: 2,
    API_OFFSET_FOR_LEADER_EPOCH: 4,
}

# Error codes the protocol tests assert on (Kafka's Errors enum).
ERROR_NONE = 0
ERROR_OFFSET_OUT_OF_RANGE = 1
ERROR_UNKNOWN_TOPIC_OR_PARTITION = 3
ERROR_COORDINATOR_LOAD_IN_PROGRESS = 14
ERROR_INVALID_TOPIC_EXCEPTION = 17
ERROR_INVALID_REQUIRED_ACKS = 21
ERROR_INVALID_TIMESTAMP = 32
ERROR_UNSUPPORTED_VERSION = 35
ERROR_TOPIC_ALREADY_EXISTS = 36
ERROR_INVALID_PARTITIONS = 37
ERROR_INVALID_REPLICATION_FACTOR = 38
ERROR_INVALID_CONFIG = 40
ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45
ERROR_INVALID_PRODUCER_EPOCH = 47
ERROR_INVALID_RECORD = 87

# ListOffsets sentinel timestamps.
LATEST_TIMESTAMP = -1
EARLIEST_TIMESTAMP = -2
MAX_TIMESTAMP = -3

# RecordBatch attributes: the low three bits are the compression codec.
COMPRESSION_NONE = 0
COMPRESSION_GZIP = 1
BATCH_HEADER_BYTES = 61
# Offsets of the fields a reader of stored batches needs (RecordBatch v2 layout).
_BATCH_LENGTH_END = 12
_MAGIC_AT = 16

# Bound on waiting for a new topic's partitions (Kafka needs a moment after CreateTopics)
# or for Kafka's first block of producer ids.
READY_WAIT_S = 30.0
READY_POLL_S = 0.1


# --------------------------------------------------------------------------- flexible encoding


def compact_string(s: str | None) -> bytes:
    if s is None:
        return uvarint(0)
    raw = s.encode()
    return uvarint(len(raw) + 1) + raw


def compact_bytes(b: bytes | None) -> bytes:
    return uvarint(0) if b is None else uvarint(len(b) + 1) + b


def compact_array(items: list[bytes] | None) -> bytes:
    return uvarint(0) if items is None else uvarint(len(items) + 1) + b"".join(items)


NO_TAGS = uvarint(0)


def read_uvarint(r: Reader) -> int:
    shift = value = 0
    while True:
        byte = r.take(1)[0]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value
        shift += 7
        if shift > 63:
            raise ValueError("uvarint longer than 10 bytes")


def read_varint(r: Reader) -> int:
    raw = read_uvarint(r)
    return (raw >> 1) ^ -(raw & 1)


def read_compact_string(r: Reader) -> str | None:
    n = read_uvarint(r)
    return None if n == 0 else r.take(n - 1).decode()


def read_compact_bytes(r: Reader) -> bytes | None:
    n = read_uvarint(r)
    return None if n == 0 else r.take(n - 1)


def read_compact_array(r: Reader, item) -> list | None:
    n = read_uvarint(r)
    return None if n == 0 else [item(r) for _ in range(n - 1)]


def skip_tags(r: Reader) -> None:
    for _ in range(read_uvarint(r)):
        read_uvarint(r)  # tag
        r.take(read_uvarint(r))


def read_nullable_bytes(r: Reader) -> bytes | None:
    n = r.int32()
    return None if n < 0 else r.take(n)


class Codec:
    """Encodes and reads one API version's strings, arrays and tagged fields."""

    def __init__(self, api_key: int, version: int):
        self.flexible = version >= FIRST_FLEXIBLE_VERSION.get(api_key, 1 << 15)

    def string(self, s: str | None) -> bytes:
        return compact_string(s) if self.flexible else string(s)

    def array(self, items: list[bytes] | None) -> bytes:
        return compact_array(items) if self.flexible else array(items)

    def bytes(self, b: bytes | None) -> bytes:
        return compact_bytes(b) if self.flexible else nullable_bytes(b)

    def tags(self) -> bytes:
        return NO_TAGS if self.flexible else b""

    def read_string(self, r: Reader) -> str | None:
        return read_compact_string(r) if self.flexible else r.string()

    def read_array(self, r: Reader, item) -> list | None:
        return read_compact_array(r, item) if self.flexible else r.array(item)

    def read_bytes(self, r: Reader) -> bytes | None:
        return read_compact_bytes(r) if self.flexible else read_nullable_bytes(r)

    def skip_tags(self, r: Reader) -> None:
        if self.flexible:
            skip_tags(r)


def send_request(sock: socket.socket, api_key: int, version: int, body: bytes) -> int:
    """Send one request (header v2 for flexible versions); returns its correlation id."""
    flexible = Codec(api_key, version).flexible
    cid, frame = request_frame(api_key, version, body, flexible_header=flexible)
    send_all(sock, frame)
    return cid


def read_response(sock: socket.socket, api_key: int, version: int, cid: int) -> Reader:
    """Read the response to `cid` (response header v1 with tagged fields for flexible versions)."""
    flexible = Codec(api_key, version).flexible
    r = recv_response(sock, cid)
    if flexible:
        skip_tags(r)
    return r


def call(sock: socket.socket, api_key: int, version: int, body: bytes) -> Reader:
    return read_response(sock, api_key, version, send_request(sock, api_key, version, body))


# --------------------------------------------------------------------------- RecordBatch v2


@dataclass
class BatchRecord:
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None  # None: the batch's base timestamp
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)


def encode_records(records: list[BatchRecord], base_timestamp_ms: int) -> bytes:
    """The records section of a batch (each record length-prefixed), uncompressed."""
    out = bytearray()
    for i, rec in enumerate(records):
        ts = base_timestamp_ms if rec.timestamp_ms is None else rec.timestamp_ms
        r = bytearray()
        r += int8(0)                          # record attributes
        r += varint(ts - base_timestamp_ms)   # timestamp delta
        r += varint(i)                        # offset delta
        r += varbytes(rec.key)
        r += varbytes(rec.value)
        r += varint(len(rec.headers))
        for hk, hv in rec.headers:
            r += varbytes(hk.encode())
            r += varbytes(hv)
        out += varint(len(r)) + r
    return bytes(out)


def batch(records: list[BatchRecord], *, base_timestamp_ms: int | None = None, producer_id: int = -1,
          producer_epoch: int = -1, base_sequence: int = -1, compression: int = COMPRESSION_NONE,
          records_section: bytes | None = None, record_count: int | None = None) -> bytes:
    """Encode a RecordBatch v2 with a valid CRC32C.

    base_timestamp_ms defaults to the smallest record timestamp (or now); the max timestamp
    field is the largest. compression=COMPRESSION_GZIP gzips the records section.
    records_section (already compressed when compression is set) and record_count replace
    what `records` would give, to build batches whose records are broken.
    """
    now = int(time.time() * 1000)
    stamps = [r.timestamp_ms for r in records if r.timestamp_ms is not None]
    base_ts = base_timestamp_ms if base_timestamp_ms is not None else (min(stamps) if stamps else now)
    max_ts = max([base_ts, *stamps])
    if records_section is None:
        if not records:
            raise ValueError("a record batch needs at least one record")
        records_section = encode_records(records, base_ts)
        if compression == COMPRESSION_GZIP:
            records_section = gzip.compress(records_section)
        elif compression != COMPRESSION_NONE:
            raise ValueError(f"compression codec {compression} is not encoded here")
    count = len(records) if record_count is None else record_count
    after_crc = (
        int16(compression)                     # attributes: codec, CreateTime, not transactional
        + int32(max(count, 1) - 1)             # last offset delta
        + int64(base_ts) + int64(max_ts)
        + int64(producer_id) + int16(producer_epoch) + int32(base_sequence)
        + int32(count) + records_section
    )
    batch_length = 4 + 1 + 4 + len(after_crc)  # leader epoch + magic + crc + rest
    return (int64(0) + int32(batch_length) + int32(-1) + int8(2)
            + struct.pack(">I", crc32c(after_crc)) + after_crc)


def idempotent_batch(producer_id: int, producer_epoch: int, base_sequence: int, values: list[bytes]) -> bytes:
    return batch([BatchRecord(None, v) for v in values], producer_id=producer_id,
                 producer_epoch=producer_epoch, base_sequence=base_sequence)


@dataclass
class StoredRecord:
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


@dataclass
class StoredBatch:
    base_offset: int
    size_bytes: int
    last_offset_delta: int
    max_timestamp_ms: int
    producer_id: int
    record_count: int
    records: list[StoredRecord]  # empty for compressed batches

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta


def _read_record(r: Reader, base_offset: int, base_ts: int) -> StoredRecord:
    length = read_varint(r)
    rec = Reader(r.take(length))
    rec.int8()  # attributes
    ts_delta = read_varint(rec)
    offset_delta = read_varint(rec)
    klen = read_varint(rec)
    key = None if klen < 0 else rec.take(klen)
    vlen = read_varint(rec)
    value = None if vlen < 0 else rec.take(vlen)
    return StoredRecord(base_offset + offset_delta, base_ts + ts_delta, key, value)


def parse_batches(data: bytes | None) -> list[StoredBatch]:
    """The whole RecordBatch v2 batches in a Fetch result's records; a trailing partial
    batch (a broker may cut the last one at the size limit) is ignored."""
    out: list[StoredBatch] = []
    pos = 0
    data = data or b""
    while len(data) - pos >= _BATCH_LENGTH_END:
        base_offset, batch_length = struct.unpack_from(">qi", data, pos)
        size = _BATCH_LENGTH_END + batch_length
        if batch_length < BATCH_HEADER_BYTES - _BATCH_LENGTH_END or pos + size > len(data):
            break
        raw = data[pos:pos + size]
        if raw[_MAGIC_AT] != 2:
            raise ValueError(f"batch at {base_offset} has magic {raw[_MAGIC_AT]}")
        h = Reader(raw)
        h.take(_MAGIC_AT + 1 + 4)  # base offset, length, leader epoch, magic, crc
        attributes = h.int16()
        last_offset_delta = h.int32()
        base_ts = h.int64()
        max_ts = h.int64()
        producer_id = h.int64()
        h.int16()  # producer epoch
        h.int32()  # base sequence
        count = h.int32()
        records = []
        if attributes & 0x7 == COMPRESSION_NONE:
            records = [_read_record(h, base_offset, base_ts) for _ in range(count)]
        out.append(StoredBatch(base_offset, size, last_offset_delta, max_ts, producer_id, count, records))
        pos += size
    return out


def values_of(batches: list[StoredBatch]) -> list[bytes | None]:
    return [rec.value for b in batches for rec in b.records]


# --------------------------------------------------------------------------- InitProducerId


@dataclass
class InitProducerIdResult:
    error_code: int
    producer_id: int
    producer_epoch: int


def init_producer_id(sock: socket.socket, *, version: int = 4, transaction_timeout_ms: int = 60000,
                     producer_id: int = -1, producer_epoch: int = -1) -> InitProducerIdResult:
    """InitProducerId without a transactional id (an idempotent producer)."""
    c = Codec(API_INIT_PRODUCER_ID, version)
    body = c.string(None) + int32(transaction_timeout_ms)
    if version >= 3:
        body += int64(producer_id) + int16(producer_epoch)
    r = call(sock, API_INIT_PRODUCER_ID, version, body + c.tags())
    r.int32()  # throttle
    return InitProducerIdResult(r.int16(), r.int64(), r.int16())


def init_producer_id_settled(bootstrap: str, *, version: int = 4) -> InitProducerIdResult:
    """InitProducerId, retried (bounded) while the broker answers COORDINATOR_LOAD_IN_PROGRESS:
    Kafka does until its controller has handed it a block of producer ids."""
    deadline = time.monotonic() + READY_WAIT_S
    while True:
        with connect(bootstrap) as s:
            res = init_producer_id(s, version=version)
        if res.error_code != ERROR_COORDINATOR_LOAD_IN_PROGRESS or time.monotonic() >= deadline:
            return res
        time.sleep(READY_POLL_S)


# --------------------------------------------------------------------------- Produce


def produce_body(topic: str, partition: int, records: bytes | None, *, version: int, acks: int = -1,
                 timeout_ms: int = 30000) -> bytes:
    """Produce v3-v11 for one partition, no transactional id."""
    c = Codec(API_PRODUCE, version)
    part = int32(partition) + c.bytes(records) + c.tags()
    return (c.string(None) + int16(acks) + int32(timeout_ms)
            + c.array([c.string(topic) + c.array([part]) + c.tags()]) + c.tags())


def parse_produce_response(r: Reader, version: int) -> dict[tuple[str, int], ProducePartitionResult]:
    c = Codec(API_PRODUCE, version)
    out: dict[tuple[str, int], ProducePartitionResult] = {}

    def record_error(rr: Reader) -> tuple[int, str | None]:
        idx, msg = rr.int32(), c.read_string(rr)
        c.skip_tags(rr)
        return idx, msg

    def partition(rr: Reader, name: str) -> None:
        idx, err, base = rr.int32(), rr.int16(), rr.int64()
        rr.int64()  # log append time
        if version >= 5:
            rr.int64()  # log start offset
        res = ProducePartitionResult(err, base)
        if version >= 8:
            res.record_errors = c.read_array(rr, record_error) or []
            res.error_message = c.read_string(rr)
        c.skip_tags(rr)
        out[(name, idx)] = res

    def topic(rr: Reader) -> None:
        name = c.read_string(rr)
        c.read_array(rr, lambda pr: partition(pr, name))
        c.skip_tags(rr)

    c.read_array(r, topic)
    r.int32()  # throttle
    c.skip_tags(r)
    return out


def send_produce(sock: socket.socket, topic: str, partition: int, records: bytes | None, *, version: int = 8,
                 acks: int = -1, timeout_ms: int = 30000) -> int:
    """Send a Produce (v3-v11) without reading any response; returns its correlation id."""
    if not 3 <= version <= 11:
        raise ValueError("Produce v3-v11 only")
    return send_request(sock, API_PRODUCE, version,
                        produce_body(topic, partition, records, version=version, acks=acks, timeout_ms=timeout_ms))


def produce(sock: socket.socket, topic: str, partition: int, records: bytes | None, *, version: int = 8,
            acks: int = -1) -> ProducePartitionResult:
    cid = send_produce(sock, topic, partition, records, version=version, acks=acks)
    results = parse_produce_response(read_response(sock, API_PRODUCE, version, cid), version)
    return results[(topic, partition)]


# --------------------------------------------------------------------------- Fetch


@dataclass
class FetchPartition:
    topic: str
    partition: int
    fetch_offset: int
    partition_max_bytes: int = 1024 * 1024
    current_leader_epoch: int = -1
    log_start_offset: int = -1


@dataclass
class FetchPartitionResult:
    error_code: int
    high_watermark: int
    last_stable_offset: int
    log_start_offset: int
    aborted_transactions: list[tuple[int, int]] | None
    records: bytes | None

    @property
    def batches(self) -> list[StoredBatch]:
        return parse_batches(self.records)


@dataclass
class FetchResult:
    error_code: int
    session_id: int
    partitions: dict[tuple[str, int], FetchPartitionResult]


def fetch_body(partitions: list[FetchPartition], *, version: int, max_wait_ms: int, min_bytes: int,
               max_bytes: int, isolation_level: int, session_id: int, session_epoch: int) -> bytes:
    c = Codec(API_FETCH, version)
    by_topic: dict[str, list[FetchPartition]] = {}
    for p in partitions:
        by_topic.setdefault(p.topic, []).append(p)

    def part(p: FetchPartition) -> bytes:
        out = int32(p.partition)
        if version >= 9:
            out += int32(p.current_leader_epoch)
        out += int64(p.fetch_offset)
        if version >= 12:
            out += int32(-1)  # last fetched epoch
        if version >= 5:
            out += int64(p.log_start_offset)
        return out + int32(p.partition_max_bytes) + c.tags()

    body = int32(-1) + int32(max_wait_ms) + int32(min_bytes)
    if version >= 3:
        body += int32(max_bytes)
    if version >= 4:
        body += int8(isolation_level)
    if version >= 7:
        body += int32(session_id) + int32(session_epoch)
    body += c.array([c.string(t) + c.array([part(p) for p in ps]) + c.tags() for t, ps in by_topic.items()])
    if version >= 7:
        body += c.array([])  # forgotten topics
    if version >= 11:
        body += c.string("")  # rack id
    return body + c.tags()


def parse_fetch_response(r: Reader, version: int) -> FetchResult:
    c = Codec(API_FETCH, version)
    r.int32()  # throttle
    error = r.int16() if version >= 7 else 0
    session_id = r.int32() if version >= 7 else 0
    out: dict[tuple[str, int], FetchPartitionResult] = {}

    def aborted(rr: Reader) -> tuple[int, int]:
        pid, first = rr.int64(), rr.int64()
        c.skip_tags(rr)
        return pid, first

    def partition(rr: Reader, topic: str) -> None:
        idx, err, hw = rr.int32(), rr.int16(), rr.int64()
        lso = rr.int64() if version >= 4 else -1
        lstart = rr.int64() if version >= 5 else -1
        txns = c.read_array(rr, aborted) if version >= 4 else None
        if version >= 11:
            rr.int32()  # preferred read replica
        records = c.read_bytes(rr)
        c.skip_tags(rr)
        out[(topic, idx)] = FetchPartitionResult(err, hw, lso, lstart, txns, records)

    def topic(rr: Reader) -> None:
        name = c.read_string(rr)
        c.read_array(rr, lambda pr: partition(pr, name))
        c.skip_tags(rr)

    c.read_array(r, topic)
    c.skip_tags(r)
    return FetchResult(error, session_id, out)


def fetch(sock: socket.socket, partitions: list[FetchPartition], *, version: int = 11, max_wait_ms: int = 0,
          min_bytes: int = 1, max_bytes: int = 50 * 1024 * 1024, isolation_level: int = 0,
          session_id: int = 0, session_epoch: int = -1) -> FetchResult:
    """One Fetch (v4-v12). session_epoch -1 (the default) is a full fetch without a
    session; session_id 0 with epoch 0 asks the broker to create one."""
    if not 4 <= version <= 12:
        raise ValueError("Fetch v4-v12 only")
    body = fetch_body(partitions, version=version, max_wait_ms=max_wait_ms, min_bytes=min_bytes,
                      max_bytes=max_bytes, isolation_level=isolation_level, session_id=session_id,
                      session_epoch=session_epoch)
    return parse_fetch_response(call(sock, API_FETCH, version, body), version)


def fetch_one(sock: socket.socket, topic: str, partition: int, offset: int, **kwargs) -> FetchPartitionResult:
    pmax = kwargs.pop("partition_max_bytes", 1024 * 1024)
    return fetch(sock, [FetchPartition(topic, partition, offset, pmax)], **kwargs).partitions[(topic, partition)]


# --------------------------------------------------------------------------- ListOffsets


@dataclass
class ListOffsetsResult:
    error_code: int
    timestamp: int
    offset: int
    leader_epoch: int


def list_offsets(sock: socket.socket, topic: str, partition: int, timestamp: int, *, version: int = 7,
                 isolation_level: int = 0) -> ListOffsetsResult:
    """ListOffsets v1-v7 for one partition."""
    if not 1 <= version <= 7:
        raise ValueError("ListOffsets v1-v7 only")
    c = Codec(API_LIST_OFFSETS, version)
    part = int32(partition) + (int32(-1) if version >= 4 else b"") + int64(timestamp) + c.tags()
    body = int32(-1) + (int8(isolation_level) if version >= 2 else b"")
    body += c.array([c.string(topic) + c.array([part]) + c.tags()]) + c.tags()
    r = call(sock, API_LIST_OFFSETS, version, body)
    if version >= 2:
        r.int32()  # throttle
    found: dict[tuple[str, int], ListOffsetsResult] = {}

    def partition_result(rr: Reader, name: str) -> None:
        idx, err, ts, off = rr.int32(), rr.int16(), rr.int64(), rr.int64()
        epoch = rr.int32() if version >= 4 else -1
        c.skip_tags(rr)
        found[(name, idx)] = ListOffsetsResult(err, ts, off, epoch)

    def topic_result(rr: Reader) -> None:
        name = c.read_string(rr)
        c.read_array(rr, lambda pr: partition_result(pr, name))
        c.skip_tags(rr)

    c.read_array(r, topic_result)
    return found[(topic, partition)]


def create_topic(bootstrap: str, name: str, partitions: int = 1, configs: dict[str, str] | None = None) -> None:
    """CreateTopics (replication factor 1), then wait until every partition serves."""
    with connect(bootstrap) as s:
        err, msg = create_topics_v2(s, name, partitions, configs=configs)
    if err != ERROR_NONE:
        raise AssertionError(f"CreateTopics {name}: error {err} {msg!r}")
    wait_partitions_ready(bootstrap, name, partitions)


def wait_partitions_ready(bootstrap: str, topic: str, partitions: int = 1, timeout_s: float = READY_WAIT_S) -> None:
    """Bounded wait until every partition's leader answers ListOffsets without error: the
    partition then takes produces and fetches (Kafka needs a moment after CreateTopics)."""
    deadline = time.monotonic() + timeout_s
    pending = set(range(partitions))
    last: dict[int, int] = {}
    while True:
        with connect(bootstrap) as s:
            for p in sorted(pending):
                last[p] = list_offsets(s, topic, p, LATEST_TIMESTAMP, version=1).error_code
                if last[p] == ERROR_NONE:
                    pending.discard(p)
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"{topic}: partitions {sorted(pending)} not ready after {timeout_s}s: {last}")
        time.sleep(READY_POLL_S)


# --------------------------------------------------------------------------- OffsetForLeaderEpoch


@dataclass
class EpochEndOffset:
    error_code: int
    leader_epoch: int
    end_offset: int


def offset_for_leader_epoch(sock: socket.socket, topic: str, partition: int, leader_epoch: int, *,
                            version: int = 4, current_leader_epoch: int = -1) -> EpochEndOffset:
    """OffsetForLeaderEpoch v2-v4 as a consumer sends it (replica id -1 from v3)."""
    if not 2 <= version <= 4:
        raise ValueError("OffsetForLeaderEpoch v2-v4 only")
    c = Codec(API_OFFSET_FOR_LEADER_EPOCH, version)
    part = int32(partition) + int32(current_leader_epoch) + int32(leader_epoch) + c.tags()
    body = (int32(-1) if version >= 3 else b"") + c.array([c.string(topic) + c.array([part]) + c.tags()]) + c.tags()
    r = call(sock, API_OFFSET_FOR_LEADER_EPOCH, version, body)
    r.int32()  # throttle
    found: dict[tuple[str, int], EpochEndOffset] = {}

    def partition_result(rr: Reader, name: str) -> None:
        err, idx, epoch, end = rr.int16(), rr.int32(), rr.int32(), rr.int64()
        c.skip_tags(rr)
        found[(name, idx)] = EpochEndOffset(err, epoch, end)

    def topic_result(rr: Reader) -> None:
        name = c.read_string(rr)
        c.read_array(rr, lambda pr: partition_result(pr, name))
        c.skip_tags(rr)

    c.read_array(r, topic_result)
    return found[(topic, partition)]


# --------------------------------------------------------------------------- Metadata v4-v8


@dataclass
class MetadataTopic:
    error_code: int
    partitions: dict[int, tuple[int, int]]  # index -> (error, leader)


@dataclass
class Metadata:
    brokers: list[tuple[int, str, int]]  # (node id, host, port)
    cluster_id: str | None
    controller_id: int
    topics: dict[str, MetadataTopic]


def metadata(sock: socket.socket, topics: list[str] | None, *, version: int = 8,
             allow_auto_topic_creation: bool = True) -> Metadata:
    """Metadata v4-v8 (the non-flexible versions with allow_auto_topic_creation)."""
    if not 4 <= version <= 8:
        raise ValueError("Metadata v4-v8 only")
    body = array(None if topics is None else [string(t) for t in topics]) + int8(int(allow_auto_topic_creation))
    if version >= 8:
        body += int8(0) + int8(0)  # no authorized operations
    r = call(sock, API_METADATA, version, body)
    r.int32()  # throttle
    brokers = r.array(lambda rr: (rr.int32(), rr.string(), rr.int32(), rr.string())) or []
    cluster_id = r.string()
    controller_id = r.int32()

    def partition(rr: Reader):
        err, idx, leader = rr.int16(), rr.int32(), rr.int32()
        if version >= 7:
            rr.int32()  # leader epoch
        rr.array(Reader.int32)  # replicas
        rr.array(Reader.int32)  # isr
        if version >= 5:
            rr.array(Reader.int32)  # offline replicas
        return idx, (err, leader)

    def topic(rr: Reader):
        err, name, _internal = rr.int16(), rr.string(), rr.int8()
        parts = dict(rr.array(partition) or [])
        if version >= 8:
            rr.int32()  # topic authorized operations
        return name, MetadataTopic(err, parts)

    found = dict(r.array(topic) or [])
    if version >= 8:
        r.int32()  # cluster authorized operations
    return Metadata([(b[0], b[1], b[2]) for b in brokers], cluster_id, controller_id, found)
