"""AlterConfigs (API 33) and IncrementalAlterConfigs (API 44) through real clients
(confluent-kafka AdminClient, kafka-python 3 KafkaAdminClient, Kafka's own kafka-configs)
and raw requests, against both brokers.

What Kafka 4.1.1 answers, and so what these tests assert on both brokers (codes AND
messages, which kafka-configs prints verbatim):
- Incremental SET / DELETE / APPEND / SUBTRACT change only the named keys. APPEND and
  SUBTRACT work on LIST keys (cleanup.policy) and start from Kafka's default when the topic
  has no override: APPEND compact gives "delete,compact". DescribeConfigs then shows the
  value with source DYNAMIC_TOPIC_CONFIG; a deleted key is back at its default
  (DEFAULT_CONFIG).
- Legacy AlterConfigs (v0-v2) replaces the topic's whole set of overrides: a key left out
  goes back to its default.
- validate_only answers as the real change would and changes nothing.
- Per resource, in Kafka's order: a resource named twice in one IncrementalAlterConfigs,
  42 "Each resource must appear at most once." for each copy; a key named twice, 42 "Error
  due to duplicate config keys"; a null value (other than for DELETE), 42 "Null value not
  supported for : k"; an empty topic name, 42 "Default topic resources are not allowed.";
  an illegal name, 17; APPEND/SUBTRACT on a non-LIST or unknown key, 40 "Can't APPEND to key
  k because its type is not LIST."; an unknown key or bad value, 40 with Kafka's
  validation message (checked before existence); an unknown topic, 3 "The topic 't' does
  not exist.". BROKER_LOGGER and type 99 are unknown resource types of the legacy API.
- The changed settings reach the live partition logs at once: a lowered max.message.bytes
  refuses a larger batch with MESSAGE_TOO_LARGE, a lowered retention.ms deletes expired
  records. The overrides survive a restart.
- BROKER resources: a wrong broker id is 42 "Unexpected broker id, expected 1, but received
  2"; a key Kafka cannot change at run time is 42 "Cannot update these configs dynamically:
  Set(log.dirs)"; APPEND to a non-LIST broker key is 40 "Config value append is not allowed
  for config key: log.dirs".

Where Runnel deliberately answers differently (asserted per broker, so a change on either
side shows):
- Runnel has no dynamic broker configs: setting any broker key, even one Kafka changes at
  run time (log.retention.ms), gets Kafka's non-dynamic answer above.
- Runnel cannot change log levels at run time and describes no broker loggers, so every
  logger is unknown: 40 "Logger root does not exist!" where Kafka accepts root=INFO.
- An unknown operation code on a topic is 42 "Unknown operations type 7" (Kafka's answer for
  a BROKER resource); Kafka 4.1.1 answers -1 (a null pointer in its controller).
- Legacy AlterConfigs naming a resource twice: Kafka 4.1.1 never answers (its response map
  throws), Runnel answers 42 for each copy; that case runs on Runnel only.
"""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource, ResourceType,
)
from kafka.admin import ConfigResource as KpConfigResource
from kafka.admin import ConfigResourceType, KafkaAdminClient

from harness import wire
from harness import wire_protocol as wp
from harness.java_tools import run_tool
from harness.wire import array, int8, string
from harness.wire_protocol import BatchRecord

CLIENT_TIMEOUT_S = 20.0
# Kafka applies a committed change to its broker's metadata a moment after answering.
VISIBLE_WAIT_S = 15.0
POLL_S = 0.1
CONFIGS_TOOL = "kafka.admin.ConfigCommand"

API_ALTER_CONFIGS = 33
API_INCREMENTAL_ALTER_CONFIGS = 44
# The first flexible (compact, tagged) version of each.
FIRST_FLEXIBLE = {API_ALTER_CONFIGS: 2, API_INCREMENTAL_ALTER_CONFIGS: 1}

TOPIC_TYPE, BROKER_TYPE, BROKER_LOGGER_TYPE = 2, 4, 8
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3

ERROR_UNKNOWN_SERVER_ERROR = -1
ERROR_MESSAGE_TOO_LARGE = 10
ERROR_INVALID_REQUEST = 42

DEFAULT = ConfigSource.DEFAULT_CONFIG.value
DYNAMIC = ConfigSource.DYNAMIC_TOPIC_CONFIG.value

