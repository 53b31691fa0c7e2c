"""Durability on a private broker: a graceful restart keeps every record at its offset,
and a kill -9 in the middle of an acks=all idempotent produce loses no acknowledged
record and duplicates none."""

from __future__ import annotations

import json
import queue
import threading
import time

from harness import run_client, start_client, verify_roundtrip

PARTITIONS = 2
RESTART_COUNT = 50
STREAM_COUNT = 3000
STREAM_INTERVAL_MS = 2
KILL_AFTER_ACKS = 300
ACK_WAIT_S = 90
PRODUCER_EXIT_WAIT_S = 200
DOWNTIME_S = 0.5
MAX_PROBLEMS_SHOWN = 8


def produce(broker, topic, run_id, *, create=False, count=RESTART_COUNT) -> list[dict]:
    args = ["--bootstrap", broker.bootstrap, "--topic", topic, "--mode", "produce", "--partitions",
            str(PARTITIONS), "--count", str(count), "--run-id", run_id]
    result = run_client("kp_scenario.py", args + (["--create-topic"] if create else []))
    return result["produced"]


def consume(broker, topic) -> list[dict]:
    return run_client("kp_scenario.py", ["--bootstrap", broker.bootstrap, "--topic", topic,
                                         "--mode", "consume"])["consumed"]


def test_graceful_restart_keeps_records_at_their_offsets(broker_kind, broker_factory, topic):
    broker = broker_factory(broker_kind)
    first = produce(broker, topic, "before", create=True)
    assert all(r["error"] is None and r["offset"] is not None for r in first), first

    broker.stop()
    assert not broker.last_stop_forced, "broker ignored SIGTERM and had to be killed"
    broker.start()

    problems = verify_roundtrip(first, consume(broker, topic), expected_count=RESTART_COUNT, partitions=PARTITIONS)
    assert not problems, "\n".join(problems[:MAX_PROBLEMS_SHOWN])

    # Appends after the restart continue each partition's offsets where they stopped.
    second = produce(broker, topic, "after")
    for p in range(PARTITIONS):
        before = [r["offset"] for r in first if r["partition"] == p]
        after = sorted(r["offset"] for r in second if r["partition"] == p)
        if after:
            assert after[0] == (max(before) + 1 if before else 0), (p, before, after)
    problems = verify_roundtrip(first + second, consume(broker, topic), expected_count=2 * RESTART_COUNT)
    assert not problems, "\n".join(problems[:MAX_PROBLEMS_SHOWN])


def _pump(stream, lines: "queue.Queue[dict]") -> None:
    for line in stream:
        line = line.strip()
        if line:
            try:
                lines.put(json.loads(line))
            except json.JSONDecodeError:
                lines.put({"event": "garbage", "line": line})
    lines.put({"event": "eof"})


def test_sigkill_during_idempotent_produce_loses_no_acknowledged_record(broker_kind, broker_factory, topic, tmp_path):
    broker = broker_factory(broker_kind)
    proc = start_client("kp_stream_produce.py",
                        ["--bootstrap", broker.bootstrap, "--topic", topic, "--create-topic",
                         "--partitions", str(PARTITIONS), "--count", str(STREAM_COUNT),
                         "--interval-ms", str(STREAM_INTERVAL_MS), "--timeout", str(PRODUCER_EXIT_WAIT_S - 20)],
                        stderr_path=tmp_path / "producer.stderr")
    events: "queue.Queue[dict]" = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, events), daemon=True).start()
    acks: list[dict] = []
    errors: list[dict] = []
    done: dict | None = None
    eof = False

    def drain(deadline: float, until) -> None:
        nonlocal done, eof
        while not until() and not eof and time.monotonic() < deadline:
            try:
                ev = events.get(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
            except queue.Empty:
                continue
            kind = ev.get("event")
            if kind == "ack":
                acks.append(ev)
            elif kind == "error":
                errors.append(ev)
            elif kind == "done":
                done = ev
            elif kind == "eof":
                eof = True
            elif kind == "start":
                assert ev["idempotent"] is True, ev

    try:
        drain(time.monotonic() + ACK_WAIT_S, lambda: len(acks) >= KILL_AFTER_ACKS)
        assert len(acks) >= KILL_AFTER_ACKS, (
            f"only {len(acks)} acks before the kill; errors {errors[:3]}; done {done}\n"
            + (tmp_path / "producer.stderr").read_text(errors="replace")[-3000:])
        acked_before_kill = len(acks)
        broker.kill()
        time.sleep(DOWNTIME_S)
        broker.start()
        drain(time.monotonic() + PRODUCER_EXIT_WAIT_S, lambda: done is not None)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    stderr = (tmp_path / "producer.stderr").read_text(errors="replace")[-3000:]
    assert done is not None, f"producer never finished; {len(acks)} acks, {len(errors)} errors\n{stderr}"
    assert len(acks) > acked_before_kill, (
        f"no record acknowledged after the restart ({len(errors)} errors, first {errors[:2]})\n{stderr}")

    consumed = consume(broker, topic)
    acked_values = {a["value"] for a in acks}
    print(f"acked before kill {acked_before_kill}, acked total {len(acks)}, failed {len(errors)}, "
          f"read back {len(consumed)}, read but never acked "
          f"{sum(1 for c in consumed if c['value'] not in acked_values)}; producer {done}")
    problems = verify_roundtrip(acks, consumed, partitions=PARTITIONS, allow_unacknowledged=True)
    assert not problems, "\n".join(problems[:MAX_PROBLEMS_SHOWN]) + f"\nproducer: {done}"
