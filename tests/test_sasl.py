"""SASL with real clients, against Runnel and Kafka alike.

Each broker gets a SASL_SSL listener (SCRAM-SHA-256 and SCRAM-SHA-512, server certificate only)
and a SASL_PLAINTEXT listener (PLAIN users from its JAAS config, and SCRAM-SHA-256), beside the
PLAINTEXT one the users are managed through.

- The seed's user story (topic, 10 keyed records, a group with auto commit, committed offsets)
  over SASL_SSL with SCRAM by confluent-kafka and by Kafka's console tools (client.properties
  with sasl.jaas.config), and over SASL_PLAINTEXT with PLAIN by kafka-python.
- Users made by `runnel user create` and by Kafka's ConfigCommand (--add-config
  'SCRAM-SHA-256=[password=...]' --entity-type users) on both brokers authenticate; `runnel
  user list` and ConfigCommand --describe agree; `runnel user delete` removes a user, whose
  next login fails.
- runnel-client (the runnel CLI) connects with SCRAM over SASL_SSL.
- Credentials survive a broker restart.
Bad SASL input is in test_sasl_bad_input.py.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest

from harness import make_broker, wire
from harness.certs import make_certs
from harness.fixtures import serve_shared
from harness.paths import RUNNEL_BIN
from harness.ports import LOOPBACK
from harness.sasl_clients import (PLAIN_USERS, ck_sasl, ck_sasl_story, config_command, create_scram_user,
                                  java_sasl_properties, java_sasl_story, kp_sasl, kp_sasl_story, plain_login,
                                  runnel_user, sasl_plaintext_settings, sasl_ssl_settings, scram_login,
                                  wait_for_scram_user)
from harness.tls_clients import tls_socket

LISTENERS = {"SASL_SSL": "SASL_SSL", "SASL_PLAINTEXT": "SASL_PLAINTEXT"}
MAX_PROBLEMS_SHOWN = 8
CLI_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("sasl-certs"))


def broker_settings(certs) -> dict:
    return {**sasl_ssl_settings(certs),
            **sasl_plaintext_settings(mechanisms=("PLAIN", "SCRAM-SHA-256"))}


_shared: dict = {}


@pytest.fixture(scope="module")
def sasl_brokers(certs, tmp_path_factory):
    yield _shared
    for b in _shared.values():
        b.close(remove_workdir=False)
    _shared.clear()


@pytest.fixture(params=["runnel", "kafka"])
def sasl_broker(request, sasl_brokers, certs, tmp_path_factory):
    kind = request.param
    if kind not in sasl_brokers:
        b = make_broker(kind, broker_settings(certs), workdir=tmp_path_factory.mktemp(f"{kind}-sasl"),
                        extra_listeners=LISTENERS)
        b.start()
        sasl_brokers[kind] = b
    yield from serve_shared(request, sasl_brokers[kind])


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:6]}"


def _check(result) -> None:
    problems = result.problems()
    assert not problems, "\n".join(problems[:MAX_PROBLEMS_SHOWN])


def test_user_story_over_sasl_ssl_with_scram_by_confluent_kafka(sasl_broker, certs, topic):
    user, password = unique("ck"), "ck-password-1"
    create_scram_user(sasl_broker.bootstrap, user, password, "SCRAM-SHA-256")
    client = ck_sasl("SASL_SSL", "SCRAM-SHA-256", user, password, certs)
    _check(ck_sasl_story(sasl_broker.listener_bootstrap("SASL_SSL"), client, topic, f"{topic}-g"))


def test_user_story_over_sasl_ssl_with_scram_by_the_java_console_tools(sasl_broker, certs, topic, tmp_path):
    user, password = unique("java"), "java-password-1"
    create_scram_user(sasl_broker.bootstrap, user, password, "SCRAM-SHA-512")
    props = java_sasl_properties(tmp_path / "client.properties", "SASL_SSL", "SCRAM-SHA-512", user, password, certs)
    _check(java_sasl_story(sasl_broker.listener_bootstrap("SASL_SSL"), props, topic, f"{topic}-g"))


def test_user_story_over_sasl_plaintext_with_plain_by_kafka_python(sasl_broker, topic):
    client = kp_sasl("SASL_PLAINTEXT", "PLAIN", "alice", PLAIN_USERS["alice"])
    _check(kp_sasl_story(sasl_broker.listener_bootstrap("SASL_PLAINTEXT"), client, topic, f"{topic}-g"))


def test_users_made_by_kafkas_config_command_authenticate_and_are_described_alike(sasl_broker, certs):
    user = unique("cfg")
    for mechanism, password in (("SCRAM-SHA-256", "cfg-256-pw"), ("SCRAM-SHA-512", "cfg-512-pw")):
        res = config_command(sasl_broker.bootstrap, "--alter", "--add-config",
                             f"{mechanism}=[iterations=8192,password={password}]", "--entity-type", "users",
                             "--entity-name", user)
        assert res.returncode == 0, res.describe()
        assert f"Completed updating config for user {user}." in res.stdout, res.describe()
        wait_for_scram_user(sasl_broker.bootstrap, user, mechanism)
        with tls_socket(sasl_broker.listener_bootstrap("SASL_SSL"), certs, with_client_cert=False) as sock:
            assert scram_login(sock, mechanism, user, password).error_code == 0
            assert wire.metadata_v1(sock).brokers == [(1, LOOPBACK, sasl_broker.listener_ports["SASL_SSL"])]
    expected = {"SCRAM-SHA-256=iterations=8192", "SCRAM-SHA-512=iterations=8192"}
    if sasl_broker.kind == "kafka":
        # ConfigCommand --describe also lists client quotas (DescribeClientQuotas), which Runnel
        # does not implement; on Kafka its SCRAM line is what `runnel user list` prints.
        described = config_command(sasl_broker.bootstrap, "--describe", "--entity-type", "users", "--entity-name",
                                   user)
        assert described.returncode == 0, described.describe()
        assert _scram_line(described.stdout, user) == expected, described.describe()
    listed = runnel_user(sasl_broker.bootstrap, "list", user)
    assert listed.returncode == 0 and _scram_line(listed.stdout, user) == expected, listed


def _scram_line(printed: str, user: str) -> set[str]:
    """The mechanisms of kafka-configs' SCRAM line for user (Kafka lists them in hash order)."""
    prefix = f"SCRAM credential configs for user-principal '{user}' are "
    line = next((ln for ln in printed.splitlines() if ln.startswith(prefix)), None)
    assert line is not None, printed
    return set(line[len(prefix):].split(", "))


