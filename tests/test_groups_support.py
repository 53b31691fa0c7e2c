"""Plumbing for the consumer-group suites (test_groups*.py); holds no tests itself.

- Brokers tuned for group tests (GROUP_BROKER_CONFIG, the same keys on Runnel and Kafka),
  started once per test module and restarted if a test left one down (BrokerPool and the
  `group_broker` fixture; its parameter is `broker_kind`, so `--broker` selects it).
- CLIENTS: the four Python clients, each running tests/clients/group_*.py.
- MemberProcess: one running group_*.py process and the JSON events it streams, with
  bounded waits that fail with the events and stderr attached.
- Topic set-up and keyed production over raw Kafka protocol (harness.wire), with the Java
  client's murmur2 partitioner, so every record's partition and offset is known.
- Neutral observers over raw protocol (ListGroups v0, DescribeGroups v0, OffsetFetch v1):
  what the broker itself says about a group, with no client library in between.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import make_broker, start_client, wire
from harness.fixtures import serve_shared
from harness.paths import VENV_KP2_PYTHON, VENV_PYTHON
from harness.wire import Reader, array, int32, string

# Fast group tests on both brokers: no initial-join delay; everything else stays default.
GROUP_BROKER_CONFIG = {"group.initial.rebalance.delay.ms": 0}

API_OFFSET_FETCH = 9
API_DESCRIBE_GROUPS = 15
API_LIST_GROUPS = 16
# Errors a coordinator answers while it is (re)loading or not yet placed: retried.
RETRIABLE_COORDINATOR_ERRORS = {14, 15, 16}
OBSERVER_RETRY_S = 20.0
OBSERVER_POLL_S = 0.1
TOPIC_READY_WAIT_S = 30.0
# UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER: a new topic's
# partitions may refuse a produce for a moment after Metadata already lists their leader.
RETRIABLE_PRODUCE_ERRORS = {3, 5, 6}
PRODUCE_RETRY_S = 20.0
DISTINCT_KEYS = 5
MEMBER_STOP_WAIT_S = 40.0
EVENT_POLL_S = 0.05
DIAG_EVENTS = 40
STDERR_TAIL_CHARS = 3000


# --------------------------------------------------------------------------- brokers


class BrokerPool:
    """One group-tuned broker per kind for a test module, started on first use (a broker
    found down later is restarted by serve_shared in the group_broker fixture)."""

    def __init__(self, tmp_path_factory, config: dict[str, object] | None = None):
        self.tmp_path_factory = tmp_path_factory
        self.config = dict(GROUP_BROKER_CONFIG if config is None else config)
        self.brokers = {}

    def get(self, kind: str):
        b = self.brokers.get(kind)
        if b is None:
            b = make_broker(kind, self.config, workdir=self.tmp_path_factory.mktemp(f"{kind}-groups"))
            self.brokers[kind] = b
        if b.proc is None:
            b.start()
        return b

    def close(self) -> None:
        for b in self.brokers.values():
            b.close(remove_workdir=False)


@pytest.fixture(scope="module")
def group_broker_pool(tmp_path_factory):
    pool = BrokerPool(tmp_path_factory)
    yield pool
    pool.close()


@pytest.fixture
def group_broker(request, broker_kind, group_broker_pool):
    # serve_shared: a broker that dies during a test fails that test and is restarted.
    yield from serve_shared(request, group_broker_pool.get(broker_kind))


def unique_name(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------- clients


@dataclass(frozen=True)
class ClientSpec:
    name: str
    script: str
    python: Path

    def __str__(self) -> str:
        return self.name


CLIENTS = [
    ClientSpec("kafka-python3", "group_kp.py", VENV_PYTHON),
    ClientSpec("kafka-python2", "group_kp.py", VENV_KP2_PYTHON),
    ClientSpec("confluent-kafka", "group_ck.py", VENV_PYTHON),
    ClientSpec("aiokafka", "group_aio.py", VENV_PYTHON),
]


def member_args(bootstrap: str, topic: str, group: str | None, **options) -> list[str]:
    """CLI arguments for group_*.py: options become --kebab-case flags (True = bare flag)."""
    args = ["--bootstrap", bootstrap, "--topic", topic]
    if group is not None:
        args += ["--group", group]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is not None and value is not False:
            args += [flag, str(value)]
    return args


class MemberProcess:
    """A running group_*.py script; its stdout events are collected by a reader thread."""

    def __init__(self, client: ClientSpec, args: list[str], stderr_path: Path, label: str):
        self.client = client
        self.label = label
        self.stderr_path = stderr_path
        self.proc = start_client(client.script, args, python=client.python, stderr_path=stderr_path)
        self._events: list[dict] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                ev = {"ev": "garbage", "line": line[:500], "t": time.time()}
            with self._lock:
                self._events.append(ev)

    # ---------------------------------------------------------------- views

    def events(self, *kinds: str, m: int | None = None) -> list[dict]:
        with self._lock:
            evs = list(self._events)
        return [e for e in evs if (not kinds or e["ev"] in kinds) and (m is None or e.get("m") == m)]

    def records(self, m: int | None = None, since: float | None = None) -> list[dict]:
        """Every record read, as {"partition", "offset", "key", "value", "m", "t"}."""
        out = []
        for e in self.events("records", m=m):
            if since is not None and e["t"] < since:
                continue
            for p, off, key, value in e["records"]:
                out.append({"partition": p, "offset": off, "key": key, "value": value, "m": e["m"], "t": e["t"]})
        return out

    def assignment(self, m: int = 0) -> list[int] | None:
        """The member's current partitions: None before its first assignment and while
        a rebalance has revoked them."""
        current = None
        for e in self.events("assigned", "revoked", "lost", m=m):
            current = e["partitions"] if e["ev"] == "assigned" else None
        return current

    def committed(self, m: int | None = None, before: float | None = None) -> dict[int, int]:
        """Highest offset per partition among this process's acknowledged commits."""
        out: dict[int, int] = {}
        for e in self.events("commit", m=m):
            if e["ok"] and (before is None or e["t"] < before):
                for p, off in e["offsets"].items():
                    out[int(p)] = max(out.get(int(p), -1), off)
        return out

    def result(self) -> dict | None:
        res = self.events("result")
        return res[-1] if res else None

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    # ---------------------------------------------------------------- control

    def wait_for(self, predicate, timeout_s: float, what: str, *, also: tuple["MemberProcess", ...] = ()):
        """Poll predicate() until it returns something truthy; fail after timeout_s or when
        the process exits without it. A failure shows this process's diagnostics, then
        those of every process in `also` (the others the predicate looks at)."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = predicate()
            if value:
                return value
            if not self.running:
                self._reader.join(2.0)
                value = predicate()
                if value:
                    return value
                raise AssertionError(f"{self.label} exited ({self.proc.returncode}) before: {what}\n"
                                     + self._diagnostics_with(also))
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.label}: not within {timeout_s:.0f}s: {what}\n"
                                     + self._diagnostics_with(also))
            time.sleep(EVENT_POLL_S)

    def _diagnostics_with(self, others: tuple["MemberProcess", ...]) -> str:
        return "\n".join(p.diagnostics() for p in (self, *others))

    def stop(self, timeout_s: float = MEMBER_STOP_WAIT_S, *, check: bool = True) -> dict:
        """SIGTERM: the members close() their consumers (leaving the group) and exit."""
        if self.running:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout_s, check=check)

    def wait_exit(self, timeout_s: float = MEMBER_STOP_WAIT_S, *, check: bool = True) -> dict:
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.label} did not exit within {timeout_s:.0f}s\n" + self.diagnostics()) from None
        self._reader.join(5.0)
        res = self.result()
        if check:
            assert res is not None, f"{self.label} printed no result\n" + self.diagnostics()
            assert res["error"] is None and self.proc.returncode == 0, (
                f"{self.label} failed (exit {self.proc.returncode}): {res['error']}\n" + self.diagnostics())
        return res or {}

    def kill(self) -> None:
        """SIGKILL: the members vanish without leaving the group."""
        if self.running:
            self.proc.kill()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def diagnostics(self) -> str:
        evs = self.events()
        shown = []
        for e in evs[-DIAG_EVENTS:]:
            e = dict(e)
            if e["ev"] == "records":
                e["records"] = f"{len(e['records'])} records, partitions {sorted({r[0] for r in e['records']})}"
            e.pop("traceback", None) if e["ev"] != "member_error" else None
            shown.append(json.dumps(e))
        try:
            err = self.stderr_path.read_text(errors="replace")[-STDERR_TAIL_CHARS:]
        except OSError:
            err = "(no stderr)"
        return (f"--- {self.label}: last {len(shown)} of {len(evs)} events ---\n" + "\n".join(shown)
                + self._membership_diagnostics(evs)
                + f"\n--- {self.label} stderr tail ---\n{err}")

    def _membership_diagnostics(self, evs: list[dict]) -> str:
        """What each member holds and the last listener and lifecycle events: a busy
        consumer's records and commits push those out of the plain event tail, and they are
        what a rebalance that never settles is diagnosed from."""
        members = sorted({e["m"] for e in evs if "m" in e})
        held = "; ".join(f"m{m}: {self.assignment(m)}" for m in members)
        lifecycle = [json.dumps(e) for e in evs if e["ev"] not in ("records", "commit", "positioned")]
        return (f"\n--- {self.label}: assignment per member ---\n{held}"
                f"\n--- {self.label}: last {min(len(lifecycle), DIAG_EVENTS)} of {len(lifecycle)} "
                f"listener and lifecycle events ---\n" + "\n".join(lifecycle[-DIAG_EVENTS:]))


@pytest.fixture
def members(tmp_path):
    """start(client, bootstrap, topic, group, label=..., **options) -> MemberProcess;
    every process still running at test end is killed."""
    started: list[MemberProcess] = []

    def start(client: ClientSpec, bootstrap: str, topic: str, group: str | None, *, label: str = "member",
              **options) -> MemberProcess:
        name = f"{label}-{len(started)}"
        p = MemberProcess(client, member_args(bootstrap, topic, group, client_id=name, **options),
                          tmp_path / f"{name}.stderr", f"{client.name} {name}")
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


# --------------------------------------------------------------------------- topics and records


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as an unsigned int."""
    m, r, mask = 0x5BD1E995, 24, 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    for i in range(length // 4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    tail, rest = length & ~3, length % 4
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h


def key_partition(key: str, partitions: int) -> int:
    """The Java (and kafka-python) default partitioner for a keyed record."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    with wire.connect(bootstrap) as s:
        err, msg = wire.create_topics_v2(s, topic, partitions)
    assert err in (wire.ERROR_NONE, wire.ERROR_TOPIC_ALREADY_EXISTS), (topic, err, msg)
    deadline = time.monotonic() + TOPIC_READY_WAIT_S
    last = None
    while time.monotonic() < deadline:
        with wire.connect(bootstrap) as s:
            last = wire.metadata_v1(s, [topic]).topics.get(topic)
        if last and last["error"] == 0 and len(last["partitions"]) == partitions and all(
                e == 0 and leader >= 0 for e, leader in last["partitions"].values()):
            return
        time.sleep(OBSERVER_POLL_S)
    raise AssertionError(f"topic {topic} not ready: {last}")


def produce_keyed(bootstrap: str, topic: str, count: int, partitions: int, run_id: str,
                  *, first_seq: int = 0) -> list[dict]:
    """count keyed JSON records (the tutorial's shape: key-0..key-4, {"seq", ...} values,
    unique per run_id), acks=all, one batch per partition; returns them with their offsets."""
    by_partition: dict[int, list[tuple[str, str]]] = {}
    for seq in range(first_seq, first_seq + count):
        key = f"key-{seq % DISTINCT_KEYS}"
        value = json.dumps({"seq": seq, "topic": topic, "run": run_id}, sort_keys=True)
        by_partition.setdefault(key_partition(key, partitions), []).append((key, value))
    out = []
    with wire.connect(bootstrap) as s:
        for p, recs in sorted(by_partition.items()):
            batch = wire.record_batch([wire.Record(k.encode(), v.encode()) for k, v in recs])
            res = produce_batch(s, topic, p, batch)
            assert res.error_code == 0, f"produce to {topic}/{p}: error {res.error_code} {res.error_message}"
            out += [{"key": k, "value": v, "partition": p, "offset": res.base_offset + i}
                    for i, (k, v) in enumerate(recs)]
    return out


def produce_batch(sock, topic: str, partition: int, batch: bytes) -> wire.ProducePartitionResult:
    """Produce one batch, retrying the errors of a partition that is not ready yet (a
    rejected batch was not appended, so a retry cannot duplicate it)."""
    deadline = time.monotonic() + PRODUCE_RETRY_S
    while True:
        res = wire.produce(sock, topic, partition, batch)
        if res.error_code not in RETRIABLE_PRODUCE_ERRORS or time.monotonic() > deadline:
            return res
        time.sleep(OBSERVER_POLL_S)


def end_offsets(produced: list[dict], partitions: int) -> dict[int, int]:
    """Log end offset per partition for a topic that only ever got `produced`."""
    ends = {p: 0 for p in range(partitions)}
    for r in produced:
        ends[r["partition"]] = max(ends[r["partition"]], r["offset"] + 1)
    return ends


class BackgroundProducer:
    """Keeps producing keyed records (acks=all, one small batch per round, partitions in
    turn) from a thread until stop(); every acknowledged record is kept."""

    def __init__(self, bootstrap: str, topic: str, partitions: int, run_id: str, *,
                 batch_records: int = 5, interval_s: float = 0.02):
        self.bootstrap, self.topic, self.partitions, self.run_id = bootstrap, topic, partitions, run_id
        self.batch_records, self.interval_s = batch_records, interval_s
        self.acked: list[dict] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "BackgroundProducer":
        self._thread.start()
        return self

    def _run(self) -> None:
        seq = 0
        try:
            with wire.connect(self.bootstrap) as s:
                rnd = 0
                while not self._stop.is_set():
                    p = rnd % self.partitions
                    rnd += 1
                    recs = []
                    for _ in range(self.batch_records):
                        key = f"bg-{seq}"
                        recs.append((key, json.dumps({"seq": seq, "topic": self.topic, "run": self.run_id})))
                        seq += 1
                    res = produce_batch(s, self.topic, p, wire.record_batch(
                        [wire.Record(k.encode(), v.encode()) for k, v in recs]))
                    if res.error_code != 0:
                        self.errors.append(f"partition {p}: error {res.error_code}")
                    else:
                        self.acked += [{"key": k, "value": v, "partition": p, "offset": res.base_offset + i}
                                       for i, (k, v) in enumerate(recs)]
                    self._stop.wait(self.interval_s)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(f"{type(e).__name__}: {e}")

    def stop(self) -> list[dict]:
        self._stop.set()
        self._thread.join(30)
        assert not self._thread.is_alive(), "background producer did not stop"
        return self.acked


# --------------------------------------------------------------------------- raw observers


def _bytes(r: Reader) -> bytes | None:
    n = r.int32()
    return None if n < 0 else r.take(n)


def parse_assignment(data: bytes | None) -> dict[str, list[int]]:
    """ConsumerProtocolAssignment (any version): {topic: [partitions]}."""
    if not data:
        return {}
    r = Reader(data)
    r.int16()  # version
    topics = r.array(lambda rr: (rr.string(), rr.array(Reader.int32) or [])) or []
    return {t: sorted(ps) for t, ps in topics}


def _retrying(call):
    """call() -> (result, error code); retried while the coordinator is not ready."""
    deadline = time.monotonic() + OBSERVER_RETRY_S
    while True:
        result, error = call()
        if error not in RETRIABLE_COORDINATOR_ERRORS or time.monotonic() > deadline:
            return result, error
        time.sleep(OBSERVER_POLL_S)


def list_groups(bootstrap: str) -> dict[str, str]:
    """ListGroups v0: {group id: protocol type}."""
    def call():
        with wire.connect(bootstrap) as s:
            r = wire.call(s, API_LIST_GROUPS, 0, b"")
            err = r.int16()
            groups = r.array(lambda rr: (rr.string(), rr.string())) or []
        return dict(groups), err
    groups, err = _retrying(call)
    assert err == 0, f"ListGroups error {err}"
    return groups


@dataclass
class GroupView:
    error: int
    state: str
    protocol_type: str
    protocol: str
    members: list[dict]  # {"member_id", "client_id", "client_host", "assignment": {topic: [p]}}

    def assignments(self, topic: str) -> dict[str, list[int]]:
        return {m["client_id"]: m["assignment"].get(topic, []) for m in self.members}


def describe_group(bootstrap: str, group: str) -> GroupView:
    """DescribeGroups v0 for one group."""
    def member(rr: Reader) -> dict:
        mid, cid, host = rr.string(), rr.string(), rr.string()
        _bytes(rr)  # subscription metadata
        return {"member_id": mid, "client_id": cid, "client_host": host, "assignment": parse_assignment(_bytes(rr))}

    def group_entry(rr: Reader) -> GroupView:
        err, _gid, state, ptype, proto = rr.int16(), rr.string(), rr.string(), rr.string(), rr.string()
        return GroupView(err, state, ptype, proto, rr.array(member) or [])

    def call():
        with wire.connect(bootstrap) as s:
            r = wire.call(s, API_DESCRIBE_GROUPS, 0, array([string(group)]))
            views = r.array(group_entry) or []
        assert len(views) == 1, views
        return views[0], views[0].error
    view, _err = _retrying(call)
    return view


def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """OffsetFetch v1: the group's committed offset per partition (-1: none)."""
    def part(rr: Reader):
        idx, off = rr.int32(), rr.int64()
        rr.string()  # metadata
        return idx, off, rr.int16()

    def call():
        body = string(group) + array([string(topic) + array([int32(p) for p in range(partitions)])])
        with wire.connect(bootstrap) as s:
            r = wire.call(s, API_OFFSET_FETCH, 1, body)
            topics = r.array(lambda rr: (rr.string(), rr.array(part) or [])) or []
        rows = [row for _t, parts in topics for row in parts]
        errors = {e for _i, _o, e in rows if e}
        return {i: o for i, o, _e in rows}, (next(iter(errors)) if errors else 0)
    offsets, err = _retrying(call)
    assert err == 0, f"OffsetFetch {group}/{topic}: error {err}"
    return offsets


def wait_until(predicate, timeout_s: float, what: str, poll_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(poll_s)
    raise AssertionError(f"not within {timeout_s:.0f}s: {what} (last: {last!r})")
