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
# Two broker starts, 8 JVM tool runs and 2,000 records each: about a minute on 2 busy cores.
TLS_SMOKE_TIMEOUT_S = 400
TABLE_ROW = re.compile(r"^\| (runnel|kafka) \| (PLAINTEXT|SSL) \|", re.MULTILINE)


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
