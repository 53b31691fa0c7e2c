#!/usr/bin/env python3
"""A paced acks=all idempotent kafka-python 3.x producer that reports every outcome live.

Meant to run while the broker is killed and restarted under it. stdout is JSON lines:
  {"event": "start", "idempotent": bool}
  {"event": "ack", "key", "value", "partition", "offset"}      one per acknowledged record
  {"event": "error", "key", "value", "error"}                  one per failed record
  {"event": "done", "acked": n, "failed": n, "unresolved": n, "error": str|null}  last line
Retries are the producer's own (kafka-python 3.x idempotent defaults: infinite retries
within delivery_timeout_ms); reconnect backoff is capped low so recovery is quick.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import kafka
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from _common import base_parser, make_records

RECONNECT_BACKOFF_MAX_MS = 1000

_out_lock = threading.Lock()


def emit(obj: dict) -> None:
    with _out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def main() -> None:
    p = base_parser(__doc__)
    p.add_argument("--interval-ms", type=float, default=2.0, help="pause between sends")
    p.add_argument("--delivery-timeout-ms", type=int, default=120000)
    args = p.parse_args()
    counts = {"acked": 0, "failed": 0}
    error = None
    producer = None
    try:
        if args.create_topic:
            admin = KafkaAdminClient(bootstrap_servers=args.bootstrap)
            try:
                admin.create_topics([NewTopic(args.topic, args.partitions, 1)])
            except TopicAlreadyExistsError:
                pass
            finally:
                admin.close()
        producer = KafkaProducer(bootstrap_servers=args.bootstrap, acks="all", enable_idempotence=True,
                                 linger_ms=5, delivery_timeout_ms=args.delivery_timeout_ms,
                                 reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS)
        emit({"event": "start", "idempotent": producer.config.get("enable_idempotence"),
              "client_version": kafka.__version__})

        # kafka-python calls callback(*bound_args, result).
        def on_ack(key, value, md):
            with _out_lock:
                counts["acked"] += 1
            emit({"event": "ack", "key": key, "value": value, "partition": md.partition, "offset": md.offset})

        def on_error(key, value, exc):
            with _out_lock:
                counts["failed"] += 1
            emit({"event": "error", "key": key, "value": value, "error": f"{type(exc).__name__}: {exc}"})

        for k, v in make_records(args.topic, args.count, "kafka-python-stream", args.run_id):
            fut = producer.send(args.topic, key=k.encode(), value=v.encode())
            fut.add_callback(on_ack, k, v)
            fut.add_errback(on_error, k, v)
            time.sleep(args.interval_ms / 1000.0)
        producer.flush(timeout=args.timeout)
    except BaseException as e:  # noqa: BLE001 - reported in the done line
        error = f"{type(e).__name__}: {e}"
    finally:
        if producer is not None:
            try:
                producer.close(timeout=5)
            except Exception:  # noqa: BLE001
                pass
    with _out_lock:
        acked, failed = counts["acked"], counts["failed"]
    emit({"event": "done", "acked": acked, "failed": failed,
          "unresolved": args.count - acked - failed, "error": error})


if __name__ == "__main__":
    main()
