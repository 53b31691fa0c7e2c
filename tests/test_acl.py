"""ACL authorization with real clients, against Runnel and Kafka alike.

Each broker runs Kafka's StandardAuthorizer settings (test_acl_support.secured_settings):
principals from client certificates (User:<CN>) on an SSL listener and from SASL PLAIN on a
SASL_PLAINTEXT listener; User:ANONYMOUS (PLAINTEXT) and User:admin are super users. The
matrix, with confluent-kafka and kafka-python:
- alice, allowed to WRITE topic t, produces (idempotently: WRITE on a topic allows her
  InitProducerId) but may not read it (TOPIC_AUTHORIZATION_FAILED);
- bob, allowed to READ t and group g, consumes alice's records in g and commits; in group h
  he gets GROUP_AUTHORIZATION_FAILED;
- a prefixed ALLOW (carol over SASL PLAIN on pre-*) covers pre-x and not other topics;
- a DENY for alice beats an ALLOW for User:*;
- the super user admin needs no ACL;
- Metadata hides the topics a principal may not describe, and answers
  TOPIC_AUTHORIZATION_FAILED for one asked for by name;
- CreateTopics without CREATE is TOPIC_AUTHORIZATION_FAILED; CREATE on the cluster allows any
  topic; the cluster-level denials (CLUSTER_AUTHORIZATION_FAILED) are CreateAcls without
  ALTER on the cluster, an idempotent producer with no WRITE anywhere, and the broker's
  configs without DESCRIBE_CONFIGS.
ACLs are managed with Kafka's kafka-acls and with `runnel acl` on both brokers: each CLI's
writes are seen by the other, and `runnel acl list` prints what kafka-acls --list prints.
ACLs survive a restart. Protocol-level answers are in test_acl_protocol.py.
"""

from __future__ import annotations

import time
import uuid

import pytest

from harness import BROKER_KINDS, make_broker, wire
from harness.certs import make_certs, write_client_properties
from harness.fixtures import serve_shared
from harness.sasl_clients import runnel_user
from harness.tls_clients import tls_socket
from test_acl_support import (ADMIN_CN, CLUSTER_AUTHORIZATION_FAILED, LISTENERS,
                              TOPIC_AUTHORIZATION_FAILED, acl_entries, ck_conf, clear_acls, issue_client_cert,
                              kafka_acls, kp_ssl, parse_listing, runnel_acl, secured_settings, wait_acl_count, wait_acls)

CLIENT_TIMEOUT_S = 30.0
CLIENT_TIMEOUT_MS = int(CLIENT_TIMEOUT_S * 1000)
API_INIT_PRODUCER_ID = 22
POLL_S = 0.5
RECORDS = 5
# What produce() reports when every record is refused.
WRITE_DENIED = ["TOPIC_AUTHORIZATION_FAILED"] * RECORDS


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("acl-certs"), client_cn="alice")


@pytest.fixture(scope="module")
def people(certs):
    return {
        "alice": issue_client_cert(certs, "alice"),
        "bob": issue_client_cert(certs, "bob"),
        ADMIN_CN: issue_client_cert(certs, ADMIN_CN),
    }


@pytest.fixture(scope="module", params=BROKER_KINDS)
def broker_kind(request) -> str:
    """conftest's broker_kind, module-scoped so the secured broker is shared by the module."""
    return request.param


@pytest.fixture(scope="module")
def secured_broker(broker_kind, certs, tmp_path_factory):
    b = make_broker(broker_kind, secured_settings(certs), workdir=tmp_path_factory.mktemp(f"{broker_kind}-acl"),
                    extra_listeners=LISTENERS)
    try:
        b.start()
        yield b
    finally:
        b.close(remove_workdir=False)


@pytest.fixture
def secured(request, secured_broker):
    """The module's secured broker, with no ACLs at the start of each test."""
    clear_acls(secured_broker.bootstrap)
    yield from serve_shared(request, secured_broker)


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:6]}"


def add(b, *args: str) -> None:
    res = kafka_acls(b.bootstrap, "--add", *args)
    assert res.returncode == 0, res.describe()


def grant(b, count: int, *acls: tuple[str, ...]) -> None:
    """Adds each ACL (kafka-acls argument lists) and waits until the broker has `count`."""
    for args in acls:
        add(b, *args)
    wait_acl_count(b.bootstrap, count)


def create_topic(b, topic: str, partitions: int = 1) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=CLIENT_TIMEOUT_S)


