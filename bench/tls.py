"""TLS produce/consume throughput: Runnel against Apache Kafka, each over PLAINTEXT and SSL.

What is measured: Kafka's own load generators from the reference jars, for both brokers:
org.apache.kafka.tools.ProducerPerformance produces a fixed number of 1 KiB records at full
speed (acks=1, otherwise the producer's defaults) into a fresh topic with a few partitions,
then org.apache.kafka.tools.ConsumerPerformance reads them all back in a fresh group. Each
broker has a PLAINTEXT listener and an SSL listener that requires a client certificate (the
harness's throwaway CA, PEM keystores); over SSL both tools get the same client.properties.
Both brokers run from the test harness on the same filesystem with their default durability
(no fsync: flush.messages and flush.ms unset, as in Kafka), and stay up for the whole run.

Order: a discarded warm-up per (broker, listener), then repetitions; inside a repetition the
brokers alternate (Runnel, Kafka, Runnel, Kafka: PLAINTEXT then SSL), so the ratios that
matter are taken from neighbouring runs. Unless --no-pin, the brokers are pinned to CPU 0 and
the load generator to CPU 1 (taskset). Besides throughput, the broker's own CPU time
(utime + stime from /proc) per GiB moved is recorded, which shows TLS cost even when the
client is the bottleneck.

Usage:
  .venv/bin/python bench/tls.py [--records 300000] [--repetitions 3] [--output docs/benchmarks-tls.md]
  .venv/bin/python bench/tls.py --smoke        # tiny counts, one repetition: the harness works
Prints a Markdown table (medians and ranges) and the ratios; --output rewrites the results
section of that Markdown file (between RESULTS_BEGIN and RESULTS_END, other text is kept);
--json writes every run's raw numbers.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from common import (BROKER_CPU, BROKERS, GIB, MIB, LoadGenerator, cpu_seconds, create_topic, machine, spread,
                    write_results)

from harness import make_broker  # noqa: E402
from harness.certs import Certs, make_certs, server_ssl_settings, write_client_properties  # noqa: E402
from harness.kafka import SERVER_JVM_OPTS  # noqa: E402

LISTENERS = ("PLAINTEXT", "SSL")
SSL_LISTENERS = {"SSL": "SSL"}

RECORD_SIZE_BYTES = 1024
PARTITIONS = 4
DEFAULT_RECORDS = 300_000
DEFAULT_REPETITIONS = 3
SMOKE_RECORDS = 2_000
# Both brokers: no 3 s wait before the first consumer group's assignment (not measured
# anyway: ConsumerPerformance's fetch.* figures exclude the join), everything else default.
BROKER_CONFIG = {"group.initial.rebalance.delay.ms": "0"}

RESULTS_BEGIN = "<!-- RESULTS_BEGIN (written by bench/tls.py --output) -->"
RESULTS_END = "<!-- RESULTS_END -->"


@dataclass
class Run:
    broker: str
    listener: str
    repetition: int  # -1 for the discarded warm-up
    records: int
    produce_mb_s: float
    produce_msg_s: float
    produce_avg_latency_ms: float
    consume_mb_s: float
    consume_msg_s: float
    produce_broker_cpu_s: float
    consume_broker_cpu_s: float

    @property
    def gib(self) -> float:
        return self.records * RECORD_SIZE_BYTES / GIB


# ---------------------------------------------------------------------------- the brokers

def start_brokers(certs: Certs, workdir: Path, pin: bool) -> dict:
    settings = {**BROKER_CONFIG, **server_ssl_settings(certs)}
    brokers = {}
    try:
        for kind in BROKERS:
            # Kafka as its own scripts run it, not with the test harness's quick-start flags.
            server_jvm = {"jvm_opts": SERVER_JVM_OPTS} if kind == "kafka" else {}
            broker = make_broker(kind, settings, workdir=workdir / kind, extra_listeners=SSL_LISTENERS, **server_jvm)
            brokers[kind] = broker
            broker.start()
            if pin:
                subprocess.run(["taskset", "-a", "-p", "-c", BROKER_CPU, str(broker.proc.pid)], check=True,
                               capture_output=True, timeout=30)
    except BaseException:
        for broker in brokers.values():
            broker.close()
        raise
    return brokers


def measure(broker, listener: str, repetition: int, records: int, partitions: int, loadgen: LoadGenerator,
            client_properties: Path) -> Run:
    topic = f"bench-tls-{listener.lower()}-{uuid.uuid4().hex[:8]}"
    create_topic(broker, topic, partitions)
    if listener == "SSL":
        bootstrap, config = broker.listener_bootstrap("SSL"), client_properties
    else:
        bootstrap, config = broker.bootstrap, None
    pid = broker.proc.pid
    cpu0 = cpu_seconds(pid)
    p_mb, p_msg, p_lat = loadgen.produce(bootstrap, topic, records, config, record_size=RECORD_SIZE_BYTES)
    cpu1 = cpu_seconds(pid)
    c_mb, c_msg = loadgen.consume(bootstrap, topic, records, config, group_prefix="bench-tls")
    cpu2 = cpu_seconds(pid)
    return Run(broker.kind, listener, repetition, records, p_mb, p_msg, p_lat, c_mb, c_msg, cpu1 - cpu0, cpu2 - cpu1)


# ---------------------------------------------------------------------------- reporting

METRICS = [  # (column header, value of a run, decimals)
    ("produce MB/s", lambda r: r.produce_mb_s, 1),
    ("produce msg/s", lambda r: r.produce_msg_s, 0),
    ("consume MB/s", lambda r: r.consume_mb_s, 1),
    ("consume msg/s", lambda r: r.consume_msg_s, 0),
    ("broker CPU s/GiB produced", lambda r: r.produce_broker_cpu_s / r.gib, 2),
    ("broker CPU s/GiB consumed", lambda r: r.consume_broker_cpu_s / r.gib, 2),
]
RATIOS = [  # (row label, numerator (broker, listener), denominator (broker, listener))
    ("Runnel SSL / PLAINTEXT", ("runnel", "SSL"), ("runnel", "PLAINTEXT")),
    ("Kafka SSL / PLAINTEXT", ("kafka", "SSL"), ("kafka", "PLAINTEXT")),
    ("Runnel / Kafka over SSL", ("runnel", "SSL"), ("kafka", "SSL")),
    ("Runnel / Kafka over PLAINTEXT", ("runnel", "PLAINTEXT"), ("kafka", "PLAINTEXT")),
]
RATIO_METRICS = [METRICS[0], METRICS[2], METRICS[4], METRICS[5]]


def tables(runs: list[Run]) -> str:
    measured = [r for r in runs if r.repetition >= 0]
    out = ["| broker | listener | " + " | ".join(h for h, _, _ in METRICS) + " |",
           "|---|---|" + "---|" * len(METRICS)]
    for kind in BROKERS:
        for listener in LISTENERS:
            mine = [r for r in measured if r.broker == kind and r.listener == listener]
            if mine:
                out.append(f"| {kind} | {listener} | " + " | ".join(spread([f(r) for r in mine], d)
                                                                   for _, f, d in METRICS) + " |")
    out += ["", "Ratios, paired within each repetition (median, range):", "",
            "| ratio | " + " | ".join(h for h, _, _ in RATIO_METRICS) + " |", "|---|" + "---|" * len(RATIO_METRICS)]
    reps = sorted({r.repetition for r in measured})
    by_key = {(r.broker, r.listener, r.repetition): r for r in measured}
    for label, num, den in RATIOS:
        cells = []
        for _, f, _ in RATIO_METRICS:
            pairs = [(by_key.get((*num, i)), by_key.get((*den, i))) for i in reps]
            values = [f(a) / f(b) for a, b in pairs if a and b and f(b) > 0]
            cells.append(spread(values, 2) if values else "n/a")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def report(runs: list[Run], args, info: dict[str, str], load_before, load_after, elapsed_s: float) -> str:
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    loads = lambda t: " / ".join(f"{x:.2f}" for x in t)  # noqa: E731
    lines = [f"Run {when}: `{args.command}`", "",
             f"- machine: {info['nproc']} CPUs ({info['cpu']}), kernel {info['kernel']}; {info['java']}",
             f"- Runnel at commit {info['commit']} (binary built {info['runnel binary built']}); "
             f"Kafka from {info['kafka jars']}",
             f"- {args.records:,} records of {RECORD_SIZE_BYTES} B per run "
             f"({args.records * RECORD_SIZE_BYTES / MIB:,.0f} MiB), {args.partitions} partitions, acks=1, "
             f"{args.repetitions} repetition(s) after {'a discarded warm-up' if args.warmup else 'no warm-up'}; "
             + ("brokers on CPU 0, load generator on CPU 1" if args.pin else "no CPU pinning"),
             f"- load average (1/5/15 min) before: {loads(load_before)}; after: {loads(load_after)}; "
             f"wall time {elapsed_s:.0f} s",
             "", tables(runs)]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- main

def parse_args(argv: list[str]):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=DEFAULT_RECORDS, help="records per run")
    parser.add_argument("--repetitions", type=int, default=DEFAULT_REPETITIONS)
    parser.add_argument("--partitions", type=int, default=PARTITIONS)
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin brokers and client to CPUs")
    parser.add_argument("--smoke", action="store_true",
                        help=f"{SMOKE_RECORDS} records, one repetition, no warm-up: checks the harness end to end")
    parser.add_argument("--output", type=Path, help="Markdown file whose results section to (re)write")
    parser.add_argument("--json", type=Path, help="write every run's raw numbers here")
    args = parser.parse_args(argv)
    args.command = shlex.join([".venv/bin/python", "bench/tls.py", *argv])
    args.warmup = not args.smoke
    if args.smoke:
        args.records, args.repetitions = SMOKE_RECORDS, 1
    if args.records <= 0 or args.repetitions <= 0 or args.partitions <= 0:
        parser.error("--records, --repetitions and --partitions must be positive")
    if args.pin and (os.cpu_count() or 1) < 2:
        args.pin = False
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    # A SIGTERM unwinds like an exception, so the brokers are stopped and the data removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    info = machine()
    load_before = os.getloadavg()
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="bench-tls-"))
    runs: list[Run] = []
    try:
        certs = make_certs(workdir / "certs")
        client_properties = write_client_properties(workdir / "client.properties", certs)
        loadgen = LoadGenerator(workdir, args.pin)
        brokers = start_brokers(certs, workdir, args.pin)
        try:
            schedule = [(-1, listener) for listener in LISTENERS] if args.warmup else []
            schedule += [(rep, listener) for rep in range(args.repetitions) for listener in LISTENERS]
            for rep, listener in schedule:
                for kind in BROKERS:  # ABAB: the brokers alternate run by run
                    run = measure(brokers[kind], listener, rep, args.records, args.partitions, loadgen,
                                  client_properties)
                    runs.append(run)
                    label = "warm-up" if rep < 0 else f"rep {rep + 1}"
                    print(f"{label} {kind} {listener}: produce {run.produce_mb_s:.1f} MB/s, "
                          f"consume {run.consume_mb_s:.1f} MB/s, broker CPU {run.produce_broker_cpu_s:.2f} s + "
                          f"{run.consume_broker_cpu_s:.2f} s", file=sys.stderr, flush=True)
        finally:
            for broker in brokers.values():
                broker.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    section = report(runs, args, info, load_before, os.getloadavg(), time.monotonic() - started)
    print(section)
    if args.output:
        write_results(args.output, section, RESULTS_BEGIN, RESULTS_END)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in runs], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
