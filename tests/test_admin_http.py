"""The admin HTTP listener (Runnel only; Kafka has none): /healthz, /readyz, Prometheus
/metrics checked against what real kafka-python clients did, the JSON API, reset-offsets
(dry run, execute, and Kafka's refusal while the group is active), HTTP Basic auth and a TLS
admin listener.

The main broker is private to this module (its groups and topics are the test's own), with
group.initial.rebalance.delay.ms=0 so a subscribing consumer joins at once. Every wait is
bounded; the whole file runs in well under a minute.
"""

from __future__ import annotations

import base64
import http.client
from email.message import Message
import json
import re
import ssl
import time
import urllib.error
import urllib.request
import uuid

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.structs import OffsetAndMetadata

from harness import RunnelBroker
from harness.certs import make_certs, server_ssl_settings

HTTP_TIMEOUT_S = 10.0
CLIENT_TIMEOUT_MS = 10_000
JOIN_WAIT_S = 20.0
# The sampler runs every 5 s; two intervals and some slack.
LAG_SAMPLE_WAIT_S = 12.0
POLL_INTERVAL_S = 0.1
# Records produced to partitions 0 and 1 of the module's topic.
P0_RECORDS = 7
P1_RECORDS = 3
COMMITTED_P0 = 4

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


# ---------------------------------------------------------------------------- helpers