def produce(conf: dict, topic: str, count: int = RECORDS, *, idempotent: bool = False) -> list[str]:
    """Produces `count` records; the delivery errors (names), empty when all were written."""
    from confluent_kafka import Producer

    errors: list[str] = []
    producer = Producer({**conf, "message.timeout.ms": int(CLIENT_TIMEOUT_S * 1000), "enable.idempotence": idempotent})
    for i in range(count):
        producer.produce(topic, value=f"{topic}-{i}".encode(),
                         on_delivery=lambda err, _msg: err and errors.append(err.name()))
    remaining = producer.flush(CLIENT_TIMEOUT_S)
    assert remaining == 0 or errors, f"{remaining} records neither delivered nor failed"
    return errors


def consume_in_group(conf: dict, topic: str, group: str, count: int) -> tuple[list[str], str | None]:
    """Reads up to `count` records as a member of `group` and commits them; the values read and
    the first error's name."""
    from confluent_kafka import Consumer

    consumer = Consumer({**conf, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False})
    values: list[str] = []
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    try:
        consumer.subscribe([topic])
        while len(values) < count and time.monotonic() < deadline:
            msg = consumer.poll(POLL_S)
            if msg is None:
                continue
            if msg.error():
                return values, msg.error().name()
            values.append(msg.value().decode())
        if values:
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return values, None


def assigned_read_error(certs, who, b, topic: str) -> str | None:
    """kafka-python reading partition 0 without a group: the error class name, if any."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    consumer = KafkaConsumer(bootstrap_servers=b.listener_bootstrap("SSL"), enable_auto_commit=False,
                             auto_offset_reset="earliest", **kp_ssl(certs, who))
    try:
        consumer.assign([TopicPartition(topic, 0)])
        deadline = time.monotonic() + CLIENT_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if consumer.poll(timeout_ms=int(POLL_S * 1000)):
                    return None
            except KafkaError as error:
                return type(error).__name__
        return None
    finally:
        consumer.close()


def topic_names(conf: dict) -> set[str]:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(conf)
    return set(admin.list_topics(timeout=CLIENT_TIMEOUT_S).topics)


def topic_error(conf: dict, topic: str) -> int:
    """The error code Metadata answers for one topic asked for by name (0: none)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({**conf, "allow.auto.create.topics": False})
    md = admin.list_topics(topic=topic, timeout=CLIENT_TIMEOUT_S)
    error = md.topics[topic].error
    return 0 if error is None else error.code()


def create_topic_error(conf: dict, topic: str) -> int:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(conf)  # kept alive until the answer: a dropped client cancels its calls
    future = admin.create_topics([NewTopic(topic, 1, 1)])[topic]
    try:
        future.result(timeout=CLIENT_TIMEOUT_S)
        return 0
    except KafkaException as error:
        return error.args[0].code()


def test_alice_may_write_a_topic_but_not_read_it(secured, certs, people):
    t = unique("t")
    create_topic(secured, t)
    grant(secured, 1, ("--allow-principal", "User:alice", "--operation", "Write", "--topic", t))
    alice = ck_conf(secured, certs, people["alice"])
    assert produce(alice, t, idempotent=True) == [], "WRITE on t allows an idempotent producer"
    assert assigned_read_error(certs, people["alice"], secured, t) == "TopicAuthorizationFailedError"
    assert produce(ck_conf(secured, certs, people["bob"]), t) == WRITE_DENIED


def test_bob_reads_with_group_g_but_not_with_group_h(secured, certs, people):
    t = unique("t")
    create_topic(secured, t)
    assert produce(ck_conf(secured, certs, None), t) == []
    grant(secured, 2,
          ("--allow-principal", "User:bob", "--operation", "Read", "--topic", t),
          ("--allow-principal", "User:bob", "--operation", "Read", "--group", "g"))
    bob = ck_conf(secured, certs, people["bob"])
    values, error = consume_in_group(bob, t, "g", RECORDS)
    assert (sorted(values), error) == (sorted(f"{t}-{i}" for i in range(RECORDS)), None)
    values, error = consume_in_group(bob, t, "h", RECORDS)
    assert (values, error) == ([], "GROUP_AUTHORIZATION_FAILED")


def test_a_prefixed_allow_covers_the_names_it_begins(secured, certs):
    stem = unique("pre")
    for topic in (f"{stem}-x", f"other-{stem}"):
        create_topic(secured, topic)
    grant(secured, 1, ("--allow-principal", "User:carol", "--operation", "Write", "--topic", f"{stem}-",
                       "--resource-pattern-type", "prefixed"))
    carol = ck_conf(secured, certs, "carol")
    assert produce(carol, f"{stem}-x") == []
    assert produce(carol, f"other-{stem}") == WRITE_DENIED


