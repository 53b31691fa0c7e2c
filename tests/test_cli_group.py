"""`runnel group` against Runnel and Apache Kafka, checked against Kafka's own
kafka-consumer-groups.sh (ConsumerGroupCommand) on the same broker and the same groups.

Set-up per test: a two-partition topic with records whose timestamps lie two hours back,
an Empty group (its member committed and left) and a Stable group (a kafka-python member
that committed and keeps polling). Then:
- describe: the same rows as Kafka's tool (offsets, log end, lag, consumer id, host, client
  id), plus LAG-TIME: `2h..` where there is lag, `-` where there is none; --members and
  --state views identical to Kafka's once whitespace is collapsed;
- reset-offsets: the same dry-run plans as Kafka's tool for every scenario (Kafka's table
  is fixed-width, so the lines must match exactly), a plan exported by Kafka's tool read
  back with --from-file, --execute changing what Kafka's tool then reports, and Kafka's
  refusal (same sentence) for an active group;
- delete-offsets and delete: Kafka's wording on success, its refusals on an active group.
Kafka's tool prints an error and exits 0 where this CLI exits non-zero with one line.
"""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import datetime, timezone

import pytest

from harness.java_tools import consumer_groups, run_all
from test_cli_support import (
    ActiveMember, cli, commit_and_leave, create_topic, eventually, failure_line, ok, produce, rows, table,
)

PARTITIONS = 2
HOUR_MS = 3600 * 1000
# Two batches per partition: 5 records two hours old, then 3 records one hour old.
OLD_COUNT, NEW_COUNT = 5, 3
EMPTY_OFFSETS = {0: 3, 1: 5}      # lag 5 on p0 (2h old), 3 on p1 (1h old)
ACTIVE_OFFSETS = {0: 8, 1: 6}     # caught up on p0; lag 2 on p1


@pytest.fixture
def groups(broker, topic):
    """The topic, an Empty group and a Stable group; yields their names."""
    bs = broker.bootstrap
    create_topic(bs, topic, PARTITIONS)
    now = int(time.time() * 1000)
    produce(bs, topic, {p: OLD_COUNT for p in range(PARTITIONS)}, now - 2 * HOUR_MS)
    produce(bs, topic, {p: NEW_COUNT for p in range(PARTITIONS)}, now - HOUR_MS)
    empty, active = f"{topic}-empty", f"{topic}-active"
    commit_and_leave(bs, empty, topic, EMPTY_OFFSETS, client_id="cli-empty")
    member = ActiveMember(bs, active, topic, ACTIVE_OFFSETS, client_id="cli-active")
    try:
        yield {"topic": topic, "empty": empty, "active": active, "start_ms": now}
    finally:
        member.close()


def kafka(bs: str, *args: str):
    """Kafka's tool where it should succeed (it prints failures and still exits 0)."""
    res = consumer_groups(bs, *args)
    assert "Exception" not in res.stdout, res.describe()
    return res


def test_describe_agrees_with_kafka_consumer_groups(broker, groups):
    bs, topic, empty, active = broker.bootstrap, groups["topic"], groups["empty"], groups["active"]
    ours = ok(bs, "group", "describe", "--group", empty, "--group", active)
    theirs = kafka(bs, "--describe", "--group", empty, "--group", active)
    header, our_rows = table(ours.stdout, drop=("LAG-TIME",))
    their_header, their_rows = table(theirs.stdout)
    assert header == their_header == ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
                                      "CONSUMER-ID", "HOST", "CLIENT-ID"]
    assert our_rows == their_rows, f"ours:\n{ours.stdout}\nkafka:\n{theirs.stdout}"
    assert f"Consumer group '{empty}' has no active members." in ours.stderr
    assert f"Consumer group '{empty}' has no active members." in theirs.stderr

    # LAG-TIME: the age of the record at the committed offset.
    full = rows(ours.stdout)
    at = full[0].index("LAG-TIME")
    lag_time = {(r[0], int(r[2])): r[at] for r in full if r[0] != "GROUP"}
    assert lag_time[(empty, 0)].startswith("2h"), ours.stdout     # offset 3: an old record
    assert lag_time[(empty, 1)].startswith("1h"), ours.stdout     # offset 5: the first new one
    assert lag_time[(active, 0)] == "-", ours.stdout              # caught up
    assert lag_time[(active, 1)].startswith("1h"), ours.stdout
    described = json.loads(ok(bs, "group", "describe", "--group", empty, "--format", "json").stdout)
    lags = {o["partition"]: (o["lag"], o["lag_time_ms"]) for o in described[0]["offsets"]}
    assert lags[0][0] == OLD_COUNT + NEW_COUNT - EMPTY_OFFSETS[0]
    assert 2 * HOUR_MS <= lags[0][1] < 3 * HOUR_MS

    for view in (["--members"], ["--members", "--verbose"], ["--state"]):
        ours = ok(bs, "group", "describe", "--group", active, *view)
        theirs = kafka(bs, "--describe", "--group", active, *view)
        assert rows(ours.stdout) == rows(theirs.stdout), f"{view}\nours:\n{ours.stdout}\nkafka:\n{theirs.stdout}"
    members = rows(ok(bs, "group", "describe", "--group", empty, "--members").stdout)
    assert members == rows(kafka(bs, "--describe", "--group", empty, "--members").stdout)

    unknown = cli(bs, "group", "describe", "--group", f"{topic}-nobody")
    assert failure_line(unknown) == f"runnel: Consumer group '{topic}-nobody' does not exist."