def request(url: str, *, method: str = "GET", body: dict | None = None, auth: tuple[str, str] | None = None,
            context: ssl.SSLContext | None = None) -> tuple[int, str, Message]:
    """(status, body text, headers) of one request; HTTP errors are answers, not exceptions."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S, context=context) as resp:
            return resp.status, resp.read().decode(), resp.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def get_json(broker: RunnelBroker, path: str):
    status, text, _ = request(broker.admin_url + path)
    assert status == 200, f"{path}: {status} {text}"
    return json.loads(text)


def metrics(broker: RunnelBroker) -> dict[tuple[str, frozenset], float]:
    status, text, headers = request(broker.admin_url + "/metrics")
    assert status == 200, text
    assert headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"), headers
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a Prometheus sample: {line!r}"
        name, labels, value = match.groups()
        samples[(name, frozenset(_LABEL.findall(labels or "")))] = float(value)
    return samples


def sample(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, frozenset((k, str(v)) for k, v in labels.items())))


def wait_until(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(POLL_INTERVAL_S)


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


def commit_as_admin(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Commits offsets for a group without joining it (generation -1), as tools do."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                             request_timeout_ms=CLIENT_TIMEOUT_MS)
    try:
        consumer.assign(list(offsets))
        consumer.commit({tp: OffsetAndMetadata(offset, "", -1) for tp, offset in offsets.items()})
    finally:
        consumer.close()


# ---------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def admin_broker(tmp_path_factory):
    broker = RunnelBroker({"group.initial.rebalance.delay.ms": 0}, workdir=tmp_path_factory.mktemp("admin-http"))
    try:
        broker.start()
        yield broker
    finally:
        broker.close()


@pytest.fixture(scope="module")
def produced(admin_broker):
    """A two-partition topic with P0_RECORDS and P1_RECORDS keyed records, produced by
    kafka-python; returns (topic, timestamp in ms just before producing)."""
    topic = unique("admin-http")
    admin = KafkaAdminClient(bootstrap_servers=admin_broker.bootstrap, request_timeout_ms=CLIENT_TIMEOUT_MS)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    finally:
        admin.close()
    before_ms = int(time.time() * 1000)
    producer = KafkaProducer(bootstrap_servers=admin_broker.bootstrap, linger_ms=0)
    try:
        for i in range(P0_RECORDS):
            producer.send(topic, key=f"k{i}".encode(), value=f"value-{i}".encode(), partition=0,
                          headers=[("h", b"x")], timestamp_ms=before_ms + i)
        for i in range(P1_RECORDS):
            producer.send(topic, key=None, value=bytes([0xff, i]), partition=1, timestamp_ms=before_ms + i)
        producer.flush(timeout=CLIENT_TIMEOUT_MS / 1000)
    finally:
        producer.close()
    return topic, before_ms


# ---------------------------------------------------------------------------- health

def test_healthz_and_readyz_answer_once_the_broker_serves(admin_broker):
    assert request(admin_broker.admin_url + "/healthz")[:2] == (200, "ok")
    assert request(admin_broker.admin_url + "/readyz")[:2] == (200, "ready")


def test_unknown_paths_and_methods_are_json_errors(admin_broker):
    status, text, _ = request(admin_broker.admin_url + "/api/nothing-here")
    assert status == 404 and "error" in json.loads(text)
    status, text, _ = request(admin_broker.admin_url + "/api/topics", method="DELETE")
    assert status == 405 and "error" in json.loads(text)


def test_console_page_and_assets_are_served(admin_broker):
    status, page, headers = request(admin_broker.admin_url + "/")
    assert status == 200 and headers.get("Content-Type", "").startswith("text/html"), (status, headers)
    assets = re.findall(r'(?:src|href)="/?(assets/[^"]+)"', page)
    assert assets, page[:500]
    for asset in assets:
        assert request(admin_broker.admin_url + "/" + asset)[0] == 200, asset
    assert request(admin_broker.admin_url + "/assets/no-such-file.js")[0] == 404


# ---------------------------------------------------------------------------- metrics

def test_metrics_count_requests_and_bytes_per_api(admin_broker, produced):
    samples = metrics(admin_broker)
    produce_requests = sample(samples, "runnel_request_total", api="Produce")
    assert produce_requests is not None and produce_requests >= 1, samples.keys()
    assert sample(samples, "runnel_request_latency_seconds_count", api="Produce") == produce_requests
    assert sample(samples, "runnel_request_latency_seconds_bucket", api="Produce", le="+Inf") == produce_requests
    assert sample(samples, "runnel_network_bytes_received_total") > 0
    assert sample(samples, "runnel_network_bytes_sent_total") > 0
    assert sample(samples, "kafka_brokers") == 1
    # Scraping itself is not a Kafka request: the count moves only with Kafka traffic.
    assert sample(metrics(admin_broker), "runnel_request_total", api="Produce") == produce_requests


def test_metrics_partition_offsets_match_what_was_produced(admin_broker, produced):
    topic, _ = produced
    samples = metrics(admin_broker)
    assert sample(samples, "kafka_topic_partitions", topic=topic) == 2
    assert sample(samples, "kafka_topic_partition_current_offset", topic=topic, partition=0) == P0_RECORDS
    assert sample(samples, "kafka_topic_partition_current_offset", topic=topic, partition=1) == P1_RECORDS
    assert sample(samples, "kafka_topic_partition_oldest_offset", topic=topic, partition=0) == 0
    assert sample(samples, "runnel_partition_size_bytes", topic=topic, partition=0) > 0


def test_metrics_group_lag_from_committed_offsets(admin_broker, produced):
    topic, _ = produced
    group = unique("lagging")
    commit_as_admin(admin_broker.bootstrap, group, {TopicPartition(topic, 0): COMMITTED_P0,
                                                    TopicPartition(topic, 1): P1_RECORDS})
    samples = metrics(admin_broker)
    labels0 = dict(consumergroup=group, topic=topic, partition=0)
    labels1 = dict(consumergroup=group, topic=topic, partition=1)
    assert sample(samples, "kafka_consumergroup_current_offset", **labels0) == COMMITTED_P0
    assert sample(samples, "kafka_consumergroup_lag", **labels0) == P0_RECORDS - COMMITTED_P0
    assert sample(samples, "kafka_consumergroup_lag_seconds", **labels0) > 0
    assert sample(samples, "kafka_consumergroup_current_offset", **labels1) == P1_RECORDS
    assert sample(samples, "kafka_consumergroup_lag", **labels1) == 0
    assert sample(samples, "kafka_consumergroup_lag_seconds", **labels1) == 0
    assert sample(samples, "runnel_consumergroup_state", consumergroup=group, state="Empty") == 1
    assert sample(samples, "runnel_consumergroup_state", consumergroup=group, state="Stable") == 0
    assert sample(samples, "kafka_consumergroup_members", consumergroup=group) == 0


def group_consumer(broker, topic: str, group: str) -> KafkaConsumer:
    """A kafka-python member of `group` subscribed to `topic`, from earliest, committing by hand."""
    return KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id=group,
                         auto_offset_reset="earliest", enable_auto_commit=False,
                         session_timeout_ms=6000, heartbeat_interval_ms=500)


def test_a_subscribed_consumer_is_a_stable_member_and_catches_up_to_zero_lag(admin_broker, produced):
    topic, _ = produced
    group = unique("reader")
    consumer = group_consumer(admin_broker, topic, group)
    try:
        read: list = []
        deadline = time.monotonic() + JOIN_WAIT_S
        while len(read) < P0_RECORDS + P1_RECORDS and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                read.extend(records)
        assert len(read) == P0_RECORDS + P1_RECORDS
        consumer.commit()
        samples = metrics(admin_broker)
        assert sample(samples, "runnel_consumergroup_state", consumergroup=group, state="Stable") == 1
        assert sample(samples, "kafka_consumergroup_members", consumergroup=group) == 1
        for partition, end in ((0, P0_RECORDS), (1, P1_RECORDS)):
            labels = dict(consumergroup=group, topic=topic, partition=partition)
            assert sample(samples, "kafka_consumergroup_current_offset", **labels) == end
            assert sample(samples, "kafka_consumergroup_lag", **labels) == 0
            assert sample(samples, "kafka_consumergroup_lag_seconds", **labels) == 0
        view = get_json(admin_broker, f"/api/groups/{group}")
        assert view["state"] == "Stable" and view["generation"] >= 1 and len(view["members"]) == 1
        member = view["members"][0]
        assert view["leader"] == member["member_id"]
        assert member["assignment"] == [{"topic": topic, "partitions": [0, 1]}]
        assert view["protocol_type"] == "consumer" and view["protocol"]
    finally:
        consumer.close()
    samples = metrics(admin_broker)
    assert sample(samples, "runnel_consumergroup_state", consumergroup=group, state="Empty") == 1
    assert sample(samples, "kafka_consumergroup_members", consumergroup=group) == 0


# ---------------------------------------------------------------------------- JSON API

def test_cluster_and_topic_views(admin_broker, produced):
    topic, _ = produced
    cluster = get_json(admin_broker, "/api/cluster")
    assert cluster["ready"] is True and cluster["broker_id"] == 1 and cluster["cluster_id"]
    assert {"name": "PLAINTEXT", "host": "127.0.0.1", "port": admin_broker.port,
            "security_protocol": "PLAINTEXT"} in cluster["listeners"]
    assert cluster["topics"] >= 1 and cluster["partitions"] >= 2
    assert cluster["started_at_ms"] <= cluster["now_ms"]

    listed = {t["name"]: t for t in get_json(admin_broker, "/api/topics")}
    assert listed[topic]["partitions"] == 2 and listed[topic]["internal"] is False
    assert listed[topic]["log_end_offset_total"] == P0_RECORDS + P1_RECORDS
    assert listed[topic]["size_bytes"] > 0

    detail = get_json(admin_broker, f"/api/topics/{topic}")
    p0 = detail["partitions"][0]
    assert (p0["partition"], p0["log_start_offset"], p0["log_end_offset"], p0["high_watermark"]) == (0, 0, P0_RECORDS, P0_RECORDS)
    assert p0["leader"] == 1 and p0["replicas"] == [1]
    configs = {c["name"]: c for c in detail["configs"]}
    assert configs["cleanup.policy"]["value"] == "delete" and configs["cleanup.policy"]["source"] == "DEFAULT_CONFIG"

    status, text, _ = request(admin_broker.admin_url + "/api/topics/no-such-topic")
    assert status == 404 and "no-such-topic" in json.loads(text)["error"]


def test_message_browser_by_offset_and_by_timestamp(admin_broker, produced):
    topic, before_ms = produced
    page = get_json(admin_broker, f"/api/topics/{topic}/messages?partition=0&offset=2&limit=3")
    assert page["partition"] == 0
    assert [(r["offset"], r["key"], r["value"]) for r in page["records"]] == [
        (2, "k2", "value-2"), (3, "k3", "value-3"), (4, "k4", "value-4")]
    assert page["records"][0]["headers"] == [{"key": "h", "value": "x"}]
    assert page["records"][0]["timestamp_ms"] == before_ms + 2

    by_time = get_json(admin_broker, f"/api/topics/{topic}/messages?partition=0&timestamp={before_ms + 5}")
    assert [r["offset"] for r in by_time["records"]] == [5, 6]

    binary = get_json(admin_broker, f"/api/topics/{topic}/messages?partition=1&offset=0&limit=1")
    assert binary["records"][0]["key"] is None
    assert binary["records"][0]["value"] == {"base64": base64.b64encode(bytes([0xff, 0])).decode()}

    assert request(admin_broker.admin_url + f"/api/topics/{topic}/messages?limit=501")[0] == 400
    assert request(admin_broker.admin_url + f"/api/topics/{topic}/messages?partition=9")[0] == 404


def test_groups_list_and_lag_history(admin_broker, produced):
    topic, _ = produced
    group = unique("sampled")
    commit_as_admin(admin_broker.bootstrap, group, {TopicPartition(topic, 0): 1})
    listed = {g["group_id"]: g for g in get_json(admin_broker, "/api/groups")}
    assert listed[group]["state"] == "Empty" and listed[group]["members"] == 0
    assert listed[group]["lag_total"] == P0_RECORDS - 1

    def sampled():
        history = get_json(admin_broker, f"/api/groups/{group}/lag")
        return history if history["samples"] else None

    history = wait_until(sampled, LAG_SAMPLE_WAIT_S, "a lag sample")
    assert history["interval_ms"] == 5000
    assert {"topic": topic, "partition": 0, "lag": P0_RECORDS - 1} in history["samples"][-1]["partitions"]
    assert request(admin_broker.admin_url + "/api/groups/no-such-group")[0] == 404


# ---------------------------------------------------------------------------- reset-offsets

def reset(broker: RunnelBroker, group: str, body: dict) -> tuple[int, dict]:
    status, text, _ = request(broker.admin_url + f"/api/groups/{group}/reset-offsets", method="POST", body=body)
    return status, json.loads(text)


def committed(broker: RunnelBroker, group: str, topic: str) -> dict[int, int]:
    view = get_json(broker, f"/api/groups/{group}")
    return {o["partition"]: o["committed_offset"] for o in view["offsets"] if o["topic"] == topic}


def test_reset_offsets_dry_run_changes_nothing_and_execute_commits(admin_broker, produced):
    topic, before_ms = produced
    group = unique("reset")
    commit_as_admin(admin_broker.bootstrap, group, {TopicPartition(topic, 0): 5, TopicPartition(topic, 1): 1})

    status, dry = reset(admin_broker, group, {"topic": topic, "to": "earliest"})
    assert status == 200 and dry["execute"] is False
    assert sorted((p["partition"], p["current_offset"], p["new_offset"]) for p in dry["plan"]) == [(0, 5, 0), (1, 1, 0)]
    assert committed(admin_broker, group, topic) == {0: 5, 1: 1}

    status, shifted = reset(admin_broker, group, {"topic": topic, "partitions": [0], "to": "shift", "value": 100})
    assert status == 200 and shifted["plan"][0]["new_offset"] == P0_RECORDS  # clamped to the log end
    status, timed = reset(admin_broker, group, {"topic": topic, "partitions": [0], "to": "timestamp", "value": before_ms + 3})
    assert status == 200 and timed["plan"][0]["new_offset"] == 3

    status, done = reset(admin_broker, group, {"topic": topic, "partitions": [0], "to": "offset", "value": 2,
                                               "execute": True})
    assert status == 200 and done["execute"] is True
    assert committed(admin_broker, group, topic) == {0: 2, 1: 1}
    # What a Kafka client sees, not just the admin view.
    consumer = KafkaConsumer(bootstrap_servers=admin_broker.bootstrap, group_id=group, enable_auto_commit=False)
    try:
        assert consumer.committed(TopicPartition(topic, 0)) == 2
    finally:
        consumer.close()
    assert sample(metrics(admin_broker), "kafka_consumergroup_lag", consumergroup=group, topic=topic,
                  partition=0) == P0_RECORDS - 2

    assert reset(admin_broker, group, {"topic": topic, "to": "sideways"})[0] == 400
    assert reset(admin_broker, group, {"topic": "no-such-topic", "to": "latest"})[0] == 404


def test_reset_offsets_execute_is_refused_while_the_group_is_active(admin_broker, produced):
    topic, _ = produced
    group = unique("active")
    consumer = group_consumer(admin_broker, topic, group)
    try:
        wait_until(lambda: consumer.poll(timeout_ms=200) is not None and consumer.assignment(), JOIN_WAIT_S,
                   "the consumer to join")
        status, body = reset(admin_broker, group, {"topic": topic, "to": "earliest", "execute": True})
        assert status == 409
        assert body["error"] == (f"Assignments can only be reset if the group '{group}' is inactive, "
                                 "but the current state is Stable.")
        # A dry run is still allowed.
        assert reset(admin_broker, group, {"topic": topic, "to": "earliest"})[0] == 200
    finally:
        consumer.close()


# ---------------------------------------------------------------------------- auth and TLS

def test_basic_auth_guards_everything_but_health(tmp_path):
    users = {"admin.basic.auth.users": "ops:s3cret,viewer:other"}
    with RunnelBroker(users, workdir=tmp_path) as broker:
        assert request(broker.admin_url + "/healthz")[0] == 200
        assert request(broker.admin_url + "/readyz")[0] == 200
        status, text, headers = request(broker.admin_url + "/metrics")
        assert status == 401 and headers.get("WWW-Authenticate", "").startswith("Basic")
        assert "error" in json.loads(text)
        assert request(broker.admin_url + "/api/topics", auth=("ops", "wrong"))[0] == 401
        assert request(broker.admin_url + "/api/topics", auth=("nobody", "s3cret"))[0] == 401
        assert request(broker.admin_url + "/api/topics", auth=("ops", "s3cret"))[0] == 200
        assert request(broker.admin_url + "/metrics", auth=("viewer", "other"))[0] == 200


def test_tls_admin_listener_serves_https_with_the_broker_keystore(tmp_path):
    certs = make_certs(tmp_path / "certs")
    config = {"admin.listener.security.protocol": "SSL", **server_ssl_settings(certs, client_auth="none")}
    with RunnelBroker(config, workdir=tmp_path / "broker") as broker:
        assert broker.admin_url.startswith("https://")
        context = ssl.create_default_context(cafile=str(certs.ca))
        assert request(broker.admin_url + "/readyz", context=context)[:2] == (200, "ready")
        assert request(broker.admin_url + "/api/cluster", context=context)[0] == 200
        plain = broker.admin_url.replace("https://", "http://")
        with pytest.raises((urllib.error.URLError, http.client.HTTPException, OSError)):
            request(plain + "/healthz")


def test_two_harness_brokers_get_their_own_admin_listeners(tmp_path, admin_broker):
    with RunnelBroker(workdir=tmp_path) as other:
        assert other.admin_url != admin_broker.admin_url
        clusters = [get_json(b, "/api/cluster") for b in (admin_broker, other)]
        assert clusters[0]["cluster_id"] != clusters[1]["cluster_id"]
        assert [c["listeners"][0]["port"] for c in clusters] == [admin_broker.port, other.port]


def test_invalid_admin_settings_stop_the_broker_with_a_clear_error(tmp_path):
    broker = RunnelBroker({"admin.listener": "not-an-address"}, workdir=tmp_path, start_timeout_s=10)
    try:
        with pytest.raises(Exception) as failed:
            broker.start()
        assert "admin.listener" in str(failed.value)
    finally:
        broker.close()
