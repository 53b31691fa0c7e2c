#!/usr/bin/env python3
"""kcat (librdkafka's CLI) round trip: produce keyed lines, consume them back.

produce: `kcat -P -b B -t T -K:` fed "key:value" lines on stdin (kcat reports no
offsets, so produced entries carry partition/offset None).
consume: `kcat -C -b B -t T -o beginning -e -J` (no group: kcat's simple consumer over
every partition, exit at the end of each partition), one JSON envelope per record.
Topic creation, when asked, uses confluent-kafka's AdminClient (kcat has none).
"""

from __future__ import annotations

import json
import os
import subprocess

from _common import base_parser, log, make_records, run

KCAT = os.environ.get("RUNNEL_KCAT", "kcat")


def kcat_version() -> str:
    try:
        out = subprocess.run([KCAT, "-V"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    for line in out.splitlines():
        if line.startswith("Version"):
            return line.strip()
    return "unknown"


def create_topic(args) -> None:
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    fut = admin.create_topics([NewTopic(args.topic, num_partitions=args.partitions, replication_factor=1)],
                              operation_timeout=args.timeout, request_timeout=args.timeout)[args.topic]
    try:
        fut.result(timeout=args.timeout)
        log(f"created {args.topic} with {args.partitions} partitions")
    except KafkaException as e:
        if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise


def produce(args, result) -> None:
    records = make_records(args.topic, args.count, "kcat", args.run_id)
    lines = "".join(f"{k}:{v}\n" for k, v in records)
    cmd = [KCAT, "-P", "-b", args.bootstrap, "-t", args.topic, "-K:", "-z", args.compression]
    res = subprocess.run(cmd, input=lines, capture_output=True, text=True, timeout=args.timeout)
    log(f"kcat -P exit {res.returncode}: {res.stderr.strip()[-2000:]}")
    if res.returncode != 0:
        raise RuntimeError(f"kcat -P exited {res.returncode}: {res.stderr.strip()[-500:]}")
    result["produced"] = [{"key": k, "value": v, "partition": None, "offset": None, "error": None}
                          for k, v in records]


def consume(args, result) -> None:
    cmd = [KCAT, "-C", "-b", args.bootstrap, "-t", args.topic, "-o", "beginning", "-e", "-J", "-q"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    log(f"kcat -C exit {res.returncode}: {res.stderr.strip()[-2000:]}")
    if res.returncode != 0:
        raise RuntimeError(f"kcat -C exited {res.returncode}: {res.stderr.strip()[-500:]}")
    for line in res.stdout.splitlines():
        if not line.strip():
            continue
        env = json.loads(line)
        result["consumed"].append({"key": env.get("key"), "value": env.get("payload"),
                                   "partition": env.get("partition"), "offset": env.get("offset")})


def main() -> None:
    args = base_parser(__doc__).parse_args()

    def scenario(result):
        if args.create_topic:
            create_topic(args)
        if args.mode in ("roundtrip", "produce"):
            produce(args, result)
        if args.mode in ("roundtrip", "consume"):
            consume(args, result)

    run(scenario, args, client="kcat", client_version=kcat_version())


if __name__ == "__main__":
    main()
