"""The report-card scenarios for the Python clients, written once against a small driver
interface that each client adapter (kp_adapter.py, ck_adapter.py, aio_adapter.py) fills in.

Stdlib only: it runs in the kafka-python 2.0.2 venv too. compat/scenarios.py defines the ids
and what each checks; this module implements those checks. A driver method the client has
no API for raises Unsupported(reason) and the scenario reports "skip".

Driver interface (all blocking; names and units as in Kafka):
  version() -> str
  create_topic(name, partitions, configs=None) -> None | error name (e.g. "TOPIC_ALREADY_EXISTS")
  topic_partitions(name) -> {partition: leader}     (empty dict: unknown topic)
  list_topics() -> set of names
  describe_configs(name) -> {key: value}
  alter_configs(name, {key: value})
  create_partitions(name, total)
  delete_topic(name)
  produce(topic, [Rec], acks=, codec=, idempotent=, timeout_s=) -> [{"partition", "offset", "error"}]
  reader(topic, reset="earliest", max_bytes=None) -> Reader   (no group)
  member(topic, group, auto_commit=, reset=, instance_id=None) -> Member (subscribed)
  group_offsets(group, topic, partitions) -> {p: offset or -1}
  group_offsets_metadata(group, topic, partitions) -> {p: (offset, metadata)} (only where the
      consumer's committed() drops the metadata)
  alter_group_offsets(group, topic, {p: offset})
  delete_group_offsets(group, topic, [p])
  delete_group(group)
  list_groups() -> set of ids
Reader: assign([p]), seek(p, offset), position(p), offset_for_time(p, ts) -> offset, poll(timeout_s)
  -> [Msg], close().  Member: poll(timeout_s) -> [Msg], assignment() -> [p], commit(offsets=None,
  metadata=None) (None: current positions), committed(partitions) -> {p: (offset, metadata)},
  seek_to_beginning(), close().
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field

SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 500
AUTO_COMMIT_INTERVAL_MS = 500
WAIT_S = 30.0
POLL_S = 0.2
COUNT = 10
PARTITIONS = 2
LEAVE_BOUND_S = 5.0
TOO_LARGE_TOPIC_MAX_BYTES = 16384
TOO_LARGE_VALUE_BYTES = 64 * 1024
MAX_BYTES_LIMIT = 15000
MAX_BYTES_RECORDS = 20
MAX_BYTES_VALUE_BYTES = 10 * 1024
CONCURRENT_MEMBERS = 6
TIMESTAMP_STEP_MS = 1000
ERROR_SHOWN_CHARS = 600


class Unsupported(Exception):
    """The client has no API for this step: the scenario is a skip, with this reason."""


class Check(AssertionError):
    """A scenario check that failed."""


def check(cond, msg: str) -> None:
    if not cond:
        raise Check(msg)


@dataclass
class Rec:
    key: bytes | None
    value: bytes | None
    headers: list = field(default_factory=list)  # [(str, bytes)]
    partition: int | None = None
    timestamp_ms: int | None = None


@dataclass
class Msg:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list = field(default_factory=list)
    timestamp_ms: int | None = None


def none(offset) -> bool:
    """No committed offset: clients say so with None, -1 or librdkafka's -1001."""
    return offset is None or offset < 0


def wait_until(pred, timeout_s: float, what: str, poll_s: float = POLL_S):
    deadline = time.monotonic() + timeout_s
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Check(f"not within {timeout_s:.0f}s: {what}")
        time.sleep(poll_s)


# --------------------------------------------------------------------------- member loops


