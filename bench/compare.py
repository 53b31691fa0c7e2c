"""Runnel against Apache Kafka 4.1.1, side by side: throughput, latency, CPU, memory, start-up,
recovery and rebalance, in one command.

Both brokers come from the test harness (target/release/runnel and Kafka from the harness's
Maven jars, KRaft combined mode), on loopback, in temporary directories on the same
filesystem, with group.initial.rebalance.delay.ms=0 and otherwise their defaults; Kafka gets
-Xms1g -Xmx1g. Brokers are pinned to CPU 0 and every load generator to CPU 1 (taskset).
Each repetition starts both brokers fresh, runs one discarded warm-up each, then every step
for Runnel and then Kafka (ABAB), and ends by killing both with SIGKILL and timing the
restart over the log they wrote. Ratios are Runnel/Kafka within one repetition.

Load generator: bench/loadgen (librdkafka through the rdkafka crate; rdkafka_loadgen.py says
why not Kafka's Java perf tools) for the produce, consume and latency rows, the same binary
and settings for both brokers.

Rows (--rows selects groups; all by default):
- produce: the load generator at full speed, 1 KiB and 100 B records, 1/16/100 partitions,
  acks=1 (no fsync) and acks=all with fsync (topic flush.messages=1, flush.ms=0 on both);
  MB/s, msg/s, broker CPU s/GiB. Also a check that both brokers fsync per acks=all request
  on the flush.messages=1 topic (strace counts fsync/fdatasync, first repetition only).
- consume: the load generator reading back each acks=1 run (partitions assigned, no group
  join), and a catch-up over a backlog of --backlog-mib (1 KiB, 16 partitions).
- latency: the load generator's open-loop mode at a fixed rate of half Kafka's 1 KiB x 16
  partitions msg/s from the first repetition; latency from the scheduled send time.
- memory: VmRSS after start-up (idle) and VmHWM at the end of the repetition (peak).
- startup: exec until the first Metadata reply; and again after kill -9 with the log written.
- rebalance: bench/rebalance.py's one_rebalance (a second member joins a stable group).

Every produce, catch-up and latency run starts after a `sync`, so no broker's run absorbs the
writeback of what was written in the step before it; produce and latency runs also start
with the page cache dropped (as root; see drop_page_cache()). Produce and consume rows also
say how busy the load generator kept its one core (its CPU time over the timed window): near
100%, the client was the limit, whichever broker it drove.

Usage:
  .venv/bin/python bench/compare.py [--quick] [--repetitions 3] [--rows produce,latency]
        [--output docs/benchmarks.md] [--json FILE] [--label TEXT]
  .venv/bin/python bench/compare.py --smoke     # tiny counts, one repetition, no warm-up
  .venv/bin/python bench/compare.py --soak 30   # Runnel only: sustained load, is RSS flat?
Exits 1 if any step failed (the report lists each failure with its error).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from common import (BROKERS, GIB, MIB, REPO, BenchError, cpu_seconds, create_topic, delete_topic, machine,
                    memory_kib, spread, write_results)
from compare_brokers import make_bench_broker
from rdkafka_loadgen import RUN_SLACK_S, RdkafkaLatencyTool, RdkafkaLoadGenerator, Run, check, parse
from storage_probe import describe, probe

import rebalance
from harness import wire

GROUPS = ("produce", "consume", "latency", "memory", "startup", "rebalance")
BROKER_CONFIG = {"group.initial.rebalance.delay.ms": "0"}
DROP_CACHES_PATH = Path("/proc/sys/vm/drop_caches")
# "1": the page cache only; dentries and inodes stay.
DROP_CLEAN_PAGE_CACHE = "1"
FSYNC_TOPIC_CONFIG = {"flush.messages": "1", "flush.ms": "0"}
RECORD_SIZES = (1024, 100)
PARTITION_COUNTS = (1, 16, 100)
# The smoke runs the largest count only (the latency and catch-up rows use 16).
SMOKE_PARTITION_COUNTS = (100,)
LATENCY_PARTITIONS = 16
LATENCY_RECORD_SIZE = 1024
# The latency tool's producer: linger 1 ms (OpenMessaging Benchmark's Kafka setting) so the
# figure is the brokers', not the producer's default 5 ms of batching delay.
LATENCY_PRODUCER_PROPS = {"linger.ms": "1"}
MIN_LATENCY_RATE_MSG_S = 100.0
BACKLOG_PARTITIONS = 16
# Bulk produce/consume of a large backlog: the tool timeout grows with the volume.
BULK_TIMEOUT_BASE_S = 180.0
BULK_TIMEOUT_S_PER_GIB = 600.0
FSYNC_CHECK_REQUESTS = 20
FSYNC_CHECK_ATTACH_S = 1.0
FSYNC_CHECK_READY_S = 30.0
STRACE_EXIT_S = 30.0
PROCESS_EXIT_S = 30.0
FAILURE_TEXT_CHARS = 3000
SOAK_SAMPLE_INTERVAL_S = 10.0
SOAK_DEFAULT_RATE_MSG_S = 5000.0
# A partition keeps at most this much (plus one segment), so a long soak does not fill the disk.
SOAK_TOPIC_CONFIG = {"retention.bytes": str(64 * MIB), "segment.bytes": str(16 * MIB)}
SOAK_BROKER_CONFIG = {"log.retention.check.interval.ms": "10000"}
# RSS counts as flat when the last quarter's median is within this fraction of the first
# quarter's, or within SOAK_FLAT_SLACK_MIB (a 12 MiB process should not fail on 1.3 MiB).
SOAK_FLAT_TOLERANCE = 0.10
SOAK_FLAT_SLACK_MIB = 8.0
SOAK_WARMUP_S = 10.0

RESULTS_BEGIN = "<!-- RESULTS_BEGIN (written by bench/compare.py --output) -->"
RESULTS_END = "<!-- RESULTS_END -->"
SOAK_BEGIN = "<!-- SOAK_BEGIN (written by bench/compare.py --soak --output) -->"
SOAK_END = "<!-- SOAK_END -->"
DEFAULT_OUTPUT = REPO / "docs" / "benchmarks.md"
LOADGEN_NAME = "bench/loadgen (librdkafka 2.12 through the rdkafka crate: its defaults plus acks)"


@dataclass(frozen=True)
class Sizes:
    produce_mib: float  # per acks=1 produce run
    fsync_mib: float  # per acks=all + fsync produce run
    backlog_mib: float
    warmup_mib: float  # 0: no warm-up
    latency_s: float
    latency_warmup_s: float
    idle_settle_s: float
    probe_mib: int
    probe_syncs: int
    repetitions: int
    # Before produce and latency steps (drop_page_cache). Not in the smoke run, which CI
    # runs beside other tests: their brokers and clients would reload files from disk.
    drop_page_cache: bool


# Runs long enough that connection set-up is noise at librdkafka's speed, and fsync runs as
# long as acks=1 ones (at 128 MiB one slow flush moved a run by a factor of two); the storage
# probe's write is the disk figure the acks=1 produce rows are held against.
FULL = Sizes(512, 512, 1024, 128, 30, 5, 3, 2048, 50, 3, True)
QUICK = Sizes(192, 48, 512, 64, 15, 3, 2, 1024, 50, 3, True)
SMOKE = Sizes(1, 0.125, 4, 0, 2, 1, 0.5, 8, 10, 1, False)


# ---------------------------------------------------------------------------- rows

@dataclass(frozen=True)
class Row:
    key: str
    group: str
    label: str
    unit: str
    decimals: int
    higher_is_better: bool | None  # None: informational


# The load generator's CPU time over its timed window per wall second: near 100 the one client
# core was the limit, whichever broker it drove.
CLIENT_UNIT = "% of its core"


def _case_name(size: int, partitions: int, durable: bool) -> str:
    size_label = "1 KiB" if size == 1024 else f"{size} B"
    return f"{size_label} x {partitions}p, " + ("acks=all + fsync" if durable else "acks=1")


def _case_key(size: int, partitions: int, durable: bool) -> str:
    return f"{size}b-{partitions}p-{'fsync' if durable else 'acks1'}"


PRODUCE_CASES = [(size, partitions, durable) for durable in (False, True) for size in RECORD_SIZES
                 for partitions in PARTITION_COUNTS]


def all_rows() -> list[Row]:
    rows = []
    for size, partitions, durable in PRODUCE_CASES:
        key, name = _case_key(size, partitions, durable), _case_name(size, partitions, durable)
        rows += [Row(f"produce-{key}-mb", "produce", f"produce {name}", "MB/s", 1, True),
                 Row(f"produce-{key}-msg", "produce", f"produce {name}", "msg/s", 0, True),
                 Row(f"produce-{key}-cpu", "produce", f"produce {name}, broker CPU", "s/GiB", 2, False),
                 Row(f"produce-{key}-client", "produce", f"produce {name}, load generator CPU", CLIENT_UNIT, 0, None)]
    rows += [Row("fsync-check-durable", "produce", "fsyncs per acks=all request, flush.messages=1 topic",
                 "syncs", 2, None),
             Row("fsync-check-default", "produce", "fsyncs per acks=all request, default topic", "syncs", 2, None)]
    for size, partitions, durable in PRODUCE_CASES:
        if not durable:
            key, name = _case_key(size, partitions, durable), _case_name(size, partitions, durable)
            rows += [Row(f"consume-{key}-mb", "consume", f"consume {name}", "MB/s", 1, True),
                     Row(f"consume-{key}-msg", "consume", f"consume {name}", "msg/s", 0, True),
                     Row(f"consume-{key}-cpu", "consume", f"consume {name}, broker CPU", "s/GiB", 2, False),
                     Row(f"consume-{key}-client", "consume", f"consume {name}, load generator CPU", CLIENT_UNIT, 0,
                         None)]
    rows += [Row("catchup-mb", "consume", "consume catch-up, 1 KiB x 16p backlog", "MB/s", 1, True),
             Row("catchup-msg", "consume", "consume catch-up, 1 KiB x 16p backlog", "msg/s", 0, True),
             Row("catchup-cpu", "consume", "consume catch-up, broker CPU", "s/GiB", 2, False),
             Row("catchup-client", "consume", "consume catch-up, load generator CPU", CLIENT_UNIT, 0, None),
             Row("latency-rate", "latency", "end-to-end latency: fixed rate, 1 KiB x 16p", "msg/s", 0, None),
             Row("latency-p50", "latency", "end-to-end latency p50", "ms", 2, False),
             Row("latency-p99", "latency", "end-to-end latency p99", "ms", 2, False),
             Row("latency-p999", "latency", "end-to-end latency p99.9", "ms", 2, False),
             Row("latency-max", "latency", "end-to-end latency max", "ms", 2, False),
             Row("rss-idle", "memory", "idle RSS after start-up", "MiB", 1, False),
             Row("rss-peak", "memory", "peak RSS (VmHWM) over a repetition", "MiB", 1, False),
             Row("start-cold", "startup", "cold start: exec to first Metadata reply", "s", 3, False),
             Row("start-log", "startup", "log on disk at kill -9", "MiB", 0, None),
             Row("start-recover", "startup", "restart after kill -9: exec to first Metadata reply", "s", 3, False),
             Row("rebalance", "rebalance", "rebalance: second member joins a stable group", "s", 3, False)]
    return rows


ROWS = all_rows()
ROWS_BY_KEY = {r.key: r for r in ROWS}


@dataclass
class Sample:
    row: str
    broker: str
    repetition: int
    value: float


@dataclass
class Failure:
    step: str
    broker: str
    repetition: int
    error: str
    rows: list[str]  # the rows this step would have measured


# ---------------------------------------------------------------------------- helpers

def settle_writeback() -> None:
    """Writes back every dirty page before a timed step. The step before it, the other
    broker's or its own, can leave gigabytes dirty (Kafka defers writeback to the kernel and
    deletes a topic's files a minute later), and that writeback would otherwise land in
    whichever broker's step comes next."""
    os.sync()


