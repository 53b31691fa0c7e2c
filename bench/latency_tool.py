"""bench/java/LatencyBench.java: compiled on demand with javac against the harness's Kafka
jars (cached under .cache/bench/java, rebuilt when the source, the jars or javac change, as
scripts/setup does for compat/java) and run through common.LoadGenerator.

Public API: LatencyTool(loadgen).run(bootstrap, topic, rate_msg_s, duration_s, ...) -> dict
(the tool's JSON: sent, acked, received, errors, p50_ms, p99_ms, p999_ms, max_ms, ...), and
.popen(...) for a long run whose caller samples the broker meanwhile (the soak).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from common import REPO, BenchError, LoadGenerator, text

from harness.paths import KAFKA_LIBS
from harness.process import _die_with_parent

SOURCE = REPO / "bench" / "java" / "LatencyBench.java"
MAIN_CLASS = "LatencyBench"
CLASS_DIR = REPO / ".cache" / "bench" / "java"
STAMP = CLASS_DIR / ".stamp"
JAVAC_TIMEOUT_S = 180.0
# Beyond the run itself: two JVM starts, metadata, the producer's flush and the drain.
RUN_SLACK_S = 90.0
DRAIN_TIMEOUT_S = 30.0


def _stamp() -> str:
    javac = subprocess.run(["javac", "-version"], capture_output=True, text=True, timeout=60)
    jars = sorted(p.name for p in KAFKA_LIBS.glob("*.jar"))
    digest = hashlib.sha256(SOURCE.read_bytes() + "\n".join(jars).encode()).hexdigest()
    return f"{digest} {(javac.stdout + javac.stderr).strip()}"


def build() -> Path:
    """The directory holding LatencyBench.class, compiling it if it is missing or stale."""
    want = _stamp()
    if (CLASS_DIR / f"{MAIN_CLASS}.class").exists() and STAMP.exists() and STAMP.read_text() == want:
        return CLASS_DIR
    shutil.rmtree(CLASS_DIR, ignore_errors=True)
    CLASS_DIR.mkdir(parents=True)
    cmd = ["javac", "-J-XX:TieredStopAtLevel=1", "-nowarn", "-d", str(CLASS_DIR), "-cp", str(KAFKA_LIBS / "*"),
           str(SOURCE)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=JAVAC_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BenchError(f"javac timed out after {JAVAC_TIMEOUT_S:.0f}s") from None
    if res.returncode != 0:
        raise BenchError(f"javac failed ({res.returncode}):\n{res.stdout}{res.stderr}")
    STAMP.write_text(want)
    return CLASS_DIR


class LatencyTool:
    def __init__(self, loadgen: LoadGenerator):
        self.loadgen = loadgen
        self.classes = build()

    def args(self, bootstrap: str, topic: str, rate_msg_s: float, duration_s: float, *, warmup_s: float,
             record_size: int, acks: str, producer_props: dict[str, str]) -> list[str]:
        args = ["--bootstrap", bootstrap, "--topic", topic, "--rate", f"{rate_msg_s:.1f}",
                "--duration-s", f"{duration_s:g}", "--warmup-s", f"{warmup_s:g}", "--record-size", str(record_size),
                "--acks", acks, "--drain-timeout-s", f"{DRAIN_TIMEOUT_S:g}"]
        for key, value in producer_props.items():
            args += ["--producer-prop", f"{key}={value}"]
        return args

    def run(self, bootstrap: str, topic: str, rate_msg_s: float, duration_s: float, *, warmup_s: float,
            record_size: int, acks: str = "1", producer_props: dict[str, str] | None = None) -> dict:
        """One open-loop run; raises BenchError unless every record sent was acknowledged and
        received back, without errors."""
        args = self.args(bootstrap, topic, rate_msg_s, duration_s, warmup_s=warmup_s, record_size=record_size,
                         acks=acks, producer_props=producer_props or {})
        out = self.loadgen.run(MAIN_CLASS, args, timeout_s=warmup_s + duration_s + RUN_SLACK_S,
                               extra_classpath=[self.classes])
        return check(parse(out))

    def popen(self, bootstrap: str, topic: str, rate_msg_s: float, duration_s: float, *, warmup_s: float,
              record_size: int, stderr_path: Path, acks: str = "1",
              producer_props: dict[str, str] | None = None) -> subprocess.Popen:
        """Start a run in the background; its stdout (one JSON line) is a pipe, its stderr goes
        to stderr_path (a long run's client warnings could otherwise fill a pipe and stall it)."""
        args = self.args(bootstrap, topic, rate_msg_s, duration_s, warmup_s=warmup_s, record_size=record_size,
                         acks=acks, producer_props=producer_props or {})
        cmd = self.loadgen.command(MAIN_CLASS, args, [self.classes])
        with open(stderr_path, "w") as err:
            return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True,
                                    preexec_fn=_die_with_parent)


def parse(out: str) -> dict:
    lines = [ln for ln in text(out).splitlines() if ln.startswith("{")]
    if not lines:
        raise BenchError(f"no JSON from {MAIN_CLASS}:\n{out}")
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError as e:
        raise BenchError(f"unparsable JSON from {MAIN_CLASS} ({e}):\n{out}") from None


def check(result: dict) -> dict:
    problems = []
    if result["errors"] or result["first_error"]:
        problems.append(f"{result['errors']} send errors, first: {result['first_error']}")
    if result["acked"] != result["sent"]:
        problems.append(f"{result['acked']} of {result['sent']} records acknowledged")
    if result["received"] != result["acked"]:
        problems.append(f"{result['received']} of {result['acked']} acknowledged records received")
    if result["measured"] <= 0:
        problems.append("no record after the warm-up was received")
    if problems:
        raise BenchError(f"{MAIN_CLASS}: " + "; ".join(problems) + f"\n{json.dumps(result)}")
    return result
