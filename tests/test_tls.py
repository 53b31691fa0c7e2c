"""SSL listeners with client certificates, against Runnel and Kafka alike.

- The seed's user story (2-partition topic, 10 keyed records, a group consuming with auto
  commit, committed offsets checked) over SSL with a client certificate, with kafka-python,
  confluent-kafka and Kafka's Java console tools (client.properties with a PEM keystore).
- Metadata answers with the address advertised for the listener the client came in on.
- The broker starts with a PKCS12 keystore, and with inline PEM (ssl.keystore.key and
  ssl.keystore.certificate.chain).
Bad TLS input is in test_tls_bad_input.py.
"""

from __future__ import annotations

import uuid

import pytest

from harness import wire
from harness.certs import PKCS12_PASSWORD, make_certs, server_ssl_settings
from harness.ports import LOOPBACK
from harness.tls_clients import ck_user_story, java_user_story, kp_user_story, tls_socket

SSL = {"SSL": "SSL"}
MAX_PROBLEMS_SHOWN = 8


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("tls-certs"))


@pytest.fixture
def ssl_broker(broker_factory, broker_kind, certs):
    return broker_factory(broker_kind, server_ssl_settings(certs), extra_listeners=SSL)


@pytest.mark.parametrize("story", [kp_user_story, ck_user_story, java_user_story],
                         ids=["kafka-python", "confluent-kafka", "java-console"])
def test_user_story_over_ssl_with_client_certificates(ssl_broker, certs, topic, tmp_path, story):
    group = f"{topic}-group"
    result = story(ssl_broker.listener_bootstrap("SSL"), certs, topic, group, tmp_path)
    problems = result.problems()
    assert not problems, "\n".join(problems[:MAX_PROBLEMS_SHOWN])


def _advertised(sock) -> list[tuple[int, str, int]]:
    return wire.metadata_v1(sock).brokers


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
