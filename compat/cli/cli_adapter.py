#!/usr/bin/env python3
"""Report-card adapter for Kafka's own command-line tools, run as their Java main classes
from the reference jars (the classes behind kafka-topics.sh, kafka-configs.sh,
kafka-console-producer.sh, kafka-console-consumer.sh, kafka-consumer-groups.sh,
kafka-get-offsets.sh, kafka-producer-perf-test.sh and kafka-consumer-perf-test.sh).

Every step under test is a tool invocation; a neutral observer (confluent-kafka's admin
client, the ck driver of compat/python) only reads committed offsets and makes records with
chosen timestamps, which no tool can. produce.idempotent runs the two perf-test tools (their
producer is the default idempotent, acks=all one). Runs in .venv.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / "python"))
sys.path.insert(0, str(HERE.parents[2] / "tests"))

from adapterlib import (COUNT, MAX_BYTES_LIMIT, MAX_BYTES_RECORDS, MAX_BYTES_VALUE_BYTES, PARTITIONS,  # noqa: E402
                        TIMESTAMP_STEP_MS, TOO_LARGE_TOPIC_MAX_BYTES, TOO_LARGE_VALUE_BYTES, WAIT_S, Rec, Scenarios,
                        Unsupported, check, main, wait_until)
from ck_adapter import Driver as CkDriver  # noqa: E402
from harness.java_tools import tool_command  # noqa: E402
from harness.paths import KAFKA_LIBS  # noqa: E402

TOPICS = "org.apache.kafka.tools.TopicCommand"
CONFIGS = "kafka.admin.ConfigCommand"
PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
GET_OFFSETS = "org.apache.kafka.tools.GetOffsetShell"
PRODUCER_PERF = "org.apache.kafka.tools.ProducerPerformance"
CONSUMER_PERF = "org.apache.kafka.tools.ConsumerPerformance"
TOOL_TIMEOUT_S = 90.0
CONSUMER_TIMEOUT_MS = 20000
# The console consumer says nothing when it has resolved "latest"; a JVM start plus the
# first ListOffsets fits in this head start on a loaded 2-core machine. Too short fails
# the scenario (the new records would be skipped); it can never make it pass wrongly.
LATEST_HEAD_START_S = 6.0
PERF_RECORDS = 1000
PERF_RECORD_BYTES = 100


def tool(main_class: str, args: list[str], stdin: str | None = None,
         timeout_s: float = TOOL_TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run(tool_command(main_class, args), input=stdin if stdin is not None else "",
                          capture_output=True, text=True, timeout=timeout_s)


def tools_version() -> str:
    jars = sorted(KAFKA_LIBS.glob("kafka-tools-*.jar"))
    return jars[0].stem.replace("kafka-tools-", "") if jars else "unknown"


def parse_console(out: str) -> list[dict]:
    """Lines of the console consumer printing timestamp, partition, offset, headers, key and
    value separated by tabs."""
    rows = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) < 6 or not parts[0].startswith("CreateTime:"):
            continue
        rows.append({"ts": int(parts[0].split(":", 1)[1]), "partition": int(parts[1].split(":")[1]),
                     "offset": int(parts[2].split(":")[1]), "headers": parts[3], "key": parts[4],
                     "value": "\t".join(parts[5:])})
    return rows


class CliScenarios(Scenarios):
    @property
    def bs(self) -> str:
        return self.d.bs

    def t(self, main_class, *args, stdin=None, ok=True, timeout_s=TOOL_TIMEOUT_S):
        res = tool(main_class, ["--bootstrap-server", self.bs, *args], stdin, timeout_s)
        if ok:
            check(res.returncode == 0, f"{main_class.rsplit('.', 1)[-1]} {' '.join(args)[:120]} exit "
                  f"{res.returncode}: {(res.stderr or res.stdout)[-400:]}")
        return res

    def create(self, stem, partitions=PARTITIONS, configs=None):
        topic = self.name(stem)
        args = ["--create", "--topic", topic, "--partitions", str(partitions), "--replication-factor", "1"]
        for k, v in (configs or {}).items():
            args += ["--config", f"{k}={v}"]
        self.t(TOPICS, *args)
        wait_until(lambda: len(self.d.topic_partitions(topic)) == partitions, WAIT_S, f"{topic} ready")
        return topic

    def produce_lines(self, topic, recs, *extra, ok=True):
        lines = "".join(f"{r.key.decode()}\t{r.value.decode()}\n" for r in recs)
        return self.t(PRODUCER, "--topic", topic, "--property", "parse.key=true", "--property", "key.separator=\t",
                      *extra, stdin=lines, ok=ok)

    def consume(self, topic, count, *extra, group=None):
        args = ["--topic", topic, "--max-messages", str(count), "--timeout-ms", str(CONSUMER_TIMEOUT_MS),
                "--property", "print.key=true", "--property", "print.partition=true", "--property", "print.offset=true",
                "--property", "print.headers=true", "--property", "print.timestamp=true", "--property", "key.separator=\t"]
        if group:
            args += ["--group", group]
        res = self.t(CONSUMER, *args, *extra, ok=False)
        return parse_console(res.stdout), res

    def read_back(self, topic, recs):
        got, res = self.consume(topic, len(recs), "--from-beginning")
        check(sorted(g["value"] for g in got) == sorted(r.value.decode() for r in recs),
              f"read {len(got)} of {len(recs)}: {res.stderr[-300:]}")
        by_key: dict = {}
        for g in got:
            by_key.setdefault(g["key"], set()).add(g["partition"])
        check(all(len(ps) == 1 for ps in by_key.values()), f"a key in several partitions: {by_key}")
        return f"{len(got)} records read back by the console consumer"

    def configs_of(self, topic):
        res = self.t(CONFIGS, "--entity-type", "topics", "--entity-name", topic, "--describe", "--all")
        return dict(re.findall(r"^\s+(\S+?)=(\S*) sensitive=", res.stdout, re.M))

    def group_rows(self, group):
        """kafka-consumer-groups --describe --offsets: {partition: current offset or None}."""
        res = self.t(GROUPS, "--describe", "--group", group, "--offsets", ok=False)
        rows = {}
        for line in res.stdout.splitlines():
            cols = line.split()
            if len(cols) >= 5 and cols[0] == group and cols[2].isdigit():
                rows[int(cols[2])] = int(cols[3]) if cols[3].lstrip("-").isdigit() else None
        return rows, res

    # ------------------------------------------------------------------ admin

    def admin_create_topic(self):
        topic = self.create("create", 3)
        res = self.t(TOPICS, "--create", "--topic", topic, "--partitions", "3", "--replication-factor", "1", ok=False)
        text = res.stdout + res.stderr
        check(res.returncode != 0 and "already exists" in text, f"second create: exit {res.returncode}: {text[-300:]}")
        return "kafka-topics --create; again: 'already exists'"

    def admin_describe_topic(self):
        topic = self.create("describe", 3)
        res = self.t(TOPICS, "--describe", "--topic", topic)
        parts = {int(p): int(l) for p, l in re.findall(r"Partition: (\d+)\s+Leader: (-?\d+)", res.stdout)}
        check(sorted(parts) == [0, 1, 2] and all(v >= 0 for v in parts.values()), f"describe: {res.stdout[-300:]}")
        listed = self.t(TOPICS, "--list").stdout.split()
        check(topic in listed, "not in kafka-topics --list")
        return f"kafka-topics --describe: leaders {parts}"

    def admin_describe_configs(self):
        topic = self.create("configs", 1, {"retention.ms": "3600000"})
        c = self.configs_of(topic)
        check(c.get("retention.ms") == "3600000", f"retention.ms={c.get('retention.ms')}")
        check(c.get("cleanup.policy") == "delete", f"cleanup.policy={c.get('cleanup.policy')}")
        return f"kafka-configs --describe --all: {len(c)} configs"

    def admin_alter_configs(self):
        topic = self.create("alter", 1)
        self.t(CONFIGS, "--entity-type", "topics", "--entity-name", topic, "--alter", "--add-config", "retention.ms=7200000")
        c = self.configs_of(topic)
        check(c.get("retention.ms") == "7200000", f"retention.ms={c.get('retention.ms')}")
        return "kafka-configs --alter --add-config retention.ms=7200000"

    def admin_create_partitions(self):
        topic = self.create("grow", 1)
        self.t(TOPICS, "--alter", "--topic", topic, "--partitions", "3")
        wait_until(lambda: len(self.d.topic_partitions(topic)) == 3, WAIT_S, "3 partitions")
        return "kafka-topics --alter --partitions 3"

    def admin_delete_topic(self):
        topic = self.create("delete", 1)
        self.t(TOPICS, "--delete", "--topic", topic)
        wait_until(lambda: topic not in self.t(TOPICS, "--list").stdout.split(), 15, f"{topic} gone from --list")
        return "kafka-topics --delete"

    # ------------------------------------------------------------------ produce

    def _acks(self, acks):
        topic = self.create(f"acks{acks}")
        recs = self.records()
        self.produce_lines(topic, recs, "--producer-property", f"acks={acks}",
                           *(["--producer-property", "enable.idempotence=false"] if acks != "all" else []))
        return self.read_back(topic, recs)

    def produce_acks_0(self):
        return self._acks("0")

    def produce_acks_1(self):
        return self._acks("1")

    def produce_acks_all(self):
        return self._acks("all")

    def produce_headers(self):
        topic = self.create("headers", 1)
        self.t(PRODUCER, "--topic", topic, "--property", "parse.key=true", "--property", "key.separator=\t",
               "--property", "parse.headers=true", "--property", "headers.delimiter=|",
               stdin="h:1,h:2,x:|k\tv-headers\n")
        got, res = self.consume(topic, 1, "--from-beginning")
        check(len(got) == 1, f"read {len(got)}: {res.stderr[-300:]}")
        check(got[0]["key"] == "k" and got[0]["headers"] == "h:1,h:2,x:", f"read back {got[0]}")
        return "key and headers h:1,h:2,x: intact"

    def _codec(self, codec):
        topic = self.create(codec)
        recs = self.records()
        self.produce_lines(topic, recs, "--compression-codec", codec)
        return self.read_back(topic, recs)

    def produce_gzip(self):
        return self._codec("gzip")

    def produce_snappy(self):
        return self._codec("snappy")

    def produce_lz4(self):
        return self._codec("lz4")

    def produce_zstd(self):
        return self._codec("zstd")

    def produce_idempotent(self):
        topic = self.create("perf")
        res = tool(PRODUCER_PERF, ["--topic", topic, "--num-records", str(PERF_RECORDS), "--record-size",
                                   str(PERF_RECORD_BYTES), "--throughput", "-1", "--producer-props",
                                   f"bootstrap.servers={self.bs}", "acks=all", "enable.idempotence=true"])
        check(res.returncode == 0 and f"{PERF_RECORDS} records sent" in res.stdout,
              f"producer perf test: exit {res.returncode}: {(res.stdout + res.stderr)[-300:]}")
        cons = self.t(CONSUMER_PERF, "--topic", topic, "--messages", str(PERF_RECORDS), "--timeout",
                      str(CONSUMER_TIMEOUT_MS))
        data = [ln for ln in cons.stdout.splitlines() if ln and ln[0].isdigit()]
        check(data and int(data[-1].split(",")[4].strip()) == PERF_RECORDS, f"consumer perf test: {cons.stdout[-300:]}")
        return f"kafka-producer-perf-test sent {PERF_RECORDS} (idempotent, acks=all); kafka-consumer-perf-test read {PERF_RECORDS}"

    def produce_record_too_large(self):
        topic = self.create("large", 1, {"max.message.bytes": str(TOO_LARGE_TOPIC_MAX_BYTES)})
        big = os.urandom(TOO_LARGE_VALUE_BYTES // 2).hex()
        res = self.produce_lines(topic, [Rec(b"big", big.encode())], ok=False)
        text = res.stdout + res.stderr
        check("RecordTooLarge" in text or "too large" in text.lower(), f"no MESSAGE_TOO_LARGE: exit {res.returncode}: {text[-300:]}")
        self.produce_lines(topic, [Rec(b"small", b"fits")])
        got, _ = self.consume(topic, 1, "--from-beginning")
        check([g["value"] for g in got] == ["fits"], f"read {got}")
        return "console producer: RecordTooLargeException; the small record then went through"

    def produce_unknown_topic_autocreate(self):
        topic = self.name("auto")
        self.produce_lines(topic, [Rec(b"k", b"auto-created")])
        wait_until(lambda: topic in self.t(TOPICS, "--list").stdout.split(), 5, "topic listed")
        return "console producer auto-created the topic"

    def produce_unknown_topic_no_autocreate(self):
        topic = self.name("noauto")
        res = self.produce_lines(topic, [Rec(b"k", b"nowhere")], "--producer-property", "max.block.ms=8000", ok=False)
        text = res.stdout + res.stderr
        check(res.returncode != 0 or "not present in metadata" in text or "Exception" in text,
              f"console producer succeeded: {text[-300:]}")
        check(topic not in self.t(TOPICS, "--list").stdout.split(), "the topic was created anyway")
        lines = text.strip().splitlines()
        line = next((ln for ln in lines if "not present in metadata" in ln),
                    next((ln for ln in lines if "metadata" in ln), lines[-1] if lines else ""))
        return f"refused: {line.strip()[:200]}"

    # ------------------------------------------------------------------ consume

    def consume_assign_seek(self):
        topic = self.create("seek")
        self.produce_ok(topic, [Rec(b"k", f"s-{i}".encode(), partition=0) for i in range(COUNT)], acks=-1)
        got, res = self.consume(topic, 5, "--partition", "0", "--offset", "5")
        check([g["offset"] for g in got] == [5, 6, 7, 8, 9], f"offsets {[g['offset'] for g in got]} {res.stderr[-200:]}")
        return "console consumer --partition 0 --offset 5: read 5..9"

    def consume_from_timestamp(self):
        topic = self.create("ts", 1)
        t0 = int(time.time() * 1000) - 60_000
        self.produce_ok(topic, [Rec(b"k", f"t-{i}".encode(), partition=0, timestamp_ms=t0 + i * TIMESTAMP_STEP_MS)
                                for i in range(5)], acks=-1)
        res = self.t(GET_OFFSETS, "--topic", topic, "--time", str(t0 + 2 * TIMESTAMP_STEP_MS))
        check(f"{topic}:0:2" in res.stdout.split(), f"kafka-get-offsets --time: {res.stdout.strip()}")
        got, _ = self.consume(topic, 3, "--partition", "0", "--offset", "2")
        seen = [(g["offset"], g["ts"] - t0) for g in got]
        check(seen == [(2, 2000), (3, 3000), (4, 4000)], f"read {seen}")
        return "kafka-get-offsets --time: offset 2; console consumer read 2..4 with their timestamps"

    def consume_earliest(self):
        topic = self.create("earliest")
        recs = self.records()
        self.produce_ok(topic, recs, acks=-1)
        return self.read_back(topic, recs) + " (--from-beginning)"

    def consume_latest(self):
        topic = self.create("latest")
        self.produce_ok(topic, self.records(tag="old"), acks=-1)
        cmd = tool_command(CONSUMER, ["--bootstrap-server", self.bs, "--topic", topic, "--max-messages", "5",
                                      "--timeout-ms", str(CONSUMER_TIMEOUT_MS), "--property", "print.value=true"])
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(LATEST_HEAD_START_S)
            new = self.records(5, tag="new")
            self.produce_ok(topic, new, acks=-1)
            out, err = proc.communicate(timeout=WAIT_S + CONSUMER_TIMEOUT_MS / 1000)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        got = [ln for ln in out.splitlines() if ln.strip()]
        check(sorted(got) == sorted(r.value.decode() for r in new), f"read {got} {err[-200:]}")
        return "console consumer (default latest) read exactly the 5 new records"

    def consume_max_bytes(self):
        topic = self.create("maxbytes", 1)
        vals = [f"{i:04d}" + chr(97 + i % 26) * MAX_BYTES_VALUE_BYTES for i in range(MAX_BYTES_RECORDS)]
        for v in vals:
            self.produce_ok(topic, [Rec(b"k", v.encode(), partition=0)], acks=-1)
        got, _ = self.consume(topic, MAX_BYTES_RECORDS, "--from-beginning",
                              "--consumer-property", f"fetch.max.bytes={MAX_BYTES_LIMIT}",
                              "--consumer-property", f"max.partition.fetch.bytes={MAX_BYTES_LIMIT}")
        check([g["offset"] for g in got] == list(range(MAX_BYTES_RECORDS)), f"offsets {[g['offset'] for g in got]}")
        check([g["value"] for g in got] == vals, "values differ")
        return "20 x 10 KiB records with 15000-byte fetch limits"

    # ------------------------------------------------------------------ groups

    def group_auto_commit(self):
        topic = self.create("auto")
        g = topic + "-g"
        ends = self._ends(self.produce_ok(topic, self.records(), acks=-1))
        cmd = tool_command(CONSUMER, ["--bootstrap-server", self.bs, "--topic", topic, "--group", g, "--from-beginning",
                                      "--consumer-property", "auto.commit.interval.ms=500"])
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: self._committed(g, topic) == ends, WAIT_S, f"auto commit reaches {ends} while running")
            check(proc.poll() is None, "the console consumer exited")
        finally:
            proc.terminate()
            proc.wait(WAIT_S)
        return f"console consumer --group: committed {ends} while running"

    def group_no_commit(self):
        topic = self.create("nocommit")
        g = topic + "-g"
        recs = self.records()
        self.produce_ok(topic, recs, acks=-1)
        for run in (1, 2):
            got, res = self.consume(topic, COUNT, "--from-beginning", "--consumer-property", "enable.auto.commit=false",
                                    group=g)
            check(len(got) == COUNT, f"run {run} read {len(got)}: {res.stderr[-200:]}")
        got = self._committed(g, topic)
        check(all(v is None or v < 0 for v in got.values()), f"offsets were committed: {got}")
        return "two console-consumer runs read all 10; nothing committed"

    def group_reset(self):
        topic = self.create("reset")
        g = topic + "-g"
        recs = self.records()
        ends = self._ends(self.produce_ok(topic, recs, acks=-1))
        got, _ = self.consume(topic, COUNT, "--from-beginning", group=g)
        check(len(got) == COUNT and self._committed(g, topic) == ends, "first run did not read and commit")
        self.t(GROUPS, "--reset-offsets", "--group", g, "--topic", topic, "--to-earliest", "--execute")
        check(self._committed(g, topic) == {0: 0, 1: 0}, f"after reset {self._committed(g, topic)}")
        again, _ = self.consume(topic, COUNT, group=g)
        check(sorted(x["value"] for x in again) == sorted(r.value.decode() for r in recs), "re-read differs")
        return "kafka-consumer-groups --reset-offsets --to-earliest; the console consumer re-read all 10"

    def _no_assignment(self):
        raise Unsupported("the console consumer prints no assignment (the Java client row runs the same KafkaConsumer)")

    def group_manual_commit(self):
        raise Unsupported("the console consumer commits only automatically (no commit call)")

    group_join = _no_assignment
    group_leave = _no_assignment
    group_crash = _no_assignment
    group_concurrent_joins = _no_assignment
    group_static_membership = _no_assignment

    # ------------------------------------------------------------------ offsets

    def _consumed_group(self, stem):
        topic = self.create(stem)
        g = topic + "-g"
        ends = self._ends(self.produce_ok(topic, self.records(), acks=-1))
        got, res = self.consume(topic, COUNT, "--from-beginning", group=g)
        check(len(got) == COUNT, f"read {len(got)}: {res.stderr[-200:]}")
        return topic, g, ends

    def offsets_commit(self):
        topic, g, ends = self._consumed_group("ocommit")
        got = self._committed(g, topic)
        check(got == ends, f"committed {got}, expected {ends}")
        return f"console consumer --group committed {ends} on exit"

    def offsets_fetch(self):
        _topic, g, ends = self._consumed_group("ofetch")
        rows, res = self.group_rows(g)
        check(rows == ends, f"kafka-consumer-groups --describe --offsets: {rows} (expected {ends}) {res.stderr[-200:]}")
        return f"kafka-consumer-groups --describe --offsets shows {rows}"

    def offsets_reset(self):
        topic, g, _ends = self._consumed_group("oreset")
        res = self.t(GROUPS, "--reset-offsets", "--group", g, "--topic", topic, "--to-earliest", "--execute")
        got = self._committed(g, topic)
        check(got == {0: 0, 1: 0}, f"after reset {got}: {res.stdout[-200:]}")
        return "kafka-consumer-groups --reset-offsets --to-earliest --execute"

    def offsets_delete(self):
        topic, g, ends = self._consumed_group("odelete")
        self.t(GROUPS, "--delete-offsets", "--group", g, "--topic", f"{topic}:0")
        got = self._committed(g, topic)
        check((got.get(0) is None or got[0] < 0) and got.get(1) == ends[1], f"after delete {got}")
        return f"kafka-consumer-groups --delete-offsets {topic}:0; partition 1 kept at {ends[1]}"

    def offsets_delete_group(self):
        topic, g, _ends = self._consumed_group("odelgroup")
        check(g in self.t(GROUPS, "--list").stdout.split(), "group not in --list")
        self.t(GROUPS, "--delete", "--group", g)
        check(g not in self.t(GROUPS, "--list").stdout.split(), "group still in --list")
        got = self._committed(g, topic)
        check(all(v is None or v < 0 for v in got.values()), f"offsets left {got}")
        return "kafka-consumer-groups --delete"


class Driver(CkDriver):
    def version(self):
        return tools_version()


if __name__ == "__main__":
    main(Driver, "kafka-cli", CliScenarios)
