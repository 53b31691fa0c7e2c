#!/usr/bin/env python3
"""confluent-kafka (librdkafka) round trip with a chosen compression codec.

produce: Producer with compression.type=<codec> (librdkafka defaults otherwise:
idempotence off, acks=all), delivery reports give (partition, offset).
consume: no group membership: the binding requires a group.id, but with
enable.auto.commit=false, enable.auto.offset.store=false, assign() (never subscribe())
and every partition at OFFSET_BEGINNING, librdkafka has no reason to use it. Reads until
each partition's position reaches the high watermark seen at start.
"""

from __future__ import annotations

import os
import time

import confluent_kafka
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from _common import base_parser, log, make_records, run, text

POLL_TIMEOUT_S = 0.5


def create_topic(args) -> None:
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    futures = admin.create_topics([NewTopic(args.topic, num_partitions=args.partitions, replication_factor=1)],
                                  operation_timeout=args.timeout, request_timeout=args.timeout)
    for topic, fut in futures.items():
        try:
            fut.result(timeout=args.timeout)
            log(f"created {topic} with {args.partitions} partitions")
        except confluent_kafka.KafkaException as e:
            if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


def produce(args, result) -> None:
    producer = Producer({"bootstrap.servers": args.bootstrap, "compression.type": args.compression,
                         "linger.ms": 5})
    entries = []

    def on_delivery(err, msg, entry):
        if err is not None:
            entry["error"] = str(err)
        else:
            entry["partition"], entry["offset"] = msg.partition(), msg.offset()

    for k, v in make_records(args.topic, args.count, "confluent-kafka", args.run_id):
        entry = {"key": k, "value": v, "partition": None, "offset": None, "error": None}
        entries.append(entry)
        producer.produce(args.topic, key=k.encode(), value=v.encode(),
                         on_delivery=lambda err, msg, e=entry: on_delivery(err, msg, e))
    left = producer.flush(args.timeout)
    if left:
        for e in entries:
            if e["offset"] is None and e["error"] is None:
                e["error"] = "not delivered before flush timeout"
    result["produced"] = entries


def consume(args, result) -> None:
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        # The Python binding insists on a group.id even for assign(); with no subscribe(),
        # no commits and explicit OFFSET_BEGINNING it is never used on the wire.
        "group.id": f"unused-{args.topic}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        **({"debug": os.environ["CK_DEBUG"]} if os.environ.get("CK_DEBUG") else {}),
    })
    try:
        md = consumer.list_topics(args.topic, timeout=args.timeout)
        tmd = md.topics.get(args.topic)
        if tmd is None or tmd.error is not None or not tmd.partitions:
            raise RuntimeError(f"no metadata for {args.topic}: {None if tmd is None else tmd.error}")
        parts = sorted(tmd.partitions)
        high = {}
        for p in parts:
            _low, high[p] = consumer.get_watermark_offsets(TopicPartition(args.topic, p), timeout=args.timeout)
        result["end_offsets"] = high
        consumer.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in parts])
        position = {p: 0 for p in parts}
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline and any(position[p] < high[p] for p in parts):
            msg = consumer.poll(POLL_TIMEOUT_S)
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise confluent_kafka.KafkaException(msg.error())
            result["consumed"].append({"key": text(msg.key()), "value": text(msg.value()),
                                       "partition": msg.partition(), "offset": msg.offset()})
            position[msg.partition()] = msg.offset() + 1
        if any(position[p] < high[p] for p in parts):
            raise TimeoutError(f"read {len(result['consumed'])} records; positions {position} "
                               f"never reached high watermarks {high}")
    finally:
        consumer.close()


def main() -> None:
    args = base_parser(__doc__).parse_args()

    def scenario(result):
        result["librdkafka_version"] = confluent_kafka.libversion()[0]
        if args.create_topic:
            create_topic(args)
        if args.mode in ("roundtrip", "produce"):
            produce(args, result)
        if args.mode in ("roundtrip", "consume"):
            consume(args, result)

    run(scenario, args, client="confluent-kafka", client_version=confluent_kafka.version()[0])


if __name__ == "__main__":
    main()