def drop_page_cache() -> bool:
    """Drops the clean page cache (after settle_writeback() that is all of it); False when
    that is not permitted (not root).

    Before a writing step: on this VM a write into the page cache costs the writer 3-5 times
    more CPU once the cache holds a few GiB. `dd` of 512 MiB took 0.27-0.33 s of system time
    after a drop and 0.95-1.38 s with 11 GiB cached, 72% of it in the copy into the new
    pages; one Runnel's CPU per GiB over five 512 MiB produces in a row rose from 0.92 to
    2.42 (1 KiB) and 1.80 to 4.10 (100 B) with a sync between steps, and stayed at
    0.86-0.96 and 1.74-1.84 with a drop. That cost lands on whichever broker writes when
    the cache is large, so without the drop a run's CPU rows measure the run's history."""
    try:
        DROP_CACHES_PATH.write_text(DROP_CLEAN_PAGE_CACHE)
    except OSError:
        return False
    return True


def bulk_timeout_s(mib: float) -> float:
    return BULK_TIMEOUT_BASE_S + BULK_TIMEOUT_S_PER_GIB * mib / 1024


def records_for(mib: float, size: int) -> int:
    return max(1, int(mib * MIB) // size)


def unique_topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def log_bytes(directory: Path) -> int:
    """Bytes allocated on disk under a directory: Kafka preallocates sparse 10 MiB index
    files per segment, which the apparent size would count."""
    total = 0
    for root, _, files in os.walk(directory):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total


def strace_syncs(path: Path) -> int:
    """Sum of the fsync and fdatasync call counts in an `strace -c` summary."""
    calls = 0
    for line in path.read_text(errors="replace").splitlines():
        tokens = line.split()
        if len(tokens) >= 5 and tokens[-1] in ("fsync", "fdatasync") and tokens[3].isdigit():
            calls += int(tokens[3])
    return calls


# ---------------------------------------------------------------------------- the run

class Comparison:
    def __init__(self, args, workdir: Path):
        self.args = args
        self.sizes: Sizes = args.sizes
        self.workdir = workdir
        self.loadgen = RdkafkaLoadGenerator(args.pin)
        self.latency_tool = RdkafkaLatencyTool(self.loadgen)
        self.samples: list[Sample] = []
        self.failures: list[Failure] = []
        self.latency_rate: float | None = args.latency_rate
        self.brokers: dict = {}
        self.backlog: dict[str, tuple[str, int]] = {}  # broker -> (topic, records)
        self.started = time.monotonic()
        # Writing steps started after a page-cache drop, and after a sync alone.
        self.cache_dropped_steps = 0
        self.cache_kept_steps = 0

    def note(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.0f}s] {message}", file=sys.stderr, flush=True)

    def record(self, row: str, kind: str, rep: int, value: float) -> None:
        if ROWS_BY_KEY[row].group in self.args.groups and rep >= 0:
            self.samples.append(Sample(row, kind, rep, value))

    def guarded(self, step: str, kind: str, rep: int, rows: list[str], fn):
        """Run one step; an error is recorded against its rows (never hidden) and the run goes
        on. A broker found dead afterwards is restarted so the remaining steps can run."""
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported, then the run continues
            message = f"{type(e).__name__}: {e}"
            broker = self.brokers.get(kind)
            if broker is not None and broker.proc is not None and not broker.running:
                message += f"\n(the broker had exited with {broker.proc.returncode})\n{broker.output_tail(30)}"
                try:
                    broker.revive()
                except Exception as revive_error:  # noqa: BLE001
                    message += f"\n(restart failed: {revive_error})"
            self.failures.append(Failure(step, kind, rep, message[:FAILURE_TEXT_CHARS], rows))
            self.note(f"FAILED {step} on {kind} (repetition {rep + 1}): {message.splitlines()[0]}")
            return None

    # ------------------------------------------------------------------ steps

    def before_writing_step(self) -> None:
        settle_writeback()
        if self.sizes.drop_page_cache and drop_page_cache():
            self.cache_dropped_steps += 1
        else:
            self.cache_kept_steps += 1

    def start(self, kind: str, rep: int) -> None:
        broker = self.brokers[kind]
        broker.start()
        self.record("start-cold", kind, rep, broker.ready_s)
        time.sleep(self.sizes.idle_settle_s)
        self.record("rss-idle", kind, rep, memory_kib(broker.proc.pid)[0] / 1024)
        self.note(f"rep {rep + 1} {kind}: ready {broker.ready_s:.3f} s after exec")

    def produce_case(self, kind: str, rep: int, size: int, partitions: int, durable: bool) -> str | None:
        broker = self.brokers[kind]
        key = _case_key(size, partitions, durable)
        topic = unique_topic(f"bench-{key}")
        create_topic(broker, topic, partitions, FSYNC_TOPIC_CONFIG if durable else None)
        mib = self.sizes.fsync_mib if durable else self.sizes.produce_mib
        records = records_for(mib, size)
        self.before_writing_step()
        cpu0 = cpu_seconds(broker.proc.pid)
        run = self.loadgen.produce(broker.bootstrap, topic, records, record_size=size,
                                   acks="all" if durable else "1", timeout_s=bulk_timeout_s(mib))
        cpu = cpu_seconds(broker.proc.pid) - cpu0
        self.record_run(f"produce-{key}", kind, rep, run, cpu / (records * size / GIB))
        self.note(f"rep {rep + 1} {kind} produce {key}: {run.mb_s:.1f} MB/s, {run.msg_s:,.0f} msg/s, "
                  f"CPU {cpu:.2f} s, load generator {run.client_busy:.0%} busy")
        return topic

    def record_run(self, prefix: str, kind: str, rep: int, run: Run, broker_cpu_s_per_gib: float) -> None:
        self.record(f"{prefix}-mb", kind, rep, run.mb_s)
        self.record(f"{prefix}-msg", kind, rep, run.msg_s)
        self.record(f"{prefix}-cpu", kind, rep, broker_cpu_s_per_gib)
        self.record(f"{prefix}-client", kind, rep, run.client_busy * 100)

    def consume_case(self, kind: str, rep: int, topic: str, size: int, partitions: int) -> None:
        broker = self.brokers[kind]
        key = _case_key(size, partitions, False)
        records = records_for(self.sizes.produce_mib, size)
        cpu0 = cpu_seconds(broker.proc.pid)
        run = self.loadgen.consume(broker.bootstrap, topic, records, timeout_s=bulk_timeout_s(self.sizes.produce_mib))
        cpu = cpu_seconds(broker.proc.pid) - cpu0
        self.record_run(f"consume-{key}", kind, rep, run, cpu / (records * size / GIB))
        self.note(f"rep {rep + 1} {kind} consume {key}: {run.mb_s:.1f} MB/s, {run.msg_s:,.0f} msg/s, "
                  f"CPU {cpu:.2f} s, load generator {run.client_busy:.0%} busy")

    def warmup(self, kind: str) -> None:
        broker = self.brokers[kind]
        topic = unique_topic("bench-warmup")
        create_topic(broker, topic, LATENCY_PARTITIONS)
        records = records_for(self.sizes.warmup_mib, 1024)
        self.loadgen.produce(broker.bootstrap, topic, records, timeout_s=bulk_timeout_s(self.sizes.warmup_mib))
        self.loadgen.consume(broker.bootstrap, topic, records, timeout_s=bulk_timeout_s(self.sizes.warmup_mib))
        delete_topic(broker, topic)

    def make_backlog(self, kind: str) -> tuple[str, int]:
        broker = self.brokers[kind]
        topic = unique_topic("bench-backlog")
        create_topic(broker, topic, BACKLOG_PARTITIONS)
        records = records_for(self.sizes.backlog_mib, 1024)
        self.loadgen.produce(broker.bootstrap, topic, records, timeout_s=bulk_timeout_s(self.sizes.backlog_mib))
        self.backlog[kind] = (topic, records)
        return topic, records

    def catch_up(self, kind: str, rep: int) -> None:
        broker = self.brokers[kind]
        topic, records = self.make_backlog(kind)
        settle_writeback()
        cpu0 = cpu_seconds(broker.proc.pid)
        run = self.loadgen.consume(broker.bootstrap, topic, records, timeout_s=bulk_timeout_s(self.sizes.backlog_mib))
        cpu = cpu_seconds(broker.proc.pid) - cpu0
        self.record_run("catchup", kind, rep, run, cpu / (records * 1024 / GIB))
        self.note(f"rep {rep + 1} {kind} catch-up {records:,} records: {run.mb_s:.1f} MB/s, CPU {cpu:.2f} s, "
                  f"load generator {run.client_busy:.0%} busy")

    def fsync_check(self, kind: str, rep: int) -> None:
        """Counts fsync/fdatasync calls while FSYNC_CHECK_REQUESTS acks=all requests are sent
        one at a time: with flush.messages=1 each must be synced before it is acknowledged,
        so at least one sync per request; on a default topic, about none."""
        if shutil.which("strace") is None:
            raise BenchError("strace is not installed: cannot check the brokers' fsync policy")
        for row, configs in (("fsync-check-durable", FSYNC_TOPIC_CONFIG), ("fsync-check-default", None)):
            syncs = self._count_syncs(kind, configs)
            per_request = syncs / FSYNC_CHECK_REQUESTS
            self.record(row, kind, rep, per_request)
            self.note(f"rep {rep + 1} {kind} {row}: {syncs} syncs for {FSYNC_CHECK_REQUESTS} requests")
            if configs and per_request < 1:
                raise BenchError(f"{kind} made {syncs} fsync/fdatasync calls for {FSYNC_CHECK_REQUESTS} sequential "
                                 f"acks=all requests to a topic with {configs}: it acknowledges before syncing")

    def _count_syncs(self, kind: str, configs: dict[str, str] | None) -> int:
        broker = self.brokers[kind]
        topic = unique_topic("bench-fsync-check")
        create_topic(broker, topic, 1, configs)
        batch = wire.record_batch([wire.Record(None, b"x" * 100)])
        out = self.workdir / f"strace-{kind}-{uuid.uuid4().hex[:6]}.txt"
        with wire.connect(broker.bootstrap) as sock:
            deadline = time.monotonic() + FSYNC_CHECK_READY_S
            while True:  # the partition may need a moment to get its leader
                result = wire.produce(sock, topic, 0, batch, acks=-1)
                if result.error_code == 0:
                    break
                if time.monotonic() > deadline:
                    raise BenchError(f"produce to {topic} on {kind}: error {result.error_code}")
                time.sleep(0.1)
            tids = sorted(os.listdir(f"/proc/{broker.proc.pid}/task"))
            cmd = ["strace", "-f", "-c", "-e", "trace=fsync,fdatasync", "-o", str(out)]
            for tid in tids:
                cmd += ["-p", tid]
            tracer = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True)
            try:
                time.sleep(FSYNC_CHECK_ATTACH_S)
                for _ in range(FSYNC_CHECK_REQUESTS):
                    result = wire.produce(sock, topic, 0, batch, acks=-1)
                    if result.error_code != 0:
                        raise BenchError(f"produce to {topic} on {kind}: error {result.error_code}")
            finally:
                tracer.send_signal(signal.SIGINT)
                try:
                    _, err = tracer.communicate(timeout=STRACE_EXIT_S)
                except subprocess.TimeoutExpired:
                    tracer.kill()
                    _, err = tracer.communicate(timeout=STRACE_EXIT_S)
        if not out.exists():
            raise BenchError(f"strace wrote no summary (exit {tracer.returncode}): {err}")
        return strace_syncs(out)

    def ensure_latency_rate(self) -> float:
        if self.latency_rate is None:
            measured = [s.value for s in self.samples if s.row == "produce-1024b-16p-acks1-msg" and s.broker == "kafka"]
            if measured:
                max_msg_s = statistics.median(measured)
            else:  # produce rows not run (or Kafka failed them): measure Kafka's maximum now
                broker = self.brokers["kafka"]
                topic = unique_topic("bench-calibrate")
                create_topic(broker, topic, LATENCY_PARTITIONS)
                max_msg_s = self.loadgen.produce(broker.bootstrap, topic,
                                                 records_for(self.sizes.produce_mib, LATENCY_RECORD_SIZE),
                                                 timeout_s=bulk_timeout_s(self.sizes.produce_mib)).msg_s
                delete_topic(broker, topic)
            self.latency_rate = max(MIN_LATENCY_RATE_MSG_S, max_msg_s / 2)
            self.note(f"latency rate: {self.latency_rate:,.0f} msg/s (half of Kafka's {max_msg_s:,.0f})")
        return self.latency_rate

    def latency(self, kind: str, rep: int) -> None:
        broker = self.brokers[kind]
        topic = unique_topic("bench-latency")
        create_topic(broker, topic, LATENCY_PARTITIONS)
        rate = self.ensure_latency_rate()
        self.before_writing_step()
        try:
            res = self.latency_tool.run(broker.bootstrap, topic, rate, self.sizes.latency_s,
                                        warmup_s=self.sizes.latency_warmup_s, record_size=LATENCY_RECORD_SIZE,
                                        producer_props=LATENCY_PRODUCER_PROPS)
        finally:
            delete_topic(broker, topic)
        self.record("latency-rate", kind, rep, rate)
        for row, field in (("latency-p50", "p50_ms"), ("latency-p99", "p99_ms"), ("latency-p999", "p999_ms"),
                           ("latency-max", "max_ms")):
            self.record(row, kind, rep, res[field])
        self.note(f"rep {rep + 1} {kind} latency at {rate:,.0f} msg/s: p50 {res['p50_ms']:.2f} ms, "
                  f"p99 {res['p99_ms']:.2f} ms, p99.9 {res['p999_ms']:.2f} ms, max {res['max_ms']:.2f} ms "
                  f"(send lag max {res['max_send_lag_ms']:.1f} ms)")

    def rebalance(self, kind: str, rep: int) -> None:
        seconds = rebalance.one_rebalance(self.brokers[kind].bootstrap)
        self.record("rebalance", kind, rep, seconds)
        self.note(f"rep {rep + 1} {kind} rebalance: {seconds:.3f} s")

    def peak_rss(self, kind: str, rep: int) -> None:
        self.record("rss-peak", kind, rep, memory_kib(self.brokers[kind].proc.pid)[1] / 1024)

    def recover(self, kind: str, rep: int) -> None:
        broker = self.brokers[kind]
        if kind not in self.backlog:
            self.make_backlog(kind)
        size_mib = log_bytes(broker.data_dir) / MIB
        broker.kill()
        broker.start()
        self.record("start-log", kind, rep, size_mib)
        self.record("start-recover", kind, rep, broker.ready_s)
        self.note(f"rep {rep + 1} {kind}: ready {broker.ready_s:.3f} s after kill -9 with {size_mib:,.0f} MiB of log")

    # ------------------------------------------------------------------ one repetition

    def repetition(self, rep: int) -> None:
        groups = self.args.groups
        repdir = self.workdir / f"rep{rep + 1}"
        self.brokers, self.backlog = {}, {}
        try:
            for kind in BROKERS:
                self.brokers[kind] = make_bench_broker(kind, BROKER_CONFIG, repdir / kind, self.args.pin)
            for kind in BROKERS:
                self.guarded("start", kind, rep, ["start-cold", "rss-idle"], lambda k=kind: self.start(k, rep))
            started = [kind for kind in BROKERS if self.brokers[kind].running]
            if self.sizes.warmup_mib > 0:
                for kind in started:
                    self.guarded("warm-up", kind, rep, [], lambda k=kind: self.warmup(k))
            if "produce" in groups and rep == 0 and not self.args.no_fsync_check:
                for kind in started:
                    self.guarded("fsync check", kind, rep, ["fsync-check-durable", "fsync-check-default"],
                                 lambda k=kind: self.fsync_check(k, rep))
            if groups & {"produce", "consume"}:
                for size, partitions, durable in PRODUCE_CASES:
                    if (durable and "produce" not in groups) or partitions not in self.args.partition_counts:
                        continue
                    key, name = _case_key(size, partitions, durable), _case_name(size, partitions, durable)
                    produce_rows = [f"produce-{key}-{m}" for m in ("mb", "msg", "cpu")]
                    consume_rows = [] if durable or "consume" not in groups else [
                        f"consume-{key}-{m}" for m in ("mb", "msg", "cpu")]
                    for kind in started:
                        topic = self.guarded(f"produce {name}", kind, rep, produce_rows + consume_rows,
                                             lambda k=kind, s=size, p=partitions, d=durable: self.produce_case(k, rep, s, p, d))
                        if topic and consume_rows:
                            self.guarded(f"consume {name}", kind, rep, consume_rows,
                                         lambda k=kind, t=topic, s=size, p=partitions: self.consume_case(k, rep, t, s, p))
                        if topic:
                            self.guarded(f"delete {name}", kind, rep, [],
                                         lambda k=kind, t=topic: delete_topic(self.brokers[k], t))
            if "consume" in groups:
                for kind in started:
                    self.guarded("consume catch-up", kind, rep, ["catchup-mb", "catchup-msg", "catchup-cpu"],
                                 lambda k=kind: self.catch_up(k, rep))
            if "latency" in groups:
                for kind in started:
                    self.guarded("latency", kind, rep, [r.key for r in ROWS if r.group == "latency"],
                                 lambda k=kind: self.latency(k, rep))
            if "rebalance" in groups:
                for kind in started:
                    self.guarded("rebalance", kind, rep, ["rebalance"], lambda k=kind: self.rebalance(k, rep))
            for kind in started:
                self.guarded("peak RSS", kind, rep, ["rss-peak"], lambda k=kind: self.peak_rss(k, rep))
            if "startup" in groups:
                for kind in started:
                    self.guarded("restart after kill -9", kind, rep, ["start-log", "start-recover"],
                                 lambda k=kind: self.recover(k, rep))
        finally:
            for broker in self.brokers.values():
                try:
                    broker.close()
                except Exception as e:  # noqa: BLE001 - keep stopping the others
                    self.note(f"stopping {broker.kind}: {e}")
            shutil.rmtree(repdir, ignore_errors=True)