# Kafka 4.1's defaults for the keys these tests change (a broker with default settings).
RETENTION_MS_DEFAULT = "604800000"
SEGMENT_MS_DEFAULT = "604800000"
MAX_MESSAGE_BYTES_DEFAULT = "1048588"
HOUR_MS = 3_600_000


# --------------------------------------------------------------------------- raw requests


def _encode(api: int, version: int, resources: list[tuple], validate_only: bool) -> bytes:
    """AlterConfigs resources are (type, name, [(key, value)]); IncrementalAlterConfigs
    resources are (type, name, [(key, op, value)])."""
    flexible = version >= FIRST_FLEXIBLE[api]
    s = wp.compact_string if flexible else string
    arr = wp.compact_array if flexible else array
    tags = wp.NO_TAGS if flexible else b""
    encoded = []
    for resource_type, name, configs in resources:
        entries = []
        for entry in configs:
            if api == API_ALTER_CONFIGS:
                key, value = entry
                entries.append(s(key) + s(value) + tags)
            else:
                key, op, value = entry
                entries.append(s(key) + int8(op) + s(value) + tags)
        encoded.append(int8(resource_type) + s(name) + arr(entries) + tags)
    return arr(encoded) + int8(1 if validate_only else 0) + tags


def alter_raw(bootstrap: str, api: int, version: int, resources: list[tuple], *,
              validate_only: bool = False) -> list[tuple[int, str, int, str | None]]:
    """One request; the answers as (resource type, resource name, error code, message)."""
    flexible = version >= FIRST_FLEXIBLE[api]
    body = _encode(api, version, resources, validate_only)
    with wire.connect(bootstrap) as sock:
        cid, frame = wire.request_frame(api, version, body, flexible_header=flexible)
        wire.send_all(sock, frame)
        r = wire.recv_response(sock, cid)
        if flexible:
            wp.skip_tags(r)
        r.int32()  # throttle

        def answer(rr):
            code = rr.int16()
            message = wp.read_compact_string(rr) if flexible else rr.string()
            resource_type = rr.int8()
            name = wp.read_compact_string(rr) if flexible else rr.string()
            if flexible:
                wp.skip_tags(rr)
            return resource_type, name, code, message

        return wp.read_compact_array(r, answer) if flexible else r.array(answer)


def incremental(bootstrap: str, resource: tuple, *, version: int = 1, validate_only: bool = False):
    (answer,) = alter_raw(bootstrap, API_INCREMENTAL_ALTER_CONFIGS, version, [resource], validate_only=validate_only)
    return answer[2:]


def legacy(bootstrap: str, resource: tuple, *, version: int = 0, validate_only: bool = False):
    (answer,) = alter_raw(bootstrap, API_ALTER_CONFIGS, version, [resource], validate_only=validate_only)
    return answer[2:]


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def ck_admin(broker) -> AdminClient:
    # Errors reach the tests through the futures; librdkafka's own logs carry nothing more.
    return AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 2})


@pytest.fixture
def kp_admin(broker):
    client = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=int(CLIENT_TIMEOUT_S * 1000))
    yield client
    client.close()