def test_list_agrees_with_kafka(broker, groups):
    bs, empty, active = broker.bootstrap, groups["empty"], groups["active"]
    ours = ok(bs, "group", "list").stdout.split()
    theirs = kafka(bs, "--list").stdout.split()
    assert {empty, active} <= set(ours) and {empty, active} <= set(theirs)
    our_states = {r[0]: r[1] for r in rows(ok(bs, "group", "list", "--state").stdout)[1:]}
    their_states = {r[0]: r[1] for r in rows(kafka(bs, "--list", "--state").stdout)[1:]}
    assert our_states[empty] == their_states[empty] == "Empty"
    assert our_states[active] == their_states[active] == "Stable"
    only_stable = ok(bs, "group", "list", "--state", "Stable").stdout
    assert active in only_stable and empty not in only_stable


def plan(res) -> list[str]:
    """A reset plan's lines: Kafka 4.1's table is fixed-width, so lines compare exactly;
    the row order is a HashMap's in Kafka's tool."""
    lines = [line for line in res.stdout.splitlines() if line.strip()]
    return lines[:1] + sorted(lines[1:])


def csv_rows(text: str) -> list[list[str]]:
    return sorted(row for row in csv.reader(io.StringIO(text)) if row)


def test_reset_offsets_plans_match_kafka(broker, groups, tmp_path):
    bs, topic, empty = broker.bootstrap, groups["topic"], groups["empty"]
    hour_and_half_ago = datetime.fromtimestamp((groups["start_ms"] - 90 * 60 * 1000) / 1000, tz=timezone.utc)
    datetime_arg = hour_and_half_ago.strftime("%Y-%m-%dT%H:%M:%S.000")
    scenarios = [
        ["--all-topics", "--to-earliest"],
        ["--topic", topic, "--to-latest"],
        ["--topic", f"{topic}:0", "--to-offset", "100"],
        ["--topic", f"{topic}:0,1", "--to-offset", "4"],
        ["--topic", topic, "--shift-by", "-4"],
        ["--topic", topic, "--shift-by", "2"],
        ["--topic", topic, "--to-datetime", datetime_arg],
        ["--topic", topic, "--to-datetime", hour_and_half_ago.strftime("%Y-%m-%dT%H:%M:%S.000+00:00")],
        ["--topic", topic, "--by-duration", "PT90M"],
        ["--all-topics", "--to-current"],
    ]
    kafka_results = run_all([lambda s=s: kafka(bs, "--reset-offsets", "--group", empty, *s) for s in scenarios])
    for scenario, theirs in zip(scenarios, kafka_results):
        ours = ok(bs, "group", "reset-offsets", "--group", empty, *scenario)
        assert theirs.returncode == 0, theirs.describe()
        assert plan(ours) == plan(theirs), f"{scenario}\nours:\n{ours.stdout}\nkafka:\n{theirs.stdout}"
        assert "Dry run" in ours.stderr
    clamped = ok(bs, "group", "reset-offsets", "--group", empty, "--topic", f"{topic}:0", "--to-offset", "100")
    assert "New offset (100) is higher than latest offset" in clamped.stderr
    # Nothing changed: every plan above was a dry run.
    described = rows(ok(bs, "group", "describe", "--group", empty).stdout)
    assert {int(r[2]): int(r[3]) for r in described[1:]} == EMPTY_OFFSETS

    # A plan exported by Kafka's tool, read back by ours.
    exported = kafka(bs, "--reset-offsets", "--group", empty, "--topic", topic, "--shift-by", "-1", "--export")
    plan_file = tmp_path / "plan.csv"
    plan_file.write_text(exported.stdout)
    # Kafka's CSV writer quotes long names; compare the records, not the quoting.
    ours_exported = ok(bs, "group", "reset-offsets", "--group", empty, "--topic", topic, "--shift-by", "-1", "--export")
    assert csv_rows(ours_exported.stdout) == csv_rows(exported.stdout) == [[topic, "0", "2"], [topic, "1", "4"]]
    from_file = ok(bs, "group", "reset-offsets", "--group", empty, "--from-file", str(plan_file))
    assert plan(from_file) == plan(kafka(bs, "--reset-offsets", "--group", empty, "--from-file", str(plan_file)))

    absent = cli(bs, "group", "reset-offsets", "--group", empty, "--topic", f"{topic}:7", "--to-latest")
    assert failure_line(absent) == f'runnel: The partitions "{topic}-7" do not exist'
    no_scope = cli(bs, "group", "reset-offsets", "--group", empty, "--to-latest")
    assert failure_line(no_scope) == "runnel: One of the reset scopes should be defined: --all-topics, --topic."


