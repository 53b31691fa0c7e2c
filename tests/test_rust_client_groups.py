"""The Rust client's consumer in one group with kafka-python consumers, on Runnel and Kafka.

A runnel-client member (crates/runnel-client/examples/group_member.rs, built here with
cargo) and a kafka-python member (tests/clients/group_kp.py, kafka-python 3.x and 2.0.2)
join one group with the range assignor and split a two-partition topic. Either one joins
first and so leads the group and runs the assignment, so both assignors are exercised:
the split must be exactly range's (members sorted by member id, the first takes partition
0), each member reads only its partition, the Rust member revokes before it is assigned,
and when one member closes the other gets both partitions at once (well inside the session
timeout). Both processes stream the same JSON events (see tests/clients/group_common.py).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT
from harness.process import _die_with_parent
from test_groups_support import (  # noqa: F401 - `members` is a fixture used by name
    CLIENTS, MemberProcess, create_topic, describe_group, member_args, members, produce_keyed, unique_name,
    wait_until,
)

PARTITIONS = 2
COUNT = 10
# Long on purpose: a partition that moves within JOIN_WAIT_S moved because its owner left,
# not because its session expired.
SESSION_TIMEOUT_MS = 30000
HEARTBEAT_INTERVAL_MS = 500
JOIN_WAIT_S = 20.0
READ_WAIT_S = 30.0
HANDOVER_WAIT_S = 15.0
BUILD_TIMEOUT_S = 1200.0
STDERR_TAIL_CHARS = 4000

RUST_MEMBER_BIN = REPO_ROOT / "target" / "debug" / "examples" / "group_member"
# A prebuilt member binary to use instead of building one (like RUNNEL_BIN for the broker).
RUST_MEMBER_BIN_ENV = "RUNNEL_GROUP_MEMBER_BIN"
KAFKA_PYTHON = [c for c in CLIENTS if c.script == "group_kp.py"]
OPTIONS = dict(session_timeout_ms=SESSION_TIMEOUT_MS, heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
               commit="none", offset_reset="earliest")


@pytest.fixture(scope="module")
def rust_member_bin():
    """Builds the example once per module (a no-op when it is up to date), unless
    RUNNEL_GROUP_MEMBER_BIN names a binary to use."""
    prebuilt = os.environ.get(RUST_MEMBER_BIN_ENV)
    if prebuilt:
        assert Path(prebuilt).exists(), f"{RUST_MEMBER_BIN_ENV}={prebuilt} does not exist"
        return Path(prebuilt)
    cmd = ["cargo", "build", "-p", "runnel-client", "--example", "group_member", "-j", "2"]
    res = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    assert res.returncode == 0, f"{' '.join(cmd)} failed:\n{res.stderr[-STDERR_TAIL_CHARS:]}"
    assert RUST_MEMBER_BIN.exists(), RUST_MEMBER_BIN
    return RUST_MEMBER_BIN


class RustMember(MemberProcess):
    """The Rust group member as a MemberProcess: same events, same waits and stop."""

    def __init__(self, binary, args: list[str], stderr_path, label: str):  # noqa: D107 - see class
        self.client = None
        self.label = label
        self.stderr_path = stderr_path
        with open(stderr_path, "ab") as err:
            self.proc = subprocess.Popen([str(binary), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=err, text=True, bufsize=1, preexec_fn=_die_with_parent)
        self._events = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()


@pytest.fixture
def rust_members(tmp_path, rust_member_bin):
    """start(bootstrap, topic, group, label=..., **options) -> RustMember; killed at test end."""
    started: list[RustMember] = []

    def start(bootstrap: str, topic: str, group: str, *, label: str = "rust", **options) -> RustMember:
        name = f"{label}-{len(started)}"
        p = RustMember(rust_member_bin, member_args(bootstrap, topic, group, client_id=name, **options),
                       tmp_path / f"{name}.stderr", f"runnel-client {name}")
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


def range_split(bootstrap: str, group: str, topic: str) -> dict[str, list[int]] | None:
    """The broker's view of a settled two-member group: client id -> partitions, when both
    members hold one partition each."""
    view = describe_group(bootstrap, group)
    if view.state != "Stable" or len(view.members) != 2:
        return None
    owned = view.assignments(topic)
    if sorted(len(ps) for ps in owned.values()) != [1, 1]:
        return None
    return {"view": view, "owned": owned}


@pytest.mark.parametrize("first", ["rust", "kafka-python"])
@pytest.mark.parametrize("kp", KAFKA_PYTHON, ids=str)
def test_rust_and_kafka_python_members_split_partitions_by_range(broker, kp, first, members, rust_members):
    bs = broker.bootstrap
    topic = unique_name("rust-kp")
    group = f"{topic}-group"
    create_topic(bs, topic, PARTITIONS)

    def start_rust():
        return rust_members(bs, topic, group, **OPTIONS)

    def start_kp():
        return members(kp, bs, topic, group, label="kp", **OPTIONS)

    starts = {"rust": start_rust, "kafka-python": start_kp}
    leader = starts[first]()
    leader.wait_for(lambda: leader.assignment() == [0, 1], JOIN_WAIT_S, f"{first} alone owns both partitions")
    second_kind = "kafka-python" if first == "rust" else "rust"
    second = starts[second_kind]()
    procs = {first: leader, second_kind: second}
    rust, kpm = procs["rust"], procs["kafka-python"]

    for p in (rust, kpm):
        p.wait_for(lambda p=p: p.assignment() is not None and len(p.assignment()) == 1, JOIN_WAIT_S,
                   "one partition each")
    settled = wait_until(lambda: range_split(bs, group, topic), JOIN_WAIT_S, "the broker sees a range split")
    view = settled["view"]
    assert view.protocol_type == "consumer" and view.protocol == "range", view
    # Range: members in member-id order, the first takes partition 0 (no instance ids here).
    by_member_id = sorted(view.members, key=lambda m: m["member_id"])
    expected = {m["client_id"]: [i] for i, m in enumerate(by_member_id)}
    assert settled["owned"] == expected, (settled["owned"], [m["member_id"] for m in by_member_id])
    rust_client_id = next(e for e in rust.events("start"))["client_id"]
    kp_client_id = next(e for e in kpm.events("start"))["client_id"]
    assert rust.assignment() == expected[rust_client_id], (rust.assignment(), expected)
    assert kpm.assignment() == expected[kp_client_id], (kpm.assignment(), expected)

    # The Rust member never holds a partition across a rebalance: before every assignment
    # after its first, it revoked what it had.
    rust_hooks = [e["ev"] for e in rust.events("assigned", "revoked", "lost")]
    for i, ev in enumerate(rust_hooks[1:], start=1):
        if ev == "assigned":
            assert rust_hooks[i - 1] in ("revoked", "lost"), rust_hooks

    # Records written now are read once each, by their partition's owner.
    since = time.time()
    produced = produce_keyed(bs, topic, COUNT, PARTITIONS, topic)
    owner = {expected[rust_client_id][0]: rust, expected[kp_client_id][0]: kpm}

    def all_read():
        read = rust.records(since=since) + kpm.records(since=since)
        return read if len(read) >= len(produced) else None

    wait_until(all_read, READ_WAIT_S, f"{len(produced)} records read")
    for p, proc in owner.items():
        want = sorted(r["offset"] for r in produced if r["partition"] == p)
        got = sorted(r["offset"] for r in proc.records(since=since) if r["partition"] == p)
        assert got == want, (p, proc.label, got, want)
    for proc in (rust, kpm):
        assert {r["partition"] for r in proc.records(since=since)} <= set(expected[
            rust_client_id if proc is rust else kp_client_id]), proc.label

    # Whoever closes, the other takes both partitions at once (LeaveGroup, not the session).
    stopped_at = time.monotonic()
    second.stop()
    leader.wait_for(lambda: leader.assignment() == [0, 1], HANDOVER_WAIT_S, "the remaining member owns both again")
    assert time.monotonic() - stopped_at < HANDOVER_WAIT_S
    leader.stop()
    assert not rust.events("client_error"), rust.events("client_error")
