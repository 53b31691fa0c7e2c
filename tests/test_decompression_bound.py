"""A compressed batch that inflates far beyond message.max.bytes is refused without the
broker spending memory on it, and the broker goes on serving.

Runnel bounds decompression at 64 x message.max.bytes per batch (runnel-protocol's
DecodeLimits). Kafka has no such bound and would inflate and accept the same batch, so this
guard runs against Runnel only.
"""

from __future__ import annotations

import gzip
import io

from harness import wire
from harness import wire_protocol as wp

# One record whose value is 200 MB of zeros: about 200 KB once gzipped, 190 x the default
# message.max.bytes when inflated.
BOMB_VALUE_BYTES = 200 * 1024 * 1024
MESSAGE_TOO_LARGE = 10


def gzip_bomb_batch() -> bytes:
    """The records section is streamed through the compressor a MiB at a time, so the test
    itself never holds the 200 MB value."""
    head = wire.int8(0) + wire.varint(0) + wire.varint(0) + wire.varint(-1)  # attributes, deltas, null key
    head += wire.varint(BOMB_VALUE_BYTES)
    record_length = len(head) + BOMB_VALUE_BYTES + 1  # + the header count
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1) as stream:
        stream.write(wire.varint(record_length) + head)
        zeros = bytes(1 << 20)
        for _ in range(BOMB_VALUE_BYTES >> 20):
            stream.write(zeros)
        stream.write(wire.varint(0))
    return wp.batch([wp.BatchRecord(None, b"")], compression=wp.COMPRESSION_GZIP,
                    records_section=out.getvalue(), record_count=1)


def test_gzip_bomb_is_refused_and_the_broker_keeps_serving(runnel_broker, topic):
    wp.create_topic(runnel_broker.bootstrap, topic, 1)
    bomb = gzip_bomb_batch()
    assert len(bomb) < 1_048_588, "the bomb itself must fit message.max.bytes"
    with wire.connect(runnel_broker.bootstrap) as sock:
        result = wp.produce(sock, topic, 0, bomb)
    assert result.error_code == MESSAGE_TOO_LARGE, result
    with wire.connect(runnel_broker.bootstrap) as sock:
        ok = wp.produce(sock, topic, 0, wp.batch([wp.BatchRecord(b"k", b"v")]))
    assert (ok.error_code, ok.base_offset) == (0, 0), ok
