#!/usr/bin/env python3
"""The compatibility report card: every client x every scenario on Runnel and on Apache Kafka,
plus franz-go's pkg/kgo suite, written to docs/compat.md.

Usage: .venv/bin/python compat/report.py [--clients a,b] [--scenarios id,id] [--no-kgo] [--out FILE]

Starts a Runnel (target/release/runnel) and a reference Kafka (the Maven jars) with the same
settings, plus a second pair with auto.create.topics.enable=false for the one scenario that
needs it; runs each client's adapter (compat/card.py) against each; runs compat/kgo/run.py
unless --no-kgo (then the last kgo results in .cache/compat are reported, if any). Raw
results go to .cache/compat/card.json. With --clients or --scenarios the card is partial and
is written to .cache/compat/compat.md unless --out says otherwise. Exit status: 0 when no
cell fails on Kafka (a test to fix) and every Runnel-only failure is a known gap
(compat/gaps.py); 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compatlib import CARD_BROKER_CONFIG, COMPAT_DIR, REPO, RESULTS_DIR, card_broker  # noqa: E402
from card import CLIENTS, BY_NAME, run_adapter  # noqa: E402
from gaps import gap_for  # noqa: E402
from harness.paths import KAFKA_LIBS, RUNNEL_BIN  # noqa: E402
from scenarios import AREAS, BY_ID, SCENARIOS  # noqa: E402

KINDS = ("runnel", "kafka")
MARK = {"pass": "✓", "fail": "✗", "skip": "–", None: " "}
BROKER_LOG_LINES = 30
KGO_RESULTS = {kind: RESULTS_DIR / f"kgo-{kind}.json" for kind in KINDS}
DEFAULT_OUT = REPO / "docs" / "compat.md"


def log(msg: str) -> None:
    print(f"[card {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run_card(clients, scenario_ids, work: Path) -> dict:
    card_ids = [s for s in scenario_ids if BY_ID[s].broker == "card"]
    noauto_ids = [s for s in scenario_ids if BY_ID[s].broker == "noauto"]
    run_id = uuid.uuid4().hex[:6]
    brokers = {}
    try:
        for kind in KINDS:
            if card_ids:
                brokers[(kind, "card")] = card_broker(kind, work / f"{kind}-card").start()
            if noauto_ids:
                brokers[(kind, "noauto")] = card_broker(kind, work / f"{kind}-noauto", auto_create=False).start()
        log("brokers up: " + ", ".join(f"{k}/{v}={b.bootstrap}" for (k, v), b in brokers.items()))
        card = {"clients": {}, "broker_logs": {}}
        for client in clients:
            entry = {"how": client.how, "version": "unknown", "results": {k: {} for k in KINDS}, "runs": []}
            for kind in KINDS:
                for which, ids in (("card", card_ids), ("noauto", noauto_ids)):
                    if not ids:
                        continue
                    b = brokers[(kind, which)]
                    run = run_adapter(client, b.bootstrap, ids, run_id)
                    died = b.revive()
                    if died:
                        run.stderr_tail += f"\n{died}"
                    entry["results"][kind].update(run.results)
                    if run.version != "unknown":
                        entry["version"] = run.version
                    entry["runs"].append({"broker": kind, "set": which, "exit_code": run.exit_code,
                                          "elapsed_s": run.elapsed_s, "stderr_tail": run.stderr_tail})
                    counts = {s: sum(1 for r in run.results.values() if r["status"] == s) for s in ("pass", "fail", "skip")}
                    log(f"{client.name:16} {kind:6} {which:6} {counts} in {run.elapsed_s}s")
            card["clients"][client.name] = entry
        for (kind, which), b in brokers.items():
            card["broker_logs"][f"{kind}-{which}"] = warnings_of(b)
        return card
    finally:
        for b in brokers.values():
            b.close(remove_workdir=False)


def warnings_of(broker) -> list[str]:
    """The broker's WARN and ERROR lines (Runnel's output, Kafka's server.log)."""
    paths = [broker.output_path] + ([broker.server_log] if hasattr(broker, "server_log") else [])
    lines = []
    for p in paths:
        try:
            lines += [ln for ln in Path(p).read_text(errors="replace").splitlines()
                      if re.search(r"\b(WARN|ERROR)\b", ln)]
        except OSError:
            pass
    return lines[-BROKER_LOG_LINES:]


