#!/usr/bin/env python3
"""franz-go's own pkg/kgo integration suite against Runnel and against Apache Kafka.

Usage: .venv/bin/python compat/kgo/run.py [--broker runnel|kafka ...] [--records N] [--run REGEX]

The module source comes from the Go module cache (`go mod download` of the same franz-go
version compat/franzgo pins), is copied to a writable temp dir, and `go test -json ./pkg/kgo`
runs there with KGO_SEEDS pointing at a fresh single-node broker, KGO_TEST_RF=1 and
KGO_TEST_RECORDS (default 10000, the upstream CI default). Per-test outcomes go to
RESULTS_DIR/kgo-<broker>.json; the summary is printed and read by compat/report.py.
GOMAXPROCS=2 and `-p 1`: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compatlib import FRANZ_GO_VERSION, RESULTS_DIR, card_broker  # noqa: E402

MODULE = "github.com/twmb/franz-go"
DEFAULT_RECORDS = 10000
# Upper bound for one whole suite run; the suite's own per-test waits are shorter.
SUITE_TIMEOUT_S = 1500
GO_TEST_TIMEOUT = "20m"
DOWNLOAD_TIMEOUT_S = 300

# Tests that pass on Apache Kafka and may not pass on Runnel yet, each with what it waits
# for. Anything else that passes on Kafka and not on Runnel is a Runnel bug.
EXPECTED_RUNNEL_GAPS = {
    "TestTxnEtl": "transactions: Runnel has no transaction coordinator yet (AddPartitionsToTxn, EndTxn, control batches)",
    "TestTxnDirectProduce": "transactions: Runnel has no transaction coordinator yet",
    "TestTxnAbortedRecordsIgnored": "transactions: Runnel has no transaction coordinator yet",
    "TestTxnOffsetCommitGenerationMismatch": "transactions: Runnel has no transaction coordinator yet",
    "TestGroupETL848": "KIP-848 consumer groups: Runnel does not serve ConsumerGroupHeartbeat (68) yet",
    "Test848": "KIP-848 consumer groups: Runnel does not serve ConsumerGroupHeartbeat (68) yet",
}


def module_source(version: str) -> Path:
    """`go mod download` the module and return its (read-only) directory in the cache."""
    res = subprocess.run(["go", "mod", "download", "-json", f"{MODULE}@{version}"], capture_output=True,
                         text=True, timeout=DOWNLOAD_TIMEOUT_S)
    if res.returncode != 0:
        raise SystemExit(f"go mod download {MODULE}@{version} failed:\n{res.stdout}{res.stderr}")
    return Path(json.loads(res.stdout)["Dir"])


def writable_copy(src: Path, dest_root: Path) -> Path:
    dest = dest_root / "franz-go"
    shutil.copytree(src, dest)
    for root, dirs, files in os.walk(dest):
        for name in dirs + files:
            p = Path(root) / name
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    return dest


def run_suite(source: Path, bootstrap: str, records: int, run_regex: str | None, log_path: Path) -> dict:
    env = {**os.environ, "KGO_SEEDS": bootstrap, "KGO_TEST_RF": "1", "KGO_TEST_RECORDS": str(records),
           "GOMAXPROCS": os.environ.get("GOMAXPROCS", "2"), "GOFLAGS": "-mod=mod", "KGO_LOG_LEVEL": "none"}
    cmd = ["go", "test", "-json", "-count=1", "-p", "1", "-timeout", GO_TEST_TIMEOUT, "./pkg/kgo"]
    if run_regex:
        cmd += ["-run", run_regex]
    start = time.monotonic()
    with open(log_path, "w") as log:
        try:
            proc = subprocess.run(cmd, cwd=source, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
                                  timeout=SUITE_TIMEOUT_S)
            stdout, code = proc.stdout, proc.returncode
        except subprocess.TimeoutExpired as e:
            stdout = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            code = None
        log.write(stdout)
    tests: dict[str, dict] = {}
    output: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        try:
            ev = json.loads(line)
        except json.JSONDecodeError:
            continue
        name = ev.get("Test")
        if not name or "/" in name:
            continue
        if ev.get("Action") == "output":
            output.setdefault(name, []).append(ev.get("Output", ""))
        elif ev.get("Action") in ("pass", "fail", "skip"):
            tests[name] = {"outcome": ev["Action"], "elapsed_s": ev.get("Elapsed")}
    for name, outs in output.items():
        entry = tests.setdefault(name, {"outcome": "unfinished", "elapsed_s": None})
        if entry["outcome"] != "pass":
            entry["output_tail"] = "".join(outs)[-3000:]
    return {"exit_code": code, "elapsed_s": round(time.monotonic() - start, 1), "tests": tests}


def run_against(kind: str, source: Path, records: int, run_regex: str | None, work: Path) -> dict:
    broker = card_broker(kind, work / f"{kind}-broker")
    broker.start()
    try:
        result = run_suite(source, broker.bootstrap, records, run_regex, work / f"kgo-{kind}.log")
    finally:
        broker.close(remove_workdir=False)
    result.update(broker=kind, franz_go_version=FRANZ_GO_VERSION, records=records, run=run_regex)
    result["broker_output_tail"] = broker.output_tail(80) if result["exit_code"] not in (0,) else ""
    return result


def summary(result: dict) -> str:
    counts: dict[str, int] = {}
    for t in result["tests"].values():
        counts[t["outcome"]] = counts.get(t["outcome"], 0) + 1
    parts = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
    return f"{result['broker']}: {parts} in {result['elapsed_s']}s (exit {result['exit_code']})"


def compare(kafka: dict, runnel: dict) -> tuple[list[str], list[str]]:
    """(expected gaps, unexplained regressions): tests passing on Kafka but not on Runnel."""
    expected, unexplained = [], []
    for name, t in sorted(kafka["tests"].items()):
        if t["outcome"] != "pass":
            continue
        got = runnel["tests"].get(name, {"outcome": "missing"})["outcome"]
        if got == "pass":
            continue
        reason = EXPECTED_RUNNEL_GAPS.get(name)
        (expected if reason else unexplained).append(f"{name}: {got} on Runnel" + (f" ({reason})" if reason else ""))
    return expected, unexplained


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--broker", action="append", choices=["runnel", "kafka"])
    p.add_argument("--records", type=int, default=int(os.environ.get("KGO_TEST_RECORDS", DEFAULT_RECORDS)))
    p.add_argument("--run", default=None, help="go test -run regex (default: every test)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = p.parse_args()
    kinds = args.broker or ["kafka", "runnel"]
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    with tempfile.TemporaryDirectory(prefix="runnel-kgo-") as tmp:
        work = Path(tmp)
        source = writable_copy(module_source(FRANZ_GO_VERSION), work)
        for kind in kinds:
            print(f"[kgo] franz-go {FRANZ_GO_VERSION} pkg/kgo against {kind} (KGO_TEST_RECORDS={args.records})",
                  flush=True)
            results[kind] = run_against(kind, source, args.records, args.run, work)
            (args.out / f"kgo-{kind}.json").write_text(json.dumps(results[kind], indent=1))
            shutil.copy(work / f"kgo-{kind}.log", args.out / f"kgo-{kind}.log")
            print("[kgo] " + summary(results[kind]), flush=True)
    if "kafka" in results and "runnel" in results:
        expected, unexplained = compare(results["kafka"], results["runnel"])
        for line in expected:
            print(f"[kgo] known gap: {line}")
        for line in unexplained:
            print(f"[kgo] RUNNEL REGRESSION: {line}")
        return 1 if unexplained else 0
    return 0 if all(r["exit_code"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