# ---------------------------------------------------------------------------- reporting

def _cell(values: list[float], decimals: int, failed: bool) -> str:
    if values:
        # Some repetitions measured, some failed: the figure stands, the failure is flagged.
        return spread(values, decimals) + (" (some FAILED)" if failed else "")
    return "FAILED" if failed else "n/a"


def tables(samples: list[Sample], failures: list[Failure], groups: set[str]) -> str:
    by = {}
    for s in samples:
        by.setdefault((s.row, s.broker), {})[s.repetition] = s.value
    failed = {(row, f.broker) for f in failures for row in f.rows}
    out = []
    for group in GROUPS:
        if group not in groups:
            continue
        out += [f"**{group}**", "", "| row | unit | better | Runnel | Kafka | Runnel/Kafka |", "|---|---|---|---|---|---|"]
        for row in (r for r in ROWS if r.group == group):
            runnel, kafka = by.get((row.key, "runnel"), {}), by.get((row.key, "kafka"), {})
            if not runnel and not kafka and (row.key, "runnel") not in failed and (row.key, "kafka") not in failed:
                continue  # not scheduled (e.g. a partition count left out)
            ratios = [runnel[i] / kafka[i] for i in runnel if i in kafka and kafka[i] > 0]
            better = {True: "higher", False: "lower", None: ""}[row.higher_is_better]
            ratio = spread(ratios, 2) if ratios and row.higher_is_better is not None else ""
            if row.higher_is_better is not None and not ratios:
                ratio = "n/a"
            out.append(f"| {row.label} | {row.unit} | {better} | "
                       f"{_cell(list(runnel.values()), row.decimals, (row.key, 'runnel') in failed)} | "
                       f"{_cell(list(kafka.values()), row.decimals, (row.key, 'kafka') in failed)} | {ratio} |")
        out.append("")
    return "\n".join(out)