def run_kgo() -> None:
    log("franz-go pkg/kgo suite (compat/kgo/run.py)")
    subprocess.run([sys.executable, str(COMPAT_DIR / "kgo" / "run.py")], cwd=REPO)


def kgo_runner():
    spec = importlib.util.spec_from_file_location("kgo_run", COMPAT_DIR / "kgo" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def load_kgo() -> dict | None:
    if not all(p.exists() for p in KGO_RESULTS.values()):
        return None
    out = {kind: json.loads(p.read_text()) for kind, p in KGO_RESULTS.items()}
    out["when"] = dt.datetime.fromtimestamp(min(p.stat().st_mtime for p in KGO_RESULTS.values()),
                                            dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return out


# --------------------------------------------------------------------------- judging


def judge(card: dict, scenario_ids: list[str]) -> dict:
    """Runnel-only failures (known gap or under investigation), Kafka failures, skips."""
    runnel_only, kafka_fail, skips = [], [], []
    for name, entry in card["clients"].items():
        for sid in scenario_ids:
            r = entry["results"]["runnel"].get(sid, {})
            k = entry["results"]["kafka"].get(sid, {})
            if k.get("status") == "fail":
                kafka_fail.append((sid, name, k, r))
            elif r.get("status") == "fail" and k.get("status") == "pass":
                runnel_only.append((sid, name, r, k, gap_for(sid, name)))
            if r.get("status") == "skip" or k.get("status") == "skip":
                skips.append((sid, name, (r if r.get("status") == "skip" else k).get("detail", "")))
    return {"runnel_only": runnel_only, "kafka_fail": kafka_fail, "skips": skips}


# --------------------------------------------------------------------------- markdown


def cell(entry: dict, sid: str) -> str:
    r = entry["results"]["runnel"].get(sid, {}).get("status")
    k = entry["results"]["kafka"].get(sid, {}).get("status")
    if r == k == "skip":
        return "–"
    return f"{MARK[r]} {MARK[k]}"


def counts(entry: dict, kind: str, scenario_ids) -> str:
    res = entry["results"][kind]
    return " / ".join(str(sum(1 for s in scenario_ids if res.get(s, {}).get("status") == st)) for st in ("pass", "fail", "skip"))


def esc(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def kafka_version() -> str:
    jars = sorted(KAFKA_LIBS.glob("kafka-clients-*.jar"))
    return jars[0].stem.replace("kafka-clients-", "") if jars else "unknown"


def runnel_build() -> str:
    """Which Runnel the card measured: the checkout's commit and when the binary was built
    (the card runs the binary as it is; scripts/test builds it)."""
    res = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    built = (dt.datetime.fromtimestamp(RUNNEL_BIN.stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
             if RUNNEL_BIN.exists() else "missing")
    return f"Runnel checkout at commit `{res.stdout.strip() or 'unknown'}` (binary `{RUNNEL_BIN.name}` built {built})"


def render(card: dict, verdict: dict, scenario_ids: list[str], kgo: dict | None, partial: bool) -> str:
    clients = list(card["clients"])
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cfg = ", ".join(f"{k}={v}" for k, v in CARD_BROKER_CONFIG.items())
    both = sum(1 for e in card["clients"].values() for s in scenario_ids
               if e["results"]["runnel"].get(s, {}).get("status") == "pass" == e["results"]["kafka"].get(s, {}).get("status"))
    total = len(clients) * len(scenario_ids)
    known = [x for x in verdict["runnel_only"] if x[4] is not None]
    unknown = [x for x in verdict["runnel_only"] if x[4] is None]
    out = [
        "# Compatibility report card",
        "",
        "Generated by `.venv/bin/python compat/report.py` (see README.md) on "
        f"{now}; {runnel_build()}; reference Apache Kafka {kafka_version()} "
        f"(single node, KRaft). Both brokers run with {cfg}; the scenario marked *(noauto)* runs "
        "on a second pair with auto.create.topics.enable=false. Scenarios and their checks: "
        "`compat/scenarios.py`." + (" **Partial card** (a subset of clients or scenarios)." if partial else ""),
        "",
        f"**{both} of {total} cells pass on both brokers; {len(known)} fail on Runnel only as a known gap; "
        f"{len(unknown)} fail on Runnel only, under investigation; {len(verdict['kafka_fail'])} fail on Kafka "
        f"(broken tests); the rest are skips (the client has no API for the scenario).**",
        "",
        "## Clients",
        "",
        "| client | version | driven by | Runnel pass / fail / skip | Kafka pass / fail / skip |",
        "|---|---|---|---|---|",
    ]
    for name in clients:
        e = card["clients"][name]
        out.append(f"| {name} | {esc(e['version'])} | {esc(e['how'])} | {counts(e, 'runnel', scenario_ids)} | "
                   f"{counts(e, 'kafka', scenario_ids)} |")
    out += ["", "## Scenarios by client", "",
            "Each cell: Runnel's result, then Kafka's. ✓ pass, ✗ fail, – skip (the client has no API for it; "
            "reasons below).", "",
            "| scenario | " + " | ".join(clients) + " |",
            "|---|" + "---|" * len(clients)]
    for area in AREAS:
        for s in SCENARIOS:
            if s.area != area or s.id not in scenario_ids:
                continue
            label = s.id + (" *(noauto)*" if s.broker == "noauto" else "")
            out.append(f"| {label} | " + " | ".join(cell(card["clients"][c], s.id) for c in clients) + " |")
    out += ["", "## Known gaps", "", "### Failing on Runnel, passing on Kafka", ""]
    if not verdict["runnel_only"]:
        out.append("None.")
    by_gap: dict = {}
    for sid, name, r, k, gap in known:
        by_gap.setdefault((sid, gap), []).append(name)
    for (sid, gap), names in by_gap.items():
        out.append(f"- **{sid}** ({', '.join(names)}): {esc(gap.missing)}. Waits for: {esc(gap.waits_for)}.")
    if unknown:
        out.append("")
        out.append("Under investigation (Runnel bugs: what Runnel answered against what Kafka did):")
        out.append("")
        for sid, name, r, k, _gap in unknown:
            out.append(f"- **{sid}** / {name}: Runnel: {esc(r.get('detail', ''))} — Kafka: {esc(k.get('detail', ''))}")
        logs = card.get("broker_logs", {}).get("runnel-card", [])
        if logs:
            out += ["", "Runnel's warnings and errors during the run:", "", "```"] + logs + ["```"]
    out += ["", "### Failing on Kafka (tests to fix)", ""]
    if not verdict["kafka_fail"]:
        out.append("None.")
    for sid, name, k, r in verdict["kafka_fail"]:
        out.append(f"- **{sid}** / {name}: Kafka: {esc(k.get('detail', ''))} (Runnel: {r.get('status')})")
    out += ["", "### Skipped: the client cannot express the scenario", ""]
    by_client: dict = {}
    for sid, name, why in verdict["skips"]:
        by_client.setdefault(name, []).append(f"{sid} ({esc(why)})")
    for name in clients:
        if name in by_client:
            out.append(f"- **{name}**: " + "; ".join(by_client[name]))
    if not by_client:
        out.append("None.")
    out += ["", "## franz-go pkg/kgo integration suite", ""]
    out += render_kgo(kgo)
    out.append("")
    return "\n".join(out)


def render_kgo(kgo: dict | None) -> list[str]:
    if kgo is None:
        return ["Not run (`.venv/bin/python compat/kgo/run.py` runs it; `compat/report.py` does unless --no-kgo)."]
    compare = kgo_runner().compare  # the runner owns the expected-gap list
    k, r = kgo["kafka"], kgo["runnel"]
    lines = [f"`compat/kgo/run.py`: franz-go {k.get('franz_go_version')} `go test ./pkg/kgo` with KGO_TEST_RF=1 and "
             f"KGO_TEST_RECORDS={k.get('records')}, every test its own bounded process, against a fresh broker of "
             f"each kind (results of {kgo['when']}).", "",
             "| broker | pass | fail | skip | timeout | time |", "|---|---|---|---|---|---|"]
    for kind, res in (("Runnel", r), ("Kafka", k)):
        c = {}
        for t in res["tests"].values():
            c[t["outcome"]] = c.get(t["outcome"], 0) + 1
        lines.append(f"| {kind} | {c.get('pass', 0)} | {c.get('fail', 0) + c.get('unfinished', 0)} | {c.get('skip', 0)} "
                     f"| {c.get('timeout', 0)} | {res['elapsed_s']} s |")
    expected, unexplained = compare(k, r)
    lines += ["", "Passing on Kafka but not on Runnel, each with what it waits for:", ""]
    lines += [f"- {esc(x)}" for x in expected] or ["- none"]
    if unexplained:
        lines += ["", "**Runnel regressions (not in the expected list; under investigation):**", ""]
        lines += [f"- {esc(x)}" for x in unexplained]
    kafka_skips = sorted(n for n, t in k["tests"].items() if t["outcome"] == "skip")
    lines += ["", "Skipped on Kafka too (they need SCRAM or OAuth listeners or share groups, which the single-node "
              f"reference broker does not enable, or a broker too old for a feature): {', '.join(kafka_skips)}."]
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", default=None, help="comma-separated client names (default: all)")
    p.add_argument("--scenarios", default=None, help="comma-separated scenario ids (default: all)")
    p.add_argument("--no-kgo", action="store_true", help="do not run the kgo suite; report its last results")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    clients = [BY_NAME[c] for c in args.clients.split(",")] if args.clients else CLIENTS
    scenario_ids = args.scenarios.split(",") if args.scenarios else [s.id for s in SCENARIOS]
    unknown = [s for s in scenario_ids if s not in BY_ID]
    if unknown:
        p.error(f"unknown scenario ids: {unknown}")
    partial = bool(args.clients or args.scenarios)
    out = args.out or (RESULTS_DIR / "compat.md" if partial else DEFAULT_OUT)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="runnel-card-") as tmp:
        card = run_card(clients, scenario_ids, Path(tmp))
    card_s = time.monotonic() - start
    if not args.no_kgo:
        run_kgo()
    kgo = load_kgo()
    verdict = judge(card, scenario_ids)
    card["elapsed_s"] = round(card_s, 1)
    (RESULTS_DIR / "card.json").write_text(json.dumps(card, indent=1))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(card, verdict, scenario_ids, kgo, partial))
    unknown_gaps = [x for x in verdict["runnel_only"] if x[4] is None]
    log(f"card ({card_s:.0f}s for the clients) written to {out}; Runnel-only failures: {len(verdict['runnel_only'])} "
        f"({len(unknown_gaps)} under investigation); Kafka failures: {len(verdict['kafka_fail'])}")
    for sid, name, r, k, gap in verdict["runnel_only"]:
        log(f"  runnel-only {sid} / {name}: {r.get('detail', '')[:200]}" + ("" if gap is None else " [known gap]"))
    for sid, name, k, _r in verdict["kafka_fail"]:
        log(f"  kafka fail {sid} / {name}: {k.get('detail', '')[:200]}")
    return 1 if unknown_gaps or verdict["kafka_fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