def test_a_deny_overrides_an_allow(secured, certs, people):
    t = unique("d")
    create_topic(secured, t)
    grant(secured, 2,
          ("--allow-principal", "User:*", "--operation", "Write", "--topic", t),
          ("--deny-principal", "User:alice", "--operation", "Write", "--topic", t))
    assert produce(ck_conf(secured, certs, people["alice"]), t) == WRITE_DENIED
    assert produce(ck_conf(secured, certs, people["bob"]), t) == []


def test_a_super_user_needs_no_acl(secured, certs, people):
    t = unique("s")
    grant(secured, 1, ("--deny-principal", "User:*", "--operation", "All", "--topic", "*"))
    admin = ck_conf(secured, certs, people[ADMIN_CN])
    assert create_topic_error(admin, t) == 0
    assert produce(admin, t) == []
    values, error = consume_in_group(admin, t, unique("admin-group"), RECORDS)
    assert (len(values), error) == (RECORDS, None)
    assert produce(ck_conf(secured, certs, "carol"), t) == WRITE_DENIED


def test_metadata_hides_topics_the_principal_may_not_describe(secured, certs, people):
    mine, secret = unique("visible"), unique("secret")
    for topic in (mine, secret):
        create_topic(secured, topic)
    grant(secured, 1, ("--allow-principal", "User:alice", "--operation", "Read", "--topic", mine))
    alice = ck_conf(secured, certs, people["alice"])
    names = topic_names(alice)
    assert mine in names and secret not in names, names
    assert topic_error(alice, secret) == TOPIC_AUTHORIZATION_FAILED
    assert topic_error(alice, unique("absent")) == TOPIC_AUTHORIZATION_FAILED, "existence is not disclosed"
    assert secret in topic_names(ck_conf(secured, certs, None))


def test_create_topics_needs_create_on_the_topic_or_the_cluster(secured, certs, people):
    alice = ck_conf(secured, certs, people["alice"])
    assert create_topic_error(alice, unique("nope")) == TOPIC_AUTHORIZATION_FAILED
    grant(secured, 1, ("--allow-principal", "User:alice", "--operation", "Create", "--cluster"))
    assert create_topic_error(alice, unique("any")) == 0


def test_cluster_level_denials(secured, certs, people):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AclBinding, AclOperation, AclPermissionType, AdminClient, ConfigResource
    from confluent_kafka.admin import ResourcePatternType, ResourceType

    t = unique("c")
    create_topic(secured, t)
    bob = ck_conf(secured, certs, people["bob"])
    binding = AclBinding(ResourceType.TOPIC, t, ResourcePatternType.LITERAL, "User:bob", "*", AclOperation.READ,
                         AclPermissionType.ALLOW)
    admin = AdminClient(bob)
    with pytest.raises(KafkaException) as raised:
        admin.create_acls([binding])[binding].result(timeout=CLIENT_TIMEOUT_S)
    assert raised.value.args[0].code() == CLUSTER_AUTHORIZATION_FAILED, "CreateAcls needs ALTER on the cluster"
    broker = ConfigResource(ConfigResource.Type.BROKER, "1")
    with pytest.raises(KafkaException) as raised:
        admin.describe_configs([broker])[broker].result(timeout=CLIENT_TIMEOUT_S)
    assert raised.value.args[0].code() == CLUSTER_AUTHORIZATION_FAILED
    grant(secured, 1, ("--allow-principal", "User:bob", "--operation", "Read", "--topic", t))
    bob_tls = secured.listener_bootstrap("SSL")
    assert init_producer_id_error(bob_tls, certs, people["bob"]) == CLUSTER_AUTHORIZATION_FAILED, "READ is not WRITE"
    grant(secured, 2, ("--allow-principal", "User:bob", "--operation", "IdempotentWrite", "--cluster"))
    assert init_producer_id_error(bob_tls, certs, people["bob"]) == 0


def init_producer_id_error(bootstrap: str, certs, who) -> int:
    """InitProducerId v0 for an idempotent producer (no transactional id), over TLS as `who`."""
    with tls_socket(bootstrap, certs, cert=who.cert, key=who.key) as sock:
        r = wire.call(sock, API_INIT_PRODUCER_ID, 0, wire.string(None) + wire.int32(CLIENT_TIMEOUT_MS))
        r.int32()  # throttle
        return r.int16()