def failures_section(failures: list[Failure]) -> str:
    if not failures:
        return "No step failed.\n"
    out = [f"{len(failures)} step(s) FAILED:", ""]
    for f in failures:
        first, _, rest = f.error.partition("\n")
        out.append(f"- {f.broker}, repetition {f.repetition + 1}, {f.step}: `{first.strip()[:400]}`")
        if rest.strip():
            out += ["", "  ```", *("  " + line for line in rest.strip().splitlines()[:25]), "  ```"]
    return "\n".join(out) + "\n"


def disk_line(samples: list[Sample], probes: list[tuple[str, dict]]) -> str:
    """Each broker's 1 KiB acks=1 produce median against the storage probes' sequential write
    (their mean): the issue's "at least 80% of the disk's write bandwidth"."""
    disk_mib_s = statistics.mean(result["write_mib_s"] for _, result in probes)
    parts = []
    for kind in BROKERS:
        for partitions in PARTITION_COUNTS:
            row = f"produce-{_case_key(1024, partitions, False)}-mb"
            values = [s.value for s in samples if s.row == row and s.broker == kind]
            if values:
                median = statistics.median(values)
                parts.append(f"{kind} {partitions}p {median:,.0f} MB/s = {median / disk_mib_s:.0%}")
    return (f"- disk: the probes' sequential write averaged {disk_mib_s:,.0f} MiB/s; 1 KiB acks=1 produce "
            f"against it: " + ("; ".join(parts) if parts else "not measured"))


