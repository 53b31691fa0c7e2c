"""Kafka's own kafka-consumer-groups (ConsumerGroupCommand) against Runnel and Kafka.

The same set-up on both brokers (same topic and group names, the same records at the
same offsets, kafka-python 3.x members): a group with two active members, a group that
consumed, committed and went away. Then every command the tutorial's readers use -
--list, --describe with --offsets, --members (--verbose), --state, --reset-offsets
--to-earliest --execute, --delete-offsets, --delete - including the refusals (an active
group cannot be reset, lose offsets of a subscribed topic, or be deleted). Each command's
stdout, stderr and exit code must be the same on Runnel as on Kafka once what may
legitimately differ is normalised: member ids, client hosts, generated client ids,
the coordinator's host:port and node id, column widths, and the order of table rows.
This test needs both brokers; with --broker it skips itself.
"""

from __future__ import annotations

import re

import pytest

from harness import BROKER_KINDS
from harness.fixtures import track
from harness.java_tools import consumer_groups, run_all
from test_groups_support import (  # noqa: F401 - fixtures are used by name
    CLIENTS, BrokerPool, committed_offsets, create_topic, members, produce_keyed, unique_name,
)

PARTITIONS = 2
COUNT = 10
JOIN_WAIT_S = 30.0
RUN_WAIT_S = 60.0
MEMBER_OPTIONS = dict(session_timeout_ms=10000, heartbeat_interval_ms=500, max_poll_interval_ms=20000)
KAFKA_PYTHON3 = next(c for c in CLIENTS if c.name == "kafka-python3")
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture(scope="module")
def cli_brokers(request, tmp_path_factory):
    chosen = request.config.getoption("--broker")
    if chosen and set(chosen) != set(BROKER_KINDS):
        pytest.skip("compares Runnel's output with Kafka's: needs both brokers")
    pool = BrokerPool(tmp_path_factory)
    try:
        # Started from this thread: the harness ties a broker's life to the thread that
        # started it (PR_SET_PDEATHSIG), so never from a short-lived worker thread.
        yield {kind: pool.get(kind) for kind in BROKER_KINDS}
    finally:
        pool.close()


def normalise(text: str, bootstrap: str) -> list[str]:
    """What may differ between two brokers replaced by placeholders; runs of blanks
    collapsed; in each block of lines (a table), the rows sorted, after the header when
    there is one (an upper-case line: `--list` alone prints none, and Kafka lists groups in
    its hash maps' order)."""
    text = re.sub(re.escape(bootstrap) + r"\s*\(\d+\)", "<coordinator> (<node>)", text)
    text = text.replace(bootstrap, "<coordinator>")
    text = re.sub(r"\S*" + UUID_RE + r"\S*", "<member-id>", text)
    text = re.sub(r"/?\b\d{1,3}(?:\.\d{1,3}){3}\b", "<host>", text)
    text = re.sub(r"\bcli-(?:active|empty)-\d+-\d+\b", "<client-id>", text)
    out: list[str] = []
    block: list[str] = []
    for line in text.splitlines() + [""]:
        line = re.sub(r"[ \t]+", " ", line).strip()
        if line:
            block.append(line)
            continue
        header = 1 if block and block[0] == block[0].upper() else 0
        out += block[:header] + sorted(block[header:])
        block = []
        out.append("")
    while out and out[-1] == "":
        out.pop()
    return out


class Both:
    """The same ConsumerGroupCommand against both brokers; differences collected."""

    def __init__(self, brokers):
        self.brokers = brokers
        self.differences: list[str] = []
        self.invocations = 0

    def run(self, *commands: list[str]) -> list[dict]:
        calls = [(kind, cmd) for cmd in commands for kind in BROKER_KINDS]
        self.invocations += len(commands)
        results = run_all([lambda k=kind, c=cmd: consumer_groups(self.brokers[k].bootstrap, *c)
                           for kind, cmd in calls])
        out = []
        for i, cmd in enumerate(commands):
            pair = {}
            for kind, res in zip(BROKER_KINDS, results[2 * i:2 * i + 2]):
                pair[kind] = res
            self._compare(cmd, pair)
            out.append(pair)
        return out

    def _compare(self, cmd: list[str], pair: dict) -> None:
        views = {}
        for kind, res in pair.items():
            bs = self.brokers[kind].bootstrap
            views[kind] = (res.returncode, normalise(res.stdout, bs), normalise(res.stderr, bs))
        if views["runnel"] != views["kafka"]:
            self.differences.append(
                f"kafka-consumer-groups {' '.join(cmd)}: output differs\n"
                + "\n".join(f"=== {kind} (exit {pair[kind].returncode}) normalised stdout:\n"
                            + "\n".join(views[kind][1]) + "\n--- normalised stderr:\n" + "\n".join(views[kind][2])
                            for kind in BROKER_KINDS))


