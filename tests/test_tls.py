"""SSL listeners with client certificates, against Runnel and Kafka alike.

- The seed's user story (2-partition topic, 10 keyed records, a group consuming with auto
  commit, committed offsets checked) over SSL with a client certificate, with kafka-python,
  confluent-kafka, Kafka's Java console tools and the runnel CLI on runnel-client (the last
  two reading one Java client.properties with a PEM keystore).
- A fetch of large record sets over SSL returns them byte for byte (Runnel sends such sets
  from its files on plain TCP; over TLS it must read them in and encrypt them).
- Metadata answers with the address advertised for the listener the client came in on.
- The broker starts with a PKCS12 keystore, with inline PEM (ssl.keystore.key and
  ssl.keystore.certificate.chain), with an encrypted PKCS#8 key (ssl.key.password), and with
  the set `runnel certs create` makes and the settings it prints.
Bad TLS input is in test_tls_bad_input.py.
"""

from __future__ import annotations

import random
import ssl
import subprocess
import uuid

import pytest

from harness import BrokerStartError, wire
from harness import wire_protocol as wp
from harness.certs import PKCS12_PASSWORD, Certs, make_certs, server_ssl_settings
from harness.paths import RUNNEL_BIN
from harness.ports import LOOPBACK
from harness.tls_clients import ck_user_story, java_user_story, kp_user_story, runnel_user_story, tls_socket

SSL = {"SSL": "SSL"}
MAX_PROBLEMS_SHOWN = 8
# Over the 32 KiB from which Runnel sends a record set from its files on plain TCP.
LARGE_VALUE_BYTES = 50_000
LARGE_VALUES = 4
CLI_TIMEOUT_S = 60
KEY_PASSWORD = "key-secret"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("tls-certs"))


@pytest.fixture
def ssl_broker(broker_factory, broker_kind, certs):
    return broker_factory(broker_kind, server_ssl_settings(certs), extra_listeners=SSL)


@pytest.mark.parametrize("story", [kp_user_story, ck_user_story, java_user_story, runnel_user_story],
                         ids=["kafka-python", "confluent-kafka", "java-console", "runnel-cli"])
def test_user_story_over_ssl_with_client_certificates(ssl_broker, certs, topic, tmp_path, story):
    group = f"{topic}-group"
    result = story(ssl_broker.listener_bootstrap("SSL"), certs, topic, group, tmp_path)
    problems = result.problems()
    assert not problems, "\n".join(problems[:MAX_PROBLEMS_SHOWN])


def _advertised(sock) -> list[tuple[int, str, int]]:
    return wire.metadata_v1(sock).brokers


def test_large_record_sets_fetched_over_ssl_come_back_byte_for_byte(ssl_broker, certs, topic):
    wp.create_topic(ssl_broker.bootstrap, topic)
    rng = random.Random(topic)
    values = [rng.randbytes(LARGE_VALUE_BYTES) for _ in range(LARGE_VALUES)]
    with wire.connect(ssl_broker.bootstrap) as plain:
        for value in values:
            res = wp.produce(plain, topic, 0, wp.batch([wp.BatchRecord(b"k", value)]))
            assert res.error_code == wp.ERROR_NONE, res
    with tls_socket(ssl_broker.listener_bootstrap("SSL"), certs) as sock:
        part = wp.fetch_one(sock, topic, 0, 0, partition_max_bytes=4 * 1024 * 1024)
    assert part.error_code == wp.ERROR_NONE, part
    assert wp.values_of(part.batches) == values


def test_metadata_advertises_the_address_of_the_listener_the_client_came_in_on(broker_factory, broker_kind, certs,
                                                                               tmp_path):
    b = broker_factory(broker_kind, server_ssl_settings(certs), extra_listeners=SSL, start=False)
    ssl_port = b.listener_ports["SSL"]
    # Different host names per listener, so a broker that mixes them up is caught.
    b.config["advertised.listeners"] = f"PLAINTEXT://{LOOPBACK}:{b.port},SSL://localhost:{ssl_port}"
    b.start()
    with wire.connect(b.bootstrap) as sock:
        assert _advertised(sock) == [(1, LOOPBACK, b.port)]
    with tls_socket(b.listener_bootstrap("SSL"), certs) as sock:
        assert _advertised(sock) == [(1, "localhost", ssl_port)]


