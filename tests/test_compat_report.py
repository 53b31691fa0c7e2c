"""How the report card judges its cells (compat/report.py), on made-up results: no broker.

A cell failing on Runnel and passing on Kafka is a Runnel bug - shown with its known gap
when compat/gaps.py explains it, else as under investigation with both brokers' answers;
a cell failing on Kafka is a broken test; a skip is never counted as a failure.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compat"))

import gaps  # noqa: E402
import report  # noqa: E402
from gaps import Gap, gap_for  # noqa: E402


def cards(**cells) -> dict:
    """cells: client -> {scenario: (runnel status, kafka status)}."""
    out = {"clients": {}, "broker_logs": {"runnel-card": ["WARN something Runnel said"]}}
    for client, by_scenario in cells.items():
        results = {"runnel": {}, "kafka": {}}
        for sid, (r, k) in by_scenario.items():
            results["runnel"][sid] = {"status": r, "detail": f"runnel said {r}"}
            results["kafka"][sid] = {"status": k, "detail": f"kafka said {k}"}
        out["clients"][client] = {"how": "test", "version": "1.0", "results": results, "runs": []}
    return out


def test_runnel_only_failure_without_a_known_gap_is_under_investigation():
    card = cards(java={"produce.headers": ("fail", "pass"), "produce.gzip": ("pass", "pass")})
    verdict = report.judge(card, ["produce.headers", "produce.gzip"])
    assert [(sid, name, gap) for sid, name, _r, _k, gap in verdict["runnel_only"]] == [("produce.headers", "java", None)]
    text = report.render(card, verdict, ["produce.headers", "produce.gzip"], None, partial=True)
    assert "Under investigation" in text
    assert "runnel said fail" in text and "kafka said pass" in text
    assert "WARN something Runnel said" in text


def test_known_gap_names_what_it_waits_for(monkeypatch):
    monkeypatch.setattr(gaps, "KNOWN_GAPS", [Gap("produce.headers", "made-up missing piece", "a made-up issue")])
    assert gap_for("produce.headers", "java") is not None
    card = cards(java={"produce.headers": ("fail", "pass")})
    verdict = report.judge(card, ["produce.headers"])
    assert verdict["runnel_only"][0][4] is not None
    text = report.render(card, verdict, ["produce.headers"], None, partial=True)
    assert "Waits for:" in text and "a made-up issue" in text and "Under investigation" not in text


def test_failure_on_kafka_is_a_broken_test_and_skips_are_not_failures():
    card = cards(kcat={"group.join": ("skip", "skip"), "produce.lz4": ("pass", "fail")})
    verdict = report.judge(card, ["group.join", "produce.lz4"])
    assert [(sid, name) for sid, name, _k, _r in verdict["kafka_fail"]] == [("produce.lz4", "kcat")]
    assert not verdict["runnel_only"]
    assert [(sid, name) for sid, name, _why in verdict["skips"]] == [("group.join", "kcat")]
    text = report.render(card, verdict, ["group.join", "produce.lz4"], None, partial=True)
    assert "| group.join | – |" in text
    assert "| produce.lz4 | ✓ ✗ |" in text
