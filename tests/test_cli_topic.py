"""`runnel topic create|list|describe|alter|delete` against Runnel and Apache Kafka.

Every scenario runs on both brokers (the `broker` fixture); `describe` must print what
Kafka's own kafka-topics.sh --describe prints on the same broker, except the ELR fields
(Kafka 4's DescribeTopicPartitions, which this CLI does not ask for). Failures must be one
`runnel: <error>` line and a non-zero exit; every command's --help shows examples.
"""

from __future__ import annotations

import json
import re

import pytest

from test_cli_support import cli, eventually, failure_line, kafka_topics, ok

COMMANDS = [["topic"], ["topic", "create"], ["topic", "list"], ["topic", "describe"], ["topic", "alter"],
            ["topic", "delete"], ["group"], ["group", "list"], ["group", "describe"], ["group", "reset-offsets"],
            ["group", "delete"], ["group", "delete-offsets"]]
# Kafka 4's describe adds ELR columns from DescribeTopicPartitions (KIP-966).
ELR_FIELDS = re.compile(r"\tElr: [^\t\n]*|\tLastKnownElr: [^\t\n]*")
# A port nothing listens on: connections are refused at once.
CLOSED_BOOTSTRAP = "127.0.0.1:9"


def describe_text(bootstrap: str, topic: str) -> str:
    return ok(bootstrap, "topic", "describe", topic).stdout


def test_topic_lifecycle_and_kafka_topics_agreement(broker, topic):
    bs = broker.bootstrap
    created = ok(bs, "topic", "create", topic, "--partitions", "3", "--replication-factor", "1",
                 "--config", "cleanup.policy=compact")
    assert created.stdout == f"Created topic {topic}.\n"

    again = cli(bs, "topic", "create", topic, "--partitions", "3")
    line = failure_line(again)
    assert "TOPIC_ALREADY_EXISTS" in line and topic in line, again.describe()
    quiet = ok(bs, "topic", "create", topic, "--if-not-exists")
    assert quiet.stdout == ""

    eventually("the topic in the list", lambda: topic in ok(bs, "topic", "list").stdout.split())
    ours = eventually("three partitions with leaders",
                      lambda: (t := describe_text(bs, topic)).count("\tLeader: ") == 3 and "Leader: none" not in t and t)
    theirs = kafka_topics(bs, "--describe", "--topic", topic)
    assert theirs.returncode == 0, theirs.describe()
    assert ours == ELR_FIELDS.sub("", theirs.stdout), f"ours:\n{ours}\nkafka-topics:\n{theirs.stdout}"
    assert f"Topic: {topic}\tTopicId: " in ours and "PartitionCount: 3\tReplicationFactor: 1" in ours
    assert "cleanup.policy=compact" in ours

    grown = ok(bs, "topic", "alter", topic, "--partitions", "5")
    assert grown.stdout == f"Topic {topic} now has 5 partitions.\n"
    eventually("five partitions", lambda: "PartitionCount: 5\t" in describe_text(bs, topic))

    changed = ok(bs, "topic", "alter", topic, "--config", "retention.ms=3600000", "--delete-config", "cleanup.policy")
    assert changed.stdout == f"Completed updating config for topic {topic}.\n"
    configs = eventually("the changed configs", lambda: (t := describe_text(bs, topic)) and
                         "retention.ms=3600000" in t and "cleanup.policy" not in t and t)
    assert ELR_FIELDS.sub("", kafka_topics(bs, "--describe", "--topic", topic).stdout) == configs

    deleted = ok(bs, "topic", "delete", topic)
    assert deleted.stdout == f"Deleted topic {topic}.\n"
    gone = eventually("the topic to be gone", lambda: (r := cli(bs, "topic", "describe", topic)).returncode != 0 and r)
    assert failure_line(gone) == f"runnel: Topic '{topic}' does not exist"
    missing = cli(bs, "topic", "delete", topic)
    assert "UNKNOWN_TOPIC_OR_PARTITION" in failure_line(missing)
    assert ok(bs, "topic", "delete", topic, "--if-exists").stdout == ""