def test_runnel_user_create_list_and_delete(sasl_broker, certs):
    user, password = unique("carol"), "carol-pw"
    res = runnel_user(sasl_broker.bootstrap, "create", user, "--password", password, "--iterations", "4096")
    assert (res.returncode, res.stdout) == (0, f"Completed updating config for user {user}.\n"), res
    wait_for_scram_user(sasl_broker.bootstrap, user, "SCRAM-SHA-256")
    listed = runnel_user(sasl_broker.bootstrap, "list", user)
    assert listed.stdout == f"SCRAM credential configs for user-principal '{user}' are SCRAM-SHA-256=iterations=4096\n"
    everyone = runnel_user(sasl_broker.bootstrap, "list", "--format", "json")
    assert everyone.returncode == 0 and f'"user":"{user}"' in everyone.stdout.replace(" ", ""), everyone
    # The new user logs in on the SASL_PLAINTEXT listener too (SCRAM-SHA-256 is enabled there).
    with wire.connect(sasl_broker.listener_bootstrap("SASL_PLAINTEXT")) as sock:
        assert scram_login(sock, "SCRAM-SHA-256", user, password).error_code == 0

    res = runnel_user(sasl_broker.bootstrap, "delete", user)
    assert (res.returncode, res.stdout) == (0, f"Completed updating config for user {user}.\n"), res
    gone = runnel_user(sasl_broker.bootstrap, "list", user)
    assert gone.returncode != 0 and "RESOURCE_NOT_FOUND" in gone.stderr, gone
    again = runnel_user(sasl_broker.bootstrap, "delete", user)
    assert again.returncode != 0 and f"user {user} has no SCRAM credentials" in again.stderr, again
    # The list above already shows the deletion published, so the next login fails.
    with tls_socket(sasl_broker.listener_bootstrap("SASL_SSL"), certs, with_client_cert=False) as sock:
        assert scram_login(sock, "SCRAM-SHA-256", user, password).error_code == 58


