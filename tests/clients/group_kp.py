#!/usr/bin/env python3
"""kafka-python group consumers (2.0.2 in .venv-kp2, 3.x in .venv); output: see group_common.

Each member is a KafkaConsumer in its own thread: subscribe() with a
ConsumerRebalanceListener (or assign() without a group), poll() in a loop, commit() after
each non-empty batch with --commit batch (see group_common for its retry), close() on stop.
"""

from __future__ import annotations

import time

import kafka
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from group_common import (Control, assigned_partitions, batch_offsets, parser, run_threads, setup_logging, text,
                          watch_client_logs)


# kafka-python 3.0.x can lose its own rebalance. The coordinator builds the leader's
# metadata snapshot (partitions per subscribed topic) when it is created, before subscribe(),
# and rebuilds it only when a metadata response arrives. If the first JoinGroup completes
# before the metadata request subscribe() starts, the leader records an empty snapshot with
# its assignment and rejoins once that response arrives; if the poll() that starts this
# second join times out while it is in flight, the leader's new assignment snapshot makes
# need_rejoin() False, join_group_async() returns without awaiting the in-flight join, and
# the member never applies its SyncGroup answer nor heartbeats again. Seen on both
# brokers, here once in five runs of the two-member tests; the debug log then shows
# "need_rejoin: True (assignment_snapshot != metadata_snapshot: {} != {...})" after the
# first assignment. A full metadata round trip after subscribe() and before the first
# poll() (consumer.topics()) rebuilds the snapshot first, so the first assignment is made
# from the topic's partitions. 2.0.2 has neither the race nor the need.
WARM_METADATA = int(kafka.__version__.split(".")[0]) >= 3


def consumer_config(args, m: int) -> dict:
    return dict(
        bootstrap_servers=args.bootstrap, group_id=args.group, client_id=f"{args.client_id}-{m}",
        enable_auto_commit=args.commit == "auto", auto_commit_interval_ms=args.auto_commit_interval_ms,
        auto_offset_reset=args.offset_reset, session_timeout_ms=args.session_timeout_ms,
        heartbeat_interval_ms=args.heartbeat_interval_ms, max_poll_interval_ms=args.max_poll_interval_ms,
        max_poll_records=args.max_poll_records, fetch_max_wait_ms=args.fetch_max_wait_ms,
    )


class Listener(ConsumerRebalanceListener):
    def __init__(self, ctl: Control, m: int):
        self.ctl, self.m = ctl, m
        self.new_assignment = None

    def on_partitions_revoked(self, revoked):
        self.ctl.emit("revoked", self.m, partitions=sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned):
        self.ctl.emit("assigned", self.m, partitions=sorted(tp.partition for tp in assigned))
        self.new_assignment = sorted(assigned)


def commit(ctl: Control, m: int, consumer, offsets: dict | None, shown: dict) -> bool:
    try:
        if offsets is None:
            consumer.commit()
        else:
            consumer.commit(offsets)
        ctl.emit("commit", m, offsets=shown, ok=True, error=None)
        return True
    except Exception as e:  # noqa: BLE001 - a failed commit is an outcome, not a crash
        ctl.emit("commit", m, offsets=shown, ok=False, error=f"{type(e).__name__}: {e}")
        return False


def member(ctl: Control, m: int) -> None:
    args = ctl.args
    consumer = KafkaConsumer(**consumer_config(args, m))
    ctl.emit("start", m, client_id=f"{args.client_id}-{m}")
    listener = None
    try:
        manual = assigned_partitions(args)
        if manual:
            tps = [TopicPartition(args.topic, p) for p in manual]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            ctl.emit("assigned", m, partitions=manual, manual=True)
            ctl.emit("positioned", m, positions={str(tp.partition): consumer.position(tp) for tp in tps})
        else:
            listener = Listener(ctl, m)
            consumer.subscribe([args.topic], listener=listener)
            if WARM_METADATA:
                consumer.topics()
        failed_commit = None
        while not ctl.stopping():
            batch = consumer.poll(timeout_ms=args.poll_timeout_ms)
            if listener is not None and listener.new_assignment is not None:
                tps, listener.new_assignment = listener.new_assignment, None
                failed_commit = None
                if args.reset_to_earliest:
                    if not tps:
                        continue
                    consumer.seek_to_beginning(*tps)
                    positions = {tp: consumer.position(tp) for tp in tps}
                    commit(ctl, m, consumer, {tp: OffsetAndMetadata(off, "") for tp, off in positions.items()},
                           {str(tp.partition): off for tp, off in positions.items()})
                    ctl.request_stop()
                    break
                ctl.emit("positioned", m, positions={str(tp.partition): consumer.position(tp) for tp in tps})
            if args.reset_to_earliest:
                continue
            records = [[r.partition, r.offset, text(r.key), text(r.value)]
                       for msgs in batch.values() for r in msgs]
            if not records:
                if failed_commit is not None and commit(ctl, m, consumer, None, failed_commit):
                    failed_commit = None
                continue
            ctl.emit("records", m, records=records)
            if args.process_delay_ms:
                time.sleep(args.process_delay_ms * len(records) / 1000.0)
            if args.commit == "batch":
                shown = batch_offsets(records)
                failed_commit = None if commit(ctl, m, consumer, None, shown) else shown
            ctl.add_records(len(records))
    finally:
        consumer.close()
        ctl.emit("closed", m)


def main() -> None:
    args = parser(__doc__).parse_args()
    setup_logging()
    ctl = Control(args, "kafka-python", kafka.__version__)
    watch_client_logs(ctl, "kafka")
    run_threads(ctl, member)


if __name__ == "__main__":
    main()