def described(bootstrap: str, topic: str) -> dict[str, tuple[str, int]]:
    """{key: (value, source)} of every config of a topic (confluent-kafka DescribeConfigs)."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 2})
    (future,) = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()
    return {name: (entry.value, entry.source) for name, entry in future.result(CLIENT_TIMEOUT_S).items()}


def wait_described(bootstrap: str, topic: str, expected: dict[str, tuple[str, int]]) -> dict:
    """Bounded wait until DescribeConfigs shows every expected (value, source)."""
    deadline = time.monotonic() + VISIBLE_WAIT_S
    while True:
        configs = described(bootstrap, topic)
        seen = {name: configs.get(name) for name in expected}
        if seen == expected:
            return configs
        if time.monotonic() >= deadline:
            raise AssertionError(f"{topic}: described {seen}, expected {expected} within {VISIBLE_WAIT_S}s")
        time.sleep(POLL_S)


def wait_until(predicate, what: str, timeout_s: float = VISIBLE_WAIT_S):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not {what} after {timeout_s}s")
        time.sleep(POLL_S)


def ck_incremental(admin: AdminClient, topic: str, entries: list[ConfigEntry], *, validate_only: bool = False):
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=entries)
    (future,) = admin.incremental_alter_configs([resource], validate_only=validate_only).values()
    return future.result(CLIENT_TIMEOUT_S)


def ck_refusal(admin: AdminClient, topic: str, entries: list[ConfigEntry]):
    with pytest.raises(KafkaException) as info:
        ck_incremental(admin, topic, entries)
    return info.value.args[0]


def offsets(bootstrap: str, topic: str) -> tuple[int, int]:
    with wire.connect(bootstrap) as s:
        earliest = wp.list_offsets(s, topic, 0, wp.EARLIEST_TIMESTAMP)
        latest = wp.list_offsets(s, topic, 0, wp.LATEST_TIMESTAMP)
    assert earliest.error_code == latest.error_code == wp.ERROR_NONE, (earliest, latest)
    return earliest.offset, latest.offset


# --------------------------------------------------------------------------- incremental


def test_incremental_set_delete_append_subtract_are_described_as_dynamic_topic_configs(broker, ck_admin, topic):
    wp.create_topic(broker.bootstrap, topic, configs={"retention.ms": "1000000", "segment.ms": "500000"})
    ck_incremental(ck_admin, topic, [
        ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("segment.ms", None, incremental_operation=AlterConfigOpType.DELETE),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
    ])
    configs = wait_described(broker.bootstrap, topic, {
        "retention.ms": ("7200000", DYNAMIC),
        "segment.ms": (SEGMENT_MS_DEFAULT, DEFAULT),
        "cleanup.policy": ("delete,compact", DYNAMIC),
    })
    assert configs["max.message.bytes"] == (MAX_MESSAGE_BYTES_DEFAULT, DEFAULT), configs

    ck_incremental(ck_admin, topic, [
        ConfigEntry("cleanup.policy", "delete", incremental_operation=AlterConfigOpType.SUBTRACT),
    ])
    wait_described(broker.bootstrap, topic, {"cleanup.policy": ("compact", DYNAMIC), "retention.ms": ("7200000", DYNAMIC)})
    # Subtracting the last element leaves an empty (valid) list, still an override.
    ck_incremental(ck_admin, topic, [
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SUBTRACT),
    ])
    wait_described(broker.bootstrap, topic, {"cleanup.policy": ("", DYNAMIC)})


@pytest.mark.parametrize("version", [0, 1])
def test_incremental_alter_every_served_version(broker, topic, version):
    wp.create_topic(broker.bootstrap, topic, configs={"cleanup.policy": "compact"})
    answer = incremental(broker.bootstrap, (TOPIC_TYPE, topic, [
        ("cleanup.policy", APPEND, "delete"), ("retention.ms", SET, "3600000"), ("segment.ms", DELETE, None),
    ]), version=version)
    assert answer == (wp.ERROR_NONE, None)
    wait_described(broker.bootstrap, topic, {"cleanup.policy": ("compact,delete", DYNAMIC), "retention.ms": ("3600000", DYNAMIC)})


def test_kafka_python_alters_incrementally_and_through_legacy_alter_configs(broker, kp_admin, topic):
    wp.create_topic(broker.bootstrap, topic, configs={"segment.ms": "500000"})
    res = kp_admin.alter_configs([KpConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": "7200000"})],
                                 incremental=True)
    assert res == {"topic": {topic: "OK"}}, res
    wait_described(broker.bootstrap, topic, {"retention.ms": ("7200000", DYNAMIC), "segment.ms": ("500000", DYNAMIC)})
    # Legacy AlterConfigs: kafka-python re-sends the other modified keys so none is reset.
    res = kp_admin.alter_configs([KpConfigResource(ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": "4096"})],
                                 incremental=False)
    assert res == {"topic": {topic: "OK"}}, res
    wait_described(broker.bootstrap, topic, {
        "retention.ms": ("7200000", DYNAMIC), "segment.ms": ("500000", DYNAMIC), "max.message.bytes": ("4096", DYNAMIC),
    })


# --------------------------------------------------------------------------- legacy


@pytest.mark.parametrize("version", [0, 1, 2])
def test_legacy_alter_configs_replaces_every_override(broker, topic, version):
    wp.create_topic(broker.bootstrap, topic, configs={"retention.ms": "1000000", "segment.ms": "500000"})
    answer = legacy(broker.bootstrap, (TOPIC_TYPE, topic, [("max.message.bytes", "4096")]), version=version)
    assert answer == (wp.ERROR_NONE, None)
    wait_described(broker.bootstrap, topic, {
        "max.message.bytes": ("4096", DYNAMIC),
        "retention.ms": (RETENTION_MS_DEFAULT, DEFAULT),
        "segment.ms": (SEGMENT_MS_DEFAULT, DEFAULT),
    })
    # An empty set clears every override.
    assert legacy(broker.bootstrap, (TOPIC_TYPE, topic, []), version=version) == (wp.ERROR_NONE, None)
    wait_described(broker.bootstrap, topic, {"max.message.bytes": (MAX_MESSAGE_BYTES_DEFAULT, DEFAULT)})


# --------------------------------------------------------------------------- validate_only


def test_validate_only_answers_as_the_change_would_and_changes_nothing(broker, ck_admin, kp_admin, topic):
    wp.create_topic(broker.bootstrap, topic, configs={"retention.ms": "1000000"})
    ck_incremental(ck_admin, topic, [
        ConfigEntry("retention.ms", "5", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
    ], validate_only=True)
    res = kp_admin.alter_configs([KpConfigResource(ConfigResourceType.TOPIC, topic, configs={"segment.ms": "5"})],
                                 validate_only=True, incremental=False)
    assert res == {"topic": {topic: "OK"}}, res
    bad = (TOPIC_TYPE, topic, [("retention.ms", SET, "abc")])
    assert incremental(broker.bootstrap, bad, validate_only=True) == (
        wp.ERROR_INVALID_CONFIG, "Invalid value abc for configuration retention.ms: Not a number of type LONG")
    # A real change made after them becomes visible; by then they would have too.
    ck_incremental(ck_admin, topic, [ConfigEntry("max.message.bytes", "4096", incremental_operation=AlterConfigOpType.SET)])
    configs = wait_described(broker.bootstrap, topic, {"max.message.bytes": ("4096", DYNAMIC)})
    assert configs["retention.ms"] == ("1000000", DYNAMIC), configs
    assert configs["cleanup.policy"] == ("delete", DEFAULT), configs
    assert configs["segment.ms"] == (SEGMENT_MS_DEFAULT, DEFAULT), configs


# --------------------------------------------------------------------------- errors

# (name, api, resource, expected code, expected message); "{topic}" is the test's topic,
# "{absent}" a topic that does not exist.
ERROR_CASES = [
    ("unknown-topic", API_INCREMENTAL_ALTER_CONFIGS, (TOPIC_TYPE, "{absent}", [("retention.ms", SET, "5")]),
     wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION, "The topic '{absent}' does not exist."),
    ("unknown-topic-delete", API_INCREMENTAL_ALTER_CONFIGS, (TOPIC_TYPE, "{absent}", [("retention.ms", DELETE, None)]),
     wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION, "The topic '{absent}' does not exist."),
    ("unknown-topic-legacy", API_ALTER_CONFIGS, (TOPIC_TYPE, "{absent}", [("retention.ms", "5")]),
     wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION, "The topic '{absent}' does not exist."),
    ("config-checked-before-existence", API_ALTER_CONFIGS, (TOPIC_TYPE, "{absent}", [("retention.mss", "5")]),
     wp.ERROR_INVALID_CONFIG, "Unknown topic config name: retention.mss"),
    ("unknown-config", API_INCREMENTAL_ALTER_CONFIGS, (TOPIC_TYPE, "{topic}", [("retention.mss", SET, "5")]),
     wp.ERROR_INVALID_CONFIG, "Unknown topic config name: retention.mss"),
    ("not-a-number", API_INCREMENTAL_ALTER_CONFIGS, (TOPIC_TYPE, "{topic}", [("retention.ms", SET, "abc")]),
     wp.ERROR_INVALID_CONFIG, "Invalid value abc for configuration retention.ms: Not a number of type LONG"),
    ("below-minimum", API_ALTER_CONFIGS, (TOPIC_TYPE, "{topic}", [("retention.ms", "-5")]),
     wp.ERROR_INVALID_CONFIG, "Invalid value -5 for configuration retention.ms: Value must be at least -1"),
    ("segment-below-1MiB", API_INCREMENTAL_ALTER_CONFIGS, (TOPIC_TYPE, "{topic}", [("segment.bytes", SET, "1000")]),
     wp.ERROR_INVALID_CONFIG, "Invalid value 1000 for configuration segment.bytes: Value must be at least 1048576"),
    ("append-to-non-list", API_INCREMENTAL_ALTER_CONFIGS, (TOPIC_TYPE, "{topic}", [("retention.ms", APPEND, "5")]),
     wp.ERROR_INVALID_CONFIG, "Can't APPEND to key retention.ms because its type is not LIST."),
    ("subtract-unknown-key", API_INCREMENTAL_ALTER_CONFIGS, (TOPIC_TYPE, "{topic}", [("foo.bar", SUBTRACT, "5")]),
     wp.ERROR_INVALID_CONFIG, "Can't SUBTRACT to key foo.bar because its type is not LIST."),
    ("append-bad-element", API_INCREMENTAL_ALTER_CONFIGS, (TOPIC_TYPE, "{topic}", [("cleanup.policy", APPEND, "bogus")]),
     wp.ERROR_INVALID_CONFIG, "Invalid value bogus for configuration cleanup.policy: String must be one of: compact, delete"),
    ("append-empty-element", API_INCREMENTAL_ALTER_CONFIGS, (TOPIC_TYPE, "{topic}", [("cleanup.policy", APPEND, "")]),
     wp.ERROR_INVALID_CONFIG, "Invalid value  for configuration cleanup.policy: String must be one of: compact, delete"),
    ("compaction-lag-conflict", API_INCREMENTAL_ALTER_CONFIGS,
     (TOPIC_TYPE, "{topic}", [("min.compaction.lag.ms", SET, "10"), ("max.compaction.lag.ms", SET, "5")]),
     wp.ERROR_INVALID_CONFIG, "conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)"),
    ("remote-storage", API_ALTER_CONFIGS, (TOPIC_TYPE, "{topic}", [("remote.storage.enable", "true")]),
     wp.ERROR_INVALID_CONFIG,
     "Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage."),
    ("null-value", API_INCREMENTAL_ALTER_CONFIGS, (TOPIC_TYPE, "{topic}", [("retention.ms", SET, None)]),
     ERROR_INVALID_REQUEST, "Null value not supported for : retention.ms"),
    ("null-value-legacy", API_ALTER_CONFIGS, (TOPIC_TYPE, "{topic}", [("retention.ms", None)]),
     ERROR_INVALID_REQUEST, "Null value not supported for : retention.ms"),
    ("duplicate-key", API_INCREMENTAL_ALTER_CONFIGS,
     (TOPIC_TYPE, "{topic}", [("retention.ms", SET, "5"), ("retention.ms", DELETE, None)]),
     ERROR_INVALID_REQUEST, "Error due to duplicate config keys"),
    ("empty-topic-name", API_INCREMENTAL_ALTER_CONFIGS, (TOPIC_TYPE, "", [("retention.ms", SET, "5")]),
     ERROR_INVALID_REQUEST, "Default topic resources are not allowed."),
    ("illegal-topic-name", API_ALTER_CONFIGS, (TOPIC_TYPE, "..", [("retention.mss", "5")]),
     wp.ERROR_INVALID_TOPIC_EXCEPTION, "Topic name is invalid: '..' is not allowed"),
    ("broker-logger-in-legacy", API_ALTER_CONFIGS, (BROKER_LOGGER_TYPE, "1", [("root", "INFO")]),
     ERROR_INVALID_REQUEST, "Unknown resource type 8"),
    ("unknown-resource-type", API_INCREMENTAL_ALTER_CONFIGS, (99, "x", [("a", SET, "b")]),
     ERROR_INVALID_REQUEST, "Unknown resource type 99"),
    ("wrong-broker-id", API_INCREMENTAL_ALTER_CONFIGS, (BROKER_TYPE, "2", [("log.retention.ms", SET, "1")]),
     ERROR_INVALID_REQUEST, "Unexpected broker id, expected 1, but received 2"),
    ("broker-id-not-a-number", API_ALTER_CONFIGS, (BROKER_TYPE, "x", [("log.retention.ms", "1")]),
     ERROR_INVALID_REQUEST, "Node id must be an integer, but it is: x"),
    ("non-dynamic-broker-key", API_ALTER_CONFIGS, (BROKER_TYPE, "1", [("log.dirs", "/elsewhere")]),
     ERROR_INVALID_REQUEST, "Cannot update these configs dynamically: Set(log.dirs)"),
    ("append-to-non-list-broker-key", API_INCREMENTAL_ALTER_CONFIGS, (BROKER_TYPE, "1", [("log.dirs", APPEND, "/y")]),
     wp.ERROR_INVALID_CONFIG, "Config value append is not allowed for config key: log.dirs"),
    ("broker-logger-append", API_INCREMENTAL_ALTER_CONFIGS, (BROKER_LOGGER_TYPE, "1", [("root", APPEND, "INFO")]),
     ERROR_INVALID_REQUEST, "APPEND operation is not allowed for the BROKER_LOGGER resource"),
    ("broker-logger-wrong-node", API_INCREMENTAL_ALTER_CONFIGS, (BROKER_LOGGER_TYPE, "2", [("root", SET, "INFO")]),
     ERROR_INVALID_REQUEST, "Unexpected node id. Expected 1, but received 2"),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_refusals_match_kafka(broker, topic, case):
    _, api, (resource_type, name, configs), code, message = case
    wp.create_topic(broker.bootstrap, topic)
    absent = f"absent-{uuid.uuid4().hex[:8]}"
    fill = {"topic": topic, "absent": absent}
    resource = (resource_type, name.format(**fill), configs)
    version = 1 if api == API_INCREMENTAL_ALTER_CONFIGS else 0
    for validate_only in (True, False):
        (answer,) = alter_raw(broker.bootstrap, api, version, [resource], validate_only=validate_only)
        assert answer == (resource_type, resource[1], code, message.format(**fill)), validate_only
    configs_now = described(broker.bootstrap, topic)
    assert {k: v for k, v in configs_now.items() if v[1] == DYNAMIC} == {}, "a refused change was applied"


def test_repeated_resource_in_incremental_alter_is_refused_for_each_copy(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    change = (TOPIC_TYPE, topic, [("retention.ms", SET, "5")])
    answers = alter_raw(broker.bootstrap, API_INCREMENTAL_ALTER_CONFIGS, 1, [change, change])
    repeated = (TOPIC_TYPE, topic, ERROR_INVALID_REQUEST, "Each resource must appear at most once.")
    assert answers == [repeated, repeated]


def test_clients_report_refusals_with_kafkas_codes_and_messages(broker, ck_admin, kp_admin, topic):
    wp.create_topic(broker.bootstrap, topic)
    set_op, append_op = AlterConfigOpType.SET, AlterConfigOpType.APPEND
    err = ck_refusal(ck_admin, f"absent-{topic}", [ConfigEntry("retention.ms", "5", incremental_operation=set_op)])
    assert err.code() == wp.ERROR_UNKNOWN_TOPIC_OR_PARTITION, err
    err = ck_refusal(ck_admin, topic, [ConfigEntry("retention.mss", "5", incremental_operation=set_op)])
    assert (err.code(), err.str()) == (wp.ERROR_INVALID_CONFIG, "Unknown topic config name: retention.mss"), err
    err = ck_refusal(ck_admin, topic, [ConfigEntry("retention.ms", "abc", incremental_operation=set_op)])
    assert err.code() == wp.ERROR_INVALID_CONFIG, err
    assert err.str() == "Invalid value abc for configuration retention.ms: Not a number of type LONG", err
    err = ck_refusal(ck_admin, topic, [ConfigEntry("retention.ms", "5", incremental_operation=append_op)])
    assert err.code() == wp.ERROR_INVALID_CONFIG, err
    assert err.str() == "Can't APPEND to key retention.ms because its type is not LIST.", err

    res = kp_admin.alter_configs([KpConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.mss": "5"})],
                                 raise_on_unknown=False, incremental=False)
    expected = "[Error 40] InvalidConfigurationError: Unknown topic config name: retention.mss"
    assert res == {"topic": {topic: expected}}, res


def test_answers_where_runnel_deliberately_differs_from_kafka(broker, topic):
    wp.create_topic(broker.bootstrap, topic)
    runnel = broker.kind == "runnel"
    bs = broker.bootstrap
    unknown_op = incremental(bs, (TOPIC_TYPE, topic, [("retention.ms", 7, "5")]))
    assert unknown_op == ((ERROR_INVALID_REQUEST, "Unknown operations type 7") if runnel
                          else (ERROR_UNKNOWN_SERVER_ERROR, None))
    dynamic_in_kafka = incremental(bs, (BROKER_TYPE, "1", [("log.retention.ms", SET, "3600000")]), validate_only=True)
    assert dynamic_in_kafka == ((ERROR_INVALID_REQUEST, "Cannot update these configs dynamically: Set(log.retention.ms)")
                                if runnel else (wp.ERROR_NONE, None))
    root_logger = incremental(bs, (BROKER_LOGGER_TYPE, "1", [("root", SET, "INFO")]), validate_only=True)
    assert root_logger == ((wp.ERROR_INVALID_CONFIG, "Logger root does not exist!") if runnel else (wp.ERROR_NONE, None))
    # Both accept a DELETE on a broker key and an empty change.
    assert incremental(bs, (BROKER_TYPE, "1", [("log.dirs", DELETE, None)]), validate_only=True) == (wp.ERROR_NONE, None)
    assert legacy(bs, (BROKER_TYPE, "1", []), validate_only=True) == (wp.ERROR_NONE, None)


def test_repeated_resource_in_legacy_alter_is_refused_for_each_copy(broker, topic):
    if broker.kind == "kafka":
        pytest.skip("Kafka 4.1.1 never answers this request (IllegalStateException building its response)")
    wp.create_topic(broker.bootstrap, topic)
    change = (TOPIC_TYPE, topic, [("retention.ms", "5")])
    answers = alter_raw(broker.bootstrap, API_ALTER_CONFIGS, 0, [change, (BROKER_TYPE, "1", []), change])
    repeated = (TOPIC_TYPE, topic, ERROR_INVALID_REQUEST, "Each resource must appear at most once.")
    assert answers == [repeated, (BROKER_TYPE, "1", wp.ERROR_NONE, None), repeated]


# --------------------------------------------------------------------------- live logs


def produce_value(bootstrap: str, topic: str, value_bytes: int):
    with wire.connect(bootstrap) as s:
        return wp.produce(s, topic, 0, wp.batch([BatchRecord(b"k", b"v" * value_bytes)]))


def test_lowered_max_message_bytes_refuses_a_larger_batch_at_once(broker, ck_admin, topic):
    wp.create_topic(broker.bootstrap, topic)
    big = 4000
    assert produce_value(broker.bootstrap, topic, big).error_code == wp.ERROR_NONE
    ck_incremental(ck_admin, topic, [ConfigEntry("max.message.bytes", "1024", incremental_operation=AlterConfigOpType.SET)])
    wait_until(lambda: produce_value(broker.bootstrap, topic, big).error_code == ERROR_MESSAGE_TOO_LARGE,
               "a 4 kB batch refused with MESSAGE_TOO_LARGE")
    assert produce_value(broker.bootstrap, topic, 100).error_code == wp.ERROR_NONE
    ck_incremental(ck_admin, topic, [ConfigEntry("max.message.bytes", None, incremental_operation=AlterConfigOpType.DELETE)])
    wait_until(lambda: produce_value(broker.bootstrap, topic, big).error_code == wp.ERROR_NONE,
               "a 4 kB batch accepted again")


RETENTION_CHECK_INTERVAL_MS = 200
RETENTION_WAIT_S = 30.0
RETENTION_CONFIG = {
    "log.retention.check.interval.ms": RETENTION_CHECK_INTERVAL_MS,
    # Kafka waits this long after start before its first retention run (default 30 s).
    "log.initial.task.delay.ms": 0,
}


def test_lowered_retention_ms_deletes_expired_records_of_a_live_topic(broker_kind, broker_factory, topic):
    broker = broker_factory(broker_kind, RETENTION_CONFIG)
    wp.create_topic(broker.bootstrap, topic)
    two_hours_ago = int(time.time() * 1000) - 2 * HOUR_MS
    count = 5
    with wire.connect(broker.bootstrap) as s:
        for i in range(count):
            res = wp.produce(s, topic, 0, wp.batch([BatchRecord(b"k", b"old", two_hours_ago)]))
            assert (res.error_code, res.base_offset) == (wp.ERROR_NONE, i), res
    # Under the default week of retention, many retention runs keep everything.
    time.sleep(10 * RETENTION_CHECK_INTERVAL_MS / 1000)
    assert offsets(broker.bootstrap, topic) == (0, count)
    assert incremental(broker.bootstrap, (TOPIC_TYPE, topic, [("retention.ms", SET, str(HOUR_MS))])) == (wp.ERROR_NONE, None)
    wait_until(lambda: offsets(broker.bootstrap, topic) == (count, count), "every expired record deleted", RETENTION_WAIT_S)


# --------------------------------------------------------------------------- restart


def test_altered_configs_survive_a_restart(broker_kind, broker_factory, topic):
    broker = broker_factory(broker_kind)
    wp.create_topic(broker.bootstrap, topic, configs={"segment.ms": "500000", "max.message.bytes": "2048"})
    answer = incremental(broker.bootstrap, (TOPIC_TYPE, topic, [
        ("retention.ms", SET, "7200000"), ("cleanup.policy", APPEND, "compact"), ("segment.ms", DELETE, None),
    ]))
    assert answer == (wp.ERROR_NONE, None)
    expected = {
        "retention.ms": ("7200000", DYNAMIC),
        "cleanup.policy": ("delete,compact", DYNAMIC),
        "segment.ms": (SEGMENT_MS_DEFAULT, DEFAULT),
        "max.message.bytes": ("2048", DYNAMIC),
    }
    wait_described(broker.bootstrap, topic, expected)
    broker.restart()
    wp.wait_partitions_ready(broker.bootstrap, topic)
    wait_described(broker.bootstrap, topic, expected)
    # And the restarted log enforces them.
    assert produce_value(broker.bootstrap, topic, 4000).error_code == ERROR_MESSAGE_TOO_LARGE


# --------------------------------------------------------------------------- kafka-configs


def configs_tool(broker, *args: str):
    return run_tool(CONFIGS_TOOL, ["--bootstrap-server", broker.bootstrap, *args])


def test_kafka_configs_tool_adds_deletes_and_describes_topic_configs(broker, topic):
    wp.create_topic(broker.bootstrap, topic, configs={"segment.ms": "500000"})
    entity = ["--entity-type", "topics", "--entity-name", topic]
    res = configs_tool(broker, "--alter", *entity, "--add-config", "retention.ms=7200000,cleanup.policy=[delete,compact]")
    assert (res.returncode, res.stdout.strip()) == (0, f"Completed updating config for topic {topic}."), res.describe()
    wait_described(broker.bootstrap, topic, {"retention.ms": ("7200000", DYNAMIC), "cleanup.policy": ("delete,compact", DYNAMIC)})
    res = configs_tool(broker, "--describe", *entity)
    assert res.returncode == 0, res.describe()
    assert res.stdout.splitlines() == [
        f"Dynamic configs for topic {topic} are:",
        "  cleanup.policy=delete,compact sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=delete,compact, "
        "DEFAULT_CONFIG:log.cleanup.policy=delete}",
        "  retention.ms=7200000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=7200000}",
        "  segment.ms=500000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:segment.ms=500000}",
    ], res.describe()

    res = configs_tool(broker, "--alter", *entity, "--delete-config", "segment.ms,retention.ms")
    assert res.returncode == 0, res.describe()
    wait_described(broker.bootstrap, topic, {"segment.ms": (SEGMENT_MS_DEFAULT, DEFAULT), "retention.ms": (RETENTION_MS_DEFAULT, DEFAULT)})
    res = configs_tool(broker, "--describe", *entity)
    assert res.stdout.splitlines() == [
        f"Dynamic configs for topic {topic} are:",
        "  cleanup.policy=delete,compact sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=delete,compact, "
        "DEFAULT_CONFIG:log.cleanup.policy=delete}",
    ], res.describe()

    res = configs_tool(broker, "--alter", *entity, "--add-config", "retention.ms=abc")
    assert res.returncode == 1, res.describe()
    assert ("InvalidConfigurationException: Invalid value abc for configuration retention.ms: "
            "Not a number of type LONG") in res.stderr, res.describe()
