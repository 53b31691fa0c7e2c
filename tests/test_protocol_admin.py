"""Admin APIs through real clients (kafka-python 3 KafkaAdminClient, confluent-kafka
AdminClient) and raw Metadata, against both brokers: CreateTopics errors and
validate_only, DescribeConfigs for topics and the broker, DeleteTopics, CreatePartitions,
DescribeCluster, and Metadata's allow_auto_topic_creation.

What Kafka 4.1.1 answers, and so what these tests assert on both brokers (codes AND
messages, which tools such as kafka-topics.sh print verbatim):
- CreateTopics: 36 for an existing topic; 37 for 0 or -2 partitions; 38 for replication
  factor 3 (or 0) on one broker; 17 for "bad name", "..", "." and a 250-character name (249
  is fine); 40 for an unknown config or a value of the wrong type, outside the enum or below
  the minimum (segment.bytes must be at least 1 MiB in Kafka 4). validate_only answers as a
  real create would and creates nothing.
- DescribeConfigs (topic): the 33 topic configs of Kafka 4.1 with Kafka's defaults; the ones
  set at creation are DYNAMIC_TOPIC_CONFIG, the others DEFAULT_CONFIG, except
  min.insync.replicas, which a KRaft cluster formatted by Kafka 4 holds as a cluster-wide
  dynamic default (DYNAMIC_DEFAULT_BROKER_CONFIG) - either source is accepted for it.
- DescribeConfigs (broker "1"): the broker's configs with Kafka's defaults.
- DeleteTopics: the topic leaves Metadata; deleting it again gives 3 with the message
  "This server does not host this topic-partition.".
- CreatePartitions 2 -> 4 gives 4 serving partitions; then 3 or 4 gives 37 with Kafka's
  messages.
- DescribeCluster: one broker (this one), controller = that broker, the cluster id that
  Metadata reports.
- Metadata v4-v8 with allow_auto_topic_creation=false for an unknown topic: 3, nothing
  created (the shared brokers run with auto creation on).
"""

from __future__ import annotations

import socket
import time
import uuid

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, ResourceType
from kafka.admin import ConfigResource as KpConfigResource
from kafka.admin import ConfigResourceType, KafkaAdminClient

from harness import wire
from harness import wire_protocol as wp

CLIENT_TIMEOUT_S = 20.0
MAX_TOPIC_NAME_CHARS = 249

# Every topic config Kafka 4.1 describes, with its default on a broker with default settings.
KAFKA_41_TOPIC_DEFAULTS = {
    "cleanup.policy": "delete",
    "compression.gzip.level": "-1",
    "compression.lz4.level": "9",
    "compression.type": "producer",
    "compression.zstd.level": "3",
    "delete.retention.ms": "86400000",
    "file.delete.delay.ms": "60000",
    "flush.messages": "9223372036854775807",
    "flush.ms": "9223372036854775807",
    "follower.replication.throttled.replicas": "",
    "index.interval.bytes": "4096",
    "leader.replication.throttled.replicas": "",
    "local.retention.bytes": "-2",
    "local.retention.ms": "-2",
    "max.compaction.lag.ms": "9223372036854775807",
    "max.message.bytes": "1048588",
    "message.timestamp.after.max.ms": "3600000",
    "message.timestamp.before.max.ms": "9223372036854775807",
    "message.timestamp.type": "CreateTime",
    "min.cleanable.dirty.ratio": "0.5",
    "min.compaction.lag.ms": "0",
    "min.insync.replicas": "1",
    "preallocate": "false",
    "remote.log.copy.disable": "false",
    "remote.log.delete.on.disable": "false",
    "remote.storage.enable": "false",
    "retention.bytes": "-1",
    "retention.ms": "604800000",
    "segment.bytes": "1073741824",
    "segment.index.bytes": "10485760",
    "segment.jitter.ms": "0",
    "segment.ms": "604800000",
    "unclean.leader.election.enable": "false",
}
# Configs Kafka 4 keeps as a cluster-wide dynamic default from the moment it is formatted.
CLUSTER_DYNAMIC_DEFAULTS = {"min.insync.replicas"}
TOPIC_OVERRIDES = {"retention.ms": "12345", "cleanup.policy": "compact", "max.message.bytes": "2048"}

