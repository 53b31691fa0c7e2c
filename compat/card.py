"""The report card's clients and how one adapter run is made and read.

- CLIENTS: every client on the card, in card order, with the command that starts its adapter.
- run_adapter(client, bootstrap, scenario_ids, run_id) -> AdapterRun: one bounded adapter
  process; every requested scenario gets a result (one the adapter never reported is a
  failure saying so, with the adapter's stderr tail).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from compatlib import COMPAT_DIR, REPO, RESULTS_DIR
from harness.java_tools import SHORT_RUN_JVM_OPTS
from harness.paths import JAVA_BIN, KAFKA_LIBS, KCAT_BIN, VENV_KP2_PYTHON, VENV_PYTHON
from harness.process import _die_with_parent

JAVA_BUILD_DIR = RESULTS_DIR / "java"
FRANZGO_BIN = RESULTS_DIR / "bin" / "franzgo-compat"
# Runnel's own client: the workspace's release build (`cargo build --release`, scripts/test).
RUNNEL_COMPAT_BIN = Path(os.environ.get("RUNNEL_COMPAT_BIN", REPO / "target" / "release" / "runnel-compat"))
NODE_BIN = os.environ.get("RUNNEL_NODE", "node")
# Per scenario: the slowest (group.crash) needs about 15 s; adapters bound their own waits.
ADAPTER_S_PER_SCENARIO = 60.0
ADAPTER_BASE_S = 60.0
STDERR_TAIL_CHARS = 3000


@dataclass(frozen=True)
class Client:
    name: str
    how: str  # one line for the card: what drives it
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()

    def command(self) -> list[str]:
        return [str(a) for a in self.argv]


def _py(python: Path, script: str) -> tuple[str, ...]:
    return (str(python), str(COMPAT_DIR / script))


CLIENTS = [
    Client("kafka-python3", "kafka-python 3.x (.venv), compat/python/kp_adapter.py", _py(VENV_PYTHON, "python/kp_adapter.py")),
    Client("kafka-python2", "kafka-python 2.0.2 (.venv-kp2), compat/python/kp_adapter.py",
           _py(VENV_KP2_PYTHON, "python/kp_adapter.py")),
    Client("confluent-kafka", "confluent-kafka / librdkafka (.venv), compat/python/ck_adapter.py",
           _py(VENV_PYTHON, "python/ck_adapter.py")),
    Client("aiokafka", "aiokafka (.venv), compat/python/aio_adapter.py", _py(VENV_PYTHON, "python/aio_adapter.py")),
    Client("java", "Java kafka-clients (reference jars), compat/java/Compat.java",
           (JAVA_BIN, *SHORT_RUN_JVM_OPTS, f"-Dlog4j2.configurationFile={COMPAT_DIR / 'java' / 'log4j2.xml'}",
            "-cp", f"{JAVA_BUILD_DIR}{os.pathsep}{KAFKA_LIBS / '*'}", "Compat")),
    Client("kafka-cli", "Kafka's CLI tools as Java main classes, compat/cli/cli_adapter.py",
           _py(VENV_PYTHON, "cli/cli_adapter.py")),
    Client("franz-go", "franz-go kgo + kadm, compat/franzgo (go build)", (str(FRANZGO_BIN),), (("GOMAXPROCS", "2"),)),
    Client("kafkajs", "kafkajs (npm ci), compat/kafkajs/adapter.js", (NODE_BIN, str(COMPAT_DIR / "kafkajs" / "adapter.js"))),
    Client("kcat", "kcat (Debian), compat/kcat/kcat_adapter.py", _py(VENV_PYTHON, "kcat/kcat_adapter.py"),
           (("RUNNEL_KCAT", KCAT_BIN),)),
    Client("runnel-client", "runnel-client (this workspace), compat/rust (cargo build --release -p runnel-compat)",
           (str(RUNNEL_COMPAT_BIN),)),
]
BY_NAME = {c.name: c for c in CLIENTS}


@dataclass
class AdapterRun:
    client: str
    version: str = "unknown"
    results: dict[str, dict] = field(default_factory=dict)  # scenario -> {status, detail, elapsed_s}
    exit_code: int | None = None
    elapsed_s: float = 0.0
    stderr_tail: str = ""


def run_adapter(client: Client, bootstrap: str, scenario_ids: list[str], run_id: str,
                timeout_s: float | None = None) -> AdapterRun:
    run = AdapterRun(client.name)
    if not scenario_ids:
        return run
    bound = timeout_s or ADAPTER_BASE_S + ADAPTER_S_PER_SCENARIO * len(scenario_ids)
    cmd = client.command() + ["--bootstrap", bootstrap, "--scenarios", ",".join(scenario_ids), "--run-id", run_id]
    start = time.monotonic()
    stdout, stderr = "", ""
    try:
        proc = subprocess.run(cmd, cwd=REPO, env={**os.environ, **dict(client.env)}, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=bound, preexec_fn=_die_with_parent)
        stdout, stderr, run.exit_code = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        stdout = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        stderr = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        stderr += f"\n(adapter killed after {bound:.0f}s)"
    except OSError as e:
        stderr = f"cannot start {cmd[0]}: {e} (run scripts/setup)"
    run.elapsed_s = round(time.monotonic() - start, 1)
    run.stderr_tail = stderr[-STDERR_TAIL_CHARS:]
    for line in stdout.splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "client" in obj and "version" in obj:
            run.version = str(obj["version"])
        elif obj.get("scenario") in scenario_ids and obj.get("status") in ("pass", "fail", "skip"):
            run.results[obj["scenario"]] = {"status": obj["status"], "detail": obj.get("detail", ""),
                                            "elapsed_s": obj.get("elapsed_s")}
    for sid in scenario_ids:
        if sid not in run.results:
            last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
            run.results[sid] = {"status": "fail", "detail": f"adapter reported no result (exit {run.exit_code}; {last[:300]})",
                                "elapsed_s": None}
    return run