def test_list_matches_kafka_topics_list(broker, topic):
    bs = broker.bootstrap
    ok(bs, "topic", "create", topic, "-p", "1")
    eventually("the topic in the list", lambda: topic in ok(bs, "topic", "list").stdout.split())
    ours = ok(bs, "topic", "list").stdout.split()
    theirs = kafka_topics(bs, "--list").stdout.split()
    # Other tests create and delete topics on the shared broker meanwhile: only this
    # test's topic is certain to be in both listings.
    assert topic in ours and topic in theirs and ours == sorted(ours)
    assert "__consumer_offsets" not in ok(bs, "topic", "list", "--exclude-internal").stdout.split()


def test_json_output_carries_the_same_facts(broker, topic):
    bs = broker.bootstrap
    created = json.loads(ok(bs, "topic", "create", topic, "-p", "2", "-c", "retention.ms=86400000",
                            "--format", "json").stdout)
    assert created[0]["topic"] == topic and created[0]["status"] == "created"
    described = eventually("the topic described", lambda: (r := cli(bs, "topic", "describe", topic, "--format", "json"))
                           .returncode == 0 and json.loads(r.stdout))
    (d,) = described
    assert d["partition_count"] == 2 and d["replication_factor"] == 1
    assert d["configs"]["retention.ms"] == "86400000"
    assert [p["partition"] for p in d["partitions"]] == [0, 1]
    assert all(p["leader"] is not None and p["isr"] == p["replicas"] for p in d["partitions"])
    listed = json.loads(ok(bs, "topic", "list", "--format", "json").stdout)
    assert any(t["topic"] == topic and t["partitions"] == 2 and t["topic_id"] == d["topic_id"] for t in listed)


def test_bootstrap_from_flag_env_and_command_config(broker, topic, tmp_path):
    bs = broker.bootstrap
    ok(bs, "topic", "create", topic, "-p", "1")
    props = tmp_path / "client.properties"
    props.write_text(f"# a Kafka client config\nbootstrap.servers={bs}\nclient.id=cli-test\nrequest.timeout.ms=20000\n")
    eventually("the topic listed through --command-config",
               lambda: topic in ok(None, "topic", "list", "--command-config", str(props)).stdout.split())
    assert topic in ok(None, "topic", "list", env={"RUNNEL_BROKERS": bs}).stdout.split()
    # -b wins over the file's bootstrap.servers, as with Kafka's tools.
    bad = tmp_path / "elsewhere.properties"
    bad.write_text(f"bootstrap.servers={CLOSED_BOOTSTRAP}\n")
    assert topic in ok(bs, "topic", "list", "--command-config", str(bad)).stdout.split()


def test_failures_are_one_line_and_non_zero(tmp_path):
    refused = cli(CLOSED_BOOTSTRAP, "topic", "list")
    assert CLOSED_BOOTSTRAP in failure_line(refused)
    missing_file = cli(None, "topic", "list", "--command-config", str(tmp_path / "absent.properties"))
    assert "absent.properties" in failure_line(missing_file)
    bad_props = tmp_path / "bad.properties"
    bad_props.write_text("bootstrap.servers=127.0.0.1:9\nrequest.timeout.ms=soon\n")
    assert "request.timeout.ms" in failure_line(cli(None, "topic", "list", "--command-config", str(bad_props)))
    usage = cli(None, "topic", "create")
    assert usage.returncode == 2 and "TOPIC" in failure_line(usage)
    assert "--bogus" in failure_line(cli(None, "group", "list", "--bogus"))
    bad_config = cli(CLOSED_BOOTSTRAP, "topic", "alter", "t", "--config", "no-equals")
    assert "no-equals" in failure_line(bad_config)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c))
def test_every_command_has_examples_in_its_help(command):
    res = cli(None, *command, "--help")
    assert res.returncode == 0, res.describe()
    assert "Examples:" in res.stdout and "runnel " in res.stdout.split("Examples:", 1)[1], res.stdout
    if command != ["topic"] and command != ["group"]:
        assert "--bootstrap-server" in res.stdout and "--format" in res.stdout and "--command-config" in res.stdout