# Broker configs both brokers must describe, with Kafka's default values.
KAFKA_41_BROKER_DEFAULTS = {
    "num.partitions": "1",
    "auto.create.topics.enable": "true",
    "default.replication.factor": "1",
    "delete.topic.enable": "true",
    "log.segment.bytes": "1073741824",
    "log.retention.hours": "168",
    "log.retention.bytes": "-1",
    "log.retention.check.interval.ms": "300000",
    "message.max.bytes": "1048588",
    "log.cleanup.policy": "delete",
    "compression.type": "producer",
}


def connect(broker) -> socket.socket:
    return wire.connect(broker.bootstrap)


@pytest.fixture
def admin(broker):
    client = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=int(CLIENT_TIMEOUT_S * 1000))
    yield client
    client.close()


def ck_admin_client(bootstrap: str) -> AdminClient:
    # AdminClient has no close(); a handle kept alive by a failure's traceback would log
    # connection errors (syslog level 3) once the session brokers stop. Results and errors
    # reach the tests through the futures, so those logs carry nothing the tests need.
    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 2})


@pytest.fixture
def ck_admin(broker) -> AdminClient:
    return ck_admin_client(broker.bootstrap)


def create(admin: KafkaAdminClient, name: str, *, partitions: int = 1, replication_factor: int = 1,
           configs: dict[str, str] | None = None, validate_only: bool = False) -> dict:
    spec = {"num_partitions": partitions, "replication_factor": replication_factor, "configs": configs or {}}
    res = admin.create_topics({name: spec}, validate_only=validate_only, raise_errors=False)
    (result,) = res["topics"]
    assert result["name"] == name, res
    return result


def topic_exists(broker, name: str) -> bool:
    with connect(broker) as s:
        md = wp.metadata(s, [name], allow_auto_topic_creation=False)
    err = md.topics[name].error_code
    assert err in (wp.ERROR_NONE, wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION), md
    return err == wp.ERROR_NONE


def wait_until(predicate, what: str, timeout_s: float = wp.READY_WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"not {what} after {timeout_s}s")
        time.sleep(wp.READY_POLL_S)


# --------------------------------------------------------------------------- CreateTopics


def test_create_existing_topic_gets_topic_already_exists(broker, admin, topic):
    assert create(admin, topic)["error_code"] == wp.ERROR_NONE
    res = create(admin, topic, partitions=3)
    assert (res["error_code"], res["error_message"]) == (
        wp.ERROR_TOPIC_ALREADY_EXISTS, f"Topic '{topic}' already exists."), res


NON_POSITIVE_PARTITIONS = "Number of partitions was set to an invalid non-positive value."
ONE_BROKER_RF3 = ("Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be "
                  "reached because only 1 broker(s) are registered.")
# case -> (create() keyword arguments, error code, message)
BAD_CREATES = {
    "zero-partitions": ({"partitions": 0}, wp.ERROR_INVALID_PARTITIONS, NON_POSITIVE_PARTITIONS),
    "minus-two-partitions": ({"partitions": -2}, wp.ERROR_INVALID_PARTITIONS, NON_POSITIVE_PARTITIONS),
    "replication-factor-3": ({"replication_factor": 3}, wp.ERROR_INVALID_REPLICATION_FACTOR, ONE_BROKER_RF3),
    "replication-factor-0": ({"replication_factor": 0}, wp.ERROR_INVALID_REPLICATION_FACTOR,
                             "Replication factor must be larger than 0, or -1 to use the default value."),
    "unknown-config": ({"configs": {"no.such.config": "1"}}, wp.ERROR_INVALID_CONFIG,
                       "Unknown topic config name: no.such.config"),
    "config-not-a-number": ({"configs": {"retention.ms": "abc"}}, wp.ERROR_INVALID_CONFIG,
                            "Invalid value abc for configuration retention.ms: Not a number of type LONG"),
    "config-outside-enum": ({"configs": {"cleanup.policy": "shred"}}, wp.ERROR_INVALID_CONFIG,
                            "Invalid value shred for configuration cleanup.policy: String must be one of: "
                            "compact, delete"),
    "config-below-minimum": ({"configs": {"segment.bytes": "1000"}}, wp.ERROR_INVALID_CONFIG,
                             "Invalid value 1000 for configuration segment.bytes: Value must be at least 1048576"),
}


