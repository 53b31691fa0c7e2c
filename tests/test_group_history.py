"""Rebalance history (issue 8) against a real Runnel with real clients.

A group forms (new_member), a second member joins (partitions move to it), that member
closes (member_left), a third joins and is SIGKILLed (session_timeout, only once the session
timeout has passed), the first closes (the group is left Empty); then the broker restarts
and the same history is still there. Checked through the admin listener's
GET /api/groups/{group}/history and through `runnel group history` (timeline and
--format json). Kafka keeps no such history, so this runs on Runnel only; Kafka's own
console-consumer formatters must still read Runnel's __consumer_offsets (they skip the
history records' unknown key version).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from harness import make_broker
from harness.cli import cli, ok
from harness.fixtures import track
from harness.java_tools import run_all, run_tool
from test_groups_support import CLIENTS, create_topic, members, unique_name  # noqa: F401 - fixture by name

PARTITIONS = 2
SESSION_TIMEOUT_MS = 6_000  # the broker's group.min.session.timeout.ms
JOIN_WAIT_S = 30.0
HTTP_TIMEOUT_S = 10.0
HISTORY_WAIT_S = 20.0
POLL_S = 0.2
KAFKA_PYTHON = next(c for c in CLIENTS if c.name == "kafka-python3")
CONFLUENT = next(c for c in CLIENTS if c.name == "confluent-kafka")
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
FORMATTERS = ["org.apache.kafka.tools.consumer.GroupMetadataMessageFormatter",
              "org.apache.kafka.tools.consumer.OffsetsMessageFormatter"]


def history(admin_url: str, group: str) -> dict:
    with urllib.request.urlopen(f"{admin_url}/api/groups/{group}/history", timeout=HTTP_TIMEOUT_S) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("application/json")
        return json.loads(r.read())


def wait_history(admin_url: str, group: str, what: str, predicate) -> list[dict]:
    """Polls the history until predicate(generations) holds (the coordinator writes the
    generation when the leader syncs, which the clients report a moment before or after)."""
    deadline = time.monotonic() + HISTORY_WAIT_S
    gens = []
    while time.monotonic() < deadline:
        gens = history(admin_url, group)["generations"]
        if predicate(gens):
            return gens
        time.sleep(POLL_S)
    raise AssertionError(f"history never showed {what}:\n{json.dumps(gens, indent=1)}")


def wait_member(member, admin_url: str, group: str, predicate, what: str):
    """member.wait_for, with the group's history in the failure: whether the coordinator
    formed the generation the member never reported."""
    try:
        return member.wait_for(predicate, JOIN_WAIT_S, what)
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- group history ---\n{json.dumps(history(admin_url, group), indent=1)}") from None


def client_ids(people: list[dict]) -> list[str]:
    return sorted(p["client_id"] for p in people)


def member_of(entry: dict, client_id: str) -> str:
    return next(m["member_id"] for m in entry["members"] if m["client_id"] == client_id)


def test_rebalance_history_reasons_moves_and_restart(tmp_path, request, members):
    broker = make_broker("runnel", {"group.initial.rebalance.delay.ms": 0}, workdir=tmp_path / "runnel")
    track(request, broker)
    with broker:
        bs, admin = broker.bootstrap, broker.admin_url
        topic, group = unique_name("history"), unique_name("history-group")
        create_topic(bs, topic, PARTITIONS)
        opts = dict(session_timeout_ms=SESSION_TIMEOUT_MS, heartbeat_interval_ms=500)

        # 1. The group forms: new_member, both partitions to hist-a.
        a = members(KAFKA_PYTHON, bs, topic, group, label="hist-a", **opts)
        wait_member(a, admin, group, lambda: a.assignment() == [0, 1], "hist-a gets both partitions")
        gens = wait_history(admin, group, "the first generation", lambda g: len(g) >= 1)
        first = gens[0]
        assert (first["generation"], first["reason"]) == (1, "new_member"), first
        assert client_ids(first["joined"]) == ["hist-a-0-0"], first
        a_id = member_of(first, "hist-a-0-0")
        assert sorted((m["partition"], m["from"], m["to"]) for m in first["moves"]) == [
            (0, None, a_id), (1, None, a_id)]
        assert first["completed_at_ms"] >= first["started_at_ms"]
        assert first["duration_ms"] == first["completed_at_ms"] - first["started_at_ms"]

        # 2. A second member joins: new_member, one partition moves from hist-a to hist-b.
        b = members(CONFLUENT, bs, topic, group, label="hist-b", **opts)
        wait_member(b, admin, group, lambda: b.assignment(), "hist-b gets a partition")
        wait_member(a, admin, group, lambda: a.assignment() and len(a.assignment()) == 1, "hist-a keeps one partition")
        gens = wait_history(admin, group, "hist-b joining",
                            lambda g: any("hist-b-1-0" in client_ids(e["joined"]) for e in g))
        joined_b = next(e for e in gens if "hist-b-1-0" in client_ids(e["joined"]))
        assert joined_b["reason"] == "new_member", joined_b
        b_id = member_of(joined_b, "hist-b-1-0")
        moved = [(m["topic"], m["partition"], m["from"], m["to"]) for m in joined_b["moves"]]
        assert len(moved) == 1 and moved[0][0] == topic and moved[0][2:] == (a_id, b_id), joined_b

        # 3. hist-b closes (LeaveGroup): member_left.
        b.stop()
        wait_member(a, admin, group, lambda: a.assignment() == [0, 1], "hist-a takes both partitions back")
        gens = wait_history(admin, group, "hist-b leaving",
                            lambda g: any(l["member_id"] == b_id for e in g for l in e["left"]))
        left_b = next(e for e in gens if any(l["member_id"] == b_id for l in e["left"]))
        assert left_b["reason"] == "member_left", left_b
        assert [(l["client_id"], l["reason"]) for l in left_b["left"]] == [("hist-b-1-0", "member_left")]
        assert [(m["from"], m["to"]) for m in left_b["moves"]] == [(b_id, a_id)]

        # 4. hist-c joins, then is SIGKILLed: session_timeout once the session has expired.
        c = members(KAFKA_PYTHON, bs, topic, group, label="hist-c", **opts)
        wait_member(c, admin, group, lambda: c.assignment(), "hist-c gets a partition")
        gens = wait_history(admin, group, "hist-c joining",
                            lambda g: any("hist-c-2-0" in client_ids(e["joined"]) for e in g))
        c_id = member_of(next(e for e in gens if "hist-c-2-0" in client_ids(e["joined"])), "hist-c-2-0")
        killed_ms = int(time.time() * 1000)
        c.kill()
        gens = wait_history(admin, group, "hist-c timing out",
                            lambda g: any(l["member_id"] == c_id for e in g for l in e["left"]))
        timed_out = next(e for e in gens if any(l["member_id"] == c_id for l in e["left"]))
        assert timed_out["reason"] == "session_timeout", json.dumps(gens, indent=1)
        assert [(l["client_id"], l["reason"]) for l in timed_out["left"]] == [("hist-c-2-0", "session_timeout")]
        # The session (6 s) ran out after the kill, not at it; heartbeats were every 0.5 s.
        assert timed_out["started_at_ms"] - killed_ms >= SESSION_TIMEOUT_MS - 1_000, (killed_ms, timed_out)
        wait_member(a, admin, group, lambda: a.assignment() == [0, 1], "hist-a takes both partitions back again")

        # 5. hist-a closes: an Empty generation, everything revoked.
        a.stop()
        gens = wait_history(admin, group, "the group emptying", lambda g: not g[-1]["members"])
        last = gens[-1]
        assert last["reason"] == "member_left" and client_ids(last["left"]) == ["hist-a-0-0"], last
        assert sorted((m["partition"], m["from"], m["to"]) for m in last["moves"]) == [(0, a_id, None), (1, a_id, None)]
        generations = [e["generation"] for e in gens]
        assert generations == sorted(generations) and len(set(generations)) == len(generations)
        before_restart = history(admin, group)

        # 6. The broker restarts: the history is read back from __consumer_offsets.
        broker.restart()
        after_restart = history(admin, group)
        assert after_restart == before_restart

        # 7. The CLI: the timeline and the JSON document.
        env = {"RUNNEL_ADMIN_URL": admin}
        text = ok(None, "group", "history", group, env=env).stdout
        print(text)
        reasons = [line.split("reason ")[1] for line in text.splitlines() if line.startswith("GENERATION ")]
        assert reasons == [e["reason"] for e in after_restart["generations"]], text
        assert f"  move:   {topic}-{moved[0][1]}: hist-a-0-0 -> hist-b-1-0\n" in text, text
        assert "  left:   hist-c-2-0 (" in text and "session_timeout" in text, text
        assert "  joined: hist-b-1-0 (" in text, text
        as_json = ok(None, "group", "history", group, "--admin-url", admin, "--format", "json").stdout
        assert json.loads(as_json) == after_restart
        missing = cli(None, "group", "history", "no-such-group", env=env)
        assert missing.returncode != 0 and "runnel: Group 'no-such-group' not found" in missing.stderr, missing.describe()
        try:
            urllib.request.urlopen(f"{admin}/api/groups/no-such-group/history", timeout=HTTP_TIMEOUT_S)
            raise AssertionError("an unknown group's history must be 404")
        except urllib.error.HTTPError as e:
            assert e.code == 404 and "error" in json.loads(e.read())

        # 8. Kafka's console-consumer formatters read the log and skip the history records.
        results = run_all([
            (lambda f=f: run_tool(CONSOLE_CONSUMER, ["--bootstrap-server", bs, "--topic", "__consumer_offsets",
                                                     "--from-beginning", "--timeout-ms", "5000", "--formatter", f]))
            for f in FORMATTERS])
        group_out, offsets_out = (r.stdout for r in results)
        # The formatters write one JSON object per record with no separator.
        group_records = group_out.count('{"key":{"type":2,"data":{"group":"%s"}}' % group)
        print(f"formatters: {group_records} GroupMetadata records; "
              + "; ".join(r.stderr.strip().splitlines()[-1] for r in results))
        for r in results:
            assert "Could not read record" not in r.stderr and "Exception" not in r.stderr.replace(
                "org.apache.kafka.common.errors.TimeoutException", ""), r.stderr
            assert "Processed a total of" in r.stderr, r.stderr
        # Every generation's GroupMetadata (each written right after its history record) and
        # the group's first, empty one: the formatter read past every history record.
        assert group_records >= len(after_restart["generations"]) + 1, group_out
        assert '"type":32000' not in group_out + offsets_out