class Loop:
    """A group member polled continuously in its own thread (rebalances only complete
    inside poll). Other threads read its records and assignment, and queue calls to run
    between polls, so the consumer object is only ever used from one thread."""

    def __init__(self, make_member, name: str):
        self.name = name
        self.records: list[Msg] = []
        self.assignments: list[tuple[float, list[int]]] = []
        self.error: str | None = None
        self.exc: BaseException | None = None
        self._calls: list = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._make = make_member
        self.member = None
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.member = self._make()
            while not self._stop.is_set():
                with self._lock:
                    calls, self._calls = self._calls, []
                for fn, box in calls:
                    try:
                        box["value"] = fn(self.member)
                    except BaseException as e:  # noqa: BLE001 - handed to the caller
                        box["error"] = e
                    box["done"].set()
                msgs = self.member.poll(POLL_S)
                a = sorted(self.member.assignment())
                with self._lock:
                    self.records.extend(msgs)
                    if not self.assignments or self.assignments[-1][1] != a:
                        self.assignments.append((time.time(), a))
        except BaseException as e:  # noqa: BLE001
            self.exc = e
            self.error = f"{type(e).__name__}: {e}"
        finally:
            with self._lock:
                for _fn, box in self._calls:
                    box["error"] = RuntimeError(f"{self.name} loop ended: {self.error}")
                    box["done"].set()
                self._calls = []

    def call(self, fn, timeout_s: float = WAIT_S):
        box = {"done": threading.Event()}
        with self._lock:
            if not self._thread.is_alive():
                raise Check(f"{self.name} is not running: {self.error}")
            self._calls.append((fn, box))
        if not box["done"].wait(timeout_s):
            raise Check(f"{self.name}: call not done within {timeout_s:.0f}s")
        if "error" in box:
            raise box["error"]
        return box.get("value")

    def assignment(self) -> list[int] | None:
        with self._lock:
            return self.assignments[-1][1] if self.assignments else None

    def got(self) -> list[Msg]:
        with self._lock:
            return list(self.records)

    def check_alive(self) -> None:
        if isinstance(self.exc, Unsupported):
            raise self.exc
        if self.error:
            raise Check(f"{self.name} failed: {self.error}")

    def close(self, timeout_s: float = WAIT_S) -> None:
        try:
            if self._thread.is_alive():
                self.call(lambda m: m.close(), timeout_s)
        finally:
            self._stop.set()
            self._thread.join(timeout_s)

    def abandon(self) -> None:
        self._stop.set()


# --------------------------------------------------------------------------- scenarios


