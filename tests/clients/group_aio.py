#!/usr/bin/env python3
"""aiokafka group consumers; output: see group_common.

Each member is an AIOKafkaConsumer in its own asyncio task: subscribe() with a
ConsumerRebalanceListener (aiokafka's default eager round-robin assignor), getmany() in a
loop, commit() after each non-empty batch with --commit batch (see group_common for its
retry), stop() on stop.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import aiokafka
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from group_common import (STOP_POLL_S, Control, assigned_partitions, batch_offsets, parser, setup_logging, text,
                          watch_client_logs)

CLOSE_WAIT_S = 30.0


class Listener(ConsumerRebalanceListener):
    def __init__(self, ctl: Control, m: int):
        self.ctl, self.m = ctl, m
        self.new_assignment = None

    async def on_partitions_revoked(self, revoked):
        self.ctl.emit("revoked", self.m, partitions=sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned):
        self.ctl.emit("assigned", self.m, partitions=sorted(tp.partition for tp in assigned))
        self.new_assignment = sorted(assigned)


async def commit(ctl: Control, m: int, consumer, offsets: dict | None, shown: dict) -> bool:
    try:
        await consumer.commit(offsets)
        ctl.emit("commit", m, offsets=shown, ok=True, error=None)
        return True
    except Exception as e:  # noqa: BLE001 - a failed commit is an outcome, not a crash
        ctl.emit("commit", m, offsets=shown, ok=False, error=f"{type(e).__name__}: {e}")
        return False


async def member(ctl: Control, m: int) -> None:
    args = ctl.args
    consumer = AIOKafkaConsumer(
        bootstrap_servers=args.bootstrap, group_id=args.group, client_id=f"{args.client_id}-{m}",
        enable_auto_commit=args.commit == "auto", auto_commit_interval_ms=args.auto_commit_interval_ms,
        auto_offset_reset=args.offset_reset, session_timeout_ms=args.session_timeout_ms,
        heartbeat_interval_ms=args.heartbeat_interval_ms, max_poll_interval_ms=args.max_poll_interval_ms,
        max_poll_records=args.max_poll_records, fetch_max_wait_ms=args.fetch_max_wait_ms)
    await consumer.start()
    ctl.emit("start", m, client_id=f"{args.client_id}-{m}")
    listener = None
    try:
        manual = assigned_partitions(args)
        if manual:
            tps = [TopicPartition(args.topic, p) for p in manual]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ctl.emit("assigned", m, partitions=manual, manual=True)
            ctl.emit("positioned", m, positions={str(tp.partition): await consumer.position(tp) for tp in tps})
        else:
            listener = Listener(ctl, m)
            consumer.subscribe([args.topic], listener=listener)
        failed_commit = None
        while not ctl.stopping():
            batch = await consumer.getmany(timeout_ms=args.poll_timeout_ms)
            if listener is not None and listener.new_assignment is not None:
                tps, listener.new_assignment = listener.new_assignment, None
                failed_commit = None
                if args.reset_to_earliest:
                    if not tps:
                        continue
                    await consumer.seek_to_beginning(*tps)
                    positions = {tp: await consumer.position(tp) for tp in tps}
                    await commit(ctl, m, consumer, positions, {str(tp.partition): o for tp, o in positions.items()})
                    ctl.request_stop()
                    break
                ctl.emit("positioned", m, positions={str(tp.partition): await consumer.position(tp) for tp in tps})
            if args.reset_to_earliest:
                continue
            records = [[r.partition, r.offset, text(r.key), text(r.value)]
                       for msgs in batch.values() for r in msgs]
            if not records:
                if failed_commit is not None and await commit(ctl, m, consumer, None, failed_commit):
                    failed_commit = None
                continue
            ctl.emit("records", m, records=records)
            if args.process_delay_ms:
                await asyncio.sleep(args.process_delay_ms * len(records) / 1000.0)
            if args.commit == "batch":
                shown = batch_offsets(records)
                failed_commit = None if await commit(ctl, m, consumer, None, shown) else shown
            ctl.add_records(len(records))
    finally:
        await consumer.stop()
        ctl.emit("closed", m)


async def guarded(ctl: Control, m: int) -> None:
    try:
        await member(ctl, m)
    except BaseException as e:  # noqa: BLE001 - reported in the output, never silent
        ctl.fail(m, e)


async def run_all(ctl: Control) -> None:
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, ctl.request_stop)
    tasks = [asyncio.create_task(guarded(ctl, m)) for m in range(ctl.args.members)]
    while not ctl.stopping() and not all(t.done() for t in tasks):
        ctl.check_runtime()
        await asyncio.sleep(STOP_POLL_S)
    _done, pending = await asyncio.wait(tasks, timeout=CLOSE_WAIT_S)
    if pending and ctl.error is None:
        ctl.error = f"{len(pending)} members still closing {CLOSE_WAIT_S}s after the stop request"


def main() -> None:
    args = parser(__doc__).parse_args()
    setup_logging()
    ctl = Control(args, "aiokafka", aiokafka.__version__)
    watch_client_logs(ctl, "aiokafka")
    try:
        asyncio.run(run_all(ctl))
    except BaseException as e:  # noqa: BLE001 - the result line must say what went wrong
        ctl.fail(None, e)
    sys.exit(ctl.finish())


if __name__ == "__main__":
    main()