def test_acls_written_by_either_cli_are_listed_alike_by_both(secured):
    t, g = unique("t"), unique("g")
    add(secured, "--allow-principal", "User:alice", "--operation", "Write", "--operation", "Read", "--topic", t)
    res = runnel_acl(secured.bootstrap, "create", "--deny-principal", "User:bob", "--deny-host", "10.0.0.1",
                     "--operation", "All", "--group", g)
    assert res.returncode == 0, res.stderr
    assert res.stdout == (f"Adding ACLs for resource `ResourcePattern(resourceType=GROUP, name={g}, patternType=LITERAL)`: \n"
                          " \t(principal=User:bob, host=10.0.0.1, operation=ALL, permissionType=DENY)\n\n")
    res = runnel_acl(secured.bootstrap, "create", "--allow-principal", "User:carol", "--operation", "Read",
                     "--topic", f"{t}-", "--resource-pattern-type", "prefixed")
    assert res.returncode == 0, res.stderr
    res = runnel_acl(secured.bootstrap, "create", "--allow-principal", "User:ops", "--operation", "Create", "--cluster")
    assert res.returncode == 0, res.stderr
    wait_acl_count(secured.bootstrap, 5)

    theirs = kafka_acls(secured.bootstrap, "--list")
    ours = runnel_acl(secured.bootstrap, "list")
    assert theirs.returncode == 0 and ours.returncode == 0, (theirs.describe(), ours.stderr)
    assert parse_listing(ours.stdout) == parse_listing(theirs.stdout)
    assert len(parse_listing(ours.stdout)) == 4
    assert ours.stdout.count("Current ACLs for resource `") == 4 and ours.stdout.endswith("\n\n")

    for args in (["--topic", t], ["--topic", f"{t}-x", "--resource-pattern-type", "match"], ["--cluster"]):
        theirs = kafka_acls(secured.bootstrap, "--list", *args)
        ours = runnel_acl(secured.bootstrap, "list", *args)
        assert parse_listing(ours.stdout) == parse_listing(theirs.stdout), args
    by_principal = runnel_acl(secured.bootstrap, "list", "--principal", "User:alice")
    assert by_principal.stdout.startswith("ACLs for principal `User:alice`\n")
    assert parse_listing(by_principal.stdout) == parse_listing(kafka_acls(secured.bootstrap, "--list", "--principal", "User:alice").stdout)

    res = runnel_acl(secured.bootstrap, "delete", "--allow-principal", "User:alice", "--operation", "Read", "--topic", t, "--force")
    assert res.returncode == 0, res.stderr
    wait_acl_count(secured.bootstrap, 4)
    remaining = acl_entries(secured.bootstrap)
    assert not any("operation=READ" in entry and "User:alice" in entry for _, entry in remaining), remaining
    res = kafka_acls(secured.bootstrap, "--remove", "--group", g, "--force")
    assert res.returncode == 0, res.describe()
    wait_acl_count(secured.bootstrap, 3)
    assert all(f"name={g}," not in resource for resource, _ in acl_entries(secured.bootstrap))


def test_runnel_acl_refuses_what_kafka_acls_refuses(secured):
    for args, words in [
        (["create", "--allow-principal", "User:x", "--operation", "Read", "--cluster"], "ResourceType CLUSTER only supports operations"),
        (["create", "--allow-principal", "User:x", "--operation", "Read", "--topic", "z", "--resource-pattern-type", "match"],
         "'MATCH' is not valid when adding acls"),
        (["create", "--operation", "Read", "--topic", "z"], "--allow-principal, --deny-principal"),
        (["create", "--allow-principal", "User:x", "--operation", "Read"], "at least one resource"),
        (["create", "--allow-principal", "alice", "--topic", "z"], "principalType:principalName"),
    ]:
        res = runnel_acl(secured.bootstrap, *args)
        assert res.returncode != 0 and words in res.stderr, (args, res.stderr)
    assert acl_entries(secured.bootstrap) == set()


def test_runnel_acl_delete_asks_first_without_force(secured):
    t = unique("t")
    add(secured, "--allow-principal", "User:alice", "--operation", "Read", "--topic", t)
    wait_acl_count(secured.bootstrap, 1)
    res = runnel_acl(secured.bootstrap, "delete", "--topic", t, stdin="n\n")
    assert res.returncode == 0, res.stderr
    assert "Are you sure you want to delete all ACLs for resource filter" in res.stdout
    assert len(acl_entries(secured.bootstrap)) == 1
    res = runnel_acl(secured.bootstrap, "delete", "--topic", t, stdin="y\n")
    assert res.returncode == 0, res.stderr
    wait_acl_count(secured.bootstrap, 0)


