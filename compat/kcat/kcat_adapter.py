#!/usr/bin/env python3
"""Report-card adapter for kcat (librdkafka's CLI; Debian's build).

kcat has no admin calls, so topics are made, and committed offsets read, with
confluent-kafka's AdminClient (the ck driver of compat/python); every produce, consume and
group step under test is a kcat process. Scenarios kcat cannot express are skips.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from adapterlib import (CONCURRENT_MEMBERS, COUNT, HEARTBEAT_INTERVAL_MS, LEAVE_BOUND_S,  # noqa: E402
                        MAX_BYTES_LIMIT, MAX_BYTES_RECORDS, MAX_BYTES_VALUE_BYTES, SESSION_TIMEOUT_MS,
                        TIMESTAMP_STEP_MS, TOO_LARGE_TOPIC_MAX_BYTES, TOO_LARGE_VALUE_BYTES, WAIT_S, Check, Rec,
                        Scenarios, Unsupported, check, main, wait_until)
from ck_adapter import Driver as CkDriver  # noqa: E402

KCAT = os.environ.get("RUNNEL_KCAT", "kcat")
KCAT_TIMEOUT_S = 60.0
# kcat -C -o end needs to have resolved "end" before new records arrive; it has no way to
# say so, so it gets this head start (the scenario fails, never passes, if it is too short).
LATEST_HEAD_START_S = 3.0
GROUP_SETTLE_S = 25.0


def kcat(args: list[str], stdin: str | None = None, timeout_s: float = KCAT_TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run([KCAT, *args], input=stdin, capture_output=True, text=True, timeout=timeout_s)


_ASSIGN_RE = re.compile(r"rebalanced \(memberid [^)]*\): (assigned|revoked): (.*)$")


class KcatMember:
    """One `kcat -G` process: its records (stdout, JSON) and its assignment, from the
    "% Group ... rebalanced: assigned/revoked: topic [p], ..." lines kcat prints on stderr."""

    def __init__(self, bootstrap: str, topic: str, group: str, name: str, extra: list[str]):
        self.name = name
        self._lock = threading.Lock()
        self._records: list[dict] = []
        self._history: list[list[int]] = []
        self._stderr: list[str] = []
        self.proc = subprocess.Popen(
            # Not "-o beginning": in -G mode kcat applies -o on every assignment, over the
            # committed offsets; auto.offset.reset applies only where nothing is committed.
            [KCAT, "-b", bootstrap, "-G", group, "-J", "-u", "-X", "auto.offset.reset=earliest",
             "-X", f"session.timeout.ms={SESSION_TIMEOUT_MS}", "-X", f"heartbeat.interval.ms={HEARTBEAT_INTERVAL_MS}",
             "-X", "auto.commit.interval.ms=500", *extra, topic],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read_out(self):
        for line in self.proc.stdout:
            if line.strip():
                with self._lock:
                    self._records.append(json.loads(line))

    def _read_err(self):
        for line in self.proc.stderr:
            m = _ASSIGN_RE.search(line)
            with self._lock:
                self._stderr.append(line)
                if m:
                    parts = sorted(int(p) for p in re.findall(r"\[(\d+)\]", m.group(2)))
                    self._history.append(parts if m.group(1) == "assigned" else [])

    def records(self):
        with self._lock:
            return list(self._records)

    def history(self):
        with self._lock:
            return list(self._history)

    def assignment(self):
        h = self.history()
        return h[-1] if h else None

    def alive(self):
        if self.proc.poll() is not None:
            with self._lock:
                tail = "".join(self._stderr[-5:])
            raise Check(f"kcat {self.name} exited {self.proc.returncode}: {tail[-300:]}")

    def stop(self):
        """SIGTERM: kcat closes its consumer, which leaves the group."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def kcat_version() -> str:
    out = kcat(["-V"]).stdout
    for line in out.splitlines():
        if line.startswith("Version"):
            return line.split("(")[0].replace("Version", "").strip() + " (" + line.split("librdkafka")[1].split()[0] + " librdkafka)"
    return "unknown"


