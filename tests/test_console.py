"""The web console in a real browser, against a real Runnel, through a consumer group's story.

A group forms (member A), a second member joins (B), B crashes (SIGKILL) and its session
times out; the console must then show the group Stable with A alone, A owning every
partition in the assignment diagram, the three rebalances in the timeline, a lag chart
with a line per partition, and a dry-run reset plan that moves A's committed offsets back
to 0 without offering Execute. Then A stops, the page sees the group Empty, offers Execute,
and the executed reset really moves the committed offsets (checked over Kafka protocol).

What the page shows is checked by tests/console/check.mjs in the system Chromium (driven
with playwright-core; nothing is downloaded). Runnel only: Kafka has no admin listener.
Screenshots land in the test's tmp dir; with RUNNEL_CONSOLE_DOCS=1 the light and dark ones
are also written to docs/console/ for the README.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from harness import RunnelBroker
from test_groups_support import (  # noqa: F401 - `members` is a fixture, used by name
    CLIENTS, committed_offsets, create_topic, end_offsets, members, produce_keyed, unique_name,
)

REPO = Path(__file__).resolve().parent.parent
CONSOLE_TESTS = REPO / "tests" / "console"
DOCS_SCREENSHOTS = REPO / "docs" / "console"
CHROMIUM = Path(os.environ.get("RUNNEL_CHROMIUM", "/usr/bin/chromium"))

PARTITIONS = 3
RECORDS = 60
# The lowest session timeout Kafka's default group.min.session.timeout.ms allows: a
# SIGKILLed member is noticed after this long.
SESSION_TIMEOUT_MS = 6000
ASSIGNMENT_WAIT_S = 30.0
# check.mjs keeps to its budget and reports; the timeout only catches a hung browser.
BROWSER_BUDGET_MS = 45000
BROWSER_RUN_TIMEOUT_S = 75.0
HTTP_TIMEOUT_S = 10.0
# Slow, small batches: A needs about 9 s for the first records, so the broker's 5 s lag
# samples catch a backlog shrinking and the lag chart has something to draw.
MEMBER_OPTIONS = {"commit": "batch", "session_timeout_ms": SESSION_TIMEOUT_MS, "heartbeat_interval_ms": 1000,
                  "max_poll_records": 5, "process_delay_ms": 150}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (scripts/setup installs it)")


@pytest.fixture
def console_broker(tmp_path):
    broker = RunnelBroker({"group.initial.rebalance.delay.ms": 0}, workdir=tmp_path / "runnel")
    try:
        broker.start()
        yield broker
    finally:
        broker.close()


def api(broker, path: str):
    with urllib.request.urlopen(f"{broker.admin_url}{path}", timeout=HTTP_TIMEOUT_S) as res:
        return json.loads(res.read())


def run_check(tmp_path: Path, config: dict) -> dict:
    """Runs check.mjs with config; fails the test with its report unless every check passed."""
    assert (CONSOLE_TESTS / "node_modules" / "playwright-core").is_dir(), \
        "tests/console/node_modules is missing: run scripts/setup (npm ci in tests/console)"
    node = shutil.which("node")
    assert node, "node is missing: run scripts/setup"
    config = dict(config, out_dir=str(tmp_path / "screenshots"))
    if os.environ.get("RUNNEL_CONSOLE_DOCS") == "1":
        config["docs_dir"] = str(DOCS_SCREENSHOTS)
    path = tmp_path / f"check-{config['phase']}.json"
    path.write_text(json.dumps(config))
    env = dict(os.environ, RUNNEL_CHROMIUM=str(CHROMIUM), RUNNEL_CONSOLE_BUDGET_MS=str(BROWSER_BUDGET_MS))
    out, err = tmp_path / f"check-{config['phase']}.out", tmp_path / f"check-{config['phase']}.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen([node, "check.mjs", str(path)], cwd=CONSOLE_TESTS, stdout=stdout, stderr=stderr, env=env)
        try:
            proc.wait(BROWSER_RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"check.mjs ({config['phase']}) ran over {BROWSER_RUN_TIMEOUT_S:.0f}s\n"
                                 f"{err.read_text()}\nseen: {out.read_text()}") from None
    assert proc.returncode == 0, (f"the console shows the wrong thing ({config['phase']}; screenshots in "
                                  f"{config['out_dir']}):\n{err.read_text()}\nseen: {out.read_text()}")
    return json.loads(out.read_text().strip().splitlines()[-1])


def test_console_shows_a_groups_rebalances_lag_and_reset_plan_as_members_join_and_crash(console_broker, members, tmp_path):
    broker = console_broker
    bootstrap = broker.bootstrap
    topic, group = unique_name("console-orders"), unique_name("console-billing")
    create_topic(bootstrap, topic, PARTITIONS)
    produced = produce_keyed(bootstrap, topic, RECORDS, PARTITIONS, run_id="console")
    ends = end_offsets(produced, PARTITIONS)
    assert all(ends.values()), f"every partition needs records for the plan to move: {ends}"
    first_p0 = min((r for r in produced if r["partition"] == 0), key=lambda r: r["offset"])
    everything = list(range(PARTITIONS))

    client = CLIENTS[0]
    a = members(client, bootstrap, topic, group, label="console-a", **MEMBER_OPTIONS)
    a.wait_for(lambda: a.assignment() == everything, ASSIGNMENT_WAIT_S, "A owns every partition")
    a.wait_for(lambda: a.committed() == ends, ASSIGNMENT_WAIT_S,
               f"A commits every record ({ends})")

    b = members(client, bootstrap, topic, group, label="console-b", **MEMBER_OPTIONS)
    b.wait_for(lambda: b.assignment(), ASSIGNMENT_WAIT_S, "B gets partitions")
    a.wait_for(lambda: sorted((a.assignment() or []) + (b.assignment() or [])) == everything, ASSIGNMENT_WAIT_S,
               "A and B share the partitions")
    b.kill()
    a.wait_for(lambda: a.assignment() == everything, ASSIGNMENT_WAIT_S, "A owns every partition again after B's crash")

    a_id, b_id = "console-a-0-0", "console-b-1-0"
    assert a.events("start")[0]["client_id"] == a_id and b.events("start")[0]["client_id"] == b_id
    # The page is checked against the history endpoint only once "history" serves it; until
    # then the page must say there is no history rather than break.
    try:
        api(broker, f"/api/groups/{group}/history")
        timeline = [
            {"reason": "new_member", "joined": [a_id]},
            {"reason": "new_member", "joined": [b_id]},
            {"reason": "session_timeout", "left": [b_id]},
        ]
    except urllib.error.HTTPError as e:
        assert e.code == 404, e
        timeline = None

    expect = {
        "topic_partitions": PARTITIONS,
        "log_end_offsets": {str(p): e for p, e in ends.items()},
        "first_record": {"partition": 0, "key": first_p0["key"], "value": first_p0["value"]},
        "group_state": "Stable",
        "members": [a_id],
        "owners": {f"{topic}-{p}": a_id for p in everything},
        "lag_series": PARTITIONS,
        "timeline": timeline,
        "plan": [{"partition": p, "current": ends[p], "new": 0} for p in everything],
    }
    base = {"admin_url": broker.admin_url, "topic": topic, "group": group, "expect": expect}
    run_check(tmp_path, dict(base, phase="live"))
    # The dry run changed nothing.
    assert committed_offsets(bootstrap, group, topic, PARTITIONS) == ends

    a.stop()
    run_check(tmp_path, dict(base, phase="empty"))
    after = committed_offsets(bootstrap, group, topic, PARTITIONS)
    assert after == {p: 0 for p in everything}, f"Execute did not reset the offsets: {after}"