def page_cache_line(cmp: Comparison) -> str:
    dropped, kept = cmp.cache_dropped_steps, cmp.cache_kept_steps
    if kept == 0:
        return f"- page cache: synced and dropped before each of the {dropped} produce and latency steps"
    return (f"- page cache: synced before every produce and latency step, dropped before {dropped} of "
            f"{dropped + kept} (a smoke run keeps it; dropping needs root), so CPU rows carry the page "
            f"cache's growth")


def report(cmp: Comparison, args, info: dict[str, str], probes: list[tuple[str, dict]], loads, elapsed_s: float) -> str:
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sizes = args.sizes
    load_text = "; ".join(f"{label}: " + " / ".join(f"{x:.2f}" for x in values) for label, values in loads)
    lines = [f"Run {when}: `{args.command}`" + (f" ({args.label})" if args.label else ""), "",
             f"- machine: {info['nproc']} CPUs ({info['cpu']}), kernel {info['kernel']}; {info['java']}",
             f"- repository HEAD {info['commit']}; Runnel binary built {info['runnel binary built']} (may predate HEAD); "
             f"Kafka from {info['kafka jars']}",
             *(f"- storage probe {label}: {describe(result)}" for label, result in probes),
             f"- per run: {'/'.join(map(str, args.partition_counts))} partitions; acks=1 {sizes.produce_mib:g} MiB, acks=all + fsync {sizes.fsync_mib:g} MiB, "
             f"catch-up backlog {sizes.backlog_mib:g} MiB, latency {sizes.latency_s:g} s after {sizes.latency_warmup_s:g} s "
             f"unrecorded; {args.repetitions} repetition(s), "
             + (f"each after a discarded {sizes.warmup_mib:g} MiB warm-up per broker" if sizes.warmup_mib else "no warm-up")
             + "; " + ("brokers on CPU 0, load generators on CPU 1" if args.pin else "no CPU pinning")
             + "; load generator: " + LOADGEN_NAME,
             disk_line(cmp.samples, probes),
             page_cache_line(cmp),
             f"- load average (1/5/15 min) {load_text}; wall time {elapsed_s:.0f} s",
             "- cells: median (min-max) over repetitions; Runnel/Kafka: the ratio within each repetition, "
             "median (min-max); MB = MiB",
             "", tables(cmp.samples, cmp.failures, args.groups), failures_section(cmp.failures)]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- soak