def test_a_custom_listener_name_maps_to_ssl_through_the_protocol_map(broker_factory, broker_kind, certs, topic):
    b = broker_factory(broker_kind, server_ssl_settings(certs, prefix="listener.name.client."),
                       extra_listeners={"CLIENT": "SSL"})
    with tls_socket(b.listener_bootstrap("CLIENT"), certs) as sock:
        assert _advertised(sock) == [(1, LOOPBACK, b.listener_ports["CLIENT"])]
    result = kp_user_story(b.listener_bootstrap("CLIENT"), certs, topic, f"{topic}-g")
    assert not result.problems(), result.problems()


def _serves_tls_metadata(b, certs) -> None:
    with tls_socket(b.listener_bootstrap("SSL"), certs) as sock:
        assert _advertised(sock) == [(1, LOOPBACK, b.listener_ports["SSL"])]


def test_broker_with_a_pkcs12_keystore(broker_factory, broker_kind, certs):
    settings = {**server_ssl_settings(certs), "ssl.keystore.type": "PKCS12",
                "ssl.keystore.location": str(certs.server_p12), "ssl.keystore.password": PKCS12_PASSWORD}
    b = broker_factory(broker_kind, settings, extra_listeners=SSL)
    _serves_tls_metadata(b, certs)


def test_broker_with_inline_pem_keystore_and_truststore(broker_factory, broker_kind, certs):
    settings = {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.key": certs.server_key.read_text(),
        "ssl.keystore.certificate.chain": certs.server_cert.read_text(),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.certificates": certs.ca.read_text(),
        "ssl.client.auth": "required",
    }
    if broker_kind == "kafka":
        # A properties file holds one value per line: Kafka's documented form joins the PEM
        # onto one line (a backslash continuation does the same); Runnel gets real newlines
        # through --override, and the one-line form is tested below.
        settings = {k: (" ".join(v.split()) if "\n" in v else v) for k, v in settings.items()}
    b = broker_factory(broker_kind, settings, extra_listeners=SSL)
    _serves_tls_metadata(b, certs)


def test_inline_pem_joined_onto_one_line_as_in_a_properties_file(broker_factory, certs):
    one_line = {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.key": " ".join(certs.server_key.read_text().split()),
        "ssl.keystore.certificate.chain": " ".join(certs.server_cert.read_text().split()),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.certificates": " ".join(certs.ca.read_text().split()),
        "ssl.client.auth": "required",
    }
    b = broker_factory("runnel", one_line, extra_listeners=SSL)
    _serves_tls_metadata(b, certs)


def test_principal_from_the_client_certificate_appears_in_runnels_connection_log(broker_factory, certs):
    b = broker_factory("runnel", {**server_ssl_settings(certs), "ssl.principal.mapping.rules":
                                  "RULE:^CN=(.*?),OU=(.*?),O=(.*?)$/$1@$3/U,DEFAULT"},
                       extra_listeners=SSL, env={"RUNNEL_LOG": "info,runnel_broker=debug"})
    marker = uuid.uuid4().hex[:8]
    with tls_socket(b.listener_bootstrap("SSL"), certs) as sock:
        _advertised(sock)
        # An unknown API key closes the connection with one log line naming the principal.
        wire.send_all(sock, wire.request_frame(32000, 0, marker.encode())[1])
        wire.read_until_closed(sock, 10.0)
    log = b.output_tail(200)
    assert "principal=User:ALICE@RUNNEL" in log, log


def _server_properties_from(printed: str) -> dict[str, str]:
    """The ssl.* lines of the broker section `runnel certs create` prints."""
    section = printed.split("# --- broker: server.properties ---", 1)[1].split("\n# ---", 1)[0]
    pairs = (line.split("=", 1) for line in section.splitlines() if line.startswith("ssl."))
    return {k: v for k, v in pairs}


