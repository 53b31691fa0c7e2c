"""One consumer-group member for bench/rebalance.py (runs in the test venv).

Subscribes to a topic in a group with confluent-kafka (librdkafka) at its default settings
and prints one JSON line per event: {"event": "subscribing"|"assigned"|"revoked",
"partitions": [...], "t": wall-clock seconds}. Polls until killed.
"""

import argparse
import json
import sys
import time

from confluent_kafka import Consumer


def emit(event, partitions=()):
    sys.stdout.write(json.dumps({"event": event, "partitions": sorted(p.partition for p in partitions),
                                 "t": time.time()}) + "\n")
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    args = parser.parse_args()
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group,
                         "session.timeout.ms": 10000, "enable.auto.commit": False})
    emit("subscribing")
    consumer.subscribe([args.topic], on_assign=lambda c, ps: emit("assigned", ps),
                       on_revoke=lambda c, ps: emit("revoked", ps))
    while True:
        consumer.poll(0.05)


if __name__ == "__main__":
    main()