def soak(args, workdir: Path) -> int:
    """Runnel only: the latency tool at a fixed rate for args.soak minutes while VmRSS is
    sampled every SOAK_SAMPLE_INTERVAL_S; RSS is flat if the last quarter's median is within
    SOAK_FLAT_TOLERANCE (or SOAK_FLAT_SLACK_MIB) of the first quarter's, after the warm-up."""
    tool = RdkafkaLatencyTool(RdkafkaLoadGenerator(args.pin))
    duration_s = args.soak * 60
    broker = make_bench_broker("runnel", {**BROKER_CONFIG, **SOAK_BROKER_CONFIG}, workdir / "runnel", args.pin)
    samples: list[tuple[float, float]] = []
    proc = None
    try:
        broker.start()
        topic = unique_topic("bench-soak")
        create_topic(broker, topic, LATENCY_PARTITIONS, SOAK_TOPIC_CONFIG)
        stderr_path = workdir / "soak-loadgen.err"
        proc = tool.popen(broker.bootstrap, topic, args.soak_rate, duration_s, warmup_s=SOAK_WARMUP_S,
                          record_size=LATENCY_RECORD_SIZE, stderr_path=stderr_path,
                          producer_props=LATENCY_PRODUCER_PROPS)
        start = time.monotonic()
        deadline = start + SOAK_WARMUP_S + duration_s + RUN_SLACK_S
        while proc.poll() is None and time.monotonic() < deadline:
            if not broker.running:
                raise BenchError(f"Runnel exited with {broker.proc.returncode} during the soak\n"
                                 f"{broker.output_tail(30)}")
            rss_mib = memory_kib(broker.proc.pid)[0] / 1024
            samples.append((time.monotonic() - start, rss_mib))
            print(f"soak t={samples[-1][0]:.0f}s RSS {rss_mib:.1f} MiB", file=sys.stderr, flush=True)
            try:
                proc.wait(SOAK_SAMPLE_INTERVAL_S)
            except subprocess.TimeoutExpired:
                pass
        if proc.poll() is None:
            raise BenchError(f"the soak's load generator did not finish within {deadline - start:.0f} s")
        out, _ = proc.communicate(timeout=PROCESS_EXIT_S)
        if proc.returncode != 0:
            raise BenchError(f"load generator exited {proc.returncode}:\n{out}{stderr_path.read_text()[-4000:]}")
        result = check(parse(out))
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(PROCESS_EXIT_S)
        broker.close()
    # Samples from the load generator's start-up and warm-up show the climb to steady state.
    steady = [(t, v) for t, v in samples if t >= SOAK_WARMUP_S]
    if len(steady) < 4:
        raise BenchError(f"only {len(steady)} RSS samples after the warm-up: soak for longer")
    quarter = len(steady) // 4
    first = statistics.median(v for _, v in steady[:quarter])
    last = statistics.median(v for _, v in steady[-quarter:])
    growth = (last - first) / first
    flat = growth <= SOAK_FLAT_TOLERANCE or last - first <= SOAK_FLAT_SLACK_MIB
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = "\n".join([
        f"Soak {when}: `{args.command}`" + (f" ({args.label})" if args.label else ""), "",
        f"- Runnel only, {args.soak:g} min at {args.soak_rate:,.0f} msg/s of 1 KiB into 16 partitions "
        f"(bench/loadgen latency, retention {SOAK_TOPIC_CONFIG}), RSS sampled every {SOAK_SAMPLE_INTERVAL_S:.0f} s "
        f"({len(steady)} samples after the {SOAK_WARMUP_S:.0f} s warm-up)",
        f"- RSS median, first quarter {first:.1f} MiB, last quarter {last:.1f} MiB: {growth * 100:+.1f}% -> "
        + ("FLAT" if flat else f"GROWING (more than {SOAK_FLAT_TOLERANCE * 100:.0f}% and {SOAK_FLAT_SLACK_MIB:g} MiB)"),
        f"- RSS min {min(v for _, v in samples):.1f} MiB, max {max(v for _, v in samples):.1f} MiB",
        f"- end-to-end latency over the soak: p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, "
        f"p99.9 {result['p999_ms']:.2f} ms, max {result['max_ms']:.2f} ms; {result['received']:,} records received",
        ""])
    print(section)
    if args.output:
        write_results(args.output, section, SOAK_BEGIN, SOAK_END)
    if args.json:
        args.json.write_text(json.dumps({"rss_samples": samples, "latency": result, "flat": flat}, indent=1) + "\n")
    return 0 if flat else 1