def test_runnel_certs_create_makes_a_set_both_brokers_accept(broker_factory, broker_kind, tmp_path):
    out_dir = tmp_path / "certs"
    res = subprocess.run([str(RUNNEL_BIN), "certs", "create", str(out_dir), "--host", "localhost", "--ip", LOOPBACK,
                          "--client", "alice", "--client", "bob"],
                         capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    assert res.returncode == 0, res.stderr
    settings = _server_properties_from(res.stdout)
    assert settings["ssl.client.auth"] == "required", res.stdout
    b = broker_factory(broker_kind, settings, extra_listeners=SSL)
    generated = Certs(out_dir)  # ca.pem is where Certs expects it; clients are client-<name>.*
    for name in ("alice", "bob"):
        with tls_socket(b.listener_bootstrap("SSL"), generated, cert=out_dir / f"client-{name}.pem",
                        key=out_dir / f"client-{name}.key") as sock:
            assert _advertised(sock) == [(1, LOOPBACK, b.listener_ports["SSL"])]
    java_props = (out_dir / "client-alice.properties").read_text()
    assert "ssl.keystore.type=PEM" in java_props and str(out_dir / "client-alice-keystore.pem") in java_props


# The encryption each broker reads: Runnel reads PBES2 (openssl's default); Kafka on Java 17
# cannot ("PBES2 SecretKeyFactory not available") but reads the older PKCS#12 3DES scheme,
# which Runnel does not.
ENCRYPTION = {"runnel": ["-v2", "aes-256-cbc"], "kafka": ["-v1", "PBE-SHA1-3DES"]}


def test_broker_with_an_encrypted_pem_private_key(broker_factory, broker_kind, certs, tmp_path):
    encrypted_key = tmp_path / "server-encrypted.key"
    subprocess.run(["openssl", "pkcs8", "-topk8", *ENCRYPTION[broker_kind], "-in", str(certs.server_key), "-out",
                    str(encrypted_key), "-passout", f"pass:{KEY_PASSWORD}"],
                   check=True, capture_output=True, timeout=CLI_TIMEOUT_S)
    keystore = tmp_path / "server-encrypted-keystore.pem"
    keystore.write_text(encrypted_key.read_text() + certs.server_cert.read_text())
    settings = {**server_ssl_settings(certs), "ssl.keystore.location": str(keystore), "ssl.key.password": KEY_PASSWORD}
    b = broker_factory(broker_kind, settings, extra_listeners=SSL)
    _serves_tls_metadata(b, certs)


def test_runnel_names_a_wrong_key_password_at_startup(broker_factory, certs, tmp_path):
    encrypted_key = tmp_path / "server-encrypted.key"
    subprocess.run(["openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", str(certs.server_key), "-out",
                    str(encrypted_key), "-passout", f"pass:{KEY_PASSWORD}"],
                   check=True, capture_output=True, timeout=CLI_TIMEOUT_S)
    keystore = tmp_path / "server-encrypted-keystore.pem"
    keystore.write_text(encrypted_key.read_text() + certs.server_cert.read_text())
    wrong = "not-the-key-password-7"
    settings = {**server_ssl_settings(certs), "ssl.keystore.location": str(keystore), "ssl.key.password": wrong}
    b = broker_factory("runnel", settings, extra_listeners=SSL, start=False)
    with pytest.raises(BrokerStartError):
        b.start()
    out = b.output_tail(20)
    assert "cannot decrypt the private key with ssl.key.password" in out, out
    assert wrong not in out.split("===== start")[-1].split("\n", 1)[1], "the password must not be printed"


def test_requested_client_auth_serves_clients_with_and_without_a_certificate(broker_factory, broker_kind, certs):
    b = broker_factory(broker_kind, server_ssl_settings(certs, client_auth="requested"), extra_listeners=SSL)
    with tls_socket(b.listener_bootstrap("SSL"), certs, with_client_cert=False) as anonymous:
        assert _advertised(anonymous) == [(1, LOOPBACK, b.listener_ports["SSL"])]
    with tls_socket(b.listener_bootstrap("SSL"), certs) as alice:
        assert _advertised(alice) == [(1, LOOPBACK, b.listener_ports["SSL"])]
    # A certificate the truststore does not vouch for is still refused.
    with pytest.raises((ssl.SSLError, OSError, wire.ConnectionClosed)):
        with tls_socket(b.listener_bootstrap("SSL"), certs, cert=certs.rogue_cert, key=certs.rogue_key) as rogue:
            _advertised(rogue)