def test_reset_offsets_execute_and_refusal(broker, groups):
    bs, topic, empty, active = broker.bootstrap, groups["topic"], groups["empty"], groups["active"]
    executed = ok(bs, "group", "reset-offsets", "--group", empty, "--topic", f"{topic}:0", "--to-earliest", "--execute")
    assert plan(executed)[1].split() == [empty, topic, "0", "0"]
    assert "Dry run" not in executed.stderr
    their_rows = table(kafka(bs, "--describe", "--group", empty).stdout)[1]
    assert {int(r[2]): int(r[3]) for r in their_rows} == {0: 0, 1: EMPTY_OFFSETS[1]}

    shifted = ok(bs, "group", "reset-offsets", "--group", empty, "--all-topics", "--shift-by", "1", "--execute")
    assert [r.split()[-1] for r in plan(shifted)[1:]] == ["1", str(EMPTY_OFFSETS[1] + 1)]
    their_rows = table(kafka(bs, "--describe", "--group", empty).stdout)[1]
    assert {int(r[2]): int(r[3]) for r in their_rows} == {0: 1, 1: EMPTY_OFFSETS[1] + 1}

    sentence = (f"Assignments can only be reset if the group '{active}' is inactive, but the current state is "
                f"Stable.")
    refused = cli(bs, "group", "reset-offsets", "--group", active, "--topic", topic, "--to-earliest", "--execute")
    assert failure_line(refused) == f"runnel: {sentence}"
    theirs = kafka(bs, "--reset-offsets", "--group", active, "--topic", topic, "--to-earliest", "--execute")
    assert sentence in theirs.stdout, theirs.describe()
    described = table(ok(bs, "group", "describe", "--group", active).stdout, drop=("LAG-TIME",))[1]
    assert {int(r[2]): int(r[3]) for r in described} == ACTIVE_OFFSETS


def test_delete_offsets_and_delete_groups(broker, groups):
    bs, topic, empty, active = broker.bootstrap, groups["topic"], groups["empty"], groups["active"]
    subscribed = cli(bs, "group", "delete-offsets", "--group", active, "--topic", topic)
    failure_line(subscribed)
    statuses = {r[1]: " ".join(r[2:]) for r in rows(subscribed.stdout)[1:]}
    assert set(statuses) == {"0", "1"} and all("GROUP_SUBSCRIBED_TO_TOPIC" in s for s in statuses.values())
    theirs = consumer_groups(bs, "--delete-offsets", "--group", active, "--topic", topic)
    assert theirs.stdout.count("GroupSubscribedToTopicException") == PARTITIONS, theirs.describe()

    deleted = ok(bs, "group", "delete-offsets", "--group", empty, "--topic", f"{topic}:1")
    assert deleted.stdout.splitlines()[0] == f"Request succeeded for deleting offsets from group {empty}."
    assert rows(deleted.stdout)[-2:] == [["TOPIC", "PARTITION", "STATUS"], [topic, "1", "Successful"]]
    their_rows = table(kafka(bs, "--describe", "--group", empty).stdout)[1]
    assert [(int(r[2]), int(r[3])) for r in their_rows] == [(0, EMPTY_OFFSETS[0])]

    refused = cli(bs, "group", "delete", "--group", active)
    assert "NON_EMPTY_GROUP" in failure_line(refused)
    gone = ok(bs, "group", "delete", "--group", empty)
    assert gone.stdout == f"Deletion of requested consumer groups ('{empty}') was successful.\n"
    assert empty not in eventually("the group gone from the list",
                                   lambda: (names := ok(bs, "group", "list").stdout.split()) and empty not in names
                                   and names)
    missing = cli(bs, "group", "delete", "--group", empty)
    assert "GROUP_ID_NOT_FOUND" in failure_line(missing)