@pytest.mark.parametrize("validate_only", [False, True], ids=["create", "validate-only"])
@pytest.mark.parametrize("case", sorted(BAD_CREATES))
def test_create_topic_errors_match_kafka(broker, admin, topic, case, validate_only):
    kwargs, code, message = BAD_CREATES[case]
    res = create(admin, topic, validate_only=validate_only, **kwargs)
    assert (res["error_code"], res["error_message"]) == (code, message), res
    assert not topic_exists(broker, topic)


BAD_NAMES = {
    "space": ("bad name", "Topic name is invalid: 'bad name' contains one or more characters other than ASCII "
                          "alphanumerics, '.', '_' and '-'"),
    "dot-dot": ("..", "Topic name is invalid: '..' is not allowed"),
    "dot": (".", "Topic name is invalid: '.' is not allowed"),
    "250-chars": ("n" * 250, f"Topic name is invalid: the length of '{'n' * 250}' is longer than the max allowed "
                             "length 249"),
}


@pytest.mark.parametrize("case", sorted(BAD_NAMES))
def test_illegal_topic_name_gets_invalid_topic_exception(broker, admin, case):
    name, message = BAD_NAMES[case]
    res = create(admin, name)
    assert (res["error_code"], res["error_message"]) == (wp.ERROR_INVALID_TOPIC_EXCEPTION, message), res


def test_topic_name_of_249_chars_is_legal(broker, admin):
    name = (uuid.uuid4().hex * 8)[:MAX_TOPIC_NAME_CHARS]
    res = create(admin, name)
    assert res["error_code"] == wp.ERROR_NONE, res
    wp.wait_partitions_ready(broker.bootstrap, name)
    admin.delete_topics([name])


def test_validate_only_answers_like_a_create_and_creates_nothing(broker, admin, topic):
    res = create(admin, topic, partitions=3, validate_only=True, configs={"retention.ms": "1000"})
    assert (res["error_code"], res["num_partitions"], res["replication_factor"]) == (wp.ERROR_NONE, 3, 1), res
    assert res["configs"]["retention.ms"]["value"] == "1000", res
    assert res["configs"]["retention.ms"]["config_source"] == "DYNAMIC_TOPIC_CONFIG", res
    assert not topic_exists(broker, topic)
    # The name is still free.
    assert create(admin, topic)["error_code"] == wp.ERROR_NONE


# --------------------------------------------------------------------------- DescribeConfigs


def _expected_source(name: str) -> set:
    if name in TOPIC_OVERRIDES:
        return {ConfigSource.DYNAMIC_TOPIC_CONFIG.value}
    if name in CLUSTER_DYNAMIC_DEFAULTS:
        return {ConfigSource.DEFAULT_CONFIG.value, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value}
    return {ConfigSource.DEFAULT_CONFIG.value}


