"""Log compaction of a cleanup.policy=compact topic, seen by a real consumer.

Both brokers run their cleaner on their own schedule (Kafka's log.cleaner.backoff.ms is
15 s, and so is Runnel's), so the test produces enough overwritten keys to roll several
segments and then waits, bounded, until a consumer reading from the beginning sees fewer
records than were produced, with the latest value of every key intact.
"""

from __future__ import annotations

import time

from harness import wire_protocol as wp
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

KEYS = 20
ROUNDS = 60
VALUE_BYTES = 2_000
# Kafka's minimum segment.bytes (1 MiB); ROUNDS * KEYS * VALUE_BYTES is about 2.4 MB.
SEGMENT_BYTES = 1 << 20
COMPACTION_WAIT_S = 90
POLL_WAIT_S = 10


def read_all(bootstrap: str, topic: str) -> list[tuple[bytes, bytes]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        end = consumer.end_offsets([partition])[partition]
        records: list[tuple[bytes, bytes]] = []
        deadline = time.monotonic() + POLL_WAIT_S
        while consumer.position(partition) < end and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend((r.key, r.value) for r in batch)
        assert consumer.position(partition) >= end, f"could not read to the end ({end}) of {topic}"
        return records
    finally:
        consumer.close()


def test_compacted_topic_keeps_the_latest_value_of_every_key(broker, topic):
    wp.create_topic(broker.bootstrap, topic, 1, configs={
        "cleanup.policy": "compact",
        "segment.bytes": str(SEGMENT_BYTES),
        "min.cleanable.dirty.ratio": "0.01",
        "segment.ms": "1000",
    })
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5)
    latest = {}
    for round_index in range(ROUNDS):
        for key_index in range(KEYS):
            key = f"key-{key_index}".encode()
            value = f"{round_index:04d}".encode() + b"x" * VALUE_BYTES
            producer.send(topic, key=key, value=value, partition=0)
            latest[key] = value
    producer.flush()
    time.sleep(1.5)  # segment.ms passes, so the next append rolls the active segment
    producer.send(topic, key=b"roll", value=b"r", partition=0).get(timeout=10)
    latest[b"roll"] = b"r"
    producer.close()
    produced = ROUNDS * KEYS + 1

    deadline = time.monotonic() + COMPACTION_WAIT_S
    records = read_all(broker.bootstrap, topic)
    while len(records) >= produced and time.monotonic() < deadline:
        time.sleep(2)
        records = read_all(broker.bootstrap, topic)
    assert len(records) < produced, f"no compaction within {COMPACTION_WAIT_S}s ({len(records)} records)"
    seen = {}
    for key, value in records:
        seen[key] = value
    assert seen == latest, "the last record of each key must survive compaction"
