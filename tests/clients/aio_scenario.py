#!/usr/bin/env python3
"""aiokafka round trip with a chosen compression codec.

produce: AIOKafkaProducer with compression_type=<codec> (aiokafka defaults otherwise),
send() futures give (partition, offset).
consume: no group (group_id=None): assign every partition, seek_to_beginning, read until
each position reaches the end offset seen at start.
"""

from __future__ import annotations

import asyncio
import time

import aiokafka
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from _common import base_parser, log, make_records, run, text

GETMANY_TIMEOUT_MS = 500
METADATA_POLL_S = 0.2
ERROR_TOPIC_ALREADY_EXISTS = 36


async def create_topic(args) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=args.bootstrap, request_timeout_ms=int(args.timeout * 1000))
    await admin.start()
    try:
        resp = await admin.create_topics([NewTopic(args.topic, args.partitions, 1)])
        for entry in resp.topic_errors:
            name, code = entry[0], entry[1]
            if code not in (0, ERROR_TOPIC_ALREADY_EXISTS):
                raise RuntimeError(f"CreateTopics {name}: error {code} {entry[2:] }")
        log(f"created {args.topic} with {args.partitions} partitions")
    finally:
        await admin.close()


async def produce(args, result) -> None:
    codec = None if args.compression == "none" else args.compression
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, compression_type=codec)
    await producer.start()
    try:
        pending = []
        for k, v in make_records(args.topic, args.count, "aiokafka", args.run_id):
            pending.append((k, v, await producer.send(args.topic, key=k.encode(), value=v.encode())))
        for k, v, fut in pending:
            entry = {"key": k, "value": v, "partition": None, "offset": None, "error": None}
            try:
                md = await asyncio.wait_for(fut, args.timeout)
                entry["partition"], entry["offset"] = md.partition, md.offset
            except Exception as e:  # noqa: BLE001 - recorded per record
                entry["error"] = f"{type(e).__name__}: {e}"
            result["produced"].append(entry)
    finally:
        await producer.stop()


async def consume(args, result) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=args.bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        deadline = time.monotonic() + args.timeout
        partitions = None
        while not partitions and time.monotonic() < deadline:
            # consumer.topics() does not refresh the consumer's own cluster view; ask the
            # client for fresh metadata directly (no public API does this without a group).
            cluster = await consumer._client.fetch_all_metadata()
            partitions = cluster.partitions_for_topic(args.topic)
            if not partitions:
                await asyncio.sleep(METADATA_POLL_S)
        if not partitions:
            raise TimeoutError(f"no partitions for {args.topic} in metadata")
        tps = [TopicPartition(args.topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        result["end_offsets"] = {tp.partition: off for tp, off in end.items()}
        while time.monotonic() < deadline:
            positions = {tp: await consumer.position(tp) for tp in tps}
            if all(positions[tp] >= end[tp] for tp in tps):
                break
            batch = await consumer.getmany(timeout_ms=GETMANY_TIMEOUT_MS)
            for tp, msgs in batch.items():
                for m in msgs:
                    result["consumed"].append({"key": text(m.key), "value": text(m.value),
                                               "partition": m.partition, "offset": m.offset})
        else:
            raise TimeoutError(f"read {len(result['consumed'])} records; end offsets {result['end_offsets']} "
                               f"not reached")
    finally:
        await consumer.stop()


async def scenario_async(args, result) -> None:
    if args.create_topic:
        await create_topic(args)
    if args.mode in ("roundtrip", "produce"):
        await produce(args, result)
    if args.mode in ("roundtrip", "consume"):
        await consume(args, result)


def main() -> None:
    args = base_parser(__doc__).parse_args()
    run(lambda result: asyncio.run(scenario_async(args, result)), args,
        client="aiokafka", client_version=aiokafka.__version__)


if __name__ == "__main__":
    main()