def test_describe_topic_configs_lists_kafkas_configs_with_their_sources(broker, admin, ck_admin, topic):
    assert create(admin, topic, configs=TOPIC_OVERRIDES)["error_code"] == wp.ERROR_NONE
    # Kafka answers CreateTopics once its controller has the topic; its broker may answer
    # DescribeConfigs with UNKNOWN_TOPIC_OR_PARTITION until its own metadata has it too.
    wait_until(lambda: topic_exists(broker, topic), "in Metadata")
    expected = {**KAFKA_41_TOPIC_DEFAULTS, **TOPIC_OVERRIDES}

    # librdkafka: DescribeConfigs v1.
    (future,) = ck_admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()
    entries = future.result(CLIENT_TIMEOUT_S)
    assert sorted(set(entries) - set(expected)) == [], "configs Kafka 4.1 does not describe"
    assert sorted(set(expected) - set(entries)) == [], "Kafka 4.1 configs missing"
    assert {n: e.value for n, e in entries.items()} == expected
    wrong = {n: e.source for n, e in entries.items() if e.source not in _expected_source(n)}
    assert wrong == {}, "unexpected config sources"

    # kafka-python 3: the newest DescribeConfigs both support (flexible v4 on both).
    described = admin.describe_configs([KpConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all")
    kp = described["topic"][topic]
    assert {n: e["value"] for n, e in kp.items()} == expected
    for name in TOPIC_OVERRIDES:
        assert kp[name]["config_source"] == "DYNAMIC_TOPIC_CONFIG", (name, kp[name])


def test_describe_configs_of_unknown_topic_gets_unknown_topic_or_partition(broker, ck_admin, topic):
    (future,) = ck_admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()
    with pytest.raises(Exception) as info:
        future.result(CLIENT_TIMEOUT_S)
    err = info.value.args[0]
    assert err.code() == wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION, err


def test_describe_broker_configs_lists_the_broker_settings(broker, ck_admin):
    (future,) = ck_admin.describe_configs([ConfigResource(ResourceType.BROKER, "1")]).values()
    entries = future.result(CLIENT_TIMEOUT_S)
    got = {n: entries[n].value if n in entries else "<missing>" for n in KAFKA_41_BROKER_DEFAULTS}
    assert got == KAFKA_41_BROKER_DEFAULTS
    for name in KAFKA_41_BROKER_DEFAULTS:
        assert entries[name].source == ConfigSource.DEFAULT_CONFIG.value, (name, entries[name].source)
    # Set on the command line / in server.properties by the harness: static broker configs.
    assert entries["log.dirs"].value == str(broker.data_dir), entries["log.dirs"]
    assert entries["log.dirs"].source == ConfigSource.STATIC_BROKER_CONFIG.value, entries["log.dirs"]
    assert f"127.0.0.1:{broker.port}" in (entries["listeners"].value or ""), entries["listeners"]
    assert entries["listeners"].source == ConfigSource.STATIC_BROKER_CONFIG.value, entries["listeners"]


# Runnel's own server.properties keys that the harness sets on every Runnel it starts.
RUNNEL_HARNESS_OWN_KEYS = {"admin.listener"}


def test_broker_config_names_are_a_subset_of_kafkas(request):
    """Runnel describes no broker config that Kafka 4.1 does not (it may describe fewer:
    Kafka-only names cover SASL, SSL, KRaft, tiered storage, share groups...)."""
    chosen = request.config.getoption("--broker")
    if chosen and set(chosen) != {"runnel", "kafka"}:
        pytest.skip("compares both brokers")
    described = {}
    for kind in ("kafka", "runnel"):
        b = request.getfixturevalue(f"{kind}_broker")
        client = ck_admin_client(b.bootstrap)
        (future,) = client.describe_configs([ConfigResource(ResourceType.BROKER, "1")]).values()
        described[kind] = future.result(CLIENT_TIMEOUT_S)
    names = {kind: set(entries) for kind, entries in described.items()}
    # The harness gives every Runnel its own admin listener port; like any key Kafka does not
    # know, a set one is described as Kafka describes an unknown user-set key: sensitive, no value.
    own = sorted(names["runnel"] - names["kafka"])
    assert own == sorted(RUNNEL_HARNESS_OWN_KEYS), "broker configs Kafka 4.1 does not describe"
    for name in own:
        entry = described["runnel"][name]
        assert entry.is_sensitive and entry.value is None, (name, entry.is_sensitive, entry.value)
    assert set(KAFKA_41_BROKER_DEFAULTS) <= names["runnel"]


# --------------------------------------------------------------------------- Delete / partitions


def test_delete_topic_removes_it_and_deleting_again_gets_unknown_topic(broker, admin, topic):
    assert create(admin, topic, partitions=2)["error_code"] == wp.ERROR_NONE
    wp.wait_partitions_ready(broker.bootstrap, topic, 2)
    res = admin.delete_topics([topic], raise_errors=False)
    assert [(t["name"], t["error_code"]) for t in res["topics"]] == [(topic, wp.ERROR_NONE)], res
    wait_until(lambda: not topic_exists(broker, topic), "gone from Metadata")
    res = admin.delete_topics([topic], raise_errors=False)
    assert [(t["name"], t["error_code"], t["error_message"]) for t in res["topics"]] == [
        (topic, wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic-partition.")], res


def test_create_partitions_grows_a_topic_and_refuses_to_shrink_it(broker, admin, topic):
    assert create(admin, topic, partitions=2)["error_code"] == wp.ERROR_NONE
    wp.wait_partitions_ready(broker.bootstrap, topic, 2)
    res = admin.create_partitions({topic: 4}, raise_errors=False)
    assert [(r.name, r.error_code) for r in res.results] == [(topic, wp.ERROR_NONE)], res
    wp.wait_partitions_ready(broker.bootstrap, topic, 4)
    with connect(broker) as s:
        md = wp.metadata(s, [topic], allow_auto_topic_creation=False)
        assert sorted(md.topics[topic].partitions) == [0, 1, 2, 3], md
        res3 = wp.produce(s, topic, 3, wp.batch([wp.BatchRecord(b"k", b"in the new partition")]))
        assert (res3.error_code, res3.base_offset) == (wp.ERROR_NONE, 0), res3

    res = admin.create_partitions({topic: 3}, raise_errors=False)
    assert [(r.error_code, r.error_message) for r in res.results] == [
        (wp.ERROR_INVALID_PARTITIONS, f"The topic {topic} currently has 4 partition(s); 3 would not be an increase.")]
    res = admin.create_partitions({topic: 4}, raise_errors=False)
    assert [(r.error_code, r.error_message) for r in res.results] == [
        (wp.ERROR_INVALID_PARTITIONS, "Topic already has 4 partition(s).")]


ERROR_INVALID_REPLICA_ASSIGNMENT = 39


def test_create_partitions_with_an_empty_assignment_list_is_refused(broker, admin, topic):
    # An empty (not null) assignments array names zero brokers for each new partition:
    # Kafka refuses it rather than choosing brokers itself.
    assert create(admin, topic, partitions=1)["error_code"] == wp.ERROR_NONE
    wp.wait_partitions_ready(broker.bootstrap, topic, 1)
    res = admin.create_partitions({topic: {"count": 3, "assignments": []}}, raise_errors=False)
    assert [(r.name, r.error_code, r.error_message) for r in res.results] == [
        (topic, ERROR_INVALID_REPLICA_ASSIGNMENT,
         "Attempted to add 2 additional partition(s), but only 0 assignment(s) were specified.")], res


def test_create_partitions_of_unknown_topic_gets_unknown_topic(broker, admin, topic):
    res = admin.create_partitions({topic: 4}, raise_errors=False)
    assert [(r.name, r.error_code) for r in res.results] == [(topic, wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION)], res


# --------------------------------------------------------------------------- cluster, metadata


def test_describe_cluster_reports_this_broker_as_the_whole_cluster(broker, admin, ck_admin):
    with connect(broker) as s:
        md = wp.metadata(s, [])
    assert md.cluster_id, md
    assert [(node, port) for node, _, port in md.brokers] == [(md.controller_id, broker.port)], md

    kp = admin.describe_cluster()
    assert kp["cluster_id"] == md.cluster_id, kp
    assert kp["controller_id"] == md.controller_id, kp
    assert [(b["broker_id"], b["host"], b["port"]) for b in kp["brokers"]] == [
        (md.controller_id, "127.0.0.1", broker.port)], kp

    ck = ck_admin.describe_cluster().result(CLIENT_TIMEOUT_S)
    assert ck.cluster_id == md.cluster_id
    assert ck.controller is not None and ck.controller.id == md.controller_id
    assert [(n.id, n.host, n.port) for n in ck.nodes] == [(md.controller_id, "127.0.0.1", broker.port)]


@pytest.mark.parametrize("version", [4, 5, 6, 7, 8])
def test_metadata_without_auto_creation_gets_unknown_topic_and_creates_nothing(broker, topic, version):
    with connect(broker) as s:
        md = wp.metadata(s, [topic], version=version, allow_auto_topic_creation=False)
        assert md.topics[topic].error_code == wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION, md
        time.sleep(wp.READY_POLL_S)
        everything = wp.metadata(s, None, version=version)
    assert topic not in everything.topics, sorted(everything.topics)