def test_acls_survive_a_restart(broker_factory, broker_kind, certs, people, tmp_path):
    b = broker_factory(broker_kind, secured_settings(certs), extra_listeners=LISTENERS)
    t = unique("r")
    create_topic(b, t)
    grant(b, 2, ("--allow-principal", "User:alice", "--operation", "Write", "--topic", t),
          ("--deny-principal", "User:alice", "--operation", "Write", "--topic", "blocked"))
    before = acl_entries(b.bootstrap)
    b.restart()
    wait_acls(b.bootstrap, lambda acls: len(acls) == 2, "the ACLs written before the restart")
    assert acl_entries(b.bootstrap) == before
    alice = ck_conf(b, certs, people["alice"])
    assert produce(alice, t) == []
    assert produce(ck_conf(b, certs, people["bob"]), t) == WRITE_DENIED


def operations(described) -> set[str]:
    return {op.name for op in (described.authorized_operations or [])}


def test_authorized_operations_are_those_the_acls_allow(secured, certs, people):
    from confluent_kafka import TopicCollection
    from confluent_kafka.admin import AdminClient

    t = unique("ops")
    create_topic(secured, t)
    grant(secured, 3,
          ("--allow-principal", "User:alice", "--operation", "Alter", "--cluster"),
          ("--allow-principal", "User:alice", "--operation", "Read", "--topic", t),
          ("--allow-principal", "User:alice", "--operation", "AlterConfigs", "--topic", t))
    admin = AdminClient(ck_conf(secured, certs, people["alice"]))
    cluster = admin.describe_cluster(include_authorized_operations=True).result(timeout=CLIENT_TIMEOUT_S)
    assert operations(cluster) == {"ALTER", "DESCRIBE"}, "ALTER implies DESCRIBE"
    topics = admin.describe_topics(TopicCollection([t]), include_authorized_operations=True)
    described = topics[t].result(timeout=CLIENT_TIMEOUT_S)
    assert operations(described) == {"READ", "DESCRIBE", "ALTER_CONFIGS", "DESCRIBE_CONFIGS"}
    bob = AdminClient(ck_conf(secured, certs, people["bob"]))
    cluster = bob.describe_cluster(include_authorized_operations=True).result(timeout=CLIENT_TIMEOUT_S)
    assert operations(cluster) == set(), "no DESCRIBE on the cluster: no operations"


def test_an_open_broker_reports_every_supported_operation(broker, topic):
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    cluster = admin.describe_cluster(include_authorized_operations=True).result(timeout=CLIENT_TIMEOUT_S)
    assert operations(cluster) == {"CREATE", "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE",
                                   "ALTER", "DESCRIBE"}
    create_topic(broker, topic)
    group = unique("open-group")
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
    finally:
        consumer.close()
    described = admin.describe_consumer_groups([group], include_authorized_operations=True)[group].result(
        timeout=CLIENT_TIMEOUT_S)
    assert operations(described) == {"READ", "DESCRIBE", "DELETE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"}


def test_scram_users_need_the_cluster(secured, certs, people, tmp_path):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                       UserScramCredentialUpsertion)

    bob = people["bob"]
    keystore = tmp_path / "bob-keystore.pem"
    keystore.write_text(bob.key.read_text() + bob.cert.read_text())
    properties = write_client_properties(tmp_path / "bob.properties", certs, keystore=keystore)
    # confluent-kafka 2.16 aborts on a refused DescribeUserScramCredentials (Kafka's answer
    # too), so the describe goes through the runnel CLI; it names a user, because Kafka 4.1
    # never answers a refused describe of every user (a null pointer in its error response).
    listed = runnel_user(secured.listener_bootstrap("SSL"), "list", "erin", command_config=properties)
    assert listed.returncode != 0 and "CLUSTER_AUTHORIZATION_FAILED" in listed.stderr, listed.stderr
    admin = AdminClient(ck_conf(secured, certs, bob))
    upsert = UserScramCredentialUpsertion("erin", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192), b"erin-secret")
    futures = admin.alter_user_scram_credentials([upsert])
    with pytest.raises(KafkaException) as raised:
        futures["erin"].result(timeout=CLIENT_TIMEOUT_S)
    assert raised.value.args[0].code() == CLUSTER_AUTHORIZATION_FAILED