# ---------------------------------------------------------------------------- main

def parse_args(argv: list[str]):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smaller counts: about 10 minutes on a quiet machine")
    mode.add_argument("--smoke", action="store_true", help="tiny counts, one repetition, no warm-up")
    mode.add_argument("--soak", type=float, metavar="MINUTES", help="Runnel only: sustained load, RSS sampled")
    parser.add_argument("--repetitions", type=int, help="default 3 (1 with --smoke)")
    parser.add_argument("--rows", default=",".join(GROUPS), help=f"comma-separated groups out of {','.join(GROUPS)}")
    parser.add_argument("--partitions", help="comma-separated partition counts for the produce/consume rows "
                        "(default 1,16,100; 100 with --smoke)")
    parser.add_argument("--backlog-mib", type=float, help="catch-up backlog per broker (default 1024, quick 256)")
    parser.add_argument("--latency-rate", type=float, help="msg/s for the latency rows (default: half Kafka's max)")
    parser.add_argument("--soak-rate", type=float, default=SOAK_DEFAULT_RATE_MSG_S, help="msg/s during --soak")
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin brokers and clients to CPUs")
    parser.add_argument("--no-fsync-check", action="store_true", help="skip the strace check of fsync per request")
    parser.add_argument("--output", type=Path, help=f"Markdown file whose results section to rewrite "
                        f"(default {DEFAULT_OUTPUT.relative_to(REPO)}; none with --smoke or --soak)")
    parser.add_argument("--no-output", action="store_true", help="print only")
    parser.add_argument("--json", type=Path, help="write every sample and failure here")
    parser.add_argument("--label", help="a note for the report's first line (e.g. 'busy machine')")
    args = parser.parse_args(argv)
    args.command = shlex.join([".venv/bin/python", "bench/compare.py", *argv])
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    if args.backlog_mib is not None:
        sizes = Sizes(**{**asdict(sizes), "backlog_mib": args.backlog_mib})
    args.sizes = sizes
    args.repetitions = args.repetitions or sizes.repetitions
    args.groups = {g.strip() for g in args.rows.split(",") if g.strip()}
    try:
        args.partition_counts = tuple(int(p) for p in args.partitions.split(",")) if args.partitions else (
            SMOKE_PARTITION_COUNTS if args.smoke else PARTITION_COUNTS)
    except ValueError:
        parser.error("--partitions wants comma-separated integers")
    if not set(args.partition_counts) <= set(PARTITION_COUNTS):
        parser.error(f"--partitions: choose from {','.join(map(str, PARTITION_COUNTS))}")
    unknown = args.groups - set(GROUPS)
    if unknown or not args.groups:
        parser.error(f"--rows: unknown group(s) {sorted(unknown)}; choose from {','.join(GROUPS)}")
    if args.repetitions <= 0 or sizes.backlog_mib <= 0 or (args.soak is not None and args.soak <= 0):
        parser.error("--repetitions, --backlog-mib and --soak must be positive")
    if args.no_output:
        args.output = None
    elif args.output is None and not args.smoke and args.soak is None:
        args.output = DEFAULT_OUTPUT
    if args.pin and (os.cpu_count() or 1) < 2:
        args.pin = False
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    # A SIGTERM unwinds like an exception, so the brokers are stopped and the data removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    workdir = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    try:
        if args.soak is not None:
            return soak(args, workdir)
        info = machine()
        loads = [("before", os.getloadavg())]
        started = time.monotonic()
        probes = [("before", probe(workdir, args.sizes.probe_mib * MIB, args.sizes.probe_syncs))]
        cmp = Comparison(args, workdir)
        for rep in range(args.repetitions):
            cmp.repetition(rep)
        probes.append(("after", probe(workdir, args.sizes.probe_mib * MIB, args.sizes.probe_syncs)))
        loads.append(("after", os.getloadavg()))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    section = report(cmp, args, info, probes, loads, time.monotonic() - started)
    print(section)
    if args.output:
        write_results(args.output, section, RESULTS_BEGIN, RESULTS_END)
    if args.json:
        args.json.write_text(json.dumps({"info": info, "command": args.command, "probes": dict(probes),
                                         "latency_rate_msg_s": cmp.latency_rate,
                                         "samples": [asdict(s) for s in cmp.samples],
                                         "failures": [asdict(f) for f in cmp.failures]}, indent=1) + "\n")
    return 1 if cmp.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