class Scenarios:
    def __init__(self, driver, run_id: str, client: str, argv0: list[str]):
        self.d = driver
        self.run_id = run_id
        self.client = client
        self.argv0 = argv0  # how to start this adapter again (group.crash's child)

    def name(self, stem: str) -> str:
        return f"compat-{self.client}-{stem}-{self.run_id}-{random.randrange(16**6):06x}"

    def topic(self, stem: str, partitions: int = PARTITIONS, configs=None) -> str:
        t = self.name(stem)
        err = self.d.create_topic(t, partitions, configs)
        check(err is None, f"create {t}: {err}")
        wait_until(lambda: len(self.d.topic_partitions(t)) == partitions, WAIT_S, f"{t} has {partitions} partitions")
        return t

    def records(self, n: int = COUNT, tag: str = "r") -> list[Rec]:
        return [Rec(f"key-{i % 5}".encode(), f"{tag}-{i}-{self.run_id}".encode()) for i in range(n)]

    def produce_ok(self, topic: str, recs: list[Rec], **kw) -> list[dict]:
        out = self.d.produce(topic, recs, **kw)
        bad = [o for o in out if o.get("error")]
        check(not bad, f"produce errors: {bad[:3]}")
        return out

    def read_all(self, topic: str, expect: int, partitions: list[int] | None = None, **kw) -> list[Msg]:
        r = self.d.reader(topic, **kw)
        try:
            parts = partitions if partitions is not None else sorted(self.d.topic_partitions(topic))
            r.assign(parts)
            for p in parts:
                r.seek(p, 0)
            got: list[Msg] = []
            deadline = time.monotonic() + WAIT_S
            while len(got) < expect and time.monotonic() < deadline:
                got.extend(r.poll(POLL_S))
            end = time.monotonic() + 0.3
            while time.monotonic() < end:
                got.extend(r.poll(0.1))
            return got
        finally:
            r.close()

    def roundtrip(self, topic: str, recs: list[Rec], acked: list[dict] | None, **read_kw) -> str:
        got = self.read_all(topic, len(recs), **read_kw)
        values = [m.value for m in got]
        check(sorted(values) == sorted(r.value for r in recs),
              f"read {len(got)} records, expected {len(recs)}; missing "
              f"{sorted(set(r.value for r in recs) - set(values))[:3]}, extra/dup {len(values) - len(set(values))}")
        by_key: dict = {}
        for m in got:
            by_key.setdefault(m.key, set()).add(m.partition)
        check(all(len(ps) == 1 for ps in by_key.values()), f"a key in several partitions: {by_key}")
        if acked is not None and all(a.get("offset") is not None and a["offset"] >= 0 for a in acked):
            want = {(a["partition"], a["offset"]): r.value for r, a in zip(recs, acked)}
            have = {(m.partition, m.offset): m.value for m in got}
            check(want == have, f"offsets differ from acknowledgements: acked {sorted(want)[:5]}, read {sorted(have)[:5]}")
        return f"{len(got)} records read back"

    # ------------------------------------------------------------------ admin

    def admin_create_topic(self):
        t = self.topic("create", 3)
        err = self.d.create_topic(t, 3, None)
        check(err == "TOPIC_ALREADY_EXISTS", f"second create answered {err!r}, expected TOPIC_ALREADY_EXISTS")
        return "created; second create: TOPIC_ALREADY_EXISTS"

    def admin_describe_topic(self):
        t = self.topic("describe", 3)
        parts = self.d.topic_partitions(t)
        check(sorted(parts) == [0, 1, 2] and all(l is not None and l >= 0 for l in parts.values()), f"{parts}")
        check(t in self.d.list_topics(), "topic not listed")
        return f"partitions/leaders {parts}"

    def admin_describe_configs(self):
        t = self.topic("configs", 1, {"retention.ms": "3600000"})
        cfg = self.d.describe_configs(t)
        check(cfg.get("retention.ms") == "3600000", f"retention.ms={cfg.get('retention.ms')!r}")
        check(cfg.get("cleanup.policy") == "delete", f"cleanup.policy={cfg.get('cleanup.policy')!r}")
        return f"{len(cfg)} configs"

    def admin_alter_configs(self):
        t = self.topic("alter", 1)
        self.d.alter_configs(t, {"retention.ms": "7200000"})
        cfg = wait_until(lambda: (lambda c: c if c.get("retention.ms") == "7200000" else None)(self.d.describe_configs(t)),
                         10, "retention.ms=7200000 visible")
        return f"retention.ms={cfg['retention.ms']}"

    def admin_create_partitions(self):
        t = self.topic("grow", 1)
        self.d.create_partitions(t, 3)
        wait_until(lambda: len(self.d.topic_partitions(t)) == 3, WAIT_S, "3 partitions in metadata")
        return "1 -> 3 partitions"

    def admin_delete_topic(self):
        t = self.topic("delete", 1)
        self.d.delete_topic(t)
        wait_until(lambda: t not in self.d.list_topics(), 15, f"{t} gone from the listing")
        return "deleted"

    # ------------------------------------------------------------------ produce

    def _acks(self, acks):
        t = self.topic(f"acks{acks}")
        recs = self.records()
        acked = self.produce_ok(t, recs, acks=acks)
        return self.roundtrip(t, recs, None if acks == 0 else acked)

    def produce_acks_0(self):
        return self._acks(0)

    def produce_acks_1(self):
        return self._acks(1)

    def produce_acks_all(self):
        return self._acks(-1)

    def produce_headers(self):
        t = self.topic("headers", 1)
        hdrs = [("h", b"1"), ("h", b"2"), ("x", b"")]
        self.produce_ok(t, [Rec(b"k", b"v-headers", hdrs)], acks=-1)
        got = self.read_all(t, 1)
        check(len(got) == 1, f"read {len(got)} records")
        m = got[0]
        norm = [(k, v if v is not None else b"") for k, v in m.headers]
        check(m.key == b"k", f"key {m.key!r}")
        check(norm == hdrs, f"headers read back {m.headers!r}, sent {hdrs!r}")
        return "key and 3 headers (duplicate key h) intact"

    def _codec(self, codec):
        t = self.topic(codec)
        recs = self.records()
        acked = self.produce_ok(t, recs, acks=-1, codec=codec)
        return self.roundtrip(t, recs, acked)

    def produce_gzip(self):
        return self._codec("gzip")

    def produce_snappy(self):
        return self._codec("snappy")

    def produce_lz4(self):
        return self._codec("lz4")

    def produce_zstd(self):
        return self._codec("zstd")

    def produce_idempotent(self):
        t = self.topic("idem")
        recs = self.records(20)
        acked = self.produce_ok(t, recs, acks=-1, idempotent=True)
        return self.roundtrip(t, recs, acked)

    def produce_record_too_large(self):
        t = self.topic("large", 1, {"max.message.bytes": str(TOO_LARGE_TOPIC_MAX_BYTES)})
        big = Rec(b"big", os.urandom(TOO_LARGE_VALUE_BYTES))
        out = self.d.produce(t, [big], acks=-1, timeout_s=20)
        err = out[0].get("error") or ""
        check(err, f"64 KiB record into max.message.bytes={TOO_LARGE_TOPIC_MAX_BYTES} was accepted: {out}")
        check("too_large" in err.lower().replace(" ", "_") or "toolarge" in err.lower().replace("_", ""),
              f"error is not MESSAGE_TOO_LARGE: {err}")
        self.produce_ok(t, [Rec(b"small", b"fits")], acks=-1)
        return f"rejected: {err[:120]}"

    def produce_unknown_topic_autocreate(self):
        t = self.name("auto")
        acked = self.produce_ok(t, [Rec(b"k", b"auto-created")], acks=-1, timeout_s=30)
        check(t in self.d.list_topics(), "topic not listed after the produce")
        return f"auto-created, record at {acked[0].get('offset')}"

    def produce_unknown_topic_no_autocreate(self):
        t = self.name("noauto")
        out = self.d.produce(t, [Rec(b"k", b"nowhere")], acks=-1, timeout_s=8)
        err = out[0].get("error")
        check(err, f"produce to a missing topic succeeded: {out}")
        check(t not in self.d.list_topics(), "the topic was created anyway")
        return f"refused: {str(err)[:120]}"

    # ------------------------------------------------------------------ consume

    def consume_assign_seek(self):
        t = self.topic("seek")
        recs = [Rec(b"k", f"s-{i}".encode(), partition=0) for i in range(COUNT)]
        self.produce_ok(t, recs, acks=-1)
        r = self.d.reader(t)
        try:
            r.assign([0])
            r.seek(0, 5)
            got = []
            deadline = time.monotonic() + WAIT_S
            while len(got) < 5 and time.monotonic() < deadline:
                got.extend(r.poll(POLL_S))
        finally:
            r.close()
        check([m.offset for m in got] == [5, 6, 7, 8, 9], f"offsets read {[m.offset for m in got]}")
        check([m.value for m in got] == [f"s-{i}".encode() for i in range(5, 10)], "values differ")
        return "read offsets 5..9"

    def consume_from_timestamp(self):
        t = self.topic("ts", 1)
        t0 = int(time.time() * 1000) - 60_000
        recs = [Rec(b"k", f"t-{i}".encode(), partition=0, timestamp_ms=t0 + i * TIMESTAMP_STEP_MS) for i in range(5)]
        self.produce_ok(t, recs, acks=-1)
        r = self.d.reader(t)
        try:
            r.assign([0])
            off = r.offset_for_time(0, t0 + 2 * TIMESTAMP_STEP_MS)
            check(off == 2, f"offset for t0+2s is {off}, expected 2")
            r.seek(0, off)
            got = []
            deadline = time.monotonic() + WAIT_S
            while len(got) < 3 and time.monotonic() < deadline:
                got.extend(r.poll(POLL_S))
        finally:
            r.close()
        check([m.offset for m in got] == [2, 3, 4], f"offsets read {[m.offset for m in got]}")
        check([m.timestamp_ms for m in got] == [t0 + i * TIMESTAMP_STEP_MS for i in (2, 3, 4)],
              f"timestamps {[m.timestamp_ms for m in got]}")
        return "offset 2 for t0+2s; read 2..4 with their timestamps"

    def consume_earliest(self):
        t = self.topic("earliest")
        recs = self.records()
        self.produce_ok(t, recs, acks=-1)
        r = self.d.reader(t, reset="earliest")
        try:
            r.assign([0, 1])
            got = []
            deadline = time.monotonic() + WAIT_S
            while len(got) < COUNT and time.monotonic() < deadline:
                got.extend(r.poll(POLL_S))
        finally:
            r.close()
        check(sorted(m.value for m in got) == sorted(x.value for x in recs), f"read {len(got)} of {COUNT}")
        return f"{len(got)} records from the earliest offsets"

    def consume_latest(self):
        t = self.topic("latest")
        self.produce_ok(t, self.records(tag="old"), acks=-1)
        r = self.d.reader(t, reset="latest")
        try:
            r.assign([0, 1])
            ends = wait_until(lambda: (lambda ps: ps if None not in ps else None)([r.position(p) for p in (0, 1)]),
                              WAIT_S, "positions known")
            check(sum(ends) == COUNT, f"positions {ends} are not the end offsets (total {COUNT})")
            new = self.records(5, tag="new")
            self.produce_ok(t, new, acks=-1)
            got = []
            deadline = time.monotonic() + WAIT_S
            while len(got) < 5 and time.monotonic() < deadline:
                got.extend(r.poll(POLL_S))
            end = time.monotonic() + 0.3
            while time.monotonic() < end:
                got.extend(r.poll(0.1))
        finally:
            r.close()
        check(sorted(m.value for m in got) == sorted(x.value for x in new), f"read {[m.value for m in got]}")
        return "positioned at the end; read exactly the 5 new records"

    def consume_max_bytes(self):
        t = self.topic("maxbytes", 1)
        recs = [Rec(b"k", f"{i:04d}".encode() + os.urandom(MAX_BYTES_VALUE_BYTES // 2).hex().encode()[:MAX_BYTES_VALUE_BYTES],
                    partition=0) for i in range(MAX_BYTES_RECORDS)]
        for rec in recs:  # one batch each, so the fetch limits cut between batches
            self.produce_ok(t, [rec], acks=-1)
        got = self.read_all(t, MAX_BYTES_RECORDS, partitions=[0], max_bytes=MAX_BYTES_LIMIT)
        check([m.offset for m in got] == list(range(MAX_BYTES_RECORDS)), f"offsets {[m.offset for m in got]}")
        check([m.value for m in got] == [r.value for r in recs], "values differ")
        return f"{len(got)} x 10 KiB records with 15000-byte fetch limits"

    # ------------------------------------------------------------------ groups

    def loop(self, topic, group, name, **kw) -> Loop:
        return Loop(lambda: self.d.member(topic, group, **kw), name)

    def _read_in_group(self, loop: Loop, want: set) -> list[Msg]:
        wait_until(lambda: (loop.check_alive(), want <= {m.value for m in loop.got()})[1], WAIT_S,
                   f"{len(want)} records read by {loop.name}")
        return loop.got()

    def _ends(self, acked):
        ends = {p: 0 for p in range(PARTITIONS)}
        for a in acked:
            ends[a["partition"]] = max(ends[a["partition"]], a["offset"] + 1)
        return ends

    def _committed(self, group, topic):
        return self.d.group_offsets(group, topic, list(range(PARTITIONS)))

    def group_auto_commit(self):
        t = self.topic("auto")
        g = t + "-g"
        recs = self.records()
        ends = self._ends(self.produce_ok(t, recs, acks=-1))
        a = self.loop(t, g, "a", auto_commit=True)
        try:
            self._read_in_group(a, {r.value for r in recs})
            wait_until(lambda: self._committed(g, t) == ends, 15, f"auto commit reaches {ends}")
            check(a.error is None, a.error)
        finally:
            a.close()
        return f"committed {ends} while running"

    def _full_read_commit(self, t, g, recs, label):
        a = self.loop(t, g, label, auto_commit=False)
        try:
            self._read_in_group(a, {r.value for r in recs})
            a.call(lambda m: m.commit())
        finally:
            a.close()
        return a

    def group_manual_commit(self):
        t = self.topic("manual")
        g = t + "-g"
        recs = self.records()
        ends = self._ends(self.produce_ok(t, recs, acks=-1))
        a = self._full_read_commit(t, g, recs, "a")
        check(len(a.got()) == COUNT, f"read {len(a.got())} records")
        got = self._committed(g, t)
        check(got == ends, f"committed {got}, expected {ends}")
        return f"committed {ends}"

    def group_no_commit(self):
        t = self.topic("nocommit")
        g = t + "-g"
        recs = self.records()
        self.produce_ok(t, recs, acks=-1)
        for run in (1, 2):
            a = self.loop(t, g, f"run{run}", auto_commit=False)
            try:
                self._read_in_group(a, {r.value for r in recs})
            finally:
                a.close()
        got = self._committed(g, t)
        check(all(none(v) for v in got.values()), f"offsets were committed: {got}")
        return "both runs read all 10; nothing committed"

    def group_reset(self):
        t = self.topic("reset")
        g = t + "-g"
        recs = self.records()
        ends = self._ends(self.produce_ok(t, recs, acks=-1))
        self._full_read_commit(t, g, recs, "first")
        check(self._committed(g, t) == ends, "first run did not commit the ends")
        r = self.loop(t, g, "reset", auto_commit=False)
        try:
            wait_until(lambda: (r.check_alive(), r.assignment() == [0, 1])[1], WAIT_S, "reset member assigned")
            r.call(lambda m: m.seek_to_beginning())
            r.call(lambda m: m.commit({0: 0, 1: 0}))
        finally:
            r.close()
        check(self._committed(g, t) == {0: 0, 1: 0}, f"after reset: {self._committed(g, t)}")
        again = self._full_read_commit(t, g, recs, "again")
        check(sorted(m.value for m in again.got()) == sorted(r.value for r in recs), "re-read differs")
        return "reset to 0 and re-read all 10"

    def _two_members(self, stem, **kw):
        t = self.topic(stem)
        g = t + "-g"
        a = self.loop(t, g, "a", auto_commit=False, **kw)
        wait_until(lambda: (a.check_alive(), a.assignment() == [0, 1])[1], WAIT_S, "a owns both partitions")
        b = self.loop(t, g, "b", auto_commit=False, **kw)
        wait_until(lambda: (a.check_alive(), b.check_alive(),
                            sorted((a.assignment() or []) + (b.assignment() or [])) == [0, 1]
                            and a.assignment() and b.assignment())[2],
                   WAIT_S, "a and b own one partition each")
        return t, g, a, b

    def group_join(self):
        _t, _g, a, b = self._two_members("join")
        try:
            return f"a {a.assignment()}, b {b.assignment()}"
        finally:
            b.close()
            a.close()

    def group_leave(self):
        _t, _g, a, b = self._two_members("leave")
        try:
            closed_at = time.monotonic()
            b.close()
            wait_until(lambda: (a.check_alive(), a.assignment() == [0, 1])[1], WAIT_S, "a owns both after b left")
            took = time.monotonic() - closed_at
            check(took < LEAVE_BOUND_S, f"a got both partitions only {took:.1f}s after b closed")
            return f"a owns both {took:.1f}s after b closed"
        finally:
            a.close()

    def group_crash(self):
        t = self.topic("crash")
        g = t + "-g"
        first = self.records(tag="first")
        self.produce_ok(t, first, acks=-1)
        child = subprocess.Popen([*self.argv0, "--child-member", f"{t},{g},{COUNT}"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
        try:
            line = wait_line(child, WAIT_S)
            check(line.strip() == "committed", f"child said {line!r}")
            child.kill()
            killed_at = time.monotonic()
            child.wait(10)
            second = self.records(5, tag="second")
            self.produce_ok(t, second, acks=-1)
            b = self.loop(t, g, "b", auto_commit=False)
            try:
                wait_until(lambda: (b.check_alive(), b.assignment() == [0, 1])[1],
                           SESSION_TIMEOUT_MS / 1000 + WAIT_S, "b owns both partitions")
                took = time.monotonic() - killed_at
                self._read_in_group(b, {r.value for r in second})
                time.sleep(0.5)
                got = sorted(m.value for m in b.got())
                check(got == sorted(r.value for r in second), f"b read {len(got)} records, expected only the 5 new")
            finally:
                b.close()
            check(took >= SESSION_TIMEOUT_MS / 2000, f"b owned a's partitions {took:.1f}s after the kill: before a's session expired")
            return f"b owns both {took:.1f}s after the kill; read only the 5 uncommitted"
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(10)

    def group_concurrent_joins(self):
        t = self.topic("concurrent", CONCURRENT_MEMBERS)
        g = t + "-g"
        loops = [self.loop(t, g, f"m{i}", auto_commit=False) for i in range(CONCURRENT_MEMBERS)]
        try:
            def settled():
                for lp in loops:
                    lp.check_alive()
                owned = [lp.assignment() for lp in loops]
                if any(not o for o in owned):
                    return None
                flat = sorted(p for o in owned for p in o)
                return owned if flat == list(range(CONCURRENT_MEMBERS)) else None
            owned = wait_until(settled, WAIT_S * 2, f"{CONCURRENT_MEMBERS} members settle")
            return f"settled: {owned}"
        finally:
            for lp in loops:
                lp.close()

    def group_static_membership(self):
        t = self.topic("static")
        g = t + "-g"
        a = self.loop(t, g, "a", auto_commit=False, instance_id="static-a")
        b = None
        try:
            wait_until(lambda: (a.check_alive(), a.assignment() == [0, 1])[1], WAIT_S, "a owns both")
            b = self.loop(t, g, "b", auto_commit=False, instance_id="static-b")
            wait_until(lambda: (a.check_alive(), b.check_alive(), a.assignment() and b.assignment()
                                and sorted(a.assignment() + b.assignment()) == [0, 1])[2], WAIT_S, "one each")
            mine = b.assignment()
            changes_before = len(a.assignments)
            b.close()
            b = self.loop(t, g, "b2", auto_commit=False, instance_id="static-b")
            wait_until(lambda: (b.check_alive(), b.assignment())[1], WAIT_S, "restarted b assigned")
            time.sleep(1.0)
            check(b.assignment() == mine, f"b came back with {b.assignment()}, had {mine}")
            check(len(a.assignments) == changes_before, f"a was rebalanced: {a.assignments[changes_before - 1:]}")
            return f"b got {mine} back; a kept {a.assignment()} throughout"
        finally:
            if b is not None:
                b.close()
            a.close()

    # ------------------------------------------------------------------ offsets

    def _committed_group(self, stem):
        """A topic with 10 records and an empty group that committed the end offsets."""
        t = self.topic(stem)
        g = t + "-g"
        recs = self.records()
        ends = self._ends(self.produce_ok(t, recs, acks=-1))
        self._full_read_commit(t, g, recs, "reader")
        check(self._committed(g, t) == ends, "setup: ends not committed")
        return t, g, ends

    def _commit_explicit(self):
        t = self.topic("commit")
        g = t + "-g"
        self.produce_ok(t, self.records(), acks=-1)
        a = self.loop(t, g, "a", auto_commit=False)
        try:
            wait_until(lambda: (a.check_alive(), a.assignment() == [0, 1])[1], WAIT_S, "a assigned")
            a.call(lambda m: m.commit({0: 3, 1: 2}, metadata="m-compat"))
            fetched = a.call(lambda m: m.committed([0, 1]))
        finally:
            a.close()
        return t, g, fetched

    def offsets_commit(self):
        t, g, _ = self._commit_explicit()
        got = self._committed(g, t)
        check(got == {0: 3, 1: 2}, f"admin sees {got}")
        return "admin sees {0: 3, 1: 2}"

    def offsets_fetch(self):
        t, g, fetched = self._commit_explicit()
        check({p: o for p, (o, _m) in fetched.items()} == {0: 3, 1: 2}, f"committed() {fetched}")
        metas = {p: m for p, (_o, m) in fetched.items()}
        how = "committed()"
        if any(m is None for m in metas.values()):
            # The consumer's committed() drops the metadata; the admin client's OffsetFetch keeps it.
            fetched = self.d.group_offsets_metadata(g, t, [0, 1])
            how = "the admin client's OffsetFetch (committed() has no metadata)"
            check({p: o for p, (o, _m) in fetched.items()} == {0: 3, 1: 2}, f"admin OffsetFetch {fetched}")
            metas = {p: m for p, (_o, m) in fetched.items()}
        check(all(m == "m-compat" for m in metas.values()), f"metadata {metas}")
        return f"{how}: {fetched}"

    def offsets_reset(self):
        t, g, _ends = self._committed_group("oreset")
        self.d.alter_group_offsets(g, t, {0: 0, 1: 0})
        got = self._committed(g, t)
        check(got == {0: 0, 1: 0}, f"after reset {got}")
        return "reset to {0: 0, 1: 0}"

    def offsets_delete(self):
        t, g, ends = self._committed_group("odelete")
        self.d.delete_group_offsets(g, t, [0])
        got = self._committed(g, t)
        check(none(got.get(0)) and got.get(1) == ends[1], f"after delete {got} (ends {ends})")
        return f"partition 0 gone, partition 1 kept at {ends[1]}"

    def offsets_delete_group(self):
        t, g, _ends = self._committed_group("odelgroup")
        check(g in self.d.list_groups(), "group not listed before the delete")
        self.d.delete_group(g)
        check(g not in self.d.list_groups(), "group still listed")
        got = self._committed(g, t)
        check(all(none(v) for v in got.values()), f"offsets left {got}")
        return "deleted; offsets gone"


def wait_line(proc, timeout_s: float) -> str:
    box: dict = {}

    def reader():
        box["line"] = proc.stdout.readline()

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    th.join(timeout_s)
    if "line" not in box:
        raise Check(f"child printed nothing within {timeout_s:.0f}s")
    return box["line"]


def child_member(driver, spec: str) -> None:
    """group.crash's member a: read `count` records, commit, say so, keep polling until killed."""
    topic, group, count = spec.split(",")
    m = driver.member(topic, group, auto_commit=False)
    got = 0
    deadline = time.monotonic() + WAIT_S
    while got < int(count) and time.monotonic() < deadline:
        got += len(m.poll(POLL_S))
    m.commit()
    print("committed", flush=True)
    end = time.monotonic() + 120
    while time.monotonic() < end:
        m.poll(POLL_S)


def main(make_driver, client: str, scenarios_class=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--scenarios", default="")
    p.add_argument("--run-id", default="x")
    p.add_argument("--child-member", default=None)
    args = p.parse_args()
    driver = make_driver(args.bootstrap)
    if args.child_member:
        child_member(driver, args.child_member)
        return
    out = sys.stdout
    out.write(json.dumps({"client": client, "version": driver.version()}) + "\n")
    out.flush()
    sc = (scenarios_class or Scenarios)(driver, args.run_id, client, [sys.executable, os.path.abspath(sys.argv[0]),
                                                 "--bootstrap", args.bootstrap])
    for sid in [s for s in args.scenarios.split(",") if s]:
        fn = getattr(sc, sid.replace(".", "_"), None)
        start = time.monotonic()
        if fn is None:
            status, detail = "skip", "not in this adapter"
        else:
            try:
                status, detail = "pass", fn()
            except Unsupported as e:
                status, detail = "skip", str(e)
            except Check as e:
                status, detail = "fail", str(e)
            except BaseException as e:  # noqa: BLE001 - any client error fails the scenario
                status = "fail"
                detail = f"{type(e).__name__}: {e}"[:ERROR_SHOWN_CHARS]
                sys.stderr.write(traceback.format_exc())
        out.write(json.dumps({"scenario": sid, "status": status, "detail": str(detail)[:ERROR_SHOWN_CHARS],
                              "elapsed_s": round(time.monotonic() - start, 2)}) + "\n")
        out.flush()
    driver.close()
    # Client threads (heartbeats, delivery reports) must not keep a finished adapter alive.
    os._exit(0)


signal.signal(signal.SIGTERM, lambda *_: os._exit(1))
