"""The brokers as bench/compare.py runs them: the harness's RunnelBroker and KafkaBroker, plus
- pinning from exec (`taskset -c BROKER_CPU` wraps the command, so start-up is pinned too;
  taskset execs the broker, so the process id is the broker's);
- a tight readiness loop that records ready_s, the time from just before exec until the first
  ApiVersions + Metadata exchange that lists the broker (the harness's own probe), polled
  every READY_POLL_S instead of the harness's 0.2 s;
- Kafka run as its own scripts run it, with a fixed 1 GiB heap (harness.kafka.SERVER_JVM_OPTS),
  not with the harness's quick-start flags for tests.

Public API: make_bench_broker(kind, config, workdir, pin) -> a not-yet-started broker whose
start() sets .ready_s.
"""

from __future__ import annotations

import time
from pathlib import Path

from common import BROKER_CPU

from harness.kafka import SERVER_JVM_OPTS, KafkaBroker
from harness.process import BrokerStartError
from harness.runnel import RunnelBroker

READY_POLL_S = 0.005


class _Timed:
    pin = False
    exec_at = 0.0
    ready_s: float | None = None

    def command(self) -> list[str]:
        cmd = super().command()
        if self.pin:
            cmd = ["taskset", "-c", BROKER_CPU, *cmd]
        self.exec_at = time.monotonic()
        return cmd

    def wait_ready(self) -> None:
        self.ready_s = None
        deadline = self.exec_at + self.start_timeout_s
        last_error = "never probed"
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise BrokerStartError(f"{self.kind} exited with {code} during start\n{self.output_tail()}")
            try:
                self.probe()
                self.ready_s = time.monotonic() - self.exec_at
                return
            except Exception as e:  # noqa: BLE001 - refused or not ready yet: keep polling until the deadline
                last_error = f"{type(e).__name__}: {e}"
            time.sleep(READY_POLL_S)
        raise BrokerStartError(f"{self.kind} not ready on {self.bootstrap} after {self.start_timeout_s:.0f}s "
                               f"(last probe: {last_error})\n{self.output_tail()}")


class BenchRunnel(_Timed, RunnelBroker):
    pass


class BenchKafka(_Timed, KafkaBroker):
    def __init__(self, config: dict[str, str], **kwargs):
        super().__init__(config, jvm_opts=SERVER_JVM_OPTS, **kwargs)


def make_bench_broker(kind: str, config: dict[str, str], workdir: Path, pin: bool):
    cls = {"runnel": BenchRunnel, "kafka": BenchKafka}[kind]
    broker = cls(config, workdir=workdir)
    broker.pin = pin
    return broker