class KcatScenarios(Scenarios):
    """Scenario ids of compat/scenarios.py as kcat runs them; ones kcat lacks raise Unsupported."""

    @property
    def bs(self) -> str:
        return self.d.bs

    def _produce(self, topic: str, recs: list[Rec], extra: list[str] | None = None) -> subprocess.CompletedProcess:
        lines = "".join(f"{r.key.decode()}\t{r.value.decode()}\n" for r in recs)
        res = kcat(["-P", "-b", self.bs, "-t", topic, "-K", "\t", *(extra or [])], stdin=lines)
        return res

    def _produce_ok(self, topic, recs, extra=None):
        res = self._produce(topic, recs, extra)
        check(res.returncode == 0 and "ERROR" not in res.stderr, f"kcat -P exit {res.returncode}: {res.stderr[-400:]}")

    def _consume(self, topic: str, args: list[str], timeout_s: float = KCAT_TIMEOUT_S) -> list[dict]:
        res = kcat(["-C", "-b", self.bs, "-t", topic, "-J", "-q", *args], timeout_s=timeout_s)
        check(res.returncode == 0, f"kcat -C exit {res.returncode}: {res.stderr[-400:]}")
        return [json.loads(ln) for ln in res.stdout.splitlines() if ln.strip()]

    def _read_back(self, topic: str, recs: list[Rec]) -> str:
        got = self._consume(topic, ["-o", "beginning", "-e"])
        check(sorted(g["payload"] for g in got) == sorted(r.value.decode() for r in recs),
              f"read {len(got)} records, expected {len(recs)}")
        by_key: dict = {}
        for g in got:
            by_key.setdefault(g["key"], set()).add(g["partition"])
        check(all(len(ps) == 1 for ps in by_key.values()), f"a key in several partitions: {by_key}")
        return f"{len(got)} records read back"

    # ------------------------------------------------------------------ admin

    def admin_create_topic(self):
        raise Unsupported("kcat has no topic administration")

    def admin_describe_topic(self):
        t = self.topic("describe", 3)
        res = kcat(["-L", "-b", self.bs, "-t", t, "-J"])
        check(res.returncode == 0, res.stderr[-300:])
        md = json.loads(res.stdout)
        parts = {p["partition"]: p["leader"] for tp in md["topics"] if tp["topic"] == t for p in tp["partitions"]}
        check(sorted(parts) == [0, 1, 2] and all(v >= 0 for v in parts.values()), f"kcat -L: {parts}")
        return f"kcat -L: partitions/leaders {parts}"

    def admin_describe_configs(self):
        raise Unsupported("kcat has no topic administration")

    admin_alter_configs = admin_describe_configs
    admin_create_partitions = admin_describe_configs
    admin_delete_topic = admin_describe_configs

    # ------------------------------------------------------------------ produce

    def _acks(self, acks: str):
        t = self.topic(f"acks{acks}")
        recs = self.records()
        self._produce_ok(t, recs, ["-X", f"acks={acks}"])
        return self._read_back(t, recs)

    def produce_acks_0(self):
        return self._acks("0")

    def produce_acks_1(self):
        return self._acks("1")

    def produce_acks_all(self):
        return self._acks("all")

    def produce_headers(self):
        t = self.topic("headers", 1)
        self._produce_ok(t, [Rec(b"k", b"v-headers")], ["-H", "h=1", "-H", "h=2", "-H", "x="])
        got = self._consume(t, ["-o", "beginning", "-e"])
        check(len(got) == 1, f"read {len(got)}")
        hs = got[0].get("headers") or []
        pairs = [f"{hs[i]}={hs[i + 1] or ''}" for i in range(0, len(hs), 2)]
        check(got[0]["key"] == "k", f"key {got[0]['key']}")
        check(pairs == ["h=1", "h=2", "x="], f"headers read back {hs}")
        return "key and 3 headers (duplicate key h) intact"

    def _codec(self, codec):
        t = self.topic(codec)
        recs = self.records()
        self._produce_ok(t, recs, ["-z", codec])
        return self._read_back(t, recs)

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
        self._produce_ok(t, recs, ["-X", "enable.idempotence=true"])
        return self._read_back(t, recs)

    def produce_record_too_large(self):
        t = self.topic("large", 1, {"max.message.bytes": str(TOO_LARGE_TOPIC_MAX_BYTES)})
        big = os.urandom(TOO_LARGE_VALUE_BYTES // 2).hex()
        res = self._produce(t, [Rec(b"big", big.encode())])
        err = res.stderr
        check("too large" in err.lower() or "MSG_SIZE_TOO_LARGE" in err,
              f"no MESSAGE_TOO_LARGE from kcat (exit {res.returncode}): {err[-300:]}")
        self._produce_ok(t, [Rec(b"small", b"fits")])
        return "rejected: " + next((ln for ln in err.splitlines() if "arge" in ln), err[-120:]).strip()[:200]

    def produce_unknown_topic_autocreate(self):
        t = self.name("auto")
        self._produce_ok(t, [Rec(b"k", b"auto-created")])
        wait_until(lambda: t in self.d.list_topics(), 5, "topic listed after the produce")
        return "auto-created"

    def produce_unknown_topic_no_autocreate(self):
        t = self.name("noauto")
        res = self._produce(t, [Rec(b"k", b"nowhere")], ["-X", "message.timeout.ms=8000"])
        check(res.returncode != 0 or "ERROR" in res.stderr, f"kcat -P succeeded: {res.stderr[-300:]}")
        check(t not in self.d.list_topics(), "the topic was created anyway")
        return "refused: " + res.stderr.strip().splitlines()[-1][:200]

    # ------------------------------------------------------------------ consume

    def consume_assign_seek(self):
        t = self.topic("seek")
        self.produce_ok(t, [Rec(b"k", f"s-{i}".encode(), partition=0) for i in range(COUNT)], acks=-1)
        got = self._consume(t, ["-p", "0", "-o", "5", "-c", "5"])
        check([g["offset"] for g in got] == [5, 6, 7, 8, 9], f"offsets read {[g['offset'] for g in got]}")
        return "kcat -p 0 -o 5: read offsets 5..9"

    def consume_from_timestamp(self):
        t = self.topic("ts", 1)
        t0 = int(time.time() * 1000) - 60_000
        self.produce_ok(t, [Rec(b"k", f"t-{i}".encode(), partition=0, timestamp_ms=t0 + i * TIMESTAMP_STEP_MS)
                            for i in range(5)], acks=-1)
        q = kcat(["-Q", "-b", self.bs, "-t", f"{t}:0:{t0 + 2 * TIMESTAMP_STEP_MS}"])
        check(q.returncode == 0 and "offset 2" in q.stdout, f"kcat -Q: {q.stdout.strip()} {q.stderr[-200:]}")
        got = self._consume(t, ["-p", "0", "-o", f"s@{t0 + 2 * TIMESTAMP_STEP_MS}", "-e"])
        seen = [(g["offset"], g["ts"] - t0) for g in got]
        check(seen == [(2, 2000), (3, 3000), (4, 4000)], f"read {seen}")
        return "kcat -Q: offset 2; -o s@t0+2s read 2..4"

    def consume_earliest(self):
        t = self.topic("earliest")
        recs = self.records()
        self.produce_ok(t, recs, acks=-1)
        return self._read_back(t, recs) + " (-o beginning)"

    def consume_latest(self):
        t = self.topic("latest")
        self.produce_ok(t, self.records(tag="old"), acks=-1)
        proc = subprocess.Popen([KCAT, "-C", "-b", self.bs, "-t", t, "-J", "-q", "-o", "end", "-c", "5"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(LATEST_HEAD_START_S)
            new = self.records(5, tag="new")
            self.produce_ok(t, new, acks=-1)
            out, err = proc.communicate(timeout=WAIT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        got = [json.loads(ln)["payload"] for ln in out.splitlines() if ln.strip()]
        check(sorted(got) == sorted(r.value.decode() for r in new), f"read {got} {err[-200:]}")
        return "kcat -o end read exactly the 5 new records"

    def consume_max_bytes(self):
        t = self.topic("maxbytes", 1)
        vals = [f"{i:04d}" + chr(97 + i % 26) * MAX_BYTES_VALUE_BYTES for i in range(MAX_BYTES_RECORDS)]
        for v in vals:
            self.produce_ok(t, [Rec(b"k", v.encode(), partition=0)], acks=-1)
        got = self._consume(t, ["-o", "beginning", "-e", "-X", f"fetch.max.bytes={MAX_BYTES_LIMIT}",
                                "-X", f"max.partition.fetch.bytes={MAX_BYTES_LIMIT}",
                                "-X", f"receive.message.max.bytes={MAX_BYTES_LIMIT + 512}",
                                "-X", f"message.max.bytes={MAX_BYTES_LIMIT}"])
        check([g["offset"] for g in got] == list(range(MAX_BYTES_RECORDS)), f"offsets {[g['offset'] for g in got]}")
        check([g["payload"] for g in got] == vals, "values differ")
        return "20 x 10 KiB records with 15000-byte fetch limits"

    # ------------------------------------------------------------------ groups

    def _group_read(self, t, g, extra, want):
        """kcat -G until `want` records arrived, then SIGTERM (kcat closes, which commits)."""
        proc = subprocess.Popen([KCAT, "-b", self.bs, "-G", g, "-J", "-q", "-u", "-X", "auto.offset.reset=earliest",
                                 "-X", "auto.commit.interval.ms=500", *extra, t],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(ln for ln in proc.stdout if ln.strip()), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + GROUP_SETTLE_S
            while len(lines) < want and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.1)
            return [json.loads(ln) for ln in list(lines)], proc
        except BaseException:
            proc.kill()
            raise

    def group_auto_commit(self):
        t = self.topic("auto")
        g = t + "-g"
        acked = self.produce_ok(t, self.records(), acks=-1)
        ends = self._ends(acked)
        got, proc = self._group_read(t, g, [], COUNT)
        try:
            check(len(got) >= COUNT, f"kcat -G read {len(got)}")
            wait_until(lambda: self._committed(g, t) == ends, 15, f"auto commit reaches {ends}")
        finally:
            proc.terminate()
            proc.wait(WAIT_S)
        return f"kcat -G: committed {ends} while running"

    def group_no_commit(self):
        # Seen against Apache Kafka too: kcat -G stores and commits what it consumed when it
        # exits, whatever enable.auto.commit says, so "no commits" cannot be expressed.
        raise Unsupported("kcat -G commits on exit even with enable.auto.commit=false")

    def _no_group_api(self):
        raise Unsupported("kcat -G has no commit or seek control (it commits automatically)")

    group_manual_commit = _no_group_api
    group_reset = _no_group_api

    def _member(self, t, g, name, *extra) -> "KcatMember":
        return KcatMember(self.bs, t, g, name, list(extra))

    def _two(self, stem, *extra):
        t = self.topic(stem)
        g = t + "-g"
        a = self._member(t, g, "a", *extra)
        wait_until(lambda: (a.alive(), a.assignment() == [0, 1])[1], WAIT_S, "a owns both partitions")
        b = self._member(t, g, "b", *extra)
        wait_until(lambda: (a.alive(), b.alive(), a.assignment() and b.assignment()
                            and sorted(a.assignment() + b.assignment()) == [0, 1])[2], WAIT_S, "one partition each")
        return t, g, a, b

    def group_join(self):
        _t, _g, a, b = self._two("join")
        try:
            return f"two kcat -G: a {a.assignment()}, b {b.assignment()}"
        finally:
            b.stop()
            a.stop()

    def group_leave(self):
        _t, _g, a, b = self._two("leave")
        try:
            closed_at = time.monotonic()
            b.stop()
            wait_until(lambda: (a.alive(), a.assignment() == [0, 1])[1], WAIT_S, "a owns both after b left")
            took = time.monotonic() - closed_at
            check(took < LEAVE_BOUND_S, f"a got both partitions only {took:.1f}s after b closed")
            return f"kcat b stopped (SIGTERM); a owns both {took:.1f}s later"
        finally:
            a.stop()

    def group_crash(self):
        t = self.topic("crash")
        g = t + "-g"
        ends = self._ends(self.produce_ok(t, self.records(tag="first"), acks=-1))
        a = self._member(t, g, "a")
        try:
            wait_until(lambda: (a.alive(), len(a.records()) >= COUNT)[1], WAIT_S, "a read the first records")
            wait_until(lambda: self._committed(g, t) == ends, WAIT_S, f"a's auto commit reaches {ends}")
        finally:
            a.kill()
        killed_at = time.monotonic()
        second = self.records(5, tag="second")
        self.produce_ok(t, second, acks=-1)
        b = self._member(t, g, "b")
        try:
            wait_until(lambda: (b.alive(), b.assignment() == [0, 1])[1], SESSION_TIMEOUT_MS / 1000 + WAIT_S,
                       "b owns both partitions")
            took = time.monotonic() - killed_at
            wait_until(lambda: len(b.records()) >= 5, WAIT_S, "b read the new records")
            time.sleep(0.5)
            got = sorted(r["payload"] for r in b.records())
            check(got == sorted(r.value.decode() for r in second), f"b read {len(got)} records, expected only the 5 new")
        finally:
            b.stop()
        check(took >= SESSION_TIMEOUT_MS / 2000, f"b owned a's partitions {took:.1f}s after SIGKILL: before a's session expired")
        return f"kcat a killed (SIGKILL); kcat b owns both {took:.1f}s later and read only the 5 uncommitted"

    def group_concurrent_joins(self):
        t = self.topic("concurrent", CONCURRENT_MEMBERS)
        g = t + "-g"
        ms = [self._member(t, g, f"m{i}") for i in range(CONCURRENT_MEMBERS)]
        try:
            def settled():
                for m in ms:
                    m.alive()
                owned = [m.assignment() for m in ms]
                if any(not o for o in owned):
                    return None
                return owned if sorted(p for o in owned for p in o) == list(range(CONCURRENT_MEMBERS)) else None
            owned = wait_until(settled, 2 * WAIT_S, f"{CONCURRENT_MEMBERS} kcat -G settle")
            return f"settled: {owned}"
        finally:
            for m in ms:
                m.stop()

    def group_static_membership(self):
        t = self.topic("static")
        g = t + "-g"
        a = self._member(t, g, "a", "-X", "group.instance.id=static-a")
        b = None
        try:
            wait_until(lambda: (a.alive(), a.assignment() == [0, 1])[1], WAIT_S, "a owns both")
            b = self._member(t, g, "b", "-X", "group.instance.id=static-b")
            wait_until(lambda: (a.alive(), b.alive(), a.assignment() and b.assignment()
                                and sorted(a.assignment() + b.assignment()) == [0, 1])[2], WAIT_S, "one each")
            mine = b.assignment()
            before = len(a.history())
            b.stop()
            b = self._member(t, g, "b2", "-X", "group.instance.id=static-b")
            wait_until(lambda: (b.alive(), b.assignment())[1], WAIT_S, "restarted b assigned")
            time.sleep(1.0)
            check(b.assignment() == mine, f"b came back with {b.assignment()}, had {mine}")
            check(len(a.history()) == before, f"a was rebalanced: {a.history()[before - 1:]}")
            return f"kcat b restarted with its instance id got {mine} back; a kept {a.assignment()}"
        finally:
            if b is not None:
                b.stop()
            a.stop()

    def _no_offsets_api(self):
        raise Unsupported("kcat has no offset administration")

    offsets_commit = _no_offsets_api
    offsets_fetch = _no_offsets_api
    offsets_reset = _no_offsets_api
    offsets_delete = _no_offsets_api
    offsets_delete_group = _no_offsets_api


class Driver(CkDriver):
    def version(self):
        return kcat_version()


if __name__ == "__main__":
    main(Driver, "kcat", KcatScenarios)
