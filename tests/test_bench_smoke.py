"""The benchmarks in bench/ still run end to end (brokers, load generator, parsing, report).

Benchmarks are never timed unit tests: these check only that a tiny run finishes within a
bound, exits 0 and produces numbers, never how large the numbers are.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from harness.paths import REPO_ROOT, VENV_PYTHON

TLS_BENCH = REPO_ROOT / "bench" / "tls.py"
COMPARE_BENCH = REPO_ROOT / "bench" / "compare.py"
# Two broker starts, 8 JVM tool runs and 2,000 records each: about a minute on 2 busy cores.
TLS_SMOKE_TIMEOUT_S = 400
TABLE_ROW = re.compile(r"^\| (runnel|kafka) \| (PLAINTEXT|SSL) \|", re.MULTILINE)
# Four broker starts (two after kill -9), about 20 load generator runs (bench/loadgen, built by
# scripts/test; a first build here adds about a minute), two latency runs and two
# rebalances: one to three minutes on 2 busy cores.
COMPARE_SMOKE_TIMEOUT_S = 300
COMPARE_GROUPS = ("produce", "consume", "latency", "memory", "startup", "rebalance")
NUMBER = re.compile(r"^[\d,]+(\.\d+)?( \([\d,.]+-[\d,.]+\))?$")
COMPARE_MARKERS = ("<!-- RESULTS_BEGIN (written by bench/compare.py --output) -->", "<!-- RESULTS_END -->")


@pytest.mark.timeout(TLS_SMOKE_TIMEOUT_S + 30)
def test_tls_bench_smoke_runs_both_brokers_over_both_listeners(tmp_path):
    doc = tmp_path / "benchmarks-tls.md"
    doc.write_text("# Kept heading\n\n<!-- RESULTS_BEGIN (written by bench/tls.py --output) -->\nstale results\n"
                   "<!-- RESULTS_END -->\n\nKept notes.\n")
    raw = tmp_path / "runs.json"
    res = subprocess.run([str(VENV_PYTHON), str(TLS_BENCH), "--smoke", "--output", str(doc), "--json", str(raw)],
                         capture_output=True, text=True, timeout=TLS_SMOKE_TIMEOUT_S, cwd=REPO_ROOT)
    assert res.returncode == 0, f"exit {res.returncode}\n--- stdout ---\n{res.stdout}--- stderr ---\n{res.stderr}"

    assert sorted(TABLE_ROW.findall(res.stdout)) == sorted(
        (b, listener) for b in ("runnel", "kafka") for listener in ("PLAINTEXT", "SSL")), res.stdout
    assert "Runnel / Kafka over SSL" in res.stdout, res.stdout

    runs = json.loads(raw.read_text())
    assert {(r["broker"], r["listener"]) for r in runs} == {
        (b, listener) for b in ("runnel", "kafka") for listener in ("PLAINTEXT", "SSL")}
    for r in runs:
        assert r["produce_msg_s"] > 0 and r["consume_msg_s"] > 0, r

    text = doc.read_text()
    assert text.startswith("# Kept heading\n") and text.rstrip().endswith("Kept notes."), text
    assert "stale results" not in text and "| runnel | SSL |" in text, text


def _compare_table_rows(report: str) -> dict[str, list[list[str]]]:
    """Group name -> the cells of each row of that group's table."""
    groups: dict[str, list[list[str]]] = {}
    current = None
    for line in report.splitlines():
        if line.startswith("**") and line.endswith("**"):
            current = line.strip("*")
            groups[current] = []
        elif current and line.startswith("| ") and not line.startswith(("| row |", "|---")):
            groups[current].append([c.strip() for c in line.strip("|").split("|")])
    return groups


@pytest.mark.timeout(COMPARE_SMOKE_TIMEOUT_S + 30)
def test_compare_bench_smoke_measures_every_row_on_both_brokers(tmp_path):
    begin, end = COMPARE_MARKERS
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Kept heading\n\n{begin}\nstale results\n{end}\n\nKept notes.\n")
    raw = tmp_path / "compare.json"
    res = subprocess.run([str(VENV_PYTHON), str(COMPARE_BENCH), "--smoke", "--output", str(doc), "--json", str(raw)],
                         capture_output=True, text=True, timeout=COMPARE_SMOKE_TIMEOUT_S, cwd=REPO_ROOT)
    assert res.returncode == 0, f"exit {res.returncode}\n--- stdout ---\n{res.stdout}--- stderr ---\n{res.stderr}"
    assert "No step failed." in res.stdout, res.stdout
    # The report says how the writing steps found the page cache (compare.before_writing_step).
    assert re.search(r"^- page cache: synced", res.stdout, re.MULTILINE), res.stdout

    groups = _compare_table_rows(res.stdout)
    assert sorted(groups) == sorted(COMPARE_GROUPS), res.stdout
    for group, rows in groups.items():
        assert rows, f"{group} has no rows\n{res.stdout}"
        for label, unit, better, runnel, kafka, ratio in rows:
            assert NUMBER.match(runnel) and NUMBER.match(kafka), f"{group}: {label} ({unit}) lacks a number"
            if better:
                assert NUMBER.match(ratio), f"{group}: {label} ({unit}) lacks a ratio"

    data = json.loads(raw.read_text())
    assert data["failures"] == [], data["failures"]
    measured = {(s["row"], s["broker"]) for s in data["samples"]}
    rows = {r for r, _ in measured}
    assert measured == {(r, b) for r in rows for b in ("runnel", "kafka")}, measured
    assert sum(len(v) for v in groups.values()) == len(rows), (sorted(rows), res.stdout)
    durable = [s["value"] for s in data["samples"] if s["row"] == "fsync-check-durable"]
    assert len(durable) == 2 and min(durable) >= 1, durable

    text = doc.read_text()
    assert text.startswith("# Kept heading\n") and text.rstrip().endswith("Kept notes."), text
    assert "stale results" not in text and "| end-to-end latency p99 |" in text, text