def test_runnel_user_refuses_bad_input_with_the_brokers_answer(sasl_broker):
    too_few = runnel_user(sasl_broker.bootstrap, "create", unique("few"), "--password", "p", "--iterations", "100")
    assert too_few.returncode != 0 and "UNACCEPTABLE_CREDENTIAL" in too_few.stderr and "Too few iterations" in \
        too_few.stderr, too_few
    bad = runnel_user(sasl_broker.bootstrap, "create", unique("md5"), "--password", "p", "--mechanism", "MD5")
    assert bad.returncode != 0 and "unknown SCRAM mechanism MD5" in bad.stderr, bad


def test_runnel_client_connects_with_scram_over_sasl_ssl(sasl_broker, certs, topic, tmp_path):
    user, password = unique("rc"), "rc-password"
    create_scram_user(sasl_broker.bootstrap, user, password, "SCRAM-SHA-512")
    props = java_sasl_properties(tmp_path / "runnel.properties", "SASL_SSL", "SCRAM-SHA-512", user, password, certs)
    bootstrap = sasl_broker.listener_bootstrap("SASL_SSL")

    def runnel(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(RUNNEL_BIN), *args, "-b", bootstrap, "--command-config", str(props)],
                              capture_output=True, text=True, timeout=CLI_TIMEOUT_S, input=stdin)

    created = runnel("topic", "create", topic, "--partitions", "2")
    assert created.returncode == 0, created.stderr
    produced = runnel("produce", topic, stdin="one\ntwo\nthree\n")
    assert produced.returncode == 0, produced.stderr
    consumed = runnel("consume", topic, "--from-beginning", "--max-messages", "3")
    assert consumed.returncode == 0, consumed.stderr
    assert sorted(consumed.stdout.split()) == ["one", "three", "two"], consumed
    # A wrong password is refused with Kafka's SCRAM message.
    wrong = java_sasl_properties(tmp_path / "wrong.properties", "SASL_SSL", "SCRAM-SHA-512", user, "nope", certs)
    res = subprocess.run([str(RUNNEL_BIN), "topic", "list", "-b", bootstrap, "--command-config", str(wrong)],
                         capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    assert res.returncode != 0 and "SASL_AUTHENTICATION_FAILED" in res.stderr, res
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in res.stderr, res


def test_scram_credentials_survive_a_restart(broker_factory, broker_kind, certs):
    b = broker_factory(broker_kind, sasl_ssl_settings(certs), extra_listeners={"SASL_SSL": "SASL_SSL"})
    create_scram_user(b.bootstrap, "dora", "dora-pw", "SCRAM-SHA-256")
    b.restart()
    with tls_socket(b.listener_bootstrap("SASL_SSL"), certs, with_client_cert=False) as sock:
        assert scram_login(sock, "SCRAM-SHA-256", "dora", "dora-pw").error_code == 0
        assert wire.metadata_v1(sock).brokers == [(1, LOOPBACK, b.listener_ports["SASL_SSL"])]


def test_plain_login_makes_the_principal_user_name_in_runnels_connection_log(broker_factory):
    b = broker_factory("runnel", sasl_plaintext_settings(), extra_listeners={"SASL_PLAINTEXT": "SASL_PLAINTEXT"},
                       env={"RUNNEL_LOG": "info,runnel_broker=debug"})
    with wire.connect(b.listener_bootstrap("SASL_PLAINTEXT")) as sock:
        assert plain_login(sock, "bob", PLAIN_USERS["bob"]).error_code == 0
        # An unknown API key closes the connection with one log line naming the principal.
        wire.send_all(sock, wire.request_frame(32000, 0, b"")[1])
        wire.read_until_closed(sock, 10.0)
    log = b.output_tail(200)
    assert "principal=User:bob" in log and "SASL authentication succeeded" in log, log
