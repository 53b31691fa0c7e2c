#!/usr/bin/env python3
"""confluent-kafka (librdkafka) group consumers; output: see group_common.

Each member is a Consumer in its own thread: subscribe() with on_assign/on_revoke/on_lost
callbacks (librdkafka's default eager range,roundrobin assignors), consume() batches in a
loop, commit(asynchronous=False) after each non-empty batch with --commit batch (the
stored offsets of the records just returned; see group_common for its retry), close() on stop.
Without --group the binding still needs a group.id; with assign() and no commits it is
never used on the wire. The fetch position after an assignment is known once librdkafka
reports the end of every assigned partition (enable.partition.eof).
"""

from __future__ import annotations

import time

import confluent_kafka
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from group_common import Control, assigned_partitions, debug_enabled, parser, run_threads, text, watch_client_logs


def consumer_config(ctl: Control, m: int) -> dict:
    args = ctl.args
    return {
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group or f"unused-{args.topic}",
        "client.id": f"{args.client_id}-{m}",
        "enable.auto.commit": args.commit == "auto",
        "auto.commit.interval.ms": args.auto_commit_interval_ms,
        "auto.offset.reset": args.offset_reset,
        "session.timeout.ms": args.session_timeout_ms,
        "heartbeat.interval.ms": args.heartbeat_interval_ms,
        "max.poll.interval.ms": args.max_poll_interval_ms,
        "fetch.wait.max.ms": args.fetch_max_wait_ms,
        "enable.partition.eof": True,
        "error_cb": lambda err: ctl.emit("client_error", m, error=str(err)),
        # librdkafka's own log lines (info and up) reach EventLogHandler.
        "logger": ctl.rdkafka_logger,
        **({"debug": "cgrp,protocol"} if debug_enabled() else {}),
    }


def commit(ctl: Control, m: int, consumer: Consumer, offsets: list | None) -> bool:
    """Commits and reports it; True once nothing is left to commit (a retry that finds
    every offset already committed gets _NO_OFFSET)."""
    try:
        done = consumer.commit(offsets=offsets, asynchronous=False) if offsets else \
            consumer.commit(asynchronous=False)
        errors = [f"{tp.partition}: {tp.error}" for tp in done or [] if tp.error is not None]
        ctl.emit("commit", m, offsets={str(tp.partition): tp.offset for tp in done or []},
                 ok=not errors, error="; ".join(errors) or None)
        return not errors
    except KafkaException as e:
        if e.args[0].code() == KafkaError._NO_OFFSET:
            return True
        ctl.emit("commit", m, offsets={}, ok=False, error=f"KafkaException: {e}")
        return False


def member(ctl: Control, m: int) -> None:
    args = ctl.args
    state = {"new": None, "eof": {}, "waiting": None}

    def on_assign(consumer, partitions):
        ctl.emit("assigned", m, partitions=sorted(tp.partition for tp in partitions))
        if args.reset_to_earliest:
            for tp in partitions:
                tp.offset = OFFSET_BEGINNING
            consumer.assign(partitions)
        state["new"] = sorted(tp.partition for tp in partitions)

    def on_revoke(_consumer, partitions):
        ctl.emit("revoked", m, partitions=sorted(tp.partition for tp in partitions))

    def on_lost(_consumer, partitions):
        ctl.emit("lost", m, partitions=sorted(tp.partition for tp in partitions))

    consumer = Consumer(consumer_config(ctl, m))
    ctl.emit("start", m, client_id=f"{args.client_id}-{m}")
    try:
        manual = assigned_partitions(args)
        if manual:
            consumer.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in manual])
            ctl.emit("assigned", m, partitions=manual, manual=True)
            state["new"] = manual
        else:
            consumer.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
        failed_commit = False
        while not ctl.stopping():
            msgs = consumer.consume(num_messages=args.max_poll_records, timeout=args.poll_timeout_ms / 1000.0)
            if state["new"] is not None:
                parts, state["new"] = state["new"], None
                failed_commit = False
                if args.reset_to_earliest:
                    if not parts:
                        continue
                    lows = [TopicPartition(args.topic, p, consumer.get_watermark_offsets(
                        TopicPartition(args.topic, p), timeout=10)[0]) for p in parts]
                    commit(ctl, m, consumer, lows)
                    ctl.request_stop()
                    break
                state["eof"], state["waiting"] = {}, set(parts)
            records = []
            for msg in msgs:
                err = msg.error()
                if err is None:
                    records.append([msg.partition(), msg.offset(), text(msg.key()), text(msg.value())])
                elif err.code() == KafkaError._PARTITION_EOF:
                    state["eof"][str(msg.partition())] = msg.offset()
                else:
                    ctl.emit("client_error", m, error=str(err))
            waiting = state["waiting"]
            if waiting is not None and {int(p) for p in state["eof"]} >= waiting:
                ctl.emit("positioned", m, positions={p: state["eof"][p] for p in map(str, sorted(waiting))})
                state["waiting"] = None
            if args.reset_to_earliest:
                continue
            if not records:
                if failed_commit:
                    failed_commit = not commit(ctl, m, consumer, None)
                continue
            ctl.emit("records", m, records=records)
            if args.process_delay_ms:
                time.sleep(args.process_delay_ms * len(records) / 1000.0)
            if args.commit == "batch":
                failed_commit = not commit(ctl, m, consumer, None)
            ctl.add_records(len(records))
    finally:
        consumer.close()
        ctl.emit("closed", m)


def main() -> None:
    args = parser(__doc__).parse_args()
    ctl = Control(args, "confluent-kafka", confluent_kafka.__version__)
    ctl.rdkafka_logger = watch_client_logs(ctl, "rdkafka")
    run_threads(ctl, member)


if __name__ == "__main__":
    main()
