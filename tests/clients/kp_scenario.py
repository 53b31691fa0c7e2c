#!/usr/bin/env python3
"""kafka-python round trip (works with 2.0.2 in .venv-kp2 and 3.x in .venv).

produce: the client's DEFAULT producer (3.x: idempotent, acks=all; 2.0.2: acks=1), keyed
JSON records, every future resolved to (partition, offset).
consume: no group: assign every partition, seek_to_beginning, read until each position
reaches the end offset seen at start (so duplicates and extras are read too).
"""

from __future__ import annotations

import time

import kafka
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from _common import base_parser, log, make_records, run, text

POLL_TIMEOUT_MS = 500
METADATA_POLL_S = 0.2


def create_topic(args) -> None:
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap, client_id="runnel-tests-admin",
                             request_timeout_ms=int(args.timeout * 1000))
    try:
        admin.create_topics([NewTopic(args.topic, args.partitions, 1)])
        log(f"created {args.topic} with {args.partitions} partitions")
    except TopicAlreadyExistsError:
        log(f"{args.topic} already exists")
    finally:
        admin.close()


def produce(args, result) -> None:
    codec = None if args.compression == "none" else args.compression
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, compression_type=codec)
    result["producer_acks"] = producer.config.get("acks")
    result["idempotent"] = producer.config.get("enable_idempotence")
    pending = [(k, v, producer.send(args.topic, key=k.encode(), value=v.encode())) for k, v in make_records(args.topic, args.count, "kafka-python", args.run_id)]
    producer.flush(timeout=args.timeout)
    for k, v, fut in pending:
        entry = {"key": k, "value": v, "partition": None, "offset": None, "error": None}
        try:
            md = fut.get(timeout=args.timeout)
            entry["partition"], entry["offset"] = md.partition, md.offset
        except Exception as e:  # noqa: BLE001 - recorded per record
            entry["error"] = f"{type(e).__name__}: {e}"
        result["produced"].append(entry)
    producer.close(timeout=10)


def consume(args, result) -> None:
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", request_timeout_ms=30000)
    try:
        deadline = time.monotonic() + args.timeout
        partitions = None
        while not partitions and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(args.topic)
            if not partitions:
                time.sleep(METADATA_POLL_S)
        if not partitions:
            raise TimeoutError(f"no partitions for {args.topic} in metadata")
        tps = [TopicPartition(args.topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        result["end_offsets"] = {tp.partition: off for tp, off in end.items()}
        while time.monotonic() < deadline:
            if all(consumer.position(tp) >= end[tp] for tp in tps):
                break
            for tp, msgs in consumer.poll(timeout_ms=POLL_TIMEOUT_MS).items():
                for m in msgs:
                    result["consumed"].append({"key": text(m.key), "value": text(m.value),
                                               "partition": m.partition, "offset": m.offset})
        else:
            positions = {tp.partition: consumer.position(tp) for tp in tps}
            raise TimeoutError(f"read {len(result['consumed'])} records; positions {positions} "
                               f"never reached end offsets {result['end_offsets']}")
    finally:
        consumer.close()


def main() -> None:
    args = base_parser(__doc__).parse_args()

    def scenario(result):
        if args.create_topic:
            create_topic(args)
        if args.mode in ("roundtrip", "produce"):
            produce(args, result)
        if args.mode in ("roundtrip", "consume"):
            consume(args, result)

    run(scenario, args, client="kafka-python", client_version=kafka.__version__)


if __name__ == "__main__":
    main()