def kafka_text(pair: dict) -> str:
    return pair["kafka"].stdout + pair["kafka"].stderr


def test_kafka_consumer_groups_output_matches_kafka(cli_brokers, request, members):
    for b in cli_brokers.values():
        track(request, b)
    topic = unique_name("cli-topic")
    active, empty = f"{topic}-active", f"{topic}-empty"
    running = {}
    for kind, b in cli_brokers.items():
        bs = b.bootstrap
        create_topic(bs, topic, PARTITIONS)
        produce_keyed(bs, topic, COUNT, PARTITIONS, "cli")
        done = members(KAFKA_PYTHON3, bs, topic, empty, label="cli-empty", commit="batch",
                       stop_after_records=COUNT, **MEMBER_OPTIONS)
        done.wait_exit(RUN_WAIT_S)
        a = members(KAFKA_PYTHON3, bs, topic, active, label="cli-active", commit="batch", **MEMBER_OPTIONS)
        a.wait_for(lambda: a.assignment() == [0, 1], JOIN_WAIT_S, "first active member owns both partitions")
        b2 = members(KAFKA_PYTHON3, bs, topic, active, label="cli-active", commit="batch", **MEMBER_OPTIONS)
        a.wait_for(lambda: a.assignment() and b2.assignment() and len(a.assignment()) == len(b2.assignment()) == 1,
                   JOIN_WAIT_S, "two active members with one partition each", also=(b2,))
        # Whatever a read before the split is committed, so lag is zero everywhere.
        a.wait_for(lambda: committed_offsets(bs, active, topic, PARTITIONS) == {0: 4, 1: 6}, JOIN_WAIT_S,
                   "active group committed the end offsets")
        running[kind] = (a, b2)

    both = Both(cli_brokers)
    (listed, _listed_state, _active_offsets, active_members, active_state, empty_offsets, _empty_members,
     empty_state, reset_active, delete_offsets_active, delete_active) = both.run(
        ["--list"],
        ["--list", "--state"],
        ["--describe", "--group", active, "--offsets"],
        ["--describe", "--group", active, "--members", "--verbose"],
        ["--describe", "--group", active, "--state"],
        ["--describe", "--group", empty, "--offsets"],
        ["--describe", "--group", empty, "--members"],
        ["--describe", "--group", empty, "--state", "--verbose"],
        ["--reset-offsets", "--group", active, "--topic", topic, "--to-earliest", "--execute"],
        ["--delete-offsets", "--group", active, "--topic", topic],
        ["--delete", "--group", active],
    )
    # Kafka's own answers, so the comparison stands on a known reference.
    assert {active, empty} <= set(listed["kafka"].stdout.split()), kafka_text(listed)
    assert "Stable" in kafka_text(active_state) and "Empty" in kafka_text(empty_state), (
        kafka_text(active_state), kafka_text(empty_state))
    assert "has no active members" in kafka_text(empty_offsets), kafka_text(empty_offsets)
    assert "inactive" in kafka_text(reset_active), kafka_text(reset_active)
    assert "GroupSubscribedToTopicException" in kafka_text(delete_offsets_active), kafka_text(delete_offsets_active)
    assert kafka_text(active_members).count(topic + ":") == 2, kafka_text(active_members)
    assert "not empty" in kafka_text(delete_active).lower(), kafka_text(delete_active)
    for kind, b in cli_brokers.items():
        assert committed_offsets(b.bootstrap, active, topic, PARTITIONS) == {0: 4, 1: 6}, (
            f"{kind}: a refused command changed the active group's offsets")

    (reset_empty,) = both.run(["--reset-offsets", "--group", empty, "--topic", topic, "--to-earliest", "--execute"])
    for kind, b in cli_brokers.items():
        assert committed_offsets(b.bootstrap, empty, topic, PARTITIONS) == {0: 0, 1: 0}, (
            f"{kind}: reset {reset_empty[kind].describe()}")
    (delete_offsets_empty,) = both.run(["--delete-offsets", "--group", empty, "--topic", f"{topic}:0"])
    for kind, b in cli_brokers.items():
        assert committed_offsets(b.bootstrap, empty, topic, PARTITIONS) == {0: -1, 1: 0}, (
            f"{kind}: delete-offsets {delete_offsets_empty[kind].describe()}")
    (delete_empty,) = both.run(["--delete", "--group", empty])
    assert "successful" in kafka_text(delete_empty), kafka_text(delete_empty)
    both.run(["--describe", "--group", empty, "--state"], ["--list"])

    for a, b2 in running.values():
        a.stop()
        b2.stop()
    print(f"{both.invocations} kafka-consumer-groups invocations per broker; {len(both.differences)} differ")
    assert not both.differences, f"{len(both.differences)} commands differ:\n\n" + "\n\n".join(both.differences)
