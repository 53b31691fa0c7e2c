"""Rebalance time, Runnel against Apache Kafka under identical settings.

What is measured: a group has one member holding both partitions of a topic; a second
member subscribes; the time from the second member's subscribe call until both members
hold their new assignment (one partition each). Both brokers run with their defaults
(Kafka's group settings are Runnel's defaults too), on loopback, one after the other in
ABAB order, with the same client (confluent-kafka / librdkafka at its default settings).

Usage: .venv/bin/python bench/rebalance.py [--rounds 3] [--output FILE]
Prints a Markdown table: median and range per broker, and the Runnel/Kafka ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from harness import make_broker, wire  # noqa: E402
from harness.paths import VENV_PYTHON  # noqa: E402

MEMBER = Path(__file__).resolve().parent / "rebalance_member.py"
EVENT_WAIT_S = 60.0


class Member:
    """A member process and the events it has printed so far."""

    def __init__(self, bootstrap: str, topic: str, group: str):
        self.events: list[dict] = []
        self.changed = threading.Condition()
        self.proc = subprocess.Popen([str(VENV_PYTHON), str(MEMBER), "--bootstrap", bootstrap, "--topic", topic,
                                      "--group", group], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.changed:
                self.events.append(json.loads(line))
                self.changed.notify_all()

    def wait_for(self, predicate, after: int = 0) -> dict:
        deadline = time.monotonic() + EVENT_WAIT_S
        with self.changed:
            while True:
                for event in self.events[after:]:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching event in {EVENT_WAIT_S}s; saw {self.events}")
                self.changed.wait(remaining)

    def stop(self):
        self.proc.kill()
        self.proc.wait(10)


def one_rebalance(bootstrap: str) -> float:
    topic, group = f"rebalance-{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:8]}"
    with wire.connect(bootstrap) as sock:
        error, message = wire.create_topics_v2(sock, topic, 2)
        assert error == 0, (error, message)
    first = Member(bootstrap, topic, group)
    second = None
    try:
        first.wait_for(lambda e: e["event"] == "assigned" and e["partitions"] == [0, 1])
        seen = len(first.events)
        second = Member(bootstrap, topic, group)
        start = second.wait_for(lambda e: e["event"] == "subscribing")["t"]
        one = lambda e: e["event"] == "assigned" and len(e["partitions"]) == 1  # noqa: E731
        done = max(first.wait_for(one, after=seen)["t"], second.wait_for(one)["t"])
        return done - start
    finally:
        first.stop()
        if second is not None:
            second.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    results: dict[str, list[float]] = {"runnel": [], "kafka": []}
    brokers = {kind: make_broker(kind).start() for kind in ("runnel", "kafka")}
    try:
        for round_index in range(args.rounds):
            for kind in ("runnel", "kafka"):  # ABAB
                seconds = one_rebalance(brokers[kind].bootstrap)
                results[kind].append(seconds)
                print(f"round {round_index + 1} {kind}: {seconds:.3f} s", file=sys.stderr)
    finally:
        for broker in brokers.values():
            broker.close()
    rows = ["| broker | median s | min s | max s | runs |", "|---|---|---|---|---|"]
    for kind, values in results.items():
        rows.append(f"| {kind} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} | {len(values)} |")
    ratio = statistics.median(results["runnel"]) / statistics.median(results["kafka"])
    table = "\n".join(rows) + f"\n\nRunnel/Kafka median ratio: {ratio:.2f} (below 1 is faster)\n"
    print(table)
    if args.output:
        args.output.write_text(table)


if __name__ == "__main__":
    main()
